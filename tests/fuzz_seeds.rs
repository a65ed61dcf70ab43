//! The fuzzer's committed seed corpus (`fuzz/seeds/`): small valid dumps, some hand-made
//! with the test writer, some cut down from the real fixtures so that the fuzzer starts
//! from the shapes a JVM writes (threads, stack traces, class hierarchies, strings).
//!
//! The test checks that every committed seed still indexes and analyses; with
//! `HEAPSLEUTH_WRITE_SEEDS=1` it first rewrites them.

mod support;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use heapsleuth::hprof::format::tag;
use heapsleuth::hprof::heap::{SubRecord, SubRecords};
use heapsleuth::hprof::records::{parse_header, Records};
use heapsleuth::index::IndexOptions;
use support::*;

fn seeds_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds")
}

/// root -> a -> {b, c} -> d -> byte[], an object array, an unreachable object.
fn small_world(id_size: usize) -> Vec<u8> {
    let mut world = World::new(id_size, 2);
    let (node, bytes) = (world.node, world.bytes);
    let arr_class = 0x140;
    world.w.load_class(arr_class, "[LNode;");
    let mut h = Heap::new(id_size);
    h.class(arr_class, world.object, &[], &[]);
    for c in [world.object, world.class, node, bytes] {
        h.root_class(c);
    }
    h.root(0x1000);
    h.instance(0x1000, node, &[0x1010, 0x1020]);
    h.instance(0x1010, node, &[0x1030, 0]);
    h.instance(0x1020, node, &[0x1030, 0x1060]);
    h.instance(0x1030, node, &[0x1040, 0]);
    h.byte_array(0x1040, b"hello, heap");
    h.instance(0x1050, node, &[0x1000, 0]);
    h.obj_array(0x1060, arr_class, &[0x1000, 0, 0x1030]);
    world.w.segment(&h);
    world.w.end();
    world.w.buf
}

/// A real fixture cut down to a few KB: its header, the first heap roots, threads and
/// stack traces, a spread of instances and arrays with the class dumps (and superclasses)
/// they need, and only the strings those records name.
fn cut_down(data: &[u8], keep_objects: usize) -> Vec<u8> {
    let header = parse_header(data).unwrap();
    let id = header.id_size;
    let ids = id.bytes();
    let rd = |b: &[u8]| heapsleuth::hprof::reader::id_at(b, id);
    let mut strings: HashMap<u64, &[u8]> = HashMap::new();
    let mut load_class: HashMap<u64, (&[u8], u64)> = HashMap::new();
    let mut traces = Vec::new();
    let mut frames = Vec::new();
    let mut classes: HashMap<u64, (&[u8], Vec<u64>, u64)> = HashMap::new();
    let mut roots = Vec::new();
    let mut objects = Vec::new();
    let rec_bytes = |rec: &heapsleuth::hprof::records::Record<'_>| {
        let start = rec.offset as usize;
        &data[start..start + 9 + rec.body.remaining()]
    };
    for rec in Records::new(data, &header) {
        let rec = rec.unwrap();
        let body = rec.body.rest();
        match rec.tag {
            tag::UTF8 => {
                strings.insert(rd(body), rec_bytes(&rec));
            }
            tag::LOAD_CLASS => {
                load_class.insert(rd(&body[4..]), (rec_bytes(&rec), rd(&body[8 + ids..])));
            }
            tag::STACK_TRACE => traces.push(rec_bytes(&rec)),
            tag::STACK_FRAME => {
                let names = [rd(&body[ids..]), rd(&body[3 * ids..])];
                frames.push((rec_bytes(&rec), names));
            }
            tag::HEAP_DUMP | tag::HEAP_DUMP_SEGMENT => {
                let mut subs = SubRecords::new(rec.body.clone());
                let mut at = subs.offset();
                while let Some(s) = subs.next() {
                    let (_, s) = s.unwrap();
                    let end = subs.offset();
                    let raw = &data[at as usize..end as usize];
                    at = end;
                    match s {
                        SubRecord::Class(cd) => {
                            let mut names: Vec<u64> = cd.fields.iter().map(|f| f.name_id).collect();
                            names.extend(cd.statics.iter().map(|f| f.name_id));
                            classes.insert(cd.id, (raw, names, cd.super_id));
                        }
                        SubRecord::Root(_) => roots.push(raw),
                        SubRecord::Instance { class_id, .. } => objects.push((raw, class_id)),
                        SubRecord::ObjArray { class_id, data, .. } if data.len() <= 64 => {
                            objects.push((raw, class_id))
                        }
                        SubRecord::PrimArray { data, .. } if data.len() <= 64 => {
                            objects.push((raw, 0))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    // Roots of every kind, but few of each.
    let mut per_kind: HashMap<u8, usize> = HashMap::new();
    roots.retain(|r| {
        let n = per_kind.entry(r[0]).or_default();
        *n += 1;
        *n <= 4
    });
    let step = (objects.len() / keep_objects).max(1);
    let kept: Vec<_> = objects.iter().step_by(step).take(keep_objects).collect();
    let mut want: Vec<u64> = kept.iter().map(|o| o.1).filter(|&c| c != 0).collect();
    let mut class_set = HashSet::new();
    while let Some(c) = want.pop() {
        if let Some((_, _, sup)) = classes.get(&c) {
            if class_set.insert(c) && *sup != 0 {
                want.push(*sup);
            }
        }
    }
    let mut class_list: Vec<u64> = class_set.into_iter().collect();
    class_list.sort_unstable();
    let mut names = HashSet::new();
    for c in &class_list {
        names.extend(classes[c].1.iter().copied());
        if let Some((_, n)) = load_class.get(c) {
            names.insert(*n);
        }
    }
    for (_, f) in &frames {
        names.extend(f.iter().copied());
    }
    let mut out = data[..header.len].to_vec();
    let mut names: Vec<u64> = names.into_iter().collect();
    names.sort_unstable();
    for n in names {
        if let Some(s) = strings.get(&n) {
            out.extend_from_slice(s);
        }
    }
    for c in &class_list {
        if let Some((rec, _)) = load_class.get(c) {
            out.extend_from_slice(rec);
        }
    }
    for (f, _) in &frames {
        out.extend_from_slice(f);
    }
    for t in &traces {
        out.extend_from_slice(t);
    }
    let mut seg = Vec::new();
    for c in &class_list {
        seg.extend_from_slice(classes[c].0);
    }
    for r in &roots {
        seg.extend_from_slice(r);
    }
    for o in &kept {
        seg.extend_from_slice(o.0);
    }
    out.push(tag::HEAP_DUMP_SEGMENT);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&(seg.len() as u32).to_be_bytes());
    out.extend_from_slice(&seg);
    out.extend_from_slice(&[tag::HEAP_DUMP_END, 0, 0, 0, 0, 0, 0, 0, 0]);
    out
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let tiny = fixture_bytes("core/tiny.hprof.gz");
    let id4 = fixture_bytes("core/id4-tiny.hprof.gz");
    let zk = fixture_bytes("rules/zk-learner-backlog.hprof.gz");
    let mut v = vec![
        ("synthetic-id8.seed", small_world(8)),
        ("synthetic-id4.seed", small_world(4)),
        ("tiny-cut.seed", cut_down(&tiny, 60)),
        ("id4-tiny-cut.seed", cut_down(&id4, 60)),
        ("zk-cut.seed", cut_down(&zk, 60)),
    ];
    // A truncated dump: the cut-down tiny dump ends inside its heap segment.
    let t = cut_down(&tiny, 60);
    v.push(("tiny-cut-truncated.seed", t[..t.len() * 3 / 4].to_vec()));
    v
}

/// Seeds of the `gzip` target: a plain gzip of a small dump, and the head of the JVM's own
/// multi-member gzip (its `HPROF BLOCKSIZE=` member header and first members).
fn gzip_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&small_world(8)).unwrap();
    let plain = enc.finish().unwrap();
    let jvm = std::fs::read(fixtures().join("core/mixed-gz.hprof.gz")).unwrap();
    vec![
        ("synthetic-id8.gz.seed", plain),
        ("mixed-gz-head.gz.seed", jvm[..24 << 10].to_vec()),
    ]
}

#[test]
fn committed_gzip_seeds_are_what_the_test_makes() {
    let dir = seeds_dir().join("gzip");
    if std::env::var_os("HEAPSLEUTH_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in gzip_seeds() {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    for (name, made) in gzip_seeds() {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        assert!(bytes == made, "{name} is what this test makes");
    }
    let tmp = std::env::temp_dir();
    let plain = heapsleuth::hprof::gz::inflate(&gzip_seeds()[0].1, &tmp, &|_| {}).unwrap();
    assert_eq!(&plain[..], &small_world(8)[..]);
}

#[test]
fn committed_fuzz_seeds_are_small_valid_dumps() {
    let dir = seeds_dir();
    if std::env::var_os("HEAPSLEUTH_WRITE_SEEDS").is_some() {
        for target in ["parse", "analyze"] {
            std::fs::create_dir_all(dir.join(target)).unwrap();
            for (name, bytes) in seeds() {
                std::fs::write(dir.join(target).join(name), bytes).unwrap();
            }
        }
    }
    let mut total = 0;
    for target in ["parse", "analyze"] {
        for (name, made) in seeds() {
            let bytes = std::fs::read(dir.join(target).join(name)).unwrap();
            assert!(bytes == made, "{name} is what this test makes");
            total += bytes.len();
            let a = Analysed::with(
                &bytes,
                IndexOptions {
                    model: None,
                    salvage: true,
                    ..IndexOptions::default()
                },
            );
            assert!(a.index.objects.len() > 5, "{name} has objects");
            let salvaged = a.index.diagnostics.salvaged.is_some();
            assert_eq!(salvaged, name.contains("truncated"), "{name}");
        }
    }
    assert!(
        total < 256 << 10,
        "the seed corpus stays small: {total} bytes"
    );
}

#[test]
fn cut_down_fixtures_keep_classes_and_threads() {
    let tiny = fixture_bytes("core/tiny.hprof.gz");
    let cut = cut_down(&tiny, 60);
    let a = Analysed::new(&cut);
    assert!(!a.index.threads.is_empty(), "thread roots survive the cut");
    assert!(!a.index.traces.is_empty());
    // Sixty objects and the class dumps they need, each with its superclasses.
    assert!(a.index.objects.len() > 60);
    assert_eq!(a.index.diagnostics.unknown_class_instances, 0);
    assert!(cut.len() < 32 << 10, "{} bytes", cut.len());
}
