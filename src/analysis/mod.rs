//! Analyses over the object graph: dominators, retained sizes, histogram, paths.

pub mod dominators;
pub mod histogram;
pub mod paths;
pub mod retained;
pub mod top;
