//! The object graph: nodes are objects (dense u32 indices), edges are references.

pub mod build;
pub mod csr;
