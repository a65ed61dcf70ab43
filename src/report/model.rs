//! Report data, serialisable as the JSON contract (schema 1).
//!
//! Field order here is the key order in the JSON output. Object ids serialise as hex
//! strings (`"0x7f3a..."`), sizes as integer bytes. Changing a field's meaning or removing
//! one requires bumping [`SCHEMA`]; adding fields does not.

use serde::{Serialize, Serializer};

/// The JSON schema version.
pub const SCHEMA: u32 = 1;

/// An object id, written as `0x...`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Id(pub u64);

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{:x}", self.0))
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// What was read.
#[derive(Clone, Debug, Serialize)]
pub struct DumpInfo {
    /// Path as given.
    pub path: String,
    /// Format name from the header.
    pub format: String,
    /// Identifier size in bytes.
    pub id_size: u32,
    /// Bytes of HPROF data (after inflation for gzip input).
    pub bytes: u64,
    /// True if the file was gzip-compressed.
    pub gzip: bool,
    /// Heap-dump records in the file.
    pub heap_segments: u64,
    /// Object model used for shallow sizes.
    pub object_model: String,
    /// The heap dump analysed, from 1 (0 if the file has none).
    pub selected_dump: u64,
    /// Every heap dump in the file (several when a file was appended to).
    pub dumps: Vec<DumpEntry>,
    /// Estimated peak anonymous memory of the analysis, in bytes.
    pub memory_estimate: u64,
}

/// One heap dump of a file.
#[derive(Clone, Debug, Serialize)]
pub struct DumpEntry {
    /// Its number, from 1, as `--dump` takes it.
    pub index: u64,
    /// File offset of its first heap-dump record.
    pub offset: u64,
    /// Bytes of its heap-dump records.
    pub bytes: u64,
    /// Its heap-dump records (HEAP_DUMP or HEAP_DUMP_SEGMENT).
    pub segments: u64,
}

/// Whole-heap totals.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Objects (instances, arrays, class objects).
    pub objects: u64,
    /// Classes.
    pub classes: u64,
    /// Distinct GC-root objects.
    pub gc_roots: u64,
    /// Shallow bytes of all objects.
    pub heap_bytes: u64,
    /// Bytes reachable from GC roots.
    pub reachable_bytes: u64,
    /// Objects not reachable.
    pub unreachable_objects: u64,
    /// Their bytes.
    pub unreachable_bytes: u64,
    /// References to ids missing from the dump.
    pub dangling_references: u64,
}

/// A run of consecutive dominators of the same class, nearest first.
#[derive(Clone, Debug, Serialize)]
pub struct DominatorRun {
    /// The nearest dominator of the run.
    pub id: Id,
    /// Its class (`class Foo` for class objects).
    pub class: String,
    /// How many consecutive dominators of this class.
    pub count: u64,
}

/// One of the top retainers.
#[derive(Clone, Debug, Serialize)]
pub struct TopObject {
    /// Object id.
    pub id: Id,
    /// Class (`class Foo` for class objects).
    pub class: String,
    /// Shallow bytes.
    pub shallow: u64,
    /// Retained bytes.
    pub retained: u64,
    /// Its dominators up to the GC roots, nearest first, runs of one class folded.
    pub dominators: Vec<DominatorRun>,
    /// Why the outermost dominator (or the object itself) is alive.
    pub gc_root: Option<String>,
}

/// One histogram row.
#[derive(Clone, Debug, Serialize)]
pub struct HistogramRow {
    /// Class name.
    pub class: String,
    /// Instances.
    pub instances: u64,
    /// Shallow bytes.
    pub shallow: u64,
    /// Bytes retained by the instances together.
    pub retained: u64,
}

/// `analyze`: everything at once.
#[derive(Clone, Debug, Serialize)]
pub struct AnalyzeReport {
    /// Schema version.
    pub schema: u32,
    /// The dump.
    pub dump: DumpInfo,
    /// What the rules found, most severe first.
    pub findings: Vec<FindingReport>,
    /// Totals.
    pub summary: Summary,
    /// Top retainers.
    pub top: Vec<TopObject>,
    /// Histogram head, by retained size.
    pub histogram: Vec<HistogramRow>,
    /// Problems found in the dump that did not stop the analysis.
    pub warnings: Vec<String>,
}

/// `top`.
#[derive(Clone, Debug, Serialize)]
pub struct TopReport {
    /// Schema version.
    pub schema: u32,
    /// Bytes reachable from GC roots (the denominator of shares).
    pub reachable_bytes: u64,
    /// Top retainers.
    pub top: Vec<TopObject>,
}

/// `histogram`.
#[derive(Clone, Debug, Serialize)]
pub struct HistogramReport {
    /// Schema version.
    pub schema: u32,
    /// Bytes reachable from GC roots.
    pub reachable_bytes: u64,
    /// Rows, sorted as asked.
    pub histogram: Vec<HistogramRow>,
}

/// One hop of a path.
#[derive(Clone, Debug, Serialize)]
pub struct PathHop {
    /// Object id.
    pub id: Id,
    /// Class.
    pub class: String,
    /// How the previous hop refers to this one; for the first hop, why it is a GC root.
    pub via: String,
    /// Shallow bytes.
    pub shallow: u64,
    /// Retained bytes.
    pub retained: u64,
}

/// `path`.
#[derive(Clone, Debug, Serialize)]
pub struct PathReport {
    /// Schema version.
    pub schema: u32,
    /// The object asked about.
    pub target: Id,
    /// Whether weak, soft and phantom referents were followed.
    pub include_weak: bool,
    /// Hops from the GC root to the target; empty if it is unreachable.
    pub path: Vec<PathHop>,
}

/// A field and its value in `inspect`.
#[derive(Clone, Debug, Serialize)]
pub struct FieldValue {
    /// Field name (`[i]` for array elements).
    pub name: String,
    /// Java type.
    #[serde(rename = "type")]
    pub ty: String,
    /// The value, as text: numbers, `null`, `0x... (Class)`, or a quoted string.
    pub value: String,
}

/// A referrer in `inspect`.
#[derive(Clone, Debug, Serialize)]
pub struct Referrer {
    /// Object id.
    pub id: Id,
    /// Class.
    pub class: String,
    /// The field or index through which it refers.
    pub via: String,
}

/// `inspect`.
#[derive(Clone, Debug, Serialize)]
pub struct InspectReport {
    /// Schema version.
    pub schema: u32,
    /// Object id.
    pub id: Id,
    /// Class.
    pub class: String,
    /// `instance`, `object array`, `primitive array` or `class`.
    pub kind: String,
    /// Shallow bytes.
    pub shallow: u64,
    /// Retained bytes.
    pub retained: u64,
    /// Its immediate dominator, if any.
    pub dominator: Option<DominatorRun>,
    /// Why it is a GC root, if it is one.
    pub gc_root: Option<String>,
    /// The string it holds, for java.lang.String.
    pub string: Option<String>,
    /// Array length, for arrays.
    pub length: Option<u64>,
    /// Fields (instances), static fields (classes) or the first elements (arrays).
    pub fields: Vec<FieldValue>,
    /// Objects that refer to it (at most 100).
    pub referrers: Vec<Referrer>,
    /// Total number of referrers.
    pub referrer_count: u64,
}

/// An object a finding names.
#[derive(Clone, Debug, Serialize)]
pub struct FindingObject {
    /// Object id.
    pub id: Id,
    /// Class (`class Foo` for class objects).
    pub class: String,
}

/// What a rule found.
#[derive(Clone, Debug, Serialize)]
pub struct FindingReport {
    /// Rule id (`zookeeper.watch-table-bloat`, or `budget`).
    pub rule: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// One line with the numbers.
    pub title: String,
    /// The objects involved, the main one first.
    pub objects: Vec<FindingObject>,
    /// Bytes they retain together.
    pub retained: u64,
    /// That as a share of the reachable heap (0..1).
    pub heap_share: f64,
    /// The numbers that prove it, in the rule's order.
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// Shortest path from a GC root to the main object.
    pub path: Vec<PathHop>,
    /// What to do.
    pub advice: String,
}

/// `check`: the CI gate.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// Schema version.
    pub schema: u32,
    /// The dump.
    pub dump: String,
    /// Bytes reachable from GC roots.
    pub reachable_bytes: u64,
    /// The level at or above which a finding fails the check.
    pub fail_on: String,
    /// True if some finding is at or above `fail_on` (the exit code is then 1).
    pub failed: bool,
    /// Findings, most severe and biggest first.
    pub findings: Vec<FindingReport>,
}

/// One tunable threshold of a rule.
#[derive(Clone, Debug, Serialize)]
pub struct ThresholdInfo {
    /// Name in the config file.
    pub name: String,
    /// Default value.
    pub default: f64,
    /// Meaning.
    pub help: String,
}

/// One rule for `rules`.
#[derive(Clone, Debug, Serialize)]
pub struct RuleInfo {
    /// Rule id.
    pub id: String,
    /// Pack.
    pub pack: String,
    /// One line.
    pub description: String,
    /// Thresholds with defaults.
    pub thresholds: Vec<ThresholdInfo>,
}

/// `rules`.
#[derive(Clone, Debug, Serialize)]
pub struct RulesReport {
    /// Schema version.
    pub schema: u32,
    /// Every rule.
    pub rules: Vec<RuleInfo>,
}
