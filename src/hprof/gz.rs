//! Transparent reading of `.hprof.gz`: inflates a gzip file into one contiguous, read-only
//! byte map, in parallel when the file is the JVM's own multi-member format.
//!
//! # The JVM's format
//!
//! `jcmd PID GC.heap_dump -gz=N FILE` and `-XX:HeapDumpGzipLevel=N` do not write one gzip
//! stream. HotSpot (`src/hotspot/share/services/heapDumperCompression.cpp`, calling
//! `ZIP_GZip_Fully` in `src/java.base/share/native/libzip/zip_util.c`) cuts the dump into
//! blocks of at most `BLOCKSIZE` bytes (1 MiB) and compresses each block on its own, with
//! `deflateInit2(level, windowBits 31)` and `deflate(Z_FINISH)`, into a complete gzip member
//! with its own header, CRC-32 and ISIZE trailer; the file is the concatenation of the
//! members, in order. So:
//!
//! * The first member's header carries the comment `HPROF BLOCKSIZE=1048576` (flag `FCOMMENT`,
//!   MTIME 0, OS 0, set through `deflateSetHeader`); the other members have zlib's default
//!   header: flags 0, MTIME 0, XFL 4/0/2 for level 1/2..8/9, OS 3 (Unix). The compressor's
//!   "first block" flag is not synchronised between the threads compressing blocks, so the
//!   comment can appear on the first *few* members (a JDK 17 dump of 1,068 members, made with
//!   `jcmd GC.heap_dump -gz=1`, had it on two: `1f 8b 08 10 00000000 04 00` and then
//!   `1f 8b 08 00 00000000 04 03` on all others).
//! * Every member inflates to at most `BLOCKSIZE` bytes, but not always exactly: the writer
//!   hands over blocks that are nearly full (JDK 17: 548 of 1,068 members were exactly 1 MiB,
//!   the others a few bytes to a few hundred bytes short); the newer two-phase parallel dump
//!   (`VM_HeapDumpMerge` in `heapDumper.cpp`) concatenates separately compressed segment
//!   files, each ending in a short member; and the last member is short. So each member's size
//!   is taken from its own ISIZE trailer, with `BLOCKSIZE` only as an upper bound.
//! * Deflate data never spans members, so members inflate independently.
//!
//! # The parallel strategy
//!
//! 1. The first member's header must carry the `HPROF BLOCKSIZE=` comment; otherwise the file
//!    is plain gzip (see below).
//! 2. The compressed bytes are scanned, in parallel chunks, for *candidate* member starts: a
//!    header shaped like HotSpot's (magic, method 8, flags 0 or `FCOMMENT` with the
//!    `HPROF BLOCKSIZE=` comment, MTIME 0, XFL 0/2/4) whose preceding four bytes, read as the
//!    previous member's ISIZE, are at most `BLOCKSIZE`.
//! 3. Each candidate segment's inflated size is taken from the ISIZE just before the next
//!    candidate (the last from the file's last four bytes), sanity-checked against `BLOCKSIZE`
//!    and the deflate limit of 1032:1. Their sum sizes one anonymous map (or, when that would
//!    take more than half the available memory or cannot be had, a shared map of an unlinked
//!    temporary file in `temp_dir`), cut into one slice per segment.
//! 4. Segments inflate with rayon, each straight into its slice. A segment is accepted only if
//!    its deflate stream ends exactly eight bytes before the next candidate, fills its slice
//!    exactly, and its CRC-32 and ISIZE match the trailer.
//!
//! If every segment is accepted, the segments chain from byte 0 to the end of the file as
//! complete members, which is exactly how a sequential decoder would have parsed the file
//! (a member's end is fixed by its deflate stream), so the result is correct.
//!
//! # The fallback
//!
//! A candidate can be false: stored (uncompressed) deflate blocks copy heap bytes verbatim, and
//! a heap holding gzip data (an HTTP cache, say) holds gzip headers. Then a segment fails, and
//! the true member list is rebuilt by walking from byte 0: an accepted segment whose start is a
//! known member start is a member; anything else is inflated sequentially to find where its
//! member really ends. Corrupt or truncated data is reported by this walk with its compressed
//! byte offset. With the true list, accepted members are moved into place (false candidates
//! only ever over-estimate, so they move towards the start of the same map) and the rest are
//! inflated into their slices; if the list does not fit the first layout, everything is
//! inflated again into a fresh map. Correctness never depends on the guesses, only speed.
//!
//! # Cost
//!
//! The scan reads the compressed bytes once (about 0.1 s for 200 MiB); each member's CRC-32 is
//! checked over its output (0.06 s per GiB); the rest is inflation and the kernel zeroing the
//! fresh pages of the output map (about 0.5 s per GiB, spread over the threads). With flate2's
//! `zlib-rs` backend, a 1.1 GB dump (208 MiB, 1,068 members) takes about 1.9 CPU-seconds.
//!
//! # Plain gzip
//!
//! Any other gzip file (`gzip -9`, one member or several of unknown size) is inflated member by
//! member on one thread into a temporary file in the caller's directory, unlinked as soon as it
//! is created, and then mapped. Nothing holds the whole dump on the heap.
//!
//! No size read from the file is trusted before it is checked against the compressed length;
//! corrupt input yields [`ErrorKind::Gzip`] or [`ErrorKind::Truncated`] with the offset of the
//! offending byte *in the compressed file*, never a panic.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use flate2::{Crc, Decompress, FlushDecompress, Status};
use memmap2::{Mmap, MmapMut};
use rayon::prelude::*;

use crate::error::{Error, ErrorKind, Result};

/// True if `data` starts with the gzip magic.
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&GZIP_MAGIC)
}

/// What inflation produced: the whole dump, readable as bytes.
///
/// Backed by a read-only memory map, either anonymous memory or an unlinked temporary file,
/// so the bytes live outside the Rust heap and vanish when this is dropped.
#[derive(Debug)]
pub struct Inflated {
    /// The map; may be longer than the dump (never shorter).
    map: Mmap,
    /// Inflated length of the dump.
    len: usize,
    /// Number of gzip members in the file.
    members: usize,
    /// Whether the block-parallel path was taken.
    parallel: bool,
    /// Whether the map is anonymous memory rather than a temporary file.
    anonymous: bool,
}

impl Inflated {
    /// The inflated dump.
    pub fn bytes(&self) -> &[u8] {
        &self.map[..self.len]
    }

    /// How many gzip members the compressed file held.
    pub fn members(&self) -> usize {
        self.members
    }

    /// True if the file was the JVM's multi-member format and its members were inflated
    /// concurrently (on as many threads as the current rayon pool has); false for the
    /// sequential path.
    pub fn parallel(&self) -> bool {
        self.parallel
    }

    /// True if the inflated dump lives in anonymous memory (it then counts against the
    /// machine's memory), false if in a temporary file the kernel can page out.
    pub fn anonymous(&self) -> bool {
        self.anonymous
    }
}

impl Deref for Inflated {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.bytes()
    }
}

/// Inflates a gzip file's bytes (already memory-mapped by the caller). `temp_dir` is where a
/// temporary file may be created when the inflated size is not known in advance.
/// `progress(done_compressed_bytes)` is called from time to time (it must be Sync: called from
/// worker threads), one call at a time and with a growing total, ending with `data.len()`.
///
/// The JVM's multi-member format is inflated in parallel; any other gzip sequentially (see the
/// module documentation). Errors: [`ErrorKind::Gzip`] for corrupt data, [`ErrorKind::Truncated`]
/// when the file ends inside a member, both with the compressed byte offset;
/// [`ErrorKind::Io`] when the temporary file cannot be made.
pub fn inflate(data: &[u8], temp_dir: &Path, progress: &(dyn Fn(u64) + Sync)) -> Result<Inflated> {
    if !is_gzip(data) {
        return Err(Error::at(ErrorKind::Gzip, 0, "no gzip magic (1f 8b)"));
    }
    let inflated = match jvm_block_size(data) {
        Some(block) => inflate_jvm(data, block, temp_dir, progress)?,
        None => inflate_sequential(data, temp_dir, progress)?,
    };
    progress(data.len() as u64);
    Ok(inflated)
}

/// The two bytes every gzip member starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Compression method 8, deflate: the only one gzip defines.
const CM_DEFLATE: u8 = 8;
/// Header flag: the header carries a CRC-16.
const FHCRC: u8 = 0x02;
/// Header flag: an extra field follows.
const FEXTRA: u8 = 0x04;
/// Header flag: a zero-terminated file name follows.
const FNAME: u8 = 0x08;
/// Header flag: a zero-terminated comment follows.
const FCOMMENT: u8 = 0x10;
/// Header flags gzip reserves; a member with any of them set is corrupt.
const FRESERVED: u8 = 0xe0;
/// Fixed part of a gzip member header.
const HEADER_LEN: usize = 10;
/// CRC-32 and ISIZE.
const TRAILER_LEN: usize = 8;
/// The comment HotSpot puts in its first member(s), followed by the block size in decimal.
const JVM_COMMENT: &[u8] = b"HPROF BLOCKSIZE=";
/// Longest JVM comment accepted, terminator excluded (the prefix and 10 digits).
const JVM_COMMENT_MAX: usize = 26;
/// Largest block size believed: ISIZE is 32 bits, and HotSpot uses 1 MiB.
const MAX_BLOCK: u64 = 1 << 30;
/// Deflate cannot expand data by more than this ratio (258 bytes from a 2-bit code, roughly).
const MAX_RATIO: u64 = 1032;
/// Bytes of compressed input scanned for member headers per parallel task.
const SCAN_CHUNK: usize = 4 << 20;
/// Output buffer of the sequential inflater.
const SEQ_BUF: usize = 1 << 20;
/// Compressed bytes between progress calls on the sequential path.
const SEQ_PROGRESS_STEP: u64 = 4 << 20;

/// `BLOCKSIZE` from the JVM comment in the first member's header, if there is one.
fn jvm_block_size(data: &[u8]) -> Option<u64> {
    let (_, block) = jvm_header(data, 0)?;
    block
}

/// Recognises a member header shaped like HotSpot's at `pos`: returns its length and, for the
/// commented variant, the block size named by the comment. Anything else is `None`.
fn jvm_header(data: &[u8], pos: usize) -> Option<(usize, Option<u64>)> {
    let h = data.get(pos..pos.checked_add(HEADER_LEN)?)?;
    if h[..2] != GZIP_MAGIC || h[2] != CM_DEFLATE || h[4..8] != [0; 4] || !matches!(h[8], 0 | 2 | 4)
    {
        return None;
    }
    match h[3] {
        0 => Some((HEADER_LEN, None)),
        FCOMMENT => {
            let rest = &data[pos + HEADER_LEN..];
            let window = &rest[..rest.len().min(JVM_COMMENT_MAX + 1)];
            let nul = window.iter().position(|&b| b == 0)?;
            let digits = window[..nul].strip_prefix(JVM_COMMENT)?;
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let block = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
            if block == 0 || block > MAX_BLOCK {
                return None;
            }
            Some((HEADER_LEN + nul + 1, Some(block)))
        }
        _ => None,
    }
}

/// Reads a little-endian u32 at `pos`, if four bytes are there.
fn le_u32(data: &[u8], pos: usize) -> Option<u32> {
    let b = data.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// True if a member of the JVM's format may start at `pos` (> 0): its header looks like
/// HotSpot's and the four bytes before it are a believable ISIZE of the member before.
fn is_candidate(data: &[u8], pos: usize, block: u64) -> bool {
    pos >= HEADER_LEN + TRAILER_LEN
        && le_u32(data, pos - 4).is_some_and(|isize| u64::from(isize) <= block)
        && jvm_header(data, pos).is_some()
}

/// All candidate member starts after byte 0, ascending; the scan runs in parallel chunks.
fn find_candidates(data: &[u8], block: u64) -> Vec<usize> {
    let chunks = data.len().div_ceil(SCAN_CHUNK);
    let found: Vec<Vec<usize>> = (0..chunks)
        .into_par_iter()
        .map(|c| {
            let start = (c * SCAN_CHUNK).max(1);
            let end = ((c + 1) * SCAN_CHUNK).min(data.len());
            let mut hits = Vec::new();
            let mut pos = start;
            while pos < end {
                match data[pos..end].iter().position(|&b| b == GZIP_MAGIC[0]) {
                    Some(i) => {
                        pos += i;
                        if is_candidate(data, pos, block) {
                            hits.push(pos);
                        }
                        pos += 1;
                    }
                    None => break,
                }
            }
            hits
        })
        .collect();
    found.concat()
}

/// A stretch of compressed bytes believed to be one member, and its believed inflated size
/// (`None` when the size read for it is impossible).
#[derive(Clone, Copy, Debug)]
struct Segment {
    start: usize,
    end: usize,
    size: Option<usize>,
}

/// A member of the true member list, and where its inflated bytes already are, if the first
/// pass put them somewhere.
#[derive(Clone, Copy, Debug)]
struct Member {
    start: usize,
    end: usize,
    size: usize,
    done_at: Option<usize>,
}

/// The JVM format: the parallel strategy and its fallback (module documentation).
fn inflate_jvm(
    data: &[u8],
    block: u64,
    temp_dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Inflated> {
    let mut bounds = vec![0];
    bounds.extend(find_candidates(data, block));
    bounds.push(data.len());
    let segments: Vec<Segment> = bounds
        .windows(2)
        .map(|w| {
            let (start, end) = (w[0], w[1]);
            let limit = block.min(MAX_RATIO.saturating_mul((end - start) as u64));
            let size = le_u32(data, end.wrapping_sub(4))
                .filter(|_| end - start >= HEADER_LEN + TRAILER_LEN)
                .map(u64::from)
                .filter(|&s| s <= limit)
                .and_then(|s| usize::try_from(s).ok());
            Segment { start, end, size }
        })
        .collect();
    // Each size is at most 1032 times its segment's length, so this cannot overflow on 64 bits.
    let first_total = segments
        .iter()
        .try_fold(0usize, |sum, s| sum.checked_add(s.size.unwrap_or(0)))
        .ok_or_else(|| Error::new(ErrorKind::Resources, "inflated size overflows"))?;
    let (mut map, mut anonymous) = alloc_output(first_total, temp_dir)?;

    // First pass: every segment straight into its slice of the map.
    let done = AtomicU64::new(0);
    let reported = Mutex::new(0u64);
    let accepted: Vec<bool> = {
        let slices = cut(
            &mut map[..first_total],
            segments.iter().map(|s| s.size.unwrap_or(0)),
        );
        segments
            .par_iter()
            .zip(slices)
            .map_init(
                || Decompress::new(false),
                |inflater, (seg, out)| {
                    let ok = seg.size.is_some()
                        && inflate_exact(data, seg.start, seg.end, out, inflater).is_ok();
                    let len = (seg.end - seg.start) as u64;
                    let now = done.fetch_add(len, Ordering::Relaxed) + len;
                    // Reported under a lock so the caller sees a running total that only grows.
                    if let Ok(mut last) = reported.lock() {
                        if now > *last {
                            *last = now;
                            progress(now);
                        }
                    }
                    ok
                },
            )
            .collect()
    };
    if accepted.iter().all(|&ok| ok) {
        return finish(map, anonymous, first_total, segments.len());
    }

    // Fallback: the true member list, walked from byte 0.
    let mut offsets = Vec::with_capacity(segments.len());
    let mut at = 0usize;
    for seg in &segments {
        offsets.push(at);
        at += seg.size.unwrap_or(0);
    }
    let members = true_members(data, &segments, &accepted, &offsets)?;
    let total = members
        .iter()
        .try_fold(0usize, |sum, m| sum.checked_add(m.size))
        .ok_or_else(|| Error::new(ErrorKind::Resources, "inflated size overflows"))?;
    let mut placed = Vec::with_capacity(members.len());
    let mut at = 0usize;
    for m in &members {
        placed.push(at);
        at += m.size;
    }
    let fits = total <= first_total
        && members
            .iter()
            .zip(&placed)
            .all(|(m, &to)| m.done_at.is_none_or(|from| to <= from));
    let members: Vec<Member> = if fits {
        // Moving towards the start, in ascending order, never overwrites bytes still to move.
        for (m, &to) in members.iter().zip(&placed) {
            if let Some(from) = m.done_at.filter(|&from| from != to) {
                map.copy_within(from..from + m.size, to);
            }
        }
        members
    } else {
        drop(map);
        (map, anonymous) = alloc_output(total, temp_dir)?;
        members
            .into_iter()
            .map(|m| Member { done_at: None, ..m })
            .collect()
    };
    let slices = cut(&mut map[..total], members.iter().map(|m| m.size));
    members
        .par_iter()
        .zip(slices)
        .filter(|(m, _)| m.done_at.is_none())
        .map_init(
            || Decompress::new(false),
            |inflater, (m, out)| inflate_exact(data, m.start, m.end, out, inflater),
        )
        .collect::<Result<()>>()?;
    finish(map, anonymous, total, members.len())
}

/// Walks the file from byte 0, member by member: an accepted segment starting where a member
/// starts is that member; anywhere else, the member is inflated (into nothing) to find its end.
fn true_members(
    data: &[u8],
    segments: &[Segment],
    accepted: &[bool],
    offsets: &[usize],
) -> Result<Vec<Member>> {
    let mut members = Vec::new();
    let mut inflater = Decompress::new(false);
    let mut scratch = vec![0u8; SEQ_BUF];
    let mut pos = 0;
    while pos < data.len() {
        let known = segments
            .binary_search_by_key(&pos, |s| s.start)
            .ok()
            .filter(|&i| accepted[i]);
        let member = match known {
            Some(i) => Member {
                start: pos,
                end: segments[i].end,
                size: segments[i].size.unwrap_or(0),
                done_at: Some(offsets[i]),
            },
            None => {
                let (end, size) = inflate_member(
                    data,
                    pos,
                    &mut inflater,
                    &mut scratch,
                    &mut |_| Ok(()),
                    &|_| {},
                )?;
                let size = usize::try_from(size)
                    .map_err(|_| Error::at(ErrorKind::Gzip, pos as u64, "member too large"))?;
                Member {
                    start: pos,
                    end,
                    size,
                    done_at: None,
                }
            }
        };
        members.push(member);
        pos = member.end;
    }
    Ok(members)
}

/// Cuts `out` into consecutive slices of the given lengths (which must sum to its length).
fn cut(mut out: &mut [u8], lens: impl Iterator<Item = usize>) -> Vec<&mut [u8]> {
    let mut slices = Vec::new();
    for len in lens {
        let (head, tail) = std::mem::take(&mut out).split_at_mut(len);
        slices.push(head);
        out = tail;
    }
    slices
}

/// Inflates the member spanning exactly `data[start..end]` into exactly `out`, checking that
/// the deflate stream ends right before the trailer, fills `out`, and matches CRC-32 and ISIZE.
fn inflate_exact(
    data: &[u8],
    start: usize,
    end: usize,
    out: &mut [u8],
    inflater: &mut Decompress,
) -> Result<()> {
    let bad = |at: usize, what: &str| {
        Error::at(
            ErrorKind::Gzip,
            at as u64,
            format!("gzip member at compressed byte {start}: {what}"),
        )
    };
    let header = header_len(data, start)?;
    let body_end = end
        .checked_sub(TRAILER_LEN)
        .filter(|&e| e >= start + header)
        .ok_or_else(|| bad(start, "shorter than its header and trailer"))?;
    let body = &data[start + header..body_end];
    inflater.reset(false);
    // Finish on a fresh stream lets miniz_oxide inflate straight into `out`.
    let status = inflater
        .decompress(body, out, FlushDecompress::Finish)
        .map_err(|e| {
            bad(
                start + header + inflater.total_in() as usize,
                &e.to_string(),
            )
        })?;
    if status != Status::StreamEnd || inflater.total_in() != body.len() as u64 {
        return Err(bad(
            body_end,
            "deflate data does not end where the member ends",
        ));
    }
    if inflater.total_out() != out.len() as u64 {
        return Err(bad(
            body_end,
            "inflated size differs from the size expected",
        ));
    }
    let mut crc = Crc::new();
    crc.update(out);
    if le_u32(data, body_end) != Some(crc.sum()) {
        return Err(bad(body_end, "CRC-32 mismatch"));
    }
    if le_u32(data, body_end + 4) != Some(out.len() as u32) {
        return Err(bad(body_end + 4, "ISIZE mismatch"));
    }
    Ok(())
}

/// Length of the gzip member header at `pos`, any variant (extra field, name, comment,
/// header CRC), checked.
fn header_len(data: &[u8], pos: usize) -> Result<usize> {
    let truncated = || {
        Error::at(
            ErrorKind::Truncated,
            data.len() as u64,
            format!("gzip stream ends inside the member header at compressed byte {pos}"),
        )
    };
    let h = data.get(pos..pos + HEADER_LEN).ok_or_else(truncated)?;
    if h[..2] != GZIP_MAGIC {
        return Err(Error::at(
            ErrorKind::Gzip,
            pos as u64,
            "expected a gzip member (1f 8b), found other bytes",
        ));
    }
    if h[2] != CM_DEFLATE {
        return Err(Error::at(
            ErrorKind::Gzip,
            pos as u64 + 2,
            format!("compression method {} is not deflate", h[2]),
        ));
    }
    let flags = h[3];
    if flags & FRESERVED != 0 {
        return Err(Error::at(
            ErrorKind::Gzip,
            pos as u64 + 3,
            "reserved header flags set",
        ));
    }
    let mut at = pos + HEADER_LEN;
    if flags & FEXTRA != 0 {
        let xlen = data.get(at..at + 2).ok_or_else(truncated)?;
        at += 2 + usize::from(u16::from_le_bytes([xlen[0], xlen[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let nul = data
                .get(at..)
                .and_then(|rest| rest.iter().position(|&b| b == 0));
            at += nul.ok_or_else(truncated)? + 1;
        }
    }
    if flags & FHCRC != 0 {
        let stored = data.get(at..at + 2).ok_or_else(truncated)?;
        let mut crc = Crc::new();
        crc.update(&data[pos..at]);
        if u16::from_le_bytes([stored[0], stored[1]]) != crc.sum() as u16 {
            return Err(Error::at(
                ErrorKind::Gzip,
                at as u64,
                "header CRC-16 mismatch",
            ));
        }
        at += 2;
    }
    if at > data.len() {
        return Err(truncated());
    }
    Ok(at - pos)
}

/// Inflates the member at `start` whatever its size, handing the bytes to `sink` in pieces of
/// at most `scratch.len()`; returns where the member ends and its inflated size. Reports
/// `start + consumed` to `progress` every few MiB.
fn inflate_member(
    data: &[u8],
    start: usize,
    inflater: &mut Decompress,
    scratch: &mut [u8],
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    progress: &dyn Fn(u64),
) -> Result<(usize, u64)> {
    let body = start + header_len(data, start)?;
    inflater.reset(false);
    let mut crc = Crc::new();
    let mut reported = 0u64;
    loop {
        let at = body + inflater.total_in() as usize;
        let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
        let status = inflater
            .decompress(&data[at..], scratch, FlushDecompress::None)
            .map_err(|e| {
                Error::at(
                    ErrorKind::Gzip,
                    (body + inflater.total_in() as usize) as u64,
                    format!("gzip member at compressed byte {start}: {e}"),
                )
            })?;
        let produced = (inflater.total_out() - out_before) as usize;
        crc.update(&scratch[..produced]);
        sink(&scratch[..produced])?;
        if status == Status::StreamEnd {
            break;
        }
        if produced == 0 && inflater.total_in() == in_before {
            let at = body + inflater.total_in() as usize;
            return Err(if at >= data.len() {
                Error::at(
                    ErrorKind::Truncated,
                    data.len() as u64,
                    format!("gzip stream ends inside the member at compressed byte {start}"),
                )
            } else {
                Error::at(ErrorKind::Gzip, at as u64, "deflate data makes no progress")
            });
        }
        if inflater.total_in() - reported >= SEQ_PROGRESS_STEP {
            reported = inflater.total_in();
            progress((body as u64) + reported);
        }
    }
    let trailer = body + inflater.total_in() as usize;
    let (Some(stored_crc), Some(stored_size)) = (le_u32(data, trailer), le_u32(data, trailer + 4))
    else {
        return Err(Error::at(
            ErrorKind::Truncated,
            data.len() as u64,
            format!("gzip stream ends inside the trailer of the member at compressed byte {start}"),
        ));
    };
    if stored_crc != crc.sum() {
        return Err(Error::at(
            ErrorKind::Gzip,
            trailer as u64,
            format!("gzip member at compressed byte {start}: CRC-32 mismatch"),
        ));
    }
    let size = inflater.total_out();
    if stored_size != size as u32 {
        return Err(Error::at(
            ErrorKind::Gzip,
            trailer as u64 + 4,
            format!("gzip member at compressed byte {start}: ISIZE mismatch"),
        ));
    }
    Ok((trailer + TRAILER_LEN, size))
}

/// Any gzip: members inflated one after the other into an unlinked temporary file, then mapped.
fn inflate_sequential(
    data: &[u8],
    temp_dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Inflated> {
    let mut file = temp_file(temp_dir)?;
    let mut inflater = Decompress::new(false);
    let mut scratch = vec![0u8; SEQ_BUF];
    let (mut pos, mut members, mut total) = (0usize, 0usize, 0u64);
    let mut write = |bytes: &[u8]| {
        file.write_all(bytes)
            .map_err(|e| io_error(temp_dir, "cannot write the inflated dump", e))
    };
    while pos < data.len() {
        let (end, size) =
            inflate_member(data, pos, &mut inflater, &mut scratch, &mut write, progress)?;
        progress(end as u64);
        (pos, members, total) = (end, members + 1, total + size);
    }
    let len = usize::try_from(total).map_err(|_| {
        Error::new(
            ErrorKind::Resources,
            "inflated dump exceeds the address space",
        )
    })?;
    // SAFETY: the file was unlinked when created and its handle never left this function, so no
    // one else can change or truncate it under the map.
    let map = unsafe { Mmap::map(&file) }
        .map_err(|e| io_error(temp_dir, "cannot map the inflated dump", e))?;
    if map.len() != len {
        return Err(Error::new(
            ErrorKind::Io,
            "temporary file has the wrong size after writing",
        ));
    }
    Ok(Inflated {
        map,
        len,
        members,
        parallel: false,
        anonymous: false,
    })
}

/// A writable map of `len` bytes: anonymous memory when that is granted and takes at most half
/// of the memory the system reports available, else an unlinked temporary file of that size in
/// `temp_dir`, whose pages the kernel can write back instead of running out of memory.
/// The flag says which (true: anonymous).
fn alloc_output(len: usize, temp_dir: &Path) -> Result<(MmapMut, bool)> {
    // A zero-length map is refused by some systems; one spare byte costs nothing.
    let map_len = len.max(1);
    if mem_available().is_none_or(|avail| map_len as u64 <= avail / 2) {
        if let Ok(map) = MmapMut::map_anon(map_len) {
            return Ok((map, true));
        }
    }
    Ok((file_output(map_len, temp_dir)?, false))
}

/// A writable map of `len` bytes over an unlinked temporary file in `temp_dir`.
fn file_output(len: usize, temp_dir: &Path) -> Result<MmapMut> {
    let file = temp_file(temp_dir)?;
    file.set_len(len as u64)
        .map_err(|e| io_error(temp_dir, "cannot size the temporary file", e))?;
    // SAFETY: the file was unlinked when created and only this map refers to it.
    unsafe { MmapMut::map_mut(&file) }
        .map_err(|e| io_error(temp_dir, "cannot map the temporary file", e))
}

/// Bytes of memory the system can give without swapping (Linux's `MemAvailable`), if known.
pub fn mem_available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Seals the output map read-only.
fn finish(map: MmapMut, anonymous: bool, len: usize, members: usize) -> Result<Inflated> {
    let map = map.make_read_only().map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot make the inflated dump read-only: {e}"),
        )
    })?;
    Ok(Inflated {
        map,
        len,
        members,
        parallel: true,
        anonymous,
    })
}

/// Creates a fresh file in `dir`, readable only by its owner, and unlinks it at once where the
/// platform allows (elsewhere it is left behind).
fn temp_file(dir: &Path) -> Result<File> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut last = None;
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(
            ".heapsleuth-{}-{nanos}-{n}.inflating",
            std::process::id()
        ));
        let mut options = OpenOptions::new();
        options.read(true).write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(file) => {
                // Best effort: where an open file cannot be unlinked it stays behind.
                let _ = std::fs::remove_file(&path);
                return Ok(file);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(io_error(dir, "cannot create a temporary file", e)),
        }
    }
    Err(io_error(
        dir,
        "cannot create a temporary file",
        last.unwrap_or_else(|| std::io::ErrorKind::AlreadyExists.into()),
    ))
}

/// An I/O error about the temporary directory.
fn io_error(dir: &Path, what: &str, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{what} in {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::{Compression, GzBuilder};
    use std::sync::atomic::AtomicU64;

    /// Deterministic bytes that compress somewhat, like a heap: runs, counters and noise.
    fn sample(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 4 {
                0 => out.extend_from_slice(b"java/lang/String"),
                1 => out.extend_from_slice(&(out.len() as u32).to_be_bytes()),
                2 => out.extend(std::iter::repeat_n(0, (x >> 8) as usize % 40)),
                _ => out.extend_from_slice(&x.to_le_bytes()),
            }
        }
        out.truncate(len);
        out
    }

    /// Incompressible bytes.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// One gzip member as zlib writes it by default (flags 0, MTIME 0).
    fn member(block: &[u8], level: Compression) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), level);
        enc.write_all(block).unwrap();
        enc.finish().unwrap()
    }

    /// One gzip member carrying HotSpot's comment.
    fn commented_member(block: &[u8], block_size: usize, level: Compression) -> Vec<u8> {
        let mut enc = GzBuilder::new()
            .comment(format!("HPROF BLOCKSIZE={block_size}"))
            .write(Vec::new(), level);
        enc.write_all(block).unwrap();
        enc.finish().unwrap()
    }

    /// The JVM's format from explicit blocks: the first `commented` members carry the comment.
    fn jvm_blocks(
        blocks: &[&[u8]],
        block_size: usize,
        commented: usize,
        level: Compression,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, block) in blocks.iter().enumerate() {
            assert!(block.len() <= block_size);
            if i < commented {
                out.extend(commented_member(block, block_size, level));
            } else {
                out.extend(member(block, level));
            }
        }
        out
    }

    /// The JVM's format: `data` cut into full blocks and a short last one.
    fn jvm(data: &[u8], block_size: usize) -> Vec<u8> {
        let blocks: Vec<&[u8]> = data.chunks(block_size).collect();
        jvm_blocks(&blocks, block_size, 1, Compression::fast())
    }

    /// Inflates `gz` and checks it against `expected`; returns what inflation said.
    fn check(gz: &[u8], expected: &[u8]) -> Inflated {
        let seen = AtomicU64::new(0);
        let out = inflate(gz, &std::env::temp_dir(), &|done| {
            seen.fetch_max(done, Ordering::Relaxed);
        })
        .unwrap_or_else(|e| panic!("inflate failed: {e}"));
        assert_eq!(out.len(), expected.len());
        assert!(out.bytes() == expected, "inflated bytes differ");
        assert_eq!(seen.load(Ordering::Relaxed), gz.len() as u64);
        out
    }

    /// Inflates `gz`, expecting an error.
    fn check_err(gz: &[u8]) -> Error {
        match inflate(gz, &std::env::temp_dir(), &|_| {}) {
            Ok(_) => panic!("inflated bad data without error"),
            Err(e) => e,
        }
    }

    #[test]
    fn recognises_gzip_magic() {
        assert!(is_gzip(&member(b"x", Compression::fast())));
        assert!(!is_gzip(b"JAVA PROFILE 1.0.2\0"));
        assert!(!is_gzip(&[0x1f]));
        assert!(!is_gzip(&[]));
    }

    #[test]
    fn single_jvm_member() {
        let data = sample(3000, 1);
        let out = check(&jvm(&data, 4096), &data);
        assert_eq!((out.members(), out.parallel()), (1, true));
    }

    #[test]
    fn many_members_last_short() {
        let data = sample(40 * 4096 + 123, 2);
        let out = check(&jvm(&data, 4096), &data);
        assert_eq!((out.members(), out.parallel()), (41, true));
    }

    #[test]
    fn members_exactly_full() {
        let data = sample(8 * 1024, 3);
        let out = check(&jvm(&data, 1024), &data);
        assert_eq!(out.members(), 8);
    }

    #[test]
    fn uneven_members_and_repeated_comment() {
        // HotSpot hands over nearly full blocks, and its threads race on the comment.
        let data = sample(5 * 4096, 4);
        let cuts = [0, 4096, 8091, 12187, 12204, 16300, 16301, 20397, 5 * 4096];
        let blocks: Vec<&[u8]> = cuts.windows(2).map(|w| &data[w[0]..w[1]]).collect();
        let gz = jvm_blocks(&blocks, 4096, 3, Compression::new(6));
        let out = check(&gz, &data);
        assert_eq!((out.members(), out.parallel()), (8, true));
    }

    #[test]
    fn empty_members_and_empty_dump() {
        let out = check(&jvm_blocks(&[b""], 4096, 1, Compression::fast()), b"");
        assert_eq!(out.members(), 1);
        let data = sample(5000, 5);
        let blocks: [&[u8]; 4] = [&data[..4096], b"", &data[4096..], b""];
        let out = check(&jvm_blocks(&blocks, 4096, 1, Compression::fast()), &data);
        assert_eq!(out.members(), 4);
        let out = check(&member(b"", Compression::default()), b"");
        assert_eq!((out.members(), out.parallel()), (1, false));
    }

    /// Heap bytes holding gzip members: stored deflate blocks copy them verbatim into the
    /// compressed file, so the scan finds member headers that are not members.
    fn heap_holding_gzip(seed: u64) -> Vec<u8> {
        let mut data = sample(3000, seed);
        // A believable ISIZE, then two embedded members back to back: the segment between
        // them inflates and verifies, though it is no member of the file.
        data.extend_from_slice(&100u32.to_le_bytes());
        data.extend(member(&noise(700, seed + 1), Compression::new(6)));
        data.extend(member(&noise(300, seed + 2), Compression::none()));
        data.extend(noise(200, seed + 3));
        data.extend_from_slice(&5u32.to_le_bytes());
        data.extend(member(b"hello", Compression::none()));
        data.extend(sample(9000, seed + 4));
        data
    }

    #[test]
    fn false_candidates_in_stored_blocks() {
        let data = heap_holding_gzip(6);
        let block_size = 4096;
        let blocks: Vec<&[u8]> = data.chunks(block_size).collect();
        let gz = jvm_blocks(&blocks, block_size, 1, Compression::none());
        let candidates = find_candidates(&gz, block_size as u64);
        assert!(
            candidates.len() >= blocks.len() - 1 + 3,
            "test must plant false candidates"
        );
        let out = check(&gz, &data);
        assert_eq!((out.members(), out.parallel()), (blocks.len(), true));
    }

    #[test]
    fn false_candidate_in_last_member() {
        let mut data = sample(4096, 7);
        data.extend_from_slice(&9u32.to_le_bytes());
        data.extend(member(b"not a member", Compression::none()));
        let blocks: Vec<&[u8]> = data.chunks(4096).collect();
        let gz = jvm_blocks(&blocks, 4096, 1, Compression::none());
        let out = check(&gz, &data);
        assert_eq!(out.members(), 2);
    }

    #[test]
    fn member_not_shaped_like_hotspots() {
        // A member with a file name is never a candidate; the walk finds it and everything
        // after is laid out again.
        let data = sample(6 * 4096, 8);
        let blocks: Vec<&[u8]> = data.chunks(4096).collect();
        let mut gz = Vec::new();
        for (i, block) in blocks.iter().enumerate() {
            gz.extend(match i {
                0 => commented_member(block, 4096, Compression::fast()),
                2 => {
                    let mut enc = GzBuilder::new()
                        .filename("part")
                        .write(Vec::new(), Compression::fast());
                    enc.write_all(block).unwrap();
                    enc.finish().unwrap()
                }
                _ => member(block, Compression::fast()),
            });
        }
        let out = check(&gz, &data);
        assert_eq!((out.members(), out.parallel()), (6, true));
    }

    #[test]
    fn plain_gzip_is_sequential() {
        let data = sample(50_000, 9);
        let out = check(&member(&data, Compression::best()), &data);
        assert_eq!((out.members(), out.parallel()), (1, false));
        // `gzip a b` concatenated: members with names, sizes unknown in advance.
        let mut gz = Vec::new();
        for (i, part) in data.chunks(20_000).enumerate() {
            let mut enc = GzBuilder::new()
                .filename(format!("part{i}"))
                .extra(vec![1, 2, 3])
                .mtime(1_700_000_000)
                .write(Vec::new(), Compression::default());
            enc.write_all(part).unwrap();
            gz.extend(enc.finish().unwrap());
        }
        let out = check(&gz, &data);
        assert_eq!((out.members(), out.parallel()), (3, false));
    }

    #[test]
    fn header_crc_is_checked() {
        let data = sample(1000, 10);
        let plain = member(&data, Compression::default());
        let mut gz = plain[..HEADER_LEN].to_vec();
        gz[3] |= FHCRC;
        let mut crc = Crc::new();
        crc.update(&gz);
        gz.extend_from_slice(&(crc.sum() as u16).to_le_bytes());
        gz.extend_from_slice(&plain[HEADER_LEN..]);
        check(&gz, &data);
        gz[HEADER_LEN] ^= 1;
        assert_eq!(check_err(&gz).kind, ErrorKind::Gzip);
    }

    /// Temporary files this process left in `dir`.
    fn leftovers(dir: &Path) -> usize {
        let mine = format!(".heapsleuth-{}-", std::process::id());
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(&mine)
            })
            .count()
    }

    #[test]
    fn temporary_files_vanish() {
        let dir = std::env::temp_dir().join(format!("heapsleuth-gz-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut map = file_output(10_000, &dir).unwrap();
        map[9_999] = 7;
        let map = map.make_read_only().unwrap();
        assert_eq!((map.len(), map[9_999]), (10_000, 7));
        let data = sample(100_000, 17);
        let out = inflate(&member(&data, Compression::default()), &dir, &|_| {}).unwrap();
        assert!(out.bytes() == data);
        if cfg!(unix) {
            assert_eq!(leftovers(&dir), 0);
        }
        drop((map, out));
        std::fs::remove_dir_all(&dir).unwrap();
        let e = inflate(&member(&data, Compression::default()), &dir, &|_| {}).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Io);
    }

    #[test]
    fn not_gzip() {
        let e = check_err(b"JAVA PROFILE 1.0.2\0");
        assert_eq!((e.kind, e.offset), (ErrorKind::Gzip, Some(0)));
        assert_eq!(check_err(b"").kind, ErrorKind::Gzip);
    }

    #[test]
    fn truncated_anywhere() {
        let data = sample(6 * 1024 + 77, 11);
        for gz in [jvm(&data, 1024), member(&data, Compression::default())] {
            let boundaries: Vec<usize> = {
                let mut b = vec![0];
                let mut pos = 0;
                let mut inflater = Decompress::new(false);
                let mut scratch = vec![0; 4096];
                while pos < gz.len() {
                    pos = inflate_member(
                        &gz,
                        pos,
                        &mut inflater,
                        &mut scratch,
                        &mut |_| Ok(()),
                        &|_| {},
                    )
                    .unwrap()
                    .0;
                    b.push(pos);
                }
                b
            };
            for cut in 1..gz.len() {
                let part = &gz[..cut];
                match inflate(part, &std::env::temp_dir(), &|_| {}) {
                    Ok(out) => {
                        // Only a cut between members leaves valid gzip: a prefix of the dump.
                        assert!(boundaries.contains(&cut), "cut at {cut} inflated");
                        assert!(data.starts_with(out.bytes()));
                    }
                    Err(e) => {
                        assert!(
                            matches!(e.kind, ErrorKind::Truncated | ErrorKind::Gzip),
                            "{e}"
                        );
                        assert!(e.offset.is_some_and(|o| o <= cut as u64), "{e}");
                    }
                }
            }
        }
    }

    #[test]
    fn corrupt_trailer() {
        let data = sample(5 * 1024, 12);
        let gz = jvm(&data, 1024);
        let ends: Vec<usize> = find_candidates(&gz, 1024);
        assert_eq!(ends.len(), 4);
        // The CRC of the third member, then its ISIZE.
        for (at, what) in [(ends[2] - 8, "CRC"), (ends[2] - 2, "ISIZE")] {
            let mut bad = gz.clone();
            bad[at] ^= 0x40;
            let e = check_err(&bad);
            assert_eq!(e.kind, ErrorKind::Gzip, "{what}: {e}");
            let want = if what == "CRC" { at } else { at - 2 };
            assert_eq!(e.offset, Some(want as u64), "{what}: {e}");
        }
        // An impossible ISIZE on the last member is not trusted for allocation.
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(check_err(&bad).kind, ErrorKind::Gzip);
    }

    #[test]
    fn corrupt_bytes_anywhere() {
        let data = sample(4 * 1024, 13);
        for gz in [jvm(&data, 1024), member(&data, Compression::default())] {
            for at in (0..gz.len()).step_by(7) {
                let mut bad = gz.clone();
                bad[at] ^= 0x5a;
                // Flipped padding bits or header fields nobody reads may go unnoticed, but then
                // the bytes must still be right.
                if let Ok(out) = inflate(&bad, &std::env::temp_dir(), &|_| {}) {
                    assert!(
                        out.bytes() == data,
                        "corruption at {at} changed the dump silently"
                    );
                }
            }
        }
    }

    #[test]
    fn trailing_garbage() {
        let data = sample(3000, 14);
        for mut gz in [jvm(&data, 1024), member(&data, Compression::default())] {
            let end = gz.len();
            gz.extend_from_slice(b"\0\0\0\0garbage");
            let e = check_err(&gz);
            assert_eq!((e.kind, e.offset), (ErrorKind::Gzip, Some(end as u64)));
        }
    }

    #[test]
    fn same_bytes_on_one_thread_and_many() {
        let mut data = sample(300 * 1024 + 5, 15);
        let mut gz = jvm(&data, 1024);
        // Plant false candidates too, so the fallback runs under every pool.
        let tail = heap_holding_gzip(16);
        for block in tail.chunks(1024) {
            gz.extend(member(block, Compression::none()));
        }
        data.extend(tail);
        for threads in [1, 2, 4] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let out = pool.install(|| check(&gz, &data));
            assert!(out.parallel());
        }
    }
}
