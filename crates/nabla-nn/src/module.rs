//! The [`Module`] trait: what every layer and every user model is.
//!
//! A module is a plain struct holding its parameters (tensors that require grad), its
//! buffers (state that is saved but not trained, like BatchNorm's running statistics)
//! and its sub-modules. It tells the trait about them through three small methods
//! ([`Module::local_parameters`], [`Module::local_buffers`], [`Module::named_children`]);
//! everything else — PyTorch's dotted names, `parameters()`, `train()`/`eval()`,
//! `zero_grad()`, `state_dict()` and `load_state_dict()` — is provided.

use crate::state_dict::{load_into, StateDict};
use nabla_autograd::{Result, Tensor};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

/// A layer or a model: a function of a tensor with named parameters, buffers and
/// sub-modules, following PyTorch's `nn.Module`.
///
/// Modules are `Send + Sync`; everything is called through `&self` (the train/eval flag
/// lives in a [`Training`] cell, parameters are shared tensors updated in place).
///
/// # Writing your own module
///
/// A model is a struct of layers and tensors. Implement `forward`, and name the pieces
/// in [`Module::named_children`] (and [`Module::local_parameters`] for tensors held
/// directly); the names become the keys of `named_parameters()` and `state_dict()`.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Linear, Module};
///
/// struct TwoLayer {
///     fc1: Linear,
///     fc2: Linear,
///     scale: Tensor, // a parameter held directly
/// }
///
/// impl TwoLayer {
///     fn new() -> TwoLayer {
///         TwoLayer { fc1: Linear::new(4, 8), fc2: Linear::new(8, 2), scale: Tensor::ones(&[1]).requires_grad_(true) }
///     }
/// }
///
/// impl Module for TwoLayer {
///     fn forward(&self, x: &Tensor) -> Tensor {
///         self.fc2.forward(&self.fc1.forward(x).relu()) * &self.scale
///     }
///     fn local_parameters(&self) -> Vec<(String, Tensor)> {
///         vec![("scale".into(), self.scale.clone())]
///     }
///     fn named_children(&self) -> Vec<(String, &dyn Module)> {
///         vec![("fc1".into(), &self.fc1), ("fc2".into(), &self.fc2)]
///     }
/// }
///
/// let net = TwoLayer::new();
/// let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// assert_eq!(net.num_parameters(), 1 + (4 * 8 + 8) + (8 * 2 + 2));
/// assert_eq!(net.forward(&Tensor::ones(&[3, 4])).shape(), &[3, 2]);
/// println!("{}", &net as &dyn Module); // TwoLayer(\n  (fc1): Linear(in_features=4, ...
/// ```
pub trait Module: AsDynModule + Send + Sync {
    /// Computes the output for input `x`, recording the graph for backward.
    fn forward(&self, x: &Tensor) -> Tensor;

    /// The parameters this module holds directly (not its children's), under their
    /// local names (`"weight"`, `"bias"`).
    fn local_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// The buffers this module holds directly: state saved in the state dict but not
    /// trained (`"running_mean"`, `"running_var"`, `"num_batches_tracked"`).
    fn local_buffers(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// The direct sub-modules, in order, with their names (`"0"`, `"1"`, … in a
    /// [`crate::nn::Sequential`]; field names in a user model).
    fn named_children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// This module's own train/eval flag, if it has one. Modules that behave differently
    /// in training (dropout, batch norm) hold a [`Training`]; containers may.
    fn training_flag(&self) -> Option<&Training> {
        None
    }

    /// The name shown by `Display` (`"Linear"`); defaults to the type's name.
    fn type_name(&self) -> String {
        let full = std::any::type_name::<Self>();
        let base = full.split('<').next().unwrap_or(full);
        base.rsplit("::").next().unwrap_or(base).to_string()
    }

    /// The configuration shown inside the parentheses by `Display`
    /// (`"in_features=784, out_features=256, bias=True"`), as PyTorch's `extra_repr`.
    fn extra_repr(&self) -> String {
        String::new()
    }

    // ---- provided -------------------------------------------------------------------

    /// Every parameter of the module and its sub-modules with PyTorch's dotted names
    /// (`"features.0.weight"`), own parameters first, each tensor once (a parameter
    /// shared by two layers is listed under its first name).
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        walk(self.as_dyn_module(), "", &mut |prefix, m| {
            for (name, t) in m.local_parameters() {
                if seen.insert(t.id()) {
                    out.push((join(prefix, &name), t));
                }
            }
        });
        out
    }

    /// Every parameter (the order of [`Module::named_parameters`]): what optimizers take.
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters().into_iter().map(|(_, t)| t).collect()
    }

    /// Every buffer of the module and its sub-modules, with dotted names.
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        walk(self.as_dyn_module(), "", &mut |prefix, m| {
            for (name, t) in m.local_buffers() {
                out.push((join(prefix, &name), t));
            }
        });
        out
    }

    /// Every buffer.
    fn buffers(&self) -> Vec<Tensor> {
        self.named_buffers().into_iter().map(|(_, t)| t).collect()
    }

    /// The direct sub-modules.
    fn children(&self) -> Vec<&dyn Module> {
        self.named_children().into_iter().map(|(_, m)| m).collect()
    }

    /// Sets training mode on this module and every sub-module (PyTorch's `train()`).
    fn train(&self) {
        self.set_training(true);
    }

    /// Sets evaluation mode on this module and every sub-module (PyTorch's `eval()`):
    /// dropout becomes the identity, batch norm uses its running statistics.
    fn eval(&self) {
        self.set_training(false);
    }

    /// Sets the train/eval mode of this module and every sub-module.
    fn set_training(&self, training: bool) {
        walk(self.as_dyn_module(), "", &mut |_, m| {
            if let Some(flag) = m.training_flag() {
                flag.set(training);
            }
        });
    }

    /// Whether the module is in training mode: its own flag, or for a module without
    /// one its first child's, or `true` for a module with neither.
    fn is_training(&self) -> bool {
        if let Some(flag) = self.training_flag() {
            return flag.get();
        }
        self.children().first().is_none_or(|c| c.is_training())
    }

    /// Clears the gradient of every parameter (sets it to `None`, as PyTorch's default).
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// The number of scalar parameters.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.numel()).sum()
    }

    /// Parameters and buffers under their dotted names, sharing storage with the model
    /// (detached): what [`StateDict::save`] writes.
    fn state_dict(&self) -> StateDict {
        let mut sd = StateDict::new();
        walk(self.as_dyn_module(), "", &mut |prefix, m| {
            for (name, t) in m.local_parameters().into_iter().chain(m.local_buffers()) {
                sd.insert(join(prefix, &name), t.detach());
            }
        });
        sd
    }

    /// Copies `state_dict`'s tensors into the parameters and buffers of the same names.
    ///
    /// Every problem is reported at once, in PyTorch's words: missing keys and unexpected
    /// keys (when `strict`), and each shape mismatch with both shapes. Nothing is copied
    /// unless everything matches, so a failed load leaves the model as it was.
    fn load_state_dict(&self, state_dict: &StateDict, strict: bool) -> Result<()> {
        let targets = self.state_dict();
        load_into(&self.type_name(), &targets, state_dict, strict)
    }
}

/// `self` as `&dyn Module`, which the provided methods of [`Module`] walk. Implemented
/// for every module by a blanket impl: users never write it.
pub trait AsDynModule {
    /// `self` as a trait object.
    fn as_dyn_module(&self) -> &dyn Module;
}

impl<M: Module> AsDynModule for M {
    fn as_dyn_module(&self) -> &dyn Module {
        self
    }
}

/// Calls `f(prefix, module)` on `m` and on each sub-module, depth first, children in order.
fn walk<'a>(m: &'a dyn Module, prefix: &str, f: &mut dyn FnMut(&str, &'a dyn Module)) {
    f(prefix, m);
    for (name, child) in m.named_children() {
        walk(child, &join(prefix, &name), f);
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// A module's train/eval flag, settable through `&self` (an atomic, so modules stay
/// `Send + Sync`). Starts in training mode, as PyTorch modules do.
///
/// ```
/// use nabla_nn::nn::Training;
/// let t = Training::default();
/// assert!(t.get());
/// t.set(false);
/// assert!(!t.get());
/// ```
#[derive(Debug)]
pub struct Training(AtomicBool);

impl Default for Training {
    fn default() -> Training {
        Training(AtomicBool::new(true))
    }
}

impl Training {
    /// Whether in training mode.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets training (`true`) or evaluation (`false`) mode.
    pub fn set(&self, training: bool) {
        self.0.store(training, Ordering::Relaxed);
    }
}

impl Clone for Training {
    fn clone(&self) -> Training {
        Training(AtomicBool::new(self.get()))
    }
}
