//! Incidents and legal holds (tables `incident`, `legal_hold`): JSON
//! documents (their shape is `crates/incident`'s) with the columns queries
//! need. Holds are never deleted (a trigger refuses it) and a lifted hold is
//! never reactivated.

use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Database, OpenError};

/// A case store operation failed.
#[derive(Debug, thiserror::Error)]
#[error("sqlite: {what}: {message}")]
pub struct CaseStoreError {
    /// The operation.
    pub what: &'static str,
    /// SQLite's message.
    pub message: String,
}

fn err(what: &'static str) -> impl Fn(rusqlite::Error) -> CaseStoreError {
    move |e| CaseStoreError {
        what,
        message: e.to_string(),
    }
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One stored document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doc {
    /// Id.
    pub id: String,
    /// The JSON body.
    pub body: String,
}

/// Incidents and holds in the metadata database. Every write is one
/// statement, durable when it returns (`synchronous=FULL`).
#[derive(Debug)]
pub struct SqliteCaseStore {
    conn: Mutex<Connection>,
}

impl SqliteCaseStore {
    /// A store on its own connection to `db`.
    ///
    /// # Errors
    /// If the connection cannot be opened.
    pub fn new(db: &Database) -> Result<Self, OpenError> {
        Ok(Self {
            conn: Mutex::new(db.connect()?),
        })
    }

    /// Inserts or replaces incident `id`.
    ///
    /// # Errors
    /// If it could not be stored.
    pub fn put_incident(
        &self,
        id: &str,
        status: &str,
        opened_ms: i64,
        now_ms: i64,
        body: &str,
    ) -> Result<(), CaseStoreError> {
        lock(&self.conn)
            .execute(
                "INSERT INTO incident (id, status, opened_ms, updated_ms, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET \
                 status = excluded.status, updated_ms = excluded.updated_ms, body = excluded.body",
                params![id, status, opened_ms, now_ms, body],
            )
            .map_err(err("put incident"))?;
        Ok(())
    }

    /// Incident `id`.
    ///
    /// # Errors
    /// If the database cannot be read.
    pub fn incident(&self, id: &str) -> Result<Option<Doc>, CaseStoreError> {
        lock(&self.conn)
            .query_row(
                "SELECT id, body FROM incident WHERE id = ?1",
                params![id],
                |r| {
                    Ok(Doc {
                        id: r.get(0)?,
                        body: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(err("get incident"))
    }

    /// Every incident, newest first.
    ///
    /// # Errors
    /// If the database cannot be read.
    pub fn incidents(&self) -> Result<Vec<Doc>, CaseStoreError> {
        self.all("SELECT id, body FROM incident ORDER BY opened_ms DESC, id")
    }

    /// Places (inserts) hold `id`.
    ///
    /// # Errors
    /// If it exists already or could not be stored.
    pub fn place_hold(&self, id: &str, placed_ms: i64, body: &str) -> Result<(), CaseStoreError> {
        lock(&self.conn)
            .execute(
                "INSERT INTO legal_hold (id, active, placed_ms, body) VALUES (?1, 1, ?2, ?3)",
                params![id, placed_ms, body],
            )
            .map_err(err("place hold"))?;
        Ok(())
    }

    /// Lifts hold `id`, storing its updated body. Returns false if there is
    /// no active hold `id`.
    ///
    /// # Errors
    /// If it could not be stored.
    pub fn lift_hold(&self, id: &str, body: &str) -> Result<bool, CaseStoreError> {
        let n = lock(&self.conn)
            .execute(
                "UPDATE legal_hold SET active = 0, body = ?2 WHERE id = ?1 AND active = 1",
                params![id, body],
            )
            .map_err(err("lift hold"))?;
        Ok(n == 1)
    }

    /// Every hold, active ones first, then by placement.
    ///
    /// # Errors
    /// If the database cannot be read.
    pub fn holds(&self) -> Result<Vec<Doc>, CaseStoreError> {
        self.all("SELECT id, body FROM legal_hold ORDER BY active DESC, placed_ms, id")
    }

    /// Tries to delete hold `id` (always refused by the schema; here so the
    /// refusal is tested).
    ///
    /// # Errors
    /// Always, for an existing hold.
    pub fn delete_hold(&self, id: &str) -> Result<usize, CaseStoreError> {
        lock(&self.conn)
            .execute("DELETE FROM legal_hold WHERE id = ?1", params![id])
            .map_err(err("delete hold"))
    }

    fn all(&self, sql: &str) -> Result<Vec<Doc>, CaseStoreError> {
        let conn = lock(&self.conn);
        let mut st = conn.prepare(sql).map_err(err("list"))?;
        let rows = st
            .query_map([], |r| {
                Ok(Doc {
                    id: r.get(0)?,
                    body: r.get(1)?,
                })
            })
            .map_err(err("list"))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err("list"))
    }
}
