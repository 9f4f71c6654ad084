//! The Module contract: PyTorch's names, shapes and counts, train/eval, Display,
//! user-defined modules, seeding.

mod common;

use common::{golden, SEED_LOCK};
use nabla_autograd::{DType, Tensor};
use nabla_nn::nn::{
    Activation, BatchNorm1d, CrossEntropyLoss, Flatten, Identity, LayerNorm, Linear, LogSoftmax, Mlp, Module, ReLU,
    Sequential, Sigmoid, Softmax, Tanh,
};
use nabla_nn::optim::{Optimizer, SGD};

fn names_and_shapes(m: &dyn Module) -> Vec<(String, Vec<usize>)> {
    m.named_parameters().into_iter().map(|(n, t)| (n, t.shape().to_vec())).collect()
}

fn golden_names(key: &str) -> Vec<(String, Vec<usize>)> {
    let g = golden("init_names.json");
    g[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let shape = e[1].as_array().unwrap().iter().map(|s| s.as_u64().unwrap() as usize).collect();
            (e[0].as_str().unwrap().to_string(), shape)
        })
        .collect()
}

#[test]
fn mlp_names_shapes_and_count_match_pytorch() {
    let _serial = SEED_LOCK.lock();
    let g = golden("init_names.json");
    let mlp = Mlp::new(&[784, 256, 128, 10], Activation::ReLU);
    assert_eq!(names_and_shapes(&mlp), golden_names("mlp"));
    assert_eq!(mlp.num_parameters() as u64, g["mlp_count"].as_u64().unwrap());
    // the same model written as a Sequential
    let seq = Sequential::new()
        .add(Linear::new(784, 256))
        .add(ReLU)
        .add(Linear::new(256, 128))
        .add(ReLU)
        .add(Linear::new(128, 10));
    assert_eq!(names_and_shapes(&seq), golden_names("mlp"));
    assert_eq!(seq.state_dict().keys().collect::<Vec<_>>(), mlp.state_dict().keys().collect::<Vec<_>>());
}

#[test]
fn a_training_step_of_the_mlp_lowers_the_loss() {
    let _serial = SEED_LOCK.lock();
    nabla_autograd::manual_seed(0);
    let mlp = Mlp::new(&[20, 32, 16, 4], Activation::ReLU);
    let x = Tensor::randn(&[16, 20]);
    let labels = Tensor::from_vec((0..16i64).map(|i| i % 4).collect(), &[16]);
    let ce = CrossEntropyLoss::new();
    let mut opt = SGD::new(mlp.parameters(), 0.1).momentum(0.9);
    let before = ce.forward(&mlp.forward(&x), &labels);
    opt.zero_grad();
    before.backward();
    assert!(mlp.parameters().iter().all(|p| p.grad().is_some()));
    opt.step();
    let after = ce.forward(&mlp.forward(&x), &labels).item();
    assert!(after < before.item(), "{after} !< {}", before.item());
}

#[test]
fn same_seed_same_model() {
    let _serial = SEED_LOCK.lock();
    nabla_autograd::manual_seed(42);
    let a = Mlp::new(&[8, 6, 3], Activation::Tanh);
    nabla_autograd::manual_seed(42);
    let b = Mlp::new(&[8, 6, 3], Activation::Tanh);
    let c = Mlp::new(&[8, 6, 3], Activation::Tanh);
    for ((pa, pb), pc) in a.parameters().iter().zip(b.parameters()).zip(c.parameters()) {
        assert_eq!(pa.to_vec::<f32>(), pb.to_vec::<f32>());
        assert_ne!(pa.to_vec::<f32>(), pc.to_vec::<f32>());
    }
}

#[test]
fn default_initialization_is_pytorchs() {
    let _serial = SEED_LOCK.lock();
    let fc = Linear::new(400, 300);
    let bound = 1.0 / 20.0;
    for p in fc.parameters() {
        let v = p.to_vec::<f32>();
        assert!(v.iter().all(|x| x.abs() <= bound));
        let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(max > 0.9 * bound, "U(±1/√fan_in) fills its range");
        assert!(p.requires_grad() && p.is_leaf());
    }
}

struct Block {
    features: Sequential,
    norm: BatchNorm1d,
    head: Linear,
}

impl Module for Block {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.head.forward(&self.norm.forward(&self.features.forward(x)))
    }
    fn named_children(&self) -> Vec<(String, &dyn Module)> {
        vec![("features".into(), &self.features), ("norm".into(), &self.norm), ("head".into(), &self.head)]
    }
}

fn block() -> Block {
    Block {
        features: Sequential::new().add(Linear::new(3, 4)).add(Tanh),
        norm: BatchNorm1d::new(4),
        head: Linear::new(4, 2).bias(false),
    }
}

#[test]
fn user_modules_get_dotted_names_buffers_and_modes() {
    let _serial = SEED_LOCK.lock();
    let m = block();
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["features.0.weight", "features.0.bias", "norm.weight", "norm.bias", "head.weight"]);
    let buffers: Vec<String> = m.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(buffers, ["norm.running_mean", "norm.running_var", "norm.num_batches_tracked"]);
    assert_eq!(m.state_dict().len(), 8);
    assert_eq!(m.children().len(), 3);

    assert!(m.is_training());
    m.eval();
    assert!(!m.is_training() && !m.norm.is_training() && !m.features.is_training());
    m.train();
    assert!(m.norm.is_training());

    let y = m.forward(&Tensor::randn(&[5, 3]));
    y.sum().backward();
    assert!(m.parameters().iter().all(|p| p.grad().is_some()));
    m.zero_grad();
    assert!(m.parameters().iter().all(|p| p.grad().is_none()));
}

#[test]
fn shared_parameters_are_listed_once() {
    let _serial = SEED_LOCK.lock();
    let fc = Linear::new(2, 2);
    let tied = Linear { weight: fc.weight.clone(), bias: None, in_features: 2, out_features: 2 };
    let m = Sequential::new().add(fc).add(tied);
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias"]);
    assert_eq!(m.state_dict().len(), 3, "the state dict keeps every name, as PyTorch's");
}

#[test]
fn display_prints_the_tree_like_pytorch() {
    let _serial = SEED_LOCK.lock();
    let m = Sequential::new()
        .add(Linear::new(4, 8))
        .add(ReLU)
        .add(Sequential::new().add(LayerNorm::new(&[8])).add(Sigmoid))
        .add(BatchNorm1d::new(8).momentum(None).affine(false))
        .add(Identity)
        .add(Flatten::new())
        .add(Softmax::new(-1))
        .add(LogSoftmax::new(1));
    let want = "Sequential(
  (0): Linear(in_features=4, out_features=8, bias=True)
  (1): ReLU()
  (2): Sequential(
    (0): LayerNorm((8,), eps=1e-05, elementwise_affine=True)
    (1): Sigmoid()
  )
  (3): BatchNorm1d(8, eps=1e-05, momentum=None, affine=False, track_running_stats=True)
  (4): Identity()
  (5): Flatten(start_dim=1, end_dim=-1)
  (6): Softmax(dim=-1)
  (7): LogSoftmax(dim=1)
)";
    assert_eq!(m.to_string(), want);
    let user = block();
    let shown = (&user as &dyn Module).to_string();
    assert!(shown.starts_with("Block(\n  (features): Sequential(\n    (0): Linear(in_features=3"), "{shown}");
    assert!(shown.contains("  (head): Linear(in_features=4, out_features=2, bias=False)\n)"), "{shown}");
    assert_eq!(
        Mlp::new(&[2, 3], Activation::ReLU).to_string(),
        "Mlp(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n)"
    );
}

#[test]
fn layers_are_send_and_sync_and_work_in_f64() {
    let _serial = SEED_LOCK.lock();
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Sequential>();
    assert_send_sync::<Mlp>();
    assert_send_sync::<BatchNorm1d>();
    assert_send_sync::<Box<dyn Module>>();
    let fc = Linear::new_with(3, 2, DType::F64);
    let x = Tensor::randn_with(&[4, 3], DType::F64).requires_grad_(true);
    nabla_autograd::autograd::gradcheck(|t| fc.forward(&t[0]).sum(), &[x]).unwrap();
    let ln = LayerNorm::new_with(&[3], DType::F64);
    let x = Tensor::randn_with(&[4, 3], DType::F64).requires_grad_(true);
    let w = Tensor::linspace(0.0, 1.0, 12).to_dtype(DType::F64).reshape(&[4, 3]);
    nabla_autograd::autograd::gradcheck(|t| (ln.forward(&t[0]) * &w).sum(), &[x]).unwrap();
}

#[test]
fn layer_norm_rejects_a_wrong_trailing_shape() {
    let _serial = SEED_LOCK.lock();
    let ln = LayerNorm::new(&[10]);
    let e = std::panic::catch_unwind(|| ln.forward(&Tensor::zeros(&[3, 5]))).unwrap_err();
    let msg = common::panic_message(e);
    assert!(
        msg.contains("Given normalized_shape=[10], expected input with shape [*, 10], but got input of size [3, 5]"),
        "{msg}"
    );
}
