//! Differentiable operations, one family per file. Each file holds the public methods,
//! the forward (a kernel call), the backward rule next to it, and the gradcheck tests.
//!
//! `record` is the one place an op joins the graph.

pub mod activation;
pub mod binary;
pub mod conv;
pub mod dropout;
pub mod index;
pub mod inplace;
pub mod join;
pub mod linear;
pub mod loss;
pub mod matmul;
pub mod pool;
pub mod reduce;
pub mod shape;
pub mod unary;

use crate::grad_mode::{is_anomaly_enabled, is_grad_enabled};
use crate::graph::{Backward, NodeHeader, NodeRef, OpNode, Rule};
use crate::tensor::{Meta, Tensor};
use nabla_tensor::{Error, RawTensor, Result};
use smallvec::SmallVec;
use std::panic::Location;

/// Wraps the result `out` of an op on `inputs` as a tensor, recording a node with the
/// rule made by `make` when grad mode is on and an input requires grad. `save_output`
/// keeps `out` for the rule ([`crate::BackwardCtx::output`]).
#[track_caller]
pub(crate) fn record<B: Backward>(
    out: RawTensor,
    inputs: &[&Tensor],
    save_output: bool,
    make: impl FnOnce() -> B,
) -> Result<Tensor> {
    let location = Location::caller();
    // With grad mode on, one look at each input: its node (`None` when it does not require grad).
    let mut next: SmallVec<[Option<NodeRef>; 2]> = SmallVec::with_capacity(inputs.len());
    let grad_mode = is_grad_enabled();
    if grad_mode {
        for t in inputs {
            next.push(t.grad_node());
        }
    }
    if next.iter().all(Option::is_none) {
        // nothing to record
        let made_under_no_grad = !grad_mode && inputs.iter().any(|t| t.requires_grad());
        if is_anomaly_enabled() {
            anomaly_check_forward(inputs_name::<B>(), &out, location)?;
        }
        return Ok(Tensor::new_impl(out, Meta { made_under_no_grad, ..Default::default() }));
    }
    let op = make();
    let name = op.name();
    if is_anomaly_enabled() {
        anomaly_check_forward(name, &out, location)?;
    }
    let make = |output, out: &RawTensor| -> NodeRef {
        // built in its allocation (`nabla_tensor::arc`)
        NodeRef::new_in_place(|slot| {
            slot.write(OpNode {
                header: NodeHeader::new(name, next, out, save_output, location, output),
                rule: Rule::new(op),
            })
        })
    };
    Ok(Tensor::with_new_grad_fn(out, make))
}

fn inputs_name<B: Backward>() -> &'static str {
    let full = std::any::type_name::<B>();
    full.rsplit("::").next().unwrap_or(full)
}

fn anomaly_check_forward(name: &'static str, out: &RawTensor, loc: &'static Location<'static>) -> Result<()> {
    if out.has_non_finite() {
        let op = name.trim_end_matches("Backward");
        return Err(Error::Anomaly {
            msg: format!(
                "anomaly detected: the forward of {op} (node {name}) produced NaN or infinite values, \
                 shape {:?}; the op was created at {loc}",
                out.shape()
            ),
        });
    }
    Ok(())
}

/// Unwraps an op result, panicking with the error's message at the caller's line.
#[track_caller]
pub(crate) fn or_panic<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}
