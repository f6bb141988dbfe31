//! The first, single-day generator used by `custos demo` (kept until the demo
//! moves to [`crate::Generator`]): records as ready-made JSON strings in an
//! older shape, not the `events` input format.

use crate::rng::SplitMix64;

/// Who the company is.
#[derive(Clone, Debug)]
pub struct Company {
    /// Number of customers (data subjects).
    pub customers: u64,
    /// Number of employees.
    pub employees: u64,
    /// Day being simulated, as seconds since the Unix epoch at 00:00 UTC.
    pub day_start: u64,
}

impl Default for Company {
    fn default() -> Self {
        Company {
            customers: 1_000_000,
            employees: 2_000,
            // 2025-06-02 00:00:00 UTC (KST 09:00), inside the 2025 attack window.
            day_start: 1_748_822_400,
        }
    }
}

const DEPARTMENTS: [(&str, &str, &str, &[&str]); 4] = [
    (
        "customer-service",
        "cs-tool",
        "customer.read",
        &["name", "phone", "address", "order_history"],
    ),
    (
        "fulfilment",
        "delivery-app",
        "delivery.read",
        &["name", "phone", "address", "entrance_code"],
    ),
    (
        "payments",
        "payments-console",
        "payment.read",
        &["name", "payment"],
    ),
    (
        "marketing",
        "campaign-batch",
        "segment.export",
        &["name", "email"],
    ),
];

/// One access record, ready to be logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRecord {
    /// Seconds since the epoch.
    pub time: u64,
    /// True for records of the simulated attack.
    pub attack: bool,
    /// The record as one JSON line (no newline).
    pub json: String,
}

/// Generates `n` records of one simulated day, `attack_share` of them (per
/// million) from the forged-token attack, in time order.
pub fn day(
    company: &Company,
    seed: u64,
    n: u64,
    attack_per_million: u64,
) -> impl Iterator<Item = AccessRecord> + '_ {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(move |i| {
        // Spread over the day with a daytime bulge.
        let frac = i as f64 / n.max(1) as f64;
        let time = company.day_start + (frac * 86_400.0) as u64;
        let ms = rng.below(1000);
        let attack = rng.below(1_000_000) < attack_per_million;
        let json = if attack {
            attack_record(company, &mut rng, time, ms)
        } else {
            staff_record(company, &mut rng, time, ms)
        };
        AccessRecord { time, attack, json }
    })
}

fn timestamp(t: u64, ms: u64) -> String {
    // Civil-from-days (proleptic Gregorian), enough for record timestamps.
    let days = t / 86_400;
    let secs = t % 86_400;
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn staff_record(c: &Company, rng: &mut SplitMix64, t: u64, ms: u64) -> String {
    let dept_i = rng.below(DEPARTMENTS.len() as u64) as usize;
    let (dept, service, op, cats) = DEPARTMENTS.get(dept_i).copied().unwrap_or((
        "customer-service",
        "cs-tool",
        "customer.read",
        &["name"],
    ));
    let emp = rng.below(c.employees);
    let subject = rng.below(c.customers);
    let ncat = 1 + rng.below(cats.len() as u64) as usize;
    let categories: Vec<String> = cats.iter().take(ncat).map(|s| format!("\"{s}\"")).collect();
    format!(
        concat!(
            "{{\"time\":\"{}\",\"actor\":{{\"id\":\"emp-{:05}\",\"kind\":\"employee\",\"department\":\"{}\"}},",
            "\"credential\":{{\"jti\":\"{:016x}\",\"kid\":\"staff-2025-06\",\"issuer\":\"custos\"}},",
            "\"src\":{{\"ip\":\"10.{}.{}.{}\",\"country\":\"KR\"}},\"service\":\"{}\",\"operation\":\"{}\",",
            "\"dataset\":\"customers\",\"categories\":[{}],\"subjects\":[\"cust-{:08}\"],\"purpose\":\"{}\",\"decision\":\"allow\"}}"
        ),
        timestamp(t, ms),
        emp,
        dept,
        rng.next_u64(),
        rng.below(256),
        rng.below(256),
        rng.below(256),
        service,
        op,
        categories.join(","),
        subject,
        dept,
    )
}

fn attack_record(c: &Company, rng: &mut SplitMix64, t: u64, ms: u64) -> String {
    // One forged token per customer, signed with the stolen 2019 key, from
    // overseas hosting addresses, reading the delivery-address page.
    let subject = rng.below(c.customers);
    format!(
        concat!(
            "{{\"time\":\"{}\",\"actor\":{{\"id\":\"cust-{:08}\",\"kind\":\"customer\"}},",
            "\"credential\":{{\"jti\":\"{:016x}\",\"kid\":\"cust-auth-2019\",\"issuer\":\"customer-auth\"}},",
            "\"src\":{{\"ip\":\"203.0.113.{}\",\"country\":\"{}\"}},\"service\":\"customer-gateway\",",
            "\"operation\":\"address.list\",\"dataset\":\"customers\",",
            "\"categories\":[\"name\",\"phone\",\"address\",\"entrance_code\"],\"subjects\":[\"cust-{:08}\"],",
            "\"purpose\":\"self-service\",\"decision\":\"allow\"}}"
        ),
        timestamp(t, ms),
        subject,
        rng.next_u64(),
        rng.below(256),
        if rng.below(2) == 0 { "CN" } else { "US" },
        subject,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_well_formed() {
        let c = Company::default();
        let a: Vec<_> = day(&c, 7, 2000, 50_000).collect();
        let b: Vec<_> = day(&c, 7, 2000, 50_000).collect();
        assert_eq!(a, b);
        let other: Vec<_> = day(&c, 8, 2000, 50_000).collect();
        assert_ne!(a, other);
        assert!(a.iter().any(|r| r.attack) && a.iter().any(|r| !r.attack));
        for r in &a {
            let v: serde_json::Value = serde_json::from_str(&r.json).unwrap();
            assert!(v["subjects"].as_array().is_some_and(|s| s.len() == 1));
            assert!(r.json.len() < 600);
        }
        assert!(a.windows(2).all(|w| w[0].time <= w[1].time));
    }

    #[test]
    fn timestamps_are_civil_dates() {
        assert_eq!(timestamp(1_748_822_400, 5), "2025-06-02T00:00:00.005Z");
        assert_eq!(timestamp(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            timestamp(951_782_400 + 86_399, 999),
            "2000-02-29T23:59:59.999Z"
        );
    }
}
