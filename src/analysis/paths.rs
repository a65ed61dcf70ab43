//! The shortest path from a GC root to an object.
//!
//! Breadth-first search from the virtual root over the reference graph; the first time the
//! target is reached, the parent links spell a shortest path. By default the `referent` of
//! weak, soft and phantom references is not followed (such a path would not keep the object
//! alive); `include_weak` follows it too.

use std::collections::{HashMap, VecDeque};

use foldhash::fast::FixedState;

use crate::graph::build::Graph;
use crate::hprof::heap::{SubRecord, Value};
use crate::index::HeapIndex;

/// Class indices of java.lang.ref.{Weak,Soft,Phantom}Reference and their subclasses.
pub fn weak_reference_classes(index: &HeapIndex<'_>) -> Vec<bool> {
    let bases: Vec<u32> = [
        "java.lang.ref.WeakReference",
        "java.lang.ref.SoftReference",
        "java.lang.ref.PhantomReference",
    ]
    .iter()
    .flat_map(|n| index.classes.named(n).collect::<Vec<_>>())
    .collect();
    (0..index.classes.len() as u32)
        .map(|c| bases.iter().any(|&b| index.classes.is_subclass_of(c, b)))
        .collect()
}

/// The referent node of a reference object, if it has one.
fn referent(index: &HeapIndex<'_>, v: u32) -> Option<u32> {
    let class = index.class_of(v);
    let f = class.field("referent")?;
    match index.record(v).ok()? {
        SubRecord::Instance { data, .. } => {
            let o = f.dump_offset as usize;
            let b = data.get(o..o + index.header.id_size.bytes())?;
            match Value::decode(b, f.ty, index.header.id_size) {
                Value::Object(id) if id != 0 => index.node(id),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The nodes on a shortest path from the virtual root to `target`, root first, or `None`
/// if `target` is unreachable (with the chosen edges).
pub fn shortest_path(
    index: &HeapIndex<'_>,
    graph: &Graph,
    target: u32,
    include_weak: bool,
) -> Option<Vec<u32>> {
    let weak = if include_weak {
        Vec::new()
    } else {
        weak_reference_classes(index)
    };
    let n = graph.csr.num_nodes();
    let mut parent = Parents::Sparse(HashMap::default());
    parent.insert(graph.root, graph.root, n);
    let mut queue = VecDeque::from([graph.root]);
    'search: while let Some(v) = queue.pop_front() {
        if v == target {
            break;
        }
        let skip = if v != graph.root
            && weak
                .get(index.objects.class(v) as usize)
                .copied()
                .unwrap_or(false)
        {
            referent(index, v)
        } else {
            None
        };
        for &w in graph.csr.successors(v) {
            if Some(w) != skip && parent.insert(w, v, n) {
                // Its parent is final once it is discovered.
                if w == target {
                    break 'search;
                }
                queue.push_back(w);
            }
        }
    }
    parent.get(target)?;
    let mut path = vec![target];
    let mut cur = target;
    while cur != graph.root {
        cur = parent.get(cur).expect("every discovered node has a parent");
        path.push(cur);
    }
    path.reverse();
    Some(path)
}

/// BFS parent links. Most searches end near the roots, after a few thousand nodes, so they
/// start in a hash map; an array of one entry per node (filling it costs more than a short
/// search) replaces it once the search has seen a sixteenth of the graph.
enum Parents {
    Sparse(HashMap<u32, u32, FixedState>),
    Dense(Vec<u32>),
}

impl Parents {
    /// Records `parent` as `v`'s parent unless `v` has one; true if it was new.
    fn insert(&mut self, v: u32, parent: u32, n: usize) -> bool {
        match self {
            Parents::Sparse(m) => {
                if m.contains_key(&v) {
                    return false;
                }
                m.insert(v, parent);
                if m.len() > n / 16 {
                    let mut dense = vec![u32::MAX; n];
                    for (&k, &p) in m.iter() {
                        dense[k as usize] = p;
                    }
                    *self = Parents::Dense(dense);
                }
                true
            }
            Parents::Dense(d) => {
                let slot = &mut d[v as usize];
                let new = *slot == u32::MAX;
                if new {
                    *slot = parent;
                }
                new
            }
        }
    }

    fn get(&self, v: u32) -> Option<u32> {
        match self {
            Parents::Sparse(m) => m.get(&v).copied(),
            Parents::Dense(d) => Some(d[v as usize]).filter(|&p| p != u32::MAX),
        }
    }
}
