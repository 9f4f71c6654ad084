//! Reference-counted, lockable buffers shared by a tensor and all of its views.

use crate::dtype::{DType, Element};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The elements of a storage, one variant per dtype.
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
}

impl Buffer {
    /// The dtype of the elements.
    pub fn dtype(&self) -> DType {
        match self {
            Buffer::F32(_) => DType::F32,
            Buffer::F64(_) => DType::F64,
            Buffer::I64(_) => DType::I64,
            Buffer::Bool(_) => DType::Bool,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Buffer::F32(v) => v.len(),
            Buffer::F64(v) => v.len(),
            Buffer::I64(v) => v.len(),
            Buffer::Bool(v) => v.len(),
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
                    _ => None,
                }
            }
            fn slice_mut(b: &mut Buffer) -> Option<&mut [Self]> {
                match b {
                    Buffer::$v(v) => Some(v),
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
    pub fn new(buf: Buffer) -> Storage {
        crate::counter::STORAGES.inc();
        Storage { buf: RwLock::new(buf), version: AtomicU64::new(0) }
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
