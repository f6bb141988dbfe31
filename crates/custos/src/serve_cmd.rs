//! `custos serve`: the HTTP server (crate `server`). Thin: flags become a
//! `server::Settings`, which `server::resolve` layers over the environment
//! and the config file.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use server::{AgeLimit, ByteSize, DurationSetting, LogFormat, Settings, parse_setting};

/// Arguments of `custos serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Precedence: flags > environment variables > config file > defaults. Every
setting has an environment variable CUSTOS_<NAME> (CUSTOS_DATA, CUSTOS_LISTEN,
CUSTOS_MAX_BODY_BYTES, CUSTOS_MAX_INFLIGHT_EVENTS, CUSTOS_MAX_EVENT_AGE,
CUSTOS_MAX_FUTURE_SKEW, CUSTOS_MAX_BATCH_EVENTS, CUSTOS_MAX_EVENT_BYTES,
CUSTOS_MAX_SUBJECTS, CUSTOS_MAX_STRING_BYTES, CUSTOS_SHUTDOWN_TIMEOUT,
CUSTOS_WORKERS, CUSTOS_LOG_FORMAT, CUSTOS_LOG_LEVEL) and a key of the same
name in the TOML config file (--config or CUSTOS_CONFIG), e.g.

  data = \"/var/lib/custos\"
  listen = \"0.0.0.0:8790\"
  max_event_age = \"unlimited\"

Prints `listening on http://ADDR` on stdout once bound (with the real port
for --listen 127.0.0.1:0). Logs go to stderr. SIGINT/SIGTERM stop it
gracefully: in-flight batches finish and are acknowledged, then the ledger is
closed. See docs/server.md.")]
pub struct ServeArgs {
    /// Data directory holding a ledger made by `custos ledger init`.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8790].
    #[arg(long, value_name = "ADDR", value_parser = parse_setting::<SocketAddr>)]
    pub listen: Option<SocketAddr>,
    /// TOML configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Largest request body, e.g. 32MiB [default: 32MiB].
    #[arg(long, value_name = "BYTES", value_parser = parse_setting::<ByteSize>)]
    pub max_body_bytes: Option<ByteSize>,
    /// Events being parsed or awaiting the ledger before requests get 429
    /// [default: 200000].
    #[arg(long, value_name = "N", value_parser = parse_setting::<u32>)]
    pub max_inflight_events: Option<u32>,
    /// Oldest event time accepted, e.g. 7d; `unlimited` (or 0) for
    /// backfills of historical logs [default: 7d].
    #[arg(long, value_name = "AGE", value_parser = parse_setting::<AgeLimit>)]
    pub max_event_age: Option<AgeLimit>,
    /// How far in the future an event time may be [default: 5m].
    #[arg(long, value_name = "DURATION", value_parser = parse_setting::<DurationSetting>)]
    pub max_future_skew: Option<DurationSetting>,
    /// Most events in one request [default: 10000].
    #[arg(long, value_name = "N", value_parser = parse_setting::<u32>)]
    pub max_batch_events: Option<u32>,
    /// Largest single event or NDJSON line [default: 1MiB].
    #[arg(long, value_name = "BYTES", value_parser = parse_setting::<ByteSize>)]
    pub max_event_bytes: Option<ByteSize>,
    /// Most data subjects in one event [default: 10000].
    #[arg(long, value_name = "N", value_parser = parse_setting::<u32>)]
    pub max_subjects: Option<u32>,
    /// Longest string in an event, in bytes [default: 256].
    #[arg(long, value_name = "N", value_parser = parse_setting::<u32>)]
    pub max_string_bytes: Option<u32>,
    /// How long shutdown waits for in-flight requests [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_setting::<DurationSetting>)]
    pub shutdown_timeout: Option<DurationSetting>,
    /// Async worker threads [default: one per core].
    #[arg(long, value_name = "N", value_parser = parse_setting::<usize>)]
    pub workers: Option<usize>,
    /// Log format on stderr: json or text [default: json].
    #[arg(long, value_name = "FORMAT", value_parser = parse_setting::<LogFormat>)]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `warn,custos::http=info` [default: info].
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// `iss` of the tokens the token authority issues [default: urn:custos:<ledger origin>].
    #[arg(long, value_name = "ISSUER")]
    pub token_issuer: Option<String>,
    /// Default token lifetime, at most 15m [default: 10m].
    #[arg(long, value_name = "DURATION", value_parser = parse_setting::<DurationSetting>)]
    pub token_lifetime: Option<DurationSetting>,
    /// Scheduled signing-key rotation period, at least 1m [default: 1d].
    #[arg(long, value_name = "DURATION", value_parser = parse_setting::<DurationSetting>)]
    pub key_rotation: Option<DurationSetting>,
    /// Detection file (TOML): thresholds, residency, Sigma rules directory, alert SLA,
    /// webhooks (docs/alerts.md) [default: built-in thresholds, no rules, no webhooks].
    #[arg(long, value_name = "FILE")]
    pub detect_config: Option<PathBuf>,
    /// Governance file (TOML): suppliers and contract terms, datasets and their regions,
    /// transfer bases, reporting lines (docs/govern.md) [default: DATA/govern.toml if present].
    #[arg(long, value_name = "FILE")]
    pub govern_config: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut flags = Settings::default();
    flags.data = args.data;
    flags.listen = args.listen;
    flags.max_body_bytes = args.max_body_bytes;
    flags.max_inflight_events = args.max_inflight_events;
    flags.max_event_age = args.max_event_age;
    flags.max_future_skew = args.max_future_skew;
    flags.max_batch_events = args.max_batch_events;
    flags.max_event_bytes = args.max_event_bytes;
    flags.max_subjects = args.max_subjects;
    flags.max_string_bytes = args.max_string_bytes;
    flags.shutdown_timeout = args.shutdown_timeout;
    flags.workers = args.workers;
    flags.log_format = args.log_format;
    flags.log_level = args.log_level;
    flags.token_issuer = args.token_issuer;
    flags.token_lifetime = args.token_lifetime;
    flags.key_rotation = args.key_rotation;
    flags.detect_config = args.detect_config;
    flags.govern_config = args.govern_config;
    let config = server::resolve(
        flags,
        args.config.as_deref(),
        &|k| std::env::var(k).ok(),
        &|p| std::fs::read_to_string(p),
    )?;
    server::init_logging(config.log_format, &config.log_level).map_err(anyhow::Error::msg)?;
    let mut opts = server::StartOptions::default();
    opts.handle_signals = true;
    let running = server::start_with(config, opts)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", running.url()).context("writing to stdout")?;
    out.flush().context("writing to stdout")?;
    drop(out);
    running.wait()?;
    Ok(ExitCode::SUCCESS)
}
