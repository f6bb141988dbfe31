//! The durable, tamper-evident access ledger.
//!
//! Appends are group-committed to a C2SP tiled transparency log on disk:
//! an append is acknowledged only once its entry bundle and tiles are
//! durable and a signed checkpoint covering it is published (see the commit
//! protocol in `ledger.rs`). Opening runs crash recovery; [`verify_log`]
//! checks a log end to end and names the first bad place.
#![forbid(unsafe_code)]

mod error;
mod fs;
mod keys;
mod ledger;
mod reader;
mod storage;
mod tree;
mod verify;

// The public interface is:
pub use error::{Error, Result};
pub use fs::{FsStore, SyncPolicy};
pub use keys::{signer_key, verifier_key};
pub use ledger::{
    DurablyAppended, EntryBatch, Ledger, LedgerOptions, MAX_BATCH_ENTRIES, Pending, init,
    validate_origin,
};
pub use reader::LogReader;
pub use storage::LogStore;
pub use verify::{KnownCheckpoint, VerifyError, VerifyReport, verify_log};
