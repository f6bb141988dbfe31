//! The log's signing key under `DIR/keys/` (never under `DIR/log/`).
//!
//! `DIR/keys/log.key` holds the signed-note signer key
//! (`PRIVATE+KEY+<name>+<id>+<key>`), mode 0600 in a 0700 directory;
//! `DIR/keys/log.vkey` holds the public verifier key.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use tlog::{Signer, Verifier};

use crate::{Error, Result};

pub(crate) const KEYS_DIR: &str = "keys";
const SIGNER: &str = "log.key";
const VERIFIER: &str = "log.vkey";

pub(crate) fn signer_path(dir: &Path) -> PathBuf {
    dir.join(KEYS_DIR).join(SIGNER)
}

/// Generates and stores a new signing key; refuses to overwrite one.
pub(crate) fn create(dir: &Path, origin: &str) -> Result<Signer> {
    let keys = dir.join(KEYS_DIR);
    fs::create_dir_all(&keys).map_err(Error::io("create directory", &keys))?;
    restrict(&keys, 0o700)?;
    let signer = Signer::generate(origin).map_err(|e| Error::Key {
        path: signer_path(dir),
        reason: e.to_string(),
    })?;
    let path = signer_path(dir);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::AlreadyInitialized(dir.to_path_buf()),
            _ => Error::io("create", &path)(e),
        })?;
    restrict(&path, 0o600)?;
    let mut text = signer.to_skey();
    text.push('\n');
    f.write_all(text.as_bytes())
        .map_err(Error::io("write", &path))?;
    f.sync_all().map_err(Error::io("fsync", &path))?;
    let vpath = keys.join(VERIFIER);
    fs::write(&vpath, format!("{}\n", signer.verifier())).map_err(Error::io("write", &vpath))?;
    fs::File::open(&keys)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("fsync directory", &keys))?;
    Ok(signer)
}

/// Loads the signing key.
pub(crate) fn load(dir: &Path) -> Result<Signer> {
    let path = signer_path(dir);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotInitialized(dir.to_path_buf()));
        }
        Err(e) => return Err(Error::io("read", &path)(e)),
    };
    Signer::from_skey(text.trim_end()).map_err(|e| Error::Key {
        path,
        reason: e.to_string(),
    })
}

/// The log's signing key (`DIR/keys/log.key`), for signing statements in
/// the log's name other than checkpoints (evidence bundle manifests, whose
/// note text can never parse as a checkpoint). Callers must never write it
/// out or log it.
pub fn signer_key(dir: &Path) -> Result<Signer> {
    load(dir)
}

/// The log's public verifier key, derived from the signing key.
pub fn verifier_key(dir: &Path) -> Result<Verifier> {
    Ok(load(dir)?.verifier())
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(Error::io("chmod", path))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}
