//! `forensics::registry::fuzz_registry`: arbitrary bytes as a subject
//! registry import (`custos forensics registry`) — refused with the line and
//! field, or loaded; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = forensics::registry::fuzz_registry(data);
});
