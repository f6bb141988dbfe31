//! Alerts end to end against a real `custos serve`: forged tokens refused
//! by introspection are found by the detector task and raised as alerts;
//! roles; the lifecycle open → acknowledged → closed with who and when, each
//! an OCSF Detection Finding in the ledger (checked against the official
//! OCSF 1.3.0 schema); suppressions; signed webhook deliveries retried after
//! a failure; and no duplicate alert after a restart (the detectors resume
//! from their checkpoint).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod control;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use control::{Srv, claims, ocsf_valid, sign};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use server::Role;
use sha2::Sha256;

const SECRET: &str = "webhook-secret-0123456789abcdef";

/// One request a webhook receiver got: headers (lower-case names) and body.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook receiver answering 500 to its first request and 200 after.
fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut headers = Vec::new();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
                if k == "content-length" {
                    len = v.parse().unwrap();
                }
                headers.push((k, v));
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            let n = {
                let mut g = seen.lock().unwrap();
                g.push(Received {
                    headers,
                    body: String::from_utf8(body).unwrap(),
                });
                g.len()
            };
            let status = if n == 1 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (url, got)
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
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alerts(s: &Srv, token: &str, query: &str) -> Vec<Value> {
    s.get(&format!("/v1/alerts{query}"), Some(token))
        .expect(200)
        .json()["alerts"]
        .as_array()
        .unwrap()
        .clone()
}

/// A well-signed, never-issued token of the current key for `sub`.
fn forge(s: &Srv, sub: &str, jti: &str) -> (String, String) {
    let (real, _) = s.issue("cust-1");
    let iss = token::peek(&real).iss.unwrap();
    let kid = s.current_kid();
    let forged = sign(
        &s.seed(&kid).unwrap(),
        &json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}),
        &claims(&iss, sub, jti),
    );
    (forged, kid)
}

#[test]
fn forged_tokens_raise_alerts_with_lifecycle_suppression_webhooks_and_restart() {
    let mut s = Srv::new();
    let (url, got) = receiver();
    std::fs::write(s.dir.path().join("hook.secret"), SECRET).unwrap();
    std::fs::write(
        s.dir.path().join("detect.toml"),
        format!(
            "[sla]\ncritical = \"10m\"\n\n[[webhooks]]\nname = \"soc\"\nurl = \"{url}\"\n\
             secret_file = \"hook.secret\"\nmin_severity = \"high\"\n"
        ),
    )
    .unwrap();
    s.restart();
    s.customers(&["cust-1", "cust-2", "cust-3"]);
    let analyst = s.cred(Role::Analyst, "ana");
    let auditor = s.cred(Role::Auditor, "audrey");

    // Roles: reading needs admin/analyst/auditor; triage admin/analyst.
    assert_eq!(s.get("/v1/alerts", None).status, 401);
    for other in [&s.ingest, &s.gateway, &s.scim] {
        assert_eq!(s.get("/v1/alerts", Some(other)).status, 403);
    }
    assert_eq!(s.get("/v1/alerts?status=bogus", Some(&auditor)).status, 400);

    // A suppression for the first key's forgeries (a known test rig).
    let (forged1, kid1) = forge(&s, "cust-2", "forged-1");
    let bad = json!({"reason": "x", "for_s": 600});
    assert_eq!(
        s.post_json("/v1/alerts/suppressions", Some(&analyst), &bad)
            .status,
        400,
        "a suppression must name a detector or an entity"
    );
    let sup = json!({"detector": "token.refused.*", "entity": kid1,
                     "reason": "red-team exercise", "for_s": 3600});
    assert_eq!(
        s.post_json("/v1/alerts/suppressions", Some(&auditor), &sup)
            .status,
        403
    );
    let sup = s
        .post_json("/v1/alerts/suppressions", Some(&analyst), &sup)
        .expect(201)
        .json();
    assert_eq!(sup["created_by"], "ana");
    assert_eq!(s.introspect(&forged1), json!({"active": false}));
    let suppressed = wait_for("the suppressed alert", || {
        alerts(&s, &auditor, "?status=suppressed")
            .into_iter()
            .next()
    });
    assert_eq!(
        suppressed["finding"]["detector"],
        "token.refused.never_issued"
    );
    assert_eq!(suppressed["suppressed_by"], sup["id"]);

    // A new key; its forgery raises a live alert.
    s.req("POST", "/v1/keys/rotate", Some(&s.admin), None, None)
        .expect(200);
    let (forged2, kid2) = forge(&s, "cust-3", "forged-2");
    assert_ne!(kid1, kid2);
    assert_eq!(s.introspect(&forged2), json!({"active": false}));
    let a = wait_for("the open alert", || {
        alerts(&s, &analyst, "?status=open").into_iter().next()
    });
    assert_eq!(a["finding"]["detector"], "token.refused.never_issued");
    assert_eq!(a["finding"]["severity"], "critical");
    assert_eq!(a["finding"]["entity"], json!({"kind": "kid", "id": kid2}));
    assert!(
        !a["finding"]["evidence"]["indices"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        a["ack_due_ms"].as_i64().unwrap() - a["opened_ms"].as_i64().unwrap(),
        600_000
    );
    assert_eq!(a["sla"]["breached"], false);
    let id = a["id"].as_str().unwrap().to_owned();
    // The evidence points at the refusal entry of the forged token.
    let ledger = s.ledger();
    let ev = a["finding"]["evidence"]["indices"][0].as_u64().unwrap() as usize;
    assert_eq!(
        ledger[ev].1["unmapped"]["custos"]["refusal"],
        "never_issued"
    );
    let token_resource = ledger[ev].1["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "token")
        .cloned();
    assert_eq!(token_resource.unwrap()["uid"], "forged-2");

    // Lifecycle: auditors cannot move it; the analyst acknowledges, once.
    let ack = format!("/v1/alerts/{id}/ack");
    assert_eq!(s.post_json(&ack, Some(&auditor), &json!({})).status, 403);
    let acked = s
        .post_json(&ack, Some(&analyst), &json!({"note": "looking"}))
        .expect(200)
        .json();
    assert_eq!(acked["status"], "acknowledged");
    assert_eq!(acked["acknowledged"]["by"], "ana");
    assert!(acked["sla"]["time_to_ack_ms"].as_i64().unwrap() >= 0);
    assert_eq!(s.post_json(&ack, Some(&analyst), &json!({})).status, 409);
    let closed = s
        .post_json(
            &format!("/v1/alerts/{id}/close"),
            Some(&s.admin),
            &json!({"note": "key retired"}),
        )
        .expect(200)
        .json();
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["closed"]["by"], "alice");
    let sla = s.get("/v1/alerts/sla", Some(&auditor)).expect(200).json();
    assert_eq!(sla["by_severity"]["critical"]["alerts"], 1);
    assert_eq!(sla["by_severity"]["critical"]["acknowledged"], 1);
    assert_eq!(sla["by_severity"]["critical"]["breached"], 0);

    // Every step is a Detection Finding in the ledger, with who.
    let findings = s.entries(4, |v| v["class_uid"] == 2004);
    let of_alert: Vec<&Value> = findings
        .iter()
        .map(|(_, v)| v)
        .filter(|v| v["unmapped"]["custos"]["alert"] == id.as_str())
        .collect();
    let steps: Vec<(u64, u64, &str)> = of_alert
        .iter()
        .map(|v| {
            (
                v["activity_id"].as_u64().unwrap(),
                v["status_id"].as_u64().unwrap(),
                v["unmapped"]["custos"]["by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![(1, 1, "custos"), (2, 2, "ana"), (3, 4, "alice")]
    );
    let mut to_check: Vec<Value> = findings.into_iter().map(|(_, v)| v).collect();
    to_check.extend(s.ops("custos.alert.suppress", 1));
    ocsf_valid(&to_check);

    // The webhook: only the live alert (the suppressed one is not sent),
    // refused once with 500, delivered on the retry, signed.
    let deliveries = wait_for("two webhook attempts", || {
        let g = got.lock().unwrap();
        (g.len() >= 2).then(|| g.clone())
    });
    for d in &deliveries {
        let body: Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(body["alert"]["id"], id.as_str());
        assert_eq!(body["finding"]["class_uid"], 2004);
        let sig = d.header("custos-signature").unwrap();
        let (t, v1) = sig.split_once(",v1=").unwrap();
        let t = t.strip_prefix("t=").unwrap();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{t}.{}", d.body).as_bytes());
        assert_eq!(hex::encode(mac.finalize().into_bytes()), v1, "signature");
    }
    let one = wait_for("the delivery recorded", || {
        let v = s
            .get(&format!("/v1/alerts/{id}"), Some(&auditor))
            .expect(200)
            .json();
        (v["deliveries"][0]["state"] == "delivered").then_some(v)
    });
    assert_eq!(one["deliveries"][0]["attempts"], 2);
    assert_eq!(one["deliveries"].as_array().unwrap().len(), 1);

    // Restart: the alerts stay; the detectors resume and raise nothing twice.
    let before = alerts(&s, &auditor, "");
    s.restart();
    assert!(s.dir.path().join("detect").join("engine.json").is_file());
    std::thread::sleep(Duration::from_millis(1500));
    let after = alerts(&s, &auditor, "");
    assert_eq!(before.len(), 2);
    assert_eq!(after.len(), before.len());
    assert_eq!(after[0]["status"], before[0]["status"]);

    // Lose the checkpoint: the ledger is replayed from 0, still no duplicate.
    s.restart_with(|dir| {
        std::fs::remove_file(dir.join("detect").join("engine.json")).unwrap();
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(alerts(&s, &auditor, "").len(), 2);
    assert_eq!(got.lock().unwrap().len(), 2, "nothing delivered twice");
}
