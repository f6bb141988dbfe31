//! The narrow storage trait behind [`crate::ScimService`], its contract, and
//! an in-memory implementation (with failure injection for tests).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use serde_json::{Map, Value};

use crate::eval::{matches, sort_cmp};
use crate::filter::{AttrPath, Filter};
use crate::schema::ResourceKind;

/// A stored resource.
///
/// Invariant kept by every store: `body["id"] == id` and
/// `body["meta"]["version"] == etag(version)`.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredResource {
    /// The service-provider id.
    pub id: String,
    /// Starts at 1, +1 on every replace.
    pub version: u64,
    /// The resource in canonical form, with `id` and `meta`.
    pub body: Map<String, Value>,
}

/// The weak ETag of a version: `W/"7"` (RFC 7644 §3.14).
pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// Why a store refused or failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No resource of that kind with that id.
    #[error("not found")]
    NotFound,
    /// Another resource of the kind already has the unique attribute
    /// (`userName` / `displayName`), compared case-insensitively.
    #[error("{attribute} is already taken")]
    Uniqueness {
        /// The attribute.
        attribute: &'static str,
    },
    /// The id is already in use (create).
    #[error("id already exists")]
    IdExists,
    /// The stored version is not the expected one.
    #[error("version mismatch: now at {current}")]
    VersionMismatch {
        /// The current version.
        current: u64,
    },
    /// The backend failed; the detail is for logs, never for clients.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// Sort order of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortSpec {
    /// The attribute.
    pub by: AttrPath,
    /// `sortOrder=descending`.
    pub descending: bool,
}

/// A list request, already validated by the service.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreQuery {
    /// Only resources matching this filter (already checked with
    /// [`crate::check_filter`]).
    pub filter: Option<Filter>,
    /// Sort order; without one, creation order.
    pub sort: Option<SortSpec>,
    /// 1-based index of the first resource to return (≥ 1).
    pub start_index: usize,
    /// Most resources to return (may be 0: count only).
    pub count: usize,
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// How many resources match in all.
    pub total_results: usize,
    /// Those from `start_index`, at most `count`.
    pub resources: Vec<StoredResource>,
}

/// Storage of SCIM resources.
///
/// Contract, for every implementation:
/// - **Atomic, linearisable operations.** Each call takes effect entirely
///   or not at all, at one instant between its start and its return; once
///   it returns `Ok`, later calls (from any thread, and after a restart for
///   durable stores) see its effect.
/// - **Uniqueness.** No two Users share a `userName`, no two Groups a
///   `displayName`, compared after Unicode lower-casing (RFC 7643 §4.1.1:
///   `caseExact` false). `create` and `replace` that would break this return
///   [`StoreError::Uniqueness`] and change nothing. A resource may keep its
///   own name in a `replace` (also with different case).
/// - **Versions.** `create` stores version 1; `replace` succeeds only if
///   the stored version equals `expected_version` and stores
///   `expected_version + 1`; `delete` with `Some(v)` only if the version is
///   `v`. Otherwise [`StoreError::VersionMismatch`] with the current
///   version. The store writes `id` and `meta.version` ([`etag`]) into the
///   body; it interprets nothing else but the unique attribute and, in
///   `list`, the filter and sort attributes.
/// - **Ids** are never reused while the resource exists; `create` with an id
///   in use returns [`StoreError::IdExists`].
/// - **Lists** return `total_results` = number of matches and the
///   `[start_index - 1, start_index - 1 + count)` window of the matches in
///   the requested order (ties and unsorted lists in creation order), with
///   filter semantics of [`crate::matches`] and order of [`crate::sort_cmp`].
/// - **Failures** other than the above are [`StoreError::Unavailable`],
///   after which the operation may or may not have happened only for
///   durable stores that say so; the in-memory store changes nothing.
pub trait ScimStore: Send + Sync {
    /// Stores a new resource as version 1.
    fn create(
        &self,
        kind: ResourceKind,
        id: &str,
        body: Map<String, Value>,
    ) -> Result<StoredResource, StoreError>;

    /// The resource, or `Ok(None)`.
    fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<StoredResource>, StoreError>;

    /// Replaces the whole body if the stored version is `expected_version`
    /// (compare-and-swap; PATCH is read, apply, replace).
    fn replace(
        &self,
        kind: ResourceKind,
        id: &str,
        expected_version: u64,
        body: Map<String, Value>,
    ) -> Result<StoredResource, StoreError>;

    /// Deletes the resource, returning what was stored.
    fn delete(
        &self,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<u64>,
    ) -> Result<StoredResource, StoreError>;

    /// A filtered, sorted page of resources.
    fn list(&self, kind: ResourceKind, query: &StoreQuery) -> Result<Page, StoreError>;
}

/// The unique key of a body: its `userName` / `displayName`, lower-cased.
pub fn unique_key(kind: ResourceKind, body: &Map<String, Value>) -> Option<String> {
    body.get(kind.unique_attr())
        .and_then(Value::as_str)
        .map(str::to_lowercase)
}

fn stamp(id: &str, version: u64, body: &mut Map<String, Value>) {
    body.insert("id".into(), Value::String(id.to_owned()));
    let meta = body
        .entry("meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Some(m) = meta.as_object_mut() {
        m.insert("version".into(), Value::String(etag(version)));
    }
}

#[derive(Default)]
struct Table {
    next_seq: u64,
    rows: HashMap<String, (u64, StoredResource)>,
    unique: HashMap<String, String>,
}

#[derive(Default)]
struct State {
    users: Table,
    groups: Table,
    fail: Option<StoreError>,
}

impl State {
    fn table(&mut self, kind: ResourceKind) -> &mut Table {
        match kind {
            ResourceKind::User => &mut self.users,
            ResourceKind::Group => &mut self.groups,
        }
    }
}

/// An in-memory [`ScimStore`]: one mutex, everything linearisable.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next call fail with `error` (and change nothing): for
    /// tests of the service's error paths.
    pub fn fail_next(&self, error: StoreError) {
        self.lock().fail = Some(error);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-done change:
        // every method validates before it mutates.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        let mut state = self.lock();
        match state.fail.take() {
            Some(e) => Err(e),
            None => Ok(state),
        }
    }
}

impl ScimStore for MemoryStore {
    fn create(
        &self,
        kind: ResourceKind,
        id: &str,
        mut body: Map<String, Value>,
    ) -> Result<StoredResource, StoreError> {
        let mut state = self.begin()?;
        let table = state.table(kind);
        if table.rows.contains_key(id) {
            return Err(StoreError::IdExists);
        }
        let key = unique_key(kind, &body);
        if let Some(k) = &key
            && table.unique.contains_key(k)
        {
            return Err(StoreError::Uniqueness {
                attribute: kind.unique_attr(),
            });
        }
        stamp(id, 1, &mut body);
        let stored = StoredResource {
            id: id.to_owned(),
            version: 1,
            body,
        };
        table.next_seq += 1;
        let seq = table.next_seq;
        if let Some(k) = key {
            table.unique.insert(k, id.to_owned());
        }
        table.rows.insert(id.to_owned(), (seq, stored.clone()));
        Ok(stored)
    }

    fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<StoredResource>, StoreError> {
        let mut state = self.begin()?;
        Ok(state.table(kind).rows.get(id).map(|(_, r)| r.clone()))
    }

    fn replace(
        &self,
        kind: ResourceKind,
        id: &str,
        expected_version: u64,
        mut body: Map<String, Value>,
    ) -> Result<StoredResource, StoreError> {
        let mut state = self.begin()?;
        let table = state.table(kind);
        let Some((seq, current)) = table.rows.get(id) else {
            return Err(StoreError::NotFound);
        };
        let seq = *seq;
        if current.version != expected_version {
            return Err(StoreError::VersionMismatch {
                current: current.version,
            });
        }
        let old_key = unique_key(kind, &current.body);
        let new_key = unique_key(kind, &body);
        if let Some(k) = &new_key
            && table.unique.get(k).is_some_and(|owner| owner != id)
        {
            return Err(StoreError::Uniqueness {
                attribute: kind.unique_attr(),
            });
        }
        let version = expected_version.saturating_add(1);
        stamp(id, version, &mut body);
        let stored = StoredResource {
            id: id.to_owned(),
            version,
            body,
        };
        if let Some(k) = old_key {
            table.unique.remove(&k);
        }
        if let Some(k) = new_key {
            table.unique.insert(k, id.to_owned());
        }
        table.rows.insert(id.to_owned(), (seq, stored.clone()));
        Ok(stored)
    }

    fn delete(
        &self,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<u64>,
    ) -> Result<StoredResource, StoreError> {
        let mut state = self.begin()?;
        let table = state.table(kind);
        let Some((_, current)) = table.rows.get(id) else {
            return Err(StoreError::NotFound);
        };
        if let Some(v) = expected_version
            && current.version != v
        {
            return Err(StoreError::VersionMismatch {
                current: current.version,
            });
        }
        let (_, removed) = table.rows.remove(id).ok_or(StoreError::NotFound)?;
        if let Some(k) = unique_key(kind, &removed.body) {
            table.unique.remove(&k);
        }
        Ok(removed)
    }

    fn list(&self, kind: ResourceKind, query: &StoreQuery) -> Result<Page, StoreError> {
        let mut state = self.begin()?;
        let table = state.table(kind);
        let mut hits: Vec<(u64, Value, &StoredResource)> = table
            .rows
            .values()
            .map(|(seq, r)| (*seq, Value::Object(r.body.clone()), r))
            .filter(|(_, json, _)| query.filter.as_ref().is_none_or(|f| matches(kind, f, json)))
            .collect();
        hits.sort_by_key(|(seq, _, _)| *seq);
        if let Some(sort) = &query.sort {
            // Stable: ties keep creation order.
            hits.sort_by(|(_, a, _), (_, b, _)| {
                let ord = sort_cmp(kind, &sort.by, a, b);
                if sort.descending { ord.reverse() } else { ord }
            });
        }
        let total_results = hits.len();
        let resources = hits
            .into_iter()
            .skip(query.start_index.saturating_sub(1))
            .take(query.count)
            .map(|(_, _, r)| r.clone())
            .collect();
        Ok(Page {
            total_results,
            resources,
        })
    }
}
