//! The access event: the JSON producers send ([`EventInput`]) and the
//! validated value only the parser makes ([`Event`]).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::country;
use crate::time::format_rfc3339;

/// Declares a closed set of lower-snake-case string values.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            /// Every value's JSON text, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text,)+];

            /// The value's JSON text.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// The value whose JSON text is `s` (exact, case-sensitive).
            pub fn from_name(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// What kind of principal acted.
    ActorKind {
        /// A member of staff.
        Employee = "employee",
        /// A workload (batch job, backend service) acting as itself.
        Service = "service",
        /// A member of a supplier's (vendor's) staff.
        SupplierStaff = "supplier_staff",
        /// A customer acting on their own data.
        Customer = "customer",
    }
}

string_enum! {
    /// A category of personal data read or written.
    DataCategory {
        /// Personal name.
        Name = "name",
        /// E-mail address.
        Email = "email",
        /// Telephone number.
        Phone = "phone",
        /// Postal or delivery address.
        Address = "address",
        /// Building or door entrance code.
        EntranceCode = "entrance_code",
        /// Payment instrument details.
        Payment = "payment",
        /// Order history.
        OrderHistory = "order_history",
        /// Date of birth.
        BirthDate = "birth_date",
        /// Government identifier (national id, passport number, …).
        NationalId = "national_id",
        /// Account data (login, profile settings).
        Account = "account",
        /// Device identifiers.
        Device = "device",
        /// Precise location.
        Location = "location",
    }
}

string_enum! {
    /// Whether the access was allowed.
    Decision {
        /// Allowed and carried out.
        Allow = "allow",
        /// Refused.
        Deny = "deny",
    }
}

string_enum! {
    /// The CRUD activity (OCSF API Activity `activity_id` 1–4).
    Activity {
        /// Create.
        Create = "create",
        /// Read (the default).
        Read = "read",
        /// Update.
        Update = "update",
        /// Delete.
        Delete = "delete",
    }
}

/// An assigned ISO 3166-1 alpha-2 country code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country(u8);

impl Country {
    /// The country with this code, if it is an officially assigned ISO 3166-1
    /// alpha-2 code written in upper case (`"KR"`, not `"kr"` nor `"UK"`).
    pub fn from_code(code: &str) -> Option<Country> {
        country::lookup(code).map(Country)
    }

    /// The two-letter code.
    pub fn as_str(self) -> &'static str {
        country::ISO_3166_1_ALPHA_2
            .get(usize::from(self.0))
            .copied()
            .unwrap_or("ZZ")
    }
}

impl std::fmt::Display for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The event's time in the input: RFC 3339 text or milliseconds since the epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InputTime {
    /// Milliseconds since the Unix epoch (OCSF `timestamp_t`).
    Millis(u64),
    /// RFC 3339 `date-time`, e.g. `2025-06-01T03:04:05.123Z`.
    Text(String),
}

/// The access event as producers send it to ingest (one JSON object; see
/// `docs/events.md`). Serialising this type gives JSON that [`crate::parse_event`]
/// accepts if the values are valid; the parser, not serde, is the validator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Optional producer-assigned event id (OCSF `metadata.uid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the access happened.
    pub time: InputTime,
    /// The CRUD activity; `read` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<Activity>,
    /// Who acted.
    pub actor: ActorInput,
    /// The token used, if the access was made with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialInput>,
    /// Where the request came from.
    pub source: SourceInput,
    /// The service that served the access (`api.service.name`).
    pub service: String,
    /// The API operation (`api.operation`).
    pub operation: String,
    /// The dataset read or written.
    pub dataset: String,
    /// The categories of personal data touched.
    pub categories: Vec<DataCategory>,
    /// The identifiers of the data subjects touched (customer ids), in clear:
    /// they are pseudonymised before anything reaches the ledger.
    pub subjects: Vec<String>,
    /// The declared purpose of the access.
    pub purpose: String,
    /// Whether the access was allowed.
    pub decision: Decision,
}

/// `actor` in the input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorInput {
    /// The principal's id.
    pub id: String,
    /// The principal's kind.
    pub kind: ActorKind,
}

/// `credential` in the input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialInput {
    /// The token's id (JWT `jti`).
    pub jti: String,
    /// The id of the key that signed the token (JWS `kid`).
    pub kid: String,
    /// The token's issuer (JWT `iss`).
    pub issuer: String,
}

/// `source` in the input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInput {
    /// The client's IP address (v4 or v6).
    pub ip: String,
    /// The client's ISO 3166-1 alpha-2 country, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// The principal that acted.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Actor {
    pub(crate) id: String,
    pub(crate) kind: ActorKind,
}

impl Actor {
    /// The principal's id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The principal's kind.
    pub fn kind(&self) -> ActorKind {
        self.kind
    }
}

/// The token used.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Credential {
    pub(crate) jti: String,
    pub(crate) kid: String,
    pub(crate) issuer: String,
}

impl Credential {
    /// The token's id (JWT `jti`).
    pub fn jti(&self) -> &str {
        &self.jti
    }
    /// The signing key's id (JWS `kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }
    /// The issuer (JWT `iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

/// Where the request came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Source {
    pub(crate) ip: IpAddr,
    pub(crate) country: Option<Country>,
}

impl Source {
    /// The client's IP address.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }
    /// The client's country, if known.
    pub fn country(&self) -> Option<Country> {
        self.country
    }
}

/// A validated access event. Only [`crate::parse_event`] and
/// [`crate::parse_batch`] make one, so holding an `Event` proves that every
/// rule of `docs/events.md` held against the clock and limits it was parsed
/// with: strings non-empty, bounded and free of control characters; 1 to
/// `max_subjects` distinct subjects; 1 or more distinct categories; a time
/// within the allowed window; a real IP address and ISO country.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    pub(crate) id: Option<String>,
    pub(crate) time_ms: i64,
    pub(crate) activity: Activity,
    pub(crate) actor: Actor,
    pub(crate) credential: Option<Credential>,
    pub(crate) source: Source,
    pub(crate) service: String,
    pub(crate) operation: String,
    pub(crate) dataset: String,
    pub(crate) categories: Vec<DataCategory>,
    pub(crate) subjects: Vec<String>,
    pub(crate) purpose: String,
    pub(crate) decision: Decision,
}

impl Event {
    /// The producer-assigned event id, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    /// Milliseconds since the Unix epoch (never negative).
    pub fn time_ms(&self) -> i64 {
        self.time_ms
    }
    /// The CRUD activity.
    pub fn activity(&self) -> Activity {
        self.activity
    }
    /// Who acted.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    /// The token used, if any.
    pub fn credential(&self) -> Option<&Credential> {
        self.credential.as_ref()
    }
    /// Where the request came from.
    pub fn source(&self) -> &Source {
        &self.source
    }
    /// The serving service.
    pub fn service(&self) -> &str {
        &self.service
    }
    /// The API operation.
    pub fn operation(&self) -> &str {
        &self.operation
    }
    /// The dataset.
    pub fn dataset(&self) -> &str {
        &self.dataset
    }
    /// The data categories, distinct, in input order.
    pub fn categories(&self) -> &[DataCategory] {
        &self.categories
    }
    /// The data subjects' identifiers in clear, distinct, in input order
    /// (at least one). Never written to the ledger as such.
    pub fn subjects(&self) -> &[String] {
        &self.subjects
    }
    /// The declared purpose.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }
    /// The decision.
    pub fn decision(&self) -> Decision {
        self.decision
    }

    /// The event as input JSON (time as RFC 3339 with milliseconds, activity
    /// always present); parsing it again gives back an equal event.
    pub fn to_input(&self) -> EventInput {
        EventInput {
            id: self.id.clone(),
            time: InputTime::Text(format_rfc3339(self.time_ms)),
            activity: Some(self.activity),
            actor: ActorInput {
                id: self.actor.id.clone(),
                kind: self.actor.kind,
            },
            credential: self.credential.as_ref().map(|c| CredentialInput {
                jti: c.jti.clone(),
                kid: c.kid.clone(),
                issuer: c.issuer.clone(),
            }),
            source: SourceInput {
                ip: self.source.ip.to_string(),
                country: self.source.country.map(|c| c.as_str().to_owned()),
            },
            service: self.service.clone(),
            operation: self.operation.clone(),
            dataset: self.dataset.clone(),
            categories: self.categories.clone(),
            subjects: self.subjects.clone(),
            purpose: self.purpose.clone(),
            decision: self.decision,
        }
    }
}
