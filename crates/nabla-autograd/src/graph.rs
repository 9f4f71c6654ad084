//! The recorded graph: one node per differentiable operation, pointing at the nodes that
//! produced its inputs (`next`). Leaves are reached through `AccumulateGrad` nodes.
//!
//! Ownership runs one way only — a tensor owns its `grad_fn`, a node owns the nodes of
//! its inputs and the tensors it saved — so there are no reference cycles, and dropping a
//! graph frees it. Drops are iterative (see [`defer_drop`]): a graph a million nodes deep
//! is freed on a small stack.

use crate::lock::SpinLock;
use crate::tensor::{Tensor, TensorImpl};
use nabla_tensor::arc::{count_down_last, count_up, CountedWeak};
use nabla_tensor::{DType, Error, RawTensor, Result, Shape};
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};
use std::mem::MaybeUninit;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::thread::LocalKey;

/// Gradients returned by a backward function, one per input (`None`: no gradient).
pub type Grads = SmallVec<[Option<Tensor>; 2]>;

/// A shared handle on a graph node, counted in the node's header ([`NodeHeader::refs`]).
///
/// Nodes have no weak handles, so the count is the only one, and the last handle frees the
/// node without a locked instruction when it finds itself the only one (as
/// [`nabla_tensor::arc::Shared`] does for storages). A std `Arc` takes two locked
/// instructions to free a node (its strong count, then its weak count); every op makes a
/// node, and nearly all are freed by their last handle.
pub(crate) struct NodeRef(NonNull<dyn NodeDyn>);

// SAFETY: as `Arc<dyn NodeDyn>`: nodes are `Send + Sync` (a supertrait of `NodeDyn`), shared
// between threads and freed by whichever thread drops the last handle.
unsafe impl Send for NodeRef {}
unsafe impl Sync for NodeRef {}

impl NodeRef {
    /// A handle on the node `init` writes into a fresh allocation (written in place, as
    /// [`nabla_tensor::arc::Shared::new_in_place`] does and for the same reason). The node's
    /// header must count one handle ([`NodeHeader::new`] does).
    #[inline]
    pub(crate) fn new_in_place<N: NodeDyn + 'static>(init: impl FnOnce(&mut MaybeUninit<N>) -> &mut N) -> NodeRef {
        let slot_ptr = nabla_tensor::slab::alloc(std::alloc::Layout::new::<N>()).cast::<MaybeUninit<N>>();
        // SAFETY: a fresh block fit for `N`, which nothing else refers to; `MaybeUninit` may
        // be uninitialised.
        let written: *mut N = init(unsafe { &mut *slot_ptr.as_ptr() });
        assert!(
            std::ptr::eq(written, slot_ptr.as_ptr().cast::<N>()),
            "internal: NodeRef::new_in_place's init must return its slot"
        );
        // `init` returned a `&mut N` to the slot, which only initialised memory can be.
        let ptr: NonNull<dyn NodeDyn> = slot_ptr.cast::<N>();
        // SAFETY: as above: the node is written.
        debug_assert_eq!(unsafe { ptr.as_ref() }.header().refs.load(Ordering::Relaxed), 1);
        // SAFETY: the node was just made and nothing else refers to it; its header is where
        // it starts (`NodeDyn`'s contract).
        unsafe { (*ptr.as_ptr().cast::<NodeHeader>()).me = Some(NodeSelf(ptr)) };
        NodeRef(ptr)
    }

    /// A new handle on the node whose header is at `header`.
    ///
    /// # Safety
    /// `header` is the header of a node that lives until this returns (a handle on the node
    /// is held, by the caller or by something the caller holds).
    #[inline]
    pub(crate) unsafe fn clone_from_header(header: NonNull<NodeHeader>) -> NodeRef {
        // SAFETY: the caller's promise.
        let h = unsafe { header.as_ref() };
        count_up(&h.refs);
        NodeRef(h.me.as_ref().expect("set by NodeRef::new_in_place").0)
    }

    /// The node's header, as a pointer (what a tensor publishes for [`NodeRef::clone_from_header`]).
    #[inline]
    pub(crate) fn header_ptr(this: &NodeRef) -> *mut NodeHeader {
        this.0.as_ptr().cast::<NodeHeader>()
    }

    /// How many handles there are (another thread may change it right after).
    #[inline]
    pub(crate) fn count(this: &NodeRef) -> usize {
        this.header().refs.load(Ordering::Acquire)
    }

    /// The node's address (its identity).
    #[inline]
    pub(crate) fn as_ptr(this: &NodeRef) -> *const () {
        this.0.as_ptr() as *const ()
    }
}

impl std::ops::Deref for NodeRef {
    type Target = dyn NodeDyn;
    #[inline]
    fn deref(&self) -> &(dyn NodeDyn + 'static) {
        // SAFETY: the node lives while any handle does, and this is one.
        unsafe { self.0.as_ref() }
    }
}

impl Clone for NodeRef {
    #[inline]
    fn clone(&self) -> NodeRef {
        count_up(&self.header().refs);
        NodeRef(self.0)
    }
}

impl Drop for NodeRef {
    #[inline]
    fn drop(&mut self) {
        // nodes have no weak handles: a count of 1 read here is this handle's own
        if !count_down_last(&self.header().refs) {
            return;
        }
        // SAFETY: this was the last handle; the node came from `slab::alloc` with its own
        // layout (`for_value` reads it from the vtable) in `new_in_place`.
        unsafe {
            let layout = std::alloc::Layout::for_value(self.0.as_ref());
            std::ptr::drop_in_place(self.0.as_ptr());
            nabla_tensor::slab::dealloc(self.0.cast(), layout);
        }
    }
}

static NEXT_SEQ: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static SEQ_BLOCK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// The bit set in the sequence numbers of `AccumulateGrad` nodes (they run first among
/// the ready nodes).
pub(crate) const ACCUMULATE_SEQ: u64 = 1 << 63;

/// How many numbers a thread takes from a process-wide sequence at a time.
const NUMBER_BLOCK: u64 = 1024;

/// The next number of the sequence `global`, unique in the process and increasing within a
/// thread. A thread takes numbers in blocks (`local` holds the rest of its block), so that
/// making a tensor or node costs no locked instruction (PyTorch's sequence numbers are
/// per-thread too).
pub(crate) fn next_number(global: &AtomicU64, local: &'static LocalKey<Cell<(u64, u64)>>) -> u64 {
    local
        .try_with(|c| {
            let (mut next, mut end) = c.get();
            if next == end {
                next = global.fetch_add(NUMBER_BLOCK, Ordering::Relaxed);
                end = next + NUMBER_BLOCK;
            }
            c.set((next + 1, end));
            next
        })
        .unwrap_or_else(|_| global.fetch_add(1, Ordering::Relaxed))
}

/// Number of graph nodes alive in the process (for leak tests).
///
/// ```
/// use nabla_autograd::{autograd::live_nodes, Tensor};
/// let before = live_nodes();
/// let x = Tensor::ones(&[2]).requires_grad_(true);
/// let y = (&x * 2.0).sum();
/// assert!(live_nodes() > before);
/// drop(y);
/// drop(x);
/// ```
pub fn live_nodes() -> usize {
    nabla_tensor::counter::NODES.get()
}

/// The derivative rule of one differentiable operation: given the gradient of the loss
/// with respect to the op's output, the gradients with respect to each input.
///
/// Write the rule with `Tensor` operations: when backward runs with `create_graph`, they
/// are recorded, which is how higher-order derivatives work.
pub trait Backward: Send + Sync + 'static {
    /// The node's name as PyTorch prints it (`"MulBackward"`).
    fn name(&self) -> &'static str;
    /// Gradients for each input, in the order the inputs were given to the op.
    fn backward(&self, ctx: &BackwardCtx<'_>, grad: &Tensor) -> Result<Grads>;
    /// [`backward`](Backward::backward), given the incoming gradient when nothing else
    /// will look at it (a pass that runs each node once, with no observer): a rule that
    /// passes the gradient on unchanged can hand on this handle instead of a new one.
    /// By default, `backward` on a borrow of it.
    ///
    /// ```
    /// use nabla_autograd::{Backward, BackwardCtx, Grads, Result, Tensor};
    /// // d(x + 0)/dx: the gradient itself
    /// struct PassOn;
    /// impl Backward for PassOn {
    ///     fn name(&self) -> &'static str { "PassOnBackward" }
    ///     fn backward(&self, _: &BackwardCtx<'_>, g: &Tensor) -> Result<Grads> {
    ///         Ok([Some(g.clone())].into_iter().collect())
    ///     }
    ///     fn backward_owned(&self, _: &BackwardCtx<'_>, g: Tensor) -> Result<Grads> {
    ///         Ok([Some(g)].into_iter().collect())
    ///     }
    ///     fn has_saved(&self) -> bool { false }
    /// }
    /// ```
    fn backward_owned(&self, ctx: &BackwardCtx<'_>, grad: Tensor) -> Result<Grads> {
        self.backward(ctx, &grad)
    }
    /// Whether the rule keeps tensors alive (freed after backward unless `retain_graph`).
    /// Rules that save nothing can run any number of times (on several threads at once).
    /// Asked once, when the op's node is made.
    fn has_saved(&self) -> bool {
        true
    }
}

/// What a backward rule can ask for besides the incoming gradient.
pub struct BackwardCtx<'a> {
    pub(crate) node: &'a NodeRef,
}

impl BackwardCtx<'_> {
    /// Whether input `i` needs a gradient (rules may skip work for inputs that do not).
    pub fn needs_input_grad(&self, i: usize) -> bool {
        self.node.header().next.get(i).is_some_and(|n| n.is_some())
    }

    /// The op's output, as saved at forward time (checked against in-place changes), and
    /// attached to this node so that `create_graph` differentiates through it.
    pub fn output(&self) -> Result<Tensor> {
        let h = self.node.header();
        if let Some(t) = h.output.upgrade() {
            check_version(self.node.name(), &t.raw, h.saved_output_version)?;
            return Ok(Tensor(t));
        }
        let raw = h.saved_output.as_ref().ok_or_else(|| Error::Autograd {
            msg: format!("internal: {} asked for its output but did not save it", self.node.name()),
        })?;
        check_version(self.node.name(), raw, h.saved_output_version)?;
        Ok(Tensor::from_raw_with_grad_fn(raw.clone(), self.node.clone()))
    }

    /// The op's output values as saved at forward time (checked against in-place changes),
    /// without a tensor around them: for rules that compute their gradient with a kernel
    /// when nothing is recorded (a tensor would be made and dropped for nothing).
    pub(crate) fn output_raw(&self) -> Result<&RawTensor> {
        let h = self.node.header();
        let raw = h.saved_output.as_ref().ok_or_else(|| Error::Autograd {
            msg: format!("internal: {} asked for its output but did not save it", self.node.name()),
        })?;
        check_version(self.node.name(), raw, h.saved_output_version)?;
        Ok(raw)
    }

    /// The name of the node running.
    pub fn name(&self) -> &'static str {
        self.node.name()
    }
}

fn check_version(node: &'static str, raw: &RawTensor, expected: u64) -> Result<()> {
    let v = raw.storage().version();
    if v != expected {
        return Err(Error::InplaceModified { node, shape: raw.shape().to_vec(), version: v, expected });
    }
    Ok(())
}

/// A tensor saved for backward, with the version it had when saved.
pub struct Saved {
    tensor: Tensor,
    version: u64,
}

impl Saved {
    /// Saves `t` as it is now.
    pub fn new(t: &Tensor) -> Saved {
        Saved { tensor: t.clone(), version: t.0.raw.storage().version() }
    }

    /// The saved tensor, or an error if it was modified in place since it was saved.
    pub fn get(&self, node: &'static str) -> Result<&Tensor> {
        check_version(node, &self.tensor.0.raw, self.version)?;
        Ok(&self.tensor)
    }
}

/// A node's own address with its vtable, kept in its header so that a handle can be made
/// from the header's (thin) address alone ([`NodeRef::clone_from_header`]).
pub(crate) struct NodeSelf(NonNull<dyn NodeDyn>);

// SAFETY: an address, only turned into a handle under the rules of `NodeRef` (which is
// `Send + Sync`).
unsafe impl Send for NodeSelf {}
unsafe impl Sync for NodeSelf {}

// A node's state is fixed when it is made, atomic, or behind a `SpinLock` (which is unwind
// safe, as `std::sync::Mutex` is), so a panic cannot leave one half-changed for a handle
// to see: handles on nodes are unwind safe, as `Arc<dyn NodeDyn>` would be with these
// bounds.
impl std::panic::RefUnwindSafe for NodeSelf {}
impl std::panic::UnwindSafe for NodeSelf {}
impl std::panic::RefUnwindSafe for NodeRef {}
impl std::panic::UnwindSafe for NodeRef {}

/// What every node has, whatever its op.
pub(crate) struct NodeHeader {
    /// How many [`NodeRef`]s there are on the node.
    pub(crate) refs: AtomicUsize,
    /// The node's address and vtable, set by [`NodeRef::new_in_place`] before any handle
    /// exists.
    pub(crate) me: Option<NodeSelf>,
    pub(crate) name: &'static str,
    pub(crate) seq: u64,
    pub(crate) next: SmallVec<[Option<NodeRef>; 2]>,
    /// The op's output tensor while it lives (`Weak::new()` for `AccumulateGrad`).
    pub(crate) output: CountedWeak<TensorImpl>,
    pub(crate) saved_output: Option<RawTensor>,
    pub(crate) saved_output_version: u64,
    pub(crate) out_shape: Shape,
    pub(crate) out_dtype: DType,
    pub(crate) location: &'static Location<'static>,
    /// Set when a hook or `retain_grad` is put on the output: only then does a backward
    /// pass look at the output tensor (upgrading its weak handle costs two locked
    /// instructions per node).
    pub(crate) watched: AtomicBool,
    /// The backward pass that last numbered this node ([`crate::engine`]'s marks: the pass
    /// running alone numbers nodes here instead of in a hash map), and its number there.
    pub(crate) mark_pass: AtomicU64,
    pub(crate) mark_index: AtomicU32,
}

impl NodeHeader {
    // inlined, so that the header is written straight into the node's allocation
    // (`nabla_tensor::arc`) instead of built apart and copied in
    #[inline(always)]
    pub(crate) fn new(
        name: &'static str,
        next: SmallVec<[Option<NodeRef>; 2]>,
        out: &RawTensor,
        save_output: bool,
        location: &'static Location<'static>,
        output: CountedWeak<TensorImpl>,
    ) -> NodeHeader {
        nabla_tensor::counter::NODES.inc();
        NodeHeader {
            refs: AtomicUsize::new(1),
            me: None,
            name,
            seq: next_number(&NEXT_SEQ, &SEQ_BLOCK),
            next,
            output,
            saved_output: if save_output { Some(out.clone()) } else { None },
            saved_output_version: out.storage().version(),
            out_shape: Shape::from_slice(out.shape()),
            out_dtype: out.dtype(),
            location,
            watched: AtomicBool::new(false),
            mark_pass: AtomicU64::new(0),
            mark_index: AtomicU32::new(0),
        }
    }
}

impl Drop for NodeHeader {
    fn drop(&mut self) {
        nabla_tensor::counter::NODES.dec();
        // taken out slot by slot (a `drain` with `flatten` costs more than the drops)
        for slot in self.next.iter_mut() {
            if let Some(n) = slot.take() {
                defer_drop(n);
            }
        }
        // SAFETY: every slot is `None` now, which needs no drop, so forgetting them is
        // sound; the vector's own drop then only frees its buffer if it spilled, instead of
        // looking at each slot again.
        unsafe { self.next.set_len(0) };
    }
}

/// A node of the graph, whatever its op (object-safe face of [`OpNode`] and [`AccumulateGrad`]).
///
/// # Safety
/// An implementor is `repr(C)` with its [`NodeHeader`] as its first field, so that
/// [`header`](#method.header) finds the header where the node starts.
pub(crate) unsafe trait NodeDyn: Send + Sync {
    /// Runs the rule. Errors if its saved tensors were freed by an earlier backward.
    fn apply(&self, node: &NodeRef, grad: &Tensor) -> Result<Grads>;
    /// Frees saved tensors (after a backward without `retain_graph`).
    fn release(&self);
    /// [`NodeDyn::apply`] then [`NodeDyn::release`] (when it succeeds), in one step where the
    /// node can.
    fn apply_and_release(&self, node: &NodeRef, grad: Tensor) -> Result<Grads> {
        let grads = self.apply(node, &grad)?;
        self.release();
        Ok(grads)
    }
    /// The leaf's handle, for `AccumulateGrad` (dead once the leaf is dropped).
    fn leaf(&self) -> Option<&CountedWeak<TensorImpl>> {
        None
    }
    /// The node as an `AccumulateGrad`, if it is one.
    fn accumulator(&self) -> Option<&AccumulateGrad> {
        None
    }
    /// The rule, for inspection tools.
    #[allow(dead_code)]
    fn with_backward(&self, _f: &mut dyn FnMut(Option<&dyn Backward>)) {}
}

impl dyn NodeDyn {
    /// The node's header, read where the node starts instead of through a call by the
    /// vtable (the engine asks each node for its header several times, and the compiler
    /// cannot merge calls through a vtable).
    #[inline]
    pub(crate) fn header(&self) -> &NodeHeader {
        // SAFETY: every implementor is `repr(C)` with the header as its first field (the
        // trait's contract), so the node's address is its header's.
        unsafe { &*(self as *const dyn NodeDyn).cast::<NodeHeader>() }
    }

    /// The op's name as PyTorch prints it (`"MulBackward"`, `"AccumulateGrad"`).
    #[inline]
    pub(crate) fn name(&self) -> &'static str {
        self.header().name
    }
}

// `NodeDyn::header`'s contract, checked where the compiler can: `repr(C)` puts the first
// field at offset 0 (for `OpNode`, whatever its rule; see the test below).
const _: () = assert!(std::mem::offset_of!(AccumulateGrad, header) == 0);

/// A node running a [`Backward`] rule; one allocation holds the header and the rule.
#[repr(C)]
pub(crate) struct OpNode<B: Backward> {
    pub(crate) header: NodeHeader,
    pub(crate) rule: Rule<B>,
}

/// A node's rule, kept as its [`Backward::has_saved`] said when the node was made.
pub(crate) enum Rule<B> {
    /// A rule that saves nothing: it runs any number of times and is never taken out, so it
    /// is read without a lock (a locked instruction less per node on every backward;
    /// additions, subtractions and views save nothing).
    Kept(B),
    /// A rule that keeps tensors alive: taken out (under the lock) when the node is
    /// released, so that a second backward finds it freed.
    Once(SpinLock<Option<B>>),
}

impl<B: Backward> Rule<B> {
    /// The rule for a new node.
    pub(crate) fn new(op: B) -> Rule<B> {
        if op.has_saved() {
            Rule::Once(SpinLock::new(Some(op)))
        } else {
            Rule::Kept(op)
        }
    }
}

// SAFETY: `repr(C)`, header first.
unsafe impl<B: Backward> NodeDyn for OpNode<B> {
    fn apply(&self, node: &NodeRef, grad: &Tensor) -> Result<Grads> {
        match &self.rule {
            Rule::Kept(op) => op.backward(&BackwardCtx { node }, grad),
            Rule::Once(slot) => match slot.lock().as_ref() {
                Some(op) => op.backward(&BackwardCtx { node }, grad),
                None => Err(freed_error()),
            },
        }
    }
    fn apply_and_release(&self, node: &NodeRef, grad: Tensor) -> Result<Grads> {
        let slot = match &self.rule {
            Rule::Kept(op) => return op.backward_owned(&BackwardCtx { node }, grad),
            Rule::Once(slot) => slot,
        };
        // One lock for running and releasing: the rule is taken out (a second pass
        // meanwhile finds it freed, as it would after this one) and dropped after it ran.
        let op = slot.lock().take().ok_or_else(freed_error)?;
        match op.backward_owned(&BackwardCtx { node }, grad) {
            Ok(grads) => Ok(grads),
            Err(e) => {
                // an error leaves the graph as it was
                *slot.lock() = Some(op);
                Err(e)
            }
        }
    }
    fn release(&self) {
        if let Rule::Once(slot) = &self.rule {
            // taken out under the lock, dropped after it
            let op = slot.lock().take();
            drop(op);
        }
    }
    fn with_backward(&self, f: &mut dyn FnMut(Option<&dyn Backward>)) {
        match &self.rule {
            Rule::Kept(op) => f(Some(op)),
            Rule::Once(slot) => f(slot.lock().as_ref().map(|b| b as &dyn Backward)),
        }
    }
}

/// PyTorch's error for running a rule whose saved tensors were freed.
fn freed_error() -> Error {
    Error::Autograd {
        msg: "Trying to backward through the graph a second time (or directly access saved \
              tensors after they have already been freed). Saved intermediate values of the \
              graph are freed when you call .backward() or autograd::grad(). Specify \
              retain_graph: true if you need to backward through the graph a second time or \
              if you need to access saved tensors after calling backward."
            .into(),
    }
}

/// The node that accumulates a leaf's gradient into its `.grad`.
///
/// The leaf owns it (made on the leaf's first use in a graph, then shared by every graph
/// the leaf joins) and the node points back at the leaf weakly: no cycle, and a graph
/// does not make a new node for every leaf it uses.
#[repr(C)]
pub(crate) struct AccumulateGrad {
    pub(crate) header: NodeHeader,
    pub(crate) leaf: CountedWeak<TensorImpl>,
    /// The leaf's `.grad` (the leaf reaches it through this node), kept here so that a
    /// backward pass accumulates into it without upgrading its handle on the leaf and
    /// locking the leaf's metadata (three locked instructions for one).
    pub(crate) grad: SpinLock<Option<Tensor>>,
    /// Whether the leaf may have hooks (set when one is registered, never cleared): only
    /// then does a pass upgrade its handle on the leaf, to run them.
    pub(crate) hooked: AtomicBool,
}

// SAFETY: `repr(C)`, header first.
unsafe impl NodeDyn for AccumulateGrad {
    fn apply(&self, _node: &NodeRef, _grad: &Tensor) -> Result<Grads> {
        Ok(Grads::new())
    }
    fn release(&self) {}
    fn leaf(&self) -> Option<&CountedWeak<TensorImpl>> {
        Some(&self.leaf)
    }
    fn accumulator(&self) -> Option<&AccumulateGrad> {
        Some(self)
    }
}

/// A node's identity, for maps keyed by node.
pub(crate) fn node_key(n: &NodeRef) -> usize {
    NodeRef::as_ptr(n) as usize
}

/// The nodes waiting to be freed by the outermost [`defer_drop`] of a thread, and whether
/// that call is draining them (one thread-local, so a drop looks it up once).
struct DropQueue {
    nodes: Vec<NodeRef>,
    draining: bool,
}

thread_local! {
    static DROP_QUEUE: RefCell<DropQueue> = const { RefCell::new(DropQueue { nodes: Vec::new(), draining: false }) };
}

/// Drops a node reference without recursing: if this is the last reference, the node is
/// freed by the outermost call on the thread, so freeing a long chain never grows the stack.
#[inline]
pub(crate) fn defer_drop(n: NodeRef) {
    if NodeRef::count(&n) > 1 {
        return;
    }
    defer_drop_last(n);
}

/// [`defer_drop`] of what may be a node's last handle: out of line, so that dropping a
/// handle on a node held elsewhere (a leaf's accumulator, say) stays a compare and a
/// decrement where it is inlined.
#[inline(never)]
fn defer_drop_last(n: NodeRef) {
    // Queued when a call further up is draining; otherwise this call drains: it frees the
    // node and the nodes only it held, then whatever was queued meanwhile.
    let mut slot = Some(n);
    let drains = DROP_QUEUE.try_with(|q| match q.try_borrow_mut() {
        Ok(mut q) if q.draining => {
            q.nodes.push(slot.take().expect("slot"));
            false
        }
        Ok(mut q) => {
            q.draining = true;
            true
        }
        Err(_) => false,
    });
    match (drains, slot) {
        (Ok(true), Some(n)) => drain(n),
        // queued, or thread-local storage is gone (at thread exit): the node is dropped
        // the ordinary way
        (_, slot) => drop(slot),
    }
}

/// Frees `first` and every node only it holds (and what drops queue meanwhile), as the
/// thread's draining call. The edges of a node about to be freed are taken out first and
/// freed on a local stack, so that a chain is freed in a loop that touches the thread's
/// queue only for nodes held elsewhere (by a saved tensor, say); the queue's thread-local
/// lookup and borrow per node were ~4 % of a backward over one-element tensors.
fn drain(first: NodeRef) {
    let mut stack: SmallVec<[NodeRef; 8]> = SmallVec::new();
    stack.push(first);
    loop {
        while let Some(node) = stack.pop() {
            if NodeRef::count(&node) == 1 {
                // SAFETY: this is the node's only handle (nodes have no weak handles, and a
                // tensor publishing the header holds a handle of its own), so nothing else
                // reads or writes the node while its edges are taken out.
                let next = unsafe { &mut (*NodeRef::header_ptr(&node)).next };
                for slot in next.iter_mut() {
                    if let Some(n) = slot.take() {
                        if NodeRef::count(&n) == 1 {
                            stack.push(n);
                        }
                    }
                }
            }
            // its header's drop finds no edges left; its rule's drop may queue nodes
            drop(node);
        }
        let queued = DROP_QUEUE.with(|q| {
            let mut q = q.borrow_mut();
            let item = q.nodes.pop();
            if item.is_none() {
                q.draining = false;
            }
            item
        });
        match queued {
            Some(n) => stack.push(n),
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_starts_with_its_header_whatever_its_rule() {
        // a rule aligned more strictly than the header (which default layout could put first)
        #[repr(align(64))]
        struct Big(u8);
        impl Backward for Big {
            fn name(&self) -> &'static str {
                ["Big", "Bigger"][self.0 as usize % 2]
            }
            fn backward(&self, _: &BackwardCtx<'_>, _: &Tensor) -> Result<Grads> {
                Ok(Grads::new())
            }
        }
        assert_eq!(std::mem::offset_of!(OpNode<Big>, header), 0);
        // and the header read where a node starts is that node's
        let x = Tensor::from_vec(vec![1.0f32], &[1]).requires_grad_(true);
        let y = &x * 2.0;
        let node = y.grad_node().expect("y has a node");
        assert_eq!(node.name(), "MulBackward");
        let acc = node.header().next[0].clone().expect("x's accumulator");
        assert_eq!((acc.name(), acc.header().out_shape.as_slice()), ("AccumulateGrad", &[1][..]));
    }
}
