//! The two textbook graphs, with leaves, requires_grad, grad_fn and retain_grad printed.
//!
//! `cargo run --example 02_autograd`

use nabla::prelude::*;

fn main() {
    // f = (x + y) · z at x = -2, y = 5, z = -4
    let x = Tensor::from_vec(vec![-2.0f32], &[1]).requires_grad_(true).named("x");
    let y = Tensor::from_vec(vec![5.0f32], &[1]).requires_grad_(true).named("y");
    let z = Tensor::from_vec(vec![-4.0f32], &[1]).requires_grad_(true).named("z");
    let q = &x + &y;
    q.retain_grad();
    let f = (&q * &z).sum();
    println!("f = (x + y) * z = {}", f.item());
    println!("q = x + y: is_leaf={} requires_grad={} grad_fn={:?}", q.is_leaf(), q.requires_grad(), q.grad_fn());
    println!("f.grad_fn = {:?}, next_functions = {:?}", f.grad_fn(), f.grad_fn().unwrap().next_functions());
    f.backward();
    let (dx, dy, dz) = (x.grad().unwrap().item(), y.grad().unwrap().item(), z.grad().unwrap().item());
    println!("∂f/∂x = {dx}  ∂f/∂y = {dy}  ∂f/∂z = {dz}  ∂f/∂q = {} (retained)", q.grad().unwrap().item());

    // y = (x + w) · (w + 1) at x = 2, w = 1
    let x2 = Tensor::from_vec(vec![2.0f32], &[1]).requires_grad_(true);
    let w = Tensor::from_vec(vec![1.0f32], &[1]).requires_grad_(true);
    let a = &x2 + &w; // non-leaf, gradient not retained
    let b = &w + 1.0;
    let out = (&a * &b).sum();
    out.backward();
    let (dw, dx2) = (w.grad().unwrap().item(), x2.grad().unwrap().item());
    println!(
        "y = (x + w)(w + 1) = {}: ∂y/∂w = {dw}, ∂y/∂x = {dx2}; a.grad() = {:?} (not retained)",
        out.item(),
        a.grad()
    );

    // no_grad and detach
    let frozen = no_grad(|| &w * 3.0);
    println!(
        "under no_grad: requires_grad = {}; detach: requires_grad = {}",
        frozen.requires_grad(),
        a.detach().requires_grad()
    );

    println!("result: dfdx={dx} dfdy={dy} dfdz={dz} dydw={dw} dydx={dx2}");
}
