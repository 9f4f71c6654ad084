//! # nabla-autograd
//!
//! nabla's [`Tensor`]: a value that records the operations applied to it in a dynamic
//! graph, and the reverse-mode engine that differentiates it, with the semantics of
//! PyTorch's autograd (see `docs/autograd.md`): leaves and `requires_grad`, `.grad`
//! accumulation, `retain_grad`, `grad_fn`, hooks, `no_grad`, `detach`, `retain_graph`,
//! `create_graph` for higher-order derivatives, and version counters for in-place ops.
//!
//! ```
//! use nabla_autograd::Tensor;
//! let x = Tensor::from_vec(vec![2.0f64], &[1]).requires_grad_(true);
//! let w = Tensor::from_vec(vec![1.0f64], &[1]).requires_grad_(true);
//! let a = &x + &w;                 // a non-leaf
//! let y = (&a * &(&w + 1.0)).sum();
//! y.backward();
//! assert_eq!(w.grad().unwrap().item(), 5.0);
//! assert_eq!(x.grad().unwrap().item(), 2.0);
//! assert!(a.grad().is_none());     // not retained
//! ```
#![warn(missing_docs)]

mod creation;
mod custom;
mod dim;
mod display;
mod engine;
mod explain;
pub mod functional;
mod grad_mode;
mod gradcheck;
mod graph;
mod lock;
pub mod ops;
pub mod rng;
mod tensor;
pub mod viz;

pub use dim::Dim;
pub use grad_mode::{
    enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad, set_grad_enabled, AnomalyGuard, GradModeGuard,
    NoGradGuard,
};
pub use graph::{Backward, BackwardCtx, Grads, Saved};
pub use nabla_tensor::{DType, Error, RawTensor, Result};
pub use ops::binary::{Operand, Scalar};
pub use ops::shape::{IntoShape, ShapeElem};
pub use rng::manual_seed;
pub use tensor::{GradFn, HookHandle, Tensor};

/// The engine's entry points beyond `Tensor::backward` (PyTorch's `torch.autograd`).
pub mod autograd {
    pub use crate::custom::{apply_custom, CustomOp};
    pub use crate::engine::{backward_observed, grad, BackwardOptions, GradOptions, StepEvent};
    pub use crate::explain::{
        explain, explain_with, try_explain, Accumulation, BackwardSteps, Flow, LeafGrad, Step, Transcript,
    };
    pub use crate::grad_mode::{detect_anomaly, is_anomaly_enabled, AnomalyGuard};
    pub use crate::gradcheck::{gradcheck, gradcheck_with, gradgradcheck, GradcheckOptions, GradcheckReport};
    pub use crate::graph::{live_nodes, Backward, BackwardCtx, Grads, Saved};
    pub use crate::viz::{check_nodes, check_nodes_with, first_bad_node, NoGradReason, NodeCheck, NodeStatus};
}

/// What most programs need: `use nabla_autograd::prelude::*;`.
pub mod prelude {
    pub use crate::autograd::{BackwardOptions, GradOptions};
    pub use crate::{no_grad, DType, Dim, NoGradGuard, Tensor};
}

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}
    #[test]
    fn tensor_is_send_and_sync() {
        assert_send_sync::<crate::Tensor>();
        assert_send_sync::<crate::GradFn>();
    }

    fn assert_unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    #[test]
    fn tensor_can_cross_catch_unwind() {
        assert_unwind_safe::<crate::Tensor>();
    }
}
