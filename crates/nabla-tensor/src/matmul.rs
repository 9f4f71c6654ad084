//! Matrix products on the `gemm` crate (packed, threaded, runtime-dispatched AVX2 /
//! AVX-512 kernels). Strided operands are passed as they are: a transposed view is never
//! copied.

use crate::dtype::{DType, Float};
use crate::error::{Error, Result};
use crate::layout::{broadcast_shapes, Layout};
use crate::raw::RawTensor;
use crate::storage::BufferElement;

/// Work (m·n·k) above which a product uses both threads.
pub const GEMM_PARALLEL_THRESHOLD: usize = 48 * 48 * 48;

/// One strided matrix operand: a slice, the index of element (0, 0), and row / column strides.
#[derive(Clone, Copy)]
pub struct MatRef<'a, T> {
    /// The storage the matrix lives in.
    pub data: &'a [T],
    /// Index of element (0, 0) in `data`.
    pub offset: usize,
    /// Distance between rows.
    pub row_stride: usize,
    /// Distance between columns.
    pub col_stride: usize,
}

/// `dst = (accumulate ? dst : 0) + a · b` for an `m×k` `a` and a `k×n` `b`, where `dst` is a
/// row-major `m×n` block starting at `dst[0]` with row stride `dst_rs`.
///
/// ```
/// use nabla_tensor::matmul::{gemm, MatRef};
/// let a = [1.0f32, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let b = [1.0f32, 0.0, 0.0, 1.0];
/// let mut c = [0.0f32; 4];
/// gemm(2, 2, 2, &mut c, 2, MatRef { data: &a, offset: 0, row_stride: 2, col_stride: 1 },
///      MatRef { data: &b, offset: 0, row_stride: 2, col_stride: 1 }, false);
/// assert_eq!(c, [1.0, 2.0, 3.0, 4.0]);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    dst_rs: usize,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len() >= (m - 1) * dst_rs + n, "gemm: destination too small");
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                dst[i * dst_rs..i * dst_rs + n].iter_mut().for_each(|v| *v = T::zero());
            }
        }
        return;
    }
    let last_a = a.offset + (m - 1) * a.row_stride + (k - 1) * a.col_stride;
    let last_b = b.offset + (k - 1) * b.row_stride + (n - 1) * b.col_stride;
    assert!(last_a < a.data.len() && last_b < b.data.len(), "gemm: operand out of bounds");
    let par = if m * n * k >= GEMM_PARALLEL_THRESHOLD {
        gemm_crate::Parallelism::Rayon(0)
    } else {
        gemm_crate::Parallelism::None
    };
    // SAFETY: bounds of every operand were checked above; dst does not alias a or b
    // (it is a &mut borrow while they are shared borrows).
    unsafe {
        gemm_crate::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr().add(a.offset),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr().add(b.offset),
            b.col_stride as isize,
            b.row_stride as isize,
            if accumulate { T::one() } else { T::zero() },
            T::one(),
            false,
            false,
            false,
            par,
        )
    }
}

fn matmul_t<T: Float + BufferElement>(
    a: &RawTensor,
    b: &RawTensor,
    batch: &[usize],
    m: usize,
    k: usize,
    n: usize,
) -> RawTensor {
    let nb: usize = batch.iter().product();
    let mut out = crate::pool::alloc_filled(nb * m * n, T::zero());
    let la = a.layout().broadcast_to("matmul", &[batch, &[m, k]].concat()).expect("checked");
    let lb = b.layout().broadcast_to("matmul", &[batch, &[k, n]].concat()).expect("checked");
    let bd = batch.len();
    a.with_slice::<T, _>(|sa, _| {
        b.with_slice::<T, _>(|sb, _| {
            let mut idx = vec![0usize; bd];
            for bi in 0..nb {
                let (mut oa, mut ob) = (la.offset(), lb.offset());
                for (d, &i) in idx.iter().enumerate() {
                    oa += i * la.strides()[d];
                    ob += i * lb.strides()[d];
                }
                let dst = &mut out[bi * m * n..(bi + 1) * m * n];
                gemm(
                    m,
                    n,
                    k,
                    dst,
                    n,
                    MatRef { data: sa, offset: oa, row_stride: la.strides()[bd], col_stride: la.strides()[bd + 1] },
                    MatRef { data: sb, offset: ob, row_stride: lb.strides()[bd], col_stride: lb.strides()[bd + 1] },
                    false,
                );
                for d in (0..bd).rev() {
                    idx[d] += 1;
                    if idx[d] < batch[d] {
                        break;
                    }
                    idx[d] = 0;
                }
            }
        })
    });
    RawTensor::from_buffer(T::into_buffer(out), Layout::contiguous(&[batch, &[m, n]].concat()))
}

impl RawTensor {
    /// Matrix product with PyTorch's `matmul` rules: 1-D operands are promoted to a row
    /// (left) or column (right) and the added dimension removed again; leading batch
    /// dimensions broadcast.
    pub fn matmul(&self, other: &RawTensor) -> Result<RawTensor> {
        let op = "matmul";
        let (a_shape, b_shape) = (self.shape().to_vec(), other.shape().to_vec());
        if a_shape.is_empty() || b_shape.is_empty() {
            return Err(Error::shape(
                op,
                format!(
                    "both arguments to matmul need to be at least 1D, but they are {}D and {}D",
                    a_shape.len(),
                    b_shape.len()
                ),
                "use * for multiplication by a scalar",
            ));
        }
        if self.dtype() != other.dtype() {
            return Err(Error::DType {
                op,
                msg: format!(
                    "expected both operands to have the same dtype, but got {} and {}",
                    self.dtype(),
                    other.dtype()
                ),
            });
        }
        let a = if a_shape.len() == 1 { self.with_layout(self.layout().unsqueeze(0)) } else { self.clone() };
        let b = if b_shape.len() == 1 { other.with_layout(other.layout().unsqueeze(1)) } else { other.clone() };
        let (ash, bsh) = (a.shape().to_vec(), b.shape().to_vec());
        let (m, k) = (ash[ash.len() - 2], ash[ash.len() - 1]);
        let (k2, n) = (bsh[bsh.len() - 2], bsh[bsh.len() - 1]);
        if k != k2 {
            return Err(Error::MatmulShape { op, lhs: a_shape, rhs: b_shape });
        }
        let batch = broadcast_shapes(op, &ash[..ash.len() - 2], &bsh[..bsh.len() - 2]).map_err(|_| {
            Error::shape(
                op,
                format!(
                    "the batch dimensions {:?} and {:?} (full shapes {a_shape:?} and {b_shape:?}) cannot be broadcast",
                    &ash[..ash.len() - 2],
                    &bsh[..bsh.len() - 2]
                ),
                "batch sizes must be equal or one of them 1, compared from the last batch dimension",
            )
        })?;
        let out = match self.dtype() {
            DType::F32 => matmul_t::<f32>(&a, &b, &batch, m, k, n),
            DType::F64 => matmul_t::<f64>(&a, &b, &batch, m, k, n),
            d => return Err(Error::DType { op, msg: format!("expected floating-point operands, got {d}") }),
        };
        let mut shape: Vec<usize> = batch.to_vec();
        if a_shape.len() > 1 {
            shape.push(m);
        }
        if b_shape.len() > 1 {
            shape.push(n);
        }
        Ok(out.with_layout(Layout::contiguous(&shape)))
    }
}
