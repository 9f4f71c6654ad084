//! The reverse-mode engine: runs the recorded graph backwards from one or more outputs.
//!
//! Nodes run in an order where every node runs after all nodes that feed it gradients
//! (dependency counting), breaking ties by creation order (within a thread), newest first,
//! as PyTorch does.
//! Every walk is iterative.

use crate::grad_mode::{is_anomaly_enabled, no_grad, set_grad_enabled};
use crate::graph::{node_key, NodeRef};
use crate::lock::SpinLock;
use crate::tensor::{Tensor, TensorImpl};
use nabla_tensor::{Error, Result};
use std::collections::BinaryHeap;
use std::hash::{BuildHasherDefault, Hasher};

/// Node addresses are already unique and well spread: a multiply is hash enough
/// (SipHash would be most of the per-node cost of a backward over tiny tensors).
#[derive(Default)]
struct PtrHasher(u64);
impl Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = ((n as u64) >> 3).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}
type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<PtrHasher>>;
use nabla_tensor::arc::Counted;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Options of [`Tensor::backward_with`] (PyTorch's `backward` keyword arguments).
///
/// ```
/// use nabla_autograd::{autograd::BackwardOptions, Tensor};
/// let x = Tensor::ones(&[2]).requires_grad_(true);
/// let y = &x * 2.0;
/// y.backward_with(&BackwardOptions { gradient: Some(Tensor::ones(&[2])), ..Default::default() });
/// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![2.0, 2.0]);
/// ```
#[derive(Clone, Default)]
pub struct BackwardOptions {
    /// The gradient of the final quantity with respect to this tensor; required for
    /// non-scalar tensors, `1` for scalars when `None`.
    pub gradient: Option<Tensor>,
    /// Keep the saved tensors so that the graph can be backpropagated again.
    pub retain_graph: bool,
    /// Record the backward pass itself, for higher-order derivatives.
    pub create_graph: bool,
}

/// Options of [`grad`] (PyTorch's `torch.autograd.grad` keyword arguments).
#[derive(Clone, Default)]
pub struct GradOptions {
    /// Gradients of the final quantity with respect to each output (`None`: 1 for scalars).
    pub grad_outputs: Option<Vec<Tensor>>,
    /// Keep the saved tensors (defaults to `create_graph` in PyTorch; here, set it).
    pub retain_graph: bool,
    /// Record the backward pass so the returned gradients can be differentiated again.
    pub create_graph: bool,
    /// Return `None` for inputs that the outputs do not depend on, instead of an error.
    pub allow_unused: bool,
}

struct Ready {
    seq: u64,
    idx: u32,
}
impl PartialEq for Ready {
    fn eq(&self, o: &Self) -> bool {
        self.seq == o.seq
    }
}
impl Eq for Ready {}
impl PartialOrd for Ready {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ready {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.seq.cmp(&o.seq)
    }
}

/// The reachable graph of one backward pass, numbered: node `i` is `nodes[i]`; its inputs'
/// nodes are `edges[edge_start[i]..]`, one per input of the node (`u32::MAX` where an input
/// needs no gradient), so the pass looks each node up in a hash map once, when it is found.
///
/// Nodes are borrowed, not shared: every node reached is owned through the (immutable)
/// `next` edges of a root, and the roots outlive the pass, so the pass takes no reference
/// count (two locked instructions per node saved).
struct Reached<'r> {
    nodes: Vec<&'r NodeRef>,
    edge_start: Vec<u32>,
    edges: Vec<u32>,
    deps: Vec<u32>,
    /// Nodes in the order they were expanded.
    order: Vec<u32>,
    /// Node numbers by address, for a pass that does not number nodes in their headers.
    index: HashMap<usize, u32>,
    /// The pass's marks, when it numbers nodes in their headers.
    marks: Marks,
}

/// Backward passes numbering their graphs in the process.
static RUNNING_PASSES: AtomicUsize = AtomicUsize::new(0);
/// Identities of the passes that number nodes in their headers (0: none).
static NEXT_MARKING_PASS: AtomicU64 = AtomicU64::new(1);

/// A pass that starts while no other pass is numbering its graph numbers the nodes it
/// reaches in their headers ([`crate::graph::NodeHeader::mark_pass`]), under a process-unique
/// identity, instead of in a hash map (hashing every node's address was ~5 % of the
/// instructions of a backward over one-element tensors). A pass that starts while another
/// is numbering (on another thread) uses the map, so only one pass at a time writes marks,
/// and a pass only trusts marks bearing its own identity.
///
/// Marks are only read while the pass numbers its graph and looks up its roots and capture
/// nodes; after that ([`Marks::finish`]) the pass works on its own vectors and no longer
/// counts as running here, so a pass that starts meanwhile may mark the same nodes.
struct Marks {
    /// This pass's identity, or 0 when it uses the hash map.
    pass: u64,
    /// Whether this pass still counts in [`RUNNING_PASSES`].
    counted: bool,
}

impl Marks {
    fn begin() -> Marks {
        let alone = RUNNING_PASSES.fetch_add(1, Ordering::AcqRel) == 0;
        Marks { pass: if alone { NEXT_MARKING_PASS.fetch_add(1, Ordering::Relaxed) } else { 0 }, counted: true }
    }

    /// The pass has read its last mark.
    fn finish(&mut self) {
        if std::mem::replace(&mut self.counted, false) {
            RUNNING_PASSES.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Marks {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The work vectors a thread keeps between passes ([`Reached`] without the borrows).
struct Scratch {
    nodes: Vec<usize>,
    edge_start: Vec<u32>,
    edges: Vec<u32>,
    deps: Vec<u32>,
    order: Vec<u32>,
    index: HashMap<usize, u32>,
}

const NO_NODE: u32 = u32::MAX;

/// The largest graph (in nodes) whose work vectors a thread keeps for its next pass
/// (about 2.5 MB of vectors and index).
const KEPT_NODES: usize = 1 << 16;

thread_local! {
    static SCRATCH: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) };
}

impl<'r> Reached<'r> {
    fn new(roots: &'r [(NodeRef, Tensor)]) -> Reached<'r> {
        // The vectors of the thread's previous pass, emptied: a loop of backward passes over
        // graphs of one size grows them once. (A backward inside a hook finds none and
        // starts afresh.)
        let s = SCRATCH.with(|s| s.borrow_mut().take()).unwrap_or_else(|| Scratch {
            nodes: Vec::new(),
            edge_start: Vec::new(),
            edges: Vec::new(),
            deps: Vec::new(),
            order: Vec::new(),
            index: HashMap::default(),
        });
        let mut r = Reached {
            // an empty vector of addresses becomes an empty vector of references in place
            // (same size and alignment: the allocation is reused)
            nodes: s.nodes.into_iter().map(|_| unreachable!("emptied")).collect(),
            edge_start: s.edge_start,
            edges: s.edges,
            deps: s.deps,
            order: s.order,
            index: s.index,
            marks: Marks::begin(),
        };
        let mut stack: Vec<u32> = Vec::new();
        for (n, _) in roots {
            let (i, new) = r.intern(n);
            if new {
                stack.push(i);
            }
        }
        while let Some(i) = stack.pop() {
            let start = r.edges.len() as u32;
            let node: &'r NodeRef = r.nodes[i as usize];
            for next in node.header().next.iter() {
                let Some(next) = next else {
                    r.edges.push(NO_NODE);
                    continue;
                };
                let (j, new) = r.intern(next);
                r.deps[j as usize] += 1;
                r.edges.push(j);
                if new {
                    stack.push(j);
                }
            }
            r.edge_start[i as usize] = start;
            r.order.push(i);
        }
        r
    }

    /// The node's number, and whether it was new.
    #[inline(always)]
    fn intern(&mut self, n: &'r NodeRef) -> (u32, bool) {
        let next = self.nodes.len() as u32;
        let i = if self.marks.pass != 0 {
            let h = n.header();
            if h.mark_pass.load(Ordering::Relaxed) == self.marks.pass {
                h.mark_index.load(Ordering::Relaxed)
            } else {
                h.mark_index.store(next, Ordering::Relaxed);
                h.mark_pass.store(self.marks.pass, Ordering::Relaxed);
                next
            }
        } else {
            *self.index.entry(node_key(n)).or_insert(next)
        };
        if i == next {
            self.nodes.push(n);
            self.deps.push(0);
            self.edge_start.push(0);
            (i, true)
        } else {
            (i, false)
        }
    }

    /// Empties the vectors and keeps them for the thread's next pass, unless they grew for
    /// a graph of more than [`KEPT_NODES`] nodes (a thread should not hold tens of
    /// megabytes after one very long chain).
    fn recycle(self, deps: Vec<u32>) {
        if self.nodes.capacity() > KEPT_NODES {
            return;
        }
        let mut nodes = self.nodes;
        nodes.clear();
        let mut s = Scratch {
            nodes: nodes.into_iter().map(|_| 0).collect(),
            edge_start: self.edge_start,
            edges: self.edges,
            deps,
            order: self.order,
            index: self.index,
        };
        s.edge_start.clear();
        s.edges.clear();
        s.order.clear();
        s.index.clear();
        s.deps.clear();
        let _ = SCRATCH.try_with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                *c = Some(s);
            }
        });
    }

    /// The number of a node of the pass, if it was reached.
    fn lookup(&self, n: &NodeRef) -> Option<u32> {
        if self.marks.pass != 0 {
            let h = n.header();
            (h.mark_pass.load(Ordering::Relaxed) == self.marks.pass).then(|| h.mark_index.load(Ordering::Relaxed))
        } else {
            self.index.get(&node_key(n)).copied()
        }
    }

    fn edges(&self, i: u32) -> &[u32] {
        let start = self.edge_start[i as usize] as usize;
        &self.edges[start..start + self.nodes[i as usize].header().next.len()]
    }
}

/// One step of a backward pass, reported to observers (narrated backward, step-through).
pub struct StepEvent<'a> {
    /// The node that ran.
    pub node: crate::GradFn,
    /// The gradient it received (after hooks).
    pub grad_in: &'a Tensor,
    /// The gradients it produced, one per input.
    pub grads_out: &'a [Option<Tensor>],
}

/// Observes the steps of a backward pass.
pub(crate) type Observer<'a> = &'a mut dyn FnMut(StepEvent<'_>);

pub(crate) struct RunOptions<'a> {
    pub retain_graph: bool,
    pub create_graph: bool,
    /// For `grad()`: the nodes whose incoming gradients are returned (no accumulation).
    pub capture: Option<&'a [NodeRef]>,
    pub observer: Option<Observer<'a>>,
}

/// Sum of two gradients (recorded only under create_graph, which the caller set as the mode).
fn add_grads(a: Tensor, b: &Tensor) -> Result<Tensor> {
    a.try_add(b)
}

fn run_hooks(t: &Counted<TensorImpl>, mut grad: Tensor) -> Tensor {
    let hooks: Vec<_> = {
        let m = t.meta.lock();
        if m.hooks().is_empty() {
            return grad;
        }
        m.hooks().iter().map(|(_, h)| h.clone()).collect()
    };
    for h in hooks {
        if let Some(g) = h(&grad) {
            grad = g;
        }
    }
    grad
}

/// Runs backward from `roots` (output, gradient) pairs. Returns the captured gradients
/// (one per capture node) when `opts.capture` is set.
pub(crate) fn run(roots: &[(NodeRef, Tensor)], mut opts: RunOptions<'_>) -> Result<Vec<Option<Tensor>>> {
    let _mode = set_grad_enabled(opts.create_graph);
    // 1. number the reachable graph and count each node's dependencies
    let mut g = Reached::new(roots);
    let n = g.nodes.len();
    let mut deps = std::mem::take(&mut g.deps);
    // 2. for grad(): only the nodes from which a capture node can be reached must run
    let capture_idx: Vec<u32> =
        opts.capture.map(|c| c.iter().map(|x| g.lookup(x).unwrap_or(NO_NODE)).collect()).unwrap_or_default();
    let needed: Option<Vec<bool>> = opts.capture.map(|_| {
        // `order` lists nodes so that a node comes before the ones it reaches only partially;
        // iterate to a fixed point from the captures backwards, iteratively.
        let mut need = vec![false; n];
        for &c in &capture_idx {
            if c != NO_NODE {
                need[c as usize] = true;
            }
        }
        let mut changed = true;
        while changed {
            changed = false;
            for &i in g.order.iter().rev() {
                if need[i as usize] {
                    continue;
                }
                if g.edges(i).iter().any(|&j| j != NO_NODE && need[j as usize]) {
                    need[i as usize] = true;
                    changed = true;
                }
            }
        }
        need
    });
    let mut captured: Vec<Option<Tensor>> = vec![None; capture_idx.len()];

    // 3. run in dependency order
    let mut buffers: Vec<Option<Tensor>> = vec![None; n];
    let mut heap: BinaryHeap<Ready> = BinaryHeap::new();
    let root_idx: Vec<u32> = roots.iter().map(|(node, _)| g.lookup(node).expect("roots are reached")).collect();
    g.marks.finish();
    for ((_, grad), &i) in roots.iter().zip(&root_idx) {
        let i = i as usize;
        buffers[i] = Some(match buffers[i].take() {
            Some(prev) => add_grads(prev, grad)?,
            None => grad.clone(),
        });
    }
    for ((node, _), &i) in roots.iter().zip(&root_idx) {
        if deps[i as usize] == 0 && !heap.iter().any(|r| r.idx == i) {
            heap.push(Ready { seq: node.header().seq, idx: i });
        }
    }
    while let Some(Ready { idx, .. }) = heap.pop() {
        let node: &NodeRef = g.nodes[idx as usize];
        let grad = buffers[idx as usize].take();
        let mut outs: crate::graph::Grads = crate::graph::Grads::new();
        if let Some(mut grad) = grad {
            // tensor hooks and retain_grad of the node's output (non-leaf)
            let watched = node.header().watched.load(std::sync::atomic::Ordering::Relaxed);
            let out = if watched { node.header().output.upgrade() } else { None };
            if let Some(out) = out {
                grad = run_hooks(&out, grad);
                let mut m = out.meta.lock();
                if m.retains_grad {
                    let g = if opts.create_graph { grad.clone() } else { no_grad(|| grad.detach()) };
                    m.grad = Some(match m.grad.take() {
                        Some(old) => add_grads(old, &g)?,
                        None => g,
                    });
                }
            }
            if let Some(pos) = capture_idx.iter().position(|&c| c == idx) {
                captured[pos] = Some(match captured[pos].take() {
                    Some(old) => add_grads(old, &grad)?,
                    None => grad.clone(),
                });
            }
            let needed_here = needed.as_ref().is_none_or(|m| m[idx as usize]);
            if let Some(acc) = node.accumulator() {
                // Without an observer the gradient moves into `.grad` (no clone), so that
                // `accumulate` can steal its buffer instead of copying it.
                let kept = if opts.observer.is_some() { Some(grad.clone()) } else { None };
                if opts.capture.is_none() {
                    // the leaf's hooks first, if it may have some (a leaf dropped since the
                    // graph was built has none to run, and no `.grad` left to read)
                    let grad = if acc.hooked.load(std::sync::atomic::Ordering::Relaxed) {
                        acc.leaf.upgrade().map(|leaf| run_hooks(&leaf, grad))
                    } else {
                        Some(grad)
                    };
                    if let Some(grad) = grad {
                        accumulate(&acc.grad, grad, opts.create_graph)?;
                    }
                }
                if let (Some(obs), Some(grad)) = (opts.observer.as_mut(), kept) {
                    obs(StepEvent { node: crate::GradFn(node.clone()), grad_in: &grad, grads_out: &[] });
                }
            } else if needed_here {
                // run and free in one step when nothing looks at the node in between
                let once = !opts.retain_graph && opts.observer.is_none() && !is_anomaly_enabled();
                // (run once, the rule gets the gradient itself: nothing looks at it after)
                let grad = if once {
                    outs = node.apply_and_release(node, grad)?;
                    None
                } else {
                    outs = node.apply(node, &grad)?;
                    Some(grad)
                };
                if outs.len() != node.header().next.len() {
                    return Err(Error::Autograd {
                        msg: format!(
                            "function {} returned {} gradients, expected {} (one per input)",
                            node.name(),
                            outs.len(),
                            node.header().next.len()
                        ),
                    });
                }
                if is_anomaly_enabled() {
                    for (i, g) in outs.iter().enumerate() {
                        if let Some(g) = g {
                            if g.raw().has_non_finite() {
                                return Err(Error::Anomaly {
                                    msg: format!(
                                        "anomaly detected: Function '{}' returned nan or infinite values in its {i}th output; \
                                         the forward op was created at {}",
                                        node.name(),
                                        node.header().location
                                    ),
                                });
                            }
                        }
                    }
                }
                if let (Some(obs), Some(grad)) = (opts.observer.as_mut(), &grad) {
                    obs(StepEvent { node: crate::GradFn(node.clone()), grad_in: grad, grads_out: &outs });
                }
                if !opts.retain_graph && !once {
                    node.release();
                }
            }
        }
        for (i, &j) in g.edges(idx).iter().enumerate() {
            if j == NO_NODE {
                continue;
            }
            let next: &NodeRef = g.nodes[j as usize];
            if let Some(Some(grad)) = outs.get_mut(i).map(|g| g.take()) {
                let h = next.header();
                let grad = if !nabla_tensor::layout::same_shape(grad.shape(), &h.out_shape) {
                    return Err(Error::Autograd {
                        msg: format!(
                            "Function {} returned an invalid gradient at index {i} - got {:?} but expected shape compatible with {:?}",
                            node.name(),
                            grad.shape(),
                            &h.out_shape[..]
                        ),
                    });
                } else if grad.dtype() != h.out_dtype {
                    grad.try_to_dtype(h.out_dtype)?
                } else {
                    grad
                };
                let slot = &mut buffers[j as usize];
                *slot = Some(match slot.take() {
                    Some(prev) => add_grads(prev, &grad)?,
                    None => grad,
                });
            }
            let d = &mut deps[j as usize];
            *d -= 1;
            if *d == 0 {
                heap.push(Ready { seq: next.header().seq, idx: j });
            }
        }
    }
    g.recycle(deps);
    Ok(captured)
}

/// Adds `g` into a leaf's `.grad` (its accumulator's cell), stealing `g`'s buffer when
/// nobody else holds it. One lock, of the cell.
fn accumulate(cell: &SpinLock<Option<Tensor>>, g: Tensor, create_graph: bool) -> Result<()> {
    let mut m = cell.lock();
    let exclusive = |t: &Tensor| {
        Counted::strong_count(&t.0) == 1
            && nabla_tensor::storage::StorageRef::count(t.raw().storage()) == 1
            && t.raw().is_compact()
    };
    *m = Some(match m.take() {
        None if create_graph => g,
        // held elsewhere too (the gradient of an addition goes to both inputs): a copy
        None if Counted::strong_count(&g.0) > 1 => Tensor::from_raw(g.raw().copy()),
        None => {
            let g = into_detached(g);
            if exclusive(&g) {
                g
            } else {
                Tensor::from_raw(g.raw().copy())
            }
        }
        Some(old) => {
            if !create_graph && exclusive(&old) && !old.requires_grad() {
                old.raw().zip_assign("accumulate_grad", g.raw(), &crate::ops::binary::AddKernel)?;
                old
            } else {
                add_grads(old, &g)?
            }
        }
    });
    Ok(())
}

/// Computes and returns the gradients of `outputs` with respect to `inputs` without
/// touching any `.grad` (PyTorch's `torch.autograd.grad`).
///
/// ```
/// use nabla_autograd::{autograd::{grad, GradOptions}, Tensor};
/// let x = Tensor::from_vec(vec![2.0f64], &[1]).requires_grad_(true);
/// let y = x.pow(3.0).sum();
/// let g = grad(&[y], &[x.clone()], &GradOptions { create_graph: true, ..Default::default() }).unwrap();
/// let dy = g[0].clone().unwrap();               // 3x² = 12
/// assert_eq!(dy.item(), 12.0);
/// let g2 = grad(&[dy.sum()], &[x.clone()], &Default::default()).unwrap();
/// assert_eq!(g2[0].as_ref().unwrap().item(), 12.0); // 6x = 12
/// assert!(x.grad().is_none());
/// ```
pub fn grad(outputs: &[Tensor], inputs: &[Tensor], opts: &GradOptions) -> Result<Vec<Option<Tensor>>> {
    let roots = make_roots(outputs, opts.grad_outputs.as_deref())?;
    let mut capture = Vec::with_capacity(inputs.len());
    for (i, t) in inputs.iter().enumerate() {
        match t.grad_node() {
            Some(n) => capture.push(n),
            None => {
                return Err(Error::Autograd {
                    msg: format!("grad: One of the differentiated Tensors (input {i}) does not require grad"),
                });
            }
        }
    }
    let res = run(
        &roots,
        RunOptions {
            retain_graph: opts.retain_graph || opts.create_graph,
            create_graph: opts.create_graph,
            capture: Some(&capture),
            observer: None,
        },
    )?;
    if !opts.allow_unused {
        if let Some(i) = res.iter().position(|g| g.is_none()) {
            return Err(Error::Autograd {
                msg: format!(
                    "grad: One of the differentiated Tensors (input {i}) appears to not have been used in the graph. \
                     Set allow_unused: true if this is the desired behavior."
                ),
            });
        }
    }
    Ok(res)
}

/// The (node, seed gradient) pairs to start from.
pub(crate) fn make_roots(outputs: &[Tensor], grads: Option<&[Tensor]>) -> Result<Vec<(NodeRef, Tensor)>> {
    if let Some(g) = grads {
        if g.len() != outputs.len() {
            return Err(Error::Autograd {
                msg: format!("grad_outputs has {} tensors but there are {} outputs", g.len(), outputs.len()),
            });
        }
    }
    let mut roots = Vec::with_capacity(outputs.len());
    for (i, out) in outputs.iter().enumerate() {
        let Some(node) = out.grad_node() else {
            return Err(Error::Autograd {
                msg: format!("element {i} of tensors does not require grad and does not have a grad_fn; hint: call requires_grad_(true) on the leaves you want gradients for, and do not compute the output under no_grad"),
            });
        };
        let seed = match grads.map(|g| g[i].clone()) {
            Some(g) => {
                if g.shape() != out.shape() {
                    return Err(Error::Autograd {
                        msg: format!("Mismatch in shape: grad_output[{i}] has a shape of {:?} and output[{i}] has a shape of {:?}.", g.shape(), out.shape()),
                    });
                }
                g.try_to_dtype(out.dtype())?
            }
            None => {
                if out.numel() != 1 {
                    return Err(Error::Autograd {
                        msg: format!(
                            "grad can be implicitly created only for scalar outputs (this output has shape {:?}); \
                             hint: reduce it with .sum() or .mean(), or pass a gradient of the same shape in BackwardOptions::gradient",
                            out.shape()
                        ),
                    });
                }
                Tensor::ones_with(out.shape(), out.dtype())
            }
        };
        roots.push((node, seed));
    }
    Ok(roots)
}

impl Tensor {
    /// Computes the gradient of this scalar with respect to every leaf that requires grad,
    /// accumulating into their `.grad`, then frees the graph's saved tensors.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// let x = Tensor::from_vec(vec![2.0f32], &[1]).requires_grad_(true);
    /// let w = Tensor::from_vec(vec![1.0f32], &[1]).requires_grad_(true);
    /// let y = ((&x + &w) * (&w + 1.0)).sum();
    /// y.backward();
    /// assert_eq!(w.grad().unwrap().item(), 5.0);
    /// assert_eq!(x.grad().unwrap().item(), 2.0);
    /// ```
    ///
    /// # Panics
    /// On a non-scalar, a tensor that does not require grad, or a second backward through
    /// freed saved tensors (see [`Tensor::try_backward`]).
    #[track_caller]
    pub fn backward(&self) {
        crate::ops::or_panic(self.try_backward_with(&BackwardOptions::default()))
    }

    /// [`Tensor::backward`] with PyTorch's options (`gradient`, `retain_graph`, `create_graph`).
    #[track_caller]
    pub fn backward_with(&self, opts: &BackwardOptions) {
        crate::ops::or_panic(self.try_backward_with(opts))
    }

    /// [`Tensor::backward`], returning errors instead of panicking.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::ones(&[2]).requires_grad_(true);
    /// let e = (&x * 2.0).try_backward().unwrap_err();
    /// assert!(e.to_string().contains("grad can be implicitly created only for scalar outputs"));
    /// ```
    pub fn try_backward(&self) -> Result<()> {
        self.try_backward_with(&BackwardOptions::default())
    }

    /// [`Tensor::backward_with`], returning errors instead of panicking.
    pub fn try_backward_with(&self, opts: &BackwardOptions) -> Result<()> {
        let grads = opts.gradient.as_ref().map(std::slice::from_ref);
        let roots = make_roots(std::slice::from_ref(self), grads)?;
        run(
            &roots,
            RunOptions {
                retain_graph: opts.retain_graph,
                create_graph: opts.create_graph,
                capture: None,
                observer: None,
            },
        )?;
        Ok(())
    }
}

/// Runs backward from `output` with `gradient` (1 for scalars), calling `observer` after
/// every node: the engine under the narrated backward and step-through tools.
pub fn backward_observed(
    output: &Tensor,
    opts: &BackwardOptions,
    observer: &mut dyn FnMut(StepEvent<'_>),
) -> Result<()> {
    let grads = opts.gradient.as_ref().map(std::slice::from_ref);
    let roots = make_roots(std::slice::from_ref(output), grads)?;
    run(
        &roots,
        RunOptions {
            retain_graph: opts.retain_graph,
            create_graph: opts.create_graph,
            capture: None,
            observer: Some(observer),
        },
    )?;
    Ok(())
}

/// `g` without history, for `.grad`: `g` itself when this is its only handle and it is a
/// plain tensor (as gradients computed without `create_graph` are), else a detached handle
/// (the attached one dropped first, so that the detached one owns the buffer alone).
fn into_detached(mut g: Tensor) -> Tensor {
    fn plain(m: &mut crate::tensor::Meta) -> bool {
        let plain = !m.requires_grad
            && m.grad_fn.is_none()
            && m.hooks().is_empty()
            && !m.retains_grad
            && m.name().is_none()
            && !m.is_view;
        if plain {
            m.made_under_no_grad = false;
            m.detached = false;
        }
        plain
    }
    let plain = match Counted::get_mut(&mut g.0) {
        // the only handle there can be (a gradient just computed): no lock
        Some(t) => plain(t.meta.get_mut()),
        None => Counted::strong_count(&g.0) == 1 && plain(&mut g.meta()),
    };
    if plain {
        return g;
    }
    let d = g.detach();
    drop(g);
    d
}
