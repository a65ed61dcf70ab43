//! `path`: the shortest path from a GC root to one object.

use std::io::Write;

use anyhow::Result;

use crate::progress::Progress;
use crate::report::build as rb;
use crate::report::{emit, table, Format};

use super::session::{require_object, Session};
use super::{phase, DumpOptions, Outcome};

/// Runs `path` to `object` on the dump `opts` names.
pub fn run(
    opts: &DumpOptions,
    format: Format,
    object: u64,
    include_weak: bool,
    progress: &dyn Progress,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let session = Session::open(opts, progress, |index| require_object(index, object))?;
    let view = session.view();
    let v = view.node(object).expect("checked before analysis");
    phase(progress, "report", || -> Result<()> {
        let r = rb::path(&view, v, include_weak);
        Ok(emit(format, out, &r, table::write_path)?)
    })?;
    Ok(Outcome::Passed)
}
