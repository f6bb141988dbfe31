//! `detect::sigma::fuzz_rule`: arbitrary bytes as a Sigma rule file — no
//! panic; a refusal names the file; an accepted set evaluates and snapshots.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = detect::sigma::fuzz_rule(data) {
        panic!("{e}");
    }
});
