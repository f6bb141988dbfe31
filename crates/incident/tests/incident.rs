#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The incident model, its JSON, and the draft notices made from it.

use incident::{
    Audience, Incident, IncidentError, IncidentStatus, NewIncident, Notification, SHIPPED_RULES,
    ScopeSnapshot, ScopeSummary, Selectors, Severity, Source, TO_COMPLETE, TimeWindow, assess,
    draft_notice, draft_notices, parse_rules,
};

fn t(s: &str) -> i64 {
    events::parse_rfc3339(s).unwrap()
}

const H: i64 = 3_600_000;

fn now() -> i64 {
    t("2026-07-01T10:00:00Z")
}

fn opened() -> Incident {
    Incident::open(
        NewIncident {
            id: "inc-1".into(),
            title: "Forged customer tokens from abroad".into(),
            severity: Severity::Critical,
            source: Source::Alerts {
                alert_ids: vec!["al-7".into(), "al-9".into()],
            },
            opened_by: "soc-1".into(),
            awareness_at_ms: t("2026-07-01T09:00:00Z"),
            awareness_by: "soc-1".into(),
        },
        now(),
    )
    .unwrap()
}

fn notification(rule: &str, at: i64) -> Notification {
    Notification {
        rule_id: rule.into(),
        party: "PIPC".into(),
        sent_at_ms: at,
        sent_by: "dpo".into(),
        reference: Some("PIPC-2026-001".into()),
    }
}

#[test]
fn transitions_go_forward_one_step_at_a_time() {
    let mut i = opened();
    assert_eq!(i.status, IncidentStatus::Open);
    assert_eq!(
        i.transition(IncidentStatus::Notified, "soc-1", now()),
        Err(IncidentError::Transition {
            from: IncidentStatus::Open,
            to: IncidentStatus::Notified
        })
    );
    assert_eq!(
        i.transition(IncidentStatus::Closed, "soc-1", now())
            .unwrap_err()
            .to_string(),
        "cannot move from open to closed: only open → contained is allowed"
    );
    assert_eq!(
        i.transition(IncidentStatus::Contained, "soc-1", now()),
        Ok(1)
    );
    assert_eq!(
        i.transition(IncidentStatus::Notified, "soc-1", now()),
        Err(IncidentError::NoNotification)
    );
    i.record_notification(notification("kr-pipa-report", now()), now())
        .unwrap();
    i.transition(IncidentStatus::Notified, "dpo", now())
        .unwrap();
    assert_eq!(
        i.transition(IncidentStatus::Contained, "dpo", now()),
        Err(IncidentError::Transition {
            from: IncidentStatus::Notified,
            to: IncidentStatus::Contained
        })
    );
    i.transition(IncidentStatus::Closed, "dpo", now()).unwrap();
    assert_eq!(
        i.note("late remark", "dpo", now()),
        Err(IncidentError::Closed)
    );
    assert_eq!(
        i.record_notification(notification("x", now()), now()),
        Err(IncidentError::Closed)
    );
    assert!(matches!(
        i.transition(IncidentStatus::Open, "dpo", now()),
        Err(IncidentError::Transition { .. })
    ));
    let texts: Vec<&str> = i.timeline.iter().map(|x| x.text.as_str()).collect();
    assert_eq!(texts[1], "status open → contained");
    assert_eq!(texts.last().copied(), Some("status notified → closed"));
}

#[test]
fn open_refuses_bad_input() {
    let mut new = NewIncident {
        id: " ".into(),
        title: "t".into(),
        severity: Severity::Low,
        source: Source::Manual {
            note: "customer complaint".into(),
        },
        opened_by: "a".into(),
        awareness_at_ms: now(),
        awareness_by: "a".into(),
    };
    assert_eq!(
        Incident::open(new.clone(), now()).unwrap_err().to_string(),
        "id: must not be empty"
    );
    new.id = "inc-2".into();
    new.awareness_at_ms = now() + 1;
    assert!(matches!(
        Incident::open(new.clone(), now()),
        Err(IncidentError::Future {
            field: "awareness.at_ms",
            ..
        })
    ));
    new.awareness_at_ms = now();
    new.source = Source::Alerts { alert_ids: vec![] };
    assert!(Incident::open(new, now()).is_err());
}

#[test]
fn awareness_is_corrected_only_with_a_reason_and_kept_in_history() {
    let mut i = opened();
    assert!(matches!(
        i.correct_awareness(t("2026-06-28T00:00:00Z"), "", "dpo", now()),
        Err(IncidentError::Text {
            field: "reason",
            ..
        })
    ));
    assert_eq!(
        i.correct_awareness(t("2026-07-01T09:00:00Z"), "same", "dpo", now()),
        Err(IncidentError::Unchanged {
            field: "awareness.at_ms"
        })
    );
    assert!(matches!(
        i.correct_awareness(now() + H, "later", "dpo", now()),
        Err(IncidentError::Future { .. })
    ));
    let reason = "a customer complaint on 2026-06-28 already described the access";
    let seq = i
        .correct_awareness(t("2026-06-28T00:00:00Z"), reason, "dpo", now() + H)
        .unwrap();
    assert_eq!(i.awareness.at_ms, t("2026-06-28T00:00:00Z"));
    assert_eq!(i.awareness.by, "dpo");
    assert_eq!(i.awareness.corrections.len(), 1);
    let c = &i.awareness.corrections[0];
    assert_eq!(c.previous_at_ms, t("2026-07-01T09:00:00Z"));
    assert_eq!(c.previous_by, "soc-1");
    assert_eq!(c.reason, reason);
    assert_eq!(c.corrected_at_ms, now() + H);
    assert_eq!(
        i.timeline[seq as usize].text,
        format!("awareness corrected 2026-07-01T09:00:00Z → 2026-06-28T00:00:00Z: {reason}")
    );
    // Deadlines follow the corrected moment.
    let rules = parse_rules(SHIPPED_RULES).unwrap();
    let mut s = ScopeSummary::default();
    s.by_country.insert("KR".into(), 10);
    s.subjects = 10;
    i.record_scope(snapshot(s), now() + H).unwrap();
    let a = assess(&rules, &i.case(&[]), now() + H);
    let o = a
        .obligations
        .iter()
        .find(|o| o.rule_id == "kr-pipa-subjects")
        .unwrap();
    assert_eq!(o.due_ms, t("2026-07-01T00:00:00Z"));
    assert!(o.status.to_string().starts_with("overdue by 11 h"));
}

fn snapshot(summary: ScopeSummary) -> ScopeSnapshot {
    ScopeSnapshot {
        checkpoint_size: 4_200_000,
        summary,
        taken_at_ms: now(),
        taken_by: "ir-lead".into(),
    }
}

#[test]
fn materiality_is_set_once_then_corrected() {
    let mut i = opened();
    assert_eq!(
        i.correct_materiality(now(), "r", "cfo", now()),
        Err(IncidentError::NotDetermined)
    );
    i.determine_materiality(now(), "disclosure-committee", now())
        .unwrap();
    assert_eq!(
        i.determine_materiality(now(), "x", now()),
        Err(IncidentError::AlreadyDetermined)
    );
    i.correct_materiality(
        now() - H,
        "minutes show the decision an hour earlier",
        "gc",
        now(),
    )
    .unwrap();
    let m = i.materiality.as_ref().unwrap();
    assert_eq!(m.at_ms, now() - H);
    assert_eq!(m.corrections[0].previous_at_ms, now());
}

#[test]
fn ledger_indices_are_filled_once() {
    let mut i = opened();
    let seq = i
        .record_fact("wrongful_purpose", "ir-lead", now())
        .unwrap()
        .unwrap();
    assert_eq!(
        i.record_fact("wrongful_purpose", "ir-lead", now()),
        Ok(None)
    );
    assert_eq!(i.timeline[seq as usize].ledger_index, None);
    i.set_ledger_index(seq, 77).unwrap();
    i.set_ledger_index(seq, 77).unwrap();
    assert_eq!(
        i.set_ledger_index(seq, 78),
        Err(IncidentError::LedgerIndexSet { seq, existing: 77 })
    );
    assert_eq!(
        i.set_ledger_index(99, 1),
        Err(IncidentError::NoTimelineItem { seq: 99 })
    );
    assert_eq!(i.timeline[seq as usize].ledger_index, Some(77));
}

#[test]
fn json_round_trips_with_stable_names_and_is_checked_on_read() {
    let mut i = opened();
    i.record_fact("wrongful_purpose", "ir", now()).unwrap();
    i.record_notification(notification("kr-pipa-report", now()), now())
        .unwrap();
    i.set_ledger_index(0, 5).unwrap();
    let json = i.to_json();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["status"], "open");
    assert_eq!(v["severity"], "critical");
    assert_eq!(v["source"]["kind"], "alerts");
    assert_eq!(v["awareness"]["at_ms"], t("2026-07-01T09:00:00Z"));
    assert_eq!(v["timeline"][0]["kind"], "opened");
    assert_eq!(v["timeline"][0]["ledger_index"], 5);
    assert_eq!(v["notifications"][0]["reference"], "PIPC-2026-001");
    assert_eq!(Incident::from_json(json.as_bytes()).unwrap(), i);
    let bad = json.replace("\"severity\":\"critical\"", "\"severity\":7");
    let e = Incident::from_json(bad.as_bytes()).unwrap_err().to_string();
    assert!(e.starts_with("severity: "), "{e}");
    let bad = json
        .replace("\"status\":\"open\"", "\"status\":\"closed\"")
        .replace(&serde_json::to_string(&i.notifications).unwrap(), "[]");
    assert_eq!(
        Incident::from_json(bad.as_bytes()).unwrap_err().to_string(),
        "notifications: notified or closed without a notification"
    );
    let bad = json.replace("\"seq\":1", "\"seq\":5");
    assert_eq!(
        Incident::from_json(bad.as_bytes()).unwrap_err().to_string(),
        "timeline[1].seq: must equal the position"
    );
    for hostile in [&b""[..], b"{", b"[]", b"{\"id\":1}", b"\xff"] {
        assert!(Incident::from_json(hostile).is_err());
    }
}

fn coupang_like() -> Incident {
    let mut i = opened();
    let mut s = ScopeSummary {
        subjects: 33_700_000,
        events: 148_000_000,
        first_access_ms: Some(t("2025-04-14T03:12:00Z")),
        last_access_ms: Some(t("2025-11-08T21:40:00Z")),
        selectors: Selectors {
            kid: vec!["auth-2019".into()],
            src_country: vec!["CN".into()],
            ..Selectors::default()
        },
        window: TimeWindow {
            from_ms: t("2025-01-01T00:00:00Z"),
            to_ms: t("2025-11-09T00:00:00Z"),
        },
        ..ScopeSummary::default()
    };
    for (c, n) in [
        ("KR", 33_690_000),
        ("JP", 6_000),
        ("TW", 3_990),
        ("unknown", 10),
    ] {
        s.by_country.insert(c.into(), n);
    }
    for (c, n) in [
        ("name", 33_700_000),
        ("address", 33_700_000),
        ("entrance_code", 2_100_000),
        ("phone", 33_700_000),
    ] {
        s.by_category.insert(c.into(), n);
    }
    i.record_scope(snapshot(s), now()).unwrap();
    i.record_fact("wrongful_purpose", "ir", now()).unwrap();
    i
}

#[test]
fn notices_fill_what_the_scope_knows_and_mark_the_rest() {
    let i = coupang_like();
    let rules = parse_rules(SHIPPED_RULES).unwrap();
    let a = assess(&rules, &i.case(&[]), now());
    let notices = draft_notices(&i, &a);
    assert_eq!(notices.len(), a.obligations.len());
    let report = notices
        .iter()
        .find(|n| n.rule_id == "kr-pipa-report")
        .unwrap();
    assert_eq!(report.audience, Audience::Authority);
    assert_eq!(
        report.title,
        "Draft breach report to Personal Information Protection Commission (PIPC) or KISA"
    );
    let b = &report.body;
    for needle in [
        "- Due: 2026-07-04T09:00:00Z (legal maximum); without delay; at the latest 72 h after awareness 2026-07-01T09:00:00Z",
        "- Triggered by: KR subjects 33,690,000 ≥ 1,000 threshold",
        "## Categories of personal data\n\n- address: 33,700,000 subjects\n- name: 33,700,000 subjects\n- phone: 33,700,000 subjects\n- entrance_code: 2,100,000 subjects\n",
        "## Number of data subjects\n\n33,700,000 distinct data subjects (exact count from the forensic index at log size 4200000). Of these, 33,690,000 in KR.",
        "## Data subjects by country\n\n- KR: 33,690,000\n- JP: 6,000\n- TW: 3,990\n- unknown: 10\n",
        "First access 2025-04-14T03:12:00Z; last access 2025-11-08T21:40:00Z (event-time window queried: 2025-01-01T00:00:00Z to 2025-11-09T00:00:00Z, end excluded).",
        "The counted accesses are those by signing key (kid) `auth-2019`; source country `CN`.",
        "Aware since 2026-07-01T09:00:00Z (soc-1). Detected by alert(s) al-7, al-9.",
        "Incident status: open.",
        "[TO COMPLETE: name and contact details of the DPO or other contact point]",
        "Not legal advice",
    ] {
        assert!(b.contains(needle), "missing {needle:?} in\n{b}");
    }
    let subjects = notices
        .iter()
        .find(|n| n.rule_id == "kr-pipa-subjects")
        .unwrap();
    assert_eq!(subjects.audience, Audience::Subjects);
    let b = &subjects.body;
    for needle in [
        "# Notice of Data Breach — draft for Affected data subjects (Korea)",
        "## What happened\n\nBetween 2025-04-14T03:12:00Z and 2025-11-08T21:40:00Z, your personal information was accessed without authorisation.",
        "## What information was involved\n\nYour postal or delivery address, name, phone number, building entrance code.",
        "## What you can do\n\n[TO COMPLETE:",
        "## For more information",
    ] {
        assert!(b.contains(needle), "missing {needle:?} in\n{b}");
    }
    assert!(b.matches(TO_COMPLETE).count() >= 4);
    // Deterministic.
    assert_eq!(draft_notices(&i, &a), notices);
}

#[test]
fn delay_reasons_say_how_late() {
    let i = coupang_like();
    let mut s = i.scope.clone().unwrap().summary;
    s.by_country.insert("DE".into(), 40);
    let mut i = i;
    i.record_scope(snapshot(s), now()).unwrap();
    let rules = parse_rules(SHIPPED_RULES).unwrap();
    let a = assess(&rules, &i.case(&[]), t("2026-07-05T09:00:00Z"));
    let ob = a
        .obligations
        .iter()
        .find(|o| o.rule_id == "eu-gdpr-art33")
        .unwrap();
    let n = draft_notice(&i, ob);
    assert!(
        n.body.contains("## Reasons for any delay\n\n[TO COMPLETE: reasons for the delay: the notice is 1 d late]"),
        "{}",
        n.body
    );
    let early = assess(&rules, &i.case(&[]), now());
    let ob = early
        .obligations
        .iter()
        .find(|o| o.rule_id == "eu-gdpr-art33")
        .unwrap();
    assert!(
        draft_notice(&i, ob)
            .body
            .contains("Not applicable if sent by 2026-07-04T09:00:00Z.")
    );
}

#[test]
fn an_incident_without_scope_triggers_nothing_but_contracts_and_its_notice_says_so() {
    let i = opened();
    let rules = parse_rules(SHIPPED_RULES).unwrap();
    let parties = [incident::ContractParty {
        id: "acme".into(),
        party: "Acme".into(),
        obligor: None,
        hours: 24,
        source: "DPA §7".into(),
        report_fields: vec![incident::ReportField::Categories],
    }];
    let a = assess(&rules, &i.case(&parties), now());
    assert_eq!(a.obligations.len(), 1);
    let n = draft_notice(&i, &a.obligations[0]);
    assert!(
        n.body
            .contains("[TO COMPLETE: no scope snapshot is recorded for this incident]")
    );
}
