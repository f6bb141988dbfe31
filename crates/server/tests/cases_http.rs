//! Scope, incidents, legal holds and retention end to end against a real
//! `custos serve`: exact scope from the forensic index over ingested events,
//! roles (subject export for admins only, on the record), inclusion proofs
//! that verify, incidents with deadlines from the shipped rules, holds that
//! refuse a prune (recorded and alerted), the ledger never prunable, and the
//! index surviving a restart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod control;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use control::Srv;
use serde_json::{Value, json};
use server::Role;

const DAY: i64 = 86_400_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn event(
    t: i64,
    actor: &str,
    kid: &str,
    ip: &str,
    country: &str,
    subjects: &[String],
    allow: bool,
) -> Value {
    json!({
        "time": t,
        "actor": {"id": actor, "kind": "employee"},
        "credential": {"jti": format!("j-{actor}-{t}"), "kid": kid, "issuer": "https://sso.example"},
        "source": {"ip": ip, "country": country},
        "service": "cs-tool", "operation": "GetCustomer", "dataset": "customers",
        "categories": ["name", "phone", "address"], "subjects": subjects, "purpose": "ticket",
        "decision": if allow { "allow" } else { "deny" },
    })
}

fn ingest(s: &Srv, events: &[Value]) {
    let body: String = events.iter().map(|e| format!("{e}\n")).collect();
    s.req(
        "POST",
        "/v1/events",
        Some(&s.ingest),
        Some("application/x-ndjson"),
        Some(body.as_bytes()),
    )
    .expect(200);
}

fn custs(from: u64, n: u64) -> Vec<String> {
    (from..from + n).map(|i| format!("cust-{i:06}")).collect()
}

/// Staff read 50 customers from KR; the attacker reads 1,200 (in 12
/// requests of 100) from CN with key k-stolen, three days ago; a denied
/// request reads nothing.
fn setup(s: &Srv) -> i64 {
    let t0 = (now_ms() - 3 * DAY) / DAY * DAY + 3_600_000;
    let mut evs = vec![event(
        t0,
        "emp-1",
        "k-staff",
        "10.0.0.7",
        "KR",
        &custs(0, 50),
        true,
    )];
    for i in 0..12 {
        evs.push(event(
            t0 + 60_000 * (i + 1),
            "attacker",
            "k-stolen",
            &format!("203.0.113.{}", i + 1),
            "CN",
            &custs(100 + i as u64 * 100, 100),
            true,
        ));
    }
    evs.push(event(
        t0 + 900_000,
        "attacker",
        "k-stolen",
        "203.0.113.9",
        "CN",
        &custs(5000, 10),
        false,
    ));
    ingest(s, &evs);
    // Subject countries: 1,100 of the attacker's customers in KR, 100 in JP.
    let key = events::SubjectKey::load(&events::subject_key_path(s.dir.path())).unwrap();
    let mut reg = String::new();
    for (i, c) in custs(0, 1300).iter().enumerate() {
        let country = if i < 1200 { "KR" } else { "JP" };
        reg.push_str(&format!(
            "{},{country}\n",
            key.pseudonymise(c).to_base64url()
        ));
    }
    let dir = s.dir.path().join("forensics");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("registry.csv"), reg).unwrap();
    t0
}

fn scope(s: &Srv, token: &str, body: Value) -> control::Resp {
    s.post_json("/v1/scope", Some(token), &body)
}

#[test]
fn scope_incidents_holds_and_retention() {
    let mut s = Srv::new();
    let t0 = setup(&s);
    let analyst = s.cred(Role::Analyst, "soc");
    let auditor = s.cred(Role::Auditor, "kpmg");
    let from = events::format_rfc3339(t0 - DAY);
    let to = events::format_rfc3339(now_ms() + 60_000);

    // Exact scope, from the index.
    let a = scope(
        &s,
        &auditor,
        json!({"principal": "attacker", "from": from, "to": to}),
    )
    .expect(200)
    .json();
    assert_eq!(a["subjects"], 1200, "{a}");
    assert_eq!(a["events"], 12);
    assert_eq!(a["by_category"]["address"], 1200);
    assert_eq!(a["by_country"]["KR"], 1100);
    assert_eq!(a["by_country"]["JP"], 100);
    assert!(a["checkpoint"]["size"].as_u64().unwrap() >= 14);
    assert_eq!(a["first_access"], events::format_rfc3339(t0 + 60_000));
    // Several kinds at once: read from the ledger, still exact.
    let b = scope(
        &s,
        &analyst,
        json!({"kid": "k-stolen", "src_net": "203.0.113.0/29", "from": from, "to": to}),
    )
    .expect(200)
    .json();
    assert_eq!(b["method"], "ledger");
    let n = scope(
        &s,
        &analyst,
        json!({"src_net": "203.0.0.0/16", "from": from, "to": to}),
    )
    .expect(200)
    .json();
    assert_eq!(
        (n["subjects"].as_u64(), n["method"].as_str()),
        (Some(1200), Some("index+ledger"))
    );
    let c = scope(
        &s,
        &analyst,
        json!({"kid": "k-stolen", "src_country": "CN", "from": from, "to": to}),
    )
    .expect(200)
    .json();
    assert_eq!(
        (c["subjects"].as_u64(), c["method"].as_str()),
        (Some(1200), Some("ledger"))
    );
    assert_eq!(b["subjects"], 700, "{b}"); // 203.0.113.1–.7 read 100 each
    // Errors name the field; roles.
    let e = scope(&s, &analyst, json!({"from": "yesterday", "to": to}))
        .expect(400)
        .text();
    assert!(e.contains("from"), "{e}");
    let e = scope(&s, &analyst, json!({"form": from, "to": to}))
        .expect(400)
        .text();
    assert!(e.contains("form"), "{e}");
    scope(&s, &s.ingest.clone(), json!({"from": from, "to": to})).expect(403);
    scope(
        &s,
        &analyst,
        json!({"principal": "attacker", "from": from, "to": to, "export_subjects": true}),
    )
    .expect(403);
    let x = scope(
        &s,
        &s.admin.clone(),
        json!({"principal": "attacker", "from": from, "to": to, "export_subjects": true, "prove": 3}),
    )
    .expect(200)
    .json();
    assert_eq!(x["subject_pseudonyms"].as_array().unwrap().len(), 1200);
    let export = s.ops("custos.scope.export", 1);
    assert_eq!(export[0]["unmapped"]["custos"]["subjects"], 1200);
    // The proofs verify with only the log's public key.
    let vkey = ledger::verifier_key(s.dir.path()).unwrap();
    let proofs = x["proofs"].as_array().unwrap();
    assert_eq!(proofs.len(), 3);
    for p in proofs {
        let proof = tlog::TlogProof::parse(p["tlog_proof"].as_str().unwrap().as_bytes()).unwrap();
        let entry = p["entry"].as_str().unwrap().as_bytes();
        proof
            .verify(&tlog::leaf_hash(entry), vkey.name(), &vkey)
            .unwrap();
        let v: Value = serde_json::from_slice(entry).unwrap();
        assert_eq!(v["actor"]["user"]["uid"], "attacker");
        let mut bad = entry.to_vec();
        bad[10] ^= 1;
        assert!(
            proof
                .verify(&tlog::leaf_hash(&bad), vkey.name(), &vkey)
                .is_err()
        );
    }

    // An incident with its scope and deadlines.
    s.post_json("/v1/incidents", Some(&auditor), &json!({"title": "x"}))
        .expect(403);
    let inc = s
        .post_json(
            "/v1/incidents",
            Some(&analyst),
            &json!({"title": "Stolen key", "note": "found by hand",
                    "scope": {"principal": "attacker", "from": from}}),
        )
        .expect(201)
        .json();
    let id = inc["id"].as_str().unwrap().to_owned();
    assert_eq!(inc["scope"]["summary"]["subjects"], 1200);
    let rules: Vec<&str> = inc["deadlines"]["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["rule_id"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"kr-pipa-report"), "{rules:?}");
    let kr = inc["deadlines"]["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["rule_id"] == "kr-pipa-report")
        .unwrap();
    let aware = inc["awareness"]["at_ms"].as_i64().unwrap();
    assert_eq!(kr["due_ms"].as_i64().unwrap(), aware + 72 * 3_600_000);
    assert_eq!(kr["status"]["state"], "due_in");
    // Each timeline item is a ledger entry.
    for item in inc["timeline"].as_array().unwrap() {
        assert!(item["ledger_index"].as_u64().is_some(), "{item}");
    }
    assert_eq!(s.ops("custos.incident.open", 2).len(), 2);
    // Notified: met.
    let after = s
        .post_json(
            &format!("/v1/incidents/{id}/notifications"),
            Some(&analyst),
            &json!({"rule_id": "kr-pipa-report", "party": "PIPC", "reference": "PIPC-1"}),
        )
        .expect(200)
        .json();
    let kr = after["deadlines"]["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["rule_id"] == "kr-pipa-report")
        .unwrap()
        .clone();
    assert_eq!(kr["status"]["state"], "met", "{kr}");
    s.post_json(
        &format!("/v1/incidents/{id}/status"),
        Some(&analyst),
        &json!({"to": "contained"}),
    )
    .expect(200);
    s.post_json(
        &format!("/v1/incidents/{id}/status"),
        Some(&analyst),
        &json!({"to": "open"}),
    )
    .expect(400);
    s.post_json(
        &format!("/v1/incidents/{id}/awareness"),
        Some(&analyst),
        &json!({"at": from, "reason": "earlier"}),
    )
    .expect(403);
    let notices = s
        .get(&format!("/v1/incidents/{id}/notices"), Some(&auditor))
        .expect(200)
        .json();
    let text = notices["notices"][0]["body"].as_str().unwrap();
    assert!(text.contains("1,200") || text.contains("1200"), "{text}");

    // Legal hold: a prune under it is refused, recorded and alerted.
    s.post_json("/v1/holds", Some(&analyst), &json!({"reason": "order"}))
        .expect(403);
    let hold = s
        .post_json(
            "/v1/holds",
            Some(&s.admin.clone()),
            &json!({"reason": "Preservation order 2025-77", "case_ref": id}),
        )
        .expect(201)
        .json();
    let before = events::format_rfc3339(now_ms() - DAY);
    let r = s
        .post_json(
            "/v1/retention/prune",
            Some(&s.admin.clone()),
            &json!({"target": "forensic_index", "before": before}),
        )
        .expect(409)
        .text();
    assert!(r.contains(hold["id"].as_str().unwrap()), "{r}");
    s.post_json(
        "/v1/retention/prune",
        Some(&s.admin.clone()),
        &json!({"target": "ledger_entries", "before": before}),
    )
    .expect(409);
    let refusals = s.entries(2, |v| {
        v["api"]["operation"] == "custos.retention.prune" && v["status_id"] == 2
    });
    assert_eq!(refusals.len(), 2);
    let start = std::time::Instant::now();
    loop {
        let alerts = s.get("/v1/alerts", Some(&analyst)).expect(200).json();
        let n = alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| {
                a["finding"]["detector"] == "retention.hold_violation"
                    && a["finding"]["severity"] == "critical"
            })
            .count();
        if n >= 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no hold-violation alert: {alerts}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Lifted: the prune runs; later days stay exact, earlier ones warn.
    s.post_json(
        &format!("/v1/holds/{}/lift", hold["id"].as_str().unwrap()),
        Some(&s.admin.clone()),
        &json!({"reason": "order withdrawn"}),
    )
    .expect(200);
    let holds = s.get("/v1/holds", Some(&auditor)).expect(200).json();
    assert_eq!(holds["holds"][0]["active"], false);
    let p = s
        .post_json(
            "/v1/retention/prune",
            Some(&s.admin.clone()),
            &json!({"target": "forensic_index", "before": before}),
        )
        .expect(200)
        .json();
    assert!(p["day_cells_dropped"].as_u64().unwrap() > 0, "{p}");
    let w = scope(
        &s,
        &analyst,
        json!({"principal": "attacker", "from": from, "to": to}),
    )
    .expect(200)
    .json();
    assert!(!w["warnings"].as_array().unwrap().is_empty(), "{w}");

    // After a restart the index and the incidents are still there.
    s.restart();
    assert!(s.dir.path().join("forensics/index.bin").is_file());
    let list = s.get("/v1/incidents", Some(&auditor)).expect(200).json();
    assert_eq!(list["incidents"][0]["id"], id.as_str());
    assert_eq!(list["incidents"][0]["status"], "contained");
}
