//! The command line: clap definitions, their translation into an [`app::Config`], and the
//! terminal's progress bars. The only module that knows clap or indicatif.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use regex::Regex;

use crate::app::{self, Command, Config};
use crate::index::VmModel;
use crate::progress::Progress;
use crate::report::build::SortBy;
use crate::report::Format;
use crate::rules::Severity;

/// Why did this JVM run out of memory? Reads an HPROF heap dump (.hprof or .hprof.gz) and
/// reports what holds the memory: dominator tree, retained sizes, histogram, GC-root paths.
#[derive(Parser, Debug)]
#[command(name = "heapsleuth", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Cmd,
    #[command(flatten)]
    global: Global,
}

#[derive(Args, Debug)]
struct Global {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// Worker threads (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Analyse the part of a truncated or corrupt dump before the damage instead of failing.
    #[arg(long, global = true)]
    salvage: bool,
    /// The JVM's object layout, which decides shallow sizes (the dump does not record it).
    #[arg(long, global = true, value_enum, default_value_t = ModelArg::Auto)]
    object_model: ModelArg,
    /// Directory for the inflated copy of a plain-gzip dump (default: the system temp dir).
    #[arg(long, global = true)]
    temp_dir: Option<PathBuf>,
    /// Print each phase's wall time, CPU time and memory to stderr.
    #[arg(long, global = true)]
    timings: bool,
    /// Which heap dump to analyse when the file holds several, from 1 (default: the last).
    #[arg(long = "dump", global = true, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    dump_number: Option<u64>,
    /// Refuse to start when the analysis would need more memory than this: bytes, or with
    /// a K, M, G or T suffix (powers of 1024). Default: the memory the machine has available.
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<u64>,
}

/// Parses a memory size: `4G`, `512M`, `64k`, `1GiB`, `1000000` (bytes); units are powers
/// of 1024.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => {
            return Err(format!(
                "invalid size {s:?}: expected bytes or a number with K, M, G or T, like 4G"
            ))
        }
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("invalid size {s:?}: expected a positive number of bytes, or with K, M, G or T, like 4G"))
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Summary, biggest objects and class histogram in one go.
    Analyze {
        /// The heap dump.
        dump: PathBuf,
        /// Biggest objects to list.
        #[arg(short = 'n', long = "top", default_value_t = 20)]
        top: usize,
        /// Histogram rows to list.
        #[arg(long, default_value_t = 20)]
        histogram_rows: usize,
    },
    /// The top of the dominator tree: objects retaining the most memory, and who keeps them.
    Top {
        /// The heap dump.
        dump: PathBuf,
        /// How many objects.
        #[arg(short = 'n', default_value_t = 20)]
        n: usize,
    },
    /// Per class: instances, shallow bytes and bytes retained by the instances together.
    Histogram {
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
    },
    /// The shortest path from a GC root to an object.
    Path {
        /// The heap dump.
        dump: PathBuf,
        /// Object id: 0x-prefixed hex (as printed by heapsleuth), or decimal.
        object: String,
        /// Also follow the referents of weak, soft and phantom references.
        #[arg(long)]
        include_weak: bool,
    },
    /// CI gate: run the rules (and the config's budgets); exit 1 if a finding is at or above
    /// --fail-on, 0 if none is, 2 on bad usage or an unreadable dump.
    ///
    /// The --config file (TOML) sets thresholds per rule (`[rules."RULE-ID"]`, names as
    /// listed by `heapsleuth rules`), switches rules off (`enabled = false`) and adds
    /// budgets (`[[budget]] class = "com.example.Foo" include_subclasses = true
    /// max_retained_bytes = N | max_retained_share = 0.2 | max_instances = N severity =
    /// "critical"`).
    Check {
        /// The heap dump.
        dump: PathBuf,
        /// Fail on findings at or above this severity.
        #[arg(long, value_enum, default_value_t = FailOnArg::Warning)]
        fail_on: FailOnArg,
        /// TOML file with thresholds, disabled rules and budgets.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Every rule: id, pack, default thresholds and what it finds.
    Rules,
    /// One object: class, sizes, fields with values, array contents, referrers.
    Inspect {
        /// The heap dump.
        dump: PathBuf,
        /// Object id: 0x-prefixed hex (as printed by heapsleuth), or decimal.
        object: String,
        /// Array elements to show.
        #[arg(long, default_value_t = 20)]
        elements: usize,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum FormatArg {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum FailOnArg {
    Info,
    Warning,
    Critical,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum SortArg {
    Count,
    Shallow,
    Retained,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum ModelArg {
    /// 32-bit layout for 4-byte ids; compressed oops for 8-byte ids.
    Auto,
    /// 64-bit, compressed oops and class pointers (heaps under 32 GB).
    Compressed,
    /// 64-bit, uncompressed oops, compressed class pointers (-XX:-UseCompressedOops).
    WideOops,
    /// 64-bit, nothing compressed (-XX:-UseCompressedOops -XX:-UseCompressedClassPointers).
    Uncompressed,
    /// 32-bit JVM.
    Bits32,
}

/// Parses an object id: `0x`-prefixed hex or decimal.
fn parse_id(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse::<u64>(),
    };
    r.map_err(|_| {
        anyhow::anyhow!(
            "invalid object id {s:?}: expected 0x-prefixed hex (like 0x7f3a0010) or decimal"
        )
    })
}

/// What `main` needs besides the config.
pub struct Parsed {
    /// The validated configuration.
    pub config: Config,
    /// Worker threads, if limited.
    pub threads: Option<usize>,
    /// Suppress progress.
    pub quiet: bool,
    /// Print phase timings.
    pub timings: bool,
}

/// Turns parsed arguments into a configuration; errors are usage errors.
pub fn config(cli: Cli) -> anyhow::Result<Parsed> {
    let g = cli.global;
    let (dump, command) = match cli.command {
        Cmd::Analyze {
            dump,
            top,
            histogram_rows,
        } => (
            dump,
            Command::Analyze {
                top,
                histogram: histogram_rows,
            },
        ),
        Cmd::Top { dump, n } => (dump, Command::Top { n }),
        Cmd::Histogram {
            dump,
            sort,
            n,
            grep,
        } => {
            let grep = grep
                .map(|g| Regex::new(&g).map_err(|e| anyhow::anyhow!("invalid --grep pattern: {e}")))
                .transpose()?;
            let sort = match sort {
                SortArg::Count => SortBy::Count,
                SortArg::Shallow => SortBy::Shallow,
                SortArg::Retained => SortBy::Retained,
            };
            (dump, Command::Histogram { sort, n, grep })
        }
        Cmd::Path {
            dump,
            object,
            include_weak,
        } => (
            dump,
            Command::Path {
                object: parse_id(&object)?,
                include_weak,
            },
        ),
        Cmd::Check {
            dump,
            fail_on,
            config,
        } => {
            let rules = match config {
                Some(p) => crate::rules::config::CheckConfig::load(&p)?,
                None => Default::default(),
            };
            let fail_on = match fail_on {
                FailOnArg::Info => Severity::Info,
                FailOnArg::Warning => Severity::Warning,
                FailOnArg::Critical => Severity::Critical,
            };
            (dump, Command::Check { fail_on, rules })
        }
        Cmd::Rules => (PathBuf::new(), Command::Rules),
        Cmd::Inspect {
            dump,
            object,
            elements,
        } => (
            dump,
            Command::Inspect {
                object: parse_id(&object)?,
                elements,
            },
        ),
    };
    if g.threads == Some(0) {
        anyhow::bail!("--threads must be at least 1");
    }
    let model = match g.object_model {
        ModelArg::Auto => None,
        ModelArg::Compressed => Some(VmModel::COMPRESSED),
        ModelArg::WideOops => Some(VmModel::WIDE_OOPS),
        ModelArg::Uncompressed => Some(VmModel::UNCOMPRESSED),
        ModelArg::Bits32 => Some(VmModel::BITS32),
    };
    Ok(Parsed {
        config: Config {
            dump,
            command,
            format: match g.format {
                FormatArg::Text => Format::Text,
                FormatArg::Json => Format::Json,
            },
            salvage: g.salvage,
            model,
            temp_dir: g.temp_dir.unwrap_or_else(std::env::temp_dir),
            dump_number: g.dump_number.map(|n| n as usize),
            max_memory: g.max_memory,
        },
        threads: g.threads,
        quiet: g.quiet,
        timings: g.timings,
    })
}

/// One finished phase's measurements.
#[derive(Clone, Debug)]
struct PhaseTiming {
    name: &'static str,
    wall: Duration,
    cpu: Duration,
    rss_anon_kb: u64,
    rss_file_kb: u64,
    /// Peak resident memory during the phase (0 where the kernel cannot reset the peak).
    peak_kb: u64,
}

/// Progress bars on stderr (hidden when it is not a terminal) plus per-phase timings.
pub struct TerminalProgress {
    bar: Mutex<Option<ProgressBar>>,
    current: Mutex<Option<(&'static str, Instant, Duration)>>,
    done: Mutex<Vec<PhaseTiming>>,
    notes: Mutex<Vec<(&'static str, u64)>>,
    hidden: bool,
    started: Instant,
}

impl TerminalProgress {
    /// A reporter; `quiet` hides the bars.
    pub fn new(quiet: bool) -> TerminalProgress {
        TerminalProgress {
            bar: Mutex::new(None),
            current: Mutex::new(None),
            done: Mutex::new(Vec::new()),
            notes: Mutex::new(Vec::new()),
            hidden: quiet,
            started: Instant::now(),
        }
    }

    /// Writes one `timing` line per phase, and a total, to `w`.
    pub fn write_timings(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let done = self.done.lock().expect("not poisoned");
        // Phases reset the kernel's high-water mark, so the run's peak is theirs.
        let peak = done.iter().map(|t| t.peak_kb).fold(memory_kb().0, u64::max);
        for t in done.iter() {
            // The mapped dump's pages only accumulate, so peak minus the file pages at the
            // end of the phase bounds the anonymous peak from below (and is exact when the
            // peak came at the end).
            let peak_anon = t.peak_kb.saturating_sub(t.rss_file_kb).max(t.rss_anon_kb);
            writeln!(
                w,
                "timing phase={:?} wall_ms={:.1} cpu_ms={:.1} rss_anon_mb={:.1} rss_file_mb={:.1} \
                 peak_rss_mb={:.1} peak_anon_mb={:.1}",
                t.name,
                t.wall.as_secs_f64() * 1e3,
                t.cpu.as_secs_f64() * 1e3,
                t.rss_anon_kb as f64 / 1024.0,
                t.rss_file_kb as f64 / 1024.0,
                t.peak_kb as f64 / 1024.0,
                peak_anon as f64 / 1024.0,
            )?;
        }
        for (name, value) in self.notes.lock().expect("not poisoned").iter() {
            writeln!(
                w,
                "timing {name}_mb={:.1}",
                *value as f64 / (1 << 20) as f64
            )?;
        }
        writeln!(
            w,
            "timing phase=\"total\" wall_ms={:.1} cpu_ms={:.1} peak_rss_mb={:.1}",
            self.started.elapsed().as_secs_f64() * 1e3,
            cpu_time().as_secs_f64() * 1e3,
            peak as f64 / 1024.0
        )
    }
}

impl Progress for TerminalProgress {
    fn start(&self, phase: &'static str, total: u64) {
        reset_peak();
        *self.current.lock().expect("not poisoned") = Some((phase, Instant::now(), cpu_time()));
        if self.hidden {
            return;
        }
        let bar = if total > 0 {
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        };
        let style = if total > 0 {
            ProgressStyle::with_template("{msg:>24} [{bar:30}] {percent:>3}% {elapsed_precise}")
        } else {
            ProgressStyle::with_template("{msg:>24} {spinner} {elapsed_precise}")
        };
        bar.set_style(style.expect("valid template").progress_chars("=> "));
        bar.set_message(phase);
        bar.enable_steady_tick(Duration::from_millis(200));
        *self.bar.lock().expect("not poisoned") = Some(bar);
    }

    fn note(&self, name: &'static str, value: u64) {
        self.notes.lock().expect("not poisoned").push((name, value));
    }

    fn advance(&self, n: u64) {
        if let Some(b) = self.bar.lock().expect("not poisoned").as_ref() {
            b.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(b) = self.bar.lock().expect("not poisoned").take() {
            b.finish_and_clear();
        }
        if let Some((name, wall, cpu)) = self.current.lock().expect("not poisoned").take() {
            let (peak, anon, file) = memory_kb();
            self.done.lock().expect("not poisoned").push(PhaseTiming {
                name,
                wall: wall.elapsed(),
                cpu: cpu_time().saturating_sub(cpu),
                rss_anon_kb: anon,
                rss_file_kb: file,
                peak_kb: peak,
            });
        }
    }
}

/// Process CPU time (user + system) to the microsecond; zero where that is unavailable.
/// (/proc/self/stat counts in 10 ms ticks, too coarse for the short phases.)
fn cpu_time() -> Duration {
    #[cfg(unix)]
    {
        // SAFETY: getrusage only writes the struct it is given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } == 0 {
            let tv = |t: libc::timeval| {
                Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
            };
            return tv(u.ru_utime) + tv(u.ru_stime);
        }
    }
    Duration::ZERO
}

/// Resets the kernel's resident-memory high-water mark (VmHWM) to the current RSS, so that
/// each phase reports its own peak rather than the run's so far. Linux only; elsewhere the
/// peak simply is not reset.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// (peak RSS, current anonymous RSS, current file-backed RSS) in KiB, from /proc.
fn memory_kb() -> (u64, u64, u64) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return (0, 0, 0);
    };
    let get = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (get("VmHWM:"), get("RssAnon:"), get("RssFile:"))
}

/// Parses the command line and runs it; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let parsed = match config(cli) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("heapsleuth: error: {e:#}");
            return 2;
        }
    };
    if let Some(n) = parsed.threads {
        // Only fails if a pool exists already, which cannot happen this early.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    let progress = TerminalProgress::new(parsed.quiet);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let res = app::run(&parsed.config, &progress, &mut out).and_then(|o| {
        out.flush()?;
        Ok(o)
    });
    if parsed.timings {
        let _ = progress.write_timings(&mut std::io::stderr());
    }
    match res {
        Ok(app::Outcome::Passed) => 0,
        Ok(app::Outcome::Failed) => 1,
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("heapsleuth: error: {e:#}");
            2
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_parse_as_hex_or_decimal() {
        assert_eq!(parse_id("0x1f").unwrap(), 31);
        assert_eq!(parse_id("0X1F").unwrap(), 31);
        assert_eq!(parse_id("31").unwrap(), 31);
        assert!(parse_id("zz").is_err());
        assert!(parse_id("0x").is_err());
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("4G").unwrap(), 4 << 30);
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("1k").unwrap(), 1024);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("123456").unwrap(), 123456);
        assert!(parse_size("0").is_err());
        assert!(parse_size("4X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
