//! Thread-local switches: whether operations are recorded (`no_grad`) and whether
//! anomaly detection is on. These are the only global state of the engine, and they are
//! per thread: one thread's `no_grad` never affects another's recording.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static ANOMALY: Cell<bool> = const { Cell::new(false) };
}

/// Whether operations on this thread are recorded for backward.
///
/// ```
/// use nabla_autograd::{is_grad_enabled, no_grad};
/// assert!(is_grad_enabled());
/// no_grad(|| assert!(!is_grad_enabled()));
/// ```
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Restores the previous grad mode when dropped. Made by [`NoGradGuard::new`],
/// [`set_grad_enabled`] (which [`enable_grad`] uses for the length of its closure).
#[must_use = "the mode is restored when the guard is dropped"]
pub struct GradModeGuard {
    prev: bool,
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.prev));
    }
}

/// Sets the grad mode of this thread until the guard drops.
///
/// ```
/// let _g = nabla_autograd::set_grad_enabled(false);
/// assert!(!nabla_autograd::is_grad_enabled());
/// ```
pub fn set_grad_enabled(enabled: bool) -> GradModeGuard {
    let prev = GRAD_ENABLED.with(|g| g.replace(enabled));
    GradModeGuard { prev }
}

/// The guard form of [`no_grad`]: recording is off until it drops.
///
/// ```
/// use nabla_autograd::{NoGradGuard, Tensor};
/// let w = Tensor::ones(&[2]).requires_grad_(true);
/// {
///     let _g = NoGradGuard::new();
///     assert!(!(&w * 2.0).requires_grad());
/// }
/// assert!((&w * 2.0).requires_grad());
/// ```
pub struct NoGradGuard(#[allow(dead_code)] GradModeGuard);

impl NoGradGuard {
    /// Turns recording off on this thread until the guard drops.
    #[allow(clippy::new_without_default)]
    pub fn new() -> NoGradGuard {
        NoGradGuard(set_grad_enabled(false))
    }
}

/// Runs `f` without recording operations (PyTorch's `torch.no_grad()`): results do not
/// require grad, and in-place updates of leaves (optimizer steps) are allowed.
///
/// ```
/// use nabla_autograd::{no_grad, Tensor};
/// let w = Tensor::ones(&[2]).requires_grad_(true);
/// let y = no_grad(|| &w * 3.0);
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _g = set_grad_enabled(false);
    f()
}

/// Runs `f` with recording on, even inside `no_grad`.
///
/// ```
/// use nabla_autograd::{enable_grad, no_grad, is_grad_enabled};
/// no_grad(|| enable_grad(|| assert!(is_grad_enabled())));
/// ```
pub fn enable_grad<R>(f: impl FnOnce() -> R) -> R {
    let _g = set_grad_enabled(true);
    f()
}

/// Whether anomaly detection is on for this thread.
pub fn is_anomaly_enabled() -> bool {
    ANOMALY.with(|a| a.get())
}

/// Turns anomaly detection on until dropped. See [`detect_anomaly`].
#[must_use = "anomaly mode is restored when the guard is dropped"]
pub struct AnomalyGuard {
    prev: bool,
}

impl AnomalyGuard {
    /// Turns anomaly detection on for this thread.
    ///
    /// ```
    /// let _g = nabla_autograd::AnomalyGuard::new();
    /// assert!(nabla_autograd::is_anomaly_enabled());
    /// ```
    #[allow(clippy::new_without_default)]
    pub fn new() -> AnomalyGuard {
        AnomalyGuard { prev: ANOMALY.with(|a| a.replace(true)) }
    }
}

impl Drop for AnomalyGuard {
    fn drop(&mut self) {
        ANOMALY.with(|a| a.set(self.prev));
    }
}

/// Runs `f` with anomaly detection: the first NaN or infinity produced by an operation
/// (forward) or by a backward function panics (or, for `try_` forms, is returned as
/// [`Error::Anomaly`](crate::Error::Anomaly)) naming the op and the source line that
/// created it. Costs a scan of every result, so it is for debugging.
///
/// ```should_panic
/// use nabla_autograd::{autograd::detect_anomaly, Tensor};
/// let x = Tensor::from_vec(vec![-1.0f64], &[1]).requires_grad_(true);
/// detect_anomaly(|| x.sqrt()); // panics: sqrt produced NaN
/// ```
pub fn detect_anomaly<R>(f: impl FnOnce() -> R) -> R {
    let _g = AnomalyGuard::new();
    f()
}
