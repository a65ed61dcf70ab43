//! `check`: the CI gate. Runs the rules and the config's budgets and fails when a finding
//! is at or above the level asked for.

use std::io::Write;

use anyhow::Result;

use crate::progress::Progress;
use crate::report::build as rb;
use crate::report::model::{CheckReport, SCHEMA};
use crate::report::{emit, table, Format};
use crate::rules::config::CheckConfig;
use crate::rules::Severity;

use super::session::Session;
use super::{phase, DumpOptions, Outcome};

/// What fails the check.
#[derive(Clone, Debug)]
pub struct Request {
    /// Findings at or above this severity fail the check.
    pub fail_on: Severity,
    /// Thresholds, disabled rules and budgets.
    pub rules: CheckConfig,
}

/// Runs `check` on the dump `opts` names.
pub fn run(
    opts: &DumpOptions,
    format: Format,
    req: &Request,
    progress: &dyn Progress,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let session = Session::open(opts, progress, |_| Ok(()))?;
    let view = session.view();
    let findings = phase(progress, "rules", || crate::rules::run(&view, &req.rules));
    let failed = findings.iter().any(|f| f.severity >= req.fail_on);
    phase(progress, "report", || -> Result<()> {
        let r = CheckReport {
            schema: SCHEMA,
            dump: session.path().to_string(),
            reachable_bytes: view.reachable_bytes(),
            fail_on: req.fail_on.name().into(),
            failed,
            findings: findings.iter().map(|f| rb::finding(&view, f)).collect(),
        };
        Ok(emit(format, out, &r, table::write_check)?)
    })?;
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Passed
    })
}
