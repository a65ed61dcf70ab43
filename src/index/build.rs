//! `HeapIndex::build`: the passes that turn a mapped dump into a [`HeapIndex`], each a
//! function of its own, in the order they run:
//!
//! 1. [`select_dump`]: a walk over record headers only finds the heap dumps of the file (a
//!    file may hold several) and picks the one asked for;
//! 2. [`read_records`]: a second walk reads strings, class names, stack frames and traces,
//!    and collects the heap-dump bodies of that dump, ignoring records after it;
//! 3. [`cut_chunks`]: heap bodies become parallel work units cut at sub-record boundaries;
//! 4. [`parse_chunks`]: the chunks are parsed in parallel into `(id, file offset)` pairs,
//!    class dumps and GC roots; a chunk stops at its first damaged sub-record;
//! 5. [`gather`]: the earliest damage becomes the error (or, salvaging, the salvage point),
//!    and the pairs are put in id order (`order.rs`), so that node `i` is the i-th
//!    smallest id;
//! 6. classes are named and laid out, and the object layout detected (`sizing.rs`);
//! 7. [`size_objects`]: each object's header is read in parallel for its class and shallow
//!    size.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

use rayon::prelude::*;

use crate::error::{Error, ErrorKind, Result};
use crate::hprof::format::{tag, IdSize, RootKind};
use crate::hprof::heap::{parse_sub_record, skip_sub_record, ClassDump, Root, SubRecord};
use crate::hprof::reader::Reader;
use crate::hprof::records::{group_dumps, parse_header, DumpSpan, Header, Records};
use crate::progress::Progress;

use super::sizing::{detect_model, size_object};
use super::{
    order, Classes, Diagnostics, Frame, HeapIndex, IdMap, IndexOptions, Objects, ThreadInfo,
    VmModel, BIG,
};

/// Chunk size for parallel parsing: large enough to amortise scheduling, small enough to
/// balance two to dozens of cores.
const CHUNK_BYTES: usize = 4 << 20;

/// Indexes `data`, a whole uncompressed HPROF dump (see [`HeapIndex::build`]).
pub(super) fn build<'a>(
    data: &'a [u8],
    opts: &IndexOptions,
    progress: &dyn Progress,
) -> Result<HeapIndex<'a>> {
    let header = parse_header(data)?;
    let mut diagnostics = Diagnostics::default();

    progress.start("reading records", data.len() as u64);
    let selection = select_dump(data, &header, opts, &mut diagnostics)?;
    let top = read_records(data, &header, &selection, progress, &mut diagnostics);
    progress.finish();
    let mut salvage_point = match top.stop {
        // A truncated final heap segment keeps its complete sub-records; any other
        // failure drops the record it happened in.
        Some((_, e)) if !opts.salvage => return Err(e),
        stop => stop,
    };

    let chunks = cut_chunks(data, &top.bodies, progress, &mut salvage_point);
    let outs = parse_chunks(data, &chunks, progress);
    let gathered = gather(
        data,
        &chunks,
        outs,
        salvage_point,
        opts,
        progress,
        &mut diagnostics,
    )?;

    // Names, layouts and the object geometry.
    let strings = top.strings;
    let string = |id: u64| -> String {
        strings
            .get(&id)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_else(|| format!("<string 0x{id:x}>"))
    };
    let names: HashMap<u64, String> = top
        .load_class
        .iter()
        .map(|(&c, &n)| (c, string(n)))
        .collect();
    let default_model = opts
        .model
        .unwrap_or_else(|| VmModel::default_for(header.id_size));
    let mut classes = Classes::build(
        gathered.class_dumps,
        &names,
        &string,
        header.id_size,
        &default_model,
    );
    diagnostics.missing_super_classes = classes.missing_supers;
    let model = match opts.model {
        Some(m) => m,
        None if header.id_size == IdSize::Eight => detect_model(
            data,
            &gathered.offsets,
            &gathered.ids,
            &mut classes,
            &string,
            header.id_size,
        ),
        None => default_model,
    };
    // Built after the geometry is known: the map may drop the ids (they are in the dump,
    // one byte into each object's sub-record).
    let ids = IdMap::new(gathered.ids);
    let frames = top
        .frame_recs
        .into_iter()
        .map(|(id, m, s, class_serial, line)| {
            let frame = Frame {
                method: string(m),
                source: string(s),
                class_serial,
                line,
            };
            (id, frame)
        })
        .collect();
    let threads = threads_of(&gathered.roots);

    let sized = size_objects(
        data,
        &gathered.offsets,
        header.id_size,
        &mut classes,
        &model,
        progress,
        &mut diagnostics,
    );
    Ok(HeapIndex {
        data,
        header,
        model,
        strings,
        classes,
        objects: Objects {
            ids,
            offsets: gathered.offsets,
            class: sized.class,
            shallow: sized.shallow,
            big: sized.big,
        },
        roots: gathered.roots,
        threads,
        traces: top.traces,
        frames,
        class_serials: top.class_serials,
        diagnostics,
    })
}

/// The heap dump of the file to read.
struct Selection {
    /// Offset of its first heap-dump record (0 if the file has none).
    start: u64,
    /// End of its last heap-dump record (`u64::MAX` if the file has none).
    end: u64,
    /// Whether the dump is known to be complete: closed by HEAP_DUMP_END, or a lone 1.0.1
    /// record. Only then can damage after it be someone else's.
    closed: bool,
}

/// Pass 1: finds the heap dumps of the file from record headers alone and picks the one
/// `opts.dump` asks for (default: the last), recording them in `diagnostics`.
fn select_dump(
    data: &[u8],
    header: &Header,
    opts: &IndexOptions,
    diagnostics: &mut Diagnostics,
) -> Result<Selection> {
    let mut heap_records = Vec::new();
    for rec in Records::new(data, header) {
        let Ok(rec) = rec else { break };
        if matches!(
            rec.tag,
            tag::HEAP_DUMP | tag::HEAP_DUMP_SEGMENT | tag::HEAP_DUMP_END
        ) {
            let end = rec.body.offset() + rec.body.remaining() as u64;
            heap_records.push((rec.tag, rec.offset, end));
        }
    }
    let dumps = group_dumps(&heap_records);
    let selected: Option<DumpSpan> = match opts.dump {
        None => dumps.last().copied(),
        Some(n) => match n.checked_sub(1).and_then(|i| dumps.get(i)) {
            Some(d) => Some(*d),
            None => {
                let detail = match dumps.len() {
                    0 => format!("--dump {n}: the file has no heap dump"),
                    1 => format!("--dump {n}: the file has only one heap dump"),
                    k => format!("--dump {n}: the file has {k} heap dumps (--dump 1 to {k})"),
                };
                return Err(Error::new(ErrorKind::NoSuchDump, detail));
            }
        },
    };
    diagnostics.dump = selected
        .and_then(|s| dumps.iter().position(|d| *d == s))
        .map_or(0, |i| i + 1);
    diagnostics.unterminated = selected.is_some_and(|d| d.segmented && !d.terminated);
    diagnostics.dumps = dumps;
    // Records after the dump's last heap-dump record belong to later dumps, if any. A
    // segmented dump that nothing closes was cut short, and what follows its last segment
    // is where it broke.
    Ok(Selection {
        start: selected.map_or(0, |d| d.offset),
        end: selected.map_or(u64::MAX, |d| d.end),
        closed: selected.is_none_or(|d| d.terminated || !d.segmented),
    })
}

/// What the top-level records of the selected dump hold, besides the heap itself.
struct TopLevel<'a> {
    strings: HashMap<u64, &'a [u8]>,
    /// Class object id -> name string id, from LOAD_CLASS.
    load_class: HashMap<u64, u64>,
    class_serials: HashMap<u32, u64>,
    traces: HashMap<u32, (u32, Vec<u64>)>,
    /// `(frame id, method name id, source file id, class serial, line)`.
    frame_recs: Vec<(u64, u64, u64, u32, i32)>,
    /// The heap-dump record bodies of the selected dump.
    bodies: Vec<Reader<'a>>,
    /// Where reading stopped on damage, and why.
    stop: Option<(u64, Error)>,
}

/// Pass 2: strings, class names, stack frames and traces, and the heap-dump bodies of the
/// selected dump. Stops at the first damaged record, saying where.
fn read_records<'a>(
    data: &'a [u8],
    header: &Header,
    sel: &Selection,
    progress: &dyn Progress,
    diagnostics: &mut Diagnostics,
) -> TopLevel<'a> {
    let mut top = TopLevel {
        strings: HashMap::new(),
        load_class: HashMap::new(),
        class_serials: HashMap::new(),
        traces: HashMap::new(),
        frame_recs: Vec::new(),
        bodies: Vec::new(),
        stop: None,
    };
    let mut last_report = 0u64;
    for rec in Records::new(data, header) {
        let mut rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let at = e.offset.unwrap_or(0);
                if sel.closed && at >= sel.end {
                    diagnostics.damage_after = Some((at, e.to_string()));
                } else {
                    top.stop = Some((at, e));
                }
                break;
            }
        };
        let damage = rec.damage.take();
        let heap = rec.tag == tag::HEAP_DUMP || rec.tag == tag::HEAP_DUMP_SEGMENT;
        if sel.closed && rec.offset >= sel.end && (heap || tag::is_known(rec.tag)) {
            // Another dump's records, or those written after ours: not ours to read.
            diagnostics.heap_segments += heap as u64;
            if let Some(e) = damage {
                diagnostics.damage_after = Some((
                    e.offset.unwrap_or(rec.offset),
                    e.in_record(tag::name(rec.tag), rec.offset).to_string(),
                ));
            }
            continue;
        }
        if rec.offset - last_report > (64 << 20) {
            progress.advance(rec.offset - last_report);
            last_report = rec.offset;
        }
        let start = rec.offset;
        let name = tag::name(rec.tag);
        let wrapped = rec.wrapped;
        let res = read_record(
            rec.tag,
            &mut rec.body,
            start,
            wrapped,
            &damage,
            header,
            sel,
            &mut top,
            diagnostics,
        );
        if let Err(e) = res {
            let at = match &damage {
                Some(d) => d.offset.unwrap_or(start),
                None => start,
            };
            top.stop = Some((at, e.in_record(name, start)));
            break;
        }
    }
    top
}

/// Reads one top-level record's body into `top`.
#[allow(clippy::too_many_arguments)]
fn read_record<'a>(
    record_tag: u8,
    r: &mut Reader<'a>,
    start: u64,
    wrapped: Option<u32>,
    damage: &Option<Error>,
    header: &Header,
    sel: &Selection,
    top: &mut TopLevel<'a>,
    diagnostics: &mut Diagnostics,
) -> Result<()> {
    match record_tag {
        tag::UTF8 => {
            let id = r.id("string id")?;
            top.strings.insert(id, r.rest());
        }
        tag::LOAD_CLASS => {
            let serial = r.u4("class serial")?;
            let id = r.id("class id")?;
            r.u4("stack trace serial")?;
            let name = r.id("class name id")?;
            top.load_class.insert(id, name);
            top.class_serials.insert(serial, id);
        }
        tag::STACK_FRAME => {
            let id = r.id("frame id")?;
            let method = r.id("method name id")?;
            r.id("method signature id")?;
            let source = r.id("source file id")?;
            let class_serial = r.u4("class serial")?;
            let line = r.u4("line number")? as i32;
            top.frame_recs
                .push((id, method, source, class_serial, line));
        }
        tag::STACK_TRACE => {
            let serial = r.u4("stack trace serial")?;
            let thread = r.u4("thread serial")?;
            let n = r.u4("frame count")? as usize;
            if n > r.remaining() / header.id_size.bytes() {
                return Err(Error::at(
                    ErrorKind::BadLength,
                    r.offset() - 4,
                    format!("{n} frames do not fit in the record"),
                ));
            }
            let mut ids = Vec::with_capacity(n);
            for _ in 0..n {
                ids.push(r.id("frame id")?);
            }
            top.traces.insert(serial, (thread, ids));
        }
        tag::HEAP_DUMP | tag::HEAP_DUMP_SEGMENT => {
            diagnostics.heap_segments += 1;
            if start < sel.start {
                // An earlier dump's: skipped, as a later one replaces it.
                return Ok(());
            }
            top.bodies.push(r.clone());
            if let Some(declared) = wrapped {
                diagnostics.wrapped_length = Some((start, declared, r.remaining() as u64));
            }
            if let Some(e) = damage {
                // The sub-record walk finds the last complete sub-record; the record
                // itself counts as damaged only from where its error is.
                return Err(e.clone());
            }
        }
        tag::UNLOAD_CLASS
        | tag::ALLOC_SITES
        | tag::HEAP_SUMMARY
        | tag::START_THREAD
        | tag::END_THREAD
        | tag::CPU_SAMPLES
        | tag::CONTROL_SETTINGS
        | tag::HEAP_DUMP_END => {}
        _ => diagnostics.unknown_records += 1,
    }
    Ok(())
}

/// Makes `e` the salvage point if it comes before the one found so far: the dump is good
/// up to its first damage, whichever pass found it.
fn keep_earliest(point: &mut Option<(u64, Error)>, e: Error) {
    let at = e.offset.unwrap_or(0);
    if point.as_ref().is_none_or(|(p, _)| at < *p) {
        *point = Some((at, e));
    }
}

/// In heap-dump data that the end of the file cuts short, a length running past the end is
/// the truncation, not a corrupt count.
fn cut_by_eof(mut e: Error, reaches_eof: bool) -> Error {
    if reaches_eof && e.kind == ErrorKind::BadLength {
        e.kind = ErrorKind::Truncated;
    }
    e
}

/// Pass 3: cuts heap bodies into chunks at sub-record boundaries. HotSpot writes segments
/// of about a megabyte: each one is a work unit as it is, and the parse pass finds any
/// damage in it. Only bodies much larger than a chunk (a single 1.0.1 HEAP_DUMP record)
/// are walked and cut; damage found on that walk is kept in `salvage_point`.
fn cut_chunks<'a>(
    data: &'a [u8],
    bodies: &[Reader<'a>],
    progress: &dyn Progress,
    salvage_point: &mut Option<(u64, Error)>,
) -> Vec<Reader<'a>> {
    let total_heap: u64 = bodies.iter().map(|b| b.remaining() as u64).sum();
    progress.start("scanning heap records", total_heap);
    let cut: Vec<(Vec<Reader<'a>>, Option<Error>)> = bodies
        .par_iter()
        .map(|body| {
            if body.remaining() <= 2 * CHUNK_BYTES {
                progress.advance(body.remaining() as u64);
                return (vec![body.clone()], None);
            }
            let mut chunks = Vec::new();
            let mut r = body.clone();
            let mut chunk_start = r.clone();
            let mut chunk_len = 0usize;
            let mut err = None;
            let reaches_eof = body.offset() + body.remaining() as u64 == data.len() as u64;
            while !r.is_empty() {
                let before = r.remaining();
                if let Err(e) = skip_sub_record(&mut r) {
                    err = Some(cut_by_eof(e, reaches_eof));
                    break;
                }
                chunk_len += before - r.remaining();
                if chunk_len >= CHUNK_BYTES {
                    chunks.push(chunk_start.split(chunk_len, "chunk").expect("walked"));
                    progress.advance(chunk_len as u64);
                    chunk_start = r.clone();
                    chunk_len = 0;
                }
            }
            if chunk_len > 0 {
                chunks.push(chunk_start.split(chunk_len, "chunk").expect("walked"));
                progress.advance(chunk_len as u64);
            }
            (chunks, err)
        })
        .collect();
    progress.finish();
    let mut chunks = Vec::new();
    for (c, err) in cut {
        chunks.extend(c);
        if let Some(e) = err {
            keep_earliest(salvage_point, e);
        }
    }
    chunks
}

/// What one chunk of heap-dump data holds.
#[derive(Default)]
struct ChunkOut {
    /// Instances and arrays: `(id, file offset)`, in file order.
    objects: Vec<(u64, u64)>,
    /// Class objects, kept apart because their ids do not follow the file order.
    mirrors: Vec<(u64, u64)>,
    classes: Vec<(u64, ClassDump)>,
    roots: Vec<Root>,
    /// The damage that ended the chunk early, if any.
    err: Option<Error>,
}

/// Pass 4: parses the chunks in parallel. A chunk stops at its first damaged sub-record,
/// keeping what came before it.
fn parse_chunks(data: &[u8], chunks: &[Reader<'_>], progress: &dyn Progress) -> Vec<ChunkOut> {
    progress.start("parsing objects", chunks.len() as u64);
    let outs = chunks
        .par_iter()
        .map(|c| {
            let mut out = ChunkOut::default();
            let mut r = c.clone();
            let reaches_eof = c.offset() + c.remaining() as u64 == data.len() as u64;
            while !r.is_empty() {
                let at = r.offset();
                match parse_sub_record(&mut r) {
                    Ok(
                        SubRecord::Instance { id, .. }
                        | SubRecord::ObjArray { id, .. }
                        | SubRecord::PrimArray { id, .. },
                    ) => out.objects.push((id, at)),
                    Ok(SubRecord::Class(cd)) => {
                        out.mirrors.push((cd.id, at));
                        out.classes.push((at, cd));
                    }
                    Ok(SubRecord::Root(root)) => out.roots.push(root),
                    Ok(SubRecord::HeapInfo { .. }) => {}
                    Err(e) => {
                        out.err = Some(cut_by_eof(e, reaches_eof));
                        break;
                    }
                }
            }
            progress.advance(1);
            out
        })
        .collect();
    progress.finish();
    outs
}

/// The parsed heap in id order, with its class dumps and roots.
struct Gathered {
    ids: Vec<u64>,
    offsets: Vec<u64>,
    class_dumps: Vec<(u64, ClassDump)>,
    roots: Vec<Root>,
}

/// Pass 5: decides on damage (an error, or with `--salvage` the salvage point: chunks
/// after it are dropped), then puts the objects in id order and drops duplicate ids.
fn gather(
    data: &[u8],
    chunks: &[Reader<'_>],
    outs: Vec<ChunkOut>,
    mut salvage_point: Option<(u64, Error)>,
    opts: &IndexOptions,
    progress: &dyn Progress,
    diagnostics: &mut Diagnostics,
) -> Result<Gathered> {
    for e in outs.iter().filter_map(|o| o.err.as_ref()) {
        keep_earliest(&mut salvage_point, e.clone());
    }
    let mut outs: Vec<(u64, ChunkOut)> = chunks.iter().map(|c| c.offset()).zip(outs).collect();
    if let Some((at, e)) = salvage_point {
        if !opts.salvage {
            return Err(e);
        }
        // Drop chunks that start after the salvage point (they belong to later records);
        // the damaged chunk itself holds only what precedes its damage.
        outs.retain(|(start, _)| *start < at);
        diagnostics.lost_bytes = data.len() as u64 - at.min(data.len() as u64);
        diagnostics.salvaged = Some((at, e.to_string()));
    }
    let mut class_dumps = Vec::new();
    let mut roots = Vec::new();
    let mut mirrors = Vec::new();
    let mut runs = Vec::with_capacity(outs.len());
    for (_, o) in outs {
        class_dumps.extend(o.classes);
        roots.extend(o.roots);
        mirrors.extend(o.mirrors);
        runs.push(o.objects);
    }
    progress.start("sorting object ids", 0);
    let (ids, offsets) = order::id_order(runs, mirrors);
    // Duplicate ids: keep the first definition in file order (pairs sort by offset too).
    let (ids, offsets) = dedup_ids(ids, offsets, diagnostics);
    progress.finish();
    if ids.len() >= u32::MAX as usize {
        return Err(Error::new(
            ErrorKind::Resources,
            format!(
                "{} objects; at most {} are supported",
                ids.len(),
                u32::MAX - 1
            ),
        ));
    }
    Ok(Gathered {
        ids,
        offsets,
        class_dumps,
        roots,
    })
}

/// Drops all but the first of each run of equal ids (the first in file order, as ids
/// with their offsets come sorted), counting the dropped ones.
fn dedup_ids(
    mut ids: Vec<u64>,
    mut offsets: Vec<u64>,
    diagnostics: &mut Diagnostics,
) -> (Vec<u64>, Vec<u64>) {
    if !ids.par_windows(2).any(|w| w[0] == w[1]) {
        return (ids, offsets);
    }
    let mut kept = 1;
    for i in 1..ids.len() {
        if ids[i] != ids[kept - 1] {
            ids[kept] = ids[i];
            offsets[kept] = offsets[i];
            kept += 1;
        }
    }
    diagnostics.duplicate_ids = (ids.len() - kept) as u64;
    ids.truncate(kept);
    offsets.truncate(kept);
    (ids, offsets)
}

/// Threads by serial number, from the ROOT_THREAD_OBJECT roots.
fn threads_of(roots: &[Root]) -> HashMap<u32, ThreadInfo> {
    roots
        .iter()
        .filter(|r| r.kind == RootKind::ThreadObject)
        .filter_map(|r| {
            let serial = r.thread_serial?;
            let info = ThreadInfo {
                object_id: r.id,
                trace_serial: r.trace_serial.unwrap_or(0),
            };
            Some((serial, info))
        })
        .collect()
}

/// Each object's class and shallow size, by node.
struct Sized {
    class: Vec<u32>,
    shallow: Vec<u32>,
    big: HashMap<u32, u64>,
}

/// Pass 7: the class and shallow size of each object, read from its header in parallel.
/// Instances of classes the dump never defined get one synthetic class.
fn size_objects(
    data: &[u8],
    offsets: &[u64],
    id_size: IdSize,
    classes: &mut Classes,
    model: &VmModel,
    progress: &dyn Progress,
    diagnostics: &mut Diagnostics,
) -> Sized {
    progress.start("sizing objects", offsets.len() as u64);
    let unknown = AtomicU64::new(0);
    let mismatched = AtomicU64::new(0);
    let table: &Classes = classes;
    let class_class = table.class_class;
    let size = |off: u64, unknown: &AtomicU64, mismatched: &AtomicU64| {
        size_object(
            data,
            off,
            id_size,
            table,
            model,
            class_class,
            unknown,
            mismatched,
        )
    };
    // Straight into the two arrays: sizes of 4 GB and more (arrays only) are marked and
    // looked up again below, so no per-object pair array is built in between.
    let (mut class, shallow): (Vec<u32>, Vec<u32>) = offsets
        .par_iter()
        .with_min_len(4096)
        .map(|&off| {
            let (c, s) = size(off, &unknown, &mismatched);
            (c, s.min(BIG as u64) as u32)
        })
        .unzip();
    let big: HashMap<u32, u64> = shallow
        .par_iter()
        .enumerate()
        .filter(|(_, &s)| s == BIG)
        .map(|(i, _)| {
            // Counted already, in the pass above.
            let uncounted = AtomicU64::new(0);
            (i as u32, size(offsets[i], &uncounted, &uncounted).1)
        })
        .collect();
    progress.finish();
    diagnostics.unknown_class_instances = unknown.into_inner();
    diagnostics.layout_mismatches = mismatched.into_inner();
    if diagnostics.unknown_class_instances > 0 {
        let unknown_idx = classes.add_synthetic("<unknown class>", None);
        for c in &mut class {
            if *c == u32::MAX {
                *c = unknown_idx;
            }
        }
    }
    Sized {
        class,
        shallow,
        big,
    }
}
