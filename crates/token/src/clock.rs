//! The injected clock. Every time-dependent decision in this crate (expiry,
//! rotation, overlap, feed freshness) reads the time through [`Clock`], so
//! tests move time by hand and never sleep.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time, in milliseconds since the Unix epoch.
///
/// Contract: monotone enough for expiry decisions; a clock that jumps back
/// only delays rotation and expiry, it never makes a refused token valid
/// again beyond what its `exp` allows.
pub trait Clock: Send + Sync {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    fn now_millis(&self) -> u64;

    /// Whole seconds since the epoch: the JWT `NumericDate` (RFC 7519 §2).
    fn now_secs(&self) -> u64 {
        self.now_millis() / 1000
    }
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// A clock moved by hand, for tests, fuzzing and simulations.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock standing at `millis` since the epoch.
    pub fn at_millis(millis: u64) -> Self {
        Self(AtomicU64::new(millis))
    }

    /// A clock standing at `secs` since the epoch.
    pub fn at_secs(secs: u64) -> Self {
        Self::at_millis(secs.saturating_mul(1000))
    }

    /// Sets the time.
    pub fn set_millis(&self, millis: u64) {
        self.0.store(millis, Ordering::SeqCst);
    }

    /// Moves the time forward by `millis`.
    pub fn advance_millis(&self, millis: u64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }

    /// Moves the time forward by `secs`.
    pub fn advance_secs(&self, secs: u64) {
        self.advance_millis(secs.saturating_mul(1000));
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
