//! The file header and the top-level record stream.
//!
//! A record is `u1 tag, u4 microseconds since the header's timestamp, u4 body length, body`.
//! [`Records`] walks them without looking inside bodies, so the walk costs one bounds check
//! per record: this is the floor every later pass is measured against.

use crate::error::{Error, ErrorKind, Result};
use crate::hprof::format::{self, tag, IdSize};
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
}

/// Iterates the records that follow the header.
///
/// A record whose length runs past the end of the file ends the walk: it is returned with
/// `truncated` set if it is a heap-dump record (whose complete sub-records can be salvaged),
/// and as an error otherwise.
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
        if len > self.r.remaining() {
            self.done = true;
            if t == tag::HEAP_DUMP || t == tag::HEAP_DUMP_SEGMENT {
                let body = self.r.split(self.r.remaining(), "body").expect("in bounds");
                return Some(Ok(Record {
                    tag: t,
                    offset,
                    body,
                    truncated: true,
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
        let body = self.r.split(len, "body").expect("length checked");
        Some(Ok(Record {
            tag: t,
            offset,
            body,
            truncated: false,
        }))
    }
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
}
