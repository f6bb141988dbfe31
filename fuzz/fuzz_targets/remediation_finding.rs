//! `govern::fuzz_finding_json`: arbitrary bytes as a new remediation finding
//! (`POST /v1/findings`) — refused, or a valid open finding.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = govern::fuzz_finding_json(data) {
        panic!("{e}");
    }
});
