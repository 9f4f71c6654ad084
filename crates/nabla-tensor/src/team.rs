//! A team of helper threads kept warm for splitting one kernel call into equal parts.
//!
//! A mid-sized matrix product (a 256² square, the layers of an MLP step) takes 100–300 µs.
//! Handing its halves to the rayon pool costs more than it should from a thread outside the
//! pool: the whole job is injected into the pool, one worker wakes the other, and the caller
//! sleeps until a third wake-up tells it the job is done. Each wake-up of a sleeping thread
//! is a futex call and a trip through the scheduler, tens of microseconds on a busy machine.
//!
//! The team does it the short way: the caller posts the job, runs part 0 itself, and the
//! helpers, which poll for a while (yielding the CPU to anything else that wants it) after
//! their last job before they park, run parts 1.. at once. When the team is busy (another
//! thread's product, or a product started from inside a part), [`split`] says so and the
//! caller uses the rayon pool instead.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long an idle helper polls for the next job before it parks.
const POLL: Duration = Duration::from_micros(100);

const IDLE: u32 = 0;
const POSTED: u32 = 1;
const DONE: u32 = 2;

/// The job a helper runs: the caller's closure with its lifetime erased, and the part index.
type Job = (*const (dyn Fn(usize) + Sync), usize);

struct Slot {
    state: AtomicU32,
    job: UnsafeCell<Option<Job>>,
    panicked: AtomicBool,
}

// SAFETY: `job` is written by the one caller that holds the team (`Team::busy`) while the
// slot is IDLE, and read by the helper only after it saw POSTED (release/acquire on
// `state`); the closure it points to is `Sync` and outlives the call (`split` waits for DONE).
unsafe impl Sync for Slot {}
unsafe impl Send for Slot {}

struct Helper {
    slot: Arc<Slot>,
    thread: Thread,
}

struct Team {
    busy: AtomicBool,
    helpers: Vec<Helper>,
}

fn team() -> &'static Team {
    static TEAM: OnceLock<Team> = OnceLock::new();
    TEAM.get_or_init(|| {
        let n = rayon::current_num_threads().saturating_sub(1);
        let helpers = (0..n)
            .filter_map(|i| {
                let slot = Arc::new(Slot {
                    state: AtomicU32::new(IDLE),
                    job: UnsafeCell::new(None),
                    panicked: AtomicBool::new(false),
                });
                let s = slot.clone();
                let handle =
                    thread::Builder::new().name(format!("nabla-team-{i}")).spawn(move || helper_loop(&s)).ok()?;
                Some(Helper { slot, thread: handle.thread().clone() })
            })
            .collect();
        Team { busy: AtomicBool::new(false), helpers }
    })
}

fn helper_loop(slot: &Slot) {
    loop {
        let idle_since = Instant::now();
        while slot.state.load(Ordering::Acquire) != POSTED {
            if idle_since.elapsed() < POLL {
                // polite polling: a thread that wants this CPU (a rayon worker) gets it
                thread::yield_now();
            } else {
                thread::park();
            }
        }
        // SAFETY: POSTED was stored (release) after the job was written; see `Slot`.
        let (f, i) = unsafe { (*slot.job.get()).expect("a posted job") };
        // SAFETY: the caller waits for DONE before its closure goes out of scope.
        let f = unsafe { &*f };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(i))).is_err() {
            slot.panicked.store(true, Ordering::Relaxed);
        }
        slot.state.store(DONE, Ordering::Release);
    }
}

/// The number of parts [`split`] runs at once (1 when there is no second thread).
///
/// ```
/// assert!(nabla_tensor::team::size() >= 1);
/// ```
pub fn size() -> usize {
    team().helpers.len() + 1
}

/// Runs `f(0)`, …, `f(parts - 1)` at the same time, `f(0)` on the calling thread, and
/// returns when all are done; `false` (nothing run) when the team is busy or `parts` is
/// more than [`size`]. A panic in any part is re-raised here after all parts finished.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let total = AtomicUsize::new(0);
/// let parts = nabla_tensor::team::size();
/// assert!(nabla_tensor::team::split(parts, &|i| { total.fetch_add(i + 1, Ordering::Relaxed); }));
/// assert_eq!(total.into_inner(), parts * (parts + 1) / 2);
/// ```
pub fn split(parts: usize, f: &(dyn Fn(usize) + Sync)) -> bool {
    let t = team();
    if parts == 0 || parts > t.helpers.len() + 1 {
        return false;
    }
    if t.busy.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
        return false;
    }
    // SAFETY (lifetime erasure): every helper that gets this pointer stores DONE after its
    // last use of it, and this function does not return before it has seen DONE from each.
    let ptr: *const (dyn Fn(usize) + Sync + '_) = f;
    let ptr: *const (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(ptr) };
    let used = &t.helpers[..parts - 1];
    for (i, h) in used.iter().enumerate() {
        // SAFETY: the slot is IDLE and we hold the team, so no helper reads `job` now.
        unsafe { *h.slot.job.get() = Some((ptr, i + 1)) };
        h.slot.state.store(POSTED, Ordering::Release);
        h.thread.unpark();
    }
    let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(0)));
    let mut panicked = mine.is_err();
    for h in used {
        let mut spins = 0u32;
        while h.slot.state.load(Ordering::Acquire) != DONE {
            if spins < 1 << 12 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                thread::yield_now();
            }
        }
        panicked |= h.slot.panicked.swap(false, Ordering::Relaxed);
        // SAFETY: the helper is done with the job; clear the erased pointer.
        unsafe { *h.slot.job.get() = None };
        h.slot.state.store(IDLE, Ordering::Release);
    }
    t.busy.store(false, Ordering::Release);
    if let Err(p) = mine {
        std::panic::resume_unwind(p);
    }
    assert!(!panicked, "a part of a split kernel panicked on a helper thread");
    true
}

/// Runs `f(i, item)` for every item at the same time (item 0 on the calling thread), on the
/// team when it is free and through the rayon pool otherwise. For work already cut into at
/// most [`size`] pieces, such as disjoint `&mut` slices of one output. Up to eight items
/// need no heap allocation (optimizer steps promise none after the first).
///
/// ```
/// let mut out = vec![0u32; 10];
/// nabla_tensor::team::run_parts(out.chunks_mut(5), |i, h| h.iter_mut().for_each(|v| *v = i as u32));
/// assert_eq!(out, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
/// ```
pub fn run_parts<S: Send>(items: impl IntoIterator<Item = S>, f: impl Fn(usize, S) + Sync) {
    use rayon::prelude::*;
    use std::sync::Mutex;
    const INLINE: usize = 8;
    let mut it = items.into_iter();
    let mut n = 0;
    let inline: [Mutex<Option<S>>; INLINE] = std::array::from_fn(|_| {
        let s = it.next();
        n += usize::from(s.is_some());
        Mutex::new(s)
    });
    let rest: Vec<Mutex<Option<S>>> = it.map(|s| Mutex::new(Some(s))).collect();
    let n = n + rest.len();
    let take = |i: usize| {
        let cell = if i < INLINE { &inline[i] } else { &rest[i - INLINE] };
        cell.lock().unwrap_or_else(|e| e.into_inner()).take()
    };
    let part = |i: usize| {
        if let Some(s) = take(i) {
            f(i, s)
        }
    };
    if n == 1 {
        part(0);
    } else if !split(n, &part) {
        (0..n).into_par_iter().for_each(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// `split`, retried while another test holds the team (tests run in parallel).
    fn split_when_free(parts: usize, f: &(dyn Fn(usize) + Sync)) {
        while !split(parts, f) {
            thread::yield_now();
        }
    }

    #[test]
    fn every_part_runs_once_and_the_team_is_reusable() {
        let parts = size();
        for round in 0..1000 {
            let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            split_when_free(parts, &|i| {
                hits[i].fetch_add(round + 1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == round + 1));
        }
    }

    #[test]
    fn a_nested_split_is_refused_and_a_too_large_one_too() {
        assert!(!split(size() + 1, &|_| {}));
        let inner = AtomicUsize::new(0);
        split_when_free(1, &|_| {
            if !split(1, &|_| {}) {
                inner.fetch_add(1, Ordering::Relaxed);
            }
        });
        assert_eq!(inner.into_inner(), 1);
    }

    #[test]
    fn a_panicking_part_panics_the_caller_and_leaves_the_team_usable() {
        let parts = size();
        loop {
            match std::panic::catch_unwind(|| split(parts, &|i| assert!(i != parts - 1, "part {i} fails"))) {
                Ok(false) => thread::yield_now(), // busy: nothing ran, try again
                Ok(true) => panic!("a part panicked but split returned normally"),
                Err(_) => break,
            }
        }
        let n = AtomicUsize::new(0);
        split_when_free(parts, &|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.into_inner(), parts);
    }

    #[test]
    fn callers_on_many_threads_all_get_their_work_done() {
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..500 {
                        let parts = size();
                        let f = |_: usize| {
                            total.fetch_add(1, Ordering::Relaxed);
                        };
                        if !split(parts, &f) {
                            (0..parts).for_each(f);
                        }
                    }
                });
            }
        });
        assert_eq!(total.into_inner(), 4 * 500 * size());
    }
}
