//! Activations and losses against PyTorch (torch 2.15, float64): values, and gradients of
//! `out.sum()` (or of `(out * g).sum()` where the fixture stores `g`), to 1e-10.
//! Fixtures and the scripts that produced them: `tests/golden/{activations,losses}.{json,py}`.

use nabla_autograd::functional::{self as F, CrossEntropyOptions, Reduction};
use nabla_autograd::{DType, Tensor};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/../../tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

struct Golden(Value);

impl Golden {
    fn shape(&self, key: &str) -> Vec<usize> {
        let v = &self.0[key]["shape"];
        v.as_array().unwrap_or_else(|| panic!("missing {key}")).iter().map(|s| s.as_u64().unwrap() as usize).collect()
    }
    fn data(&self, key: &str) -> Vec<f64> {
        self.0[key]["data"]
            .as_array()
            .unwrap_or_else(|| panic!("missing {key}"))
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    }
    fn tensor(&self, key: &str) -> Tensor {
        Tensor::from_vec(self.data(key), &self.shape(key))
    }
    fn leaf(&self, key: &str) -> Tensor {
        self.tensor(key).requires_grad_(true)
    }
    fn classes(&self, key: &str) -> Tensor {
        Tensor::from_vec(self.data(key).iter().map(|&v| v as i64).collect::<Vec<_>>(), &self.shape(key))
    }
    fn scalar(&self, key: &str) -> f64 {
        self.data(key)[0]
    }
}

#[track_caller]
fn assert_close(what: &str, got: &Tensor, want: &[f64], want_shape: &[usize]) {
    assert_eq!(got.shape(), want_shape, "{what}: shape");
    for (i, (g, w)) in got.to_vec::<f64>().iter().zip(want).enumerate() {
        assert!(g.is_finite(), "{what}[{i}]: got {g}, want {w}");
        assert!((g - w).abs() <= 1e-10 * w.abs().max(1.0), "{what}[{i}]: got {g:e}, want {w:e} (diff {:e})", g - w);
    }
}

/// Checks `f(input, target)` and the gradient of its sum with respect to the input.
fn check_loss(gold: &Golden, case: &str, target: Tensor, f: impl Fn(&Tensor, &Tensor) -> Tensor) {
    let x = gold.leaf(&format!("{case}.input"));
    let out = f(&x, &target);
    assert_close(&format!("{case}.out"), &out, &gold.data(&format!("{case}.out")), &gold.shape(&format!("{case}.out")));
    out.sum().backward();
    let grad = x.grad().unwrap_or_else(|| panic!("{case}: no gradient"));
    assert_close(
        &format!("{case}.grad"),
        &grad,
        &gold.data(&format!("{case}.grad")),
        &gold.shape(&format!("{case}.grad")),
    );
}

#[test]
fn activations_match_pytorch() {
    let gold = Golden(load("activations.json"));
    type Act = fn(&Tensor) -> Tensor;
    let acts: [(&str, Act); 10] = [
        ("gelu", F::gelu),
        ("gelu_tanh", F::gelu_tanh),
        ("silu", F::silu),
        ("softplus", |x| F::softplus(x, 1.0, 20.0)),
        ("elu", |x| F::elu(x, 1.0)),
        ("leaky_relu", |x| F::leaky_relu(x, 0.01)),
        ("hardtanh", |x| F::hardtanh(x, -1.0, 1.0)),
        ("sigmoid", F::sigmoid),
        ("tanh", F::tanh),
        ("relu", F::relu),
    ];
    for (name, f) in acts {
        let x = gold.leaf(if name == "relu" { "relu.x" } else { "x" });
        let y = f(&x);
        assert_close(
            &format!("{name}.out"),
            &y,
            &gold.data(&format!("{name}.out")),
            &gold.shape(&format!("{name}.out")),
        );
        y.sum().backward();
        let g = x.grad().unwrap();
        assert_close(
            &format!("{name}.grad"),
            &g,
            &gold.data(&format!("{name}.grad")),
            &gold.shape(&format!("{name}.grad")),
        );
    }
}

#[test]
fn cross_entropy_matches_pytorch_in_every_mode() {
    let gold = Golden(load("losses.json"));
    let with = |reduction, label_smoothing| CrossEntropyOptions { reduction, label_smoothing, ..Default::default() };
    check_loss(&gold, "ce_mean", gold.classes("ce_mean.target"), F::cross_entropy);
    check_loss(&gold, "ce_sum", gold.classes("ce_sum.target"), |x, t| {
        F::cross_entropy_with(x, t, &with(Reduction::Sum, 0.0))
    });
    check_loss(&gold, "ce_none", gold.classes("ce_none.target"), |x, t| {
        F::cross_entropy_with(x, t, &with(Reduction::None, 0.0))
    });
    let eps = gold.scalar("ce_ls01.label_smoothing");
    check_loss(&gold, "ce_ls01", gold.classes("ce_ls01.target"), |x, t| {
        F::cross_entropy_with(x, t, &with(Reduction::Mean, eps))
    });
    check_loss(&gold, "ce_prob", gold.tensor("ce_prob.target"), F::cross_entropy);
    check_loss(&gold, "ce_extreme", gold.classes("ce_extreme.target"), F::cross_entropy);
}

#[test]
fn cross_entropy_matches_pytorch_on_a_transposed_f32_view_too() {
    // The same logits handed over as a transposed view ([C, N] storage), and in f32.
    let gold = Golden(load("losses.json"));
    let logits = gold.tensor("ce_mean.input");
    let storage = logits.t().contiguous();
    let base = storage.requires_grad_(true);
    let loss = F::cross_entropy(&base.t(), &gold.classes("ce_mean.target"));
    assert_close("ce_mean.out (view)", &loss, &gold.data("ce_mean.out"), &[]);
    loss.backward();
    assert_close("ce_mean.grad (view)", &base.grad().unwrap().t(), &gold.data("ce_mean.grad"), &[5, 7]);
    let l32 = F::cross_entropy(&logits.to_dtype(DType::F32), &gold.classes("ce_mean.target"));
    assert_eq!(l32.dtype(), DType::F32);
    assert!((l32.item() - gold.scalar("ce_mean.out")).abs() < 1e-5);
}

#[test]
fn log_softmax_at_extreme_logits_matches_pytorch() {
    let gold = Golden(load("losses.json"));
    let x = gold.leaf("log_softmax_extreme.input");
    let out = F::log_softmax(&x, -1);
    assert_close("log_softmax_extreme.out", &out, &gold.data("log_softmax_extreme.out"), &[3, 3]);
    (&out * &gold.tensor("log_softmax_extreme.g")).sum().backward();
    assert_close("log_softmax_extreme.grad", &x.grad().unwrap(), &gold.data("log_softmax_extreme.grad"), &[3, 3]);
}

#[test]
fn nll_and_regression_losses_match_pytorch() {
    let gold = Golden(load("losses.json"));
    check_loss(&gold, "nll_mean", gold.classes("nll_mean.target"), F::nll_loss);
    check_loss(&gold, "nll_sum", gold.classes("nll_sum.target"), |x, t| {
        F::nll_loss_with(x, t, &F::NllLossOptions { reduction: Reduction::Sum, ..Default::default() })
    });
    let t = |case: &str| gold.tensor(&format!("{case}.target"));
    check_loss(&gold, "mse_mean", t("mse_mean"), F::mse_loss);
    check_loss(&gold, "mse_sum", t("mse_sum"), F::sse_loss);
    check_loss(&gold, "mse_none", t("mse_none"), |x, t| F::mse_loss_with(x, t, Reduction::None));
    check_loss(&gold, "l1_mean", t("l1_mean"), F::l1_loss);
    check_loss(&gold, "l1_none", t("l1_none"), |x, t| F::l1_loss_with(x, t, Reduction::None));
    for case in ["huber_d1", "huber_d05"] {
        let delta = gold.scalar(&format!("{case}.delta"));
        check_loss(&gold, case, t(case), |x, t| F::huber_loss(x, t, delta));
    }
    let beta = gold.scalar("smooth_l1_b05.beta");
    check_loss(&gold, "smooth_l1_b05", t("smooth_l1_b05"), |x, t| F::smooth_l1_loss(x, t, beta));
}

#[test]
fn binary_cross_entropy_losses_match_pytorch_including_logits_of_1e4() {
    let gold = Golden(load("losses.json"));
    let t = |case: &str| gold.tensor(&format!("{case}.target"));
    check_loss(&gold, "bce_mean", t("bce_mean"), F::binary_cross_entropy);
    check_loss(&gold, "bce_none", t("bce_none"), |x, t| F::binary_cross_entropy_with(x, t, Reduction::None));
    check_loss(&gold, "bcel_mean", t("bcel_mean"), F::binary_cross_entropy_with_logits);
    check_loss(&gold, "bcel_none", t("bcel_none"), |x, t| {
        F::binary_cross_entropy_with_logits_with(
            x,
            t,
            &F::BceWithLogitsOptions { reduction: Reduction::None, pos_weight: None },
        )
    });
    // a pos_weight of ones is the plain loss (the composite path)
    let ones = Tensor::ones_with(&[5], DType::F64);
    check_loss(&gold, "bcel_mean", t("bcel_mean"), |x, t| {
        F::binary_cross_entropy_with_logits_with(
            x,
            t,
            &F::BceWithLogitsOptions { pos_weight: Some(ones.clone()), ..Default::default() },
        )
    });
}
