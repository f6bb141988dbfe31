//! `incident::fuzz_rules`: arbitrary bytes as the disclosure rules file
//! (`rules/disclosure/jurisdictions.toml`) — refused with the field path, or
//! accepted, round-tripping and assessable at extreme times.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = incident::fuzz_rules(data) {
        panic!("{e}");
    }
});
