//! Subject pseudonymisation: a data subject's identifier becomes
//! `HMAC-SHA-256(key, UTF-8 identifier)` (RFC 2104 with SHA-256) truncated to
//! its first 16 bytes (128 bits, as NIST SP 800-107 §5.3.3 allows for HMAC
//! tags), written in unpadded base64url (RFC 4648 §5): 22 characters.
//!
//! The key is 32 random bytes kept beside the ledger's signing key, at
//! `DIR/keys/subject-hmac.key` (64 lower-case hex digits and a newline, mode
//! 0600), never under `DIR/log/`. Without the key, a pseudonym reveals nothing
//! and cannot be confirmed by guessing identifiers; with it, the holder can
//! answer "was customer X touched?" by computing X's pseudonym.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

/// Where the subject key lives, relative to the data directory.
pub const SUBJECT_KEY_FILE: &str = "keys/subject-hmac.key";

/// `DIR/keys/subject-hmac.key`.
pub fn subject_key_path(dir: &Path) -> PathBuf {
    dir.join(SUBJECT_KEY_FILE)
}

/// Problems loading or saving a [`SubjectKey`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A file-system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The key file already exists; keys are never overwritten, since that
    /// would unlink every pseudonym already in the ledger.
    #[error("{0} already exists; refusing to overwrite a subject key")]
    Exists(PathBuf),
    /// The file is not 64 hex digits (and an optional newline).
    #[error("{0}: not a subject key (expected 64 hex digits)")]
    Malformed(PathBuf),
    /// The file is readable or writable by group or others.
    #[error("{path}: mode {mode:o} lets others read the subject key; expected 0600")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its mode bits.
        mode: u32,
    },
    /// The operating system's random source failed.
    #[error("random source: {0}")]
    Random(String),
}

/// The 32-byte HMAC key that pseudonymises data subjects.
///
/// Besides the key, it keeps the two SHA-256 states of RFC 2104 already
/// keyed (after absorbing `K ⊕ ipad` and `K ⊕ opad`), so a pseudonym costs
/// two compressions of its own data rather than four, and the key id.
#[derive(Clone)]
pub struct SubjectKey {
    bytes: [u8; 32],
    inner: Sha256,
    outer: Sha256,
    id: String,
}

impl PartialEq for SubjectKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for SubjectKey {}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectKey({})", self.id())
    }
}

impl SubjectKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<SubjectKey, KeyError> {
        let mut k = [0u8; 32];
        OsRng
            .try_fill_bytes(&mut k)
            .map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(SubjectKey::from_bytes(k))
    }

    /// A key with these bytes (tests, or keys from a secrets manager).
    pub fn from_bytes(bytes: [u8; 32]) -> SubjectKey {
        // RFC 2104 §2: K padded with zeros to the 64-byte block, XORed with
        // ipad (0x36) and opad (0x5c).
        let mut ipad = [0x36u8; 64];
        let mut opad = [0x5cu8; 64];
        for ((i, o), k) in ipad.iter_mut().zip(opad.iter_mut()).zip(bytes) {
            *i ^= k;
            *o ^= k;
        }
        let mut h = Sha256::new();
        h.update(b"custos subject key id\n");
        h.update(bytes);
        let id = hex::encode(h.finalize().get(..4).unwrap_or_default());
        SubjectKey {
            bytes,
            inner: Sha256::new_with_prefix(ipad),
            outer: Sha256::new_with_prefix(opad),
            id,
        }
    }

    /// A public, non-secret identifier of the key: the first 4 bytes of
    /// `SHA-256("custos subject key id\n" || key)` in hex. It lets a reader
    /// of the ledger tell which key made a pseudonym (after a rotation)
    /// without learning anything about the key.
    pub fn id(&self) -> String {
        self.id.clone()
    }

    /// [`SubjectKey::id`] without a copy.
    pub(crate) fn id_str(&self) -> &str {
        &self.id
    }

    /// The pseudonym of one subject identifier:
    /// `HMAC-SHA-256(K, m) = H(K ⊕ opad ‖ H(K ⊕ ipad ‖ m))` (RFC 2104),
    /// truncated to 16 bytes, from the precomputed keyed states.
    pub fn pseudonymise(&self, subject: &str) -> Pseudonym {
        let mut inner = self.inner.clone();
        inner.update(subject.as_bytes());
        let mut outer = self.outer.clone();
        outer.update(inner.finalize());
        let tag = outer.finalize();
        let mut out = [0u8; 16];
        if let Some(t) = tag.get(..16) {
            out.copy_from_slice(t);
        }
        Pseudonym(out)
    }

    /// Loads the key from `path`; on Unix, refuses a file that group or
    /// others may read or write.
    pub fn load(path: &Path) -> Result<SubjectKey, KeyError> {
        let io = |op| {
            let path = path.to_path_buf();
            move |source| KeyError::Io { op, path, source }
        };
        let text = fs::read_to_string(path).map_err(io("read"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path).map_err(io("stat"))?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(KeyError::Permissions {
                    path: path.to_path_buf(),
                    mode: mode & 0o777,
                });
            }
        }
        let hexkey = text.strip_suffix('\n').unwrap_or(&text);
        let mut k = [0u8; 32];
        hex::decode_to_slice(hexkey, &mut k)
            .map_err(|_| KeyError::Malformed(path.to_path_buf()))?;
        Ok(SubjectKey::from_bytes(k))
    }

    /// Saves the key to `path` (64 hex digits and a newline), mode 0600,
    /// creating the parent directory (mode 0700) if needed; fsyncs the file
    /// and its directory. Refuses to overwrite an existing file.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let io = |op, p: &Path| {
            let path = p.to_path_buf();
            move |source| KeyError::Io { op, path, source }
        };
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir.filter(|d| !d.exists()) {
            fs::create_dir_all(dir).map_err(io("create directory", dir))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                    .map_err(io("chmod", dir))?;
            }
        }
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => KeyError::Exists(path.to_path_buf()),
            _ => io("create", path)(e),
        })?;
        let mut text = hex::encode(self.bytes);
        text.push('\n');
        f.write_all(text.as_bytes()).map_err(io("write", path))?;
        f.sync_all().map_err(io("fsync", path))?;
        if let Some(dir) = dir {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io("fsync directory", dir))?;
        }
        Ok(())
    }

    /// Loads the key at `path`, or generates and saves one if there is none.
    pub fn load_or_create(path: &Path) -> Result<SubjectKey, KeyError> {
        match SubjectKey::load(path) {
            Err(KeyError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                let key = SubjectKey::generate()?;
                key.save(path)?;
                Ok(key)
            }
            other => other,
        }
    }
}

/// A subject's pseudonym: the first 16 bytes of its HMAC-SHA-256 tag.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym(pub [u8; 16]);

impl Pseudonym {
    /// The 22-character unpadded base64url form stored in the ledger.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Appends the 22-character base64url form to `out`.
    pub(crate) fn write_base64url(&self, out: &mut Vec<u8>) {
        let mut buf = [0u8; 24];
        if let Ok(n) = URL_SAFE_NO_PAD.encode_slice(self.0, &mut buf) {
            out.extend_from_slice(buf.get(..n).unwrap_or_default());
        }
    }

    /// Parses the 22-character base64url form.
    pub fn from_base64url(s: &str) -> Option<Pseudonym> {
        let v = URL_SAFE_NO_PAD.decode(s).ok()?;
        <[u8; 16]>::try_from(v.as_slice()).ok().map(Pseudonym)
    }
}

/// `hmac-sha256-128:<base64url>`, the self-describing form for messages and
/// APIs (the ledger stores the bare base64url and states the scheme once).
impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hmac-sha256-128:{}", self.to_base64url())
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hmac::{Hmac, Mac};

    /// RFC 4231 test case 2 (key "Jefe"), through the same HMAC construction.
    #[test]
    fn hmac_sha256_rfc4231_case2() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn truncation_and_encoding() {
        let key = SubjectKey::from_bytes([0x0b; 32]);
        let p = key.pseudonymise("cust-1");
        let mut mac = Hmac::<Sha256>::new_from_slice(&[0x0b; 32]).unwrap();
        mac.update(b"cust-1");
        let full = mac.finalize().into_bytes();
        assert_eq!(&p.0[..], &full[..16]);
        // The precomputed keyed states agree with the hmac crate for other
        // keys and for subjects of every length around the block sizes.
        for k in [[0u8; 32], [0xff; 32], [0x36; 32], [0x5c; 32]] {
            let key = SubjectKey::from_bytes(k);
            for len in [0, 1, 55, 56, 63, 64, 65, 119, 120, 256] {
                let subject = "x".repeat(len);
                let mut mac = Hmac::<Sha256>::new_from_slice(&k).unwrap();
                mac.update(subject.as_bytes());
                let full = mac.finalize().into_bytes();
                assert_eq!(&key.pseudonymise(&subject).0[..], &full[..16], "{len}");
            }
        }
        let mut b64 = Vec::new();
        p.write_base64url(&mut b64);
        assert_eq!(b64, p.to_base64url().as_bytes());
        assert_eq!(p.to_base64url().len(), 22);
        assert_eq!(Pseudonym::from_base64url(&p.to_base64url()), Some(p));
        assert!(p.to_string().starts_with("hmac-sha256-128:"));
        assert_eq!(key.id().len(), 8);
        assert!(!format!("{key:?}").contains("0b0b"));
    }
}
