//! Element-wise binary operations with PyTorch broadcasting: `+ - * /`, `pow`,
//! `maximum`/`minimum`, comparisons and `where_`. Gradients are summed back to each
//! input's shape (`sum_to`) when it was broadcast.

use crate::graph::{Backward, BackwardCtx, Grads, Saved};
use crate::ops::reduce::sum_to_owned;
use crate::ops::{or_panic, record};
use crate::tensor::Tensor;
use nabla_tensor::elementwise::{BinaryKernel, CmpOp, UnaryKernel};
use nabla_tensor::layout::same_shape;
use nabla_tensor::{DType, Error, Float, RawTensor, Result, Shape};
use smallvec::smallvec;
use std::borrow::Cow;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A plain number usable as an operand next to a tensor (`&x * 2.0`, `&x + 1`); it takes
/// the tensor's dtype.
pub trait Scalar: Copy {
    /// The value as f64.
    fn to_f64(self) -> f64;
    /// Whether the number is an integer type (`arange` makes int64 tensors from these).
    const IS_INT: bool;
}
impl Scalar for f32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    const IS_INT: bool = false;
}
impl Scalar for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    const IS_INT: bool = false;
}
impl Scalar for i32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    const IS_INT: bool = true;
}
impl Scalar for i64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    const IS_INT: bool = true;
}
impl Scalar for u32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    const IS_INT: bool = true;
}
impl Scalar for usize {
    fn to_f64(self) -> f64 {
        self as f64
    }
    const IS_INT: bool = true;
}

/// The second operand of comparisons, `maximum` and `minimum`: a tensor or a number.
pub trait Operand {
    /// The operand as a tensor of `like`'s dtype.
    fn to_tensor(&self, like: &Tensor) -> Tensor;
}
impl Operand for &Tensor {
    fn to_tensor(&self, _like: &Tensor) -> Tensor {
        (*self).clone()
    }
}
impl Operand for Tensor {
    fn to_tensor(&self, _like: &Tensor) -> Tensor {
        self.clone()
    }
}
impl<S: Scalar> Operand for S {
    fn to_tensor(&self, like: &Tensor) -> Tensor {
        Tensor::full_with(&[], self.to_f64(), if like.dtype().is_float() { like.dtype() } else { DType::F64 })
    }
}

/// Casts both operands to the dtype they compute in (PyTorch promotion); casts of
/// tensors that require grad are recorded, so gradients return in each input's dtype.
///
/// Operands already in that dtype are borrowed, not cloned (a clone is a reference count
/// taken and released: two locked instructions per operand on every op).
#[track_caller]
#[inline(always)]
pub(crate) fn promote<'a, 'b>(
    op: &'static str,
    a: &'a Tensor,
    b: &'b Tensor,
) -> Result<(Cow<'a, Tensor>, Cow<'b, Tensor>)> {
    let (da, db) = (a.dtype(), b.dtype());
    if da == db && da.is_float() {
        return Ok((Cow::Borrowed(a), Cow::Borrowed(b)));
    }
    promote_cast(op, a, b)
}

/// [`promote`] when a cast is needed (or the dtypes are not floating-point): out of line, so
/// that the common case inlined into every binary op is two compares.
#[cold]
#[track_caller]
fn promote_cast<'a, 'b>(op: &'static str, a: &'a Tensor, b: &'b Tensor) -> Result<(Cow<'a, Tensor>, Cow<'b, Tensor>)> {
    let (da, db) = (a.dtype(), b.dtype());
    let d = DType::promote(da, db);
    let d = if d.is_float() {
        d
    } else {
        return Err(Error::DType {
            op,
            msg: format!(
                "expected floating-point tensors, got {} and {}; convert with to_dtype(DType::F32)",
                a.dtype(),
                b.dtype()
            ),
        });
    };
    let cast = |t: &Tensor| (t.dtype() != d).then(|| t.try_to_dtype(d)).transpose();
    let (ca, cb) = (cast(a)?, cast(b)?);
    Ok((ca.map_or(Cow::Borrowed(a), Cow::Owned), cb.map_or(Cow::Borrowed(b), Cow::Owned)))
}

macro_rules! kernel2 {
    ($name:ident, |$a:ident, $b:ident| $e:expr) => {
        #[doc(hidden)]
        pub struct $name;
        impl BinaryKernel for $name {
            #[inline(always)]
            fn f<T: Float>(&self, $a: T, $b: T) -> T {
                $e
            }
        }
    };
}
kernel2!(AddKernel, |a, b| a + b);
kernel2!(SubKernel, |a, b| a - b);
kernel2!(MulKernel, |a, b| a * b);
kernel2!(DivKernel, |a, b| a / b);
kernel2!(PowKernel, |a, b| a.powf(b));
kernel2!(MaxKernel, |a, b| if a > b || a.is_nan() { a } else { b });
kernel2!(MinKernel, |a, b| if a < b || a.is_nan() { a } else { b });

/// `x op s` for a scalar `s`.
/// `x ∘ s` for a number `s`; the operation is a const parameter so that each one compiles
/// to its own vectorised loop (a run-time `match` per element was 4× slower).
pub(crate) struct ScalarKernel<const OP: u8> {
    pub(crate) s: f64,
}
impl<const OP: u8> UnaryKernel for ScalarKernel<OP> {
    #[inline(always)]
    fn f<T: Float>(&self, x: T) -> T {
        let s = T::cast(self.s);
        match OP {
            b'+' => x + s,
            b'*' => x * s,
            b'r' => s - x,
            b'/' => s / x,
            b'^' => x.powf(s),
            _ => unreachable!(),
        }
    }
}

// ---- backward rules --------------------------------------------------------------------

/// An input's shape as a rule that reduces the gradient to it keeps it: `None` where it is
/// the output's (nearly always), so that no copy of it is made and the gradient passes on
/// as it is.
type InputShape = Option<Shape>;

/// The gradient reduced to an input of shape `s` ([`InputShape`]).
fn to_input(g: &Tensor, s: &InputShape) -> Result<Tensor> {
    match s {
        None => Ok(g.clone()),
        Some(s) => g.try_sum_to(s),
    }
}

/// [`to_input`], taking the gradient.
fn to_input_owned(g: Tensor, s: &InputShape) -> Result<Tensor> {
    match s {
        None => Ok(g),
        Some(s) => sum_to_owned(g, s),
    }
}

struct AddBackward {
    a: InputShape,
    b: InputShape,
}
impl Backward for AddBackward {
    fn name(&self) -> &'static str {
        "AddBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let ga = if ctx.needs_input_grad(0) { Some(to_input(g, &self.a)?) } else { None };
        let gb = if ctx.needs_input_grad(1) { Some(to_input(g, &self.b)?) } else { None };
        Ok(smallvec![ga, gb])
    }
    fn backward_owned(&self, ctx: &BackwardCtx<'_>, g: Tensor) -> Result<Grads> {
        // the second input gets the gradient itself (where its shape is the output's)
        let ga = if ctx.needs_input_grad(0) { Some(to_input(&g, &self.a)?) } else { None };
        let gb = if ctx.needs_input_grad(1) { Some(to_input_owned(g, &self.b)?) } else { None };
        Ok(smallvec![ga, gb])
    }
    fn has_saved(&self) -> bool {
        false
    }
}

struct SubBackward {
    a: InputShape,
    b: InputShape,
}
impl Backward for SubBackward {
    fn name(&self) -> &'static str {
        "SubBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let ga = if ctx.needs_input_grad(0) { Some(to_input(g, &self.a)?) } else { None };
        let gb = if ctx.needs_input_grad(1) { Some(to_input(g, &self.b)?.neg()) } else { None };
        Ok(smallvec![ga, gb])
    }
    fn backward_owned(&self, ctx: &BackwardCtx<'_>, g: Tensor) -> Result<Grads> {
        // the first input gets the gradient itself (where its shape is the output's)
        let gb = if ctx.needs_input_grad(1) { Some(to_input(&g, &self.b)?.neg()) } else { None };
        let ga = if ctx.needs_input_grad(0) { Some(to_input_owned(g, &self.a)?) } else { None };
        Ok(smallvec![ga, gb])
    }
    fn has_saved(&self) -> bool {
        false
    }
}

struct MulBackward {
    a: Saved,
    b: Saved,
}
impl Backward for MulBackward {
    fn name(&self) -> &'static str {
        "MulBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let (a, b) = (self.a.get(ctx.name())?, self.b.get(ctx.name())?);
        // Without create_graph nothing is recorded: the products go straight to the kernel.
        let times = |x: &Tensor| {
            if crate::grad_mode::is_grad_enabled() {
                g.try_mul(x)
            } else {
                crate::ops::unary::fused(g, x, &MulKernel)
            }
        };
        let ga = if ctx.needs_input_grad(0) { Some(sum_to_owned(times(b)?, a.shape())?) } else { None };
        let gb = if ctx.needs_input_grad(1) { Some(sum_to_owned(times(a)?, b.shape())?) } else { None };
        Ok(smallvec![ga, gb])
    }
}

struct DivBackward {
    a: Saved,
    b: Saved,
}
impl Backward for DivBackward {
    fn name(&self) -> &'static str {
        "DivBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let (a, b) = (self.a.get(ctx.name())?, self.b.get(ctx.name())?);
        let gb_full = g.try_div(b)?;
        let gb = if ctx.needs_input_grad(1) {
            // d(a/b)/db = -a / b²
            Some(gb_full.try_mul(a)?.try_div(b)?.neg().try_sum_to(b.shape())?)
        } else {
            None
        };
        let ga = if ctx.needs_input_grad(0) { Some(gb_full.try_sum_to(a.shape())?) } else { None };
        Ok(smallvec![ga, gb])
    }
}

struct PowBackward {
    a: Saved,
    b: Saved,
}
impl Backward for PowBackward {
    fn name(&self) -> &'static str {
        "PowBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let (a, b) = (self.a.get(ctx.name())?, self.b.get(ctx.name())?);
        let ga = if ctx.needs_input_grad(0) {
            // d(a^b)/da = b · a^(b-1)
            Some(sum_to_owned(g.try_mul(&b.try_mul(&a.try_pow_tensor(&(b - 1.0))?)?)?, a.shape())?)
        } else {
            None
        };
        let gb = if ctx.needs_input_grad(1) {
            // d(a^b)/db = a^b · ln a, taken as 0 where a = 0 (the limit for b > 0)
            let out = ctx.output()?;
            let safe = a.where_like(&a.ne(0.0), &Tensor::ones_like(a))?;
            let d = out.try_mul(&safe.log())?;
            Some(sum_to_owned(g.try_mul(&d)?, b.shape())?)
        } else {
            None
        };
        Ok(smallvec![ga, gb])
    }
}

struct ExtremumBackward {
    a: Saved,
    b: Saved,
    max: bool,
}
impl Backward for ExtremumBackward {
    fn name(&self) -> &'static str {
        if self.max {
            "MaximumBackward"
        } else {
            "MinimumBackward"
        }
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let (a, b) = (self.a.get(ctx.name())?, self.b.get(ctx.name())?);
        // The winner takes the gradient; ties share it equally (as PyTorch).
        let wins = if self.max { a.gt(b) } else { a.lt(b) };
        let ties = a.eq(b);
        let wa = wins.to_dtype(g.dtype()).try_add(&ties.to_dtype(g.dtype()).try_mul_scalar(0.5)?)?;
        let ga = if ctx.needs_input_grad(0) { Some(sum_to_owned(g.try_mul(&wa)?, a.shape())?) } else { None };
        let gb = if ctx.needs_input_grad(1) {
            Some(sum_to_owned(g.try_mul(&wa.try_rsub_scalar(1.0)?)?, b.shape())?)
        } else {
            None
        };
        Ok(smallvec![ga, gb])
    }
}

struct ScalarBackward {
    op: u8,
    s: f64,
    x: Option<Saved>,
}
impl Backward for ScalarBackward {
    fn name(&self) -> &'static str {
        match self.op {
            b'+' => "AddBackward",
            b'*' => "MulBackward",
            b'r' => "RsubBackward",
            b'/' => "RdivBackward",
            _ => "PowBackward",
        }
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let gx = match self.op {
            b'+' => g.clone(),
            b'*' => g.try_mul_scalar(self.s)?,
            b'r' => g.neg(),
            b'/' => {
                // d(s/x)/dx = -s/x² = -out/x
                let x = self.x.as_ref().expect("saved").get(ctx.name())?;
                g.try_mul(&ctx.output()?)?.try_div(x)?.neg()
            }
            _ => {
                // d(x^p)/dx = p · x^(p-1)
                let x = self.x.as_ref().expect("saved").get(ctx.name())?;
                if self.s == 0.0 {
                    g.try_mul_scalar(0.0)?
                } else {
                    g.try_mul(&x.try_pow(self.s - 1.0)?.try_mul_scalar(self.s)?)?
                }
            }
        };
        Ok(smallvec![Some(gx)])
    }
    fn has_saved(&self) -> bool {
        self.x.is_some()
    }
}

// ---- forward ---------------------------------------------------------------------------

fn binary_raw(op: &'static str, a: &Tensor, b: &Tensor, k: &impl BinaryKernel) -> Result<RawTensor> {
    a.raw().zip(op, b.raw(), k)
}

impl Tensor {
    /// Element-wise sum with broadcasting. `d(a+b)/da = 1`, `d(a+b)/db = 1` (summed over
    /// broadcast dimensions).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]);
    /// let b = Tensor::from_vec(vec![10.0f32, 20.0, 30.0], &[3]);
    /// assert_eq!(a.add(&b).to_vec::<f32>(), vec![11.0, 21.0, 31.0, 12.0, 22.0, 32.0]);
    /// ```
    #[track_caller]
    pub fn add(&self, other: &Tensor) -> Tensor {
        or_panic(self.try_add(other))
    }

    /// [`Tensor::add`], returning shape errors.
    #[track_caller]
    pub fn try_add(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = promote("add", self, other)?;
        let out = binary_raw("add", &a, &b, &AddKernel)?;
        let (ea, eb) = (same_shape(a.shape(), out.shape()), same_shape(b.shape(), out.shape()));
        record(out, &[&a, &b], false, || AddBackward {
            a: (!ea).then(|| Shape::from_slice(a.shape())),
            b: (!eb).then(|| Shape::from_slice(b.shape())),
        })
    }

    /// Element-wise difference with broadcasting. `d(a-b)/da = 1`, `d(a-b)/db = -1`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let a = Tensor::from_vec(vec![5.0f32, 7.0], &[2]);
    /// assert_eq!(a.sub(&Tensor::ones(&[2])).to_vec::<f32>(), vec![4.0, 6.0]);
    /// ```
    #[track_caller]
    pub fn sub(&self, other: &Tensor) -> Tensor {
        or_panic(self.try_sub(other))
    }

    /// [`Tensor::sub`], returning shape errors.
    #[track_caller]
    pub fn try_sub(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = promote("sub", self, other)?;
        let out = binary_raw("sub", &a, &b, &SubKernel)?;
        let (ea, eb) = (same_shape(a.shape(), out.shape()), same_shape(b.shape(), out.shape()));
        record(out, &[&a, &b], false, || SubBackward {
            a: (!ea).then(|| Shape::from_slice(a.shape())),
            b: (!eb).then(|| Shape::from_slice(b.shape())),
        })
    }

    /// Element-wise product with broadcasting. `d(a·b)/da = b`, `d(a·b)/db = a`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let a = Tensor::from_vec(vec![2.0f32, 3.0], &[2]);
    /// assert_eq!(a.mul(&a).to_vec::<f32>(), vec![4.0, 9.0]);
    /// ```
    #[track_caller]
    pub fn mul(&self, other: &Tensor) -> Tensor {
        or_panic(self.try_mul(other))
    }

    /// [`Tensor::mul`], returning shape errors.
    #[track_caller]
    pub fn try_mul(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = promote("mul", self, other)?;
        let out = binary_raw("mul", &a, &b, &MulKernel)?;
        record(out, &[&a, &b], false, || MulBackward { a: Saved::new(&a), b: Saved::new(&b) })
    }

    /// Element-wise quotient with broadcasting. `d(a/b)/da = 1/b`, `d(a/b)/db = -a/b²`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 3.0], &[2]);
    /// assert_eq!(a.div(&Tensor::full(&[2], 2.0)).to_vec::<f32>(), vec![0.5, 1.5]);
    /// ```
    #[track_caller]
    pub fn div(&self, other: &Tensor) -> Tensor {
        or_panic(self.try_div(other))
    }

    /// [`Tensor::div`], returning shape errors.
    #[track_caller]
    pub fn try_div(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = promote("div", self, other)?;
        let out = binary_raw("div", &a, &b, &DivKernel)?;
        record(out, &[&a, &b], false, || DivBackward { a: Saved::new(&a), b: Saved::new(&b) })
    }

    /// Element-wise power with a tensor exponent. `d(a^b)/da = b·a^(b-1)`,
    /// `d(a^b)/db = a^b·ln a` (0 where `a = 0`).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let a = Tensor::from_vec(vec![2.0f32, 3.0], &[2]);
    /// assert_eq!(a.pow_tensor(&Tensor::full(&[2], 2.0)).to_vec::<f32>(), vec![4.0, 9.0]);
    /// ```
    #[track_caller]
    pub fn pow_tensor(&self, exponent: &Tensor) -> Tensor {
        or_panic(self.try_pow_tensor(exponent))
    }

    /// [`Tensor::pow_tensor`], returning shape errors.
    #[track_caller]
    pub fn try_pow_tensor(&self, exponent: &Tensor) -> Result<Tensor> {
        let (a, b) = promote("pow", self, exponent)?;
        let out = binary_raw("pow", &a, &b, &PowKernel)?;
        record(out, &[&a, &b], true, || PowBackward { a: Saved::new(&a), b: Saved::new(&b) })
    }

    /// Element-wise power with a scalar exponent. `d(x^p)/dx = p·x^(p-1)`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::from_vec(vec![2.0f64], &[1]).requires_grad_(true);
    /// let y = x.pow(3.0).sum();
    /// y.backward();
    /// assert_eq!(x.grad().unwrap().item(), 12.0);
    /// ```
    #[track_caller]
    pub fn pow<S: Scalar>(&self, exponent: S) -> Tensor {
        or_panic(self.try_pow(exponent.to_f64()))
    }

    /// [`Tensor::pow`], returning dtype errors.
    #[track_caller]
    pub fn try_pow(&self, p: f64) -> Result<Tensor> {
        self.scalar_op("pow", b'^', p)
    }

    /// Element-wise maximum of two tensors (or a tensor and a number), with broadcasting.
    /// The gradient goes to the larger input; ties share it equally.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 5.0], &[2]);
    /// assert_eq!(a.maximum(3.0).to_vec::<f32>(), vec![3.0, 5.0]);
    /// ```
    #[track_caller]
    pub fn maximum<O: Operand>(&self, other: O) -> Tensor {
        or_panic(self.try_extremum(&other.to_tensor(self), true))
    }

    /// Element-wise minimum; see [`Tensor::maximum`].
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 5.0], &[2]);
    /// assert_eq!(a.minimum(3.0).to_vec::<f32>(), vec![1.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn minimum<O: Operand>(&self, other: O) -> Tensor {
        or_panic(self.try_extremum(&other.to_tensor(self), false))
    }

    /// [`Tensor::maximum`] (`max = true`) or [`Tensor::minimum`], returning shape errors.
    #[track_caller]
    pub fn try_extremum(&self, other: &Tensor, max: bool) -> Result<Tensor> {
        let op = if max { "maximum" } else { "minimum" };
        let (a, b) = promote(op, self, other)?;
        let out = if max { binary_raw(op, &a, &b, &MaxKernel)? } else { binary_raw(op, &a, &b, &MinKernel)? };
        record(out, &[&a, &b], false, || ExtremumBackward { a: Saved::new(&a), b: Saved::new(&b), max })
    }

    #[track_caller]
    pub(crate) fn scalar_op(&self, op: &'static str, code: u8, s: f64) -> Result<Tensor> {
        let x = if self.dtype().is_float() { self.clone() } else { self.try_to_dtype(DType::F32)? };
        let raw = x.raw();
        let out = match code {
            b'+' => raw.map(op, &ScalarKernel::<b'+'> { s }),
            b'*' => raw.map(op, &ScalarKernel::<b'*'> { s }),
            b'r' => raw.map(op, &ScalarKernel::<b'r'> { s }),
            b'/' => raw.map(op, &ScalarKernel::<b'/'> { s }),
            _ => raw.map(op, &ScalarKernel::<b'^'> { s }),
        }?;
        let save_x = matches!(code, b'/' | b'^');
        record(out, &[&x], code == b'/', || ScalarBackward {
            op: code,
            s,
            x: if save_x { Some(Saved::new(&x)) } else { None },
        })
    }

    /// `self + s` for a number `s`.
    #[track_caller]
    pub fn try_add_scalar(&self, s: f64) -> Result<Tensor> {
        self.scalar_op("add", b'+', s)
    }

    /// `self * s` for a number `s`.
    #[track_caller]
    pub fn try_mul_scalar(&self, s: f64) -> Result<Tensor> {
        self.scalar_op("mul", b'*', s)
    }

    /// `s - self` for a number `s`.
    #[track_caller]
    pub fn try_rsub_scalar(&self, s: f64) -> Result<Tensor> {
        self.scalar_op("rsub", b'r', s)
    }

    /// `s / self` for a number `s`.
    #[track_caller]
    pub fn try_rdiv_scalar(&self, s: f64) -> Result<Tensor> {
        self.scalar_op("rdiv", b'/', s)
    }

    /// Negation. `d(-x)/dx = -1`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1.0f32, -2.0], &[2]);
    /// assert_eq!(x.neg().to_vec::<f32>(), vec![-1.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn neg(&self) -> Tensor {
        or_panic(self.try_mul_scalar(-1.0))
    }

    fn compare_op(&self, op: &'static str, other: &Tensor, cmp: CmpOp) -> Result<Tensor> {
        Ok(Tensor::from_raw(self.raw().compare(op, other.raw(), cmp)?))
    }

    /// Element-wise `self == other` as a boolean mask (not differentiable).
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    /// assert_eq!(x.eq(2.0).to_vec::<bool>(), vec![false, true]);
    /// ```
    #[track_caller]
    pub fn eq<O: Operand>(&self, other: O) -> Tensor {
        or_panic(self.compare_op("eq", &other.to_tensor(self), CmpOp::Eq))
    }

    /// Element-wise `self != other` as a boolean mask.
    #[track_caller]
    pub fn ne<O: Operand>(&self, other: O) -> Tensor {
        or_panic(self.compare_op("ne", &other.to_tensor(self), CmpOp::Ne))
    }

    /// Element-wise `self < other` as a boolean mask.
    #[track_caller]
    pub fn lt<O: Operand>(&self, other: O) -> Tensor {
        or_panic(self.compare_op("lt", &other.to_tensor(self), CmpOp::Lt))
    }

    /// Element-wise `self <= other` as a boolean mask.
    #[track_caller]
    pub fn le<O: Operand>(&self, other: O) -> Tensor {
        or_panic(self.compare_op("le", &other.to_tensor(self), CmpOp::Le))
    }

    /// Element-wise `self > other` as a boolean mask.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![-1.0f32, 2.0], &[2]);
    /// assert_eq!(x.gt(0).to_vec::<bool>(), vec![false, true]);
    /// ```
    #[track_caller]
    pub fn gt<O: Operand>(&self, other: O) -> Tensor {
        or_panic(self.compare_op("gt", &other.to_tensor(self), CmpOp::Gt))
    }

    /// Element-wise `self >= other` as a boolean mask.
    #[track_caller]
    pub fn ge<O: Operand>(&self, other: O) -> Tensor {
        or_panic(self.compare_op("ge", &other.to_tensor(self), CmpOp::Ge))
    }

    /// `mask ? self : other` (shorthand used by rules; see [`Tensor::where_`]).
    pub(crate) fn where_like(&self, mask: &Tensor, other: &Tensor) -> Result<Tensor> {
        Tensor::try_where_(mask, self, other)
    }

    /// Selects `a` where `mask` is true and `b` elsewhere, with broadcasting.
    /// `d/da = mask`, `d/db = !mask`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::from_vec(vec![-1.0f32, 2.0], &[2]);
    /// let y = Tensor::where_(&x.gt(0.0), &x, &Tensor::zeros(&[2]));
    /// assert_eq!(y.to_vec::<f32>(), vec![0.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn where_(mask: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
        or_panic(Tensor::try_where_(mask, a, b))
    }

    /// [`Tensor::where_`], returning shape and dtype errors.
    #[track_caller]
    pub fn try_where_(mask: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let (a, b) = promote("where", a, b)?;
        let out = RawTensor::where_cond(mask.raw(), a.raw(), b.raw())?;
        let mask = mask.clone();
        record(out, &[&a, &b], false, || WhereBackward {
            mask,
            a: Shape::from_slice(a.shape()),
            b: Shape::from_slice(b.shape()),
        })
    }
}

struct WhereBackward {
    mask: Tensor,
    a: Shape,
    b: Shape,
}
impl Backward for WhereBackward {
    fn name(&self) -> &'static str {
        "WhereBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let zero = Tensor::zeros_with(&[], g.dtype());
        let ga = if ctx.needs_input_grad(0) {
            Some(sum_to_owned(Tensor::try_where_(&self.mask, g, &zero)?, &self.a)?)
        } else {
            None
        };
        let gb = if ctx.needs_input_grad(1) {
            Some(sum_to_owned(Tensor::try_where_(&self.mask, &zero, g)?, &self.b)?)
        } else {
            None
        };
        Ok(smallvec![ga, gb])
    }
}

// ---- operators -------------------------------------------------------------------------

macro_rules! tensor_ops {
    ($trait:ident, $method:ident, $f:ident) => {
        impl $trait<&Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$f(self, rhs)
            }
        }
        impl $trait<Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$f(self, &rhs)
            }
        }
        impl $trait<&Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$f(&self, rhs)
            }
        }
        impl $trait<Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$f(&self, &rhs)
            }
        }
    };
}
tensor_ops!(Add, add, add);
tensor_ops!(Sub, sub, sub);
tensor_ops!(Mul, mul, mul);
tensor_ops!(Div, div, div);

macro_rules! scalar_rhs {
    ($trait:ident, $method:ident, |$x:ident, $s:ident| $e:expr) => {
        impl<S: Scalar> $trait<S> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: S) -> Tensor {
                let ($x, $s) = (self, rhs.to_f64());
                or_panic($e)
            }
        }
        impl<S: Scalar> $trait<S> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: S) -> Tensor {
                let ($x, $s) = (&self, rhs.to_f64());
                or_panic($e)
            }
        }
    };
}
scalar_rhs!(Add, add, |x, s| x.try_add_scalar(s));
scalar_rhs!(Sub, sub, |x, s| x.try_add_scalar(-s));
scalar_rhs!(Mul, mul, |x, s| x.try_mul_scalar(s));
scalar_rhs!(Div, div, |x, s| x.try_mul_scalar(1.0 / s));

macro_rules! scalar_lhs {
    ($($t:ty),*) => {$(
        impl Add<&Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn add(self, rhs: &Tensor) -> Tensor { or_panic(rhs.try_add_scalar(self as f64)) }
        }
        impl Add<Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn add(self, rhs: Tensor) -> Tensor { or_panic(rhs.try_add_scalar(self as f64)) }
        }
        impl Sub<&Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn sub(self, rhs: &Tensor) -> Tensor { or_panic(rhs.try_rsub_scalar(self as f64)) }
        }
        impl Sub<Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn sub(self, rhs: Tensor) -> Tensor { or_panic(rhs.try_rsub_scalar(self as f64)) }
        }
        impl Mul<&Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn mul(self, rhs: &Tensor) -> Tensor { or_panic(rhs.try_mul_scalar(self as f64)) }
        }
        impl Mul<Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn mul(self, rhs: Tensor) -> Tensor { or_panic(rhs.try_mul_scalar(self as f64)) }
        }
        impl Div<&Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn div(self, rhs: &Tensor) -> Tensor { or_panic(rhs.try_rdiv_scalar(self as f64)) }
        }
        impl Div<Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn div(self, rhs: Tensor) -> Tensor { or_panic(rhs.try_rdiv_scalar(self as f64)) }
        }
    )*};
}
// Only f64 and i32 on the left, so that unsuffixed literals (`2.0 * &x`, `1 - &x`) infer
// without annotations; write `f64::from(v) * &x` for an f32 variable `v`.
scalar_lhs!(f64, i32);

impl Neg for &Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}
impl Neg for Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        Tensor::neg(&self)
    }
}

#[cfg(test)]
mod tests {
    use crate::autograd::{gradcheck, gradgradcheck};
    use crate::{DType, Tensor};

    fn u(shape: &[usize], lo: f64, hi: f64) -> Tensor {
        Tensor::uniform(shape, lo, hi, DType::F64).requires_grad_(true)
    }

    #[test]
    fn gradcheck_binary_ops_with_broadcasting() {
        crate::manual_seed(5);
        let ops: Vec<(&str, fn(&Tensor, &Tensor) -> Tensor)> = vec![
            ("add", |a, b| a + b),
            ("sub", |a, b| a - b),
            ("mul", |a, b| a * b),
            ("div", |a, b| a / b),
            ("pow", |a, b| a.pow_tensor(b)),
            ("maximum", |a, b| a.maximum(b)),
            ("minimum", |a, b| a.minimum(b)),
        ];
        let shapes: [(&[usize], &[usize]); 4] =
            [(&[3, 4], &[3, 4]), (&[3, 4], &[4]), (&[3, 1], &[1, 4]), (&[2, 3, 4], &[3, 1])];
        for (name, f) in &ops {
            for (sa, sb) in shapes {
                let (a, b) = (u(sa, 0.5, 2.0), u(sb, 0.5, 2.0));
                gradcheck(|xs| f(&xs[0], &xs[1]), &[a.clone(), b.clone()])
                    .unwrap_or_else(|e| panic!("{name} {sa:?} {sb:?}: {e}"));
                if !name.starts_with("m") || *name == "mul" {
                    gradgradcheck(|xs| f(&xs[0], &xs[1]), &[a, b])
                        .unwrap_or_else(|e| panic!("{name} 2nd {sa:?} {sb:?}: {e}"));
                }
            }
            // non-contiguous operands: transposed and expanded views of leaves
            let (a, b) = (u(&[4, 3], 0.5, 2.0), u(&[3], 0.5, 2.0));
            gradcheck(|xs| f(&xs[0].t(), &xs[1].unsqueeze(1).expand(&[3, 4])), &[a, b])
                .unwrap_or_else(|e| panic!("{name} strided: {e}"));
        }
    }

    #[test]
    fn gradcheck_scalar_ops_and_where() {
        crate::manual_seed(6);
        let a = u(&[2, 3], 0.5, 2.0);
        gradcheck(|xs| &xs[0] * 3.0 + 1.0, &[a.clone()]).unwrap();
        gradcheck(|xs| 2.0 - &xs[0], &[a.clone()]).unwrap();
        gradcheck(|xs| 2.0 / &xs[0], &[a.clone()]).unwrap();
        gradgradcheck(|xs| 2.0 / &xs[0], &[a.clone()]).unwrap();
        gradcheck(|xs| &xs[0] / 4.0 - 1.0, &[a.clone()]).unwrap();
        let b = u(&[3], -1.0, 1.0);
        let mask = Tensor::from_vec(vec![true, false, true, false, true, false], &[2, 3]);
        gradcheck(|xs| Tensor::where_(&mask, &xs[0], &xs[1]), &[a, b]).unwrap();
    }

    #[test]
    fn broadcast_error_names_sizes_and_dimension() {
        let e = Tensor::zeros(&[2, 16]).try_add(&Tensor::zeros(&[2, 3])).unwrap_err();
        assert!(
            e.to_string()
                .contains("The size of tensor a (16) must match the size of tensor b (3) at non-singleton dimension 1"),
            "{e}"
        );
    }

    #[test]
    fn scalar_operands_take_the_tensor_dtype() {
        let x = Tensor::ones_with(&[2], DType::F64);
        assert_eq!((&x * 2.0).dtype(), DType::F64);
        assert_eq!((&x + 1).to_vec::<f64>(), vec![2.0, 2.0]);
        assert_eq!((2.0 * &x).to_vec::<f64>(), vec![2.0, 2.0]);
        assert_eq!((1 - &x).to_vec::<f64>(), vec![0.0, 0.0]);
    }
}
