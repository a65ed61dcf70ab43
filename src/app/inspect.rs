//! `inspect`: one object in detail: class, sizes, fields, array contents, referrers.

use std::io::Write;

use anyhow::Result;

use crate::progress::Progress;
use crate::report::build as rb;
use crate::report::{emit, table, Format};

use super::session::{require_object, Session};
use super::{phase, DumpOptions, Outcome};

/// Runs `inspect` of `object` on the dump `opts` names, showing up to `elements` array
/// elements.
pub fn run(
    opts: &DumpOptions,
    format: Format,
    object: u64,
    elements: usize,
    progress: &dyn Progress,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let session = Session::open(opts, progress, |index| require_object(index, object))?;
    let view = session.view();
    let v = view.node(object).expect("checked before analysis");
    phase(progress, "report", || -> Result<()> {
        let r = rb::inspect(&view, v, elements);
        Ok(emit(format, out, &r, table::write_inspect)?)
    })?;
    Ok(Outcome::Passed)
}
