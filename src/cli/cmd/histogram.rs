use std::io::Write;
use std::path::PathBuf;

use clap::ValueEnum;
use regex::Regex;

use crate::app::{histogram, Outcome};
use crate::cli::Global;
use crate::progress::Progress;
use crate::report::build::SortBy;

/// Per class: instances, shallow bytes and bytes retained by the instances together.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The heap dump.
    dump: PathBuf,
    /// Sort order.
    #[arg(long, value_enum, default_value_t = SortArg::Retained)]
    sort: SortArg,
    /// Rows to print.
    #[arg(short = 'n', default_value_t = 50)]
    n: usize,
    /// Only classes whose name matches this regular expression.
    #[arg(long)]
    grep: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum SortArg {
    Count,
    Shallow,
    Retained,
}

impl Args {
    pub(crate) fn exec(
        self,
        g: &Global,
        progress: &dyn Progress,
        out: &mut dyn Write,
    ) -> anyhow::Result<Outcome> {
        let grep = self
            .grep
            .map(|g| Regex::new(&g).map_err(|e| anyhow::anyhow!("invalid --grep pattern: {e}")))
            .transpose()?;
        let sort = match self.sort {
            SortArg::Count => SortBy::Count,
            SortArg::Shallow => SortBy::Shallow,
            SortArg::Retained => SortBy::Retained,
        };
        let req = histogram::Request {
            sort,
            n: self.n,
            grep,
        };
        histogram::run(&g.dump(self.dump), g.format(), &req, progress, out)
    }
}
