//! The file header and the top-level record stream.
//!
//! A record is `u1 tag, u4 microseconds since the header's timestamp, u4 body length, body`.
//! [`Records`] walks them without looking inside bodies, so the walk costs one bounds check
//! per record: this is the floor every later pass is measured against.

use crate::error::{Error, ErrorKind, Result};
use crate::hprof::format::{self, tag, IdSize};
use crate::hprof::heap::skip_sub_record;
use crate::hprof::reader::Reader;

/// What the file header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The minor format version: 1 (`1.0.1`), 2 (`1.0.2`) or 3 (Android's `1.0.3`).
    pub version: u8,
    /// Size of object identifiers.
    pub id_size: IdSize,
    /// Milliseconds since the epoch when the dump was written.
    pub timestamp_ms: u64,
    /// Header length in bytes; the first record starts here.
    pub len: usize,
}

/// Parses the header: a NUL-terminated format name, u4 identifier size, u8 timestamp.
pub fn parse_header(data: &[u8]) -> Result<Header> {
    let nul = data
        .iter()
        .take(64)
        .position(|&b| b == 0)
        .ok_or_else(|| not_hprof(data))?;
    let name = &data[..nul];
    let version = match format::VERSIONS.iter().position(|v| *v == name) {
        Some(i) => i as u8 + 1,
        None => return Err(not_hprof(data)),
    };
    let mut r = Reader::new(&data[nul + 1..], nul as u64 + 1, IdSize::Four);
    let id_size = match r.u4("identifier size")? {
        4 => IdSize::Four,
        8 => IdSize::Eight,
        n => {
            return Err(Error::at(
                ErrorKind::BadIdSize,
                nul as u64 + 1,
                format!("identifier size is {n}, expected 4 or 8"),
            ))
        }
    };
    let timestamp_ms = r.u8("timestamp")?;
    Ok(Header {
        version,
        id_size,
        timestamp_ms,
        len: nul + 1 + 12,
    })
}

#[cold]
fn not_hprof(data: &[u8]) -> Error {
    let shown: String = data
        .iter()
        .take(20)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    let detail = if data.starts_with(format::MAGIC_PREFIX) {
        format!(
            "unsupported format version \"{shown}\"; supported: JAVA PROFILE 1.0.1, 1.0.2, 1.0.3"
        )
    } else {
        format!("expected \"JAVA PROFILE 1.0.2\", found \"{shown}\"")
    };
    Error::at(ErrorKind::BadMagic, 0, detail)
}

/// One top-level record, its body not yet parsed.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    /// The record tag (see [`format::tag`]).
    pub tag: u8,
    /// File offset of the tag byte.
    pub offset: u64,
    /// The body, confined to the record.
    pub body: Reader<'a>,
    /// True when the file ends before the body does; `body` then holds what there is.
    pub truncated: bool,
    /// For a HEAP_DUMP whose u4 length wrapped past 4 GB: the length field as written
    /// (`body` then spans the true length).
    pub wrapped: Option<u32>,
    /// What is wrong with a heap-dump record whose complete sub-records can still be
    /// salvaged: it is truncated, its length was never filled in, or its length ends where
    /// no record starts. The walk ends after such a record.
    pub damage: Option<Error>,
}

/// Iterates the records that follow the header.
///
/// A record whose length runs past the end of the file ends the walk: it is returned with
/// `truncated` set if it is a heap-dump record (whose complete sub-records can be salvaged),
/// and as an error otherwise. A heap-dump record must also end where another record (or
/// the file) does: a length that does not is unwrapped past 4 GB (old HEAP_DUMP records),
/// read as never filled in (0, the writer died), or reported in `damage`.
pub struct Records<'a> {
    r: Reader<'a>,
    done: bool,
}

impl<'a> Records<'a> {
    /// Walks the records of `data`, a whole dump whose header is `header`.
    pub fn new(data: &'a [u8], header: &Header) -> Records<'a> {
        let mut r = Reader::new(data, 0, header.id_size);
        // The header was parsed from these bytes, so they are there.
        let _ = r.skip(header.len, "header");
        Records { r, done: false }
    }

    /// The heap-dump record whose header was just read, `declared` bytes long by its header
    /// and known to fit in the file.
    fn heap_record(&mut self, t: u8, offset: u64, declared: usize) -> Record<'a> {
        let rest = self.r.rest();
        let body_start = self.r.offset();
        let id_size = self.r.id_size();
        let rec = |r: &mut Reader<'a>, len: usize| Record {
            tag: t,
            offset,
            body: r.split(len, "body").expect("length checked"),
            truncated: false,
            wrapped: None,
            damage: None,
        };
        let next = next_record(rest, declared);
        // A record after ours that the file cuts short is reported by the next step; it
        // proves nothing about our length unless ours could have wrapped.
        if next == Next::Record || (next == Next::CutShort && t != tag::HEAP_DUMP) {
            return rec(&mut self.r, declared);
        }
        self.done = true;
        if t == tag::HEAP_DUMP {
            // JDK 6 wrote a heap over 4 GB as one HEAP_DUMP whose u4 length wrapped. The true
            // end is where the sub-records, walked from the start, meet the file's end or a
            // HEAP_DUMP_END; one walk serves every candidate, as they come in order.
            let mut walk = Reader::new(rest, body_start, id_size);
            let mut walk_ok = true;
            let found = unwrapped_length(declared as u32, rest.len() as u64, |len| {
                let len = len as usize;
                if len != rest.len() && !is_end_record(rest, len) {
                    return false;
                }
                while walk_ok && walk.offset() - body_start < len as u64 {
                    walk_ok = skip_sub_record(&mut walk).is_ok();
                }
                walk_ok && walk.offset() - body_start == len as u64
            });
            if let Some(len) = found {
                self.done = false;
                let mut r = rec(&mut self.r, len as usize);
                r.wrapped = Some(declared as u32);
                return r;
            }
            if next == Next::CutShort {
                self.done = false;
                return rec(&mut self.r, declared);
            }
        }
        let name = tag::name(t);
        let mut probe = Reader::new(rest, body_start, id_size);
        let subs_follow = declared == 0
            && match skip_sub_record(&mut probe) {
                Ok(()) => true,
                Err(e) => e.kind == ErrorKind::Truncated,
            };
        if subs_follow {
            // HotSpot writes a segment's length after its contents: a 0 followed by
            // sub-records is a segment the JVM never finished.
            let end = body_start + rest.len() as u64;
            let mut r = rec(&mut self.r, rest.len());
            r.truncated = true;
            r.damage = Some(Error::at(
                ErrorKind::Truncated,
                end,
                format!(
                    "this {name} declares 0 bytes but sub-records follow it to the end of the \
                     file: the writer stopped before finishing it"
                ),
            ));
            return r;
        }
        let at = body_start + declared as u64;
        // Only bytes that start no record get here: known tags and the end were accepted.
        let found = rest.get(declared).copied().unwrap_or(0);
        let mut r = rec(&mut self.r, declared);
        r.damage = Some(Error::at(
            ErrorKind::BadLength,
            at,
            format!(
                "its length {declared} ends at byte {at}, where the next record should start, \
                 but there is byte 0x{found:02x}, not a record tag"
            ),
        ));
        r
    }
}

/// What starts at some offset of the file, as far as a record boundary is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    /// The end of the file, or a known tag whose length fits (heap-dump records may run
    /// past the end: they are truncated, not misplaced).
    Record,
    /// A known tag whose header or length the end of the file cuts short.
    CutShort,
    /// No record: an unknown tag not followed by a record.
    Garbage,
}

/// What starts at `at`, an offset into `rest` (the file from some record body on).
fn next_record(rest: &[u8], at: usize) -> Next {
    let Some(&t) = rest.get(at) else {
        return Next::Record;
    };
    let Some(len) = rest.get(at + 5..at + 9) else {
        return if tag::is_known(t) {
            Next::CutShort
        } else {
            Next::Garbage
        };
    };
    let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
    if !tag::is_known(t) {
        // Unknown records are skipped by their length; one is believed only if a known
        // record (or the end of the file) follows it, which bytes in the middle of
        // sub-records rarely manage.
        let after = (at + 9).checked_add(len);
        return match after.map(|a| rest.get(a)) {
            Some(Some(&n)) if tag::is_known(n) => Next::Record,
            Some(None) if after == Some(rest.len()) => Next::Record,
            _ => Next::Garbage,
        };
    }
    if t == tag::HEAP_DUMP || t == tag::HEAP_DUMP_SEGMENT || len <= rest.len() - at - 9 {
        Next::Record
    } else {
        Next::CutShort
    }
}

/// True if a complete HEAP_DUMP_END record starts at `at` in `rest`.
fn is_end_record(rest: &[u8], at: usize) -> bool {
    rest.get(at) == Some(&tag::HEAP_DUMP_END)
        && rest.get(at + 5..at + 9).is_some_and(|l| {
            u32::from_be_bytes(l.try_into().expect("4 bytes")) as usize <= rest.len() - at - 9
        })
}

/// The true length of a HEAP_DUMP record whose u4 `declared` length does not end at a
/// record boundary: the smallest `declared + k * 2^32` (k >= 1) that fits in the
/// `available` bytes from the body's start to the end of the file and for which `is_end`
/// (called with increasing lengths) says the body would end exactly at a valid boundary.
/// `None` if there is none: the length is corrupt, not wrapped.
pub fn unwrapped_length(
    declared: u32,
    available: u64,
    mut is_end: impl FnMut(u64) -> bool,
) -> Option<u64> {
    let mut len = declared as u64 + (1 << 32);
    while len <= available {
        if is_end(len) {
            return Some(len);
        }
        len += 1 << 32;
    }
    None
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.r.is_empty() {
            return None;
        }
        let offset = self.r.offset();
        let head = (|| -> Result<(u8, u32)> {
            let t = self.r.u1("record tag")?;
            self.r.u4("record time")?;
            Ok((t, self.r.u4("record length")?))
        })();
        let (t, len) = match head {
            Ok(h) => h,
            Err(e) => {
                self.done = true;
                return Some(Err(e.in_record("record header", offset)));
            }
        };
        let len = len as usize;
        let heap = t == tag::HEAP_DUMP || t == tag::HEAP_DUMP_SEGMENT;
        if len > self.r.remaining() {
            self.done = true;
            if heap {
                let end = self.r.offset() + self.r.remaining() as u64;
                let body = self.r.split(self.r.remaining(), "body").expect("in bounds");
                return Some(Ok(Record {
                    tag: t,
                    offset,
                    body,
                    truncated: true,
                    wrapped: None,
                    damage: Some(Error::at(
                        ErrorKind::Truncated,
                        end,
                        "the file ends inside this heap-dump record",
                    )),
                }));
            }
            return Some(Err(Error::at(
                ErrorKind::Truncated,
                self.r.offset(),
                format!(
                    "record length {len} runs past the end of the file ({} bytes left)",
                    self.r.remaining()
                ),
            )
            .in_record(tag::name(t), offset)));
        }
        if heap {
            return Some(Ok(self.heap_record(t, offset, len)));
        }
        let body = self.r.split(len, "body").expect("length checked");
        Some(Ok(Record {
            tag: t,
            offset,
            body,
            truncated: false,
            wrapped: None,
            damage: None,
        }))
    }
}

/// One heap dump of a file: a run of heap-dump records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpSpan {
    /// File offset of its first heap-dump record.
    pub offset: u64,
    /// File offset just past its last heap-dump record.
    pub end: u64,
    /// Bytes of its heap-dump records, record headers included.
    pub bytes: u64,
    /// Number of its heap-dump records (HEAP_DUMP and HEAP_DUMP_SEGMENT).
    pub segments: u64,
    /// True if it has HEAP_DUMP_SEGMENT records, which a HEAP_DUMP_END should close.
    pub segmented: bool,
    /// True if a HEAP_DUMP_END closes it.
    pub terminated: bool,
}

/// Groups heap-dump records into dumps. `records` holds `(tag, offset, end)` of every
/// HEAP_DUMP, HEAP_DUMP_SEGMENT and HEAP_DUMP_END record, in file order.
///
/// HEAP_DUMP_END ends a dump. Writers close a segmented dump with it but never a 1.0.1-style
/// HEAP_DUMP record, so in a file without any HEAP_DUMP_END each HEAP_DUMP record is a dump
/// of its own (the old hprof agent appended one per dump request).
pub fn group_dumps(records: &[(u8, u64, u64)]) -> Vec<DumpSpan> {
    let ended = records.iter().any(|r| r.0 == tag::HEAP_DUMP_END);
    let mut dumps = Vec::new();
    let mut open: Option<DumpSpan> = None;
    for &(t, offset, end) in records {
        if t == tag::HEAP_DUMP_END {
            if let Some(mut d) = open.take() {
                d.terminated = true;
                dumps.push(d);
            }
            continue;
        }
        let alone = t == tag::HEAP_DUMP && !ended;
        if alone {
            dumps.extend(open.take());
        }
        let d = open.get_or_insert(DumpSpan {
            offset,
            end: offset,
            bytes: 0,
            segments: 0,
            segmented: false,
            terminated: false,
        });
        d.end = end;
        d.bytes += end - offset;
        d.segments += 1;
        d.segmented |= t == tag::HEAP_DUMP_SEGMENT;
        if alone {
            dumps.extend(open.take());
        }
    }
    dumps.extend(open);
    dumps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(id: u32) -> Vec<u8> {
        let mut v = b"JAVA PROFILE 1.0.2\0".to_vec();
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&0u64.to_be_bytes());
        v
    }

    #[test]
    fn header_names_version_and_id_size() {
        let h = parse_header(&header(8)).unwrap();
        assert_eq!((h.version, h.id_size, h.len), (2, IdSize::Eight, 31));
        assert_eq!(
            parse_header(&header(6)).unwrap_err().kind,
            ErrorKind::BadIdSize
        );
        let e = parse_header(b"PK\x03\x04 not a dump at all").unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadMagic);
        assert!(e.to_string().contains("expected \"JAVA PROFILE 1.0.2\""));
        let e = parse_header(b"JAVA PROFILE 1.0.9\0\0\0\0\x08").unwrap_err();
        assert!(e.to_string().contains("unsupported format version"));
    }

    #[test]
    fn records_walk_and_report_truncation() {
        let mut v = header(4);
        v.extend_from_slice(&[tag::UTF8, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, b'x']);
        v.extend_from_slice(&[tag::HEAP_DUMP_SEGMENT, 0, 0, 0, 0, 0, 0, 0, 100, 1, 2]);
        let h = parse_header(&v).unwrap();
        let recs: Vec<_> = Records::new(&v, &h).collect();
        assert_eq!(recs.len(), 2);
        let r0 = recs[0].as_ref().unwrap();
        assert_eq!((r0.tag, r0.offset, r0.body.remaining()), (tag::UTF8, 31, 5));
        let r1 = recs[1].as_ref().unwrap();
        assert!(r1.truncated);
        assert_eq!(r1.body.remaining(), 2);
        // A truncated non-heap record is an error naming it.
        let mut w = header(4);
        w.extend_from_slice(&[tag::LOAD_CLASS, 0, 0, 0, 0, 0, 0, 0, 16, 1]);
        let h = parse_header(&w).unwrap();
        let e = Records::new(&w, &h).next().unwrap().unwrap_err();
        assert!(e.to_string().contains("LOAD_CLASS"), "{e}");
    }

    /// A record header: tag, time 0, length.
    fn rec(t: u8, len: u32) -> Vec<u8> {
        let mut v = vec![t, 0, 0, 0, 0];
        v.extend_from_slice(&len.to_be_bytes());
        v
    }

    /// ROOT_UNKNOWN sub-records (5 bytes each with 4-byte ids).
    fn roots(n: u32) -> Vec<u8> {
        (0..n).flat_map(|i| [0xFF, 0, 0, 0, i as u8 + 1]).collect()
    }

    #[test]
    fn unwrapped_length_takes_the_smallest_wrap_that_ends_at_a_boundary() {
        const G4: u64 = 1 << 32;
        let mut asked = Vec::new();
        let end = 100 + 2 * G4;
        let got = unwrapped_length(100, 3 * G4 + 500, |l| {
            asked.push(l);
            l == end || l == 100 + 3 * G4
        });
        assert_eq!(got, Some(end));
        // Candidates come in order, each once, starting one wrap up.
        assert_eq!(asked, [100 + G4, end]);
        // No candidate fits in the file: the length is corrupt, not wrapped.
        let mut called = false;
        assert_eq!(
            unwrapped_length(100, G4 + 99, |_| {
                called = true;
                true
            }),
            None
        );
        assert!(!called);
        // A candidate that is exactly the end of the file counts.
        assert_eq!(unwrapped_length(7, G4 + 7, |l| l == G4 + 7), Some(G4 + 7));
        assert_eq!(unwrapped_length(7, 5 * G4, |_| false), None);
    }

    #[test]
    fn heap_record_lengths_must_end_where_a_record_starts() {
        // A segment of two roots whose length stops inside the second: the byte there is
        // no record tag, so the length is corrupt and the walk ends with the damage named.
        let mut v = header(4);
        v.extend(rec(tag::HEAP_DUMP_SEGMENT, 7));
        let body_at = v.len() as u64;
        v.extend(roots(2));
        v.extend(rec(tag::HEAP_DUMP_END, 0));
        let h = parse_header(&v).unwrap();
        let recs: Vec<_> = Records::new(&v, &h).map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 1);
        let e = recs[0].damage.as_ref().expect("damage reported");
        assert_eq!(e.kind, ErrorKind::BadLength);
        assert_eq!(e.offset, Some(body_at + 7));
        assert_eq!(recs[0].body.remaining(), 7);
        assert!(e.to_string().contains("not a record tag"), "{e}");

        // The right length: two records, no damage.
        let mut v = header(4);
        v.extend(rec(tag::HEAP_DUMP_SEGMENT, 10));
        v.extend(roots(2));
        v.extend(rec(tag::HEAP_DUMP_END, 0));
        let recs: Vec<_> = Records::new(&v, &h).map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 2);
        assert!(recs
            .iter()
            .all(|r| r.damage.is_none() && r.wrapped.is_none()));

        // A zero-length segment at the very end is just empty.
        let mut v = header(4);
        v.extend(rec(tag::HEAP_DUMP_SEGMENT, 10));
        v.extend(roots(2));
        v.extend(rec(tag::HEAP_DUMP_SEGMENT, 0));
        let recs: Vec<_> = Records::new(&v, &h).map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 2);
        assert!(recs[1].damage.is_none() && recs[1].body.is_empty());

        // A zero length followed by sub-records is a segment the writer never finished:
        // truncated, body to the end of the file, last sub-record cut.
        let mut v = header(4);
        v.extend(rec(tag::HEAP_DUMP_SEGMENT, 0));
        v.extend(roots(3));
        v.truncate(v.len() - 2);
        let recs: Vec<_> = Records::new(&v, &h).map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 1);
        assert!(recs[0].truncated);
        assert_eq!(recs[0].body.remaining(), 13);
        let e = recs[0].damage.as_ref().unwrap();
        assert_eq!(
            (e.kind, e.offset),
            (ErrorKind::Truncated, Some(v.len() as u64))
        );
        assert!(e.to_string().contains("declares 0 bytes"), "{e}");

        // A string record cut by the end of the file after a good segment: the string is
        // what is truncated, not the segment.
        let mut v = header(4);
        v.extend(rec(tag::HEAP_DUMP_SEGMENT, 10));
        v.extend(roots(2));
        v.extend(rec(tag::UTF8, 50));
        v.extend([0, 0, 0, 9]);
        let recs: Vec<_> = Records::new(&v, &h).collect();
        assert_eq!(recs.len(), 2);
        assert!(recs[0].as_ref().unwrap().damage.is_none());
        let e = recs[1].as_ref().unwrap_err();
        assert!(e.to_string().contains("truncated UTF8"), "{e}");

        // An unknown record right after a segment is skipped like any other, as long as a
        // record follows it.
        let mut v = header(4);
        v.extend(rec(tag::HEAP_DUMP_SEGMENT, 10));
        v.extend(roots(2));
        v.extend(rec(0x77, 2));
        v.extend([1, 2]);
        v.extend(rec(tag::HEAP_DUMP_END, 0));
        let recs: Vec<_> = Records::new(&v, &h).map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 3);
        assert!(recs[0].damage.is_none());

        // A HEAP_DUMP too short, with no wrap that fits: corrupt, not unwrapped.
        let mut v = header(4);
        v.extend(rec(tag::HEAP_DUMP, 3));
        v.extend(roots(2));
        let recs: Vec<_> = Records::new(&v, &h).map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].damage.as_ref().unwrap().kind, ErrorKind::BadLength);
        assert!(recs[0].wrapped.is_none());
    }

    #[test]
    fn heap_dumps_are_delimited_by_heap_dump_end() {
        use tag::{HEAP_DUMP as HD, HEAP_DUMP_END as END, HEAP_DUMP_SEGMENT as SEG};
        let span = |offset, end, segments, segmented, terminated| DumpSpan {
            offset,
            end,
            bytes: end - offset,
            segments,
            segmented,
            terminated,
        };
        // Two segmented dumps, the second never closed.
        let d = group_dumps(&[(SEG, 10, 20), (SEG, 20, 30), (END, 30, 39), (SEG, 50, 60)]);
        assert_eq!(
            d,
            [span(10, 30, 2, true, true), span(50, 60, 1, true, false)]
        );
        // 1.0.1: each HEAP_DUMP is a dump when the file has no HEAP_DUMP_END at all.
        let d = group_dumps(&[(HD, 10, 20), (HD, 30, 40)]);
        assert_eq!(
            d,
            [span(10, 20, 1, false, false), span(30, 40, 1, false, false)]
        );
        // With a HEAP_DUMP_END, HEAP_DUMP records before it are parts of one dump.
        let d = group_dumps(&[(HD, 10, 20), (HD, 20, 30), (END, 30, 39)]);
        assert_eq!(d, [span(10, 30, 2, false, true)]);
        // An END with nothing open is no dump; non-contiguous records add their own bytes.
        let d = group_dumps(&[(END, 5, 14), (SEG, 20, 30), (SEG, 40, 45), (END, 45, 54)]);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].offset, d[0].end, d[0].bytes), (20, 45, 15));
        assert!(group_dumps(&[]).is_empty());
    }
}
