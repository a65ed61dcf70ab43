//! Hand-made dumps from the test HPROF writer: shapes whose dominators and sizes are known
//! exactly, every identifier size, many segments, and damaged input.

mod support;

use heapsleuth::index::IndexOptions;
use proptest::prelude::*;
use support::*;

/// Node with `refs` reference fields, in the model the dump's id size implies.
fn node_size(id_size: usize, refs: usize) -> u64 {
    let (header, r) = if id_size == 4 { (8, 4) } else { (12, 4) };
    ((header + r * refs) as u64).div_ceil(8) * 8
}

/// root -> a; a -> b, c; b -> d; c -> d; d -> e (byte[100]); f unreachable.
fn diamond(id_size: usize) -> (Vec<u8>, World) {
    let mut world = World::new(id_size, 2);
    let (node, bytes) = (world.node, world.bytes);
    let mut h = Heap::new(id_size);
    for c in [world.object, world.class, node, bytes] {
        h.root_class(c);
    }
    h.root(0x1000);
    h.instance(0x1000, node, &[0x1010, 0x1020]); // a
    h.instance(0x1010, node, &[0x1030, 0]); // b
    h.instance(0x1020, node, &[0x1030, 0]); // c
    h.instance(0x1030, node, &[0x1040, 0]); // d
    h.byte_array(0x1040, &[7; 100]); // e
    h.instance(0x1050, node, &[0x1000, 0]); // f, unreachable, points into the graph
    world.w.segment(&h);
    world.w.end();
    (world.w.buf.clone(), world)
}

#[test]
fn diamond_dominators_and_retained_sizes_for_both_id_sizes() {
    for id_size in [4, 8] {
        let (data, _) = diamond(id_size);
        let a = Analysed::new(&data);
        let v = a.view();
        let n = |id: u64| v.node(id).unwrap();
        let s = node_size(id_size, 2);
        let e = if id_size == 4 { 112 } else { 120 }; // byte[100]: header 12 or 16, aligned
        assert_eq!(v.shallow(n(0x1000)), s);
        assert_eq!(v.shallow(n(0x1040)), e);
        assert_eq!(
            a.dom.idom(n(0x1030)),
            Some(n(0x1000)),
            "d is dominated by a, not b or c"
        );
        assert_eq!(a.dom.idom(n(0x1010)), Some(n(0x1000)));
        assert_eq!(a.dom.idom(n(0x1040)), Some(n(0x1030)));
        assert_eq!(v.retained(n(0x1030)), s + e);
        assert_eq!(v.retained(n(0x1010)), s);
        assert_eq!(v.retained(n(0x1000)), 4 * s + e);
        assert!(!a.dom.is_reachable(n(0x1050)));
        let sum = v.summary();
        assert_eq!(sum.unreachable_objects, 1);
        assert_eq!(sum.unreachable_bytes, s);
        assert_eq!(sum.heap_bytes, sum.reachable_bytes + s);
        // The path goes through a field, by name.
        let path = v.path_to(n(0x1040), false).unwrap();
        let hops: Vec<_> = path
            .iter()
            .map(|p| (v.id(p.node), p.via.as_str()))
            .collect();
        assert_eq!(
            hops,
            [(0x1000, ""), (0x1010, "f0"), (0x1030, "f0"), (0x1040, "f0")]
        );
    }
}

#[test]
fn many_segments_and_late_class_dumps_give_the_same_answer() {
    let (one, _) = diamond(8);
    // Same objects, one per segment, with the class dumps last.
    let mut w = HprofWriter::new(8);
    for (id, name) in [
        (0x100, "java/lang/Object"),
        (0x110, "java/lang/Class"),
        (0x120, "Node"),
        (0x130, "[B"),
    ] {
        w.load_class(id, name);
    }
    let f0 = w.string("f0");
    let f1 = w.string("f1");
    type Emit = Box<dyn Fn(&mut Heap)>;
    let objs: Vec<Emit> = vec![
        Box::new(|h| h.instance(0x1000, 0x120, &[0x1010, 0x1020])),
        Box::new(|h| h.instance(0x1010, 0x120, &[0x1030, 0])),
        Box::new(|h| h.instance(0x1020, 0x120, &[0x1030, 0])),
        Box::new(|h| h.instance(0x1030, 0x120, &[0x1040, 0])),
        Box::new(|h| h.byte_array(0x1040, &[7; 100])),
        Box::new(|h| h.instance(0x1050, 0x120, &[0x1000, 0])),
        Box::new(|h| h.root(0x1000)),
    ];
    for o in &objs {
        let mut h = Heap::new(8);
        o(&mut h);
        w.segment(&h);
    }
    let mut h = Heap::new(8);
    h.class(0x100, 0, &[], &[]);
    h.class(0x110, 0x100, &[], &[]);
    h.class(0x120, 0x100, &[(f0, OBJECT), (f1, OBJECT)], &[]);
    h.class(0x130, 0x100, &[], &[]);
    for c in [0x100, 0x110, 0x120, 0x130] {
        h.root_class(c);
    }
    w.segment(&h);
    w.end();
    let a = Analysed::new(&one);
    let b = Analysed::new(&w.buf);
    assert_eq!(b.index.diagnostics.heap_segments, 8);
    for id in [0x1000u64, 0x1010, 0x1020, 0x1030, 0x1040, 0x1050] {
        let (va, vb) = (a.view(), b.view());
        let (na, nb) = (va.node(id).unwrap(), vb.node(id).unwrap());
        assert_eq!(va.retained(na), vb.retained(nb), "retained of 0x{id:x}");
        assert_eq!(va.shallow(na), vb.shallow(nb));
        assert_eq!(
            a.dom
                .idom(na)
                .filter(|&d| d != a.graph.root)
                .map(|d| va.id(d)),
            b.dom
                .idom(nb)
                .filter(|&d| d != b.graph.root)
                .map(|d| vb.id(d)),
            "idom of 0x{id:x}"
        );
    }
}

#[test]
fn a_million_long_chain_needs_no_recursion() {
    let n = 1_000_000u64;
    let mut world = World::new(8, 1);
    let node = world.node;
    let mut h = Heap::new(8);
    h.root_class(node);
    h.root(0x10_0000);
    for i in 0..n {
        let id = 0x10_0000 + i * 16;
        let next = if i + 1 < n { id + 16 } else { 0 };
        h.instance(id, node, &[next]);
    }
    world.w.segment(&h);
    let a = Analysed::new(&world.w.buf);
    let v = a.view();
    let head = v.node(0x10_0000).unwrap();
    assert_eq!(v.retained(head), n * 16);
    let mid = v.node(0x10_0000 + 500_000 * 16).unwrap();
    assert_eq!(v.dom.idom(mid), v.node(0x10_0000 + 499_999 * 16));
    assert_eq!(v.retained(mid), 500_000 * 16);
    // The path to the tail walks the whole chain.
    let tail = v.node(0x10_0000 + (n - 1) * 16).unwrap();
    assert_eq!(v.path_to(tail, false).unwrap().len(), n as usize);
}

#[test]
fn dangling_references_are_counted_not_fatal() {
    let mut world = World::new(8, 2);
    let node = world.node;
    let mut h = Heap::new(8);
    h.root_class(node);
    h.root(0x1000);
    h.root(0xdead_0000); // a root that is not in the dump
    h.instance(0x1000, node, &[0x9999_0000, 0x1010]);
    h.instance(0x1010, node, &[0, 0]);
    world.w.segment(&h);
    let a = Analysed::new(&world.w.buf);
    assert_eq!(a.graph.dangling, 1);
    assert_eq!(a.graph.dangling_roots, 1);
    assert_eq!(
        a.view().retained(a.view().node(0x1000).unwrap()),
        2 * node_size(8, 2)
    );
}

#[test]
fn unknown_top_level_records_are_skipped_with_a_warning() {
    let (mut data, _) = diamond(8);
    // Insert an unknown record before the end.
    let mut extra = vec![0x77, 0, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3];
    data.append(&mut extra);
    let a = Analysed::new(&data);
    assert_eq!(a.index.diagnostics.unknown_records, 1);
    let p = temp_file("unknown-record.hprof", &data);
    let (code, out, _) = run(&["analyze", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0);
    assert!(out.contains("unknown tags were skipped"), "{out}");
}

#[test]
fn damaged_dumps_fail_with_offsets_or_salvage() {
    let (data, _) = diamond(8);
    // Cut inside the last segment (before HEAP_DUMP_END's 9 bytes, inside a sub-record).
    let cut = &data[..data.len() - 9 - 10];
    let p = temp_file("cut.hprof", cut);
    let (code, _, err) = run(&["analyze", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cut.hprof"), "names the file: {err}");
    assert!(err.contains("truncated"), "{err}");
    assert!(err.contains("--salvage"), "{err}");
    let (code, out, err) = run(&[
        "analyze",
        p.to_str().unwrap(),
        "--salvage",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("SALVAGED"), "{out}");
    // The salvaged analysis kept the objects before the damaged one.
    let a = Analysed::with(
        cut,
        IndexOptions {
            model: None,
            salvage: true,
        },
    );
    assert!(a.index.node(0x1040).is_some());
    assert!(a.index.node(0x1050).is_none());

    // An unknown sub-record tag names its offset.
    let mut bad = data.clone();
    let pos = find(&bad, &[0x21, 0, 0, 0, 0, 0, 0, 0x10, 0x50]).expect("instance f is there");
    bad[pos] = 0x42;
    let p = temp_file("badtag.hprof", &bad);
    let (code, _, err) = run(&["analyze", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("at byte {pos} ")), "{err}");
    assert!(err.contains("unknown heap-dump sub-record"), "{err}");

    // A huge array length is caught before any allocation.
    let mut bad = data.clone();
    let pos = find(&bad, &[0x23, 0, 0, 0, 0, 0, 0, 0x10, 0x40]).expect("byte[] e is there");
    bad[pos + 13..pos + 17].copy_from_slice(&u32::MAX.to_be_bytes());
    let p = temp_file("hugelen.hprof", &bad);
    let (code, _, err) = run(&["analyze", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("corrupt length"), "{err}");
}

#[test]
fn bad_files_exit_2_with_a_clear_message() {
    let (code, _, err) = run(&["analyze", "/nonexistent/dir/x.hprof"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("/nonexistent/dir/x.hprof") && err.contains("cannot read"),
        "{err}"
    );
    let p = temp_file(
        "notadump.hprof",
        b"PK\x03\x04 this is a zip file, not a heap dump",
    );
    let (code, _, err) = run(&["analyze", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("not an HPROF heap dump"), "{err}");
    let p = temp_file("empty.hprof", b"");
    let (code, _, err) = run(&["analyze", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("empty"), "{err}");
    let (code, _, err) = run(&["analyze"]);
    assert_eq!(code, 2, "usage error: {err}");
    let (code, _, err) = run(&["path", p.to_str().unwrap(), "not-an-id"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid object id"), "{err}");
}

#[test]
fn path_and_inspect_on_objects_that_are_missing_or_present() {
    let (data, _) = diamond(8);
    let p = temp_file("diamond.hprof", &data);
    let p = p.to_str().unwrap();
    let (code, _, err) = run(&["inspect", p, "0x4242"]);
    assert_eq!(code, 2);
    assert!(err.contains("0x4242 is not an object"), "{err}");
    let (code, out, _) = run(&["path", p, "0x1040", "--format", "json"]);
    assert_eq!(code, 0);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = j["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["0x1000", "0x1010", "0x1030", "0x1040"]);
    assert_eq!(j["path"][0]["via"], "GC root: unknown");
    let (code, out, _) = run(&["inspect", p, "0x1030", "--format", "json"]);
    assert_eq!(code, 0);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["class"], "Node");
    assert_eq!(j["referrer_count"], 2);
    assert_eq!(j["fields"][0]["value"], "0x1040 (byte[])");
    assert_eq!(j["dominator"]["id"], "0x1000");
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random object graphs written as dumps, parsed and analysed, agree with petgraph's
    /// dominators computed on the same graph.
    #[test]
    fn random_dumps_agree_with_petgraph(
        n in 1usize..40,
        edges in proptest::collection::vec((0usize..40, 0usize..40), 0..120),
        roots in proptest::collection::vec(0usize..40, 1..4),
        id_size in prop_oneof![Just(4usize), Just(8usize)],
    ) {
        use petgraph::graph::DiGraph;
        let k = 4; // reference fields per node; extra out-edges are dropped
        let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (a, b) in edges {
            let (a, b) = (a % n, b % n);
            if out[a].len() < k {
                out[a].push(b);
            }
        }
        let mut world = World::new(id_size, k);
        let node = world.node;
        let mut h = Heap::new(id_size);
        for c in [world.object, world.class, node, world.bytes] {
            h.root_class(c);
        }
        let id = |i: usize| 0x10_000 + 16 * i as u64;
        for &r in &roots {
            h.root(id(r % n));
        }
        for (i, o) in out.iter().enumerate() {
            let mut refs: Vec<u64> = o.iter().map(|&t| id(t)).collect();
            refs.resize(k, 0);
            h.instance(id(i), node, &refs);
        }
        world.w.segment(&h);
        let a = Analysed::new(&world.w.buf);
        let v = a.view();

        // The oracle graph: virtual root -> roots and the Node class; objects -> targets.
        let mut g = DiGraph::<(), ()>::new();
        let nodes: Vec<_> = (0..n + 2).map(|_| g.add_node(())).collect();
        let (vroot, class) = (nodes[n], nodes[n + 1]);
        g.add_edge(vroot, class, ());
        for &r in &roots {
            g.add_edge(vroot, nodes[r % n], ());
        }
        for (i, o) in out.iter().enumerate() {
            g.add_edge(nodes[i], class, ());
            for &t in o {
                g.add_edge(nodes[i], nodes[t], ());
            }
        }
        let doms = petgraph::algo::dominators::simple_fast(&g, vroot);
        for (i, &oracle_node) in nodes.iter().take(n).enumerate() {
            let ours = v.node(id(i)).unwrap();
            let expected = doms.immediate_dominator(oracle_node).map(|d| {
                if d == vroot { None } else { Some(id(d.index())) }
            });
            let got = if a.dom.is_reachable(ours) {
                Some(a.dom.idom(ours).filter(|&d| d != a.graph.root).map(|d| v.id(d)))
            } else {
                None
            };
            prop_assert_eq!(got, expected, "object {}", i);
        }
    }
}

#[test]
fn old_single_record_dumps_and_android_sub_records_are_read() {
    // JAVA PROFILE 1.0.1: one HEAP_DUMP record holding everything.
    let (seg, _) = diamond(4);
    let header_len = "JAVA PROFILE 1.0.2\0".len() + 12;
    let mut old = HprofWriter::with_version(4, "1.0.1").buf;
    let mut rest = seg[header_len..].to_vec();
    // Turn every HEAP_DUMP_SEGMENT (0x1C) into HEAP_DUMP (0x0C), walking record headers.
    let mut pos = 0;
    while pos < rest.len() {
        let len = u32::from_be_bytes(rest[pos + 5..pos + 9].try_into().unwrap()) as usize;
        if rest[pos] == 0x1C {
            rest[pos] = 0x0C;
        }
        pos += 9 + len;
    }
    old.extend_from_slice(&rest);
    let a = Analysed::new(&old);
    assert_eq!(a.index.header.version, 1);
    let v = a.view();
    assert_eq!(
        v.retained(v.node(0x1000).unwrap()),
        4 * node_size(4, 2) + 112
    );

    // JAVA PROFILE 1.0.3 (Android): heap-info and extra root sub-records.
    let mut world = World::new(8, 2);
    world.w.buf[..19].copy_from_slice(b"JAVA PROFILE 1.0.3\0");
    let node = world.node;
    let heap_name = world.w.string("app");
    let mut h = Heap::new(8);
    h.buf.push(0xFE); // HEAP_DUMP_INFO
    h.buf.extend_from_slice(&1u32.to_be_bytes());
    h.buf.extend_from_slice(&heap_name.to_be_bytes());
    h.buf.push(0x89); // ROOT_INTERNED_STRING
    h.buf.extend_from_slice(&0x1000u64.to_be_bytes());
    h.buf.push(0x8E); // ROOT_JNI_MONITOR
    h.buf.extend_from_slice(&0x1010u64.to_be_bytes());
    h.buf.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
    for c in [world.object, world.class, node, world.bytes] {
        h.root_class(c);
    }
    h.instance(0x1000, node, &[0, 0]);
    h.instance(0x1010, node, &[0x1000, 0]);
    world.w.segment(&h);
    let a = Analysed::new(&world.w.buf);
    assert_eq!(a.index.header.version, 3);
    assert_eq!(a.view().summary().unreachable_objects, 0);
    assert_eq!(
        a.view()
            .describe_root(a.index.node(0x1000).unwrap())
            .unwrap(),
        "interned string"
    );
}

/// A random class: its superclass (`None` for java.lang.Object, else an earlier random
/// class) and its own field types.
#[derive(Clone, Debug)]
struct RandomClass {
    super_idx: Option<usize>,
    fields: Vec<u8>,
}

fn field_bytes(ty: u8, id_size: usize) -> usize {
    match ty {
        OBJECT => id_size,
        BOOLEAN | BYTE => 1,
        INT => 4,
        _ => 8,
    }
}

fn push_id(buf: &mut Vec<u8>, id_size: usize, id: u64) {
    if id_size == 4 {
        buf.extend_from_slice(&(id as u32).to_be_bytes());
    } else {
        buf.extend_from_slice(&id.to_be_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random class hierarchies with mixed primitive and reference fields, instances,
    /// object and byte arrays, dangling references, both id sizes: the index holds every
    /// object with its class, and each object's references are exactly the ones written.
    #[test]
    fn random_layouts_and_arrays_index_what_was_written(
        id_size in prop_oneof![Just(4usize), Just(8usize)],
        class_specs in proptest::collection::vec(
            (any::<prop::sample::Index>(), proptest::collection::vec(
                prop_oneof![Just(OBJECT), Just(BOOLEAN), Just(BYTE), Just(INT), Just(LONG)],
                0..6,
            )),
            1..5,
        ),
        objs in proptest::collection::vec(
            (0u8..4, any::<prop::sample::Index>(), proptest::collection::vec(any::<u16>(), 8)),
            1..40,
        ),
    ) {
        let classes: Vec<RandomClass> = class_specs
            .iter()
            .enumerate()
            .map(|(i, (sup, fields))| RandomClass {
                // An index past the earlier classes means java.lang.Object.
                super_idx: Some(sup.index(i + 1)).filter(|&s| s < i),
                fields: fields.clone(),
            })
            .collect();
        let mut world = World::new(id_size, 0);
        let class_id = |i: usize| 0x200 + 0x10 * i as u64;
        let array_class = 0x180;
        world.w.load_class(array_class, "[Ljava/lang/Object;");
        let mut h = Heap::new(id_size);
        h.class(array_class, world.object, &[], &[]);
        for (i, c) in classes.iter().enumerate() {
            world.w.load_class(class_id(i), &format!("C{i}"));
            let names: Vec<(u64, u8)> = c
                .fields
                .iter()
                .enumerate()
                .map(|(k, &ty)| (world.w.string(&format!("c{i}f{k}")), ty))
                .collect();
            let sup = c.super_idx.map_or(world.object, class_id);
            h.class(class_id(i), sup, &names, &[]);
            h.root_class(class_id(i));
        }
        let n = objs.len();
        let obj_id = |i: usize| 0x10_000 + 0x20 * i as u64;
        // A pick names another object, null (n) or an id no object has (n + 1).
        let target = |p: u16| match p as usize % (n + 2) {
            t if t < n => obj_id(t),
            t if t == n => 0,
            _ => 0xDEAD_0000,
        };
        let mut expected: Vec<(u64, u64, Vec<u64>)> = Vec::new(); // (id, class, refs)
        let mut dangling = 0;
        h.root(obj_id(0));
        for (i, (kind, class, picks)) in objs.iter().enumerate() {
            let id = obj_id(i);
            let mut picks = picks.iter().copied().cycle();
            let mut refs = Vec::new();
            let mut b = Vec::new();
            let cls = match kind {
                0 | 1 => {
                    // Field values: own fields first, then each superclass's.
                    let ci = class.index(classes.len());
                    let mut data = Vec::new();
                    let mut cur = Some(ci);
                    while let Some(c) = cur {
                        for &ty in &classes[c].fields {
                            if ty == OBJECT {
                                let t = target(picks.next().unwrap());
                                push_id(&mut data, id_size, t);
                                refs.push(t);
                            } else {
                                data.extend(std::iter::repeat_n(0xA5, field_bytes(ty, id_size)));
                            }
                        }
                        cur = classes[c].super_idx;
                    }
                    b.push(0x21);
                    push_id(&mut b, id_size, id);
                    b.extend_from_slice(&0u32.to_be_bytes());
                    push_id(&mut b, id_size, class_id(ci));
                    b.extend_from_slice(&(data.len() as u32).to_be_bytes());
                    b.extend_from_slice(&data);
                    class_id(ci)
                }
                2 => {
                    let len = picks.next().unwrap() as usize % 5;
                    let elems: Vec<u64> = (0..len).map(|_| target(picks.next().unwrap())).collect();
                    h.obj_array(id, array_class, &elems);
                    refs = elems;
                    array_class
                }
                _ => {
                    let len = picks.next().unwrap() as usize % 7;
                    h.byte_array(id, &vec![7; len]);
                    world.bytes
                }
            };
            h.buf.extend_from_slice(&b);
            dangling += refs.iter().filter(|&&r| r == 0xDEAD_0000).count() as u64;
            refs.retain(|&r| r != 0 && r != 0xDEAD_0000);
            refs.push(cls);
            refs.sort_unstable();
            refs.dedup();
            expected.push((id, cls, refs));
        }
        world.w.segment(&h);
        world.w.end();
        let a = Analysed::new(&world.w.buf);
        let idx = &a.index;
        // World's four classes, the array class, the random classes, the objects.
        prop_assert_eq!(idx.objects.len(), 5 + classes.len() + n);
        prop_assert_eq!(idx.diagnostics.layout_mismatches, 0);
        prop_assert_eq!(idx.diagnostics.unknown_class_instances, 0);
        prop_assert_eq!(a.graph.dangling, dangling);
        for (id, cls, refs) in &expected {
            let v = idx.node(*id).unwrap();
            prop_assert_eq!(idx.id(v), *id);
            prop_assert_eq!(idx.class_of(v).id, *cls);
            let mut got: Vec<u64> = a.graph.csr.successors(v).iter().map(|&t| idx.id(t)).collect();
            got.sort_unstable();
            got.dedup();
            prop_assert_eq!(&got, refs, "references of 0x{:x}", id);
        }
        for (i, _) in classes.iter().enumerate() {
            let c = idx.classes.by_id(class_id(i)).unwrap();
            let written = expected.iter().filter(|e| e.1 == class_id(i)).count();
            let indexed = (0..idx.objects.len() as u32).filter(|&v| idx.objects.class(v) == c).count();
            prop_assert_eq!(indexed, written, "instances of C{}", i);
        }
    }
}
