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

/// Writes `report` as JSON, or as text with `text`: the one place a command's output
/// format is chosen.
pub fn emit<T: serde::Serialize>(
    format: Format,
    out: &mut dyn std::io::Write,
    report: &T,
    text: impl FnOnce(&mut dyn std::io::Write, &T) -> std::io::Result<()>,
) -> std::io::Result<()> {
    match format {
        Format::Json => json::write(out, report),
        Format::Text => text(out, report),
    }
}
