//! Loss modules (PyTorch's `nn.MSELoss`, `nn.CrossEntropyLoss`, …): a loss's options
//! held in a value, with `forward(&input, &target)` forwarding to the functional loss of
//! the same name. They have no parameters, so they are not [`crate::nn::Module`]s (which
//! take one input).

use crate::display::py_float;
use nabla_autograd::functional::{self as F, BceWithLogitsOptions, CrossEntropyOptions, NllLossOptions, Reduction};
use nabla_autograd::Tensor;
use std::fmt;

fn reduction_repr(r: Reduction) -> &'static str {
    match r {
        Reduction::Mean => "",
        Reduction::Sum => "reduction='sum'",
        Reduction::None => "reduction='none'",
    }
}

/// Mean squared error, `mean((input − target)²)` (PyTorch's `nn.MSELoss`).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::MSELoss;
/// let loss = MSELoss::new().forward(&Tensor::from_vec(vec![1.0f32, 3.0], &[2]), &Tensor::zeros(&[2]));
/// assert_eq!(loss.item(), 5.0);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MSELoss {
    /// How the per-element losses are reduced (mean).
    pub reduction: Reduction,
}

impl MSELoss {
    /// The mean of the squared errors.
    pub fn new() -> MSELoss {
        MSELoss::default()
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> MSELoss {
        self.reduction = reduction;
        self
    }

    /// The loss of `input` against `target` (same shapes, or broadcastable).
    #[track_caller]
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Tensor {
        F::mse_loss_with(input, target, self.reduction)
    }
}

/// Mean absolute error, `mean(|input − target|)` (PyTorch's `nn.L1Loss`).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::L1Loss;
/// let loss = L1Loss::new().forward(&Tensor::from_vec(vec![1.0f32, -3.0], &[2]), &Tensor::zeros(&[2]));
/// assert_eq!(loss.item(), 2.0);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct L1Loss {
    /// How the per-element losses are reduced (mean).
    pub reduction: Reduction,
}

impl L1Loss {
    /// The mean of the absolute errors.
    pub fn new() -> L1Loss {
        L1Loss::default()
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> L1Loss {
        self.reduction = reduction;
        self
    }

    /// The loss of `input` against `target`.
    #[track_caller]
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Tensor {
        F::l1_loss_with(input, target, self.reduction)
    }
}

/// Huber loss (PyTorch's `nn.HuberLoss`): quadratic for errors below `delta` (1.0),
/// linear above.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::HuberLoss;
/// let loss = HuberLoss::new().forward(&Tensor::from_vec(vec![0.5f32, 3.0], &[2]), &Tensor::zeros(&[2]));
/// assert_eq!(loss.item(), (0.125 + 2.5) / 2.0);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HuberLoss {
    /// Where the loss turns from quadratic to linear.
    pub delta: f64,
    /// How the per-element losses are reduced (mean).
    pub reduction: Reduction,
}

impl Default for HuberLoss {
    fn default() -> HuberLoss {
        HuberLoss { delta: 1.0, reduction: Reduction::Mean }
    }
}

impl HuberLoss {
    /// Huber loss with `delta` 1.
    pub fn new() -> HuberLoss {
        HuberLoss::default()
    }

    /// Sets `delta`.
    pub fn delta(mut self, delta: f64) -> HuberLoss {
        self.delta = delta;
        self
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> HuberLoss {
        self.reduction = reduction;
        self
    }

    /// The loss of `input` against `target`.
    #[track_caller]
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Tensor {
        F::huber_loss_with(input, target, self.delta, self.reduction)
    }
}

/// Cross-entropy of logits `[N, C]` (or `[N, C, d…]`) against int64 class indices `[N]`
/// or class probabilities `[N, C]` (PyTorch's `nn.CrossEntropyLoss`): log-softmax and
/// negative log-likelihood in one stable op.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::CrossEntropyLoss;
/// let logits = Tensor::zeros(&[2, 4]);
/// let labels = Tensor::from_vec(vec![1i64, 3], &[2]);
/// let loss = CrossEntropyLoss::new().forward(&logits, &labels);
/// assert!((loss.item() - 4f64.ln()).abs() < 1e-6);
/// assert_eq!(CrossEntropyLoss::new().label_smoothing(0.1).to_string(), "CrossEntropyLoss(label_smoothing=0.1)");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CrossEntropyLoss {
    /// Reduction, label smoothing and ignored index (PyTorch's defaults).
    pub options: CrossEntropyOptions,
}

impl CrossEntropyLoss {
    /// Mean cross-entropy, no label smoothing, index −100 ignored.
    pub fn new() -> CrossEntropyLoss {
        CrossEntropyLoss::default()
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> CrossEntropyLoss {
        self.options.reduction = reduction;
        self
    }

    /// Sets the label smoothing `ε`: targets become `(1 − ε) · onehot + ε / C`.
    pub fn label_smoothing(mut self, epsilon: f64) -> CrossEntropyLoss {
        self.options.label_smoothing = epsilon;
        self
    }

    /// Sets the class index whose targets contribute nothing (`None`: none ignored).
    pub fn ignore_index(mut self, index: Option<i64>) -> CrossEntropyLoss {
        self.options.ignore_index = index;
        self
    }

    /// The loss of `input` (logits) against `target`.
    #[track_caller]
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Tensor {
        F::cross_entropy_with(input, target, &self.options)
    }
}

/// Negative log-likelihood of log-probabilities `[N, C]` against int64 class indices
/// (PyTorch's `nn.NLLLoss`); follows a `LogSoftmax` layer.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::NLLLoss;
/// let logp = Tensor::from_vec(vec![-0.5f32, -1.5, -2.0, -0.1], &[2, 2]);
/// let loss = NLLLoss::new().forward(&logp, &Tensor::from_vec(vec![0i64, 1], &[2]));
/// assert!((loss.item() - 0.3).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NLLLoss {
    /// Reduction and ignored index (PyTorch's defaults).
    pub options: NllLossOptions,
}

impl NLLLoss {
    /// Mean NLL, index −100 ignored.
    pub fn new() -> NLLLoss {
        NLLLoss::default()
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> NLLLoss {
        self.options.reduction = reduction;
        self
    }

    /// Sets the class index whose targets contribute nothing.
    pub fn ignore_index(mut self, index: Option<i64>) -> NLLLoss {
        self.options.ignore_index = index;
        self
    }

    /// The loss of `input` (log-probabilities) against `target`.
    #[track_caller]
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Tensor {
        F::nll_loss_with(input, target, &self.options)
    }
}

/// Binary cross-entropy of probabilities in [0, 1] against targets in [0, 1] (PyTorch's
/// `nn.BCELoss`); each log is clamped at −100.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::BCELoss;
/// let p = Tensor::from_vec(vec![0.5f32, 0.5], &[2]);
/// let loss = BCELoss::new().forward(&p, &Tensor::from_vec(vec![1.0f32, 0.0], &[2]));
/// assert!((loss.item() - 2f64.ln()).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct BCELoss {
    /// How the per-element losses are reduced (mean).
    pub reduction: Reduction,
}

impl BCELoss {
    /// Mean binary cross-entropy.
    pub fn new() -> BCELoss {
        BCELoss::default()
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> BCELoss {
        self.reduction = reduction;
        self
    }

    /// The loss of `input` (probabilities) against `target`.
    #[track_caller]
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Tensor {
        F::binary_cross_entropy_with(input, target, self.reduction)
    }
}

/// Binary cross-entropy of logits (PyTorch's `nn.BCEWithLogitsLoss`): a sigmoid and BCE
/// in one op, stable for any logit, with an optional weight of the positive term.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::BCEWithLogitsLoss;
/// let loss = BCEWithLogitsLoss::new().forward(&Tensor::zeros(&[2]), &Tensor::from_vec(vec![1.0f32, 0.0], &[2]));
/// assert!((loss.item() - 2f64.ln()).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Default)]
pub struct BCEWithLogitsLoss {
    /// Reduction and positive weight (PyTorch's defaults: mean, none).
    pub options: BceWithLogitsOptions,
}

impl BCEWithLogitsLoss {
    /// Mean binary cross-entropy of logits.
    pub fn new() -> BCEWithLogitsLoss {
        BCEWithLogitsLoss::default()
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> BCEWithLogitsLoss {
        self.options.reduction = reduction;
        self
    }

    /// Weights the positive term (broadcast over the input, typically `[C]`).
    pub fn pos_weight(mut self, pos_weight: Tensor) -> BCEWithLogitsLoss {
        self.options.pos_weight = Some(pos_weight);
        self
    }

    /// The loss of `input` (logits) against `target`.
    #[track_caller]
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Tensor {
        F::binary_cross_entropy_with_logits_with(input, target, &self.options)
    }
}

fn write_loss(f: &mut fmt::Formatter<'_>, name: &str, parts: &[String]) -> fmt::Result {
    let parts: Vec<&str> = parts.iter().map(|s| s.as_str()).filter(|s| !s.is_empty()).collect();
    write!(f, "{name}({})", parts.join(", "))
}

impl fmt::Display for MSELoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_loss(f, "MSELoss", &[reduction_repr(self.reduction).into()])
    }
}

impl fmt::Display for L1Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_loss(f, "L1Loss", &[reduction_repr(self.reduction).into()])
    }
}

impl fmt::Display for HuberLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let delta = if self.delta == 1.0 { String::new() } else { format!("delta={}", py_float(self.delta)) };
        write_loss(f, "HuberLoss", &[delta, reduction_repr(self.reduction).into()])
    }
}

impl fmt::Display for CrossEntropyLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        let smoothing = if o.label_smoothing == 0.0 {
            String::new()
        } else {
            format!("label_smoothing={}", py_float(o.label_smoothing))
        };
        let ignore = match o.ignore_index {
            Some(-100) => String::new(),
            Some(i) => format!("ignore_index={i}"),
            None => "ignore_index=None".into(),
        };
        write_loss(f, "CrossEntropyLoss", &[ignore, reduction_repr(o.reduction).into(), smoothing])
    }
}

impl fmt::Display for NLLLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ignore = match self.options.ignore_index {
            Some(-100) => String::new(),
            Some(i) => format!("ignore_index={i}"),
            None => "ignore_index=None".into(),
        };
        write_loss(f, "NLLLoss", &[ignore, reduction_repr(self.options.reduction).into()])
    }
}

impl fmt::Display for BCELoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_loss(f, "BCELoss", &[reduction_repr(self.reduction).into()])
    }
}

impl fmt::Display for BCEWithLogitsLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_loss(f, "BCEWithLogitsLoss", &[reduction_repr(self.options.reduction).into()])
    }
}
