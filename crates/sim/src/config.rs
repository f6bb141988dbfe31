//! What to simulate: [`Config`] with its defaults, and its validation.

use crate::net;
use crate::scenario::Scenario;
use crate::time::DAY_MS;

/// 2025-06-01T00:00:00Z, the default start: fixed, so that a run without
/// options is the same everywhere and forever.
pub const DEFAULT_START_MS: i64 = 1_748_736_000_000;

/// The whole simulation. `Config::default()` is the documented default run;
/// change fields and call [`crate::World::new`], which validates them.
///
/// Scaling (see `docs/sim.md`): Coupang served ≈33.7M customers and wrote
/// ≈3 billion web-log records a day. The default company has 1M customers
/// (1/34) and 1M background access events a day (≈1/3,000: only accesses to
/// personal data are events, and a demo must run in seconds). The attack is
/// **not** scaled: it runs at its real rate (≈229K distinct customers a day,
/// ≈12 requests a second), because that rate is what detectors must catch.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Everything random derives from this seed.
    pub seed: u64,
    /// Start of the simulated period, in milliseconds since the Unix epoch.
    pub start_ms: i64,
    /// Length of the simulated period in days (ignored when `hours` is set).
    pub days: u32,
    /// If set, simulate only this many hours from the start (a window for
    /// quick demos and tests); overrides `days`.
    pub hours: Option<u32>,
    /// Number of customers (data subjects `cust-00000000` …). Nothing is
    /// stored per customer, so 34M or more costs no memory.
    pub customers: u64,
    /// Number of employees (split into departments and roles).
    pub employees: u32,
    /// Number of suppliers (outsourced customer service abroad, delivery
    /// partner, warehouse operator, analytics vendor, IT contractor, then
    /// repeating).
    pub suppliers: u32,
    /// Background (legitimate, non-bulk) access events per day, averaged over
    /// a week; the daily and weekly rhythms move it hour by hour.
    pub events_per_day: u64,
    /// How background events divide between kinds of readers.
    pub mix: Mix,
    /// Scheduled batch jobs reading thousands of customers per event.
    pub bulk: Bulk,
    /// Daily and weekly rhythms.
    pub rhythm: Rhythm,
    /// The 2025 forged-token attack, or `None` for a clean company.
    pub attack: Option<Attack>,
    /// Further scenarios, attacks and benign look-alikes, each an episode
    /// with ground truth ([`crate::World::episodes`]); none by default.
    pub scenarios: Vec<Scenario>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 2025,
            start_ms: DEFAULT_START_MS,
            days: 1,
            hours: None,
            customers: 1_000_000,
            employees: 2_000,
            suppliers: 5,
            events_per_day: 1_000_000,
            mix: Mix::default(),
            bulk: Bulk::default(),
            rhythm: Rhythm::default(),
            attack: Some(Attack::default()),
            scenarios: Vec::new(),
        }
    }
}

/// Shares of the background events by reader (relative weights; they need
/// not sum to 1).
#[derive(Clone, Debug, PartialEq)]
pub struct Mix {
    /// Customers reading and updating their own data through the customer
    /// gateway with customer tokens (signed by the same key the attacker
    /// stole).
    pub customers: f64,
    /// Customer-service agents (employees) working tickets in the
    /// customer-service tool: the heaviest human readers.
    pub cs_agents: f64,
    /// Outsourced customer-service agents at a supplier abroad.
    pub supplier_agents: f64,
    /// Delivery drivers (supplier staff) reading the next stop's address and
    /// entrance code in the delivery app.
    pub drivers: f64,
    /// Other staff and supplier staff: fulfilment and warehouse consoles,
    /// payments, trust & safety, marketing, on-call engineers, IT contractor.
    pub staff: f64,
    /// Services reading one customer at a time (address resolution,
    /// notifications).
    pub services: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            customers: 0.62,
            cs_agents: 0.14,
            supplier_agents: 0.08,
            drivers: 0.10,
            staff: 0.04,
            services: 0.02,
        }
    }
}

/// Scheduled bulk readers: the fulfilment wave every few minutes, a nightly
/// billing run and campaign export, a weekly backup verification in the
/// Singapore backup region. Not scaled by `events_per_day`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bulk {
    /// Whether the scheduled jobs run at all.
    pub enabled: bool,
    /// Fewest customers read by one bulk event.
    pub min_subjects: u32,
    /// Most customers read by one bulk event (at most 10,000, the event
    /// format's limit).
    pub max_subjects: u32,
    /// Minutes between two fulfilment waves (each one event).
    pub wave_minutes: u32,
}

impl Default for Bulk {
    fn default() -> Self {
        Bulk {
            enabled: true,
            min_subjects: 1_000,
            max_subjects: 5_000,
            wave_minutes: 10,
        }
    }
}

/// Relative activity by local hour and weekday.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// Weight of each local hour, 00–23.
    pub hourly: [f64; 24],
    /// Weight of each local weekday, Monday first.
    pub weekly: [f64; 7],
}

impl Curve {
    /// The same activity at every hour of every day.
    #[must_use]
    pub fn flat() -> Curve {
        Curve {
            hourly: [1.0; 24],
            weekly: [1.0; 7],
        }
    }
}

/// The company's rhythms, in its local time (Korea, UTC+9).
#[derive(Clone, Debug, PartialEq)]
pub struct Rhythm {
    /// Local time's offset from UTC, in minutes (540 for KST).
    pub utc_offset_minutes: i32,
    /// Customers (and services acting for them): low at night, evening peak
    /// around 21:00, slightly busier at the weekend.
    pub customers: Curve,
    /// Office staff: working hours on weekdays.
    pub office: Curve,
    /// Customer-service shifts (own and outsourced): 08:00–22:00 every day,
    /// fewer at the weekend.
    pub shifts: Curve,
    /// Delivery drivers: the dawn-delivery run (00:00–07:00) and the day run.
    pub drivers: Curve,
}

impl Rhythm {
    /// No rhythm at all: every stream flat.
    #[must_use]
    pub fn flat() -> Rhythm {
        Rhythm {
            utc_offset_minutes: 540,
            customers: Curve::flat(),
            office: Curve::flat(),
            shifts: Curve::flat(),
            drivers: Curve::flat(),
        }
    }
}

impl Default for Rhythm {
    fn default() -> Self {
        Rhythm {
            utc_offset_minutes: 540,
            customers: Curve {
                hourly: [
                    0.45, 0.25, 0.14, 0.09, 0.08, 0.12, 0.28, 0.55, 0.75, 0.90, 1.00, 1.10, 1.30,
                    1.15, 1.05, 1.05, 1.10, 1.15, 1.35, 1.60, 1.85, 1.95, 1.70, 1.05,
                ],
                weekly: [1.00, 0.97, 0.97, 0.98, 0.99, 1.03, 1.06],
            },
            office: Curve {
                hourly: [
                    0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.10, 0.60, 1.00, 1.00, 0.95, 0.55,
                    0.95, 1.00, 1.00, 0.95, 0.80, 0.35, 0.12, 0.06, 0.04, 0.02, 0.01,
                ],
                weekly: [1.0, 1.0, 1.0, 1.0, 0.95, 0.06, 0.04],
            },
            shifts: Curve {
                hourly: [
                    0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.10, 0.80, 1.00, 1.00, 1.00, 0.70,
                    0.95, 1.00, 1.00, 1.00, 0.95, 0.85, 0.75, 0.70, 0.60, 0.20, 0.05,
                ],
                weekly: [1.15, 1.05, 1.0, 1.0, 1.0, 0.75, 0.70],
            },
            drivers: Curve {
                hourly: [
                    0.90, 1.10, 1.20, 1.20, 1.10, 0.90, 0.60, 0.30, 0.40, 0.80, 1.00, 1.05, 0.90,
                    1.00, 1.05, 1.05, 1.00, 0.90, 0.70, 0.50, 0.40, 0.30, 0.40, 0.60,
                ],
                weekly: [1.05, 1.0, 1.0, 1.0, 1.0, 1.0, 0.60],
            },
        }
    }
}

/// The 2025 attack (facts in `/work/shared/ARCHITECTURE.md`): an engineer who
/// built the customer authentication system leaves with its token-signing
/// key; months later, from overseas addresses, he mints one customer token
/// per customer — same `kid`, same issuer as real tokens, a `jti` never
/// issued — and reads each customer's profile and delivery addresses through
/// the customer gateway, after a probing phase of a few requests a day.
#[derive(Clone, Debug, PartialEq)]
pub struct Attack {
    /// Start of the attack relative to the simulation start, in hours (may
    /// be negative: an attack already under way when the window opens —
    /// victims then continue from where the earlier days left off).
    pub start_offset_hours: i64,
    /// Days the attack lasts (147 × 229K ≈ 33.7M customers).
    pub days: u32,
    /// Distinct customers read per day (≈229K).
    pub victims_per_day: u64,
    /// Requests per second for real customers (≈12): each victim's forged
    /// token is used for ≈4.5 requests (profile, address list, address
    /// details), matching ≈148M address views of 33.7M customers.
    pub requests_per_second: f64,
    /// Forged tokens for customer ids that do not exist, per victim (≈1.3:
    /// ≈44M such tokens beside 33.7M victims). Each is one request, refused.
    pub unknown_members_per_victim: f64,
    /// Countries of the attacker's addresses (hosting / VPN exits).
    pub countries: Vec<String>,
    /// Number of distinct attacker addresses, spread over `countries`.
    pub addresses: u32,
    /// Days of probing before the attack starts.
    pub probe_lead_days: u32,
    /// Probe requests per probing day.
    pub probes_per_day: u32,
    /// Days between the engineer's departure (offboarding) and the attack.
    pub departed_days_before: u32,
}

impl Default for Attack {
    fn default() -> Self {
        Attack {
            start_offset_hours: 0,
            days: 147,
            victims_per_day: 229_000,
            requests_per_second: 12.0,
            unknown_members_per_victim: 1.3,
            countries: ["CN", "HK", "SG", "US"].map(String::from).to_vec(),
            addresses: 24,
            probe_lead_days: 21,
            probes_per_day: 4,
            departed_days_before: 150,
        }
    }
}

/// A configuration value that cannot be simulated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    /// The field, e.g. `attack.victims_per_day`.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

pub(crate) fn check(
    ok: bool,
    field: &'static str,
    reason: impl Into<String>,
) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError {
            field,
            reason: reason.into(),
        })
    }
}

fn check_weights(ws: &[f64], field: &'static str) -> Result<(), ConfigError> {
    check(
        ws.iter().all(|w| w.is_finite() && *w >= 0.0) && ws.iter().sum::<f64>() > 0.0,
        field,
        "weights must be finite, non-negative and not all zero",
    )
}

/// 10000-01-01T00:00:00Z: RFC 3339 years have four digits.
const YEAR_10000_MS: i64 = 253_402_300_800_000;

impl Config {
    /// Length of the simulated period in milliseconds.
    #[must_use]
    pub fn duration_ms(&self) -> i64 {
        match self.hours {
            Some(h) => i64::from(h) * 3_600_000,
            None => i64::from(self.days) * DAY_MS,
        }
    }

    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(
            self.start_ms >= 0 && self.start_ms + self.duration_ms() < YEAR_10000_MS,
            "start",
            "the simulated period must lie between 1970 and 9999",
        )?;
        check(
            (1..=36_600).contains(&self.days),
            "days",
            "must be between 1 and 36,600",
        )?;
        if let Some(h) = self.hours {
            check(
                (1..=878_400).contains(&h),
                "hours",
                "must be between 1 and 878,400",
            )?;
        }
        check(
            (1..=10_000_000_000).contains(&self.customers),
            "customers",
            "must be between 1 and 10 billion",
        )?;
        check(
            (20..=10_000_000).contains(&self.employees),
            "employees",
            "must be between 20 and 10 million",
        )?;
        check(self.suppliers <= 1_000, "suppliers", "at most 1,000")?;
        check(
            self.events_per_day <= 10_000_000_000,
            "events_per_day",
            "at most 10 billion",
        )?;
        let m = &self.mix;
        check_weights(
            &[
                m.customers,
                m.cs_agents,
                m.supplier_agents,
                m.drivers,
                m.staff,
                m.services,
            ],
            "mix",
        )?;
        let b = &self.bulk;
        check(
            1 <= b.min_subjects && b.min_subjects <= b.max_subjects && b.max_subjects <= 10_000,
            "bulk",
            "need 1 <= min_subjects <= max_subjects <= 10,000 (the event format's limit)",
        )?;
        check(
            b.wave_minutes >= 1,
            "bulk.wave_minutes",
            "must be at least 1",
        )?;
        let r = &self.rhythm;
        check(
            (-18 * 60..=18 * 60).contains(&r.utc_offset_minutes),
            "rhythm.utc_offset_minutes",
            "must be within ±18 hours",
        )?;
        for (c, name) in [
            (&r.customers, "rhythm.customers"),
            (&r.office, "rhythm.office"),
            (&r.shifts, "rhythm.shifts"),
            (&r.drivers, "rhythm.drivers"),
        ] {
            check_weights(&c.hourly, name)?;
            check_weights(&c.weekly, name)?;
        }
        if let Some(a) = &self.attack {
            a.validate()?;
        }
        check(self.scenarios.len() <= 1_000, "scenarios", "at most 1,000")?;
        for s in &self.scenarios {
            s.validate(self)?;
        }
        Ok(())
    }
}

impl Attack {
    /// Requests per victim implied by the rate and the victims per day.
    #[must_use]
    pub fn requests_per_victim(&self) -> f64 {
        self.requests_per_second * 86_400.0 / self.victims_per_day.max(1) as f64
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check(
            self.start_offset_hours.abs() <= 24 * 36_600,
            "attack.start_offset_hours",
            "must be within 100 years of the start",
        )?;
        check(
            (1..=36_600).contains(&self.days),
            "attack.days",
            "must be between 1 and 36,600",
        )?;
        check(
            (1..=100_000_000).contains(&self.victims_per_day),
            "attack.victims_per_day",
            "must be between 1 and 100 million",
        )?;
        check(
            self.requests_per_second.is_finite()
                && self.requests_per_second > 0.0
                && self.requests_per_second <= 100_000.0,
            "attack.requests_per_second",
            "must be positive and at most 100,000",
        )?;
        check(
            self.requests_per_victim() >= 1.0,
            "attack.requests_per_second",
            format!(
                "{} requests/s cannot reach {} victims a day (at least one request each)",
                self.requests_per_second, self.victims_per_day
            ),
        )?;
        check(
            self.unknown_members_per_victim.is_finite()
                && (0.0..=100.0).contains(&self.unknown_members_per_victim),
            "attack.unknown_members_per_victim",
            "must be between 0 and 100",
        )?;
        check(
            !self.countries.is_empty(),
            "attack.countries",
            "at least one country",
        )?;
        for c in &self.countries {
            check(
                net::hosting_countries().any(|h| h == c),
                "attack.countries",
                format!(
                    "no attacker address block for {c:?}; known: {}",
                    net::hosting_countries().collect::<Vec<_>>().join(", ")
                ),
            )?;
        }
        check(
            (1..=10_000).contains(&self.addresses),
            "attack.addresses",
            "must be between 1 and 10,000",
        )?;
        check(
            self.probe_lead_days <= 3_650,
            "attack.probe_lead_days",
            "at most 3,650",
        )?;
        check(
            self.probes_per_day <= 10_000,
            "attack.probes_per_day",
            "at most 10,000",
        )?;
        check(
            self.departed_days_before <= 3_650,
            "attack.departed_days_before",
            "at most 3,650",
        )?;
        Ok(())
    }
}
