//! Governance from the binary against a real `custos serve
//! --govern-config FILE`: `custos supplier list|show|assess|oscal`,
//! `custos residency report`, `custos findings add|list|update|report`,
//! human and `--json` output, and refusals with clear messages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{Sandbox, last_line, s};
use serde_json::{Value, json};

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
records = 2000
primary = { region = "ap-northeast-2", country = "KR" }
backups = [{ region = "ap-southeast-1", country = "SG" }]
subject_jurisdictions = ["KR"]

[[transfer_bases]]
dataset = "customers"
jurisdiction = "KR"
to = "SG"
basis = "pipa-28-8-1-3"
reference = "Privacy policy §9"

[[transfer_bases]]
dataset = "customers"
jurisdiction = "KR"
to = "PH"
basis = "pipa-28-8-1-3"
reference = "Privacy policy §9: entrusted customer service (Callbridge, PH)"
"#;

struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(sb: &Sandbox, args: &[&str]) -> Served {
    let mut all = vec!["serve", "--listen", "127.0.0.1:0", "--log-level", "warn"];
    all.extend_from_slice(args);
    let (mut cmd, what) = sb.command(&all);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("`{what}` did not start: {line:?}"))
        .to_owned();
    Served { child, url }
}

fn http(method: &str, url: &str, token: &str, ct: &str, body: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let req = request(method, url, token, ct);
    let mut r = agent
        .run(req.body(body.as_bytes().to_vec()).unwrap())
        .unwrap();
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn request(method: &str, url: &str, token: &str, ct: &str) -> ureq::http::request::Builder {
    ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", ct)
}

fn token(sb: &Sandbox, d: &str, role: &str, name: &str) -> String {
    last_line(
        &sb.custos(&[
            "admin", "token", "--data", d, "--role", role, "--name", name,
        ])
        .ok()
        .out(),
    )
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn supplier_residency_and_findings_from_the_binary() {
    let sb = Sandbox::new();
    let l = sb.init("data", "govern.custos.example/log");
    let d = l.d();
    let admin = token(&sb, d, "admin", "vendor-risk");
    let ciso = token(&sb, d, "admin", "ciso");
    let analyst = token(&sb, d, "analyst", "soc");
    let auditor = token(&sb, d, "auditor", "regulator");
    let scim = token(&sb, d, "scim", "okta");
    let ingest = token(&sb, d, "ingest", "gw");
    let mut file = GOVERN.to_owned();
    let (head, tail) = file.split_at(file.find("[[datasets]]").unwrap());
    let answers: String = [
        "AM-1", "AM-2", "AM-3", "AM-4", "AM-5", "MA-1", "MA-2", "MA-3", "IR-1", "IR-2", "IR-3",
        "SC-1", "SC-2", "SC-3",
    ]
    .iter()
    .map(|q| format!("[[suppliers.answers]]\nquestion = \"{q}\"\nanswer = \"yes\"\n\n"))
    .collect();
    file = format!("{head}{answers}{tail}");
    let gfile = sb.write("govern.toml", file.as_bytes());

    // A broken governance file stops the server with the field named.
    let bad = sb.write("bad.toml", b"[[suppliers]]\nid = \"x\"\n");
    sb.custos(&["serve", "--data", d, "--govern-config", s(&bad)])
        .fails()
        .err_has(&["governance file", "suppliers[0]"]);

    let srv = serve(&sb, &["--data", d, "--govern-config", s(&gfile)]);
    let url = srv.url.clone();
    let cli = |tok: &str, args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&["--server", &url, "--token", tok]);
        sb.custos(&all)
    };

    let mut former_id = String::new();
    for user in ["sst-agent-1", "sst-former"] {
        let (st, v) = http(
            "POST",
            &format!("{url}/scim/v2/Users"),
            &scim,
            "application/scim+json",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                            "urn:custos:params:scim:schemas:extension:custos:2.0:User"],
                "userName": user, "active": true,
                "urn:custos:params:scim:schemas:extension:custos:2.0:User":
                    {"principalKind": "supplier_staff", "supplierId": "sup-cs"}
            })
            .to_string(),
        );
        assert_eq!(st, 201, "{v}");
        former_id = v["id"].as_str().unwrap().to_owned();
    }
    let events: String = [("e1", "PH"), ("e2", "CN")]
        .iter()
        .map(|(id, c)| {
            format!(
                r#"{{"id":"{id}","time":{},"actor":{{"id":"sst-agent-1","kind":"supplier_staff"}},"source":{{"ip":"203.0.113.9","country":"{c}"}},"service":"cs-tool","operation":"GetCustomer","dataset":"customers","categories":["name","phone"],"subjects":["cust-{id}"],"purpose":"support","decision":"allow"}}
"#,
                now_ms()
            )
        })
        .collect();
    let (st, v) = http(
        "POST",
        &format!("{url}/v1/events"),
        &ingest,
        "application/x-ndjson",
        &events,
    );
    assert_eq!(st, 200, "{v}");

    // supplier list / show (live): stale former agent, questionnaire contradicted.
    let out = cli(&auditor, &["supplier", "list"]).ok().out();
    assert!(
        out.contains("sup-cs") && out.contains("Callbridge BPO"),
        "{out}"
    );
    assert!(out.contains(" 85 ") && out.contains("low"), "{out}");
    let show = cli(&auditor, &["supplier", "show", "sup-cs", "--json"])
        .ok()
        .out();
    let v: Value = serde_json::from_str(&show).unwrap();
    assert_eq!(v["score"], 85);
    assert_eq!(v["metrics"]["stale_accounts"][0][0], "sst-former");
    let human = cli(&auditor, &["supplier", "show", "sup-cs"]).ok().out();
    assert!(human.contains("stale_account"), "{human}");
    assert!(human.contains("sst-former"), "{human}");

    // assess: auditors may not; admins record the snapshot.
    cli(&auditor, &["supplier", "assess", "sup-cs"])
        .fails()
        .err_has(&["403"]);
    let a1 = cli(&admin, &["supplier", "assess", "sup-cs"]).ok().out();
    assert!(a1.contains("score 85 tier low"), "{a1}");
    assert!(a1.contains("first snapshot"), "{a1}");

    // An over-privileged grant to the agent: the tier drops.
    let now = now_ms() / 1000;
    let (st, g) = http(
        "POST",
        &format!("{url}/v1/grants"),
        &admin,
        "application/json",
        &json!({"holder": {"principal": "sst-agent-1"}, "dataset": "customers",
                "categories": ["name", "phone", "address"], "purpose": "support",
                "max_subjects_per_day": 100, "valid_from": now - 10,
                "valid_until": now + 45 * 86_400, "ticket": "T-9"})
        .to_string(),
    );
    assert_eq!(st, 201, "{g}");
    let gid = g["id"].as_str().unwrap();
    let (st, _) = http(
        "POST",
        &format!("{url}/v1/grants/{gid}/approve"),
        &ciso,
        "application/json",
        "{}",
    );
    assert_eq!(st, 200);
    let a2 = cli(&admin, &["supplier", "assess", "sup-cs", "--json"])
        .ok()
        .out();
    let a2: Value = serde_json::from_str(&a2).unwrap();
    assert_eq!(a2["previous"]["score"], 85);
    assert_eq!(a2["snapshot"]["score"], 60);
    assert_eq!(a2["snapshot"]["tier"], "high");

    // The stale account removed: the score moves back up.
    let (st, _) = http(
        "PATCH",
        &format!("{url}/scim/v2/Users/{former_id}"),
        &scim,
        "application/scim+json",
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"active": false}}]})
        .to_string(),
    );
    assert_eq!(st, 200);
    let a3 = cli(&admin, &["supplier", "assess", "sup-cs"]).ok().out();
    assert!(a3.contains("score 75 tier moderate"), "{a3}");
    assert!(a3.contains("was 60 (high)"), "{a3}");
    let human = cli(&auditor, &["supplier", "show", "sup-cs"]).ok().out();
    assert!(human.contains("85 (low) →"), "{human}");

    // OSCAL to a file.
    let oscal = sb.path("sup-cs.oscal.json");
    cli(
        &auditor,
        &["supplier", "oscal", "sup-cs", "--out", s(&oscal)],
    )
    .ok()
    .err_has(&["OSCAL 1.2.1"]);
    let o: Value = serde_json::from_slice(&std::fs::read(&oscal).unwrap()).unwrap();
    assert_eq!(
        o["assessment-results"]["metadata"]["oscal-version"],
        "1.2.1"
    );
    cli(&auditor, &["supplier", "show", "nope"])
        .fails()
        .err_has(&["404"]);

    // Residency: PH is declared (entrusted processing); CN is not.
    let r = cli(&auditor, &["residency", "report"]).ok().out();
    assert!(r.contains("1 violation(s)"), "{r}");
    assert!(r.contains("VIOLATION") && r.contains("from CN"), "{r}");
    assert!(r.contains("permitted: KR subjects → PH"), "{r}");
    let rj = cli(&auditor, &["residency", "report", "--json"]).ok().out();
    let rj: Value = serde_json::from_str(&rj).unwrap();
    assert_eq!(
        rj["datasets"][0]["accessed_from"],
        json!({"CN": 1, "PH": 1})
    );
    cli(&auditor, &["residency", "report", "--from", "last week"])
        .fails()
        .err_has(&["400", "from"]);

    // Findings: the assessment's, plus one by hand; update; report.
    let list = cli(&auditor, &["findings", "list", "--json"]).ok().out();
    let list: Value = serde_json::from_str(&list).unwrap();
    let from_assessment = list["count"].as_u64().unwrap();
    assert!(from_assessment >= 2, "{list:#}");
    let added = cli(
        &analyst,
        &[
            "findings",
            "add",
            "--title",
            "Shared CS login",
            "--owner",
            "kim",
            "--severity",
            "high",
            "--supplier",
            "sup-cs",
            "--records",
            "2000",
            "--json",
        ],
    )
    .ok()
    .out();
    let added: Value = serde_json::from_str(&added).unwrap();
    let fid = added["id"].as_str().unwrap().to_owned();
    assert_eq!(added["money_at_risk"]["usd"], "$346,000.00");
    cli(
        &analyst,
        &[
            "findings",
            "add",
            "--title",
            "x",
            "--owner",
            "kim",
            "--severity",
            "urgent",
        ],
    )
    .fails()
    .err_has(&["400", "severity"]);
    let upd = cli(
        &analyst,
        &[
            "findings",
            "update",
            &fid,
            "--status",
            "in_progress",
            "--note",
            "on it",
        ],
    )
    .ok()
    .out();
    assert!(upd.contains("status in_progress"), "{upd}");
    cli(
        &analyst,
        &["findings", "update", &fid, "--status", "resolved"],
    )
    .fails()
    .err_has(&["409"]);
    let table = cli(&auditor, &["findings", "list", "--status", "in_progress"])
        .ok()
        .out();
    assert!(
        table.contains(&fid) && table.contains("Shared CS login"),
        "{table}"
    );
    assert!(table.contains("1 finding(s)"), "{table}");
    let rep = cli(&auditor, &["findings", "report"]).ok().out();
    assert!(
        rep.contains(&format!("opened {}", from_assessment + 1)),
        "{rep}"
    );
    let help = sb.custos(&["findings", "--help"]).ok().out();
    assert!(
        help.contains("escalate") && help.contains("Examples"),
        "{help}"
    );
}
