//! Counters, gauges and a histogram, rendered by hand in the Prometheus text
//! exposition format 0.0.4 (no metrics crate: a few atomics suffice).
//!
//! Rates (events per second) are not exported: Prometheus derives them from
//! the counters, e.g. `rate(custos_ingest_events_total[1m])`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Outcome of one `POST /v1/events`, the `result` label of
/// `custos_ingest_batches_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BatchResult {
    Accepted,
    Invalid,
    TooLarge,
    Throttled,
    Unavailable,
}

impl BatchResult {
    const ALL: [BatchResult; 5] = [
        BatchResult::Accepted,
        BatchResult::Invalid,
        BatchResult::TooLarge,
        BatchResult::Throttled,
        BatchResult::Unavailable,
    ];
    fn label(self) -> &'static str {
        match self {
            BatchResult::Accepted => "accepted",
            BatchResult::Invalid => "invalid",
            BatchResult::TooLarge => "too_large",
            BatchResult::Throttled => "throttled",
            BatchResult::Unavailable => "unavailable",
        }
    }
    fn slot(self) -> usize {
        self as usize
    }
}

/// Upper bounds of the append-latency buckets, in seconds (1 ms … 10 s).
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        if let Some(c) = self.counts.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Everything the server counts.
#[derive(Default)]
pub(crate) struct Metrics {
    events: AtomicU64,
    entries: AtomicU64,
    batches: [AtomicU64; 5],
    admin_actions: AtomicU64,
    latency: Histogram,
    http: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Introspection outcomes: `active` or the refusal code.
    introspections: Mutex<BTreeMap<&'static str, u64>>,
    refusals_unrecorded: AtomicU64,
    control_entries: AtomicU64,
    detect_entries: AtomicU64,
    alerts_raised: AtomicU64,
}

/// Point-in-time values read when `/metrics` is scraped.
pub(crate) struct Gauges {
    pub(crate) inflight_events: u64,
    pub(crate) inflight_limit: u64,
    pub(crate) ledger_queued_bytes: u64,
    pub(crate) ledger_size: u64,
    pub(crate) resident_bytes: Option<u64>,
    pub(crate) ready: bool,
}

impl Metrics {
    pub(crate) fn batch(&self, r: BatchResult) {
        if let Some(c) = self.batches.get(r.slot()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn accepted(&self, events: u64, entries: u64, latency: Duration) {
        self.events.fetch_add(events, Ordering::Relaxed);
        self.entries.fetch_add(entries, Ordering::Relaxed);
        self.latency.observe(latency);
        self.batch(BatchResult::Accepted);
    }

    pub(crate) fn admin_logged(&self, n: u64) {
        self.admin_actions.fetch_add(n, Ordering::Relaxed);
    }

    /// One introspection answered with `outcome` (`active` or a refusal code).
    pub(crate) fn introspection(&self, outcome: &'static str) {
        let mut m = self
            .introspections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *m.entry(outcome).or_insert(0) += 1;
    }

    /// A token refusal whose ledger entry could not be written.
    pub(crate) fn refusal_unrecorded(&self) {
        self.refusals_unrecorded.fetch_add(1, Ordering::Relaxed);
    }

    /// Control-plane entries (token, principal, grant) appended.
    pub(crate) fn control_logged(&self, n: u64) {
        self.control_entries.fetch_add(n, Ordering::Relaxed);
    }

    /// Ledger entries the detectors processed.
    pub(crate) fn detect_processed(&self, n: u64) {
        self.detect_entries.fetch_add(n, Ordering::Relaxed);
    }

    /// Alerts raised.
    pub(crate) fn alerts_raised(&self, n: u64) {
        self.alerts_raised.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn http(&self, route: &'static str, status: u16) {
        let mut m = self
            .http
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *m.entry((route, status)).or_insert(0) += 1;
    }

    /// The exposition text (format 0.0.4).
    pub(crate) fn render(&self, g: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut single = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            );
        };
        single(
            "custos_ingest_events_total",
            "counter",
            "Access events durably appended to the ledger (rate() of it is the ingest rate).",
            load(&self.events),
        );
        single(
            "custos_ingest_entries_total",
            "counter",
            "Ledger entries written for access events (an event with many subjects spans several).",
            load(&self.entries),
        );
        single(
            "custos_ingest_inflight_events",
            "gauge",
            "Events being read, parsed or awaiting the ledger (the ingest queue depth).",
            g.inflight_events,
        );
        single(
            "custos_ingest_inflight_limit",
            "gauge",
            "The in-flight event budget (max_inflight_events); beyond it requests get 429.",
            g.inflight_limit,
        );
        single(
            "custos_ledger_queued_bytes",
            "gauge",
            "Bytes accepted by the ledger and not yet committed.",
            g.ledger_queued_bytes,
        );
        single(
            "custos_ledger_size",
            "gauge",
            "Entries in the ledger's latest published checkpoint.",
            g.ledger_size,
        );
        single(
            "custos_admin_actions_logged_total",
            "counter",
            "Admin actions (credential issue/revoke) this server appended to the ledger.",
            load(&self.admin_actions),
        );
        single(
            "custos_control_entries_logged_total",
            "counter",
            "Token-authority, principal and grant lifecycle entries and token refusals appended to the ledger.",
            load(&self.control_entries),
        );
        single(
            "custos_detect_entries_total",
            "counter",
            "Ledger entries the detectors processed.",
            load(&self.detect_entries),
        );
        single(
            "custos_alerts_raised_total",
            "counter",
            "Alerts raised (new, not merged repeats).",
            load(&self.alerts_raised),
        );
        single(
            "custos_token_refusals_unrecorded_total",
            "counter",
            "Token refusals whose ledger entry could not be written (the token was refused all the same).",
            load(&self.refusals_unrecorded),
        );
        single(
            "custos_ready",
            "gauge",
            "1 if the server accepts events (ledger open, not shutting down), else 0.",
            u64::from(g.ready),
        );
        if let Some(rss) = g.resident_bytes {
            single(
                "custos_process_resident_memory_bytes",
                "gauge",
                "Resident set size of the server process.",
                rss,
            );
        }

        let _ = write!(
            out,
            "# HELP custos_ingest_batches_total Event batches (POST /v1/events) by outcome.\n\
             # TYPE custos_ingest_batches_total counter\n"
        );
        for r in BatchResult::ALL {
            let v = self.batches.get(r.slot()).map_or(0, load);
            let _ = writeln!(
                out,
                "custos_ingest_batches_total{{result=\"{}\"}} {v}",
                r.label()
            );
        }

        let _ = write!(
            out,
            "# HELP custos_append_latency_seconds Time from receiving a batch to its durable acknowledgement.\n\
             # TYPE custos_append_latency_seconds histogram\n"
        );
        let mut cumulative = 0u64;
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += self.latency.counts.get(i).map_or(0, load);
            let _ = writeln!(
                out,
                "custos_append_latency_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        cumulative += self.latency.counts.get(BUCKETS.len()).map_or(0, load);
        let _ = writeln!(
            out,
            "custos_append_latency_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let sum = load(&self.latency.sum_micros) as f64 / 1e6;
        let _ = writeln!(out, "custos_append_latency_seconds_sum {sum}");
        let _ = writeln!(
            out,
            "custos_append_latency_seconds_count {}",
            load(&self.latency.count)
        );

        let _ = write!(
            out,
            "# HELP custos_token_introspections_total RFC 7662 introspections by outcome (active, or the refusal reason).\n\
             # TYPE custos_token_introspections_total counter\n"
        );
        let intro = self
            .introspections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (outcome, v) in intro {
            let _ = writeln!(
                out,
                "custos_token_introspections_total{{outcome=\"{outcome}\"}} {v}"
            );
        }

        let _ = write!(
            out,
            "# HELP custos_http_requests_total HTTP requests by route and status code.\n\
             # TYPE custos_http_requests_total counter\n"
        );
        let http = self
            .http
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for ((route, code), v) in http {
            let _ = writeln!(
                out,
                "custos_http_requests_total{{route=\"{route}\",code=\"{code}\"}} {v}"
            );
        }
        out
    }
}

/// Resident set size from `/proc/self/statm` (second field, in pages) times
/// the page size from the auxiliary vector (`AT_PAGESZ`), read without
/// `unsafe`. `None` off Linux.
pub(crate) fn resident_bytes(page_size: u64) -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    pages.checked_mul(page_size)
}

/// The system page size: `AT_PAGESZ` (6) from `/proc/self/auxv`, else 4096.
pub(crate) fn page_size() -> u64 {
    const AT_PAGESZ: u64 = 6;
    const WORD: usize = std::mem::size_of::<usize>();
    let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
        return 4096;
    };
    let word = |c: &[u8]| -> u64 {
        let mut b = [0u8; WORD];
        b.copy_from_slice(c);
        usize::from_ne_bytes(b) as u64
    };
    auxv.chunks_exact(2 * WORD)
        .find_map(|pair| {
            let (k, v) = pair.split_at(WORD);
            (word(k) == AT_PAGESZ).then(|| word(v))
        })
        .filter(|p| p.is_power_of_two())
        .unwrap_or(4096)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_well_formed() {
        let m = Metrics::default();
        m.accepted(3, 4, Duration::from_micros(500));
        m.accepted(1, 1, Duration::from_millis(30));
        m.accepted(1, 1, Duration::from_secs(20));
        m.batch(BatchResult::Throttled);
        m.http("/v1/events", 200);
        m.http("/v1/events", 200);
        let text = m.render(&Gauges {
            inflight_events: 7,
            inflight_limit: 100,
            ledger_queued_bytes: 0,
            ledger_size: 6,
            resident_bytes: Some(4096),
            ready: true,
        });
        assert!(text.contains("custos_ingest_events_total 5\n"), "{text}");
        assert!(text.contains("custos_ingest_entries_total 6\n"));
        assert!(text.contains("custos_append_latency_seconds_bucket{le=\"0.001\"} 1\n"));
        assert!(text.contains("custos_append_latency_seconds_bucket{le=\"0.05\"} 2\n"));
        assert!(text.contains("custos_append_latency_seconds_bucket{le=\"10\"} 2\n"));
        assert!(text.contains("custos_append_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("custos_append_latency_seconds_count 3\n"));
        assert!(text.contains("custos_ingest_batches_total{result=\"accepted\"} 3\n"));
        assert!(text.contains("custos_ingest_batches_total{result=\"throttled\"} 1\n"));
        assert!(text.contains("custos_http_requests_total{route=\"/v1/events\",code=\"200\"} 2\n"));
        assert!(text.contains("custos_ingest_inflight_events 7\n"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn page_size_and_rss() {
        let p = page_size();
        assert!(p.is_power_of_two() && p >= 4096);
        if cfg!(target_os = "linux") {
            assert!(resident_bytes(p).unwrap() > 1 << 20);
        }
    }
}
