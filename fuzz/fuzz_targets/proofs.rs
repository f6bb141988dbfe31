//! `tlog::verify_inclusion` and `tlog::verify_consistency` on proofs taken
//! from arbitrary bytes, laid out as: `a` (u64 LE), `b` (u64 LE), `h1` (32
//! bytes), `h2` (32 bytes), then the proof hashes (32 bytes each; a trailing
//! partial hash is ignored). Inclusion of leaf `h1` at index `a` in a tree of
//! size `b` and root `h2`; consistency of tree `a` (root `h1`) with tree `b`
//! (root `h2`). Neither may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tlog::{Hash, verify_consistency, verify_inclusion};

fuzz_target!(|data: &[u8]| {
    let Some((a, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let Some((b, rest)) = rest.split_first_chunk::<8>() else {
        return;
    };
    let Some((h1, rest)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let Some((h2, rest)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let proof: Vec<Hash> = rest
        .chunks_exact(32)
        .filter_map(|c| c.try_into().ok())
        .collect();
    let (a, b) = (u64::from_le_bytes(*a), u64::from_le_bytes(*b));
    let _ = verify_inclusion(h1, a, b, &proof, h2);
    let _ = verify_consistency(a, b, h1, h2, &proof);
});
