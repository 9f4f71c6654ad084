//! [`Dropout`]: random zeroing in training, the identity in evaluation.

use crate::display::{display_as_module, py_float};
use crate::module::{Module, Training};
use nabla_autograd::{functional as F, Error, Tensor};

/// Zeroes each element with probability `p` in training and scales the rest by
/// `1 / (1 − p)` (PyTorch's `nn.Dropout`, inverted dropout); the identity after `eval()`.
/// The mask comes from the seeded global generator.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Dropout, Module};
/// let drop = Dropout::new(0.5);
/// let y = drop.forward(&Tensor::ones(&[1000])).to_vec::<f32>();
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
/// drop.eval();
/// assert_eq!(drop.forward(&Tensor::ones(&[3])).to_vec::<f32>(), vec![1.0; 3]);
/// assert_eq!(drop.to_string(), "Dropout(p=0.5, inplace=False)");
/// ```
pub struct Dropout {
    /// The probability of zeroing an element.
    pub p: f64,
    training: Training,
}

impl Dropout {
    /// Dropout with probability `p` (PyTorch's default is 0.5).
    ///
    /// # Panics
    /// If `p` is not in [0, 1].
    #[track_caller]
    pub fn new(p: f64) -> Dropout {
        if !(0.0..=1.0).contains(&p) {
            panic!(
                "{}",
                Error::invalid_argument(
                    "Dropout",
                    format!("dropout probability has to be between 0 and 1, but got {p}")
                )
            );
        }
        Dropout { p, training: Training::default() }
    }
}

impl Default for Dropout {
    fn default() -> Dropout {
        Dropout::new(0.5)
    }
}

impl Module for Dropout {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        F::dropout(x, self.p, self.training.get())
    }

    fn training_flag(&self) -> Option<&Training> {
        Some(&self.training)
    }

    fn extra_repr(&self) -> String {
        format!("p={}, inplace=False", py_float(self.p))
    }
}

display_as_module!(Dropout);
