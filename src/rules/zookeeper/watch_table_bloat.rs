//! `zookeeper.watch-table-bloat`: watch tables holding a huge number of watcher-path
//! relations (INCIDENTS.md, incident 3: 200,000 znodes x 5,000 watchers, 100 million
//! relations, ~90% of the heap in `dataWatches` and `childWatches`).
//!
//! Reads every WatchManager of the heap: `org.apache.zookeeper.server.watch.WatchManager`
//! (3.6 - 3.9) and `org.apache.zookeeper.server.WatchManager` (3.4, 3.5), both
//! `watchTable: HashMap<String, HashSet<Watcher>>` and `watch2Paths: HashMap<Watcher,
//! HashSet<String>>`; and `WatchManagerOptimized` (3.6+): `pathWatches:
//! ConcurrentHashMap<String, BitHashSet{elementBits: BitSet, elementCount}>` with
//! `watcherBitIdMap: BitMap{value2Bit, bit2Value}`. Managers are labelled by the
//! `DataTree.dataWatches` / `childWatches` field that holds them. Checked on 3.8.0.

use std::collections::HashMap;

use crate::hprof::heap::Value;
use crate::rules::zookeeper::{watch_managers, watcher_name, Manager};
use crate::rules::{mb, percent, share, Finding, Rule, RuleConfig, RuleInfo, Severity, Threshold};
use crate::view::HeapView;

/// The rule.
pub struct WatchTableBloat;

const THRESHOLDS: &[Threshold] = &[
    Threshold {
        name: "min_relations",
        default: 100_000.0,
        help: "watcher-path relations in all watch managers together before the rule fires",
    },
    Threshold {
        name: "warning_share",
        default: 0.05,
        help: "share of the reachable heap retained by the watch managers for a warning",
    },
    Threshold {
        name: "critical_share",
        default: 0.25,
        help: "share of the reachable heap for critical",
    },
];

const ADVICE: &str = "ZooKeeper keeps one entry per (watcher, path) relation twice (path -> watchers and watcher -> paths), about 2 x 32 bytes plus a path string per relation: clients that watch nearly everything make the server's heap grow with connections x znodes. Reduce the watches per client (watch a parent with getChildren instead of every leaf, use persistent recursive watches from 3.6, drop watches you no longer need), and on 3.6+ switch the server to the bit-set implementation with -Dzookeeper.watchManagerName=org.apache.zookeeper.server.watch.WatchManagerOptimized (it stores a relation in one bit); `echo wchs | nc HOST 2181` shows the watch count per server. Size the heap for the relations that remain.";

/// One manager's numbers.
#[derive(Default)]
struct Stats {
    relations: u64,
    watchers: u64,
    paths: u64,
    heaviest_watcher: Option<(String, u64)>,
    heaviest_path: Option<(String, u64)>,
    /// The heaviest watchers and paths, most relations first (at most [`TOP`]).
    top_watchers: Vec<(String, u64)>,
    top_paths: Vec<(String, u64)>,
}

/// How many heaviest watchers and paths to name.
const TOP: usize = 5;

/// Keeps the `TOP` biggest counts (node, count), ties in node order.
fn top(mut all: Vec<(u32, u64)>) -> Vec<(u32, u64)> {
    all.sort_by_key(|&(v, n)| (std::cmp::Reverse(n), v));
    all.truncate(TOP);
    all
}

fn list(items: &[(String, u64)]) -> String {
    items
        .iter()
        .map(|(name, n)| format!("{name} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plain_stats(view: &HeapView<'_>, m: &Manager) -> Option<Stats> {
    let table = view.map_entries(view.field_ref(m.node, "watchTable")?)?;
    let w2p = view.map_entries(view.field_ref(m.node, "watch2Paths")?)?;
    let mut s = Stats {
        paths: table.len() as u64,
        watchers: w2p.len() as u64,
        ..Stats::default()
    };
    let mut paths = Vec::new();
    for (k, v) in table {
        let n = v.and_then(|v| view.collection_size(v)).unwrap_or(0).max(0) as u64;
        s.relations += n;
        if let Some(k) = k {
            paths.push((k, n));
        }
    }
    let mut watchers = Vec::new();
    for (k, v) in w2p {
        let n = v.and_then(|v| view.collection_size(v)).unwrap_or(0).max(0) as u64;
        if let Some(k) = k {
            watchers.push((k, n));
        }
    }
    s.top_paths = top(paths)
        .into_iter()
        .map(|(k, n)| (view.string(k).unwrap_or_default(), n))
        .collect();
    s.top_watchers = top(watchers)
        .into_iter()
        .map(|(k, n)| (watcher_name(view, k), n))
        .collect();
    s.heaviest_watcher = s.top_watchers.first().cloned();
    s.heaviest_path = s.top_paths.first().cloned();
    Some(s)
}

/// The set bits of a `java.util.BitSet`.
fn bits(view: &HeapView<'_>, bitset: u32) -> Vec<u32> {
    let Some(words) = view.field_ref(bitset, "words") else {
        return Vec::new();
    };
    let in_use = view
        .int_field(bitset, "wordsInUse")
        .unwrap_or(i64::MAX)
        .max(0) as usize;
    let Some((_, _, vals)) = view.prim_array(words, in_use) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, v) in vals.iter().enumerate() {
        if let Value::Long(w) = *v {
            let mut w = w as u64;
            while w != 0 {
                let b = w.trailing_zeros();
                out.push(i as u32 * 64 + b);
                w &= w - 1;
            }
        }
    }
    out
}

fn optimized_stats(view: &HeapView<'_>, m: &Manager) -> Option<Stats> {
    let table = view.map_entries(view.field_ref(m.node, "pathWatches")?)?;
    let mut s = Stats {
        paths: table.len() as u64,
        ..Stats::default()
    };
    let mut per_bit: HashMap<u32, u64> = HashMap::new();
    let mut paths = Vec::new();
    for (k, v) in table {
        let Some(set) = v else { continue };
        let n = view.collection_size(set).unwrap_or(0).max(0) as u64;
        s.relations += n;
        if let Some(k) = k {
            paths.push((k, n));
        }
        if let Some(bs) = view.field_ref(set, "elementBits") {
            for b in bits(view, bs) {
                *per_bit.entry(b).or_default() += 1;
            }
        }
    }
    s.watchers = per_bit.len() as u64;
    s.top_paths = top(paths)
        .into_iter()
        .map(|(k, n)| (view.string(k).unwrap_or_default(), n))
        .collect();
    // Bits name watchers through watcherBitIdMap.bit2Value (Integer -> Watcher).
    let bit2watcher: HashMap<i64, u32> = view
        .field_ref(m.node, "watcherBitIdMap")
        .and_then(|b| view.field_ref(b, "bit2Value"))
        .and_then(|map| view.map_entries(map))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| Some((view.int_field(k?, "value")?, v?)))
        .collect();
    let name = |bit: u32| {
        bit2watcher
            .get(&(bit as i64))
            .map(|&w| watcher_name(view, w))
            .unwrap_or_else(|| format!("bit {bit}"))
    };
    s.top_watchers = top(per_bit.into_iter().collect())
        .into_iter()
        .map(|(bit, n)| (name(bit), n))
        .collect();
    s.heaviest_watcher = s.top_watchers.first().cloned();
    s.heaviest_path = s.top_paths.first().cloned();
    Some(s)
}

const INFO: RuleInfo = RuleInfo {
    id: "zookeeper.watch-table-bloat",
    pack: "zookeeper",
    description: "ZooKeeper WatchManagers (3.4-3.9, incl. WatchManagerOptimized) whose watch tables hold a huge number of watcher-path relations",
    thresholds: THRESHOLDS,
};

impl Rule for WatchTableBloat {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, view: &HeapView<'_>, cfg: &RuleConfig) -> Vec<Finding> {
        let managers = watch_managers(view);
        if managers.is_empty() {
            return Vec::new();
        }
        let mut total = 0u64;
        let mut retained = 0u64;
        let mut per = Vec::new();
        for m in &managers {
            let stats = if m.optimized {
                optimized_stats(view, m)
            } else {
                plain_stats(view, m)
            };
            if let Some(s) = stats {
                total += s.relations;
                retained += view.retained(m.node);
                per.push((m, s));
            }
        }
        if total < cfg.count("min_relations") || per.is_empty() {
            return Vec::new();
        }
        let heap_share = share(view, retained);
        let severity = Severity::for_share(
            heap_share,
            cfg.get("warning_share"),
            cfg.get("critical_share"),
        );
        let detail: Vec<String> = per
            .iter()
            .map(|(m, s)| format!("{} {}", m.label, s.relations))
            .collect();
        let mut f = Finding::new(
            self.id(),
            severity,
            format!(
                "ZooKeeper watch tables hold {total} watcher-path relations ({}) retaining {} ({} of the heap)",
                detail.join(", "),
                mb(retained),
                percent(heap_share)
            ),
            ADVICE,
        );
        f.metric("relations", total);
        f.set_retained(retained, heap_share);
        for (m, s) in &per {
            let l = &m.label;
            f.metric(format!("{l}.class"), view.class(m.node).name.as_str());
            f.metric(format!("{l}.relations"), s.relations);
            f.metric(format!("{l}.watchers"), s.watchers);
            f.metric(format!("{l}.paths"), s.paths);
            if let Some((w, n)) = &s.heaviest_watcher {
                f.metric(format!("{l}.heaviest_watcher"), w.as_str());
                f.metric(format!("{l}.heaviest_watcher_paths"), *n);
            }
            if let Some((p, n)) = &s.heaviest_path {
                f.metric(format!("{l}.heaviest_path"), p.as_str());
                f.metric(format!("{l}.heaviest_path_watchers"), *n);
            }
            f.metric(format!("{l}.top_watchers"), list(&s.top_watchers));
            f.metric(format!("{l}.top_paths"), list(&s.top_paths));
            f.metric(format!("{l}.retained_bytes"), view.retained(m.node));
        }
        let mut objs: Vec<u32> = per.iter().map(|(m, _)| m.node).collect();
        objs.sort_by_key(|&v| std::cmp::Reverse(view.retained(v)));
        f.objects = objs;
        vec![f]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_absent_no_finding() {
        crate::rules::testing::absent_on_tiny(&WatchTableBloat);
    }
}
