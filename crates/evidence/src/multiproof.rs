//! A compact Merkle multi-proof: the inclusion of many leaves of one
//! RFC 6962 tree, with every needed node stored once.
//!
//! Why not one `c2sp.org/tlog-proof` per entry: for 1,000,000 entries in a
//! tree of 2^21 leaves, individual proofs repeat the checkpoint and ~21
//! hashes each (≈ 700 MB of hashes, most of them shared between
//! neighbours). The multi-proof is the set of roots of the maximal subtrees
//! that contain *no* proved leaf but whose sibling does: exactly the nodes a
//! verifier cannot compute from the proved leaves, each once. For `k`
//! leaves in a tree of `n` it holds at most `k·⌈log2(n/k)⌉ + …` hashes, and
//! none when every leaf is proved. Any single leaf's standard RFC 6962
//! inclusion path can be rebuilt from it ([`root_and_path`]).
//!
//! The tree and its recursion are RFC 6962 §2.1 (`MTH(D[n])` splits at the
//! largest power of two `k < n`); the nodes are listed in the order a
//! left-to-right depth-first walk of that recursion meets them.

use tlog::{HASH_SIZE, Hash, node_hash};

/// Why a multi-proof could not be made or did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MultiProofError {
    /// The indices are not strictly increasing, or one is not below the size.
    #[error(
        "proved indices must be strictly increasing and below the tree size {size} (position {position})"
    )]
    BadIndices {
        /// The tree size.
        size: u64,
        /// Position of the first bad index.
        position: usize,
    },
    /// The number of leaf hashes differs from the number of indices.
    #[error("{leaves} leaf hashes for {indices} indices")]
    LeafCount {
        /// Leaf hashes given.
        leaves: usize,
        /// Indices given.
        indices: usize,
    },
    /// The proof's byte length is not a multiple of 32.
    #[error("multi-proof of {len} bytes is not a whole number of 32-byte hashes")]
    Ragged {
        /// Its length.
        len: usize,
    },
    /// The proof ran out of hashes.
    #[error("multi-proof has too few hashes ({got}) for these indices and tree size")]
    TooFew {
        /// Hashes present.
        got: usize,
    },
    /// Hashes were left over.
    #[error("multi-proof has {extra} hashes more than these indices and tree size need")]
    TooMany {
        /// Unused hashes.
        extra: usize,
    },
    /// The recomputed root is not the checkpoint's.
    #[error(
        "the root recomputed from the proved entries and the multi-proof is not the checkpoint's root"
    )]
    RootMismatch,
}

/// Largest power of two strictly smaller than `n` (`n >= 2`), the RFC 6962
/// split point.
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Checks `indices` are strictly increasing and below `size`.
///
/// # Errors
///
/// [`MultiProofError::BadIndices`] naming the first offending position.
pub fn check_indices(indices: &[u64], size: u64) -> Result<(), MultiProofError> {
    let mut prev: Option<u64> = None;
    for (position, &i) in indices.iter().enumerate() {
        if i >= size || prev.is_some_and(|p| p >= i) {
            return Err(MultiProofError::BadIndices { size, position });
        }
        prev = Some(i);
    }
    Ok(())
}

/// Splits sorted `idx` at the first index `>= mid`.
fn split(idx: &[u64], mid: u64) -> (&[u64], &[u64]) {
    let p = idx.partition_point(|&i| i < mid);
    idx.split_at_checked(p).unwrap_or((idx, &[]))
}

/// Builds the multi-proof of the leaves at `indices` (strictly increasing,
/// below `size`) in the tree of `size`, from complete-subtree roots:
/// `subtree(height, index)` returns the root of leaves
/// `[index·2^height, (index+1)·2^height)` (the contract of
/// [`tlog::range_root`]). When `indices` is empty it is the one root hash
/// (proving nothing, but still tying the bundle to the checkpoint).
///
/// # Errors
///
/// [`MultiProofError::BadIndices`] (converted) and any error of `subtree`.
pub fn build<E: From<MultiProofError>>(
    indices: &[u64],
    size: u64,
    subtree: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    check_indices(indices, size)?;
    let mut out = Vec::new();
    walk(0, size, indices, subtree, &mut out)?;
    Ok(out)
}

fn walk<E>(
    lo: u64,
    hi: u64,
    idx: &[u64],
    subtree: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
    out: &mut Vec<Hash>,
) -> Result<(), E> {
    if idx.is_empty() {
        out.push(tlog::range_root(lo, hi, subtree)?);
        return Ok(());
    }
    let n = hi - lo;
    if n <= 1 {
        return Ok(()); // A proved leaf: the verifier hashes the entry.
    }
    let mid = lo + split_point(n);
    let (left, right) = split(idx, mid);
    walk(lo, mid, left, subtree, out)?;
    walk(mid, hi, right, subtree, out)
}

/// Recomputes the root of the tree of `size` from the leaf hashes of the
/// proved entries (`leaves[j]` is the leaf hash of entry `indices[j]`) and
/// the multi-proof `proof` (concatenated 32-byte hashes). If `target` is a
/// proved index, also returns its RFC 6962 §2.1.1 inclusion path (leaf's
/// sibling first), which with the checkpoint makes a standard
/// `c2sp.org/tlog-proof`.
///
/// The caller compares the root with the checkpoint's ([`verify`] does).
///
/// # Errors
///
/// A [`MultiProofError`] if the inputs do not fit together.
pub fn root_and_path(
    indices: &[u64],
    leaves: &[Hash],
    size: u64,
    proof: &[u8],
    target: Option<u64>,
) -> Result<(Hash, Vec<Hash>), MultiProofError> {
    check_indices(indices, size)?;
    if leaves.len() != indices.len() {
        return Err(MultiProofError::LeafCount {
            leaves: leaves.len(),
            indices: indices.len(),
        });
    }
    if !proof.len().is_multiple_of(HASH_SIZE) {
        return Err(MultiProofError::Ragged { len: proof.len() });
    }
    let mut cursor = Cursor {
        hashes: proof.chunks_exact(HASH_SIZE),
        used: 0,
    };
    let mut path = Vec::new();
    let root = if indices.is_empty() {
        // Nothing proved: the tree root is all there is to show.
        cursor.next()?
    } else {
        let mut ctx = Ctx {
            target,
            path: &mut path,
            cursor: &mut cursor,
        };
        ctx.root(0, size, indices, leaves)?
    };
    let extra = cursor.hashes.len();
    if extra != 0 {
        return Err(MultiProofError::TooMany { extra });
    }
    Ok((root, path))
}

/// Verifies that the leaves at `indices` are in the tree whose root is `root`.
/// (The bundle verifier calls [`root_and_path`] to get a path on the way.)
///
/// # Errors
///
/// [`MultiProofError::RootMismatch`] or a shape error.
#[cfg(test)]
pub fn verify(
    indices: &[u64],
    leaves: &[Hash],
    size: u64,
    proof: &[u8],
    root: &Hash,
) -> Result<(), MultiProofError> {
    let (got, _) = root_and_path(indices, leaves, size, proof, None)?;
    if &got != root {
        return Err(MultiProofError::RootMismatch);
    }
    Ok(())
}

struct Cursor<'a> {
    hashes: std::slice::ChunksExact<'a, u8>,
    used: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Result<Hash, MultiProofError> {
        let h = self
            .hashes
            .next()
            .and_then(|c| Hash::try_from(c).ok())
            .ok_or(MultiProofError::TooFew { got: self.used })?;
        self.used += 1;
        Ok(h)
    }
}

struct Ctx<'a, 'b> {
    target: Option<u64>,
    path: &'a mut Vec<Hash>,
    cursor: &'a mut Cursor<'b>,
}

impl Ctx<'_, '_> {
    fn root(
        &mut self,
        lo: u64,
        hi: u64,
        idx: &[u64],
        leaves: &[Hash],
    ) -> Result<Hash, MultiProofError> {
        if idx.is_empty() {
            return self.cursor.next();
        }
        let n = hi - lo;
        if n <= 1 {
            // `idx` is non-empty, sorted and within [lo, hi): it is [lo].
            return leaves.first().copied().ok_or(MultiProofError::LeafCount {
                leaves: 0,
                indices: 1,
            });
        }
        let mid = lo + split_point(n);
        let (li, ri) = split(idx, mid);
        let (ll, rl) = leaves.split_at_checked(li.len()).unwrap_or((leaves, &[]));
        let left = self.root(lo, mid, li, ll)?;
        let right = self.root(mid, hi, ri, rl)?;
        // Bottom-up order: the deeper siblings were pushed by the calls above.
        match self.target {
            Some(t) if (lo..mid).contains(&t) => self.path.push(right),
            Some(t) if (mid..hi).contains(&t) => self.path.push(left),
            _ => {}
        }
        Ok(node_hash(&left, &right))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use tlog::{complete_subtree_root, inclusion_proof, leaf_hash, range_root};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn sub<E>(l: &[Hash]) -> impl FnMut(u32, u64) -> Result<Hash, E> + '_ {
        move |h, i| {
            let lo = (i << h) as usize;
            Ok(complete_subtree_root(&l[lo..lo + (1usize << h)]).unwrap())
        }
    }

    #[test]
    fn round_trips_and_paths_match_rfc6962() {
        for n in 1..40u64 {
            let l = leaves(n);
            let root = range_root::<MultiProofError>(0, n, &mut sub(&l)).unwrap();
            // Several subsets: all, none, evens, first, last, a stride.
            let subsets: Vec<Vec<u64>> = vec![
                (0..n).collect(),
                vec![],
                (0..n).step_by(2).collect(),
                vec![0],
                vec![n - 1],
                (0..n).step_by(3).skip(1).collect(),
            ];
            for idx in subsets {
                let proof: Vec<u8> = build::<MultiProofError>(&idx, n, &mut sub(&l))
                    .unwrap()
                    .concat();
                let lh: Vec<Hash> = idx.iter().map(|&i| l[i as usize]).collect();
                verify(&idx, &lh, n, &proof, &root).unwrap();
                for &t in &idx {
                    let (r, path) = root_and_path(&idx, &lh, n, &proof, Some(t)).unwrap();
                    assert_eq!(r, root);
                    let want: Vec<Hash> =
                        inclusion_proof::<tlog::ProofError>(t, n, &mut sub(&l)).unwrap();
                    assert_eq!(path, want, "n {n} idx {idx:?} t {t}");
                }
                if idx.len() == n as usize {
                    assert!(proof.is_empty(), "all leaves proved need no hashes");
                }
            }
        }
    }

    #[test]
    fn every_tamper_is_caught() {
        let n = 37;
        let l = leaves(n);
        let root = range_root::<MultiProofError>(0, n, &mut sub(&l)).unwrap();
        let idx = vec![1, 5, 6, 20, 36];
        let lh: Vec<Hash> = idx.iter().map(|&i| l[i as usize]).collect();
        let proof: Vec<u8> = build::<MultiProofError>(&idx, n, &mut sub(&l))
            .unwrap()
            .concat();
        assert_eq!(proof.len() / 32, 10); // counted by hand from the RFC 6962 splits
        for byte in (0..proof.len()).step_by(7) {
            let mut p = proof.clone();
            p[byte] ^= 1;
            assert_eq!(
                verify(&idx, &lh, n, &p, &root),
                Err(MultiProofError::RootMismatch)
            );
        }
        assert_eq!(
            verify(&idx, &lh, n, &proof[32..], &root),
            Err(MultiProofError::TooFew { got: 9 })
        );
        let mut longer = proof.clone();
        longer.extend_from_slice(&[0; 32]);
        assert_eq!(
            verify(&idx, &lh, n, &longer, &root),
            Err(MultiProofError::TooMany { extra: 1 })
        );
        assert_eq!(
            verify(&idx, &lh, n, &proof[1..], &root),
            Err(MultiProofError::Ragged {
                len: proof.len() - 1
            })
        );
        let mut bad = lh.clone();
        bad[2][0] ^= 1;
        assert_eq!(
            verify(&idx, &bad, n, &proof, &root),
            Err(MultiProofError::RootMismatch)
        );
        // A removed entry leaves a hole the proof does not cover.
        let (i2, l2) = (vec![1, 5, 20, 36], vec![lh[0], lh[1], lh[3], lh[4]]);
        assert!(verify(&i2, &l2, n, &proof, &root).is_err());
        // A shifted index proves nothing.
        assert!(verify(&[1, 5, 7, 20, 36], &lh, n, &proof, &root).is_err());
        assert_eq!(
            verify(&[5, 1], &lh[..2], n, &proof, &root),
            Err(MultiProofError::BadIndices {
                size: n,
                position: 1
            })
        );
        assert_eq!(
            verify(&[1, 37], &lh[..2], n, &proof, &root),
            Err(MultiProofError::BadIndices {
                size: n,
                position: 1
            })
        );
    }
}
