//! Reports: what the user sees, built from a [`HeapView`](crate::view::HeapView) as plain
//! data ([`model`]) and then written as text tables ([`table`]) or JSON ([`json`]).
//!
//! This is the only layer that knows about output formats: `model` is the sole user of
//! serde, `table` the sole user of comfy-table.

pub mod build;
pub mod json;
pub mod model;
pub mod table;

/// Output format chosen by `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Tables for people.
    Text,
    /// One JSON document for machines.
    Json,
}
