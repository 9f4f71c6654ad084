//! A small convolutional network on MNIST: two 3×3 convolutions with ReLU and 2×2 max
//! pooling, then two fully connected layers; Adam, batch 64. After every epoch it measures
//! held-out accuracy, and at the end writes `runs/<name>/metrics.csv`, `loss.png`,
//! `accuracy.png` and the weights, `model.safetensors` (loadable by PyTorch).
//!
//! `cargo run --release --example 08_mnist_cnn -- [--epochs 5] [--limit N] [--data DIR] [--name mnist_cnn] [--seed 0]`
//!
//! Without `--data` it trains on the bundled images (8 000 to train, 2 000 held out); with
//! `--data DIR` on a full MNIST directory (`train-*` to train, `t10k-*` to evaluate).

mod common;

use std::time::Instant;

use common::{accuracy, flag_or, mnist, run_dir, standardized, train_epoch, write_metrics, EpochMetrics};
use nabla::data::{DataLoader, Dataset};
use nabla::nn::{Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential};
use nabla::optim::Adam;
use nabla::prelude::*;

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
    nabla::manual_seed(flag_or("--seed", 0));
    let epochs = flag_or("--epochs", 5);
    let dir = run_dir("mnist_cnn");
    let data = standardized(mnist());
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
    println!("plots:   {}, {}", dir.join("loss.png").display(), dir.join("accuracy.png").display());
    println!("weights: {}", weights.display());
    println!(
        "result: accuracy={:.4} loss={:.4} epochs={epochs} train_images={} seconds={seconds:.1}",
        last.0,
        last.1,
        data.train.len()
    );
}
