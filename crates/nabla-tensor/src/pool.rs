//! A cache of large element buffers, so that steady-state training reuses memory instead
//! of asking the OS for fresh pages every step.
//!
//! Buffers of at least [`MIN_POOLED_BYTES`] released by a dropped storage are kept (up to
//! [`POOL_CAPACITY_BYTES`] in all) and handed out again by [`alloc`] for a request of a
//! similar size. Large allocations otherwise go straight to `mmap` and come back as
//! zero-filled pages that fault in one by one: for a 64 MiB buffer that is 16 384 page
//! faults per step. Small buffers go to the ordinary allocator, which reuses them well.
//! The pool keeps `f32` and `f64` buffers, and `i64` ones (max pooling's indices).

use crate::storage::{Buffer, BufferElement};
use std::sync::Mutex;

/// Buffers smaller than this are not pooled.
pub const MIN_POOLED_BYTES: usize = 256 * 1024;
/// The most memory the pool keeps.
pub const POOL_CAPACITY_BYTES: usize = 1 << 30;

struct Pool {
    f32s: Vec<Vec<f32>>,
    f64s: Vec<Vec<f64>>,
    /// Index buffers (max pooling's argmax positions).
    i64s: Vec<Vec<i64>>,
    bytes: usize,
}

static HITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static MISSES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// (hits, misses) of [`alloc`] for pooled sizes since the process started: a steady-state
/// training loop should only hit.
pub fn stats() -> (usize, usize) {
    use std::sync::atomic::Ordering::Relaxed;
    (HITS.load(Relaxed), MISSES.load(Relaxed))
}

static POOL: Mutex<Pool> = Mutex::new(Pool { f32s: Vec::new(), f64s: Vec::new(), i64s: Vec::new(), bytes: 0 });

/// Element types the pool keeps.
trait Pooled: Sized {
    fn list(p: &mut Pool) -> Option<&mut Vec<Vec<Self>>>;
}
impl<T: BufferElement> Pooled for T {
    fn list(p: &mut Pool) -> Option<&mut Vec<Vec<Self>>> {
        let any: &mut dyn std::any::Any = match T::DTYPE {
            crate::DType::F32 => &mut p.f32s,
            crate::DType::F64 => &mut p.f64s,
            crate::DType::I64 => &mut p.i64s,
            _ => return None,
        };
        any.downcast_mut::<Vec<Vec<T>>>()
    }
}

/// An empty vector with room for at least `n` elements, reused from the pool when a
/// buffer of a similar size (up to twice as large) is there.
///
/// ```
/// let v: Vec<f32> = nabla_tensor::pool::alloc(1000);
/// assert!(v.capacity() >= 1000 && v.is_empty());
/// ```
pub fn alloc<T: BufferElement>(n: usize) -> Vec<T> {
    match take(n) {
        Some(mut v) => {
            v.clear();
            v
        }
        None => Vec::with_capacity(n),
    }
}

/// The pooled buffer of the smallest capacity in `n..=2n` (its old contents intact), for a
/// request large enough to be pooled; counts the hit or the miss.
fn take<T: BufferElement>(n: usize) -> Option<Vec<T>> {
    use std::sync::atomic::Ordering::Relaxed;
    if n * std::mem::size_of::<T>() < MIN_POOLED_BYTES {
        return None;
    }
    let mut p = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let taken = T::list(&mut p).and_then(|list| {
        let best = list
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= n && v.capacity() <= 2 * n)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        best.map(|i| list.swap_remove(i))
    });
    match &taken {
        Some(v) => {
            p.bytes -= v.capacity() * std::mem::size_of::<T>();
            HITS.fetch_add(1, Relaxed);
        }
        None => {
            MISSES.fetch_add(1, Relaxed);
        }
    }
    taken
}

/// A vector of `n` copies of `value` (from the pool when possible).
///
/// ```
/// assert_eq!(nabla_tensor::pool::alloc_filled(3, 1.5f64), vec![1.5, 1.5, 1.5]);
/// ```
pub fn alloc_filled<T: BufferElement>(n: usize, value: T) -> Vec<T> {
    let mut v: Vec<T> = alloc(n);
    if zero_bits(value) {
        // SAFETY: `v` has room for `n` elements (`alloc`), and `T` is one of the types whose
        // all-zero bytes are a value (`zero_bits`), so the `n` elements are initialised.
        unsafe {
            v.as_mut_ptr().write_bytes(0, n);
            v.set_len(n);
        }
    } else {
        v.resize(n, value);
    }
    v
}

/// Whether `value` is all zero bytes and of a type (f32, f64, i64 or bool) for which all-zero
/// bytes are a value: then [`alloc_filled`] fills with `memset`, which writes large buffers
/// about twice as fast as the element loop of `resize` (zero-filled gradient buffers took
/// ~3 % of a small CNN's step).
fn zero_bits<T: 'static + Copy>(value: T) -> bool {
    let v = &value as &dyn std::any::Any;
    if let Some(x) = v.downcast_ref::<f32>() {
        return x.to_bits() == 0;
    }
    if let Some(x) = v.downcast_ref::<f64>() {
        return x.to_bits() == 0;
    }
    if let Some(x) = v.downcast_ref::<i64>() {
        return *x == 0;
    }
    v.downcast_ref::<bool>().is_some_and(|x| !*x)
}

/// A vector of `n` elements whose values are unspecified — left over from the buffer's last
/// use, or zero — for an output that a kernel overwrites completely (a matrix product, a
/// convolution's forward pass). Saves the zero-fill pass of [`alloc_filled`]: ~7 % of a
/// small CNN's training step went to memset on such outputs. Safe code: the elements are
/// always initialised, just not to anything in particular.
///
/// ```
/// let v: Vec<f32> = nabla_tensor::pool::alloc_overwritten(1 << 20);
/// assert_eq!(v.len(), 1 << 20);
/// ```
pub fn alloc_overwritten<T: BufferElement + Default>(n: usize) -> Vec<T> {
    match take(n) {
        Some(mut v) => {
            // keep what is there; fill only a tail the last use did not reach
            v.truncate(n);
            v.resize(n, T::default());
            v
        }
        None => vec![T::default(); n],
    }
}

/// Gives a dropped storage's buffer back to the pool if it is worth keeping.
pub(crate) fn release(buf: Buffer) {
    fn put<T: BufferElement>(v: Vec<T>) {
        let bytes = v.capacity() * std::mem::size_of::<T>();
        if bytes < MIN_POOLED_BYTES {
            return;
        }
        let mut p = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if p.bytes + bytes > POOL_CAPACITY_BYTES {
            return;
        }
        p.bytes += bytes;
        if let Some(list) = T::list(&mut p) {
            list.push(v);
        } else {
            p.bytes -= bytes;
        }
    }
    match buf {
        Buffer::F32(v) => put(v),
        Buffer::F64(v) => put(v),
        Buffer::I64(v) => put(v),
        _ => {}
    }
}

/// Empties the pool, returning its memory to the allocator.
///
/// ```
/// nabla_tensor::pool::clear();
/// assert_eq!(nabla_tensor::pool::pooled_bytes(), 0);
/// ```
pub fn clear() {
    let mut p = POOL.lock().unwrap_or_else(|e| e.into_inner());
    p.f32s.clear();
    p.f64s.clear();
    p.i64s.clear();
    p.bytes = 0;
}

/// Bytes currently held by the pool.
pub fn pooled_bytes() -> usize {
    POOL.lock().unwrap_or_else(|e| e.into_inner()).bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_filled_fills_a_reused_buffer_with_the_value_zero_or_not() {
        let n = MIN_POOLED_BYTES; // f32s: four times the pooled minimum in bytes
        release(Buffer::F32(vec![7.0f32; n]));
        let z = alloc_filled(n, 0.0f32);
        assert_eq!(z.len(), n);
        assert!(z.iter().all(|&x| x.to_bits() == 0), "a reused buffer is zeroed");
        release(Buffer::F32(z));
        // -0.0 is not all zero bytes: filled element by element, sign kept
        let m = alloc_filled(n, -0.0f32);
        assert!(m.iter().all(|&x| x.to_bits() == (-0.0f32).to_bits()));
        assert_eq!(alloc_filled(5, 0i64), vec![0; 5]);
        assert_eq!(alloc_filled(5, false), vec![false; 5]);
        assert_eq!(alloc_filled(3, 0.0f64), vec![0.0; 3]);
        assert_eq!(alloc_filled(3, 2.5f64), vec![2.5; 3]);
        assert!(zero_bits(0.0f64) && !zero_bits(-0.0f64) && !zero_bits(1i64) && !zero_bits(true));
    }
}
