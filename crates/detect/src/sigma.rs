//! Sigma rules (specification 2.x) over ledger entries: detection rules and
//! correlation rules (`event_count`, `value_count`, `temporal`,
//! `temporal_ordered`), for the live tail and for retro-hunts.
//!
//! Specification: `SigmaHQ/sigma-specification`
//! `specification/sigma-rules-specification.md` (detection rules) and
//! `specification/sigma-correlation-rules-specification.md` (correlations).
//!
//! # Engine: rsigma for the front end and the matchers, our own windows
//!
//! Rules are parsed by `rsigma-parser` (YAML → AST, multi-document files,
//! `action: global`), and each detection rule is compiled by `rsigma-eval`
//! into its matchers (every Sigma modifier, `1 of`/`all of`, keywords) and
//! evaluated against a [`Record`] through the [`rsigma_eval::Event`] trait
//! implemented here — no `serde_json::Value` is built per entry.
//!
//! `rsigma-eval` also has a `CorrelationEngine`; it is not used, because
//! for a ledger it falls short in four places: (1) `value_count` skips an
//! event whose field is a list, and our subjects are a list (an access to
//! 50 customers is one entry); (2) time is in whole seconds, and an event
//! without a timestamp field takes the wall clock; (3) the events behind a
//! correlation are kept as JSON (or refs with an `id` taken from a JSON
//! copy), not as ledger indices; (4) a rule keeps firing on every further
//! event once over its threshold unless told otherwise. The windows below
//! are sliding, keyed by ledger time in milliseconds, store ledger indices
//! and 64-bit value identities, are ordered (`BTreeMap`) so a snapshot is
//! byte-for-byte reproducible, and fire at most once per rule, group and
//! timespan.
//!
//! # Field names
//!
//! Sigma field names are the OCSF paths of the entry (`docs/rules.md` has
//! the table, [`FIELDS`] the list). A rule naming a field that is not in
//! the table is refused when loaded: a typo would otherwise never match.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rsigma_eval::event::{Event, EventValue};
use rsigma_eval::{CompiledRule, RuleFieldSet, compile_rule, evaluate_rule};
use rsigma_parser::{
    ConditionExpr, ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType,
    Level, SigmaCollection, SigmaRule, WindowMode, parse_sigma_yaml,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::finding::{Entity, EntityKind, Evidence, Finding, Severity};
use crate::record::{Record, RecordKind, subject_hash};

/// Ledger indices kept as evidence of one Sigma finding (the latest ones).
pub const MAX_SIGMA_EVIDENCE: usize = 20;

/// Entries kept per correlation window and group; beyond it the oldest are
/// dropped (a bound on memory for a group under attack, not a tuning knob).
pub const MAX_WINDOW_ENTRIES: usize = 200_000;

/// The Sigma field names a rule may use, each resolved from a [`Record`].
/// `docs/rules.md` gives the OCSF path each comes from.
pub const FIELDS: &[&str] = &[
    "time",
    "metadata.log_name",
    "metadata.uid",
    "activity_id",
    "status_id",
    "actor.user.uid",
    "actor.user.type_id",
    "actor.session.credential_uid",
    "actor.session.issuer",
    "src_endpoint.ip",
    "src_endpoint.location.country",
    "api.service.name",
    "api.operation",
    "resources.name",
    "resources.labels",
    "resources.principal.uid",
    "resources.signing_key.uid",
    "unmapped.custos.actor_kind",
    "unmapped.custos.kid",
    "unmapped.custos.purpose",
    "unmapped.custos.subjects",
    "unmapped.custos.subject_count",
    "unmapped.custos.subject",
    "unmapped.custos.refusal",
    "unmapped.custos.reasons",
    "custos.record_kind",
];

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A rule file or rule that was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// A file or directory could not be read.
    #[error("{file}: {message}")]
    Io {
        /// The path.
        file: String,
        /// What the OS said.
        message: String,
    },
    /// The YAML or a Sigma document in it could not be parsed.
    #[error("{file}: {message}")]
    Parse {
        /// The file (or the name given to [`RuleSet::from_yaml`]).
        file: String,
        /// What the parser said.
        message: String,
    },
    /// A parsed rule is not usable here.
    #[error("{file}: rule '{rule}': {path}: {message}")]
    Rule {
        /// The file.
        file: String,
        /// The rule's id, or its title.
        rule: String,
        /// Where in the rule (`detection.selection`, `correlation.group-by`,
        /// `level`, …).
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl RuleError {
    fn rule(file: &str, rule: &str, path: &str, message: impl Into<String>) -> RuleError {
        RuleError::Rule {
            file: file.to_owned(),
            rule: rule.to_owned(),
            path: path.to_owned(),
            message: message.into(),
        }
    }

    /// The file the error is about.
    #[must_use]
    pub fn file(&self) -> &str {
        match self {
            RuleError::Io { file, .. }
            | RuleError::Parse { file, .. }
            | RuleError::Rule { file, .. } => file,
        }
    }
}

// ---------------------------------------------------------------------------
// Field access: a Record seen as a Sigma event
// ---------------------------------------------------------------------------

/// A [`Record`] seen through [`rsigma_eval::Event`]: fields are read from
/// the decoded record (borrowed), not from a JSON tree.
pub struct RecordEvent<'r, 'a>(pub &'r Record<'a>);

fn s(v: &str) -> EventValue<'_> {
    EventValue::Str(Cow::Borrowed(v))
}

fn opt<'x>(v: Option<&'x Cow<'_, str>>) -> Option<EventValue<'x>> {
    v.map(|x| s(x))
}

fn kind_name(k: RecordKind) -> &'static str {
    match k {
        RecordKind::Access => "access",
        RecordKind::TokenRefused => "token_refused",
        RecordKind::Offboard => "offboard",
        RecordKind::ScimDeactivate => "scim_deactivate",
        RecordKind::ScimReactivate => "scim_reactivate",
        RecordKind::Authorize => "authorize",
        RecordKind::Finding => "finding",
        RecordKind::Other => "other",
    }
}

impl RecordEvent<'_, '_> {
    /// Every string value with its field name, for keyword rules.
    fn strings(&self) -> Vec<&str> {
        let r = self.0;
        let mut v: Vec<&str> = vec![&r.log_name, &r.actor, &r.operation];
        for o in [
            &r.uid,
            &r.jti,
            &r.issuer,
            &r.kid,
            &r.src_ip,
            &r.src_country,
            &r.service,
            &r.dataset,
            &r.purpose,
            &r.subject,
            &r.refusal,
            &r.principal,
            &r.key,
        ]
        .into_iter()
        .flatten()
        {
            v.push(o);
        }
        if let Some(k) = r.actor_kind {
            v.push(k.as_str());
        }
        v.extend(r.subjects.iter().map(AsRef::as_ref));
        v.extend(r.reasons.iter().map(AsRef::as_ref));
        let cats: Vec<&'static str> = r.category_names().collect();
        v.extend(cats);
        v
    }
}

impl Event for RecordEvent<'_, '_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        let r = self.0;
        match path {
            "time" => Some(EventValue::Int(r.time_ms)),
            "metadata.log_name" => Some(s(&r.log_name)),
            "metadata.uid" => opt(r.uid.as_ref()),
            "activity_id" => Some(EventValue::Int(i64::from(r.activity_id))),
            "status_id" => Some(EventValue::Int(i64::from(r.status_id))),
            "actor.user.uid" => Some(s(&r.actor)),
            "actor.user.type_id" => Some(EventValue::Int(i64::from(r.actor_type_id))),
            "actor.session.credential_uid" => opt(r.jti.as_ref()),
            "actor.session.issuer" => opt(r.issuer.as_ref()),
            "src_endpoint.ip" => opt(r.src_ip.as_ref()),
            "src_endpoint.location.country" => opt(r.src_country.as_ref()),
            "api.service.name" => opt(r.service.as_ref()),
            "api.operation" => Some(s(&r.operation)),
            "resources.name" => opt(r.dataset.as_ref()),
            "resources.labels" => Some(EventValue::Array(
                r.category_names()
                    .map(|c| EventValue::Str(Cow::Borrowed(c)))
                    .collect(),
            )),
            "resources.principal.uid" => opt(r.principal.as_ref()),
            "resources.signing_key.uid" => opt(r.key.as_ref()),
            "unmapped.custos.actor_kind" => r
                .actor_kind
                .map(|k| EventValue::Str(Cow::Borrowed(k.as_str()))),
            "unmapped.custos.kid" => opt(r.kid.as_ref()),
            "unmapped.custos.purpose" => opt(r.purpose.as_ref()),
            "unmapped.custos.subjects" => {
                Some(EventValue::Array(r.subjects.iter().map(|x| s(x)).collect()))
            }
            "unmapped.custos.subject_count" => Some(EventValue::Int(
                i64::try_from(r.subjects.len()).unwrap_or(i64::MAX),
            )),
            "unmapped.custos.subject" => opt(r.subject.as_ref()),
            "unmapped.custos.refusal" => opt(r.refusal.as_ref()),
            "unmapped.custos.reasons" => {
                Some(EventValue::Array(r.reasons.iter().map(|x| s(x)).collect()))
            }
            "custos.record_kind" => Some(EventValue::Str(Cow::Borrowed(kind_name(r.kind())))),
            _ => None,
        }
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.strings().into_iter().any(pred)
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        self.strings().into_iter().map(Cow::Borrowed).collect()
    }

    fn to_json(&self) -> Value {
        // Not on the hot path (rsigma calls it only for explanations).
        let mut m = Map::new();
        for f in FIELDS {
            if let Some(v) = self.get_field(f) {
                m.insert((*f).to_owned(), v.to_json());
            }
        }
        Value::Object(m)
    }
}

/// The field's values as strings (one for a scalar, each element of a
/// list); empty if absent.
fn field_strings(ev: &RecordEvent<'_, '_>, field: &str) -> Vec<String> {
    match ev.get_field(field) {
        None | Some(EventValue::Null) => Vec::new(),
        Some(EventValue::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(|x| x.into_owned()))
            .collect(),
        Some(v) => v.as_str().map(|x| vec![x.into_owned()]).unwrap_or_default(),
    }
}

/// A stable 64-bit identity of a value: a pseudonym's own bits
/// ([`subject_hash`]) or FNV-1a of the bytes (stable across runs and
/// machines, unlike `std`'s randomised hasher).
fn value_id(v: &str) -> u64 {
    let pseudonym = v.len() == 22
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    if pseudonym {
        return subject_hash(v);
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in v.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

// ---------------------------------------------------------------------------
// Compiled rules
// ---------------------------------------------------------------------------

fn severity(level: Option<Level>) -> Severity {
    match level {
        Some(Level::Critical) => Severity::Critical,
        Some(Level::High) => Severity::High,
        Some(Level::Medium) => Severity::Medium,
        Some(Level::Low | Level::Informational) | None => Severity::Low,
    }
}

fn level_name(level: Option<Level>) -> &'static str {
    level.map_or("", |l| l.as_str())
}

/// One rule, as listed by [`RuleSet::rules`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    /// The Sigma `id` (or, without one, the title).
    pub id: String,
    /// The title.
    pub title: String,
    /// `detection` or the correlation type (`event_count`, …).
    pub kind: &'static str,
    /// The file it came from.
    pub file: String,
    /// The `level`.
    pub level: &'static str,
    /// True if it raises findings itself (a detection rule referenced only
    /// by correlations without `generate: true` does not).
    pub generates: bool,
}

struct Detection {
    key: String,
    name: Option<String>,
    title: String,
    level: Option<Level>,
    tags: Vec<String>,
    file: String,
    compiled: CompiledRule,
    generates: bool,
    /// Correlations fed by this rule: (correlation, position in its
    /// `rules`).
    feeds: Vec<(usize, usize)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CorrKind {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
}

impl CorrKind {
    fn as_str(self) -> &'static str {
        match self {
            CorrKind::EventCount => "event_count",
            CorrKind::ValueCount => "value_count",
            CorrKind::Temporal => "temporal",
            CorrKind::TemporalOrdered => "temporal_ordered",
        }
    }
}

struct Correlation {
    key: String,
    title: String,
    level: Option<Level>,
    tags: Vec<String>,
    file: String,
    kind: CorrKind,
    /// The referenced rules as written.
    refs: Vec<String>,
    /// Per referenced rule, the field of each group-by entry (aliases
    /// resolved).
    group_fields: Vec<Vec<String>>,
    /// The group-by names as written (alias names or fields).
    group_by: Vec<String>,
    timespan_ms: i64,
    predicates: Vec<(ConditionOperator, u64)>,
    /// `value_count`: the field whose distinct values are counted.
    field: Option<String>,
    /// `temporal*` with a string condition.
    expr: Option<ConditionExpr>,
    /// What a snapshot is valid for: a changed rule starts afresh.
    fingerprint: String,
}

fn check(op: ConditionOperator, value: u64, limit: u64) -> bool {
    match op {
        ConditionOperator::Lt => value < limit,
        ConditionOperator::Lte => value <= limit,
        ConditionOperator::Gt => value > limit,
        ConditionOperator::Gte => value >= limit,
        ConditionOperator::Eq => value == limit,
        ConditionOperator::Neq => value != limit,
    }
}

fn op_name(op: ConditionOperator) -> &'static str {
    match op {
        ConditionOperator::Lt => "lt",
        ConditionOperator::Lte => "lte",
        ConditionOperator::Gt => "gt",
        ConditionOperator::Gte => "gte",
        ConditionOperator::Eq => "eq",
        ConditionOperator::Neq => "neq",
    }
}

fn eval_expr(e: &ConditionExpr, seen: &dyn Fn(&str) -> bool) -> bool {
    match e {
        ConditionExpr::And(v) => v.iter().all(|x| eval_expr(x, seen)),
        ConditionExpr::Or(v) => v.iter().any(|x| eval_expr(x, seen)),
        ConditionExpr::Not(x) => !eval_expr(x, seen),
        ConditionExpr::Identifier(id) => seen(id),
        // Refused when loading.
        ConditionExpr::Selector { .. } => false,
    }
}

fn expr_identifiers(e: &ConditionExpr, out: &mut Vec<String>) -> bool {
    match e {
        ConditionExpr::And(v) | ConditionExpr::Or(v) => v.iter().all(|x| expr_identifiers(x, out)),
        ConditionExpr::Not(x) => expr_identifiers(x, out),
        ConditionExpr::Identifier(id) => {
            out.push(id.clone());
            true
        }
        ConditionExpr::Selector { .. } => false,
    }
}

// ---------------------------------------------------------------------------
// Correlation state
// ---------------------------------------------------------------------------

/// One matching event in a window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    t: i64,
    i: u64,
    /// Position of the rule in the correlation's `rules`.
    r: u16,
    /// `value_count`: the identities of the counted values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    v: Vec<u64>,
}

/// A sliding window of one correlation and group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Window {
    entries: VecDeque<Entry>,
    /// `value_count`: how many entries hold each value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    counts: BTreeMap<u64, u32>,
    /// When this group last fired (ms), if it did.
    #[serde(default)]
    fired: Option<i64>,
}

impl Window {
    fn pop_front(&mut self) {
        if let Some(e) = self.entries.pop_front() {
            for v in e.v {
                if let Some(c) = self.counts.get_mut(&v) {
                    *c = c.saturating_sub(1);
                    if *c == 0 {
                        self.counts.remove(&v);
                    }
                }
            }
        }
    }

    fn evict(&mut self, cutoff: i64) {
        while self.entries.front().is_some_and(|e| e.t < cutoff) {
            self.pop_front();
        }
    }

    fn push(&mut self, e: Entry) {
        for &v in &e.v {
            *self.counts.entry(v).or_insert(0) += 1;
        }
        self.entries.push_back(e);
        while self.entries.len() > MAX_WINDOW_ENTRIES {
            self.pop_front();
        }
    }
}

/// The correlation state of a [`RuleSet`], serialisable: what
/// [`RuleSet::snapshot`] returns and [`RuleSet::restore`] takes. Keyed by
/// rule and group, ordered, so equal states serialise to equal bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigmaSnapshot {
    /// Format version (1).
    pub version: u32,
    /// Per correlation rule key: its fingerprint and its windows by group.
    rules: BTreeMap<String, SnapRule>,
}

/// One correlation rule's state in a snapshot (groups as a list: JSON
/// object keys must be strings).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct SnapRule {
    fingerprint: String,
    groups: Vec<(Vec<String>, Window)>,
}

impl SigmaSnapshot {
    /// Groups held (all correlation rules together).
    #[must_use]
    pub fn groups(&self) -> usize {
        self.rules.values().map(|r| r.groups.len()).sum()
    }
}

// ---------------------------------------------------------------------------
// The rule set
// ---------------------------------------------------------------------------

/// Loaded Sigma rules and their correlation state.
///
/// Invariant: every correlation references only detection rules of this
/// set, every field a rule names is in [`FIELDS`], and all identifiers are
/// unique.
pub struct RuleSet {
    detections: Vec<Detection>,
    correlations: Vec<Correlation>,
    /// Per correlation: windows by group key.
    state: Vec<BTreeMap<Vec<String>, Window>>,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules())
            .finish_non_exhaustive()
    }
}

/// A parsed, not yet compiled document and the file it came from.
struct Parsed {
    file: String,
    collection: SigmaCollection,
}

fn parse_file(file: &str, text: &str) -> Result<Parsed, RuleError> {
    let collection = parse_sigma_yaml(text).map_err(|e| RuleError::Parse {
        file: file.to_owned(),
        message: e.to_string(),
    })?;
    if let Some(first) = collection.errors.first() {
        return Err(RuleError::Parse {
            file: file.to_owned(),
            message: first.clone(),
        });
    }
    if !collection.filters.is_empty() {
        return Err(RuleError::Parse {
            file: file.to_owned(),
            message: "filter documents are not supported (write the exclusion into the rule)"
                .into(),
        });
    }
    if collection.rules.is_empty() && collection.correlations.is_empty() {
        return Err(RuleError::Parse {
            file: file.to_owned(),
            message: "no Sigma rule in the file".into(),
        });
    }
    Ok(Parsed {
        file: file.to_owned(),
        collection,
    })
}

fn rule_key(id: Option<&String>, title: &str) -> String {
    id.cloned().unwrap_or_else(|| title.to_owned())
}

/// The unknown fields a one-rule collection names, with where.
fn unknown_fields(c: &SigmaCollection) -> Option<(String, String)> {
    let set = RuleFieldSet::collect(c, &[], false);
    for (name, origin) in set.iter() {
        if !FIELDS.contains(&name) {
            let place = origin
                .sources
                .iter()
                .next()
                .map_or("detection", |s| s.as_str());
            return Some((place.to_owned(), name.to_owned()));
        }
    }
    None
}

fn check_detection_fields(file: &str, key: &str, rule: &SigmaRule) -> Result<(), RuleError> {
    let mut one = SigmaCollection::new();
    one.rules.push(rule.clone());
    if let Some((_, field)) = unknown_fields(&one) {
        // Name the detection that uses it.
        let mut path = "detection".to_owned();
        let mut named: Vec<_> = rule.detection.named.iter().collect();
        named.sort_by(|a, b| a.0.cmp(b.0));
        for (name, det) in named {
            if format!("{det:?}").contains(&format!("{field:?}")) {
                path = format!("detection.{name}");
                break;
            }
        }
        return Err(RuleError::rule(
            file,
            key,
            &path,
            format!(
                "unknown field `{field}` (Custos fields: {})",
                FIELDS.join(", ")
            ),
        ));
    }
    Ok(())
}

fn compile_correlation(
    file: &str,
    c: &CorrelationRule,
    detections: &[Detection],
) -> Result<Correlation, RuleError> {
    let key = rule_key(c.id.as_ref(), &c.title);
    let err = |path: &str, m: String| RuleError::rule(file, &key, path, m);
    let kind = match c.correlation_type {
        CorrelationType::EventCount => CorrKind::EventCount,
        CorrelationType::ValueCount => CorrKind::ValueCount,
        CorrelationType::Temporal => CorrKind::Temporal,
        CorrelationType::TemporalOrdered => CorrKind::TemporalOrdered,
        other => {
            return Err(err(
                "correlation.type",
                format!(
                    "`{}` is not supported (event_count, value_count, temporal, temporal_ordered)",
                    other.as_str()
                ),
            ));
        }
    };
    if c.window != WindowMode::Sliding {
        return Err(err(
            "correlation.window",
            "only sliding windows are supported".into(),
        ));
    }
    if c.rules.is_empty() {
        return Err(err("correlation.rules", "no rule referenced".into()));
    }
    if c.rules.len() > usize::from(u16::MAX) {
        return Err(err("correlation.rules", "too many rules".into()));
    }
    for (i, r) in c.rules.iter().enumerate() {
        let known = detections
            .iter()
            .any(|d| d.key == *r || d.name.as_deref() == Some(r));
        if !known {
            return Err(err(
                &format!("correlation.rules[{i}]"),
                format!(
                    "`{r}` is not the id or name of a detection rule in the set (correlations of correlations are not supported)"
                ),
            ));
        }
    }
    let timespan_ms = i64::try_from(c.timespan.seconds)
        .ok()
        .and_then(|s| s.checked_mul(1000))
        .filter(|&ms| ms > 0)
        .ok_or_else(|| err("correlation.timespan", "must be positive".into()))?;
    // Group-by: an alias name resolves per rule; anything else is a field.
    let mut group_fields = Vec::with_capacity(c.rules.len());
    for r in &c.rules {
        let mut fields = Vec::with_capacity(c.group_by.len());
        for (j, g) in c.group_by.iter().enumerate() {
            let f = match c.aliases.iter().find(|a| a.alias == *g) {
                Some(a) => a.mapping.get(r).cloned().ok_or_else(|| {
                    err(
                        &format!("correlation.aliases.{g}"),
                        format!("no field given for rule `{r}`"),
                    )
                })?,
                None => g.clone(),
            };
            if !FIELDS.contains(&f.as_str()) {
                return Err(err(
                    &format!("correlation.group-by[{j}]"),
                    format!("unknown field `{f}` (Custos fields: {})", FIELDS.join(", ")),
                ));
            }
            fields.push(f);
        }
        group_fields.push(fields);
    }
    let (predicates, field, expr) = match &c.condition {
        CorrelationCondition::Threshold {
            predicates, field, ..
        } => {
            let field = match (kind, field.as_deref()) {
                (CorrKind::ValueCount, Some([f])) => {
                    if !FIELDS.contains(&f.as_str()) {
                        return Err(err(
                            "correlation.condition.field",
                            format!("unknown field `{f}` (Custos fields: {})", FIELDS.join(", ")),
                        ));
                    }
                    Some(f.clone())
                }
                (CorrKind::ValueCount, Some(_)) => {
                    return Err(err(
                        "correlation.condition.field",
                        "value_count over several fields is not supported".into(),
                    ));
                }
                (CorrKind::ValueCount, None) => {
                    return Err(err(
                        "correlation.condition.field",
                        "value_count needs a field".into(),
                    ));
                }
                _ => None,
            };
            (predicates.clone(), field, None)
        }
        CorrelationCondition::Extended(e) => {
            if !matches!(kind, CorrKind::Temporal | CorrKind::TemporalOrdered) {
                return Err(err(
                    "correlation.condition",
                    "a boolean condition is only allowed for temporal correlations".into(),
                ));
            }
            let mut ids = Vec::new();
            if !expr_identifiers(e, &mut ids) {
                return Err(err(
                    "correlation.condition",
                    "`of` selectors are not supported in correlation conditions".into(),
                ));
            }
            if let Some(bad) = ids.iter().find(|i| !c.rules.contains(i)) {
                return Err(err(
                    "correlation.condition",
                    format!("`{bad}` is not one of the correlation's rules"),
                ));
            }
            (Vec::new(), None, Some(e.clone()))
        }
    };
    let fingerprint = format!(
        "{}|{}|{}|{}|{:?}|{:?}|{:?}",
        kind.as_str(),
        c.rules.join(","),
        c.group_by.join(","),
        timespan_ms,
        predicates,
        field,
        expr
    );
    Ok(Correlation {
        key,
        title: c.title.clone(),
        level: c.level,
        tags: c.tags.clone(),
        file: file.to_owned(),
        kind,
        refs: c.rules.clone(),
        group_fields,
        group_by: c.group_by.clone(),
        timespan_ms,
        predicates,
        field,
        expr,
        fingerprint,
    })
}

impl RuleSet {
    /// An empty set.
    #[must_use]
    pub fn empty() -> RuleSet {
        RuleSet {
            detections: Vec::new(),
            correlations: Vec::new(),
            state: Vec::new(),
        }
    }

    /// Parses and compiles the Sigma documents of one YAML text; `name`
    /// names it in errors.
    ///
    /// # Errors
    /// [`RuleError`] naming `name`, the rule and the place in it.
    pub fn from_yaml(name: &str, text: &str) -> Result<RuleSet, RuleError> {
        RuleSet::build(vec![parse_file(name, text)?])
    }

    /// Loads every `*.yml` / `*.yaml` file under `dir` (recursively, in
    /// path order).
    ///
    /// # Errors
    /// [`RuleError`] for the first file that cannot be read or parsed, or
    /// the first rule that is refused; nothing is loaded then.
    pub fn load_dir(dir: &Path) -> Result<RuleSet, RuleError> {
        let mut parsed = Vec::new();
        for f in rule_files(dir)? {
            let shown = f.display().to_string();
            let text = std::fs::read_to_string(&f).map_err(|e| RuleError::Io {
                file: shown.clone(),
                message: e.to_string(),
            })?;
            parsed.push(parse_file(&shown, &text)?);
        }
        RuleSet::build(parsed)
    }

    fn build(parsed: Vec<Parsed>) -> Result<RuleSet, RuleError> {
        let mut detections: Vec<Detection> = Vec::new();
        let mut keys: BTreeSet<String> = BTreeSet::new();
        for p in &parsed {
            for r in &p.collection.rules {
                let key = rule_key(r.id.as_ref(), &r.title);
                if !keys.insert(key.clone()) {
                    return Err(RuleError::rule(
                        &p.file,
                        &key,
                        "id",
                        "a rule with this id or title is already loaded",
                    ));
                }
                if let Some(n) = &r.name
                    && !keys.insert(n.clone())
                {
                    return Err(RuleError::rule(
                        &p.file,
                        &key,
                        "name",
                        format!("`{n}` is already used"),
                    ));
                }
                check_detection_fields(&p.file, &key, r)?;
                let compiled = compile_rule(r)
                    .map_err(|e| RuleError::rule(&p.file, &key, "detection", e.to_string()))?;
                detections.push(Detection {
                    key,
                    name: r.name.clone(),
                    title: r.title.clone(),
                    level: r.level,
                    tags: r.tags.clone(),
                    file: p.file.clone(),
                    compiled,
                    generates: true,
                    feeds: Vec::new(),
                });
            }
        }
        let mut correlations = Vec::new();
        for p in &parsed {
            for c in &p.collection.correlations {
                let corr = compile_correlation(&p.file, c, &detections)?;
                if !keys.insert(corr.key.clone()) {
                    return Err(RuleError::rule(
                        &p.file,
                        &corr.key,
                        "id",
                        "a rule with this id or title is already loaded",
                    ));
                }
                let ci = correlations.len();
                for (pos, r) in corr.refs.iter().enumerate() {
                    for d in &mut detections {
                        if d.key == *r || d.name.as_deref() == Some(r) {
                            d.feeds.push((ci, pos));
                            // Sigma: referenced rules raise nothing of their
                            // own unless a correlation says `generate: true`.
                            d.generates = false;
                        }
                    }
                }
                correlations.push((corr, c.generate));
            }
        }
        // `generate: true` on any correlation referencing a rule wins.
        for d in &mut detections {
            if d.feeds
                .iter()
                .any(|(ci, _)| correlations.get(*ci).is_some_and(|(_, g)| *g))
            {
                d.generates = true;
            }
        }
        let correlations: Vec<Correlation> = correlations.into_iter().map(|(c, _)| c).collect();
        let state = correlations.iter().map(|_| BTreeMap::new()).collect();
        Ok(RuleSet {
            detections,
            correlations,
            state,
        })
    }

    /// Rules loaded (detection and correlation).
    #[must_use]
    pub fn len(&self) -> usize {
        self.detections.len() + self.correlations.len()
    }

    /// True if no rule is loaded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rules, detection rules first, each in load order.
    #[must_use]
    pub fn rules(&self) -> Vec<RuleInfo> {
        let d = self.detections.iter().map(|d| RuleInfo {
            id: d.key.clone(),
            title: d.title.clone(),
            kind: "detection",
            file: d.file.clone(),
            level: level_name(d.level),
            generates: d.generates,
        });
        let c = self.correlations.iter().map(|c| RuleInfo {
            id: c.key.clone(),
            title: c.title.clone(),
            kind: c.kind.as_str(),
            file: c.file.clone(),
            level: level_name(c.level),
            generates: true,
        });
        d.chain(c).collect()
    }

    /// The longest correlation timespan (ms): replaying that much of the
    /// ledger before a point rebuilds the state at that point.
    #[must_use]
    pub fn longest_timespan_ms(&self) -> i64 {
        self.correlations
            .iter()
            .map(|c| c.timespan_ms)
            .max()
            .unwrap_or(0)
    }

    /// Evaluates every rule against `rec` (ledger order), appending the
    /// findings it raises to `out`. Detection findings come first (rule
    /// order), then correlation findings (rule order). Time is the entry's
    /// own, so a replay raises the same findings as the live run.
    /// Findings (`custos.detect`) are never evaluated.
    pub fn process(&mut self, rec: &Record<'_>, out: &mut Vec<Finding>) {
        if rec.kind() == RecordKind::Finding {
            return;
        }
        let ev = RecordEvent(rec);
        // (correlation, rule position) pairs fed by this entry.
        let mut fed: Vec<(usize, usize)> = Vec::new();
        for d in &self.detections {
            if evaluate_rule(&d.compiled, &ev).is_none() {
                continue;
            }
            if d.generates {
                out.push(detection_finding(d, rec));
            }
            fed.extend(d.feeds.iter().copied());
        }
        fed.sort_unstable();
        fed.dedup();
        let mut fired: Vec<usize> = Vec::new();
        for (ci, pos) in fed {
            let (Some(c), Some(state)) = (self.correlations.get(ci), self.state.get_mut(ci)) else {
                continue;
            };
            if let Some(f) = update(c, state, &ev, pos)
                && !fired.contains(&ci)
            {
                fired.push(ci);
                out.push(f);
            }
        }
    }

    /// The correlation state.
    #[must_use]
    pub fn snapshot(&self) -> SigmaSnapshot {
        let mut rules = BTreeMap::new();
        for (c, s) in self.correlations.iter().zip(&self.state) {
            let groups = s.iter().map(|(k, w)| (k.clone(), w.clone())).collect();
            rules.insert(
                c.key.clone(),
                SnapRule {
                    fingerprint: c.fingerprint.clone(),
                    groups,
                },
            );
        }
        SigmaSnapshot { version: 1, rules }
    }

    /// Restores the correlation state of the rules that are unchanged since
    /// `snap` was taken (same id, type, rules, group-by, timespan and
    /// condition); the others start empty. Returns how many correlation
    /// rules were restored.
    pub fn restore(&mut self, snap: &SigmaSnapshot) -> usize {
        let mut n = 0;
        for (c, s) in self.correlations.iter().zip(self.state.iter_mut()) {
            if let Some(r) = snap.rules.get(&c.key)
                && r.fingerprint == c.fingerprint
            {
                *s = r.groups.iter().cloned().collect();
                n += 1;
            }
        }
        n
    }
}

fn detection_finding(d: &Detection, rec: &Record<'_>) -> Finding {
    let detector = format!("sigma:{}", d.key);
    let entity = Entity {
        kind: EntityKind::Principal,
        id: rec.actor.to_string(),
    };
    let mut details = Map::new();
    details.insert("rule_id".into(), json!(d.key));
    details.insert("level".into(), json!(level_name(d.level)));
    if !d.tags.is_empty() {
        details.insert("tags".into(), json!(d.tags));
    }
    Finding {
        uid: format!(
            "{detector}:{}:{}:{}",
            entity.kind.as_str(),
            entity.id,
            rec.index
        ),
        detector,
        title: d.title.clone(),
        severity: severity(d.level),
        entity,
        window_s: 0,
        first_seen_ms: rec.time_ms,
        last_seen_ms: rec.time_ms,
        time_ms: rec.time_ms,
        raised_at_index: rec.index,
        analytic_type: 1,
        evidence: Evidence {
            indices: vec![rec.index],
            events: 1,
            subjects: u64::try_from(rec.subjects.len()).unwrap_or(u64::MAX),
            estimated: false,
            baselines: Vec::new(),
            details,
        },
    }
}

fn entity_kind(field: &str) -> EntityKind {
    match field {
        "unmapped.custos.kid" | "resources.signing_key.uid" => EntityKind::Kid,
        "actor.session.issuer" => EntityKind::Issuer,
        "src_endpoint.ip" => EntityKind::Network,
        "src_endpoint.location.country" => EntityKind::Country,
        "resources.name" => EntityKind::Dataset,
        _ => EntityKind::Principal,
    }
}

/// Adds `ev` (matched by the correlation's rule at `pos`) to its group's
/// window and returns a finding if the condition now holds and the group
/// has not fired within the timespan.
fn update(
    c: &Correlation,
    state: &mut BTreeMap<Vec<String>, Window>,
    ev: &RecordEvent<'_, '_>,
    pos: usize,
) -> Option<Finding> {
    let rec = ev.0;
    let fields = c.group_fields.get(pos)?;
    let group: Vec<String> = fields
        .iter()
        .map(|f| field_strings(ev, f).into_iter().next().unwrap_or_default())
        .collect();
    let values: Vec<u64> = match &c.field {
        Some(f) => {
            let mut v: Vec<u64> = field_strings(ev, f).iter().map(|x| value_id(x)).collect();
            v.sort_unstable();
            v.dedup();
            if v.is_empty() {
                // Nothing to count: the entry does not take part.
                return None;
            }
            v
        }
        // Temporal: the rule's position, so `counts` says which rules are
        // in the window without scanning it.
        None if matches!(c.kind, CorrKind::Temporal | CorrKind::TemporalOrdered) => {
            vec![u64::try_from(pos).unwrap_or(u64::MAX)]
        }
        None => Vec::new(),
    };
    let w = state.entry(group.clone()).or_default();
    w.evict(rec.time_ms.saturating_sub(c.timespan_ms));
    w.push(Entry {
        t: rec.time_ms,
        i: rec.index,
        r: u16::try_from(pos).unwrap_or(u16::MAX),
        v: values,
    });
    // At most one finding per group and timespan: nothing to evaluate
    // while the last one is that recent.
    if w.fired
        .is_some_and(|t| rec.time_ms.saturating_sub(t) < c.timespan_ms)
    {
        return None;
    }
    let value = match c.kind {
        CorrKind::EventCount => u64::try_from(w.entries.len()).unwrap_or(u64::MAX),
        CorrKind::ValueCount => u64::try_from(w.counts.len()).unwrap_or(u64::MAX),
        CorrKind::Temporal => {
            let seen = |r: &str| {
                c.refs
                    .iter()
                    .position(|x| x == r)
                    .is_some_and(|p| u64::try_from(p).is_ok_and(|p| w.counts.contains_key(&p)))
            };
            let ok = match &c.expr {
                Some(e) => eval_expr(e, &seen),
                None => c.refs.iter().all(|r| seen(r)),
            };
            u64::from(ok)
        }
        CorrKind::TemporalOrdered => {
            // The rules in the listed order, each at or after the previous
            // (scanned only once every rule is in the window).
            let mut next = 0usize;
            let all = (0..c.refs.len())
                .all(|p| u64::try_from(p).is_ok_and(|p| w.counts.contains_key(&p)));
            let take = if all { w.entries.len() } else { 0 };
            for e in w.entries.iter().take(take) {
                if usize::from(e.r) == next {
                    next += 1;
                    if next == c.refs.len() {
                        break;
                    }
                }
            }
            u64::from(next == c.refs.len())
        }
    };
    let holds = match c.kind {
        CorrKind::EventCount | CorrKind::ValueCount => {
            !c.predicates.is_empty() && c.predicates.iter().all(|&(op, l)| check(op, value, l))
        }
        CorrKind::Temporal | CorrKind::TemporalOrdered => value == 1,
    };
    if !holds {
        return None;
    }
    w.fired = Some(rec.time_ms);
    let detector = format!("sigma:{}", c.key);
    let kind = c
        .group_by
        .first()
        .and_then(|_| fields.first())
        .map_or(EntityKind::Principal, |f| entity_kind(f));
    let id = if group.is_empty() {
        rec.actor.to_string()
    } else {
        group.join(",")
    };
    let entity = Entity { kind, id };
    let first_seen = w.entries.front().map_or(rec.time_ms, |e| e.t);
    let skip = w.entries.len().saturating_sub(MAX_SIGMA_EVIDENCE);
    let indices: Vec<u64> = w.entries.iter().skip(skip).map(|e| e.i).collect();
    let events = u64::try_from(w.entries.len()).unwrap_or(u64::MAX);
    let mut details = Map::new();
    details.insert("rule_id".into(), json!(c.key));
    details.insert("correlation_type".into(), json!(c.kind.as_str()));
    details.insert("value".into(), json!(value));
    if let Some(f) = &c.field {
        details.insert("field".into(), json!(f));
    }
    details.insert(
        "condition".into(),
        json!(
            c.predicates
                .iter()
                .map(|&(op, l)| format!("{} {l}", op_name(op)))
                .collect::<Vec<_>>()
        ),
    );
    let mut g = Map::new();
    for (name, v) in c.group_by.iter().zip(&group) {
        g.insert(name.clone(), json!(v));
    }
    details.insert("group".into(), Value::Object(g));
    details.insert("level".into(), json!(level_name(c.level)));
    if !c.tags.is_empty() {
        details.insert("tags".into(), json!(c.tags));
    }
    let subjects = if c.field.as_deref() == Some("unmapped.custos.subjects") {
        value
    } else {
        0
    };
    Some(Finding {
        uid: format!(
            "{detector}:{}:{}:{}",
            entity.kind.as_str(),
            entity.id,
            w.entries.front().map_or(rec.index, |e| e.i)
        ),
        detector,
        title: c.title.clone(),
        severity: severity(c.level),
        entity,
        window_s: u64::try_from(c.timespan_ms / 1000).unwrap_or(0),
        first_seen_ms: first_seen,
        last_seen_ms: rec.time_ms,
        time_ms: rec.time_ms,
        raised_at_index: rec.index,
        analytic_type: 1,
        evidence: Evidence {
            indices,
            events,
            subjects,
            estimated: false,
            baselines: Vec::new(),
            details,
        },
    })
}

// ---------------------------------------------------------------------------
// Files and reloading
// ---------------------------------------------------------------------------

fn is_rule_file(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
}

/// The rule files under `dir`, recursively, sorted by path.
fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, RuleError> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| RuleError::Io {
            file: d.display().to_string(),
            message: e.to_string(),
        })?;
        for entry in rd {
            let entry = entry.map_err(|e| RuleError::Io {
                file: d.display().to_string(),
                message: e.to_string(),
            })?;
            let p = entry.path();
            let ft = entry.file_type().map_err(|e| RuleError::Io {
                file: p.display().to_string(),
                message: e.to_string(),
            })?;
            if ft.is_dir() {
                todo.push(p);
            } else if is_rule_file(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What a directory's rule files looked like: path, size, mtime.
type Stamp = Vec<(PathBuf, u64, Option<SystemTime>)>;

fn stamp(dir: &Path) -> Result<Stamp, RuleError> {
    rule_files(dir)?
        .into_iter()
        .map(|p| {
            let m = std::fs::metadata(&p).map_err(|e| RuleError::Io {
                file: p.display().to_string(),
                message: e.to_string(),
            })?;
            Ok((p, m.len(), m.modified().ok()))
        })
        .collect()
}

/// Reloads a rules directory without a restart.
///
/// [`RuleWatcher::poll`] compares the files' paths, sizes and modification
/// times with the last load and, if anything changed, loads the directory
/// again. A directory that no longer loads leaves the current set in place
/// and reports the error (once per change). The caller decides when to poll
/// (every few seconds, or on demand): the watcher owns no thread and no
/// clock. Correlation state of rules that did not change is carried over.
#[derive(Debug)]
pub struct RuleWatcher {
    dir: PathBuf,
    last: Stamp,
}

impl RuleWatcher {
    /// Loads `dir` and starts watching it.
    ///
    /// # Errors
    /// As [`RuleSet::load_dir`].
    pub fn new(dir: &Path) -> Result<(RuleWatcher, RuleSet), RuleError> {
        let last = stamp(dir)?;
        let set = RuleSet::load_dir(dir)?;
        Ok((
            RuleWatcher {
                dir: dir.to_path_buf(),
                last,
            },
            set,
        ))
    }

    /// The directory watched.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reloads `current` if a file changed. `Ok(true)`: reloaded;
    /// `Ok(false)`: nothing changed.
    ///
    /// # Errors
    /// The [`RuleError`] of the changed directory; `current` is left as it
    /// was, and the same unchanged files are not reported again.
    pub fn poll(&mut self, current: &mut RuleSet) -> Result<bool, RuleError> {
        let now = stamp(&self.dir)?;
        if now == self.last {
            return Ok(false);
        }
        self.last = now;
        let mut next = RuleSet::load_dir(&self.dir)?;
        next.restore(&current.snapshot());
        *current = next;
        Ok(true)
    }
}

/// The `sigma_rule` fuzz target's body (`fuzz/fuzz_targets/sigma_rule.rs`),
/// also run over the committed corpus by `tests/fuzz_corpus.rs`:
/// `data` as a rule file; a refusal must name the file, an accepted set must
/// evaluate a few entries and snapshot without panicking. `Ok(true)` if the
/// rules loaded.
///
/// # Errors
/// A description of the broken invariant.
#[doc(hidden)]
pub fn fuzz_rule(data: &[u8]) -> Result<bool, String> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(false);
    };
    match RuleSet::from_yaml("fuzz.yml", text) {
        Err(e) => {
            if e.file() != "fuzz.yml" || !e.to_string().starts_with("fuzz.yml: ") {
                return Err(format!("a refusal that does not name the file: {e}"));
            }
            Ok(false)
        }
        Ok(mut set) => {
            let mut out = Vec::new();
            let subjects = [Cow::Borrowed("0q7NmbPEMHcPKTE_wuNqzQ")];
            for i in 0..4u64 {
                let rec = Record {
                    index: i,
                    time_ms: i64::try_from(i).unwrap_or(0) * 1000,
                    log_name: Cow::Borrowed("custos.access"),
                    actor: Cow::Borrowed("emp-1"),
                    operation: Cow::Borrowed("op"),
                    status_id: 1,
                    subjects: subjects.to_vec(),
                    src_ip: Some(Cow::Borrowed("10.0.0.1")),
                    refusal: (i == 1).then_some(Cow::Borrowed("never_issued")),
                    ..Record::default()
                };
                set.process(&rec, &mut out);
            }
            let snap = set.snapshot();
            if set.restore(&snap) != snap.rules.len() {
                return Err("a snapshot does not restore into its own set".into());
            }
            Ok(true)
        }
    }
}
