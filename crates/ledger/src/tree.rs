//! The sequencer's in-memory view of the right edge of the tree, and the
//! pure step that turns appended entries into the tiles a commit must write.

use tlog::{CompactRange, Hash, TILE_HEIGHT, TILE_WIDTH, TileId, TileKind};

use crate::{Error, Result};

/// Tile levels a 64-bit tree can have (256^8 = 2^64).
pub(crate) const LEVELS: usize = 8;

/// True if the tree of size `old` had a partial version of `full`.
fn had_partial(full: TileId, old: u64) -> bool {
    TileId::at_size(full.kind, full.index, old).is_some_and(|t| !t.is_full())
}

/// `x >> s`, and 0 when the shift is 64 or more (tile level 7 spans 2^64).
pub(crate) fn shr(x: u64, s: u32) -> u64 {
    x.checked_shr(s).unwrap_or(0)
}

/// The right edge of the tree: everything needed to keep appending without
/// reading back tiles.
#[derive(Clone, Debug, Default)]
pub(crate) struct TreeState {
    range: CompactRange,
    /// Hashes of the rightmost (partial) tile at each tile level.
    edge: [Vec<Hash>; LEVELS],
    /// The rightmost (partial) entry bundle, encoded.
    bundle: Vec<u8>,
    bundle_entries: u16,
}

/// What one commit writes: completed full tiles and bundles, the partial
/// ones for the new size, and the new tree head.
#[derive(Debug, Default)]
pub(crate) struct CommitSet {
    pub(crate) tiles: Vec<(TileId, Vec<u8>)>,
    /// Full tiles completed by this commit that had partial versions on
    /// disk (those can go once the commit is published; a tile completed
    /// within one commit never had any).
    pub(crate) completed: Vec<TileId>,
    pub(crate) size: u64,
    pub(crate) root: Hash,
}

impl TreeState {
    /// Rebuilds the state of a tree of `size` from its partial tiles:
    /// `edge[l]` are the hashes of the partial tile at level `l`, `bundle`
    /// the partial entry bundle (its entries must hash to `edge[0]`).
    pub(crate) fn from_edge(
        size: u64,
        edge: [Vec<Hash>; LEVELS],
        bundle: Vec<u8>,
    ) -> Result<TreeState> {
        let views: Vec<&[Hash]> = edge.iter().map(Vec::as_slice).collect();
        let range = CompactRange::from_tile_edge(size, &views).ok_or_else(|| {
            Error::corrupt(
                "tile/",
                format!("partial tiles do not fit a tree of size {size}"),
            )
        })?;
        let mut count = 0u16;
        let first_leaf = (size >> TILE_HEIGHT) << TILE_HEIGHT;
        for (i, entry) in tlog::decode_bundle(&bundle).enumerate() {
            let entry = entry.map_err(|e| Error::corrupt("partial entry bundle", e.to_string()))?;
            let want = edge[0].get(i).ok_or_else(|| {
                Error::corrupt(
                    format!("entry {}", first_leaf + i as u64),
                    "partial entry bundle has more entries than its tile",
                )
            })?;
            if &tlog::leaf_hash(entry) != want {
                return Err(Error::corrupt(
                    format!("entry {}", first_leaf + i as u64),
                    "entry does not hash to its level-0 tile hash",
                ));
            }
            count += 1;
        }
        if usize::from(count) != edge[0].len() {
            return Err(Error::corrupt(
                "partial entry bundle",
                format!(
                    "{count} entries for a level-0 tile of width {}",
                    edge[0].len()
                ),
            ));
        }
        Ok(TreeState {
            range,
            edge,
            bundle,
            bundle_entries: count,
        })
    }

    pub(crate) fn size(&self) -> u64 {
        self.range.size()
    }

    pub(crate) fn root(&self) -> Hash {
        self.range.root()
    }

    /// Appends entries (with their precomputed leaf hashes) and returns the
    /// tiles the commit must write for the new size.
    pub(crate) fn append<'a>(
        &mut self,
        entries: impl Iterator<Item = (&'a [u8], Hash)>,
    ) -> Result<CommitSet> {
        let mut out = CommitSet::default();
        let old = self.size();
        for (entry, leaf) in entries {
            tlog::append_entry(&mut self.bundle, entry).map_err(|_| Error::EntryTooLarge {
                position: 0,
                len: entry.len(),
            })?;
            self.bundle_entries += 1;
            let edge = &mut self.edge;
            if let Some(level0) = edge.first_mut() {
                level0.push(leaf);
            }
            self.range.append(leaf, |height, _, hash| {
                if height % TILE_HEIGHT == 0
                    && let Some(level) = edge.get_mut((height / TILE_HEIGHT) as usize)
                {
                    level.push(*hash);
                }
            });
            if u64::from(self.bundle_entries) == TILE_WIDTH {
                self.flush_full(old, &mut out);
            }
        }
        self.partials(old, &mut out);
        out.size = self.size();
        out.root = self.root();
        Ok(out)
    }

    /// Emits the full bundle and every tile level that just filled up.
    fn flush_full(&mut self, old: u64, out: &mut CommitSet) {
        let size = self.size();
        let index = (size >> TILE_HEIGHT) - 1;
        let bundle = TileId::full(TileKind::Entries, index);
        out.tiles.push((bundle, std::mem::take(&mut self.bundle)));
        if had_partial(bundle, old) {
            out.completed.push(bundle);
        }
        self.bundle_entries = 0;
        for (level, hashes) in self.edge.iter_mut().enumerate() {
            if hashes.len() as u64 != TILE_WIDTH {
                break;
            }
            let shift = TILE_HEIGHT * (level as u32 + 1);
            let index = shr(size, shift).saturating_sub(1);
            let tile = TileId::full(TileKind::Hashes { level: level as u8 }, index);
            out.tiles.push((tile, hashes.concat()));
            if had_partial(tile, old) {
                out.completed.push(tile);
            }
            hashes.clear();
        }
    }

    /// Emits the partial tiles and bundle a tree of the current size needs
    /// (c2sp.org/tlog-tiles: "Logs MUST serve partial tiles corresponding to
    /// tree sizes for which a checkpoint was produced"). A partial tile the
    /// tree of size `old` already had is not written again: it is part of
    /// the published tree, and rewriting it in place could tear it.
    fn partials(&self, old: u64, out: &mut CommitSet) {
        let size = self.size();
        for (level, hashes) in self.edge.iter().enumerate() {
            if hashes.is_empty() {
                continue;
            }
            let index = shr(size, TILE_HEIGHT * (level as u32 + 1));
            let kind = TileKind::Hashes { level: level as u8 };
            let id = TileId {
                kind,
                index,
                width: hashes.len() as u16,
            };
            if TileId::at_size(kind, index, old) == Some(id) {
                continue;
            }
            out.tiles.push((id, hashes.concat()));
        }
        let bundle_index = size >> TILE_HEIGHT;
        if self.bundle_entries > 0
            && TileId::at_size(TileKind::Entries, bundle_index, old).map(|t| t.width)
                != Some(self.bundle_entries)
        {
            let index = bundle_index;
            out.tiles.push((
                TileId {
                    kind: TileKind::Entries,
                    index,
                    width: self.bundle_entries,
                },
                self.bundle.clone(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u64) -> Vec<u8> {
        format!("entry {i}").into_bytes()
    }

    #[test]
    fn tiles_match_the_tree() {
        let mut t = TreeState::default();
        let mut all: std::collections::HashMap<TileId, Vec<u8>> = Default::default();
        let mut n = 0u64;
        for batch in [1u64, 254, 1, 1, 300, 65_000, 1000] {
            let es: Vec<Vec<u8>> = (n..n + batch).map(entry).collect();
            let set = t
                .append(es.iter().map(|e| (e.as_slice(), tlog::leaf_hash(e))))
                .unwrap();
            n += batch;
            assert_eq!(set.size, n);
            for (id, data) in set.tiles {
                if id.kind != TileKind::Entries {
                    assert_eq!(data.len(), id.hash_bytes());
                }
                all.insert(id, data);
            }
            // Every tile needed at this size exists with the right width, and
            // the root rebuilt from them matches.
            let mut edge: [Vec<Hash>; LEVELS] = Default::default();
            for level in 0..LEVELS as u8 {
                let kind = TileKind::Hashes { level };
                let count = TileId::count_at_size(kind, n);
                for index in 0..count {
                    let id = TileId::at_size(kind, index, n).unwrap();
                    let data = all.get(&id).unwrap_or_else(|| panic!("missing {id}"));
                    if !id.is_full() {
                        edge[level as usize] =
                            data.chunks(32).map(|c| c.try_into().unwrap()).collect();
                    }
                }
            }
            let bundle_id = TileId::at_size(TileKind::Entries, n >> 8, n);
            let bundle = bundle_id
                .filter(|b| !b.is_full())
                .map(|b| all[&b].clone())
                .unwrap_or_default();
            let rebuilt = TreeState::from_edge(n, edge, bundle).unwrap();
            assert_eq!(rebuilt.root(), set.root);
        }
        // Level-1 tile 0 is the tile hashes of the first 256 level-0 tiles.
        let l1 = &all[&TileId::full(TileKind::Hashes { level: 1 }, 0)];
        let t0 = &all[&TileId::full(TileKind::Hashes { level: 0 }, 0)];
        let hashes: Vec<Hash> = t0.chunks(32).map(|c| c.try_into().unwrap()).collect();
        assert_eq!(&l1[..32], &tlog::complete_subtree_root(&hashes).unwrap());
    }
}
