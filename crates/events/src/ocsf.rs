//! The ledger entry: an OCSF 1.3.0 API Activity event (class 6003), with
//! subjects pseudonymised, canonically encoded.
//!
//! Canonical encoding: compact JSON (no insignificant whitespace) with object
//! members in ascending byte order of their names. The order comes from the
//! field order of the structs below (declared sorted, checked by a test), not
//! from a map, so it holds whatever `serde_json` features other crates
//! enable. Values are ASCII-named members, strings (escaped by `serde_json`:
//! `\"`, `\\`, and no control characters since validation refuses them) and
//! integers below 2^53, so the bytes are also the RFC 8785 (JCS) form.

use serde::{Deserialize, Serialize};

use crate::model::{Activity, ActorKind, Decision, Event};
use crate::pseudo::SubjectKey;

/// The OCSF schema version the entries follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.3.0";

/// Largest ledger entry, in bytes (C2SP tlog-tiles entries are at most 65,535).
pub const MAX_ENTRY_SIZE: usize = tlog::MAX_ENTRY_SIZE;

/// Bytes one subject adds to an entry: 22 base64url characters, 2 quotes and
/// a comma.
pub const SUBJECT_ENTRY_BYTES: usize = 25;

/// Room kept for `"part":{…}` when an event is split.
const PART_RESERVE: usize = 64;

/// OCSF `category_uid` 6: Application Activity.
const CATEGORY_APPLICATION: u8 = 6;
/// OCSF `class_uid` 6003: API Activity.
const CLASS_API_ACTIVITY: u16 = 6003;

/// Why an event could not become ledger entries.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Even without subjects the entry would exceed [`MAX_ENTRY_SIZE`]
    /// (cannot happen with the default limits: at most ~7 KB).
    #[error("ledger entry of {size} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The size it would have.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Serialisation failed (not expected for these types).
    #[error("encoding: {0}")]
    Json(String),
}

/// An OCSF 1.3.0 API Activity event as stored in the ledger. Members are
/// declared in sorted order: that order is the canonical encoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiActivity {
    /// Security-control profile: 1 Allowed, 2 Denied.
    pub action_id: u8,
    /// 1 Create, 2 Read, 3 Update, 4 Delete.
    pub activity_id: u8,
    /// Who acted.
    pub actor: OcsfActor,
    /// Service and operation.
    pub api: OcsfApi,
    /// 6, Application Activity.
    pub category_uid: u8,
    /// 6003, API Activity.
    pub class_uid: u16,
    /// Security-control profile: 1 Allowed, 2 Blocked.
    pub disposition_id: u8,
    /// Schema version, product, profiles, event id.
    pub metadata: OcsfMetadata,
    /// The dataset, labelled with the data categories.
    pub resources: Vec<OcsfResource>,
    /// 1, Informational.
    pub severity_id: u8,
    /// Source IP and country.
    pub src_endpoint: OcsfEndpoint,
    /// 1 Success (allowed), 2 Failure (denied).
    pub status_id: u8,
    /// Milliseconds since the epoch.
    pub time: i64,
    /// `class_uid * 100 + activity_id`.
    pub type_uid: u32,
    /// Custos fields that OCSF 1.3.0 has no attribute for.
    pub unmapped: Unmapped,
}

/// OCSF `actor`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcsfActor {
    /// The token used (`session.credential_uid` = `jti`, `session.issuer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<OcsfSession>,
    /// The principal.
    pub user: OcsfUser,
}

/// OCSF `session`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcsfSession {
    /// The token id (`jti`).
    pub credential_uid: String,
    /// The token issuer (`iss`).
    pub issuer: String,
}

/// OCSF `user`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcsfUser {
    /// 1 User (people), 3 System (services).
    pub type_id: u8,
    /// The principal id.
    pub uid: String,
}

/// OCSF `api`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcsfApi {
    /// The operation.
    pub operation: String,
    /// The serving service.
    pub service: OcsfService,
}

/// OCSF `service`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcsfService {
    /// The service name.
    pub name: String,
}

/// OCSF `network_endpoint` (as `src_endpoint`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcsfEndpoint {
    /// The IP address, in its canonical text form.
    pub ip: String,
    /// The country, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<OcsfLocation>,
}

/// OCSF `location`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcsfLocation {
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// OCSF `metadata`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcsfMetadata {
    /// `"custos.access"`.
    pub log_name: String,
    /// Custos.
    pub product: OcsfProduct,
    /// `["security_control"]`.
    pub profiles: Vec<String>,
    /// The producer's event id, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// [`OCSF_VERSION`].
    pub version: String,
}

/// OCSF `product`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcsfProduct {
    /// `"Custos"`.
    pub name: String,
    /// `"Custos"`.
    pub vendor_name: String,
}

/// OCSF `resource_details`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcsfResource {
    /// The data categories touched.
    pub labels: Vec<String>,
    /// The dataset name.
    pub name: String,
    /// `"dataset"`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// OCSF `unmapped`: Custos' own fields under one `custos` member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmapped {
    /// The Custos fields.
    pub custos: CustosFields,
}

/// The Custos fields of an entry (`unmapped.custos`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustosFields {
    /// `employee`, `service`, `supplier_staff` or `customer`.
    pub actor_kind: ActorKind,
    /// The id of the key that signed the token (`kid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Present when the event's subjects were split over several entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<Part>,
    /// The declared purpose.
    pub purpose: String,
    /// `hmac-sha256-128:<key id>`: how `subjects` were made.
    pub subject_key: String,
    /// The subjects' pseudonyms (22-character base64url each).
    pub subjects: Vec<String>,
    /// Version of this member's layout: 1.
    pub v: u8,
}

/// Which entry of a split event this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// 0-based.
    pub index: u32,
    /// Number of entries the event was split into.
    pub total: u32,
}

fn activity_id(a: Activity) -> u8 {
    match a {
        Activity::Create => 1,
        Activity::Read => 2,
        Activity::Update => 3,
        Activity::Delete => 4,
    }
}

fn encode(a: &ApiActivity) -> Result<Vec<u8>, EncodeError> {
    serde_json::to_vec(a).map_err(|e| EncodeError::Json(e.to_string()))
}

/// The event as OCSF entries, subjects pseudonymised with `key`. One entry
/// unless the subjects do not fit in [`MAX_ENTRY_SIZE`]; then as few entries
/// as needed, each a complete event carrying `unmapped.custos.part` and a
/// run of the subjects in input order (about 2,500 subjects per entry).
pub fn to_ocsf(event: &Event, key: &SubjectKey) -> Result<Vec<ApiActivity>, EncodeError> {
    let allowed = event.decision == Decision::Allow;
    let activity_id = activity_id(event.activity);
    let mut base = ApiActivity {
        action_id: if allowed { 1 } else { 2 },
        activity_id,
        actor: OcsfActor {
            session: event.credential.as_ref().map(|c| OcsfSession {
                credential_uid: c.jti.clone(),
                issuer: c.issuer.clone(),
            }),
            user: OcsfUser {
                type_id: if event.actor.kind == ActorKind::Service {
                    3
                } else {
                    1
                },
                uid: event.actor.id.clone(),
            },
        },
        api: OcsfApi {
            operation: event.operation.clone(),
            service: OcsfService {
                name: event.service.clone(),
            },
        },
        category_uid: CATEGORY_APPLICATION,
        class_uid: CLASS_API_ACTIVITY,
        disposition_id: if allowed { 1 } else { 2 },
        metadata: OcsfMetadata {
            log_name: "custos.access".to_owned(),
            product: OcsfProduct {
                name: "Custos".to_owned(),
                vendor_name: "Custos".to_owned(),
            },
            profiles: vec!["security_control".to_owned()],
            uid: event.id.clone(),
            version: OCSF_VERSION.to_owned(),
        },
        resources: vec![OcsfResource {
            labels: event
                .categories
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            name: event.dataset.clone(),
            kind: "dataset".to_owned(),
        }],
        severity_id: 1,
        src_endpoint: OcsfEndpoint {
            ip: event.source.ip.to_string(),
            location: event.source.country.map(|c| OcsfLocation {
                country: c.as_str().to_owned(),
            }),
        },
        status_id: if allowed { 1 } else { 2 },
        time: event.time_ms,
        type_uid: u32::from(CLASS_API_ACTIVITY) * 100 + u32::from(activity_id),
        unmapped: Unmapped {
            custos: CustosFields {
                actor_kind: event.actor.kind,
                kid: event.credential.as_ref().map(|c| c.kid.clone()),
                part: None,
                purpose: event.purpose.clone(),
                subject_key: format!("hmac-sha256-128:{}", key.id()),
                subjects: Vec::new(),
                v: 1,
            },
        },
    };
    let pseudonyms: Vec<String> = event
        .subjects
        .iter()
        .map(|s| key.pseudonymise(s).to_base64url())
        .collect();
    let fixed = encode(&base)?.len();
    let room = MAX_ENTRY_SIZE.saturating_sub(fixed);
    if pseudonyms.len() <= room / SUBJECT_ENTRY_BYTES {
        base.unmapped.custos.subjects = pseudonyms;
        return Ok(vec![base]);
    }
    let per_entry = room.saturating_sub(PART_RESERVE) / SUBJECT_ENTRY_BYTES;
    if per_entry == 0 {
        return Err(EncodeError::TooLarge {
            size: fixed + PART_RESERVE + SUBJECT_ENTRY_BYTES,
            max: MAX_ENTRY_SIZE,
        });
    }
    let chunks: Vec<&[String]> = pseudonyms.chunks(per_entry).collect();
    let total = u32::try_from(chunks.len()).map_err(|_| EncodeError::TooLarge {
        size: usize::MAX,
        max: MAX_ENTRY_SIZE,
    })?;
    Ok(chunks
        .into_iter()
        .zip(0..)
        .map(|(chunk, index)| {
            let mut e = base.clone();
            e.unmapped.custos.part = Some(Part { index, total });
            e.unmapped.custos.subjects = chunk.to_vec();
            e
        })
        .collect())
}

/// The canonical bytes of the event's ledger entries (see [`to_ocsf`]); each
/// is at most [`MAX_ENTRY_SIZE`] bytes, or the whole call fails with
/// [`EncodeError::TooLarge`]. The same event and key always give the same
/// bytes.
pub fn ledger_entries(event: &Event, key: &SubjectKey) -> Result<Vec<Vec<u8>>, EncodeError> {
    to_ocsf(event, key)?
        .iter()
        .map(|a| {
            let bytes = encode(a)?;
            if bytes.len() > MAX_ENTRY_SIZE {
                return Err(EncodeError::TooLarge {
                    size: bytes.len(),
                    max: MAX_ENTRY_SIZE,
                });
            }
            Ok(bytes)
        })
        .collect()
}
