//! [`IndexedRevocationStore`]: a [`RevocationStore`] whose reads are
//! answered from memory. Introspection asks two revocation questions per
//! token (the token, its subject); a database round trip for each would be
//! most of its cost.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::store::{Revocation, RevocationStore, RevocationTarget, StoreError};

/// Wraps a durable store `S`: `append` goes to `S` first (durable, then
/// indexed), `token` and `subject` are answered from an index built from
/// `S` at [`IndexedRevocationStore::open`] and kept up to date by `append`,
/// `since` is `S`'s.
///
/// Contract: valid while this value is the only writer of `S` (the server's
/// token authority is); another writer's revocations would be seen only
/// through `since` until the index is rebuilt.
pub struct IndexedRevocationStore<S> {
    inner: S,
    index: RwLock<Index>,
}

#[derive(Default)]
struct Index {
    /// The first revocation of each token.
    tokens: HashMap<String, Revocation>,
    /// The widest subject-wide revocation of each subject (first on ties).
    subjects: HashMap<String, Revocation>,
}

impl Index {
    fn add(&mut self, r: Revocation) {
        match &r.target {
            RevocationTarget::Token { jti, .. } => {
                self.tokens.entry(jti.clone()).or_insert(r);
            }
            RevocationTarget::Subject { sub, issued_until } => {
                let wider = match self.subjects.get(sub).map(|o| &o.target) {
                    Some(RevocationTarget::Subject {
                        issued_until: old, ..
                    }) => issued_until > old,
                    _ => true,
                };
                if wider {
                    self.subjects.insert(sub.clone(), r);
                }
            }
        }
    }
}

impl<S: RevocationStore> IndexedRevocationStore<S> {
    /// Indexes every revocation in `inner`.
    pub fn open(inner: S) -> Result<Self, StoreError> {
        let mut index = Index::default();
        let mut seq = 0;
        loop {
            let page = inner.since(seq, 10_000)?;
            let Some(last) = page.last() else { break };
            seq = last.seq;
            for r in page {
                index.add(r);
            }
        }
        Ok(Self {
            inner,
            index: RwLock::new(index),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<S: RevocationStore> RevocationStore for IndexedRevocationStore<S> {
    fn append(&self, revocation: Revocation) -> Result<Revocation, StoreError> {
        let stored = self.inner.append(revocation)?;
        self.index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .add(stored.clone());
        Ok(stored)
    }

    fn token(&self, jti: &str) -> Result<Option<Revocation>, StoreError> {
        Ok(self.read().tokens.get(jti).cloned())
    }

    fn subject(&self, sub: &str) -> Result<Option<Revocation>, StoreError> {
        Ok(self.read().subjects.get(sub).cloned())
    }

    fn since(&self, seq: u64, limit: usize) -> Result<Vec<Revocation>, StoreError> {
        self.inner.since(seq, limit)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::{MemoryRevocationStore, RevocationReason};

    fn subject(sub: &str, until: u64, reason: RevocationReason) -> Revocation {
        Revocation {
            seq: 0,
            at_ms: 1,
            target: RevocationTarget::Subject {
                sub: sub.into(),
                issued_until: until,
            },
            reason,
        }
    }

    fn token(jti: &str) -> Revocation {
        Revocation {
            seq: 0,
            at_ms: 1,
            target: RevocationTarget::Token {
                jti: jti.into(),
                sub: "s".into(),
                exp: 9,
            },
            reason: RevocationReason::Requested,
        }
    }

    /// The index answers exactly as the store it wraps, before and after a
    /// reopen (the same contract: first token revocation, widest subject
    /// revocation, first on ties).
    #[test]
    fn answers_like_the_store() {
        let indexed = IndexedRevocationStore::open(MemoryRevocationStore::default()).unwrap();
        let plain = MemoryRevocationStore::default();
        let rs = [
            token("a"),
            subject("u", 5, RevocationReason::Requested),
            token("a"),
            subject("u", 9, RevocationReason::Offboarded),
            subject("u", 9, RevocationReason::Suspended),
            subject("u", 3, RevocationReason::Suspended),
            token("b"),
        ];
        for r in rs {
            indexed.append(r.clone()).unwrap();
            plain.append(r).unwrap();
        }
        for jti in ["a", "b", "c"] {
            assert_eq!(indexed.token(jti).unwrap(), plain.token(jti).unwrap());
        }
        for sub in ["u", "v"] {
            assert_eq!(indexed.subject(sub).unwrap(), plain.subject(sub).unwrap());
        }
        let got = indexed.subject("u").unwrap().unwrap();
        assert_eq!(got.reason, RevocationReason::Offboarded);
        let reopened = IndexedRevocationStore::open(indexed.inner).unwrap();
        assert_eq!(reopened.token("a").unwrap(), plain.token("a").unwrap());
        assert_eq!(reopened.subject("u").unwrap(), plain.subject("u").unwrap());
        assert_eq!(
            reopened.since(0, 100).unwrap(),
            plain.since(0, 100).unwrap()
        );
    }
}
