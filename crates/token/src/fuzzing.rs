//! The fuzzing fixture, shared by `fuzz/fuzz_targets/jwt.rs` and
//! `crates/token/tests/fuzz_corpus.rs` so both run the very same checks.
//!
//! A fixed authority (test-only keys from fixed seeds, a clock stopped at
//! 2025-06-01T03:04:05Z) that issued a handful of tokens, and an embedded
//! verifier over it. [`jwt`] introspects arbitrary bytes with both and
//! checks the invariants: no panic, a typed reason for every refusal,
//! `{"active":false}` and nothing else for inactive tokens, and nothing
//! accepted that the authority did not issue byte for byte.
//!
//! Not for production use: the keys here are public.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use crate::authority::{Authority, AuthorityConfig, IssueRequest, SubjectStatus, Subjects};
use crate::clock::ManualClock;
use crate::jwt::{self, Claims, b64e};
use crate::keys::{KeyMaterial, thumbprint};
use crate::store::{MemoryIssuanceStore, MemoryKeyStore, MemoryRevocationStore, RevocationReason};
use crate::verifier::{Verifier, VerifierConfig};

/// The fixture's clock, seconds since the epoch (2025-06-01T03:04:05Z).
pub const NOW: u64 = 1_748_747_045;
/// The fixture's issuer.
pub const ISSUER: &str = "https://custos.example";
/// Seed of the fixture's current key (public: test only).
const CURRENT_SEED: [u8; 32] = [0x11; 32];
/// Seed of the fixture's retired key (public: test only).
const RETIRED_SEED: [u8; 32] = [0x22; 32];
/// Seed of a key the authority never had.
const STRANGER_SEED: [u8; 32] = [0x33; 32];

/// alice is active, bob offboarded, dave suspended; everyone else unknown.
#[derive(Debug)]
struct FixtureSubjects;

impl Subjects for FixtureSubjects {
    fn status(&self, sub: &str) -> SubjectStatus {
        match sub {
            "alice" | "carol" => SubjectStatus::Active,
            "bob" => SubjectStatus::Offboarded,
            "dave" => SubjectStatus::Suspended,
            _ => SubjectStatus::Unknown,
        }
    }
}

/// What the fixture made of one input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Introspection says active.
    Accepted,
    /// Refused, with the introspection's machine reason.
    Refused(&'static str),
}

struct Fixture {
    authority: Authority,
    verifier: Verifier,
    /// Tokens the authority issued and accepts.
    accepted: Vec<String>,
    /// Every token the authority issued.
    issued: Vec<String>,
    /// Named seed inputs.
    seeds: Vec<(String, Vec<u8>)>,
}

fn req(sub: &str) -> IssueRequest {
    IssueRequest {
        sub: sub.into(),
        aud: vec!["https://shop.example".into()],
        scope: Some("orders:read profile:read".into()),
        roles: vec!["customer".into()],
        client_id: Some("web".into()),
        lifetime_secs: Some(600),
    }
}

fn claims(sub: &str, jti: &str, iat: u64) -> Claims {
    Claims {
        iss: ISSUER.into(),
        sub: sub.into(),
        aud: vec!["https://shop.example".into()],
        exp: iat + 600,
        iat,
        nbf: iat,
        jti: jti.into(),
        scope: None,
        roles: Vec::new(),
        client_id: None,
    }
}

fn raw(header: &str, payload: &str, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64e(header.as_bytes()),
        b64e(payload.as_bytes()),
        b64e(sig)
    )
}

fn build() -> Result<Fixture, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let clock = Arc::new(ManualClock::at_secs(NOW - 7200));
    let authority = Authority::open(
        AuthorityConfig::new(ISSUER).validate().map_err(|x| e(&x))?,
        clock.clone(),
        Arc::new(MemoryKeyStore::default()),
        Arc::new(MemoryIssuanceStore::default()),
        Arc::new(MemoryRevocationStore::default()),
    )
    .map_err(|x| e(&x))?;
    let custody: BTreeSet<String> = ["ops-1".to_owned()].into();
    let old = authority
        .install_key(KeyMaterial::from_seed(&RETIRED_SEED), custody.clone())
        .map_err(|x| e(&x))?;
    clock.set_millis((NOW - 60) * 1000);
    let retired = authority
        .issue_with_jti(&req("alice"), "seed-retired")
        .map_err(|x| e(&x))?;
    authority.retire_only(&old).map_err(|x| e(&x))?;
    let cur = authority
        .install_key(KeyMaterial::from_seed(&CURRENT_SEED), custody)
        .map_err(|x| e(&x))?;

    clock.set_millis((NOW - 3600) * 1000);
    let expired = authority
        .issue_with_jti(&req("alice"), "seed-expired")
        .map_err(|x| e(&x))?;
    clock.set_millis((NOW + 3600) * 1000);
    let future = authority
        .issue_with_jti(&req("alice"), "seed-future")
        .map_err(|x| e(&x))?;
    clock.set_millis(NOW * 1000);
    let issue = |sub: &str, jti: &str| authority.issue_with_jti(&req(sub), jti);
    let alice = issue("alice", "seed-alice").map_err(|x| e(&x))?;
    let carol = issue("carol", "seed-carol").map_err(|x| e(&x))?;
    let bob = issue("bob", "seed-bob").map_err(|x| e(&x))?;
    let dave = issue("dave", "seed-dave").map_err(|x| e(&x))?;
    let nobody = issue("nobody", "seed-nobody").map_err(|x| e(&x))?;
    let revoked = issue("carol", "seed-revoked").map_err(|x| e(&x))?;
    authority
        .revoke_jti("seed-revoked", RevocationReason::Requested)
        .map_err(|x| e(&x))?;
    authority.offboard("bob").map_err(|x| e(&x))?;

    let current = KeyMaterial::from_seed(&CURRENT_SEED);
    let sign = |c: &Claims| jwt::encode(current.signing_key(), &cur, c);
    let forged = sign(&claims("alice", "forged-jti", NOW));
    let stranger_key = KeyMaterial::from_seed(&STRANGER_SEED);
    let stranger_kid = thumbprint(&stranger_key.public().to_bytes());
    let unknown_kid = jwt::encode(
        stranger_key.signing_key(),
        &stranger_kid,
        &claims("alice", "seed-alice", NOW),
    );
    // alice's token with carol as subject: a real jti, another subject.
    let mut swapped = claims("carol", "seed-alice", NOW);
    swapped.scope = Some("orders:read profile:read".into());
    let swapped = sign(&swapped);
    let mut bad_sig = alice.clone().into_bytes();
    if let Some(last) = bad_sig.iter().rposition(|b| *b != b'.') {
        // Flip a bit inside the signature's base64 (keeps it decodable).
        if let Some(b) = bad_sig.get_mut(last.saturating_sub(3)) {
            *b = if *b == b'A' { b'B' } else { b'A' };
        }
    }
    let header = format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{cur}"}}"#);
    let payload = serde_json::to_string(&claims("alice", "seed-alice", NOW)).map_err(|x| e(&x))?;
    let signed_raw = |h: &str, p: &str| {
        let input = format!("{}.{}", b64e(h.as_bytes()), b64e(p.as_bytes()));
        let sig = ed25519_dalek::Signer::sign(current.signing_key(), input.as_bytes());
        format!("{input}.{}", b64e(&sig.to_bytes()))
    };
    let dup = payload.replacen("{", r#"{"sub":"mallory","#, 1);
    let issued = [
        &alice, &carol, &bob, &dave, &nobody, &revoked, &retired, &expired, &future,
    ]
    .map(|t| t.clone())
    .to_vec();
    let seeds: Vec<(&str, String)> = vec![
        ("valid-alice", alice.clone()),
        ("valid-carol", carol.clone()),
        ("bad-offboarded_subject", bob),
        ("bad-suspended_subject", dave),
        ("bad-unknown_subject", nobody),
        ("bad-revoked", revoked),
        ("bad-retired_kid", retired),
        ("bad-expired", expired),
        ("bad-not_yet_valid", future),
        ("bad-never_issued-forged", forged),
        ("bad-never_issued-swapped", swapped),
        ("bad-unknown_kid", unknown_kid),
        (
            "bad-bad_signature",
            String::from_utf8_lossy(&bad_sig).into_owned(),
        ),
        (
            "bad-alg_none",
            raw(r#"{"alg":"none","typ":"JWT"}"#, &payload, b""),
        ),
        (
            "bad-wrong_alg-hs256",
            raw(&header.replace("EdDSA", "HS256"), &payload, &[7; 32]),
        ),
        (
            "bad-wrong_alg-rs256",
            raw(&header.replace("EdDSA", "RS256"), &payload, &[7; 256]),
        ),
        (
            "bad-malformed-crit",
            signed_raw(
                &header.replace("\"typ\"", "\"crit\":[\"exp\"],\"typ\""),
                &payload,
            ),
        ),
        ("bad-malformed-padding", format!("{}=", alice)),
        ("bad-malformed-json", signed_raw(&header, "{\"sub\":")),
        ("bad-malformed-duplicate", signed_raw(&header, &dup)),
        (
            "bad-malformed-missing-exp",
            signed_raw(&header, &payload.replace("\"exp\"", "\"exq\"")),
        ),
        (
            "bad-malformed-two-parts",
            alice
                .rsplit_once('.')
                .map(|(a, _)| a.to_owned())
                .unwrap_or_default(),
        ),
        (
            "bad-malformed-oversize",
            format!("{}{}", alice, "A".repeat(9000)),
        ),
    ];
    let verifier = Verifier::new(
        VerifierConfig::new(ISSUER),
        clock.clone(),
        // A second handle on the same stores would need them shared; the
        // fixture's verifier reads the authority's published state through a
        // snapshot feed instead (see `Snapshot`).
        Arc::new(Snapshot::of(&authority).map_err(|x| e(&x))?),
    );
    verifier.refresh().map_err(|x| e(&x))?;
    Ok(Fixture {
        authority,
        verifier,
        accepted: vec![alice, carol],
        issued,
        seeds: seeds
            .into_iter()
            .map(|(n, t)| (n.to_owned(), t.into_bytes()))
            .collect(),
    })
}

/// The authority's published state at one moment, as a [`crate::Feed`].
struct Snapshot {
    jwks: Vec<u8>,
    revocations: Vec<crate::Revocation>,
    issuances: Vec<crate::IssuanceRecord>,
}

impl Snapshot {
    fn of(a: &Authority) -> Result<Self, crate::StoreError> {
        Ok(Self {
            jwks: a.jwks().to_json().into_bytes(),
            revocations: a.revocations_since(0, usize::MAX)?,
            issuances: a.issuances_since(0, usize::MAX)?,
        })
    }
}

impl crate::Feed for Snapshot {
    fn jwks_json(&self) -> Result<Vec<u8>, crate::StoreError> {
        Ok(self.jwks.clone())
    }
    fn revocations_since(
        &self,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<crate::Revocation>, crate::StoreError> {
        Ok(self
            .revocations
            .iter()
            .filter(|r| r.seq > seq)
            .take(limit)
            .cloned()
            .collect())
    }
    fn issuances_since(
        &self,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<crate::IssuanceRecord>, crate::StoreError> {
        Ok(self
            .issuances
            .iter()
            .filter(|r| r.seq > seq)
            .take(limit)
            .cloned()
            .collect())
    }
}

fn fixture() -> Result<&'static Fixture, String> {
    static FIXTURE: OnceLock<Result<Fixture, String>> = OnceLock::new();
    FIXTURE.get_or_init(build).as_ref().map_err(Clone::clone)
}

/// The named seed inputs of `fuzz/corpus/jwt/`: `valid-…` must be
/// accepted, `bad-<code>[-…]` refused with that machine code.
pub fn seeds() -> Result<Vec<(String, Vec<u8>)>, String> {
    Ok(fixture()?.seeds.clone())
}

/// Runs one input through the fixture's authority and verifier; `Err`
/// names a broken invariant.
pub fn jwt(data: &[u8]) -> Result<Outcome, String> {
    let f = fixture()?;
    let text = String::from_utf8_lossy(data);
    let introspection = f.authority.introspect(&text, &FixtureSubjects);
    let local = f.verifier.verify(&text);
    let json = introspection.to_json();
    match &introspection.verdict {
        Ok(token) => {
            if !f.accepted.iter().any(|t| t.as_bytes() == data) {
                return Err(format!("accepted a token it never issued: {text:?}"));
            }
            if local.as_ref().ok() != Some(token) {
                return Err(format!("verifier disagrees: {local:?}"));
            }
            if !json.starts_with(r#"{"active":true,"#) {
                return Err(format!("active response {json}"));
            }
            Ok(Outcome::Accepted)
        }
        Err(refusal) => {
            if json != r#"{"active":false}"# {
                return Err(format!("inactive response {json}"));
            }
            if refusal.code().is_empty() || refusal.to_string().is_empty() {
                return Err("refusal without a reason".into());
            }
            // The verifier has no view of subjects: it may accept a token
            // of a suspended or unknown subject, but only one issued.
            if let Ok(t) = &local
                && !f.issued.iter().any(|a| a.as_bytes() == data)
            {
                return Err(format!("verifier accepted a token never issued: {t:?}"));
            }
            Ok(Outcome::Refused(refusal.code()))
        }
    }
}
