//! A supplier assessment as NIST OSCAL assessment results (JSON), the
//! model of `usnistgov/OSCAL` (`oscal_assessment-results_schema.json`),
//! version [`OSCAL_VERSION`] — the version whose official models the
//! `compliance-trestle` package carries, against which
//! `tests/outside/oscal_validate.py` checks our output.
//!
//! Mapping:
//! - `metadata`: the assessor (Custos) and the supplier as parties;
//! - `import-ap`: points into `back-matter` at the resource describing the
//!   plan (the questionnaire and the scoring rules of `docs/govern.md`),
//!   since Custos keeps no separate OSCAL assessment plan;
//! - one `result` per assessment: `reviewed-controls` lists the CSA CCM v4
//!   control ids assessed; one `observation` per question (methods
//!   INTERVIEW/EXAMINE for the supplier's word, TEST for what Custos
//!   measured) and one per live metric; one `risk` per score deduction;
//!   one `finding` per CCM control with its objective status
//!   (satisfied / not-satisfied) and links to its observations and risks;
//!   the score and tier as `props` of the result.
//!
//! UUIDs are derived (SHA-256 of a name, RFC 9562 version-4 layout), so the
//! same supplier, question and instant always get the same UUID, as OSCAL
//! asks ("consistently used to identify the same subject across
//! revisions").

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::assess::{Assessment, Check};
use crate::model::{AnswerValue, Supplier};
use crate::time::format_rfc3339;

/// The OSCAL version of the output (`metadata.oscal-version`).
pub const OSCAL_VERSION: &str = "1.2.1";
/// The namespace of Custos's own `props`.
pub const PROP_NS: &str = "https://example.invalid/custos/ns/oscal";
/// Where CSA CCM v4 is published.
pub const CCM_HREF: &str = "https://cloudsecurityalliance.org/research/cloud-controls-matrix";

/// A UUID derived from `name`: the first 16 bytes of SHA-256, with the
/// version (4) and variant (10) bits of RFC 9562 set.
pub fn derived_uuid(name: &str) -> String {
    let h = Sha256::digest(name.as_bytes());
    let mut b = [0u8; 16];
    for (d, s) in b.iter_mut().zip(h.iter()) {
        *d = *s;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8).unwrap_or_default(),
        hex.get(8..12).unwrap_or_default(),
        hex.get(12..16).unwrap_or_default(),
        hex.get(16..20).unwrap_or_default(),
        hex.get(20..32).unwrap_or_default()
    )
}

/// Sets `key` of the object `v` (no-op on a non-object, which cannot
/// happen here: every `v` is built by `json!({...})`).
fn set(v: &mut Value, key: &str, value: Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_owned(), value);
    }
}

/// One live metric as an observation.
struct MetricObs {
    name: &'static str,
    title: &'static str,
    ccm: &'static [&'static str],
    description: String,
    props: Vec<Value>,
}

fn prop(name: &str, value: impl ToString) -> Value {
    let v = value.to_string();
    let v = if v.trim().is_empty() {
        "none".to_owned()
    } else {
        v.trim().to_owned()
    };
    json!({"name": name, "ns": PROP_NS, "value": v})
}

/// One line, for OSCAL titles (`^[^\n]+$`).
fn line(s: &str) -> String {
    let one: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one.trim().is_empty() {
        "untitled".into()
    } else {
        one
    }
}

fn evidence_list(items: &[String]) -> Option<Value> {
    if items.is_empty() {
        return None;
    }
    Some(Value::Array(
        items.iter().map(|e| json!({"description": e})).collect(),
    ))
}

/// The OSCAL assessment-results document of `a` (the assessment of
/// `supplier`), generated at `now`.
pub fn assessment_results(a: &Assessment, supplier: &Supplier, now: i64) -> Value {
    let at = format_rfc3339(a.at);
    let key = format!("{}@{}", a.supplier, a.at);
    let u = |what: &str| derived_uuid(&format!("custos/oscal/{key}/{what}"));
    let custos_party = derived_uuid("custos/oscal/party/custos");
    let supplier_party = derived_uuid(&format!("custos/oscal/party/supplier/{}", a.supplier));
    let plan = u("plan");
    let subject =
        json!([{"subject-uuid": supplier_party, "type": "party", "title": line(&a.name)}]);

    // Observations: one per question, one per live metric.
    let mut observations = Vec::new();
    let mut obs_by_control: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for q in &a.questions {
        let id = u(&format!("observation/{}", q.question.id));
        let mut methods = Vec::new();
        if q.declared.is_some() {
            methods.push("INTERVIEW");
        }
        if !q.evidence.is_empty() {
            methods.push("EXAMINE");
        }
        if matches!(q.question.check, Check::Observed(_)) {
            methods.push("TEST");
        }
        if methods.is_empty() {
            methods.push("UNKNOWN");
        }
        let declared = q.declared.map_or("not answered", AnswerValue::as_str);
        let observed = match q.observed {
            Some(true) => "holds",
            Some(false) => "does not hold",
            None => "not observed by Custos",
        };
        let mut o = json!({
            "uuid": id,
            "title": line(&format!("{}: {}", q.question.id, q.question.text)),
            "description": format!(
                "{} Supplier's answer: {declared}. Live evidence: {observed}.",
                q.question.text
            ),
            "props": [
                prop("question-id", q.question.id),
                prop("dimension", q.question.dimension.as_str()),
                prop("declared-answer", declared.replace(' ', "-")),
                prop("satisfied", q.satisfied),
            ],
            "methods": methods,
            "types": ["control-objective"],
            "subjects": subject,
            "collected": at,
        });
        if let Check::Observed(metric) = q.question.check
            && let Some(p) = o.get_mut("props").and_then(Value::as_array_mut)
        {
            p.push(prop("observed-by", metric.replace(' ', "")));
        }
        if let Some(ev) = evidence_list(&q.evidence) {
            set(&mut o, "relevant-evidence", ev);
        }
        for c in q.question.ccm {
            obs_by_control.entry(c).or_default().push(id.clone());
        }
        observations.push(o);
    }
    let m = &a.metrics;
    let metric_obs = [
        MetricObs {
            name: "grants-within-max-validity",
            title: "Grants within the contract's maximum validity",
            ccm: &["IAM-05"],
            description: format!(
                "{} of {} grants are within {} days ({:.0}%); {} live grants outside the contract's scope.",
                m.grants_within_max_validity,
                m.grants,
                supplier.contract.max_access_validity_days,
                m.validity_share() * 100.0,
                m.grants_outside_contract_scope.len()
            ),
            props: vec![
                prop("grants", m.grants),
                prop("grants-within-max-validity", m.grants_within_max_validity),
                prop(
                    "grants-outside-contract-scope",
                    m.grants_outside_contract_scope.len(),
                ),
            ],
        },
        MetricObs {
            name: "stale-accounts",
            title: "Active accounts unused for 30 days",
            ccm: &["IAM-08"],
            description: format!("{} stale accounts.", m.stale_accounts.len()),
            props: vec![prop("stale-accounts", m.stale_accounts.len())],
        },
        MetricObs {
            name: "offboarding-to-revocation",
            title: "Time from offboarding to revocation",
            ccm: &["IAM-07"],
            description: format!(
                "{} offboardings, {} within the {} h deadline.",
                m.offboardings.len(),
                m.offboardings.iter().filter(|o| o.within_deadline).count(),
                supplier.contract.offboarding_deadline_hours
            ),
            props: vec![
                prop("offboardings", m.offboardings.len()),
                prop(
                    "max-latency-seconds",
                    m.offboardings
                        .iter()
                        .map(|o| o.latency_secs)
                        .max()
                        .unwrap_or(0),
                ),
            ],
        },
        MetricObs {
            name: "alerts",
            title: "Alerts on the supplier's principals and time to acknowledge",
            ccm: &["LOG-03", "LOG-05"],
            description: format!(
                "{} alerts, {} acknowledged; mean time to acknowledge {} s.",
                m.alerts,
                m.alerts_acknowledged,
                m.mean_ack_secs.map_or("n/a".to_owned(), |s| s.to_string())
            ),
            props: vec![
                prop("alerts", m.alerts),
                prop("alerts-acknowledged", m.alerts_acknowledged),
                prop("max-seconds-to-acknowledge", m.max_ack_secs.unwrap_or(0)),
            ],
        },
        MetricObs {
            name: "subprocessor-access-without-consent",
            title: "Sub-processor access without written consent",
            ccm: &["DSP-14"],
            description: format!(
                "{} sub-processors accessed data without written consent.",
                m.unconsented.len()
            ),
            props: vec![prop("subprocessors-without-consent", m.unconsented.len())],
        },
    ];
    for MetricObs {
        name,
        title,
        ccm,
        description,
        props,
    } in metric_obs
    {
        let id = u(&format!("observation/metric/{name}"));
        let evidence: Vec<String> = a
            .deductions
            .iter()
            .filter(|d| d.ccm.iter().any(|c| ccm.contains(c)) && d.code != "questionnaire")
            .flat_map(|d| d.evidence.iter().cloned())
            .collect();
        let mut o = json!({
            "uuid": id,
            "title": title,
            "description": description,
            "props": props,
            "methods": ["TEST"],
            "types": ["discovery"],
            "origins": [{"actors": [{"type": "party", "actor-uuid": custos_party}]}],
            "subjects": subject,
            "collected": at,
        });
        if let Some(ev) = evidence_list(&evidence) {
            set(&mut o, "relevant-evidence", ev);
        }
        for c in ccm {
            obs_by_control.entry(c).or_default().push(id.clone());
        }
        observations.push(o);
    }

    // Risks: one per deduction.
    let mut risks = Vec::new();
    let mut risks_by_control: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (i, d) in a.deductions.iter().enumerate() {
        let id = u(&format!("risk/{i}/{}/{}", d.code, d.dimension.as_str()));
        let related: Vec<Value> = d
            .ccm
            .iter()
            .flat_map(|c| obs_by_control.get(c).cloned().unwrap_or_default())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|o| json!({"observation-uuid": o}))
            .collect();
        let mut r = json!({
            "uuid": id,
            "title": line(&format!("{} (-{} points)", d.code, d.points)),
            "description": d.reason,
            "statement": format!(
                "{} The supplier's score loses {} points in {}. Evidence: {}",
                d.reason,
                d.points,
                d.dimension.title().to_lowercase(),
                if d.evidence.is_empty() { "the contract terms".to_owned() } else { d.evidence.join("; ") }
            ),
            "props": [
                prop("deduction-code", d.code),
                prop("points", d.points),
                prop("dimension", d.dimension.as_str()),
                prop("ccm-controls", d.ccm.join(",")),
            ],
            "status": "open",
        });
        if !related.is_empty() {
            set(&mut r, "related-observations", Value::Array(related));
        }
        for c in d.ccm {
            risks_by_control.entry(c).or_default().push(id.clone());
        }
        risks.push(r);
    }

    // Findings: one per CCM control.
    let controls: BTreeSet<&str> = obs_by_control
        .keys()
        .chain(risks_by_control.keys())
        .copied()
        .collect();
    let mut findings = Vec::new();
    for c in &controls {
        let satisfied = risks_by_control.get(c).is_none_or(Vec::is_empty)
            && a.questions
                .iter()
                .filter(|q| q.question.ccm.contains(c))
                .all(|q| q.satisfied);
        let mut f = json!({
            "uuid": u(&format!("finding/{c}")),
            "title": format!("CCM v4 {c}"),
            "description": format!(
                "{} {} for supplier {}.",
                c,
                if satisfied { "is satisfied" } else { "is not satisfied" },
                a.name
            ),
            "target": {
                "type": "objective-id",
                "target-id": c,
                "status": {"state": if satisfied { "satisfied" } else { "not-satisfied" }},
            },
        });
        if let Some(obs) = obs_by_control.get(c) {
            set(
                &mut f,
                "related-observations",
                Value::Array(obs.iter().map(|o| json!({"observation-uuid": o})).collect()),
            );
        }
        if let Some(rs) = risks_by_control.get(c) {
            let unique: BTreeSet<&String> = rs.iter().collect();
            set(
                &mut f,
                "related-risks",
                Value::Array(
                    unique
                        .into_iter()
                        .map(|r| json!({"risk-uuid": r}))
                        .collect(),
                ),
            );
        }
        findings.push(f);
    }

    let mut result = json!({
        "uuid": u("result"),
        "title": line(&format!("Data-security assessment of {} at {at}", a.name)),
        "description": format!(
            "Questionnaire in four dimensions (access management; continuous monitoring and audit \
             rights; incident response and disclosure; supply-chain extension) checked against \
             live evidence from Custos. Score {} of 100, risk tier {}.",
            a.score,
            a.tier.as_str()
        ),
        "start": at,
        "end": at,
        "props": [
            prop("score", a.score),
            prop("risk-tier", a.tier.as_str()),
            prop("supplier-id", &a.supplier),
        ],
        "reviewed-controls": {
            "description": "CSA Cloud Controls Matrix v4 controls assessed",
            "control-selections": [{
                "include-controls": controls.iter().map(|c| json!({"control-id": c})).collect::<Vec<_>>(),
            }],
        },
        "observations": observations,
        "findings": findings,
    });
    if !risks.is_empty() {
        set(&mut result, "risks", Value::Array(risks));
    }
    json!({
        "assessment-results": {
            "uuid": u("document"),
            "metadata": {
                "title": line(&format!("Supplier data-security assessment: {}", a.name)),
                "last-modified": format_rfc3339(now),
                "version": at,
                "oscal-version": OSCAL_VERSION,
                "roles": [
                    {"id": "assessor", "title": "Assessor"},
                    {"id": "supplier", "title": "Supplier"},
                ],
                "parties": [
                    {"uuid": custos_party, "type": "organization", "name": "Custos (automated assessor)"},
                    {
                        "uuid": supplier_party,
                        "type": "organization",
                        "name": line(&supplier.name),
                        "short-name": supplier.id,
                        "props": [prop("country", &supplier.country)],
                    },
                ],
                "responsible-parties": [
                    {"role-id": "assessor", "party-uuids": [custos_party]},
                    {"role-id": "supplier", "party-uuids": [supplier_party]},
                ],
            },
            "import-ap": {"href": format!("#{plan}")},
            "results": [result],
            "back-matter": {
                "resources": [
                    {
                        "uuid": plan,
                        "title": "Custos supplier assessment plan",
                        "description": "The questionnaire (four dimensions, CCM v4 mapped) and the \
                            scoring rules documented in docs/govern.md of the Custos repository.",
                    },
                    {
                        "uuid": derived_uuid("custos/oscal/resource/ccm-v4"),
                        "title": "CSA Cloud Controls Matrix v4",
                        "rlinks": [{"href": CCM_HREF}],
                    },
                ],
            },
        }
    })
}
