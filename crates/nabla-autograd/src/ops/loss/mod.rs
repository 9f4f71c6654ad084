//! Loss functions, with PyTorch's names, argument order, reductions and edge cases:
//! `cross_entropy` (class indices or probabilities, label smoothing, `ignore_index`),
//! `nll_loss`, `binary_cross_entropy`, `binary_cross_entropy_with_logits`, `mse_loss`
//! (and `sse_loss`), `l1_loss`, `huber_loss`, `smooth_l1_loss`.
//!
//! `cross_entropy` with class indices is one fused op — a single pass over `[N, C]`
//! computes the log-softmax, the loss and the softmax that backward needs
//! (`d/dlogits = (softmax − onehot) · g / N`). Element-wise losses are one op for the
//! per-element values followed by the reduction. Every rule has a `create_graph` path
//! made of recorded ops, so all losses support second derivatives.
//!
//! One file per family: `class.rs` (cross-entropy, NLL), `binary.rs` (binary
//! cross-entropy, on probabilities and on logits), `regression.rs` (MSE, L1, Huber,
//! smooth L1). Their small kernels (row-wise log-softmax + NLL, per-element losses) sit
//! next to their op rather than in `nabla-tensor`.

mod binary;
mod class;
mod regression;

pub use binary::*;
pub use class::*;
pub use regression::*;

use crate::tensor::Tensor;
use nabla_tensor::layout::broadcast_shapes;
use nabla_tensor::{Error, Result};

/// How a loss reduces its per-element values (PyTorch's `reduction=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// The mean (for class-index targets: over the targets not ignored). PyTorch's default.
    #[default]
    Mean,
    /// The sum.
    Sum,
    /// No reduction: one loss per element (per sample for `cross_entropy` and `nll_loss`).
    None,
}

pub(crate) fn reduce(per: Tensor, reduction: Reduction) -> Result<Tensor> {
    let all: Vec<usize> = (0..per.dims()).collect();
    match reduction {
        Reduction::Mean => per.try_mean_dims(&all, false),
        Reduction::Sum => per.try_sum_dims(&all, false),
        Reduction::None => Ok(per),
    }
}

pub(crate) fn float_input(op: &'static str, x: &Tensor) -> Result<()> {
    if x.dtype().is_float() {
        return Ok(());
    }
    Err(Error::DType {
        op,
        msg: format!("expected a floating-point input, got {}; convert with to_dtype(DType::F32)", x.dtype()),
    })
}

/// Element-wise losses compare tensors of one shape; PyTorch broadcasts with a warning, we refuse.
pub(crate) fn same_shape(op: &'static str, input: &Tensor, target: &Tensor) -> Result<()> {
    if input.shape() == target.shape() {
        return Ok(());
    }
    let would = match broadcast_shapes(op, input.shape(), target.shape()) {
        Ok(s) => format!("PyTorch would broadcast them to {:?} with a warning, which is almost never intended", &s[..]),
        Err(_) => "they do not broadcast".to_string(),
    };
    Err(Error::shape(
        op,
        format!("input shape {:?} and target shape {:?} differ; {would}", input.shape(), target.shape()),
        format!("give the target the input's shape, e.g. target.reshape(&{:?})", input.shape()),
    ))
}
