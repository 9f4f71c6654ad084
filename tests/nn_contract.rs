//! The layer/optimizer/checkpoint contract, written exactly as a user of the facade writes it.

use nabla::nn::{Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential, StateDict};
use nabla::optim::{Adam, AdamW, Optimizer, RMSprop, SGD};
use nabla::Tensor;

#[test]
fn the_documented_training_loop_works() -> Result<(), nabla::Error> {
    nabla::manual_seed(0);
    let model = Sequential::new()
        .add(Conv2d::new(1, 32, 3).padding(1))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(6272, 10));
    let x = Tensor::randn(&[4, 1, 28, 28]);
    let labels = Tensor::from_vec(vec![1i64, 7, 3, 0], &[4]);
    let logits = model.forward(&x);
    assert_eq!(logits.shape(), &[4, 10]);
    let names: Vec<(String, Tensor)> = model.named_parameters();
    let names: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["0.weight", "0.bias", "4.weight", "4.bias"]);
    assert!(model.to_string().starts_with(
        "Sequential(\n  (0): Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n  (1): ReLU()\n"
    ));

    let dir = std::env::temp_dir().join(format!("nabla-contract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let sd: StateDict = model.state_dict();
    sd.save(&path)?;
    model.load_state_dict(&StateDict::load(&path)?, true)?;
    std::fs::remove_dir_all(&dir).unwrap();

    let mut opt = SGD::new(model.parameters(), 0.1).momentum(0.9).nesterov(true).weight_decay(1e-4);
    let _adam = Adam::new(model.parameters(), 1e-3);
    let _adamw = AdamW::new(model.parameters(), 1e-3).weight_decay(0.01);
    let _rms = RMSprop::new(model.parameters(), 1e-3);
    let loss_of = |m: &Sequential| nabla::nn::CrossEntropyLoss::new().forward(&m.forward(&x), &labels);
    let before = loss_of(&model).item();
    for _ in 0..3 {
        let loss = loss_of(&model);
        opt.zero_grad();
        loss.backward();
        opt.step();
    }
    assert!(loss_of(&model).item() < before);
    Ok(())
}
