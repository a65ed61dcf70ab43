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
        ..IndexOptions::default()
    };
    HeapIndex::build(data, &opts, &NoProgress)
}

fn salvaged(data: &[u8]) -> HeapIndex<'_> {
    let opts = IndexOptions {
        model: None,
        salvage: true,
        ..IndexOptions::default()
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

/// Found by the corruption suite once instance counts were checked like array lengths:
/// in a dump cut inside its last heap segment, the cut instance or array was reported as a
/// corrupt length; in a body the file ends inside, it is the truncation.
#[test]
fn a_sub_record_cut_by_the_end_of_the_file_is_truncated_not_corrupt() {
    for (what, cut_back) in [("INSTANCE_DUMP", 60), ("PRIM_ARRAY_DUMP", 5)] {
        let mut world = World::new(8, 1);
        let node = world.node;
        let mut h = Heap::new(8);
        h.root(0x1000);
        h.instance(0x1000, node, &[0x1010]);
        h.byte_array(0x1010, &[1; 40]);
        h.instance(0x1020, node, &[0]);
        h.byte_array(0x1030, &[2; 40]);
        world.w.segment(&h);
        // Cut inside the last instance (its 8 field bytes) or the last array's elements.
        let data = &world.w.buf[..world.w.buf.len() - cut_back];
        let s = salvaged(data);
        let (_, why) = s.diagnostics.salvaged.clone().expect("salvaged");
        assert!(
            why.starts_with(&format!("truncated {what}")),
            "{what}: {why}"
        );
        // A complete record whose count runs past it is still a corrupt length.
        let mut whole = world.w.buf.clone();
        whole.extend_from_slice(&[0x2C, 0, 0, 0, 0, 0, 0, 0, 0]);
        let at = whole.len() - 9 - 40 - 1 - 4;
        whole[at..at + 4].copy_from_slice(&41u32.to_be_bytes());
        let e = strict(&whole).err().expect("corrupt");
        assert_eq!(e.kind, ErrorKind::BadLength, "{e}");
    }
}

/// Found by the `parse` and `analyze` fuzz targets: a class whose superclass is missing
/// stood in for it with one 8-byte field per 8 bytes its class dump declared beyond its own
/// fields, so a corrupt instance size of 4 GB became a 2 GB allocation (per class).
#[test]
fn a_missing_superclass_with_a_huge_declared_size_allocates_nothing_of_that_size() {
    let mut w = HprofWriter::new(8);
    let mut h = Heap::new(8);
    let classes = 200u64;
    for k in 0..classes {
        let id = 0x10_0000 + k * 0x100;
        w.load_class(id, &format!("C{k}"));
        let at = h.buf.len();
        // The superclass 0x9999 is in no class dump.
        h.class(id, 0x9999, &[], &[]);
        // Tag, id, stack serial, super, loader, signers, domain, two reserved: then the size.
        let size_at = at + 1 + 8 + 4 + 8 * 6;
        h.buf[size_at..size_at + 4].copy_from_slice(&0xF000_0000u32.to_be_bytes());
        h.root_class(id);
    }
    w.segment(&h);
    w.end();
    let index = strict(&w.buf).expect("a missing superclass is not fatal");
    assert_eq!(index.diagnostics.missing_super_classes, classes);
    let biggest = index.classes.list.iter().map(|c| c.instance_size).max();
    assert!(biggest.is_some_and(|s| s <= (1 << 20) + 64), "{biggest:?}");
}
