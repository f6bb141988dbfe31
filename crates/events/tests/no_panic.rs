//! Property tests: the parser never panics, whatever the bytes, and what it
//! accepts always encodes within the ledger's entry limit.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::time::{Duration, SystemTime};

use events::{Limits, MAX_ENTRY_SIZE, SubjectKey, ledger_entries, parse_batch, parse_event};
use proptest::prelude::*;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(1_748_747_045_123)
}

const VALID: &str = include_str!("../../../fuzz/corpus/event/valid-employee-read");
const VALID_OCSF: &str = include_str!("../../../fuzz/corpus/event/valid-ocsf-api-activity");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_event(&data, now(), &Limits::default());
        let _ = parse_batch(&data, now(), &Limits::default());
    }

    /// Mutations of a valid event: a byte replaced, or a slice cut out.
    #[test]
    fn mutated_events_never_panic(at in 0usize..VALID.len(), byte in any::<u8>(), cut in 0usize..40) {
        let mut data = VALID.as_bytes().to_vec();
        data[at] = byte;
        let end = (at + cut).min(data.len());
        let mut cutdata = data.clone();
        cutdata.drain(at..end);
        for d in [&data, &cutdata] {
            if let Ok(e) = parse_event(d, now(), &Limits::default()) {
                let entries = ledger_entries(&e, &SubjectKey::from_bytes([1; 32])).unwrap();
                prop_assert!(entries.iter().all(|e| e.len() <= MAX_ENTRY_SIZE));
            }
            let _ = parse_batch(d, now(), &Limits::default());
        }
    }

    /// The same for the OCSF input form.
    #[test]
    fn mutated_ocsf_events_never_panic(at in 0usize..VALID_OCSF.len(), byte in any::<u8>(), cut in 0usize..40) {
        let mut data = VALID_OCSF.as_bytes().to_vec();
        data[at] = byte;
        let end = (at + cut).min(data.len());
        let mut cutdata = data.clone();
        cutdata.drain(at..end);
        for d in [&data, &cutdata] {
            if let Ok(e) = parse_event(d, now(), &Limits::default()) {
                let entries = ledger_entries(&e, &SubjectKey::from_bytes([1; 32])).unwrap();
                prop_assert!(entries.iter().all(|e| e.len() <= MAX_ENTRY_SIZE));
            }
            let _ = parse_batch(d, now(), &Limits::default());
        }
    }

    /// Arbitrary strings in every string field either parse or are refused
    /// with a path; never a panic.
    #[test]
    fn arbitrary_field_values(s in "\\PC{0,300}", field in 0usize..6) {
        let mut v: serde_json::Value = serde_json::from_str(VALID).unwrap();
        let ptr = ["/actor/id", "/service", "/subjects/0", "/source/ip", "/source/country", "/time"][field];
        *v.pointer_mut(ptr).unwrap() = serde_json::Value::String(s);
        let data = serde_json::to_vec(&v).unwrap();
        match parse_event(&data, now(), &Limits::default()) {
            Ok(_) => {}
            Err(errs) => prop_assert!(errs.iter().all(|e| e.path.starts_with('$'))),
        }
    }
}
