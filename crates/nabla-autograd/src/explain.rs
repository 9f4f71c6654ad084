//! The narrated backward: a real backward pass (it fills `.grad` exactly as `backward()`
//! does) that also reports, node by node, the chain rule it applied — the gradient that
//! arrived, each local derivative as a formula and its value, the product, where it went,
//! and the `+=` when a tensor feeds several ops.
//!
//! Runs on [`backward_observed`]: the same engine, with an observer.

use crate::engine::{backward_observed, BackwardOptions};
use crate::tensor::Tensor;
use crate::viz::fmt::{factor, shape_str, Values};
use crate::viz::formulas::{forward_expr, rule, Kind};
use crate::viz::model::Model;
use crate::viz::scene::Overlay;
use nabla_tensor::Result;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A gradient sent from one node to one of its inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Which input of the op (0 for `a`, 1 for `b`, …).
    pub input: usize,
    /// The input tensor's label.
    pub to: String,
    /// The local derivative as a formula (`∂(a·b)/∂a = b`).
    pub formula: String,
    /// Its value, when it is an element-wise factor and the values are small.
    pub local: Option<Values>,
    /// The gradient sent: `∂L/∂input` contributed by this op.
    pub grad: Values,
    /// Broadcast reduction or matrix-product rule, with shapes.
    pub note: Option<String>,
    /// When the input already received gradient from another op: (earlier sum, new sum).
    pub total: Option<(Values, Values)>,
}

/// A leaf's `.grad` being filled by its `AccumulateGrad`.
#[derive(Debug, Clone, PartialEq)]
pub struct Accumulation {
    /// The leaf's label.
    pub tensor: String,
    /// `.grad` before this backward (`None`: it had none).
    pub before: Option<Values>,
    /// The gradient this backward adds.
    pub added: Values,
    /// `.grad` after.
    pub after: Values,
}

/// One node of the backward pass, in execution order.
#[derive(Clone)]
pub struct Step {
    /// 1-based position in execution order.
    pub index: usize,
    /// The backward node (`"MulBackward"`, `"AccumulateGrad"`).
    pub node: &'static str,
    /// The label of the tensor whose gradient arrived.
    pub output: String,
    /// What the op computed in the forward pass (`f = q · z`).
    pub forward: String,
    /// The gradient that arrived: `∂L/∂output`.
    pub upstream: Values,
    /// One flow per input that received a gradient.
    pub flows: Vec<Flow>,
    /// For `AccumulateGrad`: the leaf's `.grad` update.
    pub accumulation: Option<Accumulation>,
    /// Whether the output is a non-leaf that keeps its gradient (`retain_grad`).
    pub retained: bool,
    /// Where the op was called.
    pub location: String,
    loss: String,
    graph: Arc<StepGraph>,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step")
            .field("index", &self.index)
            .field("node", &self.node)
            .field("output", &self.output)
            .field("upstream", &self.upstream)
            .field("flows", &self.flows)
            .field("accumulation", &self.accumulation)
            .finish()
    }
}

/// The graph a step-through draws, and the gradient updates of each step.
struct StepGraph {
    model: Model,
    seed: (usize, Values),
    /// Per step: the function that ran and the new `∂L/∂t` of the tensors it sent to.
    updates: Vec<(usize, Vec<(usize, Values)>)>,
}

impl StepGraph {
    fn overlay(&self, upto: usize) -> Overlay {
        let m = &self.model;
        let mut o = Overlay {
            grads: vec![None; m.tensors.len()],
            current: None,
            done: vec![false; m.funcs.len()],
            output: m.tensors[m.root].label.clone(),
        };
        o.grads[self.seed.0] = Some(self.seed.1.clone());
        for (f, ups) in &self.updates[..upto] {
            o.done[*f] = true;
            o.current = Some(*f);
            for (t, v) in ups {
                o.grads[*t] = Some(v.clone());
            }
        }
        o
    }
}

impl Step {
    /// Graphviz DOT of the graph after this step: the gradients known so far on the
    /// tensors (`∂f/∂q = -4`), this step's node in red, earlier ones in green.
    ///
    /// ```
    /// use nabla_autograd::{autograd::BackwardSteps, Tensor};
    /// let x = Tensor::scalar(3.0f64).requires_grad_(true).named("x");
    /// let y = (&x * &x).named("y");
    /// let steps: Vec<_> = BackwardSteps::new(&y).collect();
    /// assert!(steps[0].dot().contains("∂y/∂x = 6"));
    /// ```
    pub fn dot(&self) -> String {
        crate::viz::dot_of(&self.graph.model, Some(&self.graph.overlay(self.index)))
    }

    /// [`Step::dot`] as SVG.
    pub fn svg(&self) -> String {
        crate::viz::svg_of(&self.graph.model, Some(&self.graph.overlay(self.index)))
    }
}

fn is_scalar(v: &Values) -> bool {
    v.numel() == 1
}

fn product_op(local: &Values, upstream: &Values) -> &'static str {
    if is_scalar(local) || is_scalar(upstream) {
        "·"
    } else {
        "⊙"
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.loss;
        if let Some(acc) = &self.accumulation {
            writeln!(f, "step {}  AccumulateGrad  {}", self.index, acc.tensor)?;
            return match &acc.before {
                None => writeln!(f, "  {}.grad = {}  (was None)", acc.tensor, acc.after),
                Some(b) => writeln!(f, "  {}.grad: {} + {} = {}", acc.tensor, b, paren(&acc.added), acc.after),
            };
        }
        writeln!(f, "step {}  {}  {}", self.index, self.node, self.forward)?;
        writeln!(f, "  receives ∂{l}/∂{} = {}", self.output, self.upstream)?;
        if self.retained {
            writeln!(f, "  {}.grad = {}  (retain_grad)", self.output, self.upstream)?;
        }
        for fl in &self.flows {
            let to = &fl.to;
            let local = fl.local.as_ref().map(compact);
            match &local {
                Some(local) if !fl.formula.ends_with(&format!("= {local}")) => {
                    writeln!(f, "  → {to}  {} = {local}", fl.formula)?
                }
                _ => writeln!(f, "  → {to}  {}", fl.formula)?,
            }
            if let Some(n) = &fl.note {
                writeln!(f, "       {n}")?;
            }
            let chain = if self.output == *l {
                String::new()
            } else {
                format!("∂{l}/∂{} · ∂{}/∂{to} = ", self.output, self.output)
            };
            match &local {
                Some(local) if fl.note.is_none() => writeln!(
                    f,
                    "       ∂{l}/∂{to} = {chain}{} {} {} = {}",
                    self.upstream,
                    product_op(local, &self.upstream),
                    paren(local),
                    fl.grad
                )?,
                _ => writeln!(f, "       ∂{l}/∂{to} = {}", fl.grad)?,
            }
            if let Some((before, after)) = &fl.total {
                writeln!(
                    f,
                    "       {to} is used more than once: ∂{l}/∂{to} = {} + {} = {}",
                    before,
                    paren(&fl.grad),
                    after
                )?;
            }
        }
        Ok(())
    }
}

/// A local factor that is the same everywhere, as one number (`1` rather than `[[1, 1]]`).
fn compact(v: &Values) -> Values {
    match v.small() {
        Some(d) if d.len() > 1 && d.iter().all(|x| *x == d[0]) => {
            Values { shape: Vec::new(), dtype: v.dtype, data: Some(vec![d[0]]) }
        }
        _ => v.clone(),
    }
}

/// A value as the second term of a sum or product: negative scalars in parentheses.
fn paren(v: &Values) -> String {
    match v.scalar() {
        Some(x) if v.shape.is_empty() || v.numel() == 1 => factor(x, v.dtype),
        _ => v.to_string(),
    }
}

/// A leaf's gradient at the end of the narrated backward.
#[derive(Debug, Clone, PartialEq)]
pub struct LeafGrad {
    /// The leaf's label.
    pub tensor: String,
    /// `∂L/∂leaf` from this backward (what it added to `.grad`).
    pub grad: Values,
}

/// The record of a narrated backward: printable (`Display`) and structured.
///
/// ```
/// use nabla_autograd::{autograd::explain, Tensor};
/// let x = Tensor::scalar(-2.0f64).requires_grad_(true).named("x");
/// let y = Tensor::scalar(5.0f64).requires_grad_(true).named("y");
/// let z = Tensor::scalar(-4.0f64).requires_grad_(true).named("z");
/// let q = (&x + &y).named("q");
/// let f = (&q * &z).named("f");
/// let t = explain(&f);
/// assert_eq!(t.steps[0].node, "MulBackward");
/// assert_eq!(t.steps[0].flows[0].formula, "∂(a·b)/∂a = b");
/// assert_eq!(t.grad_of("x"), Some(-4.0));
/// assert_eq!(x.grad().unwrap().item(), -4.0); // a real backward
/// assert!(t.to_string().contains("∂f/∂q = 1 · (-4) = -4"));
/// ```
#[derive(Debug, Clone)]
pub struct Transcript {
    /// The output's label.
    pub output: String,
    /// The gradient backward started from (`1` for a scalar output).
    pub seed: Values,
    /// The nodes, in execution order.
    pub steps: Vec<Step>,
    /// The leaves' gradients, in forward order.
    pub gradients: Vec<LeafGrad>,
}

impl Transcript {
    /// The gradient of the scalar leaf labelled `name`.
    pub fn grad_of(&self, name: &str) -> Option<f64> {
        self.gradients.iter().find(|g| g.tensor == name).and_then(|g| g.grad.scalar())
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.output;
        writeln!(
            f,
            "backward from {l} {} {}, seeded with ∂{l}/∂{l} = {}",
            shape_str(&self.seed.shape),
            self.seed.dtype,
            self.seed
        )?;
        for s in &self.steps {
            write!(f, "{s}")?;
        }
        writeln!(f, "gradients")?;
        for g in &self.gradients {
            writeln!(f, "  ∂{l}/∂{} = {}", g.tensor, g.grad)?;
        }
        Ok(())
    }
}

/// The raw record of one event, before narration.
struct Event {
    func: usize,
    grad_in: Values,
    grads_out: Vec<Option<Values>>,
    leaf_grad_after: Option<Values>,
}

fn add(a: &Values, b: &Values) -> Values {
    let data = match (&a.data, &b.data) {
        (Some(x), Some(y)) if x.len() == y.len() => Some(x.iter().zip(y).map(|(p, q)| p + q).collect()),
        _ => None,
    };
    Values { shape: a.shape.clone(), dtype: a.dtype, data }
}

fn ratio(num: &Values, den: &Values) -> Option<Values> {
    let (n, d) = (num.data.as_ref()?, den.data.as_ref()?);
    if n.len() != d.len() || d.contains(&0.0) {
        return None;
    }
    Some(Values {
        shape: num.shape.clone(),
        dtype: num.dtype,
        data: Some(n.iter().zip(d).map(|(a, b)| a / b).collect()),
    })
}

fn constant(c: f64, like: &Values) -> Values {
    Values { shape: like.shape.clone(), dtype: like.dtype, data: Some(vec![c; like.numel()]) }
}

/// `"grad [4, 3] summed over dim 0 → [3] because b was broadcast"`
fn broadcast_note(from: &[usize], to: &[usize], who: &str) -> String {
    let lead = from.len().saturating_sub(to.len());
    let mut dims: Vec<usize> = (0..lead).collect();
    for (j, &s) in to.iter().enumerate() {
        if s == 1 && from.get(lead + j).is_some_and(|&o| o != 1) {
            dims.push(lead + j);
        }
    }
    let dims = dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ");
    let s = if dims.contains(',') { "s" } else { "" };
    format!("grad {} summed over dim{s} {dims} → {} because {who} was broadcast", shape_str(from), shape_str(to))
}

fn narrate(
    model: &Model,
    before: &[Option<Values>],
    events: Vec<Event>,
    seed: Values,
) -> (Vec<Step>, Vec<LeafGrad>, StepGraph) {
    let loss = model.tensors[model.root].label.clone();
    let mut sums: HashMap<usize, Values> = HashMap::new();
    sums.insert(model.root, seed.clone());
    let mut steps = Vec::new();
    let mut updates = Vec::new();
    let mut gradients: Vec<(usize, LeafGrad)> = Vec::new();
    let placeholder = Arc::new(StepGraph { model: Model::empty(), seed: (0, seed.clone()), updates: Vec::new() });
    for (k, ev) in events.into_iter().enumerate() {
        let func = &model.funcs[ev.func];
        let out = &model.tensors[func.output];
        let mut flows = Vec::new();
        let mut ups = Vec::new();
        let mut accumulation = None;
        if func.is_accumulate() {
            let after = ev.leaf_grad_after.unwrap_or_else(|| ev.grad_in.clone());
            accumulation = Some(Accumulation {
                tensor: out.label.clone(),
                before: before[func.output].clone(),
                added: ev.grad_in.clone(),
                after,
            });
            gradients.push((func.output, LeafGrad { tensor: out.label.clone(), grad: ev.grad_in.clone() }));
        }
        for (i, g) in ev.grads_out.iter().enumerate() {
            let (Some(g), Some(Some(t))) = (g, func.inputs.get(i)) else { continue };
            let to = model.tensors[*t].label.clone();
            let r = rule(func.name, func.inputs.len(), i);
            let broadcast = g.shape != ev.grad_in.shape && g.numel() != ev.grad_in.numel();
            let local = match r.kind {
                Kind::Mixing => None,
                _ if broadcast => None,
                _ => r
                    .constant
                    .map(|c| constant(c, g))
                    .or_else(|| ratio(g, &ev.grad_in))
                    .or_else(|| other_factor(model, ev.func, i, g)),
            };
            let note = if func.name == "MmBackward" {
                Some(matmul_shapes(model, func, i, &ev.grad_in.shape, &g.shape))
            } else if broadcast && r.kind == Kind::Elementwise {
                Some(broadcast_note(&ev.grad_in.shape, &g.shape, &to))
            } else {
                None
            };
            let total = sums.get(t).map(|prev| (prev.clone(), add(prev, g)));
            let new_sum = total.as_ref().map(|(_, s)| s.clone()).unwrap_or_else(|| g.clone());
            sums.insert(*t, new_sum.clone());
            ups.push((*t, new_sum));
            flows.push(Flow { input: i, to, formula: r.formula, local, grad: g.clone(), note, total });
        }
        updates.push((ev.func, ups));
        steps.push(Step {
            index: k + 1,
            node: func.name,
            output: out.label.clone(),
            forward: forward_expr(model, ev.func),
            upstream: ev.grad_in,
            flows,
            accumulation,
            retained: out.retains_grad && !out.is_leaf,
            location: func.location.clone(),
            loss: loss.clone(),
            graph: placeholder.clone(),
        });
    }
    gradients.sort_by_key(|(t, _)| *t);
    let graph = StepGraph { model: Model::empty(), seed: (model.root, seed), updates };
    (steps, gradients.into_iter().map(|(_, g)| g).collect(), graph)
}

/// "shapes [4, 3]ᵀ·[4, 2] → [3, 2]" for `dB = Aᵀ·dC` (C = A·B; an operand that is a
/// constant is not in the graph, so its shape is inferred from the other two).
fn matmul_shapes(model: &Model, func: &crate::viz::model::FNode, i: usize, c: &[usize], g: &[usize]) -> String {
    let known = |k: usize| func.inputs.get(k).copied().flatten().map(|t| model.tensors[t].shape.clone());
    let last2 = |s: &[usize]| -> (usize, usize) {
        let n = s.len();
        (s[n.saturating_sub(2)], s[n - 1])
    };
    let (cm, cn) = last2(c);
    let (gr, gc) = last2(g);
    if i == 0 {
        let b = known(1).unwrap_or_else(|| vec![gc, cn]);
        format!("shapes {}·{}ᵀ → {}", shape_str(c), shape_str(&b), shape_str(g))
    } else {
        let a = known(0).unwrap_or_else(|| vec![cm, gr]);
        format!("shapes {}ᵀ·{} → {}", shape_str(&a), shape_str(c), shape_str(g))
    }
}

/// The local factor of a product when the gradient ratio is not usable (a zero upstream):
/// the other operand's value.
fn other_factor(model: &Model, func: usize, i: usize, g: &Values) -> Option<Values> {
    let f = &model.funcs[func];
    if f.name != "MulBackward" || f.inputs.len() != 2 {
        return None;
    }
    let other = f.inputs[1 - i]?;
    let v = model.tensors[other].value.clone()?;
    (v.shape == g.shape).then_some(v)
}

/// Runs backward from `output` (as [`Tensor::backward_with`]) and narrates it.
pub fn explain_with(output: &Tensor, opts: &BackwardOptions) -> Result<Transcript> {
    let mut model = Model::build(output, &[]);
    let before: Vec<Option<Values>> = model.tensors.iter().map(|t| t.grad.clone().map(shrink)).collect();
    let seed = match &opts.gradient {
        Some(g) => Values::of(g),
        None => Values { shape: output.shape().to_vec(), dtype: output.dtype(), data: Some(vec![1.0]) },
    };
    let mut events = Vec::new();
    backward_observed(output, opts, &mut |ev| {
        let Some(&func) = model.by_key.get(&ev.node.id()) else { return };
        let leaf_grad_after = ev.node.variable().and_then(|v| v.grad()).map(|g| Values::of(&g));
        events.push(Event {
            func,
            grad_in: Values::of(ev.grad_in),
            grads_out: ev.grads_out.iter().map(|g| g.as_ref().map(Values::of)).collect(),
            leaf_grad_after,
        });
    })?;
    model.refresh_grads();
    model.freeze();
    let (mut steps, gradients, mut graph) = narrate(&model, &before, events, seed.clone());
    let output_label = model.tensors[model.root].label.clone();
    graph.model = model;
    let graph = Arc::new(graph);
    for s in &mut steps {
        s.graph = graph.clone();
    }
    Ok(Transcript { output: output_label, seed, steps, gradients })
}

fn shrink(v: Values) -> Values {
    if v.numel() <= crate::viz::fmt::SHOW_VALUES {
        v
    } else {
        Values { data: None, ..v }
    }
}

/// Runs a real backward from the scalar `output` — `.grad` is filled exactly as by
/// [`Tensor::backward`] — and returns the narrated chain rule ([`Transcript`]).
///
/// ```
/// use nabla_autograd::{autograd::explain, Tensor};
/// let x = Tensor::scalar(2.0f64).requires_grad_(true).named("x");
/// let w = Tensor::scalar(1.0f64).requires_grad_(true).named("w");
/// let y = ((&x + &w) * (&w + 1.0)).named("y");
/// let t = explain(&y);
/// assert_eq!((t.grad_of("w"), t.grad_of("x")), (Some(5.0), Some(2.0)));
/// println!("{t}");
/// ```
///
/// # Panics
/// As [`Tensor::backward`] (see [`try_explain`]).
#[track_caller]
pub fn explain(output: &Tensor) -> Transcript {
    crate::ops::or_panic(try_explain(output))
}

/// [`explain`], returning errors instead of panicking.
pub fn try_explain(output: &Tensor) -> Result<Transcript> {
    explain_with(output, &BackwardOptions::default())
}

impl Tensor {
    /// [`crate::autograd::explain`] as a method: a real backward that also narrates the
    /// chain rule, node by node.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let a = Tensor::scalar(3.0f32).requires_grad_(true).named("a");
    /// let t = (&a * &a).named("s").backward_explained();
    /// assert_eq!(a.grad().unwrap().item(), 6.0);
    /// assert!(t.to_string().contains("a is used more than once: ∂s/∂a = 3 + 3 = 6"));
    /// ```
    #[track_caller]
    pub fn backward_explained(&self) -> Transcript {
        explain(self)
    }
}

/// The steps of a backward pass, one at a time, each able to draw the graph with the
/// gradients known so far ([`Step::dot`]). The backward runs (for real) when the iterator
/// is made; iterating replays it.
///
/// ```
/// use nabla_autograd::{autograd::BackwardSteps, Tensor};
/// let x = Tensor::scalar(-2.0f64).requires_grad_(true).named("x");
/// let y = Tensor::scalar(5.0f64).requires_grad_(true).named("y");
/// let f = (&x * &y).named("f");
/// let nodes: Vec<&str> = BackwardSteps::new(&f).map(|s| s.node).collect();
/// assert_eq!(nodes, ["MulBackward", "AccumulateGrad", "AccumulateGrad"]);
/// ```
pub struct BackwardSteps {
    steps: std::vec::IntoIter<Step>,
}

impl BackwardSteps {
    /// Runs backward from the scalar `output` and records its steps.
    ///
    /// # Panics
    /// As [`Tensor::backward`] (see [`BackwardSteps::try_new`]).
    #[track_caller]
    pub fn new(output: &Tensor) -> BackwardSteps {
        crate::ops::or_panic(BackwardSteps::try_new(output))
    }

    /// [`BackwardSteps::new`], returning errors instead of panicking.
    pub fn try_new(output: &Tensor) -> Result<BackwardSteps> {
        Ok(BackwardSteps { steps: try_explain(output)?.steps.into_iter() })
    }
}

impl Iterator for BackwardSteps {
    type Item = Step;
    fn next(&mut self) -> Option<Step> {
        self.steps.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.steps.size_hint()
    }
}

impl ExactSizeIterator for BackwardSteps {}
