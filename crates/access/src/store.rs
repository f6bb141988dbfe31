//! Where grants are kept: a narrow trait with a written contract, and an
//! in-memory implementation (the SQLite one is `store::SqliteGrantStore`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::error::StoreError;
use crate::grant::Grant;

/// Durable storage of grants, by id.
///
/// Contract, for every implementation:
/// - `put` stores the grant whole, adding it or replacing the one with
///   the same id; once it returns `Ok` the grant is durable (survives a
///   crash or restart of a durable store). On `Err` it may or may not have
///   been stored; the caller retries or reports, and must not act as if it
///   were (the engine is updated only after `Ok`).
/// - `get` after an `Ok` `put` returns exactly that grant (or a later
///   `put`'s), field for field; an unknown id is `Ok(None)`.
/// - `list` returns every grant, each once, in ascending byte order of id.
/// - Calls may come from many threads at once; each is atomic.
pub trait GrantStore: Send + Sync {
    /// Adds or replaces a grant by id; durable once `Ok`.
    fn put(&self, g: &Grant) -> Result<(), StoreError>;
    /// The grant with this id.
    fn get(&self, id: &str) -> Result<Option<Grant>, StoreError>;
    /// Every grant, in id order.
    fn list(&self) -> Result<Vec<Grant>, StoreError>;
}

/// [`GrantStore`] in memory (tests, and a server without `--data`):
/// durable for the life of the process only. [`MemoryGrantStore::fail_puts`]
/// makes `put` fail, to test callers' error paths.
#[derive(Debug, Default)]
pub struct MemoryGrantStore {
    grants: Mutex<BTreeMap<String, Grant>>,
    failing: AtomicBool,
}

impl MemoryGrantStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// While `fail` is true, `put` returns an error and stores nothing.
    pub fn fail_puts(&self, fail: bool) {
        self.failing.store(fail, Ordering::SeqCst);
    }
}

impl GrantStore for MemoryGrantStore {
    fn put(&self, g: &Grant) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError("injected failure".into()));
        }
        let mut grants = self.grants.lock().unwrap_or_else(PoisonError::into_inner);
        grants.insert(g.id.clone(), g.clone());
        Ok(())
    }

    fn get(&self, id: &str) -> Result<Option<Grant>, StoreError> {
        let grants = self.grants.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(grants.get(id).cloned())
    }

    fn list(&self) -> Result<Vec<Grant>, StoreError> {
        let grants = self.grants.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(grants.values().cloned().collect())
    }
}
