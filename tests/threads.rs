//! Threads are safe: tensors, modules and optimizers move between threads and are shared
//! by them; training on two threads at once gives exactly what training one after the
//! other gives; gradients accumulated into a shared leaf from several threads all arrive;
//! and the two pieces of thread-local state, grad mode (`no_grad`) and anomaly mode, stay
//! on their thread.

use nabla::prelude::*;
use std::sync::{Arc, Barrier};
use std::thread;

/// Compile-time: `T` can be sent to and shared between threads.
const fn send_sync<T: Send + Sync>() {}

const _: () = {
    send_sync::<Tensor>();
    send_sync::<nabla::GradFn>();
    send_sync::<nabla::RawTensor>();
    send_sync::<nabla::Error>();
    send_sync::<nabla::HookHandle>();
    send_sync::<nabla::data::TensorDataset>();
    send_sync::<nabla::data::Mnist>();
};

// ---- training on two threads at once ----------------------------------------------------

/// A small regression problem and an MLP's parameters, all made from the global seeded
/// generator on the calling thread.
struct Problem {
    x: Tensor,
    y: Tensor,
    params: Vec<Tensor>,
}

fn problem(seed: u64) -> Problem {
    nabla::manual_seed(seed);
    let x = Tensor::randn(&[64, 8]);
    let y = x.narrow(1, 0, 1).sin() + x.narrow(1, 1, 1) * 0.5;
    let params = vec![
        (Tensor::randn(&[8, 32]) * 0.35).requires_grad_(true),
        Tensor::zeros(&[32]).requires_grad_(true),
        (Tensor::randn(&[32, 1]) * 0.18).requires_grad_(true),
        Tensor::zeros(&[1]).requires_grad_(true),
    ];
    Problem { x, y, params }
}

/// 200 full-batch SGD steps; returns the parameters' values. Uses no randomness, so the
/// result depends only on the starting point.
fn train(p: Problem) -> Vec<Vec<f32>> {
    for _ in 0..200 {
        let h = (p.x.matmul(&p.params[0]) + &p.params[1]).tanh();
        let loss = (h.matmul(&p.params[2]) + &p.params[3] - &p.y).pow(2.0).mean();
        for w in &p.params {
            w.zero_grad();
        }
        loss.backward();
        no_grad(|| {
            for w in &p.params {
                w.add_scaled_(&w.grad().unwrap(), -0.1);
            }
        });
    }
    p.params.iter().map(|w| w.to_vec::<f32>()).collect()
}

#[test]
fn two_models_trained_at_once_on_two_threads_match_training_them_one_after_the_other() {
    let serial = (train(problem(1)), train(problem(2)));
    // the starting points are made on this thread (the generator is process-wide), the
    // training runs on two threads at once
    let (a, b) = (problem(1), problem(2));
    let start = Arc::new(Barrier::new(2));
    let spawn = |p: Problem| {
        let start = start.clone();
        thread::spawn(move || {
            start.wait();
            train(p)
        })
    };
    let (ta, tb) = (spawn(a), spawn(b));
    let parallel = (ta.join().unwrap(), tb.join().unwrap());
    assert_eq!(parallel, serial, "bit-for-bit the same parameters");
    assert_ne!(serial.0, serial.1, "two different problems");
}

#[test]
fn gradients_from_many_threads_all_accumulate_into_a_shared_leaf() {
    let w = Tensor::zeros_with(&[3], DType::F64).requires_grad_(true);
    let threads = 4;
    let rounds = 250;
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (w, start) = (w.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                for _ in 0..rounds {
                    (&w * (t + 1) as f64).sum().backward();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // sum over threads of rounds · (t + 1) = 250 · (1 + 2 + 3 + 4)
    assert_eq!(w.grad().unwrap().to_vec::<f64>(), vec![2500.0; 3], "a gradient was lost to a race");
}

#[test]
fn one_graph_is_read_by_many_threads_at_once() {
    // Forward values and retained graphs shared read-only by several threads.
    let x = Tensor::from_vec(vec![0.5f64, -1.0, 2.0], &[3]).requires_grad_(true);
    let y = (x.exp() * &x).sum();
    let expected: Vec<f64> = x.to_vec::<f64>().iter().map(|v| v.exp() * (1.0 + v)).collect();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (x, y) = (x.clone(), y.clone());
            thread::spawn(move || {
                let opts = nabla::autograd::GradOptions { retain_graph: true, ..Default::default() };
                let mut last = None;
                for _ in 0..50 {
                    last = Some(nabla::autograd::grad(&[y.clone()], &[x.clone()], &opts).unwrap()[0].clone().unwrap());
                }
                last.unwrap().to_vec::<f64>()
            })
        })
        .collect();
    for h in handles {
        let g = h.join().unwrap();
        for (a, b) in g.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-12, "{g:?} vs {expected:?}");
        }
    }
}

// ---- thread-local modes -------------------------------------------------------------------

#[test]
fn no_grad_on_one_thread_does_not_stop_recording_on_another() {
    let w = Tensor::ones(&[2]).requires_grad_(true);
    let inside = Arc::new(Barrier::new(2));
    let done = Arc::new(Barrier::new(2));
    let other = {
        let (w, inside, done) = (w.clone(), inside.clone(), done.clone());
        thread::spawn(move || {
            inside.wait(); // the main thread is inside no_grad now
            let recorded = (&w * 2.0).requires_grad() && nabla::is_grad_enabled();
            done.wait();
            recorded
        })
    };
    no_grad(|| {
        inside.wait();
        done.wait(); // the other thread recorded while this one was in no_grad
        assert!(!(&w * 2.0).requires_grad());
    });
    assert!(other.join().unwrap(), "another thread's no_grad stopped this thread's recording");
    assert!((&w * 2.0).requires_grad());
}

#[test]
fn a_new_thread_starts_with_grad_mode_on_whatever_its_parent_does() {
    let _g = nabla::NoGradGuard::new();
    assert!(!nabla::is_grad_enabled());
    assert!(thread::spawn(nabla::is_grad_enabled).join().unwrap());
}

#[test]
fn anomaly_mode_on_one_thread_does_not_reach_another() {
    let x = Tensor::from_vec(vec![-1.0f64], &[1]).requires_grad_(true);
    let inside = Arc::new(Barrier::new(2));
    let done = Arc::new(Barrier::new(2));
    let other = {
        let (x, inside, done) = (x.clone(), inside.clone(), done.clone());
        thread::spawn(move || {
            inside.wait(); // the main thread has anomaly mode on now
            let quiet = !nabla::autograd::is_anomaly_enabled();
            let nan = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x.sqrt().to_vec::<f64>()[0].is_nan()));
            done.wait();
            quiet && nan.unwrap_or(false)
        })
    };
    nabla::autograd::detect_anomaly(|| {
        inside.wait();
        done.wait();
        assert!(
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x.sqrt())).is_err(),
            "anomaly mode is on here"
        );
    });
    assert!(other.join().unwrap(), "anomaly mode leaked to another thread");
    assert!(!nabla::autograd::is_anomaly_enabled());
}
