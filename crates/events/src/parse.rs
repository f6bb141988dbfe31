//! Validation of outside input: JSON bytes → [`Event`], or every problem as a
//! [`FieldError`] with its JSON path.
//!
//! An event is JSON in one of two forms (`docs/events.md`): the Custos form
//! ([`crate::EventInput`]), or an OCSF API Activity event (an object with a
//! `class_uid` member). Two paths, one answer:
//!
//! - the fast path ([`crate::fast`]) deserialises straight into borrowed,
//!   typed structs and checks the rules without building a tree; it either
//!   returns the event or gives up, never an error;
//! - the slow path ([`crate::walk`]) parses into a `serde_json::Value` and
//!   walks it, collecting every error with its path. It is the reference:
//!   an event the fast path gives up on is parsed again by it, so what is
//!   refused, and how, is only ever decided here. The fast path accepts
//!   only what the slow path accepts, and gives the same [`Event`] (checked
//!   by differential property tests in `fast.rs`).

use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::fast;
use crate::model::Event;
use crate::walk::{Path, Walker};

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
    /// A value that contradicts another member of the event (OCSF input: a
    /// caption or `type_uid` other than the one its id defines, a user
    /// `type_id` other than the one the actor kind gives, `action_id` and
    /// `status_id` that disagree).
    #[error("does not agree with {with}: expected {expected}")]
    Inconsistent {
        /// The member it contradicts, as a path from the event (`activity_id`).
        with: &'static str,
        /// The value that would agree.
        expected: String,
    },
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
pub(crate) fn duration_ms(d: Duration) -> i64 {
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

/// The slow path for one value.
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

/// One JSON text: the fast path, else the slow path.
fn one(
    json: &[u8],
    event: Option<usize>,
    now_ms: i64,
    limits: &Limits,
) -> Result<Event, Vec<FieldError>> {
    if let Some(e) = fast::event(json, now_ms, limits) {
        return Ok(e);
    }
    slow(json, event, now_ms, limits)
}

/// One JSON text, by the slow path only (the reference).
pub(crate) fn slow(
    json: &[u8],
    event: Option<usize>,
    now_ms: i64,
    limits: &Limits,
) -> Result<Event, Vec<FieldError>> {
    let v: Value = serde_json::from_slice(json).map_err(|e| vec![syntax(event, &e)])?;
    validate(&v, event, now_ms, limits)
}

/// Parses and validates one event (one JSON object, in the Custos or the
/// OCSF form), against the clock reading `now` (injected, so tests and
/// replays are deterministic).
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
    one(json, None, now_ms(now), limits)
}

/// Parses and validates a batch: either one JSON array of events, or NDJSON
/// (one event per line; blank lines are skipped and not counted). The first
/// non-whitespace byte decides: `[` means an array. Events of both forms
/// (Custos, OCSF) may be mixed.
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
    let mut errors = Vec::new();
    if first == Some(&b'[') {
        if let Some(events) = fast::array(body, now_ms, limits) {
            return Ok(events);
        }
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
        let mut events = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match validate(item, Some(i), now_ms, limits) {
                Ok(e) => events.push(e),
                Err(mut errs) => errors.append(&mut errs),
            }
        }
        return if errors.is_empty() {
            Ok(events)
        } else {
            Err(errors)
        };
    }
    let lines = Lines(body).filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    let mut events = Vec::with_capacity(body.len() / 256 + 1);
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
        match one(line, Some(i), now_ms, limits) {
            Ok(e) if errors.is_empty() => events.push(e),
            Ok(_) => {}
            Err(mut errs) => errors.append(&mut errs),
        }
    }
    if events.is_empty() && errors.is_empty() {
        return Err(root_error(Reason::Empty));
    }
    if errors.is_empty() {
        Ok(events)
    } else {
        Err(errors)
    }
}

/// The lines of NDJSON: `body.split(|b| *b == b'\n')`, eight bytes at a
/// time (finding newlines byte by byte was an eighth of the parse time).
struct Lines<'a>(&'a [u8]);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    /// The next piece; unlike `split`, no empty piece after a final
    /// newline (blank pieces are skipped by the caller either way).
    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = std::mem::take(&mut self.0);
        if rest.is_empty() {
            return None;
        }
        match find_newline(rest) {
            Some(i) => {
                self.0 = rest.get(i + 1..).unwrap_or_default();
                Some(rest.get(..i).unwrap_or_default())
            }
            None => Some(rest),
        }
    }
}

/// The index of the first `\n` in `b`: SWAR over 8-byte words (the
/// "has zero byte" test of `word ^ 0x0a0a…`), then the tail byte by byte.
fn find_newline(b: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut chunks = b.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])) ^ NL;
        let zero = word.wrapping_sub(LO) & !word & HI;
        if zero != 0 {
            return Some(offset + (zero.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&x| x == b'\n')
        .map(|p| offset + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_split_on_newline_less_blank_lines() {
        let mut inputs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\n".to_vec(),
            b"\n\n".to_vec(),
            b"a".to_vec(),
            b"a\n".to_vec(),
            b"a\nb".to_vec(),
            b"0123456789abcdef\n0123456\n\n89\n".to_vec(),
        ];
        // Newlines at every offset of a 3-word buffer, and bytes that look
        // like 0x0a after borrows (0x0b, 0x8a, 0x09).
        for i in 0..24 {
            for j in i..24 {
                let mut v = vec![b'x'; 24];
                v[i] = b'\n';
                v[j] = b'\n';
                inputs.push(v.clone());
                v.iter_mut().filter(|b| **b == b'x').for_each(|b| *b = 0x0b);
                inputs.push(v.clone());
                v.iter_mut().filter(|b| **b == 0x0b).for_each(|b| *b = 0x8a);
                inputs.push(v);
            }
        }
        for input in inputs {
            let blank = |l: &&[u8]| l.iter().all(u8::is_ascii_whitespace);
            let want: Vec<&[u8]> = input.split(|b| *b == b'\n').filter(|l| !blank(l)).collect();
            let got: Vec<&[u8]> = Lines(&input).filter(|l| !blank(l)).collect();
            assert_eq!(got, want, "{input:?}");
            assert_eq!(find_newline(&input), input.iter().position(|b| *b == b'\n'));
        }
    }
}
