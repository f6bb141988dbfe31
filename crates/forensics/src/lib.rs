//! The forensic index and exact scope queries.
//!
//! The 2025 breach was first disclosed as 4,536 accounts; the truth was 33.7
//! million. This crate answers "which subjects did this principal / signing
//! key / token issuer / source network / source country touch, between T1 and
//! T2, in which data categories, and where do those subjects live" exactly and
//! in milliseconds, from an index maintained from the ledger and rebuildable
//! from it at any time.
//!
//! - [`SubjectDict`] numbers subjects densely (their pseudonyms → `u32`), and
//!   holds each subject's country from the registry ([`registry`]).
//! - [`Index`] keeps, per entity (principal, kid, issuer, source network,
//!   source country, and "all"), per dataset variant (a dataset with its data
//!   categories) and per UTC day, a Roaring bitmap of the subjects accessed,
//!   plus 8-day and 64-day aggregate bitmaps so a 147-day query unions a
//!   dozen bitmaps instead of 147 ([`index`] says how).
//! - [`scope`] runs a [`ScopeQuery`]: from the index for whole days and one
//!   entity, and by reading the ledger for partial days and for queries that
//!   combine several entity kinds — exact either way.
//! - [`snapshot`] saves and loads the index (the portable Roaring format for
//!   bitmaps).

pub mod bits;
pub mod dict;
pub mod index;
pub mod local;
pub mod registry;
pub mod scope;
pub mod snapshot;

pub use dict::SubjectDict;
pub use index::{Dim, Index, IndexStats};
pub use local::{Local, LocalError, checkpoint_ref, latest_checkpoint};
pub use scope::{EntrySource, LedgerSource, ScopeAnswer, ScopeError, ScopeQuery};
pub use snapshot::SnapshotError;

/// Milliseconds in a UTC day.
pub const DAY_MS: i64 = 86_400_000;

/// The UTC day number (days since 1970-01-01) of `ms`.
#[must_use]
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}
