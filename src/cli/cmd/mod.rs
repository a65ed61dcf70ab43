//! The subcommands: one file each, holding its clap arguments and the call into `app`.

mod analyze;
mod check;
mod histogram;
mod inspect;
mod path;
mod rules;
mod top;

use std::io::Write;

use clap::Subcommand;

use crate::app::Outcome;
use crate::progress::Progress;

use super::Global;

#[derive(Subcommand, Debug)]
pub(crate) enum Cmd {
    Analyze(analyze::Args),
    Top(top::Args),
    Histogram(histogram::Args),
    Path(path::Args),
    Check(check::Args),
    Rules(rules::Args),
    Inspect(inspect::Args),
}

impl Cmd {
    /// Runs the command with the global options, writing its report to `out`.
    pub(crate) fn exec(
        self,
        g: &Global,
        progress: &dyn Progress,
        out: &mut dyn Write,
    ) -> anyhow::Result<Outcome> {
        match self {
            Cmd::Analyze(a) => a.exec(g, progress, out),
            Cmd::Top(a) => a.exec(g, progress, out),
            Cmd::Histogram(a) => a.exec(g, progress, out),
            Cmd::Path(a) => a.exec(g, progress, out),
            Cmd::Check(a) => a.exec(g, progress, out),
            Cmd::Rules(a) => a.exec(g, out),
            Cmd::Inspect(a) => a.exec(g, progress, out),
        }
    }
}
