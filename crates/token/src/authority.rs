//! The token authority: keys, issuance, introspection, revocation,
//! offboarding and the feeds embedded verifiers follow.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ed25519_dalek::VerifyingKey;
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use sha2::Digest as _;

use crate::clock::Clock;
use crate::jwks::{Jwk, Jwks};
use crate::jwt::{self, Claims};
use crate::keys::{KeyMaterial, KeyRecord, KeyState, RetireReason};
use crate::refusal::Refusal;
use crate::store::{
    IssuanceRecord, IssuanceStore, KeyStore, Revocation, RevocationReason, RevocationStore,
    RevocationTarget, StoreError,
};
use crate::verified::VerifiedToken;

/// The longest token lifetime any configuration may ask for: 15 minutes.
pub const MAX_LIFETIME_SECS: u64 = 15 * 60;
/// The largest clock leeway any configuration may ask for.
pub const MAX_LEEWAY_SECS: u64 = 120;

/// Settings of an [`Authority`]. Build with [`AuthorityConfig::new`], adjust
/// fields, then [`AuthorityConfig::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorityConfig {
    /// `iss` of every token; introspection refuses any other.
    pub issuer: String,
    /// Lifetime when a request names none (default 10 minutes).
    pub default_lifetime_secs: u64,
    /// Longest lifetime a request may ask for (default and cap 15 minutes).
    pub max_lifetime_secs: u64,
    /// Clock skew tolerated on `exp`, `nbf`, `iat` (default 30 s, cap 120 s).
    pub leeway_secs: u64,
    /// Scheduled rotation period of the current key (default one day).
    pub rotation_secs: u64,
}

/// A configuration value out of bounds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("token authority configuration: {0}")]
pub struct ConfigError(pub &'static str);

impl AuthorityConfig {
    /// Defaults for `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            default_lifetime_secs: 10 * 60,
            max_lifetime_secs: MAX_LIFETIME_SECS,
            leeway_secs: 30,
            rotation_secs: 24 * 60 * 60,
        }
    }

    /// Checks the bounds, without side effects.
    pub fn validate(self) -> Result<Self, ConfigError> {
        if self.issuer.is_empty() {
            return Err(ConfigError("issuer is empty"));
        }
        if self.max_lifetime_secs == 0 || self.max_lifetime_secs > MAX_LIFETIME_SECS {
            return Err(ConfigError("max lifetime must be 1..=900 seconds"));
        }
        if self.default_lifetime_secs == 0 || self.default_lifetime_secs > self.max_lifetime_secs {
            return Err(ConfigError("default lifetime must be 1..=max lifetime"));
        }
        if self.leeway_secs > MAX_LEEWAY_SECS {
            return Err(ConfigError("leeway must be at most 120 seconds"));
        }
        if self.rotation_secs < 60 {
            return Err(ConfigError("rotation period must be at least 60 seconds"));
        }
        Ok(self)
    }

    /// How long a key keeps verifying after it stops signing: the longest
    /// lifetime plus leeway, so every token it signed can expire naturally.
    pub fn overlap_ms(&self) -> u64 {
        self.max_lifetime_secs
            .saturating_add(self.leeway_secs)
            .saturating_mul(1000)
    }
}

/// What the access layer says of a token's subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectStatus {
    /// May hold tokens.
    Active,
    /// Temporarily may not.
    Suspended,
    /// Left; never again.
    Offboarded,
    /// No such principal or customer.
    Unknown,
}

/// The access layer's view of subjects: the one question introspection asks
/// it. Implementations must answer from memory (it is on the hot path).
pub trait Subjects: Send + Sync {
    /// The status of `sub`.
    fn status(&self, sub: &str) -> SubjectStatus;
}

/// A request for a token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IssueRequest {
    /// Subject.
    pub sub: String,
    /// Audiences (at least one).
    pub aud: Vec<String>,
    /// Space-separated scopes.
    pub scope: Option<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// Client the token is issued to.
    pub client_id: Option<String>,
    /// Lifetime; `None` for the default; capped at the maximum.
    pub lifetime_secs: Option<u64>,
}

/// Why a token could not be issued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The request is unusable.
    #[error("bad token request: {0}")]
    BadRequest(&'static str),
    /// No current signing key (none created yet).
    #[error("no current signing key")]
    NoCurrentKey,
    /// The subject may not hold tokens (suspended, offboarded, unknown).
    #[error("the subject may not hold tokens (its directory status: {})", subject_status_word(*.0))]
    Subject(SubjectStatus),
    /// A store failed; nothing was issued.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A change to record in the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Lifecycle {
    /// A key was created and is current.
    KeyCreated {
        /// Key id.
        kid: String,
        /// Its custodians.
        custodians: Vec<String>,
    },
    /// A key stopped signing; it verifies until `until_ms`.
    KeyRetiring {
        /// Key id.
        kid: String,
        /// End of overlap.
        until_ms: u64,
    },
    /// A key was retired; its private half is erased.
    KeyRetired {
        /// Key id.
        kid: String,
        /// Why.
        reason: RetireReason,
    },
    /// A principal was given custody of a key.
    CustodianAdded {
        /// Key id.
        kid: String,
        /// The principal.
        principal: String,
    },
    /// A token was issued.
    TokenIssued(IssuanceRecord),
    /// A token or a subject's tokens were revoked.
    Revoked(Revocation),
}

/// A token just issued.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The compact JWT.
    pub token: String,
    /// Its issuance record (already stored).
    pub record: IssuanceRecord,
    /// Everything that changed, the issuance included (and a scheduled
    /// rotation, if one fell due).
    pub lifecycle: Vec<Lifecycle>,
}

/// What offboarding a principal did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OffboardReport {
    /// The principal.
    pub principal: String,
    /// The revocation of every token of the principal.
    pub revocation: Revocation,
    /// Keys retired at once because the principal had custody.
    pub retired_keys: Vec<String>,
    /// The new current key, if the current one was among them.
    pub new_key: Option<String>,
    /// Every change, in order, for the ledger.
    pub lifecycle: Vec<Lifecycle>,
}

/// The RFC 7662 §2.2 response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IntrospectionResponse {
    /// Whether the token is active.
    pub active: bool,
    /// Scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Always `Bearer` when active (RFC 6749 §7.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// Issued at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audiences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Vec<String>>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// The result of introspecting a token: the verdict (with the reason, for
/// the ledger) and the RFC 7662 response (without it, for the caller).
#[derive(Clone, Debug)]
pub struct Introspection {
    /// The verified token, or why it was refused.
    pub verdict: Result<VerifiedToken, Refusal>,
}

impl Introspection {
    /// The RFC 7662 response. An inactive token gives `{"active":false}`
    /// and nothing else (RFC 7662 §2.2: no reason to the caller).
    pub fn response(&self) -> IntrospectionResponse {
        match &self.verdict {
            Err(_) => IntrospectionResponse::default(),
            Ok(t) => {
                let c = t.claims();
                IntrospectionResponse {
                    active: true,
                    scope: c.scope.clone(),
                    client_id: c.client_id.clone(),
                    token_type: Some("Bearer"),
                    exp: Some(c.exp),
                    iat: Some(c.iat),
                    nbf: Some(c.nbf),
                    sub: Some(c.sub.clone()),
                    aud: Some(c.aud.clone()),
                    iss: Some(c.iss.clone()),
                    jti: Some(c.jti.clone()),
                }
            }
        }
    }

    /// The response as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.response()).unwrap_or_else(|_| r#"{"active":false}"#.into())
    }
}

/// A key in memory: its record and parsed public key.
#[derive(Debug)]
struct Entry {
    record: KeyRecord,
    vk: VerifyingKey,
}

#[derive(Debug, Default)]
struct Ring {
    keys: Vec<Entry>,
    by_kid: HashMap<String, usize>,
}

impl Ring {
    fn get(&self, kid: &str) -> Option<&Entry> {
        self.by_kid.get(kid).and_then(|&i| self.keys.get(i))
    }

    fn current(&self) -> Option<&Entry> {
        self.keys
            .iter()
            .rev()
            .find(|e| e.record.state == KeyState::Current)
    }

    fn insert(&mut self, record: KeyRecord) -> Result<(), StoreError> {
        let vk = VerifyingKey::from_bytes(&record.public)
            .map_err(|_| StoreError(format!("key {} is not a valid Ed25519 key", record.kid)))?;
        match self
            .by_kid
            .get(&record.kid)
            .and_then(|&i| self.keys.get_mut(i))
        {
            Some(e) => *e = Entry { record, vk },
            None => {
                self.by_kid.insert(record.kid.clone(), self.keys.len());
                self.keys.push(Entry { record, vk });
            }
        }
        Ok(())
    }
}

/// The token authority. Holds the signing keys (never exported), issues
/// tokens with an issuance record each, introspects, revokes, rotates and
/// offboards. One per process; it is the only writer of its key store (the
/// keys are cached in memory).
pub struct Authority {
    config: AuthorityConfig,
    clock: Arc<dyn Clock>,
    keys: Arc<dyn KeyStore>,
    issuance: Arc<dyn IssuanceStore>,
    revocations: Arc<dyn RevocationStore>,
    ring: RwLock<Ring>,
    /// Tokens that passed every immutable check (see [`Authority::check`]).
    checked: RwLock<HashMap<[u8; 32], Arc<Checked>>>,
}

/// What is true of a token for ever once shown: its bytes parse, its
/// signature verifies under `kid`, its issuer is ours, and an issuance
/// record matches it. What can change — the key's state, the clock, the
/// subject's status, revocations — is checked on every use.
#[derive(Debug)]
struct Checked {
    kid: String,
    claims: Claims,
}

/// Most tokens remembered by [`Authority::check`]; when full it starts over
/// (live tokens are at most 15 minutes old, so the set refills with the
/// ones in use).
const MAX_CHECKED: usize = 1 << 20;

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("config", &self.config)
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// Opens an authority over its stores, loading the keys. Creates no key:
    /// call [`Authority::ensure_current_key`].
    pub fn open(
        config: AuthorityConfig,
        clock: Arc<dyn Clock>,
        keys: Arc<dyn KeyStore>,
        issuance: Arc<dyn IssuanceStore>,
        revocations: Arc<dyn RevocationStore>,
    ) -> Result<Self, StoreError> {
        let mut ring = Ring::default();
        for record in keys.list()? {
            ring.insert(record)?;
        }
        Ok(Self {
            config,
            clock,
            keys,
            issuance,
            revocations,
            ring: RwLock::new(ring),
            checked: RwLock::new(HashMap::new()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AuthorityConfig {
        &self.config
    }

    fn read(&self) -> RwLockReadGuard<'_, Ring> {
        self.ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Ring> {
        self.ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stores `record` then caches it (store first: the cache never holds
    /// what the store does not).
    fn put(&self, ring: &mut Ring, record: KeyRecord) -> Result<(), StoreError> {
        self.keys.put(&record)?;
        ring.insert(record)
    }

    fn create_key(
        &self,
        ring: &mut Ring,
        custodians: BTreeSet<String>,
        events: &mut Vec<Lifecycle>,
    ) -> Result<String, StoreError> {
        let record = KeyRecord::new(KeyMaterial::generate(), self.clock.now_millis(), custodians);
        let kid = record.kid.clone();
        events.push(Lifecycle::KeyCreated {
            kid: kid.clone(),
            custodians: record.custodians.iter().cloned().collect(),
        });
        self.put(ring, record)?;
        Ok(kid)
    }

    /// Moves the key at `kid` out of `current`/`retiring`, erasing its
    /// private half. `at_once: None` keeps it verifying until the overlap
    /// ends; `Some(reason)` retires it now.
    fn demote(
        &self,
        ring: &mut Ring,
        kid: &str,
        at_once: Option<RetireReason>,
        events: &mut Vec<Lifecycle>,
    ) -> Result<(), StoreError> {
        let now = self.clock.now_millis();
        let Some(entry) = ring.get(kid) else {
            return Ok(());
        };
        let mut record = entry.record.clone();
        record.material = None;
        match at_once {
            None => {
                let until_ms = now.saturating_add(self.config.overlap_ms());
                record.state = KeyState::Retiring { until_ms };
                events.push(Lifecycle::KeyRetiring {
                    kid: kid.to_owned(),
                    until_ms,
                });
            }
            Some(reason) => {
                record.state = KeyState::Retired { at_ms: now, reason };
                events.push(Lifecycle::KeyRetired {
                    kid: kid.to_owned(),
                    reason,
                });
            }
        }
        self.put(ring, record)
    }

    /// Creates a current key with `custodians` if there is none.
    pub fn ensure_current_key(&self, custodians: &[&str]) -> Result<Vec<Lifecycle>, StoreError> {
        let mut ring = self.write();
        let mut events = Vec::new();
        if ring.current().is_none() {
            let set = custodians.iter().map(|c| (*c).to_owned()).collect();
            self.create_key(&mut ring, set, &mut events)?;
        }
        Ok(events)
    }

    /// Rotates now, with overlap: the current key stops signing and keeps
    /// verifying for [`AuthorityConfig::overlap_ms`]; a new key with the
    /// same custodians becomes current.
    pub fn rotate_now(&self) -> Result<Vec<Lifecycle>, StoreError> {
        let mut ring = self.write();
        let mut events = Vec::new();
        self.rotate_locked(&mut ring, &mut events)?;
        Ok(events)
    }

    fn rotate_locked(
        &self,
        ring: &mut Ring,
        events: &mut Vec<Lifecycle>,
    ) -> Result<(), StoreError> {
        let custodians = match ring.current() {
            Some(cur) => {
                let (kid, custodians) = (cur.record.kid.clone(), cur.record.custodians.clone());
                self.demote(ring, &kid, None, events)?;
                custodians
            }
            None => BTreeSet::new(),
        };
        self.create_key(ring, custodians, events)?;
        Ok(())
    }

    /// Scheduled upkeep: rotates the current key if it is older than the
    /// rotation period, and records as retired the keys whose overlap ended.
    /// Called by [`Authority::issue`]; the server also calls it on a timer.
    pub fn tick(&self) -> Result<Vec<Lifecycle>, StoreError> {
        let now = self.clock.now_millis();
        let mut events = Vec::new();
        {
            let ring = self.read();
            let due = ring.current().is_some_and(|c| {
                now.saturating_sub(c.record.created_ms)
                    >= self.config.rotation_secs.saturating_mul(1000)
            });
            let ended = ring.keys.iter().any(
                |e| matches!(e.record.state, KeyState::Retiring { until_ms } if now >= until_ms),
            );
            if !due && !ended {
                return Ok(events);
            }
        }
        let mut ring = self.write();
        let ended: Vec<String> = ring
            .keys
            .iter()
            .filter(
                |e| matches!(e.record.state, KeyState::Retiring { until_ms } if now >= until_ms),
            )
            .map(|e| e.record.kid.clone())
            .collect();
        for kid in ended {
            self.demote(
                &mut ring,
                &kid,
                Some(RetireReason::OverlapEnded),
                &mut events,
            )?;
        }
        let due = ring.current().is_some_and(|c| {
            now.saturating_sub(c.record.created_ms)
                >= self.config.rotation_secs.saturating_mul(1000)
        });
        if due {
            self.rotate_locked(&mut ring, &mut events)?;
        }
        Ok(events)
    }

    /// Retires `kid` at once, without overlap (tokens it signed stop
    /// verifying). If it was current, a new key with its custodians becomes
    /// current.
    pub fn retire_now(&self, kid: &str) -> Result<Vec<Lifecycle>, StoreError> {
        let mut ring = self.write();
        let mut events = Vec::new();
        let Some(entry) = ring.get(kid) else {
            return Ok(events);
        };
        let was_current = entry.record.state == KeyState::Current;
        let custodians = entry.record.custodians.clone();
        if matches!(entry.record.state, KeyState::Retired { .. }) {
            return Ok(events);
        }
        self.demote(&mut ring, kid, Some(RetireReason::OnDemand), &mut events)?;
        if was_current {
            self.create_key(&mut ring, custodians, &mut events)?;
        }
        Ok(events)
    }

    /// Records that `principal` has custody of `kid` (for example an
    /// operator who handled the key directory). Returns no event if already
    /// recorded or the key is unknown.
    pub fn add_custodian(&self, kid: &str, principal: &str) -> Result<Vec<Lifecycle>, StoreError> {
        let mut ring = self.write();
        let Some(entry) = ring.get(kid) else {
            return Ok(Vec::new());
        };
        let mut record = entry.record.clone();
        if !record.custodians.insert(principal.to_owned()) {
            return Ok(Vec::new());
        }
        self.put(&mut ring, record)?;
        Ok(vec![Lifecycle::CustodianAdded {
            kid: kid.to_owned(),
            principal: principal.to_owned(),
        }])
    }

    /// Issues a token to an active subject: makes the issuance record
    /// durable, then signs.
    pub fn issue(&self, req: &IssueRequest, subjects: &dyn Subjects) -> Result<Issued, IssueError> {
        if req.sub.is_empty() {
            return Err(IssueError::BadRequest("empty subject"));
        }
        match subjects.status(&req.sub) {
            SubjectStatus::Active => {}
            other => return Err(IssueError::Subject(other)),
        }
        if req.aud.is_empty() || req.aud.iter().any(String::is_empty) {
            return Err(IssueError::BadRequest("no audience"));
        }
        let mut lifecycle = self.tick()?;
        let lifetime = req
            .lifetime_secs
            .unwrap_or(self.config.default_lifetime_secs)
            .clamp(1, self.config.max_lifetime_secs);
        let mut id = [0u8; 16];
        OsRng.fill_bytes(&mut id);
        let (token, record) = self.sign_and_record(req, &jwt::b64e(&id), lifetime)?;
        lifecycle.push(Lifecycle::TokenIssued(record.clone()));
        Ok(Issued {
            token,
            record,
            lifecycle,
        })
    }

    fn sign_and_record(
        &self,
        req: &IssueRequest,
        jti: &str,
        lifetime: u64,
    ) -> Result<(String, IssuanceRecord), IssueError> {
        let now = self.clock.now_secs();
        let ring = self.read();
        let cur = ring.current().ok_or(IssueError::NoCurrentKey)?;
        let material = cur
            .record
            .material
            .as_ref()
            .ok_or(IssueError::NoCurrentKey)?;
        let claims = Claims {
            iss: self.config.issuer.clone(),
            sub: req.sub.clone(),
            aud: req.aud.clone(),
            exp: now.saturating_add(lifetime),
            iat: now,
            nbf: now,
            jti: jti.to_owned(),
            scope: req.scope.clone(),
            roles: req.roles.clone(),
            client_id: req.client_id.clone(),
        };
        // The record first: a token exists only if its record does. A crash
        // between the two leaves a record of a token nobody received, which
        // is harmless.
        let record = self.issuance.record(IssuanceRecord {
            seq: 0,
            jti: claims.jti.clone(),
            kid: cur.record.kid.clone(),
            sub: claims.sub.clone(),
            iat: claims.iat,
            exp: claims.exp,
            aud: claims.aud.clone(),
            client_id: claims.client_id.clone(),
        })?;
        let token = jwt::encode(material.signing_key(), &cur.record.kid, &claims);
        Ok((token, record))
    }

    /// The checks that need only the keys: structure, algorithm, key,
    /// signature, key state, issuer, times. A well-signed token from a
    /// retired key is `RetiredKid` (someone holds a retired private key);
    /// a bad signature under it is `BadSignature`.
    fn check_signed(&self, token: &str) -> Result<(String, Claims), Refusal> {
        let parsed = jwt::parse(token)?;
        let now_ms = self.clock.now_millis();
        {
            let ring = self.read();
            let entry = ring.get(&parsed.kid).ok_or(Refusal::UnknownKid)?;
            if !parsed.signature_valid(&entry.vk) {
                return Err(Refusal::BadSignature);
            }
            if !entry.record.verifies_at(now_ms) {
                return Err(Refusal::RetiredKid);
            }
        }
        if parsed.claims.iss != self.config.issuer {
            return Err(Refusal::WrongIssuer);
        }
        jwt::check_times(&parsed.claims, now_ms / 1000, self.config.leeway_secs)?;
        Ok((parsed.kid, parsed.claims))
    }

    /// Every check of introspection: [`Authority::introspect`] without the
    /// RFC 7662 wrapping.
    ///
    /// A token seen before skips the checks that cannot change (parse,
    /// signature, issuer, issuance record): it is remembered by the SHA-256
    /// of its bytes after it first passed them. A gateway introspects the
    /// same token on every request of its lifetime; the Ed25519
    /// verification (~50 µs here) is then paid once per token, not per
    /// request. The refusal for a given token and moment is the same either
    /// way: only the checks that come after those in the full order are
    /// repeated, in the same order.
    pub fn check(&self, token: &str, subjects: &dyn Subjects) -> Result<VerifiedToken, Refusal> {
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let seen = self
            .checked
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&digest)
            .cloned();
        if let Some(c) = seen {
            let now_ms = self.clock.now_millis();
            {
                let ring = self.read();
                let entry = ring.get(&c.kid).ok_or(Refusal::UnknownKid)?;
                if !entry.record.verifies_at(now_ms) {
                    return Err(Refusal::RetiredKid);
                }
            }
            jwt::check_times(&c.claims, now_ms / 1000, self.config.leeway_secs)?;
            return self.check_live(c.kid.clone(), c.claims.clone(), subjects);
        }
        let (kid, claims) = self.check_signed(token)?;
        // The heart of the 2025 breach: well signed is not enough, the
        // token must have been issued, to this subject, with this key and
        // expiry.
        let unavailable = |_| Refusal::Unavailable {
            what: "issuance store",
        };
        let record = self
            .issuance
            .get(&claims.jti)
            .map_err(unavailable)?
            .ok_or(Refusal::NeverIssued)?;
        if record.sub != claims.sub
            || record.kid != kid
            || record.exp != claims.exp
            || record.iat != claims.iat
        {
            return Err(Refusal::NeverIssued);
        }
        {
            let mut checked = self
                .checked
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if checked.len() >= MAX_CHECKED {
                checked.clear();
            }
            checked.insert(
                digest,
                Arc::new(Checked {
                    kid: kid.clone(),
                    claims: claims.clone(),
                }),
            );
        }
        self.check_live(kid, claims, subjects)
    }

    /// The checks that can change while a token lives: its subject's status
    /// and revocations.
    fn check_live(
        &self,
        kid: String,
        claims: Claims,
        subjects: &dyn Subjects,
    ) -> Result<VerifiedToken, Refusal> {
        match subjects.status(&claims.sub) {
            SubjectStatus::Active => {}
            SubjectStatus::Suspended => return Err(Refusal::SuspendedSubject),
            SubjectStatus::Offboarded => return Err(Refusal::OffboardedSubject),
            SubjectStatus::Unknown => return Err(Refusal::UnknownSubject),
        }
        let unavailable = |_| Refusal::Unavailable {
            what: "revocation store",
        };
        if self
            .revocations
            .token(&claims.jti)
            .map_err(unavailable)?
            .is_some()
        {
            return Err(Refusal::Revoked);
        }
        if let Some(r) = self.revocations.subject(&claims.sub).map_err(unavailable)?
            && let RevocationTarget::Subject { issued_until, .. } = r.target
            && claims.iat <= issued_until
        {
            return Err(match r.reason {
                RevocationReason::Offboarded => Refusal::OffboardedSubject,
                _ => Refusal::Revoked,
            });
        }
        Ok(VerifiedToken::new(kid, claims))
    }

    /// RFC 7662 introspection of `token`.
    pub fn introspect(&self, token: &str, subjects: &dyn Subjects) -> Introspection {
        Introspection {
            verdict: self.check(token, subjects),
        }
    }

    /// Revokes one issued token by `jti`. `None` if no such token was
    /// issued or it is already revoked (RFC 7009 §2.2 answers 200 either
    /// way).
    pub fn revoke_jti(
        &self,
        jti: &str,
        reason: RevocationReason,
    ) -> Result<Option<Revocation>, StoreError> {
        let Some(record) = self.issuance.get(jti)? else {
            return Ok(None);
        };
        if self.revocations.token(jti)?.is_some() {
            return Ok(None);
        }
        self.revocations
            .append(Revocation {
                seq: 0,
                at_ms: self.clock.now_millis(),
                target: RevocationTarget::Token {
                    jti: record.jti,
                    sub: record.sub,
                    exp: record.exp,
                },
                reason,
            })
            .map(Some)
    }

    /// RFC 7009 revocation by token. Only a token this authority signed
    /// (under any of its keys, retired included) and issued can revoke its
    /// record; anything else is ignored (`None`), as RFC 7009 §2.2 allows.
    pub fn revoke_token(&self, token: &str) -> Result<Option<Revocation>, StoreError> {
        let Ok(parsed) = jwt::parse(token) else {
            return Ok(None);
        };
        let signed = self
            .read()
            .get(&parsed.kid)
            .is_some_and(|e| parsed.signature_valid(&e.vk));
        if !signed {
            return Ok(None);
        }
        match self.issuance.get(&parsed.claims.jti)? {
            Some(r) if r.sub == parsed.claims.sub && r.kid == parsed.kid => {
                self.revoke_jti(&r.jti, RevocationReason::Requested)
            }
            _ => Ok(None),
        }
    }

    /// Revokes every token of `sub` issued up to now.
    pub fn revoke_subject(
        &self,
        sub: &str,
        reason: RevocationReason,
    ) -> Result<Revocation, StoreError> {
        let now = self.clock.now_millis();
        self.revocations.append(Revocation {
            seq: 0,
            at_ms: now,
            target: RevocationTarget::Subject {
                sub: sub.to_owned(),
                issued_until: now / 1000,
            },
            reason,
        })
    }

    /// The offboarding hook: revokes every token of `principal`, retires at
    /// once (no overlap) every key it had custody of that still verifies,
    /// and, if the current key was one of them, creates a new current key
    /// with the other custodians. Tokens of other subjects signed by those
    /// keys stop verifying too: that is the price of a key that may have
    /// left with its custodian, and lifetimes are at most 15 minutes.
    pub fn offboard(&self, principal: &str) -> Result<OffboardReport, StoreError> {
        let revocation = self.revoke_subject(principal, RevocationReason::Offboarded)?;
        let mut lifecycle = vec![Lifecycle::Revoked(revocation.clone())];
        let now = self.clock.now_millis();
        let mut ring = self.write();
        let held: Vec<(String, bool, BTreeSet<String>)> = ring
            .keys
            .iter()
            .filter(|e| e.record.custodians.contains(principal) && e.record.verifies_at(now))
            .map(|e| {
                (
                    e.record.kid.clone(),
                    e.record.state == KeyState::Current,
                    e.record.custodians.clone(),
                )
            })
            .collect();
        let mut retired_keys = Vec::new();
        let mut new_key = None;
        for (kid, current, mut custodians) in held {
            self.demote(
                &mut ring,
                &kid,
                Some(RetireReason::CustodianOffboarded),
                &mut lifecycle,
            )?;
            retired_keys.push(kid);
            if current {
                custodians.remove(principal);
                new_key = Some(self.create_key(&mut ring, custodians, &mut lifecycle)?);
            }
        }
        Ok(OffboardReport {
            principal: principal.to_owned(),
            revocation,
            retired_keys,
            new_key,
            lifecycle,
        })
    }

    /// The JWK Set: keys that verify now (current first, then overlapping
    /// ones); never retired keys, never private members.
    pub fn jwks(&self) -> Jwks {
        let now = self.clock.now_millis();
        let ring = self.read();
        let mut keys: Vec<&Entry> = ring
            .keys
            .iter()
            .filter(|e| e.record.verifies_at(now))
            .collect();
        keys.sort_by_key(|e| {
            (
                e.record.state != KeyState::Current,
                u64::MAX - e.record.created_ms,
            )
        });
        Jwks {
            keys: keys
                .into_iter()
                .map(|e| Jwk::ed25519(&e.record.public, &e.record.kid))
                .collect(),
        }
    }

    /// Every key's public metadata, retired ones included.
    pub fn keys(&self) -> Vec<crate::KeyInfo> {
        self.read().keys.iter().map(|e| e.record.info()).collect()
    }

    /// The revocation feed: revocations after `seq`, oldest first.
    pub fn revocations_since(&self, seq: u64, limit: usize) -> Result<Vec<Revocation>, StoreError> {
        self.revocations.since(seq, limit)
    }

    /// The issuance feed: issuance records after `seq`, oldest first.
    pub fn issuances_since(
        &self,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<IssuanceRecord>, StoreError> {
        self.issuance.since(seq, limit)
    }

    #[cfg(test)]
    pub(crate) fn current_seed_for_test(&self) -> Option<[u8; 32]> {
        self.read()
            .current()
            .and_then(|c| c.record.material.as_ref().map(KeyMaterial::seed))
    }

    /// For the fuzzing fixture: installs a key from a fixed seed.
    pub(crate) fn install_key(
        &self,
        material: KeyMaterial,
        custodians: BTreeSet<String>,
    ) -> Result<String, StoreError> {
        let record = KeyRecord::new(material, self.clock.now_millis(), custodians);
        let kid = record.kid.clone();
        let mut ring = self.write();
        self.put(&mut ring, record)?;
        Ok(kid)
    }

    /// For the fuzzing fixture: retires `kid` without creating a key.
    pub(crate) fn retire_only(&self, kid: &str) -> Result<(), StoreError> {
        let mut ring = self.write();
        let mut events = Vec::new();
        self.demote(&mut ring, kid, Some(RetireReason::OnDemand), &mut events)
    }

    /// For the fuzzing fixture: issues with a fixed `jti` (deterministic).
    pub(crate) fn issue_with_jti(
        &self,
        req: &IssueRequest,
        jti: &str,
    ) -> Result<String, IssueError> {
        let lifetime = req
            .lifetime_secs
            .unwrap_or(self.config.default_lifetime_secs);
        self.sign_and_record(req, jti, lifetime).map(|(t, _)| t)
    }
}

/// The word for a [`SubjectStatus`] in messages.
fn subject_status_word(s: SubjectStatus) -> &'static str {
    match s {
        SubjectStatus::Active => "active",
        SubjectStatus::Suspended => "suspended",
        SubjectStatus::Offboarded => "offboarded",
        SubjectStatus::Unknown => "unknown: not a SCIM User nor a registered customer",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::{MemoryIssuanceStore, MemoryKeyStore, MemoryRevocationStore};

    struct All;
    impl Subjects for All {
        fn status(&self, _: &str) -> SubjectStatus {
            SubjectStatus::Active
        }
    }

    /// No API output carries the private key, in any usual encoding.
    #[test]
    fn no_output_leaks_private_key_material() {
        let keys = Arc::new(MemoryKeyStore::default());
        let a = Authority::open(
            AuthorityConfig::new("https://i.example"),
            Arc::new(ManualClock::at_secs(1_700_000_000)),
            keys.clone(),
            Arc::new(MemoryIssuanceStore::default()),
            Arc::new(MemoryRevocationStore::default()),
        )
        .unwrap();
        let mut out = Vec::new();
        for e in a.ensure_current_key(&["ops"]).unwrap() {
            out.push(format!("{e:?}"));
            out.push(serde_json::to_string(&e).unwrap());
        }
        let seed = a.current_seed_for_test().unwrap();
        let req = IssueRequest {
            sub: "alice".into(),
            aud: vec!["x".into()],
            ..IssueRequest::default()
        };
        let issued = a.issue(&req, &All).unwrap();
        out.push(format!("{issued:?}"));
        out.push(format!("{a:?}"));
        out.push(format!("{:#?}", keys.list().unwrap()));
        out.push(format!("{:?}", keys));
        out.push(serde_json::to_string(&a.keys()).unwrap());
        out.push(a.jwks().to_json());
        out.push(format!("{:?}", a.introspect(&issued.token, &All)));
        out.push(a.introspect(&issued.token, &All).to_json());
        let report = a.offboard("ops").unwrap();
        out.push(format!("{report:?}"));
        out.push(serde_json::to_string(&report).unwrap());
        let all = out.join("\n");
        use base64::Engine as _;
        let forms = [
            crate::jwt::b64e(&seed),
            base64::engine::general_purpose::STANDARD.encode(seed),
            seed.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            format!("{seed:?}"),
            format!("{:?}", &seed[..8]),
        ];
        for form in forms {
            assert!(!all.contains(&form), "leaked as {form}");
        }
        assert!(all.contains("KeyMaterial(<secret>)"));
        // The retired key's private half is gone from the store.
        assert!(
            keys.list()
                .unwrap()
                .iter()
                .all(|k| k.material.is_none() || k.state == KeyState::Current)
        );
    }
}
