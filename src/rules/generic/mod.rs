//! Generic leak suspects in the style of Eclipse MAT's leak-suspects report: one object,
//! or the instances of one class together, retaining a large share of the heap, with the
//! accumulation point below them. They know no library: they point at where to look.

pub mod class_accumulation;
pub mod dominant_object;

use crate::view::HeapView;

/// Follows the dominator tree down from `v` to the biggest child while that child keeps at
/// least `keep` of its parent's retained bytes; stops at a run of one class (a linked
/// list's nodes dominate each other: its first node is the accumulation point).
pub fn accumulation_point(view: &HeapView<'_>, v: u32, keep: f64) -> u32 {
    let mut cur = v;
    for _ in 0..10_000 {
        let Some(&child) = view
            .tree
            .successors(cur)
            .iter()
            .max_by_key(|&&c| view.retained(c))
        else {
            break;
        };
        if (view.retained(child) as f64) < keep * view.retained(cur) as f64 {
            break;
        }
        if cur != v && view.class(child).name == view.class(cur).name {
            break;
        }
        cur = child;
    }
    cur
}

/// The class name of a node for titles (`class Foo` for class objects).
pub fn name(view: &HeapView<'_>, v: u32) -> String {
    view.display_class(v)
}
