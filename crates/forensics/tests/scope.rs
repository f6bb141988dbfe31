//! Scope answers from the index against a brute-force count over the same
//! ledger entries (made by the events crate exactly as the server makes
//! them), for random queries: one entity, several, partial days, networks,
//! datasets; and a snapshot round trip.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, UNIX_EPOCH};

use forensics::scope::{CheckpointRef, ScopeQuery, matching_entries, scope};
use forensics::{DAY_MS, Index};
use serde_json::json;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn key() -> events::SubjectKey {
    events::SubjectKey::from_bytes([7; 32])
}

/// What was generated, to count by brute force.
#[derive(Clone, Debug)]
struct Ev {
    t: i64,
    actor: String,
    kid: String,
    ip: String,
    country: String,
    dataset: &'static str,
    cats: &'static [&'static str],
    subjects: Vec<String>,
    allowed: bool,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const DATASETS: [(&str, &[&str]); 3] = [
    ("customers", &["name", "phone", "address", "entrance_code"]),
    ("orders", &["order_history", "address"]),
    ("payments", &["payment"]),
];

fn generate(seed: u64, n: usize) -> (Vec<Ev>, Vec<Vec<u8>>) {
    let mut r = Rng(seed);
    let mut evs = Vec::new();
    let mut entries = Vec::new();
    let limits = events::Limits {
        max_age: Duration::from_secs(10 * 365 * 86_400),
        ..events::Limits::default()
    };
    for i in 0..n {
        let mut t = T0 + (i as i64) * (40 * DAY_MS / n as i64) + r.below(3_600_000) as i64;
        if r.below(10) == 0 {
            // A late arrival: its day's bitmaps are frozen already and thaw.
            t = (t - r.below(10) as i64 * DAY_MS).max(T0);
        }
        let (dataset, cats) = DATASETS[r.below(3) as usize];
        let k = r.below(6);
        let big = r.below(10) == 0;
        let nsub = 1 + r.below(if big { 400 } else { 5 });
        let subjects: Vec<String> = (0..nsub)
            .map(|_| r.below(3000))
            .collect::<BTreeSet<u64>>()
            .into_iter()
            .map(|c| format!("cust-{c}"))
            .collect();
        let ev = Ev {
            t,
            actor: format!("emp-{k}"),
            kid: format!("kid-{}", r.below(3)),
            ip: format!("10.{}.{}.{}", r.below(2), r.below(3), r.below(250) + 1),
            country: ["KR", "CN", "US"][r.below(3) as usize].to_owned(),
            dataset,
            cats,
            subjects,
            allowed: r.below(8) != 0,
        };
        let body = json!({
            "time": ev.t,
            "actor": {"id": ev.actor, "kind": "employee"},
            "credential": {"jti": format!("j{i}"), "kid": ev.kid, "issuer": "https://sso.example"},
            "source": {"ip": ev.ip, "country": ev.country},
            "service": "cs-tool", "operation": "GetCustomer", "dataset": dataset,
            "categories": cats, "subjects": ev.subjects, "purpose": "ticket",
            "decision": if ev.allowed { "allow" } else { "deny" },
        });
        let now = UNIX_EPOCH + Duration::from_millis(t as u64);
        let e = events::parse_event(&serde_json::to_vec(&body).unwrap(), now, &limits)
            .map_err(|e| format!("{e:?}"))
            .unwrap();
        entries.extend(events::ledger_entries(&e, &key()).unwrap());
        evs.push(ev);
    }
    (evs, entries)
}

fn in_net(ip: &str, cidr: &str) -> bool {
    forensics::scope::Cidr::parse(cidr)
        .unwrap()
        .contains(&ip.parse().unwrap())
}

/// Brute force: (subjects, by category, events, subject-accesses).
fn brute(evs: &[Ev], q: &ScopeQuery) -> (usize, BTreeMap<String, usize>, u64, u64) {
    let mut all = BTreeSet::new();
    let mut cats: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let (mut events, mut accesses) = (0, 0);
    for e in evs {
        let any = |want: &Option<String>, got: &str| {
            want.as_ref().is_none_or(|w| w.split(',').any(|x| x == got))
        };
        let ok = e.allowed
            && e.t >= q.from_ms
            && e.t < q.to_ms
            && any(&q.principal, &e.actor)
            && any(&q.kid, &e.kid)
            && any(&q.src_country, &e.country)
            && q.dataset.as_deref().is_none_or(|p| p == e.dataset)
            && q.src_net
                .as_ref()
                .is_none_or(|n| n.split(',').any(|n| in_net(&e.ip, n)));
        if !ok {
            continue;
        }
        events += 1;
        accesses += e.subjects.len() as u64;
        for s in &e.subjects {
            all.insert(s.clone());
            for c in e.cats {
                cats.entry((*c).to_owned()).or_default().insert(s.clone());
            }
        }
    }
    (
        all.len(),
        cats.into_iter().map(|(k, v)| (k, v.len())).collect(),
        events,
        accesses,
    )
}

fn build(entries: &[Vec<u8>]) -> Index {
    let mut index = Index::new();
    // Low, so that some entities get 8/64-day blocks (backfilled when they
    // cross it) and others answer from day cells alone.
    index.set_block_min(300);
    for (i, e) in (0u64..).zip(entries) {
        index.apply_entry(i, e);
    }
    index
}

fn check(index: &mut Index, evs: &[Ev], entries: &Vec<Vec<u8>>, q: &ScopeQuery) -> String {
    let got = scope(index, entries, q, CheckpointRef::default()).unwrap();
    let (n, cats, events, accesses) = brute(evs, q);
    let a = &got.answer;
    assert_eq!(a.subjects as usize, n, "subjects for {q:?} ({})", a.method);
    let got_cats: BTreeMap<String, usize> = a
        .by_category
        .iter()
        .map(|(k, v)| (k.clone(), *v as usize))
        .collect();
    assert_eq!(got_cats, cats, "categories for {q:?}");
    assert_eq!(a.events, events, "events for {q:?} ({})", a.method);
    assert_eq!(a.subject_accesses, accesses, "accesses for {q:?}");
    let proved = matching_entries(index, entries, q, usize::MAX).unwrap();
    assert!(
        proved.len() as u64 >= events,
        "every counted event has an entry"
    );
    a.method.clone()
}

#[test]
fn random_queries_match_brute_force_on_every_path() {
    let (evs, entries) = generate(0x5eed, 1500);
    let mut index = build(&entries);
    assert_eq!(index.next_index(), entries.len() as u64);
    index.flush();
    let (mut blocked, mut total) = (0, 0);
    for dim in forensics::Dim::ALL {
        for e in 0..index.values(dim).len() as u32 {
            for v in 0..3u32 {
                total += 1;
                blocked += usize::from(index.is_blocked(dim, e, v));
            }
        }
    }
    assert!(
        blocked > 0 && blocked < total,
        "some entities have 8/64-day blocks, some answer from day cells alone: {blocked}/{total}"
    );
    let mut r = Rng(42);
    let mut methods = BTreeSet::new();
    for round in 0..300 {
        let whole = round % 3 == 0;
        let mut from = T0 + r.below(30) as i64 * DAY_MS;
        let mut to = from + (1 + r.below(20) as i64) * DAY_MS;
        if !whole {
            from += r.below(DAY_MS as u64) as i64;
            to -= r.below(DAY_MS as u64) as i64;
        }
        let mut q = ScopeQuery {
            from_ms: from,
            to_ms: to.max(from + 1),
            ..ScopeQuery::default()
        };
        match r.below(9) {
            0 => {}
            7 => q.src_country = Some("KR,CN".into()),
            8 => {
                q.principal = Some(format!("emp-{},emp-{}", r.below(6), r.below(6)));
                q.src_net = Some("10.0.0.0/16,10.1.1.0/24".into());
            }
            1 => q.principal = Some(format!("emp-{}", r.below(7))),
            2 => q.kid = Some(format!("kid-{}", r.below(3))),
            3 => q.src_country = Some(["KR", "CN", "US", "JP"][r.below(4) as usize].into()),
            4 => {
                q.src_net = Some(
                    [
                        "10.0.1.0/24",
                        "10.1.0.0/16",
                        "10.0.0.0/8",
                        "10.0.2.0/25",
                        "10.1.2.7",
                    ][r.below(5) as usize]
                        .into(),
                )
            }
            5 => {
                q.principal = Some(format!("emp-{}", r.below(6)));
                q.src_country = Some("CN".into());
            }
            _ => {
                q.kid = Some(format!("kid-{}", r.below(3)));
                q.src_net = Some("10.1.0.0/16".into());
            }
        }
        if r.below(3) == 0 {
            q.dataset = Some(DATASETS[r.below(3) as usize].0.into());
        }
        methods.insert(check(&mut index, &evs, &entries, &q));
    }
    // Every path was exercised.
    for m in ["index", "index+ledger", "ledger"] {
        assert!(methods.contains(m), "{m} never ran: {methods:?}");
    }
}

#[test]
fn snapshot_round_trip_answers_the_same_and_damage_is_refused() {
    let (evs, entries) = generate(9, 600);
    let mut index = build(&entries[..entries.len() / 2]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.bin");
    forensics::snapshot::save(&mut index, &path).unwrap();
    let mut loaded = forensics::snapshot::load(&path).unwrap().unwrap();
    // Catch up from where the snapshot stopped.
    for (i, e) in (0u64..).zip(&entries) {
        loaded.apply_entry(i, e);
    }
    let q = ScopeQuery {
        principal: Some("emp-1".into()),
        from_ms: T0,
        to_ms: T0 + 41 * DAY_MS,
        ..ScopeQuery::default()
    };
    check(&mut loaded, &evs, &entries, &q);
    let mut full = build(&entries);
    let a = scope(&mut full, &entries, &q, CheckpointRef::default()).unwrap();
    let b = scope(&mut loaded, &entries, &q, CheckpointRef::default()).unwrap();
    assert_eq!(a.answer, b.answer);

    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = forensics::snapshot::load(&path).unwrap_err().to_string();
    assert!(err.contains("not a valid forensic index snapshot"), "{err}");
    for cut in [0, 10, 40, bytes.len() - 33] {
        forensics::snapshot::fuzz_snapshot(&bytes[..cut]);
    }
    forensics::snapshot::fuzz_snapshot(&bytes);
}

#[test]
fn subject_countries_come_from_the_registry() {
    let (evs, entries) = generate(3, 300);
    let mut index = build(&entries);
    let text: String = (0..3000)
        .map(|i| format!("cust-{i},{}\n", if i % 3 == 0 { "JP" } else { "KR" }))
        .collect();
    let rows = forensics::registry::parse(&text).unwrap();
    let lines = forensics::registry::pseudonymise(&rows[..2000], &key());
    assert_eq!(
        forensics::registry::load_into(&lines, index.dict_mut()).unwrap(),
        2000
    );
    let q = ScopeQuery {
        from_ms: T0,
        to_ms: T0 + 50 * DAY_MS,
        ..ScopeQuery::default()
    };
    let a = scope(&mut index, &entries, &q, CheckpointRef::default())
        .unwrap()
        .answer;
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    let seen: BTreeSet<&String> = evs
        .iter()
        .filter(|e| e.allowed)
        .flat_map(|e| &e.subjects)
        .collect();
    for s in seen {
        let i: u64 = s.trim_start_matches("cust-").parse().unwrap();
        let c = if i >= 2000 {
            "unknown"
        } else if i.is_multiple_of(3) {
            "JP"
        } else {
            "KR"
        };
        *want.entry(c.into()).or_default() += 1;
    }
    assert_eq!(a.by_country, want);
}

#[test]
fn registry_errors_name_the_line_and_field() {
    let e = forensics::registry::parse("subject,country\nc1,KR\nc2,XX\n").unwrap_err();
    assert_eq!((e.line, e.field), (3, "country"));
    let e = forensics::registry::parse("c1\n").unwrap_err();
    assert_eq!((e.line, e.field), (1, "country"));
    for bad in [&b"\xff\xfe"[..], b",,,", b"a,\n,KR", b"\0,KR"] {
        forensics::registry::fuzz_registry(bad);
    }
}

#[test]
fn bad_queries_are_refused_with_the_field() {
    let (_, entries) = generate(1, 20);
    let mut index = build(&entries);
    let q = ScopeQuery {
        src_net: Some("10.0.0.0/33".into()),
        from_ms: T0,
        to_ms: T0 + DAY_MS,
        ..ScopeQuery::default()
    };
    let e = scope(&mut index, &entries, &q, CheckpointRef::default()).unwrap_err();
    assert!(e.to_string().starts_with("src_net:"), "{e}");
    let q = ScopeQuery {
        from_ms: T0,
        to_ms: T0,
        ..ScopeQuery::default()
    };
    let e = scope(&mut index, &entries, &q, CheckpointRef::default()).unwrap_err();
    assert!(e.to_string().starts_with("to:"), "{e}");
}

#[test]
fn pruning_keeps_later_days_exact_and_warns_about_earlier_ones() {
    let (evs, entries) = generate(5, 800);
    let mut index = build(&entries);
    let cut = u32::try_from(forensics::day_of(T0 + 20 * DAY_MS)).unwrap();
    assert!(index.prune_before(cut) > 0);
    let q = ScopeQuery {
        principal: Some("emp-2".into()),
        from_ms: T0 + 20 * DAY_MS,
        to_ms: T0 + 45 * DAY_MS,
        ..ScopeQuery::default()
    };
    check(&mut index, &evs, &entries, &q);
    let early = ScopeQuery {
        from_ms: T0,
        ..q.clone()
    };
    let a = scope(&mut index, &entries, &early, CheckpointRef::default())
        .unwrap()
        .answer;
    assert!(a.warnings.iter().any(|w| w.contains("pruned")), "{a:?}");
    assert_eq!(a.subjects, brute(&evs, &q).0 as u64);
}
