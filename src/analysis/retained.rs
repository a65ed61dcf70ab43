//! Retained sizes: how many bytes freeing an object would free.
//!
//! The retained size of `v` is the sum of the shallow sizes of every object `v`
//! dominates, `v` included: exactly the objects that become unreachable once `v` does.
//! Given the dominator tree (see [`dominators`](super::dominators)) it is one bottom-up
//! fold: visit the reachable objects in reverse DFS preorder, where every object comes
//! before its immediate dominator, and add each object's total into its dominator's.
//!
//! Memory: one `u64` per node (the result); nothing else is allocated.

use rayon::prelude::*;

use super::dominators::{Dominators, UNREACHABLE};

/// Retained size of every node, indexed by node.
///
/// `retained[v]` is the sum of `shallow(w)` over every `w` that `v` dominates (`v`
/// included); it is 0 for nodes the root cannot reach, and `retained[root]` is the total
/// shallow size of the reachable nodes. `shallow` is called once per reachable node, in
/// parallel.
pub fn retained_sizes<F: Fn(u32) -> u64 + Sync>(dom: &Dominators, shallow: F) -> Vec<u64> {
    let idoms = dom.idoms();
    let mut retained = vec![0u64; idoms.len()];
    retained
        .par_iter_mut()
        .with_min_len(1 << 14)
        .zip(idoms.par_iter())
        .enumerate()
        .for_each(|(v, (size, &d))| {
            if d != UNREACHABLE {
                *size = shallow(v as u32);
            }
        });
    // Children before dominators: by the time v is read, everything below it is summed.
    let preorder = dom.preorder();
    for &v in preorder[1..].iter().rev() {
        let d = idoms[v as usize] as usize;
        retained[d] += retained[v as usize];
    }
    retained
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dominators::dominators;
    use crate::graph::csr::Csr;
    use proptest::prelude::*;

    #[test]
    fn diamond_with_unreachable_node() {
        // 0 -> {1, 2} -> 3 -> 4; 5 is unreachable and points at 4.
        let g = Csr::from_edges(6, &[(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (5, 4)]);
        let d = dominators(&g, 0);
        let sizes = [1u64, 10, 100, 1000, 10000, 100000];
        let r = retained_sizes(&d, |v| sizes[v as usize]);
        assert_eq!(r, vec![11111, 10, 100, 11000, 10000, 0]);
    }

    #[test]
    fn chain_sums_suffixes() {
        let n = 100_000u32;
        let edges: Vec<(u32, u32)> = (0..n - 1).map(|i| (i, i + 1)).collect();
        let d = dominators(&Csr::from_edges(n as usize, &edges), 0);
        let r = retained_sizes(&d, |_| 3);
        assert_eq!(r[0], 3 * n as u64);
        assert_eq!(r[n as usize - 1], 3);
        assert_eq!(r[1000], 3 * (n as u64 - 1000));
    }

    #[test]
    fn sums_do_not_overflow_u32() {
        let d = dominators(&Csr::from_edges(3, &[(0, 1), (1, 2)]), 0);
        let r = retained_sizes(&d, |_| u32::MAX as u64);
        assert_eq!(r[0], 3 * u32::MAX as u64);
    }

    /// Brute force: v retains itself and every node that removing v disconnects from the
    /// root.
    fn oracle(n: usize, edges: &[(u32, u32)], root: u32, shallow: &[u64]) -> Vec<u64> {
        let g = Csr::from_edges(n, edges);
        let reach = |removed: Option<u32>| {
            let mut seen = vec![false; n];
            if removed == Some(root) {
                return seen;
            }
            let mut stack = vec![root];
            seen[root as usize] = true;
            while let Some(x) = stack.pop() {
                for &y in g.successors(x) {
                    if Some(y) != removed && !seen[y as usize] {
                        seen[y as usize] = true;
                        stack.push(y);
                    }
                }
            }
            seen
        };
        let all = reach(None);
        (0..n as u32)
            .map(|v| {
                if !all[v as usize] {
                    return 0;
                }
                let without = reach(Some(v));
                (0..n)
                    .filter(|&w| all[w] && !without[w])
                    .map(|w| shallow[w])
                    .sum()
            })
            .collect()
    }

    fn random_weighted_graph() -> impl Strategy<Value = (usize, Vec<(u32, u32)>, u32, Vec<u64>)> {
        (1usize..120).prop_flat_map(|n| {
            let node = 0..n as u32;
            (
                Just(n),
                proptest::collection::vec((node.clone(), node.clone()), 0..3 * n),
                node,
                proptest::collection::vec(0u64..1 << 40, n),
            )
        })
    }

    proptest! {
        #[test]
        fn matches_brute_force((n, edges, root, shallow) in random_weighted_graph()) {
            let d = dominators(&Csr::from_edges(n, &edges), root);
            let r = retained_sizes(&d, |v| shallow[v as usize]);
            prop_assert_eq!(&r, &oracle(n, &edges, root, &shallow));
            let reachable_total: u64 = d.preorder().iter().map(|&v| shallow[v as usize]).sum();
            prop_assert_eq!(r[root as usize], reachable_total);
        }
    }
}
