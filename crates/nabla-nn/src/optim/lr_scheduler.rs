//! Learning-rate schedules, as PyTorch's `optim.lr_scheduler`: each sets the learning
//! rate of every parameter group of an optimizer, once per `step` (per epoch, or per
//! batch for [`OneCycleLR`]). Constructing a scheduler performs PyTorch's initial step:
//! the optimizer's learning rate becomes the schedule's value at step 0.

use super::Optimizer;
use std::f64::consts::PI;

/// A learning-rate schedule.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::optim::{LrScheduler, Optimizer, StepLR, SGD};
/// let w = Tensor::zeros(&[1]).requires_grad_(true);
/// let mut opt = SGD::new(vec![w], 0.1);
/// let mut sched = StepLR::new(&mut opt, 2, 0.5);
/// let mut lrs = vec![];
/// for _epoch in 0..5 {
///     lrs.push(opt.lr());
///     opt.step(); // (after the epoch's batches)
///     sched.step(&mut opt);
/// }
/// assert_eq!(lrs, vec![0.1, 0.1, 0.05, 0.05, 0.025]);
/// ```
pub trait LrScheduler {
    /// Advances the schedule by one epoch (or batch) and sets the optimizer's learning
    /// rates.
    fn step(&mut self, optimizer: &mut dyn Optimizer);

    /// The learning rates last set, one per parameter group.
    fn last_lr(&self) -> &[f64];

    /// The number of steps taken (PyTorch's `last_epoch`).
    fn last_epoch(&self) -> usize;
}

fn group_lrs(optimizer: &dyn Optimizer) -> Vec<f64> {
    optimizer.param_groups().iter().map(|g| g.lr).collect()
}

fn set_lrs(optimizer: &mut dyn Optimizer, lrs: &[f64]) {
    for (g, &lr) in optimizer.param_groups_mut().iter_mut().zip(lrs) {
        g.lr = lr;
    }
}

/// Multiplies the learning rate by `gamma` every `step_size` epochs (PyTorch's `StepLR`).
#[derive(Debug, Clone)]
pub struct StepLR {
    step_size: usize,
    gamma: f64,
    epoch: usize,
    last: Vec<f64>,
}

impl StepLR {
    /// Decays by `gamma` every `step_size` epochs.
    ///
    /// # Panics
    /// If `step_size` is 0.
    #[track_caller]
    pub fn new(optimizer: &mut dyn Optimizer, step_size: usize, gamma: f64) -> StepLR {
        assert!(step_size > 0, "StepLR: step_size must be at least 1, got 0");
        StepLR { step_size, gamma, epoch: 0, last: group_lrs(optimizer) }
    }
}

impl LrScheduler for StepLR {
    fn step(&mut self, optimizer: &mut dyn Optimizer) {
        self.epoch += 1;
        let mut lrs = group_lrs(optimizer);
        if self.epoch.is_multiple_of(self.step_size) {
            lrs.iter_mut().for_each(|lr| *lr *= self.gamma);
        }
        set_lrs(optimizer, &lrs);
        self.last = lrs;
    }

    fn last_lr(&self) -> &[f64] {
        &self.last
    }

    fn last_epoch(&self) -> usize {
        self.epoch
    }
}

/// Multiplies the learning rate by `gamma` every epoch (PyTorch's `ExponentialLR`).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::optim::{ExponentialLR, LrScheduler, Optimizer, SGD};
/// let mut opt = SGD::new(vec![Tensor::zeros(&[1]).requires_grad_(true)], 1.0);
/// let mut sched = ExponentialLR::new(&mut opt, 0.5);
/// sched.step(&mut opt);
/// sched.step(&mut opt);
/// assert_eq!(opt.lr(), 0.25);
/// ```
#[derive(Debug, Clone)]
pub struct ExponentialLR {
    gamma: f64,
    epoch: usize,
    last: Vec<f64>,
}

impl ExponentialLR {
    /// Decays by `gamma` every epoch.
    pub fn new(optimizer: &mut dyn Optimizer, gamma: f64) -> ExponentialLR {
        ExponentialLR { gamma, epoch: 0, last: group_lrs(optimizer) }
    }
}

impl LrScheduler for ExponentialLR {
    fn step(&mut self, optimizer: &mut dyn Optimizer) {
        self.epoch += 1;
        let lrs: Vec<f64> = group_lrs(optimizer).iter().map(|lr| lr * self.gamma).collect();
        set_lrs(optimizer, &lrs);
        self.last = lrs;
    }

    fn last_lr(&self) -> &[f64] {
        &self.last
    }

    fn last_epoch(&self) -> usize {
        self.epoch
    }
}

/// Cosine annealing from the initial learning rate to `eta_min` over `t_max` epochs
/// (PyTorch's `CosineAnnealingLR`), in PyTorch's recursive form, which composes with
/// other changes to the learning rate and, past `t_max`, rises again along the cosine:
///
/// ```text
/// lr_t = (1 + cos(π t / T)) / (1 + cos(π (t − 1) / T)) · (lr_{t−1} − η_min) + η_min
/// ```
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::optim::{CosineAnnealingLR, LrScheduler, Optimizer, SGD};
/// let mut opt = SGD::new(vec![Tensor::zeros(&[1]).requires_grad_(true)], 0.1);
/// let mut sched = CosineAnnealingLR::new(&mut opt, 10, 0.0);
/// for _ in 0..5 { sched.step(&mut opt); }
/// assert!((opt.lr() - 0.05).abs() < 1e-12); // half way
/// ```
#[derive(Debug, Clone)]
pub struct CosineAnnealingLR {
    t_max: usize,
    eta_min: f64,
    base_lrs: Vec<f64>,
    epoch: usize,
    last: Vec<f64>,
}

impl CosineAnnealingLR {
    /// Anneals over `t_max` epochs down to `eta_min`.
    ///
    /// # Panics
    /// If `t_max` is 0.
    #[track_caller]
    pub fn new(optimizer: &mut dyn Optimizer, t_max: usize, eta_min: f64) -> CosineAnnealingLR {
        assert!(t_max > 0, "CosineAnnealingLR: T_max must be at least 1, got 0");
        let base_lrs = group_lrs(optimizer);
        CosineAnnealingLR { t_max, eta_min, last: base_lrs.clone(), base_lrs, epoch: 0 }
    }
}

impl LrScheduler for CosineAnnealingLR {
    fn step(&mut self, optimizer: &mut dyn Optimizer) {
        self.epoch += 1;
        let (t, tm, eta) = (self.epoch as f64, self.t_max as f64, self.eta_min);
        let lrs: Vec<f64> = group_lrs(optimizer)
            .iter()
            .zip(&self.base_lrs)
            .map(|(&lr, &base)| {
                if (self.epoch - 1 + self.t_max).is_multiple_of(2 * self.t_max) {
                    // (epoch − 1 − T_max) % (2 T_max) == 0: the bottom of the cosine
                    lr + (base - eta) * (1.0 - (PI / tm).cos()) / 2.0
                } else {
                    (1.0 + (PI * t / tm).cos()) / (1.0 + (PI * (t - 1.0) / tm).cos()) * (lr - eta) + eta
                }
            })
            .collect();
        set_lrs(optimizer, &lrs);
        self.last = lrs;
    }

    fn last_lr(&self) -> &[f64] {
        &self.last
    }

    fn last_epoch(&self) -> usize {
        self.epoch
    }
}

/// Scales the learning rate linearly from `start_factor` to `end_factor` of its initial
/// value over `total_iters` steps, then keeps it (PyTorch's `LinearLR`; a warm-up with
/// `start_factor < 1`).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::optim::{LinearLR, LrScheduler, Optimizer, SGD};
/// let mut opt = SGD::new(vec![Tensor::zeros(&[1]).requires_grad_(true)], 0.1);
/// let mut warmup = LinearLR::new(&mut opt, 0.25, 1.0, 3);
/// assert!((opt.lr() - 0.025).abs() < 1e-12);
/// for _ in 0..3 { warmup.step(&mut opt); }
/// assert!((opt.lr() - 0.1).abs() < 1e-12);
/// warmup.step(&mut opt);
/// assert!((opt.lr() - 0.1).abs() < 1e-12);
/// ```
#[derive(Debug, Clone)]
pub struct LinearLR {
    start_factor: f64,
    end_factor: f64,
    total_iters: usize,
    epoch: usize,
    last: Vec<f64>,
}

impl LinearLR {
    /// Warms up (or down) linearly; PyTorch's defaults are `(1/3, 1.0, 5)`.
    ///
    /// # Panics
    /// If `start_factor` is not in (0, 1] or `end_factor` not in [0, 1].
    #[track_caller]
    pub fn new(optimizer: &mut dyn Optimizer, start_factor: f64, end_factor: f64, total_iters: usize) -> LinearLR {
        assert!(
            start_factor > 0.0 && start_factor <= 1.0,
            "LinearLR: Starting multiplicative factor expected to be greater than 0 and less or equal to 1, got {start_factor}"
        );
        assert!(
            (0.0..=1.0).contains(&end_factor),
            "LinearLR: Ending multiplicative factor expected to be between 0 and 1, got {end_factor}"
        );
        let lrs: Vec<f64> = group_lrs(optimizer).iter().map(|lr| lr * start_factor).collect();
        set_lrs(optimizer, &lrs);
        LinearLR { start_factor, end_factor, total_iters, epoch: 0, last: lrs }
    }
}

impl LrScheduler for LinearLR {
    fn step(&mut self, optimizer: &mut dyn Optimizer) {
        self.epoch += 1;
        let mut lrs = group_lrs(optimizer);
        if self.epoch <= self.total_iters {
            let (s, e, n, t) = (self.start_factor, self.end_factor, self.total_iters as f64, self.epoch as f64);
            let factor = 1.0 + (e - s) / (n * s + (t - 1.0) * (e - s));
            lrs.iter_mut().for_each(|lr| *lr *= factor);
        }
        set_lrs(optimizer, &lrs);
        self.last = lrs;
    }

    fn last_lr(&self) -> &[f64] {
        &self.last
    }

    fn last_epoch(&self) -> usize {
        self.epoch
    }
}

/// How [`OneCycleLR`] interpolates within a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnnealStrategy {
    /// Half a cosine (the default).
    #[default]
    Cos,
    /// A straight line.
    Linear,
}

/// The configuration of [`OneCycleLR`], with PyTorch's defaults.
///
/// ```
/// use nabla_nn::optim::OneCycleOptions;
/// let o = OneCycleOptions::new(0.1, 100).pct_start(0.25).cycle_momentum(false);
/// assert_eq!(o.div_factor, 25.0);
/// ```
#[derive(Debug, Clone)]
pub struct OneCycleOptions {
    /// The peak learning rate.
    pub max_lr: f64,
    /// The number of steps in the cycle.
    pub total_steps: usize,
    /// The fraction of the cycle spent increasing the learning rate (0.3).
    pub pct_start: f64,
    /// Interpolation within phases (cosine).
    pub anneal_strategy: AnnealStrategy,
    /// Whether momentum (β₁ for Adam) moves inversely to the learning rate (true).
    pub cycle_momentum: bool,
    /// The momentum at the peak learning rate (0.85).
    pub base_momentum: f64,
    /// The momentum at the start and end (0.95).
    pub max_momentum: f64,
    /// `initial_lr = max_lr / div_factor` (25).
    pub div_factor: f64,
    /// `min_lr = initial_lr / final_div_factor` (1e4).
    pub final_div_factor: f64,
}

impl OneCycleOptions {
    /// PyTorch's defaults for a cycle peaking at `max_lr` over `total_steps`.
    pub fn new(max_lr: f64, total_steps: usize) -> OneCycleOptions {
        OneCycleOptions {
            max_lr,
            total_steps,
            pct_start: 0.3,
            anneal_strategy: AnnealStrategy::Cos,
            cycle_momentum: true,
            base_momentum: 0.85,
            max_momentum: 0.95,
            div_factor: 25.0,
            final_div_factor: 1e4,
        }
    }

    /// Sets the fraction of the cycle spent warming up.
    pub fn pct_start(mut self, pct_start: f64) -> OneCycleOptions {
        self.pct_start = pct_start;
        self
    }

    /// Sets the interpolation.
    pub fn anneal_strategy(mut self, strategy: AnnealStrategy) -> OneCycleOptions {
        self.anneal_strategy = strategy;
        self
    }

    /// Turns momentum cycling on or off.
    pub fn cycle_momentum(mut self, cycle: bool) -> OneCycleOptions {
        self.cycle_momentum = cycle;
        self
    }

    /// Sets the momentum range `(base, max)`.
    pub fn momentum_range(mut self, base_momentum: f64, max_momentum: f64) -> OneCycleOptions {
        (self.base_momentum, self.max_momentum) = (base_momentum, max_momentum);
        self
    }

    /// Sets `div_factor`.
    pub fn div_factor(mut self, div_factor: f64) -> OneCycleOptions {
        self.div_factor = div_factor;
        self
    }

    /// Sets `final_div_factor`.
    pub fn final_div_factor(mut self, final_div_factor: f64) -> OneCycleOptions {
        self.final_div_factor = final_div_factor;
        self
    }
}

/// The 1cycle policy (PyTorch's `OneCycleLR`, two phases): the learning rate rises from
/// `max_lr / div_factor` to `max_lr` over the first `pct_start` of the steps, then
/// anneals to `initial_lr / final_div_factor`; momentum moves the opposite way between
/// `max_momentum` and `base_momentum`. Step it after every batch.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::optim::{LrScheduler, OneCycleLR, Optimizer, SGD};
/// let mut opt = SGD::new(vec![Tensor::zeros(&[1]).requires_grad_(true)], 0.1).momentum(0.9);
/// let mut sched = OneCycleLR::new(&mut opt, 0.1, 10);
/// assert!((opt.lr() - 0.004).abs() < 1e-12);
/// assert_eq!(opt.param_groups()[0].momentum, Some(0.95));
/// for _ in 0..2 { sched.step(&mut opt); }
/// assert!((opt.lr() - 0.1).abs() < 1e-12); // the peak, at step 0.3 · 10 − 1
/// ```
#[derive(Debug, Clone)]
pub struct OneCycleLR {
    options: OneCycleOptions,
    epoch: usize,
    last: Vec<f64>,
}

impl OneCycleLR {
    /// A cycle with PyTorch's defaults peaking at `max_lr` over `total_steps` steps.
    ///
    /// # Panics
    /// As [`OneCycleLR::with_options`].
    #[track_caller]
    pub fn new(optimizer: &mut dyn Optimizer, max_lr: f64, total_steps: usize) -> OneCycleLR {
        OneCycleLR::with_options(optimizer, OneCycleOptions::new(max_lr, total_steps))
    }

    /// A cycle with the given options.
    ///
    /// # Panics
    /// If `total_steps` is 0, `pct_start` is not in [0, 1], or momentum cycling is on
    /// and the optimizer has no momentum (Adagrad).
    #[track_caller]
    pub fn with_options(optimizer: &mut dyn Optimizer, options: OneCycleOptions) -> OneCycleLR {
        assert!(options.total_steps > 0, "OneCycleLR: Expected positive integer total_steps, but got 0");
        assert!(
            (0.0..=1.0).contains(&options.pct_start),
            "OneCycleLR: Expected float between 0 and 1 pct_start, but got {}",
            options.pct_start
        );
        if options.cycle_momentum && optimizer.param_groups().iter().any(|g| g.momentum.is_none()) {
            panic!(
                "OneCycleLR: optimizer must support momentum or beta1 with `cycle_momentum` option enabled; \
                 hint: OneCycleOptions::new(..).cycle_momentum(false)"
            );
        }
        let mut s = OneCycleLR { options, epoch: 0, last: Vec::new() };
        s.apply(optimizer);
        s
    }

    /// Sets the learning rate and momentum of step `self.epoch`.
    #[track_caller]
    fn apply(&mut self, optimizer: &mut dyn Optimizer) {
        let o = &self.options;
        assert!(
            self.epoch <= o.total_steps,
            "OneCycleLR: Tried to step {} times. The specified number of total steps is {}",
            self.epoch,
            o.total_steps
        );
        let initial_lr = o.max_lr / o.div_factor;
        let min_lr = initial_lr / o.final_div_factor;
        let phase1_end = o.pct_start * o.total_steps as f64 - 1.0;
        let phase2_end = o.total_steps as f64 - 1.0;
        let step = self.epoch as f64;
        let anneal = |start: f64, end: f64, pct: f64| match o.anneal_strategy {
            AnnealStrategy::Cos => end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0),
            AnnealStrategy::Linear => (end - start) * pct + start,
        };
        let (lr, momentum) = if step <= phase1_end {
            let pct = step / phase1_end;
            (anneal(initial_lr, o.max_lr, pct), anneal(o.max_momentum, o.base_momentum, pct))
        } else {
            let pct = (step - phase1_end) / (phase2_end - phase1_end);
            (anneal(o.max_lr, min_lr, pct), anneal(o.base_momentum, o.max_momentum, pct))
        };
        for g in optimizer.param_groups_mut() {
            g.lr = lr;
            if o.cycle_momentum {
                g.momentum = Some(momentum);
            }
        }
        self.last = group_lrs(optimizer);
    }
}

impl LrScheduler for OneCycleLR {
    /// # Panics
    /// When stepped past `total_steps`, as PyTorch.
    #[track_caller]
    fn step(&mut self, optimizer: &mut dyn Optimizer) {
        self.epoch += 1;
        self.apply(optimizer);
    }

    fn last_lr(&self) -> &[f64] {
        &self.last
    }

    fn last_epoch(&self) -> usize {
        self.epoch
    }
}
