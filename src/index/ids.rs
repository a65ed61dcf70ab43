//! Object id -> dense node index.
//!
//! Object ids in HotSpot dumps are heap addresses: 8-byte aligned, and packed densely in
//! the parts of the heap that are in use. Graph building resolves every reference in the
//! dump, so a lookup should cost one cache miss, not the ~25 of a binary search over
//! millions of ids nor the two of a radix directory followed by a search in its bucket.
//!
//! The map is a rank bitmap over heap slots (one bit per 8-byte slot, set where an object
//! starts): node `i` is the object whose bit is the i-th set bit. Bits come in 64-byte
//! blocks that carry the rank of their first bit, so a lookup reads one cache line of the
//! bitmap plus a small directory that stays in cache. The directory covers the address
//! range in chunks of [`CHUNK_BLOCKS`] blocks and allocates blocks only for chunks that
//! hold objects, so a sparse heap (G1 regions scattered over a large reservation) costs
//! what its used part does: about 2 bytes per object.
//!
//! When the ids are too sparse for that (hand-made or non-HotSpot dumps), a radix
//! directory over the high bits of `id - min` narrows each lookup to a bucket of a few
//! ids, which a short binary search finishes. Neither hashes nor allocates per object.

/// Slots covered by one block: seven 64-bit words after the block's rank.
const BLOCK_SLOTS: u64 = 448;
/// Blocks per directory chunk; a chunk covers 56 KB of a heap of 8-byte slots.
const CHUNK_BLOCKS: u64 = 16;
const CHUNK_SLOTS: u64 = BLOCK_SLOTS * CHUNK_BLOCKS;
/// Directory entry of a chunk with no objects.
const EMPTY: u32 = u32::MAX;
/// The bitmap is used while its blocks take at most this many bytes per id.
const BITMAP_BYTES_PER_ID: usize = 4;

/// One cache line of the bitmap: the rank of its first slot, then its slots' bits.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct Block {
    rank: u32,
    _pad: u32,
    words: [u64; 7],
}

#[derive(Debug)]
enum Lookup {
    /// Slots of `1 << slot` bytes; `dir[chunk]` is the chunk's first block, or [`EMPTY`].
    Bitmap {
        slot: u32,
        dir: Vec<u32>,
        blocks: Vec<Block>,
    },
    /// `dir[k]` = index of the first id whose bucket (`(id - min) >> shift`) is >= k; one
    /// extra entry at the end.
    Radix { shift: u32, dir: Vec<u32> },
}

/// A sorted set of object ids with O(1) lookup of an id's rank.
#[derive(Debug)]
pub struct IdMap {
    /// The ids themselves, only where the lookup needs them (the radix directory): with
    /// the bitmap they are dropped, and [`HeapIndex::id`](crate::index::HeapIndex::id)
    /// reads an id back from its sub-record, saving 8 bytes per object.
    ids: Vec<u64>,
    len: usize,
    min: u64,
    lookup: Lookup,
}

impl Default for IdMap {
    fn default() -> IdMap {
        IdMap::new(Vec::new())
    }
}

impl IdMap {
    /// Builds the map over `ids`, which must be sorted ascending and free of duplicates.
    pub fn new(ids: Vec<u64>) -> IdMap {
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let min = ids.first().copied().unwrap_or(0);
        let len = ids.len();
        match bitmap(&ids, min) {
            Some(lookup) => IdMap {
                ids: Vec::new(),
                len,
                min,
                lookup,
            },
            None => IdMap {
                lookup: radix(&ids, min),
                ids,
                len,
                min,
            },
        }
    }

    /// The rank of `id` among the ids, or `None` if it is not one of them.
    #[inline]
    pub fn get(&self, id: u64) -> Option<u32> {
        if id < self.min {
            return None;
        }
        let off = id - self.min;
        match &self.lookup {
            Lookup::Bitmap { slot, dir, blocks } => {
                if off & ((1u64 << slot) - 1) != 0 {
                    return None;
                }
                let s = off >> slot;
                let first = *dir.get((s / CHUNK_SLOTS) as usize)?;
                if first == EMPTY {
                    return None;
                }
                let within = s % CHUNK_SLOTS;
                let b = &blocks[first as usize + (within / BLOCK_SLOTS) as usize];
                let j = within % BLOCK_SLOTS;
                let (w, bit) = ((j / 64) as usize, j % 64);
                if (b.words[w] >> bit) & 1 == 0 {
                    return None;
                }
                let below: u32 = b.words[..w].iter().map(|x| x.count_ones()).sum();
                Some(b.rank + below + (b.words[w] & ((1u64 << bit) - 1)).count_ones())
            }
            Lookup::Radix { shift, dir } => {
                // `dir` has at least two entries; `k + 1` could overflow for ids near the top.
                let k = (off >> shift) as usize;
                if k >= dir.len() - 1 {
                    return None;
                }
                let (lo, hi) = (dir[k] as usize, dir[k + 1] as usize);
                self.ids[lo..hi]
                    .binary_search(&id)
                    .ok()
                    .map(|i| (lo + i) as u32)
            }
        }
    }

    /// The id of node `i`, if the map keeps the ids (see [`IdMap`]'s `ids`).
    #[inline]
    pub fn stored_id(&self, i: u32) -> Option<u64> {
        self.ids.get(i as usize).copied()
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no ids.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of memory the map holds.
    pub fn heap_bytes(&self) -> usize {
        self.ids.capacity() * 8
            + match &self.lookup {
                Lookup::Bitmap { dir, blocks, .. } => dir.capacity() * 4 + blocks.capacity() * 64,
                Lookup::Radix { dir, .. } => dir.capacity() * 4,
            }
    }

    /// True when lookups go through the rank bitmap (for tests and diagnostics).
    pub fn uses_bitmap(&self) -> bool {
        matches!(self.lookup, Lookup::Bitmap { .. })
    }
}

/// The rank bitmap, if the ids are dense enough for it to be small.
fn bitmap(ids: &[u64], min: u64) -> Option<Lookup> {
    let max = *ids.last()?;
    // Slot size: the largest power of two up to 8 that every offset is a multiple of.
    let or = ids.iter().fold(0u64, |acc, &id| acc | (id - min));
    let slot = or.trailing_zeros().min(3);
    let chunks = ((max - min) >> slot) / CHUNK_SLOTS + 1;
    // The directory must stay small next to the ids, and the blocks within budget.
    if chunks > ids.len() as u64 + 1024 {
        return None;
    }
    let mut dir = vec![EMPTY; chunks as usize];
    let mut used = 0usize;
    let mut last = u64::MAX;
    for &id in ids {
        let c = ((id - min) >> slot) / CHUNK_SLOTS;
        if c != last {
            used += 1;
            last = c;
        }
    }
    if used * (CHUNK_BLOCKS as usize) * 64 > ids.len() * BITMAP_BYTES_PER_ID + (64 << 10) {
        return None;
    }
    let mut blocks = vec![Block::default(); used * CHUNK_BLOCKS as usize];
    let mut next = 0u32;
    for &id in ids {
        let s = (id - min) >> slot;
        let c = (s / CHUNK_SLOTS) as usize;
        if dir[c] == EMPTY {
            dir[c] = next;
            next += CHUNK_BLOCKS as u32;
        }
        let within = s % CHUNK_SLOTS;
        let j = within % BLOCK_SLOTS;
        blocks[dir[c] as usize + (within / BLOCK_SLOTS) as usize].words[(j / 64) as usize] |=
            1u64 << (j % 64);
    }
    // Blocks were handed out in address order, so ranks are a running count.
    let mut rank = 0u32;
    for b in &mut blocks {
        b.rank = rank;
        rank += b.words.iter().map(|w| w.count_ones()).sum::<u32>();
    }
    Some(Lookup::Bitmap { slot, dir, blocks })
}

/// The radix directory: about one bucket per two ids.
fn radix(ids: &[u64], min: u64) -> Lookup {
    let Some(&max) = ids.last() else {
        return Lookup::Radix {
            shift: 0,
            dir: vec![0, 0],
        };
    };
    let span = max - min;
    let target = (ids.len() as u64 / 2).max(1);
    let mut shift = 0;
    while (span >> shift) > target {
        shift += 1;
    }
    let buckets = (span >> shift) as usize + 1;
    let mut dir = vec![0u32; buckets + 1];
    let mut i = 0usize;
    for (k, slot) in dir.iter_mut().enumerate() {
        while i < ids.len() && (((ids[i] - min) >> shift) as usize) < k {
            i += 1;
        }
        *slot = i as u32;
    }
    Lookup::Radix { shift, dir }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn finds_exactly_the_ids_it_holds(mut ids in proptest::collection::vec(any::<u64>(), 0..300),
                                          probes in proptest::collection::vec(any::<u64>(), 0..50)) {
            ids.sort_unstable();
            ids.dedup();
            let m = IdMap::new(ids.clone());
            for (i, &id) in ids.iter().enumerate() {
                prop_assert_eq!(m.get(id), Some(i as u32));
            }
            for p in probes {
                prop_assert_eq!(m.get(p), ids.binary_search(&p).ok().map(|i| i as u32));
            }
        }
    }

    proptest! {
        /// Heap-shaped ids (aligned, in dense runs with gaps) take the bitmap, and agree
        /// with a binary search on members and non-members alike.
        #[test]
        fn bitmap_lookups_agree_with_binary_search(runs in proptest::collection::vec((1u64..3000, 1u64..40, 0u64..100_000), 1..20),
                                                   align in 0u32..4) {
            let mut ids = Vec::new();
            let mut at = 0x7_0000_0000u64;
            for (count, size, gap) in runs {
                for _ in 0..count {
                    ids.push(at);
                    at += size << align;
                }
                at += gap << align;
            }
            let m = IdMap::new(ids.clone());
            prop_assert!(m.uses_bitmap());
            for (i, &id) in ids.iter().enumerate() {
                prop_assert_eq!(m.get(id), Some(i as u32));
                for probe in [id + 1, id.wrapping_sub(1), id + 8, id + 4096] {
                    prop_assert_eq!(m.get(probe), ids.binary_search(&probe).ok().map(|i| i as u32));
                }
            }
        }
    }

    #[test]
    fn ids_near_the_top_of_the_range_are_not_found_rather_than_overflowing() {
        for ids in [vec![0u64], vec![0, 8, 16], vec![5, 1 << 40]] {
            let m = IdMap::new(ids);
            assert_eq!(m.get(u64::MAX), None);
            assert_eq!(m.get(u64::MAX - 7), None);
        }
    }

    #[test]
    fn scattered_ids_take_the_radix_directory() {
        let ids: Vec<u64> = (0..1000u64).map(|i| i * 0x1_0000_0000 + 8).collect();
        let m = IdMap::new(ids.clone());
        assert!(!m.uses_bitmap());
        assert_eq!(m.get(ids[999]), Some(999));
        assert_eq!(m.get(ids[999] + 8), None);
        assert!(IdMap::new(Vec::new()).get(0).is_none());
    }

    #[test]
    fn heap_like_addresses() {
        let ids: Vec<u64> = (0..10_000u64)
            .map(|i| 0x7_0000_0000 + i * 24 + (i % 3) * 8)
            .collect();
        let m = IdMap::new(ids.clone());
        assert!(m.uses_bitmap());
        assert_eq!(m.get(ids[1234]), Some(1234));
        assert_eq!(m.get(ids[1234] + 1), None);
        assert_eq!(m.get(0), None);
        assert_eq!(m.get(u64::MAX), None);
    }
}
