//! Governance records (tables `govern_finding`, `govern_assessment`):
//! remediation findings as JSON documents (their shape is `crates/govern`'s
//! `Finding`) with the columns queries need, and supplier assessment
//! snapshots, append-only, so a supplier's score keeps its history. The
//! governance file itself (suppliers, datasets, rules) is a TOML file named
//! by the configuration, not a table.

use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Database, OpenError};

/// A governance store operation failed.
#[derive(Debug, thiserror::Error)]
#[error("sqlite: {what}: {message}")]
pub struct GovernStoreError {
    /// The operation.
    pub what: &'static str,
    /// SQLite's message.
    pub message: String,
}

fn err(what: &'static str) -> impl Fn(rusqlite::Error) -> GovernStoreError {
    move |e| GovernStoreError {
        what,
        message: e.to_string(),
    }
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One stored remediation finding: the indexed columns and the JSON body
/// (the truth; the columns are derived from it by the caller on every put).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingRow {
    /// Id.
    pub id: String,
    /// `open`, `in_progress`, `risk_accepted`, `resolved`.
    pub status: String,
    /// The supplier it concerns, if any.
    pub supplier: Option<String>,
    /// Who must fix it.
    pub owner: String,
    /// `low`, `medium`, `high`, `critical`.
    pub severity: String,
    /// Unix seconds.
    pub created_s: i64,
    /// Unix seconds.
    pub due_s: i64,
    /// The highest escalation level already announced: `none`, `owner`,
    /// `manager`, `executive`.
    pub escalated: String,
    /// The finding as JSON.
    pub body: String,
}

/// One assessment snapshot of a supplier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssessmentRow {
    /// Position in the history (increasing, never reused).
    pub seq: i64,
    /// Supplier id.
    pub supplier: String,
    /// Unix seconds.
    pub at_s: i64,
    /// 0 to 100.
    pub score: u32,
    /// `low`, `moderate`, `high`, `critical`.
    pub tier: String,
    /// The ledger entry that recorded it.
    pub ledger_index: Option<u64>,
    /// The assessment summary as JSON.
    pub body: String,
}

/// Findings and assessment snapshots in the metadata database. Every write
/// is one statement, durable when it returns (`synchronous=FULL`).
/// Snapshots are never updated (a trigger refuses it).
#[derive(Debug)]
pub struct SqliteGovernStore {
    conn: Mutex<Connection>,
}

fn finding_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<FindingRow> {
    Ok(FindingRow {
        id: r.get(0)?,
        status: r.get(1)?,
        supplier: r.get(2)?,
        owner: r.get(3)?,
        severity: r.get(4)?,
        created_s: r.get(5)?,
        due_s: r.get(6)?,
        escalated: r.get(7)?,
        body: r.get(8)?,
    })
}

fn assessment_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<AssessmentRow> {
    let index: Option<i64> = r.get(5)?;
    Ok(AssessmentRow {
        seq: r.get(0)?,
        supplier: r.get(1)?,
        at_s: r.get(2)?,
        score: r.get(3)?,
        tier: r.get(4)?,
        ledger_index: index.and_then(|i| u64::try_from(i).ok()),
        body: r.get(6)?,
    })
}

const FINDING_COLUMNS: &str =
    "id, status, supplier, owner, severity, created_s, due_s, escalated, body";
const ASSESSMENT_COLUMNS: &str = "seq, supplier, at_s, score, tier, ledger_index, body";

impl SqliteGovernStore {
    /// A store on its own connection to `db`.
    ///
    /// # Errors
    /// If the connection cannot be opened.
    pub fn new(db: &Database) -> Result<Self, OpenError> {
        Ok(Self {
            conn: Mutex::new(db.connect()?),
        })
    }

    /// Inserts or replaces finding `row.id`.
    ///
    /// # Errors
    /// If it could not be stored (a column out of its set, a body that is
    /// not JSON).
    pub fn put_finding(&self, row: &FindingRow) -> Result<(), GovernStoreError> {
        lock(&self.conn)
            .execute(
                "INSERT INTO govern_finding (id, status, supplier, owner, severity, created_s, \
                 due_s, escalated, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
                 supplier = excluded.supplier, owner = excluded.owner, \
                 severity = excluded.severity, due_s = excluded.due_s, \
                 escalated = excluded.escalated, body = excluded.body",
                params![
                    row.id,
                    row.status,
                    row.supplier,
                    row.owner,
                    row.severity,
                    row.created_s,
                    row.due_s,
                    row.escalated,
                    row.body
                ],
            )
            .map_err(err("put finding"))?;
        Ok(())
    }

    /// Finding `id`.
    ///
    /// # Errors
    /// If the database cannot be read.
    pub fn finding(&self, id: &str) -> Result<Option<FindingRow>, GovernStoreError> {
        lock(&self.conn)
            .query_row(
                &format!("SELECT {FINDING_COLUMNS} FROM govern_finding WHERE id = ?1"),
                params![id],
                finding_of,
            )
            .optional()
            .map_err(err("get finding"))
    }

    /// Every finding, newest first.
    ///
    /// # Errors
    /// If the database cannot be read.
    pub fn findings(&self) -> Result<Vec<FindingRow>, GovernStoreError> {
        let conn = lock(&self.conn);
        let mut st = conn
            .prepare(&format!(
                "SELECT {FINDING_COLUMNS} FROM govern_finding ORDER BY created_s DESC, id"
            ))
            .map_err(err("list findings"))?;
        let rows = st.query_map([], finding_of).map_err(err("list findings"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(err("list findings"))
    }

    /// Appends a snapshot (its `seq` is assigned); returns it.
    ///
    /// # Errors
    /// If it could not be stored.
    pub fn record_assessment(
        &self,
        row: &AssessmentRow,
    ) -> Result<AssessmentRow, GovernStoreError> {
        let conn = lock(&self.conn);
        let index = row
            .ledger_index
            .map(|i| {
                i64::try_from(i).map_err(|_| GovernStoreError {
                    what: "record assessment",
                    message: "ledger index above i64::MAX".into(),
                })
            })
            .transpose()?;
        conn.execute(
            "INSERT INTO govern_assessment (supplier, at_s, score, tier, ledger_index, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![row.supplier, row.at_s, row.score, row.tier, index, row.body],
        )
        .map_err(err("record assessment"))?;
        let mut out = row.clone();
        out.seq = conn.last_insert_rowid();
        Ok(out)
    }

    /// The snapshots of `supplier`, oldest first (at most the `limit`
    /// newest).
    ///
    /// # Errors
    /// If the database cannot be read.
    pub fn assessments(
        &self,
        supplier: &str,
        limit: usize,
    ) -> Result<Vec<AssessmentRow>, GovernStoreError> {
        let conn = lock(&self.conn);
        let mut st = conn
            .prepare(&format!(
                "SELECT {ASSESSMENT_COLUMNS} FROM govern_assessment WHERE supplier = ?1 \
                 ORDER BY seq DESC LIMIT ?2"
            ))
            .map_err(err("list assessments"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = st
            .query_map(params![supplier, limit], assessment_of)
            .map_err(err("list assessments"))?;
        let mut v = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(err("list assessments"))?;
        v.reverse();
        Ok(v)
    }

    /// Tries to rewrite snapshot `seq`'s score (always refused by the
    /// schema; here so that the refusal is tested).
    ///
    /// # Errors
    /// Always, for an existing snapshot.
    pub fn rewrite_assessment(&self, seq: i64, score: u32) -> Result<usize, GovernStoreError> {
        lock(&self.conn)
            .execute(
                "UPDATE govern_assessment SET score = ?2 WHERE seq = ?1",
                params![seq, score],
            )
            .map_err(err("rewrite assessment"))
    }
}
