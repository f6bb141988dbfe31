#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The rules file: the shipped file parses and says what docs/incidents.md
//! says; errors name the field path; hostile input never panics.

use incident::{Audience, Clock, SHIPPED_RULES, fuzz_rules, parse_rules};

#[test]
fn shipped_rules_parse_and_cover_every_regime() {
    let rules = parse_rules(SHIPPED_RULES).expect("shipped rules");
    let ids: Vec<&str> = rules.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "kr-pipa-subjects",
            "kr-pipa-report",
            "eu-gdpr-art33",
            "eu-gdpr-art34",
            "jp-appi-preliminary",
            "jp-appi-final",
            "jp-appi-final-wrongful",
            "jp-appi-subjects",
            "tw-pdpa-subjects",
            "us-sec-8k",
            "us-ca-residents",
            "us-ca-ag",
            "contract-logico-notice",
        ]
    );
    let pipa = rules.get("kr-pipa-report").unwrap();
    assert_eq!(pipa.trigger.min_subjects, Some(1000));
    assert_eq!(pipa.deadline.hours, Some(72));
    assert_eq!(pipa.audience, Audience::Authority);
    assert!(pipa.source.contains("Art. 34"));
    let sec = rules.get("us-sec-8k").unwrap();
    assert_eq!(sec.clock, Clock::Materiality);
    assert_eq!(sec.deadline.business_days, Some(4));
    let ca_ag = rules.get("us-ca-ag").unwrap();
    assert_eq!(ca_ag.trigger.more_than_subjects, Some(500));
    assert_eq!(ca_ag.after_rule.as_deref(), Some("us-ca-residents"));
    assert_eq!(
        rules.get("jp-appi-final").unwrap().deadline.calendar_days,
        Some(30)
    );
    assert_eq!(
        rules
            .get("jp-appi-final-wrongful")
            .unwrap()
            .deadline
            .calendar_days,
        Some(60)
    );
    // EU 27 + EEA 3.
    assert_eq!(
        rules
            .get("eu-gdpr-art33")
            .unwrap()
            .trigger
            .subjects_in
            .len(),
        30
    );
    // 2026 and 2027 US federal holidays: 11 + 12 (New Year 2028 observed on 2027-12-31).
    assert_eq!(rules.calendars["us-federal"].holidays.len(), 23);
    // Every rule cites its source.
    assert!(rules.rules.iter().all(|r| r.source.len() > 10));
}

const FOUR: &str = r#"
version = 1
[[rules]]
id = "a"
jurisdiction = "KR"
party = "p"
audience = "authority"
trigger = { subjects_in = ["KR"] }
deadline = { hours = 72 }
source = "s"
[[rules]]
id = "b"
jurisdiction = "KR"
party = "p"
audience = "subjects"
trigger = { subjects_in = ["KR"] }
deadline = { hours = 72 }
source = "s"
[[rules]]
id = "c"
jurisdiction = "KR"
party = "p"
audience = "subjects"
trigger = { subjects_in = ["KR"] }
deadline = { hours = 72 }
source = "s"
[[rules]]
id = "d"
jurisdiction = "KR"
party = "p"
audience = "subjects"
trigger = { subjects_in = ["KR"] }
deadline = { hours = 72 }
source = "s"
"#;

fn with_last(replace: &str, by: &str) -> String {
    let at = FOUR.rfind(replace).unwrap();
    format!("{}{by}{}", &FOUR[..at], &FOUR[at + replace.len()..])
}

fn error_of(text: &str) -> String {
    parse_rules(text).expect_err("must be refused").to_string()
}

#[test]
fn type_errors_name_the_field_path() {
    assert!(parse_rules(FOUR).is_ok());
    let e = error_of(&with_last("hours = 72", "hours = \"72\""));
    assert!(
        e.starts_with("rules[3].deadline.hours: invalid type"),
        "{e}"
    );
    let e = error_of(&with_last(
        "audience = \"subjects\"",
        "audience = \"press\"",
    ));
    assert!(
        e.starts_with("rules[3].audience: unknown variant `press`"),
        "{e}"
    );
    let e = error_of(&with_last(
        "source = \"s\"",
        "source = \"s\"\nsourse = \"t\"",
    ));
    assert!(
        e.starts_with("rules[3].sourse: unknown field `sourse`"),
        "{e}"
    );
    let e = error_of(&with_last("hours = 72", "hours = -1"));
    assert!(e.starts_with("rules[3].deadline.hours:"), "{e}");
    let e = error_of("version = 1\n[[rules]\n");
    assert!(e.starts_with("(syntax):") && e.contains("line 2"), "{e}");
}

#[test]
fn meaning_errors_name_the_field_path() {
    for (from, to, path) in [
        (
            "subjects_in = [\"KR\"] }\ndeadline = { hours = 72 }\nsource = \"s\"\n",
            "subjects_in = [\"KR\", \"Korea\"] }\ndeadline = { hours = 72 }\nsource = \"s\"\n",
            "rules[3].trigger.subjects_in[1]",
        ),
        (
            "hours = 72",
            "hours = 72, calendar_days = 3",
            "rules[3].deadline",
        ),
        ("hours = 72", "hours = 0", "rules[3].deadline.hours"),
        (
            "hours = 72",
            "prompt = \"promptly\"",
            "rules[3].deadline.target_hours",
        ),
        (
            "hours = 72",
            "hours = 72, target_hours = 96",
            "rules[3].deadline.target_hours",
        ),
        (
            "hours = 72",
            "hours = 72, calendar = \"nowhere\"",
            "rules[3].deadline.calendar",
        ),
        ("id = \"d\"", "id = \"c\"", "rules[3].id"),
        ("id = \"d\"", "id = \"D d\"", "rules[3].id"),
    ] {
        let text = with_last(from, to);
        let e = error_of(&text);
        assert!(e.starts_with(&format!("{path}:")), "{path} vs {e}");
    }
    let e = error_of(&with_last(
        "trigger = { subjects_in = [\"KR\"] }",
        "trigger = { subjects_in = [\"KR\"], categories = [\"name\", \"shoe_size\"] }",
    ));
    assert!(
        e.starts_with("rules[3].trigger.categories[1]: unknown data category"),
        "{e}"
    );
    let e = error_of(&with_last(
        "trigger = { subjects_in = [\"KR\"] }",
        "trigger = { subjects_in = [\"KR\"], min_subjects = 10, more_than_subjects = 9 }",
    ));
    assert!(e.starts_with("rules[3].trigger:"), "{e}");
    let e = error_of(&with_last(
        "deadline = { hours = 72 }",
        "clock = \"after_notice\"\nafter_rule = \"zz\"\ndeadline = { hours = 72 }",
    ));
    assert!(e.starts_with("rules[3].after_rule:"), "{e}");
    let e = error_of(&with_last(
        "deadline = { hours = 72 }",
        "clock = \"after_notice\"\ndeadline = { hours = 72 }",
    ));
    assert!(e.starts_with("rules[3].after_rule: required"), "{e}");
    let e = error_of(&FOUR.replace(
        "version = 1",
        "version = 1\n[calendars.x]\nutc_offset_minutes = 0\nholidays = [\"2026-01-01\", \"2026-02-30\"]",
    ));
    assert!(e.starts_with("calendars.x.holidays[1]:"), "{e}");
    let e = error_of(&FOUR.replace("version = 1", "version = 2"));
    assert!(e.starts_with("version: unsupported version 2"), "{e}");
    let e = error_of("version = 1\nrules = []\n");
    assert!(e.starts_with("rules: at least one rule"), "{e}");
}

#[test]
fn fuzz_rules_survives_hostile_inputs() {
    let mut inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\xff\xfe\x00garbage".to_vec(),
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".repeat(100).into_bytes(),
        b"version = 1\nrules = 7".to_vec(),
        b"version = 99999999999999999999\n".to_vec(),
        "a = [".repeat(10_000).into_bytes(),
        "x = \"".repeat(1000).into_bytes(),
        vec![b'a'; 2 << 20],
        with_last("hours = 72", "business_days = 3660").into_bytes(),
        with_last("hours = 72", "hours = 87840").into_bytes(),
        with_last("hours = 72", "calendar_days = 3660, calendar = \"x\"")
            .replace(
                "version = 1",
                "version = 1\n[calendars.x]\nutc_offset_minutes = -840",
            )
            .into_bytes(),
        with_last("hours = 72", "prompt = \"p\", target_hours = 87840").into_bytes(),
        FOUR.replace(
            "subjects_in = [\"KR\"]",
            "subjects_in = [\"*\"], min_subjects = 18446744073709551615",
        )
        .into_bytes(),
        SHIPPED_RULES.as_bytes().to_vec(),
    ];
    // Every prefix of the shipped file at a stride, and byte flips.
    let shipped = SHIPPED_RULES.as_bytes();
    for cut in (0..shipped.len()).step_by(97) {
        inputs.push(shipped[..cut].to_vec());
    }
    for at in (0..shipped.len()).step_by(131) {
        let mut m = shipped.to_vec();
        m[at] = m[at].wrapping_add(1);
        inputs.push(m);
    }
    for input in &inputs {
        fuzz_rules(input).unwrap_or_else(|e| panic!("invariant broken: {e}"));
    }
}
