//! [`ScimService`]: the RFC 7644 semantics of each endpoint over a
//! [`ScimStore`]. Each method maps to one route under `/scim/v2` and returns
//! a [`ScimResponse`] (status, JSON body, ETag, Location) plus, for
//! successful writes, the [`LifecycleEvent`] to record.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::discovery::{ALL_SCHEMAS, resource_type_json, schema_json, service_provider_config};
use crate::error::ScimError;
use crate::event::{LifecycleAction, LifecycleEvent};
use crate::filter::{AttrPath, Filter};
use crate::patch::{apply_patch, parse_patch};
use crate::query::{ListParams, Projection, parse_list_params, parse_search};
use crate::schema::{LIST_RESPONSE_SCHEMA, ResourceKind};
use crate::store::{ScimStore, StoreError, StoreQuery, StoredResource, etag};
use crate::time;
use crate::validate::{check_resource, normalize, set_schemas};

/// The media type of every SCIM body (RFC 7644 §8.1).
pub const CONTENT_TYPE: &str = "application/scim+json";

/// How many times a write retries after a concurrent change when the client
/// sent no `If-Match`.
const RETRIES: usize = 3;

/// Settings of a [`ScimService`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Absolute base URL of the SCIM endpoints, without trailing slash, e.g.
    /// `https://custos.example/scim/v2`; used in `meta.location` and `$ref`.
    pub base_url: String,
    /// Largest page (`count` is capped to it; also `filter.maxResults`).
    pub max_results: usize,
    /// Largest request body accepted, in bytes (larger: 413).
    pub max_body_bytes: usize,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            base_url: "http://localhost/scim/v2".into(),
            max_results: 200,
            max_body_bytes: 1 << 20,
        }
    }
}

/// What an endpoint answers.
#[derive(Clone, Debug, PartialEq)]
pub struct ScimResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body (`None` for 204 and 304), served as [`CONTENT_TYPE`].
    pub body: Option<Value>,
    /// `ETag` header, for single resources.
    pub etag: Option<String>,
    /// `Location` header, for 201.
    pub location: Option<String>,
    /// For successful writes: what to record in the ledger.
    pub event: Option<LifecycleEvent>,
}

impl ScimResponse {
    fn ok(status: u16, body: Value) -> Self {
        ScimResponse {
            status,
            body: Some(body),
            etag: None,
            location: None,
            event: None,
        }
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl From<ScimError> for ScimResponse {
    fn from(e: ScimError) -> Self {
        ScimResponse::ok(e.status, e.to_json())
    }
}

fn store_error(kind: ResourceKind, id: &str, e: StoreError) -> ScimError {
    match e {
        StoreError::NotFound => ScimError::not_found(format!("{} {id} not found", kind.name())),
        StoreError::Uniqueness { attribute } => ScimError::uniqueness(format!(
            "{attribute} is already in use by another {}",
            kind.name()
        )),
        StoreError::VersionMismatch { .. } => ScimError::status(
            412,
            "the resource changed: its version no longer matches If-Match",
        ),
        StoreError::IdExists => ScimError::status(500, "internal error"),
        StoreError::Unavailable(_) => ScimError::status(503, "the SCIM store is unavailable"),
    }
}

/// Parses an `If-Match` / `If-None-Match` header: `*`, or a list of (weak
/// or strong) ETags. Whether `version` is among them.
fn etag_matches(header: &str, version: u64) -> bool {
    header.split(',').map(str::trim).any(|tag| {
        tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == version.to_string()
    })
}

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;
type IdGen = Arc<dyn Fn() -> String + Send + Sync>;

/// The SCIM service over a store.
pub struct ScimService<S> {
    store: S,
    config: ServiceConfig,
    clock: Clock,
    ids: IdGen,
}

/// A random UUID (version 4) from the OS generator.
fn random_id() -> String {
    use rand_core::RngCore;
    let mut b = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let part = |r: std::ops::Range<usize>| hex.get(r).unwrap_or_default().to_owned();
    format!(
        "{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    )
}

impl<S: ScimStore> ScimService<S> {
    /// A service with the system clock and random UUID ids.
    pub fn new(store: S, config: ServiceConfig) -> Self {
        ScimService {
            store,
            config,
            clock: Arc::new(SystemTime::now),
            ids: Arc::new(random_id),
        }
    }

    /// Replaces the clock (for tests and deterministic replays).
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Replaces the id generator (ids must be unique and URL-safe).
    pub fn with_ids(mut self, ids: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.ids = Arc::new(ids);
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    fn location(&self, kind: ResourceKind, id: &str) -> String {
        format!("{}{}/{id}", self.config.base_url, kind.endpoint())
    }

    fn parse_body(&self, body: &[u8]) -> Result<Value, ScimError> {
        if body.len() > self.config.max_body_bytes {
            return Err(ScimError::status(
                413,
                format!(
                    "the body is larger than {} bytes",
                    self.config.max_body_bytes
                ),
            ));
        }
        serde_json::from_slice(body)
            .map_err(|e| ScimError::invalid_syntax("", format!("not valid JSON: {e}")))
    }

    fn now(&self) -> String {
        time::format((self.clock)())
    }

    /// Checks and completes group members: each `value` must be the id of
    /// an existing User or Group (not the group itself); `type`, `$ref` and
    /// `display` are filled in.
    fn resolve_members(
        &self,
        self_id: &str,
        body: &mut Map<String, Value>,
    ) -> Result<(), ScimError> {
        let Some(Value::Array(members)) = body.get_mut("members") else {
            return Ok(());
        };
        for (i, m) in members.iter_mut().enumerate() {
            let Some(obj) = m.as_object_mut() else {
                continue;
            };
            let at = format!("members[{i}].value");
            let Some(id) = obj.get("value").and_then(Value::as_str).map(str::to_owned) else {
                return Err(ScimError::invalid_value(&at, "is required"));
            };
            let wanted = obj
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase);
            let mut found = None;
            for kind in [ResourceKind::User, ResourceKind::Group] {
                if wanted
                    .as_deref()
                    .is_some_and(|w| w != kind.name().to_ascii_lowercase())
                {
                    continue;
                }
                if kind == ResourceKind::Group && id == self_id {
                    return Err(ScimError::invalid_value(
                        &at,
                        "a group cannot contain itself",
                    ));
                }
                if let Some(r) = self
                    .store
                    .get(kind, &id)
                    .map_err(|e| store_error(kind, &id, e))?
                {
                    found = Some((kind, r));
                    break;
                }
            }
            let Some((kind, r)) = found else {
                return Err(ScimError::invalid_value(
                    &at,
                    format!("no User or Group with id `{id}`"),
                ));
            };
            let display = match kind {
                ResourceKind::User => r.body.get("displayName").or_else(|| r.body.get("userName")),
                ResourceKind::Group => r.body.get("displayName"),
            };
            if let Some(d) = display {
                obj.insert("display".into(), d.clone());
            }
            obj.insert("type".into(), Value::String(kind.name().into()));
            obj.insert("$ref".into(), Value::String(self.location(kind, &id)));
        }
        Ok(())
    }

    /// The groups a user is a direct member of, as `User.groups` values.
    fn groups_of(&self, user_id: &str) -> Result<Vec<Value>, ScimError> {
        let page = self
            .store
            .list(
                ResourceKind::Group,
                &StoreQuery {
                    filter: Some(member_filter(user_id)),
                    sort: None,
                    start_index: 1,
                    count: usize::MAX,
                },
            )
            .map_err(|e| store_error(ResourceKind::Group, user_id, e))?;
        Ok(page
            .resources
            .iter()
            .map(|g| {
                json!({
                    "value": g.id,
                    "$ref": self.location(ResourceKind::Group, &g.id),
                    "display": g.body.get("displayName").cloned().unwrap_or(Value::Null),
                    "type": "direct",
                })
            })
            .collect())
    }

    /// The resource as returned to clients: computed `groups`, projection.
    fn render(
        &self,
        kind: ResourceKind,
        r: &StoredResource,
        projection: &Projection,
    ) -> Result<Value, ScimError> {
        let mut body = r.body.clone();
        if kind == ResourceKind::User {
            let groups = self.groups_of(&r.id)?;
            if !groups.is_empty() {
                body.insert("groups".into(), Value::Array(groups));
            }
        }
        Ok(Value::Object(projection.apply(kind, &body)))
    }

    fn single(
        &self,
        status: u16,
        kind: ResourceKind,
        r: &StoredResource,
        projection: &Projection,
        event: Option<LifecycleEvent>,
    ) -> Result<ScimResponse, ScimError> {
        Ok(ScimResponse {
            status,
            body: Some(self.render(kind, r, projection)?),
            etag: Some(etag(r.version)),
            location: (status == 201).then(|| self.location(kind, &r.id)),
            event,
        })
    }

    /// `POST /Users`, `POST /Groups` (RFC 7644 §3.3): 201 with the resource,
    /// `Location` and `ETag`; 409 `uniqueness`; 400 with the JSON path of
    /// bad input.
    pub fn create(&self, kind: ResourceKind, body: &[u8]) -> ScimResponse {
        self.try_create(kind, body).unwrap_or_else(Into::into)
    }

    fn try_create(&self, kind: ResourceKind, body: &[u8]) -> Result<ScimResponse, ScimError> {
        let input = self.parse_body(body)?;
        let mut res = normalize(kind, &input)?;
        check_resource(kind, &res)?;
        let id = (self.ids)();
        if kind == ResourceKind::Group {
            self.resolve_members(&id, &mut res)?;
        }
        let now = self.now();
        res.insert(
            "meta".into(),
            json!({
                "resourceType": kind.name(),
                "created": now,
                "lastModified": now,
                "location": self.location(kind, &id),
            }),
        );
        let stored = self
            .store
            .create(kind, &id, res)
            .map_err(|e| store_error(kind, &id, e))?;
        let event = LifecycleEvent::new(
            LifecycleAction::Created,
            kind,
            &id,
            stored.version,
            None,
            &stored.body,
        );
        self.single(201, kind, &stored, &Projection::default(), Some(event))
    }

    /// `GET /Users/{id}` (RFC 7644 §3.4.1), with `attributes` /
    /// `excludedAttributes` in `query`; 304 without body when
    /// `If-None-Match` names the current version.
    pub fn get<K: AsRef<str>, V: AsRef<str>>(
        &self,
        kind: ResourceKind,
        id: &str,
        query: &[(K, V)],
        if_none_match: Option<&str>,
    ) -> ScimResponse {
        let run = || -> Result<ScimResponse, ScimError> {
            let params = parse_list_params(kind, query, self.config.max_results)?;
            let r = self.fetch(kind, id)?;
            if if_none_match.is_some_and(|h| etag_matches(h, r.version)) {
                return Ok(ScimResponse {
                    status: 304,
                    body: None,
                    etag: Some(etag(r.version)),
                    location: None,
                    event: None,
                });
            }
            self.single(200, kind, &r, &params.projection, None)
        };
        run().unwrap_or_else(Into::into)
    }

    fn fetch(&self, kind: ResourceKind, id: &str) -> Result<StoredResource, ScimError> {
        self.store
            .get(kind, id)
            .map_err(|e| store_error(kind, id, e))?
            .ok_or_else(|| store_error(kind, id, StoreError::NotFound))
    }

    /// Reads, changes (with `change`), and compare-and-swaps back; retries
    /// after a concurrent change unless the client pinned a version with
    /// `If-Match` (then 412).
    fn update(
        &self,
        kind: ResourceKind,
        id: &str,
        if_match: Option<&str>,
        change: impl Fn(&Map<String, Value>) -> Result<Map<String, Value>, ScimError>,
    ) -> Result<ScimResponse, ScimError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.fetch(kind, id)?;
            if if_match.is_some_and(|h| !etag_matches(h, current.version)) {
                return Err(ScimError::status(
                    412,
                    format!(
                        "If-Match does not match the current version {}",
                        etag(current.version)
                    ),
                ));
            }
            let mut new = change(&current.body)?;
            set_schemas(kind, &mut new);
            check_resource(kind, &new)?;
            if kind == ResourceKind::Group && new.get("members") != current.body.get("members") {
                self.resolve_members(id, &mut new)?;
            }
            // Keep what the client cannot set.
            new.insert("id".into(), Value::String(id.to_owned()));
            let mut meta = current
                .body
                .get("meta")
                .cloned()
                .unwrap_or_else(|| json!({}));
            new.insert("meta".into(), meta.clone());
            if new == current.body {
                // Nothing changed: no new version, no event.
                return self.single(200, kind, &current, &Projection::default(), None);
            }
            if let Some(m) = meta.as_object_mut() {
                m.insert("lastModified".into(), Value::String(self.now()));
            }
            new.insert("meta".into(), meta);
            match self.store.replace(kind, id, current.version, new) {
                Ok(stored) => {
                    let action = activity(&current.body, &stored.body);
                    let event = LifecycleEvent::new(
                        action,
                        kind,
                        id,
                        stored.version,
                        Some(&current.body),
                        &stored.body,
                    );
                    return self.single(200, kind, &stored, &Projection::default(), Some(event));
                }
                Err(StoreError::VersionMismatch { .. })
                    if if_match.is_none() && attempt < RETRIES => {}
                Err(e) => return Err(store_error(kind, id, e)),
            }
        }
    }

    /// `PUT /Users/{id}` (RFC 7644 §3.5.1): replaces every writable
    /// attribute; readOnly ones in the body are ignored. 200, 404, 409, 412.
    pub fn replace(
        &self,
        kind: ResourceKind,
        id: &str,
        body: &[u8],
        if_match: Option<&str>,
    ) -> ScimResponse {
        let run = || -> Result<ScimResponse, ScimError> {
            let input = self.parse_body(body)?;
            let res = normalize(kind, &input)?;
            self.update(kind, id, if_match, |_| Ok(res.clone()))
        };
        run().unwrap_or_else(Into::into)
    }

    /// `PATCH /Users/{id}` (RFC 7644 §3.5.2): 200 with the resource (also
    /// when nothing changed, then without event). All operations or none.
    pub fn patch(
        &self,
        kind: ResourceKind,
        id: &str,
        body: &[u8],
        if_match: Option<&str>,
    ) -> ScimResponse {
        let run = || -> Result<ScimResponse, ScimError> {
            let input = self.parse_body(body)?;
            let ops = parse_patch(&input)?;
            self.update(kind, id, if_match, |current| {
                let mut work = current.clone();
                apply_patch(kind, &mut work, &ops)?;
                Ok(work)
            })
        };
        run().unwrap_or_else(Into::into)
    }

    /// `DELETE /Users/{id}` (RFC 7644 §3.6): 204. Deleting a User also
    /// removes it from every Group. The event of a User delete offboards.
    pub fn delete(&self, kind: ResourceKind, id: &str, if_match: Option<&str>) -> ScimResponse {
        let run = || -> Result<ScimResponse, ScimError> {
            let current = self.fetch(kind, id)?;
            if if_match.is_some_and(|h| !etag_matches(h, current.version)) {
                return Err(ScimError::status(
                    412,
                    "If-Match does not match the current version",
                ));
            }
            let removed = self
                .store
                .delete(kind, id, if_match.map(|_| current.version))
                .map_err(|e| store_error(kind, id, e))?;
            // Memberships of the deleted resource go too.
            let page = self
                .store
                .list(
                    ResourceKind::Group,
                    &StoreQuery {
                        filter: Some(member_filter(id)),
                        sort: None,
                        start_index: 1,
                        count: usize::MAX,
                    },
                )
                .map_err(|e| store_error(ResourceKind::Group, id, e))?;
            for g in page.resources {
                let id = id.to_owned();
                self.update(ResourceKind::Group, &g.id, None, move |body| {
                    let mut body = body.clone();
                    if let Some(Value::Array(ms)) = body.get_mut("members") {
                        ms.retain(|m| m.get("value").and_then(Value::as_str) != Some(&id));
                        if ms.is_empty() {
                            body.remove("members");
                        }
                    }
                    Ok(body)
                })?;
            }
            let event = LifecycleEvent::new(
                LifecycleAction::Deleted,
                kind,
                id,
                removed.version,
                None,
                &removed.body,
            );
            Ok(ScimResponse {
                status: 204,
                body: None,
                etag: None,
                location: None,
                event: Some(event),
            })
        };
        run().unwrap_or_else(Into::into)
    }

    /// `GET /Users?filter=…&startIndex=…&count=…&sortBy=…&sortOrder=…&attributes=…`
    /// (RFC 7644 §3.4.2): a ListResponse.
    pub fn list<K: AsRef<str>, V: AsRef<str>>(
        &self,
        kind: ResourceKind,
        query: &[(K, V)],
    ) -> ScimResponse {
        parse_list_params(kind, query, self.config.max_results)
            .and_then(|p| self.run_list(kind, &p))
            .unwrap_or_else(Into::into)
    }

    /// `POST /Users/.search` (RFC 7644 §3.4.3): a SearchRequest body.
    pub fn search(&self, kind: ResourceKind, body: &[u8]) -> ScimResponse {
        self.parse_body(body)
            .and_then(|v| parse_search(kind, &v, self.config.max_results))
            .and_then(|p| self.run_list(kind, &p))
            .unwrap_or_else(Into::into)
    }

    fn run_list(&self, kind: ResourceKind, p: &ListParams) -> Result<ScimResponse, ScimError> {
        let page = self
            .store
            .list(
                kind,
                &StoreQuery {
                    filter: p.filter.clone(),
                    sort: p.sort.clone(),
                    start_index: p.start_index,
                    count: p.count,
                },
            )
            .map_err(|e| store_error(kind, "", e))?;
        let resources = page
            .resources
            .iter()
            .map(|r| self.render(kind, r, &p.projection))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ScimResponse::ok(
            200,
            json!({
                "schemas": [LIST_RESPONSE_SCHEMA],
                "totalResults": page.total_results,
                "startIndex": p.start_index,
                "itemsPerPage": resources.len(),
                "Resources": resources,
            }),
        ))
    }

    /// An RFC 7644 endpoint Custos does not serve: 501 with a SCIM error
    /// body (RFC 7644 §3.12: 501 "Service provider does not support the
    /// request operation"), so a client can tell "not supported" from "no
    /// such resource" (404). See [`Unimplemented`] for why each is absent.
    pub fn not_implemented(&self, endpoint: Unimplemented) -> ScimResponse {
        ScimError::status(501, endpoint.detail()).into()
    }

    /// `GET /ServiceProviderConfig`.
    pub fn service_provider_config(&self) -> ScimResponse {
        ScimResponse::ok(
            200,
            service_provider_config(&self.config.base_url, self.config.max_results),
        )
    }

    /// `GET /Schemas`: a ListResponse of the four schemas.
    pub fn schemas(&self) -> ScimResponse {
        let all: Vec<Value> = ALL_SCHEMAS
            .iter()
            .map(|s| schema_json(&self.config.base_url, s))
            .collect();
        ScimResponse::ok(200, list_of(all))
    }

    /// `GET /Schemas/{urn}`.
    pub fn schema(&self, id: &str) -> ScimResponse {
        match ALL_SCHEMAS.iter().find(|s| s.id.eq_ignore_ascii_case(id)) {
            Some(s) => ScimResponse::ok(200, schema_json(&self.config.base_url, s)),
            None => ScimError::not_found(format!("no schema {id}")).into(),
        }
    }

    /// `GET /ResourceTypes`.
    pub fn resource_types(&self) -> ScimResponse {
        let all = [ResourceKind::User, ResourceKind::Group]
            .into_iter()
            .map(|k| resource_type_json(&self.config.base_url, k))
            .collect();
        ScimResponse::ok(200, list_of(all))
    }

    /// `GET /ResourceTypes/{name}`.
    pub fn resource_type(&self, name: &str) -> ScimResponse {
        match [ResourceKind::User, ResourceKind::Group]
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
        {
            Some(k) => ScimResponse::ok(200, resource_type_json(&self.config.base_url, k)),
            None => ScimError::not_found(format!("no resource type {name}")).into(),
        }
    }
}

/// The RFC 7644 endpoints Custos answers with 501 Not Implemented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unimplemented {
    /// `POST /.search` at the server root: a query over every resource
    /// type at once, optional ("Queries MAY be performed against … a SCIM
    /// server root", RFC 7644 §3.4.2.1; POST form §3.4.3). Okta and Entra ID
    /// search `/Users` and `/Groups` only.
    RootSearch,
    /// `/Me`, the authenticated subject's own resource: RFC 7644 §3.11
    /// names 501 (Not Implemented) as the answer of a service provider that
    /// does not support it. Custos' SCIM callers are IdP credentials, never
    /// a User.
    Me,
    /// `POST /Bulk` (RFC 7644 §3.7): `bulk.supported` is false in
    /// `/ServiceProviderConfig`.
    Bulk,
}

impl Unimplemented {
    fn detail(self) -> &'static str {
        match self {
            Unimplemented::RootSearch => {
                "searching every resource type at once (POST /.search at the root) is not \
                 supported; search /Users/.search or /Groups/.search"
            }
            Unimplemented::Me => "/Me is not supported: SCIM callers here are not Users",
            Unimplemented::Bulk => "bulk operations are not supported (see /ServiceProviderConfig)",
        }
    }
}

fn list_of(items: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}

/// `members[value eq "id"]`.
fn member_filter(id: &str) -> Filter {
    Filter::ValuePath {
        path: AttrPath::new("members"),
        filter: Box::new(Filter::eq_str(AttrPath::new("value"), id)),
    }
}

/// Deactivated / Reactivated / Updated, from `active` before and after.
fn activity(old: &Map<String, Value>, new: &Map<String, Value>) -> LifecycleAction {
    let active = |b: &Map<String, Value>| b.get("active").and_then(Value::as_bool).unwrap_or(true);
    match (active(old), active(new)) {
        (true, false) => LifecycleAction::Deactivated,
        (false, true) => LifecycleAction::Reactivated,
        _ => LifecycleAction::Updated,
    }
}
