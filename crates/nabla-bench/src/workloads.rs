//! The workloads, as WORKLOADS.md defines them.

use crate::{bench, check};
use nabla::prelude::*;

fn uniform(shape: &[usize]) -> Tensor {
    Tensor::uniform(shape, -1.0, 1.0, DType::F32)
}

pub fn run(name: &str, iters: usize, warmup: usize) -> Vec<f64> {
    match name {
        "matmul_64" => matmul(64, iters, warmup),
        "matmul_256" => matmul(256, iters, warmup),
        "matmul_1024" => matmul(1024, iters, warmup),
        "tiny_ops" => tiny_ops(iters, warmup),
        "deep_chain" => {
            // on a 256 KiB stack: the engine must not recurse with graph depth
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || deep_chain(iters, warmup))
                .expect("thread")
                .join()
                .expect("deep_chain")
        }
        "elementwise_big" => elementwise_big(iters, warmup),
        other => crate::workloads_nn::run(other, iters, warmup),
    }
}

fn matmul(n: usize, iters: usize, warmup: usize) -> Vec<f64> {
    let (a, b) = (uniform(&[n, n]), uniform(&[n, n]));
    let _g = NoGradGuard::new();
    bench(iters, warmup, || {}, || drop(a.matmul(&b)))
}

fn tiny_ops(iters: usize, warmup: usize) -> Vec<f64> {
    let ws: Vec<Tensor> = (0..1000).map(|_| uniform(&[1]).requires_grad_(true)).collect();
    let bs: Vec<Tensor> = (0..1000).map(|_| uniform(&[1]).requires_grad_(true)).collect();
    let times = bench(
        iters,
        warmup,
        || ws.iter().chain(&bs).for_each(|p| p.zero_grad()),
        || {
            let mut h = Tensor::from_vec(vec![0.5f32], &[1]);
            for (w, b) in ws.iter().zip(&bs) {
                h = (&h * w + b).tanh();
            }
            h.backward_with(&BackwardOptions { gradient: Some(Tensor::ones_like(&h)), ..Default::default() });
        },
    );
    assert!(ws.iter().chain(&bs).all(|p| p.grad().is_some()));
    times
}

fn deep_chain(iters: usize, warmup: usize) -> Vec<f64> {
    let x = uniform(&[16]).requires_grad_(true);
    let times = bench(
        iters,
        warmup,
        || x.zero_grad(),
        || {
            let mut h = x.clone();
            for _ in 0..100_000 {
                h = &h * 1.0001;
            }
            h.sum().backward();
        },
    );
    let g = x.grad().expect("grad").to_vec::<f32>()[0] as f64;
    // 1.0001 rounds to 1.00010001659 in f32, so the f32 chain's exact value is 22051.88
    // (what PyTorch prints too), not the real 1.0001^1e5 = 22015.46.
    let want = (1.0001f32 as f64).powi(100_000);
    check(&format!(
        "deep_chain dx = {g:.2} (expect (1.0001 in f32)^1e5 = {want:.2}); within 1e-3 relative = {}",
        ((g - want) / want).abs() < 1e-3
    ));
    times
}

fn elementwise_big(iters: usize, warmup: usize) -> Vec<f64> {
    let x = uniform(&[16_777_216]).requires_grad_(true);
    let times = bench(iters, warmup, || x.zero_grad(), || (&x * 2.0 + 1.0).relu().sum().backward());
    assert!(x.grad().is_some());
    times
}
