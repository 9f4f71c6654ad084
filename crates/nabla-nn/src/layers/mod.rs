//! The built-in layers, one file per layer family. Every forward composes differentiable
//! `Tensor` ops; no layer contains a derivative.

pub mod activation;
pub mod batchnorm;
pub mod conv;
pub mod dropout;
pub mod embedding;
pub mod flatten;
pub mod layernorm;
pub mod linear;
pub mod mlp;
pub mod pool;
pub mod sequential;
