//! C2SP tlog-tiles paths and tile geometry.
//!
//! A tile at level `L` holds up to 256 consecutive hashes of tree level
//! `8·L`; its index `N` is written as 3-digit groups, all but the last
//! prefixed with `x`, and partial tiles carry a `.p/<W>` suffix
//! (c2sp.org/tlog-tiles, "Merkle Tree" and "Log entries").

use std::fmt;

/// Tree levels covered by one tile (c2sp.org/tlog-tiles: tiles are 8 levels high).
pub const TILE_HEIGHT: u32 = 8;
/// Hashes (or entries) in a full tile or entry bundle.
pub const TILE_WIDTH: u64 = 256;
/// Highest tile level the spec allows ("a decimal ASCII integer between 0 and 63").
const MAX_LEVEL: u8 = 63;

/// Which resource a tile path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// A Merkle tree tile at `tile/<L>/…`.
    Hashes {
        /// The tile level `L` (hashes of tree level `8·L`).
        level: u8,
    },
    /// An entry bundle at `tile/entries/…`.
    Entries,
}

impl TileKind {
    /// Tile level whose hashes these resources correspond to (entry bundles
    /// correspond to level 0).
    #[must_use]
    pub fn hash_level(self) -> u8 {
        match self {
            TileKind::Hashes { level } => level,
            TileKind::Entries => 0,
        }
    }
}

/// A tile or entry bundle: kind, index within its level and width (1..=256;
/// 256 means a full tile, anything less a partial `.p/<W>` one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Merkle tile or entry bundle.
    pub kind: TileKind,
    /// The index `N` of the tile within its level.
    pub index: u64,
    /// Number of hashes or entries it holds, 1..=256.
    pub width: u16,
}

/// A malformed tile path or an impossible tile.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// The path does not follow `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
    #[error("not a tlog-tiles path: {path:?} ({reason})")]
    BadPath {
        /// The offending path.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Width outside 1..=256 or level above 63.
    #[error("impossible tile: level {level}, width {width}")]
    OutOfRange {
        /// Tile level.
        level: u8,
        /// Tile width.
        width: u16,
    },
}

impl TileId {
    /// A full tile (256 wide).
    #[must_use]
    pub fn full(kind: TileKind, index: u64) -> TileId {
        TileId {
            kind,
            index,
            width: TILE_WIDTH as u16,
        }
    }

    /// A tile of the given width (1..=256; 256 is the full tile).
    pub fn new(kind: TileKind, index: u64, width: u16) -> Result<TileId, TileError> {
        let level = kind.hash_level();
        if width == 0 || u64::from(width) > TILE_WIDTH || level > MAX_LEVEL {
            return Err(TileError::OutOfRange { level, width });
        }
        Ok(TileId { kind, index, width })
    }

    /// True for a full (256-wide) tile.
    #[must_use]
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The same tile at full width.
    #[must_use]
    pub fn to_full(&self) -> TileId {
        TileId::full(self.kind, self.index)
    }

    /// The tile at `index` of `kind` as it exists in a tree of `size` entries:
    /// full, partial with the width the spec requires
    /// (`floor(size / 256^l) mod 256` for the rightmost one), or `None` if
    /// that tile is empty at this size ("Empty tiles MUST NOT be served").
    #[must_use]
    pub fn at_size(kind: TileKind, index: u64, size: u64) -> Option<TileId> {
        let count = stored_hashes(kind.hash_level(), size);
        let start = index.checked_mul(TILE_WIDTH)?;
        if start >= count {
            return None;
        }
        let width = (count - start).min(TILE_WIDTH) as u16;
        Some(TileId { kind, index, width })
    }

    /// Number of tiles of `kind` (full and partial) a tree of `size` has.
    #[must_use]
    pub fn count_at_size(kind: TileKind, size: u64) -> u64 {
        stored_hashes(kind.hash_level(), size).div_ceil(TILE_WIDTH)
    }

    /// The first entry of the log this tile spans: `N · 256^(L+1)`.
    /// `None` if it does not fit in 64 bits.
    #[must_use]
    pub fn start_entry(&self) -> Option<u64> {
        let span = span_of_level(self.kind.hash_level())?;
        self.index.checked_mul(span)
    }

    /// Size in bytes of a hash tile of this width (`width · 32`).
    #[must_use]
    pub fn hash_bytes(&self) -> usize {
        usize::from(self.width) * crate::HASH_SIZE
    }

    /// The path of this tile relative to the log prefix, e.g.
    /// `tile/0/x001/x234/067.p/8` or `tile/entries/000`.
    #[must_use]
    pub fn path(&self) -> String {
        let mut s = String::with_capacity(32);
        s.push_str("tile/");
        match self.kind {
            TileKind::Hashes { level } => s.push_str(&level.to_string()),
            TileKind::Entries => s.push_str("entries"),
        }
        s.push('/');
        s.push_str(&encode_index_path(self.index));
        if !self.is_full() {
            s.push_str(".p/");
            s.push_str(&self.width.to_string());
        }
        s
    }

    /// Parses a path produced by [`TileId::path`], strictly: canonical index
    /// groups only, no leading zeros in `L` or `W`, `W` in 1..=255.
    pub fn parse_path(path: &str) -> Result<TileId, TileError> {
        let bad = |reason| TileError::BadPath {
            path: path.to_owned(),
            reason,
        };
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| bad("missing tile/ prefix"))?;
        let (kind_s, rest) = rest.split_once('/').ok_or_else(|| bad("missing level"))?;
        let kind = if kind_s == "entries" {
            TileKind::Entries
        } else {
            let level = parse_decimal(kind_s).ok_or_else(|| bad("bad level"))?;
            let level = u8::try_from(level).map_err(|_| bad("level above 63"))?;
            if level > MAX_LEVEL {
                return Err(bad("level above 63"));
            }
            TileKind::Hashes { level }
        };
        let (index_s, width) = match rest.split_once(".p/") {
            Some((idx, w)) => {
                let w = parse_decimal(w).ok_or_else(|| bad("bad partial width"))?;
                if w == 0 || w >= TILE_WIDTH {
                    return Err(bad("partial width must be 1..=255"));
                }
                (idx, w as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = decode_index_path(index_s).ok_or_else(|| bad("bad tile index"))?;
        Ok(TileId { kind, index, width })
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// Number of hashes stored at tile level `level` for a tree of `size`:
/// `floor(size / 256^level)`.
fn stored_hashes(level: u8, size: u64) -> u64 {
    let shift = u32::from(level) * TILE_HEIGHT;
    if shift >= 64 { 0 } else { size >> shift }
}

/// Entries spanned by one tile at `level`: `256^(level+1)`.
fn span_of_level(level: u8) -> Option<u64> {
    let shift = (u32::from(level) + 1) * TILE_HEIGHT;
    1u64.checked_shl(shift).filter(|_| shift < 64)
}

/// Encodes a tile index as zero-padded 3-digit path elements, all but the
/// last prefixed with `x`: 1234067 → `x001/x234/067` (c2sp.org/tlog-tiles).
#[must_use]
pub fn encode_index_path(mut n: u64) -> String {
    let mut groups = Vec::with_capacity(7);
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut s = String::with_capacity(groups.len() * 5);
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            s.push_str(&format!("x{g:03}/"));
        } else {
            s.push_str(&format!("{g:03}"));
        }
    }
    s
}

fn decode_index_path(s: &str) -> Option<u64> {
    let groups: Vec<&str> = s.split('/').collect();
    let last = groups.len().checked_sub(1)?;
    let mut n: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let digits = if i < last { g.strip_prefix('x')? } else { g };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: u64 = digits.parse().ok()?;
        // Canonical form: no leading all-zero group.
        if i == 0 && i < last && v == 0 {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(v)?;
    }
    Some(n)
}

/// Decimal with no sign and no leading zeros (except "0").
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_the_spec_example() {
        assert_eq!(encode_index_path(1234067), "x001/x234/067");
        assert_eq!(encode_index_path(0), "000");
        assert_eq!(encode_index_path(999), "999");
        assert_eq!(encode_index_path(1000), "x001/000");
        assert_eq!(
            encode_index_path(u64::MAX),
            "x018/x446/x744/x073/x709/x551/615"
        );
    }

    #[test]
    fn paths_round_trip() {
        for kind in [
            TileKind::Entries,
            TileKind::Hashes { level: 0 },
            TileKind::Hashes { level: 63 },
        ] {
            for index in [0, 1, 999, 1000, 1234067, u64::MAX] {
                for width in [1u16, 17, 255, 256] {
                    let t = TileId::new(kind, index, width).unwrap();
                    assert_eq!(TileId::parse_path(&t.path()).unwrap(), t, "{}", t.path());
                }
            }
        }
        assert_eq!(
            TileId::new(TileKind::Hashes { level: 1 }, 1234067, 8)
                .unwrap()
                .path(),
            "tile/1/x001/x234/067.p/8"
        );
        assert_eq!(
            TileId::full(TileKind::Entries, 5).path(),
            "tile/entries/005"
        );
    }

    #[test]
    fn non_canonical_paths_are_refused() {
        for p in [
            "tile/0/5",
            "tile/0/0005",
            "tile/00/005",
            "tile/64/005",
            "tile/0/x000/005",
            "tile/0/001/005",
            "tile/0/x001/005.p/0",
            "tile/0/005.p/256",
            "tile/0/005.p/07",
            "tile/entries/x1/005",
            "tiles/0/005",
            "tile/0/005.p/",
            "tile/-1/005",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
        ] {
            assert!(TileId::parse_path(p).is_err(), "{p} should be refused");
        }
    }

    #[test]
    fn partial_widths_match_the_spec_example() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles,
        // one partial level 0 tile of width 112, one full level 1 tile, one
        // partial level 1 tile of width 17, and one partial level 2 tile of
        // width 1."
        let size = 70_000;
        let l0 = TileKind::Hashes { level: 0 };
        let l1 = TileKind::Hashes { level: 1 };
        let l2 = TileKind::Hashes { level: 2 };
        assert_eq!(TileId::count_at_size(l0, size), 274);
        assert!(TileId::at_size(l0, 272, size).unwrap().is_full());
        assert_eq!(TileId::at_size(l0, 273, size).unwrap().width, 112);
        assert_eq!(TileId::at_size(l0, 274, size), None);
        assert!(TileId::at_size(l1, 0, size).unwrap().is_full());
        assert_eq!(TileId::at_size(l1, 1, size).unwrap().width, 17);
        assert_eq!(TileId::at_size(l2, 0, size).unwrap().width, 1);
        assert_eq!(
            TileId::count_at_size(TileKind::Hashes { level: 3 }, size),
            0
        );
        // "a tree of size 256 will be represented by a full level 0 tile and a
        // partial level 1 tile of width 1."
        assert!(TileId::at_size(l0, 0, 256).unwrap().is_full());
        assert_eq!(TileId::at_size(l1, 0, 256).unwrap().width, 1);
        assert_eq!(TileId::at_size(l0, 0, 0), None);
    }

    #[test]
    fn start_entries() {
        assert_eq!(TileId::full(TileKind::Entries, 3).start_entry(), Some(768));
        assert_eq!(
            TileId::full(TileKind::Hashes { level: 1 }, 2).start_entry(),
            Some(131_072)
        );
        assert_eq!(
            TileId::full(TileKind::Hashes { level: 7 }, 1).start_entry(),
            None
        );
    }
}
