//! The built-in detectors over real ledger entry bytes (made by the events
//! crate exactly as the server makes them).

use std::time::{Duration, UNIX_EPOCH};

use detect::{Context, DetectConfig, Engine, EntityKind, Finding, NoContext, Residency};
use serde_json::json;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const MIN: i64 = 60_000;
const DAY: i64 = 86_400_000;

type R = Result<(), Box<dyn std::error::Error>>;

fn key() -> events::SubjectKey {
    events::SubjectKey::from_bytes([9; 32])
}

/// The ledger entries of one access event.
fn access(
    t: i64,
    actor: &str,
    kind: &str,
    country: &str,
    subjects: &[String],
    decision: &str,
) -> Result<Vec<Vec<u8>>, Box<dyn std::error::Error>> {
    let ev = json!({
        "time": t,
        "actor": {"id": actor, "kind": kind},
        "credential": {"jti": format!("jti-{actor}-{t}"), "kid": "k-staff", "issuer": "https://sso.example"},
        "source": {"ip": "10.1.2.3", "country": country},
        "service": "cs-tool", "operation": "GetCustomer", "dataset": "customers",
        "categories": ["name", "address"], "subjects": subjects, "purpose": "ticket",
        "decision": decision,
    });
    let now = UNIX_EPOCH + Duration::from_millis(t as u64);
    let limits = events::Limits {
        max_age: Duration::from_secs(10 * 365 * 86_400),
        ..events::Limits::default()
    };
    let e = events::parse_event(&serde_json::to_vec(&ev)?, now, &limits)
        .map_err(|e| format!("{e:?}"))?;
    Ok(events::ledger_entries(&e, &key())?)
}

fn subjects(from: u64, n: u64) -> Vec<String> {
    (from..from + n).map(|i| format!("cust-{i:08}")).collect()
}

/// Feeds entries, numbering them; returns every finding.
struct Feed {
    engine: Engine,
    next: u64,
    findings: Vec<Finding>,
}

impl Feed {
    fn new(config: DetectConfig, ctx: Box<dyn Context>) -> Feed {
        Feed {
            engine: Engine::new(config, ctx),
            next: 0,
            findings: Vec::new(),
        }
    }
    fn push(&mut self, entries: Vec<Vec<u8>>) {
        for e in entries {
            let f = self.engine.process(self.next, &e);
            self.findings.extend(f);
            self.next += 1;
        }
    }
    fn control(&mut self, v: serde_json::Value) -> R {
        self.push(vec![serde_json::to_vec(&v)?]);
        Ok(())
    }
    fn by(&self, detector: &str) -> Vec<&Finding> {
        self.findings
            .iter()
            .filter(|f| f.detector == detector)
            .collect()
    }
}

/// 20 agents reading ~40 customers a day, each its own, for `days` days.
fn normal_days(feed: &mut Feed, days: i64) -> R {
    for d in 0..days {
        for a in 0..20u64 {
            for k in 0..8u64 {
                let t = T0 + d * DAY + 9 * 3_600_000 + (a * 8 + k) as i64 * 3 * MIN;
                let base = (d as u64 * 1_000 + a * 50 + k * 5) * 7;
                feed.push(access(
                    t,
                    &format!("emp-{a:03}"),
                    "employee",
                    "KR",
                    &subjects(base, 5),
                    "allow",
                )?);
            }
        }
    }
    Ok(())
}

fn config() -> DetectConfig {
    DetectConfig::default()
}

#[test]
fn a_bulk_read_breaks_own_and_peer_baselines_and_a_near_miss_does_not() -> R {
    let mut feed = Feed::new(config(), Box::new(NoContext));
    normal_days(&mut feed, 20)?;
    assert!(feed.findings.is_empty(), "{:?}", feed.findings);
    // Day 20: agent 7 reads 150 customers in 10 minutes (under the 200
    // floor): nothing. Agent 3 reads 3,000: a finding.
    let t = T0 + 20 * DAY + 10 * 3_600_000;
    feed.push(access(
        t,
        "emp-007",
        "employee",
        "KR",
        &subjects(5_000_000, 150),
        "allow",
    )?);
    feed.push(access(
        t + MIN,
        "emp-999",
        "employee",
        "KR",
        &subjects(6_000_000, 1),
        "allow",
    )?);
    assert!(
        feed.by("distinct_subjects").is_empty(),
        "{:?}",
        feed.findings
    );
    for i in 0..3u64 {
        feed.push(access(
            t + 2 * MIN + i as i64 * 1_000,
            "emp-003",
            "employee",
            "KR",
            &subjects(7_000_000 + i * 1_000, 1_000),
            "allow",
        )?);
    }
    feed.push(access(
        t + 4 * MIN,
        "emp-998",
        "employee",
        "KR",
        &subjects(8_000_000, 1),
        "allow",
    )?);
    let f = feed.by("distinct_subjects");
    assert_eq!(f.len(), 1, "{:?}", feed.findings);
    let f = f.first().ok_or("no finding")?;
    assert_eq!(f.entity.kind, EntityKind::Principal);
    assert_eq!(f.entity.id, "emp-003");
    assert_eq!(f.evidence.subjects, 3_000);
    assert!(!f.evidence.estimated);
    let kinds: Vec<&str> = f
        .evidence
        .baselines
        .iter()
        .map(|b| b.kind.as_str())
        .collect();
    assert!(
        kinds.contains(&"self") && kinds.contains(&"peer"),
        "{kinds:?}"
    );
    // Its evidence points at the bulk entries.
    assert!(f.evidence.indices.len() >= 3);
    Ok(())
}

struct Forged;
impl Context for Forged {
    fn token_issued(&self, _iss: &str, _kid: Option<&str>, jti: &str) -> Option<bool> {
        Some(!jti.starts_with("jti-mallory"))
    }
}

#[test]
fn a_never_issued_token_is_critical_at_once_and_repeats_merge() -> R {
    let mut feed = Feed::new(config(), Box::new(Forged));
    feed.push(access(
        T0,
        "alice",
        "employee",
        "KR",
        &subjects(1, 1),
        "allow",
    )?);
    assert!(feed.findings.is_empty());
    feed.push(access(
        T0 + 1_000,
        "mallory",
        "customer",
        "CN",
        &subjects(2, 1),
        "allow",
    )?);
    feed.push(access(
        T0 + 2_000,
        "mallory",
        "customer",
        "CN",
        &subjects(3, 1),
        "allow",
    )?);
    let f = feed.by("token.never_issued");
    assert_eq!(f.len(), 1);
    let f = f.first().ok_or("none")?;
    assert_eq!(f.severity, detect::Severity::Critical);
    assert_eq!(f.entity.kind, EntityKind::Kid);
    assert_eq!(f.evidence.indices, vec![1]);
    assert_eq!(f.time_ms, T0 + 1_000);
    assert_eq!(feed.engine.stats().merged, 1);
    Ok(())
}

fn control(
    t: i64,
    op: &str,
    log: &str,
    resources: serde_json::Value,
    custos: serde_json::Value,
) -> serde_json::Value {
    json!({"activity_id":3,"actor":{"user":{"type_id":3,"uid":"custos"}},"api":{"operation":op,"service":{"name":"custos"}},
      "category_uid":6,"class_uid":6003,"metadata":{"log_name":log,"product":{"name":"Custos","vendor_name":"Custos"},"uid":format!("{op}-{t}"),"version":"1.3.0"},
      "resources":resources,"severity_id":1,"src_endpoint":{"name":"custos"},"status_id":1,"time":t,"type_uid":600303,"unmapped":{"custos":custos}})
}

#[test]
fn access_after_offboarding_and_with_a_retired_key_are_caught_from_the_ledger_alone() -> R {
    let mut feed = Feed::new(config(), Box::new(NoContext));
    feed.push(access(
        T0,
        "bob",
        "employee",
        "KR",
        &subjects(1, 1),
        "allow",
    )?);
    feed.control(control(
        T0 + MIN,
        "custos.principal.offboard",
        "custos.principal",
        json!([{"type":"principal","uid":"bob"}]),
        json!({"v":1}),
    ))?;
    feed.push(access(
        T0 + 2 * MIN,
        "bob",
        "employee",
        "KR",
        &subjects(2, 1),
        "allow",
    )?);
    let f = feed.by("principal.offboarded_access");
    assert_eq!(f.len(), 1, "{:?}", feed.findings);
    assert_eq!(f.first().map(|f| f.evidence.indices.clone()), Some(vec![2]));

    feed.control(control(
        T0 + 3 * MIN,
        "custos.token.key.retire",
        "custos.token",
        json!([{"type":"signing_key","uid":"k-staff"}]),
        json!({"v":1}),
    ))?;
    feed.push(access(
        T0 + 4 * MIN,
        "carol",
        "employee",
        "KR",
        &subjects(3, 1),
        "allow",
    )?);
    assert_eq!(feed.by("token.retired_key").len(), 1, "{:?}", feed.findings);
    Ok(())
}

#[test]
fn refused_introspection_of_a_forged_token_is_critical() -> R {
    let mut feed = Feed::new(config(), Box::new(NoContext));
    let mut e = control(
        T0,
        "custos.token.introspect",
        "custos.token",
        json!([{"type":"token","uid":"j1"}]),
        json!({"refusal":"expired","kid":"k1","v":1}),
    );
    feed.control(e.clone())?;
    assert!(feed.findings.is_empty());
    e["unmapped"]["custos"]["refusal"] = json!("never_issued");
    feed.control(e)?;
    assert_eq!(feed.by("token.refused.never_issued").len(), 1);
    Ok(())
}

#[test]
fn staff_outside_the_residency_is_flagged_and_customers_abroad_are_not() -> R {
    let mut c = config();
    c.residency.insert(
        "customers".into(),
        Residency {
            allowed: vec!["KR".into()],
            kinds: vec![events::ActorKind::Employee],
        },
    );
    let mut feed = Feed::new(c, Box::new(NoContext));
    feed.push(access(
        T0,
        "cust-1",
        "customer",
        "JP",
        &subjects(1, 1),
        "allow",
    )?);
    feed.push(access(
        T0 + 1,
        "emp-1",
        "employee",
        "KR",
        &subjects(1, 1),
        "allow",
    )?);
    assert!(feed.findings.is_empty());
    feed.push(access(
        T0 + 2,
        "emp-1",
        "employee",
        "CN",
        &subjects(1, 1),
        "allow",
    )?);
    let f = feed.by("residency.outside");
    assert_eq!(f.len(), 1);
    assert_eq!(
        f.first().map(|f| f.entity.id.as_str()),
        Some("customers@CN")
    );
    Ok(())
}

#[test]
fn replay_is_deterministic_and_a_checkpoint_resumes_exactly() -> R {
    // Build one stream of entries, then run it straight and in two halves
    // through a serialised checkpoint.
    let mut stream = Vec::new();
    for d in 0..12i64 {
        for a in 0..10u64 {
            let t = T0 + d * DAY + a as i64 * MIN;
            let who = if d == 11 && a == 3 {
                "mallory"
            } else {
                "agent"
            };
            stream.extend(access(
                t,
                &format!("{who}-{a}"),
                "employee",
                "KR",
                &subjects(
                    d as u64 * 10_000 + a * 600,
                    if d == 11 { 2_500 } else { 30 },
                ),
                "allow",
            )?);
        }
    }
    let run = |split: Option<usize>| -> Result<Vec<Finding>, Box<dyn std::error::Error>> {
        let mut engine = Engine::new(config(), Box::new(Forged));
        let mut out = Vec::new();
        for (i, e) in stream.iter().enumerate() {
            if Some(i) == split {
                let cp = serde_json::to_vec(&engine.checkpoint())?;
                engine = Engine::new(config(), Box::new(Forged));
                engine.restore(serde_json::from_slice(&cp)?)?;
            }
            out.extend(engine.process(i as u64, e));
        }
        Ok(out)
    };
    let straight = run(None)?;
    assert!(!straight.is_empty());
    assert_eq!(straight, run(None)?);
    assert_eq!(straight, run(Some(stream.len() / 2))?);
    assert_eq!(straight, run(Some(stream.len() - 3))?);
    Ok(())
}
