//! The optimizer contract beyond the numbers: construction errors, parameter groups,
//! zero_grad, learning rates, state allocated once.

use nabla_autograd::{DType, Tensor};
use nabla_nn::optim::{Adam, Optimizer, RMSprop, SGD};

fn leaf(v: &[f64]) -> Tensor {
    Tensor::from_vec(v.to_vec(), &[v.len()]).requires_grad_(true)
}

#[test]
fn a_tensor_that_does_not_require_grad_is_named_by_its_index() {
    let params = vec![leaf(&[1.0]), leaf(&[2.0]), leaf(&[3.0]), Tensor::zeros(&[2, 2])];
    let e = SGD::try_new(params.clone(), 0.1).err().unwrap().to_string();
    assert!(e.contains("optimizer got a tensor that does not require grad at index 3"), "{e}");
    assert!(e.contains("hint:"), "{e}");
    let e = std::panic::catch_unwind(|| Adam::new(params, 0.1)).err().unwrap();
    assert!(e.downcast_ref::<String>().unwrap().contains("at index 3"));

    let w = leaf(&[1.0]);
    let e = SGD::try_new(vec![&w * 2.0], 0.1).err().unwrap().to_string();
    assert!(e.contains("can't optimize a non-leaf Tensor"), "{e}");
    let e = SGD::try_new(vec![w.clone(), w.clone()], 0.1).err().unwrap().to_string();
    assert!(e.contains("more than one parameter group"), "{e}");
    let e = SGD::try_new(vec![w], -1.0).err().unwrap().to_string();
    assert!(e.contains("Invalid learning rate: -1"), "{e}");
}

#[test]
fn parameter_groups_have_their_own_learning_rate() {
    let a = leaf(&[1.0]);
    let b = leaf(&[1.0]);
    let mut opt = SGD::new(vec![a.clone()], 0.1).momentum(0.5);
    opt.add_param_group(vec![b.clone()], 0.01).unwrap();
    assert!(opt.add_param_group(vec![a.clone()], 0.01).is_err(), "a parameter in two groups");
    assert_eq!(opt.param_groups()[1].momentum, Some(0.5), "other hyperparameters are the defaults");
    (&a + &b).sum().backward();
    opt.step();
    assert!((a.item() - 0.9).abs() < 1e-12);
    assert!((b.item() - 0.99).abs() < 1e-12);
    opt.set_lr(0.5);
    assert_eq!(opt.param_groups().iter().map(|g| g.lr).collect::<Vec<_>>(), vec![0.5, 0.5]);
    assert_eq!(opt.lr(), 0.5);
}

#[test]
fn zero_grad_sets_none_and_parameters_without_grad_are_skipped() {
    let a = leaf(&[1.0]);
    let unused = leaf(&[7.0]);
    let mut opt = Adam::new(vec![a.clone(), unused.clone()], 0.1);
    (&a * 3.0).sum().backward();
    opt.step();
    assert_eq!(unused.item(), 7.0);
    assert_eq!(unused.version(), 0);
    opt.zero_grad();
    assert!(a.grad().is_none());
}

#[test]
fn steps_update_in_place_and_bump_the_version() {
    let w = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).requires_grad_(true);
    let alias = w.detach(); // shares storage
    let mut opt = RMSprop::new(vec![w.clone()], 0.01).momentum(0.9);
    (&w * &w).sum().backward();
    let v = w.version();
    opt.step();
    assert_eq!(w.version(), v + 1);
    assert_eq!(alias.to_vec::<f32>(), w.to_vec::<f32>());
    assert_eq!(w.dtype(), DType::F32);
    assert!(w.to_vec::<f32>()[0] < 1.0);
}

#[test]
fn nesterov_without_momentum_is_refused_at_step() {
    let w = leaf(&[1.0]);
    let mut opt = SGD::new(vec![w.clone()], 0.1).nesterov(true);
    (&w * 1.0).sum().backward();
    let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| opt.step())).unwrap_err();
    assert!(e.downcast_ref::<String>().unwrap().contains("Nesterov momentum requires a momentum and zero dampening"));
}

/// A parameter large enough to be updated on both threads (in parts) gets exactly the
/// element-wise SGD update: plain, with momentum, and Nesterov with weight decay, over three
/// steps, against the formula evaluated one element at a time.
#[test]
fn sgd_on_a_large_parameter_split_across_threads_matches_the_formula() {
    let n = (1 << 17) + 37; // not a multiple of the part size
    let p0: Vec<f32> = (0..n).map(|i| ((i * 7919 % 1013) as f32) / 1013.0 - 0.5).collect();
    let gv: Vec<f32> = (0..n).map(|i| ((i * 104729 % 997) as f32) / 997.0 - 0.5).collect();
    for (momentum, nesterov, wd) in [(0.0, false, 0.0), (0.9, false, 0.0), (0.9, true, 0.01)] {
        let p = Tensor::from_vec(p0.clone(), &[n]).requires_grad_(true);
        let mut opt = SGD::new(vec![p.clone()], 0.1).momentum(momentum).nesterov(nesterov).weight_decay(wd);
        let (mut want, mut buf) = (p0.clone(), vec![0.0f32; n]);
        for step in 0..3 {
            p.set_grad(Some(Tensor::from_vec(gv.clone(), &[n])));
            opt.step();
            for i in 0..n {
                let d = gv[i] + wd as f32 * want[i];
                let update = if momentum == 0.0 {
                    d
                } else {
                    buf[i] = if step == 0 { d } else { buf[i] * momentum as f32 + d };
                    if nesterov {
                        d + momentum as f32 * buf[i]
                    } else {
                        buf[i]
                    }
                };
                want[i] -= 0.1 * update;
            }
        }
        assert_eq!(p.to_vec::<f32>(), want, "momentum {momentum}, nesterov {nesterov}, weight decay {wd}");
    }
}
