//! The token authority's parsers of request bodies (`POST /v1/subjects`,
//! `POST /v1/tokens`, the RFC 7662/7009 forms) on arbitrary bytes: no
//! panic, and the invariants of `server::fuzzing::token_request`, which
//! `crates/server/tests/fuzz_corpus.rs` replays the corpus through.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = server::fuzzing::token_request(data) {
        panic!("{broken}");
    }
});
