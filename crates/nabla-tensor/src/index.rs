//! Indexing kernels: selecting, gathering and scattering along a dimension by int64
//! indices, boolean masks, tiling (`repeat`) and one-hot encoding.
//!
//! Every kernel validates its arguments (index dtype, ranges, shapes) and returns the
//! error PyTorch users know, so the layer above only resolves negative dimensions.
//! Contiguous operands take fast paths (whole rows copied with `copy_from_slice`, split
//! over the thread pool above [`PARALLEL_THRESHOLD`] elements); anything else walks the
//! strided layouts a row at a time with [`for_each_row_n`].
//!
//! ```
//! use nabla_tensor::RawTensor;
//! let x = RawTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
//! let idx = RawTensor::from_vec(vec![2i64, 0], &[2]);
//! assert_eq!(x.index_select(0, &idx).unwrap().to_vec::<f32>(), vec![5.0, 6.0, 1.0, 2.0]);
//! ```

use crate::dtype::{DType, Element};
use crate::elementwise::PARALLEL_THRESHOLD;
use crate::error::{Error, Result};
use crate::iter::for_each_row_n;
use crate::layout::{broadcast_shapes, contiguous_strides, Layout};
use crate::raw::RawTensor;
use crate::storage::BufferElement;
use rayon::prelude::*;
use std::ops::AddAssign;

/// An element the copying kernels can allocate (every dtype).
trait Elem: BufferElement + Default {}
impl<T: BufferElement + Default> Elem for T {}

/// An element the accumulating kernels can add (every dtype but bool).
trait Accum: Elem + AddAssign {}
impl<T: Elem + AddAssign> Accum for T {}

/// Runs `$body` with `$T` bound to the Rust type of `$dtype`.
macro_rules! for_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
            DType::I64 => {
                type $T = i64;
                $body
            }
            DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}

/// [`for_dtype!`] for kernels that add, with an error for bool.
macro_rules! for_addable {
    ($dtype:expr, $op:expr, $T:ident => $body:expr) => {
        match $dtype {
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
            DType::I64 => {
                type $T = i64;
                $body
            }
            DType::Bool => {
                return Err(Error::DType {
                    op: $op,
                    msg: "cannot accumulate into a bool tensor; hint: convert it with to_dtype(DType::I64)".into(),
                })
            }
        }
    };
}

/// Rows of `row_len` elements given to one thread-pool task: enough work to pay for it.
fn rows_per_task(row_len: usize) -> usize {
    (1usize << 14).div_ceil(row_len.max(1))
}

/// `(outer, size, inner)`: the products of the sizes before `dim`, at `dim`, after `dim`.
fn split_at_dim(shape: &[usize], dim: usize) -> (usize, usize, usize) {
    (shape[..dim].iter().product(), shape[dim], shape[dim + 1..].iter().product())
}

/// A 0-D tensor seen as shape `[1]`: PyTorch lets `dim` 0 index a scalar.
fn lift(t: &RawTensor) -> RawTensor {
    if t.shape().is_empty() {
        t.with_layout(t.layout().unsqueeze(0))
    } else {
        t.clone()
    }
}

fn check_dim(op: &'static str, dim: usize, ndim: usize) -> Result<()> {
    if dim >= ndim {
        return Err(Error::DimOutOfRange { op, dim: dim as i64, ndim });
    }
    Ok(())
}

fn check_index_dtype(op: &'static str, index: &RawTensor) -> Result<()> {
    if index.dtype() != DType::I64 {
        return Err(Error::DType {
            op,
            msg: format!(
                "Expected dtype int64 for index, but got {}; hint: convert it with to_dtype(DType::I64)",
                index.dtype()
            ),
        });
    }
    Ok(())
}

fn check_mask_dtype(op: &'static str, mask: &RawTensor) -> Result<()> {
    if mask.dtype() != DType::Bool {
        return Err(Error::DType {
            op,
            msg: format!(
                "expected a bool mask, but got mask with dtype {}; hint: make one with a comparison (x.gt(0.0)) \
                 or convert it with to_dtype(DType::Bool)",
                mask.dtype()
            ),
        });
    }
    Ok(())
}

fn check_same_dtype(op: &'static str, dst: &RawTensor, src: &RawTensor) -> Result<()> {
    if dst.dtype() != src.dtype() {
        return Err(Error::DType {
            op,
            msg: format!(
                "Expected self.dtype to be equal to src.dtype (got {} and {}); hint: convert one with to_dtype",
                dst.dtype(),
                src.dtype()
            ),
        });
    }
    Ok(())
}

/// The first index outside `0..size`, if any (negative indices are errors, as in PyTorch's
/// `gather` and `index_select`).
fn check_bounds(op: &'static str, index: &RawTensor, dim: usize, size: usize) -> Result<()> {
    let bad = index.with_slice::<i64, _>(|s, l| {
        let mut bad = None;
        for_each_row_n(l.shape(), [l.strides()], [l.offset()], |p, st, n| {
            if bad.is_none() {
                bad = (0..n).map(|k| s[p[0] + k * st[0]]).find(|&x| x < 0 || x as usize >= size);
            }
        });
        bad
    });
    match bad {
        Some(index) => Err(Error::IndexOutOfRange { op, index, dim, size }),
        None => Ok(()),
    }
}

impl RawTensor {
    /// The slices `index[0], index[1], …` of dimension `dim`, in that order: the result has
    /// `self`'s shape with `dim` resized to the number of indices. `index` is int64, 0-D or
    /// 1-D, each in `0..size(dim)`.
    ///
    /// A contiguous `self` is copied row by row with `copy_from_slice` (along `dim` 0, a
    /// row is a whole sample: the DataLoader's batching path).
    ///
    /// ```
    /// use nabla_tensor::RawTensor;
    /// let x = RawTensor::from_vec(vec![1i64, 2, 3, 4, 5, 6], &[2, 3]);
    /// let idx = RawTensor::from_vec(vec![2i64, 2, 0], &[3]);
    /// assert_eq!(x.index_select(1, &idx).unwrap().to_vec::<i64>(), vec![3, 3, 1, 6, 6, 4]);
    /// ```
    pub fn index_select(&self, dim: usize, index: &RawTensor) -> Result<RawTensor> {
        const OP: &str = "index_select";
        check_index_dtype(OP, index)?;
        if index.shape().len() > 1 {
            return Err(Error::shape(
                OP,
                format!("Index is supposed to be a vector, got an index of shape {:?}", index.shape()),
                "flatten it with reshape(&[-1])",
            ));
        }
        let src = lift(self);
        check_dim(OP, dim, src.shape().len())?;
        check_bounds(OP, index, dim, src.shape()[dim])?;
        let idx = index.to_vec_exact::<i64>();
        if self.shape().is_empty() && idx.len() != 1 {
            return Err(Error::shape(
                OP,
                format!("Index to scalar can have only 1 value, got {} value(s)", idx.len()),
                "index a 0-D tensor with a single index",
            ));
        }
        let mut shape = src.shape().to_vec();
        shape[dim] = idx.len();
        let out = for_dtype!(self.dtype(), T => index_select_t::<T>(&src, dim, &idx, &shape));
        Ok(out.with_layout(Layout::contiguous(if self.shape().is_empty() { &[] } else { &shape })))
    }

    /// `self` plus `src` added into the slices `index[j]` of dimension `dim` (PyTorch's
    /// out-of-place `index_add`; repeated indices accumulate). `src` has `self`'s shape with
    /// `dim` resized to the number of indices.
    ///
    /// ```
    /// use nabla_tensor::RawTensor;
    /// let x = RawTensor::zeros(&[3], nabla_tensor::DType::F32);
    /// let idx = RawTensor::from_vec(vec![0i64, 2, 0], &[3]);
    /// let src = RawTensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    /// assert_eq!(x.index_add(0, &idx, &src).unwrap().to_vec::<f32>(), vec![4.0, 0.0, 2.0]);
    /// ```
    pub fn index_add(&self, dim: usize, index: &RawTensor, src: &RawTensor) -> Result<RawTensor> {
        const OP: &str = "index_add";
        check_index_dtype(OP, index)?;
        check_same_dtype(OP, self, src)?;
        if index.shape().len() > 1 {
            return Err(Error::shape(
                OP,
                format!("Index is supposed to be a vector, got an index of shape {:?}", index.shape()),
                "flatten it with reshape(&[-1])",
            ));
        }
        let (dst, source) = (lift(self), lift(src));
        check_dim(OP, dim, dst.shape().len())?;
        let n = index.numel();
        let mut expected = dst.shape().to_vec();
        expected[dim] = n;
        if source.shape() != expected.as_slice() {
            return Err(Error::shape(
                OP,
                format!(
                    "source of shape {:?} does not match self of shape {:?} with dimension {dim} resized to the \
                     number of indices ({n}): expected {expected:?}",
                    src.shape(),
                    self.shape()
                ),
                "source must have self's sizes in every dimension but dim, and one slice per index along dim",
            ));
        }
        check_bounds(OP, index, dim, dst.shape()[dim])?;
        let idx = index.to_vec_exact::<i64>();
        let out = for_addable!(self.dtype(), OP, T => index_add_t::<T>(&dst, dim, &idx, &source));
        Ok(out.with_layout(Layout::contiguous(self.shape())))
    }

    /// Elements picked along `dim` by `index`: for `dim` 1 of a 3-D tensor,
    /// `out[i][j][k] = self[i][index[i][j][k]][k]`. `index` is int64 with `self`'s number of
    /// dimensions and no larger than `self` in every other dimension; the result has
    /// `index`'s shape.
    ///
    /// ```
    /// use nabla_tensor::RawTensor;
    /// let x = RawTensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]);
    /// let idx = RawTensor::from_vec(vec![1i64, 0], &[2, 1]);
    /// assert_eq!(x.gather(1, &idx).unwrap().to_vec::<f64>(), vec![2.0, 3.0]);
    /// ```
    pub fn gather(&self, dim: usize, index: &RawTensor) -> Result<RawTensor> {
        const OP: &str = "gather";
        check_index_dtype(OP, index)?;
        let (src, idx) = (lift(self), lift(index));
        check_dim(OP, dim, src.shape().len())?;
        check_index_fits(OP, dim, &idx, &src, None)?;
        check_bounds(OP, &idx, dim, src.shape()[dim])?;
        let out = for_dtype!(self.dtype(), T => gather_t::<T>(&src, dim, &idx));
        Ok(out.with_layout(Layout::contiguous(index.shape())))
    }

    /// `self` plus each `src[i][j][k]` added at position `index[i][j][k]` of dimension `dim`
    /// (for `dim` 1: `out[i][index[i][j][k]][k] += src[i][j][k]`). `index` is int64 with
    /// `self`'s number of dimensions, no larger than `src` anywhere and than `self` outside
    /// `dim`; only `src`'s elements under `index` are used.
    ///
    /// ```
    /// use nabla_tensor::{DType, RawTensor};
    /// let x = RawTensor::zeros(&[2, 3], DType::F32);
    /// let idx = RawTensor::from_vec(vec![2i64, 2, 0, 1], &[2, 2]);
    /// let src = RawTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(x.scatter_add(1, &idx, &src).unwrap().to_vec::<f32>(), vec![0.0, 0.0, 3.0, 3.0, 4.0, 0.0]);
    /// ```
    pub fn scatter_add(&self, dim: usize, index: &RawTensor, src: &RawTensor) -> Result<RawTensor> {
        const OP: &str = "scatter_add";
        check_index_dtype(OP, index)?;
        check_same_dtype(OP, self, src)?;
        let (dst, idx, source) = (lift(self), lift(index), lift(src));
        check_dim(OP, dim, dst.shape().len())?;
        check_index_fits(OP, dim, &idx, &dst, Some(&source))?;
        check_bounds(OP, &idx, dim, dst.shape()[dim])?;
        let out = for_addable!(self.dtype(), OP, T => scatter_add_t::<T>(&dst, dim, &idx, &source));
        Ok(out.with_layout(Layout::contiguous(self.shape())))
    }

    /// The elements of `self` where `mask` is true, in row-major order, as a 1-D tensor.
    /// `mask` is bool; `self` and `mask` broadcast together.
    ///
    /// ```
    /// use nabla_tensor::RawTensor;
    /// let x = RawTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// let m = RawTensor::from_vec(vec![true, false], &[2]);
    /// assert_eq!(x.masked_select(&m).unwrap().to_vec::<f32>(), vec![1.0, 3.0]);
    /// ```
    pub fn masked_select(&self, mask: &RawTensor) -> Result<RawTensor> {
        const OP: &str = "masked_select";
        check_mask_dtype(OP, mask)?;
        let shape = broadcast_shapes(OP, self.shape(), mask.shape())?;
        let ls = self.layout().broadcast_to(OP, &shape)?;
        let lm = mask.layout().broadcast_to(OP, &shape)?;
        Ok(for_dtype!(self.dtype(), T => masked_select_t::<T>(self, mask, &shape, &ls, &lm)))
    }

    /// `self` (broadcast with `mask`) with the positions where `mask` is true replaced by
    /// the elements of `source`, taken in row-major order (PyTorch's out-of-place
    /// `masked_scatter`). `source` needs at least as many elements as `mask` has trues.
    ///
    /// ```
    /// use nabla_tensor::{DType, RawTensor};
    /// let x = RawTensor::zeros(&[4], DType::F64);
    /// let m = RawTensor::from_vec(vec![false, true, false, true], &[4]);
    /// let s = RawTensor::from_vec(vec![7.0f64, 8.0], &[2]);
    /// assert_eq!(x.masked_scatter(&m, &s).unwrap().to_vec::<f64>(), vec![0.0, 7.0, 0.0, 8.0]);
    /// ```
    pub fn masked_scatter(&self, mask: &RawTensor, source: &RawTensor) -> Result<RawTensor> {
        const OP: &str = "masked_scatter";
        check_mask_dtype(OP, mask)?;
        check_same_dtype(OP, self, source)?;
        let shape = broadcast_shapes(OP, self.shape(), mask.shape())?;
        let ls = self.layout().broadcast_to(OP, &shape)?;
        let lm = mask.layout().broadcast_to(OP, &shape)?;
        let trues = mask.with_layout(lm.clone()).to_vec_exact::<bool>().into_iter().filter(|&b| b).count();
        if source.numel() < trues {
            return Err(Error::shape(
                OP,
                format!(
                    "Number of elements of source < number of ones in mask ({} < {trues}; source shape {:?}, mask \
                     shape {:?})",
                    source.numel(),
                    source.shape(),
                    mask.shape()
                ),
                "give a source with at least one element per true in the mask",
            ));
        }
        Ok(for_dtype!(self.dtype(), T => masked_scatter_t::<T>(self, mask, source, &shape, &ls, &lm)))
    }

    /// `self` (broadcast with `mask`) with `value` where `mask` is true.
    ///
    /// ```
    /// use nabla_tensor::RawTensor;
    /// let x = RawTensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    /// let m = RawTensor::from_vec(vec![false, true, false], &[3]);
    /// assert_eq!(x.masked_fill(&m, -1.0).unwrap().to_vec::<f32>(), vec![1.0, -1.0, 3.0]);
    /// ```
    pub fn masked_fill(&self, mask: &RawTensor, value: f64) -> Result<RawTensor> {
        const OP: &str = "masked_fill";
        check_mask_dtype(OP, mask)?;
        let shape = broadcast_shapes(OP, self.shape(), mask.shape())?;
        let ls = self.layout().broadcast_to(OP, &shape)?;
        let lm = mask.layout().broadcast_to(OP, &shape)?;
        Ok(
            for_dtype!(self.dtype(), T => masked_fill_t::<T>(self, mask, <T as Element>::from_f64(value), &shape, &ls, &lm)),
        )
    }

    /// `self` tiled `reps[d]` times along each dimension (PyTorch's `repeat`). `reps` has at
    /// least `self`'s number of dimensions; extra leading entries add dimensions.
    ///
    /// ```
    /// use nabla_tensor::RawTensor;
    /// let x = RawTensor::from_vec(vec![1i64, 2], &[2]);
    /// let r = x.repeat(&[2, 3]).unwrap();
    /// assert_eq!(r.shape(), &[2, 6]);
    /// assert_eq!(r.to_vec::<i64>(), vec![1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2]);
    /// ```
    pub fn repeat(&self, reps: &[usize]) -> Result<RawTensor> {
        const OP: &str = "repeat";
        let nd = self.shape().len();
        if reps.len() < nd {
            return Err(Error::shape(
                OP,
                format!(
                    "Number of dimensions of repeat dims ({}) can not be smaller than number of dimensions of tensor \
                     ({nd}, shape {:?})",
                    reps.len(),
                    self.shape()
                ),
                "give one repetition count per dimension (1 keeps a dimension as it is)",
            ));
        }
        // View the output [r0·s0, r1·s1, …] as [r0, s0, r1, s1, …] and copy the input into
        // it with stride 0 on every r dimension (what PyTorch does).
        let pad = reps.len() - nd;
        let l = self.layout();
        let mut tiled_shape = Vec::with_capacity(2 * reps.len());
        let mut src_strides = Vec::with_capacity(2 * reps.len());
        for (d, &r) in reps.iter().enumerate() {
            let (s, st) = if d < pad { (1, 0) } else { (l.shape()[d - pad], l.strides()[d - pad]) };
            tiled_shape.extend([r, s]);
            src_strides.extend([0, st]);
        }
        let out_shape: Vec<usize> = tiled_shape.chunks(2).map(|c| c[0] * c[1]).collect();
        let out = for_dtype!(self.dtype(), T => repeat_t::<T>(self, &tiled_shape, &src_strides));
        Ok(out.with_layout(Layout::contiguous(&out_shape)))
    }

    /// One-hot encoding of int64 class labels: `labels.shape + [classes]`, int64, with a 1
    /// at each label's class (PyTorch's `F.one_hot`).
    ///
    /// ```
    /// use nabla_tensor::RawTensor;
    /// let y = RawTensor::from_vec(vec![2i64, 0], &[2]);
    /// assert_eq!(y.one_hot(3).unwrap().to_vec::<i64>(), vec![0, 0, 1, 1, 0, 0]);
    /// ```
    pub fn one_hot(&self, classes: usize) -> Result<RawTensor> {
        const OP: &str = "one_hot";
        if self.dtype() != DType::I64 {
            return Err(Error::DType {
                op: OP,
                msg: format!(
                    "one_hot is only applicable to index tensor of type int64, got {}; hint: convert the labels \
                     with to_dtype(DType::I64)",
                    self.dtype()
                ),
            });
        }
        let labels = self.to_vec_exact::<i64>();
        let mut out = vec![0i64; labels.len() * classes];
        for (i, &c) in labels.iter().enumerate() {
            if c < 0 {
                return Err(Error::invalid_argument(
                    OP,
                    format!("Class values must be non-negative (got {c} at flat position {i})"),
                ));
            }
            if c as usize >= classes {
                return Err(Error::invalid_argument(
                    OP,
                    format!(
                        "Class values must be smaller than num_classes (got {c} at flat position {i}, num_classes \
                         {classes})"
                    ),
                ));
            }
            out[i * classes + c as usize] = 1;
        }
        let mut shape = self.shape().to_vec();
        shape.push(classes);
        Ok(RawTensor::from_vec(out, &shape))
    }
}

/// `index` must have `self`'s number of dimensions, fit in `self` outside `dim` and
/// (for scatter) fit in `src` everywhere.
fn check_index_fits(
    op: &'static str,
    dim: usize,
    index: &RawTensor,
    dst: &RawTensor,
    src: Option<&RawTensor>,
) -> Result<()> {
    let (is, ds) = (index.shape(), dst.shape());
    let src_ok = src.is_none_or(|s| s.shape().len() == is.len());
    if is.len() != ds.len() || !src_ok {
        return Err(Error::shape(
            op,
            format!(
                "Index tensor must have the same number of dimensions as {} tensor (index {is:?}, self {ds:?}{})",
                if src.is_some() { "self and src" } else { "input" },
                src.map(|s| format!(", src {:?}", s.shape())).unwrap_or_default()
            ),
            "unsqueeze the index to the input's number of dimensions",
        ));
    }
    for d in 0..is.len() {
        let too_big_for_dst = d != dim && is[d] > ds[d];
        let too_big_for_src = src.is_some_and(|s| is[d] > s.shape()[d]);
        if too_big_for_dst || too_big_for_src {
            let msg = match src {
                None => format!(
                    "Size does not match at dimension {d} expected index {is:?} to be smaller than self {ds:?} \
                     apart from dimension {dim}"
                ),
                Some(s) => format!(
                    "Expected index {is:?} to be smaller than self {ds:?} apart from dimension {dim} and to be \
                     smaller size than src {:?} (dimension {d})",
                    s.shape()
                ),
            };
            return Err(Error::shape(op, msg, "the index may be smaller than the input, never larger"));
        }
    }
    Ok(())
}

fn index_select_t<T: Elem>(src: &RawTensor, dim: usize, idx: &[i64], shape: &[usize]) -> RawTensor {
    let (outer, size, inner) = split_at_dim(src.shape(), dim);
    let n = idx.len();
    let total = outer * n * inner;
    let out: Vec<T> = src.with_slice::<T, _>(|s, l| {
        if total == 0 {
            return Vec::new();
        }
        if let Some(r) = l.contiguous_range() {
            let s = &s[r];
            let start = |row: usize| ((row / n) * size + idx[row % n] as usize) * inner;
            if total < PARALLEL_THRESHOLD {
                let mut out = Vec::with_capacity(total);
                for row in 0..outer * n {
                    out.extend_from_slice(&s[start(row)..start(row) + inner]);
                }
                return out;
            }
            let mut out = vec![T::default(); total];
            let rows = rows_per_task(inner);
            out.par_chunks_mut(rows * inner).enumerate().for_each(|(b, chunk)| {
                for (k, dst) in chunk.chunks_exact_mut(inner).enumerate() {
                    let at = start(b * rows + k);
                    dst.copy_from_slice(&s[at..at + inner]);
                }
            });
            return out;
        }
        // Strided: copy slice `idx[j]` of the input into slice `j` of the output.
        let mut out = vec![T::default(); total];
        let ol = Layout::contiguous(shape);
        for (j, &i) in idx.iter().enumerate() {
            let (sl, dl) = (l.slice(dim, i as usize, 1, 1), ol.slice(dim, j, 1, 1));
            for_each_row_n(sl.shape(), [sl.strides(), dl.strides()], [sl.offset(), dl.offset()], |p, st, len| {
                for k in 0..len {
                    out[p[1] + k * st[1]] = s[p[0] + k * st[0]];
                }
            });
        }
        out
    });
    RawTensor::from_buffer(T::into_buffer(out), Layout::contiguous(shape))
}

fn index_add_t<T: Accum>(dst: &RawTensor, dim: usize, idx: &[i64], src: &RawTensor) -> RawTensor {
    let mut out = dst.to_vec_exact::<T>();
    let src = src.contiguous();
    let (outer, size, inner) = split_at_dim(dst.shape(), dim);
    let n = idx.len();
    if outer * n * inner > 0 {
        src.with_slice::<T, _>(|s, _| {
            // One block per outer index: blocks are disjoint, so they can run in parallel;
            // inside a block, repeated indices accumulate in order.
            let add_block = |o: usize, block: &mut [T]| {
                for (j, &i) in idx.iter().enumerate() {
                    let from = &s[(o * n + j) * inner..(o * n + j + 1) * inner];
                    let to = &mut block[i as usize * inner..(i as usize + 1) * inner];
                    to.iter_mut().zip(from).for_each(|(a, &b)| *a += b);
                }
            };
            let block = size * inner;
            if outer > 1 && outer * n * inner >= PARALLEL_THRESHOLD {
                let per = rows_per_task(n * inner);
                out.par_chunks_mut(per * block).enumerate().for_each(|(b, chunk)| {
                    for (k, blk) in chunk.chunks_exact_mut(block).enumerate() {
                        add_block(b * per + k, blk);
                    }
                });
            } else {
                for (o, blk) in out.chunks_exact_mut(block).enumerate() {
                    add_block(o, blk);
                }
            }
        });
    }
    RawTensor::from_vec(out, dst.shape())
}

fn gather_t<T: Elem>(src: &RawTensor, dim: usize, index: &RawTensor) -> RawTensor {
    let shape = index.shape().to_vec();
    let total: usize = shape.iter().product();
    let mut out = vec![T::default(); total];
    if total > 0 {
        src.with_slice::<T, _>(|s, sl| {
            index.with_slice::<i64, _>(|ix, il| {
                let same_rest = (0..shape.len()).all(|d| d == dim || shape[d] == sl.shape()[d]);
                if let (Some(rs), Some(ri), true) = (sl.contiguous_range(), il.contiguous_range(), same_rest) {
                    // Row r of `inner` elements of the output reads block r / n of the input.
                    let (s, ix) = (&s[rs], &ix[ri]);
                    let (_, size, inner) = split_at_dim(sl.shape(), dim);
                    let n = shape[dim];
                    let fill = |first_row: usize, chunk: &mut [T]| {
                        for (k, row) in chunk.chunks_exact_mut(inner).enumerate() {
                            let r = first_row + k;
                            let base = (r / n) * size * inner;
                            let irow = &ix[r * inner..(r + 1) * inner];
                            for (c, (o, &x)) in row.iter_mut().zip(irow).enumerate() {
                                *o = s[base + x as usize * inner + c];
                            }
                        }
                    };
                    if total >= PARALLEL_THRESHOLD {
                        let rows = rows_per_task(inner);
                        out.par_chunks_mut(rows * inner).enumerate().for_each(|(b, c)| fill(b * rows, c));
                    } else {
                        fill(0, &mut out);
                    }
                    return;
                }
                // Strided: walk the index; the input's position along `dim` comes from it.
                let dim_stride = sl.strides()[dim];
                let mut s_strides = sl.strides().to_vec();
                s_strides[dim] = 0;
                let o_strides = contiguous_strides(&shape);
                for_each_row_n(
                    &shape,
                    [il.strides(), &s_strides, &o_strides],
                    [il.offset(), sl.offset(), 0],
                    |p, st, n| {
                        for k in 0..n {
                            let x = ix[p[0] + k * st[0]] as usize;
                            out[p[2] + k * st[2]] = s[p[1] + k * st[1] + x * dim_stride];
                        }
                    },
                );
            })
        });
    }
    RawTensor::from_vec(out, &shape)
}

fn scatter_add_t<T: Accum>(dst: &RawTensor, dim: usize, index: &RawTensor, src: &RawTensor) -> RawTensor {
    let mut out = dst.to_vec_exact::<T>();
    let shape = index.shape().to_vec();
    let total: usize = shape.iter().product();
    if total > 0 {
        src.with_slice::<T, _>(|s, sl| {
            index.with_slice::<i64, _>(|ix, il| {
                let ds = dst.shape();
                let same_rest = (0..shape.len()).all(|d| d == dim || shape[d] == ds[d]);
                let contiguous = (sl.contiguous_range(), il.contiguous_range());
                if let (Some(rs), Some(ri), true, true) =
                    (contiguous.0, contiguous.1, same_rest, sl.shape() == shape.as_slice())
                {
                    // Output block o (all of `dim` for outer index o) only receives from
                    // block o of the index and source: blocks run in parallel.
                    let (s, ix) = (&s[rs], &ix[ri]);
                    let (outer, size, inner) = split_at_dim(ds, dim);
                    let n = shape[dim];
                    let add_block = |o: usize, block: &mut [T]| {
                        let at = o * n * inner;
                        for (e, (&x, &v)) in ix[at..at + n * inner].iter().zip(&s[at..at + n * inner]).enumerate() {
                            block[x as usize * inner + e % inner] += v;
                        }
                    };
                    let block = size * inner;
                    if outer > 1 && total >= PARALLEL_THRESHOLD {
                        let per = rows_per_task(n * inner);
                        out.par_chunks_mut(per * block).enumerate().for_each(|(b, chunk)| {
                            for (k, blk) in chunk.chunks_exact_mut(block).enumerate() {
                                add_block(b * per + k, blk);
                            }
                        });
                    } else {
                        for (o, blk) in out.chunks_exact_mut(block).enumerate() {
                            add_block(o, blk);
                        }
                    }
                    return;
                }
                let mut o_strides = contiguous_strides(ds);
                let dim_stride = o_strides[dim];
                o_strides[dim] = 0;
                for_each_row_n(
                    &shape,
                    [il.strides(), sl.strides(), &o_strides],
                    [il.offset(), sl.offset(), 0],
                    |p, st, n| {
                        for k in 0..n {
                            let x = ix[p[0] + k * st[0]] as usize;
                            out[p[2] + k * st[2] + x * dim_stride] += s[p[1] + k * st[1]];
                        }
                    },
                );
            })
        });
    }
    RawTensor::from_vec(out, dst.shape())
}

fn masked_select_t<T: Elem>(x: &RawTensor, mask: &RawTensor, shape: &[usize], ls: &Layout, lm: &Layout) -> RawTensor {
    let mut out = Vec::new();
    x.with_slice::<T, _>(|s, _| {
        mask.with_slice::<bool, _>(|m, _| {
            for_each_row_n(shape, [ls.strides(), lm.strides()], [ls.offset(), lm.offset()], |p, st, n| {
                out.extend((0..n).filter(|&k| m[p[1] + k * st[1]]).map(|k| s[p[0] + k * st[0]]));
            });
        })
    });
    let len = out.len();
    RawTensor::from_vec(out, &[len])
}

fn masked_scatter_t<T: Elem>(
    x: &RawTensor,
    mask: &RawTensor,
    source: &RawTensor,
    shape: &[usize],
    ls: &Layout,
    lm: &Layout,
) -> RawTensor {
    let mut out = x.with_layout(ls.clone()).to_vec_exact::<T>();
    let src = source.to_vec_exact::<T>();
    let mut next = src.iter();
    let o_strides = contiguous_strides(shape);
    mask.with_slice::<bool, _>(|m, _| {
        for_each_row_n(shape, [lm.strides(), &o_strides], [lm.offset(), 0], |p, st, n| {
            for k in 0..n {
                if m[p[0] + k * st[0]] {
                    out[p[1] + k * st[1]] = *next.next().expect("source length checked by masked_scatter");
                }
            }
        });
    });
    RawTensor::from_vec(out, shape)
}

fn masked_fill_t<T: Elem>(
    x: &RawTensor,
    mask: &RawTensor,
    value: T,
    shape: &[usize],
    ls: &Layout,
    lm: &Layout,
) -> RawTensor {
    let total: usize = shape.iter().product();
    let out = x.with_slice::<T, _>(|s, _| {
        mask.with_slice::<bool, _>(|m, _| {
            if let (Some(rs), Some(rm)) = (ls.contiguous_range(), lm.contiguous_range()) {
                let pick = |(&v, &b): (&T, &bool)| if b { value } else { v };
                let (s, m) = (&s[rs], &m[rm]);
                if total >= PARALLEL_THRESHOLD {
                    let mut out = Vec::with_capacity(total);
                    s.par_iter().zip(m.par_iter()).map(pick).collect_into_vec(&mut out);
                    return out;
                }
                return s.iter().zip(m).map(pick).collect();
            }
            let mut out = Vec::with_capacity(total);
            for_each_row_n(shape, [ls.strides(), lm.strides()], [ls.offset(), lm.offset()], |p, st, n| {
                out.extend((0..n).map(|k| if m[p[1] + k * st[1]] { value } else { s[p[0] + k * st[0]] }));
            });
            out
        })
    });
    RawTensor::from_vec(out, shape)
}

fn repeat_t<T: Elem>(x: &RawTensor, tiled_shape: &[usize], src_strides: &[usize]) -> RawTensor {
    let total: usize = tiled_shape.iter().product();
    let mut out = vec![T::default(); total];
    let o_strides = contiguous_strides(tiled_shape);
    x.with_slice::<T, _>(|s, l| {
        for_each_row_n(tiled_shape, [src_strides, &o_strides], [l.offset(), 0], |p, st, n| {
            if st == [1, 1] {
                out[p[1]..p[1] + n].copy_from_slice(&s[p[0]..p[0] + n]);
            } else {
                for k in 0..n {
                    out[p[1] + k * st[1]] = s[p[0] + k * st[0]];
                }
            }
        });
    });
    RawTensor::from_vec(out, &[total])
}

#[cfg(test)]
mod tests {
    //! Every kernel against a naive loop over multi-indices, on awkward sizes, on strided
    //! views, and above the parallel threshold.
    use super::*;

    /// Deterministic pseudo-random values (integers stored as f64, so sums are exact).
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 33) % 19) as f64 - 9.0
            })
            .collect()
    }

    fn indices(n: usize, size: usize, seed: u64) -> Vec<i64> {
        values(n, seed).iter().map(|v| (v + 9.0) as i64 % size as i64).collect()
    }

    fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
        let mut m = vec![0; shape.len()];
        for d in (0..shape.len()).rev() {
            m[d] = flat % shape[d];
            flat /= shape[d];
        }
        m
    }

    fn ravel(m: &[usize], shape: &[usize]) -> usize {
        m.iter().zip(shape).fold(0, |acc, (&i, &s)| acc * s + i)
    }

    /// A `shape` tensor of `vals` (row-major) stored transposed: same values, not contiguous.
    fn strided<T: Elem>(vals: &[T], shape: &[usize]) -> RawTensor {
        let n = shape.len();
        let mut rev: Vec<usize> = shape.to_vec();
        rev.reverse();
        let mut data = vec![T::default(); vals.len()];
        for (f, &v) in vals.iter().enumerate() {
            let mut m = unravel(f, shape);
            m.reverse();
            data[ravel(&m, &rev)] = v;
        }
        let perm: Vec<usize> = (0..n).rev().collect();
        let t = RawTensor::from_vec(data, &rev).with_layout(Layout::contiguous(&rev).permute(&perm));
        assert!(n < 2 || !t.is_contiguous());
        assert_eq!(t.to_vec_exact::<T>(), vals);
        t
    }

    fn both_layouts<T: Elem>(vals: &[T], shape: &[usize]) -> [RawTensor; 2] {
        [RawTensor::from_vec(vals.to_vec(), shape), strided(vals, shape)]
    }

    #[test]
    fn index_select_matches_naive_loop() {
        for (shape, n_idx) in [(vec![7, 13, 5], 9), (vec![300, 129], 257), (vec![11], 40), (vec![3, 1, 4], 2)] {
            let vals = values(shape.iter().product(), 1);
            for dim in 0..shape.len() {
                let idx = indices(n_idx, shape[dim], 2);
                let mut out_shape = shape.clone();
                out_shape[dim] = n_idx;
                let want: Vec<f64> = (0..out_shape.iter().product())
                    .map(|f| {
                        let mut m = unravel(f, &out_shape);
                        m[dim] = idx[m[dim]] as usize;
                        vals[ravel(&m, &shape)]
                    })
                    .collect();
                for x in both_layouts(&vals, &shape) {
                    let got = x.index_select(dim, &RawTensor::from_vec(idx.clone(), &[n_idx])).unwrap();
                    assert_eq!(got.shape(), out_shape.as_slice());
                    assert_eq!(got.to_vec::<f64>(), want, "shape {shape:?} dim {dim} contiguous {}", x.is_contiguous());
                }
            }
        }
    }

    #[test]
    fn index_select_keeps_integer_and_bool_dtypes() {
        let x = RawTensor::from_vec(vec![i64::MAX, 1, -3], &[3]);
        let idx = RawTensor::from_vec(vec![0i64, 0, 2], &[3]);
        assert_eq!(x.index_select(0, &idx).unwrap().to_vec::<i64>(), vec![i64::MAX, i64::MAX, -3]);
        let b = RawTensor::from_vec(vec![true, false], &[2]);
        let idx = RawTensor::from_vec(vec![1i64, 0], &[2]);
        assert_eq!(b.index_select(0, &idx).unwrap().to_vec::<bool>(), vec![false, true]);
    }

    #[test]
    fn index_add_matches_naive_loop() {
        for (shape, n_idx) in [(vec![7, 13, 5], 9), (vec![40, 300, 3], 250), (vec![6], 20)] {
            let vals = values(shape.iter().product(), 3);
            for dim in 0..shape.len() {
                let idx = indices(n_idx, shape[dim], 4);
                let mut src_shape = shape.clone();
                src_shape[dim] = n_idx;
                let src = values(src_shape.iter().product(), 5);
                let mut want = vals.clone();
                for (f, &v) in src.iter().enumerate() {
                    let mut m = unravel(f, &src_shape);
                    m[dim] = idx[m[dim]] as usize;
                    want[ravel(&m, &shape)] += v;
                }
                for (x, s) in both_layouts(&vals, &shape).into_iter().zip(both_layouts(&src, &src_shape)) {
                    let got = x.index_add(dim, &RawTensor::from_vec(idx.clone(), &[n_idx]), &s).unwrap();
                    assert_eq!(got.to_vec::<f64>(), want, "shape {shape:?} dim {dim}");
                }
            }
        }
    }

    #[test]
    fn gather_matches_naive_loop() {
        // index shapes equal to the input's outside `dim` (fast path) and smaller (strided path)
        for (shape, idx_shape) in [
            (vec![7, 13, 5], vec![7, 13, 5]),
            (vec![7, 13, 5], vec![6, 4, 3]),
            (vec![260, 140], vec![260, 140]),
            (vec![9], vec![30]),
        ] {
            let vals = values(shape.iter().product(), 6);
            for dim in 0..shape.len() {
                let mut ishape = idx_shape.clone();
                ishape[dim] = idx_shape[dim] + 2;
                let idx = indices(ishape.iter().product(), shape[dim], 7);
                let want: Vec<f64> = (0..idx.len())
                    .map(|f| {
                        let mut m = unravel(f, &ishape);
                        m[dim] = idx[f] as usize;
                        vals[ravel(&m, &shape)]
                    })
                    .collect();
                for x in both_layouts(&vals, &shape) {
                    for ix in both_layouts(&idx, &ishape) {
                        let got = x.gather(dim, &ix).unwrap();
                        assert_eq!(got.shape(), ishape.as_slice());
                        assert_eq!(got.to_vec::<f64>(), want, "shape {shape:?} index {ishape:?} dim {dim}");
                    }
                }
            }
        }
    }

    #[test]
    fn scatter_add_matches_naive_loop() {
        for (shape, idx_shape, src_extra) in [
            (vec![7, 13, 5], vec![7, 13, 5], 0),
            (vec![7, 13, 5], vec![5, 4, 3], 2),
            (vec![200, 170], vec![200, 170], 0),
            (vec![9], vec![30], 1),
        ] {
            let vals = values(shape.iter().product(), 8);
            for dim in 0..shape.len() {
                let mut ishape = idx_shape.clone();
                ishape[dim] = idx_shape[dim] + 3;
                let idx = indices(ishape.iter().product(), shape[dim], 9);
                let src_shape: Vec<usize> = ishape.iter().map(|&s| s + src_extra).collect();
                let src = values(src_shape.iter().product(), 10);
                let mut want = vals.clone();
                for (f, &i) in idx.iter().enumerate() {
                    let m = unravel(f, &ishape);
                    let mut t = m.clone();
                    t[dim] = i as usize;
                    want[ravel(&t, &shape)] += src[ravel(&m, &src_shape)];
                }
                for x in both_layouts(&vals, &shape) {
                    for (s, idx_t) in both_layouts(&src, &src_shape).into_iter().zip(both_layouts(&idx, &ishape)) {
                        let got = x.scatter_add(dim, &idx_t, &s).unwrap();
                        assert_eq!(got.to_vec::<f64>(), want, "shape {shape:?} index {ishape:?} dim {dim}");
                    }
                }
            }
        }
    }

    #[test]
    fn masked_kernels_match_naive_loops_with_broadcasting() {
        let shape = [5usize, 7, 3];
        let vals = values(105, 11);
        let mask_vals: Vec<bool> = values(21, 12).iter().map(|v| *v > 0.0).collect();
        let mask = RawTensor::from_vec(mask_vals.clone(), &[7, 3]); // broadcast over dim 0
        let at = |f: usize| mask_vals[f % 21];
        let want_sel: Vec<f64> = (0..105).filter(|&f| at(f)).map(|f| vals[f]).collect();
        let want_fill: Vec<f64> = (0..105).map(|f| if at(f) { 0.5 } else { vals[f] }).collect();
        let source = values(want_sel.len() + 4, 13);
        let mut k = 0;
        let want_scatter: Vec<f64> = (0..105)
            .map(|f| {
                if at(f) {
                    k += 1;
                    source[k - 1]
                } else {
                    vals[f]
                }
            })
            .collect();
        for x in both_layouts(&vals, &shape) {
            assert_eq!(x.masked_select(&mask).unwrap().to_vec::<f64>(), want_sel);
            assert_eq!(x.masked_fill(&mask, 0.5).unwrap().to_vec::<f64>(), want_fill);
            let src = RawTensor::from_vec(source.clone(), &[source.len()]);
            assert_eq!(x.masked_scatter(&mask, &src).unwrap().to_vec::<f64>(), want_scatter);
        }
        // the input broadcast against a larger mask
        let row = RawTensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
        let m = RawTensor::from_vec(vec![true, false, false, false, true, true], &[2, 3]);
        assert_eq!(row.masked_fill(&m, 9.0).unwrap().shape(), &[2, 3]);
        assert_eq!(row.masked_fill(&m, 9.0).unwrap().to_vec::<f32>(), vec![9.0, 2.0, 3.0, 1.0, 9.0, 9.0]);
        assert_eq!(row.masked_select(&m).unwrap().to_vec::<f32>(), vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn masked_fill_parallel_path_matches_serial() {
        let n = PARALLEL_THRESHOLD + 77;
        let vals = values(n, 14);
        let mask: Vec<bool> = values(n, 15).iter().map(|v| *v > 2.0).collect();
        let want: Vec<f64> = vals.iter().zip(&mask).map(|(&v, &b)| if b { -1.0 } else { v }).collect();
        let x = RawTensor::from_vec(vals, &[n]);
        let got = x.masked_fill(&RawTensor::from_vec(mask, &[n]), -1.0).unwrap();
        assert_eq!(got.to_vec::<f64>(), want);
    }

    #[test]
    fn repeat_matches_naive_loop() {
        for (shape, reps) in [(vec![3, 5], vec![2, 3]), (vec![4], vec![3, 1, 2]), (vec![2, 3, 7], vec![1, 4, 2])] {
            let vals = values(shape.iter().product(), 16);
            let pad = reps.len() - shape.len();
            let padded: Vec<usize> = (0..reps.len()).map(|d| if d < pad { 1 } else { shape[d - pad] }).collect();
            let out_shape: Vec<usize> = padded.iter().zip(&reps).map(|(s, r)| s * r).collect();
            let want: Vec<f64> = (0..out_shape.iter().product())
                .map(|f| {
                    let m: Vec<usize> = unravel(f, &out_shape).iter().zip(&padded).map(|(i, s)| i % s).collect();
                    vals[ravel(&m, &padded)]
                })
                .collect();
            for x in both_layouts(&vals, &shape) {
                let got = x.repeat(&reps).unwrap();
                assert_eq!(got.shape(), out_shape.as_slice());
                assert_eq!(got.to_vec::<f64>(), want);
            }
        }
        let s = RawTensor::from_vec(vec![4.0f32], &[]);
        assert_eq!(s.repeat(&[]).unwrap().shape(), &[] as &[usize]);
        assert_eq!(s.repeat(&[3]).unwrap().to_vec::<f32>(), vec![4.0; 3]);
        assert_eq!(s.repeat(&[0]).unwrap().shape(), &[0]);
    }

    #[test]
    fn one_hot_matches_naive_loop_and_checks_classes() {
        let labels: Vec<i64> = indices(12, 5, 17);
        let y = RawTensor::from_vec(labels.clone(), &[3, 4]);
        let got = y.one_hot(5).unwrap();
        assert_eq!(got.shape(), &[3, 4, 5]);
        let want: Vec<i64> = (0..60).map(|f| (labels[f / 5] == (f % 5) as i64) as i64).collect();
        assert_eq!(got.to_vec::<i64>(), want);
        let e = RawTensor::from_vec(vec![0i64, 5], &[2]).one_hot(5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "one_hot: Class values must be smaller than num_classes (got 5 at flat position 1, num_classes 5)"
        );
        let e = RawTensor::from_vec(vec![-1i64], &[1]).one_hot(5).unwrap_err();
        assert!(e.to_string().contains("Class values must be non-negative"), "{e}");
    }

    #[test]
    fn scalar_inputs_are_seen_as_one_element() {
        let s = RawTensor::from_vec(vec![2.5f64], &[]);
        let i0 = RawTensor::from_vec(vec![0i64], &[]);
        assert_eq!(s.index_select(0, &i0).unwrap().shape(), &[] as &[usize]);
        assert_eq!(s.gather(0, &i0).unwrap().to_vec::<f64>(), vec![2.5]);
        assert_eq!(s.scatter_add(0, &i0, &s).unwrap().to_vec::<f64>(), vec![5.0]);
        let two = RawTensor::from_vec(vec![0i64, 0], &[2]);
        assert!(s.index_select(0, &two).unwrap_err().to_string().contains("Index to scalar can have only 1 value"));
    }

    #[test]
    fn misuse_is_reported_with_pytorch_wording() {
        let x = RawTensor::from_vec(values(15, 18), &[5, 3]);
        let e = x.index_select(0, &RawTensor::from_vec(vec![-1i64], &[1])).unwrap_err();
        assert_eq!(e, Error::IndexOutOfRange { op: "index_select", index: -1, dim: 0, size: 5 });
        assert_eq!(e.to_string(), "index_select: index -1 is out of bounds for dimension 0 with size 5");
        let e = x.gather(1, &RawTensor::from_vec(vec![3i64], &[1, 1])).unwrap_err();
        assert_eq!(e.to_string(), "gather: index 3 is out of bounds for dimension 1 with size 3");
        let e = x.gather(0, &RawTensor::from_vec(vec![0.0f32], &[1, 1])).unwrap_err();
        assert!(e.to_string().starts_with("gather: Expected dtype int64 for index, but got float32"), "{e}");
        let e = x.gather(0, &RawTensor::from_vec(vec![0i64; 8], &[2, 4])).unwrap_err();
        assert!(
            e.to_string().contains(
                "Size does not match at dimension 1 expected index [2, 4] to be smaller than self [5, 3] apart from \
                 dimension 0"
            ),
            "{e}"
        );
        let e = x.gather(0, &RawTensor::from_vec(vec![0i64; 2], &[2])).unwrap_err();
        assert!(e.to_string().contains("Index tensor must have the same number of dimensions"), "{e}");
        let e = x.index_add(0, &RawTensor::from_vec(vec![0i64], &[1]), &x).unwrap_err();
        assert!(e.to_string().contains("expected [1, 3]"), "{e}");
        let e = x.scatter_add(0, &RawTensor::from_vec(vec![0i64], &[1, 1]), &x.to_dtype(DType::F32)).unwrap_err();
        assert!(e.to_string().contains("Expected self.dtype to be equal to src.dtype"), "{e}");
        let e = x.masked_fill(&RawTensor::from_vec(vec![1.0f64; 3], &[3]), 0.0).unwrap_err();
        assert!(e.to_string().contains("expected a bool mask, but got mask with dtype float64"), "{e}");
        let e = x.masked_select(&RawTensor::from_vec(vec![true; 4], &[4])).unwrap_err();
        assert!(matches!(e, Error::Broadcast { op: "masked_select", .. }), "{e}");
        let e = x.repeat(&[2]).unwrap_err();
        assert!(e.to_string().contains("Number of dimensions of repeat dims (1) can not be smaller"), "{e}");
        let e = x.index_select(2, &RawTensor::from_vec(vec![0i64], &[1])).unwrap_err();
        assert_eq!(e, Error::DimOutOfRange { op: "index_select", dim: 2, ndim: 2 });
    }
}
