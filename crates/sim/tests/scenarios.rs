//! The scenarios' promises: every episode's events carry its id and the
//! right label, stay valid events input and deterministic, and have the
//! shape the scenario describes (the admin dump's 100K+ customers, the
//! low-and-slow insider under 500 a day, the scraper's daily volume from
//! abroad, credential stuffing's failures from many addresses, the benign
//! surges' factors).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime};

use events::{ActorKind, Decision, Limits};
use sim::{
    ActorRef, AdminBulkDump, Config, CredentialStuffing, Episode, HeavyCsAgents, Label, LowAndSlow,
    Scenario, Start, SupplierScrape, Surge, World,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// A quiet company: no attack, no bulk jobs, `per_day` background events.
fn quiet(days: u32, per_day: u64) -> Config {
    let mut c = Config {
        days,
        customers: 1_000_000,
        events_per_day: per_day,
        attack: None,
        ..Config::default()
    };
    c.bulk.enabled = false;
    c
}

/// What the tests look at of an event of an episode.
#[derive(Debug)]
struct Rec {
    t: i64,
    label: Label,
    actor: ActorRef,
    input: events::EventInput,
}

/// The events of each episode (by id), and counts of the others.
struct Run {
    world: World,
    by_episode: BTreeMap<u16, Vec<Rec>>,
    background: u64,
}

fn run(config: Config) -> Result<Run, Box<dyn std::error::Error>> {
    let world = World::new(config)?;
    let mut by_episode: BTreeMap<u16, Vec<Rec>> = BTreeMap::new();
    let mut background = 0;
    for ev in sim::Generator::new(&world) {
        match ev.episode() {
            Some(id) => by_episode.entry(id).or_default().push(Rec {
                t: ev.time_ms(),
                label: ev.label(),
                actor: ev.actor(),
                input: ev.to_input(),
            }),
            None => {
                if ev.label() != Label::Background {
                    return Err(
                        format!("an attacker event without episode: {:?}", ev.label()).into(),
                    );
                }
                background += 1;
            }
        }
    }
    Ok(Run {
        world,
        by_episode,
        background,
    })
}

fn episode<'a>(r: &'a Run, name: &str) -> Result<(&'a Episode, &'a [Rec]), String> {
    let e = r
        .world
        .episodes()
        .iter()
        .find(|e| e.scenario == name)
        .ok_or(format!("no {name} episode"))?;
    let recs = r.by_episode.get(&e.id).map_or(&[][..], |v| v.as_slice());
    Ok((e, recs))
}

fn principal(w: &World, a: ActorRef) -> Option<&sim::Principal> {
    match a {
        ActorRef::Principal(i) => w.principals().get(i as usize),
        ActorRef::Customer(_) => None,
    }
}

fn local_hour(t: i64) -> i64 {
    (t + 9 * HOUR).rem_euclid(DAY) / HOUR
}

/// Every scenario at once, small, in two days (with a small forged-token
/// attack too).
fn everything(seed: u64) -> Config {
    let mut c = quiet(2, 60_000);
    c.seed = seed;
    c.bulk.enabled = true;
    let at = |h: i64| Start::AtMs(c.start_ms + h * HOUR);
    c.attack = Some(sim::Attack {
        victims_per_day: 20_000,
        requests_per_second: 1.0,
        ..sim::Attack::default()
    });
    c.scenarios = vec![
        Scenario::AdminBulkDump(AdminBulkDump {
            start: at(2),
            customers: 30_000,
            hours: 1,
            ..AdminBulkDump::default()
        }),
        Scenario::LowAndSlow(LowAndSlow {
            start: at(0),
            days: 1,
            ..LowAndSlow::default()
        }),
        Scenario::SupplierScrape(SupplierScrape {
            start: at(1),
            days: 1,
            min_per_day: 2_000,
            max_per_day: 3_000,
        }),
        Scenario::CredentialStuffing(CredentialStuffing {
            start: at(5),
            hours: 2,
            attempts: 4_000,
            success_share: 0.05,
            ..CredentialStuffing::default()
        }),
        Scenario::HeavyCsAgents(HeavyCsAgents {
            start: at(12),
            days: 1,
            ..HeavyCsAgents::default()
        }),
        Scenario::FulfilmentBatch(Surge {
            start: at(12),
            days: 1,
            factor: 2.0,
        }),
        Scenario::MarketingCampaign(Surge {
            start: at(0),
            days: 1,
            factor: 3.0,
        }),
        Scenario::HolidayPeak(Surge {
            start: at(30),
            days: 1,
            factor: 2.5,
        }),
    ];
    c
}

#[test]
fn every_scenario_has_its_episode_and_labels() -> TestResult {
    let r = run(everything(3))?;
    let w = &r.world;
    assert_eq!(w.episodes().len(), 9);
    assert_eq!(
        w.episodes().first().map(|e| (e.id, e.scenario)),
        Some((1, "forged_token"))
    );
    let names: Vec<&str> = w.episodes().iter().map(|e| e.scenario).collect();
    for (name, malicious, _) in sim::SCENARIOS {
        assert!(names.contains(&name), "{name} missing");
        let (e, recs) = episode(&r, name)?;
        assert_eq!(e.malicious, malicious, "{name}");
        assert!(!recs.is_empty(), "{name}: no events");
        assert!(!e.actors.is_empty() && !e.description.is_empty());
        for rec in recs {
            assert_eq!(rec.label.is_attacker(), malicious, "{name}: {rec:?}");
            if malicious && name != "forged_token" {
                assert_eq!(rec.label, Label::Malicious);
            }
            if !malicious {
                assert_eq!(rec.label, Label::Background);
            }
            assert!(
                rec.t >= e.start_ms && rec.t < e.end_ms + HOUR,
                "{name}: {rec:?}"
            );
        }
    }
    assert!(r.background > 100_000);
    Ok(())
}

#[test]
fn every_scenario_event_is_valid_input_and_runs_are_deterministic() -> TestResult {
    let config = everything(11);
    let end = config.start_ms + config.duration_ms();
    let world = World::new(config.clone())?;
    let mut a = Vec::new();
    let tally = sim::write_ndjson(&world, &mut a, None, &mut |_| {})?;
    let now = SystemTime::UNIX_EPOCH + Duration::from_millis(end as u64 + 60_000);
    let limits = Limits {
        max_age: Duration::from_secs(100 * 365 * 86_400),
        ..Limits::default()
    };
    let mut last = i64::MIN;
    let mut n = 0u64;
    for line in a.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let ev = events::parse_event(line, now, &limits)
            .map_err(|e| format!("{e:?}: {}", String::from_utf8_lossy(line)))?;
        assert!(ev.time_ms() >= last, "time went back");
        last = ev.time_ms();
        let _: events::EventInput = serde_json::from_slice(line)?;
        n += 1;
    }
    assert_eq!(n, tally.events);
    // The fast writer agrees with serde on every kind of scenario event.
    for ev in sim::Generator::new(&world).filter(|e| e.episode().is_some()) {
        let mut fast = Vec::new();
        ev.write_json(&mut fast)?;
        assert_eq!(fast, serde_json::to_vec(&ev.to_input())?);
    }
    // Every token but the forged ones was issued, before its first use.
    let mut generator = sim::Generator::new(&world).with_issuances();
    let mut issued: HashMap<String, i64> = HashMap::new();
    let mut used = Vec::new();
    while let Some(ev) = generator.next() {
        if !matches!(
            ev.label(),
            Label::Probe | Label::Attack | Label::UnknownMember
        ) && !ev.jti().is_empty()
        {
            used.push((ev.jti(), ev.time_ms(), ev.episode()));
        }
        for rec in generator.take_issuances() {
            issued.insert(rec.jti, sim::parse_rfc3339(&rec.iat).ok_or("iat")?);
        }
    }
    for rec in generator.take_issuances() {
        issued.insert(rec.jti, sim::parse_rfc3339(&rec.iat).ok_or("iat")?);
    }
    for (jti, t, episode) in used {
        let iat = issued
            .get(&jti)
            .ok_or(format!("token {jti} (episode {episode:?}) never issued"))?;
        assert!(
            *iat <= t,
            "token {jti} (episode {episode:?}) used before issued"
        );
    }
    // Same configuration, same bytes; another seed, other bytes.
    let mut b = Vec::new();
    sim::write_ndjson(&World::new(config)?, &mut b, None, &mut |_| {})?;
    assert!(a == b, "two runs with scenarios differ");
    let mut c = Vec::new();
    sim::write_ndjson(&World::new(everything(12))?, &mut c, None, &mut |_| {})?;
    assert!(a != c);
    // The truth file has every episode and what reached the output.
    let truth = sim::Truth::new(&world, &tally);
    assert_eq!(truth.episodes.len(), 9);
    for e in &truth.episodes {
        assert_eq!(e.in_output.events, tally.episode_events(e.episode.id));
        assert!(e.in_output.events > 0, "{}", e.episode.scenario);
    }
    let json = serde_json::to_value(&truth)?;
    let first = json
        .get("episodes")
        .and_then(|e| e.get(0))
        .ok_or("no episodes in the truth JSON")?;
    assert_eq!(
        first.get("scenario").and_then(|s| s.as_str()),
        Some("forged_token")
    );
    assert!(first.get("start_ms").is_some() && first.get("in_output").is_some());
    Ok(())
}

#[test]
fn the_forged_token_attack_is_episode_one() -> TestResult {
    let config = Config {
        hours: Some(1),
        customers: 200_000,
        events_per_day: 50_000,
        ..Config::default()
    };
    let r = run(config)?;
    let (e, recs) = episode(&r, "forged_token")?;
    assert_eq!(e.id, 1);
    assert!(e.malicious);
    let times = r.world.attack_times().ok_or("no attack")?;
    assert_eq!((e.start_ms, e.end_ms), (times.start_ms, times.end_ms));
    let departed = r.world.departed_engineer().ok_or("no departed engineer")?;
    assert_eq!(e.actors, vec![departed.id]);
    assert!(recs.len() > 40_000);
    assert!(recs.iter().all(|r| r.label.is_attacker()));
    // Without the attack and scenarios there are no episodes at all.
    let clean = World::new(Config {
        attack: None,
        ..Config::default()
    })?;
    assert!(clean.episodes().is_empty());
    Ok(())
}

#[test]
fn the_admin_dump_reads_200k_customers_in_bulk_from_the_office() -> TestResult {
    let mut config = quiet(1, 0);
    config.scenarios = vec![Scenario::AdminBulkDump(AdminBulkDump {
        start: Start::AtMs(config.start_ms + HOUR),
        ..AdminBulkDump::default()
    })];
    let r = run(config)?;
    let (e, recs) = episode(&r, "admin_bulk_dump")?;
    let mut distinct = HashSet::new();
    let mut actors = HashSet::new();
    for rec in recs {
        let n = rec.input.subjects.len();
        assert!((1_000..=5_000).contains(&n), "{n} subjects");
        distinct.extend(rec.input.subjects.iter().cloned());
        actors.insert(rec.actor);
        assert_eq!(rec.input.source.country.as_deref(), Some("KR"));
        assert!(
            rec.input.source.ip.starts_with("10.10."),
            "{}",
            rec.input.source.ip
        );
        assert_eq!(rec.input.operation, "ExportCustomerRecords");
        assert!(rec.t >= e.start_ms && rec.t < e.start_ms + 2 * HOUR);
    }
    assert_eq!(distinct.len(), 200_000);
    assert_eq!(actors.len(), 1);
    let who = actors
        .iter()
        .find_map(|a| principal(&r.world, *a))
        .ok_or("not a principal")?;
    assert_eq!((who.kind, who.role), (ActorKind::Employee, "sre"));
    assert_eq!(e.actors, vec![who.id.clone()]);
    assert_eq!(local_hour(e.start_ms), 10);
    Ok(())
}

#[test]
fn low_and_slow_stays_under_500_a_day_then_the_insider_leaves() -> TestResult {
    let mut config = quiet(8, 40_000);
    config.scenarios = vec![Scenario::LowAndSlow(LowAndSlow {
        start: Start::Day(1),
        days: 5,
        ..LowAndSlow::default()
    })];
    let r = run(config)?;
    let (e, recs) = episode(&r, "low_and_slow")?;
    let who = r
        .world
        .principals()
        .iter()
        .find(|p| e.actors.first() == Some(&p.id))
        .ok_or("no insider")?;
    assert_eq!((who.department, who.role), ("customer-service", "agent"));
    assert_eq!(who.offboarded_ms, Some(e.end_ms));
    let mut per_day: BTreeMap<i64, HashSet<String>> = BTreeMap::new();
    let mut all = HashSet::new();
    for rec in recs {
        assert_eq!(rec.input.actor.id, who.id);
        assert_eq!(rec.input.service, "cs-tool");
        assert!((9..19).contains(&local_hour(rec.t)), "{}", rec.t);
        let day = (rec.t - e.start_ms).div_euclid(DAY);
        per_day
            .entry(day)
            .or_default()
            .extend(rec.input.subjects.iter().cloned());
        all.extend(rec.input.subjects.iter().cloned());
    }
    assert_eq!(per_day.len(), 5);
    for (day, set) in &per_day {
        assert!((150..=400).contains(&set.len()), "day {day}: {}", set.len());
    }
    // Distinct across the whole episode.
    assert_eq!(all.len(), per_day.values().map(HashSet::len).sum::<usize>());
    // Normal work goes on alongside, and stops at the departure.
    let (mut before, mut after) = (0, 0);
    for ev in sim::Generator::new(&r.world) {
        if ev.episode().is_none() && principal(&r.world, ev.actor()).is_some_and(|p| p.id == who.id)
        {
            if ev.time_ms() < e.end_ms {
                before += 1;
            } else {
                after += 1;
            }
        }
    }
    assert!(before > 0, "no normal work");
    assert_eq!(after, 0, "access after offboarding");
    Ok(())
}

#[test]
fn the_supplier_scrape_reads_thousands_a_day_from_abroad() -> TestResult {
    let mut config = quiet(3, 20_000);
    config.scenarios = vec![Scenario::SupplierScrape(SupplierScrape {
        start: Start::Day(0),
        days: 2,
        ..SupplierScrape::default()
    })];
    let r = run(config)?;
    let (e, recs) = episode(&r, "supplier_scrape")?;
    let mut per_day: BTreeMap<i64, HashSet<String>> = BTreeMap::new();
    for rec in recs {
        assert_eq!(rec.input.actor.kind, ActorKind::SupplierStaff);
        assert_eq!(rec.input.source.country.as_deref(), Some("PH"));
        assert_eq!(rec.input.service, "cs-tool");
        per_day
            .entry((rec.t - e.start_ms).div_euclid(DAY))
            .or_default()
            .extend(rec.input.subjects.iter().cloned());
    }
    assert_eq!(per_day.len(), 2);
    for set in per_day.values() {
        assert!((10_000..=20_000).contains(&set.len()), "{}", set.len());
    }
    Ok(())
}

#[test]
fn credential_stuffing_mostly_fails_from_many_addresses() -> TestResult {
    let mut config = quiet(1, 10_000);
    config.scenarios = vec![Scenario::CredentialStuffing(CredentialStuffing {
        start: Start::AtMs(config.start_ms),
        ..CredentialStuffing::default()
    })];
    let world = World::new(config)?;
    let mut generator = sim::Generator::new(&world).with_issuances();
    let mut issued = HashSet::new();
    let mut recs = Vec::new();
    while let Some(ev) = generator.next() {
        issued.extend(generator.take_issuances().into_iter().map(|i| i.jti));
        if ev.episode().is_some() {
            recs.push((ev.label(), ev.to_input()));
        }
    }
    let (mut fail, mut ok, mut reads) = (0u64, 0u64, 0u64);
    let mut ips = HashSet::new();
    let mut countries = HashSet::new();
    let mut targets = HashSet::new();
    let mut signed_in = HashSet::new();
    for (label, input) in &recs {
        assert_eq!(*label, Label::Malicious);
        assert_eq!(input.service, "customer-gateway");
        assert_eq!(input.actor.kind, ActorKind::Customer);
        ips.insert(input.source.ip.clone());
        countries.extend(input.source.country.clone());
        if input.operation == "SignIn" {
            assert!(input.credential.is_none());
            targets.insert(input.actor.id.clone());
            match input.decision {
                Decision::Deny => fail += 1,
                Decision::Allow => {
                    ok += 1;
                    signed_in.insert(input.actor.id.clone());
                }
            }
        } else {
            reads += 1;
            let cred = input.credential.as_ref().ok_or("a read without a token")?;
            assert!(world.jti_issued(&cred.jti, &cred.kid), "a forged token");
            assert!(
                issued.contains(&cred.jti),
                "token not in the issuance records"
            );
            assert!(signed_in.contains(&input.actor.id), "read before sign-in");
            assert_eq!(input.decision, Decision::Allow);
        }
    }
    assert_eq!(fail + ok, 60_000);
    let share = ok as f64 / 60_000.0;
    assert!((0.01..0.02).contains(&share), "success share {share}");
    assert_eq!(reads, 3 * ok);
    assert!(ips.len() > 2_000, "{} addresses", ips.len());
    assert_eq!(countries.len(), 5);
    assert!(targets.len() > 50_000, "{} customer ids", targets.len());
    Ok(())
}

/// Events per episode id (0 for none) and actor, counted by local day.
fn counts(world: &World) -> HashMap<(u16, String, i64), u64> {
    let mut m = HashMap::new();
    for ev in sim::Generator::new(world) {
        let who = match ev.actor() {
            ActorRef::Customer(_) => "customer".to_owned(),
            ActorRef::Principal(i) => world
                .principals()
                .get(i as usize)
                .map(|p| p.id.clone())
                .unwrap_or_default(),
        };
        let day = (ev.time_ms() - world.config().start_ms).div_euclid(DAY);
        *m.entry((ev.episode().unwrap_or(0), who, day)).or_default() += 1;
    }
    m
}

fn sum(m: &HashMap<(u16, String, i64), u64>, f: impl Fn(u16, &str, i64) -> bool) -> u64 {
    m.iter()
        .filter(|((e, w, d), _)| f(*e, w, *d))
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn benign_look_alikes_multiply_their_activity() -> TestResult {
    let mut config = quiet(3, 60_000);
    config.bulk.enabled = true;
    // Day 1 (from 00:00 local) of each; day 0 is the comparison.
    config.scenarios = vec![
        Scenario::HeavyCsAgents(HeavyCsAgents {
            start: Start::Day(1),
            days: 1,
            agents: 40,
            factor: 3.0,
        }),
        Scenario::FulfilmentBatch(Surge {
            start: Start::Day(1),
            days: 1,
            factor: 2.0,
        }),
        Scenario::MarketingCampaign(Surge {
            start: Start::Day(1),
            days: 1,
            factor: 2.5,
        }),
    ];
    let world = World::new(config)?;
    let m = counts(&world);
    let eps: Vec<&Episode> = world.episodes().iter().collect();
    let [heavy, wave, campaign] = eps.as_slice() else {
        return Err("three episodes".into());
    };
    // The heavy agents: extra tickets ≈ (3 − 1) × their usual ones.
    let agents: HashSet<&str> = heavy.actors.iter().map(String::as_str).collect();
    assert_eq!(agents.len(), 40);
    let extra = sum(&m, |e, _, _| e == heavy.id);
    let usual = sum(&m, |e, w, _| e == 0 && agents.contains(w));
    let ratio = extra as f64 / usual as f64;
    assert!(
        sum(&m, |e, w, _| e == heavy.id && !agents.contains(w)) == 0,
        "another agent in the backlog"
    );
    // `usual` covers three days, the extra one day: 2 / 3.
    assert!((0.45..0.9).contains(&ratio), "{extra} / {usual}");
    // The fulfilment wave: as many extra wave events as usual ones that day.
    let waves = |e: u16| sum(&m, |ee, w, _| ee == e && w == "svc-fulfilment-wave");
    let extra_waves = waves(wave.id);
    assert!(
        (100..=190).contains(&extra_waves),
        "{extra_waves} extra waves (144 a day usually)"
    );
    // The campaign export: 4 events a night usually, ≈ 6 more.
    let extra_campaign = sum(&m, |e, w, _| e == campaign.id && w == "svc-campaign-export");
    assert!((5..=7).contains(&extra_campaign), "{extra_campaign}");
    Ok(())
}

#[test]
fn the_holiday_peak_multiplies_the_whole_background() -> TestResult {
    let mut config = quiet(3, 40_000);
    config.scenarios = vec![Scenario::HolidayPeak(Surge {
        start: Start::Day(1),
        days: 1,
        factor: 2.5,
    })];
    let world = World::new(config)?;
    let e = world.episodes().first().ok_or("no episode")?.clone();
    let (mut inside, mut usual) = (0u64, 0u64);
    let mut peak_customers = 0u64;
    for ev in sim::Generator::new(&world) {
        // The same local hours one day earlier.
        if ev.time_ms() >= e.start_ms && ev.time_ms() < e.end_ms {
            inside += 1;
            if ev.episode() == Some(e.id) && ev.actor_kind() == ActorKind::Customer {
                peak_customers += 1;
            }
        } else if ev.time_ms() >= e.start_ms - DAY && ev.time_ms() < e.start_ms {
            usual += 1;
        }
    }
    let ratio = inside as f64 / usual as f64;
    assert!((2.2..2.8).contains(&ratio), "{inside} / {usual}");
    assert!(peak_customers > 20_000);
    Ok(())
}

#[test]
fn scenarios_from_text_and_their_errors() -> TestResult {
    let mut c = Config {
        days: 14,
        ..Config::default()
    };
    c.add_scenario("admin_bulk_dump@d3")?;
    c.add_scenario("holiday_peak")?;
    c.add_scenario("supplier_scrape@+5h")?;
    c.add_scenario("low_and_slow@2025-06-04T01:00:00Z")?;
    c.add_scenario("forged_token@d10")?;
    let starts: Vec<Start> = c.scenarios.iter().map(Scenario::start).collect();
    assert_eq!(
        starts,
        vec![
            Start::Day(3),
            Start::Auto,
            Start::AtMs(c.start_ms + 5 * HOUR),
            Start::AtMs(c.start_ms + 3 * DAY + HOUR),
        ]
    );
    assert_eq!(c.attack.as_ref().map(|a| a.start_offset_hours), Some(240));
    let w = World::new(c.clone())?;
    let e = w.episodes();
    // Auto: day 9 of a 14-day run, at local midnight for a benign one.
    let holiday = e.get(2).ok_or("holiday")?;
    assert_eq!(holiday.scenario, "holiday_peak");
    assert_eq!(local_hour(holiday.start_ms), 0);
    assert!(holiday.start_ms >= c.start_ms + 9 * DAY && holiday.start_ms < c.start_ms + 10 * DAY);
    let dump = e.get(1).ok_or("dump")?;
    assert_eq!(dump.start_ms, c.start_ms + 3 * DAY + HOUR); // 10:00 KST

    for (spec, field) in [
        ("no_such_thing", "scenario"),
        ("admin_bulk_dump@tomorrow", "scenario"),
    ] {
        let err = c.clone().add_scenario(spec).err().ok_or(spec)?;
        assert_eq!(err.field, field, "{err}");
    }
    let bad = |s: Scenario, field: &str| -> TestResult {
        let config = Config {
            days: 14,
            scenarios: vec![s],
            ..Config::default()
        };
        let err = World::new(config).err().ok_or(field.to_owned())?;
        assert_eq!(err.field, field, "{err}");
        Ok(())
    };
    bad(
        Scenario::AdminBulkDump(AdminBulkDump {
            start: Start::Day(14),
            ..AdminBulkDump::default()
        }),
        "scenarios.start",
    )?;
    bad(
        Scenario::CredentialStuffing(CredentialStuffing {
            countries: vec!["XX".into()],
            ..CredentialStuffing::default()
        }),
        "credential_stuffing.countries",
    )?;
    bad(
        Scenario::HeavyCsAgents(HeavyCsAgents {
            factor: 0.5,
            ..HeavyCsAgents::default()
        }),
        "heavy_cs_agents.factor",
    )?;
    bad(
        Scenario::LowAndSlow(LowAndSlow {
            min_per_day: 500,
            max_per_day: 100,
            ..LowAndSlow::default()
        }),
        "low_and_slow.per_day",
    )?;
    Ok(())
}

#[test]
fn the_eval_suite_is_valid_with_warm_up_before_each_attack() -> TestResult {
    let suite = sim::eval_suite(2025);
    let names: Vec<&str> = suite.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "benign",
            "admin_bulk_dump",
            "low_and_slow",
            "supplier_scrape",
            "forged_token",
            "credential_stuffing"
        ]
    );
    for case in suite {
        let c = &case.config;
        assert_eq!(
            (c.customers, c.employees, c.events_per_day),
            (1_000_000, 2_000, 150_000)
        );
        let w = World::new(case.config.clone())?;
        let end = c.start_ms + c.duration_ms();
        if case.name == "benign" {
            assert_eq!(c.days, 14);
            assert!(c.attack.is_none());
            assert_eq!(w.episodes().len(), 4);
            assert!(w.episodes().iter().all(|e| !e.malicious && e.end_ms <= end));
        } else {
            let [e] = w.episodes() else {
                return Err(format!("{}: one episode", case.name).into());
            };
            assert_eq!(e.scenario, case.name);
            assert!(e.malicious);
            assert!(e.start_ms >= c.start_ms + 9 * DAY, "{}: warm-up", case.name);
            assert!(e.end_ms <= end, "{}: ends after the run", case.name);
        }
    }
    Ok(())
}
