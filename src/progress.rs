//! Progress reporting, as a trait so that analysis code knows nothing of terminals.
//!
//! The CLI implements it with indicatif bars on stderr; tests and library users pass
//! [`NoProgress`]. Implementations must be cheap to call from many threads at once.

/// Receives the start, advance and end of each long phase.
pub trait Progress: Sync {
    /// A phase begins; `total` is its amount of work in its own units (0 if unknown).
    fn start(&self, phase: &'static str, total: u64);
    /// `n` more units of the current phase are done.
    fn advance(&self, n: u64);
    /// The current phase is over.
    fn finish(&self);
    /// A number worth showing next to the timings, such as the memory estimate.
    fn note(&self, _name: &'static str, _value: u64) {}
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _phase: &'static str, _total: u64) {}
    fn advance(&self, _n: u64) {}
    fn finish(&self) {}
}
