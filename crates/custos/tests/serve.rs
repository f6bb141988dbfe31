//! `custos serve` and `custos admin` end to end: the real binary, a real
//! socket, then `custos ledger verify` on what it wrote.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{Sandbox, last_line, s};
use serde_json::Value;

/// The input event of docs/events.md (its 2025 time needs
/// `--max-event-age unlimited` on today's clock).
const DOCS_EVENT: &str = r#"{"id":"evt-0001","time":"2025-06-01T03:04:05.123Z","activity":"read","actor":{"id":"emp-0042","kind":"employee"},"credential":{"jti":"tok-9f2c","kid":"cs-2024-01","issuer":"https://auth.example.com"},"source":{"ip":"203.0.113.7","country":"KR"},"service":"customer-service-tool","operation":"GetCustomerAddress","dataset":"customers","categories":["name","address","entrance_code"],"subjects":["cust-1001","cust-1002"],"purpose":"support-ticket-4711","decision":"allow"}"#;

struct Served {
    child: Child,
    url: String,
    stderr: std::thread::JoinHandle<String>,
}

fn serve(sb: &Sandbox, args: &[&str]) -> Served {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    let (mut cmd, what) = sb.command(&all);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let Some(url) = line.trim().strip_prefix("listening on ") else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "`{what}` did not print its address; stdout {line:?}, stderr:\n{}",
            stderr.join().unwrap()
        );
    };
    Served {
        url: url.to_owned(),
        child,
        stderr,
    }
}

impl Served {
    /// SIGTERM, then the exit status and stderr.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(ok.success());
        let status = self.child.wait().unwrap();
        (status, self.stderr.join().unwrap())
    }
}

/// The 43-character secret at the end of a token.
fn secret_of(token: &str) -> &str {
    &token[token.len() - 43..]
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn post(url: &str, token: &str, body: &str) -> (u16, Value) {
    let mut r = agent()
        .post(format!("{url}/v1/events"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/x-ndjson")
        .send(body)
        .unwrap();
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = agent().get(url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let mut r = req.call().unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

#[test]
fn serve_ingest_admin_and_verify_end_to_end() {
    let sb = Sandbox::new();
    let l = sb.init("data", "serve.custos.example/log");
    let d = l.d();

    // Credentials issued before the server runs are logged by the CLI.
    let run = sb
        .custos(&[
            "admin", "token", "--data", d, "--role", "ingest", "--name", "gw-1",
        ])
        .ok();
    let ingest = last_line(&run.out());
    assert!(ingest.starts_with("cst_ingest_"), "{ingest}");
    assert!(
        run.err().contains("recorded in the ledger at index 0"),
        "{}",
        run.err()
    );
    let ingest_id = ingest.split('_').nth(2).unwrap().to_owned();
    let auditor = last_line(
        &sb.custos(&["admin", "token", "--data", d, "--role", "auditor"])
            .ok()
            .out(),
    );

    let srv = serve(
        &sb,
        &[
            "--data",
            d,
            "--listen",
            "127.0.0.1:0",
            "--max-event-age",
            "unlimited",
        ],
    );
    let url = srv.url.clone();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );

    let (status, ack) = post(&url, &ingest, &format!("{DOCS_EVENT}\n{DOCS_EVENT}\n"));
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["accepted"], 2);
    let first = ack["event_indices"][0].as_u64().unwrap();
    assert_eq!(
        first, 3,
        "after the two admin entries and the token authority's first signing key"
    );
    let (status, _) = post(&url, &auditor, DOCS_EVENT);
    assert_eq!(status, 403);

    // Issued while the server runs: pending for the server, usable at once.
    let run = sb
        .custos(&[
            "admin", "token", "--data", d, "--role", "ingest", "--actor", "ops-bot",
        ])
        .ok();
    assert!(run.err().contains("pending"), "{}", run.err());
    let second = last_line(&run.out());
    let (status, ack2) = post(&url, &second, DOCS_EVENT);
    assert_eq!(status, 200, "{ack2}");

    // Revoked while the server runs: refused at the next request.
    sb.custos(&["admin", "revoke", "--data", d, "--id", &ingest_id])
        .ok()
        .out_has(&["revoked credential"]);
    let (status, _) = post(&url, &ingest, DOCS_EVENT);
    assert_eq!(status, 401);

    let list = sb.custos(&["admin", "list", "--data", d]).ok().out();
    assert!(
        list.contains(&ingest_id) && list.contains("revoked"),
        "{list}"
    );
    assert!(!list.contains(secret_of(&ingest)), "no secrets listed");

    let (status, metrics) = get(&format!("{url}/metrics"), Some(&auditor));
    assert_eq!(status, 200);
    assert!(
        metrics.contains("custos_ingest_events_total 3\n"),
        "{metrics}"
    );
    let (status, cp) = get(&format!("{url}/log/checkpoint"), None);
    assert_eq!(status, 200);
    assert!(cp.starts_with("serve.custos.example/log\n"));

    // Wait until the server has logged the pending actions (the list says
    // so), then stop it with SIGTERM: exit 0.
    let start = std::time::Instant::now();
    loop {
        let list: Value = serde_json::from_str(
            &sb.custos(&["admin", "list", "--data", d, "--json"])
                .ok()
                .out(),
        )
        .unwrap();
        let all_logged = list.as_array().unwrap().iter().all(|c| {
            !c["issue_logged_at"].is_null()
                && (c["revoked_ms"].is_null() || !c["revoke_logged_at"].is_null())
        });
        if all_logged {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "pending actions not logged: {list}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, stderr) = srv.stop();
    assert!(status.success(), "exit {status:?}\n{stderr}");
    // JSON logs, one line per request, never a token.
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|v| v["message"] == "ledger closed; server stopped")
    );
    assert!(
        lines
            .iter()
            .filter(|v| v["message"] == "request" && v["route"] == "/v1/events")
            .count()
            >= 4
    );
    for secret in [&ingest, &second, &auditor] {
        assert!(
            !stderr.contains(secret_of(secret)),
            "a token leaked into the log"
        );
    }
    assert!(
        !stderr.contains("cust-1001"),
        "event bodies stay out of the log"
    );

    // The log verifies with only the public key, holds the events
    // (pseudonymised) and one entry per admin action.
    l.verify(&sb).ok();
    let entry = sb
        .custos(&[
            "ledger",
            "entry",
            "--data",
            d,
            "--index",
            &first.to_string(),
        ])
        .ok()
        .out();
    assert!(entry.contains("\"uid\":\"evt-0001\""), "{entry}");
    assert!(!entry.contains("cust-1001"));
    let mut reader = ledger::LogReader::open(&l.dir).unwrap();
    let size = l.size();
    assert_eq!(
        size,
        2 + 1 + 2 + 1 + 2,
        "2 issues, the first signing key, 2 events, 1 event, 1 issue + 1 revoke"
    );
    let ops: Vec<String> = (0..size)
        .map(|i| serde_json::from_slice::<Value>(&reader.entry(i, size).unwrap()).unwrap())
        .filter(|v| v["metadata"]["log_name"] == "custos.admin")
        .map(|v| v["api"]["operation"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ops.iter().filter(|o| o.ends_with(".issue")).count(),
        3,
        "{ops:?}"
    );
    assert_eq!(ops.iter().filter(|o| o.ends_with(".revoke")).count(), 1);
    let key_created = serde_json::from_slice::<Value>(&reader.entry(2, size).unwrap()).unwrap();
    assert_eq!(key_created["api"]["operation"], "custos.token.key.create");
}

#[test]
fn serve_refuses_bad_setups_clearly() {
    let sb = Sandbox::new();
    let empty = sb.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    sb.custos(&["serve", "--data", s(&empty), "--listen", "127.0.0.1:0"])
        .fails()
        .err_has(&["no ledger", "custos ledger init"]);
    sb.custos(&["serve", "--listen", "127.0.0.1:0"])
        .fails()
        .err_has(&["no data directory"]);
    sb.custos(&["serve", "--data", s(&empty), "--max-body-bytes", "lots"])
        .fails()
        .err_has(&["--max-body-bytes"]);
    sb.custos(&["admin", "token", "--data", s(&empty), "--role", "ingest"])
        .fails()
        .err_has(&["no ledger"]);
    sb.custos(&["admin", "token", "--data", s(&empty), "--role", "root"])
        .fails()
        .err_has(&["unknown role"]);

    // Environment and config file: bad values and unknown keys are named.
    let l = sb.init("data", "serve.custos.example/log");
    let cfg = sb.write(
        "custos.toml",
        b"listen = \"127.0.0.1:0\"\nmax_inflight = 5\n",
    );
    sb.custos(&["serve", "--data", l.d(), "--config", s(&cfg)])
        .fails()
        .err_has(&["max_inflight", "custos.toml"]);
    let (mut cmd, what) = sb.command(&["serve", "--data", l.d()]);
    cmd.env("CUSTOS_LISTEN", "nowhere");
    common::run_command(cmd, what, None)
        .fails()
        .err_has(&["CUSTOS_LISTEN"]);
}
