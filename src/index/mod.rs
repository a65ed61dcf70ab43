//! The heap index: strings, classes, threads and objects of one dump, ready to become a graph.
//!
//! Built in three passes over the mapped dump:
//! 1. a sequential walk of the top-level records collects strings, class names, stack
//!    traces and the heap-dump bodies;
//! 2. each heap-dump body is cut at sub-record boundaries into chunks of a few megabytes,
//!    and the chunks are parsed in parallel into `(object id, file offset)` pairs, class
//!    dumps and GC roots;
//! 3. the pairs are sorted by id into dense node indices, and a parallel pass reads each
//!    object's header to record its class and shallow size.
//!
//! An object is stored as its id (8 bytes), its file offset (8), its class (4) and its
//! shallow size (4); everything else is re-read from the mapped dump on demand.

pub mod classes;
pub mod ids;
pub mod layout;
pub mod order;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::error::{Error, ErrorKind, Result};
use crate::hprof::format::{sub, tag, BasicType, IdSize};
use crate::hprof::heap::{parse_sub_record, skip_sub_record, ClassDump, Root, SubRecord};
use crate::hprof::reader::Reader;
use crate::hprof::records::{group_dumps, parse_header, DumpSpan, Header, Records};
use crate::progress::Progress;

pub use classes::{ClassInfo, Classes, Field};
pub use ids::IdMap;
pub use layout::VmModel;

/// Chunk size for parallel parsing: large enough to amortise scheduling, small enough to
/// balance two to dozens of cores.
const CHUNK_BYTES: usize = 4 << 20;

/// Shallow sizes at or above this are kept in a side table (arrays over 4 GB).
const BIG: u32 = u32::MAX;

/// How to read the dump.
#[derive(Clone, Debug, Default)]
pub struct IndexOptions {
    /// Object geometry; `None` picks the usual one for the identifier size.
    pub model: Option<VmModel>,
    /// Analyse what precedes a truncation or corruption instead of failing.
    pub salvage: bool,
    /// Which heap dump of a file holding several to read, from 1; `None` for the last.
    pub dump: Option<usize>,
}

/// A stack frame from a STACK_FRAME record.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Method name.
    pub method: String,
    /// Source file name, if recorded.
    pub source: String,
    /// Class serial number of the method's class.
    pub class_serial: u32,
    /// Line number (>0), or a negative HPROF code (unknown, compiled, native).
    pub line: i32,
}

/// A thread, from ROOT_THREAD_OBJECT.
#[derive(Clone, Copy, Debug)]
pub struct ThreadInfo {
    /// The java.lang.Thread object id.
    pub object_id: u64,
    /// The stack trace serial number of its stack.
    pub trace_serial: u32,
}

/// Problems found while reading that did not stop the analysis.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    /// Top-level records with tags no format defines, skipped by their length.
    pub unknown_records: u64,
    /// Where a truncated or corrupt dump stopped being read, and why (salvage mode).
    pub salvaged: Option<(u64, String)>,
    /// Bytes of the dump after the salvage point that were not read.
    pub lost_bytes: u64,
    /// Objects defined more than once (the first definition is kept).
    pub duplicate_ids: u64,
    /// Instances whose class is not in the dump.
    pub unknown_class_instances: u64,
    /// Instances whose field bytes do not match their class layout.
    pub layout_mismatches: u64,
    /// Number of heap-dump records (HEAP_DUMP and HEAP_DUMP_SEGMENT) in the file.
    pub heap_segments: u64,
    /// The heap dumps of the file, in file order (several when a file was appended to).
    pub dumps: Vec<DumpSpan>,
    /// The one read, from 1 (0 when the file has none).
    pub dump: usize,
    /// The dump read is segmented but no HEAP_DUMP_END closes it: the writer stopped.
    pub unterminated: bool,
    /// A HEAP_DUMP whose u4 length had wrapped past 4 GB: `(record offset, length as
    /// written, true length)`.
    pub wrapped_length: Option<(u64, u32, u64)>,
    /// Damage after the end of the dump read, which therefore did not matter: where, what.
    pub damage_after: Option<(u64, String)>,
    /// Classes whose superclass the dump does not define; its fields are unknown.
    pub missing_super_classes: u64,
}

/// The objects of a dump, in id order: node `i` is the i-th smallest id.
#[derive(Debug, Default)]
pub struct Objects {
    /// Id -> node index, and node index -> id.
    pub ids: IdMap,
    offsets: Vec<u64>,
    class: Vec<u32>,
    shallow: Vec<u32>,
    big: HashMap<u32, u64>,
}

impl Objects {
    /// Number of objects.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// File offset of node `v`'s sub-record.
    #[inline]
    pub fn offset(&self, v: u32) -> u64 {
        self.offsets[v as usize]
    }

    /// Class index of node `v`.
    #[inline]
    pub fn class(&self, v: u32) -> u32 {
        self.class[v as usize]
    }

    /// All class indices, by node.
    pub fn classes(&self) -> &[u32] {
        &self.class
    }

    /// Shallow size of node `v` in the JVM's heap.
    #[inline]
    pub fn shallow(&self, v: u32) -> u64 {
        let s = self.shallow[v as usize];
        if s == BIG {
            self.big[&v]
        } else {
            s as u64
        }
    }
}

/// Everything the later phases need to know about a dump, borrowing its bytes.
pub struct HeapIndex<'a> {
    /// The whole (inflated) dump.
    pub data: &'a [u8],
    /// Its header.
    pub header: Header,
    /// The object geometry used for shallow sizes.
    pub model: VmModel,
    strings: HashMap<u64, &'a [u8]>,
    /// Classes.
    pub classes: Classes,
    /// Objects.
    pub objects: Objects,
    /// GC roots, in dump order.
    pub roots: Vec<Root>,
    /// Threads by serial number.
    pub threads: HashMap<u32, ThreadInfo>,
    /// Stack traces by serial number: thread serial and frame ids, innermost first.
    pub traces: HashMap<u32, (u32, Vec<u64>)>,
    /// Stack frames by id.
    pub frames: HashMap<u64, Frame>,
    /// Class serial -> class object id, from LOAD_CLASS.
    pub class_serials: HashMap<u32, u64>,
    /// What went wrong without stopping the analysis.
    pub diagnostics: Diagnostics,
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

impl<'a> HeapIndex<'a> {
    /// Indexes `data`, a whole uncompressed HPROF dump.
    pub fn build(
        data: &'a [u8],
        opts: &IndexOptions,
        progress: &dyn Progress,
    ) -> Result<HeapIndex<'a>> {
        let header = parse_header(data)?;
        let model = opts
            .model
            .unwrap_or_else(|| VmModel::default_for(header.id_size));
        let mut diagnostics = Diagnostics::default();

        // Pass 1: top-level records. A first walk over record headers finds the heap dumps
        // (a file may hold several), so that the second reads only the one asked for and the
        // records before its end.
        progress.start("reading records", data.len() as u64);
        let mut heap_records = Vec::new();
        for rec in Records::new(data, &header) {
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
        drop(heap_records);
        let selected = match opts.dump {
            None => dumps.last().copied(),
            Some(n) => match n.checked_sub(1).and_then(|i| dumps.get(i)) {
                Some(d) => Some(*d),
                None => {
                    return Err(Error::new(
                        ErrorKind::NoSuchDump,
                        match dumps.len() {
                            0 => format!("--dump {n}: the file has no heap dump"),
                            1 => format!("--dump {n}: the file has only one heap dump"),
                            k => {
                                format!("--dump {n}: the file has {k} heap dumps (--dump 1 to {k})")
                            }
                        },
                    ))
                }
            },
        };
        diagnostics.dump = selected
            .and_then(|s| dumps.iter().position(|d| *d == s))
            .map_or(0, |i| i + 1);
        diagnostics.unterminated = selected.is_some_and(|d| d.segmented && !d.terminated);
        // Records after the dump's last heap-dump record belong to later dumps, if any.
        let (dump_start, dump_end) = selected.map_or((0, u64::MAX), |d| (d.offset, d.end));
        // Only a dump known to be complete (closed by HEAP_DUMP_END, or a lone 1.0.1 record)
        // can have damage after it that is not its own: a segmented dump that nothing
        // closes was cut short, and what follows its last segment is where it broke.
        let closed = selected.is_none_or(|d| d.terminated || !d.segmented);
        diagnostics.dumps = dumps;
        let mut strings = HashMap::new();
        let mut load_class = HashMap::new();
        let mut class_serials = HashMap::new();
        let mut traces = HashMap::new();
        let mut frame_recs = Vec::new();
        let mut bodies: Vec<Reader<'a>> = Vec::new();
        let mut last_report = 0u64;
        let mut stop: Option<(u64, Error)> = None;
        for rec in Records::new(data, &header) {
            let mut rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    let at = e.offset.unwrap_or(0);
                    if closed && at >= dump_end {
                        diagnostics.damage_after = Some((at, e.to_string()));
                    } else {
                        stop = Some((at, e));
                    }
                    break;
                }
            };
            let damage = rec.damage.take();
            let heap = rec.tag == tag::HEAP_DUMP || rec.tag == tag::HEAP_DUMP_SEGMENT;
            if closed && rec.offset >= dump_end && (heap || tag::is_known(rec.tag)) {
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
            let r = &mut rec.body;
            let res: Result<()> = (|| {
                match rec.tag {
                    tag::UTF8 => {
                        let id = r.id("string id")?;
                        strings.insert(id, r.rest());
                    }
                    tag::LOAD_CLASS => {
                        let serial = r.u4("class serial")?;
                        let id = r.id("class id")?;
                        r.u4("stack trace serial")?;
                        let name = r.id("class name id")?;
                        load_class.insert(id, name);
                        class_serials.insert(serial, id);
                    }
                    tag::STACK_FRAME => {
                        let id = r.id("frame id")?;
                        let method = r.id("method name id")?;
                        r.id("method signature id")?;
                        let source = r.id("source file id")?;
                        let class_serial = r.u4("class serial")?;
                        let line = r.u4("line number")? as i32;
                        frame_recs.push((id, method, source, class_serial, line));
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
                        traces.insert(serial, (thread, ids));
                    }
                    tag::HEAP_DUMP | tag::HEAP_DUMP_SEGMENT => {
                        diagnostics.heap_segments += 1;
                        if start < dump_start {
                            // An earlier dump's: skipped, as a later one replaces it.
                            return Ok(());
                        }
                        bodies.push(r.clone());
                        if let Some(declared) = rec.wrapped {
                            diagnostics.wrapped_length =
                                Some((start, declared, r.remaining() as u64));
                        }
                        if let Some(e) = &damage {
                            // The sub-record walk finds the last complete sub-record; the
                            // record itself counts as damaged only from where its error is.
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
            })();
            if let Err(e) = res {
                let at = match &damage {
                    Some(d) => d.offset.unwrap_or(start),
                    None => start,
                };
                stop = Some((at, e.in_record(name, start)));
                break;
            }
        }
        progress.finish();
        let mut salvage_point: Option<(u64, Error)> = None;
        if let Some((at, e)) = stop {
            // A truncated final heap segment keeps its complete sub-records; any other
            // failure drops the record it happened in.
            if !opts.salvage {
                return Err(e);
            }
            salvage_point = Some((at, e));
        }

        // Pass 2: cut heap bodies into chunks at sub-record boundaries.
        let total_heap: u64 = bodies.iter().map(|b| b.remaining() as u64).sum();
        progress.start("scanning heap records", total_heap);
        let cut: Vec<(Vec<Reader<'a>>, Option<Error>)> = bodies
            .par_iter()
            .map(|body| {
                let mut chunks = Vec::new();
                // HotSpot writes segments of about a megabyte: each one is a work unit as it
                // is, and the parse pass finds any damage in it. Only bodies much larger
                // than a chunk (a single 1.0.1 HEAP_DUMP record) are walked and cut.
                if body.remaining() <= 2 * CHUNK_BYTES {
                    progress.advance(body.remaining() as u64);
                    return (vec![body.clone()], None);
                }
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
                keep_earliest(&mut salvage_point, e);
            }
        }

        // Pass 3: parse chunks in parallel. A chunk stops at its first damaged sub-record,
        // keeping what came before it.
        progress.start("parsing objects", chunks.len() as u64);
        let outs: Vec<ChunkOut> = chunks
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
        let (ids, offsets) = dedup_ids(ids, offsets, &mut diagnostics);
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
        progress.finish();

        // Names.
        let string = |id: u64| -> String {
            strings
                .get(&id)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_else(|| format!("<string 0x{id:x}>"))
        };
        let names: HashMap<u64, String> =
            load_class.iter().map(|(&c, &n)| (c, string(n))).collect();
        let mut classes = Classes::build(class_dumps, &names, &string, header.id_size, &model);
        diagnostics.missing_super_classes = classes.missing_supers;
        let model = match opts.model {
            Some(m) => m,
            None if header.id_size == IdSize::Eight => {
                detect_model(data, &offsets, &ids, &mut classes, &string, header.id_size)
            }
            None => model,
        };
        // Built after the geometry is known: the map may drop the ids (they are in the
        // dump, one byte into each object's sub-record).
        let ids = IdMap::new(ids);
        let frames = frame_recs
            .into_iter()
            .map(|(id, m, s, cs, line)| {
                (
                    id,
                    Frame {
                        method: string(m),
                        source: string(s),
                        class_serial: cs,
                        line,
                    },
                )
            })
            .collect();
        let mut threads = HashMap::new();
        for r in &roots {
            if r.kind == crate::hprof::format::RootKind::ThreadObject {
                if let Some(serial) = r.thread_serial {
                    threads.insert(
                        serial,
                        ThreadInfo {
                            object_id: r.id,
                            trace_serial: r.trace_serial.unwrap_or(0),
                        },
                    );
                }
            }
        }

        // Pass 4: class and shallow size of each object.
        progress.start("sizing objects", offsets.len() as u64);
        let unknown = AtomicU64::new(0);
        let mismatched = AtomicU64::new(0);
        let class_class = classes.class_class;
        let id_size = header.id_size;
        let size = |off: u64, unknown: &AtomicU64, mismatched: &AtomicU64| {
            size_object(
                data,
                off,
                id_size,
                &classes,
                &model,
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
        // Instances of classes the dump never defined get one synthetic class each.
        if diagnostics.unknown_class_instances > 0 {
            let unknown_idx = classes.add_synthetic("<unknown class>", None);
            for c in &mut class {
                if *c == u32::MAX {
                    *c = unknown_idx;
                }
            }
        }

        Ok(HeapIndex {
            data,
            header,
            model,
            strings,
            classes,
            objects: Objects {
                ids,
                offsets,
                class,
                shallow,
                big,
            },
            roots,
            threads,
            traces,
            frames,
            class_serials,
            diagnostics,
        })
    }

    /// The UTF-8 string with this id, if the dump has it.
    pub fn string(&self, id: u64) -> Option<&'a [u8]> {
        self.strings.get(&id).copied()
    }

    /// Number of UTF8 strings in the dump.
    pub fn string_count(&self) -> usize {
        self.strings.len()
    }

    /// Node index of the object with this id.
    #[inline]
    pub fn node(&self, id: u64) -> Option<u32> {
        self.objects.ids.get(id)
    }

    /// Object id of node `v`.
    #[inline]
    pub fn id(&self, v: u32) -> u64 {
        self.objects.ids.stored_id(v).unwrap_or_else(|| {
            // Every indexed sub-record starts with its tag byte, then the object's id.
            let off = self.objects.offset(v) as usize + 1;
            crate::hprof::reader::id_at(&self.data[off..], self.header.id_size)
        })
    }

    /// The class of node `v`.
    pub fn class_of(&self, v: u32) -> &ClassInfo {
        self.classes.get(self.objects.class(v))
    }

    /// The sub-record of node `v`, parsed.
    pub fn record(&self, v: u32) -> Result<SubRecord<'a>> {
        let off = self.objects.offset(v);
        let mut r = Reader::new(&self.data[off as usize..], off, self.header.id_size);
        parse_sub_record(&mut r)
    }

    /// For a class object node, its class index.
    pub fn class_of_mirror(&self, v: u32) -> Option<u32> {
        self.classes
            .by_id(self.id(v))
            .filter(|&c| self.classes.get(c).offset == self.objects.offset(v))
    }
}

/// Objects sampled to infer the object geometry.
const MODEL_SAMPLE: usize = 200_000;

/// Infers the 64-bit object geometry from the addresses: object ids are heap addresses,
/// and consecutive objects in a region sit back to back, so the gap from one object to the
/// next is its true size for most objects. The model whose predicted sizes equal the gaps
/// most often wins; ties go to compressed oops, the JVM's default below 32 GB heaps.
fn detect_model(
    data: &[u8],
    offsets: &[u64],
    ids: &[u64],
    classes: &mut Classes,
    field_name: &dyn Fn(u64) -> String,
    id_size: IdSize,
) -> VmModel {
    let candidates = [
        VmModel::COMPRESSED,
        VmModel::WIDE_OOPS,
        VmModel::UNCOMPRESSED,
    ];
    let n = offsets.len();
    if n < 2 {
        return candidates[0];
    }
    let step = (n / MODEL_SAMPLE).max(1);
    let sample: Vec<usize> = (0..n - 1).step_by(step).collect();
    let ignore = AtomicU64::new(0);
    let mut best = (0usize, candidates[0]);
    for (i, model) in candidates.iter().enumerate() {
        if i > 0 {
            classes.relayout(field_name, id_size, model);
        }
        let class_class = classes.class_class;
        let hits = sample
            .par_iter()
            .filter(|&&k| {
                let (_, size) = size_object(
                    data,
                    offsets[k],
                    id_size,
                    classes,
                    model,
                    class_class,
                    &ignore,
                    &ignore,
                );
                ids[k + 1] - ids[k] == size
            })
            .count();
        if hits > best.0 {
            best = (hits, *model);
        }
    }
    if best.1 != candidates[candidates.len() - 1] {
        classes.relayout(field_name, id_size, &best.1);
    }
    best.1
}

#[allow(clippy::too_many_arguments)]
fn size_object(
    data: &[u8],
    off: u64,
    id_size: IdSize,
    classes: &Classes,
    model: &VmModel,
    class_class: Option<u32>,
    unknown: &AtomicU64,
    mismatched: &AtomicU64,
) -> (u32, u64) {
    let b = &data[off as usize..];
    let ids = id_size.bytes();
    let rd = |at: usize| crate::hprof::reader::id_at(&b[at..], id_size);
    let u4 = |at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    // The sub-record was fully validated by the parse pass, so these reads are in bounds.
    match b[0] {
        sub::INSTANCE_DUMP => {
            let class_id = rd(1 + ids + 4);
            let n = u4(1 + ids + 4 + ids);
            match classes.by_id(class_id) {
                Some(c) => {
                    let ci = classes.get(c);
                    if n != ci.dump_size {
                        mismatched.fetch_add(1, Ordering::Relaxed);
                    }
                    (c, ci.instance_size as u64)
                }
                None => {
                    unknown.fetch_add(1, Ordering::Relaxed);
                    (u32::MAX, model.object_size(model.header + n) as u64)
                }
            }
        }
        sub::OBJ_ARRAY_DUMP => {
            let len = u4(1 + ids + 4);
            let class_id = rd(1 + ids + 8);
            let size = model.array_size(BasicType::Object, len);
            match classes.by_id(class_id) {
                Some(c) => (c, size),
                None => {
                    unknown.fetch_add(1, Ordering::Relaxed);
                    (u32::MAX, size)
                }
            }
        }
        sub::PRIM_ARRAY_DUMP | sub::PRIM_ARRAY_NODATA => {
            let len = u4(1 + ids + 4);
            let ty = BasicType::from_code(b[1 + ids + 8]).expect("validated");
            (classes.prim_array(ty), model.array_size(ty, len))
        }
        sub::CLASS_DUMP => {
            let id = rd(1);
            let c = classes.by_id(id).expect("every class dump is in the table");
            (class_class.unwrap_or(c), classes.get(c).mirror_size as u64)
        }
        _ => unreachable!("only object sub-records are indexed"),
    }
}
