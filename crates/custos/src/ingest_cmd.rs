//! `custos ingest FILE|-`: sends NDJSON access events to a Custos server.
//!
//! Lines are grouped into batches (by count and by bytes), posted to
//! `POST /v1/events` by a few worker threads over keep-alive connections, and
//! retried when the server answers 429 or 503 (honouring `Retry-After`, with
//! capped exponential backoff and jitter). A batch is all-or-nothing on the
//! server, so a 400 names the input lines at fault and nothing of that batch
//! is in the ledger. Only responses that certainly mean "not recorded" are
//! retried: 429/503, and connections that could not be opened. A connection
//! lost after the body was sent is reported, never blindly retried, because
//! the server may have recorded the batch and the ledger cannot forget.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context;

/// Arguments of `custos ingest`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each non-blank line of FILE is one access event (see docs/events.md). The
server accepts or rejects each batch whole and answers only once the batch is
durable in the ledger. On a rejected batch the offending lines are printed as
LINE: PATH: REASON and sending stops (batches already acknowledged stay in the
ledger). Exit status: 0 if every event was acknowledged, 1 otherwise.

Example:
  custos admin token --data /var/lib/custos --role ingest > ingest.token
  custos sim --hours 1 --start \"$(date -u -d '-1 hour' +%FT%TZ)\" | custos ingest - --token-file ingest.token

The server refuses events older than its max_event_age (default 7 days); to
backfill older logs, start it with --max-event-age unlimited.")]
pub struct IngestArgs {
    /// NDJSON file of access events; `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Base URL of the Custos server.
    #[arg(
        long,
        env = "CUSTOS_SERVER",
        default_value = "http://127.0.0.1:8790",
        value_name = "URL"
    )]
    pub server: String,
    /// Ingest credential (from `custos admin token --role ingest`).
    #[arg(
        long,
        env = "CUSTOS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Read the credential from this file (its last non-empty line).
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// Events per batch.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch: u32,
    /// Batches in flight at once (one connection each). Each waits until its
    /// batch is durable, so throughput needs several.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// Retries of one batch on 429/503 before giving up.
    #[arg(long, default_value_t = 20)]
    pub max_retries: u32,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Largest request body the client builds (the server's default limit is
/// 32 MiB; stay well under it).
const MAX_BATCH_BYTES: usize = 8 << 20;

pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let token = read_token(&args)?;
    let client = Client::new(&args.server, &token)?;
    let (input, total_bytes): (Box<dyn Read + Send>, Option<u64>) = if args.file.as_os_str() == "-"
    {
        (Box::new(std::io::stdin()), None)
    } else {
        let f = std::fs::File::open(&args.file)
            .with_context(|| format!("cannot open {}", args.file.display()))?;
        let len = f.metadata().map(|m| m.len()).ok();
        (Box::new(f), len)
    };
    let pb = match total_bytes {
        Some(n) => {
            let pb = crate::ui::bar(n, "ingest");
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:>8} [{bar:40}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            pb
        }
        None => {
            let pb = indicatif::ProgressBar::new_spinner();
            pb.set_message("events sent");
            pb
        }
    };
    let opts = SendOptions {
        batch_events: args.batch as usize,
        concurrency: args.concurrency as usize,
        max_retries: args.max_retries,
    };
    let progress = {
        let pb = pb.clone();
        let by_bytes = total_bytes.is_some();
        move |bytes: u64, events: u64| {
            if by_bytes {
                pb.inc(bytes)
            } else {
                pb.inc(events)
            }
        }
    };
    let summary = send_ndjson(&client, input, &opts, &progress)?;
    pb.finish_and_clear();
    for r in summary.rejected.iter().take(50) {
        eprintln!("line {}: {}: {}", r.line, r.path, r.reason);
    }
    if summary.rejected.len() > 50 {
        eprintln!("… and {} more errors", summary.rejected.len() - 50);
    }
    if let Some(e) = &summary.failure {
        eprintln!("error: {e}");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary.to_json())?);
    } else {
        println!("{}", summary.describe());
    }
    Ok(if summary.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn read_token(args: &IngestArgs) -> anyhow::Result<String> {
    crate::api_cmd::credential(args.token.as_deref(), args.token_file.as_deref())
}

/// A blocking client for `POST /v1/events`, cheap to share between threads.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    url: String,
    authorization: String,
}

/// The server's answer to an accepted batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ack {
    /// Events accepted.
    pub accepted: u64,
    /// Ledger index of the batch's first entry.
    pub first_index: u64,
    /// Ledger entries written (≥ events: huge subject lists split).
    pub entry_count: u64,
    /// Size of the checkpoint that covers the batch.
    pub checkpoint_size: u64,
}

/// One refused event, as the server reported it.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// Index of the event in its batch, if the error is about one event.
    pub event: Option<u64>,
    /// JSON path of the field.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// What one POST came to.
#[derive(Debug)]
pub enum Outcome {
    /// 200: durable in the ledger.
    Accepted(Ack),
    /// 400: nothing of the batch was recorded.
    Rejected(Vec<Refusal>),
    /// 429 or 503: not recorded; try again after the delay.
    Retry {
        /// The HTTP status.
        status: u16,
        /// The server's `Retry-After`, if it gave one.
        after: Option<Duration>,
    },
}

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8790`).
    pub fn new(base: &str, token: &str) -> anyhow::Result<Client> {
        let base = base.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            anyhow::bail!("--server {base}: expected an http:// URL");
        }
        if base.starts_with("https://") {
            // ureq is built without TLS to keep the build small; terminate TLS
            // in front of the server or use a local sidecar.
            anyhow::bail!(
                "--server {base}: this build of `custos ingest` speaks plain HTTP only \
                 (use a local TLS proxy)"
            );
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .max_idle_connections_per_host(64)
            .build();
        Ok(Client {
            agent: config.into(),
            url: format!("{base}/v1/events"),
            authorization: format!("Bearer {token}"),
        })
    }

    /// Posts one NDJSON (or JSON array) body once.
    pub fn post(&self, body: &[u8]) -> Result<Outcome, PostError> {
        let mut resp = self
            .agent
            .post(&self.url)
            .header("authorization", &self.authorization)
            .header("content-type", "application/x-ndjson")
            // The server answers 401/403/413/429 without reading the body;
            // waiting for `100 Continue` means the body is never sent into
            // a closed connection (RFC 9110 §10.1.1).
            .header("expect", "100-continue")
            .send(body)
            .map_err(|e| match e {
                ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                    PostError::NotSent(e.to_string())
                }
                ureq::Error::Io(ref io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                    PostError::NotSent(e.to_string())
                }
                other => PostError::Unknown(other.to_string()),
            })?;
        let status = resp.status().as_u16();
        let after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp
            .body_mut()
            .with_config()
            .limit(16 << 20)
            .read_to_string()
            .unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let num = |k: &str| json.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        match status {
            200 => Ok(Outcome::Accepted(Ack {
                accepted: num("accepted"),
                first_index: num("first_index"),
                entry_count: num("entry_count"),
                checkpoint_size: num("checkpoint_size"),
            })),
            400 => {
                let errors = json
                    .get("errors")
                    .and_then(|e| e.as_array())
                    .map(|a| {
                        a.iter()
                            .map(|e| Refusal {
                                event: e.get("event").and_then(serde_json::Value::as_u64),
                                path: e
                                    .get("path")
                                    .and_then(|p| p.as_str())
                                    .unwrap_or("$")
                                    .to_owned(),
                                reason: e
                                    .get("reason")
                                    .and_then(|p| p.as_str())
                                    .unwrap_or("")
                                    .to_owned(),
                            })
                            .collect()
                    })
                    .unwrap_or_else(|| {
                        vec![Refusal {
                            event: None,
                            path: "$".into(),
                            reason: server_message(&json, &text),
                        }]
                    });
                Ok(Outcome::Rejected(errors))
            }
            429 | 503 => Ok(Outcome::Retry { status, after }),
            401 => Err(PostError::Refused(format!(
                "401 unauthorized: the credential is missing, unknown or revoked ({})",
                server_message(&json, &text)
            ))),
            403 => Err(PostError::Refused(format!(
                "403 forbidden: the credential's role may not ingest events; use one made \
                 with --role ingest ({})",
                server_message(&json, &text)
            ))),
            413 => Err(PostError::Refused(format!(
                "413 payload too large: lower --batch ({})",
                server_message(&json, &text)
            ))),
            s => Err(PostError::Unknown(format!(
                "HTTP {s}: {}",
                server_message(&json, &text)
            ))),
        }
    }

    /// Posts one body, retrying on 429/503 and on connections that could not
    /// be opened, up to `max_retries` times. Counts retries in `stats`.
    pub fn post_with_retry(
        &self,
        body: &[u8],
        max_retries: u32,
        stats: &RetryStats,
    ) -> Result<Outcome, PostError> {
        let mut attempt = 0u32;
        let mut jitter = Jitter::new(body.len() as u64);
        loop {
            let result = self.post(body);
            let wait = match &result {
                Ok(Outcome::Retry { status, after }) => {
                    if *status == 429 {
                        stats.throttled.fetch_add(1, Ordering::Relaxed);
                    } else {
                        stats.unavailable.fetch_add(1, Ordering::Relaxed);
                    }
                    *after
                }
                Err(PostError::NotSent(_)) => {
                    stats.not_sent.fetch_add(1, Ordering::Relaxed);
                    None
                }
                _ => return result,
            };
            if attempt >= max_retries {
                return result;
            }
            // Capped exponential backoff with jitter, never less than the
            // server's Retry-After.
            let backoff =
                Duration::from_millis(50u64 << attempt.min(6)).min(Duration::from_secs(5));
            let base = wait.map_or(backoff, |w| w.max(backoff / 2));
            std::thread::sleep(base + Duration::from_millis(jitter.next() % 50));
            attempt += 1;
        }
    }
}

fn server_message(json: &serde_json::Value, text: &str) -> String {
    json.get("message")
        .or_else(|| json.get("error"))
        .and_then(|m| m.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| text.chars().take(200).collect())
}

/// Why a POST did not produce an answer to act on.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// The request never reached the server (safe to retry).
    #[error("could not reach the server: {0}")]
    NotSent(String),
    /// The server refused the request for a reason retrying will not fix.
    #[error("{0}")]
    Refused(String),
    /// The connection failed after sending: the batch may or may not be
    /// recorded.
    #[error("{0} (the batch may or may not have been recorded)")]
    Unknown(String),
}

/// Retry counters shared by the sending threads.
#[derive(Debug, Default)]
pub struct RetryStats {
    /// 429 answers.
    pub throttled: AtomicU64,
    /// 503 answers.
    pub unavailable: AtomicU64,
    /// Connections that could not be opened.
    pub not_sent: AtomicU64,
}

/// A tiny xorshift for backoff jitter (no need for a crate).
struct Jitter(u64);

impl Jitter {
    fn new(seed: u64) -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(0);
        Jitter((seed ^ t) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// How to send.
#[derive(Clone, Debug)]
pub struct SendOptions {
    /// Events per batch.
    pub batch_events: usize,
    /// Concurrent requests.
    pub concurrency: usize,
    /// Retries per batch on 429/503.
    pub max_retries: u32,
}

/// One refused input line.
#[derive(Clone, Debug)]
pub struct LineError {
    /// 1-based line number in the input (0 if the error is about a batch).
    pub line: u64,
    /// JSON path inside that line's event.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// What a `send_ndjson` run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Events read from the input.
    pub events_read: u64,
    /// Events the server acknowledged as durable.
    pub accepted: u64,
    /// Ledger entries written for them.
    pub entries: u64,
    /// Batches acknowledged.
    pub batches: u64,
    /// Lowest and highest ledger index written.
    pub index_range: Option<(u64, u64)>,
    /// Largest checkpoint size seen in an acknowledgement.
    pub checkpoint_size: u64,
    /// 429 answers retried.
    pub throttled: u64,
    /// 503 answers retried.
    pub unavailable: u64,
    /// Refused input lines.
    pub rejected: Vec<LineError>,
    /// The error that stopped sending, if any.
    pub failure: Option<String>,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// Latency of each acknowledged POST (including retries).
    pub latencies: Vec<Duration>,
}

impl Summary {
    /// Every event read was acknowledged.
    pub fn ok(&self) -> bool {
        self.failure.is_none() && self.rejected.is_empty() && self.accepted == self.events_read
    }

    fn rate(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A human summary.
    pub fn describe(&self) -> String {
        let range = match self.index_range {
            Some((a, b)) => format!("ledger entries {a}..={b}"),
            None => "no ledger entries".to_owned(),
        };
        format!(
            "ingested {} of {} events in {} batches ({} entries; {range}); checkpoint size {}; \
             retried 429 ×{}, 503 ×{}; {:.1} s, {} events/s{}",
            self.accepted,
            self.events_read,
            self.batches,
            self.entries,
            self.checkpoint_size,
            self.throttled,
            self.unavailable,
            self.elapsed.as_secs_f64(),
            crate::ui::rate(self.rate()),
            if self.rejected.is_empty() {
                String::new()
            } else {
                format!("; {} errors in refused batches", self.rejected.len())
            }
        )
    }

    /// The summary as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "events_read": self.events_read,
            "accepted": self.accepted,
            "entries": self.entries,
            "batches": self.batches,
            "first_index": self.index_range.map(|r| r.0),
            "last_index": self.index_range.map(|r| r.1),
            "checkpoint_size": self.checkpoint_size,
            "retried_429": self.throttled,
            "retried_503": self.unavailable,
            "errors": self.rejected.iter().map(|r| serde_json::json!({
                "line": r.line, "path": r.path, "reason": r.reason,
            })).collect::<Vec<_>>(),
            "failure": self.failure,
            "seconds": self.elapsed.as_secs_f64(),
            "events_per_second": self.rate(),
        })
    }
}

/// A batch ready to post: its body and the input line of each event.
#[derive(Default)]
struct Batch {
    body: Vec<u8>,
    lines: Vec<u64>,
    bytes_read: u64,
}

/// Reads NDJSON from `input` and posts it in batches with `opts`, calling
/// `progress(bytes, events)` as batches are acknowledged. Stops at the first
/// refused batch or unrecoverable error (reported in the summary).
pub fn send_ndjson(
    client: &Client,
    input: Box<dyn Read + Send>,
    opts: &SendOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> anyhow::Result<Summary> {
    let start = Instant::now();
    let stop = AtomicBool::new(false);
    let stats = RetryStats::default();
    let (tx, rx) = mpsc::sync_channel::<Batch>(opts.concurrency * 2);
    let rx = Mutex::new(rx);
    let summary = Mutex::new(Summary::default());
    let read_result = std::thread::scope(|s| {
        for _ in 0..opts.concurrency.max(1) {
            s.spawn(|| {
                loop {
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok(batch)) = next else { break };
                    if stop.load(Ordering::Relaxed) {
                        continue;
                    }
                    let t = Instant::now();
                    let result = client.post_with_retry(&batch.body, opts.max_retries, &stats);
                    let mut sum = match summary.lock() {
                        Ok(g) => g,
                        Err(p) => p.into_inner(),
                    };
                    match result {
                        Ok(Outcome::Accepted(ack)) => {
                            sum.latencies.push(t.elapsed());
                            sum.accepted += ack.accepted;
                            sum.entries += ack.entry_count;
                            sum.batches += 1;
                            sum.checkpoint_size = sum.checkpoint_size.max(ack.checkpoint_size);
                            if ack.entry_count > 0 {
                                let last = ack.first_index + ack.entry_count - 1;
                                sum.index_range = Some(match sum.index_range {
                                    Some((a, b)) => (a.min(ack.first_index), b.max(last)),
                                    None => (ack.first_index, last),
                                });
                            }
                            drop(sum);
                            progress(batch.bytes_read, batch.lines.len() as u64);
                        }
                        Ok(Outcome::Rejected(errors)) => {
                            stop.store(true, Ordering::Relaxed);
                            for e in errors {
                                let line = e
                                    .event
                                    .and_then(|i| batch.lines.get(i as usize).copied())
                                    .unwrap_or(0);
                                // The server's path starts `$[i]`; the line
                                // number already says which event.
                                let path = match e.path.find(']') {
                                    Some(p) if e.event.is_some() && e.path.starts_with("$[") => {
                                        format!("${}", e.path.get(p + 1..).unwrap_or(""))
                                    }
                                    _ => e.path,
                                };
                                sum.rejected.push(LineError {
                                    line,
                                    path,
                                    reason: e.reason,
                                });
                            }
                        }
                        Ok(Outcome::Retry { status, .. }) => {
                            stop.store(true, Ordering::Relaxed);
                            sum.failure.get_or_insert_with(|| {
                                format!(
                                    "the server still answered {status} after {} retries",
                                    opts.max_retries
                                )
                            });
                        }
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            sum.failure.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
            });
        }
        let r = read_batches(input, opts.batch_events, &tx, &stop, &summary);
        drop(tx);
        r
    });
    let mut summary = summary.into_inner().unwrap_or_else(|p| p.into_inner());
    read_result?;
    summary.throttled = stats.throttled.load(Ordering::Relaxed);
    summary.unavailable = stats.unavailable.load(Ordering::Relaxed);
    summary.elapsed = start.elapsed();
    Ok(summary)
}

fn read_batches(
    input: Box<dyn Read + Send>,
    batch_events: usize,
    tx: &mpsc::SyncSender<Batch>,
    stop: &AtomicBool,
    summary: &Mutex<Summary>,
) -> anyhow::Result<()> {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut line = Vec::new();
    let mut line_no = 0u64;
    let mut batch = Batch::default();
    let mut events = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .context("reading the input")?;
        if n == 0 {
            break;
        }
        line_no += 1;
        batch.bytes_read += n as u64;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if !batch.lines.is_empty()
            && batch.body.len() + line.len() + 1 > MAX_BATCH_BYTES
            && tx.send(std::mem::take(&mut batch)).is_err()
        {
            break;
        }
        batch.body.extend_from_slice(&line);
        if batch.body.last() != Some(&b'\n') {
            batch.body.push(b'\n');
        }
        batch.lines.push(line_no);
        events += 1;
        if batch.lines.len() >= batch_events && tx.send(std::mem::take(&mut batch)).is_err() {
            break;
        }
    }
    if !batch.lines.is_empty() && !stop.load(Ordering::Relaxed) {
        let _ = tx.send(batch);
    }
    if let Ok(mut s) = summary.lock() {
        s.events_read = events;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_varies() {
        let mut j = Jitter::new(7);
        let a = j.next();
        let b = j.next();
        assert_ne!(a, b);
    }

    #[test]
    fn client_refuses_non_http_urls() {
        assert!(Client::new("ftp://x", "t").is_err());
        assert!(Client::new("https://x", "t").is_err());
        assert!(Client::new("http://127.0.0.1:1/", "t").is_ok());
    }

    #[test]
    fn summary_ok_needs_everything_acknowledged() {
        let mut s = Summary {
            events_read: 3,
            accepted: 3,
            ..Summary::default()
        };
        assert!(s.ok());
        s.accepted = 2;
        assert!(!s.ok());
        s.accepted = 3;
        s.failure = Some("x".into());
        assert!(!s.ok());
    }
}
