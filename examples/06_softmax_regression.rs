//! Softmax regression (multinomial logistic regression) on MNIST: one `Linear(784, 10)`,
//! the softmax turning its ten scores into class probabilities, and the cross-entropy
//! against one-hot targets, `−Σ_c t_c log softmax(z)_c`. The prediction is the argmax.
//!
//! `cargo run --release --example 06_softmax_regression -- [--epochs 5] [--limit N] [--data DIR] [--seed 0]`

mod common;

use std::time::Instant;

use common::{accuracy, epoch_bar, flag_or, mnist};
use nabla::data::{DataLoader, Dataset};
use nabla::functional as F;
use nabla::nn::{Flatten, Linear, Sequential};
use nabla::optim::SGD;
use nabla::prelude::*;

fn main() {
    nabla::manual_seed(flag_or("--seed", 0));
    let epochs = flag_or("--epochs", 5);
    let data = mnist();
    println!("MNIST: {} training images, {} held out", data.train.len(), data.test.len());
    let model = Sequential::new().add(Flatten::new()).add(Linear::new(28 * 28, 10));
    let mut opt = SGD::new(model.parameters(), 0.05).momentum(0.9);
    let loader = DataLoader::new(data.train.clone(), 64).shuffle(true).prefetch(true);

    let start = Instant::now();
    let (mut train_loss, mut test_accuracy) = (f64::NAN, f64::NAN);
    for epoch in 1..=epochs {
        let bar = epoch_bar(epoch, epochs, loader.len());
        let (mut sum, mut seen) = (0.0, 0usize);
        for (images, labels) in loader.iter() {
            // one-hot rows as probability targets: the same loss as class indices would give
            let targets = F::one_hot(&labels, 10).to_dtype(DType::F32);
            let loss = F::cross_entropy(&model.forward(&images), &targets);
            opt.zero_grad();
            loss.backward();
            opt.step();
            let n = labels.shape()[0];
            sum += loss.item() * n as f64;
            seen += n;
            bar.set_message(format!("loss {:.4}", sum / seen as f64));
            bar.inc(1);
        }
        bar.finish_and_clear();
        train_loss = sum / seen as f64;
        test_accuracy = accuracy(&model, &data.test);
        println!(
            "epoch {epoch}/{epochs}  train loss {train_loss:.4}  held-out accuracy {:.2} %",
            100.0 * test_accuracy
        );
    }
    let seconds = start.elapsed().as_secs_f64();
    println!("held-out accuracy {:.2} % after {epochs} epochs in {seconds:.1} s", 100.0 * test_accuracy);
    println!(
        "result: accuracy={test_accuracy:.4} loss={train_loss:.4} epochs={epochs} train_images={} seconds={seconds:.1}",
        data.train.len()
    );
}
