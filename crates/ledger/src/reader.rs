//! Read-only access to a log directory: proofs and entries from tiles.
//!
//! Needs no lock and no key, so it can run beside a writer (a partial tile
//! removed because its full tile now exists is read as a prefix of the full
//! tile, as c2sp.org/tlog-tiles lets clients do).

use std::collections::HashMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use tlog::{Hash, TILE_HEIGHT, TileId, TileKind};

use crate::{Error, Result};

/// Reads tiles, entries and the checkpoint of a log directory (`DIR/log`).
#[derive(Debug)]
pub struct LogReader {
    log: PathBuf,
    cache: HashMap<(TileKind, u64), Vec<u8>>,
}

impl LogReader {
    /// A reader over the data directory `dir` (reads `dir/log`).
    pub fn open(dir: &Path) -> Result<LogReader> {
        let log = dir.join(crate::fs::LOG_DIR);
        if !log.join("checkpoint").is_file() {
            return Err(Error::NotInitialized(dir.to_path_buf()));
        }
        Ok(LogReader {
            log,
            cache: HashMap::new(),
        })
    }

    /// A reader over a bare tiles directory (the one holding `checkpoint`
    /// and `tile/`).
    #[must_use]
    pub fn over_log_dir(log: &Path) -> LogReader {
        LogReader {
            log: log.to_path_buf(),
            cache: HashMap::new(),
        }
    }

    /// The published checkpoint's bytes (unverified).
    pub fn checkpoint_bytes(&self) -> Result<Vec<u8>> {
        let p = self.log.join("checkpoint");
        fs::read(&p).map_err(Error::io("read", &p))
    }

    /// Reads a tile as it exists in a tree of `size`: the partial file, or
    /// the prefix of the full tile if the partial was removed.
    pub fn tile(&mut self, kind: TileKind, index: u64, size: u64) -> Result<Vec<u8>> {
        let id = TileId::at_size(kind, index, size).ok_or_else(|| {
            Error::OutOfRange(format!("tile {index} of {kind:?} is beyond size {size}"))
        })?;
        if let Some(full) = self.cache.get(&(kind, index))
            && let Some(prefix) = prefix_of(full, &id)
        {
            return Ok(prefix);
        }
        let path = self.log.join(id.path());
        match fs::read(&path) {
            Ok(data) => {
                if id.is_full() {
                    if self.cache.len() > 4096 {
                        self.cache.clear();
                    }
                    self.cache.insert((kind, index), data.clone());
                }
                Ok(data)
            }
            Err(e) if e.kind() == ErrorKind::NotFound && !id.is_full() => {
                let full = self.log.join(id.to_full().path());
                let data = fs::read(&full).map_err(|_| Error::corrupt(id.path(), "missing"))?;
                prefix_of(&data, &id).ok_or_else(|| {
                    Error::corrupt(id.path(), "missing (and its full tile is too short)")
                })
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::corrupt(id.path(), "missing")),
            Err(e) => Err(Error::io("read", &path)(e)),
        }
    }

    /// The hashes of a Merkle tile as it exists in a tree of `size`.
    pub fn tile_hashes(&mut self, level: u8, index: u64, size: u64) -> Result<Vec<Hash>> {
        let kind = TileKind::Hashes { level };
        let id = TileId::at_size(kind, index, size).ok_or_else(|| {
            Error::OutOfRange(format!("tile {level}/{index} is beyond size {size}"))
        })?;
        let data = self.tile(kind, index, size)?;
        parse_hashes(&id, &data)
    }

    /// The root of the complete subtree of `height` at `index` in a tree of
    /// `size` (the subtree must be complete within `size`).
    pub fn subtree(&mut self, height: u32, index: u64, size: u64) -> Result<Hash> {
        let level = (height / TILE_HEIGHT) as u8;
        let rem = height % TILE_HEIGHT;
        let first = index << rem;
        let tile_index = first >> TILE_HEIGHT;
        let offset = (first & 0xff) as usize;
        let hashes = self.tile_hashes(level, tile_index, size)?;
        let span = hashes
            .get(offset..offset + (1usize << rem))
            .ok_or_else(|| {
                Error::OutOfRange(format!(
                    "subtree {height}/{index} is not complete in size {size}"
                ))
            })?;
        tlog::complete_subtree_root(span).ok_or_else(|| Error::OutOfRange("empty subtree".into()))
    }

    /// The inclusion proof of entry `index` in the tree of `size`.
    pub fn inclusion_proof(&mut self, index: u64, size: u64) -> Result<Vec<Hash>> {
        tlog::inclusion_proof(index, size, &mut |h, i| self.subtree(h, i, size))
    }

    /// The consistency proof from `old` to `new`.
    pub fn consistency_proof(&mut self, old: u64, new: u64) -> Result<Vec<Hash>> {
        tlog::consistency_proof(old, new, &mut |h, i| self.subtree(h, i, new))
    }

    /// The root of the tree of `size`, from the tiles of a tree of `within`
    /// (`size <= within`).
    pub fn root_at(&mut self, size: u64, within: u64) -> Result<Hash> {
        tlog::range_root(0, size, &mut |h, i| self.subtree(h, i, within))
    }

    /// Entry `index` in a tree of `size`.
    pub fn entry(&mut self, index: u64, size: u64) -> Result<Vec<u8>> {
        if index >= size {
            return Err(Error::OutOfRange(format!(
                "entry {index} is beyond the log size {size}"
            )));
        }
        let bundle = self.tile(TileKind::Entries, index >> TILE_HEIGHT, size)?;
        let pos = (index & 0xff) as usize;
        let e = tlog::decode_bundle(&bundle)
            .nth(pos)
            .ok_or_else(|| Error::corrupt(format!("entry {index}"), "missing from its bundle"))?;
        e.map(<[u8]>::to_vec)
            .map_err(|err| Error::corrupt(format!("entry {index}"), err.to_string()))
    }
}

/// The hashes of a Merkle tile's bytes, which must be exactly `width · 32`.
pub(crate) fn parse_hashes(id: &TileId, data: &[u8]) -> Result<Vec<Hash>> {
    if data.len() != id.hash_bytes() {
        return Err(Error::corrupt(
            id.path(),
            format!("{} bytes, expected {}", data.len(), id.hash_bytes()),
        ));
    }
    Ok(data
        .chunks_exact(tlog::HASH_SIZE)
        .filter_map(|c| <Hash>::try_from(c).ok())
        .collect())
}

/// The prefix of a full tile matching a partial tile id (entry bundles are
/// cut after `width` entries, hash tiles after `width` hashes).
fn prefix_of(full: &[u8], id: &TileId) -> Option<Vec<u8>> {
    match id.kind {
        TileKind::Hashes { .. } => full.get(..id.hash_bytes()).map(<[u8]>::to_vec),
        TileKind::Entries => {
            let mut end = 0usize;
            for e in tlog::decode_bundle(full).take(usize::from(id.width)) {
                end += 2 + e.ok()?.len();
            }
            full.get(..end).map(<[u8]>::to_vec)
        }
    }
}
