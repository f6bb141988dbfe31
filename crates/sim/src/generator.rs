//! The generator: one-minute slices, each sorted, so the output is in
//! non-decreasing time order with memory bounded by the events of the next
//! [`HORIZON`] minutes (sessions last less than that), whatever the length
//! of the run or the number of customers.
//!
//! Determinism: every stream draws from its own generator seeded by
//! `(seed, stream, minute)`, and the attack's requests are pure functions of
//! `(seed, attack day, request number)`. Nothing depends on threads, the
//! clock or the platform (floating point is IEEE basic arithmetic only).

use events::Decision;
use serde::Serialize;

use crate::attack::{self, AttackCursor};
use crate::config::Curve;
use crate::episodes::{self, Plan, PlanKind};
use crate::event::{self, Cred, Ev, Label, Op, Purpose, SimEvent, Subjects};
use crate::net;
use crate::rng::{SplitMix64, hash};
use crate::time::{DAY_MS, HOUR_MS, MINUTE_MS, format_rfc3339};
use crate::world::{
    ActorRef, KEY_CUSTOMER, KEY_PARTNER, KEY_WORKFORCE, KEY_WORKLOAD, KEYS, Line, SVC_BACKUP,
    SVC_BILLING, SVC_CAMPAIGN, SVC_NOTIFIER, SVC_RESOLVER, SVC_WAVE, World, customer_id,
};

/// Minutes of look-ahead: every session ends within this many minutes of
/// the minute it starts in.
pub(crate) const HORIZON: u64 = 32;

mod tag {
    pub const CUSTOMERS: u64 = 101;
    pub const CS: u64 = 102;
    pub const SUPPLIER_CS: u64 = 103;
    pub const DRIVERS: u64 = 104;
    pub const STAFF: u64 = 105;
    pub const SERVICES: u64 = 106;
    pub const BULK: u64 = 107;
    pub const CUSTOMER_TOKEN: u64 = 110;
    pub const DAILY_TOKEN: u64 = 111;
    pub const HOURLY_TOKEN: u64 = 112;
    pub const ROUTE: u64 = 114;
    pub const DRIVER_PHONE: u64 = 115;
    /// Benign episodes' streams: this, plus a stream's tag for its extra
    /// sessions.
    pub const EPISODE: u64 = 1_000;
}

/// A token issuance: what a token authority records when it issues a token
/// (the simulator's side output; the attacker's tokens never appear here).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Issuance {
    /// Issued at (RFC 3339).
    pub iat: String,
    /// Expires at (RFC 3339).
    pub exp: String,
    /// Token id.
    pub jti: String,
    /// Signing key id.
    pub kid: &'static str,
    /// Issuer.
    pub iss: &'static str,
    /// The principal the token was issued to.
    pub sub: String,
}

#[derive(Clone, Copy, Debug)]
struct IssuedRec {
    t: i64,
    ttl: i64,
    key: u8,
    id: u64,
    actor: ActorRef,
}

/// Where generated events go: a ring of one-minute buckets.
pub(crate) struct Sink {
    start: i64,
    end: i64,
    minute: u64,
    ring: Vec<Vec<Ev>>,
    record_issuance: bool,
    issued: Vec<IssuedRec>,
    /// Per principal, the token period (day or hour number) whose token was
    /// last issued.
    token_period: Vec<i64>,
    /// The benign episode whose events are being generated (0 for none):
    /// stamped on every event pushed.
    pub(crate) episode: u16,
}

impl Sink {
    /// Adds an event (dropped if it falls after the end of the run).
    pub(crate) fn push(&mut self, mut ev: Ev) {
        if self.episode != 0 {
            ev.episode = self.episode;
        }
        if ev.t >= self.end || ev.t < self.start {
            return;
        }
        let slot = ((ev.t - self.start) / MINUTE_MS) as u64;
        debug_assert!(slot >= self.minute && slot < self.minute + HORIZON);
        if slot < self.minute + HORIZON {
            let slot = slot.max(self.minute);
            if let Some(b) = self.ring.get_mut((slot % HORIZON) as usize) {
                b.push(ev);
            }
        }
    }

    fn issue(&mut self, rec: IssuedRec) {
        if self.record_issuance && rec.t < self.end {
            self.issued.push(rec);
        }
    }

    /// A customer session's token, issued just before its first request.
    fn customer_token(&mut self, w: &World, t0: i64, first: i64, c: u64, m: u64, s: u64) -> Cred {
        let id = hash(w.config.seed, tag::CUSTOMER_TOKEN, m, s);
        let t = (first - 1_500).max(t0);
        self.issue(IssuedRec {
            t,
            ttl: 2 * HOUR_MS,
            key: KEY_CUSTOMER,
            id,
            actor: ActorRef::Customer(c),
        });
        Cred::Issued {
            key: KEY_CUSTOMER,
            id,
        }
    }

    /// A customer token issued at `t` (a sign-in), with token id `id`.
    pub(crate) fn issued_customer_token(&mut self, t: i64, c: u64, id: u64) -> Cred {
        self.issue(IssuedRec {
            t,
            ttl: 2 * HOUR_MS,
            key: KEY_CUSTOMER,
            id,
            actor: ActorRef::Customer(c),
        });
        Cred::Issued {
            key: KEY_CUSTOMER,
            id,
        }
    }

    /// A principal's token for the day (staff) or the hour (services),
    /// issued at its first use in that period.
    fn period_token(&mut self, w: &World, p: u32, key: u8, t0: i64) -> Cred {
        let (period_ms, tag) = if key == KEY_WORKLOAD {
            (HOUR_MS, tag::HOURLY_TOKEN)
        } else {
            (DAY_MS, tag::DAILY_TOKEN)
        };
        let period = t0.div_euclid(period_ms);
        let id = hash(w.config.seed, tag, u64::from(p), period as u64);
        if let Some(last) = self.token_period.get_mut(p as usize)
            && *last != period
        {
            *last = period;
            self.issue(IssuedRec {
                t: t0,
                ttl: if key == KEY_WORKLOAD {
                    2 * HOUR_MS
                } else {
                    DAY_MS
                },
                key,
                id,
                actor: ActorRef::Principal(p),
            });
        }
        Cred::Issued { key, id }
    }
}

/// The event streams of background activity, their shares and rhythms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    Customers,
    CsAgents,
    SupplierAgents,
    Drivers,
    Staff,
    Services,
}

const STREAMS: [Stream; 6] = [
    Stream::Customers,
    Stream::CsAgents,
    Stream::SupplierAgents,
    Stream::Drivers,
    Stream::Staff,
    Stream::Services,
];

impl Stream {
    fn tag(self) -> u64 {
        match self {
            Stream::Customers => tag::CUSTOMERS,
            Stream::CsAgents => tag::CS,
            Stream::SupplierAgents => tag::SUPPLIER_CS,
            Stream::Drivers => tag::DRIVERS,
            Stream::Staff => tag::STAFF,
            Stream::Services => tag::SERVICES,
        }
    }

    /// Mean events per session (matches the session builders below).
    fn per_session(self) -> f64 {
        match self {
            Stream::Customers => 3.5,
            Stream::CsAgents | Stream::SupplierAgents => 3.0,
            Stream::Drivers => 3.25,
            Stream::Staff => 2.0,
            Stream::Services => 1.0,
        }
    }
}

/// Sessions per minute of a stream, before the rhythm: events per day ×
/// share ÷ minutes per day ÷ events per session ÷ the curve's means (so the
/// rhythm moves activity around without changing the weekly total).
fn base_rate(w: &World, s: Stream, curve: &Curve) -> f64 {
    let m = &w.config.mix;
    let share = match s {
        Stream::Customers => m.customers,
        Stream::CsAgents => m.cs_agents,
        Stream::SupplierAgents => m.supplier_agents,
        Stream::Drivers => m.drivers,
        Stream::Staff => m.staff,
        Stream::Services => m.services,
    };
    let total = m.customers + m.cs_agents + m.supplier_agents + m.drivers + m.staff + m.services;
    let hourly_mean = curve.hourly.iter().sum::<f64>() / 24.0;
    let weekly_mean = curve.weekly.iter().sum::<f64>() / 7.0;
    w.config.events_per_day as f64 * share
        / total
        / 1440.0
        / s.per_session()
        / hourly_mean
        / weekly_mean
}

fn curve(w: &World, s: Stream) -> &Curve {
    let r = &w.config.rhythm;
    match s {
        Stream::Customers | Stream::Services => &r.customers,
        Stream::CsAgents | Stream::SupplierAgents => &r.shifts,
        Stream::Drivers => &r.drivers,
        Stream::Staff => &r.office,
    }
}

/// The rhythm's weight at local time `t` (hours interpolated linearly).
fn weight(c: &Curve, local_ms: i64) -> f64 {
    let in_day = local_ms.rem_euclid(DAY_MS);
    let h = (in_day / HOUR_MS) as usize;
    let f = (in_day % HOUR_MS) as f64 / HOUR_MS as f64;
    let a = c.hourly.get(h).copied().unwrap_or(1.0);
    let b = c.hourly.get((h + 1) % 24).copied().unwrap_or(1.0);
    let wd = (local_ms.div_euclid(DAY_MS) + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    (a + (b - a) * f) * c.weekly.get(wd).copied().unwrap_or(1.0)
}

/// A deterministic, time-ordered stream of simulated access events.
///
/// ```
/// let config = sim::Config { hours: Some(1), events_per_day: 10_000, attack: None, ..Default::default() };
/// let world = sim::World::new(config)?;
/// let mut line = Vec::new();
/// for ev in sim::Generator::new(&world).take(3) {
///     line.clear();
///     ev.write_json(&mut line)?;
///     assert!(line.starts_with(b"{\"id\":\"sim"));
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Generator<'w> {
    world: &'w World,
    minutes: u64,
    next_minute: u64,
    sink: Sink,
    current: Vec<Ev>,
    pos: usize,
    seq: u64,
    attack: Option<AttackCursor>,
    rates: [f64; 6],
}

impl<'w> Generator<'w> {
    /// A generator over the whole configured period.
    #[must_use]
    pub fn new(world: &'w World) -> Generator<'w> {
        let start = world.config.start_ms;
        let duration = world.config.duration_ms();
        let rates = STREAMS.map(|s| base_rate(world, s, curve(world, s)));
        Generator {
            world,
            minutes: duration.div_euclid(MINUTE_MS) as u64 + u64::from(duration % MINUTE_MS != 0),
            next_minute: 0,
            sink: Sink {
                start,
                end: start + duration,
                minute: 0,
                ring: (0..HORIZON).map(|_| Vec::new()).collect(),
                record_issuance: false,
                issued: Vec::new(),
                token_period: vec![i64::MIN; world.principals.len()],
                episode: 0,
            },
            current: Vec::new(),
            pos: 0,
            seq: 0,
            attack: AttackCursor::new(world),
            rates,
        }
    }

    /// Also keep the token issuances of the run, to be taken with
    /// [`Self::take_issuances`] (they accumulate until taken).
    #[must_use]
    pub fn with_issuances(mut self) -> Self {
        self.sink.record_issuance = true;
        self
    }

    /// The issuances recorded so far and not yet taken, in time order. They
    /// run ahead of the events returned so far by at most one minute.
    pub fn take_issuances(&mut self) -> Vec<Issuance> {
        let w = self.world;
        self.sink
            .issued
            .drain(..)
            .map(|r| {
                let key = KEYS.get(usize::from(r.key)).copied().unwrap_or(KEYS[0]);
                Issuance {
                    iat: format_rfc3339(r.t),
                    exp: format_rfc3339(r.t + r.ttl),
                    jti: format!("{:016x}{:016x}", r.id, w.jti_tag(r.key, r.id)),
                    kid: key.kid,
                    iss: key.issuer,
                    sub: match r.actor {
                        ActorRef::Customer(c) => customer_id(c),
                        ActorRef::Principal(p) => w
                            .principals
                            .get(p as usize)
                            .map(|p| p.id.clone())
                            .unwrap_or_default(),
                    },
                }
            })
            .collect()
    }

    /// Minutes generated so far and in total (for progress reports).
    #[must_use]
    pub fn progress(&self) -> (u64, u64) {
        (self.next_minute, self.minutes)
    }

    fn generate_minute(&mut self) {
        let w = self.world;
        let m = self.next_minute;
        let t0 = self.sink.start + m as i64 * MINUTE_MS;
        let t1 = (t0 + MINUTE_MS).min(self.sink.end);
        self.sink.minute = m;
        let local = t0 + i64::from(w.config.rhythm.utc_offset_minutes) * MINUTE_MS;
        let issued_before = self.sink.issued.len();

        for (s, rate) in STREAMS.iter().zip(self.rates) {
            let mut rng = SplitMix64::new(hash(w.config.seed, s.tag(), m, 0));
            let lambda = rate * weight(curve(w, *s), local);
            let sessions = (lambda + rng.unit()) as u64;
            for i in 0..sessions {
                let mut srng = SplitMix64::new(hash(w.config.seed, s.tag(), m, i + 1));
                let ctx = Ctx { w, t0, m, s: i };
                session(*s, &ctx, &mut srng, &mut self.sink);
            }
        }
        if w.config.bulk.enabled {
            bulk_jobs(
                &Ctx { w, t0, m, s: 0 },
                &mut SplitMix64::new(hash(w.config.seed, tag::BULK, m, 0)),
                &mut self.sink,
            );
        }
        if let Some(a) = self.attack.as_mut() {
            a.emit(w, t0, t1, &mut self.sink);
        }
        attack::probes(w, t0, t1, &mut self.sink);
        for plan in &w.plans {
            if t0 >= plan.end || t1 <= plan.start {
                continue;
            }
            self.benign(plan, m, t0, local);
            episodes::emit(w, plan, t0, t1, &mut self.sink);
        }

        let slot = (m % HORIZON) as usize;
        if let Some(bucket) = self.sink.ring.get_mut(slot) {
            self.current.clear();
            std::mem::swap(&mut self.current, bucket);
        }
        // Stable: events of equal time keep their (deterministic) generation order.
        self.current.sort_by_key(|e| e.t);
        if let Some(new) = self.sink.issued.get_mut(issued_before..) {
            new.sort_by_key(|r| r.t);
        }
        self.pos = 0;
        self.next_minute += 1;
    }
}

impl Generator<'_> {
    /// A benign episode's extra activity in the minute starting at `t0`
    /// (nothing for malicious plans): more of the background, generated
    /// by the same builders from streams of its own (so the rest of the
    /// run is unchanged) and stamped with the episode's id.
    fn benign(&mut self, plan: &Plan, m: u64, t0: i64, local: i64) {
        let w = self.world;
        let seed = w.config.seed;
        let id = u64::from(plan.id);
        let mut rng = SplitMix64::new(hash(seed, tag::EPISODE, m, id));
        let extra = |rng: &mut SplitMix64, lambda: f64| (lambda.max(0.0) + rng.unit()) as u64;
        self.sink.episode = plan.id;
        match &plan.kind {
            PlanKind::HeavyCs { agents, factor } => {
                let share = agents.len() as f64 / w.groups.cs_staff.len().max(1) as f64;
                let s = Stream::CsAgents;
                let lambda = self.rates[1] * weight(curve(w, s), local) * (factor - 1.0) * share;
                for i in 0..extra(&mut rng, lambda) {
                    let mut srng =
                        SplitMix64::new(hash(seed, tag::EPISODE + s.tag(), m, (id << 32) | i));
                    let ctx = Ctx {
                        w,
                        t0,
                        m,
                        s: (id << 40) | i,
                    };
                    cs_ticket(&ctx, &mut srng, &mut self.sink, agents, KEY_WORKFORCE);
                }
            }
            PlanKind::Holiday { factor } => {
                for (s, rate) in STREAMS.iter().zip(self.rates) {
                    let lambda = rate * weight(curve(w, *s), local) * (factor - 1.0);
                    for i in 0..extra(&mut rng, lambda) {
                        let mut srng =
                            SplitMix64::new(hash(seed, tag::EPISODE + s.tag(), m, (id << 32) | i));
                        let ctx = Ctx {
                            w,
                            t0,
                            m,
                            s: (id << 40) | i,
                        };
                        session(*s, &ctx, &mut srng, &mut self.sink);
                    }
                }
                if w.config.bulk.enabled && is_wave_minute(w, t0) {
                    let n = extra(&mut rng, factor - 1.0) as u32;
                    wave(&Ctx { w, t0, m, s: 0 }, &mut rng, &mut self.sink, n);
                }
            }
            PlanKind::Fulfilment { factor } => {
                if is_wave_minute(w, t0) {
                    let n = extra(&mut rng, factor - 1.0) as u32;
                    wave(&Ctx { w, t0, m, s: 0 }, &mut rng, &mut self.sink, n);
                }
            }
            PlanKind::Campaign { factor } => {
                if local.rem_euclid(DAY_MS) / MINUTE_MS == CAMPAIGN_MINUTE {
                    let n = extra(&mut rng, 4.0 * (factor - 1.0)) as u32;
                    campaign(&Ctx { w, t0, m, s: 0 }, &mut rng, &mut self.sink, n);
                }
            }
            PlanKind::Export { .. } | PlanKind::Daily { .. } | PlanKind::Stuffing { .. } => {}
        }
        self.sink.episode = 0;
    }
}

impl<'w> Iterator for Generator<'w> {
    type Item = SimEvent<'w>;

    fn next(&mut self) -> Option<SimEvent<'w>> {
        loop {
            if let Some(ev) = self.current.get(self.pos) {
                self.pos += 1;
                let seq = self.seq;
                self.seq += 1;
                return Some(SimEvent {
                    world: self.world,
                    seq,
                    ev: *ev,
                });
            }
            if self.next_minute >= self.minutes {
                return None;
            }
            self.generate_minute();
        }
    }
}

/// What a session builder needs to know.
pub(crate) struct Ctx<'w> {
    pub w: &'w World,
    /// Start of the minute the session starts in.
    pub t0: i64,
    /// Minute number.
    pub m: u64,
    /// Session number within the minute and stream.
    pub s: u64,
}

/// A customer, favouring the most active fifth (half of all sessions).
pub(crate) fn pick_customer(w: &World, rng: &mut SplitMix64) -> u64 {
    let c = w.config.customers;
    let idx = if rng.chance(0.5) {
        rng.below((c / 5).max(1))
    } else {
        rng.below(c)
    };
    w.active.apply(idx)
}

fn pick<T: Copy>(rng: &mut SplitMix64, items: &[(T, f64)]) -> Option<T> {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.unit() * total;
    for (item, w) in items {
        if x < *w {
            return Some(*item);
        }
        x -= w;
    }
    items.last().map(|(i, _)| *i)
}

fn pick_in(rng: &mut SplitMix64, group: &[u32]) -> Option<u32> {
    group.get(rng.below(group.len() as u64) as usize).copied()
}

/// Who acts, with what token, from where.
#[derive(Clone, Copy)]
pub(crate) struct Who {
    pub actor: ActorRef,
    pub cred: Cred,
    pub ip: u32,
    pub country: &'static str,
}

impl Who {
    /// A legitimate event of this principal.
    pub(crate) fn ev(self, t: i64, op: &'static Op, subjects: Subjects, purpose: Purpose) -> Ev {
        Ev {
            t,
            label: Label::Background,
            actor: self.actor,
            cred: self.cred,
            ip: self.ip,
            country: self.country,
            op,
            subjects,
            purpose,
            decision: Decision::Allow,
            victim: 0,
            episode: 0,
        }
    }
}

const TRAVEL: [&str; 6] = ["JP", "US", "VN", "TH", "SG", "CN"];

/// A customer reading and updating their own data through the gateway.
fn customer_session(ctx: &Ctx<'_>, rng: &mut SplitMix64, sink: &mut Sink) {
    let w = ctx.w;
    let c = pick_customer(w, rng);
    let home = w.customer_country(c);
    let home_ip = |country| {
        net::home(
            country,
            hash(w.config.seed, crate::world::tag::CUSTOMER_HOME, c, 0),
        )
    };
    let (ip, country) = if home == "KR" {
        if rng.chance(0.003) {
            let dest = TRAVEL
                .get(rng.below(TRAVEL.len() as u64) as usize)
                .copied()
                .unwrap_or("JP");
            (net::home(dest, rng.next_u64()), dest)
        } else if rng.chance(0.62) {
            (net::kr_mobile(rng.next_u64()), "KR")
        } else {
            (home_ip("KR"), "KR")
        }
    } else if rng.chance(0.3) {
        (net::home(home, rng.next_u64()), home)
    } else {
        (home_ip(home), home)
    };
    let n = rng.between(1, 6);
    let mut t = ctx.t0 + rng.below(60_000) as i64;
    let who = Who {
        actor: ActorRef::Customer(c),
        cred: sink.customer_token(w, ctx.t0, t, c, ctx.m, ctx.s),
        ip,
        country,
    };
    for _ in 0..n {
        let op = pick(
            rng,
            &[
                (&event::GET_PROFILE, 15.0),
                (&event::LIST_ADDRESSES, 12.0),
                (&event::GET_ADDRESS, 8.0),
                (&event::LIST_ORDERS, 30.0),
                (&event::GET_PAYMENT_METHODS, 10.0),
                (&event::PLACE_ORDER, 15.0),
                (&event::UPDATE_ADDRESS, 5.0),
                (&event::UPDATE_PROFILE, 5.0),
            ],
        )
        .unwrap_or(&event::GET_PROFILE);
        sink.push(who.ev(t, op, Subjects::One(c), Purpose::Fixed("self-service")));
        t += rng.between(3_000, 90_000) as i64;
    }
}

/// The private network of a company site.
fn site_net(site: &str) -> Option<u8> {
    Some(match site {
        "seoul-hq" => 10,
        "seoul-cs-center" => 20,
        "incheon-fc" => 30,
        "daegu-fc" => 31,
        "ap-northeast-2" => 40,
        "ap-southeast-1" => 60,
        _ => return None,
    })
}

/// Where principal `p` connects from: its site's private network, its
/// supplier's office, or (drivers) a mobile carrier's NAT.
fn principal_source(w: &World, p: u32, day: i64) -> (u32, &'static str) {
    let Some(pr) = w.principals.get(p as usize) else {
        return (net::private(10, 0), "KR");
    };
    let desk = w.groups.desk.get(p as usize).copied().unwrap_or(0);
    if let Some(site) = site_net(pr.site) {
        return (net::private(site, desk), pr.country);
    }
    if w.supplier_line(p) == Some(Line::Delivery) {
        let phone = hash(w.config.seed, tag::DRIVER_PHONE, u64::from(p), day as u64);
        return (net::kr_mobile(phone), "KR");
    }
    let supplier = w.groups.supplier_of.get(p as usize).copied().unwrap_or(0);
    (net::office(pr.country, supplier, desk), pr.country)
}

/// Principal `p` with its token for the period and its source address.
pub(crate) fn principal_who(w: &World, sink: &mut Sink, p: u32, key: u8, t0: i64) -> Who {
    let (ip, country) = principal_source(w, p, t0.div_euclid(DAY_MS));
    Who {
        actor: ActorRef::Principal(p),
        cred: sink.period_token(w, p, key, t0),
        ip,
        country,
    }
}

/// A background session of stream `s`.
fn session(s: Stream, ctx: &Ctx<'_>, rng: &mut SplitMix64, sink: &mut Sink) {
    let g = &ctx.w.groups;
    match s {
        Stream::Customers => customer_session(ctx, rng, sink),
        Stream::CsAgents => cs_ticket(ctx, rng, sink, &g.cs_staff, KEY_WORKFORCE),
        Stream::SupplierAgents => cs_ticket(ctx, rng, sink, &g.bpo, KEY_PARTNER),
        Stream::Drivers => delivery_route(ctx, rng, sink),
        Stream::Staff => staff_session(ctx, rng, sink),
        Stream::Services => service_call(ctx, rng, sink),
    }
}

/// A customer-service ticket by one of `group` (own agents, `key` the
/// workforce key, or the outsourced ones, the partner key).
fn cs_ticket(ctx: &Ctx<'_>, rng: &mut SplitMix64, sink: &mut Sink, group: &[u32], key: u8) {
    let w = ctx.w;
    let Some(p) = pick_in(rng, group) else { return };
    if w.offboarded(p, ctx.t0) {
        // Access dies with the job (the low-and-slow insider, once gone).
        return;
    }
    let who = principal_who(w, sink, p, key, ctx.t0);
    let c = pick_customer(w, rng);
    let ticket = Purpose::Numbered("ticket", rng.below(10_000_000));
    let mut t = ctx.t0 + rng.below(60_000) as i64;
    let mut ops: Vec<&'static Op> = vec![&event::CS_SEARCH, &event::CS_GET];
    if rng.chance(0.7) {
        ops.push(&event::CS_ORDERS);
    }
    if rng.chance(0.2) {
        ops.push(&event::CS_PAYMENT);
    }
    if rng.chance(0.1) {
        ops.push(&event::CS_UPDATE_ADDRESS);
    }
    for op in ops {
        sink.push(who.ev(t, op, Subjects::One(c), ticket));
        t += rng.between(20_000, 240_000) as i64;
    }
}

/// A driver working through one to four stops of a route.
fn delivery_route(ctx: &Ctx<'_>, rng: &mut SplitMix64, sink: &mut Sink) {
    let w = ctx.w;
    let Some(p) = pick_in(rng, &w.groups.drivers) else {
        return;
    };
    let day = ctx.t0.div_euclid(DAY_MS);
    let who = principal_who(w, sink, p, KEY_PARTNER, ctx.t0);
    let route = Purpose::Numbered(
        "route",
        hash(w.config.seed, tag::ROUTE, u64::from(p), day as u64) % 1_000_000,
    );
    let mut t = ctx.t0 + rng.below(60_000) as i64;
    for _ in 0..rng.between(1, 4) {
        let c = pick_customer(w, rng);
        let stop = who.ev(t, &event::DRIVER_STOP, Subjects::One(c), route);
        sink.push(stop);
        if rng.chance(0.3) {
            let done = t + rng.between(60_000, 180_000) as i64;
            sink.push(Ev {
                t: done,
                op: &event::DRIVER_DONE,
                ..stop
            });
        }
        t += rng.between(60_000, 300_000) as i64;
    }
}

#[derive(Clone, Copy)]
enum StaffKind {
    FulfilmentOps,
    Packers,
    Engineers,
    Payments,
    TrustSafety,
    Marketing,
    Analysts,
    ItOps,
}

/// Other staff and supplier staff: consoles, one to three reads.
fn staff_session(ctx: &Ctx<'_>, rng: &mut SplitMix64, sink: &mut Sink) {
    let w = ctx.w;
    let g = &w.groups;
    let Some(kind) = pick(
        rng,
        &[
            (StaffKind::FulfilmentOps, 0.25),
            (StaffKind::Packers, 0.25),
            (StaffKind::Engineers, 0.15),
            (StaffKind::Payments, 0.12),
            (StaffKind::TrustSafety, 0.13),
            (StaffKind::Marketing, 0.05),
            (StaffKind::Analysts, 0.03),
            (StaffKind::ItOps, 0.02),
        ],
    ) else {
        return;
    };
    // (who, operation, token key, purpose, range of subjects for list reads)
    type Plan<'a> = (&'a [u32], &'static Op, u8, Purpose, Option<(u64, u64)>);
    let (group, op, key, purpose, run): Plan<'_> = match kind {
        StaffKind::FulfilmentOps => (
            &g.fulfilment_ops,
            &event::SHIPMENT,
            KEY_WORKFORCE,
            Purpose::Fixed("order-support"),
            None,
        ),
        StaffKind::Packers => (
            &g.packers,
            &event::SHIPMENT,
            KEY_PARTNER,
            Purpose::Fixed("packing"),
            None,
        ),
        StaffKind::Engineers => (
            &g.engineers,
            &event::ADMIN_GET,
            KEY_WORKFORCE,
            Purpose::Numbered("incident", rng.below(100_000)),
            None,
        ),
        StaffKind::Payments => (
            &g.payments,
            &event::PAYMENT_DETAILS,
            KEY_WORKFORCE,
            Purpose::Numbered("payment-review", rng.below(1_000_000)),
            None,
        ),
        StaffKind::TrustSafety => (
            &g.trust_safety,
            &event::FRAUD_ACTIVITY,
            KEY_WORKFORCE,
            Purpose::Numbered("fraud-case", rng.below(1_000_000)),
            None,
        ),
        StaffKind::Marketing => (
            &g.marketing,
            &event::SEGMENT_MEMBERS,
            KEY_WORKFORCE,
            Purpose::Numbered("campaign", rng.below(10_000)),
            Some((20, 500)),
        ),
        StaffKind::Analysts => (
            &g.analysts,
            &event::SEGMENT_MEMBERS,
            KEY_PARTNER,
            Purpose::Fixed("segment-analysis"),
            Some((50, 500)),
        ),
        StaffKind::ItOps => (
            &g.it_ops,
            &event::ADMIN_GET,
            KEY_PARTNER,
            Purpose::Numbered("ops-ticket", rng.below(1_000_000)),
            None,
        ),
    };
    let Some(p) = pick_in(rng, group) else { return };
    if w.offboarded(p, ctx.t0) {
        // Access dies with the job: nothing from offboarded staff.
        return;
    }
    let who = principal_who(w, sink, p, key, ctx.t0);
    let mut t = ctx.t0 + rng.below(60_000) as i64;
    for _ in 0..rng.between(1, 3) {
        let subjects = match run {
            Some((lo, hi)) => Subjects::Run {
                start: rng.below(w.config.customers),
                n: rng.between(lo, hi).min(w.config.customers) as u32,
            },
            None => Subjects::One(pick_customer(w, rng)),
        };
        sink.push(who.ev(t, op, subjects, purpose));
        t += rng.between(30_000, 300_000) as i64;
    }
}

fn service_principal(w: &World, i: usize) -> Option<u32> {
    w.groups.services.get(i).copied()
}

/// A service reading one customer (address resolution, notification).
fn service_call(ctx: &Ctx<'_>, rng: &mut SplitMix64, sink: &mut Sink) {
    let w = ctx.w;
    let (svc, op, purpose) = if rng.chance(0.7) {
        (SVC_RESOLVER, &event::RESOLVE_ADDRESS, "address-resolution")
    } else {
        (SVC_NOTIFIER, &event::NOTIFY, "order-notification")
    };
    let Some(p) = service_principal(w, svc) else {
        return;
    };
    let who = Who {
        actor: ActorRef::Principal(p),
        cred: sink.period_token(w, p, KEY_WORKLOAD, ctx.t0),
        ip: net::private(40, p * 8 + rng.below(8) as u32),
        country: "KR",
    };
    let c = pick_customer(w, rng);
    let t = ctx.t0 + rng.below(60_000) as i64;
    sink.push(who.ev(t, op, Subjects::One(c), Purpose::Fixed(purpose)));
}

/// Local minute of the day of the campaign export (03:00).
const CAMPAIGN_MINUTE: i64 = 3 * 60;

/// Whether a fulfilment wave runs in the minute starting at `t0`.
fn is_wave_minute(w: &World, t0: i64) -> bool {
    (t0.div_euclid(MINUTE_MS)).rem_euclid(i64::from(w.config.bulk.wave_minutes)) == 0
}

/// `events` bulk events of service `svc` in the minute of `ctx`, each
/// reading a run of `bulk.min_subjects..=bulk.max_subjects` customers.
fn bulk_job(
    ctx: &Ctx<'_>,
    rng: &mut SplitMix64,
    sink: &mut Sink,
    (svc, op, purpose): (usize, &'static Op, Purpose),
    events: u32,
    site: u8,
    country: &'static str,
) {
    let w = ctx.w;
    let b = &w.config.bulk;
    let Some(p) = service_principal(w, svc) else {
        return;
    };
    let cred = sink.period_token(w, p, KEY_WORKLOAD, ctx.t0);
    for _ in 0..events {
        let n = rng
            .between(u64::from(b.min_subjects), u64::from(b.max_subjects))
            .min(w.config.customers) as u32;
        let who = Who {
            actor: ActorRef::Principal(p),
            cred,
            ip: net::private(site, p * 8 + rng.below(8) as u32),
            country,
        };
        let t = ctx.t0 + rng.below(60_000) as i64;
        let start = rng.below(w.config.customers);
        sink.push(who.ev(t, op, Subjects::Run { start, n }, purpose));
    }
}

/// `events` fulfilment-wave events.
fn wave(ctx: &Ctx<'_>, rng: &mut SplitMix64, sink: &mut Sink, events: u32) {
    let job = (
        SVC_WAVE,
        &event::PICK_LIST,
        Purpose::Fixed("fulfilment-wave"),
    );
    bulk_job(ctx, rng, sink, job, events, 40, "KR");
}

/// `events` campaign-export events.
fn campaign(ctx: &Ctx<'_>, rng: &mut SplitMix64, sink: &mut Sink, events: u32) {
    let local = ctx.t0 + i64::from(ctx.w.config.rhythm.utc_offset_minutes) * MINUTE_MS;
    let day = local.div_euclid(DAY_MS) as u64;
    let job = (
        SVC_CAMPAIGN,
        &event::CAMPAIGN,
        Purpose::Numbered("campaign", day % 10_000),
    );
    bulk_job(ctx, rng, sink, job, events, 40, "KR");
}

/// Scheduled bulk readers.
fn bulk_jobs(ctx: &Ctx<'_>, rng: &mut SplitMix64, sink: &mut Sink) {
    let w = ctx.w;
    let local = ctx.t0 + i64::from(w.config.rhythm.utc_offset_minutes) * MINUTE_MS;
    let minute_of_day = local.rem_euclid(DAY_MS) / MINUTE_MS;
    let weekday = (local.div_euclid(DAY_MS) + 3).rem_euclid(7);
    if is_wave_minute(w, ctx.t0) {
        wave(ctx, rng, sink, 1);
    }
    if minute_of_day == 2 * 60 {
        let job = (
            SVC_BILLING,
            &event::BILLING,
            Purpose::Fixed("membership-billing"),
        );
        bulk_job(ctx, rng, sink, job, 3, 40, "KR");
    }
    if minute_of_day == CAMPAIGN_MINUTE {
        campaign(ctx, rng, sink, 4);
    }
    if weekday == 6 && minute_of_day == 4 * 60 {
        // The weekly restore test runs in the Singapore backup region.
        let job = (
            SVC_BACKUP,
            &event::BACKUP_VERIFY,
            Purpose::Fixed("backup-verification"),
        );
        bulk_job(ctx, rng, sink, job, 2, 60, "SG");
    }
}
