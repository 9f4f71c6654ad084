//! Convolutions: [`conv2d`], [`conv1d`] and [`conv_transpose2d`].
//!
//! One convolution geometry ([`ConvGeom`]) defines three bilinear maps, and the
//! derivatives of each are the other two, which is the whole chain rule of this file:
//!
//! | map | is | `∂/∂(first)` of `⟨ḡ, map⟩` | `∂/∂(second)` |
//! |---|---|---|---|
//! | `C(x, w)` | convolution | `T(ḡ, w)` | `F(x, ḡ)` |
//! | `T(y, w) = Cₓᵀ(y; w)` | transposed convolution, input gradient | `C(ḡ, w)` | `F(ḡ, y)` |
//! | `F(x, y) = C_wᵀ(y; x)` | weight gradient | `T(y, ḡ)` | `C(x, ḡ)` |
//!
//! Each map is one kernel call (im2col or col2im and GEMM, see `nabla_tensor::conv`), and
//! each backward is written with the maps themselves, so `create_graph` works to any order.
//! A bias adds `Σ ḡ` over the batch and spatial dimensions.
//!
//! Inputs without a batch dimension (`[C, H, W]` for 2-D, `[C, L]` for 1-D) are accepted
//! as PyTorch does: they are convolved as a batch of one and the batch dimension removed.

use crate::grad_mode::is_grad_enabled;
use crate::graph::{Backward, BackwardCtx, Grads, Saved};
use crate::ops::{or_panic, record};
use crate::tensor::Tensor;
use nabla_tensor::conv::ConvGeom;
use nabla_tensor::{Error, Result};
use smallvec::smallvec;

/// Which of a geometry's three bilinear maps a node computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Map {
    /// `C(x, w)`.
    Conv,
    /// `T(y, w)`.
    Transposed,
    /// `F(x, y)`.
    Weight,
}

/// The backward of all three maps (PyTorch names convolutions and transposed
/// convolutions alike `ConvolutionBackward`).
struct ConvolutionBackward {
    map: Map,
    geom: ConvGeom,
    a: Saved,
    b: Saved,
    bias: bool,
}

impl Backward for ConvolutionBackward {
    fn name(&self) -> &'static str {
        match self.map {
            Map::Conv | Map::Transposed => "ConvolutionBackward",
            Map::Weight => "ConvolutionWeightBackward",
        }
    }

    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let (a, b) = (self.a.get(ctx.name())?, self.b.get(ctx.name())?);
        // The gradient of `sum()` is a stride-0 broadcast: pack it once, not per kernel.
        let packed;
        let g = if !is_grad_enabled() && !g.is_contiguous() {
            packed = Tensor::from_raw(g.raw().packed());
            &packed
        } else {
            g
        };
        let geom = &self.geom;
        let need = |i: usize| ctx.needs_input_grad(i);
        let (ga, gb) = match self.map {
            Map::Conv => (
                need(0).then(|| apply(Map::Transposed, geom, g, b, None)).transpose()?,
                need(1).then(|| apply(Map::Weight, geom, a, g, None)).transpose()?,
            ),
            Map::Transposed => (
                need(0).then(|| apply(Map::Conv, geom, g, b, None)).transpose()?,
                need(1).then(|| apply(Map::Weight, geom, g, a, None)).transpose()?,
            ),
            Map::Weight => (
                need(0).then(|| apply(Map::Transposed, geom, b, g, None)).transpose()?,
                need(1).then(|| apply(Map::Conv, geom, a, g, None)).transpose()?,
            ),
        };
        let mut grads: Grads = smallvec![ga, gb];
        if self.bias {
            grads.push(need(2).then(|| bias_grad(g)).transpose()?);
        }
        Ok(grads)
    }
}

/// `Σ g` over every dimension but the channels.
fn bias_grad(g: &Tensor) -> Result<Tensor> {
    if is_grad_enabled() {
        g.try_sum_dims(&[0, 2, 3], false)
    } else {
        Ok(Tensor::from_raw(g.raw().channel_sum()?))
    }
}

/// Computes `map(a, b) (+ bias)` and records it.
#[track_caller]
fn apply(map: Map, geom: &ConvGeom, a: &Tensor, b: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let raw = match map {
        Map::Conv => a.raw().conv2d(geom, b.raw(), bias.map(|t| t.raw()))?,
        Map::Transposed => a.raw().conv2d_backward_input(geom, b.raw(), bias.map(|t| t.raw()))?,
        Map::Weight => a.raw().conv2d_backward_weight(geom, b.raw())?,
    };
    let inputs: Vec<&Tensor> = [Some(a), Some(b), bias].into_iter().flatten().collect();
    record(raw, &inputs, false, || ConvolutionBackward {
        map,
        geom: *geom,
        a: Saved::new(a),
        b: Saved::new(b),
        bias: bias.is_some(),
    })
}

/// A convolution call as its user wrote it, checked with messages in its own terms.
struct Call<'a> {
    op: &'static str,
    x: &'a Tensor,
    w: &'a Tensor,
    b: Option<&'a Tensor>,
    stride: &'a [usize],
    padding: &'a [usize],
    dilation: &'a [usize],
    /// `Some` for a transposed convolution.
    output_padding: Option<&'a [usize]>,
    groups: usize,
}

impl Call<'_> {
    /// Checks the call and returns the 2-D geometry (1-D calls get a height of 1) and
    /// whether the input had no batch dimension.
    fn check(&self) -> Result<(ConvGeom, bool)> {
        let (op, x, w) = (self.op, self.x, self.w);
        let sd = self.stride.len();
        let (xs, ws) = (x.shape(), w.shape());
        let layout = if sd == 1 { "[N, C, L]" } else { "[N, C, H, W]" };
        let wlayout = match (sd, self.output_padding.is_some()) {
            (1, false) => "[C_out, C_in / groups, kL]",
            (1, true) => "[C_in, C_out / groups, kL]",
            (_, false) => "[C_out, C_in / groups, kH, kW]",
            (_, true) => "[C_in, C_out / groups, kH, kW]",
        };
        let dts = [Some(x), Some(w), self.b].into_iter().flatten().map(|t| t.dtype()).collect::<Vec<_>>();
        if !dts[0].is_float() || dts.iter().any(|&d| d != dts[0]) {
            let names = ["input", "weight", "bias"];
            let got: Vec<String> = dts.iter().zip(names).map(|(d, n)| format!("{n} {d}")).collect();
            return Err(Error::DType {
                op,
                msg: format!(
                    "expected input, weight and bias of one floating-point dtype, got {}; hint: convert them \
                     with to_dtype(DType::F32)",
                    got.join(", ")
                ),
            });
        }
        if xs.len() != sd + 1 && xs.len() != sd + 2 {
            let unbatched = if sd == 1 { "[C, L]" } else { "[C, H, W]" };
            return Err(Error::shape(
                op,
                format!(
                    "expected a {}-D (unbatched {unbatched}) or {}-D (batched {layout}) input, got shape {xs:?}",
                    sd + 1,
                    sd + 2
                ),
                if xs.len() < sd + 1 {
                    "add the missing channel or batch dimensions with unsqueeze(0)".to_string()
                } else {
                    format!(
                        "merge the extra leading dimensions into the batch with reshape, or use a {}-D op",
                        xs.len() - 2
                    )
                },
            ));
        }
        if ws.len() != sd + 2 {
            return Err(Error::shape(
                op,
                format!("expected a {}-D weight {wlayout}, got shape {ws:?}", sd + 2),
                format!("the weight of a {sd}-D convolution has {} dimensions", sd + 2),
            ));
        }
        if self.groups == 0 {
            return Err(Error::invalid_argument(
                op,
                format!(
                    "groups must be a positive integer, got 0 (input {xs:?}, weight {ws:?}); hint: use groups = 1 \
                     for an ordinary convolution"
                ),
            ));
        }
        for (name, v) in [("stride", self.stride), ("dilation", self.dilation)] {
            if v.contains(&0) {
                return Err(Error::invalid_argument(
                    op,
                    format!(
                        "non-positive {name} is not supported: got {name} {v:?} (input {xs:?}, weight {ws:?}); \
                         hint: every {name} must be at least 1 (1 is the default)"
                    ),
                ));
            }
        }
        let unbatched = xs.len() == sd + 1;
        let x4: Vec<usize> = if unbatched { [&[1][..], xs].concat() } else { xs.to_vec() };
        let c_in = x4[1];
        let groups = self.groups;
        let transposed = self.output_padding.is_some();
        // channels: conv needs C_in = weight[1]·groups; transposed needs C_in = weight[0]
        let (rule_ok, expected_c, out_channels) = if transposed {
            (ws[0] == c_in, ws[0], ws[1] * groups)
        } else {
            (ws[1] * groups == c_in, ws[1] * groups, ws[0])
        };
        let grouped = ws[0];
        if !grouped.is_multiple_of(groups) {
            return Err(Error::shape(
                op,
                format!(
                    "expected {} (weight.shape[0] = {grouped}) to be divisible by groups = {groups} (weight {ws:?})",
                    if transposed { "in_channels" } else { "out_channels" }
                ),
                "choose groups dividing both channel counts",
            ));
        }
        if !rule_ok {
            let rule = if transposed {
                "a transposed convolution's weight has the input channels first"
            } else {
                "the input's channels must equal weight.shape[1] × groups"
            };
            let hint = if !transposed && !c_in.is_multiple_of(groups) {
                format!("groups = {groups} must divide the input's {c_in} channels; {rule}")
            } else if !transposed
                && xs.len() == sd + 2
                && x4[1] != expected_c
                && xs.iter().skip(2).any(|&d| d == expected_c)
            {
                format!("{rule}; is the input channels-last? permute it to {layout}")
            } else {
                format!("{rule}; give a weight of shape {wlayout} matching the input, or fix the input's channels")
            };
            return Err(Error::shape(
                op,
                format!(
                    "expected input {layout} with C = {expected_c} (weight {ws:?} with groups {groups}), got input {xs:?}"
                ),
                hint,
            ));
        }
        if let Some(b) = self.b {
            if b.shape() != [out_channels] {
                return Err(Error::shape(
                    op,
                    format!("expected a bias of shape [{out_channels}] (one per output channel), got {:?}", b.shape()),
                    "the bias has one value per output channel",
                ));
            }
        }
        // 1-D calls run as 2-D with a height of 1
        let lift = |v: &[usize], fill: usize| -> [usize; 2] {
            if sd == 1 {
                [fill, v[0]]
            } else {
                [v[0], v[1]]
            }
        };
        let (stride, padding, dilation) = (lift(self.stride, 1), lift(self.padding, 0), lift(self.dilation, 1));
        let k = lift(&ws[2..], 1);
        let w4 = [ws[0], ws[1], k[0], k[1]];
        let in_size = lift(&x4[2..], 1);
        let span = |d: usize| dilation[d] * (k[d] - 1) + 1;
        if k.contains(&0) {
            return Err(Error::shape(
                op,
                format!("the weight {ws:?} has an empty kernel"),
                "kernel sizes must be at least 1",
            ));
        }
        let dims = |v: [usize; 2]| if sd == 1 { format!("{}", v[1]) } else { format!("{} x {}", v[0], v[1]) };
        let geom = if let Some(op_pad) = self.output_padding {
            let op_pad = lift(op_pad, 0);
            if (0..2).any(|d| op_pad[d] >= stride[d] && op_pad[d] >= dilation[d]) {
                return Err(Error::invalid_argument(
                    op,
                    format!(
                        "output padding must be smaller than either stride or dilation, but got output_padding {:?}, \
                         stride {:?}, dilation {:?} (input {xs:?}, weight {ws:?}); hint: output_padding picks one of \
                         the `stride` input sizes a strided convolution maps to the same output size",
                        self.output_padding.unwrap_or_default(),
                        self.stride,
                        self.dilation
                    ),
                ));
            }
            // out = (in - 1)·stride - 2·padding + dilation·(k - 1) + output_padding + 1
            let out: Vec<isize> = (0..2)
                .map(|d| {
                    (in_size[d] as isize - 1) * stride[d] as isize - 2 * padding[d] as isize
                        + (span(d) + op_pad[d]) as isize
                })
                .collect();
            if out.iter().any(|&o| o < 1) || in_size.contains(&0) {
                return Err(Error::shape(
                    op,
                    format!(
                        "the output size (in - 1)·stride - 2·padding + dilation·(k - 1) + output_padding + 1 is {} for \
                         input {xs:?}, weight {ws:?}, stride {:?}, padding {:?}, dilation {:?}",
                        if sd == 1 { format!("{}", out[1]) } else { format!("{} x {}", out[0], out[1]) },
                        self.stride,
                        self.padding,
                        self.dilation
                    ),
                    "reduce the padding or increase the stride",
                ));
            }
            let out_size = [out[0] as usize, out[1] as usize];
            let mut g =
                ConvGeom::new([x4[0], out_channels, out_size[0], out_size[1]], w4, stride, padding, dilation, groups)
                    .ok_or_else(|| Error::shape(op, format!("internal: no geometry for {xs:?} and {ws:?}"), ""))?;
            g.out_size = in_size;
            g
        } else {
            let padded = [in_size[0] + 2 * padding[0], in_size[1] + 2 * padding[1]];
            if (0..2).any(|d| padded[d] < span(d)) {
                return Err(Error::shape(
                    op,
                    format!(
                        "Kernel size can't be greater than actual input size: calculated padded input size per channel \
                         ({}), kernel size with dilation ({}) (input {xs:?}, weight {ws:?}, padding {:?}, dilation {:?})",
                        dims(padded),
                        dims([span(0), span(1)]),
                        self.padding,
                        self.dilation
                    ),
                    "use a smaller kernel or dilation, add padding, or give a larger input",
                ));
            }
            ConvGeom::new([x4[0], c_in, in_size[0], in_size[1]], w4, stride, padding, dilation, groups)
                .ok_or_else(|| Error::shape(op, format!("internal: no geometry for {xs:?} and {ws:?}"), ""))?
        };
        Ok((geom, unbatched))
    }
}

/// Runs a checked call: lifts 1-D and unbatched operands to `[N, C, H, W]`, applies the
/// map, and removes what was added.
#[track_caller]
fn run(call: &Call<'_>) -> Result<Tensor> {
    let (geom, unbatched) = call.check()?;
    let one_d = call.stride.len() == 1;
    let mut x = call.x.clone();
    let mut w = call.w.clone();
    if unbatched {
        x = x.try_unsqueeze(0)?;
    }
    if one_d {
        x = x.try_unsqueeze(2)?;
        w = w.try_unsqueeze(2)?;
    }
    let map = if call.output_padding.is_some() { Map::Transposed } else { Map::Conv };
    let mut y = apply(map, &geom, &x, &w, call.b)?;
    if one_d {
        y = y.try_squeeze(2)?;
    }
    if unbatched {
        y = y.try_squeeze(0)?;
    }
    Ok(y)
}

/// 2-D convolution (cross-correlation, as in every deep-learning library) of `x`
/// (`[N, C_in, H, W]`, or `[C_in, H, W]` unbatched) by `w` (`[C_out, C_in / groups, kH, kW]`)
/// plus an optional bias (`[C_out]`):
///
/// `y[n, o, i, j] = b[o] + Σ_{c, p, q} x[n, g·C_in/groups + c, i·s₀ + p·d₀ - pad₀, j·s₁ + q·d₁ - pad₁] · w[o, c, p, q]`
///
/// with zeros outside the input, where `g` is `o`'s group. The output is
/// `[N, C_out, (H + 2·pad₀ - d₀·(kH - 1) - 1) / s₀ + 1, …]`.
///
/// Derivatives: `∂L/∂x = conv_transpose2d(ḡ, w)` (same stride, padding, dilation, groups),
/// `∂L/∂w = Σ_n ḡ ⋆ x` (a correlation of the input with the output gradient, computed by
/// im2col and GEMM), `∂L/∂b = Σ_{n,i,j} ḡ`. Both are differentiable again (`create_graph`).
///
/// ```
/// use nabla_autograd::{ops::conv::conv2d, Tensor};
/// let x = Tensor::ones(&[1, 1, 4, 4]).requires_grad_(true);
/// let w = Tensor::ones(&[2, 1, 3, 3]).requires_grad_(true);
/// let y = conv2d(&x, &w, None, [1, 1], [1, 1], [1, 1], 1);
/// assert_eq!(y.shape(), &[1, 2, 4, 4]);
/// assert_eq!(y.to_vec::<f32>()[..4], [4.0, 6.0, 6.0, 4.0]); // corners see 4 inputs, edges 6
/// y.sum().backward();
/// assert_eq!(w.grad().unwrap().to_vec::<f32>()[4], 16.0); // the centre tap sees every input
/// ```
///
/// # Panics
/// With the message of [`try_conv2d`]'s error.
#[track_caller]
pub fn conv2d(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
) -> Tensor {
    or_panic(try_conv2d(x, w, b, stride, padding, dilation, groups))
}

/// [`conv2d`], returning an error for a wrong input or weight rank, mismatched channels,
/// `groups` not dividing the channels, a kernel larger than the padded input, a zero
/// stride or dilation, a bias of the wrong shape, or mixed dtypes.
///
/// ```
/// use nabla_autograd::{ops::conv::try_conv2d, Tensor};
/// let e = try_conv2d(&Tensor::zeros(&[8, 1, 28, 28]), &Tensor::zeros(&[16, 3, 3, 3]), None, [1, 1], [0, 0], [1, 1], 1);
/// assert!(e.unwrap_err().to_string().starts_with(
///     "conv2d: expected input [N, C, H, W] with C = 3 (weight [16, 3, 3, 3] with groups 1), got input [8, 1, 28, 28]"));
/// ```
#[track_caller]
pub fn try_conv2d(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
) -> Result<Tensor> {
    run(&Call {
        op: "conv2d",
        x,
        w,
        b,
        stride: &stride,
        padding: &padding,
        dilation: &dilation,
        output_padding: None,
        groups,
    })
}

/// 1-D convolution of `x` (`[N, C_in, L]`, or `[C_in, L]` unbatched) by `w`
/// (`[C_out, C_in / groups, k]`) plus an optional bias (`[C_out]`): [`conv2d`] over a
/// height of 1. `y[n, o, i] = b[o] + Σ_{c, p} x[n, c', i·s + p·d - pad] · w[o, c, p]`.
///
/// Derivatives as for [`conv2d`]: `∂L/∂x` is the transposed convolution of `ḡ` by `w`,
/// `∂L/∂w` the correlation of `x` with `ḡ`, `∂L/∂b = Σ ḡ`.
///
/// ```
/// use nabla_autograd::{ops::conv::conv1d, Tensor};
/// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[1, 1, 4]);
/// let w = Tensor::from_vec(vec![1.0f32, -1.0], &[1, 1, 2]);
/// assert_eq!(conv1d(&x, &w, None, 1, 0, 1, 1).to_vec::<f32>(), vec![-1.0, -1.0, -1.0]);
/// ```
///
/// # Panics
/// With the message of [`try_conv1d`]'s error.
#[track_caller]
pub fn conv1d(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
) -> Tensor {
    or_panic(try_conv1d(x, w, b, stride, padding, dilation, groups))
}

/// [`conv1d`], returning the errors of [`try_conv2d`] in 1-D terms.
///
/// ```
/// use nabla_autograd::{ops::conv::try_conv1d, Tensor};
/// let e = try_conv1d(&Tensor::zeros(&[2, 4, 3]), &Tensor::zeros(&[6, 2, 5]), None, 1, 0, 1, 2).unwrap_err();
/// assert!(e.to_string().contains("Kernel size can't be greater than actual input size"));
/// ```
#[track_caller]
pub fn try_conv1d(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
) -> Result<Tensor> {
    run(&Call {
        op: "conv1d",
        x,
        w,
        b,
        stride: &[stride],
        padding: &[padding],
        dilation: &[dilation],
        output_padding: None,
        groups,
    })
}

/// 2-D transposed convolution ("deconvolution") of `x` (`[N, C_in, H, W]`, or unbatched)
/// by `w` (`[C_in, C_out / groups, kH, kW]`, PyTorch's layout) plus an optional bias
/// (`[C_out]`): the adjoint of [`conv2d`] with the same stride, padding, dilation and
/// groups, i.e. the gradient of a convolution with respect to its input. The output is
/// `[N, C_out, (H - 1)·s₀ - 2·pad₀ + d₀·(kH - 1) + output_padding₀ + 1, …]`;
/// `output_padding` (smaller than the stride or the dilation) picks among the input sizes
/// that a strided convolution maps to the same output size.
///
/// Derivatives: `∂L/∂x = conv2d(ḡ, w)`, `∂L/∂w` the correlation of `ḡ` with `x`,
/// `∂L/∂b = Σ ḡ`; differentiable again.
///
/// ```
/// use nabla_autograd::{ops::conv::conv_transpose2d, Tensor};
/// let x = Tensor::ones(&[1, 1, 2, 2]);
/// let w = Tensor::ones(&[1, 1, 2, 2]);
/// let y = conv_transpose2d(&x, &w, None, [2, 2], [0, 0], [0, 0], [1, 1], 1);
/// assert_eq!(y.shape(), &[1, 1, 4, 4]); // each input spreads over its own 2×2 block
/// assert_eq!(y.sum().item(), 16.0);
/// ```
///
/// # Panics
/// With the message of [`try_conv_transpose2d`]'s error.
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn conv_transpose2d(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: [usize; 2],
    padding: [usize; 2],
    output_padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
) -> Tensor {
    or_panic(try_conv_transpose2d(x, w, b, stride, padding, output_padding, dilation, groups))
}

/// [`conv_transpose2d`], returning an error for wrong ranks, mismatched channels
/// (`C_in` must equal `w.shape[0]`), groups not dividing them, an `output_padding` not
/// smaller than the stride or the dilation, a zero stride or dilation, a non-positive
/// output size, a bias of the wrong shape, or mixed dtypes.
///
/// ```
/// use nabla_autograd::{ops::conv::try_conv_transpose2d, Tensor};
/// let (x, w) = (Tensor::zeros(&[1, 4, 5, 5]), Tensor::zeros(&[4, 3, 3, 3]));
/// let e = try_conv_transpose2d(&x, &w, None, [1, 1], [0, 0], [1, 1], [1, 1], 1).unwrap_err();
/// assert!(e.to_string().contains("output padding must be smaller than either stride or dilation"));
/// ```
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn try_conv_transpose2d(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: [usize; 2],
    padding: [usize; 2],
    output_padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
) -> Result<Tensor> {
    run(&Call {
        op: "conv_transpose2d",
        x,
        w,
        b,
        stride: &stride,
        padding: &padding,
        dilation: &dilation,
        output_padding: Some(&output_padding),
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, gradgradcheck};
    use nabla_tensor::DType;

    fn leaf(shape: &[usize]) -> Tensor {
        Tensor::randn_with(shape, DType::F64).requires_grad_(true)
    }

    #[test]
    fn conv2d_gradcheck_plain_with_bias() {
        let (x, w, b) = (leaf(&[2, 3, 5, 5]), leaf(&[4, 3, 3, 3]), leaf(&[4]));
        gradcheck(|t| conv2d(&t[0], &t[1], Some(&t[2]), [1, 1], [1, 1], [1, 1], 1), &[x, w, b]).unwrap();
    }

    #[test]
    fn conv2d_gradcheck_grouped_strided_dilated() {
        let (x, w, b) = (leaf(&[2, 4, 7, 7]), leaf(&[6, 2, 3, 3]), leaf(&[6]));
        gradcheck(|t| conv2d(&t[0], &t[1], Some(&t[2]), [2, 2], [1, 1], [2, 2], 2), &[x, w, b]).unwrap();
        let (x, w) = (leaf(&[1, 3, 6, 5]), leaf(&[3, 1, 2, 3]));
        gradcheck(|t| conv2d(&t[0], &t[1], None, [1, 2], [0, 1], [2, 1], 3), &[x, w]).unwrap();
    }

    #[test]
    fn conv2d_gradcheck_pointwise_and_unbatched() {
        let (x, w) = (leaf(&[2, 4, 3, 3]), leaf(&[2, 4, 1, 1]));
        gradcheck(|t| conv2d(&t[0], &t[1], None, [1, 1], [0, 0], [1, 1], 1), &[x, w]).unwrap();
        let (x, w, b) = (leaf(&[2, 4, 4]), leaf(&[3, 2, 2, 2]), leaf(&[3]));
        let y = conv2d(&x, &w, Some(&b), [1, 1], [0, 0], [1, 1], 1);
        assert_eq!(y.shape(), &[3, 3, 3]);
        gradcheck(|t| conv2d(&t[0], &t[1], Some(&t[2]), [1, 1], [0, 0], [1, 1], 1), &[x, w, b]).unwrap();
    }

    #[test]
    fn conv2d_gradcheck_non_contiguous_operands() {
        // channels-last storage viewed as NCHW, and a weight stored with kH and kW swapped
        let (xb, wb) = (leaf(&[2, 5, 4, 3]), leaf(&[4, 3, 3, 2]));
        assert!(!xb.permute(&[0, 3, 1, 2]).is_contiguous());
        gradcheck(
            |t| conv2d(&t[0].permute(&[0, 3, 1, 2]), &t[1].transpose(2, 3), None, [1, 1], [1, 0], [1, 1], 1),
            &[xb, wb],
        )
        .unwrap();
    }

    #[test]
    fn conv2d_matches_manual_sum_and_names_its_node() {
        let x = Tensor::from_vec((0..18).map(|v| v as f64).collect(), &[1, 2, 3, 3]).requires_grad_(true);
        let w = Tensor::from_vec(vec![1.0f64, 0.0, 0.0, -1.0, 2.0, 0.0, 0.0, 0.0], &[1, 2, 2, 2]);
        let b = Tensor::from_vec(vec![0.5f64], &[1]);
        let y = conv2d(&x, &w, Some(&b), [1, 1], [0, 0], [1, 1], 1);
        // y[i, j] = x0[i, j] - x0[i+1, j+1] + 2·x1[i, j] + 0.5
        let x0 = |i: usize, j: usize| (i * 3 + j) as f64;
        let expect: Vec<f64> = (0..2)
            .flat_map(|i| (0..2).map(move |j| x0(i, j) - x0(i + 1, j + 1) + 2.0 * (9.0 + x0(i, j)) + 0.5))
            .collect();
        assert_eq!(y.to_vec::<f64>(), expect);
        assert_eq!(y.grad_fn().unwrap().name(), "ConvolutionBackward");
    }

    #[test]
    fn conv2d_big_f32_gradients_match_f64() {
        // large enough to split work across threads and bands
        let x = Tensor::randn_with(&[3, 16, 20, 20], DType::F64);
        let w = Tensor::randn_with(&[8, 16, 3, 3], DType::F64);
        let b = Tensor::randn_with(&[8], DType::F64);
        let run = |dt: DType| {
            let (x, w, b) = (
                x.to_dtype(dt).requires_grad_(true),
                w.to_dtype(dt).requires_grad_(true),
                b.to_dtype(dt).requires_grad_(true),
            );
            let y = conv2d(&x, &w, Some(&b), [1, 1], [1, 1], [1, 1], 1);
            y.sum().backward();
            [y, x.grad().unwrap(), w.grad().unwrap(), b.grad().unwrap()].map(|t| t.to_vec::<f64>())
        };
        let (a, c) = (run(DType::F32), run(DType::F64));
        for (p, q) in a.iter().zip(&c) {
            for (u, v) in p.iter().zip(q) {
                assert!((u - v).abs() <= 2e-3 * (1.0 + v.abs()), "{u} vs {v}");
            }
        }
        assert_eq!(c[3], vec![3.0 * 400.0; 8]); // bias gradient of a sum: N·H·W
    }

    #[test]
    fn empty_batch_and_kernel_filling_the_padded_input() {
        let (x, w, b) = (leaf(&[0, 3, 5, 5]), leaf(&[4, 3, 3, 3]), leaf(&[4]));
        let y = conv2d(&x, &w, Some(&b), [1, 1], [1, 1], [1, 1], 1);
        assert_eq!(y.shape(), &[0, 4, 5, 5]);
        y.sum().backward();
        assert_eq!(w.grad().unwrap().to_vec::<f64>(), vec![0.0; 108]);
        assert_eq!(b.grad().unwrap().to_vec::<f64>(), vec![0.0; 4]);
        // one output position per image
        let (x, w) = (leaf(&[2, 2, 3, 3]), leaf(&[3, 2, 5, 5]));
        assert_eq!(conv2d(&x, &w, None, [1, 1], [1, 1], [1, 1], 1).shape(), &[2, 3, 1, 1]);
        gradcheck(|t| conv2d(&t[0], &t[1], None, [1, 1], [1, 1], [1, 1], 1), &[x, w]).unwrap();
    }

    #[test]
    fn conv1d_gradcheck() {
        let (x, w, b) = (leaf(&[2, 4, 11]), leaf(&[6, 2, 3]), leaf(&[6]));
        gradcheck(|t| conv1d(&t[0], &t[1], Some(&t[2]), 2, 1, 1, 2), &[x, w, b]).unwrap();
        let (x, w) = (leaf(&[3, 9]), leaf(&[2, 3, 2]));
        assert_eq!(conv1d(&x, &w, None, 1, 0, 3, 1).shape(), &[2, 6]);
        gradcheck(|t| conv1d(&t[0], &t[1], None, 1, 0, 3, 1), &[x, w]).unwrap();
    }

    #[test]
    fn conv_transpose2d_gradcheck() {
        let (x, w, b) = (leaf(&[2, 4, 3, 3]), leaf(&[4, 3, 3, 3]), leaf(&[3]));
        let y = conv_transpose2d(&x, &w, Some(&b), [2, 2], [1, 1], [1, 1], [1, 1], 1);
        assert_eq!(y.shape(), &[2, 3, 6, 6]);
        gradcheck(|t| conv_transpose2d(&t[0], &t[1], Some(&t[2]), [2, 2], [1, 1], [1, 1], [1, 1], 1), &[x, w, b])
            .unwrap();
        // groups, dilation, and an output_padding allowed by the dilation alone
        let (x, w) = (leaf(&[1, 4, 3, 4]), leaf(&[4, 1, 2, 2]));
        let y = conv_transpose2d(&x, &w, None, [1, 1], [0, 1], [1, 0], [2, 2], 2);
        assert_eq!(y.shape(), &[1, 2, 6, 4]);
        gradcheck(|t| conv_transpose2d(&t[0], &t[1], None, [1, 1], [0, 1], [1, 0], [2, 2], 2), &[x, w]).unwrap();
    }

    #[test]
    fn conv_transpose2d_is_the_input_gradient_of_conv2d() {
        let x = leaf(&[2, 4, 7, 7]);
        let w = Tensor::randn_with(&[6, 2, 3, 3], DType::F64);
        let y = conv2d(&x, &w, None, [2, 2], [1, 1], [1, 1], 2);
        let g = Tensor::randn_with(y.shape(), DType::F64);
        (&y * &g).sum().backward();
        let t = conv_transpose2d(&g, &w, None, [2, 2], [1, 1], [0, 0], [1, 1], 2);
        assert_eq!(t.to_vec::<f64>(), x.grad().unwrap().to_vec::<f64>());
    }

    #[test]
    fn conv_second_derivatives() {
        let (x, w, b) = (leaf(&[2, 2, 4, 4]), leaf(&[2, 2, 2, 2]), leaf(&[2]));
        gradgradcheck(|t| conv2d(&t[0], &t[1], Some(&t[2]), [2, 1], [1, 0], [1, 2], 1), &[x, w, b]).unwrap();
        let (x, w) = (leaf(&[1, 2, 3, 3]), leaf(&[2, 2, 2, 2]));
        gradgradcheck(|t| conv_transpose2d(&t[0], &t[1], None, [2, 2], [0, 0], [1, 1], [1, 1], 1), &[x, w]).unwrap();
        let (x, w) = (leaf(&[2, 4, 6]), leaf(&[4, 2, 3]));
        gradgradcheck(|t| conv1d(&t[0], &t[1], None, 1, 1, 1, 2), &[x, w]).unwrap();
        // a third derivative: d/dx of (d/dw of Σ y²)
        let (x, w) = (leaf(&[1, 1, 3, 3]), leaf(&[1, 1, 2, 2]));
        gradgradcheck(|t| conv2d(&t[0], &t[1], None, [1, 1], [0, 0], [1, 1], 1).pow(2.0), &[x, w]).unwrap();
    }

    /// Timing of the `conv_big` and `cnn_step` convolutions, forward + backward (not an
    /// assertion): `cargo test --release -p nabla-autograd --lib conv_timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn conv_timing() {
        fn time(input: [usize; 4], c_out: usize, iters: usize) {
            let x = Tensor::uniform(&input, -1.0, 1.0, DType::F32).requires_grad_(true);
            let w = Tensor::uniform(&[c_out, input[1], 3, 3], -0.1, 0.1, DType::F32).requires_grad_(true);
            let b = Tensor::zeros(&[c_out]).requires_grad_(true);
            let step = || {
                let t = std::time::Instant::now();
                conv2d(&x, &w, Some(&b), [1, 1], [1, 1], [1, 1], 1).sum().backward();
                t.elapsed().as_secs_f64()
            };
            step();
            let mut ts: Vec<f64> = (0..iters).map(|_| step()).collect();
            ts.sort_by(f64::total_cmp);
            let (med, best) = (ts[iters / 2], ts[0]);
            let flops = 3.0 * 2.0 * (input[0] * c_out * input[2] * input[3] * input[1] * 9) as f64;
            println!(
                "conv {input:?} -> {c_out} 3x3 pad 1, fwd+bwd: median {:.2} ms ({:.1} GFLOP/s), best {:.2} ms ({:.1} GFLOP/s)",
                med * 1e3,
                flops / med / 1e9,
                best * 1e3,
                flops / best / 1e9
            );
        }
        time([16, 64, 56, 56], 64, 5);
        time([64, 1, 28, 28], 32, 20);
        time([64, 32, 14, 14], 64, 20);
    }

    fn err(r: Result<Tensor>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn conv_errors_name_op_shapes_rule_and_hint() {
        let z = |s: &[usize]| Tensor::zeros(s);
        let e = err(try_conv2d(&z(&[8, 1, 28, 28]), &z(&[16, 3, 3, 3]), None, [1, 1], [0, 0], [1, 1], 1));
        assert_eq!(
            e,
            "conv2d: expected input [N, C, H, W] with C = 3 (weight [16, 3, 3, 3] with groups 1), got input \
             [8, 1, 28, 28]; hint: the input's channels must equal weight.shape[1] × groups; give a weight of shape \
             [C_out, C_in / groups, kH, kW] matching the input, or fix the input's channels"
        );
        let e = err(try_conv2d(&z(&[8, 28, 28, 3]), &z(&[16, 3, 3, 3]), None, [1, 1], [0, 0], [1, 1], 1));
        assert!(e.contains("channels-last"), "{e}");
        let e = err(try_conv2d(&z(&[28, 28]), &z(&[16, 3, 3, 3]), None, [1, 1], [0, 0], [1, 1], 1));
        assert!(e.starts_with("conv2d: expected a 3-D (unbatched [C, H, W]) or 4-D (batched [N, C, H, W]) input, got shape [28, 28]; hint:"), "{e}");
        let e = err(try_conv2d(&z(&[1, 3, 8, 8]), &z(&[16, 3, 3]), None, [1, 1], [0, 0], [1, 1], 1));
        assert!(e.contains("expected a 4-D weight [C_out, C_in / groups, kH, kW], got shape [16, 3, 3]"), "{e}");
        let e = err(try_conv2d(&z(&[1, 4, 8, 8]), &z(&[6, 2, 3, 3]), None, [1, 1], [0, 0], [1, 1], 4));
        assert!(e.contains("expected out_channels (weight.shape[0] = 6) to be divisible by groups = 4"), "{e}");
        let e = err(try_conv2d(&z(&[1, 5, 8, 8]), &z(&[4, 2, 3, 3]), None, [1, 1], [0, 0], [1, 1], 2));
        assert!(e.contains("groups = 2 must divide the input's 5 channels"), "{e}");
        let e = err(try_conv2d(&z(&[1, 1, 2, 2]), &z(&[1, 1, 5, 5]), None, [1, 1], [1, 1], [1, 1], 1));
        assert!(
            e.contains("Kernel size can't be greater than actual input size")
                && e.contains("(4 x 4)")
                && e.contains("(5 x 5)"),
            "{e}"
        );
        assert!(e.contains("input [1, 1, 2, 2], weight [1, 1, 5, 5]"), "{e}");
        let e = err(try_conv2d(&z(&[1, 1, 8, 8]), &z(&[1, 1, 3, 3]), None, [0, 1], [0, 0], [1, 1], 1));
        assert!(
            e.contains(
                "non-positive stride is not supported: got stride [0, 1] (input [1, 1, 8, 8], weight [1, 1, 3, 3])"
            ),
            "{e}"
        );
        let e = err(try_conv2d(&z(&[1, 1, 8, 8]), &z(&[1, 1, 3, 3]), None, [1, 1], [0, 0], [1, 1], 0));
        assert!(e.contains("groups must be a positive integer"), "{e}");
        let e = err(try_conv2d(&z(&[1, 1, 8, 8]), &z(&[2, 1, 3, 3]), Some(&z(&[3])), [1, 1], [0, 0], [1, 1], 1));
        assert!(e.contains("expected a bias of shape [2]"), "{e}");
        let e =
            err(try_conv2d(&z(&[1, 1, 8, 8]), &z(&[2, 1, 3, 3]).to_dtype(DType::F64), None, [1, 1], [0, 0], [1, 1], 1));
        assert!(e.contains("got input float32, weight float64"), "{e}");
        let e = err(try_conv1d(&z(&[2, 3, 10]), &z(&[4, 2, 3]), None, 1, 0, 1, 1));
        assert!(e.starts_with("conv1d: expected input [N, C, L] with C = 2"), "{e}");
        let e =
            err(try_conv_transpose2d(&z(&[1, 3, 4, 4]), &z(&[4, 2, 3, 3]), None, [1, 1], [0, 0], [0, 0], [1, 1], 1));
        assert!(e.contains("conv_transpose2d: expected input [N, C, H, W] with C = 4"), "{e}");
        let e =
            err(try_conv_transpose2d(&z(&[1, 4, 1, 1]), &z(&[4, 2, 1, 1]), None, [1, 1], [1, 1], [0, 0], [1, 1], 1));
        assert!(e.contains("the output size") && e.contains("is -1 x -1"), "{e}");
    }

    #[test]
    #[should_panic(expected = "conv2d: expected input [N, C, H, W] with C = 3")]
    fn conv2d_panics_with_the_error_message() {
        conv2d(&Tensor::zeros(&[1, 2, 5, 5]), &Tensor::zeros(&[1, 3, 3, 3]), None, [1, 1], [0, 0], [1, 1], 1);
    }
}
