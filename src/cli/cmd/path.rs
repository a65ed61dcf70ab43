use std::io::Write;
use std::path::PathBuf;

use crate::app::{path, Outcome};
use crate::cli::{parse_id, Global};
use crate::progress::Progress;

/// The shortest path from a GC root to an object.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The heap dump.
    dump: PathBuf,
    /// Object id: 0x-prefixed hex (as printed by heapsleuth), or decimal.
    object: String,
    /// Also follow the referents of weak, soft and phantom references.
    #[arg(long)]
    include_weak: bool,
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
        path::run(&opts, g.format(), object, self.include_weak, progress, out)
    }
}
