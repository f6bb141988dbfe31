//! The evaluation suite: the runs a detection engine is scored on
//! (`custos eval`), one benign company and one run per attack, each with
//! nine days of normal activity first so that baselines exist.

use crate::config::{Attack, Config};
use crate::scenario::{Scenario, Start};

/// One case of the evaluation suite.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalCase {
    /// `benign` or the attack's scenario name.
    pub name: &'static str,
    /// What the case checks, in one line.
    pub description: &'static str,
    /// The run.
    pub config: Config,
}

/// Days of normal activity before each attack.
pub const WARM_UP_DAYS: u32 = 9;

/// The evaluation cases for `seed`, in this order: `benign` (14 days, every
/// benign look-alike, no attack: every alert is a false one), then
/// `admin_bulk_dump`, `low_and_slow`, `supplier_scrape`, `forged_token`,
/// `credential_stuffing`, each starting on day 9 (after
/// [`WARM_UP_DAYS`] of normal activity) and alone in its run. All share a
/// realistic company: 1M customers, 2,000 employees, 150K background
/// events a day (so the suite runs in about a minute).
///
/// ```
/// let suite = sim::eval_suite(7);
/// assert_eq!(suite.first().map(|c| c.name), Some("benign"));
/// for case in &suite {
///     sim::World::new(case.config.clone())?;
/// }
/// # Ok::<(), sim::ConfigError>(())
/// ```
#[must_use]
pub fn eval_suite(seed: u64) -> Vec<EvalCase> {
    let base = Config {
        seed,
        customers: 1_000_000,
        employees: 2_000,
        events_per_day: 150_000,
        attack: None,
        ..Config::default()
    };
    let day = |n| Start::Day(n);
    let named = |name: &str, start| Scenario::named(name).map(|s| s.starting(start));
    let run = |days: u32, scenarios: Vec<Option<Scenario>>| Config {
        days,
        scenarios: scenarios.into_iter().flatten().collect(),
        ..base.clone()
    };
    let w = WARM_UP_DAYS;
    vec![
        EvalCase {
            name: "benign",
            description: "14 days of a busy, innocent company: a CS backlog (days 7-10), a \
                          bigger fulfilment batch (8-12), a big campaign (9-11), a holiday \
                          peak (10-12), each from local midnight; no attack",
            config: run(
                14,
                vec![
                    named("heavy_cs_agents", day(7)),
                    named("fulfilment_batch", day(8)),
                    named("marketing_campaign", day(9)),
                    named("holiday_peak", day(10)),
                ],
            ),
        },
        EvalCase {
            name: "admin_bulk_dump",
            description: "an engineer dumps 200K customers in 2 hours on day 9 (10:00 local)",
            config: run(w + 1, vec![named("admin_bulk_dump", day(w))]),
        },
        EvalCase {
            name: "low_and_slow",
            description: "a departing CS agent reads 150-400 extra customers a day for 28 days \
                          from day 9, then leaves",
            config: run(w + 29, vec![named("low_and_slow", day(w))]),
        },
        EvalCase {
            name: "supplier_scrape",
            description: "an outsourced CS agent scrapes 10K-20K customers a day for 5 days \
                          from day 9",
            config: run(w + 6, vec![named("supplier_scrape", day(w))]),
        },
        EvalCase {
            name: "forged_token",
            description: "the 2025 attack from day 9 for 2 days at its real rate (probing \
                          before it, 4 requests a day)",
            config: Config {
                attack: Some(Attack {
                    start_offset_hours: i64::from(w) * 24,
                    days: 2,
                    ..Attack::default()
                }),
                ..run(w + 2, vec![])
            },
        },
        EvalCase {
            name: "credential_stuffing",
            description: "a botnet tries 60K customer sign-ins over 12 hours from day 9 \
                          (20:00 local)",
            config: run(w + 1, vec![named("credential_stuffing", day(w))]),
        },
    ]
}
