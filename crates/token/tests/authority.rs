//! The token authority: issuance, every refusal reason, rotation with
//! overlap, offboarding, revocation, JWKS — and the 2025 breach replayed
//! with a key kept from the key directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use common::{ISSUER, T0, b64, parts, req, setup, unb64};
use ed25519_dalek::{Signer as _, SigningKey};
use token::{
    Authority, AuthorityConfig, FileKeyStore, IssueRequest, KeyState, Lifecycle, ManualClock,
    MemoryIssuanceStore, MemoryRevocationStore, Refusal, RevocationReason, SubjectStatus,
    thumbprint,
};

fn refusal(s: &common::Setup, token: &str) -> Refusal {
    let i = s.authority.introspect(token, &s.people);
    assert_eq!(
        i.to_json(),
        r#"{"active":false}"#,
        "inactive gives no reason"
    );
    let r = i.verdict.unwrap_err();
    assert!(!r.code().is_empty() && !r.to_string().is_empty());
    r
}

/// Rebuilds a token with its header JSON replaced (signature kept).
fn with_header(token: &str, header: &str) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", b64(header.as_bytes()))
}

/// Rebuilds a token with its claims JSON replaced (signature kept).
fn with_claims(token: &str, claims: &str) -> String {
    let mut it = token.split('.');
    let h = it.next().unwrap();
    it.next();
    format!("{h}.{}.{}", b64(claims.as_bytes()), it.next().unwrap())
}

#[test]
fn issued_token_is_active_with_rfc7662_fields() {
    let s = setup();
    let issued = s.authority.issue(&req("alice"), &s.people).unwrap();
    let (h, c, _) = parts(&issued.token);
    assert_eq!(h["alg"], "EdDSA");
    assert_eq!(h["typ"], "JWT");
    let kid = h["kid"].as_str().unwrap();
    let jwks = s.authority.jwks();
    assert_eq!(jwks.keys.len(), 1);
    let x: [u8; 32] = unb64(&jwks.keys[0].x).try_into().unwrap();
    assert_eq!(thumbprint(&x), kid, "kid is the RFC 7638 thumbprint");
    for claim in [
        "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "roles",
    ] {
        assert!(c.get(claim).is_some(), "claim {claim}");
    }
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 600);
    assert_eq!(issued.record.jti, c["jti"].as_str().unwrap());
    assert!(matches!(
        issued.lifecycle.last(),
        Some(Lifecycle::TokenIssued(_))
    ));

    let i = s.authority.introspect(&issued.token, &s.people);
    let v: serde_json::Value = serde_json::from_str(&i.to_json()).unwrap();
    assert_eq!(v["active"], true);
    assert_eq!(v["sub"], "alice");
    assert_eq!(v["iss"], ISSUER);
    assert_eq!(v["scope"], "orders:read");
    assert_eq!(v["client_id"], "web");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["jti"], c["jti"]);
    assert_eq!(i.verdict.unwrap().sub(), "alice");
}

#[test]
fn lifetime_is_capped_at_fifteen_minutes() {
    let s = setup();
    let long = IssueRequest {
        lifetime_secs: Some(10 * 3600),
        ..req("alice")
    };
    let (_, c, _) = parts(&s.authority.issue(&long, &s.people).unwrap().token);
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 900);
    let mut cfg = AuthorityConfig::new(ISSUER);
    cfg.max_lifetime_secs = 3600;
    assert!(cfg.validate().is_err());
    let mut cfg = AuthorityConfig::new(ISSUER);
    cfg.leeway_secs = 600;
    assert!(cfg.validate().is_err());
}

#[test]
fn refuses_alg_none_and_other_algorithms() {
    let s = setup();
    let t = s.authority.issue(&req("alice"), &s.people).unwrap().token;
    let (h, c, _) = parts(&t);
    let kid = h["kid"].as_str().unwrap();
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(c.to_string().as_bytes())
    );
    assert_eq!(refusal(&s, &none), Refusal::AlgNone);
    assert_eq!(
        refusal(&s, &with_header(&t, r#"{"alg":"None"}"#)),
        Refusal::AlgNone
    );
    for alg in [
        "HS256", "RS256", "ES256", "PS256", "EdDSA ", "eddsa", "Ed25519",
    ] {
        let h = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{kid}"}}"#);
        assert_eq!(
            refusal(&s, &with_header(&t, &h)),
            Refusal::WrongAlg,
            "{alg}"
        );
    }
    assert_eq!(refusal(&s, &none).code(), "alg_none");
}

#[test]
fn refuses_bad_signature() {
    let s = setup();
    let t = s.authority.issue(&req("alice"), &s.people).unwrap().token;
    let (head, sig) = t.rsplit_once('.').unwrap();
    let mut raw = unb64(sig);
    raw[10] ^= 1;
    assert_eq!(
        refusal(&s, &format!("{head}.{}", b64(&raw))),
        Refusal::BadSignature
    );
    // Claims changed, signature kept.
    let (_, c, _) = parts(&t);
    let mut c2 = c.clone();
    c2["sub"] = "bob".into();
    assert_eq!(
        refusal(&s, &with_claims(&t, &c2.to_string())),
        Refusal::BadSignature
    );
    // Header re-encoded (same meaning, other bytes) breaks the signature too.
    let (h, _, _) = parts(&t);
    assert_eq!(
        refusal(&s, &with_header(&t, &format!(" {h}"))),
        Refusal::BadSignature
    );
}

#[test]
fn refuses_expired_and_not_yet_valid_with_leeway() {
    let s = setup();
    let t = s.authority.issue(&req("alice"), &s.people).unwrap().token;
    s.clock.set_millis((T0 + 600 + 29) * 1000);
    assert!(
        s.authority.introspect(&t, &s.people).verdict.is_ok(),
        "within leeway"
    );
    s.clock.set_millis((T0 + 600 + 30) * 1000);
    assert_eq!(refusal(&s, &t), Refusal::Expired);
    s.clock.set_millis((T0 - 30) * 1000);
    assert!(
        s.authority.introspect(&t, &s.people).verdict.is_ok(),
        "within leeway"
    );
    s.clock.set_millis((T0 - 31) * 1000);
    assert_eq!(refusal(&s, &t), Refusal::NotYetValid);
}

#[test]
fn refuses_unknown_and_retired_kid() {
    let s = setup();
    let t = s.authority.issue(&req("alice"), &s.people).unwrap().token;
    let h = r#"{"alg":"EdDSA","typ":"JWT","kid":"no-such-key"}"#;
    assert_eq!(refusal(&s, &with_header(&t, h)), Refusal::UnknownKid);
    let (head, _, _) = parts(&t);
    let old = head["kid"].as_str().unwrap().to_owned();
    s.authority.retire_now(&old).unwrap();
    assert_eq!(refusal(&s, &t), Refusal::RetiredKid);
    assert!(s.authority.jwks().keys.iter().all(|k| k.kid != old));
}

#[test]
fn refuses_revoked_unknown_suspended_offboarded_subjects() {
    let s = setup();
    let a = s.authority.issue(&req("alice"), &s.people).unwrap();
    assert!(
        s.authority
            .revoke_jti(&a.record.jti, RevocationReason::Requested)
            .unwrap()
            .is_some()
    );
    assert_eq!(refusal(&s, &a.token), Refusal::Revoked);
    s.people.set("zed", SubjectStatus::Active);
    let z = s.authority.issue(&req("zed"), &s.people).unwrap().token;
    s.people.set("zed", SubjectStatus::Unknown);
    assert_eq!(refusal(&s, &z), Refusal::UnknownSubject);
    // Tokens go to active subjects only.
    for status in [
        SubjectStatus::Unknown,
        SubjectStatus::Suspended,
        SubjectStatus::Offboarded,
    ] {
        s.people.set("zed", status);
        assert_eq!(
            s.authority.issue(&req("zed"), &s.people).unwrap_err(),
            token::IssueError::Subject(status)
        );
    }
    let b = s.authority.issue(&req("bob"), &s.people).unwrap().token;
    s.people.set("bob", SubjectStatus::Suspended);
    assert_eq!(refusal(&s, &b), Refusal::SuspendedSubject);
    s.people.set("bob", SubjectStatus::Offboarded);
    assert_eq!(refusal(&s, &b), Refusal::OffboardedSubject);
}

#[test]
fn refuses_malformed_tokens() {
    let s = setup();
    let t = s.authority.issue(&req("alice"), &s.people).unwrap().token;
    let (h, c, sig) = parts(&t);
    let hs = h.to_string();
    let mal = |tok: &str| match refusal(&s, tok) {
        Refusal::Malformed { what } => what,
        other => panic!("{tok}: {other:?}"),
    };
    mal(&format!("{t}="));
    mal(&format!(
        "{}=.{}",
        t.split('.').next().unwrap(),
        t.split_once('.').unwrap().1
    ));
    mal(&t.replace('.', ".."));
    mal(&t.replacen('.', "+", 1));
    mal(&format!("{t}.x"));
    mal(t.rsplit_once('.').unwrap().0);
    mal("");
    mal("...");
    mal(&format!(
        "{}.{}.{sig}",
        b64(b"not json"),
        b64(c.to_string().as_bytes())
    ));
    mal(&with_claims(&t, "not json"));
    mal(&with_claims(&t, "[1,2]"));
    mal(&with_claims(
        &t,
        &c.to_string().replacen('{', r#"{"sub":"mallory","#, 1),
    ));
    assert!(
        mal(&with_header(&t, &hs.replacen('{', r#"{"alg":"EdDSA","#, 1))).starts_with("header")
    );
    for claim in ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"] {
        let mut c2 = c.clone();
        c2.as_object_mut().unwrap().remove(claim);
        assert!(
            mal(&with_claims(&t, &c2.to_string())).contains(claim),
            "{claim}"
        );
    }
    let mut c2 = c.clone();
    c2["exp"] = serde_json::json!(1.5e9);
    mal(&with_claims(&t, &c2.to_string()));
    c2["exp"] = serde_json::json!(-1);
    mal(&with_claims(&t, &c2.to_string()));
    let mut h2 = h.clone();
    h2["crit"] = serde_json::json!(["exp"]);
    assert_eq!(
        mal(&with_header(&t, &h2.to_string())),
        "header: crit present"
    );
    let mut h2 = h.clone();
    h2["jwk"] = serde_json::json!({"kty":"OKP"});
    mal(&with_header(&t, &h2.to_string()));
    let mut h2 = h.clone();
    h2["typ"] = "JOSE+JSON".into();
    mal(&with_header(&t, &h2.to_string()));
    let mut h2 = h.clone();
    h2.as_object_mut().unwrap().remove("kid");
    mal(&with_header(&t, &h2.to_string()));
    let big = with_claims(&t, &format!(r#"{{"pad":"{}"}}"#, "x".repeat(9000)));
    assert_eq!(mal(&big), "token longer than 8192 bytes");
    mal(&format!(
        "{}.{}.{}",
        t.split('.').next().unwrap(),
        t.split('.').nth(1).unwrap(),
        b64(&[0; 63])
    ));
}

#[test]
fn rotation_keeps_overlap_so_tokens_issued_just_before_still_verify() {
    let s = setup();
    let day = 86_400;
    s.clock.set_millis((T0 + day - 10) * 1000);
    let before = s.authority.issue(&req("alice"), &s.people).unwrap();
    s.clock.set_millis((T0 + day) * 1000);
    let after = s.authority.issue(&req("alice"), &s.people).unwrap();
    let kinds: Vec<_> = after.lifecycle.iter().map(|e| format!("{e:?}")).collect();
    assert!(kinds[0].starts_with("KeyRetiring"), "{kinds:?}");
    assert!(kinds[1].starts_with("KeyCreated"), "{kinds:?}");
    assert_ne!(before.record.kid, after.record.kid);
    let kids: Vec<_> = s.authority.jwks().keys.into_iter().map(|k| k.kid).collect();
    assert_eq!(
        kids,
        vec![after.record.kid.clone(), before.record.kid.clone()],
        "current first"
    );
    // The old token lives out its lifetime.
    s.clock.set_millis((T0 + day + 500) * 1000);
    assert!(
        s.authority
            .introspect(&before.token, &s.people)
            .verdict
            .is_ok()
    );
    s.clock.set_millis((T0 + day - 10 + 600 + 30) * 1000);
    assert_eq!(refusal(&s, &before.token), Refusal::Expired);
    // The overlap (max lifetime + leeway) ends: the old key is retired.
    s.clock.set_millis((T0 + day + 900 + 30) * 1000);
    let events = s.authority.tick().unwrap();
    assert!(
        matches!(&events[..], [Lifecycle::KeyRetired { .. }]),
        "{events:?}"
    );
    let kids: Vec<_> = s.authority.jwks().keys.into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, vec![after.record.kid.clone()]);
    let later = s.authority.issue(&req("alice"), &s.people).unwrap();
    assert_eq!(later.record.kid, after.record.kid);
    assert!(
        s.authority
            .introspect(&later.token, &s.people)
            .verdict
            .is_ok()
    );
    // No scheduled rotation before a day has passed.
    assert!(s.authority.tick().unwrap().is_empty());
    let states: Vec<_> = s.authority.keys().into_iter().map(|k| k.state).collect();
    assert!(matches!(states[0], KeyState::Retired { .. }));
    assert_eq!(states[1], KeyState::Current);
}

#[test]
fn rotate_now_on_demand_keeps_custodians() {
    let s = setup();
    let t = s.authority.issue(&req("alice"), &s.people).unwrap();
    let ev = s.authority.rotate_now().unwrap();
    assert!(
        matches!(&ev[1], Lifecycle::KeyCreated { custodians, .. } if custodians == &["ops-kim"])
    );
    assert!(s.authority.introspect(&t.token, &s.people).verdict.is_ok());
    assert_eq!(s.authority.jwks().keys.len(), 2);
}

#[test]
fn offboarding_revokes_tokens_and_retires_custodial_keys_at_once() {
    let s = setup();
    let old_kid = s.authority.jwks().keys[0].kid.clone();
    s.authority.add_custodian(&old_kid, "ops-lee").unwrap();
    let kim = s.authority.issue(&req("ops-kim"), &s.people).unwrap();
    let alice = s.authority.issue(&req("alice"), &s.people).unwrap();
    s.clock.advance_secs(5);
    let report = s.authority.offboard("ops-kim").unwrap();
    assert_eq!(report.retired_keys, vec![old_kid.clone()]);
    let new = report.new_key.clone().unwrap();
    assert!(matches!(
        &report.lifecycle[..],
        [Lifecycle::Revoked(_), Lifecycle::KeyRetired { .. }, Lifecycle::KeyCreated { custodians, .. }]
            if custodians == &["ops-lee"]
    ));
    // Kim's token: refused; the offboarded key does not verify any more.
    assert_eq!(refusal(&s, &kim.token), Refusal::RetiredKid);
    assert_eq!(refusal(&s, &alice.token), Refusal::RetiredKid);
    let kids: Vec<_> = s.authority.jwks().keys.into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, vec![new.clone()]);
    // A token issued in the second of the offboarding (before the access
    // layer recorded it) is refused as offboarded too.
    let again = s.authority.issue(&req("ops-kim"), &s.people).unwrap();
    assert_eq!(refusal(&s, &again.token), Refusal::OffboardedSubject);
    // Alice gets a new token from the new key.
    let a2 = s.authority.issue(&req("alice"), &s.people).unwrap();
    assert_eq!(a2.record.kid, new);
    assert!(s.authority.introspect(&a2.token, &s.people).verdict.is_ok());
    // Offboarding someone with no custody retires nothing.
    let r = s.authority.offboard("carol").unwrap();
    assert!(r.retired_keys.is_empty() && r.new_key.is_none());
}

#[test]
fn offboarding_also_retires_overlapping_keys_the_principal_held() {
    let s = setup();
    let t = s.authority.issue(&req("alice"), &s.people).unwrap();
    s.authority.rotate_now().unwrap();
    assert!(s.authority.introspect(&t.token, &s.people).verdict.is_ok());
    let r = s.authority.offboard("ops-kim").unwrap();
    assert_eq!(r.retired_keys.len(), 2, "{r:?}");
    assert_eq!(refusal(&s, &t.token), Refusal::RetiredKid);
    assert_eq!(s.authority.jwks().keys.len(), 1);
}

#[test]
fn revoke_subject_and_rfc7009_revocation_by_token() {
    let s = setup();
    let a1 = s.authority.issue(&req("alice"), &s.people).unwrap();
    let b1 = s.authority.issue(&req("bob"), &s.people).unwrap();
    let r = s
        .authority
        .revoke_subject("alice", RevocationReason::Suspended)
        .unwrap();
    assert_eq!(r.seq, 1);
    assert_eq!(refusal(&s, &a1.token), Refusal::Revoked);
    assert!(s.authority.introspect(&b1.token, &s.people).verdict.is_ok());
    s.clock.advance_secs(1);
    let a2 = s.authority.issue(&req("alice"), &s.people).unwrap();
    assert!(
        s.authority.introspect(&a2.token, &s.people).verdict.is_ok(),
        "issued after"
    );
    // RFC 7009: garbage and foreign tokens are ignored, ours revoked once.
    assert_eq!(s.authority.revoke_token("garbage").unwrap(), None);
    let forged = with_claims(&b1.token, r#"{"x":1}"#);
    assert_eq!(s.authority.revoke_token(&forged).unwrap(), None);
    let rv = s.authority.revoke_token(&b1.token).unwrap().unwrap();
    assert_eq!(rv.seq, 2);
    assert_eq!(s.authority.revoke_token(&b1.token).unwrap(), None);
    assert_eq!(refusal(&s, &b1.token), Refusal::Revoked);
    let feed = s.authority.revocations_since(1, 10).unwrap();
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0].seq, 2);
    let issued = s.authority.issuances_since(0, 100).unwrap();
    let seqs: Vec<u64> = issued.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
}

#[test]
fn jwks_has_only_public_members_of_verifying_keys() {
    let s = setup();
    s.authority.rotate_now().unwrap();
    let json: serde_json::Value = serde_json::from_str(&s.authority.jwks().to_json()).unwrap();
    let keys = json["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for k in keys {
        let mut names: Vec<_> = k.as_object().unwrap().keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["alg", "crv", "kid", "kty", "use", "x"]);
        assert_eq!(k["kty"], "OKP");
        assert_eq!(k["crv"], "Ed25519");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["alg"], "EdDSA");
    }
    let retiring = keys[1]["kid"].as_str().unwrap().to_owned();
    s.authority.retire_now(&retiring).unwrap();
    assert!(!s.authority.jwks().to_json().contains(&retiring));
}

/// The 2025 breach, replayed: an engineer with custody copies the signing
/// key from the key directory, then forges tokens for customers.
#[test]
fn breach_forged_tokens_from_a_kept_key_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at_secs(T0));
    let open = |clock: Arc<ManualClock>| {
        Authority::open(
            AuthorityConfig::new(ISSUER).validate().unwrap(),
            clock,
            Arc::new(FileKeyStore::open(dir.path().join("keys")).unwrap()),
            Arc::new(MemoryIssuanceStore::default()),
            Arc::new(MemoryRevocationStore::default()),
        )
        .unwrap()
    };
    let authority = open(clock.clone());
    authority.ensure_current_key(&["eng-park"]).unwrap();
    let people = common::People::default();
    people.set("customer-1", SubjectStatus::Active);
    let real = authority.issue(&req("customer-1"), &people).unwrap();

    // The key file is 0600 in a 0700 directory; the custodian copies it.
    let kid = real.record.kid.clone();
    let file = dir.path().join("keys").join(format!("{kid}.key"));
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(dir.path().join("keys"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let stolen: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let seed: [u8; 32] = unb64(stolen["seed"].as_str().unwrap()).try_into().unwrap();
    let key = SigningKey::from_bytes(&seed);
    let forge = |sub: &str, jti: &str, iat: u64| {
        let h = format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#);
        let c = serde_json::json!({"iss": ISSUER, "sub": sub, "aud": "https://shop.example",
            "exp": iat + 600, "iat": iat, "nbf": iat, "jti": jti});
        let input = format!("{}.{}", b64(h.as_bytes()), b64(c.to_string().as_bytes()));
        let sig = key.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig.to_bytes()))
    };
    // Well signed, never issued: refused (the gateway of 2025 accepted it).
    let forged = forge("customer-1", "made-up", T0);
    let i = authority.introspect(&forged, &people);
    assert_eq!(i.verdict.clone().unwrap_err(), Refusal::NeverIssued);
    assert_eq!(i.to_json(), r#"{"active":false}"#);
    // A real jti reused for another customer: refused too.
    people.set("customer-2", SubjectStatus::Active);
    let reused = forge("customer-2", &real.record.jti, T0);
    assert_eq!(
        authority.introspect(&reused, &people).verdict.unwrap_err(),
        Refusal::NeverIssued
    );

    // He leaves: offboarding retires his key at once and erases its seed.
    let report = authority.offboard("eng-park").unwrap();
    assert_eq!(report.retired_keys, vec![kid.clone()]);
    let after: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(
        after.get("seed").is_none(),
        "retired key's seed erased from disk"
    );
    assert_eq!(
        authority.introspect(&forged, &people).verdict.unwrap_err(),
        Refusal::RetiredKid
    );
    assert_eq!(
        authority
            .introspect(&real.token, &people)
            .verdict
            .unwrap_err(),
        Refusal::RetiredKid
    );
    assert!(!authority.jwks().to_json().contains(&kid));

    // Reopened from disk: same keys and states; the new key still signs.
    drop(authority);
    let again = open(clock);
    assert_eq!(again.keys().len(), 2);
    assert_eq!(
        again.introspect(&forged, &people).verdict.unwrap_err(),
        Refusal::RetiredKid
    );
    let fresh = again.issue(&req("customer-1"), &people).unwrap();
    assert_eq!(Some(fresh.record.kid), report.new_key);
}

/// A token checked once is remembered (its signature is not verified
/// again), but everything that can change is still checked on every use, in
/// the same order and with the same refusal as the first time.
#[test]
fn a_remembered_token_still_meets_every_changing_check() {
    let s = setup();
    let a = s.authority.issue(&req("alice"), &s.people).unwrap();
    let b = s.authority.issue(&req("bob"), &s.people).unwrap();
    let c = s.authority.issue(&req("carol"), &s.people).unwrap();
    for t in [&a.token, &b.token, &c.token] {
        for _ in 0..3 {
            assert!(s.authority.check(t, &s.people).is_ok());
        }
    }
    // Subject status, revocations and the clock after the token was remembered.
    s.people.set("alice", SubjectStatus::Suspended);
    assert_eq!(refusal(&s, &a.token), Refusal::SuspendedSubject);
    s.authority
        .revoke_jti(&b.record.jti, RevocationReason::Requested)
        .unwrap();
    assert_eq!(refusal(&s, &b.token), Refusal::Revoked);
    s.clock.advance_secs(600 + 31);
    assert_eq!(refusal(&s, &c.token), Refusal::Expired);

    // A key retired after the token was remembered.
    let s = setup();
    let d = s.authority.issue(&req("alice"), &s.people).unwrap();
    assert!(s.authority.check(&d.token, &s.people).is_ok());
    s.authority.retire_now(&d.record.kid).unwrap();
    assert_eq!(refusal(&s, &d.token), Refusal::RetiredKid);

    // A remembered token's neighbours are not confused with it: one byte
    // changed anywhere is checked from scratch and refused.
    let s = setup();
    let e = s.authority.issue(&req("bob"), &s.people).unwrap();
    assert!(s.authority.check(&e.token, &s.people).is_ok());
    let mut bytes = e.token.clone().into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert!(s.authority.check(&tampered, &s.people).is_err());
}
