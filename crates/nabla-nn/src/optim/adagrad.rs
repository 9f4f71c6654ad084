//! [`Adagrad`]: per-coordinate learning rates from the sum of squared gradients.

use super::kernels::{filled_like, slice, update_param, Update};
use super::{check_hyper, check_params, or_panic, Optimizer, ParamGroup};
use nabla_autograd::{Result, Tensor};
use nabla_tensor::{Buffer, Float};

struct AdagradState {
    step: u64,
    sum: Buffer,
}

/// Adagrad, as PyTorch's `optim.Adagrad` (eps 1e-10, no learning-rate decay, initial
/// accumulator 0). Per element at step t, with `g += weight_decay · p`:
///
/// ```text
/// sum += g²,   p −= lr / (1 + (t − 1) · lr_decay) · g / (√sum + eps)
/// ```
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::optim::{Adagrad, Optimizer};
/// let w = Tensor::from_vec(vec![1.0f64], &[1]).requires_grad_(true);
/// let mut opt = Adagrad::new(vec![w.clone()], 0.1);
/// (&w * &w).sum().backward();
/// opt.step();
/// assert!((w.item() - 0.9).abs() < 1e-9); // the first step has size lr
/// ```
pub struct Adagrad {
    groups: Vec<ParamGroup>,
    defaults: ParamGroup,
    lr_decay: f64,
    eps: f64,
    initial_accumulator_value: f64,
    state: Vec<Vec<Option<AdagradState>>>,
}

impl Adagrad {
    /// Adagrad over `params` with learning rate `lr`.
    ///
    /// # Panics
    /// If a tensor cannot be optimized (see [`crate::optim::check_params`]) or `lr` is negative.
    #[track_caller]
    pub fn new(params: Vec<Tensor>, lr: f64) -> Adagrad {
        or_panic(Adagrad::try_new(params, lr))
    }

    /// [`Adagrad::new`], returning errors.
    pub fn try_new(params: Vec<Tensor>, lr: f64) -> Result<Adagrad> {
        check_hyper("Adagrad", "learning rate", lr, lr >= 0.0)?;
        check_params("Adagrad", &params, &[])?;
        let defaults = ParamGroup { params: Vec::new(), lr, momentum: None, weight_decay: 0.0 };
        Ok(Adagrad {
            state: vec![(0..params.len()).map(|_| None).collect()],
            groups: vec![ParamGroup { params, ..defaults.clone() }],
            defaults,
            lr_decay: 0.0,
            eps: 1e-10,
            initial_accumulator_value: 0.0,
        })
    }

    /// Sets the learning-rate decay (default 0).
    #[track_caller]
    pub fn lr_decay(mut self, lr_decay: f64) -> Adagrad {
        or_panic(check_hyper("Adagrad", "lr_decay value", lr_decay, lr_decay >= 0.0));
        self.lr_decay = lr_decay;
        self
    }

    /// Sets the term added to the denominator (default 1e-10).
    pub fn eps(mut self, eps: f64) -> Adagrad {
        self.eps = eps;
        self
    }

    /// Sets the starting value of the sums of squares (default 0).
    #[track_caller]
    pub fn initial_accumulator_value(mut self, value: f64) -> Adagrad {
        or_panic(check_hyper("Adagrad", "initial_accumulator_value value", value, value >= 0.0));
        self.initial_accumulator_value = value;
        self
    }

    /// Sets the L2 penalty (default 0) of every group.
    #[track_caller]
    pub fn weight_decay(mut self, weight_decay: f64) -> Adagrad {
        or_panic(check_hyper("Adagrad", "weight_decay value", weight_decay, weight_decay >= 0.0));
        self.defaults.weight_decay = weight_decay;
        self.groups.iter_mut().for_each(|g| g.weight_decay = weight_decay);
        self
    }
}

struct AdagradUpdate<'a> {
    clr: f64,
    eps: f64,
    weight_decay: f64,
    sum: &'a mut Buffer,
}

impl Update for AdagradUpdate<'_> {
    fn apply<T: Float>(&mut self, p: &mut [T], g: &[T]) {
        let (clr, eps, wd) = (T::cast(self.clr), T::cast(self.eps), T::cast(self.weight_decay));
        let sum = slice::<T>(self.sum);
        for ((p, &g), s) in p.iter_mut().zip(g).zip(sum) {
            let gi = g + wd * *p;
            *s += gi * gi;
            *p = *p - clr * (gi / (s.sqrt() + eps));
        }
    }
}

impl Optimizer for Adagrad {
    fn step(&mut self) {
        for (group, states) in self.groups.iter().zip(&mut self.state) {
            for (p, state) in group.params.iter().zip(states.iter_mut()) {
                let Some(g) = p.grad() else { continue };
                let st = state.get_or_insert_with(|| AdagradState {
                    step: 0,
                    sum: filled_like(p, self.initial_accumulator_value),
                });
                st.step += 1;
                let mut u = AdagradUpdate {
                    clr: group.lr / (1.0 + (st.step - 1) as f64 * self.lr_decay),
                    eps: self.eps,
                    weight_decay: group.weight_decay,
                    sum: &mut st.sum,
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
        check_params("Adagrad", &params, &self.groups)?;
        self.state.push((0..params.len()).map(|_| None).collect());
        self.groups.push(ParamGroup { params, lr, ..self.defaults.clone() });
        Ok(())
    }
}
