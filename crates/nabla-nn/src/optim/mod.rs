//! Optimizers and learning-rate schedules, as PyTorch's `torch.optim`.
//!
//! Every optimizer implements [`Optimizer`]: `zero_grad()`, then `loss.backward()`, then
//! `step()`. Steps update the parameters in place on their storage (no graph is
//! recorded, the version counters are bumped), with fused per-element kernels; the
//! per-parameter state (momentum buffers, moment estimates) is allocated once, at the
//! first step, and no other memory is allocated per step.
//!
//! ```
//! use nabla_autograd::Tensor;
//! use nabla_nn::nn::{Linear, Module};
//! use nabla_nn::optim::{Optimizer, SGD};
//! nabla_autograd::manual_seed(0);
//! let model = Linear::new(3, 1);
//! let mut opt = SGD::new(model.parameters(), 0.1).momentum(0.9);
//! let x = Tensor::randn(&[16, 3]);
//! let y = x.sum_dim(1, true);
//! let loss_at = |m: &Linear| (m.forward(&x) - &y).pow(2).mean();
//! let before = loss_at(&model).item();
//! for _ in 0..20 {
//!     opt.zero_grad();
//!     loss_at(&model).backward();
//!     opt.step();
//! }
//! assert!(loss_at(&model).item() < before / 10.0);
//! ```

mod adagrad;
mod adam;
mod kernels;
mod lr_scheduler;
mod rmsprop;
mod sgd;

pub use adagrad::Adagrad;
pub use adam::{Adam, AdamW};
pub use lr_scheduler::{
    AnnealStrategy, CosineAnnealingLR, ExponentialLR, LinearLR, LrScheduler, OneCycleLR, OneCycleOptions, StepLR,
};
pub use rmsprop::RMSprop;
pub use sgd::SGD;

use nabla_autograd::{Error, Result, Tensor};
use std::collections::HashSet;

/// A set of parameters with its own hyperparameters (PyTorch's `param_groups[i]`).
/// Schedulers change `lr` (and `momentum`) here.
#[derive(Debug, Clone)]
pub struct ParamGroup {
    /// The parameters (leaves that require grad).
    pub params: Vec<Tensor>,
    /// The learning rate.
    pub lr: f64,
    /// SGD's and RMSprop's momentum, Adam's β₁; `None` for optimizers without one
    /// (Adagrad). [`OneCycleLR`] cycles it.
    pub momentum: Option<f64>,
    /// The weight decay (L2 penalty, decoupled for AdamW).
    pub weight_decay: f64,
}

/// An optimizer: updates parameters from their gradients.
///
/// The learning rate and momentum of each [`ParamGroup`] can be changed between steps
/// (what schedulers do).
pub trait Optimizer {
    /// Updates every parameter that has a gradient, in place (under `no_grad`).
    /// Parameters whose `.grad` is `None` are skipped, as in PyTorch.
    fn step(&mut self);

    /// The parameter groups.
    fn param_groups(&self) -> &[ParamGroup];

    /// The parameter groups, to change their hyperparameters.
    fn param_groups_mut(&mut self) -> &mut [ParamGroup];

    /// Adds a group of parameters with its own learning rate (the other hyperparameters
    /// are the optimizer's defaults). Errors name the offending tensor as
    /// [`check_params`] does.
    fn add_param_group(&mut self, params: Vec<Tensor>, lr: f64) -> Result<()>;

    /// Clears the gradient of every parameter (sets it to `None`, PyTorch's default).
    fn zero_grad(&self) {
        for g in self.param_groups() {
            for p in &g.params {
                p.zero_grad();
            }
        }
    }

    /// The learning rate of the first group.
    fn lr(&self) -> f64 {
        self.param_groups().first().map_or(0.0, |g| g.lr)
    }

    /// Sets the learning rate of every group.
    fn set_lr(&mut self, lr: f64) {
        for g in self.param_groups_mut() {
            g.lr = lr;
        }
    }
}

/// Checks that an optimizer can update `params`: floating-point leaves that require
/// grad, none of them already in `existing` or twice in `params`.
///
/// ```
/// use nabla_autograd::Tensor;
/// let frozen = Tensor::zeros(&[2]);
/// let e = nabla_nn::optim::check_params("SGD", &[Tensor::zeros(&[1]).requires_grad_(true), frozen], &[]).unwrap_err();
/// assert!(e.to_string().contains("does not require grad at index 1"));
/// ```
pub fn check_params(op: &'static str, params: &[Tensor], existing: &[ParamGroup]) -> Result<()> {
    let mut seen: HashSet<u64> = existing.iter().flat_map(|g| g.params.iter().map(|p| p.id())).collect();
    for (i, p) in params.iter().enumerate() {
        if !p.dtype().is_float() {
            return Err(Error::invalid_argument(
                op,
                format!(
                    "optimizer got a {} tensor at index {i}; hint: only floating-point tensors can be optimized",
                    p.dtype()
                ),
            ));
        }
        if !p.is_leaf() {
            return Err(Error::invalid_argument(
                op,
                format!(
                    "can't optimize a non-leaf Tensor (index {i}, shape {:?}); hint: optimize the leaf the \
                     tensor was computed from, or detach().requires_grad_(true) it",
                    p.shape()
                ),
            ));
        }
        if !p.requires_grad() {
            return Err(Error::invalid_argument(
                op,
                format!(
                    "optimizer got a tensor that does not require grad at index {i} (shape {:?}); hint: call \
                     requires_grad_(true) on it, or leave frozen tensors out of the list",
                    p.shape()
                ),
            ));
        }
        if !seen.insert(p.id()) {
            return Err(Error::invalid_argument(
                op,
                format!(
                    "some parameters appear in more than one parameter group (index {i}, shape {:?}); hint: \
                     pass each parameter once",
                    p.shape()
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a hyperparameter is in its range, in PyTorch's words (`Invalid learning rate: -1`).
pub(crate) fn check_hyper(op: &'static str, what: &str, value: f64, ok: bool) -> Result<()> {
    if !ok || value.is_nan() {
        return Err(Error::invalid_argument(op, format!("Invalid {what}: {value}")));
    }
    Ok(())
}

/// Unwraps, panicking with the error's message at the caller's line (builder methods).
#[track_caller]
pub(crate) fn or_panic<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}
