//! `custos bench scope`: the forensic index at the 2025 breach's scale.
//!
//! A synthetic access history, defined by integer formulas that
//! `bench/scope_duckdb.py` evaluates identically in DuckDB SQL (so both
//! sides hold the very same events without shipping a 1B-row file between
//! them):
//!
//! - row `r` in `0..rows` is one subject-access at
//!   `ts = T0 + r·127/10` ms (147 days for 1e9 rows), time-ordered;
//! - every 5th row (`r % 5 == 0`) is the attacker's: principal `attacker`,
//!   key `k-2024-07`, one customer per forged token (indexed 8 per request),
//!   subject `(r/5 · 7919) mod 33,700,000` — every one of 33.7M customers,
//!   each read ~6 times over the period;
//! - the other rows are staff: `n = r − r/5 − 1`, principal
//!   `emp-(1 + (n/8) mod 5000)`, key `k-<day/30>`, subject
//!   `(n · 104729 + 17) mod 34,000,000`, 8 subjects per request.
//!
//! Subjects enter through the subject dictionary (16-byte keys, as
//! pseudonyms do), so the build rate includes numbering them.
//!
//! The baseline is DuckDB over the same rows as Parquet, run by the script
//! right after this (same machine, same script): `bench/scope_duckdb.py`.

use std::time::Instant;

use anyhow::bail;
use forensics::index::Access;
use forensics::scope::{CheckpointRef, ScopeQuery};
use forensics::{DAY_MS, Index};
use serde_json::json;

use crate::api_cmd::at;
use crate::ui;

/// `custos bench scope` options.
#[derive(clap::Args, Debug)]
pub struct ScopeBenchArgs {
    /// Subject-access rows to index (1e9 = the scale; a multiple of 40).
    #[arg(long, default_value_t = 40_000_000)]
    pub rows: u64,
    /// Query repetitions (the median is reported).
    #[arg(long, default_value_t = 7)]
    pub repeat: usize,
    /// Print results as JSON (what bench/scope_duckdb.py reads).
    #[arg(long)]
    pub json: bool,
}

/// 2025-06-24T00:00:00Z, the first day of the 147.
const T0: i64 = 1_750_723_200_000;
const ATTACKER_SUBJECTS: u64 = 33_700_000;
const SUBJECTS: u64 = 34_000_000;
const STAFF: u64 = 5000;

fn ts(r: u64) -> i64 {
    T0 + i64::try_from(r * 127 / 10).unwrap_or(i64::MAX)
}

/// A subject's 16-byte key (pseudonym bytes stand-in): a bijective mix.
fn key_of(subject: u64) -> [u8; 16] {
    let mut x = subject.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 29;
    (u128::from(x) | (u128::from(subject) << 64)).to_le_bytes()
}

/// Runs the benchmark.
pub fn run(a: &ScopeBenchArgs) -> anyhow::Result<std::process::ExitCode> {
    bench(a).map(|()| std::process::ExitCode::SUCCESS)
}

fn bench(a: &ScopeBenchArgs) -> anyhow::Result<()> {
    if a.rows == 0 || !a.rows.is_multiple_of(40) {
        bail!("--rows must be a positive multiple of 40");
    }
    let staff: Vec<String> = (1..=STAFF).map(|i| format!("emp-{i}")).collect();
    let kids: Vec<String> = (0..8).map(|i| format!("k-{i}")).collect();
    let nets: Vec<String> = (0..64).map(|i| format!("10.20.{i}.0/24")).collect();
    let att_nets: Vec<String> = (0..50).map(|i| format!("203.0.{i}.0/24")).collect();
    let att_countries = ["CN", "HK", "SG", "US"];
    let mut index = Index::new();
    let bar = (!a.json).then(|| ui::bar(a.rows, "indexing subject-accesses"));
    let t = Instant::now();
    let mut ids = [0u32; 8];
    let mut r = 0u64;
    while r < a.rows {
        // 40 rows: the attacker's 8 (rows r, r+5, …: one customer per forged
        // token, batched here as one request of 8 — same source, as the
        // source changes every 1,000 of them), then 4 staff requests of 8.
        let att0 = r / 5;
        for (k, slot) in ids.iter_mut().enumerate() {
            let s = ((att0 + k as u64) * 7919) % ATTACKER_SUBJECTS;
            *slot = index.dict_mut().id_of_key(key_of(s));
        }
        let c = (att0 / 1000) % 4;
        index.add_access(&Access {
            index: r,
            time_ms: ts(r),
            principal: "attacker",
            kid: Some("k-2024-07"),
            issuer: Some("https://login.example"),
            net: att_nets
                .get(((att0 / 1000) % 50) as usize)
                .map(String::as_str),
            country: att_countries.get(c as usize).copied(),
            dataset: "customers",
            categories: 0b1_1101, // name, phone, address, entrance_code
            subjects: &ids,
            new_event: true,
        });
        for ev in 0..4u64 {
            // The 8 staff rows of this request: the rows of the block that
            // are not multiples of 5, in order.
            let mut first_row = 0;
            let mut n_first = 0;
            for (j, slot) in ids.iter_mut().enumerate() {
                let k = ev * 8 + j as u64; // k-th staff row of the block
                let row = r + k + k / 4 + 1;
                let n = row - row / 5 - 1;
                if j == 0 {
                    first_row = row;
                    n_first = n;
                }
                let s = (n * 104_729 + 17) % SUBJECTS;
                *slot = index.dict_mut().id_of_key(key_of(s));
            }
            let time = ts(first_row);
            let day = (time - T0) / DAY_MS;
            let p = (n_first / 8) % STAFF;
            index.add_access(&Access {
                index: first_row,
                time_ms: time,
                principal: staff.get(p as usize).map_or("emp-0", String::as_str),
                kid: kids.get((day / 30) as usize).map(String::as_str),
                issuer: Some("https://login.example"),
                net: nets.get((p % 64) as usize).map(String::as_str),
                country: Some("KR"),
                dataset: "customers",
                categories: 0b1_1101,
                subjects: &ids,
                new_event: true,
            });
        }
        r += 40;
        if r.is_multiple_of(1 << 22)
            && let Some(b) = &bar
        {
            b.set_position(r);
        }
    }
    index.flush();
    let build = t.elapsed().as_secs_f64();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    index.set_next_index(a.rows);
    let size = index.size_bytes();
    let (cells, blocks) = index.counts();
    let days = (ts(a.rows - 1) - T0) / DAY_MS + 1;
    let window = (T0, T0 + days * DAY_MS);
    let empty: Vec<Vec<u8>> = Vec::new();
    let mut queries = Vec::new();
    for (name, q) in [
        (
            "principal=attacker",
            ScopeQuery {
                principal: Some("attacker".into()),
                from_ms: window.0,
                to_ms: window.1,
                ..ScopeQuery::default()
            },
        ),
        (
            "kid=k-2024-07",
            ScopeQuery {
                kid: Some("k-2024-07".into()),
                from_ms: window.0,
                to_ms: window.1,
                ..ScopeQuery::default()
            },
        ),
        (
            "principal=emp-42",
            ScopeQuery {
                principal: Some("emp-42".into()),
                from_ms: window.0,
                to_ms: window.1,
                ..ScopeQuery::default()
            },
        ),
    ] {
        let mut times = Vec::new();
        let mut answer = None;
        for _ in 0..a.repeat.max(1) {
            let t = Instant::now();
            let res = forensics::scope::scope(&mut index, &empty, &q, CheckpointRef::default())?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            answer = Some(res.answer);
        }
        times.sort_by(f64::total_cmp);
        let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
        let Some(ans) = answer else { continue };
        queries.push(json!({
            "name": name,
            "days": days,
            "subjects": ans.subjects,
            "subject_accesses": ans.subject_accesses,
            "first_ms": q.from_ms,
            "first_access": ans.first_access,
            "last_access": ans.last_access,
            "by_category": ans.by_category,
            "method": ans.method,
            "median_ms": median,
            "min_ms": times.first().copied().unwrap_or(0.0),
        }));
    }
    let rss = rss_bytes();
    let out = json!({
        "rows": a.rows,
        "subjects_numbered": index.dict().len(),
        "days": days,
        "build_seconds": build,
        "build_rate_per_s": a.rows as f64 / build,
        "index_bytes": size,
        "index_bytes_per_billion": size as f64 * 1e9 / a.rows as f64,
        "day_cells": cells,
        "blocks": blocks,
        "rss_bytes": rss,
        "queries": queries,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "indexed {} subject-accesses ({} subjects, {days} days) in {build:.1} s: {}/s",
        crate::scope_cmd::group(a.rows),
        crate::scope_cmd::group(index.dict().len() as u64),
        ui::rate(a.rows as f64 / build)
    );
    println!(
        "index size {} ({} per billion subject-accesses); {cells} day cells, {blocks} blocks; RSS {}",
        crate::scope_cmd::bytes(size),
        crate::scope_cmd::bytes((size as f64 * 1e9 / a.rows as f64) as u64),
        crate::scope_cmd::bytes(rss)
    );
    for q in &queries {
        println!(
            "  scope {:<20} subjects {:>12}  subject-accesses {:>13}  median {:>8.1} ms ({})",
            at(q, "/name").as_str().unwrap_or(""),
            crate::scope_cmd::group(at(q, "/subjects").as_u64().unwrap_or(0)),
            crate::scope_cmd::group(at(q, "/subject_accesses").as_u64().unwrap_or(0)),
            at(q, "/median_ms").as_f64().unwrap_or(0.0),
            at(q, "/method").as_str().unwrap_or("")
        );
    }
    println!("baseline: bench/scope_duckdb.py runs this and DuckDB over the same rows as Parquet");
    Ok(())
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}
