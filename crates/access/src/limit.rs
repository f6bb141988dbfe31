//! Distinct data subjects per (principal, grant, UTC day).
//!
//! State is in memory only: a restart forgets today's counts, so a
//! principal could read up to its limit again after one (the `detect`
//! capability replays the ledger and sees the whole day). Exact sets of
//! 64-bit keyed SipHash values of the subject strings; the key is random
//! per process, so colliding subject names cannot be chosen in advance to
//! hide subjects. Days before the newest day seen are dropped.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

/// Seconds in a UTC day.
const DAY: i64 = 86_400;

#[derive(Default)]
struct Counter {
    day: i64,
    seen: HashSet<u64>,
}

pub(crate) struct DailyLimits {
    keys: std::collections::hash_map::RandomState,
    newest_day: i64,
    /// principal → grant → today's subjects.
    counters: HashMap<String, HashMap<String, Counter>>,
}

/// What recording would do.
pub(crate) enum Outcome {
    /// Recorded; the distinct subjects today, including these.
    Recorded(u64),
    /// Over the limit, nothing recorded; the count it would have reached.
    Over(u64),
}

impl DailyLimits {
    pub(crate) fn new() -> Self {
        DailyLimits {
            keys: std::collections::hash_map::RandomState::new(),
            newest_day: i64::MIN,
            counters: HashMap::new(),
        }
    }

    /// The UTC day of `now`.
    pub(crate) fn day_of(now: i64) -> i64 {
        now.div_euclid(DAY)
    }

    /// Counts `subjects` against `limit` for (principal, grant) on the UTC
    /// day of `now`; records them only if the total stays within `limit`.
    pub(crate) fn record(
        &mut self,
        principal: &str,
        grant: &str,
        now: i64,
        subjects: &[String],
        limit: u32,
    ) -> Outcome {
        let day = Self::day_of(now);
        if day > self.newest_day {
            self.newest_day = day;
            self.counters.retain(|_, grants| {
                grants.retain(|_, c| c.day >= day);
                !grants.is_empty()
            });
        }
        let hashes: HashSet<u64> = subjects.iter().map(|s| self.keys.hash_one(s)).collect();
        let counter = match self
            .counters
            .get_mut(principal)
            .and_then(|g| g.get_mut(grant))
        {
            Some(c) => c,
            None => self
                .counters
                .entry(principal.to_owned())
                .or_default()
                .entry(grant.to_owned())
                .or_insert_with(|| Counter {
                    day,
                    seen: HashSet::new(),
                }),
        };
        if counter.day != day {
            // A new day for this pair (or a clock that went back: the
            // older day's count is not kept).
            counter.day = day;
            counter.seen.clear();
        }
        let fresh = hashes.iter().filter(|h| !counter.seen.contains(h)).count();
        let total = u64::try_from(counter.seen.len().saturating_add(fresh)).unwrap_or(u64::MAX);
        if total > u64::from(limit) {
            return Outcome::Over(total);
        }
        counter.seen.extend(hashes);
        Outcome::Recorded(total)
    }

    /// Today's count for (principal, grant), without recording.
    pub(crate) fn count(&self, principal: &str, grant: &str, now: i64) -> u64 {
        let day = Self::day_of(now);
        self.counters
            .get(principal)
            .and_then(|g| g.get(grant))
            .filter(|c| c.day == day)
            .map_or(0, |c| u64::try_from(c.seen.len()).unwrap_or(u64::MAX))
    }
}
