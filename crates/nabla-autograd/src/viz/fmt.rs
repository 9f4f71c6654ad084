//! Numbers and small tensors as a person writes them: `-4`, `0.5`, `[[1, 2], [3, 4]]`.

use crate::tensor::Tensor;
use nabla_tensor::DType;
use std::fmt;

/// Tensors up to this many elements show their values in graphs and transcripts.
pub(crate) const SHOW_VALUES: usize = 16;
/// Values are copied out of tensors up to this size (the HTML page shows the first ones).
pub(crate) const KEEP_VALUES: usize = 4096;

/// A tensor's shape and dtype, and its values when it is small enough to keep them.
///
/// `Display` writes the values as nested lists (`[[1, 2], [3, 4]]`, a scalar as `-4`),
/// or the shape when the values were not kept.
///
/// ```
/// use nabla_autograd::{viz::Values, Tensor};
/// let v = Values::of(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]));
/// assert_eq!(v.to_string(), "[[1, 2], [3, 4]]");
/// assert_eq!(Values::of(&Tensor::scalar(-4.0f64)).to_string(), "-4");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Values {
    /// The tensor's shape.
    pub shape: Vec<usize>,
    /// The tensor's element type (numbers are printed at its precision).
    pub dtype: DType,
    /// The elements in row-major order, as f64, when there are at most 16 of them.
    pub data: Option<Vec<f64>>,
}

impl Values {
    /// The values of `t` (kept only for tensors of at most 16 elements).
    pub fn of(t: &Tensor) -> Values {
        Values::of_limit(t, SHOW_VALUES)
    }

    pub(crate) fn of_limit(t: &Tensor, limit: usize) -> Values {
        let data = (t.numel() <= limit).then(|| t.to_vec::<f64>());
        Values { shape: t.shape().to_vec(), dtype: t.dtype(), data }
    }

    pub(crate) fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The single value of a one-element tensor.
    pub fn scalar(&self) -> Option<f64> {
        match &self.data {
            Some(d) if d.len() == 1 => Some(d[0]),
            _ => None,
        }
    }

    /// The values if there are at most [`SHOW_VALUES`] of them.
    pub(crate) fn small(&self) -> Option<&[f64]> {
        self.data.as_deref().filter(|d| d.len() <= SHOW_VALUES)
    }
}

impl fmt::Display for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.small() {
            Some(d) => f.write_str(&nested(d, &self.shape, self.dtype)),
            None => write!(f, "<{} {}>", shape_str(&self.shape), self.dtype),
        }
    }
}

/// One number, at the precision of `dtype`, short: `-4`, `0.5`, `0.1235`, `1.5e-7`.
pub(crate) fn num(v: f64, dtype: DType) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    let exact = if dtype == DType::F32 { format!("{}", v as f32) } else { format!("{v}") };
    if exact.len() <= 7 {
        return exact;
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        return format!("{v:.3e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// A number as a factor in a product: negatives in parentheses (`1 · (-4)`).
pub(crate) fn factor(v: f64, dtype: DType) -> String {
    let s = num(v, dtype);
    if s.starts_with('-') {
        format!("({s})")
    } else {
        s
    }
}

/// Values in nested brackets following `shape` (a scalar as a bare number).
pub(crate) fn nested(data: &[f64], shape: &[usize], dtype: DType) -> String {
    if shape.is_empty() {
        return data.first().map(|v| num(*v, dtype)).unwrap_or_default();
    }
    let mut out = String::new();
    let inner: usize = shape[1..].iter().product();
    out.push('[');
    for i in 0..shape[0] {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&nested(&data[i * inner..(i + 1) * inner], &shape[1..], dtype));
    }
    out.push(']');
    out
}

/// `[2, 3]`, `[]` for scalars.
pub(crate) fn shape_str(shape: &[usize]) -> String {
    format!("{shape:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_exact_when_possible() {
        assert_eq!(num(-4.0, DType::F64), "-4");
        assert_eq!(num(0.5, DType::F32), "0.5");
        assert_eq!(num(0.1f32 as f64, DType::F32), "0.1");
        assert_eq!(num(1.0 / 3.0, DType::F64), "0.3333");
        assert_eq!(num(1.5e-7, DType::F64), "1.500e-7");
        assert_eq!(num(123456789.0, DType::F64), "1.235e8");
        assert_eq!(num(-0.00001, DType::F64), "-1.000e-5");
        assert_eq!(factor(-4.0, DType::F64), "(-4)");
        assert_eq!(nested(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], DType::F64), "[[1, 2, 3], [4, 5, 6]]");
        assert_eq!(nested(&[7.0], &[], DType::F64), "7");
    }
}
