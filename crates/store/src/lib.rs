//! Metadata persistence: SQLite (the embedded default) implementations of
//! the narrow storage traits of [`token`] ([`token::IssuanceStore`],
//! [`token::RevocationStore`]), [`scim`] ([`scim::ScimStore`]) and [`access`]
//! ([`access::GrantStore`]), over one
//! database file, `DIR/meta/custos.db`.
//!
//! - **Durable when acknowledged.** Every connection runs WAL with
//!   `synchronous=FULL`, so a call that returned `Ok` has been fsynced and
//!   survives a crash or power loss ([`Database`] cites SQLite's docs).
//! - **Contracts kept exactly.** Each store mirrors the in-memory store of
//!   its trait; the tests run one set of behavioural checks against both.
//! - **Refuses what is not its own.** A file that is not SQLite, another
//!   application's database or a newer schema is an [`OpenError`], never a
//!   panic and never a write.
//!
//! ```
//! use store::{Database, SqliteIssuanceStore, SqliteScimStore};
//! use token::{IssuanceRecord, IssuanceStore};
//! use scim::{ResourceKind, ScimStore};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let db = Database::open_data_dir(dir.path())?; // DIR/meta/custos.db, 0600
//! let issuance = SqliteIssuanceStore::new(&db)?;
//! let rec = issuance.record(IssuanceRecord {
//!     seq: 0, jti: "j1".into(), kid: "k".into(), sub: "alice".into(),
//!     iat: 10, exp: 610, aud: vec!["shop".into()], client_id: None,
//! })?;
//! assert_eq!(rec.seq, 1);
//!
//! let users = SqliteScimStore::new(&db)?;
//! let mut body = serde_json::Map::new();
//! body.insert("userName".into(), "bjensen".into());
//! let stored = users.create(ResourceKind::User, "u1", body)?;
//! assert_eq!(stored.body["meta"]["version"], "W/\"1\"");
//! # Ok(()) }
//! ```
//!
//! Design, schema and what PostgreSQL would change: `docs/store.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod alert_store;
mod case_store;
mod db;
mod directory_store;
mod govern_store;
mod grant_store;
mod schema;
mod scim_store;
mod token_store;

// The public interface is:
pub use alert_store::{Delivery, SqliteAlertStore};
pub use case_store::{CaseStoreError, Doc, SqliteCaseStore};
pub use db::{BUSY_TIMEOUT, DB_RELATIVE_PATH, Database, OpenError, Settings};
pub use directory_store::{DirectoryUser, SqliteDirectoryStore};
pub use govern_store::{AssessmentRow, FindingRow, GovernStoreError, SqliteGovernStore};
pub use grant_store::SqliteGrantStore;
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};
pub use scim_store::SqliteScimStore;
pub use token_store::{SqliteIssuanceStore, SqliteRevocationStore};
