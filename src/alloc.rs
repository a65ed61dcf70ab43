//! The binary's global allocator: large arrays on transparent huge pages.
//!
//! Every phase allocates a few arrays of one entry per object (tens to hundreds of MB each)
//! and then reads them at random. With 4 KB pages that costs twice: the first touch of each
//! page is a fault that the kernel must zero and map (on this project's VMs about 0.5 ms per
//! MB, a fifth of a whole analysis), and random reads miss the TLB on every access. Linux
//! hands out 2 MB pages for anonymous memory that asks for them (`MADV_HUGEPAGE`; most
//! distributions ship THP in `madvise` mode), which makes first touch several times cheaper
//! and lets the TLB cover the arrays.
//!
//! So allocations of [`LARGE`] bytes or more are mapped directly, rounded up to whole huge
//! pages, and advised; everything smaller goes to the system allocator. If the advice is
//! refused (THP disabled, another OS) the memory is ordinary anonymous memory: only slower.
//! The allocator is installed by the binary's `main.rs`, not by the library, so embedders
//! and tests keep their own.

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations at least this large are mapped on huge pages. Below it the rounding to whole
/// huge pages would waste too much, and small vectors are not where the faults are.
pub const LARGE: usize = 4 << 20;

/// The huge-page size that sizes are rounded up to.
const HUGE_PAGE: usize = 2 << 20;

/// Mapped alignment: mmap returns page-aligned memory, so stricter layouts go to [`System`].
const PAGE: usize = 4096;

/// A [`GlobalAlloc`] that maps large blocks on transparent huge pages (see the module docs).
pub struct HugePageAlloc;

fn is_large(layout: Layout) -> bool {
    layout.size() >= LARGE && layout.align() <= PAGE
}

fn mapped_len(size: usize) -> usize {
    size.div_ceil(HUGE_PAGE) * HUGE_PAGE
}

#[cfg(target_os = "linux")]
mod os {
    use std::ptr;

    /// Maps `len` bytes of zeroed anonymous memory and asks for huge pages; null on failure.
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
            return ptr::null_mut();
        }
        advise(p, len);
        p.cast()
    }

    /// Grows or shrinks a mapping made by [`map`], moving it if needed; null on failure
    /// (the old mapping is then untouched).
    pub fn remap(p: *mut u8, old: usize, new: usize) -> *mut u8 {
        // SAFETY: `p` and `old` describe a live mapping made by `map` (the allocator's
        // contract); MREMAP_MAYMOVE leaves the old mapping intact on failure.
        let q = unsafe { libc::mremap(p.cast(), old, new, libc::MREMAP_MAYMOVE) };
        if q == libc::MAP_FAILED {
            return ptr::null_mut();
        }
        advise(q, new);
        q.cast()
    }

    /// Unmaps a mapping made by [`map`] or [`remap`].
    pub fn unmap(p: *mut u8, len: usize) {
        // SAFETY: `p` and `len` describe a live mapping made by `map` or `remap`.
        unsafe { libc::munmap(p.cast(), len) };
    }

    fn advise(p: *mut libc::c_void, len: usize) {
        // SAFETY: advice on a mapping this process owns; failure only means 4 KB pages.
        unsafe { libc::madvise(p, len, libc::MADV_HUGEPAGE) };
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

// SAFETY: large blocks come from their own mappings, sized and freed with the same
// `mapped_len` of the layout's size, and are page-aligned (at least the layout's alignment,
// which `is_large` checks); everything else is delegated to `System` unchanged. A layout's
// class (large or not) is decided by its size alone, so a block is always returned to the
// allocator that made it.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if cfg!(target_os = "linux") && is_large(layout) {
            os::map(mapped_len(layout.size()))
        } else {
            System.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if cfg!(target_os = "linux") && is_large(layout) {
            // Fresh anonymous mappings are zero-filled.
            os::map(mapped_len(layout.size()))
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if cfg!(target_os = "linux") && is_large(layout) {
            os::unmap(ptr, mapped_len(layout.size()))
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

    /// Allocates through `HugePageAlloc` directly (the test binary keeps the system
    /// allocator), across the threshold both ways, and checks contents survive.
    #[test]
    fn large_blocks_round_trip_through_alloc_realloc_and_dealloc() {
        let a = HugePageAlloc;
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

    #[test]
    fn strict_alignments_stay_with_the_system_allocator() {
        assert!(!is_large(Layout::from_size_align(LARGE, 8192).unwrap()));
        assert!(is_large(Layout::from_size_align(LARGE, 64).unwrap()));
        assert!(!is_large(Layout::from_size_align(LARGE - 1, 8).unwrap()));
        assert_eq!(mapped_len(1), HUGE_PAGE);
        assert_eq!(mapped_len(HUGE_PAGE + 1), 2 * HUGE_PAGE);
    }
}
