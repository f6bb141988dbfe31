//! `tlog::TlogProof::parse` and `TlogProof::verify` on arbitrary bytes: no
//! panic, and a proof that parses re-encodes to exactly its bytes. The entry
//! proved is taken to be the proof's extra data (empty if none), as in the
//! seed corpus.
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tlog::{TlogProof, Verifier, leaf_hash};

/// The origin and test-only log key of the seed corpus (see fuzz/README.md).
const ORIGIN: &str = "custos.example/log";
static LOG: LazyLock<Verifier> = LazyLock::new(|| {
    Verifier::parse("custos.example/log+d67bebc6+AYbiMNxeZgxaRQeDzEg9KnIUV6YbbcqVe7mrc1N2i7uo")
        .expect("fixed key")
});

fuzz_target!(|data: &[u8]| {
    if let Ok(proof) = TlogProof::parse(data) {
        assert_eq!(
            proof.to_bytes(),
            data,
            "a parsed proof re-encodes differently"
        );
        let leaf = leaf_hash(proof.extra.as_deref().unwrap_or_default());
        let _ = proof.verify(&leaf, ORIGIN, &LOG);
    }
});
