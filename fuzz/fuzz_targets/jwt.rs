//! The token authority's introspection and the embedded verifier on
//! arbitrary bytes: no panic, a typed reason for every refusal, and nothing
//! accepted that the fixture authority did not issue byte for byte. The
//! checks live in `token::fuzzing::jwt`, which
//! `crates/token/tests/fuzz_corpus.rs` replays the corpus through.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = token::fuzzing::jwt(data) {
        panic!("{broken}");
    }
});
