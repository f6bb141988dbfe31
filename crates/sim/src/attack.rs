//! The 2025 attack as a schedule of requests that is a pure function of the
//! seed: probing days, then attack days.
//!
//! Attack day `a` reads victims `k = a·V … a·V + V − 1` (`V` victims a day),
//! customer `perm(k)`, so any run of consecutive `k` is distinct and the
//! number of distinct customers read is exact without remembering any. Each
//! victim's block of requests is: its unknown-member tokens first (customer
//! ids that do not exist, one refused request each), then its own forged
//! token used for the profile, the address list and address details. The
//! day's `R` requests are spread evenly over the day (the attacker's script
//! ran around the clock), each jittered within its own slot so the order
//! holds: requests for real customers average `requests_per_second`.

use events::Decision;

use crate::event::{self, Cred, Ev, Label, Op, Purpose, Subjects};
use crate::generator::Sink;
use crate::net;
use crate::rng::{hash, unit};
use crate::time::DAY_MS;
use crate::world::{ActorRef, KEY_CUSTOMER, World};

mod tag {
    pub const UNKNOWN_COUNT: u64 = 201;
    pub const SESSION_LEN: u64 = 202;
    pub const TIME: u64 = 203;
    pub const UNKNOWN_ID: u64 = 204;
    pub const FORGE_A: u64 = 205;
    pub const FORGE_B: u64 = 206;
    pub const ADDRESS: u64 = 207;
    pub const PROBE_TIME: u64 = 208;
    pub const PROBE_CUSTOMER: u64 = 209;
}

#[derive(Clone, Copy, Debug)]
struct DayPlan {
    day: u64,
    start: i64,
    requests: u64,
}

/// Where the attack is in its schedule.
#[derive(Clone, Debug)]
pub(crate) struct AttackCursor {
    plan: Option<DayPlan>,
    next_day: Option<u64>,
    /// Request number within the day.
    i: u64,
    /// Victim number within the day.
    v: u64,
    /// Position within the victim's block.
    pos: u32,
    /// The block: unknown-member requests, then the victim's requests.
    unknown: u32,
    own: u32,
    countries: Vec<&'static str>,
}

/// Unknown-member tokens before victim `k`.
fn unknown_count(w: &World, k: u64) -> u32 {
    let per = w
        .config
        .attack
        .as_ref()
        .map_or(0.0, |a| a.unknown_members_per_victim);
    (per + unit(hash(w.config.seed, tag::UNKNOWN_COUNT, k, 0))) as u32
}

/// Requests with victim `k`'s own token: uniform over four consecutive
/// counts whose mean is exactly the configured requests per victim.
fn session_len(w: &World, k: u64) -> u32 {
    let m = w
        .config
        .attack
        .as_ref()
        .map_or(1.0, |a| a.requests_per_victim());
    let u = unit(hash(w.config.seed, tag::SESSION_LEN, k, 0));
    // E[floor(x + 3U)] = x + 1 for U uniform on [0, 1).
    let n = if m >= 2.0 { m - 1.0 + 3.0 * u } else { m + u };
    (n as u32).max(1)
}

fn victims_per_day(w: &World) -> u64 {
    w.config.attack.as_ref().map_or(1, |a| a.victims_per_day)
}

impl AttackCursor {
    pub(crate) fn new(w: &World) -> Option<AttackCursor> {
        let a = w.config.attack.as_ref()?;
        Some(AttackCursor {
            plan: None,
            next_day: None,
            i: 0,
            v: 0,
            pos: 0,
            unknown: 0,
            own: 0,
            countries: a
                .countries
                .iter()
                .filter_map(|c| net::hosting_country(c))
                .collect(),
        })
    }

    fn block(&mut self, w: &World, day: u64) {
        let k = day * victims_per_day(w) + self.v;
        self.unknown = unknown_count(w, k);
        self.own = session_len(w, k);
        self.pos = 0;
    }

    /// Adds the attack's requests in `[t0, t1)` to `sink`. Calls must come
    /// with consecutive, increasing windows.
    pub(crate) fn emit(&mut self, w: &World, t0: i64, t1: i64, sink: &mut Sink) {
        let (Some(a), Some(times)) = (&w.config.attack, w.attack_times) else {
            return;
        };
        let per_day = a.victims_per_day;
        loop {
            let plan = match self.plan {
                Some(p) => p,
                None => {
                    let day = match self.next_day {
                        Some(d) => d,
                        None => (t0 - times.start_ms).div_euclid(DAY_MS).max(0) as u64,
                    };
                    if day >= u64::from(a.days) {
                        return;
                    }
                    let start = times.start_ms + day as i64 * DAY_MS;
                    if start >= t1 {
                        return;
                    }
                    let first = day * per_day;
                    let requests = (first..first + per_day)
                        .map(|k| u64::from(unknown_count(w, k) + session_len(w, k)))
                        .sum();
                    let p = DayPlan {
                        day,
                        start,
                        requests,
                    };
                    self.plan = Some(p);
                    self.next_day = Some(day + 1);
                    self.i = 0;
                    self.v = 0;
                    self.block(w, day);
                    p
                }
            };
            if self.i >= plan.requests || self.v >= per_day {
                self.plan = None;
                continue;
            }
            let slot = DAY_MS as f64 / plan.requests as f64;
            let jitter = 0.1 + 0.8 * unit(hash(w.config.seed, tag::TIME, plan.day, self.i));
            let t = plan.start + ((self.i as f64 + jitter) * slot) as i64;
            if t >= t1 {
                return;
            }
            if t >= t0 {
                let k = plan.day * per_day + self.v;
                sink.push(self.request(w, t, k));
            }
            self.i += 1;
            self.pos += 1;
            if self.pos >= self.unknown + self.own {
                self.v += 1;
                self.block(w, plan.day);
            }
        }
    }

    /// The attacker's address for token `j` of victim `k`.
    fn source(&self, w: &World, k: u64, j: u64) -> (u32, &'static str) {
        attacker_source(w, &self.countries, hash(w.config.seed, tag::ADDRESS, k, j))
    }

    fn request(&self, w: &World, t: i64, k: u64) -> Ev {
        let seed = w.config.seed;
        let customers = w.config.customers;
        if self.pos < self.unknown {
            // A token for a customer id that does not exist: the service
            // finds no member and refuses.
            let j = u64::from(self.pos) + 1;
            let id = customers + hash(seed, tag::UNKNOWN_ID, k, j) % customers.max(1_000);
            let (ip, country) = self.source(w, k, j);
            return Ev {
                t,
                label: Label::UnknownMember,
                actor: ActorRef::Customer(id),
                cred: forged(seed, k, j),
                ip,
                country,
                op: &event::GET_PROFILE,
                subjects: Subjects::One(id),
                purpose: Purpose::Fixed("self-service"),
                decision: Decision::Deny,
                victim: k,
                episode: w.forged_episode,
            };
        }
        let r = self.pos - self.unknown;
        let op: &'static Op = match r {
            0 => &event::GET_PROFILE,
            1 => &event::LIST_ADDRESSES,
            _ => &event::GET_ADDRESS,
        };
        let c = w.attack_victim(k);
        let (ip, country) = self.source(w, k, 0);
        Ev {
            t,
            label: Label::Attack,
            actor: ActorRef::Customer(c),
            cred: forged(seed, k, 0),
            ip,
            country,
            op,
            subjects: Subjects::One(c),
            purpose: Purpose::Fixed("self-service"),
            decision: Decision::Allow,
            victim: k,
            episode: w.forged_episode,
        }
    }
}

/// A forged token: the real customer key's `kid` and issuer, an id that was
/// never issued.
fn forged(seed: u64, k: u64, j: u64) -> Cred {
    Cred::Forged {
        key: KEY_CUSTOMER,
        a: hash(seed, tag::FORGE_A, k, j),
        b: hash(seed, tag::FORGE_B, k, j),
    }
}

fn attacker_source(w: &World, countries: &[&'static str], bits: u64) -> (u32, &'static str) {
    let addresses = w
        .config
        .attack
        .as_ref()
        .map_or(1, |a| u64::from(a.addresses));
    let idx = crate::rng::below(bits, addresses);
    let n = countries.len().max(1) as u64;
    let country = countries.get((idx % n) as usize).copied().unwrap_or("US");
    (net::hosting(country, idx / n), country)
}

/// Adds the probing requests in `[t0, t1)`: `probes_per_day` forged-token
/// reads at random times of each of the `probe_lead_days` days before the
/// attack.
pub(crate) fn probes(w: &World, t0: i64, t1: i64, sink: &mut Sink) {
    let (Some(a), Some(times)) = (&w.config.attack, w.attack_times) else {
        return;
    };
    if a.probes_per_day == 0 || a.probe_lead_days == 0 || t1 <= t0 {
        return;
    }
    let countries: Vec<&'static str> = a
        .countries
        .iter()
        .filter_map(|c| net::hosting_country(c))
        .collect();
    let seed = w.config.seed;
    let first = (t0 - times.probe_start_ms).div_euclid(DAY_MS);
    let last = (t1 - 1 - times.probe_start_ms).div_euclid(DAY_MS);
    for q in first.max(0)..=last.min(i64::from(a.probe_lead_days) - 1) {
        let day_start = times.probe_start_ms + q * DAY_MS;
        for j in 0..u64::from(a.probes_per_day) {
            let t = day_start + (hash(seed, tag::PROBE_TIME, q as u64, j) % DAY_MS as u64) as i64;
            if t < t0 || t >= t1 {
                continue;
            }
            // Probes use victim indices far beyond any attack day's.
            let k = u64::MAX / 2 + q as u64 * 10_000 + j;
            let c = hash(seed, tag::PROBE_CUSTOMER, q as u64, j) % w.config.customers;
            let (ip, country) = attacker_source(w, &countries, hash(seed, tag::ADDRESS, k, 0));
            sink.push(Ev {
                t,
                label: Label::Probe,
                actor: ActorRef::Customer(c),
                cred: forged(seed, k, 0),
                ip,
                country,
                op: if j % 2 == 0 {
                    &event::GET_PROFILE
                } else {
                    &event::LIST_ADDRESSES
                },
                subjects: Subjects::One(c),
                purpose: Purpose::Fixed("self-service"),
                decision: Decision::Allow,
                victim: 0,
                episode: w.forged_episode,
            });
        }
    }
}
