//! Storage behind narrow, object-safe traits with written contracts, and
//! their in-memory implementations. A SQLite or PostgreSQL backend
//! implements the same three traits; nothing else in the crate touches
//! storage.
//!
//! Common contract: a method that returns `Ok` has made its write durable
//! (for the in-memory stores: visible to every later call in the process);
//! a method that returns `Err` may or may not have written, and the
//! authority then refuses (fail closed) rather than guess.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;

use crate::keys::KeyRecord;

/// A storage failure. The message is for operators' logs, not callers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("token store: {0}")]
pub struct StoreError(pub String);

/// The record made when a token is issued, before the token is returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct IssuanceRecord {
    /// Position in the issuance feed, assigned by the store (1, 2, …).
    pub seq: u64,
    /// Token id.
    pub jti: String,
    /// Signing key.
    pub kid: String,
    /// Subject.
    pub sub: String,
    /// Issued at, seconds.
    pub iat: u64,
    /// Expiry, seconds.
    pub exp: u64,
    /// Audiences.
    pub aud: Vec<String>,
    /// Client the token was issued to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// Issuance records. Contract:
/// - `record` is durable when it returns, assigns strictly increasing `seq`
///   (ignoring the `seq` passed in) and refuses a `jti` already recorded;
/// - `get` sees every record whose `record` returned `Ok`;
/// - `since(n, limit)` returns records with `seq > n` in `seq` order, at
///   most `limit`; a record is never returned with a smaller `seq` than one
///   already returned (the verifier's cursor relies on it);
/// - `prune(before)` may drop records with `exp < before`; a pruned jti is
///   then `NeverIssued`, which is right since it expired anyway.
pub trait IssuanceStore: Send + Sync {
    /// Records an issuance; returns it with its `seq`.
    fn record(&self, record: IssuanceRecord) -> Result<IssuanceRecord, StoreError>;
    /// The record of `jti`.
    fn get(&self, jti: &str) -> Result<Option<IssuanceRecord>, StoreError>;
    /// Records after `seq`, oldest first.
    fn since(&self, seq: u64, limit: usize) -> Result<Vec<IssuanceRecord>, StoreError>;
    /// Drops records that expired before `before` (seconds); returns how many.
    fn prune(&self, before: u64) -> Result<usize, StoreError>;
}

/// What a revocation covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RevocationTarget {
    /// One token (RFC 7009). `exp` lets feeds and stores forget it later.
    Token {
        /// Token id.
        jti: String,
        /// Subject of the token.
        sub: String,
        /// Its expiry, seconds.
        exp: u64,
    },
    /// Every token of `sub` issued at or before `issued_until` (seconds):
    /// tokens issued in the same second as the revocation are revoked too
    /// (the safe side); tokens issued later are not.
    Subject {
        /// Subject.
        sub: String,
        /// Tokens with `iat <= issued_until` are revoked.
        issued_until: u64,
    },
}

/// Why something was revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// An RFC 7009 request, or an operator.
    Requested,
    /// The subject was offboarded.
    Offboarded,
    /// The subject was suspended.
    Suspended,
}

/// One revocation, as stored and as sent in the feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Revocation {
    /// Position in the revocation feed, assigned by the store (1, 2, …).
    pub seq: u64,
    /// When, milliseconds since the epoch.
    pub at_ms: u64,
    /// What.
    #[serde(flatten)]
    pub target: RevocationTarget,
    /// Why.
    pub reason: RevocationReason,
}

/// Revocations. Contract:
/// - `append` is durable when it returns and assigns strictly increasing
///   `seq` (ignoring the one passed in);
/// - `token(jti)` returns a revocation of that token if any; `subject(sub)`
///   the subject-wide revocation with the largest `issued_until`, if any;
/// - `since(n, limit)`: revocations with `seq > n`, in `seq` order, at most
///   `limit`, never reordered later — the feed embedded verifiers follow.
pub trait RevocationStore: Send + Sync {
    /// Appends a revocation; returns it with its `seq`.
    fn append(&self, revocation: Revocation) -> Result<Revocation, StoreError>;
    /// The revocation of one token.
    fn token(&self, jti: &str) -> Result<Option<Revocation>, StoreError>;
    /// The widest subject-wide revocation of `sub`.
    fn subject(&self, sub: &str) -> Result<Option<Revocation>, StoreError>;
    /// Revocations after `seq`, oldest first.
    fn since(&self, seq: u64, limit: usize) -> Result<Vec<Revocation>, StoreError>;
}

/// Signing keys. Contract:
/// - `put` inserts or replaces the record with the same `kid`, durably; a
///   record put with `material: None` must erase any stored private half;
/// - `list` returns every key ever put (retired ones too: the authority
///   needs them to tell a retired `kid` from an unknown one), oldest first.
///
/// Implementations live in this crate, because [`crate::KeyMaterial`] is
/// opaque outside it. The server keeps keys under `DIR/keys/` with mode
/// 0600 ([`crate::FileKeyStore`]).
pub trait KeyStore: Send + Sync {
    /// Every key, oldest first.
    fn list(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// Inserts or replaces by `kid`.
    fn put(&self, record: &KeyRecord) -> Result<(), StoreError>;
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind;
    // carry on with it rather than propagate the panic.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// In-memory [`IssuanceStore`].
#[derive(Debug, Default)]
pub struct MemoryIssuanceStore {
    inner: Mutex<IssuanceInner>,
}

#[derive(Debug, Default)]
struct IssuanceInner {
    next: u64,
    by_jti: HashMap<String, IssuanceRecord>,
    by_seq: BTreeMap<u64, String>,
}

impl IssuanceStore for MemoryIssuanceStore {
    fn record(&self, mut record: IssuanceRecord) -> Result<IssuanceRecord, StoreError> {
        let mut inner = lock(&self.inner);
        if inner.by_jti.contains_key(&record.jti) {
            return Err(StoreError("jti already recorded".into()));
        }
        inner.next += 1;
        record.seq = inner.next;
        inner.by_seq.insert(record.seq, record.jti.clone());
        inner.by_jti.insert(record.jti.clone(), record.clone());
        Ok(record)
    }

    fn get(&self, jti: &str) -> Result<Option<IssuanceRecord>, StoreError> {
        Ok(lock(&self.inner).by_jti.get(jti).cloned())
    }

    fn since(&self, seq: u64, limit: usize) -> Result<Vec<IssuanceRecord>, StoreError> {
        let inner = lock(&self.inner);
        Ok(inner
            .by_seq
            .range(seq.saturating_add(1)..)
            .filter_map(|(_, jti)| inner.by_jti.get(jti).cloned())
            .take(limit)
            .collect())
    }

    fn prune(&self, before: u64) -> Result<usize, StoreError> {
        let mut inner = lock(&self.inner);
        let old: Vec<(u64, String)> = inner
            .by_jti
            .values()
            .filter(|r| r.exp < before)
            .map(|r| (r.seq, r.jti.clone()))
            .collect();
        for (seq, jti) in &old {
            inner.by_seq.remove(seq);
            inner.by_jti.remove(jti);
        }
        Ok(old.len())
    }
}

/// In-memory [`RevocationStore`].
#[derive(Debug, Default)]
pub struct MemoryRevocationStore {
    inner: Mutex<RevocationInner>,
}

#[derive(Debug, Default)]
struct RevocationInner {
    log: Vec<Revocation>,
    tokens: HashMap<String, usize>,
    subjects: HashMap<String, usize>,
}

impl RevocationStore for MemoryRevocationStore {
    fn append(&self, mut revocation: Revocation) -> Result<Revocation, StoreError> {
        let mut inner = lock(&self.inner);
        let at = inner.log.len();
        revocation.seq = u64::try_from(at)
            .map_err(|_| StoreError("too many revocations".into()))?
            .saturating_add(1);
        match &revocation.target {
            RevocationTarget::Token { jti, .. } => {
                inner.tokens.entry(jti.clone()).or_insert(at);
            }
            RevocationTarget::Subject { sub, issued_until } => {
                let wider = match inner.subjects.get(sub).and_then(|&i| inner.log.get(i)) {
                    Some(Revocation {
                        target:
                            RevocationTarget::Subject {
                                issued_until: old, ..
                            },
                        ..
                    }) => issued_until > old,
                    _ => true,
                };
                if wider {
                    inner.subjects.insert(sub.clone(), at);
                }
            }
        }
        inner.log.push(revocation.clone());
        Ok(revocation)
    }

    fn token(&self, jti: &str) -> Result<Option<Revocation>, StoreError> {
        let inner = lock(&self.inner);
        Ok(inner
            .tokens
            .get(jti)
            .and_then(|&i| inner.log.get(i))
            .cloned())
    }

    fn subject(&self, sub: &str) -> Result<Option<Revocation>, StoreError> {
        let inner = lock(&self.inner);
        Ok(inner
            .subjects
            .get(sub)
            .and_then(|&i| inner.log.get(i))
            .cloned())
    }

    fn since(&self, seq: u64, limit: usize) -> Result<Vec<Revocation>, StoreError> {
        let inner = lock(&self.inner);
        let start = usize::try_from(seq).unwrap_or(usize::MAX);
        Ok(inner.log.iter().skip(start).take(limit).cloned().collect())
    }
}

/// In-memory [`KeyStore`].
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    keys: Mutex<Vec<KeyRecord>>,
}

impl KeyStore for MemoryKeyStore {
    fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        Ok(lock(&self.keys).clone())
    }

    fn put(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let mut keys = lock(&self.keys);
        match keys.iter_mut().find(|k| k.kid == record.kid) {
            Some(k) => *k = record.clone(),
            None => keys.push(record.clone()),
        }
        Ok(())
    }
}
