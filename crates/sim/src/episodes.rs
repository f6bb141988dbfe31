//! Episodes: the occurrences of scenarios in a run, with their ground truth
//! ([`Episode`]), resolved once from the configuration into plans, and the
//! malicious scenarios' events.
//!
//! Malicious schedules are pure functions of `(seed, episode, item)`: item
//! `j` of `count` items spread over a span is at `(j + 0.1 + 0.8·u) ·
//! span / count` (as the forged-token attack's requests are), so any
//! minute's items are computed without state and in order. Distinct
//! customers come from consecutive positions of the bulk permutation from
//! a random base, so they are distinct without remembering any (until the
//! episode has read every customer).

use events::Decision;
use serde::Serialize;

use crate::config::{Config, ConfigError};
use crate::event::{self, Cred, Ev, Label, Op, Purpose, Subjects};
use crate::generator::{Sink, Who, principal_who};
use crate::net;
use crate::rng::{SplitMix64, below, hash, unit};
use crate::scenario::{Scenario, resolve_start};
use crate::time::{DAY_MS, HOUR_MS, format_rfc3339};
use crate::world::{ActorRef, Groups, KEY_PARTNER, KEY_WORKFORCE, Principal};

mod tag {
    pub const ACTOR: u64 = 301;
    pub const SIZE: u64 = 302;
    pub const BASE: u64 = 303;
    pub const TIME: u64 = 304;
    pub const PURPOSE: u64 = 305;
    pub const GAP: u64 = 306;
    pub const BOT: u64 = 307;
    pub const BOT_IP: u64 = 308;
    pub const TARGET: u64 = 309;
    pub const OUTCOME: u64 = 310;
    pub const TOKEN: u64 = 311;
    pub const PER_DAY: u64 = 312;
}

/// One occurrence of a scenario in a run: the ground truth an evaluation
/// scores detectors against.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Episode {
    /// Its id, from 1, carried by its events ([`crate::SimEvent::episode`]).
    /// The forged-token attack, when configured, is 1; scenarios follow in
    /// the order of [`Config::scenarios`].
    pub id: u16,
    /// The scenario's name (`forged_token`, `admin_bulk_dump`, …).
    pub scenario: &'static str,
    /// An attack (its events are labelled as the attacker's) or a benign
    /// look-alike (its events stay [`crate::Label::Background`]).
    pub malicious: bool,
    /// Who acts: principal ids (`emp-…`, `sst-…`, `svc-…`), or `botnet`;
    /// for the forged-token attack, the departed engineer who kept the key.
    pub actors: Vec<String>,
    /// When the (malicious) activity starts, ms since the epoch: what
    /// time-to-detect is measured from. For `forged_token`, the mass attack
    /// (probes come before it).
    pub start_ms: i64,
    /// When it ends (exclusive), ms since the epoch; it may lie beyond the
    /// run.
    pub end_ms: i64,
    /// What happens, in one line.
    pub description: String,
}

/// What an episode generates.
#[derive(Clone, Debug)]
pub(crate) enum PlanKind {
    /// The admin dump: export event `j` reads bulk positions
    /// `base + prefix[j] .. base + prefix[j + 1]`.
    Export {
        who: u32,
        base: u64,
        prefix: Vec<u64>,
    },
    /// Low-and-slow (`scrape` false) or supplier scrape: day `d` reads
    /// bulk positions `base + prefix[d] ..` in a `span` from its start.
    Daily {
        who: u32,
        base: u64,
        prefix: Vec<u64>,
        span: i64,
        scrape: bool,
    },
    /// Credential stuffing.
    Stuffing {
        attempts: u64,
        success: f64,
        unknown: f64,
        addresses: u64,
        countries: Vec<&'static str>,
    },
    /// Benign: these agents' extra tickets.
    HeavyCs { agents: Vec<u32>, factor: f64 },
    /// Benign: extra fulfilment waves.
    Fulfilment { factor: f64 },
    /// Benign: extra campaign exports.
    Campaign { factor: f64 },
    /// Benign: the whole background, more.
    Holiday { factor: f64 },
}

/// An episode as the generator needs it.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub id: u16,
    pub start: i64,
    pub end: i64,
    pub kind: PlanKind,
}

fn no_actor(what: &'static str) -> ConfigError {
    ConfigError {
        field: what,
        reason: "the company has nobody in this role (raise employees or suppliers)".into(),
    }
}

/// `count` distinct picks from `group`, by a partial Fisher–Yates shuffle.
fn choose(group: &[u32], count: usize, rng: &mut SplitMix64) -> Vec<u32> {
    let mut v = group.to_vec();
    let count = count.min(v.len());
    for i in 0..count {
        let j = i + rng.below((v.len() - i) as u64) as usize;
        v.swap(i, j);
    }
    v.truncate(count);
    v
}

/// Daily counts in `lo..=hi` and their prefix sums.
fn daily_prefix(seed: u64, id: u64, days: u32, lo: u32, hi: u32) -> Vec<u64> {
    let mut prefix = vec![0u64];
    let mut sum = 0u64;
    for d in 0..u64::from(days) {
        let mut rng = SplitMix64::new(hash(seed, tag::PER_DAY, id, d));
        sum += rng.between(u64::from(lo), u64::from(hi));
        prefix.push(sum);
    }
    prefix
}

/// Resolves the scenarios of `config` (ids from `first_id`) into episodes
/// and plans; the low-and-slow insiders are offboarded at their departure.
pub(crate) fn build(
    config: &Config,
    principals: &mut [Principal],
    groups: &Groups,
    first_id: u16,
) -> Result<(Vec<Episode>, Vec<Plan>), ConfigError> {
    let seed = config.seed;
    let mut episodes = Vec::new();
    let mut plans = Vec::new();
    let role = |group: &[u32], role: &str, ps: &[Principal]| -> Vec<u32> {
        group
            .iter()
            .copied()
            .filter(|&i| ps.get(i as usize).is_some_and(|p| p.role == role))
            .collect()
    };
    let name_of = |ps: &[Principal], i: u32| ps.get(i as usize).map(|p| p.id.clone());
    for (n, scenario) in config.scenarios.iter().enumerate() {
        let id = first_id + n as u16;
        let id64 = u64::from(id);
        let start = resolve_start(config, scenario);
        let end = start + scenario.duration_ms();
        let mut rng = SplitMix64::new(hash(seed, tag::ACTOR, id64, 0));
        let base = hash(seed, tag::BASE, id64, 0) % config.customers;
        let (kind, actors, description) = match scenario {
            Scenario::AdminBulkDump(s) => {
                let mut pool = role(&groups.engineers, "sre", principals);
                if pool.is_empty() {
                    pool.clone_from(&groups.engineers);
                }
                let who = *choose(&pool, 1, &mut rng)
                    .first()
                    .ok_or_else(|| no_actor("admin_bulk_dump"))?;
                let total = s.customers.min(config.customers);
                let mut prefix = vec![0u64];
                let mut sum = 0u64;
                let mut j = 0u64;
                while sum < total {
                    let mut r = SplitMix64::new(hash(seed, tag::SIZE, id64, j));
                    let n = r.between(u64::from(s.min_subjects), u64::from(s.max_subjects));
                    sum = (sum + n).min(total);
                    prefix.push(sum);
                    j += 1;
                }
                let who_id = name_of(principals, who).unwrap_or_default();
                let description = format!(
                    "{who_id} (engineering, sre, office network) exports {total} distinct \
                     customers in {j} admin-console events of {}-{} over {} h",
                    s.min_subjects, s.max_subjects, s.hours
                );
                (
                    PlanKind::Export { who, base, prefix },
                    vec![who_id],
                    description,
                )
            }
            Scenario::LowAndSlow(s) => {
                let pool: Vec<u32> = role(&groups.cs_staff, "agent", principals)
                    .into_iter()
                    .filter(|&i| {
                        principals
                            .get(i as usize)
                            .is_some_and(|p| p.offboarded_ms.is_none())
                    })
                    .collect();
                let who = *choose(&pool, 1, &mut rng)
                    .first()
                    .ok_or_else(|| no_actor("low_and_slow"))?;
                if let Some(p) = principals.get_mut(who as usize) {
                    p.offboarded_ms = Some(end);
                }
                let prefix = daily_prefix(seed, id64, s.days, s.min_per_day, s.max_per_day);
                let who_id = name_of(principals, who).unwrap_or_default();
                let description = format!(
                    "{who_id} (customer-service agent, leaving; offboarded {}) reads {} extra \
                     distinct customers ({}-{} a day, 09:00-18:00 local) in the cs-tool over {} \
                     days",
                    format_rfc3339(end),
                    prefix.last().copied().unwrap_or(0),
                    s.min_per_day,
                    s.max_per_day,
                    s.days
                );
                (
                    PlanKind::Daily {
                        who,
                        base,
                        prefix,
                        span: 9 * HOUR_MS,
                        scrape: false,
                    },
                    vec![who_id],
                    description,
                )
            }
            Scenario::SupplierScrape(s) => {
                let who = *choose(&groups.bpo, 1, &mut rng)
                    .first()
                    .ok_or_else(|| no_actor("supplier_scrape"))?;
                let prefix = daily_prefix(seed, id64, s.days, s.min_per_day, s.max_per_day);
                let (who_id, country) = principals
                    .get(who as usize)
                    .map(|p| (p.id.clone(), p.country))
                    .unwrap_or_default();
                let description = format!(
                    "{who_id} (outsourced customer service, {country}) scrapes {} distinct \
                     customers ({}-{} a day, 08:00-22:00 local) through the cs-tool over {} days",
                    prefix.last().copied().unwrap_or(0),
                    s.min_per_day,
                    s.max_per_day,
                    s.days
                );
                (
                    PlanKind::Daily {
                        who,
                        base,
                        prefix,
                        span: 14 * HOUR_MS,
                        scrape: true,
                    },
                    vec![who_id],
                    description,
                )
            }
            Scenario::CredentialStuffing(s) => {
                let countries: Vec<&'static str> = s
                    .countries
                    .iter()
                    .filter_map(|c| net::home_country(c))
                    .collect();
                let description = format!(
                    "a botnet of {} home addresses in {} tries {} customer sign-ins over {} h \
                     ({:.0}% for unknown ids); {:.1}% succeed and read profile and addresses",
                    s.addresses,
                    countries.join(", "),
                    s.attempts,
                    s.hours,
                    s.unknown_share * 100.0,
                    s.success_share * 100.0
                );
                (
                    PlanKind::Stuffing {
                        attempts: s.attempts,
                        success: s.success_share,
                        unknown: s.unknown_share,
                        addresses: u64::from(s.addresses),
                        countries,
                    },
                    vec!["botnet".to_owned()],
                    description,
                )
            }
            Scenario::HeavyCsAgents(s) => {
                let pool = role(&groups.cs_staff, "agent", principals);
                let agents = choose(&pool, s.agents as usize, &mut rng);
                if agents.is_empty() {
                    return Err(no_actor("heavy_cs_agents"));
                }
                let description = format!(
                    "{} customer-service agents work {}x their usual tickets for {} days \
                     (an incident backlog)",
                    agents.len(),
                    s.factor,
                    s.days
                );
                let actors = agents
                    .iter()
                    .filter_map(|&i| name_of(principals, i))
                    .collect();
                (
                    PlanKind::HeavyCs {
                        agents,
                        factor: s.factor,
                    },
                    actors,
                    description,
                )
            }
            Scenario::FulfilmentBatch(s) => (
                PlanKind::Fulfilment { factor: s.factor },
                vec!["svc-fulfilment-wave".to_owned()],
                format!(
                    "the fulfilment wave reads {}x its usual customers for {} days",
                    s.factor, s.days
                ),
            ),
            Scenario::MarketingCampaign(s) => (
                PlanKind::Campaign { factor: s.factor },
                vec!["svc-campaign-export".to_owned()],
                format!(
                    "the nightly campaign export reads {}x its usual customers for {} days",
                    s.factor, s.days
                ),
            ),
            Scenario::HolidayPeak(s) => (
                PlanKind::Holiday { factor: s.factor },
                vec!["everyone".to_owned()],
                format!(
                    "a holiday peak: the whole background runs at {}x for {} days",
                    s.factor, s.days
                ),
            ),
        };
        episodes.push(Episode {
            id,
            scenario: scenario.name(),
            malicious: scenario.is_malicious(),
            actors,
            start_ms: start,
            end_ms: end,
            description,
        });
        plans.push(Plan {
            id,
            start,
            end,
            kind,
        });
    }
    Ok((episodes, plans))
}

/// Items `j` of `count` spread over `[start, start + span)`, item `j` at
/// `start + (j + 0.1 + 0.8·u_j) · span / count`; calls `f(j, t)` for those
/// with `t` in `[t0, t1)`, in order.
fn slots(
    seed: u64,
    salt: u64,
    (start, span, count): (i64, i64, u64),
    (t0, t1): (i64, i64),
    mut f: impl FnMut(u64, i64),
) {
    if count == 0 || t1 <= start || t0 >= start + span {
        return;
    }
    let slot = span as f64 / count as f64;
    let lo = (((t0 - start) as f64 / slot).floor() as i64 - 1).max(0) as u64;
    let hi = ((((t1 - start) as f64 / slot).ceil() as i64 + 1).max(0) as u64).min(count);
    for j in lo..hi {
        let jitter = 0.1 + 0.8 * unit(hash(seed, tag::TIME, salt, j));
        let t = start + ((j as f64 + jitter) * slot) as i64;
        if t >= t0 && t < t1 {
            f(j, t);
        }
    }
}

/// A malicious event from a legitimate-looking principal.
fn malicious(ev: Ev, id: u16) -> Ev {
    Ev {
        label: Label::Malicious,
        episode: id,
        ..ev
    }
}

/// Adds the events of malicious `plan` in `[t0, t1)` to `sink`.
pub(crate) fn emit(w: &crate::World, plan: &Plan, t0: i64, t1: i64, sink: &mut Sink) {
    let seed = w.config.seed;
    let id = u64::from(plan.id);
    match &plan.kind {
        PlanKind::Export { who, base, prefix } => {
            let count = prefix.len().saturating_sub(1) as u64;
            let purpose = Purpose::Numbered("change", hash(seed, tag::PURPOSE, id, 0) % 1_000_000);
            slots(
                seed,
                id << 32,
                (plan.start, plan.end - plan.start, count),
                (t0, t1),
                |j, t| {
                    let (Some(&a), Some(&b)) = (prefix.get(j as usize), prefix.get(j as usize + 1))
                    else {
                        return;
                    };
                    let who = principal_who(w, sink, *who, KEY_WORKFORCE, t0);
                    let subjects = Subjects::Run {
                        start: base + a,
                        n: (b - a) as u32,
                    };
                    sink.push(malicious(
                        who.ev(t, &event::ADMIN_EXPORT, subjects, purpose),
                        plan.id,
                    ));
                },
            );
        }
        PlanKind::Daily {
            who,
            base,
            prefix,
            span,
            scrape,
        } => {
            let d = (t0 - plan.start).div_euclid(DAY_MS);
            let (Ok(du), Some(&first), Some(&next)) = (
                usize::try_from(d),
                prefix.get(d.max(0) as usize),
                prefix.get(d.max(0) as usize + 1),
            ) else {
                return;
            };
            let day_start = plan.start + d * DAY_MS;
            let key = if *scrape { KEY_PARTNER } else { KEY_WORKFORCE };
            slots(
                seed,
                (id << 32) | du as u64,
                (day_start, *span, next - first),
                (t0, t1),
                |j, t| {
                    let k = first + j;
                    let c = w.bulk.apply(base + k);
                    let who = principal_who(w, sink, *who, key, t0);
                    let ticket =
                        Purpose::Numbered("ticket", hash(seed, tag::PURPOSE, id, k) % 10_000_000);
                    let read = |t, op: &'static Op| {
                        malicious(who.ev(t, op, Subjects::One(c), ticket), plan.id)
                    };
                    if *scrape {
                        sink.push(read(t, &event::CS_GET));
                    } else {
                        // Looks like a ticket: a search, then the customer.
                        let gap = 15_000 + (hash(seed, tag::GAP, id, k) % 75_000) as i64;
                        sink.push(read(t, &event::CS_SEARCH));
                        sink.push(read(t + gap, &event::CS_GET));
                    }
                },
            );
        }
        PlanKind::Stuffing {
            attempts,
            success,
            unknown,
            addresses,
            countries,
        } => {
            let customers = w.config.customers;
            slots(
                seed,
                id << 32,
                (plan.start, plan.end - plan.start, *attempts),
                (t0, t1),
                |j, t| {
                    let bot = below(hash(seed, tag::BOT, id, j), *addresses);
                    let n = countries.len().max(1) as u64;
                    let country = countries.get((bot % n) as usize).copied().unwrap_or("US");
                    let ip = net::home(country, hash(seed, tag::BOT_IP, id, bot));
                    let mut r = SplitMix64::new(hash(seed, tag::TARGET, id, j));
                    let exists = !r.chance(*unknown);
                    let c = if exists {
                        r.below(customers)
                    } else {
                        customers + r.below(customers.max(1_000))
                    };
                    let ok =
                        exists && unit(hash(seed, tag::OUTCOME, id, j)) < success / (1.0 - unknown);
                    let who = Who {
                        actor: ActorRef::Customer(c),
                        cred: Cred::None,
                        ip,
                        country,
                    };
                    let sign_in = Ev {
                        decision: if ok { Decision::Allow } else { Decision::Deny },
                        ..malicious(
                            who.ev(
                                t,
                                &event::SIGN_IN,
                                Subjects::One(c),
                                Purpose::Fixed("sign-in"),
                            ),
                            plan.id,
                        )
                    };
                    sink.push(sign_in);
                    if !ok {
                        return;
                    }
                    // In: a real token, issued at sign-in, then the bot reads
                    // the account's profile and delivery addresses.
                    let token = hash(seed, tag::TOKEN, id, j);
                    let who = Who {
                        cred: sink.issued_customer_token(t + 300, c, token),
                        ..who
                    };
                    let mut at = t + 300;
                    for op in [
                        &event::GET_PROFILE,
                        &event::LIST_ADDRESSES,
                        &event::GET_ADDRESS,
                    ] {
                        at += r.between(1_000, 8_000) as i64;
                        sink.push(malicious(
                            who.ev(at, op, Subjects::One(c), Purpose::Fixed("self-service")),
                            plan.id,
                        ));
                    }
                },
            );
        }
        PlanKind::HeavyCs { .. }
        | PlanKind::Fulfilment { .. }
        | PlanKind::Campaign { .. }
        | PlanKind::Holiday { .. } => {}
    }
}
