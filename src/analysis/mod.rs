//! Analyses over the object graph: dominators, retained sizes, histogram, top retainers,
//! paths. [`Analysis::run`] builds the graph and computes what every report needs.

pub mod dominators;
pub mod histogram;
pub mod memory;
pub mod paths;
pub mod retained;
pub mod top;

use std::sync::OnceLock;

use crate::error::Result;
use crate::graph::build::{self, Graph};
use crate::graph::csr::Csr;
use crate::index::HeapIndex;
use crate::progress::Progress;

pub use memory::{estimate_memory, MemoryEstimate};

/// What the analysis phases compute from an index.
pub struct Analysis {
    /// The reference graph with its virtual root.
    pub graph: Graph,
    /// Immediate dominators.
    pub dom: dominators::Dominators,
    /// The dominator tree as children lists.
    pub tree: Csr,
    /// Retained bytes by node; the virtual root's is the reachable heap.
    pub retained: Vec<u64>,
    /// The class histogram, computed on first use (see `HeapView::class_histogram`).
    pub histogram: OnceLock<Vec<histogram::ClassRow>>,
}

impl Analysis {
    /// Builds the graph, then dominators, the dominator tree and retained sizes.
    pub fn run(index: &HeapIndex<'_>, progress: &dyn Progress) -> Result<Analysis> {
        let graph = build::build(index, progress)?;
        progress.start("dominators", 0);
        let dom = dominators::dominators(&graph.csr, graph.root);
        progress.finish();
        progress.start("retained sizes", 0);
        let root = graph.root;
        let objects = &index.objects;
        let retained =
            retained::retained_sizes(&dom, |v| if v == root { 0 } else { objects.shallow(v) });
        let tree = dom.tree();
        progress.finish();
        Ok(Analysis {
            graph,
            dom,
            tree,
            retained,
            histogram: OnceLock::new(),
        })
    }
}
