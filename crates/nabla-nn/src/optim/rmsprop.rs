//! [`RMSprop`]: gradients scaled by a running root mean square, optionally centered and
//! with momentum.

use super::kernels::{slice, update_param, zeros_like, Update};
use super::{check_hyper, check_params, or_panic, Optimizer, ParamGroup};
use nabla_autograd::{Result, Tensor};
use nabla_tensor::{Buffer, Float};

struct RmsState {
    square_avg: Buffer,
    grad_avg: Option<Buffer>,
    momentum_buffer: Option<Buffer>,
}

/// RMSprop, as PyTorch's `optim.RMSprop` (alpha 0.99, eps 1e-8, no momentum, not
/// centered). Per element, with `g += weight_decay · p`:
///
/// ```text
/// s = α s + (1 − α) g²
/// centered: ḡ = α ḡ + (1 − α) g,  a = √(s − ḡ²) + eps;   else a = √s + eps
/// momentum > 0: buf = momentum · buf + g / a,  p −= lr · buf;   else p −= lr · g / a
/// ```
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::optim::{Optimizer, RMSprop};
/// let w = Tensor::from_vec(vec![1.0f64], &[1]).requires_grad_(true);
/// let mut opt = RMSprop::new(vec![w.clone()], 0.01).momentum(0.9).centered(true);
/// (&w * &w).sum().backward();
/// opt.step();
/// assert!(w.item() < 1.0);
/// ```
pub struct RMSprop {
    groups: Vec<ParamGroup>,
    defaults: ParamGroup,
    alpha: f64,
    eps: f64,
    centered: bool,
    state: Vec<Vec<Option<RmsState>>>,
}

impl RMSprop {
    /// RMSprop over `params` with learning rate `lr`.
    ///
    /// # Panics
    /// If a tensor cannot be optimized (see [`crate::optim::check_params`]) or `lr` is negative.
    #[track_caller]
    pub fn new(params: Vec<Tensor>, lr: f64) -> RMSprop {
        or_panic(RMSprop::try_new(params, lr))
    }

    /// [`RMSprop::new`], returning errors.
    pub fn try_new(params: Vec<Tensor>, lr: f64) -> Result<RMSprop> {
        check_hyper("RMSprop", "learning rate", lr, lr >= 0.0)?;
        check_params("RMSprop", &params, &[])?;
        let defaults = ParamGroup { params: Vec::new(), lr, momentum: Some(0.0), weight_decay: 0.0 };
        Ok(RMSprop {
            state: vec![(0..params.len()).map(|_| None).collect()],
            groups: vec![ParamGroup { params, ..defaults.clone() }],
            defaults,
            alpha: 0.99,
            eps: 1e-8,
            centered: false,
        })
    }

    /// Sets the smoothing constant (default 0.99).
    #[track_caller]
    pub fn alpha(mut self, alpha: f64) -> RMSprop {
        or_panic(check_hyper("RMSprop", "alpha value", alpha, alpha >= 0.0));
        self.alpha = alpha;
        self
    }

    /// Sets the term added to the denominator (default 1e-8).
    pub fn eps(mut self, eps: f64) -> RMSprop {
        self.eps = eps;
        self
    }

    /// Sets the momentum factor (default 0) of every group.
    #[track_caller]
    pub fn momentum(mut self, momentum: f64) -> RMSprop {
        or_panic(check_hyper("RMSprop", "momentum value", momentum, momentum >= 0.0));
        self.defaults.momentum = Some(momentum);
        self.groups.iter_mut().for_each(|g| g.momentum = Some(momentum));
        self
    }

    /// Normalizes by the estimated variance of the gradient instead of its second moment.
    pub fn centered(mut self, centered: bool) -> RMSprop {
        self.centered = centered;
        self
    }

    /// Sets the L2 penalty (default 0) of every group.
    #[track_caller]
    pub fn weight_decay(mut self, weight_decay: f64) -> RMSprop {
        or_panic(check_hyper("RMSprop", "weight_decay value", weight_decay, weight_decay >= 0.0));
        self.defaults.weight_decay = weight_decay;
        self.groups.iter_mut().for_each(|g| g.weight_decay = weight_decay);
        self
    }
}

struct RmsUpdate<'a> {
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    square_avg: &'a mut Buffer,
    grad_avg: Option<&'a mut Buffer>,
    momentum_buffer: Option<&'a mut Buffer>,
}

impl Update for RmsUpdate<'_> {
    fn apply<T: Float>(&mut self, p: &mut [T], g: &[T]) {
        let c = T::cast;
        let (lr, alpha, one_minus_alpha, eps, wd, mom) =
            (c(self.lr), c(self.alpha), c(1.0 - self.alpha), c(self.eps), c(self.weight_decay), c(self.momentum));
        let s = slice::<T>(self.square_avg);
        let mut ga = self.grad_avg.as_deref_mut().map(slice::<T>);
        let mut buf = self.momentum_buffer.as_deref_mut().map(slice::<T>);
        for i in 0..p.len() {
            let gi = g[i] + wd * p[i];
            s[i] = s[i] * alpha + one_minus_alpha * gi * gi;
            let avg = match ga.as_deref_mut() {
                Some(ga) => {
                    ga[i] = ga[i] + one_minus_alpha * (gi - ga[i]);
                    (s[i] - ga[i] * ga[i]).sqrt() + eps
                }
                None => s[i].sqrt() + eps,
            };
            match buf.as_deref_mut() {
                Some(b) => {
                    b[i] = b[i] * mom + gi / avg;
                    p[i] = p[i] - lr * b[i];
                }
                None => p[i] = p[i] - lr * (gi / avg),
            }
        }
    }
}

impl Optimizer for RMSprop {
    fn step(&mut self) {
        for (group, states) in self.groups.iter().zip(&mut self.state) {
            let momentum = group.momentum.unwrap_or(0.0);
            for (p, state) in group.params.iter().zip(states.iter_mut()) {
                let Some(g) = p.grad() else { continue };
                let st = state.get_or_insert_with(|| RmsState {
                    square_avg: zeros_like(p),
                    grad_avg: self.centered.then(|| zeros_like(p)),
                    momentum_buffer: None,
                });
                if momentum > 0.0 && st.momentum_buffer.is_none() {
                    st.momentum_buffer = Some(zeros_like(p));
                }
                let mut u = RmsUpdate {
                    lr: group.lr,
                    alpha: self.alpha,
                    eps: self.eps,
                    weight_decay: group.weight_decay,
                    momentum,
                    square_avg: &mut st.square_avg,
                    grad_avg: st.grad_avg.as_mut(),
                    momentum_buffer: if momentum > 0.0 { st.momentum_buffer.as_mut() } else { None },
                };
                update_param(p, &g, &mut u);
            }
        }
    }

    fn param_groups(&self) -> &[ParamGroup] {
        &self.groups
    }

    fn param_groups_mut(&mut self) -> &mut [ParamGroup] {
        &mut self.groups
    }

    fn add_param_group(&mut self, params: Vec<Tensor>, lr: f64) -> Result<()> {
        check_params("RMSprop", &params, &self.groups)?;
        self.state.push((0..params.len()).map(|_| None).collect());
        self.groups.push(ParamGroup { params, lr, ..self.defaults.clone() });
        Ok(())
    }
}
