//! [`access::GrantStore`] in SQLite (table `access_grant`): the grant as
//! JSON, with indexed columns derived from it on every put.

use std::sync::{Mutex, MutexGuard};

use access::{Grant, GrantStore, Holder, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Database, OpenError};

fn err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("sqlite: {what}: {e}"))
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn decode(body: &str) -> Result<Grant, StoreError> {
    serde_json::from_str(body).map_err(|e| err("grant body", e))
}

/// [`GrantStore`] in the metadata database.
///
/// `put` is one `INSERT … ON CONFLICT DO UPDATE` statement (atomic on its
/// own) and returns `Ok` only after the commit is fsynced
/// (`synchronous=FULL`, see [`Database`]); on `Err` the grant may or may
/// not be stored. `list` is in id order (`ORDER BY id`: SQLite compares
/// TEXT with `memcmp`, the byte order the trait asks for).
#[derive(Debug)]
pub struct SqliteGrantStore {
    conn: Mutex<Connection>,
}

impl SqliteGrantStore {
    /// A store on its own connection to `db`.
    pub fn new(db: &Database) -> Result<Self, OpenError> {
        Ok(Self {
            conn: Mutex::new(db.connect()?),
        })
    }
}

impl GrantStore for SqliteGrantStore {
    fn put(&self, g: &Grant) -> Result<(), StoreError> {
        let body = serde_json::to_string(g).map_err(|e| err("encode", e))?;
        let (kind, holder) = match &g.holder {
            Holder::Principal(p) => ("principal", p),
            Holder::Group(grp) => ("group", grp),
        };
        let conn = lock(&self.conn);
        conn.execute(
            "INSERT INTO access_grant
                 (id, holder_kind, holder, dataset, valid_from, valid_until, approved, revoked, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (id) DO UPDATE SET
                 holder_kind = excluded.holder_kind, holder = excluded.holder,
                 dataset = excluded.dataset, valid_from = excluded.valid_from,
                 valid_until = excluded.valid_until, approved = excluded.approved,
                 revoked = excluded.revoked, body = excluded.body",
            params![
                g.id,
                kind,
                holder,
                g.dataset,
                g.valid_from,
                g.valid_until,
                g.approved_by.is_some(),
                g.revoked.is_some(),
                body
            ],
        )
        .map_err(|e| err("upsert", e))?;
        Ok(())
    }

    fn get(&self, id: &str) -> Result<Option<Grant>, StoreError> {
        let conn = lock(&self.conn);
        let body: Option<String> = conn
            .prepare_cached("SELECT body FROM access_grant WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map_err(|e| err("select", e))?;
        body.as_deref().map(decode).transpose()
    }

    fn list(&self) -> Result<Vec<Grant>, StoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn
            .prepare_cached("SELECT body FROM access_grant ORDER BY id")
            .map_err(|e| err("prepare", e))?;
        let bodies: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .and_then(Iterator::collect)
            .map_err(|e| err("select", e))?;
        bodies.iter().map(|b| decode(b)).collect()
    }
}
