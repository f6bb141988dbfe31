//! `events::parse_batch` and `events::parse_event` on arbitrary bytes, then
//! the ledger encoding of what parses: no panic, entries within the limit.
#![no_main]
use std::time::{Duration, SystemTime};

use events::{Limits, MAX_ENTRY_SIZE, SubjectKey, ledger_entries, parse_batch, parse_event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The clock of the seed corpus: 2025-06-01T03:04:05.123Z.
    let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_748_747_045_123);
    let _ = parse_batch(data, now, &Limits::default());
    if let Ok(event) = parse_event(data, now, &Limits::default()) {
        let entries = ledger_entries(&event, &SubjectKey::from_bytes([7; 32])).expect("encodes");
        assert!(entries.iter().all(|e| e.len() <= MAX_ENTRY_SIZE));
    }
});
