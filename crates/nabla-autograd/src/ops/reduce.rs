//! Reductions: `sum`, `mean` (all or per dimension), `max_dim`/`min_dim` with indices,
//! `max`/`min`, `argmax`/`argmin`, `var`, `logsumexp`, `softmax`, `log_softmax`, and
//! `sum_to` (the reduction broadcasting's backward needs).

use crate::dim::Dim;
use crate::graph::{Backward, BackwardCtx, Grads};
use crate::ops::{or_panic, record};
use crate::tensor::Tensor;
use nabla_tensor::{DType, Error, Layout, RawTensor, Result, Shape};
use smallvec::smallvec;

/// Resolves a list of dimensions (sorted, deduplicated).
fn resolve_dims<D: Dim>(dims: &[D], ndim: usize, op: &'static str) -> Result<Vec<usize>> {
    let mut v = dims.iter().map(|d| d.to_index(ndim, op)).collect::<Result<Vec<_>>>()?;
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

fn reduced_shape(shape: &[usize], dims: &[usize], keepdim: bool) -> Shape {
    shape
        .iter()
        .enumerate()
        .filter_map(|(i, &s)| {
            if dims.contains(&i) {
                if keepdim {
                    Some(1)
                } else {
                    None
                }
            } else {
                Some(s)
            }
        })
        .collect()
}

struct SumBackward {
    input: Shape,
    dims: Vec<usize>,
    keepdim: bool,
    /// 1 for sum, 1/n for mean
    scale: f64,
    mean: bool,
}
impl Backward for SumBackward {
    fn name(&self) -> &'static str {
        if self.mean {
            "MeanBackward"
        } else {
            "SumBackward"
        }
    }
    fn backward(&self, _ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let keep = reduced_shape(&self.input, &self.dims, true);
        let g = if self.keepdim { g.clone() } else { g.try_reshape(&keep[..])? };
        let mut gx = g.try_expand(&self.input)?;
        if self.scale != 1.0 {
            gx = gx.try_mul_scalar(self.scale)?;
        }
        Ok(smallvec![Some(gx)])
    }
    fn has_saved(&self) -> bool {
        false
    }
}

struct ExtremumDimBackward {
    input: Shape,
    dim: usize,
    keepdim: bool,
    indices: RawTensor,
}
impl Backward for ExtremumDimBackward {
    fn name(&self) -> &'static str {
        "MaxBackward"
    }
    fn backward(&self, _ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        // The gradient goes to the selected position of each row: g (expanded) times a
        // constant one-hot mask, so that create_graph can differentiate it again.
        let mask = one_hot_mask(&self.indices, &self.input, self.dim, g.dtype());
        let g = if self.keepdim { g.clone() } else { g.try_unsqueeze(self.dim)? };
        Ok(smallvec![Some(g.try_expand(&self.input)?.try_mul(&mask)?)])
    }
}

/// A `shape` tensor with 1 where `indices` (shape without `dim`) point along `dim`.
fn one_hot_mask(indices: &RawTensor, shape: &[usize], dim: usize, dtype: DType) -> Tensor {
    let idx = indices.to_vec::<i64>();
    let mut m = vec![0.0f64; shape.iter().product()];
    let inner: usize = shape[dim + 1..].iter().product();
    let size = shape[dim];
    for (o, &i) in idx.iter().enumerate() {
        let (outer, rest) = (o / inner, o % inner);
        m[(outer * size + i as usize) * inner + rest] = 1.0;
    }
    Tensor::from_vec(m, shape).to_dtype(dtype)
}

struct SoftmaxBackward {
    dim: usize,
    log: bool,
}
impl Backward for SoftmaxBackward {
    fn name(&self) -> &'static str {
        if self.log {
            "LogSoftmaxBackward"
        } else {
            "SoftmaxBackward"
        }
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let y = ctx.output()?;
        let gx = if self.log {
            // d log_softmax: g - softmax · Σg
            g.try_sub(&y.exp().try_mul(&g.try_sum_dims(&[self.dim], true)?)?)?
        } else {
            // d softmax: y ⊙ (g - Σ(g ⊙ y))
            y.try_mul(&g.try_sub(&g.try_mul(&y)?.try_sum_dims(&[self.dim], true)?)?)?
        };
        Ok(smallvec![Some(gx)])
    }
}

struct LogSumExpBackward {
    x: crate::graph::Saved,
    dim: usize,
    keepdim: bool,
}
impl Backward for LogSumExpBackward {
    fn name(&self) -> &'static str {
        "LogsumexpBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        // d logsumexp(x)/dx = softmax(x) = exp(x - out)
        let x = self.x.get(ctx.name())?;
        let out = ctx.output()?;
        let (out, g) =
            if self.keepdim { (out, g.clone()) } else { (out.try_unsqueeze(self.dim)?, g.try_unsqueeze(self.dim)?) };
        Ok(smallvec![Some(g.try_mul(&x.try_sub(&out)?.exp())?)])
    }
}

struct SumToBackward {
    input: Shape,
}
impl Backward for SumToBackward {
    fn name(&self) -> &'static str {
        "SumToBackward"
    }
    fn backward(&self, _ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        Ok(smallvec![Some(g.try_expand(&self.input)?)])
    }
    fn has_saved(&self) -> bool {
        false
    }
}

/// `t` summed down to `shape` (a backward rule's gradient for a broadcast input), or `t`
/// itself, moved rather than cloned, when it already has that shape.
pub(crate) fn sum_to_owned(t: Tensor, shape: &[usize]) -> Result<Tensor> {
    if nabla_tensor::layout::same_shape(shape, t.shape()) {
        Ok(t)
    } else {
        t.try_sum_to(shape)
    }
}

impl Tensor {
    fn float_input(&self, op: &'static str) -> Result<Tensor> {
        match self.dtype() {
            DType::F32 | DType::F64 => Ok(self.clone()),
            DType::I64 | DType::Bool => {
                let _ = op;
                self.try_to_dtype(DType::F32)
            }
        }
    }

    /// Sum of all elements, a 0-D tensor. `d Σx/dx = 1`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::ones(&[2, 3]);
    /// assert_eq!(x.sum().item(), 6.0);
    /// ```
    #[track_caller]
    pub fn sum(&self) -> Tensor {
        let all: Vec<usize> = (0..self.dims()).collect();
        or_panic(self.try_sum_dims(&all, false))
    }

    /// Mean of all elements, a 0-D tensor. `d mean(x)/dx = 1/n`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    /// assert_eq!(x.mean().item(), 2.0);
    /// ```
    #[track_caller]
    pub fn mean(&self) -> Tensor {
        let all: Vec<usize> = (0..self.dims()).collect();
        or_panic(self.try_mean_dims(&all, false))
    }

    /// Sum over one dimension.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::ones(&[2, 3]);
    /// assert_eq!(x.sum_dim(-1, false).to_vec::<f32>(), vec![3.0, 3.0]);
    /// assert_eq!(x.sum_dim(0, true).shape(), &[1, 3]);
    /// ```
    #[track_caller]
    pub fn sum_dim<D: Dim>(&self, dim: D, keepdim: bool) -> Tensor {
        or_panic(self.try_sum_dims(&[dim], keepdim))
    }

    /// Sum over several dimensions.
    #[track_caller]
    pub fn try_sum_dims<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Tensor> {
        self.reduce_sum(dims, keepdim, false)
    }

    /// Mean over one dimension.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1.0f32, 3.0, 5.0, 7.0], &[2, 2]);
    /// assert_eq!(x.mean_dim(0, false).to_vec::<f32>(), vec![3.0, 5.0]);
    /// ```
    #[track_caller]
    pub fn mean_dim<D: Dim>(&self, dim: D, keepdim: bool) -> Tensor {
        or_panic(self.try_mean_dims(&[dim], keepdim))
    }

    /// Mean over several dimensions.
    #[track_caller]
    pub fn try_mean_dims<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Tensor> {
        self.reduce_sum(dims, keepdim, true)
    }

    #[track_caller]
    fn reduce_sum<D: Dim>(&self, dims: &[D], keepdim: bool, mean: bool) -> Result<Tensor> {
        let op = if mean { "mean" } else { "sum" };
        let x = self.float_input(op)?;
        let dims = resolve_dims(dims, x.dims(), op)?;
        let n: usize = dims.iter().map(|&d| x.shape()[d]).product();
        let summed = x.raw().sum_dims_keep(op, &dims)?;
        let scale = if mean { 1.0 / n as f64 } else { 1.0 };
        // sum / n, not sum · (1/n): 1/n is inexact, and the mean of a constant must be that
        // constant (so that its variance is exactly 0)
        let out = if mean { summed.map(op, &DivBy(n as f64))? } else { summed };
        let out = out.with_layout(Layout::contiguous(&reduced_shape(x.shape(), &dims, keepdim)));
        let input: Shape = Shape::from_slice(x.shape());
        record(out, &[&x], false, || SumBackward { input, dims, keepdim, scale, mean })
    }

    /// Sums a broadcast gradient back to `shape` (the inverse of `expand`).
    ///
    /// ```
    /// let g = nabla_autograd::Tensor::ones(&[4, 3]);
    /// assert_eq!(g.sum_to(&[3]).to_vec::<f32>(), vec![4.0, 4.0, 4.0]);
    /// assert_eq!(g.sum_to(&[4, 1]).shape(), &[4, 1]);
    /// ```
    #[track_caller]
    pub fn sum_to(&self, shape: &[usize]) -> Tensor {
        or_panic(self.try_sum_to(shape))
    }

    /// [`Tensor::sum_to`], returning an error if `shape` does not broadcast to `self`.
    #[track_caller]
    pub fn try_sum_to(&self, shape: &[usize]) -> Result<Tensor> {
        if nabla_tensor::layout::same_shape(shape, self.shape()) {
            return Ok(self.clone());
        }
        let ok = shape.len() <= self.dims()
            && shape.iter().rev().zip(self.shape().iter().rev()).all(|(&s, &o)| s == o || s == 1);
        if !ok {
            return Err(Error::shape(
                "sum_to",
                format!("shape {shape:?} is not expandable to {:?}", self.shape()),
                "the target must broadcast to the tensor's shape",
            ));
        }
        let out = self.raw().sum_to(shape)?;
        let input: Shape = Shape::from_slice(self.shape());
        record(out, &[self], false, || SumToBackward { input })
    }

    /// Largest values along `dim` and their positions (int64). The gradient goes to the
    /// selected positions.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 2.0], &[2, 2]);
    /// let (v, i) = x.max_dim(1, false);
    /// assert_eq!(v.to_vec::<f32>(), vec![5.0, 3.0]);
    /// assert_eq!(i.to_vec::<i64>(), vec![1, 0]);
    /// ```
    #[track_caller]
    pub fn max_dim<D: Dim>(&self, dim: D, keepdim: bool) -> (Tensor, Tensor) {
        or_panic(self.try_extremum_dim(dim, keepdim, true))
    }

    /// Smallest values along `dim` and their positions; see [`Tensor::max_dim`].
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 2.0], &[2, 2]);
    /// assert_eq!(x.min_dim(1, false).1.to_vec::<i64>(), vec![0, 1]);
    /// ```
    #[track_caller]
    pub fn min_dim<D: Dim>(&self, dim: D, keepdim: bool) -> (Tensor, Tensor) {
        or_panic(self.try_extremum_dim(dim, keepdim, false))
    }

    /// [`Tensor::max_dim`] (`max = true`) or [`Tensor::min_dim`], returning errors.
    #[track_caller]
    pub fn try_extremum_dim<D: Dim>(&self, dim: D, keepdim: bool, max: bool) -> Result<(Tensor, Tensor)> {
        self.extremum_dim_as(if max { "max" } else { "min" }, dim, keepdim, max)
    }

    /// [`Tensor::try_extremum_dim`] with `op` (`"argmax"`, …) named in errors.
    #[track_caller]
    fn extremum_dim_as<D: Dim>(&self, op: &'static str, dim: D, keepdim: bool, max: bool) -> Result<(Tensor, Tensor)> {
        let x = if self.dims() == 0 { self.try_reshape(&[1usize])? } else { self.clone() };
        let d = dim.to_index(x.dims(), op)?;
        let (vals, idx) = x.raw().extremum_dim(op, d, max)?;
        let shape = reduced_shape(x.shape(), &[d], keepdim);
        let (vals, idx) = (vals.with_layout(Layout::contiguous(&shape)), idx.with_layout(Layout::contiguous(&shape)));
        let input: Shape = Shape::from_slice(x.shape());
        let indices = idx.clone();
        let v = record(vals, &[&x], false, || ExtremumDimBackward { input, dim: d, keepdim, indices })?;
        Ok((v, Tensor::from_raw(idx)))
    }

    /// Largest element (0-D). The gradient goes to the first maximal element.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1.0f32, 5.0, 3.0], &[3]);
    /// assert_eq!(x.max().item(), 5.0);
    /// ```
    #[track_caller]
    pub fn max(&self) -> Tensor {
        or_panic(self.check_reducible("max"));
        self.flatten(0, -1).max_dim(0, false).0
    }

    /// Smallest element (0-D).
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1.0f32, 5.0, 3.0], &[3]);
    /// assert_eq!(x.min().item(), 1.0);
    /// ```
    #[track_caller]
    pub fn min(&self) -> Tensor {
        or_panic(self.check_reducible("min"));
        self.flatten(0, -1).min_dim(0, false).0
    }

    /// A whole-tensor max or min needs at least one element (PyTorch's wording).
    fn check_reducible(&self, op: &'static str) -> Result<()> {
        if self.numel() > 0 {
            return Ok(());
        }
        Err(Error::shape(
            op,
            format!("Expected reduction dim to be specified for input.numel() == 0 (shape {:?})", self.shape()),
            format!("there is no element to take the {op} of; reduce along a non-empty dimension with {op}_dim"),
        ))
    }

    /// Positions of the largest values along `dim` (int64, not differentiable).
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 2.0], &[2, 2]);
    /// assert_eq!(x.argmax(-1, false).to_vec::<i64>(), vec![1, 0]);
    /// ```
    #[track_caller]
    pub fn argmax<D: Dim>(&self, dim: D, keepdim: bool) -> Tensor {
        crate::grad_mode::no_grad(|| or_panic(self.extremum_dim_as("argmax", dim, keepdim, true)).1)
    }

    /// Positions of the smallest values along `dim` (int64).
    #[track_caller]
    pub fn argmin<D: Dim>(&self, dim: D, keepdim: bool) -> Tensor {
        crate::grad_mode::no_grad(|| or_panic(self.extremum_dim_as("argmin", dim, keepdim, false)).1)
    }

    /// Variance over all elements, with Bessel's correction when `unbiased`
    /// (PyTorch's default). Composed of differentiable ops.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[4]);
    /// assert!((x.var(true).item() - 1.6666666666666667).abs() < 1e-12);
    /// ```
    #[track_caller]
    pub fn var(&self, unbiased: bool) -> Tensor {
        let all: Vec<usize> = (0..self.dims()).collect();
        or_panic(self.try_var_dims(&all, unbiased, false))
    }

    /// Variance over one dimension.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1.0f32, 3.0, 2.0, 2.0], &[2, 2]);
    /// assert_eq!(x.var_dim(1, false, false).to_vec::<f32>(), vec![1.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn var_dim<D: Dim>(&self, dim: D, unbiased: bool, keepdim: bool) -> Tensor {
        or_panic(self.try_var_dims(&[dim], unbiased, keepdim))
    }

    /// Variance over several dimensions.
    #[track_caller]
    pub fn try_var_dims<D: Dim>(&self, dims: &[D], unbiased: bool, keepdim: bool) -> Result<Tensor> {
        let x = self.float_input("var")?;
        let dims = resolve_dims(dims, x.dims(), "var")?;
        let n: usize = dims.iter().map(|&d| x.shape()[d]).product();
        let mean = x.try_mean_dims(&dims, true)?;
        // One refinement of the mean by the mean of the residuals (0 in exact arithmetic, so
        // added as a constant: derivatives are unchanged). Without it a rounded f32 mean of
        // large values leaves residuals that do not cancel: a constant 1e8 had variance 3e4.
        let correction = crate::grad_mode::no_grad(|| x.try_sub(&mean)?.try_mean_dims(&dims, true))?;
        let mean = mean.try_add(&correction)?;
        let centered = x.try_sub(&mean)?;
        let ss = centered.try_mul(&centered)?.try_sum_dims(&dims, keepdim)?;
        let denom = if unbiased { n.saturating_sub(1) } else { n };
        ss.try_mul_scalar(1.0 / denom as f64)
    }

    /// `log Σ exp(x)` along `dim`, computed stably.
    /// `d/dx = exp(x - logsumexp(x)) = softmax(x)`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1e4f32, 1e4], &[2]);
    /// assert!((x.logsumexp(0, false).item() - (1e4 + 2f64.ln())).abs() < 1e-2);
    /// ```
    #[track_caller]
    pub fn logsumexp<D: Dim>(&self, dim: D, keepdim: bool) -> Tensor {
        or_panic(self.try_logsumexp(dim, keepdim))
    }

    /// [`Tensor::logsumexp`], returning errors.
    #[track_caller]
    pub fn try_logsumexp<D: Dim>(&self, dim: D, keepdim: bool) -> Result<Tensor> {
        let x = self.float_input("logsumexp")?;
        let d = dim.to_index(x.dims(), "logsumexp")?;
        let out = x.raw().logsumexp_dim("logsumexp", d)?;
        let out = out.with_layout(Layout::contiguous(&reduced_shape(x.shape(), &[d], keepdim)));
        record(out, &[&x], true, || LogSumExpBackward { x: crate::graph::Saved::new(&x), dim: d, keepdim })
    }

    /// Softmax along `dim`, stable for large inputs.
    /// `d softmax/dx · g = y ⊙ (g − Σ g⊙y)`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![0.0f32, 0.0], &[2]);
    /// assert_eq!(x.softmax(-1).to_vec::<f32>(), vec![0.5, 0.5]);
    /// ```
    #[track_caller]
    pub fn softmax<D: Dim>(&self, dim: D) -> Tensor {
        or_panic(self.try_softmax(dim, false))
    }

    /// Log-softmax along `dim`, stable for logits of ±1e4.
    /// `d log_softmax/dx · g = g − softmax ⊙ Σg`.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::from_vec(vec![1e4f32, -1e4], &[2]);
    /// assert_eq!(x.log_softmax(-1).to_vec::<f32>(), vec![0.0, -2e4]);
    /// ```
    #[track_caller]
    pub fn log_softmax<D: Dim>(&self, dim: D) -> Tensor {
        or_panic(self.try_softmax(dim, true))
    }

    /// [`Tensor::softmax`] (`log = false`) or [`Tensor::log_softmax`], returning errors.
    #[track_caller]
    pub fn try_softmax<D: Dim>(&self, dim: D, log: bool) -> Result<Tensor> {
        let op = if log { "log_softmax" } else { "softmax" };
        let x = self.float_input(op)?;
        if x.dims() == 0 {
            return x.try_reshape(&[1usize])?.try_softmax(0usize, log)?.try_reshape(&[0usize; 0]);
        }
        let d = dim.to_index(x.dims(), op)?;
        let out = x.raw().softmax_dim(op, d, log)?;
        record(out, &[&x], true, || SoftmaxBackward { dim: d, log })
    }
}

/// `x / d` element-wise.
struct DivBy(f64);
impl nabla_tensor::elementwise::UnaryKernel for DivBy {
    fn f<T: nabla_tensor::Float>(&self, x: T) -> T {
        x / T::cast(self.0)
    }
}

#[cfg(test)]
mod tests {
    use crate::autograd::{gradcheck, gradgradcheck};
    use crate::{DType, Tensor};

    #[test]
    fn gradcheck_reductions() {
        crate::manual_seed(7);
        let a = Tensor::uniform(&[3, 4, 2], -1.0, 1.0, DType::F64).requires_grad_(true);
        let ops: Vec<(&str, fn(&Tensor) -> Tensor)> = vec![
            ("sum", |t| t.sum()),
            ("mean", |t| t.mean()),
            ("sum_dim", |t| t.sum_dim(1, false)),
            ("sum_dim keep", |t| t.sum_dim(-1, true)),
            ("mean_dim", |t| t.mean_dim(0, false)),
            ("max_dim", |t| t.max_dim(1, false).0),
            ("min_dim", |t| t.min_dim(-1, true).0),
            ("max", |t| t.max()),
            ("var", |t| t.var(true)),
            ("var_dim", |t| t.var_dim(1, false, false)),
            ("logsumexp", |t| t.logsumexp(1, false)),
            ("softmax", |t| t.softmax(1)),
            ("log_softmax", |t| t.log_softmax(-1)),
            ("sum_to", |t| t.sum_to(&[1, 1])),
        ];
        for (name, f) in &ops {
            gradcheck(|xs| f(&xs[0]), &[a.clone()]).unwrap_or_else(|e| panic!("{name}: {e}"));
            gradcheck(|xs| f(&xs[0].permute(&[2, 0, 1])), &[a.clone()])
                .unwrap_or_else(|e| panic!("{name} permuted: {e}"));
            gradgradcheck(|xs| f(&xs[0]), &[a.clone()]).unwrap_or_else(|e| panic!("{name} 2nd: {e}"));
        }
    }

    #[test]
    fn gradcheck_sum_to_keeps_broadcast_dims() {
        let a = Tensor::uniform(&[3, 4, 2], -1.0, 1.0, DType::F64).requires_grad_(true);
        gradcheck(|xs| xs[0].sum_to(&[4, 1]), &[a.clone()]).unwrap();
        gradgradcheck(|xs| xs[0].sum_to(&[4, 1]) * xs[0].sum_to(&[4, 1]), &[a]).unwrap();
    }

    #[test]
    fn log_softmax_is_stable_at_extreme_logits() {
        let x = Tensor::from_vec(vec![1e4f32, -1e4, 0.0, 0.0, 0.0, 0.0], &[2, 3]).requires_grad_(true);
        let y = x.log_softmax(-1);
        let v = y.to_vec::<f32>();
        assert_eq!(&v[..3], &[0.0, -2e4, -1e4]);
        assert!((v[3] + 3f32.ln()).abs() < 1e-6);
        y.sum().backward();
        assert!(x.grad().unwrap().to_vec::<f32>().iter().all(|g| g.is_finite()));
    }

    #[test]
    fn variance_of_constant_input_is_zero_with_finite_gradient() {
        let x = Tensor::full_with(&[5], 3.0, DType::F64).requires_grad_(true);
        let v = x.var(true);
        assert_eq!(v.item(), 0.0);
        v.backward();
        assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![0.0; 5]);
    }

    #[test]
    fn reductions_match_naive_loops_on_awkward_sizes() {
        crate::manual_seed(8);
        let x = Tensor::uniform(&[63, 65, 7], -1.0, 1.0, DType::F64);
        let v = x.to_vec::<f64>();
        let s1 = x.sum_dim(1, false).to_vec::<f64>();
        for i in 0..63 {
            for k in 0..7 {
                let naive: f64 = (0..65).map(|j| v[(i * 65 + j) * 7 + k]).sum();
                assert!((s1[i * 7 + k] - naive).abs() < 1e-12);
            }
        }
        let xt = x.permute(&[2, 0, 1]);
        let s2 = xt.sum_dim(0, false).to_vec::<f64>(); // [63, 65]
        for i in 0..63 {
            for j in 0..65 {
                let naive: f64 = (0..7).map(|k| v[(i * 65 + j) * 7 + k]).sum();
                assert!((s2[i * 65 + j] - naive).abs() < 1e-12);
            }
        }
        let total: f64 = v.iter().sum();
        assert!((x.sum().item() - total).abs() < 1e-9);
    }
}
