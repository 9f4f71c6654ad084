//! A Hopfield network: store binary (±1) patterns with Hebbian outer products, then
//! recall them from copies with 20 % of the bits flipped, by asynchronous updates, printing
//! the energy as it falls.
//!
//! `cargo run --example 09_hopfield`

use nabla::prelude::*;
use rand::{Rng, SeedableRng};

fn energy(w: &Tensor, s: &Tensor) -> f64 {
    // E = -½ sᵀ W s
    -0.5 * s.matmul(&w.matmul(s)).item()
}

fn main() {
    let n = 64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let patterns: Vec<Vec<f32>> =
        (0..3).map(|_| (0..n).map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 }).collect()).collect();
    // Hebbian learning: W = Σ p pᵀ / n, zero diagonal
    let mut w = Tensor::zeros(&[n, n]);
    for p in &patterns {
        let p = Tensor::from_vec(p.clone(), &[n, 1]);
        w = &w + &p.matmul(&p.t());
    }
    let w = (&w * (1.0 / n as f64)) * (1.0 - Tensor::eye(n));
    let wv = w.to_vec::<f32>();
    let mut recalled = 0;
    for (k, p) in patterns.iter().enumerate() {
        let mut s = p.clone();
        let flips = n / 5;
        for i in rand::seq::index::sample(&mut rng, n, flips) {
            s[i] = -s[i];
        }
        println!(
            "pattern {k}: {flips} of {n} bits flipped, energy {:.3}",
            energy(&w, &Tensor::from_vec(s.clone(), &[n]))
        );
        for sweep in 0..5 {
            let mut changed = 0;
            for i in 0..n {
                // asynchronous update of unit i: s_i = sign(Σ_j W_ij s_j)
                let h: f32 = (0..n).map(|j| wv[i * n + j] * s[j]).sum();
                let new = if h >= 0.0 { 1.0 } else { -1.0 };
                if new != s[i] {
                    s[i] = new;
                    changed += 1;
                }
            }
            println!(
                "  sweep {sweep}: {changed:2} units changed, energy {:.3}",
                energy(&w, &Tensor::from_vec(s.clone(), &[n]))
            );
            if changed == 0 {
                break;
            }
        }
        let ok = s == *p;
        println!("  recalled exactly: {ok}");
        recalled += ok as usize;
    }
    println!("result: recalled={recalled}/{} units={n}", patterns.len());
}
