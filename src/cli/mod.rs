//! The command line: clap definitions, their translation into `app` requests, and the
//! terminal's progress bars. The only module that knows clap or indicatif.
//!
//! `mod.rs` holds what every command shares (the global options, the exit codes, `main`);
//! each command's own arguments, and how they become an `app` call, are in `cmd/<name>.rs`.

mod cmd;
mod progress;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, ValueEnum};

use crate::app::{DumpOptions, Outcome};
use crate::index::VmModel;
use crate::report::Format;

pub use progress::TerminalProgress;

/// Why did this JVM run out of memory? Reads an HPROF heap dump (.hprof or .hprof.gz) and
/// reports what holds the memory: dominator tree, retained sizes, histogram, GC-root paths.
#[derive(Parser, Debug)]
#[command(name = "heapsleuth", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: cmd::Cmd,
    #[command(flatten)]
    global: Global,
}

/// Options every command takes.
#[derive(Args, Debug)]
pub(crate) struct Global {
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

impl Global {
    /// The output format.
    pub(crate) fn format(&self) -> Format {
        match self.format {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
        }
    }

    /// How to open `path` with these options.
    pub(crate) fn dump(&self, path: PathBuf) -> DumpOptions {
        DumpOptions {
            path,
            salvage: self.salvage,
            model: match self.object_model {
                ModelArg::Auto => None,
                ModelArg::Compressed => Some(VmModel::COMPRESSED),
                ModelArg::WideOops => Some(VmModel::WIDE_OOPS),
                ModelArg::Uncompressed => Some(VmModel::UNCOMPRESSED),
                ModelArg::Bits32 => Some(VmModel::BITS32),
            },
            temp_dir: self.temp_dir.clone().unwrap_or_else(std::env::temp_dir),
            dump_number: self.dump_number.map(|n| n as usize),
            max_memory: self.max_memory,
        }
    }
}

/// Parses a memory size: `4G`, `512M`, `64k`, `1GiB`, `1000000` (bytes); units are powers
/// of 1024.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
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

/// Parses an object id: `0x`-prefixed hex or decimal.
pub(crate) fn parse_id(s: &str) -> anyhow::Result<u64> {
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

#[derive(ValueEnum, Clone, Copy, Debug)]
enum FormatArg {
    Text,
    Json,
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
    let g = &cli.global;
    if g.threads == Some(0) {
        eprintln!("heapsleuth: error: --threads must be at least 1");
        return 2;
    }
    if let Some(n) = g.threads {
        // Only fails if a pool exists already, which cannot happen this early.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    let progress = TerminalProgress::new(g.quiet);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let res = cli.command.exec(g, &progress, &mut out).and_then(|o| {
        out.flush()?;
        Ok(o)
    });
    if g.timings {
        let _ = progress.write_timings(&mut std::io::stderr());
    }
    match res {
        Ok(Outcome::Passed) => 0,
        Ok(Outcome::Failed) => 1,
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
