//! `top`: the biggest retainers, from the top of the dominator tree.

use std::io::Write;

use anyhow::Result;

use crate::progress::Progress;
use crate::report::build as rb;
use crate::report::model::{TopReport, SCHEMA};
use crate::report::{emit, table, Format};

use super::session::Session;
use super::{phase, DumpOptions, Outcome};

/// Runs `top` on the dump `opts` names, listing `n` objects.
pub fn run(
    opts: &DumpOptions,
    format: Format,
    n: usize,
    progress: &dyn Progress,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let session = Session::open(opts, progress, |_| Ok(()))?;
    let view = session.view();
    phase(progress, "report", || -> Result<()> {
        let r = TopReport {
            schema: SCHEMA,
            reachable_bytes: view.reachable_bytes(),
            top: rb::top_objects(&view, n),
        };
        Ok(emit(format, out, &r, |o, r| {
            table::write_top(o, &r.top, r.reachable_bytes)
        })?)
    })?;
    Ok(Outcome::Passed)
}
