//! Builds the object graph from the index: one node per object plus a virtual root.
//!
//! Edges are the references the JVM's collector would follow, plus a few that make the
//! dominator tree say what a person expects (as Eclipse MAT does):
//! - an instance references its fields' objects and its class;
//! - an array references its elements and its class;
//! - a class references its superclass, class loader, signers, protection domain,
//!   static fields and constant-pool objects;
//! - a thread references the objects its stack frames hold (ROOT_JAVA_FRAME,
//!   ROOT_JNI_LOCAL, ROOT_NATIVE_STACK, ROOT_THREAD_BLOCK of that thread), so a thread
//!   retains what only its stack keeps alive;
//! - the virtual root (the last node) references every other GC root.
//!
//! `Reference.referent` fields are ordinary edges here: a live dump has already had its
//! weakly reachable referents cleared, and soft referents are really in the heap. Path
//! queries skip them on request instead (see `analysis::paths`).
//!
//! Nodes are built in parallel chunks; each chunk reads its objects' sub-records from the
//! mapped dump and resolves ids through the [`IdMap`](crate::index::IdMap).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::error::{Error, ErrorKind, Result};
use crate::graph::csr::Csr;
use crate::hprof::format::{sub, IdSize, RootKind};
use crate::hprof::heap::{parse_sub_record, SubRecord, Value};
use crate::hprof::reader::{id_at, Reader};
use crate::index::HeapIndex;
use crate::progress::Progress;

/// Nodes per parallel work unit.
const CHUNK_NODES: usize = 1 << 15;

/// A GC root as a node, with what makes it one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootEntry {
    /// The rooted node.
    pub node: u32,
    /// The root kind.
    pub kind: RootKind,
    /// The thread, for stack roots.
    pub thread_serial: Option<u32>,
    /// The frame, for stack roots.
    pub frame: Option<u32>,
    /// True when the object hangs off its thread's node rather than the virtual root.
    pub via_thread: bool,
}

/// The object graph: the CSR of references, the virtual root and the roots.
#[derive(Debug)]
pub struct Graph {
    /// Successor lists; node `root` is the virtual root.
    pub csr: Csr,
    /// The virtual root's node index (= number of objects).
    pub root: u32,
    /// Every GC root entry, sorted by node.
    pub roots: Vec<RootEntry>,
    /// Thread serial -> thread object node.
    pub thread_nodes: HashMap<u32, u32>,
    /// References to ids that no object in the dump has (null excluded).
    pub dangling: u64,
    /// GC root entries whose object is not in the dump.
    pub dangling_roots: u64,
}

impl Graph {
    /// Root entries for node `v` (empty if `v` is not a GC root).
    pub fn roots_of(&self, v: u32) -> &[RootEntry] {
        let lo = self.roots.partition_point(|r| r.node < v);
        let hi = self.roots.partition_point(|r| r.node <= v);
        &self.roots[lo..hi]
    }
}

/// True for root kinds that live on a thread's stack.
fn is_stack_root(kind: RootKind) -> bool {
    matches!(
        kind,
        RootKind::JavaFrame
            | RootKind::JniLocal
            | RootKind::NativeStack
            | RootKind::ThreadBlock
            | RootKind::JniMonitor
    )
}

/// Builds the graph.
pub fn build(index: &HeapIndex<'_>, progress: &dyn Progress) -> Result<Graph> {
    let n = index.objects.len();
    let root = n as u32;
    let mut thread_nodes = HashMap::new();
    for (&serial, t) in &index.threads {
        if let Some(v) = index.node(t.object_id) {
            thread_nodes.insert(serial, v);
        }
    }
    let mut roots = Vec::with_capacity(index.roots.len());
    let mut dangling_roots = 0;
    let mut stack_edges: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut root_targets = Vec::new();
    for r in &index.roots {
        let Some(node) = index.node(r.id) else {
            dangling_roots += 1;
            continue;
        };
        let thread = r.thread_serial.and_then(|s| thread_nodes.get(&s).copied());
        let via_thread = is_stack_root(r.kind) && thread.is_some_and(|t| t != node);
        if via_thread {
            stack_edges
                .entry(thread.expect("checked"))
                .or_default()
                .push(node);
        } else {
            root_targets.push(node);
        }
        roots.push(RootEntry {
            node,
            kind: r.kind,
            thread_serial: r.thread_serial,
            frame: r.frame,
            via_thread,
        });
    }
    roots.sort_by_key(|r| (r.node, r.kind));
    root_targets.sort_unstable();
    root_targets.dedup();
    // Sorted by thread node, so each chunk walks it alongside its nodes instead of
    // hashing every node of the heap to find the few threads.
    let mut stack_edges: Vec<(u32, Vec<u32>)> = stack_edges.into_iter().collect();
    stack_edges.sort_unstable_by_key(|e| e.0);

    progress.start("building graph", n as u64);
    let dangling = AtomicU64::new(0);
    let chunks = n.div_ceil(CHUNK_NODES);
    let parts: Vec<(Vec<u32>, Vec<u32>)> = (0..chunks)
        .into_par_iter()
        .map(|ci| {
            let lo = ci * CHUNK_NODES;
            let hi = (lo + CHUNK_NODES).min(n);
            let mut counts = Vec::with_capacity(hi - lo);
            let mut targets = Vec::with_capacity((hi - lo) * 3);
            let mut lost = 0u64;
            let mut threads = stack_edges[stack_edges.partition_point(|e| e.0 < lo as u32)..]
                .iter()
                .peekable();
            for v in lo as u32..hi as u32 {
                let before = targets.len();
                let mut push = |id: u64| {
                    if id != 0 {
                        match index.node(id) {
                            Some(t) => targets.push(t),
                            None => lost += 1,
                        }
                    }
                };
                for_each_reference(index, v, &mut push);
                if let Some((_, extra)) = threads.next_if(|e| e.0 == v) {
                    targets.extend_from_slice(extra);
                }
                counts.push((targets.len() - before) as u32);
            }
            dangling.fetch_add(lost, Ordering::Relaxed);
            progress.advance((hi - lo) as u64);
            (counts, targets)
        })
        .collect();
    progress.finish();

    let total: usize = parts.iter().map(|p| p.1.len()).sum::<usize>() + root_targets.len();
    if total >= u32::MAX as usize {
        return Err(Error::new(
            ErrorKind::Resources,
            format!("{total} references; at most {} are supported", u32::MAX - 1),
        ));
    }
    // Stitch the chunks together in parallel: each one owns a known range of both arrays.
    let mut offsets = vec![0u32; n + 2];
    let mut targets = vec![0u32; total];
    {
        let mut offset_slices = Vec::with_capacity(parts.len());
        let mut target_slices = Vec::with_capacity(parts.len());
        let (mut o_rest, mut t_rest) = (&mut offsets[1..], &mut targets[..]);
        let mut base = 0u32;
        for (counts, t) in &parts {
            let (o, o_tail) = std::mem::take(&mut o_rest).split_at_mut(counts.len());
            let (tt, t_tail) = std::mem::take(&mut t_rest).split_at_mut(t.len());
            offset_slices.push((o, base));
            target_slices.push(tt);
            base += t.len() as u32;
            (o_rest, t_rest) = (o_tail, t_tail);
        }
        t_rest.copy_from_slice(&root_targets);
        o_rest[0] = total as u32;
        parts
            .par_iter()
            .zip(offset_slices)
            .zip(target_slices)
            .for_each(|(((counts, t), (o, base)), tt)| {
                let mut acc = base;
                for (slot, &c) in o.iter_mut().zip(counts) {
                    acc += c;
                    *slot = acc;
                }
                tt.copy_from_slice(t);
            });
    }
    drop(parts);
    Ok(Graph {
        csr: Csr { offsets, targets },
        root,
        roots,
        thread_nodes,
        dangling: dangling.into_inner(),
        dangling_roots,
    })
}

/// Calls `f` with every object id node `v` references (nulls included; callers skip them).
/// Stack-root edges of threads are not included: they come from the root table.
pub fn for_each_reference(index: &HeapIndex<'_>, v: u32, f: &mut impl FnMut(u64)) {
    let data = index.data;
    let id_size = index.header.id_size;
    let ids = id_size.bytes();
    let off = index.objects.offset(v) as usize;
    let b = &data[off..];
    // Sub-records were validated when indexed; the reads below stay within them.
    match b[0] {
        sub::INSTANCE_DUMP => {
            let class = index.class_of(v);
            let n = u32::from_be_bytes(b[1 + 2 * ids + 4..1 + 2 * ids + 8].try_into().expect("4"))
                as usize;
            let fields = &b[1 + 2 * ids + 8..1 + 2 * ids + 8 + n];
            f(class.id);
            for &o in &class.ref_offsets {
                let o = o as usize;
                if o + ids <= fields.len() {
                    f(id_at(&fields[o..], id_size));
                }
            }
        }
        sub::OBJ_ARRAY_DUMP => {
            let len =
                u32::from_be_bytes(b[1 + ids + 4..1 + ids + 8].try_into().expect("4")) as usize;
            f(id_at(&b[1 + ids + 8..], id_size));
            let elems = &b[1 + 2 * ids + 8..1 + 2 * ids + 8 + len * ids];
            match id_size {
                IdSize::Eight => {
                    for c in elems.chunks_exact(8) {
                        f(u64::from_be_bytes(c.try_into().expect("8")));
                    }
                }
                IdSize::Four => {
                    for c in elems.chunks_exact(4) {
                        f(u32::from_be_bytes(c.try_into().expect("4")) as u64);
                    }
                }
            }
        }
        sub::PRIM_ARRAY_DUMP | sub::PRIM_ARRAY_NODATA => f(index.class_of(v).id),
        sub::CLASS_DUMP => {
            if let Some(c) = index.class_of_mirror(v) {
                let c = index.classes.get(c);
                f(c.dump.super_id);
                f(c.dump.loader_id);
                f(c.dump.signers_id);
                f(c.dump.protection_domain_id);
                for s in &c.dump.statics {
                    if let Value::Object(id) = s.value {
                        f(id);
                    }
                }
                for &id in &c.dump.constant_pool_refs {
                    f(id);
                }
            }
        }
        _ => {}
    }
}

/// Names the reference from node `from` to node `to`: a field name, an array index, a
/// static field, or a structural link such as `<class>` or `<super>`.
pub fn edge_label(index: &HeapIndex<'_>, graph: &Graph, from: u32, to: u32) -> String {
    if from == graph.root {
        return "<GC root>".into();
    }
    let target = index.id(to);
    let off = index.objects.offset(from);
    let mut r = Reader::new(&index.data[off as usize..], off, index.header.id_size);
    match parse_sub_record(&mut r) {
        Ok(SubRecord::Instance { data, .. }) => {
            let class = index.class_of(from);
            for fld in &class.fields {
                if fld.ty == crate::hprof::format::BasicType::Object {
                    let o = fld.dump_offset as usize;
                    if o + index.header.id_size.bytes() <= data.len()
                        && id_at(&data[o..], index.header.id_size) == target
                    {
                        return fld.name.clone();
                    }
                }
            }
            if class.id == target {
                return "<class>".into();
            }
        }
        Ok(SubRecord::ObjArray { data, class_id, .. }) => {
            let ids = index.header.id_size.bytes();
            if let Some(i) = data
                .chunks_exact(ids)
                .position(|c| id_at(c, index.header.id_size) == target)
            {
                return format!("[{i}]");
            }
            if class_id == target {
                return "<class>".into();
            }
        }
        Ok(SubRecord::PrimArray { .. }) => return "<class>".into(),
        Ok(SubRecord::Class(cd)) => {
            if let Some(c) = index.class_of_mirror(from) {
                let ci = index.classes.get(c);
                for (s, name) in ci.dump.statics.iter().zip(&ci.static_names) {
                    if s.value == Value::Object(target) {
                        return format!("static {name}");
                    }
                }
            }
            if cd.super_id == target {
                return "<super>".into();
            }
            if cd.loader_id == target {
                return "<class loader>".into();
            }
            if cd.protection_domain_id == target {
                return "<protection domain>".into();
            }
            if cd.signers_id == target {
                return "<signers>".into();
            }
            if cd.constant_pool_refs.contains(&target) {
                return "<constant pool>".into();
            }
        }
        _ => {}
    }
    // A thread's stack reference.
    for e in graph.roots_of(to) {
        if e.via_thread && e.thread_serial.and_then(|s| graph.thread_nodes.get(&s)) == Some(&from) {
            return match e.frame {
                Some(fr) => format!(
                    "<{} in {}>",
                    e.kind.name(),
                    frame_name(index, e.thread_serial, fr)
                ),
                None => format!("<{}>", e.kind.name()),
            };
        }
    }
    "<reference>".into()
}

/// `Class.method(File.java:42)` for frame `frame` of a thread's stack, if the dump says.
pub fn frame_name(index: &HeapIndex<'_>, thread_serial: Option<u32>, frame: u32) -> String {
    let trace = thread_serial
        .and_then(|s| index.threads.get(&s))
        .and_then(|t| index.traces.get(&t.trace_serial));
    let Some((_, frames)) = trace else {
        return format!("frame {frame}");
    };
    let Some(fr) = frames
        .get(frame as usize)
        .and_then(|id| index.frames.get(id))
    else {
        return format!("frame {frame}");
    };
    let class = index
        .class_serials
        .get(&fr.class_serial)
        .and_then(|&id| index.classes.by_id(id))
        .map(|c| index.classes.get(c).name.clone())
        .unwrap_or_default();
    let place = if fr.line > 0 {
        format!("{}:{}", fr.source, fr.line)
    } else {
        fr.source.clone()
    };
    format!("{class}.{}({place})", fr.method)
}
