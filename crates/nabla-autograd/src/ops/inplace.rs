//! In-place operations (`add_`, `sub_`, `mul_`, `div_`, `zero_`, `fill_`, `copy_`): they
//! write into the tensor's storage and bump its version counter, so that a backward that
//! needs the old value fails loudly instead of computing a wrong gradient.
//!
//! Rules (PyTorch's): in-place on a leaf that requires grad is an error while grad mode is
//! on (optimizers run under `no_grad`); on a non-leaf it is recorded, the tensor's
//! `grad_fn` becoming the in-place op's node.

use crate::grad_mode::is_grad_enabled;
use crate::ops::binary::{AddKernel, DivKernel, MulKernel, SubKernel};
use crate::ops::or_panic;
use crate::tensor::{Meta, Tensor};
use nabla_tensor::elementwise::BinaryKernel;
use nabla_tensor::{Error, RawTensor, Result};

impl Tensor {
    fn check_inplace(&self, op: &'static str, records: bool) -> Result<()> {
        let m = self.meta();
        if records && m.grad_fn.is_none() && m.requires_grad {
            return Err(Error::Autograd {
                msg: format!(
                    "{op}: a leaf Variable that requires grad is being used in an in-place operation. \
                     Hint: update parameters inside no_grad(|| ...), or clone() the tensor first."
                ),
            });
        }
        if records && m.is_view && m.requires_grad {
            return Err(Error::Autograd {
                msg: format!(
                    "{op}: in-place modification of a view of a tensor that requires grad is not supported; \
                     hint: use the out-of-place op, or call contiguous()/clone_tensor() first"
                ),
            });
        }
        Ok(())
    }

    /// Runs `out_of_place(old, other)` for the graph and writes its result into `self`.
    #[track_caller]
    fn inplace_binary(
        &self,
        op: &'static str,
        other: &Tensor,
        k: &impl BinaryKernel,
        out_of_place: impl FnOnce(&Tensor, &Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let records = is_grad_enabled() && (self.requires_grad() || other.requires_grad());
        self.check_inplace(op, records)?;
        if !self.dtype().is_float() {
            return Err(Error::DType {
                op,
                msg: format!("in-place arithmetic needs a floating-point tensor, got {}", self.dtype()),
            });
        }
        if !records {
            self.raw().zip_assign(op, other.raw(), k)?;
            return Ok(self.clone());
        }
        // The old value, as a tensor of its own carrying the old history.
        let old = {
            let m = self.meta();
            Tensor::new_impl(
                self.raw().copy(),
                Meta { requires_grad: m.requires_grad, grad_fn: m.grad_fn.clone(), ..Default::default() },
            )
        };
        let result = out_of_place(&old, other)?;
        if result.shape() != self.shape() {
            return Err(Error::shape(
                op,
                format!("output with shape {:?} doesn't match the broadcast shape {:?}", self.shape(), result.shape()),
                "an in-place op cannot change the shape of its tensor",
            ));
        }
        self.raw().copy_from(&result.raw().to_dtype(self.dtype()));
        // `result` is this function's alone: its node moves to `self`
        let node = {
            let mut rm = result.meta();
            result.0.flow.store(std::ptr::null_mut(), std::sync::atomic::Ordering::Release);
            rm.grad_fn.take()
        };
        let mut m = self.meta();
        self.0.replace_grad_fn(&mut m, node);
        m.requires_grad = true;
        Ok(self.clone())
    }

    /// In place: `self += other` (broadcast to `self`'s shape).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let a = Tensor::ones(&[2]);
    /// a.add_(&Tensor::full(&[2], 2.0));
    /// assert_eq!(a.to_vec::<f32>(), vec![3.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn add_(&self, other: &Tensor) -> Tensor {
        or_panic(self.try_add_(other))
    }

    /// [`Tensor::add_`], returning errors.
    #[track_caller]
    pub fn try_add_(&self, other: &Tensor) -> Result<Tensor> {
        self.inplace_binary("add_", other, &AddKernel, |a, b| a.try_add(b))
    }

    /// In place: `self -= other`.
    #[track_caller]
    pub fn sub_(&self, other: &Tensor) -> Tensor {
        or_panic(self.inplace_binary("sub_", other, &SubKernel, |a, b| a.try_sub(b)))
    }

    /// In place: `self *= other`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let a = Tensor::full(&[2], 3.0);
    /// a.mul_(&Tensor::full(&[2], 2.0));
    /// assert_eq!(a.to_vec::<f32>(), vec![6.0, 6.0]);
    /// ```
    #[track_caller]
    pub fn mul_(&self, other: &Tensor) -> Tensor {
        or_panic(self.try_mul_(other))
    }

    /// [`Tensor::mul_`], returning errors.
    #[track_caller]
    pub fn try_mul_(&self, other: &Tensor) -> Result<Tensor> {
        self.inplace_binary("mul_", other, &MulKernel, |a, b| a.try_mul(b))
    }

    /// In place: `self /= other`.
    #[track_caller]
    pub fn div_(&self, other: &Tensor) -> Tensor {
        or_panic(self.inplace_binary("div_", other, &DivKernel, |a, b| a.try_div(b)))
    }

    /// In place: `self += alpha · other` (the optimizer update, one pass).
    ///
    /// ```
    /// use nabla_autograd::{no_grad, Tensor};
    /// let w = Tensor::ones(&[2]).requires_grad_(true);
    /// no_grad(|| w.add_scaled_(&Tensor::ones(&[2]), -0.5));
    /// assert_eq!(w.to_vec::<f32>(), vec![0.5, 0.5]);
    /// ```
    #[track_caller]
    pub fn add_scaled_(&self, other: &Tensor, alpha: f64) -> Tensor {
        struct Axpy(f64);
        impl BinaryKernel for Axpy {
            fn f<T: nabla_tensor::Float>(&self, a: T, b: T) -> T {
                a + T::cast(self.0) * b
            }
        }
        let records = is_grad_enabled() && (self.requires_grad() || other.requires_grad());
        if records {
            return self.add_(&(other * alpha));
        }
        or_panic(self.raw().zip_assign("add_", other.raw(), &Axpy(alpha)));
        self.clone()
    }

    /// In place: every element becomes 0.
    ///
    /// ```
    /// let a = nabla_autograd::Tensor::ones(&[2]);
    /// a.zero_();
    /// assert_eq!(a.to_vec::<f32>(), vec![0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn zero_(&self) -> Tensor {
        self.fill_(0.0)
    }

    /// In place: every element becomes `value`.
    ///
    /// ```
    /// let a = nabla_autograd::Tensor::zeros(&[2]);
    /// a.fill_(1.5);
    /// assert_eq!(a.to_vec::<f32>(), vec![1.5, 1.5]);
    /// ```
    #[track_caller]
    pub fn fill_(&self, value: f64) -> Tensor {
        or_panic(self.try_fill_(value))
    }

    /// [`Tensor::fill_`], returning errors.
    #[track_caller]
    pub fn try_fill_(&self, value: f64) -> Result<Tensor> {
        let records = is_grad_enabled() && self.requires_grad();
        self.check_inplace("fill_", records)?;
        self.raw().fill_(value);
        if records {
            // the new value does not depend on the old one: cut the history
            let mut m = self.meta();
            self.0.replace_grad_fn(&mut m, None);
            m.requires_grad = false;
        }
        Ok(self.clone())
    }

    /// In place: copies `src`'s values (broadcast to `self`'s shape, converted to its dtype).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let a = Tensor::zeros(&[2, 2]);
    /// a.copy_(&Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// assert_eq!(a.to_vec::<f32>(), vec![1.0, 2.0, 1.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn copy_(&self, src: &Tensor) -> Tensor {
        or_panic(self.try_copy_(src))
    }

    /// [`Tensor::copy_`], returning errors.
    #[track_caller]
    pub fn try_copy_(&self, src: &Tensor) -> Result<Tensor> {
        let records = is_grad_enabled() && (self.requires_grad() || src.requires_grad());
        self.check_inplace("copy_", records)?;
        let l = src.raw().layout().broadcast_to("copy_", self.shape())?;
        let s = src.raw().with_layout(l);
        if records {
            let shape = self.shape().to_vec();
            return self
                .inplace_binary("copy_", src, &AddKernel, move |_, b| b.try_expand(&shape)?.try_mul_scalar(1.0));
        }
        self.raw().copy_from(&RawTensor::to_dtype(&s, self.dtype()));
        Ok(self.clone())
    }
}
