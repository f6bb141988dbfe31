//! C2SP signed notes (`c2sp.org/signed-note`), with Ed25519 keys only
//! (signature type `0x01`).
//!
//! A signed note is a text ending in a newline, a blank line, and one or
//! more signature lines `— <key name> base64(key ID || signature)`. The key
//! text formats are those of Go's `golang.org/x/mod/sumdb/note`:
//!
//! - verifier key: `<name>+<8 hex digits key ID>+base64(0x01 || 32-byte public key)`;
//! - signer key: `PRIVATE+KEY+<name>+<8 hex digits key ID>+base64(0x01 || 32-byte seed)`.
//!
//! A note's text must be ignored unless it is opened with [`open_note`],
//! which yields a [`VerifiedNote`] only if a trusted key signed it.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore as _};
use sha2::{Digest as _, Sha256};

/// Signature type identifier byte of Ed25519 (signed-note §"Signature types").
const ALG_ED25519: u8 = 0x01;

/// Size of an Ed25519 public key or seed (RFC 8032 §5.1.5).
const ED25519_KEY_SIZE: usize = 32;

/// Size of the key ID prefix of an encoded signature (signed-note §Format).
const KEY_ID_SIZE: usize = 4;

/// The most signatures [`Note::parse`] accepts. signed-note §Format: verifiers
/// SHOULD limit the number of signatures and MUST accept at least 16; Go's
/// `sumdb/note` rejects notes with more than 100.
pub(crate) const MAX_SIGNATURES: usize = 100;

/// The largest note, in bytes, [`Note::parse`] accepts (signed-note §Format
/// allows limiting the overall size of a note instead of the signature count).
pub(crate) const MAX_NOTE_SIZE: usize = 1 << 20;

/// Start of every signature line: em dash (U+2014) and space (signed-note §Format).
const SIG_PREFIX: &str = "\u{2014} ";

/// Start of an encoded signer key (Go `sumdb/note`), so that it cannot be
/// mistaken for a verifier key.
const SKEY_PREFIX: &str = "PRIVATE+KEY+";

/// An error parsing, signing or verifying a signed note or a key.
///
/// No variant ever carries private key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is larger than the maximum size accepted.
    #[error("note is {size} bytes, more than the maximum of {max} bytes")]
    TooLarge {
        /// Size of the note, in bytes.
        size: usize,
        /// The maximum size accepted, in bytes.
        max: usize,
    },
    /// The note is not valid UTF-8 (signed-note §Format).
    #[error("note is not valid UTF-8")]
    InvalidUtf8,
    /// The note or text contains an ASCII control character other than
    /// newline (signed-note §Format).
    #[error("note contains the control character U+{code:04X} at byte {offset}")]
    ControlCharacter {
        /// Byte offset of the character.
        offset: usize,
        /// The character's code point.
        code: u32,
    },
    /// The note text does not end in a newline (signed-note §Format).
    #[error("note text does not end in a newline")]
    TextMissingNewline,
    /// There is no blank line separating the text from the signatures.
    #[error("note has no blank line separating the text from the signatures")]
    MissingBlankLine,
    /// There are no signature lines after the last blank line.
    #[error("note has no signature lines after its last blank line")]
    NoSignatures,
    /// A signature line is malformed (signed-note §Signatures).
    #[error("malformed signature line {line}: {reason}")]
    MalformedSignatureLine {
        /// 1-based number of the line within the signature block.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The note has more signatures than accepted.
    #[error("note has more than {max} signatures")]
    TooManySignatures {
        /// The maximum number of signatures accepted.
        max: usize,
    },
    /// A key name is empty or contains a Unicode space, a plus sign or an
    /// ASCII control character (signed-note §Format).
    #[error(
        "invalid key name {name:?}: a key name must be non-empty and contain no spaces, '+' or control characters"
    )]
    InvalidKeyName {
        /// The rejected name.
        name: String,
    },
    /// A verifier key is not of the form `<name>+<8 hex digits>+<base64>`.
    #[error("malformed verifier key: {reason}")]
    MalformedVerifierKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A signer key is malformed. The message never quotes the key.
    #[error("malformed signer key: {reason}")]
    MalformedSignerKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key is of a signature type other than Ed25519 (`0x01`).
    #[error("unsupported signature type 0x{alg:02x}: only Ed25519 (0x01) is supported")]
    UnsupportedAlgorithm {
        /// The signature type identifier byte found.
        alg: u8,
    },
    /// The key ID of a verifier key is not the one computed from its name and
    /// public key (signed-note §"Ed25519 signatures").
    #[error("verifier key {name}+{found:08x} has the wrong key ID: the key's ID is {computed:08x}")]
    KeyIdMismatch {
        /// The key name.
        name: String,
        /// The key ID written in the key.
        found: u32,
        /// The key ID computed from the name and public key.
        computed: u32,
    },
    /// The Ed25519 public key of a verifier key is unsafe or not a valid point.
    #[error("unsafe Ed25519 public key for {name}: {reason}")]
    UnsafePublicKey {
        /// The key name.
        name: String,
        /// What is wrong with the key.
        reason: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("cannot generate a key: the OS random number generator failed: {0}")]
    Rng(String),
    /// No signer was given to sign a note.
    #[error("a note needs at least one signer")]
    NoSigners,
    /// A signature by a trusted key failed to verify (signed-note §Signatures:
    /// the whole note is rejected).
    #[error("invalid signature by trusted key {name}+{key_id:08x}")]
    InvalidSignature {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: u32,
    },
    /// Several different trusted keys share the name and key ID of a signature.
    #[error(
        "ambiguous key {name}+{key_id:08x}: several different trusted keys have this name and key ID"
    )]
    AmbiguousKey {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: u32,
    },
    /// No signature by a trusted key was found (signed-note §Signatures).
    #[error(
        "no signature by a trusted key: expected {}, found {}",
        join_or_none(.expected),
        join_or_none(.found)
    )]
    NoTrustedSignature {
        /// The trusted keys, as `name+keyid`.
        expected: Vec<String>,
        /// The keys that signed the note, as `name+keyid`.
        found: Vec<String>,
    },
}

/// Joins key labels for an error message.
fn join_or_none(list: &[String]) -> String {
    if list.is_empty() {
        "(none)".to_owned()
    } else {
        list.join(", ")
    }
}

/// Formats a key as `name+keyid`, as in a verifier key.
fn key_label(name: &str, key_id: u32) -> String {
    format!("{name}+{key_id:08x}")
}

/// Whether `name` is a valid key name: non-empty, without Unicode spaces or
/// plus signs (signed-note §Format). ASCII control characters are refused
/// too, since they may not appear anywhere in a note.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c < ' ')
}

/// Checks a key name, for keys created or parsed from this process.
fn check_name(name: &str) -> Result<(), NoteError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidKeyName {
            name: name.to_owned(),
        })
    }
}

/// The first ASCII control character other than newline in `s`, if any
/// (signed-note §Format: notes MUST NOT contain them).
fn find_control(s: &str) -> Option<NoteError> {
    s.char_indices()
        .find(|&(_, c)| c < ' ' && c != '\n')
        .map(|(offset, c)| NoteError::ControlCharacter {
            offset,
            code: u32::from(c),
        })
}

/// Checks that `text` can be the text of a note: it ends in a newline, has no
/// control characters other than newline (signed-note §Format) and is not
/// larger than [`MAX_NOTE_SIZE`].
fn check_text(text: &str) -> Result<(), NoteError> {
    if text.len() > MAX_NOTE_SIZE {
        return Err(NoteError::TooLarge {
            size: text.len(),
            max: MAX_NOTE_SIZE,
        });
    }
    if let Some(err) = find_control(text) {
        return Err(err);
    }
    if !text.ends_with('\n') {
        return Err(NoteError::TextMissingNewline);
    }
    Ok(())
}

/// The key ID of an Ed25519 key (signed-note §"Ed25519 signatures"):
/// `SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]`, big-endian.
fn key_id(name: &str, public_key: &[u8; ED25519_KEY_SIZE]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public_key);
    let digest: [u8; 32] = h.finalize().into();
    let [a, b, c, d, ..] = digest;
    u32::from_be_bytes([a, b, c, d])
}

/// Parses exactly eight hexadecimal digits (either case) into a key ID.
fn parse_key_id(hex: &str) -> Option<u32> {
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// Splits `<name>+<hex id>+<base64>` into its three parts. The base64 part may
/// itself contain `+`; the name and the ID cannot.
fn split_key(text: &str) -> Option<(&str, &str, &str)> {
    let mut parts = text.splitn(3, '+');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(name), Some(id), Some(key)) => Some((name, id, key)),
        _ => None,
    }
}

/// A note signer: a key name, its key ID and an Ed25519 private key.
///
/// Its `Debug` output never shows the private key.
pub struct Signer {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl Signer {
    /// Generates a new Ed25519 signer named `name` from the operating
    /// system's random number generator.
    ///
    /// # Errors
    ///
    /// [`NoteError::InvalidKeyName`] if `name` is not a valid key name, and
    /// [`NoteError::Rng`] if the random number generator fails.
    pub fn generate(name: &str) -> Result<Signer, NoteError> {
        check_name(name)?;
        let mut seed = [0u8; ED25519_KEY_SIZE];
        OsRng
            .try_fill_bytes(&mut seed)
            .map_err(|e| NoteError::Rng(e.to_string()))?;
        let key = SigningKey::from_bytes(&seed);
        seed.fill(0);
        Ok(Signer::from_signing_key(name, key))
    }

    /// Builds a signer from a valid name and an Ed25519 key, computing its key ID.
    fn from_signing_key(name: &str, key: SigningKey) -> Signer {
        let key_id = key_id(name, key.verifying_key().as_bytes());
        Signer {
            name: name.to_owned(),
            key_id,
            key,
        }
    }

    /// Parses a signer key
    /// `PRIVATE+KEY+<name>+<8 hex digits key ID>+base64(0x01 || 32-byte seed)`,
    /// the format of Go's `sumdb/note`, and checks that the key ID is that of
    /// the key (signed-note §"Ed25519 signatures").
    ///
    /// # Errors
    ///
    /// [`NoteError::MalformedSignerKey`] or [`NoteError::UnsupportedAlgorithm`];
    /// the error never quotes the key.
    pub fn from_skey(text: &str) -> Result<Signer, NoteError> {
        let malformed = |reason| NoteError::MalformedSignerKey { reason };
        let rest = text
            .strip_prefix(SKEY_PREFIX)
            .ok_or(malformed("missing PRIVATE+KEY+ prefix"))?;
        let (name, id_hex, key_b64) =
            split_key(rest).ok_or(malformed("expected PRIVATE+KEY+<name>+<key id>+<key>"))?;
        if !is_valid_name(name) {
            return Err(malformed("invalid key name"));
        }
        let id = parse_key_id(id_hex).ok_or(malformed("key ID is not 8 hexadecimal digits"))?;
        let mut raw = BASE64
            .decode(key_b64)
            .map_err(|_| malformed("key is not valid padded base64"))?;
        let result = match raw.split_first() {
            None => Err(malformed("empty key")),
            Some((&alg, _)) if alg != ALG_ED25519 => Err(NoteError::UnsupportedAlgorithm { alg }),
            Some((_, seed)) => match <[u8; ED25519_KEY_SIZE]>::try_from(seed) {
                Ok(mut seed) => {
                    let signer = Signer::from_signing_key(name, SigningKey::from_bytes(&seed));
                    seed.fill(0);
                    if signer.key_id == id {
                        Ok(signer)
                    } else {
                        Err(malformed("key ID does not match the key"))
                    }
                }
                Err(_) => Err(malformed("an Ed25519 seed must be 32 bytes")),
            },
        };
        raw.fill(0);
        result
    }

    /// Encodes the signer key as
    /// `PRIVATE+KEY+<name>+<8 hex digits key ID>+base64(0x01 || 32-byte seed)`.
    ///
    /// The result is secret: anyone holding it can sign as this key.
    #[must_use]
    pub fn to_skey(&self) -> String {
        let mut raw = [0u8; 1 + ED25519_KEY_SIZE];
        let (alg, seed) = raw.split_at_mut(1);
        alg.copy_from_slice(&[ALG_ED25519]);
        seed.copy_from_slice(self.key.as_bytes());
        let encoded = BASE64.encode(raw);
        raw.fill(0);
        format!("{SKEY_PREFIX}{}+{:08x}+{encoded}", self.name, self.key_id)
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID (signed-note §"Ed25519 signatures").
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The verifier of this signer's signatures.
    #[must_use]
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs a note text with Ed25519 (RFC 8032) as specified by signed-note
    /// §"Ed25519 signatures".
    ///
    /// # Errors
    ///
    /// If `text` is not a valid note text: it must end in a newline and
    /// contain no ASCII control characters other than newline
    /// (signed-note §Format), and be at most 1 MiB.
    pub fn sign_text(&self, text: &str) -> Result<NoteSignature, NoteError> {
        check_text(text)?;
        let signature = self.key.sign(text.as_bytes());
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: signature.to_bytes().to_vec(),
        })
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .field("private_key", &format_args!("<redacted>"))
            .finish()
    }
}

/// A note verifier: a key name, its key ID and an Ed25519 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl Verifier {
    /// Parses a verifier key
    /// `<name>+<8 hex digits key ID>+base64(0x01 || 32-byte public key)`, the
    /// format of Go's `sumdb/note`. The key ID's hexadecimal digits may be of
    /// either case, as in Go; [`Display`](fmt::Display) writes them in lowercase.
    ///
    /// The key ID must be the one computed from the name and key
    /// (signed-note §"Ed25519 signatures"). Unlike Go, public keys that are
    /// not valid points, are of small order (signatures under them can be
    /// forged) or are not canonically encoded (one point would have several
    /// key IDs) are refused.
    ///
    /// # Errors
    ///
    /// [`NoteError::MalformedVerifierKey`], [`NoteError::InvalidKeyName`],
    /// [`NoteError::UnsupportedAlgorithm`], [`NoteError::KeyIdMismatch`] or
    /// [`NoteError::UnsafePublicKey`].
    pub fn parse(vkey: &str) -> Result<Verifier, NoteError> {
        let malformed = |reason| NoteError::MalformedVerifierKey { reason };
        let (name, id_hex, key_b64) =
            split_key(vkey).ok_or(malformed("expected <name>+<key id>+<key>"))?;
        check_name(name)?;
        let id = parse_key_id(id_hex).ok_or(malformed("key ID is not 8 hexadecimal digits"))?;
        let raw = BASE64
            .decode(key_b64)
            .map_err(|_| malformed("key is not valid padded base64"))?;
        let (&alg, public_key) = raw.split_first().ok_or(malformed("empty key"))?;
        if alg != ALG_ED25519 {
            return Err(NoteError::UnsupportedAlgorithm { alg });
        }
        let public_key = <[u8; ED25519_KEY_SIZE]>::try_from(public_key)
            .map_err(|_| malformed("an Ed25519 public key must be 32 bytes"))?;
        let computed = key_id(name, &public_key);
        if computed != id {
            return Err(NoteError::KeyIdMismatch {
                name: name.to_owned(),
                found: id,
                computed,
            });
        }
        let unsafe_key = |reason| NoteError::UnsafePublicKey {
            name: name.to_owned(),
            reason,
        };
        let key = VerifyingKey::from_bytes(&public_key)
            .map_err(|_| unsafe_key("not a point of the Ed25519 curve"))?;
        if key.is_weak() {
            return Err(unsafe_key("a point of small order"));
        }
        if key.to_edwards().compress().to_bytes() != public_key {
            return Err(unsafe_key("not canonically encoded"));
        }
        Ok(Verifier {
            name: name.to_owned(),
            key_id: id,
            key,
        })
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID (signed-note §"Ed25519 signatures").
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Reports whether `signature` (64 raw bytes, without the key ID) is a
    /// valid Ed25519 signature of `text` by this key.
    ///
    /// Verification is RFC 8032's, with non-canonical `S` and small-order `R`
    /// refused (ed25519-dalek's `verify_strict`).
    #[must_use]
    pub fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature)
            .is_ok_and(|signature| self.key.verify_strict(text, &signature).is_ok())
    }

    /// Whether this verifier's name and key ID are those of `signature`
    /// (signed-note §Signatures: the pair identifies the key).
    fn matches(&self, signature: &NoteSignature) -> bool {
        self.name == signature.name && self.key_id == signature.key_id
    }
}

impl fmt::Display for Verifier {
    /// Formats the verifier key
    /// `<name>+<8 hex digits key ID>+base64(0x01 || 32-byte public key)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; 1 + ED25519_KEY_SIZE];
        let (alg, public_key) = raw.split_at_mut(1);
        alg.copy_from_slice(&[ALG_ED25519]);
        public_key.copy_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(raw)
        )
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Verifier({self})")
    }
}

/// One signature of a note: the signing key's name and ID, and the raw
/// signature (64 bytes for Ed25519), without the key ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key ID.
    pub key_id: u32,
    /// The signature bytes, without the key ID prefix.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line `— <name> base64(key ID || signature)\n`
    /// (em dash U+2014; signed-note §Signatures).
    #[must_use]
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(KEY_ID_SIZE + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, BASE64.encode(raw))
    }

    /// Parses one signature line, without its newline (signed-note §Format).
    fn parse_line(line: &str, number: usize) -> Result<NoteSignature, NoteError> {
        let malformed = |reason| NoteError::MalformedSignatureLine {
            line: number,
            reason,
        };
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(malformed(
            "does not start with an em dash (U+2014) and a space",
        ))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(malformed("no space between the key name and the signature"))?;
        if !is_valid_name(name) {
            return Err(malformed("invalid key name"));
        }
        let raw = BASE64
            .decode(b64)
            .map_err(|_| malformed("signature is not valid padded base64"))?;
        let (id, signature) = raw
            .split_at_checked(KEY_ID_SIZE)
            .ok_or(malformed("signature is shorter than its 4-byte key ID"))?;
        let id = <[u8; KEY_ID_SIZE]>::try_from(id)
            .map_err(|_| malformed("signature is shorter than its 4-byte key ID"))?;
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: u32::from_be_bytes(id),
            signature: signature.to_vec(),
        })
    }
}

/// A signed note: a text and its signatures, verified or not.
///
/// Its text must not be trusted; use [`open_note`] to verify it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The note text, ending in a newline.
    pub text: String,
    /// The signatures, in order.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note without verifying any signature (signed-note §Format).
    ///
    /// The note must be valid UTF-8 without ASCII control characters other
    /// than newline; the text is everything up to and including the newline
    /// before the last blank line, which must be followed by one or more
    /// signature lines `— <key name> base64(key ID || signature)\n`. Notes
    /// larger than 1 MiB or with more than 100 signatures are refused.
    ///
    /// # Errors
    ///
    /// A [`NoteError`] describing the first problem found.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge {
                size: bytes.len(),
                max: MAX_NOTE_SIZE,
            });
        }
        let s = std::str::from_utf8(bytes).map_err(|_| NoteError::InvalidUtf8)?;
        if let Some(err) = find_control(s) {
            return Err(err);
        }
        // The text is separated from the signatures by the last empty line.
        let split = s.rfind("\n\n").ok_or(NoteError::MissingBlankLine)?;
        let (text, rest) = s
            .split_at_checked(split + 1)
            .ok_or(NoteError::MissingBlankLine)?;
        let block = rest.get(1..).ok_or(NoteError::MissingBlankLine)?;
        if block.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let lines = block
            .strip_suffix('\n')
            .ok_or(NoteError::MalformedSignatureLine {
                line: block.split('\n').count(),
                reason: "does not end in a newline",
            })?;
        let mut signatures = Vec::new();
        for (i, line) in lines.split('\n').enumerate() {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    max: MAX_SIGNATURES,
                });
            }
            signatures.push(NoteSignature::parse_line(line, i + 1)?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Encodes the note: its text, a blank line and its signature lines.
    ///
    /// This does not validate the fields; notes from [`Note::parse`] and
    /// [`Note::sign`] encode to notes that parse back.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 1 + 128 * self.signatures.len());
        out.extend_from_slice(self.text.as_bytes());
        out.push(b'\n');
        for signature in &self.signatures {
            out.extend_from_slice(signature.to_line().as_bytes());
        }
        out
    }

    /// Signs `text` with each of `signers`, in order. A signer with the same
    /// name and key ID as an earlier one is skipped.
    ///
    /// # Errors
    ///
    /// If `text` is not a valid note text (see [`Signer::sign_text`]), if
    /// there are no signers or more than 100, or if the encoded note would be
    /// larger than 1 MiB.
    pub fn sign(text: &str, signers: &[&Signer]) -> Result<Note, NoteError> {
        check_text(text)?;
        if signers.is_empty() {
            return Err(NoteError::NoSigners);
        }
        let mut signatures: Vec<NoteSignature> = Vec::with_capacity(signers.len());
        for signer in signers {
            if signatures
                .iter()
                .any(|s| s.name == signer.name && s.key_id == signer.key_id)
            {
                continue;
            }
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    max: MAX_SIGNATURES,
                });
            }
            signatures.push(signer.sign_text(text)?);
        }
        let note = Note {
            text: text.to_owned(),
            signatures,
        };
        let size = note.to_bytes().len();
        if size > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge {
                size,
                max: MAX_NOTE_SIZE,
            });
        }
        Ok(note)
    }
}

/// A note signed by at least one trusted key, every signature by a trusted
/// key having verified. Only [`open_note`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedNote {
    note: Note,
    verified_by: Vec<Verifier>,
}

impl VerifiedNote {
    /// The verified note text.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.note.text
    }

    /// The trusted keys whose signatures verified, each once, in the order of
    /// their first signature in the note.
    #[must_use]
    pub fn verified_by(&self) -> &[Verifier] {
        &self.verified_by
    }

    /// The whole note, including the signatures by unknown keys, which are
    /// not verified.
    #[must_use]
    pub fn note(&self) -> &Note {
        &self.note
    }
}

/// Parses a signed note and verifies it with the trusted `verifiers`
/// (signed-note §Signatures):
///
/// - a signature whose key name and key ID are not both those of a trusted
///   key is ignored (it is an unknown key, even if it shares one of them);
/// - every signature by a trusted key must verify, or the whole note is
///   rejected;
/// - at least one signature by a trusted key must verify.
///
/// # Errors
///
/// Any error of [`Note::parse`]; [`NoteError::InvalidSignature`] if a
/// signature by a trusted key does not verify; [`NoteError::AmbiguousKey`] if
/// a signature matches several different trusted keys; and
/// [`NoteError::NoTrustedSignature`] if no trusted key signed the note.
pub fn open_note(bytes: &[u8], verifiers: &[Verifier]) -> Result<VerifiedNote, NoteError> {
    let note = Note::parse(bytes)?;
    let mut verified_by: Vec<Verifier> = Vec::new();
    for signature in &note.signatures {
        let mut known = verifiers.iter().filter(|v| v.matches(signature));
        let Some(verifier) = known.next() else {
            continue; // Unknown key: ignored.
        };
        if known.any(|other| other != verifier) {
            return Err(NoteError::AmbiguousKey {
                name: signature.name.clone(),
                key_id: signature.key_id,
            });
        }
        if !verifier.verify(note.text.as_bytes(), &signature.signature) {
            return Err(NoteError::InvalidSignature {
                name: signature.name.clone(),
                key_id: signature.key_id,
            });
        }
        if !verified_by.contains(verifier) {
            verified_by.push(verifier.clone());
        }
    }
    if verified_by.is_empty() {
        let mut found: Vec<String> = Vec::new();
        for signature in &note.signatures {
            let label = key_label(&signature.name, signature.key_id);
            if !found.contains(&label) {
                found.push(label);
            }
        }
        return Err(NoteError::NoTrustedSignature {
            expected: verifiers
                .iter()
                .map(|v| key_label(&v.name, v.key_id))
                .collect(),
            found,
        });
    }
    Ok(VerifiedNote { note, verified_by })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // The example of Go's golang.org/x/mod/sumdb/note package documentation
    // and tests (note.go, note_test.go).
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    // The verifier key of sum.golang.org (its base64 contains '+').
    const SUMDB_VKEY: &str = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";

    // The example of C2SP signed-note (no key published for it).
    const C2SP_NOTE: &str = "Ognuno sta solo sul cuor della terra\n\
                             trafitto da un raggio di sole:\n\
                             \n\
                             ed è subito sera.\n\
                             \n\
                             \u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";

    fn peter() -> Verifier {
        Verifier::parse(PETER_VKEY).unwrap()
    }

    fn enoch() -> Verifier {
        Verifier::parse(ENOCH_VKEY).unwrap()
    }

    fn go_note() -> String {
        format!("{TEXT}\n{PETER_SIG}")
    }

    fn vkey_for(name: &str, public_key: &[u8; 32]) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(public_key);
        format!(
            "{name}+{:08x}+{}",
            key_id(name, public_key),
            BASE64.encode(raw)
        )
    }

    #[test]
    fn go_example_note_opens_with_known_vkey() {
        let opened = open_note(go_note().as_bytes(), &[peter()]).unwrap();
        assert_eq!(opened.text(), TEXT);
        assert_eq!(opened.verified_by(), &[peter()]);
        let sig = &opened.note().signatures[0];
        assert_eq!(sig.name, "PeterNeumann");
        assert_eq!(sig.key_id, 0xc74f20a3);
        assert_eq!(sig.signature.len(), 64);
        assert_eq!(sig.to_line(), PETER_SIG);
    }

    #[test]
    fn go_example_sign_reproduces_known_note() {
        let signer = Signer::from_skey(PETER_SKEY).unwrap();
        let note = Note::sign(TEXT, &[&signer]).unwrap();
        assert_eq!(String::from_utf8(note.to_bytes()).unwrap(), go_note());
        assert_eq!(signer.verifier(), peter());
        assert_eq!(signer.to_skey(), PETER_SKEY);
    }

    #[test]
    fn go_example_modified_text_is_rejected() {
        let msg = go_note().replace("cryptography", "cryptographY");
        assert_eq!(
            open_note(msg.as_bytes(), &[peter()]).unwrap_err(),
            NoteError::InvalidSignature {
                name: "PeterNeumann".into(),
                key_id: 0xc74f20a3
            }
        );
    }

    #[test]
    fn key_ids_of_known_keys() {
        let p = peter();
        assert_eq!(p.key_id(), 0xc74f20a3);
        assert_eq!(key_id("PeterNeumann", p.key.as_bytes()), 0xc74f20a3);
        let e = enoch();
        assert_eq!(e.name(), "EnochRoot");
        assert_eq!(key_id("EnochRoot", e.key.as_bytes()), 0xaf0cfe78);
        // The key ID depends on the name.
        assert_ne!(key_id("PeterNeumann2", p.key.as_bytes()), 0xc74f20a3);
        let s = Signer::from_skey(PETER_SKEY).unwrap();
        assert_eq!((s.name(), s.key_id()), ("PeterNeumann", 0xc74f20a3));
    }

    #[test]
    fn verifier_keys_round_trip_through_display() {
        for vkey in [PETER_VKEY, ENOCH_VKEY, SUMDB_VKEY] {
            let v = Verifier::parse(vkey).unwrap();
            assert_eq!(v.to_string(), vkey);
            assert_eq!(format!("{v:?}"), format!("Verifier({vkey})"));
        }
        let v = Verifier::parse(SUMDB_VKEY).unwrap();
        assert_eq!((v.name(), v.key_id()), ("sum.golang.org", 0x033de0ae));
    }

    #[test]
    fn verifier_parse_accepts_uppercase_key_id() {
        let v = Verifier::parse(&PETER_VKEY.replace("c74f20a3", "C74F20A3")).unwrap();
        assert_eq!(v, peter());
        assert_eq!(v.to_string(), PETER_VKEY);
    }

    // Go note_test.go TestNewVerifier: every proper substring and every
    // single-byte increment of a valid key is refused.
    #[test]
    fn verifier_parse_rejects_manglings() {
        let b = PETER_VKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                let s = std::str::from_utf8(&b[i..j]).unwrap();
                assert!(Verifier::parse(s).is_err(), "accepted {s:?}");
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] += 1;
            let s = String::from_utf8(m).unwrap();
            assert!(Verifier::parse(&s).is_err(), "accepted {s:?}");
        }
        // Wrong length key, with adjusted key hash.
        assert!(
            Verifier::parse(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
            )
            .is_err()
        );
        // Unknown algorithm, with adjusted key hash.
        assert_eq!(
            Verifier::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            Err(NoteError::UnsupportedAlgorithm { alg: 0x65 })
        );
    }

    #[test]
    fn verifier_parse_errors_are_specific() {
        assert!(matches!(
            Verifier::parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            Err(NoteError::KeyIdMismatch {
                found: 0xc74f20a4,
                computed: 0xc74f20a3,
                ..
            })
        ));
        assert!(matches!(
            Verifier::parse("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            Err(NoteError::InvalidKeyName { .. })
        ));
        assert!(matches!(
            Verifier::parse("PeterNeumann++c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            Err(NoteError::MalformedVerifierKey { .. })
        ));
        // A '+' sign is not a hex digit (u32::from_str_radix would accept it).
        assert!(
            Verifier::parse("PeterNeumann++74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
                .is_err()
        );
        // Extra padding, or the URL-safe alphabet, is not standard base64.
        assert!(Verifier::parse(&format!("{PETER_VKEY}=")).is_err());
        assert!(Verifier::parse(&PETER_VKEY.replace('/', "_")).is_err());
    }

    #[test]
    fn verifier_parse_rejects_unsafe_public_keys() {
        // The identity point (small order), with a correct key ID.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            Verifier::parse(&vkey_for("weak", &identity)),
            Err(NoteError::UnsafePublicKey { .. })
        ));
        // Non-canonical encodings y = p + k of the points with y = k, where
        // p = 2^255 - 19: at least one of them is a point of large order.
        let mut non_canonical = 0;
        for k in 0u8..19 {
            let mut y = [0xffu8; 32];
            y[0] = 0xed + k;
            y[31] = 0x7f;
            if let Ok(point) = VerifyingKey::from_bytes(&y) {
                assert!(matches!(
                    Verifier::parse(&vkey_for("noncanonical", &y)),
                    Err(NoteError::UnsafePublicKey { .. })
                ));
                if !point.is_weak() {
                    non_canonical += 1;
                }
            }
        }
        assert!(non_canonical > 0);
    }

    // Go note_test.go TestNewSigner: every proper substring and every
    // single-byte increment of a valid signer key is refused.
    #[test]
    fn signer_from_skey_rejects_manglings() {
        let b = PETER_SKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                let s = std::str::from_utf8(&b[i..j]).unwrap();
                assert!(Signer::from_skey(s).is_err(), "accepted {s:?}");
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] += 1;
            let s = String::from_utf8(m).unwrap();
            assert!(Signer::from_skey(&s).is_err(), "accepted {s:?}");
        }
        // A verifier key is not a signer key, nor the reverse.
        assert!(Signer::from_skey(PETER_VKEY).is_err());
        assert!(Verifier::parse(PETER_SKEY).is_err());
    }

    #[test]
    fn signer_errors_and_debug_never_show_the_private_key() {
        let signer = Signer::from_skey(PETER_SKEY).unwrap();
        let seed_b64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let debug = format!("{signer:?}");
        assert!(debug.contains("PeterNeumann") && debug.contains("c74f20a3"));
        assert!(debug.contains("redacted"));
        assert!(!debug.contains("AYEK") && !debug.contains("hfZx"));
        for bad in [
            PETER_SKEY.replace("c74f20a3", "c74f20a4"),
            PETER_SKEY.replace("AYEK", "AYE!"),
            PETER_SKEY.replace("PeterNeumann", "Peter Neumann"),
            format!("PRIVATE+KEY+{seed_b64}"),
            PETER_SKEY.replace("PRIVATE+KEY+", ""),
        ] {
            let err = Signer::from_skey(&bad).unwrap_err();
            let msg = err.to_string();
            assert!(!msg.contains("AYEK") && !msg.contains("hfZx"), "{msg}");
            assert!(!format!("{err:?}").contains("hfZx"));
        }
    }

    #[test]
    fn generated_signer_round_trips_and_verifies() {
        let signer = Signer::generate("example.com/log").unwrap();
        assert_eq!(signer.name(), "example.com/log");
        let again = Signer::from_skey(&signer.to_skey()).unwrap();
        assert_eq!(again.verifier(), signer.verifier());
        let v = Verifier::parse(&signer.verifier().to_string()).unwrap();
        assert_eq!(v, signer.verifier());
        let sig = signer.sign_text("hello\n").unwrap();
        assert!(v.verify(b"hello\n", &sig.signature));
        assert!(!v.verify(b"hello!\n", &sig.signature));
        let mut bad = sig.signature.clone();
        bad[0] ^= 1;
        assert!(!v.verify(b"hello\n", &bad));
        assert!(!v.verify(b"hello\n", &sig.signature[..63]));
        assert!(!v.verify(b"hello\n", &[]));
        assert!(matches!(
            Signer::generate("bad+name"),
            Err(NoteError::InvalidKeyName { .. })
        ));
        assert!(Signer::generate("").is_err());
        assert!(Signer::generate("tab\tname").is_err());
        assert!(Signer::generate("nbsp\u{a0}name").is_err());
    }

    // Go note_test.go TestOpen: one signature verified, the other ignored.
    #[test]
    fn unknown_signers_are_ignored() {
        let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let opened = open_note(msg.as_bytes(), &[peter()]).unwrap();
        assert_eq!(opened.verified_by(), &[peter()]);
        assert_eq!(opened.note().signatures.len(), 2);
        let opened = open_note(msg.as_bytes(), &[enoch()]).unwrap();
        assert_eq!(opened.verified_by(), &[enoch()]);
        let opened = open_note(msg.as_bytes(), &[peter(), enoch()]).unwrap();
        assert_eq!(opened.verified_by(), &[peter(), enoch()]);
        // Duplicated signatures and verifiers.
        let msg = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}");
        let opened = open_note(msg.as_bytes(), &[peter(), peter()]).unwrap();
        assert_eq!(opened.verified_by(), &[peter()]);
    }

    #[test]
    fn signatures_sharing_only_a_name_or_an_id_are_ignored() {
        // Same name as a trusted key but another key (so another ID).
        let impostor = Signer::generate("PeterNeumann").unwrap();
        let forged = impostor.sign_text(TEXT).unwrap().to_line();
        let msg = format!("{TEXT}\n{forged}{PETER_SIG}");
        let opened = open_note(msg.as_bytes(), &[peter()]).unwrap();
        assert_eq!(opened.verified_by(), &[peter()]);
        // Same ID as a trusted key, another name.
        let renamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
        let msg = format!("{TEXT}\n{renamed}{PETER_SIG}");
        assert!(open_note(msg.as_bytes(), &[peter()]).is_ok());
        // Alone, neither is trusted.
        let msg = format!("{TEXT}\n{forged}{renamed}");
        let err = open_note(msg.as_bytes(), &[peter()]).unwrap_err();
        assert!(matches!(err, NoteError::NoTrustedSignature { .. }));
    }

    #[test]
    fn bad_signature_by_known_key_rejects_whole_note() {
        // Go note_test.go: "ABCD" inserted into Peter's signature.
        let bad = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        let want = NoteError::InvalidSignature {
            name: "PeterNeumann".into(),
            key_id: 0xc74f20a3,
        };
        let msg = format!("{TEXT}\n{bad}");
        assert_eq!(open_note(msg.as_bytes(), &[peter()]).unwrap_err(), want);
        // Even alongside a valid signature by the same or another trusted key.
        let msg = format!("{TEXT}\n{PETER_SIG}{bad}");
        assert_eq!(open_note(msg.as_bytes(), &[peter()]).unwrap_err(), want);
        let msg = format!("{TEXT}\n{ENOCH_SIG}{bad}");
        assert_eq!(
            open_note(msg.as_bytes(), &[peter(), enoch()]).unwrap_err(),
            want
        );
        // But ignored if Peter is not trusted.
        assert!(open_note(msg.as_bytes(), &[enoch()]).is_ok());
        assert_eq!(
            want.to_string(),
            "invalid signature by trusted key PeterNeumann+c74f20a3"
        );
    }

    #[test]
    fn ambiguous_trusted_keys_are_rejected() {
        // A different key with the same name and ID cannot be made here, so
        // build the collision by hand.
        let mut other = enoch();
        other.name = "PeterNeumann".into();
        other.key_id = 0xc74f20a3;
        let err = open_note(go_note().as_bytes(), &[peter(), other.clone()]).unwrap_err();
        assert!(matches!(err, NoteError::AmbiguousKey { .. }));
        // Unused: no problem.
        let msg = format!("{TEXT}\n{ENOCH_SIG}");
        assert!(open_note(msg.as_bytes(), &[enoch(), peter(), other]).is_ok());
    }

    #[test]
    fn no_trusted_signature_names_expected_and_found_keys() {
        let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}{PETER_SIG}");
        let log = Signer::generate("example.com/log").unwrap().verifier();
        let err = open_note(msg.as_bytes(), std::slice::from_ref(&log)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "no signature by a trusted key: expected example.com/log+{:08x}, \
                 found PeterNeumann+c74f20a3, EnochRoot+af0cfe78",
                log.key_id()
            )
        );
        let err = open_note(msg.as_bytes(), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no signature by a trusted key: expected (none), \
             found PeterNeumann+c74f20a3, EnochRoot+af0cfe78"
        );
    }

    #[test]
    fn c2sp_example_parses_at_its_last_blank_line() {
        let note = Note::parse(C2SP_NOTE.as_bytes()).unwrap();
        assert_eq!(
            note.text,
            "Ognuno sta solo sul cuor della terra\n\
             trafitto da un raggio di sole:\n\
             \n\
             ed è subito sera.\n"
        );
        assert_eq!(note.signatures.len(), 1);
        assert_eq!(note.signatures[0].name, "quasimodo.example/salvatore");
        assert_eq!(note.signatures[0].key_id, 0x367ba04b);
        assert_eq!(note.signatures[0].signature.len(), 64);
        assert_eq!(note.to_bytes(), C2SP_NOTE.as_bytes());
        let err = open_note(C2SP_NOTE.as_bytes(), &[peter()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no signature by a trusted key: expected PeterNeumann+c74f20a3, \
             found quasimodo.example/salvatore+367ba04b"
        );
    }

    #[test]
    fn texts_with_blank_lines_round_trip() {
        let signer = Signer::generate("example.com/log").unwrap();
        for text in [
            "\n",
            "a\n\nb\n",
            "a\n\n",
            "\n\n\n",
            "x\n\n\ny\n",
            "ünïcödé ✓\n",
        ] {
            let note = Note::sign(text, &[&signer]).unwrap();
            let bytes = note.to_bytes();
            assert_eq!(Note::parse(&bytes).unwrap(), note);
            let opened = open_note(&bytes, &[signer.verifier()]).unwrap();
            assert_eq!(opened.text(), text);
        }
    }

    #[test]
    fn several_signers_round_trip() {
        let a = Signer::generate("a.example").unwrap();
        let b = Signer::generate("b.example").unwrap();
        let c = Signer::generate("c.example").unwrap();
        let note = Note::sign("several\n", &[&a, &b, &a, &c]).unwrap();
        assert_eq!(note.signatures.len(), 3);
        let bytes = note.to_bytes();
        let opened = open_note(&bytes, &[c.verifier(), a.verifier()]).unwrap();
        assert_eq!(opened.verified_by(), &[a.verifier(), c.verifier()]);
        assert_eq!(opened.note(), &note);
    }

    #[test]
    fn sign_rejects_invalid_texts_and_no_signers() {
        let s = Signer::from_skey(PETER_SKEY).unwrap();
        assert_eq!(s.sign_text("abc"), Err(NoteError::TextMissingNewline));
        assert_eq!(s.sign_text(""), Err(NoteError::TextMissingNewline));
        assert_eq!(
            s.sign_text("a\rb\n"),
            Err(NoteError::ControlCharacter {
                offset: 1,
                code: 0x0d
            })
        );
        assert!(s.sign_text("tab\there\n").is_err());
        assert_eq!(Note::sign(TEXT, &[]), Err(NoteError::NoSigners));
        assert!(Note::sign("abc", &[&s]).is_err());
        let big = "x".repeat(MAX_NOTE_SIZE) + "\n";
        assert!(matches!(
            Note::sign(&big, &[&s]),
            Err(NoteError::TooLarge { .. })
        ));
    }

    // Go note_test.go TestOpen "Invalid encoded message syntax", and more.
    #[test]
    fn malformed_notes_are_rejected() {
        let sig_b64 = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";
        let bad: Vec<(String, &str)> = vec![
            (TEXT.to_owned(), "no blank line"),
            (format!("{TEXT}\n"), "no signatures"),
            (
                format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
                "no final newline",
            ),
            (format!("\x01{TEXT}\n{PETER_SIG}"), "control character"),
            (format!("{TEXT}\r\n{PETER_SIG}"), "carriage return"),
            (format!("{TEXT}\n\u{2014}\tPeterNeumann {sig_b64}\n"), "tab"),
            (
                format!("{TEXT}\n\u{2014} Bad Name {sig_b64}\n"),
                "space in name",
            ),
            (
                format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
                "unexpected line",
            ),
            (format!("{TEXT}\n{PETER_SIG}\n"), "trailing blank line"),
            (
                format!("{TEXT}\n\u{2013} PeterNeumann {sig_b64}\n"),
                "en dash",
            ),
            (
                format!("{TEXT}\n-- PeterNeumann {sig_b64}\n"),
                "ascii dashes",
            ),
            (
                format!("{TEXT}\n\u{2014}PeterNeumann {sig_b64}\n"),
                "no space after dash",
            ),
            (
                format!("{TEXT}\n \u{2014} PeterNeumann {sig_b64}\n"),
                "leading space",
            ),
            (
                format!("{TEXT}\n\u{2014} Peter+Neumann {sig_b64}\n"),
                "plus in name",
            ),
            (format!("{TEXT}\n\u{2014}  {sig_b64}\n"), "empty name"),
            (format!("{TEXT}\n\u{2014} PeterNeumann\n"), "no signature"),
            (
                format!("{TEXT}\n\u{2014} PeterNeumann \n"),
                "empty signature",
            ),
            (
                format!("{TEXT}\n\u{2014} PeterNeumann {sig_b64} \n"),
                "trailing space",
            ),
            (
                format!(
                    "{TEXT}\n\u{2014} PeterNeumann {}\n",
                    sig_b64.trim_end_matches('=')
                ),
                "unpadded base64",
            ),
            (
                format!(
                    "{TEXT}\n\u{2014} PeterNeumann {}\n",
                    sig_b64.replace('/', "_")
                ),
                "url-safe base64",
            ),
            (
                format!(
                    "{TEXT}\n\u{2014} PeterNeumann {}\n",
                    sig_b64.replace("AM=", "AN=")
                ),
                "non-canonical base64",
            ),
            (
                format!("{TEXT}\n\u{2014} PeterNeumann AAA=\n"),
                "too short for a key id",
            ),
        ];
        for (msg, what) in &bad {
            assert!(Note::parse(msg.as_bytes()).is_err(), "parsed: {what}");
            assert!(
                open_note(msg.as_bytes(), &[peter()]).is_err(),
                "opened: {what}"
            );
        }
        let mut invalid_utf8 = b"\xff".to_vec();
        invalid_utf8.extend_from_slice(go_note().as_bytes());
        assert_eq!(Note::parse(&invalid_utf8), Err(NoteError::InvalidUtf8));
        assert_eq!(
            Note::parse(format!("{TEXT}\n\u{2014} Peter+Neumann {sig_b64}\n").as_bytes()),
            Err(NoteError::MalformedSignatureLine {
                line: 1,
                reason: "invalid key name"
            })
        );
    }

    #[test]
    fn four_byte_signature_parses_but_does_not_verify() {
        // A key ID and an empty signature is well-formed (signed-note §Format:
        // 4+n bytes) but cannot verify.
        let msg = format!("{TEXT}\n\u{2014} PeterNeumann x08gow==\n");
        let note = Note::parse(msg.as_bytes()).unwrap();
        assert_eq!(note.signatures[0].key_id, 0xc74f20a3);
        assert!(note.signatures[0].signature.is_empty());
        assert!(matches!(
            open_note(msg.as_bytes(), &[peter()]),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn signature_and_size_limits() {
        // Go note_test.go: 101 signatures are too many, verified or not.
        let msg = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
        assert_eq!(
            Note::parse(msg.as_bytes()),
            Err(NoteError::TooManySignatures { max: 100 })
        );
        let msg = format!("{TEXT}\n{}", PETER_SIG.repeat(100));
        assert_eq!(Note::parse(msg.as_bytes()).unwrap().signatures.len(), 100);
        assert!(open_note(msg.as_bytes(), &[peter()]).is_ok());
        let big = format!("{}\n\n{PETER_SIG}", "x".repeat(MAX_NOTE_SIZE));
        assert!(matches!(
            Note::parse(big.as_bytes()),
            Err(NoteError::TooLarge { .. })
        ));
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Note::parse(&bytes);
            let _ = open_note(&bytes, &[peter()]);
        }

        #[test]
        fn parse_never_panics_on_note_like_input(
            text in "[a-z\n]{0,20}",
            sig in "(\u{2014} )?[A-Za-z+/= \u{2014}]{0,100}\n?",
        ) {
            let msg = format!("{text}\n{sig}");
            let _ = Note::parse(msg.as_bytes());
            let _ = open_note(msg.as_bytes(), &[peter()]);
        }

        #[test]
        fn key_parsers_never_panic(s in "\\PC{0,100}", t in "[A-Za-z0-9+/=]{0,80}") {
            let _ = Verifier::parse(&s);
            let _ = Signer::from_skey(&s);
            let _ = Verifier::parse(&format!("PeterNeumann+c74f20a3+{t}"));
            let _ = Signer::from_skey(&format!("PRIVATE+KEY+PeterNeumann+c74f20a3+{t}"));
        }

        #[test]
        fn signed_notes_round_trip(lines in proptest::collection::vec("[^\\x00-\\x1f]{0,20}", 1..5)) {
            let signer = Signer::from_skey(PETER_SKEY).unwrap();
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let bytes = Note::sign(&text, &[&signer]).unwrap().to_bytes();
            let opened = open_note(&bytes, &[peter()]).unwrap();
            prop_assert_eq!(opened.text(), text.as_str());
        }
    }
}
