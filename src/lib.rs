//! # nabla
//!
//! An autograd tensor engine with PyTorch's semantics, in Rust. This crate is the facade:
//! it re-exports the layers in `crates/` under one name.
//!
//! ```
//! use nabla::prelude::*;
//!
//! // f = (x + y) · z at x = -2, y = 5, z = -4
//! let x = Tensor::from_vec(vec![-2.0f32], &[1]).requires_grad_(true);
//! let y = Tensor::from_vec(vec![5.0f32], &[1]).requires_grad_(true);
//! let z = Tensor::from_vec(vec![-4.0f32], &[1]).requires_grad_(true);
//! let f = ((&x + &y) * &z).sum();
//! f.backward();
//! assert_eq!(x.grad().unwrap().item(), -4.0); // ∂f/∂x = z
//! assert_eq!(y.grad().unwrap().item(), -4.0); // ∂f/∂y = z
//! assert_eq!(z.grad().unwrap().item(), 3.0);  // ∂f/∂z = x + y
//! ```

pub use nabla_autograd::{
    autograd, enable_grad, is_grad_enabled, manual_seed, no_grad, ops, rng, set_grad_enabled, Backward, BackwardCtx,
    DType, Dim, Error, GradFn, HookHandle, NoGradGuard, RawTensor, Result, Scalar, Tensor,
};

/// Datasets, samplers, the DataLoader, transforms and the MNIST reader.
pub use nabla_data as data;

/// `torch.nn.functional`'s names and argument order: activations, losses, convolution,
/// pooling, dropout, linear.
pub use nabla_autograd::functional;

/// The kernel layer: storage, layouts and CPU kernels, without autograd.
pub use nabla_tensor as kernels;

/// Graph export (DOT, SVG, interactive HTML) and the inspection tools' types.
pub use nabla_autograd::viz;

/// What most programs need: `use nabla::prelude::*;`.
pub mod prelude {
    pub use nabla_autograd::prelude::*;
}
