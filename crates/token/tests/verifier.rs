//! The embedded verifier: local checks, feeds, and the one-second bound.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{ISSUER, T0, req, setup};
use token::{
    Authority, Feed, IssuanceRecord, Refusal, Revocation, RevocationReason, StoreError, Verifier,
    VerifierConfig,
};

/// The authority's feeds, failing on demand.
struct Flaky {
    authority: Arc<Authority>,
    down: AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError("down".into()))
        } else {
            Ok(())
        }
    }
}

impl Feed for Flaky {
    fn jwks_json(&self) -> Result<Vec<u8>, StoreError> {
        self.check()?;
        self.authority.jwks_json()
    }
    fn revocations_since(&self, seq: u64, limit: usize) -> Result<Vec<Revocation>, StoreError> {
        self.check()?;
        Feed::revocations_since(&*self.authority, seq, limit)
    }
    fn issuances_since(&self, seq: u64, limit: usize) -> Result<Vec<IssuanceRecord>, StoreError> {
        self.check()?;
        Feed::issuances_since(&*self.authority, seq, limit)
    }
}

fn verifier(s: &common::Setup) -> (Verifier, Arc<Flaky>) {
    let feed = Arc::new(Flaky {
        authority: s.authority.clone(),
        down: AtomicBool::new(false),
    });
    let v = Verifier::new(VerifierConfig::new(ISSUER), s.clock.clone(), feed.clone());
    (v, feed)
}

#[test]
fn verifies_issued_tokens_and_refuses_never_issued_ones() {
    let s = setup();
    let (v, _) = verifier(&s);
    let t = s.authority.issue(&req("alice"), &s.people).unwrap();
    let ok = v.verify(&t.token).unwrap();
    assert_eq!(ok.sub(), "alice");
    // Issued after the verifier's last refresh, used at once: the miss pulls
    // the issuance feed once, and it is accepted.
    s.clock.advance_millis(100);
    let t2 = s.authority.issue(&req("bob"), &s.people).unwrap();
    assert_eq!(v.verify(&t2.token).unwrap().sub(), "bob");
    // Same signature, different claims: refused before issuance matters.
    let mut it = t2.token.split('.');
    let (h, c) = (it.next().unwrap(), it.next().unwrap());
    let forged = format!("{h}.{c}.{}", t.token.rsplit_once('.').unwrap().1);
    assert_eq!(v.verify(&forged).unwrap_err(), Refusal::BadSignature);
    assert_eq!(v.verify("a.b.c").unwrap_err().code(), "malformed");
}

#[test]
fn audience_and_issuer_are_checked() {
    let s = setup();
    let feed = Arc::new(Flaky {
        authority: s.authority.clone(),
        down: AtomicBool::new(false),
    });
    let mut cfg = VerifierConfig::new(ISSUER);
    cfg.audience = Some("https://admin.example".into());
    let v = Verifier::new(cfg, s.clock.clone(), feed.clone());
    let t = s.authority.issue(&req("alice"), &s.people).unwrap();
    assert_eq!(v.verify(&t.token).unwrap_err(), Refusal::WrongAudience);
    let v = Verifier::new(
        VerifierConfig::new("https://other.example"),
        s.clock.clone(),
        feed,
    );
    assert_eq!(v.verify(&t.token).unwrap_err(), Refusal::WrongIssuer);
}

/// Offboarding is reflected within one second, whatever the phase of the
/// verifier's refresh cycle when it happens.
#[test]
fn offboarding_reflected_within_one_second() {
    for offset in (0..1000).step_by(37) {
        let s = setup();
        let (v, _) = verifier(&s);
        let kim = s.authority.issue(&req("ops-kim"), &s.people).unwrap();
        let alice = s.authority.issue(&req("alice"), &s.people).unwrap();
        assert!(v.verify(&kim.token).is_ok());
        s.clock.advance_millis(offset);
        assert!(v.verify(&alice.token).is_ok());
        let report = s.authority.offboard("ops-kim").unwrap();
        let same_second = s.authority.issue(&req("ops-kim"), &s.people).unwrap();
        assert_eq!(report.retired_keys.len(), 1);
        s.clock.advance_millis(1000);
        let r = v.verify(&kim.token).unwrap_err();
        assert_eq!(r, Refusal::RetiredKid, "offset {offset}");
        assert_eq!(v.verify(&alice.token).unwrap_err(), Refusal::RetiredKid);
        assert_eq!(
            v.verify(&same_second.token).unwrap_err(),
            Refusal::OffboardedSubject
        );
        let fresh = s.authority.issue(&req("alice"), &s.people).unwrap();
        assert!(v.verify(&fresh.token).is_ok());
        s.people.set("ops-kim", token::SubjectStatus::Offboarded);
        assert!(s.authority.issue(&req("ops-kim"), &s.people).is_err());
    }
}

#[test]
fn revocations_reach_the_verifier_within_one_refresh() {
    let s = setup();
    let (v, _) = verifier(&s);
    let a = s.authority.issue(&req("alice"), &s.people).unwrap();
    let b = s.authority.issue(&req("bob"), &s.people).unwrap();
    assert!(v.verify(&a.token).is_ok());
    s.authority
        .revoke_jti(&a.record.jti, RevocationReason::Requested)
        .unwrap();
    s.authority
        .revoke_subject("bob", RevocationReason::Suspended)
        .unwrap();
    s.clock.advance_millis(250);
    assert_eq!(v.verify(&a.token).unwrap_err(), Refusal::Revoked);
    assert_eq!(v.verify(&b.token).unwrap_err(), Refusal::Revoked);
}

#[test]
fn fails_closed_when_feeds_are_stale() {
    let s = setup();
    let (v, feed) = verifier(&s);
    let a = s.authority.issue(&req("alice"), &s.people).unwrap();
    assert!(v.verify(&a.token).is_ok());
    feed.down.store(true, Ordering::SeqCst);
    s.clock.advance_millis(900);
    assert!(v.verify(&a.token).is_ok(), "within the staleness bound");
    s.clock.advance_millis(101);
    assert_eq!(v.verify(&a.token).unwrap_err().code(), "unavailable");
    feed.down.store(false, Ordering::SeqCst);
    s.clock.advance_millis(250);
    assert!(v.verify(&a.token).is_ok(), "recovers");
}

#[test]
fn rotation_overlap_then_retired_kid_locally() {
    let s = setup();
    let (v, _) = verifier(&s);
    let a = s.authority.issue(&req("alice"), &s.people).unwrap();
    assert!(v.verify(&a.token).is_ok());
    s.authority.rotate_now().unwrap();
    s.clock.advance_millis(300);
    assert!(v.verify(&a.token).is_ok(), "overlap");
    assert_eq!(v.cached_kids().len(), 2);
    s.authority.retire_now(&a.record.kid).unwrap();
    s.clock.advance_millis(300);
    assert_eq!(v.verify(&a.token).unwrap_err(), Refusal::RetiredKid);
    assert_eq!(v.cached_kids().len(), 1);
    let _ = T0;
}
