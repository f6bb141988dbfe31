//! `tlog::decode_bundle` on arbitrary bytes: no panic, and a bundle that
//! decodes re-encodes (with `tlog::append_entry`) to exactly its bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tlog::{append_entry, decode_bundle};

fuzz_target!(|data: &[u8]| {
    let mut again = Vec::new();
    for entry in decode_bundle(data) {
        let Ok(entry) = entry else { return };
        append_entry(&mut again, entry).expect("a decoded entry can be encoded");
    }
    assert_eq!(again, data, "a decoded bundle re-encodes differently");
});
