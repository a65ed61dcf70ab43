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
//! use heapsleuth::analysis::Analysis;
//! use heapsleuth::hprof::gz;
//! use heapsleuth::index::{HeapIndex, IndexOptions};
//! use heapsleuth::progress::NoProgress;
//! use heapsleuth::view::HeapView;
//!
//! let raw = std::fs::read("fixtures/core/tiny.hprof.gz")?;
//! let dump = gz::inflate(&raw, &std::env::temp_dir(), &|_| {})?;
//! let opts = IndexOptions { model: None, salvage: false, dump: None };
//! let index = HeapIndex::build(&dump, &opts, &NoProgress)?;
//! let analysis = Analysis::run(&index, &NoProgress)?;
//! let view = HeapView::new(&index, &analysis);
//!
//! // The virtual root above all GC roots retains every reachable byte.
//! let reachable: u64 = (0..view.len() as u32)
//!     .filter(|&v| view.dom.is_reachable(v))
//!     .map(|v| view.shallow(v))
//!     .sum();
//! assert_eq!(view.reachable_bytes(), reachable);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod alloc;
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
pub mod units;
pub mod view;
