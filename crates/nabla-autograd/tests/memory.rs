//! Graphs are freed when their tensors drop. This binary holds one test only, so that no
//! other test's graph is alive while the counters are read.

use nabla_autograd::autograd::live_nodes;
use nabla_autograd::Tensor;
use nabla_tensor::storage::live_storages;

fn leaf(v: &[f64]) -> Tensor {
    Tensor::from_vec(v.to_vec(), &[v.len()]).requires_grad_(true)
}

#[test]
fn a_graph_dropped_without_backward_is_freed() {
    let before = live_nodes();
    let storages_before = live_storages();
    {
        let x = leaf(&[1.0]);
        let mut h = x.clone();
        for _ in 0..1000 {
            h = (&h * 1.5).tanh();
        }
        assert!(live_nodes() >= before + 2000);
    }
    assert_eq!(live_nodes(), before, "nodes leaked");
    assert_eq!(live_storages(), storages_before, "storages leaked");
    // A leaf keeps one `AccumulateGrad` node for all its graphs (create_graph ones too)
    // and frees it with itself.
    {
        let x = leaf(&[2.0]);
        for _ in 0..3 {
            let y = (&x * &x).sum();
            y.backward_with(&nabla_autograd::autograd::BackwardOptions { create_graph: true, ..Default::default() });
            let g = x.grad().unwrap();
            assert_eq!(g.to_vec::<f64>(), vec![4.0]);
            assert!(g.requires_grad() && live_nodes() > before + 1, "the gradient has a graph");
            // (as in PyTorch, that graph saved `x`: clearing `.grad` breaks the cycle)
            x.zero_grad();
            drop((g, y));
            assert_eq!(live_nodes(), before + 1, "one AccumulateGrad node for the leaf");
        }
    }
    assert_eq!(live_nodes(), before, "the leaf's AccumulateGrad node leaked");
    assert_eq!(live_storages(), storages_before, "storages leaked");
}
