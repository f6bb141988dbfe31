//! Full verification of a log directory: the checkpoint's signature, every
//! entry against its level-0 tile, every tile against the tiles below, the
//! root against the checkpoint, and consistency with every checkpoint the
//! verifier already knows (so a rollback or a fork is caught).

use std::path::Path;

use tlog::{Hash, TILE_HEIGHT, TileId, TileKind, VerifiedCheckpoint, Verifier};

use crate::reader::LogReader;
use crate::tree::LEVELS;

/// The first bad place found, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {reason}")]
pub struct VerifyError {
    /// The file or entry that failed, e.g. `tile/entries/x001/234` or
    /// `entry 1234 (tile/entries/004)`.
    pub place: String,
    /// What is wrong with it.
    pub reason: String,
}

fn bad(place: impl Into<String>, reason: impl Into<String>) -> VerifyError {
    VerifyError {
        place: place.into(),
        reason: reason.into(),
    }
}

/// A reader error about `place`, without repeating the place.
fn read_err(place: String, e: crate::Error) -> VerifyError {
    match e {
        crate::Error::Corrupt { reason, .. } => bad(place, reason),
        other => bad(place, other.to_string()),
    }
}

/// A checkpoint the verifier saw before (remembered or given), with where it
/// came from for messages.
#[derive(Debug, Clone)]
pub struct KnownCheckpoint {
    /// Where it came from ("remembered", a file name).
    pub source: String,
    /// The note bytes.
    pub note: Vec<u8>,
}

/// What a successful verification covered.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The verified checkpoint.
    pub checkpoint: VerifiedCheckpoint,
    /// Entries checked.
    pub entries: u64,
    /// Entry bytes read.
    pub entry_bytes: u64,
    /// Tiles and bundles checked.
    pub tiles: u64,
    /// Known checkpoints checked for consistency (source, size).
    pub known: Vec<(String, u64)>,
}

/// Verifies the log in `log_dir` (the directory holding `checkpoint` and
/// `tile/`) against `verifier`. `progress(entries_done, total)` is called as
/// it goes. Returns the first bad place.
pub fn verify_log(
    log_dir: &Path,
    verifier: &Verifier,
    known: &[KnownCheckpoint],
    mut progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, VerifyError> {
    let cp_path = log_dir.join("checkpoint");
    let note =
        std::fs::read(&cp_path).map_err(|e| bad("checkpoint", format!("cannot read: {e}")))?;
    let cp = tlog::open_checkpoint(&note, verifier.name(), verifier)
        .map_err(|e| bad("checkpoint", e.to_string()))?;
    let size = cp.size();
    let mut reader = LogReader::over_log_dir(log_dir);
    let mut report = VerifyReport {
        checkpoint: cp.clone(),
        entries: 0,
        entry_bytes: 0,
        tiles: 0,
        known: vec![],
    };

    // Known checkpoints first: a rollback is reported even if the older
    // tree itself is intact.
    let mut known_ok = Vec::new();
    for k in known {
        let kc = tlog::open_checkpoint(&k.note, verifier.name(), verifier)
            .map_err(|e| bad(format!("known checkpoint ({})", k.source), e.to_string()))?;
        if kc.size() > size {
            return Err(bad(
                "checkpoint",
                format!(
                    "rollback: the log's checkpoint has size {size}, but a checkpoint of size {} signed by the same key is known ({})",
                    kc.size(),
                    k.source
                ),
            ));
        }
        known_ok.push((k.source.clone(), kc));
    }

    // Level by level: `computed[l]` holds the hashes of the current tile at
    // level l as recomputed from the data below it.
    let mut computed: [Vec<Hash>; LEVELS] = Default::default();
    let mut done = [0u64; LEVELS];
    let bundles = TileId::count_at_size(TileKind::Entries, size);
    const CHUNK: u64 = 256;
    let mut start = 0u64;
    while start < bundles {
        let end = (start + CHUNK).min(bundles);
        let mid = start + (end - start) / 2;
        let log = log_dir.to_path_buf();
        // Two workers hash leaves and level-0 tile roots in parallel.
        let (a, b) = std::thread::scope(|s| {
            let h = s.spawn(|| check_bundles(&log, start, mid, size));
            let b = check_bundles(&log, mid, end, size);
            (
                h.join()
                    .unwrap_or_else(|_| Err(bad("verifier", "worker failed"))),
                b,
            )
        });
        for part in [a?, b?] {
            report.entries += part.entries;
            report.entry_bytes += part.bytes;
            report.tiles += 2 * part.roots.len() as u64 + u64::from(part.partial.is_some()) * 2;
            for root in part.roots {
                push_and_check(
                    &mut reader,
                    &mut computed,
                    &mut done,
                    1,
                    root,
                    size,
                    &mut report.tiles,
                )?;
            }
            if let Some(p) = part.partial
                && let Some(level0) = computed.first_mut()
            {
                *level0 = p;
            }
        }
        progress(report.entries, size);
        start = end;
    }

    // Partial tiles at levels >= 1 must match what the data gives.
    for level in 1..LEVELS {
        let hashes = computed.get(level).map(Vec::as_slice).unwrap_or(&[]);
        if hashes.is_empty() {
            continue;
        }
        let kind = TileKind::Hashes { level: level as u8 };
        let index = crate::tree::shr(size, TILE_HEIGHT * (level as u32 + 1));
        let id = TileId::at_size(kind, index, size)
            .ok_or_else(|| bad("tile", "internal width error"))?;
        compare_tile(&mut reader, &id, hashes, size)?;
        report.tiles += 1;
    }
    let views: Vec<&[Hash]> = computed.iter().map(Vec::as_slice).collect();
    let root = tlog::CompactRange::from_tile_edge(size, &views)
        .ok_or_else(|| bad("tile", "tiles do not fit the checkpoint size"))?
        .root();
    if &root != cp.root() {
        return Err(bad(
            "checkpoint",
            "root hash does not match the root recomputed from the entries",
        ));
    }

    for (source, kc) in known_ok {
        let r = reader
            .root_at(kc.size(), size)
            .map_err(|e| bad("tile", e.to_string()))?;
        if &r != kc.root() {
            return Err(bad(
                "checkpoint",
                format!(
                    "fork: the log at size {} does not match the known checkpoint of that size ({source})",
                    kc.size()
                ),
            ));
        }
        report.known.push((source, kc.size()));
    }
    progress(report.entries, size);
    Ok(report)
}

/// Adds a hash at `level` (a root of a full tile at `level - 1`); when the
/// tile at `level` fills up, compares it with the stored one and carries
/// its root upward.
fn push_and_check(
    reader: &mut LogReader,
    computed: &mut [Vec<Hash>; LEVELS],
    done: &mut [u64; LEVELS],
    level: usize,
    hash: Hash,
    size: u64,
    tiles: &mut u64,
) -> Result<(), VerifyError> {
    let Some(slot) = computed.get_mut(level) else {
        return Ok(());
    };
    slot.push(hash);
    if slot.len() < 256 {
        return Ok(());
    }
    let hashes = std::mem::take(slot);
    // Tiles complete in order, so its index is the count completed before it.
    let Some(counter) = done.get_mut(level) else {
        return Ok(());
    };
    let index = *counter;
    *counter += 1;
    let id = TileId::full(TileKind::Hashes { level: level as u8 }, index);
    compare_tile(reader, &id, &hashes, size)?;
    *tiles += 1;
    let root =
        tlog::complete_subtree_root(&hashes).ok_or_else(|| bad(id.path(), "internal error"))?;
    push_and_check(reader, computed, done, level + 1, root, size, tiles)
}

fn compare_tile(
    reader: &mut LogReader,
    id: &TileId,
    want: &[Hash],
    size: u64,
) -> Result<(), VerifyError> {
    let level = id.kind.hash_level();
    let got = reader
        .tile_hashes(level, id.index, size)
        .map_err(|e| read_err(id.path(), e))?;
    if got.len() != want.len() {
        return Err(bad(
            id.path(),
            format!("{} hashes, expected {}", got.len(), want.len()),
        ));
    }
    if let Some(pos) = got.iter().zip(want).position(|(g, w)| g != w) {
        return Err(bad(
            id.path(),
            format!(
                "hash {pos} does not match the hash recomputed from the tiles or entries below"
            ),
        ));
    }
    Ok(())
}

struct BundleRun {
    entries: u64,
    bytes: u64,
    /// Roots of the full level-0 tiles checked, in order.
    roots: Vec<Hash>,
    /// Hashes of the partial level-0 tile, if the range ends with one.
    partial: Option<Vec<Hash>>,
}

/// Checks entry bundles `[from, to)` against their level-0 tiles.
fn check_bundles(log: &Path, from: u64, to: u64, size: u64) -> Result<BundleRun, VerifyError> {
    let mut reader = LogReader::over_log_dir(log);
    let mut run = BundleRun {
        entries: 0,
        bytes: 0,
        roots: Vec::new(),
        partial: None,
    };
    for index in from..to {
        let id = TileId::at_size(TileKind::Entries, index, size)
            .ok_or_else(|| bad("tile/entries", "internal width error"))?;
        let bundle = reader
            .tile(TileKind::Entries, index, size)
            .map_err(|e| read_err(id.path(), e))?;
        let tile_id = TileId {
            kind: TileKind::Hashes { level: 0 },
            index,
            width: id.width,
        };
        let tile = reader
            .tile_hashes(0, index, size)
            .map_err(|e| read_err(tile_id.path(), e))?;
        let first = index << TILE_HEIGHT;
        let mut leaves = Vec::with_capacity(usize::from(id.width));
        for (i, e) in tlog::decode_bundle(&bundle).enumerate() {
            let e = e.map_err(|err| bad(id.path(), err.to_string()))?;
            let leaf = tlog::leaf_hash(e);
            if let Some(want) = tile.get(i)
                && &leaf != want
            {
                return Err(bad(
                    format!("entry {} ({})", first + i as u64, id.path()),
                    format!("does not hash to hash {i} of {}", tile_id.path()),
                ));
            }
            run.bytes += e.len() as u64;
            leaves.push(leaf);
        }
        if leaves.len() != usize::from(id.width) {
            return Err(bad(
                id.path(),
                format!("{} entries, expected {}", leaves.len(), id.width),
            ));
        }
        run.entries += leaves.len() as u64;
        if id.is_full() {
            run.roots.push(
                tlog::complete_subtree_root(&leaves)
                    .ok_or_else(|| bad(id.path(), "internal error"))?,
            );
        } else {
            run.partial = Some(leaves);
        }
    }
    Ok(run)
}
