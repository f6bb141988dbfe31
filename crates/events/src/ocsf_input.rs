//! OCSF input: an OCSF API Activity event (class 6003), as services whose
//! logging already speaks OCSF send it, read into an [`Event`] — the ledger
//! mapping of `docs/events.md` ("Mapping to OCSF"), in reverse, with the same
//! rules for every value and JSON paths into the OCSF shape
//! (`$.actor.user.uid`, `$.unmapped.custos.subjects[3]`).
//!
//! What is accepted (`docs/events.md`, "OCSF input"):
//! - the attributes Custos maps are read and validated as in the Custos form;
//! - the caption strings OCSF derives from ids (`class_name`,
//!   `activity_name`, `type_name`, `status`, …) and `type_uid` must agree
//!   with their ids, and are then dropped (the ledger derives them again);
//! - every other attribute that OCSF 1.3.0 defines at that place (for the
//!   API Activity class with its profiles, and for the objects Custos reads:
//!   `actor`, `user`, `session`, `api`, `service`, `network_endpoint`,
//!   `location`, `metadata`, `resource_details`) is accepted and ignored,
//!   whatever its value: it is not recorded;
//! - any other member is refused as unknown, as in the Custos form, so a
//!   misspelt attribute is never silently dropped.
//!
//! The attribute lists below are copied from the OCSF server's export of
//! 1.3.0 (the one `tests/outside/ocsf_validate.py` validates against);
//! `tests/ocsf_schema.rs` checks them against it.

use serde_json::{Map, Value};

use crate::model::{Activity, Actor, ActorKind, Credential, Decision, Event, Source};
use crate::parse::Reason;
use crate::time::{format_rfc3339, parse_rfc3339};
use crate::walk::{Path, Walker};

/// `api_activity` in OCSF 1.3.0, with the attributes of its profiles, plus
/// `action`, `action_id`, `disposition`, `disposition_id` of the
/// `security_control` profile, which OCSF applies to API Activity from
/// 1.4.0 (a decision sent that way is read too). Sorted.
pub(crate) const CLASS: &[&str] = &[
    "action",
    "action_id",
    "activity_id",
    "activity_name",
    "actor",
    "api",
    "category_name",
    "category_uid",
    "class_name",
    "class_uid",
    "cloud",
    "count",
    "disposition",
    "disposition_id",
    "dst_endpoint",
    "duration",
    "end_time",
    "end_time_dt",
    "enrichments",
    "http_request",
    "message",
    "metadata",
    "observables",
    "osint",
    "raw_data",
    "resources",
    "severity",
    "severity_id",
    "src_endpoint",
    "start_time",
    "start_time_dt",
    "status",
    "status_code",
    "status_detail",
    "status_id",
    "time",
    "time_dt",
    "timezone_offset",
    "type_name",
    "type_uid",
    "unmapped",
];

/// OCSF 1.3.0 object `actor`. Sorted.
pub(crate) const ACTOR: &[&str] = &[
    "app_name",
    "app_uid",
    "authorizations",
    "idp",
    "invoked_by",
    "process",
    "session",
    "user",
];

/// OCSF 1.3.0 object `user`. Sorted.
pub(crate) const USER: &[&str] = &[
    "account",
    "credential_uid",
    "domain",
    "email_addr",
    "full_name",
    "groups",
    "ldap_person",
    "name",
    "org",
    "risk_level",
    "risk_level_id",
    "risk_score",
    "type",
    "type_id",
    "uid",
    "uid_alt",
];

/// OCSF 1.3.0 object `session`. Sorted.
pub(crate) const SESSION: &[&str] = &[
    "count",
    "created_time",
    "created_time_dt",
    "credential_uid",
    "expiration_reason",
    "expiration_time",
    "expiration_time_dt",
    "is_mfa",
    "is_remote",
    "is_vpn",
    "issuer",
    "terminal",
    "uid",
    "uid_alt",
    "uuid",
];

/// OCSF 1.3.0 object `api`. Sorted.
pub(crate) const API: &[&str] = &[
    "group",
    "operation",
    "request",
    "response",
    "service",
    "version",
];

/// OCSF 1.3.0 object `service`. Sorted.
pub(crate) const SERVICE: &[&str] = &["labels", "name", "uid", "version"];

/// OCSF 1.3.0 object `network_endpoint` (`src_endpoint`). Sorted.
pub(crate) const NETWORK_ENDPOINT: &[&str] = &[
    "agent_list",
    "autonomous_system",
    "container",
    "domain",
    "hostname",
    "hw_info",
    "instance_uid",
    "interface_name",
    "interface_uid",
    "intermediate_ips",
    "ip",
    "location",
    "mac",
    "name",
    "namespace_pid",
    "os",
    "owner",
    "port",
    "proxy_endpoint",
    "subnet_uid",
    "svc_name",
    "type",
    "type_id",
    "uid",
    "vlan_uid",
    "vpc_uid",
    "zone",
];

/// OCSF 1.3.0 object `location`. Sorted.
pub(crate) const LOCATION: &[&str] = &[
    "city",
    "continent",
    "coordinates",
    "country",
    "desc",
    "geohash",
    "is_on_premises",
    "isp",
    "lat",
    "long",
    "postal_code",
    "provider",
    "region",
];

/// OCSF 1.3.0 object `metadata`. Sorted.
pub(crate) const METADATA: &[&str] = &[
    "correlation_uid",
    "data_classification",
    "event_code",
    "extension",
    "extensions",
    "labels",
    "log_level",
    "log_name",
    "log_provider",
    "log_version",
    "logged_time",
    "logged_time_dt",
    "loggers",
    "modified_time",
    "modified_time_dt",
    "original_time",
    "processed_time",
    "processed_time_dt",
    "product",
    "profiles",
    "sequence",
    "tenant_uid",
    "uid",
    "version",
];

/// OCSF 1.3.0 object `resource_details`. Sorted.
pub(crate) const RESOURCE_DETAILS: &[&str] = &[
    "agent_list",
    "cloud_partition",
    "criticality",
    "data",
    "data_classification",
    "group",
    "labels",
    "name",
    "namespace",
    "owner",
    "region",
    "type",
    "uid",
    "version",
];

/// `unmapped.custos` in input: what OCSF has no attribute for. (The ledger's
/// `subject_key`, `part` and `v` are refused: subjects come in clear.)
pub(crate) const CUSTOS: &[&str] = &["actor_kind", "kid", "purpose", "subjects"];

/// OCSF `activity_id` of an activity, and back.
pub(crate) fn activity_id(a: Activity) -> u8 {
    match a {
        Activity::Create => 1,
        Activity::Read => 2,
        Activity::Update => 3,
        Activity::Delete => 4,
    }
}

pub(crate) fn activity_from_id(id: i64) -> Option<Activity> {
    match id {
        1 => Some(Activity::Create),
        2 => Some(Activity::Read),
        3 => Some(Activity::Update),
        4 => Some(Activity::Delete),
        _ => None,
    }
}

/// OCSF 1.3.0 captions of `activity_id` 1–4 and of `type_uid` 600301–600304.
pub(crate) fn activity_captions(a: Activity) -> (&'static str, &'static str) {
    match a {
        Activity::Create => ("Create", "API Activity: Create"),
        Activity::Read => ("Read", "API Activity: Read"),
        Activity::Update => ("Update", "API Activity: Update"),
        Activity::Delete => ("Delete", "API Activity: Delete"),
    }
}

/// The decision of `status_id`, `action_id` or `disposition_id` (1 or 2).
pub(crate) fn decision_from_id(id: i64) -> Option<Decision> {
    match id {
        1 => Some(Decision::Allow),
        2 => Some(Decision::Deny),
        _ => None,
    }
}

/// Whether `v` is a version of OCSF 1.x: `1.<minor>.<patch>`, optionally
/// with a `-<pre-release>` suffix of ASCII letters, digits, `.` and `-`.
pub(crate) fn is_ocsf_1x(v: &str) -> bool {
    let Some(rest) = v.strip_prefix("1.") else {
        return false;
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let mut nums = core.split('.');
    let num_ok =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    num_ok(nums.next())
        && num_ok(nums.next())
        && nums.next().is_none()
        && pre.is_none_or(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        })
}

const DECISION_IDS: &[&str] = &["1", "2"];
const ACTIVITY_IDS: &[&str] = &["1", "2", "3", "4"];
const ONE: &[&str] = &["1"];
const VERSION_FORM: &[&str] = &["1.<minor>.<patch> (OCSF 1.x)"];

impl Walker<'_> {
    /// An object whose members may be anything (OCSF's `object` type).
    fn any_object<'v>(&mut self, v: &'v Value, path: &Path<'_>) -> Option<&'v Map<String, Value>> {
        let m = v.as_object();
        if m.is_none() {
            self.error(path, Reason::WrongType { expected: "object" });
        }
        m
    }

    /// An optional member: `None` when absent or `null`.
    fn optional<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
        map.get(key).filter(|v| !v.is_null())
    }

    /// An integer that must be one of `allowed` (their decimal text).
    fn int_in(
        &mut self,
        v: &Value,
        path: &Path<'_>,
        allowed: &'static [&'static str],
    ) -> Option<i64> {
        let Some(n) = v.as_i64() else {
            self.error(
                path,
                Reason::WrongType {
                    expected: "integer",
                },
            );
            return None;
        };
        if !allowed.iter().any(|a| a.parse::<i64>().ok() == Some(n)) {
            self.error(path, Reason::UnknownValue { allowed });
            return None;
        }
        Some(n)
    }

    /// A required integer member that must be one of `allowed`.
    fn required_int_in(
        &mut self,
        map: &Map<String, Value>,
        parent: &Path<'_>,
        key: &'static str,
        allowed: &'static [&'static str],
    ) -> Option<i64> {
        let v = self.required(map, parent, key)?;
        self.int_in(v, &Path::Key(parent, key), allowed)
    }

    /// An optional integer member that must be one of `allowed`:
    /// `Ok(None)` if absent, `Err` if refused.
    fn optional_int_in(
        &mut self,
        map: &Map<String, Value>,
        parent: &Path<'_>,
        key: &'static str,
        allowed: &'static [&'static str],
    ) -> Result<Option<i64>, ()> {
        match Self::optional(map, key) {
            None => Ok(None),
            Some(v) => self
                .int_in(v, &Path::Key(parent, key), allowed)
                .map(Some)
                .ok_or(()),
        }
    }

    /// An optional caption that, if present, must be `expected` (what OCSF
    /// derives from the member `with`).
    fn caption(
        &mut self,
        map: &Map<String, Value>,
        parent: &Path<'_>,
        key: &'static str,
        with: &'static str,
        expected: &str,
    ) {
        let Some(v) = Self::optional(map, key) else {
            return;
        };
        let path = Path::Key(parent, key);
        match v.as_str() {
            None => self.error(&path, Reason::WrongType { expected: "string" }),
            Some(s) if s != expected => self.error(
                &path,
                Reason::Inconsistent {
                    with,
                    expected: expected.to_owned(),
                },
            ),
            Some(_) => {}
        }
    }

    /// An OCSF API Activity event (the object holds `class_uid`).
    pub(crate) fn ocsf_event(&mut self, v: &Value, root: &Path<'_>, now_ms: i64) -> Option<Event> {
        let map = self.object(v, root, CLASS)?;
        let before = self.errors.len();

        // Classification: the class, its category, the activity, and the
        // ids and captions derived from them.
        self.required_int_in(map, root, "class_uid", &["6003"]);
        self.caption(map, root, "class_name", "class_uid", "API Activity");
        self.required_int_in(map, root, "category_uid", &["6"]);
        self.caption(
            map,
            root,
            "category_name",
            "category_uid",
            "Application Activity",
        );
        let activity = self
            .required_int_in(map, root, "activity_id", ACTIVITY_IDS)
            .and_then(activity_from_id);
        if let Some(type_uid) = self.required(map, root, "type_uid") {
            let path = Path::Key(root, "type_uid");
            match (type_uid.as_i64(), activity) {
                (None, _) => self.error(
                    &path,
                    Reason::WrongType {
                        expected: "integer",
                    },
                ),
                (Some(t), Some(a)) if t != 600_300 + i64::from(activity_id(a)) => self.error(
                    &path,
                    Reason::Inconsistent {
                        with: "activity_id",
                        expected: (600_300 + u32::from(activity_id(a))).to_string(),
                    },
                ),
                _ => {}
            }
        }
        if let Some(a) = activity {
            let (name, type_name) = activity_captions(a);
            self.caption(map, root, "activity_name", "activity_id", name);
            self.caption(map, root, "type_name", "type_uid", type_name);
        }
        // An access is a fact: severity 1, Informational, as the ledger
        // stores it; a count above 1 would record one access for several.
        if self
            .required_int_in(map, root, "severity_id", ONE)
            .is_some()
        {
            self.caption(map, root, "severity", "severity_id", "Informational");
        }
        let _ = self.optional_int_in(map, root, "count", ONE);

        let time = self
            .required(map, root, "time")
            .and_then(|v| self.time(v, &Path::Key(root, "time"), now_ms, true));
        if let Some(dt) = Self::optional(map, "time_dt") {
            let path = Path::Key(root, "time_dt");
            match dt.as_str().map(parse_rfc3339) {
                None => self.error(&path, Reason::WrongType { expected: "string" }),
                Some(None) => self.error(&path, Reason::InvalidTime),
                Some(Some(ms)) => {
                    if let Some(t) = time.filter(|t| *t != ms) {
                        self.error(
                            &path,
                            Reason::Inconsistent {
                                with: "time",
                                expected: format_rfc3339(t),
                            },
                        );
                    }
                }
            }
        }

        // metadata: version (any OCSF 1.x), product (required by OCSF, not
        // recorded), uid (the event id).
        let id = self.required(map, root, "metadata").map(|v| {
            let path = Path::Key(root, "metadata");
            let m = self.object(v, &path, METADATA).ok_or(())?;
            if let Some(ver) = self.required(m, &path, "version") {
                let p = Path::Key(&path, "version");
                match ver.as_str() {
                    None => self.error(&p, Reason::WrongType { expected: "string" }),
                    Some(s) if !is_ocsf_1x(s) => self.error(
                        &p,
                        Reason::UnknownValue {
                            allowed: VERSION_FORM,
                        },
                    ),
                    Some(_) => {}
                }
            }
            if let Some(product) = self.required(m, &path, "product") {
                self.any_object(product, &Path::Key(&path, "product"));
            }
            self.optional_string(m, &path, "uid")
        });

        // actor.user (the principal) and actor.session (the token).
        let actor_path = Path::Key(root, "actor");
        let actor_map = self
            .required(map, root, "actor")
            .and_then(|v| self.object(v, &actor_path, ACTOR));
        let user_path = Path::Key(&actor_path, "user");
        let session_path = Path::Key(&actor_path, "session");
        let (mut uid, mut type_id, mut user_map) = (None, Ok(None), None);
        // Without a readable actor, whether a token was used is unknown.
        let (mut jti, mut issuer) = (Err(()), Ok(None));
        if let Some(am) = actor_map {
            jti = Ok(None);
            user_map = self
                .required(am, &actor_path, "user")
                .and_then(|v| self.object(v, &user_path, USER));
            if let Some(um) = user_map {
                uid = self.required_string(um, &user_path, "uid");
                type_id = self.optional_int_in(um, &user_path, "type_id", &["1", "3"]);
            }
            if let Some(v) = Self::optional(am, "session") {
                match self.object(v, &session_path, SESSION) {
                    None => jti = Err(()),
                    Some(sm) => {
                        jti = self.optional_string(sm, &session_path, "credential_uid");
                        issuer = self.optional_string(sm, &session_path, "issuer");
                    }
                }
            }
        }

        // src_endpoint: ip and location.country.
        let source = self.required(map, root, "src_endpoint").and_then(|v| {
            let path = Path::Key(root, "src_endpoint");
            let m = self.object(v, &path, NETWORK_ENDPOINT)?;
            let ip = self
                .required(m, &path, "ip")
                .and_then(|ip| self.ip(ip, &Path::Key(&path, "ip")));
            let loc_path = Path::Key(&path, "location");
            let country = match Self::optional(m, "location") {
                None => Ok(None),
                Some(l) => match self.object(l, &loc_path, LOCATION) {
                    None => Err(()),
                    Some(lm) => self.country(lm.get("country"), &Path::Key(&loc_path, "country")),
                },
            };
            Some(Source {
                ip: ip?,
                country: country.ok()?,
            })
        });

        // api: operation and service.name.
        let api_path = Path::Key(root, "api");
        let (mut operation, mut service) = (None, None);
        if let Some(am) = self
            .required(map, root, "api")
            .and_then(|v| self.object(v, &api_path, API))
        {
            operation = self.required_string(am, &api_path, "operation");
            let sp = Path::Key(&api_path, "service");
            service = self
                .required(am, &api_path, "service")
                .and_then(|v| self.object(v, &sp, SERVICE))
                .and_then(|sm| self.required_string(sm, &sp, "name"));
        }

        // resources: exactly one, the dataset, labelled with the categories.
        let res_path = Path::Key(root, "resources");
        let res0_path = Path::Index(&res_path, 0);
        let (mut dataset, mut categories) = (None, None);
        if let Some(rm) = self
            .required(map, root, "resources")
            .and_then(|v| self.array(v, &res_path, 1))
            .and_then(|items| items.first())
            .and_then(|r| self.object(r, &res0_path, RESOURCE_DETAILS))
        {
            dataset = self.required_string(rm, &res0_path, "name");
            categories = self
                .required(rm, &res0_path, "labels")
                .and_then(|v| self.categories(v, &Path::Key(&res0_path, "labels")));
            if let Some(t) = Self::optional(rm, "type") {
                let p = Path::Key(&res0_path, "type");
                match t.as_str() {
                    None => self.error(&p, Reason::WrongType { expected: "string" }),
                    Some("dataset") => {}
                    Some(_) => self.error(
                        &p,
                        Reason::UnknownValue {
                            allowed: &["dataset"],
                        },
                    ),
                }
            }
        }

        // The decision: status_id, or action_id / disposition_id (the
        // security_control profile); those present must agree.
        let mut decision: Result<Option<(Decision, &'static str)>, ()> = Ok(None);
        for (id_key, caption_key, captions) in [
            ("status_id", "status", ["Success", "Failure"]),
            ("action_id", "action", ["Allowed", "Denied"]),
            ("disposition_id", "disposition", ["Allowed", "Blocked"]),
        ] {
            let Ok(Some(d)) = self
                .optional_int_in(map, root, id_key, DECISION_IDS)
                .map(|n| n.and_then(decision_from_id))
                .inspect_err(|()| decision = Err(()))
            else {
                continue;
            };
            let [allowed, denied] = captions;
            self.caption(
                map,
                root,
                caption_key,
                id_key,
                if d == Decision::Allow {
                    allowed
                } else {
                    denied
                },
            );
            match decision {
                Ok(None) => decision = Ok(Some((d, id_key))),
                Ok(Some((first, with))) if first != d => self.error(
                    &Path::Key(root, id_key),
                    Reason::Inconsistent {
                        with,
                        expected: if first == Decision::Allow { "1" } else { "2" }.to_owned(),
                    },
                ),
                _ => {}
            }
        }
        if decision == Ok(None) {
            self.error(&Path::Key(root, "status_id"), Reason::Missing);
        }

        // unmapped.custos: actor_kind, kid, purpose, subjects (in clear).
        let um_path = Path::Key(root, "unmapped");
        let custos_path = Path::Key(&um_path, "custos");
        let custos = self
            .required(map, root, "unmapped")
            .and_then(|v| self.any_object(v, &um_path))
            .and_then(|um| self.required(um, &um_path, "custos"))
            .and_then(|v| self.object(v, &custos_path, CUSTOS));
        let (mut kind, mut kid, mut purpose, mut subjects) = (Ok(None), Ok(None), None, None);
        if let Some(cm) = custos {
            kind = match Self::optional(cm, "actor_kind") {
                None => Ok(None),
                Some(k) => self
                    .enumerated(
                        k,
                        &Path::Key(&custos_path, "actor_kind"),
                        ActorKind::NAMES,
                        ActorKind::from_name,
                    )
                    .map(Some)
                    .ok_or(()),
            };
            kid = self.optional_string(cm, &custos_path, "kid");
            purpose = self.required_string(cm, &custos_path, "purpose");
            subjects = self
                .required(cm, &custos_path, "subjects")
                .and_then(|v| self.subjects(v, &Path::Key(&custos_path, "subjects")));
        }

        // The actor's kind: unmapped.custos.actor_kind, or user type_id 3
        // (System) for a service; the type_id, if sent, must be the one the
        // ledger will store for the kind.
        let kind = match (kind, type_id) {
            (Ok(Some(k)), Ok(t)) => {
                let expected = if k == ActorKind::Service { 3 } else { 1 };
                if t.is_some_and(|t| t != expected) {
                    self.error(
                        &Path::Key(&user_path, "type_id"),
                        Reason::Inconsistent {
                            with: "unmapped.custos.actor_kind",
                            expected: expected.to_string(),
                        },
                    );
                }
                Some(k)
            }
            (Ok(None), Ok(Some(3))) => Some(ActorKind::Service),
            (Ok(None), Ok(_)) => {
                if custos.is_some() {
                    self.error(&Path::Key(&custos_path, "actor_kind"), Reason::Missing);
                }
                None
            }
            _ => None,
        };
        if let (Some(k), Some(um)) = (kind, user_map) {
            let caption = if k == ActorKind::Service {
                "System"
            } else {
                "User"
            };
            self.caption(um, &user_path, "type", "actor.user.type_id", caption);
        }

        // The credential: present iff actor.session.credential_uid is; then
        // its issuer and unmapped.custos.kid are required too.
        let credential = match (jti, issuer, kid) {
            (Ok(Some(jti)), Ok(issuer), Ok(kid)) => {
                if issuer.is_none() {
                    self.error(&Path::Key(&session_path, "issuer"), Reason::Missing);
                }
                if kid.is_none() && custos.is_some() {
                    self.error(&Path::Key(&custos_path, "kid"), Reason::Missing);
                }
                match (issuer, kid) {
                    (Some(issuer), Some(kid)) => Some(Some(Credential { jti, kid, issuer })),
                    _ => None,
                }
            }
            (Ok(None), Ok(issuer), Ok(kid)) => {
                if issuer.is_some() || kid.is_some() {
                    self.error(&Path::Key(&session_path, "credential_uid"), Reason::Missing);
                    None
                } else {
                    Some(None)
                }
            }
            _ => None,
        };

        if self.errors.len() != before {
            return None;
        }
        Some(Event {
            id: id?.ok()?,
            time_ms: time?,
            activity: activity?,
            actor: Actor {
                id: uid?,
                kind: kind?,
            },
            credential: credential?,
            source: source?,
            service: service?,
            operation: operation?,
            dataset: dataset?,
            categories: categories?,
            subjects: subjects?,
            purpose: purpose?,
            decision: decision.ok()??.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_and_distinct() {
        for list in [
            CLASS,
            ACTOR,
            USER,
            SESSION,
            API,
            SERVICE,
            NETWORK_ENDPOINT,
            LOCATION,
            METADATA,
            RESOURCE_DETAILS,
            CUSTOS,
        ] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "{list:?}");
        }
    }

    #[test]
    fn versions() {
        for ok in ["1.0.0", "1.3.0", "1.5.0-dev", "1.10.2", "1.0.0-rc.2"] {
            assert!(is_ocsf_1x(ok), "{ok}");
        }
        for bad in [
            "", "1", "1.3", "1.3.0.1", "2.0.0", "v1.3.0", "1.3.x", "1.3.0-", "1.3.0 ",
        ] {
            assert!(!is_ocsf_1x(bad), "{bad}");
        }
    }

    #[test]
    fn ids_round_trip() {
        for a in Activity::ALL {
            assert_eq!(activity_from_id(i64::from(activity_id(*a))), Some(*a));
        }
    }
}
