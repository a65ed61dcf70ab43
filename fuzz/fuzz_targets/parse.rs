//! `HeapIndex::build` on arbitrary bytes, strict and salvaging: it must return, never panic,
//! and never allocate by a length it has not checked against the input.
#![no_main]

use heapsleuth::index::{HeapIndex, IndexOptions};
use heapsleuth::progress::NoProgress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for salvage in [false, true] {
        let opts = IndexOptions {
            model: None,
            salvage,
        };
        if let Ok(index) = HeapIndex::build(data, &opts, &NoProgress) {
            // Re-reading every indexed sub-record must agree with the index pass.
            for v in 0..index.objects.len() as u32 {
                let _ = index.record(v);
            }
        }
    }
});
