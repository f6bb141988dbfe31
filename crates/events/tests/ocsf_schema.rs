//! Ledger entries against the official OCSF schema, checked by an outside
//! implementation: `tests/outside/ocsf_validate.py` validates NDJSON against
//! the OCSF server's export of the version we target ([`OCSF_VERSION`]), as
//! shipped by the PyPI package `ocsf-json-schema`, with the `jsonschema`
//! package (both pinned in `tests/outside/requirements.txt`, installed here
//! if missing). See docs/events.md, "Validation against the OCSF schema".
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use events::{Activity, ActorKind, Limits, OCSF_VERSION, SubjectKey, ledger_entries, parse_event};
use serde_json::{Value, json};

/// 2025-06-01T03:04:05.123Z
const NOW_MS: u64 = 1_748_747_045_123;

fn outside() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/outside")
}

/// The validator, through `tests/outside/ocsf-validate`, which installs its
/// pinned Python dependencies first if they are missing.
fn validator() -> Command {
    Command::new(outside().join("ocsf-validate"))
}

/// Runs the validator over these lines.
fn validate(lines: &[Vec<u8>]) -> Output {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    for l in lines {
        f.write_all(l).unwrap();
        f.write_all(b"\n").unwrap();
    }
    f.flush().unwrap();
    validator()
        .args(["--ocsf-version", OCSF_VERSION])
        .arg(f.path())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn input() -> Value {
    json!({
        "id": "evt-0001",
        "time": "2025-06-01T03:04:05.123Z",
        "activity": "read",
        "actor": {"id": "emp-0042", "kind": "employee"},
        "credential": {"jti": "tok-9f2c", "kid": "cs-2024-01", "issuer": "https://auth.example.com"},
        "source": {"ip": "203.0.113.7", "country": "KR"},
        "service": "customer-service-tool",
        "operation": "GetCustomerAddress",
        "dataset": "customers",
        "categories": ["name", "address", "entrance_code"],
        "subjects": ["cust-1001", "cust-1002"],
        "purpose": "support-ticket-4711",
        "decision": "allow"
    })
}

fn entries(v: &Value) -> Vec<Vec<u8>> {
    let now = SystemTime::UNIX_EPOCH + Duration::from_millis(NOW_MS);
    let e = parse_event(&serde_json::to_vec(v).unwrap(), now, &Limits::default())
        .unwrap_or_else(|e| panic!("{v}: {e:?}"));
    ledger_entries(&e, &SubjectKey::from_bytes([7; 32])).unwrap()
}

/// Entries of every shape Custos writes: each activity, decision and actor
/// kind; with and without credential, country, event id; IPv4 and IPv6;
/// strings that need escaping; an event split over several entries.
fn variety() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, activity) in Activity::NAMES.iter().enumerate() {
        for (j, kind) in ActorKind::NAMES.iter().enumerate() {
            for decision in ["allow", "deny"] {
                let mut v = input();
                v["activity"] = json!(activity);
                v["actor"]["kind"] = json!(kind);
                v["decision"] = json!(decision);
                if (i + j) % 2 == 0 {
                    v.as_object_mut().unwrap().remove("credential");
                }
                if j % 2 == 1 {
                    v["source"].as_object_mut().unwrap().remove("country");
                }
                if i == 3 {
                    v.as_object_mut().unwrap().remove("id");
                }
                if decision == "deny" {
                    v["source"]["ip"] = json!("2001:db8:85a3::8a2e:370:7334");
                }
                out.extend(entries(&v));
            }
        }
    }
    let mut v = input();
    v["purpose"] = json!("고객 \"문의\" \\ 처리 ✓");
    v["source"]["ip"] = json!("::ffff:192.0.2.1");
    out.extend(entries(&v));
    let mut v = input();
    v["subjects"] = json!(
        (0..10_000)
            .map(|i| format!("customer-{i:08}"))
            .collect::<Vec<_>>()
    );
    let split = entries(&v);
    assert_eq!(split.len(), 4);
    out.extend(split);
    out
}

#[test]
fn ledger_entries_validate_against_the_official_ocsf_schema() {
    let lines = variety();
    let o = validate(&lines);
    assert!(o.status.success(), "{}", text(&o));
    let summary = String::from_utf8_lossy(&o.stderr);
    let want = format!(
        "{n} of {n} events valid against OCSF {OCSF_VERSION}",
        n = lines.len()
    );
    assert!(summary.contains(&want), "{}", text(&o));
}

/// The validator is not vacuous: each of these mutations of a valid entry
/// is reported, on its own line.
#[test]
fn the_validator_catches_what_ocsf_forbids() {
    let good: Value = serde_json::from_slice(&entries(&input())[0]).unwrap();
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    };
    let bad: Vec<(&str, Vec<u8>)> = vec![
        // The security_control profile is not applied to API Activity in 1.3.0.
        ("action_id", mutate(&|v| v["action_id"] = json!(1))),
        (
            "security_control",
            mutate(&|v| v["metadata"]["profiles"] = json!(["security_control"])),
        ),
        ("custos", mutate(&|v| v["custos"] = json!({}))),
        ("activity_id", mutate(&|v| v["activity_id"] = json!(7))),
        ("type_uid", mutate(&|v| v["type_uid"] = json!(600301))),
        (
            "actor",
            mutate(&|v| {
                v.as_object_mut().unwrap().remove("actor");
            }),
        ),
        ("time", mutate(&|v| v["time"] = json!("2025-06-01"))),
        (
            "ip",
            mutate(&|v| v["src_endpoint"]["ip"] = json!("not-an-ip")),
        ),
        (
            "type_id",
            mutate(&|v| v["actor"]["user"]["type_id"] = json!(5)),
        ),
        ("user", mutate(&|v| v["actor"]["user"]["kind"] = json!("x"))),
        (
            "version",
            mutate(&|v| v["metadata"]["version"] = json!("1.4.0")),
        ),
        ("status_id", mutate(&|v| v["status_id"] = json!(3))),
    ];
    let mut lines = vec![serde_json::to_vec(&good).unwrap()];
    lines.extend(bad.iter().map(|(_, b)| b.clone()));
    let o = validate(&lines);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("line 1:"), "{}", text(&o));
    for (i, (what, _)) in bad.iter().enumerate() {
        assert!(
            out.contains(&format!("line {}:", i + 2)),
            "{what} not reported\n{}",
            text(&o)
        );
    }
}

/// The OCSF input example of docs/events.md is itself a valid OCSF 1.3.0
/// event (`unmapped` may hold anything).
#[test]
fn the_documented_ocsf_input_is_valid_ocsf() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/events.md"))
            .unwrap();
    let start = docs
        .find("<!-- ocsf-input-example -->")
        .expect("docs/events.md marks its OCSF input example");
    let rest = &docs[start..];
    let json_start = rest.find("```json\n").unwrap() + 8;
    let json_end = json_start + rest[json_start..].find("```").unwrap();
    let example: Value = serde_json::from_str(&rest[json_start..json_end]).unwrap();
    let o = validate(&[serde_json::to_vec(&example).unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    // And it is the same access as the Custos-form example.
    let now = SystemTime::UNIX_EPOCH + Duration::from_millis(NOW_MS);
    let a = parse_event(
        &serde_json::to_vec(&example).unwrap(),
        now,
        &Limits::default(),
    );
    let b = parse_event(
        &serde_json::to_vec(&input()).unwrap(),
        now,
        &Limits::default(),
    );
    assert_eq!(a.unwrap(), b.unwrap());
}

/// Every attribute that OCSF 1.3.0 defines for API Activity and for the
/// objects Custos reads is accepted in OCSF input (and ignored, if Custos
/// does not map it): the parser's lists match the official schema.
#[test]
fn ocsf_input_accepts_every_attribute_the_schema_defines() {
    let objects = [
        ("api_activity", ""),
        ("actor", "/actor"),
        ("user", "/actor/user"),
        ("session", "/actor/session"),
        ("api", "/api"),
        ("service", "/api/service"),
        ("network_endpoint", "/src_endpoint"),
        ("location", "/src_endpoint/location"),
        ("metadata", "/metadata"),
        ("resource_details", "/resources/0"),
    ];
    let o = validator()
        .args(["--ocsf-version", OCSF_VERSION, "--attributes"])
        .args(objects.iter().map(|(o, _)| *o))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let names: Value = serde_json::from_slice(&o.stdout).unwrap();
    // Attributes Custos reads, whose values are checked; all others get an
    // arbitrary value.
    let read = [
        "activity_id",
        "activity_name",
        "actor",
        "api",
        "category_name",
        "category_uid",
        "class_name",
        "class_uid",
        "count",
        "metadata",
        "resources",
        "severity",
        "severity_id",
        "src_endpoint",
        "status",
        "status_id",
        "time",
        "time_dt",
        "type_name",
        "type_uid",
        "unmapped",
        "session",
        "user",
        "uid",
        "type",
        "type_id",
        "credential_uid",
        "issuer",
        "operation",
        "service",
        "name",
        "ip",
        "location",
        "country",
        "product",
        "version",
        "labels",
    ];
    let now = SystemTime::UNIX_EPOCH + Duration::from_millis(NOW_MS);
    let base = {
        let e = parse_event(
            &serde_json::to_vec(&input()).unwrap(),
            now,
            &Limits::default(),
        )
        .unwrap();
        let entry = &events::to_ocsf(&e, &SubjectKey::from_bytes([7; 32])).unwrap()[0];
        let mut v = serde_json::to_value(entry).unwrap();
        let c = v["unmapped"]["custos"].as_object_mut().unwrap();
        c.remove("subject_key");
        c.remove("v");
        c.insert("subjects".into(), json!(e.subjects()));
        v
    };
    let mut v = base.clone();
    let mut added = 0;
    for (object, pointer) in objects {
        let list = names[object].as_array().unwrap();
        assert!(!list.is_empty(), "{object}");
        let target = v.pointer_mut(pointer).unwrap().as_object_mut().unwrap();
        for n in list {
            let n = n.as_str().unwrap();
            if !read.contains(&n) {
                target.insert(n.to_owned(), json!({"any": ["value", 1]}));
                added += 1;
            }
        }
    }
    assert!(added > 100, "{added}");
    let parsed = parse_event(&serde_json::to_vec(&v).unwrap(), now, &Limits::default());
    let want = parse_event(&serde_json::to_vec(&base).unwrap(), now, &Limits::default());
    assert_eq!(parsed, want);
    assert!(want.is_ok());
}
