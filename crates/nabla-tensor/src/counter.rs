//! Process-wide counts of live objects (storages, graph nodes) that cost no atomic
//! read-modify-write on the hot path.
//!
//! Every tensor op makes and frees storages and nodes; a process-wide `fetch_add` per
//! object is a locked instruction (~20 cycles, more when two threads share the line), which
//! on one-element tensors is a measurable part of an op. Instead each thread counts in
//! slots of its own, which only it writes (a plain load and store), and a reader sums every
//! thread's slots. A thread's counts are folded into a shared total when it exits, so
//! objects made on one thread and freed on another are counted right.

use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

const KINDS: usize = 2;

type Slots = [AtomicIsize; KINDS];

/// Every live thread's slots.
static THREADS: Mutex<Vec<Arc<Slots>>> = Mutex::new(Vec::new());
/// Counts of threads that have exited (and of updates made while a thread was exiting).
static RETIRED: Slots = [const { AtomicIsize::new(0) }; KINDS];

fn threads() -> MutexGuard<'static, Vec<Arc<Slots>>> {
    THREADS.lock().unwrap_or_else(|e| e.into_inner())
}

struct ThreadSlots(Arc<Slots>);

impl ThreadSlots {
    fn register() -> ThreadSlots {
        let slots: Arc<Slots> = Arc::new([const { AtomicIsize::new(0) }; KINDS]);
        threads().push(slots.clone());
        ThreadSlots(slots)
    }
}

impl Drop for ThreadSlots {
    fn drop(&mut self) {
        // under the registry's lock, so that a reader sees the counts in exactly one place
        let mut all = threads();
        all.retain(|s| !Arc::ptr_eq(s, &self.0));
        for (r, s) in RETIRED.iter().zip(self.0.iter()) {
            r.fetch_add(s.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

thread_local! {
    static MINE: ThreadSlots = ThreadSlots::register();
}

/// A count of live objects of one kind, kept per thread (see the module's documentation).
///
/// ```
/// use nabla_tensor::counter::STORAGES;
/// let before = STORAGES.get();
/// let s = nabla_tensor::Storage::new(nabla_tensor::Buffer::F32(vec![1.0]));
/// assert!(STORAGES.get() >= before + 1);
/// drop(s);
/// ```
pub struct LiveCounter {
    kind: usize,
}

/// Live [`crate::Storage`]s.
pub static STORAGES: LiveCounter = LiveCounter { kind: 0 };

/// Live graph nodes (kept by `nabla-autograd`).
pub static NODES: LiveCounter = LiveCounter { kind: 1 };

impl LiveCounter {
    fn add(&self, delta: isize) {
        let k = self.kind;
        let done = MINE.try_with(|m| {
            // only this thread writes its slot: no locked instruction needed
            let slot = &m.0[k];
            slot.store(slot.load(Ordering::Relaxed) + delta, Ordering::Relaxed);
        });
        if done.is_err() {
            // the thread is exiting and its slots are gone
            RETIRED[k].fetch_add(delta, Ordering::Relaxed);
        }
    }

    /// Counts one more live object.
    ///
    /// ```
    /// let before = nabla_tensor::counter::NODES.get();
    /// nabla_tensor::counter::NODES.inc();
    /// assert!(nabla_tensor::counter::NODES.get() >= before + 1);
    /// nabla_tensor::counter::NODES.dec();
    /// ```
    pub fn inc(&self) {
        self.add(1);
    }

    /// Counts one object fewer (it may have been counted in by another thread).
    ///
    /// ```
    /// nabla_tensor::counter::NODES.inc();
    /// nabla_tensor::counter::NODES.dec();
    /// ```
    pub fn dec(&self) {
        self.add(-1);
    }

    /// The number of live objects in the process, summed over threads.
    ///
    /// ```
    /// use nabla_tensor::{counter::STORAGES, Buffer, Storage};
    /// let before = STORAGES.get();
    /// let s: Vec<Storage> = (0..3).map(|_| Storage::new(Buffer::F32(vec![0.0]))).collect();
    /// assert!(STORAGES.get() >= before + 3);
    /// ```
    pub fn get(&self) -> usize {
        let all = threads();
        let sum: isize = all.iter().map(|s| s[self.kind].load(Ordering::Relaxed)).sum::<isize>()
            + RETIRED[self.kind].load(Ordering::Relaxed);
        sum.max(0) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_made_on_one_thread_and_freed_on_another_are_counted_right() {
        let before = NODES.get();
        // made here, freed by threads that then exit
        for _ in 0..10 {
            NODES.inc();
        }
        let handles: Vec<_> = (0..5)
            .map(|_| {
                std::thread::spawn(|| {
                    NODES.dec();
                    NODES.dec();
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(NODES.get(), before);
        // made by a thread that exits, freed here
        std::thread::spawn(|| (0..7).for_each(|_| NODES.inc())).join().unwrap();
        assert_eq!(NODES.get(), before + 7);
        (0..7).for_each(|_| NODES.dec());
        assert_eq!(NODES.get(), before);
    }
}
