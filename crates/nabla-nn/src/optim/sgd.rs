//! [`SGD`]: stochastic gradient descent with momentum, dampening, Nesterov momentum and
//! weight decay.

use super::kernels::{slice, update_param, zeros_like, Update};
use super::{check_hyper, check_params, or_panic, Optimizer, ParamGroup};
use nabla_autograd::{Result, Tensor};
use nabla_tensor::team::run_parts;
use nabla_tensor::{Buffer, Float};

/// Stochastic gradient descent, as PyTorch's `optim.SGD`. Per element, with
/// `d = g + weight_decay · p`:
///
/// ```text
/// momentum = 0:  p −= lr · d
/// otherwise:     buf = d at the first step, else momentum · buf + (1 − dampening) · d
///                p −= lr · (nesterov ? d + momentum · buf : buf)
/// ```
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::optim::{Optimizer, SGD};
/// let w = Tensor::from_vec(vec![1.0f64], &[1]).requires_grad_(true);
/// let mut opt = SGD::new(vec![w.clone()], 0.1).momentum(0.9).nesterov(true).weight_decay(1e-4);
/// (&w * &w).sum().backward(); // grad 2
/// opt.step();
/// // d = 2 + 1e-4, buf = d, p -= 0.1 · (d + 0.9 · d)
/// assert!((w.item() - (1.0 - 0.1 * 1.9 * 2.0001)).abs() < 1e-12);
/// ```
pub struct SGD {
    groups: Vec<ParamGroup>,
    defaults: ParamGroup,
    dampening: f64,
    nesterov: bool,
    /// Momentum buffers, per group, per parameter; made at the first step with momentum.
    state: Vec<Vec<Option<Buffer>>>,
}

impl SGD {
    /// SGD over `params` with learning rate `lr` (no momentum, no weight decay).
    ///
    /// # Panics
    /// If a tensor cannot be optimized (see [`SGD::try_new`]) or `lr` is negative.
    #[track_caller]
    pub fn new(params: Vec<Tensor>, lr: f64) -> SGD {
        or_panic(SGD::try_new(params, lr))
    }

    /// [`SGD::new`], returning an error naming the index of a tensor that does not
    /// require grad, is not a leaf, is not floating-point, or is given twice.
    pub fn try_new(params: Vec<Tensor>, lr: f64) -> Result<SGD> {
        check_hyper("SGD", "learning rate", lr, lr >= 0.0)?;
        check_params("SGD", &params, &[])?;
        let defaults = ParamGroup { params: Vec::new(), lr, momentum: Some(0.0), weight_decay: 0.0 };
        let state = vec![vec![None; params.len()]];
        Ok(SGD {
            groups: vec![ParamGroup { params, ..defaults.clone() }],
            defaults,
            dampening: 0.0,
            nesterov: false,
            state,
        })
    }

    /// Sets the momentum factor (default 0) of every group.
    #[track_caller]
    pub fn momentum(mut self, momentum: f64) -> SGD {
        or_panic(check_hyper("SGD", "momentum value", momentum, momentum >= 0.0));
        self.defaults.momentum = Some(momentum);
        self.groups.iter_mut().for_each(|g| g.momentum = Some(momentum));
        self
    }

    /// Sets the dampening of momentum (default 0).
    pub fn dampening(mut self, dampening: f64) -> SGD {
        self.dampening = dampening;
        self
    }

    /// Uses Nesterov momentum (needs a momentum and zero dampening).
    pub fn nesterov(mut self, nesterov: bool) -> SGD {
        self.nesterov = nesterov;
        self
    }

    /// Sets the L2 penalty (default 0) of every group.
    #[track_caller]
    pub fn weight_decay(mut self, weight_decay: f64) -> SGD {
        or_panic(check_hyper("SGD", "weight_decay value", weight_decay, weight_decay >= 0.0));
        self.defaults.weight_decay = weight_decay;
        self.groups.iter_mut().for_each(|g| g.weight_decay = weight_decay);
        self
    }
}

struct SgdUpdate<'a> {
    lr: f64,
    weight_decay: f64,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
    buf: Option<&'a mut Buffer>,
    first: bool,
}

/// Parameters with at least this many elements are updated on both threads
/// (`nabla_tensor::team`): the update of a 784×512 layer was ~6 % of an MLP training step
/// on one thread.
const PARALLEL_UPDATE: usize = 1 << 16;

impl Update for SgdUpdate<'_> {
    fn apply<T: Float>(&mut self, p: &mut [T], g: &[T]) {
        let h = SgdHyper::<T> {
            lr: T::cast(self.lr),
            wd: T::cast(self.weight_decay),
            mom: T::cast(self.momentum),
            damp: T::cast(1.0 - self.dampening),
            nesterov: self.nesterov,
            first: self.first,
        };
        let threads = nabla_tensor::team::size();
        let per = if p.len() >= PARALLEL_UPDATE && threads > 1 {
            p.len().div_ceil(threads).next_multiple_of(16)
        } else {
            p.len().max(1)
        };
        // one part (on this thread) for small parameters; no allocation either way
        match self.buf.as_deref_mut() {
            None => run_parts(p.chunks_mut(per).zip(g.chunks(per)), |_, (p, g)| h.plain(p, g)),
            Some(buf) => {
                let buf = slice::<T>(buf);
                let parts = p.chunks_mut(per).zip(g.chunks(per)).zip(buf.chunks_mut(per));
                run_parts(parts, |_, ((p, g), b)| h.momentum(p, g, b));
            }
        }
    }
}

/// The hyper-parameters of one update, in the parameter's element type.
#[derive(Clone, Copy)]
struct SgdHyper<T> {
    lr: T,
    wd: T,
    mom: T,
    damp: T,
    nesterov: bool,
    first: bool,
}

impl<T: Float> SgdHyper<T> {
    fn plain(self, p: &mut [T], g: &[T]) {
        for (p, &g) in p.iter_mut().zip(g) {
            *p = *p - self.lr * (g + self.wd * *p);
        }
    }

    fn momentum(self, p: &mut [T], g: &[T], buf: &mut [T]) {
        for ((p, &g), b) in p.iter_mut().zip(g).zip(buf) {
            let d = g + self.wd * *p;
            *b = if self.first { d } else { *b * self.mom + self.damp * d };
            let step = if self.nesterov { d + self.mom * *b } else { *b };
            *p = *p - self.lr * step;
        }
    }
}

impl Optimizer for SGD {
    #[track_caller]
    fn step(&mut self) {
        for (group, states) in self.groups.iter().zip(&mut self.state) {
            let momentum = group.momentum.unwrap_or(0.0);
            if self.nesterov && (momentum <= 0.0 || self.dampening != 0.0) {
                panic!(
                    "SGD: Nesterov momentum requires a momentum and zero dampening (momentum {momentum}, \
                     dampening {}); hint: SGD::new(..).momentum(0.9).nesterov(true)",
                    self.dampening
                );
            }
            for (p, state) in group.params.iter().zip(states.iter_mut()) {
                let Some(g) = p.grad() else { continue };
                let first = momentum != 0.0 && state.is_none();
                if first {
                    *state = Some(zeros_like(p));
                }
                let mut u = SgdUpdate {
                    lr: group.lr,
                    weight_decay: group.weight_decay,
                    momentum,
                    dampening: self.dampening,
                    nesterov: self.nesterov,
                    buf: if momentum != 0.0 { state.as_mut() } else { None },
                    first,
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
        check_params("SGD", &params, &self.groups)?;
        self.state.push(vec![None; params.len()]);
        self.groups.push(ParamGroup { params, lr, ..self.defaults.clone() });
        Ok(())
    }
}
