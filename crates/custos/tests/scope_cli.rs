//! Scope and evidence from the binary, on the data directory a short
//! `custos demo --data DIR` leaves (the forged-token attack, an incident
//! opened from it): `custos scope` answers the same from the index and
//! from the ledger, exports the subject list and proofs that verify;
//! `custos forensics status|rebuild`; `custos evidence export` writes a
//! bundle that `custos evidence verify` accepts with only the public key and
//! refuses once one byte changed; bad arguments fail clearly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

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

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn scope_and_evidence_from_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let demo = ok(
        "custos demo",
        custos(&["demo", "--hours", "1", "--data", d]),
    );
    let text = String::from_utf8_lossy(&demo.stdout).to_string();
    assert!(
        text.contains("— identical"),
        "scope equals the ground truth: {text}"
    );
    let incident = text
        .split_whitespace()
        .find(|w| w.starts_with("inc-"))
        .unwrap()
        .to_owned();
    let vkey = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("verifier key: "))
        .unwrap()
        .to_owned();

    // The stolen customer key, from the index and, combined with a network
    // covering everything, from the ledger: the same exact answer.
    let window = ["--from", "2000-01-01", "--to", "2100-01-01"];
    let kid = "cust-2019-03";
    let by_index = json(&ok(
        "scope --kid",
        custos(
            &[
                &["scope", "--data", d, "--kid", kid, "--json"][..],
                &window[..],
            ]
            .concat(),
        ),
    ));
    let by_ledger = json(&ok(
        "scope --kid --src-net",
        custos(
            &[
                &[
                    "scope",
                    "--data",
                    d,
                    "--kid",
                    kid,
                    "--src-net",
                    "0.0.0.0/0,::/0",
                    "--json",
                ][..],
                &window[..],
            ]
            .concat(),
        ),
    ));
    assert_eq!(by_index["method"], "index");
    assert_eq!(by_ledger["method"], "ledger");
    assert!(by_index["subjects"].as_u64().unwrap() > 1000, "{by_index}");
    for k in [
        "subjects",
        "events",
        "subject_accesses",
        "by_category",
        "by_country",
        "first_access",
        "last_access",
    ] {
        assert_eq!(by_index[k], by_ledger[k], "{k}");
    }
    // Subject countries come from the demo's customer register.
    assert!(
        by_index["by_country"]["KR"].as_u64().unwrap() > 0,
        "{by_index}"
    );

    // The subject list and proofs.
    let list = tmp.path().join("affected.txt");
    let proofs = tmp.path().join("proofs");
    let out = ok(
        "scope --subjects-out --prove",
        custos(
            &[
                &[
                    "scope",
                    "--data",
                    d,
                    "--kid",
                    kid,
                    "--subjects-out",
                    list.to_str().unwrap(),
                    "--prove",
                    "3",
                    "--proofs-out",
                    proofs.to_str().unwrap(),
                ][..],
                &window[..],
            ]
            .concat(),
        ),
    );
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(
        human.contains("subjects:") && human.contains("based on:"),
        "{human}"
    );
    let lines = std::fs::read_to_string(&list).unwrap();
    assert_eq!(
        lines.lines().count() as u64,
        by_index["subjects"].as_u64().unwrap()
    );
    assert!(lines.lines().all(|l| l.len() == 22), "pseudonyms only");
    let n = std::fs::read_dir(&proofs)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "tlog-proof")
        })
        .count();
    assert_eq!(n, 3);

    // Status, and a rebuild from the ledger answers the same.
    let st = json(&ok(
        "forensics status",
        custos(&["forensics", "status", "--data", d, "--json"]),
    ));
    assert!(st["subjects"].as_u64().unwrap() > 1000);
    ok(
        "forensics rebuild",
        custos(&["forensics", "rebuild", "--data", d]),
    );
    let again = json(&ok(
        "scope after rebuild",
        custos(
            &[
                &["scope", "--data", d, "--kid", kid, "--json"][..],
                &window[..],
            ]
            .concat(),
        ),
    ));
    assert_eq!(again["subjects"], by_index["subjects"]);

    // Evidence: export, verify with the public key, refuse a changed byte.
    let bundle = tmp.path().join("inc.tar");
    let b = bundle.to_str().unwrap();
    ok(
        "evidence export",
        custos(&[
            "evidence",
            "export",
            &incident,
            "--data",
            d,
            "--out",
            b,
            "--max-entries",
            "5000",
        ]),
    );
    let v = json(&ok(
        "evidence verify",
        custos(&["evidence", "verify", b, "--vkey", vkey.trim(), "--json"]),
    ));
    assert_eq!(v["ok"], true);
    assert_eq!(v["incident"], incident.as_str());
    assert!(v["entries"].as_u64().unwrap() > 0);
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&bundle, &bytes).unwrap();
    let bad = custos(&["evidence", "verify", b, "--vkey", vkey.trim()]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("FAILED"));

    // Clear errors.
    let e = custos(&[
        "scope",
        "--data",
        d,
        "--from",
        "yesterday",
        "--to",
        "2100-01-01",
    ]);
    assert!(!e.status.success());
    assert!(
        String::from_utf8_lossy(&e.stderr).contains("--from"),
        "{e:?}"
    );
    let e = custos(
        &[
            &["scope", "--data", d, "--src-net", "10.0.0.0/99"][..],
            &window[..],
        ]
        .concat(),
    );
    assert!(
        String::from_utf8_lossy(&e.stderr).contains("src_net"),
        "{e:?}"
    );
}
