//! Element-wise kernels: one generic driver per arity; an op only says what it computes
//! per element (`UnaryKernel::f`, `BinaryKernel::f`).

use crate::dtype::{DType, Float};
use crate::error::{Error, Result};
use crate::iter::for_each_row_n;
use crate::layout::{broadcast_shapes, same_shape, Layout};
use crate::raw::RawTensor;
use crate::storage::{Buffer, BufferElement, SmallBuffer, Storage, StorageRef};
use std::mem::MaybeUninit;

/// Element counts above which kernels split the work over the thread pool.
pub const PARALLEL_THRESHOLD: usize = 1 << 15;

/// A function of one float, applied element by element.
///
/// ```
/// use nabla_tensor::{elementwise::UnaryKernel, Float, RawTensor};
/// struct Square;
/// impl UnaryKernel for Square { fn f<T: Float>(&self, x: T) -> T { x * x } }
/// let a = RawTensor::from_vec(vec![1.0f64, -2.0], &[2]);
/// assert_eq!(a.map("square", &Square).unwrap().to_vec::<f64>(), vec![1.0, 4.0]);
/// ```
pub trait UnaryKernel: Sync {
    /// The value at one element.
    fn f<T: Float>(&self, x: T) -> T;
}

/// A function of two floats, applied element by element after broadcasting.
///
/// ```
/// use nabla_tensor::{elementwise::BinaryKernel, Float, RawTensor};
/// struct Add;
/// impl BinaryKernel for Add { fn f<T: Float>(&self, a: T, b: T) -> T { a + b } }
/// let a = RawTensor::from_vec(vec![1.0f32, 2.0], &[2, 1]);
/// let b = RawTensor::from_vec(vec![10.0f32, 20.0, 30.0], &[3]);
/// assert_eq!(a.zip("add", &b, &Add).unwrap().shape(), &[2, 3]);
/// ```
pub trait BinaryKernel: Sync {
    /// The value at one element.
    fn f<T: Float>(&self, a: T, b: T) -> T;
}

/// A comparison producing a boolean mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `a == b`
    Eq,
    /// `a != b`
    Ne,
    /// `a < b`
    Lt,
    /// `a <= b`
    Le,
    /// `a > b`
    Gt,
    /// `a >= b`
    Ge,
}

impl CmpOp {
    fn apply(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
}

fn float_error(op: &'static str, d: DType) -> Error {
    Error::DType { op, msg: format!("expected a floating-point tensor (float32 or float64), got {d}") }
}

/// Elements per part when a kernel is split over the threads: one equal share each
/// (a multiple of 16, so parts start on a 64-byte boundary of an aligned buffer).
fn part_len(n: usize) -> usize {
    n.div_ceil(crate::team::size()).next_multiple_of(16)
}

// The inner loops take their output as `&mut [MaybeUninit<T>]`: a `&mut` slice cannot alias
// the kernel's own fields (a scalar operand, a slope), so the compiler keeps those in
// registers and vectorises the loop. Collecting from an iterator into a `Vec` did not: a
// scalar multiply reloaded its factor for every element and ran at half the speed of relu.

fn map_into<T: Float, K: UnaryKernel>(k: &K, x: &[T], out: &mut [MaybeUninit<T>]) {
    for (o, &x) in out.iter_mut().zip(x) {
        o.write(k.f(x));
    }
}

fn zip_into<T: Float, K: BinaryKernel>(k: &K, a: &[T], b: &[T], out: &mut [MaybeUninit<T>]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        o.write(k.f(x, y));
    }
}

fn zip_splat_b_into<T: Float, K: BinaryKernel>(k: &K, a: &[T], y: T, out: &mut [MaybeUninit<T>]) {
    for (o, &x) in out.iter_mut().zip(a) {
        o.write(k.f(x, y));
    }
}

fn zip_splat_a_into<T: Float, K: BinaryKernel>(k: &K, x: T, b: &[T], out: &mut [MaybeUninit<T>]) {
    for (o, &y) in out.iter_mut().zip(b) {
        o.write(k.f(x, y));
    }
}

fn zip_assign_into<T: Float, K: BinaryKernel>(k: &K, a: &mut [T], b: &[T]) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = k.f(*x, y);
    }
}

/// `k` on an operand packed in an inline storage (a few elements), on a copy of its bytes:
/// [`zip_small`]'s one-operand twin.
#[inline]
fn map_small<K: UnaryKernel>(a: &RawTensor, k: &K) -> Option<RawTensor> {
    let r = a.layout().contiguous_range()?;
    let sa = a.storage().small()?;
    fn go<T: Float>(sa: &SmallBuffer, r: std::ops::Range<usize>, k: &impl UnaryKernel) -> Option<StorageRef> {
        let x = &sa.slice::<T>()?[r];
        Storage::shared_small::<T>(x.len(), |out| {
            for (o, &p) in out.iter_mut().zip(x) {
                *o = k.f(p);
            }
        })
    }
    let storage = match a.dtype() {
        DType::F32 => go::<f32>(&sa, r, k)?,
        DType::F64 => go::<f64>(&sa, r, k)?,
        _ => return None,
    };
    Some(RawTensor::from_storage(storage, a.layout().contiguous_like(), a.dtype()))
}

/// `k` on two operands of one dtype and shape, packed in inline storages (a few elements
/// each): on copies of their bytes, with no guard, buffer match or vector loop around
/// them. Most ops of a graph over scalars come here.
#[inline]
fn zip_small<K: BinaryKernel>(a: &RawTensor, b: &RawTensor, k: &K) -> Option<RawTensor> {
    if a.dtype() != b.dtype() || !same_shape(a.shape(), b.shape()) {
        return None;
    }
    let (ra, rb) = (a.layout().contiguous_range()?, b.layout().contiguous_range()?);
    let (sa, sb) = (a.storage().small()?, b.storage().small()?);
    fn go<T: Float>(
        sa: &SmallBuffer,
        sb: &SmallBuffer,
        ra: std::ops::Range<usize>,
        rb: std::ops::Range<usize>,
        k: &impl BinaryKernel,
    ) -> Option<StorageRef> {
        let (x, y) = (&sa.slice::<T>()?[ra], &sb.slice::<T>()?[rb]);
        Storage::shared_small::<T>(x.len(), |out| {
            for ((o, &p), &q) in out.iter_mut().zip(x).zip(y) {
                *o = k.f(p, q);
            }
        })
    }
    let storage = match a.dtype() {
        DType::F32 => go::<f32>(&sa, &sb, ra, rb, k)?,
        DType::F64 => go::<f64>(&sa, &sb, ra, rb, k)?,
        _ => return None,
    };
    Some(RawTensor::from_storage(storage, a.layout().contiguous_like(), a.dtype()))
}

/// A storage of `n` elements, element `i` written by `fill(i0.., out)` for the chunk
/// starting at `i0`: kept inline and written in place when it is a few elements
/// ([`Storage::shared_small`]: no buffer allocation, nothing moved), else a vector from the
/// pool, whose chunks run on the thread pool when `n` is large.
fn filled<T: Float>(n: usize, fill: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync) -> crate::storage::StorageRef {
    let small = Storage::shared_small::<T>(n, |out| {
        // SAFETY: `MaybeUninit<T>` has `T`'s layout, and `fill` only writes initialised
        // values into the chunk (the inner loops `write` every element).
        fill(0, unsafe { &mut *(out as *mut [T] as *mut [MaybeUninit<T>]) })
    });
    small.unwrap_or_else(|| Storage::shared(T::into_buffer(filled_vec(n, fill))))
}

/// [`filled`] into a vector from the pool.
fn filled_vec<T: Float>(n: usize, fill: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync) -> Vec<T> {
    let mut out = crate::pool::alloc::<T>(n);
    let spare = &mut out.spare_capacity_mut()[..n];
    if n >= PARALLEL_THRESHOLD {
        let per = part_len(n);
        crate::team::run_parts(spare.chunks_mut(per), |i, c| fill(i * per, c));
    } else {
        fill(0, spare);
    }
    // SAFETY: every `fill` above writes all elements of the chunk it is given (the inner
    // loops zip the chunk with input slices of at least its length), and the chunks cover
    // `0..n`, so the first `n` elements are initialised.
    unsafe { out.set_len(n) };
    out
}

fn map_t<T: Float, K: UnaryKernel>(a: &RawTensor, k: &K) -> RawTensor {
    let out = a.with_slice::<T, _>(|s, l| {
        if let Some(r) = l.contiguous_range() {
            let s = &s[r];
            filled(s.len(), |i0, out| map_into(k, &s[i0..i0 + out.len()], out))
        } else {
            let mut out = crate::pool::alloc::<T>(l.numel());
            for_each_row_n(l.shape(), [l.strides()], [l.offset()], |p, st, n| {
                out.extend((0..n).map(|i| k.f(s[p[0] + i * st[0]])));
            });
            Storage::shared(T::into_buffer(out))
        }
    });
    RawTensor::from_storage(out, a.layout().contiguous_like(), T::DTYPE)
}

fn zip_t<T: Float, K: BinaryKernel>(a: &RawTensor, b: &RawTensor, shape: &[usize], k: &K) -> Result<RawTensor> {
    let la = a.layout().broadcast_to("zip", shape)?;
    let lb = b.layout().broadcast_to("zip", shape)?;
    let n: usize = shape.iter().product();
    let out = a.with_slice::<T, _>(|sa, _| {
        b.with_slice::<T, _>(|sb, _| {
            if let (Some(ra), Some(rb)) = (la.contiguous_range(), lb.contiguous_range()) {
                let (xa, xb) = (&sa[ra], &sb[rb]);
                return filled(n, |i0, out| zip_into(k, &xa[i0..i0 + out.len()], &xb[i0..i0 + out.len()], out));
            }
            // One side a single value broadcast everywhere (a scalar, or the expanded gradient of
            // a sum): a map over the other side, without the strided walk.
            let splat = |l: &Layout| n > 0 && l.strides().iter().all(|&st| st == 0);
            if let (Some(ra), true) = (la.contiguous_range(), splat(&lb)) {
                let (xa, y) = (&sa[ra], sb[lb.offset()]);
                return filled(n, |i0, out| zip_splat_b_into(k, &xa[i0..i0 + out.len()], y, out));
            }
            if let (true, Some(rb)) = (splat(&la), lb.contiguous_range()) {
                let (x, xb) = (sa[la.offset()], &sb[rb]);
                return filled(n, |i0, out| zip_splat_a_into(k, x, &xb[i0..i0 + out.len()], out));
            }
            let out_strides = crate::layout::contiguous_strides(shape);
            if n >= PARALLEL_THRESHOLD {
                let mut out = crate::pool::alloc_filled(n, T::zero());
                crate::iter::par_fill_rows(
                    &mut out,
                    shape,
                    [&out_strides, la.strides(), lb.strides()],
                    [0, la.offset(), lb.offset()],
                    |o, p, st, len| {
                        for i in 0..len {
                            o[p[0] + i * st[0]] = k.f(sa[p[1] + i * st[1]], sb[p[2] + i * st[2]]);
                        }
                    },
                );
                return Storage::shared(T::into_buffer(out));
            }
            let mut out = crate::pool::alloc::<T>(n);
            for_each_row_n(shape, [la.strides(), lb.strides()], [la.offset(), lb.offset()], |p, st, len| {
                match (st[0], st[1]) {
                    (1, 1) => {
                        out.extend(sa[p[0]..p[0] + len].iter().zip(&sb[p[1]..p[1] + len]).map(|(&x, &y)| k.f(x, y)))
                    }
                    (1, 0) => {
                        let y = sb[p[1]];
                        out.extend(sa[p[0]..p[0] + len].iter().map(|&x| k.f(x, y)))
                    }
                    (0, 1) => {
                        let x = sa[p[0]];
                        out.extend(sb[p[1]..p[1] + len].iter().map(|&y| k.f(x, y)))
                    }
                    _ => out.extend((0..len).map(|i| k.f(sa[p[0] + i * st[0]], sb[p[1] + i * st[1]]))),
                }
            });
            Storage::shared(T::into_buffer(out))
        })
    });
    Ok(RawTensor::from_storage(out, Layout::contiguous(shape), T::DTYPE))
}

fn zip_assign_t<T: Float, K: BinaryKernel>(a: &RawTensor, b: &RawTensor, k: &K) -> Result<()> {
    let b = if a.same_storage(b) { b.copy() } else { b.clone() };
    let lb = b.layout().broadcast_to("inplace", a.shape())?;
    let guard = b.storage().read();
    let sb = T::slice(&guard).expect("zip_assign dtype");
    a.with_slice_mut::<T, _>(|sa, la| {
        if let (Some(ra), Some(rb)) = (la.contiguous_range(), lb.contiguous_range()) {
            let (xa, xb) = (&mut sa[ra], &sb[rb]);
            if xa.len() >= PARALLEL_THRESHOLD {
                let per = part_len(xa.len());
                crate::team::run_parts(xa.chunks_mut(per).zip(xb.chunks(per)), |_, (x, y)| zip_assign_into(k, x, y));
            } else {
                zip_assign_into(k, xa, xb);
            }
            return;
        }
        for_each_row_n(la.shape(), [la.strides(), lb.strides()], [la.offset(), lb.offset()], |p, st, len| {
            for i in 0..len {
                let ia = p[0] + i * st[0];
                sa[ia] = k.f(sa[ia], sb[p[1] + i * st[1]]);
            }
        });
    });
    Ok(())
}

impl RawTensor {
    /// Applies `k` to every element (float tensors only).
    pub fn map<K: UnaryKernel>(&self, op: &'static str, k: &K) -> Result<RawTensor> {
        if let Some(out) = map_small(self, k) {
            return Ok(out);
        }
        match self.dtype() {
            DType::F32 => Ok(map_t::<f32, K>(self, k)),
            DType::F64 => Ok(map_t::<f64, K>(self, k)),
            d => Err(float_error(op, d)),
        }
    }

    /// Applies `k` to pairs of elements after broadcasting. Both operands must have the
    /// same float dtype (promotion is the caller's job).
    pub fn zip<K: BinaryKernel>(&self, op: &'static str, other: &RawTensor, k: &K) -> Result<RawTensor> {
        if let Some(out) = zip_small(self, other, k) {
            return Ok(out);
        }
        if self.dtype() == other.dtype() && same_shape(self.shape(), other.shape()) && self.numel() < PARALLEL_THRESHOLD
        {
            // the common small case: same shape, both packed; no broadcasting bookkeeping
            if let (Some(ra), Some(rb)) = (self.layout().contiguous_range(), other.layout().contiguous_range()) {
                fn same<T: Float>(
                    a: &RawTensor,
                    b: &RawTensor,
                    ra: std::ops::Range<usize>,
                    rb: std::ops::Range<usize>,
                    k: &impl BinaryKernel,
                ) -> RawTensor {
                    let out = a.with_slice::<T, _>(|sa, _| {
                        b.with_slice::<T, _>(|sb, _| {
                            let (xa, xb) = (&sa[ra], &sb[rb]);
                            filled(xa.len(), |i0, out| {
                                zip_into(k, &xa[i0..i0 + out.len()], &xb[i0..i0 + out.len()], out)
                            })
                        })
                    });
                    RawTensor::from_storage(out, a.layout().contiguous_like(), T::DTYPE)
                }
                match self.dtype() {
                    DType::F32 => return Ok(same::<f32>(self, other, ra, rb, k)),
                    DType::F64 => return Ok(same::<f64>(self, other, ra, rb, k)),
                    _ => {}
                }
            }
        }
        let shape = broadcast_shapes(op, self.shape(), other.shape())?;
        if self.dtype() != other.dtype() {
            return Err(Error::DType {
                op,
                msg: format!("operands have dtypes {} and {}; convert one with to_dtype", self.dtype(), other.dtype()),
            });
        }
        match self.dtype() {
            DType::F32 => zip_t::<f32, K>(self, other, &shape, k),
            DType::F64 => zip_t::<f64, K>(self, other, &shape, k),
            d => Err(float_error(op, d)),
        }
    }

    /// In place: `self[i] = k(self[i], other[i])`, with `other` broadcast to `self`'s shape.
    /// Bumps the version counter.
    pub fn zip_assign<K: BinaryKernel>(&self, op: &'static str, other: &RawTensor, k: &K) -> Result<()> {
        let other = other.to_dtype(self.dtype());
        other.layout().broadcast_to(op, self.shape()).map_err(|_| {
            Error::shape(
                op,
                format!(
                    "output with shape {:?} doesn't match the broadcast shape {:?}",
                    self.shape(),
                    broadcast_shapes(op, self.shape(), other.shape())
                        .map(|s| s.to_vec())
                        .unwrap_or_else(|_| other.shape().to_vec())
                ),
                "an in-place op cannot change the shape of its tensor; use the out-of-place op",
            )
        })?;
        match self.dtype() {
            DType::F32 => zip_assign_t::<f32, K>(self, &other, k),
            DType::F64 => zip_assign_t::<f64, K>(self, &other, k),
            d => Err(float_error(op, d)),
        }
    }

    /// Element-wise comparison after broadcasting, giving a boolean mask.
    pub fn compare(&self, op: &'static str, other: &RawTensor, cmp: CmpOp) -> Result<RawTensor> {
        let shape = broadcast_shapes(op, self.shape(), other.shape())?;
        let a = self.layout().broadcast_to(op, &shape)?;
        let b = other.layout().broadcast_to(op, &shape)?;
        let va = self.with_layout(a).to_vec::<f64>();
        let vb = other.with_layout(b).to_vec::<f64>();
        let out: Vec<bool> = va.iter().zip(&vb).map(|(&x, &y)| cmp.apply(x, y)).collect();
        Ok(RawTensor::from_buffer(Buffer::Bool(out), Layout::contiguous(&shape)))
    }

    /// `mask ? a : b` element-wise after broadcasting all three; `a` and `b` must share a dtype.
    pub fn where_cond(mask: &RawTensor, a: &RawTensor, b: &RawTensor) -> Result<RawTensor> {
        let op = "where";
        if mask.dtype() != DType::Bool {
            return Err(Error::DType {
                op,
                msg: format!(
                    "where expected condition to be a boolean tensor, but got a tensor with dtype {}; \
                     hint: make one with a comparison (x.gt(0.0)) or convert it with to_dtype(DType::Bool)",
                    mask.dtype()
                ),
            });
        }
        let s1 = broadcast_shapes(op, a.shape(), b.shape())?;
        let shape = broadcast_shapes(op, mask.shape(), &s1)?;
        let m = mask.with_layout(mask.layout().broadcast_to(op, &shape)?).to_vec::<bool>();
        fn sel<T: BufferElement>(m: &[bool], a: &RawTensor, b: &RawTensor, shape: &[usize]) -> Result<RawTensor> {
            let va = a.with_layout(a.layout().broadcast_to("where", shape)?).to_vec_exact::<T>();
            let vb = b.with_layout(b.layout().broadcast_to("where", shape)?).to_vec_exact::<T>();
            let out: Vec<T> = m.iter().zip(va).zip(vb).map(|((&c, x), y)| if c { x } else { y }).collect();
            Ok(RawTensor::from_buffer(T::into_buffer(out), Layout::contiguous(shape)))
        }
        if a.dtype() != b.dtype() {
            return Err(Error::DType {
                op,
                msg: format!("expected a and b to have the same dtype, got {} and {}", a.dtype(), b.dtype()),
            });
        }
        match a.dtype() {
            DType::F32 => sel::<f32>(&m, a, b, &shape),
            DType::F64 => sel::<f64>(&m, a, b, &shape),
            DType::I64 => sel::<i64>(&m, a, b, &shape),
            DType::Bool => sel::<bool>(&m, a, b, &shape),
        }
    }
}
