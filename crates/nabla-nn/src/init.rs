//! Parameter initialization, as PyTorch's `torch.nn.init`: every function fills its tensor
//! in place under `no_grad` (so it works on parameters that require grad) and returns it.
//! Random values come from the global generator, seeded by `nabla::manual_seed`.

use nabla_autograd::rng::with_rng;
use nabla_autograd::{no_grad, DType, Error, Result, Tensor};
use std::str::FromStr;

/// The nonlinearity a layer is followed by, for [`calculate_gain`] and the Kaiming
/// initializers. `FromStr` accepts PyTorch's names (`"relu"`, `"leaky_relu"`, `"conv2d"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nonlinearity {
    /// No nonlinearity (`"linear"`); gain 1.
    Linear,
    /// `"conv1d"`; gain 1.
    Conv1d,
    /// `"conv2d"`; gain 1.
    Conv2d,
    /// `"conv3d"`; gain 1.
    Conv3d,
    /// `"conv_transpose1d"`; gain 1.
    ConvTranspose1d,
    /// `"conv_transpose2d"`; gain 1.
    ConvTranspose2d,
    /// `"conv_transpose3d"`; gain 1.
    ConvTranspose3d,
    /// `"sigmoid"`; gain 1.
    Sigmoid,
    /// `"tanh"`; gain 5/3.
    Tanh,
    /// `"relu"`; gain √2.
    ReLU,
    /// `"leaky_relu"`; gain √(2 / (1 + slope²)), slope 0.01 unless given.
    LeakyReLU,
    /// `"selu"`; gain 3/4.
    SELU,
}

impl FromStr for Nonlinearity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Nonlinearity> {
        use Nonlinearity::*;
        Ok(match s {
            "linear" => Linear,
            "conv1d" => Conv1d,
            "conv2d" => Conv2d,
            "conv3d" => Conv3d,
            "conv_transpose1d" => ConvTranspose1d,
            "conv_transpose2d" => ConvTranspose2d,
            "conv_transpose3d" => ConvTranspose3d,
            "sigmoid" => Sigmoid,
            "tanh" => Tanh,
            "relu" => ReLU,
            "leaky_relu" => LeakyReLU,
            "selu" => SELU,
            _ => {
                return Err(Error::invalid_argument(
                    "calculate_gain",
                    format!(
                        "Unsupported nonlinearity {s}; expected one of linear, conv1d, conv2d, conv3d, \
                         conv_transpose1d/2d/3d, sigmoid, tanh, relu, leaky_relu, selu"
                    ),
                ))
            }
        })
    }
}

/// The recommended scale of the weights for a layer followed by `nonlinearity`
/// (`param` is leaky ReLU's negative slope, 0.01 when `None`), as PyTorch's
/// `nn.init.calculate_gain`.
///
/// ```
/// use nabla_nn::init::{calculate_gain, Nonlinearity};
/// assert_eq!(calculate_gain(Nonlinearity::ReLU, None), 2f64.sqrt());
/// assert_eq!(calculate_gain(Nonlinearity::Tanh, None), 5.0 / 3.0);
/// assert_eq!(calculate_gain("leaky_relu".parse().unwrap(), Some(0.2)), (2.0 / 1.04f64).sqrt());
/// ```
pub fn calculate_gain(nonlinearity: Nonlinearity, param: Option<f64>) -> f64 {
    use Nonlinearity::*;
    match nonlinearity {
        Linear | Conv1d | Conv2d | Conv3d | ConvTranspose1d | ConvTranspose2d | ConvTranspose3d | Sigmoid => 1.0,
        Tanh => 5.0 / 3.0,
        ReLU => 2f64.sqrt(),
        LeakyReLU => {
            let slope = param.unwrap_or(0.01);
            (2.0 / (1.0 + slope * slope)).sqrt()
        }
        SELU => 3.0 / 4.0,
    }
}

/// Which fan the Kaiming initializers preserve the variance of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FanMode {
    /// The forward pass's (inputs per output), PyTorch's default `"fan_in"`.
    #[default]
    FanIn,
    /// The backward pass's (`"fan_out"`).
    FanOut,
}

/// `(fan_in, fan_out)` of a weight: `size(1)` and `size(0)` times the receptive field
/// (the product of the remaining sizes), as PyTorch's `_calculate_fan_in_and_fan_out`.
///
/// ```
/// use nabla_autograd::Tensor;
/// let conv_w = Tensor::zeros(&[32, 3, 5, 5]);
/// assert_eq!(nabla_nn::init::calculate_fan_in_and_fan_out(&conv_w).unwrap(), (75, 800));
/// assert!(nabla_nn::init::calculate_fan_in_and_fan_out(&Tensor::zeros(&[4])).is_err());
/// ```
pub fn calculate_fan_in_and_fan_out(tensor: &Tensor) -> Result<(usize, usize)> {
    if tensor.dims() < 2 {
        return Err(Error::shape(
            "calculate_fan_in_and_fan_out",
            format!(
                "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions (shape {:?})",
                tensor.shape()
            ),
            "initialize 1-D tensors (biases) with uniform_ or zeros_",
        ));
    }
    let receptive: usize = tensor.shape()[2..].iter().product();
    Ok((tensor.shape()[1] * receptive, tensor.shape()[0] * receptive))
}

#[track_caller]
fn fan(tensor: &Tensor, mode: FanMode) -> usize {
    let (fan_in, fan_out) = calculate_fan_in_and_fan_out(tensor).unwrap_or_else(|e| panic!("{e}"));
    match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    }
}

fn float_dtype(tensor: &Tensor) -> DType {
    if tensor.dtype().is_float() {
        tensor.dtype()
    } else {
        DType::F64
    }
}

/// Overwrites `tensor` with `values` (same number of elements), under `no_grad`.
fn assign(tensor: &Tensor, values: &Tensor) -> Tensor {
    no_grad(|| tensor.copy_(&values.reshape(tensor.shape())))
}

/// Fills `tensor` with samples of U(a, b).
///
/// ```
/// use nabla_autograd::Tensor;
/// let w = Tensor::zeros(&[1000]).requires_grad_(true);
/// nabla_nn::init::uniform_(&w, -0.5, 0.5);
/// assert!(w.to_vec::<f32>().iter().all(|v| (-0.5..0.5).contains(v)));
/// assert!(w.requires_grad() && w.is_leaf());
/// ```
pub fn uniform_(tensor: &Tensor, a: f64, b: f64) -> Tensor {
    assign(tensor, &Tensor::uniform(tensor.shape(), a, b, float_dtype(tensor)))
}

/// Fills `tensor` with samples of N(mean, std²).
///
/// ```
/// use nabla_autograd::Tensor;
/// let w = Tensor::zeros(&[10000]);
/// nabla_nn::init::normal_(&w, 1.0, 0.1);
/// assert!((w.mean().item() - 1.0).abs() < 0.01);
/// ```
pub fn normal_(tensor: &Tensor, mean: f64, std: f64) -> Tensor {
    assign(tensor, &Tensor::normal(tensor.shape(), mean, std, float_dtype(tensor)))
}

/// Fills `tensor` with `value`.
///
/// ```
/// let w = nabla_autograd::Tensor::zeros(&[2]);
/// nabla_nn::init::constant_(&w, 0.3);
/// assert_eq!(w.to_vec::<f32>(), vec![0.3, 0.3]);
/// ```
pub fn constant_(tensor: &Tensor, value: f64) -> Tensor {
    no_grad(|| tensor.fill_(value))
}

/// Fills `tensor` with ones.
pub fn ones_(tensor: &Tensor) -> Tensor {
    constant_(tensor, 1.0)
}

/// Fills `tensor` with zeros.
pub fn zeros_(tensor: &Tensor) -> Tensor {
    constant_(tensor, 0.0)
}

/// Fills the 2-D `tensor` with the identity (ones on the diagonal, also when not square).
///
/// ```
/// let w = nabla_autograd::Tensor::zeros(&[2, 3]);
/// nabla_nn::init::eye_(&w);
/// assert_eq!(w.to_vec::<f32>(), vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
/// ```
///
/// # Panics
/// If `tensor` is not 2-D.
#[track_caller]
pub fn eye_(tensor: &Tensor) -> Tensor {
    let [rows, cols] = two_d(tensor, "eye_");
    let v: Vec<f64> = (0..rows * cols).map(|i| if i / cols == i % cols { 1.0 } else { 0.0 }).collect();
    assign(tensor, &Tensor::from_vec(v, &[rows, cols]))
}

#[track_caller]
fn two_d(tensor: &Tensor, op: &'static str) -> [usize; 2] {
    match tensor.shape() {
        &[r, c] => [r, c],
        s => panic!("{}", Error::shape(op, format!("Only tensors with 2 dimensions are supported, got {s:?}"), "")),
    }
}

/// Fills `tensor` with a (semi-)orthogonal matrix times `gain` (PyTorch's
/// `orthogonal_`): the rows (or columns, whichever are fewer) are orthonormal. Tensors
/// of more than 2 dimensions are flattened to `[size(0), rest]`.
///
/// Computed in f64: the QR factorization of a Gaussian matrix by modified Gram–Schmidt
/// (run twice for orthogonality to rounding), with R's diagonal positive, which is the
/// Haar-distributed Q PyTorch gets after its sign correction.
///
/// ```
/// use nabla_autograd::{DType, Tensor};
/// let w = Tensor::zeros_with(&[3, 5], DType::F64);
/// nabla_nn::init::orthogonal_(&w, 1.0);
/// let wwt = w.matmul(&w.t()).to_vec::<f64>();
/// for i in 0..3 { for j in 0..3 {
///     assert!((wwt[i * 3 + j] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
/// }}
/// ```
///
/// # Panics
/// If `tensor` has fewer than 2 dimensions.
#[track_caller]
pub fn orthogonal_(tensor: &Tensor, gain: f64) -> Tensor {
    if tensor.dims() < 2 {
        panic!(
            "{}",
            Error::shape(
                "orthogonal_",
                format!("Only tensors with 2 or more dimensions are supported, got {:?}", tensor.shape()),
                ""
            )
        );
    }
    let rows = tensor.shape()[0];
    let cols = tensor.numel() / rows.max(1);
    if tensor.numel() == 0 {
        return tensor.clone();
    }
    // Work on the tall orientation m×n (m ≥ n), columns orthonormalized.
    let (m, n) = (rows.max(cols), rows.min(cols));
    let a = Tensor::randn_with(&[m, n], DType::F64).to_vec::<f64>();
    let mut q = vec![0.0f64; m * n]; // column-major: column j at q[j*m..(j+1)*m]
    for j in 0..n {
        let mut v: Vec<f64> = (0..m).map(|i| a[i * n + j]).collect();
        for _ in 0..2 {
            for k in 0..j {
                let qk = &q[k * m..(k + 1) * m];
                let r: f64 = qk.iter().zip(&v).map(|(x, y)| x * y).sum();
                v.iter_mut().zip(qk).for_each(|(vi, qi)| *vi -= r * qi);
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        q[j * m..(j + 1) * m].iter_mut().zip(&v).for_each(|(qi, vi)| *qi = vi / norm);
    }
    // rows ≥ cols: tensor[i][j] = Q[i][j]; rows < cols: tensor = Qᵀ, tensor[i][j] = Q[j][i].
    let out: Vec<f64> = (0..rows * cols)
        .map(|idx| {
            let (i, j) = (idx / cols, idx % cols);
            gain * if rows >= cols { q[j * m + i] } else { q[i * m + j] }
        })
        .collect();
    assign(tensor, &Tensor::from_vec(out, &[rows * cols]))
}

/// Fills the 2-D `tensor` with N(0, std²) samples, then zeroes `ceil(sparsity · rows)`
/// randomly chosen entries of every column (PyTorch's `sparse_`).
///
/// ```
/// let w = nabla_autograd::Tensor::zeros(&[10, 4]);
/// nabla_nn::init::sparse_(&w, 0.3, 0.01);
/// let zeros = w.to_vec::<f32>().iter().filter(|&&v| v == 0.0).count();
/// assert_eq!(zeros, 3 * 4);
/// ```
///
/// # Panics
/// If `tensor` is not 2-D.
#[track_caller]
pub fn sparse_(tensor: &Tensor, sparsity: f64, std: f64) -> Tensor {
    use rand::seq::SliceRandom;
    let [rows, cols] = two_d(tensor, "sparse_");
    let num_zeros = (sparsity * rows as f64).ceil() as usize;
    let mut v = Tensor::normal(&[rows, cols], 0.0, std, DType::F64).to_vec::<f64>();
    let mut order: Vec<usize> = (0..rows).collect();
    with_rng(|rng| {
        for c in 0..cols {
            order.shuffle(rng);
            for &r in &order[..num_zeros.min(rows)] {
                v[r * cols + c] = 0.0;
            }
        }
    });
    assign(tensor, &Tensor::from_vec(v, &[rows, cols]))
}

/// Glorot/Xavier uniform: U(−a, a) with `a = gain · √(6 / (fan_in + fan_out))`.
///
/// ```
/// let w = nabla_autograd::Tensor::zeros(&[30, 20]);
/// nabla_nn::init::xavier_uniform_(&w, 1.0);
/// let a = (6.0f64 / 50.0).sqrt() as f32;
/// assert!(w.to_vec::<f32>().iter().all(|v| v.abs() <= a));
/// ```
///
/// # Panics
/// If `tensor` has fewer than 2 dimensions.
#[track_caller]
pub fn xavier_uniform_(tensor: &Tensor, gain: f64) -> Tensor {
    let (fan_in, fan_out) = calculate_fan_in_and_fan_out(tensor).unwrap_or_else(|e| panic!("{e}"));
    let a = gain * (6.0 / (fan_in + fan_out) as f64).sqrt();
    uniform_(tensor, -a, a)
}

/// Glorot/Xavier normal: N(0, std²) with `std = gain · √(2 / (fan_in + fan_out))`.
///
/// # Panics
/// If `tensor` has fewer than 2 dimensions.
#[track_caller]
pub fn xavier_normal_(tensor: &Tensor, gain: f64) -> Tensor {
    let (fan_in, fan_out) = calculate_fan_in_and_fan_out(tensor).unwrap_or_else(|e| panic!("{e}"));
    normal_(tensor, 0.0, gain * (2.0 / (fan_in + fan_out) as f64).sqrt())
}

/// He/Kaiming uniform: U(−b, b) with `b = gain · √(3 / fan)`, `gain =
/// calculate_gain(nonlinearity, a)` (`a` is leaky ReLU's slope). Linear and conv layers
/// use `a = √5`, `FanIn`, `LeakyReLU` for their weights, which gives `b = 1/√fan_in`.
///
/// ```
/// use nabla_nn::init::{kaiming_uniform_, FanMode, Nonlinearity};
/// let w = nabla_autograd::Tensor::zeros(&[64, 100]);
/// kaiming_uniform_(&w, 0.0, FanMode::FanIn, Nonlinearity::ReLU);
/// let bound = (6.0f64 / 100.0).sqrt() as f32;
/// assert!(w.to_vec::<f32>().iter().all(|v| v.abs() <= bound));
/// ```
///
/// # Panics
/// If `tensor` has fewer than 2 dimensions.
#[track_caller]
pub fn kaiming_uniform_(tensor: &Tensor, a: f64, mode: FanMode, nonlinearity: Nonlinearity) -> Tensor {
    let std = calculate_gain(nonlinearity, Some(a)) / (fan(tensor, mode) as f64).sqrt();
    let bound = 3f64.sqrt() * std;
    uniform_(tensor, -bound, bound)
}

/// He/Kaiming normal: N(0, std²) with `std = gain / √fan`.
///
/// # Panics
/// If `tensor` has fewer than 2 dimensions.
#[track_caller]
pub fn kaiming_normal_(tensor: &Tensor, a: f64, mode: FanMode, nonlinearity: Nonlinearity) -> Tensor {
    let std = calculate_gain(nonlinearity, Some(a)) / (fan(tensor, mode) as f64).sqrt();
    normal_(tensor, 0.0, std)
}

/// PyTorch's default initialization of a linear or convolution layer: the weight by
/// `kaiming_uniform_(a = √5)` (U(±1/√fan_in)) and the bias by U(±1/√fan_in).
pub(crate) fn reset_linear_like(weight: &Tensor, bias: Option<&Tensor>) {
    kaiming_uniform_(weight, 5f64.sqrt(), FanMode::FanIn, Nonlinearity::LeakyReLU);
    if let Some(b) = bias {
        reset_bias_like(weight, b);
    }
}

/// PyTorch's default bias of a linear or convolution layer: U(±1/√fan_in).
pub(crate) fn reset_bias_like(weight: &Tensor, bias: &Tensor) {
    let (fan_in, _) = calculate_fan_in_and_fan_out(weight).expect("weights have 2+ dimensions");
    let bound = if fan_in > 0 { 1.0 / (fan_in as f64).sqrt() } else { 0.0 };
    uniform_(bias, -bound, bound);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(v: &[f64]) -> (f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt())
    }

    #[test]
    fn gains_match_pytorch_table() {
        let _serial = crate::tests::SEED_LOCK.lock();
        let golden: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/golden/init_names.json")).unwrap();
        let gains = golden["gain"].as_object().unwrap();
        for (key, want) in gains {
            let (name, param) = match key.strip_prefix("leaky_relu_") {
                Some(p) => ("leaky_relu", Some(p.parse().unwrap())),
                None => (key.as_str(), None),
            };
            let got = calculate_gain(name.parse().unwrap(), param);
            assert!((got - want.as_f64().unwrap()).abs() < 1e-15, "{key}: {got} vs {want}");
        }
        assert!("softsign".parse::<Nonlinearity>().is_err());
    }

    #[test]
    fn uniform_and_normal_statistics() {
        let _serial = crate::tests::SEED_LOCK.lock();
        nabla_autograd::manual_seed(1);
        let w = Tensor::zeros_with(&[200, 100], DType::F64);
        uniform_(&w, -2.0, 4.0);
        let (m, s) = stats(&w.to_vec::<f64>());
        assert!((m - 1.0).abs() < 0.03, "{m}");
        assert!((s - 6.0 / 12f64.sqrt()).abs() < 0.03, "{s}");
        normal_(&w, -1.0, 0.5);
        let (m, s) = stats(&w.to_vec::<f64>());
        assert!((m + 1.0).abs() < 0.01, "{m}");
        assert!((s - 0.5).abs() < 0.01, "{s}");
    }

    #[test]
    fn kaiming_and_xavier_statistics() {
        let _serial = crate::tests::SEED_LOCK.lock();
        nabla_autograd::manual_seed(2);
        let w = Tensor::zeros_with(&[256, 64, 3, 3], DType::F64); // fan_in 576, fan_out 2304
        kaiming_normal_(&w, 0.0, FanMode::FanIn, Nonlinearity::ReLU);
        let (m, s) = stats(&w.to_vec::<f64>());
        assert!(m.abs() < 2e-3 && (s / (2.0f64 / 576.0).sqrt() - 1.0).abs() < 0.01, "{m} {s}");
        kaiming_uniform_(&w, 0.0, FanMode::FanOut, Nonlinearity::ReLU);
        let (_, s) = stats(&w.to_vec::<f64>());
        assert!((s / (2.0f64 / 2304.0).sqrt() - 1.0).abs() < 0.01, "{s}");
        xavier_uniform_(&w, 2.0);
        let (_, s) = stats(&w.to_vec::<f64>());
        assert!((s / (2.0 * (2.0f64 / 2880.0).sqrt()) - 1.0).abs() < 0.01, "{s}");
        xavier_normal_(&w, 1.0);
        let (_, s) = stats(&w.to_vec::<f64>());
        assert!((s / (2.0f64 / 2880.0).sqrt() - 1.0).abs() < 0.01, "{s}");
    }

    #[test]
    fn orthogonal_gives_orthonormal_columns_and_rows() {
        let _serial = crate::tests::SEED_LOCK.lock();
        nabla_autograd::manual_seed(3);
        for shape in [[50usize, 20], [20, 50], [16, 16]] {
            let w = Tensor::zeros_with(&shape, DType::F64);
            orthogonal_(&w, 2.0);
            // the smaller side is orthonormal (times gain²)
            let g = if shape[0] >= shape[1] { w.t().matmul(&w) } else { w.matmul(&w.t()) };
            let n = shape[0].min(shape[1]);
            let g = g.to_vec::<f64>();
            for i in 0..n {
                for j in 0..n {
                    let want = if i == j { 4.0 } else { 0.0 };
                    assert!((g[i * n + j] - want).abs() < 1e-12, "{shape:?} ({i},{j}) {}", g[i * n + j]);
                }
            }
        }
        // 4-D conv weights are flattened to [out, in·kh·kw]
        let w = Tensor::zeros(&[4, 2, 3, 3]);
        orthogonal_(&w, 1.0);
        let f = w.reshape(&[4, 18]);
        let g = f.matmul(&f.t()).to_vec::<f32>();
        for i in 0..4 {
            assert!((g[i * 4 + i] - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn sparse_zeroes_the_fraction_of_each_column() {
        let _serial = crate::tests::SEED_LOCK.lock();
        nabla_autograd::manual_seed(4);
        let w = Tensor::zeros_with(&[20, 30], DType::F64);
        sparse_(&w, 0.25, 0.5);
        let v = w.to_vec::<f64>();
        for c in 0..30 {
            assert_eq!((0..20).filter(|r| v[r * 30 + c] == 0.0).count(), 5);
        }
        let nonzero: Vec<f64> = v.into_iter().filter(|&x| x != 0.0).collect();
        let (_, s) = stats(&nonzero);
        assert!((s - 0.5).abs() < 0.05, "{s}");
    }

    #[test]
    fn eye_constant_and_errors() {
        let _serial = crate::tests::SEED_LOCK.lock();
        let w = Tensor::zeros(&[3, 2]).requires_grad_(true);
        eye_(&w);
        assert_eq!(w.to_vec::<f32>(), vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        assert!(w.requires_grad() && w.is_leaf());
        ones_(&w);
        assert_eq!(w.sum().item(), 6.0);
        zeros_(&w);
        assert_eq!(w.sum().item(), 0.0);
        let e = std::panic::catch_unwind(|| eye_(&Tensor::zeros(&[3]))).unwrap_err();
        assert!(e.downcast_ref::<String>().unwrap().contains("Only tensors with 2 dimensions"));
    }

    #[test]
    fn same_seed_same_values() {
        let _serial = crate::tests::SEED_LOCK.lock();
        nabla_autograd::manual_seed(9);
        let a = Tensor::zeros(&[5, 5]);
        kaiming_uniform_(&a, 5f64.sqrt(), FanMode::FanIn, Nonlinearity::LeakyReLU);
        nabla_autograd::manual_seed(9);
        let b = Tensor::zeros(&[5, 5]);
        kaiming_uniform_(&b, 5f64.sqrt(), FanMode::FanIn, Nonlinearity::LeakyReLU);
        assert_eq!(a.to_vec::<f32>(), b.to_vec::<f32>());
        assert!(a.to_vec::<f32>().iter().all(|v| v.abs() <= 1.0 / 5f32.sqrt()));
    }
}
