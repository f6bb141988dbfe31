//! The token authority's core. No HTTP, no database.
//!
//! - Ed25519 signing keys created and held inside ([`Authority`]); their
//!   private half is never returned by any API ([`KeyMaterial`] is opaque)
//!   and is erased as soon as a key stops being current; custodians per
//!   key; rotation on a schedule (daily) with overlap, on demand, and at
//!   once when a custodian is offboarded ([`Authority::offboard`]).
//! - Compact JWS/JWT with EdDSA only (RFC 7515, 7519, 8037), parsed
//!   strictly; every refusal is a typed [`Refusal`] with a stable code.
//! - An issuance record for every token: a well-signed token that was never
//!   issued is refused ([`Refusal::NeverIssued`]) — the 2025 breach.
//! - RFC 7662 introspection ([`Authority::introspect`]), RFC 7009
//!   revocation with a sequenced feed, RFC 7517 JWKS of verifying keys only.
//! - An embeddable [`Verifier`] for gateways: cached JWKS, revocation and
//!   issuance feeds, failing closed beyond a one-second staleness bound.
//! - Storage behind [`IssuanceStore`], [`RevocationStore`], [`KeyStore`],
//!   with in-memory and file-backed implementations.
//!
//! Design and reasoning: `docs/tokens.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod authority;
mod clock;
mod filestore;
pub mod fuzzing;
#[cfg(feature = "http-feed")]
mod http_feed;
mod jwks;
mod jwt;
mod keys;
mod refusal;
mod revindex;
mod store;
mod verified;
mod verifier;

// The public interface is:
pub use authority::{
    Authority, AuthorityConfig, ConfigError, Introspection, IntrospectionResponse, IssueError,
    IssueRequest, Issued, Lifecycle, MAX_LEEWAY_SECS, MAX_LIFETIME_SECS, OffboardReport,
    SubjectStatus, Subjects,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use filestore::FileKeyStore;
#[cfg(feature = "http-feed")]
pub use http_feed::HttpFeed;
pub use jwks::{Jwk, Jwks, JwksError};
pub use jwt::{ALG, Claimed, Claims, MAX_TOKEN_LEN, peek};
pub use keys::{KeyInfo, KeyMaterial, KeyRecord, KeyState, RetireReason, thumbprint};
pub use refusal::Refusal;
pub use revindex::IndexedRevocationStore;
pub use store::{
    IssuanceRecord, IssuanceStore, KeyStore, MemoryIssuanceStore, MemoryKeyStore,
    MemoryRevocationStore, Revocation, RevocationReason, RevocationStore, RevocationTarget,
    StoreError,
};
pub use verified::VerifiedToken;
pub use verifier::{Feed, Verifier, VerifierConfig};
