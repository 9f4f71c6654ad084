//! [`RawTensor`]: a dtype-tagged strided view of a storage, with no autograd.

use crate::dtype::{DType, Element, Float};
use crate::error::{Error, Result};
use crate::iter::for_each_row_n;
use crate::layout::Layout;
use crate::storage::{Buffer, BufferElement, Storage, StorageRef};

/// A strided view of a shared storage. Cloning shares the storage.
///
/// This is the kernel layer's tensor: it computes, it never records a graph.
///
/// ```
/// use nabla_tensor::RawTensor;
/// let a = RawTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// let t = a.transpose(0, 1);
/// assert_eq!(t.to_vec::<f32>(), vec![1.0, 3.0, 2.0, 4.0]);
/// ```
#[derive(Debug, Clone)]
pub struct RawTensor {
    storage: StorageRef,
    layout: Layout,
    dtype: DType,
}

impl RawTensor {
    /// A contiguous tensor owning `data`.
    ///
    /// # Panics
    /// If `data.len()` is not the product of `shape`.
    #[track_caller]
    pub fn from_vec<T: BufferElement>(data: Vec<T>, shape: &[usize]) -> RawTensor {
        Self::try_from_vec(data, shape).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`RawTensor::from_vec`], returning an error on a length mismatch.
    pub fn try_from_vec<T: BufferElement>(data: Vec<T>, shape: &[usize]) -> Result<RawTensor> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(Error::shape(
                "from_vec",
                format!("shape {shape:?} has {n} elements but the data has {}", data.len()),
                "the product of the shape must equal the number of values",
            ));
        }
        Ok(Self::from_buffer(T::into_buffer(data), Layout::contiguous(shape)))
    }

    /// A tensor over a new storage holding `buf`, viewed through `layout`.
    pub fn from_buffer(buf: Buffer, layout: Layout) -> RawTensor {
        let dtype = buf.dtype();
        RawTensor { storage: Storage::shared(buf), layout, dtype }
    }

    /// A tensor over a new storage of `dtype` elements (kernels that build their result's
    /// storage in place, [`Storage::shared_small`]).
    pub(crate) fn from_storage(storage: StorageRef, layout: Layout, dtype: DType) -> RawTensor {
        debug_assert_eq!(storage.read().dtype(), dtype);
        RawTensor { storage, layout, dtype }
    }

    /// A view of this tensor's storage with another layout.
    pub fn with_layout(&self, layout: Layout) -> RawTensor {
        RawTensor { storage: self.storage.clone(), layout, dtype: self.dtype }
    }

    /// A tensor of `shape` filled with `value`.
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> RawTensor {
        let n: usize = shape.iter().product();
        let buf = match dtype {
            DType::F32 => Buffer::F32(crate::pool::alloc_filled(n, value as f32)),
            DType::F64 => Buffer::F64(crate::pool::alloc_filled(n, value)),
            DType::I64 => Buffer::I64(vec![value as i64; n]),
            DType::Bool => Buffer::Bool(vec![value != 0.0; n]),
        };
        Self::from_buffer(buf, Layout::contiguous(shape))
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize], dtype: DType) -> RawTensor {
        Self::full(shape, 0.0, dtype)
    }

    /// The storage (shared by all views).
    pub fn storage(&self) -> &StorageRef {
        &self.storage
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.layout.shape()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    /// Whether `self` and `other` view the same storage.
    pub fn same_storage(&self, other: &RawTensor) -> bool {
        StorageRef::ptr_eq(&self.storage, &other.storage)
    }

    /// Swaps two dimensions (a view).
    pub fn transpose(&self, a: usize, b: usize) -> RawTensor {
        self.with_layout(self.layout.transpose(a, b))
    }

    /// Runs `f` on the elements as `&[T]` (the whole storage) and the layout.
    ///
    /// # Panics
    /// If `T` is not this tensor's element type (a bug in the caller).
    pub fn with_slice<T: BufferElement, R>(&self, f: impl FnOnce(&[T], &Layout) -> R) -> R {
        let guard = self.storage.read();
        let s = T::slice(&guard)
            .unwrap_or_else(|| panic!("internal: expected {:?} buffer, found {:?}", T::DTYPE, self.dtype));
        f(s, &self.layout)
    }

    /// Runs `f` on the elements as `&mut [T]` and the layout (in-place kernels); bumps the
    /// version counter.
    pub fn with_slice_mut<T: BufferElement, R>(&self, f: impl FnOnce(&mut [T], &Layout) -> R) -> R {
        let mut guard = self.storage.write();
        let s = guard.slice_mut::<T>().unwrap_or_else(|| panic!("internal: expected {:?} buffer", T::DTYPE));
        let r = f(s, &self.layout);
        drop(guard);
        self.storage.bump_version();
        r
    }

    /// The elements in row-major order, converted to `T`.
    ///
    /// ```
    /// let a = nabla_tensor::RawTensor::from_vec(vec![1i64, 2, 3], &[3]);
    /// assert_eq!(a.to_vec::<f64>(), vec![1.0, 2.0, 3.0]);
    /// ```
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        fn collect<S: BufferElement, T: Element>(r: &RawTensor) -> Vec<T> {
            r.with_slice::<S, _>(|s, l| {
                if let Some(range) = l.contiguous_range() {
                    if S::DTYPE == T::DTYPE {
                        // Same type: a plain copy (transmute-free through to_f64 would lose i64 precision).
                        return s[range].iter().map(|&v| unsafe_same::<S, T>(v)).collect();
                    }
                    s[range].iter().map(|&v| T::from_f64(v.to_f64())).collect()
                } else {
                    l.indices()
                        .map(
                            |i| {
                                if S::DTYPE == T::DTYPE {
                                    unsafe_same::<S, T>(s[i])
                                } else {
                                    T::from_f64(s[i].to_f64())
                                }
                            },
                        )
                        .collect()
                }
            })
        }
        match self.dtype {
            DType::F32 => collect::<f32, T>(self),
            DType::F64 => collect::<f64, T>(self),
            DType::I64 => collect::<i64, T>(self),
            DType::Bool => collect::<bool, T>(self),
        }
    }

    /// The elements as a contiguous `Vec<T>` where `T` is exactly the element type.
    pub fn to_vec_exact<T: BufferElement>(&self) -> Vec<T> {
        self.with_slice::<T, _>(|s, l| {
            let mut out = crate::pool::alloc::<T>(l.numel());
            match l.contiguous_range() {
                Some(r) => out.extend_from_slice(&s[r]),
                None => for_each_row_n(l.shape(), [l.strides()], [l.offset()], |p, st, n| {
                    if st[0] == 1 {
                        out.extend_from_slice(&s[p[0]..p[0] + n]);
                    } else {
                        out.extend((0..n).map(|i| s[p[0] + i * st[0]]));
                    }
                }),
            }
            out
        })
    }

    /// A contiguous copy, or `self` if already contiguous and starting at offset 0 of a
    /// storage of exactly its size.
    pub fn contiguous(&self) -> RawTensor {
        if self.is_compact() {
            return self.clone();
        }
        self.copy()
    }

    /// Whether the layout is contiguous (any offset).
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// Contiguous, offset 0, covering its whole storage.
    pub fn is_compact(&self) -> bool {
        self.layout.is_contiguous() && self.layout.offset() == 0 && self.storage.len() == self.numel()
    }

    /// A contiguous copy into a new storage.
    pub fn copy(&self) -> RawTensor {
        // a packed view of a whole inline storage: its bytes, as they are
        if self.layout.is_contiguous() && self.layout.offset() == 0 {
            if let Some(storage) = self.storage.copy_small(self.numel()) {
                return Self::from_storage(storage, self.layout.contiguous_like(), self.dtype);
            }
        }
        // a few elements go inline (no heap allocation), as kernels' results do
        fn small<T: BufferElement>(r: &RawTensor) -> Option<StorageRef> {
            r.with_slice::<T, _>(|s, l| {
                Storage::shared_small::<T>(l.numel(), |dst| match l.contiguous_range() {
                    Some(range) => dst.copy_from_slice(&s[range]),
                    None => dst.iter_mut().zip(l.indices()).for_each(|(d, i)| *d = s[i]),
                })
            })
        }
        let small = match self.dtype {
            DType::F32 => small::<f32>(self),
            DType::F64 => small::<f64>(self),
            DType::I64 => small::<i64>(self),
            DType::Bool => small::<bool>(self),
        };
        if let Some(storage) = small {
            return Self::from_storage(storage, self.layout.contiguous_like(), self.dtype);
        }
        let buf = match self.dtype {
            DType::F32 => Buffer::F32(self.to_vec_exact::<f32>()),
            DType::F64 => Buffer::F64(self.to_vec_exact::<f64>()),
            DType::I64 => Buffer::I64(self.to_vec_exact::<i64>()),
            DType::Bool => Buffer::Bool(self.to_vec_exact::<bool>()),
        };
        Self::from_buffer(buf, Layout::contiguous(self.shape()))
    }

    /// Converts to another dtype (a copy; `self` if the dtype is already `dtype`).
    pub fn to_dtype(&self, dtype: DType) -> RawTensor {
        if dtype == self.dtype {
            return self.clone();
        }
        let buf = match dtype {
            DType::F32 => Buffer::F32(self.to_vec::<f32>()),
            DType::F64 => Buffer::F64(self.to_vec::<f64>()),
            DType::I64 => Buffer::I64(self.to_vec::<i64>()),
            DType::Bool => Buffer::Bool(self.to_vec::<bool>()),
        };
        Self::from_buffer(buf, Layout::contiguous(self.shape()))
    }

    /// The single element as f64.
    ///
    /// # Panics
    /// If the tensor does not have exactly one element.
    #[track_caller]
    pub fn item(&self) -> f64 {
        assert!(
            self.numel() == 1,
            "item: a Tensor with {} elements cannot be converted to Scalar (shape {:?}); \
             hint: reduce it first (sum(), mean()) or take one element with narrow",
            self.numel(),
            self.shape()
        );
        self.to_vec::<f64>()[0]
    }

    /// Copies `src` (same shape, same dtype) into `self` in place, element by element.
    pub fn copy_from(&self, src: &RawTensor) {
        let src = if self.same_storage(src) { src.copy() } else { src.clone() };
        fn go<T: BufferElement>(dst: &RawTensor, src: &RawTensor) {
            let s = src.storage.read();
            let sv = T::slice(&s).expect("copy_from dtype");
            let sl = src.layout.clone();
            dst.with_slice_mut::<T, _>(|d, dl| {
                for_each_row_n(dl.shape(), [dl.strides(), sl.strides()], [dl.offset(), sl.offset()], |p, st, n| {
                    for i in 0..n {
                        d[p[0] + i * st[0]] = sv[p[1] + i * st[1]];
                    }
                });
            });
        }
        let src = src.to_dtype(self.dtype);
        match self.dtype {
            DType::F32 => go::<f32>(self, &src),
            DType::F64 => go::<f64>(self, &src),
            DType::I64 => go::<i64>(self, &src),
            DType::Bool => go::<bool>(self, &src),
        }
    }

    /// Sets every element viewed by `self` to `value`, in place.
    pub fn fill_(&self, value: f64) {
        fn go<T: BufferElement>(t: &RawTensor, v: T) {
            t.with_slice_mut::<T, _>(|d, l| {
                for_each_row_n(l.shape(), [l.strides()], [l.offset()], |p, st, n| {
                    for i in 0..n {
                        d[p[0] + i * st[0]] = v;
                    }
                })
            })
        }
        match self.dtype {
            DType::F32 => go::<f32>(self, value as f32),
            DType::F64 => go::<f64>(self, value),
            DType::I64 => go::<i64>(self, value as i64),
            DType::Bool => go::<bool>(self, value != 0.0),
        }
    }

    /// Whether any element is NaN or infinite (false for integer and bool tensors).
    pub fn has_non_finite(&self) -> bool {
        match self.dtype {
            DType::F32 => self.with_slice::<f32, _>(any_non_finite),
            DType::F64 => self.with_slice::<f64, _>(any_non_finite),
            _ => false,
        }
    }
}

fn any_non_finite<T: Float>(s: &[T], l: &Layout) -> bool {
    match l.contiguous_range() {
        Some(r) => s[r].iter().any(|v| !v.is_finite()),
        None => l.indices().any(|i| !s[i].is_finite()),
    }
}

#[inline(always)]
fn unsafe_same<S: Element, T: Element>(v: S) -> T {
    debug_assert_eq!(S::DTYPE, T::DTYPE);
    // SAFETY: S and T are the same type (same DTYPE and every DTYPE has one Rust type).
    unsafe { std::mem::transmute_copy::<S, T>(&v) }
}
