//! User-defined differentiable operations: a forward and a backward that join the graph.

use crate::grad_mode::no_grad;
use crate::graph::{Backward, BackwardCtx, Grads, Saved};
use crate::tensor::Tensor;
use nabla_tensor::{Error, Result};

/// A differentiable operation written by the user (PyTorch's `autograd.Function`).
///
/// `forward` runs without recording; `backward` receives the inputs (checked against
/// in-place changes), the output and the output's gradient, and returns one gradient per
/// input. Write `backward` with `Tensor` ops to support `create_graph`.
///
/// ```
/// use nabla_autograd::{autograd::{apply_custom, CustomOp}, Tensor, Result};
/// /// f(x) = x³, f'(x) = 3x²
/// struct Cube;
/// impl CustomOp for Cube {
///     fn name(&self) -> &'static str { "CubeBackward" }
///     fn forward(&self, x: &[Tensor]) -> Result<Tensor> { Ok(&x[0] * &x[0] * &x[0]) }
///     fn backward(&self, x: &[Tensor], _out: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
///         Ok(vec![Some(g * &(&x[0] * &x[0]) * 3.0)])
///     }
/// }
/// let x = Tensor::from_vec(vec![2.0f64], &[1]).requires_grad_(true);
/// let y = apply_custom(Cube, &[&x]).unwrap();
/// assert_eq!(y.grad_fn().unwrap().name(), "CubeBackward");
/// y.sum().backward();
/// assert_eq!(x.grad().unwrap().item(), 12.0);
/// ```
pub trait CustomOp: Send + Sync + 'static {
    /// The backward node's name.
    fn name(&self) -> &'static str;
    /// The value (runs under `no_grad`).
    fn forward(&self, inputs: &[Tensor]) -> Result<Tensor>;
    /// Gradients for each input given the output's gradient `grad`.
    fn backward(&self, inputs: &[Tensor], output: &Tensor, grad: &Tensor) -> Result<Vec<Option<Tensor>>>;
}

struct CustomBackward<O: CustomOp> {
    op: O,
    inputs: Vec<Saved>,
}

impl<O: CustomOp> Backward for CustomBackward<O> {
    fn name(&self) -> &'static str {
        self.op.name()
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
        let xs: Vec<Tensor> = self.inputs.iter().map(|s| s.get(ctx.name()).cloned()).collect::<Result<_>>()?;
        let out = ctx.output()?;
        let gs = self.op.backward(&xs, &out, g)?;
        if gs.len() != xs.len() {
            return Err(Error::Autograd {
                msg: format!("{}: backward returned {} gradients for {} inputs", self.op.name(), gs.len(), xs.len()),
            });
        }
        Ok(gs.into_iter().collect())
    }
}

/// Runs a [`CustomOp`] on `inputs`, recording it in the graph.
#[track_caller]
pub fn apply_custom<O: CustomOp>(op: O, inputs: &[&Tensor]) -> Result<Tensor> {
    let owned: Vec<Tensor> = inputs.iter().map(|t| (*t).clone()).collect();
    let out = no_grad(|| op.forward(&owned))?;
    let saved: Vec<Saved> = owned.iter().map(Saved::new).collect();
    crate::ops::record(out.raw().clone(), inputs, true, move || CustomBackward { op, inputs: saved })
}
