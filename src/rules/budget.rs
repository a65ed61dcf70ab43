//! Budgets from the config file: limits on the instances of one class (and its
//! subclasses), checked without code. Findings have rule id `budget`.

use super::config::Budget;
use super::{mb, percent, share, Finding, Severity};
use crate::view::HeapView;

/// The rule id of budget findings.
pub const ID: &str = "budget";

/// One finding per exceeded budget.
pub fn check(view: &HeapView<'_>, budgets: &[Budget]) -> Vec<Finding> {
    budgets.iter().filter_map(|b| check_one(view, b)).collect()
}

fn check_one(view: &HeapView<'_>, b: &Budget) -> Option<Finding> {
    if view.classes_named(&b.class).is_empty() {
        // Not loaded, or a typo: say so without failing the check.
        let mut f = Finding::new(
            ID,
            Severity::Info,
            format!("budget {:?}: class {} is not in this dump", b.name, b.class),
            "The class of this budget is not loaded in this JVM: check its spelling (a Java name such as com.example.Outer$Inner or byte[]).",
        );
        f.metric("class", b.class.as_str());
        return Some(f);
    }
    let instances = view.instances_named(&b.class, b.include_subclasses);
    let count = instances.len() as u64;
    let retained = view.retained_together(&instances);
    let heap_share = share(view, retained);
    let mut broken = Vec::new();
    if let Some(max) = b.max_instances {
        if count > max {
            broken.push(format!("{count} instances > {max}"));
        }
    }
    if let Some(max) = b.max_retained_bytes {
        if retained > max {
            broken.push(format!("retain {} > {}", mb(retained), mb(max)));
        }
    }
    if let Some(max) = b.max_retained_share {
        if heap_share > max {
            broken.push(format!(
                "retain {} of the heap > {}",
                percent(heap_share),
                percent(max)
            ));
        }
    }
    if broken.is_empty() {
        return None;
    }
    let sub = if b.include_subclasses {
        " (with subclasses)"
    } else {
        ""
    };
    let mut f = Finding::new(
        ID,
        b.severity,
        format!(
            "budget {:?}: {}{sub}: {}",
            b.name,
            b.class,
            broken.join(", ")
        ),
        "A budget of the check configuration is exceeded: find out why these instances grew (see the path and `heapsleuth histogram --grep`), then fix the growth or raise the budget in the configuration file if the new size is intended.",
    );
    // The biggest instances first: the path leads to the one retaining the most.
    f.objects = view.biggest(instances, 20);
    f.metric("class", b.class.as_str());
    f.metric("instances", count);
    f.set_retained(retained, heap_share);
    if let Some(m) = b.max_instances {
        f.metric("max_instances", m);
    }
    if let Some(m) = b.max_retained_bytes {
        f.metric("max_retained_bytes", m);
    }
    if let Some(m) = b.max_retained_share {
        f.metric("max_retained_share", m);
    }
    Some(f)
}
