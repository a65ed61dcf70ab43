use std::io::Write;

use crate::app::{rules, Outcome};
use crate::cli::Global;

/// Every rule: id, pack, default thresholds and what it finds.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {}

impl Args {
    pub(crate) fn exec(self, g: &Global, out: &mut dyn Write) -> anyhow::Result<Outcome> {
        rules::run(g.format(), out)
    }
}
