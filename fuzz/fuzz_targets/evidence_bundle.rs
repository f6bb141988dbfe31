//! `evidence::fuzz_bundle`: arbitrary bytes as an evidence bundle — refused
//! with the file at fault, never a panic (also with signature checks off, so
//! the parsers behind them are reached).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    evidence::fuzz_bundle(data);
});
