//! Object id -> dense node index.
//!
//! Object ids in HotSpot dumps are heap addresses, so once sorted they are spread fairly
//! evenly over the heap's address range. A radix directory over the high bits of
//! `id - min` narrows each lookup to a bucket of a few ids, which a short binary search
//! finishes: no hashing, no per-object allocation, and lookups that touch two cache lines
//! instead of the ~25 of a plain binary search over millions of ids.

/// A sorted set of object ids with O(1)-expected lookup of an id's rank.
#[derive(Debug, Default)]
pub struct IdMap {
    ids: Vec<u64>,
    min: u64,
    shift: u32,
    /// `dir[k]` = index of the first id whose bucket is >= k; one extra entry at the end.
    dir: Vec<u32>,
}

impl IdMap {
    /// Builds the map over `ids`, which must be sorted ascending and free of duplicates.
    pub fn new(ids: Vec<u64>) -> IdMap {
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let (min, max) = match (ids.first(), ids.last()) {
            (Some(&a), Some(&b)) => (a, b),
            _ => {
                return IdMap {
                    ids,
                    min: 0,
                    shift: 0,
                    dir: vec![0, 0],
                }
            }
        };
        // Aim for about one bucket per two ids: small enough to fit in cache-friendly
        // u32s (4 bytes per bucket), fine enough that buckets hold a handful of ids.
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
        IdMap {
            ids,
            min,
            shift,
            dir,
        }
    }

    /// The rank of `id` among the ids, or `None` if it is not one of them.
    #[inline]
    pub fn get(&self, id: u64) -> Option<u32> {
        let off = id.wrapping_sub(self.min);
        let k = (off >> self.shift) as usize;
        // `dir` has at least two entries; `k + 1` would overflow for ids near u64::MAX.
        if id < self.min || k >= self.dir.len() - 1 {
            return None;
        }
        let lo = self.dir[k] as usize;
        let hi = self.dir[k + 1] as usize;
        let bucket = &self.ids[lo..hi];
        bucket.binary_search(&id).ok().map(|i| (lo + i) as u32)
    }

    /// The id of node `i`.
    #[inline]
    pub fn id(&self, i: u32) -> u64 {
        self.ids[i as usize]
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are no ids.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Bytes of memory the map holds.
    pub fn heap_bytes(&self) -> usize {
        self.ids.capacity() * 8 + self.dir.capacity() * 4
    }
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

    #[test]
    fn heap_like_addresses() {
        let ids: Vec<u64> = (0..10_000u64)
            .map(|i| 0x7_0000_0000 + i * 24 + (i % 3) * 8)
            .collect();
        let m = IdMap::new(ids.clone());
        assert_eq!(m.get(ids[1234]), Some(1234));
        assert_eq!(m.get(ids[1234] + 1), None);
        assert_eq!(m.get(0), None);
        assert_eq!(m.get(u64::MAX), None);
    }
}
