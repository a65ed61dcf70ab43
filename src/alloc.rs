//! The binary's global allocator: large arrays are mapped directly and recycled.
//!
//! Every phase allocates a few arrays of one entry per object (tens to hundreds of MB each),
//! frees them, and the next phase allocates others of about the same sizes. The system
//! allocator returns such blocks to the kernel at once, so every phase pays again for
//! fresh pages: a fault, and the kernel zeroing the page, per 4 KB. On this project's VMs
//! that is about 0.5 ms per MB, a fifth of a whole analysis. (Transparent huge pages were
//! tried: faults drop 5x, but zeroing 2 MB pages on first touch, with compaction when free
//! memory is fragmented, cost more system time than the TLB saved.)
//!
//! So blocks of [`LARGE`] bytes or more are anonymous mappings, and a freed one is kept in
//! a small pool instead of unmapped. The next large allocation takes a pooled block and
//! resizes it with `mremap`, which keeps its pages: only the part beyond the old size is
//! new memory. The pool holds at most [`POOL_BLOCKS`] blocks and [`POOL_BYTES`] bytes, so
//! freed memory does not stay resident long. Smaller allocations go to the system
//! allocator. The allocator is installed by the binary's `main.rs`, not by the library, so
//! embedders and tests keep their own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;

/// Allocations at least this large are mapped and recycled; small vectors are not where
/// the page faults are.
pub const LARGE: usize = 4 << 20;

/// At most this many freed blocks wait for reuse.
const POOL_BLOCKS: usize = 8;

/// At most this many bytes of freed blocks wait for reuse: bounded so that the pool cannot
/// raise the peak resident memory by more than this.
const POOL_BYTES: usize = 256 << 20;

/// Mapping granularity and alignment: stricter layouts go to [`System`].
const PAGE: usize = 4096;

/// A [`GlobalAlloc`] that maps large blocks and recycles them (see the module docs).
pub struct RecyclingAlloc;

fn is_large(layout: Layout) -> bool {
    layout.size() >= LARGE && layout.align() <= PAGE
}

fn mapped_len(size: usize) -> usize {
    size.div_ceil(PAGE) * PAGE
}

/// Freed blocks, `(address, mapped length)`; a zero length marks an empty slot.
struct Pool {
    blocks: [(usize, usize); POOL_BLOCKS],
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    blocks: [(0, 0); POOL_BLOCKS],
    bytes: 0,
});

impl Pool {
    /// Takes the block that fits `len` most tightly, else the largest (to be grown).
    fn take(&mut self, len: usize) -> Option<(usize, usize)> {
        let fits = |b: &&mut (usize, usize)| b.1 >= len;
        let slot = match self.blocks.iter_mut().filter(fits).min_by_key(|b| b.1) {
            Some(b) => b,
            None => self.blocks.iter_mut().max_by_key(|b| b.1)?,
        };
        if slot.1 == 0 {
            return None;
        }
        let block = std::mem::take(slot);
        self.bytes -= block.1;
        Some(block)
    }

    /// Keeps a freed block if there is room; gives it back otherwise.
    fn put(&mut self, block: (usize, usize)) -> Option<(usize, usize)> {
        if self.bytes + block.1 > POOL_BYTES {
            return Some(block);
        }
        match self.blocks.iter_mut().find(|b| b.1 == 0) {
            Some(slot) => {
                *slot = block;
                self.bytes += block.1;
                None
            }
            None => Some(block),
        }
    }
}

#[cfg(target_os = "linux")]
mod os {
    use std::ptr;

    /// Maps `len` bytes of zeroed anonymous memory; null on failure.
    pub fn map(len: usize) -> *mut u8 {
        // SAFETY: an anonymous private mapping with no address hint has no preconditions;
        // the result is checked against MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            ptr::null_mut()
        } else {
            p.cast()
        }
    }

    /// Grows or shrinks a mapping made by [`map`], moving it if needed, keeping its
    /// contents; null on failure (the old mapping is then untouched).
    pub fn remap(p: *mut u8, old: usize, new: usize) -> *mut u8 {
        // SAFETY: `p` and `old` describe a live mapping made by `map` (the allocator's
        // contract); MREMAP_MAYMOVE leaves the old mapping intact on failure.
        let q = unsafe { libc::mremap(p.cast(), old, new, libc::MREMAP_MAYMOVE) };
        if q == libc::MAP_FAILED {
            ptr::null_mut()
        } else {
            q.cast()
        }
    }

    /// Unmaps a mapping made by [`map`] or [`remap`].
    pub fn unmap(p: *mut u8, len: usize) {
        // SAFETY: `p` and `len` describe a live mapping made by `map` or `remap`.
        unsafe { libc::munmap(p.cast(), len) };
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    // Elsewhere every allocation goes to the system allocator; these are never called.
    pub fn map(_: usize) -> *mut u8 {
        std::ptr::null_mut()
    }
    pub fn remap(_: *mut u8, _: usize, _: usize) -> *mut u8 {
        std::ptr::null_mut()
    }
    pub fn unmap(_: *mut u8, _: usize) {}
}

/// Unmaps every pooled block: for the end of the array-heavy phases, so that freed
/// arrays do not stay resident through the rest of the run. A no-op when the binary does
/// not use [`RecyclingAlloc`] (the pool is then always empty).
pub fn release_pool() {
    let blocks = match POOL.lock() {
        Ok(mut pool) => {
            pool.bytes = 0;
            std::mem::replace(&mut pool.blocks, [(0, 0); POOL_BLOCKS])
        }
        Err(_) => return,
    };
    for (addr, len) in blocks {
        if len > 0 {
            os::unmap(addr as *mut u8, len);
        }
    }
}

impl RecyclingAlloc {
    /// A mapping of exactly `len` bytes, recycled when the pool has one; with `zeroed`, its
    /// contents are zero (fresh mappings and grown tails already are).
    fn map(len: usize, zeroed: bool) -> *mut u8 {
        let pooled = POOL.lock().map_or(None, |mut p| p.take(len));
        if let Some((addr, old)) = pooled {
            let p = addr as *mut u8;
            let q = if old == len {
                p
            } else {
                os::remap(p, old, len)
            };
            if q.is_null() {
                os::unmap(p, old);
            } else {
                if zeroed {
                    // SAFETY: `q` is a live mapping of at least `min(old, len)` bytes.
                    unsafe { std::ptr::write_bytes(q, 0, old.min(len)) };
                }
                return q;
            }
        }
        os::map(len)
    }

    /// Pools a freed mapping, or unmaps it when the pool is full.
    fn unmap(p: *mut u8, len: usize) {
        let rejected = match POOL.lock() {
            Ok(mut pool) => pool.put((p as usize, len)),
            Err(_) => Some((p as usize, len)),
        };
        if let Some((addr, len)) = rejected {
            os::unmap(addr as *mut u8, len);
        }
    }
}

// SAFETY: large blocks come from their own mappings, sized and freed with the same
// `mapped_len` of the layout's size, and are page-aligned (at least the layout's alignment,
// which `is_large` checks); a pooled block is owned by the pool alone until it is handed
// out again. Everything else is delegated to `System` unchanged. A layout's class (large
// or not) is decided by its size and alignment alone, so a block always returns to the
// allocator that made it. The pool's lock is never held while allocating.
unsafe impl GlobalAlloc for RecyclingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if cfg!(target_os = "linux") && is_large(layout) {
            Self::map(mapped_len(layout.size()), false)
        } else {
            System.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if cfg!(target_os = "linux") && is_large(layout) {
            Self::map(mapped_len(layout.size()), true)
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if cfg!(target_os = "linux") && is_large(layout) {
            Self::unmap(ptr, mapped_len(layout.size()))
        } else {
            System.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !cfg!(target_os = "linux") {
            return System.realloc(ptr, layout, new_size);
        }
        // SAFETY (for the layout): `realloc`'s contract guarantees a valid size for the
        // alignment.
        let new = Layout::from_size_align_unchecked(new_size, layout.align());
        match (is_large(layout), is_large(new)) {
            (false, false) => System.realloc(ptr, layout, new_size),
            (true, true) => {
                let (old_len, new_len) = (mapped_len(layout.size()), mapped_len(new_size));
                if old_len == new_len {
                    ptr
                } else {
                    os::remap(ptr, old_len, new_len)
                }
            }
            // Crossing the threshold: a new block of the other kind, then a copy.
            _ => {
                let q = self.alloc(new);
                if !q.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, q, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                q
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Allocates through `RecyclingAlloc` directly (the test binary keeps the system
    /// allocator), across the threshold both ways, and checks contents survive.
    #[test]
    fn large_blocks_round_trip_through_alloc_realloc_and_dealloc() {
        let a = RecyclingAlloc;
        unsafe {
            let small = Layout::from_size_align(1000, 8).unwrap();
            let p = a.alloc(small);
            assert!(!p.is_null());
            for i in 0..1000 {
                *p.add(i) = (i % 251) as u8;
            }
            // Small -> large -> larger -> small again.
            let q = a.realloc(p, small, LARGE + 12345);
            assert!(!q.is_null());
            assert_eq!(q as usize % PAGE, 0);
            *q.add(LARGE + 12344) = 7;
            let large = Layout::from_size_align(LARGE + 12345, 8).unwrap();
            let r = a.realloc(q, large, 3 * LARGE);
            assert!(!r.is_null());
            assert_eq!(*r.add(LARGE + 12344), 7);
            let larger = Layout::from_size_align(3 * LARGE, 8).unwrap();
            let s = a.realloc(r, larger, 500);
            assert!(!s.is_null());
            for i in 0..500 {
                assert_eq!(*s.add(i), (i % 251) as u8);
            }
            a.dealloc(s, Layout::from_size_align(500, 8).unwrap());

            // Zeroed large blocks are zero.
            let z = Layout::from_size_align(LARGE * 2, 4096).unwrap();
            let p = a.alloc_zeroed(z);
            assert!(!p.is_null());
            assert!(std::slice::from_raw_parts(p, z.size())
                .iter()
                .all(|&b| b == 0));
            a.dealloc(p, z);
        }
    }

    /// A recycled block is handed out again, resized, and zeroed when asked.
    #[test]
    fn recycled_blocks_come_back_zeroed() {
        let a = RecyclingAlloc;
        unsafe {
            let big = Layout::from_size_align(3 * LARGE, 8).unwrap();
            let p = a.alloc(big);
            std::ptr::write_bytes(p, 0xAB, big.size());
            a.dealloc(p, big);
            for size in [2 * LARGE, 5 * LARGE] {
                let l = Layout::from_size_align(size, 8).unwrap();
                let q = a.alloc_zeroed(l);
                assert!(!q.is_null());
                assert!(std::slice::from_raw_parts(q, size).iter().all(|&b| b == 0));
                std::ptr::write_bytes(q, 0xCD, size);
                a.dealloc(q, l);
            }
        }
    }

    #[test]
    fn the_pool_is_bounded() {
        let mut pool = Pool {
            blocks: [(0, 0); POOL_BLOCKS],
            bytes: 0,
        };
        for k in 0..POOL_BLOCKS {
            assert_eq!(pool.put((4096 * (k + 1), LARGE)), None);
        }
        assert_eq!(pool.put((1, LARGE)), Some((1, LARGE)), "no free slot");
        assert_eq!(pool.take(LARGE / 2).map(|b| b.1), Some(LARGE));
        assert_eq!(
            pool.put((2, POOL_BYTES)),
            Some((2, POOL_BYTES)),
            "over the byte cap"
        );
        // Nothing fits: the largest is taken, to be grown.
        assert_eq!(pool.take(10 * LARGE).map(|b| b.1), Some(LARGE));
        assert_eq!(pool.bytes, (POOL_BLOCKS - 2) * LARGE);
    }

    #[test]
    fn strict_alignments_stay_with_the_system_allocator() {
        assert!(!is_large(Layout::from_size_align(LARGE, 8192).unwrap()));
        assert!(is_large(Layout::from_size_align(LARGE, 64).unwrap()));
        assert!(!is_large(Layout::from_size_align(LARGE - 1, 8).unwrap()));
        assert_eq!(mapped_len(1), PAGE);
        assert_eq!(mapped_len(PAGE + 1), 2 * PAGE);
    }
}
