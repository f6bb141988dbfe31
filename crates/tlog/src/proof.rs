//! RFC 6962 §2.1.1–2.1.2 inclusion and consistency proofs, generated from
//! complete-subtree hashes, and verified with the RFC 9162 §2.1.3.2 and
//! §2.1.4.2 algorithms.

use crate::hash::{Hash, node_hash};

/// Why a proof could not be made or did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The entry index is not below the tree size.
    #[error("index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old tree is larger than the new one.
    #[error("old size {old} is larger than new size {new}")]
    SizesOutOfOrder {
        /// Old tree size.
        old: u64,
        /// New tree size.
        new: u64,
    },
    /// The proof has the wrong number of hashes.
    #[error("proof has {got} hashes, expected {expected}")]
    WrongLength {
        /// Hashes the sizes call for.
        expected: usize,
        /// Hashes the proof has.
        got: usize,
    },
    /// A consistency proof with the wrong number of hashes for its sizes.
    #[error("consistency proof of {got} hashes has the wrong shape for these tree sizes")]
    BadShape {
        /// Hashes the proof has.
        got: usize,
    },
    /// The recomputed root differs from the one given.
    #[error("recomputed root does not match the tree root")]
    RootMismatch,
    /// The recomputed old root differs from the old checkpoint's root.
    #[error("recomputed old root does not match the old tree root")]
    OldRootMismatch,
}

/// Largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[lo:hi])` (RFC 6962 §2.1) from complete-subtree hashes:
/// `subtree(height, index)` must return the root of leaves
/// `[index·2^height, (index+1)·2^height)`. Ranges reached by the RFC
/// recursion from `[0, n)` are always aligned, so only complete subtrees are
/// requested. Returns the empty-tree root for an empty range.
pub fn range_root<E>(
    lo: u64,
    hi: u64,
    subtree: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
) -> Result<Hash, E> {
    let n = hi.saturating_sub(lo);
    if n == 0 {
        return Ok(crate::hash::empty_root());
    }
    if n.is_power_of_two() && lo.is_multiple_of(n) {
        let height = n.trailing_zeros();
        return subtree(height, lo >> height);
    }
    let k = split_point(n);
    let left = range_root(lo, lo + k, subtree)?;
    let right = range_root(lo + k, hi, subtree)?;
    Ok(node_hash(&left, &right))
}

/// The inclusion proof `PATH(index, D[0:size])` (RFC 6962 §2.1.1), from the
/// leaf's sibling up to the root's child.
pub fn inclusion_proof<E: From<ProofError>>(
    index: u64,
    size: u64,
    subtree: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size }.into());
    }
    let mut out = Vec::with_capacity(64);
    path(index, 0, size, subtree, &mut out)?;
    Ok(out)
}

fn path<E>(
    m: u64,
    lo: u64,
    hi: u64,
    subtree: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
    out: &mut Vec<Hash>,
) -> Result<(), E> {
    let n = hi - lo;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < lo + k {
        path(m, lo, lo + k, subtree, out)?;
        out.push(range_root(lo + k, hi, subtree)?);
    } else {
        path(m, lo + k, hi, subtree, out)?;
        out.push(range_root(lo, lo + k, subtree)?);
    }
    Ok(())
}

/// The consistency proof `PROOF(old, D[0:new])` (RFC 6962 §2.1.2). Empty when
/// `old == new` or `old == 0` (every tree extends the empty tree).
pub fn consistency_proof<E: From<ProofError>>(
    old: u64,
    new: u64,
    subtree: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    if old > new {
        return Err(ProofError::SizesOutOfOrder { old, new }.into());
    }
    let mut out = Vec::with_capacity(64);
    if old > 0 && old < new {
        subproof(old, 0, new, true, subtree, &mut out)?;
    }
    Ok(out)
}

fn subproof<E>(
    m: u64,
    lo: u64,
    hi: u64,
    whole: bool,
    subtree: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
    out: &mut Vec<Hash>,
) -> Result<(), E> {
    if m == hi {
        if !whole {
            out.push(range_root(lo, hi, subtree)?);
        }
        return Ok(());
    }
    let k = split_point(hi - lo);
    if m <= lo + k {
        subproof(m, lo, lo + k, whole, subtree, out)?;
        out.push(range_root(lo + k, hi, subtree)?);
    } else {
        subproof(m, lo + k, hi, false, subtree, out)?;
        out.push(range_root(lo, lo + k, subtree)?);
    }
    Ok(())
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    let mut f = index;
    let mut s = size - 1;
    let mut r = *leaf_hash;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength {
                expected,
                got: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies a consistency proof between two tree heads (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                expected: 0,
                got: proof.len(),
            });
        }
        if old_size == new_size && old_root != new_root {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    // The RFC 9162 algorithm rejects proofs that are too short or too long
    // through its `sn == 0` checks.
    // Step 1: if the old size is a power of two, its root is the first node.
    let mut nodes = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        nodes.push(*old_root);
    }
    nodes.extend_from_slice(proof);
    let mut f = old_size - 1;
    let mut s = new_size - 1;
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let Some((first, rest)) = nodes.split_first() else {
        return Err(ProofError::BadShape { got: 0 });
    };
    let mut fr = *first;
    let mut sr = *first;
    for c in rest {
        if s == 0 {
            return Err(ProofError::BadShape { got: proof.len() });
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::BadShape { got: proof.len() });
    }
    if &fr != old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if &sr != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Number of hashes in an inclusion proof: the inner part (bits where index
/// and the last index differ below their common prefix) plus the border
/// (set bits of the index above it) — the decomposition of RFC 9162 §2.1.3.
fn inclusion_len(index: u64, size: u64) -> usize {
    let last = size - 1;
    let inner = (64 - (index ^ last).leading_zeros()) as usize;
    // `inner` is 64 when bit 63 differs (trees over 2^63 leaves).
    let border = index.checked_shr(inner as u32).map_or(0, u64::count_ones) as usize;
    inner + border
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{complete_subtree_root, leaf_hash};
    use proptest::prelude::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
            .collect()
    }

    fn tree(l: &[Hash]) -> impl FnMut(u32, u64) -> Result<Hash, ProofError> + '_ {
        move |h, i| {
            let lo = (i << h) as usize;
            Ok(complete_subtree_root(&l[lo..lo + (1usize << h)]).unwrap())
        }
    }

    /// MTH straight from RFC 6962 §2.1, independent of `range_root`.
    fn mth(l: &[Hash]) -> Hash {
        match l.len() {
            0 => crate::hash::empty_root(),
            1 => l[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&l[..k]), &mth(&l[k..]))
            }
        }
    }

    #[test]
    fn rfc6962_reference_roots() {
        // The eight-leaf test tree of the certificate-transparency reference
        // implementation (RFC 6962 test vectors), with its published roots.
        let inputs: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let l: Vec<Hash> = inputs.iter().map(|e| leaf_hash(e)).collect();
        for (n, want) in roots.iter().enumerate() {
            let got = range_root(0, n as u64 + 1, &mut tree(&l)).unwrap();
            assert_eq!(hex::encode(got), *want, "size {}", n + 1);
        }
    }

    #[test]
    fn rfc6962_reference_proofs() {
        // Inclusion of leaf 0 in the 8-leaf tree, and the consistency proofs
        // from 6 and from 4 to 8, as published with the reference test data.
        let inputs: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let l: Vec<Hash> = inputs.iter().map(|e| leaf_hash(e)).collect();
        let p = inclusion_proof(0, 8, &mut tree(&l)).unwrap();
        let got: Vec<String> = p.iter().map(hex::encode).collect();
        assert_eq!(
            got,
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]
        );
        let c = consistency_proof(6, 8, &mut tree(&l)).unwrap();
        let got: Vec<String> = c.iter().map(hex::encode).collect();
        assert_eq!(
            got,
            [
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]
        );
        let c = consistency_proof(4, 8, &mut tree(&l)).unwrap();
        assert_eq!(
            c.iter().map(hex::encode).collect::<Vec<_>>(),
            ["6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]
        );
    }

    #[test]
    fn all_small_trees_round_trip() {
        let l = leaves(70);
        for size in 1..=70u64 {
            let root = mth(&l[..size as usize]);
            for index in 0..size {
                let p = inclusion_proof(index, size, &mut tree(&l)).unwrap();
                assert_eq!(p.len(), inclusion_len(index, size));
                verify_inclusion(&l[index as usize], index, size, &p, &root).unwrap();
            }
            for old in 0..=size {
                let old_root = mth(&l[..old as usize]);
                let p = consistency_proof(old, size, &mut tree(&l)).unwrap();
                verify_consistency(old, size, &old_root, &root, &p).unwrap();
            }
        }
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        let l = leaves(4);
        assert_eq!(
            inclusion_proof(4, 4, &mut tree(&l)),
            Err(ProofError::IndexOutOfRange { index: 4, size: 4 })
        );
        assert_eq!(
            consistency_proof(5, 4, &mut tree(&l)),
            Err(ProofError::SizesOutOfOrder { old: 5, new: 4 })
        );
        let root = mth(&l);
        assert!(verify_inclusion(&l[0], 0, 0, &[], &root).is_err());
        assert!(verify_consistency(3, 3, &root, &mth(&l[..3]), &[]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Every honest proof verifies; changing the leaf, any proof hash,
        /// the index, the size or the root makes it fail.
        #[test]
        fn inclusion_tampering_is_caught(size in 1u64..600, idx in any::<u64>(), pick in any::<usize>(), bit in 0u8..8) {
            let l = leaves(size);
            let index = idx % size;
            let root = mth(&l);
            let p = inclusion_proof(index, size, &mut tree(&l)).unwrap();
            prop_assert!(verify_inclusion(&l[index as usize], index, size, &p, &root).is_ok());

            let mut bad_leaf = l[index as usize];
            bad_leaf[pick % 32] ^= 1 << bit;
            prop_assert!(verify_inclusion(&bad_leaf, index, size, &p, &root).is_err());

            if !p.is_empty() {
                let mut q = p.clone();
                q[pick % p.len()][pick % 32] ^= 1 << bit;
                prop_assert!(verify_inclusion(&l[index as usize], index, size, &q, &root).is_err());
                let mut short = p.clone();
                short.pop();
                prop_assert!(verify_inclusion(&l[index as usize], index, size, &short, &root).is_err());
            }
            let mut long = p.clone();
            long.push(root);
            prop_assert!(verify_inclusion(&l[index as usize], index, size, &long, &root).is_err());

            let other = (index + 1 + (pick as u64 % size.max(2))) % size;
            if other != index {
                prop_assert!(verify_inclusion(&l[index as usize], other, size, &p, &root).is_err());
            }
            for s in [size + 1, size.saturating_sub(1), size * 2] {
                if s != size && s > index {
                    let bad = verify_inclusion(&l[index as usize], index, s, &p, &root);
                    // A bare proof binds the size only through the path's
                    // shape; the signed checkpoint binds size and root
                    // together (tested with tlog-proof bundles).
                    prop_assert!(bad.is_err() || inclusion_len(index, s) == p.len());
                }
            }
            let mut bad_root = root;
            bad_root[pick % 32] ^= 1 << bit;
            prop_assert!(verify_inclusion(&l[index as usize], index, size, &p, &bad_root).is_err());
        }

        #[test]
        fn consistency_tampering_is_caught(new in 2u64..600, o in any::<u64>(), pick in any::<usize>(), bit in 0u8..8) {
            let l = leaves(new);
            let old = 1 + o % (new - 1);
            let old_root = mth(&l[..old as usize]);
            let new_root = mth(&l);
            let p = consistency_proof(old, new, &mut tree(&l)).unwrap();
            prop_assert!(verify_consistency(old, new, &old_root, &new_root, &p).is_ok());

            let mut q = p.clone();
            let i = pick % q.len();
            q[i][pick % 32] ^= 1 << bit;
            prop_assert!(verify_consistency(old, new, &old_root, &new_root, &q).is_err());

            let mut r = old_root;
            r[pick % 32] ^= 1 << bit;
            prop_assert!(verify_consistency(old, new, &r, &new_root, &p).is_err());
            let mut r = new_root;
            r[pick % 32] ^= 1 << bit;
            prop_assert!(verify_consistency(old, new, &old_root, &r, &p).is_err());

            // A different old or new size with the same proof fails.
            if old + 1 < new {
                let r2 = mth(&l[..old as usize + 1]);
                prop_assert!(verify_consistency(old + 1, new, &r2, &new_root, &p).is_err());
            }
            let bigger = mth(&leaves(new + 1));
            prop_assert!(verify_consistency(old, new + 1, &old_root, &bigger, &p).is_err());
            prop_assert!(verify_consistency(new, old, &new_root, &old_root, &p).is_err());
        }
    }
}
