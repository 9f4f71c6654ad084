//! [`Flatten`]: merges a range of dimensions, from the convolutional part of a network
//! to its fully connected part.

use crate::display::display_as_module;
use crate::module::Module;
use nabla_autograd::Tensor;

/// Flattens dimensions `start_dim..=end_dim` into one (PyTorch's `nn.Flatten`, by
/// default `start_dim = 1`, `end_dim = -1`: everything but the batch dimension).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Flatten, Module};
/// assert_eq!(Flatten::new().forward(&Tensor::zeros(&[8, 16, 5, 5])).shape(), &[8, 400]);
/// assert_eq!(Flatten::new().to_string(), "Flatten(start_dim=1, end_dim=-1)");
/// ```
#[derive(Clone, Copy)]
pub struct Flatten {
    /// First dimension flattened.
    pub start_dim: isize,
    /// Last dimension flattened (inclusive; negative counts from the end).
    pub end_dim: isize,
}

impl Default for Flatten {
    fn default() -> Flatten {
        Flatten { start_dim: 1, end_dim: -1 }
    }
}

impl Flatten {
    /// Flattens all dimensions but the first.
    pub fn new() -> Flatten {
        Flatten::default()
    }

    /// Flattens `start_dim..=end_dim`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_nn::nn::{Flatten, Module};
    /// assert_eq!(Flatten::range(0, 1).forward(&Tensor::zeros(&[2, 3, 4])).shape(), &[6, 4]);
    /// ```
    pub fn range(start_dim: isize, end_dim: isize) -> Flatten {
        Flatten { start_dim, end_dim }
    }
}

impl Module for Flatten {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        x.flatten(self.start_dim, self.end_dim)
    }

    fn extra_repr(&self) -> String {
        format!("start_dim={}, end_dim={}", self.start_dim, self.end_dim)
    }
}

display_as_module!(Flatten);
