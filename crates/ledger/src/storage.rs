//! The narrow storage interface under the ledger, and its contract.
//!
//! The shape follows Sunlight and Tessera: immutable objects (tiles and
//! entry bundles) go to a blob store; the latest checkpoint is guarded by a
//! compare-and-swap record. On one machine both live in the data directory
//! ([`crate::FsStore`]); at scale the objects go to an S3-compatible store
//! (where `sync` is a no-op because a PUT is durable when it returns) and the
//! staged checkpoint to a PostgreSQL row updated with compare-and-swap, which
//! is what serialises sequencers across processes.

use tlog::TileId;

use crate::Result;

/// Where a log's tiles and checkpoints are kept.
///
/// # Contract
/// - **Objects are immutable once published.** `write_tile` is only ever
///   called for tiles that are not part of the published tree, so it may
///   overwrite (torn-tail repair relies on that). It need not be durable
///   until the next [`LogStore::sync`].
/// - **`sync` is a barrier**: when it returns `Ok`, every `write_tile` and
///   `write_staged` that returned before the call is durable (survives power
///   loss), including the directory entries that name them.
/// - **`write_staged` records the latest signed checkpoint before it is
///   published.** It may be torn by a crash; readers then see garbage, which
///   fails signature checks and is discarded.
/// - **`publish` atomically replaces the public checkpoint and is durable on
///   return.** Readers see either the old or the new note, never a mix.
/// - **One writer.** An implementation must refuse to open a second writer
///   for the same log, across processes and restarts (a file lock here, a
///   database lock at scale).
/// - Reads return `Ok(None)` for a missing object and `Err` only for real
///   failures.
pub trait LogStore: Send + Sync {
    /// Stores a tile or entry bundle (not durable before `sync`).
    fn write_tile(&self, tile: &TileId, data: &[u8]) -> Result<()>;
    /// Reads a tile or entry bundle.
    fn read_tile(&self, tile: &TileId) -> Result<Option<Vec<u8>>>;
    /// Removes the partial versions of a tile whose full version is durable
    /// and published (c2sp.org/tlog-tiles: a log "MAY delete any partial
    /// tile once the corresponding full tile is … available"). Best effort.
    fn remove_partials(&self, full: &TileId) -> Result<()>;
    /// Removes tiles at or beyond index `from_index` of `kind` up to
    /// `limit` indices, and partial versions wider than `keep_width` at
    /// `from_index`: what a torn commit may have left beyond the published
    /// tree. Returns how many objects were removed.
    fn remove_beyond(
        &self,
        kind: tlog::TileKind,
        from_index: u64,
        keep_width: u16,
        limit: u64,
    ) -> Result<u64>;
    /// Records the checkpoint about to be published (durable after `sync`).
    fn write_staged(&self, note: &[u8]) -> Result<()>;
    /// Reads the staged checkpoint.
    fn read_staged(&self) -> Result<Option<Vec<u8>>>;
    /// Durability barrier (see the contract above).
    fn sync(&self) -> Result<()>;
    /// Atomically and durably replaces the published checkpoint.
    fn publish(&self, note: &[u8]) -> Result<()>;
    /// Reads the published checkpoint.
    fn read_published(&self) -> Result<Option<Vec<u8>>>;
}
