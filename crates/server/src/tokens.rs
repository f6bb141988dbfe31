//! The token authority over HTTP (`crates/token` is the core; design in
//! `docs/tokens.md`):
//!
//! | route | role | what |
//! |---|---|---|
//! | `GET /.well-known/jwks.json` | public | RFC 7517 JWK Set of the keys that verify now |
//! | `POST /v1/tokens` | gateway | issue a token (issuance record durable first) |
//! | `POST /oauth2/introspect` | gateway | RFC 7662; every refusal is a ledger entry |
//! | `POST /oauth2/revoke` | gateway | RFC 7009; 200 whatever the token |
//! | `GET /v1/token/revocations?since=N` | gateway | revocation feed (embedded verifiers) |
//! | `GET /v1/token/issuances?since=N` | gateway | issuance feed (embedded verifiers) |
//! | `GET /v1/keys` | admin, auditor, analyst | public key metadata, custodians, states |
//! | `POST /v1/keys/rotate` | admin | rotate now (the old key verifies for the overlap) |
//! | `POST /v1/keys/{kid}/custodians` | admin | record a custodian |
//! | `POST /v1/principals/{id}/offboard` | admin | offboard: revoke tokens and grants, retire custodial keys |
//! | `GET /v1/principals/{id}` | admin, auditor, analyst | status, keys in custody, grants |
//! | `POST /v1/subjects` | scim | customers' statuses (token subjects that are not SCIM Users) |
//!
//! Every key lifecycle change, custody change, revocation and offboarding
//! is a ledger entry, durable before the response; every refused
//! introspection is a ledger entry (its reason, the claimed `kid`, `iss`,
//! `jti`, the subject — pseudonymised when it is a customer — and the
//! caller-supplied source address), durable before the `{"active":false}`
//! answer, which is given even if the ledger cannot take it (fail closed).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use token::{Authority, Lifecycle, Refusal, RevocationTarget, SubjectStatus, Subjects};

use crate::app::AppState;
use crate::auth::{Authorized, Policy, VerifiedCredential};
use crate::credentials::Role;
use crate::directory::Directory;
use crate::error::ApiError;
use crate::record::{
    Activity, Actor, ControlEntry, PRINCIPAL_LOG_NAME, TOKEN_LOG_NAME, append_durable, now_ms,
};

/// The token authority and the directory it asks, shared by handlers.
pub(crate) struct TokenState {
    pub(crate) authority: Arc<Authority>,
    pub(crate) directory: Arc<Directory>,
    /// Serialises lifecycle changes with their ledger entries, so entries
    /// are in the order of the changes.
    pub(crate) lifecycle_lock: tokio::sync::Mutex<()>,
}

/// Role `gateway`.
pub(crate) struct GatewayPolicy;
impl Policy for GatewayPolicy {
    const ROLES: &'static [Role] = &[Role::Gateway];
    const WHAT: &'static str = "the token endpoints need a credential with role gateway";
}

/// Role `admin`.
pub(crate) struct AdminPolicy;
impl Policy for AdminPolicy {
    const ROLES: &'static [Role] = &[Role::Admin];
    const WHAT: &'static str = "this needs a credential with role admin";
}

/// Read-only views: admin, auditor, analyst.
pub(crate) struct ReadPolicy;
impl Policy for ReadPolicy {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Auditor, Role::Analyst];
    const WHAT: &'static str = "this needs a credential with role admin, auditor or analyst";
}

/// Role `scim` (identity provisioning, customers included).
pub(crate) struct ProvisionPolicy;
impl Policy for ProvisionPolicy {
    const ROLES: &'static [Role] = &[Role::Scim];
    const WHAT: &'static str = "provisioning subjects needs a credential with role scim";
}

fn tokens(state: &AppState) -> &TokenState {
    &state.inner().tokens
}

/// The ledger actor of a credential.
pub(crate) fn actor_of(state: &AppState, cred: &VerifiedCredential) -> Actor {
    let name = state
        .auth()
        .current()
        .by_id
        .get(cred.id())
        .and_then(|c| c.name.clone());
    Actor {
        uid: cred.id().to_owned(),
        name,
        type_id: if cred.role() == Role::Admin { 2 } else { 1 },
    }
}

/// How a subject appears in the ledger: staff ids as they are, customer
/// ids as their keyed-HMAC pseudonym (the ledger holds no raw customer id).
fn ledger_subject(state: &AppState, sub: &str) -> String {
    if tokens(state).directory.is_staff(sub) {
        sub.to_owned()
    } else {
        state.inner().key.pseudonymise(sub).to_string()
    }
}

/// The ledger entries of token lifecycle changes.
pub(crate) fn lifecycle_entries(
    state: &AppState,
    changes: &[Lifecycle],
    actor: &Actor,
    time_ms: i64,
) -> Vec<Vec<u8>> {
    changes
        .iter()
        .filter_map(|c| {
            let e = |op, act| ControlEntry::new(TOKEN_LOG_NAME, op, act, actor.clone(), time_ms);
            let entry = match c {
                Lifecycle::KeyCreated { kid, custodians } => {
                    e("custos.token.key.create", Activity::Create)
                        .resource("signing_key", kid.clone())
                        .with("custodians", custodians.clone())
                }
                Lifecycle::KeyRetiring { kid, until_ms } => {
                    e("custos.token.key.rotate", Activity::Update)
                        .resource("signing_key", kid.clone())
                        .with("verifies_until_ms", *until_ms)
                }
                Lifecycle::KeyRetired { kid, reason } => {
                    e("custos.token.key.retire", Activity::Update)
                        .resource("signing_key", kid.clone())
                        .with(
                            "reason",
                            serde_json::to_value(reason).unwrap_or(Value::Null),
                        )
                }
                Lifecycle::CustodianAdded { kid, principal } => {
                    e("custos.token.key.custodian.add", Activity::Update)
                        .resource("signing_key", kid.clone())
                        .with("custodian", principal.clone())
                }
                // Issuance is recorded in the issuance store and its feed,
                // not as one ledger entry per token.
                Lifecycle::TokenIssued(_) => return None,
                Lifecycle::Revoked(r) => {
                    let reason = serde_json::to_value(r.reason).unwrap_or(Value::Null);
                    match &r.target {
                        RevocationTarget::Token { jti, sub, .. } => {
                            e("custos.token.revoke", Activity::Delete)
                                .resource("token", jti.clone())
                                .with("subject", ledger_subject(state, sub))
                                .with("reason", reason)
                                .with("seq", r.seq)
                        }
                        RevocationTarget::Subject { sub, issued_until } => {
                            e("custos.token.revoke_subject", Activity::Delete)
                                .resource("subject", ledger_subject(state, sub))
                                .with("issued_until", *issued_until)
                                .with("reason", reason)
                                .with("seq", r.seq)
                        }
                    }
                }
                _ => return None,
            };
            Some(entry.encode())
        })
        .collect()
}

/// Records `changes` in the ledger, durably; `Err` is the API error to
/// answer with (the change itself stands).
pub(crate) async fn record_lifecycle(
    state: &AppState,
    changes: &[Lifecycle],
    actor: &Actor,
) -> Result<(), ApiError> {
    let entries = lifecycle_entries(state, changes, actor, now_ms(state));
    if entries.is_empty() {
        return Ok(());
    }
    match append_durable(state, &entries).await {
        Ok(_) => {
            state.metrics().control_logged(entries.len() as u64);
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, changes = changes.len(),
                "a token-authority change was made but its ledger entry could not be appended");
            Err(ApiError::unavailable(
                "the change was made but could not be recorded in the ledger; retry later",
            ))
        }
    }
}

/// Runs a blocking authority call off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "token task failed");
        ApiError::internal()
    })
}

fn store_failed(e: &token::StoreError) -> ApiError {
    tracing::error!(error = %e, "token store failed");
    ApiError::unavailable("the token store is unavailable; retry later")
}

/// `GET /.well-known/jwks.json`.
pub(crate) async fn jwks(State(state): State<AppState>) -> Response {
    let body = tokens(&state).authority.jwks().to_json();
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    // Verifiers must see a retired key disappear within their refresh
    // interval: no caching beyond a second.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=1"),
    );
    resp
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    sub: String,
    aud: Vec<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    lifetime_secs: Option<u64>,
}

/// Parses an issue request, naming the field at fault.
fn parse_issue(body: &[u8]) -> Result<IssueBody, ApiError> {
    let parsed: IssueBody = json_body(body)?;
    let bounded = |path: &str, s: &str| -> Result<(), ApiError> {
        if s.is_empty() || s.len() > 256 || s.chars().any(char::is_control) {
            return Err(ApiError::bad_request(format!(
                "{path}: must be 1 to 256 bytes without control characters"
            )));
        }
        Ok(())
    };
    bounded("$.sub", &parsed.sub)?;
    if parsed.aud.is_empty() || parsed.aud.len() > 16 {
        return Err(ApiError::bad_request("$.aud: must hold 1 to 16 audiences"));
    }
    for (i, a) in parsed.aud.iter().enumerate() {
        bounded(&format!("$.aud[{i}]"), a)?;
    }
    for (i, r) in parsed.roles.iter().enumerate() {
        bounded(&format!("$.roles[{i}]"), r)?;
    }
    if let Some(s) = &parsed.scope {
        bounded("$.scope", s)?;
    }
    if let Some(c) = &parsed.client_id {
        bounded("$.client_id", c)?;
    }
    Ok(parsed)
}

/// A JSON request body, or 400 with serde's message (it names the line and
/// column, and the member when it is unknown or missing).
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

/// `POST /v1/tokens`: `{"sub","aud":[…],"scope"?,"roles"?,"client_id"?,"lifetime_secs"?}`.
pub(crate) async fn issue(
    State(state): State<AppState>,
    auth: Result<Authorized<GatewayPolicy>, ApiError>,
    body: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let req = parse_issue(&body)?;
        let st = state.clone();
        let issued = blocking(move || {
            let t = tokens(&st);
            t.authority.issue(
                &token::IssueRequest {
                    sub: req.sub,
                    aud: req.aud,
                    scope: req.scope,
                    roles: req.roles,
                    client_id: req.client_id,
                    lifetime_secs: req.lifetime_secs,
                },
                t.directory.as_ref(),
            )
        })
        .await?;
        let issued = match issued {
            Ok(i) => i,
            Err(token::IssueError::Store(e)) => return Err(store_failed(&e)),
            Err(e) => {
                return Err(ApiError::unprocessable(
                    "token_not_issued",
                    format!("no token issued: {e}"),
                ));
            }
        };
        // A scheduled rotation may have fallen due inside issue().
        record_lifecycle(&state, &issued.lifecycle, &actor_of(&state, &cred)).await?;
        let r = &issued.record;
        let mut resp = (
            StatusCode::OK,
            Json(json!({
                "access_token": issued.token,
                "token_type": "Bearer",
                "expires_in": r.exp.saturating_sub(r.iat),
                "jti": r.jti,
                "kid": r.kid,
            })),
        )
            .into_response();
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(resp)
    }
    .await;
    read_whole(r)
}

/// RFC 7662 §2.1 request parameters (form-encoded), plus where the token
/// was presented, so that a refusal records its source.
#[derive(Deserialize)]
pub(crate) struct IntrospectForm {
    token: Option<String>,
    /// Accepted and ignored (RFC 7662 §2.1: a hint only).
    #[allow(dead_code)]
    token_type_hint: Option<String>,
    /// Custos extension: the client address the token was presented from.
    custos_src_ip: Option<String>,
    /// Custos extension: its ISO 3166-1 alpha-2 country.
    custos_src_country: Option<String>,
}

/// Parses an `application/x-www-form-urlencoded` body, or 400 saying what
/// is wrong with it.
fn form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_urlencoded::from_bytes(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be application/x-www-form-urlencoded: {e}"
        ))
    })
}

/// The response of a handler that read its whole body (`Bytes`
/// extractor): the connection may serve the next request.
pub(crate) fn read_whole(r: Result<Response, ApiError>) -> Response {
    let mut resp = r.into_response();
    resp.extensions_mut().insert(crate::app::BodyConsumed);
    resp
}

fn introspection_json(body: String) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `POST /oauth2/introspect` (RFC 7662).
pub(crate) async fn introspect(
    State(state): State<AppState>,
    auth: Result<Authorized<GatewayPolicy>, ApiError>,
    body: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let (tok, f) = parse_introspect_form(&body)?;
        let t = tokens(&state);
        // The checks are CPU-bound (one Ed25519 verification, memory lookups,
        // SQLite reads of at most two indexed rows): cheaper inline than a hop
        // to the blocking pool.
        let verdict = t.authority.check(&tok, t.directory.as_ref());
        match verdict {
            Ok(v) => {
                state.metrics().introspection("active");
                let body = token::Introspection { verdict: Ok(v) }.to_json();
                Ok(introspection_json(body))
            }
            Err(refusal) => {
                state.metrics().introspection(refusal.code());
                let entry = refusal_entry(
                    &state,
                    &cred,
                    &tok,
                    &refusal,
                    f.custos_src_ip.as_deref(),
                    f.custos_src_country.as_deref(),
                );
                if let Err(e) = append_durable(&state, &[entry]).await {
                    state.metrics().refusal_unrecorded();
                    tracing::error!(error = %e, reason = refusal.code(),
                        "a token refusal could not be recorded in the ledger");
                } else {
                    state.metrics().control_logged(1);
                }
                Ok(introspection_json(
                    token::Introspection {
                        verdict: Err(refusal),
                    }
                    .to_json(),
                ))
            }
        }
    }
    .await;
    read_whole(r)
}

/// The ledger entry of a refused token: an API Activity *Read* that
/// failed, with the reason and what the token claimed (unverified).
fn refusal_entry(
    state: &AppState,
    cred: &VerifiedCredential,
    tok: &str,
    refusal: &Refusal,
    src_ip: Option<&str>,
    src_country: Option<&str>,
) -> Vec<u8> {
    let claimed = token::peek(tok);
    let mut e = ControlEntry::new(
        TOKEN_LOG_NAME,
        "custos.token.introspect",
        Activity::Read,
        actor_of(state, cred),
        now_ms(state),
    )
    .failed()
    .with("refusal", refusal.code())
    .with("message", refusal.to_string());
    if let Some(kid) = claimed.kid {
        e = e.with("kid", kid);
    }
    if let Some(iss) = claimed.iss {
        e = e.with("iss", iss);
    }
    if let Some(jti) = claimed.jti.clone() {
        e = e.resource("token", jti);
    }
    if let Some(sub) = claimed.sub {
        e = e.with("subject", ledger_subject(state, &sub));
    }
    e.uid = format!(
        "custos.token.introspect-{}-{}",
        e.time_ms,
        claimed.jti.as_deref().unwrap_or("-")
    );
    // Only well-formed values: the entry must stay valid OCSF and the ledger
    // free of whatever a caller sends.
    e.src_ip = src_ip
        .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
        .map(|ip| ip.to_string());
    e.src_country = src_country
        .and_then(events::Country::from_code)
        .map(|c| c.as_str().to_owned());
    e.encode()
}

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    token: Option<String>,
    #[allow(dead_code)]
    token_type_hint: Option<String>,
}

/// `POST /oauth2/revoke` (RFC 7009): 200 with an empty body whether or not
/// the token was ours (§2.2); 400 `invalid_request` without `token`.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    auth: Result<Authorized<GatewayPolicy>, ApiError>,
    body: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let tok = parse_revoke_form(&body)?;
        let st = state.clone();
        let _guard = tokens(&state).lifecycle_lock.lock().await;
        let revoked = blocking(move || tokens(&st).authority.revoke_token(&tok))
            .await?
            .map_err(|e| store_failed(&e))?;
        if let Some(r) = revoked {
            record_lifecycle(&state, &[Lifecycle::Revoked(r)], &actor_of(&state, &cred)).await?;
        }
        Ok(StatusCode::OK.into_response())
    }
    .await;
    read_whole(r)
}

#[derive(Deserialize)]
pub(crate) struct FeedQuery {
    #[serde(default)]
    since: u64,
    #[serde(default)]
    limit: Option<usize>,
}

const FEED_PAGE: usize = 10_000;

/// A query string, or 400 saying what is wrong with it.
pub(crate) fn query<T>(
    q: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    q.map(|q| q.0)
        .map_err(|e| ApiError::bad_request(format!("query: {e}")))
}

/// One page of a feed after `since`: `{"<name>":[…],"next":N}`, `next`
/// being the last item's `seq` (or `since` when there is none).
async fn feed_page<T: serde::Serialize + Send + 'static>(
    state: &AppState,
    q: FeedQuery,
    name: &str,
    read: fn(&Authority, u64, usize) -> Result<Vec<T>, token::StoreError>,
    seq: fn(&T) -> u64,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(FEED_PAGE).clamp(1, FEED_PAGE);
    let st = state.clone();
    let items = blocking(move || read(&tokens(&st).authority, q.since, limit))
        .await?
        .map_err(|e| store_failed(&e))?;
    let next = items.last().map_or(q.since, seq);
    Ok(feed_json(json!({ name: items, "next": next })))
}

/// `GET /v1/token/revocations?since=N&limit=L`: `{"revocations":[…],"next":N}`.
pub(crate) async fn revocation_feed(
    State(state): State<AppState>,
    auth: Result<Authorized<GatewayPolicy>, ApiError>,
    q: Result<Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    auth?;
    let read = |a: &Authority, since, limit| a.revocations_since(since, limit);
    feed_page(&state, query(q)?, "revocations", read, |r| r.seq).await
}

/// `GET /v1/token/issuances?since=N&limit=L`: `{"issuances":[…],"next":N}`.
pub(crate) async fn issuance_feed(
    State(state): State<AppState>,
    auth: Result<Authorized<GatewayPolicy>, ApiError>,
    q: Result<Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    auth?;
    let read = |a: &Authority, since, limit| a.issuances_since(since, limit);
    feed_page(&state, query(q)?, "issuances", read, |r| r.seq).await
}

fn feed_json(v: Value) -> Response {
    let mut resp = (StatusCode::OK, Json(v)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `GET /v1/keys`: every key's public metadata (retired ones included).
pub(crate) async fn keys(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
) -> Result<Response, ApiError> {
    auth?;
    let keys = tokens(&state).authority.keys();
    Ok(feed_json(json!({ "keys": keys })))
}

/// `POST /v1/keys/rotate`: a new current key (same custodians); the old one
/// verifies for the overlap.
pub(crate) async fn rotate(
    State(state): State<AppState>,
    auth: Result<Authorized<AdminPolicy>, ApiError>,
) -> Result<Response, ApiError> {
    let cred = auth?.0;
    let st = state.clone();
    let _guard = tokens(&state).lifecycle_lock.lock().await;
    let changes = blocking(move || tokens(&st).authority.rotate_now())
        .await?
        .map_err(|e| store_failed(&e))?;
    record_lifecycle(&state, &changes, &actor_of(&state, &cred)).await?;
    Ok(feed_json(
        json!({ "changes": changes, "keys": tokens(&state).authority.keys() }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustodianBody {
    principal: String,
}

/// `POST /v1/keys/{kid}/custodians`: `{"principal": "emp-1"}`.
pub(crate) async fn add_custodian(
    State(state): State<AppState>,
    auth: Result<Authorized<AdminPolicy>, ApiError>,
    Path(kid): Path<String>,
    body: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let b: CustodianBody = json_body(&body)?;
        if b.principal.is_empty() || b.principal.len() > 256 {
            return Err(ApiError::bad_request("$.principal: must be 1 to 256 bytes"));
        }
        if !tokens(&state).authority.keys().iter().any(|k| k.kid == kid) {
            return Err(ApiError::not_found());
        }
        let st = state.clone();
        let _guard = tokens(&state).lifecycle_lock.lock().await;
        let changes = blocking(move || tokens(&st).authority.add_custodian(&kid, &b.principal))
            .await?
            .map_err(|e| store_failed(&e))?;
        record_lifecycle(&state, &changes, &actor_of(&state, &cred)).await?;
        Ok(feed_json(json!({ "changes": changes })))
    }
    .await;
    read_whole(r)
}

/// What offboarding did, for the response and the caller's own records.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Offboarded {
    pub(crate) principal: String,
    pub(crate) retired_keys: Vec<String>,
    pub(crate) new_key: Option<String>,
    pub(crate) revoked_grants: Vec<String>,
    pub(crate) ledger_index: Option<u64>,
}

/// Offboards `principal`: revokes every token of it and every grant it
/// holds, retires at once every key it had custody of, and records it all
/// in the ledger (one `custos.principal.offboard` entry, then the token
/// and grant lifecycle entries). The revocations take effect for
/// introspection as soon as the token store has them, before the ledger
/// entries are written.
pub(crate) async fn offboard_principal(
    state: &AppState,
    principal: &str,
    actor: &Actor,
    trigger: &str,
) -> Result<Offboarded, ApiError> {
    let revoked = revoke_principal(state, principal, actor).await?;
    record_offboarding(state, principal, actor, trigger, revoked).await
}

/// What [`revoke_principal`] did, for [`record_offboarding`].
pub(crate) struct Revoked {
    report: token::OffboardReport,
    grants: Vec<String>,
}

/// The part of offboarding that stops access: the principal's tokens
/// revoked and the keys in its custody retired (the one-second bound is
/// about these), the directory marked, its grants revoked — all durable in
/// their stores when this returns. Idempotent: a retry after a crash
/// completes what is missing.
pub(crate) async fn revoke_principal(
    state: &AppState,
    principal: &str,
    actor: &Actor,
) -> Result<Revoked, ApiError> {
    let st = state.clone();
    let p = principal.to_owned();
    let at = u64::try_from(now_ms(state)).unwrap_or(0);
    let report = {
        let _guard = tokens(state).lifecycle_lock.lock().await;
        // Tokens and keys first, then the directory, so that a crash in
        // between leaves the principal's tokens refused.
        blocking(move || {
            let t = tokens(&st);
            let report = t.authority.offboard(&p)?;
            t.directory.mark_offboarded(&p, at)?;
            Ok::<_, token::StoreError>(report)
        })
        .await?
        .map_err(|e| store_failed(&e))?
    };
    let grants = crate::grants::revoke_all_of(state, principal, actor).await?;
    Ok(Revoked { report, grants })
}

/// The ledger entries of an offboarding: one `custos.principal.offboard`,
/// then the key, revocation and grant entries; durable before it returns.
pub(crate) async fn record_offboarding(
    state: &AppState,
    principal: &str,
    actor: &Actor,
    trigger: &str,
    revoked: Revoked,
) -> Result<Offboarded, ApiError> {
    let Revoked {
        report,
        grants: revoked_grants,
    } = revoked;
    let time_ms = now_ms(state);
    let mut entries = vec![
        ControlEntry::new(
            PRINCIPAL_LOG_NAME,
            "custos.principal.offboard",
            Activity::Update,
            actor.clone(),
            time_ms,
        )
        .resource("principal", principal.to_owned())
        .with("trigger", trigger.to_owned())
        .with("retired_keys", report.retired_keys.clone())
        .with("new_key", report.new_key.clone())
        .with("revoked_grants", revoked_grants.clone())
        .encode(),
    ];
    entries.extend(lifecycle_entries(state, &report.lifecycle, actor, time_ms));
    entries.extend(crate::grants::revocation_entries(
        state,
        &revoked_grants,
        actor,
        time_ms,
    ));
    let index = match append_durable(state, &entries).await {
        Ok(i) => {
            state.metrics().control_logged(entries.len() as u64);
            Some(i)
        }
        Err(e) => {
            tracing::error!(error = %e, principal, "offboarding done but its ledger entries could not be appended");
            return Err(ApiError::unavailable(
                "the principal was offboarded but the ledger could not record it; retry later",
            ));
        }
    };
    tracing::info!(target: "custos::access", principal, trigger,
        retired_keys = report.retired_keys.len(), revoked_grants = revoked_grants.len(),
        "principal offboarded");
    Ok(Offboarded {
        principal: principal.to_owned(),
        retired_keys: report.retired_keys,
        new_key: report.new_key,
        revoked_grants,
        ledger_index: index,
    })
}

/// `POST /v1/principals/{id}/offboard`.
pub(crate) async fn offboard(
    State(state): State<AppState>,
    auth: Result<Authorized<AdminPolicy>, ApiError>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cred = auth?.0;
    if id.is_empty() || id.len() > 256 {
        return Err(ApiError::bad_request("principal id must be 1 to 256 bytes"));
    }
    let actor = actor_of(&state, &cred);
    let done = offboard_principal(&state, &id, &actor, "admin").await?;
    Ok(feed_json(
        serde_json::to_value(&done).unwrap_or(Value::Null),
    ))
}

/// `GET /v1/principals/{id}`: directory status, keys in custody, grants.
pub(crate) async fn principal(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth?;
    let t = tokens(&state);
    let status = t.directory.status(&id);
    let custody: Vec<_> = t
        .authority
        .keys()
        .into_iter()
        .filter(|k| k.custodians.iter().any(|c| c == &id))
        .collect();
    let grants = crate::grants::grants_json(&state, &id);
    Ok(feed_json(json!({
        "principal": id,
        "status": status,
        "keys_in_custody": custody,
        "grants": grants,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectLine {
    // Values, checked one by one below, so that every error names its
    // field (serde's own messages do not for a wrong type or status word).
    id: Value,
    status: Value,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum SubjectWord {
    Active,
    Suspended,
    Offboarded,
    /// Removes the subject (it becomes unknown).
    Removed,
}

/// Most subjects in one `POST /v1/subjects`.
const MAX_SUBJECTS_PER_REQUEST: usize = 1_000_000;

/// `POST /v1/subjects`: NDJSON or a JSON array of `{"id","status"}`
/// (`active`, `suspended`, `offboarded`, `removed`); all-or-nothing; every
/// error names its line or index and field. One ledger entry per request
/// with the counts (customer ids are personal data: not in the ledger).
pub(crate) async fn put_subjects(
    State(state): State<AppState>,
    auth: Result<Authorized<ProvisionPolicy>, ApiError>,
    body: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let subjects = parse_subjects(&body)?;
        let mut counts = [0u64; 4];
        for (_, s) in &subjects {
            let i = match s {
                SubjectStatus::Active => 0,
                SubjectStatus::Suspended => 1,
                SubjectStatus::Offboarded => 2,
                SubjectStatus::Unknown => 3,
            };
            if let Some(c) = counts.get_mut(i) {
                *c += 1;
            }
        }
        let st = state.clone();
        let at = u64::try_from(now_ms(&state)).unwrap_or(0);
        let n = blocking(move || tokens(&st).directory.put_customers(&subjects, at))
            .await?
            .map_err(|e| store_failed(&e))?;
        let [active, suspended, offboarded, removed] = counts;
        let entry = ControlEntry::new(
            PRINCIPAL_LOG_NAME,
            "custos.subjects.put",
            Activity::Update,
            actor_of(&state, &cred),
            now_ms(&state),
        )
        .with("active", active)
        .with("suspended", suspended)
        .with("offboarded", offboarded)
        .with("removed", removed)
        .encode();
        match append_durable(&state, &[entry]).await {
            Ok(_) => state.metrics().control_logged(1),
            Err(e) => {
                tracing::error!(error = %e, "subjects stored but the ledger entry could not be appended");
                return Err(ApiError::unavailable(
                    "the subjects were stored but the ledger could not record it; retry later",
                ));
            }
        }
        let (staff, customers) = tokens(&state).directory.sizes();
        Ok(feed_json(json!({
            "written": n,
            "active": active, "suspended": suspended, "offboarded": offboarded, "removed": removed,
            "directory": { "staff": staff, "customers": customers },
        })))
    }
    .await;
    read_whole(r)
}

/// Parses `POST /v1/subjects`; every error with its place.
pub(crate) fn parse_subjects(body: &[u8]) -> Result<Vec<(String, SubjectStatus)>, ApiError> {
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let trimmed = text.trim_start();
    let items: Vec<(String, Result<SubjectLine, serde_json::Error>)> = if trimmed.starts_with('[') {
        let arr: Vec<Value> = serde_json::from_str(trimmed)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON array: {e}")))?;
        arr.into_iter()
            .enumerate()
            .map(|(i, v)| (format!("$[{i}]"), serde_json::from_value(v)))
            .collect()
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (format!("line {}", i + 1), serde_json::from_str(l)))
            .collect()
    };
    if items.is_empty() {
        return Err(ApiError::bad_request("no subjects in the body"));
    }
    if items.len() > MAX_SUBJECTS_PER_REQUEST {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_SUBJECTS_PER_REQUEST} subjects per request"
        )));
    }
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for (place, item) in items {
        match item.map(|s| (s.id, serde_json::from_value::<SubjectWord>(s.status))) {
            Ok((Value::String(id), _))
                if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) =>
            {
                errors.push(format!(
                    "{place}: $.id: must be 1 to 256 bytes without control characters"
                ));
            }
            Ok((Value::String(_), Err(e))) => errors.push(format!("{place}: $.status: {e}")),
            Ok((Value::String(id), Ok(word))) => out.push((
                id,
                match word {
                    SubjectWord::Active => SubjectStatus::Active,
                    SubjectWord::Suspended => SubjectStatus::Suspended,
                    SubjectWord::Offboarded => SubjectStatus::Offboarded,
                    SubjectWord::Removed => SubjectStatus::Unknown,
                },
            )),
            Ok(_) => errors.push(format!("{place}: $.id: must be a string")),
            Err(e) => errors.push(format!("{place}: {e}")),
        }
        if errors.len() >= 100 {
            break;
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::bad_request(format!(
            "nothing stored; {} error(s): {}",
            errors.len(),
            errors.join("; ")
        )));
    }
    Ok(out)
}

/// The scheduled work of the token authority: rotation when due (recorded
/// in the ledger) and pruning of issuance records that expired a day ago.
pub(crate) async fn tick(state: &AppState) {
    let st = state.clone();
    let _guard = tokens(state).lifecycle_lock.lock().await;
    match blocking(move || tokens(&st).authority.tick()).await {
        Ok(Ok(changes)) if !changes.is_empty() => {
            if let Err(e) = record_lifecycle(state, &changes, &Actor::system()).await {
                tracing::error!(error = e.message(), "scheduled key rotation not recorded");
            }
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "scheduled key rotation failed"),
        Err(_) => {}
    }
}

/// `POST /v1/tokens`'s body: `(sub, aud)` (for the fuzz target).
pub(crate) fn parse_issue_body(body: &[u8]) -> Result<(String, Vec<String>), ApiError> {
    parse_issue(body).map(|b| (b.sub, b.aud))
}

/// `POST /oauth2/introspect`'s form: the token (RFC 7662 §2.1: REQUIRED)
/// and the form's other members.
pub(crate) fn parse_introspect_form(body: &[u8]) -> Result<(String, IntrospectForm), ApiError> {
    let mut f: IntrospectForm = form(body)?;
    let tok = required_token(f.token.take())?;
    Ok((tok, f))
}

/// `POST /oauth2/revoke`'s form: the token (RFC 7009 §2.1: REQUIRED).
pub(crate) fn parse_revoke_form(body: &[u8]) -> Result<String, ApiError> {
    let f: RevokeForm = form(body)?;
    required_token(f.token)
}

fn required_token(t: Option<String>) -> Result<String, ApiError> {
    t.filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("the token parameter is required"))
}
