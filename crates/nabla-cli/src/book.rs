//! The book in `docs/book/`: each chapter is included here so that its code blocks are
//! compiled and run as doctests by `cargo test --workspace`.

#[doc = include_str!("../../../docs/book/README.md")]
pub mod contents {}

#[doc = include_str!("../../../docs/book/01-neuron.md")]
pub mod ch01_neuron {}

#[doc = include_str!("../../../docs/book/02-graph.md")]
pub mod ch02_graph {}

#[doc = include_str!("../../../docs/book/03-chain-rule.md")]
pub mod ch03_chain_rule {}

#[doc = include_str!("../../../docs/book/04-mlp.md")]
pub mod ch04_mlp {}

#[doc = include_str!("../../../docs/book/05-gradcheck.md")]
pub mod ch05_gradcheck {}

#[doc = include_str!("../../../docs/book/06-conv.md")]
pub mod ch06_conv {}

#[doc = include_str!("../../../docs/book/07-mnist.md")]
pub mod ch07_mnist {}

#[doc = include_str!("../../../docs/book/08-custom-op.md")]
pub mod ch08_custom_op {}
