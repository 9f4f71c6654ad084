//! The autograd contract of docs/autograd.md, one test per rule.

use nabla_autograd::autograd::{apply_custom, detect_anomaly, grad, BackwardOptions, CustomOp, GradOptions};
use nabla_autograd::{no_grad, DType, NoGradGuard, Result, Tensor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn leaf(v: &[f64]) -> Tensor {
    Tensor::from_vec(v.to_vec(), &[v.len()]).requires_grad_(true)
}

#[test]
fn requires_grad_propagates_and_only_leaves_accumulate() {
    let x = leaf(&[1.0, 2.0]);
    let c = Tensor::from_vec(vec![3.0f64, 4.0], &[2]);
    let y = &x * &c;
    assert!(y.requires_grad() && !y.is_leaf());
    let z = &c * 2.0;
    assert!(!z.requires_grad() && z.is_leaf());
    y.sum().backward();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![3.0, 4.0]);
    assert!(y.grad().is_none());
    assert!(c.grad().is_none());
}

#[test]
fn gradients_accumulate_across_backward_calls_until_zero_grad() {
    let x = leaf(&[1.0]);
    (&x * 3.0).sum().backward();
    (&x * 3.0).sum().backward();
    assert_eq!(x.grad().unwrap().item(), 6.0);
    x.zero_grad();
    assert!(x.grad().is_none());
    (&x * 3.0).sum().backward();
    assert_eq!(x.grad().unwrap().item(), 3.0);
}

#[test]
fn a_tensor_feeding_two_consumers_sums_their_gradients() {
    let x = leaf(&[2.0]);
    let y = (&x * &x + &x * 3.0).sum(); // 2x + 3 = 7
    y.backward();
    assert_eq!(x.grad().unwrap().item(), 7.0);
}

#[test]
fn retain_grad_keeps_non_leaf_gradients() {
    let x = leaf(&[2.0]);
    let a = &x * 3.0;
    let b = &x * 4.0;
    a.retain_grad();
    (&a * &b).sum().backward();
    assert_eq!(a.grad().unwrap().item(), 8.0);
    assert!(b.grad().is_none());
    assert!(a.retains_grad() && !b.retains_grad());
}

#[test]
fn no_grad_stops_recording_and_has_a_guard_form() {
    let x = leaf(&[1.0]);
    let y = no_grad(|| &x * 2.0);
    assert!(!y.requires_grad() && y.grad_fn().is_none());
    {
        let _g = NoGradGuard::new();
        assert!(!(&x + 1.0).requires_grad());
    }
    assert!((&x + 1.0).requires_grad());
}

#[test]
fn no_grad_is_per_thread() {
    let x = leaf(&[1.0]);
    let _g = NoGradGuard::new();
    let x2 = x.clone();
    let other = std::thread::spawn(move || (&x2 * 2.0).requires_grad()).join().unwrap();
    assert!(other, "another thread's recording must not be affected");
    assert!(!(&x * 2.0).requires_grad());
}

#[test]
fn detach_shares_storage_but_not_history() {
    let x = leaf(&[1.0, 2.0]);
    let y = &x * 2.0;
    let d = y.detach();
    assert!(!d.requires_grad() && d.is_leaf());
    assert!(d.raw().same_storage(y.raw()));
}

#[test]
fn grad_fn_and_next_functions_describe_the_graph() {
    let x = leaf(&[1.0]);
    let w = leaf(&[2.0]);
    let y = (&x * &w).exp();
    let f = y.grad_fn().unwrap();
    assert_eq!(f.name(), "ExpBackward");
    let mul = f.next_functions()[0].clone().unwrap();
    assert_eq!(mul.name(), "MulBackward");
    let next = mul.next_functions();
    assert_eq!(next[0].as_ref().unwrap().name(), "AccumulateGrad");
    assert!(next[0].as_ref().unwrap().variable().unwrap().is_same(&x));
    assert!(next[1].as_ref().unwrap().variable().unwrap().is_same(&w));
}

#[test]
fn hooks_see_and_can_replace_gradients_and_can_be_removed() {
    let x = leaf(&[1.0]);
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let h1 = x.register_hook(move |g| {
        s.store(g.item() as usize, Ordering::SeqCst);
        None
    });
    let h2 = x.register_hook(|g| Some(g * 10.0));
    (&x * 3.0).sum().backward();
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    assert_eq!(x.grad().unwrap().item(), 30.0);
    h1.remove();
    h2.remove();
    x.zero_grad();
    (&x * 3.0).sum().backward();
    assert_eq!(x.grad().unwrap().item(), 3.0);
    // hooks on non-leaves run when their gradient is computed
    let a = &x * 2.0;
    let _h = a.register_hook(|g| Some(g * 0.0));
    x.zero_grad();
    (&a * 5.0).sum().backward();
    assert_eq!(x.grad().unwrap().item(), 0.0);
}

#[test]
fn passes_of_other_sizes_and_passes_inside_hooks_start_from_a_clean_state() {
    // The engine keeps its work vectors between passes on a thread: a pass over another
    // graph, or a pass started by a hook in the middle of another pass, must see none of
    // the previous pass's state.
    let x = leaf(&[3.0]);
    let mut h = x.clone();
    for _ in 0..50 {
        h = &h * 1.5;
    }
    h.sum().backward();
    let expected = 1.5f64.powi(50);
    assert!((x.grad().unwrap().item() - expected).abs() <= 1e-12 * expected);

    let y = leaf(&[2.0]);
    (&y * &y).sum().backward();
    assert_eq!(y.grad().unwrap().item(), 4.0);

    let z = leaf(&[5.0]);
    let inner = leaf(&[7.0]);
    let mid = &z * 2.0;
    // (hooks run with grad mode off, as in PyTorch: the inner graph is built outside)
    let inner_loss = (&(&inner * &inner) * 3.0).sum();
    let _hook = mid.register_hook(move |_| {
        inner_loss.backward_with(&BackwardOptions { retain_graph: true, ..Default::default() });
        None
    });
    (&mid * &mid).sum().backward();
    assert_eq!(z.grad().unwrap().item(), 40.0); // d(2z)²/dz = 8z
    assert_eq!(inner.grad().unwrap().item(), 42.0); // d(3i²)/di = 6i

    // a gradient moved into .grad is a plain tensor
    let g = y.grad().unwrap();
    assert!(g.is_leaf() && !g.requires_grad());
    assert!(matches!(g.why_no_grad(), nabla_autograd::viz::NoGradReason::RequiresGradFalse { .. }));
}

#[test]
fn backward_on_non_scalar_needs_a_gradient() {
    let x = leaf(&[1.0, 2.0]);
    let y = &x * 2.0;
    let e = y.try_backward().unwrap_err().to_string();
    assert!(e.contains("grad can be implicitly created only for scalar outputs"), "{e}");
    y.backward_with(&BackwardOptions {
        gradient: Some(Tensor::from_vec(vec![1.0f64, 0.5], &[2])),
        ..Default::default()
    });
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![2.0, 1.0]);
}

#[test]
fn backward_on_a_tensor_that_does_not_require_grad_is_an_error() {
    let e = Tensor::ones(&[1]).sum().try_backward().unwrap_err().to_string();
    assert!(e.contains("does not require grad and does not have a grad_fn"), "{e}");
}

#[test]
fn second_backward_fails_without_retain_graph_but_not_for_ops_that_save_nothing() {
    let x = leaf(&[3.0]);
    let y = (&x * &x).sum();
    y.backward();
    let e = y.try_backward().unwrap_err().to_string();
    assert!(
        e.contains("Trying to backward through the graph a second time") && e.contains("retain_graph: true"),
        "{e}"
    );
    // x + 1 saves nothing: PyTorch allows a second backward, so do we
    let z = (&x + 1.0).sum();
    z.backward();
    z.backward();
}

#[test]
fn requires_grad_on_non_leaf_and_on_integers_are_errors() {
    let x = leaf(&[1.0]);
    let y = &x * 2.0;
    let e = y.try_requires_grad_(false).unwrap_err().to_string();
    assert!(e.contains("you can only change requires_grad flags of leaf variables"), "{e}");
    let labels = Tensor::from_vec(vec![1i64], &[1]);
    let e = labels.try_requires_grad_(true).unwrap_err().to_string();
    assert!(e.contains("only Tensors of floating point dtype can require gradients"), "{e}");
}

#[test]
fn create_graph_gives_second_derivatives() {
    // d²/dx² x³ = 6x
    let x = leaf(&[2.0]);
    let y = x.pow(3.0).sum();
    let g = grad(&[y], &[x.clone()], &GradOptions { create_graph: true, ..Default::default() }).unwrap()[0]
        .clone()
        .unwrap();
    assert_eq!(g.item(), 12.0);
    assert!(g.requires_grad());
    g.sum().backward();
    assert_eq!(x.grad().unwrap().item(), 12.0);
    // backward(create_graph) leaves a differentiable .grad
    let x = leaf(&[3.0]);
    x.pow(3.0).sum().backward_with(&BackwardOptions { create_graph: true, ..Default::default() });
    let gx = x.grad().unwrap();
    assert_eq!(gx.item(), 27.0);
    let g2 = grad(&[gx.sum()], &[x.clone()], &GradOptions::default()).unwrap();
    assert_eq!(g2[0].as_ref().unwrap().item(), 18.0);
}

#[test]
fn hessian_vector_product() {
    // f(x) = Σ x_i² x_j (all pairs) ; check H·v against finite differences of ∇f
    let x = Tensor::from_vec(vec![1.0f64, -2.0, 0.5], &[3]).requires_grad_(true);
    let v = Tensor::from_vec(vec![0.3f64, -0.1, 0.7], &[3]);
    let f = |x: &Tensor| (x * x).sum() * x.sum() + x.tanh().sum();
    let g = grad(&[f(&x)], &[x.clone()], &GradOptions { create_graph: true, ..Default::default() }).unwrap()[0]
        .clone()
        .unwrap();
    let hv =
        grad(&[(&g * &v).sum()], &[x.clone()], &GradOptions::default()).unwrap()[0].clone().unwrap().to_vec::<f64>();
    let eps = 1e-6;
    let grad_at = |d: f64| {
        let xp = (&x.detach() + &(&v * d)).requires_grad_(true);
        grad(&[f(&xp)], &[xp.clone()], &GradOptions::default()).unwrap()[0].clone().unwrap().to_vec::<f64>()
    };
    let (gp, gm) = (grad_at(eps), grad_at(-eps));
    for i in 0..3 {
        let num = (gp[i] - gm[i]) / (2.0 * eps);
        assert!((hv[i] - num).abs() < 1e-6, "{i}: {} vs {num}", hv[i]);
    }
}

#[test]
fn grad_does_not_touch_dot_grad_and_reports_unused_inputs() {
    let x = leaf(&[1.0]);
    let u = leaf(&[1.0]);
    let y = (&x * 2.0).sum();
    let e = grad(&[y.clone()], &[x.clone(), u.clone()], &GradOptions { retain_graph: true, ..Default::default() })
        .unwrap_err()
        .to_string();
    assert!(e.contains("appears to not have been used in the graph"), "{e}");
    let g = grad(&[y], &[x.clone(), u], &GradOptions { allow_unused: true, ..Default::default() }).unwrap();
    assert_eq!(g[0].as_ref().unwrap().item(), 2.0);
    assert!(g[1].is_none());
    assert!(x.grad().is_none());
}

#[test]
fn in_place_on_a_saved_tensor_is_detected_at_backward() {
    let x = leaf(&[1.0, 2.0]);
    let a = &x * 2.0;
    let y = a.sigmoid(); // saves its output
    y.add_(&Tensor::ones_with(&[2], DType::F64)); // modifies the saved output
    assert_eq!(y.version(), 1);
    let e = y.sum().try_backward().unwrap_err().to_string();
    assert!(e.contains("modified by an inplace operation") && e.contains("is at version 1; expected version 0"), "{e}");
}

#[test]
fn in_place_on_a_non_leaf_is_recorded() {
    let x = leaf(&[1.0, 2.0]);
    let a = &x * 2.0;
    a.mul_(&Tensor::from_vec(vec![3.0f64, 3.0], &[2]));
    assert_eq!(a.grad_fn().unwrap().name(), "MulBackward");
    a.sum().backward();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![6.0, 6.0]);
}

#[test]
fn in_place_on_a_leaf_that_requires_grad_is_an_error_outside_no_grad() {
    let w = leaf(&[1.0]);
    let e = w.try_add_(&Tensor::ones_with(&[1], DType::F64)).unwrap_err().to_string();
    assert!(e.contains("a leaf Variable that requires grad is being used in an in-place operation"), "{e}");
    no_grad(|| w.add_(&Tensor::ones_with(&[1], DType::F64)));
    assert_eq!(w.item(), 2.0);
}

#[test]
fn anomaly_mode_names_the_op_and_the_line() {
    let x = leaf(&[-1.0]);
    let err = detect_anomaly(|| x.try_pow(0.5).map(|_| ())).unwrap_err().to_string();
    assert!(err.contains("PowBackward") && err.contains("semantics.rs"), "{err}");
    // in backward: d sqrt at 0 is inf
    let z = leaf(&[0.0]);
    let err = detect_anomaly(|| z.sqrt().sum().try_backward()).unwrap_err().to_string();
    assert!(err.contains("SqrtBackward") && err.contains("semantics.rs"), "{err}");
}

#[test]
fn custom_ops_join_the_graph() {
    struct Square;
    impl CustomOp for Square {
        fn name(&self) -> &'static str {
            "SquareBackward"
        }
        fn forward(&self, x: &[Tensor]) -> Result<Tensor> {
            Ok(&x[0] * &x[0])
        }
        fn backward(&self, x: &[Tensor], _out: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
            Ok(vec![Some(g * &x[0] * 2.0)])
        }
    }
    let x = leaf(&[3.0]);
    let y = apply_custom(Square, &[&x]).unwrap();
    assert_eq!(y.grad_fn().unwrap().name(), "SquareBackward");
    (&y * 1.0).sum().backward();
    assert_eq!(x.grad().unwrap().item(), 6.0);
    nabla_autograd::autograd::gradcheck(|xs| apply_custom(Square, &[&xs[0]]).unwrap(), &[leaf(&[0.3, -0.7])]).unwrap();
}

/// Runs `f` on a thread with a 256 KiB stack (what a deep graph must not outgrow).
fn on_a_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(256 * 1024).spawn(f).unwrap().join().unwrap();
}

#[test]
fn a_million_op_chain_builds_backpropagates_and_drops_on_a_small_stack() {
    on_a_small_stack(|| {
        let x = Tensor::from_vec(vec![1.0f32; 4], &[4]).requires_grad_(true);
        let mut h = x.clone();
        for _ in 0..1_000_000 {
            h = &h * 1.0;
        }
        let loss = h.sum();
        loss.backward();
        assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![1.0; 4]);
        drop(loss);
        drop(h);
    });
}

#[test]
fn a_million_op_chain_dropped_without_backward_on_a_small_stack() {
    on_a_small_stack(|| {
        let x = Tensor::from_vec(vec![1.0f32], &[1]).requires_grad_(true);
        let mut h = x.clone();
        for _ in 0..1_000_000 {
            h = (&h * 1.0).exp();
        }
        drop(h);
    });
}

#[test]
fn a_million_op_chain_held_through_saved_inputs_drops_on_a_small_stack() {
    // each product saves its input (a tensor holding the node before it), so freeing the
    // chain goes node, saved tensor, node...: freed through the thread's queue, not by
    // recursion
    on_a_small_stack(|| {
        let x = Tensor::from_vec(vec![1.0f32], &[1]).requires_grad_(true);
        let mut h = x.clone();
        for _ in 0..1_000_000 {
            h = &h * &h;
        }
        assert_eq!(h.grad_fn().unwrap().name(), "MulBackward");
        drop(h);
    });
}

#[test]
fn tensors_train_on_two_threads_at_once() {
    let run = || {
        let w = Tensor::from_vec(vec![0.5f64, -0.5], &[2]).requires_grad_(true);
        let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]);
        for _ in 0..50 {
            let loss = (x.matmul(&w) - 1.0).pow(2.0).mean();
            w.zero_grad();
            loss.backward();
            no_grad(|| w.add_scaled_(&w.grad().unwrap(), -0.05));
        }
        w.to_vec::<f64>()
    };
    let serial = (run(), run());
    let a = std::thread::spawn(run);
    let b = std::thread::spawn(run);
    assert_eq!((a.join().unwrap(), b.join().unwrap()), serial);
}

#[test]
fn a_backward_that_fails_leaves_the_graph_as_it_was() {
    // The rule of a node runs and frees its saved tensors in one step; when the rule fails
    // (here: its saved input was modified in place), nothing is freed, so a second try
    // reports the same problem instead of "backward through the graph a second time".
    let x = leaf(&[2.0]);
    let y = &x * 3.0;
    let z = (&y * &y).sum();
    y.mul_(&Tensor::from_vec(vec![2.0f64], &[1]));
    for _ in 0..2 {
        let e = z.try_backward().unwrap_err().to_string();
        assert!(e.contains("modified by an inplace operation"), "{e}");
    }
    // a graph that ran once is freed: the second pass says so
    let w = (&x * &x).sum();
    w.backward();
    let e = w.try_backward().unwrap_err().to_string();
    assert!(e.contains("a second time"), "{e}");
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![4.0]);
}

#[test]
fn hooks_and_retain_grad_added_after_the_op_still_see_the_gradient() {
    // a backward pass only looks at an op's output when a hook or retain_grad was put on it
    let x = leaf(&[1.0, 2.0]);
    let y = &x * 3.0;
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    y.register_hook(move |g| {
        s.fetch_add(1, Ordering::SeqCst);
        Some(g * 2.0)
    });
    let u = &y + 1.0;
    u.retain_grad();
    (&u * &u).sum().backward();
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    // du = 2u = [8, 14]; dy = du, doubled by the hook; dx = 3 dy
    assert_eq!(u.grad().unwrap().to_vec::<f64>(), vec![8.0, 14.0]);
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![48.0, 84.0]);
}

#[test]
fn a_leaf_keeps_one_accumulate_grad_node_for_every_graph_it_joins() {
    let x = leaf(&[3.0]);
    let acc_of = |t: &Tensor| t.grad_fn().unwrap().next_functions()[0].clone().unwrap();
    let (a, b) = (&x * 2.0, &x * 5.0);
    assert_eq!(acc_of(&a).name(), "AccumulateGrad");
    assert_eq!(acc_of(&a).id(), acc_of(&b).id(), "two live graphs share the node");
    let first = acc_of(&a).id();
    drop((a, b));
    let c = &x * 7.0;
    assert_eq!(acc_of(&c).id(), first, "a later graph gets the same node");
    assert!(acc_of(&c).variable().unwrap().is_same(&x));
    c.sum().backward();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![7.0]);
    // the node points at its leaf weakly: a leaf dropped before backward gets nothing, and
    // the pass still reaches the other leaves
    let w = leaf(&[4.0]);
    let y = (&leaf(&[2.0]) + &w * 3.0).sum(); // the left leaf is a temporary (an addition saves nothing)
    let dropped = y.grad_fn().unwrap().next_functions()[0].clone().unwrap().next_functions()[0].clone().unwrap();
    assert_eq!(dropped.name(), "AccumulateGrad");
    assert!(dropped.variable().is_none());
    y.backward();
    assert_eq!(w.grad().unwrap().to_vec::<f64>(), vec![3.0]);
}

#[test]
fn ops_after_an_in_place_change_of_history_follow_the_new_history() {
    // each op reads its inputs' nodes without a lock; every change of what a tensor's
    // gradient flows into must show in the next op
    let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).requires_grad_(true);
    let t = &x * 3.0;
    let before = t.grad_fn().expect("t has a node").name();
    t.mul_(&Tensor::from_vec(vec![2.0f64, 2.0], &[2])); // t = 6x
    assert_eq!((before, t.grad_fn().expect("recorded").name()), ("MulBackward", "MulBackward"));
    (&t * 1.0).sum().backward();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![6.0, 6.0], "through the in-place op");
    // fill_ cuts the history: the next op on t records nothing
    t.fill_(5.0);
    assert!(t.grad_fn().is_none() && !(&t * 2.0).requires_grad());
    // a leaf that stops requiring grad stops flowing into its accumulator, and starts again
    let w = Tensor::from_vec(vec![1.0f64], &[1]).requires_grad_(true);
    assert!((&w * 2.0).requires_grad());
    w.requires_grad_(false);
    assert!(!(&w * 2.0).requires_grad());
    w.requires_grad_(true);
    (&w * 2.0).sum().backward();
    assert_eq!(w.grad().unwrap().to_vec::<f64>(), vec![2.0]);
}

#[test]
fn ops_read_a_tensor_while_another_thread_changes_its_history_in_place() {
    // one thread records in-place ops on `t` (each replaces its grad_fn) while another
    // records ops reading it; the old nodes stay alive for whoever read them
    let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).requires_grad_(true);
    let t = &x * 1.0;
    let zero = Tensor::zeros_like(&t).to_dtype(DType::F64);
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..2000 {
                t.add_(&zero);
            }
        });
        s.spawn(|| {
            for _ in 0..2000 {
                let y = (&t * 2.0).sum();
                assert!(y.requires_grad());
            }
        });
    });
    (&t * 2.0).sum().backward();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![2.0, 2.0]);
}

#[test]
fn a_leafs_grad_is_one_whether_set_before_its_first_graph_accumulated_or_hooked_later() {
    let w = Tensor::from_vec(vec![1.0f64], &[1]).requires_grad_(true);
    // set before the leaf is in any graph, then accumulated into by the first backward
    w.set_grad(Some(Tensor::from_vec(vec![10.0f64], &[1])));
    (&w * 2.0).sum().backward();
    assert_eq!(w.grad().unwrap().item(), 12.0);
    // a hook registered after the leaf's node exists (and after the op) still runs
    let y = (&w * 3.0).sum();
    let h = w.register_hook(|g: &Tensor| Some(g * 2.0));
    y.backward();
    assert_eq!(w.grad().unwrap().item(), 18.0);
    h.remove();
    w.zero_grad();
    assert!(w.grad().is_none());
    (&w * 3.0).sum().backward();
    assert_eq!(w.grad().unwrap().item(), 3.0);
    // a leaf dropped before the pass gets nothing, and the pass does not fail
    let v = Tensor::from_vec(vec![1.0f64], &[1]).requires_grad_(true);
    let z = (&v * 5.0 + &w).sum();
    drop(v);
    z.backward();
    assert_eq!(w.grad().unwrap().item(), 4.0);
    // a leaf that becomes a non-leaf (an in-place op with an input that requires grad)
    // keeps its .grad
    w.requires_grad_(false);
    w.add_(&Tensor::from_vec(vec![1.0f64], &[1]).requires_grad_(true));
    assert!(!w.is_leaf());
    assert_eq!(w.grad().unwrap().item(), 4.0);
}
