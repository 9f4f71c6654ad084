//! A multilayer perceptron on MNIST: `Mlp::new(&[784, 256, 128, 10], Activation::ReLU)`
//! after flattening each image, cross-entropy, Adam. Prints held-out accuracy per epoch.
//!
//! `cargo run --release --example 07_mnist_mlp -- [--epochs 5] [--limit N] [--data DIR] [--name mnist_mlp] [--seed 0]`

mod common;

use std::time::Instant;

use common::{accuracy, flag_or, mnist, run_dir, standardized, train_epoch, write_metrics, EpochMetrics};
use nabla::data::{DataLoader, Dataset};
use nabla::nn::{Activation, Flatten, Mlp, Sequential};
use nabla::optim::Adam;
use nabla::prelude::*;

fn main() {
    nabla::manual_seed(flag_or("--seed", 0));
    let epochs = flag_or("--epochs", 5);
    let dir = run_dir("mnist_mlp");
    let data = standardized(mnist());
    println!("MNIST: {} training images, {} held out", data.train.len(), data.test.len());
    let model = Sequential::new().add(Flatten::new()).add(Mlp::new(&[784, 256, 128, 10], Activation::ReLU));
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
    let last = rows.last().map_or((f64::NAN, f64::NAN), |r| (r.test_accuracy, r.train_loss));
    println!("held-out accuracy {:.2} % after {epochs} epochs in {seconds:.1} s", 100.0 * last.0);
    println!("metrics and plots: {}", dir.display());
    println!(
        "result: accuracy={:.4} loss={:.4} epochs={epochs} train_images={} seconds={seconds:.1}",
        last.0,
        last.1,
        data.train.len()
    );
}
