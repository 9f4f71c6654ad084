//! Small synthetic datasets for examples and tests. Random ones draw from
//! `nabla_autograd::rng::fork_rng()`, so a `manual_seed` makes them reproducible.

use std::f32::consts::PI;

use nabla_autograd::Tensor;
use rand::rngs::StdRng;
use rand::Rng;

use crate::TensorDataset;

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut StdRng) -> f32 {
    let u1 = 1.0 - rng.random::<f32>(); // in (0, 1]: ln stays finite
    let u2 = rng.random::<f32>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

/// The four points of XOR: inputs `[4, 2]` f32 (`00, 01, 10, 11`), class labels `[4]` i64
/// (`0, 1, 1, 0`). For a binary cross-entropy target, convert the labels with
/// `y.to_dtype(DType::F32)`.
///
/// ```
/// use nabla_data::synthetic;
/// let (x, y) = synthetic::xor().into_tensors();
/// assert_eq!(x.to_vec::<f32>(), vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
/// assert_eq!(y.to_vec::<i64>(), vec![0, 1, 1, 0]);
/// ```
pub fn xor() -> TensorDataset {
    let x = Tensor::from_vec(vec![0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2]);
    let y = Tensor::from_vec(vec![0i64, 1, 1, 0], &[4]);
    TensorDataset::new(x, y)
}

/// Interleaved spiral arms in the plane (the CS231n toy problem): `classes` arms of
/// `n_per_class` points each, angles jittered by `noise` standard deviations (radians).
/// Inputs `[n_per_class * classes, 2]` f32 within the unit disc, labels i64 `0..classes`.
///
/// ```
/// use nabla_data::{synthetic, Dataset};
/// let ds = synthetic::spirals(100, 3, 0.2);
/// assert_eq!(ds.len(), 300);
/// let (x, y) = ds.into_tensors();
/// assert_eq!(x.shape(), &[300, 2]);
/// assert_eq!(y.to_vec::<i64>()[299], 2);
/// ```
pub fn spirals(n_per_class: usize, classes: usize, noise: f32) -> TensorDataset {
    let mut rng = nabla_autograd::rng::fork_rng();
    let n = n_per_class * classes;
    let mut x = Vec::with_capacity(2 * n);
    let mut y = Vec::with_capacity(n);
    for class in 0..classes {
        for i in 0..n_per_class {
            let t = if n_per_class > 1 { i as f32 / (n_per_class - 1) as f32 } else { 0.0 };
            let radius = t;
            let angle = (class as f32 + t) * 4.0 + normal(&mut rng) * noise;
            x.push(radius * angle.sin());
            x.push(radius * angle.cos());
            y.push(class as i64);
        }
    }
    TensorDataset::new(Tensor::from_vec(x, &[n, 2]), Tensor::from_vec(y, &[n]))
}

/// Two interleaving half circles, as scikit-learn's `make_moons`: `n` points (the first
/// `n - n / 2` on the upper moon, class 0, the rest on the lower, class 1) with Gaussian
/// noise of standard deviation `noise` added to each coordinate. Inputs `[n, 2]` f32, labels
/// `[n]` i64.
///
/// ```
/// use nabla_data::{synthetic, Dataset};
/// let (x, y) = synthetic::moons(200, 0.1).into_tensors();
/// assert_eq!(x.shape(), &[200, 2]);
/// assert_eq!(y.to_vec::<i64>().iter().sum::<i64>(), 100);
/// ```
pub fn moons(n: usize, noise: f32) -> TensorDataset {
    let mut rng = nabla_autograd::rng::fork_rng();
    let n_upper = n - n / 2;
    let n_lower = n / 2;
    let step = |i: usize, count: usize| if count > 1 { PI * i as f32 / (count - 1) as f32 } else { 0.0 };
    let mut x = Vec::with_capacity(2 * n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n_upper {
        let a = step(i, n_upper);
        x.push(a.cos() + noise * normal(&mut rng));
        x.push(a.sin() + noise * normal(&mut rng));
        y.push(0i64);
    }
    for i in 0..n_lower {
        let a = step(i, n_lower);
        x.push(1.0 - a.cos() + noise * normal(&mut rng));
        x.push(0.5 - a.sin() + noise * normal(&mut rng));
        y.push(1i64);
    }
    TensorDataset::new(Tensor::from_vec(x, &[n, 2]), Tensor::from_vec(y, &[n]))
}

/// A linear regression problem: inputs `[n, w.len()]` f32 uniform in `[-1, 1)`, targets
/// `[n, 1]` f32 `x · w + b` plus Gaussian noise of standard deviation `noise`.
///
/// ```
/// use nabla_data::synthetic;
/// let (x, y) = synthetic::linear(50, &[2.0, -1.0], 0.5, 0.0).into_tensors();
/// let (x, y) = (x.to_vec::<f32>(), y.to_vec::<f32>());
/// assert!((y[0] - (2.0 * x[0] - x[1] + 0.5)).abs() < 1e-6);
/// ```
pub fn linear(n: usize, w: &[f32], b: f32, noise: f32) -> TensorDataset {
    let mut rng = nabla_autograd::rng::fork_rng();
    let d = w.len();
    let x: Vec<f32> = (0..n * d).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let y: Vec<f32> = (0..n)
        .map(|i| {
            let row = &x[i * d..(i + 1) * d];
            row.iter().zip(w).map(|(xi, wi)| xi * wi).sum::<f32>() + b + noise * normal(&mut rng)
        })
        .collect();
    TensorDataset::new(Tensor::from_vec(x, &[n, d]), Tensor::from_vec(y, &[n, 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_datasets_are_reproducible() {
        nabla_autograd::rng::manual_seed(3);
        let a = moons(50, 0.1).into_tensors().0.to_vec::<f32>();
        nabla_autograd::rng::manual_seed(3);
        let b = moons(50, 0.1).into_tensors().0.to_vec::<f32>();
        assert_eq!(a, b);
    }

    #[test]
    fn linear_noise_has_the_right_scale() {
        let (x, y) = linear(4000, &[1.0], 0.0, 0.5).into_tensors();
        let (x, y) = (x.to_vec::<f32>(), y.to_vec::<f32>());
        let var = x.iter().zip(&y).map(|(a, b)| (b - a).powi(2)).sum::<f32>() / 4000.0;
        assert!((var.sqrt() - 0.5).abs() < 0.05, "std {}", var.sqrt());
    }

    #[test]
    fn spirals_stay_in_the_unit_disc() {
        let x = spirals(50, 4, 0.3).into_tensors().0.to_vec::<f32>();
        assert!(x.chunks(2).all(|p| p[0] * p[0] + p[1] * p[1] <= 1.0 + 1e-5));
    }
}
