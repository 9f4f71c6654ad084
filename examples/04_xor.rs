//! The seeds' BPNeuralNetwork on XOR, with the library's pieces: a 2-5-1 multilayer
//! perceptron with sigmoid units, the mean squared error, and SGD with momentum.
//!
//! `cargo run --example 04_xor -- [--epochs 2000]`

use nabla::data::synthetic;
use nabla::functional as F;
use nabla::nn::{Linear, Sequential, Sigmoid};
use nabla::optim::SGD;
use nabla::prelude::*;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    nabla::manual_seed(0);
    let epochs = arg("--epochs", 2000);
    let (x, labels) = synthetic::xor().into_tensors();
    let y = labels.to_dtype(DType::F32).reshape(&[4, 1]);
    let model = Sequential::new().add(Linear::new(2, 5)).add(Sigmoid).add(Linear::new(5, 1)).add(Sigmoid);
    println!("{}", &model as &dyn Module);
    let mut opt = SGD::new(model.parameters(), 0.5).momentum(0.9);
    let mut loss = 0.0;
    for epoch in 1..=epochs {
        let mse = F::mse_loss(&model.forward(&x), &y);
        opt.zero_grad();
        mse.backward();
        opt.step();
        loss = mse.item();
        if epoch == 1 || epoch % 250 == 0 {
            println!("epoch {epoch:5}  mse {loss:.6}");
        }
    }
    let pred = no_grad(|| model.forward(&x)).to_vec::<f32>();
    let (xs, ts) = (x.to_vec::<f32>(), y.to_vec::<f32>());
    println!("  x1 x2  output  target");
    for i in 0..4 {
        println!("  {}  {}   {:.4}   {}", xs[2 * i], xs[2 * i + 1], pred[i], ts[i]);
    }
    let correct = pred.iter().zip(&ts).filter(|(p, t)| (**p > 0.5) == (**t > 0.5)).count();
    println!("result: correct={correct}/4 mse={loss:.6} epochs={epochs}");
}
