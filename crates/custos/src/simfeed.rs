//! The simulator's events as ledger entries, in memory, and what the
//! simulated company's token services and directory know — for `custos
//! eval` and `custos bench detect`.
//!
//! The entries are exactly the bytes the server would append for the same
//! events (`events::parse_event` then `events::ledger_entries`), so the
//! detectors see what they would see tailing a real ledger.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context as _;

/// What the simulated company's token authority and directory know.
pub struct SimContext {
    world: Arc<sim::World>,
    groups: HashMap<String, String>,
    offboarded: HashMap<String, i64>,
}

impl SimContext {
    /// From the world's directory.
    pub fn new(world: Arc<sim::World>) -> SimContext {
        let mut groups = HashMap::new();
        let mut offboarded = HashMap::new();
        for p in world.principals() {
            let group = match &p.supplier {
                Some(s) => format!("{}/{s}/{}", p.kind.as_str(), p.role),
                None => format!("{}/{}/{}", p.kind.as_str(), p.department, p.role),
            };
            groups.insert(p.id.clone(), group);
            if let Some(at) = p.offboarded_ms {
                offboarded.insert(p.id.clone(), at);
            }
        }
        SimContext {
            world,
            groups,
            offboarded,
        }
    }
}

impl detect::Context for SimContext {
    fn token_issued(&self, issuer: &str, kid: Option<&str>, jti: &str) -> Option<bool> {
        // The company's own issuers keep issuance records (`sim --issued`);
        // anything else is unknown.
        let key = sim::KEYS.iter().find(|k| k.issuer == issuer)?;
        Some(self.world.jti_issued(jti, kid.unwrap_or(key.kid)))
    }

    fn peer_group(&self, principal: &str) -> Option<String> {
        self.groups.get(principal).cloned()
    }

    fn offboarded_ms(&self, principal: &str) -> Option<i64> {
        self.offboarded.get(principal).copied()
    }
}

/// Limits that accept any simulated time (the clock is each event's own).
fn limits() -> events::Limits {
    events::Limits {
        max_age: Duration::from_secs(100 * 365 * 86_400),
        ..events::Limits::default()
    }
}

/// What [`for_each_entry`] calls for each entry: `(index, entry bytes,
/// the simulated event it came from)`; `Ok(false)` stops.
pub type EntryFn<'a> = dyn FnMut(u64, &[u8], &sim::SimEvent<'_>) -> anyhow::Result<bool> + 'a;

/// Runs the world and calls `f(index, entry, event)` for every ledger entry
/// its events become (an event with many subjects may become several),
/// numbered from 0. Returns the number of entries.
///
/// # Errors
/// If an event fails validation or encoding (a simulator bug), or `f` fails.
pub fn for_each_entry(
    world: &sim::World,
    key: &events::SubjectKey,
    f: &mut EntryFn<'_>,
) -> anyhow::Result<u64> {
    let limits = limits();
    let mut buf = Vec::with_capacity(1024);
    let mut index = 0u64;
    for ev in sim::Generator::new(world) {
        buf.clear();
        ev.write_json(&mut buf)?;
        let now = UNIX_EPOCH + Duration::from_millis(ev.time_ms().max(0) as u64);
        let event = events::parse_event(&buf, now, &limits)
            .map_err(|e| anyhow::anyhow!("simulated event {index}: {e:?}"))?;
        for entry in events::ledger_entries(&event, key).context("encode")? {
            if !f(index, &entry, &ev)? {
                return Ok(index + 1);
            }
            index += 1;
        }
    }
    Ok(index)
}
