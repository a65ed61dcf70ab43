//! `HeapView`: the read-only face of an analysed dump, for reports and rules.
//!
//! Everything a report or a rule may ask of a heap goes through here: object ids and
//! classes, shallow and retained sizes, field values by name, strings, arrays, referrers,
//! dominators and GC-root paths. Nothing here parses bytes beyond one object's record or
//! changes anything; it is cheap to pass around by reference.

use rayon::prelude::*;

use crate::analysis::dominators::Dominators;
use std::sync::OnceLock;

use crate::analysis::histogram::{self, ClassRow};
use crate::analysis::{paths, Analysis};
use crate::graph::build::{edge_label, frame_name, Graph, RootEntry};
use crate::graph::csr::Csr;
use crate::hprof::format::{BasicType, RootKind};
use crate::hprof::heap::{SubRecord, Value};
use crate::index::{ClassInfo, HeapIndex};

mod collections;

/// An analysed dump: index, graph, dominator tree and retained sizes.
pub struct HeapView<'a> {
    /// The index of the dump.
    pub index: &'a HeapIndex<'a>,
    /// The reference graph.
    pub graph: &'a Graph,
    /// The dominators.
    pub dom: &'a Dominators,
    /// The dominator tree as children lists.
    pub tree: &'a Csr,
    /// Retained bytes by node (the virtual root's is the reachable heap).
    pub retained: &'a [u64],
    /// The class histogram, computed on first use and shared by rules, reports and every
    /// view of the same analysis.
    histogram: &'a OnceLock<Vec<ClassRow>>,
}

/// Whole-heap totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Objects in the dump (instances, arrays and class objects).
    pub objects: u64,
    /// Classes in the dump.
    pub classes: u64,
    /// Distinct objects that are GC roots.
    pub gc_roots: u64,
    /// Shallow bytes of all objects.
    pub heap_bytes: u64,
    /// Shallow bytes of objects reachable from a GC root.
    pub reachable_bytes: u64,
    /// Objects no GC root reaches.
    pub unreachable_objects: u64,
    /// Their shallow bytes.
    pub unreachable_bytes: u64,
}

/// One hop of a GC-root path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathStep {
    /// The object at this hop.
    pub node: u32,
    /// How the previous hop refers to it (field name, `[index]`, `<class>`, ...).
    pub via: String,
}

impl<'a> HeapView<'a> {
    /// The view of an analysed index.
    pub fn new(index: &'a HeapIndex<'a>, analysis: &'a Analysis) -> HeapView<'a> {
        HeapView {
            index,
            graph: &analysis.graph,
            dom: &analysis.dom,
            tree: &analysis.tree,
            retained: &analysis.retained,
            histogram: &analysis.histogram,
        }
    }

    /// Per class: instances, shallow bytes and retained bytes (computed once).
    pub fn class_histogram(&self) -> &[ClassRow] {
        self.histogram
            .get_or_init(|| histogram::histogram(self.index, self.dom, self.tree, self.retained))
    }

    /// Totals for the whole heap.
    pub fn summary(&self) -> Summary {
        let n = self.index.objects.len() as u64;
        let heap_bytes: u64 = (0..n as u32)
            .into_par_iter()
            .map(|v| self.index.objects.shallow(v))
            .sum();
        let reachable_objects = self.dom.num_reachable() as u64 - 1;
        let reachable_bytes = self.retained[self.graph.root as usize];
        let mut root_nodes: Vec<u32> = self.graph.roots.iter().map(|r| r.node).collect();
        root_nodes.dedup();
        Summary {
            objects: n,
            classes: self.index.classes.len() as u64,
            gc_roots: root_nodes.len() as u64,
            heap_bytes,
            reachable_bytes,
            unreachable_objects: n - reachable_objects,
            unreachable_bytes: heap_bytes - reachable_bytes,
        }
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.index.objects.len()
    }

    /// True for an empty heap.
    pub fn is_empty(&self) -> bool {
        self.index.objects.is_empty()
    }

    /// Node of the object with this id.
    pub fn node(&self, id: u64) -> Option<u32> {
        self.index.node(id)
    }

    /// Object id of a node.
    pub fn id(&self, v: u32) -> u64 {
        self.index.id(v)
    }

    /// The class of a node.
    pub fn class(&self, v: u32) -> &'a ClassInfo {
        self.index.class_of(v)
    }

    /// What to call a node's class in a report: `class Foo` for class objects.
    pub fn display_class(&self, v: u32) -> String {
        if v == self.graph.root {
            return "<GC roots>".into();
        }
        match self.index.class_of_mirror(v) {
            Some(c) => format!("class {}", self.index.classes.get(c).name),
            None => self.class(v).name.clone(),
        }
    }

    /// Shallow bytes of a node.
    pub fn shallow(&self, v: u32) -> u64 {
        if v == self.graph.root {
            0
        } else {
            self.index.objects.shallow(v)
        }
    }

    /// Retained bytes of a node.
    pub fn retained(&self, v: u32) -> u64 {
        self.retained[v as usize]
    }

    /// The `k` nodes of `nodes` that retain the most, biggest first, ties in node order.
    /// A selection, then a sort of the `k`: rules ask this of millions of instances.
    pub fn biggest(&self, mut nodes: Vec<u32>, k: usize) -> Vec<u32> {
        let key = |&v: &u32| (std::cmp::Reverse(self.retained(v)), v);
        if k == 0 {
            return Vec::new();
        }
        if nodes.len() > k {
            nodes.select_nth_unstable_by_key(k - 1, key);
            nodes.truncate(k);
        }
        nodes.sort_unstable_by_key(key);
        nodes
    }

    /// Bytes reachable from GC roots.
    pub fn reachable_bytes(&self) -> u64 {
        self.retained[self.graph.root as usize]
    }

    /// The value of instance field `name` of node `v`; `None` if `v` is no instance or has
    /// no such field.
    pub fn field(&self, v: u32, name: &str) -> Option<Value> {
        let f = self.class(v).field(name)?;
        match self.index.record(v).ok()? {
            SubRecord::Instance { data, .. } => {
                let o = f.dump_offset as usize;
                let b = data.get(o..o + f.ty.dump_size(self.index.header.id_size))?;
                Some(Value::decode(b, f.ty, self.index.header.id_size))
            }
            _ => None,
        }
    }

    /// The node a reference field points to (None for null, missing field or dangling id).
    pub fn field_ref(&self, v: u32, name: &str) -> Option<u32> {
        match self.field(v, name)? {
            Value::Object(id) if id != 0 => self.node(id),
            _ => None,
        }
    }

    /// Every instance field of node `v` with its value, in declaration order from the
    /// most derived class up.
    pub fn fields(&self, v: u32) -> Vec<(String, BasicType, Value)> {
        let class = self.class(v);
        match self.index.record(v) {
            Ok(SubRecord::Instance { data, .. }) => class
                .fields
                .iter()
                .filter_map(|f| {
                    let o = f.dump_offset as usize;
                    let b = data.get(o..o + f.ty.dump_size(self.index.header.id_size))?;
                    Some((
                        f.name.clone(),
                        f.ty,
                        Value::decode(b, f.ty, self.index.header.id_size),
                    ))
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Decodes a java.lang.String node (JDK 9+ byte[] with coder, or JDK 8 char[]).
    pub fn string(&self, v: u32) -> Option<String> {
        if self.class(v).name != "java.lang.String" {
            return None;
        }
        let value = self.field_ref(v, "value")?;
        let coder = match self.field(v, "coder") {
            Some(Value::Byte(c)) => c,
            _ => 1,
        };
        match self.index.record(value).ok()? {
            SubRecord::PrimArray {
                ty: BasicType::Byte,
                data,
                ..
            } => {
                if coder == 0 {
                    Some(data.iter().map(|&b| b as char).collect())
                } else {
                    // JDK 9+ stores UTF-16 in the platform's byte order; HotSpot on x86
                    // and ARM is little-endian.
                    let units: Vec<u16> = data
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect();
                    Some(String::from_utf16_lossy(&units))
                }
            }
            SubRecord::PrimArray {
                ty: BasicType::Char,
                data,
                ..
            } => {
                let units: Vec<u16> = data
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                Some(String::from_utf16_lossy(&units))
            }
            _ => None,
        }
    }

    /// Elements of an object array node.
    pub fn array_refs(&self, v: u32) -> Option<Vec<u64>> {
        match self.index.record(v).ok()? {
            SubRecord::ObjArray { data, .. } => {
                let ids = self.index.header.id_size;
                Some(
                    data.chunks_exact(ids.bytes())
                        .map(|c| crate::hprof::reader::id_at(c, ids))
                        .collect(),
                )
            }
            _ => None,
        }
    }

    /// Element type, length and the first `max` elements of a primitive array node.
    pub fn prim_array(&self, v: u32, max: usize) -> Option<(BasicType, u32, Vec<Value>)> {
        match self.index.record(v).ok()? {
            SubRecord::PrimArray { ty, len, data, .. } => {
                let size = ty.dump_size(self.index.header.id_size);
                let vals = data
                    .chunks_exact(size)
                    .take(max)
                    .map(|c| Value::decode(c, ty, self.index.header.id_size))
                    .collect();
                Some((ty, len, vals))
            }
            _ => None,
        }
    }

    /// Nodes that reference `v` (each once), in node order.
    pub fn referrers(&self, v: u32) -> Vec<u32> {
        let csr = &self.graph.csr;
        (0..csr.num_nodes() as u32)
            .into_par_iter()
            .filter(|&u| csr.successors(u).contains(&v))
            .collect()
    }

    /// Shortest path from a GC root to `v`, each hop with how it is referenced; the first
    /// step is the GC root itself. `None` if unreachable.
    pub fn path_to(&self, v: u32, include_weak: bool) -> Option<Vec<PathStep>> {
        let nodes = paths::shortest_path(self.index, self.graph, v, include_weak)?;
        let mut steps = Vec::with_capacity(nodes.len());
        for w in nodes.windows(2) {
            let via = if w[0] == self.graph.root {
                String::new()
            } else {
                edge_label(self.index, self.graph, w[0], w[1])
            };
            steps.push(PathStep { node: w[1], via });
        }
        Some(steps)
    }

    /// The GC-root entries of node `v`.
    pub fn roots_of(&self, v: u32) -> &'a [RootEntry] {
        self.graph.roots_of(v)
    }

    /// A thread's name, from its java.lang.Thread object.
    pub fn thread_name(&self, serial: u32) -> Option<String> {
        let t = *self.graph.thread_nodes.get(&serial)?;
        self.field_ref(t, "name").and_then(|s| self.string(s))
    }

    /// Describes why node `v` is a GC root: `system class`, `thread "main"`,
    /// `Java frame of thread "worker" at Foo.run(Foo.java:12)`.
    pub fn describe_root(&self, v: u32) -> Option<String> {
        let entries = self.roots_of(v);
        // A thread's own object is also a local of its run() frame: name it as the thread.
        let rank = |e: &&RootEntry| match e.kind {
            RootKind::ThreadObject => 0,
            _ if e.via_thread => 3,
            RootKind::JavaFrame
            | RootKind::JniLocal
            | RootKind::NativeStack
            | RootKind::ThreadBlock => 2,
            _ => 1,
        };
        let e = entries.iter().min_by_key(rank)?;
        Some(match e.kind {
            RootKind::ThreadObject => match self.string_field(v, "name") {
                Some(name) => format!("thread \"{name}\""),
                None => "thread".into(),
            },
            RootKind::JavaFrame
            | RootKind::JniLocal
            | RootKind::NativeStack
            | RootKind::ThreadBlock => {
                let thread = e
                    .thread_serial
                    .and_then(|s| self.thread_name(s))
                    .map(|n| format!(" of thread \"{n}\""))
                    .unwrap_or_default();
                let at = e
                    .frame
                    .map(|f| format!(" at {}", frame_name(self.index, e.thread_serial, f)))
                    .unwrap_or_default();
                format!("{}{thread}{at}", e.kind.name())
            }
            k => k.name().to_string(),
        })
    }

    /// The string a String-typed field of `v` holds.
    pub fn string_field(&self, v: u32, name: &str) -> Option<String> {
        self.field_ref(v, name).and_then(|s| self.string(s))
    }

    /// Nodes whose class is `class` or a subclass of it.
    pub fn instances_of(&self, class: u32, include_subclasses: bool) -> Vec<u32> {
        let classes = &self.index.classes;
        let wanted: Vec<bool> = (0..classes.len() as u32)
            .map(|c| {
                if include_subclasses {
                    classes.is_subclass_of(c, class)
                } else {
                    c == class
                }
            })
            .collect();
        let of = self.index.objects.classes();
        let class_class = classes.class_class;
        (0..self.len() as u32)
            .into_par_iter()
            // Class objects count as instances of java.lang.Class only in the class table.
            .filter(|&v| {
                let c = of[v as usize];
                wanted[c as usize]
                    && (Some(c) != class_class || self.index.class_of_mirror(v).is_none())
            })
            .collect()
    }
}

/// At most this many elements are read from one collection (and never more than the heap
/// has objects): a guard against cycles in a damaged dump, far above anything a rule needs.
const MAX_ELEMENTS: usize = 50_000_000;

/// Reading objects by class name, primitive fields, and the JDK 17 collections (HashMap,
/// HashSet, LinkedHashMap, ConcurrentHashMap, `Collections$SetFromMap`,
/// LinkedBlockingQueue, ArrayList, LinkedList, the atomics). Every walker returns `None`
/// (or an empty result) on a shape it does not know instead of failing: rules read dumps of
/// library versions nobody tested.
impl<'a> HeapView<'a> {
    /// Class indices named exactly `name` (`java.util.HashMap`, `Foo$Bar`).
    pub fn classes_named(&self, name: &str) -> Vec<u32> {
        self.index.classes.named(name).collect()
    }

    /// Instances (not class objects) of the classes named `name`, and of their subclasses
    /// if `include_subclasses`; in node order.
    pub fn instances_named(&self, name: &str, include_subclasses: bool) -> Vec<u32> {
        let mut out = Vec::new();
        for c in self.classes_named(name) {
            out.extend(self.instances_of(c, include_subclasses));
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// True if node `v` is an instance of the class named `name` or of a subclass of it.
    pub fn is_instance_of(&self, v: u32, name: &str) -> bool {
        if self.index.class_of_mirror(v).is_some() {
            return false;
        }
        let classes = &self.index.classes;
        let mut c = self.index.objects.class(v);
        for _ in 0..10_000 {
            let info = classes.get(c);
            if info.name == name {
                return true;
            }
            match info.super_class {
                Some(s) => c = s,
                None => return false,
            }
        }
        false
    }

    /// An integral field (byte, short, char, int, long) as i64.
    pub fn int_field(&self, v: u32, name: &str) -> Option<i64> {
        match self.field(v, name)? {
            Value::Byte(b) => Some(b as i64),
            Value::Short(s) => Some(s as i64),
            Value::Char(c) => Some(c as i64),
            Value::Int(i) => Some(i as i64),
            Value::Long(l) => Some(l),
            _ => None,
        }
    }

    /// A boolean field.
    pub fn bool_field(&self, v: u32, name: &str) -> Option<bool> {
        match self.field(v, name)? {
            Value::Boolean(b) => Some(b),
            Value::Byte(b) => Some(b != 0),
            _ => None,
        }
    }

    /// The constant name of a `java.lang.Enum` instance.
    pub fn enum_name(&self, v: u32) -> Option<String> {
        self.string_field(v, "name")
    }

    /// The value of an AtomicLong, AtomicInteger or AtomicBoolean (its `value` field).
    pub fn atomic_value(&self, v: u32) -> Option<i64> {
        match self.field(v, "value")? {
            Value::Boolean(b) => Some(b as i64),
            Value::Int(i) => Some(i as i64),
            Value::Long(l) => Some(l),
            _ => None,
        }
    }

    /// A static field of the (first) class named `class`.
    pub fn static_value(&self, class: &str, field: &str) -> Option<Value> {
        self.index
            .classes
            .named(class)
            .find_map(|c| self.index.classes.get(c).static_field(field))
            .map(|s| s.value)
    }

    /// The node a static reference field of the class named `class` points to.
    pub fn static_ref(&self, class: &str, field: &str) -> Option<u32> {
        match self.static_value(class, field)? {
            Value::Object(id) if id != 0 => self.node(id),
            _ => None,
        }
    }

    /// Length of an array node.
    pub fn array_len(&self, v: u32) -> Option<u64> {
        match self.index.record(v).ok()? {
            SubRecord::PrimArray { len, .. } => Some(len as u64),
            SubRecord::ObjArray { data, .. } => {
                Some((data.len() / self.index.header.id_size.bytes()) as u64)
            }
            _ => None,
        }
    }

    /// The class objects whose defining loader is the object `loader` (CLASS DUMP loader
    /// ids), as class indices.
    pub fn classes_defined_by(&self, loader: u32) -> Vec<u32> {
        let id = self.id(loader);
        (0..self.index.classes.len() as u32)
            .filter(|&c| self.index.classes.get(c).dump.loader_id == id)
            .collect()
    }

    /// The node of a class's `java.lang.Class` object.
    pub fn class_node(&self, class: u32) -> Option<u32> {
        self.node(self.index.classes.get(class).id)
    }

    /// True if node `v` is itself a GC root.
    pub fn is_gc_root(&self, v: u32) -> bool {
        !self.roots_of(v).is_empty()
    }

    /// What the instances in `nodes` retain together, each byte once: the sum of the
    /// retained sizes of those no other member dominates. One walk of the dominator tree.
    pub fn retained_together(&self, nodes: &[u32]) -> u64 {
        if nodes.is_empty() {
            return 0;
        }
        let mut member = vec![false; self.tree.num_nodes()];
        for &v in nodes {
            if let Some(m) = member.get_mut(v as usize) {
                *m = true;
            }
        }
        let mut total = 0u64;
        let mut stack = vec![self.graph.root];
        while let Some(v) = stack.pop() {
            if member[v as usize] {
                total += self.retained(v);
                continue;
            }
            stack.extend_from_slice(self.tree.successors(v));
        }
        total
    }
}
