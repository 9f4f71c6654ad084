//! Pooling: [`max_pool2d`], [`avg_pool2d`] and [`adaptive_avg_pool2d`].
//!
//! For a fixed input, each pooling is a linear map `M` of it (max pooling: picking the
//! elements its forward pass found to be the maxima), so its backward is `Mᵀ ḡ` and the
//! backward of that is `M` again. One rule, `PoolBackward`, holds the map and which way
//! it was applied; that is the whole chain rule, to any order (`create_graph`).
//!
//! Inputs are `[N, C, H, W]` or unbatched `[C, H, W]`; windows run over the last two
//! dimensions of every plane.

use crate::graph::{Backward, BackwardCtx, Grads};
use crate::ops::{or_panic, record};
use crate::tensor::Tensor;
use nabla_tensor::conv::PoolGeom;
use nabla_tensor::{Error, RawTensor, Result, Shape};
use smallvec::smallvec;
use std::sync::Arc;

/// A pooling, as a linear map from the input's shape to the output's.
enum Pool {
    /// Picks the elements at the forward pass's argmax indices.
    Max { geom: PoolGeom, indices: RawTensor },
    /// Window means with PyTorch's `count_include_pad`.
    Avg { geom: PoolGeom },
    /// Means over PyTorch's adaptive bins.
    AdaptiveAvg { in_size: [usize; 2], out_size: [usize; 2] },
}

impl Pool {
    /// `M t` (`transposed` false: input shape to output shape) or `Mᵀ t`.
    fn apply_raw(&self, t: &RawTensor, transposed: bool, in_shape: &[usize]) -> Result<RawTensor> {
        match (self, transposed) {
            (Pool::Max { geom, indices }, false) => t.gather_by_index(geom, indices),
            (Pool::Max { geom, indices }, true) => t.max_pool2d_backward(geom, indices, in_shape),
            (Pool::Avg { geom }, false) => t.avg_pool2d(geom),
            (Pool::Avg { geom }, true) => t.avg_pool2d_backward(geom),
            (Pool::AdaptiveAvg { out_size, .. }, false) => t.adaptive_avg_pool2d(*out_size),
            (Pool::AdaptiveAvg { in_size, .. }, true) => t.adaptive_avg_pool2d_backward(*in_size),
        }
    }
}

/// The backward of `M` (applies `Mᵀ`) or of `Mᵀ` (applies `M`).
struct PoolBackward {
    pool: Arc<Pool>,
    transposed: bool,
    /// The shape of the pooling's input (the space `Mᵀ` maps to).
    in_shape: Shape,
}

impl Backward for PoolBackward {
    fn name(&self) -> &'static str {
        match (&*self.pool, self.transposed) {
            (Pool::Max { .. }, false) => "MaxPool2DWithIndicesBackward",
            (Pool::Max { .. }, true) => "MaxPool2DWithIndicesBackwardBackward",
            (Pool::Avg { .. }, false) => "AvgPool2DBackward",
            (Pool::Avg { .. }, true) => "AvgPool2DBackwardBackward",
            (Pool::AdaptiveAvg { .. }, false) => "AdaptiveAvgPool2DBackward",
            (Pool::AdaptiveAvg { .. }, true) => "AdaptiveAvgPool2DBackwardBackward",
        }
    }

    fn backward(&self, _ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        Ok(smallvec![Some(apply(&self.pool, g, !self.transposed, &self.in_shape)?)])
    }

    fn has_saved(&self) -> bool {
        // only the indices, which are ours and never modified: the rule can run again
        false
    }
}

#[track_caller]
fn apply(pool: &Arc<Pool>, t: &Tensor, transposed: bool, in_shape: &[usize]) -> Result<Tensor> {
    let out = pool.apply_raw(t.raw(), transposed, in_shape)?;
    record(out, &[t], false, || PoolBackward { pool: pool.clone(), transposed, in_shape: in_shape.into() })
}

/// Checks a pooling input (float, 3-D or 4-D) and returns its plane count and size.
fn check_input(op: &'static str, x: &Tensor) -> Result<(usize, [usize; 2])> {
    if !x.dtype().is_float() {
        return Err(Error::DType {
            op,
            msg: format!(
                "expected a floating-point input, got {}; hint: convert it with to_dtype(DType::F32)",
                x.dtype()
            ),
        });
    }
    let s = x.shape();
    if s.len() != 3 && s.len() != 4 {
        return Err(Error::shape(
            op,
            format!("expected a 3-D (unbatched [C, H, W]) or 4-D (batched [N, C, H, W]) input, got shape {s:?}"),
            if s.len() < 3 {
                "add the missing dimensions with unsqueeze(0)"
            } else {
                "merge extra leading dimensions into the batch with reshape"
            },
        ));
    }
    let n = s.len();
    Ok((s[..n - 2].iter().product(), [s[n - 2], s[n - 1]]))
}

/// Checks window parameters against an input and returns the geometry.
fn pool_geom(
    op: &'static str,
    x: &Tensor,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Result<PoolGeom> {
    let (planes, in_size) = check_input(op, x)?;
    if kernel.contains(&0) {
        return Err(Error::invalid_argument(
            op,
            format!(
                "kernel size should be greater than zero, but got kernel {kernel:?} (input {:?}); hint: a 2×2 \
                 window is kernel [2, 2]",
                x.shape()
            ),
        ));
    }
    if stride.contains(&0) {
        return Err(Error::invalid_argument(
            op,
            format!(
                "stride should be greater than zero, but got stride {stride:?} (input {:?}, kernel {kernel:?}); hint: \
                 PyTorch's default stride is the kernel size, pass stride = {kernel:?}",
                x.shape()
            ),
        ));
    }
    if (0..2).any(|d| padding[d] > kernel[d] / 2) {
        return Err(Error::invalid_argument(
            op,
            format!(
                "pad should be at most half of effective kernel size, but got padding {padding:?} for kernel {kernel:?} \
                 (input {:?}); hint: use padding = kernel / 2 or less",
                x.shape()
            ),
        ));
    }
    PoolGeom::new(planes, in_size, kernel, stride, padding).ok_or_else(|| {
        Error::shape(
            op,
            format!(
                "Output size is too small: input {:?} with kernel {kernel:?}, stride {stride:?} and padding {padding:?} \
                 has no complete window",
                x.shape()
            ),
            "use a smaller kernel or a larger input, or add padding",
        )
    })
}

/// 2-D max pooling over `kernel` windows (`stride` apart, `padding` on each side acting as
/// −∞) of `x` (`[N, C, H, W]` or `[C, H, W]`): `y[.., i, j] = max_{window(i, j)} x`.
/// NaN propagates. The output size is `(H + 2·pad - k) / s + 1` (floor).
///
/// Derivative: `∂y/∂x` is 1 at the window's first maximum and 0 elsewhere; the backward
/// adds each output gradient at the saved `i64` argmax index (overlapping windows sum).
///
/// ```
/// use nabla_autograd::{ops::pool::max_pool2d, Tensor};
/// let x = Tensor::from_vec(vec![1.0f32, 5.0, 2.0, 0.0, 3.0, 4.0, 8.0, 1.0], &[1, 1, 2, 4]).requires_grad_(true);
/// let y = max_pool2d(&x, [2, 2], [2, 2], [0, 0]);
/// assert_eq!(y.to_vec::<f32>(), vec![5.0, 8.0]);
/// y.sum().backward();
/// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
/// ```
///
/// # Panics
/// With the message of [`try_max_pool2d`]'s error.
#[track_caller]
pub fn max_pool2d(x: &Tensor, kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Tensor {
    or_panic(try_max_pool2d(x, kernel, stride, padding))
}

/// [`max_pool2d`], returning an error for a non-float input, a rank other than 3 or 4, a
/// zero kernel or stride, padding above half the kernel, or no complete window.
///
/// ```
/// use nabla_autograd::{ops::pool::try_max_pool2d, Tensor};
/// let e = try_max_pool2d(&Tensor::zeros(&[1, 1, 4, 4]), [2, 2], [0, 0], [0, 0]).unwrap_err();
/// assert!(e.to_string().contains("stride should be greater than zero"));
/// ```
#[track_caller]
pub fn try_max_pool2d(x: &Tensor, kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Result<Tensor> {
    let geom = pool_geom("max_pool2d", x, kernel, stride, padding)?;
    let (out, indices) = x.raw().max_pool2d(&geom)?;
    let pool = Arc::new(Pool::Max { geom, indices });
    record(out, &[x], false, || PoolBackward { pool, transposed: false, in_shape: Shape::from_slice(x.shape()) })
}

/// 2-D average pooling over `kernel` windows `stride` apart, with `padding` zeros on each
/// side counted in the mean (PyTorch's default `count_include_pad = true`, floor mode):
/// `y[.., i, j] = Σ_{window(i, j)} x / (kH·kW)`.
///
/// Derivative: `∂y/∂x = 1/(kH·kW)` for every input in the window; the backward spreads each
/// output gradient evenly over its window.
///
/// ```
/// use nabla_autograd::{ops::pool::avg_pool2d, Tensor};
/// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[1, 2, 2]).requires_grad_(true);
/// let y = avg_pool2d(&x, [2, 2], [2, 2], [0, 0]);
/// assert_eq!(y.to_vec::<f32>(), vec![2.5]);
/// y.sum().backward();
/// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![0.25; 4]);
/// ```
///
/// # Panics
/// With the message of [`try_avg_pool2d`]'s error.
#[track_caller]
pub fn avg_pool2d(x: &Tensor, kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Tensor {
    or_panic(try_avg_pool2d(x, kernel, stride, padding))
}

/// [`avg_pool2d`], returning the errors of [`try_max_pool2d`].
///
/// ```
/// use nabla_autograd::{ops::pool::try_avg_pool2d, Tensor};
/// let e = try_avg_pool2d(&Tensor::zeros(&[1, 1, 4, 4]), [2, 2], [2, 2], [2, 2]).unwrap_err();
/// assert!(e.to_string().contains("pad should be at most half of effective kernel size"));
/// ```
#[track_caller]
pub fn try_avg_pool2d(x: &Tensor, kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Result<Tensor> {
    let geom = pool_geom("avg_pool2d", x, kernel, stride, padding)?;
    apply(&Arc::new(Pool::Avg { geom }), x, false, x.shape())
}

/// Adaptive 2-D average pooling to `output_size`: output `(i, j)` is the mean of input rows
/// `floor(i·H/OH) .. ceil((i+1)·H/OH)` and the matching columns (PyTorch's bins, which
/// overlap when `H` is not a multiple of `OH`). `[1, 1]` is global average pooling.
///
/// Derivative: `∂y/∂x = 1/|bin|` for every input in the bin; the backward spreads each
/// output gradient evenly over its bin.
///
/// ```
/// use nabla_autograd::{ops::pool::adaptive_avg_pool2d, Tensor};
/// let x = Tensor::arange(0.0f32, 16.0, 1.0).reshape(&[1, 1, 4, 4]);
/// let y = adaptive_avg_pool2d(&x, [1, 1]);
/// assert_eq!(y.to_vec::<f32>(), vec![7.5]);
/// ```
///
/// # Panics
/// With the message of [`try_adaptive_avg_pool2d`]'s error.
#[track_caller]
pub fn adaptive_avg_pool2d(x: &Tensor, output_size: [usize; 2]) -> Tensor {
    or_panic(try_adaptive_avg_pool2d(x, output_size))
}

/// [`adaptive_avg_pool2d`], returning an error for a non-float input, a rank other than 3
/// or 4, or an empty plane.
///
/// ```
/// use nabla_autograd::{ops::pool::try_adaptive_avg_pool2d, Tensor};
/// let e = try_adaptive_avg_pool2d(&Tensor::zeros(&[4, 4]), [2, 2]).unwrap_err();
/// assert!(e.to_string().contains("expected a 3-D (unbatched [C, H, W]) or 4-D"));
/// ```
#[track_caller]
pub fn try_adaptive_avg_pool2d(x: &Tensor, output_size: [usize; 2]) -> Result<Tensor> {
    let op = "adaptive_avg_pool2d";
    let (_, in_size) = check_input(op, x)?;
    if in_size.contains(&0) {
        return Err(Error::shape(
            op,
            format!("expected a non-empty input plane, got input {:?}", x.shape()),
            "the last two dimensions must be at least 1",
        ));
    }
    apply(&Arc::new(Pool::AdaptiveAvg { in_size, out_size: output_size }), x, false, x.shape())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, gradgradcheck};
    use nabla_tensor::DType;

    /// Distinct values (no ties between maxima, which finite differences cannot handle).
    fn distinct(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let perm = Tensor::randn_with(&[n], DType::F64).to_vec::<f64>();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| perm[a].total_cmp(&perm[b]));
        let mut v = vec![0.0; n];
        for (rank, &i) in order.iter().enumerate() {
            v[i] = rank as f64 * 0.1 - n as f64 * 0.05;
        }
        Tensor::from_vec(v, shape).requires_grad_(true)
    }

    #[test]
    fn max_pool2d_gradcheck() {
        let x = distinct(&[2, 3, 6, 5]);
        gradcheck(|t| max_pool2d(&t[0], [2, 2], [2, 2], [0, 0]), std::slice::from_ref(&x)).unwrap();
        gradcheck(|t| max_pool2d(&t[0], [3, 3], [2, 1], [1, 1]), std::slice::from_ref(&x)).unwrap();
        gradcheck(|t| max_pool2d(&t[0], [3, 2], [1, 1], [1, 0]), &[distinct(&[3, 4, 4])]).unwrap();
    }

    #[test]
    fn max_pool2d_gradcheck_non_contiguous_input() {
        let base = distinct(&[2, 5, 6, 3]);
        assert!(!base.permute(&[0, 3, 1, 2]).is_contiguous());
        gradcheck(|t| max_pool2d(&t[0].permute(&[0, 3, 1, 2]), [2, 2], [1, 2], [1, 0]), &[base]).unwrap();
    }

    #[test]
    fn max_pool2d_routes_the_gradient_to_the_argmax() {
        // overlapping windows: the centre element is the max of all four windows
        let x =
            Tensor::from_vec(vec![0.0f64, 1.0, 0.0, 1.0, 9.0, 1.0, 0.0, 1.0, 0.0], &[1, 1, 3, 3]).requires_grad_(true);
        let y = max_pool2d(&x, [2, 2], [1, 1], [0, 0]);
        assert_eq!(y.to_vec::<f64>(), vec![9.0; 4]);
        assert_eq!(y.grad_fn().unwrap().name(), "MaxPool2DWithIndicesBackward");
        y.sum().backward();
        assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![0.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn avg_pool2d_gradcheck() {
        let x = Tensor::randn_with(&[2, 3, 7, 6], DType::F64).requires_grad_(true);
        gradcheck(|t| avg_pool2d(&t[0], [2, 2], [2, 2], [0, 0]), std::slice::from_ref(&x)).unwrap();
        gradcheck(|t| avg_pool2d(&t[0], [3, 2], [2, 1], [1, 1]), std::slice::from_ref(&x)).unwrap();
        let base = Tensor::randn_with(&[2, 6, 7, 3], DType::F64).requires_grad_(true);
        gradcheck(|t| avg_pool2d(&t[0].permute(&[0, 3, 1, 2]), [3, 3], [2, 2], [1, 1]), &[base]).unwrap();
    }

    #[test]
    fn avg_pool2d_counts_padding_in_the_divisor() {
        let x = Tensor::ones_with(&[1, 2, 2], DType::F64);
        let y = avg_pool2d(&x, [3, 3], [1, 1], [1, 1]);
        assert_eq!(y.to_vec::<f64>(), vec![4.0 / 9.0; 4]);
    }

    #[test]
    fn adaptive_avg_pool2d_gradcheck() {
        let x = Tensor::randn_with(&[2, 2, 7, 5], DType::F64).requires_grad_(true);
        gradcheck(|t| adaptive_avg_pool2d(&t[0], [3, 2]), std::slice::from_ref(&x)).unwrap();
        gradcheck(|t| adaptive_avg_pool2d(&t[0], [1, 1]), std::slice::from_ref(&x)).unwrap();
        gradcheck(|t| adaptive_avg_pool2d(&t[0], [9, 6]), std::slice::from_ref(&x)).unwrap(); // upsampling bins
        let base = Tensor::randn_with(&[5, 3, 4], DType::F64).requires_grad_(true);
        gradcheck(|t| adaptive_avg_pool2d(&t[0].transpose(0, 2), [2, 2]), &[base]).unwrap();
    }

    #[test]
    fn pool_second_derivatives() {
        let x = distinct(&[1, 2, 4, 4]);
        gradgradcheck(|t| max_pool2d(&t[0], [2, 2], [1, 1], [0, 0]).pow(2.0), &[x]).unwrap();
        let x = Tensor::randn_with(&[1, 2, 5, 5], DType::F64).requires_grad_(true);
        gradgradcheck(|t| avg_pool2d(&t[0], [3, 3], [2, 2], [1, 1]).pow(2.0), std::slice::from_ref(&x)).unwrap();
        gradgradcheck(|t| adaptive_avg_pool2d(&t[0], [2, 3]).pow(2.0), &[x]).unwrap();
    }

    #[test]
    fn pool_errors() {
        let e = |r: Result<Tensor>| r.unwrap_err().to_string();
        let x = Tensor::zeros(&[1, 1, 4, 4]);
        assert!(e(try_max_pool2d(&x, [2, 2], [0, 1], [0, 0])).starts_with(
            "max_pool2d: stride should be greater than zero, but got stride [0, 1] (input [1, 1, 4, 4], kernel [2, 2])"
        ));
        assert!(e(try_max_pool2d(&x, [0, 2], [1, 1], [0, 0])).contains("kernel size should be greater than zero"));
        assert!(e(try_avg_pool2d(&x, [5, 5], [1, 1], [0, 0])).contains("Output size is too small: input [1, 1, 4, 4]"));
        let m = e(try_max_pool2d(&Tensor::zeros(&[16]), [2, 2], [2, 2], [0, 0]));
        assert!(m.contains("got shape [16]; hint: add the missing dimensions"), "{m}");
        let m = e(try_max_pool2d(
            &Tensor::zeros(&[2, 3]).to_dtype(DType::I64).reshape(&[1, 1, 2, 3]),
            [2, 2],
            [2, 2],
            [0, 0],
        ));
        assert!(m.contains("expected a floating-point input, got int64"), "{m}");
        let m = e(try_adaptive_avg_pool2d(&Tensor::zeros(&[1, 0, 3]), [1, 1]));
        assert!(m.contains("non-empty input plane"), "{m}");
    }
}
