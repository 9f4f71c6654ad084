//! Linear regression: fit `y = 2x + 1` from 200 noisy samples with one `nn::Linear(1, 1)`,
//! the mean squared error and plain SGD; print the learned weight and bias.
//!
//! `cargo run --example 03_linear_regression -- [--epochs 100]`

use nabla::data::{synthetic, DataLoader};
use nabla::functional as F;
use nabla::nn::Linear;
use nabla::optim::SGD;
use nabla::prelude::*;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    nabla::manual_seed(0);
    let epochs = arg("--epochs", 100);
    // y = 2x + 1 + ε, ε ~ N(0, 0.1²), x uniform in [-1, 1)
    let data = synthetic::linear(200, &[2.0], 1.0, 0.1);
    let loader = DataLoader::new(data, 20).shuffle(true);
    let model = Linear::new(1, 1);
    let mut opt = SGD::new(model.parameters(), 0.1);
    let mut loss = 0.0;
    for epoch in 1..=epochs {
        let mut sum = 0.0;
        for (x, y) in loader.iter() {
            let mse = F::mse_loss(&model.forward(&x), &y);
            opt.zero_grad();
            mse.backward();
            opt.step();
            sum += mse.item();
        }
        loss = sum / loader.len() as f64;
        if epoch == 1 || epoch % 20 == 0 {
            println!("epoch {epoch:4}  mse {loss:.5}");
        }
    }
    let w = model.weight.item();
    let b = model.bias.as_ref().expect("Linear has a bias").item();
    println!("learned y = {w:.4} x + {b:.4}   (true: y = 2 x + 1, noise σ = 0.1)");
    println!("result: w={w:.4} b={b:.4} mse={loss:.5} epochs={epochs}");
}
