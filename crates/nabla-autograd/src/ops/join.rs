//! Joining tensors: `cat` and `stack`. Splitting ops (`chunk`, `split`, `unbind`) are
//! views, in terms of `narrow`.

use crate::dim::{to_insert_index, Dim};
use crate::graph::{Backward, BackwardCtx, Grads};
use crate::ops::{or_panic, record};
use crate::tensor::Tensor;
use nabla_tensor::{DType, Error, Layout, RawTensor, Result};
use std::borrow::Borrow;

struct CatBackward {
    dim: usize,
    sizes: Vec<usize>,
}
impl Backward for CatBackward {
    fn name(&self) -> &'static str {
        "CatBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let mut out = Grads::new();
        let mut start = 0;
        for (i, &s) in self.sizes.iter().enumerate() {
            out.push(if ctx.needs_input_grad(i) { Some(g.try_narrow(self.dim, start, s)?) } else { None });
            start += s;
        }
        Ok(out)
    }
    fn has_saved(&self) -> bool {
        false
    }
}

impl Tensor {
    /// Concatenates tensors along an existing dimension. `d/dxᵢ` is the matching slice of
    /// the gradient.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let a = Tensor::zeros(&[2, 3]);
    /// let b = Tensor::ones(&[1, 3]);
    /// assert_eq!(Tensor::cat(&[a, b], 0).shape(), &[3, 3]);
    /// ```
    #[track_caller]
    pub fn cat<T: Borrow<Tensor>, D: Dim>(tensors: &[T], dim: D) -> Tensor {
        or_panic(Tensor::try_cat(tensors, dim))
    }

    /// [`Tensor::cat`], returning shape errors.
    #[track_caller]
    pub fn try_cat<T: Borrow<Tensor>, D: Dim>(tensors: &[T], dim: D) -> Result<Tensor> {
        let ts: Vec<&Tensor> = tensors.iter().map(|t| t.borrow()).collect();
        if ts.is_empty() {
            return Err(Error::invalid_argument("cat", "expected a non-empty list of Tensors"));
        }
        let first = ts[0];
        let d = dim.to_index(first.dims(), "cat")?;
        let dtype = ts.iter().map(|t| t.dtype()).reduce(DType::promote).expect("non-empty");
        for (i, t) in ts.iter().enumerate() {
            if t.dims() != first.dims() || t.shape().iter().enumerate().any(|(j, &s)| j != d && s != first.shape()[j]) {
                return Err(Error::shape(
                    "cat",
                    format!("Sizes of tensors must match except in dimension {d}. Expected {:?} but got {:?} for tensor number {i} in the list", first.shape(), t.shape()),
                    "all tensors need the same sizes in every other dimension",
                ));
            }
        }
        let ts: Vec<Tensor> = ts.iter().map(|t| t.try_to_dtype(dtype)).collect::<Result<_>>()?;
        let sizes: Vec<usize> = ts.iter().map(|t| t.shape()[d]).collect();
        let mut shape = first.shape().to_vec();
        shape[d] = sizes.iter().sum();
        let out = RawTensor::zeros(&shape, dtype);
        let mut start = 0;
        for (t, &s) in ts.iter().zip(&sizes) {
            out.with_layout(out.layout().slice(d, start, s, 1)).copy_from(t.raw());
            start += s;
        }
        let out = out.with_layout(Layout::contiguous(&shape));
        let refs: Vec<&Tensor> = ts.iter().collect();
        record(out, &refs, false, || CatBackward { dim: d, sizes })
    }

    /// Stacks tensors of one shape along a new dimension.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let a = Tensor::zeros(&[3]);
    /// assert_eq!(Tensor::stack(&[&a, &a], 0).shape(), &[2, 3]);
    /// ```
    #[track_caller]
    pub fn stack<T: Borrow<Tensor>, D: Dim>(tensors: &[T], dim: D) -> Tensor {
        or_panic(Tensor::try_stack(tensors, dim))
    }

    /// [`Tensor::stack`], returning shape errors.
    #[track_caller]
    pub fn try_stack<T: Borrow<Tensor>, D: Dim>(tensors: &[T], dim: D) -> Result<Tensor> {
        let ts: Vec<&Tensor> = tensors.iter().map(|t| t.borrow()).collect();
        let Some(first) = ts.first() else {
            return Err(Error::invalid_argument("stack", "expected a non-empty list of Tensors"));
        };
        for (i, t) in ts.iter().enumerate() {
            if t.shape() != first.shape() {
                return Err(Error::shape(
                    "stack",
                    format!(
                        "stack expects each tensor to be equal size, but got {:?} at entry 0 and {:?} at entry {i}",
                        first.shape(),
                        t.shape()
                    ),
                    "give tensors of one shape",
                ));
            }
        }
        let d = to_insert_index(dim, first.dims(), "stack")?;
        let us: Vec<Tensor> = ts.iter().map(|t| t.try_unsqueeze(d)).collect::<Result<_>>()?;
        Tensor::try_cat(&us, d)
    }

    /// Splits into `chunks` pieces along `dim` (the last may be smaller); views.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::arange(0, 5, 1);
    /// let parts = x.chunk(2, 0);
    /// assert_eq!(parts[0].to_vec::<i64>(), vec![0, 1, 2]);
    /// assert_eq!(parts[1].to_vec::<i64>(), vec![3, 4]);
    /// ```
    #[track_caller]
    pub fn chunk<D: Dim>(&self, chunks: usize, dim: D) -> Vec<Tensor> {
        assert!(chunks > 0, "chunk: number of chunks must be greater than 0");
        let d = or_panic(dim.to_index(self.dims(), "chunk"));
        let size = self.shape()[d];
        let each = size.div_ceil(chunks).max(1);
        self.split(each, d)
    }

    /// Splits into pieces of `size` along `dim` (the last may be smaller); views.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::arange(0, 5, 1);
    /// assert_eq!(x.split(2, 0).len(), 3);
    /// ```
    #[track_caller]
    pub fn split<D: Dim>(&self, size: usize, dim: D) -> Vec<Tensor> {
        assert!(size > 0, "split: split size must be positive");
        let d = or_panic(dim.to_index(self.dims(), "split"));
        let total = self.shape()[d];
        (0..total).step_by(size).map(|s| self.narrow(d, s, size.min(total - s))).collect()
    }

    /// Splits into pieces of the given sizes along `dim`; views.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::arange(0, 5, 1);
    /// let p = x.split_sizes(&[1, 4], 0);
    /// assert_eq!(p[1].to_vec::<i64>(), vec![1, 2, 3, 4]);
    /// ```
    #[track_caller]
    pub fn split_sizes<D: Dim>(&self, sizes: &[usize], dim: D) -> Vec<Tensor> {
        let d = or_panic(dim.to_index(self.dims(), "split"));
        let total: usize = sizes.iter().sum();
        assert!(
            total == self.shape()[d],
            "split_with_sizes expects split_sizes to sum exactly to {} (input tensor's size at dimension {d}), but got split_sizes={sizes:?}",
            self.shape()[d]
        );
        let mut start = 0;
        sizes
            .iter()
            .map(|&s| {
                let t = self.narrow(d, start, s);
                start += s;
                t
            })
            .collect()
    }

    /// Removes dimension `dim`, returning each slice; views.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::zeros(&[3, 2]);
    /// assert_eq!(x.unbind(0).len(), 3);
    /// ```
    #[track_caller]
    pub fn unbind<D: Dim>(&self, dim: D) -> Vec<Tensor> {
        let d = or_panic(dim.to_index(self.dims(), "unbind"));
        (0..self.shape()[d]).map(|i| self.narrow(d, i, 1).squeeze(d)).collect()
    }
}
