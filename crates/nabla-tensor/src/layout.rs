//! Shapes, strides and offsets: how a tensor's elements sit in its storage.
//!
//! Views (transpose, permute, expand, narrow, squeeze, …) only change the layout; the
//! storage is shared. A stride of 0 repeats an element (broadcasting).

use crate::error::{Error, Result};
use smallvec::SmallVec;

/// Dimension sizes. Up to four dimensions live inline without allocation (more spill to the
/// heap; four keeps layouts small enough that moving one is cheap).
pub type Shape = SmallVec<[usize; 4]>;
/// Element strides per dimension (0 for broadcast dimensions).
pub type Strides = SmallVec<[usize; 4]>;

/// Shape, strides and offset of a tensor view into its storage.
///
/// ```
/// use nabla_tensor::Layout;
/// let l = Layout::contiguous(&[2, 3]);
/// assert_eq!(l.strides(), &[3, 1]);
/// let t = l.transpose(0, 1);
/// assert_eq!(t.shape(), &[3, 2]);
/// assert!(!t.is_contiguous());
/// ```
#[derive(PartialEq, Eq)]
pub struct Layout {
    shape: Shape,
    strides: Strides,
    /// The offset, with [`PACKED`] set when the elements are packed in row-major order and
    /// [`ROW_MAJOR`] when the strides are also exactly [`contiguous_strides`]' (worked out
    /// once, when the layout is made: kernels ask on every call; kept in the offset's top
    /// bits so that a layout stays 88 bytes).
    offset: usize,
}

/// The bit of `Layout::offset` saying the layout is contiguous (offsets stay below 2⁶²).
const PACKED: usize = 1 << (usize::BITS - 1);
/// The bit of `Layout::offset` saying the layout is packed with the strides
/// [`contiguous_strides`] gives, size-1 dimensions included (what a new tensor has).
const ROW_MAJOR: usize = 1 << (usize::BITS - 2);
/// The flag bits of `Layout::offset`.
const FLAGS: usize = PACKED | ROW_MAJOR;

impl std::fmt::Debug for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layout")
            .field("shape", &&self.shape[..])
            .field("strides", &&self.strides[..])
            .field("offset", &self.offset())
            .finish()
    }
}

impl Clone for Layout {
    /// A copy of the dimensions (`SmallVec`'s own `clone` goes element by element through
    /// `Extend`; a layout is cloned for nearly every op, so a layout whose dimensions are
    /// inline is copied as one block of bytes, and spilled dimensions as slices).
    #[inline]
    fn clone(&self) -> Layout {
        if !self.shape.spilled() && !self.strides.spilled() {
            // SAFETY: with both dimension vectors inline the layout owns no heap memory, so
            // a bitwise copy is a second, independent layout with the same contents (the
            // inline slots past a vector's length are `MaybeUninit`, copied as they are).
            return unsafe { std::ptr::read(self) };
        }
        Layout { shape: copy_dims(&self.shape), strides: copy_dims(&self.strides), offset: self.offset }
    }
}

/// A copy of a shape or strides: the whole inline block (four words, whatever the length)
/// when the dimensions are inline, which needs no loop or length-dependent copy.
#[inline]
fn copy_dims(v: &Shape) -> Shape {
    if v.spilled() {
        return Shape::from_slice(v);
    }
    // SAFETY: not spilled, so `as_ptr` points at the inline buffer, which is exactly an
    // `[usize; 4]`; it is read as `MaybeUninit` (slots past the length may be
    // uninitialised), and the first `len` slots, the only ones the new vector treats as
    // initialised, are initialised `usize`s.
    unsafe {
        let block = std::ptr::read(v.as_ptr().cast::<std::mem::MaybeUninit<[usize; 4]>>());
        Shape::from_buf_and_len_unchecked(block, v.len())
    }
}

/// Whether `shape` with `strides` is row-major packed (size-1 dimensions may have any
/// stride; an empty tensor counts as packed).
fn packed(shape: &[usize], strides: &[usize]) -> bool {
    if shape.contains(&0) {
        return true;
    }
    let mut expected = 1usize;
    for (&d, &st) in shape.iter().zip(strides).rev() {
        if d != 1 && st != expected {
            return false;
        }
        expected *= d;
    }
    true
}

/// Whether `strides` are exactly the row-major strides of `shape` ([`contiguous_strides`]).
fn row_major(shape: &[usize], strides: &[usize]) -> bool {
    let mut expected = 1usize;
    for (&d, &st) in shape.iter().zip(strides).rev() {
        if st != expected {
            return false;
        }
        expected *= d.max(1);
    }
    true
}

/// Row-major strides of a shape.
///
/// ```
/// assert_eq!(nabla_tensor::layout::contiguous_strides(&[2, 3, 4]).as_slice(), &[12, 4, 1]);
/// ```
pub fn contiguous_strides(shape: &[usize]) -> Strides {
    let mut strides = Strides::from_slice(shape);
    let mut s = 1usize;
    for (st, &d) in strides.iter_mut().zip(shape).rev() {
        *st = s;
        s *= d.max(1);
    }
    strides
}

/// Whether two shapes are equal; a loop instead of the `memcmp` call that slice equality
/// makes, which costs more than the comparison for the few dimensions of a shape.
///
/// ```
/// use nabla_tensor::layout::same_shape;
/// assert!(same_shape(&[2, 3], &[2, 3]));
/// assert!(!same_shape(&[2, 3], &[3, 2]) && !same_shape(&[6], &[6, 1]));
/// ```
#[inline]
pub fn same_shape(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The shape two shapes broadcast to (PyTorch rules: right-aligned, sizes equal or 1).
///
/// ```
/// use nabla_tensor::layout::broadcast_shapes;
/// assert_eq!(broadcast_shapes("add", &[4, 1], &[3]).unwrap().as_slice(), &[4, 3]);
/// assert!(broadcast_shapes("add", &[2, 16], &[3]).is_err());
/// ```
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Shape> {
    let n = a.len().max(b.len());
    let mut out: Shape = smallvec::smallvec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::Broadcast { op, lhs: a.to_vec(), rhs: b.to_vec(), dim: i });
        };
    }
    Ok(out)
}

impl Layout {
    /// A row-major layout of `shape` at offset 0.
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout { shape: Shape::from_slice(shape), strides: contiguous_strides(shape), offset: PACKED | ROW_MAJOR }
    }

    /// A layout from owned parts, with its contiguity worked out.
    fn made(shape: Shape, strides: Strides, offset: usize) -> Layout {
        let mut l = Layout { shape, strides, offset };
        l.set_packed();
        l
    }

    /// Works out the contiguity bit again (after a change of shape or strides).
    fn set_packed(&mut self) {
        let flags = if !packed(&self.shape, &self.strides) {
            0
        } else if row_major(&self.shape, &self.strides) {
            PACKED | ROW_MAJOR
        } else {
            PACKED
        };
        self.offset = (self.offset & !FLAGS) | flags;
    }

    /// A layout from its parts (no checks: the caller keeps it inside the storage).
    ///
    /// ```
    /// let l = nabla_tensor::Layout::from_parts(&[2], &[0], 5);
    /// assert_eq!(l.offset(), 5);
    /// ```
    pub fn from_parts(shape: &[usize], strides: &[usize], offset: usize) -> Layout {
        Layout::made(Shape::from_slice(shape), Strides::from_slice(strides), offset)
    }

    /// A row-major layout of the same shape at offset 0 (reusing this layout's strides when
    /// they already are row-major).
    pub fn contiguous_like(&self) -> Layout {
        // at offset 0 with the strides `contiguous_strides` gives (size-1 dimensions too)
        if self.offset == PACKED | ROW_MAJOR {
            return self.clone();
        }
        Layout::contiguous(&self.shape)
    }

    /// The sizes of the dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The strides of the dimensions, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Index of the first element in the storage.
    pub fn offset(&self) -> usize {
        self.offset & !FLAGS
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the elements are row-major and packed (the offset may be non-zero). A layout
    /// with no elements is contiguous whatever its strides, as in PyTorch.
    ///
    /// ```
    /// use nabla_tensor::Layout;
    /// assert!(Layout::contiguous(&[3, 0]).is_contiguous());
    /// assert!(!Layout::contiguous(&[2, 3]).transpose(0, 1).is_contiguous());
    /// ```
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.offset & PACKED != 0
    }

    /// The contiguous range of storage this layout covers, if it is contiguous.
    pub fn contiguous_range(&self) -> Option<std::ops::Range<usize>> {
        if self.is_contiguous() {
            Some(self.offset()..self.offset() + self.numel())
        } else {
            None
        }
    }

    /// Swaps two dimensions (no checks: dims must be in range).
    pub fn transpose(&self, a: usize, b: usize) -> Layout {
        let mut l = self.clone();
        l.shape.swap(a, b);
        l.strides.swap(a, b);
        l.set_packed();
        l
    }

    /// Reorders the dimensions (no checks: `perm` must be a permutation).
    pub fn permute(&self, perm: &[usize]) -> Layout {
        Layout::made(
            perm.iter().map(|&p| self.shape[p]).collect(),
            perm.iter().map(|&p| self.strides[p]).collect(),
            self.offset(),
        )
    }

    /// Keeps `len` elements of dimension `dim` starting at `start`, every `step`-th.
    pub fn slice(&self, dim: usize, start: usize, len: usize, step: usize) -> Layout {
        let mut l = self.clone();
        if len > 0 {
            l.offset += start * self.strides[dim]; // below the flag bits: offsets stay < 2⁶²
        }
        l.shape[dim] = len;
        l.strides[dim] *= step;
        l.set_packed();
        l
    }

    /// Broadcasts to `shape` with stride 0 on new and size-1 dimensions.
    pub fn broadcast_to(&self, op: &'static str, shape: &[usize]) -> Result<Layout> {
        if shape.len() < self.ndim() {
            return Err(Error::shape(
                op,
                format!("cannot expand a tensor of shape {:?} to fewer dimensions {:?}", self.shape(), shape),
                "the target must have at least as many dimensions as the tensor",
            ));
        }
        let pad = shape.len() - self.ndim();
        let mut strides: Strides = smallvec::smallvec![0; shape.len()];
        for i in 0..shape.len() {
            if i < pad {
                continue;
            }
            let (s, st) = (self.shape[i - pad], self.strides[i - pad]);
            if s == shape[i] {
                strides[i] = st;
            } else if s == 1 {
                strides[i] = 0;
            } else {
                return Err(Error::shape(
                    op,
                    format!(
                        "The expanded size of the tensor ({}) must match the existing size ({s}) at \
                         non-singleton dimension {i}. Target sizes: {shape:?}. Tensor sizes: {:?}",
                        shape[i],
                        self.shape()
                    ),
                    "only dimensions of size 1 can be expanded",
                ));
            }
        }
        Ok(Layout::made(shape.into(), strides, self.offset()))
    }

    /// Inserts a dimension of size 1 at `dim`.
    pub fn unsqueeze(&self, dim: usize) -> Layout {
        let mut l = self.clone();
        let st = if dim < self.ndim() { self.strides[dim] * self.shape[dim] } else { 1 };
        l.shape.insert(dim, 1);
        l.strides.insert(dim, st);
        // a size-1 dimension leaves the elements packed or not, but its stride is only
        // the row-major one when the dimension it sits before is not empty
        l.set_packed();
        l
    }

    /// Removes dimension `dim`, which must have size 1.
    pub fn squeeze(&self, dim: usize) -> Layout {
        let mut l = self.clone();
        l.shape.remove(dim);
        l.strides.remove(dim);
        l.set_packed();
        l
    }

    /// A view with a new shape over the same elements, if the strides allow one without a
    /// copy (PyTorch's `computeStride`); `None` means the data must be copied.
    ///
    /// ```
    /// use nabla_tensor::Layout;
    /// let l = Layout::contiguous(&[2, 3, 4]);
    /// assert!(l.view(&[6, 4]).is_some());
    /// assert!(l.transpose(0, 2).view(&[24]).is_none());
    /// ```
    pub fn view(&self, new_shape: &[usize]) -> Option<Layout> {
        if self.is_contiguous() {
            return Some(Layout::made(new_shape.into(), contiguous_strides(new_shape), self.offset()));
        }
        let numel = self.numel();
        if numel == 0 {
            return Some(Layout::made(new_shape.into(), contiguous_strides(new_shape), self.offset()));
        }
        // Walk chunks of old dimensions that are contiguous with each other and match them
        // with runs of new dimensions of the same element count.
        let mut new_strides: Strides = smallvec::smallvec![0; new_shape.len()];
        let old_shape = &self.shape;
        let old_strides = &self.strides;
        let mut view_d = new_shape.len() as isize - 1;
        let mut chunk_base_stride = *old_strides.last().unwrap_or(&1);
        let mut tensor_numel = 1usize;
        let mut view_numel = 1usize;
        for tensor_d in (0..old_shape.len()).rev() {
            tensor_numel *= old_shape[tensor_d];
            if tensor_d == 0
                || (old_shape[tensor_d - 1] != 1 && old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride)
            {
                while view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d as usize] == 1) {
                    new_strides[view_d as usize] = view_numel * chunk_base_stride;
                    view_numel *= new_shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = old_strides[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(Layout::made(new_shape.into(), new_strides, self.offset()))
    }

    /// Storage indices of the elements in row-major logical order.
    pub fn indices(&self) -> StridedIndex<'_> {
        StridedIndex::new(self)
    }
}

/// Iterator over storage indices of a layout, in row-major logical order.
pub struct StridedIndex<'a> {
    layout: &'a Layout,
    index: Shape,
    next: Option<usize>,
}

impl<'a> StridedIndex<'a> {
    fn new(layout: &'a Layout) -> Self {
        let next = if layout.numel() == 0 { None } else { Some(layout.offset()) };
        StridedIndex { layout, index: smallvec::smallvec![0; layout.ndim()], next }
    }
}

impl Iterator for StridedIndex<'_> {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        let cur = self.next?;
        let mut pos = cur;
        let shape = &self.layout.shape;
        let strides = &self.layout.strides;
        let mut d = shape.len();
        loop {
            if d == 0 {
                self.next = None;
                break;
            }
            d -= 1;
            self.index[d] += 1;
            if self.index[d] < shape[d] {
                pos += strides[d];
                self.next = Some(pos);
                break;
            }
            pos -= strides[d] * (shape[d] - 1);
            self.index[d] = 0;
        }
        Some(cur)
    }
}

/// Calls `f(storage_index_of_row_start, inner_stride)` for each row of the last dimension:
/// the fast way to walk a strided layout (the inner loop is left to the caller).
///
/// ```
/// use nabla_tensor::{Layout, layout::for_each_row};
/// let l = Layout::contiguous(&[2, 3]).transpose(0, 1);
/// let mut starts = vec![];
/// for_each_row(&l, |start, stride| starts.push((start, stride)));
/// assert_eq!(starts, vec![(0, 3), (1, 3), (2, 3)]);
/// ```
pub fn for_each_row(layout: &Layout, mut f: impl FnMut(usize, usize)) {
    let nd = layout.ndim();
    if layout.numel() == 0 {
        return;
    }
    if nd == 0 {
        f(layout.offset(), 1);
        return;
    }
    let outer = &layout.shape[..nd - 1];
    let outer_strides = &layout.strides[..nd - 1];
    let inner_stride = layout.strides[nd - 1];
    let mut index: Shape = smallvec::smallvec![0; nd - 1];
    let mut pos = layout.offset();
    loop {
        f(pos, inner_stride);
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            if index[d] < outer[d] {
                pos += outer_strides[d];
                break;
            }
            pos -= outer_strides[d] * (outer[d] - 1);
            index[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Contiguity by its definition: walking the elements in row-major order visits
    /// `offset, offset + 1, …` (or there are none).
    fn visits_in_order(l: &Layout) -> bool {
        l.indices().enumerate().all(|(i, ix)| ix == l.offset() + i)
    }

    #[test]
    fn the_cached_contiguity_matches_the_definition_after_every_view() {
        let base = Layout::contiguous(&[2, 3, 4]);
        let mut views = vec![
            base.clone(),
            base.transpose(0, 1),
            base.transpose(1, 2).transpose(1, 2),
            base.permute(&[2, 0, 1]),
            base.slice(0, 1, 1, 1),
            base.slice(1, 1, 2, 1),
            base.slice(2, 0, 2, 2),
            base.slice(0, 0, 0, 1),
            base.unsqueeze(0),
            base.unsqueeze(3),
            base.transpose(0, 2).unsqueeze(1),
            base.slice(0, 1, 1, 1).squeeze(0),
            base.unsqueeze(1).squeeze(1),
            Layout::contiguous(&[1, 4]).broadcast_to("t", &[3, 4]).unwrap(),
            Layout::contiguous(&[4]).broadcast_to("t", &[1, 4]).unwrap(),
            Layout::from_parts(&[2, 2], &[1, 2], 0),
            Layout::from_parts(&[3, 1], &[1, 7], 5),
        ];
        views.extend(views.iter().filter_map(|l| l.view(&[l.numel()])).collect::<Vec<_>>());
        views.push(Layout::contiguous(&[0, 3]).unsqueeze(1));
        views.push(Layout::contiguous(&[2, 0]).unsqueeze(1));
        for l in &views {
            assert_eq!(l.is_contiguous(), visits_in_order(l), "{l:?}");
            assert_eq!(l.clone().is_contiguous(), l.is_contiguous());
            // the cached row-major bit, by its definition
            let row_major = l.is_contiguous() && l.strides() == &contiguous_strides(l.shape())[..];
            assert_eq!(l.offset & ROW_MAJOR != 0, row_major, "{l:?}");
            // contiguous_like: the shape, at offset 0, with row-major strides
            let c = l.contiguous_like();
            assert_eq!((c.shape(), c.strides(), c.offset()), (l.shape(), &contiguous_strides(l.shape())[..], 0));
            assert!(c.is_contiguous() && c == Layout::contiguous(l.shape()), "{l:?}");
        }
        assert!(!base.transpose(0, 1).is_contiguous() && base.slice(0, 1, 1, 1).is_contiguous());
    }

    #[test]
    fn strided_index_matches_manual_transpose() {
        let l = Layout::contiguous(&[2, 3]).transpose(0, 1);
        let idx: Vec<usize> = l.indices().collect();
        assert_eq!(idx, vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn view_of_narrowed_rows_keeps_strides() {
        let l = Layout::contiguous(&[4, 6]).slice(1, 0, 3, 1); // [4,3] with row stride 6
        let v = l.view(&[2, 2, 3]).unwrap();
        assert_eq!(v.strides(), &[12, 6, 1]);
        assert!(l.view(&[12]).is_none());
    }

    #[test]
    fn broadcast_error_names_dimension() {
        let e = broadcast_shapes("add", &[2, 16], &[2, 3]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "add: The size of tensor a (16) must match the size of tensor b (3) at non-singleton \
             dimension 1 (shapes [2, 16] and [2, 3]); hint: sizes must be equal or one of them 1, \
             compared from the last dimension"
        );
    }
}
