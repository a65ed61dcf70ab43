//! The whole analysis on small inputs: index, graph, dominators, view, the default rules and
//! the report builders, as `heapsleuth analyze --salvage` runs them.
#![no_main]

use heapsleuth::analysis::Analysis;
use heapsleuth::index::{HeapIndex, IndexOptions};
use heapsleuth::progress::NoProgress;
use heapsleuth::report::build as rb;
use heapsleuth::rules::{self, config::CheckConfig};
use heapsleuth::view::HeapView;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Larger inputs only slow the search down; the parse target covers them.
    if data.len() > 64 << 10 {
        return;
    }
    let opts = IndexOptions {
        model: None,
        salvage: true,
        ..IndexOptions::default()
    };
    let Ok(index) = HeapIndex::build(data, &opts, &NoProgress) else {
        return;
    };
    let Ok(analysis) = Analysis::run(&index, &NoProgress) else {
        return;
    };
    let view = HeapView::new(&index, &analysis);
    let findings = rules::run(&view, &CheckConfig::default());
    for f in &findings {
        let _ = rb::finding(&view, f);
    }
    let _ = rb::summary(&view);
    let _ = rb::warnings(&view);
    let _ = rb::top_objects(&view, 20);
    let h = view.class_histogram();
    let _ = rb::histogram_rows(&view, h, rb::SortBy::Retained, 20, None);
    // A few objects in detail, as `path` and `inspect` show them.
    let n = view.len() as u32;
    for v in (0..n).step_by((n as usize / 8).max(1)) {
        let _ = rb::path(&view, v, false);
        let _ = rb::inspect(&view, v, 20);
    }
});
