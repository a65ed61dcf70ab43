//! Damaged real dumps: truncated at record boundaries and inside records, with flipped
//! header, tag and length bytes, and with lengths set to huge values. Each case states the
//! one outcome it permits: an error of a given kind at a given offset, or a salvage that
//! kept exactly the complete sub-records before the damage.
//!
//! Most cases go through the library (a build of a few-MB dump takes milliseconds); a
//! sample goes through the binary under an address-space limit, so that an allocation
//! sized by a corrupt length would fail the test instead of swapping.

mod support;

use std::sync::OnceLock;

use heapsleuth::error::{Error, ErrorKind};
use heapsleuth::hprof::heap::SubRecords;
use heapsleuth::hprof::reader::Reader;
use heapsleuth::hprof::records::parse_header;
use heapsleuth::index::{HeapIndex, IndexOptions};
use heapsleuth::progress::NoProgress;
use support::*;

const UTF8: u8 = 0x01;
const HEAP_DUMP_SEGMENT: u8 = 0x1C;
const HEAP_DUMP_END: u8 = 0x2C;

/// A top-level record of an intact dump, found by a walk independent of the library's.
#[derive(Clone, Copy, Debug)]
struct Rec {
    offset: usize,
    tag: u8,
    len: usize,
}

impl Rec {
    fn body(&self) -> usize {
        self.offset + 9
    }
    fn end(&self) -> usize {
        self.offset + 9 + self.len
    }
}

/// A heap-dump sub-record of an intact dump.
#[derive(Clone, Copy, Debug)]
struct Sub {
    start: usize,
    end: usize,
    tag: u8,
}

impl Sub {
    fn is_object(&self) -> bool {
        matches!(self.tag, 0x20..=0x23 | 0xC3)
    }
}

/// An intact dump and its structure.
struct Dump {
    name: &'static str,
    data: Vec<u8>,
    header_len: usize,
    id_size: usize,
    recs: Vec<Rec>,
    subs: Vec<Sub>,
}

impl Dump {
    fn load(name: &'static str, rel: &str) -> Dump {
        let data = fixture_bytes(rel);
        let header = parse_header(&data).unwrap();
        let mut recs = Vec::new();
        let mut pos = header.len;
        while pos < data.len() {
            let len = u32::from_be_bytes(data[pos + 5..pos + 9].try_into().unwrap()) as usize;
            recs.push(Rec {
                offset: pos,
                tag: data[pos],
                len,
            });
            pos += 9 + len;
        }
        assert_eq!(pos, data.len(), "{name}: the record walk ends at the end");
        let mut subs = Vec::new();
        for r in recs.iter().filter(|r| r.tag == HEAP_DUMP_SEGMENT) {
            let body = Reader::new(&data[r.body()..r.end()], r.body() as u64, header.id_size);
            let mut walk = SubRecords::new(body);
            let mut start = walk.offset() as usize;
            while let Some(s) = walk.next() {
                s.unwrap();
                let end = walk.offset() as usize;
                subs.push(Sub {
                    start,
                    end,
                    tag: data[start],
                });
                start = end;
            }
        }
        let d = Dump {
            name,
            header_len: header.len,
            id_size: header.id_size.bytes(),
            data,
            recs,
            subs,
        };
        let full = build(&d.data, false).unwrap();
        assert_eq!(full.objects.len(), d.objects_before(d.data.len()), "{name}");
        assert_eq!(full.diagnostics.duplicate_ids, 0, "{name}");
        d
    }

    /// Objects whose sub-records end at or before `cut`: what a salvage up to `cut` keeps.
    fn objects_before(&self, cut: usize) -> usize {
        self.subs
            .iter()
            .filter(|s| s.is_object() && s.end <= cut)
            .count()
    }

    fn segments(&self) -> impl Iterator<Item = &Rec> {
        self.recs.iter().filter(|r| r.tag == HEAP_DUMP_SEGMENT)
    }

    /// A sample of record indices: every non-string record, every 797th string and the
    /// strings around the first LOAD_CLASS.
    fn sampled_recs(&self) -> Vec<usize> {
        let first_load = self.recs.iter().position(|r| r.tag == 0x02).unwrap();
        (0..self.recs.len())
            .filter(|&i| {
                self.recs[i].tag != UTF8 || i % 797 == 0 || i + 3 >= first_load && i <= first_load
            })
            .filter(|&i| self.recs[i].tag != 0x02 || i % 73 == 0)
            .collect()
    }
}

fn dumps() -> &'static [Dump] {
    static DUMPS: OnceLock<Vec<Dump>> = OnceLock::new();
    DUMPS.get_or_init(|| {
        vec![
            Dump::load("tiny", "core/tiny.hprof.gz"),
            Dump::load("id4-tiny", "core/id4-tiny.hprof.gz"),
            Dump::load("netty-healthy", "rules/netty-healthy.hprof.gz"),
        ]
    })
}

fn build(data: &[u8], salvage: bool) -> Result<HeapIndex<'_>, Error> {
    HeapIndex::build(
        data,
        &IndexOptions {
            model: None,
            salvage,
            ..IndexOptions::default()
        },
        &NoProgress,
    )
}

/// The strict build fails with `kind` at exactly `offset`, inside the record named `record`.
#[track_caller]
fn expect_err(case: &str, data: &[u8], kind: ErrorKind, offset: usize, record: &str) {
    match build(data, false) {
        Ok(i) => panic!(
            "{case}: expected {kind:?}, indexed {} objects",
            i.objects.len()
        ),
        Err(e) => {
            assert_eq!(e.kind, kind, "{case}: {e}");
            assert_eq!(e.offset, Some(offset as u64), "{case}: {e}");
            assert_eq!(e.record.map(|r| r.0), Some(record), "{case}: {e}");
            assert!(e.to_string().contains(&format!("at byte {offset} ")), "{e}");
        }
    }
}

/// The salvaging build stops at `at` and keeps exactly `objects` objects.
#[track_caller]
fn expect_salvage(
    case: &str,
    data: &[u8],
    at: std::ops::RangeInclusive<usize>,
    objects: usize,
) -> String {
    let i = build(data, true).unwrap_or_else(|e| panic!("{case}: salvage failed: {e}"));
    let (stop, why) = i
        .diagnostics
        .salvaged
        .clone()
        .unwrap_or_else(|| panic!("{case}: no salvage recorded"));
    assert!(
        at.contains(&(stop as usize)),
        "{case}: stopped at {stop}, not in {at:?}: {why}"
    );
    assert_eq!(i.diagnostics.lost_bytes, data.len() as u64 - stop, "{case}");
    assert_eq!(i.objects.len(), objects, "{case}: {why}");
    why
}

/// The build succeeds, salvaging nothing, with exactly `objects` objects.
#[track_caller]
fn expect_ok<'a>(case: &str, data: &'a [u8], objects: usize) -> HeapIndex<'a> {
    let i = build(data, false).unwrap_or_else(|e| panic!("{case}: {e}"));
    assert!(i.diagnostics.salvaged.is_none(), "{case}");
    assert_eq!(i.objects.len(), objects, "{case}");
    i
}

#[test]
fn truncation_at_record_boundaries_keeps_the_complete_records() {
    let mut cases = 0;
    for d in dumps() {
        // A cut at a boundary leaves a well-formed, shorter dump: the objects of the
        // complete segments before it.
        let mut cuts: Vec<usize> = d.sampled_recs().iter().map(|&i| d.recs[i].offset).collect();
        cuts.push(d.header_len);
        for cut in cuts {
            let case = format!("{} cut at record boundary {cut}", d.name);
            expect_ok(&case, &d.data[..cut], d.objects_before(cut));
            cases += 1;
        }
    }
    assert!(cases > 300, "{cases} cases");
}

#[test]
fn truncation_inside_records_names_the_record_or_salvages_what_precedes_it() {
    let mut cases = 0;
    for d in dumps() {
        for &i in &d.sampled_recs() {
            let r = d.recs[i];
            let name = match r.tag {
                UTF8 => "UTF8",
                0x02 => "LOAD_CLASS",
                0x04 => "STACK_FRAME",
                0x05 => "STACK_TRACE",
                HEAP_DUMP_SEGMENT => "HEAP_DUMP_SEGMENT",
                HEAP_DUMP_END => "HEAP_DUMP_END",
                t => panic!("unexpected tag {t}"),
            };
            let before = d.objects_before(r.offset);
            // Inside the record header: the time or the length is cut short.
            for k in [1, 8] {
                let cut = r.offset + k;
                let case = format!("{} {name} at {} cut at +{k}", d.name, r.offset);
                let at = if k < 5 { r.offset + 1 } else { r.offset + 5 };
                expect_err(
                    &case,
                    &d.data[..cut],
                    ErrorKind::Truncated,
                    at,
                    "record header",
                );
                expect_salvage(&case, &d.data[..cut], at..=at, before);
                cases += 2;
            }
            if r.len == 0 {
                continue;
            }
            let mut ks = vec![0, r.len - 1];
            if r.tag == HEAP_DUMP_SEGMENT {
                ks.extend((1..10).map(|j| r.len * j / 10));
            }
            for k in ks {
                let cut = r.body() + k;
                let case = format!("{} {name} at {} cut at body +{k}", d.name, r.offset);
                let data = &d.data[..cut];
                if r.tag == HEAP_DUMP_SEGMENT {
                    // The segment keeps its sub-records that end before the cut.
                    let last = d
                        .subs
                        .iter()
                        .filter(|s| s.end <= cut)
                        .map(|s| s.end)
                        .max()
                        .unwrap_or(r.body())
                        .max(r.body());
                    expect_err(&case, data, ErrorKind::Truncated, cut, name);
                    let why = expect_salvage(&case, data, last..=cut, d.objects_before(cut));
                    // The cut sub-record is the truncation showing, not a corrupt count.
                    assert!(why.starts_with("truncated "), "{case}: {why}");
                } else {
                    expect_err(&case, data, ErrorKind::Truncated, r.body(), name);
                    expect_salvage(&case, data, r.body()..=r.body(), before);
                }
                cases += 2;
            }
        }
    }
    assert!(cases > 1000, "{cases} cases");
}

/// A sample of sub-records of each kind: the first few and a spread of the rest.
fn sampled_subs(d: &Dump, tag: u8, n: usize) -> Vec<Sub> {
    let all: Vec<Sub> = d.subs.iter().copied().filter(|s| s.tag == tag).collect();
    let step = (all.len() / n).max(1);
    let spread = all.iter().copied().skip(step).step_by(step);
    all.iter().copied().take(2).chain(spread).collect()
}

#[test]
fn flipped_header_bytes_fail_as_not_hprof_or_bad_id_size() {
    let mut cases = 0;
    for d in dumps() {
        let nul = d.header_len - 13;
        for pos in 0..d.header_len {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut data = d.data.clone();
                data[pos] ^= flip;
                let case = format!("{} header byte {pos} ^ {flip:#x}", d.name);
                cases += 1;
                if pos < nul - 1 || (pos == nul - 1 && flip != 0x01) || pos == nul {
                    // The format name: "1.0.2" ^ 1 is "1.0.3", Android's, which reads.
                    let e = build(&data, false)
                        .err()
                        .unwrap_or_else(|| panic!("{case}"));
                    assert_eq!(e.kind, ErrorKind::BadMagic, "{case}: {e}");
                    assert_eq!(e.offset, Some(0), "{case}");
                } else if pos == nul - 1 {
                    let i = expect_ok(&case, &data, d.objects_before(data.len()));
                    assert_eq!(i.header.version, 3, "{case}");
                } else if pos < nul + 5 {
                    let e = build(&data, false)
                        .err()
                        .unwrap_or_else(|| panic!("{case}"));
                    assert_eq!(e.kind, ErrorKind::BadIdSize, "{case}: {e}");
                    assert_eq!(e.offset, Some(nul as u64 + 1), "{case}");
                    assert!(e.to_string().contains("expected 4 or 8"), "{e}");
                } else {
                    // The timestamp is not used.
                    expect_ok(&case, &data, d.objects_before(data.len()));
                }
            }
        }
    }
    assert!(cases > 250, "{cases} cases");
}

#[test]
fn flipped_record_tags_are_skipped_or_fail_inside_the_record() {
    let mut cases = 0;
    for d in dumps() {
        let all = d.objects_before(d.data.len());
        for &i in d.sampled_recs().iter().step_by(3) {
            let r = d.recs[i];
            // A tag no format defines: the record is skipped by its length, with a count.
            let mut data = d.data.clone();
            data[r.offset] = 0x77;
            let case = format!("{} record at {} tag -> 0x77", d.name, r.offset);
            let lost: usize = if r.tag == HEAP_DUMP_SEGMENT {
                d.subs
                    .iter()
                    .filter(|s| s.is_object() && s.start > r.offset && s.end <= r.end())
                    .count()
            } else {
                0
            };
            let idx = expect_ok(&case, &data, all - lost);
            assert_eq!(idx.diagnostics.unknown_records, 1, "{case}");
            cases += 1;
            // A string record read as a heap segment: its first bytes are the high bytes
            // of an id, zero, which no sub-record tag is.
            if r.tag == UTF8 {
                data[r.offset] = HEAP_DUMP_SEGMENT;
                let case = format!("{} UTF8 at {} read as a heap segment", d.name, r.offset);
                expect_err(
                    &case,
                    &data,
                    ErrorKind::UnknownSubRecord,
                    r.body(),
                    "unknown sub-record",
                );
                cases += 1;
            }
        }
    }
    assert!(cases > 100, "{cases} cases");
}

#[test]
fn huge_record_lengths_fail_at_the_length_or_salvage_up_to_it() {
    let mut cases = 0;
    for d in dumps() {
        for &i in &d.sampled_recs() {
            let r = d.recs[i];
            let rest = d.data.len() - r.body();
            for len in [u32::MAX as usize, rest + 1] {
                let mut data = d.data.clone();
                data[r.offset + 5..r.body()].copy_from_slice(&(len as u32).to_be_bytes());
                let case = format!("{} record at {} length {len}", d.name, r.offset);
                let before = d.objects_before(r.offset);
                if r.tag == HEAP_DUMP_SEGMENT {
                    // The segment now runs to the end of the file: its own sub-records are
                    // read, then the next record's header is no sub-record.
                    let name = "HEAP_DUMP_SEGMENT";
                    expect_err(&case, &data, ErrorKind::Truncated, data.len(), name);
                    let next = r.end();
                    expect_salvage(&case, &data, next..=next, d.objects_before(next));
                } else {
                    let name = match r.tag {
                        UTF8 => "UTF8",
                        0x02 => "LOAD_CLASS",
                        0x04 => "STACK_FRAME",
                        0x05 => "STACK_TRACE",
                        _ => "HEAP_DUMP_END",
                    };
                    expect_err(&case, &data, ErrorKind::Truncated, r.body(), name);
                    expect_salvage(&case, &data, r.body()..=r.body(), before);
                }
                cases += 2;
            }
        }
    }
    assert!(cases > 1000, "{cases} cases");
}

#[test]
fn huge_sub_record_lengths_and_bad_sub_record_tags_fail_at_their_offset() {
    let mut cases = 0;
    for d in dumps() {
        let ids = d.id_size;
        let seg_end = |s: &Sub| {
            d.segments()
                .find(|r| r.offset < s.start && s.end <= r.end())
                .unwrap()
                .end()
        };
        // INSTANCE_DUMP: u1 tag, id, u4 trace, id class, u4 field bytes.
        for s in sampled_subs(d, 0x21, 10) {
            let at = s.start + 1 + ids + 4 + ids;
            for n in [u32::MAX as usize, seg_end(&s) - (at + 4) + 1] {
                let mut data = d.data.clone();
                data[at..at + 4].copy_from_slice(&(n as u32).to_be_bytes());
                let case = format!(
                    "{} INSTANCE_DUMP at {} with {n} field bytes",
                    d.name, s.start
                );
                expect_err(&case, &data, ErrorKind::BadLength, at, "INSTANCE_DUMP");
                cases += 1;
                if n == u32::MAX as usize {
                    expect_salvage(&case, &data, at..=at, d.objects_before(s.start));
                    cases += 1;
                }
            }
        }
        // Arrays: u1 tag, id, u4 trace, u4 length, then the class id or the element type.
        for (tag, name, after) in [(0x22, "OBJ_ARRAY_DUMP", ids), (0x23, "PRIM_ARRAY_DUMP", 1)] {
            for s in sampled_subs(d, tag, 6) {
                let at = s.start + 1 + ids + 4;
                let mut data = d.data.clone();
                data[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
                let case = format!("{} {name} at {} with 2^32-1 elements", d.name, s.start);
                let check = at + 4 + after;
                expect_err(&case, &data, ErrorKind::BadLength, check, name);
                expect_salvage(&case, &data, check..=check, d.objects_before(s.start));
                cases += 2;
            }
        }
        // Sub-record tags no format defines.
        for tag in [0x05, 0x20, 0x21, 0x22, 0x23, 0x08, 0xFF] {
            for (j, s) in sampled_subs(d, tag, 4).into_iter().enumerate() {
                // One bad value per sub-record, taking turns: the walk treats them alike.
                let bad = [0x00u8, 0x42, 0xC4][j % 3];
                let mut data = d.data.clone();
                data[s.start] = bad;
                let case = format!(
                    "{} sub-record at {} tag {tag:#x} -> {bad:#x}",
                    d.name, s.start
                );
                let e = build(&data, false)
                    .err()
                    .unwrap_or_else(|| panic!("{case}"));
                assert_eq!(e.kind, ErrorKind::UnknownSubRecord, "{case}: {e}");
                assert_eq!(e.offset, Some(s.start as u64), "{case}: {e}");
                assert!(e.to_string().contains(&format!("tag 0x{bad:02x}")), "{e}");
                cases += 1;
                expect_salvage(&case, &data, s.start..=s.start, d.objects_before(s.start));
                cases += 1;
            }
        }
    }
    assert!(cases > 250, "{cases} cases");
}

/// Runs the binary under a 2 GB address-space limit: an allocation sized by a corrupt
/// length fails instead of eating the machine.
fn run_limited(args: &[&str]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -v 2000000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_heapsleuth"))
        .args(args);
    outcome(cmd)
}

#[test]
fn the_binary_exits_2_naming_file_and_byte_or_salvages_with_a_warning() {
    let d = &dumps()[0];
    let seg = *d.segments().nth(1).unwrap();
    let inst = sampled_subs(d, 0x21, 5)[4];
    let field_bytes = inst.start + 1 + 8 + 4 + 8;
    let load_class = *d.recs.iter().find(|r| r.tag == 0x02).unwrap();
    let mut cases: Vec<(&str, Vec<u8>, &str, usize, bool)> = Vec::new();
    let cut = seg.body() + seg.len / 3;
    cases.push((
        "cut-in-segment.hprof",
        d.data[..cut].to_vec(),
        "truncated HEAP_DUMP_SEGMENT",
        cut,
        true,
    ));
    let cut = load_class.offset + 3;
    cases.push((
        "cut-in-header.hprof",
        d.data[..cut].to_vec(),
        "truncated record header",
        load_class.offset + 1,
        true,
    ));
    let mut data = d.data.clone();
    data[field_bytes..field_bytes + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    cases.push((
        "huge-instance.hprof",
        data,
        "corrupt length INSTANCE_DUMP",
        field_bytes,
        true,
    ));
    let mut data = d.data.clone();
    data[load_class.offset + 5..load_class.body()].copy_from_slice(&u32::MAX.to_be_bytes());
    cases.push((
        "huge-record.hprof",
        data,
        "truncated LOAD_CLASS",
        load_class.body(),
        true,
    ));
    let mut data = d.data.clone();
    data[inst.start] = 0x42;
    cases.push((
        "bad-sub-tag.hprof",
        data,
        "unknown heap-dump sub-record",
        inst.start,
        true,
    ));
    let mut data = d.data.clone();
    data[d.header_len - 12] = 0x07;
    cases.push((
        "bad-id-size.hprof",
        data,
        "unsupported identifier size",
        d.header_len - 12,
        false,
    ));
    let mut data = d.data.clone();
    data[0] = b'X';
    cases.push(("bad-magic.hprof", data, "not an HPROF heap dump", 0, false));
    for (file, data, what, at, salvageable) in cases {
        let p = temp_file(file, &data);
        let p = p.to_str().unwrap();
        let (code, out, err) = run_limited(&["analyze", "-q", p]);
        assert_eq!(code, 2, "{file}: {err}");
        assert!(out.is_empty(), "{file}: {out}");
        assert_eq!(err.lines().count(), 1, "{file}: one line: {err}");
        assert!(err.contains(p), "{file}: names the file: {err}");
        assert!(err.contains(what), "{file}: {err}");
        assert!(err.contains(&format!("at byte {at} ")), "{file}: {err}");
        assert_eq!(err.contains("--salvage"), salvageable, "{file}: {err}");
        let (code, out, err) = run_limited(&["analyze", "-q", "--salvage", "--format", "json", p]);
        if salvageable {
            assert_eq!(code, 0, "{file}: {err}");
            let j: serde_json::Value = serde_json::from_str(&out).unwrap();
            let w = j["warnings"][0].as_str().unwrap_or_default();
            assert!(w.starts_with("SALVAGED"), "{file}: {w}");
            let (stop, _) = build(&data, true).unwrap().diagnostics.salvaged.unwrap();
            assert!(
                w.contains(&format!("analysed the {stop} bytes")),
                "{file}: {w}"
            );
        } else {
            assert_eq!(code, 2, "{file}: {err}");
            assert!(err.contains(what), "{file}: {err}");
        }
    }
}
