//! An analysed dump as one owned value: its bytes, index and analysis.
//!
//! The index borrows the mapped bytes, so the three live in one self-referential cell
//! (`self_cell`, rather than leaking the map or re-deriving lifetimes by hand): a command
//! opens a [`Session`], asks it for a [`HeapView`], and drops it when done; a long-lived
//! server can keep several.

use anyhow::{Context, Result};

use crate::analysis::{estimate_memory, Analysis, MemoryEstimate};
use crate::error::{Error, ErrorKind};
use crate::hprof::gz;
use crate::index::{HeapIndex, IndexOptions, VmModel};
use crate::progress::Progress;
use crate::report::model::{DumpEntry, DumpInfo};
use crate::units;
use crate::view::HeapView;

use super::load::{load, Bytes};
use super::DumpOptions;

/// The index and the analysis of one dump, borrowing its bytes.
struct Analysed<'a> {
    index: HeapIndex<'a>,
    analysis: Analysis,
}

self_cell::self_cell!(
    struct Cell {
        owner: Bytes,
        #[covariant]
        dependent: Analysed,
    }
);

/// An opened, indexed and analysed dump.
pub struct Session {
    cell: Cell,
    estimate: MemoryEstimate,
    path: String,
}

impl Session {
    /// Opens, indexes and analyses the dump `opts` names. `precheck` runs on the index
    /// before the expensive phases, so that a query for an object the dump does not have
    /// fails at once.
    pub fn open(
        opts: &DumpOptions,
        progress: &dyn Progress,
        precheck: impl FnOnce(&HeapIndex<'_>) -> Result<(), Error>,
    ) -> Result<Session> {
        let path = opts.path.display().to_string();
        // Before the dump takes any of it.
        let available = gz::mem_available();
        let bytes = load(opts, progress).with_context(|| path.clone())?;
        let anonymous = bytes.anonymous();
        let mut estimate = None;
        let cell = Cell::try_new(bytes, |bytes| -> Result<Analysed<'_>, Error> {
            let index_opts = IndexOptions {
                model: opts.model,
                salvage: opts.salvage,
                dump: opts.dump_number,
            };
            let index = HeapIndex::build(bytes, &index_opts, progress)
                .map_err(|e| hint(e, opts.salvage))?;
            precheck(&index)?;
            let e = estimate_memory(&index, anonymous);
            progress.note("memory_estimate", e.bytes);
            check_memory(&e, opts.max_memory, available)?;
            estimate = Some(e);
            let analysis = Analysis::run(&index, progress)?;
            // The big temporary arrays are behind us; what the reports allocate is small.
            crate::alloc::release_pool();
            Ok(Analysed { index, analysis })
        })
        .with_context(|| path.clone())?;
        Ok(Session {
            cell,
            estimate: estimate.expect("set when the analysis succeeds"),
            path,
        })
    }

    /// The read-only view reports and rules use.
    pub fn view(&self) -> HeapView<'_> {
        let a = self.cell.borrow_dependent();
        HeapView::new(&a.index, &a.analysis)
    }

    /// The dump's path as given.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The memory estimate the analysis was admitted with.
    pub fn estimate(&self) -> MemoryEstimate {
        self.estimate
    }

    /// What the report says about the dump file itself.
    pub fn dump_info(&self) -> DumpInfo {
        let bytes = self.cell.borrow_owner();
        let index = &self.cell.borrow_dependent().index;
        let h = &index.header;
        let d = &index.diagnostics;
        DumpInfo {
            path: self.path.clone(),
            format: format!("JAVA PROFILE 1.0.{}", h.version),
            id_size: h.id_size.bytes() as u32,
            bytes: bytes.len() as u64,
            gzip: bytes.gzip(),
            heap_segments: d.heap_segments,
            object_model: model_name(index.model).into(),
            selected_dump: d.dump as u64,
            dumps: d
                .dumps
                .iter()
                .enumerate()
                .map(|(i, d)| DumpEntry {
                    index: i as u64 + 1,
                    offset: d.offset,
                    bytes: d.bytes,
                    segments: d.segments,
                })
                .collect(),
            memory_estimate: self.estimate.bytes,
        }
    }
}

/// The object layout as the summary names it.
fn model_name(m: VmModel) -> &'static str {
    if m == VmModel::COMPRESSED {
        "compressed oops"
    } else if m == VmModel::WIDE_OOPS {
        "uncompressed oops"
    } else if m == VmModel::UNCOMPRESSED {
        "uncompressed oops and class pointers"
    } else {
        "32-bit"
    }
}

/// Refuses an analysis whose memory estimate exceeds `--max-memory`, or by default the
/// memory the machine had available when we started (unknown: no check).
fn check_memory(
    estimate: &MemoryEstimate,
    max_memory: Option<u64>,
    available: Option<u64>,
) -> Result<(), Error> {
    let (limit, what) = match (max_memory, available) {
        (Some(l), _) => (
            l,
            format!("the {} that --max-memory allows", units::bytes(l)),
        ),
        (None, Some(a)) => (
            a,
            format!(
                "the {} this machine has available (MemAvailable)",
                units::bytes(a)
            ),
        ),
        (None, None) => return Ok(()),
    };
    if estimate.bytes <= limit {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Resources,
        format!(
            "the analysis would need about {} ({} objects, at most {} references), more than \
             {what}; run it on a machine with more memory, or pass a larger --max-memory \
             (e.g. --max-memory {}G) if the estimate is too cautious",
            units::bytes(estimate.bytes),
            estimate.objects,
            estimate.references,
            estimate.bytes.div_ceil(1 << 30),
        ),
    ))
}

/// Suggests `--salvage` for damaged dumps.
fn hint(mut e: Error, salvage: bool) -> Error {
    let damaged = matches!(
        e.kind,
        ErrorKind::Truncated
            | ErrorKind::BadLength
            | ErrorKind::UnknownSubRecord
            | ErrorKind::BadType
    );
    if salvage || !damaged {
        return e;
    }
    e.detail = format!(
        "{} (--salvage analyses the part before the damage)",
        e.detail
    )
    .into();
    e
}

/// A `precheck` for queries about one object: fails when the dump has no object `id`.
pub fn require_object(index: &HeapIndex<'_>, id: u64) -> Result<(), Error> {
    match index.node(id) {
        Some(_) => Ok(()),
        None => Err(Error::new(
            ErrorKind::NoSuchObject,
            format!("0x{id:x} is not an object in this dump"),
        )),
    }
}
