//! `custos ingest` against a real `custos serve`: simulated events in,
//! retries on 429, refused lines named by number, nothing half-written.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use common::{Sandbox, last_line, s};

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

fn serve(sb: &Sandbox, data: &str, extra: &[&str]) -> Served {
    let mut args = vec!["serve", "--data", data, "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let (mut cmd, what) = sb.command(&args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let out = child.stdout.take().unwrap();
    let mut url = None;
    for line in BufReader::new(out).lines() {
        let line = line.unwrap();
        if let Some(u) = line.split("listening on ").nth(1) {
            url = Some(u.trim().to_owned());
            break;
        }
    }
    Served {
        url: url.unwrap_or_else(|| panic!("{what} never said where it listens")),
        child,
    }
}

fn token(sb: &Sandbox, data: &str) -> std::path::PathBuf {
    let run = sb
        .custos(&["admin", "token", "--data", data, "--role", "ingest"])
        .ok();
    sb.write("ingest.token", last_line(&run.out()).as_bytes())
}

#[test]
fn ingest_sends_everything_retrying_429_and_the_log_verifies() {
    let sb = Sandbox::new();
    let ledger = sb.init("d", "ingest.test/log");
    let tok = token(&sb, ledger.d());
    let events = sb.path("sim.ndjson");
    sb.custos(&[
        "sim",
        "--hours",
        "1",
        "--events-per-day",
        "20000",
        "--start",
        "2025-06-01T00:00:00Z",
        "-q",
        "--out",
        s(&events),
    ])
    .ok();
    let lines = std::fs::read_to_string(&events).unwrap().lines().count() as u64;
    assert!(lines > 40_000, "{lines} simulated events");
    // A budget of 1,500 in-flight events: of 8 concurrent 1,000-event
    // batches most are refused with 429 and must be retried.
    let server = serve(
        &sb,
        ledger.d(),
        &[
            "--max-event-age",
            "unlimited",
            "--max-inflight-events",
            "1500",
            "--max-batch-events",
            "1000",
        ],
    );
    let before = ledger.size();
    let run = sb
        .custos(&[
            "ingest",
            s(&events),
            "--server",
            &server.url,
            "--token-file",
            s(&tok),
            "--concurrency",
            "8",
            "--json",
        ])
        .ok();
    let summary: serde_json::Value = serde_json::from_str(&run.out()).unwrap();
    assert_eq!(summary["events_read"], lines);
    assert_eq!(summary["accepted"], lines);
    assert!(summary["entries"].as_u64().unwrap() >= lines);
    assert!(
        summary["retried_429"].as_u64().unwrap() > 0,
        "no 429 under a 1,500-event budget: {summary}"
    );
    let entries = summary["entries"].as_u64().unwrap();
    assert_eq!(
        summary["last_index"].as_u64().unwrap() + 1,
        summary["checkpoint_size"].as_u64().unwrap()
    );
    drop(server);
    // Every acknowledged entry is in the log, and the log verifies.
    assert!(ledger.size() >= before + entries);
    ledger.verify(&sb).ok();
    // What the server wrote — the credential's admin entry and a sample of
    // the simulated company's accesses — is valid OCSF per the official
    // schema (tests/outside/ocsf_validate.py, run by the events tests too).
    let mut sample = Vec::new();
    for index in (0..ledger.size()).step_by(97).chain([0, 1]) {
        let run = sb
            .custos(&[
                "ledger",
                "entry",
                "--data",
                ledger.d(),
                "--index",
                &index.to_string(),
            ])
            .ok();
        sample.extend_from_slice(run.out().trim_end().as_bytes());
        sample.push(b'\n');
        if sample.len() > 400_000 {
            break;
        }
    }
    let file = sb.write("sample.ndjson", &sample);
    ocsf_valid(&file);
}

/// Runs the official-schema validator (`tests/outside/ocsf-validate`
/// installs its pinned Python dependencies if missing) and asserts every line
/// is valid.
fn ocsf_valid(file: &std::path::Path) {
    let outside = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/outside");
    let out = std::process::Command::new(outside.join("ocsf-validate"))
        .args(["--ocsf-version", "1.3.0"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ledger entries are not valid OCSF 1.3.0:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ingest_names_the_bad_line_and_writes_nothing_of_that_batch() {
    let sb = Sandbox::new();
    let ledger = sb.init("d", "ingest.test/log");
    let tok = token(&sb, ledger.d());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let good = |i: u32| {
        format!(
            r#"{{"time":{now},"actor":{{"id":"emp-{i}","kind":"employee"}},"source":{{"ip":"10.0.0.1","country":"KR"}},"service":"cs-tool","operation":"GetCustomer","dataset":"customers","categories":["name"],"subjects":["cust-{i}"],"purpose":"ticket","decision":"allow"}}"#
        )
    };
    let bad = good(2).replace(r#""kind":"employee""#, r#""kind":"wizard""#);
    let file = sb.write(
        "events.ndjson",
        format!("{}\n\n{bad}\n{}\n", good(1), good(3)).as_bytes(),
    );
    let server = serve(&sb, ledger.d(), &[]);
    let before = ledger.size();
    let run = sb
        .custos(&[
            "ingest",
            s(&file),
            "--server",
            &server.url,
            "--token-file",
            s(&tok),
        ])
        .fails()
        .err_has(&["line 3: $.actor.kind"]);
    assert!(
        run.out().contains("ingested 0 of 3 events"),
        "{}",
        run.out()
    );
    drop(server);
    assert_eq!(ledger.size(), before, "a refused batch left entries behind");
}

#[test]
fn ingest_without_a_credential_or_with_the_wrong_role_says_what_to_do() {
    let sb = Sandbox::new();
    let ledger = sb.init("d", "ingest.test/log");
    let file = sb.write("e.ndjson", b"{}\n");
    sb.custos(&["ingest", s(&file), "--server", "http://127.0.0.1:9"])
        .fails()
        .err_has(&["credential", "custos admin token"]);
    let auditor = sb
        .custos(&["admin", "token", "--data", ledger.d(), "--role", "auditor"])
        .ok();
    let server = serve(&sb, ledger.d(), &[]);
    sb.custos(&[
        "ingest",
        s(&file),
        "--server",
        &server.url,
        "--token",
        &last_line(&auditor.out()),
    ])
    .fails()
    .err_has(&["403", "--role ingest"]);
}
