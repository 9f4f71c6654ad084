//! Binary cross-entropy, on probabilities (`binary_cross_entropy`) and on logits
//! (`binary_cross_entropy_with_logits`, stable for any logit).

use crate::grad_mode::is_grad_enabled;
use crate::graph::{Backward, BackwardCtx, Grads, Saved};
use crate::ops::binary::promote;
use crate::ops::loss::{float_input, reduce, same_shape, Reduction};
use crate::ops::unary::{fused, MulGrad};
use crate::ops::{or_panic, record};
use crate::tensor::Tensor;
use nabla_tensor::elementwise::{BinaryKernel, UnaryKernel};
use nabla_tensor::layout::broadcast_shapes;
use nabla_tensor::{Error, Float, Result};
use smallvec::smallvec;

/// Options of [`binary_cross_entropy_with_logits_with`].
#[derive(Debug, Clone, Default)]
pub struct BceWithLogitsOptions {
    /// How to reduce the per-element losses.
    pub reduction: Reduction,
    /// Weight of the positive term, broadcast over the input (typically one per class, `[C]`).
    pub pos_weight: Option<Tensor>,
}

/// −(y·log p + (1−y)·log(1−p)), each log clamped at −100 as PyTorch; NaN flags p ∉ [0, 1].
struct Bce;
impl BinaryKernel for Bce {
    #[inline(always)]
    fn f<T: Float>(&self, p: T, y: T) -> T {
        if !(p >= T::zero() && p <= T::one()) {
            return T::nan();
        }
        let floor = T::cast(-100.0);
        -(y * p.ln().max(floor) + (T::one() - y) * (-p).ln_1p().max(floor))
    }
}
/// d BCE/dp = (p − y) / max(p(1 − p), 1e-12), PyTorch's formula.
struct BceGradInput;
impl BinaryKernel for BceGradInput {
    #[inline(always)]
    fn f<T: Float>(&self, p: T, y: T) -> T {
        (p - y) / ((T::one() - p) * p).max(T::cast(1e-12))
    }
}
/// d BCE/dy = log(1 − p) − log p, clamped as the forward.
struct BceGradTarget;
impl UnaryKernel for BceGradTarget {
    #[inline(always)]
    fn f<T: Float>(&self, p: T) -> T {
        let floor = T::cast(-100.0);
        (-p).ln_1p().max(floor) - p.ln().max(floor)
    }
}

struct BceBackward {
    p: Saved,
    y: Saved,
}
impl Backward for BceBackward {
    fn name(&self) -> &'static str {
        "BinaryCrossEntropyBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let (p, y) = (self.p.get(ctx.name())?, self.y.get(ctx.name())?);
        let (need_p, need_y) = (ctx.needs_input_grad(0), ctx.needs_input_grad(1));
        if is_grad_enabled() {
            let gp = if need_p {
                let denom = p.try_rsub_scalar(1.0)?.try_mul(p)?.try_clamp(Some(1e-12), None)?;
                Some(g.try_mul(&p.try_sub(y)?.try_div(&denom)?)?)
            } else {
                None
            };
            let gy = if need_y {
                let log_q = p.try_rsub_scalar(1.0)?.log().try_clamp(Some(-100.0), None)?;
                Some(g.try_mul(&log_q.try_sub(&p.log().try_clamp(Some(-100.0), None)?)?)?)
            } else {
                None
            };
            return Ok(smallvec![gp, gy]);
        }
        let gp = if need_p {
            Some(fused(g, &Tensor::from_raw(p.raw().zip("backward", y.raw(), &BceGradInput)?), &MulGrad)?)
        } else {
            None
        };
        let gy = if need_y {
            Some(fused(g, &Tensor::from_raw(p.raw().map("backward", &BceGradTarget)?), &MulGrad)?)
        } else {
            None
        };
        Ok(smallvec![gp, gy])
    }
}

/// Binary cross-entropy between probabilities `input` ∈ [0, 1] and `target` of the same
/// shape: `−(y · log p + (1 − y) · log(1 − p))`, each log clamped at −100 (as PyTorch, so the
/// loss stays finite at p = 0 or 1), averaged. PyTorch's `F.binary_cross_entropy`.
/// Prefer [`binary_cross_entropy_with_logits`] on logits: it is stable where this is not.
///
/// `d/dp = (p − y) / max(p(1 − p), 1e-12)`, `d/dy = log(1 − p) − log p`.
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let p = Tensor::from_vec(vec![0.5f64, 1.0], &[2]);
/// let y = Tensor::from_vec(vec![1.0f64, 0.0], &[2]);
/// assert_eq!(F::binary_cross_entropy(&p, &y).item(), (2f64.ln() + 100.0) / 2.0);
/// ```
///
/// # Panics
/// If the shapes differ, or an input is outside [0, 1] (or NaN).
#[track_caller]
pub fn binary_cross_entropy(input: &Tensor, target: &Tensor) -> Tensor {
    or_panic(try_binary_cross_entropy_with(input, target, Reduction::Mean))
}

/// [`binary_cross_entropy`] with a reduction.
#[track_caller]
pub fn binary_cross_entropy_with(input: &Tensor, target: &Tensor, reduction: Reduction) -> Tensor {
    or_panic(try_binary_cross_entropy_with(input, target, reduction))
}

/// [`binary_cross_entropy`], returning errors.
#[track_caller]
pub fn try_binary_cross_entropy(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    try_binary_cross_entropy_with(input, target, Reduction::Mean)
}

/// [`binary_cross_entropy_with`], returning errors.
#[track_caller]
pub fn try_binary_cross_entropy_with(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    let op = "binary_cross_entropy";
    float_input(op, input)?;
    same_shape(op, input, target)?;
    let (p, y) = promote(op, input, target)?;
    let out = p.raw().zip(op, y.raw(), &Bce)?;
    if out.has_non_finite() {
        return Err(Error::invalid_argument(
            op,
            "all elements of input should be between 0 and 1 (found a value outside [0, 1], or NaN); \
             hint: apply sigmoid first, or use binary_cross_entropy_with_logits on the logits",
        ));
    }
    let per = record(out, &[&p, &y], false, || BceBackward { p: Saved::new(&p), y: Saved::new(&y) })?;
    reduce(per, reduction)
}

/// max(z, 0) − z·y + log(1 + e^−|z|): no overflow for any z.
struct BceLogits;
impl BinaryKernel for BceLogits {
    #[inline(always)]
    fn f<T: Float>(&self, z: T, y: T) -> T {
        z.max(T::zero()) - z * y + (-z.abs()).exp().ln_1p()
    }
}
/// σ(z) − y
struct BceLogitsGrad;
impl BinaryKernel for BceLogitsGrad {
    #[inline(always)]
    fn f<T: Float>(&self, z: T, y: T) -> T {
        let s = if z >= T::zero() {
            T::one() / (T::one() + (-z).exp())
        } else {
            let e = z.exp();
            e / (T::one() + e)
        };
        s - y
    }
}

struct BceLogitsBackward {
    z: Saved,
    y: Saved,
}
impl Backward for BceLogitsBackward {
    fn name(&self) -> &'static str {
        "BinaryCrossEntropyWithLogitsBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let (z, y) = (self.z.get(ctx.name())?, self.y.get(ctx.name())?);
        let (need_z, need_y) = (ctx.needs_input_grad(0), ctx.needs_input_grad(1));
        // d/dz = σ(z) − y, d/dy = −z
        if is_grad_enabled() {
            let gz = if need_z { Some(g.try_mul(&z.sigmoid().try_sub(y)?)?) } else { None };
            let gy = if need_y { Some(g.try_mul(z)?.neg()) } else { None };
            return Ok(smallvec![gz, gy]);
        }
        let gz = if need_z {
            Some(fused(g, &Tensor::from_raw(z.raw().zip("backward", y.raw(), &BceLogitsGrad)?), &MulGrad)?)
        } else {
            None
        };
        let gy = if need_y { Some(fused(g, z, &MulGrad)?.neg()) } else { None };
        Ok(smallvec![gz, gy])
    }
}

/// Binary cross-entropy on logits `z` (the sigmoid is folded in), stable for any `z`:
/// `max(z, 0) − z·y + log(1 + e^−|z|)`, averaged. PyTorch's `F.binary_cross_entropy_with_logits`.
///
/// `d/dz = σ(z) − y`, `d/dy = −z`.
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let z = Tensor::from_vec(vec![1e4f64, -1e4, 0.0], &[3]);
/// let y = Tensor::from_vec(vec![0.0f64, 0.0, 1.0], &[3]);
/// assert!((F::binary_cross_entropy_with_logits(&z, &y).item() - (1e4 + 2f64.ln()) / 3.0).abs() < 1e-9);
/// ```
#[track_caller]
pub fn binary_cross_entropy_with_logits(input: &Tensor, target: &Tensor) -> Tensor {
    or_panic(try_binary_cross_entropy_with_logits_with(input, target, &BceWithLogitsOptions::default()))
}

/// [`binary_cross_entropy_with_logits`] with a reduction and a positive-class weight `w`:
/// `(1 − y) · z + (1 + (w − 1) · y) · softplus(−z)` (composed of recorded ops when `w` is given).
///
/// ```
/// use nabla_autograd::functional::{self as F, BceWithLogitsOptions, Reduction};
/// use nabla_autograd::Tensor;
/// let z = Tensor::from_vec(vec![0.0f64, 0.0], &[1, 2]);
/// let y = Tensor::from_vec(vec![1.0f64, 0.0], &[1, 2]);
/// let opts = BceWithLogitsOptions { reduction: Reduction::None, pos_weight: Some(Tensor::from_vec(vec![3.0f64, 3.0], &[2])) };
/// let l = F::binary_cross_entropy_with_logits_with(&z, &y, &opts).to_vec::<f64>();
/// assert!((l[0] - 3.0 * 2f64.ln()).abs() < 1e-15 && (l[1] - 2f64.ln()).abs() < 1e-15);
/// ```
#[track_caller]
pub fn binary_cross_entropy_with_logits_with(input: &Tensor, target: &Tensor, opts: &BceWithLogitsOptions) -> Tensor {
    or_panic(try_binary_cross_entropy_with_logits_with(input, target, opts))
}

/// [`binary_cross_entropy_with_logits`], returning errors.
#[track_caller]
pub fn try_binary_cross_entropy_with_logits(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    try_binary_cross_entropy_with_logits_with(input, target, &BceWithLogitsOptions::default())
}

/// [`binary_cross_entropy_with_logits_with`], returning errors.
#[track_caller]
pub fn try_binary_cross_entropy_with_logits_with(
    input: &Tensor,
    target: &Tensor,
    opts: &BceWithLogitsOptions,
) -> Result<Tensor> {
    let op = "binary_cross_entropy_with_logits";
    float_input(op, input)?;
    same_shape(op, input, target)?;
    let (z, y) = promote(op, input, target)?;
    let per = match &opts.pos_weight {
        None => {
            let out = z.raw().zip(op, y.raw(), &BceLogits)?;
            record(out, &[&z, &y], false, || BceLogitsBackward { z: Saved::new(&z), y: Saved::new(&y) })?
        }
        Some(w) => {
            if broadcast_shapes(op, w.shape(), z.shape()).ok().as_deref() != Some(z.shape()) {
                return Err(Error::shape(
                    op,
                    format!(
                        "pos_weight of shape {:?} does not broadcast to the input's shape {:?}",
                        w.shape(),
                        z.shape()
                    ),
                    "give one weight per class, of the shape of the input's last dimension",
                ));
            }
            let log_weight = w.try_sub(&Tensor::ones_with(&[], w.dtype()))?.try_mul(&y)?.try_add_scalar(1.0)?;
            let softplus_neg = z.neg().try_softplus(1.0, f64::INFINITY)?;
            y.try_rsub_scalar(1.0)?.try_mul(&z)?.try_add(&log_weight.try_mul(&softplus_neg)?)?
        }
    };
    reduce(per, opts.reduction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, gradgradcheck};
    use nabla_tensor::DType;

    fn probs(shape: &[usize]) -> Tensor {
        Tensor::uniform(shape, 0.05, 0.95, DType::F64).requires_grad_(true)
    }

    #[test]
    fn bce_gradchecks_in_both_inputs_on_views_and_create_graph() {
        let (p, y) = (probs(&[4, 3]), probs(&[3, 4]));
        for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
            let f = |xs: &[Tensor]| binary_cross_entropy_with(&xs[0].t(), &xs[1], reduction);
            gradcheck(f, &[p.clone(), y.clone()]).unwrap();
            gradgradcheck(f, &[p.clone(), y.clone()]).unwrap();
        }
    }

    #[test]
    fn bce_clamps_its_logs_and_rejects_values_outside_0_1() {
        let p = Tensor::from_vec(vec![0.0f64, 1.0, 0.0], &[3]).requires_grad_(true);
        let y = Tensor::from_vec(vec![1.0f64, 0.0, 0.0], &[3]);
        let l = binary_cross_entropy_with(&p, &y, Reduction::None);
        assert_eq!(l.to_vec::<f64>(), vec![100.0, 100.0, 0.0]);
        l.sum().backward();
        // PyTorch's (p − y) / max(p(1 − p), 1e-12)
        assert_eq!(p.grad().unwrap().to_vec::<f64>(), vec![-1e12, 1e12, 0.0]);
        let e = try_binary_cross_entropy(&Tensor::from_vec(vec![1.5f32], &[1]), &Tensor::ones(&[1])).unwrap_err();
        assert!(
            e.to_string().starts_with("binary_cross_entropy: all elements of input should be between 0 and 1"),
            "{e}"
        );
        let e = try_binary_cross_entropy(&Tensor::ones(&[4]), &Tensor::ones(&[4, 1])).unwrap_err().to_string();
        assert!(e.contains("input shape [4] and target shape [4, 1] differ") && e.contains("[4, 4]"), "{e}");
    }

    #[test]
    fn bce_with_logits_gradchecks_with_and_without_pos_weight() {
        let z = Tensor::randn_with(&[4, 3], DType::F64).requires_grad_(true);
        let y = probs(&[3, 4]);
        let w = Tensor::uniform(&[4], 0.5, 2.0, DType::F64).requires_grad_(true);
        for reduction in [Reduction::Mean, Reduction::None] {
            let f = |xs: &[Tensor]| {
                binary_cross_entropy_with_logits_with(
                    &xs[0].t(),
                    &xs[1],
                    &BceWithLogitsOptions { reduction, pos_weight: None },
                )
            };
            gradcheck(f, &[z.clone(), y.clone()]).unwrap();
            gradgradcheck(f, &[z.clone(), y.clone()]).unwrap();
            let g = |xs: &[Tensor]| {
                let opts = BceWithLogitsOptions { reduction, pos_weight: Some(xs[2].clone()) };
                binary_cross_entropy_with_logits_with(&xs[0].t(), &xs[1], &opts)
            };
            gradcheck(g, &[z.clone(), y.clone(), w.clone()]).unwrap();
            gradgradcheck(g, &[z.clone(), y.clone(), w.clone()]).unwrap();
        }
    }

    #[test]
    fn bce_with_logits_agrees_with_bce_of_sigmoid_and_stays_finite() {
        let z = Tensor::from_vec(vec![-3.0f64, -0.5, 0.0, 2.0, 7.0], &[5]);
        let y = Tensor::from_vec(vec![0.0f64, 1.0, 0.3, 1.0, 0.0], &[5]);
        let a = binary_cross_entropy_with_logits(&z, &y).item();
        let b = binary_cross_entropy(&z.sigmoid(), &y).item();
        assert!((a - b).abs() < 1e-12);
        // pos_weight w scales the positive term: (1 − y)·z + (1 + (w − 1)·y)·softplus(−z)
        let w = Tensor::full_with(&[5], 2.5, DType::F64);
        let l = binary_cross_entropy_with_logits_with(
            &z,
            &y,
            &BceWithLogitsOptions { reduction: Reduction::None, pos_weight: Some(w) },
        );
        for ((l, z), y) in l.to_vec::<f64>().iter().zip(z.to_vec::<f64>()).zip(y.to_vec::<f64>()) {
            let want = (1.0 - y) * z + (1.0 + 1.5 * y) * (1.0 + (-z).exp()).ln();
            assert!((l - want).abs() < 1e-12);
        }
        let big = Tensor::from_vec(vec![1e4f32, -1e4], &[2]).requires_grad_(true);
        let l = binary_cross_entropy_with_logits_with(
            &big,
            &Tensor::from_vec(vec![0.0f32, 0.0], &[2]),
            &BceWithLogitsOptions { reduction: Reduction::None, ..Default::default() },
        );
        assert_eq!(l.to_vec::<f32>(), vec![1e4, 0.0]);
        l.sum().backward();
        assert_eq!(big.grad().unwrap().to_vec::<f32>(), vec![1.0, 0.0]);
        let bad = BceWithLogitsOptions { pos_weight: Some(Tensor::ones(&[3])), ..Default::default() };
        assert!(
            try_binary_cross_entropy_with_logits_with(&Tensor::zeros(&[2, 5]), &Tensor::zeros(&[2, 5]), &bad).is_err()
        );
    }
}
