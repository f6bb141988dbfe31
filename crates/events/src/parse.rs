//! Validation of outside input: JSON bytes → [`Event`], or every problem as a
//! [`FieldError`] with its JSON path.
//!
//! Two stages (the ripgrep habit): `serde_json` turns bytes into a
//! `serde_json::Value` (bounded recursion, never panics), then a walker checks
//! every field against the rules and collects *all* errors rather than
//! stopping at the first, so that a producer fixes a batch in one round trip.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::model::{
    Activity, Actor, ActorKind, Country, Credential, DataCategory, Decision, Event, Source,
};
use crate::time::parse_rfc3339;

/// Configurable bounds of validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How far after `now` an event's time may be (clock skew); default 5 min.
    pub max_future_skew: Duration,
    /// How far before `now` an event's time may be; default 7 days.
    pub max_age: Duration,
    /// Most data subjects in one event; default 10,000.
    pub max_subjects: usize,
    /// Longest string value, in UTF-8 bytes (ids, names, subjects); default 256.
    pub max_string_bytes: usize,
    /// Largest single event (one JSON text, or one NDJSON line); default 1 MiB.
    pub max_event_bytes: usize,
    /// Most events in one batch; default 10,000.
    pub max_batch_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_future_skew: Duration::from_secs(5 * 60),
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_subjects: 10_000,
            max_string_bytes: 256,
            max_event_bytes: 1 << 20,
            max_batch_events: 10_000,
        }
    }
}

/// Why a field was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    /// The bytes are not JSON (the message gives line and column).
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// A required field is absent (or `null`).
    #[error("missing required field")]
    Missing,
    /// The value has the wrong JSON type.
    #[error("wrong type: expected {expected}")]
    WrongType {
        /// What was expected.
        expected: &'static str,
    },
    /// A field that the event format does not define (unknown fields are
    /// refused, so that a misspelt field is never silently dropped).
    #[error("unknown field")]
    UnknownField,
    /// A value outside a closed set (actor kind, data category, decision, …).
    #[error("unknown value; expected one of: {}", allowed.join(", "))]
    UnknownValue {
        /// The accepted values.
        allowed: &'static [&'static str],
    },
    /// An empty string or array where at least one is required.
    #[error("must not be empty")]
    Empty,
    /// A string longer than the limit.
    #[error("longer than {max} bytes")]
    TooLong {
        /// The limit, in UTF-8 bytes.
        max: usize,
    },
    /// An event or batch larger than the limit.
    #[error("larger than {max} bytes")]
    TooLarge {
        /// The limit, in bytes.
        max: usize,
    },
    /// An array with more elements than the limit.
    #[error("more than {max} elements")]
    TooMany {
        /// The limit.
        max: usize,
    },
    /// A value repeated in an array whose values must be distinct.
    #[error("duplicate of element {first}")]
    Duplicate {
        /// Index of the first occurrence.
        first: usize,
    },
    /// A string containing a control character (U+0000–U+001F, U+007F–U+009F).
    #[error("contains a control character")]
    ControlCharacter,
    /// Not an RFC 3339 date-time nor a non-negative integer of milliseconds.
    #[error("not an RFC 3339 date-time (e.g. 2025-06-01T03:04:05.123Z) or epoch milliseconds")]
    InvalidTime,
    /// The time is later than now plus the allowed skew.
    #[error("time is more than {max_skew_secs} s in the future")]
    TimeInFuture {
        /// The allowed skew, in seconds.
        max_skew_secs: u64,
    },
    /// The time is earlier than now minus the allowed age.
    #[error("time is more than {max_age_secs} s in the past")]
    TimeTooOld {
        /// The allowed age, in seconds.
        max_age_secs: u64,
    },
    /// Not an IPv4 or IPv6 address.
    #[error("not an IPv4 or IPv6 address")]
    InvalidIp,
    /// Not an assigned upper-case ISO 3166-1 alpha-2 code.
    #[error("not an ISO 3166-1 alpha-2 country code (upper case, e.g. KR)")]
    InvalidCountry,
}

/// One problem with the input: where (`path`) and why (`reason`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Index of the event in its batch ([`parse_batch`]); `None` from [`parse_event`].
    pub event: Option<usize>,
    /// JSONPath of the offending value, e.g. `$.subjects[12]` or
    /// `$[3].actor.kind`; member names that are not plain identifiers are
    /// written `$["a b"]`.
    pub path: String,
    /// What is wrong with it.
    pub reason: Reason,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

impl std::error::Error for FieldError {}

/// A JSON path, built on the stack as the walker descends and rendered only
/// when an error needs it.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root(Option<usize>),
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        match self {
            Path::Root(None) => out.push('$'),
            Path::Root(Some(i)) => {
                let _ = write!(out, "$[{i}]");
            }
            Path::Key(parent, key) => {
                parent.render(out);
                let plain = key
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                    && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if plain {
                    out.push('.');
                    out.push_str(key);
                } else {
                    out.push('[');
                    out.push_str(&Value::String((*key).to_owned()).to_string());
                    out.push(']');
                }
            }
            Path::Index(parent, i) => {
                parent.render(out);
                let _ = write!(out, "[{i}]");
            }
        }
    }
}

struct Walker<'l> {
    limits: &'l Limits,
    event: Option<usize>,
    errors: Vec<FieldError>,
}

impl Walker<'_> {
    fn error(&mut self, path: &Path<'_>, reason: Reason) {
        let mut p = String::new();
        path.render(&mut p);
        self.errors.push(FieldError {
            event: self.event,
            path: p,
            reason,
        });
    }

    /// The object at `path`, after refusing members not in `known`.
    fn object<'v>(
        &mut self,
        v: &'v Value,
        path: &Path<'_>,
        known: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(map) = v.as_object() else {
            self.error(path, Reason::WrongType { expected: "object" });
            return None;
        };
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                self.error(&Path::Key(path, key), Reason::UnknownField);
            }
        }
        Some(map)
    }

    /// A member that must be present and not `null`.
    fn required<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        parent: &Path<'_>,
        key: &'static str,
    ) -> Option<&'v Value> {
        match map.get(key) {
            None | Some(Value::Null) => {
                self.error(&Path::Key(parent, key), Reason::Missing);
                None
            }
            Some(v) => Some(v),
        }
    }

    /// A non-empty, bounded string without control characters.
    fn string(&mut self, v: &Value, path: &Path<'_>) -> Option<String> {
        let Some(s) = v.as_str() else {
            self.error(path, Reason::WrongType { expected: "string" });
            return None;
        };
        if s.is_empty() {
            self.error(path, Reason::Empty);
            return None;
        }
        if s.len() > self.limits.max_string_bytes {
            self.error(
                path,
                Reason::TooLong {
                    max: self.limits.max_string_bytes,
                },
            );
            return None;
        }
        if s.chars().any(char::is_control) {
            self.error(path, Reason::ControlCharacter);
            return None;
        }
        Some(s.to_owned())
    }

    fn required_string(
        &mut self,
        map: &Map<String, Value>,
        parent: &Path<'_>,
        key: &'static str,
    ) -> Option<String> {
        let v = self.required(map, parent, key)?;
        self.string(v, &Path::Key(parent, key))
    }

    fn optional_string(
        &mut self,
        map: &Map<String, Value>,
        parent: &Path<'_>,
        key: &'static str,
    ) -> Result<Option<String>, ()> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => self.string(v, &Path::Key(parent, key)).map(Some).ok_or(()),
        }
    }

    fn enumerated<T>(
        &mut self,
        v: &Value,
        path: &Path<'_>,
        allowed: &'static [&'static str],
        from_name: fn(&str) -> Option<T>,
    ) -> Option<T> {
        let Some(s) = v.as_str() else {
            self.error(path, Reason::WrongType { expected: "string" });
            return None;
        };
        let t = from_name(s);
        if t.is_none() {
            self.error(path, Reason::UnknownValue { allowed });
        }
        t
    }

    fn array<'v>(&mut self, v: &'v Value, path: &Path<'_>, max: usize) -> Option<&'v [Value]> {
        let Some(items) = v.as_array() else {
            self.error(path, Reason::WrongType { expected: "array" });
            return None;
        };
        if items.is_empty() {
            self.error(path, Reason::Empty);
            return None;
        }
        if items.len() > max {
            self.error(path, Reason::TooMany { max });
            return None;
        }
        Some(items)
    }

    fn time(&mut self, v: &Value, path: &Path<'_>, now_ms: i64) -> Option<i64> {
        let ms = match v {
            Value::String(s) => parse_rfc3339(s),
            Value::Number(n) => n.as_u64().and_then(|n| i64::try_from(n).ok()),
            _ => {
                self.error(
                    path,
                    Reason::WrongType {
                        expected: "string (RFC 3339) or integer (epoch ms)",
                    },
                );
                return None;
            }
        };
        let Some(ms) = ms.filter(|ms| *ms >= 0) else {
            self.error(path, Reason::InvalidTime);
            return None;
        };
        let skew = duration_ms(self.limits.max_future_skew);
        let age = duration_ms(self.limits.max_age);
        if ms > now_ms.saturating_add(skew) {
            self.error(
                path,
                Reason::TimeInFuture {
                    max_skew_secs: self.limits.max_future_skew.as_secs(),
                },
            );
            return None;
        }
        if ms < now_ms.saturating_sub(age) {
            self.error(
                path,
                Reason::TimeTooOld {
                    max_age_secs: self.limits.max_age.as_secs(),
                },
            );
            return None;
        }
        Some(ms)
    }

    fn event(&mut self, v: &Value, root: &Path<'_>, now_ms: i64) -> Option<Event> {
        const FIELDS: &[&str] = &[
            "id",
            "time",
            "activity",
            "actor",
            "credential",
            "source",
            "service",
            "operation",
            "dataset",
            "categories",
            "subjects",
            "purpose",
            "decision",
        ];
        let map = self.object(v, root, FIELDS)?;
        let before = self.errors.len();

        let id = self.optional_string(map, root, "id");
        let time = self
            .required(map, root, "time")
            .and_then(|v| self.time(v, &Path::Key(root, "time"), now_ms));
        let activity = match map.get("activity") {
            None | Some(Value::Null) => Some(Activity::Read),
            Some(v) => self.enumerated(
                v,
                &Path::Key(root, "activity"),
                Activity::NAMES,
                Activity::from_name,
            ),
        };
        let actor = self.required(map, root, "actor").and_then(|v| {
            let path = Path::Key(root, "actor");
            let m = self.object(v, &path, &["id", "kind"])?;
            let id = self.required_string(m, &path, "id");
            let kind = self.required(m, &path, "kind").and_then(|k| {
                self.enumerated(
                    k,
                    &Path::Key(&path, "kind"),
                    ActorKind::NAMES,
                    ActorKind::from_name,
                )
            });
            Some(Actor {
                id: id?,
                kind: kind?,
            })
        });
        let credential = match map.get("credential") {
            None | Some(Value::Null) => Ok(None),
            Some(v) => {
                let path = Path::Key(root, "credential");
                self.object(v, &path, &["jti", "kid", "issuer"])
                    .and_then(|m| {
                        let jti = self.required_string(m, &path, "jti");
                        let kid = self.required_string(m, &path, "kid");
                        let issuer = self.required_string(m, &path, "issuer");
                        Some(Credential {
                            jti: jti?,
                            kid: kid?,
                            issuer: issuer?,
                        })
                    })
                    .map(Some)
                    .ok_or(())
            }
        };
        let source = self.required(map, root, "source").and_then(|v| {
            let path = Path::Key(root, "source");
            let m = self.object(v, &path, &["ip", "country"])?;
            let ip = self.required(m, &path, "ip").and_then(|ip| {
                let p = Path::Key(&path, "ip");
                let s = ip.as_str();
                if s.is_none() {
                    self.error(&p, Reason::WrongType { expected: "string" });
                }
                let parsed = s.and_then(|s| s.parse::<IpAddr>().ok());
                if s.is_some() && parsed.is_none() {
                    self.error(&p, Reason::InvalidIp);
                }
                parsed
            });
            let country = match m.get("country") {
                None | Some(Value::Null) => Ok(None),
                Some(c) => {
                    let p = Path::Key(&path, "country");
                    match c.as_str() {
                        None => {
                            self.error(&p, Reason::WrongType { expected: "string" });
                            Err(())
                        }
                        Some(s) => match Country::from_code(s) {
                            Some(c) => Ok(Some(c)),
                            None => {
                                self.error(&p, Reason::InvalidCountry);
                                Err(())
                            }
                        },
                    }
                }
            };
            Some(Source {
                ip: ip?,
                country: country.ok()?,
            })
        });
        let service = self.required_string(map, root, "service");
        let operation = self.required_string(map, root, "operation");
        let dataset = self.required_string(map, root, "dataset");
        let categories = self.required(map, root, "categories").and_then(|v| {
            let path = Path::Key(root, "categories");
            let items = self.array(v, &path, DataCategory::ALL.len())?;
            let mut out: Vec<DataCategory> = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let p = Path::Index(&path, i);
                if let Some(c) =
                    self.enumerated(item, &p, DataCategory::NAMES, DataCategory::from_name)
                {
                    match out.iter().position(|x| *x == c) {
                        Some(first) => self.error(&p, Reason::Duplicate { first }),
                        None => out.push(c),
                    }
                }
            }
            Some(out)
        });
        let subjects = self.required(map, root, "subjects").and_then(|v| {
            let path = Path::Key(root, "subjects");
            let items = self.array(v, &path, self.limits.max_subjects)?;
            let mut seen: HashMap<&str, usize> = HashMap::with_capacity(items.len());
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let p = Path::Index(&path, i);
                if let Some(s) = self.string(item, &p) {
                    if let Some(&first) = item.as_str().and_then(|k| seen.get(k)) {
                        self.error(&p, Reason::Duplicate { first });
                    } else {
                        if let Some(k) = item.as_str() {
                            seen.insert(k, i);
                        }
                        out.push(s);
                    }
                }
            }
            Some(out)
        });
        let purpose = self.required_string(map, root, "purpose");
        let decision = self.required(map, root, "decision").and_then(|v| {
            self.enumerated(
                v,
                &Path::Key(root, "decision"),
                Decision::NAMES,
                Decision::from_name,
            )
        });

        if self.errors.len() != before {
            return None;
        }
        Some(Event {
            id: id.ok()?,
            time_ms: time?,
            activity: activity?,
            actor: actor?,
            credential: credential.ok()?,
            source: source?,
            service: service?,
            operation: operation?,
            dataset: dataset?,
            categories: categories?,
            subjects: subjects?,
            purpose: purpose?,
            decision: decision?,
        })
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn now_ms(now: SystemTime) -> i64 {
    match now.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => duration_ms(d),
        Err(e) => duration_ms(e.duration()).saturating_neg(),
    }
}

fn syntax(event: Option<usize>, e: &serde_json::Error) -> FieldError {
    FieldError {
        event,
        path: match event {
            Some(i) => format!("$[{i}]"),
            None => "$".to_owned(),
        },
        reason: Reason::Syntax(e.to_string()),
    }
}

fn too_large(event: Option<usize>, max: usize) -> FieldError {
    FieldError {
        event,
        path: match event {
            Some(i) => format!("$[{i}]"),
            None => "$".to_owned(),
        },
        reason: Reason::TooLarge { max },
    }
}

fn validate(
    v: &Value,
    event: Option<usize>,
    now_ms: i64,
    limits: &Limits,
) -> Result<Event, Vec<FieldError>> {
    let mut w = Walker {
        limits,
        event,
        errors: Vec::new(),
    };
    match w.event(v, &Path::Root(event), now_ms) {
        Some(e) if w.errors.is_empty() => Ok(e),
        _ => Err(w.errors),
    }
}

/// Parses and validates one event (one JSON object), against the clock
/// reading `now` (injected, so tests and replays are deterministic).
///
/// On error, returns every problem found, each with its JSON path
/// (`$.actor.kind`, `$.subjects[12]`, …) and reason; never panics, whatever
/// the bytes.
pub fn parse_event(
    json: &[u8],
    now: SystemTime,
    limits: &Limits,
) -> Result<Event, Vec<FieldError>> {
    if json.len() > limits.max_event_bytes {
        return Err(vec![too_large(None, limits.max_event_bytes)]);
    }
    let v: Value = serde_json::from_slice(json).map_err(|e| vec![syntax(None, &e)])?;
    validate(&v, None, now_ms(now), limits)
}

/// Parses and validates a batch: either one JSON array of events, or NDJSON
/// (one event per line; blank lines are skipped and not counted). The first
/// non-whitespace byte decides: `[` means an array.
///
/// Either every event is valid and all are returned in order, or the errors
/// of every invalid event are returned; each carries the event's index in
/// the batch (`event`) and a path starting `$[index]`, e.g. `$[3].actor.kind`
/// (for NDJSON, the index counts non-blank lines from 0). An empty batch and
/// one of more than `max_batch_events` events are refused at path `$`.
pub fn parse_batch(
    body: &[u8],
    now: SystemTime,
    limits: &Limits,
) -> Result<Vec<Event>, Vec<FieldError>> {
    let now_ms = now_ms(now);
    let root_error = |reason| {
        vec![FieldError {
            event: None,
            path: "$".to_owned(),
            reason,
        }]
    };
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let mut events = Vec::new();
    let mut errors = Vec::new();
    if first == Some(&b'[') {
        let v: Value = serde_json::from_slice(body).map_err(|e| vec![syntax(None, &e)])?;
        let items = match v.as_array() {
            Some(items) => items,
            None => return Err(root_error(Reason::WrongType { expected: "array" })),
        };
        if items.is_empty() {
            return Err(root_error(Reason::Empty));
        }
        if items.len() > limits.max_batch_events {
            return Err(root_error(Reason::TooMany {
                max: limits.max_batch_events,
            }));
        }
        for (i, item) in items.iter().enumerate() {
            match validate(item, Some(i), now_ms, limits) {
                Ok(e) => events.push(e),
                Err(mut errs) => errors.append(&mut errs),
            }
        }
    } else {
        let lines = body
            .split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
        for (i, line) in lines.enumerate() {
            if i >= limits.max_batch_events {
                return Err(root_error(Reason::TooMany {
                    max: limits.max_batch_events,
                }));
            }
            if line.len() > limits.max_event_bytes {
                errors.push(too_large(Some(i), limits.max_event_bytes));
                continue;
            }
            match serde_json::from_slice::<Value>(line) {
                Err(e) => errors.push(syntax(Some(i), &e)),
                Ok(v) => match validate(&v, Some(i), now_ms, limits) {
                    Ok(e) => events.push(e),
                    Err(mut errs) => errors.append(&mut errs),
                },
            }
        }
        if events.is_empty() && errors.is_empty() {
            return Err(root_error(Reason::Empty));
        }
    }
    if errors.is_empty() {
        Ok(events)
    } else {
        Err(errors)
    }
}
