//! A [`KeyStore`] in a directory: the server's `DIR/keys/`. One file per
//! key, `<kid>.key`, mode 0600, written to a temporary file (0600 from
//! creation), synced, renamed over, and the directory synced — so a crash
//! leaves either the old or the new record, never half of one. A record
//! without private half overwrites the file, which erases the seed from the
//! file system's live data (not from the disk's free blocks: use encrypted
//! storage for `DIR/keys/`).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::jwt::{b64d, b64e};
use crate::keys::{KeyMaterial, KeyRecord, KeyState, RetireReason};
use crate::store::{KeyStore, StoreError};

/// Keys in files under one directory (created 0700 if missing).
#[derive(Debug)]
pub struct FileKeyStore {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    kid: String,
    public: String,
    state: DiskState,
    created_ms: u64,
    custodians: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum DiskState {
    Current,
    Retiring { until_ms: u64 },
    Retired { at_ms: u64, reason: String },
}

fn err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("{what}: {e}"))
}

impl FileKeyStore {
    /// Opens (creating, mode 0700) the key directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| err("create key directory", e))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| err("chmod key directory", e))?;
        Ok(Self { dir })
    }

    fn encode(r: &KeyRecord) -> OnDisk {
        OnDisk {
            kid: r.kid.clone(),
            public: b64e(&r.public),
            state: match &r.state {
                KeyState::Current => DiskState::Current,
                KeyState::Retiring { until_ms } => DiskState::Retiring {
                    until_ms: *until_ms,
                },
                KeyState::Retired { at_ms, reason } => DiskState::Retired {
                    at_ms: *at_ms,
                    reason: match reason {
                        RetireReason::OverlapEnded => "overlap_ended",
                        RetireReason::CustodianOffboarded => "custodian_offboarded",
                        RetireReason::OnDemand => "on_demand",
                    }
                    .into(),
                },
            },
            created_ms: r.created_ms,
            custodians: r.custodians.iter().cloned().collect(),
            seed: r.material.as_ref().map(|m| b64e(&m.seed())),
        }
    }

    fn decode(d: OnDisk) -> Result<KeyRecord, StoreError> {
        let public: [u8; 32] = b64d(&d.public)
            .and_then(|p| p.try_into().ok())
            .ok_or_else(|| err("key file", "bad public key"))?;
        let material = match d.seed {
            None => None,
            Some(s) => {
                let seed: [u8; 32] = b64d(&s)
                    .and_then(|p| p.try_into().ok())
                    .ok_or_else(|| err("key file", "bad seed"))?;
                let m = KeyMaterial::from_seed(&seed);
                if m.public().to_bytes() != public {
                    return Err(err("key file", "seed does not match public key"));
                }
                Some(m)
            }
        };
        if crate::keys::thumbprint(&public) != d.kid {
            return Err(err("key file", "kid is not the key's thumbprint"));
        }
        let state = match d.state {
            DiskState::Current => KeyState::Current,
            DiskState::Retiring { until_ms } => KeyState::Retiring { until_ms },
            DiskState::Retired { at_ms, reason } => KeyState::Retired {
                at_ms,
                reason: match reason.as_str() {
                    "overlap_ended" => RetireReason::OverlapEnded,
                    "custodian_offboarded" => RetireReason::CustodianOffboarded,
                    _ => RetireReason::OnDemand,
                },
            },
        };
        Ok(KeyRecord {
            kid: d.kid,
            public,
            state,
            created_ms: d.created_ms,
            custodians: d.custodians.into_iter().collect(),
            material,
        })
    }
}

impl KeyStore for FileKeyStore {
    fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| err("read key directory", e))? {
            let path = entry.map_err(|e| err("read key directory", e))?.path();
            if path.extension().is_none_or(|e| e != "key") {
                continue;
            }
            let bytes = fs::read(&path).map_err(|e| err("read key file", e))?;
            let disk: OnDisk = serde_json::from_slice(&bytes).map_err(|e| err("key file", e))?;
            out.push(Self::decode(disk)?);
        }
        out.sort_by(|a, b| (a.created_ms, &a.kid).cmp(&(b.created_ms, &b.kid)));
        Ok(out)
    }

    fn put(&self, record: &KeyRecord) -> Result<(), StoreError> {
        // The kid is a base64url thumbprint: safe as a file name.
        if record.kid.is_empty()
            || !record
                .kid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(err("key file", "kid is not a file name"));
        }
        let bytes = serde_json::to_vec(&Self::encode(record)).map_err(|e| err("encode key", e))?;
        let path = self.dir.join(format!("{}.key", record.kid));
        let tmp = self.dir.join(format!(".{}.tmp", record.kid));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| err("write key file", e))?;
        f.write_all(&bytes).map_err(|e| err("write key file", e))?;
        f.sync_all().map_err(|e| err("sync key file", e))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(|e| err("rename key file", e))?;
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| err("sync key directory", e))?;
        Ok(())
    }
}
