//! The seeded random number generator behind `rand`, `randn`, dropout, init and shuffling.
//!
//! One process-wide generator, seeded by [`manual_seed`]: the same seed and the same
//! sequence of calls give the same numbers. Threads that need their own stream take one
//! with [`fork_rng`].

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::{Mutex, OnceLock};

fn global() -> &'static Mutex<StdRng> {
    static G: OnceLock<Mutex<StdRng>> = OnceLock::new();
    G.get_or_init(|| Mutex::new(StdRng::seed_from_u64(0x006e_6162_6c61)))
}

/// Seeds the global generator, so that runs are reproducible.
///
/// ```
/// use nabla_autograd::{manual_seed, Tensor};
/// manual_seed(7);
/// let a = Tensor::randn(&[3]).to_vec::<f32>();
/// manual_seed(7);
/// assert_eq!(a, Tensor::randn(&[3]).to_vec::<f32>());
/// ```
pub fn manual_seed(seed: u64) {
    *global().lock().unwrap_or_else(|e| e.into_inner()) = StdRng::seed_from_u64(seed);
}

/// Runs `f` with the global generator.
///
/// ```
/// use rand::Rng;
/// let x: f64 = nabla_autograd::rng::with_rng(|r| r.random());
/// assert!((0.0..1.0).contains(&x));
/// ```
pub fn with_rng<R>(f: impl FnOnce(&mut StdRng) -> R) -> R {
    f(&mut global().lock().unwrap_or_else(|e| e.into_inner()))
}

/// A new generator seeded from the global one (advancing it): reproducible streams for
/// data loaders and worker threads.
///
/// ```
/// use rand::Rng;
/// nabla_autograd::manual_seed(1);
/// let a: u32 = nabla_autograd::rng::fork_rng().random();
/// nabla_autograd::manual_seed(1);
/// let b: u32 = nabla_autograd::rng::fork_rng().random();
/// assert_eq!(a, b);
/// ```
pub fn fork_rng() -> StdRng {
    with_rng(|r| StdRng::seed_from_u64(r.random()))
}

/// `n` standard normal samples (Box–Muller, in f64).
pub(crate) fn normal_samples(n: usize, mean: f64, std: f64) -> Vec<f64> {
    with_rng(|r| {
        let mut out = Vec::with_capacity(n + 1);
        while out.len() < n {
            let u1: f64 = r.random::<f64>().max(f64::MIN_POSITIVE);
            let u2: f64 = r.random();
            let rad = (-2.0 * u1.ln()).sqrt();
            let th = std::f64::consts::TAU * u2;
            out.push(mean + std * rad * th.cos());
            out.push(mean + std * rad * th.sin());
        }
        out.truncate(n);
        out
    })
}

/// `n` uniform samples in `[low, high)`.
pub(crate) fn uniform_samples(n: usize, low: f64, high: f64) -> Vec<f64> {
    with_rng(|r| (0..n).map(|_| low + (high - low) * r.random::<f64>()).collect())
}
