//! Which notification duties an incident triggers and by when: every rule of
//! the file is either an [`Obligation`] (with its exact due time, how it was
//! computed, what triggered it and its status against an injected `now`),
//! not triggered (with the reason), or in need of review (the scope cannot
//! decide it). Pure: no clock is read; `now` is an argument.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::calendar::{
    end_of_local_day, format_date, format_duration, format_offset, format_time, group_thousands,
    is_weekend, local_day, parse_date,
};
use crate::incident::Notification;
use crate::rules::{Audience, Clock, Deadline, ReportField, Rule, Rules, Trigger};

const HOUR_MS: i64 = 3_600_000;

/// The answer of a scope query, as the forensic index produces it. Counts
/// are exact distinct subjects; a subject has one country of residence, so
/// per-country counts add up to [`ScopeSummary::subjects`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeSummary {
    /// Distinct data subjects touched.
    pub subjects: u64,
    /// Distinct subjects per data category (`events::DataCategory` names).
    #[serde(default)]
    pub by_category: BTreeMap<String, u64>,
    /// Distinct subjects per ISO 3166-1 alpha-2 country of residence, plus
    /// `unknown`.
    #[serde(default)]
    pub by_country: BTreeMap<String, u64>,
    /// Distinct subjects per ISO 3166-2 subdivision (`US-CA`), when known.
    /// Empty means "no breakdown": rules on subdivisions then need review.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_region: BTreeMap<String, u64>,
    /// Access events counted.
    pub events: u64,
    /// First counted access, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_access_ms: Option<i64>,
    /// Last counted access, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_access_ms: Option<i64>,
    /// The selectors of the query.
    #[serde(default)]
    pub selectors: Selectors,
    /// The event-time window queried, `[from_ms, to_ms)`.
    pub window: TimeWindow,
}

/// What the scope query selected on (empty = not used).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selectors {
    /// Principal ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principal: Vec<String>,
    /// Signing key ids (JWS `kid`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kid: Vec<String>,
    /// Source countries (ISO 3166-1 alpha-2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub src_country: Vec<String>,
    /// Source networks (CIDR).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub src_net: Vec<String>,
    /// Datasets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dataset: Vec<String>,
}

/// A half-open event-time window `[from_ms, to_ms)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// Inclusive start, ms since the epoch.
    pub from_ms: i64,
    /// Exclusive end, ms since the epoch.
    pub to_ms: i64,
}

/// A party owed a notice by contract, known only at incident time (e.g. a
/// customer whose dataset was touched). Always triggered; clock: awareness.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractParty {
    /// Stable id; the obligation's rule id is `contract:<id>`.
    pub id: String,
    /// Who is notified.
    pub party: String,
    /// Who owes the notice; absent means us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obligor: Option<String>,
    /// Hours after awareness.
    pub hours: u32,
    /// The contract clause.
    pub source: String,
    /// What the notice must contain.
    #[serde(default)]
    pub report_fields: Vec<ReportField>,
}

/// What the computation needs to know about an incident.
#[derive(Clone, Copy, Debug)]
pub struct Case<'a> {
    /// When the organisation became aware (ms, UTC).
    pub awareness_ms: i64,
    /// When the incident was determined material (SEC), if it was.
    pub materiality_ms: Option<i64>,
    /// The scope.
    pub scope: &'a ScopeSummary,
    /// Recorded facts (see the rules file's header).
    pub facts: &'a BTreeSet<String>,
    /// Extra contract parties.
    pub contract_parties: &'a [ContractParty],
    /// Notifications already sent.
    pub notifications: &'a [Notification],
}

/// Where an obligation stands at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// Not sent; due in `in_ms` (0 at the due instant).
    DueIn {
        /// Milliseconds left.
        in_ms: i64,
    },
    /// Not sent; the due time passed `by_ms` ago.
    Overdue {
        /// Milliseconds late so far.
        by_ms: i64,
    },
    /// Sent (the earliest notification recorded for the rule).
    Met {
        /// When it was sent.
        sent_at_ms: i64,
        /// How late, if it was sent after the due time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        late_by_ms: Option<i64>,
    },
}

impl Status {
    /// The status of a duty due at `due_ms`, sent at `sent_ms` if it was.
    /// Due exactly now is still "due in 0 min"; sent exactly at the due
    /// time is on time.
    pub fn at(due_ms: i64, sent_ms: Option<i64>, now_ms: i64) -> Status {
        match sent_ms {
            Some(s) => Status::Met {
                sent_at_ms: s,
                late_by_ms: (s > due_ms).then(|| s.saturating_sub(due_ms)),
            },
            None if now_ms <= due_ms => Status::DueIn {
                in_ms: due_ms.saturating_sub(now_ms),
            },
            None => Status::Overdue {
                by_ms: now_ms.saturating_sub(due_ms),
            },
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Status::DueIn { in_ms } => write!(f, "due in {}", format_duration(in_ms)),
            Status::Overdue { by_ms } => write!(f, "overdue by {}", format_duration(by_ms)),
            Status::Met {
                sent_at_ms,
                late_by_ms: None,
            } => write!(f, "met {} (on time)", format_time(sent_at_ms)),
            Status::Met {
                sent_at_ms,
                late_by_ms: Some(l),
            } => write!(
                f,
                "met {} (late by {})",
                format_time(sent_at_ms),
                format_duration(l)
            ),
        }
    }
}

/// A triggered duty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Obligation {
    /// The rule's id (`contract:<id>` for extra contract parties).
    pub rule_id: String,
    /// Who is notified.
    pub party: String,
    /// Who owes the notice; absent means us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obligor: Option<String>,
    /// The rule's jurisdiction.
    pub jurisdiction: String,
    /// Which template a draft uses.
    pub audience: Audience,
    /// Subjects counted where the rule looks (`subjects_in`).
    pub subjects: u64,
    /// Why it triggered (`KR subjects 1,204 ≥ 1,000 threshold`).
    pub trigger: String,
    /// When the clock started (ms, UTC).
    pub clock_start_ms: i64,
    /// The due time (ms, UTC): the legal maximum, or our target when the
    /// law sets none.
    pub due_ms: i64,
    /// Whether `due_ms` is a legal maximum (false: our own target).
    pub legal_maximum: bool,
    /// Our earlier target, when the file sets one besides a legal maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ms: Option<i64>,
    /// How `due_ms` was computed, in words.
    pub how: String,
    /// What the notice must contain.
    pub report_fields: Vec<ReportField>,
    /// Statute, article or clause.
    pub source: String,
    /// Where it stands at the assessment's `now`.
    pub status: Status,
}

/// A rule that is not (or not decidably) an obligation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The rule's id.
    pub rule_id: String,
    /// Who would be notified.
    pub party: String,
    /// The rule's jurisdiction.
    pub jurisdiction: String,
    /// Subjects counted where the rule looks.
    pub subjects: u64,
    /// Why (`KR subjects 812 < 1,000 threshold`).
    pub reason: String,
}

/// Every rule considered, in one of three lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// The `now` statuses are computed against.
    pub now_ms: i64,
    /// Triggered duties, by due time then rule id.
    pub obligations: Vec<Obligation>,
    /// Rules that do not apply, in file order, with the reason.
    pub not_triggered: Vec<Skipped>,
    /// Rules the scope cannot decide (subjects of unknown country or
    /// subdivision could trigger them): a person must look.
    pub needs_review: Vec<Skipped>,
}

enum Eval {
    Triggered { subjects: u64, why: String },
    Not { subjects: u64, why: String },
    Review { subjects: u64, why: String },
}

fn category_in_scope<'a>(list: &'a [String], scope: &ScopeSummary) -> Option<&'a str> {
    list.iter()
        .find(|c| scope.by_category.get(c.as_str()).is_some_and(|&n| n > 0))
        .map(String::as_str)
}

fn threshold_met(t: &Trigger, n: u64) -> bool {
    match (t.min_subjects, t.more_than_subjects) {
        (Some(m), _) => n >= m,
        (None, Some(m)) => n > m,
        (None, None) => n >= 1,
    }
}

fn threshold_text(t: &Trigger, label: &str, n: u64) -> String {
    let n_text = group_thousands(n);
    match (t.min_subjects, t.more_than_subjects) {
        (Some(m), _) if n >= m => format!(
            "{label} subjects {n_text} ≥ {} threshold",
            group_thousands(m)
        ),
        (Some(m), _) => format!(
            "{label} subjects {n_text} < {} threshold",
            group_thousands(m)
        ),
        (None, Some(m)) if n > m => format!(
            "{label} subjects {n_text} > {} threshold",
            group_thousands(m)
        ),
        (None, Some(m)) => format!(
            "{label} subjects {n_text} ≤ {} (more than {} required)",
            group_thousands(m),
            group_thousands(m)
        ),
        (None, None) => format!("{label} subjects {n_text}"),
    }
}

fn evaluate(rule: &Rule, scope: &ScopeSummary, facts: &BTreeSet<String>) -> Eval {
    let t = &rule.trigger;
    let label = if t.subjects_in.iter().any(|c| c == "*") {
        "all"
    } else {
        rule.jurisdiction.as_str()
    };
    let country = |c: &str| scope.by_country.get(c).copied().unwrap_or(0);
    let mut n: u64 = 0;
    let mut undetermined: Vec<(String, u64)> = Vec::new();
    let everyone = t.subjects_in.iter().any(|c| c == "*");
    if everyone {
        n = scope.subjects;
    } else {
        for code in &t.subjects_in {
            match code.split_once('-') {
                Some((c, _)) if scope.by_region.is_empty() => {
                    if country(c) > 0 {
                        undetermined.push((code.clone(), country(c)));
                    }
                }
                Some(_) => n = n.saturating_add(scope.by_region.get(code).copied().unwrap_or(0)),
                None => n = n.saturating_add(country(code)),
            }
        }
    }
    let unknown = if everyone || t.subjects_in.iter().any(|c| c == "unknown") {
        0
    } else {
        country("unknown")
    };
    if let Some(f) = t.require_facts.iter().find(|f| !facts.contains(*f)) {
        return Eval::Not {
            subjects: n,
            why: format!("requires fact `{f}`, not recorded"),
        };
    }
    if let Some(f) = t.exclude_facts.iter().find(|f| facts.contains(*f)) {
        return Eval::Not {
            subjects: n,
            why: format!("excluded by recorded fact `{f}`"),
        };
    }
    if !t.categories.is_empty() && category_in_scope(&t.categories, scope).is_none() {
        return Eval::Not {
            subjects: n,
            why: format!(
                "none of the categories {} is in scope",
                t.categories.join(", ")
            ),
        };
    }
    let by_category = category_in_scope(&t.or_categories, scope);
    let by_fact = t.or_facts.iter().find(|f| facts.contains(*f));
    if n > 0 {
        if threshold_met(t, n) {
            return Eval::Triggered {
                subjects: n,
                why: threshold_text(t, label, n),
            };
        }
        if let Some(c) = by_category {
            return Eval::Triggered {
                subjects: n,
                why: format!("category `{c}` in scope ({})", threshold_text(t, label, n)),
            };
        }
        if let Some(f) = by_fact {
            return Eval::Triggered {
                subjects: n,
                why: format!("fact `{f}` recorded ({})", threshold_text(t, label, n)),
            };
        }
    }
    // Not triggered on what the scope knows; could what it does not know
    // (subdivisions, unknown countries) trigger it?
    if let Some((code, in_country)) = undetermined.first() {
        return Eval::Review {
            subjects: n,
            why: format!(
                "{code} subjects undetermined: the scope counts {} subjects of {} without an ISO 3166-2 breakdown",
                group_thousands(*in_country),
                code.split_once('-').map_or(code.as_str(), |(c, _)| c)
            ),
        };
    }
    let could = n.saturating_add(unknown);
    if unknown > 0 && (threshold_met(t, could) || by_category.is_some() || by_fact.is_some()) {
        return Eval::Review {
            subjects: n,
            why: format!(
                "{}, but {} subjects have no known country",
                threshold_text(t, label, n),
                group_thousands(unknown)
            ),
        };
    }
    let why = if n == 0 {
        let place = if t.subjects_in.len() > 3 {
            rule.jurisdiction.clone()
        } else {
            t.subjects_in.join(", ")
        };
        format!("no subjects in {place}")
    } else {
        threshold_text(t, label, n)
    };
    Eval::Not { subjects: n, why }
}

fn earliest_sent(notifications: &[Notification], rule_id: &str) -> Option<i64> {
    notifications
        .iter()
        .filter(|n| n.rule_id == rule_id)
        .map(|n| n.sent_at_ms)
        .min()
}

struct Due {
    due_ms: i64,
    legal_maximum: bool,
    target_ms: Option<i64>,
    how: String,
}

fn compute_due(rules: &Rules, d: &Deadline, start: i64, clock: &str) -> Due {
    let (offset, holidays): (i32, BTreeSet<i64>) = d
        .calendar
        .as_ref()
        .and_then(|c| rules.calendars.get(c))
        .map(|c| {
            (
                c.utc_offset_minutes,
                c.holidays.iter().filter_map(|h| parse_date(h)).collect(),
            )
        })
        .unwrap_or_default();
    let after = |h: u32| start.saturating_add(i64::from(h).saturating_mul(HOUR_MS));
    let target_ms = d.target_hours.map(after);
    let at = format!("{clock} {}", format_time(start));
    let day0 = local_day(start, offset);
    let (max, mut how) = if let Some(h) = d.hours {
        (Some(after(h)), format!("{h} h after {at}"))
    } else if let Some(n) = d.calendar_days {
        let day = day0.saturating_add(i64::from(n));
        (
            Some(end_of_local_day(day, offset)),
            format!(
                "{n} calendar days after {at} ({} local): end of {} ({})",
                format_date(day0),
                format_date(day),
                format_offset(offset)
            ),
        )
    } else if let Some(n) = d.business_days {
        let mut day = day0;
        let mut counted = 0;
        let mut skipped = Vec::new();
        while counted < n {
            day = day.saturating_add(1);
            if is_weekend(day) {
                continue;
            }
            if holidays.contains(&day) {
                skipped.push(format_date(day));
                continue;
            }
            counted += 1;
        }
        let mut how = format!(
            "{n} business days after {at} ({} local): end of {} ({}), Mon–Fri",
            format_date(day0),
            format_date(day),
            format_offset(offset)
        );
        if !skipped.is_empty() {
            how.push_str(&format!(", skipping holiday {}", skipped.join(", ")));
        }
        (Some(end_of_local_day(day, offset)), how)
    } else {
        (None, String::new())
    };
    match (max, target_ms) {
        (Some(due_ms), target) => {
            if let Some(p) = &d.prompt {
                how = format!("{p}; at the latest {how}");
            }
            if let (Some(t), Some(h)) = (target, d.target_hours) {
                how.push_str(&format!("; our target {h} h: {}", format_time(t)));
            }
            Due {
                due_ms,
                legal_maximum: true,
                target_ms: target,
                how,
            }
        }
        (None, target) => {
            let h = d.target_hours.unwrap_or(0);
            let due_ms = target.unwrap_or(start);
            Due {
                due_ms,
                legal_maximum: false,
                target_ms: None,
                how: format!(
                    "{}: no legal maximum; our target {h} h after {at}",
                    d.prompt.as_deref().unwrap_or("promptly")
                ),
            }
        }
    }
}

fn skipped(rule: &Rule, subjects: u64, reason: String) -> Skipped {
    Skipped {
        rule_id: rule.id.clone(),
        party: rule.party.clone(),
        jurisdiction: rule.jurisdiction.clone(),
        subjects,
        reason,
    }
}

/// Assesses every rule of `rules` for `case` at `now_ms`, plus one
/// obligation per extra contract party. Rules whose clock follows another
/// rule's notice are evaluated after it: their clock starts when that
/// notice was sent, or, while it is not, at that notice's due time (the
/// latest start if the first notice is on time).
pub fn assess(rules: &Rules, case: &Case<'_>, now_ms: i64) -> Assessment {
    let mut obligations: Vec<Obligation> = Vec::new();
    let mut not_triggered = Vec::new();
    let mut needs_review: Vec<Skipped> = Vec::new();
    for second_pass in [false, true] {
        for rule in rules
            .rules
            .iter()
            .filter(|r| (r.clock == Clock::AfterNotice) == second_pass)
        {
            let (subjects, why) = match evaluate(rule, case.scope, case.facts) {
                Eval::Triggered { subjects, why } => (subjects, why),
                Eval::Not { subjects, why } => {
                    not_triggered.push(skipped(rule, subjects, why));
                    continue;
                }
                Eval::Review { subjects, why } => {
                    needs_review.push(skipped(rule, subjects, why));
                    continue;
                }
            };
            let (start, clock) = match rule.clock {
                Clock::Awareness => (case.awareness_ms, "awareness".to_owned()),
                Clock::Materiality => match case.materiality_ms {
                    Some(t) => (t, "materiality determination".to_owned()),
                    None => {
                        not_triggered.push(skipped(
                            rule,
                            subjects,
                            "clock not started: no materiality determination recorded".into(),
                        ));
                        continue;
                    }
                },
                Clock::AfterNotice => {
                    let dep = rule.after_rule.as_deref().unwrap_or_default();
                    if let Some(sent) = earliest_sent(case.notifications, dep) {
                        (sent, format!("the `{dep}` notice sent"))
                    } else if let Some(o) = obligations.iter().find(|o| o.rule_id == dep) {
                        (
                            o.due_ms,
                            format!("the `{dep}` notice (not sent yet; taken at its due time)"),
                        )
                    } else if needs_review.iter().any(|s| s.rule_id == dep) {
                        needs_review.push(skipped(
                            rule,
                            subjects,
                            format!("depends on `{dep}`, which needs review"),
                        ));
                        continue;
                    } else {
                        not_triggered.push(skipped(
                            rule,
                            subjects,
                            format!("depends on `{dep}`, which is not triggered"),
                        ));
                        continue;
                    }
                }
            };
            let due = compute_due(rules, &rule.deadline, start, &clock);
            obligations.push(Obligation {
                rule_id: rule.id.clone(),
                party: rule.party.clone(),
                obligor: rule.obligor.clone(),
                jurisdiction: rule.jurisdiction.clone(),
                audience: rule.audience,
                subjects,
                trigger: why,
                clock_start_ms: start,
                due_ms: due.due_ms,
                legal_maximum: due.legal_maximum,
                target_ms: due.target_ms,
                how: due.how,
                report_fields: rule.report_fields.clone(),
                source: rule.source.clone(),
                status: Status::at(
                    due.due_ms,
                    earliest_sent(case.notifications, &rule.id),
                    now_ms,
                ),
            });
        }
    }
    for p in case.contract_parties {
        let rule_id = format!("contract:{}", p.id);
        let due_ms = case
            .awareness_ms
            .saturating_add(i64::from(p.hours).saturating_mul(HOUR_MS));
        obligations.push(Obligation {
            party: p.party.clone(),
            obligor: p.obligor.clone(),
            jurisdiction: "contract".into(),
            audience: Audience::Counterparty,
            subjects: case.scope.subjects,
            trigger: "contract party named for this incident".into(),
            clock_start_ms: case.awareness_ms,
            due_ms,
            legal_maximum: true,
            target_ms: None,
            how: format!(
                "{} h after awareness {}",
                p.hours,
                format_time(case.awareness_ms)
            ),
            report_fields: p.report_fields.clone(),
            source: p.source.clone(),
            status: Status::at(due_ms, earliest_sent(case.notifications, &rule_id), now_ms),
            rule_id,
        });
    }
    obligations.sort_by(|a, b| (a.due_ms, &a.rule_id).cmp(&(b.due_ms, &b.rule_id)));
    Assessment {
        now_ms,
        obligations,
        not_triggered,
        needs_review,
    }
}

/// For [`crate::fuzz_rules`]: assessing a broad scope at extreme times must
/// not panic, must place every rule in exactly one list, keep obligations
/// sorted and never put a due time before its clock start.
pub(crate) fn fuzz_assess(rules: &Rules) -> Result<(), String> {
    let mut scope = ScopeSummary {
        subjects: 1_000_000,
        events: 5_000_000,
        ..ScopeSummary::default()
    };
    for c in events::DataCategory::NAMES {
        scope.by_category.insert((*c).to_owned(), 1_000_000);
    }
    for (c, n) in [
        ("KR", 700_000),
        ("JP", 1_001),
        ("US", 1_000),
        ("DE", 499),
        ("unknown", 98_500),
    ] {
        scope.by_country.insert(c.to_owned(), n);
    }
    let facts: BTreeSet<String> = rules
        .rules
        .iter()
        .flat_map(|r| r.trigger.or_facts.iter().chain(&r.trigger.require_facts))
        .take(8)
        .cloned()
        .collect();
    let notifications = [Notification {
        rule_id: rules
            .rules
            .first()
            .map(|r| r.id.clone())
            .unwrap_or_default(),
        party: "p".into(),
        sent_at_ms: 1,
        sent_by: "fuzz".into(),
        reference: None,
    }];
    for (awareness, materiality, now) in [
        (0, None, 0),
        (
            1_772_000_000_000,
            Some(1_772_100_000_000),
            1_773_000_000_000,
        ),
        (i64::MAX / 2, Some(i64::MAX), i64::MAX),
        (i64::MIN / 2, Some(i64::MIN), i64::MIN),
    ] {
        let case = Case {
            awareness_ms: awareness,
            materiality_ms: materiality,
            scope: &scope,
            facts: &facts,
            contract_parties: &[],
            notifications: &notifications,
        };
        let a = assess(rules, &case, now);
        let placed = a.obligations.len() + a.not_triggered.len() + a.needs_review.len();
        if placed != rules.rules.len() {
            return Err(format!(
                "{placed} rules placed, {} in the file",
                rules.rules.len()
            ));
        }
        if a.obligations.windows(2).any(|w| match w {
            [x, y] => x.due_ms > y.due_ms,
            _ => false,
        }) {
            return Err("obligations not sorted by due time".into());
        }
        if let Some(o) = a
            .obligations
            .iter()
            .find(|o| o.due_ms < o.clock_start_ms && o.clock_start_ms < i64::MAX / 4)
        {
            return Err(format!("{} due before its clock starts", o.rule_id));
        }
    }
    Ok(())
}
