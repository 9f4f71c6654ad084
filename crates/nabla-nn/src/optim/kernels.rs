//! The driver of the fused optimizer updates: one pass over a parameter's storage, its
//! gradient and its state buffers, with no allocation (for contiguous parameters with
//! gradients of the same dtype, which is every parameter a layer makes).

use nabla_autograd::{DType, Tensor};
use nabla_tensor::{Buffer, Float};

/// A per-element update of one parameter from its gradient (and the optimizer state the
/// implementor borrows): `p` and `g` have the same length.
pub(crate) trait Update {
    fn apply<T: Float>(&mut self, p: &mut [T], g: &[T]);
}

/// Runs `u` on `param`'s elements and `grad`'s, in place on `param`'s storage (bumping
/// its version counter, as PyTorch's in-place updates do).
pub(crate) fn update_param<U: Update>(param: &Tensor, grad: &Tensor, u: &mut U) {
    match param.dtype() {
        DType::F32 => update_t::<f32, U>(param, grad, u),
        DType::F64 => update_t::<f64, U>(param, grad, u),
        d => unreachable!("optimizers only hold float parameters (checked at construction), got {d}"),
    }
}

fn update_t<T: Float, U: Update>(param: &Tensor, grad: &Tensor, u: &mut U) {
    let g = grad.raw();
    assert_eq!(
        g.shape(),
        param.shape(),
        "optimizer step: the gradient's shape {:?} differs from the parameter's {:?}",
        g.shape(),
        param.shape()
    );
    // Rare cases get a contiguous private copy of the gradient.
    let copied;
    let g = if g.dtype() != T::DTYPE || !g.is_contiguous() || g.same_storage(param.raw()) {
        copied = g.to_dtype(T::DTYPE).copy();
        &copied
    } else {
        g
    };
    g.with_slice::<T, _>(|gs, gl| {
        let gs = &gs[gl.contiguous_range().expect("contiguous gradient")];
        param.raw().with_slice_mut::<T, _>(|ps, pl| match pl.contiguous_range() {
            Some(r) => u.apply(&mut ps[r], gs),
            None => {
                // A strided parameter (a view made by the user): gather, update, scatter.
                let idx: Vec<usize> = pl.indices().collect();
                let mut vals: Vec<T> = idx.iter().map(|&i| ps[i]).collect();
                u.apply(&mut vals, gs);
                for (&i, v) in idx.iter().zip(vals) {
                    ps[i] = v;
                }
            }
        })
    });
}

/// A zero-filled state buffer like `param` (same dtype and number of elements).
pub(crate) fn zeros_like(param: &Tensor) -> Buffer {
    filled_like(param, 0.0)
}

/// A state buffer like `param` filled with `value`.
pub(crate) fn filled_like(param: &Tensor, value: f64) -> Buffer {
    let n = param.numel();
    match param.dtype() {
        DType::F64 => Buffer::F64(vec![value; n]),
        _ => Buffer::F32(vec![value as f32; n]),
    }
}

/// The elements of a state buffer made by [`zeros_like`] for a parameter of type `T`.
pub(crate) fn slice<T: Float>(b: &mut Buffer) -> &mut [T] {
    T::slice_mut(b).expect("optimizer state has its parameter's dtype")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct AddGrad;
    impl Update for AddGrad {
        fn apply<T: Float>(&mut self, p: &mut [T], g: &[T]) {
            p.iter_mut().zip(g).for_each(|(p, &g)| *p += g);
        }
    }

    #[test]
    fn strided_parameters_and_gradients_update_the_right_elements() {
        let base = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let p = base.t(); // [3, 2] view with strides [1, 3]
        let g = Tensor::from_vec(vec![10.0f32, 20.0, 30.0, 40.0, 50.0, 60.0], &[3, 2]);
        update_param(&p, &g, &mut AddGrad);
        assert_eq!(p.to_vec::<f64>(), vec![11.0, 24.0, 32.0, 45.0, 53.0, 66.0]);
        assert_eq!(base.version(), 1);

        let q = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
        let g = Tensor::from_vec(vec![1.0f32], &[1]).expand(&[2]);
        update_param(&q, &g, &mut AddGrad);
        assert_eq!(q.to_vec::<f32>(), vec![2.0, 3.0]);
    }

    #[test]
    fn gradient_sharing_the_parameters_storage_is_read_before_the_write() {
        let p = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
        update_param(&p, &p.clone(), &mut AddGrad);
        assert_eq!(p.to_vec::<f32>(), vec![2.0, 4.0]);
    }
}
