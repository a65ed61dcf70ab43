use std::io::Write;
use std::path::PathBuf;

use crate::app::{top, Outcome};
use crate::cli::Global;
use crate::progress::Progress;

/// The top of the dominator tree: objects retaining the most memory, and who keeps them.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The heap dump.
    dump: PathBuf,
    /// How many objects.
    #[arg(short = 'n', default_value_t = 20)]
    n: usize,
}

impl Args {
    pub(crate) fn exec(
        self,
        g: &Global,
        progress: &dyn Progress,
        out: &mut dyn Write,
    ) -> anyhow::Result<Outcome> {
        top::run(&g.dump(self.dump), g.format(), self.n, progress, out)
    }
}
