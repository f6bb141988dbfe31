//! `custos sim`: a synthetic company's access events as NDJSON in the
//! events input format (`docs/events.md`), deterministic from the seed, with
//! the 2025 forged-token attack as a scenario (`docs/sim.md`).

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::ui;

// After the options (the one-line `about` comes from `cli.rs`, and a
// subcommand variant's doc comment would override a `long_about` here).
const AFTER_HELP: &str = "\
Generates a synthetic company's access events, one JSON object per line in the
events input format (docs/events.md), in time order, byte-identical for the same
options and seed on every machine.

The company: customers (cust-00000000 …), employees in departments with roles,
suppliers and their staff (outsourced customer service abroad, delivery drivers,
warehouse, analytics, IT), services and batch jobs; daily and weekly rhythms in
Korean time; heavy readers (customer-service agents; a fulfilment batch reading
1,000-5,000 customers per event every 10 minutes).

The 2025 attack runs unless --no-attack: a departed engineer's stolen customer
token key mints one token per customer (the real kid and issuer, a jti that was
never issued) and reads profiles and delivery addresses through the customer
gateway from overseas addresses, after weeks of probing.

Further scenarios (--scenario NAME[@START], repeatable; --list-scenarios): attacks
admin_bulk_dump, low_and_slow, supplier_scrape, credential_stuffing (and
forged_token, the 2025 attack above, to move it), and benign look-alikes
heavy_cs_agents, fulfilment_batch, marketing_campaign, holiday_peak. START is dN
(day N of the run, from 0, at the scenario's local hour), +Nh (hours after the
start) or an RFC 3339 time; by default day 9 of a run of 12 days or more (the
middle day of a shorter one). Each occurrence is an episode in the --truth file
(id, scenario, malicious, actors, start, end, events in the output).

Scaling: Coupang had ~33.7M customers and ~3 billion web-log records a day. The
default company has 1M customers (--customers, up to 34M and beyond at no memory
cost) and 1M background access events a day (--events-per-day; ~1/3,000). The
attack is NOT scaled: ~229K distinct customers a day at ~12 requests a second
(~1.04M requests a day, plus ~300K refused tokens for customer ids that do not
exist), so a default day holds about 2.3M events (~1 GB). Use --hours for a short
window; the attack keeps its real rate inside it.

Examples:
  custos sim --hours 1 --out events.ndjson --truth truth.json
  custos sim --start 2025-11-07T00:00:00Z --days 1 --customers 34000000 --out day.ndjson
  custos sim --hours 6 --start \"$(date -u -d '-1 day' +%FT%TZ)\" | custos ingest -
  custos sim --no-attack --days 14 --events-per-day 150000 --scenario admin_bulk_dump@d9 \\
    --scenario holiday_peak@d5 --out events.ndjson --truth truth.json";

/// Arguments of `custos sim`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct SimArgs {
    /// Seed: the same seed and options always give the same bytes.
    #[arg(long, default_value_t = sim::Config::default().seed)]
    pub seed: u64,
    /// Where to write the events (NDJSON); `-` is standard output.
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub out: PathBuf,
    /// Customers (data subjects). Nothing is stored per customer.
    #[arg(long, default_value_t = sim::Config::default().customers)]
    pub customers: u64,
    /// Employees.
    #[arg(long, default_value_t = sim::Config::default().employees)]
    pub employees: u32,
    /// Suppliers.
    #[arg(long, default_value_t = sim::Config::default().suppliers)]
    pub suppliers: u32,
    /// Days to simulate.
    #[arg(long, default_value_t = sim::Config::default().days)]
    pub days: u32,
    /// Simulate only the first HOURS hours (instead of --days).
    #[arg(long, value_name = "HOURS", conflicts_with = "days")]
    pub hours: Option<u32>,
    /// Start of the simulated period, RFC 3339 [default: 2025-06-01T00:00:00Z].
    /// Ingest refuses events older than 7 days by default: for a live demo
    /// pass a recent time.
    #[arg(long, value_name = "RFC3339")]
    pub start: Option<String>,
    /// Background (legitimate) access events per day, averaged over a week.
    #[arg(long, value_name = "N", default_value_t = sim::Config::default().events_per_day)]
    pub events_per_day: u64,
    /// Simulate a clean company: no probing, no attack.
    #[arg(long)]
    pub no_attack: bool,
    /// Hours from the start at which the attack begins (may be negative: an
    /// attack already under way) [default: 0].
    #[arg(long, value_name = "HOURS", allow_negative_numbers = true)]
    pub attack_start_hours: Option<i64>,
    /// Days the attack lasts [default: 147].
    #[arg(long, value_name = "DAYS")]
    pub attack_days: Option<u32>,
    /// No scheduled bulk jobs (fulfilment waves, billing, campaign, backup test).
    #[arg(long)]
    pub no_bulk: bool,
    /// Add a scenario (repeatable): NAME[@START], START = dN (day N of the
    /// run), +Nh (hours after the start) or an RFC 3339 time. See
    /// --list-scenarios.
    #[arg(long = "scenario", value_name = "NAME[@START]")]
    pub scenarios: Vec<String>,
    /// List the scenarios (name, attack or benign, what happens) and exit.
    #[arg(long)]
    pub list_scenarios: bool,
    /// Write the ground-truth summary (JSON) here: windows, the attacker's kid
    /// and issuer, the departed engineer, attack events and distinct victims,
    /// counts by actor kind.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// Write every legitimately issued token (NDJSON: iat, exp, jti, kid, iss,
    /// sub) here: what a token authority records. Forged tokens are absent.
    #[arg(long, value_name = "FILE")]
    pub issued: Option<PathBuf>,
    /// Write the company's directory (JSON: principals with departments, roles,
    /// sites, suppliers, offboarding; suppliers; signing keys) here.
    #[arg(long, value_name = "FILE")]
    pub directory: Option<PathBuf>,
    /// No progress bar and no summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Turns the arguments into a configuration (no side effects).
fn config(args: &SimArgs) -> anyhow::Result<sim::Config> {
    let mut c = sim::Config {
        seed: args.seed,
        days: args.days,
        hours: args.hours,
        customers: args.customers,
        employees: args.employees,
        suppliers: args.suppliers,
        events_per_day: args.events_per_day,
        ..sim::Config::default()
    };
    if let Some(s) = &args.start {
        c.start_ms = sim::parse_rfc3339(s).with_context(|| {
            format!("--start {s:?}: not an RFC 3339 date-time (e.g. 2025-06-01T00:00:00Z)")
        })?;
    }
    c.bulk.enabled = !args.no_bulk;
    if args.no_attack {
        if args.attack_start_hours.is_some() || args.attack_days.is_some() {
            bail!("--attack-start-hours and --attack-days need the attack: drop --no-attack");
        }
        c.attack = None;
    } else if let Some(a) = c.attack.as_mut() {
        if let Some(h) = args.attack_start_hours {
            a.start_offset_hours = h;
        }
        if let Some(d) = args.attack_days {
            a.days = d;
        }
    }
    // After --days/--hours: starts are relative to the run.
    for spec in &args.scenarios {
        if spec.split('@').next() == Some("forged_token") {
            if args.no_attack {
                bail!("--scenario {spec}: the forged-token attack is off (--no-attack)");
            }
            if args.attack_start_hours.is_some() {
                bail!("--scenario {spec}: give the attack's start once (or --attack-start-hours)");
            }
        }
        c.add_scenario(spec)
            .map_err(|e| anyhow::anyhow!("--scenario: {}", e.reason))?;
    }
    c.validate().map_err(|e| {
        let flag = match e.field {
            "start" => "--start",
            "days" => "--days",
            "hours" => "--hours",
            "customers" => "--customers",
            "employees" => "--employees",
            "suppliers" => "--suppliers",
            "events_per_day" => "--events-per-day",
            "attack.start_offset_hours" => "--attack-start-hours",
            "attack.days" => "--attack-days",
            other
                if other.starts_with("scenario")
                    || sim::SCENARIOS
                        .iter()
                        .any(|(n, _, _)| other.split('.').next() == Some(*n)) =>
            {
                return anyhow::anyhow!("--scenario: {other}: {}", e.reason);
            }
            other => other,
        };
        anyhow::anyhow!("{flag}: {}", e.reason)
    })?;
    Ok(c)
}

fn create(path: &Path, what: &str) -> anyhow::Result<BufWriter<File>> {
    let f =
        File::create(path).with_context(|| format!("{what} {}: cannot create", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

#[derive(Serialize)]
struct Directory<'a> {
    principals: &'a [sim::Principal],
    suppliers: &'a [sim::Supplier],
    keys: &'a [sim::SigningKey],
}

fn write_json<T: Serialize>(path: &Path, what: &str, value: &T) -> anyhow::Result<()> {
    let mut f = create(path, what)?;
    serde_json::to_writer_pretty(&mut f, value)?;
    f.write_all(b"\n")?;
    f.flush()
        .with_context(|| format!("{what} {}: cannot write", path.display()))
}

fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

fn list_scenarios() {
    for (name, malicious, what) in sim::SCENARIOS {
        let kind = if malicious { "attack" } else { "benign" };
        println!("{name:<20} {kind:<7} {what}");
    }
}

pub fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    if args.list_scenarios {
        list_scenarios();
        return Ok(ExitCode::SUCCESS);
    }
    let config = config(&args)?;
    let world = sim::World::new(config)?;
    if let Some(path) = &args.directory {
        let dir = Directory {
            principals: world.principals(),
            suppliers: world.suppliers(),
            keys: world.keys(),
        };
        write_json(path, "--directory", &dir)?;
    }

    let to_stdout = args.out.as_os_str() == "-";
    let mut out: Box<dyn Write> = if to_stdout {
        Box::new(BufWriter::with_capacity(1 << 20, io::stdout().lock()))
    } else {
        Box::new(create(&args.out, "--out")?)
    };
    let mut issued = args
        .issued
        .as_deref()
        .map(|p| create(p, "--issued"))
        .transpose()?;

    // The bar goes to stderr; never draw it over events written to a terminal.
    let show_bar =
        !args.quiet && io::stderr().is_terminal() && !(to_stdout && io::stdout().is_terminal());
    let bar = if show_bar {
        let pb = ProgressBar::new(1);
        let style = ProgressStyle::with_template(
            "{spinner} simulating [{bar:40}] {percent:>3}% of simulated time, {msg} ({elapsed}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        pb.set_style(style);
        pb.enable_steady_tick(Duration::from_millis(200));
        Some(pb)
    } else {
        None
    };

    let started = Instant::now();
    let mut last_draw = Instant::now();
    let result = sim::write_ndjson(
        &world,
        &mut out,
        issued.as_mut().map(|w| w as &mut dyn Write),
        &mut |p| {
            if let Some(pb) = &bar
                && (last_draw.elapsed() >= Duration::from_millis(100)
                    || p.minutes_done == p.minutes_total)
            {
                last_draw = Instant::now();
                pb.set_length(p.minutes_total);
                pb.set_position(p.minutes_done);
                pb.set_message(format!("{} events", ui::rate(p.tally.events as f64)));
            }
        },
    )
    .and_then(|t| out.flush().map(|()| t));
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    let tally = match result {
        Ok(t) => t,
        // `custos sim | head`: the reader has what it wanted.
        Err(e) if to_stdout && is_broken_pipe(&e) => return Ok(ExitCode::SUCCESS),
        Err(e) => {
            let target = if to_stdout {
                "standard output".to_owned()
            } else {
                args.out.display().to_string()
            };
            return Err(e).with_context(|| format!("--out {target}: cannot write"));
        }
    };
    if let Some(w) = issued.as_mut() {
        w.flush().context("--issued: cannot write")?;
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let truth = sim::Truth::new(&world, &tally);
    if let Some(path) = &args.truth {
        write_json(path, "--truth", &truth)?;
    }

    if !args.quiet {
        eprintln!(
            "custos sim: {} events, {:.1} MB in {:.2} s ({} events/s, {:.0} MB/s); {} to {}, {} customers, seed {}",
            ui::rate(tally.events as f64),
            tally.bytes as f64 / 1e6,
            secs,
            ui::rate(tally.events as f64 / secs),
            tally.bytes as f64 / 1e6 / secs,
            truth.window.start,
            truth.window.end,
            ui::rate(truth.customers as f64),
            truth.seed,
        );
        match &truth.attack {
            Some(a) => {
                let o = &a.in_output;
                eprintln!(
                    "  attack (kid {}): {} requests for {} distinct customers ({:.1}/s), {} refused for unknown ids, {} probes",
                    a.kid,
                    ui::rate(o.attack_events as f64),
                    ui::rate(o.distinct_victims as f64),
                    o.attack_requests_per_second,
                    ui::rate(o.unknown_member_events as f64),
                    o.probe_events,
                );
                if o.attack_events == 0 && o.probe_events == 0 {
                    eprintln!(
                        "  (the attack window {} to {} is outside this run)",
                        a.attack_window.start, a.attack_window.end
                    );
                }
            }
            None => eprintln!("  no attack (--no-attack)"),
        }
        for e in &truth.episodes {
            let kind = if e.episode.malicious {
                "attack"
            } else {
                "benign"
            };
            eprintln!(
                "  episode {} {} ({kind}) {} to {}: {} events; {}",
                e.episode.id,
                e.episode.scenario,
                e.start,
                e.end,
                ui::rate(e.in_output.events as f64),
                e.episode.description,
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
