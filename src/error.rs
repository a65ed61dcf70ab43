//! Errors that point at a byte.
//!
//! Every failure to read a dump becomes an [`Error`] carrying the byte offset in the
//! (inflated) dump where reading went wrong, and, when known, the record or sub-record that
//! was being read. The message is attached where the error is raised, so it names the field
//! that was expected ("truncated INSTANCE_DUMP at 0x1f40, expected 8-byte object id").
//! Formatting happens only when an error is displayed, never on the parsing hot path.

use std::borrow::Cow;
use std::fmt;

/// What kind of thing went wrong; decides nothing but the wording and tests match on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be opened, mapped or read.
    Io,
    /// The file does not start with a known `JAVA PROFILE 1.0.x` header.
    BadMagic,
    /// The header names an identifier size other than 4 or 8 bytes.
    BadIdSize,
    /// The input ended inside a record or sub-record.
    Truncated,
    /// A heap-dump sub-record tag that no known format defines.
    UnknownSubRecord,
    /// A length or count field that cannot be right (points past its record, overflows).
    BadLength,
    /// A basic-type code outside the HPROF set.
    BadType,
    /// The dump is well formed but inconsistent (e.g. an instance of an undefined class).
    Inconsistent,
    /// The gzip stream is corrupt.
    Gzip,
    /// An object id given by the user does not exist in the dump.
    NoSuchObject,
    /// The heap dump asked for (`--dump N`) is not in the file.
    NoSuchDump,
    /// The analysis would need more memory than allowed.
    Resources,
}

/// A failure with the byte offset it happened at.
#[derive(Clone, Debug)]
pub struct Error {
    /// The category, for matching in tests and exit-code decisions.
    pub kind: ErrorKind,
    /// Byte offset where the problem was found, if it concerns bytes: in the inflated dump,
    /// except for `Gzip` errors, whose offsets are in the compressed file.
    pub offset: Option<u64>,
    /// The enclosing record or sub-record: its name and start offset.
    pub record: Option<(&'static str, u64)>,
    /// What was expected or found, as a sentence fragment.
    pub detail: Cow<'static, str>,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error at a byte offset.
    pub fn at(kind: ErrorKind, offset: u64, detail: impl Into<Cow<'static, str>>) -> Error {
        Error {
            kind,
            offset: Some(offset),
            record: None,
            detail: detail.into(),
        }
    }

    /// An error that concerns no particular byte.
    pub fn new(kind: ErrorKind, detail: impl Into<Cow<'static, str>>) -> Error {
        Error {
            kind,
            offset: None,
            record: None,
            detail: detail.into(),
        }
    }

    /// Names the record being read when the error happened, unless a deeper one is named.
    pub fn in_record(mut self, name: &'static str, start: u64) -> Error {
        if self.record.is_none() {
            self.record = Some((name, start));
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Io => "cannot read",
            ErrorKind::BadMagic => "not an HPROF heap dump",
            ErrorKind::BadIdSize => "unsupported identifier size",
            ErrorKind::Truncated => "truncated",
            ErrorKind::UnknownSubRecord => "unknown heap-dump sub-record",
            ErrorKind::BadLength => "corrupt length",
            ErrorKind::BadType => "corrupt basic type",
            ErrorKind::Inconsistent => "inconsistent dump",
            ErrorKind::Gzip => "corrupt gzip data",
            ErrorKind::NoSuchObject => "no such object",
            ErrorKind::NoSuchDump => "no such heap dump",
            ErrorKind::Resources => "not enough memory",
        };
        write!(f, "{what}")?;
        if let Some((name, start)) = self.record {
            write!(f, " {name}")?;
            if let Some(off) = self.offset {
                write!(f, " at byte {off} (0x{off:x}), record at 0x{start:x}")?;
            } else {
                write!(f, " (record at 0x{start:x})")?;
            }
        } else if let Some(off) = self.offset {
            write!(f, " at byte {off} (0x{off:x})")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
