//! Gzip input: `gz::inflate` on arbitrary bytes (plain gzip and the JVM's multi-member
//! format), then indexing what it inflated to.
#![no_main]

use heapsleuth::hprof::gz;
use heapsleuth::index::{HeapIndex, IndexOptions};
use heapsleuth::progress::NoProgress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dump) = gz::inflate(data, &std::env::temp_dir(), &|_| {}) else {
        return;
    };
    let opts = IndexOptions {
        model: None,
        salvage: true,
        ..IndexOptions::default()
    };
    let _ = HeapIndex::build(&dump, &opts, &NoProgress);
});
