//! [`Mlp`]: a multi-layer perceptron from a list of widths.

use crate::display::display_as_module;
use crate::layers::activation::{LeakyReLU, ReLU, Sigmoid, Tanh, GELU};
use crate::layers::linear::Linear;
use crate::layers::sequential::Sequential;
use crate::module::{Module, Training};
use nabla_autograd::Tensor;

/// The nonlinearity between the layers of an [`Mlp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `max(0, x)`.
    ReLU,
    /// `tanh(x)`.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `x · Φ(x)` (exact GELU).
    GELU,
    /// Leaky ReLU with the given negative slope.
    LeakyReLU(f64),
}

impl Activation {
    /// The activation as a layer.
    pub fn to_module(self) -> Box<dyn Module> {
        match self {
            Activation::ReLU => Box::new(ReLU),
            Activation::Tanh => Box::new(Tanh),
            Activation::Sigmoid => Box::new(Sigmoid),
            Activation::GELU => Box::new(GELU),
            Activation::LeakyReLU(slope) => Box::new(LeakyReLU::new(slope)),
        }
    }
}

/// A multi-layer perceptron: `Linear(w[0], w[1]), act, Linear(w[1], w[2]), act, …,
/// Linear(w[n-2], w[n-1])`, with no activation after the last layer (it outputs logits).
///
/// Its layers are named as in the equivalent PyTorch `nn.Sequential` (`"0.weight"`,
/// `"2.weight"`, …), so its state dict loads into that twin.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Activation, Mlp, Module};
/// let mlp = Mlp::new(&[784, 256, 128, 10], Activation::ReLU);
/// assert_eq!(mlp.forward(&Tensor::zeros(&[32, 784])).shape(), &[32, 10]);
/// assert_eq!(mlp.num_parameters(), 235_146);
/// assert_eq!(mlp.named_parameters()[2].0, "2.weight");
/// ```
pub struct Mlp {
    layers: Sequential,
}

impl Mlp {
    /// An MLP through the given widths (at least two: input and output).
    ///
    /// # Panics
    /// If fewer than two widths are given.
    #[track_caller]
    pub fn new(widths: &[usize], activation: Activation) -> Mlp {
        assert!(
            widths.len() >= 2,
            "Mlp::new: need at least the input and output widths, got {widths:?}; hint: Mlp::new(&[784, 10], ..) is one Linear layer"
        );
        let mut layers = Sequential::new();
        for (i, w) in widths.windows(2).enumerate() {
            if i > 0 {
                layers.push_boxed(activation.to_module());
            }
            layers.push(Linear::new(w[0], w[1]));
        }
        Mlp { layers }
    }

    /// The underlying layers.
    pub fn layers(&self) -> &Sequential {
        &self.layers
    }
}

impl Module for Mlp {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        self.layers.forward(x)
    }

    fn named_children(&self) -> Vec<(String, &dyn Module)> {
        self.layers.named_children()
    }

    fn training_flag(&self) -> Option<&Training> {
        self.layers.training_flag()
    }
}

display_as_module!(Mlp);
