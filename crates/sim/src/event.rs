//! Simulated events: a compact, `Copy` internal form ([`Ev`], ~100 bytes,
//! no allocation — a bulk read of 5,000 customers is a start and a count
//! into a permutation) and its rendering as an [`events::EventInput`] or
//! directly as JSON.

use std::fmt::Write as _;

use events::DataCategory::{
    Account, Address, Device, Email, EntranceCode, Location, Name, OrderHistory, Payment, Phone,
};
use events::{
    Activity, ActorInput, ActorKind, CredentialInput, DataCategory, Decision, EventInput,
    InputTime, SourceInput,
};
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

use crate::net::push_ip;
use crate::time::push_rfc3339;
use crate::world::{ActorRef, KEYS, World, customer_id_into};

/// An API operation: where it is served, what it touches.
#[derive(Debug)]
pub(crate) struct Op {
    pub service: &'static str,
    pub operation: &'static str,
    pub dataset: &'static str,
    pub categories: &'static [DataCategory],
    pub activity: Activity,
}

macro_rules! op {
    ($name:ident, $service:literal, $op:literal, $dataset:literal, [$($c:ident),+], $act:ident) => {
        pub(crate) static $name: Op = Op {
            service: $service,
            operation: $op,
            dataset: $dataset,
            categories: &[$($c),+],
            activity: Activity::$act,
        };
    };
}

// Customer gateway: what a customer token reaches (and a forged one too).
op!(
    GET_PROFILE,
    "customer-gateway",
    "GetProfile",
    "customers",
    [Name, Email, Phone],
    Read
);
op!(
    LIST_ADDRESSES,
    "customer-gateway",
    "ListAddresses",
    "customers",
    [Name, Phone, Address, EntranceCode],
    Read
);
op!(
    GET_ADDRESS,
    "customer-gateway",
    "GetAddress",
    "customers",
    [Name, Phone, Address, EntranceCode],
    Read
);
op!(
    LIST_ORDERS,
    "customer-gateway",
    "ListOrders",
    "orders",
    [OrderHistory, Address],
    Read
);
op!(
    GET_PAYMENT_METHODS,
    "customer-gateway",
    "GetPaymentMethods",
    "payments",
    [Name, Payment],
    Read
);
op!(
    PLACE_ORDER,
    "customer-gateway",
    "PlaceOrder",
    "orders",
    [Name, Phone, Address, Payment, OrderHistory],
    Create
);
op!(
    UPDATE_ADDRESS,
    "customer-gateway",
    "UpdateAddress",
    "customers",
    [Address, EntranceCode, Phone],
    Update
);
op!(
    UPDATE_PROFILE,
    "customer-gateway",
    "UpdateProfile",
    "customers",
    [Name, Email, Phone, Account],
    Update
);
// Customer-service tool (employees and the outsourced agents).
op!(
    CS_SEARCH,
    "cs-tool",
    "SearchCustomer",
    "customers",
    [Name, Phone],
    Read
);
op!(
    CS_GET,
    "cs-tool",
    "GetCustomer",
    "customers",
    [Name, Email, Phone, Address],
    Read
);
op!(
    CS_ORDERS,
    "cs-tool",
    "GetOrders",
    "orders",
    [OrderHistory, Address],
    Read
);
op!(
    CS_PAYMENT,
    "cs-tool",
    "GetPaymentSummary",
    "payments",
    [Payment],
    Read
);
op!(
    CS_UPDATE_ADDRESS,
    "cs-tool",
    "UpdateAddress",
    "customers",
    [Address, EntranceCode],
    Update
);
// Delivery app (drivers).
op!(
    DRIVER_STOP,
    "delivery-app",
    "GetDeliveryStop",
    "deliveries",
    [Name, Phone, Address, EntranceCode],
    Read
);
op!(
    DRIVER_DONE,
    "delivery-app",
    "CompleteDelivery",
    "deliveries",
    [Address, Location],
    Update
);
// Internal consoles.
op!(
    SHIPMENT,
    "fulfilment-console",
    "GetShipment",
    "orders",
    [Name, Phone, Address],
    Read
);
op!(
    ADMIN_GET,
    "admin-console",
    "GetCustomerRecord",
    "customers",
    [Name, Email, Phone, Address, Account],
    Read
);
op!(
    PAYMENT_DETAILS,
    "payments-console",
    "GetPaymentDetails",
    "payments",
    [Name, Payment, OrderHistory],
    Read
);
op!(
    FRAUD_ACTIVITY,
    "fraud-console",
    "GetAccountActivity",
    "customers",
    [Account, Device, Location, OrderHistory],
    Read
);
op!(
    SEGMENT_MEMBERS,
    "marketing-platform",
    "ListSegmentMembers",
    "customers",
    [Name, Email],
    Read
);
// Services.
op!(
    RESOLVE_ADDRESS,
    "address-service",
    "ResolveAddress",
    "customers",
    [Address, EntranceCode],
    Read
);
op!(
    NOTIFY,
    "notification-service",
    "SendNotification",
    "customers",
    [Name, Phone, Email],
    Read
);
// Admin console bulk export (the admin dump scenario).
op!(
    ADMIN_EXPORT,
    "admin-console",
    "ExportCustomerRecords",
    "customers",
    [Name, Email, Phone, Address, EntranceCode, Account],
    Read
);
// Customer sign-in with a password (no token yet): credential stuffing.
op!(
    SIGN_IN,
    "customer-gateway",
    "SignIn",
    "customers",
    [Account],
    Read
);
// Batch jobs (bulk).
op!(
    PICK_LIST,
    "batch-jobs",
    "ExportPickList",
    "orders",
    [Name, Phone, Address, EntranceCode],
    Read
);
op!(
    CAMPAIGN,
    "batch-jobs",
    "ExportCampaignAudience",
    "customers",
    [Name, Email],
    Read
);
op!(
    BILLING,
    "batch-jobs",
    "ChargeMembershipFees",
    "payments",
    [Name, Payment],
    Read
);
op!(
    BACKUP_VERIFY,
    "batch-jobs",
    "VerifyBackupRestore",
    "customers-backup",
    [Name, Email, Phone, Address],
    Read
);

/// What an event is in the scenario (ground truth; never in the output).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// Legitimate activity.
    Background,
    /// The attacker's probing with forged tokens, weeks before the attack.
    Probe,
    /// The attack: a forged token for a real customer reading their data.
    Attack,
    /// The attack's forged token for a customer id that does not exist
    /// (refused).
    UnknownMember,
    /// An event of another malicious scenario (admin dump, low-and-slow,
    /// supplier scrape, credential stuffing: [`crate::Scenario`]); which
    /// one is [`SimEvent::episode`].
    Malicious,
}

impl Label {
    /// Every label.
    pub const ALL: [Label; 5] = [
        Label::Background,
        Label::Probe,
        Label::Attack,
        Label::UnknownMember,
        Label::Malicious,
    ];

    /// True for the attacker's events (probe, attack, unknown member) and
    /// those of the other malicious scenarios.
    #[must_use]
    pub fn is_attacker(self) -> bool {
        self != Label::Background
    }

    /// The label's name (`background`, `probe`, `attack`, `unknown_member`,
    /// `malicious`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Background => "background",
            Label::Probe => "probe",
            Label::Attack => "attack",
            Label::UnknownMember => "unknown_member",
            Label::Malicious => "malicious",
        }
    }
}

/// The token of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cred {
    /// A token really issued with key `key`: `jti` = `id` and its keyed check.
    Issued { key: u8, id: u64 },
    /// A forged token: signed with key `key` but never issued.
    Forged { key: u8, a: u64, b: u64 },
    /// No token (a password sign-in).
    None,
}

/// Who the event touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subjects {
    /// One customer (by number).
    One(u64),
    /// `n` distinct customers: positions `start .. start + n` of the bulk
    /// permutation.
    Run { start: u64, n: u32 },
}

/// The declared purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    Fixed(&'static str),
    /// `prefix-NNNNNN` (ticket, route, incident, case numbers).
    Numbered(&'static str, u64),
}

/// An event in compact form.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ev {
    pub t: i64,
    pub label: Label,
    pub actor: ActorRef,
    pub cred: Cred,
    pub ip: u32,
    pub country: &'static str,
    pub op: &'static Op,
    pub subjects: Subjects,
    pub purpose: Purpose,
    pub decision: Decision,
    /// The attack's victim index `k` (for [`Label::Attack`]).
    pub victim: u64,
    /// The episode (scenario occurrence) the event belongs to, 0 for none.
    pub episode: u16,
}

/// One simulated access event, in output order. Render it with
/// [`SimEvent::write_json`] (fast) or [`SimEvent::to_input`].
#[derive(Clone, Copy, Debug)]
pub struct SimEvent<'w> {
    pub(crate) world: &'w World,
    pub(crate) seq: u64,
    pub(crate) ev: Ev,
}

impl SimEvent<'_> {
    /// Position in the output, from 0.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub fn time_ms(&self) -> i64 {
        self.ev.t
    }

    /// The ground truth about this event.
    #[must_use]
    pub fn label(&self) -> Label {
        self.ev.label
    }

    /// The acting principal.
    #[must_use]
    pub fn actor(&self) -> ActorRef {
        self.ev.actor
    }

    /// The acting principal's kind.
    #[must_use]
    pub fn actor_kind(&self) -> ActorKind {
        match self.ev.actor {
            ActorRef::Customer(_) => ActorKind::Customer,
            ActorRef::Principal(i) => self
                .world
                .principals
                .get(i as usize)
                .map_or(ActorKind::Service, |p| p.kind),
        }
    }

    /// Number of data subjects.
    #[must_use]
    pub fn subject_count(&self) -> u64 {
        match self.ev.subjects {
            Subjects::One(_) => 1,
            Subjects::Run { n, .. } => u64::from(n),
        }
    }

    /// The data subjects' customer numbers (distinct), in output order.
    pub fn subjects(&self) -> impl Iterator<Item = u64> + '_ {
        let (one, run) = match self.ev.subjects {
            Subjects::One(c) => (Some(c), 0..0),
            Subjects::Run { start, n } => (None, start..start + u64::from(n)),
        };
        one.into_iter().chain(run.map(|p| self.world.bulk.apply(p)))
    }

    /// The episode the event belongs to ([`World::episodes`]): `None` for
    /// plain background, the forged-token episode for the 2025 attack's
    /// events, a scenario's episode for its events (malicious or benign).
    #[must_use]
    pub fn episode(&self) -> Option<u16> {
        (self.ev.episode != 0).then_some(self.ev.episode)
    }

    /// For an attack event, the victim's index `k` in the attacker's order
    /// (its customer is [`World::attack_victim`]`(k)`).
    #[must_use]
    pub fn attack_victim(&self) -> Option<u64> {
        (self.ev.label == Label::Attack).then_some(self.ev.victim)
    }

    /// The source country.
    #[must_use]
    pub fn source_country(&self) -> &'static str {
        self.ev.country
    }

    /// The token id, if the event has a credential (empty otherwise).
    #[must_use]
    pub fn jti(&self) -> String {
        let mut s = String::with_capacity(32);
        self.push_jti(&mut s);
        s
    }

    fn key(&self) -> Option<u8> {
        match self.ev.cred {
            Cred::Issued { key, .. } | Cred::Forged { key, .. } => Some(key),
            Cred::None => None,
        }
    }

    fn push_jti(&self, s: &mut String) {
        let (a, b) = match self.ev.cred {
            Cred::Issued { key, id } => (id, self.world.jti_tag(key, id)),
            Cred::Forged { a, b, .. } => (a, b),
            Cred::None => return,
        };
        let _ = write!(s, "{a:016x}{b:016x}");
    }

    fn push_actor_id(&self, s: &mut String) {
        match self.ev.actor {
            ActorRef::Customer(n) => {
                let mut buf = [0u8; 32];
                s.push_str(customer_id_into(n, &mut buf));
            }
            ActorRef::Principal(i) => {
                if let Some(p) = self.world.principals.get(i as usize) {
                    s.push_str(&p.id);
                }
            }
        }
    }

    fn push_purpose(&self, s: &mut String) {
        match self.ev.purpose {
            Purpose::Fixed(p) => s.push_str(p),
            Purpose::Numbered(p, n) => {
                let _ = write!(s, "{p}-{n:06}");
            }
        }
    }

    fn push_id(&self, s: &mut String) {
        let _ = write!(s, "{}-{:010}", self.world.run_id, self.seq);
    }

    /// The event's id: the run id and the position, `sim1a2b3c4d-0000000042`.
    #[must_use]
    pub fn id(&self) -> String {
        let mut s = String::new();
        self.push_id(&mut s);
        s
    }

    /// The event as the `events` crate's input type.
    #[must_use]
    pub fn to_input(&self) -> EventInput {
        let text = |f: &dyn Fn(&mut String)| {
            let mut s = String::new();
            f(&mut s);
            s
        };
        let key = self
            .key()
            .map(|k| KEYS.get(usize::from(k)).copied().unwrap_or(KEYS[0]));
        let op = self.ev.op;
        let mut buf = [0u8; 32];
        EventInput {
            id: Some(self.id()),
            time: InputTime::Text(text(&|s| push_rfc3339(s, self.ev.t))),
            activity: (op.activity != Activity::Read).then_some(op.activity),
            actor: ActorInput {
                id: text(&|s| self.push_actor_id(s)),
                kind: self.actor_kind(),
            },
            credential: key.map(|key| CredentialInput {
                jti: self.jti(),
                kid: key.kid.to_owned(),
                issuer: key.issuer.to_owned(),
            }),
            source: SourceInput {
                ip: text(&|s| push_ip(s, self.ev.ip)),
                country: Some(self.ev.country.to_owned()),
            },
            service: op.service.to_owned(),
            operation: op.operation.to_owned(),
            dataset: op.dataset.to_owned(),
            categories: op.categories.to_vec(),
            subjects: self
                .subjects()
                .map(|c| customer_id_into(c, &mut buf).to_owned())
                .collect(),
            purpose: text(&|s| self.push_purpose(s)),
            decision: self.ev.decision,
        }
    }

    /// Appends the event as one line of JSON (no newline) to `out`: the same
    /// bytes as `serde_json` gives for [`Self::to_input`], without building
    /// it (no per-field allocation; subjects formatted on the fly). Still
    /// serialised by serde: measured fast enough (see `docs/sim.md`), so no
    /// hand-written JSON.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        // Every dynamic string is formatted into one scratch buffer and
        // borrowed from it.
        let mut s = String::with_capacity(160);
        let mark = |s: &mut String, f: &dyn Fn(&mut String)| {
            let from = s.len();
            f(s);
            from..s.len()
        };
        let r_id = mark(&mut s, &|s| self.push_id(s));
        let r_time = mark(&mut s, &|s| push_rfc3339(s, self.ev.t));
        let r_actor = mark(&mut s, &|s| self.push_actor_id(s));
        let r_jti = mark(&mut s, &|s| self.push_jti(s));
        let r_ip = mark(&mut s, &|s| push_ip(s, self.ev.ip));
        let r_purpose = mark(&mut s, &|s| self.push_purpose(s));
        let get = |r: std::ops::Range<usize>| s.get(r).unwrap_or_default();
        let key = self
            .key()
            .map(|k| KEYS.get(usize::from(k)).copied().unwrap_or(KEYS[0]));
        let op = self.ev.op;
        let wire = Wire {
            id: get(r_id),
            time: get(r_time),
            activity: (op.activity != Activity::Read).then_some(op.activity),
            actor: WireActor {
                id: get(r_actor),
                kind: self.actor_kind(),
            },
            credential: key.map(|key| WireCredential {
                jti: get(r_jti),
                kid: key.kid,
                issuer: key.issuer,
            }),
            source: WireSource {
                ip: get(r_ip),
                country: self.ev.country,
            },
            service: op.service,
            operation: op.operation,
            dataset: op.dataset,
            categories: op.categories,
            subjects: WireSubjects(self),
            purpose: get(r_purpose),
            decision: self.ev.decision,
        };
        serde_json::to_writer(out, &wire)
    }
}

// The borrowed mirror of `events::EventInput`: same field names, same
// order, same skipping, so the same JSON. `tests::wire_matches_event_input`
// holds the two together.
#[derive(Serialize)]
struct Wire<'a> {
    id: &'a str,
    time: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    activity: Option<Activity>,
    actor: WireActor<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credential: Option<WireCredential<'a>>,
    source: WireSource<'a>,
    service: &'a str,
    operation: &'a str,
    dataset: &'a str,
    categories: &'a [DataCategory],
    subjects: WireSubjects<'a>,
    purpose: &'a str,
    decision: Decision,
}

#[derive(Serialize)]
struct WireActor<'a> {
    id: &'a str,
    kind: ActorKind,
}

#[derive(Serialize)]
struct WireCredential<'a> {
    jti: &'a str,
    kid: &'a str,
    issuer: &'a str,
}

#[derive(Serialize)]
struct WireSource<'a> {
    ip: &'a str,
    country: &'a str,
}

struct WireSubjects<'a>(&'a SimEvent<'a>);

impl Serialize for WireSubjects<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let ev = self.0;
        let mut seq = serializer.serialize_seq(Some(ev.subject_count() as usize))?;
        let mut buf = [0u8; 32];
        for c in ev.subjects() {
            seq.serialize_element(customer_id_into(c, &mut buf))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Generator};

    #[test]
    fn wire_matches_event_input() {
        let mut config = Config {
            hours: Some(1),
            events_per_day: 200_000,
            ..Config::default()
        };
        if let Some(a) = config.attack.as_mut() {
            a.victims_per_day = 20_000;
            a.requests_per_second = 1.0;
        }
        let world = World::new(config).unwrap();
        let mut seen = std::collections::HashSet::new();
        let mut bulk = false;
        for ev in Generator::new(&world) {
            let mut fast = Vec::new();
            ev.write_json(&mut fast).unwrap();
            let slow = serde_json::to_vec(&ev.to_input()).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&slow)
            );
            seen.insert((ev.ev.op.operation, ev.label()));
            bulk |= ev.subject_count() >= 1000;
        }
        assert!(bulk);
        assert!(seen.len() > 20, "{seen:?}");
    }
}
