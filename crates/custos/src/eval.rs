//! `custos eval`: replays the simulator's scenarios through the detector
//! engine and reports, for every attack episode, the simulated time from its
//! start to the first alert, recall over attack episodes, and false alerts
//! per 10,000 principals per day on the benign company.
//!
//! Every event becomes the ledger entry the server would write (see
//! `simfeed`); the engine reads those bytes in order with nothing else than
//! what a deployment gives it (issuance records of the company's token
//! services, the directory's peer groups and offboardings, a detection
//! config). A finding is attributed to an episode when one of its evidence
//! entries belongs to the episode; every other finding is a false alert.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use serde::Serialize;

use crate::simfeed::{SimContext, for_each_entry};
use crate::ui;

/// `custos eval` options.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Seed of every case's company (the held-out runs use other seeds).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Run only the cases whose name contains this (repeatable).
    #[arg(long = "case")]
    pub cases: Vec<String>,
    /// Detection config (TOML, `detect::DetectConfig`); default: the
    /// simulated company's residency rules and default thresholds.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Sigma rules directory to run beside the built-in detectors.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Write the report (JSON) to this file too.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// List the cases and exit.
    #[arg(long)]
    pub list: bool,
}

/// One run of the suite.
pub struct Case {
    /// Short name.
    pub name: String,
    /// What it shows.
    pub about: String,
    /// The company and scenario.
    pub config: sim::Config,
}

/// The result of one episode.
#[derive(Clone, Debug, Serialize)]
pub struct EpisodeResult {
    /// Case name.
    pub case: String,
    /// Scenario kind.
    pub kind: String,
    /// Attack (true) or benign look-alike.
    pub malicious: bool,
    /// Episode start (ms since the epoch, simulated).
    pub start_ms: i64,
    /// Entries of the episode.
    pub entries: u64,
    /// Simulated seconds from start to the first alert, if any.
    pub detected_after_s: Option<f64>,
    /// The detector that fired first.
    pub first_detector: Option<String>,
    /// Alerts attributed to the episode.
    pub alerts: u64,
}

/// The result of one case.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    /// Case name.
    pub name: String,
    /// What it shows.
    pub about: String,
    /// Simulated days.
    pub days: f64,
    /// Ledger entries replayed.
    pub entries: u64,
    /// Directory principals (employees, supplier staff, services).
    pub principals: u64,
    /// Episodes.
    pub episodes: Vec<EpisodeResult>,
    /// Findings not attributable to any attack episode, after the learning
    /// period.
    pub false_alerts: u64,
    /// … of which on a benign look-alike episode.
    pub false_alerts_on_lookalikes: u64,
    /// Findings during the learning period not attributable to an attack.
    pub learning_alerts: u64,
    /// False alerts per 10,000 directory principals per day (after the
    /// learning period).
    pub false_per_10k_principals_day: f64,
    /// False alerts by detector.
    pub false_by_detector: BTreeMap<String, u64>,
    /// Example false alerts (titles).
    pub false_examples: Vec<String>,
    /// Entries replayed per second (simulate + encode + detect).
    pub entries_per_s: f64,
}

/// The report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Seed.
    pub seed: u64,
    /// Per case.
    pub cases: Vec<CaseResult>,
    /// Attack episodes detected / total.
    pub recall: f64,
    /// False alerts per 10,000 principals per day over the benign days of
    /// every case.
    pub false_per_10k_principals_day: f64,
}

/// The detection config the suite runs with: the simulated company's
/// residency (customer data in Korea, backups in Singapore, the suppliers'
/// countries for the data their contracts cover).
pub fn sim_company_config() -> detect::DetectConfig {
    let mut c = detect::DetectConfig::default();
    let rule = |allowed: &[&str]| detect::Residency {
        allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
        kinds: vec![
            events::ActorKind::Employee,
            events::ActorKind::SupplierStaff,
            events::ActorKind::Service,
        ],
    };
    for ds in ["customers", "orders", "deliveries"] {
        c.residency
            .insert(ds.to_owned(), rule(&["KR", "PH", "IN", "VN"]));
    }
    c.residency
        .insert("payments".to_owned(), rule(&["KR", "PH"]));
    c.residency
        .insert("customers-backup".to_owned(), rule(&["KR", "SG"]));
    c
}

/// The standard cases: the simulator's evaluation suite (`sim::eval_suite`,
/// `docs/sim.md`).
pub fn suite(seed: u64) -> Vec<Case> {
    sim::eval_suite(seed)
        .into_iter()
        .map(|c| Case {
            name: c.name.to_owned(),
            about: c.description.to_owned(),
            config: c.config,
        })
        .collect()
}

/// Runs `custos eval`.
pub fn run(args: &EvalArgs) -> anyhow::Result<std::process::ExitCode> {
    let cases: Vec<Case> = suite(args.seed)
        .into_iter()
        .filter(|c| args.cases.is_empty() || args.cases.iter().any(|n| c.name.contains(n)))
        .collect();
    if args.list {
        for c in &cases {
            println!("{:<24} {}", c.name, c.about);
        }
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let (config, settings_rules) = match &args.config {
        Some(p) => crate::hunt::load_config(Some(p))?,
        None => (sim_company_config(), None),
    };
    let rules_dir = args.rules.clone().or(settings_rules);
    let mut results = Vec::new();
    for case in cases {
        eprintln!("case {}: {}", case.name, case.about);
        let r = run_case(&case, &config, rules_dir.as_deref())?;
        print_case(&r);
        results.push(r);
    }
    let (total, detected) = results
        .iter()
        .flat_map(|c| c.episodes.iter())
        .filter(|e| e.malicious && e.entries > 0)
        .fold((0usize, 0usize), |(t, d), e| {
            (t + 1, d + usize::from(e.detected_after_s.is_some()))
        });
    let recall = if total == 0 {
        1.0
    } else {
        detected as f64 / total as f64
    };
    let (fa, pd) = results.iter().fold((0.0, 0.0), |(f, p), c| {
        (
            f + c.false_alerts as f64,
            p + c.principals as f64 * (c.days - learning_days(&config)).max(0.0),
        )
    });
    let report = Report {
        seed: args.seed,
        recall,
        false_per_10k_principals_day: if pd > 0.0 { fa * 10_000.0 / pd } else { 0.0 },
        cases: results,
    };
    println!(
        "recall {}/{} attack episodes ({:.1} %); {:.2} false alerts per 10,000 principals per day",
        detected,
        total,
        recall * 100.0,
        report.false_per_10k_principals_day
    );
    let json = serde_json::to_string_pretty(&report)?;
    if args.json {
        println!("{json}");
    }
    if let Some(p) = &args.out {
        std::fs::write(p, &json).with_context(|| format!("write {}", p.display()))?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn learning_days(c: &detect::DetectConfig) -> f64 {
    f64::from(c.thresholds.learning_days)
}

/// Which episode an event belongs to (0: none).
fn episode_of(ev: &sim::SimEvent<'_>) -> u16 {
    ev.episode().unwrap_or(0)
}

/// Runs one case.
pub fn run_case(
    case: &Case,
    config: &detect::DetectConfig,
    rules: Option<&std::path::Path>,
) -> anyhow::Result<CaseResult> {
    let world = Arc::new(
        sim::World::new(case.config.clone())
            .map_err(|e| anyhow::anyhow!("case {}: {e}", case.name))?,
    );
    let mut engine = detect::Engine::new(config.clone(), Box::new(SimContext::new(world.clone())));
    if let Some(dir) = rules {
        engine
            .set_rules(detect::sigma::RuleSet::load_dir(dir).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    let key = events::SubjectKey::from_bytes([0x5a; 32]);
    let mut labels: Vec<u16> = Vec::new();
    let mut findings: Vec<detect::Finding> = Vec::new();
    let mut first_ms: Option<i64> = None;
    let mut last_ms = 0i64;
    let mut episode_start: BTreeMap<u16, (i64, u64)> = BTreeMap::new();
    let minutes = u64::from(case.config.hours.unwrap_or(case.config.days * 24)) * 60;
    let pb = ui::bar(minutes, "sim minutes");
    let started = Instant::now();
    let entries = for_each_entry(&world, &key, &mut |index, entry, ev| {
        let ep = episode_of(ev);
        labels.push(ep);
        let t = ev.time_ms();
        first_ms.get_or_insert(t);
        last_ms = t;
        if ep != 0 {
            let e = episode_start.entry(ep).or_insert((t, 0));
            e.1 += 1;
        }
        if index % 4096 == 0 {
            pb.set_position(((t - first_ms.unwrap_or(t)) / 60_000) as u64);
        }
        findings.extend(engine.process(index, entry));
        Ok(true)
    })?;
    findings.extend(engine.tick(last_ms + 86_400_000));
    pb.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let start = first_ms.unwrap_or(0);
    let learning_end = start + (learning_days(config) * 86_400_000.0) as i64;

    let mut episodes: BTreeMap<u16, EpisodeResult> = BTreeMap::new();
    for ep in world.episodes() {
        let entries = episode_start.get(&ep.id).map_or(0, |e| e.1);
        episodes.insert(
            ep.id,
            EpisodeResult {
                case: case.name.clone(),
                kind: ep.scenario.to_owned(),
                malicious: ep.malicious,
                start_ms: ep.start_ms,
                entries,
                detected_after_s: None,
                first_detector: None,
                alerts: 0,
            },
        );
    }
    let mut false_alerts = 0;
    let mut learning_alerts = 0;
    let mut false_on_lookalikes = 0;
    let mut false_by_detector: BTreeMap<String, u64> = BTreeMap::new();
    let mut false_examples = Vec::new();
    for f in &findings {
        // The episode of one of its evidence entries; else, for a finding
        // about a principal, the attack that principal carried out (an
        // alert on the attacker's account after its last attack entry).
        let ep = f
            .evidence
            .indices
            .iter()
            .filter_map(|&i| labels.get(i as usize).copied())
            .find(|&l| l != 0)
            .or_else(|| {
                (f.entity.kind == detect::EntityKind::Principal)
                    .then(|| {
                        world.episodes().iter().find(|e| {
                            e.malicious
                                && f.time_ms >= e.start_ms
                                && e.actors.contains(&f.entity.id)
                        })
                    })
                    .flatten()
                    .map(|e| e.id)
            });
        match ep.and_then(|e| episodes.get_mut(&e)) {
            Some(e) if e.malicious => {
                e.alerts += 1;
                let after = (f.time_ms - e.start_ms) as f64 / 1000.0;
                if e.detected_after_s.is_none_or(|d| after < d) {
                    e.detected_after_s = Some(after.max(0.0));
                    e.first_detector = Some(f.detector.clone());
                }
            }
            _ if f.time_ms < learning_end => learning_alerts += 1,
            other => {
                if let Some(e) = other {
                    // A benign look-alike: a false alert all the same.
                    e.alerts += 1;
                    if e.detected_after_s.is_none() {
                        e.detected_after_s =
                            Some(((f.time_ms - e.start_ms) as f64 / 1000.0).max(0.0));
                        e.first_detector = Some(f.detector.clone());
                    }
                    false_on_lookalikes += 1;
                }
                false_alerts += 1;
                *false_by_detector.entry(f.detector.clone()).or_insert(0) += 1;
                if false_examples.len() < 10 {
                    false_examples.push(format!("{} [{}]", f.title, f.detector));
                }
            }
        }
    }
    let days = (last_ms - start) as f64 / 86_400_000.0;
    let principals = world.principals().len() as u64;
    let benign_days = (days - learning_days(config)).max(0.0);
    Ok(CaseResult {
        name: case.name.clone(),
        about: case.about.clone(),
        days,
        entries,
        principals,
        episodes: episodes.into_values().collect(),
        false_alerts,
        false_alerts_on_lookalikes: false_on_lookalikes,
        learning_alerts,
        false_per_10k_principals_day: if benign_days > 0.0 {
            false_alerts as f64 * 10_000.0 / (principals as f64 * benign_days)
        } else {
            0.0
        },
        false_by_detector,
        false_examples,
        entries_per_s: entries as f64 / secs,
    })
}

fn print_case(r: &CaseResult) {
    println!(
        "{}: {:.1} simulated days, {} entries ({} entries/s), {} principals",
        r.name,
        r.days,
        ui::rate(r.entries as f64),
        ui::rate(r.entries_per_s),
        r.principals
    );
    for e in &r.episodes {
        match e.detected_after_s {
            Some(s) if e.malicious => println!(
                "  {:<22} attack  — caught {} after its start by {} ({} alerts)",
                e.kind,
                human(s),
                e.first_detector.as_deref().unwrap_or("?"),
                e.alerts
            ),
            Some(s) => println!(
                "  {:<22} benign  — {} false alert(s), first {} after its start by {}",
                e.kind,
                e.alerts,
                human(s),
                e.first_detector.as_deref().unwrap_or("?")
            ),
            None => println!(
                "  {:<22} {} — {}",
                e.kind,
                if e.malicious { "attack " } else { "benign " },
                if e.malicious { "MISSED" } else { "no alert" }
            ),
        }
    }
    println!(
        "  false alerts: {} after learning ({:.2} per 10,000 principals per day), {} while learning; {:?}",
        r.false_alerts, r.false_per_10k_principals_day, r.learning_alerts, r.false_by_detector
    );
    for t in &r.false_examples {
        println!("    e.g. {t}");
    }
}

/// Seconds as `42 s`, `12.5 min` or `8.0 h`.
pub fn human(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7_200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3_600.0)
    }
}
