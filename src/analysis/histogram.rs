//! The class histogram: instances, shallow bytes and retained bytes per class.
//!
//! A class's retained size is what its instances retain together, each byte counted once:
//! the sum of `retained(x)` over instances `x` that no other instance of the same class
//! dominates. A depth-first walk of the dominator tree keeps, per class, how many of its
//! instances are on the current tree path; an instance adds its retained size only when it
//! is the first of its class on that path. One walk, O(objects), no recursion.

use rayon::prelude::*;

use crate::analysis::dominators::Dominators;
use crate::graph::csr::Csr;
use crate::index::HeapIndex;

/// One histogram row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassRow {
    /// Class index.
    pub class: u32,
    /// Instances in the dump (reachable or not).
    pub instances: u64,
    /// Their shallow bytes.
    pub shallow: u64,
    /// Bytes their reachable instances retain together.
    pub retained: u64,
}

/// Computes the histogram; rows for classes without instances are left out.
pub fn histogram(
    index: &HeapIndex<'_>,
    dom: &Dominators,
    tree: &Csr,
    retained: &[u64],
) -> Vec<ClassRow> {
    let nclasses = index.classes.len();
    let n = index.objects.len();
    let classes = index.objects.classes();
    let (instances, shallow) = (0..n as u32)
        .into_par_iter()
        .fold(
            || (vec![0u64; nclasses], vec![0u64; nclasses]),
            |(mut c, mut s), v| {
                let k = classes[v as usize] as usize;
                c[k] += 1;
                s[k] += index.objects.shallow(v);
                (c, s)
            },
        )
        .reduce(
            || (vec![0u64; nclasses], vec![0u64; nclasses]),
            |(mut c1, mut s1), (c2, s2)| {
                for k in 0..nclasses {
                    c1[k] += c2[k];
                    s1[k] += s2[k];
                }
                (c1, s1)
            },
        );

    let mut class_retained = vec![0u64; nclasses];
    let mut active = vec![0u32; nclasses];
    let root = dom.root();
    // Frames of (node, next child position); entering a node counts it, leaving uncounts.
    let mut stack: Vec<(u32, u32)> = vec![(root, tree.offsets[root as usize])];
    while let Some(top) = stack.last_mut() {
        let (v, pos) = *top;
        if pos < tree.offsets[v as usize + 1] {
            top.1 += 1;
            let w = tree.targets[pos as usize];
            let k = classes[w as usize] as usize;
            if active[k] == 0 {
                class_retained[k] += retained[w as usize];
            }
            active[k] += 1;
            stack.push((w, tree.offsets[w as usize]));
        } else {
            stack.pop();
            if v != root {
                active[classes[v as usize] as usize] -= 1;
            }
        }
    }

    (0..nclasses)
        .filter(|&k| instances[k] > 0)
        .map(|k| ClassRow {
            class: k as u32,
            instances: instances[k],
            shallow: shallow[k],
            retained: class_retained[k],
        })
        .collect()
}
