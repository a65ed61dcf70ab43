//! `classloader.stopped-webapp-retained`: a Tomcat web-app class loader whose lifecycle is
//! stopped, destroyed or failed but that something still keeps alive, typically threads
//! the application started and never stopped (INCIDENTS.md, incident 5: the ZooKeeper
//! client's `SendThread` and `EventThread` of a web app that failed to start).
//!
//! Reads `org.apache.catalina.loader.WebappClassLoaderBase.state` (`LifecycleState` enum,
//! Tomcat 8+; Tomcat 7's `started` boolean), the live threads (`java.lang.Thread` GC
//! roots) whose `contextClassLoader` is the loader or whose class it defined, and the
//! CLASS DUMP records whose loader is the loader. Checked on Tomcat 10.1.60.

use crate::rules::{mb, percent, share, Finding, Rule, RuleConfig, RuleInfo, Severity, Threshold};
use crate::view::HeapView;

/// The rule.
pub struct StoppedWebapp;

const LOADER: &str = "org.apache.catalina.loader.WebappClassLoaderBase";

/// Lifecycle states of a loader that should be gone.
const DEAD_STATES: [&str; 5] = ["STOPPING", "STOPPED", "DESTROYING", "DESTROYED", "FAILED"];

const THRESHOLDS: &[Threshold] = &[
    Threshold {
        name: "min_classes",
        default: 1.0,
        help: "classes the stopped loader still has defined before the rule fires",
    },
    Threshold {
        name: "critical_share",
        default: 0.10,
        help: "share of the reachable heap retained by the loader and its classes for critical (otherwise warning)",
    },
];

const ADVICE: &str = "The web application was stopped (or failed to start) but its class loader is still reachable, so every class it loaded and all their static state stay in memory, and the threads it started keep running code of a dead application (the stopped loader refuses to load any further class, so they fail in loops such as a ZooKeeper client reconnecting forever). Stop what the application starts: close clients (ZooKeeper.close(), CuratorFramework.close(), executor shutdown) in ServletContextListener.contextDestroyed, and also on the failure path of initialization (Spring: destroy methods, try/finally around startup); Tomcat's log names the threads (\"appears to have started a thread named [...] but has failed to stop it\"). Until fixed, restart the JVM instead of redeploying.";

/// True if one of the thread's thread-local values (`Thread.threadLocals`, a
/// `ThreadLocal$ThreadLocalMap{table: Entry[]}` of `Entry{value}`) is an instance of a class
/// the loader defined, or the loader itself.
fn thread_local_holds(view: &HeapView<'_>, t: u32, loader: u32) -> bool {
    let loader_id = view.id(loader);
    let Some(table) = view
        .field_ref(t, "threadLocals")
        .and_then(|m| view.field_ref(m, "table"))
    else {
        return false;
    };
    view.array_refs(table)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|id| view.node(id))
        .filter_map(|e| view.field_ref(e, "value"))
        .any(|v| v == loader || view.class(v).dump.loader_id == loader_id)
}

/// The packages of the (non-array) classes, most classes first: `org.apache.zookeeper
/// (39), com.example.scheduler (3)`.
fn packages(view: &HeapView<'_>, classes: &[u32]) -> String {
    let mut count: std::collections::BTreeMap<&str, usize> = Default::default();
    for &c in classes {
        let n = &view.index.classes.get(c).name;
        if n.ends_with(']') {
            continue;
        }
        let pkg = n.rsplit_once('.').map(|(p, _)| p).unwrap_or("");
        *count.entry(pkg).or_default() += 1;
    }
    let mut v: Vec<(&str, usize)> = count.into_iter().collect();
    v.sort_by_key(|&(p, n)| (std::cmp::Reverse(n), p));
    v.iter()
        .map(|(p, n)| format!("{p} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn state(view: &HeapView<'_>, l: u32) -> Option<String> {
    if let Some(s) = view.field_ref(l, "state") {
        return view.enum_name(s);
    }
    match view.bool_field(l, "started") {
        Some(false) => Some("STOPPED".into()),
        Some(true) => Some("STARTED".into()),
        None => None,
    }
}

const INFO: RuleInfo = RuleInfo {
    id: "classloader.stopped-webapp-retained",
    pack: "classloader",
    description: "a stopped, destroyed or failed Tomcat web-app class loader still reachable, with the threads that hold it and the classes it keeps loaded",
    thresholds: THRESHOLDS,
};

impl Rule for StoppedWebapp {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, view: &HeapView<'_>, cfg: &RuleConfig) -> Vec<Finding> {
        let loaders = view.instances_named(LOADER, true);
        if loaders.is_empty() {
            return Vec::new();
        }
        let threads: Vec<u32> = view
            .instances_named("java.lang.Thread", true)
            .into_iter()
            .filter(|&t| view.is_gc_root(t))
            .collect();
        let mut out = Vec::new();
        for l in loaders {
            if !view.dom.is_reachable(l) {
                continue;
            }
            let Some(st) = state(view, l) else { continue };
            if !DEAD_STATES.contains(&st.as_str()) {
                continue;
            }
            let classes = view.classes_defined_by(l);
            if (classes.len() as u64) < cfg.count("min_classes") {
                continue;
            }
            let loader_id = view.id(l);
            let holding: Vec<u32> = threads
                .iter()
                .copied()
                .filter(|&t| {
                    view.field_ref(t, "contextClassLoader") == Some(l)
                        || view.class(t).dump.loader_id == loader_id
                })
                .collect();
            let via_thread_locals = threads
                .iter()
                .filter(|&&t| thread_local_holds(view, t, l))
                .count();
            let names: Vec<String> = holding
                .iter()
                .map(|&t| view.string_field(t, "name").unwrap_or_else(|| "?".into()))
                .collect();
            let mut members = vec![l];
            members.extend(classes.iter().filter_map(|&c| view.class_node(c)));
            let retained = view.retained_together(&members);
            let heap_share = share(view, retained);
            let severity = if heap_share >= cfg.get("critical_share") {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let held_by = if names.is_empty() {
                "no live thread refers to it directly".to_string()
            } else {
                format!(
                    "held by {} live thread{}: {}",
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    names.join(", ")
                )
            };
            let mut f = Finding::new(
                self.id(),
                severity,
                format!(
                    "{} web-app class loader {} is still reachable with {} classes, retaining {} ({} of the heap); {held_by}",
                    st,
                    view.class(l).name,
                    classes.len(),
                    mb(retained),
                    percent(heap_share)
                ),
                ADVICE,
            );
            f.metric("loader_class", view.class(l).name.as_str());
            f.metric("loader_state", st.as_str());
            if let Some(name) = view
                .field_ref(l, "resources")
                .and_then(|r| view.field_ref(r, "context"))
                .and_then(|c| view.string_field(c, "name"))
            {
                f.metric("context", name);
            }
            f.metric("classes", classes.len());
            f.metric("packages", packages(view, &classes));
            f.metric("holding_threads", holding.len());
            f.metric("threads_with_its_thread_locals", via_thread_locals);
            f.metric("thread_names", names.join(", "));
            f.set_retained(retained, heap_share);
            f.objects = std::iter::once(l).chain(holding).collect();
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
        crate::rules::testing::absent_on_tiny(&StoppedWebapp);
    }
}
