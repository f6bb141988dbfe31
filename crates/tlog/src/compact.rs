//! The right edge of a growing Merkle tree (a "compact range" over
//! `[0, size)`): one perfect-subtree root per set bit of the size.
//!
//! Appending a leaf merges subtrees exactly as RFC 6962 §2.1 builds the tree,
//! so every interior node hash of the log is computed once, and the subtree
//! roots it forms are reported to the caller — those at heights that are
//! multiples of 8 are precisely the hashes of the tile levels above 0.

use crate::hash::{Hash, empty_root, node_hash};

/// Perfect-subtree roots covering `[0, size)`, left to right (heights
/// strictly decreasing). Invariant: `nodes.len() == size.count_ones()`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    nodes: Vec<Hash>,
}

impl CompactRange {
    /// The empty tree.
    #[must_use]
    pub fn new() -> CompactRange {
        CompactRange::default()
    }

    /// Rebuilds a range from its parts; `None` unless there is exactly one
    /// node per set bit of `size`.
    #[must_use]
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Option<CompactRange> {
        (nodes.len() == size.count_ones() as usize).then_some(CompactRange { size, nodes })
    }

    /// Rebuilds the right edge of a tree of `size` leaves from the hashes of
    /// its rightmost (partial) tile at each tile level: `edge[l]` must hold
    /// the `floor(size / 256^l) mod 256` hashes of the partial tile at level
    /// `l` (c2sp.org/tlog-tiles). Levels whose partial tile is empty may be
    /// given as empty slices or omitted. `None` if a width is wrong.
    #[must_use]
    pub fn from_tile_edge(size: u64, edge: &[&[Hash]]) -> Option<CompactRange> {
        let mut nodes = Vec::with_capacity(size.count_ones() as usize);
        for level in (0..8u32).rev() {
            let width = ((size >> (8 * level)) & 0xff) as usize;
            let hashes: &[Hash] = edge.get(level as usize).copied().unwrap_or(&[]);
            if hashes.len() != width {
                return None;
            }
            // The hashes of one partial tile are the leaves of a small tree;
            // its compact range gives the nodes of heights 8·level + bit.
            let mut mini = CompactRange::new();
            for h in hashes {
                mini.append(*h, |_, _, _| {});
            }
            nodes.extend(mini.nodes);
        }
        CompactRange::from_parts(size, nodes)
    }

    /// Number of leaves covered.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The subtree roots, left to right.
    #[must_use]
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Appends a leaf hash. For every complete subtree this forms, calls
    /// `visit(height, index, hash)` bottom-up, where the subtree covers leaves
    /// `[index·2^height, (index+1)·2^height)` and `height >= 1`.
    pub fn append(&mut self, leaf: Hash, mut visit: impl FnMut(u32, u64, &Hash)) {
        let mut node = leaf;
        let mut index = self.size;
        let mut height = 0u32;
        while index & 1 == 1 {
            // Invariant: a set low bit of `index` means a left sibling of this
            // height is on the stack.
            let Some(left) = self.nodes.pop() else { break };
            node = node_hash(&left, &node);
            index >>= 1;
            height += 1;
            visit(height, index, &node);
        }
        self.nodes.push(node);
        self.size += 1;
    }

    /// The RFC 6962 Merkle tree hash of `[0, size)`.
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::proof::range_root;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn subtree(l: &[Hash]) -> impl FnMut(u32, u64) -> Result<Hash, crate::ProofError> + '_ {
        move |h, i| {
            let lo = (i << h) as usize;
            Ok(crate::complete_subtree_root(&l[lo..lo + (1usize << h)]).unwrap())
        }
    }

    #[test]
    fn roots_match_the_recursive_definition() {
        let l = leaves(1100);
        let mut c = CompactRange::new();
        assert_eq!(c.root(), empty_root());
        for n in 1..=1100u64 {
            c.append(l[n as usize - 1], |_, _, _| {});
            let want = range_root(0, n, &mut subtree(&l)).unwrap();
            assert_eq!(c.root(), want, "size {n}");
        }
    }

    #[test]
    fn visits_every_subtree_once_in_order() {
        let l = leaves(1024);
        let mut c = CompactRange::new();
        let mut seen = vec![Vec::new(); 11];
        for h in &l {
            c.append(*h, |height, index, hash| {
                seen[height as usize].push((index, *hash))
            });
        }
        for (height, nodes) in seen.iter().enumerate().skip(1) {
            assert_eq!(nodes.len(), 1024 >> height);
            for (k, (index, hash)) in nodes.iter().enumerate() {
                assert_eq!(*index, k as u64);
                let lo = k << height;
                assert_eq!(
                    *hash,
                    crate::complete_subtree_root(&l[lo..lo + (1 << height)]).unwrap()
                );
            }
        }
    }

    #[test]
    fn rebuilds_from_partial_tiles() {
        let l = leaves(70_000);
        let mut c = CompactRange::new();
        let mut tiles: Vec<Vec<Hash>> = vec![Vec::new(); 3];
        for (n, h) in l.iter().enumerate() {
            tiles[0].push(*h);
            c.append(*h, |height, _, hash| {
                if height % 8 == 0 {
                    tiles[(height / 8) as usize].push(*hash);
                }
            });
            let size = n as u64 + 1;
            if size.is_multiple_of(997) || size == 65_536 || size == 70_000 {
                let edge: Vec<&[Hash]> = (0..3)
                    .map(|lv| {
                        let t = &tiles[lv];
                        let w = ((size >> (8 * lv)) & 0xff) as usize;
                        &t[t.len() - w..]
                    })
                    .collect();
                let r = CompactRange::from_tile_edge(size, &edge).unwrap();
                assert_eq!(r, c, "size {size}");
            }
        }
        assert!(CompactRange::from_tile_edge(5, &[&l[..4]]).is_none());
    }
}
