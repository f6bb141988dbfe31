//! Latency of token verification, for `custos bench token` later:
//! in-process introspection (parse + Ed25519 + issuance, subject and
//! revocation checks) and the embedded verifier, each as p50/p99 in µs and
//! as a ratio to a bare `ed25519-dalek` verification of the same signing
//! input measured in the same run.
//!
//! Run: `cargo run --release -p token --example bench [-- N]`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use token::{
    Authority, AuthorityConfig, IssueRequest, MemoryIssuanceStore, MemoryKeyStore,
    MemoryRevocationStore, SubjectStatus, Subjects, SystemClock, Verifier, VerifierConfig,
};

struct Known(HashSet<String>);
impl Subjects for Known {
    fn status(&self, sub: &str) -> SubjectStatus {
        if self.0.contains(sub) {
            SubjectStatus::Active
        } else {
            SubjectStatus::Unknown
        }
    }
}

fn percentiles(mut ns: Vec<u64>) -> (f64, f64) {
    ns.sort_unstable();
    let at = |q: f64| ns[((ns.len() as f64 - 1.0) * q) as usize] as f64 / 1000.0;
    (at(0.50), at(0.99))
}

fn time(n: usize, mut f: impl FnMut(usize)) -> Vec<u64> {
    (0..n)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed().as_nanos() as u64
        })
        .collect()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let clock = Arc::new(SystemClock);
    let authority = Arc::new(
        Authority::open(
            AuthorityConfig::new("https://custos.example")
                .validate()
                .unwrap(),
            clock.clone(),
            Arc::new(MemoryKeyStore::default()),
            Arc::new(MemoryIssuanceStore::default()),
            Arc::new(MemoryRevocationStore::default()),
        )
        .unwrap(),
    );
    authority.ensure_current_key(&["ops"]).unwrap();
    // 100,000 subjects, 10,000 live tokens.
    let subjects = Known((0..100_000).map(|i| format!("customer-{i}")).collect());
    let tokens: Vec<String> = (0..10_000)
        .map(|i| {
            let r = IssueRequest {
                sub: format!("customer-{}", i * 7 % 100_000),
                aud: vec!["https://shop.example".into()],
                scope: Some("orders:read profile:read".into()),
                ..IssueRequest::default()
            };
            authority.issue(&r, &subjects).unwrap().token
        })
        .collect();
    let verifier = Verifier::new(
        VerifierConfig::new("https://custos.example"),
        clock,
        authority.clone(),
    );
    verifier.refresh().unwrap();

    // The bare baseline: decode nothing, verify the same inputs.
    let jwks: serde_json::Value = serde_json::from_str(&authority.jwks().to_json()).unwrap();
    let x = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let vk = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
    let bare: Vec<(Vec<u8>, Signature)> = tokens
        .iter()
        .map(|t| {
            let (input, sig) = t.rsplit_once('.').unwrap();
            let sig: [u8; 64] = URL_SAFE_NO_PAD.decode(sig).unwrap().try_into().unwrap();
            (input.as_bytes().to_vec(), Signature::from_bytes(&sig))
        })
        .collect();

    let k = tokens.len();
    // Warm up, then interleave the three measurements in one run.
    for i in 0..2000 {
        let _ = vk.verify_strict(&bare[i % k].0, &bare[i % k].1);
        let _ = authority.introspect(&tokens[i % k], &subjects);
        let _ = verifier.verify(&tokens[i % k]);
    }
    let mut base = Vec::with_capacity(n);
    let mut intro = Vec::with_capacity(n);
    let mut local = Vec::with_capacity(n);
    for round in 0..4 {
        base.extend(time(n / 4, |i| {
            let (m, s) = &bare[(i + round) % k];
            assert!(vk.verify_strict(m, s).is_ok());
        }));
        intro.extend(time(n / 4, |i| {
            let r = authority.introspect(&tokens[(i + round) % k], &subjects);
            assert!(r.verdict.is_ok());
            std::hint::black_box(r.to_json());
        }));
        local.extend(time(n / 4, |i| {
            assert!(verifier.verify(&tokens[(i + round) % k]).is_ok());
        }));
    }
    let (b50, b99) = percentiles(base);
    let (i50, i99) = percentiles(intro);
    let (l50, l99) = percentiles(local);
    println!("samples per measurement: {n}");
    println!("bare ed25519 verify_strict     p50 {b50:7.2} µs  p99 {b99:7.2} µs");
    println!(
        "introspect (+RFC 7662 JSON)    p50 {i50:7.2} µs  p99 {i99:7.2} µs  ratio p50 {:.2}x p99 {:.2}x",
        i50 / b50,
        i99 / b99
    );
    println!(
        "embedded verifier verify       p50 {l50:7.2} µs  p99 {l99:7.2} µs  ratio p50 {:.2}x p99 {:.2}x",
        l50 / b50,
        l99 / b99
    );
}
