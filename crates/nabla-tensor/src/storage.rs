//! Reference-counted, lockable buffers shared by a tensor and all of its views.

use crate::backoff::Backoff;
use crate::dtype::{DType, Element};
use std::ops::Deref;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A shared handle on a storage: the storages of a tensor and its views are one
/// `StorageRef`. A [`Shared`](crate::arc::Shared), which has no weak handles (nothing
/// needs one), so that dropping the last handle takes no locked instruction (a std
/// `Arc`'s takes two).
pub type StorageRef = crate::arc::Shared<Storage>;

/// The elements of a storage, one variant per dtype, or a few elements of any dtype kept
/// inline ([`Buffer::Small`]).
///
/// Read the elements through [`BufferElement::slice`], which covers every variant.
#[derive(Debug, Clone)]
pub enum Buffer {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 64-bit floats.
    F64(Vec<f64>),
    /// 64-bit integers.
    I64(Vec<i64>),
    /// Booleans.
    Bool(Vec<bool>),
    /// Up to [`SmallBuffer::BYTES`] bytes of elements inside the buffer itself: the results
    /// of kernels on tensors of a few elements take no heap allocation.
    Small(SmallBuffer),
}

/// Up to 16 bytes of elements of one dtype (four `f32`, two `f64`, …), stored inline.
///
/// ```
/// use nabla_tensor::storage::{Buffer, BufferElement, SmallBuffer};
/// let mut b = SmallBuffer::zeroed::<f32>(3).unwrap();
/// f32::slice_mut(&mut b).unwrap().copy_from_slice(&[1.0, 2.0, 3.0]);
/// assert_eq!(f32::slice(&b), Some(&[1.0f32, 2.0, 3.0][..]));
/// assert!(f64::slice(&b).is_none() && b.len() == 3);
/// assert!(SmallBuffer::zeroed::<f64>(3).is_none()); // 24 bytes: too many
/// ```
#[derive(Clone, Copy)]
pub struct SmallBuffer {
    dtype: DType,
    len: u8,
    /// The elements' bytes; 8-aligned, so any element type fits.
    data: [u64; 2],
}

impl SmallBuffer {
    /// The most bytes of elements a small buffer holds.
    pub const BYTES: usize = 16;

    /// `n` zeros (or `false`) of type `T` as a [`Buffer::Small`], if they fit.
    pub fn zeroed<T: BufferElement>(n: usize) -> Option<Buffer> {
        (n * std::mem::size_of::<T>() <= Self::BYTES).then_some(Buffer::Small(SmallBuffer {
            dtype: T::DTYPE,
            len: n as u8,
            data: [0; 2],
        }))
    }

    /// The elements of `buf` as a small buffer, if they fit in one.
    #[inline]
    fn of(buf: &Buffer) -> Option<SmallBuffer> {
        fn copy<T: BufferElement>(v: &[T]) -> Option<SmallBuffer> {
            let mut b = SmallBuffer::zeroed::<T>(v.len())?;
            T::slice_mut(&mut b)?.copy_from_slice(v);
            match b {
                Buffer::Small(b) => Some(b),
                _ => None,
            }
        }
        match buf {
            Buffer::Small(b) => Some(*b),
            Buffer::F32(v) => copy(v),
            Buffer::F64(v) => copy(v),
            Buffer::I64(v) => copy(v),
            Buffer::Bool(v) => copy(v),
        }
    }

    pub(crate) fn slice<T: BufferElement>(&self) -> Option<&[T]> {
        // SAFETY: `data` is 8-aligned and holds `len` elements of `dtype` (checked to be `T`)
        // within its 16 bytes (`zeroed`); it starts zeroed, which is a valid value of every
        // element type (0, 0.0, false), and is only written through `slice_mut` as `T`.
        (self.dtype == T::DTYPE)
            .then(|| unsafe { std::slice::from_raw_parts(self.data.as_ptr().cast::<T>(), self.len as usize) })
    }

    fn slice_mut<T: BufferElement>(&mut self) -> Option<&mut [T]> {
        // SAFETY: as in `slice`.
        (self.dtype == T::DTYPE)
            .then(|| unsafe { std::slice::from_raw_parts_mut(self.data.as_mut_ptr().cast::<T>(), self.len as usize) })
    }
}

impl std::fmt::Debug for SmallBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_list();
        match self.dtype {
            DType::F32 => d.entries(self.slice::<f32>().unwrap_or_default()),
            DType::F64 => d.entries(self.slice::<f64>().unwrap_or_default()),
            DType::I64 => d.entries(self.slice::<i64>().unwrap_or_default()),
            DType::Bool => d.entries(self.slice::<bool>().unwrap_or_default()),
        };
        d.finish()
    }
}

impl Buffer {
    /// The dtype of the elements.
    pub fn dtype(&self) -> DType {
        match self {
            Buffer::F32(_) => DType::F32,
            Buffer::F64(_) => DType::F64,
            Buffer::I64(_) => DType::I64,
            Buffer::Bool(_) => DType::Bool,
            Buffer::Small(s) => s.dtype,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Buffer::F32(v) => v.len(),
            Buffer::F64(v) => v.len(),
            Buffer::I64(v) => v.len(),
            Buffer::Bool(v) => v.len(),
            Buffer::Small(s) => s.len as usize,
        }
    }

    /// Whether the buffer holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Conversion between `Vec<T>` / `&[T]` and [`Buffer`] for each element type.
pub trait BufferElement: Element {
    /// Wraps a vector.
    fn into_buffer(v: Vec<Self>) -> Buffer;
    /// Borrows the elements if the buffer has this type.
    fn slice(b: &Buffer) -> Option<&[Self]>;
    /// Borrows the elements mutably if the buffer has this type.
    fn slice_mut(b: &mut Buffer) -> Option<&mut [Self]>;
}

macro_rules! buffer_element {
    ($t:ty, $v:ident) => {
        impl BufferElement for $t {
            fn into_buffer(v: Vec<Self>) -> Buffer {
                Buffer::$v(v)
            }
            fn slice(b: &Buffer) -> Option<&[Self]> {
                match b {
                    Buffer::$v(v) => Some(v),
                    Buffer::Small(s) => s.slice(),
                    _ => None,
                }
            }
            fn slice_mut(b: &mut Buffer) -> Option<&mut [Self]> {
                match b {
                    Buffer::$v(v) => Some(v),
                    Buffer::Small(s) => s.slice_mut(),
                    _ => None,
                }
            }
        }
    };
}
buffer_element!(f32, F32);
buffer_element!(f64, F64);
buffer_element!(i64, I64);
buffer_element!(bool, Bool);

/// Number of storages alive in the process (for leak tests).
///
/// ```
/// let before = nabla_tensor::storage::live_storages();
/// let s = nabla_tensor::Storage::new(nabla_tensor::Buffer::F32(vec![1.0]));
/// assert!(nabla_tensor::storage::live_storages() >= before + 1);
/// drop(s);
/// ```
pub fn live_storages() -> usize {
    crate::counter::STORAGES.get()
}

/// A buffer shared by views, with the version counter that in-place operations bump.
///
/// A storage of up to [`SmallBuffer::BYTES`] bytes of elements keeps them inline and is
/// read without a lock: a reader copies the bytes and checks a sequence count that a
/// writer makes odd while it writes (a seqlock). A reader-writer lock costs two locked
/// instructions per read (~20 ns on the bench machine), a copy of 16 bytes almost nothing,
/// and small tensors are read often: one step of `h = tanh(h·w + b)` on shape-`[1]`
/// tensors, forward and backward, reads storages a dozen times. Larger buffers sit behind
/// a reader-writer lock.
pub struct Storage {
    cell: Cell,
    version: AtomicU64,
}

/// Where a storage keeps its elements; which one is fixed when the storage is made.
enum Cell {
    Inline(InlineCell),
    Heap(RwLock<Buffer>),
}

/// A few elements of one dtype behind a sequence lock.
///
/// The elements are atomics, read and written with relaxed loads and stores (plain moves
/// on x86), so a reader that overlaps a writer reads a torn copy, never a data race; the
/// count tells it to look again. Writers take the count from even to odd with a
/// compare-and-swap (the lock between writers) and publish with a release store of the
/// next even count.
struct InlineCell {
    dtype: DType,
    len: u8,
    seq: AtomicU32,
    data: [AtomicU64; 2],
}

impl InlineCell {
    #[inline]
    fn new(b: SmallBuffer) -> InlineCell {
        InlineCell {
            dtype: b.dtype,
            len: b.len,
            seq: AtomicU32::new(0),
            data: [AtomicU64::new(b.data[0]), AtomicU64::new(b.data[1])],
        }
    }

    /// The elements as of a moment when no writer held the cell.
    #[inline]
    fn load(&self) -> SmallBuffer {
        self.try_load().unwrap_or_else(|| self.load_contended())
    }

    #[inline]
    fn try_load(&self) -> Option<SmallBuffer> {
        let seq = self.seq.load(Ordering::Acquire);
        let data = [self.data[0].load(Ordering::Relaxed), self.data[1].load(Ordering::Relaxed)];
        // orders the loads of the data before the second look at the count: a reader that
        // saw any byte of a write sees that write's odd count (or a later one)
        fence(Ordering::Acquire);
        (seq & 1 == 0 && self.seq.load(Ordering::Relaxed) == seq).then_some(SmallBuffer {
            dtype: self.dtype,
            len: self.len,
            data,
        })
    }

    #[cold]
    fn load_contended(&self) -> SmallBuffer {
        let mut backoff = Backoff::new();
        loop {
            backoff.snooze();
            if let Some(b) = self.try_load() {
                return b;
            }
        }
    }

    /// Takes the cell for writing: returns the (odd) count it now holds and the elements.
    fn lock(&self) -> (u32, SmallBuffer) {
        let mut backoff = Backoff::new();
        loop {
            let seq = self.seq.load(Ordering::Relaxed);
            if seq & 1 == 0
                && self
                    .seq
                    .compare_exchange_weak(seq, seq.wrapping_add(1), Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                // keeps the stores of the data after the odd count (see `try_load`)
                fence(Ordering::Release);
                let data = [self.data[0].load(Ordering::Relaxed), self.data[1].load(Ordering::Relaxed)];
                return (seq.wrapping_add(1), SmallBuffer { dtype: self.dtype, len: self.len, data });
            }
            backoff.snooze();
        }
    }

    /// Publishes `data` and releases the cell taken at count `seq`.
    fn unlock(&self, seq: u32, data: [u64; 2]) {
        self.data[0].store(data[0], Ordering::Relaxed);
        self.data[1].store(data[1], Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Release);
    }
}

/// Shared access to a storage's elements ([`Storage::read`]): a copy of an inline buffer,
/// or a read lock on a larger one. Dereferences to the [`Buffer`].
///
/// ```
/// use nabla_tensor::{Buffer, BufferElement, Storage};
/// let s = Storage::new(Buffer::F64(vec![1.0, 2.0, 3.0]));
/// let r = s.read();
/// assert_eq!((r.len(), f64::slice(&r)), (3, Some(&[1.0, 2.0, 3.0][..])));
/// ```
pub struct StorageRead<'a>(ReadInner<'a>);

enum ReadInner<'a> {
    Copied(Buffer),
    Locked(RwLockReadGuard<'a, Buffer>),
}

impl Deref for StorageRead<'_> {
    type Target = Buffer;
    #[inline]
    fn deref(&self) -> &Buffer {
        match &self.0 {
            ReadInner::Copied(b) => b,
            ReadInner::Locked(g) => g,
        }
    }
}

/// Exclusive access to a storage's elements ([`Storage::write`]); other writers and
/// readers wait, and readers see the new elements once it is dropped. Dereferences to the
/// [`Buffer`] for reading; [`StorageWrite::slice_mut`] gives the elements to change. The
/// buffer itself cannot be replaced: a storage keeps its dtype and length.
pub struct StorageWrite<'a>(WriteInner<'a>);

enum WriteInner<'a> {
    /// The elements being changed, published to the cell when the guard drops.
    Inline {
        cell: &'a InlineCell,
        seq: u32,
        buf: Buffer,
    },
    Locked(RwLockWriteGuard<'a, Buffer>),
}

impl StorageWrite<'_> {
    /// The elements as `&mut [T]`, if `T` is their type.
    ///
    /// ```
    /// use nabla_tensor::{Buffer, BufferElement, Storage};
    /// let s = Storage::new(Buffer::F32(vec![1.0, 2.0]));
    /// s.write().slice_mut::<f32>().unwrap()[1] = 5.0;
    /// assert!(s.write().slice_mut::<f64>().is_none());
    /// assert_eq!(f32::slice(&s.read()), Some(&[1.0f32, 5.0][..]));
    /// ```
    #[inline]
    pub fn slice_mut<T: BufferElement>(&mut self) -> Option<&mut [T]> {
        match &mut self.0 {
            WriteInner::Inline { buf, .. } => T::slice_mut(buf),
            WriteInner::Locked(g) => T::slice_mut(g),
        }
    }
}

impl Deref for StorageWrite<'_> {
    type Target = Buffer;
    fn deref(&self) -> &Buffer {
        match &self.0 {
            WriteInner::Inline { buf, .. } => buf,
            WriteInner::Locked(g) => g,
        }
    }
}

impl Drop for StorageWrite<'_> {
    fn drop(&mut self) {
        // also when unwinding: what the writer had changed is published, as a poisoned
        // lock read through `into_inner` would show it
        if let WriteInner::Inline { cell, seq, buf } = &self.0 {
            let Buffer::Small(b) = buf else { unreachable!("an inline cell's buffer is small") };
            cell.unlock(*seq, b.data);
        }
    }
}

impl Storage {
    /// A new storage owning `buf`, at version 0. A buffer of at most
    /// [`SmallBuffer::BYTES`] bytes is kept inline (and read without a lock).
    ///
    /// ```
    /// use nabla_tensor::{Buffer, Storage};
    /// let s = Storage::new(Buffer::F32(vec![1.0, 2.0]));
    /// assert!(matches!(*s.read(), Buffer::Small(_)) && s.read().len() == 2);
    /// let s = Storage::new(Buffer::F32(vec![0.0; 5]));
    /// assert!(matches!(*s.read(), Buffer::F32(_)));
    /// ```
    #[inline]
    pub fn new(buf: Buffer) -> Storage {
        crate::counter::STORAGES.inc();
        let cell = match SmallBuffer::of(&buf) {
            Some(b) => Cell::Inline(InlineCell::new(b)),
            None => Cell::Heap(RwLock::new(buf)),
        };
        Storage { cell, version: AtomicU64::new(0) }
    }

    /// A new shared storage owning `buf`, at version 0, built in its allocation (see
    /// [`crate::arc`]); kept inline as by [`Storage::new`].
    ///
    /// ```
    /// use nabla_tensor::{Buffer, Storage};
    /// let s = Storage::shared(Buffer::F64(vec![1.0, 2.0]));
    /// assert_eq!(s.read().len(), 2);
    /// ```
    pub fn shared(buf: Buffer) -> StorageRef {
        if let Some(b) = SmallBuffer::of(&buf) {
            return Self::shared_inline(b);
        }
        crate::arc::Shared::new_in_place(|slot| {
            let s = slot.write(Storage::empty());
            if let Cell::Heap(lock) = &mut s.cell {
                // the placeholder owns nothing: forgetting it skips a call to drop it
                std::mem::forget(std::mem::replace(lock.get_mut().unwrap_or_else(|e| e.into_inner()), buf));
            }
            s
        })
    }

    /// A storage behind a lock with no elements, to put the real buffer in afterwards with
    /// `get_mut`: `RwLock::new(buf)` builds the lock on the stack and copies it, buffer and
    /// padding together, at an odd offset, which reloads the buffer's just-written bytes
    /// with loads that straddle its stores (each stalls until the stores land).
    #[inline]
    fn empty() -> Storage {
        crate::counter::STORAGES.inc();
        Storage { cell: Cell::Heap(RwLock::new(Buffer::Bool(Vec::new()))), version: AtomicU64::new(0) }
    }

    /// A copy of the elements of an inline storage; `None` for a larger one (behind a lock).
    #[inline]
    pub(crate) fn small(&self) -> Option<SmallBuffer> {
        match &self.cell {
            Cell::Inline(c) => Some(c.load()),
            Cell::Heap(_) => None,
        }
    }

    /// A new shared storage holding a copy of this one's elements, when they are inline and
    /// `numel` of them starting at element 0 are all there are (a packed tensor over the
    /// whole storage): the 16 bytes are copied as they are.
    #[inline]
    pub(crate) fn copy_small(&self, numel: usize) -> Option<StorageRef> {
        let b = self.small()?;
        (b.len as usize == numel).then(|| Storage::shared_inline(b))
    }

    #[inline]
    fn shared_inline(b: SmallBuffer) -> StorageRef {
        crate::counter::STORAGES.inc();
        crate::arc::Shared::new_in_place(|slot| {
            slot.write(Storage { cell: Cell::Inline(InlineCell::new(b)), version: AtomicU64::new(0) })
        })
    }

    /// A new shared storage of `n` elements of `T` kept inline, written by `fill` where
    /// they lie; `None` when `n` elements do not fit.
    ///
    /// Kernels on tensors of a few elements make their result this way: the elements are
    /// written once, into the shared allocation, instead of into a buffer that is then moved
    /// into it (moving a just-written buffer makes the CPU wait for its stores to land).
    ///
    /// ```
    /// use nabla_tensor::{BufferElement, Storage};
    /// let s = Storage::shared_small::<f32>(3, |x| x.copy_from_slice(&[1.0, 2.0, 3.0])).unwrap();
    /// assert_eq!(f32::slice(&s.read()), Some(&[1.0f32, 2.0, 3.0][..]));
    /// assert!(Storage::shared_small::<f64>(3, |_| {}).is_none());
    /// ```
    #[inline]
    pub fn shared_small<T: BufferElement>(n: usize, fill: impl FnOnce(&mut [T])) -> Option<StorageRef> {
        if n * std::mem::size_of::<T>() > SmallBuffer::BYTES {
            return None;
        }
        crate::counter::STORAGES.inc();
        Some(crate::arc::Shared::new_in_place(|slot| {
            let zeros = SmallBuffer { dtype: T::DTYPE, len: n as u8, data: [0; 2] };
            let s = slot.write(Storage { cell: Cell::Inline(InlineCell::new(zeros)), version: AtomicU64::new(0) });
            if let Cell::Inline(c) = &mut s.cell {
                // SAFETY: `AtomicU64` has the size, alignment and bit validity of `u64`, so
                // the two are 16 8-aligned bytes of plain memory, all zero, which is a valid
                // value of every element type, and `n` elements of `T` fit in them (checked
                // above); the storage is borrowed uniquely, so nothing else reads them.
                let elems = unsafe { std::slice::from_raw_parts_mut(c.data.as_mut_ptr().cast::<T>(), n) };
                fill(elems);
            }
            s
        }))
    }

    /// Shared access to the elements: a copy of an inline buffer, or a read lock on a
    /// larger one.
    ///
    /// ```
    /// use nabla_tensor::{Buffer, BufferElement, Storage};
    /// let s = Storage::new(Buffer::I64(vec![4, 5]));
    /// assert_eq!(i64::slice(&s.read()), Some(&[4i64, 5][..]));
    /// ```
    #[inline]
    pub fn read(&self) -> StorageRead<'_> {
        match &self.cell {
            Cell::Inline(c) => StorageRead(ReadInner::Copied(Buffer::Small(c.load()))),
            Cell::Heap(lock) => StorageRead(ReadInner::Locked(lock.read().unwrap_or_else(|e| e.into_inner()))),
        }
    }

    /// Exclusive access to the elements (in-place operations). The version counter is
    /// the caller's to bump ([`Storage::bump_version`]).
    ///
    /// ```
    /// use nabla_tensor::{Buffer, BufferElement, Storage};
    /// let s = Storage::new(Buffer::F32(vec![1.0]));
    /// s.write().slice_mut::<f32>().unwrap()[0] = 3.0;
    /// assert_eq!(f32::slice(&s.read()), Some(&[3.0f32][..]));
    /// ```
    pub fn write(&self) -> StorageWrite<'_> {
        match &self.cell {
            Cell::Inline(c) => {
                let (seq, b) = c.lock();
                StorageWrite(WriteInner::Inline { cell: c, seq, buf: Buffer::Small(b) })
            }
            Cell::Heap(lock) => StorageWrite(WriteInner::Locked(lock.write().unwrap_or_else(|e| e.into_inner()))),
        }
    }

    /// The number of elements. An inline storage's is fixed when it is made and read
    /// without copying its elements (as [`Storage::read`] would); a larger one's is read
    /// under its lock.
    ///
    /// ```
    /// use nabla_tensor::{Buffer, Storage};
    /// assert_eq!(Storage::new(Buffer::F32(vec![1.0, 2.0])).len(), 2);
    /// assert_eq!(Storage::new(Buffer::F64(vec![0.0; 9])).len(), 9);
    /// assert!(Storage::new(Buffer::Bool(vec![])).is_empty());
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        match &self.cell {
            Cell::Inline(c) => c.len as usize,
            Cell::Heap(lock) => lock.read().unwrap_or_else(|e| e.into_inner()).len(),
        }
    }

    /// Whether the storage holds no element.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many times the storage was modified in place.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Records an in-place modification.
    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // does not wait for a writer (as `RwLock`'s `Debug` does not)
        let buf = match &self.cell {
            Cell::Inline(c) => c.try_load().map(|b| format!("{:?}", Buffer::Small(b))),
            Cell::Heap(lock) => lock.try_read().ok().map(|b| format!("{:?}", *b)),
        };
        f.debug_struct("Storage")
            .field("buf", &format_args!("{}", buf.as_deref().unwrap_or("<locked>")))
            .field("version", &self.version())
            .finish()
    }
}

impl Drop for Storage {
    #[inline]
    fn drop(&mut self) {
        crate::counter::STORAGES.dec();
        if let Cell::Heap(lock) = &mut self.cell {
            release_heap(lock);
        }
    }
}

/// A heap storage's buffer, back to the pool: out of line, so that freeing an inline
/// storage (nearly every one a graph of small tensors makes) saves and restores no
/// registers for it.
#[inline(never)]
fn release_heap(lock: &mut RwLock<Buffer>) {
    let buf = std::mem::replace(lock.get_mut().unwrap_or_else(|e| e.into_inner()), Buffer::Bool(Vec::new()));
    crate::pool::release(buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inline_f64(a: f64, b: f64) -> StorageRef {
        let s = Storage::shared(Buffer::F64(vec![a, b]));
        assert!(matches!(s.cell, Cell::Inline(_)), "two f64 are kept inline");
        s
    }

    fn pair(s: &Storage) -> [f64; 2] {
        let r = s.read();
        let v = f64::slice(&r).expect("f64");
        [v[0], v[1]]
    }

    #[test]
    fn readers_never_see_half_of_a_write() {
        // the writer keeps both elements equal and counts up; a reader that overlapped a
        // write and kept a torn copy would see them differ
        let s = inline_f64(0.0, 0.0);
        let rounds = 200_000u32;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for i in 1..=rounds {
                    let mut w = s.write();
                    let v = w.slice_mut::<f64>().unwrap();
                    v[0] = f64::from(i);
                    std::hint::black_box(&v);
                    v[1] = f64::from(i);
                }
            });
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        let mut last = 0.0;
                        let mut distinct = 0u32;
                        while last < f64::from(rounds) {
                            let [a, b] = pair(&s);
                            assert_eq!(a, b, "a torn read");
                            assert!(a >= last, "values went back: {a} after {last}");
                            distinct += u32::from(a > last);
                            last = a;
                        }
                        distinct
                    })
                })
                .collect();
            for r in readers {
                assert!(r.join().unwrap() > 0);
            }
        });
        assert_eq!(pair(&s), [f64::from(rounds); 2]);
    }

    #[test]
    fn writers_exclude_each_other() {
        let s = Storage::shared(Buffer::I64(vec![0]));
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..20_000 {
                        let mut w = s.write();
                        let v = w.slice_mut::<i64>().unwrap();
                        // a read and a write apart: a lost update shows if two writers overlap
                        let x = v[0];
                        std::hint::black_box(&x);
                        v[0] = x + 1;
                    }
                });
            }
        });
        assert_eq!(i64::slice(&s.read()), Some(&[80_000i64][..]));
    }

    #[test]
    fn a_reader_waits_for_a_writer_that_holds_the_cell_long_and_sees_its_write() {
        let s = inline_f64(1.0, 1.0);
        let mut w = s.write();
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| pair(&s));
            // long enough for the reader to spin, yield and sleep
            std::thread::sleep(std::time::Duration::from_millis(30));
            w.slice_mut::<f64>().unwrap().copy_from_slice(&[2.0, 3.0]);
            drop(w);
            assert_eq!(reader.join().unwrap(), [2.0, 3.0]);
        });
    }

    #[test]
    fn a_panic_while_writing_publishes_what_was_written_and_releases_the_cell() {
        let s = inline_f64(1.0, 1.0);
        let r = std::panic::catch_unwind(|| {
            let mut w = s.write();
            w.slice_mut::<f64>().unwrap()[0] = 5.0;
            panic!("inside the write");
        });
        assert!(r.is_err());
        assert_eq!(pair(&s), [5.0, 1.0]);
        s.write().slice_mut::<f64>().unwrap()[1] = 6.0;
        assert_eq!(pair(&s), [5.0, 6.0]);
    }

    #[test]
    fn a_read_is_a_snapshot_of_an_inline_buffer_and_a_lock_on_a_larger_one() {
        let s = inline_f64(1.0, 2.0);
        let before = s.read();
        s.write().slice_mut::<f64>().unwrap()[0] = 9.0;
        assert_eq!(f64::slice(&before), Some(&[1.0, 2.0][..]));
        assert_eq!(pair(&s), [9.0, 2.0]);

        let big = Storage::shared(Buffer::F64(vec![0.0; 3]));
        assert!(matches!(big.cell, Cell::Heap(_)));
        let r = big.read();
        assert_eq!(r.len(), 3);
        assert!(format!("{big:?}").contains("F64([0.0, 0.0, 0.0])"), "{big:?}");
        drop(r);
        let w = big.write();
        assert!(format!("{big:?}").contains("<locked>"));
        drop(w);
        let w = s.write();
        assert!(format!("{s:?}").contains("<locked>"));
        drop(w);
        assert!(format!("{s:?}").contains("Small([9.0, 2.0])"), "{s:?}");
        big.write().slice_mut::<f64>().unwrap()[2] = 4.0;
        assert_eq!(f64::slice(&big.read()), Some(&[0.0, 0.0, 4.0][..]));
    }

    #[test]
    fn every_dtype_fits_inline_up_to_sixteen_bytes() {
        let cases: [(Buffer, usize, bool); 8] = [
            (Buffer::F32(vec![1.0; 4]), 4, true),
            (Buffer::F32(vec![1.0; 5]), 5, false),
            (Buffer::F64(vec![1.0; 2]), 2, true),
            (Buffer::F64(vec![1.0; 3]), 3, false),
            (Buffer::I64(vec![7; 2]), 2, true),
            (Buffer::Bool(vec![true; 16]), 16, true),
            (Buffer::Bool(vec![true; 17]), 17, false),
            (Buffer::F32(Vec::new()), 0, true),
        ];
        for (buf, len, inline) in cases {
            let dtype = buf.dtype();
            let s = Storage::new(buf);
            assert_eq!(matches!(s.cell, Cell::Inline(_)), inline, "{dtype:?} × {len}");
            let r = s.read();
            assert_eq!((r.dtype(), r.len()), (dtype, len));
            assert_eq!(matches!(*r, Buffer::Small(_)), inline);
        }
        assert_eq!(bool::slice(&Storage::new(Buffer::Bool(vec![true, false])).read()), Some(&[true, false][..]));
    }
}
