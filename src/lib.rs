//! heapsleuth: why did this JVM run out of memory?
//!
//! Data flows one way: the dump is read ([`hprof`]), indexed ([`index`]), turned into an
//! object graph ([`graph`]), analysed ([`analysis`]), judged by rules ([`rules`]) and
//! reported ([`report`]). [`app`] runs the phases in order; the binary's `main` is a thin
//! shell around [`cli`]. ARCHITECTURE.md tells the whole story.
//!
//! The stages as a library, on a dump shipped in `fixtures/`:
//!
//! ```
//! use heapsleuth::analysis::{dominators, retained};
//! use heapsleuth::graph::build;
//! use heapsleuth::hprof::gz;
//! use heapsleuth::index::{HeapIndex, IndexOptions};
//! use heapsleuth::progress::NoProgress;
//!
//! let raw = std::fs::read("fixtures/core/tiny.hprof.gz")?;
//! let dump = gz::inflate(&raw, &std::env::temp_dir(), &|_| {})?;
//! let opts = IndexOptions { model: None, salvage: false };
//! let index = HeapIndex::build(&dump, &opts, &NoProgress)?;
//! let graph = build::build(&index, &NoProgress)?;
//! let dom = dominators::dominators(&graph.csr, graph.root);
//! let root = graph.root;
//! let sizes = retained::retained_sizes(&dom, |v| if v == root { 0 } else { index.objects.shallow(v) });
//!
//! // The virtual root above all GC roots retains every reachable byte.
//! let reachable: u64 = (0..index.objects.len() as u32)
//!     .filter(|&v| dom.is_reachable(v))
//!     .map(|v| index.objects.shallow(v))
//!     .sum();
//! assert_eq!(sizes[root as usize], reachable);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod analysis;
pub mod app;
pub mod cli;
pub mod error;
pub mod graph;
pub mod hprof;
pub mod index;
pub mod progress;
pub mod report;
pub mod rules;
pub mod view;
