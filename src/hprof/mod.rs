//! Reading HPROF: the format's definitions, a bounds-checked reader, top-level records,
//! heap-dump sub-records and gzip inflation.

pub mod format;
pub mod gz;
pub mod heap;
pub mod reader;
pub mod records;
