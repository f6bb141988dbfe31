//! `tlog::open_checkpoint` and `tlog::Checkpoint::parse_text` on arbitrary
//! bytes: no panic, and a text that parses re-encodes to exactly itself.
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tlog::{Checkpoint, Verifier, open_checkpoint};

/// The origin and test-only log key of the seed corpus (see fuzz/README.md).
const ORIGIN: &str = "custos.example/log";
static LOG: LazyLock<Verifier> = LazyLock::new(|| {
    Verifier::parse("custos.example/log+d67bebc6+AYbiMNxeZgxaRQeDzEg9KnIUV6YbbcqVe7mrc1N2i7uo")
        .expect("fixed key")
});

fuzz_target!(|data: &[u8]| {
    let _ = open_checkpoint(data, ORIGIN, &LOG);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(checkpoint) = Checkpoint::parse_text(text)
    {
        assert_eq!(
            checkpoint.to_text(),
            text,
            "a parsed checkpoint re-encodes differently"
        );
    }
});
