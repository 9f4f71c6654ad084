//! [`Adam`] (with L2 weight decay and AMSGrad) and [`AdamW`] (decoupled weight decay).

use super::kernels::{slice, update_param, zeros_like, Update};
use super::{check_hyper, check_params, or_panic, Optimizer, ParamGroup};
use nabla_autograd::{Result, Tensor};
use nabla_tensor::{Buffer, Float};

/// Per-parameter state: the step count and the moment estimates.
struct AdamState {
    step: u64,
    exp_avg: Buffer,
    exp_avg_sq: Buffer,
    max_exp_avg_sq: Option<Buffer>,
}

/// The update shared by Adam and AdamW (they differ in how weight decay applies).
struct AdamCore {
    groups: Vec<ParamGroup>,
    defaults: ParamGroup,
    beta2: f64,
    eps: f64,
    amsgrad: bool,
    decoupled: bool,
    state: Vec<Vec<Option<AdamState>>>,
}

impl AdamCore {
    fn new(op: &'static str, params: Vec<Tensor>, lr: f64, weight_decay: f64, decoupled: bool) -> Result<AdamCore> {
        check_hyper(op, "learning rate", lr, lr >= 0.0)?;
        check_params(op, &params, &[])?;
        let defaults = ParamGroup { params: Vec::new(), lr, momentum: Some(0.9), weight_decay };
        Ok(AdamCore {
            state: vec![(0..params.len()).map(|_| None).collect()],
            groups: vec![ParamGroup { params, ..defaults.clone() }],
            defaults,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: false,
            decoupled,
        })
    }

    fn set_betas(&mut self, op: &'static str, betas: (f64, f64)) -> Result<()> {
        check_hyper(op, "beta parameter at index 0", betas.0, (0.0..1.0).contains(&betas.0))?;
        check_hyper(op, "beta parameter at index 1", betas.1, (0.0..1.0).contains(&betas.1))?;
        self.defaults.momentum = Some(betas.0);
        self.groups.iter_mut().for_each(|g| g.momentum = Some(betas.0));
        self.beta2 = betas.1;
        Ok(())
    }

    fn set_weight_decay(&mut self, op: &'static str, weight_decay: f64) -> Result<()> {
        check_hyper(op, "weight_decay value", weight_decay, weight_decay >= 0.0)?;
        self.defaults.weight_decay = weight_decay;
        self.groups.iter_mut().for_each(|g| g.weight_decay = weight_decay);
        Ok(())
    }

    fn step(&mut self) {
        for (group, states) in self.groups.iter().zip(&mut self.state) {
            for (p, state) in group.params.iter().zip(states.iter_mut()) {
                let Some(g) = p.grad() else { continue };
                let st = state.get_or_insert_with(|| AdamState {
                    step: 0,
                    exp_avg: zeros_like(p),
                    exp_avg_sq: zeros_like(p),
                    max_exp_avg_sq: self.amsgrad.then(|| zeros_like(p)),
                });
                st.step += 1;
                let beta1 = group.momentum.unwrap_or(0.9);
                let bias_correction1 = 1.0 - beta1.powf(st.step as f64);
                let bias_correction2 = 1.0 - self.beta2.powf(st.step as f64);
                let mut u = AdamUpdate {
                    lr: group.lr,
                    beta1,
                    beta2: self.beta2,
                    eps: self.eps,
                    weight_decay: group.weight_decay,
                    decoupled: self.decoupled,
                    step_size: group.lr / bias_correction1,
                    bias_correction2_sqrt: bias_correction2.sqrt(),
                    exp_avg: &mut st.exp_avg,
                    exp_avg_sq: &mut st.exp_avg_sq,
                    max_exp_avg_sq: st.max_exp_avg_sq.as_mut(),
                };
                update_param(p, &g, &mut u);
            }
        }
    }

    fn add_param_group(&mut self, op: &'static str, params: Vec<Tensor>, lr: f64) -> Result<()> {
        check_params(op, &params, &self.groups)?;
        self.state.push((0..params.len()).map(|_| None).collect());
        self.groups.push(ParamGroup { params, lr, ..self.defaults.clone() });
        Ok(())
    }
}

struct AdamUpdate<'a> {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    step_size: f64,
    bias_correction2_sqrt: f64,
    exp_avg: &'a mut Buffer,
    exp_avg_sq: &'a mut Buffer,
    max_exp_avg_sq: Option<&'a mut Buffer>,
}

impl Update for AdamUpdate<'_> {
    fn apply<T: Float>(&mut self, p: &mut [T], g: &[T]) {
        let c = T::cast;
        let (b1, b2, eps, wd) = (c(1.0 - self.beta1), c(self.beta2), c(self.eps), c(self.weight_decay));
        let (one_minus_b2, step_size, bc2) = (c(1.0 - self.beta2), c(self.step_size), c(self.bias_correction2_sqrt));
        let decay = c(1.0 - self.lr * self.weight_decay);
        let m = slice::<T>(self.exp_avg);
        let v = slice::<T>(self.exp_avg_sq);
        let mut vmax = self.max_exp_avg_sq.as_deref_mut().map(slice::<T>);
        for i in 0..p.len() {
            let mut gi = g[i];
            if self.decoupled {
                p[i] *= decay;
            } else if self.weight_decay != 0.0 {
                gi += wd * p[i];
            }
            m[i] = m[i] + b1 * (gi - m[i]);
            v[i] = v[i] * b2 + one_minus_b2 * gi * gi;
            let second = match vmax.as_deref_mut() {
                Some(vmax) => {
                    vmax[i] = vmax[i].max(v[i]);
                    vmax[i]
                }
                None => v[i],
            };
            let denom = second.sqrt() / bc2 + eps;
            p[i] = p[i] - step_size * (m[i] / denom);
        }
    }
}

/// Adam, as PyTorch's `optim.Adam` (betas (0.9, 0.999), eps 1e-8, no weight decay).
/// Per element, at step t, with `g += weight_decay · p` (an L2 penalty):
///
/// ```text
/// m = β₁ m + (1 − β₁) g          v = β₂ v + (1 − β₂) g²     (v̂ = max(v̂, v) with amsgrad)
/// p −= lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + eps)
/// ```
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::optim::{Adam, Optimizer};
/// let w = Tensor::from_vec(vec![1.0f64, -1.0], &[2]).requires_grad_(true);
/// let mut opt = Adam::new(vec![w.clone()], 0.1);
/// (&w * &w).sum().backward();
/// opt.step();
/// // the first Adam step moves each weight by lr against the gradient's sign
/// assert!((w.to_vec::<f64>()[0] - 0.9).abs() < 1e-7);
/// assert!((w.to_vec::<f64>()[1] + 0.9).abs() < 1e-7);
/// ```
pub struct Adam(AdamCore);

impl Adam {
    /// Adam over `params` with learning rate `lr`.
    ///
    /// # Panics
    /// If a tensor cannot be optimized (see [`crate::optim::check_params`]) or `lr` is negative.
    #[track_caller]
    pub fn new(params: Vec<Tensor>, lr: f64) -> Adam {
        or_panic(Adam::try_new(params, lr))
    }

    /// [`Adam::new`], returning errors.
    pub fn try_new(params: Vec<Tensor>, lr: f64) -> Result<Adam> {
        AdamCore::new("Adam", params, lr, 0.0, false).map(Adam)
    }

    /// Sets the decay rates of the moment estimates (default (0.9, 0.999)).
    #[track_caller]
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Adam {
        or_panic(self.0.set_betas("Adam", (beta1, beta2)));
        self
    }

    /// Sets the term added to the denominator (default 1e-8).
    pub fn eps(mut self, eps: f64) -> Adam {
        self.0.eps = eps;
        self
    }

    /// Sets the L2 penalty added to the gradient (default 0).
    #[track_caller]
    pub fn weight_decay(mut self, weight_decay: f64) -> Adam {
        or_panic(self.0.set_weight_decay("Adam", weight_decay));
        self
    }

    /// Uses the AMSGrad variant (the maximum of past second moments).
    pub fn amsgrad(mut self, amsgrad: bool) -> Adam {
        self.0.amsgrad = amsgrad;
        self
    }
}

impl Optimizer for Adam {
    fn step(&mut self) {
        self.0.step()
    }

    fn param_groups(&self) -> &[ParamGroup] {
        &self.0.groups
    }

    fn param_groups_mut(&mut self) -> &mut [ParamGroup] {
        &mut self.0.groups
    }

    fn add_param_group(&mut self, params: Vec<Tensor>, lr: f64) -> Result<()> {
        self.0.add_param_group("Adam", params, lr)
    }
}

/// AdamW, as PyTorch's `optim.AdamW`: Adam with decoupled weight decay (default 0.01),
/// `p *= 1 − lr · weight_decay` before the Adam update, instead of an L2 term in the
/// gradient.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::optim::{AdamW, Optimizer};
/// let w = Tensor::from_vec(vec![1.0f64], &[1]).requires_grad_(true);
/// let mut opt = AdamW::new(vec![w.clone()], 0.1).weight_decay(0.01);
/// (&w * &w).sum().backward();
/// opt.step();
/// assert!((w.item() - (1.0 * (1.0 - 0.1 * 0.01) - 0.1)).abs() < 1e-7);
/// ```
pub struct AdamW(AdamCore);

impl AdamW {
    /// AdamW over `params` with learning rate `lr` and weight decay 0.01.
    ///
    /// # Panics
    /// If a tensor cannot be optimized (see [`crate::optim::check_params`]) or `lr` is negative.
    #[track_caller]
    pub fn new(params: Vec<Tensor>, lr: f64) -> AdamW {
        or_panic(AdamW::try_new(params, lr))
    }

    /// [`AdamW::new`], returning errors.
    pub fn try_new(params: Vec<Tensor>, lr: f64) -> Result<AdamW> {
        AdamCore::new("AdamW", params, lr, 0.01, true).map(AdamW)
    }

    /// Sets the decay rates of the moment estimates (default (0.9, 0.999)).
    #[track_caller]
    pub fn betas(mut self, beta1: f64, beta2: f64) -> AdamW {
        or_panic(self.0.set_betas("AdamW", (beta1, beta2)));
        self
    }

    /// Sets the term added to the denominator (default 1e-8).
    pub fn eps(mut self, eps: f64) -> AdamW {
        self.0.eps = eps;
        self
    }

    /// Sets the decoupled weight decay (default 0.01).
    #[track_caller]
    pub fn weight_decay(mut self, weight_decay: f64) -> AdamW {
        or_panic(self.0.set_weight_decay("AdamW", weight_decay));
        self
    }

    /// Uses the AMSGrad variant.
    pub fn amsgrad(mut self, amsgrad: bool) -> AdamW {
        self.0.amsgrad = amsgrad;
        self
    }
}

impl Optimizer for AdamW {
    fn step(&mut self) {
        self.0.step()
    }

    fn param_groups(&self) -> &[ParamGroup] {
        &self.0.groups
    }

    fn param_groups_mut(&mut self) -> &mut [ParamGroup] {
        &mut self.0.groups
    }

    fn add_param_group(&mut self, params: Vec<Tensor>, lr: f64) -> Result<()> {
        self.0.add_param_group("AdamW", params, lr)
    }
}
