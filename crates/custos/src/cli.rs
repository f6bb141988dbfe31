//! Command-line interface definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Custos: makes an insider breach of personal data impossible to carry out
/// silently and impossible to hide afterwards.
///
/// Every access is an entry in a tamper-evident Merkle log (C2SP tlog-tiles,
/// signed checkpoints) that anyone holding the log's public key can verify.
#[derive(Debug, Parser)]
#[command(name = "custos", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The tamper-evident access ledger: init, append, prove, verify.
    #[command(subcommand)]
    Ledger(LedgerCmd),
    /// Run the end-to-end demonstration on the embedded default (no services needed).
    Demo(DemoArgs),
    /// Benchmarks, each reported as a ratio to a baseline measured in the same run.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Run the Custos server: event ingest, the log's tiles at /log/, health and metrics.
    Serve(crate::serve_cmd::ServeArgs),
    /// Administration: service credentials.
    #[command(subcommand)]
    Admin(crate::admin_cmd::AdminCmd),
    /// Send NDJSON access events to a Custos server, with retries and a summary.
    Ingest(crate::ingest_cmd::IngestArgs),
    /// Generate a synthetic company's access events (OCSF input NDJSON), deterministic from the seed.
    Sim(crate::sim_cmd::SimArgs),
    /// Replay the simulator's attack and benign scenarios through the detectors:
    /// time to first alert per attack, recall, false alerts per 10,000 principals a day.
    Eval(crate::eval::EvalArgs),
    /// Retro-hunt: run the detectors and any Sigma rules over any past range of a ledger.
    Hunt(crate::hunt::HuntArgs),
    /// Alerts from the detectors: list (from DIR or the server), show, ack, close, suppress, SLA.
    Alerts(crate::alerts_cmd::AlertsArgs),
    /// Tokens from the server's token authority: issue, introspect (RFC 7662), revoke (RFC 7009).
    #[command(subcommand)]
    Token(crate::api_cmd::TokenCmd),
    /// The token authority's signing keys: list, rotate, record custodians.
    #[command(subcommand)]
    Keys(crate::api_cmd::KeysCmd),
    /// Principals: show status, custody and grants; offboard.
    #[command(subcommand)]
    Principal(crate::api_cmd::PrincipalCmd),
    /// Least-privilege, time-bound grants (Cedar): request, approve, revoke, list.
    #[command(subcommand)]
    Grant(crate::api_cmd::GrantCmd),
    /// Ask for an authorization decision (POST /v1/authorize); exit 3 on deny.
    Authorize(crate::api_cmd::AuthorizeArgs),
    /// Customers known to the token authority (token subjects that are not SCIM Users).
    #[command(subcommand)]
    Subjects(crate::api_cmd::SubjectsCmd),
    /// Exact breach scope: distinct subjects accessed by a principal, key, issuer,
    /// network or country in a window, by category and subject country, with proofs.
    Scope(crate::scope_cmd::ScopeArgs),
    /// The forensic index behind `scope`: update, rebuild, status, subject registry.
    #[command(subcommand)]
    Forensics(crate::scope_cmd::ForensicsCmd),
    /// Incidents: scope, disclosure deadlines per jurisdiction and party, notices.
    #[command(subcommand)]
    Incident(crate::case_cmd::IncidentCmd),
    /// Legal holds (preservation orders): place, list, lift.
    #[command(subcommand)]
    Hold(crate::case_cmd::HoldCmd),
    /// Retention of derived data (never the ledger; refused over a legal hold).
    #[command(subcommand)]
    Retention(crate::case_cmd::RetentionCmd),
    /// Signed evidence bundles: export an incident's, verify one offline.
    #[command(subcommand)]
    Evidence(crate::case_cmd::EvidenceCmd),
    /// Suppliers assessed from live evidence: list, show, assess (score history), OSCAL.
    Supplier(crate::govern_cmd::SupplierArgs),
    /// Data residency: where each dataset is stored and read from, against PIPA/GDPR/APPI.
    Residency(crate::govern_cmd::ResidencyArgs),
    /// Remediation findings: list, add, update, weekly report; escalation and money at risk.
    Findings(crate::govern_cmd::FindingsArgs),
}

#[derive(Debug, Subcommand)]
pub enum LedgerCmd {
    /// Create a new, empty ledger: a fresh Ed25519 signing key under DIR/keys/,
    /// the C2SP tiles under DIR/log/, and a signed checkpoint of size 0.
    ///
    /// Prints the log's verifier key (name+hexid+base64) as the last line of
    /// stdout: give it to whoever will verify the log.
    Init {
        /// Data directory (created if missing; must not hold a ledger).
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Log origin, e.g. `ledger.example.com/access` (no spaces, no '+').
        #[arg(long)]
        origin: String,
    },
    /// Append each line of FILE (without its newline) as one entry, durably,
    /// and publish a checkpoint covering them before exiting.
    ///
    /// FILE `-` reads standard input. Lines over 65,535 bytes are refused
    /// (for a regular file, before anything is appended).
    Append {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// File of entries, one per line, or `-` for standard input.
        file: PathBuf,
        /// Print `ack FIRST COUNT TREE_SIZE` on stdout as each group of lines
        /// becomes durable (for streaming producers).
        #[arg(long)]
        acks: bool,
    },
    /// Print a c2sp.org/tlog-proof@v1 bundle proving entry N is in the log,
    /// against the latest checkpoint.
    Prove {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Zero-based entry index.
        #[arg(long, value_name = "N")]
        index: u64,
    },
    /// Print the RFC 6962 consistency proof from tree size N to the latest
    /// checkpoint, one base64 hash per line.
    Consistency {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// The older tree size.
        #[arg(long, value_name = "N")]
        old: u64,
    },
    /// Verify every tile, entry and checkpoint; exit 0 only if all verify,
    /// otherwise name the first bad place and exit 1.
    ///
    /// The newest checkpoint verified for this key is remembered (in
    /// --state-dir) so a later rollback or fork of the log is caught.
    Verify {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// The log's verifier key (`name+hexid+base64`), or a file holding it.
        #[arg(long, value_name = "VKEY")]
        vkey: String,
        /// A checkpoint seen earlier (repeatable): the log must extend it.
        #[arg(long, value_name = "FILE")]
        known: Vec<PathBuf>,
        /// Where verified checkpoints are remembered
        /// [default: $CUSTOS_VERIFIER_STATE, else $XDG_STATE_HOME/custos/verifier,
        /// else ~/.local/state/custos/verifier].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// Neither read nor update remembered checkpoints.
        #[arg(long)]
        no_remember: bool,
    },
    /// Print entry N of the log.
    Entry {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        #[arg(long, value_name = "N")]
        index: u64,
    },
    /// Print the latest published checkpoint.
    Checkpoint {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's data here instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Hours of company activity to simulate, ending now (1–168).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=168))]
    pub hours: u32,
    /// Background (legitimate) accesses per simulated day; the attack runs
    /// at its real rate (≈12 requests/s) whatever this is.
    #[arg(long, default_value_t = 1_000_000)]
    pub events_per_day: u64,
    /// Customers of the synthetic company (data subjects); 34,000,000 is
    /// Coupang's scale.
    #[arg(long, default_value_t = 1_000_000)]
    pub customers: u64,
    /// Seed of the synthetic company.
    #[arg(long, default_value_t = 2025)]
    pub seed: u64,
}

#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// The forensic index at the breach's scale: build rate, size per billion
    /// subject-accesses, scope query time (bench/scope_duckdb.py adds the DuckDB
    /// baseline over the same rows as Parquet).
    Scope(crate::bench_scope::ScopeBenchArgs),
    /// Evidence bundles: size, export and verification time for N proved accesses
    /// (vs reading and SHA-256 hashing the same bundle in the same run).
    Evidence(crate::case_cmd::EvidenceBenchArgs),
    /// Detector throughput replaying a ledger (vs plain read+parse replay in the
    /// same run), memory per entity, and one entity's sketch at 34M subjects.
    Detect(crate::bench_detect::DetectBenchArgs),
    /// The token authority over HTTP: introspection throughput (vs the same
    /// client's GET /healthz rate) and offboarding-to-first-refusal time over
    /// many trials, for introspection and an embedded verifier.
    Token(crate::bench_token::TokenBenchArgs),
    /// Event ingest over loopback HTTP through a `custos serve` child process:
    /// throughput (vs the raw ledger append rate of the same events), ack
    /// latency at an offered rate, and behaviour under 3× overload.
    Ingest(crate::bench_ingest::IngestBenchArgs),
    /// Event parse-and-validate and OCSF encode throughput per core, vs
    /// `serde_json` parsing the same bytes.
    Events {
        /// Events in the measured batches.
        #[arg(long, default_value_t = 200_000)]
        events: usize,
        /// Print results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Durable append throughput (vs raw SHA-256 tree hashing), ack latency at
    /// offered rates, verification speed, proof sizes and times.
    Ledger {
        /// Entries for the throughput and verification runs.
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Entry size in bytes.
        #[arg(long, default_value_t = 200)]
        entry_size: usize,
        /// Offered rates for the latency runs (entries/s), comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        rates: Vec<u64>,
        /// Seconds per latency run.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Entries per append request in the latency runs (1 = every entry
        /// is its own request, the worst case; an ingest server batches).
        #[arg(long, default_value_t = 1)]
        request_entries: u64,
        /// Scratch directory (on the disk to measure); removed afterwards.
        #[arg(long, value_name = "DIR", default_value = "/tmp/custos-bench")]
        dir: PathBuf,
        /// Print results as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// clap's own consistency checks over every subcommand (unique
    /// argument names, valid defaults): a mistake here panics at run time.
    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
