//! Fetching a log the way an outside auditor does: only over HTTP, from a
//! server's read-only `/log/` (C2SP tlog-tiles URLs), into a local directory
//! that `ledger::verify_log` (or any tlog-tiles verifier) can then check.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, bail};
use tlog::{TileId, TileKind};

/// Downloads `/log/checkpoint` and every tile and entry bundle its size
/// needs into `dest` (a `log/` directory). Returns the number of files.
///
/// The checkpoint is fetched first and the tiles at its size afterwards. If
/// the log grew meanwhile, a partial tile of the fetched size may have been
/// superseded by a wider one; tlog-tiles lets a client then use a prefix of
/// the wider (or full) tile, which is what this does.
pub fn fetch_log(base: &str, dest: &Path) -> anyhow::Result<u64> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let base = base.trim_end_matches('/');
    let get = |path: &str| -> anyhow::Result<Option<Vec<u8>>> {
        let mut resp = agent
            .get(&format!("{base}/log/{path}"))
            .call()
            .with_context(|| format!("GET /log/{path}"))?;
        match resp.status().as_u16() {
            200 => Ok(Some(
                resp.body_mut()
                    .with_config()
                    .limit(1 << 24)
                    .read_to_vec()
                    .with_context(|| format!("GET /log/{path}"))?,
            )),
            404 => Ok(None),
            s => bail!("GET /log/{path}: HTTP {s}"),
        }
    };
    let note = get("checkpoint")?.context("the server has no /log/checkpoint")?;
    let size = checkpoint_size(&note)?;
    write(dest, "checkpoint", &note)?;
    let mut tiles = Vec::new();
    tiles.extend(
        (0..TileId::count_at_size(TileKind::Entries, size))
            .filter_map(|i| TileId::at_size(TileKind::Entries, i, size)),
    );
    let mut level = 0u8;
    while TileId::count_at_size(TileKind::Hashes { level }, size) > 0 {
        let kind = TileKind::Hashes { level };
        tiles.extend(
            (0..TileId::count_at_size(kind, size)).filter_map(|i| TileId::at_size(kind, i, size)),
        );
        level += 1;
    }
    // A few connections at once, as any tile-fetching client does.
    let next = AtomicUsize::new(0);
    let results: Vec<anyhow::Result<()>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    while let Some(tile) = tiles.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let path = tile.path();
                        let bytes = match get(&path)? {
                            Some(b) => b,
                            None if !tile.is_full() => {
                                // Superseded partial: a prefix of the full tile.
                                let full = get(&tile.to_full().path())?.with_context(|| {
                                    format!("/log/{path} and its full tile are missing")
                                })?;
                                prefix(&full, tile)?
                            }
                            None => bail!("/log/{path} is missing"),
                        };
                        write(dest, &path, &bytes)?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("fetch worker failed")))
            })
            .collect()
    });
    for r in results {
        r?;
    }
    Ok(tiles.len() as u64 + 1)
}

/// The tree size on the second line of a checkpoint note (C2SP
/// tlog-checkpoint); the signature is checked later by the verifier.
fn checkpoint_size(note: &[u8]) -> anyhow::Result<u64> {
    let text = std::str::from_utf8(note).context("the checkpoint is not UTF-8")?;
    text.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .context("the checkpoint has no tree size on its second line")
}

/// The first `tile.width` records of a wider tile: hashes are 32 bytes each;
/// entry bundles are length-prefixed (u16 big-endian) entries.
fn prefix(full: &[u8], tile: &TileId) -> anyhow::Result<Vec<u8>> {
    let want = usize::from(tile.width);
    match tile.kind {
        TileKind::Hashes { .. } => full
            .get(..want * 32)
            .map(<[u8]>::to_vec)
            .context("the full tile is shorter than the partial one"),
        TileKind::Entries => {
            let mut at = 0usize;
            for _ in 0..want {
                let len = full
                    .get(at..at + 2)
                    .and_then(|b| <[u8; 2]>::try_from(b).ok())
                    .map(|b| usize::from(u16::from_be_bytes(b)))
                    .context("truncated bundle")?;
                at += 2 + len;
            }
            full.get(..at)
                .map(<[u8]>::to_vec)
                .context("truncated bundle")
        }
    }
}

fn write(dest: &Path, path: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let p = dest.join(path);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&p, bytes).with_context(|| format!("write {}", p.display()))
}
