//! The graph as the inspection tools see it: tensors and backward functions in a
//! deterministic order (inputs before the ops that use them), with the labels, values and
//! gradients known when it was taken. Export, narration and checks all read this model.

use super::fmt::{Values, KEEP_VALUES};
use crate::graph::{node_key, NodeRef};
use crate::tensor::Tensor;
use nabla_tensor::DType;
use std::collections::HashMap;

/// A tensor of the graph: a leaf, or the output of a backward function's op.
pub(crate) struct TNode {
    pub(crate) label: String,
    pub(crate) shape: Vec<usize>,
    pub(crate) dtype: DType,
    /// The forward value, when the tensor (or a copy saved for backward) is still alive.
    pub(crate) value: Option<Values>,
    /// `.grad` (leaves, retained non-leaves) when the model was taken.
    pub(crate) grad: Option<Values>,
    pub(crate) is_leaf: bool,
    pub(crate) requires_grad: bool,
    pub(crate) retains_grad: bool,
    /// The backward function of the op that made it (or its `AccumulateGrad`, for leaves).
    pub(crate) func: Option<usize>,
    /// `Tensor::id`, for tensors still alive (clusters and labels refer to tensors by it).
    pub(crate) tensor_id: Option<u64>,
}

/// A backward function: one per recorded op, one `AccumulateGrad` per leaf.
pub(crate) struct FNode {
    pub(crate) name: &'static str,
    /// The tensor it computes the gradient of (for `AccumulateGrad`, the leaf).
    pub(crate) output: usize,
    /// The tensors whose gradients it produces, one per input (`None`: no gradient needed).
    pub(crate) inputs: Vec<Option<usize>>,
    pub(crate) location: String,
}

impl FNode {
    pub(crate) fn is_accumulate(&self) -> bool {
        self.name == "AccumulateGrad"
    }
}

/// Tensors and functions, in topological order (inputs first).
pub(crate) struct Model {
    pub(crate) tensors: Vec<TNode>,
    pub(crate) funcs: Vec<FNode>,
    /// The tensor the model was taken from.
    pub(crate) root: usize,
    /// `node_key` → function index.
    pub(crate) by_key: HashMap<usize, usize>,
    /// Live handles of the tensors (dropped by [`Model::freeze`]).
    pub(crate) handles: Vec<Option<Tensor>>,
    /// The nodes, in `funcs` order (dropped by [`Model::freeze`]).
    pub(crate) nodes: Vec<NodeRef>,
}

/// The nodes reachable from `root`, inputs before the nodes that use them (iterative
/// post-order; inputs visited in argument order, so the order does not depend on addresses).
pub(crate) fn topo_nodes(root: &NodeRef) -> Vec<NodeRef> {
    let mut order = Vec::new();
    let mut seen: HashMap<usize, ()> = HashMap::new();
    seen.insert(node_key(root), ());
    let mut stack: Vec<(NodeRef, usize)> = vec![(root.clone(), 0)];
    while let Some((node, i)) = stack.pop() {
        let next = node.header().next.get(i).cloned();
        match next {
            Some(child) => {
                stack.push((node, i + 1));
                if let Some(c) = child {
                    if seen.insert(node_key(&c), ()).is_none() {
                        stack.push((c, 0));
                    }
                }
            }
            None => order.push(node),
        }
    }
    order
}

/// The node gradients of `t` flow into, without creating an `AccumulateGrad` for a leaf
/// that has none (inspecting must not change the graph).
pub(crate) fn existing_grad_node(t: &Tensor) -> Option<NodeRef> {
    let m = t.meta();
    if let Some(f) = &m.grad_fn {
        return Some(f.clone());
    }
    if !m.requires_grad {
        return None;
    }
    m.accumulator.clone()
}

impl Model {
    pub(crate) fn empty() -> Model {
        Model {
            tensors: Vec::new(),
            funcs: Vec::new(),
            root: 0,
            by_key: HashMap::new(),
            handles: Vec::new(),
            nodes: Vec::new(),
        }
    }

    /// Takes the graph reachable from `root`. `labels` override names (by tensor id).
    pub(crate) fn build(root: &Tensor, labels: &[(String, u64)]) -> Model {
        let mut m = Model::empty();
        let nodes = existing_grad_node(root).map(|n| topo_nodes(&n)).unwrap_or_default();
        for node in nodes {
            let h = node.header();
            let handle = match node.leaf() {
                Some(leaf) => leaf.upgrade().map(Tensor),
                None => h.output.upgrade().map(Tensor),
            };
            let t = m.push_tensor(handle.as_ref(), &h.out_shape, h.out_dtype);
            if handle.is_none() {
                // The output was not kept, but the op may have saved it for its backward.
                if let Some(raw) = &h.saved_output {
                    if raw.numel() <= KEEP_VALUES {
                        let data = Some(raw.to_vec::<f64>());
                        m.tensors[t].value = Some(Values { shape: raw.shape().to_vec(), dtype: raw.dtype(), data });
                    }
                }
            }
            let inputs = h.next.iter().map(|n| n.as_ref().map(|n| m.tensors_of(n))).collect();
            let f = m.funcs.len();
            m.funcs.push(FNode { name: node.name(), output: t, inputs, location: h.location.to_string() });
            m.tensors[t].func = Some(f);
            m.by_key.insert(node_key(&node), f);
            m.nodes.push(node);
        }
        m.root = match existing_grad_node(root).and_then(|n| m.by_key.get(&node_key(&n)).copied()) {
            Some(f) => m.funcs[f].output,
            None => m.push_tensor(Some(root), root.shape(), root.dtype()),
        };
        // A tensor's label: an override, its name, or its position.
        for (i, t) in m.tensors.iter_mut().enumerate() {
            let name = m.handles[i].as_ref().and_then(|h| h.name());
            let over = t.tensor_id.and_then(|id| labels.iter().find(|(_, l)| *l == id).map(|(s, _)| s.clone()));
            t.label = over.or(name).unwrap_or_else(|| format!("v{i}"));
        }
        m
    }

    /// The tensor index of a node already in the model (inputs come before their users).
    fn tensors_of(&self, n: &NodeRef) -> usize {
        let f = self.by_key[&node_key(n)];
        self.funcs[f].output
    }

    fn push_tensor(&mut self, handle: Option<&Tensor>, shape: &[usize], dtype: DType) -> usize {
        let mut t = TNode {
            label: String::new(),
            shape: shape.to_vec(),
            dtype,
            value: None,
            grad: None,
            is_leaf: false,
            requires_grad: true,
            retains_grad: false,
            func: None,
            tensor_id: None,
        };
        if let Some(h) = handle {
            t.value = Some(Values::of_limit(h, KEEP_VALUES));
            t.grad = h.grad().map(|g| Values::of_limit(&g, KEEP_VALUES));
            t.is_leaf = h.is_leaf();
            t.requires_grad = h.requires_grad();
            t.retains_grad = h.retains_grad();
            t.tensor_id = Some(h.id());
        }
        self.tensors.push(t);
        self.handles.push(handle.cloned());
        self.tensors.len() - 1
    }

    /// Re-reads `.grad` of every live tensor (after a backward).
    pub(crate) fn refresh_grads(&mut self) {
        for (t, h) in self.tensors.iter_mut().zip(&self.handles) {
            if let Some(h) = h {
                t.grad = h.grad().map(|g| Values::of_limit(&g, KEEP_VALUES));
            }
        }
    }

    /// Lets go of the tensors and nodes, keeping what was read from them.
    pub(crate) fn freeze(&mut self) {
        self.handles.iter_mut().for_each(|h| *h = None);
        self.nodes.clear();
    }

    /// The tensor index of `t`, if it is in the model.
    pub(crate) fn find(&self, t: &Tensor) -> Option<usize> {
        self.tensors.iter().position(|n| n.tensor_id == Some(t.id()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_are_numbered_inputs_first() {
        let x = Tensor::scalar(-2.0f64).requires_grad_(true).named("x");
        let y = Tensor::scalar(5.0f64).requires_grad_(true).named("y");
        let z = Tensor::scalar(-4.0f64).requires_grad_(true).named("z");
        let f = (&(&x + &y) * &z).named("f");
        let m = Model::build(&f, &[]);
        let labels: Vec<&str> = m.tensors.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["x", "y", "v2", "z", "f"]);
        let names: Vec<&str> = m.funcs.iter().map(|f| f.name).collect();
        assert_eq!(names, ["AccumulateGrad", "AccumulateGrad", "AddBackward", "AccumulateGrad", "MulBackward"]);
        assert_eq!(m.root, 4);
        assert_eq!(m.funcs[4].inputs, [Some(2), Some(3)]);
        // the intermediate was saved by MulBackward, so its value is known
        assert_eq!(m.tensors[2].value.as_ref().unwrap().scalar(), Some(3.0));
    }

    #[test]
    fn walking_a_deep_chain_does_not_recurse() {
        let x = Tensor::ones(&[1]).requires_grad_(true);
        let mut h = x.clone();
        for _ in 0..50_000 {
            h = &h * 1.0001;
        }
        let order = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || topo_nodes(&h.grad_fn().unwrap().0).len())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(order, 50_001);
    }
}
