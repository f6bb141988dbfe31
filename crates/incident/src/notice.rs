//! Draft notices, one per obligation, in Markdown: a formal report for an
//! authority or contract party with every required field, filled from the
//! scope where the scope knows it; a plain-language notice for data
//! subjects. What only people can write is marked `[TO COMPLETE: …]`.
//! Deterministic: the same incident and obligation give the same text.

use serde::{Deserialize, Serialize};

use crate::calendar::{format_duration, format_time, group_thousands};
use crate::deadline::{Assessment, Obligation, ScopeSummary, Status};
use crate::incident::{Incident, Source};
use crate::rules::{Audience, ReportField};

/// The marker of every part a person must write.
pub const TO_COMPLETE: &str = "[TO COMPLETE:";

/// A draft notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The obligation's rule id.
    pub rule_id: String,
    /// Who it is for.
    pub party: String,
    /// Which template.
    pub audience: Audience,
    /// A one-line title.
    pub title: String,
    /// The draft, Markdown.
    pub body: String,
}

fn todo(what: &str) -> String {
    format!("{TO_COMPLETE} {what}]")
}

/// Categories with their subject counts, largest first (name order on ties).
fn categories(scope: &ScopeSummary) -> Vec<(&str, u64)> {
    let mut v: Vec<(&str, u64)> = scope
        .by_category
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| (c.as_str(), *n))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

fn countries(scope: &ScopeSummary) -> Vec<(&str, u64)> {
    let mut v: Vec<(&str, u64)> = scope
        .by_country
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| (c.as_str(), *n))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

/// Plain words for a data category.
fn plain(category: &str) -> &str {
    match category {
        "name" => "name",
        "email" => "e-mail address",
        "phone" => "phone number",
        "address" => "postal or delivery address",
        "entrance_code" => "building entrance code",
        "payment" => "payment card details",
        "order_history" => "order history",
        "birth_date" => "date of birth",
        "national_id" => "national identification number",
        "account" => "account details",
        "device" => "device identifiers",
        "location" => "location",
        other => other,
    }
}

fn window_text(scope: &ScopeSummary) -> String {
    match (scope.first_access_ms, scope.last_access_ms) {
        (Some(f), Some(l)) if scope.window.to_ms > scope.window.from_ms => format!(
            "First access {}; last access {} (event-time window queried: {} to {}, end excluded).",
            format_time(f),
            format_time(l),
            format_time(scope.window.from_ms),
            format_time(scope.window.to_ms)
        ),
        (Some(f), Some(l)) => format!(
            "First access {}; last access {}.",
            format_time(f),
            format_time(l)
        ),
        _ => todo("first and last access; the scope has no accesses"),
    }
}

fn route_text(scope: &ScopeSummary) -> String {
    let s = &scope.selectors;
    let mut parts = Vec::new();
    for (label, values) in [
        ("principal", &s.principal),
        ("signing key (kid)", &s.kid),
        ("source country", &s.src_country),
        ("source network", &s.src_net),
        ("dataset", &s.dataset),
    ] {
        if !values.is_empty() {
            let quoted: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
            parts.push(format!("{label} {}", quoted.join(", ")));
        }
    }
    let selected = if parts.is_empty() {
        "The scope was not narrowed by principal, key, source or dataset.".to_owned()
    } else {
        format!("The counted accesses are those by {}.", parts.join("; "))
    };
    format!(
        "{selected}\n\n{}",
        todo("how the access was obtained and through which systems")
    )
}

fn discovery_text(incident: &Incident) -> String {
    let a = &incident.awareness;
    let mut out = format!("Aware since {} ({}).", format_time(a.at_ms), a.by);
    if let Some(c) = a.corrections.last() {
        out.push_str(&format!(
            " Corrected {} time(s); previously {} ({}).",
            a.corrections.len(),
            format_time(c.previous_at_ms),
            c.reason
        ));
    }
    match &incident.source {
        Source::Alerts { alert_ids } => {
            out.push_str(&format!(" Detected by alert(s) {}.", alert_ids.join(", ")));
        }
        Source::Manual { note } => out.push_str(&format!(" Reported: {note}.")),
    }
    out
}

fn field_text(f: ReportField, incident: &Incident, ob: &Obligation) -> String {
    let snapshot = incident.scope.as_ref();
    let scope = snapshot.map(|s| &s.summary);
    let no_scope = || todo("no scope snapshot is recorded for this incident");
    match f {
        ReportField::Categories => match scope.map(categories) {
            Some(v) if !v.is_empty() => v
                .iter()
                .map(|(c, n)| format!("- {c}: {} subjects", group_thousands(*n)))
                .collect::<Vec<_>>()
                .join("\n"),
            Some(_) => todo("no data category in the scope"),
            None => no_scope(),
        },
        ReportField::Subjects => match snapshot {
            Some(s) => {
                let mut t = format!(
                    "{} distinct data subjects (exact count from the forensic index at log size {}).",
                    group_thousands(s.summary.subjects),
                    s.checkpoint_size
                );
                if ob.subjects != s.summary.subjects {
                    t.push_str(&format!(
                        " Of these, {} in {}.",
                        group_thousands(ob.subjects),
                        ob.jurisdiction
                    ));
                }
                t
            }
            None => no_scope(),
        },
        ReportField::SubjectsByCountry => match scope.map(countries) {
            Some(v) if !v.is_empty() => v
                .iter()
                .map(|(c, n)| format!("- {c}: {}", group_thousands(*n)))
                .collect::<Vec<_>>()
                .join("\n"),
            Some(_) => todo("no country breakdown in the scope"),
            None => no_scope(),
        },
        ReportField::Records => match scope {
            Some(s) => format!("{} access events.", group_thousands(s.events)),
            None => no_scope(),
        },
        ReportField::TimeWindow => scope.map_or_else(no_scope, window_text),
        ReportField::Route => scope.map_or_else(no_scope, route_text),
        ReportField::Discovery => discovery_text(incident),
        ReportField::Consequences => todo("likely consequences for the data subjects"),
        ReportField::Countermeasures => format!(
            "Incident status: {}.\n\n{}",
            incident.status,
            todo("measures taken or proposed (keys revoked, accounts disabled, …)")
        ),
        ReportField::SubjectRemedies => {
            todo("what data subjects can do to limit the harm, and their remedies")
        }
        ReportField::ContactPoint => {
            todo("name and contact details of the DPO or other contact point")
        }
        ReportField::DelayReasons => match ob.status {
            Status::Overdue { by_ms } => todo(&format!(
                "reasons for the delay: the notice is {} late",
                format_duration(by_ms)
            )),
            Status::Met {
                late_by_ms: Some(l),
                ..
            } => todo(&format!(
                "reasons for the delay: the notice was {} late",
                format_duration(l)
            )),
            _ => format!("Not applicable if sent by {}.", format_time(ob.due_ms)),
        },
        ReportField::MaterialImpact => todo(
            "material aspects of the nature, scope and timing of the incident, and its material \
             or reasonably likely material impact, including on financial condition and results \
             of operations",
        ),
    }
}

fn header(incident: &Incident, ob: &Obligation) -> String {
    let due_kind = if ob.legal_maximum {
        "legal maximum"
    } else {
        "our target; no legal maximum"
    };
    let mut h = format!(
        "- Rule: `{}` ({})\n- Legal basis: {}\n- Due: {} ({due_kind}); {}\n- Triggered by: {}\n",
        ob.rule_id,
        ob.jurisdiction,
        ob.source,
        format_time(ob.due_ms),
        ob.how,
        ob.trigger
    );
    if let Some(o) = &ob.obligor {
        h.push_str(&format!("- Owed by: {o}\n"));
    }
    h.push_str(&format!(
        "- Incident: {} — {} (status {})\n",
        incident.id, incident.title, incident.status
    ));
    h
}

const FOOTER: &str = "---\nDraft generated by Custos from the incident record. Not legal advice: \
                      review and complete every section before sending.\n";

/// The draft for one obligation.
pub fn draft_notice(incident: &Incident, ob: &Obligation) -> Notice {
    let (title, body) = match ob.audience {
        Audience::Subjects => {
            let title = format!("Notice of Data Breach — draft for {}", ob.party);
            (title.clone(), subjects_body(&title, incident, ob))
        }
        Audience::Authority | Audience::Counterparty => {
            let title = if ob.audience == Audience::Authority {
                format!("Draft breach report to {}", ob.party)
            } else {
                format!("Draft breach notice to {}", ob.party)
            };
            let mut body = format!("# {title}\n\n{}", header(incident, ob));
            for f in &ob.report_fields {
                body.push_str(&format!(
                    "\n## {}\n\n{}\n",
                    f.heading(),
                    field_text(*f, incident, ob)
                ));
            }
            body.push('\n');
            body.push_str(FOOTER);
            (title, body)
        }
    };
    Notice {
        rule_id: ob.rule_id.clone(),
        party: ob.party.clone(),
        audience: ob.audience,
        title,
        body,
    }
}

fn subjects_body(title: &str, incident: &Incident, ob: &Obligation) -> String {
    let scope = incident.scope.as_ref().map(|s| &s.summary);
    let mut b = format!("# {title}\n\n> Internal (remove before sending):\n");
    for line in header(incident, ob).lines() {
        b.push_str(&format!("> {line}\n"));
    }
    b.push_str("\n## What happened\n\n");
    match scope.and_then(|s| s.first_access_ms.zip(s.last_access_ms)) {
        Some((f, l)) => b.push_str(&format!(
            "Between {} and {}, your personal information was accessed without authorisation. \
             We became aware of this on {}. ",
            format_time(f),
            format_time(l),
            format_time(incident.awareness.at_ms)
        )),
        None => b.push_str(&format!(
            "Your personal information was accessed without authorisation. We became aware of \
             this on {}. ",
            format_time(incident.awareness.at_ms)
        )),
    }
    b.push_str(&todo("a short, plain description of how it happened"));
    b.push_str("\n\n## What information was involved\n\n");
    match scope.map(categories) {
        Some(v) if !v.is_empty() => {
            let words: Vec<&str> = v.iter().map(|(c, _)| plain(c)).collect();
            b.push_str(&format!("Your {}.", words.join(", ")));
        }
        _ => b.push_str(&todo("the kinds of information involved")),
    }
    b.push_str("\n\n## What we are doing\n\n");
    b.push_str(&todo("what we did to stop it and to protect you"));
    b.push_str("\n\n## What you can do\n\n");
    b.push_str(&todo(
        "steps you can take to protect yourself, and your rights",
    ));
    b.push_str("\n\n## For more information\n\n");
    b.push_str(&todo("who to contact, how, and when"));
    b.push_str("\n\n");
    b.push_str(FOOTER);
    b
}

/// One draft per obligation of `assessment`, in its order.
pub fn draft_notices(incident: &Incident, assessment: &Assessment) -> Vec<Notice> {
    assessment
        .obligations
        .iter()
        .map(|ob| draft_notice(incident, ob))
        .collect()
}
