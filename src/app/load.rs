//! Opening a dump file: memory-mapped as it is, or inflated from gzip.

use std::fs::File;

use memmap2::Mmap;

use crate::error::{Error, ErrorKind};
use crate::hprof::gz;
use crate::progress::Progress;

use super::DumpOptions;

/// The dump's bytes: mapped, or inflated from gzip.
pub(crate) enum Bytes {
    Mapped(Mmap),
    Inflated(gz::Inflated),
}

impl Bytes {
    /// Whether the bytes were inflated from gzip.
    pub(crate) fn gzip(&self) -> bool {
        matches!(self, Bytes::Inflated(_))
    }

    /// Whether the bytes live in anonymous memory (gzip inflated into memory rather than
    /// into a temporary file), which the memory estimate must count.
    pub(crate) fn anonymous(&self) -> bool {
        matches!(self, Bytes::Inflated(i) if i.anonymous())
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Inflated(i) => i,
        }
    }
}

/// Opens and maps the dump, inflating gzip input.
pub(crate) fn load(opts: &DumpOptions, progress: &dyn Progress) -> Result<Bytes, Error> {
    let path = &opts.path;
    let file = File::open(path).map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
    if !meta.is_file() {
        return Err(Error::new(ErrorKind::Io, "not a regular file"));
    }
    if meta.len() == 0 {
        return Err(Error::at(ErrorKind::Truncated, 0, "the file is empty"));
    }
    // SAFETY: the map is read-only and private to this process. If another process
    // truncates the file while we read it, accesses past the new end raise SIGBUS; heap
    // dumps are written once and then only read, so we accept that risk, as ripgrep does
    // for the files it searches.
    let map = unsafe { Mmap::map(&file) }
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot map: {e}")))?;
    if gz::is_gzip(&map) {
        progress.start("inflating gzip", map.len() as u64);
        let report = |n: u64| progress.advance(n);
        let inflated = gz::inflate(&map, &opts.temp_dir, &report);
        progress.finish();
        return Ok(Bytes::Inflated(inflated?));
    }
    Ok(Bytes::Mapped(map))
}
