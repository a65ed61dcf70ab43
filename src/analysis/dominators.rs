//! Dominator tree of the object graph.
//!
//! Object `a` *dominates* object `b` when every path from the root to `b` passes through
//! `a`; the *immediate* dominator of `b` is its closest strict dominator. Freeing `a` frees
//! everything `a` dominates, which is what makes retained sizes (see
//! [`retained`](super::retained)) and "who is keeping this alive" answers possible.
//!
//! # Algorithm
//!
//! Semi-NCA, the variant of Lengauer–Tarjan described by Georgiadis:
//!
//! * T. Lengauer and R. E. Tarjan, "A fast algorithm for finding dominators in a
//!   flowgraph", ACM TOPLAS 1(1):121–141, 1979 (semidominators, link/eval with path
//!   compression).
//! * L. Georgiadis, R. F. Werneck, R. E. Tarjan, S. Triantafyllis and D. I. August,
//!   "Finding Dominators in Practice", ESA 2004 and JGAA 10(1):69–94, 2006; L. Georgiadis,
//!   "Linear-Time Algorithms for Dominators and Related Problems", PhD thesis, Princeton,
//!   2005 (Semi-NCA).
//!
//! Four passes, all iterative (no recursion: a 2-million-object linked list must not
//! overflow the stack):
//!
//! 1. A depth-first search from the root numbers the reachable nodes in preorder and
//!    records each one's DFS-tree parent, with an explicit stack holding the current path.
//!    Every later pass works in this preorder-relabelled space, where "is a DFS ancestor
//!    of" implies "has a smaller number" and the arrays are dense. The search looks at
//!    every edge out of a reachable node exactly once, so it also counts each node's
//!    predecessors.
//! 2. A predecessor CSR is built in preorder space from the edges out of reachable nodes,
//!    scanning the graph in node order. An edge out of a reachable node always leads to a
//!    reachable node, so unreachable nodes and their edges never enter the computation.
//!    Self-loops and edges into the root are dropped: they cannot affect any dominator.
//!    So are the lists of nodes with a single predecessor (most objects of a heap): that
//!    predecessor is the node's DFS parent, which pass 3 starts from anyway, so the list
//!    would only cost a random write per edge and memory.
//! 3. Semidominators are computed in reverse preorder with Lengauer–Tarjan's link/eval
//!    forest and simple path compression. Semi-NCA only needs the *value* of the smallest
//!    semidominator on a forest path (never the vertex), so a forest label holds that value
//!    directly, next to the ancestor pointer. Path compression walks up by reversing the
//!    ancestor pointers and back down restoring them, so it needs no stack either.
//! 4. Immediate dominators are found in preorder: `idom(w)` is the nearest common ancestor
//!    of `parent(w)` and `semi(w)` in the tree built so far, found by climbing from
//!    `parent(w)` until reaching a node numbered at most `semi(w)`.
//!
//! Simple path compression gives O(m log n) worst case; Georgiadis et al. found this
//! combination the fastest in practice.
//!
//! # Performance
//!
//! On a large heap every pass is bound by memory latency, not arithmetic: each step of the
//! DFS and of a path compression is a load whose address depends on the previous load.
//! Three things keep the chains short: pass 2 reads the graph sequentially, the forest
//! keeps ancestor and label in one cache line, and both the DFS and pass 3 issue software
//! prefetches (x86-64 only) a few edges or nodes ahead of where they work.
//!
//! # Memory
//!
//! For `n` nodes of which `r` are reachable, and `m` edges out of reachable nodes, peak
//! working memory (besides the input graph) is about `24 r + 4 m` bytes, reached in pass 3:
//! preorder→node, parent and semidominator arrays (4 bytes each per reachable node), the
//! forest (8), and the predecessor CSR (`4 r + 4 m`; only the edges into nodes with several
//! predecessors count in `m` there, typically a third of all edges). Passes 1–2 use at most
//! `8 n + 8 r + 12 d` (node→preorder map, predecessor counts, preorder, parents, and the
//! DFS stack of depth `d`), which stays below that except on very long chains. Every
//! temporary is freed before returning; the result keeps `4 n + 4 r` bytes (immediate
//! dominators by node, and the preorder). For 30 M objects and 100 M references: about
//! 1.1 GB at peak and 240 MB kept.

use crate::graph::csr::Csr;

/// Marks a node that the root cannot reach, in [`Dominators::idoms`].
pub const UNREACHABLE: u32 = u32::MAX;

/// Immediate dominators of every node of a graph, for one root.
#[derive(Clone, Debug)]
pub struct Dominators {
    root: u32,
    /// By node: its immediate dominator, `root` for the root, [`UNREACHABLE`] if unreachable.
    idoms: Vec<u32>,
    /// Reachable nodes in DFS preorder from the root.
    preorder: Vec<u32>,
}

impl Dominators {
    /// The root the dominators were computed for.
    #[inline]
    pub fn root(&self) -> u32 {
        self.root
    }

    /// The immediate dominator of `v`: `None` for the root and for unreachable nodes.
    ///
    /// Panics if `v` is not a node of the graph.
    #[inline]
    pub fn idom(&self, v: u32) -> Option<u32> {
        let d = self.idoms[v as usize];
        if d == UNREACHABLE || v == self.root {
            None
        } else {
            Some(d)
        }
    }

    /// The raw immediate-dominator array, indexed by node: the root maps to itself and
    /// unreachable nodes map to [`UNREACHABLE`].
    #[inline]
    pub fn idoms(&self) -> &[u32] {
        &self.idoms
    }

    /// Whether the root reaches `v` (the root reaches itself).
    ///
    /// Panics if `v` is not a node of the graph.
    #[inline]
    pub fn is_reachable(&self, v: u32) -> bool {
        self.idoms[v as usize] != UNREACHABLE
    }

    /// The reachable nodes in depth-first preorder from the root, root first.
    ///
    /// Every node's immediate dominator comes before it, so folding over this slice in
    /// reverse visits children before their dominators.
    #[inline]
    pub fn preorder(&self) -> &[u32] {
        &self.preorder
    }

    /// How many nodes the root reaches, itself included.
    #[inline]
    pub fn num_reachable(&self) -> usize {
        self.preorder.len()
    }

    /// Whether `a` dominates `b` (every node dominates itself; unreachable nodes neither
    /// dominate nor are dominated).
    ///
    /// Walks the dominator tree up from `b`, so it costs the depth of `b`: meant for tests
    /// and occasional queries, not for inner loops.
    pub fn dominates(&self, a: u32, b: u32) -> bool {
        if !self.is_reachable(a) || !self.is_reachable(b) {
            return false;
        }
        let mut x = b;
        loop {
            if x == a {
                return true;
            }
            if x == self.root {
                return false;
            }
            x = self.idoms[x as usize];
        }
    }

    /// The dominator tree as children lists: a CSR over all nodes where the successors of
    /// `v` are the nodes `v` immediately dominates, in preorder. Unreachable nodes have no
    /// children and are nobody's child.
    pub fn tree(&self) -> Csr {
        let n = self.idoms.len();
        let children = &self.preorder[1..];
        // Count children per node, turn counts into range ends, then fill each range
        // backwards so that children end up in increasing preorder.
        let mut offsets = vec![0u32; n + 1];
        for &v in children {
            offsets[self.idoms[v as usize] as usize] += 1;
        }
        let mut sum = 0u32;
        for o in offsets.iter_mut() {
            sum += *o;
            *o = sum;
        }
        let mut targets = vec![0u32; children.len()];
        for &v in children.iter().rev() {
            let p = self.idoms[v as usize] as usize;
            offsets[p] -= 1;
            targets[offsets[p] as usize] = v;
        }
        Csr { offsets, targets }
    }

    /// Consumes the result, returning the raw array of [`Dominators::idoms`].
    pub fn into_idoms(self) -> Vec<u32> {
        self.idoms
    }
}

/// Computes the immediate dominator of every node of `graph` for `root`.
///
/// Multi-edges and self-loops are fine. Nodes the root cannot reach get [`UNREACHABLE`]
/// and do not influence the result. Panics if `root` is not a node of `graph`, or if the
/// graph has `u32::MAX` nodes or more.
pub fn dominators(graph: &Csr, root: u32) -> Dominators {
    let n = graph.num_nodes();
    assert!(
        (root as usize) < n,
        "dominator root {root} is not one of the graph's {n} nodes"
    );
    assert!(n < UNREACHABLE as usize, "graph too large for u32 node ids");

    // Pass 1: depth-first preorder numbering, counting predecessors on the way.
    let Dfs {
        order,
        mut parent,
        pre,
        pred_counts,
    } = preorder_dfs(graph, root);
    let r = order.len();

    // Pass 2: predecessors, in preorder space.
    let preds = predecessors(graph, &pre, pred_counts);
    drop(pre);

    // Pass 3: semidominators, in reverse preorder. `forest[v]` is `[ancestor, label]` of
    // the link/eval forest; every node numbered above the one being processed is linked.
    let mut forest = vec![[0u32; 2]; r];
    let mut semi = vec![0u32; r];
    for w in (1..r).rev() {
        let w32 = w as u32;
        prefetch_evals(&preds, &forest, w);
        // The parent is a predecessor smaller than w, so it bounds the minimum from above.
        let mut s = parent[w];
        for &v in preds.successors(w32) {
            let candidate = if v < w32 {
                v
            } else {
                eval(&mut forest, v, w32)
            };
            s = s.min(candidate);
        }
        semi[w] = s;
        // Link w below its DFS parent.
        forest[w] = [parent[w], s];
    }
    drop(preds);
    drop(forest);

    // Pass 4: immediate dominators, reusing `parent` in place: when w is reached,
    // `parent[w]` is still its DFS parent and every smaller entry is already final.
    let idom_pre = &mut parent;
    for w in 1..r {
        let s = semi[w];
        let mut x = idom_pre[w];
        while x > s {
            x = idom_pre[x as usize];
        }
        idom_pre[w] = x;
    }
    drop(semi);

    let mut idoms = vec![UNREACHABLE; n];
    for (&v, &d) in order.iter().zip(idom_pre.iter()) {
        idoms[v as usize] = order[d as usize];
    }
    drop(parent);

    Dominators {
        root,
        idoms,
        preorder: order,
    }
}

/// How far ahead the DFS prefetches, in edges of the node being scanned.
const PREFETCH_EDGES: usize = 8;
/// How far ahead the semidominator pass prefetches, in nodes; twice that for the first hop.
const PREFETCH_NODES: usize = 4;

/// Warms the cache for the `eval` calls of the semidominator pass, which otherwise are
/// chains of dependent cache misses: the forest entries of the linked predecessors of node
/// `w - 2 PREFETCH_NODES`, and the entries their ancestor pointers (fetched by an earlier
/// call) lead to for node `w - PREFETCH_NODES`. Ancestors may change before use; a stale
/// prefetch only wastes a cache line.
#[inline(always)]
fn prefetch_evals(preds: &Csr, forest: &[[u32; 2]], w: usize) {
    if let Some(ahead) = w.checked_sub(2 * PREFETCH_NODES) {
        for &v in preds.successors(ahead as u32) {
            if v as usize > ahead {
                prefetch(forest, v as usize);
            }
        }
    }
    if let Some(ahead) = w.checked_sub(PREFETCH_NODES) {
        for &v in preds.successors(ahead as u32) {
            if v as usize > ahead {
                prefetch(forest, forest[v as usize][0] as usize);
            }
        }
    }
}

/// Hints the CPU to start loading `slice[i]` into cache; no effect on results, and a
/// no-op for an out-of-range `i` or on other architectures.
#[inline(always)]
fn prefetch<T>(slice: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = slice.get(i) {
        // SAFETY: a prefetch is only a hint with no side effects, and the address is valid.
        #[allow(unused_unsafe)]
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                (x as *const T).cast::<i8>(),
            )
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, i);
}

/// What the depth-first search hands to the later passes.
struct Dfs {
    /// By preorder number: the node.
    order: Vec<u32>,
    /// By preorder number: the DFS-tree parent's preorder number (0 for the root).
    parent: Vec<u32>,
    /// By node: its preorder number, or [`UNREACHABLE`].
    pre: Vec<u32>,
    /// By preorder number (length reachable + 1, last entry 0): how many edges out of
    /// reachable nodes lead to it, leaving out self-loops and edges into the root.
    pred_counts: Vec<u32>,
}

/// Depth-first search from `root` with an explicit stack. It sees every edge out of a
/// reachable node exactly once, so it also counts predecessors for [`predecessors`].
fn preorder_dfs(graph: &Csr, root: u32) -> Dfs {
    let n = graph.num_nodes();
    let offsets = &graph.offsets;
    let targets = &graph.targets;
    let mut pre = vec![UNREACHABLE; n];
    let mut order: Vec<u32> = Vec::with_capacity(n);
    let mut parent: Vec<u32> = Vec::with_capacity(n);
    // Indexed by preorder number, whose range is not known yet: sized for the worst case.
    let mut pred_counts = vec![0u32; n + 1];
    // The current DFS path, one `[next edge, end of edges, preorder number]` per node. Its
    // top is all the search touches when it backtracks, so that stays in cache.
    let mut stack: Vec<[u32; 3]> = Vec::new();

    pre[root as usize] = 0;
    order.push(root);
    parent.push(0);
    stack.push([offsets[root as usize], offsets[root as usize + 1], 0]);
    while let Some(top) = stack.last_mut() {
        let [mut c, end, i] = *top;
        let mut discovered = None;
        while c < end {
            // Start the cache misses for edges further along while this one is handled.
            let ahead = c as usize + PREFETCH_EDGES;
            if ahead < end as usize {
                let t = targets[ahead] as usize;
                prefetch(&pre, t);
                prefetch(offsets, t);
            }
            let w = targets[c as usize];
            c += 1;
            let p = pre[w as usize];
            if p == UNREACHABLE {
                let k = order.len() as u32;
                pre[w as usize] = k;
                order.push(w);
                parent.push(i);
                pred_counts[k as usize] = 1;
                discovered = Some((w as usize, k));
                break;
            }
            if p != 0 && p != i {
                pred_counts[p as usize] += 1;
            }
        }
        top[0] = c;
        match discovered {
            Some((w, k)) => {
                let (first, end) = (offsets[w] as usize, offsets[w + 1] as usize);
                for &t in &targets[first..end.min(first + PREFETCH_EDGES)] {
                    prefetch(&pre, t as usize);
                    prefetch(offsets, t as usize);
                }
                stack.push([first as u32, end as u32, k]);
            }
            None => {
                stack.pop();
            }
        }
    }
    drop(stack);
    let r = order.len();
    pred_counts.truncate(r + 1);
    pred_counts.shrink_to_fit();
    order.shrink_to_fit();
    parent.shrink_to_fit();
    Dfs {
        order,
        parent,
        pre,
        pred_counts,
    }
}

/// The reverse of the subgraph the root reaches, in preorder space: the successors of `w`
/// are the preorder numbers of `w`'s predecessors. Self-loops and edges into the root
/// (number 0) are left out, matching `counts` from [`preorder_dfs`], and so are the lists
/// of nodes with one predecessor: it is their DFS parent, the semidominator pass's
/// starting point.
///
/// Scans the graph in node order, so only the writes land at random; which nodes have
/// lists is a bit set of one bit per node, small enough to stay in cache.
fn predecessors(graph: &Csr, pre: &[u32], counts: Vec<u32>) -> Csr {
    let mut offsets = counts;
    let mut listed = vec![0u64; offsets.len().div_ceil(64)];
    for (i, c) in offsets.iter_mut().enumerate() {
        if *c >= 2 {
            listed[i / 64] |= 1 << (i % 64);
        } else {
            *c = 0;
        }
    }
    // Counts become range ends; filling decrements each back to its range start.
    let mut sum = 0u32;
    for o in offsets.iter_mut() {
        sum += *o;
        *o = sum;
    }
    let mut targets = vec![0u32; sum as usize];
    for (range, &i) in graph.offsets.windows(2).zip(pre) {
        if i == UNREACHABLE {
            continue;
        }
        for &t in &graph.targets[range[0] as usize..range[1] as usize] {
            let p = pre[t as usize];
            if p != i && (listed[p as usize / 64] >> (p % 64)) & 1 == 1 {
                let slot = &mut offsets[p as usize];
                *slot -= 1;
                targets[*slot as usize] = i;
            }
        }
    }
    Csr { offsets, targets }
}

/// Lengauer–Tarjan `eval` for a linked node `v` (`v > w`) while `w` is being processed:
/// the smallest semidominator on the forest path from `v` up to, but excluding, its forest
/// root (the first ancestor numbered at most `w`, i.e. not yet linked). Compresses the
/// path so that every node on it points straight at that forest root.
///
/// `forest[x]` is `[ancestor, label]`. Iterative: the upward walk reverses the ancestor
/// pointers so that the downward walk can find its way back, pointing each node at the
/// forest root as it goes.
#[inline]
fn eval(forest: &mut [[u32; 2]], v: u32, w: u32) -> u32 {
    const NONE: u32 = u32::MAX;
    // Up: stop at the topmost linked node `x`, whose ancestor `top` is the forest root.
    let mut below = NONE;
    let mut x = v;
    let mut top = forest[x as usize][0];
    while top > w {
        forest[x as usize][0] = below;
        below = x;
        x = top;
        top = forest[x as usize][0];
    }
    // Down: fold the minimum label downwards and point every node at the forest root.
    let mut best = forest[x as usize][1];
    while below != NONE {
        let [up, label] = forest[below as usize];
        best = best.min(label);
        forest[below as usize] = [top, best];
        below = up;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn idoms_of(n: usize, edges: &[(u32, u32)], root: u32) -> Vec<Option<u32>> {
        let d = dominators(&Csr::from_edges(n, edges), root);
        (0..n as u32).map(|v| d.idom(v)).collect()
    }

    #[test]
    fn single_node() {
        let d = dominators(&Csr::from_edges(1, &[]), 0);
        assert_eq!(d.idoms(), &[0]);
        assert_eq!(d.idom(0), None);
        assert!(d.is_reachable(0));
        assert_eq!(d.preorder(), &[0]);
        assert_eq!(d.num_reachable(), 1);
        assert!(d.dominates(0, 0));
        assert_eq!(d.tree().num_edges(), 0);
    }

    #[test]
    fn diamond() {
        // 0 -> 1 -> 3, 0 -> 2 -> 3, 3 -> 4
        let edges = [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)];
        assert_eq!(
            idoms_of(5, &edges, 0),
            vec![None, Some(0), Some(0), Some(0), Some(3)]
        );
        let d = dominators(&Csr::from_edges(5, &edges), 0);
        assert!(d.dominates(0, 4));
        assert!(d.dominates(3, 4));
        assert!(!d.dominates(1, 3));
        assert!(!d.dominates(4, 3));
        let t = d.tree();
        assert_eq!(t.successors(0), &[1, 3, 2]);
        assert_eq!(t.successors(3), &[4]);
        assert_eq!(t.successors(1), &[] as &[u32]);
    }

    #[test]
    fn lengauer_tarjan_paper_graph() {
        // Figure 1 of Lengauer & Tarjan (1979), with R=0, A=1, ..., L=12.
        let [r, a, b, c, d, e, f, g, h, i, j, k, l] = [0u32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        let edges = [
            (r, a),
            (r, b),
            (r, c),
            (a, d),
            (b, a),
            (b, d),
            (b, e),
            (c, f),
            (c, g),
            (d, l),
            (e, h),
            (f, i),
            (g, i),
            (g, j),
            (h, e),
            (h, k),
            (i, k),
            (j, i),
            (k, i),
            (k, r),
            (l, h),
        ];
        let expected = [
            None,
            Some(r),
            Some(r),
            Some(r),
            Some(r),
            Some(r),
            Some(c),
            Some(c),
            Some(r),
            Some(r),
            Some(g),
            Some(r),
            Some(d),
        ];
        assert_eq!(idoms_of(13, &edges, r), expected);
    }

    #[test]
    fn cycle() {
        // 0 -> 1 -> 2 -> 3 -> 1, plus 3 -> 0.
        let edges = [(0, 1), (1, 2), (2, 3), (3, 1), (3, 0)];
        assert_eq!(
            idoms_of(4, &edges, 0),
            vec![None, Some(0), Some(1), Some(2)]
        );
        // Same cycle seen from another root.
        assert_eq!(
            idoms_of(4, &edges, 2),
            vec![Some(3), Some(3), None, Some(2)]
        );
    }

    #[test]
    fn unreachable_nodes_are_ignored() {
        // 3 and 4 are unreachable from 0; 3 points into the reachable part and would,
        // if counted, make 2 no longer dominated by 1.
        let edges = [(0, 1), (1, 2), (3, 2), (4, 3), (3, 4), (2, 5)];
        let d = dominators(&Csr::from_edges(6, &edges), 0);
        assert_eq!(
            d.idoms(),
            &[0, 0, 1, UNREACHABLE, UNREACHABLE, 2],
            "raw idoms"
        );
        assert_eq!(d.idom(3), None);
        assert!(!d.is_reachable(4));
        assert!(!d.dominates(3, 3));
        assert!(!d.dominates(0, 3));
        assert_eq!(d.preorder(), &[0, 1, 2, 5]);
        assert_eq!(d.num_reachable(), 4);
        let t = d.tree();
        assert_eq!(t.num_nodes(), 6);
        assert_eq!(t.successors(3), &[] as &[u32]);
        assert_eq!(t.successors(4), &[] as &[u32]);
    }

    #[test]
    fn self_loops_and_duplicate_edges() {
        let edges = [
            (0, 0),
            (0, 1),
            (0, 1),
            (1, 1),
            (1, 2),
            (1, 2),
            (2, 2),
            (0, 3),
            (2, 3),
            (3, 3),
            (3, 0),
        ];
        assert_eq!(
            idoms_of(4, &edges, 0),
            vec![None, Some(0), Some(1), Some(0)]
        );
    }

    #[test]
    fn preorder_puts_dominators_first() {
        let edges = [(0, 2), (2, 1), (1, 3), (0, 3), (3, 4), (4, 1)];
        let d = dominators(&Csr::from_edges(5, &edges), 0);
        let mut pos = [usize::MAX; 5];
        for (i, &v) in d.preorder().iter().enumerate() {
            pos[v as usize] = i;
        }
        assert_eq!(d.preorder()[0], 0);
        for v in 1..5u32 {
            assert!(pos[d.idom(v).unwrap() as usize] < pos[v as usize]);
        }
        assert_eq!(d.clone().into_idoms(), d.idoms());
    }

    #[test]
    fn two_million_node_chain() {
        let n = 2_000_000u32;
        let edges: Vec<(u32, u32)> = (0..n - 1).map(|i| (i, i + 1)).collect();
        let d = dominators(&Csr::from_edges(n as usize, &edges), 0);
        assert_eq!(d.num_reachable(), n as usize);
        for v in [1, 2, 1000, 999_999, n - 1] {
            assert_eq!(d.idom(v), Some(v - 1));
        }
        assert!(d.dominates(0, n - 1));
    }

    #[test]
    fn long_compression_path() {
        // A 1M chain whose last node points back at node 1: computing semi(1) evaluates
        // the whole chain in one path compression. 0 -> last too, so idom(last) = 0.
        let n = 1_000_000u32;
        let last = n - 1;
        let mut edges: Vec<(u32, u32)> = (0..last).map(|i| (i, i + 1)).collect();
        edges.push((last, 1));
        edges.push((0, last));
        let d = dominators(&Csr::from_edges(n as usize, &edges), 0);
        assert_eq!(d.idom(1), Some(0));
        assert_eq!(d.idom(2), Some(1));
        assert_eq!(d.idom(last - 1), Some(last - 2));
        assert_eq!(d.idom(last), Some(0));
    }

    #[test]
    fn one_million_node_star() {
        let n = 1_000_000u32;
        let edges: Vec<(u32, u32)> = (1..n).map(|i| (0, i)).collect();
        let d = dominators(&Csr::from_edges(n as usize, &edges), 0);
        assert!(d.idoms().iter().all(|&x| x == 0));
        assert_eq!(d.tree().successors(0).len(), n as usize - 1);
    }

    #[test]
    fn dense_complete_graph() {
        let n = 1500u32;
        let edges: Vec<(u32, u32)> = (0..n).flat_map(|a| (0..n).map(move |b| (a, b))).collect();
        let d = dominators(&Csr::from_edges(n as usize, &edges), 7);
        for v in 0..n {
            assert_eq!(d.idom(v), if v == 7 { None } else { Some(7) });
        }
    }

    fn random_graph() -> impl Strategy<Value = (usize, Vec<(u32, u32)>, u32)> {
        (1usize..200).prop_flat_map(|n| {
            let node = 0..n as u32;
            (
                Just(n),
                proptest::collection::vec((node.clone(), node.clone()), 0..4 * n),
                node,
            )
        })
    }

    proptest! {
        #[test]
        fn matches_petgraph((n, edges, root) in random_graph()) {
            use petgraph::graph::{DiGraph, NodeIndex};
            let mut g = DiGraph::<(), ()>::new();
            for _ in 0..n {
                g.add_node(());
            }
            for &(a, b) in &edges {
                g.add_edge(NodeIndex::new(a as usize), NodeIndex::new(b as usize), ());
            }
            let expected =
                petgraph::algo::dominators::simple_fast(&g, NodeIndex::new(root as usize));
            let d = dominators(&Csr::from_edges(n, &edges), root);
            prop_assert_eq!(d.root(), root);
            let mut reachable = 0;
            for v in 0..n as u32 {
                let node = NodeIndex::new(v as usize);
                let is_reachable = expected.dominators(node).is_some();
                reachable += usize::from(is_reachable);
                prop_assert_eq!(d.is_reachable(v), is_reachable, "reachability of {}", v);
                prop_assert_eq!(
                    d.idom(v),
                    expected.immediate_dominator(node).map(|x| x.index() as u32),
                    "idom of {}", v
                );
            }
            prop_assert_eq!(d.num_reachable(), reachable);
            prop_assert_eq!(d.preorder()[0], root);
            let t = d.tree();
            prop_assert_eq!(t.num_edges(), reachable - 1);
            for v in 0..n as u32 {
                for &c in t.successors(v) {
                    prop_assert_eq!(d.idom(c), Some(v));
                }
            }
        }
    }
}
