//! Remediation: findings from alerts, assessments, residency checks and
//! manual entry, each with an owner, a severity, a due date, a status that
//! only moves along allowed transitions, and evidence; escalation when
//! overdue (the owner, then the owner's manager, then an executive role),
//! computed under an injected clock; a weekly report.

use serde::{Deserialize, Serialize};

use crate::assess::Assessment;
use crate::error::{ParseError, TransitionError};
use crate::model::{Org, is_id, is_text};
use crate::money::exposure_cents;
use crate::residency::Violation;
use crate::time::DAY;

/// How bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// The name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
    /// Parses a name.
    pub fn from_name(s: &str) -> Option<Severity> {
        Some(match s {
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
    /// Default time to fix: critical 7 days, high 30, medium 90, low 180.
    pub fn default_days(self) -> i64 {
        match self {
            Severity::Critical => 7,
            Severity::High => 30,
            Severity::Medium => 90,
            Severity::Low => 180,
        }
    }
}

/// Where a finding is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not started.
    Open,
    /// Being fixed.
    InProgress,
    /// Accepted as a risk by someone other than the owner (closed).
    RiskAccepted,
    /// Fixed, with evidence (closed).
    Resolved,
}

impl Status {
    /// The name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::InProgress => "in_progress",
            Status::RiskAccepted => "risk_accepted",
            Status::Resolved => "resolved",
        }
    }
    /// Parses a name.
    pub fn from_name(s: &str) -> Option<Status> {
        Some(match s {
            "open" => Status::Open,
            "in_progress" => Status::InProgress,
            "risk_accepted" => Status::RiskAccepted,
            "resolved" => Status::Resolved,
            _ => return None,
        })
    }
    /// Still needs work (open or in progress).
    pub fn is_open(self) -> bool {
        matches!(self, Status::Open | Status::InProgress)
    }
    /// The allowed moves: open → in progress / risk accepted / resolved;
    /// in progress → open / risk accepted / resolved; a closed finding may
    /// only be reopened.
    pub fn can_go_to(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Open, InProgress | RiskAccepted | Resolved)
                | (InProgress, Open | RiskAccepted | Resolved)
                | (RiskAccepted | Resolved, Open)
        )
    }
}

/// What raised the finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A detection alert.
    Alert,
    /// A supplier assessment deduction.
    Assessment,
    /// A residency violation.
    Residency,
    /// Entered by a person.
    Manual,
}

/// One status change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// Unix seconds (RFC 3339 in JSON).
    #[serde(with = "crate::time::rfc3339")]
    pub at: i64,
    /// Who.
    pub by: String,
    /// From.
    pub from: Status,
    /// To.
    pub to: Status,
    /// Why / the evidence.
    pub note: String,
}

/// A remediation item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Unique id (assigned by the caller).
    pub id: String,
    /// What is wrong, in a line.
    pub title: String,
    /// What raised it.
    pub origin: Origin,
    /// The alert id, `supplier:code`, `dataset:country`, …
    #[serde(default)]
    pub reference: Option<String>,
    /// The supplier it concerns, if any.
    #[serde(default)]
    pub supplier: Option<String>,
    /// Who must fix it.
    pub owner: String,
    /// How bad.
    pub severity: Severity,
    /// Unix seconds: raised (RFC 3339 in JSON).
    #[serde(with = "crate::time::rfc3339")]
    pub created: i64,
    /// Unix seconds: due (RFC 3339 in JSON).
    #[serde(with = "crate::time::rfc3339")]
    pub due: i64,
    /// Where it is.
    pub status: Status,
    /// Evidence attached.
    #[serde(default)]
    pub evidence: Vec<String>,
    /// Personal-data records exposed (for money at risk).
    #[serde(default)]
    pub records_exposed: u64,
    /// Status changes, oldest first.
    #[serde(default)]
    pub history: Vec<Change>,
}

impl Finding {
    /// Moves the finding to `to` at `now`, by `by`, with `note`.
    /// Resolving needs a note (the evidence of the fix); accepting a risk
    /// needs a note (the reason) and someone other than the owner.
    ///
    /// # Errors
    /// [`TransitionError`]; the finding is unchanged.
    pub fn transition(
        &mut self,
        to: Status,
        by: &str,
        note: &str,
        now: i64,
    ) -> Result<(), TransitionError> {
        if !is_id(by) {
            return Err(TransitionError::InvalidActor);
        }
        if !self.status.can_go_to(to) {
            return Err(TransitionError::NotAllowed {
                from: self.status.as_str(),
                to: to.as_str(),
            });
        }
        let note_ok = is_text(note);
        match to {
            Status::Resolved if !note_ok => {
                return Err(TransitionError::NoteRequired(
                    "resolving needs the evidence of the fix as a note",
                ));
            }
            Status::RiskAccepted if !note_ok => {
                return Err(TransitionError::NoteRequired(
                    "accepting a risk needs the reason as a note",
                ));
            }
            Status::RiskAccepted if by == self.owner => {
                return Err(TransitionError::SelfAcceptance);
            }
            _ => {}
        }
        if note_ok && to == Status::Resolved {
            self.evidence.push(note.to_owned());
        }
        self.history.push(Change {
            at: now,
            by: by.to_owned(),
            from: self.status,
            to,
            note: if note_ok {
                note.to_owned()
            } else {
                String::new()
            },
        });
        self.status = to;
        Ok(())
    }

    /// The status at time `t` (from the history; `None` before creation).
    pub fn status_at(&self, t: i64) -> Option<Status> {
        if t < self.created {
            return None;
        }
        Some(
            self.history
                .iter()
                .rfind(|c| c.at <= t)
                .map_or(Status::Open, |c| c.to),
        )
    }

    /// When it was last closed (resolved or risk accepted), if it is closed
    /// at `t`.
    pub fn closed_at(&self, t: i64) -> Option<i64> {
        let s = self.status_at(t)?;
        if s.is_open() {
            return None;
        }
        self.history.iter().rfind(|c| c.at <= t).map(|c| c.at)
    }
}

/// How far a finding has escalated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Not overdue (or closed).
    None,
    /// Overdue: the owner is told.
    Owner,
    /// Overdue `manager_after_days`: the owner's manager too.
    Manager,
    /// Overdue `executive_after_days`: the executive role too.
    Executive,
}

impl Level {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Owner => "owner",
            Level::Manager => "manager",
            Level::Executive => "executive",
        }
    }
}

/// A finding's escalation at one instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Escalation {
    /// The finding.
    pub finding: String,
    /// The level reached.
    pub level: Level,
    /// Unix seconds: when that level was reached.
    pub since: i64,
    /// Who to tell (owner first; a missing manager is replaced by the
    /// executive role).
    pub notify: Vec<String>,
    /// Seconds overdue.
    pub overdue_secs: i64,
}

/// The escalation of `f` at `now` under `org`'s reporting lines and
/// thresholds: none unless open or in progress and `now >= due`.
pub fn escalation(f: &Finding, org: &Org, now: i64) -> Escalation {
    let open = f.status_at(now).is_some_and(Status::is_open);
    let overdue = now.saturating_sub(f.due);
    let manager_at = f
        .due
        .saturating_add(i64::from(org.manager_after_days).saturating_mul(DAY));
    let exec_at = f
        .due
        .saturating_add(i64::from(org.executive_after_days).saturating_mul(DAY));
    let (level, since) = if !open || now < f.due {
        (Level::None, now)
    } else if now >= exec_at {
        (Level::Executive, exec_at)
    } else if now >= manager_at {
        (Level::Manager, manager_at)
    } else {
        (Level::Owner, f.due)
    };
    let manager = org
        .managers
        .get(&f.owner)
        .cloned()
        .unwrap_or_else(|| org.executive.clone());
    let mut notify = Vec::new();
    if level >= Level::Owner {
        notify.push(f.owner.clone());
    }
    if level >= Level::Manager {
        notify.push(manager);
    }
    if level >= Level::Executive {
        notify.push(org.executive.clone());
    }
    notify.dedup();
    Escalation {
        finding: f.id.clone(),
        level,
        since,
        notify,
        overdue_secs: overdue.max(0),
    }
}

/// The escalations that fire in `(from, to]`: findings whose level at `to`
/// is higher than at `from` (a periodic job calls this with its last run
/// time and now).
pub fn escalations_between(findings: &[Finding], org: &Org, from: i64, to: i64) -> Vec<Escalation> {
    findings
        .iter()
        .filter_map(|f| {
            let now = escalation(f, org, to);
            (now.level > escalation(f, org, from).level).then_some(now)
        })
        .collect()
}

/// What happened in one week.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WeeklyReport {
    /// Unix seconds: week start (inclusive).
    pub from: i64,
    /// Unix seconds: week end (exclusive).
    pub to: i64,
    /// Findings raised in the week.
    pub opened: Vec<String>,
    /// Findings closed (resolved or risk accepted) in the week.
    pub closed: Vec<String>,
    /// Open at the end of the week and past due.
    pub overdue: Vec<String>,
    /// Escalated to a manager or the executive at the end of the week.
    pub escalated: Vec<Escalation>,
    /// Open at the end of the week.
    pub open: usize,
    /// Money at risk of the open findings, US cents.
    pub open_money_cents: u128,
}

/// The weekly report for `[week_start, week_start + 7 days)`.
pub fn weekly_report(
    findings: &[Finding],
    org: &Org,
    per_record_cents: u64,
    week_start: i64,
) -> WeeklyReport {
    let end = week_start.saturating_add(7 * DAY);
    let last = end.saturating_sub(1);
    let mut r = WeeklyReport {
        from: week_start,
        to: end,
        opened: Vec::new(),
        closed: Vec::new(),
        overdue: Vec::new(),
        escalated: Vec::new(),
        open: 0,
        open_money_cents: 0,
    };
    for f in findings {
        if (week_start..end).contains(&f.created) {
            r.opened.push(f.id.clone());
        }
        if f.history
            .iter()
            .any(|c| (week_start..end).contains(&c.at) && !c.to.is_open())
        {
            r.closed.push(f.id.clone());
        }
        if f.status_at(last).is_some_and(Status::is_open) {
            r.open += 1;
            r.open_money_cents += exposure_cents(f.records_exposed, per_record_cents);
            if last >= f.due {
                r.overdue.push(f.id.clone());
            }
            let e = escalation(f, org, last);
            if e.level >= Level::Manager {
                r.escalated.push(e);
            }
        }
    }
    r
}

/// A finding entered by hand (HTTP body / CLI), before the caller assigns
/// its id and clock.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewFinding {
    title: String,
    owner: String,
    severity: Severity,
    #[serde(default, with = "crate::time::rfc3339_opt")]
    due: Option<i64>,
    #[serde(default)]
    supplier: Option<String>,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    evidence: Vec<String>,
    #[serde(default)]
    records_exposed: u64,
}

fn json<T: serde::de::DeserializeOwned>(data: &[u8]) -> Result<T, ParseError> {
    if data.len() > 1 << 20 {
        return Err(ParseError::at("$", "larger than 1 MiB"));
    }
    let mut de = serde_json::Deserializer::from_slice(data);
    let v: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = crate::error::json_path(e.path());
        ParseError::at(path, e.into_inner().to_string())
    })?;
    de.end().map_err(|e| ParseError::at("$", e.to_string()))?;
    Ok(v)
}

/// Parses a manual finding:
/// `{"title","owner","severity","due"?,"supplier"?,"reference"?,"evidence"?,"records_exposed"?}`
/// (`due` RFC 3339, default from the severity; it must not be before
/// `now`). The finding gets `id`, `created = now`, status open.
///
/// # Errors
/// [`ParseError`] with the JSON path of the field.
pub fn parse_new_finding(data: &[u8], id: &str, now: i64) -> Result<Finding, ParseError> {
    let n: NewFinding = json(data)?;
    if !is_text(&n.title) {
        return Err(ParseError::at(
            "$.title",
            "1-1024 bytes of text, no control characters",
        ));
    }
    if !is_id(&n.owner) {
        return Err(ParseError::at(
            "$.owner",
            "an identifier (A-Z a-z 0-9 . _ - : @)",
        ));
    }
    if let Some(s) = &n.supplier
        && !is_id(s)
    {
        return Err(ParseError::at("$.supplier", "an identifier"));
    }
    if let Some(r) = &n.reference
        && !is_text(r)
    {
        return Err(ParseError::at("$.reference", "1-1024 bytes of text"));
    }
    if n.evidence.len() > 100 {
        return Err(ParseError::at("$.evidence", "at most 100 entries"));
    }
    for (i, e) in n.evidence.iter().enumerate() {
        if !is_text(e) {
            return Err(ParseError::at(
                format!("$.evidence[{i}]"),
                "1-1024 bytes of text",
            ));
        }
    }
    let due = match n.due {
        Some(d) if d < now => return Err(ParseError::at("$.due", "in the past")),
        Some(d) => d,
        None => now.saturating_add(n.severity.default_days() * DAY),
    };
    Ok(Finding {
        id: id.to_owned(),
        title: n.title,
        origin: Origin::Manual,
        reference: n.reference,
        supplier: n.supplier,
        owner: n.owner,
        severity: n.severity,
        created: now,
        due,
        status: Status::Open,
        evidence: n.evidence,
        records_exposed: n.records_exposed,
        history: Vec::new(),
    })
}

/// A change asked for by a person: a new status (with its note), and/or a
/// new owner or due date.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    /// The new status.
    #[serde(default)]
    pub status: Option<Status>,
    /// The note (evidence of a fix; reason of an acceptance).
    #[serde(default)]
    pub note: String,
    /// A new owner.
    #[serde(default)]
    pub owner: Option<String>,
    /// A new due date (RFC 3339).
    #[serde(default, with = "crate::time::rfc3339_opt")]
    pub due: Option<i64>,
}

/// Parses an update: `{"status"?, "note"?, "owner"?, "due"?}`.
///
/// # Errors
/// [`ParseError`] with the JSON path of the field.
pub fn parse_update(data: &[u8]) -> Result<Update, ParseError> {
    let u: Update = json(data)?;
    if let Some(o) = &u.owner
        && !is_id(o)
    {
        return Err(ParseError::at("$.owner", "an identifier"));
    }
    if !u.note.is_empty() && !is_text(&u.note) {
        return Err(ParseError::at(
            "$.note",
            "1-1024 bytes of text, no control characters",
        ));
    }
    if u.status.is_none() && u.owner.is_none() && u.due.is_none() {
        return Err(ParseError::at("$", "nothing to change"));
    }
    Ok(u)
}

/// Applies an update at `now` by `by` (status through
/// [`Finding::transition`]; owner and due date as given).
///
/// # Errors
/// [`TransitionError`]; the finding is unchanged.
pub fn apply_update(
    f: &mut Finding,
    u: &Update,
    by: &str,
    now: i64,
) -> Result<(), TransitionError> {
    let mut next = f.clone();
    if let Some(s) = u.status {
        next.transition(s, by, &u.note, now)?;
    }
    if let Some(o) = &u.owner {
        next.owner = o.clone();
    }
    if let Some(d) = u.due {
        next.due = d;
    }
    *f = next;
    Ok(())
}

/// A finding for a residency violation: high severity, due by the default
/// for high (30 days), all the dataset's records exposed.
pub fn finding_from_violation(v: &Violation, id: &str, owner: &str, now: i64) -> Finding {
    Finding {
        id: id.to_owned(),
        title: v.message.clone(),
        origin: Origin::Residency,
        reference: Some(format!(
            "{}:{}:{}:{}",
            v.dataset, v.kind, v.jurisdiction, v.country
        )),
        supplier: None,
        owner: owner.to_owned(),
        severity: Severity::High,
        created: now,
        due: now.saturating_add(Severity::High.default_days() * DAY),
        status: Status::Open,
        evidence: vec![v.citation.to_owned()],
        records_exposed: v.records,
        history: Vec::new(),
    }
}

/// Findings for an assessment's deductions of 10 points or more (ids
/// `{prefix}-{n}`): severity from the points (≥25 critical, ≥15 high, else
/// medium); `records` is what the supplier can reach (money at risk).
pub fn findings_from_assessment(
    a: &Assessment,
    prefix: &str,
    owner: &str,
    records: u64,
    now: i64,
) -> Vec<Finding> {
    a.deductions
        .iter()
        .filter(|d| d.points >= 10)
        .enumerate()
        .map(|(i, d)| {
            let severity = match d.points {
                25.. => Severity::Critical,
                15..=24 => Severity::High,
                _ => Severity::Medium,
            };
            Finding {
                id: format!("{prefix}-{}", i + 1),
                title: format!("{}: {}", a.name, d.reason),
                origin: Origin::Assessment,
                reference: Some(format!("{}:{}", a.supplier, d.code)),
                supplier: Some(a.supplier.clone()),
                owner: owner.to_owned(),
                severity,
                created: now,
                due: now.saturating_add(severity.default_days() * DAY),
                status: Status::Open,
                evidence: d.evidence.clone(),
                records_exposed: records,
                history: Vec::new(),
            }
        })
        .collect()
}

/// The fuzz entry point for the JSON bodies of findings (new and update):
/// never panics; an accepted new finding is open, due no earlier than
/// `now`, and round-trips through JSON.
///
/// # Errors
/// A broken invariant, in words.
pub fn fuzz_finding_json(data: &[u8]) -> Result<(), String> {
    const NOW: i64 = 1_796_169_600;
    match parse_new_finding(data, "f-fuzz", NOW) {
        Ok(f) => {
            if f.status != Status::Open || f.due < NOW || f.created != NOW {
                return Err(format!("bad new finding {f:?}"));
            }
            let j = serde_json::to_vec(&f).map_err(|e| e.to_string())?;
            let back: Finding = serde_json::from_slice(&j).map_err(|e| e.to_string())?;
            if back != f {
                return Err("finding does not round-trip".into());
            }
        }
        Err(e) if !e.path.starts_with('$') || e.reason.is_empty() => {
            return Err(format!("bad error {e:?}"));
        }
        Err(_) => {}
    }
    match parse_update(data) {
        Err(e) if !e.path.starts_with('$') || e.reason.is_empty() => {
            Err(format!("bad error {e:?}"))
        }
        _ => Ok(()),
    }
}
