//! `access::fuzzing::grant_request`: the parser of outside JSON on arbitrary
//! bytes: no panic, every refusal with JSON paths, and what is accepted
//! compiles, validates against the Cedar schema and decides as it says.
//! Replayed by `crates/access/tests/fuzz_corpus.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = access::fuzzing::grant_request(data) {
        panic!("{broken}");
    }
});
