//! Convolution and pooling kernels over contiguous NCHW buffers.
//!
//! A 2-D convolution of one geometry ([`ConvGeom`]) is a bilinear map
//! `C(x, w) = y` from the input space `[N, C_in, H, W]` and the weight space
//! `[C_out, C_in / groups, kH, kW]` to the output space `[N, C_out, OH, OW]`. Its two
//! adjoints are the other two kernels here, and every derivative of a convolution is one
//! of the three:
//!
//! - [`conv2d_forward`]: `y = C(x, w)` (+ bias), im2col and GEMM;
//! - [`conv2d_backward_input`]: `x̄ = Cₓᵀ(ȳ; w)`, GEMM and col2im: the input gradient, and
//!   also the transposed convolution ([`conv2d_backward_input_overwrite`] writes it into a
//!   buffer of any contents, zeroing each item's planes on the item's own thread);
//! - [`conv2d_backward_weight`]: `w̄ = C_wᵀ(ȳ; x)`, im2col and GEMM: the weight gradient.
//!
//! The im2col buffer is never built for the whole batch: work is cut into (image, band of
//! output rows) items whose column buffer fits in the L2 cache, and the items run on
//! rayon's threads, each with its own scratch buffer and single-threaded GEMMs. A 1×1,
//! stride-1, unpadded convolution skips im2col: the input already is the column matrix.
//!
//! Pooling kernels ([`max_pool2d_forward`], [`avg_pool2d_forward`],
//! [`adaptive_avg_pool2d_forward`] and their backward passes) work plane by plane and run
//! planes in parallel above [`PAR_ELEMS`] elements. `RawTensor` methods (`conv2d`,
//! `conv2d_backward_input`, `max_pool2d`, …) wrap the kernels for strided tensors of
//! either float dtype.

mod pooling;
mod tensor;

pub use pooling::{
    adaptive_avg_pool2d_backward, adaptive_avg_pool2d_forward, adaptive_bin, avg_pool2d_backward, avg_pool2d_forward,
    gather_by_index, max_pool2d_backward, max_pool2d_backward_overwrite, max_pool2d_forward, PoolGeom,
};

use crate::dtype::Float;
use crate::matmul::{MatRef, GEMM_PARALLEL_THRESHOLD};
use crate::scratch::{self, Use};
use rayon::prelude::*;

/// Elements above which pooling and channel sums split planes across threads.
pub const PAR_ELEMS: usize = 1 << 15;

/// Bytes of im2col buffer per work item: small enough to stay in a core's L2 cache
/// while the GEMM reads it back.
const COL_BUDGET_BYTES: usize = 1 << 19;

/// Multiply-adds above which a convolution splits its work items across threads.
const CONV_PAR_WORK: usize = 1 << 18;

/// The output size of a convolution or pooling window along one dimension, `None` if the
/// (dilated) kernel is larger than the padded input or `stride` is 0.
///
/// ```
/// use nabla_tensor::conv::conv_out_size;
/// assert_eq!(conv_out_size(56, 3, 1, 1, 1), Some(56));
/// assert_eq!(conv_out_size(9, 3, 2, 1, 2), Some(4));
/// assert_eq!(conv_out_size(2, 5, 1, 1, 1), None);
/// ```
pub fn conv_out_size(input: usize, kernel: usize, stride: usize, padding: usize, dilation: usize) -> Option<usize> {
    if kernel == 0 || stride == 0 || dilation == 0 {
        return None;
    }
    let span = dilation * (kernel - 1) + 1;
    let padded = input + 2 * padding;
    (padded >= span).then(|| (padded - span) / stride + 1)
}

/// The shape of one 2-D convolution: input `[batch, in_channels, H, W]`, weight
/// `[out_channels, in_channels / groups, kH, kW]`, output `[batch, out_channels, OH, OW]`.
///
/// `out_size` may be smaller than the natural size ([`conv_out_size`]): the convolution is
/// then restricted to its first output rows and columns, which is what a transposed
/// convolution with `output_padding` needs.
///
/// ```
/// use nabla_tensor::conv::ConvGeom;
/// let g = ConvGeom::new([16, 64, 56, 56], [64, 64, 3, 3], [1, 1], [1, 1], [1, 1], 1).unwrap();
/// assert_eq!(g.output_shape(), [16, 64, 56, 56]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// N.
    pub batch: usize,
    /// Channels of the input space.
    pub in_channels: usize,
    /// Spatial size of the input space.
    pub in_size: [usize; 2],
    /// Channels of the output space.
    pub out_channels: usize,
    /// Spatial size of the output space.
    pub out_size: [usize; 2],
    /// Kernel size.
    pub kernel: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Implicit zeros on each side.
    pub padding: [usize; 2],
    /// Spacing between kernel taps.
    pub dilation: [usize; 2],
    /// Channel groups (input and output channels are split into `groups` independent parts).
    pub groups: usize,
}

impl ConvGeom {
    /// The geometry of a convolution of an input of shape `input` by a weight of shape
    /// `weight`, with the natural output size. `None` if the shapes do not fit (channels,
    /// groups, a kernel larger than the padded input, a zero stride or dilation); the
    /// callers check those with their own messages first.
    pub fn new(
        input: [usize; 4],
        weight: [usize; 4],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Option<ConvGeom> {
        if groups == 0 || !weight[0].is_multiple_of(groups) || weight[1] * groups != input[1] {
            return None;
        }
        let oh = conv_out_size(input[2], weight[2], stride[0], padding[0], dilation[0])?;
        let ow = conv_out_size(input[3], weight[3], stride[1], padding[1], dilation[1])?;
        Some(ConvGeom {
            batch: input[0],
            in_channels: input[1],
            in_size: [input[2], input[3]],
            out_channels: weight[0],
            out_size: [oh, ow],
            kernel: [weight[2], weight[3]],
            stride,
            padding,
            dilation,
            groups,
        })
    }

    /// `[N, C_in, H, W]`.
    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.in_channels, self.in_size[0], self.in_size[1]]
    }

    /// `[N, C_out, OH, OW]`.
    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.out_channels, self.out_size[0], self.out_size[1]]
    }

    /// `[C_out, C_in / groups, kH, kW]`.
    pub fn weight_shape(&self) -> [usize; 4] {
        [self.out_channels, self.in_channels / self.groups, self.kernel[0], self.kernel[1]]
    }

    /// Multiply-adds of one of the three kernels.
    pub fn macs(&self) -> usize {
        self.batch * self.out_channels * self.out_size[0] * self.out_size[1] * self.k_group()
    }

    fn cin_g(&self) -> usize {
        self.in_channels / self.groups
    }
    fn cout_g(&self) -> usize {
        self.out_channels / self.groups
    }
    fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }
    /// Rows of a group's column matrix (the GEMM's inner dimension).
    fn k_group(&self) -> usize {
        self.cin_g() * self.taps()
    }
    fn in_plane(&self) -> usize {
        self.in_size[0] * self.in_size[1]
    }
    fn out_plane(&self) -> usize {
        self.out_size[0] * self.out_size[1]
    }
    fn in_image(&self) -> usize {
        self.in_channels * self.in_plane()
    }
    fn out_image(&self) -> usize {
        self.out_channels * self.out_plane()
    }
    /// Whether the column matrix of a group is the input itself (1×1, stride 1, no padding).
    fn pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0, 0] && self.in_size == self.out_size
    }
    /// Output rows per work item so that `col_rows` rows of columns fit the cache budget.
    fn band_rows(&self, col_rows: usize, elem: usize) -> usize {
        let per_row = (col_rows * self.out_size[1] * elem).max(1);
        (COL_BUDGET_BYTES / per_row).clamp(1, self.out_size[0].max(1))
    }
}

/// A destination shared by threads that write disjoint elements of it.
#[derive(Clone, Copy)]
struct SharedMut<T> {
    ptr: *mut T,
    len: usize,
}
// SAFETY: used only to let work items write disjoint parts of one buffer (checked by the
// bounds asserts in `gemm_into`; disjointness follows from the item partition).
unsafe impl<T: Send> Send for SharedMut<T> {}
unsafe impl<T: Send> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    fn new(s: &mut [T]) -> Self {
        SharedMut { ptr: s.as_mut_ptr(), len: s.len() }
    }
    /// `len` elements from `start`.
    ///
    /// # Safety
    /// No other live reference may touch `start..start + len`.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice(&self, start: usize, len: usize) -> &mut [T] {
        assert!(start + len <= self.len, "internal: conv destination out of bounds");
        std::slice::from_raw_parts_mut(self.ptr.add(start), len)
    }
}

/// `dst[off..] = (accumulate ? dst : 0) + a·b` for an `m×k` `a` and `k×n` `b`, `dst` row
/// stride `dst_rs`. `threaded` lets the GEMM use rayon (only when the caller does not).
///
/// # Safety
/// The `m×n` block of `dst` must not be accessed by anyone else during the call.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_into<T: Float>(
    dst: SharedMut<T>,
    off: usize,
    dst_rs: usize,
    (m, n, k): (usize, usize, usize),
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    accumulate: bool,
    threaded: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(off + (m - 1) * dst_rs + n <= dst.len, "internal: conv gemm destination out of bounds");
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                dst.slice(off + i * dst_rs, n).fill(T::zero());
            }
        }
        return;
    }
    let last_a = a.offset + (m - 1) * a.row_stride + (k - 1) * a.col_stride;
    let last_b = b.offset + (k - 1) * b.row_stride + (n - 1) * b.col_stride;
    assert!(last_a < a.data.len() && last_b < b.data.len(), "internal: conv gemm operand out of bounds");
    let par = if threaded && m * n * k >= GEMM_PARALLEL_THRESHOLD {
        crate::gemm_crate::Parallelism::Rayon(0)
    } else {
        crate::gemm_crate::Parallelism::None
    };
    crate::gemm_crate::gemm(
        m,
        n,
        k,
        dst.ptr.add(off),
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
    );
}

/// Output columns `lo..hi` whose input column `o * stride + shift` lies in `0..size`.
fn valid_span(out: usize, stride: usize, shift: isize, size: usize) -> (usize, usize) {
    let lo = if shift >= 0 { 0 } else { ((-shift) as usize).div_ceil(stride) };
    let hi = if (size as isize) <= shift { 0 } else { (size as isize - shift) as usize }.div_ceil(stride);
    let hi = hi.min(out);
    (lo.min(hi), hi)
}

/// The column matrix of channels `c0..c0 + channels` of one image, for output rows
/// `rows`: row `(c, i, j)` holds the input under kernel tap `(i, j)` of channel `c` for
/// every output position of the band (zeros in the padding).
fn im2col<T: Float>(g: &ConvGeom, img: &[T], c0: usize, channels: usize, rows: std::ops::Range<usize>, col: &mut [T]) {
    let ([h, w], [kh, kw], ow) = (g.in_size, g.kernel, g.out_size[1]);
    let ([sh, sw], [ph, pw], [dh, dw]) = (g.stride, g.padding, g.dilation);
    let ncols = rows.len() * ow;
    let mut r = 0;
    for c in c0..c0 + channels {
        let plane = &img[c * h * w..(c + 1) * h * w];
        for i in 0..kh {
            for j in 0..kw {
                let dst = &mut col[r * ncols..(r + 1) * ncols];
                r += 1;
                let shift = (j * dw) as isize - pw as isize;
                let (lo, hi) = valid_span(ow, sw, shift, w);
                for (band_row, oh) in rows.clone().enumerate() {
                    let out = &mut dst[band_row * ow..(band_row + 1) * ow];
                    let ih = (oh * sh + i * dh) as isize - ph as isize;
                    if ih < 0 || ih >= h as isize {
                        out.fill(T::zero());
                        continue;
                    }
                    let src = &plane[ih as usize * w..(ih as usize + 1) * w];
                    out[..lo].fill(T::zero());
                    out[hi..].fill(T::zero());
                    if sw == 1 {
                        let s0 = (lo as isize + shift) as usize;
                        out[lo..hi].copy_from_slice(&src[s0..s0 + hi - lo]);
                    } else {
                        for (o, v) in out[lo..hi].iter_mut().enumerate() {
                            *v = src[(((lo + o) * sw) as isize + shift) as usize];
                        }
                    }
                }
            }
        }
    }
}

/// Adds a column matrix back into the image it was taken from (the adjoint of
/// [`im2col`]): `planes` holds channels `c0..` of one image.
fn col2im<T: Float>(g: &ConvGeom, col: &[T], channels: usize, rows: std::ops::Range<usize>, planes: &mut [T]) {
    let ([h, w], [kh, kw], ow) = (g.in_size, g.kernel, g.out_size[1]);
    let ([sh, sw], [ph, pw], [dh, dw]) = (g.stride, g.padding, g.dilation);
    let ncols = rows.len() * ow;
    let mut r = 0;
    for c in 0..channels {
        let plane = &mut planes[c * h * w..(c + 1) * h * w];
        for i in 0..kh {
            for j in 0..kw {
                let src_row = &col[r * ncols..(r + 1) * ncols];
                r += 1;
                let shift = (j * dw) as isize - pw as isize;
                let (lo, hi) = valid_span(ow, sw, shift, w);
                for (band_row, oh) in rows.clone().enumerate() {
                    let ih = (oh * sh + i * dh) as isize - ph as isize;
                    if ih < 0 || ih >= h as isize || lo == hi {
                        continue;
                    }
                    let src = &src_row[band_row * ow + lo..band_row * ow + hi];
                    let dst = &mut plane[ih as usize * w..(ih as usize + 1) * w];
                    let d0 = ((lo * sw) as isize + shift) as usize;
                    if sw == 1 {
                        for (d, &s) in dst[d0..d0 + hi - lo].iter_mut().zip(src) {
                            *d += s;
                        }
                    } else {
                        for (o, &s) in src.iter().enumerate() {
                            dst[d0 + o * sw] += s;
                        }
                    }
                }
            }
        }
    }
}

/// Whether a convolution of `g` should split its items across threads.
fn split_items(g: &ConvGeom, items: usize) -> bool {
    items >= 2 && rayon::current_num_threads() > 1 && g.macs() >= CONV_PAR_WORK
}

/// `y = C(x, w) (+ bias)`: the forward convolution. `x` is `[N, C_in, H, W]`, `w`
/// `[C_out, C_in/groups, kH, kW]`, `bias` `[C_out]`; `y` (`[N, C_out, OH, OW]`) is overwritten.
///
/// ```
/// use nabla_tensor::conv::{conv2d_forward, ConvGeom};
/// // a 3×3 image, a 2×2 kernel of ones: each output sums a 2×2 window
/// let g = ConvGeom::new([1, 1, 3, 3], [1, 1, 2, 2], [1, 1], [0, 0], [1, 1], 1).unwrap();
/// let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
/// let mut y = vec![0.0f32; 4];
/// conv2d_forward(&g, &x, &[1.0; 4], None, &mut y);
/// assert_eq!(y, vec![8.0, 12.0, 20.0, 24.0]);
/// ```
pub fn conv2d_forward<T: Float>(g: &ConvGeom, x: &[T], w: &[T], bias: Option<&[T]>, y: &mut [T]) {
    assert_eq!(x.len(), g.batch * g.in_image(), "conv2d_forward: input length");
    assert_eq!(w.len(), g.out_channels * g.k_group(), "conv2d_forward: weight length");
    assert_eq!(y.len(), g.batch * g.out_image(), "conv2d_forward: output length");
    if let Some(b) = bias {
        assert_eq!(b.len(), g.out_channels, "conv2d_forward: bias length");
    }
    if y.is_empty() {
        return;
    }
    let (kg, cin_g, cout_g, ohw, ow) = (g.k_group(), g.cin_g(), g.cout_g(), g.out_plane(), g.out_size[1]);
    let band = g.band_rows(kg, std::mem::size_of::<T>());
    let bands = g.out_size[0].div_ceil(band);
    let items = g.batch * bands;
    let par = split_items(g, items);
    let dst = SharedMut::new(y);
    let run = |item: usize, scratch: &mut Vec<T>| {
        let (n, b) = (item / bands, item % bands);
        let rows = b * band..((b + 1) * band).min(g.out_size[0]);
        let (c0, ncols) = (rows.start * ow, rows.len() * ow);
        let img = &x[n * g.in_image()..(n + 1) * g.in_image()];
        for gr in 0..g.groups {
            let off = n * g.out_image() + gr * cout_g * ohw + c0;
            if let Some(bias) = bias {
                for co in 0..cout_g {
                    // SAFETY: this item owns columns c0..c0 + ncols of its image's rows.
                    unsafe { dst.slice(off + co * ohw, ncols) }.fill(bias[gr * cout_g + co]);
                }
            }
            let a = MatRef { data: w, offset: gr * cout_g * kg, row_stride: kg, col_stride: 1 };
            let b = if g.pointwise() {
                MatRef { data: img, offset: gr * cin_g * ohw + c0, row_stride: ohw, col_stride: 1 }
            } else {
                let col = scratch::grow(scratch, kg * ncols);
                im2col(g, img, gr * cin_g, cin_g, rows.clone(), col);
                MatRef { data: &*col, offset: 0, row_stride: ncols, col_stride: 1 }
            };
            // SAFETY: as above; items partition the output.
            unsafe { gemm_into(dst, off, ohw, (cout_g, ncols, kg), a, b, bias.is_some(), !par) };
        }
    };
    if par {
        (0..items).into_par_iter().for_each(|i| scratch::with(Use::Columns, |s| run(i, s)));
    } else {
        scratch::with(Use::Columns, |s| (0..items).for_each(|i| run(i, s)));
    }
}

/// `x̄ = Cₓᵀ(ȳ; w) (+ bias)`: the gradient of a convolution with respect to its input, and
/// the transposed convolution of `ȳ` (`[N, C_out, OH, OW]`) by `w`. `bias` (`[C_in]`) is
/// added per input channel. The result is *added* to `x̄` (`[N, C_in, H, W]`), as a gradient
/// accumulates: pass zeros for the plain value.
///
/// ```
/// use nabla_tensor::conv::{conv2d_backward_input, ConvGeom};
/// // the adjoint of summing 2×2 windows spreads each output back over its window
/// let g = ConvGeom::new([1, 1, 3, 3], [1, 1, 2, 2], [1, 1], [0, 0], [1, 1], 1).unwrap();
/// let mut gx = vec![0.0f32; 9];
/// conv2d_backward_input(&g, &[1.0; 4], &[1.0; 4], None, &mut gx);
/// assert_eq!(gx, vec![1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
/// ```
pub fn conv2d_backward_input<T: Float>(g: &ConvGeom, gy: &[T], w: &[T], bias: Option<&[T]>, gx: &mut [T]) {
    backward_input(g, gy, w, bias, gx, false);
}

/// [`conv2d_backward_input`] into `gx` whatever it holds: each work item zeroes the planes
/// it owns just before it accumulates into them, on its own thread and while they are about
/// to be in its cache, instead of the caller zero-filling the whole gradient first, on one
/// thread.
///
/// ```
/// use nabla_tensor::conv::{conv2d_backward_input_overwrite, ConvGeom};
/// let g = ConvGeom::new([1, 1, 3, 3], [1, 1, 2, 2], [1, 1], [0, 0], [1, 1], 1).unwrap();
/// let mut gx = vec![5.0f32; 9]; // any contents
/// conv2d_backward_input_overwrite(&g, &[1.0; 4], &[1.0; 4], None, &mut gx);
/// assert_eq!(gx, vec![1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
/// ```
pub fn conv2d_backward_input_overwrite<T: Float>(g: &ConvGeom, gy: &[T], w: &[T], bias: Option<&[T]>, gx: &mut [T]) {
    backward_input(g, gy, w, bias, gx, true);
}

/// [`conv2d_backward_input`], zeroing each item's planes first when `overwrite` is set.
fn backward_input<T: Float>(g: &ConvGeom, gy: &[T], w: &[T], bias: Option<&[T]>, gx: &mut [T], overwrite: bool) {
    assert_eq!(gy.len(), g.batch * g.out_image(), "conv2d_backward_input: gradient length");
    assert_eq!(w.len(), g.out_channels * g.k_group(), "conv2d_backward_input: weight length");
    assert_eq!(gx.len(), g.batch * g.in_image(), "conv2d_backward_input: output length");
    if let Some(b) = bias {
        assert_eq!(b.len(), g.in_channels, "conv2d_backward_input: bias length");
    }
    if gx.is_empty() {
        return;
    }
    let (kg, cin_g, cout_g, ohw, hw, ow, taps) =
        (g.k_group(), g.cin_g(), g.cout_g(), g.out_plane(), g.in_plane(), g.out_size[1], g.taps());
    // Items are (image, group, block of input channels): col2im of different blocks
    // writes different planes, so items never overlap. Blocks are split only when there
    // are too few images to keep the threads busy.
    let threads = rayon::current_num_threads();
    let blocks =
        if g.batch * g.groups >= 2 * threads { 1 } else { (2 * threads).div_ceil(g.batch * g.groups).min(cin_g) };
    let block = cin_g.div_ceil(blocks.max(1)).max(1);
    let blocks = cin_g.div_ceil(block);
    let items = g.batch * g.groups * blocks;
    let par = split_items(g, items);
    let band = g.band_rows(block * taps, std::mem::size_of::<T>());
    let dst = SharedMut::new(gx);
    let run = |item: usize, scratch: &mut Vec<T>| {
        let (n, gr, blk) = (item / (g.groups * blocks), (item / blocks) % g.groups, item % blocks);
        let cb = blk * block..((blk + 1) * block).min(cin_g);
        let c_first = gr * cin_g + cb.start;
        let plane_off = n * g.in_image() + c_first * hw;
        if overwrite {
            // SAFETY: this item owns the planes of its channel block.
            unsafe { dst.slice(plane_off, cb.len() * hw) }.fill(T::zero());
        }
        let mut r0 = 0;
        while r0 < g.out_size[0] {
            let rows = r0..(r0 + band).min(g.out_size[0]);
            r0 = rows.end;
            let (c0, ncols) = (rows.start * ow, rows.len() * ow);
            // A = w[group, :, block]ᵀ : (block taps) × cout_g
            let a = MatRef { data: w, offset: gr * cout_g * kg + cb.start * taps, row_stride: 1, col_stride: kg };
            let b =
                MatRef { data: gy, offset: n * g.out_image() + gr * cout_g * ohw + c0, row_stride: ohw, col_stride: 1 };
            if g.pointwise() {
                // SAFETY: this item owns the planes of its channel block.
                unsafe { gemm_into(dst, plane_off + c0, hw, (cb.len(), ncols, cout_g), a, b, true, !par) };
            } else {
                let rows_col = cb.len() * taps;
                let col = SharedMut::new(scratch::grow(scratch, rows_col * ncols));
                // SAFETY: `col` is this item's own scratch.
                unsafe { gemm_into(col, 0, ncols, (rows_col, ncols, cout_g), a, b, false, !par) };
                // SAFETY: this item owns the planes of its channel block.
                let planes = unsafe { dst.slice(plane_off, cb.len() * hw) };
                col2im(g, &scratch[..rows_col * ncols], cb.len(), rows, planes);
            }
        }
        if let Some(bias) = bias {
            // SAFETY: as above.
            let planes = unsafe { dst.slice(plane_off, cb.len() * hw) };
            for (c, p) in planes.chunks_mut(hw).enumerate() {
                let v = bias[c_first + c];
                p.iter_mut().for_each(|e| *e += v);
            }
        }
    };
    if par {
        (0..items).into_par_iter().for_each(|i| scratch::with(Use::Columns, |s| run(i, s)));
    } else {
        scratch::with(Use::Columns, |s| (0..items).for_each(|i| run(i, s)));
    }
}

/// `w̄ = C_wᵀ(ȳ; x)`: the gradient of a convolution with respect to its weight, summed over
/// the batch. `x` is `[N, C_in, H, W]`, `gy` `[N, C_out, OH, OW]`; `gw`
/// (`[C_out, C_in/groups, kH, kW]`) is overwritten.
///
/// ```
/// use nabla_tensor::conv::{conv2d_backward_weight, ConvGeom};
/// let g = ConvGeom::new([1, 1, 3, 3], [1, 1, 2, 2], [1, 1], [0, 0], [1, 1], 1).unwrap();
/// let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
/// let mut gw = vec![0.0f32; 4];
/// conv2d_backward_weight(&g, &x, &[1.0; 4], &mut gw);
/// assert_eq!(gw, vec![8.0, 12.0, 20.0, 24.0]); // tap (i, j) sees x[i.., j..]
/// ```
pub fn conv2d_backward_weight<T: Float>(g: &ConvGeom, x: &[T], gy: &[T], gw: &mut [T]) {
    assert_eq!(x.len(), g.batch * g.in_image(), "conv2d_backward_weight: input length");
    assert_eq!(gy.len(), g.batch * g.out_image(), "conv2d_backward_weight: gradient length");
    assert_eq!(gw.len(), g.out_channels * g.k_group(), "conv2d_backward_weight: output length");
    gw.fill(T::zero());
    if gw.is_empty() || gy.is_empty() {
        return;
    }
    let (kg, cin_g, cout_g, ohw, ow) = (g.k_group(), g.cin_g(), g.cout_g(), g.out_plane(), g.out_size[1]);
    let band = g.band_rows(kg, std::mem::size_of::<T>());
    let bands = g.out_size[0].div_ceil(band);
    let items = g.batch * bands;
    // Items are summed into per-split accumulators, so any split of them is exact.
    let accumulate = |item: usize, acc: &mut [T], scratch: &mut Vec<T>, threaded: bool| {
        let acc = SharedMut::new(acc);
        let (n, b) = (item / bands, item % bands);
        let rows = b * band..((b + 1) * band).min(g.out_size[0]);
        let (c0, ncols) = (rows.start * ow, rows.len() * ow);
        let img = &x[n * g.in_image()..(n + 1) * g.in_image()];
        for gr in 0..g.groups {
            let a =
                MatRef { data: gy, offset: n * g.out_image() + gr * cout_g * ohw + c0, row_stride: ohw, col_stride: 1 };
            let b = if g.pointwise() {
                MatRef { data: img, offset: gr * cin_g * ohw + c0, row_stride: 1, col_stride: ohw }
            } else {
                let col = scratch::grow(scratch, kg * ncols);
                im2col(g, img, gr * cin_g, cin_g, rows.clone(), col);
                MatRef { data: &*col, offset: 0, row_stride: 1, col_stride: ncols }
            };
            // SAFETY: `acc` is the caller's own accumulator.
            unsafe { gemm_into(acc, gr * cout_g * kg, kg, (cout_g, kg, ncols), a, b, true, threaded) };
        }
    };
    if split_items(g, items) {
        // A few splits per thread: work stealing evens out a slow thread, and each split
        // costs one weight-sized accumulator.
        let min_len = items.div_ceil(4 * rayon::current_num_threads()).max(1);
        let len = gw.len();
        let total = (0..items)
            .into_par_iter()
            .with_min_len(min_len)
            .fold(
                || vec![T::zero(); len],
                |mut acc, item| {
                    scratch::with(Use::Columns, |s| accumulate(item, &mut acc, s, false));
                    acc
                },
            )
            .reduce_with(|mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += *y);
                a
            });
        if let Some(t) = total {
            gw.copy_from_slice(&t);
        }
    } else {
        scratch::with(Use::Columns, |s| (0..items).for_each(|item| accumulate(item, gw, s, true)));
    }
}

/// Sums `[N, C, plane]` over N and the plane: the gradient of a per-channel bias.
///
/// ```
/// let mut out = [0.0f32; 2];
/// nabla_tensor::conv::channel_sum(2, 2, 3, &[1.0; 12], &mut out);
/// assert_eq!(out, [6.0, 6.0]);
/// ```
pub fn channel_sum<T: Float>(batch: usize, channels: usize, plane: usize, y: &[T], out: &mut [T]) {
    assert_eq!(y.len(), batch * channels * plane, "channel_sum: input length");
    assert_eq!(out.len(), channels, "channel_sum: output length");
    let sum_channel = |c: usize| -> T {
        let mut s = T::zero();
        for n in 0..batch {
            // sixteen running sums: an in-order sum waited on each addition's latency, one
            // element at a time (about a tenth of `cnn_step`)
            s += crate::reduce::lane_sum::<T, 16>(&y[(n * channels + c) * plane..(n * channels + c + 1) * plane]);
        }
        s
    };
    if y.len() >= PAR_ELEMS && rayon::current_num_threads() > 1 {
        out.par_iter_mut().enumerate().for_each(|(c, o)| *o = sum_channel(c));
    } else {
        out.iter_mut().enumerate().for_each(|(c, o)| *o = sum_channel(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DType, Layout, RawTensor};

    /// Deterministic values in [-1, 1).
    pub(super) fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// Direct loops: y = C(x, w) + b, gx = Cₓᵀ(gy; w), gw = C_wᵀ(gy; x).
    #[allow(clippy::needless_range_loop)] // the reference reads best as plain index loops
    fn naive(g: &ConvGeom, x: &[f64], w: &[f64], b: &[f64], gy: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut y = vec![0.0; g.batch * g.out_image()];
        let mut gx = vec![0.0; x.len()];
        let mut gw = vec![0.0; w.len()];
        let (cin_g, cout_g) = (g.cin_g(), g.cout_g());
        let ([h, wd], [oh_n, ow_n], [kh, kw]) = (g.in_size, g.out_size, g.kernel);
        for n in 0..g.batch {
            for co in 0..g.out_channels {
                let gr = co / cout_g;
                for oh in 0..oh_n {
                    for ow in 0..ow_n {
                        let yi = ((n * g.out_channels + co) * oh_n + oh) * ow_n + ow;
                        let mut acc = b[co];
                        for ci in 0..cin_g {
                            for i in 0..kh {
                                for j in 0..kw {
                                    let ih = (oh * g.stride[0] + i * g.dilation[0]) as isize - g.padding[0] as isize;
                                    let iw = (ow * g.stride[1] + j * g.dilation[1]) as isize - g.padding[1] as isize;
                                    if ih < 0 || iw < 0 || ih >= h as isize || iw >= wd as isize {
                                        continue;
                                    }
                                    let xi =
                                        ((n * g.in_channels + gr * cin_g + ci) * h + ih as usize) * wd + iw as usize;
                                    let wi = ((co * cin_g + ci) * kh + i) * kw + j;
                                    acc += x[xi] * w[wi];
                                    gx[xi] += gy[yi] * w[wi];
                                    gw[wi] += gy[yi] * x[xi];
                                }
                            }
                        }
                        y[yi] = acc;
                    }
                }
            }
        }
        (y, gx, gw)
    }

    #[test]
    fn channel_sum_matches_a_sum_in_order() {
        // planes shorter than, equal to and longer than the sixteen running sums, with a
        // remainder, and one large enough to run on the thread pool
        for (batch, channels, plane) in [(3, 2, 1), (2, 3, 15), (2, 2, 16), (3, 2, 17), (2, 5, 37), (64, 32, 784)] {
            let y = values(batch * channels * plane, plane as u64);
            let mut got = vec![f64::NAN; channels];
            channel_sum(batch, channels, plane, &y, &mut got);
            let want: Vec<f64> = (0..channels)
                .map(|c| (0..batch).flat_map(|n| &y[(n * channels + c) * plane..][..plane]).sum())
                .collect();
            assert_close(&format!("channel_sum {batch}x{channels}x{plane}"), &got, &want, 1e-12);
        }
    }

    pub(super) fn assert_close(what: &str, a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{what}[{i}]: {x} vs {y}");
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        input: [usize; 4],
        weight: [usize; 4],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) {
        let g = ConvGeom::new(input, weight, stride, padding, dilation, groups).expect("valid geometry");
        let x = values(g.batch * g.in_image(), 1);
        let w = values(weight.iter().product(), 2);
        let b = values(g.out_channels, 3);
        let gy = values(g.batch * g.out_image(), 4);
        let (ry, rgx, rgw) = naive(&g, &x, &w, &b, &gy);
        let ctx = format!("{input:?} {weight:?} s{stride:?} p{padding:?} d{dilation:?} g{groups}");
        let mut y = vec![0.0; ry.len()];
        conv2d_forward(&g, &x, &w, Some(&b), &mut y);
        assert_close(&format!("forward {ctx}"), &y, &ry, 1e-12);
        let mut gx = vec![0.0; rgx.len()];
        conv2d_backward_input(&g, &gy, &w, None, &mut gx);
        assert_close(&format!("input grad {ctx}"), &gx, &rgx, 1e-12);
        // the same into a buffer of anything: every element is written
        let mut gx = vec![f64::NAN; rgx.len()];
        conv2d_backward_input_overwrite(&g, &gy, &w, None, &mut gx);
        assert_close(&format!("input grad, overwriting {ctx}"), &gx, &rgx, 1e-12);
        let mut gw = vec![7.0; rgw.len()];
        conv2d_backward_weight(&g, &x, &gy, &mut gw);
        assert_close(&format!("weight grad {ctx}"), &gw, &rgw, 1e-12);
        // f32 runs the same code paths
        let f = |v: &[f64]| v.iter().map(|&e| e as f32).collect::<Vec<f32>>();
        let mut y32 = vec![0.0f32; ry.len()];
        conv2d_forward(&g, &f(&x), &f(&w), Some(&f(&b)), &mut y32);
        assert_close(&format!("forward f32 {ctx}"), &y32.iter().map(|&e| e as f64).collect::<Vec<_>>(), &ry, 1e-4);
    }

    #[test]
    fn conv_kernels_match_direct_loops() {
        check([2, 3, 7, 7], [5, 3, 3, 3], [1, 1], [1, 1], [1, 1], 1);
        check([2, 4, 9, 9], [6, 2, 3, 3], [2, 2], [1, 1], [2, 2], 2);
        check([1, 6, 11, 6], [9, 2, 2, 3], [3, 2], [2, 1], [1, 3], 3);
        check([3, 4, 5, 8], [4, 4, 1, 1], [1, 1], [0, 0], [1, 1], 1); // pointwise
        check([2, 4, 5, 8], [6, 2, 1, 1], [1, 1], [0, 0], [1, 1], 2); // grouped pointwise
        check([2, 3, 6, 6], [2, 3, 1, 1], [2, 2], [1, 1], [1, 1], 1); // 1×1 but strided and padded
        check([1, 2, 4, 4], [3, 2, 5, 5], [1, 1], [2, 2], [1, 1], 1); // kernel covers the padded input
        check([2, 4, 13, 1], [4, 2, 3, 1], [2, 1], [1, 0], [1, 1], 2); // a conv1d
    }

    #[test]
    fn conv_kernels_split_bands_and_threads() {
        // 64 channels × 3×3 taps × 24 columns × 8 bytes ≈ 110 KB per output row: several
        // bands per image, and enough work to run items on both threads.
        check([3, 64, 24, 24], [8, 64, 3, 3], [1, 1], [1, 1], [1, 1], 1);
        // one image: the input gradient splits channel blocks instead of images
        check([1, 64, 20, 20], [16, 64, 3, 3], [1, 1], [1, 1], [1, 1], 1);
    }

    #[test]
    fn restricted_output_size_is_a_prefix() {
        // A geometry whose out_size is smaller than the natural size computes its prefix.
        let full = ConvGeom::new([1, 2, 6, 6], [3, 2, 3, 3], [2, 2], [1, 1], [1, 1], 1).unwrap();
        let mut small = full;
        small.out_size = [2, 3];
        let x = values(72, 5);
        let w = values(54, 6);
        let mut y_full = vec![0.0; 3 * 9];
        conv2d_forward(&full, &x, &w, None, &mut y_full);
        let mut y_small = vec![0.0; 3 * 6];
        conv2d_forward(&small, &x, &w, None, &mut y_small);
        for c in 0..3 {
            for i in 0..2 {
                for j in 0..3 {
                    assert_eq!(y_small[(c * 2 + i) * 3 + j], y_full[(c * 3 + i) * 3 + j]);
                }
            }
        }
        let gy = values(18, 7);
        let (_, rgx, rgw) = naive(&small, &x, &w, &[0.0; 3], &gy);
        let mut gx = vec![0.0; 72];
        conv2d_backward_input(&small, &gy, &w, None, &mut gx);
        assert_close("restricted input grad", &gx, &rgx, 1e-12);
        let mut gw = vec![0.0; 54];
        conv2d_backward_weight(&small, &x, &gy, &mut gw);
        assert_close("restricted weight grad", &gw, &rgw, 1e-12);
    }

    #[test]
    fn raw_conv_reads_strided_operands() {
        let g = ConvGeom::new([2, 3, 5, 4], [2, 3, 2, 2], [1, 1], [0, 1], [1, 1], 1).unwrap();
        let x = values(120, 8);
        let w = values(24, 9);
        let xc = RawTensor::from_vec(x.clone(), &[2, 3, 5, 4]);
        // the same values stored as [2, 3, 4, 5] and viewed transposed
        let xt = RawTensor::from_vec(xc.transpose(2, 3).to_vec::<f64>(), &[2, 3, 4, 5]).transpose(2, 3);
        assert!(!xt.is_contiguous());
        let wr = RawTensor::from_vec(w, &[2, 3, 2, 2]);
        let a = xc.conv2d(&g, &wr, None).unwrap().to_vec::<f64>();
        let b = xt.conv2d(&g, &wr, None).unwrap().to_vec::<f64>();
        assert_eq!(a, b);
        let gy = RawTensor::full(&[1], 1.0, DType::F64).with_layout(Layout::from_parts(&g.output_shape(), &[0; 4], 0));
        let gw = xt.conv2d_backward_weight(&g, &gy).unwrap().to_vec::<f64>();
        let (_, _, rgw) = naive(&g, &x, &wr.to_vec::<f64>(), &[0.0; 2], &vec![1.0; 2 * 2 * 5 * 5]);
        assert_close("weight grad of a broadcast gradient", &gw, &rgw, 1e-12);
        assert!(xc.conv2d(&g, &RawTensor::zeros(&[2, 3, 2, 2], DType::F32), None).is_err());
    }
}
