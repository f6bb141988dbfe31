//! Shared state, the router, the request-log middleware, health and metrics.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::auth::{Authenticator, Authorized, CallerSlot, ObservePolicy};
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::{Gauges, Metrics};

/// The clock the server reads for event-time checks (injectable for tests
/// and replays).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Everything handlers share.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) limits: events::Limits,
    pub(crate) key: events::SubjectKey,
    /// `None` once shutdown has taken the ledger to close it.
    ledger: Mutex<Option<Arc<ledger::Ledger>>>,
    pub(crate) auth: Authenticator,
    pub(crate) metrics: Metrics,
    pub(crate) inflight: Arc<Semaphore>,
    shutting_down: AtomicBool,
    ledger_failed: AtomicBool,
    pub(crate) clock: Clock,
    pub(crate) log_dir: PathBuf,
    page_size: u64,
    /// The SCIM 2.0 service under `/scim/v2`.
    pub(crate) scim: crate::scim_routes::ScimState,
    /// The token authority and the directory.
    pub(crate) tokens: crate::tokens::TokenState,
    /// Grants and authorization.
    pub(crate) grants: crate::grants::GrantState,
    /// Alerts and the detection settings.
    pub(crate) alerts: crate::alerts::AlertState,
    /// The forensic index, incidents and legal holds.
    pub(crate) cases: crate::cases::CaseState,
    /// Governance: the governance file, findings and assessment history.
    pub(crate) govern: crate::govern_routes::GovernState,
}

impl AppState {
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per part of the state, each opened separately by Server::open"
    )]
    pub(crate) fn new(
        config: Config,
        ledger: ledger::Ledger,
        key: events::SubjectKey,
        auth: Authenticator,
        clock: Clock,
        scim: crate::scim_routes::ScimState,
        tokens: crate::tokens::TokenState,
        grants: crate::grants::GrantState,
        alerts: crate::alerts::AlertState,
        cases: crate::cases::CaseState,
        govern: crate::govern_routes::GovernState,
    ) -> AppState {
        let limits = config.limits();
        let log_dir = config.data.join("log");
        let inflight = Arc::new(Semaphore::new(config.max_inflight_events as usize));
        AppState(Arc::new(Inner {
            config,
            limits,
            key,
            ledger: Mutex::new(Some(Arc::new(ledger))),
            auth,
            metrics: Metrics::default(),
            inflight,
            shutting_down: AtomicBool::new(false),
            ledger_failed: AtomicBool::new(false),
            clock,
            log_dir,
            page_size: crate::metrics::page_size(),
            scim,
            tokens,
            grants,
            alerts,
            cases,
            govern,
        }))
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.0
    }

    pub(crate) fn auth(&self) -> &Authenticator {
        &self.0.auth
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The ledger, unless shutdown already took it.
    pub(crate) fn ledger(&self) -> Option<Arc<ledger::Ledger>> {
        self.0
            .ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Takes the ledger out (shutdown); later requests get 503.
    pub(crate) fn take_ledger(&self) -> Option<Arc<ledger::Ledger>> {
        self.0
            .ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    pub(crate) fn begin_shutdown(&self) {
        self.0.shutting_down.store(true, Ordering::SeqCst);
    }

    pub(crate) fn shutting_down(&self) -> bool {
        self.0.shutting_down.load(Ordering::SeqCst)
    }

    pub(crate) fn mark_ledger_failed(&self) {
        self.0.ledger_failed.store(true, Ordering::SeqCst);
    }

    pub(crate) fn ready(&self) -> bool {
        !self.shutting_down()
            && !self.0.ledger_failed.load(Ordering::SeqCst)
            && self.ledger().is_some()
    }

    fn gauges(&self) -> Gauges {
        let ledger = self.ledger();
        let limit = u64::from(self.0.config.max_inflight_events);
        let available = self.0.inflight.available_permits() as u64;
        Gauges {
            inflight_events: limit.saturating_sub(available),
            inflight_limit: limit,
            ledger_queued_bytes: ledger.as_ref().map_or(0, |l| l.queued_bytes()),
            ledger_size: ledger.as_ref().map_or(0, |l| l.checkpoint().size()),
            resident_bytes: crate::metrics::resident_bytes(self.0.page_size),
            ready: self.ready(),
        }
    }
}

/// Events in a request's batch, left in the response for the request log.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventCount(pub(crate) u64);

/// Left in a response whose handler read the request body to its end. The
/// request-log middleware closes the connection after any other response to
/// a request that carried a body: an unread body (refused before reading:
/// 401, 403, 413, 429, …) makes the connection unusable for a next request,
/// and `Connection: close` tells the client not to reuse it rather than
/// let its next request fail on a connection the server drops.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyConsumed;

/// The application's routes over `state`.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/events", post(crate::ingest::post_events))
        .route("/log/{*path}", get(crate::logfiles::get_log))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .nest("/scim/v2", crate::scim_routes::router())
        .route("/.well-known/jwks.json", get(crate::tokens::jwks))
        .route("/v1/tokens", post(crate::tokens::issue))
        .route("/oauth2/introspect", post(crate::tokens::introspect))
        .route("/oauth2/revoke", post(crate::tokens::revoke))
        .route("/v1/token/revocations", get(crate::tokens::revocation_feed))
        .route("/v1/token/issuances", get(crate::tokens::issuance_feed))
        .route("/v1/keys", get(crate::tokens::keys))
        .route("/v1/keys/rotate", post(crate::tokens::rotate))
        .route(
            "/v1/keys/{kid}/custodians",
            post(crate::tokens::add_custodian),
        )
        .route("/v1/principals/{id}", get(crate::tokens::principal))
        .route(
            "/v1/principals/{id}/offboard",
            post(crate::tokens::offboard),
        )
        .route(
            "/v1/subjects",
            post(crate::tokens::put_subjects)
                .layer(axum::extract::DefaultBodyLimit::max(128 << 20)),
        )
        .merge(crate::grants::router())
        .merge(crate::alerts::router())
        .merge(crate::cases::router())
        .merge(crate::govern_routes::router())
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// The route label of a path: fixed strings only, so neither metrics nor
/// logs grow with whatever paths clients send.
fn route_of(path: &str) -> &'static str {
    match path {
        "/v1/events" => "/v1/events",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        "/.well-known/jwks.json" => "/.well-known/jwks.json",
        "/v1/tokens" => "/v1/tokens",
        "/oauth2/introspect" => "/oauth2/introspect",
        "/oauth2/revoke" => "/oauth2/revoke",
        "/v1/token/revocations" => "/v1/token/revocations",
        "/v1/token/issuances" => "/v1/token/issuances",
        "/v1/keys" => "/v1/keys",
        "/v1/keys/rotate" => "/v1/keys/rotate",
        "/v1/subjects" => "/v1/subjects",
        "/v1/authorize" => "/v1/authorize",
        "/v1/grants" => "/v1/grants",
        p if p.starts_with("/v1/keys/") => "/v1/keys/{kid}/custodians",
        p if p.starts_with("/v1/principals/") && p.ends_with("/offboard") => {
            "/v1/principals/{id}/offboard"
        }
        p if p.starts_with("/v1/principals/") => "/v1/principals/{id}",
        "/v1/alerts" => "/v1/alerts",
        "/v1/scope" => "/v1/scope",
        p if p.starts_with("/v1/incidents")
            || p.starts_with("/v1/holds")
            || p.starts_with("/v1/retention") =>
        {
            crate::cases::route_of(p)
        }
        p if p.starts_with("/v1/grants/") => crate::grants::route_of(p),
        p if p.starts_with("/v1/suppliers")
            || p.starts_with("/v1/findings")
            || p == "/v1/residency" =>
        {
            crate::govern_routes::route_of(p)
        }
        p if p.starts_with("/v1/alerts/") => crate::alerts::route_of(p),
        p if p.starts_with("/log/") => "/log/{path}",
        p if p.starts_with("/scim/v2/") => crate::scim_routes::route_of(p),
        _ => "other",
    }
}

/// Counts every request and logs one line for it (never headers or
/// bodies: tokens and events stay out of the log).
async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = route_of(req.uri().path());
    let slot = CallerSlot::default();
    req.extensions_mut().insert(slot.clone());
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    let mut resp = next.run(req).await;
    if has_body && resp.extensions().get::<BodyConsumed>().is_none() {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let status = resp.status().as_u16();
    state.metrics().http(route, status);
    let events = resp.extensions().get::<EventCount>().map(|e| e.0);
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    tracing::info!(
        target: "custos::http",
        method = %method,
        route,
        status,
        duration_ms = micros as f64 / 1000.0,
        events,
        credential = slot.0.get().map(String::as_str),
        "request"
    );
    resp
}

async fn healthz() -> Response {
    no_store(axum::Json(json!({ "status": "ok" })).into_response())
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.ready() {
        let size = state.ledger().map_or(0, |l| l.checkpoint().size());
        no_store(axum::Json(json!({ "status": "ready", "checkpoint_size": size })).into_response())
    } else if state.shutting_down() {
        ApiError::unavailable("shutting down").into_response()
    } else {
        ApiError::unavailable("the ledger is not accepting appends").into_response()
    }
}

async fn metrics(State(state): State<AppState>, _auth: Authorized<ObservePolicy>) -> Response {
    let text = state.metrics().render(&state.gauges());
    let mut resp = (StatusCode::OK, text).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    no_store(resp)
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::route_of;

    #[test]
    fn routes_are_a_closed_set() {
        assert_eq!(route_of("/log/tile/0/000"), "/log/{path}");
        assert_eq!(route_of("/v1/events"), "/v1/events");
        assert_eq!(route_of("/v1/events/x"), "other");
        assert_eq!(route_of("/../../etc/passwd"), "other");
    }
}
