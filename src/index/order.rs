//! Puts the objects of a dump into id order without sorting them, when the dump allows.
//!
//! Object ids are addresses, and HotSpot writes a heap's objects by walking it in address
//! order, region by region: each parse chunk's objects are already sorted, and the chunks'
//! id ranges do not overlap. Only the class mirrors (written first, from the class table,
//! at addresses all over the heap) break the order. So the chunks are ordered by their
//! first id, the mirrors are spliced in, and the result is written in parallel, one task per
//! chunk: a linear pass instead of an O(n log n) sort of 16-byte pairs. Dumps that do not
//! have this shape (other writers, other collectors) get a parallel sort.

use rayon::prelude::*;

/// An object's id and the file offset of its sub-record.
pub type Pair = (u64, u64);

/// Sorts `runs` (pairs in any order, usually each one already sorted and the runs
/// disjoint) and `loose` (pairs in any order, usually few) together by `(id, offset)`, and
/// returns the ids and the offsets as two arrays. Duplicate ids are kept, adjacent, in
/// offset order.
pub fn id_order(mut runs: Vec<Vec<Pair>>, mut loose: Vec<Pair>) -> (Vec<u64>, Vec<u64>) {
    runs.retain(|r| !r.is_empty());
    runs.par_iter_mut().for_each(|r| {
        if !r.is_sorted() {
            r.sort_unstable();
        }
    });
    loose.sort_unstable();
    runs.sort_unstable_by_key(|r| r[0]);
    let total = runs.iter().map(Vec::len).sum::<usize>() + loose.len();
    if !runs.windows(2).all(|w| w[0][w[0].len() - 1] < w[1][0]) {
        let mut all = Vec::with_capacity(total);
        for r in runs {
            all.extend_from_slice(&r);
        }
        all.extend_from_slice(&loose);
        all.par_sort_unstable();
        return all.into_par_iter().unzip();
    }

    let mut ids = vec![0u64; total];
    let mut offsets = vec![0u64; total];
    // Hand each run its own range of the output: its pairs plus the loose pairs that fall
    // inside its id range. Loose pairs between two runs are written here directly.
    let mut tasks = Vec::with_capacity(runs.len());
    let (mut id_rest, mut off_rest) = (&mut ids[..], &mut offsets[..]);
    let mut next = 0;
    for run in &runs {
        let (first, last) = (run[0], run[run.len() - 1]);
        let gap = loose[next..].partition_point(|p| *p < first);
        let (i, o);
        (i, id_rest) = std::mem::take(&mut id_rest).split_at_mut(gap);
        (o, off_rest) = std::mem::take(&mut off_rest).split_at_mut(gap);
        unzip_into(&loose[next..next + gap], i, o);
        next += gap;
        let inside = loose[next..].partition_point(|p| *p < last);
        let len = run.len() + inside;
        let (i, o);
        (i, id_rest) = std::mem::take(&mut id_rest).split_at_mut(len);
        (o, off_rest) = std::mem::take(&mut off_rest).split_at_mut(len);
        tasks.push((run.as_slice(), &loose[next..next + inside], i, o));
        next += inside;
    }
    unzip_into(&loose[next..], id_rest, off_rest);
    tasks
        .into_par_iter()
        .for_each(|(run, inside, ids, offsets)| merge_into(run, inside, ids, offsets));
    (ids, offsets)
}

fn unzip_into(pairs: &[Pair], ids: &mut [u64], offsets: &mut [u64]) {
    for ((p, i), o) in pairs.iter().zip(ids).zip(offsets) {
        (*i, *o) = *p;
    }
}

/// Merges two sorted slices into the output arrays, which have room for exactly both.
fn merge_into(a: &[Pair], b: &[Pair], ids: &mut [u64], offsets: &mut [u64]) {
    let (mut x, mut y) = (0, 0);
    for (i, o) in ids.iter_mut().zip(offsets.iter_mut()) {
        let p = if y == b.len() || (x < a.len() && a[x] < b[y]) {
            x += 1;
            a[x - 1]
        } else {
            y += 1;
            b[y - 1]
        };
        (*i, *o) = p;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(runs: &[Vec<Pair>], loose: &[Pair]) -> (Vec<u64>, Vec<u64>) {
        let mut all: Vec<Pair> = runs.iter().flatten().chain(loose).copied().collect();
        all.sort_unstable();
        all.into_iter().unzip()
    }

    proptest! {
        /// Arbitrary input, including overlapping runs and duplicate ids.
        #[test]
        fn equals_a_plain_sort(runs in proptest::collection::vec(
                                   proptest::collection::vec((0u64..200, 0u64..1000), 0..20), 0..8),
                               loose in proptest::collection::vec((0u64..200, 0u64..1000), 0..10)) {
            prop_assert_eq!(id_order(runs.clone(), loose.clone()), reference(&runs, &loose));
        }

        /// The shape of a HotSpot dump: sorted disjoint runs in shuffled order, and loose
        /// pairs anywhere, before, between, inside and after them.
        #[test]
        fn equals_a_plain_sort_on_heap_shaped_input(sizes in proptest::collection::vec(1usize..30, 1..10),
                                                   loose in proptest::collection::vec(0u64..2000, 0..15),
                                                   rotate in 0usize..10) {
            let mut runs = Vec::new();
            let mut id = 100;
            for s in sizes {
                runs.push((0..s).map(|k| { id += 8; (id, 1000 + id * 3 + k as u64) }).collect::<Vec<_>>());
                id += 40;
            }
            let r = rotate % runs.len();
            runs.rotate_left(r);
            let loose: Vec<Pair> = loose.into_iter().map(|v| (v * 2 + 1, v)).collect();
            prop_assert_eq!(id_order(runs.clone(), loose.clone()), reference(&runs, &loose));
        }
    }
}
