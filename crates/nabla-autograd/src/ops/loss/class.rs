//! Losses of class-index targets: `cross_entropy` (also with probability targets) and
//! `nll_loss`. Cross-entropy with class indices is one fused op: a single pass over each
//! row of `[N, C]` gives the log-softmax, the loss and the softmax backward needs.

use crate::grad_mode::is_grad_enabled;
use crate::graph::{Backward, BackwardCtx, Grads, Saved};
use crate::ops::binary::promote;
use crate::ops::loss::{float_input, reduce, Reduction};
use crate::ops::{or_panic, record};
use crate::tensor::Tensor;
use nabla_tensor::elementwise::PARALLEL_THRESHOLD;
use nabla_tensor::iter::for_each_row_n;
use nabla_tensor::pool;
use nabla_tensor::{DType, Element, Error, Float, Layout, RawTensor, Result, Shape};
use rayon::prelude::*;
use smallvec::smallvec;

/// Options of [`cross_entropy_with`]; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossEntropyOptions {
    /// How to reduce the per-sample losses.
    pub reduction: Reduction,
    /// `ε` in `[0, 1]`: the target becomes `(1 − ε) · onehot + ε / C`.
    pub label_smoothing: f64,
    /// Class-index targets equal to this contribute nothing (PyTorch's default is −100).
    pub ignore_index: Option<i64>,
}
impl Default for CrossEntropyOptions {
    fn default() -> Self {
        CrossEntropyOptions { reduction: Reduction::Mean, label_smoothing: 0.0, ignore_index: Some(-100) }
    }
}

/// Options of [`nll_loss_with`]; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NllLossOptions {
    /// How to reduce the per-sample losses.
    pub reduction: Reduction,
    /// Targets equal to this contribute nothing (PyTorch's default is −100).
    pub ignore_index: Option<i64>,
}
impl Default for NllLossOptions {
    fn default() -> Self {
        NllLossOptions { reduction: Reduction::Mean, ignore_index: Some(-100) }
    }
}

/// Class-index targets checked against an input `[N, C, d...]`, flattened to rows `[N·d...]`.
struct ClassTargets {
    idx: Vec<i64>,
    classes: usize,
    /// Product of the dimensions after the class dimension.
    inner: usize,
    /// Rows not ignored.
    valid: usize,
    ignore: Option<i64>,
}

impl ClassTargets {
    /// `input` has at least 2 dimensions, the class dimension being 1.
    fn new(op: &'static str, input: &Tensor, target: &Tensor, ignore: Option<i64>) -> Result<ClassTargets> {
        let s = input.shape();
        let expected: Vec<usize> = s.iter().enumerate().filter(|&(d, _)| d != 1).map(|(_, &n)| n).collect();
        if target.dtype() != DType::I64 || target.shape() != &expected[..] {
            return Err(target_error(op, s, &expected, target));
        }
        let classes = s[1];
        if classes == 0 {
            return Err(Error::shape(op, format!("the input {s:?} has no classes (dimension 1 is 0)"), ""));
        }
        let idx = target.to_vec::<i64>();
        let mut valid = 0;
        for &y in &idx {
            if Some(y) == ignore {
                continue;
            }
            if y < 0 || y as usize >= classes {
                return Err(Error::invalid_argument(
                    op,
                    format!(
                        "Target {y} is out of bounds: the input {s:?} has {classes} classes, so class indices \
                         must be in 0..{classes}{}",
                        ignore.map(|i| format!(" (or equal ignore_index {i})")).unwrap_or_default()
                    ),
                ));
            }
            valid += 1;
        }
        Ok(ClassTargets { idx, classes, inner: s[2..].iter().product(), valid, ignore })
    }

    fn ignored(&self, r: usize) -> bool {
        Some(self.idx[r]) == self.ignore
    }

    /// Per-row weights of the reduced loss: `1/valid` (mean) or 1, and 0 on ignored rows.
    fn scale(&self, reduction: Reduction) -> f64 {
        if reduction == Reduction::Mean {
            1.0 / self.valid as f64
        } else {
            1.0
        }
    }

    /// Constant `[N, C, d...]` tensor: `value(row, class)` where the row is not ignored, else 0.
    fn dense(&self, shape: &[usize], dtype: DType, value: impl Fn(usize, usize) -> f64) -> Tensor {
        let (c, inner) = (self.classes, self.inner);
        let mut v = vec![0.0f64; self.idx.len() * c];
        for r in (0..self.idx.len()).filter(|&r| !self.ignored(r)) {
            let (n, s) = (r / inner, r % inner);
            for k in 0..c {
                v[(n * c + k) * inner + s] = value(r, k);
            }
        }
        Tensor::from_vec(v, shape).to_dtype(dtype)
    }
}

fn target_error(op: &'static str, input: &[usize], expected: &[usize], target: &Tensor) -> Error {
    let names: Vec<String> = std::iter::once("N".to_string())
        .chain((1..expected.len()).map(|i| format!("d{i}")))
        .take(expected.len())
        .collect();
    let msg = format!(
        "expected targets of shape [{}] = {expected:?} with class indices (int64), got {:?} ({}) for input {input:?}",
        names.join(", "),
        target.shape(),
        target.dtype()
    );
    let hint = if target.dtype().is_float() && op == "cross_entropy" {
        format!(
            "float targets are class probabilities and need the input's shape {input:?}; \
             for class indices convert with to_dtype(DType::I64)"
        )
    } else if target.shape().len() == expected.len() + 1 && target.shape().last() == Some(&1) {
        "remove the trailing dimension of size 1 with targets.squeeze(-1)".to_string()
    } else if target.dtype() != DType::I64 {
        "convert the targets with to_dtype(DType::I64)".to_string()
    } else if target.shape() == input && op == "cross_entropy" {
        "int64 targets of the input's shape look one-hot: pass class indices (target.argmax(1, false)), \
         or probabilities as floats (to_dtype(DType::F32))"
            .to_string()
    } else {
        format!("class-index targets have the input's shape without the class dimension 1: {expected:?}")
    };
    Error::shape(op, msg, hint)
}

/// Storage offsets of every lane along `dim` of `l`, in row-major order of the other dimensions.
fn lane_starts(l: &Layout, dim: usize) -> Vec<usize> {
    let keep = |v: &[usize]| -> Vec<usize> { (0..l.ndim()).filter(|&d| d != dim).map(|d| v[d]).collect() };
    let (shape, strides) = (keep(l.shape()), keep(l.strides()));
    let mut starts = Vec::with_capacity(shape.iter().product());
    for_each_row_n(&shape, [&strides], [l.offset()], |p, st, n| starts.extend((0..n).map(|i| p[0] + i * st[0])));
    starts
}

/// One pass per row: softmax probabilities (row-major `[rows, C]`) and the smoothed NLL of each row.
fn cross_entropy_rows<T: Float>(x: &RawTensor, t: &ClassTargets, eps: f64) -> (Vec<T>, Vec<T>) {
    let c = t.classes;
    let starts = lane_starts(x.layout(), 1);
    let cs = x.layout().strides()[1];
    let (mut probs, mut losses) = (pool::alloc_filled(starts.len() * c, T::zero()), vec![T::zero(); starts.len()]);
    let (keep, spread, classes) = (T::cast(1.0 - eps), T::cast(eps / c as f64), T::cast(c as f64));
    x.with_slice::<T, _>(|s, _| {
        // The row is copied into its slot of `probs` and turned into the softmax in place:
        // every loop but exp runs on a plain slice. The loss is written as sums of
        // non-negative terms, (m − x_y) + log z, so logits of ±1e4 lose nothing.
        let row = |(r, (p, loss)): (usize, (&mut [T], &mut T))| {
            let start = starts[r];
            if cs == 1 {
                p.copy_from_slice(&s[start..start + c]);
            } else {
                p.iter_mut().enumerate().for_each(|(k, pk)| *pk = s[start + k * cs]);
            }
            let mut m = p.iter().fold(T::neg_infinity(), |a, &b| a.max(b));
            if !m.is_finite() {
                m = T::zero();
            }
            let ignored = t.ignored(r);
            let x_y = if ignored { T::zero() } else { p[t.idx[r] as usize] };
            let below_max = if eps > 0.0 { p.iter().fold(T::zero(), |a, &x| a + (m - x)) } else { T::zero() };
            let mut z = T::zero();
            for pk in p.iter_mut() {
                *pk = (*pk - m).exp();
                z += *pk;
            }
            let inv = T::one() / z;
            p.iter_mut().for_each(|pk| *pk *= inv);
            if !ignored {
                let log_z = z.ln();
                let nll = (m - x_y) + log_z;
                // smoothing: ε/C · Σ_k (lse − x_k) = ε/C · (Σ_k (m − x_k) + C · log z)
                *loss = if eps > 0.0 { keep * nll + spread * (below_max + classes * log_z) } else { nll };
            }
        };
        if probs.len() >= PARALLEL_THRESHOLD {
            probs.par_chunks_mut(c).zip(losses.par_iter_mut()).enumerate().for_each(row);
        } else {
            probs.chunks_mut(c).zip(losses.iter_mut()).enumerate().for_each(row);
        }
    });
    (probs, losses)
}

/// `(softmax − target) · g` per row, into the input's contiguous layout `[N, C, d...]`.
fn cross_entropy_grad<T: Float>(probs: &[T], t: &ClassTargets, eps: f64, g: &[T]) -> Vec<T> {
    let (c, inner) = (t.classes, t.inner);
    let (keep, spread) = (T::cast(1.0 - eps), T::cast(eps / c as f64));
    let g_at = |r: usize| if g.len() == 1 { g[0] } else { g[r] };
    let mut out = pool::alloc_filled(probs.len(), T::zero());
    let row = |r: usize, k: usize| -> T {
        let q = if k as i64 == t.idx[r] { keep + spread } else { spread };
        (probs[r * c + k] - q) * g_at(r)
    };
    if inner == 1 {
        let fill = |(r, o): (usize, &mut [T])| {
            if !t.ignored(r) {
                o.iter_mut().enumerate().for_each(|(k, v)| *v = row(r, k));
            }
        };
        if out.len() >= PARALLEL_THRESHOLD {
            out.par_chunks_mut(c).enumerate().for_each(fill);
        } else {
            out.chunks_mut(c).enumerate().for_each(fill);
        }
    } else {
        for r in (0..t.idx.len()).filter(|&r| !t.ignored(r)) {
            let (n, s) = (r / inner, r % inner);
            for k in 0..c {
                out[(n * c + k) * inner + s] = row(r, k);
            }
        }
    }
    out
}

struct CrossEntropyBackward {
    logits: Saved,
    probs: RawTensor,
    targets: ClassTargets,
    eps: f64,
    reduction: Reduction,
}
impl Backward for CrossEntropyBackward {
    fn name(&self) -> &'static str {
        "CrossEntropyLossBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let logits = self.logits.get(ctx.name())?;
        let (t, scale) = (&self.targets, self.targets.scale(self.reduction));
        if is_grad_enabled() {
            // create_graph: (softmax(x) − q) · g · scale, with softmax recorded
            let (keep, spread) = (1.0 - self.eps, self.eps / t.classes as f64);
            let q = t.dense(logits.shape(), g.dtype(), |r, k| spread + if k as i64 == t.idx[r] { keep } else { 0.0 });
            let mut w_shape = logits.shape().to_vec();
            w_shape[1] = 1;
            let w = Tensor::from_vec(
                (0..t.idx.len()).map(|r| if t.ignored(r) { 0.0 } else { scale }).collect::<Vec<f64>>(),
                &w_shape,
            )
            .to_dtype(g.dtype());
            let g = if self.reduction == Reduction::None { g.try_unsqueeze(1)? } else { g.clone() };
            let gx = logits.try_softmax(1, false)?.try_sub(&q)?.try_mul(&w.try_mul(&g)?)?;
            return Ok(smallvec![Some(gx)]);
        }
        fn go<T: Float>(b: &CrossEntropyBackward, g: &Tensor, scale: f64, shape: &[usize]) -> RawTensor {
            let g: Vec<T> = match b.reduction {
                Reduction::None => g.raw().to_vec::<T>(),
                _ => vec![T::cast(g.item() * scale)],
            };
            let out = b.probs.with_slice::<T, _>(|p, _| cross_entropy_grad(p, &b.targets, b.eps, &g));
            RawTensor::from_vec(out, shape)
        }
        let out = match self.probs.dtype() {
            DType::F32 => go::<f32>(self, g, scale, logits.shape()),
            _ => go::<f64>(self, g, scale, logits.shape()),
        };
        Ok(smallvec![Some(Tensor::from_raw(out))])
    }
}

/// The fused op on an input `[N, C, d...]` and checked targets.
#[track_caller]
fn cross_entropy_indices(x: &Tensor, t: ClassTargets, eps: f64, reduction: Reduction) -> Result<Tensor> {
    fn go<T: Float>(
        x: &RawTensor,
        t: &ClassTargets,
        eps: f64,
        red: Reduction,
        shape: &[usize],
    ) -> (RawTensor, RawTensor) {
        let (probs, losses) = cross_entropy_rows::<T>(x, t, eps);
        let out = match red {
            Reduction::None => RawTensor::from_vec(losses, shape),
            _ => {
                let sum: f64 = losses.iter().map(|&v| Element::to_f64(v)).sum();
                RawTensor::from_vec(vec![T::cast(sum * t.scale(red))], &[])
            }
        };
        (out, RawTensor::from_vec(probs, &[t.idx.len(), t.classes]))
    }
    let rows_shape: Vec<usize> = x.shape().iter().enumerate().filter(|&(d, _)| d != 1).map(|(_, &n)| n).collect();
    let (out, probs) = match x.dtype() {
        DType::F32 => go::<f32>(x.raw(), &t, eps, reduction, &rows_shape),
        _ => go::<f64>(x.raw(), &t, eps, reduction, &rows_shape),
    };
    record(out, &[x], false, || CrossEntropyBackward { logits: Saved::new(x), probs, targets: t, eps, reduction })
}

/// `−Σ_c t_c · log_softmax(x)_c` per sample for probability targets of the input's shape,
/// composed of recorded ops (the targets may require grad too).
#[track_caller]
fn cross_entropy_probs(x: &Tensor, target: &Tensor, eps: f64, reduction: Reduction) -> Result<Tensor> {
    let class_dim = if x.dims() == 1 { 0 } else { 1 };
    let (x, t) = promote("cross_entropy", x, target)?;
    let t = if eps > 0.0 {
        t.try_mul_scalar(1.0 - eps)?.try_add_scalar(eps / x.shape()[class_dim] as f64)?
    } else {
        t.into_owned()
    };
    let per = t.try_mul(&x.try_softmax(class_dim, true)?)?.try_sum_dims(&[class_dim], false)?.neg();
    reduce(per, reduction)
}

/// Cross-entropy between logits and targets, with the mean over the batch: PyTorch's
/// `F.cross_entropy(input, target)`. See [`cross_entropy_with`] for the options.
///
/// `input` is `[N, C]`, `[N, C, d1, ...]` or `[C]`; `target` holds class indices (int64) of the
/// input's shape without the class dimension 1 (`[N]`, `[N, d1, ...]` or `[]`), or class
/// probabilities (float) of the input's shape. Stable for logits of ±1e4.
///
/// `d loss/d input = (softmax(input) − onehot(target)) / N`.
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let logits = Tensor::from_vec(vec![2.0f64, 0.0, 0.0, 0.0, 3.0, 0.0], &[2, 3]).requires_grad_(true);
/// let targets = Tensor::from_vec(vec![0i64, 1], &[2]);
/// let loss = F::cross_entropy(&logits, &targets);
/// let l0 = -(2f64.exp() / (2f64.exp() + 2.0)).ln();
/// let l1 = -(3f64.exp() / (3f64.exp() + 2.0)).ln();
/// assert!((loss.item() - (l0 + l1) / 2.0).abs() < 1e-12);
/// loss.backward();
/// assert_eq!(logits.grad().unwrap().shape(), &[2, 3]);
/// ```
///
/// # Panics
/// On targets of the wrong shape or dtype (`cross_entropy: expected targets of shape [N] = [8]
/// with class indices (int64), got [8, 1] ...`), or a class index out of range.
#[track_caller]
pub fn cross_entropy(input: &Tensor, target: &Tensor) -> Tensor {
    or_panic(try_cross_entropy_with(input, target, &CrossEntropyOptions::default()))
}

/// [`cross_entropy`] with options: reduction, label smoothing, ignored class index.
///
/// With label smoothing `ε` the target row becomes `(1 − ε) · onehot + ε / C`; targets equal
/// to `ignore_index` contribute neither loss nor gradient, and the mean is over the others.
///
/// ```
/// use nabla_autograd::functional::{self as F, CrossEntropyOptions, Reduction};
/// use nabla_autograd::Tensor;
/// let logits = Tensor::zeros_with(&[3, 4], nabla_autograd::DType::F64);
/// let targets = Tensor::from_vec(vec![1i64, -100, 2], &[3]);
/// let opts = CrossEntropyOptions { reduction: Reduction::None, ..Default::default() };
/// let l = F::cross_entropy_with(&logits, &targets, &opts).to_vec::<f64>();
/// assert_eq!(l, vec![4f64.ln(), 0.0, 4f64.ln()]);
/// ```
#[track_caller]
pub fn cross_entropy_with(input: &Tensor, target: &Tensor, opts: &CrossEntropyOptions) -> Tensor {
    or_panic(try_cross_entropy_with(input, target, opts))
}

/// [`cross_entropy`], returning errors.
#[track_caller]
pub fn try_cross_entropy(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    try_cross_entropy_with(input, target, &CrossEntropyOptions::default())
}

/// [`cross_entropy_with`], returning errors.
#[track_caller]
pub fn try_cross_entropy_with(input: &Tensor, target: &Tensor, opts: &CrossEntropyOptions) -> Result<Tensor> {
    let op = "cross_entropy";
    float_input(op, input)?;
    let eps = opts.label_smoothing;
    if !(0.0..=1.0).contains(&eps) {
        return Err(Error::invalid_argument(op, format!("label_smoothing must be between 0.0 and 1.0. Got: {eps}")));
    }
    if input.dims() == 0 {
        return Err(Error::shape(
            op,
            "expected an input of shape [N, C], [N, C, d1, ...] or [C], got a 0-D tensor",
            "",
        ));
    }
    if target.dtype().is_float() && target.shape() == input.shape() {
        return cross_entropy_probs(input, target, eps, opts.reduction);
    }
    if input.dims() == 1 {
        // one unbatched sample: [C] with a 0-D target
        if target.dims() != 0 || target.dtype() != DType::I64 {
            return Err(target_error(op, input.shape(), &[], target));
        }
        let x = input.try_unsqueeze(0)?;
        let t = ClassTargets::new(op, &x, &target.try_unsqueeze(0)?, opts.ignore_index)?;
        let out = cross_entropy_indices(&x, t, eps, opts.reduction)?;
        return if opts.reduction == Reduction::None { out.try_squeeze(0) } else { Ok(out) };
    }
    let t = ClassTargets::new(op, input, target, opts.ignore_index)?;
    cross_entropy_indices(input, t, eps, opts.reduction)
}

struct NllLossBackward {
    targets: ClassTargets,
    shape: Shape,
    reduction: Reduction,
}
impl Backward for NllLossBackward {
    fn name(&self) -> &'static str {
        "NllLossBackward"
    }
    fn backward(&self, _ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        // −scale at each row's target, times g: linear in the input, so a constant mask
        // serves create_graph as well
        let t = &self.targets;
        let scale = t.scale(self.reduction);
        let m = t.dense(&self.shape, g.dtype(), |r, k| if k as i64 == t.idx[r] { -scale } else { 0.0 });
        let g = if self.reduction == Reduction::None { g.try_unsqueeze(1)? } else { g.clone() };
        Ok(smallvec![Some(m.try_mul(&g)?)])
    }
    fn has_saved(&self) -> bool {
        false
    }
}

/// Negative log-likelihood of class indices given log-probabilities (the output of
/// `log_softmax`): `−input[n, target[n]]`, averaged. PyTorch's `F.nll_loss(input, target)`.
/// Shapes as [`cross_entropy`] with class indices. `d/d input = −onehot(target) / N`.
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let logp = Tensor::from_vec(vec![-0.5f64, -1.0, -2.0, -0.1], &[2, 2]);
/// let t = Tensor::from_vec(vec![1i64, 1], &[2]);
/// assert_eq!(F::nll_loss(&logp, &t).item(), 0.55);
/// ```
#[track_caller]
pub fn nll_loss(input: &Tensor, target: &Tensor) -> Tensor {
    or_panic(try_nll_loss_with(input, target, &NllLossOptions::default()))
}

/// [`nll_loss`] with a reduction and an ignored class index.
#[track_caller]
pub fn nll_loss_with(input: &Tensor, target: &Tensor, opts: &NllLossOptions) -> Tensor {
    or_panic(try_nll_loss_with(input, target, opts))
}

/// [`nll_loss`], returning errors.
#[track_caller]
pub fn try_nll_loss(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    try_nll_loss_with(input, target, &NllLossOptions::default())
}

/// [`nll_loss_with`], returning errors.
#[track_caller]
pub fn try_nll_loss_with(input: &Tensor, target: &Tensor, opts: &NllLossOptions) -> Result<Tensor> {
    let op = "nll_loss";
    float_input(op, input)?;
    if input.dims() == 0 {
        return Err(Error::shape(
            op,
            "expected an input of shape [N, C], [N, C, d1, ...] or [C], got a 0-D tensor",
            "",
        ));
    }
    if input.dims() == 1 {
        if target.dims() != 0 || target.dtype() != DType::I64 {
            return Err(target_error(op, input.shape(), &[], target));
        }
        let out = try_nll_loss_with(&input.try_unsqueeze(0)?, &target.try_unsqueeze(0)?, opts)?;
        return if opts.reduction == Reduction::None { out.try_squeeze(0) } else { Ok(out) };
    }
    let t = ClassTargets::new(op, input, target, opts.ignore_index)?;
    fn picked<T: Float>(x: &RawTensor, t: &ClassTargets) -> Vec<f64> {
        let (starts, cs) = (lane_starts(x.layout(), 1), x.layout().strides()[1]);
        x.with_slice::<T, _>(|s, _| {
            let at = |r: usize| Element::to_f64(s[starts[r] + t.idx[r] as usize * cs]);
            (0..t.idx.len()).map(|r| if t.ignored(r) { 0.0 } else { -at(r) }).collect()
        })
    }
    let losses = match input.dtype() {
        DType::F32 => picked::<f32>(input.raw(), &t),
        _ => picked::<f64>(input.raw(), &t),
    };
    let out_shape: Vec<usize> = input.shape().iter().enumerate().filter(|&(d, _)| d != 1).map(|(_, &n)| n).collect();
    let out = match opts.reduction {
        Reduction::None => RawTensor::from_vec(losses, &out_shape),
        r => RawTensor::from_vec(vec![losses.iter().sum::<f64>() * t.scale(r)], &[]),
    }
    .to_dtype(input.dtype());
    let shape: Shape = Shape::from_slice(input.shape());
    record(out, &[input], false, || NllLossBackward { targets: t, shape, reduction: opts.reduction })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, gradgradcheck};

    fn leaf(shape: &[usize]) -> Tensor {
        Tensor::randn_with(shape, DType::F64).requires_grad_(true)
    }

    fn classes(v: &[i64], shape: &[usize]) -> Tensor {
        Tensor::from_vec(v.to_vec(), shape)
    }

    /// log_softmax + one-hot selection, written with plain recorded ops.
    fn reference(x: &Tensor, t: &[i64], eps: f64) -> Vec<f64> {
        let (n, c) = (x.shape()[0], x.shape()[1]);
        let lp = x.log_softmax(1).to_vec::<f64>();
        (0..n)
            .map(|i| {
                -(1.0 - eps) * lp[i * c + t[i] as usize] - eps / c as f64 * (0..c).map(|k| lp[i * c + k]).sum::<f64>()
            })
            .collect()
    }

    #[test]
    fn fused_cross_entropy_matches_the_composite_and_is_parallel_safe() {
        // large enough to take the parallel paths (rows·C ≥ 32768)
        let (n, c) = (300, 130);
        let x = Tensor::randn_with(&[n, c], DType::F64).requires_grad_(true);
        let t: Vec<i64> = (0..n as i64).map(|i| (i * 7) % c as i64).collect();
        let opts = CrossEntropyOptions { reduction: Reduction::None, label_smoothing: 0.2, ..Default::default() };
        let l = cross_entropy_with(&x, &classes(&t, &[n]), &opts);
        for (a, b) in l.to_vec::<f64>().iter().zip(reference(&x, &t, 0.2)) {
            assert!((a - b).abs() < 1e-12);
        }
        cross_entropy(&x, &classes(&t, &[n])).backward();
        let g = x.grad().unwrap().to_vec::<f64>();
        let p = x.softmax(1).to_vec::<f64>();
        for i in [0, 17, n - 1] {
            for k in 0..c {
                let want = (p[i * c + k] - if k as i64 == t[i] { 1.0 } else { 0.0 }) / n as f64;
                assert!((g[i * c + k] - want).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn cross_entropy_gradchecks_on_views_spatial_dims_and_create_graph() {
        let t = classes(&[2, 0, 3, 3, 1], &[5]);
        // logits as a transposed view of a [4, 5] leaf
        let w = leaf(&[4, 5]);
        for opts in [
            CrossEntropyOptions::default(),
            CrossEntropyOptions { reduction: Reduction::Sum, label_smoothing: 0.3, ..Default::default() },
            CrossEntropyOptions { reduction: Reduction::None, ..Default::default() },
        ] {
            let f = |xs: &[Tensor]| cross_entropy_with(&xs[0].t(), &t, &opts);
            gradcheck(f, &[w.clone()]).unwrap();
            gradgradcheck(f, &[w.clone()]).unwrap();
        }
        // [N, C, d1, d2] with class-index targets [N, d1, d2], some ignored
        let x = leaf(&[2, 3, 2, 2]);
        let t4 = classes(&[0, 2, -100, 1, 1, 1, 0, 2], &[2, 2, 2]);
        let f = |xs: &[Tensor]| {
            cross_entropy_with(&xs[0], &t4, &CrossEntropyOptions { label_smoothing: 0.1, ..Default::default() })
        };
        gradcheck(f, &[x.clone()]).unwrap();
        gradgradcheck(f, &[x.clone()]).unwrap();
        // equals the same loss with the class dimension moved last and flattened
        let flat = x.permute(&[0, 2, 3, 1]).reshape(&[-1, 3]);
        let t_flat = t4.reshape(&[-1]);
        let opts = CrossEntropyOptions { label_smoothing: 0.1, ..Default::default() };
        assert!((f(&[x.clone()]).item() - cross_entropy_with(&flat, &t_flat, &opts).item()).abs() < 1e-14);
        // probability targets: gradients to both the logits and the targets
        let (x, p) = (leaf(&[3, 4]), leaf(&[3, 4]));
        let f = |xs: &[Tensor]| {
            cross_entropy_with(
                &xs[0],
                &xs[1].softmax(1),
                &CrossEntropyOptions { label_smoothing: 0.2, ..Default::default() },
            )
        };
        gradcheck(f, &[x.clone(), p.clone()]).unwrap();
        gradgradcheck(f, &[x, p]).unwrap();
        // one unbatched sample
        let f = |xs: &[Tensor]| {
            cross_entropy_with(
                &xs[0],
                &classes(&[1], &[]),
                &CrossEntropyOptions { reduction: Reduction::None, ..Default::default() },
            )
        };
        let y = f(&[leaf(&[3])]);
        assert_eq!(y.shape(), &[] as &[usize]);
        gradcheck(f, &[leaf(&[3])]).unwrap();
    }

    #[test]
    fn cross_entropy_is_finite_at_extreme_logits_in_f32() {
        let x = Tensor::from_vec(vec![1e4f32, -1e4, 0.0, -1e4, -1e4, 1e4], &[2, 3]).requires_grad_(true);
        let l = cross_entropy_with(
            &x,
            &classes(&[0, 0], &[2]),
            &CrossEntropyOptions { reduction: Reduction::None, label_smoothing: 0.1, ..Default::default() },
        );
        let v = l.to_vec::<f64>();
        assert!((v[0] - 0.1 / 3.0 * 3e4).abs() < 1e-2, "{v:?}");
        assert!((v[1] - (0.9 * 2e4 + 0.1 / 3.0 * 4e4)).abs() < 1e-1, "{v:?}");
        l.sum().backward();
        assert!(x.grad().unwrap().to_vec::<f32>().iter().all(|g| g.is_finite()));
    }

    #[test]
    fn ignored_targets_take_no_part_and_mean_is_over_the_rest() {
        let x = leaf(&[3, 4]);
        let t = classes(&[1, 7, 2], &[3]);
        let opts = CrossEntropyOptions { ignore_index: Some(7), ..Default::default() };
        let l = cross_entropy_with(&x, &t, &opts);
        let r = reference(&x, &[1, 0, 2], 0.0);
        assert!((l.item() - (r[0] + r[2]) / 2.0).abs() < 1e-14);
        l.backward();
        assert!(x.grad().unwrap().to_vec::<f64>()[4..8].iter().all(|&g| g == 0.0));
        let n = nll_loss_with(&x.log_softmax(1), &t, &NllLossOptions { ignore_index: Some(7), ..Default::default() });
        assert!((n.item() - l.item()).abs() < 1e-14);
    }

    #[test]
    fn nll_loss_gradchecks_and_matches_selection() {
        let w = leaf(&[4, 3]);
        let t = classes(&[2, 0, 1], &[3]);
        for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
            let f = |xs: &[Tensor]| nll_loss_with(&xs[0].t(), &t, &NllLossOptions { reduction, ..Default::default() });
            gradcheck(f, &[w.clone()]).unwrap();
            gradgradcheck(f, &[w.clone()]).unwrap();
        }
        let v = w.t().to_vec::<f64>();
        let want = -(v[2] + v[4] + v[9]) / 3.0;
        assert!((nll_loss(&w.t(), &t).item() - want).abs() < 1e-15);
        let x = Tensor::from_vec(vec![-1.0f32, -2.0], &[2]);
        assert_eq!(nll_loss(&x, &classes(&[1], &[])).item(), 2.0);
    }

    #[test]
    fn target_errors_say_what_shape_and_dtype_were_expected() {
        let x = Tensor::zeros(&[8, 10]);
        let e = try_cross_entropy(&x, &Tensor::zeros_with(&[8, 1], DType::I64)).unwrap_err().to_string();
        assert!(
            e.starts_with("cross_entropy: expected targets of shape [N] = [8] with class indices (int64), got [8, 1]"),
            "{e}"
        );
        assert!(e.contains("squeeze(-1)"), "{e}");
        let e = try_cross_entropy(&x, &Tensor::zeros(&[8])).unwrap_err().to_string();
        assert!(e.contains("got [8] (float32)") && e.contains("to_dtype(DType::I64)"), "{e}");
        let e = try_cross_entropy(&Tensor::zeros(&[2, 3, 4]), &Tensor::zeros_with(&[2, 3], DType::I64)).unwrap_err();
        assert!(e.to_string().contains("expected targets of shape [N, d1] = [2, 4]"), "{e}");
        let e = try_cross_entropy(&x, &classes(&[0, 1, 2, 3, 4, 5, 6, 10], &[8])).unwrap_err().to_string();
        assert!(e.starts_with("cross_entropy: Target 10 is out of bounds: the input [8, 10] has 10 classes"), "{e}");
        assert!(try_cross_entropy(&x, &classes(&[-1; 8], &[8])).is_err());
        let e = try_cross_entropy_with(
            &x,
            &classes(&[0; 8], &[8]),
            &CrossEntropyOptions { label_smoothing: 1.5, ..Default::default() },
        );
        assert!(e.unwrap_err().to_string().contains("label_smoothing must be between 0.0 and 1.0. Got: 1.5"));
        assert!(try_nll_loss(&x, &Tensor::zeros(&[8])).unwrap_err().to_string().contains("convert the targets"));
        let e = try_cross_entropy(&x, &Tensor::zeros_with(&[8, 10], DType::I64)).unwrap_err().to_string();
        assert!(e.contains("look one-hot"), "{e}");
        assert!(try_cross_entropy(&Tensor::zeros_with(&[8, 10], DType::I64), &classes(&[0; 8], &[8])).is_err());
    }

    #[test]
    fn node_name() {
        let x = leaf(&[2, 3]);
        assert_eq!(cross_entropy(&x, &classes(&[0, 1], &[2])).grad_fn().unwrap().name(), "CrossEntropyLossBackward");
    }
}
