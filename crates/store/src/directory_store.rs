//! The directory the token authority asks about subjects: SCIM Users (staff,
//! services, supplier staff; read from `scim_resource`) and customers (the
//! `subject` table, filled by the customer identity system).
//!
//! The server keeps both in memory ([`token::Subjects`] is on the hot path
//! of introspection); this store is what it loads at start and writes
//! through to, durably, before the memory copy changes.

use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, TransactionBehavior, params};
use token::{StoreError, SubjectStatus};

use crate::db::{Database, OpenError};

fn err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("sqlite: {what}: {e}"))
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn status_text(s: SubjectStatus) -> Option<&'static str> {
    match s {
        SubjectStatus::Active => Some("active"),
        SubjectStatus::Suspended => Some("suspended"),
        SubjectStatus::Offboarded => Some("offboarded"),
        SubjectStatus::Unknown => None,
    }
}

fn status_of(text: &str) -> SubjectStatus {
    match text {
        "active" => SubjectStatus::Active,
        "suspended" => SubjectStatus::Suspended,
        "offboarded" => SubjectStatus::Offboarded,
        _ => SubjectStatus::Unknown,
    }
}

/// A SCIM User as the directory sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirectoryUser {
    /// The SCIM `id`.
    pub id: String,
    /// `userName`: the principal id in tokens, key custody and grants.
    pub user_name: String,
    /// `active` (true when unset).
    pub active: bool,
    /// Custos extension `principalKind` (`employee` when unset).
    pub kind: Option<String>,
    /// Enterprise extension `department`.
    pub department: Option<String>,
    /// Custos extension `region`.
    pub region: Option<String>,
    /// Custos extension `supplierId`.
    pub supplier: Option<String>,
    /// `displayName`s of the Groups the User is a direct member of.
    pub groups: Vec<String>,
}

/// Customers' statuses and the SCIM Users, in the metadata database.
///
/// Contract: [`SqliteDirectoryStore::put_subjects`] is durable when it
/// returns `Ok` (one transaction, `synchronous=FULL`) and all-or-nothing;
/// [`SqliteDirectoryStore::subjects`] and [`SqliteDirectoryStore::users`]
/// read committed rows only.
#[derive(Debug)]
pub struct SqliteDirectoryStore {
    conn: Mutex<Connection>,
}

impl SqliteDirectoryStore {
    /// A store on its own connection to `db`.
    pub fn new(db: &Database) -> Result<Self, OpenError> {
        Ok(Self {
            conn: Mutex::new(db.connect()?),
        })
    }

    /// Sets the status of each `(subject, status)`, in one transaction.
    /// `SubjectStatus::Unknown` removes the subject. Returns the rows
    /// written.
    pub fn put_subjects(
        &self,
        subjects: &[(String, SubjectStatus)],
        at_ms: u64,
    ) -> Result<usize, StoreError> {
        let at = i64::try_from(at_ms).map_err(|_| err("at_ms", "above i64::MAX"))?;
        let mut conn = lock(&self.conn);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| err("begin", e))?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO subject (id, status, updated_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                                                    updated_ms = excluded.updated_ms",
                )
                .map_err(|e| err("prepare", e))?;
            let mut delete = tx
                .prepare_cached("DELETE FROM subject WHERE id = ?1")
                .map_err(|e| err("prepare", e))?;
            for (id, status) in subjects {
                match status_text(*status) {
                    Some(s) => upsert.execute(params![id, s, at]),
                    None => delete.execute(params![id]),
                }
                .map_err(|e| err("write subject", e))?;
            }
        }
        tx.commit().map_err(|e| err("commit", e))?;
        Ok(subjects.len())
    }

    /// Every customer subject with its status, calling `each` per row.
    pub fn subjects(&self, mut each: impl FnMut(&str, SubjectStatus)) -> Result<(), StoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn
            .prepare_cached("SELECT id, status FROM subject")
            .map_err(|e| err("prepare", e))?;
        let mut rows = stmt.query([]).map_err(|e| err("select", e))?;
        while let Some(row) = rows.next().map_err(|e| err("select", e))? {
            let id: String = row.get(0).map_err(|e| err("read", e))?;
            let status: String = row.get(1).map_err(|e| err("read", e))?;
            each(&id, status_of(&status));
        }
        Ok(())
    }

    /// Every SCIM User with its Custos attributes and Group memberships.
    pub fn users(&self) -> Result<Vec<DirectoryUser>, StoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, json_extract(body, '$.userName'), json_extract(body, '$.active'),
                   json_extract(body, '$.\"urn:custos:params:scim:schemas:extension:custos:2.0:User\".principalKind'),
                   json_extract(body, '$.\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\".department'),
                   json_extract(body, '$.\"urn:custos:params:scim:schemas:extension:custos:2.0:User\".region'),
                   json_extract(body, '$.\"urn:custos:params:scim:schemas:extension:custos:2.0:User\".supplierId')
                 FROM scim_resource WHERE kind = 'User' ORDER BY seq",
            )
            .map_err(|e| err("prepare", e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(DirectoryUser {
                    id: r.get(0)?,
                    user_name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    // json_extract gives 1/0 for JSON true/false, NULL when unset.
                    active: r.get::<_, Option<i64>>(2)?.is_none_or(|a| a != 0),
                    kind: r.get(3)?,
                    department: r.get(4)?,
                    region: r.get(5)?,
                    supplier: r.get(6)?,
                    groups: Vec::new(),
                })
            })
            .map_err(|e| err("select", e))?;
        let mut users = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err("read", e))?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT json_extract(g.body, '$.displayName'), json_extract(m.value, '$.value')
                 FROM scim_resource g, json_each(g.body, '$.members') m
                 WHERE g.kind = 'Group'",
            )
            .map_err(|e| err("prepare", e))?;
        let members = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                ))
            })
            .map_err(|e| err("select", e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err("read", e))?;
        let by_id: std::collections::HashMap<String, usize> = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.id.clone(), i))
            .collect();
        for (group, member) in members {
            if let (Some(g), Some(m)) = (group, member)
                && let Some(u) = by_id.get(&m).and_then(|i| users.get_mut(*i))
            {
                u.groups.push(g);
            }
        }
        Ok(users)
    }
}
