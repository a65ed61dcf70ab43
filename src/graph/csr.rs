//! Compressed sparse rows: the object graph as two flat arrays.
//!
//! Node `v`'s successors are `targets[offsets[v] .. offsets[v + 1]]`. Node indices and
//! edge offsets are u32: a dump with more than 4 billion references is refused upstream
//! with a clear error rather than silently doubling the memory of every dump.

/// A directed graph in compressed sparse row form.
#[derive(Clone, Debug, Default)]
pub struct Csr {
    /// `offsets[v]..offsets[v+1]` indexes `targets`; length is nodes + 1.
    pub offsets: Vec<u32>,
    /// Successor node indices, grouped by source.
    pub targets: Vec<u32>,
}

impl Csr {
    /// Number of nodes.
    #[inline]
    pub fn num_nodes(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Number of edges.
    #[inline]
    pub fn num_edges(&self) -> usize {
        self.targets.len()
    }

    /// The successors of `v`.
    #[inline]
    pub fn successors(&self, v: u32) -> &[u32] {
        let v = v as usize;
        &self.targets[self.offsets[v] as usize..self.offsets[v + 1] as usize]
    }

    /// Builds a graph of `n` nodes from an edge list (for tests and small graphs).
    pub fn from_edges(n: usize, edges: &[(u32, u32)]) -> Csr {
        let mut counts = vec![0u32; n + 1];
        for &(a, _) in edges {
            counts[a as usize + 1] += 1;
        }
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut targets = vec![0u32; edges.len()];
        for &(a, b) in edges {
            targets[fill[a as usize] as usize] = b;
            fill[a as usize] += 1;
        }
        Csr {
            offsets: counts,
            targets,
        }
    }

    /// The reverse graph: an edge b -> a for every edge a -> b.
    pub fn transpose(&self) -> Csr {
        let n = self.num_nodes();
        let mut counts = vec![0u32; n + 1];
        for &t in &self.targets {
            counts[t as usize + 1] += 1;
        }
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut targets = vec![0u32; self.targets.len()];
        for v in 0..n as u32 {
            for &t in self.successors(v) {
                targets[fill[t as usize] as usize] = v;
                fill[t as usize] += 1;
            }
        }
        Csr {
            offsets: counts,
            targets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_round_trip_through_transpose() {
        let g = Csr::from_edges(4, &[(0, 1), (0, 2), (2, 3), (3, 1)]);
        assert_eq!(g.successors(0), &[1, 2]);
        assert_eq!(g.successors(1), &[] as &[u32]);
        let t = g.transpose();
        assert_eq!(t.successors(1), &[0, 3]);
        assert_eq!(t.successors(3), &[2]);
        assert_eq!(g.num_edges(), 4);
    }
}
