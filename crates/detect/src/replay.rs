//! Reading the ledger's entries in order, a bundle at a time.

use std::path::Path;

use tlog::TileKind;

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The log could not be read.
    #[error(transparent)]
    Ledger(#[from] ledger::Error),
    /// An entry bundle is malformed.
    #[error("entry bundle {bundle} is malformed: {reason}")]
    Bundle {
        /// Bundle (tile) index.
        bundle: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Calls `f(index, entry)` for every entry of the log under `dir` (the data
/// directory, holding `log/`) with index in `from..to`, where `to` must not
/// exceed the size of a published checkpoint (`size`). Reads each entry
/// bundle once. Stops early if `f` returns `false`.
///
/// # Errors
/// [`ReplayError`] if a tile is missing or malformed.
pub fn for_each_entry(
    dir: &Path,
    from: u64,
    to: u64,
    size: u64,
    f: &mut dyn FnMut(u64, &[u8]) -> bool,
) -> Result<(), ReplayError> {
    let mut reader = ledger::LogReader::open(dir)?;
    let to = to.min(size);
    if from >= to {
        return Ok(());
    }
    let first = from >> 8;
    let last = (to - 1) >> 8;
    for b in first..=last {
        let bundle = reader.tile(TileKind::Entries, b, size)?;
        for (i, entry) in tlog::decode_bundle(&bundle).enumerate() {
            let index = (b << 8) + i as u64;
            if index < from {
                continue;
            }
            if index >= to {
                return Ok(());
            }
            let entry = entry.map_err(|e| ReplayError::Bundle {
                bundle: b,
                reason: e.to_string(),
            })?;
            if !f(index, entry) {
                return Ok(());
            }
        }
    }
    Ok(())
}
