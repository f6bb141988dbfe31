//! Detection from the binary: a short `custos demo --data DIR` (the server's
//! detectors raise alerts while the simulated hours and the forged tokens go
//! through it), then `custos alerts --data DIR --json` reads them back from
//! the store, and `custos hunt` replays the same ledger with the built-in
//! detectors and with the shipped Sigma pack alone; bad arguments fail with
//! a clear message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_custos");

fn custos(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run custos")
}

fn ok(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn detectors(findings: &[Value]) -> Vec<String> {
    findings
        .iter()
        .filter_map(|f| f["detector"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn alerts_and_hunts_from_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let demo = ok(
        "custos demo",
        custos(&["demo", "--hours", "1", "--data", d]),
    );
    let text = String::from_utf8_lossy(&demo.stdout);
    assert!(text.contains("forged_token"), "{text}");

    // The alerts the server raised, straight from the store.
    let out = ok(
        "custos alerts --json",
        custos(&["alerts", "--data", d, "--json", "--limit", "1000"]),
    );
    let alerts: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let critical: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["finding"]["detector"] == "token.refused.never_issued")
        .collect();
    assert_eq!(critical.len(), 1, "one deduplicated alert: {alerts:#?}");
    assert_eq!(critical[0]["finding"]["severity"], "critical");
    assert_eq!(critical[0]["status"], "open");
    assert!(critical[0]["ledger_index"].as_u64().is_some());
    assert!(critical[0]["sla"]["ack_due_ms"].as_i64().is_some());
    let table = ok(
        "custos alerts",
        custos(&["alerts", "--data", d, "--severity", "critical"]),
    );
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("token.refused.never_issued"), "{table}");
    assert!(
        !table.contains("distinct_subjects:"),
        "--severity filters: {table}"
    );

    // Retro-hunt with the built-ins finds the same forgery, and more.
    let out = ok("custos hunt", custos(&["hunt", "--data", d, "--json"]));
    let findings: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names = detectors(&findings);
    assert!(
        names.iter().any(|n| n == "token.refused.never_issued"),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n == "denied_subjects"), "{names:?}");

    // The Sigma pack alone over the same range.
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/custos");
    let out = ok(
        "custos hunt --rules",
        custos(&[
            "hunt",
            "--data",
            d,
            "--rules",
            rules.to_str().unwrap(),
            "--no-builtin",
            "--json",
        ]),
    );
    let findings: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names = detectors(&findings);
    assert!(!names.is_empty());
    assert!(names.iter().all(|n| n.starts_with("sigma:")), "{names:?}");

    // A sub-range finds nothing before the forgeries were introspected.
    let out = ok(
        "custos hunt --to",
        custos(&["hunt", "--data", d, "--to", "100", "--json"]),
    );
    let early = String::from_utf8_lossy(&out.stdout);
    assert!(!early.contains("token.refused"), "{early}");

    // Bad arguments: clear errors, non-zero exit.
    let out = custos(&["hunt", "--data", tmp.path().join("nope").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no ledger"));
    let out = custos(&["alerts", "--data", d, "--status", "maybe"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--status"));
    let out = custos(&["hunt", "--data", d, "--no-builtin"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rules"));
}
