//! A nabla checkpoint loads in PyTorch and computes the same function there
//! (tests/golden/safetensors_twin.py records PyTorch's logits for nabla's file).

mod common;

use common::{assert_close, data, golden, golden_path, SEED_LOCK};
use nabla_autograd::Tensor;
use nabla_nn::nn::{Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential, StateDict};

fn small_cnn() -> Sequential {
    Sequential::new()
        .add(Conv2d::new(1, 4, 3).padding(1))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(4 * 4 * 4, 3))
}

/// `((arange(128) % 17) / 8 - 1).reshape(2, 1, 8, 8)`, as in the Python twin.
fn input() -> Tensor {
    let v: Vec<f32> = (0..128).map(|i| (i % 17) as f32 / 8.0 - 1.0).collect();
    Tensor::from_vec(v, &[2, 1, 8, 8])
}

/// Writes tests/golden/small_cnn.safetensors. Run it (then the Python twin) only to
/// regenerate the fixture: `cargo test -p nabla-nn --test small_cnn -- --ignored`.
#[test]
#[ignore]
fn regenerate_small_cnn_checkpoint() {
    let _serial = SEED_LOCK.lock();
    nabla_autograd::manual_seed(0);
    small_cnn().state_dict().save(golden_path("small_cnn.safetensors")).unwrap();
}

#[test]
fn small_cnn_matches_pytorch() {
    let _serial = SEED_LOCK.lock(); // building a model draws from the generator the other test seeds
    let sd = StateDict::load(golden_path("small_cnn.safetensors")).unwrap();
    let keys: Vec<&str> = sd.keys().collect();
    assert_eq!(keys.len(), 4);
    assert_eq!(sd.get("0.weight").unwrap().shape(), &[4, 1, 3, 3]);
    assert_eq!(sd.get("4.weight").unwrap().shape(), &[3, 64]);
    let model = small_cnn();
    model.load_state_dict(&sd, true).unwrap();
    model.eval();
    let g = golden("small_cnn_logits.json");
    assert_eq!(input().to_vec::<f64>(), data(&g, "x"));
    let logits = model.forward(&input());
    assert_eq!(logits.shape(), &[2, 3]);
    assert_close(&logits.to_vec::<f64>(), &data(&g, "logits"), 1e-5, "logits");
}

#[test]
fn the_checkpoint_is_what_manual_seed_0_builds() {
    let _serial = SEED_LOCK.lock();
    nabla_autograd::manual_seed(0);
    let fresh = small_cnn().state_dict().to_safetensors_bytes().unwrap();
    let committed = std::fs::read(golden_path("small_cnn.safetensors")).unwrap();
    assert!(fresh == committed, "same seed, same model, same bytes");
}
