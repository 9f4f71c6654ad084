//! [`Tensor`]: the user's handle on a value and its place in the graph.

use crate::graph::{defer_drop, node_key, AccumulateGrad, NodeHeader, NodeRef};
use crate::lock::{SpinGuard, SpinLock};
use nabla_tensor::arc::{Counted, CountedWeak};
use nabla_tensor::{DType, Element, Error, RawTensor, Result};
use smallvec::SmallVec;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;

/// A hook run on a tensor's gradient when it is computed; returning `Some` replaces it.
pub(crate) type Hook = Arc<dyn Fn(&Tensor) -> Option<Tensor> + Send + Sync>;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static ID_BLOCK: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

fn next_id() -> u64 {
    crate::graph::next_number(&NEXT_ID, &ID_BLOCK)
}

/// An n-dimensional array that records the operations applied to it, so that gradients
/// can be computed by [`Tensor::backward`].
///
/// Cloning is cheap (a reference count): clones are the *same* tensor, as Python names
/// are in PyTorch. `Tensor` is `Send + Sync`.
///
/// ```
/// use nabla_autograd::Tensor;
/// let x = Tensor::from_vec(vec![-2.0f32], &[1]).requires_grad_(true);
/// let y = Tensor::from_vec(vec![5.0f32], &[1]).requires_grad_(true);
/// let z = Tensor::from_vec(vec![-4.0f32], &[1]).requires_grad_(true);
/// let f = ((&x + &y) * &z).sum();
/// f.backward();
/// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![-4.0]);
/// assert_eq!(z.grad().unwrap().to_vec::<f32>(), vec![3.0]);
/// ```
#[derive(Clone)]
pub struct Tensor(pub(crate) Counted<TensorImpl>);

pub(crate) struct TensorImpl {
    pub(crate) raw: RawTensor,
    pub(crate) id: u64,
    pub(crate) meta: SpinLock<Meta>,
    /// The header of the node gradients for this tensor flow into (what
    /// [`Tensor::grad_node`] returns), published so that ops read it without the lock:
    /// every op reads it for each input that requires grad. Null when not known, and then
    /// read under the lock; cleared (under the lock) whenever what it stands for changes.
    /// A node published here lives while the tensor does: its `grad_fn` or accumulator,
    /// and a `grad_fn` taken off a live tensor is retired, not dropped
    /// ([`TensorImpl::replace_grad_fn`]).
    pub(crate) flow: AtomicPtr<NodeHeader>,
}

#[derive(Default)]
#[allow(dead_code)] // made_under_no_grad and detached are read by why_no_grad (viz)
pub(crate) struct Meta {
    pub(crate) requires_grad: bool,
    pub(crate) grad_fn: Option<NodeRef>,
    pub(crate) grad: Option<Tensor>,
    pub(crate) retains_grad: bool,
    /// Hooks and name, which few tensors have: boxed, so that the metadata every tensor
    /// carries (and makes, and drops) stays small.
    pub(crate) extra: Extra,
    /// The leaf's `AccumulateGrad` node, made on its first use in a graph.
    pub(crate) accumulator: Option<NodeRef>,
    /// Made by an op on inputs that required grad, while grad mode was off.
    pub(crate) made_under_no_grad: bool,
    /// Made by `detach`.
    pub(crate) detached: bool,
    /// A view of another tensor's storage (in-place on it needs care).
    pub(crate) is_view: bool,
}

/// The boxed [`MetaExtra`], if any. Its drop checks for one inline and frees it out of line:
/// the drop glue of `Option<Box<MetaExtra>>` is a call on every tensor freed, though few
/// have one.
#[derive(Default)]
pub(crate) struct Extra(Option<Box<MetaExtra>>);

impl Drop for Extra {
    #[inline]
    fn drop(&mut self) {
        #[cold]
        #[inline(never)]
        fn free(e: Box<MetaExtra>) {
            drop(e);
        }
        if let Some(e) = self.0.take() {
            free(e);
        }
    }
}

/// The rarely set part of a tensor's metadata.
#[derive(Default)]
pub(crate) struct MetaExtra {
    pub(crate) hooks: Vec<(u64, Hook)>,
    pub(crate) name: Option<String>,
    /// `grad_fn`s this tensor had, kept until it is dropped (see [`TensorImpl::flow`]).
    pub(crate) retired: Vec<NodeRef>,
}

impl Meta {
    /// The tensor's hooks, in registration order.
    pub(crate) fn hooks(&self) -> &[(u64, Hook)] {
        self.extra.0.as_ref().map_or(&[], |e| &e.hooks)
    }

    /// The name given by `named`.
    pub(crate) fn name(&self) -> Option<&str> {
        self.extra.0.as_ref().and_then(|e| e.name.as_deref())
    }

    /// The rare fields, made on first use.
    pub(crate) fn extra_mut(&mut self) -> &mut MetaExtra {
        self.extra.0.get_or_insert_with(Default::default)
    }
}

impl TensorImpl {
    /// Sets the `grad_fn` (`m` is this tensor's metadata, locked). The old one is retired,
    /// not dropped: a lock-free [`Tensor::grad_node`] may have just read it from
    /// [`TensorImpl::flow`], which is cleared first.
    pub(crate) fn replace_grad_fn(&self, m: &mut Meta, node: Option<NodeRef>) {
        self.flow.store(std::ptr::null_mut(), Ordering::Release);
        // a leaf's `.grad` lives in its accumulator, a non-leaf's in its metadata: a tensor
        // that turns from one into the other takes its `.grad` along
        let (was_leaf, is_leaf) = (m.grad_fn.is_none(), node.is_none());
        if was_leaf != is_leaf {
            if let Some(acc) = m.accumulator.as_ref().and_then(|n| n.accumulator()) {
                let mut cell = acc.grad.lock();
                if was_leaf {
                    m.grad = cell.take();
                } else {
                    *cell = m.grad.take();
                }
            }
        }
        if let Some(old) = std::mem::replace(&mut m.grad_fn, node) {
            m.extra_mut().retired.push(old);
        }
    }
}

/// The accumulator whose cell holds `.grad`, for a leaf that has one (`m` is its metadata).
fn leaf_accumulator(m: &Meta) -> Option<&AccumulateGrad> {
    if m.grad_fn.is_some() {
        return None;
    }
    m.accumulator.as_ref().and_then(|n| n.accumulator())
}

/// The header to publish in [`TensorImpl::flow`] for a tensor made with `grad_fn`.
fn flow_of(grad_fn: Option<&NodeRef>) -> AtomicPtr<NodeHeader> {
    AtomicPtr::new(grad_fn.map_or(std::ptr::null_mut(), NodeRef::header_ptr))
}

impl Drop for TensorImpl {
    fn drop(&mut self) {
        let meta = self.meta.get_mut();
        if let Some(n) = meta.grad_fn.take() {
            defer_drop(n);
        }
    }
}

impl Tensor {
    #[inline(always)]
    pub(crate) fn new_impl(raw: RawTensor, meta: Meta) -> Tensor {
        // built in its allocation: a tensor is made for nearly every op, and moving a
        // just-built one into place stalls on its stores (`nabla_tensor::arc`). `raw` and
        // `meta` are borrowed by the closure, not moved into it: moved in, they were copied
        // to the stack on entry, right after the caller wrote them, and that copy stalled
        // (`perf annotate`: 43 % of this function's samples); read after the allocation,
        // they are written into place once. Inlined (`always`): called, it was passed a copy
        // of the raw tensor the caller had just taken out of a kernel's `Result` (a copy of a
        // just-written value, stalled as above); inlined, it reads the value where the kernel
        // wrote it (`tiny_ops` ~2 % faster, 10 of 10 pairs).
        let mut raw = std::mem::ManuallyDrop::new(raw);
        let mut meta = std::mem::ManuallyDrop::new(meta);
        Tensor(Counted::new_in_place(|slot| {
            let p: *mut TensorImpl = slot.as_mut_ptr();
            // SAFETY: each field of the slot is written once, through raw pointers (no
            // reference to the unwritten value is made), and then the whole value is;
            // `raw` and `meta` are taken once, here, and not dropped where they were.
            unsafe {
                std::ptr::addr_of_mut!((*p).id).write(next_id());
                std::ptr::addr_of_mut!((*p).flow).write(flow_of(meta.grad_fn.as_ref()));
                std::ptr::addr_of_mut!((*p).raw).write(std::mem::ManuallyDrop::take(&mut raw));
                std::ptr::addr_of_mut!((*p).meta).write(SpinLock::new(std::mem::ManuallyDrop::take(&mut meta)));
                slot.assume_init_mut()
            }
        }))
    }

    /// A tensor that does not require grad, over `raw`.
    ///
    /// ```
    /// let raw = nabla_tensor::RawTensor::from_vec(vec![1.0f32, 2.0], &[2]);
    /// let t = nabla_autograd::Tensor::from_raw(raw);
    /// assert!(t.is_leaf());
    /// ```
    pub fn from_raw(raw: RawTensor) -> Tensor {
        Tensor::new_impl(raw, Meta::default())
    }

    /// A tensor over `raw` whose `grad_fn` is the node `make` builds; `make` gets the
    /// tensor's weak handle (for the node's `output`) before the tensor exists, so the
    /// node needs no second pass to point back at its output. The weak handle is counted
    /// from the start (no locked increment), and does not upgrade until this returns. The
    /// tensor is built in its allocation, as in [`Tensor::new_impl`], field by field: built
    /// whole and then written, it was first copied on the stack (a 208-byte `memcpy` call
    /// per op; `tiny_ops` 1.5 % fewer instructions and ~3 % faster without it).
    pub(crate) fn with_new_grad_fn(
        raw: RawTensor,
        make: impl FnOnce(CountedWeak<TensorImpl>, &RawTensor) -> NodeRef,
    ) -> Tensor {
        Tensor(Counted::new_cyclic_in_place(|weak, slot| {
            let p: *mut TensorImpl = slot.as_mut_ptr();
            // SAFETY: each field of the slot is written once, through raw pointers (no
            // reference to the unwritten value is made), and then the whole value is.
            unsafe {
                std::ptr::addr_of_mut!((*p).raw).write(raw);
                let node = make(weak, &(*p).raw);
                std::ptr::addr_of_mut!((*p).id).write(next_id());
                std::ptr::addr_of_mut!((*p).flow).write(flow_of(Some(&node)));
                std::ptr::addr_of_mut!((*p).meta).write(SpinLock::new(Meta {
                    requires_grad: true,
                    grad_fn: Some(node),
                    ..Default::default()
                }));
                slot.assume_init_mut()
            }
        }))
    }

    pub(crate) fn from_raw_with_grad_fn(raw: RawTensor, node: NodeRef) -> Tensor {
        Tensor::new_impl(raw, Meta { requires_grad: true, grad_fn: Some(node), ..Default::default() })
    }

    pub(crate) fn meta(&self) -> SpinGuard<'_, Meta> {
        self.0.meta.lock()
    }

    /// The kernel-level tensor (storage and layout), without autograd.
    pub fn raw(&self) -> &RawTensor {
        &self.0.raw
    }

    /// A process-unique id, stable for the tensor's lifetime (graph export uses it).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// Whether `self` and `other` are the same tensor (not just equal values).
    ///
    /// ```
    /// let a = nabla_autograd::Tensor::ones(&[1]);
    /// assert!(a.is_same(&a.clone()));
    /// assert!(!a.is_same(&nabla_autograd::Tensor::ones(&[1])));
    /// ```
    pub fn is_same(&self, other: &Tensor) -> bool {
        Counted::ptr_eq(&self.0, &other.0)
    }

    // ---- read-out -------------------------------------------------------------------

    /// The sizes of the dimensions.
    ///
    /// ```
    /// assert_eq!(nabla_autograd::Tensor::zeros(&[2, 3]).shape(), &[2, 3]);
    /// ```
    pub fn shape(&self) -> &[usize] {
        self.0.raw.shape()
    }

    /// The number of dimensions (PyTorch's `dim()`).
    ///
    /// ```
    /// assert_eq!(nabla_autograd::Tensor::zeros(&[2, 3]).dims(), 2);
    /// ```
    pub fn dims(&self) -> usize {
        self.shape().len()
    }

    /// The size of one dimension (negative counts from the end).
    ///
    /// ```
    /// assert_eq!(nabla_autograd::Tensor::zeros(&[2, 3]).size(-1), 3);
    /// ```
    #[track_caller]
    pub fn size<D: crate::Dim>(&self, dim: D) -> usize {
        let d = dim.to_index(self.dims(), "size").unwrap_or_else(|e| panic!("{e}"));
        self.shape()[d]
    }

    /// The number of elements.
    ///
    /// ```
    /// assert_eq!(nabla_autograd::Tensor::zeros(&[2, 3]).numel(), 6);
    /// ```
    pub fn numel(&self) -> usize {
        self.0.raw.numel()
    }

    /// The element type.
    ///
    /// ```
    /// use nabla_autograd::{DType, Tensor};
    /// assert_eq!(Tensor::zeros(&[1]).dtype(), DType::F32);
    /// ```
    pub fn dtype(&self) -> DType {
        self.0.raw.dtype()
    }

    /// The strides of the view, in elements.
    ///
    /// ```
    /// assert_eq!(nabla_autograd::Tensor::zeros(&[2, 3]).t().strides(), &[1, 3]);
    /// ```
    pub fn strides(&self) -> &[usize] {
        self.0.raw.layout().strides()
    }

    /// Whether the elements are packed in row-major order.
    pub fn is_contiguous(&self) -> bool {
        self.0.raw.is_contiguous()
    }

    /// The value of a one-element tensor.
    ///
    /// ```
    /// assert_eq!(nabla_autograd::Tensor::scalar(2.5f32).item(), 2.5);
    /// ```
    ///
    /// # Panics
    /// If the tensor has more than one element.
    #[track_caller]
    pub fn item(&self) -> f64 {
        self.0.raw.item()
    }

    /// The elements in row-major order, converted to `T`.
    ///
    /// ```
    /// let t = nabla_autograd::Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).t();
    /// assert_eq!(t.to_vec::<f64>(), vec![1.0, 3.0, 2.0, 4.0]);
    /// ```
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        self.0.raw.to_vec::<T>()
    }

    /// The version counter of the storage: bumped by every in-place operation.
    ///
    /// ```
    /// use nabla_autograd::{no_grad, Tensor};
    /// let a = Tensor::zeros(&[2]);
    /// a.fill_(1.0);
    /// assert_eq!(a.version(), 1);
    /// ```
    pub fn version(&self) -> u64 {
        self.0.raw.storage().version()
    }

    // ---- autograd state -------------------------------------------------------------

    /// Whether gradients flow to this tensor.
    pub fn requires_grad(&self) -> bool {
        self.meta().requires_grad
    }

    /// Whether this is a leaf: made by the user (or by an op that did not record), not by
    /// a recorded operation. Only leaves accumulate `.grad`.
    pub fn is_leaf(&self) -> bool {
        self.meta().grad_fn.is_none()
    }

    /// Sets whether this leaf requires grad and returns it (for chaining).
    ///
    /// ```
    /// let w = nabla_autograd::Tensor::zeros(&[3]).requires_grad_(true);
    /// assert!(w.requires_grad() && w.is_leaf());
    /// ```
    ///
    /// # Panics
    /// On a non-leaf, or on an integer or boolean tensor (see [`Tensor::try_requires_grad_`]).
    #[track_caller]
    pub fn requires_grad_(&self, requires_grad: bool) -> Tensor {
        self.try_requires_grad_(requires_grad).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Tensor::requires_grad_`], returning the error instead of panicking.
    ///
    /// ```
    /// let labels = nabla_autograd::Tensor::from_vec(vec![1i64, 2], &[2]);
    /// let e = labels.try_requires_grad_(true).unwrap_err();
    /// assert!(e.to_string().contains("only Tensors of floating point dtype can require gradients"));
    /// ```
    pub fn try_requires_grad_(&self, requires_grad: bool) -> Result<Tensor> {
        if requires_grad && !self.dtype().is_float() {
            return Err(Error::DType {
                op: "requires_grad_",
                msg: format!(
                    "only Tensors of floating point dtype can require gradients (this one is {})",
                    self.dtype()
                ),
            });
        }
        let mut m = self.meta();
        if m.grad_fn.is_some() {
            if requires_grad {
                return Ok(self.clone());
            }
            return Err(Error::Autograd {
                msg: "requires_grad_: you can only change requires_grad flags of leaf variables. If you \
                      want to use a computed variable in a subgraph that doesn't require \
                      differentiation use var_no_grad = var.detach()."
                    .into(),
            });
        }
        m.requires_grad = requires_grad;
        if !requires_grad {
            // no longer flows into its accumulator (which the tensor keeps)
            self.0.flow.store(std::ptr::null_mut(), Ordering::Release);
        }
        drop(m);
        Ok(self.clone())
    }

    /// The accumulated gradient: for leaves that require grad, and for non-leaves after
    /// [`Tensor::retain_grad`]; `None` before any backward (see [`Tensor::zero_grad`]).
    pub fn grad(&self) -> Option<Tensor> {
        self.with_grad(|g| g.clone())
    }

    /// Runs `f` on the tensor's `.grad`: for a leaf with an accumulator (one that took part
    /// in a graph while requiring grad), the accumulator's; otherwise the one in the
    /// metadata. Locks the metadata, then the accumulator's cell.
    pub(crate) fn with_grad<R>(&self, f: impl FnOnce(&mut Option<Tensor>) -> R) -> R {
        let mut m = self.meta();
        if let Some(acc) = leaf_accumulator(&m) {
            return f(&mut acc.grad.lock());
        }
        f(&mut m.grad)
    }

    /// Replaces the stored gradient (`None` clears it), as assigning `.grad` does in PyTorch.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let w = Tensor::zeros(&[2]).requires_grad_(true);
    /// w.set_grad(Some(Tensor::ones(&[2])));
    /// assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![1.0, 1.0]);
    /// ```
    pub fn set_grad(&self, grad: Option<Tensor>) {
        self.with_grad(|g| *g = grad);
    }

    /// Clears the gradient (PyTorch's `zero_grad(set_to_none=True)`, its default).
    ///
    /// ```
    /// let w = nabla_autograd::Tensor::ones(&[2]).requires_grad_(true);
    /// (&w * 2.0).sum().backward();
    /// w.zero_grad();
    /// assert!(w.grad().is_none());
    /// ```
    pub fn zero_grad(&self) {
        self.with_grad(|g| *g = None);
    }

    /// Keeps the gradient of this non-leaf in `.grad` after backward (a no-op on leaves).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::from_vec(vec![2.0f32], &[1]).requires_grad_(true);
    /// let a = &x * 3.0;
    /// a.retain_grad();
    /// (&a * &a).sum().backward();
    /// assert_eq!(a.grad().unwrap().item(), 12.0);
    /// ```
    pub fn retain_grad(&self) {
        let mut m = self.meta();
        if let Some(f) = &m.grad_fn {
            f.header().watched.store(true, std::sync::atomic::Ordering::Relaxed);
            m.retains_grad = true;
        }
    }

    /// Whether [`Tensor::retain_grad`] was called on this non-leaf.
    pub fn retains_grad(&self) -> bool {
        self.meta().retains_grad
    }

    /// The node that will compute this tensor's input gradients, if it was made by a
    /// recorded operation.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::ones(&[2]).requires_grad_(true);
    /// let y = &x * &x;
    /// assert_eq!(y.grad_fn().unwrap().name(), "MulBackward");
    /// assert!(x.grad_fn().is_none());
    /// ```
    pub fn grad_fn(&self) -> Option<GradFn> {
        self.meta().grad_fn.clone().map(GradFn)
    }

    /// A tensor sharing this one's storage, cut from the graph: it does not require grad.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::ones(&[2]).requires_grad_(true);
    /// let d = (&x * 2.0).detach();
    /// assert!(!d.requires_grad() && d.is_leaf());
    /// ```
    pub fn detach(&self) -> Tensor {
        Tensor::new_impl(self.0.raw.clone(), Meta { detached: self.requires_grad(), ..Default::default() })
    }

    /// Gives the tensor a name, shown by graph export and narrated backward.
    ///
    /// ```
    /// let w = nabla_autograd::Tensor::ones(&[2]).named("w1");
    /// assert_eq!(w.name().as_deref(), Some("w1"));
    /// ```
    pub fn named(self, name: &str) -> Tensor {
        self.meta().extra_mut().name = Some(name.to_string());
        self
    }

    /// The name given by [`Tensor::named`].
    pub fn name(&self) -> Option<String> {
        self.meta().name().map(str::to_string)
    }

    /// Registers a hook called with this tensor's gradient each time it is computed; a hook
    /// returning `Some(g)` replaces the gradient. The handle removes it.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::ones(&[1]).requires_grad_(true);
    /// let h = x.register_hook(|g: &Tensor| Some(g * 2.0));
    /// (&x * 3.0).sum().backward();
    /// assert_eq!(x.grad().unwrap().item(), 6.0);
    /// h.remove();
    /// ```
    ///
    /// # Panics
    /// If the tensor does not require grad.
    #[track_caller]
    pub fn register_hook<F>(&self, hook: F) -> HookHandle
    where
        F: Fn(&Tensor) -> Option<Tensor> + Send + Sync + 'static,
    {
        let mut m = self.meta();
        assert!(m.requires_grad, "register_hook: cannot register a hook on a tensor that doesn't require gradient");
        let id = next_id();
        m.extra_mut().hooks.push((id, Arc::new(hook)));
        if let Some(f) = &m.grad_fn {
            f.header().watched.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(acc) = leaf_accumulator(&m) {
            acc.hooked.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        HookHandle { tensor: Counted::downgrade(&self.0), id }
    }

    /// The node gradients for this tensor flow into: its `grad_fn`, or for a leaf that
    /// requires grad its `AccumulateGrad` node (made once and shared by every graph).
    pub(crate) fn grad_node(&self) -> Option<NodeRef> {
        if let Some(h) = std::ptr::NonNull::new(self.0.flow.load(Ordering::Acquire)) {
            // SAFETY: a node published in `flow` lives while the tensor does, and `self`
            // keeps the tensor alive.
            return Some(unsafe { NodeRef::clone_from_header(h) });
        }
        let mut m = self.meta();
        if let Some(f) = &m.grad_fn {
            self.0.flow.store(NodeRef::header_ptr(f), Ordering::Release);
            return Some(f.clone());
        }
        if !m.requires_grad {
            return None;
        }
        if let Some(acc) = &m.accumulator {
            self.0.flow.store(NodeRef::header_ptr(acc), Ordering::Release);
            return Some(acc.clone());
        }
        let mut header = NodeHeader::new(
            "AccumulateGrad",
            SmallVec::new(),
            &self.0.raw,
            false,
            Location::caller(),
            CountedWeak::new(),
        );
        // The node outlives the graph it was made for, so its creation order says nothing
        // about later graphs: it runs as soon as it is ready, as PyTorch's does.
        header.seq |= crate::graph::ACCUMULATE_SEQ;
        let leaf = Counted::downgrade(&self.0);
        // the leaf's `.grad` moves into the node (see `AccumulateGrad::grad`)
        let (grad, hooked) = (SpinLock::new(m.grad.take()), AtomicBool::new(!m.hooks().is_empty()));
        let node = NodeRef::new_in_place(|slot| slot.write(AccumulateGrad { header, leaf, grad, hooked }));
        self.0.flow.store(NodeRef::header_ptr(&node), Ordering::Release);
        m.accumulator = Some(node.clone());
        Some(node)
    }
}

/// Removes a hook registered by [`Tensor::register_hook`].
pub struct HookHandle {
    tensor: CountedWeak<TensorImpl>,
    id: u64,
}

impl HookHandle {
    /// Removes the hook (nothing happens if the tensor is gone).
    pub fn remove(self) {
        if let Some(t) = self.tensor.upgrade() {
            let mut m = t.meta.lock();
            if let Some(e) = m.extra.0.as_mut() {
                e.hooks.retain(|(id, _)| *id != self.id);
            }
        }
    }
}

/// A backward node, as seen from a tensor's `grad_fn()`: its name and the nodes its
/// gradients flow to (PyTorch's `next_functions`).
#[derive(Clone)]
pub struct GradFn(pub(crate) NodeRef);

impl GradFn {
    /// The node's name (`"MulBackward"`, `"AccumulateGrad"`, …).
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The nodes receiving this node's gradients, one per input (`None` for inputs that
    /// do not require grad).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::ones(&[1]).requires_grad_(true);
    /// let y = (&x * 2.0).exp();
    /// let next = y.grad_fn().unwrap().next_functions();
    /// assert_eq!(next[0].as_ref().unwrap().name(), "MulBackward");
    /// ```
    pub fn next_functions(&self) -> Vec<Option<GradFn>> {
        self.0.header().next.iter().map(|n| n.clone().map(GradFn)).collect()
    }

    /// For an `AccumulateGrad` node, the leaf it accumulates into (`None` for other
    /// nodes, and once the leaf itself is dropped: a leaf owns its `AccumulateGrad`, not
    /// the other way round).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::ones(&[1]).requires_grad_(true);
    /// let y = &x * 2.0;
    /// let acc = y.grad_fn().unwrap().next_functions()[0].clone().unwrap();
    /// assert_eq!(acc.name(), "AccumulateGrad");
    /// assert!(acc.variable().unwrap().is_same(&x));
    /// drop(x);
    /// assert!(acc.variable().is_none());
    /// ```
    pub fn variable(&self) -> Option<Tensor> {
        self.0.leaf().and_then(CountedWeak::upgrade).map(Tensor)
    }

    /// The tensor this node computed, while something still holds it (graph export and
    /// the narrated backward show its name and values; intermediates nobody kept are gone).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::ones(&[1]).requires_grad_(true);
    /// let y = &x * 2.0;
    /// assert!(y.grad_fn().unwrap().output().unwrap().is_same(&y));
    /// ```
    pub fn output(&self) -> Option<Tensor> {
        self.0.header().output.upgrade().map(Tensor)
    }

    /// The source line of the operation that created this node.
    pub fn location(&self) -> &'static Location<'static> {
        self.0.header().location
    }

    /// Shape of the tensor this node's gradient has (its output's shape).
    pub fn output_shape(&self) -> &[usize] {
        &self.0.header().out_shape
    }

    /// A process-unique identity (graph export uses it).
    pub fn id(&self) -> usize {
        node_key(&self.0)
    }

    /// Creation order within the thread that made the node: of two nodes ready at the same
    /// time, the later runs first in backward. Unique in the process. `AccumulateGrad` nodes
    /// count from 2⁶³, so a leaf's gradient is accumulated as soon as it is complete (PyTorch
    /// gives them the largest number too).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::ones(&[1]).requires_grad_(true);
    /// let y = &x * 2.0;
    /// let f = y.grad_fn().unwrap();
    /// assert!(f.next_functions()[0].as_ref().unwrap().sequence_nr() > f.sequence_nr());
    /// ```
    pub fn sequence_nr(&self) -> u64 {
        self.0.header().seq
    }
}

impl std::fmt::Debug for GradFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{}>", self.name())
    }
}
