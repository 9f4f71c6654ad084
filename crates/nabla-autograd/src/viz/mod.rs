//! Seeing the graph: export what a tensor was computed from as Graphviz DOT, SVG (laid out
//! here, no system binary needed) or an interactive HTML page.
//!
//! One box per tensor — its name (`.named("w1")`) or `v7` (numbered inputs-first, so the
//! same program gives the same numbers), shape, dtype and, for tensors of at most 16
//! elements, values and gradient — and one ellipse per backward function (`MulBackward`,
//! `AccumulateGrad` for leaves). Edges follow the forward pass; a dashed line joins a leaf
//! to the `AccumulateGrad` that fills its `.grad`; retained gradients get a double border.
//!
//! ```
//! use nabla_autograd::{viz, Tensor};
//! let x = Tensor::scalar(-2.0f64).requires_grad_(true).named("x");
//! let y = Tensor::scalar(5.0f64).requires_grad_(true).named("y");
//! let z = Tensor::scalar(-4.0f64).requires_grad_(true).named("z");
//! let q = (&x + &y).named("q");
//! let f = (&q * &z).named("f");
//! f.backward();
//! let dot = viz::to_dot(&f);
//! assert!(dot.contains("label=\"x\\n[] float64\\ndata -2\\ngrad -4\""));
//! assert!(dot.contains("label=\"MulBackward\""));
//! assert!(viz::to_svg(&f).starts_with("<svg"));
//! ```
//!
//! The narrated backward ([`crate::autograd::explain`]), the step-through
//! ([`crate::autograd::BackwardSteps`]), [`Tensor::why_no_grad`] and the per-node
//! finite-difference check ([`crate::autograd::check_nodes`]) live next to the engine in
//! [`crate::autograd`]; they draw with this module.

mod check;
mod dot;
pub(crate) mod fmt;
pub(crate) mod formulas;
mod layout;
pub(crate) mod model;
pub(crate) mod scene;
mod svg;
mod why;

pub use check::{check_nodes, check_nodes_with, first_bad_node, NodeCheck, NodeStatus};
pub use fmt::Values;
pub use why::NoGradReason;

use crate::tensor::Tensor;
use model::Model;

/// Options of [`to_dot_with`], [`to_svg_with`] and [`to_html_with`].
#[derive(Clone)]
pub struct DotOptions {
    /// Boxes drawn around groups of tensors, e.g. one per layer: (title, members).
    pub clusters: Vec<(String, Vec<Tensor>)>,
    /// Labels for tensors, used instead of their [`Tensor::name`].
    pub labels: Vec<(String, Tensor)>,
    /// Show values and gradients of tensors with at most 16 elements (default `true`).
    pub show_values: bool,
}

impl Default for DotOptions {
    fn default() -> Self {
        DotOptions { clusters: Vec::new(), labels: Vec::new(), show_values: true }
    }
}

impl DotOptions {
    /// Labels each parameter with its name and draws a cluster per prefix (`fc1.weight` and
    /// `fc1.bias` in a box titled `fc1`), as `named_parameters()` lists them.
    ///
    /// ```
    /// use nabla_autograd::{viz::{self, DotOptions}, Tensor};
    /// let w = Tensor::ones(&[2, 2]).requires_grad_(true);
    /// let b = Tensor::zeros(&[2]).requires_grad_(true);
    /// let x = Tensor::ones(&[1, 2]);
    /// let y = (x.matmul(&w) + &b).sum();
    /// let opts = DotOptions::from_named_parameters(&[("fc1.weight".into(), w), ("fc1.bias".into(), b)]);
    /// let dot = viz::to_dot_with(&y, &opts);
    /// assert!(dot.contains("subgraph cluster_0 {") && dot.contains("label=\"fc1\""));
    /// assert!(dot.contains("fc1.weight\\n[2, 2] float32"));
    /// ```
    pub fn from_named_parameters(params: &[(String, Tensor)]) -> DotOptions {
        let mut clusters: Vec<(String, Vec<Tensor>)> = Vec::new();
        for (name, t) in params {
            if let Some((prefix, _)) = name.rsplit_once('.') {
                match clusters.iter_mut().find(|(p, _)| p == prefix) {
                    Some((_, members)) => members.push(t.clone()),
                    None => clusters.push((prefix.to_string(), vec![t.clone()])),
                }
            }
        }
        DotOptions { clusters, labels: params.to_vec(), show_values: true }
    }
}

fn model_for(t: &Tensor, opts: &DotOptions) -> Model {
    let labels: Vec<(String, u64)> = opts.labels.iter().map(|(s, t)| (s.clone(), t.id())).collect();
    Model::build(t, &labels)
}

/// Graphviz DOT of everything `t` was computed from (see the [module docs](self)).
/// Render with `dot -Tsvg`, or use [`to_svg`].
///
/// ```
/// use nabla_autograd::{viz, Tensor};
/// let x = Tensor::scalar(2.0f32).requires_grad_(true).named("x");
/// let y = (&x * &x).named("y");
/// assert_eq!(
///     viz::to_dot(&y),
///     "digraph nabla {
///   rankdir=LR;
///   node [fontname=\"Helvetica\", fontsize=11];
///   edge [fontname=\"Helvetica\", fontsize=9];
///   t0 [shape=box, style=\"rounded,filled\", fillcolor=\"#cfe8fc\", label=\"x\\n[] float32\\ndata 2\"];
///   t1 [shape=box, style=\"rounded,filled\", fillcolor=\"#fde68a\", label=\"y\\n[] float32\\ndata 4\"];
///   f0 [shape=ellipse, style=filled, fillcolor=\"#eeeeee\", label=\"AccumulateGrad\"];
///   f1 [shape=ellipse, style=filled, fillcolor=\"#eeeeee\", label=\"MulBackward\"];
///   t0 -> f0 [style=dashed, arrowhead=none];
///   t0 -> f1 [label=\"a\"];
///   t0 -> f1 [label=\"b\"];
///   f1 -> t1;
/// }
/// "
/// );
/// ```
pub fn to_dot(t: &Tensor) -> String {
    to_dot_with(t, &DotOptions::default())
}

/// [`to_dot`] with clusters, labels and value display chosen by `opts`.
pub fn to_dot_with(t: &Tensor, opts: &DotOptions) -> String {
    let m = model_for(t, opts);
    dot::render(&scene::build(&m, None, opts))
}

/// The graph of [`to_dot`] as a standalone SVG image, laid out by nabla itself (layered,
/// left to right), so no Graphviz installation is needed.
///
/// ```
/// use nabla_autograd::{viz, Tensor};
/// let x = Tensor::scalar(3.0f64).requires_grad_(true).named("x");
/// let svg = viz::to_svg(&x.tanh());
/// assert!(svg.starts_with("<svg") && svg.contains("TanhBackward") && svg.contains(">x</text>"));
/// ```
pub fn to_svg(t: &Tensor) -> String {
    to_svg_with(t, &DotOptions::default())
}

/// [`to_svg`] with `opts`.
pub fn to_svg_with(t: &Tensor, opts: &DotOptions) -> String {
    let m = model_for(t, opts);
    svg::render(&scene::build(&m, None, opts))
}

/// A self-contained HTML page (inline SVG, CSS and script; no network) showing the graph;
/// hovering or clicking a node shows its values, gradient, shape and, for functions, what
/// they computed and where. `page.html#t3` opens with tensor 3 selected.
///
/// ```
/// use nabla_autograd::{viz, Tensor};
/// let x = Tensor::scalar(3.0f64).requires_grad_(true).named("x");
/// let html = viz::to_html(&(&x * 2.0));
/// assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"));
/// assert!(!html.contains(" src=") && !html.contains("<link")); // nothing is fetched
/// ```
pub fn to_html(t: &Tensor) -> String {
    to_html_with(t, &DotOptions::default())
}

/// [`to_html`] with `opts`.
pub fn to_html_with(t: &Tensor, opts: &DotOptions) -> String {
    let m = model_for(t, opts);
    let title = format!("nabla graph of {}", m.tensors[m.root].label);
    svg::page(&svg::render(&scene::build(&m, None, opts)), &title)
}

/// One op of the forward pass, as [`forward_steps`] lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardStep {
    /// The backward node the op recorded (`"AddBackward"`).
    pub node: &'static str,
    /// What it computed, with the tensors' labels (`v2 = x + y`).
    pub computes: String,
    /// The result, while the program (or a backward rule) still holds it.
    pub value: Option<Values>,
}

/// The ops that computed `t`, in an order they could have run (inputs first), labelled
/// as in [`to_dot`]: the forward pass written out.
///
/// ```
/// use nabla_autograd::{viz, Tensor};
/// let x = Tensor::scalar(-2.0f64).requires_grad_(true).named("x");
/// let y = Tensor::scalar(5.0f64).requires_grad_(true).named("y");
/// let q = &x + &y;
/// let f = (&q * 2.0).named("f");
/// let lines: Vec<String> = viz::forward_steps(&f)
///     .iter()
///     .map(|s| format!("{} = {}", s.computes, s.value.as_ref().unwrap()))
///     .collect();
/// assert_eq!(lines, ["v2 = x + y = 3", "f = v2 · c = 6"]);
/// ```
pub fn forward_steps(t: &Tensor) -> Vec<ForwardStep> {
    let m = Model::build(t, &[]);
    m.funcs
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.is_accumulate())
        .map(|(j, f)| ForwardStep {
            node: f.name,
            computes: formulas::forward_expr(&m, j),
            value: m.tensors[f.output].value.clone().map(|v| {
                if v.numel() <= fmt::SHOW_VALUES {
                    v
                } else {
                    Values { data: None, ..v }
                }
            }),
        })
        .collect()
}

/// The SVG of a model with gradients flowing (step-through).
pub(crate) fn svg_of(m: &Model, overlay: Option<&scene::Overlay>) -> String {
    svg::render(&scene::build(m, overlay, &DotOptions::default()))
}

/// The DOT of a model with gradients flowing (step-through).
pub(crate) fn dot_of(m: &Model, overlay: Option<&scene::Overlay>) -> String {
    dot::render(&scene::build(m, overlay, &DotOptions::default()))
}

#[cfg(test)]
mod tests;
