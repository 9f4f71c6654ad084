//! Views and reshapes: `reshape`/`view`, `transpose`, `t`, `permute`, `expand`,
//! `broadcast_to`, `narrow`, `slice`, `squeeze`, `unsqueeze`, `flatten`, `contiguous`.
//! Views share storage; their backward rules move the gradient back to the input's layout.

use crate::dim::{to_insert_index, Dim};
use crate::graph::{Backward, BackwardCtx, Grads};
use crate::ops::{or_panic, record};
use crate::tensor::Tensor;
use nabla_tensor::{Error, Layout, RawTensor, Result, Shape};
use smallvec::smallvec;

/// A shape argument: `&[2, 3]`, `[n, -1]`, `vec![..]`; at most one `-1`, inferred.
pub trait IntoShape {
    /// The sizes, with `-1` resolved against `numel`.
    fn resolve(&self, numel: usize, op: &'static str) -> Result<Shape>;
}

/// One entry of a shape argument: an unsigned size, or a signed one where -1 means "infer".
pub trait ShapeElem: Copy {
    /// The entry as i64.
    fn to_i64(self) -> i64;
}
impl ShapeElem for usize {
    fn to_i64(self) -> i64 {
        self as i64
    }
}
impl ShapeElem for isize {
    fn to_i64(self) -> i64 {
        self as i64
    }
}
impl ShapeElem for i32 {
    fn to_i64(self) -> i64 {
        self as i64
    }
}
impl ShapeElem for i64 {
    fn to_i64(self) -> i64 {
        self
    }
}

fn resolve_shape(spec: &[i64], numel: usize, op: &'static str) -> Result<Shape> {
    let mut infer = None;
    let mut known = 1usize;
    for (i, &s) in spec.iter().enumerate() {
        if s == -1 {
            if infer.is_some() {
                return Err(Error::shape(op, "only one dimension can be inferred", "use -1 for at most one dimension"));
            }
            infer = Some(i);
        } else if s < 0 {
            return Err(Error::shape(
                op,
                format!("invalid shape dimension {s} in {spec:?}"),
                "sizes must be non-negative, or -1 to infer one",
            ));
        } else {
            known *= s as usize;
        }
    }
    let mut out: Shape = spec.iter().map(|&s| s.max(0) as usize).collect();
    if let Some(i) = infer {
        if known == 0 || !numel.is_multiple_of(known) {
            return Err(Error::shape(
                op,
                format!("shape '{spec:?}' is invalid for input of size {numel}"),
                "the sizes must multiply to the number of elements",
            ));
        }
        out[i] = numel / known;
    } else if known != numel {
        return Err(Error::shape(
            op,
            format!("shape '{spec:?}' is invalid for input of size {numel}"),
            "the sizes must multiply to the number of elements; use -1 to infer one",
        ));
    }
    Ok(out)
}

impl<E: ShapeElem> IntoShape for [E] {
    fn resolve(&self, numel: usize, op: &'static str) -> Result<Shape> {
        let v: Vec<i64> = self.iter().map(|e| e.to_i64()).collect();
        resolve_shape(&v, numel, op)
    }
}
impl<E: ShapeElem, const N: usize> IntoShape for [E; N] {
    fn resolve(&self, numel: usize, op: &'static str) -> Result<Shape> {
        self[..].resolve(numel, op)
    }
}
impl<E: ShapeElem> IntoShape for Vec<E> {
    fn resolve(&self, numel: usize, op: &'static str) -> Result<Shape> {
        self[..].resolve(numel, op)
    }
}
impl<T: IntoShape + ?Sized> IntoShape for &T {
    fn resolve(&self, numel: usize, op: &'static str) -> Result<Shape> {
        (**self).resolve(numel, op)
    }
}

struct ViewBackward {
    input: Shape,
}
impl Backward for ViewBackward {
    fn name(&self) -> &'static str {
        "ViewBackward"
    }
    fn backward(&self, _ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        Ok(smallvec![Some(g.try_reshape(&self.input[..])?)])
    }
    fn has_saved(&self) -> bool {
        false
    }
}

struct PermuteBackward {
    inverse: Vec<usize>,
}
impl Backward for PermuteBackward {
    fn name(&self) -> &'static str {
        "PermuteBackward"
    }
    fn backward(&self, _ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        Ok(smallvec![Some(g.try_permute(&self.inverse)?)])
    }
    fn has_saved(&self) -> bool {
        false
    }
}

struct ExpandBackward {
    input: Shape,
}
impl Backward for ExpandBackward {
    fn name(&self) -> &'static str {
        "ExpandBackward"
    }
    fn backward(&self, _ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        Ok(smallvec![Some(g.try_sum_to(&self.input)?)])
    }
    fn has_saved(&self) -> bool {
        false
    }
}

struct SliceBackward {
    input: Shape,
    dim: usize,
    start: usize,
    step: usize,
}
impl Backward for SliceBackward {
    fn name(&self) -> &'static str {
        "SliceBackward"
    }
    fn backward(&self, _ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        Ok(smallvec![Some(g.slice_scatter_into(&self.input, self.dim, self.start, self.step)?)])
    }
    fn has_saved(&self) -> bool {
        false
    }
}

/// The backward of `slice_scatter_into`: slicing the gradient again.
struct SliceScatterBackward {
    dim: usize,
    start: usize,
    len: usize,
    step: usize,
}
impl Backward for SliceScatterBackward {
    fn name(&self) -> &'static str {
        "SliceScatterBackward"
    }
    fn backward(&self, _ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let end = if self.len == 0 { self.start } else { self.start + (self.len - 1) * self.step + 1 };
        Ok(smallvec![Some(g.try_slice(
            self.dim,
            self.start,
            end.min(g.shape()[self.dim]).max(self.start),
            self.step
        )?)])
    }
    fn has_saved(&self) -> bool {
        false
    }
}

struct IdentityBackward(&'static str);
impl Backward for IdentityBackward {
    fn name(&self) -> &'static str {
        self.0
    }
    fn backward(&self, _ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        Ok(smallvec![Some(g.clone())])
    }
    fn has_saved(&self) -> bool {
        false
    }
}

impl Tensor {
    #[track_caller]
    fn view_op<B: crate::graph::Backward>(&self, layout: Layout, make: impl FnOnce() -> B) -> Result<Tensor> {
        let out = self.raw().with_layout(layout);
        let t = record(out, &[self], false, make)?;
        t.meta().is_view = true;
        Ok(t)
    }

    /// The same elements with another shape; a view when the strides allow it, otherwise
    /// a copy (PyTorch's `reshape`). One size may be `-1`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::arange(0, 6, 1).to_dtype(nabla_autograd::DType::F32);
    /// assert_eq!(x.reshape(&[2, -1]).shape(), &[2, 3]);
    /// ```
    #[track_caller]
    pub fn reshape<S: IntoShape + ?Sized>(&self, shape: &S) -> Tensor {
        or_panic(self.try_reshape(shape))
    }

    /// [`Tensor::reshape`], returning an error for an incompatible size.
    #[track_caller]
    pub fn try_reshape<S: IntoShape + ?Sized>(&self, shape: &S) -> Result<Tensor> {
        let new = shape.resolve(self.numel(), "reshape")?;
        if new[..] == *self.shape() {
            return Ok(self.clone());
        }
        let input: Shape = Shape::from_slice(self.shape());
        match self.raw().layout().view(&new) {
            Some(l) => self.view_op(l, || ViewBackward { input }),
            None => {
                let out = self.raw().copy().with_layout(Layout::contiguous(&new));
                record(out, &[self], false, || ViewBackward { input })
            }
        }
    }

    /// A view with another shape; errors (instead of copying) when the strides do not
    /// allow one, as PyTorch's `view`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::zeros(&[2, 3]);
    /// assert!(x.t().try_view(&[6]).is_err());
    /// assert_eq!(x.view(&[3, 2]).shape(), &[3, 2]);
    /// ```
    #[track_caller]
    pub fn view<S: IntoShape + ?Sized>(&self, shape: &S) -> Tensor {
        or_panic(self.try_view(shape))
    }

    /// [`Tensor::view`], returning errors.
    #[track_caller]
    pub fn try_view<S: IntoShape + ?Sized>(&self, shape: &S) -> Result<Tensor> {
        let new = shape.resolve(self.numel(), "view")?;
        let input: Shape = Shape::from_slice(self.shape());
        match self.raw().layout().view(&new) {
            Some(l) => self.view_op(l, || ViewBackward { input }),
            None => Err(Error::shape(
                "view",
                format!("view size {:?} is not compatible with input tensor's size {:?} and stride {:?} (at least one dimension spans across two contiguous subspaces)", &new[..], self.shape(), self.strides()),
                "use .reshape(...) instead",
            )),
        }
    }

    /// Swaps two dimensions (a view). `d/dx` swaps them back.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::zeros(&[2, 3, 4]);
    /// assert_eq!(x.transpose(0, -1).shape(), &[4, 3, 2]);
    /// ```
    #[track_caller]
    pub fn transpose<D1: Dim, D2: Dim>(&self, a: D1, b: D2) -> Tensor {
        or_panic(self.try_transpose(a, b))
    }

    /// [`Tensor::transpose`], returning dimension errors.
    #[track_caller]
    pub fn try_transpose<D1: Dim, D2: Dim>(&self, a: D1, b: D2) -> Result<Tensor> {
        let n = self.dims();
        let (a, b) = (a.to_index(n, "transpose")?, b.to_index(n, "transpose")?);
        if a == b {
            return Ok(self.clone());
        }
        let mut perm: Vec<usize> = (0..n).collect();
        perm.swap(a, b);
        self.try_permute(&perm)
    }

    /// Transpose of a matrix (a view); 0-D and 1-D tensors are returned as they are.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::zeros(&[2, 3]);
    /// assert_eq!(x.t().shape(), &[3, 2]);
    /// ```
    #[track_caller]
    pub fn t(&self) -> Tensor {
        if self.dims() < 2 {
            return self.clone();
        }
        assert!(
            self.dims() == 2,
            "t: expects a tensor with <= 2 dimensions, but self is {}D; hint: use transpose(-2, -1)",
            self.dims()
        );
        self.transpose(0, 1)
    }

    /// Reorders the dimensions (a view).
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::zeros(&[2, 3, 4]);
    /// assert_eq!(x.permute(&[2, 0, 1]).shape(), &[4, 2, 3]);
    /// ```
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> Tensor {
        or_panic(self.try_permute(perm))
    }

    /// [`Tensor::permute`], returning an error for a wrong permutation.
    #[track_caller]
    pub fn try_permute(&self, perm: &[usize]) -> Result<Tensor> {
        let n = self.dims();
        let mut seen = vec![false; n];
        if perm.len() != n || perm.iter().any(|&p| p >= n || std::mem::replace(&mut seen[p], true)) {
            return Err(Error::shape(
                "permute",
                format!("number of dims don't match or the dims are not a permutation: got {perm:?} for a tensor of shape {:?}", self.shape()),
                format!("give each of 0..{n} exactly once"),
            ));
        }
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(self.clone());
        }
        let mut inverse = vec![0; n];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        self.view_op(self.raw().layout().permute(perm), || PermuteBackward { inverse })
    }

    /// Repeats size-1 dimensions (and adds leading ones) to reach `shape`, without copying
    /// (stride 0). `d/dx` sums the gradient over the repeated dimensions.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::ones(&[3, 1]);
    /// assert_eq!(x.expand(&[2, 3, 4]).shape(), &[2, 3, 4]);
    /// ```
    #[track_caller]
    pub fn expand(&self, shape: &[usize]) -> Tensor {
        or_panic(self.try_expand(shape))
    }

    /// [`Tensor::expand`], returning an error for an incompatible shape.
    #[track_caller]
    pub fn try_expand(&self, shape: &[usize]) -> Result<Tensor> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let l = self.raw().layout().broadcast_to("expand", shape)?;
        let input: Shape = Shape::from_slice(self.shape());
        self.view_op(l, || ExpandBackward { input })
    }

    /// Same as [`Tensor::expand`] (NumPy's name).
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor {
        or_panic(self.try_expand(shape))
    }

    /// `len` elements of dimension `dim` starting at `start` (a view).
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::arange(0, 10, 1);
    /// assert_eq!(x.narrow(0, 2, 3).to_vec::<i64>(), vec![2, 3, 4]);
    /// ```
    #[track_caller]
    pub fn narrow<D: Dim>(&self, dim: D, start: usize, len: usize) -> Tensor {
        or_panic(self.try_narrow(dim, start, len))
    }

    /// [`Tensor::narrow`], returning range errors.
    #[track_caller]
    pub fn try_narrow<D: Dim>(&self, dim: D, start: usize, len: usize) -> Result<Tensor> {
        let d = dim.to_index(self.dims(), "narrow")?;
        let size = self.shape()[d];
        if start + len > size {
            return Err(Error::shape(
                "narrow",
                format!(
                    "start ({start}) + length ({len}) exceeds dimension size ({size}) of dimension {d} (shape {:?})",
                    self.shape()
                ),
                "keep start + length within the dimension",
            ));
        }
        self.try_slice(d, start, start + len, 1)
    }

    /// Elements `start, start+step, …` below `end` of dimension `dim` (a view), like
    /// Python's `x[start:end:step]`. `d/dx` scatters the gradient back into zeros.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::arange(0, 10, 1);
    /// assert_eq!(x.slice(0, 1, 8, 3).to_vec::<i64>(), vec![1, 4, 7]);
    /// ```
    #[track_caller]
    pub fn slice<D: Dim>(&self, dim: D, start: usize, end: usize, step: usize) -> Tensor {
        or_panic(self.try_slice(dim, start, end, step))
    }

    /// [`Tensor::slice`], returning range errors.
    #[track_caller]
    pub fn try_slice<D: Dim>(&self, dim: D, start: usize, end: usize, step: usize) -> Result<Tensor> {
        let d = dim.to_index(self.dims(), "slice")?;
        let size = self.shape()[d];
        if step == 0 {
            return Err(Error::shape("slice", "slice step cannot be zero", "use a step of at least 1"));
        }
        let end = end.min(size);
        let start = start.min(end);
        let len = (end - start).div_ceil(step);
        if start == 0 && len == size && step == 1 {
            return Ok(self.clone());
        }
        let input: Shape = Shape::from_slice(self.shape());
        self.view_op(self.raw().layout().slice(d, start, len, step), || SliceBackward { input, dim: d, start, step })
    }

    /// A zero tensor of `shape` with `self` written at `start, start+step, …` of `dim`
    /// (the backward of slicing; recorded so that it is itself differentiable).
    #[track_caller]
    pub(crate) fn slice_scatter_into(&self, shape: &[usize], dim: usize, start: usize, step: usize) -> Result<Tensor> {
        let out = RawTensor::zeros(shape, self.dtype());
        let len = self.shape()[dim];
        let target = out.with_layout(out.layout().slice(dim, start, len, step));
        target.copy_from(self.raw());
        record(out, &[self], false, || SliceScatterBackward { dim, start, len, step })
    }

    /// Removes dimension `dim` if its size is 1 (otherwise returns the tensor unchanged,
    /// as PyTorch).
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::zeros(&[2, 1, 3]);
    /// assert_eq!(x.squeeze(1).shape(), &[2, 3]);
    /// ```
    #[track_caller]
    pub fn squeeze<D: Dim>(&self, dim: D) -> Tensor {
        or_panic(self.try_squeeze(dim))
    }

    /// [`Tensor::squeeze`], returning dimension errors.
    #[track_caller]
    pub fn try_squeeze<D: Dim>(&self, dim: D) -> Result<Tensor> {
        let d = dim.to_index(self.dims(), "squeeze")?;
        if self.dims() == 0 || self.shape()[d] != 1 {
            return Ok(self.clone());
        }
        let input: Shape = Shape::from_slice(self.shape());
        self.view_op(self.raw().layout().squeeze(d), || ViewBackward { input })
    }

    /// Removes every dimension of size 1.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::zeros(&[1, 2, 1]);
    /// assert_eq!(x.squeeze_all().shape(), &[2]);
    /// ```
    #[track_caller]
    pub fn squeeze_all(&self) -> Tensor {
        let shape: Vec<usize> = self.shape().iter().copied().filter(|&s| s != 1).collect();
        self.reshape(&shape)
    }

    /// Inserts a dimension of size 1 at `dim` (`-1` appends).
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::zeros(&[2, 3]);
    /// assert_eq!(x.unsqueeze(0).shape(), &[1, 2, 3]);
    /// assert_eq!(x.unsqueeze(-1).shape(), &[2, 3, 1]);
    /// ```
    #[track_caller]
    pub fn unsqueeze<D: Dim>(&self, dim: D) -> Tensor {
        or_panic(self.try_unsqueeze(dim))
    }

    /// [`Tensor::unsqueeze`], returning dimension errors.
    #[track_caller]
    pub fn try_unsqueeze<D: Dim>(&self, dim: D) -> Result<Tensor> {
        let d = to_insert_index(dim, self.dims(), "unsqueeze")?;
        let input: Shape = Shape::from_slice(self.shape());
        self.view_op(self.raw().layout().unsqueeze(d), || ViewBackward { input })
    }

    /// Merges dimensions `start..=end` into one.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::zeros(&[2, 3, 4]);
    /// assert_eq!(x.flatten(1, -1).shape(), &[2, 12]);
    /// assert_eq!(x.flatten(0, -1).shape(), &[24]);
    /// ```
    #[track_caller]
    pub fn flatten<D1: Dim, D2: Dim>(&self, start: D1, end: D2) -> Tensor {
        or_panic(self.try_flatten(start, end))
    }

    /// [`Tensor::flatten`], returning dimension errors.
    #[track_caller]
    pub fn try_flatten<D1: Dim, D2: Dim>(&self, start: D1, end: D2) -> Result<Tensor> {
        if self.dims() == 0 {
            return self.try_reshape(&[1usize]);
        }
        let (s, e) = (start.to_index(self.dims(), "flatten")?, end.to_index(self.dims(), "flatten")?);
        if s > e {
            return Err(Error::shape(
                "flatten",
                format!("start_dim ({s}) cannot come after end_dim ({e})"),
                "give start <= end",
            ));
        }
        let sh = self.shape();
        let mut new: Vec<usize> = sh[..s].to_vec();
        new.push(sh[s..=e].iter().product());
        new.extend_from_slice(&sh[e + 1..]);
        self.try_reshape(&new)
    }

    /// A contiguous tensor with the same values: `self` if already contiguous, else a
    /// copy (gradient passes through unchanged).
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::zeros(&[2, 3]).t();
    /// assert!(!x.is_contiguous());
    /// assert!(x.contiguous().is_contiguous());
    /// ```
    #[track_caller]
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            return self.clone();
        }
        or_panic(record(self.raw().copy(), &[self], false, || IdentityBackward("CloneBackward")))
    }

    /// A copy with its own storage; the gradient passes through unchanged.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::ones(&[2]);
    /// let y = x.clone_tensor();
    /// y.fill_(3.0);
    /// assert_eq!(x.to_vec::<f32>(), vec![1.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn clone_tensor(&self) -> Tensor {
        or_panic(record(self.raw().copy(), &[self], false, || IdentityBackward("CloneBackward")))
    }
}

#[cfg(test)]
mod tests {
    use crate::autograd::{gradcheck, gradgradcheck};
    use crate::{DType, Tensor};

    #[test]
    fn gradcheck_views() {
        crate::manual_seed(9);
        let a = Tensor::uniform(&[2, 3, 4], -1.0, 1.0, DType::F64).requires_grad_(true);
        let ops: Vec<(&str, fn(&Tensor) -> Tensor)> = vec![
            ("reshape", |t| t.reshape(&[6, -1])),
            ("reshape of transposed (copies)", |t| t.transpose(0, 2).reshape(&[-1])),
            ("transpose", |t| t.transpose(0, -1)),
            ("permute", |t| t.permute(&[1, 2, 0])),
            ("narrow", |t| t.narrow(2, 1, 2)),
            ("slice step", |t| t.slice(2, 0, 4, 2)),
            ("unsqueeze/squeeze", |t| t.unsqueeze(1).squeeze(1).unsqueeze(-1)),
            ("flatten", |t| t.flatten(1, -1)),
            ("expand", |t| t.narrow(0, 0, 1).expand(&[3, 3, 4])),
            ("contiguous", |t| t.t_last().contiguous()),
            ("cat", |t| Tensor::cat(&[t.clone(), t.narrow(1, 0, 1)], 1)),
            ("stack", |t| Tensor::stack(&[t.clone(), t * 2.0], -1)),
            ("chunk", |t| t.chunk(2, 2)[1].clone()),
            ("unbind", |t| t.unbind(1)[2].clone()),
        ];
        for (name, f) in &ops {
            gradcheck(|xs| f(&xs[0]) * 1.5, &[a.clone()]).unwrap_or_else(|e| panic!("{name}: {e}"));
            gradgradcheck(|xs| f(&xs[0]) * &f(&xs[0]), &[a.clone()]).unwrap_or_else(|e| panic!("{name} 2nd: {e}"));
        }
    }

    impl Tensor {
        fn t_last(&self) -> Tensor {
            self.transpose(-2, -1)
        }
    }

    #[test]
    fn views_share_storage_and_reshape_copies_only_when_it_must() {
        let x = Tensor::zeros(&[2, 3]);
        let v = x.view(&[3, 2]);
        v.fill_(1.0);
        assert_eq!(x.to_vec::<f32>(), vec![1.0; 6]);
        let t = x.t();
        assert!(t.raw().same_storage(x.raw()));
        let r = t.reshape(&[6]); // must copy
        assert!(!r.raw().same_storage(x.raw()));
        let e = t.try_view(&[6]).unwrap_err().to_string();
        assert!(e.contains("use .reshape(...) instead"), "{e}");
        let e = x.try_reshape(&[4, 2]).unwrap_err().to_string();
        assert!(e.contains("shape '[4, 2]' is invalid for input of size 6"), "{e}");
    }

    #[test]
    fn dims_out_of_range_are_reported_like_pytorch() {
        let e = Tensor::zeros(&[2, 3]).try_transpose(0, 2).unwrap_err().to_string();
        assert_eq!(e, "transpose: Dimension out of range (expected to be in range of [-2, 1], but got 2) for a tensor with 2 dimensions");
        let e = Tensor::zeros(&[2, 3]).try_sum_dims(&[-3], false).unwrap_err().to_string();
        assert!(e.contains("but got -3"), "{e}");
    }
}
