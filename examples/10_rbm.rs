//! A Bernoulli restricted Boltzmann machine on binarised MNIST, trained by contrastive
//! divergence (CD-1). No hand-written update: the gradient is obtained by backpropagating
//! the free-energy difference `F(v_data) − F(v_model)` through the graph, where
//!
//! `F(v) = −v · b_v − Σ_j softplus(b_h,j + (v W)_j)`
//!
//! and `v_model` is one Gibbs step away from the data (sampled without recording a graph).
//! Prints the reconstruction error per epoch and writes the learned filters (the columns
//! of `W` as 28×28 images) to `runs/<name>/filters.png`.
//!
//! `cargo run --release --example 10_rbm -- [--epochs 5] [--limit N] [--hidden 64] [--name rbm] [--seed 0]`

mod common;

use std::time::Instant;

use common::{flag_or, mnist, run_dir};
use nabla::data::{DataLoader, Dataset};
use nabla::optim::SGD;
use nabla::prelude::*;

struct Rbm {
    w: Tensor,   // [visible, hidden]
    b_v: Tensor, // [visible]
    b_h: Tensor, // [hidden]
}

impl Rbm {
    fn new(visible: usize, hidden: usize) -> Rbm {
        Rbm {
            w: (Tensor::randn(&[visible, hidden]) * 0.01).requires_grad_(true),
            b_v: Tensor::zeros(&[visible]).requires_grad_(true),
            b_h: Tensor::zeros(&[hidden]).requires_grad_(true),
        }
    }

    /// Free energy of each row of `v`: `[N]`.
    fn free_energy(&self, v: &Tensor) -> Tensor {
        let visible_term = v.matmul(&self.b_v.unsqueeze(1)).squeeze(1);
        let hidden_term = (v.matmul(&self.w) + &self.b_h).softplus(1.0, 20.0).sum_dim(1, false);
        -(visible_term + hidden_term)
    }

    /// `p(h = 1 | v)`.
    fn hidden_probs(&self, v: &Tensor) -> Tensor {
        (v.matmul(&self.w) + &self.b_h).sigmoid()
    }

    /// `p(v = 1 | h)`.
    fn visible_probs(&self, h: &Tensor) -> Tensor {
        (h.matmul(&self.w.t()) + &self.b_v).sigmoid()
    }
}

/// A Bernoulli sample of probabilities `p`: 1 where a uniform draw falls below `p`.
fn bernoulli(p: &Tensor) -> Tensor {
    Tensor::rand_like(p).lt(p).to_dtype(DType::F32)
}

/// The columns of `w` ([784, hidden]) as a grid of 28×28 tiles, each scaled to its own
/// range, written as a binary PGM (greyscale, readable by any image viewer).
/// Each hidden unit's weights (a column of `w`) as a 28×28 image, in one PNG grid.
fn write_filters(path: &std::path::Path, w: &Tensor) -> Result<(), Box<dyn std::error::Error>> {
    let filters: Vec<Vec<f32>> = w.t().contiguous().to_vec::<f32>().chunks(784).map(<[f32]>::to_vec).collect();
    common::image_grid(path, &filters, 28, 3)
}

fn main() {
    nabla::manual_seed(flag_or("--seed", 0));
    let epochs = flag_or("--epochs", 5);
    let hidden = flag_or("--hidden", 64);
    let dir = run_dir("rbm");
    let data = mnist();
    println!("binarised MNIST: {} training images, {hidden} hidden units, CD-1", data.train.len());
    let rbm = Rbm::new(784, hidden);
    let mut opt = SGD::new(vec![rbm.w.clone(), rbm.b_v.clone(), rbm.b_h.clone()], 0.05).momentum(0.5);
    let loader = DataLoader::new(data.train.clone(), 64).shuffle(true).prefetch(true);
    let start = Instant::now();
    let (mut error, mut blank) = (f64::NAN, f64::NAN);
    for epoch in 1..=epochs {
        let (mut sum, mut on, mut seen) = (0.0, 0.0, 0usize);
        for (images, _) in loader.iter() {
            let n = images.shape()[0];
            let v0 = images.reshape(&[n as isize, -1]).gt(0.5).to_dtype(DType::F32);
            // one Gibbs step v0 → h0 → v1, outside the graph: the sample is a constant
            let (v1, reconstruction) = no_grad(|| {
                let h0 = bernoulli(&rbm.hidden_probs(&v0));
                let p_v1 = rbm.visible_probs(&h0);
                (bernoulli(&p_v1), p_v1)
            });
            // ∂/∂θ [F(v_data) − F(v_model)] is CD-1's (negated) log-likelihood gradient
            let loss = rbm.free_energy(&v0).mean() - rbm.free_energy(&v1).mean();
            opt.zero_grad();
            loss.backward();
            opt.step();
            sum += (&v0 - &reconstruction).pow(2).sum().item();
            on += v0.sum().item();
            seen += n;
        }
        error = sum / seen as f64;
        // what an all-black reconstruction would score: the number of lit pixels
        blank = on / seen as f64;
        println!(
            "epoch {epoch}/{epochs}  reconstruction error {error:.2} per image (all-black guess: {blank:.2})  ({:.1} s)",
            start.elapsed().as_secs_f64()
        );
    }
    let seconds = start.elapsed().as_secs_f64();
    std::fs::create_dir_all(&dir).expect("creating the run directory");
    let filters = dir.join("filters.png");
    write_filters(&filters, &rbm.w.detach()).expect("writing the filters");
    println!("learned filters: {}", filters.display());
    println!(
        "result: recon_error={error:.3} blank_error={blank:.3} epochs={epochs} hidden={hidden} seconds={seconds:.1}"
    );
}
