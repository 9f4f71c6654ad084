//! Matrix products: `matmul` with PyTorch's rules (1-D promotion, batch broadcasting).
//! `dA = dC·Bᵀ`, `dB = Aᵀ·dC`, summed over broadcast batch dimensions.

use crate::graph::{Backward, BackwardCtx, Grads, Saved};
use crate::ops::binary::promote;
use crate::ops::reduce::sum_to_owned;
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
            Some(sum_to_owned(g.try_matmul(&b.try_transpose(-2, -1)?)?, a.shape())?)
        } else {
            None
        };
        let gb = if ctx.needs_input_grad(1) {
            Some(sum_to_owned(a.try_transpose(-2, -1)?.try_matmul(g)?, b.shape())?)
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
        if a.dims() == 1 && b.dims() == 1 {
            return a.try_unsqueeze(0)?.try_matmul(&b.try_unsqueeze(1)?)?.try_reshape(&[0usize; 0]);
        }
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

#[cfg(test)]
mod tests {
    use crate::autograd::{gradcheck, gradgradcheck};
    use crate::{DType, Tensor};

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matmul_matches_naive_loops_at_awkward_sizes_and_layouts() {
        crate::manual_seed(10);
        for dtype in [DType::F32, DType::F64] {
            let (m, k, n) = (63, 65, 67);
            let a = Tensor::uniform(&[m, k], -1.0, 1.0, dtype);
            let b = Tensor::uniform(&[k, n], -1.0, 1.0, dtype);
            let want = naive(&a.to_vec::<f64>(), &b.to_vec::<f64>(), m, k, n);
            let tol = if dtype == DType::F32 { 1e-4 } else { 1e-12 };
            let check = |c: &Tensor| {
                for (x, y) in c.to_vec::<f64>().iter().zip(&want) {
                    assert!((x - y).abs() < tol, "{x} vs {y}");
                }
            };
            check(&a.matmul(&b));
            // transposed operands (views, not copies)
            let at = a.t().contiguous().t();
            let bt = b.t().contiguous().t();
            assert!(!at.is_contiguous() && !bt.is_contiguous());
            check(&at.matmul(&bt));
            // a narrowed (strided rows) operand
            let wide = Tensor::cat(&[a.clone(), Tensor::zeros_with(&[m, 5], dtype)], 1);
            check(&wide.narrow(1, 0, k).matmul(&b));
        }
    }

    #[test]
    fn gradcheck_matmul_shapes() {
        crate::manual_seed(11);
        let u = |s: &[usize]| Tensor::uniform(s, -1.0, 1.0, DType::F64).requires_grad_(true);
        let cases: Vec<(Vec<usize>, Vec<usize>)> = vec![
            (vec![3, 4], vec![4, 2]),
            (vec![4], vec![4, 2]),
            (vec![3, 4], vec![4]),
            (vec![4], vec![4]),
            (vec![2, 3, 4], vec![4, 5]),
            (vec![2, 1, 3, 4], vec![3, 4, 2]),
        ];
        for (sa, sb) in cases {
            let (a, b) = (u(&sa), u(&sb));
            gradcheck(|xs| xs[0].matmul(&xs[1]), &[a.clone(), b.clone()])
                .unwrap_or_else(|e| panic!("{sa:?}x{sb:?}: {e}"));
            gradgradcheck(|xs| xs[0].matmul(&xs[1]), &[a, b]).unwrap_or_else(|e| panic!("{sa:?}x{sb:?} 2nd: {e}"));
        }
        let a = u(&[4, 3]);
        let b = u(&[2, 4]);
        gradcheck(|xs| xs[0].t().matmul(&xs[1].t()), &[a, b]).unwrap();
    }

    #[test]
    fn matmul_shape_error_is_pytorchs() {
        let e = Tensor::zeros(&[2, 3]).try_matmul(&Tensor::zeros(&[4, 5])).unwrap_err().to_string();
        assert!(e.starts_with("matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"), "{e}");
    }
}
