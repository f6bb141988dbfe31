//! Assessments as NIST OSCAL assessment results, checked by an outside
//! implementation: `tests/outside/oscal_validate.py` validates them with the
//! official OSCAL models shipped by the PyPI package `compliance-trestle`
//! (pinned in `tests/outside/requirements.txt`, installed by
//! `tests/outside/oscal-validate` if missing), plus reference checks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{DAYS, file, now};
use govern::oscal::{OSCAL_VERSION, assessment_results, derived_uuid};
use govern::{AlertFact, Evidence, GrantFact, PrincipalFact, assess};
use serde_json::{Value, json};

fn validate(docs: &[Value]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut paths: Vec<PathBuf> = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        let p = dir.path().join(format!("doc{i}.json"));
        std::fs::write(&p, serde_json::to_vec_pretty(d).unwrap()).unwrap();
        paths.push(p);
    }
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/outside/oscal-validate"))
        .args(&paths)
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

/// Evidence with something in every metric.
fn troubled() -> Evidence {
    let n = now();
    Evidence {
        grants: vec![GrantFact {
            id: "g4".into(),
            principal: "sup-acme-002".into(),
            dataset: "customers".into(),
            categories: vec!["address".into(), "entrance_code".into()],
            created: n - DAYS,
            expires: n + 89 * DAYS,
            revoked: None,
        }],
        principals: vec![
            PrincipalFact {
                id: "sup-acme-001".into(),
                active: true,
                created: None,
                last_access: Some(n - 60 * DAYS),
                offboarded: None,
                revoked: None,
            },
            PrincipalFact {
                id: "sup-acme-002".into(),
                active: true,
                created: None,
                last_access: Some(n - 3600),
                offboarded: Some(n - 4 * DAYS),
                revoked: None,
            },
        ],
        alerts: vec![AlertFact {
            id: "al-1".into(),
            principal: "sup-acme-002".into(),
            severity: "critical".into(),
            title: "access after offboarding".into(),
            raised: n - 3 * DAYS,
            acknowledged: Some(n - 2 * DAYS),
        }],
        accesses: vec![govern::AccessFact {
            principal: "sup-callco-001".into(),
            subprocessor: None,
            accesses: 5,
            subjects: 5,
            first: n - DAYS,
            last: n - DAYS,
        }],
    }
}

fn docs() -> Vec<Value> {
    let f = file();
    let n = now();
    let mut out = Vec::new();
    for s in &f.suppliers {
        for e in [Evidence::default(), troubled()] {
            let a = assess(s, &e, n);
            out.push(assessment_results(&a, s, n + 60));
        }
    }
    out
}

#[test]
fn assessment_results_validate_against_the_official_oscal_models() {
    let docs = docs();
    // Not vacuous: the troubled one has risks, observations and findings.
    let r = &docs[1]["assessment-results"]["results"][0];
    assert!(r["risks"].as_array().unwrap().len() >= 6, "{r}");
    assert_eq!(
        r["observations"].as_array().unwrap().len(),
        govern::QUESTIONS.len() + 5
    );
    let not_satisfied: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["target"]["status"]["state"] == "not-satisfied")
        .map(|f| f["target"]["target-id"].as_str().unwrap())
        .collect();
    for c in ["IAM-05", "IAM-07", "IAM-08", "DSP-14", "LOG-03"] {
        assert!(not_satisfied.contains(&c), "{c} not in {not_satisfied:?}");
    }
    assert_eq!(
        docs[1]["assessment-results"]["metadata"]["oscal-version"],
        OSCAL_VERSION
    );
    let o = validate(&docs);
    assert!(o.status.success(), "{}", text(&o));
    let summary = String::from_utf8_lossy(&o.stderr);
    assert!(
        summary.contains(&format!(
            "4 of 4 documents valid against OSCAL {OSCAL_VERSION}"
        )),
        "{}",
        text(&o)
    );
}

#[test]
fn the_same_assessment_gives_the_same_document() {
    assert_eq!(docs(), docs());
    let u = derived_uuid("x");
    assert_eq!(u.len(), 36);
    assert_eq!(&u[14..15], "4");
    assert!("89ab".contains(&u[19..20]));
}

/// The check is not vacuous: each broken document is refused, naming the
/// place.
#[test]
fn the_check_catches_broken_documents() {
    let good = docs().remove(1);
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        v
    };
    let cases: Vec<(&str, Value)> = vec![
        (
            "metadata",
            mutate(&|v| {
                v["assessment-results"]
                    .as_object_mut()
                    .unwrap()
                    .remove("metadata");
            }),
        ),
        (
            "uuid",
            mutate(&|v| v["assessment-results"]["uuid"] = json!("not-a-uuid")),
        ),
        (
            "custos",
            mutate(&|v| v["assessment-results"]["results"][0]["custos"] = json!(1)),
        ),
        (
            "methods",
            mutate(&|v| {
                v["assessment-results"]["results"][0]["observations"][0]["methods"] = json!([])
            }),
        ),
        (
            "state",
            mutate(&|v| {
                v["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] =
                    json!("fine")
            }),
        ),
        (
            "oscal-version",
            mutate(&|v| v["assessment-results"]["metadata"]["oscal-version"] = json!("1.0.0")),
        ),
        (
            "observation-uuid",
            mutate(&|v| {
                v["assessment-results"]["results"][0]["findings"][0]["related-observations"][0]["observation-uuid"] =
                    json!(derived_uuid("nowhere"))
            }),
        ),
        (
            "title",
            mutate(&|v| v["assessment-results"]["metadata"]["title"] = json!("two\nlines")),
        ),
        (
            "target-id",
            mutate(&|v| {
                v["assessment-results"]["results"][0]["findings"][0]["target"]["target-id"] =
                    json!("IAM-99")
            }),
        ),
    ];
    let docs: Vec<Value> = cases.iter().map(|(_, d)| d.clone()).collect();
    let o = validate(&docs);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for (i, (what, _)) in cases.iter().enumerate() {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("doc{i}.json:")))
            .unwrap_or_else(|| panic!("{what} not reported\n{}", text(&o)));
        assert!(line.contains(what), "{what}: {line}");
    }
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 of 9 documents valid"));
}
