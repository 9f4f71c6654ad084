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
}

impl Float for f32 {}
impl Float for f64 {}
