//! The top of the dominator tree: the objects that keep the most memory alive.
//!
//! Ranking every object by retained size lists a long chain's head, its second link, its
//! third and so on: all true, none informative. Instead the tree is explored best-first
//! (a max-heap on retained size, children pushed as their parent is popped, so objects
//! come out in decreasing retained order), and an object is listed only when
//! - it retains less than `pass_through` of the nearest listed object above it (a child
//!   that keeps nearly everything its listed dominator keeps says nothing new), and
//! - no listed object above it has the same class (the rest of a linked list, a tree or a
//!   nested structure is already accounted for by its listed head).
//!
//! Cost: O(k log k) for the k objects popped; bounded so that a heap made of one long
//! structure cannot make this take seconds.

use std::collections::BinaryHeap;

use crate::analysis::dominators::Dominators;
use crate::graph::csr::Csr;

/// One listed object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopEntry {
    /// The object's node.
    pub node: u32,
    /// Its retained bytes.
    pub retained: u64,
    /// Its dominators from the nearest up to (not including) the virtual root.
    pub dominators: Vec<u32>,
}

/// No listed ancestor.
const NONE: u32 = u32::MAX;

/// The `n` largest retainers, skipping pass-through objects (retaining at least
/// `pass_through` (0..=1) of the nearest listed dominator's retained size) and objects
/// below a listed object of the same class (`class_of` gives a node's class).
pub fn top(
    dom: &Dominators,
    tree: &Csr,
    retained: &[u64],
    class_of: impl Fn(u32) -> u32,
    n: usize,
    pass_through: f64,
) -> Vec<TopEntry> {
    let root = dom.root();
    let mut heap = BinaryHeap::new();
    // Listed objects as (node, nearest listed ancestor's position in `listed`).
    let mut listed: Vec<(u32, u32)> = Vec::new();
    // (retained, reversed node for determinism, node, nearest listed ancestor)
    for &c in tree.successors(root) {
        heap.push((retained[c as usize], u32::MAX - c, c, NONE));
    }
    let mut out = Vec::new();
    let mut popped = 0usize;
    while let Some((r, _, v, anchor)) = heap.pop() {
        if out.len() >= n {
            break;
        }
        popped += 1;
        let list = r > 0
            && match anchor {
                NONE => true,
                a => {
                    let (anchor_node, _) = listed[a as usize];
                    let class = class_of(v);
                    let mut same_class = false;
                    let mut cur = a;
                    while cur != NONE {
                        let (u, up) = listed[cur as usize];
                        if class_of(u) == class {
                            same_class = true;
                            break;
                        }
                        cur = up;
                    }
                    !same_class && (r as f64) < pass_through * retained[anchor_node as usize] as f64
                }
            };
        let next_anchor = if list {
            listed.push((v, anchor));
            out.push(TopEntry {
                node: v,
                retained: r,
                dominators: chain(dom, v),
            });
            (listed.len() - 1) as u32
        } else {
            anchor
        };
        for &c in tree.successors(v) {
            heap.push((retained[c as usize], u32::MAX - c, c, next_anchor));
        }
        // A pathological tree could make us pop most of the heap; the listed objects so far
        // are still the right answer, so stop well before that costs seconds.
        if popped > 50_000_000 {
            break;
        }
    }
    out
}

/// Dominators of `v`, nearest first, without the virtual root.
pub fn chain(dom: &Dominators, v: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut cur = v;
    while let Some(d) = dom.idom(cur) {
        if d == dom.root() {
            break;
        }
        out.push(d);
        cur = d;
    }
    out
}
