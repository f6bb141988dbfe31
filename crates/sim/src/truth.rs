//! Ground truth: what a run contains, counted as it streams ([`Tally`]), and
//! the JSON summary a `--truth` file holds ([`Truth`]).

use std::collections::BTreeMap;

use events::ActorKind;
use serde::Serialize;

use crate::episodes::Episode;
use crate::event::{Label, SimEvent};
use crate::time::{DAY_MS, format_rfc3339};
use crate::world::{KEYS, SigningKey, World};

/// Counts of one UTC day of the run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// Events of the day.
    pub events: u64,
    /// Attack requests for real customers.
    pub attack_events: u64,
    /// Attack requests for customer ids that do not exist.
    pub unknown_member_events: u64,
    /// Probe requests.
    pub probe_events: u64,
    /// Distinct customers the attack read that day.
    pub distinct_victims: u64,
}

/// Counters over the events that were output.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Events.
    pub events: u64,
    /// Bytes of NDJSON (including newlines), as reported to [`Tally::record`].
    pub bytes: u64,
    /// Sum over events of their number of subjects.
    pub subject_accesses: u64,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
    by_kind: BTreeMap<&'static str, u64>,
    by_label: BTreeMap<&'static str, u64>,
    /// Distinct attack victims (victim indices are consecutive in output
    /// order, so counting changes of index counts distinct victims).
    victims: u64,
    last_victim: Option<u64>,
    first_victim: Option<u64>,
    victims_by_country: BTreeMap<&'static str, u64>,
    attacker_sources: BTreeMap<&'static str, u64>,
    attack_first_ms: Option<i64>,
    attack_last_ms: Option<i64>,
    days: BTreeMap<i64, DayCount>,
    /// Per episode (index `id - 1`).
    episodes: Vec<EpisodeCount>,
}

#[derive(Clone, Debug, Default)]
struct EpisodeCount {
    events: u64,
    subject_accesses: u64,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
}

impl Tally {
    /// Counts one event whose NDJSON line (with newline) took `bytes`.
    pub fn record(&mut self, ev: &SimEvent<'_>, bytes: u64) {
        let t = ev.time_ms();
        self.events += 1;
        self.bytes += bytes;
        self.subject_accesses += ev.subject_count();
        self.first_ms.get_or_insert(t);
        self.last_ms = Some(t);
        *self.by_kind.entry(ev.actor_kind().as_str()).or_default() += 1;
        let label = ev.label();
        *self.by_label.entry(label.as_str()).or_default() += 1;
        let day = t.div_euclid(DAY_MS);
        let d = self.days.entry(day).or_insert_with(|| DayCount {
            date: format_rfc3339(day * DAY_MS).chars().take(10).collect(),
            ..DayCount::default()
        });
        d.events += 1;
        if let Some(id) = ev.episode() {
            let i = usize::from(id).saturating_sub(1);
            if self.episodes.len() <= i {
                self.episodes.resize(i + 1, EpisodeCount::default());
            }
            if let Some(e) = self.episodes.get_mut(i) {
                e.events += 1;
                e.subject_accesses += ev.subject_count();
                e.first_ms.get_or_insert(t);
                e.last_ms = Some(t);
            }
        }
        match label {
            Label::Background | Label::Malicious => return,
            Label::Probe => d.probe_events += 1,
            Label::UnknownMember => d.unknown_member_events += 1,
            Label::Attack => {
                d.attack_events += 1;
                if let Some(k) = ev.attack_victim()
                    && self.last_victim != Some(k)
                {
                    self.last_victim = Some(k);
                    let first = *self.first_victim.get_or_insert(k);
                    self.victims += 1;
                    d.distinct_victims += 1;
                    let customers = ev.world.config.customers;
                    // After every customer has been read once, the attacker's
                    // order wraps: count countries of the first round only.
                    if k.checked_sub(first).is_some_and(|d| d < customers) {
                        let c = ev.world.attack_victim(k);
                        *self
                            .victims_by_country
                            .entry(ev.world.customer_country(c))
                            .or_default() += 1;
                    }
                }
            }
        }
        *self
            .attacker_sources
            .entry(ev.source_country())
            .or_default() += 1;
        self.attack_first_ms.get_or_insert(t);
        self.attack_last_ms = Some(t);
    }

    /// Events of `kind`.
    #[must_use]
    pub fn kind_count(&self, kind: ActorKind) -> u64 {
        self.by_kind.get(kind.as_str()).copied().unwrap_or(0)
    }

    /// Events labelled `label`.
    #[must_use]
    pub fn label_count(&self, label: Label) -> u64 {
        self.by_label.get(label.as_str()).copied().unwrap_or(0)
    }

    /// Events of episode `id`.
    #[must_use]
    pub fn episode_events(&self, id: u16) -> u64 {
        self.episode(id).map_or(0, |e| e.events)
    }

    fn episode(&self, id: u16) -> Option<&EpisodeCount> {
        self.episodes.get(usize::from(id).checked_sub(1)?)
    }

    /// Distinct customers read by the attack in the output (at most the
    /// number of customers).
    #[must_use]
    pub fn distinct_victims(&self, customers: u64) -> u64 {
        self.victims.min(customers)
    }
}

/// A time window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Start (RFC 3339, inclusive).
    pub start: String,
    /// End (RFC 3339, exclusive).
    pub end: String,
}

impl Window {
    fn new(start: i64, end: i64) -> Window {
        Window {
            start: format_rfc3339(start),
            end: format_rfc3339(end),
        }
    }
}

/// The departed engineer, for the truth file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DepartedTruth {
    /// Principal id.
    pub id: String,
    /// Department.
    pub department: &'static str,
    /// Role.
    pub role: &'static str,
    /// Offboarding time (RFC 3339).
    pub departed_at: String,
    /// The signing key he kept.
    pub kept_kid: &'static str,
}

/// What the attack did in this run's output.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttackInOutput {
    /// Probe requests.
    pub probe_events: u64,
    /// Requests for real customers.
    pub attack_events: u64,
    /// Requests for customer ids that do not exist (refused).
    pub unknown_member_events: u64,
    /// Distinct customers read.
    pub distinct_victims: u64,
    /// Distinct customers read, by the customer's country.
    pub victims_by_country: BTreeMap<&'static str, u64>,
    /// Attacker requests (probe, attack, unknown member) by source country.
    pub source_countries: BTreeMap<&'static str, u64>,
    /// Attack requests per second over the part of the attack window inside
    /// the run.
    pub attack_requests_per_second: f64,
    /// First attacker request (RFC 3339).
    pub first: Option<String>,
    /// Last attacker request (RFC 3339).
    pub last: Option<String>,
}

/// The attack scenario's facts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttackTruth {
    /// The stolen key's id: forged tokens carry it, as real customer tokens do.
    pub kid: &'static str,
    /// The real customer-token issuer, also carried by forged tokens.
    pub issuer: &'static str,
    /// The service the forged tokens were used at.
    pub service: &'static str,
    /// How forged tokens can be told apart.
    pub forged_tokens: &'static str,
    /// Who kept the key.
    pub departed_engineer: Option<DepartedTruth>,
    /// Probing days.
    pub probe_window: Window,
    /// The mass attack.
    pub attack_window: Window,
    /// Configured distinct customers a day.
    pub victims_per_day: u64,
    /// Configured requests a second for real customers.
    pub requests_per_second: f64,
    /// Configured unknown-member tokens per victim.
    pub unknown_members_per_victim: f64,
    /// Attacker source countries.
    pub countries: Vec<String>,
    /// What reached this run's output.
    pub in_output: AttackInOutput,
}

/// What an episode put in this run's output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EpisodeInOutput {
    /// Its events.
    pub events: u64,
    /// Sum over its events of their subjects.
    pub subject_accesses: u64,
    /// Its first event (RFC 3339).
    pub first: Option<String>,
    /// Its last event (RFC 3339).
    pub last: Option<String>,
}

/// An episode in the truth file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpisodeTruth {
    /// The episode (id, scenario, malicious, actors, start and end in ms,
    /// description).
    #[serde(flatten)]
    pub episode: Episode,
    /// Its start (RFC 3339).
    pub start: String,
    /// Its end (RFC 3339, exclusive).
    pub end: String,
    /// What reached this run's output.
    pub in_output: EpisodeInOutput,
}

/// The ground-truth summary of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Truth {
    /// The generator and its output format.
    pub generator: &'static str,
    /// The seed.
    pub seed: u64,
    /// The run's window.
    pub window: Window,
    /// Customers.
    pub customers: u64,
    /// Employees, supplier staff, services.
    pub principals: BTreeMap<&'static str, u64>,
    /// Suppliers.
    pub suppliers: u64,
    /// Background events a day (configured).
    pub events_per_day: u64,
    /// Events written.
    pub events: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Sum of subjects over events.
    pub subject_accesses: u64,
    /// Events by actor kind.
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Events by ground-truth label.
    pub by_label: BTreeMap<&'static str, u64>,
    /// Per UTC day.
    pub days: Vec<DayCount>,
    /// The signing keys.
    pub keys: Vec<SigningKey>,
    /// The attack, if it was simulated.
    pub attack: Option<AttackTruth>,
    /// Every episode (the attack's and the scenarios'), by id.
    pub episodes: Vec<EpisodeTruth>,
}

impl Truth {
    /// The summary of `world`'s run whose output `tally` counted.
    #[must_use]
    pub fn new(world: &World, tally: &Tally) -> Truth {
        let c = &world.config;
        let run_start = c.start_ms;
        let run_end = c.start_ms + c.duration_ms();
        let mut principals = BTreeMap::new();
        for p in &world.principals {
            *principals.entry(p.kind.as_str()).or_default() += 1;
        }
        let attack = c.attack.as_ref().zip(world.attack_times).map(|(a, t)| {
            let from = t.start_ms.max(run_start);
            let to = t.end_ms.min(run_end);
            let attack_events = tally.label_count(Label::Attack);
            AttackTruth {
                kid: KEYS[0].kid,
                issuer: KEYS[0].issuer,
                service: "customer-gateway",
                forged_tokens: "same kid and issuer as real customer tokens; jti never issued \
                    (absent from the --issued records; World::jti_issued is false)",
                departed_engineer: world.departed_engineer().map(|d| DepartedTruth {
                    id: d.id,
                    department: d.department,
                    role: d.role,
                    departed_at: format_rfc3339(d.departed_ms),
                    kept_kid: d.kept_kid,
                }),
                probe_window: Window::new(t.probe_start_ms, t.start_ms),
                attack_window: Window::new(t.start_ms, t.end_ms),
                victims_per_day: a.victims_per_day,
                requests_per_second: a.requests_per_second,
                unknown_members_per_victim: a.unknown_members_per_victim,
                countries: a.countries.clone(),
                in_output: AttackInOutput {
                    probe_events: tally.label_count(Label::Probe),
                    attack_events,
                    unknown_member_events: tally.label_count(Label::UnknownMember),
                    distinct_victims: tally.distinct_victims(c.customers),
                    victims_by_country: tally.victims_by_country.clone(),
                    source_countries: tally.attacker_sources.clone(),
                    attack_requests_per_second: if to > from {
                        attack_events as f64 * 1000.0 / (to - from) as f64
                    } else {
                        0.0
                    },
                    first: tally.attack_first_ms.map(format_rfc3339),
                    last: tally.attack_last_ms.map(format_rfc3339),
                },
            }
        });
        Truth {
            generator: "custos sim (events input format, docs/events.md)",
            seed: c.seed,
            window: Window::new(run_start, run_end),
            customers: c.customers,
            principals,
            suppliers: world.suppliers.len() as u64,
            events_per_day: c.events_per_day,
            events: tally.events,
            bytes: tally.bytes,
            subject_accesses: tally.subject_accesses,
            by_kind: tally.by_kind.clone(),
            by_label: tally.by_label.clone(),
            days: tally.days.values().cloned().collect(),
            keys: KEYS.to_vec(),
            attack,
            episodes: world
                .episodes
                .iter()
                .map(|e| {
                    let count = tally.episode(e.id).cloned().unwrap_or_default();
                    EpisodeTruth {
                        start: format_rfc3339(e.start_ms),
                        end: format_rfc3339(e.end_ms),
                        in_output: EpisodeInOutput {
                            events: count.events,
                            subject_accesses: count.subject_accesses,
                            first: count.first_ms.map(format_rfc3339),
                            last: count.last_ms.map(format_rfc3339),
                        },
                        episode: e.clone(),
                    }
                })
                .collect(),
        }
    }
}
