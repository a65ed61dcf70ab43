//! `suspect.dominant-object`: one object retaining a large share of the heap (a top-level
//! node of the dominator tree), with its accumulation point: MAT's "one instance of X
//! occupies N bytes". Reads only the dominator tree and retained sizes.

use super::{accumulation_point, name};
use crate::rules::{mb, percent, share, Finding, Rule, RuleConfig, RuleInfo, Severity, Threshold};
use crate::view::HeapView;

/// The rule.
pub struct DominantObject;

const THRESHOLDS: &[Threshold] = &[
    Threshold {
        name: "min_share",
        default: 0.10,
        help: "share of the reachable heap one object retains before it is a suspect (info)",
    },
    Threshold {
        name: "warning_share",
        default: 0.60,
        help: "share for a warning",
    },
    Threshold {
        name: "critical_share",
        default: 0.90,
        help: "share for critical",
    },
    Threshold {
        name: "accumulation_keep",
        default: 0.80,
        help: "the accumulation point is followed down while the biggest child keeps this share of its parent",
    },
];

const ADVICE: &str = "One object keeps this share of the heap alive. Look at the accumulation point: it is where the memory piles up (usually a collection or a cache). Check whether its size is bounded (a maximum size or an eviction policy), whether entries are removed when their owner goes away (listeners, sessions, connections), and follow the GC-root path to see who holds it; `heapsleuth inspect` and `heapsleuth path` show the objects.";

const INFO: RuleInfo = RuleInfo {
    id: "suspect.dominant-object",
    pack: "suspect",
    description: "one object retaining a large share of the heap, with its accumulation point (MAT-style leak suspect)",
    thresholds: THRESHOLDS,
};

impl Rule for DominantObject {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, view: &HeapView<'_>, cfg: &RuleConfig) -> Vec<Finding> {
        let root = view.graph.root;
        let min = cfg.get("min_share");
        let mut out = Vec::new();
        for &v in view.tree.successors(root) {
            let retained = view.retained(v);
            let s = share(view, retained);
            if s < min || retained == 0 {
                continue;
            }
            let acc = accumulation_point(view, v, cfg.get("accumulation_keep"));
            let severity =
                Severity::for_share(s, cfg.get("warning_share"), cfg.get("critical_share"));
            let at = if acc == v {
                String::new()
            } else {
                format!(
                    "; accumulated in {} 0x{:x} ({})",
                    name(view, acc),
                    view.id(acc),
                    mb(view.retained(acc))
                )
            };
            let mut f = Finding::new(
                self.id(),
                severity,
                format!(
                    "one {} (0x{:x}) retains {} ({} of the heap){at}",
                    name(view, v),
                    view.id(v),
                    mb(retained),
                    percent(s)
                ),
                ADVICE,
            );
            f.metric("class", name(view, v));
            f.set_retained(retained, s);
            f.metric("accumulation_point", format!("0x{:x}", view.id(acc)));
            f.metric("accumulation_class", name(view, acc));
            f.metric("accumulation_retained_bytes", view.retained(acc));
            f.objects = if acc == v { vec![v] } else { vec![v, acc] };
            out.push(f);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_heap_objects_stay_below_warning() {
        let found = crate::rules::testing::with_view("core/tiny.hprof.gz", |v| {
            DominantObject.check(v, &RuleConfig::new(&DominantObject, None))
        });
        assert!(found.iter().all(|f| f.severity == Severity::Info));
    }

    #[test]
    fn a_lower_threshold_finds_more() {
        let (default, low) = crate::rules::testing::with_view("core/tiny.hprof.gz", |v| {
            let low = std::collections::BTreeMap::from([("min_share".to_string(), 0.0001)]);
            (
                DominantObject
                    .check(v, &RuleConfig::new(&DominantObject, None))
                    .len(),
                DominantObject
                    .check(v, &RuleConfig::new(&DominantObject, Some(&low)))
                    .len(),
            )
        });
        assert!(low > default, "{low} <= {default}");
    }
}
