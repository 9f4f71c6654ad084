//! [`Linear`]: `y = x Wᵀ + b`.

use crate::display::{display_as_module, py_bool};
use crate::init::{reset_bias_like, reset_linear_like};
use crate::module::Module;
use nabla_autograd::{functional as F, DType, Tensor};

/// A fully connected layer, `y = x Wᵀ + b`, as PyTorch's `nn.Linear`: the weight is
/// `[out_features, in_features]`, the bias `[out_features]`; the input is `[*, in_features]`.
///
/// Initialized as PyTorch does: `W ~ U(±1/√in_features)` (Kaiming uniform with
/// `a = √5`) and `b ~ U(±1/√in_features)`, from the seeded global generator.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Linear, Module};
/// let fc = Linear::new(3, 2);
/// let y = fc.forward(&Tensor::ones(&[4, 3]));
/// assert_eq!(y.shape(), &[4, 2]);
/// assert_eq!(fc.weight.shape(), &[2, 3]);
/// assert_eq!(fc.to_string(), "Linear(in_features=3, out_features=2, bias=True)");
/// let no_bias = Linear::new(3, 2).bias(false);
/// assert_eq!(no_bias.parameters().len(), 1);
/// ```
pub struct Linear {
    /// `[out_features, in_features]`.
    pub weight: Tensor,
    /// `[out_features]`, if the layer has a bias.
    pub bias: Option<Tensor>,
    /// Size of each input sample.
    pub in_features: usize,
    /// Size of each output sample.
    pub out_features: usize,
}

impl Linear {
    /// A float32 layer from `in_features` to `out_features`, with a bias.
    pub fn new(in_features: usize, out_features: usize) -> Linear {
        Linear::new_with(in_features, out_features, DType::F32)
    }

    /// A layer whose parameters have the given dtype (`DType::F64` for gradient checks).
    pub fn new_with(in_features: usize, out_features: usize, dtype: DType) -> Linear {
        let weight = Tensor::zeros_with(&[out_features, in_features], dtype).requires_grad_(true);
        let bias = Tensor::zeros_with(&[out_features], dtype).requires_grad_(true);
        reset_linear_like(&weight, Some(&bias));
        Linear { weight, bias: Some(bias), in_features, out_features }
    }

    /// With (`true`, the default) or without a bias.
    pub fn bias(mut self, bias: bool) -> Linear {
        if !bias {
            self.bias = None;
        } else if self.bias.is_none() {
            let b = Tensor::zeros_with(&[self.out_features], self.weight.dtype()).requires_grad_(true);
            reset_bias_like(&self.weight, &b);
            self.bias = Some(b);
        }
        self
    }
}

impl Module for Linear {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        F::linear(x, &self.weight, self.bias.as_ref())
    }

    fn local_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }

    fn extra_repr(&self) -> String {
        format!(
            "in_features={}, out_features={}, bias={}",
            self.in_features,
            self.out_features,
            py_bool(self.bias.is_some())
        )
    }
}

display_as_module!(Linear);
