//! `custos bench evidence`: bundle size and verify time, against baselines
//! measured in the same run.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::{Error, ExportRequest, Result, export, verify};

/// Figures of one benchmark run.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    /// Entries proved.
    pub entries: u64,
    /// The log's size (the tree the entries are proved in).
    pub tree_size: u64,
    /// Bytes of the entries themselves.
    pub entry_bytes: u64,
    /// Size of the bundle.
    pub bundle_bytes: u64,
    /// Hashes in the multi-proof.
    pub multiproof_hashes: u64,
    /// What one `c2sp.org/tlog-proof` per entry would take instead of the
    /// multi-proof (bytes, excluding the entries).
    pub individual_proof_bytes: u64,
    /// Export time, seconds.
    pub export_secs: f64,
    /// Verify time, seconds.
    pub verify_secs: f64,
    /// Baseline: reading the bundle and SHA-256 over all its bytes, seconds.
    pub baseline_secs: f64,
}

impl BenchReport {
    /// Verify time over the baseline time.
    #[must_use]
    pub fn verify_ratio(&self) -> f64 {
        if self.baseline_secs > 0.0 {
            self.verify_secs / self.baseline_secs
        } else {
            0.0
        }
    }
}

/// The number of hashes in the RFC 6962 inclusion path of `index` in `size`.
fn path_len(index: u64, size: u64) -> u64 {
    let (mut lo, mut hi, mut n) = (0u64, size, 0u64);
    while hi - lo > 1 {
        let k = 1u64 << (63 - (hi - lo - 1).leading_zeros());
        if index < lo + k {
            hi = lo + k;
        } else {
            lo += k;
        }
        n += 1;
    }
    n
}

/// Exports `indices` from the ledger in `data_dir` to `work_dir/bench.tar`,
/// verifies it with the log's public key, and times a baseline (reading
/// the same file and hashing it with SHA-256), all in this process.
///
/// # Errors
///
/// Any error of [`export`] or [`verify`]; [`Error::Io`].
pub fn bench(data_dir: &Path, indices: Vec<u64>, work_dir: &Path, now: i64) -> Result<BenchReport> {
    let vkey = ledger::verifier_key(data_dir)?.to_string();
    let out = work_dir.join("bench.tar");
    let request = ExportRequest {
        incident: "bench".into(),
        scope: serde_json::json!({"bench": true, "entries": indices.len()}),
        indices,
        cite: vec![],
    };
    let t = Instant::now();
    let summary = export(data_dir, &request, &out, now, &mut |_| {})?;
    let export_secs = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let report = verify(&out, &vkey)?;
    let verify_secs = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut f =
        BufReader::with_capacity(1 << 20, File::open(&out).map_err(Error::io("open", &out))?);
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(Error::io("read", &out))?;
        if n == 0 {
            break;
        }
        sha.update(buf.get(..n).unwrap_or_default());
    }
    std::hint::black_box(sha.finalize());
    let baseline_secs = t.elapsed().as_secs_f64();

    let size = summary.checkpoints.last().copied().unwrap_or(0);
    let checkpoint_len = std::fs::metadata(data_dir.join("log/checkpoint")).map_or(0, |m| m.len());
    let individual_proof_bytes = request
        .indices
        .iter()
        .map(|&i| 23 + 6 + 21 + 45 * path_len(i, size) + 1 + checkpoint_len)
        .sum();
    Ok(BenchReport {
        entries: report.entries,
        tree_size: size,
        entry_bytes: report.entry_bytes,
        bundle_bytes: summary.bytes,
        multiproof_hashes: summary.multiproof_hashes,
        individual_proof_bytes,
        export_secs,
        verify_secs,
        baseline_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_lengths() {
        assert_eq!(path_len(0, 1), 0);
        assert_eq!(path_len(0, 2), 1);
        assert_eq!(path_len(6, 7), 2);
        assert_eq!(path_len(0, 7), 3);
        assert_eq!(path_len(5, 1 << 20), 20);
    }
}
