//! JSON output: one pretty-printed document per command, key order as in [`super::model`].

use std::io::Write;

use serde::Serialize;

/// Writes `report` as one JSON document followed by a newline.
pub fn write<T: Serialize>(out: &mut dyn Write, report: &T) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}
