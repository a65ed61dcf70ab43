//! Rules: named leaks found in an analysed heap.
//!
//! A rule is one small file that reads the heap through [`HeapView`] (find classes by
//! name, instances, fields, strings, JDK collections) and returns [`Finding`]s: plain data
//! with a stable rule id, a severity, a one-line title with the numbers, the objects
//! involved, what they retain, the metrics that prove it, and advice. Rules are grouped in
//! packs ([`zookeeper`], [`netty`], [`classloader`], [`generic`]); [`all`] lists them and
//! [`run`] runs the enabled ones (in parallel), adds the budgets of the
//! [`config::CheckConfig`], fills in each finding's GC-root path and sorts the findings,
//! most severe and biggest first.
//!
//! A rule whose classes are absent returns nothing. A rule never fails on an unexpected
//! shape (a missing field, a field of another type, a null): it returns nothing or an
//! `info` note; a rule that panics anyway is reported as an `info` note, not a crash.

pub mod budget;
pub mod classloader;
pub mod config;
pub mod generic;
pub mod netty;
pub mod zookeeper;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use rayon::prelude::*;

use crate::view::{HeapView, PathStep};
use config::CheckConfig;

/// How bad a finding is. Ordered: `Info < Warning < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; never fails a check.
    Info,
    /// Fails `check` by default.
    Warning,
    /// The heap is (about to be) lost to this.
    Critical,
}

impl Severity {
    /// `info`, `warning` or `critical`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// Parses a severity name.
    pub fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }

    /// The severity for a share of the heap: `Critical` at or above `critical`, `Warning`
    /// at or above `warning`, else `Info`.
    pub fn for_share(share: f64, warning: f64, critical: f64) -> Severity {
        if share >= critical {
            Severity::Critical
        } else if share >= warning {
            Severity::Warning
        } else {
            Severity::Info
        }
    }
}

/// A metric's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Metric {
    /// A count or a number of bytes.
    Int(i64),
    /// A ratio (a share of the heap, a used/limit ratio).
    Ratio(f64),
    /// Anything else.
    Text(String),
}

impl Metric {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Metric::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl From<i64> for Metric {
    fn from(v: i64) -> Metric {
        Metric::Int(v)
    }
}

impl From<u64> for Metric {
    fn from(v: u64) -> Metric {
        Metric::Int(v.min(i64::MAX as u64) as i64)
    }
}

impl From<usize> for Metric {
    fn from(v: usize) -> Metric {
        Metric::Int(v as i64)
    }
}

impl From<f64> for Metric {
    fn from(v: f64) -> Metric {
        Metric::Ratio(v)
    }
}

impl From<String> for Metric {
    fn from(v: String) -> Metric {
        Metric::Text(v)
    }
}

impl From<&str> for Metric {
    fn from(v: &str) -> Metric {
        Metric::Text(v.to_string())
    }
}

/// What a rule found.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The rule id (`zookeeper.watch-table-bloat`), or `budget`.
    pub rule: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// One line, with the numbers.
    pub title: String,
    /// The objects involved (nodes), the main one first: the GC-root path leads to it.
    pub objects: Vec<u32>,
    /// Bytes they retain (together, each byte once).
    pub retained: u64,
    /// The numbers that prove it, in a stable order.
    pub metrics: Vec<(String, Metric)>,
    /// Shortest GC-root path to the main object (filled in by [`run`] when empty, for the
    /// first [`MAX_PATHS`] findings).
    pub path: Vec<PathStep>,
    /// What to do about it: the fix, the version that fixed it, the setting to change.
    pub advice: String,
}

impl Finding {
    /// A finding without objects, metrics or path.
    pub fn new(rule: &'static str, severity: Severity, title: String, advice: &str) -> Finding {
        Finding {
            rule,
            severity,
            title,
            objects: Vec::new(),
            retained: 0,
            metrics: Vec::new(),
            path: Vec::new(),
            advice: advice.to_string(),
        }
    }

    /// Appends a metric.
    pub fn metric(&mut self, name: impl Into<String>, value: impl Into<Metric>) {
        self.metrics.push((name.into(), value.into()));
    }

    /// Sets the bytes the finding's objects retain, and records them, with their share of
    /// the reachable heap, as the metrics `retained_bytes` and `retained_share`.
    pub fn set_retained(&mut self, bytes: u64, heap_share: f64) {
        self.retained = bytes;
        self.metric("retained_bytes", bytes);
        self.metric("retained_share", heap_share);
    }

    /// The metric called `name`.
    pub fn get(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// A tunable number of a rule: name, default value, meaning.
#[derive(Clone, Copy, Debug)]
pub struct Threshold {
    /// Name as written in the config file.
    pub name: &'static str,
    /// Default value.
    pub default: f64,
    /// What it means, one line.
    pub help: &'static str,
}

/// A rule's thresholds as configured: the defaults with the config file's overrides.
#[derive(Clone, Debug, Default)]
pub struct RuleConfig {
    values: BTreeMap<String, f64>,
}

impl RuleConfig {
    /// The defaults of `rule`, overridden by `overrides`.
    pub fn new(rule: &dyn Rule, overrides: Option<&BTreeMap<String, f64>>) -> RuleConfig {
        let mut values: BTreeMap<String, f64> = rule
            .thresholds()
            .iter()
            .map(|t| (t.name.to_string(), t.default))
            .collect();
        if let Some(o) = overrides {
            for (k, v) in o {
                values.insert(k.clone(), *v);
            }
        }
        RuleConfig { values }
    }

    /// The value of threshold `name` (0 if the rule declares no such threshold).
    pub fn get(&self, name: &str) -> f64 {
        self.values.get(name).copied().unwrap_or(0.0)
    }

    /// The value of threshold `name` as a count.
    pub fn count(&self, name: &str) -> u64 {
        self.get(name).max(0.0) as u64
    }
}

/// A rule.
/// What a rule is, as `heapsleuth rules` lists it.
#[derive(Debug)]
pub struct RuleInfo {
    /// Stable id, `pack.name`: CI configurations name it.
    pub id: &'static str,
    /// The pack (`zookeeper`, `netty`, `classloader`, `suspect`).
    pub pack: &'static str,
    /// One line: what it finds.
    pub description: &'static str,
    /// Its thresholds with their defaults.
    pub thresholds: &'static [Threshold],
}

/// A known-leak recogniser.
pub trait Rule: Send + Sync {
    /// Its id, pack, description and thresholds.
    fn info(&self) -> &'static RuleInfo;
    /// Looks at the heap.
    fn check(&self, view: &HeapView<'_>, cfg: &RuleConfig) -> Vec<Finding>;

    /// Stable id, `pack.name`.
    fn id(&self) -> &'static str {
        self.info().id
    }
    /// The pack.
    fn pack(&self) -> &'static str {
        self.info().pack
    }
    /// One line: what it finds.
    fn description(&self) -> &'static str {
        self.info().description
    }
    /// Its thresholds with their defaults.
    fn thresholds(&self) -> &'static [Threshold] {
        self.info().thresholds
    }
}

/// Every rule, in listing order.
pub fn all() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(zookeeper::watch_table_bloat::WatchTableBloat),
        Box::new(zookeeper::stale_connection_watch::StaleConnectionWatch),
        Box::new(zookeeper::learner_queue_backlog::LearnerQueueBacklog),
        Box::new(netty::direct_memory_leak::DirectMemoryLeak),
        Box::new(classloader::stopped_webapp::StoppedWebapp),
        Box::new(generic::dominant_object::DominantObject),
        Box::new(generic::class_accumulation::ClassAccumulation),
    ]
}

/// A share of the reachable heap (0 for an empty heap).
pub fn share(view: &HeapView<'_>, bytes: u64) -> f64 {
    let total = view.reachable_bytes();
    if total == 0 {
        0.0
    } else {
        bytes as f64 / total as f64
    }
}

pub use crate::units::percent;

/// `21.5 MiB` style sizes for titles.
pub fn mb(bytes: u64) -> String {
    crate::units::bytes(bytes)
}

/// Runs the enabled rules and the budgets of `config`; fills in paths; sorts by severity,
/// then retained bytes, then rule id.
pub fn run(view: &HeapView<'_>, config: &CheckConfig) -> Vec<Finding> {
    let rules = all();
    let mut findings: Vec<Finding> = rules
        .par_iter()
        .filter(|r| config.enabled(r.id()))
        .flat_map_iter(|r| {
            let cfg = RuleConfig::new(r.as_ref(), config.overrides(r.id()));
            match catch_unwind(AssertUnwindSafe(|| r.check(view, &cfg))) {
                Ok(f) => f,
                Err(_) => vec![Finding::new(
                    r.id(),
                    Severity::Info,
                    format!("rule {} could not read this heap's shape", r.id()),
                    "The objects this rule reads have an unexpected shape in this dump (an unsupported library version?); please report it with the library version.",
                )],
            }
        })
        .collect();
    drop_explained_suspects(view, &mut findings);
    findings.extend(budget::check(view, &config.budgets));
    sort(&mut findings);
    // Each path is a search of the whole graph: the first findings get one.
    findings.par_iter_mut().take(MAX_PATHS).for_each(|f| {
        if f.path.is_empty() {
            if let Some(&v) = f.objects.first() {
                f.path = view.path_to(v, false).unwrap_or_default();
            }
        }
    });
    findings
}

/// Findings that get a GC-root path (the most severe and biggest first).
pub const MAX_PATHS: usize = 12;

/// `v` and its dominators up to the GC roots.
fn dominator_chain(view: &HeapView<'_>, v: u32) -> std::collections::HashSet<u32> {
    let mut chain = std::collections::HashSet::new();
    let mut cur = Some(v);
    while let Some(c) = cur {
        if !chain.insert(c) || c == view.graph.root {
            break;
        }
        cur = view.dom.idom(c);
    }
    chain
}

/// Drops generic suspects that a pack rule already explains at warning or above: those
/// whose objects dominate, or are dominated by, the pack finding's main objects (the
/// DataTree above a bloated WatchManager, the QuorumPackets in a dead learner's queue).
fn drop_explained_suspects(view: &HeapView<'_>, findings: &mut Vec<Finding>) {
    let is_suspect = |f: &Finding| f.rule.starts_with("suspect.");
    let specific: Vec<u32> = findings
        .iter()
        .filter(|f| !is_suspect(f) && f.severity >= Severity::Warning)
        .flat_map(|f| f.objects.iter().take(3).copied())
        .collect();
    if specific.is_empty() {
        return;
    }
    let chains: Vec<(u32, std::collections::HashSet<u32>)> = specific
        .iter()
        .map(|&s| (s, dominator_chain(view, s)))
        .collect();
    findings.retain(|f| {
        if !is_suspect(f) {
            return true;
        }
        !f.objects.iter().any(|&o| {
            let up = dominator_chain(view, o);
            chains
                .iter()
                .any(|(s, chain)| chain.contains(&o) || up.contains(s))
        })
    });
}

/// Most severe first, then most retained, then by rule id and title.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.retained.cmp(&a.retained))
            .then(a.rule.cmp(b.rule))
            .then(a.title.cmp(&b.title))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &'static str, severity: Severity, retained: u64) -> Finding {
        let mut f = Finding::new(rule, severity, String::new(), "");
        f.retained = retained;
        f
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
        for s in [Severity::Info, Severity::Warning, Severity::Critical] {
            assert_eq!(Severity::parse(s.name()), Some(s));
        }
        assert_eq!(Severity::parse("fatal"), None);
        assert_eq!(Severity::for_share(0.05, 0.1, 0.5), Severity::Info);
        assert_eq!(Severity::for_share(0.1, 0.1, 0.5), Severity::Warning);
        assert_eq!(Severity::for_share(0.7, 0.1, 0.5), Severity::Critical);
    }

    #[test]
    fn findings_sort_by_severity_then_retained() {
        let mut f = vec![
            finding("a", Severity::Warning, 10),
            finding("b", Severity::Critical, 1),
            finding("c", Severity::Warning, 20),
            finding("d", Severity::Info, 1000),
        ];
        sort(&mut f);
        let order: Vec<&str> = f.iter().map(|f| f.rule).collect();
        assert_eq!(order, ["b", "c", "a", "d"]);
    }

    #[test]
    fn every_rule_has_a_unique_id_in_its_pack_and_thresholds() {
        let rules = all();
        let mut ids: Vec<&str> = rules.iter().map(|r| r.id()).collect();
        for r in &rules {
            assert!(r.id().starts_with(&format!("{}.", r.pack())), "{}", r.id());
            assert!(!r.thresholds().is_empty());
            assert!(!r.description().is_empty());
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), rules.len());
    }

    #[test]
    fn overrides_replace_defaults() {
        let rule = &generic::dominant_object::DominantObject;
        assert_eq!(RuleConfig::new(rule, None).get("min_share"), 0.10);
        let o = BTreeMap::from([("min_share".to_string(), 0.5)]);
        let c = RuleConfig::new(rule, Some(&o));
        assert_eq!(c.get("min_share"), 0.5);
        assert_eq!(c.get("warning_share"), 0.60);
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Analyses fixtures for the rules' unit tests.
    use crate::analysis::Analysis;
    use crate::index::{HeapIndex, IndexOptions};
    use crate::progress::NoProgress;
    use crate::view::HeapView;

    /// Inflates a fixture under fixtures/.
    pub fn fixture(rel: &str) -> Vec<u8> {
        use std::io::Read;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(rel);
        let raw = std::fs::read(&path).expect("fixture exists");
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .expect("fixture inflates");
        out
    }

    /// Runs `f` on the analysed fixture.
    pub fn with_view<T>(rel: &str, f: impl FnOnce(&HeapView<'_>) -> T) -> T {
        let data = fixture(rel);
        let index = HeapIndex::build(
            &data,
            &IndexOptions {
                model: None,
                salvage: false,
                dump: None,
            },
            &NoProgress,
        )
        .expect("indexes");
        let analysis = Analysis::run(&index, &NoProgress).expect("analysis");
        let view = HeapView::new(&index, &analysis);
        f(&view)
    }

    /// Checks `rule` with its defaults on the core fixture `tiny`, which has none of the
    /// classes any rule pack looks for: it must find nothing.
    pub fn absent_on_tiny(rule: &dyn super::Rule) {
        let found = with_view("core/tiny.hprof.gz", |v| {
            rule.check(v, &super::RuleConfig::new(rule, None))
        });
        assert!(found.is_empty(), "{}: {found:?}", rule.id());
    }
}
