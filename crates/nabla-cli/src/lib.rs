//! # nabla-cli
//!
//! nabla for the classroom. The binary narrates the chain rule of an expression:
//!
//! ```text
//! $ cargo run -p nabla-cli -- explain "(x + y) * z" x=-2 y=5 z=-4 --svg f.svg
//! ```
//!
//! prints the forward values, the backward pass node by node (upstream gradient, local
//! derivative as a formula and its value, product, `+=` where a value is used twice) and
//! `∂f/∂x` for every input, and draws the graph. The library holds the expression parser
//! ([`expr`]), the command ([`cli`]) and the book ([`book`]), whose code blocks run as
//! doctests.

pub mod book;
pub mod cli;
pub mod expr;
