//! Gradient clipping (PyTorch's `nn.utils.clip_grad_norm_` and `clip_grad_value_`):
//! in place on the `.grad` tensors, between `backward()` and the optimizer's `step()`.

use nabla_autograd::{DType, Tensor};
use nabla_tensor::elementwise::BinaryKernel;
use nabla_tensor::{Element, Float, RawTensor};

struct Scale;
impl BinaryKernel for Scale {
    fn f<T: Float>(&self, a: T, b: T) -> T {
        a * b
    }
}

struct ClampAbs;
impl BinaryKernel for ClampAbs {
    fn f<T: Float>(&self, a: T, limit: T) -> T {
        a.max(-limit).min(limit)
    }
}

/// Σ|g|^p (or max |g| for p = ∞) over one gradient, accumulated in f64 without copying.
fn grad_norm_part(g: &RawTensor, norm_type: f64) -> f64 {
    fn part<T: Float>(g: &RawTensor, norm_type: f64) -> f64 {
        g.with_slice::<T, _>(|s, l| {
            let acc = |it: &mut dyn Iterator<Item = f64>| {
                if norm_type.is_infinite() {
                    it.fold(0.0f64, |m, v| m.max(v.abs()))
                } else if norm_type == 2.0 {
                    it.map(|v| v * v).sum()
                } else {
                    it.map(|v| v.abs().powf(norm_type)).sum()
                }
            };
            match l.contiguous_range() {
                Some(r) => acc(&mut s[r].iter().map(|v| <T as Element>::to_f64(*v))),
                None => acc(&mut l.indices().map(|i| <T as Element>::to_f64(s[i]))),
            }
        })
    }
    match g.dtype() {
        DType::F32 => part::<f32>(g, norm_type),
        DType::F64 => part::<f64>(g, norm_type),
        _ => 0.0,
    }
}

/// Scales the gradients of `params` so that their joint 2-norm (the norm of all
/// gradients concatenated) is at most `max_norm`, and returns the norm before clipping.
/// Parameters without a gradient are skipped.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::clip_grad_norm_;
/// let w = Tensor::zeros(&[2]).requires_grad_(true);
/// w.set_grad(Some(Tensor::from_vec(vec![3.0f32, 4.0], &[2])));
/// let total = clip_grad_norm_(&[w.clone()], 1.0);
/// assert!((total - 5.0).abs() < 1e-6);
/// let g = w.grad().unwrap().to_vec::<f32>();
/// assert!((g[0] - 0.6).abs() < 1e-5 && (g[1] - 0.8).abs() < 1e-5);
/// ```
pub fn clip_grad_norm_(params: &[Tensor], max_norm: f64) -> f64 {
    clip_grad_norm_with(params, max_norm, 2.0)
}

/// [`clip_grad_norm_`] with another norm: `norm_type` is p of the p-norm
/// (`f64::INFINITY` for the largest absolute value). The coefficient
/// `max_norm / (total + 1e-6)`, capped at 1, multiplies every gradient, as PyTorch does.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::clip_grad_norm_with;
/// let w = Tensor::zeros(&[2]).requires_grad_(true);
/// w.set_grad(Some(Tensor::from_vec(vec![3.0f32, -4.0], &[2])));
/// assert_eq!(clip_grad_norm_with(&[w.clone()], 10.0, f64::INFINITY), 4.0);
/// assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![3.0, -4.0]); // under the limit: unchanged
/// ```
pub fn clip_grad_norm_with(params: &[Tensor], max_norm: f64, norm_type: f64) -> f64 {
    let grads: Vec<Tensor> = params.iter().filter_map(|p| p.grad()).collect();
    if grads.is_empty() {
        return 0.0;
    }
    let parts = grads.iter().map(|g| grad_norm_part(g.raw(), norm_type));
    let total =
        if norm_type.is_infinite() { parts.fold(0.0f64, f64::max) } else { parts.sum::<f64>().powf(1.0 / norm_type) };
    let coef = (max_norm / (total + 1e-6)).min(1.0);
    for g in &grads {
        if g.dtype().is_float() {
            let c = RawTensor::full(&[], coef, g.dtype());
            g.raw().zip_assign("clip_grad_norm_", &c, &Scale).expect("a scalar broadcasts to any shape");
        }
    }
    total
}

/// Clamps every gradient element of `params` into `[-clip_value, clip_value]`.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::clip_grad_value_;
/// let w = Tensor::zeros(&[3]).requires_grad_(true);
/// w.set_grad(Some(Tensor::from_vec(vec![-5.0f32, 0.5, 2.0], &[3])));
/// clip_grad_value_(&[w.clone()], 1.0);
/// assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![-1.0, 0.5, 1.0]);
/// ```
pub fn clip_grad_value_(params: &[Tensor], clip_value: f64) {
    for g in params.iter().filter_map(|p| p.grad()) {
        if matches!(g.dtype(), DType::F32 | DType::F64) {
            let c = RawTensor::full(&[], clip_value.abs(), g.dtype());
            g.raw().zip_assign("clip_grad_value_", &c, &ClampAbs).expect("a scalar broadcasts to any shape");
        }
    }
}
