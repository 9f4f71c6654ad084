//! Element-wise functions of one tensor: `exp`, `log`, `sqrt`, `abs`, `sin`, `cos`,
//! `tanh`, `sigmoid`, `relu`, `clamp`, and the dtype cast `to_dtype`.
//!
//! Each op is a kernel (`f`) next to its backward rule. When backward runs without
//! `create_graph`, the rule uses one fused kernel for `grad · f'(x)`; with `create_graph`
//! it composes differentiable ops so that the derivative can itself be differentiated.

use crate::grad_mode::is_grad_enabled;
use crate::graph::{Backward, BackwardCtx, Grads, Saved};
use crate::ops::{or_panic, record};
use crate::tensor::Tensor;
use nabla_tensor::elementwise::{BinaryKernel, UnaryKernel};
use nabla_tensor::{DType, Float, Result};
use smallvec::smallvec;
use std::borrow::Cow;

/// `grad ⊙ k(grad, s)` computed by one kernel, not recorded (only used without create_graph).
pub(crate) fn fused(g: &Tensor, s: &Tensor, k: &impl BinaryKernel) -> Result<Tensor> {
    Ok(Tensor::from_raw(g.raw().zip("backward", s.raw(), k)?))
}

macro_rules! kernel1 {
    ($name:ident, |$x:ident| $e:expr) => {
        pub(crate) struct $name;
        impl UnaryKernel for $name {
            #[inline(always)]
            fn f<T: Float>(&self, $x: T) -> T {
                $e
            }
        }
    };
}
macro_rules! kernel2 {
    ($name:ident, |$g:ident, $s:ident| $e:expr) => {
        pub(crate) struct $name;
        impl BinaryKernel for $name {
            #[inline(always)]
            fn f<T: Float>(&self, $g: T, $s: T) -> T {
                $e
            }
        }
    };
}

kernel1!(Exp, |x| x.exp());
kernel1!(Log, |x| x.ln());
kernel1!(Sqrt, |x| x.sqrt());
kernel1!(Abs, |x| x.abs());
kernel1!(Sin, |x| x.sin());
kernel1!(Cos, |x| x.cos());
kernel1!(Tanh, |x| x.kernel_tanh());
kernel1!(Sigmoid, |x| if x >= T::zero() {
    T::one() / (T::one() + (-x).exp())
} else {
    let e = x.exp();
    e / (T::one() + e)
});
kernel1!(Relu, |x| if x > T::zero() { x } else { T::zero() });

kernel2!(MulGrad, |g, s| g * s);
kernel2!(DivGrad, |g, s| g / s);
kernel2!(SqrtGrad, |g, y| g / (y + y));
kernel2!(AbsGrad, |g, x| if x > T::zero() {
    g
} else if x < T::zero() {
    -g
} else {
    T::zero()
});
kernel2!(SinGrad, |g, x| g * x.cos());
kernel2!(CosGrad, |g, x| -g * x.sin());
kernel2!(TanhGrad, |g, y| g * (T::one() - y * y));
kernel2!(SigmoidGrad, |g, y| g * y * (T::one() - y));
kernel2!(ReluGrad, |g, y| if y > T::zero() { g } else { T::zero() });

/// Which function a [`UnaryBackward`] differentiates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fn1 {
    Exp,
    Log,
    Sqrt,
    Abs,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Relu,
}

impl Fn1 {
    /// Whether the rule needs the output (else the input).
    fn uses_output(self) -> bool {
        matches!(self, Fn1::Exp | Fn1::Sqrt | Fn1::Tanh | Fn1::Sigmoid | Fn1::Relu)
    }
}

struct UnaryBackward {
    f: Fn1,
    x: Option<Saved>,
}

impl Backward for UnaryBackward {
    fn name(&self) -> &'static str {
        match self.f {
            Fn1::Exp => "ExpBackward",
            Fn1::Log => "LogBackward",
            Fn1::Sqrt => "SqrtBackward",
            Fn1::Abs => "AbsBackward",
            Fn1::Sin => "SinBackward",
            Fn1::Cos => "CosBackward",
            Fn1::Tanh => "TanhBackward",
            Fn1::Sigmoid => "SigmoidBackward",
            Fn1::Relu => "ReluBackward",
        }
    }

    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let saved_input = || self.x.as_ref().expect("saved input").get(ctx.name());
        let gx = if !is_grad_enabled() {
            // one kernel on the values, no tensor made for the saved one
            let s = if self.f.uses_output() { ctx.output_raw()? } else { saved_input()?.raw() };
            let g = g.raw();
            Tensor::from_raw(match self.f {
                Fn1::Exp => g.zip("backward", s, &MulGrad)?,
                Fn1::Log => g.zip("backward", s, &DivGrad)?,
                Fn1::Sqrt => g.zip("backward", s, &SqrtGrad)?,
                Fn1::Abs => g.zip("backward", s, &AbsGrad)?,
                Fn1::Sin => g.zip("backward", s, &SinGrad)?,
                Fn1::Cos => g.zip("backward", s, &CosGrad)?,
                Fn1::Tanh => g.zip("backward", s, &TanhGrad)?,
                Fn1::Sigmoid => g.zip("backward", s, &SigmoidGrad)?,
                Fn1::Relu => g.zip("backward", s, &ReluGrad)?,
            })
        } else {
            let s = if self.f.uses_output() { ctx.output()? } else { saved_input()?.clone() };
            // create_graph: the same derivatives, composed of recorded ops
            match self.f {
                Fn1::Exp => g.try_mul(&s)?,                                        // d eˣ = eˣ
                Fn1::Log => g.try_div(&s)?,                                        // d ln x = 1/x
                Fn1::Sqrt => g.try_div(&s.try_mul_scalar(2.0)?)?,                  // d √x = 1/(2√x)
                Fn1::Abs => g.try_mul(&sign(&s)?)?,                                // d |x| = sign x
                Fn1::Sin => g.try_mul(&s.cos())?,                                  // d sin x = cos x
                Fn1::Cos => g.try_mul(&s.sin())?.neg(),                            // d cos x = -sin x
                Fn1::Tanh => g.try_mul(&s.try_mul(&s)?.try_rsub_scalar(1.0)?)?,    // 1 - tanh²
                Fn1::Sigmoid => g.try_mul(&s.try_mul(&s.try_rsub_scalar(1.0)?)?)?, // σ(1-σ)
                Fn1::Relu => g.try_mul(&s.gt(0.0).to_dtype(g.dtype()))?,           // 1 where x > 0
            }
        };
        Ok(smallvec![Some(gx)])
    }
}

/// -1, 0 or 1 by the sign of each element (not differentiable), in `x`'s dtype.
fn sign(x: &Tensor) -> Result<Tensor> {
    let d = x.dtype();
    x.gt(0.0).to_dtype(d).try_sub(&x.lt(0.0).to_dtype(d))
}

impl Tensor {
    #[track_caller]
    fn unary(&self, op: &'static str, f: Fn1, k: &impl UnaryKernel) -> Result<Tensor> {
        // borrowed when already float (a clone would cost two locked instructions)
        let x = if self.dtype().is_float() { Cow::Borrowed(self) } else { Cow::Owned(self.try_to_dtype(DType::F32)?) };
        let out = x.raw().map(op, k)?;
        let save_out = f.uses_output();
        record(out, &[&x], save_out, || UnaryBackward { f, x: if save_out { None } else { Some(Saved::new(&x)) } })
    }

    /// Element-wise `eˣ`. `d eˣ/dx = eˣ`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![0.0f64, 1.0], &[2]);
    /// assert_eq!(x.exp().to_vec::<f64>(), vec![1.0, std::f64::consts::E]);
    /// ```
    #[track_caller]
    pub fn exp(&self) -> Tensor {
        or_panic(self.unary("exp", Fn1::Exp, &Exp))
    }

    /// Element-wise natural logarithm. `d ln x/dx = 1/x`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1.0f64], &[1]);
    /// assert_eq!(x.log().item(), 0.0);
    /// ```
    #[track_caller]
    pub fn log(&self) -> Tensor {
        or_panic(self.unary("log", Fn1::Log, &Log))
    }

    /// Element-wise square root. `d √x/dx = 1/(2√x)`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![4.0f32], &[1]);
    /// assert_eq!(x.sqrt().item(), 2.0);
    /// ```
    #[track_caller]
    pub fn sqrt(&self) -> Tensor {
        or_panic(self.unary("sqrt", Fn1::Sqrt, &Sqrt))
    }

    /// Element-wise absolute value. `d |x|/dx = sign(x)` (0 at 0, as PyTorch).
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![-3.0f32], &[1]);
    /// assert_eq!(x.abs().item(), 3.0);
    /// ```
    #[track_caller]
    pub fn abs(&self) -> Tensor {
        or_panic(self.unary("abs", Fn1::Abs, &Abs))
    }

    /// Element-wise sine. `d sin x/dx = cos x`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![0.0f32], &[1]);
    /// assert_eq!(x.sin().item(), 0.0);
    /// ```
    #[track_caller]
    pub fn sin(&self) -> Tensor {
        or_panic(self.unary("sin", Fn1::Sin, &Sin))
    }

    /// Element-wise cosine. `d cos x/dx = -sin x`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![0.0f32], &[1]);
    /// assert_eq!(x.cos().item(), 1.0);
    /// ```
    #[track_caller]
    pub fn cos(&self) -> Tensor {
        or_panic(self.unary("cos", Fn1::Cos, &Cos))
    }

    /// Element-wise hyperbolic tangent. `d tanh(x)/dx = 1 - tanh(x)²`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![0.0f32], &[1]).requires_grad_(true);
    /// let y = x.tanh();
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().item(), 1.0);
    /// ```
    #[track_caller]
    pub fn tanh(&self) -> Tensor {
        or_panic(self.unary("tanh", Fn1::Tanh, &Tanh))
    }

    /// Element-wise logistic function `1/(1+e⁻ˣ)`, stable for large |x|.
    /// `d σ(x)/dx = σ(x)(1 - σ(x))`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![0.0f32, -1000.0], &[2]);
    /// assert_eq!(x.sigmoid().to_vec::<f32>(), vec![0.5, 0.0]);
    /// ```
    #[track_caller]
    pub fn sigmoid(&self) -> Tensor {
        or_panic(self.unary("sigmoid", Fn1::Sigmoid, &Sigmoid))
    }

    /// Element-wise `max(x, 0)`. `d relu(x)/dx = 1 if x > 0 else 0`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![-1.0f32, 2.0], &[2]);
    /// assert_eq!(x.relu().to_vec::<f32>(), vec![0.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn relu(&self) -> Tensor {
        or_panic(self.unary("relu", Fn1::Relu, &Relu))
    }

    /// Limits every element to `[min, max]` (either bound may be `None`).
    /// `d clamp(x)/dx = 1 where min ≤ x ≤ max, else 0`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![-2.0f32, 0.5, 3.0], &[3]);
    /// assert_eq!(x.clamp(Some(-1.0), Some(1.0)).to_vec::<f32>(), vec![-1.0, 0.5, 1.0]);
    /// ```
    #[track_caller]
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Tensor {
        or_panic(self.try_clamp(min, max))
    }

    /// [`Tensor::clamp`], returning dtype errors.
    #[track_caller]
    pub fn try_clamp(&self, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
        struct Clamp(f64, f64);
        impl UnaryKernel for Clamp {
            fn f<T: Float>(&self, x: T) -> T {
                let (lo, hi) = (T::cast(self.0), T::cast(self.1));
                if x < lo {
                    lo
                } else if x > hi {
                    hi
                } else {
                    x
                }
            }
        }
        let (lo, hi) = (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY));
        let out = self.raw().map("clamp", &Clamp(lo, hi))?;
        record(out, &[self], false, || ClampBackward { x: Saved::new(self), lo, hi })
    }

    /// The tensor in another dtype (the same tensor if it already has it). Recorded, so
    /// the gradient comes back in the original dtype.
    ///
    /// ```
    /// use nabla_autograd::{DType, Tensor};
    /// let x = Tensor::ones(&[2]).requires_grad_(true);
    /// let y = x.to_dtype(DType::F64);
    /// (&y * 2.0).sum().backward();
    /// assert_eq!(x.grad().unwrap().dtype(), DType::F32);
    /// ```
    #[track_caller]
    pub fn to_dtype(&self, dtype: DType) -> Tensor {
        or_panic(self.try_to_dtype(dtype))
    }

    /// [`Tensor::to_dtype`], returning errors.
    #[track_caller]
    pub fn try_to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let out = self.raw().to_dtype(dtype);
        if !dtype.is_float() {
            return Ok(Tensor::from_raw(out));
        }
        let from = self.dtype();
        record(out, &[self], false, || ToDtypeBackward { from })
    }
}

struct ClampBackward {
    x: Saved,
    lo: f64,
    hi: f64,
}
impl Backward for ClampBackward {
    fn name(&self) -> &'static str {
        "ClampBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let x = self.x.get(ctx.name())?;
        let d = g.dtype();
        let inside = x.ge(self.lo).to_dtype(d).try_mul(&x.le(self.hi).to_dtype(d))?;
        Ok(smallvec![Some(g.try_mul(&inside)?)])
    }
}

struct ToDtypeBackward {
    from: DType,
}
impl Backward for ToDtypeBackward {
    fn name(&self) -> &'static str {
        "ToCopyBackward"
    }
    fn backward(&self, _ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        Ok(smallvec![Some(g.try_to_dtype(self.from)?)])
    }
    fn has_saved(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::autograd::{gradcheck, gradgradcheck};
    use crate::{DType, Tensor};

    fn x(shape: &[usize], lo: f64, hi: f64) -> Tensor {
        crate::manual_seed(3);
        Tensor::uniform(shape, lo, hi, DType::F64).requires_grad_(true)
    }

    #[test]
    fn gradcheck_every_unary_op() {
        let ops: Vec<(&str, fn(&Tensor) -> Tensor, f64, f64)> = vec![
            ("exp", |t| t.exp(), -2.0, 2.0),
            ("log", |t| t.log(), 0.5, 3.0),
            ("sqrt", |t| t.sqrt(), 0.5, 3.0),
            ("abs", |t| t.abs(), 0.2, 2.0),
            ("sin", |t| t.sin(), -3.0, 3.0),
            ("cos", |t| t.cos(), -3.0, 3.0),
            ("tanh", |t| t.tanh(), -2.0, 2.0),
            ("sigmoid", |t| t.sigmoid(), -4.0, 4.0),
            ("relu", |t| t.relu(), 0.1, 2.0),
            ("clamp", |t| t.clamp(Some(-0.5), Some(0.5)), -1.0, 1.0),
            ("neg", |t| t.neg(), -1.0, 1.0),
            ("pow", |t| t.pow(2.5), 0.5, 2.0),
        ];
        for (name, f, lo, hi) in ops {
            let a = x(&[3, 4], lo, hi);
            // contiguous
            gradcheck(|xs| f(&xs[0]), &[a.clone()]).unwrap_or_else(|e| panic!("{name}: {e}"));
            // non-contiguous: a transposed view of a leaf
            gradcheck(|xs| f(&xs[0].t()), &[a.clone()]).unwrap_or_else(|e| panic!("{name} (transposed): {e}"));
            // narrowed view
            gradcheck(|xs| f(&xs[0].narrow(1, 1, 2)), &[a.clone()])
                .unwrap_or_else(|e| panic!("{name} (narrowed): {e}"));
            // expanded view
            let v = x(&[4], lo, hi);
            gradcheck(|xs| f(&xs[0].expand(&[3, 4])), &[v]).unwrap_or_else(|e| panic!("{name} (expanded): {e}"));
            if name != "relu" && name != "clamp" && name != "abs" {
                gradgradcheck(|xs| f(&xs[0]), &[a]).unwrap_or_else(|e| panic!("{name} second order: {e}"));
            }
        }
    }

    #[test]
    fn cast_returns_gradient_in_input_dtype() {
        let a = Tensor::ones(&[2]).requires_grad_(true);
        let b = Tensor::ones_with(&[2], DType::F64).requires_grad_(true);
        let y = (&a * &b).sum(); // promotes to f64
        assert_eq!(y.dtype(), DType::F64);
        y.backward();
        assert_eq!(a.grad().unwrap().dtype(), DType::F32);
        assert_eq!(b.grad().unwrap().dtype(), DType::F64);
    }

    #[test]
    fn sigmoid_and_tanh_are_finite_at_extremes() {
        let x = Tensor::from_vec(vec![-1000.0f32, 1000.0], &[2]).requires_grad_(true);
        let y = (x.sigmoid() + x.tanh()).sum();
        y.backward();
        assert_eq!(x.sigmoid().to_vec::<f32>(), vec![0.0, 1.0]);
        assert!(x.grad().unwrap().to_vec::<f32>().iter().all(|v| v.is_finite()));
    }
}
