//! [`BatchNorm1d`] and [`BatchNorm2d`]: normalization by batch statistics in training,
//! by running statistics in evaluation. Composed of `mean`/`var`/`sub`/`div`/`sqrt`, so
//! the graph differentiates it (including through the batch statistics).

use crate::display::{py_bool, py_float};
use crate::module::{Module, Training};
use nabla_autograd::{no_grad, DType, Error, Tensor};
use std::fmt;

/// Batch normalization over the channel dimension (dimension 1), as PyTorch's
/// `nn.BatchNorm1d` (`D = 1`: input `[N, C]` or `[N, C, L]`) and `nn.BatchNorm2d`
/// (`D = 2`: input `[N, C, H, W]`). Use the aliases [`BatchNorm1d`] and [`BatchNorm2d`].
///
/// In training, `y = (x − mean) / √(var + eps) · weight + bias` with the biased
/// variance of the batch, and the running statistics move towards the batch's:
/// `running = (1 − momentum) · running + momentum · batch`, with the *unbiased*
/// variance for `running_var` (momentum 0.1; `None` for a cumulative average). In
/// evaluation the running statistics are used instead.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{BatchNorm1d, Module};
/// let bn = BatchNorm1d::new(2);
/// let x = Tensor::from_vec(vec![1.0f32, 10.0, 3.0, 30.0], &[2, 2]);
/// let y = bn.forward(&x);
/// assert!((y.to_vec::<f32>()[0] + 1.0).abs() < 1e-3); // (1 - 2) / 1
/// // running_mean = 0.9 · 0 + 0.1 · [2, 20]
/// assert_eq!(bn.running_mean.as_ref().unwrap().to_vec::<f32>(), vec![0.2, 2.0]);
/// bn.eval();
/// assert_eq!(bn.to_string(), "BatchNorm1d(2, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
/// ```
pub struct BatchNorm<const D: usize> {
    /// The number of channels `C`.
    pub num_features: usize,
    /// Added to the variance for numerical stability (1e-5).
    pub eps: f64,
    /// Weight of the batch statistics in the running ones (0.1); `None`: a cumulative
    /// average over all batches seen.
    pub momentum: Option<f64>,
    /// The learned scale `[C]` (ones), if affine.
    pub weight: Option<Tensor>,
    /// The learned shift `[C]` (zeros), if affine.
    pub bias: Option<Tensor>,
    /// Buffer `[C]`: the running mean (zeros), if tracking running statistics.
    pub running_mean: Option<Tensor>,
    /// Buffer `[C]`: the running unbiased variance (ones).
    pub running_var: Option<Tensor>,
    /// Buffer `[]` (int64): the number of training batches seen.
    pub num_batches_tracked: Option<Tensor>,
    training: Training,
}

/// Batch normalization of `[N, C]` or `[N, C, L]` inputs. See [`BatchNorm`].
pub type BatchNorm1d = BatchNorm<1>;

/// Batch normalization of `[N, C, H, W]` inputs. See [`BatchNorm`].
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{BatchNorm2d, Module};
/// let bn = BatchNorm2d::new(3);
/// let y = bn.forward(&Tensor::randn(&[4, 3, 5, 5]));
/// let per_channel = y.mean_dim(0, false).mean_dim(1, false).mean_dim(1, false);
/// assert!(per_channel.to_vec::<f32>().iter().all(|m| m.abs() < 1e-5));
/// let names: Vec<String> = bn.state_dict().keys().map(String::from).collect();
/// assert_eq!(names, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
/// ```
pub type BatchNorm2d = BatchNorm<2>;

impl<const D: usize> BatchNorm<D> {
    /// Float32 batch norm over `num_features` channels: affine, tracking running
    /// statistics, eps 1e-5, momentum 0.1.
    pub fn new(num_features: usize) -> BatchNorm<D> {
        BatchNorm::new_with(num_features, DType::F32)
    }

    /// Batch norm whose parameters and running statistics have the given dtype.
    pub fn new_with(num_features: usize, dtype: DType) -> BatchNorm<D> {
        let c = [num_features];
        BatchNorm {
            num_features,
            eps: 1e-5,
            momentum: Some(0.1),
            weight: Some(Tensor::ones_with(&c, dtype).requires_grad_(true)),
            bias: Some(Tensor::zeros_with(&c, dtype).requires_grad_(true)),
            running_mean: Some(Tensor::zeros_with(&c, dtype)),
            running_var: Some(Tensor::ones_with(&c, dtype)),
            num_batches_tracked: Some(Tensor::scalar(0i64)),
            training: Training::default(),
        }
    }

    /// Sets `eps`.
    pub fn eps(mut self, eps: f64) -> BatchNorm<D> {
        self.eps = eps;
        self
    }

    /// Sets the momentum of the running statistics (`None`: cumulative average).
    pub fn momentum(mut self, momentum: impl Into<Option<f64>>) -> BatchNorm<D> {
        self.momentum = momentum.into();
        self
    }

    /// With (`true`, the default) or without the learned `weight` and `bias`.
    pub fn affine(mut self, affine: bool) -> BatchNorm<D> {
        let dtype = self.dtype();
        let c = [self.num_features];
        if !affine {
            (self.weight, self.bias) = (None, None);
        } else if self.weight.is_none() {
            self.weight = Some(Tensor::ones_with(&c, dtype).requires_grad_(true));
            self.bias = Some(Tensor::zeros_with(&c, dtype).requires_grad_(true));
        }
        self
    }

    /// With (`true`, the default) or without running statistics; without, batch
    /// statistics are used in evaluation too.
    pub fn track_running_stats(mut self, track: bool) -> BatchNorm<D> {
        let dtype = self.dtype();
        let c = [self.num_features];
        if !track {
            (self.running_mean, self.running_var, self.num_batches_tracked) = (None, None, None);
        } else if self.running_mean.is_none() {
            self.running_mean = Some(Tensor::zeros_with(&c, dtype));
            self.running_var = Some(Tensor::ones_with(&c, dtype));
            self.num_batches_tracked = Some(Tensor::scalar(0i64));
        }
        self
    }

    fn dtype(&self) -> DType {
        self.weight.as_ref().or(self.running_mean.as_ref()).map_or(DType::F32, |t| t.dtype())
    }

    #[track_caller]
    fn check_input(&self, x: &Tensor) {
        let ok = if D == 1 { matches!(x.dims(), 2 | 3) } else { x.dims() == D + 2 };
        if !ok {
            let want = if D == 1 { "2D or 3D".to_string() } else { format!("{}D", D + 2) };
            panic!(
                "{}",
                Error::shape(
                    "batch_norm",
                    format!(
                        "{}: expected {want} input (got {}D input, shape {:?})",
                        self.type_name(),
                        x.dims(),
                        x.shape()
                    ),
                    "the input is [N, C, ...] with the channels in dimension 1",
                )
            );
        }
        if x.shape()[1] != self.num_features {
            panic!(
                "{}",
                Error::shape(
                    "batch_norm",
                    format!(
                        "running_mean should contain {} elements not {} (input shape {:?}, channels in dimension 1)",
                        x.shape()[1],
                        self.num_features,
                        x.shape()
                    ),
                    format!("the layer was built for {} channels", self.num_features),
                )
            );
        }
    }

    /// Moves the running statistics towards the batch's (under `no_grad`).
    fn update_running_stats(&self, mean: &Tensor, var: &Tensor, n: usize) {
        let (Some(rm), Some(rv)) = (&self.running_mean, &self.running_var) else { return };
        let factor = match (&self.num_batches_tracked, self.momentum) {
            (Some(nbt), m) => {
                let count = nbt.item() + 1.0;
                nbt.fill_(count);
                m.unwrap_or(1.0 / count)
            }
            (None, m) => m.unwrap_or(0.0),
        };
        let c = [self.num_features];
        no_grad(|| {
            let mean = mean.reshape(&c).to_dtype(rm.dtype());
            let unbiased = var.reshape(&c).to_dtype(rv.dtype()) * (n as f64 / (n as f64 - 1.0));
            rm.copy_(&(rm * (1.0 - factor) + mean * factor));
            rv.copy_(&(rv * (1.0 - factor) + unbiased * factor));
        });
    }
}

impl<const D: usize> Module for BatchNorm<D> {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        self.check_input(x);
        let reduce: Vec<usize> = std::iter::once(0).chain(2..x.dims()).collect();
        let mut bshape = vec![1usize; x.dims()];
        bshape[1] = self.num_features;
        let training = self.training.get();
        let (mean, var) = match (&self.running_mean, &self.running_var) {
            (Some(rm), Some(rv)) if !training => (rm.reshape(&bshape), rv.reshape(&bshape)),
            _ => {
                let n = x.numel() / self.num_features.max(1);
                if training && n <= 1 {
                    panic!(
                        "{}",
                        Error::invalid_argument(
                            "batch_norm",
                            format!(
                                "Expected more than 1 value per channel when training, got input size {:?}; \
                                 hint: use a batch of 2 or more, or call eval()",
                                x.shape()
                            )
                        )
                    );
                }
                let mean = x.try_mean_dims(&reduce, true).unwrap_or_else(|e| panic!("{e}"));
                let var = x.try_var_dims(&reduce, false, true).unwrap_or_else(|e| panic!("{e}"));
                if training {
                    self.update_running_stats(&mean.detach(), &var.detach(), n);
                }
                (mean, var)
            }
        };
        let y = (x - &mean) / (var + self.eps).sqrt();
        match (&self.weight, &self.bias) {
            (Some(w), Some(b)) => y * w.reshape(&bshape) + b.reshape(&bshape),
            (Some(w), None) => y * w.reshape(&bshape),
            _ => y,
        }
    }

    fn local_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        if let Some(w) = &self.weight {
            v.push(("weight".to_string(), w.clone()));
        }
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }

    fn local_buffers(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        for (name, t) in [
            ("running_mean", &self.running_mean),
            ("running_var", &self.running_var),
            ("num_batches_tracked", &self.num_batches_tracked),
        ] {
            if let Some(t) = t {
                v.push((name.to_string(), t.clone()));
            }
        }
        v
    }

    fn training_flag(&self) -> Option<&Training> {
        Some(&self.training)
    }

    fn type_name(&self) -> String {
        format!("BatchNorm{D}d")
    }

    fn extra_repr(&self) -> String {
        let momentum = self.momentum.map_or("None".to_string(), py_float);
        format!(
            "{}, eps={}, momentum={momentum}, affine={}, track_running_stats={}",
            self.num_features,
            py_float(self.eps),
            py_bool(self.weight.is_some()),
            py_bool(self.running_mean.is_some())
        )
    }
}

impl<const D: usize> fmt::Display for BatchNorm<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::display::fmt_module(self, f)
    }
}

impl<const D: usize> fmt::Debug for BatchNorm<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::display::fmt_module(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_autograd::autograd::gradcheck;

    fn channel_stats(x: &[f64], n: usize, c: usize, ch: usize) -> (f64, f64, f64) {
        let v: Vec<f64> = (0..n).map(|i| x[i * c + ch]).collect();
        let mean = v.iter().sum::<f64>() / n as f64;
        let ss: f64 = v.iter().map(|a| (a - mean).powi(2)).sum();
        (mean, ss / n as f64, ss / (n as f64 - 1.0))
    }

    #[test]
    fn training_normalizes_by_the_batch_and_tracks_running_stats() {
        let _serial = crate::tests::SEED_LOCK.lock();
        let bn = BatchNorm1d::new_with(2, DType::F64);
        let x1 = vec![1.0, 10.0, 2.0, -4.0, 4.0, 3.0, 7.0, 0.5];
        let x2 = vec![0.0, 1.0, -2.0, 2.0, 5.0, 3.0, 1.0, 9.0];
        let y1 = bn.forward(&Tensor::from_vec(x1.clone(), &[4, 2])).to_vec::<f64>();
        bn.forward(&Tensor::from_vec(x2.clone(), &[4, 2]));
        let (mut rm, mut rv) = ([0.0f64; 2], [1.0f64; 2]);
        for x in [&x1, &x2] {
            for ch in 0..2 {
                let (m, _, vu) = channel_stats(x, 4, 2, ch);
                rm[ch] = 0.9 * rm[ch] + 0.1 * m;
                rv[ch] = 0.9 * rv[ch] + 0.1 * vu;
            }
        }
        let got_rm = bn.running_mean.as_ref().unwrap().to_vec::<f64>();
        let got_rv = bn.running_var.as_ref().unwrap().to_vec::<f64>();
        for ch in 0..2 {
            assert!((got_rm[ch] - rm[ch]).abs() < 1e-14, "{got_rm:?} {rm:?}");
            assert!((got_rv[ch] - rv[ch]).abs() < 1e-14, "{got_rv:?} {rv:?}");
            let (m, vb, _) = channel_stats(&x1, 4, 2, ch);
            for i in 0..4 {
                let want = (x1[i * 2 + ch] - m) / (vb + 1e-5).sqrt();
                assert!((y1[i * 2 + ch] - want).abs() < 1e-12);
            }
        }
        assert_eq!(bn.num_batches_tracked.as_ref().unwrap().to_vec::<i64>(), vec![2]);

        // evaluation uses the running statistics and leaves them alone
        bn.eval();
        assert!(!bn.is_training());
        let y = bn.forward(&Tensor::from_vec(x1.clone(), &[4, 2])).to_vec::<f64>();
        for i in 0..4 {
            for ch in 0..2 {
                let want = (x1[i * 2 + ch] - rm[ch]) / (rv[ch] + 1e-5).sqrt();
                assert!((y[i * 2 + ch] - want).abs() < 1e-12);
            }
        }
        assert_eq!(bn.num_batches_tracked.as_ref().unwrap().to_vec::<i64>(), vec![2]);
        assert_eq!(bn.running_mean.as_ref().unwrap().to_vec::<f64>(), got_rm);
    }

    #[test]
    fn cumulative_average_without_momentum_and_spatial_dims() {
        let _serial = crate::tests::SEED_LOCK.lock();
        let bn = BatchNorm2d::new_with(1, DType::F64).momentum(None);
        let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 6.0], &[1, 1, 2, 2]);
        let b = Tensor::from_vec(vec![0.0, 0.0, 4.0, 4.0], &[2, 1, 1, 2]);
        bn.forward(&a);
        bn.forward(&b);
        // the mean of the two batch means, and of the two unbiased variances
        let rm = bn.running_mean.as_ref().unwrap().item();
        let rv = bn.running_var.as_ref().unwrap().item();
        assert!((rm - (3.0 + 2.0) / 2.0).abs() < 1e-14);
        assert!((rv - (14.0 / 3.0 + 16.0 / 3.0) / 2.0).abs() < 1e-14, "{rv}");
    }

    #[test]
    fn affine_parameters_are_learned_through_the_graph() {
        let _serial = crate::tests::SEED_LOCK.lock();
        let bn = BatchNorm1d::new_with(3, DType::F64);
        let x = Tensor::randn_with(&[5, 3, 4], DType::F64).requires_grad_(true);
        let w = bn.weight.clone().unwrap();
        let b = bn.bias.clone().unwrap();
        nabla_autograd::no_grad(|| {
            w.copy_(&Tensor::from_vec(vec![0.5, 2.0, -1.0], &[3]));
        });
        let f = |t: &[Tensor]| {
            let bn = BatchNorm1d::new_with(3, DType::F64).track_running_stats(false);
            let bn = BatchNorm1d { weight: Some(t[1].clone()), bias: Some(t[2].clone()), ..bn };
            (bn.forward(&t[0]) * Tensor::linspace(-1.0, 1.0, 60).to_dtype(DType::F64).reshape(&[5, 3, 4])).sum()
        };
        gradcheck(f, &[x, w, b]).unwrap();
    }

    #[test]
    fn misuse_is_explained() {
        let _serial = crate::tests::SEED_LOCK.lock();
        let bn = BatchNorm2d::new(3);
        let e = std::panic::catch_unwind(|| bn.forward(&Tensor::zeros(&[3, 4, 4]))).unwrap_err();
        assert!(e.downcast_ref::<String>().unwrap().contains("expected 4D input (got 3D input"));
        let e = std::panic::catch_unwind(|| bn.forward(&Tensor::zeros(&[2, 4, 4, 4]))).unwrap_err();
        assert!(e.downcast_ref::<String>().unwrap().contains("running_mean should contain 4 elements not 3"));
        let bn1 = BatchNorm1d::new(3);
        let e = std::panic::catch_unwind(|| bn1.forward(&Tensor::zeros(&[1, 3]))).unwrap_err();
        assert!(e.downcast_ref::<String>().unwrap().contains("Expected more than 1 value per channel when training"));
        bn1.eval();
        assert_eq!(bn1.forward(&Tensor::zeros(&[1, 3])).shape(), &[1, 3]);
    }
}
