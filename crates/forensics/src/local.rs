//! The index of a data directory: `DIR/forensics/index.bin` (the
//! snapshot) and `DIR/forensics/registry.csv` (subject countries, the
//! source of truth for them), kept up to date from the ledger under
//! `DIR/log/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use roaring::RoaringBitmap;

use crate::Index;
use crate::registry::{self, RegistryError};
use crate::scope::{self, CheckpointRef, LedgerSource, ScopeError, ScopeQuery, ScopeResult};
use crate::snapshot::{self, SnapshotError};

/// Why the local index could not be opened or updated.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The snapshot.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The registry file.
    #[error("{path}: {source}")]
    Registry {
        /// The file.
        path: String,
        /// The invalid line.
        source: RegistryError,
    },
    /// The ledger (checkpoint, tiles).
    #[error("ledger: {0}")]
    Ledger(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A scope query failed.
    #[error(transparent)]
    Scope(#[from] ScopeError),
}

/// The verified latest checkpoint of the ledger under `dir`.
///
/// # Errors
/// [`LocalError::Ledger`] if it is missing, not signed by the log's key, or
/// of another origin.
pub fn latest_checkpoint(dir: &Path) -> Result<tlog::VerifiedCheckpoint, LocalError> {
    let reader = ledger::LogReader::open(dir).map_err(|e| LocalError::Ledger(e.to_string()))?;
    let bytes = reader
        .checkpoint_bytes()
        .map_err(|e| LocalError::Ledger(e.to_string()))?;
    let verifier = ledger::verifier_key(dir).map_err(|e| LocalError::Ledger(e.to_string()))?;
    tlog::open_checkpoint(&bytes, verifier.name(), &verifier)
        .map_err(|e| LocalError::Ledger(e.to_string()))
}

/// A checkpoint as cited in answers.
#[must_use]
pub fn checkpoint_ref(c: &tlog::VerifiedCheckpoint) -> CheckpointRef {
    use base64::Engine as _;
    CheckpointRef {
        origin: c.origin().to_owned(),
        size: c.size(),
        root: base64::engine::general_purpose::STANDARD.encode(c.root()),
    }
}

/// The forensic index of one data directory.
#[derive(Debug)]
pub struct Local {
    dir: PathBuf,
    /// The index.
    pub index: Index,
    registry_stamp: Option<(u64, SystemTime)>,
    /// Set when the snapshot was damaged and the index restarted from 0.
    pub rebuilt_reason: Option<String>,
}

impl Local {
    /// `DIR/forensics/index.bin`.
    #[must_use]
    pub fn snapshot_path(dir: &Path) -> PathBuf {
        dir.join("forensics").join("index.bin")
    }

    /// `DIR/forensics/registry.csv`.
    #[must_use]
    pub fn registry_path(dir: &Path) -> PathBuf {
        dir.join("forensics").join("registry.csv")
    }

    /// Opens the index of `dir`: the snapshot if there is one (a damaged one
    /// is set aside and the index restarts from the ledger's first entry:
    /// the ledger is the truth), then the registry.
    ///
    /// # Errors
    /// [`LocalError`] if a file cannot be read or the registry is invalid.
    pub fn open(dir: &Path) -> Result<Local, LocalError> {
        let path = Self::snapshot_path(dir);
        let (index, rebuilt_reason) = match snapshot::load(&path) {
            Ok(Some(i)) => (i, None),
            Ok(None) => (Index::new(), None),
            Err(SnapshotError::Invalid { reason, .. }) => {
                let aside = path.with_extension("damaged");
                let _ = std::fs::rename(&path, &aside);
                (
                    Index::new(),
                    Some(format!(
                        "{} was damaged ({reason}); moved to {} and rebuilding from the ledger",
                        path.display(),
                        aside.display()
                    )),
                )
            }
            Err(e) => return Err(e.into()),
        };
        let mut local = Local {
            dir: dir.to_path_buf(),
            index,
            registry_stamp: None,
            rebuilt_reason,
        };
        local.refresh_registry()?;
        Ok(local)
    }

    /// The data directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reloads subject countries if the registry file changed. Returns true
    /// if it was (re)loaded.
    ///
    /// # Errors
    /// [`LocalError::Registry`] if it is invalid (the old countries stay).
    pub fn refresh_registry(&mut self) -> Result<bool, LocalError> {
        let path = Self::registry_path(&self.dir);
        let stamp = std::fs::metadata(&path)
            .ok()
            .and_then(|m| Some((m.len(), m.modified().ok()?)));
        if stamp == self.registry_stamp {
            return Ok(false);
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(LocalError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let rows = registry::parse(&text).map_err(|source| LocalError::Registry {
            path: path.display().to_string(),
            source,
        })?;
        let mut countries: BTreeMap<String, RoaringBitmap> = BTreeMap::new();
        let dict = self.index.dict_mut();
        for (n, (p, c)) in (1..).zip(&rows) {
            let Some(p) = events::Pseudonym::from_base64url(p) else {
                return Err(LocalError::Registry {
                    path: path.display().to_string(),
                    source: RegistryError {
                        line: n,
                        field: "subject",
                        reason: "registry lines hold pseudonyms".into(),
                    },
                });
            };
            let id = dict.id_of_key(p.0);
            countries.entry((*c).to_owned()).or_default().insert(id);
        }
        dict.set_countries(countries);
        self.registry_stamp = stamp;
        Ok(true)
    }

    /// Reads ledger entries from the index's next one up to `size` (a
    /// published checkpoint's size), calling `progress(done, total)` every
    /// bundle or so. Returns the number of entries read.
    ///
    /// # Errors
    /// [`LocalError::Ledger`] if the tiles cannot be read.
    pub fn catch_up(
        &mut self,
        size: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64, LocalError> {
        self.catch_up_to(size, size, progress)
    }

    /// [`Local::catch_up`], stopping at entry `to` (≤ `size`, the published
    /// checkpoint size the tiles are read at).
    ///
    /// # Errors
    /// [`LocalError::Ledger`] if the tiles cannot be read.
    pub fn catch_up_to(
        &mut self,
        to: u64,
        size: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64, LocalError> {
        let from = self.index.next_index();
        let to = to.min(size);
        if from >= to {
            return Ok(0);
        }
        let total = to - from;
        let index = &mut self.index;
        detect::for_each_entry(&self.dir, from, to, size, &mut |i, e| {
            index.apply_entry(i, e);
            let done = i + 1 - from;
            if done.is_multiple_of(65_536) {
                progress(done, total);
            }
            true
        })
        .map_err(|e| LocalError::Ledger(e.to_string()))?;
        progress(total, total);
        Ok(total)
    }

    /// Saves the snapshot; returns its size in bytes.
    ///
    /// # Errors
    /// [`LocalError::Io`] or [`LocalError::Snapshot`] if it cannot be written.
    pub fn save(&mut self) -> Result<u64, LocalError> {
        let path = Self::snapshot_path(&self.dir);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| LocalError::Io {
                path: parent.display().to_string(),
                source,
            })?;
        }
        Ok(snapshot::save(&mut self.index, &path)?)
    }

    /// Answers `q` as of `checkpoint` (the index must have read up to its
    /// size: call [`Local::catch_up`] first).
    ///
    /// # Errors
    /// [`LocalError::Scope`].
    pub fn scope(
        &mut self,
        q: &ScopeQuery,
        checkpoint: &tlog::VerifiedCheckpoint,
    ) -> Result<ScopeResult, LocalError> {
        let src = LedgerSource {
            dir: self.dir.clone(),
            size: checkpoint.size(),
        };
        Ok(scope::scope(
            &mut self.index,
            &src,
            q,
            checkpoint_ref(checkpoint),
        )?)
    }

    /// The ledger indices of the accesses counted by `q` (at most `limit`).
    ///
    /// # Errors
    /// [`LocalError::Scope`].
    pub fn matching_entries(
        &mut self,
        q: &ScopeQuery,
        size: u64,
        limit: usize,
    ) -> Result<Vec<u64>, LocalError> {
        let src = LedgerSource {
            dir: self.dir.clone(),
            size,
        };
        Ok(scope::matching_entries(&mut self.index, &src, q, limit)?)
    }
}
