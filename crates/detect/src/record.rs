//! One ledger entry, decoded for detection: the members of an OCSF 1.3.0 API
//! Activity (class 6003) entry that detectors and rules read, borrowed from
//! the entry's bytes.
//!
//! Every entry Custos writes is class 6003 (`docs/events.md` for access
//! events, `crates/server/src/record.rs` for control-plane entries); which
//! one it is comes from `metadata.log_name` and `api.operation`. An entry
//! this module cannot read is reported as a [`DecodeError`] with the JSON
//! path serde gives — the detector engine counts it and goes on (the ledger
//! is append-only: one odd entry must not stop detection).

use std::borrow::Cow;

use serde::Deserialize;

use events::{ActorKind, DataCategory};

/// A decoded ledger entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record<'a> {
    /// Ledger index (set by the caller; not in the entry's bytes).
    pub index: u64,
    /// `time`, ms since the epoch.
    pub time_ms: i64,
    /// `metadata.log_name` (`custos.access`, `custos.token`, …).
    pub log_name: Cow<'a, str>,
    /// `metadata.uid`.
    pub uid: Option<Cow<'a, str>>,
    /// `activity_id` (1 create, 2 read, 3 update, 4 delete).
    pub activity_id: u8,
    /// `status_id`: 1 success (allowed), 2 failure (denied / refused).
    pub status_id: u8,
    /// `actor.user.uid`.
    pub actor: Cow<'a, str>,
    /// `unmapped.custos.actor_kind` (access events only).
    pub actor_kind: Option<ActorKind>,
    /// `actor.user.type_id`.
    pub actor_type_id: u8,
    /// `actor.session.credential_uid`, or for a refused introspection the
    /// claimed `jti` (its `token` resource).
    pub jti: Option<Cow<'a, str>>,
    /// `actor.session.issuer`, or a refusal's claimed `iss`.
    pub issuer: Option<Cow<'a, str>>,
    /// `unmapped.custos.kid` (the signing key of the token used).
    pub kid: Option<Cow<'a, str>>,
    /// `src_endpoint.ip`.
    pub src_ip: Option<Cow<'a, str>>,
    /// `src_endpoint.location.country`.
    pub src_country: Option<Cow<'a, str>>,
    /// `api.service.name`.
    pub service: Option<Cow<'a, str>>,
    /// `api.operation`.
    pub operation: Cow<'a, str>,
    /// `resources[0].name` of an access event (the dataset).
    pub dataset: Option<Cow<'a, str>>,
    /// `resources[0].labels` as a set of [`DataCategory`] bits.
    pub categories: u16,
    /// `unmapped.custos.purpose`.
    pub purpose: Option<Cow<'a, str>>,
    /// `unmapped.custos.subjects`: pseudonyms (22 base64url characters).
    pub subjects: Vec<Cow<'a, str>>,
    /// `unmapped.custos.subject` of a control entry (a refusal's subject,
    /// pseudonymised for customers).
    pub subject: Option<Cow<'a, str>>,
    /// `unmapped.custos.refusal` (a refused token's reason code).
    pub refusal: Option<Cow<'a, str>>,
    /// `resources[].uid` of type `principal` (offboarding, grants).
    pub principal: Option<Cow<'a, str>>,
    /// `resources[].uid` of type `signing_key` (key lifecycle entries).
    pub key: Option<Cow<'a, str>>,
    /// `unmapped.custos.reasons` (an authorization decision's reason codes).
    pub reasons: Vec<Cow<'a, str>>,
    /// `unmapped.custos.part.index`/`total` of a split access event.
    pub part: Option<(u32, u32)>,
}

/// What kind of entry a [`Record`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// An access to personal data (`custos.access`, with subjects).
    Access,
    /// A token refused by introspection (`custos.token.introspect`).
    TokenRefused,
    /// A principal offboarded (`custos.principal.offboard`).
    Offboard,
    /// A SCIM user deactivated or deleted.
    ScimDeactivate,
    /// A SCIM user reactivated.
    ScimReactivate,
    /// An authorization decision (`custos.authorize`).
    Authorize,
    /// A detection finding or alert lifecycle entry (`custos.detect`):
    /// never fed back to detectors.
    Finding,
    /// Any other control-plane entry.
    Other,
}

impl Record<'_> {
    /// What kind of entry this is.
    #[must_use]
    pub fn kind(&self) -> RecordKind {
        match (&*self.log_name, &*self.operation) {
            (_, "custos.token.introspect") => RecordKind::TokenRefused,
            (_, "custos.principal.offboard") => RecordKind::Offboard,
            (_, "custos.scim.user.deactivate" | "custos.scim.user.delete") => {
                RecordKind::ScimDeactivate
            }
            (_, "custos.scim.user.reactivate") => RecordKind::ScimReactivate,
            (_, "custos.authorize") => RecordKind::Authorize,
            ("custos.detect", _) => RecordKind::Finding,
            ("custos.access", _) if !self.subjects.is_empty() => RecordKind::Access,
            _ => RecordKind::Other,
        }
    }

    /// True if the access was allowed (`status_id` 1).
    #[must_use]
    pub fn allowed(&self) -> bool {
        self.status_id == 1
    }

    /// The categories as names, in [`DataCategory::ALL`] order.
    pub fn category_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        DataCategory::ALL
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.categories & (1 << i) != 0)
            .map(|(_, c)| c.as_str())
    }
}

/// An entry that could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ledger entry {index}: {message}")]
pub struct DecodeError {
    /// Ledger index.
    pub index: u64,
    /// What serde said (with line and column).
    pub message: String,
}

/// Decodes ledger entry `index`.
///
/// # Errors
/// [`DecodeError`] if the bytes are not an OCSF entry of the shape Custos
/// writes (not JSON, no `time`, a member of the wrong type).
pub fn decode(index: u64, bytes: &[u8]) -> Result<Record<'_>, DecodeError> {
    let raw: RawEntry<'_> = serde_json::from_slice(bytes).map_err(|e| DecodeError {
        index,
        message: e.to_string(),
    })?;
    let custos = raw.unmapped.and_then(|u| u.custos).unwrap_or_default();
    let mut dataset = None;
    let mut categories = 0u16;
    let mut principal = None;
    let mut token = None;
    let mut key = None;
    for r in raw.resources {
        match r.kind.as_deref() {
            Some("dataset") => {
                dataset = r.name;
                for l in &r.labels {
                    if let Some(i) = DataCategory::ALL
                        .iter()
                        .position(|c| c.as_str() == l.as_ref())
                    {
                        categories |= 1 << i;
                    }
                }
            }
            Some("principal") if principal.is_none() => principal = r.uid,
            Some("token") if token.is_none() => token = r.uid,
            Some("signing_key") if key.is_none() => key = r.uid,
            _ => {}
        }
    }
    let actor = raw.actor.unwrap_or_default();
    let user = actor.user.unwrap_or_default();
    let session = actor.session.unwrap_or_default();
    let src = raw.src_endpoint.unwrap_or_default();
    let api = raw.api.unwrap_or_default();
    Ok(Record {
        index,
        time_ms: raw.time,
        log_name: raw.metadata.log_name.unwrap_or(Cow::Borrowed("")),
        uid: raw.metadata.uid,
        activity_id: raw.activity_id,
        status_id: raw.status_id.unwrap_or(0),
        actor: user.uid.unwrap_or(Cow::Borrowed("")),
        actor_kind: custos.actor_kind.as_deref().and_then(ActorKind::from_name),
        actor_type_id: user.type_id.unwrap_or(0),
        jti: session.credential_uid.or(token),
        issuer: session.issuer.or(custos.iss),
        kid: custos.kid,
        src_ip: src.ip,
        src_country: src.location.and_then(|l| l.country),
        service: api.service.and_then(|s| s.name),
        operation: api.operation.unwrap_or(Cow::Borrowed("")),
        dataset,
        categories,
        purpose: custos.purpose,
        subjects: custos.subjects,
        subject: custos.subject,
        refusal: custos.refusal,
        principal,
        key,
        reasons: custos.reasons,
        part: custos.part.map(|p| (p.index, p.total)),
    })
}

// The shape Custos writes (unknown members are ignored: control entries
// carry more than detection reads).

#[derive(Deserialize)]
struct RawEntry<'a> {
    #[serde(default)]
    activity_id: u8,
    #[serde(borrow, default)]
    actor: Option<RawActor<'a>>,
    #[serde(borrow, default)]
    api: Option<RawApi<'a>>,
    #[serde(borrow)]
    metadata: RawMetadata<'a>,
    #[serde(borrow, default)]
    resources: Vec<RawResource<'a>>,
    #[serde(borrow, default)]
    src_endpoint: Option<RawEndpoint<'a>>,
    #[serde(default)]
    status_id: Option<u8>,
    time: i64,
    #[serde(borrow, default)]
    unmapped: Option<RawUnmapped<'a>>,
}

#[derive(Deserialize, Default)]
struct RawActor<'a> {
    #[serde(borrow, default)]
    session: Option<RawSession<'a>>,
    #[serde(borrow, default)]
    user: Option<RawUser<'a>>,
}

#[derive(Deserialize, Default)]
struct RawSession<'a> {
    #[serde(borrow, default)]
    credential_uid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    issuer: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct RawUser<'a> {
    #[serde(default)]
    type_id: Option<u8>,
    #[serde(borrow, default)]
    uid: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct RawApi<'a> {
    #[serde(borrow, default)]
    operation: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    service: Option<RawService<'a>>,
}

#[derive(Deserialize, Default)]
struct RawService<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawMetadata<'a> {
    #[serde(borrow, default)]
    log_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uid: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawResource<'a> {
    #[serde(borrow, default)]
    labels: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uid: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct RawEndpoint<'a> {
    #[serde(borrow, default)]
    ip: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    location: Option<RawLocation<'a>>,
}

#[derive(Deserialize)]
struct RawLocation<'a> {
    #[serde(borrow, default)]
    country: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawUnmapped<'a> {
    #[serde(borrow, default)]
    custos: Option<RawCustos<'a>>,
}

#[derive(Deserialize, Default)]
struct RawCustos<'a> {
    #[serde(borrow, default)]
    actor_kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    iss: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    part: Option<RawPart>,
    #[serde(borrow, default)]
    purpose: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasons: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    refusal: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    subject: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    subjects: Vec<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawPart {
    index: u32,
    total: u32,
}

/// A 64-bit identity of a subject pseudonym: its first 11 base64url
/// characters decoded (66 bits of a keyed HMAC, uniformly distributed, so
/// usable directly as a hash). Other strings (not pseudonyms) fall back to
/// a SHA-256 prefix.
#[must_use]
pub fn subject_hash(pseudonym: &str) -> u64 {
    let b = pseudonym.as_bytes();
    if b.len() == 22 {
        let mut v: u64 = 0;
        let mut ok = true;
        for &c in b.iter().take(11) {
            let d = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'-' => 62,
                b'_' => 63,
                _ => {
                    ok = false;
                    0
                }
            };
            v = (v << 6) | u64::from(d);
        }
        if ok {
            return v;
        }
    }
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(b);
    let mut x = [0u8; 8];
    x.copy_from_slice(d.get(..8).unwrap_or(&[0; 8]));
    u64::from_be_bytes(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCESS: &str = r#"{"activity_id":2,"actor":{"session":{"credential_uid":"tok-9f2c","issuer":"https://auth.example.com"},"user":{"type_id":1,"uid":"emp-0042"}},"api":{"operation":"GetCustomerAddress","service":{"name":"customer-service-tool"}},"category_uid":6,"class_uid":6003,"metadata":{"log_name":"custos.access","product":{"name":"Custos","vendor_name":"Custos"},"uid":"evt-0001","version":"1.3.0"},"resources":[{"labels":["name","address","entrance_code"],"name":"customers","type":"dataset"}],"severity_id":1,"src_endpoint":{"ip":"203.0.113.7","location":{"country":"KR"}},"status_id":1,"time":1748747045123,"type_uid":600302,"unmapped":{"custos":{"actor_kind":"employee","kid":"cs-2024-01","purpose":"support-ticket-4711","subject_key":"hmac-sha256-128:0e98d3b7","subjects":["0q7NmbPEMHcPKTE_wuNqzQ","Fqm90J4vi8o0hggWxR2uOA"],"v":2}}}"#;

    #[test]
    fn decodes_the_documented_access_entry() -> Result<(), DecodeError> {
        let r = decode(7, ACCESS.as_bytes())?;
        assert_eq!(r.kind(), RecordKind::Access);
        assert_eq!(r.index, 7);
        assert_eq!(r.time_ms, 1_748_747_045_123);
        assert_eq!(r.actor, "emp-0042");
        assert_eq!(r.actor_kind, Some(ActorKind::Employee));
        assert_eq!(r.kid.as_deref(), Some("cs-2024-01"));
        assert_eq!(r.jti.as_deref(), Some("tok-9f2c"));
        assert_eq!(r.issuer.as_deref(), Some("https://auth.example.com"));
        assert_eq!(r.src_ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(r.src_country.as_deref(), Some("KR"));
        assert_eq!(r.dataset.as_deref(), Some("customers"));
        assert_eq!(
            r.category_names().collect::<Vec<_>>(),
            ["name", "address", "entrance_code"]
        );
        assert_eq!(r.subjects.len(), 2);
        assert!(r.allowed());
        Ok(())
    }

    #[test]
    fn decodes_a_refused_introspection() -> Result<(), DecodeError> {
        let e = r#"{"activity_id":2,"actor":{"user":{"type_id":3,"uid":"gw-1"}},"api":{"operation":"custos.token.introspect","service":{"name":"custos"}},"category_uid":6,"class_uid":6003,"metadata":{"log_name":"custos.token","product":{"name":"Custos","vendor_name":"Custos"},"uid":"x","version":"1.3.0"},"resources":[{"type":"token","uid":"j-1"}],"severity_id":1,"src_endpoint":{"ip":"198.51.100.4","location":{"country":"CN"},"name":"custos"},"status_id":2,"time":5,"type_uid":600302,"unmapped":{"custos":{"iss":"https://auth","kid":"k1","message":"m","refusal":"never_issued","subject":"abc","v":1}}}"#;
        let r = decode(1, e.as_bytes())?;
        assert_eq!(r.kind(), RecordKind::TokenRefused);
        assert_eq!(r.refusal.as_deref(), Some("never_issued"));
        assert_eq!(r.jti.as_deref(), Some("j-1"));
        assert_eq!(r.issuer.as_deref(), Some("https://auth"));
        assert_eq!(r.src_country.as_deref(), Some("CN"));
        assert!(!r.allowed());
        Ok(())
    }

    #[test]
    fn refuses_what_is_not_an_entry() {
        for bad in [
            &b"not json"[..],
            b"{}",
            br#"{"time":"x","metadata":{}}"#,
            b"[1]",
        ] {
            assert!(decode(3, bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn subject_hash_uses_the_pseudonym_bits() {
        let a = subject_hash("0q7NmbPEMHcPKTE_wuNqzQ");
        let b = subject_hash("Fqm90J4vi8o0hggWxR2uOA");
        assert_ne!(a, b);
        assert_eq!(subject_hash("AAAAAAAAAAAAAAAAAAAAAA"), 0);
        assert_ne!(subject_hash("cust-1"), subject_hash("cust-2"));
    }
}
