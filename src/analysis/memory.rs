//! How much memory the analysis of an indexed dump will need, known before the graph is
//! built, so that a dump too big for the machine is refused at once instead of being killed
//! by the kernel an hour later.

use rayon::prelude::*;

use crate::hprof::format::BasicType;
use crate::index::HeapIndex;

/// Fixed cost of the process besides its per-object data: thread stacks, allocator arenas,
/// report buffers. Measured at 4-8 MB of anonymous memory on small dumps.
const BASE: u64 = 8 << 20;

/// What [`estimate_memory`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Objects in the index.
    pub objects: u64,
    /// References the graph will have at most (null fields included, so an upper bound).
    pub references: u64,
    /// Peak anonymous memory of the whole analysis, in bytes.
    pub bytes: u64,
}

/// Estimates the peak anonymous memory of analysing `index`; `dump_in_anonymous_memory`
/// says whether the dump itself was inflated into anonymous memory (gzip input) rather
/// than mapped from a file, whose pages the kernel can drop.
///
/// With `n` objects and `m` references (the per-structure costs are documented where each
/// structure is built):
///
/// | what | bytes |
/// |---|---|
/// | index: file offset, class, shallow size (`index`) | `16 n` |
/// | id map: a rank bitmap, or ids and a radix directory (`index::ids`) | `2 n` |
/// | graph CSR: offsets and targets (`graph::csr`) | `4 n + 4 m` |
/// | Semi-NCA working set, taking every node as reachable (`analysis::dominators`) | `24 n + 4 m` |
/// | immediate dominators by node, and the preorder it keeps | `4 n` |
/// | retained sizes (`analysis::retained`) | `8 n` |
/// | dominator tree as children lists | `8 n` |
/// | a GC-root path search (`analysis::paths`), for findings and `path` | `4 n` |
/// | strings (hash map entries), classes, GC roots | per entry |
/// | the inflated dump, for gzip input in anonymous memory | its length |
/// | the process itself | 8 MB |
///
/// i.e. `70 n + 8 m` plus the small tables. The dominator working set is freed before
/// retained sizes are computed, but freed memory does not reliably go back to the system
/// (the binary's allocator keeps up to 256 MB of freed blocks for reuse), so the resident
/// peak is closer to the sum than to the largest phase: on the `chain` fixture (1 M
/// objects) the sum is within 10% of the measured anonymous peak, and on the 10m benchmark
/// dump it is 1.3 times the measured peak of 78 bytes per object (BENCHMARKS.md). `m` is
/// counted, not guessed: each instance's reference fields plus its class, each object
/// array's length (from its shallow size) plus its class, one per primitive array, each
/// class's statics, constant-pool references and four structural links, and the GC roots.
/// Null fields are counted too, so the estimate errs high.
pub fn estimate_memory(index: &HeapIndex<'_>, dump_in_anonymous_memory: bool) -> MemoryEstimate {
    let objects = &index.objects;
    let classes = &index.classes;
    let n = objects.len() as u64;
    let class_class = classes.class_class;
    let model = index.model;
    let per_object: u64 = (0..objects.len() as u32)
        .into_par_iter()
        .with_min_len(1 << 16)
        .map(|v| {
            let c = objects.class(v);
            if Some(c) == class_class {
                // Class objects are counted per class below.
                return 0;
            }
            let ci = classes.get(c);
            match ci.elem {
                None => ci.ref_offsets.len() as u64 + 1,
                Some(BasicType::Object) => {
                    let body = objects.shallow(v).saturating_sub(model.array_header as u64);
                    body / model.ref_size.max(1) as u64 + 1
                }
                Some(_) => 1,
            }
        })
        .sum();
    let per_class: u64 = classes
        .list
        .iter()
        .map(|c| (c.dump.statics.len() + c.dump.constant_pool_refs.len()) as u64 + 4)
        .sum();
    let m = per_object + per_class + index.roots.len() as u64;
    let tables = index.string_count() as u64 * 32
        + classes.len() as u64 * 512
        + index.roots.len() as u64 * std::mem::size_of::<crate::hprof::heap::Root>() as u64;
    let dump = if dump_in_anonymous_memory {
        index.data.len() as u64
    } else {
        0
    };
    MemoryEstimate {
        objects: n,
        references: m,
        bytes: 70 * n + 8 * m + tables + dump + BASE,
    }
}
