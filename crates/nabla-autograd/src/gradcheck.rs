//! Finite-difference gradient checks (PyTorch's `gradcheck` / `gradgradcheck`): the
//! analytic Jacobian from backward against central differences, in f64.

use crate::engine::{grad, GradOptions};
use crate::tensor::Tensor;
use nabla_tensor::{DType, Error, Result};

/// Tolerances and step of [`gradcheck_with`].
#[derive(Debug, Clone, Copy)]
pub struct GradcheckOptions {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (of the numeric value).
    pub rtol: f64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions { eps: 1e-6, atol: 1e-5, rtol: 1e-3 }
    }
}

/// What a successful check measured.
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckReport {
    /// Number of Jacobian entries compared.
    pub entries: usize,
    /// Largest |analytic − numeric| seen.
    pub max_abs_error: f64,
}

/// Checks the gradients of `f` with respect to every input that requires grad, with the
/// default tolerances. Inputs must be float64.
///
/// ```
/// use nabla_autograd::{autograd::gradcheck, Tensor};
/// let x = Tensor::randn_with(&[3, 2], nabla_autograd::DType::F64).requires_grad_(true);
/// gradcheck(|xs| xs[0].tanh(), &[x]).unwrap();
/// ```
pub fn gradcheck(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) -> Result<GradcheckReport> {
    gradcheck_with(f, inputs, &GradcheckOptions::default())
}

/// [`gradcheck`] with explicit tolerances. On failure the error names the output and
/// input, the worst element's position, and the analytic and numeric values.
pub fn gradcheck_with(
    f: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    opts: &GradcheckOptions,
) -> Result<GradcheckReport> {
    for (i, x) in inputs.iter().enumerate() {
        if x.requires_grad() && x.dtype() != DType::F64 {
            return Err(Error::invalid_argument(
                "gradcheck",
                format!("input {i} is {}; gradcheck needs float64 inputs for accurate finite differences", x.dtype()),
            ));
        }
    }
    let y = f(inputs);
    let n_out = y.numel();
    let checked: Vec<usize> = (0..inputs.len()).filter(|&i| inputs[i].requires_grad()).collect();
    if checked.is_empty() {
        return Err(Error::invalid_argument("gradcheck", "no input requires grad"));
    }
    // analytic Jacobian rows: one backward per output element
    let mut analytic: Vec<Vec<Vec<f64>>> = checked.iter().map(|&i| vec![vec![0.0; inputs[i].numel()]; n_out]).collect();
    if y.requires_grad() {
        let wrt: Vec<Tensor> = checked.iter().map(|&i| inputs[i].clone()).collect();
        for j in 0..n_out {
            let mut e = vec![0.0f64; n_out];
            e[j] = 1.0;
            let seed = Tensor::from_vec(e, y.shape()).to_dtype(y.dtype());
            let gs = grad(
                std::slice::from_ref(&y),
                &wrt,
                &GradOptions {
                    grad_outputs: Some(vec![seed]),
                    retain_graph: true,
                    allow_unused: true,
                    create_graph: false,
                },
            )?;
            for (k, g) in gs.iter().enumerate() {
                if let Some(g) = g {
                    for (p, v) in g.to_vec::<f64>().into_iter().enumerate() {
                        analytic[k][j][p] = v;
                    }
                }
            }
        }
    }
    // numeric Jacobian columns: central differences per input element
    let mut worst: Option<(f64, String)> = None;
    let mut max_abs = 0.0f64;
    let mut entries = 0;
    for (k, &i) in checked.iter().enumerate() {
        let base = inputs[i].to_vec::<f64>();
        for p in 0..base.len() {
            let eval = |delta: f64| -> Vec<f64> {
                let mut v = base.clone();
                v[p] += delta;
                // Fresh leaves with the same requires_grad flags: f may itself differentiate
                // (gradgradcheck), so it runs with recording on.
                let xi = Tensor::from_vec(v, inputs[i].shape()).requires_grad_(inputs[i].requires_grad());
                let xs: Vec<Tensor> = inputs
                    .iter()
                    .enumerate()
                    .map(|(q, t)| if q == i { xi.clone() } else { t.detach().requires_grad_(t.requires_grad()) })
                    .collect();
                f(&xs).to_vec::<f64>()
            };
            let (plus, minus) = (eval(opts.eps), eval(-opts.eps));
            for j in 0..n_out {
                let num = (plus[j] - minus[j]) / (2.0 * opts.eps);
                let ana = analytic[k][j][p];
                let err = (ana - num).abs();
                entries += 1;
                max_abs = max_abs.max(err);
                if err > opts.atol + opts.rtol * num.abs() && worst.as_ref().is_none_or(|(w, _)| err > *w) {
                    worst = Some((
                        err,
                        format!(
                            "gradcheck: Jacobian mismatch for output 0 with respect to input {i}: worst at input element {p} \
                             (shape {:?}), output element {j}: analytic {ana:.9}, numeric {num:.9} (|diff| {err:.3e} > atol {} + rtol {} · |numeric|)",
                            inputs[i].shape(),
                            opts.atol,
                            opts.rtol
                        ),
                    ));
                }
            }
        }
    }
    match worst {
        Some((_, msg)) => Err(Error::Autograd { msg }),
        None => Ok(GradcheckReport { entries, max_abs_error: max_abs }),
    }
}

/// Checks second derivatives: `gradcheck` of the function that maps the inputs to the
/// (create_graph) gradients of `Σ f(inputs) ⊙ r` for a fixed random `r`.
///
/// ```
/// use nabla_autograd::{autograd::gradgradcheck, DType, Tensor};
/// let x = Tensor::randn_with(&[3], DType::F64).requires_grad_(true);
/// gradgradcheck(|xs| xs[0].pow(3.0), &[x]).unwrap();
/// ```
pub fn gradgradcheck(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) -> Result<GradcheckReport> {
    let y = f(inputs);
    let r = Tensor::uniform(y.shape(), 0.5, 1.5, DType::F64);
    let checked: Vec<usize> = (0..inputs.len()).filter(|&i| inputs[i].requires_grad()).collect();
    let first = |xs: &[Tensor]| -> Tensor {
        let y = f(xs);
        let s = (&y * &r).sum();
        let wrt: Vec<Tensor> = checked.iter().map(|&i| xs[i].clone()).collect();
        if !s.requires_grad() {
            return Tensor::cat(
                &wrt.iter().map(|w| Tensor::zeros_with(&[w.numel()], DType::F64)).collect::<Vec<_>>(),
                0,
            );
        }
        let gs = grad(&[s], &wrt, &GradOptions { create_graph: true, allow_unused: true, ..Default::default() })
            .expect("first-order grad");
        let flat: Vec<Tensor> = gs
            .into_iter()
            .zip(&wrt)
            .map(|(g, w)| g.unwrap_or_else(|| Tensor::zeros_with(w.shape(), DType::F64)).reshape(&[-1]))
            .collect();
        Tensor::cat(&flat, 0)
    };
    gradcheck(first, inputs)
}
