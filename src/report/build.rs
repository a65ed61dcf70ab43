//! Builds report data from an analysed heap.

use regex::Regex;

use crate::analysis::histogram::ClassRow;
use crate::analysis::top::{self, TopEntry};
use crate::hprof::format::BasicType;
use crate::hprof::heap::Value;
use crate::report::model::*;
use crate::view::HeapView;

/// Folds a dominator chain (nearest first) into runs of one class.
pub fn dominator_runs(view: &HeapView<'_>, chain: &[u32]) -> Vec<DominatorRun> {
    let mut runs: Vec<DominatorRun> = Vec::new();
    for &d in chain {
        let class = view.display_class(d);
        match runs.last_mut() {
            Some(r) if r.class == class => r.count += 1,
            _ => runs.push(DominatorRun {
                id: Id(view.id(d)),
                class,
                count: 1,
            }),
        }
    }
    runs
}

/// A top-retainer row.
pub fn top_object(view: &HeapView<'_>, e: &TopEntry) -> TopObject {
    let outermost = e.dominators.last().copied().unwrap_or(e.node);
    TopObject {
        id: Id(view.id(e.node)),
        class: view.display_class(e.node),
        shallow: view.shallow(e.node),
        retained: e.retained,
        dominators: dominator_runs(view, &e.dominators),
        gc_root: Some(
            view.describe_root(outermost)
                .unwrap_or_else(|| "several GC roots".into()),
        ),
    }
}

/// The `n` top retainers.
pub fn top_objects(view: &HeapView<'_>, n: usize) -> Vec<TopObject> {
    let classes = view.index.objects.classes();
    let class_of = |v: u32| classes[v as usize];
    top::top(view.dom, view.tree, view.retained, class_of, n, 0.9)
        .iter()
        .map(|e| top_object(view, e))
        .collect()
}

/// How to order histogram rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    /// By instance count.
    Count,
    /// By shallow bytes.
    Shallow,
    /// By retained bytes.
    Retained,
}

/// Histogram rows, filtered by `grep` on the class name, sorted, cut to `n`.
pub fn histogram_rows(
    view: &HeapView<'_>,
    rows: &[ClassRow],
    sort: SortBy,
    n: usize,
    grep: Option<&Regex>,
) -> Vec<HistogramRow> {
    let mut rows: Vec<HistogramRow> = rows
        .iter()
        .map(|r| HistogramRow {
            class: view.index.classes.get(r.class).name.clone(),
            instances: r.instances,
            shallow: r.shallow,
            retained: r.retained,
        })
        .filter(|r| grep.is_none_or(|g| g.is_match(&r.class)))
        .collect();
    rows.sort_by(|a, b| {
        let key = |r: &HistogramRow| match sort {
            SortBy::Count => r.instances,
            SortBy::Shallow => r.shallow,
            SortBy::Retained => r.retained,
        };
        key(b).cmp(&key(a)).then_with(|| a.class.cmp(&b.class))
    });
    rows.truncate(n);
    rows
}

/// Whole-heap totals for reports.
pub fn summary(view: &HeapView<'_>) -> Summary {
    let s = view.summary();
    Summary {
        objects: s.objects,
        classes: s.classes,
        gc_roots: s.gc_roots,
        heap_bytes: s.heap_bytes,
        reachable_bytes: s.reachable_bytes,
        unreachable_objects: s.unreachable_objects,
        unreachable_bytes: s.unreachable_bytes,
        dangling_references: view.graph.dangling,
    }
}

/// Warnings about the dump itself.
pub fn warnings(view: &HeapView<'_>) -> Vec<String> {
    let d = &view.index.diagnostics;
    let mut w = Vec::new();
    if let Some((at, why)) = &d.salvaged {
        w.push(format!(
            "SALVAGED: the dump is damaged ({why}); analysed the {at} bytes before it, {} bytes were not read",
            d.lost_bytes
        ));
    }
    if let Some((at, declared, len)) = d.wrapped_length {
        w.push(format!(
            "the HEAP_DUMP record at byte {at} declares {declared} bytes, but its 32-bit length \
             had wrapped past 4 GB (old JVMs wrote big heaps so): read as {len} bytes, to where \
             its sub-records end"
        ));
    }
    if d.unterminated {
        w.push(
            "the heap dump has no HEAP_DUMP_END: the JVM may have stopped while writing it, \
             so objects may be missing"
                .to_string(),
        );
    }
    if let Some((at, why)) = &d.damage_after {
        w.push(format!(
            "the file is damaged at byte {at}, after the heap dump analysed ({why})"
        ));
    }
    if d.missing_super_classes > 0 {
        w.push(format!(
            "{} classes have a superclass the dump does not define; the fields it declares \
             are unknown: their bytes count in sizes but are not read as references",
            d.missing_super_classes
        ));
    }
    if d.unknown_records > 0 {
        w.push(format!(
            "{} top-level records with unknown tags were skipped",
            d.unknown_records
        ));
    }
    if d.duplicate_ids > 0 {
        w.push(format!(
            "{} object ids were defined more than once; the first definition was kept",
            d.duplicate_ids
        ));
    }
    if d.unknown_class_instances > 0 {
        w.push(format!(
            "{} objects have a class the dump does not define",
            d.unknown_class_instances
        ));
    }
    if d.layout_mismatches > 0 {
        w.push(format!(
            "{} instances have field data that does not match their class layout",
            d.layout_mismatches
        ));
    }
    if view.graph.dangling > 0 {
        w.push(format!(
            "{} references point to objects that are not in the dump",
            view.graph.dangling
        ));
    }
    if view.graph.dangling_roots > 0 {
        w.push(format!(
            "{} GC roots name objects that are not in the dump",
            view.graph.dangling_roots
        ));
    }
    w
}

/// The path report for `target`.
pub fn path(view: &HeapView<'_>, target: u32, include_weak: bool) -> PathReport {
    let hops = path_hops(
        view,
        &view.path_to(target, include_weak).unwrap_or_default(),
    );
    PathReport {
        schema: SCHEMA,
        target: Id(view.id(target)),
        include_weak,
        path: hops,
    }
}

/// Renders a value for `inspect`.
fn value_text(view: &HeapView<'_>, v: &Value) -> String {
    match *v {
        Value::Object(0) => "null".into(),
        Value::Object(id) => match view.node(id) {
            Some(n) => match view.string(n) {
                Some(s) => format!("0x{id:x} ({}) {}", view.display_class(n), quote(&s)),
                None => format!("0x{id:x} ({})", view.display_class(n)),
            },
            None => format!("0x{id:x} (not in dump)"),
        },
        Value::Boolean(b) => b.to_string(),
        Value::Char(c) => match char::from_u32(c as u32) {
            Some(ch) if !ch.is_control() => format!("'{ch}'"),
            _ => format!("\\u{c:04x}"),
        },
        Value::Float(f) => f.to_string(),
        Value::Double(f) => f.to_string(),
        Value::Byte(b) => b.to_string(),
        Value::Short(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Long(l) => l.to_string(),
    }
}

fn quote(s: &str) -> String {
    const MAX: usize = 200;
    let mut q: String = s.chars().take(MAX).collect();
    if s.chars().count() > MAX {
        q.push('…');
    }
    format!("{q:?}")
}

/// The inspect report for node `v`; `max_elems` caps array elements shown.
pub fn inspect(view: &HeapView<'_>, v: u32, max_elems: usize) -> InspectReport {
    let index = view.index;
    let mut fields = Vec::new();
    let mut length = None;
    let kind;
    if let Some(c) = index.class_of_mirror(v) {
        kind = "class";
        let ci = index.classes.get(c);
        for (s, name) in ci.dump.statics.iter().zip(&ci.static_names) {
            fields.push(FieldValue {
                name: format!("static {name}"),
                ty: s.ty.java_name().into(),
                value: value_text(view, &s.value),
            });
        }
        if let Some(sup) = ci.super_class {
            fields.push(FieldValue {
                name: "<super>".into(),
                ty: "Class".into(),
                value: format!(
                    "0x{:x} (class {})",
                    index.classes.get(sup).id,
                    index.classes.get(sup).name
                ),
            });
        }
    } else if let Some(elems) = view.array_refs(v) {
        kind = "object array";
        length = Some(elems.len() as u64);
        for (i, id) in elems.iter().take(max_elems).enumerate() {
            fields.push(FieldValue {
                name: format!("[{i}]"),
                ty: "Object".into(),
                value: value_text(view, &Value::Object(*id)),
            });
        }
    } else if let Some((ty, len, vals)) = view.prim_array(v, max_elems) {
        kind = "primitive array";
        length = Some(len as u64);
        for (i, val) in vals.iter().enumerate() {
            fields.push(FieldValue {
                name: format!("[{i}]"),
                ty: ty.java_name().into(),
                value: value_text(view, val),
            });
        }
    } else {
        kind = "instance";
        for (name, ty, val) in view.fields(v) {
            fields.push(FieldValue {
                name,
                ty: if ty == BasicType::Object {
                    "Object".into()
                } else {
                    ty.java_name().into()
                },
                value: value_text(view, &val),
            });
        }
    }
    let referrers_all = view.referrers(v);
    let referrers = referrers_all
        .iter()
        .take(100)
        .map(|&u| Referrer {
            id: Id(if u == view.graph.root { 0 } else { view.id(u) }),
            class: view.display_class(u),
            via: crate::graph::build::edge_label(index, view.graph, u, v),
        })
        .collect();
    let dominator = view
        .dom
        .idom(v)
        .filter(|&d| d != view.dom.root())
        .map(|d| DominatorRun {
            id: Id(view.id(d)),
            class: view.display_class(d),
            count: 1,
        });
    InspectReport {
        schema: SCHEMA,
        id: Id(view.id(v)),
        class: view.display_class(v),
        kind: kind.into(),
        shallow: view.shallow(v),
        retained: view.retained(v),
        dominator,
        gc_root: view.describe_root(v),
        string: view.string(v),
        length,
        fields,
        referrers,
        referrer_count: referrers_all.len() as u64,
    }
}

/// A GC-root path as report hops (the first hop says why it is a root).
pub fn path_hops(view: &HeapView<'_>, steps: &[crate::view::PathStep]) -> Vec<PathHop> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| PathHop {
            id: Id(view.id(s.node)),
            class: view.display_class(s.node),
            via: if i == 0 {
                format!(
                    "GC root: {}",
                    view.describe_root(s.node)
                        .unwrap_or_else(|| "unknown".into())
                )
            } else {
                s.via.clone()
            },
            shallow: view.shallow(s.node),
            retained: view.retained(s.node),
        })
        .collect()
}

/// A finding as report data.
pub fn finding(view: &HeapView<'_>, f: &crate::rules::Finding) -> FindingReport {
    use crate::rules::Metric;
    let metrics = f
        .metrics
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Metric::Int(i) => serde_json::Value::from(*i),
                Metric::Ratio(r) => serde_json::Number::from_f64(*r)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null),
                Metric::Text(t) => serde_json::Value::from(t.clone()),
            };
            (k.clone(), v)
        })
        .collect();
    FindingReport {
        rule: f.rule.to_string(),
        severity: f.severity.name().to_string(),
        title: f.title.clone(),
        objects: f
            .objects
            .iter()
            .map(|&v| FindingObject {
                id: Id(view.id(v)),
                class: view.display_class(v),
            })
            .collect(),
        retained: f.retained,
        heap_share: crate::rules::share(view, f.retained),
        metrics,
        path: path_hops(view, &f.path),
        advice: f.advice.clone(),
    }
}

/// Every rule, for `rules`.
pub fn rules_report() -> RulesReport {
    RulesReport {
        schema: SCHEMA,
        rules: crate::rules::all()
            .iter()
            .map(|r| RuleInfo {
                id: r.id().into(),
                pack: r.pack().into(),
                description: r.description().into(),
                thresholds: r
                    .thresholds()
                    .iter()
                    .map(|t| ThresholdInfo {
                        name: t.name.into(),
                        default: t.default,
                        help: t.help.into(),
                    })
                    .collect(),
            })
            .collect(),
    }
}
