//! Signed evidence bundles: everything a regulator needs to check, offline
//! and with only the log's public key, that the accesses an incident cites
//! are in the Custos access log, unaltered.
//!
//! A bundle is a POSIX tar archive (format: docs/evidence.md):
//! `manifest.json` (incident, scope, cited checkpoints, proved indices, the
//! SHA-256 of every other member), `manifest.sig` (a C2SP signed note by
//! the log's key over the manifest's SHA-256), the cited checkpoints
//! verbatim (c2sp.org/tlog-checkpoint), consistency proofs between them
//! (RFC 6962 §2.1.2), the proved entries (tlog-tiles entry-bundle encoding)
//! and one deduplicated Merkle multi-proof of their inclusion in the latest
//! checkpoint. Any single entry's standard `c2sp.org/tlog-proof` can be
//! rebuilt from a bundle ([`tlog_proof`]).
#![forbid(unsafe_code)]

mod bench;
mod error;
mod export;
mod format;
mod multiproof;
mod verify;

// The public interface is:
pub use bench::{BenchReport, bench};
pub use error::{Error, Result};
pub use export::{Cite, ExportRequest, ExportSummary, Progress, Stage, export};
pub use format::{
    CheckpointRef, ConsistencyRef, ENTRIES, EntriesRef, FORMAT, FileDigest, InclusionRef, MANIFEST,
    MANIFEST_SIG, MAX_CHECKPOINTS, MAX_ENTRIES, MULTIPROOF, Manifest, checkpoint_name,
    consistency_name, manifest_note_text,
};
pub use multiproof::MultiProofError;
pub use verify::{VerifyReport, fuzz_bundle, tlog_proof, verify, verify_reader};
