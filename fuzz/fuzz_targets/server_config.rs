//! `server::resolve` (via `Settings::from_toml`, `into_config`) on arbitrary
//! bytes as the TOML configuration file: no panic; errors name the file and
//! the key at fault; file and environment agree on every value; what is
//! accepted validates. The checks live in `server::fuzzing::server_config`,
//! which `crates/server/tests/fuzz_corpus.rs` replays the corpus through.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = server::fuzzing::server_config(data) {
        panic!("{broken}");
    }
});
