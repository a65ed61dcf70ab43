//! A bounds-checked big-endian cursor over a byte slice that knows its file offset.
//!
//! Every read checks the remaining length and advances; `split` hands out a sub-reader
//! for exactly one record body, so a parser can never run past its record into the next
//! one (the discipline of gimli's `Reader`). Errors carry the absolute file offset.

use crate::error::{Error, ErrorKind, Result};
use crate::hprof::format::IdSize;

/// A cursor over `data`, whose first byte sits at file offset `base`.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
    id_size: IdSize,
}

impl<'a> Reader<'a> {
    /// A reader over `data`, which starts at file offset `base`.
    pub fn new(data: &'a [u8], base: u64, id_size: IdSize) -> Reader<'a> {
        Reader {
            data,
            pos: 0,
            base,
            id_size,
        }
    }

    /// The identifier size object ids are read with.
    #[inline]
    pub fn id_size(&self) -> IdSize {
        self.id_size
    }

    /// Absolute file offset of the next byte to read.
    #[inline]
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Bytes left to read.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// True when nothing is left.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos == self.data.len()
    }

    /// The unread rest, without consuming it.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    #[cold]
    fn short(&self, need: usize, what: &'static str) -> Error {
        Error::at(
            ErrorKind::Truncated,
            self.offset(),
            format!(
                "expected {what} ({need} bytes), only {} left",
                self.remaining()
            ),
        )
    }

    /// Consumes `n` bytes and returns them; `what` names them in the error.
    #[inline]
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.short(n, what));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Skips `n` bytes.
    #[inline]
    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<()> {
        self.bytes(n, what).map(|_| ())
    }

    /// Hands out a reader over the next `n` bytes and moves past them.
    #[inline]
    pub fn split(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>> {
        let start = self.offset();
        let data = self.bytes(n, what)?;
        Ok(Reader::new(data, start, self.id_size))
    }

    /// Reads one byte.
    #[inline]
    pub fn u1(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.bytes(1, what)?[0])
    }

    /// Reads a big-endian u16.
    #[inline]
    pub fn u2(&mut self, what: &'static str) -> Result<u16> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Reads a big-endian u32.
    #[inline]
    pub fn u4(&mut self, what: &'static str) -> Result<u32> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a big-endian u64.
    #[inline]
    pub fn u8(&mut self, what: &'static str) -> Result<u64> {
        let b = self.bytes(8, what)?;
        Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }

    /// Reads an object identifier of the dump's identifier size, widened to u64.
    #[inline]
    pub fn id(&mut self, what: &'static str) -> Result<u64> {
        match self.id_size {
            IdSize::Four => self.u4(what).map(u64::from),
            IdSize::Eight => self.u8(what),
        }
    }
}

/// Reads an identifier from the front of `b` (which the caller has bounds-checked).
#[inline]
pub fn id_at(b: &[u8], id_size: IdSize) -> u64 {
    match id_size {
        IdSize::Four => u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64,
        IdSize::Eight => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_advance_and_stop_at_the_end() {
        let data = [0, 1, 0, 0, 0, 2, 0xff];
        let mut r = Reader::new(&data, 100, IdSize::Four);
        assert_eq!(r.u2("a").unwrap(), 1);
        assert_eq!(r.u4("b").unwrap(), 2);
        assert_eq!(r.offset(), 106);
        let e = r.u4("c").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated);
        assert_eq!(e.offset, Some(106));
        // A failed read consumes nothing.
        assert_eq!(r.u1("d").unwrap(), 0xff);
        assert!(r.is_empty());
    }

    #[test]
    fn split_confines_a_sub_reader() {
        let data = [0, 0, 0, 7, 9, 9];
        let mut r = Reader::new(&data, 0, IdSize::Four);
        let mut s = r.split(4, "body").unwrap();
        assert_eq!(s.id("id").unwrap(), 7);
        assert!(s.u1("more").is_err());
        assert_eq!(r.u1("next").unwrap(), 9);
    }
}
