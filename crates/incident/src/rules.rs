//! The disclosure rules file (`rules/disclosure/jurisdictions.toml`): one rule
//! per regime and notified party, parsed in two stages (the ripgrep habit):
//! serde reads the shape with the field path of the first type error
//! (`rules[3].deadline.hours: invalid type…`), then [`Rules::validate`]
//! checks meaning (known categories, one deadline, existing calendars and
//! dependencies) with the same kind of path. Format: `docs/incidents.md`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::calendar::parse_date;

/// The rules file shipped with Custos (`rules/disclosure/jurisdictions.toml`).
pub const SHIPPED_RULES: &str = include_str!("../../../rules/disclosure/jurisdictions.toml");

/// The only file format version understood.
pub const RULES_VERSION: u32 = 1;

/// Largest rules file accepted, in bytes.
pub const MAX_RULES_BYTES: usize = 1 << 20;

/// A bad rules file: the field path (`rules[3].deadline.hours`, or
/// `(syntax)` for TOML that does not parse) and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RulesError {
    /// Where, as a field path from the file's root.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> RulesError {
    RulesError {
        path: path.into(),
        message: message.into(),
    }
}

/// The whole rules file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Format version; must be [`RULES_VERSION`].
    pub version: u32,
    /// Named calendars that deadlines refer to.
    #[serde(default)]
    pub calendars: BTreeMap<String, Calendar>,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
}

/// Where local days fall and which weekdays are not business days.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// Fixed offset of local time from UTC, minutes (−840…840). No
    /// daylight-saving rules: pick the offset that makes deadlines earlier.
    pub utc_offset_minutes: i32,
    /// Holidays (`YYYY-MM-DD`, local) skipped by business-day deadlines
    /// besides Saturdays and Sundays.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// Who receives the notice; it chooses the draft's template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// A regulator, attorney general or securities regulator: a formal report.
    Authority,
    /// The people whose data was breached: a plain-language notice.
    Subjects,
    /// A party to a contract (customer, controller, us from a supplier).
    Counterparty,
}

/// When the clock starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// When the organisation became aware of the breach.
    #[default]
    Awareness,
    /// When the registrant determined the incident is material (SEC 8-K).
    Materiality,
    /// When the notice of another rule ([`Rule::after_rule`]) was sent.
    AfterNotice,
}

/// One regime's obligation towards one party.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id (`[a-z0-9:-]`, unique in the file), e.g. `kr-pipa-report`.
    pub id: String,
    /// ISO 3166 country or subdivision code, a region label (`EU/EEA`), or
    /// `contract`.
    pub jurisdiction: String,
    /// Who is notified.
    pub party: String,
    /// Who owes the notice; absent means us (the operator of Custos).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obligor: Option<String>,
    /// Which template the draft uses.
    pub audience: Audience,
    /// When the rule applies.
    pub trigger: Trigger,
    /// When the clock starts.
    #[serde(default)]
    pub clock: Clock,
    /// For [`Clock::AfterNotice`]: the rule whose notice starts the clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_rule: Option<String>,
    /// By when.
    pub deadline: Deadline,
    /// What the notice must contain, in order.
    #[serde(default)]
    pub report_fields: Vec<ReportField>,
    /// The statute, article or contract clause.
    pub source: String,
    /// A remark for reviewers (not used in computation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// When a rule applies; see `docs/incidents.md` for the exact semantics.
///
/// With `n` the subjects counted in [`Trigger::subjects_in`]: the rule is
/// triggered iff `n > 0`, every `require_facts` is recorded, no
/// `exclude_facts` is, some `categories` is in scope (when the list is not
/// empty), and the threshold is met (`n >= min_subjects`, `n >
/// more_than_subjects`, or `n >= 1` when neither is set) or any
/// `or_categories` is in scope or any `or_facts` is recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// Where subjects count: ISO 3166-1 alpha-2 countries, ISO 3166-2
    /// subdivisions (`US-CA`), `unknown`, or `*` for every subject.
    pub subjects_in: Vec<String>,
    /// Threshold: at least this many subjects (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_subjects: Option<u64>,
    /// Threshold: more than this many subjects (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more_than_subjects: Option<u64>,
    /// Required: at least one of these data categories is in scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Alternative to the threshold: any of these categories in scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub or_categories: Vec<String>,
    /// Alternative to the threshold: any of these facts recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub or_facts: Vec<String>,
    /// Required: all of these facts recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require_facts: Vec<String>,
    /// Excluding: none of these facts recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_facts: Vec<String>,
}

/// By when. At most one legal maximum (`hours`, `calendar_days` or
/// `business_days`); a `prompt` duty ("without undue delay") may have a
/// legal maximum, an internal `target_hours`, or both, and must have one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    /// Legal maximum: this many hours after the clock starts (exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<u32>,
    /// Legal maximum: the end of the local day this many days after the
    /// clock's start day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_days: Option<u32>,
    /// Legal maximum: the end of the n-th business day (Mon–Fri minus the
    /// calendar's holidays) after the clock's start day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_days: Option<u32>,
    /// Calendar of local days and holidays (default: UTC, no holidays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
    /// The law's words for a duty without a fixed delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Our own target, hours after the clock starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_hours: Option<u32>,
}

/// A piece of information a notice must carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportField {
    /// The categories of personal data concerned (from the scope).
    Categories,
    /// The number of data subjects (from the scope).
    Subjects,
    /// Subjects per country of residence (from the scope).
    SubjectsByCountry,
    /// The number of records / accesses (from the scope).
    Records,
    /// When: first and last access (from the scope).
    TimeWindow,
    /// How: route of the breach (scope selectors, then to complete).
    Route,
    /// When and by whom the breach was discovered (from the incident).
    Discovery,
    /// Likely consequences (to complete).
    Consequences,
    /// Measures taken or proposed (to complete).
    Countermeasures,
    /// What the subjects can do to limit the harm (to complete).
    SubjectRemedies,
    /// Contact point / DPO (to complete).
    ContactPoint,
    /// Reasons for a late notice (to complete if late).
    DelayReasons,
    /// Material impact on the registrant (SEC; to complete).
    MaterialImpact,
}

impl ReportField {
    /// The heading used in drafts.
    pub fn heading(self) -> &'static str {
        match self {
            ReportField::Categories => "Categories of personal data",
            ReportField::Subjects => "Number of data subjects",
            ReportField::SubjectsByCountry => "Data subjects by country",
            ReportField::Records => "Number of records accessed",
            ReportField::TimeWindow => "Time of the breach",
            ReportField::Route => "Route of the breach",
            ReportField::Discovery => "Discovery",
            ReportField::Consequences => "Likely consequences",
            ReportField::Countermeasures => "Measures taken or proposed",
            ReportField::SubjectRemedies => "What data subjects can do",
            ReportField::ContactPoint => "Contact point",
            ReportField::DelayReasons => "Reasons for any delay",
            ReportField::MaterialImpact => "Material impact",
        }
    }
}

impl Rules {
    /// The rule with this id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Checks meaning: version, unique well-formed ids, non-empty texts,
    /// codes, category names, one threshold, one legal maximum (or a
    /// prompt duty with a target), bounds, calendars and dependencies.
    pub fn validate(&self) -> Result<(), RulesError> {
        if self.version != RULES_VERSION {
            return Err(err(
                "version",
                format!(
                    "unsupported version {}, expected {RULES_VERSION}",
                    self.version
                ),
            ));
        }
        for (name, cal) in &self.calendars {
            let at = format!("calendars.{name}");
            if !(-840..=840).contains(&cal.utc_offset_minutes) {
                return Err(err(
                    format!("{at}.utc_offset_minutes"),
                    "must be between -840 and 840",
                ));
            }
            for (j, h) in cal.holidays.iter().enumerate() {
                if parse_date(h).is_none() {
                    return Err(err(
                        format!("{at}.holidays[{j}]"),
                        format!("{h:?} is not a YYYY-MM-DD date"),
                    ));
                }
            }
        }
        if self.rules.is_empty() {
            return Err(err("rules", "at least one rule is required"));
        }
        let mut seen = BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            if rule.id.is_empty()
                || rule.id.len() > 64
                || !rule
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b':')
            {
                return Err(err(format!("{at}.id"), "must be 1–64 of [a-z0-9:-]"));
            }
            if !seen.insert(rule.id.as_str()) {
                return Err(err(
                    format!("{at}.id"),
                    format!("duplicate id {:?}", rule.id),
                ));
            }
            for (name, text) in [
                ("jurisdiction", &rule.jurisdiction),
                ("party", &rule.party),
                ("source", &rule.source),
            ] {
                if text.trim().is_empty() {
                    return Err(err(format!("{at}.{name}"), "must not be empty"));
                }
            }
            if rule.obligor.as_ref().is_some_and(|o| o.trim().is_empty()) {
                return Err(err(format!("{at}.obligor"), "must not be empty"));
            }
            validate_trigger(&rule.trigger, &format!("{at}.trigger"))?;
            self.validate_deadline(&rule.deadline, &format!("{at}.deadline"))?;
            match (rule.clock, &rule.after_rule) {
                (Clock::AfterNotice, None) => {
                    return Err(err(
                        format!("{at}.after_rule"),
                        "required when clock = \"after_notice\"",
                    ));
                }
                (Clock::AfterNotice, Some(dep)) => {
                    let ok = self
                        .rules
                        .iter()
                        .any(|r| &r.id == dep && r.id != rule.id && r.clock != Clock::AfterNotice);
                    if !ok {
                        return Err(err(
                            format!("{at}.after_rule"),
                            format!("{dep:?} is not another rule whose clock is not after_notice"),
                        ));
                    }
                }
                (_, Some(_)) => {
                    return Err(err(
                        format!("{at}.after_rule"),
                        "only allowed when clock = \"after_notice\"",
                    ));
                }
                (_, None) => {}
            }
        }
        Ok(())
    }

    fn validate_deadline(&self, d: &Deadline, at: &str) -> Result<(), RulesError> {
        const MAX_HOURS: u32 = 24 * 3660;
        const MAX_DAYS: u32 = 3660;
        let maxima = [d.hours, d.calendar_days, d.business_days]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if maxima > 1 {
            return Err(err(
                at,
                "set only one of hours, calendar_days, business_days",
            ));
        }
        for (name, value, max) in [
            ("hours", d.hours, MAX_HOURS),
            ("calendar_days", d.calendar_days, MAX_DAYS),
            ("business_days", d.business_days, MAX_DAYS),
            ("target_hours", d.target_hours, MAX_HOURS),
        ] {
            if let Some(v) = value
                && !(1..=max).contains(&v)
            {
                return Err(err(format!("{at}.{name}"), format!("must be 1–{max}")));
            }
        }
        match &d.prompt {
            Some(p) if p.trim().is_empty() => {
                return Err(err(format!("{at}.prompt"), "must not be empty"));
            }
            Some(_) if maxima == 0 && d.target_hours.is_none() => {
                return Err(err(
                    format!("{at}.target_hours"),
                    "a prompt duty without a legal maximum needs a target",
                ));
            }
            None if maxima == 0 => {
                return Err(err(
                    at,
                    "set one of hours, calendar_days, business_days (or prompt with target_hours)",
                ));
            }
            _ => {}
        }
        if let (Some(t), Some(h)) = (d.target_hours, d.hours)
            && t > h
        {
            return Err(err(
                format!("{at}.target_hours"),
                format!("target {t} h is after the legal maximum {h} h"),
            ));
        }
        if let Some(c) = &d.calendar
            && !self.calendars.contains_key(c)
        {
            return Err(err(
                format!("{at}.calendar"),
                format!("unknown calendar {c:?}"),
            ));
        }
        Ok(())
    }
}

fn is_region_code(s: &str) -> bool {
    let b = s.as_bytes();
    let country = |b: &[u8]| b.len() == 2 && b.iter().all(u8::is_ascii_uppercase);
    match s.split_once('-') {
        None => country(b),
        Some((c, sub)) => {
            country(c.as_bytes())
                && (1..=3).contains(&sub.len())
                && sub
                    .bytes()
                    .all(|x| x.is_ascii_uppercase() || x.is_ascii_digit())
        }
    }
}

fn validate_trigger(t: &Trigger, at: &str) -> Result<(), RulesError> {
    if t.subjects_in.is_empty() {
        return Err(err(format!("{at}.subjects_in"), "must not be empty"));
    }
    for (j, code) in t.subjects_in.iter().enumerate() {
        if !(code == "*" || code == "unknown" || is_region_code(code)) {
            return Err(err(
                format!("{at}.subjects_in[{j}]"),
                format!("{code:?} is not an ISO 3166 code (KR, US-CA), \"unknown\" or \"*\""),
            ));
        }
    }
    if t.min_subjects.is_some() && t.more_than_subjects.is_some() {
        return Err(err(at, "set only one of min_subjects, more_than_subjects"));
    }
    if t.min_subjects == Some(0) {
        return Err(err(format!("{at}.min_subjects"), "must be at least 1"));
    }
    for (name, list) in [
        ("categories", &t.categories),
        ("or_categories", &t.or_categories),
    ] {
        for (j, c) in list.iter().enumerate() {
            if events::DataCategory::from_name(c).is_none() {
                return Err(err(
                    format!("{at}.{name}[{j}]"),
                    format!(
                        "unknown data category {c:?}; expected one of {}",
                        events::DataCategory::NAMES.join(", ")
                    ),
                ));
            }
        }
    }
    for (name, list) in [
        ("or_facts", &t.or_facts),
        ("require_facts", &t.require_facts),
        ("exclude_facts", &t.exclude_facts),
    ] {
        for (j, f) in list.iter().enumerate() {
            if f.trim().is_empty() || f.len() > 128 {
                return Err(err(format!("{at}.{name}[{j}]"), "must be 1–128 characters"));
            }
        }
    }
    Ok(())
}

/// Line number (1-based) of a byte offset.
fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span.and_then(|s| text.get(..s.start)) {
        Some(head) => format!(
            " (line {})",
            head.bytes().filter(|&b| b == b'\n').count() + 1
        ),
        None => String::new(),
    }
}

/// Parses and validates a rules file. Errors name the field path
/// (`rules[3].deadline.hours: invalid type: string "72", expected u32`).
pub fn parse_rules(text: &str) -> Result<Rules, RulesError> {
    if text.len() > MAX_RULES_BYTES {
        return Err(err(
            "(file)",
            format!("larger than {MAX_RULES_BYTES} bytes"),
        ));
    }
    let de = toml::Deserializer::parse(text).map_err(|e| {
        err(
            "(syntax)",
            e.message().to_owned() + &line_of(text, e.span()),
        )
    })?;
    let rules: Rules = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        err(
            path,
            inner.message().to_owned() + &line_of(text, inner.span()),
        )
    })?;
    rules.validate()?;
    Ok(rules)
}

/// The fuzz entry point: any bytes, never a panic. An accepted file must
/// survive a JSON round trip unchanged and still validate, and assessing a
/// fixed scope against it at extreme times must not panic. `Err` names the
/// broken invariant (the fuzz target panics with it).
pub fn fuzz_rules(data: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    let Ok(rules) = parse_rules(text) else {
        return Ok(());
    };
    let json = serde_json::to_string(&rules).map_err(|e| e.to_string())?;
    let back: Rules = serde_json::from_str(&json).map_err(|e| e.to_string())?;
    if back != rules {
        return Err("rules do not round-trip through JSON".into());
    }
    back.validate()
        .map_err(|e| format!("round-tripped rules invalid: {e}"))?;
    crate::deadline::fuzz_assess(&rules)
}
