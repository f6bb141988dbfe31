//! `forensics::snapshot::fuzz_snapshot`: arbitrary bytes as the forensic index
//! snapshot (`DIR/forensics/index.bin`) — refused or loaded, never a panic or
//! a wild allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = forensics::snapshot::fuzz_snapshot(data);
});
