//! The counted handles of storages ([`Shared`]) and tensors ([`Counted`]): their values are
//! written straight into their allocations, and they free with fewer locked instructions
//! than `Arc`.
//!
//! `Arc::new(value)` builds `value` first and then copies it into the allocation. On the
//! per-op path (a storage, a tensor and a graph node for every op) the copy reads the
//! value back right after it was written, with wider loads than the stores that wrote
//! it, which the CPU cannot forward from its store buffer: each such copy stalls until the
//! stores reach the cache (`perf annotate` put 5–10 % of `tiny_ops`' time on these
//! reloads). Allocating first and building the value in place has nothing to reload.

use std::alloc::Layout;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};

/// Counts one more handle in `count`, made from a handle already counted there.
///
/// Relaxed, as `Arc`'s clone: the handle it is made from keeps the value alive, so nothing
/// needs ordering. A count past `isize::MAX` means leaked handles, and wrapping would free
/// the value under the others: it aborts, as `Arc` does.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let c = AtomicUsize::new(1);
/// nabla_tensor::arc::count_up(&c);
/// assert_eq!(c.load(Ordering::Relaxed), 2);
/// ```
#[inline]
pub fn count_up(count: &AtomicUsize) {
    if count.fetch_add(1, Ordering::Relaxed) > isize::MAX as usize {
        std::process::abort();
    }
}

/// Counts one handle fewer in `count`; `true` when it was the last, and the caller frees.
///
/// A count that reads 1 from the handle going is that handle's own, so it is the last
/// without a locked decrement, *provided* no handle can be made except from one counted
/// here (no weak handle can upgrade into this count). The acquire load orders the other
/// handles' uses (each gone with a release decrement) before the free, as the fence after
/// the last decrement does.
///
/// ```
/// use std::sync::atomic::AtomicUsize;
/// let c = AtomicUsize::new(2);
/// assert!(!nabla_tensor::arc::count_down_last(&c));
/// assert!(nabla_tensor::arc::count_down_last(&c));
/// ```
#[inline]
pub fn count_down_last(count: &AtomicUsize) -> bool {
    if count.load(Ordering::Acquire) != 1 {
        if count.fetch_sub(1, Ordering::Release) != 1 {
            return false;
        }
        fence(Ordering::Acquire);
    }
    true
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

    /// A handle on the value `init` writes into the fresh allocation (with
    /// [`MaybeUninit::write`], returning the reference `write` gives back).
    ///
    /// # Panics
    /// If `init` returns a reference to anything but the slot it was given (the allocation
    /// is then leaked, never read).
    ///
    /// ```
    /// use nabla_tensor::arc::Shared;
    /// let a = Shared::new_in_place(|slot| slot.write([1u64, 2, 3]));
    /// assert_eq!((*a, Shared::count(&a)), ([1, 2, 3], 1));
    /// ```
    #[inline]
    pub fn new_in_place(init: impl FnOnce(&mut MaybeUninit<T>) -> &mut T) -> Shared<T> {
        let p = crate::slab::alloc(Layout::new::<SharedInner<T>>()).cast::<SharedInner<MaybeUninit<T>>>().as_ptr();
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
        let ptr = unsafe { NonNull::new_unchecked(p.cast::<SharedInner<T>>()) };
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
}

impl<T> Clone for Shared<T> {
    #[inline]
    fn clone(&self) -> Shared<T> {
        count_up(&self.inner().count);
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
        // no weak handles: a count of 1 read here is this handle's own
        if !count_down_last(&self.inner().count) {
            return;
        }
        // SAFETY: this was the last handle; the allocation came from `slab::alloc` with
        // this layout.
        unsafe {
            std::ptr::drop_in_place(self.ptr.as_ptr());
            crate::slab::dealloc(self.ptr.cast(), Layout::new::<SharedInner<T>>());
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// A shared handle with weak handles ([`CountedWeak`]), as `Arc`, that costs fewer locked
/// instructions where tensors spend them: a weak handle made with the value
/// ([`Counted::new_cyclic_in_place`]) is counted from the start instead of by a locked
/// increment, and a weak count that reads 1 from its own holder is released without a
/// locked decrement. A std `Arc` takes a locked instruction for each.
///
/// A tensor is freed with one locked instruction instead of two when no weak handle is
/// left (a std `Arc` always decrements its weak count too), and the weak handle its graph
/// node keeps is made for nothing and freed for nothing once the tensor is gone.
///
/// A value that never had a weak handle (made by [`Counted::new_in_place`] and never
/// [`downgrade`](Counted::downgrade)d) is freed by its last handle without any locked
/// instruction, as a [`Shared`] is, and [`Counted::get_mut`] reaches it without a lock:
/// the gradients a backward pass computes are such values.
///
/// ```
/// use nabla_tensor::arc::Counted;
/// let a = Counted::new_in_place(|slot| slot.write(String::from("x")));
/// let w = Counted::downgrade(&a);
/// assert_eq!(w.upgrade().as_deref().map(String::as_str), Some("x"));
/// drop(a);
/// assert!(w.upgrade().is_none());
/// ```
pub struct Counted<T> {
    ptr: NonNull<CountedInner<T>>,
    _owns: PhantomData<CountedInner<T>>,
}

/// A weak handle on a [`Counted`] value: it keeps the allocation, not the value, and
/// [`upgrade`](CountedWeak::upgrade)s to a handle while the value lives.
///
/// ```
/// let w = nabla_tensor::arc::CountedWeak::<u8>::new();
/// assert!(w.upgrade().is_none());
/// ```
pub struct CountedWeak<T> {
    // `None` for a handle on nothing (`CountedWeak::new`)
    ptr: Option<NonNull<CountedInner<T>>>,
}

// `repr(C)`, so that `CountedInner<MaybeUninit<T>>` (made) and `CountedInner<T>` (used) are
// laid out alike
#[repr(C)]
struct CountedInner<T> {
    strong: AtomicUsize,
    // the weak handles, plus one for all the strong ones together (as `Arc`'s)
    weak: AtomicUsize,
    // whether a weak handle was ever made; set before the first is, never cleared
    weak_made: AtomicBool,
    value: T,
}

// SAFETY: as `Arc<T>` and `Weak<T>`.
unsafe impl<T: Send + Sync> Send for Counted<T> {}
unsafe impl<T: Send + Sync> Sync for Counted<T> {}
unsafe impl<T: Send + Sync> Send for CountedWeak<T> {}
unsafe impl<T: Send + Sync> Sync for CountedWeak<T> {}

impl<T> Counted<T> {
    /// A handle on the value `init` writes into the fresh allocation, as
    /// [`Shared::new_in_place`]. No weak handle is made (until one is asked for), so the
    /// last handle frees the value without a locked instruction.
    ///
    /// # Panics
    /// As [`Shared::new_in_place`].
    #[inline]
    pub fn new_in_place(init: impl FnOnce(&mut MaybeUninit<T>) -> &mut T) -> Counted<T> {
        let ptr = Counted::alloc(1, false);
        // SAFETY: the allocation was just made and nothing else refers to it.
        let slot = unsafe { Counted::slot(ptr) };
        let slot_ptr: *const MaybeUninit<T> = slot;
        let written: *mut T = init(slot);
        assert!(std::ptr::eq(written, slot_ptr.cast::<T>()), "internal: new_in_place's init must return its slot");
        // SAFETY: the value is written (`init` returned a `&mut T` to its slot); the first
        // strong handle may exist. No other handle does, so no ordering is needed beyond
        // what hands this one on.
        unsafe { ptr.as_ref() }.strong.store(1, Ordering::Relaxed);
        Counted { ptr, _owns: PhantomData }
    }

    /// A fresh allocation with no strong handle (the value unwritten), `weak` weak counts
    /// and the given `weak_made`.
    #[inline]
    fn alloc(weak: usize, weak_made: bool) -> NonNull<CountedInner<T>> {
        let p = crate::slab::alloc(Layout::new::<CountedInner<T>>()).cast::<CountedInner<MaybeUninit<T>>>().as_ptr();
        // SAFETY: `p` points into the allocation just made, which nothing else refers to;
        // the counts are written through raw pointers before any reference to them exists.
        unsafe {
            std::ptr::addr_of_mut!((*p).strong).write(AtomicUsize::new(0));
            std::ptr::addr_of_mut!((*p).weak).write(AtomicUsize::new(weak));
            std::ptr::addr_of_mut!((*p).weak_made).write(AtomicBool::new(weak_made));
        }
        // SAFETY: `p` came from a `NonNull`.
        unsafe { NonNull::new_unchecked(p.cast::<CountedInner<T>>()) }
    }

    /// The unwritten value's slot in an allocation from [`Counted::alloc`].
    ///
    /// # Safety
    /// No strong handle on the allocation exists yet, and the slot is borrowed once.
    #[inline]
    unsafe fn slot<'a>(ptr: NonNull<CountedInner<T>>) -> &'a mut MaybeUninit<T> {
        // SAFETY: the caller's promise: no one else reaches the value (weak handles do not
        // while the strong count is 0).
        unsafe { &mut *std::ptr::addr_of_mut!((*ptr.as_ptr().cast::<CountedInner<MaybeUninit<T>>>()).value) }
    }

    /// A handle on the value `init` writes into the fresh allocation, given a weak handle on
    /// it to keep (in the value or elsewhere), counted from the start. Until this returns,
    /// the weak handle does not upgrade.
    ///
    /// # Panics
    /// As [`Shared::new_in_place`].
    ///
    /// ```
    /// use nabla_tensor::arc::{Counted, CountedWeak};
    /// struct Node { me: CountedWeak<Node>, n: u32 }
    /// let a = Counted::new_cyclic_in_place(|me, slot| {
    ///     assert!(me.upgrade().is_none());
    ///     slot.write(Node { me, n: 3 })
    /// });
    /// assert_eq!(a.me.upgrade().map(|b| b.n), Some(3));
    /// ```
    #[inline]
    pub fn new_cyclic_in_place(init: impl FnOnce(CountedWeak<T>, &mut MaybeUninit<T>) -> &mut T) -> Counted<T> {
        // No strong handle yet (so the weak one cannot upgrade), one weak handle given to
        // `init` and one for the strong handles to come.
        let ptr = Counted::alloc(2, true);
        let weak = CountedWeak { ptr: Some(ptr) };
        // SAFETY: the allocation was just made; the only other handle is the weak one,
        // which does not reach the value while the strong count is 0.
        let slot = unsafe { Counted::slot(ptr) };
        let slot_ptr: *const MaybeUninit<T> = slot;
        let written: *mut T = init(weak, slot);
        assert!(std::ptr::eq(written, slot_ptr.cast::<T>()), "internal: new_in_place's init must return its slot");
        // SAFETY: the value is written (`init` returned a `&mut T` to its slot), so the first
        // strong handle may exist; release, so that an upgrade (acquire) sees the value.
        unsafe { ptr.as_ref() }.strong.store(1, Ordering::Release);
        Counted { ptr, _owns: PhantomData }
    }

    #[inline]
    fn inner(&self) -> &CountedInner<T> {
        // SAFETY: the allocation lives while any handle does, and this is one.
        unsafe { self.ptr.as_ref() }
    }

    /// A weak handle on the value.
    #[inline]
    pub fn downgrade(this: &Counted<T>) -> CountedWeak<T> {
        let inner = this.inner();
        // Before the count: a thread that later finds itself the last strong handle sees
        // the flag (it synchronises with this handle's release decrement, or this handle
        // is still counted and it is not the last).
        if !inner.weak_made.load(Ordering::Relaxed) {
            inner.weak_made.store(true, Ordering::Relaxed);
        }
        count_up(&inner.weak);
        CountedWeak { ptr: Some(this.ptr) }
    }

    /// How many strong handles there are (another thread may change it right after).
    #[inline]
    pub fn strong_count(this: &Counted<T>) -> usize {
        this.inner().strong.load(Ordering::Acquire)
    }

    /// Whether the two handles are on the same value.
    #[inline]
    pub fn ptr_eq(a: &Counted<T>, b: &Counted<T>) -> bool {
        a.ptr == b.ptr
    }

    /// Whether this is the only handle of any kind there is or can be: the only strong
    /// handle, on a value that never had a weak handle. Then nothing else reaches the
    /// value, and no other handle can be made but from this one.
    #[inline]
    fn is_alone(this: &Counted<T>) -> bool {
        let inner = this.inner();
        // Acquire: every other strong handle is gone with a release decrement (this load
        // reads the last of them), so their uses, and their `downgrade`s' flags, are seen.
        inner.strong.load(Ordering::Acquire) == 1 && !inner.weak_made.load(Ordering::Relaxed)
    }

    /// The value, mutably, if this is the only handle there is or can be (no other strong
    /// handle, and no weak handle was ever made); otherwise `None`.
    ///
    /// ```
    /// use nabla_tensor::arc::Counted;
    /// let mut a = Counted::new_in_place(|slot| slot.write(1u32));
    /// *Counted::get_mut(&mut a).unwrap() += 1;
    /// let b = a.clone();
    /// assert!(Counted::get_mut(&mut a).is_none());
    /// drop(b);
    /// assert_eq!(Counted::get_mut(&mut a).copied(), Some(2));
    /// drop(Counted::downgrade(&a)); // once a weak handle was made: never
    /// assert!(Counted::get_mut(&mut a).is_none());
    /// ```
    #[inline]
    pub fn get_mut(this: &mut Counted<T>) -> Option<&mut T> {
        // SAFETY: alone (`is_alone`), and `this` is borrowed uniquely, so no other reference
        // to the value exists or can be made meanwhile.
        Counted::is_alone(this).then(|| unsafe { &mut (*this.ptr.as_ptr()).value })
    }
}

/// Releases one weak count of the allocation at `ptr`, freeing it with the last. A count
/// that reads 1 from its own holder is the last: the strong handles are gone (they hold one
/// between them), no other weak handle exists, and none can be made (from nothing, or by
/// upgrading once the strong count is 0), so no locked instruction is needed.
///
/// # Safety
/// The caller holds one weak count of a live allocation from `Counted`, and gives it up;
/// the value is already dropped or was never written.
#[inline]
unsafe fn release_weak<T>(ptr: NonNull<CountedInner<T>>) {
    // SAFETY: the caller's count keeps the allocation alive.
    if !count_down_last(unsafe { &ptr.as_ref().weak }) {
        return;
    }
    // SAFETY: the last count; the allocation came from `slab::alloc` with this layout, and
    // the value is dropped (the counts need no dropping).
    unsafe { crate::slab::dealloc(ptr.cast(), Layout::new::<CountedInner<T>>()) };
}

impl<T> Clone for Counted<T> {
    #[inline]
    fn clone(&self) -> Counted<T> {
        count_up(&self.inner().strong);
        Counted { ptr: self.ptr, _owns: PhantomData }
    }
}

impl<T> Deref for Counted<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.inner().value
    }
}

impl<T> Drop for Counted<T> {
    #[inline]
    fn drop(&mut self) {
        if Counted::is_alone(self) {
            // No other handle, and none can be made (no weak one to upgrade): no locked
            // instruction. The weak count is the strong handles' 1.
            // SAFETY: the value is reached by no one else; it is dropped here, once, and the
            // allocation (from `slab::alloc`, with this layout) freed.
            unsafe {
                std::ptr::drop_in_place(std::ptr::addr_of_mut!((*self.ptr.as_ptr()).value));
                crate::slab::dealloc(self.ptr.cast(), Layout::new::<CountedInner<T>>());
            }
            return;
        }
        // As `Arc`: release, so that this handle's uses come before the drop of the value;
        // the acquire fence, so that the drop comes after every other handle's uses.
        if self.inner().strong.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        // SAFETY: the last strong handle: no one reaches the value any more (upgrades fail
        // at 0), so it is dropped here, once; then the strong handles' weak count goes.
        unsafe {
            std::ptr::drop_in_place(std::ptr::addr_of_mut!((*self.ptr.as_ptr()).value));
            release_weak(self.ptr);
        }
    }
}

impl<T> CountedWeak<T> {
    /// A weak handle on nothing, which never upgrades.
    pub const fn new() -> CountedWeak<T> {
        CountedWeak { ptr: None }
    }

    /// A strong handle, while the value lives.
    #[inline]
    pub fn upgrade(&self) -> Option<Counted<T>> {
        let ptr = self.ptr?;
        // SAFETY: this weak handle keeps the allocation alive.
        let strong = unsafe { &ptr.as_ref().strong };
        let mut n = strong.load(Ordering::Relaxed);
        loop {
            if n == 0 {
                return None;
            }
            if n > isize::MAX as usize {
                std::process::abort();
            }
            // acquire, so that the value (written or last changed by other handles) is seen
            match strong.compare_exchange_weak(n, n + 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Some(Counted { ptr, _owns: PhantomData }),
                Err(seen) => n = seen,
            }
        }
    }
}

impl<T> Default for CountedWeak<T> {
    fn default() -> CountedWeak<T> {
        CountedWeak::new()
    }
}

impl<T> Clone for CountedWeak<T> {
    #[inline]
    fn clone(&self) -> CountedWeak<T> {
        if let Some(ptr) = self.ptr {
            // SAFETY: this weak handle keeps the allocation alive.
            count_up(unsafe { &ptr.as_ref().weak });
        }
        CountedWeak { ptr: self.ptr }
    }
}

impl<T> Drop for CountedWeak<T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(ptr) = self.ptr {
            // SAFETY: this handle's weak count, given up; the value is the strong
            // handles' to drop (if the count is the last, they are gone and dropped it).
            unsafe { release_weak(ptr) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
    fn a_counted_value_is_dropped_by_its_last_strong_handle_and_freed_by_its_last_handle() {
        struct Cyclic {
            me: CountedWeak<Cyclic>,
            _marker: Arc<()>,
        }
        let marker = Arc::new(());
        // weak handles outliving the value, on other threads too
        let a = Counted::new_cyclic_in_place(|me, slot| {
            assert!(me.upgrade().is_none(), "no upgrade before the value is written");
            slot.write(Cyclic { me, _marker: marker.clone() })
        });
        assert!(Counted::ptr_eq(&a.me.upgrade().expect("alive"), &a));
        assert_eq!((Counted::strong_count(&a), Arc::strong_count(&marker)), (1, 2));
        let w = Counted::downgrade(&a);
        let b = w.upgrade().expect("alive");
        assert!(Counted::ptr_eq(&a, &b) && Counted::strong_count(&a) == 2);
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (w, b) = (w.clone(), b.clone());
                std::thread::spawn(move || {
                    let c = w.upgrade().expect("b keeps it alive");
                    drop(b);
                    drop(c);
                    w
                })
            })
            .collect();
        let weaks: Vec<CountedWeak<_>> = threads.into_iter().map(|t| t.join().expect("thread")).collect();
        drop((a, b));
        assert_eq!(Arc::strong_count(&marker), 1, "dropped with the last strong handle");
        assert!(w.upgrade().is_none() && weaks.iter().all(|w| w.upgrade().is_none()));
        drop(weaks);
        drop(w);
        // a value with no weak handle, and a handle on nothing
        let a = Counted::new_in_place(|slot| slot.write(marker.clone()));
        std::thread::spawn(move || drop(a)).join().expect("thread");
        assert_eq!(Arc::strong_count(&marker), 1);
        assert!(CountedWeak::<u8>::new().upgrade().is_none());
    }

    #[test]
    fn a_value_never_downgraded_is_freed_by_its_last_handle_and_one_downgraded_waits_for_weak_ones() {
        let marker = Arc::new(());
        // never downgraded: the last handle, on whichever thread, frees it (the lock-free
        // path), once
        for threads in [1, 2, 4] {
            let a = Counted::new_in_place(|slot| slot.write(marker.clone()));
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let b = a.clone();
                    std::thread::spawn(move || {
                        let c = b.clone();
                        assert!(Counted::strong_count(&c) >= 2);
                    })
                })
                .collect();
            drop(a);
            handles.into_iter().for_each(|h| h.join().expect("thread"));
            assert_eq!(Arc::strong_count(&marker), 1, "dropped once, by the last handle");
        }
        // downgraded on another thread while this handle lives: the weak handle outlives the
        // value, sees it while it lives, and does not once the last strong handle is gone
        let mut a = Counted::new_in_place(|slot| slot.write(marker.clone()));
        assert!(Counted::get_mut(&mut a).is_some());
        let b = a.clone();
        let w = std::thread::spawn(move || Counted::downgrade(&b)).join().expect("thread");
        assert!(Counted::get_mut(&mut a).is_none(), "a weak handle was made");
        assert!(w.upgrade().is_some());
        drop(a);
        assert_eq!(Arc::strong_count(&marker), 1);
        assert!(w.upgrade().is_none());
        drop(w);
        // made with a weak handle: never alone, even once it is gone
        let mut c = Counted::new_cyclic_in_place(|w, slot| {
            drop(w);
            slot.write(5u8)
        });
        assert!(Counted::get_mut(&mut c).is_none());
    }

    #[test]
    #[should_panic(expected = "must return its slot")]
    fn a_shared_slot_must_be_the_one_returned() {
        let other: &'static mut u32 = Box::leak(Box::new(7));
        let _ = Shared::new_in_place(|_slot: &mut MaybeUninit<u32>| other);
    }
}
