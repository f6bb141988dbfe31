//! The `GET /log/…` path check on arbitrary bytes as the request target: no
//! panic; only `checkpoint` and canonical, covered tile paths are served,
//! each exactly at the file it names. The checks live in
//! `server::fuzzing::log_path`, which `crates/server/tests/fuzz_corpus.rs`
//! replays the corpus through.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = server::fuzzing::log_path(data) {
        panic!("{broken}");
    }
});
