//! PyTorch's `torch.nn.functional` under the same names and argument order, so that
//! `F.cross_entropy(logits, targets)` ports as `F::cross_entropy(&logits, &targets)`.
//! Keyword arguments become either positional parameters (`F::leaky_relu(&x, 0.01)`) or,
//! for losses with several options, a `_with` variant taking an options struct whose
//! `Default` is PyTorch's defaults. Every function has a `try_` twin on the op it
//! forwards to (a `Tensor` method or a function of `ops::loss`, `ops::linear`, …).
//!
//! This module only re-exports and forwards; the ops, their derivatives and their tests
//! live in `crate::ops`.
//!
//! ```
//! use nabla_autograd::{functional as F, DType, Tensor};
//! let x = Tensor::randn_with(&[4, 3], DType::F64);
//! let w = Tensor::randn_with(&[5, 3], DType::F64).requires_grad_(true);
//! let b = Tensor::zeros_with(&[5], DType::F64).requires_grad_(true);
//! let y = Tensor::from_vec(vec![0i64, 4, 2, 1], &[4]);
//! let loss = F::cross_entropy(&F::gelu(&F::linear(&x, &w, Some(&b))), &y);
//! loss.backward();
//! assert_eq!(w.grad().unwrap().shape(), &[5, 3]);
//! ```

use crate::dim::Dim;
use crate::tensor::Tensor;

pub use crate::ops::dropout::{dropout, try_dropout};
pub use crate::ops::linear::{linear, try_linear};
pub use crate::ops::loss::{
    binary_cross_entropy, binary_cross_entropy_with, binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_with, cross_entropy, cross_entropy_with, huber_loss, huber_loss_with, l1_loss,
    l1_loss_with, mse_loss, mse_loss_with, nll_loss, nll_loss_with, smooth_l1_loss, smooth_l1_loss_with, sse_loss,
    try_binary_cross_entropy, try_binary_cross_entropy_with, try_binary_cross_entropy_with_logits,
    try_binary_cross_entropy_with_logits_with, try_cross_entropy, try_cross_entropy_with, try_huber_loss_with,
    try_l1_loss_with, try_mse_loss, try_mse_loss_with, try_nll_loss, try_nll_loss_with, try_smooth_l1_loss_with,
    BceWithLogitsOptions, CrossEntropyOptions, NllLossOptions, Reduction,
};

/// `max(x, 0)`; see [`Tensor::relu`].
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// assert_eq!(F::relu(&Tensor::from_vec(vec![-1.0f32, 2.0], &[2])).to_vec::<f32>(), vec![0.0, 2.0]);
/// ```
#[track_caller]
pub fn relu(x: &Tensor) -> Tensor {
    x.relu()
}

/// The logistic function; see [`Tensor::sigmoid`].
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// assert_eq!(F::sigmoid(&Tensor::zeros(&[1])).item(), 0.5);
/// ```
#[track_caller]
pub fn sigmoid(x: &Tensor) -> Tensor {
    x.sigmoid()
}

/// Hyperbolic tangent; see [`Tensor::tanh`].
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// assert_eq!(F::tanh(&Tensor::zeros(&[1])).item(), 0.0);
/// ```
#[track_caller]
pub fn tanh(x: &Tensor) -> Tensor {
    x.tanh()
}

/// Leaky ReLU with `negative_slope` (PyTorch's default 0.01); see [`Tensor::leaky_relu`].
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let y = F::leaky_relu(&Tensor::from_vec(vec![-1.0f64, 2.0], &[2]), 0.01);
/// assert_eq!(y.to_vec::<f64>(), vec![-0.01, 2.0]);
/// ```
#[track_caller]
pub fn leaky_relu(x: &Tensor, negative_slope: f64) -> Tensor {
    x.leaky_relu(negative_slope)
}

/// ELU with `alpha` (PyTorch's default 1.0); see [`Tensor::elu`].
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let y = F::elu(&Tensor::from_vec(vec![0.0f64, 2.0], &[2]), 1.0);
/// assert_eq!(y.to_vec::<f64>(), vec![0.0, 2.0]);
/// ```
#[track_caller]
pub fn elu(x: &Tensor, alpha: f64) -> Tensor {
    x.elu(alpha)
}

/// Exact (erf) GELU, PyTorch's default `approximate='none'`; see [`Tensor::gelu`].
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// assert_eq!(F::gelu(&Tensor::zeros(&[1])).item(), 0.0);
/// ```
#[track_caller]
pub fn gelu(x: &Tensor) -> Tensor {
    x.gelu()
}

/// GELU's tanh approximation, `F.gelu(x, approximate='tanh')`; see [`Tensor::gelu_tanh`].
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// assert_eq!(F::gelu_tanh(&Tensor::zeros(&[1])).item(), 0.0);
/// ```
#[track_caller]
pub fn gelu_tanh(x: &Tensor) -> Tensor {
    x.gelu_tanh()
}

/// SiLU (swish) `x · σ(x)`; see [`Tensor::silu`].
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// assert_eq!(F::silu(&Tensor::zeros(&[1])).item(), 0.0);
/// ```
#[track_caller]
pub fn silu(x: &Tensor) -> Tensor {
    x.silu()
}

/// Softplus `log(1 + e^(beta·x)) / beta`, linear where `beta·x > threshold` (PyTorch's defaults:
/// beta 1, threshold 20); see [`Tensor::softplus`].
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// assert_eq!(F::softplus(&Tensor::from_vec(vec![0.0f64], &[1]), 1.0, 20.0).item(), 2f64.ln());
/// ```
#[track_caller]
pub fn softplus(x: &Tensor, beta: f64, threshold: f64) -> Tensor {
    x.softplus(beta, threshold)
}

/// Clamp to `[min_val, max_val]` with a zero derivative at the bounds (PyTorch's defaults:
/// −1, 1); see [`Tensor::hardtanh`].
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let y = F::hardtanh(&Tensor::from_vec(vec![-3.0f32, 0.5], &[2]), -1.0, 1.0);
/// assert_eq!(y.to_vec::<f32>(), vec![-1.0, 0.5]);
/// ```
#[track_caller]
pub fn hardtanh(x: &Tensor, min_val: f64, max_val: f64) -> Tensor {
    x.hardtanh(min_val, max_val)
}

/// Maxout over `pieces` chunks of dimension `dim`; see [`Tensor::maxout`].
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let x = Tensor::from_vec(vec![1.0f32, 4.0, 3.0, 2.0], &[1, 4]);
/// assert_eq!(F::maxout(&x, 2, -1).to_vec::<f32>(), vec![3.0, 4.0]);
/// ```
#[track_caller]
pub fn maxout<D: Dim>(x: &Tensor, pieces: usize, dim: D) -> Tensor {
    x.maxout(pieces, dim)
}

/// Softmax along `dim`; see [`Tensor::softmax`].
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// assert_eq!(F::softmax(&Tensor::zeros(&[2, 2]), -1).to_vec::<f32>(), vec![0.5; 4]);
/// ```
#[track_caller]
pub fn softmax<D: Dim>(x: &Tensor, dim: D) -> Tensor {
    x.softmax(dim)
}

/// Log-softmax along `dim`, stable for logits of ±1e4; see [`Tensor::log_softmax`].
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let y = F::log_softmax(&Tensor::from_vec(vec![1e4f64, -1e4], &[1, 2]), 1);
/// assert_eq!(y.to_vec::<f64>(), vec![0.0, -2e4]);
/// ```
#[track_caller]
pub fn log_softmax<D: Dim>(x: &Tensor, dim: D) -> Tensor {
    x.log_softmax(dim)
}

// ---- convolution, pooling and indexing: re-exported from their op files ----

pub use crate::ops::conv::{conv1d, conv2d, conv_transpose2d, try_conv1d, try_conv2d, try_conv_transpose2d};
pub use crate::ops::pool::{
    adaptive_avg_pool2d, avg_pool2d, max_pool2d, try_adaptive_avg_pool2d, try_avg_pool2d, try_max_pool2d,
};

/// One-hot encoding of int64 class labels (PyTorch's `F.one_hot`); see [`Tensor::one_hot`].
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let y = F::one_hot(&Tensor::from_vec(vec![2i64, 0], &[2]), 3);
/// assert_eq!(y.to_vec::<i64>(), vec![0, 0, 1, 1, 0, 0]);
/// ```
#[track_caller]
pub fn one_hot(labels: &Tensor, classes: usize) -> Tensor {
    Tensor::one_hot(labels, classes)
}
