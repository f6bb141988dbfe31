//! C2SP transparency log checkpoints (`c2sp.org/tlog-checkpoint`): a signed
//! note whose text is the log's origin, tree size and root hash, and
//! optional extension lines.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::hash::{HASH_SIZE, Hash};
use crate::note::{NoteError, Signer, Verifier, open_note};

/// An error parsing, encoding or opening a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The signed note is malformed, or is not signed by the log's key.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The checkpoint text does not end in a newline.
    #[error("checkpoint text does not end in a newline")]
    MissingFinalNewline,
    /// The checkpoint text contains an ASCII control character other than
    /// newline (signed-note §Format).
    #[error("checkpoint text contains a control character at byte {offset}")]
    ControlCharacter {
        /// Byte offset of the character.
        offset: usize,
    },
    /// The checkpoint has fewer than three lines (tlog-checkpoint §"Note text").
    #[error("checkpoint has fewer than three lines (origin, tree size, root hash)")]
    TooFewLines,
    /// The origin line is empty (tlog-checkpoint §"Note text", 1).
    #[error("checkpoint origin line is empty")]
    EmptyOrigin,
    /// The tree size line is not a decimal without leading zeros that fits
    /// in 64 bits (tlog-checkpoint §"Note text", 2).
    #[error(
        "checkpoint tree size {line:?} is not a decimal number without sign or leading zeros that fits in 64 bits"
    )]
    InvalidSize {
        /// The size line (its first 32 characters).
        line: String,
    },
    /// The root hash line is not the base64 of 32 bytes (tlog-checkpoint
    /// §"Note text", 3).
    #[error("checkpoint root hash is not the padded base64 of 32 bytes")]
    InvalidRoot,
    /// An extension line is empty (tlog-checkpoint §"Note text", 4).
    #[error("checkpoint extension line {index} is empty")]
    EmptyExtension {
        /// 0-based index of the extension line.
        index: usize,
    },
    /// The origin line is not the expected origin.
    #[error("checkpoint origin {found:?} is not the expected origin {expected:?}")]
    OriginMismatch {
        /// The origin expected by the caller.
        expected: String,
        /// The origin of the checkpoint (its first 256 characters).
        found: String,
    },
    /// A field cannot be encoded in a checkpoint text.
    #[error("checkpoint cannot be encoded: {reason}")]
    Unencodable {
        /// Which field, and why.
        reason: &'static str,
    },
}

/// At most the first `max` characters of `s`, for error messages.
fn excerpt(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Parses an ASCII decimal with no sign and no leading zeros (unless it is
/// `0`) into a `u64` (tlog-checkpoint §"Note text", 2; tlog-proof §Format).
pub(crate) fn parse_decimal(s: &[u8]) -> Option<u64> {
    match s {
        [] => None,
        [b'0', _, ..] => None,
        _ if !s.iter().all(u8::is_ascii_digit) => None,
        _ => std::str::from_utf8(s).ok()?.parse().ok(),
    }
}

/// Decodes the padded standard base64 (RFC 4648 §4) of exactly one hash.
pub(crate) fn decode_hash(s: &[u8]) -> Option<Hash> {
    // 32 bytes are 44 base64 characters; refuse anything else before decoding.
    if s.len() != HASH_SIZE.div_ceil(3) * 4 {
        return None;
    }
    Hash::try_from(BASE64.decode(s).ok()?.as_slice()).ok()
}

/// A transparency log checkpoint (tlog-checkpoint §"Note text").
///
/// Its fields are not trusted unless it comes from a [`VerifiedCheckpoint`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The origin: the unique, non-empty identity of the log.
    pub origin: String,
    /// The tree size: the number of leaves in the tree.
    pub size: u64,
    /// The RFC 6962 Merkle tree root hash at that size.
    pub root: Hash,
    /// The opaque extension lines, each non-empty, without their newlines.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text `origin\nsize\nbase64(root)\n` followed by one line per
    /// extension (tlog-checkpoint §"Note text").
    ///
    /// This does not validate the fields; [`Checkpoint::sign`] does.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for extension in &self.extensions {
            text.push_str(extension);
            text.push('\n');
        }
        text
    }

    /// Parses a checkpoint note text (tlog-checkpoint §"Note text"): at least
    /// three non-empty lines, each ending in a newline: a non-empty origin,
    /// the tree size in decimal with no sign and no leading zeros (unless it
    /// is `0`), the base64 of the 32-byte root hash, then the optional
    /// non-empty extension lines. ASCII control characters other than
    /// newline are refused, as in any note (signed-note §Format).
    ///
    /// # Errors
    ///
    /// A [`CheckpointError`] describing the first problem found.
    pub fn parse_text(text: &str) -> Result<Checkpoint, CheckpointError> {
        if let Some((offset, _)) = text.char_indices().find(|&(_, c)| c < ' ' && c != '\n') {
            return Err(CheckpointError::ControlCharacter { offset });
        }
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingFinalNewline)?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|origin| !origin.is_empty())
            .ok_or(CheckpointError::EmptyOrigin)?;
        let size_line = lines.next().ok_or(CheckpointError::TooFewLines)?;
        let root_line = lines.next().ok_or(CheckpointError::TooFewLines)?;
        let size =
            parse_decimal(size_line.as_bytes()).ok_or_else(|| CheckpointError::InvalidSize {
                line: excerpt(size_line, 32),
            })?;
        let root = decode_hash(root_line.as_bytes()).ok_or(CheckpointError::InvalidRoot)?;
        let extensions = lines
            .enumerate()
            .map(|(index, line)| {
                if line.is_empty() {
                    Err(CheckpointError::EmptyExtension { index })
                } else {
                    Ok(line.to_owned())
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint with each of `signers` and returns the signed
    /// note (signed-note §Format). The log's key name SHOULD be the origin
    /// (tlog-checkpoint §Signatures); this is not enforced.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Unencodable`] or a parse error if the fields cannot
    /// be encoded as a valid checkpoint text (an empty origin, a newline or
    /// control character in the origin or an extension, an empty extension),
    /// and [`CheckpointError::Note`] if signing fails.
    pub fn sign(&self, signers: &[&Signer]) -> Result<Vec<u8>, CheckpointError> {
        if self.origin.contains('\n') {
            return Err(CheckpointError::Unencodable {
                reason: "the origin contains a newline",
            });
        }
        if self.extensions.iter().any(|e| e.contains('\n')) {
            return Err(CheckpointError::Unencodable {
                reason: "an extension line contains a newline",
            });
        }
        let text = self.to_text();
        if Checkpoint::parse_text(&text)? != *self {
            return Err(CheckpointError::Unencodable {
                reason: "the text does not parse back to the checkpoint",
            });
        }
        Ok(crate::note::Note::sign(&text, signers)?.to_bytes())
    }
}

/// A checkpoint whose note was signed by the log's trusted key, with the
/// expected origin. Only [`open_checkpoint`] (and so
/// [`TlogProof::verify`](crate::TlogProof::verify)) makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    note_bytes: Vec<u8>,
}

impl VerifiedCheckpoint {
    /// The verified checkpoint.
    #[must_use]
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note exactly as verified, including any signature by keys
    /// other than the log's (such as witness cosignatures), unverified.
    #[must_use]
    pub fn note_bytes(&self) -> &[u8] {
        &self.note_bytes
    }

    /// The verified origin.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.checkpoint.origin
    }

    /// The verified tree size.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.checkpoint.size
    }

    /// The verified root hash.
    #[must_use]
    pub fn root(&self) -> &Hash {
        &self.checkpoint.root
    }
}

/// Opens a signed checkpoint: verifies the note with the log's `verifier`
/// (signed-note §Signatures; signatures by other keys, such as witnesses, are
/// ignored, tlog-checkpoint §Signatures), parses its text and checks that its
/// origin line is exactly `origin`.
///
/// # Errors
///
/// [`CheckpointError::Note`] if the note is malformed or not validly signed
/// by `verifier`, a parse error if the text is not a checkpoint, and
/// [`CheckpointError::OriginMismatch`] if the origin is not `origin`.
pub fn open_checkpoint(
    bytes: &[u8],
    origin: &str,
    verifier: &Verifier,
) -> Result<VerifiedCheckpoint, CheckpointError> {
    let note = open_note(bytes, std::slice::from_ref(verifier))?;
    let checkpoint = Checkpoint::parse_text(note.text())?;
    if checkpoint.origin != origin {
        return Err(CheckpointError::OriginMismatch {
            expected: origin.to_owned(),
            found: excerpt(&checkpoint.origin, 256),
        });
    }
    Ok(VerifiedCheckpoint {
        checkpoint,
        note_bytes: bytes.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{empty_root, leaf_hash};
    use proptest::prelude::*;

    // The example of C2SP tlog-checkpoint (no key published for it).
    const C2SP_CHECKPOINT: &str = "example.com/behind-the-sofa\n\
                                   20852163\n\
                                   CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
                                   \n\
                                   \u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

    // Checkpoints signed by the Go checksum database, sum.golang.org.
    const SUMDB_VKEY: &str = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
    const SUMDB_ORIGIN: &str = "go.sum database tree";
    const SUMDB_CHECKPOINT: &str = "go.sum database tree\n\
                                    6476701\n\
                                    mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\
                                    \n\
                                    \u{2014} sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n";
    // Cosigned by a witness, test.example.com, whose key is not known.
    const SUMDB_COSIGNED: &str = "go.sum database tree\n\
                                  15067302\n\
                                  gJyioq6dwR9n+NjEWORfYmH+ubeYm3kH42BBQ0bTpYI=\n\
                                  \n\
                                  \u{2014} sum.golang.org Az3grp1rvWOs5NKlr/xR4GLN/CDyzzakmt1o61uSxYKpK1SerqOP2ClbX/peKUZjYnyomH5Xz7GZG3TpB7OeKn4E2ww=\n\
                                  \u{2014} test.example.com qTGhC/xIPQ0AXKHK6Y+9ypRfuvMZWPjRXM8NiOg5M1WREn07VQXyuIXM3NRNav3ieVFLUqDRK77PWDmL6w8w84UqeAw=\n";

    const ORIGIN: &str = "example.com/log";

    fn sumdb() -> Verifier {
        Verifier::parse(SUMDB_VKEY).unwrap()
    }

    fn sample() -> Checkpoint {
        Checkpoint {
            origin: ORIGIN.into(),
            size: 2,
            root: leaf_hash(b"root"),
            extensions: vec![],
        }
    }

    #[test]
    fn c2sp_example_text_parses() {
        let note = crate::note::Note::parse(C2SP_CHECKPOINT.as_bytes()).unwrap();
        let cp = Checkpoint::parse_text(&note.text).unwrap();
        assert_eq!(cp.origin, "example.com/behind-the-sofa");
        assert_eq!(cp.size, 20852163);
        assert_eq!(
            BASE64.encode(cp.root),
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
        );
        assert!(cp.extensions.is_empty());
        assert_eq!(cp.to_text(), note.text);
        // Not signed by a key we know.
        assert!(matches!(
            open_checkpoint(C2SP_CHECKPOINT.as_bytes(), cp.origin.as_str(), &sumdb()),
            Err(CheckpointError::Note(NoteError::NoTrustedSignature { .. }))
        ));
    }

    #[test]
    fn sumdb_checkpoint_opens() {
        let vc = open_checkpoint(SUMDB_CHECKPOINT.as_bytes(), SUMDB_ORIGIN, &sumdb()).unwrap();
        assert_eq!(vc.size(), 6476701);
        assert_eq!(vc.origin(), SUMDB_ORIGIN);
        assert_eq!(
            BASE64.encode(vc.root()),
            "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk="
        );
        assert_eq!(vc.note_bytes(), SUMDB_CHECKPOINT.as_bytes());
        assert_eq!(
            vc.checkpoint().to_text().len() + 1,
            SUMDB_CHECKPOINT.find('\u{2014}').unwrap()
        );
    }

    #[test]
    fn cosigned_checkpoint_opens_ignoring_the_unknown_witness() {
        let vc = open_checkpoint(SUMDB_COSIGNED.as_bytes(), SUMDB_ORIGIN, &sumdb()).unwrap();
        assert_eq!(vc.size(), 15067302);
        assert_eq!(vc.note_bytes(), SUMDB_COSIGNED.as_bytes());
    }

    #[test]
    fn wrong_origin_is_rejected() {
        // Go's checkpoint tests: the right note with the wrong log ID.
        let err = open_checkpoint(
            SUMDB_CHECKPOINT.as_bytes(),
            "Go rocks but I might have the wrong ID",
            &sumdb(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            CheckpointError::OriginMismatch {
                expected: "Go rocks but I might have the wrong ID".into(),
                found: SUMDB_ORIGIN.into()
            }
        );
        // A prefix or extension of the origin is not the origin.
        assert!(open_checkpoint(SUMDB_CHECKPOINT.as_bytes(), "go.sum database", &sumdb()).is_err());
        assert!(
            open_checkpoint(
                SUMDB_CHECKPOINT.as_bytes(),
                "go.sum database tree ",
                &sumdb()
            )
            .is_err()
        );
    }

    #[test]
    fn wrong_key_is_rejected() {
        let other = Signer::generate("sum.golang.org").unwrap().verifier();
        assert!(matches!(
            open_checkpoint(SUMDB_CHECKPOINT.as_bytes(), SUMDB_ORIGIN, &other),
            Err(CheckpointError::Note(NoteError::NoTrustedSignature { .. }))
        ));
    }

    #[test]
    fn sign_and_open_round_trip() {
        let log = Signer::generate(ORIGIN).unwrap();
        let witness = Signer::generate("witness.example").unwrap();
        for cp in [
            sample(),
            Checkpoint {
                origin: "example.com/empty log".into(),
                size: 0,
                root: empty_root(),
                extensions: vec![],
            },
            Checkpoint {
                origin: ORIGIN.into(),
                size: u64::MAX,
                root: [0xff; 32],
                extensions: vec!["ext one".into(), "— two".into()],
            },
        ] {
            let bytes = cp.sign(&[&log, &witness]).unwrap();
            let vc = open_checkpoint(&bytes, &cp.origin, &log.verifier()).unwrap();
            assert_eq!(vc.checkpoint(), &cp);
            assert_eq!(vc.note_bytes(), bytes.as_slice());
            assert_eq!(vc.size(), cp.size);
            assert_eq!(vc.root(), &cp.root);
            // Any key trusted by the caller may be the one verifying it.
            assert!(open_checkpoint(&bytes, &cp.origin, &witness.verifier()).is_ok());
            assert_eq!(Checkpoint::parse_text(&cp.to_text()).unwrap(), cp);
        }
    }

    #[test]
    fn to_text_is_the_spec_layout() {
        let cp = Checkpoint {
            origin: "example.com/behind-the-sofa".into(),
            size: 20852163,
            root: BASE64
                .decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
                .unwrap()
                .try_into()
                .unwrap(),
            extensions: vec!["extra".into()],
        };
        assert_eq!(
            cp.to_text(),
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nextra\n"
        );
    }

    #[test]
    fn malformed_texts_are_rejected() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        let cases: Vec<(String, CheckpointError)> = vec![
            (
                format!("o\n1\n{root}"),
                CheckpointError::MissingFinalNewline,
            ),
            ("o\n1\n".into(), CheckpointError::TooFewLines),
            ("o\n".into(), CheckpointError::TooFewLines),
            ("\n".into(), CheckpointError::EmptyOrigin),
            ("".into(), CheckpointError::MissingFinalNewline),
            (format!("\n1\n{root}\n"), CheckpointError::EmptyOrigin),
            (
                format!("o\n01\n{root}\n"),
                CheckpointError::InvalidSize { line: "01".into() },
            ),
            (
                format!("o\n00\n{root}\n"),
                CheckpointError::InvalidSize { line: "00".into() },
            ),
            (
                format!("o\n+1\n{root}\n"),
                CheckpointError::InvalidSize { line: "+1".into() },
            ),
            (
                format!("o\n-1\n{root}\n"),
                CheckpointError::InvalidSize { line: "-1".into() },
            ),
            (
                format!("o\n 1\n{root}\n"),
                CheckpointError::InvalidSize { line: " 1".into() },
            ),
            (
                format!("o\n\n{root}\n"),
                CheckpointError::InvalidSize { line: "".into() },
            ),
            (
                format!("o\n1x\n{root}\n"),
                CheckpointError::InvalidSize { line: "1x".into() },
            ),
            (
                format!("o\n18446744073709551616\n{root}\n"),
                CheckpointError::InvalidSize {
                    line: "18446744073709551616".into(),
                },
            ),
            ("o\n1\n\n".into(), CheckpointError::InvalidRoot),
            ("o\n1\nAAAA\n".into(), CheckpointError::InvalidRoot),
            (
                format!("o\n1\n{}\n", root.trim_end_matches('=')),
                CheckpointError::InvalidRoot,
            ),
            (format!("o\n1\n{root} \n"), CheckpointError::InvalidRoot),
            // 33 bytes.
            (
                format!("o\n1\n{}\n", BASE64.encode([7u8; 33])),
                CheckpointError::InvalidRoot,
            ),
            // Non-canonical trailing bits.
            (
                format!("o\n1\n{}\n", root.replace("2I=", "2J=")),
                CheckpointError::InvalidRoot,
            ),
            (
                format!("o\n1\n{root}\n\n"),
                CheckpointError::EmptyExtension { index: 0 },
            ),
            (
                format!("o\n1\n{root}\na\n\nb\n"),
                CheckpointError::EmptyExtension { index: 1 },
            ),
            (
                format!("o\r\n1\n{root}\n"),
                CheckpointError::ControlCharacter { offset: 1 },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Checkpoint::parse_text(&text), Err(want), "{text:?}");
        }
        assert_eq!(
            Checkpoint::parse_text(&format!("o\n0\n{root}\n"))
                .unwrap()
                .size,
            0
        );
        assert_eq!(
            Checkpoint::parse_text(&format!("o\n18446744073709551615\n{root}\n"))
                .unwrap()
                .size,
            u64::MAX
        );
    }

    #[test]
    fn sign_rejects_unencodable_checkpoints() {
        let log = Signer::generate(ORIGIN).unwrap();
        let mut cp = sample();
        cp.origin = "a\nb".into();
        assert!(matches!(
            cp.sign(&[&log]),
            Err(CheckpointError::Unencodable { .. })
        ));
        let mut cp = sample();
        cp.origin = String::new();
        assert_eq!(cp.sign(&[&log]), Err(CheckpointError::EmptyOrigin));
        let mut cp = sample();
        cp.extensions = vec![String::new()];
        assert!(cp.sign(&[&log]).is_err());
        let mut cp = sample();
        cp.extensions = vec!["a\nb".into()];
        assert!(cp.sign(&[&log]).is_err());
        let mut cp = sample();
        cp.origin = "tab\there".into();
        assert!(cp.sign(&[&log]).is_err());
        assert_eq!(
            sample().sign(&[]),
            Err(CheckpointError::Note(NoteError::NoSigners))
        );
    }

    #[test]
    fn changed_size_or_root_is_rejected() {
        let log = Signer::generate(ORIGIN).unwrap();
        let bytes = sample().sign(&[&log]).unwrap();
        let sigs = &bytes[sample().to_text().len()..];
        let mut changed = sample();
        changed.size = 3;
        let forged = [changed.to_text().as_bytes(), sigs].concat();
        assert!(matches!(
            open_checkpoint(&forged, ORIGIN, &log.verifier()),
            Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
        ));
        let mut changed = sample();
        changed.root = leaf_hash(b"other");
        let forged = [changed.to_text().as_bytes(), sigs].concat();
        assert!(open_checkpoint(&forged, ORIGIN, &log.verifier()).is_err());
    }

    #[test]
    fn parse_decimal_is_strict() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"10"), Some(10));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"00",
            b"01",
            b"+1",
            b"-0",
            b"1 ",
            b"\xd9\xa1",
            b"18446744073709551616",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn flipping_any_byte_of_a_signed_checkpoint_is_rejected(
            size in any::<u64>(),
            root in any::<[u8; 32]>(),
            position in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let log = Signer::from_skey(
                "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            ).unwrap();
            let cp = Checkpoint { origin: "PeterNeumann".into(), size, root, extensions: vec![] };
            let mut bytes = cp.sign(&[&log]).unwrap();
            prop_assert!(open_checkpoint(&bytes, "PeterNeumann", &log.verifier()).is_ok());
            let i = position.index(bytes.len());
            bytes[i] ^= flip;
            prop_assert!(open_checkpoint(&bytes, "PeterNeumann", &log.verifier()).is_err());
        }

        #[test]
        fn changing_size_or_root_of_a_signed_checkpoint_is_rejected(
            size in any::<u64>(),
            other_size in any::<u64>(),
            root in any::<[u8; 32]>(),
            other_root in any::<[u8; 32]>(),
        ) {
            let log = Signer::from_skey(
                "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            ).unwrap();
            let cp = Checkpoint { origin: "PeterNeumann".into(), size, root, extensions: vec![] };
            let bytes = cp.sign(&[&log]).unwrap();
            let sigs = &bytes[cp.to_text().len()..];
            for changed in [
                Checkpoint { size: other_size, ..cp.clone() },
                Checkpoint { root: other_root, ..cp.clone() },
            ] {
                if changed != cp {
                    let forged = [changed.to_text().as_bytes(), sigs].concat();
                    prop_assert!(open_checkpoint(&forged, "PeterNeumann", &log.verifier()).is_err());
                }
            }
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(s) = std::str::from_utf8(&bytes) {
                let _ = Checkpoint::parse_text(s);
            }
            let _ = open_checkpoint(&bytes, "o", &sumdb());
        }

        #[test]
        fn parse_never_panics_on_checkpoint_like_text(text in "[a-z0-9+/=\n]{0,80}") {
            if let Ok(cp) = Checkpoint::parse_text(&text) {
                prop_assert_eq!(cp.to_text(), text);
            }
        }
    }
}
