//! The two textbook graphs of every autodiff course, checked against hand-derived values.

use nabla::autograd::BackwardOptions;
use nabla::prelude::*;

#[test]
fn f_equals_x_plus_y_times_z() {
    let x = Tensor::from_vec(vec![-2.0f32], &[1]).requires_grad_(true);
    let y = Tensor::from_vec(vec![5.0f32], &[1]).requires_grad_(true);
    let z = Tensor::from_vec(vec![-4.0f32], &[1]).requires_grad_(true);
    let q = &x + &y;
    let f = (&q * &z).sum();
    assert_eq!(f.item(), -12.0);
    f.backward();
    assert_eq!(x.grad().unwrap().item(), -4.0);
    assert_eq!(y.grad().unwrap().item(), -4.0);
    assert_eq!(z.grad().unwrap().item(), 3.0);
    assert!(q.grad().is_none());
}

#[test]
fn y_equals_x_plus_w_times_w_plus_one() {
    let x = Tensor::from_vec(vec![2.0f64], &[1]).requires_grad_(true);
    let w = Tensor::from_vec(vec![1.0f64], &[1]).requires_grad_(true);
    let a = &x + &w;
    let b = &w + 1.0;
    a.retain_grad();
    let y = (&a * &b).sum();
    assert!(!a.is_leaf() && x.is_leaf() && w.is_leaf());
    assert_eq!(a.grad_fn().unwrap().name(), "AddBackward");
    y.backward();
    assert_eq!(w.grad().unwrap().item(), 5.0);
    assert_eq!(x.grad().unwrap().item(), 2.0);
    assert_eq!(a.grad().unwrap().item(), 2.0);
    assert!(b.grad().is_none());
}

#[test]
fn second_backward_without_retain_graph_fails_with_hint() {
    let x = Tensor::from_vec(vec![3.0f32], &[1]).requires_grad_(true);
    let y = (&x * &x).sum();
    y.backward_with(&BackwardOptions { retain_graph: true, ..Default::default() });
    y.backward();
    assert_eq!(x.grad().unwrap().item(), 12.0); // accumulated twice
    let e = y.try_backward().unwrap_err().to_string();
    assert!(e.contains("Trying to backward through the graph a second time"), "{e}");
    assert!(e.contains("retain_graph"), "{e}");
}
