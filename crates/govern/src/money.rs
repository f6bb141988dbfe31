//! Money at risk: records exposed × a per-record cost, per finding and per
//! supplier; and a FAIR-style estimate (loss event frequency × loss
//! magnitude, each a low / most-likely / high range) by a seeded,
//! deterministic Monte Carlo over triangular distributions.

use serde::{Deserialize, Serialize};

/// The default cost of one exposed record: USD 173.00, in cents.
pub const DEFAULT_PER_RECORD_CENTS: u64 = 17_300;

/// Where [`DEFAULT_PER_RECORD_CENTS`] comes from. The report's per-record
/// figures are measured on breaches of about 2,000 to 113,000 records;
/// IBM excludes "mega breaches" of a million records or more from them, so
/// the linear product overstates very large exposures: read it as an upper
/// bound there and set a lower `money.per_record_usd_cents` if you have a
/// better figure.
pub const DEFAULT_COST_SOURCE: &str = "IBM Security / Ponemon Institute, Cost of a Data Breach \
    Report 2024: average cost per record of customer personally identifiable information, \
    USD 173";

/// Cost in US cents of `records` exposed at `per_record_cents` each (exact,
/// no overflow).
pub fn exposure_cents(records: u64, per_record_cents: u64) -> u128 {
    u128::from(records) * u128::from(per_record_cents)
}

/// `$1,234,567.89`.
pub fn format_usd(cents: u128) -> String {
    let dollars = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in dollars.chars().enumerate() {
        if i > 0 && (dollars.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("${grouped}.{:02}", cents % 100)
}

/// A three-point estimate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range3 {
    /// Lowest plausible.
    pub low: f64,
    /// Most likely.
    pub most_likely: f64,
    /// Highest plausible.
    pub high: f64,
}

impl Range3 {
    fn check(&self, what: &str) -> Result<(), String> {
        let ok = [self.low, self.most_likely, self.high]
            .iter()
            .all(|x| x.is_finite() && *x >= 0.0 && *x <= 1e15)
            && self.low <= self.most_likely
            && self.most_likely <= self.high;
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{what}: need finite 0 <= low <= most_likely <= high <= 1e15"
            ))
        }
    }

    /// Mean of the triangular distribution on this range.
    pub fn mean(&self) -> f64 {
        (self.low + self.most_likely + self.high) / 3.0
    }

    /// The triangular distribution's inverse CDF at `u` in [0, 1).
    fn quantile(&self, u: f64) -> f64 {
        let (a, c, b) = (self.low, self.most_likely, self.high);
        if b <= a {
            return a;
        }
        let fc = (c - a) / (b - a);
        if u < fc {
            a + (u * (b - a) * (c - a)).sqrt()
        } else {
            b - ((1.0 - u) * (b - a) * (b - c)).sqrt()
        }
    }
}

/// A FAIR-style scenario: loss events a year and loss per event (USD).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FairInput {
    /// Loss event frequency, events per year.
    pub frequency_per_year: Range3,
    /// Loss magnitude per event, USD.
    pub magnitude_usd: Range3,
}

/// Annualised loss exposure (USD a year).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FairEstimate {
    /// 10th percentile.
    pub low: f64,
    /// Median.
    pub most_likely: f64,
    /// 90th percentile.
    pub high: f64,
    /// Mean (analytic: mean frequency × mean magnitude).
    pub mean: f64,
    /// Samples drawn.
    pub samples: usize,
    /// The seed.
    pub seed: u64,
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, seedable, deterministic.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Annualised loss = frequency × magnitude, each drawn from a triangular
/// distribution on its range, `samples` times from `seed` (same inputs, same
/// answer); percentiles 10 / 50 / 90 and the analytic mean.
///
/// # Errors
/// A range that is not `0 <= low <= most_likely <= high`, or `samples`
/// outside 100..=1,000,000.
pub fn fair_estimate(input: &FairInput, seed: u64, samples: usize) -> Result<FairEstimate, String> {
    input.frequency_per_year.check("frequency_per_year")?;
    input.magnitude_usd.check("magnitude_usd")?;
    if !(100..=1_000_000).contains(&samples) {
        return Err("samples: 100 to 1000000".into());
    }
    let mut rng = SplitMix64(seed);
    let mut draws: Vec<f64> = (0..samples)
        .map(|_| {
            let f = input.frequency_per_year.quantile(rng.next_f64());
            let m = input.magnitude_usd.quantile(rng.next_f64());
            f * m
        })
        .collect();
    draws.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((draws.len() - 1) as f64 * q).round() as usize;
        draws.get(i).copied().unwrap_or(0.0)
    };
    Ok(FairEstimate {
        low: at(0.10),
        most_likely: at(0.50),
        high: at(0.90),
        mean: input.frequency_per_year.mean() * input.magnitude_usd.mean(),
        samples,
        seed,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn usd_formatting() {
        assert_eq!(format_usd(0), "$0.00");
        assert_eq!(format_usd(17_300), "$173.00");
        assert_eq!(format_usd(123_456_789), "$1,234,567.89");
        assert_eq!(
            format_usd(exposure_cents(33_700_000, DEFAULT_PER_RECORD_CENTS)),
            "$5,830,100,000.00"
        );
    }

    #[test]
    fn fair_is_deterministic_and_ordered() {
        let input = FairInput {
            frequency_per_year: Range3 {
                low: 0.1,
                most_likely: 0.5,
                high: 2.0,
            },
            magnitude_usd: Range3 {
                low: 1e5,
                most_likely: 1e6,
                high: 1e7,
            },
        };
        let a = fair_estimate(&input, 7, 10_000).unwrap();
        let b = fair_estimate(&input, 7, 10_000).unwrap();
        assert_eq!(a, b);
        assert!(a.low < a.most_likely && a.most_likely < a.high, "{a:?}");
        // Analytic mean: (2.6/3) * (11.1e6/3).
        assert!((a.mean - 2.6 / 3.0 * 11.1e6 / 3.0).abs() < 1.0);
        // The bounds of the product.
        assert!(a.low >= 0.1 * 1e5 && a.high <= 2.0 * 1e7);
        let c = fair_estimate(&input, 8, 10_000).unwrap();
        assert_ne!(a.most_likely, c.most_likely);
        // Degenerate ranges give the point product.
        let p = FairInput {
            frequency_per_year: Range3 {
                low: 2.0,
                most_likely: 2.0,
                high: 2.0,
            },
            magnitude_usd: Range3 {
                low: 5.0,
                most_likely: 5.0,
                high: 5.0,
            },
        };
        let e = fair_estimate(&p, 1, 100).unwrap();
        assert_eq!(
            (e.low, e.most_likely, e.high, e.mean),
            (10.0, 10.0, 10.0, 10.0)
        );
        let bad = FairInput {
            frequency_per_year: Range3 {
                low: 3.0,
                most_likely: 2.0,
                high: 5.0,
            },
            ..p
        };
        assert!(fair_estimate(&bad, 1, 100).is_err());
        let nan = FairInput {
            magnitude_usd: Range3 {
                low: f64::NAN,
                most_likely: 1.0,
                high: 2.0,
            },
            ..p
        };
        assert!(fair_estimate(&nan, 1, 100).is_err());
    }
}
