//! The demo's detection step: the alerts the running server's detectors
//! raised while the simulated day was ingested and the forged tokens were
//! refused, and for each attack episode of the simulator's ground truth,
//! when it was first caught (simulated time after its start).
//!
//! An alert is attributed to an episode when one of its evidence entries
//! (ledger indices) is one of the episode's accesses: the entry's actor is
//! one of the episode's actors, or — for the forged-token attack — it
//! carries the stolen key's id and a token id that was never issued, or it
//! is the introspection refusal of such a token; for credential stuffing,
//! a refused customer sign-in.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;

use crate::api_cmd::Api;
use crate::eval::human;
use crate::local_server::ServerProcess;
use crate::ui;

/// Waits until the server's detectors have read the ledger up to `size`,
/// then prints the alerts and when each attack episode was caught.
pub fn show(
    server: &ServerProcess,
    dir: &Path,
    world: &sim::World,
    size: u64,
) -> anyhow::Result<()> {
    let analyst = Api::with_token(&server.url, &server.credential(dir, "analyst", "soc-ana")?);
    let started = Instant::now();
    let pb = ui::bar(size, "entries read by the detectors");
    loop {
        let m = analyst.get("/metrics")?;
        let text = m.body.as_str().unwrap_or_default().to_owned();
        let done = text
            .lines()
            .find_map(|l| l.strip_prefix("custos_detect_entries_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0) as u64;
        pb.set_position(done.min(size));
        if done >= size {
            break;
        }
        if started.elapsed() > Duration::from_secs(240) {
            pb.finish_and_clear();
            anyhow::bail!(
                "the server's detectors did not catch up with the ledger in 240 s ({done}/{size})"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    pb.finish_and_clear();
    // The detectors' clock moves to the server's once the ledger has been
    // idle for 2 s (closing the last minutes' windows); then they record.
    std::thread::sleep(Duration::from_millis(3_500));
    let a = analyst.get("/v1/alerts?limit=10000")?;
    anyhow::ensure!(
        a.status == 200,
        "GET /v1/alerts answered {}: {}",
        a.status,
        a.body
    );
    let alerts: Vec<Value> = a
        .body
        .get("alerts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    println!(
        "      the detectors caught up {:.1} s after the last entry; {} alerts (GET /v1/alerts, role analyst)",
        started.elapsed().as_secs_f64(),
        alerts.len()
    );

    let checkpoint = crate::hunt::latest_size(dir)?;
    let mut reader = ledger::LogReader::open(dir)?;
    let attack_kid = world.departed_engineer().map(|d| d.kept_kid);
    let episodes = world.episodes();
    // Earliest alert per episode: (seconds after its start, detector, title).
    let mut caught: Vec<Option<(f64, String, String)>> = vec![None; episodes.len()];
    let mut attributed = 0usize;
    for alert in &alerts {
        let f = alert.get("finding").unwrap_or(&Value::Null);
        let indices: Vec<u64> = f
            .pointer("/evidence/indices")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let mut hit = None;
        for &i in indices.iter().take(16) {
            if i >= checkpoint {
                continue;
            }
            let entry = reader
                .entry(i, checkpoint)
                .context("reading an evidence entry")?;
            let Ok(rec) = detect::decode(i, &entry) else {
                continue;
            };
            hit = episodes
                .iter()
                .position(|ep| belongs(&rec, ep, world, attack_kid));
            if hit.is_some() {
                break;
            }
        }
        let Some(e) = hit else { continue };
        attributed += 1;
        let (Some(ep), Some(slot)) = (episodes.get(e), caught.get_mut(e)) else {
            continue;
        };
        let t = f.get("time_ms").and_then(Value::as_i64).unwrap_or(0);
        let after = (t - ep.start_ms) as f64 / 1000.0;
        if slot.as_ref().is_none_or(|(s, _, _)| after < *s) {
            *slot = Some((
                after.max(0.0),
                f.get("detector")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                f.get("title")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            ));
        }
    }
    for (ep, c) in episodes.iter().zip(&caught) {
        if !ep.malicious {
            continue;
        }
        match c {
            Some((s, detector, title)) => println!(
                "      {:<20} caught {} after its start — {detector}: {title}",
                ep.scenario,
                human(*s)
            ),
            None if ep.start_ms > world_end(world) => {
                println!("      {:<20} starts after this run's window", ep.scenario);
            }
            None => println!(
                "      {:<20} not caught in this window: a fresh server has no baselines yet \
                 (with them, `custos eval` catches it; docs/BENCHMARKS.md)",
                ep.scenario
            ),
        }
    }
    let mut by: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for alert in &alerts {
        if let Some(d) = alert.pointer("/finding/detector").and_then(Value::as_str) {
            *by.entry(d.to_owned()).or_insert(0) += 1;
        }
    }
    println!(
        "      {} alerts name an attack; {} others (a fresh server has no baselines yet: until it has \
         learnt a week, only counts far above the floors alert); by detector: {}",
        attributed,
        alerts.len() - attributed,
        by.iter()
            .map(|(d, n)| format!("{d} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "      (`custos alerts --data DIR`, `custos alerts ack ID`; low-and-slow needs weeks of history: \
         `custos eval` replays it with the other scenarios, docs/BENCHMARKS.md)"
    );
    Ok(())
}

/// Whether `rec` is one of `ep`'s accesses.
fn belongs(
    rec: &detect::Record<'_>,
    ep: &sim::Episode,
    world: &sim::World,
    attack_kid: Option<&str>,
) -> bool {
    match ep.scenario {
        "forged_token" => {
            let forged = |jti: &str| {
                rec.kid.as_deref() == attack_kid
                    && attack_kid.is_some_and(|k| !world.jti_issued(jti, k))
            };
            match rec.kind() {
                detect::RecordKind::TokenRefused => {
                    rec.refusal.as_deref() == Some("never_issued")
                        || rec.refusal.as_deref() == Some("retired_kid")
                }
                detect::RecordKind::Access => rec.jti.as_deref().is_some_and(forged),
                _ => false,
            }
        }
        "credential_stuffing" => {
            rec.kind() == detect::RecordKind::Access
                && rec.actor_kind == Some(events::ActorKind::Customer)
                && !rec.allowed()
                && rec.operation == "SignIn"
        }
        _ => ep.actors.iter().any(|a| a == rec.actor.as_ref()),
    }
}

fn world_end(world: &sim::World) -> i64 {
    let c = world.config();
    c.start_ms + c.duration_ms()
}
