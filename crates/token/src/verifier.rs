//! The verifier a gateway embeds: local checks against cached feeds.
//!
//! What a gateway can check alone, and how this one does it:
//! - signature, algorithm, expiry, issuer, audience: from the token and the
//!   authority's JWKS (refreshed every [`VerifierConfig::refresh_ms`]);
//! - retired keys: a `kid` that was in an earlier JWKS and no longer is
//!   (the authority lists only keys that verify);
//! - revocations, including a subject's tokens on offboarding: from the
//!   revocation feed ("revocations since N");
//! - **never issued**: a signature proves only who holds a key, so this
//!   needs the authority's word. Two ways: introspection on every request
//!   (a network round trip per request, and the authority becomes a hard
//!   dependency of every page view), or a feed of issuance records applied
//!   locally. We chose the feed: it is exact (a set of unexpired `jti`, no
//!   Bloom-filter false positive that would let a forged token through),
//!   small (lifetimes are at most 15 minutes, so the set holds at most 15
//!   minutes of issuance: ~1M entries at 1,000 tokens/s, tens of MB), and it
//!   keeps verification in-process. A well-signed token whose `jti` is not
//!   in the set triggers one immediate pull of the issuance feed before it
//!   is refused — but only if the last pull started before the end of the
//!   token's `iat` second (the record is durable before the token exists,
//!   so an older pull could not have seen it; a later one would have).
//!   Concurrent misses share one pull. Only a holder of a current private
//!   key can reach this path at all (the signature is checked first).
//!
//! The one-second bound: a verifier accepts only while its last *successful*
//! refresh *started* less than [`VerifierConfig::max_staleness_ms`] (default
//! 1 s) ago; otherwise it fails closed with [`Refusal::Unavailable`]. A
//! revocation or key retirement made durable at time T is in every feed
//! read that starts after T, so from T + 1 s every acceptance is based on a
//! read that includes it. The refresh interval (default 250 ms) keeps a
//! healthy verifier far from that bound.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use ed25519_dalek::VerifyingKey;

use crate::authority::Authority;
use crate::clock::Clock;
use crate::jwks::Jwks;
use crate::jwt;
use crate::refusal::Refusal;
use crate::store::{IssuanceRecord, Revocation, RevocationReason, RevocationTarget, StoreError};
use crate::verified::VerifiedToken;

/// Where a verifier reads the authority's published state. The in-process
/// [`Authority`] implements it; the server will expose the same three reads
/// over HTTP (`/.well-known/jwks.json` and two feed endpoints).
pub trait Feed: Send + Sync {
    /// The JWK Set, as published (JSON).
    fn jwks_json(&self) -> Result<Vec<u8>, StoreError>;
    /// Revocations after `seq`, oldest first, at most `limit`.
    fn revocations_since(&self, seq: u64, limit: usize) -> Result<Vec<Revocation>, StoreError>;
    /// Issuance records after `seq`, oldest first, at most `limit`.
    fn issuances_since(&self, seq: u64, limit: usize) -> Result<Vec<IssuanceRecord>, StoreError>;
}

impl Feed for Authority {
    fn jwks_json(&self) -> Result<Vec<u8>, StoreError> {
        Ok(self.jwks().to_json().into_bytes())
    }
    fn revocations_since(&self, seq: u64, limit: usize) -> Result<Vec<Revocation>, StoreError> {
        Authority::revocations_since(self, seq, limit)
    }
    fn issuances_since(&self, seq: u64, limit: usize) -> Result<Vec<IssuanceRecord>, StoreError> {
        Authority::issuances_since(self, seq, limit)
    }
}

/// Settings of a [`Verifier`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierConfig {
    /// The authority's issuer.
    pub issuer: String,
    /// If set, `aud` must contain it.
    pub audience: Option<String>,
    /// Clock leeway on `exp`/`nbf`/`iat` (default 30 s).
    pub leeway_secs: u64,
    /// How often the feeds are pulled (default 250 ms).
    pub refresh_ms: u64,
    /// Fail closed when the last successful refresh started longer ago
    /// than this (default 1,000 ms: the offboarding bound).
    pub max_staleness_ms: u64,
    /// Page size of feed reads.
    pub page: usize,
}

impl VerifierConfig {
    /// Defaults for `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: None,
            leeway_secs: 30,
            refresh_ms: 250,
            max_staleness_ms: 1000,
            page: 10_000,
        }
    }
}

#[derive(Debug)]
struct Known {
    sub: String,
    kid: String,
    iat: u64,
    exp: u64,
}

#[derive(Debug, Default)]
struct State {
    keys: HashMap<String, VerifyingKey>,
    /// Keys once published and since withdrawn: retired.
    withdrawn: HashMap<String, VerifyingKey>,
    issued: HashMap<String, Known>,
    revoked_tokens: HashMap<String, u64>,
    revoked_subjects: HashMap<String, (u64, RevocationReason)>,
    revocation_seq: u64,
    issuance_seq: u64,
    /// Start of the last successful full refresh.
    fresh_at_ms: Option<u64>,
    last_attempt_ms: Option<u64>,
    last_issuance_pull_ms: u64,
}

/// An embedded verifier. Cheap to share (`&self` everywhere); refreshes
/// lazily on the request path when due, or when [`Verifier::refresh`] is
/// called (a gateway may call it from a timer).
pub struct Verifier {
    config: VerifierConfig,
    clock: Arc<dyn Clock>,
    feed: Arc<dyn Feed>,
    state: RwLock<State>,
    refreshing: Mutex<()>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier with no state yet; the first verification refreshes.
    pub fn new(config: VerifierConfig, clock: Arc<dyn Clock>, feed: Arc<dyn Feed>) -> Self {
        Self {
            config,
            clock,
            feed,
            state: RwLock::new(State::default()),
            refreshing: Mutex::new(()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Pulls the JWKS and both feeds now.
    pub fn refresh(&self) -> Result<(), StoreError> {
        let _one = self
            .refreshing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let started = self.clock.now_millis();
        self.write().last_attempt_ms = Some(started);
        let jwks = self.feed.jwks_json()?;
        let keys = Jwks::parse_keys(&jwks).map_err(|e| StoreError(e.to_string()))?;
        let (rev_seq, iss_seq) = {
            let s = self.read();
            (s.revocation_seq, s.issuance_seq)
        };
        let revocations = self.pull(
            rev_seq,
            |seq, n| self.feed.revocations_since(seq, n),
            |r| r.seq,
        )?;
        let issuances = self.pull(
            iss_seq,
            |seq, n| self.feed.issuances_since(seq, n),
            |r| r.seq,
        )?;
        let now_s = started / 1000;
        let mut s = self.write();
        let fresh: HashMap<String, VerifyingKey> = keys.into_iter().collect();
        let gone: Vec<(String, VerifyingKey)> = s
            .keys
            .iter()
            .filter(|(kid, _)| !fresh.contains_key(*kid))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        s.withdrawn.extend(gone);
        s.keys = fresh;
        apply_revocations(&mut s, revocations);
        apply_issuances(&mut s, issuances);
        s.last_issuance_pull_ms = started;
        // Forget what expired (plus leeway): it is refused as expired anyway.
        let horizon = now_s.saturating_sub(self.config.leeway_secs);
        s.issued.retain(|_, k| k.exp >= horizon);
        s.revoked_tokens.retain(|_, exp| *exp >= horizon);
        s.fresh_at_ms = Some(started);
        Ok(())
    }

    fn pull<T>(
        &self,
        mut seq: u64,
        read: impl Fn(u64, usize) -> Result<Vec<T>, StoreError>,
        seq_of: impl Fn(&T) -> u64,
    ) -> Result<Vec<T>, StoreError> {
        let page = self.config.page.max(1);
        let mut all = Vec::new();
        loop {
            let got = read(seq, page)?;
            let n = got.len();
            if let Some(last) = got.last() {
                seq = seq_of(last);
            }
            all.extend(got);
            if n < page {
                return Ok(all);
            }
        }
    }

    /// Pulls the issuance feed if the last pull may have missed `jti`
    /// (it started before the end of the token's `iat` second).
    fn pull_issuances_for(&self, jti: &str, iat: u64) -> Result<(), StoreError> {
        let _one = self
            .refreshing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        {
            let s = self.read();
            let could_have_missed =
                s.last_issuance_pull_ms < iat.saturating_add(1).saturating_mul(1000);
            if s.issued.contains_key(jti) || !could_have_missed {
                return Ok(());
            }
        }
        let started = self.clock.now_millis();
        let seq = self.read().issuance_seq;
        let got = self.pull(seq, |seq, n| self.feed.issuances_since(seq, n), |r| r.seq)?;
        let mut s = self.write();
        apply_issuances(&mut s, got);
        s.last_issuance_pull_ms = started;
        Ok(())
    }

    /// Verifies `token` locally. Never panics; every refusal is typed.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, Refusal> {
        let now_ms = self.clock.now_millis();
        let due = self
            .read()
            .last_attempt_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= self.config.refresh_ms);
        if due {
            // A failed refresh is tolerated until the staleness bound.
            let _ = self.refresh();
        }
        let parsed = jwt::parse(token)?;
        let claims = {
            let s = self.read();
            match s.fresh_at_ms {
                Some(t) if now_ms.saturating_sub(t) <= self.config.max_staleness_ms => {}
                _ => {
                    return Err(Refusal::Unavailable {
                        what: "verifier feeds older than the staleness bound",
                    });
                }
            }
            if let Some(vk) = s.keys.get(&parsed.kid) {
                if !parsed.signature_valid(vk) {
                    return Err(Refusal::BadSignature);
                }
            } else if let Some(vk) = s.withdrawn.get(&parsed.kid) {
                return Err(if parsed.signature_valid(vk) {
                    Refusal::RetiredKid
                } else {
                    Refusal::BadSignature
                });
            } else {
                return Err(Refusal::UnknownKid);
            }
            &parsed.claims
        };
        if claims.iss != self.config.issuer {
            return Err(Refusal::WrongIssuer);
        }
        if let Some(aud) = &self.config.audience
            && !claims.aud.contains(aud)
        {
            return Err(Refusal::WrongAudience);
        }
        jwt::check_times(claims, now_ms / 1000, self.config.leeway_secs)?;

        let known = self.read().issued.contains_key(&claims.jti);
        if !known {
            let _ = self.pull_issuances_for(&claims.jti, claims.iat);
        }
        let s = self.read();
        match s.issued.get(&claims.jti) {
            Some(k)
                if k.sub == claims.sub
                    && k.kid == parsed.kid
                    && k.exp == claims.exp
                    && k.iat == claims.iat => {}
            _ => return Err(Refusal::NeverIssued),
        }
        if s.revoked_tokens.contains_key(&claims.jti) {
            return Err(Refusal::Revoked);
        }
        if let Some((until, reason)) = s.revoked_subjects.get(&claims.sub)
            && claims.iat <= *until
        {
            return Err(match reason {
                RevocationReason::Offboarded => Refusal::OffboardedSubject,
                _ => Refusal::Revoked,
            });
        }
        drop(s);
        Ok(VerifiedToken::new(parsed.kid, parsed.claims))
    }
}

fn apply_revocations(s: &mut State, revocations: Vec<Revocation>) {
    for r in revocations {
        s.revocation_seq = s.revocation_seq.max(r.seq);
        match r.target {
            RevocationTarget::Token { jti, exp, .. } => {
                s.revoked_tokens.insert(jti, exp);
            }
            RevocationTarget::Subject { sub, issued_until } => {
                let e = s.revoked_subjects.entry(sub).or_insert((0, r.reason));
                if issued_until >= e.0 {
                    *e = (issued_until, r.reason);
                }
            }
        }
    }
}

fn apply_issuances(s: &mut State, issuances: Vec<IssuanceRecord>) {
    for r in issuances {
        s.issuance_seq = s.issuance_seq.max(r.seq);
        s.issued.insert(
            r.jti,
            Known {
                sub: r.sub,
                kid: r.kid,
                iat: r.iat,
                exp: r.exp,
            },
        );
    }
}

/// The kids a verifier currently trusts (for tests and metrics).
impl Verifier {
    /// Key ids in the cached JWKS.
    pub fn cached_kids(&self) -> HashSet<String> {
        self.read().keys.keys().cloned().collect()
    }
}
