//! OCSF input: an OCSF API Activity (6003) event is read as the ledger
//! mapping in reverse (docs/events.md, "OCSF input"), with the same rules and
//! JSON paths into the OCSF shape.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, SystemTime};

use events::{
    Decision, Event, FieldError, Limits, Reason, SubjectKey, ledger_entries, parse_batch,
    parse_event, to_ocsf,
};
use serde_json::{Value, json};

/// 2025-06-01T03:04:05.123Z
const NOW_MS: u64 = 1_748_747_045_123;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(NOW_MS)
}

/// The access of docs/events.md's example, in the Custos form.
fn custos() -> Value {
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

/// The same access as an OCSF producer would log it (docs/events.md).
fn ocsf() -> Value {
    json!({
        "activity_id": 2,
        "activity_name": "Read",
        "actor": {
            "session": {"credential_uid": "tok-9f2c", "issuer": "https://auth.example.com"},
            "user": {"type_id": 1, "uid": "emp-0042"}
        },
        "api": {"operation": "GetCustomerAddress", "service": {"name": "customer-service-tool"}},
        "category_name": "Application Activity",
        "category_uid": 6,
        "class_name": "API Activity",
        "class_uid": 6003,
        "metadata": {
            "product": {"name": "Customer Service Tool", "vendor_name": "Example Corp"},
            "uid": "evt-0001",
            "version": "1.3.0"
        },
        "resources": [{"labels": ["name", "address", "entrance_code"], "name": "customers", "type": "dataset"}],
        "severity_id": 1,
        "src_endpoint": {"ip": "203.0.113.7", "location": {"country": "KR"}},
        "status_id": 1,
        "time": NOW_MS,
        "type_name": "API Activity: Read",
        "type_uid": 600302,
        "unmapped": {"custos": {
            "actor_kind": "employee",
            "kid": "cs-2024-01",
            "purpose": "support-ticket-4711",
            "subjects": ["cust-1001", "cust-1002"]
        }}
    })
}

fn parse(v: &Value) -> Result<Event, Vec<FieldError>> {
    parse_event(&serde_json::to_vec(v).unwrap(), now(), &Limits::default())
}

fn with(mut v: Value, pointer: &str, new: Value) -> Value {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}")) = new;
    v
}

fn without(mut v: Value, parent: &str, key: &str) -> Value {
    v.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key)
        .unwrap_or_else(|| panic!("no {parent}/{key}"));
    v
}

fn errors(v: &Value) -> Vec<(String, Reason)> {
    parse(v)
        .expect_err("must be refused")
        .into_iter()
        .map(|e| (e.path, e.reason))
        .collect()
}

fn one_error(v: &Value) -> (String, Reason) {
    let errs = errors(v);
    assert_eq!(errs.len(), 1, "{errs:?}");
    errs.into_iter().next().unwrap()
}

#[test]
fn ocsf_event_is_the_same_access_as_the_custos_form() {
    assert_eq!(parse(&ocsf()).unwrap(), parse(&custos()).unwrap());
    // And it gives the same ledger entry, byte for byte.
    let key = SubjectKey::from_bytes([7; 32]);
    assert_eq!(
        ledger_entries(&parse(&ocsf()).unwrap(), &key).unwrap(),
        ledger_entries(&parse(&custos()).unwrap(), &key).unwrap()
    );
}

/// The ledger entry of any event, with its pseudonyms replaced by the clear
/// subjects and the ledger-only members (`subject_key`, `v`, `part`)
/// removed, is OCSF input that parses back to the event: the input mapping
/// is exactly the ledger mapping in reverse.
#[test]
fn ledger_mapping_reversed_is_the_input_mapping() {
    let key = SubjectKey::from_bytes([7; 32]);
    let variants = [
        custos(),
        with(custos(), "/decision", json!("deny")),
        with(custos(), "/activity", json!("delete")),
        with(custos(), "/actor/kind", json!("service")),
        with(custos(), "/actor/kind", json!("supplier_staff")),
        with(custos(), "/source/ip", json!("2001:db8::7")),
        without(without(custos(), "", "credential"), "/source", "country"),
        without(custos(), "", "id"),
        with(custos(), "/purpose", json!("고객 \"문의\" \\ 처리")),
    ];
    for v in variants {
        let event = parse(&v).unwrap();
        for entry in to_ocsf(&event, &key).unwrap() {
            let mut o = serde_json::to_value(&entry).unwrap();
            let c = o["unmapped"]["custos"].as_object_mut().unwrap();
            c.remove("subject_key");
            c.remove("v");
            c.remove("part");
            c.insert("subjects".into(), json!(event.subjects()));
            assert_eq!(parse(&o).unwrap(), event, "{o}");
        }
    }
}

#[test]
fn minimal_ocsf_event() {
    // Only what OCSF 1.3.0 requires plus what Custos needs; a service
    // actor's kind can come from user type_id 3 (System) alone.
    let v = json!({
        "activity_id": 1, "category_uid": 6, "class_uid": 6003, "severity_id": 1,
        "time": NOW_MS, "type_uid": 600301,
        "metadata": {"product": {"vendor_name": "Example"}, "version": "1.1.0"},
        "actor": {"user": {"uid": "svc-batch", "type_id": 3}},
        "api": {"operation": "ExportOrders", "service": {"name": "batch"}},
        "src_endpoint": {"ip": "::1"},
        "resources": [{"name": "orders", "labels": ["order_history"]}],
        "status_id": 2,
        "unmapped": {"custos": {"purpose": "nightly", "subjects": ["c1"]}}
    });
    let e = parse(&v).unwrap();
    assert_eq!(e.actor().kind(), events::ActorKind::Service);
    assert_eq!(e.decision(), Decision::Deny);
    assert_eq!(e.activity(), events::Activity::Create);
    assert!(e.credential().is_none() && e.source().country().is_none() && e.id().is_none());
}

#[test]
fn attributes_ocsf_defines_are_accepted_and_ignored() {
    let mut v = ocsf();
    v["message"] = json!("anything");
    v["observables"] = json!([{"name": "actor.user.uid", "type_id": 4, "value": "emp-0042"}]);
    v["http_request"] = json!({"http_method": "GET", "url": {"path": "/customers/1001"}});
    v["raw_data"] = json!("GET /customers/1001 cust-1001");
    v["status_detail"] = json!("ok");
    v["actor"]["user"]["name"] = json!("Kim");
    v["actor"]["session"]["uid"] = json!("sess-1");
    v["actor"]["process"] = json!({"pid": 1});
    v["src_endpoint"]["port"] = json!(443);
    v["src_endpoint"]["location"]["city"] = json!("Seoul");
    v["metadata"]["log_name"] = json!("cs-tool.audit");
    v["metadata"]["profiles"] = json!(["datetime"]);
    v["resources"][0]["uid"] = json!("tbl-7");
    v["unmapped"]["their_field"] = json!({"x": [1, 2, 3]});
    v["time_dt"] = json!("2025-06-01T12:04:05.123+09:00");
    v["count"] = json!(1);
    assert_eq!(parse(&v).unwrap(), parse(&custos()).unwrap());
}

#[test]
fn unknown_attributes_are_refused_with_their_path() {
    for (pointer, key, path) in [
        ("", "subject", "$.subject"),
        ("/actor/user", "uidd", "$.actor.user.uidd"),
        ("/actor/session", "jti", "$.actor.session.jti"),
        ("/src_endpoint", "country", "$.src_endpoint.country"),
        ("/resources/0", "categories", "$.resources[0].categories"),
        ("/metadata", "vendor", "$.metadata.vendor"),
        ("/unmapped/custos", "subjetcs", "$.unmapped.custos.subjetcs"),
        // A ledger entry is not input: its subjects are pseudonyms.
        (
            "/unmapped/custos",
            "subject_key",
            "$.unmapped.custos.subject_key",
        ),
        ("/unmapped/custos", "v", "$.unmapped.custos.v"),
    ] {
        let mut v = ocsf();
        v.pointer_mut(pointer)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.into(), json!("x"));
        assert_eq!(one_error(&v), (path.to_owned(), Reason::UnknownField));
    }
}

#[test]
fn values_are_checked_as_in_the_custos_form() {
    let cases: Vec<(Value, &str, Reason)> = vec![
        (
            with(ocsf(), "/actor/user/uid", json!("")),
            "$.actor.user.uid",
            Reason::Empty,
        ),
        (
            with(ocsf(), "/unmapped/custos/subjects/1", json!("cust-1001")),
            "$.unmapped.custos.subjects[1]",
            Reason::Duplicate { first: 0 },
        ),
        (
            with(ocsf(), "/resources/0/labels/0", json!("shoe_size")),
            "$.resources[0].labels[0]",
            Reason::UnknownValue {
                allowed: events::DataCategory::NAMES,
            },
        ),
        (
            with(ocsf(), "/src_endpoint/ip", json!("10.0.0")),
            "$.src_endpoint.ip",
            Reason::InvalidIp,
        ),
        (
            with(ocsf(), "/src_endpoint/location/country", json!("kr")),
            "$.src_endpoint.location.country",
            Reason::InvalidCountry,
        ),
        (
            with(ocsf(), "/api/operation", json!("a\u{7}b")),
            "$.api.operation",
            Reason::ControlCharacter,
        ),
        (
            with(ocsf(), "/time", json!(NOW_MS + 3_600_000)),
            "$.time",
            Reason::TimeInFuture { max_skew_secs: 300 },
        ),
        (
            with(ocsf(), "/time", json!("2025-06-01T03:04:05.123Z")),
            "$.time",
            Reason::WrongType {
                expected: "integer (epoch ms)",
            },
        ),
        (
            with(ocsf(), "/unmapped/custos/subjects", json!([])),
            "$.unmapped.custos.subjects",
            Reason::Empty,
        ),
    ];
    for (v, path, reason) in cases {
        assert_eq!(one_error(&v), (path.to_owned(), reason));
    }
}

#[test]
fn ids_and_captions_must_agree() {
    let inconsistent = |with: &'static str, expected: &str| Reason::Inconsistent {
        with,
        expected: expected.to_owned(),
    };
    let cases: Vec<(Value, &str, Reason)> = vec![
        (
            with(ocsf(), "/class_uid", json!(6001)),
            "$.class_uid",
            Reason::UnknownValue { allowed: &["6003"] },
        ),
        (
            with(ocsf(), "/category_uid", json!("6")),
            "$.category_uid",
            Reason::WrongType {
                expected: "integer",
            },
        ),
        (
            with(ocsf(), "/type_uid", json!(600303)),
            "$.type_uid",
            inconsistent("activity_id", "600302"),
        ),
        (
            with(ocsf(), "/class_name", json!("Api Activity")),
            "$.class_name",
            inconsistent("class_uid", "API Activity"),
        ),
        (
            with(ocsf(), "/activity_name", json!("Update")),
            "$.activity_name",
            inconsistent("activity_id", "Read"),
        ),
        (
            with(ocsf(), "/activity_id", json!(99)),
            "$.activity_id",
            Reason::UnknownValue {
                allowed: &["1", "2", "3", "4"],
            },
        ),
        (
            with(ocsf(), "/severity_id", json!(4)),
            "$.severity_id",
            Reason::UnknownValue { allowed: &["1"] },
        ),
        (
            with(ocsf(), "/status_id", json!(0)),
            "$.status_id",
            Reason::UnknownValue {
                allowed: &["1", "2"],
            },
        ),
        (
            {
                let mut v = with(ocsf(), "/status_id", json!(2));
                v["status"] = json!("Success");
                v
            },
            "$.status",
            inconsistent("status_id", "Failure"),
        ),
        (
            with(ocsf(), "/actor/user/type_id", json!(3)),
            "$.actor.user.type_id",
            inconsistent("unmapped.custos.actor_kind", "1"),
        ),
        (
            {
                let mut v = ocsf();
                v["count"] = json!(12);
                v
            },
            "$.count",
            Reason::UnknownValue { allowed: &["1"] },
        ),
        (
            with(ocsf(), "/metadata/version", json!("2.0.0")),
            "$.metadata.version",
            Reason::UnknownValue {
                allowed: &["1.<minor>.<patch> (OCSF 1.x)"],
            },
        ),
        (
            with(ocsf(), "/resources/0/type", json!("table")),
            "$.resources[0].type",
            Reason::UnknownValue {
                allowed: &["dataset"],
            },
        ),
        (
            {
                let mut v = ocsf();
                v["time_dt"] = json!("2025-06-01T03:04:05.000Z");
                v
            },
            "$.time_dt",
            inconsistent("time", "2025-06-01T03:04:05.123Z"),
        ),
    ];
    for (v, path, reason) in cases {
        assert_eq!(one_error(&v), (path.to_owned(), reason), "{v}");
    }
}

#[test]
fn decision_from_status_action_or_disposition() {
    let base = without(ocsf(), "", "status_id");
    // security_control's action_id (OCSF >= 1.4.0 for API Activity).
    let mut v = base.clone();
    v["action_id"] = json!(2);
    v["action"] = json!("Denied");
    assert_eq!(parse(&v).unwrap().decision(), Decision::Deny);
    let mut v = base.clone();
    v["disposition_id"] = json!(1);
    assert_eq!(parse(&v).unwrap().decision(), Decision::Allow);
    // All present and agreeing.
    let mut v = ocsf();
    v["action_id"] = json!(1);
    v["disposition_id"] = json!(1);
    assert!(parse(&v).is_ok());
    // Disagreeing.
    let mut v = ocsf();
    v["action_id"] = json!(2);
    assert_eq!(
        one_error(&v),
        (
            "$.action_id".to_owned(),
            Reason::Inconsistent {
                with: "status_id",
                expected: "1".to_owned()
            }
        )
    );
    // None at all.
    assert_eq!(
        one_error(&base),
        ("$.status_id".to_owned(), Reason::Missing)
    );
}

#[test]
fn credential_needs_token_issuer_and_kid_together() {
    assert_eq!(
        one_error(&without(ocsf(), "/unmapped/custos", "kid")),
        ("$.unmapped.custos.kid".to_owned(), Reason::Missing)
    );
    assert_eq!(
        one_error(&without(ocsf(), "/actor/session", "issuer")),
        ("$.actor.session.issuer".to_owned(), Reason::Missing)
    );
    assert_eq!(
        one_error(&without(ocsf(), "/actor", "session")),
        ("$.actor.session.credential_uid".to_owned(), Reason::Missing)
    );
    // A session without a token and no kid: no credential.
    let v = with(ocsf(), "/actor/session", json!({"uid": "sess-1"}));
    let v = without(v, "/unmapped/custos", "kid");
    assert!(parse(&v).unwrap().credential().is_none());
}

#[test]
fn missing_members_and_all_errors_at_once() {
    for (parent, key, path) in [
        ("", "class_uid", None),
        ("", "time", Some("$.time")),
        ("", "actor", Some("$.actor")),
        ("", "unmapped", Some("$.unmapped")),
        ("", "metadata", Some("$.metadata")),
        ("/metadata", "product", Some("$.metadata.product")),
        ("/actor/user", "uid", Some("$.actor.user.uid")),
        ("/api/service", "name", Some("$.api.service.name")),
        (
            "/unmapped/custos",
            "purpose",
            Some("$.unmapped.custos.purpose"),
        ),
        (
            "/unmapped/custos",
            "actor_kind",
            Some("$.unmapped.custos.actor_kind"),
        ),
    ] {
        let v = without(ocsf(), parent, key);
        match path {
            Some(p) => assert_eq!(one_error(&v), (p.to_owned(), Reason::Missing)),
            // Without class_uid it is read as the Custos form: refused.
            None => assert!(parse(&v).is_err()),
        }
    }
    let mut v = with(ocsf(), "/actor/user/uid", json!(7));
    v = with(
        v,
        "/resources",
        json!([{"name": "a", "labels": ["name"]}, {"name": "b", "labels": ["name"]}]),
    );
    v = without(v, "/unmapped/custos", "subjects");
    let paths: Vec<String> = errors(&v).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        [
            "$.actor.user.uid",
            "$.resources",
            "$.unmapped.custos.subjects"
        ]
    );
}

#[test]
fn batches_mix_both_forms() {
    let good = serde_json::to_string(&custos()).unwrap();
    let good_ocsf = serde_json::to_string(&ocsf()).unwrap();
    let bad_ocsf =
        serde_json::to_string(&with(ocsf(), "/unmapped/custos/subjects/0", json!(""))).unwrap();
    let nd = format!("{good}\n{good_ocsf}\n");
    let events = parse_batch(nd.as_bytes(), now(), &Limits::default()).unwrap();
    assert_eq!(events[0], events[1]);
    let arr = format!("[{good},{good_ocsf}]");
    assert_eq!(
        parse_batch(arr.as_bytes(), now(), &Limits::default())
            .unwrap()
            .len(),
        2
    );
    let nd = format!("{good}\n{bad_ocsf}\n");
    let errs = parse_batch(nd.as_bytes(), now(), &Limits::default()).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].path, "$[1].unmapped.custos.subjects[0]");
    assert_eq!(errs[0].event, Some(1));
}
