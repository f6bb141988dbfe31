//! `custos bench ingest`: the ingest server over loopback HTTP, measured
//! against the ledger's raw append rate in the same run.
//!
//! The server runs as a child process (`custos serve`), exactly as deployed,
//! so its peak memory (`VmHWM`) is its own and not the load generator's. The
//! same simulated events feed every phase:
//!
//! 1. baseline: the events' ledger entries appended straight to a ledger
//!    (no HTTP, no parsing) — the ceiling the server can approach;
//! 2. throughput: pre-built 1,000-event NDJSON batches posted by a few
//!    keep-alive connections as fast as the server acknowledges them;
//! 3. latency: an open-loop schedule at a fixed offered rate (requests are
//!    sent on time whether or not earlier ones were answered, so queueing
//!    shows up in the figures), acknowledgement latency measured from each
//!    request's scheduled time;
//! 4. overload: three times the measured throughput offered for a while,
//!    with no client retries: the server must shed load with 429/503 and
//!    bounded memory; afterwards every acknowledged batch must be in the
//!    log, byte for byte, and the log must verify.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use ledger::{EntryBatch, Ledger, LedgerOptions, LogReader};
use serde::Serialize;

use crate::ingest_cmd::{Client, Outcome, RetryStats};
use crate::local_server::ServerProcess;
use crate::ui;

/// Arguments of `custos bench ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestBenchArgs {
    /// Events for the baseline and throughput phases.
    #[arg(long, default_value_t = 500_000)]
    pub events: usize,
    /// Events per request in the throughput and overload phases.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Concurrent connections in the throughput phase (each waits for its
    /// batch to be durable, so throughput needs many).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Offered rate (events/s) of the latency phase.
    #[arg(long, default_value_t = 10_000)]
    pub latency_rate: u64,
    /// Events per request in the latency phase.
    #[arg(long, default_value_t = 100)]
    pub latency_batch: usize,
    /// Seconds of the latency phase.
    #[arg(long, default_value_t = 10)]
    pub latency_seconds: u64,
    /// Seconds of the overload phase (0 skips it).
    #[arg(long, default_value_t = 20)]
    pub overload_seconds: u64,
    /// Overload factor: offered rate = factor × measured throughput.
    #[arg(long, default_value_t = 3.0)]
    pub overload_factor: f64,
    /// Seed of the simulated company.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Scratch directory (on the disk to measure); removed afterwards.
    #[arg(long, value_name = "DIR", default_value = "/tmp/custos-bench-ingest")]
    pub dir: PathBuf,
    /// Print results as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Default, Serialize)]
struct Report {
    events: usize,
    batch: usize,
    mean_event_bytes: f64,
    entries_per_event: f64,
    baseline_append_events_per_s: f64,
    baseline_append_entries_per_s: f64,
    ingest_events_per_s: f64,
    ingest_ratio_to_baseline: f64,
    ingest_p50_ms: f64,
    ingest_p99_ms: f64,
    latency_offered_per_s: u64,
    latency_batch: usize,
    latency_achieved_per_s: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
    overload: Option<Overload>,
}

#[derive(Debug, Default, Serialize)]
struct Overload {
    seconds: f64,
    offered_events_per_s: f64,
    accepted_events_per_s: f64,
    requests: u64,
    ok_200: u64,
    throttled_429: u64,
    unavailable_503: u64,
    other: u64,
    server_rss_start_mib: f64,
    server_rss_peak_mib: f64,
    acked_batches_checked: u64,
    log_size: u64,
    log_verified: bool,
}

pub fn run(args: IngestBenchArgs) -> anyhow::Result<ExitCode> {
    if args.batch == 0 || args.latency_batch == 0 || args.events < args.batch {
        bail!("--batch and --latency-batch must be ≥ 1 and --events ≥ --batch");
    }
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)
            .with_context(|| format!("cannot clear {}", args.dir.display()))?;
    }
    std::fs::create_dir_all(&args.dir)?;
    let result = bench(&args);
    let _ = std::fs::remove_dir_all(&args.dir);
    let report = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn bench(args: &IngestBenchArgs) -> anyhow::Result<Report> {
    let mut r = Report {
        events: args.events,
        batch: args.batch,
        latency_offered_per_s: args.latency_rate,
        latency_batch: args.latency_batch,
        ..Report::default()
    };
    eprintln!("generating {} simulated events…", args.events);
    let lines = workload(args.events, args.seed)?;
    r.mean_event_bytes =
        lines.iter().map(|l| l.len() as f64).sum::<f64>() / lines.len().max(1) as f64;

    // 1. Baseline: the same events' entries appended directly.
    eprintln!("baseline: raw ledger append of the same events…");
    let base_dir = args.dir.join("baseline");
    ledger::init(&base_dir, "bench.custos.example/baseline")?;
    let key = events::SubjectKey::from_bytes([9; 32]);
    let encoded = encode_all(&lines, &key)?;
    let entry_count: usize = encoded.iter().map(Vec::len).sum();
    r.entries_per_event = entry_count as f64 / lines.len() as f64;
    let secs = append_baseline(&base_dir, &encoded, args.batch)?;
    r.baseline_append_events_per_s = lines.len() as f64 / secs;
    r.baseline_append_entries_per_s = entry_count as f64 / secs;
    drop(encoded);
    let _ = std::fs::remove_dir_all(&base_dir);

    // 2. Throughput through the server.
    let bodies = batch_bodies(&lines, args.batch);
    drop(lines);
    let data = args.dir.join("server");
    let server = ServerProcess::start(&data, "bench.custos.example/ingest", &[])?;
    let client = Client::new(&server.url, &server.token)?;
    eprintln!(
        "throughput: {} batches of {} over {} connections…",
        bodies.len(),
        args.batch,
        args.concurrency
    );
    let (secs, mut lat) = throughput(&client, &bodies, args.concurrency)?;
    r.ingest_events_per_s = (bodies.len() * args.batch) as f64 / secs;
    r.ingest_ratio_to_baseline = r.ingest_events_per_s / r.baseline_append_events_per_s;
    lat.sort_by(f64::total_cmp);
    r.ingest_p50_ms = crate::bench::percentile(&lat, 0.5);
    r.ingest_p99_ms = crate::bench::percentile(&lat, 0.99);

    // 3. Latency at a fixed offered rate.
    eprintln!(
        "latency: {} events/s offered in requests of {} for {} s…",
        args.latency_rate, args.latency_batch, args.latency_seconds
    );
    let small = rebatch(&bodies, args.latency_batch);
    let lat = open_loop(
        &client,
        &small,
        args.latency_rate as f64 / args.latency_batch as f64,
        Duration::from_secs(args.latency_seconds),
        16,
        None,
    )?;
    let mut ms: Vec<f64> = lat.latencies.clone();
    ms.sort_by(f64::total_cmp);
    r.latency_achieved_per_s = lat.ok as f64 * args.latency_batch as f64 / lat.seconds;
    r.latency_p50_ms = crate::bench::percentile(&ms, 0.5);
    r.latency_p99_ms = crate::bench::percentile(&ms, 0.99);
    r.latency_max_ms = ms.last().copied().unwrap_or(0.0);
    if lat.ok != lat.requests {
        eprintln!(
            "note: {} of {} latency requests were not acknowledged (429/503/errors)",
            lat.requests - lat.ok,
            lat.requests
        );
    }

    // 4. Overload.
    if args.overload_seconds > 0 {
        let offered = r.ingest_events_per_s * args.overload_factor;
        eprintln!(
            "overload: {} events/s offered ({}× throughput) for {} s, no retries…",
            ui::rate(offered),
            args.overload_factor,
            args.overload_seconds
        );
        let rss_start = server.rss_mib().map(|r| r.0).unwrap_or(0.0);
        let acked = Mutex::new(Vec::new());
        let res = open_loop(
            &client,
            &bodies,
            offered / args.batch as f64,
            Duration::from_secs(args.overload_seconds),
            // Enough senders that the schedule, not the answers, sets the
            // pace: a real crowd of clients does not wait for each other.
            512,
            Some(&acked),
        )?;
        let (_, hwm) = server.rss_mib().unwrap_or((0.0, 0.0));
        server.stop()?;
        let acked = acked.into_inner().unwrap_or_else(|p| p.into_inner());
        let (checked, size, verified) = check_acked(&data, &bodies, &acked)?;
        r.overload = Some(Overload {
            seconds: res.seconds,
            offered_events_per_s: offered,
            accepted_events_per_s: res.ok as f64 * args.batch as f64 / res.seconds,
            requests: res.requests,
            ok_200: res.ok,
            throttled_429: res.throttled,
            unavailable_503: res.unavailable,
            other: res.other,
            server_rss_start_mib: rss_start,
            server_rss_peak_mib: hwm,
            acked_batches_checked: checked,
            log_size: size,
            log_verified: verified,
        });
    } else {
        server.stop()?;
    }
    Ok(r)
}

/// NDJSON lines of simulated company activity (times shifted to the last
/// hours, so the server's default age limit accepts them).
fn workload(n: usize, seed: u64) -> anyhow::Result<Vec<Vec<u8>>> {
    let now_ms = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    // A day ending now: more than enough events for any n we take.
    let world = sim::World::new(sim::Config {
        seed,
        start_ms: (now_ms - 24 * 3_600_000) / 60_000 * 60_000,
        ..sim::Config::default()
    })
    .map_err(|e| anyhow::anyhow!("simulator: {e}"))?;
    let mut out = Vec::with_capacity(n);
    for ev in sim::Generator::new(&world).take(n) {
        let mut line = Vec::with_capacity(512);
        ev.write_json(&mut line)?;
        out.push(line);
    }
    if out.len() < n {
        bail!("the simulator produced only {} events", out.len());
    }
    Ok(out)
}

fn encode_all(lines: &[Vec<u8>], key: &events::SubjectKey) -> anyhow::Result<Vec<Vec<Vec<u8>>>> {
    let limits = events::Limits {
        max_age: Duration::from_secs(u32::MAX as u64),
        ..events::Limits::default()
    };
    let now = SystemTime::now();
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let e = events::parse_event(l, now, &limits)
                .map_err(|errs| anyhow::anyhow!("simulated event {i} invalid: {errs:?}"))?;
            Ok(events::ledger_entries(&e, key)?)
        })
        .collect()
}

fn append_baseline(dir: &Path, encoded: &[Vec<Vec<u8>>], batch: usize) -> anyhow::Result<f64> {
    let ledger = Ledger::open(dir, LedgerOptions::default())?;
    let start = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    for chunk in encoded.chunks(batch) {
        let mut b = EntryBatch::with_capacity(chunk.len(), chunk.len() * 1024);
        for e in chunk.iter().flatten() {
            b.push(e)?;
        }
        pending.push_back(ledger.submit_blocking(b)?);
        // As many batches in flight as the server's default budget lets
        // clients have (200,000 events), up to the ledger's largest group
        // commit: the same conditions the server gets.
        while pending.len() > 64 {
            if let Some(p) = pending.pop_front() {
                p.wait()?;
            }
        }
    }
    for p in pending {
        p.wait()?;
    }
    let secs = start.elapsed().as_secs_f64();
    ledger.close()?;
    Ok(secs)
}

fn batch_bodies(lines: &[Vec<u8>], batch: usize) -> Vec<Vec<u8>> {
    lines
        .chunks(batch)
        .filter(|c| c.len() == batch)
        .map(|c| {
            let mut body = Vec::with_capacity(c.iter().map(|l| l.len() + 1).sum());
            for l in c {
                body.extend_from_slice(l);
                body.push(b'\n');
            }
            body
        })
        .collect()
}

fn rebatch(bodies: &[Vec<u8>], batch: usize) -> Vec<Vec<u8>> {
    let lines: Vec<Vec<u8>> = bodies
        .iter()
        .flat_map(|b| b.split(|c| *c == b'\n').filter(|l| !l.is_empty()))
        .map(<[u8]>::to_vec)
        .collect();
    batch_bodies(&lines, batch)
}

/// Posts every body once, `concurrency` at a time, retrying 429/503.
/// Returns the seconds taken and each request's latency in ms.
fn throughput(
    client: &Client,
    bodies: &[Vec<u8>],
    concurrency: usize,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(None);
    let lat = Mutex::new(Vec::with_capacity(bodies.len()));
    let stats = RetryStats::default();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency.max(1) {
            s.spawn(|| {
                while let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let t = Instant::now();
                    match client.post_with_retry(body, 100, &stats) {
                        Ok(Outcome::Accepted(_)) => {
                            if let Ok(mut l) = lat.lock() {
                                l.push(t.elapsed().as_secs_f64() * 1000.0);
                            }
                        }
                        other => {
                            if let Ok(mut f) = failed.lock() {
                                f.get_or_insert(format!("{other:?}"));
                            }
                            break;
                        }
                    }
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    if let Some(f) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        bail!("a throughput request failed: {f}");
    }
    Ok((secs, lat.into_inner().unwrap_or_else(|p| p.into_inner())))
}

/// An acknowledged request: (body index, first ledger index, entry count).
type Acked = (usize, u64, u64);

#[derive(Debug, Default)]
struct OpenLoop {
    seconds: f64,
    requests: u64,
    ok: u64,
    throttled: u64,
    unavailable: u64,
    other: u64,
    latencies: Vec<f64>,
}

/// Sends request k at `start + k / rate` (open loop), cycling through
/// `bodies`, for `duration`, with `threads` senders. Records the latency of
/// each 200 from its scheduled time, and with `acked` which body landed at
/// which ledger index.
fn open_loop(
    client: &Client,
    bodies: &[Vec<u8>],
    rate: f64,
    duration: Duration,
    threads: usize,
    acked: Option<&Mutex<Vec<Acked>>>,
) -> anyhow::Result<OpenLoop> {
    if bodies.is_empty() || rate <= 0.0 {
        bail!("nothing to send");
    }
    let total = (duration.as_secs_f64() * rate).ceil() as u64;
    let next = AtomicU64::new(0);
    let counts = [
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
    ];
    let lat = Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= total {
                        break;
                    }
                    let due = start + Duration::from_secs_f64(k as f64 / rate);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let i = (k as usize) % bodies.len();
                    let Some(body) = bodies.get(i) else { break };
                    let slot = match client.post(body) {
                        Ok(Outcome::Accepted(ack)) => {
                            let ms = due.elapsed().as_secs_f64() * 1000.0;
                            if let Ok(mut l) = lat.lock() {
                                l.push(ms);
                            }
                            if let Some(Ok(mut a)) = acked.map(Mutex::lock) {
                                a.push((i, ack.first_index, ack.entry_count));
                            }
                            0
                        }
                        Ok(Outcome::Retry { status: 429, .. }) => 1,
                        Ok(Outcome::Retry { .. }) => 2,
                        _ => 3,
                    };
                    if let Some(c) = counts.get(slot) {
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let [ok, throttled, unavailable, other] = counts.map(|c| c.into_inner());
    Ok(OpenLoop {
        seconds: start.elapsed().as_secs_f64(),
        requests: total,
        ok,
        throttled,
        unavailable,
        other,
        latencies: lat.into_inner().unwrap_or_else(|p| p.into_inner()),
    })
}

/// After the overload: every acknowledged batch is in the log, byte for byte
/// (its first event re-encoded with the server's subject key must equal the
/// entry at the acknowledged index, and its entry count must match), and
/// the whole log verifies. Returns (batches checked, log size, verified).
fn check_acked(
    data: &Path,
    bodies: &[Vec<u8>],
    acked: &[Acked],
) -> anyhow::Result<(u64, u64, bool)> {
    eprintln!(
        "checking {} acknowledged batches and verifying the log…",
        acked.len()
    );
    let key = events::SubjectKey::load(&events::subject_key_path(data))?;
    let vkey_text = std::fs::read_to_string(data.join("keys").join("log.vkey"))?;
    let vkey = tlog::Verifier::parse(vkey_text.trim())?;
    let report = ledger::verify_log(&data.join("log"), &vkey, &[], |_, _| {})
        .map_err(|e| anyhow::anyhow!("the log failed verification after overload: {e}"))?;
    let mut reader = LogReader::open(data)?;
    let limits = events::Limits {
        max_age: Duration::from_secs(u32::MAX as u64),
        ..events::Limits::default()
    };
    let mut ranges: Vec<(u64, u64)> = acked.iter().map(|a| (a.1, a.2)).collect();
    ranges.sort_unstable();
    for w in ranges.windows(2) {
        if let [a, b] = w
            && a.0 + a.1 > b.0
        {
            bail!("two acknowledged batches overlap at ledger index {}", b.0);
        }
    }
    for &(i, first, count) in acked {
        if first + count > report.checkpoint.size() {
            bail!(
                "acknowledged entries {first}..{} are beyond the log's size {}",
                first + count,
                report.checkpoint.size()
            );
        }
        let body = bodies.get(i).context("body index")?;
        let parsed = events::parse_batch(body, SystemTime::now(), &limits)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let mut want = Vec::new();
        for e in &parsed {
            want.extend(events::ledger_entries(e, &key)?);
        }
        if want.len() as u64 != count {
            bail!(
                "batch at {first}: {count} entries acknowledged, {} expected",
                want.len()
            );
        }
        for (j, w) in want.iter().enumerate() {
            let got = reader.entry(first + j as u64, report.checkpoint.size())?;
            if &got != w {
                bail!(
                    "ledger entry {} differs from what was acknowledged",
                    first + j as u64
                );
            }
        }
    }
    Ok((acked.len() as u64, report.checkpoint.size(), true))
}

fn print_report(r: &Report) {
    println!(
        "events: {} ({:.0} B mean NDJSON, {:.3} ledger entries each), batches of {}",
        r.events, r.mean_event_bytes, r.entries_per_event, r.batch
    );
    println!(
        "baseline  raw ledger append of the same events: {} events/s ({} entries/s)",
        ui::rate(r.baseline_append_events_per_s),
        ui::rate(r.baseline_append_entries_per_s)
    );
    println!(
        "ingest    over loopback HTTP: {} events/s = {:.2} × baseline; request p50 {:.1} ms, p99 {:.1} ms",
        ui::rate(r.ingest_events_per_s),
        r.ingest_ratio_to_baseline,
        r.ingest_p50_ms,
        r.ingest_p99_ms
    );
    println!(
        "latency   {} events/s offered in requests of {}: achieved {}/s, ack p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ui::rate(r.latency_offered_per_s as f64),
        r.latency_batch,
        ui::rate(r.latency_achieved_per_s),
        r.latency_p50_ms,
        r.latency_p99_ms,
        r.latency_max_ms
    );
    if let Some(o) = &r.overload {
        println!(
            "overload  {} events/s offered for {:.0} s: {} requests → 200 ×{}, 429 ×{}, 503 ×{}, other ×{}; accepted {} events/s",
            ui::rate(o.offered_events_per_s),
            o.seconds,
            o.requests,
            o.ok_200,
            o.throttled_429,
            o.unavailable_503,
            o.other,
            ui::rate(o.accepted_events_per_s)
        );
        println!(
            "          server RSS {:.0} MiB at start, peak {:.0} MiB; afterwards {} acknowledged batches found byte for byte in a log of {} entries that {}",
            o.server_rss_start_mib,
            o.server_rss_peak_mib,
            o.acked_batches_checked,
            o.log_size,
            if o.log_verified {
                "verifies"
            } else {
                "FAILED to verify"
            }
        );
    }
}
