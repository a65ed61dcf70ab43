//! Bugs found by the fuzzer (`fuzz/`) and the corruption suite, each reproduced from the
//! bytes that showed it.

mod support;

use heapsleuth::error::ErrorKind;
use heapsleuth::index::{HeapIndex, IndexOptions};
use heapsleuth::progress::NoProgress;
use support::*;

fn strict(data: &[u8]) -> heapsleuth::error::Result<HeapIndex<'_>> {
    let opts = IndexOptions {
        model: None,
        salvage: false,
    };
    HeapIndex::build(data, &opts, &NoProgress)
}

fn salvaged(data: &[u8]) -> HeapIndex<'_> {
    let opts = IndexOptions {
        model: None,
        salvage: true,
    };
    HeapIndex::build(data, &opts, &NoProgress).expect("salvage reads what it can")
}

/// The chunking walk reported an instance whose field byte count runs past its record as
/// a truncation at the field values, while the full parse calls it a bad length at the
/// count: one corrupt count, two different errors depending on the pass.
#[test]
fn an_instance_field_count_past_its_record_is_a_bad_length_at_the_count() {
    let mut world = World::new(8, 1);
    let node = world.node;
    let mut h = Heap::new(8);
    h.root(0x1000);
    h.instance(0x1000, node, &[0]);
    let count_at = h.buf.len() - 8 - 4;
    h.buf[count_at..count_at + 4].copy_from_slice(&9u32.to_be_bytes());
    world.w.segment(&h);
    world.w.end();
    let data = world.w.buf;
    let count_at = (data.len() - 9 - 8 - 4) as u64;
    let e = strict(&data).err().expect("a corrupt count is an error");
    assert_eq!(e.kind, ErrorKind::BadLength, "{e}");
    assert_eq!(e.offset, Some(count_at), "{e}");
    assert_eq!(e.record.map(|r| r.0), Some("INSTANCE_DUMP"), "{e}");
    let s = salvaged(&data);
    assert_eq!(s.diagnostics.salvaged.as_ref().map(|s| s.0), Some(count_at));
}

/// Found by the `analyze` fuzz target: with the lowest object id 0 and a dense id range,
/// looking up a reference to 0xFFFF_FFFF_FFFF_FFFF overflowed the id map's bucket index
/// (a panic with overflow checks, an out-of-bounds index without).
#[test]
fn a_reference_to_the_largest_id_is_dangling_not_a_panic() {
    let mut w = HprofWriter::new(8);
    let mut h = Heap::new(8);
    h.root(0);
    h.obj_array(0, 0x200, &[u64::MAX, 1]);
    w.segment(&h);
    w.end();
    let a = Analysed::new(&w.buf);
    assert_eq!(a.index.objects.len(), 1);
    assert_eq!(a.index.node(u64::MAX), None);
    // Both elements and the undefined array class.
    assert_eq!(a.graph.dangling, 3);
}
