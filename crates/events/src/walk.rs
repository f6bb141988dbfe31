//! The slow path of validation, and the reference for what is accepted:
//! a walker over a `serde_json::Value` that checks every member against the
//! rules and collects *all* errors rather than stopping at the first, so that
//! a producer fixes a batch in one round trip. Each error carries the JSON
//! path of the offending value.
//!
//! [`crate::parse`] runs it only when the typed fast path
//! ([`crate::fast`]) did not accept an event, so its output is the output of
//! the parser for every refused event.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::model::{
    Activity, Actor, ActorKind, Country, Credential, DataCategory, Decision, Event, Source,
};
use crate::parse::{FieldError, Limits, Reason, duration_ms};
use crate::time::parse_rfc3339;

/// A JSON path, built on the stack as the walker descends and rendered only
/// when an error needs it.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root(Option<usize>),
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    pub(crate) fn render(&self, out: &mut String) {
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

pub(crate) struct Walker<'l> {
    pub(crate) limits: &'l Limits,
    pub(crate) event: Option<usize>,
    pub(crate) errors: Vec<FieldError>,
}

impl Walker<'_> {
    pub(crate) fn error(&mut self, path: &Path<'_>, reason: Reason) {
        let mut p = String::new();
        path.render(&mut p);
        self.errors.push(FieldError {
            event: self.event,
            path: p,
            reason,
        });
    }

    /// The object at `path`, after refusing members not in `known`.
    pub(crate) fn object<'v>(
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
    pub(crate) fn required<'v>(
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
    pub(crate) fn string(&mut self, v: &Value, path: &Path<'_>) -> Option<String> {
        let Some(s) = v.as_str() else {
            self.error(path, Reason::WrongType { expected: "string" });
            return None;
        };
        match string_problem(s, self.limits) {
            Some(reason) => {
                self.error(path, reason);
                None
            }
            None => Some(s.to_owned()),
        }
    }

    pub(crate) fn required_string(
        &mut self,
        map: &Map<String, Value>,
        parent: &Path<'_>,
        key: &'static str,
    ) -> Option<String> {
        let v = self.required(map, parent, key)?;
        self.string(v, &Path::Key(parent, key))
    }

    pub(crate) fn optional_string(
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

    pub(crate) fn enumerated<T>(
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

    pub(crate) fn array<'v>(
        &mut self,
        v: &'v Value,
        path: &Path<'_>,
        max: usize,
    ) -> Option<&'v [Value]> {
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

    /// The event time: RFC 3339 text (unless `integer_only`, as OCSF's
    /// `timestamp_t` is) or non-negative epoch milliseconds, within the
    /// window around `now_ms`.
    pub(crate) fn time(
        &mut self,
        v: &Value,
        path: &Path<'_>,
        now_ms: i64,
        integer_only: bool,
    ) -> Option<i64> {
        let ms = match v {
            Value::String(s) if !integer_only => parse_rfc3339(s),
            Value::Number(n) => n.as_u64().and_then(|n| i64::try_from(n).ok()),
            _ => {
                self.error(
                    path,
                    Reason::WrongType {
                        expected: if integer_only {
                            "integer (epoch ms)"
                        } else {
                            "string (RFC 3339) or integer (epoch ms)"
                        },
                    },
                );
                return None;
            }
        };
        match time_problem(ms, now_ms, self.limits) {
            Ok(ms) => Some(ms),
            Err(reason) => {
                self.error(path, reason);
                None
            }
        }
    }

    /// An IP address (`IpAddr` syntax).
    pub(crate) fn ip(&mut self, v: &Value, path: &Path<'_>) -> Option<std::net::IpAddr> {
        let Some(s) = v.as_str() else {
            self.error(path, Reason::WrongType { expected: "string" });
            return None;
        };
        let parsed = s.parse::<IpAddr>().ok();
        if parsed.is_none() {
            self.error(path, Reason::InvalidIp);
        }
        parsed
    }

    /// An optional ISO 3166-1 alpha-2 country (absent or `null`: `Ok(None)`).
    pub(crate) fn country(
        &mut self,
        v: Option<&Value>,
        path: &Path<'_>,
    ) -> Result<Option<Country>, ()> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(c) => match c.as_str() {
                None => {
                    self.error(path, Reason::WrongType { expected: "string" });
                    Err(())
                }
                Some(s) => match Country::from_code(s) {
                    Some(c) => Ok(Some(c)),
                    None => {
                        self.error(path, Reason::InvalidCountry);
                        Err(())
                    }
                },
            },
        }
    }

    /// The data categories: a non-empty array of distinct known values.
    pub(crate) fn categories(&mut self, v: &Value, path: &Path<'_>) -> Option<Vec<DataCategory>> {
        let items = self.array(v, path, DataCategory::ALL.len())?;
        let mut out: Vec<DataCategory> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let p = Path::Index(path, i);
            if let Some(c) = self.enumerated(item, &p, DataCategory::NAMES, DataCategory::from_name)
            {
                match out.iter().position(|x| *x == c) {
                    Some(first) => self.error(&p, Reason::Duplicate { first }),
                    None => out.push(c),
                }
            }
        }
        Some(out)
    }

    /// The subjects: a non-empty array of at most `max_subjects` distinct
    /// valid strings.
    pub(crate) fn subjects(&mut self, v: &Value, path: &Path<'_>) -> Option<Vec<String>> {
        let items = self.array(v, path, self.limits.max_subjects)?;
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(items.len());
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let p = Path::Index(path, i);
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
    }

    /// One event: the OCSF form if it is an object with a `class_uid`
    /// member, the Custos form otherwise.
    pub(crate) fn event(&mut self, v: &Value, root: &Path<'_>, now_ms: i64) -> Option<Event> {
        if v.as_object().is_some_and(|m| m.contains_key("class_uid")) {
            return self.ocsf_event(v, root, now_ms);
        }
        self.custos_event(v, root, now_ms)
    }

    fn custos_event(&mut self, v: &Value, root: &Path<'_>, now_ms: i64) -> Option<Event> {
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
            .and_then(|v| self.time(v, &Path::Key(root, "time"), now_ms, false));
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
            let ip = self
                .required(m, &path, "ip")
                .and_then(|ip| self.ip(ip, &Path::Key(&path, "ip")));
            let country = self.country(m.get("country"), &Path::Key(&path, "country"));
            Some(Source {
                ip: ip?,
                country: country.ok()?,
            })
        });
        let service = self.required_string(map, root, "service");
        let operation = self.required_string(map, root, "operation");
        let dataset = self.required_string(map, root, "dataset");
        let categories = self
            .required(map, root, "categories")
            .and_then(|v| self.categories(v, &Path::Key(root, "categories")));
        let subjects = self
            .required(map, root, "subjects")
            .and_then(|v| self.subjects(v, &Path::Key(root, "subjects")));
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

/// Why a string is refused, if it is: empty, longer than `max_string_bytes`,
/// or holding a control character.
pub(crate) fn string_problem(s: &str, limits: &Limits) -> Option<Reason> {
    if s.is_empty() {
        return Some(Reason::Empty);
    }
    if s.len() > limits.max_string_bytes {
        return Some(Reason::TooLong {
            max: limits.max_string_bytes,
        });
    }
    if has_control(s) {
        return Some(Reason::ControlCharacter);
    }
    None
}

/// Whether `s` holds a control character (Unicode `Cc`: U+0000–U+001F,
/// U+007F–U+009F), i.e. `s.chars().any(char::is_control)`, on the bytes:
/// the ASCII ones, and U+0080–U+009F, which UTF-8 writes `C2 80`–`C2 9F`.
pub(crate) fn has_control(s: &str) -> bool {
    let b = s.as_bytes();
    // Branch-free screen first (vectorises): most strings hold none of
    // these bytes at all.
    let suspect = b.iter().fold(false, |acc, &c| {
        acc | (c < 0x20) | (c == 0x7f) | (c == 0xc2)
    });
    suspect
        && b.iter().enumerate().any(|(i, &c)| {
            c < 0x20
                || c == 0x7f
                || (c == 0xc2 && b.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
        })
}

/// The time `ms` (already read from the input; `None` if it was not a
/// date-time or a non-negative integer) if it lies within the window
/// `[now − max_age, now + max_future_skew]`, or why not.
pub(crate) fn time_problem(ms: Option<i64>, now_ms: i64, limits: &Limits) -> Result<i64, Reason> {
    let Some(ms) = ms.filter(|ms| *ms >= 0) else {
        return Err(Reason::InvalidTime);
    };
    if ms > now_ms.saturating_add(duration_ms(limits.max_future_skew)) {
        return Err(Reason::TimeInFuture {
            max_skew_secs: limits.max_future_skew.as_secs(),
        });
    }
    if ms < now_ms.saturating_sub(duration_ms(limits.max_age)) {
        return Err(Reason::TimeTooOld {
            max_age_secs: limits.max_age.as_secs(),
        });
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_control_is_char_is_control() {
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            let s = format!("a{c}b");
            assert_eq!(has_control(&s), c.is_control(), "{:x}", c as u32);
        }
    }
}
