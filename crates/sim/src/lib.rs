//! A deterministic synthetic company producing access events, and the 2025
//! attack as a scenario.
//!
//! Customers (1M by default, 34M or more cost no memory: everything about a
//! customer derives from its number), employees in departments with roles,
//! suppliers and their staff, services and batch jobs read personal data
//! with daily and weekly rhythms; the 2025 attack — a departed engineer's
//! stolen customer-token key minting one token per customer from overseas —
//! runs at its real rate. Events come out in the `events` crate's input
//! format (`docs/events.md`), in non-decreasing time order, byte-identical
//! for the same [`Config`] on every platform. Further [`Scenario`]s — insider
//! and supplier attacks, credential stuffing, benign look-alikes — are
//! opt-in episodes with ground truth ([`World::episodes`],
//! [`SimEvent::episode`]); [`eval_suite`] lists the runs detectors are
//! scored on. See `docs/sim.md`.
//!
//! ```
//! let config = sim::Config { hours: Some(1), events_per_day: 20_000, ..Default::default() };
//! let world = sim::World::new(config)?;
//! let mut out = Vec::new();
//! let tally = sim::write_ndjson(&world, &mut out, None, &mut |_| {})?;
//! let truth = sim::Truth::new(&world, &tally);
//! // ≈12 attack requests a second for the hour.
//! let attack = truth.attack.as_ref().map_or(0, |a| a.in_output.attack_events);
//! assert!((42_000..44_500).contains(&attack));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attack;
mod config;
mod episodes;
mod eval;
mod event;
mod generator;
mod legacy;
mod net;
mod perm;
mod rng;
mod scenario;
mod time;
mod truth;
mod world;

use std::io::{self, Write};

// The public interface is:
pub use config::{Attack, Bulk, Config, ConfigError, Curve, DEFAULT_START_MS, Mix, Rhythm};
pub use episodes::Episode;
pub use eval::{EvalCase, eval_suite};
pub use event::{Label, SimEvent};
pub use generator::{Generator, Issuance};
pub use legacy::{AccessRecord, Company, day};
pub use rng::SplitMix64;
pub use scenario::{
    AdminBulkDump, CredentialStuffing, HeavyCsAgents, LowAndSlow, SCENARIOS, Scenario, Start,
    SupplierScrape, Surge,
};
pub use time::{format_rfc3339, parse_rfc3339};
pub use truth::{
    AttackInOutput, AttackTruth, DayCount, DepartedTruth, EpisodeInOutput, EpisodeTruth, Tally,
    Truth, Window,
};
pub use world::{
    ActorRef, AttackTimes, Customer, DepartedEngineer, KEYS, Principal, SigningKey, Supplier,
    World, customer_id,
};

/// Where a run is, for progress reports.
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    /// Simulated minutes generated so far.
    pub minutes_done: u64,
    /// Simulated minutes in the run.
    pub minutes_total: u64,
    /// What has been written so far.
    pub tally: &'a Tally,
}

/// Writes every event of `world`'s run to `events` as NDJSON (one event per
/// line), and, if given, every token issuance to `issuances` as NDJSON;
/// `progress` is called after each simulated minute. Returns the counts
/// (bytes are those of `events`). Wrap the writers in a `BufWriter`.
pub fn write_ndjson(
    world: &World,
    events: &mut dyn Write,
    mut issuances: Option<&mut dyn Write>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> io::Result<Tally> {
    let mut generator = Generator::new(world);
    if issuances.is_some() {
        generator = generator.with_issuances();
    }
    let mut tally = Tally::default();
    let mut line = Vec::with_capacity(1024);
    let mut minute = 0;
    while let Some(ev) = generator.next() {
        line.clear();
        ev.write_json(&mut line).map_err(io::Error::other)?;
        line.push(b'\n');
        events.write_all(&line)?;
        tally.record(&ev, line.len() as u64);
        let (done, total) = generator.progress();
        if done != minute {
            minute = done;
            if let Some(out) = issuances.as_deref_mut() {
                write_issuances(&mut generator, out)?;
            }
            progress(Progress {
                minutes_done: done,
                minutes_total: total,
                tally: &tally,
            });
        }
    }
    if let Some(out) = issuances {
        write_issuances(&mut generator, out)?;
    }
    let (done, total) = generator.progress();
    progress(Progress {
        minutes_done: done,
        minutes_total: total,
        tally: &tally,
    });
    Ok(tally)
}

fn write_issuances(generator: &mut Generator<'_>, out: &mut dyn Write) -> io::Result<()> {
    for rec in generator.take_issuances() {
        serde_json::to_writer(&mut *out, &rec).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
