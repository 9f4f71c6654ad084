//! Activation functions and weight initialization side by side.
//!
//! First the activations and their derivatives (from autograd) at a few points. Then the
//! Xavier/Kaiming story: push a batch of unit-variance inputs through a deep (10-layer,
//! 512 wide) MLP and watch each layer's activation mean and standard deviation.
//!
//! - `normal(0, 0.01)`: every layer scales the signal by ≈ 0.01·√512 ≈ 0.23, so it
//!   vanishes in a few layers (and so would the gradients).
//! - Xavier (Glorot): `Var(W) = 2 / (fan_in + fan_out)` keeps the variance through tanh,
//!   which is linear near 0.
//! - Kaiming (He): `Var(W) = 2 / fan_in` makes up for ReLU zeroing half its inputs; with
//!   Xavier instead, ReLU's signal halves at every layer.
//!
//! `cargo run --release --example 11_init_and_activations -- [--depth 10] [--width 512]`

use nabla::functional as F;
use nabla::init::{self, FanMode, Nonlinearity};
use nabla::prelude::*;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn activations_table() {
    let xs = [-2.0f32, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0];
    let acts: Vec<(&str, fn(&Tensor) -> Tensor)> = vec![
        ("relu", F::relu),
        ("leaky_relu", |x| F::leaky_relu(x, 0.1)),
        ("elu", |x| F::elu(x, 1.0)),
        ("gelu", F::gelu),
        ("silu", F::silu),
        ("softplus", |x| F::softplus(x, 1.0, 20.0)),
        ("sigmoid", F::sigmoid),
        ("tanh", F::tanh),
    ];
    let header: String = xs.iter().map(|x| format!("{x:>7}")).collect();
    println!("activation f(x) and f'(x), f' from autograd\n{:>12} {header}", "x =");
    for (name, f) in acts {
        let x = Tensor::from_vec(xs.to_vec(), &[xs.len()]).requires_grad_(true);
        let y = f(&x);
        y.sum().backward();
        let row = |v: Vec<f32>| v.iter().map(|v| format!("{v:7.3}")).collect::<String>();
        println!("{name:>12} {}", row(y.detach().to_vec::<f32>()));
        println!("{:>12} {}", "d/dx", row(x.grad().unwrap().to_vec::<f32>()));
    }
}

/// Per-layer (mean, std) of the activations of a `depth`-layer MLP under an initializer.
fn layer_stats(depth: usize, width: usize, init_w: &dyn Fn(&Tensor), act: fn(&Tensor) -> Tensor) -> Vec<(f64, f64)> {
    let mut h = Tensor::randn(&[1000, width]);
    let mut stats = Vec::new();
    for _ in 0..depth {
        let w = Tensor::zeros(&[width, width]);
        init_w(&w);
        h = act(&F::linear(&h, &w, None));
        let mean = h.mean().item();
        stats.push((mean, h.var(false).item().sqrt()));
    }
    stats
}

fn main() {
    nabla::manual_seed(0);
    let depth = arg("--depth", 10);
    let width = arg("--width", 512);
    activations_table();

    let inits: Vec<(&str, Box<dyn Fn(&Tensor)>)> = vec![
        (
            "normal(0.01)",
            Box::new(|w: &Tensor| {
                init::normal_(w, 0.0, 0.01);
            }),
        ),
        (
            "xavier",
            Box::new(|w: &Tensor| {
                init::xavier_normal_(w, 1.0);
            }),
        ),
        (
            "kaiming",
            Box::new(|w: &Tensor| {
                init::kaiming_normal_(w, 0.0, FanMode::FanIn, Nonlinearity::ReLU);
            }),
        ),
    ];
    let acts: [(&str, fn(&Tensor) -> Tensor); 2] = [("tanh", F::tanh), ("relu", F::relu)];
    println!("\nactivation std per layer of a {depth}-layer MLP, width {width}, inputs ~ N(0, 1)");
    let mut result = Vec::new();
    for (act_name, act) in acts {
        for (init_name, init_w) in &inits {
            let stats = layer_stats(depth, width, init_w.as_ref(), act);
            let stds: String = stats.iter().map(|s| format!("{:8.4}", s.1)).collect();
            println!("{act_name:>5} + {init_name:<13} std {stds}");
            let last = stats.last().expect("depth ≥ 1");
            println!("{:>21} last layer mean {:.4}", "", last.0);
            let key = format!("{act_name}_{}", init_name.split('(').next().unwrap_or(init_name));
            result.push(format!("{key}_std={:.4}", last.1));
        }
    }
    println!("\nnormal(0.01) vanishes; tanh keeps its scale under Xavier, relu under Kaiming");
    println!("result: {}", result.join(" "));
}
