//! `tlog::TileId::parse_path` on arbitrary strings: no panic, a path that
//! parses is canonical (it is the tile's own path), and the tile's geometry
//! can be computed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tlog::TileId;

fuzz_target!(|data: &[u8]| {
    if let Ok(path) = std::str::from_utf8(data)
        && let Ok(tile) = TileId::parse_path(path)
    {
        assert_eq!(tile.path(), path, "a parsed tile path is not canonical");
        let _ = (tile.start_entry(), tile.hash_bytes(), tile.to_full());
        let _ = (
            TileId::at_size(tile.kind, tile.index, u64::MAX),
            TileId::count_at_size(tile.kind, tile.index),
        );
    }
});
