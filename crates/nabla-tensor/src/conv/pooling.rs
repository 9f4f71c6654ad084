//! Pooling kernels: max (with argmax indices), average (`count_include_pad`) and
//! adaptive average, forward and backward, one plane at a time.

use super::{conv_out_size, valid_span, PAR_ELEMS};
use crate::dtype::Float;
use rayon::prelude::*;

/// The shape of a 2-D pooling over `planes` planes (`N·C`) of `in_size`.
///
/// ```
/// use nabla_tensor::conv::PoolGeom;
/// let g = PoolGeom::new(6, [8, 8], [3, 3], [2, 2], [1, 1]).unwrap();
/// assert_eq!(g.out_size, [4, 4]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeom {
    /// Number of independent planes (batch × channels).
    pub planes: usize,
    /// Spatial size of the input.
    pub in_size: [usize; 2],
    /// Spatial size of the output.
    pub out_size: [usize; 2],
    /// Window size.
    pub kernel: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Implicit padding on each side.
    pub padding: [usize; 2],
}

impl PoolGeom {
    /// The geometry of a pooling with the natural output size (floor mode), `None` if the
    /// window does not fit the padded input or the kernel or stride is 0.
    pub fn new(
        planes: usize,
        in_size: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Option<PoolGeom> {
        let oh = conv_out_size(in_size[0], kernel[0], stride[0], padding[0], 1)?;
        let ow = conv_out_size(in_size[1], kernel[1], stride[1], padding[1], 1)?;
        Some(PoolGeom { planes, in_size, out_size: [oh, ow], kernel, stride, padding })
    }

    pub(super) fn in_plane(&self) -> usize {
        self.in_size[0] * self.in_size[1]
    }
    pub(super) fn out_plane(&self) -> usize {
        self.out_size[0] * self.out_size[1]
    }
    /// The window of output `(oh, ow)` clipped to the input: rows and columns.
    fn window(&self, oh: usize, ow: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let h0 = (oh * self.stride[0]) as isize - self.padding[0] as isize;
        let w0 = (ow * self.stride[1]) as isize - self.padding[1] as isize;
        let clip = |s: isize, k: usize, n: usize| s.max(0) as usize..((s + k as isize).max(0) as usize).min(n);
        (clip(h0, self.kernel[0], self.in_size[0]), clip(w0, self.kernel[1], self.in_size[1]))
    }
    /// PyTorch's `count_include_pad` divisor along dimension `d`: the window clipped to
    /// the padded input (always the kernel size in floor mode).
    fn padded_span(&self, o: usize, d: usize) -> usize {
        let s = o * self.stride[d];
        (s + self.kernel[d]).min(self.in_size[d] + 2 * self.padding[d]) - s
    }

    /// Calls `f(output row, input row, tap column j, output columns lo..hi)` for every
    /// kernel tap of every output row whose input row is inside the plane, in the scan
    /// order of a window (rows, then columns). Input column of output `ow` under tap `j`:
    /// `ow·stride + j - padding`. Kernels loop over `lo..hi`: independent iterations the
    /// compiler vectorizes, instead of a short dependent loop per window.
    fn for_each_tap(&self, f: impl FnMut(usize, usize, usize, usize, usize)) {
        self.for_each_tap_ordered(false, f)
    }

    /// [`PoolGeom::for_each_tap`], with each window's taps in reverse order if `reverse`.
    fn for_each_tap_ordered(&self, reverse: bool, mut f: impl FnMut(usize, usize, usize, usize, usize)) {
        let spans: Vec<(usize, usize)> = (0..self.kernel[1])
            .map(|j| {
                valid_span(self.out_size[1], self.stride[1], j as isize - self.padding[1] as isize, self.in_size[1])
            })
            .collect();
        let (kh, kw) = (self.kernel[0], self.kernel[1]);
        for oh in 0..self.out_size[0] {
            for t in 0..kh * kw {
                let t = if reverse { kh * kw - 1 - t } else { t };
                let (i, j) = (t / kw, t % kw);
                let ih = (oh * self.stride[0] + i) as isize - self.padding[0] as isize;
                if ih < 0 || ih >= self.in_size[0] as isize {
                    continue;
                }
                f(oh, ih as usize, j, spans[j].0, spans[j].1);
            }
        }
    }

    /// The input column of output column `ow` under tap `j` (inside the plane).
    #[inline(always)]
    fn in_col(&self, ow: usize, j: usize) -> usize {
        ow * self.stride[1] + j - self.padding[1]
    }
}

/// Runs `f(plane index, out plane, in plane)` over all planes, in parallel when large.
fn per_plane<A: Send, B: Sync>(
    out: &mut [A],
    out_plane: usize,
    input: &[B],
    in_plane: usize,
    f: impl Fn(&mut [A], &[B]) + Sync + Send,
) {
    if out_plane == 0 || in_plane == 0 {
        return;
    }
    if out.len() + input.len() >= PAR_ELEMS && rayon::current_num_threads() > 1 {
        out.par_chunks_mut(out_plane).zip(input.par_chunks(in_plane)).for_each(|(o, i)| f(o, i));
    } else {
        out.chunks_mut(out_plane).zip(input.chunks(in_plane)).for_each(|(o, i)| f(o, i));
    }
}

/// Max pooling: `y` gets each window's maximum and `idx` its flat position `h·W + w` in
/// the plane (PyTorch's convention). Padding never wins; NaN does (it propagates, and the
/// last NaN of a window gives the index, as in PyTorch's CPU kernel).
///
/// ```
/// use nabla_tensor::conv::{max_pool2d_forward, PoolGeom};
/// let g = PoolGeom::new(1, [2, 4], [2, 2], [2, 2], [0, 0]).unwrap();
/// let x = [1.0f32, 5.0, 2.0, 0.0, 3.0, 4.0, 8.0, 1.0];
/// let (mut y, mut idx) = ([0.0f32; 2], [0i64; 2]);
/// max_pool2d_forward(&g, &x, &mut y, &mut idx);
/// assert_eq!((y, idx), ([5.0, 8.0], [1, 6]));
/// ```
pub fn max_pool2d_forward<T: Float>(g: &PoolGeom, x: &[T], y: &mut [T], idx: &mut [i64]) {
    let (ip, op) = (g.in_plane(), g.out_plane());
    assert_eq!(x.len(), g.planes * ip, "max_pool2d_forward: input length");
    assert_eq!(y.len(), g.planes * op, "max_pool2d_forward: output length");
    assert_eq!(idx.len(), y.len(), "max_pool2d_forward: indices length");
    if op == 0 || ip == 0 {
        return;
    }
    let (w, ow_n, stride) = (g.in_size[1], g.out_size[1], g.stride[1]);
    let plane = |(y, (idx, x)): (&mut [T], (&mut [i64], &[T]))| {
        let has_nan = if g.kernel == [2, 2] && g.stride == [2, 2] && g.padding == [0, 0] {
            // NaN outside every window (a last odd row or column) changes nothing
            if !max_pool_2x2(x, w, ow_n, y, idx) {
                return;
            }
            true
        } else {
            x.iter().fold(false, |a, v| a | v.is_nan())
        };
        y.fill(T::neg_infinity());
        if has_nan {
            // NaN wins and propagates, the last NaN of a window giving the index; a window
            // wholly of -inf reports its first element
            for (o, i) in idx.iter_mut().enumerate() {
                let (rows, cols) = g.window(o / ow_n, o % ow_n);
                *i = (rows.start * w + cols.start) as i64;
            }
            g.for_each_tap(|oh, ih, j, lo, hi| {
                for ow in lo..hi {
                    let at = ih * w + g.in_col(ow, j);
                    let (m, v) = (&mut y[oh * ow_n + ow], x[at]);
                    if v > *m || v.is_nan() {
                        (*m, idx[oh * ow_n + ow]) = (v, at as i64);
                    }
                }
            });
            return;
        }
        // Without NaN, three passes whose loops vectorize (a select per element in one
        // pass would branch on `v > m`, a coin flip on real data): the maxima; then, taps
        // in reverse order, the first tap of each window holding its maximum (strict `>`
        // above: the first maximum wins ties, as in PyTorch); then that tap's position.
        g.for_each_tap(|oh, ih, j, lo, hi| {
            let x = &x[ih * w + g.in_col(lo, j)..];
            for (k, m) in y[oh * ow_n + lo..oh * ow_n + hi].iter_mut().enumerate() {
                let v = x[k * stride];
                *m = if v > *m { v } else { *m };
            }
        });
        let mut tap = vec![0usize; y.len()];
        g.for_each_tap_ordered(true, |oh, ih, j, lo, hi| {
            let t = (ih + g.padding[0] - oh * g.stride[0]) * g.kernel[1] + j;
            let x = &x[ih * w + g.in_col(lo, j)..];
            let row = oh * ow_n + lo..oh * ow_n + hi;
            for (k, (tap, &m)) in tap[row.clone()].iter_mut().zip(&y[row]).enumerate() {
                // arithmetic, not a select, which LLVM turns back into a branch
                let hit = (x[k * stride] == m) as usize;
                *tap = tap.wrapping_add(t.wrapping_sub(*tap).wrapping_mul(hit));
            }
        });
        // position = window origin (may be in the padding) + the tap's offset
        let kw = g.kernel[1];
        let offsets: Vec<isize> = (0..g.kernel[0] * kw).map(|t| ((t / kw) * w + t % kw) as isize).collect();
        for (oh, (idx, tap)) in idx.chunks_mut(ow_n).zip(tap.chunks(ow_n)).enumerate() {
            let row = ((oh * g.stride[0]) as isize - g.padding[0] as isize) * w as isize - g.padding[1] as isize;
            for (ow, (i, t)) in idx.iter_mut().zip(tap).enumerate() {
                *i = (row + (ow * stride) as isize + offsets[*t]) as i64;
            }
        }
    };
    if x.len() >= PAR_ELEMS && rayon::current_num_threads() > 1 {
        y.par_chunks_mut(op).zip(idx.par_chunks_mut(op).zip(x.par_chunks(ip))).for_each(plane);
    } else {
        y.chunks_mut(op).zip(idx.chunks_mut(op).zip(x.chunks(ip))).for_each(plane);
    }
}

/// The common 2×2, stride-2 max pooling of one plane: a compare tree in scan order
/// (`a b / c d`, strict `>` so the first maximum wins ties), the index by integer
/// arithmetic on the comparisons so that nothing branches on the data. Right only without
/// NaN in the windows: returns whether there was one (the plane is then to be redone),
/// found in the same pass instead of a scan of the plane before it (which read the input
/// twice: ~30 % of max pooling's time in `cnn_step`).
fn max_pool_2x2<T: Float>(x: &[T], w: usize, ow_n: usize, y: &mut [T], idx: &mut [i64]) -> bool {
    let mut nan = false;
    for (oh, (y, idx)) in y.chunks_mut(ow_n).zip(idx.chunks_mut(ow_n)).enumerate() {
        let top = &x[2 * oh * w..2 * oh * w + 2 * ow_n];
        let bottom = &x[(2 * oh + 1) * w..(2 * oh + 1) * w + 2 * ow_n];
        for (ow, ((y, i), (t, b))) in
            y.iter_mut().zip(idx.iter_mut()).zip(top.chunks_exact(2).zip(bottom.chunks_exact(2))).enumerate()
        {
            let (r, l) = ((t[1] > t[0]) as usize, (b[1] > b[0]) as usize);
            let (mt, mb) = (if t[1] > t[0] { t[1] } else { t[0] }, if b[1] > b[0] { b[1] } else { b[0] });
            let down = (mb > mt) as usize;
            *y = if mb > mt { mb } else { mt };
            *i = (2 * oh * w + 2 * ow + down * (w + l) + (1 - down) * r) as i64;
            nan |= t[0].is_nan() | t[1].is_nan() | b[0].is_nan() | b[1].is_nan();
        }
    }
    nan
}

/// `y[p, i] = x[p, idx[p, i]]` per plane: max pooling with known indices, and the adjoint
/// of [`max_pool2d_backward`].
pub fn gather_by_index<T: Float>(g: &PoolGeom, x: &[T], idx: &[i64], y: &mut [T]) {
    let (ip, op) = (g.in_plane(), g.out_plane());
    assert_eq!(x.len(), g.planes * ip, "gather_by_index: input length");
    assert_eq!(y.len(), g.planes * op, "gather_by_index: output length");
    assert_eq!(idx.len(), y.len(), "gather_by_index: indices length");
    if op == 0 || ip == 0 {
        return;
    }
    let work = |(y, (x, idx)): (&mut [T], (&[T], &[i64]))| {
        y.iter_mut().zip(idx).for_each(|(v, &i)| *v = x[i as usize]);
    };
    if y.len() >= PAR_ELEMS && rayon::current_num_threads() > 1 {
        y.par_chunks_mut(op).zip(x.par_chunks(ip).zip(idx.par_chunks(op))).for_each(work);
    } else {
        y.chunks_mut(op).zip(x.chunks(ip).zip(idx.chunks(op))).for_each(work);
    }
}

/// The gradient of max pooling: each output gradient is added to `gx` at its window's
/// argmax (pass zeros for the plain gradient).
///
/// ```
/// use nabla_tensor::conv::{max_pool2d_backward, PoolGeom};
/// let g = PoolGeom::new(1, [2, 4], [2, 2], [2, 2], [0, 0]).unwrap();
/// let mut gx = [0.0f32; 8];
/// max_pool2d_backward(&g, &[1.0, 2.0], &[1, 6], &mut gx);
/// assert_eq!(gx, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0]);
/// ```
pub fn max_pool2d_backward<T: Float>(g: &PoolGeom, gy: &[T], idx: &[i64], gx: &mut [T]) {
    pool_backward(g, gy, idx, gx, false);
}

/// [`max_pool2d_backward`] into `gx` whatever it holds: each plane is zeroed just before
/// its gradients are added, by the thread that adds them, instead of the caller zero-filling
/// the whole gradient first, on one thread.
///
/// ```
/// use nabla_tensor::conv::{max_pool2d_backward_overwrite, PoolGeom};
/// let g = PoolGeom::new(1, [2, 4], [2, 2], [2, 2], [0, 0]).unwrap();
/// let mut gx = [3.0f32; 8]; // any contents
/// max_pool2d_backward_overwrite(&g, &[1.0, 2.0], &[1, 6], &mut gx);
/// assert_eq!(gx, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0]);
/// ```
pub fn max_pool2d_backward_overwrite<T: Float>(g: &PoolGeom, gy: &[T], idx: &[i64], gx: &mut [T]) {
    pool_backward(g, gy, idx, gx, true);
}

/// [`max_pool2d_backward`], zeroing each plane first when `overwrite` is set.
fn pool_backward<T: Float>(g: &PoolGeom, gy: &[T], idx: &[i64], gx: &mut [T], overwrite: bool) {
    let (ip, op) = (g.in_plane(), g.out_plane());
    assert_eq!(gx.len(), g.planes * ip, "max_pool2d_backward: output length");
    assert_eq!(gy.len(), g.planes * op, "max_pool2d_backward: gradient length");
    assert_eq!(idx.len(), gy.len(), "max_pool2d_backward: indices length");
    if op == 0 || ip == 0 {
        if overwrite {
            gx.fill(T::zero());
        }
        return;
    }
    let work = |(gx, (gy, idx)): (&mut [T], (&[T], &[i64]))| {
        if overwrite {
            gx.fill(T::zero());
        }
        gy.iter().zip(idx).for_each(|(&v, &i)| gx[i as usize] += v);
    };
    if gx.len() >= PAR_ELEMS && rayon::current_num_threads() > 1 {
        gx.par_chunks_mut(ip).zip(gy.par_chunks(op).zip(idx.par_chunks(op))).for_each(work);
    } else {
        gx.chunks_mut(ip).zip(gy.chunks(op).zip(idx.chunks(op))).for_each(work);
    }
}

/// Average pooling with `count_include_pad` (PyTorch's default): each window's sum over
/// the input, divided by the window's size including padding.
///
/// ```
/// use nabla_tensor::conv::{avg_pool2d_forward, PoolGeom};
/// let g = PoolGeom::new(1, [2, 2], [2, 2], [2, 2], [1, 1]).unwrap();
/// let mut y = [0.0f32; 4];
/// avg_pool2d_forward(&g, &[4.0, 8.0, 12.0, 16.0], &mut y);
/// assert_eq!(y, [1.0, 2.0, 3.0, 4.0]); // each window holds one input and three zeros
/// ```
pub fn avg_pool2d_forward<T: Float>(g: &PoolGeom, x: &[T], y: &mut [T]) {
    assert_eq!(x.len(), g.planes * g.in_plane(), "avg_pool2d_forward: input length");
    assert_eq!(y.len(), g.planes * g.out_plane(), "avg_pool2d_forward: output length");
    let (w, ow_n) = (g.in_size[1], g.out_size[1]);
    let inv = inverse_divisors::<T>(g);
    per_plane(y, g.out_plane(), x, g.in_plane(), |y, x| {
        y.fill(T::zero());
        g.for_each_tap(|oh, ih, j, lo, hi| {
            for (k, s) in y[oh * ow_n + lo..oh * ow_n + hi].iter_mut().enumerate() {
                *s += x[ih * w + g.in_col(lo + k, j)];
            }
        });
        y.iter_mut().zip(&inv).for_each(|(v, &d)| *v *= d);
    });
}

/// `1 / divisor` of every output position of an average pooling.
fn inverse_divisors<T: Float>(g: &PoolGeom) -> Vec<T> {
    (0..g.out_size[0])
        .flat_map(|oh| {
            (0..g.out_size[1]).map(move |ow| T::cast(1.0 / (g.padded_span(oh, 0) * g.padded_span(ow, 1)) as f64))
        })
        .collect()
}

/// The gradient (adjoint) of [`avg_pool2d_forward`]: each output gradient spread evenly
/// over its window, added to `gx` (pass zeros for the plain gradient).
pub fn avg_pool2d_backward<T: Float>(g: &PoolGeom, gy: &[T], gx: &mut [T]) {
    assert_eq!(gx.len(), g.planes * g.in_plane(), "avg_pool2d_backward: output length");
    assert_eq!(gy.len(), g.planes * g.out_plane(), "avg_pool2d_backward: gradient length");
    let (w, ow_n) = (g.in_size[1], g.out_size[1]);
    let inv = inverse_divisors::<T>(g);
    per_plane(gx, g.in_plane(), gy, g.out_plane(), |gx, gy| {
        let scaled: Vec<T> = gy.iter().zip(&inv).map(|(&v, &d)| v * d).collect();
        g.for_each_tap(|oh, ih, j, lo, hi| {
            for (k, &v) in scaled[oh * ow_n + lo..oh * ow_n + hi].iter().enumerate() {
                gx[ih * w + g.in_col(lo + k, j)] += v;
            }
        });
    });
}

/// The input range of adaptive bin `i` of `out` over `input` elements: PyTorch's
/// `floor(i·in/out) .. ceil((i+1)·in/out)`.
///
/// ```
/// use nabla_tensor::conv::adaptive_bin;
/// assert_eq!((0..3).map(|i| adaptive_bin(i, 7, 3)).collect::<Vec<_>>(), vec![0..3, 2..5, 4..7]);
/// ```
pub fn adaptive_bin(i: usize, input: usize, out: usize) -> std::ops::Range<usize> {
    (i * input / out)..((i + 1) * input).div_ceil(out)
}

/// Adaptive average pooling of `planes` planes of `in_size` to `out_size`.
///
/// ```
/// let mut y = [0.0f64; 2];
/// nabla_tensor::conv::adaptive_avg_pool2d_forward(1, [1, 3], [1, 2], &[1.0, 2.0, 4.0], &mut y);
/// assert_eq!(y, [1.5, 3.0]); // bins [0, 2) and [1, 3)
/// ```
pub fn adaptive_avg_pool2d_forward<T: Float>(
    planes: usize,
    in_size: [usize; 2],
    out_size: [usize; 2],
    x: &[T],
    y: &mut [T],
) {
    let (ip, op) = (in_size[0] * in_size[1], out_size[0] * out_size[1]);
    assert_eq!(x.len(), planes * ip, "adaptive_avg_pool2d_forward: input length");
    assert_eq!(y.len(), planes * op, "adaptive_avg_pool2d_forward: output length");
    per_plane(y, op, x, ip, |y, x| {
        for oh in 0..out_size[0] {
            let rows = adaptive_bin(oh, in_size[0], out_size[0]);
            for ow in 0..out_size[1] {
                let cols = adaptive_bin(ow, in_size[1], out_size[1]);
                let n = T::cast((rows.len() * cols.len()) as f64);
                let s: T = rows
                    .clone()
                    .map(|h| x[h * in_size[1] + cols.start..h * in_size[1] + cols.end].iter().copied().sum::<T>())
                    .sum();
                y[oh * out_size[1] + ow] = s / n;
            }
        }
    });
}

/// The gradient (adjoint) of [`adaptive_avg_pool2d_forward`], added to `gx` (pass zeros for
/// the plain gradient).
pub fn adaptive_avg_pool2d_backward<T: Float>(
    planes: usize,
    in_size: [usize; 2],
    out_size: [usize; 2],
    gy: &[T],
    gx: &mut [T],
) {
    let (ip, op) = (in_size[0] * in_size[1], out_size[0] * out_size[1]);
    assert_eq!(gx.len(), planes * ip, "adaptive_avg_pool2d_backward: output length");
    assert_eq!(gy.len(), planes * op, "adaptive_avg_pool2d_backward: gradient length");
    per_plane(gx, ip, gy, op, |gx, gy| {
        for oh in 0..out_size[0] {
            let rows = adaptive_bin(oh, in_size[0], out_size[0]);
            for ow in 0..out_size[1] {
                let cols = adaptive_bin(ow, in_size[1], out_size[1]);
                let v = gy[oh * out_size[1] + ow] / T::cast((rows.len() * cols.len()) as f64);
                for h in rows.clone() {
                    gx[h * in_size[1] + cols.start..h * in_size[1] + cols.end].iter_mut().for_each(|e| *e += v);
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_close, values};
    use super::*;

    fn naive_pool(g: &PoolGeom, x: &[f64], avg: bool) -> Vec<f64> {
        let mut y = vec![];
        let [h, w] = g.in_size;
        for p in 0..g.planes {
            for oh in 0..g.out_size[0] {
                for ow in 0..g.out_size[1] {
                    let mut m = f64::NEG_INFINITY;
                    let mut s = 0.0;
                    for i in 0..g.kernel[0] {
                        for j in 0..g.kernel[1] {
                            let ih = (oh * g.stride[0] + i) as isize - g.padding[0] as isize;
                            let iw = (ow * g.stride[1] + j) as isize - g.padding[1] as isize;
                            if ih >= 0 && iw >= 0 && ih < h as isize && iw < w as isize {
                                let v = x[p * h * w + ih as usize * w + iw as usize];
                                m = m.max(v);
                                s += v;
                            }
                        }
                    }
                    y.push(if avg { s / (g.kernel[0] * g.kernel[1]) as f64 } else { m });
                }
            }
        }
        y
    }

    #[test]
    fn pooling_matches_direct_loops() {
        for (planes, size, k, s, p) in [
            (6, [8, 8], [2, 2], [2, 2], [0, 0]),
            (6, [8, 8], [3, 3], [2, 2], [1, 1]),
            (5, [7, 9], [3, 2], [1, 3], [1, 1]),
            (3, [5, 5], [5, 5], [1, 1], [2, 2]),
            (64 * 8, [28, 28], [2, 2], [2, 2], [0, 0]), // parallel planes
        ] {
            let g = PoolGeom::new(planes, size, k, s, p).unwrap();
            let x = values(planes * size[0] * size[1], 11);
            let n = planes * g.out_size[0] * g.out_size[1];
            let (mut y, mut idx) = (vec![0.0; n], vec![0i64; n]);
            max_pool2d_forward(&g, &x, &mut y, &mut idx);
            assert_eq!(y, naive_pool(&g, &x, false), "max {g:?}");
            for (i, (&v, &ix)) in y.iter().zip(&idx).enumerate() {
                assert_eq!(x[i / g.out_plane() * g.in_plane() + ix as usize], v);
            }
            let gy = values(n, 12);
            let mut gx = vec![0.0; x.len()];
            max_pool2d_backward(&g, &gy, &idx, &mut gx);
            // the same into a buffer of anything: every element is written
            let mut over = vec![f64::NAN; x.len()];
            max_pool2d_backward_overwrite(&g, &gy, &idx, &mut over);
            assert_eq!(over, gx, "max backward, overwriting {g:?}");
            // adjoint identity: <gy, gather(x)> = <scatter(gy), x>
            let mut gathered = vec![0.0; n];
            gather_by_index(&g, &x, &idx, &mut gathered);
            let lhs: f64 = gy.iter().zip(&gathered).map(|(a, b)| a * b).sum();
            let rhs: f64 = gx.iter().zip(&x).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "max adjoint {g:?}");
            let mut ya = vec![0.0; n];
            avg_pool2d_forward(&g, &x, &mut ya);
            assert_close(&format!("avg {g:?}"), &ya, &naive_pool(&g, &x, true), 1e-12);
            gx.fill(0.0);
            avg_pool2d_backward(&g, &gy, &mut gx);
            let lhs: f64 = gy.iter().zip(&ya).map(|(a, b)| a * b).sum();
            let rhs: f64 = gx.iter().zip(&x).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "avg adjoint {g:?}");
        }
    }

    #[test]
    fn max_pool_propagates_nan_and_ignores_padding() {
        let g = PoolGeom::new(1, [2, 2], [2, 2], [1, 1], [1, 1]).unwrap();
        let x = [-5.0f64, f64::NAN, -7.0, -6.0];
        let (mut y, mut idx) = (vec![0.0; 9], vec![0i64; 9]);
        max_pool2d_forward(&g, &x, &mut y, &mut idx);
        assert_eq!(y[0], -5.0); // the padding (no value) never wins over -5
        assert!(y[1].is_nan() && idx[1] == 1);
        assert_eq!((y[6], idx[6]), (-7.0, 2));
    }

    #[test]
    fn max_pool_2x2_propagates_nan_as_the_general_path_does() {
        // 2×2, stride 2 on a 3×5 plane: windows cover rows 0-1 and columns 0-3
        let g = PoolGeom::new(1, [3, 5], [2, 2], [2, 2], [0, 0]).unwrap();
        let mut x = [1.0f32, 3.0, 3.0, 0.0, 9.0, 3.0, 2.0, 0.0, 3.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0];
        let (mut y, mut idx) = ([0.0f32; 2], [0i64; 2]);
        // NaN only outside the windows: the plain result
        x[4] = f32::NAN;
        x[12] = f32::NAN;
        max_pool2d_forward(&g, &x, &mut y, &mut idx);
        assert_eq!((y, idx), ([3.0, 3.0], [1, 2]));
        // NaN in the first window, not its first element (a compare tree alone would lose it)
        x[6] = f32::NAN;
        max_pool2d_forward(&g, &x, &mut y, &mut idx);
        assert!(y[0].is_nan() && idx[0] == 6, "{y:?} {idx:?}");
        assert_eq!((y[1], idx[1]), (3.0, 2));
        // planes with NaN in some windows: each window agrees with a direct loop (NaN wins,
        // the last NaN of the window giving the index)
        let g = PoolGeom::new(2, [6, 6], [2, 2], [2, 2], [0, 0]).unwrap();
        let mut x = values(72, 31);
        for k in [5, 14, 40, 41, 71] {
            x[k] = f64::NAN;
        }
        let (mut y, mut idx) = (vec![0.0; 18], vec![0i64; 18]);
        max_pool2d_forward(&g, &x, &mut y, &mut idx);
        for (o, (&v, &i)) in y.iter().zip(&idx).enumerate() {
            let (p, oh, ow) = (o / 9, (o % 9) / 3, o % 3);
            let cells: Vec<usize> =
                [(0, 0), (0, 1), (1, 0), (1, 1)].iter().map(|(a, b)| (2 * oh + a) * 6 + 2 * ow + b).collect();
            match cells.iter().rev().find(|&&c| x[p * 36 + c].is_nan()) {
                Some(&c) => assert!(v.is_nan() && i == c as i64, "window {o}"),
                None => assert_eq!(
                    v,
                    naive_pool(
                        &PoolGeom::new(1, [6, 6], [2, 2], [2, 2], [0, 0]).unwrap(),
                        &x[p * 36..p * 36 + 36],
                        false
                    )[o % 9]
                ),
            }
        }
    }

    #[test]
    fn max_pool_ties_pick_the_first_maximum() {
        // equal values everywhere: every window reports its first in-plane element
        let g = PoolGeom::new(1, [3, 4], [3, 3], [1, 2], [1, 1]).unwrap();
        let n = g.out_size[0] * g.out_size[1];
        let (mut y, mut idx) = (vec![0.0f32; n], vec![0i64; n]);
        max_pool2d_forward(&g, &[2.0f32; 12], &mut y, &mut idx);
        assert_eq!(y, vec![2.0; n]);
        assert_eq!(idx, vec![0, 1, 0, 1, 4, 5]);
        // -inf everywhere, and a tie between later elements
        max_pool2d_forward(&g, &[f32::NEG_INFINITY; 12], &mut y, &mut idx);
        assert_eq!(idx, vec![0, 1, 0, 1, 4, 5]);
        // the 2×2, stride-2 path (odd sizes: the last row and column are dropped)
        let g2 = PoolGeom::new(1, [3, 5], [2, 2], [2, 2], [0, 0]).unwrap();
        let x2 = [1.0f32, 3.0, 3.0, 0.0, 9.0, 3.0, 2.0, 0.0, 3.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0];
        let (mut y2, mut idx2) = ([0.0f32; 2], [0i64; 2]);
        max_pool2d_forward(&g2, &x2, &mut y2, &mut idx2);
        assert_eq!((y2, idx2), ([3.0, 3.0], [1, 2]));
        max_pool2d_forward(&g2, &[5.0f32; 15], &mut y2, &mut idx2);
        assert_eq!(idx2, [0, 2]);
        let mut x = [0.0f32; 12];
        (x[5], x[6]) = (1.0, 1.0);
        max_pool2d_forward(&g, &x, &mut y, &mut idx);
        assert_eq!(idx, vec![5, 5, 5, 5, 5, 5]);
    }

    #[test]
    fn adaptive_pool_matches_direct_loops() {
        for (size, out) in [([7, 7], [3, 3]), ([5, 8], [2, 3]), ([4, 4], [4, 4]), ([3, 5], [6, 7]), ([6, 6], [1, 1])] {
            let planes = 4;
            let x = values(planes * size[0] * size[1], 13);
            let mut y = vec![0.0; planes * out[0] * out[1]];
            adaptive_avg_pool2d_forward(planes, size, out, &x, &mut y);
            let mut k = 0;
            for p in 0..planes {
                for oh in 0..out[0] {
                    for ow in 0..out[1] {
                        let h0 = (oh as f64 * size[0] as f64 / out[0] as f64).floor() as usize;
                        let h1 = ((oh + 1) as f64 * size[0] as f64 / out[0] as f64).ceil() as usize;
                        let w0 = (ow as f64 * size[1] as f64 / out[1] as f64).floor() as usize;
                        let w1 = ((ow + 1) as f64 * size[1] as f64 / out[1] as f64).ceil() as usize;
                        let mut s = 0.0;
                        for h in h0..h1 {
                            for w in w0..w1 {
                                s += x[p * size[0] * size[1] + h * size[1] + w];
                            }
                        }
                        assert!((y[k] - s / ((h1 - h0) * (w1 - w0)) as f64).abs() < 1e-12, "{size:?}->{out:?}");
                        k += 1;
                    }
                }
            }
            let gy = values(y.len(), 14);
            let mut gx = vec![0.0; x.len()];
            adaptive_avg_pool2d_backward(planes, size, out, &gy, &mut gx);
            let lhs: f64 = gy.iter().zip(&y).map(|(a, b)| a * b).sum();
            let rhs: f64 = gx.iter().zip(&x).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "adaptive adjoint {size:?}->{out:?}");
        }
    }
}
