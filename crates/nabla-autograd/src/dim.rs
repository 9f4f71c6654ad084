//! Dimension arguments that may be negative, as in PyTorch (`-1` is the last dimension).

use nabla_tensor::{Error, Result};

/// A dimension index: `usize` or a signed integer counted from the end when negative.
///
/// ```
/// use nabla_autograd::Dim;
/// assert_eq!((-1i32).to_index(3, "sum").unwrap(), 2);
/// assert_eq!(1usize.to_index(3, "sum").unwrap(), 1);
/// assert!(3i64.to_index(3, "sum").is_err());
/// ```
pub trait Dim: Copy {
    /// The dimension as an index in `0..ndim`, or [`Error::DimOutOfRange`].
    fn to_index(self, ndim: usize, op: &'static str) -> Result<usize>;
}

fn resolve(d: i64, ndim: usize, op: &'static str) -> Result<usize> {
    let n = ndim.max(1) as i64;
    let i = if d < 0 { d + n } else { d };
    if i < 0 || i >= n {
        return Err(Error::DimOutOfRange { op, dim: d, ndim });
    }
    Ok(i as usize)
}

impl Dim for usize {
    fn to_index(self, ndim: usize, op: &'static str) -> Result<usize> {
        resolve(self as i64, ndim, op)
    }
}
impl Dim for i32 {
    fn to_index(self, ndim: usize, op: &'static str) -> Result<usize> {
        resolve(self as i64, ndim, op)
    }
}
impl Dim for i64 {
    fn to_index(self, ndim: usize, op: &'static str) -> Result<usize> {
        resolve(self, ndim, op)
    }
}
impl Dim for isize {
    fn to_index(self, ndim: usize, op: &'static str) -> Result<usize> {
        resolve(self as i64, ndim, op)
    }
}

/// Resolves a dimension that may be one past the end (for `unsqueeze` and `stack`).
pub(crate) fn to_insert_index<D: Dim>(d: D, ndim: usize, op: &'static str) -> Result<usize> {
    // The plain DimOutOfRange text would speak of a tensor with ndim + 1 dimensions.
    d.to_index(ndim + 1, op).map_err(|e| match e {
        Error::DimOutOfRange { dim, .. } => {
            let n = ndim as i64 + 1;
            Error::shape(
                op,
                format!(
                    "Dimension out of range (expected to be in range of [{}, {}], but got {dim}) for a new \
                     dimension of a tensor with {ndim} dimension{}",
                    -n,
                    n - 1,
                    if ndim == 1 { "" } else { "s" }
                ),
                format!("a new dimension goes at 0..={ndim}, or counted from the end at {}..=-1", -n),
            )
        }
        e => e,
    })
}
