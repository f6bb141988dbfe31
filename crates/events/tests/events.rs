//! Integration tests of the `events` public interface: parsing, every error
//! kind with its path, pseudonymisation, the ledger encoding and OCSF 6003.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, SystemTime};

use events::{
    ApiActivity, DataCategory, FieldError, Limits, MAX_ENTRY_SIZE, OCSF_VERSION, Reason,
    SubjectKey, ledger_entries, parse_batch, parse_event, to_ocsf,
};
use serde_json::{Value, json};

/// 2025-06-01T03:04:05.123Z
const NOW_MS: u64 = 1_748_747_045_123;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(NOW_MS)
}

fn key() -> SubjectKey {
    SubjectKey::from_bytes([7; 32])
}

fn valid() -> Value {
    json!({
        "id": "evt-0001",
        "time": "2025-06-01T03:04:05.123Z",
        "activity": "read",
        "actor": {"id": "emp-0042", "kind": "employee"},
        "credential": {"jti": "tok-9f2c", "kid": "cs-2024-01", "issuer": "https://auth.example.com"},
        "source": {"ip": "203.0.113.7", "country": "KR"},
        "service": "customer-service-tool",
        "operation": "GetCustomerAddress",
        "dataset": "customers",
        "categories": ["name", "address", "entrance_code"],
        "subjects": ["cust-1001", "cust-1002"],
        "purpose": "support-ticket-4711",
        "decision": "allow"
    })
}

fn parse(v: &Value) -> Result<events::Event, Vec<FieldError>> {
    parse_event(&serde_json::to_vec(v).unwrap(), now(), &Limits::default())
}

/// The single error of parsing `v`, as (path, reason).
fn one_error(v: &Value) -> (String, Reason) {
    let errs = parse(v).expect_err("must be refused");
    assert_eq!(errs.len(), 1, "{errs:?}");
    (errs[0].path.clone(), errs[0].reason.clone())
}

fn with(mut v: Value, pointer: &str, new: Value) -> Value {
    *v.pointer_mut(pointer).unwrap() = new;
    v
}

fn without(mut v: Value, parent: &str, key: &str) -> Value {
    v.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key);
    v
}

#[test]
fn valid_event_parses_with_its_values() {
    let e = parse(&valid()).unwrap();
    assert_eq!(e.id(), Some("evt-0001"));
    assert_eq!(e.time_ms(), NOW_MS as i64);
    assert_eq!(e.actor().id(), "emp-0042");
    assert_eq!(e.credential().unwrap().kid(), "cs-2024-01");
    assert_eq!(e.source().country().unwrap().as_str(), "KR");
    assert_eq!(
        e.categories(),
        &[
            DataCategory::Name,
            DataCategory::Address,
            DataCategory::EntranceCode
        ]
    );
    assert_eq!(e.subjects(), &["cust-1001", "cust-1002"]);
}

#[test]
fn valid_event_round_trips_through_input_json() {
    let e = parse(&valid()).unwrap();
    let again = serde_json::to_vec(&e.to_input()).unwrap();
    assert_eq!(parse_event(&again, now(), &Limits::default()).unwrap(), e);
    // Minimal form: optional fields absent, time in epoch milliseconds.
    let mut min = valid();
    for k in ["id", "activity", "credential"] {
        min = without(min, "", k);
    }
    min = without(min, "/source", "country");
    min = with(min, "/time", json!(NOW_MS));
    let e = parse(&min).unwrap();
    assert!(e.credential().is_none() && e.id().is_none());
    let again = serde_json::to_vec(&e.to_input()).unwrap();
    assert_eq!(parse_event(&again, now(), &Limits::default()).unwrap(), e);
    // And the typed input struct reads the documented JSON.
    let typed: events::EventInput = serde_json::from_value(valid()).unwrap();
    assert_eq!(
        parse(&serde_json::to_value(&typed).unwrap()).unwrap(),
        parse(&valid()).unwrap()
    );
}

#[test]
fn missing_fields() {
    for (parent, key, path) in [
        ("", "time", "$.time"),
        ("", "actor", "$.actor"),
        ("", "subjects", "$.subjects"),
        ("", "decision", "$.decision"),
        ("/actor", "kind", "$.actor.kind"),
        ("/credential", "kid", "$.credential.kid"),
        ("/source", "ip", "$.source.ip"),
    ] {
        assert_eq!(
            one_error(&without(valid(), parent, key)),
            (path.to_owned(), Reason::Missing)
        );
    }
    assert_eq!(
        one_error(&with(valid(), "/purpose", Value::Null)),
        ("$.purpose".to_owned(), Reason::Missing)
    );
}

#[test]
fn wrong_types() {
    let (p, r) = one_error(&with(valid(), "/actor", json!("emp-0042")));
    assert_eq!(
        (p.as_str(), r),
        ("$.actor", Reason::WrongType { expected: "object" })
    );
    let (p, r) = one_error(&with(valid(), "/subjects/1", json!(1002)));
    assert_eq!(
        (p.as_str(), r),
        ("$.subjects[1]", Reason::WrongType { expected: "string" })
    );
    let (p, r) = one_error(&with(valid(), "/categories", json!("name")));
    assert_eq!(
        (p.as_str(), r),
        ("$.categories", Reason::WrongType { expected: "array" })
    );
    let (p, _) = one_error(&with(valid(), "/time", json!(true)));
    assert_eq!(p, "$.time");
    let errs = parse(&json!([1, 2])).unwrap_err();
    assert_eq!(errs[0].path, "$");
}

#[test]
fn unknown_values_and_fields() {
    let (p, r) = one_error(&with(valid(), "/actor/kind", json!("contractor")));
    assert_eq!(p, "$.actor.kind");
    assert!(matches!(r, Reason::UnknownValue { allowed } if allowed.contains(&"supplier_staff")));
    let (p, r) = one_error(&with(valid(), "/categories/1", json!("shoe_size")));
    assert_eq!(p, "$.categories[1]");
    assert!(matches!(r, Reason::UnknownValue { .. }));
    let (p, _) = one_error(&with(valid(), "/decision", json!("Allow")));
    assert_eq!(p, "$.decision");
    let (p, _) = one_error(&with(valid(), "/activity", json!("list")));
    assert_eq!(p, "$.activity");
    let mut v = valid();
    v["subject"] = json!("typo");
    assert_eq!(
        one_error(&v),
        ("$.subject".to_owned(), Reason::UnknownField)
    );
    let mut v = valid();
    v["source"]["city"] = json!("Seoul");
    assert_eq!(
        one_error(&v),
        ("$.source.city".to_owned(), Reason::UnknownField)
    );
    let mut v = valid();
    v["a b"] = json!(1);
    assert_eq!(
        one_error(&v),
        ("$[\"a b\"]".to_owned(), Reason::UnknownField)
    );
}

#[test]
fn times() {
    let limits = Limits::default();
    let at = |t: Value| one_error(&with(valid(), "/time", t));
    // Exactly at the skew boundary is fine; one ms beyond is not.
    let edge = NOW_MS + 5 * 60 * 1000;
    assert!(parse(&with(valid(), "/time", json!(edge))).is_ok());
    assert_eq!(
        at(json!(edge + 1)),
        (
            "$.time".to_owned(),
            Reason::TimeInFuture { max_skew_secs: 300 }
        )
    );
    assert_eq!(
        at(json!("2025-05-01T00:00:00Z")),
        (
            "$.time".to_owned(),
            Reason::TimeTooOld {
                max_age_secs: limits.max_age.as_secs()
            }
        )
    );
    assert_eq!(
        at(json!("yesterday")),
        ("$.time".to_owned(), Reason::InvalidTime)
    );
    assert_eq!(at(json!(-5)), ("$.time".to_owned(), Reason::InvalidTime));
    assert_eq!(at(json!(1.5)), ("$.time".to_owned(), Reason::InvalidTime));
    // Configurable.
    let tight = Limits {
        max_future_skew: Duration::ZERO,
        ..Limits::default()
    };
    let v = serde_json::to_vec(&with(valid(), "/time", json!(NOW_MS + 1))).unwrap();
    assert!(parse_event(&v, now(), &tight).is_err());
}

#[test]
fn strings() {
    assert_eq!(
        one_error(&with(valid(), "/service", json!(""))),
        ("$.service".to_owned(), Reason::Empty)
    );
    assert_eq!(
        one_error(&with(valid(), "/subjects/0", json!("x".repeat(257)))),
        ("$.subjects[0]".to_owned(), Reason::TooLong { max: 256 })
    );
    assert!(parse(&with(valid(), "/subjects/0", json!("x".repeat(256)))).is_ok());
    assert_eq!(
        one_error(&with(valid(), "/actor/id", json!("emp\n42"))),
        ("$.actor.id".to_owned(), Reason::ControlCharacter)
    );
    // Non-ASCII text is fine.
    assert!(parse(&with(valid(), "/purpose", json!("고객 문의 처리"))).is_ok());
}

#[test]
fn subjects_and_categories() {
    assert_eq!(
        one_error(&with(valid(), "/subjects", json!([]))),
        ("$.subjects".to_owned(), Reason::Empty)
    );
    assert_eq!(
        one_error(&with(valid(), "/subjects", json!(["a", "b", "a"]))),
        ("$.subjects[2]".to_owned(), Reason::Duplicate { first: 0 })
    );
    assert_eq!(
        one_error(&with(valid(), "/categories", json!(["name", "name"]))),
        ("$.categories[1]".to_owned(), Reason::Duplicate { first: 0 })
    );
    let many: Vec<String> = (0..10_001).map(|i| format!("c{i}")).collect();
    assert_eq!(
        one_error(&with(valid(), "/subjects", json!(many))),
        ("$.subjects".to_owned(), Reason::TooMany { max: 10_000 })
    );
    assert!(parse(&with(valid(), "/subjects", json!(many[..10_000]))).is_ok());
    let small = Limits {
        max_subjects: 1,
        ..Limits::default()
    };
    let v = serde_json::to_vec(&valid()).unwrap();
    assert_eq!(
        parse_event(&v, now(), &small).unwrap_err()[0].reason,
        Reason::TooMany { max: 1 }
    );
}

#[test]
fn addresses_and_countries() {
    assert!(parse(&with(valid(), "/source/ip", json!("2001:db8::1"))).is_ok());
    for bad in [
        "203.0.113",
        "203.0.113.256",
        "localhost",
        "2001:db8:::1",
        " 10.0.0.1",
    ] {
        assert_eq!(
            one_error(&with(valid(), "/source/ip", json!(bad))),
            ("$.source.ip".to_owned(), Reason::InvalidIp),
            "{bad}"
        );
    }
    for bad in ["kr", "KOR", "UK", "XX", ""] {
        assert_eq!(
            one_error(&with(valid(), "/source/country", json!(bad))),
            ("$.source.country".to_owned(), Reason::InvalidCountry),
            "{bad}"
        );
    }
}

#[test]
fn syntax_and_size() {
    let errs = parse_event(b"{\"time\":", now(), &Limits::default()).unwrap_err();
    assert_eq!(errs[0].path, "$");
    assert!(matches!(errs[0].reason, Reason::Syntax(_)));
    let small = Limits {
        max_event_bytes: 10,
        ..Limits::default()
    };
    let v = serde_json::to_vec(&valid()).unwrap();
    assert_eq!(
        parse_event(&v, now(), &small).unwrap_err()[0].reason,
        Reason::TooLarge { max: 10 }
    );
    // Deep nesting is refused by serde_json's recursion limit, not a crash.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_event(deep.as_bytes(), now(), &Limits::default()).is_err());
}

#[test]
fn all_errors_are_reported_at_once() {
    let mut v = with(valid(), "/actor/kind", json!("robot"));
    v = with(v, "/subjects/1", json!(""));
    v = without(v, "", "purpose");
    let errs = parse(&v).unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["$.actor.kind", "$.subjects[1]", "$.purpose"]);
    assert_eq!(errs[0].to_string().split(':').next(), Some("$.actor.kind"));
}

#[test]
fn batches_array_and_ndjson() {
    let good = serde_json::to_string(&valid()).unwrap();
    let bad = serde_json::to_string(&with(valid(), "/actor/kind", json!("robot"))).unwrap();
    let arr = format!("[{good},{good},{good},{bad}]");
    let errs = parse_batch(arr.as_bytes(), now(), &Limits::default()).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].event, Some(3));
    assert_eq!(errs[0].path, "$[3].actor.kind");

    let nd = format!("{good}\n\n{bad}\r\n{good}\n{{oops\n");
    let errs = parse_batch(nd.as_bytes(), now(), &Limits::default()).unwrap_err();
    let got: Vec<(Option<usize>, &str)> = errs.iter().map(|e| (e.event, e.path.as_str())).collect();
    assert_eq!(got, [(Some(1), "$[1].actor.kind"), (Some(3), "$[3]")]);

    let ok = format!("{good}\n{good}\n");
    assert_eq!(
        parse_batch(ok.as_bytes(), now(), &Limits::default())
            .unwrap()
            .len(),
        2
    );
    let ok = format!(" [{good}]");
    assert_eq!(
        parse_batch(ok.as_bytes(), now(), &Limits::default())
            .unwrap()
            .len(),
        1
    );

    for empty in ["", "\n \n", "[]"] {
        let errs = parse_batch(empty.as_bytes(), now(), &Limits::default()).unwrap_err();
        assert_eq!(
            (errs[0].path.as_str(), &errs[0].reason),
            ("$", &Reason::Empty)
        );
    }
    let two = Limits {
        max_batch_events: 2,
        ..Limits::default()
    };
    let three = format!("{good}\n{good}\n{good}");
    assert_eq!(
        parse_batch(three.as_bytes(), now(), &two).unwrap_err()[0].reason,
        Reason::TooMany { max: 2 }
    );
}

#[test]
fn pseudonyms_are_deterministic_per_key_and_differ_across_keys() {
    let a = SubjectKey::from_bytes([1; 32]);
    let b = SubjectKey::from_bytes([2; 32]);
    assert_eq!(a.pseudonymise("cust-1"), a.pseudonymise("cust-1"));
    assert_ne!(a.pseudonymise("cust-1"), a.pseudonymise("cust-2"));
    assert_ne!(a.pseudonymise("cust-1"), b.pseudonymise("cust-1"));
    assert_ne!(a.id(), b.id());
    let g1 = SubjectKey::generate().unwrap();
    let g2 = SubjectKey::generate().unwrap();
    assert_ne!(g1, g2);
}

#[test]
fn key_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = events::subject_key_path(dir.path());
    assert!(path.ends_with("keys/subject-hmac.key"));
    let k = SubjectKey::load_or_create(&path).unwrap();
    assert_eq!(SubjectKey::load(&path).unwrap(), k);
    assert_eq!(SubjectKey::load_or_create(&path).unwrap(), k);
    assert!(matches!(k.save(&path), Err(events::KeyError::Exists(_))));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dmode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dmode & 0o777, 0o700);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            SubjectKey::load(&path),
            Err(events::KeyError::Permissions { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.len(), 65);
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "not hex\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    assert!(matches!(
        SubjectKey::load(&bad),
        Err(events::KeyError::Malformed(_))
    ));
}

/// The complete ledger entry of `valid()`, byte for byte. If this changes,
/// every ledger written before no longer re-encodes the same: change it only
/// with a new `unmapped.custos.v`.
const GOLDEN: &str = r#"{"activity_id":2,"actor":{"session":{"credential_uid":"tok-9f2c","issuer":"https://auth.example.com"},"user":{"type_id":1,"uid":"emp-0042"}},"api":{"operation":"GetCustomerAddress","service":{"name":"customer-service-tool"}},"category_uid":6,"class_uid":6003,"metadata":{"log_name":"custos.access","product":{"name":"Custos","vendor_name":"Custos"},"uid":"evt-0001","version":"1.3.0"},"resources":[{"labels":["name","address","entrance_code"],"name":"customers","type":"dataset"}],"severity_id":1,"src_endpoint":{"ip":"203.0.113.7","location":{"country":"KR"}},"status_id":1,"time":1748747045123,"type_uid":600302,"unmapped":{"custos":{"actor_kind":"employee","kid":"cs-2024-01","purpose":"support-ticket-4711","subject_key":"hmac-sha256-128:KEYID","subjects":["P1","P2"],"v":2}}}"#;

#[test]
fn ledger_encoding_is_byte_stable() {
    let e = parse(&valid()).unwrap();
    let k = key();
    let entries = ledger_entries(&e, &k).unwrap();
    assert_eq!(entries.len(), 1);
    let golden = GOLDEN
        .replace("KEYID", &k.id())
        .replace("P1", &k.pseudonymise("cust-1001").to_base64url())
        .replace("P2", &k.pseudonymise("cust-1002").to_base64url());
    assert_eq!(String::from_utf8(entries[0].clone()).unwrap(), golden);
    // Same again, and from a re-parse of the input form.
    assert_eq!(ledger_entries(&e, &k).unwrap(), entries);
    let again = parse(&serde_json::to_value(e.to_input()).unwrap()).unwrap();
    assert_eq!(ledger_entries(&again, &k).unwrap(), entries);
    // No clear identifier reaches the ledger.
    let text = String::from_utf8(entries[0].clone()).unwrap();
    assert!(!text.contains("cust-100"));
    // The entry reads back as the typed OCSF struct.
    let back: ApiActivity = serde_json::from_slice(&entries[0]).unwrap();
    assert_eq!(vec![back], to_ocsf(&e, &k).unwrap());
}

/// Every object in the encoding has its members in ascending order and
/// there is no whitespace outside strings: the canonical form.
#[test]
fn ledger_encoding_is_canonical() {
    fn sorted(v: &Value) -> bool {
        match v {
            Value::Object(m) => {
                let keys: Vec<&String> = m.keys().collect();
                keys.windows(2).all(|w| w[0] < w[1]) && m.values().all(sorted)
            }
            Value::Array(a) => a.iter().all(sorted),
            _ => true,
        }
    }
    let e = parse(&valid()).unwrap();
    let bytes = &ledger_entries(&e, &key()).unwrap()[0];
    let v: Value = serde_json::from_slice(bytes).unwrap();
    assert!(sorted(&v));
    assert_eq!(serde_json::to_vec(&v).unwrap().len(), bytes.len());
    // Member order in the bytes follows the key order of the golden text.
    let s = String::from_utf8(bytes.clone()).unwrap();
    let pos = |k: &str| s.find(&format!("\"{k}\":")).unwrap();
    assert!(pos("activity_id") < pos("actor") && pos("time") < pos("type_uid"));
    assert!(pos("type_uid") < pos("unmapped"));
}

#[test]
fn bulk_reads_fit_the_entry_limit() {
    let k = key();
    let subjects: Vec<String> = (0..10_000).map(|i| format!("customer-{i:08}")).collect();
    let v = with(valid(), "/subjects", json!(subjects));
    let e = parse(&v).unwrap();
    let entries = ledger_entries(&e, &k).unwrap();
    assert_eq!(entries.len(), 4, "10,000 subjects take 4 entries");
    let mut all = Vec::new();
    for (i, bytes) in entries.iter().enumerate() {
        assert!(bytes.len() <= MAX_ENTRY_SIZE);
        let a: ApiActivity = serde_json::from_slice(bytes).unwrap();
        let part = a.unmapped.custos.part.unwrap();
        assert_eq!((part.index as usize, part.total), (i, 4));
        all.extend(a.unmapped.custos.subjects);
    }
    let expected: Vec<String> = subjects
        .iter()
        .map(|s| k.pseudonymise(s).to_base64url())
        .collect();
    assert_eq!(all, expected);
    // A full first entry is close to the limit: ~2,500 subjects an entry.
    assert!(entries[0].len() > MAX_ENTRY_SIZE - 200);

    // Worst case of the fixed part (every string at its 256-byte limit, all
    // escaped quotes): still >= 2,000 subjects an entry.
    let long = "\"".repeat(256);
    let mut v = with(valid(), "/subjects", json!(subjects));
    for p in [
        "/id",
        "/actor/id",
        "/credential/jti",
        "/credential/kid",
        "/credential/issuer",
        "/service",
        "/operation",
        "/dataset",
        "/purpose",
    ] {
        v = with(v, p, json!(long));
    }
    v = with(v, "/categories", json!(DataCategory::NAMES));
    let e = parse(&v).unwrap();
    let entries = ledger_entries(&e, &k).unwrap();
    assert!(entries.len() <= 5);
    assert!(entries.iter().all(|b| b.len() <= MAX_ENTRY_SIZE));
}

#[test]
fn one_subject_needs_one_entry() {
    let e = parse(&with(valid(), "/subjects", json!(["only"]))).unwrap();
    let a = to_ocsf(&e, &key()).unwrap();
    assert_eq!(a.len(), 1);
    assert!(a[0].unmapped.custos.part.is_none());
}

/// The OCSF 1.3.0 requirements of class 6003 that apply to these entries,
/// checked on the JSON itself, without Python; `tests/ocsf_schema.rs` checks
/// the same and more against the official schema (docs/events.md,
/// "Validation against the OCSF schema").
#[test]
fn entries_carry_the_required_ocsf_6003_attributes() {
    for (decision, kind, status, type_id) in
        [("allow", "employee", 1, 1), ("deny", "service", 2, 3)]
    {
        let mut v = with(valid(), "/decision", json!(decision));
        v = with(v, "/actor/kind", json!(kind));
        v = with(v, "/activity", json!("update"));
        let e = parse(&v).unwrap();
        let bytes = &ledger_entries(&e, &key()).unwrap()[0];
        let o: Value = serde_json::from_slice(bytes).unwrap();
        // Base event (required): activity_id, category_uid, class_uid,
        // metadata (product, version), severity_id, time, type_uid.
        assert_eq!(o["class_uid"], 6003);
        assert_eq!(o["category_uid"], 6);
        assert_eq!(o["activity_id"], 3);
        assert_eq!(o["type_uid"], 600303);
        assert_eq!(o["severity_id"], 1);
        assert!(o["time"].is_i64());
        assert_eq!(o["metadata"]["version"], OCSF_VERSION);
        assert!(o["metadata"]["product"]["vendor_name"].is_string());
        assert!(o["metadata"]["product"]["name"].is_string());
        // API Activity (required): actor, api (operation), src_endpoint.
        assert!(o["actor"]["user"]["uid"].is_string());
        assert_eq!(o["actor"]["user"]["type_id"], type_id);
        assert!(o["api"]["operation"].is_string());
        assert!(o["api"]["service"]["name"].is_string());
        assert!(o["src_endpoint"]["ip"].is_string());
        // Recommended. No profile: OCSF 1.3.0 applies security_control
        // (action_id, disposition_id) to API Activity only from 1.4.0.
        assert_eq!(o["status_id"], status);
        assert!(o.get("action_id").is_none() && o.get("disposition_id").is_none());
        assert!(o["metadata"].get("profiles").is_none());
        assert!(o["resources"][0]["name"].is_string());
        // Enumerated ids only take values OCSF 1.3.0 defines.
        assert!([1, 2, 3, 4].contains(&o["activity_id"].as_u64().unwrap()));
        assert!([1, 2].contains(&o["status_id"].as_u64().unwrap()));
        // Custos' own fields only under `unmapped`.
        let known = [
            "activity_id",
            "actor",
            "api",
            "category_uid",
            "class_uid",
            "metadata",
            "resources",
            "severity_id",
            "src_endpoint",
            "status_id",
            "time",
            "type_uid",
            "unmapped",
        ];
        assert!(
            o.as_object()
                .unwrap()
                .keys()
                .all(|k| known.contains(&k.as_str()))
        );
    }
}

mod direct_encoding {
    //! `ledger_entries` writes the canonical bytes directly; they must be
    //! exactly `serde_json::to_vec` of each `to_ocsf` value, for any event:
    //! strings needing escapes, every enum value, with and without the
    //! optional members, and subject counts around the split boundary.
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9-]{1,12}",
            "[\"\\\\/a\u{e9}\u{d55c}\u{1f600}]{1,8}",
            "\\PC{1,20}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn ledger_entries_equal_serde_of_to_ocsf(
            strings in proptest::collection::vec(text(), 9),
            kind in 0usize..4,
            activity in 0usize..4,
            deny in any::<bool>(),
            credential in any::<bool>(),
            country in any::<bool>(),
            id in any::<bool>(),
            v6 in any::<bool>(),
            n in prop_oneof![1usize..4, 2_560usize..2_620, Just(10_000)],
        ) {
            let mut v = valid();
            for (p, s) in ["/id", "/actor/id", "/credential/jti", "/credential/kid",
                "/credential/issuer", "/service", "/operation", "/dataset", "/purpose"]
                .iter()
                .zip(&strings)
            {
                v = with(v, p, json!(s));
            }
            v = with(v, "/actor/kind", json!(events::ActorKind::NAMES[kind]));
            v = with(v, "/activity", json!(events::Activity::NAMES[activity]));
            v = with(v, "/decision", json!(if deny { "deny" } else { "allow" }));
            if v6 {
                v = with(v, "/source/ip", json!("2001:db8::ff00:42:8329"));
            }
            if !credential {
                v = without(v, "", "credential");
            }
            if !country {
                v = without(v, "/source", "country");
            }
            if !id {
                v = without(v, "", "id");
            }
            let subjects: Vec<String> = (0..n).map(|i| format!("s-{i}")).collect();
            v = with(v, "/subjects", json!(subjects));
            let Ok(e) = parse(&v) else { return Ok(()) };
            let k = key();
            let direct = ledger_entries(&e, &k).unwrap();
            let via_serde: Vec<Vec<u8>> = to_ocsf(&e, &k)
                .unwrap()
                .iter()
                .map(|a| serde_json::to_vec(a).unwrap())
                .collect();
            prop_assert_eq!(direct, via_serde);
        }
    }
}
