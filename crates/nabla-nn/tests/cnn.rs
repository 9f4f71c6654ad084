//! Convolutional networks: LeNet's names, shapes and count equal PyTorch's; a training
//! step of a CNN lowers the loss; conv, pooling and dropout layers behave as PyTorch's.

mod common;

use common::{golden, panic_message, SEED_LOCK};
use nabla_autograd::{DType, Tensor};
use nabla_nn::nn::{
    AdaptiveAvgPool2d, AvgPool2d, Conv1d, Conv2d, CrossEntropyLoss, Dropout, Flatten, Linear, MaxPool2d, Module, ReLU,
    Sequential,
};
use nabla_nn::optim::{Adam, Optimizer};

fn lenet() -> Sequential {
    Sequential::new()
        .add(Conv2d::new(1, 6, 5).padding(2))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Conv2d::new(6, 16, 5))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(400, 120))
        .add(ReLU)
        .add(Linear::new(120, 84))
        .add(ReLU)
        .add(Linear::new(84, 10))
}

#[test]
fn lenet_names_shapes_and_count_match_pytorch() {
    let _serial = SEED_LOCK.lock();
    let g = golden("init_names.json");
    let want: Vec<(String, Vec<usize>)> = g["lenet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let shape = e[1].as_array().unwrap().iter().map(|s| s.as_u64().unwrap() as usize).collect();
            (e[0].as_str().unwrap().to_string(), shape)
        })
        .collect();
    let net = lenet();
    let got: Vec<(String, Vec<usize>)> =
        net.named_parameters().into_iter().map(|(n, t)| (n, t.shape().to_vec())).collect();
    assert_eq!(got, want);
    assert_eq!(net.num_parameters() as u64, g["lenet_count"].as_u64().unwrap());
    assert_eq!(net.forward(&Tensor::zeros(&[1, 1, 28, 28])).shape(), &[1, 10]);
}

#[test]
fn a_training_step_of_the_cnn_lowers_the_loss() {
    let _serial = SEED_LOCK.lock();
    nabla_autograd::manual_seed(0);
    let net = lenet();
    let x = Tensor::randn(&[8, 1, 28, 28]);
    let y = Tensor::from_vec((0..8i64).map(|i| i % 10).collect(), &[8]);
    let ce = CrossEntropyLoss::new();
    let mut opt = Adam::new(net.parameters(), 1e-3);
    let before = ce.forward(&net.forward(&x), &y);
    opt.zero_grad();
    before.backward();
    assert!(net.parameters().iter().all(|p| p.grad().is_some()));
    opt.step();
    let after = ce.forward(&net.forward(&x), &y).item();
    assert!(after < before.item(), "{after} !< {}", before.item());
}

#[test]
fn conv_layers_are_the_functional_op_with_their_parameters() {
    let _serial = SEED_LOCK.lock();
    let conv = Conv2d::new_with(4, 6, [3, 2], DType::F64).stride([2, 1]).padding(1).dilation([1, 2]).groups(2);
    assert_eq!(conv.weight.shape(), &[6, 2, 3, 2]);
    assert_eq!(
        conv.to_string(),
        "Conv2d(4, 6, kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=2)"
    );
    let x = Tensor::randn_with(&[2, 4, 7, 6], DType::F64).requires_grad_(true);
    let y = conv.forward(&x);
    let want = nabla_autograd::functional::conv2d(&x, &conv.weight, conv.bias.as_ref(), [2, 1], [1, 1], [1, 2], 2);
    assert_eq!(y.to_vec::<f64>(), want.to_vec::<f64>());
    nabla_autograd::autograd::gradcheck(
        |t| {
            let c =
                Conv2d { weight: t[1].clone(), bias: Some(t[2].clone()), ..Conv2d::new_with(4, 6, [3, 2], DType::F64) };
            let c = Conv2d { stride: [2, 1], padding: [1, 1], dilation: [1, 2], groups: 2, ..c };
            c.forward(&t[0]).pow(2).sum()
        },
        &[x, conv.weight.clone(), conv.bias.clone().unwrap()],
    )
    .unwrap();

    let c1 = Conv1d::new(3, 4, 5).stride(2).bias(false);
    assert_eq!(c1.forward(&Tensor::zeros(&[2, 3, 11])).shape(), &[2, 4, 4]);
    assert_eq!(c1.to_string(), "Conv1d(3, 4, kernel_size=(5,), stride=(2,), bias=False)");
    assert_eq!(c1.parameters().len(), 1);
}

#[test]
fn conv_initialization_is_pytorchs() {
    let _serial = SEED_LOCK.lock();
    let conv = Conv2d::new(16, 32, 3).groups(4); // fan_in = 16/4 · 9 = 36
    let bound = 1.0 / 6.0;
    for p in conv.parameters() {
        let v = p.to_vec::<f32>();
        assert!(v.iter().all(|x| x.abs() <= bound));
        assert!(v.iter().fold(0.0f32, |m, x| m.max(x.abs())) > 0.8 * bound);
        assert!(p.requires_grad() && p.is_leaf());
    }
    let e = std::panic::catch_unwind(|| Conv2d::new(6, 4, 3).groups(4)).unwrap_err();
    assert!(panic_message(e).contains("in_channels must be divisible by groups"));
}

#[test]
fn pooling_layers_default_their_stride_to_the_kernel() {
    let _serial = SEED_LOCK.lock();
    let x = Tensor::randn(&[2, 3, 9, 9]);
    assert_eq!(MaxPool2d::new(3).forward(&x).shape(), &[2, 3, 3, 3]);
    assert_eq!(MaxPool2d::new(3).stride(2).padding(1).forward(&x).shape(), &[2, 3, 5, 5]);
    assert_eq!(AvgPool2d::new([3, 1]).forward(&x).shape(), &[2, 3, 3, 9]);
    assert_eq!(AdaptiveAvgPool2d::new([4, 2]).forward(&x).shape(), &[2, 3, 4, 2]);
    assert_eq!(
        MaxPool2d::new([2, 3]).to_string(),
        "MaxPool2d(kernel_size=(2, 3), stride=(2, 3), padding=0, dilation=1, ceil_mode=False)"
    );
    let mean = AdaptiveAvgPool2d::new(1).forward(&x).reshape(&[6]).to_vec::<f32>();
    let want = x.mean_dim(-1, false).mean_dim(-1, false).reshape(&[6]).to_vec::<f32>();
    for (a, b) in mean.iter().zip(want) {
        assert!((a - b).abs() < 1e-6);
    }
}

#[test]
fn dropout_follows_the_mode() {
    let _serial = SEED_LOCK.lock();
    let model = Sequential::new().add(Dropout::new(0.25));
    let x = Tensor::ones(&[100_000]);
    let y = model.forward(&x).to_vec::<f32>();
    let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / y.len() as f64;
    assert!((kept - 0.75).abs() < 0.01, "{kept}");
    assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
    model.eval();
    assert!(model.forward(&x).to_vec::<f32>().iter().all(|&v| v == 1.0));
    model.train();
    assert!(model.forward(&x).to_vec::<f32>().contains(&0.0));
    let e = std::panic::catch_unwind(|| Dropout::new(1.5)).unwrap_err();
    assert!(panic_message(e).contains("dropout probability has to be between 0 and 1, but got 1.5"));
}
