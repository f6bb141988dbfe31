//! Data-driven decisions, in the manner of Cedar's integration tests: each
//! `tests/cases/*.json` holds grants, principals and a sequence of steps
//! (authorization requests with the expected decision, approvals and
//! revocations with the expected error), run against one engine with an
//! injected clock.
//!
//! Grants, principals and requests are written as differences from the
//! defaults below (grant `g-1` to `emp-1`: `customers`, `name`+`phone`,
//! `customer_support`, 200 a day, approved, valid one week from
//! 2026-12-02T00:00:00Z); requests go through `parse_authz_request`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use access::{Engine, Grant, Principal, approve, codes, parse_authz_request, revoke};
use serde_json::{Value, json};

const T0: i64 = 1_796_169_600;

fn merged(mut base: Value, over: &Value) -> Value {
    for (k, v) in over.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn default_grant() -> Value {
    json!({"id":"g-1","holder":{"principal":"emp-1"},"dataset":"customers",
        "categories":["name","phone"],"purpose":"customer_support","max_subjects_per_day":200,
        "valid_from":T0,"valid_until":T0 + 7 * 86_400,"requested_by":"mgr-1","approved_by":"sec-1",
        "approved_at":T0,"ticket":"SEC-1","created_at":T0,"revoked":null})
}

fn run_case(path: &Path) -> Result<usize, String> {
    let case: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let grants: Vec<Grant> = case["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| serde_json::from_value(merged(default_grant(), g)).unwrap())
        .collect();
    let principals: Vec<Principal> = case["principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let base = json!({"kind":"employee","status":"active","groups":[]});
            serde_json::from_value(merged(base, p)).unwrap()
        })
        .collect();
    let engine = Engine::new(grants).map_err(|e| e.to_string())?;
    access::fuzzing::check_policies(&engine)?;
    let mut steps = 0;
    for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
        let now = step["now"].as_i64().unwrap();
        let at = format!("step {i}");
        if let Some(r) = step.get("request") {
            let base = json!({"principal":"emp-1","dataset":"customers","categories":["name"],
                "purpose":"customer_support","subjects":["c-1"]});
            let body = serde_json::to_vec(&merged(base, r)).unwrap();
            let req = parse_authz_request(&body).map_err(|e| format!("{at}: {e}"))?;
            let p = principals.iter().find(|p| p.id == req.principal);
            let d = engine.authorize(&req, p, now);
            let got = serde_json::to_value(&d).unwrap();
            let want = &step["expect"];
            let check = |ok: bool, what: &str| {
                if ok {
                    Ok(())
                } else {
                    Err(format!("{at}: {what}: expected {want}, got {got}"))
                }
            };
            check(got["decision"] == want["decision"], "decision")?;
            if let Some(code) = want.get("reason") {
                check(got["reasons"][0]["code"] == *code, "first reason")?;
            }
            for k in ["grant", "subjects_today", "limit"] {
                if let Some(v) = want.get(k) {
                    check(got[k] == *v, k)?;
                }
            }
            check(
                d.allow == d.reasons.is_empty(),
                "a deny has reasons, an allow none",
            )?;
            check(
                d.reasons
                    .iter()
                    .all(|r| r.code != codes::ENGINE_DISAGREEMENT),
                "Cedar and the explanation agree",
            )?;
        } else {
            let (op, result) = if let Some(a) = step.get("approve") {
                let mut g = engine.grant(a["grant"].as_str().unwrap()).unwrap();
                let r = approve(&mut g, a["by"].as_str().unwrap(), now).map(|()| g);
                ("approve", r.map_err(|e| format!("{e:?}")))
            } else if let Some(a) = step.get("revoke") {
                let mut g = engine.grant(a["grant"].as_str().unwrap()).unwrap();
                let r = revoke(
                    &mut g,
                    a["by"].as_str().unwrap(),
                    a["reason"].as_str().unwrap(),
                    now,
                )
                .map(|()| g);
                ("revoke", r.map_err(|e| format!("{e:?}")))
            } else {
                return Err(format!("{at}: unknown step"));
            };
            match (result, step.get("expect_error").and_then(Value::as_str)) {
                (Ok(g), None) => engine.put(g).map_err(|e| e.to_string())?,
                (Err(e), Some(want)) if e == want => {}
                (r, want) => return Err(format!("{at}: {op}: got {r:?}, expected {want:?}")),
            }
        }
        steps += 1;
    }
    access::fuzzing::check_policies(&engine)?;
    Ok(steps)
}

#[test]
fn cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let mut failures = Vec::new();
    let mut steps = 0;
    let mut codes_seen = std::collections::BTreeSet::new();
    for p in &paths {
        let text = std::fs::read_to_string(p).unwrap();
        for c in text.split("\"reason\": \"").skip(1) {
            codes_seen.insert(c.split('"').next().unwrap().to_owned());
        }
        match run_case(p) {
            Ok(n) => steps += n,
            Err(e) => failures.push(format!("{}: {e}", p.file_name().unwrap().to_string_lossy())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        paths.len() >= 20 && steps >= 40,
        "{} cases, {steps} steps",
        paths.len()
    );
    // Every stable deny code is exercised by some case.
    for code in [
        codes::NO_GRANT,
        codes::DATASET_NOT_GRANTED,
        codes::CATEGORY_NOT_GRANTED,
        codes::PURPOSE_MISMATCH,
        codes::GRANT_PENDING_APPROVAL,
        codes::GRANT_NOT_YET_VALID,
        codes::GRANT_EXPIRED,
        codes::GRANT_REVOKED,
        codes::DAILY_SUBJECT_LIMIT,
        codes::PRINCIPAL_UNKNOWN,
        codes::PRINCIPAL_SUSPENDED,
        codes::PRINCIPAL_OFFBOARDED,
    ] {
        assert!(codes_seen.contains(code), "no case expects {code}");
    }
}
