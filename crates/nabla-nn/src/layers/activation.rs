//! Activation modules: element-wise nonlinearities and (log-)softmax as layers, for
//! [`crate::nn::Sequential`]. Each forwards to the differentiable op of the same name.

use crate::display::{display_as_module, py_float};
use crate::module::Module;
use nabla_autograd::{functional as F, Tensor};

/// `max(0, x)` (PyTorch's `nn.ReLU`).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Module, ReLU};
/// let y = ReLU.forward(&Tensor::from_vec(vec![-1.0f32, 2.0], &[2]));
/// assert_eq!(y.to_vec::<f32>(), vec![0.0, 2.0]);
/// assert_eq!(ReLU.to_string(), "ReLU()");
/// ```
#[derive(Clone, Copy, Default)]
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
#[derive(Clone, Copy, Default)]
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
#[derive(Clone, Copy, Default)]
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
#[derive(Clone, Copy)]
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
#[derive(Clone, Copy)]
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
#[derive(Clone, Copy, Default)]
pub struct Identity;

impl Module for Identity {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.clone()
    }
}

display_as_module!(ReLU, Sigmoid, Tanh, Softmax, LogSoftmax, Identity);

/// `max(0, x) + negative_slope · min(0, x)` (PyTorch's `nn.LeakyReLU`, slope 0.01).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{LeakyReLU, Module};
/// let y = LeakyReLU::new(0.1).forward(&Tensor::from_vec(vec![-2.0f64, 3.0], &[2]));
/// assert_eq!(y.to_vec::<f64>(), vec![-0.2, 3.0]);
/// assert_eq!(LeakyReLU::default().to_string(), "LeakyReLU(negative_slope=0.01)");
/// ```
#[derive(Clone, Copy)]
pub struct LeakyReLU {
    /// The slope for negative inputs.
    pub negative_slope: f64,
}

impl LeakyReLU {
    /// Leaky ReLU with the given negative slope.
    pub fn new(negative_slope: f64) -> LeakyReLU {
        LeakyReLU { negative_slope }
    }
}

impl Default for LeakyReLU {
    fn default() -> LeakyReLU {
        LeakyReLU::new(0.01)
    }
}

impl Module for LeakyReLU {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        F::leaky_relu(x, self.negative_slope)
    }

    fn extra_repr(&self) -> String {
        format!("negative_slope={}", py_float(self.negative_slope))
    }
}

/// The Gaussian error linear unit `x · Φ(x)`, exact (erf) form (PyTorch's `nn.GELU()`).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Module, GELU};
/// let y = GELU.forward(&Tensor::from_vec(vec![0.0f64, 1.0], &[2])).to_vec::<f64>();
/// assert!(y[0] == 0.0 && (y[1] - 0.8413447460685429).abs() < 1e-12);
/// assert_eq!(GELU.to_string(), "GELU(approximate='none')");
/// ```
#[derive(Clone, Copy, Default)]
pub struct GELU;

impl Module for GELU {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        F::gelu(x)
    }

    fn extra_repr(&self) -> String {
        "approximate='none'".to_string()
    }
}

/// `x` for positive inputs, `alpha · (eˣ − 1)` otherwise (PyTorch's `nn.ELU`, alpha 1).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Module, ELU};
/// let y = ELU::default().forward(&Tensor::from_vec(vec![2.0f64], &[1]));
/// assert_eq!(y.item(), 2.0);
/// ```
#[derive(Clone, Copy)]
pub struct ELU {
    /// The scale of the negative part.
    pub alpha: f64,
}

impl ELU {
    /// ELU with the given `alpha`.
    pub fn new(alpha: f64) -> ELU {
        ELU { alpha }
    }
}

impl Default for ELU {
    fn default() -> ELU {
        ELU::new(1.0)
    }
}

impl Module for ELU {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        F::elu(x, self.alpha)
    }

    fn extra_repr(&self) -> String {
        format!("alpha={}", py_float(self.alpha))
    }
}

/// `x · σ(x)`, a.k.a. swish (PyTorch's `nn.SiLU`).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Module, SiLU};
/// assert_eq!(SiLU.forward(&Tensor::zeros(&[1])).item(), 0.0);
/// ```
#[derive(Clone, Copy, Default)]
pub struct SiLU;

impl Module for SiLU {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        F::silu(x)
    }
}

/// Maxout: the maximum over `pieces` consecutive chunks of dimension `dim` (the output has
/// `size(dim) / pieces` there), as in Goodfellow et al. 2013.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Maxout, Module};
/// let x = Tensor::from_vec(vec![1.0f32, 4.0, 3.0, 2.0], &[1, 4]);
/// assert_eq!(Maxout::new(2, 1).forward(&x).to_vec::<f32>(), vec![3.0, 4.0]);
/// assert_eq!(Maxout::new(2, 1).to_string(), "Maxout(pieces=2, dim=1)");
/// ```
#[derive(Clone, Copy)]
pub struct Maxout {
    /// How many values each output is the maximum of.
    pub pieces: usize,
    /// The dimension split into pieces.
    pub dim: isize,
}

impl Maxout {
    /// Maxout over `pieces` chunks of dimension `dim`.
    pub fn new(pieces: usize, dim: isize) -> Maxout {
        Maxout { pieces, dim }
    }
}

impl Module for Maxout {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        F::maxout(x, self.pieces, self.dim)
    }

    fn extra_repr(&self) -> String {
        format!("pieces={}, dim={}", self.pieces, self.dim)
    }
}

display_as_module!(LeakyReLU, GELU, ELU, SiLU, Maxout);
