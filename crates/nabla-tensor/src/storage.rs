//! Reference-counted, lockable buffers shared by a tensor and all of its views.

use crate::dtype::{DType, Element};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

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

    fn slice<T: BufferElement>(&self) -> Option<&[T]> {
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
#[derive(Debug)]
pub struct Storage {
    buf: RwLock<Buffer>,
    version: AtomicU64,
}

impl Storage {
    /// A new storage owning `buf`, at version 0.
    #[inline]
    pub fn new(buf: Buffer) -> Storage {
        crate::counter::STORAGES.inc();
        Storage { buf: RwLock::new(buf), version: AtomicU64::new(0) }
    }

    /// A new shared storage owning `buf`, at version 0, built in its allocation (see
    /// [`crate::arc`]).
    ///
    /// ```
    /// use nabla_tensor::{Buffer, Storage};
    /// let s = Storage::shared(Buffer::F64(vec![1.0, 2.0]));
    /// assert_eq!(s.read().len(), 2);
    /// ```
    pub fn shared(buf: Buffer) -> Arc<Storage> {
        crate::arc::new_in_place(|slot| {
            let s = slot.write(Storage::empty());
            // the placeholder owns nothing: forgetting it skips a call to drop it
            std::mem::forget(std::mem::replace(s.buf.get_mut().unwrap_or_else(|e| e.into_inner()), buf));
            s
        })
    }

    /// A storage of no elements, to put the real buffer in afterwards with `get_mut`:
    /// `RwLock::new(buf)` builds the lock on the stack and copies it, buffer and padding
    /// together, at an odd offset, which reloads the buffer's just-written bytes with loads
    /// that straddle its stores (each stalls until the stores land).
    #[inline]
    fn empty() -> Storage {
        Storage::new(Buffer::Bool(Vec::new()))
    }

    /// A new shared storage of `n` elements of `T` kept inline ([`Buffer::Small`]), written
    /// by `fill` where they lie; `None` when `n` elements do not fit.
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
    pub fn shared_small<T: BufferElement>(n: usize, fill: impl FnOnce(&mut [T])) -> Option<Arc<Storage>> {
        if n * std::mem::size_of::<T>() > SmallBuffer::BYTES {
            return None;
        }
        Some(crate::arc::new_in_place(|slot| {
            let s = slot.write(Storage::empty());
            let buf = s.buf.get_mut().unwrap_or_else(|e| e.into_inner());
            // made here rather than by `SmallBuffer::zeroed`, whose `Option<Buffer>` is built
            // apart and moved in (1.6 % more instructions on `tiny_ops`)
            let small = Buffer::Small(SmallBuffer { dtype: T::DTYPE, len: n as u8, data: [0; 2] });
            std::mem::forget(std::mem::replace(buf, small)); // as in `shared`
            fill(T::slice_mut(buf).expect("a small buffer of T"));
            s
        }))
    }

    /// Shared access to the elements.
    pub fn read(&self) -> RwLockReadGuard<'_, Buffer> {
        self.buf.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Exclusive access to the elements (in-place operations).
    pub fn write(&self) -> RwLockWriteGuard<'_, Buffer> {
        self.buf.write().unwrap_or_else(|e| e.into_inner())
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

impl Drop for Storage {
    fn drop(&mut self) {
        crate::counter::STORAGES.dec();
        let buf = std::mem::replace(self.buf.get_mut().unwrap_or_else(|e| e.into_inner()), Buffer::Bool(Vec::new()));
        crate::pool::release(buf);
    }
}
