//! Extreme inputs give finite values and finite gradients wherever mathematics allows:
//! logits of ±1e4 through (log-)softmax and the losses built on them, sigmoid and tanh of
//! ±1000, softplus of large values, the variance of a constant. Each case is checked in
//! f32 and f64, and against the exact value where it is known in closed form.

use nabla::functional as F;
use nabla::prelude::*;

const DTYPES: [DType; 2] = [DType::F32, DType::F64];

fn leaf(v: &[f64], shape: &[usize], dtype: DType) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).to_dtype(dtype).requires_grad_(true)
}

#[track_caller]
fn assert_finite(what: &str, t: &Tensor) {
    let v = t.to_vec::<f64>();
    assert!(v.iter().all(|x| x.is_finite()), "{what} ({}): {v:?}", t.dtype());
}

#[track_caller]
fn assert_close(what: &str, t: &Tensor, expected: &[f64], tol: f64) {
    let v = t.to_vec::<f64>();
    assert_eq!(v.len(), expected.len(), "{what}");
    for (a, b) in v.iter().zip(expected) {
        assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{what} ({}): got {v:?}, expected {expected:?}", t.dtype());
    }
}

/// `f(x)` and the gradient of `sum(f(x) · weights)` with respect to `x`.
fn value_and_grad(x: &Tensor, f: impl Fn(&Tensor) -> Tensor, weights: &[f64]) -> (Tensor, Tensor) {
    let y = f(x);
    let w = Tensor::from_vec(weights.to_vec(), y.shape()).to_dtype(y.dtype());
    (&y * &w).sum().backward();
    (y.detach(), x.grad().unwrap())
}

#[test]
fn log_softmax_of_logits_of_plus_minus_1e4() {
    for dtype in DTYPES {
        let x = leaf(&[1e4, -1e4, 0.0, 1e4, 1e4, -1e4], &[2, 3], dtype);
        let (y, g) = value_and_grad(&x, |x| x.log_softmax(1), &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        assert_finite("log_softmax", &y);
        let ln2 = std::f64::consts::LN_2;
        assert_close("log_softmax", &y, &[0.0, -2e4, -1e4, -ln2, -ln2, -2e4 - ln2], 1e-6);
        assert_finite("d log_softmax", &g);
        // d/dx of log_softmax(x)[k] = onehot(k) - softmax(x)
        assert_close("d log_softmax", &g, &[0.0, 0.0, 0.0, -0.5, 0.5, 0.0], 1e-6);
    }
}

#[test]
fn log_softmax_stays_finite_where_log_of_softmax_underflows() {
    // softmax(-1e4 vs 0) underflows to exactly 0, so log(softmax) is -inf; log_softmax
    // computes the same quantity without ever forming the tiny probability.
    for dtype in DTYPES {
        let x = leaf(&[0.0, -1e4, -800.0], &[3], dtype);
        let naive = x.softmax(0).log();
        assert!(naive.to_vec::<f64>()[1].is_infinite());
        let (y, g) = value_and_grad(&x, |x| x.log_softmax(0), &[0.0, 1.0, 1.0]);
        assert_finite("log_softmax", &y);
        assert_close("log_softmax", &y, &[0.0, -1e4, -800.0], 1e-9);
        assert_finite("d log_softmax", &g);
        assert_close("d log_softmax", &g, &[-2.0, 1.0, 1.0], 1e-9);
    }
}

#[test]
fn softmax_and_logsumexp_of_plus_minus_1e4() {
    for dtype in DTYPES {
        let x = leaf(&[1e4, 1e4, -1e4], &[3], dtype);
        let (p, g) = value_and_grad(&x, |x| x.softmax(0), &[1.0, 0.0, 0.0]);
        assert_close("softmax", &p, &[0.5, 0.5, 0.0], 1e-7);
        assert_finite("d softmax", &g);
        assert_close("d softmax", &g, &[0.25, -0.25, 0.0], 1e-7);

        // f32 holds 1e4 + ln 2 only to within 5e-4 (its spacing there is 2^-10), and the
        // gradient exp(x - logsumexp) inherits that rounding, as in PyTorch
        let tol = if dtype == DType::F32 { 2e-4 } else { 1e-9 };
        let x = leaf(&[1e4, 1e4, -1e4], &[3], dtype);
        let (l, g) = value_and_grad(&x, |x| x.logsumexp(0, false), &[1.0]);
        assert_close("logsumexp", &l, &[1e4 + std::f64::consts::LN_2], 1e-7);
        assert_finite("d logsumexp", &g);
        assert_close("d logsumexp", &g, &[0.5, 0.5, 0.0], tol);
    }
}

#[test]
fn sigmoid_and_tanh_of_plus_minus_1000() {
    for dtype in DTYPES {
        let x = leaf(&[-1000.0, 1000.0, 0.0], &[3], dtype);
        let (s, g) = value_and_grad(&x, |x| x.sigmoid(), &[1.0; 3]);
        assert_close("sigmoid", &s, &[0.0, 1.0, 0.5], 0.0);
        assert_finite("d sigmoid", &g);
        assert_close("d sigmoid", &g, &[0.0, 0.0, 0.25], 0.0);

        let x = leaf(&[-1000.0, 1000.0, 0.0], &[3], dtype);
        let (t, g) = value_and_grad(&x, |x| x.tanh(), &[1.0; 3]);
        assert_close("tanh", &t, &[-1.0, 1.0, 0.0], 0.0);
        assert_finite("d tanh", &g);
        assert_close("d tanh", &g, &[0.0, 0.0, 1.0], 0.0);
    }
}

#[test]
fn variance_of_a_constant_is_exactly_zero_with_a_zero_gradient() {
    for dtype in DTYPES {
        for c in [0.0, 1.0, -3.5, 1e8, 1e-30] {
            let x = leaf(&[c; 1000], &[10, 100], dtype);
            let (v, g) = value_and_grad(&x, |x| x.var(true), &[1.0]);
            assert_eq!(v.to_vec::<f64>(), vec![0.0], "var of {c} ({dtype})");
            assert_eq!(g.to_vec::<f64>(), vec![0.0; 1000], "d var of {c} ({dtype})");

            let x = leaf(&[c; 1000], &[10, 100], dtype);
            let (v, g) = value_and_grad(&x, |x| x.var_dim(1, false, false), &[1.0; 10]);
            assert_eq!(v.to_vec::<f64>(), vec![0.0; 10], "var_dim of {c} ({dtype})");
            assert_eq!(g.to_vec::<f64>(), vec![0.0; 1000], "d var_dim of {c} ({dtype})");
        }
    }
}

#[test]
fn variance_of_large_values_with_a_small_spread_is_not_negative() {
    // The one-pass formula E[x²] - E[x]² cancels catastrophically here (it can even go
    // negative); the mean-centred one gives the spread.
    for dtype in DTYPES {
        let v: Vec<f64> = (0..1000).map(|i| 1e4 + (i % 2) as f64).collect();
        let x = leaf(&v, &[1000], dtype);
        let (var, g) = value_and_grad(&x, |x| x.var(false), &[1.0]);
        assert_close("var", &var, &[0.25], 1e-4);
        assert_finite("d var", &g);
    }
}

// ---- losses and activations built on the primitives ----------------------------------------

#[test]
fn cross_entropy_of_logits_of_plus_minus_1e4() {
    for dtype in DTYPES {
        let x = leaf(&[1e4, -1e4, 0.0, -1e4, 1e4, 0.0], &[2, 3], dtype);
        let target = Tensor::from_vec(vec![1i64, 1], &[2]);
        let loss = F::cross_entropy(&x, &target);
        // sample 0 puts all its mass on class 0: -log p(1) = 2e4; sample 1 is right: 0
        assert_close("cross_entropy", &loss, &[1e4], 1e-7);
        loss.backward();
        let g = x.grad().unwrap();
        assert_finite("d cross_entropy", &g);
        // (softmax - onehot) / N
        assert_close("d cross_entropy", &g, &[0.5, -0.5, 0.0, 0.0, 0.0, 0.0], 1e-7);

        // label smoothing spreads ε/C onto every class, including the -1e4 ones
        let x = leaf(&[1e4, -1e4, 0.0], &[1, 3], dtype);
        let opts = F::CrossEntropyOptions { label_smoothing: 0.1, ..Default::default() };
        let loss = F::cross_entropy_with(&x, &Tensor::from_vec(vec![0i64], &[1]), &opts);
        // (1 - ε)·0 + ε/3·(0 + 2e4 + 1e4)
        assert_close("cross_entropy smoothed", &loss, &[1e3], 1e-6);
        loss.backward();
        assert_finite("d cross_entropy smoothed", &x.grad().unwrap());
    }
}

#[test]
fn binary_cross_entropy_with_logits_of_plus_minus_1e4() {
    for dtype in DTYPES {
        let x = leaf(&[1e4, -1e4, 1e4, -1e4], &[4], dtype);
        let t = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[4]).to_dtype(dtype);
        let loss = F::binary_cross_entropy_with_logits(&x, &t);
        // right with certainty twice (0), wrong with certainty twice (1e4 each)
        assert_close("bce_with_logits", &loss, &[5e3], 1e-7);
        loss.backward();
        let g = x.grad().unwrap();
        assert_finite("d bce_with_logits", &g);
        // (sigmoid(x) - t) / N
        assert_close("d bce_with_logits", &g, &[0.0, 0.0, 0.25, -0.25], 1e-7);
    }
}

#[test]
fn binary_cross_entropy_of_probabilities_exactly_0_and_1() {
    // log(0) is clamped at -100, as in PyTorch: a finite, large loss
    for dtype in DTYPES {
        let p = leaf(&[0.0, 1.0, 1.0, 0.0], &[4], dtype);
        let t = Tensor::from_vec(vec![1.0, 0.0, 1.0, 0.0], &[4]).to_dtype(dtype);
        let loss = F::binary_cross_entropy(&p, &t);
        assert_close("bce", &loss, &[50.0], 1e-7);
        loss.backward();
        assert_finite("d bce", &p.grad().unwrap());
    }
}

#[test]
fn softplus_of_large_values() {
    for dtype in DTYPES {
        for threshold in [20.0, 1e9] {
            // with threshold 1e9 the linear shortcut never applies: the formula itself must
            // not overflow (exp(1000) is infinite)
            let x = leaf(&[1000.0, -1000.0, 50.0, 0.0], &[4], dtype);
            let (y, g) = value_and_grad(&x, |x| F::softplus(x, 1.0, threshold), &[1.0; 4]);
            assert_finite("softplus", &y);
            assert_close("softplus", &y, &[1000.0, 0.0, 50.0, std::f64::consts::LN_2], 1e-7);
            assert_finite("d softplus", &g);
            assert_close("d softplus", &g, &[1.0, 0.0, 1.0, 0.5], 1e-7);
        }
    }
}

#[test]
fn other_activations_of_plus_minus_1000() {
    let cases: Vec<(&str, fn(&Tensor) -> Tensor, [f64; 2], [f64; 2])> = vec![
        ("silu", |x| F::silu(x), [-0.0, 1000.0], [0.0, 1.0]),
        ("gelu", |x| F::gelu(x), [-0.0, 1000.0], [0.0, 1.0]),
        ("gelu_tanh", |x| F::gelu_tanh(x), [-0.0, 1000.0], [0.0, 1.0]),
        ("elu", |x| F::elu(x, 1.0), [-1.0, 1000.0], [0.0, 1.0]),
    ];
    for dtype in DTYPES {
        for (name, f, value, slope) in &cases {
            let x = leaf(&[-1000.0, 1000.0], &[2], dtype);
            let (y, g) = value_and_grad(&x, f, &[1.0, 1.0]);
            assert_finite(name, &y);
            assert_close(name, &y, value, 1e-7);
            assert_finite(&format!("d {name}"), &g);
            assert_close(&format!("d {name}"), &g, slope, 1e-7);
        }
    }
}

#[test]
fn normalization_layers_of_a_constant_input() {
    // variance 0: the eps under the square root keeps values and gradients finite
    use nabla::nn::{BatchNorm1d, LayerNorm};
    for c in [0.0, 5.0, 1e6] {
        let x = leaf(&[c; 24], &[4, 6], DType::F32);
        let bn = BatchNorm1d::new(6);
        let y = bn.forward(&x);
        assert_close("batch_norm", &y, &[0.0; 24], 0.0);
        (&y * &Tensor::randn(&[4, 6])).sum().backward();
        assert_finite("d batch_norm", &x.grad().unwrap());
        for p in bn.parameters() {
            assert_finite("d batch_norm parameter", &p.grad().unwrap());
        }
        assert_finite("running_var", &bn.buffers()[1]);

        let x = leaf(&[c; 24], &[4, 6], DType::F32);
        let ln = LayerNorm::new(&[6]);
        let y = ln.forward(&x);
        assert_close("layer_norm", &y, &[0.0; 24], 0.0);
        (&y * &Tensor::randn(&[4, 6])).sum().backward();
        assert_finite("d layer_norm", &x.grad().unwrap());
    }
}
