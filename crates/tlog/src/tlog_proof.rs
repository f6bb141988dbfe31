//! C2SP transparency log proofs (`c2sp.org/tlog-proof@v1`): an offline
//! verifiable bundle of an entry's index, its Merkle inclusion proof and the
//! signed checkpoint it is proved against.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::checkpoint::{
    CheckpointError, VerifiedCheckpoint, decode_hash, open_checkpoint, parse_decimal,
};
use crate::hash::Hash;
use crate::note::Verifier;
use crate::proof::{ProofError, verify_inclusion};

/// The first line of every proof (tlog-proof §Format).
const HEADER: &[u8] = b"c2sp.org/tlog-proof@v1";

/// The prefix of the optional extra data line (tlog-proof §Format).
const EXTRA_PREFIX: &[u8] = b"extra ";

/// The prefix of the index line (tlog-proof §Format).
const INDEX_PREFIX: &[u8] = b"index ";

/// The most inclusion proof hashes accepted: the proof for a tree of up to
/// 2^64 - 1 leaves has at most 64 hashes.
const MAX_HASHES: usize = 64;

/// An error parsing or verifying a tlog-proof.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogProofError {
    /// The first line is not `c2sp.org/tlog-proof@v1`.
    #[error("tlog-proof does not start with the line \"c2sp.org/tlog-proof@v1\"")]
    BadHeader,
    /// The proof ends before the empty line preceding the checkpoint.
    #[error("tlog-proof ends before the empty line that precedes the checkpoint")]
    Truncated,
    /// The extra data is not valid padded base64.
    #[error("tlog-proof extra data is not valid padded base64")]
    InvalidExtra,
    /// There is no `index` line where expected.
    #[error("tlog-proof has no \"index\" line after its header and optional \"extra\" line")]
    MissingIndex,
    /// The index is not a decimal without leading zeros that fits in 64 bits.
    #[error(
        "tlog-proof index is not a decimal number without sign or leading zeros that fits in 64 bits"
    )]
    InvalidIndex,
    /// A line of the inclusion proof is not the base64 of a 32-byte hash.
    #[error(
        "tlog-proof inclusion proof line {position} is not the padded base64 of a 32-byte hash"
    )]
    InvalidHash {
        /// 0-based position of the hash in the inclusion proof.
        position: usize,
    },
    /// The inclusion proof has more hashes than any tree needs.
    #[error("tlog-proof has more than {max} inclusion proof hashes")]
    TooManyHashes {
        /// The maximum number of hashes.
        max: usize,
    },
    /// Nothing follows the empty line.
    #[error("tlog-proof has no checkpoint after its empty line")]
    EmptyCheckpoint,
    /// The checkpoint is malformed, not signed by the log, or of another origin.
    #[error("tlog-proof checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The inclusion proof does not prove the entry in the checkpoint's tree.
    #[error("tlog-proof inclusion proof does not verify: {0}")]
    Inclusion(#[from] ProofError),
}

/// A transparency log proof (tlog-proof §Format): optional unauthenticated
/// extra data, the index of an entry, its inclusion proof, and the signed
/// checkpoint of the tree it is included in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque extra data. It is not authenticated and MUST NOT be trusted
    /// implicitly (tlog-proof §Format).
    pub extra: Option<Vec<u8>>,
    /// The zero-based index of the entry in the log.
    pub index: u64,
    /// The RFC 6962 §2.1.1 inclusion proof, from the leaf's sibling up to the
    /// root's child.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint note, verbatim (c2sp.org/tlog-checkpoint).
    pub checkpoint: Vec<u8>,
}

/// Splits the next newline-terminated line off `rest`, without its newline.
fn next_line<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let end = rest.iter().position(|&b| b == b'\n')?;
    let (line, tail) = rest.split_at_checked(end)?;
    *rest = tail.get(1..)?;
    Some(line)
}

impl TlogProof {
    /// Encodes the proof (tlog-proof §Format): the line
    /// `c2sp.org/tlog-proof@v1`, the optional line `extra <base64>`, the line
    /// `index <decimal>`, one base64 hash per line, an empty line, and the
    /// checkpoint verbatim.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + 45 * self.hashes.len() + self.checkpoint.len());
        out.extend_from_slice(HEADER);
        out.push(b'\n');
        if let Some(extra) = &self.extra {
            out.extend_from_slice(EXTRA_PREFIX);
            out.extend_from_slice(BASE64.encode(extra).as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(INDEX_PREFIX);
        out.extend_from_slice(self.index.to_string().as_bytes());
        out.push(b'\n');
        for hash in &self.hashes {
            out.extend_from_slice(BASE64.encode(hash).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.checkpoint);
        out
    }

    /// Parses a proof (tlog-proof §Format), strictly: the exact header line;
    /// an optional `extra` line of padded base64 (possibly empty); an `index`
    /// line in decimal with no sign and no leading zeros (unless `0`); at
    /// most 64 lines each the padded base64 of a 32-byte hash; an empty line;
    /// and a non-empty checkpoint, kept verbatim and not checked until
    /// [`TlogProof::verify`].
    ///
    /// # Errors
    ///
    /// A [`TlogProofError`] describing the first problem found.
    pub fn parse(bytes: &[u8]) -> Result<TlogProof, TlogProofError> {
        let mut rest = bytes;
        let header = next_line(&mut rest).ok_or(TlogProofError::BadHeader)?;
        if header != HEADER {
            return Err(TlogProofError::BadHeader);
        }
        let mut line = next_line(&mut rest).ok_or(TlogProofError::Truncated)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix(EXTRA_PREFIX) {
            extra = Some(
                BASE64
                    .decode(b64)
                    .map_err(|_| TlogProofError::InvalidExtra)?,
            );
            line = next_line(&mut rest).ok_or(TlogProofError::Truncated)?;
        }
        let index = line
            .strip_prefix(INDEX_PREFIX)
            .ok_or(TlogProofError::MissingIndex)?;
        let index = parse_decimal(index).ok_or(TlogProofError::InvalidIndex)?;
        let mut hashes = Vec::new();
        loop {
            let line = next_line(&mut rest).ok_or(TlogProofError::Truncated)?;
            if line.is_empty() {
                break;
            }
            if hashes.len() == MAX_HASHES {
                return Err(TlogProofError::TooManyHashes { max: MAX_HASHES });
            }
            let hash = decode_hash(line).ok_or(TlogProofError::InvalidHash {
                position: hashes.len(),
            })?;
            hashes.push(hash);
        }
        if rest.is_empty() {
            return Err(TlogProofError::EmptyCheckpoint);
        }
        Ok(TlogProof {
            extra,
            index,
            hashes,
            checkpoint: rest.to_vec(),
        })
    }

    /// Verifies that the entry whose leaf hash is `leaf_hash` is at
    /// [`index`](TlogProof::index) in the tree of the checkpoint, and that
    /// the checkpoint is signed by the log's `verifier` with origin `origin`
    /// (witness cosignatures are ignored). Returns the verified checkpoint.
    ///
    /// The extra data is not authenticated and plays no part.
    ///
    /// # Errors
    ///
    /// [`TlogProofError::Checkpoint`] if the checkpoint does not open (see
    /// [`open_checkpoint`]) and [`TlogProofError::Inclusion`] if the
    /// inclusion proof does not verify against it (RFC 9162 §2.1.3.2).
    pub fn verify(
        &self,
        leaf_hash: &Hash,
        origin: &str,
        verifier: &Verifier,
    ) -> Result<VerifiedCheckpoint, TlogProofError> {
        let checkpoint = open_checkpoint(&self.checkpoint, origin, verifier)?;
        verify_inclusion(
            leaf_hash,
            self.index,
            checkpoint.size(),
            &self.hashes,
            checkpoint.root(),
        )?;
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::hash::{leaf_hash, node_hash};
    use crate::note::{NoteError, Signer};
    use proptest::prelude::*;

    const ORIGIN: &str = "example.com/log";

    // The example of C2SP tlog-proof, up to its (abbreviated) checkpoint.
    const C2SP_PROOF_HEAD: &str = "c2sp.org/tlog-proof@v1\n\
        extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n\
        index 73894\n\
        gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n\
        B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n\
        EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n\
        RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n\
        AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n\
        \n";
    const C2SP_CHECKPOINT: &str = "example.com/fancylog\n\
        109482\n\
        sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\
        \n\
        \u{2014} example.com/fancylog hI2DJw[...]1roloI=\n";

    struct Fixture {
        log: Signer,
        leaves: Vec<Hash>,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                log: Signer::generate(ORIGIN).unwrap(),
                leaves: vec![leaf_hash(b"entry 0"), leaf_hash(b"entry 1")],
            }
        }

        fn signed(&self, size: u64, root: Hash) -> Vec<u8> {
            Checkpoint {
                origin: ORIGIN.into(),
                size,
                root,
                extensions: vec![],
            }
            .sign(&[&self.log])
            .unwrap()
        }

        /// A proof for the only leaf of a tree of size 1: no hashes.
        fn proof_size_1(&self) -> TlogProof {
            TlogProof {
                extra: None,
                index: 0,
                hashes: vec![],
                checkpoint: self.signed(1, self.leaves[0]),
            }
        }

        /// A proof for leaf `index` of a tree of size 2: the other leaf.
        fn proof_size_2(&self, index: u64) -> TlogProof {
            let [l0, l1] = [self.leaves[0], self.leaves[1]];
            TlogProof {
                extra: Some(b"context".to_vec()),
                index,
                hashes: vec![if index == 0 { l1 } else { l0 }],
                checkpoint: self.signed(2, node_hash(&l0, &l1)),
            }
        }
    }

    #[test]
    fn c2sp_example_parses_and_round_trips() {
        let bytes = format!("{C2SP_PROOF_HEAD}{C2SP_CHECKPOINT}");
        let proof = TlogProof::parse(bytes.as_bytes()).unwrap();
        assert_eq!(proof.index, 73894);
        assert_eq!(proof.hashes.len(), 5);
        assert_eq!(
            BASE64.encode(proof.hashes[0]),
            "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ="
        );
        assert_eq!(
            proof.extra.as_deref(),
            Some(
                BASE64
                    .decode("YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ")
                    .unwrap()
                    .as_slice()
            )
        );
        assert_eq!(proof.checkpoint, C2SP_CHECKPOINT.as_bytes());
        assert_eq!(proof.to_bytes(), bytes.as_bytes());
        // Its checkpoint is abbreviated in the spec, so it cannot verify.
        let v = Signer::generate("example.com/fancylog").unwrap().verifier();
        assert!(matches!(
            proof.verify(&[0; 32], "example.com/fancylog", &v),
            Err(TlogProofError::Checkpoint(CheckpointError::Note(_)))
        ));
    }

    #[test]
    fn to_bytes_is_the_spec_layout() {
        let proof = TlogProof {
            extra: Some(b"hi".to_vec()),
            index: 7,
            hashes: vec![[0; 32], [0xff; 32]],
            checkpoint: b"cp\n".to_vec(),
        };
        assert_eq!(
            String::from_utf8(proof.to_bytes()).unwrap(),
            "c2sp.org/tlog-proof@v1\n\
             extra aGk=\n\
             index 7\n\
             AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\
             //////////////////////////////////////////8=\n\
             \n\
             cp\n"
        );
        let bare = TlogProof {
            extra: None,
            index: 0,
            hashes: vec![],
            checkpoint: b"cp\n".to_vec(),
        };
        assert_eq!(bare.to_bytes(), b"c2sp.org/tlog-proof@v1\nindex 0\n\ncp\n");
        assert_eq!(TlogProof::parse(&bare.to_bytes()).unwrap(), bare);
        assert_eq!(TlogProof::parse(&proof.to_bytes()).unwrap(), proof);
    }

    #[test]
    fn proof_in_tree_of_size_1_verifies() {
        let f = Fixture::new();
        let proof = f.proof_size_1();
        let parsed = TlogProof::parse(&proof.to_bytes()).unwrap();
        assert_eq!(parsed, proof);
        let vc = parsed
            .verify(&f.leaves[0], ORIGIN, &f.log.verifier())
            .unwrap();
        assert_eq!(vc.size(), 1);
        assert_eq!(vc.root(), &f.leaves[0]);
        assert_eq!(vc.note_bytes(), proof.checkpoint.as_slice());
        // Another leaf is not in it.
        assert!(matches!(
            parsed.verify(&f.leaves[1], ORIGIN, &f.log.verifier()),
            Err(TlogProofError::Inclusion(_))
        ));
    }

    #[test]
    fn proofs_in_tree_of_size_2_verify() {
        let f = Fixture::new();
        for index in 0..2u64 {
            let proof = f.proof_size_2(index);
            let parsed = TlogProof::parse(&proof.to_bytes()).unwrap();
            assert_eq!(parsed, proof);
            let leaf = f.leaves[usize::try_from(index).unwrap()];
            let vc = parsed.verify(&leaf, ORIGIN, &f.log.verifier()).unwrap();
            assert_eq!(vc.size(), 2);
            let other = f.leaves[usize::try_from(1 - index).unwrap()];
            assert!(matches!(
                parsed.verify(&other, ORIGIN, &f.log.verifier()),
                Err(TlogProofError::Inclusion(_))
            ));
        }
    }

    #[test]
    fn wrong_index_hashes_origin_or_key_are_rejected() {
        let f = Fixture::new();
        let v = f.log.verifier();
        let good = f.proof_size_2(1);
        let leaf = f.leaves[1];
        assert!(good.verify(&leaf, ORIGIN, &v).is_ok());

        let mut p = good.clone();
        p.index = 0;
        assert!(matches!(
            p.verify(&leaf, ORIGIN, &v),
            Err(TlogProofError::Inclusion(_))
        ));
        p.index = 2;
        assert!(matches!(
            p.verify(&leaf, ORIGIN, &v),
            Err(TlogProofError::Inclusion(_))
        ));

        let mut p = good.clone();
        p.hashes.clear();
        assert!(matches!(
            p.verify(&leaf, ORIGIN, &v),
            Err(TlogProofError::Inclusion(_))
        ));
        let mut p = good.clone();
        p.hashes.push(leaf);
        assert!(matches!(
            p.verify(&leaf, ORIGIN, &v),
            Err(TlogProofError::Inclusion(_))
        ));
        let mut p = good.clone();
        p.hashes[0][0] ^= 1;
        assert!(matches!(
            p.verify(&leaf, ORIGIN, &v),
            Err(TlogProofError::Inclusion(_))
        ));

        assert!(matches!(
            good.verify(&leaf, "example.com/other", &v),
            Err(TlogProofError::Checkpoint(
                CheckpointError::OriginMismatch { .. }
            ))
        ));
        let stranger = Signer::generate(ORIGIN).unwrap().verifier();
        assert!(matches!(
            good.verify(&leaf, ORIGIN, &stranger),
            Err(TlogProofError::Checkpoint(CheckpointError::Note(
                NoteError::NoTrustedSignature { .. }
            )))
        ));
        let mut p = good.clone();
        p.checkpoint[0] ^= 1;
        assert!(matches!(
            p.verify(&leaf, ORIGIN, &v),
            Err(TlogProofError::Checkpoint(_))
        ));
        // The extra data is not authenticated: changing it changes nothing.
        let mut p = good;
        p.extra = None;
        assert!(p.verify(&leaf, ORIGIN, &v).is_ok());
    }

    #[test]
    fn malformed_proofs_are_rejected() {
        let h = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let cases: Vec<(String, TlogProofError)> = vec![
            ("".into(), TlogProofError::BadHeader),
            ("c2sp.org/tlog-proof@v1".into(), TlogProofError::BadHeader),
            (
                "c2sp.org/tlog-proof@v2\nindex 0\n\ncp\n".into(),
                TlogProofError::BadHeader,
            ),
            (
                " c2sp.org/tlog-proof@v1\nindex 0\n\ncp\n".into(),
                TlogProofError::BadHeader,
            ),
            (
                "c2sp.org/tlog-proof@v1\r\nindex 0\n\ncp\n".into(),
                TlogProofError::BadHeader,
            ),
            ("c2sp.org/tlog-proof@v1\n".into(), TlogProofError::Truncated),
            (
                "c2sp.org/tlog-proof@v1\nindex 0".into(),
                TlogProofError::Truncated,
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex 0\n".into(),
                TlogProofError::Truncated,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 0\n{h}\n"),
                TlogProofError::Truncated,
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex 0\n\n".into(),
                TlogProofError::EmptyCheckpoint,
            ),
            (
                "c2sp.org/tlog-proof@v1\nextra aGk\nindex 0\n\ncp\n".into(),
                TlogProofError::InvalidExtra,
            ),
            (
                "c2sp.org/tlog-proof@v1\nextra aGk=\n\ncp\n".into(),
                TlogProofError::MissingIndex,
            ),
            (
                "c2sp.org/tlog-proof@v1\n\ncp\n".into(),
                TlogProofError::MissingIndex,
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex 0\nextra aGk=\n\ncp\n".into(),
                TlogProofError::InvalidHash { position: 0 },
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex  0\n\ncp\n".into(),
                TlogProofError::InvalidIndex,
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex\n\ncp\n".into(),
                TlogProofError::MissingIndex,
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex \n\ncp\n".into(),
                TlogProofError::InvalidIndex,
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex 01\n\ncp\n".into(),
                TlogProofError::InvalidIndex,
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex +1\n\ncp\n".into(),
                TlogProofError::InvalidIndex,
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex -1\n\ncp\n".into(),
                TlogProofError::InvalidIndex,
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\ncp\n".into(),
                TlogProofError::InvalidIndex,
            ),
            (
                "c2sp.org/tlog-proof@v1\nIndex 1\n\ncp\n".into(),
                TlogProofError::MissingIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\nAAAA\n\ncp\n"),
                TlogProofError::InvalidHash { position: 1 },
            ),
            (
                format!(
                    "c2sp.org/tlog-proof@v1\nindex 1\n{}\n\ncp\n",
                    h.trim_end_matches('=')
                ),
                TlogProofError::InvalidHash { position: 0 },
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 1\n{h} \n\ncp\n"),
                TlogProofError::InvalidHash { position: 0 },
            ),
            (
                format!(
                    "c2sp.org/tlog-proof@v1\nindex 1\n{}\n\ncp\n",
                    BASE64.encode([1u8; 31])
                ),
                TlogProofError::InvalidHash { position: 0 },
            ),
            (
                format!(
                    "c2sp.org/tlog-proof@v1\nindex 1\n{}\n\ncp\n",
                    BASE64.encode([1u8; 33])
                ),
                TlogProofError::InvalidHash { position: 0 },
            ),
            (
                format!(
                    "c2sp.org/tlog-proof@v1\nindex 1\n{}\ncp\n",
                    format!("{h}\n").repeat(65)
                ),
                TlogProofError::TooManyHashes { max: 64 },
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(TlogProof::parse(bytes.as_bytes()), Err(want), "{bytes:?}");
        }
        let max = format!(
            "c2sp.org/tlog-proof@v1\nindex 1\n{}\ncp\n",
            format!("{h}\n").repeat(64)
        );
        assert_eq!(TlogProof::parse(max.as_bytes()).unwrap().hashes.len(), 64);
        let empty_extra =
            TlogProof::parse(b"c2sp.org/tlog-proof@v1\nextra \nindex 0\n\ncp\n").unwrap();
        assert_eq!(empty_extra.extra, Some(vec![]));
        let big = TlogProof::parse(b"c2sp.org/tlog-proof@v1\nindex 18446744073709551615\n\ncp\n")
            .unwrap();
        assert_eq!(big.index, u64::MAX);
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(proof) = TlogProof::parse(&bytes) {
                let v = Signer::generate(ORIGIN).unwrap().verifier();
                let _ = proof.verify(&[0; 32], ORIGIN, &v);
            }
        }

        #[test]
        fn parse_never_panics_on_proof_like_input(
            extra in proptest::option::of("[A-Za-z0-9+/=]{0,12}"),
            index in "[0-9+ -]{0,22}",
            hashes in proptest::collection::vec("[A-Za-z0-9+/=]{42,46}", 0..3),
            tail in "[a-z\n]{0,10}",
        ) {
            let mut s = "c2sp.org/tlog-proof@v1\n".to_owned();
            if let Some(e) = extra {
                s.push_str(&format!("extra {e}\n"));
            }
            s.push_str(&format!("index {index}\n"));
            for h in hashes {
                s.push_str(&h);
                s.push('\n');
            }
            s.push('\n');
            s.push_str(&tail);
            if let Ok(proof) = TlogProof::parse(s.as_bytes()) {
                prop_assert_eq!(proof.to_bytes(), s.into_bytes());
            }
        }

        #[test]
        fn encoded_proofs_round_trip(
            extra in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
            index in any::<u64>(),
            hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..=64),
            checkpoint in proptest::collection::vec(any::<u8>(), 1..200),
        ) {
            let proof = TlogProof { extra, index, hashes, checkpoint };
            prop_assert_eq!(TlogProof::parse(&proof.to_bytes()), Ok(proof));
        }
    }
}
