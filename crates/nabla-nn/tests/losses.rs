//! Loss modules against PyTorch's values (tests/golden/losses.py, float64).

mod common;

use common::{assert_close, data, golden, shape};
use nabla_autograd::{DType, Tensor};
use nabla_nn::nn::{BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss, Reduction};

fn input(g: &serde_json::Value, case: &str) -> Tensor {
    Tensor::from_vec(data(g, &format!("{case}.input")), &shape(g, &format!("{case}.input"))).requires_grad_(true)
}

fn target(g: &serde_json::Value, case: &str, classes: bool) -> Tensor {
    let t = Tensor::from_vec(data(g, &format!("{case}.target")), &shape(g, &format!("{case}.target")));
    if classes {
        t.to_dtype(DType::I64)
    } else {
        t
    }
}

fn check(g: &serde_json::Value, case: &str, loss: impl Fn(&Tensor, &Tensor) -> Tensor, classes: bool) {
    let x = input(g, case);
    let out = loss(&x, &target(g, case, classes));
    assert_close(&out.to_vec::<f64>(), &data(g, &format!("{case}.out")), 1e-10, &format!("{case}.out"));
    out.sum().backward();
    assert_close(&x.grad().unwrap().to_vec::<f64>(), &data(g, &format!("{case}.grad")), 1e-10, &format!("{case}.grad"));
}

#[test]
fn loss_modules_match_pytorch() {
    let g = golden("losses.json");
    check(&g, "ce_mean", |x, t| CrossEntropyLoss::new().forward(x, t), true);
    check(&g, "ce_sum", |x, t| CrossEntropyLoss::new().reduction(Reduction::Sum).forward(x, t), true);
    check(&g, "ce_none", |x, t| CrossEntropyLoss::new().reduction(Reduction::None).forward(x, t), true);
    check(&g, "ce_ls01", |x, t| CrossEntropyLoss::new().label_smoothing(0.1).forward(x, t), true);
    check(&g, "ce_prob", |x, t| CrossEntropyLoss::new().forward(x, t), false);
    check(&g, "nll_mean", |x, t| NLLLoss::new().forward(x, t), true);
    check(&g, "nll_sum", |x, t| NLLLoss::new().reduction(Reduction::Sum).forward(x, t), true);
    check(&g, "mse_mean", |x, t| MSELoss::new().forward(x, t), false);
    check(&g, "mse_none", |x, t| MSELoss::new().reduction(Reduction::None).forward(x, t), false);
    check(&g, "l1_mean", |x, t| L1Loss::new().forward(x, t), false);
    check(&g, "huber_d05", |x, t| HuberLoss::new().delta(0.5).forward(x, t), false);
    check(&g, "bce_mean", |x, t| BCELoss::new().forward(x, t), false);
    check(&g, "bcel_mean", |x, t| BCEWithLogitsLoss::new().forward(x, t), false);
    check(&g, "bcel_none", |x, t| BCEWithLogitsLoss::new().reduction(Reduction::None).forward(x, t), false);
}

#[test]
fn loss_modules_print_their_options() {
    assert_eq!(MSELoss::new().to_string(), "MSELoss()");
    assert_eq!(CrossEntropyLoss::new().to_string(), "CrossEntropyLoss()");
    assert_eq!(
        CrossEntropyLoss::new().ignore_index(Some(0)).reduction(Reduction::Sum).to_string(),
        "CrossEntropyLoss(ignore_index=0, reduction='sum')"
    );
    assert_eq!(HuberLoss::new().delta(0.5).to_string(), "HuberLoss(delta=0.5)");
}
