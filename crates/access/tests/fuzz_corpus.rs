//! Replays the committed cargo-fuzz corpora `fuzz/corpus/grant_request/`
//! and `fuzz/corpus/authz_request/` through `access::fuzzing`, the very
//! functions the fuzz targets call, so every seed and every input fuzzing
//! once found stays a regression test.
//!
//! No input may panic or break an invariant. `valid-…` must be accepted,
//! `bad-…` refused; other names (found by the fuzzer): no expectation
//! beyond that.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use access::fuzzing::{Outcome, authz_request, grant_request};

fn replay(target: &str, check: fn(&[u8]) -> Result<Outcome, String>) {
    let dir = format!("{}/../../fuzz/corpus/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let (mut valid, mut bad, mut failures) = (0, 0, Vec::new());
    for path in &entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(path).unwrap();
        let outcome = match catch_unwind(AssertUnwindSafe(|| check(&data))) {
            Ok(Ok(o)) => o,
            Ok(Err(broken)) => {
                failures.push(format!("{name}: {broken}"));
                continue;
            }
            Err(_) => {
                failures.push(format!("{name}: panicked"));
                continue;
            }
        };
        if name.starts_with("valid-") {
            valid += 1;
            if outcome != Outcome::Accepted {
                failures.push(format!("{name}: {outcome:?}"));
            }
        } else if name.starts_with("bad-") {
            bad += 1;
            if !matches!(outcome, Outcome::Refused(_)) {
                failures.push(format!("{name}: accepted"));
            }
        }
    }
    assert!(
        valid >= 5 && bad >= 6,
        "{target}: {valid} valid, {bad} bad seeds"
    );
    assert!(failures.is_empty(), "{target}:\n{}", failures.join("\n"));
}

#[test]
fn grant_request_corpus_replays() {
    replay("grant_request", grant_request);
}

#[test]
fn authz_request_corpus_replays() {
    replay("authz_request", authz_request);
}
