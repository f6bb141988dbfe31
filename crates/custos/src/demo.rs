//! `custos demo`: a simulated day of the company, with the 2025 forged-token
//! attack, ingested through a real `custos serve` over HTTP; then what the
//! ledger holds, an auditor's verification of the log fetched from `/log/`
//! with only the public key, a proof of one forged-token access, and
//! tampered copies of the log caught one by one.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use ledger::{KnownCheckpoint, LogReader};

use crate::cli::DemoArgs;
use crate::ingest_cmd::{Client, SendOptions, send_ndjson};
use crate::local_server::ServerProcess;
use crate::ui;

const ORIGIN: &str = "demo.custos.example/access";

pub fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let (dir, temporary) = match &args.data {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("custos-demo-{}", std::process::id())),
            true,
        ),
    };
    let result = demo(&dir, args);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

const STEPS: u32 = 11;

thread_local! {
    static STEP_START: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// Prints how long the previous step took, then the next step's title.
fn step(n: u32, text: &str) {
    finish_step();
    STEP_START.with(|c| c.set(Some(Instant::now())));
    println!("\n[{n}/{STEPS}] {text}");
}

fn finish_step() {
    if let Some(t) = STEP_START.with(|c| c.take()) {
        println!("      ({:.1} s)", t.elapsed().as_secs_f64());
    }
}

fn demo(dir: &Path, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    println!("Custos demo — every access on the record, through the real server path");
    println!("In 2025 a departed engineer's kept signing key minted customer tokens from abroad;");
    println!("months of access logs were later deleted after a preservation order and the first");
    println!("disclosure understated the breach 7,000-fold. Here every access is an OCSF event,");
    println!("durable in a C2SP Merkle log that anyone holding the public key can check.");

    step(
        1,
        &format!(
            "Creating a ledger in {}, an ingest credential, and starting `custos serve`",
            dir.display()
        ),
    );
    let server = ServerProcess::start(dir, ORIGIN, &[])?;
    let vkey = ledger::verifier_key(dir)?;
    println!(
        "      origin {ORIGIN}; signing key and subject-pseudonym key under {}/keys/ (0600)",
        dir.display()
    );
    println!("      verifier key: {vkey}");
    println!(
        "      server {} — POST /v1/events needs the ingest credential; /log/ is public",
        server.url
    );

    // A day ending now, so the server's default 7-day age limit applies.
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let hours = args.hours;
    let start_ms = (now_ms - i64::from(hours) * 3_600_000) / 60_000 * 60_000;
    // Three more attacks inside the window, for the detectors to catch:
    // a supplier's agent scraping, an engineer's bulk dump, a botnet's
    // credential stuffing (docs/sim.md).
    let at =
        |share: f64| sim::Start::AtMs(start_ms + (f64::from(hours) * 3_600_000.0 * share) as i64);
    let scenarios = [
        ("supplier_scrape", 0.10),
        ("admin_bulk_dump", 0.30),
        ("credential_stuffing", 0.45),
    ]
    .into_iter()
    .filter_map(|(name, share)| sim::Scenario::named(name).map(|s| s.starting(at(share))))
    .collect();
    let config = sim::Config {
        seed: args.seed,
        start_ms,
        hours: Some(hours),
        customers: args.customers,
        events_per_day: args.events_per_day,
        scenarios,
        ..sim::Config::default()
    };
    let world = sim::World::new(config).map_err(|e| anyhow::anyhow!("simulator: {e}"))?;
    step(
        2,
        &format!(
            "Simulating {hours} h of the company ({} customers, {} background accesses/day, seed {}) \
             with the forged-token attack at its real rate, ingested over HTTP in 1,000-event batches",
            ui::rate(args.customers as f64),
            ui::rate(args.events_per_day as f64),
            args.seed
        ),
    );
    let client = Client::new(&server.url, &server.token)?;
    let (reader, writer) = std::io::pipe().context("pipe")?;
    let started = Instant::now();
    let pb = ui::bar(u64::from(hours) * 60, "sim minutes");
    let midway: Mutex<Option<Vec<u8>>> = Mutex::new(None);
    let log_dir = dir.join("log");
    let (summary, produced) = std::thread::scope(|s| {
        let producer = s.spawn(|| produce(&world, writer, &pb, &log_dir, &midway));
        let summary = send_ndjson(
            &client,
            Box::new(reader),
            &SendOptions {
                batch_events: 1000,
                // Each request waits until its batch is durable: keep
                // enough in flight for the server to group-commit well.
                concurrency: 16,
                max_retries: 50,
            },
            &|_, _| {},
        );
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the simulator thread failed")));
        (summary, produced)
    });
    pb.finish_and_clear();
    let summary = summary?;
    let (tally, issued) = produced?;
    if !summary.ok() {
        for r in summary.rejected.iter().take(5) {
            eprintln!("line {}: {}: {}", r.line, r.path, r.reason);
        }
        bail!(
            "ingest failed: {}",
            summary
                .failure
                .clone()
                .unwrap_or_else(|| summary.describe())
        );
    }
    let secs = started.elapsed().as_secs_f64();
    let truth = sim::Truth::new(&world, &tally);
    println!(
        "      {} events acknowledged as durable → {} ledger entries ({}) in {:.1} s ({} events/s end to end)",
        ui::rate(summary.accepted as f64),
        ui::rate(summary.entries as f64),
        summary
            .index_range
            .map_or_else(String::new, |(a, b)| format!("indices {a}..={b}")),
        secs,
        ui::rate(summary.accepted as f64 / secs)
    );
    println!(
        "      {} requests, request p99 {:.0} ms; retried after 429 ×{}, 503 ×{}",
        summary.batches,
        {
            let mut l: Vec<f64> = summary
                .latencies
                .iter()
                .map(|d| d.as_secs_f64() * 1000.0)
                .collect();
            l.sort_by(f64::total_cmp);
            crate::bench::percentile(&l, 0.99)
        },
        summary.throttled,
        summary.unavailable
    );
    let kinds: Vec<String> = truth
        .by_kind
        .iter()
        .map(|(k, n)| format!("{k} {}", ui::rate(*n as f64)))
        .collect();
    println!("      by actor: {}", kinds.join(", "));
    if let Some(a) = &truth.attack {
        println!(
            "      hidden among them (simulator's ground truth): {} forged-token reads of {} distinct customers \
             at {:.1} req/s from {}, plus {} tokens for non-existent members",
            ui::rate(a.in_output.attack_events as f64),
            ui::rate(a.in_output.distinct_victims as f64),
            a.in_output.attack_requests_per_second,
            a.countries.join("/"),
            ui::rate(a.in_output.unknown_member_events as f64)
        );
    }

    step(3, "What the ledger now holds (read back from the log)");
    let final_cp = {
        let note = std::fs::read(dir.join("log").join("checkpoint"))?;
        tlog::open_checkpoint(&note, ORIGIN, &vkey)?
    };
    let scan = scan_ledger(dir, final_cp.size(), &issued)?;
    println!(
        "      {} entries, each an OCSF 1.3.0 API Activity (class 6003) event; {} refused requests",
        ui::rate(scan.entries as f64),
        ui::rate(scan.denied as f64)
    );
    println!(
        "      {} distinct data subjects, all as keyed-HMAC pseudonyms: raw customer ids in the log: {}",
        ui::rate(scan.subjects as f64),
        scan.raw_ids
    );
    println!(
        "      {} accesses carried a token whose jti appears in no issuance record — signed with the",
        ui::rate(scan.never_issued as f64)
    );
    println!(
        "      real customer key ({}), each looking like one normal customer. First served at index {}.",
        scan.never_issued_kids.join(", "),
        scan.first_never_issued
            .map_or_else(|| "-".to_owned(), |i| i.to_string())
    );

    step(
        4,
        "The same attack against Custos' token authority, through the running server",
    );
    let before_tokens = final_cp.size();
    crate::demo_tokens::show(&server, dir, &world, 10_000)?;
    let final_cp = {
        let note = std::fs::read(dir.join("log").join("checkpoint"))?;
        tlog::open_checkpoint(&note, ORIGIN, &vkey)?
    };
    let control = scan_control(dir, before_tokens, final_cp.size())?;
    println!(
        "      the ledger recorded {} control-plane entries in this step: {}",
        control.values().sum::<u64>(),
        control
            .iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    step(
        5,
        "Alerts raised live by the server's detectors, and when each attack was caught",
    );
    crate::demo_alerts::show(&server, dir, &world, final_cp.size())?;

    step(
        6,
        "Incident: the attack's exact scope, the disclosure deadlines it triggers, a legal hold",
    );
    let opened = crate::demo_cases::open(
        &server,
        dir,
        &world,
        world.customer_key().kid,
        &scan.attack_nets,
        truth.attack.as_ref().map(|a| a.in_output.distinct_victims),
    )?;
    let final_cp = {
        let note = std::fs::read(dir.join("log").join("checkpoint"))?;
        tlog::open_checkpoint(&note, ORIGIN, &vkey)?
    };

    step(
        7,
        "Governance: the outsourced customer-service supplier assessed from live evidence; residency",
    );
    crate::demo_govern::show(&server, dir, &world)?;

    step(
        8,
        "An auditor fetches the log over HTTP from /log/ and verifies it with only the public key",
    );
    // The auditor's copy lives in memory when the machine has a tmpfs (it
    // stands for another machine's disk; creating tens of thousands of tile
    // files on this one would only measure this disk).
    let shm = Path::new("/dev/shm");
    let mirror = if shm.is_dir() {
        shm.join(format!("custos-demo-auditor-{}", std::process::id()))
    } else {
        dir.join("auditor-copy")
    };
    let t = Instant::now();
    let files = crate::mirror::fetch_log(&server.url, &mirror)?;
    let fetched = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let report = ledger::verify_log(&mirror, &vkey, &[], |_, _| {})
        .map_err(|e| anyhow::anyhow!("the served log failed verification: {e}"))?;
    println!(
        "      fetched {files} files in {:.1} s; OK: {} entries and {} tiles recomputed and matched in {:.0} ms",
        fetched,
        report.entries,
        report.tiles,
        t.elapsed().as_secs_f64() * 1000.0
    );
    println!("      (from a shell: custos ledger verify --data DIR --vkey '{vkey}')");
    std::fs::remove_dir_all(&mirror).ok();
    server.stop()?;
    println!("      server stopped gracefully (SIGTERM): nothing acknowledged is lost");

    step(9, "Proving one forged-token access is in the log");
    let index = scan.first_never_issued.unwrap_or(0);
    let mut reader = LogReader::open(dir)?;
    let entry = reader.entry(index, final_cp.size())?;
    let hashes = reader.inclusion_proof(index, final_cp.size())?;
    let proof = tlog::TlogProof {
        extra: None,
        index,
        hashes,
        checkpoint: final_cp.note_bytes().to_vec(),
    };
    let bytes = proof.to_bytes();
    let parsed = tlog::TlogProof::parse(&bytes)?;
    parsed.verify(&tlog::leaf_hash(&entry), ORIGIN, &vkey)?;
    println!("      entry {index}: {}", String::from_utf8_lossy(&entry));
    println!(
        "      c2sp.org/tlog-proof@v1 bundle: {} bytes, {} hashes; verified offline against the checkpoint ✓",
        bytes.len(),
        parsed.hashes.len()
    );

    step(
        10,
        "Tampering with copies of the log; verification must catch each",
    );
    let midway = midway
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .and_then(|note| tlog::open_checkpoint(&note, ORIGIN, &vkey).ok())
        .filter(|m| m.size() < final_cp.size())
        .context("no earlier checkpoint was captured during ingest")?;
    let log = dir.join("log");
    let cases = tamper_cases(&final_cp, &midway);
    let mut caught = 0;
    for (i, case) in cases.iter().enumerate() {
        let copy = dir.join(format!("tampered-{i}"));
        copy_dir(&log, &copy)?;
        let known = (case.apply)(&copy)?;
        let outcome = ledger::verify_log(&copy, &vkey, &known, |_, _| {});
        match outcome {
            Err(e) => {
                caught += 1;
                println!("      {:<46} CAUGHT  {}: {}", case.name, e.place, e.reason);
            }
            Ok(_) => println!("      {:<46} MISSED", case.name),
        }
        std::fs::remove_dir_all(&copy).with_context(|| format!("remove {}", copy.display()))?;
    }
    println!(
        "\n{caught}/{} tamperings caught. The genuine log verifies; every altered copy fails, and",
        cases.len()
    );
    println!("the failure names the first bad file or entry.");

    step(
        11,
        "The incident's signed evidence bundle, verified offline with only the public key",
    );
    crate::demo_cases::finish(dir, &opened, &vkey)?;
    finish_step();
    if caught != cases.len() {
        bail!(
            "verification missed {} tampering case(s)",
            cases.len() - caught
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the simulator into `out` (NDJSON), keeping the set of token ids
/// really issued, and saves the published checkpoint once half of the
/// simulated time has been produced (an auditor's earlier view, used by the
/// rollback case).
fn produce(
    world: &sim::World,
    out: std::io::PipeWriter,
    pb: &indicatif::ProgressBar,
    log_dir: &Path,
    midway: &Mutex<Option<Vec<u8>>>,
) -> anyhow::Result<(sim::Tally, HashSet<String>)> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    let mut generator = sim::Generator::new(world).with_issuances();
    let mut tally = sim::Tally::default();
    let mut issued = HashSet::new();
    let mut line = Vec::with_capacity(1024);
    let mut minute = 0;
    while let Some(ev) = generator.next() {
        line.clear();
        ev.write_json(&mut line).map_err(std::io::Error::other)?;
        line.push(b'\n');
        out.write_all(&line)?;
        tally.record(&ev, line.len() as u64);
        let (done, total) = generator.progress();
        if done != minute {
            minute = done;
            pb.set_position(done);
            issued.extend(generator.take_issuances().into_iter().map(|i| i.jti));
            if done * 2 >= total {
                let mut m = midway.lock().unwrap_or_else(|p| p.into_inner());
                if m.is_none() {
                    *m = std::fs::read(log_dir.join("checkpoint")).ok();
                }
            }
        }
    }
    issued.extend(generator.take_issuances().into_iter().map(|i| i.jti));
    out.flush()?;
    Ok((tally, issued))
}

#[derive(Default)]
struct Scan {
    entries: u64,
    denied: u64,
    subjects: u64,
    raw_ids: u64,
    never_issued: u64,
    never_issued_kids: Vec<String>,
    first_never_issued: Option<u64>,
    /// Source networks (/24, /48) of the never-issued tokens that were served.
    attack_nets: std::collections::BTreeSet<String>,
}

/// The few fields of a ledger entry the demo reads back (borrowed; every
/// other OCSF attribute is skipped by serde).
#[derive(serde::Deserialize)]
struct EntryView<'a> {
    status_id: Option<u8>,
    #[serde(borrow)]
    src_endpoint: Option<SrcView<'a>>,
    #[serde(borrow)]
    actor: Option<ActorView<'a>>,
    #[serde(borrow)]
    unmapped: Option<UnmappedView<'a>>,
}

#[derive(serde::Deserialize)]
struct SrcView<'a> {
    ip: Option<&'a str>,
}

#[derive(serde::Deserialize)]
struct ActorView<'a> {
    #[serde(borrow)]
    session: Option<SessionView<'a>>,
}

#[derive(serde::Deserialize)]
struct SessionView<'a> {
    #[serde(borrow)]
    credential_uid: Option<&'a str>,
}

#[derive(serde::Deserialize)]
struct UnmappedView<'a> {
    #[serde(borrow)]
    custos: Option<CustosView<'a>>,
}

#[derive(serde::Deserialize)]
struct CustosView<'a> {
    #[serde(borrow, default)]
    subjects: Vec<&'a str>,
    kid: Option<&'a str>,
}

/// Reads every entry back from the log, bundle by bundle: counts, distinct
/// pseudonyms, raw customer ids (there must be none), and tokens absent
/// from the issuance records.
fn scan_ledger(dir: &Path, size: u64, issued: &HashSet<String>) -> anyhow::Result<Scan> {
    let mut reader = LogReader::open(dir)?;
    let mut scan = Scan::default();
    let mut subjects: HashSet<[u8; 22]> = HashSet::new();
    let mut kids = std::collections::BTreeSet::new();
    let bundles = tlog::TileId::count_at_size(tlog::TileKind::Entries, size);
    let pb = ui::bar(size, "reading");
    let mut index = 0u64;
    for b in 0..bundles {
        let bundle = reader.tile(tlog::TileKind::Entries, b, size)?;
        for entry in tlog::decode_bundle(&bundle) {
            let entry = entry.with_context(|| format!("bundle {b} is malformed"))?;
            let v: EntryView<'_> = serde_json::from_slice(entry)
                .with_context(|| format!("ledger entry {index} is not an access entry"))?;
            scan.entries += 1;
            let failed = v.status_id == Some(2);
            if failed {
                scan.denied += 1;
            }
            let custos = v.unmapped.and_then(|u| u.custos);
            if let Some(c) = &custos {
                for p in &c.subjects {
                    let mut key = [0u8; 22];
                    for (k, b) in key.iter_mut().zip(p.bytes()) {
                        *k = b;
                    }
                    subjects.insert(key);
                    if p.starts_with("cust-") {
                        scan.raw_ids += 1;
                    }
                }
            }
            if let Some(jti) = v
                .actor
                .and_then(|a| a.session)
                .and_then(|s| s.credential_uid)
                && !issued.contains(jti)
            {
                scan.never_issued += 1;
                if !failed {
                    // The first forged token that was served data.
                    scan.first_never_issued.get_or_insert(index);
                    if let Some(net) = v
                        .src_endpoint
                        .as_ref()
                        .and_then(|s| s.ip)
                        .and_then(detect::network_of)
                    {
                        scan.attack_nets.insert(net);
                    }
                }
                if let Some(kid) = custos.as_ref().and_then(|c| c.kid) {
                    kids.insert(kid.to_owned());
                }
            }
            index += 1;
        }
        pb.set_position(index);
    }
    pb.finish_and_clear();
    if index != size {
        bail!("the log holds {index} entries, its checkpoint says {size}");
    }
    scan.subjects = subjects.len() as u64;
    scan.never_issued_kids = kids.into_iter().collect();
    Ok(scan)
}

type Apply = Box<dyn Fn(&Path) -> anyhow::Result<Vec<KnownCheckpoint>>>;

struct Case {
    name: &'static str,
    apply: Apply,
}

fn tamper_cases(latest: &tlog::VerifiedCheckpoint, midway: &tlog::VerifiedCheckpoint) -> Vec<Case> {
    let bundle = "tile/entries/001";
    let latest_note = latest.note_bytes().to_vec();
    let midway_note = midway.note_bytes().to_vec();
    let midway_size = midway.size();
    vec![
        Case {
            name: "flip one byte in an entry bundle",
            apply: Box::new(move |d| {
                edit(&d.join(bundle), |b| {
                    if let Some(x) = b.get_mut(100) {
                        *x ^= 0x01;
                    }
                })?;
                Ok(vec![])
            }),
        },
        Case {
            name: "delete a tile",
            apply: Box::new(|d| {
                std::fs::remove_file(d.join("tile/0/002"))?;
                Ok(vec![])
            }),
        },
        Case {
            name: "truncate an entry bundle",
            apply: Box::new(move |d| {
                edit(&d.join(bundle), |b| b.truncate(b.len().saturating_sub(17)))?;
                Ok(vec![])
            }),
        },
        Case {
            name: "reorder two entries",
            apply: Box::new(move |d| {
                edit(&d.join(bundle), |b| {
                    let entries: Vec<Vec<u8>> = tlog::decode_bundle(b)
                        .filter_map(Result::ok)
                        .map(<[u8]>::to_vec)
                        .collect();
                    let mut out = Vec::with_capacity(b.len());
                    for (i, _) in entries.iter().enumerate() {
                        let j = match i {
                            3 => 4,
                            4 => 3,
                            k => k,
                        };
                        if let Some(e) = entries.get(j) {
                            let _ = tlog::append_entry(&mut out, e);
                        }
                    }
                    *b = out;
                })?;
                Ok(vec![])
            }),
        },
        Case {
            name: "edit the checkpoint (shrink the tree size)",
            apply: Box::new(|d| {
                edit(&d.join("checkpoint"), |b| {
                    let text = String::from_utf8_lossy(b).into_owned();
                    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
                    if let Some(size) = lines.get_mut(1) {
                        let n: u64 = size.parse().unwrap_or(1);
                        *size = n.saturating_sub(1000).to_string();
                    }
                    *b = lines.join("\n").into_bytes();
                })?;
                Ok(vec![])
            }),
        },
        Case {
            name: "checkpoint re-signed by another key",
            apply: Box::new(|d| {
                let path = d.join("checkpoint");
                let note = tlog::Note::parse(&std::fs::read(&path)?)?;
                let mut cp = tlog::Checkpoint::parse_text(&note.text)?;
                cp.size -= 1000; // drop the last thousand accesses
                let forger = tlog::Signer::generate(ORIGIN)?;
                std::fs::write(&path, cp.sign(&[&forger])?)?;
                Ok(vec![])
            }),
        },
        Case {
            name: "roll back to an older checkpoint (newer known)",
            apply: Box::new(move |d| {
                // The insider restores the genuine, older checkpoint and
                // removes the tiles after it: everything checks out except
                // that an auditor has already seen the newer checkpoint.
                std::fs::write(d.join("checkpoint"), &midway_note)?;
                let _ = midway_size;
                Ok(vec![KnownCheckpoint {
                    source: "seen by the auditor earlier".into(),
                    note: latest_note.clone(),
                }])
            }),
        },
    ]
}

fn edit(path: &Path, f: impl FnOnce(&mut Vec<u8>)) -> anyhow::Result<()> {
    let mut b = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    f(&mut b);
    // The copy's tiles are hard links to the genuine log's: unlink before
    // writing, so only the copy changes.
    std::fs::remove_file(path).with_context(|| format!("unlink {}", path.display()))?;
    std::fs::write(path, b).with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

/// A copy of a log to tamper with: tiles are hard-linked (tens of thousands
/// of files; copying them would dominate the demo), the checkpoint copied.
/// Tampering unlinks a tile before rewriting it (see `edit`), so the genuine
/// log is never touched.
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest: PathBuf = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &dest)?;
        } else if e.file_name() == "checkpoint" {
            std::fs::copy(e.path(), &dest)?;
        } else {
            std::fs::hard_link(e.path(), &dest)
                .or_else(|_| std::fs::copy(e.path(), &dest).map(|_| ()))?;
        }
    }
    Ok(())
}

/// Counts the control-plane entries in `[from, to)` by operation (token
/// refusals by reason), and fails if one holds a raw customer id.
fn scan_control(
    dir: &Path,
    from: u64,
    to: u64,
) -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
    let mut reader = LogReader::open(dir)?;
    let mut by = std::collections::BTreeMap::new();
    for i in from..to {
        let entry = reader.entry(i, to)?;
        // A raw customer id is `cust-` and 8 digits (the key id
        // `cust-2019-03` is not one).
        if entry.windows(13).any(|w| {
            w.starts_with(b"cust-") && w.get(5..).is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        }) {
            bail!("ledger entry {i} holds a raw customer id");
        }
        let v: serde_json::Value = serde_json::from_slice(&entry)
            .with_context(|| format!("ledger entry {i} is not JSON"))?;
        let op = v
            .pointer("/api/operation")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("other");
        let key = match v
            .pointer("/unmapped/custos/refusal")
            .and_then(serde_json::Value::as_str)
        {
            Some(code) => format!("{op} refused {code}"),
            None => op.to_owned(),
        };
        *by.entry(key).or_insert(0) += 1;
    }
    Ok(by)
}
