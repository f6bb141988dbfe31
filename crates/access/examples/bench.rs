//! Latency of a gateway's decision: token verification plus
//! authorization, with 100,000 principals in 2,000 groups and 1,000
//! grants (1,000 Cedar permits + the forbid). Reports p50/p99 in µs of
//! (a) a bare `ed25519-dalek` `verify_strict` of the token's signing
//! input, (b) `token::Authority::check`, (c) `Engine::authorize` alone,
//! (d) check + principal lookup + authorize, and the ratio (d)/(a), all
//! measured in the same run, interleaved. Issue target: (d) p99 ≤ 50 µs.
//!
//! Run: `cargo run --release -p access --example bench [-- N]`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use access::{
    AuthzRequest, Engine, Grant, Holder, Principal, PrincipalKind, PrincipalStatus, approve,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use token::{
    Authority, AuthorityConfig, IssueRequest, MemoryIssuanceStore, MemoryKeyStore,
    MemoryRevocationStore, SubjectStatus, Subjects, SystemClock,
};

const PRINCIPALS: usize = 100_000;
const GROUPS: usize = 2_000;
const GRANTS: usize = 1_000;
const DATASETS: [&str; 4] = ["customers", "orders", "payments", "addresses"];

struct Directory(HashMap<String, Principal>);
impl Subjects for Directory {
    fn status(&self, sub: &str) -> SubjectStatus {
        match self.0.get(sub).map(|p| p.status) {
            Some(PrincipalStatus::Active) => SubjectStatus::Active,
            Some(PrincipalStatus::Suspended) => SubjectStatus::Suspended,
            Some(PrincipalStatus::Offboarded) => SubjectStatus::Offboarded,
            None => SubjectStatus::Unknown,
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

fn grant(i: usize, now: i64) -> Grant {
    // Half to groups (grp-0 … grp-499, 50 members each), half to single
    // principals outside those groups.
    let holder = if i.is_multiple_of(2) {
        Holder::Group(format!("grp-{}", i / 2))
    } else {
        Holder::Principal(format!("emp-{}", 50_000 + i))
    };
    let mut g = Grant {
        id: format!("g-{i:04}"),
        holder,
        dataset: DATASETS[i % DATASETS.len()].into(),
        categories: BTreeSet::from(["name".into(), "phone".into(), "email".into()]),
        purpose: "customer_support".into(),
        max_subjects_per_day: 10_000_000,
        valid_from: now - 86_400,
        valid_until: now + 30 * 86_400,
        requested_by: "mgr-1".into(),
        approved_by: None,
        approved_at: None,
        ticket: format!("SEC-{i}"),
        created_at: now - 86_400,
        revoked: None,
    };
    approve(&mut g, "sec-1", now - 86_400).unwrap();
    g
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(40_000);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;

    let directory = Directory(
        (0..PRINCIPALS)
            .map(|i| {
                let id = format!("emp-{i}");
                let p = Principal {
                    id: id.clone(),
                    kind: PrincipalKind::Employee,
                    status: PrincipalStatus::Active,
                    groups: vec![format!("grp-{}", i % GROUPS)],
                    department: Some(format!("dept-{}", i % 40)),
                    roles: Vec::new(),
                    region: Some("kr".into()),
                    supplier: None,
                };
                (id, p)
            })
            .collect(),
    );
    let t = Instant::now();
    let engine = Engine::new((0..GRANTS).map(|i| grant(i, now))).unwrap();
    let load_ms = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(engine.policy_count(), GRANTS + 1);

    let authority = Authority::open(
        AuthorityConfig::new("https://custos.example")
            .validate()
            .unwrap(),
        Arc::new(SystemClock),
        Arc::new(MemoryKeyStore::default()),
        Arc::new(MemoryIssuanceStore::default()),
        Arc::new(MemoryRevocationStore::default()),
    )
    .unwrap();
    authority.ensure_current_key(&["ops"]).unwrap();

    // 10,000 staff with a grant (members of granted groups, and direct
    // holders), each with a token and the request its grant covers.
    let mut who: Vec<(String, &'static str)> = Vec::new();
    for i in 0..PRINCIPALS {
        let g = i % GROUPS;
        if g < GRANTS / 2 && who.len() < 9_500 {
            who.push((format!("emp-{i}"), DATASETS[(2 * g) % DATASETS.len()]));
        }
    }
    for i in (1..GRANTS).step_by(2).take(500) {
        who.push((format!("emp-{}", 50_000 + i), DATASETS[i % DATASETS.len()]));
    }
    let tokens: Vec<String> = who
        .iter()
        .map(|(sub, _)| {
            let r = IssueRequest {
                sub: sub.clone(),
                aud: vec!["https://customers.example".into()],
                ..IssueRequest::default()
            };
            authority.issue(&r, &directory).unwrap().token
        })
        .collect();
    let requests: Vec<AuthzRequest> = who
        .iter()
        .enumerate()
        .map(|(i, (p, dataset))| AuthzRequest {
            principal: p.clone(),
            dataset: (*dataset).into(),
            categories: BTreeSet::from(["name".into(), "phone".into()]),
            purpose: "customer_support".into(),
            subjects: vec![format!("customer-{}", i * 7919 % 1_000_000)],
        })
        .collect();
    let k = tokens.len();

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

    // First touch of each principal builds its policy set (cold), then
    // the cache serves it (warm).
    let cold = time(k, |i| {
        let d = engine.authorize(&requests[i], directory.0.get(&requests[i].principal), now);
        assert!(d.allow, "{d:?}");
    });
    let mut seen = HashSet::new();
    let mut per_principal = 0usize;
    for r in &requests {
        if seen.insert(r.principal.clone()) {
            per_principal = per_principal.max(
                engine
                    .grants()
                    .iter()
                    .filter(|g| match &g.holder {
                        Holder::Principal(p) => *p == r.principal,
                        Holder::Group(grp) => directory.0[&r.principal].groups.contains(grp),
                    })
                    .count()
                    + 1,
            );
            if seen.len() > 200 {
                break;
            }
        }
    }

    let (mut a, mut b, mut c, mut d) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut b_first = Vec::with_capacity(n / 4);
    for round in 0..4 {
        let at = |i: usize| (i * 13 + round * 101) % k;
        a.extend(time(n / 4, |i| {
            let (m, s) = &bare[at(i)];
            assert!(vk.verify_strict(m, s).is_ok());
        }));
        // Round 0 is every token's first sight (signature verified);
        // later rounds meet tokens the authority remembers, as a gateway
        // introspecting the same token on every request does.
        let samples = time(n / 4, |i| {
            assert!(authority.check(&tokens[at(i)], &directory).is_ok());
        });
        if round == 0 {
            b_first.extend(samples);
        } else {
            b.extend(samples);
        }
        c.extend(time(n / 4, |i| {
            let r = &requests[at(i)];
            assert!(
                engine
                    .authorize(r, directory.0.get(&r.principal), now)
                    .allow
            );
        }));
        d.extend(time(n / 4, |i| {
            let v = authority.check(&tokens[at(i)], &directory).unwrap();
            let r = &requests[at(i)];
            debug_assert_eq!(v.sub(), r.principal);
            assert!(engine.authorize(r, directory.0.get(v.sub()), now).allow);
        }));
    }
    let (a50, a99) = percentiles(a);
    let (b50, b99) = percentiles(b);
    let (f50, f99) = percentiles(b_first);
    let (c50, c99) = percentiles(c);
    let (d50, d99) = percentiles(d);
    let (k50, k99) = percentiles(cold);
    println!(
        "access bench: {PRINCIPALS} principals in {GROUPS} groups, {GRANTS} grants ({} Cedar policies), \
         {k} tokens/requests, {n} samples per row; engine load {load_ms:.0} ms; \
         per-principal policy set ≤ {per_principal} policies",
        engine.policy_count()
    );
    println!(
        "| measurement                              |  p50 µs |  p99 µs | p50 / (a) | p99 / (a) |"
    );
    println!(
        "|------------------------------------------|--------:|--------:|----------:|----------:|"
    );
    let row = |name: &str, p50: f64, p99: f64| {
        println!(
            "| {name:<40} | {p50:7.2} | {p99:7.2} | {:8.2}x | {:8.2}x |",
            p50 / a50,
            p99 / a99
        );
    };
    row("(a) bare ed25519 verify_strict", a50, a99);
    row("(b) Authority::check, token seen before", b50, b99);
    row("(b') Authority::check, first sight", f50, f99);
    row("(c) Engine::authorize (warm cache)", c50, c99);
    row("(d) check (seen) + authorize", d50, d99);
    row("    Engine::authorize, first touch (cold)", k50, k99);
    println!(
        "ratio (d)/(a): p50 {:.2}x, p99 {:.2}x; target (d) p99 <= 50 µs: {}",
        d50 / a50,
        d99 / a99,
        if d99 <= 50.0 { "met" } else { "NOT met" }
    );
}
