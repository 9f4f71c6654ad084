//! Threads are safe: tensors, modules and optimizers move between threads and are shared
//! by them; training two models (a small CNN with BatchNorm, trained by Adam) on two
//! threads at once gives exactly what training them one after the other gives; gradients
//! accumulated into a shared leaf from several threads all arrive; and the two pieces of
//! thread-local state, grad mode (`no_grad`) and anomaly mode, stay on their thread.

use nabla::functional as F;
use nabla::nn::{BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, Tanh};
use nabla::optim::Adam;
use nabla::prelude::*;
use std::sync::{Arc, Barrier};
use std::thread;

/// Compile-time: `T` can be sent to and shared between threads.
const fn send_sync<T: Send + Sync + ?Sized>() {}

// The engine's types, every module, the loss modules, checkpoints, optimizers and data.
const _: () = {
    use nabla::nn::*;
    use nabla::optim::*;
    send_sync::<Tensor>();
    send_sync::<nabla::GradFn>();
    send_sync::<nabla::RawTensor>();
    send_sync::<nabla::Error>();
    send_sync::<nabla::HookHandle>();
    send_sync::<dyn Module>(); // `Module: Send + Sync`, so every module is
    send_sync::<Box<dyn Module>>();
    send_sync::<Linear>();
    send_sync::<Conv1d>();
    send_sync::<Conv2d>();
    send_sync::<BatchNorm1d>();
    send_sync::<BatchNorm2d>();
    send_sync::<LayerNorm>();
    send_sync::<Embedding>();
    send_sync::<Dropout>();
    send_sync::<MaxPool2d>();
    send_sync::<AvgPool2d>();
    send_sync::<AdaptiveAvgPool2d>();
    send_sync::<Flatten>();
    send_sync::<Sequential>();
    send_sync::<Mlp>();
    send_sync::<Identity>();
    send_sync::<ReLU>();
    send_sync::<LeakyReLU>();
    send_sync::<ELU>();
    send_sync::<GELU>();
    send_sync::<SiLU>();
    send_sync::<Sigmoid>();
    send_sync::<Tanh>();
    send_sync::<Softmax>();
    send_sync::<LogSoftmax>();
    send_sync::<Maxout>();
    send_sync::<MSELoss>();
    send_sync::<L1Loss>();
    send_sync::<HuberLoss>();
    send_sync::<CrossEntropyLoss>();
    send_sync::<NLLLoss>();
    send_sync::<BCELoss>();
    send_sync::<BCEWithLogitsLoss>();
    send_sync::<StateDict>();
    send_sync::<SGD>();
    send_sync::<Adam>();
    send_sync::<AdamW>();
    send_sync::<RMSprop>();
    send_sync::<Adagrad>();
    send_sync::<nabla::data::TensorDataset>();
    send_sync::<nabla::data::Mnist>();
};

// ---- training on two threads at once ----------------------------------------------------

/// A small CNN, its data and its optimizer, all made from the global seeded generator on
/// the calling thread (the generator is process-wide; training itself draws nothing).
struct Problem {
    model: Sequential,
    images: Tensor,
    labels: Tensor,
    optimizer: Adam,
}

fn problem(seed: u64) -> Problem {
    nabla::manual_seed(seed);
    let model = Sequential::new()
        .add(Conv2d::new(1, 4, 3).padding(1))
        .add(BatchNorm2d::new(4))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(4 * 4 * 4, 16))
        .add(Tanh)
        .add(Linear::new(16, 3));
    let images = Tensor::randn(&[16, 1, 8, 8]);
    let labels = Tensor::from_vec((0..16).map(|i| i % 3).collect::<Vec<i64>>(), &[16]);
    let optimizer = Adam::new(model.parameters(), 1e-2);
    Problem { model, images, labels, optimizer }
}

/// 100 full-batch Adam steps; returns the state dict's values (parameters and BatchNorm's
/// running statistics).
fn train(mut p: Problem) -> Vec<(String, Vec<f32>)> {
    for _ in 0..100 {
        p.optimizer.zero_grad();
        let loss = F::cross_entropy(&p.model.forward(&p.images), &p.labels);
        loss.backward();
        p.optimizer.step();
    }
    p.model.state_dict().iter().map(|(k, t)| (k.to_string(), t.to_vec::<f32>())).collect()
}

#[test]
fn two_models_trained_at_once_on_two_threads_match_training_them_one_after_the_other() {
    let serial = (train(problem(1)), train(problem(2)));
    // the starting points are made here, the training runs on two threads at once
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
    assert_eq!(parallel, serial, "bit-for-bit the same parameters and running statistics");
    assert_ne!(serial.0, serial.1, "two different problems");
}

#[test]
fn a_model_moves_to_another_thread_and_back() {
    let p = problem(3);
    let (model, images) = (p.model, p.images);
    let expected = no_grad(|| model.forward(&images)).to_vec::<f32>();
    let (model, got) = thread::spawn(move || {
        let y = no_grad(|| model.forward(&images)).to_vec::<f32>();
        (model, y)
    })
    .join()
    .unwrap();
    assert_eq!(got, expected);
    assert_eq!(model.parameters().len(), 8);
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

#[test]
fn a_graph_that_saves_nothing_runs_on_many_threads_at_once_without_retain_graph() {
    // additions, subtractions and sums save no tensor: their rules are never freed, so each
    // thread may run the same nodes again and again, at the same time as the others
    let x = Tensor::from_vec(vec![0.5f64, -1.0, 2.0], &[3]).requires_grad_(true);
    let y = ((&x + &x) - (&x + 3.0)).sum();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (x, y) = (x.clone(), y.clone());
            thread::spawn(move || {
                (0..50)
                    .map(|_| nabla::autograd::grad(&[y.clone()], &[x.clone()], &Default::default()).unwrap()[0].clone())
                    .map(|g| g.unwrap().to_vec::<f64>())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for h in handles {
        for g in h.join().unwrap() {
            assert_eq!(g, vec![1.0; 3]); // d/dx (2x − x − 3) = 1
        }
    }
    // and a graph that saves tensors still refuses a second pass
    let z = (&x * &x).sum();
    z.backward();
    assert!(z.try_backward().is_err());
}

/// The gradient of `sum((t² + t) · t²)` with `t = tanh(x)`: `(4t³ + 3t²)(1 − t²)`.
fn diamond_grad(x: &[f64]) -> Vec<f64> {
    x.iter()
        .map(|v| {
            let t = v.tanh();
            (4.0 * t.powi(3) + 3.0 * t * t) * (1.0 - t * t)
        })
        .collect()
}

/// `sum((t² + t) · t²)` with `t = tanh(x)`: every node is reached along two paths, so a pass
/// that took another pass's numbering of the nodes for its own would add a gradient twice
/// or lose one.
fn diamond(x: &Tensor) -> Tensor {
    let t = x.tanh();
    let b = &t * &t;
    let c = &b + &t;
    (&c * &b).sum()
}

fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
    }
}

#[test]
fn passes_running_at_once_over_one_graph_keep_their_own_numbering() {
    let x = Tensor::from_vec(vec![0.5f64, -1.5, 0.25], &[3]).requires_grad_(true);
    let y = diamond(&x);
    let want = diamond_grad(&x.to_vec::<f64>());
    let start = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (x, y, start, want) = (x.clone(), y.clone(), start.clone(), want.clone());
            thread::spawn(move || {
                start.wait();
                let opts = nabla::autograd::GradOptions { retain_graph: true, ..Default::default() };
                for _ in 0..300 {
                    // a pass over the shared graph, and one over a graph of this thread's own
                    // that shares the leaf (and so the leaf's node)
                    let g = nabla::autograd::grad(&[y.clone()], &[x.clone()], &opts).unwrap();
                    assert_close(&g[0].as_ref().unwrap().to_vec::<f64>(), &want);
                    let own = diamond(&x);
                    let g = nabla::autograd::grad(&[own], &[x.clone()], &Default::default()).unwrap();
                    assert_close(&g[0].as_ref().unwrap().to_vec::<f64>(), &want);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // and a pass alone afterwards still numbers the graph right
    y.backward();
    assert_close(&x.grad().unwrap().to_vec::<f64>(), &want);
}

#[test]
fn a_backward_inside_a_hook_does_not_disturb_the_pass_running_it() {
    let x = Tensor::from_vec(vec![0.5f64, -1.5], &[2]).requires_grad_(true);
    let z = Tensor::from_vec(vec![2.0f64, 3.0], &[2]).requires_grad_(true);
    let t = x.tanh();
    let inner = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (xh, zh, seen) = (x.clone(), z.clone(), inner.clone());
    // the hook runs a whole pass over a graph that shares x's node with the outer pass
    t.register_hook(move |_| {
        // (a hook runs with grad mode off, as in PyTorch: the inner graph is recorded under enable_grad)
        let inner_out = nabla::enable_grad(|| diamond(&(&xh * &zh)));
        let g = nabla::autograd::grad(&[inner_out], &[zh.clone()], &Default::default()).unwrap();
        *seen.lock().unwrap() = g[0].as_ref().unwrap().to_vec::<f64>();
        None
    });
    let b = &t * &t;
    ((&b + &t) * &b).sum().backward();
    assert_close(&x.grad().unwrap().to_vec::<f64>(), &diamond_grad(&x.to_vec::<f64>()));
    // d/dz of diamond(x·z) = x · diamond'(x·z)
    let xz: Vec<f64> = vec![0.5 * 2.0, -1.5 * 3.0];
    let want: Vec<f64> = diamond_grad(&xz).iter().zip([0.5, -1.5]).map(|(g, x)| g * x).collect();
    assert_close(&inner.lock().unwrap(), &want);
    assert!(z.grad().is_none(), "grad() does not touch .grad");
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
