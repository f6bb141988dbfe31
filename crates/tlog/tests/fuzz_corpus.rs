//! Replays the committed cargo-fuzz corpus, `fuzz/corpus/<target>/`, through
//! the same `tlog` calls and invariants as the fuzz targets
//! `fuzz/fuzz_targets/<target>.rs` (see `fuzz/README.md`), so that every seed
//! and every crash once found by fuzzing stays a regression test of
//! `cargo test`.
//!
//! No input may panic. The file name states what must become of an input:
//!
//! - `valid-…`: accepted in full: parsed and, where the target verifies
//!   (signed notes, checkpoints, tlog-proofs, Merkle proofs), verified;
//! - `parses-…`: parsed, but not verified;
//! - `bad-…`: not accepted in full (refused by the parser or the verifier);
//! - anything else (inputs found by the fuzzer): no expectation but no panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use tlog::{
    Checkpoint, Hash, Note, Signer, TileId, TlogProof, Verifier, append_entry, decode_bundle,
    leaf_hash, open_checkpoint, open_note, verify_consistency, verify_inclusion,
};

/// The committed corpus, one directory per fuzz target.
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus");

/// The fuzz targets' sources, to check that they use the same keys.
const TARGETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/fuzz_targets");

/// Origin of the log of the seed corpus.
const ORIGIN: &str = "custos.example/log";
/// Test-only verifier key of the log that signed the seed corpus.
const LOG_VKEY: &str = "custos.example/log+d67bebc6+AYbiMNxeZgxaRQeDzEg9KnIUV6YbbcqVe7mrc1N2i7uo";
/// Test-only verifier key of the witness that cosigned some seeds.
const WITNESS_VKEY: &str =
    "custos.example/witness+8188f01d+AQW28RsGscudoUlVTRDqcPrIH+YyPh9MZfm0+/V8Wa6x";

/// Inputs that still panic because of a known, reported bug in `tlog`, as
/// `(target/file, bug)`. Their panic is tolerated; once the bug is fixed they
/// no longer panic, and the test fails until their line is removed here, so
/// that they are held to their expectation again.
const KNOWN_PANICS: &[(&str, &str)] = &[
    // Empty: the one panic fuzzing found (a shift overflow in proof.rs
    // `inclusion_len` for trees of more than 2^63 leaves) is fixed, and its
    // inputs (proofs/crash-*, the valid huge-tree seeds) now replay cleanly.
];

/// What a target made of one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Refused by the parser.
    Rejected,
    /// Parsed, but did not verify.
    Parsed,
    /// Accepted in full: parsed and, where the target verifies, verified.
    Accepted,
}

fn log() -> Verifier {
    Verifier::parse(LOG_VKEY).unwrap()
}

fn witness() -> Verifier {
    Verifier::parse(WITNESS_VKEY).unwrap()
}

/// Same as `fuzz_targets/note.rs`.
fn note(data: &[u8]) -> Outcome {
    let opened = open_note(data, &[log(), witness()]);
    let Ok(note) = Note::parse(data) else {
        assert!(
            opened.is_err(),
            "open_note accepted what Note::parse refuses"
        );
        return Outcome::Rejected;
    };
    assert_eq!(
        note.to_bytes(),
        data,
        "a parsed note re-encodes differently"
    );
    if opened.is_ok() {
        Outcome::Accepted
    } else {
        Outcome::Parsed
    }
}

/// Same as `fuzz_targets/checkpoint.rs`. A checkpoint text (not a signed
/// note) that parses counts as `Parsed`.
fn checkpoint(data: &[u8]) -> Outcome {
    let opened = open_checkpoint(data, ORIGIN, &log());
    let mut parsed = false;
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(checkpoint) = Checkpoint::parse_text(text)
    {
        assert_eq!(
            checkpoint.to_text(),
            text,
            "a parsed checkpoint re-encodes differently"
        );
        parsed = true;
    }
    match (opened, parsed) {
        (Ok(_), _) => Outcome::Accepted,
        (Err(_), true) => Outcome::Parsed,
        (Err(_), false) => Outcome::Rejected,
    }
}

/// Same as `fuzz_targets/tlog_proof.rs`: the entry proved is the extra data.
fn tlog_proof(data: &[u8]) -> Outcome {
    let Ok(proof) = TlogProof::parse(data) else {
        return Outcome::Rejected;
    };
    assert_eq!(
        proof.to_bytes(),
        data,
        "a parsed proof re-encodes differently"
    );
    let leaf = leaf_hash(proof.extra.as_deref().unwrap_or_default());
    match proof.verify(&leaf, ORIGIN, &log()) {
        Ok(checkpoint) => {
            assert_eq!(checkpoint.origin(), ORIGIN);
            assert!(proof.index < checkpoint.size());
            Outcome::Accepted
        }
        Err(_) => Outcome::Parsed,
    }
}

/// Same as `fuzz_targets/tile_path.rs`.
fn tile_path(data: &[u8]) -> Outcome {
    let Ok(path) = std::str::from_utf8(data) else {
        return Outcome::Rejected;
    };
    let Ok(tile) = TileId::parse_path(path) else {
        return Outcome::Rejected;
    };
    assert_eq!(tile.path(), path, "a parsed tile path is not canonical");
    let _ = (tile.start_entry(), tile.hash_bytes(), tile.to_full());
    let _ = (
        TileId::at_size(tile.kind, tile.index, u64::MAX),
        TileId::count_at_size(tile.kind, tile.index),
    );
    Outcome::Accepted
}

/// Same as `fuzz_targets/bundle.rs`.
fn bundle(data: &[u8]) -> Outcome {
    let mut again = Vec::new();
    for entry in decode_bundle(data) {
        let Ok(entry) = entry else {
            return Outcome::Rejected;
        };
        append_entry(&mut again, entry).expect("a decoded entry can be encoded");
    }
    assert_eq!(again, data, "a decoded bundle re-encodes differently");
    Outcome::Accepted
}

/// Same as `fuzz_targets/verifier_key.rs`: accepted if it is a verifier key
/// or a signer key.
fn verifier_key(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Rejected;
    };
    let mut accepted = false;
    if let Ok(v) = Verifier::parse(text) {
        assert_eq!(
            Verifier::parse(&v.to_string()),
            Ok(v),
            "a verifier key does not round-trip"
        );
        accepted = true;
    }
    if let Ok(s) = Signer::from_skey(text) {
        let again = Signer::from_skey(&s.to_skey()).map(|s| s.verifier());
        assert_eq!(again, Ok(s.verifier()), "a signer key does not round-trip");
        accepted = true;
    }
    if accepted {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    }
}

/// Same as `fuzz_targets/proofs.rs`: accepted if either the inclusion or the
/// consistency proof verifies.
fn proofs(data: &[u8]) -> Outcome {
    let Some((a, rest)) = data.split_first_chunk::<8>() else {
        return Outcome::Rejected;
    };
    let Some((b, rest)) = rest.split_first_chunk::<8>() else {
        return Outcome::Rejected;
    };
    let Some((h1, rest)) = rest.split_first_chunk::<32>() else {
        return Outcome::Rejected;
    };
    let Some((h2, rest)) = rest.split_first_chunk::<32>() else {
        return Outcome::Rejected;
    };
    let proof: Vec<Hash> = rest
        .chunks_exact(32)
        .filter_map(|c| c.try_into().ok())
        .collect();
    let (a, b) = (u64::from_le_bytes(*a), u64::from_le_bytes(*b));
    let inclusion = verify_inclusion(h1, a, b, &proof, h2);
    let consistency = verify_consistency(a, b, h1, h2, &proof);
    if inclusion.is_ok() || consistency.is_ok() {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    }
}

/// Runs every file of `fuzz/corpus/<target>/` through `run`, and fails
/// listing every input that panicked or did not meet its name's expectation.
fn replay(target: &str, run: fn(&[u8]) -> Outcome) {
    let dir = Path::new(CORPUS).join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut valid = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(path).unwrap();
        let id = format!("{target}/{name}");
        let known = KNOWN_PANICS.iter().find(|(file, _)| *file == id);
        let outcome = match (catch_unwind(AssertUnwindSafe(|| run(&data))), known) {
            (Ok(_), Some((_, bug))) => {
                failures.push(format!(
                    "{id}: no longer panics ({bug} fixed?): remove it from KNOWN_PANICS"
                ));
                continue;
            }
            (Ok(outcome), None) => outcome,
            (Err(_), Some((_, bug))) => {
                eprintln!("{id}: panicked, as expected of the known bug: {bug}");
                continue;
            }
            (Err(_), None) => {
                failures.push(format!("{id}: panicked"));
                continue;
            }
        };
        let meets = if name.starts_with("valid-") {
            valid += 1;
            outcome == Outcome::Accepted
        } else if name.starts_with("parses-") {
            outcome == Outcome::Parsed
        } else if name.starts_with("bad-") {
            outcome != Outcome::Accepted
        } else {
            true
        };
        if !meets {
            failures.push(format!("{id}: {outcome:?}"));
        }
    }
    for (file, _) in KNOWN_PANICS {
        if let Some(name) = file.strip_prefix(&format!("{target}/")) {
            assert!(
                dir.join(name).is_file(),
                "KNOWN_PANICS lists a missing file {file}"
            );
        }
    }
    assert!(
        valid > 0,
        "{}: no valid- seed among {} files",
        dir.display(),
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} inputs failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn note_corpus() {
    replay("note", note);
}

#[test]
fn checkpoint_corpus() {
    replay("checkpoint", checkpoint);
}

#[test]
fn tlog_proof_corpus() {
    replay("tlog_proof", tlog_proof);
}

#[test]
fn tile_path_corpus() {
    replay("tile_path", tile_path);
}

#[test]
fn bundle_corpus() {
    replay("bundle", bundle);
}

#[test]
fn verifier_key_corpus() {
    replay("verifier_key", verifier_key);
}

#[test]
fn proofs_corpus() {
    replay("proofs", proofs);
}

/// Every corpus directory is replayed above, every fuzz target has a corpus,
/// and the targets verify with the keys that signed the seeds.
#[test]
fn corpus_matches_targets_and_keys() {
    let replayed = [
        "bundle",
        "checkpoint",
        "note",
        "proofs",
        "tile_path",
        "tlog_proof",
        "verifier_key",
    ];
    let list = |dir: &str, suffix: &str| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|name| name.strip_suffix(suffix).map(str::to_owned))
            .collect();
        names.sort();
        names
    };
    // Targets whose corpus another crate's test replays.
    let elsewhere = [
        // crates/custos/tests/fuzz_corpus.rs:
        "forensic_snapshot",
        "subject_registry",
        "disclosure_rules",
        "evidence_bundle",
        "govern_file",
        "remediation_finding",
        "event", // crates/events/tests/fuzz_corpus.rs
        "jwt",   // crates/token/tests/fuzz_corpus.rs
        "scim_filter",
        "scim_patch", // crates/scim/tests/fuzz_corpus.rs
        // crates/server/tests/fuzz_corpus.rs:
        "bearer_token",
        "credentials_file",
        "log_path",
        "server_config",
        "token_request",
        // crates/access/tests/fuzz_corpus.rs:
        "authz_request",
        "grant_request",
        // crates/detect/tests/fuzz_corpus.rs:
        "sigma_rule",
        "detect_config",
    ];
    let mut all: Vec<&str> = replayed.iter().chain(elsewhere.iter()).copied().collect();
    all.sort_unstable();
    assert_eq!(list(CORPUS, ""), all, "corpus directories");
    assert_eq!(list(TARGETS, ".rs"), all, "fuzz targets");
    for target in ["note", "checkpoint", "tlog_proof"] {
        let source = std::fs::read_to_string(format!("{TARGETS}/{target}.rs")).unwrap();
        assert!(
            source.contains(LOG_VKEY),
            "{target}.rs does not use the log key"
        );
    }
    let seed = std::fs::read_to_string(format!("{CORPUS}/verifier_key/valid-vkey-log")).unwrap();
    assert_eq!(Verifier::parse(&seed).unwrap(), log());
    let seed = std::fs::read_to_string(format!("{CORPUS}/verifier_key/valid-skey-log")).unwrap();
    assert_eq!(Signer::from_skey(&seed).unwrap().verifier(), log());
    assert_eq!(log().name(), ORIGIN);
}
