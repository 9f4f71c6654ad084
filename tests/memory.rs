//! Memory stays flat: training frees each step's graph, so the number of live graph nodes
//! returns to its baseline after every step and the number of live storages does not
//! grow (beyond the optimizer state made on the first step); a graph dropped without
//! backward frees everything.
//!
//! The counters are process-wide, so every test here holds `COUNTERS` while it runs: no
//! other test of this binary builds tensors at the same time. (The 10^6-op chain built,
//! differentiated and dropped on a 256 KiB stack is in
//! `crates/nabla-autograd/tests/semantics.rs`: `a_million_op_chain_*`.)

use nabla::autograd::live_nodes;
use nabla::data::{DataLoader, Mnist};
use nabla::functional as F;
use nabla::kernels::storage::live_storages;
use nabla::nn::{Flatten, Linear, ReLU, Sequential};
use nabla::optim::Adam;
use nabla::prelude::*;
use std::sync::Mutex;

static COUNTERS: Mutex<()> = Mutex::new(());

fn counters_to_myself() -> std::sync::MutexGuard<'static, ()> {
    COUNTERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The 784-64-10 MLP of the MNIST example.
fn mlp() -> Sequential {
    Sequential::new().add(Flatten::new()).add(Linear::new(784, 64)).add(ReLU).add(Linear::new(64, 10))
}

/// The resident set size of this process, in bytes (Linux; 0 elsewhere).
fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|p| p.parse::<usize>().ok()).unwrap_or(0) * 4096
}

/// 2 000 steps (batch 32, eight epochs of the bundled 8 000 training images) take a few
/// seconds in the test profile.
const STEPS: usize = 2_000;

#[test]
fn training_frees_every_step_and_memory_stays_flat() {
    let _me = counters_to_myself();
    nabla::manual_seed(0);
    let split = Mnist::bundled().unwrap();
    let loader = DataLoader::new(split.train, 32).shuffle(true).drop_last(true);
    let model = mlp();
    let mut optimizer = Adam::new(model.parameters(), 1e-3);
    // every parameter keeps its `AccumulateGrad` node from its first graph on
    let nodes_baseline = live_nodes() + model.parameters().len();
    // Adam's two moment buffers per parameter appear on the first step: the baseline for
    // storages is taken after it
    let mut storages_after_first_step = None;
    let mut rss_after_warmup = 0;
    let (mut first_losses, mut last_losses) = (Vec::new(), Vec::new());
    let mut step = 0;
    'training: loop {
        for (images, labels) in loader.iter() {
            optimizer.zero_grad();
            let loss = F::cross_entropy(&model.forward(&images), &labels);
            loss.backward();
            optimizer.step();
            let value = loss.item();
            drop((images, labels, loss));

            assert_eq!(live_nodes(), nodes_baseline, "graph nodes still alive after step {step}");
            let storages = live_storages();
            match storages_after_first_step {
                None => storages_after_first_step = Some(storages),
                Some(first) => {
                    assert!(storages <= first, "step {step}: {storages} storages alive, {first} after step 0")
                }
            }
            if step == 200 {
                rss_after_warmup = rss_bytes();
            }
            if step < 50 {
                first_losses.push(value);
            } else if step >= STEPS - 50 {
                last_losses.push(value);
            }
            step += 1;
            if step == STEPS {
                break 'training;
            }
        }
    }
    // it did train: the counters above watched a real workload
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(mean(&last_losses) < 0.5 * mean(&first_losses), "{} -> {}", mean(&first_losses), mean(&last_losses));
    // and the process did not grow while it trained (the buffer pool and the allocator
    // reuse memory; 16 MiB of slack for the allocator's own bookkeeping)
    let grown = rss_bytes().saturating_sub(rss_after_warmup);
    assert!(grown < 16 << 20, "resident memory grew by {} KiB from step 200 to step {STEPS}", grown >> 10);
}

#[test]
fn a_graph_dropped_without_backward_frees_everything() {
    let _me = counters_to_myself();
    nabla::manual_seed(1);
    let model = mlp();
    let images = Tensor::rand(&[16, 1, 28, 28]);
    let labels = Tensor::from_vec((0..16).map(|i| i % 10).collect::<Vec<i64>>(), &[16]);
    let loss_of = |m: &Sequential| F::cross_entropy(&m.forward(&images), &labels);
    // every parameter keeps its `AccumulateGrad` node from its first graph on
    let (nodes, storages) = (live_nodes() + model.parameters().len(), live_storages());
    for _ in 0..3 {
        let loss = loss_of(&model);
        assert!(live_nodes() > nodes + 3, "the forward recorded a graph");
        drop(loss);
        assert_eq!((live_nodes(), live_storages()), (nodes, storages), "forward without backward leaked");
    }
    // backward with retain_graph keeps the graph alive until its tensors drop
    let loss = loss_of(&model);
    loss.backward_with(&BackwardOptions { retain_graph: true, ..Default::default() });
    drop(loss);
    model.zero_grad();
    assert_eq!((live_nodes(), live_storages()), (nodes, storages), "a retained graph leaked");
    // a graph whose backward failed is freed as well
    let weight = model.parameters()[2].clone();
    let a = &weight * 1.0;
    let y = (&a * &a).sum(); // saves `a`
    a.mul_(&Tensor::full(&[10, 64], 2.0));
    assert!(y.try_backward().is_err());
    drop((a, y, weight));
    model.zero_grad();
    assert_eq!((live_nodes(), live_storages()), (nodes, storages), "a failed backward leaked");
    // so is a graph of gradients (create_graph), once the gradients are cleared
    let loss = loss_of(&model);
    loss.backward_with(&BackwardOptions { create_graph: true, ..Default::default() });
    drop(loss);
    assert!(model.parameters()[0].grad().unwrap().requires_grad());
    model.zero_grad();
    assert_eq!((live_nodes(), live_storages()), (nodes, storages), "a create_graph backward leaked");
}
