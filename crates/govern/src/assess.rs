//! The supplier assessment: a questionnaire in four dimensions, answered by
//! the supplier with evidence attached, checked against live evidence that
//! Custos computes from its own stores (grants, principals, alerts,
//! accesses); a score out of 100 that moves with the evidence, every
//! deduction named with its evidence, and a risk tier.
//!
//! The inputs are plain structs the caller fills from its stores
//! ([`Evidence`]); everything here is a pure function of them and `now`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{AnswerValue, Consent, Supplier};
use crate::time::{DAY, HOUR, format_rfc3339};

/// An account unused for this long is stale (30 days).
pub const STALE_AFTER_SECS: i64 = 30 * DAY;
/// Incident notification longer than this is weaker than PIPA Art. 34 and
/// GDPR Art. 33 ask of the controller (72 hours), which the supplier's
/// notice must leave room for.
pub const NOTIFICATION_CEILING_HOURS: u32 = 72;

/// The four dimensions of the assessment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Who can reach what, for how long, and whether it ends with the job.
    AccessManagement,
    /// Log review and audit rights, and whether Custos sees trouble.
    MonitoringAndAudit,
    /// Incident response and disclosure.
    IncidentResponse,
    /// Sub-processors, staff training and audit records.
    SupplyChain,
}

impl Dimension {
    /// Every dimension, in report order.
    pub const ALL: [Dimension; 4] = [
        Dimension::AccessManagement,
        Dimension::MonitoringAndAudit,
        Dimension::IncidentResponse,
        Dimension::SupplyChain,
    ];

    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::AccessManagement => "access_management",
            Dimension::MonitoringAndAudit => "monitoring_and_audit",
            Dimension::IncidentResponse => "incident_response",
            Dimension::SupplyChain => "supply_chain",
        }
    }

    /// A title for humans.
    pub fn title(self) -> &'static str {
        match self {
            Dimension::AccessManagement => "Access management",
            Dimension::MonitoringAndAudit => "Continuous monitoring and audit rights",
            Dimension::IncidentResponse => "Incident response and disclosure",
            Dimension::SupplyChain => "Supply-chain extension",
        }
    }
}

/// Where the answer to a question comes from besides the supplier's word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Only the supplier's answer and its evidence.
    Declared,
    /// Checked against live evidence or the contract (named metric).
    Observed(&'static str),
}

/// A questionnaire question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Question {
    /// Stable id (`AM-1` …).
    pub id: &'static str,
    /// Its dimension.
    pub dimension: Dimension,
    /// The question.
    pub text: &'static str,
    /// CSA Cloud Controls Matrix v4 control ids it maps to.
    pub ccm: &'static [&'static str],
    /// Whether Custos checks the answer itself.
    pub check: Check,
}

/// The questionnaire. CCM v4 ids: IAM-05 least privilege, IAM-07 user
/// access changes and revocation, IAM-08 user access review, IAM-13
/// uniquely identifiable users, IAM-14 strong authentication, LOG-03
/// security monitoring and alerting, LOG-05 audit logs monitoring and
/// response, STA-09 primary service and contractual agreement, STA-12
/// supply chain service agreement compliance, STA-14 supply chain data
/// security assessment, SEF-04 incident response testing, SEF-07 security
/// breach notification, SEF-08 points of contact maintenance, DSP-14
/// disclosure of data sub-processors, HRS-11 security awareness training.
pub const QUESTIONS: &[Question] = &[
    Question {
        id: "AM-1",
        dimension: Dimension::AccessManagement,
        text: "Does every person reach the company's data through an individual, named account (no shared accounts)?",
        ccm: &["IAM-13"],
        check: Check::Declared,
    },
    Question {
        id: "AM-2",
        dimension: Dimension::AccessManagement,
        text: "Is every access grant least-privilege, within the contract's scope and its maximum validity?",
        ccm: &["IAM-05"],
        check: Check::Observed("grants_within_max_validity, grants_outside_contract_scope"),
    },
    Question {
        id: "AM-3",
        dimension: Dimension::AccessManagement,
        text: "Are unused accounts reviewed and removed (none active and unused for 30 days)?",
        ccm: &["IAM-08"],
        check: Check::Observed("stale_accounts"),
    },
    Question {
        id: "AM-4",
        dimension: Dimension::AccessManagement,
        text: "Is access revoked within the contract's offboarding deadline when a person leaves?",
        ccm: &["IAM-07"],
        check: Check::Observed("offboarding_to_revocation"),
    },
    Question {
        id: "AM-5",
        dimension: Dimension::AccessManagement,
        text: "Is multi-factor authentication required for every account?",
        ccm: &["IAM-14"],
        check: Check::Declared,
    },
    Question {
        id: "MA-1",
        dimension: Dimension::MonitoringAndAudit,
        text: "Does the contract give the company the right to review the supplier's access logs?",
        ccm: &["STA-09", "LOG-05"],
        check: Check::Observed("contract.log_review_rights"),
    },
    Question {
        id: "MA-2",
        dimension: Dimension::MonitoringAndAudit,
        text: "Does the contract give the company audit rights, and was the supplier audited in the last 12 months?",
        ccm: &["STA-12", "STA-14"],
        check: Check::Observed("contract.audit_rights"),
    },
    Question {
        id: "MA-3",
        dimension: Dimension::MonitoringAndAudit,
        text: "Are the supplier's accesses free of unresolved security alerts?",
        ccm: &["LOG-03", "LOG-05"],
        check: Check::Observed("alerts"),
    },
    Question {
        id: "IR-1",
        dimension: Dimension::IncidentResponse,
        text: "Must the supplier notify the company of an incident within 72 hours or less?",
        ccm: &["SEF-07"],
        check: Check::Observed("contract.incident_notification_hours"),
    },
    Question {
        id: "IR-2",
        dimension: Dimension::IncidentResponse,
        text: "Does the supplier keep an incident response plan tested in the last 12 months?",
        ccm: &["SEF-04"],
        check: Check::Declared,
    },
    Question {
        id: "IR-3",
        dimension: Dimension::IncidentResponse,
        text: "Is a security point of contact named and kept current?",
        ccm: &["SEF-08"],
        check: Check::Observed("contacts"),
    },
    Question {
        id: "SC-1",
        dimension: Dimension::SupplyChain,
        text: "Are all sub-processors disclosed, and do they act only with the company's written consent?",
        ccm: &["DSP-14", "STA-09"],
        check: Check::Observed("subprocessor_access_without_consent"),
    },
    Question {
        id: "SC-2",
        dimension: Dimension::SupplyChain,
        text: "Is every person with access trained in data protection at least yearly, with records?",
        ccm: &["HRS-11"],
        check: Check::Declared,
    },
    Question {
        id: "SC-3",
        dimension: Dimension::SupplyChain,
        text: "Are the sub-processors' own security assessments and audit records available to the company?",
        ccm: &["STA-14"],
        check: Check::Declared,
    },
];

/// A grant held by one of the supplier's principals (from the grant store).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantFact {
    /// Grant id.
    pub id: String,
    /// Holder (a principal; group grants are expanded by the caller).
    pub principal: String,
    /// Dataset it opens.
    pub dataset: String,
    /// Categories it opens.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Unix seconds: created (or valid from).
    pub created: i64,
    /// Unix seconds: valid until (exclusive).
    pub expires: i64,
    /// Unix seconds: revoked, if it was.
    #[serde(default)]
    pub revoked: Option<i64>,
}

impl GrantFact {
    /// Live at `now`: not revoked, `created <= now < expires`.
    pub fn live_at(&self, now: i64) -> bool {
        self.revoked.is_none_or(|r| r > now) && self.created <= now && now < self.expires
    }
}

/// A principal of the supplier (from the directory and the ledger).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalFact {
    /// Principal id.
    pub id: String,
    /// Active in the directory.
    pub active: bool,
    /// Unix seconds: created in the directory, if known.
    #[serde(default)]
    pub created: Option<i64>,
    /// Unix seconds: its last access (ledger), if any.
    #[serde(default)]
    pub last_access: Option<i64>,
    /// Unix seconds: the person left (the supplier told us, or the IdP).
    #[serde(default)]
    pub offboarded: Option<i64>,
    /// Unix seconds: its access was revoked (deactivated, grants revoked).
    #[serde(default)]
    pub revoked: Option<i64>,
}

/// A security alert about one of the supplier's principals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertFact {
    /// Alert id.
    pub id: String,
    /// The principal it is about.
    pub principal: String,
    /// Its severity (`low` … `critical`), as the alert store names it.
    pub severity: String,
    /// What it says, in a line.
    #[serde(default)]
    pub title: String,
    /// Unix seconds: raised.
    pub raised: i64,
    /// Unix seconds: acknowledged, if it was.
    #[serde(default)]
    pub acknowledged: Option<i64>,
}

/// Accesses by one principal in the assessed period (from the ledger).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessFact {
    /// The principal.
    pub principal: String,
    /// The sub-processor it works for, if the directory says (overrides
    /// the governance file's account entry).
    #[serde(default)]
    pub subprocessor: Option<String>,
    /// Access events.
    pub accesses: u64,
    /// Distinct data subjects touched.
    #[serde(default)]
    pub subjects: u64,
    /// Unix seconds: first and last access in the period.
    pub first: i64,
    /// Unix seconds: last access in the period.
    pub last: i64,
}

/// Live evidence about one supplier, filled by the caller from Custos's
/// stores. Facts about principals that are not the supplier's accounts are
/// ignored, so the caller may pass everything it has.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Grants held by the supplier's principals.
    #[serde(default)]
    pub grants: Vec<GrantFact>,
    /// The supplier's principals.
    #[serde(default)]
    pub principals: Vec<PrincipalFact>,
    /// Alerts on them.
    #[serde(default)]
    pub alerts: Vec<AlertFact>,
    /// Their accesses in the period.
    #[serde(default)]
    pub accesses: Vec<AccessFact>,
}

/// One offboarding: when the person left, when access was revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Offboarding {
    /// The principal.
    pub principal: String,
    /// Unix seconds: left.
    pub offboarded: i64,
    /// Unix seconds: revoked (`None`: still not revoked at `now`).
    pub revoked: Option<i64>,
    /// Seconds from leaving to revocation (or to `now`, if not revoked).
    pub latency_secs: i64,
    /// Within the contract's offboarding deadline.
    pub within_deadline: bool,
}

/// Accesses by staff of a sub-processor without the company's written
/// consent (or of a sub-processor nobody declared).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnconsentedAccess {
    /// The sub-processor id.
    pub subprocessor: String,
    /// Its consent status (`None`: not declared by the supplier).
    pub consent: Option<Consent>,
    /// The principals that accessed.
    pub principals: Vec<String>,
    /// Access events.
    pub accesses: u64,
    /// Distinct subjects.
    pub subjects: u64,
}

/// The live metrics of one supplier at `now`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    /// The supplier's grants considered.
    pub grants: usize,
    /// Of those, within the contract's maximum validity.
    pub grants_within_max_validity: usize,
    /// Ids of grants longer than the maximum validity.
    pub grants_over_max_validity: Vec<String>,
    /// Ids of live grants outside the contract's datasets or categories,
    /// with what exceeds it.
    pub grants_outside_contract_scope: Vec<(String, String)>,
    /// Active principals unused for [`STALE_AFTER_SECS`] (id, last access).
    pub stale_accounts: Vec<(String, Option<i64>)>,
    /// Offboardings and their revocation latency.
    pub offboardings: Vec<Offboarding>,
    /// Alerts on the supplier's principals.
    pub alerts: usize,
    /// Of those, acknowledged.
    pub alerts_acknowledged: usize,
    /// Mean seconds to acknowledge (acknowledged alerts only).
    pub mean_ack_secs: Option<i64>,
    /// Longest seconds to acknowledge (unacknowledged alerts count to `now`).
    pub max_ack_secs: Option<i64>,
    /// Sub-processor access without written consent.
    pub unconsented: Vec<UnconsentedAccess>,
    /// Datasets reachable through live grants.
    pub reachable_datasets: Vec<String>,
}

impl Metrics {
    /// Share of grants within the maximum validity (1.0 with no grants).
    pub fn validity_share(&self) -> f64 {
        if self.grants == 0 {
            1.0
        } else {
            self.grants_within_max_validity as f64 / self.grants as f64
        }
    }
}

/// One deduction from the score, with its evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Deduction {
    /// Stable code (`stale_account`, `no_audit_rights`, …).
    pub code: &'static str,
    /// Its dimension.
    pub dimension: Dimension,
    /// CCM v4 control ids it bears on.
    pub ccm: &'static [&'static str],
    /// Points taken off.
    pub points: u32,
    /// Why, in a sentence with the figures.
    pub reason: String,
    /// The evidence (ids, times) behind it.
    pub evidence: Vec<String>,
}

/// The result for one question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuestionResult {
    /// The question.
    pub question: &'static Question,
    /// The supplier's answer (`None`: not answered).
    pub declared: Option<AnswerValue>,
    /// Evidence attached to the answer.
    pub evidence: Vec<String>,
    /// What Custos observed, when it checks this question (`Some(true)`:
    /// holds).
    pub observed: Option<bool>,
    /// Satisfied: observed to hold, or (unobserved) declared yes / n/a.
    pub satisfied: bool,
}

/// Risk tier from the score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Score 85 and above.
    Low,
    /// 70–84.
    Moderate,
    /// 50–69.
    High,
    /// Below 50.
    Critical,
}

impl Tier {
    /// The tier of a score.
    pub fn of(score: u32) -> Tier {
        match score {
            85.. => Tier::Low,
            70..=84 => Tier::Moderate,
            50..=69 => Tier::High,
            _ => Tier::Critical,
        }
    }
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Low => "low",
            Tier::Moderate => "moderate",
            Tier::High => "high",
            Tier::Critical => "critical",
        }
    }
}

/// A supplier's assessment at one instant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Assessment {
    /// The supplier id.
    pub supplier: String,
    /// The supplier's name.
    pub name: String,
    /// Unix seconds: when assessed.
    pub at: i64,
    /// 0–100.
    pub score: u32,
    /// From the score.
    pub tier: Tier,
    /// Points lost per dimension.
    pub lost_by_dimension: BTreeMap<Dimension, u32>,
    /// Every deduction, largest first.
    pub deductions: Vec<Deduction>,
    /// Every question's result.
    pub questions: Vec<QuestionResult>,
    /// The live metrics.
    pub metrics: Metrics,
}

/// Computes the live metrics of `supplier` from `evidence` at `now`.
pub fn metrics(supplier: &Supplier, evidence: &Evidence, now: i64) -> Metrics {
    let ours: BTreeSet<&str> = supplier
        .accounts
        .iter()
        .map(|a| a.principal.as_str())
        .collect();
    let t = &supplier.contract;
    let max_validity = i64::from(t.max_access_validity_days) * DAY;
    let deadline = i64::from(t.offboarding_deadline_hours) * HOUR;
    let grants: Vec<&GrantFact> = evidence
        .grants
        .iter()
        .filter(|g| ours.contains(g.principal.as_str()))
        .collect();
    let mut over = Vec::new();
    let mut outside = Vec::new();
    let mut reachable = BTreeSet::new();
    for g in &grants {
        if g.expires.saturating_sub(g.created) > max_validity {
            over.push(g.id.clone());
        }
        if g.live_at(now) {
            reachable.insert(g.dataset.clone());
            let mut beyond = Vec::new();
            if let Some(ds) = &t.allowed_datasets
                && !ds.contains(&g.dataset)
            {
                beyond.push(format!("dataset {}", g.dataset));
            }
            if let Some(cs) = &t.allowed_categories {
                let extra: Vec<&str> = g
                    .categories
                    .iter()
                    .filter(|c| !cs.contains(*c))
                    .map(String::as_str)
                    .collect();
                if !extra.is_empty() {
                    beyond.push(format!("categories {}", extra.join(", ")));
                }
            }
            if !beyond.is_empty() {
                outside.push((g.id.clone(), beyond.join("; ")));
            }
        }
    }
    let principals: Vec<&PrincipalFact> = evidence
        .principals
        .iter()
        .filter(|p| ours.contains(p.id.as_str()))
        .collect();
    let mut stale = Vec::new();
    let mut offboardings = Vec::new();
    for p in &principals {
        let still_active = p.active && p.revoked.is_none_or(|r| r > now);
        if still_active {
            let since = p.last_access.or(p.created);
            if since.is_none_or(|t| now.saturating_sub(t) >= STALE_AFTER_SECS) {
                stale.push((p.id.clone(), p.last_access));
            }
        }
        if let Some(off) = p.offboarded
            && off <= now
        {
            let revoked = p.revoked.filter(|r| *r <= now);
            let latency = revoked.unwrap_or(now).saturating_sub(off).max(0);
            offboardings.push(Offboarding {
                principal: p.id.clone(),
                offboarded: off,
                revoked,
                latency_secs: latency,
                within_deadline: latency <= deadline,
            });
        }
    }
    let alerts: Vec<&AlertFact> = evidence
        .alerts
        .iter()
        .filter(|a| ours.contains(a.principal.as_str()) && a.raised <= now)
        .collect();
    let acked: Vec<i64> = alerts
        .iter()
        .filter_map(|a| a.acknowledged.map(|k| k.saturating_sub(a.raised).max(0)))
        .collect();
    let mean_ack = if acked.is_empty() {
        None
    } else {
        let n = i64::try_from(acked.len()).unwrap_or(i64::MAX);
        Some(acked.iter().fold(0i64, |s, x| s.saturating_add(*x)) / n)
    };
    let max_ack = alerts
        .iter()
        .map(|a| {
            a.acknowledged
                .unwrap_or(now)
                .saturating_sub(a.raised)
                .max(0)
        })
        .max();
    let mut by_sp: BTreeMap<String, UnconsentedAccess> = BTreeMap::new();
    for a in evidence.accesses.iter().filter(|a| a.accesses > 0) {
        let Some(account) = supplier
            .accounts
            .iter()
            .find(|x| x.principal == a.principal)
        else {
            continue;
        };
        let Some(sp_id) = a.subprocessor.as_ref().or(account.subprocessor.as_ref()) else {
            continue;
        };
        let consent = supplier
            .subprocessors
            .iter()
            .find(|s| &s.id == sp_id)
            .map(|s| s.consent);
        let consented = consent == Some(Consent::Written)
            || (consent.is_some() && !t.subprocessing_requires_written_consent);
        if consented {
            continue;
        }
        let e = by_sp
            .entry(sp_id.clone())
            .or_insert_with(|| UnconsentedAccess {
                subprocessor: sp_id.clone(),
                consent,
                principals: Vec::new(),
                accesses: 0,
                subjects: 0,
            });
        if !e.principals.contains(&a.principal) {
            e.principals.push(a.principal.clone());
        }
        e.accesses = e.accesses.saturating_add(a.accesses);
        e.subjects = e.subjects.saturating_add(a.subjects);
    }
    Metrics {
        grants: grants.len(),
        grants_within_max_validity: grants.len() - over.len(),
        grants_over_max_validity: over,
        grants_outside_contract_scope: outside,
        stale_accounts: stale,
        offboardings,
        alerts: alerts.len(),
        alerts_acknowledged: acked.len(),
        mean_ack_secs: mean_ack,
        max_ack_secs: max_ack,
        unconsented: by_sp.into_values().collect(),
        reachable_datasets: reachable.into_iter().collect(),
    }
}

fn hours(secs: i64) -> String {
    format!("{:.1} h", secs as f64 / 3600.0)
}

fn capped(per: u32, n: usize, cap: u32) -> u32 {
    per.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX))
        .min(cap)
}

/// Assesses `supplier` at `now` from its answers, its contract and the live
/// `evidence`.
///
/// The score starts at 100 and loses, each capped as shown:
/// grants beyond the maximum validity 5 each (15); live grants outside the
/// contract's scope 15 each (30); stale accounts 10 each (20); offboardings
/// revoked late 10 each, not revoked past the deadline 15 each (30);
/// alerts 5 each (15), acknowledged slower than the contract's notification
/// window or not at all past it 3 each (9); each sub-processor acting
/// without written consent 25 (40); contract terms: no log review rights 5,
/// no audit rights 5, sub-processing without a written-consent clause 5,
/// notification window over 72 h 5; no security contact 3; questionnaire:
/// per dimension (12), `no` 4, `partial` 2, unanswered 2, and a declared
/// `yes` that live evidence contradicts 5.
pub fn assess(supplier: &Supplier, evidence: &Evidence, now: i64) -> Assessment {
    let m = metrics(supplier, evidence, now);
    let t = &supplier.contract;
    let mut d: Vec<Deduction> = Vec::new();
    let mut push = |code: &'static str,
                    dimension: Dimension,
                    ccm: &'static [&'static str],
                    points: u32,
                    reason: String,
                    evidence: Vec<String>| {
        if points > 0 {
            d.push(Deduction {
                code,
                dimension,
                ccm,
                points,
                reason,
                evidence,
            });
        }
    };
    use Dimension::*;
    push(
        "grant_over_max_validity",
        AccessManagement,
        &["IAM-05"],
        capped(5, m.grants_over_max_validity.len(), 15),
        format!(
            "{} of {} grants exceed the contract's maximum validity of {} days ({:.0}% within)",
            m.grants_over_max_validity.len(),
            m.grants,
            t.max_access_validity_days,
            m.validity_share() * 100.0
        ),
        m.grants_over_max_validity.clone(),
    );
    push(
        "grant_outside_contract_scope",
        AccessManagement,
        &["IAM-05"],
        capped(15, m.grants_outside_contract_scope.len(), 30),
        format!(
            "{} live grants reach beyond the contract's datasets or categories (over-privileged)",
            m.grants_outside_contract_scope.len()
        ),
        m.grants_outside_contract_scope
            .iter()
            .map(|(g, why)| format!("{g}: {why}"))
            .collect(),
    );
    push(
        "stale_account",
        AccessManagement,
        &["IAM-08"],
        capped(10, m.stale_accounts.len(), 20),
        format!(
            "{} active accounts unused for 30 days or more",
            m.stale_accounts.len()
        ),
        m.stale_accounts
            .iter()
            .map(|(p, last)| match last {
                Some(t) => format!("{p}: last access {}", format_rfc3339(*t)),
                None => format!("{p}: never used"),
            })
            .collect(),
    );
    let late: Vec<&Offboarding> = m
        .offboardings
        .iter()
        .filter(|o| !o.within_deadline && o.revoked.is_some())
        .collect();
    let open: Vec<&Offboarding> = m
        .offboardings
        .iter()
        .filter(|o| !o.within_deadline && o.revoked.is_none())
        .collect();
    let off_points = (capped(10, late.len(), 30) + capped(15, open.len(), 30)).min(30);
    push(
        "offboarding_revocation_late",
        AccessManagement,
        &["IAM-07"],
        off_points,
        format!(
            "{} leavers revoked after the {} h deadline, {} still not revoked",
            late.len(),
            t.offboarding_deadline_hours,
            open.len()
        ),
        late.iter()
            .chain(open.iter())
            .map(|o| {
                format!(
                    "{}: left {}, {} after {}",
                    o.principal,
                    format_rfc3339(o.offboarded),
                    if o.revoked.is_some() {
                        "revoked"
                    } else {
                        "still open"
                    },
                    hours(o.latency_secs)
                )
            })
            .collect(),
    );
    let alert_list: Vec<&AlertFact> = evidence
        .alerts
        .iter()
        .filter(|a| a.raised <= now && supplier.accounts.iter().any(|x| x.principal == a.principal))
        .collect();
    push(
        "alerts_on_principals",
        MonitoringAndAudit,
        &["LOG-03", "SEF-06"],
        capped(5, alert_list.len(), 15),
        format!(
            "{} security alerts on the supplier's principals ({} acknowledged)",
            m.alerts, m.alerts_acknowledged
        ),
        alert_list
            .iter()
            .map(|a| format!("{} ({}) on {}: {}", a.id, a.severity, a.principal, a.title))
            .collect(),
    );
    let window = i64::from(t.incident_notification_hours) * HOUR;
    let slow: Vec<&&AlertFact> = alert_list
        .iter()
        .filter(|a| a.acknowledged.unwrap_or(now).saturating_sub(a.raised) > window)
        .collect();
    push(
        "alerts_slow_acknowledgement",
        IncidentResponse,
        &["SEF-06", "LOG-05"],
        capped(3, slow.len(), 9),
        format!(
            "{} alerts acknowledged after the {} h notification window, or not yet",
            slow.len(),
            t.incident_notification_hours
        ),
        slow.iter()
            .map(|a| {
                let took = a.acknowledged.unwrap_or(now).saturating_sub(a.raised);
                format!("{}: {}", a.id, hours(took))
            })
            .collect(),
    );
    push(
        "subprocessor_without_consent",
        SupplyChain,
        &["DSP-14", "STA-09"],
        capped(25, m.unconsented.len(), 40),
        format!(
            "{} sub-processors reached the company's data without written consent",
            m.unconsented.len()
        ),
        m.unconsented
            .iter()
            .map(|u| {
                format!(
                    "{} (consent: {}): {} accesses, {} subjects by {}",
                    u.subprocessor,
                    u.consent.map_or("undeclared", Consent::as_str),
                    u.accesses,
                    u.subjects,
                    u.principals.join(", ")
                )
            })
            .collect(),
    );
    let contract_term = |ok: bool| if ok { 0 } else { 5 };
    push(
        "no_log_review_rights",
        MonitoringAndAudit,
        &["STA-09", "LOG-05"],
        contract_term(t.log_review_rights),
        "the contract gives no right to review the supplier's access logs".into(),
        vec!["contract.log_review_rights = false".into()],
    );
    push(
        "no_audit_rights",
        MonitoringAndAudit,
        &["STA-12"],
        contract_term(t.audit_rights),
        "the contract gives no right to audit the supplier".into(),
        vec!["contract.audit_rights = false".into()],
    );
    push(
        "no_written_consent_clause",
        SupplyChain,
        &["STA-09", "DSP-14"],
        contract_term(t.subprocessing_requires_written_consent),
        "the contract lets the supplier sub-process without written consent".into(),
        vec!["contract.subprocessing_requires_written_consent = false".into()],
    );
    push(
        "slow_incident_notification",
        IncidentResponse,
        &["SEF-07"],
        contract_term(t.incident_notification_hours <= NOTIFICATION_CEILING_HOURS),
        format!(
            "the contract allows {} h to notify an incident (more than {NOTIFICATION_CEILING_HOURS} h)",
            t.incident_notification_hours
        ),
        vec![format!(
            "contract.incident_notification_hours = {}",
            t.incident_notification_hours
        )],
    );
    let has_security_contact = supplier
        .contacts
        .iter()
        .any(|c| c.role.eq_ignore_ascii_case("security"));
    push(
        "no_security_contact",
        IncidentResponse,
        &["SEF-08"],
        if has_security_contact { 0 } else { 3 },
        "no security point of contact is named".into(),
        Vec::new(),
    );

    // The questionnaire, with live checks where Custos can see.
    let observed = |id: &str| -> Option<bool> {
        Some(match id {
            "AM-2" => {
                m.grants_over_max_validity.is_empty() && m.grants_outside_contract_scope.is_empty()
            }
            "AM-3" => m.stale_accounts.is_empty(),
            "AM-4" => m.offboardings.iter().all(|o| o.within_deadline),
            "MA-1" => t.log_review_rights,
            "MA-2" => t.audit_rights,
            "MA-3" => slow.is_empty() && alert_list.iter().all(|a| a.acknowledged.is_some()),
            "IR-1" => t.incident_notification_hours <= NOTIFICATION_CEILING_HOURS,
            "IR-3" => has_security_contact,
            "SC-1" => m.unconsented.is_empty(),
            _ => return None,
        })
    };
    let mut questions = Vec::new();
    let mut by_dim: BTreeMap<Dimension, (u32, Vec<String>)> = BTreeMap::new();
    for q in QUESTIONS {
        let answer = supplier.answers.iter().find(|a| a.question == q.id);
        let declared = answer.map(|a| a.answer);
        let obs = observed(q.id);
        let satisfied = match (obs, declared) {
            (Some(o), _) => o,
            (None, Some(AnswerValue::Yes | AnswerValue::NotApplicable)) => true,
            (None, _) => false,
        };
        let (points, why) = match (declared, obs) {
            (Some(AnswerValue::Yes), Some(false)) => {
                (5, "declared yes, contradicted by live evidence")
            }
            (Some(AnswerValue::No), _) => (4, "answered no"),
            (Some(AnswerValue::Partial), _) => (2, "answered partial"),
            (None, _) => (2, "not answered"),
            _ => (0, ""),
        };
        if points > 0 {
            let e = by_dim.entry(q.dimension).or_default();
            e.0 += points;
            e.1.push(format!("{} {why}", q.id));
        }
        questions.push(QuestionResult {
            question: q,
            declared,
            evidence: answer.map(|a| a.evidence.clone()).unwrap_or_default(),
            observed: obs,
            satisfied,
        });
    }
    for (dim, (points, ev)) in by_dim {
        let ccm: &'static [&'static str] = match dim {
            AccessManagement => &["IAM-05", "IAM-07", "IAM-08", "IAM-13", "IAM-14"],
            MonitoringAndAudit => &["STA-09", "STA-12", "STA-14", "LOG-03", "LOG-05"],
            IncidentResponse => &["SEF-04", "SEF-07", "SEF-08"],
            SupplyChain => &["DSP-14", "STA-09", "STA-14", "HRS-11"],
        };
        push(
            "questionnaire",
            dim,
            ccm,
            points.min(12),
            format!("questionnaire answers in {}", dim.title().to_lowercase()),
            ev,
        );
    }
    d.sort_by(|a, b| b.points.cmp(&a.points).then(a.code.cmp(b.code)));
    let lost: u32 = d.iter().map(|x| x.points).sum();
    let score = 100u32.saturating_sub(lost);
    let mut lost_by_dimension = BTreeMap::new();
    for dim in Dimension::ALL {
        lost_by_dimension.insert(
            dim,
            d.iter()
                .filter(|x| x.dimension == dim)
                .map(|x| x.points)
                .sum(),
        );
    }
    Assessment {
        supplier: supplier.id.clone(),
        name: supplier.name.clone(),
        at: now,
        score,
        tier: Tier::of(score),
        lost_by_dimension,
        deductions: d,
        questions,
        metrics: m,
    }
}

/// Parses live evidence from JSON (the shape of [`Evidence`], times in unix
/// seconds), with the field path in the error.
///
/// # Errors
/// [`ParseError`](crate::ParseError) naming the field.
pub fn parse_evidence(data: &[u8]) -> Result<Evidence, crate::ParseError> {
    if data.len() > crate::model::MAX_FILE_BYTES {
        return Err(crate::ParseError::at("$", "larger than 4 MiB"));
    }
    let mut de = serde_json::Deserializer::from_slice(data);
    let e: Evidence = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        crate::ParseError::at(
            crate::error::json_path(e.path()),
            e.into_inner().to_string(),
        )
    })?;
    de.end()
        .map_err(|e| crate::ParseError::at("$", e.to_string()))?;
    Ok(e)
}
