//! Scenarios beyond the background: attacks (malicious episodes) and benign
//! look-alikes (benign episodes that detectors must not alert on), each
//! opt-in through [`crate::Config::scenarios`], with its parameters, their
//! defaults and their validation. How they are generated is in
//! `episodes.rs`; what they are is in `docs/sim.md`.

use crate::config::{Config, ConfigError, check};
use crate::net;
use crate::time::{DAY_MS, HOUR_MS, parse_rfc3339};

/// When a scenario's episode starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The default: day 9 of a run of 12 days or more (nine days of normal
    /// activity first, for baselines), otherwise the middle day of the run
    /// (the first day of a run shorter than two days); then, as for
    /// [`Start::Day`], the scenario's local hour.
    Auto,
    /// Day `n` of the run (0 is the first), at the scenario's local hour:
    /// the first time at or after `start + n days` when the company's local
    /// clock shows it (10:00 for the admin dump, 09:00 low-and-slow, 08:00
    /// supplier scrape, 20:00 credential stuffing, 00:00 benign ones).
    Day(u32),
    /// Exactly this time, milliseconds since the Unix epoch.
    AtMs(i64),
}

/// `admin_bulk_dump`: an engineer on duty (an `sre` of engineering, the
/// company's DBAs and on-call engineers) exports many customers in bulk
/// through the admin console, from the office network.
#[derive(Clone, Debug, PartialEq)]
pub struct AdminBulkDump {
    /// When it starts.
    pub start: Start,
    /// Distinct customers dumped (capped at the company's customers).
    pub customers: u64,
    /// Hours the dump takes (its events are spread evenly over them).
    pub hours: u32,
    /// Fewest customers in one export event.
    pub min_subjects: u32,
    /// Most customers in one export event (at most 10,000).
    pub max_subjects: u32,
}

impl Default for AdminBulkDump {
    fn default() -> Self {
        AdminBulkDump {
            start: Start::Auto,
            customers: 200_000,
            hours: 2,
            min_subjects: 1_000,
            max_subjects: 5_000,
        }
    }
}

/// `low_and_slow`: a customer-service agent who will leave reads, in the
/// customer-service tool and in working hours (09:00–18:00 local), an extra
/// number of distinct customers every day until the departure, when they
/// are offboarded. Their normal tickets go on alongside.
#[derive(Clone, Debug, PartialEq)]
pub struct LowAndSlow {
    /// When the extra reading starts.
    pub start: Start,
    /// Days of extra reading; the agent is offboarded at the end.
    pub days: u32,
    /// Fewest extra distinct customers a day.
    pub min_per_day: u32,
    /// Most extra distinct customers a day.
    pub max_per_day: u32,
}

impl Default for LowAndSlow {
    fn default() -> Self {
        LowAndSlow {
            start: Start::Auto,
            days: 28,
            min_per_day: 150,
            max_per_day: 400,
        }
    }
}

/// `supplier_scrape`: one agent of the outsourced customer-service supplier
/// (abroad) scrapes customers through the customer-service tool, steadily
/// through the shift (08:00–22:00 local), from the supplier's office.
#[derive(Clone, Debug, PartialEq)]
pub struct SupplierScrape {
    /// When it starts.
    pub start: Start,
    /// Days of scraping.
    pub days: u32,
    /// Fewest distinct customers a day.
    pub min_per_day: u32,
    /// Most distinct customers a day.
    pub max_per_day: u32,
}

impl Default for SupplierScrape {
    fn default() -> Self {
        SupplierScrape {
            start: Start::Auto,
            days: 5,
            min_per_day: 10_000,
            max_per_day: 20_000,
        }
    }
}

/// `credential_stuffing`: a botnet tries leaked passwords against the
/// customer gateway's sign-in for many customer ids, from home broadband
/// addresses in several countries. Failed sign-ins are refused events
/// without a token; a successful one is followed by reads of the
/// customer's profile and addresses with a really issued customer token.
#[derive(Clone, Debug, PartialEq)]
pub struct CredentialStuffing {
    /// When it starts.
    pub start: Start,
    /// Hours it lasts (attempts are spread evenly over them).
    pub hours: u32,
    /// Sign-in attempts, one customer id each.
    pub attempts: u64,
    /// Share of attempts that succeed (only for existing customers).
    pub success_share: f64,
    /// Share of attempts for customer ids that do not exist here (leaked
    /// from elsewhere).
    pub unknown_share: f64,
    /// Distinct bot addresses.
    pub addresses: u32,
    /// The bots' countries (each must have home broadband blocks: KR, JP,
    /// TW, US, CN, SG, VN, TH).
    pub countries: Vec<String>,
}

impl Default for CredentialStuffing {
    fn default() -> Self {
        CredentialStuffing {
            start: Start::Auto,
            hours: 12,
            attempts: 60_000,
            success_share: 0.015,
            unknown_share: 0.3,
            addresses: 3_000,
            countries: ["US", "CN", "VN", "TH", "TW"].map(String::from).to_vec(),
        }
    }
}

/// `heavy_cs_agents` (benign): some customer-service agents work `factor`
/// times their usual ticket load for days (an incident backlog).
#[derive(Clone, Debug, PartialEq)]
pub struct HeavyCsAgents {
    /// When it starts.
    pub start: Start,
    /// Days it lasts.
    pub days: u32,
    /// Agents concerned (capped at the customer-service staff).
    pub agents: u32,
    /// Their load against their usual one (2.5: two and a half times).
    pub factor: f64,
}

impl Default for HeavyCsAgents {
    fn default() -> Self {
        HeavyCsAgents {
            start: Start::Auto,
            days: 4,
            agents: 40,
            factor: 2.5,
        }
    }
}

/// A benign surge: some activity runs at `factor` times its usual volume
/// for `days` days, with its usual pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct Surge {
    /// When it starts.
    pub start: Start,
    /// Days it lasts.
    pub days: u32,
    /// Volume against the usual one.
    pub factor: f64,
}

/// A scenario: what happens, when, and its parameters. Malicious ones
/// label their events [`crate::Label::Malicious`]; benign ones leave them
/// [`crate::Label::Background`]; both carry their episode id
/// ([`crate::SimEvent::episode`]). The forged-token attack is
/// [`crate::Config::attack`], not a `Scenario` (see
/// [`Config::add_scenario`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Scenario {
    /// `admin_bulk_dump` (malicious).
    AdminBulkDump(AdminBulkDump),
    /// `low_and_slow` (malicious).
    LowAndSlow(LowAndSlow),
    /// `supplier_scrape` (malicious).
    SupplierScrape(SupplierScrape),
    /// `credential_stuffing` (malicious).
    CredentialStuffing(CredentialStuffing),
    /// `heavy_cs_agents` (benign).
    HeavyCsAgents(HeavyCsAgents),
    /// `fulfilment_batch` (benign): the fulfilment wave job reads `factor`
    /// times its usual customers (more wave events, same pattern). Default
    /// 5 days at 2×.
    FulfilmentBatch(Surge),
    /// `marketing_campaign` (benign): the nightly campaign export reads
    /// `factor` times its usual customers. Default 3 days at 2.5×.
    MarketingCampaign(Surge),
    /// `holiday_peak` (benign): the whole background (customers, agents,
    /// drivers, staff, services, fulfilment waves) runs at `factor` times
    /// its volume. Default 3 days at 2.5×.
    HolidayPeak(Surge),
}

/// Every scenario by name: `(name, malicious, one-line description)`,
/// `forged_token` (the 2025 attack, [`crate::Config::attack`]) included.
pub const SCENARIOS: [(&str, bool, &str); 9] = [
    (
        "forged_token",
        true,
        "the 2025 attack: a departed engineer's kept key mints one customer token per \
         customer, ~229K customers/day at ~12 requests/s from overseas (Config::attack)",
    ),
    (
        "admin_bulk_dump",
        true,
        "an on-duty engineer (sre) exports 200K distinct customers in 2 hours through the \
         admin console, 1,000-5,000 per event, from the office",
    ),
    (
        "low_and_slow",
        true,
        "a departing CS agent reads 150-400 extra distinct customers a day in the CS tool in \
         working hours for 28 days, then is offboarded",
    ),
    (
        "supplier_scrape",
        true,
        "an outsourced CS agent abroad scrapes 10K-20K distinct customers a day for 5 days \
         through the CS tool, from the supplier's office",
    ),
    (
        "credential_stuffing",
        true,
        "a botnet (3,000 home addresses, 5 countries) tries 60K customer sign-ins in 12 \
         hours; 1.5% succeed and read profile and addresses with issued tokens",
    ),
    (
        "heavy_cs_agents",
        false,
        "benign: 40 CS agents work 2.5x their usual ticket load for 4 days (a backlog)",
    ),
    (
        "fulfilment_batch",
        false,
        "benign: the fulfilment wave reads 2x its usual customers for 5 days",
    ),
    (
        "marketing_campaign",
        false,
        "benign: the nightly campaign export reads 2.5x its usual customers for 3 days",
    ),
    (
        "holiday_peak",
        false,
        "benign: the whole background runs at 2.5x for 3 days",
    ),
];

impl Scenario {
    /// The scenario called `name` with its default parameters and
    /// [`Start::Auto`] (`None` for an unknown name and for `forged_token`,
    /// which is [`crate::Config::attack`]).
    #[must_use]
    pub fn named(name: &str) -> Option<Scenario> {
        let surge = |days, factor| Surge {
            start: Start::Auto,
            days,
            factor,
        };
        Some(match name {
            "admin_bulk_dump" => Scenario::AdminBulkDump(AdminBulkDump::default()),
            "low_and_slow" => Scenario::LowAndSlow(LowAndSlow::default()),
            "supplier_scrape" => Scenario::SupplierScrape(SupplierScrape::default()),
            "credential_stuffing" => Scenario::CredentialStuffing(CredentialStuffing::default()),
            "heavy_cs_agents" => Scenario::HeavyCsAgents(HeavyCsAgents::default()),
            "fulfilment_batch" => Scenario::FulfilmentBatch(surge(5, 2.0)),
            "marketing_campaign" => Scenario::MarketingCampaign(surge(3, 2.5)),
            "holiday_peak" => Scenario::HolidayPeak(surge(3, 2.5)),
            _ => return None,
        })
    }

    /// The scenario's name (`admin_bulk_dump`, …).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::AdminBulkDump(_) => "admin_bulk_dump",
            Scenario::LowAndSlow(_) => "low_and_slow",
            Scenario::SupplierScrape(_) => "supplier_scrape",
            Scenario::CredentialStuffing(_) => "credential_stuffing",
            Scenario::HeavyCsAgents(_) => "heavy_cs_agents",
            Scenario::FulfilmentBatch(_) => "fulfilment_batch",
            Scenario::MarketingCampaign(_) => "marketing_campaign",
            Scenario::HolidayPeak(_) => "holiday_peak",
        }
    }

    /// True for attacks, false for benign look-alikes.
    #[must_use]
    pub fn is_malicious(&self) -> bool {
        matches!(
            self,
            Scenario::AdminBulkDump(_)
                | Scenario::LowAndSlow(_)
                | Scenario::SupplierScrape(_)
                | Scenario::CredentialStuffing(_)
        )
    }

    /// When it starts.
    #[must_use]
    pub fn start(&self) -> Start {
        match self {
            Scenario::AdminBulkDump(s) => s.start,
            Scenario::LowAndSlow(s) => s.start,
            Scenario::SupplierScrape(s) => s.start,
            Scenario::CredentialStuffing(s) => s.start,
            Scenario::HeavyCsAgents(s) => s.start,
            Scenario::FulfilmentBatch(s)
            | Scenario::MarketingCampaign(s)
            | Scenario::HolidayPeak(s) => s.start,
        }
    }

    /// The same scenario starting at `start`.
    #[must_use]
    pub fn starting(mut self, start: Start) -> Scenario {
        match &mut self {
            Scenario::AdminBulkDump(s) => s.start = start,
            Scenario::LowAndSlow(s) => s.start = start,
            Scenario::SupplierScrape(s) => s.start = start,
            Scenario::CredentialStuffing(s) => s.start = start,
            Scenario::HeavyCsAgents(s) => s.start = start,
            Scenario::FulfilmentBatch(s)
            | Scenario::MarketingCampaign(s)
            | Scenario::HolidayPeak(s) => s.start = start,
        }
        self
    }

    /// The company's local hour at which [`Start::Auto`] and [`Start::Day`]
    /// begin.
    pub(crate) fn local_hour(&self) -> i64 {
        match self {
            Scenario::AdminBulkDump(_) => 10,
            Scenario::LowAndSlow(_) => 9,
            Scenario::SupplierScrape(_) => 8,
            Scenario::CredentialStuffing(_) => 20,
            _ => 0,
        }
    }

    /// How long the episode lasts, in milliseconds.
    pub(crate) fn duration_ms(&self) -> i64 {
        match self {
            Scenario::AdminBulkDump(s) => i64::from(s.hours) * HOUR_MS,
            Scenario::CredentialStuffing(s) => i64::from(s.hours) * HOUR_MS,
            Scenario::LowAndSlow(s) => i64::from(s.days) * DAY_MS,
            Scenario::SupplierScrape(s) => i64::from(s.days) * DAY_MS,
            Scenario::HeavyCsAgents(s) => i64::from(s.days) * DAY_MS,
            Scenario::FulfilmentBatch(s)
            | Scenario::MarketingCampaign(s)
            | Scenario::HolidayPeak(s) => i64::from(s.days) * DAY_MS,
        }
    }

    pub(crate) fn validate(&self, config: &Config) -> Result<(), ConfigError> {
        let run_days = run_days(config);
        match self.start() {
            Start::Auto => {}
            Start::Day(n) => check(
                i64::from(n) < run_days,
                "scenarios.start",
                format!(
                    "{}: day {n} is not in the run of {run_days} day(s) (days count from 0)",
                    self.name()
                ),
            )?,
            Start::AtMs(t) => check(
                t >= config.start_ms - 3_650 * DAY_MS && t < config.start_ms + config.duration_ms(),
                "scenarios.start",
                format!(
                    "{}: starts after the end of the run (or more than 10 years before it)",
                    self.name()
                ),
            )?,
        }
        let days = |d: u32, field| check((1..=3_650).contains(&d), field, "1 to 3,650 days");
        let factor = |f: f64, field| {
            check(
                f.is_finite() && (1.0..=100.0).contains(&f),
                field,
                "a factor between 1 and 100",
            )
        };
        match self {
            Scenario::AdminBulkDump(s) => {
                check(
                    (1..=100_000_000).contains(&s.customers),
                    "admin_bulk_dump.customers",
                    "between 1 and 100 million",
                )?;
                check(
                    (1..=240).contains(&s.hours),
                    "admin_bulk_dump.hours",
                    "between 1 and 240",
                )?;
                check(
                    1 <= s.min_subjects
                        && s.min_subjects <= s.max_subjects
                        && s.max_subjects <= 10_000,
                    "admin_bulk_dump.subjects",
                    "need 1 <= min_subjects <= max_subjects <= 10,000 (the event format's limit)",
                )?;
                let events = s.customers.min(config.customers) / u64::from(s.min_subjects);
                check(
                    events <= 1_000_000,
                    "admin_bulk_dump.subjects",
                    "more than a million export events: raise min_subjects",
                )
            }
            Scenario::LowAndSlow(s) => {
                days(s.days, "low_and_slow.days")?;
                check(
                    s.min_per_day <= s.max_per_day && s.max_per_day <= 100_000,
                    "low_and_slow.per_day",
                    "need min_per_day <= max_per_day <= 100,000",
                )
            }
            Scenario::SupplierScrape(s) => {
                days(s.days, "supplier_scrape.days")?;
                check(
                    s.min_per_day <= s.max_per_day && s.max_per_day <= 10_000_000,
                    "supplier_scrape.per_day",
                    "need min_per_day <= max_per_day <= 10 million",
                )?;
                check(
                    config.suppliers >= 1,
                    "supplier_scrape",
                    "needs the outsourced customer-service supplier (suppliers >= 1)",
                )
            }
            Scenario::CredentialStuffing(s) => {
                check(
                    (1..=240).contains(&s.hours),
                    "credential_stuffing.hours",
                    "between 1 and 240",
                )?;
                check(
                    (1..=100_000_000).contains(&s.attempts),
                    "credential_stuffing.attempts",
                    "between 1 and 100 million",
                )?;
                check(
                    s.success_share.is_finite()
                        && s.unknown_share.is_finite()
                        && (0.0..1.0).contains(&s.unknown_share)
                        && s.success_share >= 0.0
                        && s.success_share <= 1.0 - s.unknown_share,
                    "credential_stuffing.success_share",
                    "need 0 <= unknown_share < 1 and 0 <= success_share <= 1 - unknown_share",
                )?;
                check(
                    (1..=1_000_000).contains(&s.addresses),
                    "credential_stuffing.addresses",
                    "between 1 and 1 million",
                )?;
                check(
                    !s.countries.is_empty(),
                    "credential_stuffing.countries",
                    "at least one country",
                )?;
                for c in &s.countries {
                    check(
                        net::home_country(c).is_some(),
                        "credential_stuffing.countries",
                        format!(
                            "no home broadband block for {c:?}; known: {}",
                            net::home_countries().collect::<Vec<_>>().join(", ")
                        ),
                    )?;
                }
                Ok(())
            }
            Scenario::HeavyCsAgents(s) => {
                days(s.days, "heavy_cs_agents.days")?;
                check(s.agents >= 1, "heavy_cs_agents.agents", "at least 1")?;
                factor(s.factor, "heavy_cs_agents.factor")
            }
            Scenario::FulfilmentBatch(s) => {
                days(s.days, "fulfilment_batch.days")?;
                factor(s.factor, "fulfilment_batch.factor")?;
                check(
                    config.bulk.enabled,
                    "fulfilment_batch",
                    "needs the scheduled bulk jobs (bulk.enabled)",
                )
            }
            Scenario::MarketingCampaign(s) => {
                days(s.days, "marketing_campaign.days")?;
                factor(s.factor, "marketing_campaign.factor")?;
                check(
                    config.bulk.enabled,
                    "marketing_campaign",
                    "needs the scheduled bulk jobs (bulk.enabled)",
                )
            }
            Scenario::HolidayPeak(s) => {
                days(s.days, "holiday_peak.days")?;
                factor(s.factor, "holiday_peak.factor")
            }
        }
    }
}

/// Days the run touches (a run of hours counts its started days).
pub(crate) fn run_days(config: &Config) -> i64 {
    config.duration_ms().div_euclid(DAY_MS) + i64::from(config.duration_ms() % DAY_MS != 0)
}

/// The day [`Start::Auto`] stands for.
pub(crate) fn auto_day(config: &Config) -> i64 {
    let d = run_days(config);
    if d >= 12 { 9 } else { d / 2 }
}

/// The first time at or after `t` whose local hour of day is `hour`.
pub(crate) fn next_local(config: &Config, t: i64, hour: i64) -> i64 {
    let offset = i64::from(config.rhythm.utc_offset_minutes) * 60_000;
    let in_day = (t + offset).rem_euclid(DAY_MS);
    t + (hour * HOUR_MS - in_day).rem_euclid(DAY_MS)
}

/// When `scenario`'s episode starts in the run of `config`.
pub(crate) fn resolve_start(config: &Config, scenario: &Scenario) -> i64 {
    let day = match scenario.start() {
        Start::AtMs(t) => return t,
        Start::Auto => auto_day(config),
        Start::Day(n) => i64::from(n),
    };
    next_local(
        config,
        config.start_ms + day * DAY_MS,
        scenario.local_hour(),
    )
}

/// Parses the start of `NAME@START`: `dN` / `dayN` (day N of the run),
/// `+Nh` (N hours after the start of the run) or an RFC 3339 time.
fn parse_start(config: &Config, s: &str) -> Option<Start> {
    if let Some(n) = s.strip_prefix("day").or_else(|| s.strip_prefix('d')) {
        return n.parse().ok().map(Start::Day);
    }
    if let Some(h) = s.strip_prefix('+').and_then(|h| h.strip_suffix('h')) {
        let h: i64 = h.parse().ok()?;
        return Some(Start::AtMs(
            config.start_ms.checked_add(h.checked_mul(HOUR_MS)?)?,
        ));
    }
    parse_rfc3339(s).map(Start::AtMs)
}

impl Config {
    /// Adds the scenario `spec` = `NAME[@START]` with its default
    /// parameters: START is `dN` or `dayN` (day N of the run, from 0, at
    /// the scenario's local hour), `+Nh` (N hours after the run's start) or
    /// an RFC 3339 time; without it, [`Start::Auto`]. `forged_token` turns
    /// the 2025 attack on ([`Config::attack`], defaults unless already set)
    /// starting then (to the hour; `Auto` and `dN` at the start of that
    /// day). Set `days`/`hours` first: starts are relative to the run.
    pub fn add_scenario(&mut self, spec: &str) -> Result<(), ConfigError> {
        let (name, start) = match spec.split_once('@') {
            Some((n, s)) => (n, Some(s)),
            None => (spec, None),
        };
        let start = match start {
            None => Start::Auto,
            Some(s) => parse_start(self, s).ok_or_else(|| ConfigError {
                field: "scenario",
                reason: format!(
                    "{spec:?}: START must be dN (day N of the run), +Nh (hours after the \
                     start) or an RFC 3339 time"
                ),
            })?,
        };
        if name == "forged_token" {
            let offset_hours = match start {
                Start::Auto => auto_day(self) * 24,
                Start::Day(n) => i64::from(n) * 24,
                Start::AtMs(t) => (t - self.start_ms).div_euclid(HOUR_MS),
            };
            self.attack
                .get_or_insert_with(Default::default)
                .start_offset_hours = offset_hours;
            return Ok(());
        }
        let scenario = Scenario::named(name).ok_or_else(|| ConfigError {
            field: "scenario",
            reason: format!(
                "unknown scenario {name:?}; known: {}",
                SCENARIOS.map(|(n, _, _)| n).join(", ")
            ),
        })?;
        self.scenarios.push(scenario.starting(start));
        Ok(())
    }
}
