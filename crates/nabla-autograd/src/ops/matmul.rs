//! Matrix products: `matmul` with PyTorch's rules (1-D promotion, batch broadcasting).
//! `dA = dC·Bᵀ`, `dB = Aᵀ·dC`, summed over broadcast batch dimensions.

use crate::graph::{Backward, BackwardCtx, Grads, Saved};
use crate::ops::binary::promote;
use crate::ops::{or_panic, record};
use crate::tensor::Tensor;
use nabla_tensor::{Error, Result};
use smallvec::smallvec;

struct MatmulBackward {
    a: Saved,
    b: Saved,
}
impl Backward for MatmulBackward {
    fn name(&self) -> &'static str {
        "MmBackward"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let (a, b) = (self.a.get(ctx.name())?, self.b.get(ctx.name())?);
        // dA = dC · Bᵀ ; dB = Aᵀ · dC  (transposes are views: no copy)
        let ga = if ctx.needs_input_grad(0) {
            Some(g.try_matmul(&b.try_transpose(-2, -1)?)?.try_sum_to(a.shape())?)
        } else {
            None
        };
        let gb = if ctx.needs_input_grad(1) {
            Some(a.try_transpose(-2, -1)?.try_matmul(g)?.try_sum_to(b.shape())?)
        } else {
            None
        };
        Ok(smallvec![ga, gb])
    }
}

impl Tensor {
    /// Matrix product. 2-D × 2-D is the ordinary product; 1-D operands are treated as a
    /// row (left) or column (right) vector; leading dimensions are batch dimensions that
    /// broadcast. Runs on the `gemm` crate; transposed views are not copied.
    ///
    /// `d(A·B)/dA · G = G·Bᵀ`, `d(A·B)/dB · G = Aᵀ·G`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// let b = Tensor::ones(&[3, 1]);
    /// assert_eq!(a.matmul(&b).to_vec::<f32>(), vec![6.0, 15.0]);
    /// ```
    ///
    /// # Panics
    /// If the inner dimensions differ: "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)".
    #[track_caller]
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        or_panic(self.try_matmul(other))
    }

    /// [`Tensor::matmul`], returning shape errors.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let e = Tensor::zeros(&[2, 3]).try_matmul(&Tensor::zeros(&[4, 5])).unwrap_err();
    /// assert!(e.to_string().contains("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"));
    /// ```
    #[track_caller]
    pub fn try_matmul(&self, other: &Tensor) -> Result<Tensor> {
        if self.dims() == 0 || other.dims() == 0 {
            return Err(Error::shape(
                "matmul",
                format!(
                    "both arguments to matmul need to be at least 1D, but they are {}D and {}D",
                    self.dims(),
                    other.dims()
                ),
                "use * to multiply by a scalar",
            ));
        }
        let (a, b) = promote("matmul", self, other)?;
        if a.dims() == 1 {
            return a.try_unsqueeze(0)?.try_matmul(&b)?.try_squeeze(-2);
        }
        if b.dims() == 1 {
            return a.try_matmul(&b.try_unsqueeze(1)?)?.try_squeeze(-1);
        }
        let out = a.raw().matmul(b.raw())?;
        record(out, &[&a, &b], false, || MatmulBackward { a: Saved::new(&a), b: Saved::new(&b) })
    }

    /// Same as [`Tensor::matmul`] for 2-D operands (PyTorch's `mm`).
    #[track_caller]
    pub fn mm(&self, other: &Tensor) -> Tensor {
        assert!(
            self.dims() == 2 && other.dims() == 2,
            "mm: expected 2-D tensors, got {:?} and {:?}; hint: use matmul for batched or 1-D operands",
            self.shape(),
            other.shape()
        );
        self.matmul(other)
    }
}
