//! Every optimizer against PyTorch's trajectories on a small quadratic, and every schedule
//! against PyTorch's learning rates (tests/golden/optim.py, float64).

mod common;

use common::{assert_close, data, golden};
use nabla_autograd::Tensor;
use nabla_nn::optim::{
    Adagrad, Adam, AdamW, CosineAnnealingLR, ExponentialLR, LrScheduler, OneCycleLR, Optimizer, RMSprop, StepLR, SGD,
};

type MakeOpt = fn(Vec<Tensor>) -> Box<dyn Optimizer>;

const CONFIGS: &[(&str, MakeOpt)] = &[
    ("sgd", |p| Box::new(SGD::new(p, 0.1))),
    ("sgd_momentum", |p| Box::new(SGD::new(p, 0.1).momentum(0.9))),
    ("sgd_nesterov_wd", |p| Box::new(SGD::new(p, 0.1).momentum(0.9).nesterov(true).weight_decay(0.01))),
    ("sgd_momentum_dampening", |p| Box::new(SGD::new(p, 0.1).momentum(0.9).dampening(0.5))),
    ("adam", |p| Box::new(Adam::new(p, 0.1))),
    ("adam_wd", |p| Box::new(Adam::new(p, 0.1).weight_decay(0.01).amsgrad(false))),
    ("adamw", |p| Box::new(AdamW::new(p, 0.1).weight_decay(0.01))),
    ("rmsprop", |p| Box::new(RMSprop::new(p, 0.01).alpha(0.99).eps(1e-8))),
    ("rmsprop_momentum_centered", |p| {
        Box::new(RMSprop::new(p, 0.01).alpha(0.99).eps(1e-8).momentum(0.9).centered(true))
    }),
    ("adagrad", |p| Box::new(Adagrad::new(p, 0.1))),
];

#[test]
fn optimizers_follow_pytorch_trajectories() {
    let g = golden("optim.json");
    let c = Tensor::from_vec(data(&g, "c"), &[3]);
    let s = Tensor::from_vec(data(&g, "s"), &[3]);
    for (name, make) in CONFIGS {
        let p = Tensor::from_vec(data(&g, "p0"), &[3]).requires_grad_(true);
        let mut opt = make(vec![p.clone()]);
        for i in 1..=3 {
            opt.zero_grad();
            let loss = ((&p - &c).pow(2) * &s).sum();
            loss.backward();
            opt.step();
            assert_close(&[loss.item()], &data(&g, &format!("{name}.loss{i}")), 1e-10, &format!("{name}.loss{i}"));
            assert_close(&p.to_vec::<f64>(), &data(&g, &format!("{name}.step{i}")), 1e-10, &format!("{name}.step{i}"));
        }
        assert!(p.is_leaf() && p.requires_grad(), "{name}: the parameter stays a leaf");
    }
}

#[test]
fn optimizers_work_in_f32_too() {
    let g = golden("optim.json");
    for (name, make) in CONFIGS {
        let p = Tensor::from_vec(data(&g, "p0"), &[3]).to_dtype(nabla_autograd::DType::F32).requires_grad_(true);
        let c = Tensor::from_vec(data(&g, "c"), &[3]).to_dtype(nabla_autograd::DType::F32);
        let s = Tensor::from_vec(data(&g, "s"), &[3]).to_dtype(nabla_autograd::DType::F32);
        let mut opt = make(vec![p.clone()]);
        for _ in 0..3 {
            opt.zero_grad();
            ((&p - &c).pow(2) * &s).sum().backward();
            opt.step();
        }
        assert_close(&p.to_vec::<f64>(), &data(&g, &format!("{name}.step3")), 1e-5, name);
    }
}

fn schedule(name: &str, momentum: f64) -> (Vec<f64>, Vec<f64>) {
    let p = Tensor::zeros_with(&[1], nabla_autograd::DType::F64).requires_grad_(true);
    let mut opt = SGD::new(vec![p], 0.1).momentum(momentum);
    let mut sched: Box<dyn LrScheduler> = match name {
        "sched_step" => Box::new(StepLR::new(&mut opt, 3, 0.5)),
        "sched_exp" => Box::new(ExponentialLR::new(&mut opt, 0.9)),
        "sched_cosine" => Box::new(CosineAnnealingLR::new(&mut opt, 10, 0.001)),
        "sched_onecycle" => Box::new(OneCycleLR::new(&mut opt, 0.1, 12)),
        _ => unreachable!(),
    };
    let (mut lrs, mut moms) = (vec![], vec![]);
    for i in 0..12 {
        lrs.push(opt.lr());
        moms.push(opt.param_groups()[0].momentum.unwrap());
        opt.step();
        if i < 11 || name != "sched_onecycle" {
            sched.step(&mut opt);
        }
    }
    (lrs, moms)
}

#[test]
fn schedules_follow_pytorch() {
    let g = golden("optim.json");
    for name in ["sched_step", "sched_exp", "sched_cosine"] {
        let (lrs, _) = schedule(name, 0.0);
        assert_close(&lrs, &data(&g, &format!("{name}.lr")), 1e-12, name);
    }
    let (lrs, moms) = schedule("sched_onecycle", 0.9);
    assert_close(&lrs, &data(&g, "sched_onecycle.lr"), 1e-12, "onecycle lr");
    assert_close(&moms, &data(&g, "sched_onecycle.momentum"), 1e-12, "onecycle momentum");
}

#[test]
fn one_cycle_cycles_adams_beta1_and_stops_at_total_steps() {
    let p = Tensor::zeros(&[1]).requires_grad_(true);
    let mut opt = Adam::new(vec![p], 0.1);
    let mut sched = OneCycleLR::new(&mut opt, 0.1, 10);
    assert_eq!(opt.param_groups()[0].momentum, Some(0.95));
    sched.step(&mut opt);
    sched.step(&mut opt);
    assert_eq!(opt.param_groups()[0].momentum, Some(0.85)); // β₁ at its base when the lr peaks
    for _ in 2..10 {
        sched.step(&mut opt); // step == total_steps is allowed, as PyTorch
    }
    let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sched.step(&mut opt))).unwrap_err();
    assert!(common::panic_message(e).contains("Tried to step 11 times"));

    let mut ada = Adagrad::new(vec![Tensor::zeros(&[1]).requires_grad_(true)], 0.1);
    let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| OneCycleLR::new(&mut ada, 0.1, 3))).unwrap_err();
    assert!(common::panic_message(e).contains("must support momentum"));
}
