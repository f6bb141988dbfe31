//! [`scim::ScimStore`] in SQLite (table `scim_resource`).
//!
//! Every write is one `BEGIN IMMEDIATE` transaction: it takes the write
//! lock first, then checks the id, the version and the unique key, then
//! writes — so two connections (threads or processes) can never both pass
//! a check that only one may pass. A `UNIQUE (kind, unique_key)` index
//! backs the uniqueness rule in the database itself, so even a bug here
//! (or another writer) cannot store two Users with one `userName`.
//!
//! Lists are evaluated here, not in SQL: rows are read in creation order
//! and tested with [`scim::matches`], sorted with [`scim::sort_cmp`], so the
//! semantics are exactly those of [`scim::MemoryStore`]. Without a filter
//! or sort, SQL does the counting and the paging; with a filter, every row
//! of the kind is read and parsed (only the page is kept); with a sort,
//! every match is held in memory. That is fine for a directory of tens of
//! thousands of principals, and it is the scaling limit: pushing filters
//! into SQL (JSON indexes) is work for the PostgreSQL backend
//! (`docs/store.md`).

use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use scim::{
    Page, ResourceKind, ScimStore, StoreError, StoreQuery, StoredResource, etag, matches, sort_cmp,
    unique_key,
};
use serde_json::{Map, Value};

use crate::db::{Database, OpenError};

fn unavailable(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {what}: {e}"))
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // An open rusqlite Transaction rolls back when dropped, so a panic
    // while holding the lock leaves nothing half done.
    conn.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes `id` and `meta.version` into the body: the invariant every
/// [`ScimStore`] keeps (`body["id"] == id`, `body["meta"]["version"] ==
/// etag(version)`), written the way [`scim::MemoryStore`] writes it.
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

fn version_of(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| unavailable("version", "negative value in database"))
}

fn parse_body(text: &str) -> Result<Map<String, Value>, StoreError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(unavailable("body", "not a JSON object")),
        Err(e) => Err(unavailable("body", e)),
    }
}

fn encode(body: &Map<String, Value>) -> Result<String, StoreError> {
    serde_json::to_string(body).map_err(|e| unavailable("encode body", e))
}

/// [`ScimStore`] in the metadata database.
///
/// A call that returns `Ok` has committed and fsynced (see [`Database`]).
/// A call that returns [`StoreError::Unavailable`] from `create`,
/// `replace` or `delete` may or may not have taken effect (the commit's
/// fsync may fail after the write reached the file); the service then
/// answers 503 and the identity provider retries, which the version and
/// uniqueness checks make safe. Refusals (`NotFound`, `Uniqueness`,
/// `IdExists`, `VersionMismatch`) never change anything.
#[derive(Debug)]
pub struct SqliteScimStore {
    conn: Mutex<Connection>,
}

impl SqliteScimStore {
    /// A store on its own connection to `db`.
    pub fn new(db: &Database) -> Result<Self, OpenError> {
        Ok(Self {
            conn: Mutex::new(db.connect()?),
        })
    }
}

/// `(version, body text)` of a stored resource, inside a transaction.
fn current(
    tx: &Transaction<'_>,
    kind: ResourceKind,
    id: &str,
) -> Result<Option<(u64, String)>, StoreError> {
    tx.query_row(
        "SELECT version, body FROM scim_resource WHERE kind = ?1 AND id = ?2",
        params![kind.name(), id],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
    )
    .optional()
    .map_err(|e| unavailable("select", e))?
    .map(|(v, body)| Ok((version_of(v)?, body)))
    .transpose()
}

/// Whether a resource other than `except` holds `key`.
fn key_taken(
    tx: &Transaction<'_>,
    kind: ResourceKind,
    key: &str,
    except: Option<&str>,
) -> Result<bool, StoreError> {
    let owner: Option<String> = tx
        .query_row(
            "SELECT id FROM scim_resource WHERE kind = ?1 AND unique_key = ?2",
            params![kind.name(), key],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| unavailable("select", e))?;
    Ok(owner.is_some_and(|o| Some(o.as_str()) != except))
}

/// Maps a constraint violation that slipped past the explicit checks (it
/// cannot, under `BEGIN IMMEDIATE`; the index is the second line).
fn write_error(kind: ResourceKind, e: rusqlite::Error) -> StoreError {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) {
        let text = e.to_string();
        if text.contains("unique_key") {
            return StoreError::Uniqueness {
                attribute: kind.unique_attr(),
            };
        }
        if text.contains("scim_resource.id") {
            return StoreError::IdExists;
        }
    }
    unavailable("write", e)
}

impl ScimStore for SqliteScimStore {
    fn create(
        &self,
        kind: ResourceKind,
        id: &str,
        mut body: Map<String, Value>,
    ) -> Result<StoredResource, StoreError> {
        let key = unique_key(kind, &body);
        stamp(id, 1, &mut body);
        let text = encode(&body)?;
        let mut conn = lock(&self.conn);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| unavailable("begin", e))?;
        // The same order of checks as MemoryStore: id, then name.
        if current(&tx, kind, id)?.is_some() {
            return Err(StoreError::IdExists);
        }
        if let Some(k) = &key
            && key_taken(&tx, kind, k, None)?
        {
            return Err(StoreError::Uniqueness {
                attribute: kind.unique_attr(),
            });
        }
        tx.execute(
            "INSERT INTO scim_resource (kind, id, version, unique_key, body)
             VALUES (?1, ?2, 1, ?3, ?4)",
            params![kind.name(), id, key, text],
        )
        .map_err(|e| write_error(kind, e))?;
        tx.commit().map_err(|e| unavailable("commit", e))?;
        Ok(StoredResource {
            id: id.to_owned(),
            version: 1,
            body,
        })
    }

    fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<StoredResource>, StoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn
            .prepare_cached("SELECT version, body FROM scim_resource WHERE kind = ?1 AND id = ?2")
            .map_err(|e| unavailable("prepare", e))?;
        let row = stmt
            .query_row(params![kind.name(), id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .optional()
            .map_err(|e| unavailable("select", e))?;
        row.map(|(v, body)| {
            Ok(StoredResource {
                id: id.to_owned(),
                version: version_of(v)?,
                body: parse_body(&body)?,
            })
        })
        .transpose()
    }

    fn replace(
        &self,
        kind: ResourceKind,
        id: &str,
        expected_version: u64,
        mut body: Map<String, Value>,
    ) -> Result<StoredResource, StoreError> {
        let new_key = unique_key(kind, &body);
        let version = expected_version.saturating_add(1);
        let stored_version =
            i64::try_from(version).map_err(|_| unavailable("version", "above i64::MAX"))?;
        stamp(id, version, &mut body);
        let text = encode(&body)?;
        let mut conn = lock(&self.conn);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| unavailable("begin", e))?;
        let Some((now, _)) = current(&tx, kind, id)? else {
            return Err(StoreError::NotFound);
        };
        if now != expected_version {
            return Err(StoreError::VersionMismatch { current: now });
        }
        if let Some(k) = &new_key
            && key_taken(&tx, kind, k, Some(id))?
        {
            return Err(StoreError::Uniqueness {
                attribute: kind.unique_attr(),
            });
        }
        let n = tx
            .execute(
                "UPDATE scim_resource SET version = ?3, unique_key = ?4, body = ?5
                 WHERE kind = ?1 AND id = ?2",
                params![kind.name(), id, stored_version, new_key, text],
            )
            .map_err(|e| write_error(kind, e))?;
        if n != 1 {
            return Err(unavailable("update", format!("{n} rows changed")));
        }
        tx.commit().map_err(|e| unavailable("commit", e))?;
        Ok(StoredResource {
            id: id.to_owned(),
            version,
            body,
        })
    }

    fn delete(
        &self,
        kind: ResourceKind,
        id: &str,
        expected_version: Option<u64>,
    ) -> Result<StoredResource, StoreError> {
        let mut conn = lock(&self.conn);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| unavailable("begin", e))?;
        let Some((now, body)) = current(&tx, kind, id)? else {
            return Err(StoreError::NotFound);
        };
        if let Some(v) = expected_version
            && now != v
        {
            return Err(StoreError::VersionMismatch { current: now });
        }
        let body = parse_body(&body)?;
        tx.execute(
            "DELETE FROM scim_resource WHERE kind = ?1 AND id = ?2",
            params![kind.name(), id],
        )
        .map_err(|e| unavailable("delete", e))?;
        tx.commit().map_err(|e| unavailable("commit", e))?;
        Ok(StoredResource {
            id: id.to_owned(),
            version: now,
            body,
        })
    }

    fn list(&self, kind: ResourceKind, query: &StoreQuery) -> Result<Page, StoreError> {
        let skip = query.start_index.saturating_sub(1);
        let mut conn = lock(&self.conn);
        // One read transaction: the count and the page see one snapshot.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| unavailable("begin", e))?;
        let page = if query.filter.is_none() && query.sort.is_none() {
            list_plain(&tx, kind, skip, query.count)?
        } else {
            list_evaluated(&tx, kind, query, skip)?
        };
        tx.commit().map_err(|e| unavailable("end read", e))?;
        Ok(page)
    }
}

/// Unfiltered, unsorted: count and page in SQL, creation order.
fn list_plain(
    tx: &Transaction<'_>,
    kind: ResourceKind,
    skip: usize,
    count: usize,
) -> Result<Page, StoreError> {
    let total: i64 = tx
        .query_row(
            "SELECT count(*) FROM scim_resource WHERE kind = ?1",
            [kind.name()],
            |r| r.get(0),
        )
        .map_err(|e| unavailable("count", e))?;
    let total_results =
        usize::try_from(total).map_err(|_| unavailable("count", "negative count"))?;
    let mut resources = Vec::new();
    if count > 0 && skip < total_results {
        let offset = i64::try_from(skip).unwrap_or(i64::MAX);
        let limit = i64::try_from(count).unwrap_or(i64::MAX);
        let mut stmt = tx
            .prepare_cached(
                "SELECT id, version, body FROM scim_resource WHERE kind = ?1
                 ORDER BY seq LIMIT ?2 OFFSET ?3",
            )
            .map_err(|e| unavailable("prepare", e))?;
        let mut rows = stmt
            .query(params![kind.name(), limit, offset])
            .map_err(|e| unavailable("select", e))?;
        while let Some(row) = rows.next().map_err(|e| unavailable("select", e))? {
            let id: String = row.get(0).map_err(|e| unavailable("select", e))?;
            let v: i64 = row.get(1).map_err(|e| unavailable("select", e))?;
            let body: String = row.get(2).map_err(|e| unavailable("select", e))?;
            resources.push(StoredResource {
                id,
                version: version_of(v)?,
                body: parse_body(&body)?,
            });
        }
    }
    Ok(Page {
        total_results,
        resources,
    })
}

/// Filtered and/or sorted: evaluated with `scim`'s own functions.
fn list_evaluated(
    tx: &Transaction<'_>,
    kind: ResourceKind,
    query: &StoreQuery,
    skip: usize,
) -> Result<Page, StoreError> {
    let mut stmt = tx
        .prepare_cached("SELECT id, version, body FROM scim_resource WHERE kind = ?1 ORDER BY seq")
        .map_err(|e| unavailable("prepare", e))?;
    let mut rows = stmt
        .query([kind.name()])
        .map_err(|e| unavailable("select", e))?;
    let sorting = query.sort.is_some();
    let mut total_results = 0usize;
    // Without a sort, only the page is kept; with one, every match.
    let mut kept: Vec<(String, u64, Value)> = Vec::new();
    while let Some(row) = rows.next().map_err(|e| unavailable("select", e))? {
        let body: String = row.get(2).map_err(|e| unavailable("select", e))?;
        let json = Value::Object(parse_body(&body)?);
        if query
            .filter
            .as_ref()
            .is_some_and(|f| !matches(kind, f, &json))
        {
            continue;
        }
        let index = total_results;
        total_results += 1;
        if !sorting && (index < skip || index - skip >= query.count) {
            continue;
        }
        let id: String = row.get(0).map_err(|e| unavailable("select", e))?;
        let v: i64 = row.get(1).map_err(|e| unavailable("select", e))?;
        kept.push((id, version_of(v)?, json));
    }
    if let Some(sort) = &query.sort {
        // Stable: ties keep creation order, as MemoryStore.
        kept.sort_by(|(_, _, a), (_, _, b)| {
            let ord = sort_cmp(kind, &sort.by, a, b);
            if sort.descending { ord.reverse() } else { ord }
        });
        kept = kept.into_iter().skip(skip).take(query.count).collect();
    }
    let resources = kept
        .into_iter()
        .map(|(id, version, json)| StoredResource {
            id,
            version,
            body: match json {
                Value::Object(m) => m,
                _ => Map::new(), // unreachable: built from an object above
            },
        })
        .collect();
    Ok(Page {
        total_results,
        resources,
    })
}
