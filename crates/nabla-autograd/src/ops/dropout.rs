//! `dropout`: zeroes elements at random while training, scaling the others to keep the mean.

use crate::graph::{Backward, BackwardCtx, Grads};
use crate::ops::{or_panic, record};
use crate::rng::with_rng;
use crate::tensor::Tensor;
use nabla_tensor::elementwise::BinaryKernel;
use nabla_tensor::{Buffer, DType, Error, Float, Layout, RawTensor, Result};
use rand::RngCore;
use smallvec::smallvec;

struct DropoutBackward {
    /// 0 where dropped, 1/(1-p) where kept.
    mask: Tensor,
}
impl Backward for DropoutBackward {
    fn name(&self) -> &'static str {
        "NativeDropoutBackward"
    }
    fn backward(&self, _ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        Ok(smallvec![Some(g.try_mul(&self.mask)?)])
    }
}

struct Mul;
impl BinaryKernel for Mul {
    #[inline(always)]
    fn f<T: Float>(&self, a: T, b: T) -> T {
        a * b
    }
}

/// Keeps each element with probability `1 − p`, scaled by `1/(1 − p)`, and zeroes the
/// others, when `training`; returns `x` itself otherwise (or when `p` is 0). The mask comes
/// from the seeded generator ([`crate::manual_seed`]). `d/dx = mask / (1 − p)`; the rule
/// multiplies by a constant, so `create_graph` works.
///
/// ```
/// use nabla_autograd::{functional as F, manual_seed, Tensor};
/// manual_seed(0);
/// let x = Tensor::ones(&[1000]);
/// let y = F::dropout(&x, 0.25, true);
/// manual_seed(0);
/// assert_eq!(F::dropout(&x, 0.25, true).to_vec::<f32>(), y.to_vec::<f32>());
/// let kept = y.to_vec::<f32>().iter().filter(|&&v| v != 0.0).count();
/// assert!((700..800).contains(&kept));
/// assert!(y.to_vec::<f32>().iter().all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-6));
/// assert!(F::dropout(&x, 0.25, false).is_same(&x));
/// ```
///
/// # Panics
/// If `p` is outside `[0, 1]` ("dropout probability has to be between 0 and 1, but got 1.5").
#[track_caller]
pub fn dropout(x: &Tensor, p: f64, training: bool) -> Tensor {
    or_panic(try_dropout(x, p, training))
}

/// [`dropout`], returning errors.
#[track_caller]
pub fn try_dropout(x: &Tensor, p: f64, training: bool) -> Result<Tensor> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::invalid_argument(
            "dropout",
            format!("dropout probability has to be between 0 and 1, but got {p}"),
        ));
    }
    if !training || p == 0.0 {
        return Ok(x.clone());
    }
    if !x.dtype().is_float() {
        return Err(Error::DType {
            op: "dropout",
            msg: format!("expected a floating-point tensor, got {}; convert with to_dtype(DType::F32)", x.dtype()),
        });
    }
    let n = x.numel();
    let scale = if p < 1.0 { 1.0 / (1.0 - p) } else { 0.0 };
    // Drop where a uniform 32-bit draw falls below p·2³²: one generator call per element.
    let cut = (p * 4_294_967_296.0).min(u64::MAX as f64) as u64;
    let keep: Vec<bool> = with_rng(|r| (0..n).map(|_| (r.next_u32() as u64) >= cut).collect());
    let buf = match x.dtype() {
        DType::F32 => Buffer::F32(keep.iter().map(|&k| if k { scale as f32 } else { 0.0 }).collect()),
        _ => Buffer::F64(keep.iter().map(|&k| if k { scale } else { 0.0 }).collect()),
    };
    let mask = RawTensor::from_buffer(buf, Layout::contiguous(x.shape()));
    let out = x.raw().zip("dropout", &mask, &Mul)?;
    record(out, &[x], false, || DropoutBackward { mask: Tensor::from_raw(mask) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(shape: &[usize]) -> Tensor {
        Tensor::uniform(shape, 0.5, 1.5, DType::F64).requires_grad_(true)
    }

    #[test]
    fn probability_outside_0_1_is_an_error() {
        let x = Tensor::ones(&[2]);
        let e = try_dropout(&x, 1.5, true).unwrap_err().to_string();
        assert_eq!(e, "dropout: dropout probability has to be between 0 and 1, but got 1.5");
        assert!(try_dropout(&x, -0.1, true).is_err());
        assert!(try_dropout(&x, f64::NAN, false).is_err());
        assert!(try_dropout(&Tensor::from_vec(vec![1i64], &[1]), 0.5, true).is_err());
    }

    #[test]
    fn dropout_is_scaled_and_differentiable() {
        // (reproducibility under manual_seed is checked by the doc example, in its own
        // process: tests running in parallel here share the global generator)
        let base = leaf(&[40, 50]);
        let x = base.t(); // non-contiguous input
        let y = dropout(&x, 0.3, true);
        assert_eq!(y.grad_fn().unwrap().name(), "NativeDropoutBackward");
        let (xv, yv) = (x.to_vec::<f64>(), y.to_vec::<f64>());
        let kept = yv.iter().filter(|&&v| v != 0.0).count();
        assert!((1300..1500).contains(&kept), "kept {kept} of 2000");
        for (a, b) in xv.iter().zip(&yv) {
            assert!(*b == 0.0 || (b - a / 0.7).abs() < 1e-12);
        }
        y.sum().backward();
        let g = base.grad().unwrap().t().to_vec::<f64>();
        for (gv, yv) in g.iter().zip(&yv) {
            assert_eq!(*gv == 0.0, *yv == 0.0);
        }
        assert!(dropout(&x, 1.0, true).to_vec::<f64>().iter().all(|&v| v == 0.0));
        assert!(dropout(&x, 0.0, true).is_same(&x));
        // the mask is a constant: the rule supports create_graph
        let y = dropout(&base.pow(2.0), 0.5, true);
        let g = crate::autograd::grad(
            &[y.sum()],
            &[base.clone()],
            &crate::autograd::GradOptions { create_graph: true, ..Default::default() },
        )
        .unwrap()[0]
            .clone()
            .unwrap();
        let mask = y.div(&base.pow(2.0)).to_vec::<f64>();
        // d/dx (m x²) = 2 m x, and its own derivative 2 m
        let gg = crate::autograd::grad(&[g.sum()], &[base.clone()], &Default::default()).unwrap()[0].clone().unwrap();
        for (i, (a, m)) in gg.to_vec::<f64>().iter().zip(&mask).enumerate() {
            assert!((a - 2.0 * m).abs() < 1e-9, "at {i}: {a} vs {}", 2.0 * m);
        }
    }
}
