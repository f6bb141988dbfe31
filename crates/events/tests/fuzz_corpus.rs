//! Replays the committed cargo-fuzz corpus `fuzz/corpus/event/` through the
//! same calls as `fuzz/fuzz_targets/event.rs`, with the same clock, so every
//! seed and every input fuzzing once found stays a regression test.
//!
//! No input may panic. `valid-…` must be accepted by `parse_batch` (and, when
//! it is one event, by `parse_event` and the ledger encoding); `bad-…` must be
//! refused by `parse_batch`; any other name: no panic is all that is asked.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, SystemTime};

use events::{Limits, MAX_ENTRY_SIZE, SubjectKey, ledger_entries, parse_batch, parse_event};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/event");

/// The fuzz target's clock: 2025-06-01T03:04:05.123Z.
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(1_748_747_045_123)
}

/// What the target made of an input: (batch accepted, single event accepted).
fn run(data: &[u8]) -> (bool, bool) {
    let limits = Limits::default();
    let batch = parse_batch(data, now(), &limits).is_ok();
    let single = match parse_event(data, now(), &limits) {
        Ok(event) => {
            let entries = ledger_entries(&event, &SubjectKey::from_bytes([7; 32])).unwrap();
            assert!(entries.iter().all(|e| e.len() <= MAX_ENTRY_SIZE));
            true
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "refused without a reason");
            false
        }
    };
    (batch, single)
}

#[test]
fn corpus_replays() {
    let mut seen = (0, 0);
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(CORPUS).expect("corpus directory") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        let outcome = match catch_unwind(AssertUnwindSafe(|| run(&data))) {
            Ok(o) => o,
            Err(_) => {
                failures.push(format!("{name}: panicked"));
                continue;
            }
        };
        if name.starts_with("valid-") {
            seen.0 += 1;
            if !outcome.0 {
                failures.push(format!(
                    "{name}: refused: {:?}",
                    parse_batch(&data, now(), &Limits::default()).unwrap_err()
                ));
            }
            let one_event = data.first() == Some(&b'{') && !data.contains(&b'\n');
            if one_event && !outcome.1 {
                failures.push(format!("{name}: parse_event refused it"));
            }
        } else if name.starts_with("bad-") {
            seen.1 += 1;
            if outcome.0 {
                failures.push(format!("{name}: accepted"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(seen.0 >= 5 && seen.1 >= 10, "corpus too small: {seen:?}");
}
