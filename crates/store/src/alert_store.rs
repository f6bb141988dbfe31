//! [`detect::AlertStore`] in SQLite (tables `alert`, `alert_suppression`),
//! and the webhook outbox (`webhook_outbox`): deliveries are queued in the
//! same database as the alert they carry, so a delivery is never lost by a
//! restart and is retried from where it was.

use std::sync::{Mutex, MutexGuard};

use detect::{Alert, AlertStore, AlertStoreError, Suppression};
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Database, OpenError};

fn err(what: &str, e: impl std::fmt::Display) -> AlertStoreError {
    AlertStoreError(format!("sqlite: {what}: {e}"))
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, body: &str) -> Result<T, AlertStoreError> {
    serde_json::from_str(body).map_err(|e| err(what, e))
}

/// One queued webhook delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Outbox position.
    pub seq: i64,
    /// The webhook's name.
    pub hook: String,
    /// The alert it carries.
    pub alert: String,
    /// The exact body to send (signed as is).
    pub payload: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before (ms).
    pub next_ms: i64,
    /// `pending`, `delivered` or `failed` (given up).
    pub state: String,
    /// The last attempt's error.
    pub last_error: Option<String>,
}

/// Alerts, suppressions and the webhook outbox in the metadata database.
///
/// Every write is one statement (atomic) and returns `Ok` only after the
/// commit is fsynced (`synchronous=FULL`, see [`Database`]).
#[derive(Debug)]
pub struct SqliteAlertStore {
    conn: Mutex<Connection>,
}

impl SqliteAlertStore {
    /// A store on its own connection to `db`.
    pub fn new(db: &Database) -> Result<Self, OpenError> {
        Ok(Self {
            conn: Mutex::new(db.connect()?),
        })
    }

    /// Queues `payload` for `hook`, due at `now_ms`.
    ///
    /// # Errors
    /// If it could not be stored.
    pub fn enqueue(
        &self,
        hook: &str,
        alert: &str,
        payload: &str,
        now_ms: i64,
    ) -> Result<(), AlertStoreError> {
        lock(&self.conn)
            .execute(
                "INSERT INTO webhook_outbox (hook, alert, payload, next_ms) VALUES (?1, ?2, ?3, ?4)",
                params![hook, alert, payload, now_ms],
            )
            .map_err(|e| err("enqueue", e))?;
        Ok(())
    }

    /// Pending deliveries due at `now_ms`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// If the store could not be read.
    pub fn due(&self, now_ms: i64, limit: u32) -> Result<Vec<Delivery>, AlertStoreError> {
        self.deliveries_where(
            "state = 'pending' AND next_ms <= ?1 ORDER BY next_ms, seq LIMIT ?2",
            params![now_ms, limit],
        )
    }

    /// Every delivery of `alert` (or all, if `None`), oldest first.
    ///
    /// # Errors
    /// If the store could not be read.
    pub fn deliveries(&self, alert: Option<&str>) -> Result<Vec<Delivery>, AlertStoreError> {
        match alert {
            Some(a) => self.deliveries_where("alert = ?1 ORDER BY seq", params![a]),
            None => self.deliveries_where("1 ORDER BY seq", params![]),
        }
    }

    fn deliveries_where(
        &self,
        clause: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<Delivery>, AlertStoreError> {
        let conn = lock(&self.conn);
        let sql = format!(
            "SELECT seq, hook, alert, payload, attempts, next_ms, state, last_error
             FROM webhook_outbox WHERE {clause}"
        );
        let mut stmt = conn.prepare(&sql).map_err(|e| err("outbox query", e))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok(Delivery {
                    seq: r.get(0)?,
                    hook: r.get(1)?,
                    alert: r.get(2)?,
                    payload: r.get(3)?,
                    attempts: r.get(4)?,
                    next_ms: r.get(5)?,
                    state: r.get(6)?,
                    last_error: r.get(7)?,
                })
            })
            .map_err(|e| err("outbox query", e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| err("outbox row", e))
    }

    /// Records an attempt: `delivered`, or failed with `error` and retried
    /// at `next_ms` (`None`: given up).
    ///
    /// # Errors
    /// If it could not be stored.
    pub fn attempted(
        &self,
        seq: i64,
        now_ms: i64,
        outcome: Result<(), (&str, Option<i64>)>,
    ) -> Result<(), AlertStoreError> {
        let conn = lock(&self.conn);
        let r = match outcome {
            Ok(()) => conn.execute(
                "UPDATE webhook_outbox SET attempts = attempts + 1, state = 'delivered',
                     done_ms = ?2, last_error = NULL WHERE seq = ?1",
                params![seq, now_ms],
            ),
            Err((error, Some(next))) => conn.execute(
                "UPDATE webhook_outbox SET attempts = attempts + 1, next_ms = ?2,
                     last_error = ?3 WHERE seq = ?1",
                params![seq, next, error],
            ),
            Err((error, None)) => conn.execute(
                "UPDATE webhook_outbox SET attempts = attempts + 1, state = 'failed',
                     done_ms = ?2, last_error = ?3 WHERE seq = ?1",
                params![seq, now_ms, error],
            ),
        };
        r.map_err(|e| err("outbox update", e))?;
        Ok(())
    }
}

impl AlertStore for SqliteAlertStore {
    fn put_alert(&self, a: &Alert) -> Result<(), AlertStoreError> {
        let body = serde_json::to_string(a).map_err(|e| err("encode", e))?;
        lock(&self.conn)
            .execute(
                "INSERT INTO alert (id, dedup, status, opened_ms, body) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET dedup = excluded.dedup,
                     status = excluded.status, opened_ms = excluded.opened_ms,
                     body = excluded.body",
                params![a.id, a.dedup_key, a.status.as_str(), a.opened_ms, body],
            )
            .map_err(|e| err("upsert alert", e))?;
        Ok(())
    }

    fn alert(&self, id: &str) -> Result<Option<Alert>, AlertStoreError> {
        let body: Option<String> = lock(&self.conn)
            .query_row("SELECT body FROM alert WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| err("get alert", e))?;
        body.map(|b| decode("alert body", &b)).transpose()
    }

    fn live_by_dedup(&self, dedup_key: &str) -> Result<Option<Alert>, AlertStoreError> {
        let body: Option<String> = lock(&self.conn)
            .query_row(
                "SELECT body FROM alert WHERE dedup = ?1 AND status IN ('open', 'acknowledged')
                 ORDER BY opened_ms DESC, id DESC LIMIT 1",
                params![dedup_key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| err("live alert", e))?;
        body.map(|b| decode("alert body", &b)).transpose()
    }

    fn alerts(&self) -> Result<Vec<Alert>, AlertStoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn
            .prepare("SELECT body FROM alert ORDER BY opened_ms DESC, id DESC")
            .map_err(|e| err("list alerts", e))?;
        let bodies = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| err("list alerts", e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err("alert row", e))?;
        bodies.iter().map(|b| decode("alert body", b)).collect()
    }

    fn put_suppression(&self, s: &Suppression) -> Result<(), AlertStoreError> {
        let body = serde_json::to_string(s).map_err(|e| err("encode", e))?;
        lock(&self.conn)
            .execute(
                "INSERT INTO alert_suppression (id, created_ms, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                params![s.id, s.created_ms, body],
            )
            .map_err(|e| err("upsert suppression", e))?;
        Ok(())
    }

    fn suppressions(&self) -> Result<Vec<Suppression>, AlertStoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn
            .prepare("SELECT body FROM alert_suppression ORDER BY created_ms, id")
            .map_err(|e| err("list suppressions", e))?;
        let bodies = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| err("list suppressions", e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err("suppression row", e))?;
        bodies
            .iter()
            .map(|b| decode("suppression body", b))
            .collect()
    }
}
