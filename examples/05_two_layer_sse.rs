//! The seeds' from-scratch two-layer network on the 4-sample table: weights as plain
//! tensors, sum-of-squares error, gradients from the graph, a hand-written SGD update.
//!
//! `cargo run --example 05_two_layer_sse -- [--iters 1500]`

use nabla::prelude::*;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    nabla::manual_seed(1);
    let iters = arg("--iters", 1500);
    // the table: three binary inputs, one target (the first input XOR the second)
    let x = Tensor::from_vec(vec![0.0f32, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0], &[4, 3]);
    let y = Tensor::from_vec(vec![0.0f32, 1.0, 1.0, 0.0], &[4, 1]);
    let w1 = (Tensor::rand(&[3, 4]) * 2.0 - 1.0).requires_grad_(true);
    let w2 = (Tensor::rand(&[4, 1]) * 2.0 - 1.0).requires_grad_(true);
    let lr = 0.5;
    let mut loss = 0.0;
    for i in 0..iters {
        let hidden = x.matmul(&w1).sigmoid();
        let pred = hidden.matmul(&w2).sigmoid();
        let sse = (&pred - &y).pow(2).sum();
        w1.zero_grad();
        w2.zero_grad();
        sse.backward();
        no_grad(|| {
            w1.add_scaled_(&w1.grad().unwrap(), -lr);
            w2.add_scaled_(&w2.grad().unwrap(), -lr);
        });
        loss = sse.item();
        if i % 300 == 0 {
            println!("iter {i:5}  SSE {loss:.5}");
        }
    }
    let pred = no_grad(|| x.matmul(&w1).sigmoid().matmul(&w2).sigmoid());
    let (p, t) = (pred.to_vec::<f32>(), y.to_vec::<f32>());
    println!("prediction  target");
    for (p, t) in p.iter().zip(&t) {
        println!("  {p:.4}     {t}");
    }
    let correct = p.iter().zip(&t).filter(|(p, t)| (**p > 0.5) == (**t > 0.5)).count();
    println!("result: correct={correct}/4 sse={loss:.5} iters={iters}");
}
