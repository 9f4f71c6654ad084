//! Activations: `leaky_relu`, `elu`, `gelu` (exact and tanh), `silu`, `softplus`,
//! `hardtanh` and `maxout`. (`relu`, `sigmoid` and `tanh` live in `unary.rs`,
//! `softmax` and `log_softmax` in `reduce.rs`.)
//!
//! Each element-wise activation is one small `Activation` type that states its value
//! `f`, its derivative `df` (used by one fused backward kernel `g · f'(x)`), and the same
//! derivative as recorded ops (`df_graph`, used when backward runs with `create_graph`).
//! Derivatives at kinks are PyTorch's: `leaky_relu'(0) = slope`, `elu'(0) = alpha`,
//! `hardtanh'(min) = hardtanh'(max) = 0`, `softplus` is linear only where `x·beta > threshold`.

use crate::dim::Dim;
use crate::grad_mode::is_grad_enabled;
use crate::graph::{Backward, BackwardCtx, Grads, Saved};
use crate::ops::unary::fused;
use crate::ops::{or_panic, record};
use crate::tensor::Tensor;
use nabla_tensor::elementwise::{BinaryKernel, UnaryKernel};
use nabla_tensor::{DType, Element, Error, Float, Result};
use smallvec::smallvec;
use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// An element-wise activation: value, derivative, and the derivative as recorded ops.
trait Activation: Copy + Send + Sync + 'static {
    /// The backward node's name, as PyTorch prints it.
    const BACKWARD: &'static str;
    fn f<T: Float>(self, x: T) -> T;
    fn df<T: Float>(self, x: T) -> T;
    /// `f'(x)` built from differentiable ops, so that `create_graph` can differentiate it.
    fn df_graph(self, x: &Tensor) -> Result<Tensor>;
}

struct Forward<A>(A);
impl<A: Activation> UnaryKernel for Forward<A> {
    #[inline(always)]
    fn f<T: Float>(&self, x: T) -> T {
        self.0.f(x)
    }
}

struct Derivative<A>(A);
impl<A: Activation> UnaryKernel for Derivative<A> {
    #[inline(always)]
    fn f<T: Float>(&self, x: T) -> T {
        self.0.df(x)
    }
}

struct GradTimesDerivative<A>(A);
impl<A: Activation> BinaryKernel for GradTimesDerivative<A> {
    #[inline(always)]
    fn f<T: Float>(&self, g: T, x: T) -> T {
        g * self.0.df(x)
    }
}

/// `f'(x)` as a constant: right for piecewise-linear activations, whose second derivative is 0.
fn constant_df<A: Activation>(a: A, x: &Tensor) -> Result<Tensor> {
    Ok(Tensor::from_raw(x.raw().map(A::BACKWARD, &Derivative(a))?))
}

#[inline(always)]
fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// `mask ? 1 : other`, recorded (the gradient flows to `other` where the mask is false).
fn one_where(mask: &Tensor, other: &Tensor) -> Result<Tensor> {
    Tensor::try_where_(mask, &Tensor::ones_with(&[], other.dtype()), other)
}

#[derive(Clone, Copy)]
struct LeakyRelu(f64);
impl Activation for LeakyRelu {
    const BACKWARD: &'static str = "LeakyReluBackward";
    fn f<T: Float>(self, x: T) -> T {
        if x > T::zero() {
            x
        } else {
            x * T::cast(self.0)
        }
    }
    fn df<T: Float>(self, x: T) -> T {
        if x > T::zero() {
            T::one()
        } else {
            T::cast(self.0)
        }
    }
    fn df_graph(self, x: &Tensor) -> Result<Tensor> {
        constant_df(self, x)
    }
}

#[derive(Clone, Copy)]
struct Elu(f64);
impl Activation for Elu {
    const BACKWARD: &'static str = "EluBackward";
    fn f<T: Float>(self, x: T) -> T {
        if x > T::zero() {
            x
        } else {
            T::cast(self.0) * x.exp_m1()
        }
    }
    fn df<T: Float>(self, x: T) -> T {
        if x > T::zero() {
            T::one()
        } else {
            T::cast(self.0) * x.exp()
        }
    }
    fn df_graph(self, x: &Tensor) -> Result<Tensor> {
        // exp of min(x, 0), so that large positive x (masked out) cannot overflow
        let neg = x.try_clamp(None, Some(0.0))?.exp().try_mul_scalar(self.0)?;
        one_where(&x.gt(0.0), &neg)
    }
}

/// The standard normal density and distribution function, in f64.
fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}
fn normal_cdf(x: f64) -> f64 {
    // erfc keeps the relative accuracy of Φ(x) in the far left tail, where 1 + erf cancels
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}

#[derive(Clone, Copy)]
struct Gelu;
impl Activation for Gelu {
    const BACKWARD: &'static str = "GeluBackward";
    fn f<T: Float>(self, x: T) -> T {
        let x = Element::to_f64(x);
        T::cast(x * normal_cdf(x))
    }
    fn df<T: Float>(self, x: T) -> T {
        let x = Element::to_f64(x);
        T::cast(normal_cdf(x) + x * normal_pdf(x))
    }
    fn df_graph(self, x: &Tensor) -> Result<Tensor> {
        let pdf = x.try_mul(x)?.try_mul_scalar(-0.5)?.exp().try_mul_scalar(1.0 / (2.0 * PI).sqrt())?;
        x.normal_cdf()?.try_add(&x.try_mul(&pdf)?)
    }
}

/// Φ(x) as a recorded op (private: GELU's derivative needs it under `create_graph`).
/// `dΦ/dx = φ(x) = e^(-x²/2)/√(2π)`, composed of recorded ops, so every order works.
#[derive(Clone, Copy)]
struct NormalCdf;
impl Activation for NormalCdf {
    const BACKWARD: &'static str = "NormalCdfBackward";
    fn f<T: Float>(self, x: T) -> T {
        T::cast(normal_cdf(Element::to_f64(x)))
    }
    fn df<T: Float>(self, x: T) -> T {
        T::cast(normal_pdf(Element::to_f64(x)))
    }
    fn df_graph(self, x: &Tensor) -> Result<Tensor> {
        x.try_mul(x)?.try_mul_scalar(-0.5)?.exp().try_mul_scalar(1.0 / (2.0 * PI).sqrt())
    }
}

/// √(2/π) and the cubic coefficient of GELU's tanh approximation.
const GELU_K: f64 = 0.797_884_560_802_865_4;
const GELU_C: f64 = 0.044715;

#[derive(Clone, Copy)]
struct GeluTanh;
impl Activation for GeluTanh {
    const BACKWARD: &'static str = "GeluBackward";
    fn f<T: Float>(self, x: T) -> T {
        let (k, c, half) = (T::cast(GELU_K), T::cast(GELU_C), T::cast(0.5));
        half * x * (T::one() + (k * (x + c * x * x * x)).kernel_tanh())
    }
    fn df<T: Float>(self, x: T) -> T {
        let (k, c, half) = (T::cast(GELU_K), T::cast(GELU_C), T::cast(0.5));
        let t = (k * (x + c * x * x * x)).kernel_tanh();
        half * (T::one() + t) + half * x * (T::one() - t * t) * k * (T::one() + T::cast(3.0) * c * x * x)
    }
    fn df_graph(self, x: &Tensor) -> Result<Tensor> {
        let x2 = x.try_mul(x)?;
        let t = x.try_add(&x2.try_mul(x)?.try_mul_scalar(GELU_C)?)?.try_mul_scalar(GELU_K)?.tanh();
        let left = t.try_add_scalar(1.0)?.try_mul_scalar(0.5)?;
        let sech2 = t.try_mul(&t)?.try_rsub_scalar(1.0)?;
        let inner = x2.try_mul_scalar(3.0 * GELU_C)?.try_add_scalar(1.0)?.try_mul_scalar(0.5 * GELU_K)?;
        left.try_add(&x.try_mul(&sech2)?.try_mul(&inner)?)
    }
}

#[derive(Clone, Copy)]
struct Silu;
impl Activation for Silu {
    const BACKWARD: &'static str = "SiluBackward";
    fn f<T: Float>(self, x: T) -> T {
        x * sigmoid(x)
    }
    fn df<T: Float>(self, x: T) -> T {
        let s = sigmoid(x);
        s * (T::one() + x * (T::one() - s))
    }
    fn df_graph(self, x: &Tensor) -> Result<Tensor> {
        let s = x.sigmoid();
        s.try_mul(&x.try_mul(&s.try_rsub_scalar(1.0)?)?.try_add_scalar(1.0)?)
    }
}

#[derive(Clone, Copy)]
struct Softplus {
    beta: f64,
    threshold: f64,
}
impl Activation for Softplus {
    const BACKWARD: &'static str = "SoftplusBackward";
    fn f<T: Float>(self, x: T) -> T {
        let bx = x * T::cast(self.beta);
        if bx > T::cast(self.threshold) {
            x
        } else if bx > T::zero() {
            // log(1 + e^bx) = bx + log(1 + e^-bx): no overflow for a large threshold
            (bx + (-bx).exp().ln_1p()) / T::cast(self.beta)
        } else {
            bx.exp().ln_1p() / T::cast(self.beta)
        }
    }
    fn df<T: Float>(self, x: T) -> T {
        let bx = x * T::cast(self.beta);
        if bx > T::cast(self.threshold) {
            T::one()
        } else {
            sigmoid(bx)
        }
    }
    fn df_graph(self, x: &Tensor) -> Result<Tensor> {
        let bx = x.try_mul_scalar(self.beta)?;
        one_where(&bx.gt(self.threshold), &bx.sigmoid())
    }
}

#[derive(Clone, Copy)]
struct Hardtanh(f64, f64);
impl Activation for Hardtanh {
    const BACKWARD: &'static str = "HardtanhBackward";
    fn f<T: Float>(self, x: T) -> T {
        let (lo, hi) = (T::cast(self.0), T::cast(self.1));
        if x < lo {
            lo
        } else if x > hi {
            hi
        } else {
            x
        }
    }
    fn df<T: Float>(self, x: T) -> T {
        if x <= T::cast(self.0) || x >= T::cast(self.1) {
            T::zero()
        } else {
            T::one()
        }
    }
    fn df_graph(self, x: &Tensor) -> Result<Tensor> {
        constant_df(self, x)
    }
}

struct ActivationBackward<A> {
    a: A,
    x: Saved,
}
impl<A: Activation> Backward for ActivationBackward<A> {
    fn name(&self) -> &'static str {
        A::BACKWARD
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let x = self.x.get(ctx.name())?;
        let gx = if is_grad_enabled() {
            g.try_mul(&self.a.df_graph(x)?)?
        } else {
            fused(g, x, &GradTimesDerivative(self.a))?
        };
        Ok(smallvec![Some(gx)])
    }
}

impl Tensor {
    /// The one driver of every element-wise activation: a kernel for `f`, a recorded node
    /// whose rule is `g · f'(x)`.
    #[track_caller]
    fn activation<A: Activation>(&self, op: &'static str, a: A) -> Result<Tensor> {
        let x = if self.dtype().is_float() { self.clone() } else { self.try_to_dtype(DType::F32)? };
        let out = x.raw().map(op, &Forward(a))?;
        record(out, &[&x], false, || ActivationBackward { a, x: Saved::new(&x) })
    }

    #[track_caller]
    fn normal_cdf(&self) -> Result<Tensor> {
        self.activation("normal_cdf", NormalCdf)
    }

    /// Element-wise `x if x > 0 else negative_slope · x` (PyTorch's default slope is 0.01).
    /// `d/dx = 1 if x > 0 else negative_slope` (so the slope at 0, as PyTorch).
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![-2.0f64, 0.0, 3.0], &[3]).requires_grad_(true);
    /// let y = x.leaky_relu(0.1);
    /// assert_eq!(y.to_vec::<f64>(), vec![-0.2, 0.0, 3.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![0.1, 0.1, 1.0]);
    /// ```
    #[track_caller]
    pub fn leaky_relu(&self, negative_slope: f64) -> Tensor {
        or_panic(self.try_leaky_relu(negative_slope))
    }

    /// [`Tensor::leaky_relu`], returning errors.
    #[track_caller]
    pub fn try_leaky_relu(&self, negative_slope: f64) -> Result<Tensor> {
        self.activation("leaky_relu", LeakyRelu(negative_slope))
    }

    /// Element-wise ELU: `x if x > 0 else alpha · (eˣ − 1)`.
    /// `d/dx = 1 if x > 0 else alpha · eˣ` (so `alpha` at 0, as PyTorch: 1 for the default alpha).
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![0.0f64, 2.0], &[2]).requires_grad_(true);
    /// let y = x.elu(1.0);
    /// assert_eq!(y.to_vec::<f64>(), vec![0.0, 2.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![1.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn elu(&self, alpha: f64) -> Tensor {
        or_panic(self.try_elu(alpha))
    }

    /// [`Tensor::elu`], returning errors.
    #[track_caller]
    pub fn try_elu(&self, alpha: f64) -> Result<Tensor> {
        self.activation("elu", Elu(alpha))
    }

    /// Element-wise exact GELU, `x · Φ(x)` with Φ the standard normal CDF (via `erfc`,
    /// accurate to about 1e-16). `d/dx = Φ(x) + x · φ(x)`, `φ(x) = e^(−x²/2)/√(2π)`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![0.0f64, 1.0], &[2]);
    /// let y = x.gelu().to_vec::<f64>();
    /// assert_eq!(y[0], 0.0);
    /// assert!((y[1] - 0.8413447460685429).abs() < 1e-15);
    /// ```
    #[track_caller]
    pub fn gelu(&self) -> Tensor {
        or_panic(self.try_gelu())
    }

    /// [`Tensor::gelu`], returning errors.
    #[track_caller]
    pub fn try_gelu(&self) -> Result<Tensor> {
        self.activation("gelu", Gelu)
    }

    /// GELU's tanh approximation (PyTorch's `approximate='tanh'`):
    /// `0.5 · x · (1 + tanh(u))`, `u = √(2/π) · (x + 0.044715 · x³)`.
    /// `d/dx = 0.5 · (1 + tanh u) + 0.5 · x · (1 − tanh² u) · √(2/π) · (1 + 3 · 0.044715 · x²)`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1.0f64], &[1]);
    /// assert!((x.gelu_tanh().item() - 0.8411919906082768).abs() < 1e-15);
    /// ```
    #[track_caller]
    pub fn gelu_tanh(&self) -> Tensor {
        or_panic(self.try_gelu_tanh())
    }

    /// [`Tensor::gelu_tanh`], returning errors.
    #[track_caller]
    pub fn try_gelu_tanh(&self) -> Result<Tensor> {
        self.activation("gelu_tanh", GeluTanh)
    }

    /// Element-wise SiLU (swish), `x · σ(x)`. `d/dx = σ(x) · (1 + x · (1 − σ(x)))`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![0.0f32, -1000.0], &[2]);
    /// assert_eq!(x.silu().to_vec::<f32>(), vec![0.0, -0.0]);
    /// ```
    #[track_caller]
    pub fn silu(&self) -> Tensor {
        or_panic(self.try_silu())
    }

    /// [`Tensor::silu`], returning errors.
    #[track_caller]
    pub fn try_silu(&self) -> Result<Tensor> {
        self.activation("silu", Silu)
    }

    /// Element-wise softplus, `log(1 + e^(beta·x)) / beta`, and `x` itself where
    /// `beta · x > threshold` (strictly, as PyTorch; its defaults are beta 1, threshold 20).
    /// `d/dx = σ(beta · x)`, and 1 on the linear branch.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![0.0f64, 30.0], &[2]);
    /// let y = x.softplus(1.0, 20.0).to_vec::<f64>();
    /// assert_eq!(y, vec![2f64.ln(), 30.0]);
    /// ```
    #[track_caller]
    pub fn softplus(&self, beta: f64, threshold: f64) -> Tensor {
        or_panic(self.try_softplus(beta, threshold))
    }

    /// [`Tensor::softplus`], returning errors (`beta` must be non-zero).
    #[track_caller]
    pub fn try_softplus(&self, beta: f64, threshold: f64) -> Result<Tensor> {
        if beta == 0.0 || beta.is_nan() {
            return Err(Error::invalid_argument("softplus", format!("beta must be non-zero, got {beta}")));
        }
        self.activation("softplus", Softplus { beta, threshold })
    }

    /// Element-wise clamp to `[min_val, max_val]` (PyTorch's defaults are −1 and 1).
    /// `d/dx = 1 if min_val < x < max_val else 0` — 0 at the boundaries themselves, as
    /// PyTorch (unlike [`Tensor::clamp`], whose derivative is 1 there).
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![-2.0f64, -1.0, 0.5, 1.0], &[4]).requires_grad_(true);
    /// let y = x.hardtanh(-1.0, 1.0);
    /// assert_eq!(y.to_vec::<f64>(), vec![-1.0, -1.0, 0.5, 1.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![0.0, 0.0, 1.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn hardtanh(&self, min_val: f64, max_val: f64) -> Tensor {
        or_panic(self.try_hardtanh(min_val, max_val))
    }

    /// [`Tensor::hardtanh`], returning an error if `min_val > max_val`.
    #[track_caller]
    pub fn try_hardtanh(&self, min_val: f64, max_val: f64) -> Result<Tensor> {
        if min_val > max_val || min_val.is_nan() || max_val.is_nan() {
            return Err(Error::invalid_argument(
                "hardtanh",
                format!("min_val cannot be greater than max_val, got min_val {min_val} and max_val {max_val}"),
            ));
        }
        self.activation("hardtanh", Hardtanh(min_val, max_val))
    }

    /// Maxout: splits dimension `dim` (size `C`) into `pieces` consecutive chunks of `C / pieces`
    /// and takes their element-wise maximum, so output `j` is `max_i x[i · C/pieces + j]`
    /// (the same as `max` over a `[pieces, C/pieces]` reshape of `dim`). The gradient goes
    /// to the chosen element (the first of equal ones).
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1.0f32, 8.0, 5.0, 2.0, 3.0, 9.0], &[1, 6]);
    /// // chunks [1, 8, 5] and [2, 3, 9]
    /// assert_eq!(x.maxout(2, 1).to_vec::<f32>(), vec![2.0, 8.0, 9.0]);
    /// ```
    #[track_caller]
    pub fn maxout<D: Dim>(&self, pieces: usize, dim: D) -> Tensor {
        or_panic(self.try_maxout(pieces, dim))
    }

    /// [`Tensor::maxout`], returning an error if the dimension does not split evenly.
    #[track_caller]
    pub fn try_maxout<D: Dim>(&self, pieces: usize, dim: D) -> Result<Tensor> {
        let d = dim.to_index(self.dims(), "maxout")?;
        let size = self.shape().get(d).copied().unwrap_or(1);
        if pieces == 0 || size % pieces != 0 {
            return Err(Error::shape(
                "maxout",
                format!(
                    "dimension {d} of size {size} (shape {:?}) cannot be split into {pieces} equal pieces",
                    self.shape()
                ),
                "the size of the dimension must be a multiple of pieces",
            ));
        }
        let mut shape = self.shape().to_vec();
        shape.splice(d..=d, [pieces, size / pieces]);
        Ok(self.try_reshape(&shape[..])?.try_extremum_dim(d, false, true)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, gradgradcheck};

    fn leaf(shape: &[usize]) -> Tensor {
        Tensor::randn_with(shape, DType::F64).requires_grad_(true)
    }

    /// Points away from every activation's kinks (finite differences across a kink fail).
    fn smooth_leaf(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|i| -2.7 + 5.3 * (i as f64 + 0.5) / n as f64).collect();
        Tensor::from_vec(v, shape).requires_grad_(true)
    }

    #[test]
    fn elementwise_activations_gradcheck_and_gradgradcheck_on_transposed_views() {
        type Act = fn(&Tensor) -> Tensor;
        let acts: [(&str, Act); 8] = [
            ("leaky_relu", |x| x.leaky_relu(0.1)),
            ("elu", |x| x.elu(1.3)),
            ("gelu", |x| x.gelu()),
            ("gelu_tanh", |x| x.gelu_tanh()),
            ("silu", |x| x.silu()),
            ("softplus", |x| x.softplus(2.0, 3.0)),
            ("hardtanh", |x| x.hardtanh(-1.5, 1.2)),
            ("normal_cdf", |x| x.normal_cdf().unwrap()),
        ];
        for (name, f) in acts {
            let x = smooth_leaf(&[4, 3]);
            gradcheck(|xs| f(&xs[0].t()), &[x.clone()]).unwrap_or_else(|e| panic!("{name}: {e}"));
            gradgradcheck(|xs| f(&xs[0].t()), &[x]).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn derivatives_at_kinks_are_pytorchs() {
        let x = Tensor::from_vec(vec![0.0f64, -1.0, 1.0], &[3]).requires_grad_(true);
        let grad = |y: Tensor| {
            x.zero_grad();
            y.sum().backward();
            x.grad().unwrap().to_vec::<f64>()
        };
        assert_eq!(grad(x.leaky_relu(0.2)), vec![0.2, 0.2, 1.0]);
        assert_eq!(grad(x.elu(0.5)), vec![0.5, 0.5 * (-1f64).exp(), 1.0]);
        assert_eq!(grad(x.hardtanh(-1.0, 1.0)), vec![1.0, 0.0, 0.0]);
        assert_eq!(grad(x.relu()), vec![0.0, 0.0, 1.0]);
        // softplus: linear only strictly above the threshold
        let t = Tensor::from_vec(vec![20.0f64, 20.5], &[2]).requires_grad_(true);
        t.softplus(1.0, 20.0).sum().backward();
        let g = t.grad().unwrap().to_vec::<f64>();
        assert!(g[0] < 1.0 && (g[0] - 1.0).abs() < 1e-8);
        assert_eq!(g[1], 1.0);
    }

    #[test]
    fn values_match_closed_forms_in_f32_and_f64() {
        let v = [-3.0, -0.5, 0.0, 0.7, 2.5];
        let x64 = Tensor::from_vec(v.to_vec(), &[5]);
        let x32 = x64.to_dtype(DType::F32);
        let gelu = |x: f64| 0.5 * x * (1.0 + libm::erf(x / 2f64.sqrt()));
        let softplus = |x: f64| (1.0 + (2.0 * x).exp()).ln() / 2.0;
        let cases: [(Tensor, Tensor, fn(f64) -> f64); 3] = [
            (x64.gelu(), x32.gelu(), gelu),
            (x64.softplus(2.0, 20.0), x32.softplus(2.0, 20.0), softplus),
            (x64.silu(), x32.silu(), |x| x / (1.0 + (-x).exp())),
        ];
        for (y64, y32, f) in cases {
            assert_eq!(y32.dtype(), DType::F32);
            for ((a, b), &x) in y64.to_vec::<f64>().iter().zip(y32.to_vec::<f64>()).zip(&v) {
                assert!((a - f(x)).abs() < 1e-14, "{a} vs {}", f(x));
                assert!((b - f(x)).abs() < 1e-6);
            }
        }
        // far tails stay finite and exact
        let big = Tensor::from_vec(vec![-1e4f64, 1e4, 800.0], &[3]);
        assert_eq!(big.softplus(1.0, 1e6).to_vec::<f64>(), vec![0.0, 1e4, 800.0]);
        assert_eq!(big.gelu().to_vec::<f64>(), vec![-0.0, 1e4, 800.0]);
    }

    #[test]
    fn maxout_takes_the_max_of_chunks_and_routes_the_gradient() {
        let x = Tensor::from_vec(vec![1.0f64, 8.0, 5.0, 2.0, 3.0, 9.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[2, 6])
            .requires_grad_(true);
        let y = x.maxout(2, -1);
        assert_eq!(y.shape(), &[2, 3]);
        assert_eq!(y.to_vec::<f64>(), vec![2.0, 8.0, 9.0, 1.0, 1.0, 1.0]);
        y.sum().backward();
        assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let w = leaf(&[6, 2]);
        gradcheck(|xs| xs[0].t().maxout(3, 1), &[w.clone()]).unwrap();
        gradgradcheck(|xs| xs[0].t().maxout(3, 1), &[w]).unwrap();
        let e = x.try_maxout(4, 1).unwrap_err().to_string();
        assert!(e.contains("dimension 1 of size 6 (shape [2, 6]) cannot be split into 4"), "{e}");
    }

    #[test]
    fn argument_errors_name_the_op() {
        let x = Tensor::ones(&[2]);
        assert!(x.try_hardtanh(1.0, -1.0).unwrap_err().to_string().starts_with("hardtanh: min_val cannot"));
        assert!(x.try_softplus(0.0, 20.0).is_err());
        assert!(x.try_maxout(0, 0).is_err());
    }
}
