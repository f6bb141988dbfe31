//! The simulator's promises, checked on its output: determinism, time
//! order, validity under `events::parse_event`, the attack's real rate and
//! distinct victims, probing before the attack, rhythms, bulk readers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use events::{ActorKind, Decision, Limits};
use sim::{Config, Generator, Label, Tally, Truth, World};

/// A one-hour window of a small company, the attack at its real rate.
fn small(seed: u64) -> Config {
    Config {
        seed,
        hours: Some(1),
        customers: 200_000,
        events_per_day: 200_000,
        ..Config::default()
    }
}

fn ndjson(config: Config) -> (Vec<u8>, Tally, World) {
    let world = World::new(config).unwrap();
    let mut out = Vec::new();
    let tally = sim::write_ndjson(&world, &mut out, None, &mut |_| {}).unwrap();
    (out, tally, world)
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn same_seed_same_bytes_and_another_seed_differs() {
    let (a, ta, _) = ndjson(small(7));
    let (b, _, _) = ndjson(small(7));
    assert!(a == b, "two runs with the same seed differ");
    assert_eq!(ta.bytes, a.len() as u64);
    let (c, _, _) = ndjson(small(8));
    assert!(a != c, "another seed gives the same output");
}

#[test]
fn a_short_window_is_a_prefix_of_a_longer_one() {
    let (one, _, _) = ndjson(Config {
        hours: Some(1),
        ..small(3)
    });
    let (two, _, _) = ndjson(Config {
        hours: Some(2),
        ..small(3)
    });
    assert!(two.len() > one.len() * 3 / 2);
    assert!(
        two.starts_with(&one),
        "hour 1 is not the start of hours 1-2"
    );
}

#[test]
fn every_event_validates_and_time_never_goes_back() {
    let config = small(11);
    let end = config.start_ms + config.duration_ms();
    let (out, tally, _) = ndjson(config);
    let now = SystemTime::UNIX_EPOCH + Duration::from_millis(end as u64 + 60_000);
    let limits = Limits {
        max_age: Duration::from_secs(100 * 365 * 86_400),
        ..Limits::default()
    };
    let mut last = i64::MIN;
    let mut ids = HashSet::new();
    let all = lines(&out);
    assert_eq!(all.len() as u64, tally.events);
    for line in all {
        let ev = events::parse_event(line, now, &limits)
            .unwrap_or_else(|e| panic!("{e:?}\n{}", String::from_utf8_lossy(line)));
        assert!(ev.time_ms() >= last, "time went back");
        last = ev.time_ms();
        assert!(ids.insert(ev.id().unwrap().to_owned()));
        // Producers' serde type agrees too (unknown fields are refused).
        let _: events::EventInput = serde_json::from_slice(line).unwrap();
    }
}

#[test]
fn the_attack_runs_at_its_real_rate_with_the_real_key() {
    let world = World::new(small(5)).unwrap();
    let customers = world.config().customers;
    let mut attack = 0u64;
    let mut unknown = 0u64;
    let mut victims = HashSet::new();
    let mut tokens = HashSet::new();
    let mut legit_customer_creds = HashSet::new();
    let mut tally = Tally::default();
    for ev in Generator::new(&world) {
        tally.record(&ev, 0);
        let input = ev.to_input();
        let cred = input.credential.clone().unwrap();
        let issued = world.jti_issued(&cred.jti, &cred.kid);
        match ev.label() {
            Label::Background => {
                assert!(issued, "a legitimate token was not issued: {input:?}");
                if input.actor.kind == ActorKind::Customer {
                    legit_customer_creds.insert((cred.kid, cred.issuer));
                }
            }
            Label::Attack | Label::UnknownMember | Label::Probe => {
                assert!(!issued, "a forged token passes as issued");
                assert_eq!(input.actor.kind, ActorKind::Customer);
                assert_eq!(input.subjects, vec![input.actor.id.clone()]);
                assert_eq!(input.service, "customer-gateway");
                let country = input.source.country.clone().unwrap();
                assert!(["CN", "HK", "SG", "US"].contains(&country.as_str()));
                let n: u64 = input.actor.id["cust-".len()..].parse().unwrap();
                if ev.label() == Label::UnknownMember {
                    unknown += 1;
                    assert!(n >= customers, "an unknown member exists");
                    assert_eq!(input.decision, Decision::Deny);
                } else {
                    attack += 1;
                    assert!(n < customers);
                    assert_eq!(input.decision, Decision::Allow);
                    victims.insert(n);
                    tokens.insert(cred.jti.clone());
                }
                assert_eq!(
                    (cred.kid.as_str(), cred.issuer.as_str()),
                    (world.customer_key().kid, world.customer_key().issuer)
                );
            }
            Label::Malicious => panic!("no scenario was configured"),
        }
    }
    // ≈12 requests a second for real customers: 43,200 in the hour.
    assert!(
        (42_800..=43_600).contains(&attack),
        "{attack} attack requests"
    );
    // ≈229K distinct customers a day: 9,542 in the hour, one token each.
    let per_hour = 229_000.0 / 24.0;
    let distinct = victims.len() as f64;
    assert!(
        (distinct / per_hour - 1.0).abs() < 0.01,
        "{distinct} victims"
    );
    assert_eq!(tokens.len(), victims.len());
    assert!(
        (11_500..=13_400).contains(&unknown),
        "{unknown} unknown members"
    );
    // Forged tokens look exactly like real ones: same kid, same issuer.
    assert_eq!(
        legit_customer_creds,
        HashSet::from([(
            world.customer_key().kid.to_owned(),
            world.customer_key().issuer.to_owned()
        )])
    );
    // The truth file says the same.
    let truth = Truth::new(&world, &tally);
    let a = truth.attack.unwrap();
    assert_eq!(a.in_output.attack_events, attack);
    assert_eq!(a.in_output.distinct_victims, victims.len() as u64);
    assert_eq!(a.in_output.unknown_member_events, unknown);
    assert!((a.in_output.attack_requests_per_second - 12.0).abs() < 0.15);
    let d = a.departed_engineer.unwrap();
    assert!(
        world
            .principals()
            .iter()
            .any(|p| p.id == d.id && p.offboarded_ms.is_some())
    );
}

#[test]
fn a_full_attack_day_reads_229k_distinct_customers() {
    let config = Config {
        days: 1,
        customers: 1_000_000,
        events_per_day: 0,
        bulk: sim::Bulk {
            enabled: false,
            ..sim::Bulk::default()
        },
        ..Config::default()
    };
    let world = World::new(config).unwrap();
    let mut seen = vec![false; 1_000_000];
    let (mut attack, mut distinct) = (0u64, 0u64);
    for ev in Generator::new(&world) {
        if ev.label() == Label::Attack {
            attack += 1;
            for c in ev.subjects() {
                if !std::mem::replace(&mut seen[c as usize], true) {
                    distinct += 1;
                }
            }
        }
    }
    assert_eq!(distinct, 229_000);
    let rate = attack as f64 / 86_400.0;
    assert!((rate - 12.0).abs() < 0.05, "{rate} requests/s");
}

#[test]
fn probing_precedes_the_attack() {
    let mut config = Config {
        // Three weeks of probing, then the first hour of the attack.
        hours: Some(21 * 24 + 1),
        customers: 100_000,
        events_per_day: 0,
        ..Config::default()
    };
    config.bulk.enabled = false;
    let attack = config.attack.as_mut().unwrap();
    attack.start_offset_hours = 21 * 24;
    attack.probe_lead_days = 21;
    attack.probes_per_day = 4;
    let world = World::new(config).unwrap();
    let times = world.attack_times().unwrap();
    let mut probes = Vec::new();
    let mut first_attack = None;
    for ev in Generator::new(&world) {
        match ev.label() {
            Label::Probe => {
                assert!(first_attack.is_none(), "a probe after the attack began");
                probes.push(ev.time_ms());
            }
            Label::Attack | Label::UnknownMember => {
                first_attack.get_or_insert(ev.time_ms());
            }
            Label::Background | Label::Malicious => {}
        }
    }
    assert_eq!(probes.len(), 21 * 4);
    assert!(probes[0] >= times.probe_start_ms);
    let first_attack = first_attack.unwrap();
    assert!(first_attack >= times.start_ms && first_attack < times.start_ms + 1_000);
    // Probing spans the weeks before: some probe in each week.
    for week in 0..3 {
        let from = times.probe_start_ms + week * 7 * 86_400_000;
        assert!(
            probes
                .iter()
                .any(|&t| t >= from && t < from + 7 * 86_400_000)
        );
    }
    // The departed engineer left well before the first probe.
    assert!(world.departed_engineer().unwrap().departed_ms < times.probe_start_ms);
}

/// Events per local (KST) hour of day and weekday, by kind of reader:
/// customers, customer-service agents, office staff, others.
fn by_local_time(config: Config) -> HashMap<(&'static str, i64, i64), u64> {
    let offset = i64::from(config.rhythm.utc_offset_minutes) * 60_000;
    let world = World::new(config).unwrap();
    let mut counts = HashMap::new();
    for ev in Generator::new(&world) {
        let local = ev.time_ms() + offset;
        let hour = local.rem_euclid(86_400_000) / 3_600_000;
        let weekday = (local.div_euclid(86_400_000) + 3).rem_euclid(7);
        let who = match ev.actor() {
            sim::ActorRef::Customer(_) => "customer",
            sim::ActorRef::Principal(i) => match &world.principals()[i as usize] {
                p if p.department == "customer-service" => "cs",
                p if p.kind == ActorKind::Employee => "office",
                _ => "other",
            },
        };
        *counts.entry((who, hour, weekday)).or_default() += 1;
    }
    counts
}

#[test]
fn daily_and_weekly_rhythms_are_visible() {
    // A week from Monday 2025-06-02 00:00 KST.
    let config = Config {
        start_ms: sim::parse_rfc3339("2025-06-02T00:00:00+09:00").unwrap(),
        days: 7,
        customers: 100_000,
        events_per_day: 40_000,
        attack: None,
        bulk: sim::Bulk {
            enabled: false,
            ..sim::Bulk::default()
        },
        ..Config::default()
    };
    let counts = by_local_time(config);
    let sum = |kind: &str, hours: &[i64], days: &[i64]| -> u64 {
        hours
            .iter()
            .flat_map(|h| days.iter().map(move |d| (*h, *d)))
            .map(|(h, d)| counts.get(&(kind, h, d)).copied().unwrap_or(0))
            .sum()
    };
    let week: Vec<i64> = (0..7).collect();
    // Customers: the evening peak against the small hours.
    let evening = sum("customer", &[20, 21], &week);
    let night = sum("customer", &[3, 4], &week);
    assert!(evening > 8 * night, "evening {evening}, night {night}");
    // Office staff: weekdays against the weekend, working hours against night.
    let weekdays = sum("office", &(0..24).collect::<Vec<_>>(), &[0, 1]);
    let weekend = sum("office", &(0..24).collect::<Vec<_>>(), &[5, 6]);
    assert!(
        weekdays > 2 * weekend,
        "weekdays {weekdays}, weekend {weekend}"
    );
    let office = sum("office", &[10, 11, 14, 15], &[0, 1, 2, 3, 4]);
    let small_hours = sum("office", &[1, 2, 3, 4], &[0, 1, 2, 3, 4]);
    assert!(
        office > 20 * small_hours.max(1),
        "{office} vs {small_hours}"
    );
    // Customer service works shifts every day, fewer at the weekend.
    let cs_weekday = sum("cs", &[10, 11], &[0, 1]);
    let cs_weekend = sum("cs", &[10, 11], &[5, 6]);
    assert!(cs_weekday > cs_weekend && cs_weekend * 2 > cs_weekday);
}

#[test]
fn heavy_and_bulk_readers_are_present() {
    let world = World::new(small(9)).unwrap();
    let mut waves = 0;
    let mut by_department: HashMap<&str, u64> = HashMap::new();
    for ev in Generator::new(&world) {
        if let sim::ActorRef::Principal(i) = ev.actor() {
            let p = &world.principals()[i as usize];
            if p.id == "svc-fulfilment-wave" {
                waves += 1;
                let input = ev.to_input();
                let n = input.subjects.len();
                assert!((1_000..=5_000).contains(&n), "{n} subjects");
                let distinct: HashSet<_> = input.subjects.iter().collect();
                assert_eq!(distinct.len(), n);
            }
            if p.kind == ActorKind::Employee {
                *by_department.entry(p.department).or_default() += 1;
            }
        }
    }
    assert_eq!(waves, 6, "a wave every 10 minutes");
    // Customer-service agents read more than every other department together.
    let cs = by_department.remove("customer-service").unwrap_or(0);
    let others: u64 = by_department.values().sum();
    assert!(cs > others && cs > 500, "cs {cs}, others {by_department:?}");
}

#[test]
fn thirty_four_million_customers_cost_no_memory() {
    let config = Config {
        customers: 34_000_000,
        ..small(1)
    };
    let world = World::new(config).unwrap();
    let mut max = 0;
    let mut victims = HashSet::new();
    for ev in Generator::new(&world).take(100_000) {
        if ev.label() == Label::UnknownMember {
            continue;
        }
        for c in ev.subjects() {
            max = max.max(c);
        }
        if let Some(k) = ev.attack_victim() {
            victims.insert(world.attack_victim(k));
        }
    }
    assert!(max < 34_000_000 && max > 30_000_000, "{max}");
    assert!(victims.len() > 1_000);
    assert_eq!(
        world.customer(33_999_999).map(|c| c.number),
        Some(33_999_999)
    );
    assert!(world.customer(34_000_000).is_none());
}

#[test]
fn issuances_cover_exactly_the_legitimate_tokens() {
    let world = World::new(small(4)).unwrap();
    let mut generator = Generator::new(&world).with_issuances();
    let mut issued: HashMap<String, String> = HashMap::new();
    let mut used = Vec::new();
    while let Some(ev) = generator.next() {
        used.push((ev.label(), ev.jti(), ev.time_ms()));
        for rec in generator.take_issuances() {
            issued.insert(rec.jti.clone(), rec.iat.clone());
        }
    }
    for rec in generator.take_issuances() {
        issued.insert(rec.jti.clone(), rec.iat.clone());
    }
    for (label, jti, t) in used {
        match issued.get(&jti) {
            Some(iat) => {
                assert_eq!(label, Label::Background);
                assert!(sim::parse_rfc3339(iat).unwrap() <= t, "used before issued");
            }
            None => assert_ne!(
                label,
                Label::Background,
                "legitimate token {jti} not issued"
            ),
        }
    }
}

#[test]
fn impossible_configurations_are_refused() {
    let cases: Vec<(&str, Config)> = vec![
        (
            "customers",
            Config {
                customers: 0,
                ..Config::default()
            },
        ),
        (
            "hours",
            Config {
                hours: Some(0),
                ..Config::default()
            },
        ),
        (
            "bulk",
            Config {
                bulk: sim::Bulk {
                    max_subjects: 20_000,
                    ..sim::Bulk::default()
                },
                ..Config::default()
            },
        ),
        ("attack.countries", {
            let mut c = Config::default();
            c.attack.as_mut().unwrap().countries = vec!["XX".into()];
            c
        }),
        ("attack.requests_per_second", {
            let mut c = Config::default();
            c.attack.as_mut().unwrap().requests_per_second = 1.0;
            c
        }),
    ];
    for (field, config) in cases {
        let err = World::new(config).unwrap_err();
        assert_eq!(err.field, field, "{err}");
    }
}
