//! The governance file: field paths in every error, hostile input through
//! the fuzz entry points.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use govern::{fuzz_finding_json, fuzz_govern_file, parse_json, parse_toml};

const GOOD: &str = include_str!("data/govern.toml");

#[test]
fn the_fixture_parses_and_round_trips_through_json() {
    let f = common::file();
    assert_eq!(f.suppliers.len(), 2);
    assert_eq!(f.datasets[0].backups[0].country, "SG");
    assert_eq!(f.money.per_record_usd_cents, 17_300);
    assert_eq!(f.supplier_of("sup-callco-001").unwrap().id, "acme-support");
    let json = serde_json::to_vec(&f).unwrap();
    assert_eq!(parse_json(&json).unwrap(), f);
    assert_eq!(fuzz_govern_file(GOOD.as_bytes()), Ok(true));
}

#[test]
fn errors_name_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "max_access_validity_days = 30",
            "max_access_validity_days = 0",
            "suppliers[0].contract.max_access_validity_days",
        ),
        (
            "max_access_validity_days = 30",
            "max_access_validity_days = \"30\"",
            "suppliers[0].contract.max_access_validity_days",
        ),
        (
            "log_review_rights = true",
            "log_review_rights = true\nreview = 1",
            "suppliers[0].contract.review",
        ),
        (
            "country = \"VN\"",
            "country = \"Vietnam\"",
            "suppliers[0].subprocessors[0].country",
        ),
        (
            "subprocessor = \"callco\"",
            "subprocessor = \"nobody\"",
            "suppliers[0].accounts[3].subprocessor",
        ),
        (
            "question = \"SC-3\"",
            "question = \"SC-9\"",
            "suppliers[0].answers[13].question",
        ),
        (
            "consent = \"pending\"",
            "consent = \"maybe\"",
            "suppliers[0].subprocessors[0].consent",
        ),
        (
            "consent_date = \"2025-01-15T00:00:00Z\"",
            "consent_date = \"2025-13-15T00:00:00Z\"",
            "suppliers[0].subprocessors[1].consent_date",
        ),
        (
            "principal = \"sup-beta-001\"",
            "principal = \"sup-acme-001\"",
            "suppliers[1].accounts[0].principal",
        ),
        ("to = \"SG\"", "to = \"sg\"", "transfer_bases[0].to"),
        (
            "jurisdiction = \"KR\"",
            "jurisdiction = \"CN\"",
            "transfer_bases[0].jurisdiction",
        ),
        (
            "executive_after_days = 7",
            "executive_after_days = 2",
            "org.executive_after_days",
        ),
        (
            "subject_jurisdictions = [\"KR\", \"EU\"]",
            "subject_jurisdictions = []",
            "datasets[1].subject_jurisdictions",
        ),
        ("id = \"employees\"", "id = \"customers\"", "datasets[1].id"),
    ];
    for (from, to, path) in cases {
        assert!(GOOD.contains(from), "{from}");
        let text = GOOD.replacen(from, to, 1);
        let e = parse_toml(&text).unwrap_err();
        assert_eq!(&e.path, path, "{to}: {e}");
        assert!(!e.reason.is_empty());
    }
    let e = parse_toml("[[suppliers]\nid=").unwrap_err();
    assert_eq!(e.path, "(syntax)");
    assert!(e.reason.contains("line 1"), "{e}");
    let e = parse_json(br#"{"suppliers":[{"id":"a"}]}"#).unwrap_err();
    assert_eq!(e.path, "suppliers[0]");
    assert!(e.reason.contains("missing field"), "{e}");
}

/// Hostile inputs: nothing panics, every refusal names a place.
#[test]
fn hostile_inputs() {
    let deep = "[".repeat(100_000);
    let long_id = format!("[[suppliers]]\nid = \"{}\"", "a".repeat(10_000));
    let big = "x".repeat(govern::MAX_FILE_BYTES + 1);
    let inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\xff\xfe\x00".to_vec(),
        deep.clone().into_bytes(),
        format!("a = {deep}").into_bytes(),
        long_id.into_bytes(),
        big.into_bytes(),
        b"suppliers = 1".to_vec(),
        b"{\"suppliers\":[],\"suppliers\":[]}".to_vec(),
        b"{\"datasets\":[{\"id\":\"d\",\"records\":-1}]}".to_vec(),
        b"{\"datasets\":[{\"id\":\"d\",\"records\":1e400}]}".to_vec(),
        b"{\"org\":{\"managers\":{\"a\":\"b c\"}}}".to_vec(),
        b"{\"money\":{\"per_record_usd_cents\":18446744073709551615}}".to_vec(),
        "[[datasets]]\nid=\"d\"\nprimary={region=\"r\",country=\"KR\"}\nsubject_jurisdictions=[\"EU\",\"ZZ\"]\nrecords=18446744073709551615".into(),
        GOOD.replace("Acme Support Ltd", "Acme\u{0}Ltd").into_bytes(),
    ];
    let mut accepted = 0;
    for i in &inputs {
        match fuzz_govern_file(i) {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(e) => panic!("{}: {e}", String::from_utf8_lossy(&i[..i.len().min(80)])),
        }
        fuzz_finding_json(i).unwrap();
    }
    // Only the empty file and the `ZZ` one (a well-formed code, u64::MAX
    // records) are valid.
    assert_eq!(accepted, 2);
    for body in [
        &br#"{"title":"t","owner":"o","severity":"low","records_exposed":18446744073709551615}"#[..],
        br#"{"title":"t","owner":"o","severity":"low","due":"9999-12-31T23:59:59Z"}"#,
        br#"{"title":"\u0000","owner":"o","severity":"low"}"#,
        br#"{"status":"open","owner":"x","due":"2030-01-01T00:00:00+09:00","note":"n"}"#,
        b"null",
        b"{",
    ] {
        fuzz_finding_json(body).unwrap();
    }
}
