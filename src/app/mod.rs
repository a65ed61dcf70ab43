//! Runs what the user asked for: one module per command, each a function from a validated
//! request to a report written in the chosen format.
//!
//! [`session::Session`] is the one way to open a dump: it maps the file (inflating gzip),
//! indexes it, checks the memory estimate, and runs the analysis, and then owns all of it,
//! so that a command, or a long-lived server, can hold an analysed dump as one value.
//! `app` knows nothing of the command line (that is `cli`); it is the only layer that opens
//! files.

pub mod analyze;
pub mod check;
pub mod histogram;
pub mod inspect;
mod load;
pub mod path;
pub mod rules;
pub mod session;
pub mod top;

use std::path::PathBuf;

use crate::index::VmModel;

/// How to open a dump: the options every dump-reading command shares, validated.
#[derive(Clone, Debug)]
pub struct DumpOptions {
    /// The dump to read (`.hprof` or `.hprof.gz`).
    pub path: PathBuf,
    /// Analyse what precedes damage in a truncated or corrupt dump.
    pub salvage: bool,
    /// Object geometry for shallow sizes; `None` to infer it.
    pub model: Option<VmModel>,
    /// Where gzip input may be inflated to when its size is not known in advance.
    pub temp_dir: PathBuf,
    /// Which heap dump of a file holding several, from 1; `None` for the last.
    pub dump_number: Option<usize>,
    /// Refuse to analyse when the memory estimate exceeds this many bytes; `None` for the
    /// memory the machine has available.
    pub max_memory: Option<u64>,
}

/// How a command ended, for the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done (for `check`: nothing at or above the level).
    Passed,
    /// `check` found something at or above the level (exit code 1).
    Failed,
}

/// Runs `f` as a phase of its own, for progress and timings.
pub(crate) fn phase<T>(
    progress: &dyn crate::progress::Progress,
    name: &'static str,
    f: impl FnOnce() -> T,
) -> T {
    progress.start(name, 0);
    let r = f();
    progress.finish();
    r
}
