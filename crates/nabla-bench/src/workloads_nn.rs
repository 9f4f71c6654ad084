//! The workloads with layers: mlp_step, cnn_step, conv_big. "step" = zero the gradients,
//! forward, loss, backward, SGD update (lr 0.01, no momentum), as WORKLOADS.md defines.

use crate::{bench, check};
use nabla::functional as F;
use nabla::optim::{Optimizer, SGD};
use nabla::prelude::*;

fn uniform(shape: &[usize]) -> Tensor {
    Tensor::uniform(shape, -1.0, 1.0, DType::F32)
}

/// A weight initialised like PyTorch's layers (U(-1/√fan_in, 1/√fan_in)); only the shapes
/// matter for timing, but a sane scale keeps the loss check meaningful.
fn param(shape: &[usize], fan_in: usize) -> Tensor {
    let b = 1.0 / (fan_in as f64).sqrt();
    Tensor::uniform(shape, -b, b, DType::F32).requires_grad_(true)
}

fn labels(n: usize) -> Tensor {
    let v: Vec<i64> =
        Tensor::uniform(&[n], 0.0, 10.0, DType::F64).to_vec::<f64>().iter().map(|v| v.floor() as i64).collect();
    Tensor::from_vec(v, &[n])
}

fn train(name: &str, iters: usize, warmup: usize, params: Vec<Tensor>, loss_fn: impl Fn() -> Tensor) -> Vec<f64> {
    let mut opt = SGD::new(params, 0.01);
    let mut losses = Vec::new();
    let mut step = || {
        opt.zero_grad();
        let loss = loss_fn();
        loss.backward();
        opt.step();
        loss.item()
    };
    for _ in 0..warmup {
        losses.push(step());
    }
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = std::time::Instant::now();
        let l = step();
        times.push(t.elapsed().as_secs_f64());
        losses.push(l);
    }
    let ok = losses.iter().all(|l| l.is_finite()) && losses.last() < losses.first();
    check(&format!(
        "{name} loss {:.5} -> {:.5} over {} steps (fixed batch): finite and decreasing = {ok}",
        losses[0],
        losses[losses.len() - 1],
        losses.len()
    ));
    times
}

pub fn run(name: &str, iters: usize, warmup: usize) -> Vec<f64> {
    match name {
        "mlp_step" => {
            let (w1, b1) = (param(&[512, 784], 784), param(&[512], 784));
            let (w2, b2) = (param(&[256, 512], 512), param(&[256], 512));
            let (w3, b3) = (param(&[10, 256], 256), param(&[10], 256));
            let x = uniform(&[128, 784]);
            let y = labels(128);
            let params = vec![w1.clone(), b1.clone(), w2.clone(), b2.clone(), w3.clone(), b3.clone()];
            train(name, iters, warmup, params, || {
                let h = F::linear(&x, &w1, Some(&b1)).relu();
                let h = F::linear(&h, &w2, Some(&b2)).relu();
                F::cross_entropy(&F::linear(&h, &w3, Some(&b3)), &y)
            })
        }
        "cnn_step" => {
            let (c1, cb1) = (param(&[32, 1, 3, 3], 9), param(&[32], 9));
            let (c2, cb2) = (param(&[64, 32, 3, 3], 288), param(&[64], 288));
            let (w1, b1) = (param(&[128, 3136], 3136), param(&[128], 3136));
            let (w2, b2) = (param(&[10, 128], 128), param(&[10], 128));
            let x = uniform(&[64, 1, 28, 28]);
            let y = labels(64);
            let params =
                vec![c1.clone(), cb1.clone(), c2.clone(), cb2.clone(), w1.clone(), b1.clone(), w2.clone(), b2.clone()];
            train(name, iters, warmup, params, || {
                let h = F::max_pool2d(
                    &F::conv2d(&x, &c1, Some(&cb1), [1, 1], [1, 1], [1, 1], 1).relu(),
                    [2, 2],
                    [2, 2],
                    [0, 0],
                );
                let h = F::max_pool2d(
                    &F::conv2d(&h, &c2, Some(&cb2), [1, 1], [1, 1], [1, 1], 1).relu(),
                    [2, 2],
                    [2, 2],
                    [0, 0],
                );
                let h = F::linear(&h.flatten(1, -1), &w1, Some(&b1)).relu();
                F::cross_entropy(&F::linear(&h, &w2, Some(&b2)), &y)
            })
        }
        "conv_big" => {
            let x = uniform(&[16, 64, 56, 56]).requires_grad_(true);
            let (w, b) = (param(&[64, 64, 3, 3], 576), param(&[64], 576));
            let times = bench(
                iters,
                warmup,
                || {
                    x.zero_grad();
                    w.zero_grad();
                    b.zero_grad();
                },
                || F::conv2d(&x, &w, Some(&b), [1, 1], [1, 1], [1, 1], 1).sum().backward(),
            );
            let gb = b.grad().expect("bias grad").to_vec::<f32>()[0];
            assert!(x.grad().is_some() && w.grad().is_some());
            check(&format!("conv_big grad bias[0] = {gb:.1} (expect 16*56*56 = 50176)"));
            times
        }
        other => unreachable!("unknown workload {other}"),
    }
}
