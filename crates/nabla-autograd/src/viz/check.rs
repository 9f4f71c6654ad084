//! Per-node finite-difference checks: which node's backward rule is wrong.
//!
//! `gradcheck` says *whether* the gradient of a whole function is right; when it is not,
//! this says *where*. For every node `F` of the graph with output `o` (in the order the
//! forward pass ran), it compares a directional derivative of `o` computed two ways:
//!
//! - analytic: backward from `F` alone, seeded with a random `r`, gives `Jᵀr` for every
//!   input; dotted with a random direction `d` of the inputs: `rᵀ J d`;
//! - numeric: re-run the forward at `x ± ε·d` and read `o` again: `rᵀ (o₊ − o₋) / 2ε`.
//!
//! The analytic value of `F` uses every backward rule between the inputs and `F`, so once
//! one rule is wrong every node after it disagrees too: the *first* node that disagrees is
//! the culprit. (A node whose output is not kept — not saved by any backward rule and not
//! held by the program — cannot be read back; it is reported as unobservable, and a wrong
//! rule there shows up at the first observable node after it.)

use super::model::{topo_nodes, Model};
use crate::engine::{run, RunOptions};
use crate::grad_mode::enable_grad;
use crate::gradcheck::GradcheckOptions;
use crate::graph::NodeRef;
use crate::tensor::Tensor;
use nabla_tensor::{DType, Error, Result};
use std::fmt;

/// The verdict of [`check_nodes`] on one node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeStatus {
    /// Analytic and numeric directional derivatives agree.
    Agrees,
    /// They differ beyond the tolerance.
    Disagrees,
    /// The node's output was not kept, so it could not be read back.
    Unobservable,
    /// The node's backward returned an error.
    Failed(String),
}

/// One node's check: `rᵀ J d` from its backward against finite differences.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeCheck {
    /// Position in forward order (inputs first), as in the graph export (`f3`).
    pub index: usize,
    /// The backward node (`"MulBackward"`, a custom op's name).
    pub node: &'static str,
    /// What it computed (`v3 = x · y`).
    pub computes: String,
    /// Where the op was called.
    pub location: String,
    /// The verdict.
    pub status: NodeStatus,
    /// `rᵀ J d` from backward (summed over the random directions tried).
    pub analytic: f64,
    /// The same from central differences.
    pub numeric: f64,
}

impl NodeCheck {
    /// Whether the node's backward is wrong (disagrees or fails).
    pub fn is_failure(&self) -> bool {
        matches!(self.status, NodeStatus::Disagrees | NodeStatus::Failed(_))
    }
}

impl fmt::Display for NodeCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = format!("f{} {} ({}, at {})", self.index, self.node, self.computes, self.location);
        match &self.status {
            NodeStatus::Agrees => {
                write!(f, "ok        {head}: analytic {:.6e}, numeric {:.6e}", self.analytic, self.numeric)
            }
            NodeStatus::Disagrees => write!(
                f,
                "MISMATCH  {head}: backward gives {:.6e}, finite differences {:.6e}",
                self.analytic, self.numeric
            ),
            NodeStatus::Unobservable => write!(f, "skipped   {head}: output not kept, cannot be read back"),
            NodeStatus::Failed(e) => write!(f, "ERROR     {head}: backward failed: {e}"),
        }
    }
}

/// A small deterministic generator, so that checking does not move the user's RNG.
struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// The forward values of every op node of a run, in model order.
fn forward_values(
    f: &dyn Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
) -> (Tensor, Vec<&'static str>, Vec<Option<Vec<f64>>>) {
    let y = enable_grad(|| f(inputs));
    let m = Model::build(&y, &[]);
    let names = m.funcs.iter().map(|f| f.name).collect();
    let values = m
        .funcs
        .iter()
        .map(|func| {
            let t = &m.tensors[func.output];
            t.value.as_ref().and_then(|v| v.data.clone())
        })
        .collect();
    (y, names, values)
}

/// Checks every node of the graph `f(inputs)` builds, in forward order, with the default
/// tolerances. Inputs that require grad must be float64. See the [module docs](crate::viz).
///
/// ```
/// use nabla_autograd::{autograd::{apply_custom, check_nodes, first_bad_node, CustomOp}, Result, Tensor};
/// /// x² with a wrong derivative: x instead of 2x.
/// struct BadSquare;
/// impl CustomOp for BadSquare {
///     fn name(&self) -> &'static str { "BadSquareBackward" }
///     fn forward(&self, x: &[Tensor]) -> Result<Tensor> { Ok(&x[0] * &x[0]) }
///     fn backward(&self, x: &[Tensor], _out: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
///         Ok(vec![Some(g * &x[0])])
///     }
/// }
/// let x = Tensor::from_vec(vec![0.5f64, -1.0, 2.0], &[3]).requires_grad_(true);
/// let f = |xs: &[Tensor]| apply_custom(BadSquare, &[&(&xs[0] * 3.0)]).unwrap().exp().sum();
/// let bad = first_bad_node(f, &[x.clone()]).unwrap().unwrap();
/// assert_eq!(bad.node, "BadSquareBackward");
/// let all = check_nodes(f, &[x]).unwrap();
/// assert_eq!(all[0].node, "MulBackward"); // x * 3, before the bad node: fine
/// assert!(!all[0].is_failure() && all[1].is_failure());
/// ```
pub fn check_nodes(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) -> Result<Vec<NodeCheck>> {
    check_nodes_with(f, inputs, &GradcheckOptions::default())
}

/// The first node whose backward is wrong, if any ([`check_nodes`]).
pub fn first_bad_node(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) -> Result<Option<NodeCheck>> {
    Ok(check_nodes(f, inputs)?.into_iter().find(|c| c.is_failure()))
}

/// [`check_nodes`] with explicit tolerances and step (`eps`, `atol`, `rtol` as in
/// [`crate::autograd::gradcheck_with`]).
pub fn check_nodes_with(
    f: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    opts: &GradcheckOptions,
) -> Result<Vec<NodeCheck>> {
    for (i, x) in inputs.iter().enumerate() {
        if x.requires_grad() && x.dtype() != DType::F64 {
            return Err(Error::invalid_argument(
                "check_nodes",
                format!("input {i} is {}; finite differences need float64 inputs", x.dtype()),
            ));
        }
    }
    let wrt: Vec<usize> = (0..inputs.len()).filter(|&i| inputs[i].requires_grad()).collect();
    if wrt.is_empty() {
        return Err(Error::invalid_argument("check_nodes", "no input requires grad"));
    }
    let base = enable_grad(|| f(inputs));
    let model = Model::build(&base, &[]);
    let nodes: Vec<NodeRef> = match super::model::existing_grad_node(&base) {
        Some(root) => topo_nodes(&root),
        None => return Err(Error::invalid_argument("check_nodes", "the output does not depend on any input")),
    };
    let names: Vec<&'static str> = model.funcs.iter().map(|f| f.name).collect();
    let captures: Vec<NodeRef> = wrt.iter().filter_map(|&i| inputs[i].grad_node()).collect();
    let mut rng = SplitMix(0x006e_6162_6c61);
    const DIRECTIONS: usize = 2;
    let mut analytic = vec![0.0f64; nodes.len()];
    let mut numeric = vec![0.0f64; nodes.len()];
    let mut observable = vec![true; nodes.len()];
    let mut failed: Vec<Option<String>> = vec![None; nodes.len()];
    for _ in 0..DIRECTIONS {
        let dirs: Vec<Vec<f64>> = wrt.iter().map(|&i| rng.vec(inputs[i].numel())).collect();
        let shifted = |sign: f64| -> Vec<Tensor> {
            let mut k = 0;
            inputs
                .iter()
                .map(|x| {
                    if !x.requires_grad() {
                        return x.clone();
                    }
                    let v: Vec<f64> =
                        x.to_vec::<f64>().iter().zip(&dirs[k]).map(|(a, d)| a + sign * opts.eps * d).collect();
                    k += 1;
                    Tensor::from_vec(v, x.shape()).requires_grad_(true)
                })
                .collect()
        };
        let (_yp, names_p, plus) = forward_values(&f, &shifted(1.0));
        let (_ym, names_m, minus) = forward_values(&f, &shifted(-1.0));
        if names_p != names || names_m != names {
            return Err(Error::invalid_argument(
                "check_nodes",
                "the graph changed when the inputs were perturbed (control flow that depends on values?)",
            ));
        }
        for (j, node) in nodes.iter().enumerate() {
            if node.leaf().is_some() {
                continue;
            }
            let shape = node.header().out_shape.to_vec();
            let n: usize = shape.iter().product();
            let r = rng.vec(n);
            match (&plus[j], &minus[j]) {
                (Some(p), Some(m)) if p.len() == n && m.len() == n => {
                    numeric[j] += (0..n).map(|e| r[e] * (p[e] - m[e]) / (2.0 * opts.eps)).sum::<f64>();
                }
                _ => observable[j] = false,
            }
            if failed[j].is_some() {
                continue;
            }
            let seed = Tensor::from_vec(r, &shape).to_dtype(node.header().out_dtype);
            let opts_run =
                RunOptions { retain_graph: true, create_graph: false, capture: Some(&captures), observer: None };
            match run(&[(node.clone(), seed)], opts_run) {
                Ok(gs) => {
                    for (g, d) in gs.iter().zip(&dirs) {
                        if let Some(g) = g {
                            analytic[j] += g.to_vec::<f64>().iter().zip(d).map(|(a, b)| a * b).sum::<f64>();
                        }
                    }
                }
                Err(e) => failed[j] = Some(e.to_string()),
            }
        }
    }
    let mut out = Vec::new();
    for (j, node) in nodes.iter().enumerate() {
        if node.leaf().is_some() {
            continue;
        }
        let status = if let Some(e) = failed[j].take() {
            NodeStatus::Failed(e)
        } else if !observable[j] {
            NodeStatus::Unobservable
        } else if (analytic[j] - numeric[j]).abs() > opts.atol + opts.rtol * numeric[j].abs() {
            NodeStatus::Disagrees
        } else {
            NodeStatus::Agrees
        };
        out.push(NodeCheck {
            index: j,
            node: names[j],
            computes: super::formulas::forward_expr(&model, j),
            location: model.funcs[j].location.clone(),
            status,
            analytic: analytic[j],
            numeric: numeric[j],
        });
    }
    Ok(out)
}
