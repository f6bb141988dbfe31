//! The detector engine: state, windows, baselines, the built-in detectors,
//! deduplication and checkpoints.
//!
//! Determinism: the engine's only clock is the entries' `time` (and, when
//! the log is idle, the `now` given to [`Engine::tick`]); iteration over
//! entities is in sorted order; floating point is basic arithmetic. The same
//! entries in the same order give the same findings.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use events::ActorKind;

use crate::distinct::{SlidingDistinct, minute_of};
use crate::finding::{
    Baseline, Entity, EntityKind, Evidence, Finding, MAX_EVIDENCE_INDICES, Severity,
};
use crate::record::{Record, RecordKind, decode, subject_hash};

/// Window lengths in minutes: 10 min, 1 h, 24 h, 7, 30, 90 and 180 days.
pub const WINDOWS: [u32; 7] = [10, 60, 1_440, 10_080, 43_200, 129_600, 259_200];
const WINDOW_NAMES: [&str; 7] = ["10m", "1h", "24h", "7d", "30d", "90d", "180d"];
/// Windows checked every minute (the rest every hour).
const SHORT: usize = 3;
const MINUTES_PER_DAY: u32 = 1_440;

/// What the engine knows from outside the ledger: the token authority's
/// issuance records and key states, the directory's peer groups and
/// offboardings. Every method has a "don't know" answer; the engine also
/// learns offboardings and key retirements from the ledger's own entries.
pub trait Context: Send {
    /// `Some(true)` if the token `jti` of `issuer` (signed with `kid`) was
    /// issued, `Some(false)` if the issuer is one whose issuance records are
    /// known and it was not, `None` if unknown.
    fn token_issued(&self, _issuer: &str, _kid: Option<&str>, _jti: &str) -> Option<bool> {
        None
    }
    /// The state of a signing key, if known.
    fn key_state(&self, _kid: &str) -> Option<KeyState> {
        None
    }
    /// The principal's peer group (e.g. `employee/customer-service/agent`).
    fn peer_group(&self, _principal: &str) -> Option<String> {
        None
    }
    /// When the principal was offboarded, if it was.
    fn offboarded_ms(&self, _principal: &str) -> Option<i64> {
        None
    }
}

/// A context that knows nothing beyond the ledger.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoContext;

impl Context for NoContext {}

/// A signing key's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyState {
    /// When it was retired, if it was.
    pub retired_at_ms: Option<i64>,
}

/// Numbers the built-in detectors compare with. Every field has a default
/// (`DetectConfig::default()`), documented in `docs/detect.md`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Distinct subjects an entity may read in 10 min / 1 h / 24 h before
    /// anything else is considered (a floor, never alone a reason).
    pub floor_10m: u64,
    /// See `floor_10m`.
    pub floor_1h: u64,
    /// See `floor_10m`.
    pub floor_24h: u64,
    /// A window's count must exceed this many times the entity's own usual
    /// value (90th percentile of its daily values, lagged).
    pub self_factor: f64,
    /// … and this many times its peer group's usual value (median over
    /// the members of their own usual values).
    pub peer_factor: f64,
    /// With neither history nor peers, the count must exceed this many
    /// times the floor.
    pub cold_factor: f64,
    /// Days of an entity's history needed before its own baseline counts.
    pub min_history_days: u32,
    /// The most recent days left out of baselines (a slow ramp needs this
    /// long before it can raise its own baseline at all).
    pub lag_days: u32,
    /// Days of history baselines look at.
    pub history_days: u32,
    /// Peers with history needed before a peer baseline counts.
    pub min_peers: u32,
    /// Days the engine must have seen before statistical detectors alert
    /// on a count under `learning_ceiling` × the floor (baselines are
    /// being learnt).
    pub learning_days: u32,
    /// See `learning_days`.
    pub learning_ceiling: f64,
    /// Share of a dataset a principal may cover over 30/90/180 days before
    /// the coverage detector considers it (with the peer factor).
    pub coverage_share: f64,
    /// Token refusals (other than forgery-grade ones) from one key or
    /// source network in 10 minutes.
    pub refusals_10m: u64,
    /// Refused authorizations of one principal in 1 h.
    pub authorize_denied_1h: u64,
    /// Distinct subjects refused to one source network, country or key in
    /// 1 h (credential stuffing, unknown-member probing).
    pub denied_subjects_1h: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            floor_10m: 200,
            floor_1h: 400,
            floor_24h: 500,
            self_factor: 4.0,
            peer_factor: 5.0,
            cold_factor: 3.0,
            min_history_days: 4,
            lag_days: 3,
            history_days: 35,
            min_peers: 5,
            learning_days: 7,
            learning_ceiling: 20.0,
            coverage_share: 0.01,
            refusals_10m: 20,
            authorize_denied_1h: 10,
            denied_subjects_1h: 200,
        }
    }
}

/// Where a dataset's personal data may be accessed from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Residency {
    /// ISO 3166-1 alpha-2 source countries allowed.
    pub allowed: Vec<String>,
    /// Actor kinds the rule applies to (default: staff, supplier staff and
    /// services — customers reading their own data from abroad are not a
    /// transfer).
    #[serde(default = "staff_kinds")]
    pub kinds: Vec<ActorKind>,
}

fn staff_kinds() -> Vec<ActorKind> {
    vec![
        ActorKind::Employee,
        ActorKind::SupplierStaff,
        ActorKind::Service,
    ]
}

/// The engine's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// Numbers of the built-in detectors.
    pub thresholds: Thresholds,
    /// Residency rules per dataset name.
    pub residency: BTreeMap<String, Residency>,
    /// Subjects per dataset (for coverage shares); when absent, the
    /// dataset's own distinct subjects over 180 days stand in.
    pub dataset_sizes: BTreeMap<String, u64>,
    /// A repeat of the same detector on the same entity within this many
    /// seconds is merged into the first finding (not raised again).
    pub dedup_s: u64,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            thresholds: Thresholds::default(),
            residency: BTreeMap::new(),
            dataset_sizes: BTreeMap::new(),
            dedup_s: 86_400,
        }
    }
}

/// Counters of an engine's work.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineStats {
    /// Entries consumed.
    pub entries: u64,
    /// Access entries among them.
    pub accesses: u64,
    /// Subject accesses counted.
    pub subject_accesses: u64,
    /// Entries that could not be decoded (skipped, counted).
    pub undecodable: u64,
    /// Findings raised.
    pub findings: u64,
    /// Repeats merged into an earlier finding.
    pub merged: u64,
}

/// One day of an entity's history: per window, the day's peak (short
/// windows) or end-of-day value (the others).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct DayStat {
    day: u32,
    values: [u32; 7],
    alerted: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct EntityState {
    distinct: SlidingDistinct,
    /// Distinct subjects refused (deny) — kept only for keys, networks
    /// and countries.
    denied: Option<SlidingDistinct>,
    history: VecDeque<DayStat>,
    today: DayStat,
    /// The last entries' (index, minute).
    recent: VecDeque<(u64, u32)>,
    events_today: u64,
    first_ms_today: i64,
    last_ms: i64,
    last_minute: u32,
    /// In the engine's dirty set (so it is added once).
    dirty: bool,
    group: Option<String>,
    /// Per window: the baseline limits (self, peer) computed at day close.
    #[serde(default)]
    self_base: Option<[u32; 7]>,
    alerted_today: bool,
}

const RECENT: usize = 32;

impl EntityState {
    fn note(&mut self, index: u64, time_ms: i64, minute: u32) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((index, minute));
        if self.events_today == 0 {
            self.first_ms_today = time_ms;
        }
        self.events_today += 1;
        self.last_ms = time_ms;
        self.last_minute = minute;
        self.dirty = true;
    }

    /// 90th percentile of the lagged history for window `w`, if long enough.
    fn self_baseline(&self, w: usize, today: u32, t: &Thresholds) -> Option<u32> {
        let newest = today.saturating_sub(t.lag_days);
        let oldest = today.saturating_sub(t.history_days);
        let days = || {
            self.history
                .iter()
                .filter(move |d| d.day < newest && d.day >= oldest)
        };
        let mut v: Vec<u32> = days()
            .filter(|d| !d.alerted)
            .filter_map(|d| d.values.get(w).copied())
            .collect();
        if (v.len() as u32) < t.min_history_days {
            // Days that alerted stay out of the baseline, so that a ramp
            // cannot teach it; but an entity that alerted on most of its
            // days with nobody acting on it (a nightly bulk job) is that
            // entity's normal: then every lagged day counts.
            v = days().filter_map(|d| d.values.get(w).copied()).collect();
            if (v.len() as u32) < t.min_history_days {
                // A sparse entity known for at least a week (a weekly
                // job): what it has done before is not an anomaly.
                let known_since = self.history.front().map(|d| d.day);
                if known_since.is_some_and(|d| today >= d + 7) {
                    return v.into_iter().max();
                }
                return None;
            }
        }
        v.sort_unstable();
        let at = (v.len() * 9).div_ceil(10).saturating_sub(1);
        v.get(at).copied()
    }
}

type Key = (EntityKind, String);

/// Entity states by kind, then id (lookups by `&str` without allocating).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Entities {
    principal: Map,
    kid: Map,
    issuer: Map,
    network: Map,
    country: Map,
    dataset: Map,
}

type Map = hashbrown::HashMap<String, EntityState>;

impl Entities {
    fn map(&self, kind: EntityKind) -> &Map {
        match kind {
            EntityKind::Principal => &self.principal,
            EntityKind::Kid => &self.kid,
            EntityKind::Issuer => &self.issuer,
            EntityKind::Network => &self.network,
            EntityKind::Country => &self.country,
            EntityKind::Dataset => &self.dataset,
        }
    }

    fn map_mut(&mut self, kind: EntityKind) -> &mut Map {
        match kind {
            EntityKind::Principal => &mut self.principal,
            EntityKind::Kid => &mut self.kid,
            EntityKind::Issuer => &mut self.issuer,
            EntityKind::Network => &mut self.network,
            EntityKind::Country => &mut self.country,
            EntityKind::Dataset => &mut self.dataset,
        }
    }

    fn get(&self, key: &Key) -> Option<&EntityState> {
        self.map(key.0).get(key.1.as_str())
    }

    fn get_ref(&self, kind: EntityKind, id: &str) -> Option<&EntityState> {
        self.map(kind).get(id)
    }

    fn get_mut(&mut self, key: &Key) -> Option<&mut EntityState> {
        self.map_mut(key.0).get_mut(key.1.as_str())
    }

    /// The state of `kind`/`id`, created if new.
    fn entry(&mut self, kind: EntityKind, id: &str) -> &mut EntityState {
        self.map_mut(kind).entry_ref(id).or_default()
    }

    fn iter(&self) -> impl Iterator<Item = (EntityKind, &String, &EntityState)> {
        EntityKind::ALL
            .into_iter()
            .flat_map(move |k| self.map(k).iter().map(move |(id, e)| (k, id, e)))
    }

    fn for_each_mut(&mut self, mut f: impl FnMut(EntityKind, &mut EntityState)) {
        for k in EntityKind::ALL {
            for e in self.map_mut(k).values_mut() {
                f(k, e);
            }
        }
    }

    fn retain(&mut self, mut f: impl FnMut(EntityKind, &EntityState) -> bool) {
        for k in EntityKind::ALL {
            self.map_mut(k).retain(|_, e| f(k, e));
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct State {
    next_index: u64,
    now_ms: i64,
    /// The newest entry time seen (ticks never move the clock more than a
    /// minute past it).
    #[serde(default)]
    newest_ms: i64,
    minute: u32,
    first_day: Option<u32>,
    entities: Entities,
    /// Entities touched since the last minute's check (sorted: findings
    /// come out in a deterministic order).
    dirty: std::collections::BTreeSet<Key>,
    /// Principals touched since the last hour's check.
    dirty_hour: std::collections::BTreeSet<String>,
    /// Per (kind, group): per window, the peers' baseline.
    #[serde(with = "pairs")]
    peers: BTreeMap<(EntityKind, String), [u32; 7]>,
    offboarded: BTreeMap<String, i64>,
    retired_keys: BTreeMap<String, i64>,
    /// Dedup key → time first raised.
    raised: BTreeMap<String, i64>,
    /// Single-event detectors' counters: key → (minute window start, count).
    counters: BTreeMap<String, (u32, u64)>,
    stats: EngineStats,
}

/// The detector engine.
pub struct Engine {
    config: DetectConfig,
    context: Box<dyn Context>,
    state: State,
    /// Sigma rules run on every decoded entry after the built-ins.
    rules: Option<crate::sigma::RuleSet>,
    /// Whether the built-in detectors run (off: rules only, for hunts).
    builtin: bool,
    /// `(hour, size)` of the last [`Engine::dataset_size`] estimate.
    dataset_cache: std::cell::Cell<Option<(u32, Option<u64>)>>,
}

/// A serialised engine state, to resume without replaying the ledger.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version.
    pub v: u32,
    state: State,
    /// The Sigma rules' correlation state (rules unchanged since are
    /// restored; the others start empty).
    #[serde(default)]
    sigma: Option<crate::sigma::SigmaSnapshot>,
}

const CHECKPOINT_VERSION: u32 = 1;

impl Engine {
    /// A fresh engine (state as if no entry had been seen).
    #[must_use]
    pub fn new(config: DetectConfig, context: Box<dyn Context>) -> Engine {
        Engine {
            config,
            context,
            state: State::default(),
            rules: None,
            builtin: true,
            dataset_cache: std::cell::Cell::new(None),
        }
    }

    /// Runs `rules` on every entry too, carrying over the correlation state
    /// of rules that did not change from the rules in place (a reload).
    pub fn set_rules(&mut self, mut rules: crate::sigma::RuleSet) {
        if let Some(old) = &self.rules {
            rules.restore(&old.snapshot());
        }
        self.rules = Some(rules);
    }

    /// The rules in place, for a watcher to reload.
    pub fn rules_mut(&mut self) -> Option<&mut crate::sigma::RuleSet> {
        self.rules.as_mut()
    }

    /// Turns the built-in detectors off (Sigma rules only, for hunts) or on.
    pub fn set_builtin(&mut self, on: bool) {
        self.builtin = on;
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &DetectConfig {
        &self.config
    }

    /// The index of the next entry the engine expects.
    #[must_use]
    pub fn next_index(&self) -> u64 {
        self.state.next_index
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> &EngineStats {
        &self.state.stats
    }

    /// Entities tracked, by kind.
    #[must_use]
    pub fn entity_counts(&self) -> BTreeMap<EntityKind, u64> {
        let mut m = BTreeMap::new();
        for k in EntityKind::ALL {
            m.insert(k, self.state.entities.map(k).len() as u64);
        }
        m
    }

    /// Heap bytes of the distinct-subject structures, by entity kind.
    #[must_use]
    pub fn memory_bytes(&self) -> BTreeMap<EntityKind, u64> {
        let mut m = BTreeMap::new();
        for (k, _, e) in self.state.entities.iter() {
            let b = e.distinct.memory_bytes()
                + e.denied.as_ref().map_or(0, SlidingDistinct::memory_bytes)
                + e.history.len() * std::mem::size_of::<DayStat>()
                + RECENT * 8
                + std::mem::size_of::<EntityState>();
            *m.entry(k).or_insert(0) += b as u64;
        }
        m
    }

    /// The state, to save; [`Engine::restore`] resumes from it.
    #[must_use]
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            v: CHECKPOINT_VERSION,
            state: self.state.clone(),
            sigma: self.rules.as_ref().map(crate::sigma::RuleSet::snapshot),
        }
    }

    /// Resumes from a checkpoint.
    ///
    /// # Errors
    /// If the checkpoint is of another format version (rebuild by replaying
    /// the ledger instead).
    pub fn restore(&mut self, cp: Checkpoint) -> Result<(), String> {
        if cp.v != CHECKPOINT_VERSION {
            return Err(format!(
                "checkpoint format {} is not {CHECKPOINT_VERSION}; replay the ledger",
                cp.v
            ));
        }
        self.state = cp.state;
        if let (Some(rules), Some(snap)) = (self.rules.as_mut(), cp.sigma.as_ref()) {
            rules.restore(snap);
        }
        Ok(())
    }

    /// Consumes ledger entry `index` (which must be [`Engine::next_index`];
    /// earlier indices are ignored, so a replay may overlap) and returns the
    /// findings it raises. Undecodable entries are counted and skipped.
    pub fn process(&mut self, index: u64, entry: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        if index < self.state.next_index {
            return out;
        }
        self.state.next_index = index + 1;
        self.state.stats.entries += 1;
        let rec = match decode(index, entry) {
            Ok(r) => r,
            Err(_) => {
                self.state.stats.undecodable += 1;
                return out;
            }
        };
        self.process_record(&rec, &mut out);
        out
    }

    /// Consumes an already decoded entry (its `index` must be the next one).
    pub fn process_record(&mut self, rec: &Record<'_>, out: &mut Vec<Finding>) {
        if rec.index + 1 > self.state.next_index {
            self.state.next_index = rec.index + 1;
        }
        let kind = rec.kind();
        if kind == RecordKind::Finding {
            return;
        }
        if let Some(rules) = self.rules.as_mut() {
            let mut found = Vec::new();
            rules.process(rec, &mut found);
            // Same deduplication as the built-ins: one finding per rule and
            // entity per `dedup_s`.
            for f in found {
                self.raise(f, out);
            }
        }
        if !self.builtin {
            return;
        }
        // The clock follows the access events' own times (control entries
        // are stamped by the server when written: a backfill of older
        // events after them must still be counted minute by minute). Time
        // never runs backwards inside the engine: a late entry counts at
        // the engine's current minute.
        if kind == RecordKind::Access {
            self.state.newest_ms = self.state.newest_ms.max(rec.time_ms);
            if rec.time_ms > self.state.now_ms {
                self.advance(rec.time_ms, out);
            }
        }
        match kind {
            RecordKind::Access => self.on_access(rec, out),
            RecordKind::TokenRefused => self.on_refusal(rec, out),
            RecordKind::Offboard | RecordKind::ScimDeactivate => {
                if let Some(p) = rec.principal.as_deref() {
                    self.state
                        .offboarded
                        .entry(p.to_owned())
                        .or_insert(rec.time_ms);
                }
            }
            RecordKind::ScimReactivate => {
                if let Some(p) = rec.principal.as_deref() {
                    self.state.offboarded.remove(p);
                }
            }
            RecordKind::Authorize => self.on_authorize(rec, out),
            RecordKind::Other => {
                if rec.operation == "custos.token.key.retire"
                    && let Some(k) = rec.key.as_deref()
                {
                    self.state
                        .retired_keys
                        .entry(k.to_owned())
                        .or_insert(rec.time_ms);
                }
            }
            RecordKind::Finding => {}
        }
    }

    /// Moves the engine's clock to `now_ms` (an idle log: windows still
    /// close and day-end baselines still roll) and returns what that
    /// raises.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Finding> {
        let mut out = Vec::new();
        if now_ms > self.state.now_ms {
            self.advance(now_ms, &mut out);
        }
        out
    }

    /// [`Engine::tick`] for a live tail whose log is idle: moves the clock
    /// to `now_ms` but never more than a minute past the newest entry seen
    /// (the last minute's windows are checked; a backfill of older entries
    /// arriving later is still counted at its own time), and not at all
    /// before the first entry.
    pub fn tick_idle(&mut self, now_ms: i64) -> Vec<Finding> {
        if self.state.newest_ms == 0 {
            return Vec::new();
        }
        self.tick(now_ms.min(self.state.newest_ms.saturating_add(60_000)))
    }

    // ---- time ----------------------------------------------------------

    fn advance(&mut self, now_ms: i64, out: &mut Vec<Finding>) {
        let new_minute = minute_of(now_ms);
        let old_minute = self.state.minute;
        if self.state.now_ms == 0 {
            self.state.minute = new_minute;
            self.state.now_ms = now_ms;
            self.state
                .first_day
                .get_or_insert(new_minute / MINUTES_PER_DAY);
            return;
        }
        self.state.now_ms = now_ms;
        if new_minute == old_minute {
            return;
        }
        // Close the minute that just ended (checks run on the state as of
        // its end), then any hour and day boundaries crossed.
        self.check_short(old_minute, out);
        let old_hour = old_minute / 60;
        let new_hour = new_minute / 60;
        if new_hour != old_hour {
            self.check_long(old_minute, out);
        }
        let old_day = old_minute / MINUTES_PER_DAY;
        let new_day = new_minute / MINUTES_PER_DAY;
        if new_day != old_day {
            self.close_day(old_day);
        }
        self.state.minute = new_minute;
    }

    fn learning(&self, minute: u32) -> bool {
        let day = minute / MINUTES_PER_DAY;
        self.state
            .first_day
            .is_none_or(|f| day < f + self.config.thresholds.learning_days)
    }

    fn floor(&self, w: usize) -> u64 {
        let t = &self.config.thresholds;
        match w {
            0 => t.floor_10m,
            1 => t.floor_1h,
            _ => t.floor_24h,
        }
    }

    /// Every minute: short windows of entities touched since the last check.
    fn check_short(&mut self, minute: u32, out: &mut Vec<Finding>) {
        let keys = std::mem::take(&mut self.state.dirty);
        for key in keys {
            let Some(e) = self.state.entities.get_mut(&key) else {
                continue;
            };
            e.dirty = false;
            if key.0 == EntityKind::Dataset {
                // Only a coverage denominator: no short windows.
                continue;
            }
            // A sketch costs 4,096 registers per count: its 10-minute window
            // is checked every minute, its 1-hour window every 5 minutes,
            // its day every 15 (exact sets: every window, every minute).
            let n = if !e.distinct.is_sketch() {
                SHORT
            } else if minute.is_multiple_of(15) {
                3
            } else if minute.is_multiple_of(5) {
                2
            } else {
                1
            };
            let mut counts = [0u64; SHORT];
            e.distinct.count_many(
                minute,
                WINDOWS.get(..n).unwrap_or(&[]),
                counts.get_mut(..n).unwrap_or(&mut []),
            );
            for (v, c) in e.today.values.iter_mut().zip(counts).take(n) {
                *v = (*v).max(c.min(u64::from(u32::MAX)) as u32);
            }
            for (w, c) in counts.into_iter().enumerate().take(n) {
                self.check_volume(&key, w, c, minute, out);
            }
            if let Some(d) = self
                .state
                .entities
                .get(&key)
                .and_then(|e| e.denied.as_ref())
            {
                let c = d.count(minute, 60);
                if c > self.config.thresholds.denied_subjects_1h {
                    let f = self.finding(
                        &key,
                        "denied_subjects",
                        format!(
                            "{} distinct subjects refused to {} {} within 1 h",
                            c,
                            key.0.as_str(),
                            key.1
                        ),
                        Severity::High,
                        3_600,
                        c,
                        Vec::new(),
                        serde_json::Map::new(),
                    );
                    self.raise(f, out);
                }
            }
        }
    }

    /// Every hour: long windows (7–180 days) and coverage.
    fn check_long(&mut self, minute: u32, out: &mut Vec<Finding>) {
        let ids = std::mem::take(&mut self.state.dirty_hour);
        for id in ids {
            let key = (EntityKind::Principal, id);
            let Some(e) = self.state.entities.get(&key) else {
                continue;
            };
            let mut counts = [0u64; WINDOWS.len() - SHORT];
            e.distinct
                .count_many(minute, WINDOWS.get(SHORT..).unwrap_or(&[]), &mut counts);
            for (i, c) in counts.into_iter().enumerate() {
                self.check_volume(&key, SHORT + i, c, minute, out);
            }
        }
    }

    /// The day `day` has ended: record each active entity's day, roll the
    /// baselines, forget what is older than every window.
    fn close_day(&mut self, day: u32) {
        let end_minute = day * MINUTES_PER_DAY + MINUTES_PER_DAY - 1;
        let t = self.config.thresholds.clone();
        let keep_days = t.history_days + 1;
        self.state.entities.for_each_mut(|kind, e| {
            if e.events_today > 0 {
                let mut stat = std::mem::take(&mut e.today);
                stat.day = day;
                stat.alerted = e.alerted_today;
                for (i, v) in stat.values.iter_mut().enumerate().skip(SHORT - 1) {
                    let w = WINDOWS.get(i).copied().unwrap_or(0);
                    if i >= SHORT && kind != EntityKind::Principal {
                        continue;
                    }
                    *v = e.distinct.count(end_minute, w).min(u64::from(u32::MAX)) as u32;
                }
                e.history.push_back(stat);
            }
            e.today = DayStat::default();
            e.events_today = 0;
            e.alerted_today = false;
            while e.history.front().is_some_and(|d| d.day + keep_days <= day) {
                e.history.pop_front();
            }
            let mut base = [0u32; 7];
            let mut any = false;
            for (w, b) in base.iter_mut().enumerate() {
                if let Some(v) = e.self_baseline(w, day + 1, &t) {
                    *b = v;
                    any = true;
                }
            }
            e.self_base = any.then_some(base);
            let horizon = horizon(kind);
            e.distinct.expire((end_minute + 1).saturating_sub(horizon));
            if let Some(d) = e.denied.as_mut() {
                d.expire((end_minute + 1).saturating_sub(60));
            }
        });
        // Entities silent for longer than their horizon are forgotten.
        self.state
            .entities
            .retain(|kind, e| e.last_minute + horizon(kind) > end_minute || !e.distinct.is_empty());
        // Peer baselines: per group, the median of members' own baselines.
        let mut groups: BTreeMap<(EntityKind, String), Vec<[u32; 7]>> = BTreeMap::new();
        for (kind, _, e) in self.state.entities.iter() {
            if let (Some(g), Some(b)) = (&e.group, e.self_base) {
                groups.entry((kind, g.clone())).or_default().push(b);
            }
        }
        self.state.peers.clear();
        for (g, members) in groups {
            if (members.len() as u32) < t.min_peers {
                continue;
            }
            let mut base = [0u32; 7];
            for (w, b) in base.iter_mut().enumerate() {
                let mut v: Vec<u32> = members.iter().filter_map(|m| m.get(w).copied()).collect();
                v.sort_unstable();
                *b = v.get(v.len() / 2).copied().unwrap_or(0);
            }
            self.state.peers.insert(g, base);
        }
        self.state.raised.retain(|_, t0| {
            // Keep dedup marks for their period.
            *t0 + 86_400_000 * 7 > i64::from(end_minute) * 60_000
        });
    }

    // ---- the detectors ---------------------------------------------------

    fn on_access(&mut self, rec: &Record<'_>, out: &mut Vec<Finding>) {
        let minute = minute_of(rec.time_ms).max(self.state.minute);
        self.state.stats.accesses += 1;
        self.state.stats.subject_accesses += rec.subjects.len() as u64;
        let hashes: Vec<u64> = rec.subjects.iter().map(|s| subject_hash(s)).collect();
        let customer = rec.actor_kind == Some(ActorKind::Customer);
        let allowed = rec.allowed();
        let network = rec.src_ip.as_deref().and_then(network_of);

        // Checks on the single entry.
        self.single_checks(rec, customer, out);

        // (kind, id, peer group) of every entity the access counts for.
        let mut list: Vec<(EntityKind, &str, Option<&str>)> = Vec::with_capacity(6);
        if !customer && !rec.actor.is_empty() {
            list.push((EntityKind::Principal, &rec.actor, None));
        }
        // Keys, issuers, networks and countries count what customer tokens
        // reach (where a forged-token campaign shows: each token is "one
        // customer"); staff, supplier staff and services are counted per
        // principal above, so one bulk read raises one finding, not six.
        if customer {
            if let Some(k) = rec.kid.as_deref() {
                list.push((EntityKind::Kid, k, None));
            }
            if let Some(i) = rec.issuer.as_deref() {
                list.push((EntityKind::Issuer, i, None));
            }
            if let Some(net) = network.as_deref() {
                list.push((
                    EntityKind::Network,
                    net,
                    Some(rec.src_country.as_deref().unwrap_or("-")),
                ));
            }
            if let Some(c) = rec.src_country.as_deref() {
                list.push((EntityKind::Country, c, None));
            }
        }
        if let Some(d) = rec.dataset.as_deref() {
            list.push((EntityKind::Dataset, d, None));
        }
        for (kind, id, group) in list {
            let new_group = if kind == EntityKind::Principal
                && self
                    .state
                    .entities
                    .get_ref(kind, id)
                    .is_none_or(|e| e.group.is_none())
            {
                Some(self.context.peer_group(id).unwrap_or_else(|| {
                    format!(
                        "{}/{}",
                        rec.actor_kind.map_or("unknown", ActorKind::as_str),
                        rec.service.as_deref().unwrap_or("-")
                    )
                }))
            } else {
                group.map(str::to_owned)
            };
            let e = self.state.entities.entry(kind, id);
            if e.group.is_none() {
                e.group = new_group;
            }
            let was_dirty = e.dirty;
            e.note(rec.index, rec.time_ms, minute);
            if allowed {
                for &h in &hashes {
                    e.distinct.insert(h, minute);
                }
            } else if matches!(
                kind,
                EntityKind::Kid | EntityKind::Network | EntityKind::Country
            ) {
                let d = e.denied.get_or_insert_with(SlidingDistinct::new);
                for &h in &hashes {
                    d.insert(h, minute);
                }
            }
            if !was_dirty {
                self.state.dirty.insert((kind, id.to_owned()));
                if kind == EntityKind::Principal {
                    self.state.dirty_hour.insert(id.to_owned());
                }
            }
        }
    }

    /// Checks that need only the entry and what is known about its token,
    /// key and principal.
    fn single_checks(&mut self, rec: &Record<'_>, customer: bool, out: &mut Vec<Finding>) {
        // A token that was never issued: a forged token signed with a real key.
        if let (Some(iss), Some(jti)) = (rec.issuer.as_deref(), rec.jti.as_deref())
            && self.context.token_issued(iss, rec.kid.as_deref(), jti) == Some(false)
        {
            let kid = rec.kid.as_deref().unwrap_or(iss);
            let mut d = serde_json::Map::new();
            d.insert("issuer".into(), Value::from(iss));
            d.insert("allowed".into(), Value::from(rec.allowed()));
            let f = self.single(
                rec,
                EntityKind::Kid,
                kid,
                "token.never_issued",
                format!(
                    "A token signed with key {kid} that was never issued was presented (forged with a real key)"
                ),
                Severity::Critical,
                d,
            );
            self.raise(f, out);
        }
        // A key retired before the access.
        if let Some(kid) = rec.kid.as_deref() {
            let retired = self
                .state
                .retired_keys
                .get(kid)
                .copied()
                .or_else(|| self.context.key_state(kid).and_then(|k| k.retired_at_ms));
            if let Some(at) = retired
                && at <= rec.time_ms
                && rec.allowed()
            {
                let mut d = serde_json::Map::new();
                d.insert("retired_at_ms".into(), Value::from(at));
                let f = self.single(
                    rec,
                    EntityKind::Kid,
                    kid,
                    "token.retired_key",
                    format!("Data was served to a token signed with retired key {kid}"),
                    Severity::Critical,
                    d,
                );
                self.raise(f, out);
            }
        }
        // A principal used after its offboarding.
        if !customer && !rec.actor.is_empty() {
            let off = self
                .state
                .offboarded
                .get(rec.actor.as_ref())
                .copied()
                .or_else(|| self.context.offboarded_ms(&rec.actor));
            if let Some(at) = off
                && at <= rec.time_ms
            {
                let mut d = serde_json::Map::new();
                d.insert("offboarded_at_ms".into(), Value::from(at));
                d.insert("allowed".into(), Value::from(rec.allowed()));
                let actor = rec.actor.to_string();
                let f = self.single(
                    rec,
                    EntityKind::Principal,
                    &actor,
                    "principal.offboarded_access",
                    format!("{actor} accessed personal data after being offboarded"),
                    Severity::Critical,
                    d,
                );
                self.raise(f, out);
            }
        }
        // Residency.
        if let (Some(ds), Some(kind)) = (rec.dataset.as_deref(), rec.actor_kind)
            && let Some(rule) = self.config.residency.get(ds)
            && rule.kinds.contains(&kind)
        {
            let country = rec.src_country.as_deref().unwrap_or("unknown");
            if !rule.allowed.iter().any(|c| c == country) {
                let mut d = serde_json::Map::new();
                d.insert("dataset".into(), Value::from(ds));
                d.insert("country".into(), Value::from(country));
                d.insert("allowed".into(), Value::from(rule.allowed.clone()));
                d.insert("principal".into(), Value::from(rec.actor.as_ref()));
                let id = format!("{ds}@{country}");
                let f = self.single(
                    rec,
                    EntityKind::Dataset,
                    &id,
                    "residency.outside",
                    format!(
                        "{} read dataset {ds} from {country}, outside its residency ({})",
                        rec.actor,
                        rule.allowed.join(", ")
                    ),
                    Severity::High,
                    d,
                );
                self.raise(f, out);
            }
        }
    }

    fn on_refusal(&mut self, rec: &Record<'_>, out: &mut Vec<Finding>) {
        let code = rec.refusal.as_deref().unwrap_or("unknown");
        let kid = rec.kid.as_deref().unwrap_or("-").to_owned();
        let forgery = matches!(code, "never_issued" | "retired_kid" | "offboarded_subject");
        let mut d = serde_json::Map::new();
        d.insert("refusal".into(), Value::from(code));
        if let Some(c) = rec.src_country.as_deref() {
            d.insert("country".into(), Value::from(c));
        }
        if forgery {
            let f = self.single(
                rec,
                EntityKind::Kid,
                &kid,
                &format!("token.refused.{code}"),
                format!("Introspection refused a well-signed token of key {kid}: {code}"),
                Severity::Critical,
                d,
            );
            self.raise(f, out);
            return;
        }
        // Others (expired, revoked, bad signature, …) are ordinary alone;
        // many from one key in 10 minutes are not.
        let minute = self.state.minute;
        let counter = format!("refusals|{kid}");
        let n = {
            let c = self.state.counters.entry(counter).or_insert((minute, 0));
            if minute >= c.0 + 10 {
                *c = (minute, 0);
            }
            c.1 += 1;
            c.1
        };
        if n == self.config.thresholds.refusals_10m {
            d.insert("count_10m".into(), Value::from(n));
            let f = self.single(
                rec,
                EntityKind::Kid,
                &kid,
                "token.refusals",
                format!("{n} tokens of key {kid} refused by introspection within 10 minutes"),
                Severity::Medium,
                d,
            );
            self.raise(f, out);
        }
    }

    fn on_authorize(&mut self, rec: &Record<'_>, out: &mut Vec<Finding>) {
        if rec.allowed() {
            return;
        }
        let Some(p) = rec.principal.as_deref() else {
            return;
        };
        let minute = self.state.minute;
        let counter = format!("authz|{p}");
        let n = {
            let c = self.state.counters.entry(counter).or_insert((minute, 0));
            if minute >= c.0 + 60 {
                *c = (minute, 0);
            }
            c.1 += 1;
            c.1
        };
        let limit = rec.reasons.iter().any(|r| r == "daily_subject_limit");
        if limit || n == self.config.thresholds.authorize_denied_1h {
            let mut d = serde_json::Map::new();
            d.insert("reasons".into(), Value::from(rec.reasons.clone()));
            d.insert("refused_1h".into(), Value::from(n));
            let p = p.to_owned();
            let f = self.single(
                rec,
                EntityKind::Principal,
                &p,
                if limit {
                    "access.daily_limit"
                } else {
                    "access.outside_grant"
                },
                if limit {
                    format!("{p} asked for subjects above its grant's daily limit")
                } else {
                    format!("{p} was refused {n} times within an hour: access outside its grants")
                },
                if limit {
                    Severity::High
                } else {
                    Severity::Medium
                },
                d,
            );
            self.raise(f, out);
        }
    }

    /// A window count against floor, own baseline and peers.
    fn check_volume(
        &mut self,
        key: &Key,
        w: usize,
        count: u64,
        minute: u32,
        out: &mut Vec<Finding>,
    ) {
        let t = &self.config.thresholds;
        let Some(e) = self.state.entities.get(key) else {
            return;
        };
        let long = w >= SHORT;
        let floor = if long { 0 } else { self.floor(w) };
        if !long && count <= floor {
            return;
        }
        let mut baselines = Vec::new();
        let own = e.self_base.and_then(|b| b.get(w).copied());
        let peer = e
            .group
            .as_ref()
            .and_then(|g| self.state.peers.get(&(key.0, g.clone())))
            .and_then(|b| b.get(w).copied());
        let mut limit = floor as f64;
        if let Some(v) = own {
            let l = f64::from(v.max(1)) * t.self_factor;
            baselines.push(Baseline {
                kind: "self".into(),
                value: f64::from(v),
                limit: l,
                group: None,
            });
            limit = limit.max(l);
        }
        if let Some(v) = peer {
            let l = f64::from(v.max(1)) * t.peer_factor;
            baselines.push(Baseline {
                kind: "peer".into(),
                value: f64::from(v),
                limit: l,
                group: e.group.clone(),
            });
            limit = limit.max(l);
        }
        if long {
            // Long windows only with a peer group to compare with, and the
            // dataset-coverage share on top.
            if peer.is_none() {
                return;
            }
            // 90 and 180 days: only a share of the dataset worth a
            // coverage alert (7 and 30 days: low-and-slow, any size).
            if w >= SHORT + 2 {
                let size = self.dataset_size();
                let share = size.map(|s| count as f64 / s as f64);
                if share.is_some_and(|s| s < t.coverage_share) {
                    return;
                }
            }
        } else if own.is_none() && peer.is_none() {
            limit = floor as f64 * t.cold_factor;
            baselines.push(Baseline {
                kind: "threshold".into(),
                value: floor as f64,
                limit,
                group: None,
            });
        } else {
            baselines.insert(
                0,
                Baseline {
                    kind: "threshold".into(),
                    value: floor as f64,
                    limit: floor as f64,
                    group: None,
                },
            );
        }
        if (count as f64) <= limit {
            return;
        }
        if self.learning(minute) && (count as f64) <= floor as f64 * t.learning_ceiling {
            return;
        }
        let name = WINDOW_NAMES.get(w).copied().unwrap_or("?");
        let window_s = u64::from(WINDOWS.get(w).copied().unwrap_or(0)) * 60;
        let severity = if count as f64 > 4.0 * limit {
            Severity::High
        } else {
            Severity::Medium
        };
        let mut d = serde_json::Map::new();
        d.insert("window".into(), Value::from(name));
        if long && let Some(s) = self.dataset_size() {
            d.insert(
                "coverage_share".into(),
                Value::from(count as f64 / s as f64),
            );
        }
        let detector = if long {
            "coverage"
        } else {
            "distinct_subjects"
        };
        let title = format!(
            "{} {} read {} distinct subjects within {} (limit {:.0})",
            key.0.as_str(),
            key.1,
            count,
            name,
            limit
        );
        let f = self.finding(
            key, detector, title, severity, window_s, count, baselines, d,
        );
        self.raise(f, out);
    }

    /// The biggest dataset's size: configured, else its 180-day distinct
    /// (estimated once an hour).
    fn dataset_size(&self) -> Option<u64> {
        if let Some(v) = self.config.dataset_sizes.values().max() {
            return Some(*v);
        }
        let hour = self.state.minute / 60;
        if let Some((h, v)) = self.dataset_cache.get()
            && h == hour
        {
            return v;
        }
        let v = self
            .state
            .entities
            .map(EntityKind::Dataset)
            .values()
            .map(|e| e.distinct.count(self.state.minute, WINDOWS[6]))
            .max();
        self.dataset_cache.set(Some((hour, v)));
        v
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        key: &Key,
        detector: &str,
        title: String,
        severity: Severity,
        window_s: u64,
        subjects: u64,
        baselines: Vec<Baseline>,
        details: serde_json::Map<String, Value>,
    ) -> Finding {
        let e = self.state.entities.get(key);
        let from = self
            .state
            .minute
            .saturating_sub((window_s / 60).max(1) as u32);
        let indices: Vec<u64> = e
            .map(|e| {
                e.recent
                    .iter()
                    .filter(|(_, m)| *m >= from)
                    .map(|(i, _)| *i)
                    .collect()
            })
            .unwrap_or_default();
        let first = indices
            .first()
            .copied()
            .unwrap_or(self.state.next_index.saturating_sub(1));
        Finding {
            uid: format!("{detector}:{}:{}:{first}", key.0.as_str(), key.1),
            detector: detector.to_owned(),
            title,
            severity,
            entity: Entity {
                kind: key.0,
                id: key.1.clone(),
            },
            window_s,
            first_seen_ms: e.map_or(self.state.now_ms, |e| e.first_ms_today),
            last_seen_ms: e.map_or(self.state.now_ms, |e| e.last_ms),
            time_ms: self.state.now_ms,
            raised_at_index: self.state.next_index.saturating_sub(1),
            analytic_type: 3,
            evidence: Evidence {
                indices: indices.into_iter().take(MAX_EVIDENCE_INDICES).collect(),
                events: e.map_or(0, |e| e.events_today),
                subjects,
                estimated: e.is_some_and(|e| e.distinct.is_sketch()),
                baselines,
                details,
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn single(
        &self,
        rec: &Record<'_>,
        kind: EntityKind,
        id: &str,
        detector: &str,
        title: String,
        severity: Severity,
        details: serde_json::Map<String, Value>,
    ) -> Finding {
        Finding {
            uid: format!("{detector}:{}:{id}:{}", kind.as_str(), rec.index),
            detector: detector.to_owned(),
            title,
            severity,
            entity: Entity {
                kind,
                id: id.to_owned(),
            },
            window_s: 0,
            first_seen_ms: rec.time_ms,
            last_seen_ms: rec.time_ms,
            time_ms: rec.time_ms.max(self.state.now_ms),
            raised_at_index: rec.index,
            analytic_type: 1,
            evidence: Evidence {
                indices: vec![rec.index],
                events: 1,
                subjects: rec.subjects.len() as u64,
                estimated: false,
                baselines: Vec::new(),
                details,
            },
        }
    }

    /// Emits `f` unless the same detector fired on the same entity within
    /// the dedup period.
    fn raise(&mut self, f: Finding, out: &mut Vec<Finding>) {
        let key = f.dedup_key();
        let dedup_ms = (self.config.dedup_s as i64).saturating_mul(1_000);
        if let Some(&t0) = self.state.raised.get(&key)
            && f.time_ms < t0.saturating_add(dedup_ms)
        {
            self.state.stats.merged += 1;
            return;
        }
        self.state.raised.insert(key, f.time_ms);
        // Only volume findings keep a day out of the entity's baseline (a
        // forged token on a key says nothing about the key's usual volume).
        let volume = f.detector == "distinct_subjects" || f.detector == "coverage";
        if volume
            && let Some(e) = self
                .state
                .entities
                .get_mut(&(f.entity.kind, f.entity.id.clone()))
        {
            e.alerted_today = true;
        }
        self.state.stats.findings += 1;
        out.push(f);
    }
}

/// Maps with tuple keys as lists of pairs (JSON keys must be strings).
mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        m: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    pub(super) fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

/// Minutes of history an entity kind keeps.
fn horizon(kind: EntityKind) -> u32 {
    match kind {
        EntityKind::Principal | EntityKind::Dataset => WINDOWS[6],
        EntityKind::Network => MINUTES_PER_DAY,
        EntityKind::Kid | EntityKind::Issuer | EntityKind::Country => MINUTES_PER_DAY,
    }
}

/// The source network of an address: IPv4 /24, IPv6 /48.
pub fn network_of(ip: &str) -> Option<String> {
    match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            Some(format!("{}.{}.{}.0/24", o[0], o[1], o[2]))
        }
        std::net::IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                let o = v4.octets();
                return Some(format!("{}.{}.{}.0/24", o[0], o[1], o[2]));
            }
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]))
        }
    }
}
