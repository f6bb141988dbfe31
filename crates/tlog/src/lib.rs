//! Pure transparency-log math and formats. No I/O.
//!
//! - RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs;
//! - C2SP `tlog-tiles`: tile and entry-bundle paths and encodings;
//! - C2SP `signed-note` (Ed25519) and `tlog-checkpoint`;
//! - C2SP `tlog-proof@v1` bundles.
#![forbid(unsafe_code)]

mod bundle;
mod checkpoint;
mod compact;
mod hash;
mod note;
mod proof;
mod tile;
mod tlog_proof;

// The public interface is:
pub use bundle::{BundleError, BundleIter, MAX_ENTRY_SIZE, append_entry, decode_bundle};
pub use checkpoint::{Checkpoint, CheckpointError, VerifiedCheckpoint, open_checkpoint};
pub use compact::CompactRange;
pub use hash::{HASH_SIZE, Hash, complete_subtree_root, empty_root, leaf_hash, node_hash};
pub use note::{Note, NoteError, NoteSignature, Signer, VerifiedNote, Verifier, open_note};
pub use proof::{
    ProofError, consistency_proof, inclusion_proof, range_root, verify_consistency,
    verify_inclusion,
};
pub use tile::{TILE_HEIGHT, TILE_WIDTH, TileError, TileId, TileKind, encode_index_path};
pub use tlog_proof::{TlogProof, TlogProofError};
