//! Convolutions and pooling against PyTorch (torch 2.15, float64): outputs and the
//! gradients of `sum(out * g)`. The fixtures and the scripts that produced them are
//! `tests/golden/conv2d.{py,json}` and `tests/golden/pool.{py,json}` at the workspace root.

use nabla_autograd::ops::conv::{conv1d, conv2d, conv_transpose2d};
use nabla_autograd::ops::pool::{adaptive_avg_pool2d, avg_pool2d, max_pool2d};
use nabla_autograd::Tensor;
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/../../tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn tensor(fx: &Value, key: &str) -> Tensor {
    let v = &fx[key];
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap_or_else(|| panic!("no key {key}"))
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data: Vec<f64> = v["data"].as_array().unwrap().iter().map(|d| d.as_f64().unwrap()).collect();
    Tensor::from_vec(data, &shape)
}

fn scalar(fx: &Value, key: &str) -> usize {
    tensor(fx, key).item() as usize
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (i, (a, b)) in got.to_vec::<f64>().iter().zip(want.to_vec::<f64>()).enumerate() {
        assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{what}[{i}]: got {a}, PyTorch {b}");
    }
}

/// Runs `f(x, w, b)` on case `c`'s inputs and compares the output and all three gradients.
fn conv_case(fx: &Value, c: &str, f: impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor) {
    let [x, w, b] = ["x", "w", "b"].map(|k| tensor(fx, &format!("{c}.{k}")).requires_grad_(true));
    let out = f(&x, &w, &b);
    assert_close(&format!("{c}.out"), &out, &tensor(fx, &format!("{c}.out")));
    (&out * &tensor(fx, &format!("{c}.g"))).sum().backward();
    for (k, t) in [("grad_x", &x), ("grad_w", &w), ("grad_b", &b)] {
        assert_close(&format!("{c}.{k}"), &t.grad().expect("gradient"), &tensor(fx, &format!("{c}.{k}")));
    }
}

#[test]
fn conv2d_grouped_strided_dilated_matches_pytorch() {
    let fx = load("conv2d.json");
    let (s, p, d, g) =
        (scalar(&fx, "a.stride"), scalar(&fx, "a.padding"), scalar(&fx, "a.dilation"), scalar(&fx, "a.groups"));
    assert_eq!((s, p, d, g), (2, 1, 2, 2));
    conv_case(&fx, "a", |x, w, b| conv2d(x, w, Some(b), [s, s], [p, p], [d, d], g));
}

#[test]
fn conv2d_plain_matches_pytorch() {
    let fx = load("conv2d.json");
    let (s, p) = (scalar(&fx, "b.stride"), scalar(&fx, "b.padding"));
    conv_case(&fx, "b", |x, w, b| conv2d(x, w, Some(b), [s, s], [p, p], [1, 1], 1));
}

#[test]
fn conv1d_grouped_strided_matches_pytorch() {
    let fx = load("conv2d.json");
    let (s, p, d, g) =
        (scalar(&fx, "c.stride"), scalar(&fx, "c.padding"), scalar(&fx, "c.dilation"), scalar(&fx, "c.groups"));
    conv_case(&fx, "c", |x, w, b| conv1d(x, w, Some(b), s, p, d, g));
}

#[test]
fn conv_transpose2d_with_output_padding_matches_pytorch() {
    let fx = load("conv2d.json");
    let (s, p, op) = (scalar(&fx, "d.stride"), scalar(&fx, "d.padding"), scalar(&fx, "d.output_padding"));
    let (d, g) = (scalar(&fx, "d.dilation"), scalar(&fx, "d.groups"));
    assert_eq!((s, p, op), (2, 1, 1));
    conv_case(&fx, "d", |x, w, b| conv_transpose2d(x, w, Some(b), [s, s], [p, p], [op, op], [d, d], g));
}

/// Runs `f(x)` on pooling case `c` and compares the output and the input gradient.
fn pool_case(c: &str, f: impl Fn(&Tensor) -> Tensor) {
    let fx = load("pool.json");
    let x = tensor(&fx, &format!("{c}.x")).requires_grad_(true);
    let out = f(&x);
    assert_close(&format!("{c}.out"), &out, &tensor(&fx, &format!("{c}.out")));
    (&out * &tensor(&fx, &format!("{c}.g"))).sum().backward();
    assert_close(&format!("{c}.grad_x"), &x.grad().expect("gradient"), &tensor(&fx, &format!("{c}.grad_x")));
}

#[test]
fn max_pool2d_matches_pytorch() {
    pool_case("max_k2s2", |x| max_pool2d(x, [2, 2], [2, 2], [0, 0]));
    pool_case("max_k3s2p1", |x| max_pool2d(x, [3, 3], [2, 2], [1, 1]));
}

#[test]
fn avg_pool2d_matches_pytorch() {
    pool_case("avg_k2s2", |x| avg_pool2d(x, [2, 2], [2, 2], [0, 0]));
    pool_case("avg_k3s2p1", |x| avg_pool2d(x, [3, 3], [2, 2], [1, 1]));
}

#[test]
fn adaptive_avg_pool2d_matches_pytorch() {
    pool_case("adaptive_avg_3x3", |x| adaptive_avg_pool2d(x, [3, 3]));
}
