//! `why_no_grad`: the reason a tensor's `.grad` is `None`, in words.

use super::model::{existing_grad_node, topo_nodes};
use crate::graph::node_key;
use crate::tensor::Tensor;
use std::fmt;

/// Why [`Tensor::grad`] is `None` (or that it is not), as [`Tensor::why_no_grad`] finds it.
/// `Display` explains the reason and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoGradReason {
    /// The tensor has a gradient.
    HasGrad {
        /// The tensor's label.
        tensor: String,
    },
    /// Made by `detach()`: cut from the graph on purpose.
    Detached {
        /// The tensor's label.
        tensor: String,
    },
    /// Computed from tensors that require grad, but while grad mode was off (`no_grad`).
    MadeUnderNoGrad {
        /// The tensor's label.
        tensor: String,
    },
    /// A leaf that does not require grad (the default for new tensors).
    RequiresGradFalse {
        /// The tensor's label.
        tensor: String,
        /// Whether its dtype could require grad at all (integer and bool tensors cannot).
        float: bool,
    },
    /// A non-leaf: only leaves keep `.grad`, unless `retain_grad()` was called.
    NonLeafNotRetained {
        /// The tensor's label.
        tensor: String,
        /// The node that made it.
        grad_fn: &'static str,
    },
    /// The output given to [`Tensor::why_no_grad_from`] was not computed from this tensor.
    NotReachable {
        /// The tensor's label.
        tensor: String,
        /// The output's label.
        output: String,
    },
    /// Gradients can flow to it, but no backward has reached it yet.
    BackwardNotRun {
        /// The tensor's label.
        tensor: String,
    },
}

impl fmt::Display for NoGradReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoGradReason::HasGrad { tensor } => write!(f, "{tensor} has a gradient"),
            NoGradReason::Detached { tensor } => write!(
                f,
                "{tensor} was made by detach(), which cuts it from the graph: gradients stop there. \
                 Use the tensor it was detached from if you want its gradient"
            ),
            NoGradReason::MadeUnderNoGrad { tensor } => write!(
                f,
                "{tensor} was computed while grad mode was off (inside no_grad), so nothing was recorded \
                 and it has no grad_fn; compute it outside no_grad to differentiate through it"
            ),
            NoGradReason::RequiresGradFalse { tensor, float: true } => write!(
                f,
                "{tensor} does not require grad: it is a leaf and new tensors do not track gradients; \
                 call .requires_grad_(true) on it before using it"
            ),
            NoGradReason::RequiresGradFalse { tensor, float: false } => {
                write!(f, "{tensor} does not require grad, and cannot: only floating-point tensors have gradients")
            }
            NoGradReason::NonLeafNotRetained { tensor, grad_fn } => write!(
                f,
                "{tensor} is not a leaf (it was made by {grad_fn}); only leaves keep .grad after backward. \
                 Call {tensor}.retain_grad() before backward to keep it"
            ),
            NoGradReason::NotReachable { tensor, output } => {
                write!(f, "{output} was not computed from {tensor}, so no gradient flows from {output} to it")
            }
            NoGradReason::BackwardNotRun { tensor } => write!(
                f,
                "{tensor} will get a gradient, but no backward has reached it yet (call .backward() on the output)"
            ),
        }
    }
}

fn label(t: &Tensor) -> String {
    t.name().unwrap_or_else(|| "this tensor".into())
}

impl Tensor {
    /// Why `.grad()` is `None`: detached, computed under `no_grad`, a leaf without
    /// `requires_grad`, a non-leaf without `retain_grad`, or no backward yet. To also
    /// check that the tensor is used by some output, see [`Tensor::why_no_grad_from`].
    ///
    /// ```
    /// use nabla_autograd::{no_grad, viz::NoGradReason, Tensor};
    /// let w = Tensor::ones(&[2]).named("w");
    /// assert!(matches!(w.why_no_grad(), NoGradReason::RequiresGradFalse { .. }));
    /// let w = w.requires_grad_(true);
    /// let h = (&w * 2.0).named("h");
    /// (&h).sum().backward();
    /// assert_eq!(
    ///     h.why_no_grad().to_string(),
    ///     "h is not a leaf (it was made by MulBackward); only leaves keep .grad after backward. \
    ///      Call h.retain_grad() before backward to keep it"
    /// );
    /// let frozen = no_grad(|| &w * 2.0);
    /// assert!(matches!(frozen.why_no_grad(), NoGradReason::MadeUnderNoGrad { .. }));
    /// ```
    pub fn why_no_grad(&self) -> NoGradReason {
        self.reason(None)
    }

    /// [`Tensor::why_no_grad`], also checking whether `output` was computed from this
    /// tensor at all (the usual reason a parameter stays without gradient: it is not used).
    ///
    /// ```
    /// use nabla_autograd::{viz::NoGradReason, Tensor};
    /// let a = Tensor::ones(&[1]).requires_grad_(true).named("a");
    /// let unused = Tensor::ones(&[1]).requires_grad_(true).named("unused");
    /// let loss = (&a * 3.0).sum().named("loss");
    /// loss.backward();
    /// assert_eq!(
    ///     unused.why_no_grad_from(&loss).to_string(),
    ///     "loss was not computed from unused, so no gradient flows from loss to it"
    /// );
    /// assert!(matches!(a.why_no_grad_from(&loss), NoGradReason::HasGrad { .. }));
    /// ```
    pub fn why_no_grad_from(&self, output: &Tensor) -> NoGradReason {
        self.reason(Some(output))
    }

    fn reason(&self, output: Option<&Tensor>) -> NoGradReason {
        let tensor = label(self);
        let has_grad = self.grad().is_some();
        let (detached, under_no_grad, requires, grad_fn, retains) = {
            let m = self.meta();
            (m.detached, m.made_under_no_grad, m.requires_grad, m.grad_fn.as_ref().map(|n| n.name()), m.retains_grad)
        };
        if has_grad {
            return NoGradReason::HasGrad { tensor };
        }
        if detached {
            return NoGradReason::Detached { tensor };
        }
        if under_no_grad {
            return NoGradReason::MadeUnderNoGrad { tensor };
        }
        if !requires {
            return NoGradReason::RequiresGradFalse { tensor, float: self.dtype().is_float() };
        }
        if let Some(grad_fn) = grad_fn {
            if !retains {
                return NoGradReason::NonLeafNotRetained { tensor, grad_fn };
            }
        }
        if let Some(out) = output {
            let reachable = match (existing_grad_node(self), existing_grad_node(out)) {
                (Some(mine), Some(root)) => {
                    let k = node_key(&mine);
                    topo_nodes(&root).iter().any(|n| node_key(n) == k)
                }
                _ => false,
            };
            if !reachable {
                return NoGradReason::NotReachable {
                    tensor,
                    output: out.name().unwrap_or_else(|| "the output".into()),
                };
            }
        }
        NoGradReason::BackwardNotRun { tensor }
    }
}
