//! `suspect.class-accumulation`: the instances of one class together retaining a large
//! share of the heap: MAT's "N instances of X occupy N bytes". JDK classes (`java.`,
//! `javax.`, `jdk.`, `sun.`, `com.sun.`) and arrays are left out: they hold every heap's
//! data, and the application class that owns them is the suspect. Reads the class
//! histogram (retained bytes per class, each byte once).

use super::{accumulation_point, name};
use crate::rules::{mb, percent, share, Finding, Rule, RuleConfig, RuleInfo, Severity, Threshold};
use crate::view::HeapView;

/// The rule.
pub struct ClassAccumulation;

const THRESHOLDS: &[Threshold] = &[
    Threshold {
        name: "min_share",
        default: 0.10,
        help: "share of the reachable heap the instances of one class retain together before they are a suspect (info)",
    },
    Threshold {
        name: "min_instances",
        default: 2.0,
        help: "instances of the class (one instance is a dominant object)",
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
];

const ADVICE: &str = "Many instances of one class together keep this share of the heap alive. Find who creates them and who keeps them (the GC-root path of the biggest instance, and `heapsleuth histogram --grep` for the class): an unbounded cache or queue, listeners or sessions never removed, or a backlog nobody consumes. Bound the collection that holds them or remove entries when their owner goes away.";

const SKIP: [&str; 5] = ["java.", "javax.", "jdk.", "sun.", "com.sun."];

const INFO: RuleInfo = RuleInfo {
    id: "suspect.class-accumulation",
    pack: "suspect",
    description: "the instances of one (non-JDK) class together retaining a large share of the heap (MAT-style leak suspect)",
    thresholds: THRESHOLDS,
};

impl Rule for ClassAccumulation {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, view: &HeapView<'_>, cfg: &RuleConfig) -> Vec<Finding> {
        let rows = view.class_histogram();
        let mut out = Vec::new();
        for r in rows {
            let class = &view.index.classes.get(r.class).name;
            if class.ends_with(']') || SKIP.iter().any(|p| class.starts_with(p)) {
                continue;
            }
            let s = share(view, r.retained);
            if s < cfg.get("min_share") || r.instances < cfg.count("min_instances").max(1) {
                continue;
            }
            let inst = view.biggest(view.instances_of(r.class, false), 10);
            let Some(&biggest) = inst.first() else {
                continue;
            };
            let acc = accumulation_point(view, biggest, 0.8);
            let severity =
                Severity::for_share(s, cfg.get("warning_share"), cfg.get("critical_share"));
            let mut f = Finding::new(
                self.id(),
                severity,
                format!(
                    "{} instances of {class} retain {} ({} of the heap); the biggest retains {}",
                    r.instances,
                    mb(r.retained),
                    percent(s),
                    mb(view.retained(biggest))
                ),
                ADVICE,
            );
            f.metric("class", class.as_str());
            f.metric("instances", r.instances);
            f.set_retained(r.retained, s);
            f.metric("biggest_retained_bytes", view.retained(biggest));
            f.metric("accumulation_point", format!("0x{:x}", view.id(acc)));
            f.metric("accumulation_class", name(view, acc));
            f.objects = inst;
            out.push(f);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_absent_no_finding() {
        // tiny's heap is JDK classes and small application objects.
        crate::rules::testing::absent_on_tiny(&ClassAccumulation);
    }
}
