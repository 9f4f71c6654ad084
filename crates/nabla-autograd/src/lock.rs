//! The lock around a tensor's metadata and a node's rule.
//!
//! Both are taken for nanoseconds on every op (a tensor's `grad_fn` is read by every op
//! that uses it; a node's rule is taken out when it runs), and almost never by two
//! threads at once. `std::sync::Mutex` costs two locked instructions per use (a
//! compare-and-swap to lock, a swap to unlock, which checks for sleepers); this lock
//! costs one (the unlock is a plain release store), about half the time uncontended
//! (~9 against ~18 ns on the bench machine). A waiting thread spins briefly, then yields
//! its time slice, then sleeps 50 µs between looks ([`Backoff`]), so a holder that is
//! descheduled (or a rule that runs long under the lock, as a rule kept for another pass
//! by `retain_graph` does) does not burn the other core.

use nabla_tensor::backoff::Backoff;
use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// A mutual-exclusion lock for short critical sections (see the module docs).
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through a guard, and at most one guard exists at a
// time (the `locked` flag, taken with acquire and released with release ordering), as
// with `std::sync::Mutex`, whose bounds these are.
unsafe impl<T: Send> Send for SpinLock<T> {}
unsafe impl<T: Send> Sync for SpinLock<T> {}

// As `std::sync::Mutex` is. The mutex's poisoning is what earned it these; nabla always
// looked through the poison (`into_inner`), so a value left by a panic was already seen
// as it was left, and tensors stay usable across `catch_unwind` as they were.
impl<T> std::panic::RefUnwindSafe for SpinLock<T> {}
impl<T> std::panic::UnwindSafe for SpinLock<T> {}

/// Access to a [`SpinLock`]'s value; unlocks when dropped, also when unwinding (the
/// value stays as the panicking code left it; nabla read a poisoned `Mutex` through
/// `into_inner`, which gave the same).
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> SpinLock<T> {
    pub(crate) const fn new(value: T) -> SpinLock<T> {
        SpinLock { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        if self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.lock_contended();
        }
        SpinGuard { lock: self }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut backoff = Backoff::new();
        loop {
            // read-only while held, so that waiters do not take the line from the holder
            if !self.locked.load(Ordering::Relaxed)
                && self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                return;
            }
            backoff.snooze();
        }
    }

    /// The value, through a unique borrow of the lock (no locking needed).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; the guard is borrowed mutably, so this is the only reference.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn threads_adding_under_the_lock_lose_no_update() {
        let counter = Arc::new(SpinLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        let mut g = c.lock();
                        // a read and a write apart: a lost update shows if two threads overlap
                        let v = *g;
                        std::hint::black_box(&v);
                        *g = v + 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*counter.lock(), 80_000);
    }

    #[test]
    fn a_waiter_gets_the_lock_after_a_long_hold_and_sees_what_the_holder_wrote() {
        let l = Arc::new(SpinLock::new(0u32));
        let mut g = l.lock();
        let l2 = l.clone();
        let waiter = std::thread::spawn(move || *l2.lock());
        // long enough for the waiter to spin, yield and sleep
        std::thread::sleep(std::time::Duration::from_millis(30));
        *g = 7;
        drop(g);
        assert_eq!(waiter.join().unwrap(), 7);
    }

    #[test]
    fn a_panic_under_the_lock_releases_it() {
        let l = Arc::new(SpinLock::new(vec![1]));
        let l2 = l.clone();
        let r = std::thread::spawn(move || {
            let mut g = l2.lock();
            g.push(2);
            panic!("inside the lock");
        })
        .join();
        assert!(r.is_err());
        assert_eq!(*l.lock(), vec![1, 2]);
    }
}
