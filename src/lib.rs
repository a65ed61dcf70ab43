//! heapsleuth: why did this JVM run out of memory?
//!
//! Data flows one way: the dump is read ([`hprof`]), indexed ([`index`]), turned into an
//! object graph ([`graph`]), analysed ([`analysis`]), judged by rules ([`rules`]) and
//! reported ([`report`]). [`app`] runs the phases in order; the binary's `main` is a thin
//! shell around [`cli`]. ARCHITECTURE.md tells the whole story.

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
