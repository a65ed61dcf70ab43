//! Runs the phases in order: map the dump, index it, build the graph, compute dominators and
//! retained sizes, then the report the command asks for.
//!
//! `app` owns the memory map; every later phase borrows from it. It knows nothing of the
//! command line (that is `cli`) and nothing of output formats beyond choosing a writer.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use memmap2::Mmap;
use regex::Regex;

use crate::analysis::{estimate_memory, Analysis, MemoryEstimate};
use crate::error::{Error, ErrorKind};
use crate::hprof::gz;
use crate::index::{HeapIndex, IndexOptions, VmModel};
use crate::progress::Progress;
use crate::report::build::{self as rb, SortBy};
use crate::report::model::*;
use crate::report::{json, table, Format};
use crate::rules::{self, config::CheckConfig, Severity};
use crate::view::HeapView;

/// What to do, validated: the command line's meaning, not its spelling.
#[derive(Clone, Debug)]
pub struct Config {
    /// The dump to read (`.hprof` or `.hprof.gz`).
    pub dump: PathBuf,
    /// The command.
    pub command: Command,
    /// Output format.
    pub format: Format,
    /// Analyse what precedes damage in a truncated or corrupt dump.
    pub salvage: bool,
    /// Object geometry for shallow sizes; `None` for the usual one.
    pub model: Option<VmModel>,
    /// Where gzip input may be inflated to when its size is not known in advance.
    pub temp_dir: PathBuf,
    /// Which heap dump of a file holding several, from 1; `None` for the last.
    pub dump_number: Option<usize>,
    /// Refuse to analyse when the memory estimate exceeds this many bytes; `None` for the
    /// memory the machine has available.
    pub max_memory: Option<u64>,
}

/// The commands.
#[derive(Clone, Debug)]
pub enum Command {
    /// Summary, top retainers and histogram head.
    Analyze {
        /// Top retainers to list.
        top: usize,
        /// Histogram rows to list.
        histogram: usize,
    },
    /// Top retainers.
    Top {
        /// How many.
        n: usize,
    },
    /// Class histogram.
    Histogram {
        /// Order.
        sort: SortBy,
        /// Rows.
        n: usize,
        /// Only classes whose name matches.
        grep: Option<Regex>,
    },
    /// Shortest GC-root path to an object.
    Path {
        /// Object id.
        object: u64,
        /// Follow weak, soft and phantom referents.
        include_weak: bool,
    },
    /// One object in detail.
    Inspect {
        /// Object id.
        object: u64,
        /// Array elements to show.
        elements: usize,
    },
    /// The CI gate: run the rules and budgets, fail at or above a severity.
    Check {
        /// Findings at or above this severity fail the check.
        fail_on: Severity,
        /// Thresholds, disabled rules and budgets.
        rules: CheckConfig,
    },
    /// List the rules (reads no dump).
    Rules,
}

/// How a command ended, for the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done (for `check`: nothing at or above the level).
    Passed,
    /// `check` found something at or above the level (exit code 1).
    Failed,
}

/// The dump's bytes: mapped, or inflated from gzip.
enum Bytes {
    Mapped(Mmap),
    Inflated(gz::Inflated),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Inflated(i) => i,
        }
    }
}

/// Opens and maps the dump, inflating gzip input.
fn load(cfg: &Config, progress: &dyn Progress) -> Result<Bytes, Error> {
    let path = &cfg.dump;
    let file = File::open(path).map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
    if !meta.is_file() {
        return Err(Error::new(ErrorKind::Io, "not a regular file"));
    }
    if meta.len() == 0 {
        return Err(Error::at(ErrorKind::Truncated, 0, "the file is empty"));
    }
    // SAFETY: the map is read-only and private to this process. If another process
    // truncates the file while we read it, accesses past the new end raise SIGBUS; heap
    // dumps are written once and then only read, so we accept that risk, as ripgrep does
    // for the files it searches.
    let map = unsafe { Mmap::map(&file) }
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot map: {e}")))?;
    if gz::is_gzip(&map) {
        progress.start("inflating gzip", map.len() as u64);
        let report = |n: u64| progress.advance(n);
        let inflated = gz::inflate(&map, &cfg.temp_dir, &report);
        progress.finish();
        return Ok(Bytes::Inflated(inflated?));
    }
    Ok(Bytes::Mapped(map))
}

/// Runs the configured command, writing its report to `out`.
pub fn run(cfg: &Config, progress: &dyn Progress, out: &mut dyn Write) -> Result<Outcome> {
    if let Command::Rules = cfg.command {
        let r = rb::rules_report();
        match cfg.format {
            Format::Json => json::write(out, &r)?,
            Format::Text => table::write_rules(out, &r)?,
        }
        return Ok(Outcome::Passed);
    }
    let path = cfg.dump.display().to_string();
    // Before the dump takes any of it.
    let available = gz::mem_available();
    let bytes = load(cfg, progress).with_context(|| path.clone())?;
    let index = HeapIndex::build(
        &bytes,
        &IndexOptions {
            model: cfg.model,
            salvage: cfg.salvage,
            dump: cfg.dump_number,
        },
        progress,
    )
    .map_err(|e| hint(e, cfg.salvage))
    .with_context(|| path.clone())?;

    // Queries about one object fail fast before the expensive phases.
    if let Command::Path { object, .. } | Command::Inspect { object, .. } = cfg.command {
        if index.node(object).is_none() {
            return Err(Error::new(
                ErrorKind::NoSuchObject,
                format!("0x{object:x} is not an object in this dump"),
            ))
            .with_context(|| path.clone());
        }
    }

    let anonymous = matches!(&bytes, Bytes::Inflated(i) if i.anonymous());
    let estimate = estimate_memory(&index, anonymous);
    progress.note("memory_estimate", estimate.bytes);
    check_memory(&estimate, cfg.max_memory, available).with_context(|| path.clone())?;

    let analysis = Analysis::run(&index, progress).with_context(|| path.clone())?;
    // The big temporary arrays are behind us; what the reports allocate is small.
    crate::alloc::release_pool();
    let view = HeapView::new(&index, &analysis);

    report(cfg, &view, &bytes, &estimate, progress, out)
}

/// Refuses an analysis whose memory estimate exceeds `--max-memory`, or by default the
/// memory the machine had available when we started (unknown: no check).
fn check_memory(
    estimate: &MemoryEstimate,
    max_memory: Option<u64>,
    available: Option<u64>,
) -> Result<(), Error> {
    let (limit, what) = match (max_memory, available) {
        (Some(l), _) => (l, format!("the {} that --max-memory allows", size_text(l))),
        (None, Some(a)) => (
            a,
            format!(
                "the {} this machine has available (MemAvailable)",
                size_text(a)
            ),
        ),
        (None, None) => return Ok(()),
    };
    if estimate.bytes <= limit {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Resources,
        format!(
            "the analysis would need about {} ({} objects, at most {} references), more than \
             {what}; run it on a machine with more memory, or pass a larger --max-memory \
             (e.g. --max-memory {}G) if the estimate is too cautious",
            size_text(estimate.bytes),
            estimate.objects,
            estimate.references,
            estimate.bytes.div_ceil(1 << 30),
        ),
    ))
}

/// `1.5 GiB`, `512.0 MiB`, `1.0 KiB` or `17 bytes`.
fn size_text(b: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if b >= size {
            return format!("{:.1} {unit}", b as f64 / size as f64);
        }
    }
    format!("{b} bytes")
}

/// Runs `f` as a phase of its own, for progress and timings.
fn phase<T>(progress: &dyn Progress, name: &'static str, f: impl FnOnce() -> T) -> T {
    progress.start(name, 0);
    let r = f();
    progress.finish();
    r
}

/// Suggests `--salvage` for damaged dumps.
fn hint(e: Error, salvage: bool) -> Error {
    if salvage
        || !matches!(
            e.kind,
            ErrorKind::Truncated
                | ErrorKind::BadLength
                | ErrorKind::UnknownSubRecord
                | ErrorKind::BadType
        )
    {
        return e;
    }
    let mut e = e;
    e.detail = format!(
        "{} (--salvage analyses the part before the damage)",
        e.detail
    )
    .into();
    e
}

fn dump_info(
    cfg: &Config,
    view: &HeapView<'_>,
    bytes: &Bytes,
    estimate: &MemoryEstimate,
) -> DumpInfo {
    let h = &view.index.header;
    let m = view.index.model;
    let object_model = if m == VmModel::COMPRESSED {
        "compressed oops"
    } else if m == VmModel::WIDE_OOPS {
        "uncompressed oops"
    } else if m == VmModel::UNCOMPRESSED {
        "uncompressed oops and class pointers"
    } else {
        "32-bit"
    };
    DumpInfo {
        path: cfg.dump.display().to_string(),
        format: format!("JAVA PROFILE 1.0.{}", h.version),
        id_size: h.id_size.bytes() as u32,
        bytes: bytes.len() as u64,
        gzip: matches!(bytes, Bytes::Inflated(_)),
        heap_segments: view.index.diagnostics.heap_segments,
        object_model: object_model.into(),
        selected_dump: view.index.diagnostics.dump as u64,
        dumps: view
            .index
            .diagnostics
            .dumps
            .iter()
            .enumerate()
            .map(|(i, d)| DumpEntry {
                index: i as u64 + 1,
                offset: d.offset,
                bytes: d.bytes,
                segments: d.segments,
            })
            .collect(),
        memory_estimate: estimate.bytes,
    }
}

/// Writes the report the command asks for; rules and the histogram time as phases of their own.
fn report(
    cfg: &Config,
    view: &HeapView<'_>,
    bytes: &Bytes,
    estimate: &MemoryEstimate,
    progress: &dyn Progress,
    out: &mut dyn Write,
) -> Result<Outcome> {
    progress.start("report", 0);
    let res = write_report(cfg, view, bytes, estimate, progress, out);
    progress.finish();
    res
}

fn write_report(
    cfg: &Config,
    view: &HeapView<'_>,
    bytes: &Bytes,
    estimate: &MemoryEstimate,
    progress: &dyn Progress,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let reachable = view.reachable_bytes();
    let histogram = || phase(progress, "histogram", || view.class_histogram());
    let run_rules = |rc: &CheckConfig| phase(progress, "rules", || rules::run(view, rc));
    match &cfg.command {
        Command::Analyze {
            top,
            histogram: rows,
        } => {
            let findings = run_rules(&CheckConfig::default());
            let h = histogram();
            progress.start("report", 0);
            let r = AnalyzeReport {
                schema: SCHEMA,
                dump: dump_info(cfg, view, bytes, estimate),
                findings: findings.iter().map(|f| rb::finding(view, f)).collect(),
                summary: rb::summary(view),
                top: rb::top_objects(view, *top),
                histogram: rb::histogram_rows(view, h, SortBy::Retained, *rows, None),
                warnings: rb::warnings(view),
            };
            match cfg.format {
                Format::Json => json::write(out, &r)?,
                Format::Text => table::write_analyze(out, &r)?,
            }
        }
        Command::Top { n } => {
            let r = TopReport {
                schema: SCHEMA,
                reachable_bytes: reachable,
                top: rb::top_objects(view, *n),
            };
            match cfg.format {
                Format::Json => json::write(out, &r)?,
                Format::Text => table::write_top(out, &r.top, reachable)?,
            }
        }
        Command::Histogram { sort, n, grep } => {
            let h = histogram();
            progress.start("report", 0);
            let r = HistogramReport {
                schema: SCHEMA,
                reachable_bytes: reachable,
                histogram: rb::histogram_rows(view, h, *sort, *n, grep.as_ref()),
            };
            match cfg.format {
                Format::Json => json::write(out, &r)?,
                Format::Text => table::write_histogram(out, &r.histogram, reachable)?,
            }
        }
        Command::Path {
            object,
            include_weak,
        } => {
            let v = view.node(*object).expect("checked before analysis");
            let r = rb::path(view, v, *include_weak);
            match cfg.format {
                Format::Json => json::write(out, &r)?,
                Format::Text => table::write_path(out, &r)?,
            }
        }
        Command::Inspect { object, elements } => {
            let v = view.node(*object).expect("checked before analysis");
            let r = rb::inspect(view, v, *elements);
            match cfg.format {
                Format::Json => json::write(out, &r)?,
                Format::Text => table::write_inspect(out, &r)?,
            }
        }
        Command::Check { fail_on, rules: rc } => {
            let findings = run_rules(rc);
            progress.start("report", 0);
            let failed = findings.iter().any(|f| f.severity >= *fail_on);
            let r = CheckReport {
                schema: SCHEMA,
                dump: cfg.dump.display().to_string(),
                reachable_bytes: reachable,
                fail_on: fail_on.name().into(),
                failed,
                findings: findings.iter().map(|f| rb::finding(view, f)).collect(),
            };
            match cfg.format {
                Format::Json => json::write(out, &r)?,
                Format::Text => table::write_check(out, &r)?,
            }
            return Ok(if failed {
                Outcome::Failed
            } else {
                Outcome::Passed
            });
        }
        // Handled before the dump is read.
        Command::Rules => {}
    }
    Ok(Outcome::Passed)
}
