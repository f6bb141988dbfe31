//! The filesystem backend: the C2SP tlog-tiles layout under `DIR/log/`,
//! writer state under `DIR/state/`.
//!
//! ```text
//! DIR/log/checkpoint            published signed checkpoint (C2SP tlog-checkpoint)
//! DIR/log/tile/<L>/<N>[.p/<W>]  Merkle tiles (C2SP tlog-tiles)
//! DIR/log/tile/entries/<N>[.p/<W>]
//! DIR/state/lock                writer lock (flock)
//! DIR/state/staged-checkpoint   latest signed checkpoint, recorded before publishing
//! DIR/keys/                     signing key (never under DIR/log/)
//! ```

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tlog::{TileId, TileKind};

use crate::storage::LogStore;
use crate::{Error, Result};

/// How [`LogStore::sync`] makes writes durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncPolicy {
    /// `fsync` each written file and directory when few were written since
    /// the last barrier; otherwise one `syncfs(2)` of the filesystem, which
    /// is far cheaper than many `fsync` calls. (`syncfs` also flushes other
    /// processes' dirty data on the same filesystem; on a busy shared disk,
    /// `PerFile` may give steadier latency.)
    #[default]
    Auto,
    /// Always `fsync` every written file and every changed directory.
    PerFile,
    /// Always one `syncfs(2)` (Linux; flushes the whole filesystem).
    Filesystem,
}

/// Above this many dirty files, `Auto` switches to `syncfs`. Measured here
/// (ext4, virtio disk): one `fsync` ≈ 0.7 ms, one `syncfs` with a small dirty
/// set ≈ 2.5 ms, so `syncfs` wins from about four files (a commit also
/// fsyncs each new file's directory).
const AUTO_SYNCFS_THRESHOLD: usize = 3;

/// Filesystem [`LogStore`]. Holds the writer lock for its lifetime.
#[derive(Debug)]
pub struct FsStore {
    log: PathBuf,
    state: PathBuf,
    policy: SyncPolicy,
    /// `DIR/log` and `DIR/state` are on one filesystem, so a `syncfs` of
    /// the log also covers the staged checkpoint.
    same_fs: bool,
    _lock: File,
    inner: Mutex<Dirty>,
}

#[derive(Debug, Default)]
struct Dirty {
    /// Files written since the last barrier (dropped once past the threshold).
    files: Vec<File>,
    file_count: usize,
    dirs: HashSet<PathBuf>,
    /// The staged checkpoint (and whether the write created the file, so
    /// its directory entry needs an fsync too).
    staged: Option<(File, bool)>,
    /// Directories known to exist.
    known_dirs: HashSet<PathBuf>,
}

pub(crate) const LOG_DIR: &str = "log";
pub(crate) const STATE_DIR: &str = "state";
const STAGED: &str = "staged-checkpoint";
const PUBLISH_TMP: &str = "checkpoint.tmp";
const LOCK: &str = "lock";

impl FsStore {
    /// Opens the store under `dir` and takes the writer lock.
    pub fn open(dir: &Path, policy: SyncPolicy) -> Result<FsStore> {
        let log = dir.join(LOG_DIR);
        let state = dir.join(STATE_DIR);
        if !log.is_dir() || !state.is_dir() {
            return Err(Error::NotInitialized(dir.to_path_buf()));
        }
        let lock_path = state.join(LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(Error::io("open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(Error::Locked(dir.to_path_buf())),
            Err(fs::TryLockError::Error(e)) => return Err(Error::io("lock", &lock_path)(e)),
        }
        let same_fs = same_filesystem(&log, &state);
        Ok(FsStore {
            log,
            state,
            policy,
            same_fs,
            _lock: lock,
            inner: Mutex::new(Dirty::default()),
        })
    }

    /// Creates the directory skeleton of a new store (no lock taken).
    pub(crate) fn create_layout(dir: &Path) -> Result<()> {
        for d in [dir.join(LOG_DIR), dir.join(STATE_DIR)] {
            fs::create_dir_all(&d).map_err(Error::io("create directory", &d))?;
        }
        Ok(())
    }

    fn tile_path(&self, tile: &TileId) -> PathBuf {
        self.log.join(tile.path())
    }

    fn dirty(&self) -> std::sync::MutexGuard<'_, Dirty> {
        // A poisoned lock only means another thread panicked mid-update; the
        // dirty set is still a safe over-approximation.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn ensure_dir(&self, d: &mut Dirty, dir: &Path) -> Result<()> {
        if d.known_dirs.contains(dir) {
            return Ok(());
        }
        if !dir.is_dir() {
            // Create missing ancestors first so each new entry's parent is
            // marked for fsync.
            if let Some(parent) = dir.parent() {
                if parent != self.log && parent.starts_with(&self.log) {
                    self.ensure_dir(d, parent)?;
                }
                d.dirs.insert(parent.to_path_buf());
            }
            match fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io("create directory", dir)(e)),
            }
        }
        d.known_dirs.insert(dir.to_path_buf());
        Ok(())
    }

    /// Records a written file for the next barrier.
    fn written(&self, d: &mut Dirty, path: &Path, f: File) {
        if let Some(parent) = path.parent() {
            d.dirs.insert(parent.to_path_buf());
        }
        d.file_count += 1;
        if self.policy == SyncPolicy::PerFile || d.file_count <= AUTO_SYNCFS_THRESHOLD {
            d.files.push(f);
        } else {
            d.files.clear();
        }
    }
}

enum SyncJob {
    File(File, PathBuf),
    Dir(PathBuf),
}

impl SyncJob {
    fn run(self) -> Result<()> {
        match self {
            SyncJob::File(f, place) => f.sync_all().map_err(Error::io("fsync", place)),
            SyncJob::Dir(d) => fsync_dir(&d),
        }
    }
}

/// Runs fsyncs concurrently (at most 8 threads); the first error wins.
fn run_sync_jobs(jobs: Vec<SyncJob>) -> Result<()> {
    if jobs.len() <= 1 {
        return jobs.into_iter().try_for_each(SyncJob::run);
    }
    let queue = Mutex::new(jobs);
    let workers = queue.lock().map(|q| q.len().min(8)).unwrap_or(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    loop {
                        let job = queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .pop();
                        match job {
                            Some(j) => j.run()?,
                            None => return Ok(()),
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(Error::Failed("an fsync worker thread panicked".into())))
        })
    })
}

#[cfg(unix)]
fn same_filesystem(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_filesystem(_a: &Path, _b: &Path) -> bool {
    false
}

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(Error::io("fsync directory", dir))
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path)(e)),
    }
}

fn remove_file_if_exists(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("remove", path)(e)),
    }
}

fn partial_dir(full: &Path) -> PathBuf {
    let mut s = full.as_os_str().to_owned();
    s.push(".p");
    PathBuf::from(s)
}

impl LogStore for FsStore {
    fn write_tile(&self, tile: &TileId, data: &[u8]) -> Result<()> {
        let path = self.tile_path(tile);
        if let Some(parent) = path.parent() {
            let mut d = self.dirty();
            self.ensure_dir(&mut d, parent)?;
        }
        // The write itself happens outside the lock, so several writers can
        // create files concurrently.
        let mut f = File::create(&path).map_err(Error::io("create", &path))?;
        f.write_all(data).map_err(Error::io("write", &path))?;
        let mut d = self.dirty();
        self.written(&mut d, &path, f);
        Ok(())
    }

    fn read_tile(&self, tile: &TileId) -> Result<Option<Vec<u8>>> {
        read_optional(&self.tile_path(tile))
    }

    fn remove_partials(&self, full: &TileId) -> Result<()> {
        let dir = partial_dir(&self.tile_path(full));
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", &dir)(e)),
        }
    }

    fn remove_beyond(
        &self,
        kind: TileKind,
        from_index: u64,
        keep_width: u16,
        limit: u64,
    ) -> Result<u64> {
        // A commit writes its tiles in index order, so after a process crash
        // what it left is contiguous from `from_index`; after a power loss
        // there may be gaps, so probe past a few missing indices. Anything
        // left further out is harmless: never part of a published tree, it
        // is overwritten before it could be, and recovery checks every tile
        // of a staged checkpoint before rolling it forward.
        const GAP: u64 = 8;
        let mut removed = 0;
        let mut dirs = HashSet::new();
        let mut misses = 0;
        for index in from_index..from_index.saturating_add(limit) {
            let full = self.tile_path(&TileId::full(kind, index));
            let mut seen = false;
            if remove_file_if_exists(&full)? {
                removed += 1;
                seen = true;
                if let Some(p) = full.parent() {
                    dirs.insert(p.to_path_buf());
                }
            }
            let pdir = partial_dir(&full);
            match fs::read_dir(&pdir) {
                Ok(entries) => {
                    seen = true;
                    for entry in entries {
                        let entry = entry.map_err(Error::io("list", &pdir))?;
                        let width: Option<u16> =
                            entry.file_name().to_str().and_then(|s| s.parse().ok());
                        if index > from_index || width.is_none_or(|w| w > keep_width) {
                            removed += u64::from(remove_file_if_exists(&entry.path())?);
                            dirs.insert(pdir.clone());
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("list", &pdir)(e)),
            }
            misses = if seen { 0 } else { misses + 1 };
            if misses >= GAP {
                break;
            }
        }
        // Make the removals durable before anything is rolled forward.
        for dir in dirs {
            fsync_dir(&dir)?;
        }
        Ok(removed)
    }

    fn write_staged(&self, note: &[u8]) -> Result<()> {
        let path = self.state.join(STAGED);
        let mut d = self.dirty();
        let created = !path.exists();
        let mut f = File::create(&path).map_err(Error::io("create", &path))?;
        f.write_all(note).map_err(Error::io("write", &path))?;
        // The staged record is always fsync'd on its own: it must never be
        // covered only by a syncfs of another filesystem.
        d.staged = Some((f, created));
        d.dirs.insert(self.state.clone());
        Ok(())
    }

    fn read_staged(&self) -> Result<Option<Vec<u8>>> {
        read_optional(&self.state.join(STAGED))
    }

    fn sync(&self) -> Result<()> {
        // Take the dirty set and release the lock before any syscall, so the
        // writer can stage the next commit while this one is flushed.
        let (files, dirs, staged, count) = {
            let mut d = self.dirty();
            let count = std::mem::take(&mut d.file_count);
            (
                std::mem::take(&mut d.files),
                std::mem::take(&mut d.dirs),
                d.staged.take(),
                count,
            )
        };
        let use_syncfs = match self.policy {
            SyncPolicy::Filesystem => true,
            SyncPolicy::PerFile => false,
            SyncPolicy::Auto => count > AUTO_SYNCFS_THRESHOLD,
        };
        if use_syncfs {
            let dir = File::open(&self.log).map_err(Error::io("open", &self.log))?;
            rustix::fs::syncfs(&dir)
                .map_err(|e| Error::io("syncfs", &self.log)(std::io::Error::from(e)))?;
        }
        // Per-file barrier: the files, the directories that gained entries,
        // and the staged checkpoint (unless syncfs already covered it) are
        // fsync'd concurrently — the filesystem journal then commits them
        // together instead of once per call.
        let mut jobs: Vec<SyncJob> = Vec::new();
        if !use_syncfs {
            jobs.extend(
                files
                    .into_iter()
                    .map(|f| SyncJob::File(f, self.log.clone())),
            );
            jobs.extend(dirs.into_iter().map(SyncJob::Dir));
        }
        if let Some((f, created)) = staged.filter(|_| !(use_syncfs && self.same_fs)) {
            jobs.push(SyncJob::File(f, self.state.clone()));
            if created {
                jobs.push(SyncJob::Dir(self.state.clone()));
            }
        }
        run_sync_jobs(jobs)
    }

    fn publish(&self, note: &[u8]) -> Result<()> {
        let tmp = self.state.join(PUBLISH_TMP);
        let mut f = File::create(&tmp).map_err(Error::io("create", &tmp))?;
        f.write_all(note).map_err(Error::io("write", &tmp))?;
        f.sync_all().map_err(Error::io("fsync", &tmp))?;
        let dest = self.log.join("checkpoint");
        fs::rename(&tmp, &dest).map_err(Error::io("rename into place", &dest))?;
        fsync_dir(&self.log)
    }

    fn read_published(&self) -> Result<Option<Vec<u8>>> {
        read_optional(&self.log.join("checkpoint"))
    }
}
