//! `tlog::open_note` and `tlog::Note::parse` on arbitrary bytes: no panic, and
//! a note that parses re-encodes to exactly its bytes.
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tlog::{Note, Verifier, open_note};

/// Test-only keys that signed the seed corpus (see fuzz/README.md).
const KEYS: [&str; 2] = [
    "custos.example/log+d67bebc6+AYbiMNxeZgxaRQeDzEg9KnIUV6YbbcqVe7mrc1N2i7uo",
    "custos.example/witness+8188f01d+AQW28RsGscudoUlVTRDqcPrIH+YyPh9MZfm0+/V8Wa6x",
];
static VERIFIERS: LazyLock<Vec<Verifier>> = LazyLock::new(|| {
    KEYS.iter()
        .map(|k| Verifier::parse(k).expect("fixed key"))
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let _ = open_note(data, &VERIFIERS);
    if let Ok(note) = Note::parse(data) {
        assert_eq!(
            note.to_bytes(),
            data,
            "a parsed note re-encodes differently"
        );
    }
});
