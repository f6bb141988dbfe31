//! Replays the committed cargo-fuzz corpus `fuzz/corpus/jwt/` through
//! `token::fuzzing::jwt`, the very function `fuzz/fuzz_targets/jwt.rs`
//! calls, so every seed and every input fuzzing once found stays a
//! regression test.
//!
//! No input may panic or break the fixture's invariants. `valid-…` must be
//! accepted; `bad-<code>[-…]` refused with exactly that machine code; other
//! names (found by the fuzzer): no expectation beyond that.
//!
//! The seeds are made by `token::fuzzing::seeds()` (deterministic: fixed
//! keys, clock and jtis); this test checks the committed files match it.
//! To rewrite them: `CUSTOS_WRITE_JWT_SEEDS=1 cargo test -p token --test fuzz_corpus`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use token::fuzzing::{Outcome, jwt, seeds};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/jwt");

#[test]
fn seeds_are_committed() {
    let dir = Path::new(CORPUS);
    let write = std::env::var_os("CUSTOS_WRITE_JWT_SEEDS").is_some();
    for (name, data) in seeds().unwrap() {
        let path = dir.join(&name);
        if write {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(&path, &data).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(committed, data, "{name} differs from fuzzing::seeds()");
    }
}

#[test]
fn corpus_replays() {
    let mut failures = Vec::new();
    let mut valid = 0;
    let mut bad = 0;
    let mut entries: Vec<_> = std::fs::read_dir(CORPUS)
        .expect("corpus directory")
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in &entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(path).unwrap();
        let outcome = match catch_unwind(AssertUnwindSafe(|| jwt(&data))) {
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
        } else if let Some(rest) = name.strip_prefix("bad-") {
            bad += 1;
            let code = rest.split('-').next().unwrap();
            if !matches!(outcome, Outcome::Refused(c) if c == code) {
                failures.push(format!("{name}: {outcome:?}, expected {code}"));
            }
        }
        // Other names: jwt() already checked that anything accepted is a
        // token the fixture issued.
    }
    assert!(valid >= 2 && bad >= 10, "{valid} valid, {bad} bad seeds");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
