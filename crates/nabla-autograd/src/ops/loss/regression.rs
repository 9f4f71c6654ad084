//! Element-wise losses of the difference `d = input − target`: `mse_loss` (and `sse_loss`),
//! `l1_loss`, `huber_loss`, `smooth_l1_loss`. Each is one [`PointwiseLoss`] (value,
//! derivative, derivative as recorded ops) run by one driver, followed by the reduction.

use crate::grad_mode::is_grad_enabled;
use crate::graph::{Backward, BackwardCtx, Grads, Saved};
use crate::ops::binary::promote;
use crate::ops::loss::{reduce, same_shape, Reduction};
use crate::ops::unary::fused;
use crate::ops::{or_panic, record};
use crate::tensor::Tensor;
use nabla_tensor::elementwise::{BinaryKernel, UnaryKernel};
use nabla_tensor::{Error, Float, Result};
use smallvec::smallvec;

/// A loss of the difference `d = input − target`, element by element.
trait PointwiseLoss: Copy + Send + Sync + 'static {
    const BACKWARD: &'static str;
    fn f<T: Float>(self, d: T) -> T;
    fn df<T: Float>(self, d: T) -> T;
    /// `f'(d)` from recorded ops, for create_graph.
    fn df_graph(self, d: &Tensor) -> Result<Tensor>;
}

#[derive(Clone, Copy)]
struct Squared;
impl PointwiseLoss for Squared {
    const BACKWARD: &'static str = "MseLossBackward";
    fn f<T: Float>(self, d: T) -> T {
        d * d
    }
    fn df<T: Float>(self, d: T) -> T {
        d + d
    }
    fn df_graph(self, d: &Tensor) -> Result<Tensor> {
        d.try_mul_scalar(2.0)
    }
}

#[derive(Clone, Copy)]
struct Absolute;
impl PointwiseLoss for Absolute {
    const BACKWARD: &'static str = "L1LossBackward";
    fn f<T: Float>(self, d: T) -> T {
        d.abs()
    }
    fn df<T: Float>(self, d: T) -> T {
        if d > T::zero() {
            T::one()
        } else if d < T::zero() {
            -T::one()
        } else {
            T::zero()
        }
    }
    fn df_graph(self, d: &Tensor) -> Result<Tensor> {
        Ok(Tensor::from_raw(d.raw().map("l1_loss", &Deriv(self))?))
    }
}

/// Huber with threshold `delta`; smooth-L1 with `beta` is Huber(beta) / beta.
#[derive(Clone, Copy)]
struct Huber {
    delta: f64,
    /// 1 for Huber, 1/beta for smooth-L1
    scale: f64,
}
impl PointwiseLoss for Huber {
    const BACKWARD: &'static str = "HuberLossBackward";
    fn f<T: Float>(self, d: T) -> T {
        let (a, delta) = (d.abs(), T::cast(self.delta));
        let l = if a < delta { T::cast(0.5) * d * d } else { delta * (a - T::cast(0.5) * delta) };
        l * T::cast(self.scale)
    }
    fn df<T: Float>(self, d: T) -> T {
        let delta = T::cast(self.delta);
        d.max(-delta).min(delta) * T::cast(self.scale)
    }
    fn df_graph(self, d: &Tensor) -> Result<Tensor> {
        d.try_clamp(Some(-self.delta), Some(self.delta))?.try_mul_scalar(self.scale)
    }
}

struct LossOfDifference<L>(L);
impl<L: PointwiseLoss> BinaryKernel for LossOfDifference<L> {
    #[inline(always)]
    fn f<T: Float>(&self, a: T, b: T) -> T {
        self.0.f(a - b)
    }
}
struct GradOfDifference<L>(L);
impl<L: PointwiseLoss> BinaryKernel for GradOfDifference<L> {
    #[inline(always)]
    fn f<T: Float>(&self, g: T, d: T) -> T {
        g * self.0.df(d)
    }
}
struct Deriv<L>(L);
impl<L: PointwiseLoss> UnaryKernel for Deriv<L> {
    #[inline(always)]
    fn f<T: Float>(&self, d: T) -> T {
        self.0.df(d)
    }
}
struct Difference;
impl BinaryKernel for Difference {
    #[inline(always)]
    fn f<T: Float>(&self, a: T, b: T) -> T {
        a - b
    }
}

struct PointwiseBackward<L> {
    l: L,
    a: Saved,
    b: Saved,
}
impl<L: PointwiseLoss> Backward for PointwiseBackward<L> {
    fn name(&self) -> &'static str {
        L::BACKWARD
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let (a, b) = (self.a.get(ctx.name())?, self.b.get(ctx.name())?);
        let ga = if is_grad_enabled() {
            g.try_mul(&self.l.df_graph(&a.try_sub(b)?)?)?
        } else {
            let d = Tensor::from_raw(a.raw().zip("backward", b.raw(), &Difference)?);
            fused(g, &d, &GradOfDifference(self.l))?
        };
        let gb = if ctx.needs_input_grad(1) { Some(ga.neg()) } else { None };
        Ok(smallvec![ctx.needs_input_grad(0).then_some(ga), gb])
    }
}

#[track_caller]
fn pointwise<L: PointwiseLoss>(op: &'static str, input: &Tensor, target: &Tensor, l: L, r: Reduction) -> Result<Tensor> {
    same_shape(op, input, target)?;
    let (a, b) = promote(op, input, target)?;
    let out = a.raw().zip(op, b.raw(), &LossOfDifference(l))?;
    let per = record(out, &[&a, &b], false, || PointwiseBackward { l, a: Saved::new(&a), b: Saved::new(&b) })?;
    reduce(per, r)
}

/// Mean squared error `mean((input − target)²)`: PyTorch's `F.mse_loss`.
/// `d/d input = 2 · (input − target) / n`.
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
/// let b = Tensor::from_vec(vec![0.0f32, 0.0], &[2]);
/// assert_eq!(F::mse_loss(&a, &b).item(), 2.5);
/// ```
///
/// # Panics
/// If the shapes differ (PyTorch broadcasts with a warning; a `[N]` against `[N, 1]` mistake
/// would silently compute an `[N, N]` loss).
#[track_caller]
pub fn mse_loss(input: &Tensor, target: &Tensor) -> Tensor {
    or_panic(try_mse_loss_with(input, target, Reduction::Mean))
}

/// [`mse_loss`] with a reduction (`Reduction::Sum` is the sum of squared errors).
#[track_caller]
pub fn mse_loss_with(input: &Tensor, target: &Tensor, reduction: Reduction) -> Tensor {
    or_panic(try_mse_loss_with(input, target, reduction))
}

/// [`mse_loss`], returning errors.
#[track_caller]
pub fn try_mse_loss(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    try_mse_loss_with(input, target, Reduction::Mean)
}

/// [`mse_loss_with`], returning errors.
#[track_caller]
pub fn try_mse_loss_with(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    pointwise("mse_loss", input, target, Squared, reduction)
}

/// Sum of squared errors `Σ (input − target)²`, with no ½ factor: the same as
/// `mse_loss_with(input, target, Reduction::Sum)`. `d/d input = 2 · (input − target)`.
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
/// assert_eq!(F::sse_loss(&a, &Tensor::zeros(&[2])).item(), 5.0);
/// ```
#[track_caller]
pub fn sse_loss(input: &Tensor, target: &Tensor) -> Tensor {
    or_panic(try_mse_loss_with(input, target, Reduction::Sum))
}

/// Mean absolute error `mean(|input − target|)`: PyTorch's `F.l1_loss`.
/// `d/d input = sign(input − target) / n` (0 where they are equal).
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let a = Tensor::from_vec(vec![1.0f32, -3.0], &[2]);
/// assert_eq!(F::l1_loss(&a, &Tensor::zeros(&[2])).item(), 2.0);
/// ```
#[track_caller]
pub fn l1_loss(input: &Tensor, target: &Tensor) -> Tensor {
    or_panic(try_l1_loss_with(input, target, Reduction::Mean))
}

/// [`l1_loss`] with a reduction.
#[track_caller]
pub fn l1_loss_with(input: &Tensor, target: &Tensor, reduction: Reduction) -> Tensor {
    or_panic(try_l1_loss_with(input, target, reduction))
}

/// [`l1_loss_with`], returning errors.
#[track_caller]
pub fn try_l1_loss_with(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    pointwise("l1_loss", input, target, Absolute, reduction)
}

/// Huber loss: `½ d²` where `|d| < delta`, else `delta · (|d| − ½ delta)`, for
/// `d = input − target`, averaged. PyTorch's `F.huber_loss(input, target, delta=delta)`.
/// `d/d input = clamp(d, −delta, delta) / n`.
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let a = Tensor::from_vec(vec![0.5f64, 3.0], &[2]);
/// assert_eq!(F::huber_loss(&a, &Tensor::zeros_with(&[2], a.dtype()), 1.0).item(), (0.125 + 2.5) / 2.0);
/// ```
#[track_caller]
pub fn huber_loss(input: &Tensor, target: &Tensor, delta: f64) -> Tensor {
    or_panic(try_huber_loss_with(input, target, delta, Reduction::Mean))
}

/// [`huber_loss`] with a reduction.
#[track_caller]
pub fn huber_loss_with(input: &Tensor, target: &Tensor, delta: f64, reduction: Reduction) -> Tensor {
    or_panic(try_huber_loss_with(input, target, delta, reduction))
}

/// [`huber_loss_with`], returning errors (`delta` must be positive).
#[track_caller]
pub fn try_huber_loss_with(input: &Tensor, target: &Tensor, delta: f64, reduction: Reduction) -> Result<Tensor> {
    if !(delta > 0.0) {
        return Err(Error::invalid_argument("huber_loss", format!("huber_loss does not support non-positive values for delta, got {delta}")));
    }
    pointwise("huber_loss", input, target, Huber { delta, scale: 1.0 }, reduction)
}

/// Smooth L1 loss: `½ d² / beta` where `|d| < beta`, else `|d| − ½ beta`, averaged
/// (Huber with `delta = beta`, divided by `beta`; `beta = 0` is [`l1_loss`]). PyTorch's
/// `F.smooth_l1_loss(input, target, beta=beta)`. `d/d input = clamp(d, −beta, beta) / (beta · n)`.
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let a = Tensor::from_vec(vec![0.5f64, 3.0], &[2]);
/// assert_eq!(F::smooth_l1_loss(&a, &Tensor::zeros_with(&[2], a.dtype()), 1.0).item(), (0.125 + 2.5) / 2.0);
/// ```
#[track_caller]
pub fn smooth_l1_loss(input: &Tensor, target: &Tensor, beta: f64) -> Tensor {
    or_panic(try_smooth_l1_loss_with(input, target, beta, Reduction::Mean))
}

/// [`smooth_l1_loss`] with a reduction.
#[track_caller]
pub fn smooth_l1_loss_with(input: &Tensor, target: &Tensor, beta: f64, reduction: Reduction) -> Tensor {
    or_panic(try_smooth_l1_loss_with(input, target, beta, reduction))
}

/// [`smooth_l1_loss_with`], returning errors (`beta` must not be negative).
#[track_caller]
pub fn try_smooth_l1_loss_with(input: &Tensor, target: &Tensor, beta: f64, reduction: Reduction) -> Result<Tensor> {
    if beta == 0.0 {
        return try_l1_loss_with(input, target, reduction);
    }
    if !(beta > 0.0) {
        return Err(Error::invalid_argument("smooth_l1_loss", format!("smooth_l1_loss does not support negative values for beta, got {beta}")));
    }
    pointwise("smooth_l1_loss", input, target, Huber { delta: beta, scale: 1.0 / beta }, reduction)
}
