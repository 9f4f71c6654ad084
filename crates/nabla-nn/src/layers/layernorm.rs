//! [`LayerNorm`]: normalization over the trailing dimensions of each sample.

use crate::display::{display_as_module, py_bool, py_float, py_tuple};
use crate::module::Module;
use nabla_autograd::{DType, Error, Tensor};

/// Layer normalization (PyTorch's `nn.LayerNorm`): each sample is normalized over its
/// last `normalized_shape.len()` dimensions, `y = (x − mean) / √(var + eps) · weight +
/// bias` with the biased variance; the same in training and evaluation.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{LayerNorm, Module};
/// let ln = LayerNorm::new(&[4]);
/// let y = ln.forward(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[1, 4]));
/// assert!(y.mean().item().abs() < 1e-6);
/// assert_eq!(ln.to_string(), "LayerNorm((4,), eps=1e-05, elementwise_affine=True)");
/// ```
pub struct LayerNorm {
    /// The trailing shape normalized over.
    pub normalized_shape: Vec<usize>,
    /// Added to the variance for numerical stability (1e-5).
    pub eps: f64,
    /// The learned scale (ones, of `normalized_shape`), if elementwise-affine.
    pub weight: Option<Tensor>,
    /// The learned shift (zeros).
    pub bias: Option<Tensor>,
}

impl LayerNorm {
    /// Float32 layer norm over the trailing `normalized_shape`, with weight and bias.
    pub fn new(normalized_shape: &[usize]) -> LayerNorm {
        LayerNorm::new_with(normalized_shape, DType::F32)
    }

    /// Layer norm whose parameters have the given dtype.
    pub fn new_with(normalized_shape: &[usize], dtype: DType) -> LayerNorm {
        LayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            eps: 1e-5,
            weight: Some(Tensor::ones_with(normalized_shape, dtype).requires_grad_(true)),
            bias: Some(Tensor::zeros_with(normalized_shape, dtype).requires_grad_(true)),
        }
    }

    /// Sets `eps`.
    pub fn eps(mut self, eps: f64) -> LayerNorm {
        self.eps = eps;
        self
    }

    /// With (`true`, the default) or without the learned weight and bias.
    pub fn elementwise_affine(mut self, affine: bool) -> LayerNorm {
        if !affine {
            (self.weight, self.bias) = (None, None);
        } else if self.weight.is_none() {
            self = LayerNorm::new(&self.normalized_shape).eps(self.eps);
        }
        self
    }
}

impl Module for LayerNorm {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let k = self.normalized_shape.len();
        if x.dims() < k || x.shape()[x.dims() - k..] != self.normalized_shape[..] {
            panic!(
                "{}",
                Error::shape(
                    "layer_norm",
                    format!(
                        "Given normalized_shape={:?}, expected input with shape [*, {}], but got input of size {:?}",
                        self.normalized_shape,
                        self.normalized_shape.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
                        x.shape()
                    ),
                    "normalized_shape must equal the last dimensions of the input",
                )
            );
        }
        let dims: Vec<usize> = (x.dims() - k..x.dims()).collect();
        let mean = x.try_mean_dims(&dims, true).unwrap_or_else(|e| panic!("{e}"));
        let var = x.try_var_dims(&dims, false, true).unwrap_or_else(|e| panic!("{e}"));
        let y = (x - mean) / (var + self.eps).sqrt();
        match (&self.weight, &self.bias) {
            (Some(w), Some(b)) => y * w + b,
            (Some(w), None) => y * w,
            _ => y,
        }
    }

    fn local_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        if let Some(w) = &self.weight {
            v.push(("weight".to_string(), w.clone()));
        }
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }

    fn extra_repr(&self) -> String {
        format!(
            "{}, eps={}, elementwise_affine={}",
            py_tuple(&self.normalized_shape),
            py_float(self.eps),
            py_bool(self.weight.is_some())
        )
    }
}

display_as_module!(LayerNorm);
