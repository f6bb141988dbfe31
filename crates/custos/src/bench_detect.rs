//! `custos bench detect`: detector throughput replaying a real ledger, as a
//! ratio to plain replay (read the tiles and parse every entry) in the same
//! run; memory per tracked entity; and the memory and error of one entity's
//! distinct-subject structure at 34M subjects over 180 days.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use serde::Serialize;

use crate::simfeed::{SimContext, for_each_entry};
use crate::ui;

/// `custos bench detect` options.
#[derive(clap::Args, Debug)]
pub struct DetectBenchArgs {
    /// Simulated days in the replayed ledger (the forged-token attack runs
    /// on the last one).
    #[arg(long, default_value_t = 2)]
    pub days: u32,
    /// Background events per simulated day.
    #[arg(long, default_value_t = 500_000)]
    pub events_per_day: u64,
    /// Customers.
    #[arg(long, default_value_t = 1_000_000)]
    pub customers: u64,
    /// Sigma rules directory for the "with rules" run [default: rules/custos if present].
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Subjects inserted into one entity's structure for the memory figure.
    #[arg(long, default_value_t = 34_000_000)]
    pub memory_subjects: u64,
    /// Scratch directory for the ledger (removed afterwards).
    #[arg(long, value_name = "DIR", default_value = "/tmp/custos-bench-detect")]
    pub dir: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Run {
    what: String,
    entries_per_s: f64,
    ratio_to_replay: f64,
    findings: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    entries: u64,
    simulated_days: u32,
    replay_read_only_per_s: f64,
    replay_read_parse_per_s: f64,
    runs: Vec<Run>,
    entities: std::collections::BTreeMap<String, u64>,
    entity_bytes: std::collections::BTreeMap<String, u64>,
    bytes_per_entity: f64,
    sketch_subjects: u64,
    sketch_bytes: u64,
    sketch_error_180d: f64,
    sketch_error_24h: f64,
    exact_bytes_at_promotion: u64,
}

/// Runs the benchmark.
pub fn run(args: &DetectBenchArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.dir;
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    let config = sim::Config {
        days: args.days,
        events_per_day: args.events_per_day,
        customers: args.customers,
        attack: Some(sim::Attack {
            start_offset_hours: i64::from(args.days.saturating_sub(1)) * 24,
            days: 1,
            ..sim::Attack::default()
        }),
        ..sim::Config::default()
    };
    let world = Arc::new(sim::World::new(config).map_err(|e| anyhow::anyhow!("{e}"))?);
    eprintln!(
        "writing the ledger to replay ({} simulated days)…",
        args.days
    );
    let entries = write_ledger(&world, dir)?;
    let size = entries;

    // Baselines: read the tiles only; read and parse every entry.
    let t = Instant::now();
    let mut bytes = 0u64;
    detect::for_each_entry(dir, 0, size, size, &mut |_, e| {
        bytes += e.len() as u64;
        true
    })?;
    let read_only = size as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut ok = 0u64;
    detect::for_each_entry(dir, 0, size, size, &mut |i, e| {
        ok += u64::from(detect::decode(i, e).is_ok());
        true
    })?;
    let replay = size as f64 / t.elapsed().as_secs_f64();
    anyhow::ensure!(ok == size, "{} entries did not decode", size - ok);

    let rules_dir = args
        .rules
        .clone()
        .or_else(|| Some(PathBuf::from("rules/custos")).filter(|p| p.is_dir()));
    let mut runs = Vec::new();
    let mut last_engine = None;
    let variants: Vec<(&str, bool, bool)> = vec![
        ("built-in detectors", true, false),
        ("built-in detectors + Sigma pack", true, true),
        ("Sigma pack alone", false, true),
    ];
    for (what, builtin, rules) in variants {
        if rules && rules_dir.is_none() {
            continue;
        }
        let mut engine = detect::Engine::new(
            crate::eval::sim_company_config(),
            Box::new(SimContext::new(world.clone())),
        );
        engine.set_builtin(builtin);
        if rules && let Some(d) = &rules_dir {
            engine.set_rules(
                detect::sigma::RuleSet::load_dir(d).map_err(|e| anyhow::anyhow!("{e}"))?,
            );
        }
        let mut findings = 0u64;
        let t = Instant::now();
        detect::for_each_entry(dir, 0, size, size, &mut |i, e| {
            findings += engine.process(i, e).len() as u64;
            true
        })?;
        let per_s = size as f64 / t.elapsed().as_secs_f64();
        runs.push(Run {
            what: what.to_owned(),
            entries_per_s: per_s,
            ratio_to_replay: per_s / replay,
            findings,
        });
        if builtin && !rules {
            last_engine = Some(engine);
        }
    }
    type Counts = std::collections::BTreeMap<String, u64>;
    let (entities, entity_bytes): (Counts, Counts) = match &last_engine {
        Some(e) => (
            e.entity_counts()
                .into_iter()
                .map(|(k, v)| (k.as_str().to_owned(), v))
                .collect(),
            e.memory_bytes()
                .into_iter()
                .map(|(k, v)| (k.as_str().to_owned(), v))
                .collect(),
        ),
        None => Default::default(),
    };
    let n_entities: u64 = entities.values().sum();
    let total_bytes: u64 = entity_bytes.values().sum();

    // One entity reading `memory_subjects` distinct subjects spread evenly
    // over 180 days: the sketch's size and its error against the truth.
    eprintln!(
        "inserting {} subjects over 180 days into one entity's structure…",
        ui::rate(args.memory_subjects as f64)
    );
    let (sketch_bytes, err_180, err_24h) = sketch_figures(args.memory_subjects);
    let mut exact = detect::distinct::SlidingDistinct::new();
    for s in 0..detect::distinct::PROMOTE_AT as u64 {
        exact.insert(mix(s), 0);
    }
    let report = Report {
        entries: size,
        simulated_days: args.days,
        replay_read_only_per_s: read_only,
        replay_read_parse_per_s: replay,
        runs,
        entities,
        entity_bytes,
        bytes_per_entity: if n_entities > 0 {
            total_bytes as f64 / n_entities as f64
        } else {
            0.0
        },
        sketch_subjects: args.memory_subjects,
        sketch_bytes,
        sketch_error_180d: err_180,
        sketch_error_24h: err_24h,
        exact_bytes_at_promotion: exact.memory_bytes() as u64,
    };
    std::fs::remove_dir_all(dir).ok();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "replayed {} ledger entries ({} simulated days, {:.0} MB of entries)",
        ui::rate(size as f64),
        args.days,
        bytes as f64 / 1e6
    );
    println!(
        "  baseline: read tiles only {} entries/s; read + parse every entry {} entries/s",
        ui::rate(read_only),
        ui::rate(replay)
    );
    for r in &report.runs {
        println!(
            "  {:<34} {:>12} entries/s = {:.2} × plain replay; {} findings",
            r.what,
            ui::rate(r.entries_per_s),
            r.ratio_to_replay,
            r.findings
        );
    }
    println!(
        "  entities tracked: {:?}; {:.1} KiB per entity on average ({:.1} MiB in all)",
        report.entities,
        report.bytes_per_entity / 1024.0,
        total_bytes as f64 / (1 << 20) as f64
    );
    println!(
        "  one entity, {} subjects over 180 days: sliding HyperLogLog {:.0} KiB; error {:+.2} % (180 d), {:+.2} % (24 h); \
         exact below {} subjects ({:.0} KiB at the promotion point)",
        ui::rate(args.memory_subjects as f64),
        sketch_bytes as f64 / 1024.0,
        err_180 * 100.0,
        err_24h * 100.0,
        detect::distinct::PROMOTE_AT,
        report.exact_bytes_at_promotion as f64 / 1024.0
    );
    Ok(ExitCode::SUCCESS)
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `(bytes, relative error over 180 days, over the last 24 h)`.
fn sketch_figures(n: u64) -> (u64, f64, f64) {
    let minutes = 180 * 1_440u64;
    let mut d = detect::distinct::SlidingDistinct::new();
    for s in 0..n {
        d.insert(mix(s), (s * minutes / n.max(1)) as u32);
    }
    let now = (minutes - 1) as u32;
    let day_truth = n.div_ceil(180) as f64;
    let all = d.count(now, minutes as u32) as f64;
    let day = d.count(now, 1_440) as f64;
    (
        d.memory_bytes() as u64,
        all / n as f64 - 1.0,
        day / day_truth - 1.0,
    )
}

/// Writes the world's entries to a fresh ledger in `dir`; returns how many.
fn write_ledger(world: &sim::World, dir: &Path) -> anyhow::Result<u64> {
    ledger::init(dir, "bench.custos.example/detect")?;
    let ledger = ledger::Ledger::open(dir, ledger::LedgerOptions::default())?;
    let key = events::SubjectKey::from_bytes([0x5a; 32]);
    let minutes = u64::from(world_days(world)) * 1_440;
    let pb = ui::bar(minutes, "sim minutes");
    let mut batch = ledger::EntryBatch::new();
    let mut first: Option<i64> = None;
    let mut pending = Vec::new();
    let n = for_each_entry(world, &key, &mut |i, entry, ev| {
        batch.push(entry)?;
        let t0 = *first.get_or_insert(ev.time_ms());
        if i % 4096 == 0 {
            pb.set_position(((ev.time_ms() - t0) / 60_000) as u64);
        }
        if batch.len() >= 20_000 {
            pending.push(ledger.submit_blocking(std::mem::take(&mut batch))?);
            if pending.len() > 4 {
                pending.remove(0).wait()?;
            }
        }
        Ok(true)
    })?;
    if !batch.is_empty() {
        pending.push(ledger.submit_blocking(batch)?);
    }
    for p in pending {
        p.wait()?;
    }
    ledger.close()?;
    pb.finish_and_clear();
    Ok(n)
}

fn world_days(world: &sim::World) -> u32 {
    world.config().days
}
