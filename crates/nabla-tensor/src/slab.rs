//! Per-thread lists of freed small blocks, for the objects every op makes and frees: a
//! tensor's header, its storage and its graph node.
//!
//! A graph of one-element tensors allocates about six small blocks per op and frees them
//! all when the graph goes. Taking a block from a list kept by the thread and giving it
//! back costs ~20 instructions; the global allocator costs ~60 (mimalloc, its page refills
//! included) to ~250 (glibc malloc). On `nabla-bench tiny_ops` (callgrind) the lists cut
//! the instructions by 8 % under mimalloc and by 32 % under glibc malloc.
//!
//! Blocks are grouped in classes of 16-byte steps up to [`LARGEST`] bytes (a graph node is
//! 300–400 bytes); a thread keeps at most [`KEPT_BYTES`] of free blocks (the rest go back
//! to the global allocator), and gives all of its blocks back when it ends. A block freed
//! on another thread than the one that took it joins that other thread's lists: every
//! block of a class has the same size and alignment, whichever thread took it from the
//! global allocator.
//!
//! ```
//! use std::alloc::Layout;
//! let layout = Layout::new::<[u64; 4]>();
//! let p = nabla_tensor::slab::alloc(layout);
//! // SAFETY: `p` is a fresh block fit for `[u64; 4]`, written before it is read.
//! unsafe {
//!     p.cast::<[u64; 4]>().as_ptr().write([1, 2, 3, 4]);
//!     assert_eq!(p.cast::<[u64; 4]>().as_ref()[3], 4);
//!     nabla_tensor::slab::dealloc(p, layout);
//! }
//! // the next block of that class is the one just freed
//! let q = nabla_tensor::slab::alloc(layout);
//! assert_eq!(p, q);
//! unsafe { nabla_tensor::slab::dealloc(q, layout) };
//! ```

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::ptr::NonNull;

/// The step between block sizes, and the alignment of every block kept here.
const GRAIN: usize = 16;
/// The largest block (in bytes) kept here; larger ones go straight to the global allocator.
pub const LARGEST: usize = 512;
const CLASSES: usize = LARGEST / GRAIN;
/// The most bytes of free blocks a thread keeps.
pub const KEPT_BYTES: usize = 4 << 20;

/// A free block: the link to the next free block of its class is written into it.
struct FreeBlock {
    next: *mut FreeBlock,
}

struct Lists {
    heads: [*mut FreeBlock; CLASSES],
    /// Bytes kept in all classes together.
    bytes: usize,
}

impl Drop for Lists {
    fn drop(&mut self) {
        for (c, head) in self.heads.iter_mut().enumerate() {
            let mut p = std::mem::replace(head, std::ptr::null_mut());
            while !p.is_null() {
                // SAFETY: every block on the list is a free block of class `c`, allocated
                // by the global allocator with `class_layout(c)`; each is read, then freed,
                // once.
                unsafe {
                    let next = (*p).next;
                    std::alloc::dealloc(p.cast(), class_layout(c));
                    p = next;
                }
            }
        }
        self.bytes = 0;
    }
}

thread_local! {
    static LISTS: UnsafeCell<Lists> =
        const { UnsafeCell::new(Lists { heads: [std::ptr::null_mut(); CLASSES], bytes: 0 }) };
}

/// The class of blocks that hold `layout`, if any.
#[inline(always)]
fn class_of(layout: Layout) -> Option<usize> {
    if layout.size() == 0 || layout.size() > LARGEST || layout.align() > GRAIN {
        None
    } else {
        Some((layout.size() - 1) / GRAIN)
    }
}

#[inline(always)]
fn class_layout(c: usize) -> Layout {
    // SAFETY: the size is a non-zero multiple of the power-of-two alignment, far below
    // `isize::MAX`.
    unsafe { Layout::from_size_align_unchecked((c + 1) * GRAIN, GRAIN) }
}

/// A block fit for `layout` (uninitialised): from the thread's free list of its class when
/// there is one, else from the global allocator. Free it with [`dealloc`] and the same
/// layout.
///
/// # Panics
/// If `layout` has size 0. Aborts (as `Box::new` does) if the global allocator fails.
///
/// ```
/// use std::alloc::Layout;
/// let layout = Layout::new::<u32>();
/// let p = nabla_tensor::slab::alloc(layout);
/// assert_eq!(p.as_ptr() as usize % 4, 0);
/// // SAFETY: `p` came from `alloc` with this layout.
/// unsafe { nabla_tensor::slab::dealloc(p, layout) };
/// ```
#[inline]
pub fn alloc(layout: Layout) -> NonNull<u8> {
    assert!(layout.size() != 0, "slab::alloc: a block of size 0");
    let layout = match class_of(layout) {
        Some(c) => {
            let taken = LISTS
                .try_with(|l| {
                    // SAFETY: the lists are only reached through this thread's local,
                    // and neither this closure nor `dealloc`'s calls out while it holds
                    // the reference, so it is the only one.
                    let l = unsafe { &mut *l.get() };
                    let p = l.heads[c];
                    if !p.is_null() {
                        // SAFETY: `p` is a free block on the list: its link is written.
                        l.heads[c] = unsafe { (*p).next };
                        l.bytes -= (c + 1) * GRAIN;
                    }
                    p
                })
                .unwrap_or(std::ptr::null_mut());
            if let Some(p) = NonNull::new(taken) {
                return p.cast();
            }
            class_layout(c)
        }
        None => layout,
    };
    // SAFETY: the layout's size is not zero (asserted above, and a class's is at least 16).
    let p = unsafe { std::alloc::alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
}

/// Gives back a block from [`alloc`]: to the thread's free list of its class while the
/// thread keeps fewer than [`KEPT_BYTES`], else to the global allocator.
///
/// # Safety
/// `p` came from [`alloc`] with this `layout` (on any thread), is not used after this, and
/// anything in it that needed dropping was dropped.
#[inline]
pub unsafe fn dealloc(p: NonNull<u8>, layout: Layout) {
    let Some(c) = class_of(layout) else {
        // SAFETY: the caller's promise: a block of the global allocator with this layout.
        unsafe { std::alloc::dealloc(p.as_ptr(), layout) };
        return;
    };
    let kept = LISTS
        .try_with(|l| {
            // SAFETY: as in `alloc`: the only reference to the lists while it lives.
            let l = unsafe { &mut *l.get() };
            let size = (c + 1) * GRAIN;
            if l.bytes + size > KEPT_BYTES {
                return false;
            }
            let b = p.as_ptr().cast::<FreeBlock>();
            // SAFETY: the block is at least 16 bytes, 16-aligned and no longer used (the
            // caller's promise), so the link fits in it.
            unsafe { b.write(FreeBlock { next: l.heads[c] }) };
            l.heads[c] = b;
            l.bytes += size;
            true
        })
        .unwrap_or(false);
    if !kept {
        // SAFETY: blocks of a class come from the global allocator with the class's layout.
        unsafe { std::alloc::dealloc(p.as_ptr(), class_layout(c)) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_reused_by_class_and_aligned() {
        let a = Layout::new::<[u8; 24]>();
        let b = Layout::from_size_align(32, 8).unwrap();
        let p = alloc(a);
        assert_eq!(p.as_ptr() as usize % GRAIN, 0);
        // SAFETY: from `alloc` with these layouts, unused.
        unsafe { dealloc(p, a) };
        // 24 and 32 bytes share the 32-byte class
        let q = alloc(b);
        assert_eq!(p, q);
        let r = alloc(Layout::new::<[u8; 48]>());
        assert_ne!(q, r);
        unsafe {
            dealloc(q, b);
            dealloc(r, Layout::new::<[u8; 48]>());
        }
    }

    #[test]
    fn large_and_overaligned_blocks_bypass_the_lists() {
        let wide = Layout::from_size_align(64, 64).unwrap();
        for layout in [Layout::new::<[u8; 1000]>(), Layout::new::<[u8; 513]>(), wide] {
            let p = alloc(layout);
            assert_eq!(p.as_ptr() as usize % layout.align(), 0);
            // SAFETY: a fresh block of this layout.
            unsafe {
                p.as_ptr().write_bytes(7, layout.size());
                dealloc(p, layout);
            }
        }
    }

    #[test]
    fn a_thread_keeps_at_most_its_budget_and_blocks_cross_threads() {
        let layout = Layout::new::<[u8; 256]>();
        let n = KEPT_BYTES / 256 + 100;
        let blocks: Vec<usize> = (0..n).map(|_| alloc(layout).as_ptr() as usize).collect();
        // freed on another thread: that thread keeps what fits and frees the rest; its
        // lists are given back when it ends
        std::thread::spawn(move || {
            for &p in &blocks {
                // SAFETY: blocks from `alloc` with this layout, each freed once.
                unsafe { dealloc(NonNull::new(p as *mut u8).unwrap(), layout) };
            }
            LISTS.with(|l| assert!(unsafe { (*l.get()).bytes } <= KEPT_BYTES));
        })
        .join()
        .unwrap();
    }
}
