//! What is drawn, independent of the output format: boxes for tensors, ellipses for
//! backward functions, edges in the direction of the forward pass. DOT and SVG both
//! render a [`Scene`].

use super::fmt::{nested, shape_str, Values};
use super::model::Model;
use super::DotOptions;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Shape {
    Box,
    Ellipse,
}

pub(crate) struct SNode {
    /// `t3` for tensor 3, `f2` for function 2.
    pub(crate) id: String,
    pub(crate) lines: Vec<String>,
    pub(crate) shape: Shape,
    pub(crate) fill: &'static str,
    /// A retained gradient (drawn with a double border).
    pub(crate) double: bool,
    /// The node running in a step-through (drawn with a thick red border).
    pub(crate) current: bool,
    /// Everything known about the node, for the HTML page's panel.
    pub(crate) detail: Vec<(String, String)>,
}

pub(crate) struct SEdge {
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) label: Option<String>,
    /// The leaf–`AccumulateGrad` link (not a forward data flow).
    pub(crate) dashed: bool,
}

pub(crate) struct Scene {
    pub(crate) nodes: Vec<SNode>,
    pub(crate) edges: Vec<SEdge>,
    /// (name, scene node indices)
    pub(crate) clusters: Vec<(String, Vec<usize>)>,
}

/// Gradients flowing during a step-through: `∂L/∂t` as far as it is known after a step.
pub(crate) struct Overlay {
    pub(crate) grads: Vec<Option<Values>>,
    /// The function that just ran.
    pub(crate) current: Option<usize>,
    /// Functions that have run.
    pub(crate) done: Vec<bool>,
    /// The label of the output, for `∂f/∂x`.
    pub(crate) output: String,
}

pub(crate) const LEAF: &str = "#cfe8fc";
pub(crate) const OUTPUT: &str = "#fde68a";
pub(crate) const TENSOR: &str = "#ffffff";
pub(crate) const FUNC: &str = "#eeeeee";
pub(crate) const DONE: &str = "#bbf7d0";
pub(crate) const CURRENT: &str = "#fca5a5";

const INPUT_NAMES: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];

/// The name of input `i` of an op (`a`, `b`, …), as the formulas use them.
pub(crate) fn input_name(i: usize) -> String {
    INPUT_NAMES.get(i).map(|s| s.to_string()).unwrap_or_else(|| format!("x{i}"))
}

/// `prefix` and the values; a matrix gets one line per row, aligned under the first.
fn value_lines(prefix: &str, v: &Values) -> Vec<String> {
    let Some(d) = v.small() else { return Vec::new() };
    if v.shape.len() != 2 || v.shape[0] < 2 {
        return vec![format!("{prefix}{}", nested(d, &v.shape, v.dtype))];
    }
    let (rows, cols) = (v.shape[0], v.shape[1]);
    let pad = " ".repeat(prefix.chars().count());
    (0..rows)
        .map(|r| {
            let row = nested(&d[r * cols..(r + 1) * cols], &[cols], v.dtype);
            let (open, close) = (if r == 0 { "[" } else { " " }, if r + 1 == rows { "]" } else { "," });
            format!("{}{open}{row}{close}", if r == 0 { prefix } else { &pad })
        })
        .collect()
}

fn full_values(v: &Values) -> String {
    match &v.data {
        Some(d) if d.len() <= 64 => nested(d, &v.shape, v.dtype),
        Some(d) => {
            let head: Vec<String> = d.iter().take(64).map(|x| super::fmt::num(*x, v.dtype)).collect();
            format!("first 64 of {}: {}, …", d.len(), head.join(", "))
        }
        None => format!("{} values (not kept)", v.numel()),
    }
}

pub(crate) fn build(model: &Model, overlay: Option<&Overlay>, opts: &DotOptions) -> Scene {
    let mut nodes = Vec::new();
    for (i, t) in model.tensors.iter().enumerate() {
        let mut lines = vec![t.label.clone(), format!("{} {}", shape_str(&t.shape), t.dtype)];
        let mut detail = vec![
            ("tensor".to_string(), t.label.clone()),
            ("shape".to_string(), shape_str(&t.shape)),
            ("dtype".to_string(), t.dtype.to_string()),
        ];
        let kind = if t.is_leaf {
            if t.requires_grad {
                "leaf (requires_grad)"
            } else {
                "leaf"
            }
        } else if t.retains_grad {
            "non-leaf (retains grad)"
        } else {
            "non-leaf"
        };
        detail.push(("kind".to_string(), kind.to_string()));
        if let Some(v) = &t.value {
            if opts.show_values {
                lines.extend(value_lines("data ", v));
            }
            detail.push(("data".to_string(), full_values(v)));
        }
        let flowing = overlay.and_then(|o| o.grads[i].as_ref().map(|g| (o, g)));
        match (flowing, &t.grad) {
            (Some((o, g)), _) => {
                if opts.show_values {
                    lines.extend(value_lines(&format!("∂{}/∂{} = ", o.output, t.label), g));
                }
                detail.push((format!("∂{}/∂{}", o.output, t.label), full_values(g)));
            }
            (None, Some(g)) if overlay.is_none() => {
                let tag = if t.retains_grad { "grad (retained) " } else { "grad " };
                if opts.show_values {
                    lines.extend(value_lines(tag, g));
                }
                detail.push(("grad".to_string(), full_values(g)));
            }
            _ => {}
        }
        let fill = if i == model.root {
            OUTPUT
        } else if t.is_leaf {
            LEAF
        } else {
            TENSOR
        };
        nodes.push(SNode {
            id: format!("t{i}"),
            lines,
            shape: Shape::Box,
            fill,
            double: t.retains_grad,
            current: false,
            detail,
        });
    }
    let nt = nodes.len();
    for (j, f) in model.funcs.iter().enumerate() {
        let current = overlay.is_some_and(|o| o.current == Some(j));
        let fill = match overlay {
            Some(_) if current => CURRENT,
            Some(o) if o.done[j] => DONE,
            _ => FUNC,
        };
        let out = &model.tensors[f.output].label;
        let mut detail = vec![("function".to_string(), f.name.to_string())];
        if f.is_accumulate() {
            detail.push(("accumulates into".to_string(), format!("{out}.grad")));
        } else {
            detail.push(("computes".to_string(), super::formulas::forward_expr(model, j)));
            detail.push(("created at".to_string(), f.location.clone()));
        }
        nodes.push(SNode {
            id: format!("f{j}"),
            lines: vec![f.name.to_string()],
            shape: Shape::Ellipse,
            fill,
            double: false,
            current,
            detail,
        });
    }
    let mut edges = Vec::new();
    for (j, f) in model.funcs.iter().enumerate() {
        if f.is_accumulate() {
            edges.push(SEdge { from: f.output, to: nt + j, label: None, dashed: true });
            continue;
        }
        let many = f.inputs.len() > 1;
        for (k, inp) in f.inputs.iter().enumerate() {
            if let Some(t) = inp {
                edges.push(SEdge { from: *t, to: nt + j, label: many.then(|| input_name(k)), dashed: false });
            }
        }
        edges.push(SEdge { from: nt + j, to: f.output, label: None, dashed: false });
    }
    let mut clusters = Vec::new();
    for (name, members) in &opts.clusters {
        let mut idx = Vec::new();
        for m in members {
            if let Some(t) = model.find(m) {
                if !clusters.iter().any(|(_, v): &(String, Vec<usize>)| v.contains(&t)) {
                    idx.push(t);
                    if let Some(f) = model.tensors[t].func.filter(|f| model.funcs[*f].is_accumulate()) {
                        idx.push(nt + f);
                    }
                }
            }
        }
        if !idx.is_empty() {
            clusters.push((name.clone(), idx));
        }
    }
    Scene { nodes, edges, clusters }
}
