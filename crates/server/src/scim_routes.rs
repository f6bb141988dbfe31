//! SCIM 2.0 (RFC 7644) under `/scim/v2`: the HTTP binding of
//! [`scim::ScimService`] over the SQLite directory
//! ([`store::SqliteScimStore`], `DATA/meta/custos.db`).
//!
//! Every route needs a bearer credential with role `scim` (no other role
//! implies it); 401/403 and every other error are SCIM error bodies
//! (RFC 7644 §3.12). Service calls block on SQLite and run on the blocking
//! pool. Each successful write's [`scim::LifecycleEvent`] becomes exactly
//! one OCSF 1.3.0 API Activity (6003) entry in the ledger, durable before
//! the response is sent. If that append fails after the store write, the
//! answer is 503 and an error is logged: the directory change stands
//! without its ledger entry (a known gap, see `docs/server.md`).

use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use scim::{
    LifecycleAction, LifecycleEvent, ResourceKind, ScimResponse, ScimService, Unimplemented,
};
use serde_json::{Value, json};
use store::SqliteScimStore;

use crate::app::{AppState, BodyConsumed};
use crate::auth::{Authorized, Policy, VerifiedCredential};
use crate::credentials::Role;
use crate::error::ApiError;

/// `metadata.log_name` of SCIM lifecycle entries.
pub(crate) const SCIM_LOG_NAME: &str = "custos.scim";

type Service = ScimService<SqliteScimStore>;

/// The SCIM service of a server: the store is opened at startup, the
/// service is made once the base URL (the bound address) is known.
pub(crate) struct ScimState {
    store: Mutex<Option<SqliteScimStore>>,
    service: OnceLock<Arc<Service>>,
}

impl ScimState {
    pub(crate) fn new(store: SqliteScimStore) -> ScimState {
        ScimState {
            store: Mutex::new(Some(store)),
            service: OnceLock::new(),
        }
    }

    /// Makes the service with base URL `{origin}/scim/v2` (`meta.location`,
    /// `Location`, `$ref`); later calls do nothing.
    pub(crate) fn init(&self, origin: &str) {
        if self.service.get().is_some() {
            return;
        }
        let taken = self
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(store) = taken {
            let config = scim::ServiceConfig {
                base_url: format!("{origin}/scim/v2"),
                ..scim::ServiceConfig::default()
            };
            let _ = self.service.set(Arc::new(ScimService::new(store, config)));
        }
    }

    fn service(&self) -> Option<Arc<Service>> {
        self.service.get().cloned()
    }
}

/// `/scim/v2/*`: role `scim` only.
pub(crate) struct ScimPolicy;
impl Policy for ScimPolicy {
    const ROLES: &'static [Role] = &[Role::Scim];
    const WHAT: &'static str = "SCIM needs a credential with role scim";
}

type Auth = Result<Authorized<ScimPolicy>, ApiError>;

/// The routes, relative to `/scim/v2`.
pub(crate) fn router() -> Router<AppState> {
    let mut r = Router::new();
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let base = kind.endpoint(); // "/Users", "/Groups"
        r = r
            .route(
                base,
                get(move |s: State<AppState>, a: Auth, q: RawQuery| async move {
                    with_query(s.0, a, q.0.as_deref(), |query| Op::List(kind, query)).await
                })
                .post(
                    move |s: State<AppState>, a: Auth, h: HeaderMap, b: Body| async move {
                        with_body(s.0, a, &h, b, |body| Op::Create(kind, body)).await
                    },
                ),
            )
            .route(
                &format!("{base}/.search"),
                post(
                    move |s: State<AppState>, a: Auth, h: HeaderMap, b: Body| async move {
                        with_body(s.0, a, &h, b, |body| Op::Search(kind, body)).await
                    },
                ),
            )
            .route(
                &format!("{base}/{{id}}"),
                get(
                    move |s: State<AppState>,
                          a: Auth,
                          Path(id): Path<String>,
                          h: HeaderMap,
                          q: RawQuery| async move {
                        let inm = header_str(&h, header::IF_NONE_MATCH);
                        with_query(s.0, a, q.0.as_deref(), |query| {
                            Op::Get(kind, id, query, inm)
                        })
                        .await
                    },
                )
                .put(
                    move |s: State<AppState>,
                          a: Auth,
                          Path(id): Path<String>,
                          h: HeaderMap,
                          b: Body| async move {
                        let im = header_str(&h, header::IF_MATCH);
                        with_body(s.0, a, &h, b, |body| Op::Replace(kind, id, body, im)).await
                    },
                )
                .patch(
                    move |s: State<AppState>,
                          a: Auth,
                          Path(id): Path<String>,
                          h: HeaderMap,
                          b: Body| async move {
                        let im = header_str(&h, header::IF_MATCH);
                        with_body(s.0, a, &h, b, |body| Op::Patch(kind, id, body, im)).await
                    },
                )
                .delete(
                    move |s: State<AppState>, a: Auth, Path(id): Path<String>, h: HeaderMap| async move {
                        let im = header_str(&h, header::IF_MATCH);
                        handle(s.0, a, Op::Delete(kind, id, im)).await
                    },
                ),
            );
    }
    r.route(
        "/ServiceProviderConfig",
        get(|s: State<AppState>, a: Auth| handle(s.0, a, Op::ServiceProviderConfig)),
    )
    .route(
        "/Schemas",
        get(|s: State<AppState>, a: Auth| handle(s.0, a, Op::Schemas)),
    )
    .route(
        "/Schemas/{id}",
        get(|s: State<AppState>, a: Auth, Path(id): Path<String>| handle(s.0, a, Op::Schema(id))),
    )
    .route(
        "/ResourceTypes",
        get(|s: State<AppState>, a: Auth| handle(s.0, a, Op::ResourceTypes)),
    )
    .route(
        "/ResourceTypes/{name}",
        get(|s: State<AppState>, a: Auth, Path(n): Path<String>| {
            handle(s.0, a, Op::ResourceType(n))
        }),
    )
    // Optional endpoints Custos does not serve: 501, not 404 (RFC 7644
    // §3.4.2.1, §3.11, §3.7; see `scim::Unimplemented`).
    .route(
        "/.search",
        post(|s: State<AppState>, a: Auth| {
            handle(s.0, a, Op::Unimplemented(Unimplemented::RootSearch))
        }),
    )
    .route(
        "/Me",
        any(|s: State<AppState>, a: Auth| handle(s.0, a, Op::Unimplemented(Unimplemented::Me))),
    )
    .route(
        "/Bulk",
        post(|s: State<AppState>, a: Auth| handle(s.0, a, Op::Unimplemented(Unimplemented::Bulk))),
    )
    .fallback(|| async { scim_error(404, "no such SCIM endpoint") })
    .method_not_allowed_fallback(|| async {
        scim_error(405, "method not allowed on this SCIM endpoint")
    })
}

/// The request-log / metrics label of a `/scim/v2/…` path: a closed set.
pub(crate) fn route_of(path: &str) -> &'static str {
    let rest = path.strip_prefix("/scim/v2").unwrap_or(path);
    let mut parts = rest.trim_start_matches('/').splitn(2, '/');
    let first = parts.next().unwrap_or_default();
    let second = parts.next();
    match (first, second) {
        ("Users", None) => "/scim/v2/Users",
        ("Users", Some(".search")) => "/scim/v2/Users/.search",
        ("Users", Some(_)) => "/scim/v2/Users/{id}",
        ("Groups", None) => "/scim/v2/Groups",
        ("Groups", Some(".search")) => "/scim/v2/Groups/.search",
        ("Groups", Some(_)) => "/scim/v2/Groups/{id}",
        ("ServiceProviderConfig", None) => "/scim/v2/ServiceProviderConfig",
        ("Schemas", None) => "/scim/v2/Schemas",
        ("Schemas", Some(_)) => "/scim/v2/Schemas/{id}",
        ("ResourceTypes", None) => "/scim/v2/ResourceTypes",
        ("ResourceTypes", Some(_)) => "/scim/v2/ResourceTypes/{name}",
        (".search", None) => "/scim/v2/.search",
        ("Me", None) => "/scim/v2/Me",
        ("Bulk", None) => "/scim/v2/Bulk",
        _ => "/scim/v2/other",
    }
}

/// One SCIM call.
enum Op {
    List(ResourceKind, Vec<(String, String)>),
    Search(ResourceKind, Bytes),
    Get(ResourceKind, String, Vec<(String, String)>, Option<String>),
    Create(ResourceKind, Bytes),
    Replace(ResourceKind, String, Bytes, Option<String>),
    Patch(ResourceKind, String, Bytes, Option<String>),
    Delete(ResourceKind, String, Option<String>),
    ServiceProviderConfig,
    Schemas,
    Schema(String),
    ResourceTypes,
    ResourceType(String),
    Unimplemented(Unimplemented),
}

impl Op {
    fn writes(&self) -> bool {
        matches!(
            self,
            Op::Create(..) | Op::Replace(..) | Op::Patch(..) | Op::Delete(..)
        )
    }

    /// Runs the call (blocking: SQLite).
    fn run(self, s: &Service) -> ScimResponse {
        match self {
            Op::List(k, q) => s.list(k, &q),
            Op::Search(k, b) => s.search(k, &b),
            Op::Get(k, id, q, inm) => s.get(k, &id, &q, inm.as_deref()),
            Op::Create(k, b) => s.create(k, &b),
            Op::Replace(k, id, b, im) => s.replace(k, &id, &b, im.as_deref()),
            Op::Patch(k, id, b, im) => s.patch(k, &id, &b, im.as_deref()),
            Op::Delete(k, id, im) => s.delete(k, &id, im.as_deref()),
            Op::ServiceProviderConfig => s.service_provider_config(),
            Op::Schemas => s.schemas(),
            Op::Schema(id) => s.schema(&id),
            Op::ResourceTypes => s.resource_types(),
            Op::ResourceType(n) => s.resource_type(&n),
            Op::Unimplemented(what) => s.not_implemented(what),
        }
    }
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The query string as pairs; `None` if it is not valid URL encoding.
fn parse_query(q: Option<&str>) -> Option<Vec<(String, String)>> {
    q.map_or(Some(Vec::new()), serde_urlencoded_pairs)
}

/// Handles a call that takes the query string (after authentication).
async fn with_query(
    state: AppState,
    auth: Auth,
    query: Option<&str>,
    op: impl FnOnce(Vec<(String, String)>) -> Op,
) -> Response {
    if let Err(e) = auth {
        return e.into_scim_response();
    }
    match parse_query(query) {
        Some(q) => handle(state, auth, op(q)).await,
        None => scim_error(400, "the query string is not valid URL encoding"),
    }
}

/// `application/x-www-form-urlencoded` pairs (`+` is a space; `%XX`
/// escapes must be valid UTF-8).
fn serde_urlencoded_pairs(q: &str) -> Option<Vec<(String, String)>> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

fn decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = char::from(bytes.next()?).to_digit(16)?;
                let lo = char::from(bytes.next()?).to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

/// A SCIM error response with `status` and `detail`.
fn scim_error(status: u16, detail: &str) -> Response {
    respond(ScimResponse::from(scim::ScimError::status(status, detail)))
}

/// Checks the media type and size, reads the body, then handles the call.
async fn with_body(
    state: AppState,
    auth: Auth,
    headers: &HeaderMap,
    body: Body,
    op: impl FnOnce(Bytes) -> Op,
) -> Response {
    let cred = match auth {
        Ok(a) => a.0,
        Err(e) => return e.into_scim_response(),
    };
    let Some(service) = state.inner().scim.service() else {
        return ApiError::unavailable("the SCIM service is not ready").into_scim_response();
    };
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let media = ct
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if media != "application/json" && media != scim::CONTENT_TYPE {
            return scim_error(
                415,
                "send the body as application/scim+json or application/json",
            );
        }
    }
    if headers.contains_key(header::CONTENT_ENCODING) {
        return scim_error(
            415,
            "Content-Encoding is not supported; send an uncompressed body",
        );
    }
    let max = service.config().max_body_bytes;
    let too_large = || scim_error(413, &format!("the request body is larger than {max} bytes"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return too_large();
    }
    // An error here is the length limit (or the client going away).
    let Ok(bytes) = axum::body::to_bytes(body, max).await else {
        return too_large();
    };
    let mut resp = call(state, service, &cred, op(bytes)).await;
    resp.extensions_mut().insert(BodyConsumed);
    resp
}

/// Handles a call without a body.
async fn handle(state: AppState, auth: Auth, op: Op) -> Response {
    let cred = match auth {
        Ok(a) => a.0,
        Err(e) => return e.into_scim_response(),
    };
    let Some(service) = state.inner().scim.service() else {
        return ApiError::unavailable("the SCIM service is not ready").into_scim_response();
    };
    call(state, service, &cred, op).await
}

/// Runs the call on the blocking pool; records its lifecycle event in the
/// ledger before answering.
async fn call(
    state: AppState,
    service: Arc<Service>,
    cred: &VerifiedCredential,
    op: Op,
) -> Response {
    // Writes hold the ledger from before the store write until their entry
    // is durable: no write starts once shutdown has taken the ledger, or
    // while the ledger is known to refuse appends.
    let ledger = if op.writes() {
        match state.ledger() {
            Some(l) if state.ready() => Some(l),
            _ => {
                return ApiError::unavailable("the ledger is not accepting changes")
                    .into_scim_response();
            }
        }
    } else {
        None
    };
    let resp = match tokio::task::spawn_blocking(move || op.run(&service)).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "SCIM task failed");
            return scim_error(500, "internal error; the server log has the details");
        }
    };
    // Offboarding stops access before anything else, the SCIM entry's
    // fsync included: the one-second bound starts with the IdP's call.
    let revoked = match &resp.event {
        Some(e) if e.offboards() && e.resource_type == ResourceKind::User => {
            match e.name.as_deref() {
                Some(user) => {
                    let actor = crate::tokens::actor_of(&state, cred);
                    match crate::tokens::revoke_principal(&state, user, &actor).await {
                        Ok(r) => Some(r),
                        Err(e) => return e.into_scim_response(),
                    }
                }
                None => None,
            }
        }
        _ => None,
    };
    if let (Some(event), Some(ledger)) = (&resp.event, ledger) {
        let name = crate::tokens::actor_of(&state, cred).name;
        let time_ms = crate::record::now_ms(&state);
        let entry = lifecycle_entry(event, cred.id(), name.as_deref(), time_ms);
        match crate::record::append_to(&state, &ledger, &[entry]).await {
            Ok(index) => {
                tracing::info!(
                    target: "custos::scim",
                    operation = operation(event),
                    resource = event.resource_type.name(),
                    id = %event.id,
                    offboards = event.offboards(),
                    index,
                    "SCIM change recorded in the ledger"
                );
                if let Err(resp) = follow_up(&state, cred, event, revoked).await {
                    return resp;
                }
            }
            Err(e) => {
                tracing::error!(
                    operation = operation(event),
                    resource = event.resource_type.name(),
                    id = %event.id,
                    version = event.version,
                    error = %e,
                    "SCIM change stored but its ledger entry could not be appended; \
                     the directory change stands without a ledger entry"
                );
                return ApiError::unavailable(
                    "the change could not be recorded in the ledger; retry later",
                )
                .into_scim_response();
            }
        }
    }
    respond(resp)
}

/// What a recorded SCIM change sets off: the directory is reloaded (token
/// subjects, grant groups); the offboarding of a User deactivated or
/// deleted — already done by `call` before the SCIM entry, so that its
/// tokens are refused as early as possible — is recorded in the ledger
/// before the SCIM response, so the identity provider's one call is the
/// whole offboarding; a reactivated User loses an administrator's
/// offboarding lock.
async fn follow_up(
    state: &AppState,
    cred: &VerifiedCredential,
    event: &LifecycleEvent,
    revoked: Option<crate::tokens::Revoked>,
) -> Result<(), Response> {
    let user_name = (event.resource_type == ResourceKind::User)
        .then_some(event.name.as_deref())
        .flatten();
    // Offboard before the directory forgets a deleted User, so that its
    // entries name it as staff (not as a pseudonymised customer).
    if let (Some(user_name), Some(revoked)) = (user_name, revoked) {
        let actor = crate::tokens::actor_of(state, cred);
        crate::tokens::record_offboarding(state, user_name, &actor, "scim", revoked)
            .await
            .map_err(ApiError::into_scim_response)?;
    }
    let st = state.clone();
    let reload =
        tokio::task::spawn_blocking(move || st.inner().tokens.directory.reload_staff()).await;
    if !matches!(reload, Ok(Ok(()))) {
        tracing::error!("reloading the directory after a SCIM change failed");
    }
    if let Some(user_name) = user_name
        && event.action == LifecycleAction::Reactivated
    {
        let st = state.clone();
        let name = user_name.to_owned();
        let at = u64::try_from(crate::record::now_ms(state)).unwrap_or(0);
        let _ =
            tokio::task::spawn_blocking(move || st.inner().tokens.directory.clear_lock(&name, at))
                .await;
    }
    Ok(())
}

/// The HTTP response of a [`ScimResponse`].
fn respond(r: ScimResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match &r.body {
        Some(body) => (status, serde_json::to_vec(body).unwrap_or_default()).into_response(),
        None => status.into_response(),
    };
    let h = resp.headers_mut();
    if r.body.is_some() {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(scim::CONTENT_TYPE),
        );
    }
    if let Some(v) = r
        .etag
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = r
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `custos.scim.{user|group}.{create|update|deactivate|reactivate|delete}`.
pub(crate) fn operation(e: &LifecycleEvent) -> &'static str {
    use LifecycleAction as A;
    match (e.resource_type, e.action) {
        (ResourceKind::User, A::Created) => "custos.scim.user.create",
        (ResourceKind::User, A::Updated) => "custos.scim.user.update",
        (ResourceKind::User, A::Deactivated) => "custos.scim.user.deactivate",
        (ResourceKind::User, A::Reactivated) => "custos.scim.user.reactivate",
        (ResourceKind::User, A::Deleted) => "custos.scim.user.delete",
        (ResourceKind::Group, A::Created) => "custos.scim.group.create",
        (ResourceKind::Group, A::Updated) => "custos.scim.group.update",
        (ResourceKind::Group, A::Deactivated) => "custos.scim.group.deactivate",
        (ResourceKind::Group, A::Reactivated) => "custos.scim.group.reactivate",
        (ResourceKind::Group, A::Deleted) => "custos.scim.group.delete",
    }
}

fn action_word(a: LifecycleAction) -> &'static str {
    match a {
        LifecycleAction::Created => "create",
        LifecycleAction::Updated => "update",
        LifecycleAction::Deactivated => "deactivate",
        LifecycleAction::Reactivated => "reactivate",
        LifecycleAction::Deleted => "delete",
    }
}

/// The lifecycle event as an OCSF 1.3.0 API Activity (6003) entry, like
/// the admin credential entries: actor = the SCIM credential, one resource
/// (the User or Group), `unmapped.custos` with attribute *names* only.
/// Members are in ascending order (serde_json's default map).
pub(crate) fn lifecycle_entry(
    e: &LifecycleEvent,
    credential: &str,
    credential_name: Option<&str>,
    time_ms: i64,
) -> Vec<u8> {
    // OCSF API Activity: 1 Create, 3 Update, 4 Delete.
    let activity_id: u32 = match e.action {
        LifecycleAction::Created => 1,
        LifecycleAction::Deleted => 4,
        _ => 3,
    };
    let kind = e.resource_type.name();
    let mut user = json!({ "type_id": 3, "uid": credential });
    if let (Some(n), Some(obj)) = (credential_name, user.as_object_mut()) {
        obj.insert("name".into(), Value::String(n.to_owned()));
    }
    let mut resource = json!({ "type": kind, "uid": e.id });
    if let (Some(n), Some(obj)) = (&e.name, resource.as_object_mut()) {
        obj.insert("name".into(), Value::String(n.clone()));
    }
    let mut custos = json!({
        "action": action_word(e.action),
        "changed": e.changed,
        "offboards": e.offboards(),
        "v": 1,
        "version": e.version,
    });
    if e.resource_type == ResourceKind::Group
        && let Some(obj) = custos.as_object_mut()
    {
        obj.insert("members_added".into(), e.members_added.len().into());
        obj.insert("members_removed".into(), e.members_removed.len().into());
    }
    let entry = json!({
        "activity_id": activity_id,
        "actor": { "user": user },
        "api": { "operation": operation(e), "service": { "name": "custos" } },
        "category_uid": 6,
        "class_uid": 6003,
        "metadata": {
            "log_name": SCIM_LOG_NAME,
            "product": { "name": "Custos", "vendor_name": "Custos" },
            "uid": format!("scim-{kind}-{}-v{}-{}", e.id, e.version, action_word(e.action)),
            "version": events::OCSF_VERSION,
        },
        "resources": [resource],
        "severity_id": 1,
        "src_endpoint": { "name": "scim" },
        "status_id": 1,
        "time": time_ms,
        "type_uid": 600_300 + activity_id,
        "unmapped": { "custos": custos },
    });
    serde_json::to_vec(&entry).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::{parse_query, route_of};

    #[test]
    fn scim_routes_are_a_closed_set() {
        assert_eq!(route_of("/scim/v2/Users"), "/scim/v2/Users");
        assert_eq!(route_of("/scim/v2/Users/abc"), "/scim/v2/Users/{id}");
        assert_eq!(
            route_of("/scim/v2/Groups/.search"),
            "/scim/v2/Groups/.search"
        );
        assert_eq!(
            route_of("/scim/v2/Schemas/urn:x:y"),
            "/scim/v2/Schemas/{id}"
        );
        assert_eq!(route_of("/scim/v2/Me"), "/scim/v2/Me");
        assert_eq!(route_of("/scim/v2/Mex"), "/scim/v2/other");
        assert_eq!(route_of("/scim/v2/../../etc"), "/scim/v2/other");
    }

    #[test]
    fn query_strings_decode() {
        let q = parse_query(Some("filter=userName+eq+%22a%40b%22&count=5&x")).unwrap();
        assert_eq!(
            q,
            vec![
                ("filter".into(), "userName eq \"a@b\"".into()),
                ("count".into(), "5".into()),
                ("x".into(), String::new()),
            ]
        );
        assert!(parse_query(Some("a=%zz")).is_none());
        assert!(parse_query(Some("a=%ff")).is_none());
        assert_eq!(parse_query(None).unwrap(), vec![]);
    }
}
