//! Streaming detectors over the ledger.
//!
//! The [`Engine`] consumes ledger entries in index order — tailing the log
//! live or replaying any range of it — and raises [`Finding`]s: distinct
//! subjects per principal, signing key, issuer, source network and country
//! over sliding windows from minutes to 180 days against floors, the
//! entity's own lagged baseline and its peer group's; tokens that were never
//! issued, from retired keys or of offboarded principals; access from
//! outside a dataset's residency; refused authorizations; cumulative
//! coverage of a dataset; and Sigma rules (`sigma`). Time is the entries' own
//! (`time`), plus an injected clock for ticks when the log is idle, so a
//! replay gives the same findings as the live run, byte for byte. The state
//! is serialisable ([`Engine::checkpoint`]) and can always be rebuilt by
//! replaying the ledger from index 0.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alert;
pub mod distinct;
mod engine;
mod finding;
mod record;
mod replay;
pub mod settings;
pub mod sigma;

pub use alert::{
    AckSla, Alert, AlertStatus, AlertStore, AlertStoreError, Suppression, Transition,
    TransitionError,
};
pub use engine::{
    Checkpoint, Context, DetectConfig, Engine, EngineStats, KeyState, NoContext, Residency,
    Thresholds, WINDOWS, network_of,
};
pub use finding::{
    Baseline, DETECT_LOG_NAME, Entity, EntityKind, Evidence, Finding, MAX_EVIDENCE_INDICES,
    Severity,
};
pub use record::{DecodeError, Record, RecordKind, decode, subject_hash};
pub use replay::{ReplayError, for_each_entry};
