//! The fast path of validation: JSON bytes deserialised straight into
//! borrowed, typed structs (no `serde_json::Value` tree, strings borrowed
//! from the input unless they hold escapes), checked against the same rules
//! as the slow path ([`crate::walk`], [`crate::ocsf_input`]), and turned
//! into an [`Event`].
//!
//! It never reports an error: on anything unexpected — a missing or
//! duplicate member, an unknown one, a `null`, a wrong type, a value the
//! rules refuse — it gives up (`None`) and the caller runs the slow path,
//! which decides what is wrong and says where. Hence the invariant, checked
//! by the differential property tests below: **whatever the fast path
//! accepts, the slow path accepts too, as the same `Event`.** Where the two
//! could differ, the fast path is stricter:
//! - objects are read with `deserialize_map` only (serde's derived structs
//!   would also take a JSON array), enumerations with `deserialize_str`
//!   only (serde's derived enums would also take `{"allow":null}`);
//! - a member seen twice makes it give up (`serde_json::Value` keeps the
//!   last one);
//! - optional members that are `null` count as absent, as in the slow path.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::model::{
    Activity, Actor, ActorKind, Country, Credential, DataCategory, Decision, Event, Source,
};
use crate::ocsf_input::{self, activity_captions, activity_from_id, decision_from_id};
use crate::parse::Limits;
use crate::time::parse_rfc3339;
use crate::walk::{string_problem, time_problem};

/// One event, in either form. `None`: let the slow path decide.
pub(crate) fn event(json: &[u8], now_ms: i64, limits: &Limits) -> Option<Event> {
    // One UTF-8 check of the whole text (fast on ASCII) rather than one per
    // string, which `from_slice` would do.
    let json = std::str::from_utf8(json).ok()?;
    let v = Check { now_ms, limits };
    if let Ok(Obj(e)) = serde_json::from_str::<Obj<CustosIn<'_>>>(json) {
        return v.custos(e);
    }
    if let Ok(Obj(e)) = serde_json::from_str::<Obj<OcsfIn<'_>>>(json) {
        return v.ocsf(e);
    }
    None
}

/// A JSON array of events in the Custos form, all valid and within the
/// batch limits, or `None`. (Buffering each element to try both forms would
/// need serde_json's `raw_value` feature; arrays of OCSF events, rarer than
/// NDJSON, take the slow path.)
pub(crate) fn array(body: &[u8], now_ms: i64, limits: &Limits) -> Option<Vec<Event>> {
    let items: Vec<Obj<CustosIn<'_>>> =
        serde_json::from_str(std::str::from_utf8(body).ok()?).ok()?;
    if items.is_empty() || items.len() > limits.max_batch_events {
        return None;
    }
    let v = Check { now_ms, limits };
    items.into_iter().map(|Obj(e)| v.custos(e)).collect()
}

/// The error that makes the fast path give up (its text is never shown).
fn give_up<E: de::Error>() -> E {
    E::custom("fast path: fall back")
}

// ---------------------------------------------------------------------------
// Leaf types.

/// A string, borrowed from the input when it holds no escape.
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// A value of a closed set, from its JSON string only.
struct Named<T>(T);

trait FromName: Sized {
    fn from_name(s: &str) -> Option<Self>;
}

macro_rules! from_name {
    ($($t:ty),*) => {$(
        impl FromName for $t {
            fn from_name(s: &str) -> Option<Self> {
                <$t>::from_name(s)
            }
        }
    )*};
}
from_name!(Activity, ActorKind, DataCategory, Decision);

impl<'de, T: FromName> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<T: FromName> Visitor<'_> for V<T> {
            type Value = Named<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Named<T>, E> {
                T::from_name(s).map(Named).ok_or_else(give_up)
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// The Custos form's `time`: RFC 3339 text or epoch milliseconds (read
/// as the slow path does; negative or unparsable values give up).
struct AnyTime(i64);

impl<'de> Deserialize<'de> for AnyTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AnyTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a time")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<AnyTime, E> {
                i64::try_from(n).map(AnyTime).map_err(|_| give_up())
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<AnyTime, E> {
                parse_rfc3339(s).map(AnyTime).ok_or_else(give_up)
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------
// Objects: members read by name, each at most once; with `IGNORED`, other
// members of that list are skipped whatever their value; with `OPEN`, any
// other member is; anything else gives up.

trait Fields<'de>: Default {
    /// Members accepted and ignored (sorted; may include those read).
    const IGNORED: &'static [&'static str] = &[];
    /// Whether members outside both lists are accepted and ignored too.
    const OPEN: bool = false;
    /// Reads the value of member `key` if it is one the struct reads
    /// (`Ok(true)`); gives up if it was read before.
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

struct Obj<T>(T);

impl<'de, T: Fields<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Fields<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Obj<T>, A::Error> {
                let mut t = T::default();
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    if t.read(&key, &mut map)? {
                        continue;
                    }
                    if T::OPEN || T::IGNORED.binary_search(&key.as_ref()).is_ok() {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        return Err(give_up());
                    }
                }
                Ok(Obj(t))
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// Declares a [`Fields`] struct: `name: Type` members, read with
/// `next_value` (so an `Option<T>` member takes `null` as absent; a
/// non-`Option` one gives up on `null`).
macro_rules! fields {
    ($(#[$doc:meta])* $name:ident<$a:lifetime> $(ignored = $ign:expr;)? $(open = $open:expr;)?
     { $($field:ident $(as $json:literal)?: $ty:ty,)+ }) => {
        $(#[$doc])*
        #[derive(Default)]
        struct $name<$a> {
            $($field: Option<$ty>,)+
            _life: PhantomData<&$a ()>,
        }

        impl<'de: $a, $a> Fields<'de> for $name<$a> {
            $(const IGNORED: &'static [&'static str] = $ign;)?
            $(const OPEN: bool = $open;)?
            fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
                match key {
                    $(fields!(@name $field $($json)?) => {
                        if self.$field.is_some() {
                            return Err(give_up());
                        }
                        self.$field = Some(map.next_value()?);
                    })+
                    _ => return Ok(false),
                }
                Ok(true)
            }
        }
    };
    (@name $field:ident $json:literal) => { $json };
    (@name $field:ident) => { stringify!($field) };
}

fields! {
    /// The Custos form (`EventInput`), members in sorted order.
    CustosIn<'a> {
        activity: Option<Named<Activity>>,
        actor: Obj<ActorIn<'a>>,
        categories: Vec<Named<DataCategory>>,
        credential: Option<Obj<CredentialIn<'a>>>,
        dataset: Str<'a>,
        decision: Named<Decision>,
        id: Option<Str<'a>>,
        operation: Str<'a>,
        purpose: Str<'a>,
        service: Str<'a>,
        source: Obj<SourceIn<'a>>,
        subjects: Vec<Str<'a>>,
        time: AnyTime,
    }
}

fields! {
    ActorIn<'a> {
        id: Str<'a>,
        kind: Named<ActorKind>,
    }
}

fields! {
    CredentialIn<'a> {
        issuer: Str<'a>,
        jti: Str<'a>,
        kid: Str<'a>,
    }
}

fields! {
    SourceIn<'a> {
        country: Option<Str<'a>>,
        ip: Str<'a>,
    }
}

fields! {
    /// An OCSF API Activity event: the members read (sorted); the rest of
    /// the class's attributes are ignored.
    OcsfIn<'a> ignored = ocsf_input::CLASS; {
        action: Option<Str<'a>>,
        action_id: Option<i64>,
        activity_id: i64,
        activity_name: Option<Str<'a>>,
        actor: Obj<OActor<'a>>,
        api: Obj<OApi<'a>>,
        category_name: Option<Str<'a>>,
        category_uid: i64,
        class_name: Option<Str<'a>>,
        class_uid: i64,
        count: Option<i64>,
        disposition: Option<Str<'a>>,
        disposition_id: Option<i64>,
        metadata: Obj<OMetadata<'a>>,
        resources: Vec<Obj<OResource<'a>>>,
        severity: Option<Str<'a>>,
        severity_id: i64,
        src_endpoint: Obj<OEndpoint<'a>>,
        status: Option<Str<'a>>,
        status_id: Option<i64>,
        time: i64,
        time_dt: Option<Str<'a>>,
        type_name: Option<Str<'a>>,
        type_uid: i64,
        unmapped: Obj<OUnmapped<'a>>,
    }
}

fields! {
    OActor<'a> ignored = ocsf_input::ACTOR; {
        session: Option<Obj<OSession<'a>>>,
        user: Obj<OUser<'a>>,
    }
}

fields! {
    OUser<'a> ignored = ocsf_input::USER; {
        type_ as "type": Option<Str<'a>>,
        type_id: Option<i64>,
        uid: Str<'a>,
    }
}

fields! {
    OSession<'a> ignored = ocsf_input::SESSION; {
        credential_uid: Option<Str<'a>>,
        issuer: Option<Str<'a>>,
    }
}

fields! {
    OApi<'a> ignored = ocsf_input::API; {
        operation: Str<'a>,
        service: Obj<OService<'a>>,
    }
}

fields! {
    OService<'a> ignored = ocsf_input::SERVICE; {
        name: Str<'a>,
    }
}

fields! {
    OMetadata<'a> ignored = ocsf_input::METADATA; {
        product: Obj<AnyObject<'a>>,
        uid: Option<Str<'a>>,
        version: Str<'a>,
    }
}

fields! {
    OEndpoint<'a> ignored = ocsf_input::NETWORK_ENDPOINT; {
        ip: Str<'a>,
        location: Option<Obj<OLocation<'a>>>,
    }
}

fields! {
    OLocation<'a> ignored = ocsf_input::LOCATION; {
        country: Option<Str<'a>>,
    }
}

fields! {
    OResource<'a> ignored = ocsf_input::RESOURCE_DETAILS; {
        labels: Vec<Named<DataCategory>>,
        name: Str<'a>,
        type_ as "type": Option<Str<'a>>,
    }
}

fields! {
    /// `unmapped`: `custos` is read, any other member ignored.
    OUnmapped<'a> open = true; {
        custos: Obj<OCustos<'a>>,
    }
}

fields! {
    OCustos<'a> {
        actor_kind: Option<Named<ActorKind>>,
        kid: Option<Str<'a>>,
        purpose: Str<'a>,
        subjects: Vec<Str<'a>>,
    }
}

/// An object with any members (OCSF's `object`; here `metadata.product`).
#[derive(Default)]
struct AnyObject<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Fields<'de> for AnyObject<'a> {
    const OPEN: bool = true;
    fn read<A: MapAccess<'de>>(&mut self, _: &str, _: &mut A) -> Result<bool, A::Error> {
        Ok(false)
    }
}

// ---------------------------------------------------------------------------
// The rules, as the slow path applies them; `None` on any problem.

struct Check<'l> {
    now_ms: i64,
    limits: &'l Limits,
}

impl Check<'_> {
    fn string(&self, s: Str<'_>) -> Option<String> {
        string_problem(&s.0, self.limits)
            .is_none()
            .then(|| s.0.into_owned())
    }

    fn opt_string(&self, s: Option<Str<'_>>) -> Option<Option<String>> {
        match s {
            None => Some(None),
            Some(s) => self.string(s).map(Some),
        }
    }

    fn time(&self, ms: i64) -> Option<i64> {
        time_problem(Some(ms), self.now_ms, self.limits).ok()
    }

    fn ip(s: &Str<'_>) -> Option<IpAddr> {
        s.0.parse().ok()
    }

    fn country(s: Option<Str<'_>>) -> Option<Option<Country>> {
        match s {
            None => Some(None),
            Some(s) => Country::from_code(&s.0).map(Some),
        }
    }

    fn categories(items: Vec<Named<DataCategory>>) -> Option<Vec<DataCategory>> {
        if items.is_empty() || items.len() > DataCategory::ALL.len() {
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        for Named(c) in items {
            if out.contains(&c) {
                return None;
            }
            out.push(c);
        }
        Some(out)
    }

    fn subjects(&self, items: Vec<Str<'_>>) -> Option<Vec<String>> {
        if items.is_empty() || items.len() > self.limits.max_subjects {
            return None;
        }
        if items
            .iter()
            .any(|s| string_problem(&s.0, self.limits).is_some())
        {
            return None;
        }
        let distinct = if items.len() <= 16 {
            items
                .iter()
                .enumerate()
                .all(|(i, a)| items.iter().skip(i + 1).all(|b| a.0 != b.0))
        } else {
            let mut seen: HashSet<&str> = HashSet::with_capacity(items.len());
            items.iter().all(|s| seen.insert(&s.0))
        };
        distinct.then(|| items.into_iter().map(|s| s.0.into_owned()).collect())
    }

    fn custos(&self, e: CustosIn<'_>) -> Option<Event> {
        let Obj(actor) = e.actor?;
        let Obj(source) = e.source?;
        let credential = match e.credential.flatten() {
            None => None,
            Some(Obj(c)) => Some(Credential {
                jti: self.string(c.jti?)?,
                kid: self.string(c.kid?)?,
                issuer: self.string(c.issuer?)?,
            }),
        };
        Some(Event {
            id: self.opt_string(e.id.flatten())?,
            time_ms: self.time(e.time?.0)?,
            activity: e.activity.flatten().map_or(Activity::Read, |Named(a)| a),
            actor: Actor {
                id: self.string(actor.id?)?,
                kind: actor.kind?.0,
            },
            credential,
            source: Source {
                ip: Self::ip(&source.ip?)?,
                country: Self::country(source.country.flatten())?,
            },
            service: self.string(e.service?)?,
            operation: self.string(e.operation?)?,
            dataset: self.string(e.dataset?)?,
            categories: Self::categories(e.categories?)?,
            subjects: self.subjects(e.subjects?)?,
            purpose: self.string(e.purpose?)?,
            decision: e.decision?.0,
        })
    }

    fn ocsf(&self, e: OcsfIn<'_>) -> Option<Event> {
        let caption = |c: Option<Option<Str<'_>>>, expected: &str| match c.flatten() {
            None => true,
            Some(s) => s.0 == expected,
        };
        // Classification, ids and captions.
        if e.class_uid? != 6003 || e.category_uid? != 6 || e.severity_id? != 1 {
            return None;
        }
        let activity = activity_from_id(e.activity_id?)?;
        let (activity_name, type_name) = activity_captions(activity);
        if e.type_uid? != 600_300 + i64::from(ocsf_input::activity_id(activity))
            || !caption(e.class_name, "API Activity")
            || !caption(e.category_name, "Application Activity")
            || !caption(e.activity_name, activity_name)
            || !caption(e.type_name, type_name)
            || !caption(e.severity, "Informational")
            || e.count.flatten().is_some_and(|n| n != 1)
        {
            return None;
        }
        let time_ms = self.time(e.time?)?;
        if let Some(dt) = e.time_dt.flatten()
            && parse_rfc3339(&dt.0) != Some(time_ms)
        {
            return None;
        }
        // The decision: the ids present agree, with their captions.
        let mut decision = None;
        for (id, cap, [allowed, denied]) in [
            (e.status_id, e.status, ["Success", "Failure"]),
            (e.action_id, e.action, ["Allowed", "Denied"]),
            (e.disposition_id, e.disposition, ["Allowed", "Blocked"]),
        ] {
            let Some(id) = id.flatten() else { continue };
            let d = decision_from_id(id)?;
            if decision.is_some_and(|first| first != d)
                || !caption(
                    cap,
                    if d == Decision::Allow {
                        allowed
                    } else {
                        denied
                    },
                )
            {
                return None;
            }
            decision = Some(d);
        }
        let Obj(meta) = e.metadata?;
        if !ocsf_input::is_ocsf_1x(&meta.version?.0) {
            return None;
        }
        meta.product?;
        let Obj(actor) = e.actor?;
        let Obj(user) = actor.user?;
        let Obj(unmapped) = e.unmapped?;
        let Obj(custos) = unmapped.custos?;
        let type_id = user.type_id.flatten();
        let kind = match custos.actor_kind.flatten() {
            Some(Named(k)) => {
                let expected = if k == ActorKind::Service { 3 } else { 1 };
                if type_id.is_some_and(|t| t != expected) {
                    return None;
                }
                k
            }
            None if type_id == Some(3) => ActorKind::Service,
            None => return None,
        };
        if type_id.is_some_and(|t| t != 1 && t != 3)
            || !caption(
                user.type_,
                if kind == ActorKind::Service {
                    "System"
                } else {
                    "User"
                },
            )
        {
            return None;
        }
        let (jti, issuer) = match actor.session.flatten() {
            None => (None, None),
            Some(Obj(s)) => (s.credential_uid.flatten(), s.issuer.flatten()),
        };
        let credential = match (jti, issuer, custos.kid.flatten()) {
            (Some(jti), Some(issuer), Some(kid)) => Some(Credential {
                jti: self.string(jti)?,
                kid: self.string(kid)?,
                issuer: self.string(issuer)?,
            }),
            (None, None, None) => None,
            _ => return None,
        };
        let Obj(endpoint) = e.src_endpoint?;
        let country = match endpoint.location.flatten() {
            None => None,
            Some(Obj(l)) => Self::country(l.country.flatten())?,
        };
        let Obj(api) = e.api?;
        let Obj(service) = api.service?;
        let mut resources = e.resources?;
        if resources.len() != 1 {
            return None;
        }
        let Obj(resource) = resources.pop()?;
        if resource.type_.flatten().is_some_and(|t| t.0 != "dataset") {
            return None;
        }
        Some(Event {
            id: self.opt_string(meta.uid.flatten())?,
            time_ms,
            activity,
            actor: Actor {
                id: self.string(user.uid?)?,
                kind,
            },
            credential,
            source: Source {
                ip: Self::ip(&endpoint.ip?)?,
                country,
            },
            service: self.string(service.name?)?,
            operation: self.string(api.operation?)?,
            dataset: self.string(resource.name?)?,
            categories: Self::categories(resource.labels?)?,
            subjects: self.subjects(custos.subjects?)?,
            purpose: self.string(custos.purpose?)?,
            decision: decision?,
        })
    }
}

#[cfg(test)]
mod tests {
    //! Differential tests: the fast path accepts only what the slow path
    //! accepts, as the same event; and it does accept valid events (else it
    //! would be dead weight).
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::parse::slow;

    /// 2025-06-01T03:04:05.123Z
    const NOW: i64 = 1_748_747_045_123;

    fn custos() -> Value {
        json!({
            "id": "evt-0001",
            "time": "2025-06-01T03:04:05.123Z",
            "activity": "read",
            "actor": {"id": "emp-0042", "kind": "employee"},
            "credential": {"jti": "tok-9f2c", "kid": "cs-2024-01", "issuer": "https://auth.example.com"},
            "source": {"ip": "203.0.113.7", "country": "KR"},
            "service": "customer-service-tool",
            "operation": "GetCustomerAddress",
            "dataset": "customers",
            "categories": ["name", "address", "entrance_code"],
            "subjects": ["cust-1001", "cust-1002"],
            "purpose": "support-ticket-4711",
            "decision": "allow"
        })
    }

    fn ocsf() -> Value {
        json!({
            "activity_id": 2,
            "activity_name": "Read",
            "actor": {
                "session": {"credential_uid": "tok-9f2c", "issuer": "https://auth.example.com", "is_mfa": true},
                "user": {"type_id": 1, "type": "User", "uid": "emp-0042", "name": "Kim"}
            },
            "api": {"operation": "GetCustomerAddress", "service": {"name": "customer-service-tool"}, "version": "v2"},
            "category_uid": 6,
            "category_name": "Application Activity",
            "class_uid": 6003,
            "class_name": "API Activity",
            "count": 1,
            "message": "read of a customer address",
            "metadata": {"product": {"name": "cs-tool", "vendor_name": "Example"}, "uid": "evt-0001", "version": "1.3.0"},
            "resources": [{"labels": ["name", "address", "entrance_code"], "name": "customers", "type": "dataset", "uid": "r1"}],
            "severity_id": 1,
            "severity": "Informational",
            "src_endpoint": {"ip": "203.0.113.7", "location": {"country": "KR", "city": "Seoul"}, "port": 443},
            "status_id": 1,
            "status": "Success",
            "time": NOW,
            "time_dt": "2025-06-01T03:04:05.123Z",
            "type_uid": 600302,
            "type_name": "API Activity: Read",
            "unmapped": {
                "custos": {"actor_kind": "employee", "kid": "cs-2024-01", "purpose": "support-ticket-4711", "subjects": ["cust-1001", "cust-1002"]},
                "other": {"anything": [1, 2]}
            }
        })
    }

    /// Every JSON pointer in `v` (the root excluded).
    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                    out.push(p.clone());
                    pointers(c, p, out);
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    let p = format!("{at}/{i}");
                    out.push(p.clone());
                    pointers(c, p, out);
                }
            }
            _ => {}
        }
    }

    /// Values that sit on the edges of the rules.
    fn pool() -> Vec<Value> {
        vec![
            Value::Null,
            json!(true),
            json!(0),
            json!(1),
            json!(2),
            json!(3),
            json!(4),
            json!(5),
            json!(-1),
            json!(1.0),
            json!(1.5),
            json!(6),
            json!(6003),
            json!(600302),
            json!(600301),
            json!(99),
            json!(u64::MAX),
            json!(NOW),
            json!(NOW - 1),
            json!(NOW + 10_000_000),
            json!(1e300),
            json!(""),
            json!("x"),
            json!("KR"),
            json!("kr"),
            json!("::1"),
            json!("1.3.0"),
            json!("1.5.0-dev"),
            json!("2.0.0"),
            json!("dataset"),
            json!("table"),
            json!("employee"),
            json!("service"),
            json!("allow"),
            json!("deny"),
            json!("read"),
            json!("name"),
            json!("API Activity"),
            json!("API Activity: Read"),
            json!("Success"),
            json!("Failure"),
            json!("User"),
            json!("System"),
            json!("Read"),
            json!("Informational"),
            json!("2025-06-01T03:04:05.123Z"),
            json!("2025-06-01T03:04:05.124Z"),
            json!("2025-06-01T12:04:05.123+09:00"),
            json!("a\u{85}b"),
            json!("a\"b\\c"),
            json!("x".repeat(257)),
            json!([]),
            json!([""]),
            json!(["name"]),
            json!(["name", "name"]),
            json!(["a", "b"]),
            json!([{"name": "d", "labels": ["name"]}, {"name": "e", "labels": ["email"]}]),
            json!({}),
            json!({"x": 1}),
            json!({"allow": null}),
        ]
    }

    /// Member names worth inserting or renaming to.
    const NAMES: &[&str] = &[
        "class_uid",
        "time",
        "id",
        "subject",
        "subjects",
        "unmapped",
        "custos",
        "kid",
        "type_id",
        "action_id",
        "disposition_id",
        "status_id",
        "status",
        "action",
        "severity_id",
        "count",
        "message",
        "observables",
        "subject_key",
        "part",
        "v",
        "location",
        "country",
        "credential",
        "credential_uid",
        "issuer",
        "session",
        "labels",
        "type",
        "actor_kind",
        "purpose",
        "time_dt",
        "zzz",
    ];

    #[derive(Debug, Clone)]
    enum Op {
        /// Replace the value at a pointer by a pool value.
        Set(usize, usize),
        /// Remove the member / element at a pointer.
        Remove(usize),
        /// Add member NAMES[n] = pool value to the object at a pointer (or the root).
        Add(usize, usize, usize),
        /// Prefix the text with a duplicate member NAMES[n] = pool value.
        Duplicate(usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Set(a, b)),
            any::<usize>().prop_map(Op::Remove),
            (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(a, b, c)| Op::Add(a, b, c)),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Duplicate(a, b)),
        ]
    }

    fn apply(mut v: Value, ops: &[Op]) -> Vec<u8> {
        let pool = pool();
        let pick = |n: usize| pool[n % pool.len()].clone();
        let mut prefix = String::new();
        for op in ops {
            let mut ps = Vec::new();
            pointers(&v, String::new(), &mut ps);
            if ps.is_empty() {
                break;
            }
            match op {
                Op::Set(p, x) => {
                    if let Some(slot) = v.pointer_mut(&ps[p % ps.len()]) {
                        *slot = pick(*x);
                    }
                }
                Op::Remove(p) => {
                    let p = &ps[p % ps.len()];
                    let (parent, last) = p.rsplit_once('/').unwrap();
                    match v.pointer_mut(parent) {
                        Some(Value::Object(m)) => {
                            m.remove(&last.replace("~1", "/").replace("~0", "~"));
                        }
                        Some(Value::Array(a)) => {
                            let i: usize = last.parse().unwrap();
                            if i < a.len() {
                                a.remove(i);
                            }
                        }
                        _ => {}
                    }
                }
                Op::Add(p, n, x) => {
                    let target = if p % 3 == 0 {
                        ""
                    } else {
                        ps[p % ps.len()].as_str()
                    };
                    if let Some(Value::Object(m)) = v.pointer_mut(target) {
                        m.insert(NAMES[n % NAMES.len()].to_owned(), pick(*x));
                    }
                }
                Op::Duplicate(n, x) => {
                    prefix.push_str(&format!("{}:{},", json!(NAMES[n % NAMES.len()]), pick(*x)));
                }
            }
        }
        let text = serde_json::to_string(&v).unwrap();
        match (text.strip_prefix('{'), prefix.is_empty()) {
            (Some(rest), false) => format!("{{{prefix}{rest}").into_bytes(),
            _ => text.into_bytes(),
        }
    }

    fn agree(json: &[u8]) -> Result<(), TestCaseError> {
        let limits = Limits::default();
        if let Some(e) = event(json, NOW, &limits) {
            let s = slow(json, None, NOW, &limits);
            prop_assert_eq!(
                s.as_ref().ok(),
                Some(&e),
                "fast accepted what slow says {:?}: {}",
                s.as_ref().err(),
                String::from_utf8_lossy(json)
            );
        }
        Ok(())
    }

    #[test]
    fn fast_path_takes_valid_events_of_both_forms() {
        let limits = Limits::default();
        for v in [custos(), ocsf()] {
            let bytes = serde_json::to_vec(&v).unwrap();
            let fast = event(&bytes, NOW, &limits).expect("fast path took it");
            assert_eq!(slow(&bytes, None, NOW, &limits).unwrap(), fast);
        }
        // Both forms of the same access are the same event.
        let a = event(&serde_json::to_vec(&custos()).unwrap(), NOW, &limits);
        let b = event(&serde_json::to_vec(&ocsf()).unwrap(), NOW, &limits);
        assert_eq!(a, b);
        // Arrays of the Custos form too.
        let arr = serde_json::to_vec(&json!([custos(), custos()])).unwrap();
        assert_eq!(array(&arr, NOW, &limits).map(|v| v.len()), Some(2));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn custos_form_mutations_agree(ops in proptest::collection::vec(op(), 1..4)) {
            agree(&apply(custos(), &ops))?;
        }

        #[test]
        fn ocsf_form_mutations_agree(ops in proptest::collection::vec(op(), 1..4)) {
            agree(&apply(ocsf(), &ops))?;
        }

        #[test]
        fn arrays_agree(ops in proptest::collection::vec(op(), 0..3), n in 1usize..3) {
            let one: Value = serde_json::from_slice(&apply(custos(), &ops)).unwrap_or(Value::Null);
            let body = serde_json::to_vec(&Value::Array(vec![one; n])).unwrap();
            let limits = Limits::default();
            if let Some(events) = array(&body, NOW, &limits) {
                let v: Value = serde_json::from_slice(&body).unwrap();
                for (i, (item, e)) in v.as_array().unwrap().iter().zip(&events).enumerate() {
                    let s = slow(&serde_json::to_vec(item).unwrap(), Some(i), NOW, &limits);
                    prop_assert_eq!(s.as_ref().ok(), Some(e));
                }
            }
        }
    }
}
