//! `histogram`: per class, instances, shallow bytes and the bytes the instances retain.

use std::io::Write;

use anyhow::Result;
use regex::Regex;

use crate::progress::Progress;
use crate::report::build::{self as rb, SortBy};
use crate::report::model::{HistogramReport, SCHEMA};
use crate::report::{emit, table, Format};

use super::session::Session;
use super::{phase, DumpOptions, Outcome};

/// Which rows, in which order.
#[derive(Clone, Debug)]
pub struct Request {
    /// Order.
    pub sort: SortBy,
    /// Rows.
    pub n: usize,
    /// Only classes whose name matches.
    pub grep: Option<Regex>,
}

/// Runs `histogram` on the dump `opts` names.
pub fn run(
    opts: &DumpOptions,
    format: Format,
    req: &Request,
    progress: &dyn Progress,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let session = Session::open(opts, progress, |_| Ok(()))?;
    let view = session.view();
    let h = phase(progress, "histogram", || view.class_histogram());
    phase(progress, "report", || -> Result<()> {
        let r = HistogramReport {
            schema: SCHEMA,
            reachable_bytes: view.reachable_bytes(),
            histogram: rb::histogram_rows(&view, h, req.sort, req.n, req.grep.as_ref()),
        };
        Ok(emit(format, out, &r, |o, r| {
            table::write_histogram(o, &r.histogram, r.reachable_bytes)
        })?)
    })?;
    Ok(Outcome::Passed)
}
