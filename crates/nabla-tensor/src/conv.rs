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
//!   also the transposed convolution;
//! - [`conv2d_backward_weight`]: `w̄ = C_wᵀ(ȳ; x)`, im2col and GEMM: the weight gradient.
//!
//! The im2col buffer is never built for the whole batch: work is cut into (image, band of
//! output rows) items whose column buffer fits in the L2 cache, and the items run on
//! rayon's threads, each with its own scratch buffer and single-threaded GEMMs. A 1×1,
//! stride-1, unpadded convolution skips im2col: the input already is the column matrix.
//!
//! Pooling kernels ([`max_pool2d_forward`], [`avg_pool2d_forward`],
//! [`adaptive_avg_pool2d_forward`] and their backward passes) work plane by plane and run
//! planes in parallel above [`PAR_ELEMS`] elements.

use crate::dtype::{DType, Float};
use crate::error::{Error, Result};
use crate::iter::for_each_row_n;
use crate::layout::Layout;
use crate::matmul::{MatRef, GEMM_PARALLEL_THRESHOLD};
use crate::raw::RawTensor;
use crate::storage::BufferElement;
use rayon::prelude::*;

/// Elements above which pooling and channel sums split planes across threads.
pub const PAR_ELEMS: usize = 1 << 15;

/// Bytes of im2col buffer per work item: small enough to stay in a core's L2 cache
/// while the GEMM reads it back.
const COL_BUDGET_BYTES: usize = 1 << 20;

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
        if groups == 0 || weight[0] % groups != 0 || weight[1] * groups != input[1] {
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
fn im2col<T: Float>(
    g: &ConvGeom,
    img: &[T],
    c0: usize,
    channels: usize,
    rows: std::ops::Range<usize>,
    col: &mut [T],
) {
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
                scratch.resize(kg * ncols, T::zero());
                im2col(g, img, gr * cin_g, cin_g, rows.clone(), scratch);
                MatRef { data: &scratch[..], offset: 0, row_stride: ncols, col_stride: 1 }
            };
            // SAFETY: as above; items partition the output.
            unsafe { gemm_into(dst, off, ohw, (cout_g, ncols, kg), a, b, bias.is_some(), !par) };
        }
    };
    if par {
        (0..items).into_par_iter().for_each_init(Vec::new, |s, i| run(i, s));
    } else {
        let mut scratch = Vec::new();
        (0..items).for_each(|i| run(i, &mut scratch));
    }
}

/// `x̄ = Cₓᵀ(ȳ; w) (+ bias)`: the gradient of a convolution with respect to its input, and
/// the transposed convolution of `ȳ` (`[N, C_out, OH, OW]`) by `w`. `bias` (`[C_in]`) is
/// added per input channel; `x̄` (`[N, C_in, H, W]`) is overwritten.
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
    assert_eq!(gy.len(), g.batch * g.out_image(), "conv2d_backward_input: gradient length");
    assert_eq!(w.len(), g.out_channels * g.k_group(), "conv2d_backward_input: weight length");
    assert_eq!(gx.len(), g.batch * g.in_image(), "conv2d_backward_input: output length");
    if let Some(b) = bias {
        assert_eq!(b.len(), g.in_channels, "conv2d_backward_input: bias length");
    }
    gx.fill(T::zero());
    if gx.is_empty() {
        return;
    }
    let (kg, cin_g, cout_g, ohw, hw, ow, taps) =
        (g.k_group(), g.cin_g(), g.cout_g(), g.out_plane(), g.in_plane(), g.out_size[1], g.taps());
    // Items are (image, group, block of input channels): col2im of different blocks
    // writes different planes, so items never overlap. Blocks are split only when there
    // are too few images to keep the threads busy.
    let threads = rayon::current_num_threads();
    let blocks = if g.batch * g.groups >= 2 * threads { 1 } else { (2 * threads).div_ceil(g.batch * g.groups).min(cin_g) };
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
        let mut r0 = 0;
        while r0 < g.out_size[0] {
            let rows = r0..(r0 + band).min(g.out_size[0]);
            r0 = rows.end;
            let (c0, ncols) = (rows.start * ow, rows.len() * ow);
            // A = w[group, :, block]ᵀ : (block taps) × cout_g
            let a = MatRef { data: w, offset: gr * cout_g * kg + cb.start * taps, row_stride: 1, col_stride: kg };
            let b = MatRef { data: gy, offset: n * g.out_image() + gr * cout_g * ohw + c0, row_stride: ohw, col_stride: 1 };
            if g.pointwise() {
                // SAFETY: this item owns the planes of its channel block.
                unsafe { gemm_into(dst, plane_off + c0, hw, (cb.len(), ncols, cout_g), a, b, false, !par) };
            } else {
                let rows_col = cb.len() * taps;
                scratch.resize(rows_col * ncols, T::zero());
                let col = SharedMut::new(&mut scratch[..rows_col * ncols]);
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
        (0..items).into_par_iter().for_each_init(Vec::new, |s, i| run(i, s));
    } else {
        let mut scratch = Vec::new();
        (0..items).for_each(|i| run(i, &mut scratch));
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
    // Items are summed into per-thread accumulators, so any split of them is exact.
    let accumulate = |range: std::ops::Range<usize>, acc: &mut [T], threaded: bool| {
        let acc = SharedMut::new(acc);
        let mut scratch = Vec::new();
        for item in range {
            let (n, b) = (item / bands, item % bands);
            let rows = b * band..((b + 1) * band).min(g.out_size[0]);
            let (c0, ncols) = (rows.start * ow, rows.len() * ow);
            let img = &x[n * g.in_image()..(n + 1) * g.in_image()];
            for gr in 0..g.groups {
                let a = MatRef { data: gy, offset: n * g.out_image() + gr * cout_g * ohw + c0, row_stride: ohw, col_stride: 1 };
                let b = if g.pointwise() {
                    MatRef { data: img, offset: gr * cin_g * ohw + c0, row_stride: 1, col_stride: ohw }
                } else {
                    scratch.resize(kg * ncols, T::zero());
                    im2col(g, img, gr * cin_g, cin_g, rows.clone(), &mut scratch);
                    MatRef { data: &scratch[..], offset: 0, row_stride: 1, col_stride: ncols }
                };
                // SAFETY: `acc` is owned by this call.
                unsafe { gemm_into(acc, gr * cout_g * kg, kg, (cout_g, kg, ncols), a, b, true, threaded) };
            }
        }
    };
    let threads = rayon::current_num_threads();
    if split_items(g, items) {
        let parts = threads.min(items);
        let per = items.div_ceil(parts);
        let partial = (0..parts)
            .into_par_iter()
            .map(|p| {
                let mut acc = vec![T::zero(); gw.len()];
                accumulate(p * per..((p + 1) * per).min(items), &mut acc, false);
                acc
            })
            .reduce_with(|mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += *y);
                a
            });
        if let Some(p) = partial {
            gw.copy_from_slice(&p);
        }
    } else {
        accumulate(0..items, gw, true);
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
            let p = &y[(n * channels + c) * plane..(n * channels + c + 1) * plane];
            s += p.iter().copied().sum::<T>();
        }
        s
    };
    if y.len() >= PAR_ELEMS && rayon::current_num_threads() > 1 {
        out.par_iter_mut().enumerate().for_each(|(c, o)| *o = sum_channel(c));
    } else {
        out.iter_mut().enumerate().for_each(|(c, o)| *o = sum_channel(c));
    }
}

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

    fn in_plane(&self) -> usize {
        self.in_size[0] * self.in_size[1]
    }
    fn out_plane(&self) -> usize {
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
    fn for_each_tap(&self, mut f: impl FnMut(usize, usize, usize, usize, usize)) {
        let spans: Vec<(usize, usize)> = (0..self.kernel[1])
            .map(|j| valid_span(self.out_size[1], self.stride[1], j as isize - self.padding[1] as isize, self.in_size[1]))
            .collect();
        for oh in 0..self.out_size[0] {
            for i in 0..self.kernel[0] {
                let ih = (oh * self.stride[0] + i) as isize - self.padding[0] as isize;
                if ih < 0 || ih >= self.in_size[0] as isize {
                    continue;
                }
                for (j, &(lo, hi)) in spans.iter().enumerate() {
                    f(oh, ih as usize, j, lo, hi);
                }
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
    let (w, ow_n) = (g.in_size[1], g.out_size[1]);
    let first_cols: Vec<usize> = (0..ow_n).map(|ow| g.window(0, ow).1.start).collect();
    let plane = |(y, (idx, x)): (&mut [T], (&mut [i64], &[T]))| {
        y.fill(T::neg_infinity());
        // a window wholly of -inf (or of padding) reports its first in-plane element
        for (oh, row) in idx.chunks_mut(ow_n).enumerate() {
            let first_row = g.window(oh, 0).0.start * w;
            row.iter_mut().zip(&first_cols).for_each(|(i, &c)| *i = (first_row + c) as i64);
        }
        // NaN is rare: test once per plane and keep the common loop to one compare
        let has_nan = x.iter().fold(false, |a, v| a | v.is_nan());
        let stride = g.stride[1];
        g.for_each_tap(|oh, ih, j, lo, hi| {
            let (m, best) = (&mut y[oh * ow_n + lo..oh * ow_n + hi], &mut idx[oh * ow_n + lo..oh * ow_n + hi]);
            let first = ih * w + g.in_col(lo, j);
            let x = &x[first..];
            // first maximum wins ties; NaN wins and propagates (PyTorch's rule)
            if has_nan {
                for (k, (m, best)) in m.iter_mut().zip(best).enumerate() {
                    let v = x[k * stride];
                    if v > *m || v.is_nan() {
                        (*m, *best) = (v, (first + k * stride) as i64);
                    }
                }
            } else {
                // constant strides let LLVM vectorize the common cases
                match stride {
                    1 => max_row::<T, 1>(x, first, 1, m, best),
                    2 => max_row::<T, 2>(x, first, 2, m, best),
                    _ => max_row::<T, 0>(x, first, stride, m, best),
                }
            }
        });
    };
    if x.len() >= PAR_ELEMS && rayon::current_num_threads() > 1 {
        y.par_chunks_mut(op).zip(idx.par_chunks_mut(op).zip(x.par_chunks(ip))).for_each(plane);
    } else {
        y.chunks_mut(op).zip(idx.chunks_mut(op).zip(x.chunks(ip))).for_each(plane);
    }
}

/// One kernel tap of max pooling over a run of outputs (no NaN): input `k` is
/// `x[k · stride]`, at plane index `first + k · stride`. `S` is the stride when known at
/// compile time (0: use `stride`).
#[inline(always)]
fn max_row<T: Float, const S: usize>(x: &[T], first: usize, stride: usize, m: &mut [T], best: &mut [i64]) {
    let stride = if S == 0 { stride } else { S };
    let n = m.len();
    if n == 0 {
        return;
    }
    let x = &x[..(n - 1) * stride + 1];
    for k in 0..n {
        let v = x[k * stride];
        let gt = v > m[k];
        best[k] = if gt { (first + k * stride) as i64 } else { best[k] };
        m[k] = if gt { v } else { m[k] };
    }
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

/// The gradient of max pooling: each output gradient is added at its window's argmax;
/// `gx` is overwritten.
///
/// ```
/// use nabla_tensor::conv::{max_pool2d_backward, PoolGeom};
/// let g = PoolGeom::new(1, [2, 4], [2, 2], [2, 2], [0, 0]).unwrap();
/// let mut gx = [9.0f32; 8];
/// max_pool2d_backward(&g, &[1.0, 2.0], &[1, 6], &mut gx);
/// assert_eq!(gx, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0]);
/// ```
pub fn max_pool2d_backward<T: Float>(g: &PoolGeom, gy: &[T], idx: &[i64], gx: &mut [T]) {
    let (ip, op) = (g.in_plane(), g.out_plane());
    assert_eq!(gx.len(), g.planes * ip, "max_pool2d_backward: output length");
    assert_eq!(gy.len(), g.planes * op, "max_pool2d_backward: gradient length");
    assert_eq!(idx.len(), gy.len(), "max_pool2d_backward: indices length");
    gx.fill(T::zero());
    if op == 0 || ip == 0 {
        return;
    }
    let work = |(gx, (gy, idx)): (&mut [T], (&[T], &[i64]))| {
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
        .flat_map(|oh| (0..g.out_size[1]).map(move |ow| T::cast(1.0 / (g.padded_span(oh, 0) * g.padded_span(ow, 1)) as f64)))
        .collect()
}

/// The gradient (adjoint) of [`avg_pool2d_forward`]: each output gradient spread evenly
/// over its window; `gx` is overwritten.
pub fn avg_pool2d_backward<T: Float>(g: &PoolGeom, gy: &[T], gx: &mut [T]) {
    assert_eq!(gx.len(), g.planes * g.in_plane(), "avg_pool2d_backward: output length");
    assert_eq!(gy.len(), g.planes * g.out_plane(), "avg_pool2d_backward: gradient length");
    let (w, ow_n) = (g.in_size[1], g.out_size[1]);
    let inv = inverse_divisors::<T>(g);
    per_plane(gx, g.in_plane(), gy, g.out_plane(), |gx, gy| {
        gx.fill(T::zero());
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

/// The gradient (adjoint) of [`adaptive_avg_pool2d_forward`]; `gx` is overwritten.
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
        gx.fill(T::zero());
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

/// Runs `f` on the elements of `t` in row-major order: the storage itself when `t` is
/// contiguous, else a packed copy (gathered a row at a time; broadcast rows are cheap).
fn with_contiguous<T: BufferElement, R>(t: &RawTensor, f: impl FnOnce(&[T]) -> R) -> R {
    match t.layout().contiguous_range() {
        Some(r) => t.with_slice::<T, _>(|s, _| f(&s[r])),
        None => f(&gather(t)),
    }
}

/// The elements of `t` in row-major order, gathered a row at a time.
fn gather<T: BufferElement>(t: &RawTensor) -> Vec<T> {
    let mut v = crate::pool::alloc(t.numel());
    t.with_slice::<T, _>(|s, l| {
        for_each_row_n(l.shape(), [l.strides()], [l.offset()], |p, st, n| match st[0] {
            1 => v.extend_from_slice(&s[p[0]..p[0] + n]),
            0 => v.extend(std::iter::repeat_n(s[p[0]], n)),
            st => v.extend((0..n).map(|i| s[p[0] + i * st])),
        })
    });
    v
}

fn with_contiguous_opt<T: BufferElement, R>(t: Option<&RawTensor>, f: impl FnOnce(Option<&[T]>) -> R) -> R {
    match t {
        Some(t) => with_contiguous(t, |s| f(Some(s))),
        None => f(None),
    }
}

/// The float dtype shared by `ts`, or an error naming `op`.
fn common_float(op: &'static str, ts: &[&RawTensor]) -> Result<DType> {
    let d = ts[0].dtype();
    if !d.is_float() || ts.iter().any(|t| t.dtype() != d) {
        let names: Vec<String> = ts.iter().map(|t| t.dtype().to_string()).collect();
        return Err(Error::DType {
            op,
            msg: format!("expected floating-point operands of one dtype, got {}", names.join(", ")),
        });
    }
    Ok(d)
}

fn check_shape(op: &'static str, what: &str, t: &RawTensor, expected: &[usize]) -> Result<()> {
    if t.shape() != expected {
        return Err(Error::shape(
            op,
            format!("expected {what} of shape {expected:?}, got {:?}", t.shape()),
            "the shapes must follow the convolution's geometry",
        ));
    }
    Ok(())
}

fn output<T: BufferElement>(v: Vec<T>, shape: &[usize]) -> RawTensor {
    RawTensor::from_buffer(T::into_buffer(v), Layout::contiguous(shape))
}

/// The shape of a pooling output: `x`'s with the last two dimensions replaced.
fn pooled_shape(x: &RawTensor, size: [usize; 2]) -> Vec<usize> {
    let s = x.shape();
    [&s[..s.len() - 2], &size[..]].concat()
}

impl RawTensor {
    /// A contiguous copy gathered a row at a time (`self` when already contiguous):
    /// cheap for broadcast gradients such as the `expand`ed ones that `sum()`'s backward
    /// hands to a convolution.
    ///
    /// ```
    /// use nabla_tensor::{Layout, RawTensor};
    /// let ones = RawTensor::from_vec(vec![1.0f32], &[1]).with_layout(Layout::from_parts(&[2, 3], &[0, 0], 0));
    /// let p = ones.packed();
    /// assert!(p.is_contiguous());
    /// assert_eq!(p.to_vec::<f32>(), vec![1.0; 6]);
    /// ```
    pub fn packed(&self) -> RawTensor {
        if self.is_contiguous() {
            return self.clone();
        }
        fn go<T: BufferElement>(t: &RawTensor) -> RawTensor {
            output(gather::<T>(t), t.shape())
        }
        match self.dtype() {
            DType::F32 => go::<f32>(self),
            DType::F64 => go::<f64>(self),
            DType::I64 => go::<i64>(self),
            DType::Bool => go::<bool>(self),
        }
    }

    /// The convolution `C(self, w) (+ bias)` of geometry `g` ([`conv2d_forward`]).
    ///
    /// ```
    /// use nabla_tensor::{conv::ConvGeom, RawTensor};
    /// let g = ConvGeom::new([1, 1, 2, 2], [1, 1, 1, 1], [1, 1], [0, 0], [1, 1], 1).unwrap();
    /// let x = RawTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[1, 1, 2, 2]);
    /// let w = RawTensor::from_vec(vec![2.0f32], &[1, 1, 1, 1]);
    /// assert_eq!(x.conv2d(&g, &w, None).unwrap().to_vec::<f32>(), vec![2.0, 4.0, 6.0, 8.0]);
    /// ```
    pub fn conv2d(&self, g: &ConvGeom, w: &RawTensor, bias: Option<&RawTensor>) -> Result<RawTensor> {
        let op = "conv2d";
        check_shape(op, "an input", self, &g.input_shape())?;
        check_shape(op, "a weight", w, &g.weight_shape())?;
        let mut all = vec![self, w];
        if let Some(b) = bias {
            check_shape(op, "a bias", b, &[g.out_channels])?;
            all.push(b);
        }
        fn go<T: Float>(g: &ConvGeom, x: &RawTensor, w: &RawTensor, b: Option<&RawTensor>) -> RawTensor {
            let mut y = crate::pool::alloc_filled(g.output_shape().iter().product(), T::zero());
            with_contiguous::<T, _>(x, |x| {
                with_contiguous::<T, _>(w, |w| with_contiguous_opt::<T, _>(b, |b| conv2d_forward(g, x, w, b, &mut y)))
            });
            output(y, &g.output_shape())
        }
        Ok(match common_float(op, &all)? {
            DType::F32 => go::<f32>(g, self, w, bias),
            _ => go::<f64>(g, self, w, bias),
        })
    }

    /// The input gradient `Cₓᵀ(self; w) (+ bias)` of a convolution of geometry `g`, which
    /// is also the transposed convolution of `self` ([`conv2d_backward_input`]).
    pub fn conv2d_backward_input(&self, g: &ConvGeom, w: &RawTensor, bias: Option<&RawTensor>) -> Result<RawTensor> {
        let op = "conv2d_backward_input";
        check_shape(op, "a gradient", self, &g.output_shape())?;
        check_shape(op, "a weight", w, &g.weight_shape())?;
        let mut all = vec![self, w];
        if let Some(b) = bias {
            check_shape(op, "a bias", b, &[g.in_channels])?;
            all.push(b);
        }
        fn go<T: Float>(g: &ConvGeom, gy: &RawTensor, w: &RawTensor, b: Option<&RawTensor>) -> RawTensor {
            let mut gx = crate::pool::alloc_filled(g.input_shape().iter().product(), T::zero());
            with_contiguous::<T, _>(gy, |gy| {
                with_contiguous::<T, _>(w, |w| {
                    with_contiguous_opt::<T, _>(b, |b| conv2d_backward_input(g, gy, w, b, &mut gx))
                })
            });
            output(gx, &g.input_shape())
        }
        Ok(match common_float(op, &all)? {
            DType::F32 => go::<f32>(g, self, w, bias),
            _ => go::<f64>(g, self, w, bias),
        })
    }

    /// The weight gradient `C_wᵀ(gy; self)` of a convolution of geometry `g` whose input
    /// is `self` ([`conv2d_backward_weight`]).
    pub fn conv2d_backward_weight(&self, g: &ConvGeom, gy: &RawTensor) -> Result<RawTensor> {
        let op = "conv2d_backward_weight";
        check_shape(op, "an input", self, &g.input_shape())?;
        check_shape(op, "a gradient", gy, &g.output_shape())?;
        fn go<T: Float>(g: &ConvGeom, x: &RawTensor, gy: &RawTensor) -> RawTensor {
            let mut gw = crate::pool::alloc_filled(g.weight_shape().iter().product(), T::zero());
            with_contiguous::<T, _>(x, |x| with_contiguous::<T, _>(gy, |gy| conv2d_backward_weight(g, x, gy, &mut gw)));
            output(gw, &g.weight_shape())
        }
        Ok(match common_float(op, &[self, gy])? {
            DType::F32 => go::<f32>(g, self, gy),
            _ => go::<f64>(g, self, gy),
        })
    }

    /// Sums a `[N, C, ...]` tensor over every dimension but the channels (a bias gradient).
    ///
    /// ```
    /// let y = nabla_tensor::RawTensor::from_vec(vec![1.0f32; 12], &[2, 3, 2]);
    /// assert_eq!(y.channel_sum().unwrap().to_vec::<f32>(), vec![4.0, 4.0, 4.0]);
    /// ```
    pub fn channel_sum(&self) -> Result<RawTensor> {
        let s = self.shape();
        if s.len() < 2 {
            return Err(Error::shape("channel_sum", format!("expected [N, C, ...], got {s:?}"), "add a batch dimension"));
        }
        let (n, c, plane) = (s[0], s[1], s[2..].iter().product::<usize>());
        fn go<T: Float>(t: &RawTensor, n: usize, c: usize, plane: usize) -> RawTensor {
            let mut out = crate::pool::alloc_filled(c, T::zero());
            with_contiguous::<T, _>(t, |y| channel_sum(n, c, plane, y, &mut out));
            output(out, &[c])
        }
        Ok(match common_float("channel_sum", &[self])? {
            DType::F32 => go::<f32>(self, n, c, plane),
            _ => go::<f64>(self, n, c, plane),
        })
    }

    /// Max pooling over the last two dimensions ([`max_pool2d_forward`]): the values and
    /// the `i64` indices of the maxima within each plane.
    ///
    /// ```
    /// use nabla_tensor::{conv::PoolGeom, RawTensor};
    /// let x = RawTensor::from_vec(vec![1.0f32, 3.0, 2.0, 0.0], &[1, 1, 2, 2]);
    /// let g = PoolGeom::new(1, [2, 2], [2, 2], [2, 2], [0, 0]).unwrap();
    /// let (y, i) = x.max_pool2d(&g).unwrap();
    /// assert_eq!((y.to_vec::<f32>(), i.to_vec::<i64>()), (vec![3.0], vec![1]));
    /// ```
    pub fn max_pool2d(&self, g: &PoolGeom) -> Result<(RawTensor, RawTensor)> {
        fn go<T: Float>(g: &PoolGeom, x: &RawTensor) -> (RawTensor, RawTensor) {
            let n = g.planes * g.out_plane();
            let (mut y, mut idx) = (crate::pool::alloc_filled(n, T::zero()), vec![0i64; n]);
            with_contiguous::<T, _>(x, |x| max_pool2d_forward(g, x, &mut y, &mut idx));
            let shape = pooled_shape(x, g.out_size);
            (output(y, &shape), output(idx, &shape))
        }
        self.check_pool_input("max_pool2d", g.planes, g.in_size)?;
        Ok(match common_float("max_pool2d", &[self])? {
            DType::F32 => go::<f32>(g, self),
            _ => go::<f64>(g, self),
        })
    }

    /// Picks `self`'s elements at `idx` within each plane ([`gather_by_index`]).
    pub fn gather_by_index(&self, g: &PoolGeom, idx: &RawTensor) -> Result<RawTensor> {
        fn go<T: Float>(g: &PoolGeom, x: &RawTensor, idx: &RawTensor) -> RawTensor {
            let mut y = crate::pool::alloc_filled(g.planes * g.out_plane(), T::zero());
            with_contiguous::<T, _>(x, |x| with_contiguous::<i64, _>(idx, |i| gather_by_index(g, x, i, &mut y)));
            output(y, idx.shape())
        }
        self.check_pool_input("gather_by_index", g.planes, g.in_size)?;
        idx.check_pool_input("gather_by_index", g.planes, g.out_size)?;
        Ok(match common_float("gather_by_index", &[self])? {
            DType::F32 => go::<f32>(g, self, idx),
            _ => go::<f64>(g, self, idx),
        })
    }

    /// The gradient of max pooling ([`max_pool2d_backward`]) of `self` (the output
    /// gradient), given the indices of the forward pass.
    pub fn max_pool2d_backward(&self, g: &PoolGeom, idx: &RawTensor, input_shape: &[usize]) -> Result<RawTensor> {
        fn go<T: Float>(g: &PoolGeom, gy: &RawTensor, idx: &RawTensor, shape: &[usize]) -> RawTensor {
            let mut gx = crate::pool::alloc_filled(g.planes * g.in_plane(), T::zero());
            with_contiguous::<T, _>(gy, |gy| with_contiguous::<i64, _>(idx, |i| max_pool2d_backward(g, gy, i, &mut gx)));
            output(gx, shape)
        }
        self.check_pool_input("max_pool2d_backward", g.planes, g.out_size)?;
        idx.check_pool_input("max_pool2d_backward", g.planes, g.out_size)?;
        Ok(match common_float("max_pool2d_backward", &[self])? {
            DType::F32 => go::<f32>(g, self, idx, input_shape),
            _ => go::<f64>(g, self, idx, input_shape),
        })
    }

    /// Average pooling over the last two dimensions ([`avg_pool2d_forward`]).
    pub fn avg_pool2d(&self, g: &PoolGeom) -> Result<RawTensor> {
        fn go<T: Float>(g: &PoolGeom, x: &RawTensor) -> RawTensor {
            let mut y = crate::pool::alloc_filled(g.planes * g.out_plane(), T::zero());
            with_contiguous::<T, _>(x, |x| avg_pool2d_forward(g, x, &mut y));
            output(y, &pooled_shape(x, g.out_size))
        }
        self.check_pool_input("avg_pool2d", g.planes, g.in_size)?;
        Ok(match common_float("avg_pool2d", &[self])? {
            DType::F32 => go::<f32>(g, self),
            _ => go::<f64>(g, self),
        })
    }

    /// The gradient of average pooling ([`avg_pool2d_backward`]) of `self` (the output gradient).
    pub fn avg_pool2d_backward(&self, g: &PoolGeom) -> Result<RawTensor> {
        fn go<T: Float>(g: &PoolGeom, gy: &RawTensor) -> RawTensor {
            let mut gx = crate::pool::alloc_filled(g.planes * g.in_plane(), T::zero());
            with_contiguous::<T, _>(gy, |gy| avg_pool2d_backward(g, gy, &mut gx));
            output(gx, &pooled_shape(gy, g.in_size))
        }
        self.check_pool_input("avg_pool2d_backward", g.planes, g.out_size)?;
        Ok(match common_float("avg_pool2d_backward", &[self])? {
            DType::F32 => go::<f32>(g, self),
            _ => go::<f64>(g, self),
        })
    }

    /// Adaptive average pooling of the last two dimensions to `out_size`
    /// ([`adaptive_avg_pool2d_forward`]).
    pub fn adaptive_avg_pool2d(&self, out_size: [usize; 2]) -> Result<RawTensor> {
        let (planes, in_size) = self.planes("adaptive_avg_pool2d")?;
        fn go<T: Float>(x: &RawTensor, planes: usize, i: [usize; 2], o: [usize; 2]) -> RawTensor {
            let mut y = crate::pool::alloc_filled(planes * o[0] * o[1], T::zero());
            with_contiguous::<T, _>(x, |x| adaptive_avg_pool2d_forward(planes, i, o, x, &mut y));
            output(y, &pooled_shape(x, o))
        }
        Ok(match common_float("adaptive_avg_pool2d", &[self])? {
            DType::F32 => go::<f32>(self, planes, in_size, out_size),
            _ => go::<f64>(self, planes, in_size, out_size),
        })
    }

    /// The gradient of adaptive average pooling ([`adaptive_avg_pool2d_backward`]) of
    /// `self` (the output gradient) back to `in_size`.
    pub fn adaptive_avg_pool2d_backward(&self, in_size: [usize; 2]) -> Result<RawTensor> {
        let (planes, out_size) = self.planes("adaptive_avg_pool2d_backward")?;
        fn go<T: Float>(gy: &RawTensor, planes: usize, i: [usize; 2], o: [usize; 2]) -> RawTensor {
            let mut gx = crate::pool::alloc_filled(planes * i[0] * i[1], T::zero());
            with_contiguous::<T, _>(gy, |gy| adaptive_avg_pool2d_backward(planes, i, o, gy, &mut gx));
            output(gx, &pooled_shape(gy, i))
        }
        Ok(match common_float("adaptive_avg_pool2d_backward", &[self])? {
            DType::F32 => go::<f32>(self, planes, in_size, out_size),
            _ => go::<f64>(self, planes, in_size, out_size),
        })
    }

    /// The number of planes and the plane size of a `[..., H, W]` tensor.
    fn planes(&self, op: &'static str) -> Result<(usize, [usize; 2])> {
        let s = self.shape();
        if s.len() < 2 {
            return Err(Error::shape(op, format!("expected [..., H, W], got {s:?}"), "pool over a 2-D or larger tensor"));
        }
        Ok((s[..s.len() - 2].iter().product(), [s[s.len() - 2], s[s.len() - 1]]))
    }

    fn check_pool_input(&self, op: &'static str, planes: usize, size: [usize; 2]) -> Result<()> {
        if self.planes(op)? != (planes, size) {
            return Err(Error::shape(
                op,
                format!("expected {planes} planes of {size:?}, got a tensor of shape {:?}", self.shape()),
                "the shapes must follow the pooling's geometry",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1).
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// Direct loops: y = C(x, w) + b, gx = Cₓᵀ(gy; w), gw = C_wᵀ(gy; x).
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
                                    let xi = ((n * g.in_channels + gr * cin_g + ci) * h + ih as usize) * wd + iw as usize;
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

    fn assert_close(what: &str, a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{what}[{i}]: {x} vs {y}");
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check(input: [usize; 4], weight: [usize; 4], stride: [usize; 2], padding: [usize; 2], dilation: [usize; 2], groups: usize) {
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
        let mut gx = vec![7.0; rgx.len()];
        conv2d_backward_input(&g, &gy, &w, None, &mut gx);
        assert_close(&format!("input grad {ctx}"), &gx, &rgx, 1e-12);
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
            // adjoint identity: <gy, gather(x)> = <scatter(gy), x>
            let mut gathered = vec![0.0; n];
            gather_by_index(&g, &x, &idx, &mut gathered);
            let lhs: f64 = gy.iter().zip(&gathered).map(|(a, b)| a * b).sum();
            let rhs: f64 = gx.iter().zip(&x).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "max adjoint {g:?}");
            let mut ya = vec![0.0; n];
            avg_pool2d_forward(&g, &x, &mut ya);
            assert_close(&format!("avg {g:?}"), &ya, &naive_pool(&g, &x, true), 1e-12);
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
