//! Waiting for a lock that another thread holds for a moment.
//!
//! nabla's own locks (a small storage's sequence lock here, the tensor metadata lock in
//! `nabla-autograd`) are held for nanoseconds, so a waiter first spins; a holder that was
//! descheduled, or that runs long under the lock, is then waited for by yielding the time
//! slice, and after that asleep, so that the waiter does not burn the other core.

use std::time::Duration;

/// How many times a waiter spins before it yields.
const SPINS: u32 = 64;
/// How many times it then yields before it sleeps between looks.
const YIELDS: u32 = 16;
/// How long it sleeps between looks after that.
const SLEEP: Duration = Duration::from_micros(50);

/// The waiting between one look at a lock and the next: call [`Backoff::snooze`] each time
/// the lock was found taken.
///
/// ```
/// use nabla_tensor::backoff::Backoff;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// let flag = AtomicBool::new(false);
/// std::thread::scope(|s| {
///     s.spawn(|| flag.store(true, Ordering::Release));
///     let mut backoff = Backoff::new();
///     while !flag.load(Ordering::Acquire) {
///         backoff.snooze();
///     }
/// });
/// ```
#[derive(Debug, Default)]
pub struct Backoff {
    step: u32,
}

impl Backoff {
    /// A backoff that has not waited yet.
    pub const fn new() -> Backoff {
        Backoff { step: 0 }
    }

    /// Waits before the next look: a spin-loop hint for the first 64 calls, then a yield
    /// of the time slice for the next 16, then a 50 µs sleep.
    #[cold]
    pub fn snooze(&mut self) {
        if self.step < SPINS {
            std::hint::spin_loop();
        } else if self.step < SPINS + YIELDS {
            std::thread::yield_now();
        } else {
            std::thread::sleep(SLEEP);
        }
        self.step = self.step.saturating_add(1);
    }
}
