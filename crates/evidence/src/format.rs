//! The bundle format (docs/evidence.md): member names, the manifest, the
//! manifest's signed-note text, and the limits a verifier enforces.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `format` value of a version 1 manifest.
pub const FORMAT: &str = "custos.evidence/v1";

/// The manifest, first member of the archive.
pub const MANIFEST: &str = "manifest.json";
/// The signed note over the manifest's SHA-256, second member.
pub const MANIFEST_SIG: &str = "manifest.sig";
/// The proved entries: C2SP tlog-tiles entry-bundle encoding (each entry
/// prefixed by its big-endian uint16 length), in the manifest's index order.
pub const ENTRIES: &str = "entries.bin";
/// The multi-proof: concatenated 32-byte hashes (see `multiproof.rs`).
pub const MULTIPROOF: &str = "proofs/inclusion.multiproof";

/// `checkpoints/<size>.note`.
#[must_use]
pub fn checkpoint_name(size: u64) -> String {
    format!("checkpoints/{size}.note")
}

/// `proofs/consistency-<old>-<new>.txt`.
#[must_use]
pub fn consistency_name(old: u64, new: u64) -> String {
    format!("proofs/consistency-{old}-{new}.txt")
}

/// Most entries one bundle may prove (2^24 ≈ 16.7M).
pub const MAX_ENTRIES: usize = 1 << 24;
/// Most checkpoints one bundle may cite.
pub const MAX_CHECKPOINTS: usize = 1024;
/// Largest `manifest.json` accepted (its index list dominates: ≤ 21 bytes
/// an index).
pub const MAX_MANIFEST_BYTES: u64 = 21 * MAX_ENTRIES as u64 + (1 << 24);
/// Largest signed note accepted (`manifest.sig`, checkpoints): the
/// signed-note limit of `tlog::Note::parse`.
pub const MAX_NOTE_BYTES: u64 = 1 << 20;
/// Largest consistency proof file: at most 128 lines of 45 bytes.
pub const MAX_CONSISTENCY_BYTES: u64 = 128 * 45;
/// Longest incident id.
pub const MAX_INCIDENT_LEN: usize = 256;
/// Largest scope JSON (serialised).
pub const MAX_SCOPE_BYTES: usize = 16 << 20;

/// The manifest: what the bundle proves and the digest of every other
/// member. Field order is the serialised order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The incident this evidence is for (caller's id).
    pub incident: String,
    /// When the bundle was made (RFC 3339 UTC, from the injected clock).
    pub created: String,
    /// The log's origin (first line of every checkpoint).
    pub origin: String,
    /// The caller's scope (e.g. the scope query and its counts), opaque.
    pub scope: serde_json::Value,
    /// The cited checkpoints, strictly increasing sizes; the last is the
    /// one the entries are proved against.
    pub checkpoints: Vec<CheckpointRef>,
    /// Consistency proofs between each consecutive pair of checkpoints.
    pub consistency: Vec<ConsistencyRef>,
    /// The proved entries.
    pub entries: EntriesRef,
    /// The inclusion multi-proof.
    pub inclusion: InclusionRef,
    /// SHA-256 and size of every member other than `manifest.json` and
    /// `manifest.sig`, in archive order.
    pub files: Vec<FileDigest>,
}

/// A cited checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRef {
    /// Its tree size.
    pub size: u64,
    /// Its member name, `checkpoints/<size>.note`.
    pub file: String,
}

/// A consistency proof member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyRef {
    /// Older tree size.
    pub old: u64,
    /// Newer tree size.
    pub new: u64,
    /// Member name, `proofs/consistency-<old>-<new>.txt`: one base64 hash a
    /// line (RFC 6962 §2.1.2 `PROOF(old, D[new])`).
    pub file: String,
}

/// The proved entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntriesRef {
    /// Member name, [`ENTRIES`].
    pub file: String,
    /// Their log indices, strictly increasing; `entries.bin` holds them in
    /// this order.
    pub indices: Vec<u64>,
}

/// The inclusion multi-proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionRef {
    /// Member name, [`MULTIPROOF`].
    pub file: String,
    /// The tree size it proves against (the last checkpoint's).
    pub tree_size: u64,
    /// Number of 32-byte hashes in it.
    pub hashes: u64,
}

/// One member's digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDigest {
    /// Member name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of its bytes.
    pub sha256: String,
}

/// The signed-note text over a manifest: two lines, the format and the
/// manifest's SHA-256. Its second line is not a decimal, so no checkpoint
/// parser (c2sp.org/tlog-checkpoint: origin, size, root) accepts it: the
/// log's key signing it cannot be mistaken for a checkpoint.
#[must_use]
pub fn manifest_note_text(manifest: &[u8]) -> String {
    format!(
        "{FORMAT}\nmanifest-sha256 {}\n",
        hex::encode(Sha256::digest(manifest))
    )
}

/// `now` (Unix seconds, UTC) as RFC 3339 `YYYY-MM-DDTHH:MM:SSZ`.
#[must_use]
pub fn rfc3339(now: i64) -> String {
    let days = now.div_euclid(86_400);
    let secs = now.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_748_747_045), "2025-06-01T03:04:05Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn note_text_is_not_a_checkpoint() {
        let t = manifest_note_text(b"{}");
        assert!(tlog::Checkpoint::parse_text(&t).is_err());
        assert_eq!(
            t,
            "custos.evidence/v1\nmanifest-sha256 44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\n"
        );
    }
}
