//! `custos bench ledger`: every figure is reported with a baseline measured
//! in the same run (raw SHA-256 tree hashing of the same entries), because
//! these machines are shared and noisy.

use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ledger::{EntryBatch, Ledger, LedgerOptions, LogReader};
use serde::Serialize;

use crate::cli::BenchCmd;
use crate::ui;

#[derive(Debug, Serialize)]
struct LatencyRun {
    offered_per_s: u64,
    entries_per_request: u64,
    achieved_per_s: f64,
    entries: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    entries: u64,
    entry_size: usize,
    sha256_leaf_node_per_s: f64,
    append_per_s: f64,
    append_ratio_to_sha256: f64,
    append_seconds: f64,
    log_bytes: u64,
    verify_per_s: f64,
    verify_seconds: f64,
    verify_ratio_to_sha256: f64,
    disk_write_mib_per_s: f64,
    tile_files_entries_per_s: f64,
    append_ratio_to_tile_files: f64,
    append_ratio_to_disk: f64,
    fsync_p50_ms: f64,
    fsync_p99_ms: f64,
    inclusion_proof_hashes: usize,
    inclusion_bundle_bytes: usize,
    inclusion_proof_us: f64,
    inclusion_verify_us: f64,
    consistency_proof_hashes: usize,
    consistency_proof_us: f64,
    consistency_verify_us: f64,
    latency: Vec<LatencyRun>,
}

pub fn run(cmd: BenchCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCmd::Ingest(args) => crate::bench_ingest::run(args),
        BenchCmd::Detect(args) => crate::bench_detect::run(&args),
        BenchCmd::Scope(args) => crate::bench_scope::run(&args),
        BenchCmd::Evidence(args) => crate::bench_evidence::run(&args),
        BenchCmd::Token(args) => crate::bench_token::run(args),
        BenchCmd::Events { events, json } => {
            crate::bench_events::run(events, json)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCmd::Ledger {
            entries,
            entry_size,
            rates,
            seconds,
            request_entries,
            dir,
            json,
        } => {
            let r = ledger_bench(
                entries,
                entry_size,
                &rates,
                seconds,
                request_entries.max(1),
                &dir,
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_report(&r);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Deterministic synthetic entry `i` of `size` bytes: a fixed JSON-like
/// template with the sequence number written in (cheap, so the producer is
/// not the bottleneck).
fn fill_entry(buf: &mut Vec<u8>, i: u64, size: usize) {
    if buf.len() != size {
        buf.clear();
        let head = b"{\"seq\":\"00000000000000000000\",\"actor\":\"emp-00042\",\"dataset\":\"customers\",\"pad\":\"";
        buf.extend_from_slice(head);
        while buf.len() < size {
            buf.push(b'a' + (buf.len() % 26) as u8);
        }
        buf.truncate(size);
    }
    let mut n = i;
    for k in (8..28).rev() {
        if let Some(b) = buf.get_mut(k) {
            *b = b'0' + (n % 10) as u8;
        }
        n /= 10;
    }
}

/// Baseline: SHA-256 leaf hashes of every entry plus the N-1 interior node
/// hashes of the tree, single-threaded, no I/O — the hashing a log of these
/// entries cannot avoid.
fn sha256_baseline(n: u64, size: usize) -> f64 {
    let mut buf = Vec::with_capacity(size);
    let mut range = tlog::CompactRange::new();
    let t = Instant::now();
    for i in 0..n {
        fill_entry(&mut buf, i, size);
        range.append(tlog::leaf_hash(&buf), |_, _, _| {});
    }
    std::hint::black_box(range.root());
    n as f64 / t.elapsed().as_secs_f64()
}

fn ledger_bench(
    n: u64,
    size: usize,
    rates: &[u64],
    seconds: u64,
    request_entries: u64,
    dir: &Path,
) -> anyhow::Result<Report> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clear {}", dir.display()))?;
    }
    eprintln!("baseline: raw SHA-256 leaf+node hashing of {n} entries of {size} bytes…");
    let sha = sha256_baseline(n, size);
    eprintln!("  {} entries/s", ui::rate(sha));

    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;

    // Durable append throughput: producers hash leaves while the ledger's
    // sequencer and committer build tiles and sync.
    let data = dir.join("throughput");
    ledger::init(&data, "bench.custos.example/throughput")?;
    let ledger = Ledger::open(&data, LedgerOptions::default())?;
    let pb = ui::bar(n, "appending");
    const BATCH: u64 = 16_384;
    let t = Instant::now();
    let (tx, rx) = mpsc::sync_channel::<ledger::Pending>(6);
    let waiter = std::thread::spawn(move || -> anyhow::Result<u64> {
        let mut last = 0;
        for p in rx {
            last = p.wait()?.tree_size();
        }
        Ok(last)
    });
    let mut buf = Vec::with_capacity(size);
    let mut i = 0;
    while i < n {
        let k = BATCH.min(n - i);
        let mut batch = EntryBatch::with_capacity(k as usize, k as usize * size);
        for j in i..i + k {
            fill_entry(&mut buf, j, size);
            batch.push(&buf)?;
        }
        let pending = ledger.submit_blocking(batch)?;
        tx.send(pending)
            .map_err(|_| anyhow::anyhow!("ack thread stopped"))?;
        i += k;
        pb.set_position(i);
    }
    drop(tx);
    let last = waiter
        .join()
        .map_err(|_| anyhow::anyhow!("ack thread panicked"))??;
    let append_s = t.elapsed().as_secs_f64();
    pb.finish_and_clear();
    ledger.close()?;
    anyhow::ensure!(last == n, "expected {n} entries, log has {last}");
    let append = n as f64 / append_s;
    eprintln!(
        "durable append: {} entries/s ({append_s:.2} s)",
        ui::rate(append)
    );
    let log_bytes = dir_size(&data.join("log"))?;

    // Verification of the whole log.
    let vkey = ledger::verifier_key(&data)?;
    let t = Instant::now();
    let report = ledger::verify_log(&data.join("log"), &vkey, &[], |_, _| {})
        .map_err(|e| anyhow::anyhow!("verification failed: {e}"))?;
    let verify_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.entries == n,
        "verified {} entries, expected {n}",
        report.entries
    );
    eprintln!(
        "verify: {} entries/s ({verify_s:.2} s)",
        ui::rate(n as f64 / verify_s)
    );

    // Proofs: sizes and times over many indices.
    let mut reader = LogReader::open(&data)?;
    let cp_bytes = reader.checkpoint_bytes()?;
    let trials = 1000u64;
    let (mut p_hashes, mut p_bytes) = (0, 0);
    let mut gen_t = Duration::ZERO;
    let mut ver_t = Duration::ZERO;
    for k in 0..trials {
        let index = (k * 7_919_993) % n;
        let t = Instant::now();
        let hashes = reader.inclusion_proof(index, n)?;
        gen_t += t.elapsed();
        p_hashes = p_hashes.max(hashes.len());
        let bundle = tlog::TlogProof {
            extra: None,
            index,
            hashes,
            checkpoint: cp_bytes.clone(),
        }
        .to_bytes();
        p_bytes = p_bytes.max(bundle.len());
        fill_entry(&mut buf, index, size);
        let t = Instant::now();
        tlog::TlogProof::parse(&bundle)?.verify(&tlog::leaf_hash(&buf), vkey.name(), &vkey)?;
        ver_t += t.elapsed();
    }
    let mut c_hashes = 0;
    let mut c_gen = Duration::ZERO;
    let mut c_ver = Duration::ZERO;
    let new_root = *report.checkpoint.root();
    for k in 1..=100u64 {
        let old = (k * 9_973_451) % n + 1;
        let t = Instant::now();
        let proof = reader.consistency_proof(old, n)?;
        let old_root = reader.root_at(old, n)?;
        c_gen += t.elapsed();
        c_hashes = c_hashes.max(proof.len());
        let t = Instant::now();
        tlog::verify_consistency(old, n, &old_root, &new_root, &proof)?;
        c_ver += t.elapsed();
    }
    drop(reader);

    // Acknowledgement latency at offered rates (open loop).
    let mut latency = Vec::new();
    for (k, &rate) in rates.iter().enumerate() {
        let d = dir.join(format!("latency-{k}"));
        ledger::init(&d, "bench.custos.example/latency")?;
        let run = latency_run(&d, rate, seconds, size, request_entries)?;
        eprintln!(
            "latency @ {}/s offered: p50 {:.2} ms, p99 {:.2} ms",
            ui::rate(rate as f64),
            run.p50_ms,
            run.p99_ms
        );
        latency.push(run);
        std::fs::remove_dir_all(&d).ok();
    }
    // Disk baselines, same run, measured last (deleting their files makes
    // the filesystem busy for a while): sequential write + fsync of as many
    // bytes as the log holds, and the latency of one small write + fsync
    // (the floor under any durable acknowledgement on this disk).
    let disk = disk_write_rate(dir, n * (size as u64 + 2 + 32))?;
    let (fsync_p50, fsync_p99) = fsync_latency(dir, 300)?;
    let files_rate = tile_files_rate(dir, n, size)?;
    eprintln!(
        "files: writing the log's tile and bundle files alone (1 thread) + syncfs: {} entries/s",
        ui::rate(files_rate)
    );
    eprintln!(
        "disk: {:.0} MiB/s sequential write+fsync; small write+fsync p50 {fsync_p50:.2} ms, p99 {fsync_p99:.2} ms",
        disk / 1048576.0
    );

    std::fs::remove_dir_all(dir).ok();

    Ok(Report {
        entries: n,
        entry_size: size,
        sha256_leaf_node_per_s: sha,
        append_per_s: append,
        append_ratio_to_sha256: append / sha,
        append_seconds: append_s,
        log_bytes,
        verify_per_s: n as f64 / verify_s,
        verify_seconds: verify_s,
        verify_ratio_to_sha256: (n as f64 / verify_s) / sha,
        disk_write_mib_per_s: disk / 1048576.0,
        tile_files_entries_per_s: files_rate,
        append_ratio_to_tile_files: append / files_rate,
        append_ratio_to_disk: append * (size as f64 + 2.0 + 32.0) / disk,
        fsync_p50_ms: fsync_p50,
        fsync_p99_ms: fsync_p99,
        inclusion_proof_hashes: p_hashes,
        inclusion_bundle_bytes: p_bytes,
        inclusion_proof_us: gen_t.as_secs_f64() * 1e6 / trials as f64,
        inclusion_verify_us: ver_t.as_secs_f64() * 1e6 / trials as f64,
        consistency_proof_hashes: c_hashes,
        consistency_proof_us: c_gen.as_secs_f64() * 1e6 / 100.0,
        consistency_verify_us: c_ver.as_secs_f64() * 1e6 / 100.0,
        latency,
    })
}

/// Offers appends of `per_request` entries at `rate` entries/s for `seconds`
/// (open loop: requests are sent on schedule whether or not earlier ones
/// were acknowledged) and records the time from each request's submission to
/// its durable acknowledgement.
fn latency_run(
    dir: &Path,
    rate: u64,
    seconds: u64,
    size: usize,
    per_request: u64,
) -> anyhow::Result<LatencyRun> {
    let ledger = Ledger::open(dir, LedgerOptions::default())?;
    let total = rate * seconds;
    let (tx, rx) = mpsc::channel::<(Instant, ledger::Pending)>();
    let waiter = std::thread::spawn(move || -> anyhow::Result<Vec<f64>> {
        let mut lat = Vec::new();
        for (sent, p) in rx {
            p.wait()?;
            let ms = sent.elapsed().as_secs_f64() * 1000.0;
            lat.push(ms);
        }
        Ok(lat)
    });
    let mut buf = Vec::with_capacity(size);
    let start = Instant::now();
    let tick = Duration::from_micros(500);
    let mut sent = 0u64;
    while sent < total {
        // Submit everything due by now, then sleep to the next tick.
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while sent + per_request <= due || (due == total && sent < total) {
            let k = per_request.min(total - sent);
            let mut b = EntryBatch::with_capacity(k as usize, k as usize * size);
            for j in sent..sent + k {
                fill_entry(&mut buf, j, size);
                b.push(&buf)?;
            }
            let now = Instant::now();
            let p = ledger.submit(b)?;
            tx.send((now, p))
                .map_err(|_| anyhow::anyhow!("waiter stopped"))?;
            sent += k;
        }
        std::thread::sleep(tick);
    }
    let elapsed = start.elapsed().as_secs_f64();
    drop(tx);
    let mut lat = waiter
        .join()
        .map_err(|_| anyhow::anyhow!("waiter panicked"))??;
    ledger.close()?;
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| percentile(&lat, p);
    Ok(LatencyRun {
        offered_per_s: rate,
        entries_per_request: per_request,
        achieved_per_s: total as f64 / elapsed,
        entries: total,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: lat.last().copied().unwrap_or(0.0),
    })
}

/// Bytes/s of one large sequential write followed by fsync.
fn disk_write_rate(dir: &Path, bytes: u64) -> anyhow::Result<f64> {
    use std::io::Write;
    let path = dir.join("disk-baseline");
    let chunk = vec![0x5au8; 1 << 20];
    let t = Instant::now();
    let mut f = std::fs::File::create(&path)?;
    let mut left = bytes;
    while left > 0 {
        let k = left.min(chunk.len() as u64) as usize;
        f.write_all(chunk.get(..k).unwrap_or(&chunk))?;
        left -= k as u64;
    }
    f.sync_all()?;
    let rate = bytes as f64 / t.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(rate)
}

/// Entries/s equivalent of just creating the files a log of `n` entries
/// consists of — one entry bundle and one level-0 tile per 256 entries, in
/// directories of 1,000 like the tlog-tiles layout — from one thread, then
/// one `syncfs`: the filesystem's floor for this layout, no hashing at all.
fn tile_files_rate(dir: &Path, n: u64, size: usize) -> anyhow::Result<f64> {
    use std::io::Write;
    let root = dir.join("files-baseline");
    let bundle = vec![0x61u8; 256 * (size + 2)];
    let tile = vec![0x62u8; 256 * 32];
    let tiles = n / 256;
    let t = Instant::now();
    for i in 0..tiles {
        for (kind, data) in [("e", &bundle), ("t", &tile)] {
            let d = root.join(kind).join(format!("x{:03}", i / 1000));
            if i % 1000 == 0 {
                std::fs::create_dir_all(&d)?;
            }
            let mut f = std::fs::File::create(d.join(format!("{:03}", i % 1000)))?;
            f.write_all(data)?;
        }
    }
    let f = std::fs::File::open(&root)?;
    f.sync_all()?;
    std::process::Command::new("sync")
        .arg("-f")
        .arg(&root)
        .status()
        .ok();
    let rate = (tiles * 256) as f64 / t.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&root)?;
    Ok(rate)
}

/// p50 and p99 (ms) of creating a 4 KiB file and fsyncing it.
fn fsync_latency(dir: &Path, samples: usize) -> anyhow::Result<(f64, f64)> {
    use std::io::Write;
    let mut lat = Vec::with_capacity(samples);
    let data = vec![1u8; 4096];
    for i in 0..samples {
        let path = dir.join(format!("fsync-{i}"));
        let t = Instant::now();
        let mut f = std::fs::File::create(&path)?;
        f.write_all(&data)?;
        f.sync_all()?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    for i in 0..samples {
        std::fs::remove_file(dir.join(format!("fsync-{i}")))?;
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| percentile(&lat, p);
    Ok((pct(0.5), pct(0.99)))
}

/// The `p` quantile (0..=1) of sorted samples, nearest rank; 0 if empty.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

fn dir_size(p: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(p)? {
        let e = e?;
        let m = e.metadata()?;
        total += if m.is_dir() {
            dir_size(&e.path())?
        } else {
            m.len()
        };
    }
    Ok(total)
}

fn print_report(r: &Report) {
    println!("| metric | value |");
    println!("|---|---|");
    println!(
        "| entries × size | {} × {} B |",
        ui::rate(r.entries as f64),
        r.entry_size
    );
    println!(
        "| baseline: raw SHA-256 leaf+node hashing (1 core) | {} entries/s |",
        ui::rate(r.sha256_leaf_node_per_s)
    );
    println!(
        "| durable append (group commit, fsync'd, checkpoint published) | {} entries/s ({:.2} s) |",
        ui::rate(r.append_per_s),
        r.append_seconds
    );
    println!(
        "| **append ratio to SHA-256 baseline** | **{:.2}** |",
        r.append_ratio_to_sha256
    );
    println!(
        "| baseline: disk sequential write+fsync (same bytes) | {:.0} MiB/s; append reaches {:.2} of it |",
        r.disk_write_mib_per_s, r.append_ratio_to_disk
    );
    println!(
        "| baseline: one 4 KiB file write+fsync | p50 {:.2} ms, p99 {:.2} ms |",
        r.fsync_p50_ms, r.fsync_p99_ms
    );
    println!(
        "| baseline: creating the log's tile and bundle files alone (1 thread) + syncfs | {} entries/s; append reaches {:.2} of it |",
        ui::rate(r.tile_files_entries_per_s),
        r.append_ratio_to_tile_files
    );
    println!(
        "| log size on disk | {:.1} MiB |",
        r.log_bytes as f64 / 1048576.0
    );
    println!(
        "| full verification | {} entries/s ({:.2} s), ratio {:.2} |",
        ui::rate(r.verify_per_s),
        r.verify_seconds,
        r.verify_ratio_to_sha256
    );
    println!(
        "| inclusion proof | ≤ {} hashes, bundle ≤ {} B, generate {:.1} µs, verify {:.1} µs |",
        r.inclusion_proof_hashes,
        r.inclusion_bundle_bytes,
        r.inclusion_proof_us,
        r.inclusion_verify_us
    );
    println!(
        "| consistency proof | ≤ {} hashes, generate {:.1} µs, verify {:.1} µs |",
        r.consistency_proof_hashes, r.consistency_proof_us, r.consistency_verify_us
    );
    for l in &r.latency {
        println!(
            "| ack latency @ {}/s offered, {} per request ({} achieved) | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms |",
            ui::rate(l.offered_per_s as f64),
            l.entries_per_request,
            ui::rate(l.achieved_per_s),
            l.p50_ms,
            l.p99_ms,
            l.max_ms
        );
    }
}
