//! Grants and authorization over HTTP (`crates/access` is the core; design
//! in `docs/access.md`):
//!
//! | route | role | what |
//! |---|---|---|
//! | `POST /v1/grants` | admin | request a grant (pending until approved by someone else) |
//! | `GET /v1/grants[?principal=P]` | admin, auditor, analyst | list, with each grant's state now |
//! | `GET /v1/grants/{id}` | admin, auditor, analyst | one grant |
//! | `POST /v1/grants/{id}/approve` | admin | approve (not by its requester, not by its holder) |
//! | `POST /v1/grants/{id}/revoke` | admin | revoke, with a reason |
//! | `GET /v1/grants/policies` | admin, auditor, analyst | the Cedar policy set in force |
//! | `POST /v1/authorize` | gateway | allow/deny with reasons; recorded in the ledger |
//!
//! Every grant change is stored durably, then applied to the engine, then
//! recorded in the ledger before the response; every decision is recorded
//! in the ledger before it is answered (a decision that cannot be recorded
//! is answered 503: an unrecorded allow would be an access off the record).

use std::sync::Arc;

use access::{Engine, Grant, GrantStore};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::Authorized;
use crate::error::ApiError;
use crate::record::{ACCESS_LOG_NAME, Activity, Actor, ControlEntry, append_durable, now_ms};
use crate::tokens::{AdminPolicy, GatewayPolicy, ReadPolicy, actor_of, read_whole};

/// The grant engine and its store.
pub(crate) struct GrantState {
    engine: Arc<Engine>,
    store: Arc<dyn GrantStore>,
    /// Serialises grant changes (read-modify-write of one grant).
    lock: tokio::sync::Mutex<()>,
}

impl GrantState {
    /// Loads every stored grant into a new engine.
    pub(crate) fn open(db: &store::Database) -> Result<GrantState, crate::run::ServerError> {
        let store = store::SqliteGrantStore::new(db)?;
        let grants = store
            .list()
            .map_err(|e| crate::run::ServerError::Grants(e.to_string()))?;
        let engine =
            Engine::new(grants).map_err(|e| crate::run::ServerError::Grants(e.to_string()))?;
        Ok(GrantState {
            engine: Arc::new(engine),
            store: Arc::new(store),
            lock: tokio::sync::Mutex::new(()),
        })
    }
}

fn grants(state: &AppState) -> &GrantState {
    &state.inner().grants
}

/// Every grant the engine holds (governance evidence).
pub(crate) fn all_grants(state: &AppState) -> Vec<Grant> {
    grants(state).engine.grants()
}

/// The routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/grants", post(create).get(list))
        .route("/v1/grants/policies", get(policies))
        .route("/v1/grants/{id}", get(one))
        .route("/v1/grants/{id}/approve", post(approve))
        .route("/v1/grants/{id}/revoke", post(revoke))
        .route("/v1/authorize", post(authorize))
}

/// The route label of a `/v1/grants/…` path.
pub(crate) fn route_of(path: &str) -> &'static str {
    if path == "/v1/grants/policies" {
        "/v1/grants/policies"
    } else if path.ends_with("/approve") {
        "/v1/grants/{id}/approve"
    } else if path.ends_with("/revoke") {
        "/v1/grants/{id}/revoke"
    } else {
        "/v1/grants/{id}"
    }
}

fn now_s(state: &AppState) -> i64 {
    now_ms(state).div_euclid(1000)
}

/// Who an admin is, for `requested_by`, `approved_by` and revocations: the
/// credential's name if it has one, else its id.
/// How a person is named in records: the credential's name, else its id.
pub(crate) fn person(actor: &Actor) -> String {
    actor.name.clone().unwrap_or_else(|| actor.uid.clone())
}

pub(crate) fn json_response(status: StatusCode, v: Value) -> Response {
    let mut resp = (status, axum::Json(v)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn grant_json(g: &Grant, now: i64) -> Value {
    let mut v = serde_json::to_value(g).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "state".into(),
            serde_json::to_value(g.state_at(now)).unwrap_or(Value::Null),
        );
    }
    v
}

/// 400 listing every `{path, reason}` of `what`.
fn invalid(what: &str, e: &access::GrantError) -> ApiError {
    ApiError::invalid_fields(
        format!("{what} is invalid: {e}"),
        serde_json::to_value(&e.problems).unwrap_or(Value::Null),
    )
}

fn store_failed(e: &access::StoreError) -> ApiError {
    tracing::error!(error = %e, "grant store failed");
    ApiError::unavailable("the grant store is unavailable; retry later")
}

fn engine_failed(e: &access::EngineError) -> ApiError {
    tracing::error!(error = %e, "grant engine refused a stored grant");
    ApiError::internal()
}

/// The ledger entry of a grant change.
fn grant_entry(op: &'static str, activity: Activity, g: &Grant, actor: &Actor, t: i64) -> Vec<u8> {
    let holder = serde_json::to_value(&g.holder).unwrap_or(Value::Null);
    let mut e = ControlEntry::new(ACCESS_LOG_NAME, op, activity, actor.clone(), t)
        .resource("grant", g.id.clone())
        .with("holder", holder)
        .with("dataset", g.dataset.clone())
        .with(
            "categories",
            g.categories.iter().cloned().collect::<Vec<_>>(),
        )
        .with("purpose", g.purpose.clone())
        .with("max_subjects_per_day", g.max_subjects_per_day)
        .with("valid_from", g.valid_from)
        .with("valid_until", g.valid_until)
        .with("requested_by", g.requested_by.clone())
        .with("ticket", g.ticket.clone());
    if let Some(a) = &g.approved_by {
        e = e.with("approved_by", a.clone());
    }
    if let Some(r) = &g.revoked {
        e = e
            .with("revoked_by", r.by.clone())
            .with("revoke_reason", r.reason.clone());
    }
    e.uid = format!("{op}-{}-{t}", g.id);
    e.encode()
}

/// Stores `g`, applies it to the engine, records `op` in the ledger.
async fn commit(
    state: &AppState,
    g: Grant,
    op: &'static str,
    activity: Activity,
    actor: &Actor,
) -> Result<Grant, ApiError> {
    let store = Arc::clone(&grants(state).store);
    let stored = g.clone();
    tokio::task::spawn_blocking(move || store.put(&stored))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| store_failed(&e))?;
    grants(state)
        .engine
        .put(g.clone())
        .map_err(|e| engine_failed(&e))?;
    let entry = grant_entry(op, activity, &g, actor, now_ms(state));
    match append_durable(state, &[entry]).await {
        Ok(_) => state.metrics().control_logged(1),
        Err(e) => {
            tracing::error!(error = %e, grant = %g.id, op, "grant change stored but not recorded in the ledger");
            return Err(ApiError::unavailable(
                "the grant change was stored but could not be recorded in the ledger; retry later",
            ));
        }
    }
    Ok(g)
}

fn new_grant_id() -> String {
    let mut b = [0u8; 12];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    format!("g-{}", hex_lower(&b))
}

/// Lower-case hex of `b`.
pub(crate) fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `POST /v1/grants`: a grant request (see `docs/access.md`); 201 with the
/// pending grant, 400 with every `{path, reason}`.
async fn create(
    State(state): State<AppState>,
    auth: Result<Authorized<AdminPolicy>, ApiError>,
    body: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let actor = actor_of(&state, &cred);
        let now = now_s(&state);
        let g = access::parse_grant_request(&body, &person(&actor), now, new_grant_id())
            .map_err(|e| invalid("the grant request", &e))?;
        let _guard = grants(&state).lock.lock().await;
        let g = commit(&state, g, "custos.grant.request", Activity::Create, &actor).await?;
        Ok(json_response(StatusCode::CREATED, grant_json(&g, now)))
    }
    .await;
    read_whole(r)
}

#[derive(Deserialize)]
struct ListQuery {
    principal: Option<String>,
}

/// `GET /v1/grants[?principal=P]`.
async fn list(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    auth?;
    let q = crate::tokens::query(q)?;
    let now = now_s(&state);
    let list = match q.principal {
        Some(p) => grants(&state).engine.grants_of(&p),
        None => grants(&state).engine.grants(),
    };
    let items: Vec<Value> = list.iter().map(|g| grant_json(g, now)).collect();
    Ok(json_response(StatusCode::OK, json!({ "grants": items })))
}

/// `GET /v1/grants/{id}`.
async fn one(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth?;
    let g = grants(&state)
        .engine
        .grant(&id)
        .ok_or_else(ApiError::not_found)?;
    Ok(json_response(StatusCode::OK, grant_json(&g, now_s(&state))))
}

/// `GET /v1/grants/policies`: the Cedar text in force (text/plain).
async fn policies(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
) -> Result<Response, ApiError> {
    auth?;
    let mut resp = (StatusCode::OK, grants(&state).engine.cedar_text()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(resp)
}

/// `POST /v1/grants/{id}/approve`.
async fn approve(
    State(state): State<AppState>,
    auth: Result<Authorized<AdminPolicy>, ApiError>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cred = auth?.0;
    let actor = actor_of(&state, &cred);
    let now = now_s(&state);
    let _guard = grants(&state).lock.lock().await;
    let mut g = grants(&state)
        .engine
        .grant(&id)
        .ok_or_else(ApiError::not_found)?;
    access::approve(&mut g, &person(&actor), now)
        .map_err(|e| ApiError::conflict("approval_refused", e.to_string()))?;
    let g = commit(&state, g, "custos.grant.approve", Activity::Update, &actor).await?;
    Ok(json_response(StatusCode::OK, grant_json(&g, now)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: String,
}

/// `POST /v1/grants/{id}/revoke`: `{"reason": "…"}`.
async fn revoke(
    State(state): State<AppState>,
    auth: Result<Authorized<AdminPolicy>, ApiError>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let actor = actor_of(&state, &cred);
        let b: RevokeBody = crate::tokens::json_body(&body)?;
        if b.reason.is_empty() || b.reason.len() > 512 || b.reason.chars().any(char::is_control) {
            return Err(ApiError::bad_request(
                "$.reason: must be 1 to 512 bytes without control characters",
            ));
        }
        let now = now_s(&state);
        let _guard = grants(&state).lock.lock().await;
        let mut g = grants(&state)
            .engine
            .grant(&id)
            .ok_or_else(ApiError::not_found)?;
        access::revoke(&mut g, &person(&actor), &b.reason, now)
            .map_err(|e| ApiError::conflict("revoke_refused", e.to_string()))?;
        let g = commit(&state, g, "custos.grant.revoke", Activity::Delete, &actor).await?;
        Ok(json_response(StatusCode::OK, grant_json(&g, now)))
    }
    .await;
    read_whole(r)
}

/// Revokes every unrevoked grant held directly by `principal`
/// (offboarding); their ids. Ledger entries: [`revocation_entries`].
pub(crate) async fn revoke_all_of(
    state: &AppState,
    principal: &str,
    actor: &Actor,
) -> Result<Vec<String>, ApiError> {
    let now = now_s(state);
    let _guard = grants(state).lock.lock().await;
    let mut ids = Vec::new();
    for mut g in grants(state).engine.grants_of(principal) {
        if g.revoked.is_some() {
            continue;
        }
        if access::revoke(&mut g, &person(actor), "principal offboarded", now).is_err() {
            continue;
        }
        let store = Arc::clone(&grants(state).store);
        let stored = g.clone();
        tokio::task::spawn_blocking(move || store.put(&stored))
            .await
            .map_err(|_| ApiError::internal())?
            .map_err(|e| store_failed(&e))?;
        ids.push(g.id.clone());
        grants(state).engine.put(g).map_err(|e| engine_failed(&e))?;
    }
    Ok(ids)
}

/// The ledger entries of grants revoked by offboarding.
pub(crate) fn revocation_entries(
    state: &AppState,
    ids: &[String],
    actor: &Actor,
    time_ms: i64,
) -> Vec<Vec<u8>> {
    ids.iter()
        .filter_map(|id| grants(state).engine.grant(id))
        .map(|g| grant_entry("custos.grant.revoke", Activity::Delete, &g, actor, time_ms))
        .collect()
}

/// A principal's grants (direct), for `GET /v1/principals/{id}`.
pub(crate) fn grants_json(state: &AppState, principal: &str) -> Vec<Value> {
    let now = now_s(state);
    grants(state)
        .engine
        .grants_of(principal)
        .iter()
        .map(|g| grant_json(g, now))
        .collect()
}

/// `POST /v1/authorize`: `{"principal","dataset","categories":[…],"purpose","subjects":[…]}`
/// → `{"decision":"allow"|"deny","grant","reasons":[…],"subjects_today","limit"}`.
async fn authorize(
    State(state): State<AppState>,
    auth: Result<Authorized<GatewayPolicy>, ApiError>,
    body: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let req = access::parse_authz_request(&body)
            .map_err(|e| invalid("the authorization request", &e))?;
        let principal = state.inner().tokens.directory.principal(&req.principal);
        let now = now_s(&state);
        let decision = grants(&state)
            .engine
            .authorize(&req, principal.as_ref(), now);
        let mut e = ControlEntry::new(
            ACCESS_LOG_NAME,
            "custos.authorize",
            Activity::Read,
            actor_of(&state, &cred),
            now_ms(&state),
        )
        .resource("principal", req.principal.clone())
        .with("decision", if decision.allow { "allow" } else { "deny" })
        .with("dataset", req.dataset.clone())
        .with(
            "categories",
            req.categories.iter().cloned().collect::<Vec<_>>(),
        )
        .with("purpose", req.purpose.clone())
        .with("subject_count", req.subjects.len())
        .with(
            "reasons",
            decision.reasons.iter().map(|r| r.code).collect::<Vec<_>>(),
        );
        if let Some(g) = &decision.grant {
            e = e.with("grant", g.clone());
        }
        if !decision.allow {
            e = e.failed();
        }
        match append_durable(&state, &[e.encode()]).await {
            Ok(_) => state.metrics().control_logged(1),
            Err(err) => {
                tracing::error!(error = %err, "an authorization decision could not be recorded");
                return Err(ApiError::unavailable(
                    "the decision could not be recorded in the ledger; retry later",
                ));
            }
        }
        Ok(json_response(
            StatusCode::OK,
            serde_json::to_value(&decision).unwrap_or(Value::Null),
        ))
    }
    .await;
    read_whole(r)
}
