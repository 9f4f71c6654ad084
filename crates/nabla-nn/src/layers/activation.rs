//! Activation modules: element-wise nonlinearities and (log-)softmax as layers, for
//! [`crate::nn::Sequential`]. Each forwards to the differentiable op of the same name.

use crate::display::display_as_module;
use crate::module::Module;
use nabla_autograd::Tensor;

/// `max(0, x)` (PyTorch's `nn.ReLU`).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Module, ReLU};
/// let y = ReLU.forward(&Tensor::from_vec(vec![-1.0f32, 2.0], &[2]));
/// assert_eq!(y.to_vec::<f32>(), vec![0.0, 2.0]);
/// assert_eq!(ReLU.to_string(), "ReLU()");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ReLU;

impl Module for ReLU {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        x.relu()
    }
}

/// `1 / (1 + e^-x)` (PyTorch's `nn.Sigmoid`).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Module, Sigmoid};
/// assert_eq!(Sigmoid.forward(&Tensor::zeros(&[1])).item(), 0.5);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Sigmoid;

impl Module for Sigmoid {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        x.sigmoid()
    }
}

/// `tanh(x)` (PyTorch's `nn.Tanh`).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Module, Tanh};
/// assert_eq!(Tanh.forward(&Tensor::zeros(&[1])).item(), 0.0);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Tanh;

impl Module for Tanh {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        x.tanh()
    }
}

/// Softmax along `dim` (PyTorch's `nn.Softmax(dim)`).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Module, Softmax};
/// let y = Softmax::new(1).forward(&Tensor::zeros(&[2, 4]));
/// assert_eq!(y.to_vec::<f32>(), vec![0.25; 8]);
/// assert_eq!(Softmax::new(1).to_string(), "Softmax(dim=1)");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Softmax {
    /// The dimension the probabilities sum to 1 along (negative counts from the end).
    pub dim: isize,
}

impl Softmax {
    /// Softmax along `dim`.
    pub fn new(dim: isize) -> Softmax {
        Softmax { dim }
    }
}

impl Module for Softmax {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        x.softmax(self.dim)
    }

    fn extra_repr(&self) -> String {
        format!("dim={}", self.dim)
    }
}

/// Log-softmax along `dim` (PyTorch's `nn.LogSoftmax(dim)`), stable for large logits.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{LogSoftmax, Module};
/// let y = LogSoftmax::new(-1).forward(&Tensor::zeros(&[1, 2]));
/// assert!((y.to_vec::<f32>()[0] + 2f32.ln()).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LogSoftmax {
    /// The dimension normalized over.
    pub dim: isize,
}

impl LogSoftmax {
    /// Log-softmax along `dim`.
    pub fn new(dim: isize) -> LogSoftmax {
        LogSoftmax { dim }
    }
}

impl Module for LogSoftmax {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        x.log_softmax(self.dim)
    }

    fn extra_repr(&self) -> String {
        format!("dim={}", self.dim)
    }
}

/// The identity (PyTorch's `nn.Identity`): a placeholder layer.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Identity, Module};
/// let x = Tensor::ones(&[2]);
/// assert!(Identity.forward(&x).is_same(&x));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl Module for Identity {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.clone()
    }
}

display_as_module!(ReLU, Sigmoid, Tanh, Softmax, LogSoftmax, Identity);
