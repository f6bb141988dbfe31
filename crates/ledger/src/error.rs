//! The ledger's one error type.

use std::path::PathBuf;

/// Everything that can go wrong opening, appending to, proving from or
/// verifying a ledger. Messages name the file or entry involved and never
/// contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation failed.
    #[error("{op} {path}: {error}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error (shown in the message, so not chained).
        error: std::io::Error,
    },
    /// `DIR` holds no ledger.
    #[error("no ledger at {0}: run `custos ledger init --data {0} --origin ORIGIN` first")]
    NotInitialized(PathBuf),
    /// `init` on a directory that already holds a ledger.
    #[error("{0} already holds a ledger; refusing to overwrite its keys")]
    AlreadyInitialized(PathBuf),
    /// Another process holds the writer lock.
    #[error("the ledger at {0} is in use by another process (its writer lock is held)")]
    Locked(PathBuf),
    /// Stored data is inconsistent; `place` names the file or entry.
    #[error("corrupt ledger: {place}: {reason}")]
    Corrupt {
        /// The first bad file or entry.
        place: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key file is missing or malformed.
    #[error("bad key {path}: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong (never the key itself).
        reason: String,
    },
    /// An entry is larger than a tlog-tiles entry bundle can hold.
    #[error("entry {position} is {len} bytes; the limit is {max} bytes (C2SP tlog-tiles uint16 length)", max = tlog::MAX_ENTRY_SIZE)]
    EntryTooLarge {
        /// Position of the entry in the submitted batch.
        position: usize,
        /// Its length.
        len: usize,
    },
    /// The append queue is full; retry later.
    #[error(
        "the ledger is overloaded: append queue full ({queued_bytes} bytes queued); retry later"
    )]
    Overloaded {
        /// Bytes waiting to be committed.
        queued_bytes: u64,
    },
    /// The ledger was closed.
    #[error("the ledger is closed")]
    Closed,
    /// A commit failed; the ledger stopped accepting appends until reopened,
    /// which runs crash recovery.
    #[error("the ledger stopped after a failed commit: {0}")]
    Failed(String),
    /// An index or size outside the log.
    #[error("{0}")]
    OutOfRange(String),
    /// A proof could not be built.
    #[error(transparent)]
    Proof(#[from] tlog::ProofError),
    /// A checkpoint could not be signed, parsed or verified.
    #[error(transparent)]
    Checkpoint(#[from] tlog::CheckpointError),
    /// The origin is not a valid log name.
    #[error("invalid origin {origin:?}: {reason}")]
    BadOrigin {
        /// The origin given.
        origin: String,
        /// Why it is refused.
        reason: &'static str,
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

    pub(crate) fn corrupt(place: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            place: place.into(),
            reason: reason.into(),
        }
    }
}

/// Shorthand for ledger results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
