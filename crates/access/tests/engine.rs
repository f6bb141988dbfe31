//! The engine and the request parsers: JSON paths of every problem, the
//! Cedar mapping (schema validation, injection), caching, concurrency.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use access::{
    ApprovalError, AuthzRequest, CEDAR_SCHEMA, Engine, EngineError, Grant, GrantRules, GrantState,
    Holder, Principal, PrincipalKind, PrincipalStatus, approve, codes, parse_authz_request,
    parse_grant_request, parse_grant_request_with, quote, revoke,
};
use cedar_policy::{PolicySet, Schema, ValidationMode, Validator};

const T0: i64 = 1_796_169_600;
const DAY: i64 = 86_400;

fn body(extra: &str) -> Vec<u8> {
    format!(
        r#"{{"holder":{{"principal":"emp-1"}},"dataset":"customers","categories":["name","phone"],
        "purpose":"customer_support","max_subjects_per_day":200,"valid_from":"2026-12-02T00:00:00Z",
        "valid_until":"2026-12-09T00:00:00Z","ticket":"SEC-123"{extra}}}"#
    )
    .into_bytes()
}

fn approved(id: &str, holder: Holder) -> Grant {
    let mut g = parse_grant_request(&body(""), "mgr-1", T0, id.into()).unwrap();
    g.holder = holder;
    approve(&mut g, "sec-1", T0).unwrap();
    g
}

fn principal(id: &str, groups: &[&str]) -> Principal {
    Principal {
        id: id.into(),
        kind: PrincipalKind::Employee,
        status: PrincipalStatus::Active,
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        department: None,
        roles: Vec::new(),
        region: None,
        supplier: None,
    }
}

fn request(principal: &str) -> AuthzRequest {
    AuthzRequest {
        principal: principal.into(),
        dataset: "customers".into(),
        categories: BTreeSet::from(["name".to_owned()]),
        purpose: "customer_support".into(),
        subjects: vec!["c-1".into()],
    }
}

fn paths(json: &[u8]) -> Vec<String> {
    parse_grant_request(json, "mgr-1", T0, "g-1".into())
        .unwrap_err()
        .problems
        .into_iter()
        .map(|p| p.path)
        .collect()
}

#[test]
fn grant_request_parses_the_documented_shape() {
    let g = parse_grant_request(&body(""), "mgr-1", T0, "g-1".into()).unwrap();
    assert_eq!(g.holder, Holder::Principal("emp-1".into()));
    assert_eq!(g.valid_from, T0);
    assert_eq!(g.valid_until, T0 + 7 * DAY);
    assert_eq!(g.categories.len(), 2);
    assert_eq!(g.state_at(T0), GrantState::Pending);
    assert_eq!((g.requested_by.as_str(), g.created_at), ("mgr-1", T0));
    // Unix seconds work too, and valid_from defaults to now.
    let g = parse_grant_request(
        br#"{"holder":{"group":"cs-team"},"dataset":"customers","categories":["name"],"purpose":"p",
            "max_subjects_per_day":1,"valid_until":1796256000,"ticket":"T"}"#,
        "mgr-1",
        T0 + 5,
        "g-2".into(),
    )
    .unwrap();
    assert_eq!((g.valid_from, g.valid_until), (T0 + 5, T0 + DAY));
}

#[test]
fn grant_request_reports_every_problem_with_its_path() {
    let bad =
        br#"{"holder":{"principal":"emp 1","x":1},"dataset":"","categories":["Name","ok","ok",3],
        "purpose":"a\"b","max_subjects_per_day":0,"valid_from":"2026-13-01T00:00:00Z",
        "valid_until":"yesterday","ticket":"","color":"red"}"#;
    assert_eq!(
        paths(bad),
        [
            "$.holder.principal",
            "$.holder.x",
            "$.dataset",
            "$.categories[0]",
            "$.categories[2]",
            "$.categories[3]",
            "$.purpose",
            "$.max_subjects_per_day",
            "$.valid_from",
            "$.valid_until",
            "$.ticket",
            "$.color",
        ]
    );
    assert_eq!(
        paths(b"{}"),
        [
            "$.holder",
            "$.dataset",
            "$.categories",
            "$.purpose",
            "$.max_subjects_per_day",
            "$.valid_until",
            "$.ticket"
        ]
    );
    assert_eq!(paths(b"[]"), ["$"]);
    assert_eq!(paths(b"{\"a\":1,\"a\":2}"), ["$"]);
    assert_eq!(
        paths(&body(r#","dataset":"x""#)),
        ["$"],
        "duplicate key refused"
    );
    assert_eq!(paths(&vec![b' '; 20_000]), ["$"], "size bound");
    assert_eq!(paths(&body("").replace_holder()), ["$.holder"]);
    // Limits of max_subjects_per_day.
    let m = |n: u64| {
        let s = String::from_utf8(body(""))
            .unwrap()
            .replace(":200", &format!(":{n}"));
        parse_grant_request(s.as_bytes(), "mgr-1", T0, "g".into()).map(|g| g.max_subjects_per_day)
    };
    assert_eq!(m(1), Ok(1));
    assert_eq!(m(10_000_000), Ok(10_000_000));
    assert!(m(10_000_001).is_err());
    assert!(m(0).is_err());
}

trait ReplaceHolder {
    fn replace_holder(&self) -> Vec<u8>;
}
impl ReplaceHolder for Vec<u8> {
    fn replace_holder(&self) -> Vec<u8> {
        String::from_utf8(self.clone())
            .unwrap()
            .replace(
                r#"{"principal":"emp-1"}"#,
                r#"{"principal":"a","group":"b"}"#,
            )
            .into_bytes()
    }
}

#[test]
fn validity_rules() {
    let at = |from: &str, until: &str, now: i64| {
        let s = format!(
            r#"{{"holder":{{"principal":"emp-1"}},"dataset":"d","categories":["c"],"purpose":"p",
            "max_subjects_per_day":1,"valid_from":{from},"valid_until":{until},"ticket":"t"}}"#
        );
        parse_grant_request(s.as_bytes(), "mgr-1", now, "g".into())
            .map(|_| ())
            .map_err(|e| (e.problems[0].path.clone(), e.problems[0].reason.clone()))
    };
    let t = |x: i64| x.to_string();
    assert!(at(&t(T0), &t(T0 + 90 * DAY), T0).is_ok(), "90 days exactly");
    let e = at(&t(T0), &t(T0 + 90 * DAY + 1), T0).unwrap_err();
    assert_eq!(e.0, "$.valid_until");
    assert!(e.1.contains("maximum"), "{e:?}");
    let e = at(&t(T0), &t(T0), T0).unwrap_err();
    assert_eq!(
        e,
        ("$.valid_until".into(), "must be after valid_from".into())
    );
    let e = at(&t(T0 - 10 * DAY), &t(T0 - DAY), T0).unwrap_err();
    assert_eq!(e, ("$.valid_until".into(), "is in the past".into()));
    assert!(at(&t(-1), &t(T0 + DAY), T0).is_err());
    assert!(at("1.5", &t(T0 + DAY), T0).is_err());
    // The maximum is configurable.
    let rules = GrantRules {
        max_validity_secs: DAY,
    };
    assert!(parse_grant_request_with(&body(""), "mgr-1", T0, "g".into(), &rules).is_err());
}

#[test]
fn authz_request_reports_paths_and_bounds() {
    let r = parse_authz_request(
        br#"{"principal":"emp-1","dataset":"customers","categories":["name"],"purpose":"p","subjects":["a","b","a"]}"#,
    )
    .unwrap();
    assert_eq!(r.subjects.len(), 3);
    let e = parse_authz_request(
        br#"{"principal":"","dataset":"c\"d","categories":[],"purpose":"p","subjects":["ok","",7,"a\u0000b"],"x":1}"#,
    )
    .unwrap_err();
    let got: Vec<&str> = e.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        got,
        [
            "$.principal",
            "$.dataset",
            "$.categories",
            "$.subjects[1]",
            "$.subjects[2]",
            "$.subjects[3]",
            "$.x"
        ]
    );
    let many: Vec<String> = (0..10_001).map(|i| format!("\"s{i}\"")).collect();
    let big = format!(
        r#"{{"principal":"e","dataset":"d","categories":["c"],"purpose":"p","subjects":[{}]}}"#,
        many.join(",")
    );
    assert_eq!(
        parse_authz_request(big.as_bytes()).unwrap_err().problems[0].path,
        "$.subjects"
    );
    // A hostile key cannot forge a path.
    let e = parse_authz_request(br#"{"a.b[0]":1}"#).unwrap_err();
    assert!(
        e.problems.iter().any(|p| p.path == r#"$.["a.b[0]"]"#),
        "{e}"
    );
}

#[test]
fn injection_is_refused_at_parse_and_at_compile_and_quoted_anyway() {
    // 1. Parse time: the characters are refused, with the path.
    let evil = r#"customers\") when { true }; permit (principal, action, resource"#;
    let s = String::from_utf8(body("")).unwrap().replace(
        r#""dataset":"customers""#,
        &format!(r#""dataset":{}"#, serde_json::Value::from(evil)),
    );
    assert_eq!(paths(s.as_bytes()), ["$.dataset"]);
    let s = String::from_utf8(body("")).unwrap().replace(
        r#""emp-1""#,
        r#""emp-1\" || true || principal == Custos::Principal::\"x""#,
    );
    assert_eq!(paths(s.as_bytes()), ["$.holder.principal"]);

    // 2. Compile time: a grant built in code (or read from a tampered
    //    store) with the same payload is refused by the engine.
    let mut g = approved("g-1", Holder::Principal("emp-1".into()));
    g.dataset = evil.into();
    assert!(matches!(
        Engine::new([g.clone()]),
        Err(EngineError::InvalidGrant { .. })
    ));
    g.dataset = "customers".into();
    g.categories.insert("name\"]) || true || ([\"".into());
    assert!(matches!(
        Engine::new([g.clone()]),
        Err(EngineError::InvalidGrant { .. })
    ));
    g.categories.remove("name\"]) || true || ([\"");
    g.id = "g\")\npermit(principal,action,resource);//".into();
    assert!(matches!(
        Engine::new([g]),
        Err(EngineError::InvalidGrant { .. })
    ));

    // 3. Quoting alone keeps the payload a string literal: one policy,
    //    whose condition compares against the exact payload.
    for payload in [evil, "a\\\"b", "\\", "\"", "é\u{0}\n\u{1F600}"] {
        let text = format!(
            "permit (principal, action, resource) when {{ context.purpose == {} }};",
            quote(payload)
        );
        let set = PolicySet::from_str(&text).unwrap();
        assert_eq!(set.policies().count(), 1, "{text}");
        let json = set.policies().next().unwrap().to_json().unwrap();
        let lit = &json["conditions"][0]["body"]["=="]["right"]["Value"];
        assert_eq!(lit, payload, "{text}");
    }
}

#[test]
fn generated_policies_validate_against_the_schema() {
    let (schema, _) = Schema::from_cedarschema_str(CEDAR_SCHEMA).unwrap();
    let validator = Validator::new(schema);
    let mut grants = Vec::new();
    for i in 0..50 {
        let holder = if i % 3 == 0 {
            Holder::Group(format!("team-{i}"))
        } else {
            Holder::Principal(format!("emp-{i}@corp.example"))
        };
        grants.push(approved(&format!("g-{i:03}"), holder));
    }
    // Pending and revoked grants make no policy.
    let mut pending = approved("g-pending", Holder::Principal("emp-1".into()));
    pending.approved_by = None;
    pending.approved_at = None;
    let mut revoked = approved("g-revoked", Holder::Principal("emp-1".into()));
    revoke(&mut revoked, "sec-1", "done", T0).unwrap();
    grants.extend([pending, revoked]);
    let engine = Engine::new(grants).unwrap();
    assert_eq!(engine.policy_count(), 51);
    let set = PolicySet::from_str(&engine.cedar_text()).unwrap();
    assert_eq!(set.policies().count(), 51);
    let result = validator.validate(&set, ValidationMode::Strict);
    assert!(
        result.validation_passed(),
        "{:?}",
        result
            .validation_errors()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    assert!(engine.cedar_text().contains("@id(\"g-000\")"));
    access::fuzzing::check_policies(&engine).unwrap();
}

#[test]
fn the_documented_example_policy() {
    let g = approved("g-1", Holder::Principal("emp-1".into()));
    assert_eq!(
        access::policy_text(&g),
        "@id(\"g-1\")\npermit (\n  principal == Custos::Principal::\"emp-1\",\n  \
         action == Custos::Action::\"access\",\n  resource == Custos::Dataset::\"customers\"\n)\n\
         when {\n  context.purpose == \"customer_support\" &&\n  \
         [\"name\", \"phone\"].containsAll(context.categories) &&\n  \
         context.now >= 1796169600 && context.now < 1796774400\n};\n"
    );
}

#[test]
fn approval_rules() {
    let mut g = parse_grant_request(&body(""), "mgr-1", T0, "g-1".into()).unwrap();
    assert_eq!(
        approve(&mut g, "mgr-1", T0),
        Err(ApprovalError::SelfApproval)
    );
    assert_eq!(
        approve(&mut g, "emp-1", T0),
        Err(ApprovalError::HolderApproval)
    );
    assert_eq!(approve(&mut g, "", T0), Err(ApprovalError::InvalidApprover));
    assert_eq!(
        approve(&mut g, "sec-1", T0 + 7 * DAY),
        Err(ApprovalError::Expired)
    );
    assert_eq!(g.approved_by, None, "refusals change nothing");
    approve(&mut g, "sec-1", T0 + 1).unwrap();
    assert_eq!(
        (g.approved_by.as_deref(), g.approved_at),
        (Some("sec-1"), Some(T0 + 1))
    );
    assert_eq!(
        approve(&mut g, "sec-2", T0),
        Err(ApprovalError::AlreadyApproved)
    );
    assert_eq!(g.state_at(T0), GrantState::Active);
    assert_eq!(g.state_at(T0 + 7 * DAY), GrantState::Expired);
    revoke(&mut g, "sec-1", "done", T0 + 2).unwrap();
    assert!(revoke(&mut g, "sec-2", "again", T0 + 3).is_err());
    assert_eq!(
        g.revoked.as_ref().unwrap().by,
        "sec-1",
        "the first revocation stands"
    );
    assert_eq!(approve(&mut g, "sec-2", T0), Err(ApprovalError::Revoked));
    // A group grant: any member but the requester may approve.
    let mut g =
        parse_grant_request(&body("").replace_holder_group(), "mgr-1", T0, "g-2".into()).unwrap();
    approve(&mut g, "emp-1", T0).unwrap();
}

trait ReplaceGroup {
    fn replace_holder_group(&self) -> Vec<u8>;
}
impl ReplaceGroup for Vec<u8> {
    fn replace_holder_group(&self) -> Vec<u8> {
        String::from_utf8(self.clone())
            .unwrap()
            .replace(r#"{"principal":"emp-1"}"#, r#"{"group":"cs-team"}"#)
            .into_bytes()
    }
}

#[test]
fn cache_follows_puts_and_directory_changes() {
    let engine = Engine::new([approved("g-team", Holder::Group("cs-team".into()))]).unwrap();
    let inside = principal("emp-1", &["cs-team"]);
    let outside = principal("emp-1", &[]);
    assert!(engine.authorize(&request("emp-1"), Some(&inside), T0).allow);
    // Removed from the group in the directory: denied at once.
    assert_eq!(
        engine
            .authorize(&request("emp-1"), Some(&outside), T0)
            .code(),
        Some(codes::NO_GRANT)
    );
    assert!(engine.authorize(&request("emp-1"), Some(&inside), T0).allow);
    // Suspended: denied at once, allowed again when reactivated.
    let mut suspended = inside.clone();
    suspended.status = PrincipalStatus::Suspended;
    assert_eq!(
        engine
            .authorize(&request("emp-1"), Some(&suspended), T0)
            .code(),
        Some(codes::PRINCIPAL_SUSPENDED)
    );
    assert!(engine.authorize(&request("emp-1"), Some(&inside), T0).allow);
    // Revoked through put: denied at once.
    let mut g = engine.grant("g-team").unwrap();
    revoke(&mut g, "sec-1", "done", T0).unwrap();
    engine.put(g).unwrap();
    assert_eq!(
        engine
            .authorize(&request("emp-1"), Some(&inside), T0)
            .code(),
        Some(codes::GRANT_REVOKED)
    );
    // A principal passed for another id is unknown.
    assert_eq!(
        engine
            .authorize(&request("emp-2"), Some(&inside), T0)
            .code(),
        Some(codes::PRINCIPAL_UNKNOWN)
    );
    // A request built in code with a bad shape is denied, not evaluated.
    let mut bad = request("emp-1");
    bad.categories.clear();
    assert_eq!(
        engine.authorize(&bad, Some(&inside), T0).code(),
        Some(codes::REQUEST_INVALID)
    );
}

#[test]
fn grants_of_and_listing() {
    let engine = Engine::new([
        approved("g-2", Holder::Principal("emp-1".into())),
        approved("g-1", Holder::Principal("emp-1".into())),
        approved("g-3", Holder::Group("emp-1".into())),
    ])
    .unwrap();
    let ids = |v: Vec<Grant>| v.into_iter().map(|g| g.id).collect::<Vec<_>>();
    assert_eq!(ids(engine.grants_of("emp-1")), ["g-1", "g-2"]);
    assert_eq!(ids(engine.grants()), ["g-1", "g-2", "g-3"]);
    // Replacing a grant with another holder moves it.
    engine
        .put(approved("g-1", Holder::Principal("emp-2".into())))
        .unwrap();
    assert_eq!(ids(engine.grants_of("emp-1")), ["g-2"]);
    assert_eq!(ids(engine.grants_of("emp-2")), ["g-1"]);
    assert_eq!(engine.policy_count(), 4);
}

#[test]
fn decision_json_shape() {
    let engine = Engine::new([approved("g-1", Holder::Principal("emp-1".into()))]).unwrap();
    let d = engine.authorize(&request("emp-1"), Some(&principal("emp-1", &[])), T0);
    assert_eq!(
        serde_json::to_value(&d).unwrap(),
        serde_json::json!({"decision":"allow","grant":"g-1","reasons":[],"subjects_today":1,"limit":200})
    );
    let d = engine.authorize(&request("emp-1"), None, T0);
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["reasons"][0]["code"], "principal_unknown");
}

#[test]
fn shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Engine>();
    let mut g = approved("g-1", Holder::Group("cs".into()));
    g.max_subjects_per_day = 1000;
    let engine = Arc::new(Engine::new([g]).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let p = principal(&format!("emp-{t}"), &["cs"]);
                let mut allowed = 0;
                for i in 0..300 {
                    let mut r = request(&p.id);
                    r.subjects = vec![format!("c-{i}")];
                    allowed += usize::from(engine.authorize(&r, Some(&p), T0).allow);
                    if i % 50 == 0 {
                        engine.put(engine.grant("g-1").unwrap()).unwrap();
                    }
                }
                allowed
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 300);
    }
}
