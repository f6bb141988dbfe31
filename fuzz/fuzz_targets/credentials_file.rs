//! The `credentials.jsonl` parser on arbitrary bytes: no panic; a refusal
//! names the first bad line; accepted files are accepted line by line. The
//! checks live in `server::fuzzing::credentials_file`, which
//! `crates/server/tests/fuzz_corpus.rs` replays the corpus through.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = server::fuzzing::credentials_file(data) {
        panic!("{broken}");
    }
});
