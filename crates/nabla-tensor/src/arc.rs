//! Making an `Arc` whose value is written straight into its allocation.
//!
//! `Arc::new(value)` builds `value` first and then copies it into the allocation. On the
//! per-op path (a storage, a tensor and a graph node for every op) the copy reads the
//! value back right after it was written, with wider loads than the stores that wrote
//! it, which the CPU cannot forward from its store buffer: each such copy stalls until the
//! stores reach the cache (`perf annotate` put 5–10 % of `tiny_ops`' time on these
//! reloads). Allocating first and building the value in place has nothing to reload.

use std::mem::MaybeUninit;
use std::sync::Arc;

/// An `Arc<T>` whose value `init` writes into the fresh allocation (with
/// [`MaybeUninit::write`], returning the reference `write` gives back).
///
/// # Panics
/// If `init` returns a reference to anything but the slot it was given (the allocation
/// is then leaked, never read).
///
/// ```
/// use nabla_tensor::arc::new_in_place;
/// let a = new_in_place(|slot| slot.write([1u64, 2, 3]));
/// assert_eq!(*a, [1, 2, 3]);
/// ```
#[inline]
pub fn new_in_place<T>(init: impl FnOnce(&mut MaybeUninit<T>) -> &mut T) -> Arc<T> {
    // `Arc::get_mut` would prove uniqueness with a locked compare-and-swap; a handle made
    // on the line above needs no proof.
    let p = Arc::into_raw(Arc::<T>::new_uninit()).cast_mut();
    // SAFETY: the `Arc` was just made and turned into `p`: nothing else refers to its
    // value, so a unique reference to it (as `MaybeUninit`, which may be uninitialised) is
    // sound for as long as `init` runs.
    let written: *mut T = init(unsafe { &mut *p });
    assert!(std::ptr::eq(written, p.cast::<T>()), "internal: new_in_place's init must return its slot");
    // SAFETY: `init` returned a `&mut T` to the slot, which only initialised memory can be
    // (safe code gets one from `MaybeUninit::write`); `MaybeUninit<T>` has `T`'s size and
    // alignment, so the pointer `Arc::<MaybeUninit<T>>::into_raw` gave is one
    // `Arc::<T>::from_raw` takes.
    unsafe { Arc::from_raw(p.cast::<T>().cast_const()) }
}

/// [`new_in_place`] for an `Arc` without weak handles ([`triomphe::Arc`]): storages,
/// whose every drop then takes one locked instruction instead of two (a std `Arc`
/// decrements its weak count too when it frees its value).
///
/// # Panics
/// As [`new_in_place`].
///
/// ```
/// use nabla_tensor::arc::new_in_place_counted;
/// let a = new_in_place_counted(|slot| slot.write([1u64, 2, 3]));
/// assert_eq!((*a, triomphe::Arc::count(&a)), ([1, 2, 3], 1));
/// ```
#[inline]
pub fn new_in_place_counted<T>(init: impl FnOnce(&mut MaybeUninit<T>) -> &mut T) -> triomphe::Arc<T> {
    let mut slot = triomphe::UniqueArc::<T>::new_uninit();
    let p: *const MaybeUninit<T> = &*slot;
    let written: *mut T = init(&mut slot);
    assert!(std::ptr::eq(written, p.cast::<T>()), "internal: new_in_place's init must return its slot");
    // SAFETY: `init` returned a `&mut T` to the slot, which only initialised memory can be
    // (safe code gets one from `MaybeUninit::write`).
    unsafe { triomphe::UniqueArc::assume_init(slot) }.shareable()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_the_one_written_and_is_dropped_with_the_last_handle() {
        let marker = Arc::new(());
        let a = new_in_place(|slot| slot.write((String::from("nabla"), marker.clone())));
        let b = a.clone();
        assert_eq!(b.0, "nabla");
        assert_eq!(Arc::strong_count(&marker), 2);
        drop(a);
        assert_eq!(Arc::strong_count(&marker), 2);
        drop(b);
        assert_eq!(Arc::strong_count(&marker), 1);
    }

    #[test]
    #[should_panic(expected = "must return its slot")]
    fn returning_another_reference_is_refused() {
        let other: &'static mut u32 = Box::leak(Box::new(7));
        let _ = new_in_place(|_slot: &mut MaybeUninit<u32>| other);
    }
}
