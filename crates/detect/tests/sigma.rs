//! Sigma rules: the shipped pack (`rules/custos/`) loads and each rule fires
//! on a crafted sequence and not on benign traffic; refusals name the file,
//! the rule and the place; correlation windows slide on ledger time;
//! findings are deterministic and survive a snapshot/restore; the watcher
//! reloads a changed directory and keeps the old set on a bad rule.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use detect::sigma::{RuleError, RuleSet, RuleWatcher};
use detect::{Finding, Record, decode};
use events::ActorKind;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const T0: i64 = 1_748_747_045_000;
const MIN: i64 = 60_000;

fn pack_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/custos")
}

fn pack() -> Result<RuleSet, RuleError> {
    RuleSet::load_dir(&pack_dir())
}

fn subj(n: u64) -> Cow<'static, str> {
    // 22 base64url characters, like a pseudonym (whose first 11 carry its
    // identity).
    Cow::Owned(format!("{n:0>11}AAAAAAAAAAA"))
}

fn access(actor: &str, ip: &str, country: &str, subjects: std::ops::Range<u64>) -> Record<'static> {
    Record {
        log_name: "custos.access".into(),
        operation: "GetCustomerAddress".into(),
        status_id: 1,
        activity_id: 2,
        actor: actor.to_owned().into(),
        actor_kind: Some(ActorKind::Employee),
        kid: Some("cs-2024-01".into()),
        issuer: Some("https://auth.example.com".into()),
        src_ip: Some(ip.to_owned().into()),
        src_country: Some(country.to_owned().into()),
        service: Some("customer-service-tool".into()),
        dataset: Some("customers".into()),
        subjects: subjects.map(subj).collect(),
        ..Record::default()
    }
}

fn refusal(code: &str, ip: &str, kid: &str) -> Record<'static> {
    Record {
        log_name: "custos.token".into(),
        operation: "custos.token.introspect".into(),
        status_id: 2,
        actor: "gw-1".into(),
        kid: Some(kid.to_owned().into()),
        issuer: Some("https://auth.example.com".into()),
        src_ip: Some(ip.to_owned().into()),
        refusal: Some(code.to_owned().into()),
        ..Record::default()
    }
}

fn authorize(principal: &str, reason: &str) -> Record<'static> {
    Record {
        log_name: "custos.access".into(),
        operation: "custos.authorize".into(),
        status_id: 2,
        actor: "gw-1".into(),
        principal: Some(principal.to_owned().into()),
        reasons: vec![reason.to_owned().into()],
        ..Record::default()
    }
}

/// Feeds `recs` (indices and times assigned: one every `step_ms`) and
/// returns every finding.
fn run(set: &mut RuleSet, recs: Vec<Record<'static>>, step_ms: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, mut r) in recs.into_iter().enumerate() {
        let i = i64::try_from(i).unwrap_or(0);
        r.index = u64::try_from(i).unwrap_or(0) + 100;
        r.time_ms = T0 + i * step_ms;
        set.process(&r, &mut out);
    }
    out
}

fn fired(out: &[Finding], title_part: &str) -> usize {
    out.iter().filter(|f| f.title.contains(title_part)).count()
}

#[test]
fn the_pack_loads() -> TestResult {
    let set = pack()?;
    assert_eq!(set.len(), 17, "{:#?}", set.rules());
    for r in set.rules() {
        assert!(uuid_like(&r.id), "{} has no UUID id ({})", r.title, r.file);
        assert!(!r.level.is_empty(), "{} has no level", r.title);
    }
    assert_eq!(set.longest_timespan_ms(), 30 * 24 * 60 * MIN);
    Ok(())
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

#[test]
fn benign_traffic_raises_nothing() -> TestResult {
    let mut set = pack()?;
    let mut recs = Vec::new();
    for i in 0..300u64 {
        let actor = format!("emp-{}", i % 7);
        let ip = format!("10.0.0.{}", i % 5);
        recs.push(access(&actor, &ip, "KR", i * 2..i * 2 + 2));
    }
    // A couple of expired tokens and one denial, from different places.
    recs.push(refusal("expired", "10.9.9.9", "cs-2024-01"));
    recs.push(authorize("emp-3", "dataset_not_granted"));
    let out = run(&mut set, recs, 1000);
    let only_low: Vec<_> = out
        .iter()
        .filter(|f| !f.title.contains("outside the grant"))
        .collect();
    assert!(only_low.is_empty(), "{only_low:#?}");
    Ok(())
}

#[test]
fn forged_tokens_per_kid() -> TestResult {
    let mut set = pack()?;
    let recs = vec![
        refusal("never_issued", "198.51.100.4", "k1"),
        refusal("bad_signature", "198.51.100.5", "k1"),
        refusal("never_issued", "198.51.100.6", "k2"),
        refusal("unknown_kid", "198.51.100.7", "k1"),
    ];
    let out = run(&mut set, recs, 1000);
    let corr: Vec<_> = out
        .iter()
        .filter(|f| f.title == "Forged tokens in bulk for one signing key")
        .collect();
    assert_eq!(corr.len(), 1, "{out:#?}");
    let f = corr.first().ok_or("no finding")?;
    assert_eq!(f.entity.id, "k1,https://auth.example.com");
    assert_eq!(f.entity.kind.as_str(), "kid");
    assert_eq!(f.evidence.indices, [100, 101, 103]);
    assert_eq!(f.evidence.events, 3);
    assert_eq!(f.window_s, 600);
    assert_eq!(f.raised_at_index, 103);
    assert!(f.detector.starts_with("sigma:"));
    // The referenced detection generates too (a single forged token is
    // worth an alert): 4 single findings + 1 correlation.
    assert_eq!(fired(&out, "Forged or never-issued token"), 4);
    Ok(())
}

#[test]
fn retired_keys_and_offboarded_subjects() -> TestResult {
    let mut set = pack()?;
    let out = run(
        &mut set,
        vec![
            refusal("retired_kid", "1.2.3.4", "old"),
            refusal("offboarded_subject", "1.2.3.5", "k1"),
        ],
        1000,
    );
    assert_eq!(fired(&out, "Token signed by a retired key"), 1);
    assert_eq!(fired(&out, "Token of an offboarded principal"), 1);
    let off = out
        .iter()
        .find(|f| f.title.contains("offboarded"))
        .ok_or("no finding")?;
    assert_eq!(off.severity.as_str(), "critical");
    Ok(())
}

#[test]
fn residency() -> TestResult {
    let mut set = pack()?;
    let mut denied = access("emp-1", "1.1.1.1", "CN", 0..1);
    denied.status_id = 2;
    let mut other_dataset = access("emp-1", "1.1.1.1", "CN", 0..1);
    other_dataset.dataset = Some("orders".into());
    let mut no_country = access("emp-1", "1.1.1.1", "KR", 0..1);
    no_country.src_country = None;
    let out = run(
        &mut set,
        vec![
            access("emp-1", "1.1.1.1", "KR", 0..1),
            access("emp-1", "1.1.1.1", "PH", 0..1),
            denied,
            other_dataset,
            no_country,
            access("emp-2", "1.1.1.2", "CN", 0..1),
        ],
        1000,
    );
    assert_eq!(fired(&out, "outside its residency"), 1, "{out:#?}");
    assert_eq!(out.first().map(|f| f.entity.id.as_str()), Some("emp-2"));
    Ok(())
}

#[test]
fn bulk_subjects_counts_each_subject_of_a_list() -> TestResult {
    let mut set = pack()?;
    // 10 accesses of 50 subjects each in 10 minutes = 500 distinct.
    let recs: Vec<_> = (0..10u64)
        .map(|i| access("emp-9", "10.0.0.1", "KR", i * 50..i * 50 + 50))
        .collect();
    let out = run(&mut set, recs, MIN);
    let f: Vec<_> = out
        .iter()
        .filter(|f| f.title == "Bulk distinct subjects per principal")
        .collect();
    assert_eq!(f.len(), 1, "{out:#?}");
    let f = f.first().ok_or("none")?;
    assert_eq!(f.evidence.subjects, 500);
    assert_eq!(f.entity.id, "emp-9");
    assert_eq!(f.raised_at_index, 109);
    // Repeats of the same subjects do not count twice.
    let mut set = pack()?;
    let recs: Vec<_> = (0..30u64)
        .map(|_| access("emp-9", "10.0.0.1", "KR", 0..100))
        .collect();
    assert_eq!(fired(&run(&mut set, recs, MIN), "Bulk"), 0);
    Ok(())
}

#[test]
fn bulk_subjects_window_slides() -> TestResult {
    let mut set = pack()?;
    // 499 distinct per hour, spread so that no hour holds 500.
    let recs: Vec<_> = (0..20u64)
        .map(|i| access("emp-9", "10.0.0.1", "KR", i * 250..i * 250 + 250))
        .collect();
    // One access every 31 minutes: two in an hour = 500 subjects, from
    // the second access on; at most one finding an hour: 10 of them.
    let out = run(&mut set, recs.clone(), 31 * MIN);
    let at: Vec<u64> = out
        .iter()
        .filter(|f| f.title.contains("Bulk"))
        .map(|f| f.raised_at_index)
        .collect();
    assert_eq!(at, [101, 103, 105, 107, 109, 111, 113, 115, 117, 119]);
    // …one every 61 minutes: never two in an hour.
    let mut set = pack()?;
    assert_eq!(fired(&run(&mut set, recs, 61 * MIN), "Bulk"), 0);
    Ok(())
}

#[test]
fn low_and_slow_over_days() -> TestResult {
    let mut set = pack()?;
    // 100 new subjects a day for 60 days, one access a day: never bulk,
    // but 5,000 distinct within 30 days on day 50.
    let recs: Vec<_> = (0..60u64)
        .map(|d| access("sup-7", "10.0.0.1", "KR", d * 100..d * 100 + 100))
        .collect();
    let out = run(&mut set, recs, 24 * 60 * MIN);
    assert_eq!(fired(&out, "Bulk"), 0);
    assert_eq!(fired(&out, "Low-and-slow"), 0, "30 days hold 3,000");
    let mut set = pack()?;
    let recs: Vec<_> = (0..60u64)
        .map(|d| access("sup-7", "10.0.0.1", "KR", d * 200..d * 200 + 200))
        .collect();
    let out = run(&mut set, recs, 24 * 60 * MIN);
    let f: Vec<_> = out
        .iter()
        .filter(|f| f.title.contains("Low-and-slow"))
        .collect();
    // Day 24 (25 × 200 = 5,000), and again once 30 days have passed.
    assert_eq!(f.len(), 2, "{out:#?}");
    let f = f.first().ok_or("none")?;
    assert_eq!(f.raised_at_index, 124);
    assert_eq!(f.evidence.indices.len(), 20, "evidence is bounded");
    Ok(())
}

#[test]
fn credential_stuffing() -> TestResult {
    let mut set = pack()?;
    let mut recs = Vec::new();
    for i in 0..25u64 {
        let mut r = access(&format!("cust-{i}"), "203.0.113.9", "KR", i..i + 1);
        r.actor_kind = Some(ActorKind::Customer);
        if i % 2 == 0 {
            r.status_id = 2;
        }
        recs.push(r);
        recs.push(refusal("expired", "203.0.113.9", "k1"));
    }
    let out = run(&mut set, recs, 1000);
    assert_eq!(
        fired(&out, "Many failed accesses from one source address"),
        1,
        "{out:#?}"
    );
    assert_eq!(
        fired(&out, "Many customer accounts from one source address"),
        1
    );
    let f = out
        .iter()
        .find(|f| f.title.contains("customer accounts"))
        .ok_or("none")?;
    assert_eq!(f.entity.kind.as_str(), "network");
    assert_eq!(f.entity.id, "203.0.113.9");
    Ok(())
}

#[test]
fn authorization_denials() -> TestResult {
    let mut set = pack()?;
    let mut recs = vec![authorize("emp-1", "daily_subject_limit")];
    recs.extend((0..5).map(|_| authorize("emp-2", "category_not_granted")));
    let out = run(&mut set, recs, 1000);
    assert_eq!(fired(&out, "over the daily subject limit"), 1);
    assert_eq!(fired(&out, "Repeated authorization denials"), 1);
    // generate: true — each single denial also raised its own (low) finding.
    assert_eq!(fired(&out, "Authorization denied outside the grant"), 5);
    let f = out
        .iter()
        .find(|f| f.title.starts_with("Repeated"))
        .ok_or("none")?;
    assert_eq!(f.entity.id, "emp-2");
    Ok(())
}

#[test]
fn refusal_then_access_in_order_within_10_minutes() -> TestResult {
    let order = |first_refusal: bool, gap: i64| -> Result<usize, RuleError> {
        let mut set = pack()?;
        let a = access("emp-1", "192.0.2.1", "KR", 0..1);
        let r = refusal("expired", "192.0.2.1", "k1");
        let recs = if first_refusal {
            vec![r, a]
        } else {
            vec![a, r]
        };
        Ok(fired(
            &run(&mut set, recs, gap),
            "Token refused, then allowed",
        ))
    };
    assert_eq!(order(true, MIN)?, 1);
    assert_eq!(order(false, MIN)?, 0, "the wrong order");
    assert_eq!(order(true, 11 * MIN)?, 0, "too far apart");
    Ok(())
}

#[test]
fn decoded_entries_fire_too() -> TestResult {
    let mut set = pack()?;
    let e = r#"{"activity_id":2,"actor":{"user":{"type_id":3,"uid":"gw-1"}},"api":{"operation":"custos.token.introspect","service":{"name":"custos"}},"category_uid":6,"class_uid":6003,"metadata":{"log_name":"custos.token","product":{"name":"Custos","vendor_name":"Custos"},"uid":"x","version":"1.3.0"},"resources":[{"type":"token","uid":"j-1"}],"severity_id":1,"src_endpoint":{"ip":"198.51.100.4","location":{"country":"CN"},"name":"custos"},"status_id":2,"time":5000,"type_uid":600302,"unmapped":{"custos":{"iss":"https://auth","kid":"k1","message":"m","refusal":"retired_kid","subject":"abc","v":1}}}"#;
    let rec = decode(42, e.as_bytes())?;
    let mut out = Vec::new();
    set.process(&rec, &mut out);
    assert_eq!(out.len(), 1, "{out:#?}");
    let f = out.first().ok_or("none")?;
    assert_eq!(f.evidence.indices, [42]);
    let ocsf = f.to_ocsf(1, 1, 5000);
    assert_eq!(ocsf["class_uid"], 2004);
    Ok(())
}

fn attack() -> Vec<Record<'static>> {
    let mut recs = Vec::new();
    for i in 0..200u64 {
        recs.push(access(
            &format!("emp-{}", i % 3),
            "10.0.0.1",
            "KR",
            i * 9..i * 9 + 9,
        ));
        if i % 7 == 0 {
            recs.push(refusal("never_issued", "10.0.0.1", "k1"));
        }
        if i % 11 == 0 {
            recs.push(access("emp-5", "10.0.0.8", "US", i..i + 1));
        }
    }
    recs
}

#[test]
fn deterministic_and_restorable() -> TestResult {
    let a = run(&mut pack()?, attack(), 5000);
    let b = run(&mut pack()?, attack(), 5000);
    assert!(!a.is_empty());
    assert_eq!(serde_json::to_string(&a)?, serde_json::to_string(&b)?);

    // Stop half way, snapshot through JSON, restore into a fresh set,
    // go on: the same findings as the straight run.
    let recs = attack();
    let mut first = pack()?;
    let mut out = Vec::new();
    let mut resumed: Option<RuleSet> = None;
    for (i, mut r) in recs.into_iter().enumerate() {
        let i = i64::try_from(i)?;
        r.index = u64::try_from(i)? + 100;
        r.time_ms = T0 + i * 5000;
        if i == 120 {
            let json = serde_json::to_vec(&first.snapshot())?;
            let snap = serde_json::from_slice(&json)?;
            let mut fresh = pack()?;
            assert_eq!(fresh.restore(&snap), 7);
            resumed = Some(fresh);
        }
        match resumed.as_mut() {
            Some(s) => s.process(&r, &mut out),
            None => first.process(&r, &mut out),
        }
    }
    assert_eq!(serde_json::to_string(&out)?, serde_json::to_string(&a)?);
    Ok(())
}

fn expect_rule_error(yaml: &str, path_part: &str, msg_part: &str) -> TestResult {
    match RuleSet::from_yaml("rules/x.yml", yaml) {
        Ok(_) => Err(format!("accepted: {yaml}").into()),
        Err(e) => {
            let shown = e.to_string();
            assert!(shown.starts_with("rules/x.yml: "), "{shown}");
            assert!(shown.contains(path_part), "{shown} lacks {path_part}");
            assert!(shown.contains(msg_part), "{shown} lacks {msg_part}");
            Ok(())
        }
    }
}

#[test]
fn invalid_rules_are_refused_with_file_rule_and_path() -> TestResult {
    let head =
        "title: T\nid: 11111111-1111-4111-8111-111111111111\nlogsource:\n    product: custos\n";
    expect_rule_error(
        &format!("{head}detection:\n    sel:\n        actor.uid: x\n    condition: sel\n"),
        "rule '11111111-1111-4111-8111-111111111111': detection.sel",
        "unknown field `actor.uid`",
    )?;
    expect_rule_error(
        &format!(
            "{head}detection:\n    sel:\n        actor.user.uid: x\n    condition: sel and nope\n"
        ),
        "detection",
        "nope",
    )?;
    expect_rule_error("title: [unclosed\n", "rules/x.yml", "")?;
    expect_rule_error("just a string\n", "rules/x.yml", "")?;
    let base = format!(
        "{head}name: base\ndetection:\n    sel:\n        actor.user.uid: x\n    condition: sel\n---\n"
    );
    expect_rule_error(
        &format!(
            "{base}title: C\nid: c1\ncorrelation:\n    type: event_count\n    rules: [nothere]\n    group-by: [actor.user.uid]\n    timespan: 1h\n    condition:\n        gte: 2\n"
        ),
        "rule 'c1': correlation.rules[0]",
        "`nothere`",
    )?;
    expect_rule_error(
        &format!(
            "{base}title: C\nid: c1\ncorrelation:\n    type: event_count\n    rules: [base]\n    group-by: [actor.name]\n    timespan: 1h\n    condition:\n        gte: 2\n"
        ),
        "correlation.group-by[0]",
        "unknown field `actor.name`",
    )?;
    expect_rule_error(
        &format!(
            "{base}title: C\nid: c1\ncorrelation:\n    type: value_count\n    rules: [base]\n    group-by: [actor.user.uid]\n    timespan: 1h\n    condition:\n        gte: 2\n"
        ),
        "correlation.condition.field",
        "needs a field",
    )?;
    expect_rule_error(
        &format!(
            "{base}title: C\nid: c1\ncorrelation:\n    type: value_sum\n    rules: [base]\n    group-by: [actor.user.uid]\n    timespan: 1h\n    condition:\n        field: status_id\n        gte: 2\n"
        ),
        "correlation.type",
        "not supported",
    )?;
    expect_rule_error(
        &format!(
            "{base}{head}detection:\n    sel:\n        actor.user.uid: y\n    condition: sel\n"
        ),
        "id",
        "already loaded",
    )?;
    Ok(())
}

#[test]
fn a_bad_file_in_a_directory_is_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("sub"))?;
    std::fs::write(
        dir.path().join("sub/bad.yaml"),
        "title: x\nlogsource: {}\ndetection:\n    s:\n        nope: 1\n    condition: s\n",
    )?;
    let e = RuleSet::load_dir(dir.path()).err().ok_or("accepted")?;
    assert!(e.file().ends_with("sub/bad.yaml"), "{e}");
    assert!(e.to_string().contains("unknown field `nope`"), "{e}");
    Ok(())
}

const ONE: &str = "title: Retired\nid: 22222222-2222-4222-8222-222222222222\nlogsource:\n    product: custos\ndetection:\n    sel:\n        unmapped.custos.refusal: retired_kid\n    condition: sel\nlevel: high\n";
const TWO: &str = "title: Expired\nid: 33333333-3333-4333-8333-333333333333\nlogsource:\n    product: custos\ndetection:\n    sel:\n        unmapped.custos.refusal: expired\n    condition: sel\nlevel: low\n";

#[test]
fn the_watcher_reloads_and_keeps_the_old_set_on_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("one.yml"), ONE)?;
    std::fs::write(dir.path().join("ignored.txt"), "not a rule")?;
    let (mut w, mut set) = RuleWatcher::new(dir.path())?;
    assert_eq!(set.len(), 1);
    assert!(!w.poll(&mut set)?, "nothing changed");

    std::fs::write(dir.path().join("two.yaml"), TWO)?;
    assert!(w.poll(&mut set)?);
    assert_eq!(set.len(), 2);
    let mut out = Vec::new();
    set.process(&refusal("expired", "1.1.1.1", "k"), &mut out);
    assert_eq!(out.len(), 1);

    std::fs::write(dir.path().join("two.yaml"), "title: broken\ndetection: [\n")?;
    let e = w.poll(&mut set).err().ok_or("a bad rule was accepted")?;
    assert!(e.file().ends_with("two.yaml"), "{e}");
    assert_eq!(set.len(), 2, "the previous set stays");
    assert!(!w.poll(&mut set)?, "the same error is not reported twice");

    std::fs::remove_file(dir.path().join("two.yaml"))?;
    assert!(w.poll(&mut set)?);
    assert_eq!(set.len(), 1);
    Ok(())
}

#[test]
fn the_watcher_keeps_correlation_state_of_unchanged_rules() -> TestResult {
    let dir = tempfile::tempdir()?;
    for f in ["00_base.yml", "token_forged.yml"] {
        std::fs::copy(pack_dir().join(f), dir.path().join(f))?;
    }
    let (mut w, mut set) = RuleWatcher::new(dir.path())?;
    let mut out = Vec::new();
    for i in 0..2u64 {
        let mut r = refusal("never_issued", "1.1.1.1", "k1");
        r.index = i;
        r.time_ms = T0 + i64::try_from(i)? * 1000;
        set.process(&r, &mut out);
    }
    std::fs::write(dir.path().join("extra.yml"), ONE)?;
    assert!(w.poll(&mut set)?);
    let mut r = refusal("never_issued", "1.1.1.1", "k1");
    r.index = 2;
    r.time_ms = T0 + 2000;
    set.process(&r, &mut out);
    assert_eq!(
        fired(&out, "in bulk"),
        1,
        "the two before the reload counted"
    );
    Ok(())
}
