use std::io::Write;
use std::path::PathBuf;

use clap::ValueEnum;

use crate::app::{check, Outcome};
use crate::cli::Global;
use crate::progress::Progress;
use crate::rules::config::CheckConfig;
use crate::rules::Severity;

/// CI gate: run the rules (and the config's budgets); exit 1 if a finding is at or above
/// --fail-on, 0 if none is, 2 on bad usage or an unreadable dump.
///
/// The --config file (TOML) sets thresholds per rule (`[rules."RULE-ID"]`, names as
/// listed by `heapsleuth rules`), switches rules off (`enabled = false`) and adds
/// budgets (`[[budget]] class = "com.example.Foo" include_subclasses = true
/// max_retained_bytes = N | max_retained_share = 0.2 | max_instances = N severity =
/// "critical"`).
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The heap dump.
    dump: PathBuf,
    /// Fail on findings at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOnArg::Warning)]
    fail_on: FailOnArg,
    /// TOML file with thresholds, disabled rules and budgets.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum FailOnArg {
    Info,
    Warning,
    Critical,
}

impl Args {
    pub(crate) fn exec(
        self,
        g: &Global,
        progress: &dyn Progress,
        out: &mut dyn Write,
    ) -> anyhow::Result<Outcome> {
        let rules = match &self.config {
            Some(p) => CheckConfig::load(p)?,
            None => CheckConfig::default(),
        };
        let fail_on = match self.fail_on {
            FailOnArg::Info => Severity::Info,
            FailOnArg::Warning => Severity::Warning,
            FailOnArg::Critical => Severity::Critical,
        };
        let req = check::Request { fail_on, rules };
        check::run(&g.dump(self.dump), g.format(), &req, progress, out)
    }
}
