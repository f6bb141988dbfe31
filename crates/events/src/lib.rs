//! The access-event model: OCSF API Activity events, validation with JSON
//! paths, canonical encoding, subject pseudonymisation.
//!
//! An access to personal data arrives as JSON — the Custos form
//! ([`EventInput`]) or an OCSF API Activity event (an object with a
//! `class_uid`), both documented in `docs/events.md` — is validated into an
//! [`Event`] by [`parse_event`] or [`parse_batch`] (every problem reported as
//! a [`FieldError`] with its JSON path), and is turned into one or more
//! ledger entries by
//! [`ledger_entries`]: OCSF 1.3.0 API Activity (class 6003) events, canonically
//! encoded, whose data-subject identifiers are replaced by keyed HMACs
//! ([`SubjectKey`]) so that the ledger holds no customer identifier.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use events::{Limits, SubjectKey, ledger_entries, parse_event};
//!
//! let json = br#"{"time":"2025-06-01T03:04:05.123Z",
//!   "actor":{"id":"emp-0042","kind":"employee"},
//!   "source":{"ip":"10.1.2.3","country":"KR"},
//!   "service":"cs-tool","operation":"GetCustomer","dataset":"customers",
//!   "categories":["name","address"],"subjects":["cust-1","cust-2"],
//!   "purpose":"ticket","decision":"allow"}"#;
//! let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_748_747_045_123);
//! let event = parse_event(json, now, &Limits::default()).map_err(|e| format!("{e:?}"))?;
//! let key = SubjectKey::from_bytes([7; 32]);
//! let entries = ledger_entries(&event, &key)?;
//! assert_eq!(entries.len(), 1);
//! assert!(!String::from_utf8_lossy(&entries[0]).contains("cust-1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod country;
mod fast;
mod model;
mod ocsf;
mod ocsf_input;
mod parse;
mod pseudo;
mod time;

pub use time::{format_rfc3339, parse_rfc3339};
mod walk;

// The public interface is:
pub use model::{
    Activity, Actor, ActorInput, ActorKind, Country, Credential, CredentialInput, DataCategory,
    Decision, Event, EventInput, InputTime, Source, SourceInput,
};
pub use ocsf::{
    ApiActivity, CustosFields, EncodeError, LAYOUT_VERSION, MAX_ENTRY_SIZE, OCSF_VERSION,
    OcsfActor, OcsfApi, OcsfEndpoint, OcsfLocation, OcsfMetadata, OcsfProduct, OcsfResource,
    OcsfService, OcsfSession, OcsfUser, Part, SUBJECT_ENTRY_BYTES, Unmapped, ledger_entries,
    to_ocsf,
};
pub use parse::{FieldError, Limits, Reason, parse_batch, parse_event};
pub use pseudo::{KeyError, Pseudonym, SUBJECT_KEY_FILE, SubjectKey, subject_key_path};
