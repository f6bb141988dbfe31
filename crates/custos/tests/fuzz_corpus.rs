//! Replays the committed cargo-fuzz corpora of the forensics, incident,
//! evidence and governance targets through the very functions the targets
//! call: no panic, no invariant broken, `valid-…` seeds accepted, `bad-…`
//! seeds refused.
//!
//! - `fuzz/corpus/forensic_snapshot/` → `forensics::snapshot::fuzz_snapshot`
//! - `fuzz/corpus/subject_registry/` → `forensics::registry::fuzz_registry`
//! - `fuzz/corpus/disclosure_rules/` → `incident::fuzz_rules`
//! - `fuzz/corpus/evidence_bundle/` → `evidence::fuzz_bundle`
//! - `fuzz/corpus/govern_file/` → `govern::fuzz_govern_file`
//! - `fuzz/corpus/remediation_finding/` → `govern::fuzz_finding_json`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Runs one seed: `Ok(accepted)`, or `Err` if an invariant broke.
type Target = fn(&[u8]) -> Result<bool, String>;

fn replay(target: &str, f: Target) {
    let dir = format!("{}/../../fuzz/corpus/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let data = std::fs::read(&path).unwrap();
        let accepted = f(&data).unwrap_or_else(|e| panic!("{target}/{name}: {e}"));
        if name.starts_with("valid-") {
            assert!(accepted, "{target}/{name} was refused");
        } else if name.starts_with("bad-") {
            assert!(!accepted, "{target}/{name} was accepted");
        }
        n += 1;
    }
    assert!(n >= 8, "{target}: only {n} seeds");
}

#[test]
fn forensic_snapshot_corpus() {
    replay("forensic_snapshot", |d| {
        Ok(forensics::snapshot::fuzz_snapshot(d))
    });
}

#[test]
fn subject_registry_corpus() {
    replay("subject_registry", |d| {
        Ok(forensics::registry::fuzz_registry(d))
    });
}

#[test]
fn disclosure_rules_corpus() {
    replay("disclosure_rules", |d| {
        incident::fuzz_rules(d)?;
        Ok(std::str::from_utf8(d).is_ok_and(|t| incident::parse_rules(t).is_ok()))
    });
}

#[test]
fn evidence_bundle_corpus() {
    // The seeds are not signed by the fuzz key: none is `valid-`; the real
    // bundle is verified in scope_cli.rs.
    replay("evidence_bundle", |d| {
        evidence::fuzz_bundle(d);
        Ok(false)
    });
}

#[test]
fn govern_file_corpus() {
    replay("govern_file", govern::fuzz_govern_file);
}

#[test]
fn remediation_finding_corpus() {
    replay("remediation_finding", |d| {
        govern::fuzz_finding_json(d)?;
        Ok(govern::parse_new_finding(d, "f", 1_796_169_600).is_ok())
    });
}
