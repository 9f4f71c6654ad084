//! Tensors: creation, views, broadcasting, joining and indexing.
//!
//! `cargo run --example 01_tensors`

use nabla::prelude::*;

fn main() {
    nabla::manual_seed(0);
    // creation
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let z = Tensor::zeros(&[2, 3]);
    let r = Tensor::arange(0, 6, 1); // int64, like PyTorch
    let l = Tensor::linspace(0.0, 1.0, 5);
    let e = Tensor::eye(3);
    println!("a = {a}\nzeros = {z}\narange = {r}\nlinspace = {l}\neye = {e}");
    println!("randn(2, 2) = {}", Tensor::randn(&[2, 2]));

    // views share storage: no copies
    let t = a.t();
    println!("a.t() = {t}  (contiguous: {}, strides {:?})", t.is_contiguous(), t.strides());
    let v = a.reshape(&[3, -1]);
    println!("a.reshape(3, -1) = {v}");
    println!("a.narrow(1, 1, 2) = {}", a.narrow(1, 1, 2));
    println!("a.unsqueeze(0).shape() = {:?}", a.unsqueeze(0).shape());
    println!("a[:, ::2] = {}", a.slice(1, 0, 3, 2));

    // broadcasting: [2, 3] + [3] and [2, 1] * [1, 3]
    let row = Tensor::from_vec(vec![10.0f32, 20.0, 30.0], &[3]);
    println!("a + row = {}", &a + &row);
    let col = Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]);
    println!("col * row = {}", col.matmul(&row.unsqueeze(0)));

    // joining and splitting
    let c = Tensor::cat(&[&a, &z], 0);
    let s = Tensor::stack(&[&a, &z], 0);
    println!("cat(dim 0) shape {:?}, stack(dim 0) shape {:?}", c.shape(), s.shape());
    let parts = c.chunk(2, 0);
    println!("chunk(2, 0): {} parts of shape {:?}", parts.len(), parts[0].shape());

    // reductions
    println!(
        "a.sum() = {}, a.mean_dim(0) = {}, a.max_dim(1) = {:?}",
        a.sum(),
        a.mean_dim(0, false),
        a.max_dim(1, false).1.to_vec::<i64>()
    );
    println!("softmax(a, -1) = {}", a.softmax(-1));

    println!("result: numel={} sum={} mean={}", a.numel(), a.sum().item(), a.mean().item());
}
