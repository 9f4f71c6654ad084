//! [`Sequential`]: layers applied one after the other.

use crate::display::display_as_module;
use crate::module::{Module, Training};
use nabla_autograd::Tensor;

/// A chain of modules, each fed the previous one's output (PyTorch's `nn.Sequential`).
/// Children are named `"0"`, `"1"`, … by position (or given names with
/// [`Sequential::add_named`]), so parameter names match PyTorch's (`"0.weight"`).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Flatten, Linear, Module, ReLU, Sequential};
/// let model = Sequential::new().add(Flatten::new()).add(Linear::new(12, 8)).add(ReLU).add(Linear::new(8, 2));
/// assert_eq!(model.forward(&Tensor::zeros(&[5, 3, 4])).shape(), &[5, 2]);
/// let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["1.weight", "1.bias", "3.weight", "3.bias"]);
/// assert_eq!(
///     model.to_string(),
///     "Sequential(\n  (0): Flatten(start_dim=1, end_dim=-1)\n  (1): Linear(in_features=12, out_features=8, bias=True)\n  \
///      (2): ReLU()\n  (3): Linear(in_features=8, out_features=2, bias=True)\n)"
/// );
/// ```
#[derive(Default)]
pub struct Sequential {
    layers: Vec<(String, Box<dyn Module>)>,
    training: Training,
}

impl Sequential {
    /// An empty chain (the identity).
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// Appends `module`, named by its position.
    // `add` is the builder's name in the public contract (`Sequential::new().add(..)`), and a
    // Sequential is not a number: `std::ops::Add` would be the wrong trait.
    #[allow(clippy::should_implement_trait)]
    pub fn add<M: Module + 'static>(mut self, module: M) -> Sequential {
        self.push(module);
        self
    }

    /// Appends `module` under `name` (PyTorch's `Sequential(OrderedDict(...))`).
    ///
    /// ```
    /// use nabla_nn::nn::{Linear, Module, Sequential};
    /// let m = Sequential::new().add_named("fc", Linear::new(2, 2));
    /// assert_eq!(m.named_parameters()[0].0, "fc.weight");
    /// ```
    pub fn add_named<M: Module + 'static>(mut self, name: &str, module: M) -> Sequential {
        self.layers.push((name.to_string(), Box::new(module)));
        self
    }

    /// Appends `module` in place, named by its position.
    pub fn push<M: Module + 'static>(&mut self, module: M) {
        self.push_boxed(Box::new(module));
    }

    /// Appends a boxed module in place, named by its position.
    pub fn push_boxed(&mut self, module: Box<dyn Module>) {
        let name = self.layers.len().to_string();
        self.layers.push((name, module));
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there is no layer.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layer at position `index`.
    pub fn get(&self, index: usize) -> Option<&dyn Module> {
        self.layers.get(index).map(|(_, m)| m.as_ref())
    }

    /// The layers in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Module> {
        self.layers.iter().map(|(_, m)| m.as_ref())
    }
}

impl Module for Sequential {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = x.clone();
        for (_, layer) in &self.layers {
            h = layer.forward(&h);
        }
        h
    }

    fn named_children(&self) -> Vec<(String, &dyn Module)> {
        self.layers.iter().map(|(n, m)| (n.clone(), m.as_ref())).collect()
    }

    fn training_flag(&self) -> Option<&Training> {
        Some(&self.training)
    }
}

display_as_module!(Sequential);
