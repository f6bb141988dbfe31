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
//!
//! [`to_ocsf`] gives the entries as values; [`ledger_entries`] writes the
//! same bytes directly, without building them (a property test in
//! `tests/events.rs` checks the two agree for any event).

use serde::{Deserialize, Serialize};

use crate::model::{ActorKind, Decision, Event};
use crate::ocsf_input::activity_id;
use crate::pseudo::SubjectKey;

/// The OCSF schema version the entries follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.3.0";

/// `unmapped.custos.v`: the version of the entry layout. 1 was the first
/// layout, which also carried `action_id`, `disposition_id` and
/// `metadata.profiles = ["security_control"]`; OCSF 1.3.0 does not apply
/// that profile to API Activity, so 2 drops them.
pub const LAYOUT_VERSION: u8 = 2;

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
    /// Schema version, product, event id.
    pub metadata: OcsfMetadata,
    /// The dataset, labelled with the data categories.
    pub resources: Vec<OcsfResource>,
    /// 1, Informational.
    pub severity_id: u8,
    /// Source IP and country.
    pub src_endpoint: OcsfEndpoint,
    /// The decision: 1 Success (allowed), 2 Failure (denied). OCSF 1.3.0
    /// does not apply the security-control profile (`action_id`,
    /// `disposition_id`) to API Activity; 1.4.0 does.
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
    /// Version of the entry's layout: [`LAYOUT_VERSION`].
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
        metadata: OcsfMetadata {
            log_name: "custos.access".to_owned(),
            product: OcsfProduct {
                name: "Custos".to_owned(),
                vendor_name: "Custos".to_owned(),
            },
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
                v: LAYOUT_VERSION,
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
/// bytes: exactly `serde_json::to_vec` of each [`to_ocsf`] value, written
/// here directly (no intermediate structs, no per-subject strings).
pub fn ledger_entries(event: &Event, key: &SubjectKey) -> Result<Vec<Vec<u8>>, EncodeError> {
    let parts = EntryParts::new(event, key);
    let n = event.subjects.len();
    // The size of the entry with `"subjects":[]`, as `to_ocsf` measures it.
    let fixed = parts.head.len() + 1 + parts.mid.len() + TAIL.len();
    let room = MAX_ENTRY_SIZE.saturating_sub(fixed);
    if n <= room / SUBJECT_ENTRY_BYTES {
        let mut out = Vec::with_capacity(fixed + n * SUBJECT_ENTRY_BYTES);
        parts.write(&mut out, None, &event.subjects, key);
        return check_size(out).map(|e| vec![e]);
    }
    let per_entry = room.saturating_sub(PART_RESERVE) / SUBJECT_ENTRY_BYTES;
    if per_entry == 0 {
        return Err(EncodeError::TooLarge {
            size: fixed + PART_RESERVE + SUBJECT_ENTRY_BYTES,
            max: MAX_ENTRY_SIZE,
        });
    }
    let total = u32::try_from(n.div_ceil(per_entry)).map_err(|_| EncodeError::TooLarge {
        size: usize::MAX,
        max: MAX_ENTRY_SIZE,
    })?;
    event
        .subjects
        .chunks(per_entry)
        .zip(0..)
        .map(|(chunk, index)| {
            let mut out =
                Vec::with_capacity(fixed + PART_RESERVE + chunk.len() * SUBJECT_ENTRY_BYTES);
            parts.write(&mut out, Some(Part { index, total }), chunk, key);
            check_size(out)
        })
        .collect()
}

fn check_size(bytes: Vec<u8>) -> Result<Vec<u8>, EncodeError> {
    if bytes.len() > MAX_ENTRY_SIZE {
        return Err(EncodeError::TooLarge {
            size: bytes.len(),
            max: MAX_ENTRY_SIZE,
        });
    }
    Ok(bytes)
}

/// The end of every entry, after the subjects.
const TAIL: &[u8] = b"],\"v\":2}}}";
const _: () = assert!(LAYOUT_VERSION == 2, "TAIL spells the layout version");

/// The bytes shared by every entry of an event: `head` runs from `{` to the
/// last member before `part` (`…"actor_kind":"…"` or `…,"kid":"…"`), `mid`
/// from `"purpose"` to the `[` that opens the subjects. Members are written
/// in ascending order, as the `ApiActivity` field order has them.
struct EntryParts {
    head: Vec<u8>,
    mid: Vec<u8>,
}

impl EntryParts {
    fn new(e: &Event, key: &SubjectKey) -> EntryParts {
        let allowed = e.decision == Decision::Allow;
        let activity_id = activity_id(e.activity);
        let mut h = Vec::with_capacity(640);
        h.extend_from_slice(b"{\"activity_id\":");
        push_u64(&mut h, u64::from(activity_id));
        h.extend_from_slice(b",\"actor\":{");
        if let Some(c) = &e.credential {
            h.extend_from_slice(b"\"session\":{\"credential_uid\":");
            push_json_str(&mut h, &c.jti);
            h.extend_from_slice(b",\"issuer\":");
            push_json_str(&mut h, &c.issuer);
            h.extend_from_slice(b"},");
        }
        h.extend_from_slice(b"\"user\":{\"type_id\":");
        h.push(if e.actor.kind == ActorKind::Service {
            b'3'
        } else {
            b'1'
        });
        h.extend_from_slice(b",\"uid\":");
        push_json_str(&mut h, &e.actor.id);
        h.extend_from_slice(b"}},\"api\":{\"operation\":");
        push_json_str(&mut h, &e.operation);
        h.extend_from_slice(b",\"service\":{\"name\":");
        push_json_str(&mut h, &e.service);
        h.extend_from_slice(b"}},\"category_uid\":6,\"class_uid\":6003,\"metadata\":{\"log_name\":\"custos.access\",\"product\":{\"name\":\"Custos\",\"vendor_name\":\"Custos\"},");
        if let Some(uid) = &e.id {
            h.extend_from_slice(b"\"uid\":");
            push_json_str(&mut h, uid);
            h.push(b',');
        }
        h.extend_from_slice(b"\"version\":");
        push_json_str(&mut h, OCSF_VERSION);
        h.extend_from_slice(b"},\"resources\":[{\"labels\":[");
        for (i, c) in e.categories.iter().enumerate() {
            if i > 0 {
                h.push(b',');
            }
            push_json_str(&mut h, c.as_str());
        }
        h.extend_from_slice(b"],\"name\":");
        push_json_str(&mut h, &e.dataset);
        h.extend_from_slice(
            b",\"type\":\"dataset\"}],\"severity_id\":1,\"src_endpoint\":{\"ip\":\"",
        );
        match e.source.ip {
            // `Ipv4Addr`'s Display, without the formatter.
            std::net::IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        h.push(b'.');
                    }
                    push_u64(&mut h, u64::from(octet));
                }
            }
            ip @ std::net::IpAddr::V6(_) => {
                use std::io::Write as _;
                // Writing to a Vec cannot fail.
                let _ = write!(h, "{ip}");
            }
        }
        h.push(b'"');
        if let Some(c) = e.source.country {
            h.extend_from_slice(b",\"location\":{\"country\":");
            push_json_str(&mut h, c.as_str());
            h.push(b'}');
        }
        h.extend_from_slice(b"},\"status_id\":");
        h.push(if allowed { b'1' } else { b'2' });
        h.extend_from_slice(b",\"time\":");
        push_i64(&mut h, e.time_ms);
        h.extend_from_slice(b",\"type_uid\":");
        push_u64(
            &mut h,
            u64::from(CLASS_API_ACTIVITY) * 100 + u64::from(activity_id),
        );
        h.extend_from_slice(b",\"unmapped\":{\"custos\":{\"actor_kind\":");
        push_json_str(&mut h, e.actor.kind.as_str());
        if let Some(c) = &e.credential {
            h.extend_from_slice(b",\"kid\":");
            push_json_str(&mut h, &c.kid);
        }
        let mut m = Vec::with_capacity(128);
        m.extend_from_slice(b"\"purpose\":");
        push_json_str(&mut m, &e.purpose);
        m.extend_from_slice(b",\"subject_key\":\"hmac-sha256-128:");
        m.extend_from_slice(key.id_str().as_bytes());
        m.extend_from_slice(b"\",\"subjects\":[");
        EntryParts { head: h, mid: m }
    }

    fn write(&self, out: &mut Vec<u8>, part: Option<Part>, subjects: &[String], key: &SubjectKey) {
        out.extend_from_slice(&self.head);
        out.push(b',');
        if let Some(p) = part {
            out.extend_from_slice(b"\"part\":{\"index\":");
            push_u64(out, u64::from(p.index));
            out.extend_from_slice(b",\"total\":");
            push_u64(out, u64::from(p.total));
            out.extend_from_slice(b"},");
        }
        out.extend_from_slice(&self.mid);
        for (i, s) in subjects.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            key.pseudonymise(s).write_base64url(out);
            out.push(b'"');
        }
        out.extend_from_slice(TAIL);
    }
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(b) = buf.get_mut(i) {
            *b = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or_default());
}

fn push_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_u64(out, n.unsigned_abs());
}

/// A JSON string exactly as `serde_json` writes it: `"` and `\` escaped,
/// `\b \t \n \f \r` for those controls, `\u00xx` (lower-case hex) for the
/// other bytes below 0x20, everything else (DEL, non-ASCII) as is.
pub(crate) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Branch-free screen first (vectorises): validated strings hold no
    // control characters, and rarely a quote or a backslash.
    let plain = !bytes.iter().fold(false, |acc, &b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            for nibble in [b >> 4, b & 0xf] {
                out.push(HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'));
            }
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}
