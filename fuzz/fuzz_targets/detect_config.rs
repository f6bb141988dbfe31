//! `detect::settings::fuzz_settings`: arbitrary bytes as the detection file
//! (`--detect-config`) — no panic; a refusal names the file and the key; an
//! accepted file is within bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = detect::settings::fuzz_settings(data) {
        panic!("{e}");
    }
});
