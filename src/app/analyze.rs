//! `analyze`: findings first, then the summary, the top of the dominator tree and the head
//! of the class histogram.

use std::io::Write;

use anyhow::Result;

use crate::progress::Progress;
use crate::report::build::{self as rb, SortBy};
use crate::report::model::{AnalyzeReport, SCHEMA};
use crate::report::{emit, table, Format};
use crate::rules::config::CheckConfig;

use super::session::Session;
use super::{phase, DumpOptions, Outcome};

/// What `analyze` lists.
#[derive(Clone, Debug)]
pub struct Request {
    /// Top retainers to list.
    pub top: usize,
    /// Histogram rows to list.
    pub histogram: usize,
}

/// Runs `analyze` on the dump `opts` names.
pub fn run(
    opts: &DumpOptions,
    format: Format,
    req: &Request,
    progress: &dyn Progress,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let session = Session::open(opts, progress, |_| Ok(()))?;
    let view = session.view();
    let findings = phase(progress, "rules", || {
        crate::rules::run(&view, &CheckConfig::default())
    });
    let histogram = phase(progress, "histogram", || view.class_histogram());
    phase(progress, "report", || -> Result<()> {
        let r = AnalyzeReport {
            schema: SCHEMA,
            dump: session.dump_info(),
            findings: findings.iter().map(|f| rb::finding(&view, f)).collect(),
            summary: rb::summary(&view),
            top: rb::top_objects(&view, req.top),
            histogram: rb::histogram_rows(&view, histogram, SortBy::Retained, req.histogram, None),
            warnings: rb::warnings(&view),
        };
        Ok(emit(format, out, &r, table::write_analyze)?)
    })?;
    Ok(Outcome::Passed)
}
