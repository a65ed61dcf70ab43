use std::io::Write;
use std::path::PathBuf;

use crate::app::{analyze, Outcome};
use crate::cli::Global;
use crate::progress::Progress;

/// Summary, biggest objects and class histogram in one go.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The heap dump.
    dump: PathBuf,
    /// Biggest objects to list.
    #[arg(short = 'n', long = "top", default_value_t = 20)]
    top: usize,
    /// Histogram rows to list.
    #[arg(long, default_value_t = 20)]
    histogram_rows: usize,
}

impl Args {
    pub(crate) fn exec(
        self,
        g: &Global,
        progress: &dyn Progress,
        out: &mut dyn Write,
    ) -> anyhow::Result<Outcome> {
        let req = analyze::Request {
            top: self.top,
            histogram: self.histogram_rows,
        };
        analyze::run(&g.dump(self.dump), g.format(), &req, progress, out)
    }
}
