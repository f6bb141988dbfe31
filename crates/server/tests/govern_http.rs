//! Governance end to end against a real `custos serve`: a supplier
//! assessed from the server's live evidence (directory, grants, the
//! forensic index, alerts); the score moving when an over-privileged grant
//! appears and when a stale account is removed, each snapshot kept as
//! history and recorded in the ledger; findings opened from deductions,
//! updated with validated transitions; escalation firing on an overdue
//! finding under the injected clock (ledger entries and alerts); residency
//! violations from ingested accesses raised as alerts; OSCAL output; roles.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod control;

use std::time::{Duration, Instant};

use control::{Srv, USER};
use serde_json::{Value, json};
use server::Role;

const GOVERN: &str = r#"
[[suppliers]]
id = "sup-cs"
name = "Callbridge BPO"
country = "PH"
contacts = [{ name = "Maria Santos", role = "security" }]

[suppliers.contract]
incident_notification_hours = 24
log_review_rights = true
audit_rights = true
subprocessing_requires_written_consent = true
max_access_validity_days = 30
offboarding_deadline_hours = 24
allowed_datasets = ["customers"]
allowed_categories = ["name", "phone"]

[[suppliers.accounts]]
principal = "sst-agent-1"
kind = "staff"

[[suppliers.accounts]]
principal = "sst-former"
kind = "staff"

[[datasets]]
id = "customers"
records = 1000
primary = { region = "ap-northeast-2", country = "KR" }
backups = [{ region = "ap-southeast-1", country = "SG" }]
subject_jurisdictions = ["KR"]

[[transfer_bases]]
dataset = "customers"
jurisdiction = "KR"
to = "SG"
basis = "pipa-28-8-1-3"
reference = "Privacy policy §9"

[org]
executive = "ciso"
manager_after_days = 3
executive_after_days = 7

[org.managers]
"kim" = "lee"
"#;

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn supplier_user(s: &Srv, name: &str) -> String {
    let body = json!({
        "schemas": [USER, "urn:custos:params:scim:schemas:extension:custos:2.0:User"],
        "userName": name, "active": true,
        "urn:custos:params:scim:schemas:extension:custos:2.0:User": {
            "principalKind": "supplier_staff", "supplierId": "sup-cs", "region": "PH"
        }
    });
    s.scim_call("POST", "/scim/v2/Users", Some(&body))
        .expect(201)
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// One access by `principal` from `country` to `customers`.
fn access(s: &Srv, id: &str, principal: &str, country: &str, subjects: usize) {
    let subs: Vec<String> = (0..subjects)
        .map(|i| format!("\"cust-{id}-{i}\""))
        .collect();
    let e = format!(
        r#"{{"id":"{id}","time":{},"actor":{{"id":"{principal}","kind":"supplier_staff"}},"source":{{"ip":"203.0.113.7","country":"{country}"}},"service":"cs-tool","operation":"GetCustomer","dataset":"customers","categories":["name","phone"],"subjects":[{}],"purpose":"support","decision":"allow"}}"#,
        now_ms(),
        subs.join(",")
    );
    s.req(
        "POST",
        "/v1/events",
        Some(&s.ingest),
        Some("application/x-ndjson"),
        Some(format!("{e}\n").as_bytes()),
    )
    .expect(200);
}

fn assess(s: &Srv) -> Value {
    s.post_json(
        "/v1/suppliers/sup-cs/assess",
        Some(&s.admin),
        &json!({"owner": "kim"}),
    )
    .expect(201)
    .json()
}

fn codes(v: &Value) -> Vec<String> {
    v["deductions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn suppliers_findings_escalation_and_residency_from_live_evidence() {
    let s = Srv::new();
    let auditor = s.cred(Role::Auditor, "regulator");
    let analyst = s.cred(Role::Analyst, "soc");
    let bob = s.cred(Role::Admin, "bob");
    // No governance file yet: no suppliers (DATA/govern.toml is optional).
    let v = s.get("/v1/suppliers", Some(&auditor)).expect(200).json();
    assert_eq!(v["suppliers"].as_array().unwrap().len(), 0);
    // The questionnaire says "yes" throughout (the paper certificate).
    let mut file = GOVERN.to_owned();
    for q in govern::QUESTIONS {
        file.push_str(&format!(
            "\n[[suppliers.answers]]\nquestion = \"{}\"\nanswer = \"yes\"\n",
            q.id
        ));
    }
    // Answers belong to the supplier: insert them before the datasets.
    let (head, tail) = GOVERN.split_at(GOVERN.find("[[datasets]]").unwrap());
    let answers = &file[GOVERN.len()..];
    std::fs::write(
        s.dir.path().join("govern.toml"),
        format!("{head}{answers}\n{tail}"),
    )
    .unwrap();
    s.get("/v1/suppliers/nope", Some(&auditor)).expect(404);
    s.get("/v1/suppliers", None).expect(401);

    supplier_user(&s, "sst-agent-1");
    let former = supplier_user(&s, "sst-former");
    access(&s, "e1", "sst-agent-1", "PH", 3);
    access(&s, "e2", "sst-agent-1", "CN", 2);

    // Live: the agent used the data (last access from the index), the
    // former agent did not (stale).
    let live = s
        .get("/v1/suppliers/sup-cs", Some(&auditor))
        .expect(200)
        .json();
    assert_eq!(live["score"], 85, "{live:#}");
    assert_eq!(codes(&live), ["stale_account", "questionnaire"]);
    let acc = &live["evidence"]["accesses"][0];
    assert_eq!(acc["principal"], "sst-agent-1");
    assert_eq!(acc["accesses"], 2);
    assert_eq!(acc["subjects"], 5);
    assert!(
        live["evidence"]["principals"][0]["last_access"]
            .as_i64()
            .unwrap()
            > 0
    );
    assert_eq!(live["metrics"]["stale_accounts"][0][0], "sst-former");

    // Roles: auditors and analysts read; only admins record assessments.
    s.post_json("/v1/suppliers/sup-cs/assess", Some(&auditor), &json!({}))
        .expect(403);
    s.post_json("/v1/suppliers/sup-cs/assess", Some(&analyst), &json!({}))
        .expect(403);
    s.post_json(
        "/v1/suppliers/sup-cs/assess",
        Some(&s.admin),
        &json!({"bogus": 1}),
    )
    .expect(400);
    let a1 = assess(&s);
    assert_eq!(a1["snapshot"]["score"], 85);
    assert_eq!(a1["snapshot"]["tier"], "low");
    assert!(a1["previous"].is_null());
    let opened1 = a1["findings_opened"].as_array().unwrap().clone();
    assert_eq!(opened1.len(), 1, "{a1:#}");
    assert_eq!(opened1[0]["reference"], "sup-cs:stale_account");

    // An over-privileged, over-long grant to the agent: the tier drops.
    let now = now_ms() / 1000;
    let g = s
        .post_json(
            "/v1/grants",
            Some(&s.admin),
            &json!({"holder": {"principal": "sst-agent-1"}, "dataset": "customers",
                    "categories": ["name", "phone", "address", "entrance_code"],
                    "purpose": "support", "max_subjects_per_day": 100,
                    "valid_from": now - 10, "valid_until": now + 60 * 86_400,
                    "ticket": "T-1"}),
        )
        .expect(201)
        .json();
    let gid = g["id"].as_str().unwrap().to_owned();
    s.post_json(&format!("/v1/grants/{gid}/approve"), Some(&bob), &json!({}))
        .expect(200);
    let a2 = assess(&s);
    assert_eq!(a2["previous"]["score"], 85);
    assert_eq!(a2["snapshot"]["score"], 60, "{a2:#}");
    assert_eq!(a2["snapshot"]["tier"], "high");
    let opened2: Vec<String> = a2["findings_opened"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reference"].as_str().unwrap().to_owned())
        .collect();
    assert!(opened2.contains(&"sup-cs:grant_outside_contract_scope".to_owned()));
    assert!(
        !opened2.contains(&"sup-cs:stale_account".to_owned()),
        "an open finding is not opened twice"
    );

    // The stale account removed by the identity provider: the score moves.
    s.scim_call(
        "PATCH",
        &format!("/scim/v2/Users/{former}"),
        Some(&json!({"schemas": [control::PATCH],
                     "Operations": [{"op": "replace", "value": {"active": false}}]})),
    )
    .expect(200);
    let a3 = assess(&s);
    assert_eq!(a3["snapshot"]["score"], 75, "{a3:#}");
    assert_eq!(a3["snapshot"]["tier"], "moderate");
    let hist = s
        .get("/v1/suppliers/sup-cs", Some(&auditor))
        .expect(200)
        .json()["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["score"].as_u64().unwrap())
        .collect::<Vec<_>>();
    assert_eq!(hist, [85, 60, 75]);
    let list = s.get("/v1/suppliers", Some(&analyst)).expect(200).json();
    assert_eq!(list["suppliers"][0]["last_snapshot"]["score"], 75);
    let assessed = s.ops("custos.govern.assess", 3);
    assert_eq!(assessed.len(), 3);
    assert_eq!(assessed[1]["unmapped"]["custos"]["score"], 60);
    assert_eq!(assessed[1]["metadata"]["log_name"], "custos.govern");

    // OSCAL assessment results.
    let o = s
        .get("/v1/suppliers/sup-cs/oscal", Some(&auditor))
        .expect(200)
        .json();
    assert_eq!(
        o["assessment-results"]["metadata"]["oscal-version"],
        "1.2.1"
    );
    assert!(
        !o["assessment-results"]["results"][0]["findings"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Findings: the stale-account one resolved with its evidence.
    let stale_id = opened1[0]["id"].as_str().unwrap().to_owned();
    s.post_json(
        &format!("/v1/findings/{stale_id}"),
        Some(&analyst),
        &json!({"status": "resolved"}),
    )
    .expect(409); // resolving needs a note
    s.post_json(
        &format!("/v1/findings/{stale_id}"),
        Some(&auditor),
        &json!({"status": "resolved", "note": "x"}),
    )
    .expect(403);
    let r = s
        .post_json(
            &format!("/v1/findings/{stale_id}"),
            Some(&analyst),
            &json!({"status": "resolved", "note": "sst-former deactivated by SCIM"}),
        )
        .expect(200)
        .json();
    assert_eq!(r["status"], "resolved");
    assert_eq!(r["history"][0]["by"], "soc");

    // A manual finding due in a day; escalation under the injected clock.
    s.post_json(
        "/v1/findings",
        Some(&analyst),
        &json!({"title": "x", "owner": "kim", "severity": "urgent"}),
    )
    .expect(400);
    s.post_json(
        "/v1/findings",
        Some(&analyst),
        &json!({"title": "x", "owner": "kim", "severity": "low", "supplier": "ghost"}),
    )
    .expect(400);
    let due = govern::format_rfc3339(now + 86_400);
    let f = s
        .post_json(
            "/v1/findings",
            Some(&analyst),
            &json!({"title": "Shared CS account", "owner": "kim", "severity": "high",
                    "due": due, "supplier": "sup-cs", "records_exposed": 1000}),
        )
        .expect(201)
        .json();
    let fid = f["id"].as_str().unwrap().to_owned();
    assert_eq!(f["money_at_risk"]["usd"], "$173,000.00");
    assert_eq!(f["escalation"]["level"], "none");
    let announced = |s: &Srv| {
        s.get(&format!("/v1/findings/{fid}"), Some(&auditor))
            .expect(200)
            .json()["escalation"]["announced"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(announced(&s), "none", "not overdue: nothing fires");
    s.set_clock_offset(2 * DAY_MS);
    wait_for("escalation to the owner", || {
        (announced(&s) == "owner").then_some(())
    });
    s.set_clock_offset(5 * DAY_MS);
    wait_for("escalation to the manager", || {
        (announced(&s) == "manager").then_some(())
    });
    let esc = s.ops("custos.govern.finding.escalate", 2);
    assert_eq!(esc.len(), 2);
    assert_eq!(esc[1]["unmapped"]["custos"]["level"], "manager");
    assert_eq!(
        esc[1]["unmapped"]["custos"]["notify"],
        json!(["kim", "lee"])
    );
    let alerts = s
        .get(
            &format!("/v1/alerts?detector=govern.escalation.{fid}"),
            Some(&auditor),
        )
        .expect(200)
        .json();
    assert!(alerts["count"].as_u64().unwrap() >= 1, "{alerts:#}");
    let report = s
        .get("/v1/findings/report", Some(&auditor))
        .expect(200)
        .json();
    assert!(report["overdue"].as_array().unwrap().contains(&json!(fid)));
    assert_eq!(report["escalated"][0]["finding"], json!(fid));
    assert!(
        report["closed"]
            .as_array()
            .unwrap()
            .contains(&json!(stale_id))
    );

    // Residency: KR subjects' data read from CN (no basis) and PH (no
    // basis) are violations; SG storage is permitted; alerts follow.
    s.set_clock_offset(0);
    let r = s.get("/v1/residency", Some(&auditor)).expect(200).json();
    let ds = &r["datasets"][0];
    assert_eq!(ds["accessed_from"], json!({"CN": 1, "PH": 1}), "{r:#}");
    assert_eq!(r["violations"], 2);
    assert_eq!(ds["permitted"][0]["country"], "SG");
    s.get("/v1/residency?from=yesterday", Some(&auditor))
        .expect(400);
    let far = s
        .get(
            "/v1/residency?from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z",
            Some(&auditor),
        )
        .expect(200)
        .json();
    assert_eq!(far["datasets"][0]["accessed_from"], json!({}));
    wait_for("residency alerts", || {
        let a = s
            .get("/v1/alerts?detector=govern.residency", Some(&auditor))
            .expect(200)
            .json();
        (a["count"].as_u64().unwrap() >= 2).then_some(())
    });
}
