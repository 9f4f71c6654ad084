//! After the first step (which allocates the optimizer state), steps allocate nothing:
//! counted by a global allocator, on this thread only.

use nabla_autograd::Tensor;
use nabla_nn::nn::{Linear, Module, ReLU, Sequential};
use nabla_nn::optim::{Adagrad, Adam, AdamW, Optimizer, RMSprop, SGD};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.try_with(|c| c.get()).unwrap_or(false) {
            let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(|a| a.get())
}

#[test]
fn steps_after_the_first_allocate_nothing() {
    let model = Sequential::new().add(Linear::new(8, 16)).add(ReLU).add(Linear::new(16, 4));
    let x = Tensor::randn(&[5, 8]);
    let make: Vec<(&str, Box<dyn Fn() -> Box<dyn Optimizer>>)> = vec![
        (
            "SGD",
            Box::new(|| Box::new(SGD::new(model.parameters(), 0.01).momentum(0.9).nesterov(true).weight_decay(1e-4))),
        ),
        ("Adam", Box::new(|| Box::new(Adam::new(model.parameters(), 1e-3).amsgrad(true).weight_decay(0.1)))),
        ("AdamW", Box::new(|| Box::new(AdamW::new(model.parameters(), 1e-3)))),
        ("RMSprop", Box::new(|| Box::new(RMSprop::new(model.parameters(), 1e-3).momentum(0.9).centered(true)))),
        ("Adagrad", Box::new(|| Box::new(Adagrad::new(model.parameters(), 1e-2)))),
    ];
    for (name, make) in make {
        let mut opt = make();
        opt.zero_grad();
        model.forward(&x).pow(2).mean().backward();
        assert!(
            allocations_during(|| opt.step()) > 0,
            "{name}: the first step allocates the state (the counter works)"
        );
        let before = model.parameters()[0].to_vec::<f32>();
        for _ in 0..3 {
            assert_eq!(allocations_during(|| opt.step()), 0, "{name}");
        }
        assert_ne!(model.parameters()[0].to_vec::<f32>(), before, "{name} stepped");
    }
}

/// A parameter large enough to be updated in parts on both threads: still no allocation
/// per step after the first.
#[test]
fn sgd_steps_split_across_threads_allocate_nothing() {
    let p = Tensor::randn(&[1 << 17]).requires_grad_(true);
    let mut opt = SGD::new(vec![p.clone()], 0.01).momentum(0.9);
    p.set_grad(Some(Tensor::ones(&[1 << 17])));
    opt.step();
    let before = p.to_vec::<f32>();
    for _ in 0..3 {
        assert_eq!(allocations_during(|| opt.step()), 0);
    }
    assert_ne!(p.to_vec::<f32>(), before);
}
