//! The front end for outside JSON: a strict tree (duplicate keys refused at
//! any depth, sizes bounded), a cursor that reports every problem with its
//! JSON path, and the field rules shared by grant and authorization
//! requests.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{GrantError, Problem};
use crate::time::parse_rfc3339;

/// Strings and arrays longer than this are refused while parsing, before
/// any field rule runs (a cheap bound on memory per request).
const MAX_JSON_STRING: usize = 4096;

/// A JSON value that kept its object members in order, with duplicates
/// refused while parsing (serde_json's `Value` keeps the last silently).
#[derive(Debug)]
pub(crate) enum Json {
    Null,
    Bool,
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Json, E> {
        Ok(Json::Bool)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        if v.len() > MAX_JSON_STRING {
            return Err(E::custom(format!(
                "string longer than {MAX_JSON_STRING} bytes"
            )));
        }
        Ok(Json::String(v.to_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Json>()? {
            out.push(v);
        }
        Ok(Json::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out: Vec<(String, Json)> = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            if out.iter().any(|(seen, _)| *seen == k) {
                return Err(de::Error::custom(format!("duplicate key {k:?}")));
            }
            let v = map.next_value::<Json>()?;
            out.push((k, v));
        }
        Ok(Json::Object(out))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// Parses `bytes` (at most `max_len`) as one strict JSON object; a syntax
/// problem is reported at `$`.
pub(crate) fn parse_object(
    bytes: &[u8],
    max_len: usize,
) -> Result<Vec<(String, Json)>, GrantError> {
    if bytes.len() > max_len {
        return Err(GrantError::one(
            "$",
            format!(
                "body of {} bytes exceeds the limit of {max_len}",
                bytes.len()
            ),
        ));
    }
    // serde_json bounds nesting at 128 levels, so deep input cannot
    // overflow the stack.
    match serde_json::from_slice::<Json>(bytes) {
        Ok(Json::Object(fields)) => Ok(fields),
        Ok(other) => Err(GrantError::one(
            "$",
            format!("expected an object, found {}", other.kind()),
        )),
        Err(e) => Err(GrantError::one("$", format!("invalid JSON: {e}"))),
    }
}

/// Collects problems while fields are read; each read removes the field so
/// that what is left at the end is unknown.
pub(crate) struct Fields<'a> {
    path: String,
    fields: Vec<(String, Json)>,
    pub(crate) problems: &'a mut Vec<Problem>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(
        path: &str,
        fields: Vec<(String, Json)>,
        problems: &'a mut Vec<Problem>,
    ) -> Self {
        Fields {
            path: path.to_owned(),
            fields,
            problems,
        }
    }

    pub(crate) fn path_of(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    pub(crate) fn problem(&mut self, path: String, reason: impl Into<String>) {
        self.problems.push(Problem {
            path,
            reason: reason.into(),
        });
    }

    /// Takes a field out; `None` (and a problem if `required`) when absent.
    pub(crate) fn take(&mut self, key: &str, required: bool) -> Option<Json> {
        match self.fields.iter().position(|(k, _)| k == key) {
            Some(i) => Some(self.fields.remove(i).1),
            None => {
                if required {
                    let p = self.path_of(key);
                    self.problem(p, "required");
                }
                None
            }
        }
    }

    /// Reports every field not taken as unknown.
    pub(crate) fn finish(self) {
        let Fields {
            path,
            fields,
            problems,
        } = self;
        for (k, _) in fields {
            let p = format!("{path}.{}", display_key(&k));
            problems.push(Problem {
                path: p,
                reason: "unknown field".into(),
            });
        }
    }

    /// A string field checked by `rule`.
    pub(crate) fn string(&mut self, key: &str, rule: Rule) -> Option<String> {
        let v = self.take(key, true)?;
        let path = self.path_of(key);
        let s = expect_string(v, &path, self.problems)?;
        rule.check(&s, &path, self.problems).then_some(s)
    }

    /// A non-empty array of distinct strings, each checked by `rule`.
    pub(crate) fn string_set(
        &mut self,
        key: &str,
        rule: Rule,
        max_items: usize,
    ) -> Option<BTreeSet<String>> {
        let v = self.take(key, true)?;
        let path = self.path_of(key);
        let items = match v {
            Json::Array(items) => items,
            other => {
                self.problem(
                    path,
                    format!("expected an array of strings, found {}", other.kind()),
                );
                return None;
            }
        };
        if items.is_empty() {
            self.problem(path, "must not be empty");
            return None;
        }
        if items.len() > max_items {
            self.problem(path, format!("at most {max_items} items"));
            return None;
        }
        let mut out = BTreeSet::new();
        let mut ok = true;
        for (i, item) in items.into_iter().enumerate() {
            let p = format!("{path}[{i}]");
            let Some(s) = expect_string(item, &p, self.problems) else {
                ok = false;
                continue;
            };
            if !rule.check(&s, &p, self.problems) {
                ok = false;
            } else if !out.insert(s) {
                self.problem(p, "duplicate");
                ok = false;
            }
        }
        ok.then_some(out)
    }

    /// A timestamp: RFC 3339 text or unix seconds, within years 1970–9999.
    pub(crate) fn timestamp(&mut self, key: &str, required: bool) -> Option<i64> {
        let v = self.take(key, required)?;
        let path = self.path_of(key);
        let t = match v {
            Json::String(s) => match parse_rfc3339(&s) {
                Some(t) => t,
                None => {
                    self.problem(
                        path,
                        "expected an RFC 3339 date-time like 2026-12-02T00:00:00Z",
                    );
                    return None;
                }
            },
            Json::Number(n) => match n.as_i64() {
                Some(t) => t,
                None => {
                    self.problem(path, "expected whole unix seconds");
                    return None;
                }
            },
            other => {
                self.problem(
                    path,
                    format!(
                        "expected an RFC 3339 string or unix seconds, found {}",
                        other.kind()
                    ),
                );
                return None;
            }
        };
        if !(0..=MAX_TIMESTAMP).contains(&t) {
            self.problem(path, "outside 1970-01-01T00:00:00Z … 9999-12-31T23:59:59Z");
            return None;
        }
        Some(t)
    }

    /// An integer in `range`.
    pub(crate) fn integer(
        &mut self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Option<u64> {
        let v = self.take(key, true)?;
        let path = self.path_of(key);
        match v {
            Json::Number(n) => match n.as_u64() {
                Some(x) if range.contains(&x) => Some(x),
                _ => {
                    self.problem(
                        path,
                        format!("expected an integer in {}..={}", range.start(), range.end()),
                    );
                    None
                }
            },
            other => {
                self.problem(path, format!("expected an integer, found {}", other.kind()));
                None
            }
        }
    }
}

/// 9999-12-31T23:59:59Z.
pub(crate) const MAX_TIMESTAMP: i64 = 253_402_300_799;

fn display_key(k: &str) -> String {
    if !k.is_empty() && k.len() <= 64 && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        k.to_owned()
    } else {
        // Quoted (JSON escaping), so a hostile key cannot forge a path.
        format!(
            "[{}]",
            serde_json::Value::String(k.chars().take(64).collect())
        )
    }
}

pub(crate) fn expect_string(v: Json, path: &str, problems: &mut Vec<Problem>) -> Option<String> {
    match v {
        Json::String(s) => Some(s),
        other => {
            problems.push(Problem {
                path: path.to_owned(),
                reason: format!("expected a string, found {}", other.kind()),
            });
            None
        }
    }
}

/// The shape a string must have. The character sets are what keeps Cedar
/// policy text unambiguous (see `cedar.rs`, which also quotes).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rule {
    /// Principal, group and grant-holder identifiers:
    /// `[A-Za-z0-9_.@:+=/-]`, 1–256 bytes.
    Id,
    /// Dataset names and purposes: `[A-Za-z0-9_.:-]`, 1–128 bytes.
    Name,
    /// Data categories: `[a-z0-9_.-]`, 1–64 bytes.
    Category,
    /// Free text (ticket references, reasons): no control characters,
    /// 1–256 bytes.
    Text,
    /// Data-subject references (pseudonyms or ids): no control characters,
    /// 1–256 bytes.
    Subject,
}

impl Rule {
    pub(crate) fn max_len(self) -> usize {
        match self {
            Rule::Id | Rule::Text | Rule::Subject => 256,
            Rule::Name => 128,
            Rule::Category => 64,
        }
    }

    fn allowed(self, c: char) -> bool {
        match self {
            Rule::Id => c.is_ascii_alphanumeric() || "_.@:+=/-".contains(c),
            Rule::Name => c.is_ascii_alphanumeric() || "_.:-".contains(c),
            Rule::Category => c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c),
            Rule::Text | Rule::Subject => !c.is_control(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Rule::Id => "letters, digits and _ . @ : + = / -",
            Rule::Name => "letters, digits and _ . : -",
            Rule::Category => "lower-case letters, digits and _ . -",
            Rule::Text | Rule::Subject => "no control characters",
        }
    }

    /// Whether `s` has this shape, without reporting.
    pub(crate) fn ok(self, s: &str) -> bool {
        !s.is_empty() && s.len() <= self.max_len() && s.chars().all(|c| self.allowed(c))
    }

    /// Checks `s`, reporting the first thing wrong at `path`.
    pub(crate) fn check(self, s: &str, path: &str, problems: &mut Vec<Problem>) -> bool {
        let reason = if s.is_empty() {
            "must not be empty".to_owned()
        } else if s.len() > self.max_len() {
            format!("longer than {} bytes", self.max_len())
        } else if let Some(c) = s.chars().find(|&c| !self.allowed(c)) {
            format!("character {c:?} not allowed ({})", self.describe())
        } else {
            return true;
        };
        problems.push(Problem {
            path: path.to_owned(),
            reason,
        });
        false
    }
}
