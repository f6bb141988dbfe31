//! RFC 6962 §2.1 Merkle tree hashing with SHA-256.
//!
//! The leaf hash of entry `d` is `SHA-256(0x00 || d)` and the hash of an
//! interior node is `SHA-256(0x01 || left || right)`; the root of the empty
//! tree is `SHA-256("")` (RFC 6962 §2.1, RFC 9162 §2.1.1).

use sha2::{Digest, Sha256};

/// Size in bytes of every hash in the log.
pub const HASH_SIZE: usize = 32;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; HASH_SIZE];

/// The leaf hash of an entry: `SHA-256(0x00 || entry)` (RFC 6962 §2.1).
#[must_use]
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)` (RFC 6962 §2.1).
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 1 + 2 * HASH_SIZE];
    let (tag, rest) = buf.split_at_mut(1);
    let (l, r) = rest.split_at_mut(HASH_SIZE);
    tag.copy_from_slice(&[1u8]);
    l.copy_from_slice(left);
    r.copy_from_slice(right);
    Sha256::digest(buf).into()
}

/// The root of the empty tree, `SHA-256("")` (RFC 6962 §2.1: MTH({}) = SHA-256()).
#[must_use]
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The Merkle tree hash of a list whose length is a power of two (a complete
/// subtree), e.g. the hash of a full tile of 256 hashes, or of `2^k`
/// consecutive hashes inside a tile. Returns `None` if the length is zero or
/// not a power of two.
#[must_use]
pub fn complete_subtree_root(hashes: &[Hash]) -> Option<Hash> {
    if hashes.is_empty() || !hashes.len().is_power_of_two() {
        return None;
    }
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| match pair {
                [l, r] => node_hash(l, r),
                _ => unreachable_pair(),
            })
            .collect();
    }
    level.first().copied()
}

// `chunks_exact(2)` only yields slices of length 2; this keeps the match total
// without a panic path.
#[inline]
fn unreachable_pair() -> Hash {
    [0u8; HASH_SIZE]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn leaf_hash_of_empty_entry() {
        // RFC 6962 test vector (certificate-transparency reference tests): MTH({""}).
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn complete_subtree_root_rejects_non_powers_of_two() {
        assert!(complete_subtree_root(&[]).is_none());
        assert!(complete_subtree_root(&[[0; 32]; 3]).is_none());
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        assert_eq!(complete_subtree_root(&[a, b]), Some(node_hash(&a, &b)));
        assert_eq!(complete_subtree_root(&[a]), Some(a));
    }
}
