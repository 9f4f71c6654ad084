//! Making an `Arc` whose value is written straight into its allocation, and [`Shared`],
//! a counted handle that frees its value without a locked instruction when it is the last.
//!
//! `Arc::new(value)` builds `value` first and then copies it into the allocation. On the
//! per-op path (a storage, a tensor and a graph node for every op) the copy reads the
//! value back right after it was written, with wider loads than the stores that wrote
//! it, which the CPU cannot forward from its store buffer: each such copy stalls until the
//! stores reach the cache (`perf annotate` put 5–10 % of `tiny_ops`' time on these
//! reloads). Allocating first and building the value in place has nothing to reload.

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicUsize, Ordering};
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

/// A shared handle with one reference count and no weak handles, whose last handle frees
/// the value without a locked instruction when it finds itself the only one.
///
/// A std `Arc` takes two locked instructions to free its value (its strong count, then its
/// weak count), and `triomphe::Arc` one. A `Shared` takes none when it is the last handle:
/// a count that reads 1 from the handle being dropped can only be its own (every other
/// handle would count, and without one no other thread can make one), so nothing else can
/// reach the value. Storages are made for nearly every op and most are freed by their only
/// handle, so this is a locked instruction less per op.
///
/// ```
/// use nabla_tensor::arc::Shared;
/// let a = Shared::new(vec![1, 2, 3]);
/// let b = a.clone();
/// assert_eq!((Shared::count(&a), &b[..]), (2, &[1, 2, 3][..]));
/// assert!(Shared::ptr_eq(&a, &b));
/// drop(a);
/// assert_eq!(Shared::count(&b), 1);
/// ```
pub struct Shared<T> {
    ptr: NonNull<SharedInner<T>>,
    // owns a `SharedInner<T>` (for drop check and variance)
    _owns: PhantomData<SharedInner<T>>,
}

// `repr(C)`, so that `SharedInner<MaybeUninit<T>>` (made) and `SharedInner<T>` (used) are
// laid out alike
#[repr(C)]
struct SharedInner<T> {
    count: AtomicUsize,
    value: T,
}

// SAFETY: as `Arc<T>`: the value is shared between threads (`Sync`) and dropped by
// whichever thread holds the last handle (`Send`).
unsafe impl<T: Send + Sync> Send for Shared<T> {}
unsafe impl<T: Send + Sync> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// A handle on `value`, the only one.
    ///
    /// ```
    /// let s = nabla_tensor::arc::Shared::new(5u8);
    /// assert_eq!(*s, 5);
    /// ```
    pub fn new(value: T) -> Shared<T> {
        Shared::new_in_place(|slot| slot.write(value))
    }

    /// A handle on the value `init` writes into the fresh allocation, as [`new_in_place`].
    ///
    /// # Panics
    /// As [`new_in_place`].
    ///
    /// ```
    /// use nabla_tensor::arc::Shared;
    /// let a = Shared::new_in_place(|slot| slot.write([1u64, 2, 3]));
    /// assert_eq!((*a, Shared::count(&a)), ([1, 2, 3], 1));
    /// ```
    #[inline]
    pub fn new_in_place(init: impl FnOnce(&mut MaybeUninit<T>) -> &mut T) -> Shared<T> {
        let mut inner = Box::<SharedInner<MaybeUninit<T>>>::new_uninit();
        let p = inner.as_mut_ptr();
        // SAFETY: `p` points into the allocation just made, which nothing else refers to;
        // the count is written through a raw pointer before any reference to it exists.
        unsafe { std::ptr::addr_of_mut!((*p).count).write(AtomicUsize::new(1)) };
        // SAFETY: as above; `MaybeUninit` may be uninitialised, so a unique reference to
        // the value's slot is sound while `init` runs.
        let slot = unsafe { &mut (*p).value };
        let slot_ptr: *const MaybeUninit<T> = slot;
        let written: *mut T = init(slot);
        assert!(std::ptr::eq(written, slot_ptr.cast::<T>()), "internal: new_in_place's init must return its slot");
        // SAFETY: both fields are now written (`init` returned a `&mut T` to the slot,
        // which only initialised memory can be), and `SharedInner<MaybeUninit<T>>` has
        // the layout of `SharedInner<T>` (`MaybeUninit<T>` has `T`'s).
        let ptr = unsafe { NonNull::new_unchecked(Box::into_raw(inner).cast::<SharedInner<T>>()) };
        Shared { ptr, _owns: PhantomData }
    }

    #[inline]
    fn inner(&self) -> &SharedInner<T> {
        // SAFETY: the allocation lives while any handle does, and this is one.
        unsafe { self.ptr.as_ref() }
    }

    /// How many handles there are (another thread may change it right after).
    #[inline]
    pub fn count(this: &Shared<T>) -> usize {
        this.inner().count.load(Ordering::Acquire)
    }

    /// Whether the two handles are on the same value.
    #[inline]
    pub fn ptr_eq(a: &Shared<T>, b: &Shared<T>) -> bool {
        a.ptr == b.ptr
    }

    #[cold]
    #[inline(never)]
    fn too_many() -> ! {
        // as `Arc`: a count this high means leaked handles, and wrapping would free the
        // value under the others
        std::process::abort()
    }
}

impl<T> Clone for Shared<T> {
    #[inline]
    fn clone(&self) -> Shared<T> {
        // Relaxed, as `Arc`: a new handle is made from an existing one, which keeps the
        // value alive, so nothing needs ordering here.
        if self.inner().count.fetch_add(1, Ordering::Relaxed) > isize::MAX as usize {
            Shared::<T>::too_many();
        }
        Shared { ptr: self.ptr, _owns: PhantomData }
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.inner().value
    }
}

impl<T> Drop for Shared<T> {
    #[inline]
    fn drop(&mut self) {
        let count = &self.inner().count;
        // A count of 1 read by this handle is its own: no other handle exists, and none can
        // be made without one, so this handle frees the value without a locked instruction.
        // The acquire load orders the other handles' uses (each dropped with a release
        // decrement) before the free, as the fence after the last decrement does.
        if count.load(Ordering::Acquire) != 1 {
            if count.fetch_sub(1, Ordering::Release) != 1 {
                return;
            }
            fence(Ordering::Acquire);
        }
        // SAFETY: this was the last handle; the allocation came from `Box::into_raw`.
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
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
    fn a_shared_value_is_dropped_once_by_the_last_handle_on_any_thread() {
        let marker = Arc::new(());
        for threads in [1, 2, 4] {
            let a = Shared::new((7u32, marker.clone()));
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let b = a.clone();
                    std::thread::spawn(move || {
                        let c = b.clone();
                        assert_eq!(c.0, 7);
                        assert!(Shared::count(&b) >= 2);
                    })
                })
                .collect();
            assert_eq!(Arc::strong_count(&marker), 2, "the value lives while `a` does");
            for h in handles {
                h.join().expect("thread");
            }
            assert_eq!(Shared::count(&a), 1);
            drop(a);
            assert_eq!(Arc::strong_count(&marker), 1, "and is dropped with the last handle");
        }
        // the last handle on another thread frees it there
        let a = Shared::new(marker.clone());
        let b = a.clone();
        drop(a);
        std::thread::spawn(move || drop(b)).join().expect("thread");
        assert_eq!(Arc::strong_count(&marker), 1);
    }

    #[test]
    #[should_panic(expected = "must return its slot")]
    fn a_shared_slot_must_be_the_one_returned() {
        let other: &'static mut u32 = Box::leak(Box::new(7));
        let _ = Shared::new_in_place(|_slot: &mut MaybeUninit<u32>| other);
    }

    #[test]
    #[should_panic(expected = "must return its slot")]
    fn returning_another_reference_is_refused() {
        let other: &'static mut u32 = Box::leak(Box::new(7));
        let _ = new_in_place(|_slot: &mut MaybeUninit<u32>| other);
    }
}
