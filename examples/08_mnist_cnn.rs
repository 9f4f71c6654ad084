//! A small convolutional network on MNIST: two 3×3 convolutions with ReLU and 2×2 max
//! pooling, then two fully connected layers; Adam, batch 64. After every epoch it measures
//! held-out accuracy, and at the end writes `runs/<name>/metrics.csv`, `loss.svg`,
//! `accuracy.svg` and the weights, `model.safetensors` (loadable by PyTorch).
//!
//! `cargo run --release --example 08_mnist_cnn -- [--epochs 5] [--limit N] [--data DIR] [--name mnist_cnn]`
//!
//! Without `--data` it trains on the bundled images (8 000 to train, 2 000 held out); with
//! `--data DIR` on a full MNIST directory (`train-*` to train, `t10k-*` to evaluate).

mod common;

use std::time::Instant;

use common::{accuracy, flag_or, mnist, run_dir, train_epoch, write_metrics, EpochMetrics};
use nabla::data::{DataLoader, Dataset};
use nabla::functional as F;
use nabla::nn::{Flatten, Linear, ReLU, Sequential};
use nabla::optim::Adam;
use nabla::prelude::*;

// `nabla_nn`'s `Conv2d` and `MaxPool2d` layers are not exported yet on this branch; these
// two small modules do the same with the functional ops (and PyTorch's initialization), and
// give the same parameter names (`0.weight`, `0.bias`, …) in the saved state dict.

/// A 3×3-style convolution with "same" padding: `F::conv2d` with stride 1.
struct Conv2d {
    weight: Tensor,
    bias: Tensor,
    padding: usize,
}

impl Conv2d {
    fn new(in_channels: usize, out_channels: usize, kernel: usize) -> Conv2d {
        // PyTorch's default: U(±1/√fan_in) for weight and bias
        let bound = 1.0 / ((in_channels * kernel * kernel) as f64).sqrt();
        let uniform = |shape: &[usize]| ((Tensor::rand(shape) * 2.0 - 1.0) * bound).requires_grad_(true);
        Conv2d {
            weight: uniform(&[out_channels, in_channels, kernel, kernel]),
            bias: uniform(&[out_channels]),
            padding: 0,
        }
    }

    fn padding(mut self, padding: usize) -> Conv2d {
        self.padding = padding;
        self
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        let p = self.padding;
        F::conv2d(x, &self.weight, Some(&self.bias), [1, 1], [p, p], [1, 1], 1)
    }

    fn local_parameters(&self) -> Vec<(String, Tensor)> {
        vec![("weight".into(), self.weight.clone()), ("bias".into(), self.bias.clone())]
    }
}

/// Max pooling over `k`×`k` windows with stride `k`.
struct MaxPool2d(usize);

impl MaxPool2d {
    fn new(k: usize) -> MaxPool2d {
        MaxPool2d(k)
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        F::max_pool2d(x, [self.0, self.0], [self.0, self.0], [0, 0])
    }
}

fn model() -> Sequential {
    Sequential::new()
        .add(Conv2d::new(1, 32, 3).padding(1)) // [N, 32, 28, 28]
        .add(ReLU)
        .add(MaxPool2d::new(2)) // [N, 32, 14, 14]
        .add(Conv2d::new(32, 64, 3).padding(1)) // [N, 64, 14, 14]
        .add(ReLU)
        .add(MaxPool2d::new(2)) // [N, 64, 7, 7]
        .add(Flatten::new()) // [N, 3136]
        .add(Linear::new(64 * 7 * 7, 128))
        .add(ReLU)
        .add(Linear::new(128, 10))
}

fn main() {
    nabla::manual_seed(0);
    let epochs = flag_or("--epochs", 5);
    let dir = run_dir("mnist_cnn");
    let data = mnist();
    println!("MNIST: {} training images, {} held out", data.train.len(), data.test.len());

    let model = model();
    println!("{}\n{} parameters", &model as &dyn Module, model.num_parameters());
    let mut opt = Adam::new(model.parameters(), 1e-3);
    let loader = DataLoader::new(data.train.clone(), 64).shuffle(true).prefetch(true);

    let start = Instant::now();
    let mut rows = Vec::new();
    for epoch in 1..=epochs {
        let train_loss = train_epoch(&model, &mut opt, &loader, epoch, epochs);
        let test_accuracy = accuracy(&model, &data.test);
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "epoch {epoch}/{epochs}  train loss {train_loss:.4}  held-out accuracy {:.2} %  ({seconds:.1} s)",
            100.0 * test_accuracy
        );
        rows.push(EpochMetrics { epoch, train_loss, test_accuracy, seconds });
    }
    let seconds = start.elapsed().as_secs_f64();

    write_metrics(&dir, &rows).expect("writing metrics and plots");
    let weights = dir.join("model.safetensors");
    model.state_dict().save(&weights).expect("writing the weights");
    let last = rows.last().map_or((f64::NAN, f64::NAN), |r| (r.test_accuracy, r.train_loss));
    println!("held-out accuracy {:.2} % after {epochs} epochs in {seconds:.1} s", 100.0 * last.0);
    println!("metrics: {}", dir.join("metrics.csv").display());
    println!("plots:   {}, {}", dir.join("loss.svg").display(), dir.join("accuracy.svg").display());
    println!("weights: {}", weights.display());
    println!(
        "result: accuracy={:.4} loss={:.4} epochs={epochs} train_images={} seconds={seconds:.1}",
        last.0,
        last.1,
        data.train.len()
    );
}
