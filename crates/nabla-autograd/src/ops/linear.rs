//! The fused affine map of a fully connected layer, `y = x · wᵀ + b` (PyTorch's `F.linear`,
//! `w` being `[out_features, in_features]`): one GEMM forward with the bias pre-filled,
//! one GEMM per weight gradient backward.

use crate::graph::{Backward, BackwardCtx, Grads, Saved};
use crate::ops::binary::promote;
use crate::ops::{or_panic, record};
use crate::tensor::Tensor;
use nabla_tensor::matmul::{gemm, MatRef};
use nabla_tensor::pool;
use nabla_tensor::{DType, Error, Float, RawTensor, Result, Shape};
use smallvec::smallvec;

struct LinearBackward {
    x: Saved,
    w: Saved,
    /// The bias's shape, if there is a bias.
    b: Option<Shape>,
}
impl Backward for LinearBackward {
    fn name(&self) -> &'static str {
        if self.b.is_some() {
            "AddmmBackward"
        } else {
            "MmBackward"
        }
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        // With x and g flattened to [M, in] and [M, out]: dx = g·w, dw = gᵀ·x, db = Σ_rows g.
        // Each is one GEMM (matmul), recorded when backward runs with create_graph.
        let (x, w) = (self.x.get(ctx.name())?, self.w.get(ctx.name())?);
        let (inp, out) = (w.shape()[1], w.shape()[0]);
        let g2 = g.try_reshape(&[-1, out as i64])?;
        let gx = if ctx.needs_input_grad(0) { Some(g2.try_matmul(w)?.try_reshape(x.shape())?) } else { None };
        let gw = if ctx.needs_input_grad(1) {
            Some(g2.try_transpose(0, 1)?.try_matmul(&x.try_reshape(&[-1, inp as i64])?)?)
        } else {
            None
        };
        let mut grads: Grads = smallvec![gx, gw];
        if let Some(shape) = &self.b {
            grads.push(if ctx.needs_input_grad(2) { Some(g2.try_sum_to(shape)?) } else { None });
        }
        Ok(grads)
    }
}

/// `x · wᵀ` into a new `[m, out]` buffer that starts as the bias rows (or zeros).
fn forward<T: Float>(x: &RawTensor, w: &RawTensor, b: Option<&RawTensor>, m: usize) -> Vec<T> {
    let (out, inp) = (w.shape()[0], w.shape()[1]);
    let mut dst = match b {
        Some(b) => {
            let bv = b.to_vec::<T>();
            let mut dst = pool::alloc(m * out);
            for _ in 0..m {
                match bv.len() {
                    1 => dst.resize(dst.len() + out, bv[0]),
                    _ => dst.extend_from_slice(&bv),
                }
            }
            dst
        }
        None => pool::alloc_filled(m * out, T::zero()),
    };
    // x is [m, in] (the caller collapsed its leading dimensions)
    let (xs, ws) = (x.layout().strides(), w.layout().strides());
    let (x_rs, x_cs) = (xs[0], xs[1]);
    x.with_slice::<T, _>(|sx, lx| {
        w.with_slice::<T, _>(|sw, lw| {
            let a = MatRef { data: sx, offset: lx.offset(), row_stride: x_rs, col_stride: x_cs };
            // wᵀ as a [in, out] operand: swap w's strides, no copy
            let bt = MatRef { data: sw, offset: lw.offset(), row_stride: ws[1], col_stride: ws[0] };
            gemm(m, out, inp, &mut dst, out, a, bt, b.is_some());
        })
    });
    dst
}

/// The affine map `y = x · wᵀ + b` of a fully connected layer: PyTorch's `F.linear`.
/// `x` is `[..., in]` (any leading batch dimensions), `w` is `[out, in]`, `b` is `[out]`;
/// `y` is `[..., out]`. One fused op (node `AddmmBackward`).
///
/// `dx = g · w`, `dw = gᵀ · x`, `db = Σ g` over the batch dimensions.
///
/// ```
/// use nabla_autograd::{functional as F, Tensor};
/// let x = Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2]).requires_grad_(true);
/// let w = Tensor::from_vec(vec![1.0f32, 0.0, 1.0, 1.0, 0.0, -1.0], &[3, 2]).requires_grad_(true);
/// let b = Tensor::from_vec(vec![0.5f32, 0.5, 0.5], &[3]).requires_grad_(true);
/// let y = F::linear(&x, &w, Some(&b));
/// assert_eq!(y.to_vec::<f32>(), vec![1.5, 3.5, -1.5]);
/// y.sum().backward();
/// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![2.0, 0.0]);
/// assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
/// assert_eq!(b.grad().unwrap().to_vec::<f32>(), vec![1.0, 1.0, 1.0]);
/// ```
///
/// # Panics
/// If the feature sizes disagree ("mat1 and mat2 shapes cannot be multiplied (4x3 and 5x2)")
/// or the bias is not `[out]`.
#[track_caller]
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
    or_panic(try_linear(x, w, b))
}

/// [`linear`], returning errors.
#[track_caller]
pub fn try_linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let op = "linear";
    if w.dims() != 2 {
        return Err(Error::shape(
            op,
            format!("expected a 2-D weight [out_features, in_features], got {:?}", w.shape()),
            "nn.Linear's weight is [out_features, in_features]",
        ));
    }
    if x.dims() == 0 {
        return Err(Error::shape(
            op,
            "expected an input of at least 1 dimension [..., in_features], got a 0-D tensor",
            "",
        ));
    }
    let (out, inp) = (w.shape()[0], w.shape()[1]);
    let k = x.shape()[x.dims() - 1];
    let m: usize = x.shape()[..x.dims() - 1].iter().product();
    if k != inp {
        return Err(Error::shape(
            op,
            format!(
                "mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {inp}x{out}): the input {:?} has {k} features, \
                 the weight {:?} expects {inp}",
                x.shape(),
                w.shape()
            ),
            "the weight is [out_features, in_features]; check in_features, or flatten the input first",
        ));
    }
    if let Some(b) = b {
        if !(b.shape() == [out] || b.numel() == 1 && b.dims() <= 1) {
            return Err(Error::shape(
                op,
                format!("expected a bias of shape [{out}] (out_features), got {:?}", b.shape()),
                "the bias has one value per output feature",
            ));
        }
    }
    let (x, w) = promote(op, x, w)?;
    let b = b.map(|b| b.try_to_dtype(x.dtype())).transpose()?;
    // x as [m, in]: a view when the leading dimensions collapse, else a copy
    let x2 = match x.raw().layout().view(&[m, k]) {
        Some(l) => x.raw().with_layout(l),
        None => x.raw().contiguous().with_layout(nabla_tensor::Layout::contiguous(&[m, k])),
    };
    let mut shape = x.shape().to_vec();
    *shape.last_mut().expect("dims >= 1") = out;
    let raw = match x.dtype() {
        DType::F32 => RawTensor::from_vec(forward::<f32>(&x2, w.raw(), b.as_ref().map(|b| b.raw()), m), &shape),
        _ => RawTensor::from_vec(forward::<f64>(&x2, w.raw(), b.as_ref().map(|b| b.raw()), m), &shape),
    };
    let bias_shape: Option<Shape> = b.as_ref().map(|b| Shape::from_slice(b.shape()));
    let make = || LinearBackward { x: Saved::new(&x), w: Saved::new(&w), b: bias_shape };
    match &b {
        Some(b) => record(raw, &[&x, &w, b], false, make),
        None => record(raw, &[&x, &w], false, make),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, gradgradcheck};

    fn leaf(shape: &[usize]) -> Tensor {
        Tensor::randn_with(shape, DType::F64).requires_grad_(true)
    }

    #[test]
    fn matches_matmul_plus_bias_at_awkward_sizes_and_layouts() {
        for &(m, k, n) in &[(1, 1, 1), (7, 5, 3), (63, 65, 67)] {
            let x = Tensor::randn_with(&[m, k], DType::F64);
            let w = Tensor::randn_with(&[n, k], DType::F64);
            let b = Tensor::randn_with(&[n], DType::F64);
            let y = linear(&x, &w, Some(&b)).to_vec::<f64>();
            let xv = x.to_vec::<f64>();
            let (wv, bv) = (w.to_vec::<f64>(), b.to_vec::<f64>());
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = bv[j] + (0..k).map(|p| xv[i * k + p] * wv[j * k + p]).sum::<f64>();
                    assert!((y[i * n + j] - want).abs() < 1e-10, "{m}x{k}x{n} at ({i}, {j})");
                }
            }
            // transposed operands (x as a view of [k, m], w as a view of [k, n]) give the same
            let xt = x.t().contiguous().t();
            let wt = w.t().contiguous().t();
            assert!(!xt.is_contiguous() || m == 1 || k == 1);
            for (a, b) in linear(&xt, &wt, Some(&b)).to_vec::<f64>().iter().zip(&y) {
                assert!((a - b).abs() < 1e-12);
            }
        }
        // f32, no bias, batch dimensions
        let x = Tensor::randn(&[2, 3, 4]);
        let w = Tensor::randn(&[5, 4]);
        let y = linear(&x, &w, None);
        assert_eq!(y.shape(), &[2, 3, 5]);
        let want = x.matmul(&w.t()).to_vec::<f32>();
        for (a, b) in y.to_vec::<f32>().iter().zip(&want) {
            assert!((a - b).abs() < 1e-5);
        }
        assert_eq!(linear(&Tensor::ones(&[4]), &w, None).shape(), &[5]);
    }

    #[test]
    fn gradients_check_with_batch_dims_views_and_create_graph() {
        let (x, w, b) = (leaf(&[2, 3, 4]), leaf(&[4, 5]), leaf(&[5]));
        // a permuted input (non-collapsible leading dims) and a transposed weight view
        let f = |xs: &[Tensor]| linear(&xs[0].permute(&[1, 0, 2]), &xs[1].t(), Some(&xs[2]));
        gradcheck(f, &[x.clone(), w.clone(), b.clone()]).unwrap();
        gradgradcheck(f, &[x.clone(), w.clone(), b.clone()]).unwrap();
        let g = |xs: &[Tensor]| linear(&xs[0], &xs[1].t(), None);
        gradcheck(g, &[x.clone(), w.clone()]).unwrap();
        gradgradcheck(g, &[x, w]).unwrap();
        // scalar bias and a 1-D input
        let h = |xs: &[Tensor]| linear(&xs[0], &xs[1], Some(&xs[2]));
        gradcheck(h, &[leaf(&[3]), leaf(&[2, 3]), leaf(&[])]).unwrap();
    }

    #[test]
    fn node_name_and_errors() {
        let (x, w, b) = (leaf(&[4, 3]), leaf(&[2, 3]), leaf(&[2]));
        assert_eq!(linear(&x, &w, Some(&b)).grad_fn().unwrap().name(), "AddmmBackward");
        assert_eq!(linear(&x, &w, None).grad_fn().unwrap().name(), "MmBackward");
        let e = try_linear(&x, &leaf(&[5, 2]), None).unwrap_err().to_string();
        assert!(e.starts_with("linear: mat1 and mat2 shapes cannot be multiplied (4x3 and 2x5)"), "{e}");
        let e = try_linear(&x, &w, Some(&leaf(&[3]))).unwrap_err().to_string();
        assert!(e.contains("expected a bias of shape [2] (out_features), got [3]"), "{e}");
        assert!(try_linear(&x, &leaf(&[3]), None).unwrap_err().to_string().contains("2-D weight"));
    }
}
