//! The Custos HTTP API: authenticated event ingest into the ledger, the
//! log's tiles at `/log/`, health, Prometheus metrics, configuration.
//!
//! | route | auth | what |
//! |---|---|---|
//! | `POST /v1/events` | role `ingest` | a JSON array or NDJSON batch of access events, all-or-nothing; 200 only once durable |
//! | `GET /log/checkpoint`, `GET /log/tile/…` | public | the C2SP tlog-tiles resources, read-only |
//! | `GET /healthz`, `GET /readyz` | public | liveness; readiness (ledger open, not shutting down) |
//! | `GET /metrics` | role `admin`, `auditor` or `analyst` | Prometheus text format 0.0.4 |
//! | `/scim/v2/…` | role `scim` | SCIM 2.0 (RFC 7644) Users, Groups and discovery; every change recorded in the ledger; deactivation and deletion offboard |
//! | `GET /.well-known/jwks.json` | public | the token authority's JWK Set |
//! | `POST /v1/tokens`, `POST /oauth2/introspect`, `POST /oauth2/revoke`, `GET /v1/token/{revocations,issuances}` | role `gateway` | issue, RFC 7662 introspection (refusals recorded in the ledger), RFC 7009 revocation, feeds for embedded verifiers |
//! | `GET /v1/keys`, `POST /v1/keys/rotate`, `POST /v1/keys/{kid}/custodians` | read roles / `admin` | signing keys: metadata, rotation, custody |
//! | `GET /v1/principals/{id}`, `POST /v1/principals/{id}/offboard` | read roles / `admin` | a principal's status, custody, grants; offboarding |
//! | `POST /v1/subjects` | role `scim` | customers' statuses (token subjects) |
//! | `/v1/grants…`, `POST /v1/authorize` | `admin` / `gateway` | least-privilege, time-bound grants (Cedar); decisions recorded in the ledger |
//! | `/v1/suppliers…`, `/v1/residency`, `/v1/findings…` | read roles / `admin`, `analyst` | governance: supplier assessments from live evidence, OSCAL, residency, remediation (`docs/govern.md`) |
//!
//! The full HTTP contract is in `docs/server.md`.
//!
//! # Running it in-process
//!
//! [`start`] opens the ledger (taking its writer lock), binds the address and
//! serves on a runtime and thread of its own; [`RunningServer::shutdown`]
//! drains in-flight requests, closes the ledger and joins:
//!
//! ```no_run
//! use server::{Config, CredentialStore, AdminActor, Role};
//!
//! let mut config = Config::new("/var/lib/custos"); // made by `custos ledger init`
//! config.listen = "127.0.0.1:0".parse()?;           // any free port
//! config.max_event_age = None;                      // accept historical events
//! let issued = CredentialStore::new(&config.data)
//!     .issue(Role::Ingest, Some("demo"), &AdminActor::current(), std::time::SystemTime::now())?;
//! let running = server::start(config)?;
//! println!("POST {}/v1/events with Bearer {}", running.url(), issued.token.expose());
//! running.shutdown()?; // every acknowledged batch is durable
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With a runtime of your own, [`Server::open`] then [`Server::serve`] with
//! a listener and a shutdown future; [`Server::router`] gives the axum
//! router for in-process requests. Configuration is resolved from flags,
//! environment and a TOML file by the pure function [`resolve`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod alerts;
mod app;
mod auth;
mod cases;
pub mod config;
mod credentials;
mod detect_task;
mod directory;
mod error;
mod govern_routes;
mod grants;
// What the fuzz targets and their corpus replay call; not part of the
// public interface below.
#[doc(hidden)]
pub mod fuzzing;
mod ingest;
mod logfiles;
mod logging;
mod metrics;
mod record;
mod run;
mod scim_routes;
mod tokens;

// The public interface is:
pub use app::Clock;
pub use config::{
    AgeLimit, ByteSize, Config, ConfigError, DEFAULT_LISTEN, DurationSetting, LogFormat, Settings,
    parse_setting, resolve,
};
pub use credentials::{
    ADMIN_LOG_NAME, AdminActor, CREDENTIALS_FILE, CredentialError, CredentialInfo, CredentialStore,
    IssuedCredential, LoggedAction, Role, Token,
};
pub use error::ApiError;
pub use logging::init_logging;
pub use run::{
    RunningServer, Server, ServerError, StartOptions, shutdown_signal, start, start_with,
};
