//! Reductions: sums over dimensions, extrema with their indices, and the fused
//! row-wise kernels (softmax, log-softmax, logsumexp) that must be numerically stable.

use crate::dtype::{DType, Float};
use crate::elementwise::PARALLEL_THRESHOLD;
use crate::error::{Error, Result};
use crate::iter::{for_each_lane_n, for_each_row_n};
use crate::layout::{contiguous_strides, Layout};
use crate::raw::RawTensor;
use crate::storage::BufferElement;
use rayon::prelude::*;

fn float_error(op: &'static str, d: DType) -> Error {
    Error::DType { op, msg: format!("expected a floating-point tensor (float32 or float64), got {d}") }
}

/// The sum of `p` in `LANES` running sums (one per SIMD lane, so the additions do not wait
/// on each other), the remainder summed in order, then the running sums added in order.
#[inline]
pub(crate) fn lane_sum<T: Float, const LANES: usize>(p: &[T]) -> T {
    let mut acc = [T::zero(); LANES];
    let mut it = p.chunks_exact(LANES);
    for w in &mut it {
        for k in 0..LANES {
            acc[k] += w[k];
        }
    }
    let mut t = it.remainder().iter().fold(T::zero(), |a, &b| a + b);
    for a in acc {
        t += a;
    }
    t
}

/// Sum of a contiguous slice in chunks (parallel when large), accumulated in f64 across
/// chunks so that 16M-element f32 sums stay accurate.
fn sum_slice<T: Float>(s: &[T]) -> T {
    const CHUNK: usize = 1 << 12;
    let chunk_sum = |c: &[T]| -> f64 { lane_sum::<T, 8>(c).to_f64() };
    let total: f64 = if s.len() >= PARALLEL_THRESHOLD {
        s.par_chunks(CHUNK).map(chunk_sum).sum()
    } else {
        s.chunks(CHUNK).map(chunk_sum).sum()
    };
    T::cast(total)
}

fn sum_dims_t<T: Float>(a: &RawTensor, dims: &[usize]) -> RawTensor {
    let shape = a.shape();
    let keep: Vec<usize> = shape.iter().enumerate().map(|(i, &s)| if dims.contains(&i) { 1 } else { s }).collect();
    let n_out: usize = keep.iter().product();
    if n_out == 1 {
        let v = a.with_slice::<T, _>(|s, l| match l.contiguous_range() {
            Some(r) => sum_slice(&s[r]),
            None => {
                let mut acc = 0.0f64;
                for_each_row_n(l.shape(), [l.strides()], [l.offset()], |p, st, n| {
                    let mut t = T::zero();
                    for i in 0..n {
                        t += s[p[0] + i * st[0]];
                    }
                    acc += t.to_f64();
                });
                T::cast(acc)
            }
        });
        return RawTensor::from_buffer(T::into_buffer(vec![v]), Layout::contiguous(&keep));
    }
    let mut out_strides = contiguous_strides(&keep);
    for &d in dims {
        out_strides[d] = 0;
    }
    let mut out = crate::pool::alloc_filled(n_out, T::zero());
    a.with_slice::<T, _>(|s, l| {
        for_each_row_n(shape, [l.strides(), &out_strides], [l.offset(), 0], |p, st, n| {
            if st[1] == 0 {
                let mut t = T::zero();
                for i in 0..n {
                    t += s[p[0] + i * st[0]];
                }
                out[p[1]] += t;
            } else if st[0] == 1 && st[1] == 1 {
                for (o, &x) in out[p[1]..p[1] + n].iter_mut().zip(&s[p[0]..p[0] + n]) {
                    *o += x;
                }
            } else {
                for i in 0..n {
                    out[p[1] + i * st[1]] += s[p[0] + i * st[0]];
                }
            }
        });
    });
    RawTensor::from_buffer(T::into_buffer(out), Layout::contiguous(&keep))
}

/// Layout of `l` with dimension `dim` moved last, and the shape without `dim`.
fn dim_last(l: &Layout, dim: usize) -> (Layout, Vec<usize>) {
    let mut perm: Vec<usize> = (0..l.ndim()).filter(|&d| d != dim).collect();
    let rest: Vec<usize> = perm.iter().map(|&d| l.shape()[d]).collect();
    perm.push(dim);
    (l.permute(&perm), rest)
}

impl RawTensor {
    /// Sums over `dims` (sorted, in range), keeping them as size-1 dimensions.
    pub fn sum_dims_keep(&self, op: &'static str, dims: &[usize]) -> Result<RawTensor> {
        match self.dtype() {
            DType::F32 => Ok(sum_dims_t::<f32>(self, dims)),
            DType::F64 => Ok(sum_dims_t::<f64>(self, dims)),
            d => Err(float_error(op, d)),
        }
    }

    /// Sums the tensor down to `target` (a shape `self.shape()` was broadcast from):
    /// the reduction a broadcast input's gradient needs.
    pub fn sum_to(&self, target: &[usize]) -> Result<RawTensor> {
        let shape = self.shape().to_vec();
        if shape == target {
            return Ok(self.clone());
        }
        let pad = shape.len() - target.len();
        let dims: Vec<usize> =
            (0..shape.len()).filter(|&d| d < pad || (target[d - pad] == 1 && shape[d] != 1)).collect();
        let summed = self.sum_dims_keep("sum_to", &dims)?;
        Ok(summed.with_layout(Layout::contiguous(target)))
    }

    /// Maximum (or minimum) along `dim`: values and their i64 indices (the first one on ties),
    /// both of the shape without `dim`.
    pub fn extremum_dim(&self, op: &'static str, dim: usize, max: bool) -> Result<(RawTensor, RawTensor)> {
        fn go<T: Float>(a: &RawTensor, dim: usize, max: bool) -> (RawTensor, RawTensor) {
            let (l, rest) = dim_last(a.layout(), dim);
            let n_out: usize = rest.iter().product();
            let mut vals = Vec::with_capacity(n_out);
            let mut idx = Vec::with_capacity(n_out);
            a.with_slice::<T, _>(|s, _| {
                for_each_lane_n(l.shape(), [l.strides()], [l.offset()], |p, st, n| {
                    let mut best = s[p[0]];
                    let mut bi = 0usize;
                    for i in 1..n {
                        let v = s[p[0] + i * st[0]];
                        let better = if max { v > best } else { v < best };
                        if better || (v.is_nan() && !best.is_nan()) {
                            best = v;
                            bi = i;
                        }
                    }
                    vals.push(best);
                    idx.push(bi as i64);
                });
            });
            (
                RawTensor::from_buffer(T::into_buffer(vals), Layout::contiguous(&rest)),
                RawTensor::from_buffer(i64::into_buffer(idx), Layout::contiguous(&rest)),
            )
        }
        if self.shape()[dim] == 0 {
            return Err(Error::shape(
                op,
                format!("cannot reduce over dimension {dim} of size 0 (shape {:?})", self.shape()),
                "the dimension must be non-empty",
            ));
        }
        match self.dtype() {
            DType::F32 => Ok(go::<f32>(self, dim, max)),
            DType::F64 => Ok(go::<f64>(self, dim, max)),
            DType::I64 => {
                let (v, i) = go::<f64>(&self.to_dtype(DType::F64), dim, max);
                Ok((v.to_dtype(DType::I64), i))
            }
            d => Err(float_error(op, d)),
        }
    }

    /// Softmax (or log-softmax) along `dim`, computed stably (the row maximum is subtracted).
    pub fn softmax_dim(&self, op: &'static str, dim: usize, log: bool) -> Result<RawTensor> {
        fn go<T: Float>(a: &RawTensor, dim: usize, log: bool) -> RawTensor {
            let shape = a.shape().to_vec();
            let (l, _) = dim_last(a.layout(), dim);
            let (ol, _) = dim_last(&Layout::contiguous(&shape), dim);
            let mut out = crate::pool::alloc_filled(a.numel(), T::zero());
            a.with_slice::<T, _>(|s, _| {
                for_each_lane_n(l.shape(), [l.strides(), ol.strides()], [l.offset(), 0], |p, st, n| {
                    let at = |i: usize| s[p[0] + i * st[0]];
                    let mut m = T::neg_infinity();
                    for i in 0..n {
                        m = m.max(at(i));
                    }
                    if !m.is_finite() {
                        m = T::zero();
                    }
                    let mut z = T::zero();
                    for i in 0..n {
                        let e = (at(i) - m).exp();
                        out[p[1] + i * st[1]] = e;
                        z += e;
                    }
                    if log {
                        // (x - m) - ln z, as PyTorch: x - (m + ln z) would round m + ln z
                        // first and lose ln z's digits next to a large m (f32: 1e4 + ln 2).
                        let lz = z.ln();
                        for i in 0..n {
                            out[p[1] + i * st[1]] = (at(i) - m) - lz;
                        }
                    } else {
                        let inv = T::one() / z;
                        for i in 0..n {
                            out[p[1] + i * st[1]] *= inv;
                        }
                    }
                });
            });
            RawTensor::from_buffer(T::into_buffer(out), Layout::contiguous(&shape))
        }
        match self.dtype() {
            DType::F32 => Ok(go::<f32>(self, dim, log)),
            DType::F64 => Ok(go::<f64>(self, dim, log)),
            d => Err(float_error(op, d)),
        }
    }

    /// `log(sum(exp(x)))` along `dim`, stably; the shape without `dim`.
    pub fn logsumexp_dim(&self, op: &'static str, dim: usize) -> Result<RawTensor> {
        fn go<T: Float>(a: &RawTensor, dim: usize) -> RawTensor {
            let (l, rest) = dim_last(a.layout(), dim);
            let mut out = Vec::with_capacity(rest.iter().product());
            a.with_slice::<T, _>(|s, _| {
                for_each_lane_n(l.shape(), [l.strides()], [l.offset()], |p, st, n| {
                    let at = |i: usize| s[p[0] + i * st[0]];
                    let mut m = T::neg_infinity();
                    for i in 0..n {
                        m = m.max(at(i));
                    }
                    if !m.is_finite() {
                        out.push(if n == 0 { T::neg_infinity() } else { m });
                        return;
                    }
                    let mut z = T::zero();
                    for i in 0..n {
                        z += (at(i) - m).exp();
                    }
                    out.push(z.ln() + m);
                });
            });
            RawTensor::from_buffer(T::into_buffer(out), Layout::contiguous(&rest))
        }
        match self.dtype() {
            DType::F32 => Ok(go::<f32>(self, dim)),
            DType::F64 => Ok(go::<f64>(self, dim)),
            d => Err(float_error(op, d)),
        }
    }
}

/// Keeps the generic bound used by callers outside this module honest.
#[allow(dead_code)]
fn _assert_buffer_element<T: Float + BufferElement>() {}
