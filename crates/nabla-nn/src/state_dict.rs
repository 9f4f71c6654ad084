//! [`StateDict`]: a model's parameters and buffers by name, and loading one into a model.
//! Reading and writing files is in `safetensors_io.rs`.

use nabla_autograd::{no_grad, Error, Result, Tensor};
use std::collections::HashMap;
use std::fmt;

/// An ordered map from PyTorch-style dotted names (`"0.weight"`,
/// `"features.1.running_mean"`) to tensors: what `Module::state_dict` returns,
/// what [`StateDict::save`] writes as safetensors and `Module::load_state_dict` reads.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::StateDict;
/// let mut sd = StateDict::new();
/// sd.insert("weight", Tensor::ones(&[2, 3]));
/// sd.insert("bias", Tensor::zeros(&[2]));
/// assert_eq!(sd.keys().collect::<Vec<_>>(), ["weight", "bias"]);
/// assert_eq!(sd.get("weight").unwrap().shape(), &[2, 3]);
/// ```
#[derive(Clone, Default)]
pub struct StateDict {
    entries: Vec<(String, Tensor)>,
    index: HashMap<String, usize>,
}

impl StateDict {
    /// An empty state dict.
    pub fn new() -> StateDict {
        StateDict::default()
    }

    /// Inserts `tensor` under `name`, replacing (in place, keeping the order) an entry of
    /// the same name.
    pub fn insert(&mut self, name: impl Into<String>, tensor: Tensor) {
        let name = name.into();
        match self.index.get(&name) {
            Some(&i) => self.entries[i].1 = tensor,
            None => {
                self.index.insert(name.clone(), self.entries.len());
                self.entries.push((name, tensor));
            }
        }
    }

    /// The tensor stored under `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.index.get(name).map(|&i| &self.entries[i].1)
    }

    /// Whether an entry is named `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Removes and returns the entry named `name`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let mut sd = nabla_nn::nn::StateDict::new();
    /// sd.insert("a", Tensor::ones(&[1]));
    /// sd.insert("b", Tensor::ones(&[1]));
    /// assert!(sd.remove("a").is_some());
    /// assert_eq!(sd.keys().collect::<Vec<_>>(), ["b"]);
    /// ```
    pub fn remove(&mut self, name: &str) -> Option<Tensor> {
        let i = self.index.remove(name)?;
        let (_, t) = self.entries.remove(i);
        for v in self.index.values_mut() {
            if *v > i {
                *v -= 1;
            }
        }
        Some(t)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The names, in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The entries, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.entries.iter().map(|(k, t)| (k.as_str(), t))
    }
}

impl fmt::Debug for StateDict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries.iter().map(|(k, t)| (k, format!("{:?} {}", t.shape(), t.dtype())))).finish()
    }
}

impl<S: Into<String>> FromIterator<(S, Tensor)> for StateDict {
    fn from_iter<I: IntoIterator<Item = (S, Tensor)>>(iter: I) -> StateDict {
        let mut sd = StateDict::new();
        for (k, t) in iter {
            sd.insert(k, t);
        }
        sd
    }
}

/// Copies `src` into the tensors of `targets` (a model's own state dict, sharing its
/// storage), after checking every key and shape. `model` names the module in errors.
pub(crate) fn load_into(model: &str, targets: &StateDict, src: &StateDict, strict: bool) -> Result<()> {
    let quoted = |v: Vec<&str>| v.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ");
    let mut problems = Vec::new();
    let missing: Vec<&str> = targets.keys().filter(|k| !src.contains_key(k)).collect();
    let unexpected: Vec<&str> = src.keys().filter(|k| !targets.contains_key(k)).collect();
    if strict && !unexpected.is_empty() {
        problems.push(format!("Unexpected key(s) in state_dict: {}.", quoted(unexpected)));
    }
    if strict && !missing.is_empty() {
        problems.push(format!("Missing key(s) in state_dict: {}.", quoted(missing)));
    }
    for (name, dst) in targets.iter() {
        if let Some(s) = src.get(name) {
            if s.shape() != dst.shape() {
                problems.push(format!(
                    "size mismatch for {name}: copying a param with shape {:?} from checkpoint, \
                     the shape in current model is {:?}.",
                    s.shape(),
                    dst.shape()
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::StateDict { msg: format!("for {model}:\n\t{}", problems.join("\n\t")) });
    }
    no_grad(|| {
        for (name, dst) in targets.iter() {
            if let Some(s) = src.get(name) {
                dst.try_copy_(s)?;
            }
        }
        Ok(())
    })
}
