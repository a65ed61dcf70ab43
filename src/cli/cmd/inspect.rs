use std::io::Write;
use std::path::PathBuf;

use crate::app::{inspect, Outcome};
use crate::cli::{parse_id, Global};
use crate::progress::Progress;

/// One object: class, sizes, fields with values, array contents, referrers.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The heap dump.
    dump: PathBuf,
    /// Object id: 0x-prefixed hex (as printed by heapsleuth), or decimal.
    object: String,
    /// Array elements to show.
    #[arg(long, default_value_t = 20)]
    elements: usize,
}

impl Args {
    pub(crate) fn exec(
        self,
        g: &Global,
        progress: &dyn Progress,
        out: &mut dyn Write,
    ) -> anyhow::Result<Outcome> {
        let object = parse_id(&self.object)?;
        let opts = g.dump(self.dump);
        inspect::run(&opts, g.format(), object, self.elements, progress, out)
    }
}
