//! `tlog::Verifier::parse` and `tlog::Signer::from_skey` on arbitrary strings:
//! no panic, and a key that parses re-encodes to a key that parses back to it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tlog::{Signer, Verifier};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = Verifier::parse(text) {
        assert_eq!(
            Verifier::parse(&v.to_string()),
            Ok(v),
            "a verifier key does not round-trip"
        );
    }
    if let Ok(s) = Signer::from_skey(text) {
        let again = Signer::from_skey(&s.to_skey()).map(|s| s.verifier());
        assert_eq!(again, Ok(s.verifier()), "a signer key does not round-trip");
    }
});
