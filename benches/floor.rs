//! The floor: the least any analysis of a dump must do, walking every top-level record and
//! every heap-dump sub-record of the memory-mapped file with the crate's own parsing API,
//! building nothing. A phase of `heapsleuth analyze` is judged against this walk.
//!
//! ```sh
//! cargo bench --bench floor -- [--runs N] DUMP...
//! ```
//!
//! Each run maps the file afresh, so it pays the page faults a new `heapsleuth` process
//! pays (the page cache is warm after the first run). Prints one `floor` line per run and a
//! `floor-median` line per dump, as `key=value` pairs that `benches/bench.py` parses.
//!
//! Without a dump it prints its usage and succeeds, because `cargo bench` and
//! `cargo test --all-targets` run every bench target without arguments.

use std::fs::File;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use heapsleuth::hprof::format::{sub, tag};
use heapsleuth::hprof::heap::skip_sub_record;
use heapsleuth::hprof::records::{parse_header, Records};
use heapsleuth::hprof::{gz, reader::Reader};
use memmap2::Mmap;

#[derive(Default)]
struct Counts {
    records: u64,
    heap_records: u64,
    sub_records: u64,
    roots: u64,
    classes: u64,
    instances: u64,
    obj_arrays: u64,
    prim_arrays: u64,
}

impl Counts {
    fn objects(&self) -> u64 {
        self.classes + self.instances + self.obj_arrays + self.prim_arrays
    }
}

fn walk(data: &[u8]) -> Result<Counts, String> {
    let header = parse_header(data).map_err(|e| e.to_string())?;
    let mut c = Counts::default();
    for rec in Records::new(data, &header) {
        let rec = rec.map_err(|e| e.to_string())?;
        c.records += 1;
        if rec.truncated {
            return Err(format!(
                "{} at byte {} is truncated",
                tag::name(rec.tag),
                rec.offset
            ));
        }
        if rec.tag != tag::HEAP_DUMP && rec.tag != tag::HEAP_DUMP_SEGMENT {
            continue;
        }
        c.heap_records += 1;
        let mut body: Reader<'_> = rec.body;
        while let Some(&t) = body.rest().first() {
            // The tag is peeked rather than parsed so that the walk stays exactly the one
            // the index uses to cut segments into chunks.
            match t {
                sub::INSTANCE_DUMP => c.instances += 1,
                sub::OBJ_ARRAY_DUMP => c.obj_arrays += 1,
                sub::PRIM_ARRAY_DUMP => c.prim_arrays += 1,
                sub::CLASS_DUMP => c.classes += 1,
                _ => c.roots += 1,
            }
            skip_sub_record(&mut body).map_err(|e| e.to_string())?;
            c.sub_records += 1;
        }
    }
    Ok(c)
}

fn run(path: &str) -> Result<(Duration, u64, Counts), String> {
    let start = Instant::now();
    let file = File::open(path).map_err(|e| e.to_string())?;
    // SAFETY: read-only private map of a dump nobody writes while it is benchmarked; the
    // same reasoning as in `app::load`.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| e.to_string())?;
    if gz::is_gzip(&map) {
        return Err("gzip input: the floor is measured on the plain file only".into());
    }
    let counts = walk(&map)?;
    Ok((start.elapsed(), map.len() as u64, counts))
}

fn main() -> ExitCode {
    let mut runs = 1usize;
    let mut dumps = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => runs = n,
                _ => {
                    eprintln!("floor: --runs needs a positive number");
                    return ExitCode::from(2);
                }
            },
            // cargo adds `--bench` (or `--test` under `cargo test --all-targets`).
            s if s.starts_with("--") => {}
            _ => dumps.push(a),
        }
    }
    if dumps.is_empty() {
        eprintln!("usage: cargo bench --bench floor -- [--runs N] DUMP...");
        return ExitCode::SUCCESS;
    }
    for path in &dumps {
        let mut walls = Vec::with_capacity(runs);
        for i in 0..runs {
            let (wall, bytes, c) = match run(path) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("floor: {path}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let s = wall.as_secs_f64();
            println!(
                "floor file={path} run={} bytes={bytes} wall_ms={:.1} mb_s={:.0} records={} \
                 heap_records={} sub_records={} roots={} classes={} instances={} \
                 obj_arrays={} prim_arrays={} objects={}",
                i + 1,
                s * 1e3,
                bytes as f64 / 1e6 / s,
                c.records,
                c.heap_records,
                c.sub_records,
                c.roots,
                c.classes,
                c.instances,
                c.obj_arrays,
                c.prim_arrays,
                c.objects(),
            );
            walls.push((s, bytes));
        }
        walls.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (s, bytes) = walls[walls.len() / 2];
        println!(
            "floor-median file={path} runs={runs} wall_ms={:.1} mb_s={:.0}",
            s * 1e3,
            bytes as f64 / 1e6 / s
        );
    }
    ExitCode::SUCCESS
}
