//! Least-privilege, time-bound access grants, decided by Cedar. No HTTP,
//! no database.
//!
//! - A grant opens some categories of one dataset, for one purpose, to one
//!   principal or group, for a bounded window and a bounded number of
//!   distinct data subjects per UTC day; it is requested
//!   ([`parse_grant_request`], every problem with its JSON path), approved
//!   by someone else ([`approve`]), and may be revoked ([`revoke`]).
//! - Each approved, unrevoked grant compiles to one Cedar `permit`
//!   ([`CEDAR_SCHEMA`], [`Engine::cedar_text`]); one `forbid` stops
//!   principals that are not active; Cedar's default is deny.
//! - [`Engine::authorize`] asks Cedar about a small per-principal policy
//!   set, explains a deny with stable [`codes`], and counts distinct
//!   subjects per day after Cedar allows.
//!
//! Design and reasoning: `docs/access.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cedar;
mod engine;
mod error;
pub mod fuzzing;
mod grant;
mod json;
mod limit;
mod request;
mod store;
mod time;

// The public interface is:
pub use cedar::{CEDAR_SCHEMA, FORBID_INACTIVE, FORBID_INACTIVE_ID, policy_text, quote};
pub use engine::{Decision, Engine, Reason, codes};
pub use error::{ApprovalError, EngineError, GrantError, Problem, RevokeError, StoreError};
pub use grant::{
    DEFAULT_MAX_VALIDITY_SECS, Grant, GrantRules, GrantState, Holder, MAX_CATEGORIES,
    MAX_GRANT_REQUEST_BYTES, MAX_SUBJECTS_PER_DAY, Principal, PrincipalKind, PrincipalStatus,
    Revoked, approve, parse_grant_request, parse_grant_request_with, revoke,
};
pub use request::{
    AuthzRequest, MAX_AUTHZ_REQUEST_BYTES, MAX_SUBJECTS_PER_REQUEST, parse_authz_request,
};
pub use store::{GrantStore, MemoryGrantStore};
