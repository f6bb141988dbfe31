//! `govern::fuzz_govern_file`: arbitrary bytes as the governance file (TOML or
//! JSON) — refused with the field path, or accepted and within bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = govern::fuzz_govern_file(data) {
        panic!("{e}");
    }
});
