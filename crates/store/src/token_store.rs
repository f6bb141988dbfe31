//! [`token::IssuanceStore`] and [`token::RevocationStore`] in SQLite.
//!
//! Both feeds take their `seq` from an `INTEGER PRIMARY KEY AUTOINCREMENT`
//! column assigned inside a `BEGIN IMMEDIATE` transaction. SQLite admits one
//! writer at a time and a reader sees only committed transactions, so a
//! row with a larger `seq` can never become visible before one with a
//! smaller `seq`: the "never reordered later" clause of both feed
//! contracts holds across connections and processes, not only threads.

use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use token::{
    IssuanceRecord, IssuanceStore, Revocation, RevocationReason, RevocationStore, RevocationTarget,
    StoreError,
};

use crate::db::{Database, OpenError};

fn err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("sqlite: {what}: {e}"))
}

/// A `u64` as SQLite's `i64`, refused (not wrapped) above `i64::MAX`.
fn int(field: &str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| err(field, "value above i64::MAX"))
}

/// A stored `i64` back to `u64` (the schema's CHECKs keep it ≥ 0).
fn uint(field: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| err(field, "negative value in database"))
}

/// `since(seq, limit)` arguments: `None` when nothing can match.
fn window(seq: u64, limit: usize) -> Option<(i64, i64)> {
    let after = i64::try_from(seq).ok()?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    (limit > 0).then_some((after, limit))
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock cannot leave a half-done transaction
    // behind: an open rusqlite Transaction rolls back when dropped.
    conn.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// [`IssuanceStore`] in the metadata database (table `issuance`).
///
/// `record` returns `Ok` only after the transaction has committed with
/// `synchronous=FULL` (fsynced: see [`Database`]). On `Err` the record may
/// or may not have been written — for example an fsync that failed after
/// the write — and the authority refuses to issue, as the trait asks.
#[derive(Debug)]
pub struct SqliteIssuanceStore {
    conn: Mutex<Connection>,
}

impl SqliteIssuanceStore {
    /// A store on its own connection to `db`.
    pub fn new(db: &Database) -> Result<Self, OpenError> {
        Ok(Self {
            conn: Mutex::new(db.connect()?),
        })
    }
}

const ISSUANCE_COLUMNS: &str = "seq, jti, kid, sub, iat, exp, aud, client_id";

fn issuance_row(row: &Row<'_>) -> rusqlite::Result<Result<IssuanceRecord, StoreError>> {
    let seq: i64 = row.get(0)?;
    let iat: i64 = row.get(4)?;
    let exp: i64 = row.get(5)?;
    let aud: String = row.get(6)?;
    let (jti, kid, sub, client_id) = (row.get(1)?, row.get(2)?, row.get(3)?, row.get(7)?);
    Ok((|| {
        Ok(IssuanceRecord {
            seq: uint("seq", seq)?,
            jti,
            kid,
            sub,
            iat: uint("iat", iat)?,
            exp: uint("exp", exp)?,
            aud: serde_json::from_str(&aud).map_err(|e| err("aud", e))?,
            client_id,
        })
    })())
}

impl IssuanceStore for SqliteIssuanceStore {
    fn record(&self, mut record: IssuanceRecord) -> Result<IssuanceRecord, StoreError> {
        let iat = int("iat", record.iat)?;
        let exp = int("exp", record.exp)?;
        let aud = serde_json::to_string(&record.aud).map_err(|e| err("aud", e))?;
        let mut conn = lock(&self.conn);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| err("begin", e))?;
        let taken: Option<i64> = tx
            .query_row(
                "SELECT seq FROM issuance WHERE jti = ?1",
                [&record.jti],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| err("select", e))?;
        if taken.is_some() {
            return Err(StoreError("jti already recorded".into()));
        }
        let seq: i64 = tx
            .query_row(
                "INSERT INTO issuance (jti, kid, sub, iat, exp, aud, client_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING seq",
                params![
                    record.jti,
                    record.kid,
                    record.sub,
                    iat,
                    exp,
                    aud,
                    record.client_id
                ],
                |r| r.get(0),
            )
            .map_err(|e| err("insert", e))?;
        tx.commit().map_err(|e| err("commit", e))?;
        record.seq = uint("seq", seq)?;
        Ok(record)
    }

    fn get(&self, jti: &str) -> Result<Option<IssuanceRecord>, StoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {ISSUANCE_COLUMNS} FROM issuance WHERE jti = ?1"
            ))
            .map_err(|e| err("prepare", e))?;
        stmt.query_row([jti], issuance_row)
            .optional()
            .map_err(|e| err("select", e))?
            .transpose()
    }

    fn since(&self, seq: u64, limit: usize) -> Result<Vec<IssuanceRecord>, StoreError> {
        let Some((after, limit)) = window(seq, limit) else {
            return Ok(Vec::new());
        };
        let conn = lock(&self.conn);
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {ISSUANCE_COLUMNS} FROM issuance WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))
            .map_err(|e| err("prepare", e))?;
        let rows = stmt
            .query_map(params![after, limit], issuance_row)
            .map_err(|e| err("select", e))?;
        rows.map(|r| r.map_err(|e| err("select", e)).and_then(|r| r))
            .collect()
    }

    fn prune(&self, before: u64) -> Result<usize, StoreError> {
        let conn = lock(&self.conn);
        // Every stored exp is ≤ i64::MAX, so a larger `before` prunes all.
        let n = match i64::try_from(before) {
            Ok(before) => conn.execute("DELETE FROM issuance WHERE exp < ?1", [before]),
            Err(_) => conn.execute("DELETE FROM issuance", []),
        }
        .map_err(|e| err("delete", e))?;
        Ok(n)
    }
}

/// [`RevocationStore`] in the metadata database (table `revocation`).
///
/// `append` returns `Ok` only after the commit is fsynced; on `Err` the
/// revocation may or may not have been written (the caller retries, and a
/// duplicate revocation is harmless: `token` returns the first, `subject`
/// the widest).
#[derive(Debug)]
pub struct SqliteRevocationStore {
    conn: Mutex<Connection>,
}

impl SqliteRevocationStore {
    /// A store on its own connection to `db`.
    pub fn new(db: &Database) -> Result<Self, OpenError> {
        Ok(Self {
            conn: Mutex::new(db.connect()?),
        })
    }
}

const REVOCATION_COLUMNS: &str = "seq, at_ms, kind, jti, sub, exp, issued_until, reason";

fn reason_text(r: RevocationReason) -> &'static str {
    match r {
        RevocationReason::Requested => "requested",
        RevocationReason::Offboarded => "offboarded",
        RevocationReason::Suspended => "suspended",
    }
}

fn revocation_row(row: &Row<'_>) -> rusqlite::Result<Result<Revocation, StoreError>> {
    let seq: i64 = row.get(0)?;
    let at_ms: i64 = row.get(1)?;
    let kind: String = row.get(2)?;
    let jti: Option<String> = row.get(3)?;
    let sub: String = row.get(4)?;
    let exp: Option<i64> = row.get(5)?;
    let issued_until: Option<i64> = row.get(6)?;
    let reason: String = row.get(7)?;
    Ok((|| {
        let target = match (kind.as_str(), jti, exp, issued_until) {
            ("token", Some(jti), Some(exp), None) => RevocationTarget::Token {
                jti,
                sub,
                exp: uint("exp", exp)?,
            },
            ("subject", None, None, Some(until)) => RevocationTarget::Subject {
                sub,
                issued_until: uint("issued_until", until)?,
            },
            _ => return Err(err("revocation row", format!("bad target kind {kind:?}"))),
        };
        let reason = match reason.as_str() {
            "requested" => RevocationReason::Requested,
            "offboarded" => RevocationReason::Offboarded,
            "suspended" => RevocationReason::Suspended,
            other => return Err(err("revocation row", format!("bad reason {other:?}"))),
        };
        Ok(Revocation {
            seq: uint("seq", seq)?,
            at_ms: uint("at_ms", at_ms)?,
            target,
            reason,
        })
    })())
}

impl SqliteRevocationStore {
    fn one(&self, sql: &str, key: &str) -> Result<Option<Revocation>, StoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached(sql).map_err(|e| err("prepare", e))?;
        stmt.query_row([key], revocation_row)
            .optional()
            .map_err(|e| err("select", e))?
            .transpose()
    }
}

impl RevocationStore for SqliteRevocationStore {
    fn append(&self, mut revocation: Revocation) -> Result<Revocation, StoreError> {
        let at_ms = int("at_ms", revocation.at_ms)?;
        let (kind, jti, sub, exp, until) = match &revocation.target {
            RevocationTarget::Token { jti, sub, exp } => (
                "token",
                Some(jti.as_str()),
                sub,
                Some(int("exp", *exp)?),
                None,
            ),
            RevocationTarget::Subject { sub, issued_until } => (
                "subject",
                None,
                sub,
                None,
                Some(int("issued_until", *issued_until)?),
            ),
        };
        let mut conn = lock(&self.conn);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| err("begin", e))?;
        let seq: i64 = tx
            .query_row(
                "INSERT INTO revocation (at_ms, kind, jti, sub, exp, issued_until, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING seq",
                params![
                    at_ms,
                    kind,
                    jti,
                    sub,
                    exp,
                    until,
                    reason_text(revocation.reason)
                ],
                |r| r.get(0),
            )
            .map_err(|e| err("insert", e))?;
        tx.commit().map_err(|e| err("commit", e))?;
        revocation.seq = uint("seq", seq)?;
        Ok(revocation)
    }

    fn token(&self, jti: &str) -> Result<Option<Revocation>, StoreError> {
        self.one(
            &format!(
                "SELECT {REVOCATION_COLUMNS} FROM revocation
                 WHERE kind = 'token' AND jti = ?1 ORDER BY seq LIMIT 1"
            ),
            jti,
        )
    }

    fn subject(&self, sub: &str) -> Result<Option<Revocation>, StoreError> {
        self.one(
            &format!(
                "SELECT {REVOCATION_COLUMNS} FROM revocation
                 WHERE kind = 'subject' AND sub = ?1
                 ORDER BY issued_until DESC, seq LIMIT 1"
            ),
            sub,
        )
    }

    fn since(&self, seq: u64, limit: usize) -> Result<Vec<Revocation>, StoreError> {
        let Some((after, limit)) = window(seq, limit) else {
            return Ok(Vec::new());
        };
        let conn = lock(&self.conn);
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {REVOCATION_COLUMNS} FROM revocation WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))
            .map_err(|e| err("prepare", e))?;
        let rows = stmt
            .query_map(params![after, limit], revocation_row)
            .map_err(|e| err("select", e))?;
        rows.map(|r| r.map_err(|e| err("select", e)).and_then(|r| r))
            .collect()
    }
}
