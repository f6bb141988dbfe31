//! `custos sim` end to end: the binary's output parses as events, the truth
//! file agrees with the output, the run is deterministic, stdout and file
//! output are the same bytes, and bad arguments fail clearly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use events::Limits;

const BIN: &str = env!("CARGO_BIN_EXE_custos");

fn sim(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("sim")
        .args(args)
        .output()
        .expect("run custos sim")
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "custos sim failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn one_hour_parses_as_events_and_matches_its_truth() {
    let dir = tempfile::tempdir().unwrap();
    let (events, truth, issued, directory) = (
        dir.path().join("events.ndjson"),
        dir.path().join("truth.json"),
        dir.path().join("issued.ndjson"),
        dir.path().join("directory.json"),
    );
    let out = ok(sim(&[
        "--hours",
        "1",
        "--customers",
        "100000",
        "--events-per-day",
        "50000",
        "--seed",
        "42",
        "--out",
        events.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
        "--issued",
        issued.to_str().unwrap(),
        "--directory",
        directory.to_str().unwrap(),
    ]));
    assert!(out.stdout.is_empty(), "events went to stdout too");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("events/s") && stderr.contains("distinct customers"));

    // Every line is a valid event (clock just after the run, no age limit).
    let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_748_739_600_000 + 60_000);
    let limits = Limits {
        max_age: Duration::from_secs(100 * 365 * 86_400),
        ..Limits::default()
    };
    let bytes = std::fs::read(&events).unwrap();
    let mut n = 0u64;
    let mut uses = Vec::new();
    let t = json(&truth);
    let kid = t["attack"]["kid"].as_str().unwrap();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let ev = events::parse_event(line, now, &limits)
            .unwrap_or_else(|e| panic!("{e:?}: {}", String::from_utf8_lossy(line)));
        n += 1;
        let cred = ev.credential().unwrap();
        uses.push((
            cred.jti().to_owned(),
            cred.kid().to_owned(),
            ev.subjects()[0].clone(),
            ev.decision(),
        ));
    }

    // The truth file agrees with the output.
    assert_eq!(t["events"].as_u64(), Some(n));
    assert_eq!(t["bytes"].as_u64(), Some(bytes.len() as u64));
    let a = &t["attack"]["in_output"];
    let attack = a["attack_events"].as_u64().unwrap();
    assert!((42_800..=43_600).contains(&attack), "{attack}");
    let distinct = a["distinct_victims"].as_u64().unwrap();
    assert!((9_400..=9_700).contains(&distinct), "{distinct}");
    let departed = t["attack"]["departed_engineer"]["id"].as_str().unwrap();
    let d = json(&directory);
    let p = d["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == departed)
        .unwrap();
    assert!(p["offboarded_ms"].as_i64().is_some());
    assert_eq!(d["keys"][0]["kid"].as_str(), Some(kid));

    // Issuance records: every issued token is used, forged ones absent.
    let issued_jtis: HashSet<String> = std::fs::read_to_string(&issued)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["jti"].as_str().unwrap().to_owned()
        })
        .collect();
    // Tokens never issued are exactly the attacker's: they carry the real
    // customer kid, and the customers they read are the truth's victims.
    let forged: Vec<_> = uses
        .iter()
        .filter(|(jti, ..)| !issued_jtis.contains(jti))
        .collect();
    assert!(forged.iter().all(|(_, k, ..)| k == kid));
    let read: HashSet<_> = forged
        .iter()
        .filter(|(.., d)| *d == events::Decision::Allow)
        .map(|(_, _, subject, _)| subject)
        .collect();
    assert_eq!(read.len() as u64, distinct);
    let refused = forged.len() as u64 - attack;
    assert_eq!(Some(refused), a["unknown_member_events"].as_u64());
}

#[test]
fn stdout_equals_file_and_runs_repeat_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("e.ndjson");
    let args = ["--hours", "2", "--no-attack", "--events-per-day", "30000"];
    let to_stdout = ok(sim(&[&args[..], &["--out", "-", "--quiet"]].concat()));
    assert!(to_stdout.stderr.is_empty(), "--quiet wrote to stderr");
    ok(sim(
        &[&args[..], &["--out", file.to_str().unwrap()]].concat()
    ));
    let from_file = std::fs::read(&file).unwrap();
    assert!(from_file.len() > 100_000);
    assert!(to_stdout.stdout == from_file);
    let again = ok(sim(&[&args[..], &["--quiet"]].concat()));
    assert!(
        again.stdout == from_file,
        "default output is stdout, same bytes"
    );
    let other_seed = ok(sim(&[&args[..], &["--quiet", "--seed", "1"]].concat()));
    assert!(other_seed.stdout != from_file);
}

#[test]
fn bad_arguments_fail_clearly() {
    for (args, expect) in [
        (vec!["--start", "yesterday"], "--start"),
        (vec!["--hours", "0"], "--hours"),
        (vec!["--customers", "0"], "--customers"),
        (vec!["--days", "2", "--hours", "3"], "cannot be used with"),
        (vec!["--no-attack", "--attack-days", "3"], "--no-attack"),
        (
            vec!["--hours", "1", "--out", "/nonexistent-dir/x.ndjson"],
            "--out",
        ),
    ] {
        let out = sim(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} wrote events");
    }
    let help = ok(sim(&["--help"]));
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Scaling") && help.contains("229K") && help.contains("--hours"));
}

#[test]
fn a_negative_attack_start_continues_an_attack_under_way() {
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("t.json");
    ok(sim(&[
        "--hours",
        "1",
        "--events-per-day",
        "1000",
        "--attack-start-hours",
        "-48",
        "--quiet",
        "--out",
        dir.path().join("e").to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ]));
    let t = json(&truth);
    assert_eq!(
        t["attack"]["attack_window"]["start"].as_str(),
        Some("2025-05-30T00:00:00.000Z")
    );
    let a = &t["attack"]["in_output"];
    assert_eq!(a["probe_events"].as_u64(), Some(0));
    assert!(a["attack_events"].as_u64().unwrap() > 40_000);
}
