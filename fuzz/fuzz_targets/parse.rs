//! `HeapIndex::build` on arbitrary bytes, strict and salvaging: it must return, never panic,
//! and never allocate by a length it has not checked against the input.
#![no_main]

use heapsleuth::index::{HeapIndex, IndexOptions};
use heapsleuth::progress::NoProgress;
use libfuzzer_sys::fuzz_target;

fn build(data: &[u8], salvage: bool) -> heapsleuth::error::Result<HeapIndex<'_>> {
    let opts = IndexOptions {
        model: None,
        salvage,
        ..IndexOptions::default()
    };
    HeapIndex::build(data, &opts, &NoProgress)
}

fuzz_target!(|data: &[u8]| {
    let strict = build(data, false);
    let salvaged = build(data, true);
    if let Err(e) = &strict {
        // Errors about the bytes say where they are.
        assert!(e.offset.is_some() || e.kind == heapsleuth::error::ErrorKind::Resources);
    }
    if let Ok(index) = &salvaged {
        // Every object the index holds was parsed once, so it parses again.
        for v in 0..index.objects.len() as u32 {
            index.record(v).expect("an indexed sub-record re-parses");
        }
    }
    match (&strict, &salvaged) {
        // What reads cleanly, salvage reads the same way.
        (Ok(a), Ok(b)) => {
            assert!(b.diagnostics.salvaged.is_none());
            assert_eq!(a.objects.len(), b.objects.len());
        }
        (Ok(_), Err(e)) => panic!("salvage failed where strict reading did not: {e}"),
        _ => {}
    }
});
