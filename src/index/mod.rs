//! The heap index: strings, classes, threads and objects of one dump, ready to become a graph.
//!
//! [`HeapIndex::build`] reads the mapped dump in the passes `build.rs` lists: the top-level
//! records, then the heap-dump bodies in parallel chunks, then the objects in id order
//! with their class and shallow size.
//!
//! An object is stored as its file offset (8 bytes), its class (4) and its shallow size
//! (4), plus its bit in the id map; everything else is re-read from the mapped dump.

mod build;
pub mod classes;
pub mod ids;
pub mod layout;
pub mod order;
mod sizing;

use std::collections::HashMap;

use crate::error::Result;
use crate::hprof::heap::{parse_sub_record, Root, SubRecord};
use crate::hprof::reader::Reader;
use crate::hprof::records::{DumpSpan, Header};
use crate::progress::Progress;

pub use classes::{ClassInfo, Classes, Field};
pub use ids::IdMap;
pub use layout::VmModel;

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

impl<'a> HeapIndex<'a> {
    /// Indexes `data`, a whole uncompressed HPROF dump, in the passes `build.rs` lists.
    pub fn build(
        data: &'a [u8],
        opts: &IndexOptions,
        progress: &dyn Progress,
    ) -> Result<HeapIndex<'a>> {
        build::build(data, opts, progress)
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
