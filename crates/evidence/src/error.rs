//! The crate's one error type. Every verification failure names the archive
//! member (and, for the manifest, the JSON field path) it is about.

use std::path::PathBuf;

use crate::multiproof::MultiProofError;

/// Everything that can go wrong exporting, verifying or reading a bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation on a local file failed.
    #[error("{op} {path}: {error}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// Reading the ledger (tiles, checkpoint, keys) failed.
    #[error("ledger: {0}")]
    Ledger(#[from] ledger::Error),
    /// The export request is not satisfiable.
    #[error("bad export request: {0}")]
    Request(String),
    /// A checkpoint passed to export is not signed by this log, or forks it.
    #[error("cited checkpoint {position}: {reason}")]
    CitedCheckpoint {
        /// Its position in the request.
        position: usize,
        /// Why it is refused.
        reason: String,
    },
    /// The verifier key text does not parse.
    #[error("verifier key: {0}")]
    VerifierKey(tlog::NoteError),
    /// The archive is not a well-formed bundle (tar structure, member order,
    /// unexpected, duplicate, missing or oversized members).
    #[error("archive: {0}")]
    Archive(String),
    /// `manifest.json` is malformed; `path` is the JSON path of the field.
    #[error("manifest.json: {path}: {reason}")]
    Manifest {
        /// JSON path (`$.checkpoints[1].size`), or `$` for the whole.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// `manifest.sig` is not a note validly signed by the log's key over
    /// this manifest's SHA-256.
    #[error("manifest.sig: {0}")]
    ManifestSignature(String),
    /// A member's SHA-256 or size differs from the one the manifest records.
    #[error("{file}: {what} does not match the manifest")]
    Digest {
        /// The archive member.
        file: String,
        /// `"SHA-256"` or `"size"`.
        what: &'static str,
    },
    /// A cited checkpoint does not open with the log's key and origin, or
    /// is not of the size the manifest says.
    #[error("{file}: {reason}")]
    Checkpoint {
        /// The archive member.
        file: String,
        /// Why it is refused.
        reason: String,
    },
    /// A consistency proof is malformed or does not prove the older
    /// checkpoint is a prefix of the newer one.
    #[error("{file}: consistency proof from size {old} to {new}: {reason}")]
    Consistency {
        /// The archive member.
        file: String,
        /// Older size.
        old: u64,
        /// Newer size.
        new: u64,
        /// Why it failed.
        reason: String,
    },
    /// `entries.bin` is malformed (truncated, wrong count).
    #[error("{file}: {reason}")]
    Entries {
        /// The archive member.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The multi-proof does not prove the entries in the latest checkpoint.
    #[error("{file}: inclusion in the checkpoint of size {size}: {source}")]
    Inclusion {
        /// The archive member.
        file: String,
        /// The checkpoint's tree size.
        size: u64,
        /// Why it failed.
        source: MultiProofError,
    },
    /// A single-entry proof was asked for an entry the bundle does not prove.
    #[error("entry {index} is not proved by this bundle")]
    NotProved {
        /// The index asked for.
        index: u64,
    },
}

impl Error {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |error| Error::Io { op, path, error }
    }

    pub(crate) fn archive(reason: impl Into<String>) -> Error {
        Error::Archive(reason.into())
    }
}

impl From<MultiProofError> for Error {
    fn from(e: MultiProofError) -> Error {
        Error::Request(e.to_string())
    }
}

impl From<tlog::ProofError> for Error {
    fn from(e: tlog::ProofError) -> Error {
        Error::Request(e.to_string())
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
