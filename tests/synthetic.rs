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
    let out = analyze_salvaged(&p);
    assert!(out.contains("SALVAGED"), "{out}");
    // The salvaged analysis kept the objects before the damaged one.
    let a = Analysed::with(
        cut,
        IndexOptions {
            model: None,
            salvage: true,
            dump: None,
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

/// The class dumps `World::new` writes, for a dump of their own (each heap dump of a file
/// carries its classes).
fn world_classes(world: &World) -> Heap {
    let mut h = Heap::new(world.w.id_size);
    h.class(world.object, 0, &[], &[]);
    h.class(world.class, world.object, &[], &[]);
    let fields: Vec<(u64, u8)> = world.field_names.iter().map(|&n| (n, OBJECT)).collect();
    h.class(world.node, world.object, &fields, &[]);
    h.class(world.bytes, world.object, &[], &[]);
    for c in [world.object, world.class, world.node, world.bytes] {
        h.root_class(c);
    }
    h
}

/// Two heap dumps in one file, as a JVM agent appends them: the first holds a -> b, the
/// second c -> d -> e; the strings and LOAD_CLASS records come once, before the first.
fn two_dumps() -> Vec<u8> {
    let mut world = World::new(8, 2);
    let node = world.node;
    let mut h = Heap::new(8);
    for c in [world.object, world.class, node, world.bytes] {
        h.root_class(c);
    }
    h.root(0x1000);
    h.instance(0x1000, node, &[0x1010, 0]);
    h.instance(0x1010, node, &[0, 0]);
    world.w.segment(&h);
    world.w.end();
    let classes = world_classes(&world);
    world.w.segment(&classes);
    let mut h = Heap::new(8);
    h.root(0x2000);
    h.instance(0x2000, node, &[0x2010, 0]);
    h.instance(0x2010, node, &[0x2020, 0]);
    h.instance(0x2020, node, &[0, 0]);
    world.w.segment(&h);
    world.w.end();
    world.w.buf
}

#[test]
fn several_dumps_in_one_file_analyse_the_one_asked_for() {
    let data = two_dumps();
    let opts = |dump| IndexOptions {
        dump,
        ..IndexOptions::default()
    };
    // The default is the last dump, alone: nothing of the first is merged in.
    let last = Analysed::new(&data);
    let d = &last.index.diagnostics;
    assert_eq!((d.dumps.len(), d.dump), (2, 2));
    assert_eq!(
        d.dumps[0].segments, 2,
        "World's class segment and the objects"
    );
    assert_eq!(d.dumps[1].segments, 2);
    assert!(d.dumps.iter().all(|s| s.terminated));
    assert!(d.dumps[0].end <= d.dumps[1].offset);
    assert!(last.index.node(0x1000).is_none());
    let v = last.view();
    let c = v.node(0x2000).unwrap();
    assert_eq!(
        v.class(c).name,
        "Node",
        "names from before the first dump still apply"
    );
    assert_eq!(v.retained(c), 3 * node_size(8, 2));
    assert_eq!(last.index.diagnostics.duplicate_ids, 0);

    let first = Analysed::with(&data, opts(Some(1)));
    assert_eq!(first.index.diagnostics.dump, 1);
    assert!(first.index.node(0x2000).is_none());
    let v = first.view();
    assert_eq!(v.retained(v.node(0x1000).unwrap()), 2 * node_size(8, 2));
    assert_eq!(
        v.summary().objects,
        2 + 4,
        "two instances and four class objects"
    );

    // Out of range: a clear error saying how many there are.
    let p = temp_file("two-dumps.hprof", &data);
    let p = p.to_str().unwrap();
    let (code, _, err) = run(&["analyze", p, "--dump", "3"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("two-dumps.hprof"), "{err}");
    assert!(err.contains("the file has 2 heap dumps"), "{err}");

    // The report lists the dumps, in JSON and (as there are several) in the text table.
    let (code, out, err) = run(&["analyze", p, "--dump", "1", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["schema"], 1);
    assert_eq!(j["dump"]["selected_dump"], 1);
    let dumps = j["dump"]["dumps"].as_array().unwrap();
    assert_eq!(dumps.len(), 2);
    assert_eq!(dumps[1]["index"], 2);
    assert_eq!(dumps[1]["segments"], 2);
    assert_eq!(dumps[1]["offset"], d.dumps[1].offset);
    assert_eq!(dumps[1]["bytes"], d.dumps[1].bytes);
    assert_eq!(j["summary"]["objects"], 6);
    let (code, out, _) = run(&["analyze", p, "-q"]);
    assert_eq!(code, 0);
    assert!(out.contains("Heap dumps (2)"), "{out}");
    assert!(out.contains("analysed: 2"), "{out}");

    // A single dump's text report does not list dumps.
    let (one, _) = diamond(8);
    let p = temp_file("one-dump.hprof", &one);
    let (_, out, _) = run(&["analyze", p.to_str().unwrap(), "-q"]);
    assert!(!out.contains("Heap dumps"), "{out}");
    let (code, _, err) = run(&["analyze", p.to_str().unwrap(), "--dump", "2"]);
    assert_eq!(code, 2);
    assert!(err.contains("only one heap dump"), "{err}");

    // 1.0.1 files never close a HEAP_DUMP with HEAP_DUMP_END: each record is one dump.
    let mut old = HprofWriter::with_version(8, "1.0.1");
    old.load_class(0x100, "java/lang/Object");
    for first in [0x1000u64, 0x2000] {
        let mut h = Heap::new(8);
        h.class(0x100, 0, &[], &[]);
        h.root(first);
        h.instance(first, 0x100, &[]);
        old.record(0x0C, &h.buf);
    }
    let a = Analysed::new(&old.buf);
    assert_eq!(a.index.diagnostics.dumps.len(), 2);
    assert!(a.index.node(0x2000).is_some() && a.index.node(0x1000).is_none());
    assert!(
        !a.index.diagnostics.unterminated,
        "a HEAP_DUMP needs no end record"
    );
    let a = Analysed::with(&old.buf, opts(Some(1)));
    assert!(a.index.node(0x1000).is_some() && a.index.node(0x2000).is_none());
}

#[test]
fn zero_length_and_short_final_segments() {
    let (data, _) = diamond(8);
    let end_len = 9; // the HEAP_DUMP_END record diamond writes last
    let body = &data[..data.len() - end_len];

    // The JVM died after starting a new segment: an empty final segment and no
    // HEAP_DUMP_END. The dump is read, with a warning that it was not closed.
    let mut empty = body.to_vec();
    empty.extend_from_slice(&[0x1C, 0, 0, 0, 0, 0, 0, 0, 0]);
    let a = Analysed::new(&empty);
    assert!(a.index.diagnostics.unterminated);
    assert_eq!(a.index.diagnostics.heap_segments, 3);
    let v = a.view();
    assert_eq!(
        v.retained(v.node(0x1000).unwrap()),
        4 * node_size(8, 2) + 120
    );
    let p = temp_file("empty-final-segment.hprof", &empty);
    let (code, out, err) = run(&["analyze", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no HEAP_DUMP_END"), "{out}");

    // The JVM died while writing a segment: HotSpot fills in the length last, so the
    // header says 0 and sub-records follow to the end of the file, the last one cut.
    let mut unfinished = body.to_vec();
    let seg_at = unfinished.len();
    unfinished.extend_from_slice(&[0x1C, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut h = Heap::new(8);
    h.root(0x3000);
    h.instance(0x3000, 0x120, &[0x1000, 0]);
    h.instance(0x3010, 0x120, &[0x3000, 0]);
    unfinished.extend_from_slice(&h.buf[..h.buf.len() - 5]);
    let p = temp_file("unfinished-segment.hprof", &unfinished);
    let (code, _, err) = run(&["analyze", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unfinished-segment.hprof"), "{err}");
    assert!(
        err.contains(&format!(
            "truncated HEAP_DUMP_SEGMENT at byte {}",
            unfinished.len()
        )),
        "{err}"
    );
    assert!(err.contains(&format!("record at 0x{seg_at:x}")), "{err}");
    assert!(err.contains("declares 0 bytes"), "{err}");
    assert!(err.contains("--salvage"), "{err}");
    let out = analyze_salvaged(&p);
    assert!(out.contains("SALVAGED"), "{out}");
    let a = Analysed::with(
        &unfinished,
        IndexOptions {
            salvage: true,
            ..IndexOptions::default()
        },
    );
    assert!(
        a.index.node(0x3000).is_some(),
        "complete sub-records are kept"
    );
    assert!(a.index.node(0x3010).is_none(), "the cut one is not");
    let v = a.view();
    assert_eq!(v.retained(v.node(0x3000).unwrap()), node_size(8, 2));
    assert_eq!(v.dom.idom(v.node(0x1000).unwrap()), Some(a.graph.root));

    // A final segment shorter than it declares.
    let mut short = body.to_vec();
    short.extend_from_slice(&[0x1C, 0, 0, 0, 0, 0, 0, 0x10, 0]);
    short.extend_from_slice(&h.buf[..h.buf.len() - 5]);
    let p = temp_file("short-final-segment.hprof", &short);
    let (code, _, err) = run(&["analyze", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the file ends inside this heap-dump record"),
        "{err}"
    );
    let (code, out, _) = run(&["analyze", p.to_str().unwrap(), "--salvage", "-q"]);
    assert_eq!(code, 0);
    assert!(out.contains("SALVAGED"), "{out}");
}

/// The byte offset of the first record with tag `t` after the header.
fn record_offset(data: &[u8], t: u8) -> usize {
    let mut pos = "JAVA PROFILE 1.0.2\0".len() + 12;
    while data[pos] != t {
        pos += 9 + u32::from_be_bytes(data[pos + 5..pos + 9].try_into().unwrap()) as usize;
    }
    pos
}

/// A JDK 6-era dump of over 4 GB in one HEAP_DUMP record whose u4 length wrapped: a byte
/// array of almost 4 GB sits between two objects. The bytes live in zeroed memory that is
/// never touched (the allocator maps it lazily), so only the few pages written are real.
#[cfg(target_pointer_width = "64")]
#[test]
fn a_heap_dump_length_that_wrapped_past_4_gb_is_unwrapped() {
    let mut w = HprofWriter::with_version(8, "1.0.1");
    w.load_class(0x100, "java/lang/Object");
    w.load_class(0x120, "Node");
    w.load_class(0x130, "[B");
    let f0 = w.string("f0");
    let mut head = Heap::new(8);
    head.class(0x100, 0, &[], &[]);
    head.class(0x120, 0x100, &[(f0, OBJECT)], &[]);
    head.class(0x130, 0x100, &[], &[]);
    head.root(0x1000);
    head.instance(0x1000, 0x120, &[0x1010]);
    let big: u32 = 0xFFFF_FFF0;
    // PRIM_ARRAY_DUMP header of a byte[big] whose elements follow.
    head.buf.push(0x23);
    head.buf.extend_from_slice(&0x1008u64.to_be_bytes());
    head.buf.extend_from_slice(&0u32.to_be_bytes());
    head.buf.extend_from_slice(&big.to_be_bytes());
    head.buf.push(BYTE);
    let mut tail = Heap::new(8);
    tail.instance(0x1010, 0x120, &[0x1008]);
    tail.instance(0x1020, 0x120, &[0x1010]);
    let body_len = head.buf.len() as u64 + big as u64 + tail.buf.len() as u64;
    assert!(body_len > 1 << 32);
    let declared = body_len as u32;
    let record_at = w.buf.len();
    w.buf.push(0x0C);
    w.buf.extend_from_slice(&0u32.to_be_bytes());
    w.buf.extend_from_slice(&declared.to_be_bytes());
    w.buf.extend_from_slice(&head.buf);
    let total = w.buf.len() + big as usize + tail.buf.len();
    let mut data = vec![0u8; total];
    data[..w.buf.len()].copy_from_slice(&w.buf);
    data[total - tail.buf.len()..].copy_from_slice(&tail.buf);

    // The layout is fixed so that the array's size is known; the gaps say nothing here.
    let a = Analysed::with(
        &data,
        IndexOptions {
            model: Some(heapsleuth::index::VmModel::COMPRESSED),
            ..IndexOptions::default()
        },
    );
    let d = &a.index.diagnostics;
    assert_eq!(
        d.wrapped_length,
        Some((record_at as u64, declared, body_len))
    );
    assert!(d.salvaged.is_none());
    assert_eq!(d.dumps.len(), 1);
    let v = a.view();
    let after = v
        .node(0x1020)
        .expect("objects after the 4 GB array are read");
    assert!(v.node(0x1010).is_some());
    let arr = v.node(0x1008).unwrap();
    assert_eq!(v.shallow(arr), (16 + big as u64).div_ceil(8) * 8);
    assert_eq!(a.dom.idom(arr), v.node(0x1010));
    assert!(!a.dom.is_reachable(after));
    let warnings = heapsleuth::report::build::warnings(&v);
    assert!(
        warnings.iter().any(|w| w.contains("had wrapped past 4 GB")),
        "{warnings:?}"
    );
}

#[test]
fn a_heap_dump_length_much_too_short_is_an_error_not_a_misparse() {
    // One 1.0.1-style HEAP_DUMP record holding the diamond, with its length cut down to
    // end inside a sub-record: the bytes after it are no record.
    let (seg, _) = diamond(8);
    let mut data = seg.clone();
    let at = record_offset(&data, 0x1C);
    let body = at + 9;
    data[at] = 0x0C;
    let len = u32::from_be_bytes(data[at + 5..at + 9].try_into().unwrap()) as usize;
    // The second segment becomes part of nothing: merge it, so one HEAP_DUMP holds all.
    let second = body + len;
    assert_eq!(data[second], 0x1C);
    let len2 = u32::from_be_bytes(data[second + 5..second + 9].try_into().unwrap()) as usize;
    data.drain(second..second + 9);
    let whole = (len + len2) as u32;
    data[at + 5..at + 9].copy_from_slice(&whole.to_be_bytes());
    let ok = Analysed::new(&data);
    assert_eq!(ok.index.diagnostics.heap_segments, 1);
    assert!(ok.index.node(0x1050).is_some());

    // Now corrupt the length: much too short, ending where no record tag is.
    // No known tag there, nor an unknown record that a known one follows.
    let known = [
        1u8, 2, 3, 4, 5, 6, 7, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x1C, 0x2C,
    ];
    let record_like = |at: usize| {
        let l = u32::from_be_bytes(data[at + 5..at + 9].try_into().unwrap()) as usize;
        let next = at + 9 + l;
        next == data.len() || data.get(next).is_some_and(|b| known.contains(b))
    };
    let short = (30..len)
        .find(|&l| !known.contains(&data[body + l]) && !record_like(body + l))
        .unwrap();
    data[at + 5..at + 9].copy_from_slice(&(short as u32).to_be_bytes());
    let p = temp_file("short-heap-dump.hprof", &data);
    let (code, _, err) = run(&["analyze", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("short-heap-dump.hprof"), "{err}");
    assert!(
        err.contains(&format!(
            "corrupt length HEAP_DUMP at byte {} (0x{:x}), record at 0x{at:x}",
            body + short,
            body + short
        )),
        "{err}"
    );
    assert!(err.contains("where the next record should start"), "{err}");
    assert!(err.contains("--salvage"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Salvage keeps what lies in the declared length and reads nothing after it.
    let a = Analysed::with(
        &data,
        IndexOptions {
            salvage: true,
            ..IndexOptions::default()
        },
    );
    assert!(a.index.diagnostics.salvaged.is_some());
    assert!(a.index.node(0x1000).is_none());
    assert_eq!(a.index.diagnostics.unknown_records, 0, "no garbage records");
}

#[test]
fn a_missing_super_class_and_mismatched_instances_are_counted_not_fatal() {
    let mut world = World::new(8, 2);
    let node = world.node;
    let child = 0x140;
    world.w.load_class(child, "Child");
    let own = world.w.string("own");
    let mut h = Heap::new(8);
    // Child extends 0x999, which the dump never defines. Its class dump says, as HotSpot's
    // do, how many field bytes an instance has with its superclasses': 8 own + 8 unknown.
    let at = h.buf.len();
    h.class(child, 0x999, &[(own, OBJECT)], &[]);
    h.buf[at + 61..at + 65].copy_from_slice(&16u32.to_be_bytes());
    h.root_class(child);
    h.root_class(node);
    h.root(0x3000);
    h.root(0x4000);
    // Child's own field first, then 8 bytes of the missing superclass's fields.
    h.instance(0x3000, child, &[0x3010, 0x3020]);
    h.instance(0x3010, node, &[0, 0]);
    h.instance(0x3020, node, &[0, 0]);
    // A Node with one field's bytes instead of two.
    h.instance(0x4000, node, &[0x3010]);
    world.w.segment(&h);
    world.w.end();
    let a = Analysed::with(
        &world.w.buf,
        IndexOptions {
            model: Some(heapsleuth::index::VmModel::COMPRESSED),
            ..IndexOptions::default()
        },
    );
    let d = &a.index.diagnostics;
    assert_eq!(d.missing_super_classes, 1);
    assert_eq!(
        d.layout_mismatches, 1,
        "only the short Node: Child's bytes are as declared"
    );
    let v = a.view();
    let (c, t, u, s) = (
        v.node(0x3000).unwrap(),
        v.node(0x3010).unwrap(),
        v.node(0x3020).unwrap(),
        v.node(0x4000).unwrap(),
    );
    // The unknown 8 bytes count in the size (a 12-byte header, the 8 bytes aligned at 16,
    // the own reference in the gap at 12), without them it would be 16.
    assert_eq!(v.shallow(c), 24);
    // The own field is read; the missing superclass's bytes are not read as references.
    assert!(a.graph.csr.successors(c).contains(&t));
    assert!(!a.graph.csr.successors(c).contains(&u));
    assert!(!a.dom.is_reachable(u));
    // The short instance yields the one field it has, nothing read past its bytes.
    let succ = a.graph.csr.successors(s);
    assert!(succ.contains(&t), "{succ:?}");
    assert_eq!(succ.len(), 2, "its class and its one field: {succ:?}");
    assert_eq!(v.fields(s).len(), 1);
    let warnings = heapsleuth::report::build::warnings(&v);
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("1 classes have a superclass the dump does not define")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("1 instances have field data that does not match")),
        "{warnings:?}"
    );
    // The whole pipeline, rules and reports included, goes on.
    let p = temp_file("missing-super.hprof", &world.w.buf);
    let p = p.to_str().unwrap();
    let (code, out, err) = run(&["analyze", p, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("superclass the dump does not define"), "{out}");
    let (code, out, err) = run(&["inspect", p, "0x4000", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["fields"].as_array().unwrap().len(), 1);
    let (code, _, err) = run(&["inspect", p, "0x3000"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn max_memory_refuses_a_dump_whose_estimate_exceeds_it() {
    let (data, _) = diamond(8);
    let p = temp_file("max-memory.hprof", &data);
    let p = p.to_str().unwrap();
    let (code, _, err) = run(&["analyze", p, "--max-memory", "1K"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("max-memory.hprof: not enough memory"), "{err}");
    assert!(
        err.contains("more than the 1.0 KiB that --max-memory allows"),
        "{err}"
    );
    assert!(err.contains("a machine with more memory"), "{err}");
    let (code, _, err) = run(&["top", p, "--max-memory", "nonsense"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid size"), "{err}");
    // A limit above the estimate lets it run, and the estimate is in the JSON.
    let (code, out, err) = run(&["analyze", p, "--max-memory", "4G", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let est = j["dump"]["memory_estimate"].as_u64().unwrap();
    assert!(est > 1024 && est < 4 << 30, "{est}");
    let (code, _, err) = run(&["top", p, "-q", "--timings"]);
    assert_eq!(code, 0);
    assert!(err.contains("timing memory_estimate_mb="), "{err}");
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
