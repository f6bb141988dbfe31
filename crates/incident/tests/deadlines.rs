#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Deadlines of every regime in the shipped rules, thresholds on both sides,
//! statuses under an injected clock.

use std::collections::BTreeSet;

use incident::{
    Assessment, Case, ContractParty, Notification, Obligation, ReportField, Rules, SHIPPED_RULES,
    ScopeSummary, Status, assess, format_time, parse_rules,
};

const H: i64 = 3_600_000;

fn t(s: &str) -> i64 {
    events::parse_rfc3339(s).unwrap()
}

fn rules() -> Rules {
    parse_rules(SHIPPED_RULES).unwrap()
}

/// Wednesday 2026-07-01 09:00 UTC.
fn aware() -> i64 {
    t("2026-07-01T09:00:00Z")
}

fn scope(countries: &[(&str, u64)], categories: &[&str]) -> ScopeSummary {
    let mut s = ScopeSummary {
        events: 10_000,
        first_access_ms: Some(t("2026-04-14T00:00:00Z")),
        last_access_ms: Some(t("2026-06-30T23:00:00Z")),
        ..ScopeSummary::default()
    };
    for (c, n) in countries {
        s.by_country.insert((*c).into(), *n);
        s.subjects += n;
    }
    for c in categories {
        s.by_category.insert((*c).into(), s.subjects);
    }
    s
}

struct Run {
    scope: ScopeSummary,
    facts: BTreeSet<String>,
    materiality: Option<i64>,
    notifications: Vec<Notification>,
    parties: Vec<ContractParty>,
}

impl Run {
    fn new(scope: ScopeSummary) -> Run {
        Run {
            scope,
            facts: BTreeSet::new(),
            materiality: None,
            notifications: Vec::new(),
            parties: Vec::new(),
        }
    }
    fn fact(mut self, f: &str) -> Run {
        self.facts.insert(f.into());
        self
    }
    fn sent(mut self, rule: &str, at: i64) -> Run {
        self.notifications.push(Notification {
            rule_id: rule.into(),
            party: "x".into(),
            sent_at_ms: at,
            sent_by: "dpo".into(),
            reference: None,
        });
        self
    }
    fn at(&self, rules: &Rules, now: i64) -> Assessment {
        let case = Case {
            awareness_ms: aware(),
            materiality_ms: self.materiality,
            scope: &self.scope,
            facts: &self.facts,
            contract_parties: &self.parties,
            notifications: &self.notifications,
        };
        assess(rules, &case, now)
    }
}

fn ob<'a>(a: &'a Assessment, id: &str) -> &'a Obligation {
    a.obligations
        .iter()
        .find(|o| o.rule_id == id)
        .unwrap_or_else(|| panic!("{id} not triggered: {a:#?}"))
}

fn reason<'a>(a: &'a Assessment, id: &str) -> &'a str {
    a.not_triggered
        .iter()
        .find(|s| s.rule_id == id)
        .map(|s| s.reason.as_str())
        .unwrap_or_else(|| panic!("{id} not in not_triggered: {a:#?}"))
}

fn due(a: &Assessment, id: &str) -> String {
    format_time(ob(a, id).due_ms)
}

#[test]
fn pipa_72_hours_and_the_1000_threshold() {
    let r = rules();
    let below = Run::new(scope(&[("KR", 999)], &["name", "phone"])).at(&r, aware());
    assert_eq!(
        reason(&below, "kr-pipa-report"),
        "KR subjects 999 < 1,000 threshold"
    );
    assert_eq!(due(&below, "kr-pipa-subjects"), "2026-07-04T09:00:00Z");
    let at = Run::new(scope(&[("KR", 1000)], &["name"])).at(&r, aware());
    let o = ob(&at, "kr-pipa-report");
    assert_eq!(format_time(o.due_ms), "2026-07-04T09:00:00Z");
    assert_eq!(o.subjects, 1000);
    assert_eq!(o.trigger, "KR subjects 1,000 ≥ 1,000 threshold");
    assert!(
        o.how.contains("72 h after awareness 2026-07-01T09:00:00Z"),
        "{}",
        o.how
    );
    assert!(o.legal_maximum);
    assert!(o.report_fields.contains(&ReportField::Subjects));
    // Below the threshold, a unique identifier or outside access triggers it.
    let id = Run::new(scope(&[("KR", 12)], &["national_id"])).at(&r, aware());
    assert!(
        ob(&id, "kr-pipa-report")
            .trigger
            .starts_with("category `national_id` in scope")
    );
    let outside = Run::new(scope(&[("KR", 12)], &["name"]))
        .fact("external_unauthorized_access")
        .at(&r, aware());
    assert!(
        ob(&outside, "kr-pipa-report")
            .trigger
            .starts_with("fact `external_unauthorized_access`")
    );
}

#[test]
fn unknown_countries_send_a_rule_to_review_only_when_they_could_trigger_it() {
    let r = rules();
    let a = Run::new(scope(&[("KR", 812), ("unknown", 300)], &["name"])).at(&r, aware());
    let review = a
        .needs_review
        .iter()
        .find(|s| s.rule_id == "kr-pipa-report")
        .unwrap();
    assert_eq!(
        review.reason,
        "KR subjects 812 < 1,000 threshold, but 300 subjects have no known country"
    );
    let a = Run::new(scope(&[("KR", 812), ("unknown", 100)], &["name"])).at(&r, aware());
    assert_eq!(
        reason(&a, "kr-pipa-report"),
        "KR subjects 812 < 1,000 threshold"
    );
}

#[test]
fn gdpr_72_hours_and_art34_only_with_high_risk() {
    let r = rules();
    let a = Run::new(scope(&[("DE", 10), ("KR", 5)], &["email"])).at(&r, aware());
    let o = ob(&a, "eu-gdpr-art33");
    assert_eq!(format_time(o.due_ms), "2026-07-04T09:00:00Z");
    assert_eq!(o.subjects, 10);
    assert!(
        o.how.starts_with("without undue delay and, where feasible"),
        "{}",
        o.how
    );
    assert_eq!(
        reason(&a, "eu-gdpr-art34"),
        "requires fact `gdpr_high_risk`, not recorded"
    );
    let a = Run::new(scope(&[("DE", 10)], &["email"]))
        .fact("gdpr_high_risk")
        .at(&r, aware());
    let o = ob(&a, "eu-gdpr-art34");
    assert!(!o.legal_maximum);
    assert_eq!(format_time(o.due_ms), "2026-07-04T09:00:00Z");
    assert!(o.how.contains("no legal maximum"));
    let a = Run::new(scope(&[("DE", 10)], &["email"]))
        .fact("gdpr_unlikely_risk")
        .at(&r, aware());
    assert_eq!(
        reason(&a, "eu-gdpr-art33"),
        "excluded by recorded fact `gdpr_unlikely_risk`"
    );
    let a = Run::new(scope(&[("KR", 10)], &["email"])).at(&r, aware());
    assert_eq!(reason(&a, "eu-gdpr-art33"), "no subjects in EU/EEA");
    assert_eq!(reason(&a, "tw-pdpa-subjects"), "no subjects in TW");
}

#[test]
fn appi_preliminary_and_final_30_or_60_days_in_japan_time() {
    let r = rules();
    // 1,000 is not "more than 1,000".
    let a = Run::new(scope(&[("JP", 1000)], &["name"])).at(&r, aware());
    assert_eq!(
        reason(&a, "jp-appi-preliminary"),
        "JP subjects 1,000 ≤ 1,000 (more than 1,000 required)"
    );
    let a = Run::new(scope(&[("JP", 1001)], &["name"])).at(&r, aware());
    let pre = ob(&a, "jp-appi-preliminary");
    assert!(!pre.legal_maximum);
    assert_eq!(format_time(pre.due_ms), "2026-07-04T09:00:00Z");
    // Aware 2026-07-01 18:00 JST: 30 days → end of 2026-07-31 JST.
    let fin = ob(&a, "jp-appi-final");
    assert_eq!(format_time(fin.due_ms), "2026-07-31T14:59:59.999Z");
    assert!(
        fin.how.contains("end of 2026-07-31 (UTC+09:00)"),
        "{}",
        fin.how
    );
    assert_eq!(
        reason(&a, "jp-appi-final-wrongful"),
        "requires fact `wrongful_purpose`, not recorded"
    );
    // Wrongful purpose: 60 days, even for 3 subjects; the 30-day rule steps aside.
    let a = Run::new(scope(&[("JP", 3)], &["name"]))
        .fact("wrongful_purpose")
        .at(&r, aware());
    assert_eq!(
        due(&a, "jp-appi-final-wrongful"),
        "2026-08-30T14:59:59.999Z"
    );
    assert_eq!(
        reason(&a, "jp-appi-final"),
        "excluded by recorded fact `wrongful_purpose`"
    );
    assert!(
        ob(&a, "jp-appi-preliminary")
            .trigger
            .starts_with("fact `wrongful_purpose`")
    );
}

#[test]
fn appi_days_count_from_the_local_day_of_awareness() {
    let r = rules();
    let s = scope(&[("JP", 5000)], &["name"]);
    let facts = BTreeSet::new();
    // 2026-07-01T20:00Z is already 2026-07-02 in Tokyo.
    let case = Case {
        awareness_ms: t("2026-07-01T20:00:00Z"),
        materiality_ms: None,
        scope: &s,
        facts: &facts,
        contract_parties: &[],
        notifications: &[],
    };
    let a = assess(&r, &case, 0);
    assert_eq!(due(&a, "jp-appi-final"), "2026-08-01T14:59:59.999Z");
}

#[test]
fn sec_four_business_days_across_a_weekend_and_a_holiday() {
    let r = rules();
    let mut run = Run::new(scope(&[("US", 10)], &["name"]));
    let a = run.at(&r, aware());
    assert_eq!(
        reason(&a, "us-sec-8k"),
        "clock not started: no materiality determination recorded"
    );
    // Determined Wed 2026-07-01 10:00 EDT. Thu 2 (1), Fri 3 is the observed
    // Independence Day, Sat/Sun, Mon 6 (2), Tue 7 (3), Wed 8 (4).
    run.materiality = Some(t("2026-07-01T14:00:00Z"));
    let a = run.at(&r, aware());
    let o = ob(&a, "us-sec-8k");
    assert_eq!(format_time(o.due_ms), "2026-07-09T03:59:59.999Z");
    assert!(
        o.how
            .contains("4 business days after materiality determination 2026-07-01T14:00:00Z"),
        "{}",
        o.how
    );
    assert!(o.how.contains("skipping holiday 2026-07-03"), "{}", o.how);
    assert_eq!(o.subjects, 10);
    // The same without the holiday list: Thu, Fri, Mon, Tue.
    let no_holidays = SHIPPED_RULES.replace("\"2026-07-03\",", "");
    let r2 = parse_rules(&no_holidays).unwrap();
    let a = run.at(&r2, aware());
    assert_eq!(due(&a, "us-sec-8k"), "2026-07-08T03:59:59.999Z");
    // Determined on a Friday evening: Mon, Tue, Wed, Thu.
    run.materiality = Some(t("2026-07-10T22:00:00Z"));
    let a = run.at(&r, aware());
    assert_eq!(due(&a, "us-sec-8k"), "2026-07-17T03:59:59.999Z");
}

fn california(residents: u64) -> ScopeSummary {
    let mut s = scope(&[("US", residents + 50)], &["name", "payment"]);
    s.by_region.insert("US-CA".into(), residents);
    s.by_region.insert("US-NY".into(), 50);
    s
}

#[test]
fn california_30_days_and_the_attorney_general_above_500() {
    let r = rules();
    let a = Run::new(california(500)).at(&r, aware());
    // Aware 2026-07-01 02:00 PDT: end of 2026-07-31 PDT.
    assert_eq!(due(&a, "us-ca-residents"), "2026-08-01T06:59:59.999Z");
    assert_eq!(
        reason(&a, "us-ca-ag"),
        "US-CA subjects 500 ≤ 500 (more than 500 required)"
    );
    let a = Run::new(california(501)).at(&r, aware());
    let ag = ob(&a, "us-ca-ag");
    // Consumers not notified yet: 15 days after their due day (2026-07-31).
    assert_eq!(format_time(ag.due_ms), "2026-08-16T06:59:59.999Z");
    assert!(ag.how.contains("not sent yet"), "{}", ag.how);
    // Consumers notified 2026-07-10 10:00 PDT: AG copy by end of 2026-07-25.
    let a = Run::new(california(501))
        .sent("us-ca-residents", t("2026-07-10T17:00:00Z"))
        .at(&r, t("2026-07-11T00:00:00Z"));
    assert_eq!(due(&a, "us-ca-ag"), "2026-07-26T06:59:59.999Z");
    assert!(matches!(
        ob(&a, "us-ca-residents").status,
        Status::Met {
            late_by_ms: None,
            ..
        }
    ));
    // Names and addresses alone are not §1798.82 personal information.
    let mut s = california(900);
    s.by_category.remove("payment");
    let a = Run::new(s).at(&r, aware());
    assert_eq!(
        reason(&a, "us-ca-residents"),
        "none of the categories national_id, payment, account is in scope"
    );
}

#[test]
fn california_without_a_subdivision_breakdown_needs_review() {
    let r = rules();
    let a = Run::new(scope(&[("US", 2000)], &["payment"])).at(&r, aware());
    let review: Vec<&str> = a.needs_review.iter().map(|s| s.rule_id.as_str()).collect();
    assert_eq!(review, ["us-ca-residents", "us-ca-ag"]);
    assert_eq!(
        a.needs_review[0].reason,
        "US-CA subjects undetermined: the scope counts 2,000 subjects of US without an ISO 3166-2 breakdown"
    );
    assert_eq!(a.needs_review[1].reason, a.needs_review[0].reason);
}

#[test]
fn contract_24_hours_from_the_file_and_from_the_caller() {
    let r = rules();
    let mut run = Run::new(scope(&[("KR", 10)], &["name"])).fact("supplier_involved:logico");
    run.parties.push(ContractParty {
        id: "acme-bank".into(),
        party: "Acme Bank (controller)".into(),
        obligor: None,
        hours: 24,
        source: "Acme DPA §7.1".into(),
        report_fields: vec![ReportField::Subjects],
    });
    let a = run.at(&r, aware());
    let logico = ob(&a, "contract-logico-notice");
    assert_eq!(format_time(logico.due_ms), "2026-07-02T09:00:00Z");
    assert_eq!(
        logico.obligor.as_deref(),
        Some("LogiCo (delivery supplier)")
    );
    let acme = ob(&a, "contract:acme-bank");
    assert_eq!(format_time(acme.due_ms), "2026-07-02T09:00:00Z");
    assert_eq!(acme.jurisdiction, "contract");
    assert_eq!(acme.how, "24 h after awareness 2026-07-01T09:00:00Z");
    // Sorted by due time, then id: the two 24 h duties first.
    let order: Vec<&str> = a.obligations.iter().map(|o| o.rule_id.as_str()).collect();
    assert_eq!(
        order,
        [
            "contract-logico-notice",
            "contract:acme-bank",
            "kr-pipa-subjects"
        ]
    );
}

#[test]
fn statuses_under_an_injected_clock() {
    let r = rules();
    let base = Run::new(scope(&[("KR", 5000)], &["name"]));
    let a = base.at(&r, aware() + 71 * H);
    let o = ob(&a, "kr-pipa-report");
    assert_eq!(o.status, Status::DueIn { in_ms: H });
    assert_eq!(o.status.to_string(), "due in 1 h");
    let a = base.at(&r, aware() + 72 * H);
    assert_eq!(ob(&a, "kr-pipa-report").status, Status::DueIn { in_ms: 0 });
    let a = base.at(&r, aware() + 75 * H + 30 * 60_000);
    let o = ob(&a, "kr-pipa-report");
    assert_eq!(
        o.status,
        Status::Overdue {
            by_ms: 3 * H + 30 * 60_000
        }
    );
    assert_eq!(o.status.to_string(), "overdue by 3 h 30 min");
    let a = Run::new(scope(&[("KR", 5000)], &["name"]))
        .sent("kr-pipa-report", aware() + 70 * H)
        .at(&r, aware() + 100 * H);
    let o = ob(&a, "kr-pipa-report");
    assert_eq!(
        o.status,
        Status::Met {
            sent_at_ms: aware() + 70 * H,
            late_by_ms: None
        }
    );
    assert_eq!(o.status.to_string(), "met 2026-07-04T07:00:00Z (on time)");
    // Unsent duties of the same incident stay overdue.
    assert!(matches!(
        ob(&a, "kr-pipa-subjects").status,
        Status::Overdue { .. }
    ));
    let a = Run::new(scope(&[("KR", 5000)], &["name"]))
        .sent("kr-pipa-report", aware() + 80 * H)
        .sent("kr-pipa-report", aware() + 90 * H)
        .at(&r, aware() + 100 * H);
    assert_eq!(
        ob(&a, "kr-pipa-report").status,
        Status::Met {
            sent_at_ms: aware() + 80 * H,
            late_by_ms: Some(8 * H)
        }
    );
}

#[test]
fn taiwan_subjects_have_a_target_not_a_legal_maximum() {
    let a = Run::new(scope(&[("TW", 40)], &["name"])).at(&rules(), aware());
    let o = ob(&a, "tw-pdpa-subjects");
    assert!(!o.legal_maximum);
    assert_eq!(format_time(o.due_ms), "2026-07-04T09:00:00Z");
    assert!(
        o.how
            .starts_with("after investigation, by appropriate means: no legal maximum")
    );
}

#[test]
fn every_rule_lands_in_exactly_one_list_and_json_is_stable() {
    let r = rules();
    let a = Run::new(scope(
        &[
            ("KR", 33_000_000),
            ("JP", 2_000),
            ("TW", 800),
            ("unknown", 5),
        ],
        &["name", "address"],
    ))
    .fact("wrongful_purpose")
    .at(&r, aware());
    assert_eq!(
        a.obligations.len() + a.not_triggered.len() + a.needs_review.len(),
        r.rules.len()
    );
    let json = serde_json::to_value(&a).unwrap();
    let first = &json["obligations"][0];
    assert_eq!(first["rule_id"], "jp-appi-preliminary");
    assert_eq!(first["status"]["state"], "due_in");
    for key in [
        "party",
        "jurisdiction",
        "audience",
        "subjects",
        "trigger",
        "clock_start_ms",
        "due_ms",
        "legal_maximum",
        "how",
        "report_fields",
        "source",
    ] {
        assert!(first.get(key).is_some(), "missing {key}");
    }
}
