//! Matrix products on the `gemm` crate (packed, threaded, runtime-dispatched AVX2 /
//! AVX-512 kernels). Strided operands are passed as they are: a transposed view is never
//! copied.

use crate::dtype::{DType, Float};
use crate::error::{Error, Result};
use crate::layout::{broadcast_shapes, Layout};
use crate::raw::RawTensor;
use crate::storage::BufferElement;

mod transpose;

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
    let threads = rayon::current_num_threads();
    let work = m * n * k;
    let base = Block { dst: dst.as_mut_ptr(), dst_rs, a, b, accumulate };
    if work < SPLIT_MIN_WORK || threads < 2 {
        // SAFETY: bounds checked above; `dst` is borrowed mutably, the operands shared.
        unsafe { base.run(0..m, 0..n, k, gemm_crate::Parallelism::None) };
    } else if work >= GEMM_SELF_THREADED || m.max(n) < 2 * SPLIT_ALIGN {
        // SAFETY: as above.
        unsafe { base.run(0..m, 0..n, k, gemm_crate::Parallelism::Rayon(0)) };
    } else {
        // Mid-sized products: one single-threaded GEMM per thread on a slab of rows or
        // columns (whichever dimension is longer) beats the crate's own threading, which
        // splits these sizes too finely (measured: 256³ at 119 GFLOP/s threaded vs 165 split).
        // The slabs go to the warm helper team (`crate::team`): 256³ then runs at 200–270
        // GFLOP/s instead of 120–180 through the rayon pool, which a caller outside the pool
        // reaches only by injecting the job and sleeping until a worker wakes it.
        let parts = threads.min(m.max(n) / SPLIT_ALIGN);
        let cut = |len: usize, i: usize| ((len * i / parts).div_ceil(SPLIT_ALIGN) * SPLIT_ALIGN).min(len);
        let by_rows = m >= 2 * n;
        let base = &base;
        let part = move |i: usize| {
            let (rows, cols) =
                if by_rows { (cut(m, i)..cut(m, i + 1), 0..n) } else { (0..m, cut(n, i)..cut(n, i + 1)) };
            // SAFETY: the slabs are disjoint blocks of `dst`; bounds checked above.
            unsafe { base.run(rows, cols, k, gemm_crate::Parallelism::None) };
        };
        // the warm helper team first (no wake-up through the pool); the pool when it is busy
        if !crate::team::split(parts, &part) {
            rayon::scope(|s| (0..parts).for_each(|i| s.spawn(move |_| part(i))));
        }
    }
}

/// Work (m·n·k) from which a product uses every thread: below it, waking a sleeping thread
/// costs more than it saves (measured: 64³ runs at 140 GFLOP/s on one thread, 15–30 when split).
const SPLIT_MIN_WORK: usize = 1 << 20;

/// Slab boundaries of a split product fall on multiples of this (the kernels' tile width).
const SPLIT_ALIGN: usize = 16;

/// Work (m·n·k) from which the `gemm` crate's own threading is used instead of slabs.
const GEMM_SELF_THREADED: usize = 640 * 640 * 640;

/// Whether an `m×n` block of a product should copy its `k×n` slab of `b` into row-major
/// order before the `gemm` crate runs: when `b` is column-major (a transposed view, as in
/// `x · Wᵀ`), which the crate would otherwise gather one scalar at a time (see the
/// `transpose` module), unless the block has fewer than [`TRANSPOSE_MIN_ROWS`] rows (those
/// go row by row) or is small enough for the crate's kernels that read `b`'s columns in
/// place (`m·n ≤ 256`).
fn transpose_first<T>(m: usize, n: usize, k: usize, b: &MatRef<'_, T>) -> bool {
    b_is_column_major(b) && k >= 8 && m >= TRANSPOSE_MIN_ROWS && m * n > 256
}

/// Whether `b`'s columns are contiguous and its rows are not (a transposed view).
fn b_is_column_major<T>(b: &MatRef<'_, T>) -> bool {
    b.row_stride == 1 && b.col_stride != 1
}

/// Rows from which a block transposes a column-major `b` first (fewer rows use each of its
/// elements too few times to pay for the copy).
const TRANSPOSE_MIN_ROWS: usize = 8;

/// The most scratch memory (bytes) a thread keeps for itself between products for
/// transposed operands (a 1024×1024 `f32` slab per thread fits); a larger one comes from,
/// and goes back to, the shared buffer pool. A thread's own buffer stays warm in its cache:
/// taking the scratch from the pool for every product (where the two threads of a split
/// product can get each other's buffers) made 128×512×784 with `Wᵀ` 514 → 757 µs.
const SCRATCH_KEPT_BYTES: usize = 4 << 20;

/// Runs `f` on a scratch slice of `len` elements (contents unspecified): this thread's kept
/// operand buffer ([`crate::scratch`]) when the request is not too large, one from the pool
/// otherwise.
fn with_scratch<T: Float, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    if len * std::mem::size_of::<T>() <= SCRATCH_KEPT_BYTES {
        return crate::scratch::with(crate::scratch::Use::Operand, |v| f(crate::scratch::grow(v, len)));
    }
    let mut buf = crate::pool::alloc_overwritten::<T>(len);
    let r = f(&mut buf);
    crate::pool::release(T::into_buffer(buf));
    r
}

/// One product `dst = (accumulate ? dst : 0) + a·b` whose blocks can be computed separately.
struct Block<'a, T> {
    dst: *mut T,
    dst_rs: usize,
    a: MatRef<'a, T>,
    b: MatRef<'a, T>,
    accumulate: bool,
}

// SAFETY: threads write disjoint blocks of `dst` (the caller's partition) and only read `a`, `b`.
unsafe impl<T: Sync> Sync for Block<'_, T> {}

impl<T: Float> Block<'_, T> {
    /// Computes rows `rows` × columns `cols` of the product.
    ///
    /// # Safety
    /// The operands' bounds must have been checked for the whole product, and no one else may
    /// access that block of `dst` during the call.
    unsafe fn run(
        &self,
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
        k: usize,
        par: gemm_crate::Parallelism,
    ) {
        if rows.is_empty() || cols.is_empty() {
            return;
        }
        let b = &self.b;
        let b_cols = b.data.as_ptr().add(b.offset + cols.start * b.col_stride);
        if transpose_first(rows.len(), cols.len(), k, b) {
            with_scratch::<T, _>(k * cols.len(), |row_major| {
                let (n, cs) = (cols.len(), b.col_stride);
                if matches!(par, gemm_crate::Parallelism::None) {
                    // SAFETY: element (p, j) of this slab of `b` is `b_cols[p + j * cs]`,
                    // inside `b.data` (the caller checked the product's bounds).
                    transpose::to_row_major(b_cols, cs, k, n, row_major);
                } else {
                    // a product large enough for every thread transposes on every thread too,
                    // each a band of rows of the row-major copy
                    let (band, j0) = (k.div_ceil(crate::team::size()).next_multiple_of(16), cols.start);
                    crate::team::run_parts(row_major.chunks_mut(band * n), |i, rows| {
                        let p0 = i * band;
                        // SAFETY: as above, for rows p0.. of the copy (read from element p0 of
                        // each column of the slab).
                        unsafe {
                            let src = self.b.data.as_ptr().add(self.b.offset + j0 * cs + p0);
                            transpose::to_row_major(src, cs, rows.len() / n, n, rows)
                        }
                    });
                }
                self.product(rows, cols, k, row_major.as_ptr(), n, 1, par)
            })
        } else if rows.len() > 1
            && rows.len() < TRANSPOSE_MIN_ROWS
            && b_is_column_major(b)
            && rows.len() * cols.len() > 256
        {
            // a few rows against a transposed view: one matrix-vector product per row (the
            // crate's kernel for a single row reads `b`'s columns in place)
            for r in rows {
                self.product(r..r + 1, cols.clone(), k, b_cols, b.row_stride, b.col_stride, par)
            }
        } else {
            self.product(rows, cols, k, b_cols, b.row_stride, b.col_stride, par)
        }
    }

    /// The `gemm` crate's product for this block, with the block's columns of `b` at `b_cols`
    /// (strides `b_rs`, `b_cs`).
    ///
    /// # Safety
    /// As [`Block::run`], and `b_cols` valid for the block's `k × cols.len()` reads.
    #[allow(clippy::too_many_arguments)]
    unsafe fn product(
        &self,
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
        k: usize,
        b_cols: *const T,
        b_rs: usize,
        b_cs: usize,
        par: gemm_crate::Parallelism,
    ) {
        let a = &self.a;
        gemm_crate::gemm(
            rows.len(),
            cols.len(),
            k,
            self.dst.add(rows.start * self.dst_rs + cols.start),
            1,
            self.dst_rs as isize,
            self.accumulate,
            a.data.as_ptr().add(a.offset + rows.start * a.row_stride),
            a.col_stride as isize,
            a.row_stride as isize,
            b_cols,
            b_cs as isize,
            b_rs as isize,
            if self.accumulate { T::one() } else { T::zero() },
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
    // every block is written by a non-accumulating `gemm` (which never reads `dst`)
    let mut out = crate::pool::alloc_overwritten::<T>(nb * m * n);
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
