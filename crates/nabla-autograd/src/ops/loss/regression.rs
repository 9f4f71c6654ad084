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
fn pointwise<L: PointwiseLoss>(
    op: &'static str,
    input: &Tensor,
    target: &Tensor,
    l: L,
    r: Reduction,
) -> Result<Tensor> {
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
    if delta.is_nan() || delta <= 0.0 {
        return Err(Error::invalid_argument(
            "huber_loss",
            format!("huber_loss does not support non-positive values for delta, got {delta}"),
        ));
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
    if beta.is_nan() || beta < 0.0 {
        return Err(Error::invalid_argument(
            "smooth_l1_loss",
            format!("smooth_l1_loss does not support negative values for beta, got {beta}"),
        ));
    }
    pointwise("smooth_l1_loss", input, target, Huber { delta: beta, scale: 1.0 / beta }, reduction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, gradgradcheck};
    use nabla_tensor::DType;

    /// Differences kept away from the kinks (0 for L1, ±delta for Huber).
    fn pair() -> (Tensor, Tensor) {
        let a: Vec<f64> = (0..12).map(|i| -2.3 + 0.41 * i as f64).collect();
        let b: Vec<f64> = (0..12).map(|i| 0.13 * (i % 5) as f64).collect();
        (Tensor::from_vec(a, &[4, 3]).requires_grad_(true), Tensor::from_vec(b, &[3, 4]).requires_grad_(true))
    }

    #[test]
    fn every_regression_loss_gradchecks_on_views_in_both_inputs_and_to_second_order() {
        type Loss = fn(&Tensor, &Tensor, Reduction) -> Tensor;
        let losses: [(&str, Loss); 5] = [
            ("mse", mse_loss_with),
            ("l1", l1_loss_with),
            ("huber", |a, b, r| huber_loss_with(a, b, 0.7, r)),
            ("smooth_l1", |a, b, r| smooth_l1_loss_with(a, b, 0.7, r)),
            ("smooth_l1_beta0", |a, b, r| smooth_l1_loss_with(a, b, 0.0, r)),
        ];
        let (a, b) = pair();
        for (name, loss) in losses {
            for r in [Reduction::Mean, Reduction::Sum, Reduction::None] {
                let f = |xs: &[Tensor]| loss(&xs[0].t(), &xs[1], r);
                gradcheck(f, &[a.clone(), b.clone()]).unwrap_or_else(|e| panic!("{name} {r:?}: {e}"));
                gradgradcheck(f, &[a.clone(), b.clone()]).unwrap_or_else(|e| panic!("{name} {r:?}: {e}"));
            }
        }
    }

    #[test]
    fn values_follow_the_definitions() {
        let a = Tensor::from_vec(vec![0.0f64, 0.5, -2.0, 3.0], &[4]);
        let z = Tensor::zeros_with(&[4], DType::F64);
        assert_eq!(mse_loss_with(&a, &z, Reduction::None).to_vec::<f64>(), vec![0.0, 0.25, 4.0, 9.0]);
        assert_eq!(sse_loss(&a, &z).item(), 13.25);
        assert_eq!(l1_loss(&a, &z).item(), 5.5 / 4.0);
        assert_eq!(huber_loss_with(&a, &z, 1.0, Reduction::None).to_vec::<f64>(), vec![0.0, 0.125, 1.5, 2.5]);
        assert_eq!(smooth_l1_loss_with(&a, &z, 2.0, Reduction::None).to_vec::<f64>(), vec![0.0, 0.0625, 1.0, 2.0]);
        // L1's derivative is 0 where input = target, as PyTorch
        let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).requires_grad_(true);
        l1_loss(&x, &Tensor::from_vec(vec![1.0f64, 0.0], &[2])).backward();
        assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![0.0, 0.5]);
        // f32 and an integer target (promoted)
        let y = mse_loss(&Tensor::ones(&[2]), &Tensor::from_vec(vec![0i64, 3], &[2]));
        assert_eq!((y.dtype(), y.item()), (DType::F32, 2.5));
    }

    #[test]
    fn mismatched_shapes_are_an_error_with_a_hint() {
        let e = try_mse_loss(&Tensor::zeros(&[8]), &Tensor::zeros(&[8, 1])).unwrap_err().to_string();
        assert_eq!(
            e,
            "mse_loss: input shape [8] and target shape [8, 1] differ; PyTorch would broadcast them to [8, 8] \
             with a warning, which is almost never intended; hint: give the target the input's shape, e.g. \
             target.reshape(&[8])"
        );
        assert!(try_l1_loss_with(&Tensor::zeros(&[2]), &Tensor::zeros(&[3]), Reduction::Mean)
            .unwrap_err()
            .to_string()
            .contains("they do not broadcast"));
        assert!(try_huber_loss_with(&Tensor::zeros(&[2]), &Tensor::zeros(&[2]), 0.0, Reduction::Mean).is_err());
        assert!(try_smooth_l1_loss_with(&Tensor::zeros(&[2]), &Tensor::zeros(&[2]), -1.0, Reduction::Mean).is_err());
    }

    #[test]
    fn node_names_are_pytorchs() {
        let (a, b) = pair();
        let b = b.t();
        assert_eq!(mse_loss_with(&a, &b, Reduction::None).grad_fn().unwrap().name(), "MseLossBackward");
        assert_eq!(l1_loss_with(&a, &b, Reduction::None).grad_fn().unwrap().name(), "L1LossBackward");
    }
}
