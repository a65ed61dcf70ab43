//! The core engine on real dumps from real JVMs (fixtures/core, made by fixtures/core/regen.sh).
//!
//! Independent truths: the JVM's own class histogram taken right before each dump
//! (`*.histo.txt`), what the generators built (`tiny.expected.md`, `mixed.expected.md`),
//! and petgraph's dominator algorithm on the same graphs.

mod support;

use std::collections::{BTreeMap, HashMap};

use heapsleuth::analysis::histogram::histogram;
use heapsleuth::hprof::heap::Value;
use heapsleuth::index::VmModel;
use support::*;

/// The JVM's histogram: class name (as heapsleuth prints it) -> (instances, bytes).
fn jvm_histogram(name: &str) -> BTreeMap<String, (u64, u64)> {
    let text = std::fs::read_to_string(fixtures().join(format!("core/{name}.histo.txt"))).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 4 && f[0].ends_with(':') && f[0][..f[0].len() - 1].parse::<u64>().is_ok() {
            let e = out.entry(java_name(f[3])).or_insert((0, 0));
            e.0 += f[1].parse::<u64>().unwrap();
            e.1 += f[2].parse::<u64>().unwrap();
        }
    }
    out
}

/// `[Ljava.lang.String;` -> `java.lang.String[]`, as jmap and heapsleuth name classes.
fn java_name(jvm: &str) -> String {
    let dims = jvm.bytes().take_while(|&b| b == b'[').count();
    if dims == 0 {
        return jvm.to_string();
    }
    let e = &jvm[dims..];
    let base = match e {
        "Z" => "boolean",
        "C" => "char",
        "F" => "float",
        "D" => "double",
        "B" => "byte",
        "S" => "short",
        "I" => "int",
        "J" => "long",
        _ => &e[1..e.len() - 1],
    };
    format!("{base}{}", "[]".repeat(dims))
}

fn our_histogram(a: &Analysed<'_>) -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    for r in histogram(&a.index, &a.dom, &a.tree, &a.retained) {
        let e = out
            .entry(a.index.classes.get(r.class).name.clone())
            .or_insert((0, 0));
        e.0 += r.instances;
        e.1 += r.shallow;
    }
    out
}

#[test]
fn histograms_match_the_jvms_own_for_every_object_layout() {
    let cases = [
        ("tiny", VmModel::COMPRESSED),
        ("mixed", VmModel::COMPRESSED),
        ("mixed-gz", VmModel::COMPRESSED),
        ("mixed-nocoops", VmModel::WIDE_OOPS),
        ("mixed-nocoops-noccp", VmModel::UNCOMPRESSED),
        ("chain", VmModel::COMPRESSED),
        ("id4-tiny", VmModel::BITS32),
    ];
    for (name, model) in cases {
        let data = fixture_bytes(&format!("core/{name}.hprof.gz"));
        let a = Analysed::new(&data);
        assert_eq!(
            a.index.model, model,
            "{name}: object layout inferred from the addresses"
        );
        let ours = our_histogram(&a);
        let jvm = jvm_histogram(name);
        let mut extra = Vec::new();
        for (class, &(n, bytes)) in &ours {
            match jvm.get(class) {
                Some(&j) => assert_eq!((n, bytes), j, "{name}: {class} (instances, shallow bytes)"),
                None => extra.push((class.clone(), n)),
            }
        }
        for class in jvm.keys() {
            assert!(
                ours.contains_key(class),
                "{name}: {class} is in the JVM histogram but not in the dump"
            );
        }
        // HotSpotDiagnosticMXBean.dumpHeap creates one lambda after the histogram was taken
        // (fixtures/README.md); mixed-gz was dumped by jcmd and has none.
        let expected_extra = usize::from(name != "mixed-gz");
        assert_eq!(
            extra.len(),
            expected_extra,
            "{name}: classes only in the dump: {extra:?}"
        );
        for (class, n) in extra {
            assert!(
                class.starts_with("com.sun.management.internal.HotSpotDiagnostic$$Lambda"),
                "{class}"
            );
            assert_eq!(n, 1);
        }
    }
}

/// Tiny's nodes by their `tag` field.
fn nodes_by_tag(a: &Analysed<'_>) -> HashMap<i32, u32> {
    let v = a.view();
    let class = a.index.classes.named("Tiny$Node").next().unwrap();
    v.instances_of(class, false)
        .into_iter()
        .map(|n| match v.field(n, "tag") {
            Some(Value::Int(t)) => (t, n),
            other => panic!("tag is {other:?}"),
        })
        .collect()
}

#[test]
fn tiny_dominators_and_retained_sizes_are_exact_on_64_and_32_bit() {
    for (name, wide) in [("tiny", true), ("id4-tiny", false)] {
        let data = fixture_bytes(&format!("core/{name}.hprof.gz"));
        let a = Analysed::new(&data);
        let v = a.view();
        let t = nodes_by_tag(&a);
        assert_eq!(t.len(), 11);
        let tiny = a
            .index
            .classes
            .get(a.index.classes.named("Tiny").next().unwrap());
        let class_tiny = v.node(tiny.id).unwrap();
        let arr = match tiny.static_field("arr").unwrap().value {
            Value::Object(id) => v.node(id).unwrap(),
            other => panic!("{other:?}"),
        };
        let idom = |n: u32| a.dom.idom(n).unwrap();
        let (a1, b2, c3, d4, e5, g6, h7, f8, i9, j10, k11) = (
            t[&1], t[&2], t[&3], t[&4], t[&5], t[&6], t[&7], t[&8], t[&9], t[&10], t[&11],
        );
        assert_eq!(idom(a1), class_tiny, "{name}: A");
        assert_eq!(idom(b2), a1);
        assert_eq!(idom(c3), a1);
        assert_eq!(idom(d4), a1, "{name}: the diamond's bottom");
        assert_eq!(idom(e5), c3);
        assert_eq!(idom(f8), class_tiny);
        assert_eq!(idom(g6), b2);
        assert_eq!(idom(h7), g6);
        assert_eq!(
            idom(i9),
            a.graph.root,
            "{name}: held by a static array and a thread's stack"
        );
        assert_eq!(idom(j10), arr);
        assert_eq!(idom(k11), arr);
        assert_eq!(idom(arr), class_tiny);
        let expected: [(u32, u64, u64); 12] = [
            (a1, 7072, 7016),
            (b2, 96, 72),
            (c3, 880, 864),
            (d4, 1048, 1040),
            (e5, 848, 840),
            (g6, 64, 48),
            (h7, 32, 24),
            (f8, 32, 24),
            (i9, 248, 240),
            (j10, 32, 24),
            (k11, 88, 80),
            (arr, 152, 128),
        ];
        for (node, r64, r32) in expected {
            let want = if wide { r64 } else { r32 };
            assert_eq!(
                v.retained(node),
                want,
                "{name}: retained size of {}",
                v.display_class(node)
            );
        }
        // Decoded values.
        let s = v.field_ref(k11, "right").unwrap();
        assert_eq!(v.string(s).as_deref(), Some("hello-heapsleuth"));
        let longs = v.field_ref(e5, "right").unwrap();
        let (_, len, vals) = v.prim_array(longs, 100).unwrap();
        assert_eq!(len, 100);
        assert!(vals
            .iter()
            .enumerate()
            .all(|(n, x)| *x == Value::Long((n * n) as i64)));
        // I is held by the holder thread's frame: the shortest path says so.
        let path = v.path_to(i9, false).unwrap();
        assert_eq!(path.len(), 2, "{name}: thread -> I");
        assert_eq!(
            v.describe_root(path[0].node).unwrap(),
            "thread \"tiny-holder\""
        );
        assert!(
            path[1].via.contains("Tiny$Holder.run(Tiny.java:"),
            "{}",
            path[1].via
        );
        // D is reached through a static field and named fields.
        let path = v.path_to(d4, false).unwrap();
        let tail: Vec<&str> = path.iter().rev().take(3).map(|s| s.via.as_str()).collect();
        assert!(
            tail == ["left", "left", "static root"] || tail == ["left", "right", "static root"],
            "{tail:?}"
        );
    }
}

#[test]
fn a_million_link_chain_from_a_real_jvm() {
    let data = fixture_bytes("core/chain.hprof.gz");
    let a = Analysed::new(&data);
    let v = a.view();
    let class = a
        .index
        .classes
        .get(a.index.classes.named("Chain").next().unwrap());
    let head = class
        .dump
        .statics
        .iter()
        .find_map(|s| match s.value {
            Value::Object(id) if id != 0 => v.node(id).filter(|&n| v.class(n).name == "Chain$Link"),
            _ => None,
        })
        .expect("a static field holds the head");
    assert_eq!(v.retained(head), 1_000_000 * 24);
    // Walk the chain: every link is dominated by the one before it.
    let mut cur = head;
    for i in 0..1_000_000 {
        assert_eq!(v.field(cur, "value"), Some(Value::Int(i)));
        match v.field_ref(cur, "next") {
            Some(next) => {
                if i % 1000 == 0 {
                    assert_eq!(a.dom.idom(next), Some(cur));
                    assert_eq!(v.retained(next), (999_999 - i as u64) * 24);
                }
                cur = next;
            }
            None => assert_eq!(i, 999_999),
        }
    }
    // The top lists the chain once, not link after link.
    let top = heapsleuth::analysis::top::top(
        &a.dom,
        &a.tree,
        &a.retained,
        |n| a.index.objects.class(n),
        10,
        0.9,
    );
    assert_eq!(
        top.iter()
            .filter(|e| v.class(e.node).name == "Chain$Link")
            .count(),
        1
    );
}

/// petgraph's dominators on the very same graph, node for node.
#[test]
fn dominators_agree_with_petgraph_on_real_graphs() {
    use petgraph::graph::{DiGraph, NodeIndex};
    for name in ["tiny", "id4-tiny", "mixed"] {
        let data = fixture_bytes(&format!("core/{name}.hprof.gz"));
        let a = Analysed::new(&data);
        let csr = &a.graph.csr;
        let n = csr.num_nodes();
        let mut g = DiGraph::<(), ()>::with_capacity(n, csr.num_edges());
        for _ in 0..n {
            g.add_node(());
        }
        for u in 0..n as u32 {
            for &w in csr.successors(u) {
                g.add_edge(NodeIndex::new(u as usize), NodeIndex::new(w as usize), ());
            }
        }
        let doms =
            petgraph::algo::dominators::simple_fast(&g, NodeIndex::new(a.graph.root as usize));
        let mut reachable = 0;
        for u in 0..n as u32 {
            let theirs = doms
                .immediate_dominator(NodeIndex::new(u as usize))
                .map(|d| d.index() as u32);
            let reach = doms.dominators(NodeIndex::new(u as usize)).is_some();
            assert_eq!(
                a.dom.is_reachable(u),
                reach,
                "{name}: reachability of node {u}"
            );
            if reach {
                reachable += 1;
                assert_eq!(a.dom.idom(u), theirs, "{name}: idom of node {u}");
            }
        }
        assert_eq!(reachable, a.dom.num_reachable(), "{name}");
    }
}

/// Checks the dominator tree and retained sizes against the graph: every edge u -> v has
/// idom(v) as an ancestor of u (the parent property), removing idom(v) disconnects v (for
/// a sample), and retained sizes add up.
fn check_invariants(name: &str, a: &Analysed<'_>) {
    let v = a.view();
    let n = a.graph.csr.num_nodes();
    let root = a.graph.root;
    // Pre/post numbers of the dominator tree, iteratively.
    let (mut pre, mut post) = (vec![u32::MAX; n], vec![0u32; n]);
    let mut clock = 0;
    let mut stack = vec![(root, 0usize)];
    pre[root as usize] = 0;
    while let Some(&mut (u, ref mut i)) = stack.last_mut() {
        let kids = a.tree.successors(u);
        if *i < kids.len() {
            let w = kids[*i];
            *i += 1;
            clock += 1;
            pre[w as usize] = clock;
            stack.push((w, 0));
        } else {
            clock += 1;
            post[u as usize] = clock;
            stack.pop();
        }
    }
    let ancestor =
        |d: u32, u: u32| pre[d as usize] <= pre[u as usize] && post[u as usize] <= post[d as usize];
    for u in 0..n as u32 {
        if !a.dom.is_reachable(u) {
            continue;
        }
        assert_ne!(
            pre[u as usize],
            u32::MAX,
            "{name}: reachable node {u} is in the tree"
        );
        for &w in a.graph.csr.successors(u) {
            let d = a.dom.idom(w).unwrap_or(root);
            assert!(
                w == root || ancestor(d, u),
                "{name}: edge {u}->{w}, idom {d} is not above {u}"
            );
        }
        let kids: u64 = a.tree.successors(u).iter().map(|&c| v.retained(c)).sum();
        assert_eq!(
            v.retained(u),
            v.shallow(u) + kids,
            "{name}: retained of {u} adds up"
        );
    }
    let reachable: u64 = (0..a.index.objects.len() as u32)
        .filter(|&u| a.dom.is_reachable(u))
        .map(|u| v.shallow(u))
        .sum();
    assert_eq!(v.reachable_bytes(), reachable, "{name}");
    // Removing a node's immediate dominator cuts it off from the roots (sampled).
    for k in 0..8usize {
        let u = ((k * 7919 + 13) % a.index.objects.len()) as u32;
        let Some(d) = a.dom.idom(u).filter(|&d| d != root) else {
            continue;
        };
        let mut seen = vec![false; n];
        seen[root as usize] = true;
        let mut queue = vec![root];
        while let Some(x) = queue.pop() {
            for &y in a.graph.csr.successors(x) {
                if y != d && !seen[y as usize] {
                    seen[y as usize] = true;
                    queue.push(y);
                }
            }
        }
        assert!(
            !seen[u as usize],
            "{name}: node {u} stays reachable without its idom {d}"
        );
    }
}

#[test]
fn invariants_hold_on_every_fixture() {
    let mut names: Vec<String> = [
        "tiny",
        "id4-tiny",
        "mixed",
        "mixed-nocoops",
        "mixed-nocoops-noccp",
    ]
    .iter()
    .map(|n| format!("core/{n}.hprof.gz"))
    .collect();
    for e in std::fs::read_dir(fixtures().join("rules")).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".hprof.gz") {
            names.push(format!(
                "rules/{}",
                p.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(names.len() >= 15);
    for name in names {
        let data = fixture_bytes(&name);
        let a = Analysed::new(&data);
        check_invariants(&name, &a);
    }
}

#[test]
fn the_jvms_gzip_reads_like_the_plain_dump() {
    let gz = fixtures().join("core/mixed-gz.hprof.gz");
    let plain = temp_file(
        "mixed-gz-inflated.hprof",
        &fixture_bytes("core/mixed-gz.hprof.gz"),
    );
    let run_json = |p: &std::path::Path| {
        let (code, out, err) = run(&[
            "analyze",
            p.to_str().unwrap(),
            "--format",
            "json",
            "-n",
            "30",
            "--histogram-rows",
            "1000",
        ]);
        assert_eq!(code, 0, "{err}");
        let mut j: serde_json::Value = serde_json::from_str(&out).unwrap();
        j["dump"] = serde_json::Value::Null;
        j
    };
    let (a, b) = (run_json(&gz), run_json(&plain));
    assert_eq!(a, b);
    let (_, out, _) = run(&["analyze", gz.to_str().unwrap(), "--format", "json"]);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["dump"]["gzip"], true);
}

#[test]
fn a_truncated_dump_fails_cleanly_or_is_salvaged() {
    let cut: BTreeMap<String, String> =
        std::fs::read_to_string(fixtures().join("core/truncated.cut.txt"))
            .unwrap()
            .lines()
            .filter_map(|l| {
                l.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
    let cut_offset: u64 = cut["cut_offset"].parse().unwrap();
    let p = fixtures().join("core/truncated.hprof.gz");
    let (code, out, err) = run(&["analyze", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("truncated.hprof.gz") && err.contains("truncated"),
        "{err}"
    );
    assert!(err.contains("--salvage"), "{err}");
    let out = analyze_salvaged(&p);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let warning = j["warnings"][0].as_str().unwrap();
    assert!(warning.starts_with("SALVAGED"), "{warning}");
    // The salvage point is the last complete sub-record: just before the cut.
    let at: u64 = warning
        .split("analysed the ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        at <= cut_offset && cut_offset - at < 100_000,
        "salvaged up to {at}, cut at {cut_offset}"
    );
    let full = Analysed::new(&fixture_bytes("core/mixed.hprof.gz"))
        .index
        .objects
        .len() as u64;
    let objects = j["summary"]["objects"].as_u64().unwrap();
    assert!(objects > full / 4 && objects < full, "{objects} of {full}");
}

#[test]
fn json_is_a_stable_contract() {
    let p = fixtures().join("core/tiny.hprof.gz");
    let p = p.to_str().unwrap();
    let (code, out, _) = run(&["analyze", p, "--format", "json", "-n", "5"]);
    assert_eq!(code, 0);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(j["schema"], 1);
    assert_eq!(
        keys(&j["summary"]),
        [
            "objects",
            "classes",
            "gc_roots",
            "heap_bytes",
            "reachable_bytes",
            "unreachable_objects",
            "unreachable_bytes",
            "dangling_references"
        ]
    );
    assert_eq!(
        keys(&j["top"][0]),
        [
            "id",
            "class",
            "shallow",
            "retained",
            "dominators",
            "gc_root"
        ]
    );
    assert_eq!(
        keys(&j["histogram"][0]),
        ["class", "instances", "shallow", "retained"]
    );
    assert!(j["top"][0]["id"].as_str().unwrap().starts_with("0x"));
    // The JVM's histogram total counts every object once; the dump adds dumpHeap's lambda.
    let text = std::fs::read_to_string(fixtures().join("core/tiny.histo.txt")).unwrap();
    let total: Vec<u64> = text
        .lines()
        .find(|l| l.starts_with("Total"))
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(j["summary"]["objects"], total[0] + 1);
    assert_eq!(j["summary"]["heap_bytes"], total[1] + 16);
    // `top` and `histogram` print the same arrays under the same keys.
    let (_, out, _) = run(&["top", p, "--format", "json", "-n", "5"]);
    let t: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(t["top"], j["top"]);
    let (_, out, _) = run(&["histogram", p, "--format", "json", "-n", "20"]);
    let h: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(h["histogram"], j["histogram"]);
    // --grep and --sort.
    let (_, out, _) = run(&[
        "histogram",
        p,
        "--format",
        "json",
        "--grep",
        "^Tiny\\$",
        "--sort",
        "count",
    ]);
    let h: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = h["histogram"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["class"], "Tiny$Node");
    assert_eq!(rows[0]["instances"], 11);
    assert_eq!(rows[0]["shallow"], 352);
}

#[test]
fn text_reports_for_people() {
    let p = fixtures().join("core/tiny.hprof.gz");
    let p = p.to_str().unwrap();
    let (code, out, err) = run(&["analyze", p]);
    assert_eq!(code, 0, "{err}");
    for needle in [
        "Objects",
        "Reachable",
        "Unreachable",
        "Biggest objects",
        "Classes by retained size",
        "system class",
    ] {
        assert!(out.contains(needle), "{needle} in\n{out}");
    }
    assert!(
        err.is_empty(),
        "no progress bars when stderr is not a terminal: {err}"
    );
    // inspect shows fields with decoded strings.
    let data = fixture_bytes("core/tiny.hprof.gz");
    let a = Analysed::new(&data);
    let k = nodes_by_tag(&a)[&11];
    let (code, out, _) = run(&["inspect", p, &format!("0x{:x}", a.index.id(k))]);
    assert_eq!(code, 0);
    assert!(out.contains("\"hello-heapsleuth\""), "{out}");
    assert!(out.contains("Tiny$Node"), "{out}");
}

#[cfg(target_os = "linux")]
#[test]
fn the_memory_estimate_is_near_the_measured_anonymous_memory() {
    // chain: a million objects, so the per-object costs dominate the process's fixed ones.
    let p = fixtures().join("core/chain.hprof.gz");
    let (code, out, err) = run(&[
        "analyze",
        p.to_str().unwrap(),
        "-q",
        "--timings",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let estimate = j["dump"]["memory_estimate"].as_u64().unwrap() as f64;
    // Anonymous memory after each phase: the peak the allocator keeps.
    let measured_mb = err
        .lines()
        .filter_map(|l| l.split("rss_anon_mb=").nth(1))
        .filter_map(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .fold(0.0, f64::max);
    assert!(measured_mb > 0.0, "no memory figures: {err}");
    let ratio = estimate / (measured_mb * (1 << 20) as f64);
    assert!(
        (0.7..=2.0).contains(&ratio),
        "estimate {estimate} bytes vs {measured_mb} MiB measured: ratio {ratio:.2}"
    );

    // The same dump under a limit it cannot meet stops before the graph, saying why.
    let (code, out, err) = run(&["analyze", p.to_str().unwrap(), "--max-memory", "1K"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("chain.hprof.gz: not enough memory"), "{err}");
    assert!(err.contains("1029877 objects"), "{err}");
    assert!(err.contains("1.0 KiB that --max-memory allows"), "{err}");
}
