//! Per-thread scratch buffers kept between kernel calls: im2col columns for convolutions,
//! row-major copies of transposed operands for matrix products.
//!
//! Keeping a buffer saves a fresh allocation, zero-fill and page faults per call: `cnn_step`
//! spent ~7 % in memset and ~5 % in the kernel's page clearing on per-split scratch vectors.
//! Each use has its own slot, so a matrix product run while a convolution holds its columns
//! (its weight gradient multiplies by the columns transposed) keeps a buffer of its own.

use crate::dtype::Float;
use std::cell::RefCell;

/// What a scratch buffer is for (one kept buffer per use, per element type, per thread).
#[derive(Clone, Copy)]
pub(crate) enum Use {
    /// A convolution's im2col columns.
    Columns = 0,
    /// A matrix product's transposed operand, copied row-major.
    Operand = 1,
}

type Slots = [(Vec<f32>, Vec<f64>); 2];

thread_local! {
    static SCRATCH: RefCell<Slots> = const { RefCell::new([(Vec::new(), Vec::new()), (Vec::new(), Vec::new())]) };
}

/// Runs `f` with this thread's scratch buffer for `what` (its contents are whatever the last
/// user left; grow it with [`grow`]). The buffer is taken out for the call, so a nested use
/// of the same slot (work stolen while a GEMM waits) just gets an empty one; afterwards the
/// larger of the two is kept.
pub(crate) fn with<T: Float, R>(what: Use, f: impl FnOnce(&mut Vec<T>) -> R) -> R {
    use std::any::Any;
    fn slot<T: Float>(s: &mut Slots, what: Use) -> Option<&mut Vec<T>> {
        let (a, b) = &mut s[what as usize];
        if let Some(v) = (a as &mut dyn Any).downcast_mut::<Vec<T>>() {
            return Some(v);
        }
        (b as &mut dyn Any).downcast_mut::<Vec<T>>()
    }
    let mut v: Vec<T> = SCRATCH
        .try_with(|s| slot::<T>(&mut s.borrow_mut(), what).map(std::mem::take))
        .ok()
        .flatten()
        .unwrap_or_default();
    let r = f(&mut v);
    let _ = SCRATCH.try_with(|s| {
        if let Some(kept) = slot::<T>(&mut s.borrow_mut(), what) {
            if kept.capacity() < v.capacity() {
                *kept = v;
            }
        }
    });
    r
}

/// The first `len` elements of `scratch`, growing it (zero-filled) only when it is shorter.
pub(crate) fn grow<T: Float>(scratch: &mut Vec<T>, len: usize) -> &mut [T] {
    if scratch.len() < len {
        scratch.resize(len, T::zero());
    }
    &mut scratch[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_use_keeps_its_own_buffer_and_a_nested_use_gets_an_empty_one() {
        // on a thread of its own, so that no other test's kernel has left buffers behind
        std::thread::spawn(|| {
            with::<f32, _>(Use::Columns, |c| {
                grow(c, 100).fill(1.0);
                with::<f32, _>(Use::Operand, |o| {
                    assert!(o.is_empty(), "the operand slot is not the columns' buffer");
                    grow(o, 10).fill(2.0);
                });
                with::<f32, _>(Use::Columns, |nested| assert!(nested.is_empty(), "taken by the outer call"));
            });
            with::<f32, _>(Use::Columns, |c| assert_eq!(&c[..], &[1.0; 100][..]));
            with::<f32, _>(Use::Operand, |o| assert_eq!(&o[..], &[2.0; 10][..]));
            with::<f64, _>(Use::Operand, |o| assert!(o.is_empty(), "f64 has a buffer of its own"));
        })
        .join()
        .unwrap();
    }
}
