//! `rules`: every rule with its pack and thresholds. Reads no dump.

use std::io::Write;

use anyhow::Result;

use crate::report::build as rb;
use crate::report::{emit, table, Format};

use super::Outcome;

/// Lists the rules.
pub fn run(format: Format, out: &mut dyn Write) -> Result<Outcome> {
    emit(format, out, &rb::rules_report(), table::write_rules)?;
    Ok(Outcome::Passed)
}
