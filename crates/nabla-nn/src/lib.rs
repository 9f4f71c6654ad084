//! # nabla-nn
//!
//! Neural networks on nabla's autograd, with PyTorch's names and semantics:
//!
//! - [`nn`]: the [`nn::Module`] trait, layers ([`nn::Linear`], [`nn::Conv2d`],
//!   [`nn::BatchNorm2d`], …), [`nn::Sequential`], [`nn::Mlp`], loss modules, gradient
//!   clipping, and [`nn::StateDict`] checkpoints in the safetensors format that PyTorch
//!   loads;
//! - [`optim`]: SGD, Adam, AdamW, RMSprop, Adagrad and learning-rate schedules;
//! - [`init`]: `torch.nn.init`'s initializers.
//!
//! Layers are built on the graph: their forwards compose `Tensor` operations, so the
//! engine differentiates them; none contains a hand-written derivative.
//!
//! ```
//! use nabla_autograd::Tensor;
//! use nabla_nn::nn::{Linear, Module, ReLU, Sequential};
//! use nabla_nn::optim::{Optimizer, SGD};
//! nabla_autograd::manual_seed(0);
//! let model = Sequential::new().add(Linear::new(4, 16)).add(ReLU).add(Linear::new(16, 1));
//! let mut opt = SGD::new(model.parameters(), 0.05);
//! let x = Tensor::randn(&[32, 4]);
//! let target = x.sum_dim(1, true);
//! let mse = |m: &Sequential| (m.forward(&x) - &target).pow(2).mean();
//! let before = mse(&model).item();
//! for _ in 0..50 {
//!     opt.zero_grad();
//!     mse(&model).backward();
//!     opt.step();
//! }
//! assert!(mse(&model).item() < before);
//! ```
#![warn(missing_docs)]

mod clip_grad;
mod display;
pub mod init;
pub mod layers;
mod loss;
mod module;
pub mod optim;
mod safetensors_io;
mod state_dict;

/// Layers, containers, losses and checkpoints (PyTorch's `torch.nn`).
pub mod nn {
    pub use crate::clip_grad::{clip_grad_norm_, clip_grad_norm_with, clip_grad_value_};
    pub use crate::display::fmt_module;
    pub use crate::init;
    pub use crate::layers::activation::{
        Identity, LeakyReLU, LogSoftmax, Maxout, ReLU, SiLU, Sigmoid, Softmax, Tanh, ELU, GELU,
    };
    pub use crate::layers::batchnorm::{BatchNorm, BatchNorm1d, BatchNorm2d};
    pub use crate::layers::conv::{Conv1d, Conv2d, IntoPair};
    pub use crate::layers::dropout::Dropout;
    pub use crate::layers::embedding::Embedding;
    pub use crate::layers::flatten::Flatten;
    pub use crate::layers::layernorm::LayerNorm;
    pub use crate::layers::linear::Linear;
    pub use crate::layers::mlp::{Activation, Mlp};
    pub use crate::layers::pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
    pub use crate::layers::sequential::Sequential;
    pub use crate::loss::{BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss};
    pub use crate::module::{AsDynModule, Module, Training};
    pub use crate::state_dict::StateDict;
    pub use nabla_autograd::functional;
    pub use nabla_autograd::functional::Reduction;

    /// Gradient clipping, as PyTorch's `torch.nn.utils`.
    pub mod utils {
        pub use crate::clip_grad::{clip_grad_norm_, clip_grad_norm_with, clip_grad_value_};
    }
}

#[cfg(test)]
mod tests {
    /// Serializes tests that reseed the global generator and check exact values.
    pub(crate) static SEED_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
}
