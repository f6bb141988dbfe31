//! The `Authorization` header check of the server (`Bearer <token>`, then
//! `cst_<role>_<id>_<secret>`, then the credential lookup) on arbitrary
//! bytes: no panic, and only the fixture's unrevoked tokens are accepted.
//! The checks live in `server::fuzzing::bearer_token`, which
//! `crates/server/tests/fuzz_corpus.rs` replays the corpus through.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = server::fuzzing::bearer_token(data) {
        panic!("{broken}");
    }
});
