//! Indexing: `index_select`, `gather`, `masked_select`, `masked_fill`, the scatters that are
//! their derivatives (`index_add`, `scatter_add`, `masked_scatter`), `repeat` and `one_hot`.
//!
//! The ops come in pairs whose backward rules call each other, so every rule is written
//! with recorded ops and `create_graph` works to any order:
//!
//! | op | d/dself | d/dsrc |
//! |---|---|---|
//! | `index_select(d, i)` | `zeros.index_add(d, i, g)` | |
//! | `index_add(d, i, src)` | `g` | `g.index_select(d, i)` |
//! | `gather(d, i)` | `zeros.scatter_add(d, i, g)` | |
//! | `scatter_add(d, i, src)` | `g` | `g.gather(d, i)` |
//! | `masked_select(m)` | `zeros.masked_scatter(m, g)` | |
//! | `masked_scatter(m, src)` | `g.masked_fill(m, 0)` | `g.masked_select(m)` |
//! | `masked_fill(m, v)` | `g.masked_fill(m, 0)` | |
//! | `repeat(r)` | `g` summed over the tiles | |
//!
//! Index and mask arguments are never differentiable.

use crate::dim::Dim;
use crate::graph::{Backward, BackwardCtx, Grads, Saved};
use crate::ops::binary::Scalar;
use crate::ops::reduce::sum_to_owned;
use crate::ops::{or_panic, record};
use crate::tensor::Tensor;
use nabla_tensor::layout::broadcast_shapes;
use nabla_tensor::{Result, Shape};
use smallvec::smallvec;

/// `t` padded with zeros at the end of each dimension up to `shape` (for scatter sources
/// larger than their index, whose extra elements get no gradient).
fn pad_with_zeros(t: Tensor, shape: &[usize]) -> Result<Tensor> {
    let mut t = t;
    for (d, &want) in shape.iter().enumerate() {
        let have = t.shape()[d];
        if have < want {
            let mut zshape = t.shape().to_vec();
            zshape[d] = want - have;
            t = Tensor::try_cat(&[t.clone(), Tensor::zeros_with(&zshape, t.dtype())], d)?;
        }
    }
    Ok(t)
}

struct IndexSelectBackward {
    dim: usize,
    index: Saved,
    input: Shape,
}
impl Backward for IndexSelectBackward {
    fn name(&self) -> &'static str {
        "IndexSelectBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let index = self.index.get(ctx.name())?;
        Ok(smallvec![Some(Tensor::zeros_with(&self.input, g.dtype()).try_index_add(self.dim, index, g)?)])
    }
}

struct IndexAddBackward {
    dim: usize,
    index: Saved,
}
impl Backward for IndexAddBackward {
    fn name(&self) -> &'static str {
        "IndexAddBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let gsrc = if ctx.needs_input_grad(1) {
            Some(g.try_index_select(self.dim, self.index.get(ctx.name())?)?)
        } else {
            None
        };
        Ok(smallvec![ctx.needs_input_grad(0).then(|| g.clone()), gsrc])
    }
}

struct GatherBackward {
    dim: usize,
    index: Saved,
    input: Shape,
}
impl Backward for GatherBackward {
    fn name(&self) -> &'static str {
        "GatherBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let index = self.index.get(ctx.name())?;
        Ok(smallvec![Some(Tensor::zeros_with(&self.input, g.dtype()).try_scatter_add(self.dim, index, g)?)])
    }
}

struct ScatterAddBackward {
    dim: usize,
    index: Saved,
    src: Shape,
}
impl Backward for ScatterAddBackward {
    fn name(&self) -> &'static str {
        "ScatterAddBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let gsrc = if ctx.needs_input_grad(1) {
            let picked = g.try_gather(self.dim, self.index.get(ctx.name())?)?;
            Some(pad_with_zeros(picked, &self.src)?)
        } else {
            None
        };
        Ok(smallvec![ctx.needs_input_grad(0).then(|| g.clone()), gsrc])
    }
}

struct MaskedSelectBackward {
    mask: Saved,
    input: Shape,
    broadcast: Shape,
}
impl Backward for MaskedSelectBackward {
    fn name(&self) -> &'static str {
        "MaskedSelectBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let mask = self.mask.get(ctx.name())?;
        let spread = Tensor::zeros_with(&self.broadcast, g.dtype()).try_masked_scatter(mask, g)?;
        Ok(smallvec![Some(spread.try_sum_to(&self.input)?)])
    }
}

struct MaskedScatterBackward {
    mask: Saved,
    input: Shape,
    source: Shape,
}
impl Backward for MaskedScatterBackward {
    fn name(&self) -> &'static str {
        "MaskedScatterBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let mask = self.mask.get(ctx.name())?;
        let gx = if ctx.needs_input_grad(0) {
            Some(sum_to_owned(g.try_masked_fill(mask, 0.0)?, &self.input)?)
        } else {
            None
        };
        let gsrc = if ctx.needs_input_grad(1) {
            // source elements past the number of trues were not used: zero gradient
            let used = g.try_masked_select(mask)?;
            let n: usize = self.source.iter().product();
            let all = pad_with_zeros(used, &[n])?;
            Some(all.try_reshape(&self.source[..])?)
        } else {
            None
        };
        Ok(smallvec![gx, gsrc])
    }
}

struct MaskedFillBackward {
    mask: Saved,
    input: Shape,
}
impl Backward for MaskedFillBackward {
    fn name(&self) -> &'static str {
        "MaskedFillBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let mask = self.mask.get(ctx.name())?;
        Ok(smallvec![Some(sum_to_owned(g.try_masked_fill(mask, 0.0)?, &self.input)?)])
    }
}

struct RepeatBackward {
    reps: Vec<usize>,
    input: Shape,
}
impl Backward for RepeatBackward {
    fn name(&self) -> &'static str {
        "RepeatBackward"
    }
    fn backward(&self, _ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        // View g [r0·s0, r1·s1, …] as [r0, s0, r1, s1, …] and sum over every r.
        let pad = self.reps.len() - self.input.len();
        let mut tiled = Vec::with_capacity(2 * self.reps.len());
        for (d, &r) in self.reps.iter().enumerate() {
            tiled.extend([r, if d < pad { 1 } else { self.input[d - pad] }]);
        }
        let rep_dims: Vec<usize> = (0..self.reps.len()).map(|d| 2 * d).collect();
        let summed = g.try_reshape(&tiled)?.try_sum_dims(&rep_dims, false)?;
        Ok(smallvec![Some(summed.try_reshape(&self.input[..])?)])
    }
    fn has_saved(&self) -> bool {
        false
    }
}

impl Tensor {
    /// The slices `index[0], index[1], …` of dimension `dim`: `self`'s shape with `dim`
    /// resized to the number of indices. `index` is a 0-D or 1-D int64 tensor of indices in
    /// `0..size(dim)`; repeats are allowed. Works for every dtype (batching labels too).
    ///
    /// `d/dself`: the gradient's slices added back at their indices,
    /// `zeros(self.shape).index_add(dim, index, grad)` (repeated indices accumulate).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]).requires_grad_(true);
    /// let idx = Tensor::from_vec(vec![2i64, 0, 2], &[3]);
    /// let y = x.index_select(0, &idx);
    /// assert_eq!(y.to_vec::<f32>(), vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn index_select<D: Dim>(&self, dim: D, index: &Tensor) -> Tensor {
        or_panic(self.try_index_select(dim, index))
    }

    /// [`Tensor::index_select`], returning dimension, dtype and range errors.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::zeros(&[5, 2]);
    /// let e = x.try_index_select(0, &Tensor::from_vec(vec![-1i64], &[1])).unwrap_err();
    /// assert_eq!(e.to_string(), "index_select: index -1 is out of bounds for dimension 0 with size 5");
    /// ```
    #[track_caller]
    pub fn try_index_select<D: Dim>(&self, dim: D, index: &Tensor) -> Result<Tensor> {
        let d = dim.to_index(self.dims(), "index_select")?;
        let out = self.raw().index_select(d, index.raw())?;
        record(out, &[self], false, || IndexSelectBackward {
            dim: d,
            index: Saved::new(index),
            input: Shape::from_slice(self.shape()),
        })
    }

    /// `self` with `src`'s slices added at the indices `index` of dimension `dim` (PyTorch's
    /// `index_add` with `alpha` 1): `out[.., index[j], ..] += src[.., j, ..]`, repeated indices
    /// accumulating. `src` has `self`'s shape with `dim` resized to `index`'s length and the
    /// same dtype.
    ///
    /// `d/dself = grad`; `d/dsrc = grad.index_select(dim, index)`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::zeros(&[3, 2]);
    /// let src = Tensor::ones(&[2, 2]);
    /// let y = x.index_add(0, &Tensor::from_vec(vec![1i64, 1], &[2]), &src);
    /// assert_eq!(y.to_vec::<f32>(), vec![0.0, 0.0, 2.0, 2.0, 0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn index_add<D: Dim>(&self, dim: D, index: &Tensor, src: &Tensor) -> Tensor {
        or_panic(self.try_index_add(dim, index, src))
    }

    /// [`Tensor::index_add`], returning dimension, dtype, shape and range errors.
    #[track_caller]
    pub fn try_index_add<D: Dim>(&self, dim: D, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        let d = dim.to_index(self.dims(), "index_add")?;
        let out = self.raw().index_add(d, index.raw(), src.raw())?;
        record(out, &[self, src], false, || IndexAddBackward { dim: d, index: Saved::new(index) })
    }

    /// Values picked along `dim` by `index` (PyTorch's `gather`): for `dim` 1 of a 3-D
    /// tensor, `out[i][j][k] = self[i][index[i][j][k]][k]`. `index` is int64, has `self`'s
    /// number of dimensions and is no larger than `self` outside `dim`; the result has its
    /// shape. Cross-entropy picks each row's target logit this way.
    ///
    /// `d/dself`: the gradient added back where it was picked,
    /// `zeros(self.shape).scatter_add(dim, index, grad)`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let logits = Tensor::from_vec(vec![0.1f32, 0.7, 0.2, 0.5, 0.3, 0.2], &[2, 3]);
    /// let target = Tensor::from_vec(vec![1i64, 0], &[2, 1]);
    /// assert_eq!(logits.gather(1, &target).to_vec::<f32>(), vec![0.7, 0.5]);
    /// ```
    #[track_caller]
    pub fn gather<D: Dim>(&self, dim: D, index: &Tensor) -> Tensor {
        or_panic(self.try_gather(dim, index))
    }

    /// [`Tensor::gather`], returning dimension, dtype, shape and range errors.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::zeros(&[2, 3]);
    /// let e = x.try_gather(1, &Tensor::from_vec(vec![1.0f32, 0.0], &[2, 1])).unwrap_err();
    /// assert!(e.to_string().contains("Expected dtype int64 for index"));
    /// ```
    #[track_caller]
    pub fn try_gather<D: Dim>(&self, dim: D, index: &Tensor) -> Result<Tensor> {
        let d = dim.to_index(self.dims(), "gather")?;
        let out = self.raw().gather(d, index.raw())?;
        record(out, &[self], false, || GatherBackward {
            dim: d,
            index: Saved::new(index),
            input: Shape::from_slice(self.shape()),
        })
    }

    /// `self` with each `src[i][j][k]` added at position `index[i][j][k]` of dimension `dim`
    /// (PyTorch's out-of-place `scatter_add`; for `dim` 1, `out[i][index[i][j][k]][k] +=
    /// src[i][j][k]`). `index` is int64 with `self`'s number of dimensions, no larger than
    /// `src` anywhere nor than `self` outside `dim`; `src` has `self`'s dtype.
    ///
    /// `d/dself = grad`; `d/dsrc = grad.gather(dim, index)` (zero for elements of `src`
    /// outside `index`'s shape).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let counts = Tensor::zeros(&[3]);
    /// let labels = Tensor::from_vec(vec![2i64, 0, 2, 2], &[4]);
    /// let y = counts.scatter_add(0, &labels, &Tensor::ones(&[4]));
    /// assert_eq!(y.to_vec::<f32>(), vec![1.0, 0.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn scatter_add<D: Dim>(&self, dim: D, index: &Tensor, src: &Tensor) -> Tensor {
        or_panic(self.try_scatter_add(dim, index, src))
    }

    /// [`Tensor::scatter_add`], returning dimension, dtype, shape and range errors.
    #[track_caller]
    pub fn try_scatter_add<D: Dim>(&self, dim: D, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        let d = dim.to_index(self.dims(), "scatter_add")?;
        let out = self.raw().scatter_add(d, index.raw(), src.raw())?;
        record(out, &[self, src], false, || ScatterAddBackward {
            dim: d,
            index: Saved::new(index),
            src: Shape::from_slice(src.shape()),
        })
    }

    /// The elements where the bool `mask` is true, in row-major order, as a 1-D tensor;
    /// `self` and `mask` broadcast together.
    ///
    /// `d/dself`: the gradient's elements put back at the mask's positions, zeros elsewhere
    /// (`zeros.masked_scatter(mask, grad)`, summed back over broadcast dimensions).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::from_vec(vec![-1.0f32, 2.0, -3.0, 4.0], &[2, 2]);
    /// assert_eq!(x.masked_select(&x.gt(0.0)).to_vec::<f32>(), vec![2.0, 4.0]);
    /// ```
    #[track_caller]
    pub fn masked_select(&self, mask: &Tensor) -> Tensor {
        or_panic(self.try_masked_select(mask))
    }

    /// [`Tensor::masked_select`], returning dtype and broadcast errors.
    #[track_caller]
    pub fn try_masked_select(&self, mask: &Tensor) -> Result<Tensor> {
        let out = self.raw().masked_select(mask.raw())?;
        record(out, &[self], false, || MaskedSelectBackward {
            mask: Saved::new(mask),
            input: Shape::from_slice(self.shape()),
            broadcast: broadcast_shapes("masked_select", self.shape(), mask.shape()).expect("checked by the kernel"),
        })
    }

    /// `self` (broadcast with `mask`) with the positions where `mask` is true replaced by
    /// `source`'s elements in row-major order; `source` has `self`'s dtype and at least as
    /// many elements as `mask` has trues.
    ///
    /// `d/dself = grad.masked_fill(mask, 0)`; `d/dsource = grad.masked_select(mask)` (zero
    /// for the unused tail of `source`).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::zeros(&[2, 2]);
    /// let m = Tensor::from_vec(vec![true, false, false, true], &[2, 2]);
    /// let y = x.masked_scatter(&m, &Tensor::from_vec(vec![5.0f32, 6.0, 7.0], &[3]));
    /// assert_eq!(y.to_vec::<f32>(), vec![5.0, 0.0, 0.0, 6.0]);
    /// ```
    #[track_caller]
    pub fn masked_scatter(&self, mask: &Tensor, source: &Tensor) -> Tensor {
        or_panic(self.try_masked_scatter(mask, source))
    }

    /// [`Tensor::masked_scatter`], returning dtype, broadcast and size errors.
    #[track_caller]
    pub fn try_masked_scatter(&self, mask: &Tensor, source: &Tensor) -> Result<Tensor> {
        let out = self.raw().masked_scatter(mask.raw(), source.raw())?;
        record(out, &[self, source], false, || MaskedScatterBackward {
            mask: Saved::new(mask),
            input: Shape::from_slice(self.shape()),
            source: Shape::from_slice(source.shape()),
        })
    }

    /// `self` (broadcast with the bool `mask`) with `value` where `mask` is true: the
    /// attention-mask op (`scores.masked_fill(&pad, f64::NEG_INFINITY)`).
    ///
    /// `d/dself = grad` where `mask` is false, `0` where it is true (summed back over
    /// broadcast dimensions).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).requires_grad_(true);
    /// let m = Tensor::from_vec(vec![false, true, false], &[3]);
    /// let y = x.masked_fill(&m, 0);
    /// assert_eq!(y.to_vec::<f64>(), vec![1.0, 0.0, 3.0]);
    /// (&y * 2.0).sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![2.0, 0.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn masked_fill<S: Scalar>(&self, mask: &Tensor, value: S) -> Tensor {
        or_panic(self.try_masked_fill(mask, value.to_f64()))
    }

    /// [`Tensor::masked_fill`], returning dtype and broadcast errors.
    #[track_caller]
    pub fn try_masked_fill(&self, mask: &Tensor, value: f64) -> Result<Tensor> {
        let out = self.raw().masked_fill(mask.raw(), value)?;
        record(out, &[self], false, || MaskedFillBackward {
            mask: Saved::new(mask),
            input: Shape::from_slice(self.shape()),
        })
    }

    /// `self` tiled `reps[d]` times along each dimension (PyTorch's `repeat`, which copies;
    /// [`Tensor::expand`] is the no-copy view for size-1 dimensions). `reps` has at least
    /// `self`'s number of dimensions; extra leading entries add dimensions.
    ///
    /// `d/dself`: the sum of the gradient's tiles.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).requires_grad_(true);
    /// let y = x.repeat(&[2, 3]);
    /// assert_eq!(y.shape(), &[2, 6]);
    /// assert_eq!(y.to_vec::<f32>()[..6], [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![6.0, 6.0]);
    /// ```
    #[track_caller]
    pub fn repeat(&self, reps: &[usize]) -> Tensor {
        or_panic(self.try_repeat(reps))
    }

    /// [`Tensor::repeat`], returning an error when `reps` is shorter than the shape.
    #[track_caller]
    pub fn try_repeat(&self, reps: &[usize]) -> Result<Tensor> {
        let out = self.raw().repeat(reps)?;
        record(out, &[self], false, || RepeatBackward { reps: reps.to_vec(), input: Shape::from_slice(self.shape()) })
    }

    /// One-hot encoding of int64 class labels (PyTorch's `F.one_hot`): shape
    /// `labels.shape + [classes]`, int64, 1 at each label's class. Labels must lie in
    /// `0..classes`. Not differentiable (labels are integers); for a float encoding, convert
    /// the result with `.to_dtype(DType::F32)`.
    ///
    /// ```
    /// use nabla_autograd::{DType, Tensor};
    /// let y = Tensor::from_vec(vec![2i64, 0], &[2]);
    /// let h = Tensor::one_hot(&y, 3);
    /// assert_eq!(h.dtype(), DType::I64);
    /// assert_eq!(h.to_vec::<i64>(), vec![0, 0, 1, 1, 0, 0]);
    /// let soft = h.to_dtype(DType::F32) * 0.9 + 0.1 / 3.0; // label smoothing
    /// assert_eq!(soft.dtype(), DType::F32);
    /// ```
    #[track_caller]
    pub fn one_hot(labels: &Tensor, classes: usize) -> Tensor {
        or_panic(Tensor::try_one_hot(labels, classes))
    }

    /// [`Tensor::one_hot`], returning dtype and class-range errors.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let e = Tensor::try_one_hot(&Tensor::from_vec(vec![3i64], &[1]), 3).unwrap_err();
    /// assert!(e.to_string().contains("Class values must be smaller than num_classes"));
    /// ```
    pub fn try_one_hot(labels: &Tensor, classes: usize) -> Result<Tensor> {
        Ok(Tensor::from_raw(labels.raw().one_hot(classes)?))
    }
}

#[cfg(test)]
mod tests {
    //! Every derivative by finite differences in f64, first and second order, on
    //! contiguous and non-contiguous (transposed, sliced, expanded) inputs.
    use crate::autograd::{gradcheck, gradgradcheck};
    use crate::{DType, Tensor};

    fn leaf(shape: &[usize]) -> Tensor {
        Tensor::randn_with(shape, DType::F64).requires_grad_(true)
    }

    fn idx(v: &[i64], shape: &[usize]) -> Tensor {
        Tensor::from_vec(v.to_vec(), shape)
    }

    fn mask(v: &[u8], shape: &[usize]) -> Tensor {
        Tensor::from_vec(v.iter().map(|&b| b != 0).collect(), shape)
    }

    /// First and second derivatives of `f` at `inputs`.
    #[track_caller]
    fn check(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) {
        let r = gradcheck(&f, inputs).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.entries > 0);
        gradgradcheck(&f, inputs).unwrap_or_else(|e| panic!("second order: {e}"));
    }

    #[test]
    fn index_select_gradients() {
        let i = idx(&[3, 0, 3, 1, 3], &[5]);
        check(|x| x[0].index_select(0, &i), &[leaf(&[4, 3])]);
        check(|x| x[0].index_select(-1, &i.narrow(0, 1, 3)), &[leaf(&[2, 4])]);
        // transposed leaf view: dim 1 of the view is dim 0 of the storage
        check(|x| x[0].t().index_select(1, &i), &[leaf(&[4, 3])]);
        check(|x| x[0].index_select(0, &i).exp(), &[leaf(&[4])]);
    }

    #[test]
    fn index_add_gradients_for_self_and_source() {
        let i = idx(&[2, 0, 2], &[3]);
        check(|x| x[0].index_add(0, &i, &x[1]), &[leaf(&[3, 2]), leaf(&[3, 2])]);
        check(|x| x[0].t().index_add(1, &i, &x[1].t()), &[leaf(&[4, 2]), leaf(&[3, 2])]);
        check(|x| (x[0].index_add(1, &i, &x[1]) * &x[1].sum()).tanh(), &[leaf(&[2, 3]), leaf(&[2, 3])]);
    }

    #[test]
    fn gather_gradients() {
        let i = idx(&[1, 0, 2, 2, 0, 1], &[2, 3]);
        check(|x| x[0].gather(1, &i), &[leaf(&[2, 4])]);
        check(|x| x[0].gather(0, &i.narrow(1, 0, 2)), &[leaf(&[3, 3])]);
        check(|x| x[0].t().gather(1, &i), &[leaf(&[4, 2])]);
        check(|x| x[0].gather(1, &i.t().contiguous().t()).pow(2.0), &[leaf(&[2, 3])]);
    }

    #[test]
    fn scatter_add_gradients_for_self_and_source() {
        let i = idx(&[1, 0, 1, 2, 2, 0], &[2, 3]);
        check(|x| x[0].scatter_add(1, &i, &x[1]), &[leaf(&[2, 3]), leaf(&[2, 3])]);
        // a source larger than the index: its extra elements get no gradient
        check(|x| x[0].scatter_add(1, &i, &x[1]), &[leaf(&[2, 4]), leaf(&[3, 4])]);
        check(|x| x[0].t().scatter_add(0, &i.t(), &x[1].t()), &[leaf(&[3, 3]), leaf(&[2, 3])]);
        check(|x| x[0].scatter_add(1, &i, &x[1]).pow(2.0), &[leaf(&[2, 3]), leaf(&[2, 3])]);
    }

    #[test]
    fn masked_select_gradients_with_broadcasting() {
        let m = mask(&[1, 0, 1, 1, 0, 0], &[2, 3]);
        check(|x| x[0].masked_select(&m), &[leaf(&[2, 3])]);
        check(|x| x[0].masked_select(&m), &[leaf(&[3])]); // input broadcast over rows
        check(|x| x[0].t().masked_select(&m), &[leaf(&[3, 2])]);
        check(|x| x[0].masked_select(&m.narrow(0, 0, 1)).pow(3.0), &[leaf(&[4, 3])]);
        // mask broadcast
    }

    #[test]
    fn masked_scatter_gradients_for_self_and_source() {
        let m = mask(&[0, 1, 1, 0, 1, 0], &[2, 3]);
        check(|x| x[0].masked_scatter(&m, &x[1]), &[leaf(&[2, 3]), leaf(&[3])]);
        check(|x| x[0].masked_scatter(&m, &x[1]), &[leaf(&[3]), leaf(&[2, 3])]);
        check(|x| x[0].t().masked_scatter(&m, &x[1].t()).pow(2.0), &[leaf(&[3, 2]), leaf(&[2, 2])]);
    }

    #[test]
    fn masked_fill_gradients_with_broadcasting() {
        let m = mask(&[1, 0, 0, 1, 1, 0], &[2, 3]);
        check(|x| x[0].masked_fill(&m, 7.0), &[leaf(&[2, 3])]);
        check(|x| x[0].masked_fill(&m, -1), &[leaf(&[1, 3])]);
        check(|x| x[0].t().masked_fill(&m, 0).pow(2.0), &[leaf(&[3, 2])]);
        check(|x| x[0].expand(&[2, 3]).masked_fill(&m, 0).exp(), &[leaf(&[3])]);
    }

    #[test]
    fn repeat_gradients() {
        check(|x| x[0].repeat(&[2, 3]), &[leaf(&[2, 2])]);
        check(|x| x[0].repeat(&[3, 1, 2]), &[leaf(&[3])]);
        check(|x| x[0].t().repeat(&[1, 2]).pow(2.0), &[leaf(&[2, 3])]);
        check(|x| x[0].slice(1, 0, 4, 2).repeat(&[2, 2, 1]), &[leaf(&[2, 4])]);
    }

    #[test]
    fn backward_nodes_have_pytorch_names() {
        let x = leaf(&[3, 2]);
        let i = idx(&[0, 2], &[2]);
        let m = mask(&[1, 0], &[2]);
        let names = [
            x.index_select(0, &i).grad_fn().unwrap().name(),
            x.index_add(0, &i, &x.narrow(0, 0, 2)).grad_fn().unwrap().name(),
            x.gather(0, &idx(&[1, 0], &[1, 2])).grad_fn().unwrap().name(),
            x.scatter_add(0, &idx(&[1, 0], &[1, 2]), &x).grad_fn().unwrap().name(),
            x.masked_select(&m).grad_fn().unwrap().name(),
            x.masked_fill(&m, 0).grad_fn().unwrap().name(),
            x.repeat(&[1, 2]).grad_fn().unwrap().name(),
        ];
        assert_eq!(
            names,
            [
                "IndexSelectBackward",
                "IndexAddBackward",
                "GatherBackward",
                "ScatterAddBackward",
                "MaskedSelectBackward",
                "MaskedFillBackward",
                "RepeatBackward"
            ]
        );
    }

    #[test]
    fn index_modified_in_place_after_use_is_caught() {
        let x = leaf(&[3]);
        let i = idx(&[0, 1], &[2]);
        let y = x.index_select(0, &i).sum();
        i.fill_(2.0);
        let e = crate::autograd::grad(&[y], &[x], &Default::default()).unwrap_err();
        assert!(e.to_string().contains("modified by an inplace operation"), "{e}");
    }
}
