//! `custos bench events`: single-core throughput of the event pipeline's CPU
//! stages — `events::parse_batch` (parse + validate) and
//! `events::ledger_entries` (pseudonymise + OCSF encode) — each reported
//! with a baseline measured in the same run over the same bytes:
//! `serde_json::from_slice::<serde_json::Value>` of every NDJSON line, the
//! least a JSON ingest can do.
//!
//! The batches are deterministic and shaped like production traffic:
//! 1,000-event NDJSON bodies, 1–3 subjects an event, one bulk read of 1,000
//! subjects in every batch, most events with a token, a country, IPv4 (one
//! in twenty IPv6), one in twenty denied. The same events are also sent in
//! the OCSF input form (`class_uid` 6003; see `docs/events.md`).

use std::time::{Duration, Instant, SystemTime};

use events::{Event, Limits, SubjectKey, ledger_entries, parse_batch};
use serde::Serialize;

use crate::ui;

/// Events per request body, as producers are told to send them.
const BATCH_EVENTS: usize = 1_000;
/// Distinct batches generated; the measurement cycles through them.
const DISTINCT_BATCHES: usize = 8;
/// Every measurement is repeated and the fastest round kept (shared,
/// noisy machines make the slow rounds measure the neighbours).
const ROUNDS: usize = 3;
/// The events' clock: 2025-06-01T03:04:05.123Z.
const NOW_MS: u64 = 1_748_747_045_123;

#[derive(Debug, Serialize)]
struct Report {
    events: usize,
    batch_events: usize,
    mean_subjects_per_event: f64,
    ndjson_bytes_per_event: f64,
    baseline_serde_value_per_s: f64,
    parse_per_s: f64,
    parse_ratio_to_baseline: f64,
    parse_mib_per_s: f64,
    ocsf_input_parse_per_s: f64,
    ocsf_input_baseline_serde_value_per_s: f64,
    ocsf_input_parse_ratio_to_baseline: f64,
    encode_per_s: f64,
    entries_per_event: f64,
    entry_bytes_per_event: f64,
    parse_and_encode_per_s: f64,
    parse_and_encode_per_2_cores: f64,
}

/// Runs the benchmark over about `events` events and prints the report
/// (a Markdown table, or JSON with `json`).
pub fn run(events: usize, json: bool) -> anyhow::Result<()> {
    let r = measure(events.max(BATCH_EVENTS))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print_report(&r);
    }
    Ok(())
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(NOW_MS)
}

/// A small deterministic generator (SplitMix64), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = self.below(items.len() as u64) as usize;
        items.get(i).copied().unwrap_or("")
    }
}

const SERVICES: &[&str] = &[
    "customer-service-tool",
    "order-api",
    "delivery-app-backend",
    "payments-gateway",
    "account-portal",
];
const OPERATIONS: &[&str] = &[
    "GetCustomerAddress",
    "GetCustomerProfile",
    "ListOrders",
    "UpdateDeliveryAddress",
    "GetPaymentMethods",
];
const DATASETS: &[&str] = &["customers", "orders", "addresses", "payments"];
const CATEGORIES: &[&str] = &[
    "name",
    "email",
    "phone",
    "address",
    "entrance_code",
    "order_history",
    "payment",
];
const COUNTRIES: &[&str] = &["KR", "KR", "KR", "KR", "JP", "TW", "US", "SG"];
const KINDS: &[&str] = &["employee", "employee", "service", "supplier_staff"];
const ACTIVITIES: &[&str] = &["read", "read", "read", "read", "update", "create"];

/// One batch as NDJSON, in the Custos input form and in the OCSF input form.
fn batch(rng: &mut Rng, seq: &mut u64) -> (Vec<u8>, Vec<u8>) {
    let mut custos = Vec::with_capacity(BATCH_EVENTS * 600);
    let mut ocsf = Vec::with_capacity(BATCH_EVENTS * 900);
    let bulk_at = rng.below(BATCH_EVENTS as u64) as usize;
    for i in 0..BATCH_EVENTS {
        *seq += 1;
        let n_subjects = if i == bulk_at {
            1_000
        } else {
            1 + rng.below(3) as usize
        };
        let subjects: Vec<String> = (0..n_subjects)
            .map(|k| format!("cust-{:08}", (rng.below(34_000_000) + k as u64 * 7)))
            .collect();
        let mut cats: Vec<&str> = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let c = rng.pick(CATEGORIES);
            if !cats.contains(&c) {
                cats.push(c);
            }
        }
        let ip = if rng.below(20) == 0 {
            format!("2001:db8:{:x}::{:x}", rng.below(65_536), rng.below(65_536))
        } else {
            format!(
                "{}.{}.{}.{}",
                1 + rng.below(223),
                rng.below(256),
                rng.below(256),
                1 + rng.below(254)
            )
        };
        let country = (rng.below(10) != 0).then(|| rng.pick(COUNTRIES));
        let kind = rng.pick(KINDS);
        let actor = match kind {
            "service" => format!("svc-{}", rng.pick(SERVICES)),
            "supplier_staff" => format!("sup-{:05}", rng.below(2_000)),
            _ => format!("emp-{:05}", rng.below(20_000)),
        };
        let with_token = rng.below(10) != 0;
        let jti = format!("tok-{:016x}", rng.next());
        let activity = rng.pick(ACTIVITIES);
        let allow = rng.below(20) != 0;
        let time_ms = NOW_MS - rng.below(3_600_000);
        let service = rng.pick(SERVICES);
        let operation = rng.pick(OPERATIONS);
        let dataset = rng.pick(DATASETS);
        let purpose = format!("support-ticket-{}", rng.below(100_000));
        let id = format!("evt-{seq:010}");

        use serde_json::{Map, Value, json};
        let mut source = Map::new();
        source.insert("ip".into(), json!(ip));
        let mut endpoint = source.clone();
        if let Some(c) = country {
            source.insert("country".into(), json!(c));
            endpoint.insert("location".into(), json!({ "country": c }));
        }
        let credential = json!({
            "jti": jti, "kid": "cs-2024-01", "issuer": "https://auth.example.com"
        });
        let mut e = Map::new();
        for (k, v) in [
            ("id", json!(id)),
            ("time", json!(time_ms)),
            ("activity", json!(activity)),
            ("actor", json!({"id": actor, "kind": kind})),
            ("source", Value::Object(source)),
            ("service", json!(service)),
            ("operation", json!(operation)),
            ("dataset", json!(dataset)),
            ("categories", json!(cats)),
            ("subjects", json!(subjects)),
            ("purpose", json!(purpose)),
            ("decision", json!(if allow { "allow" } else { "deny" })),
        ] {
            e.insert(k.into(), v);
        }
        if with_token {
            e.insert("credential".into(), credential);
        }
        serde_json::to_writer(&mut custos, &e).unwrap_or_default();
        custos.push(b'\n');

        let activity_id: u64 = match activity {
            "create" => 1,
            "update" => 3,
            _ => 2,
        };
        let mut custos_fields = Map::new();
        custos_fields.insert("actor_kind".into(), json!(kind));
        custos_fields.insert("purpose".into(), json!(purpose));
        custos_fields.insert("subjects".into(), json!(subjects));
        let mut actor_o = Map::new();
        if with_token {
            actor_o.insert(
                "session".into(),
                json!({"credential_uid": jti, "issuer": "https://auth.example.com"}),
            );
            custos_fields.insert("kid".into(), json!("cs-2024-01"));
        }
        actor_o.insert(
            "user".into(),
            json!({"uid": actor, "type_id": if kind == "service" { 3 } else { 1 }}),
        );
        let o = json!({
            "activity_id": activity_id,
            "actor": actor_o,
            "api": {"operation": operation, "service": {"name": service}},
            "category_uid": 6,
            "class_name": "API Activity",
            "class_uid": 6003,
            "metadata": {"product": {"name": "order-api", "vendor_name": "Example"},
                         "uid": id, "version": "1.3.0"},
            "resources": [{"labels": cats, "name": dataset, "type": "dataset"}],
            "severity_id": 1,
            "src_endpoint": endpoint,
            "status_id": if allow { 1 } else { 2 },
            "time": time_ms,
            "type_uid": 600_300 + activity_id,
            "unmapped": {"custos": custos_fields},
        });
        serde_json::to_writer(&mut ocsf, &o).unwrap_or_default();
        ocsf.push(b'\n');
    }
    (custos, ocsf)
}

/// Events per second of `f` applied to the batches in turn until `total`
/// events were processed; the fastest of [`ROUNDS`] rounds.
fn rate(
    batches: &[Vec<u8>],
    total: usize,
    mut f: impl FnMut(&[u8]) -> anyhow::Result<usize>,
) -> anyhow::Result<f64> {
    let mut best = 0.0f64;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let mut done = 0;
        for b in batches.iter().cycle() {
            if done >= total {
                break;
            }
            done += f(b)?;
        }
        best = best.max(done as f64 / t.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn serde_value_lines(body: &[u8]) -> anyhow::Result<usize> {
    let mut n = 0;
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line)?;
        std::hint::black_box(&v);
        n += 1;
    }
    Ok(n)
}

fn parse_all(body: &[u8], limits: &Limits) -> anyhow::Result<usize> {
    let events = parse_batch(body, now(), limits)
        .map_err(|e| anyhow::anyhow!("benchmark batch refused: {:?}", e.first()))?;
    let n = events.len();
    std::hint::black_box(events);
    Ok(n)
}

fn measure(total: usize) -> anyhow::Result<Report> {
    let mut rng = Rng(0x0c05_7005);
    let mut seq = 0;
    let (custos, ocsf): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (0..DISTINCT_BATCHES)
        .map(|_| batch(&mut rng, &mut seq))
        .unzip();
    let limits = Limits::default();
    let key = SubjectKey::from_bytes([7; 32]);

    let parsed: Vec<Event> = custos
        .iter()
        .map(|b| {
            parse_batch(b, now(), &limits)
                .map_err(|e| anyhow::anyhow!("benchmark batch refused: {:?}", e.first()))
        })
        .collect::<anyhow::Result<Vec<Vec<Event>>>>()?
        .into_iter()
        .flatten()
        .collect();
    // The OCSF form must give the same events.
    for (c, o) in custos.iter().zip(&ocsf) {
        let a = parse_batch(c, now(), &limits).map_err(|e| anyhow::anyhow!("{:?}", e.first()))?;
        let b = parse_batch(o, now(), &limits)
            .map_err(|e| anyhow::anyhow!("OCSF benchmark batch refused: {:?}", e.first()))?;
        anyhow::ensure!(a == b, "OCSF and Custos forms parse differently");
    }
    let n_events = parsed.len();
    let subjects: usize = parsed.iter().map(|e| e.subjects().len()).sum();
    let bytes: usize = custos.iter().map(Vec::len).sum();

    let baseline = rate(&custos, total, serde_value_lines)?;
    let parse = rate(&custos, total, |b| parse_all(b, &limits))?;
    let ocsf_baseline = rate(&ocsf, total, serde_value_lines)?;
    let ocsf_parse = rate(&ocsf, total, |b| parse_all(b, &limits))?;

    let (mut entries, mut entry_bytes) = (0usize, 0usize);
    for e in &parsed {
        let es = ledger_entries(e, &key)?;
        entries += es.len();
        entry_bytes += es.iter().map(Vec::len).sum::<usize>();
    }
    let mut encode = 0.0f64;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let mut done = 0;
        for e in parsed.iter().cycle() {
            if done >= total {
                break;
            }
            std::hint::black_box(ledger_entries(e, &key)?);
            done += 1;
        }
        encode = encode.max(done as f64 / t.elapsed().as_secs_f64());
    }
    let both = 1.0 / (1.0 / parse + 1.0 / encode);
    Ok(Report {
        events: total,
        batch_events: BATCH_EVENTS,
        mean_subjects_per_event: subjects as f64 / n_events as f64,
        ndjson_bytes_per_event: bytes as f64 / n_events as f64,
        baseline_serde_value_per_s: baseline,
        parse_per_s: parse,
        parse_ratio_to_baseline: parse / baseline,
        parse_mib_per_s: parse * (bytes as f64 / n_events as f64) / 1_048_576.0,
        ocsf_input_parse_per_s: ocsf_parse,
        ocsf_input_baseline_serde_value_per_s: ocsf_baseline,
        ocsf_input_parse_ratio_to_baseline: ocsf_parse / ocsf_baseline,
        encode_per_s: encode,
        entries_per_event: entries as f64 / n_events as f64,
        entry_bytes_per_event: entry_bytes as f64 / n_events as f64,
        parse_and_encode_per_s: both,
        parse_and_encode_per_2_cores: 2.0 * both,
    })
}

fn print_report(r: &Report) {
    println!("| metric (one core) | value |");
    println!("|---|---|");
    println!(
        "| events × batch | {} in NDJSON batches of {}; {:.2} subjects, {:.0} B an event |",
        ui::rate(r.events as f64),
        r.batch_events,
        r.mean_subjects_per_event,
        r.ndjson_bytes_per_event
    );
    println!(
        "| baseline: serde_json::Value parse of each line | {} events/s |",
        ui::rate(r.baseline_serde_value_per_s)
    );
    println!(
        "| parse_batch (parse + validate) | {} events/s ({:.0} MiB/s) |",
        ui::rate(r.parse_per_s),
        r.parse_mib_per_s
    );
    println!(
        "| **parse ratio to serde_json::Value baseline** | **{:.2}** |",
        r.parse_ratio_to_baseline
    );
    println!(
        "| parse_batch of the same events as OCSF input | {} events/s; ratio {:.2} to its Value baseline ({} events/s) |",
        ui::rate(r.ocsf_input_parse_per_s),
        r.ocsf_input_parse_ratio_to_baseline,
        ui::rate(r.ocsf_input_baseline_serde_value_per_s)
    );
    println!(
        "| ledger_entries (pseudonymise + OCSF encode) | {} events/s; {:.3} entries, {:.0} B an event |",
        ui::rate(r.encode_per_s),
        r.entries_per_event,
        r.entry_bytes_per_event
    );
    println!(
        "| parse + encode, one core / two cores (no HTTP, no ledger) | {} / {} events/s |",
        ui::rate(r.parse_and_encode_per_s),
        ui::rate(r.parse_and_encode_per_2_cores)
    );
}
