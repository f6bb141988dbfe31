//! `custos alerts`: list alerts (from a data directory, read-only, or from
//! a running server) and move them through their lifecycle (through the
//! server's API, so that every change is a ledger entry written by it).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use detect::{Alert, AlertStatus, AlertStore, Severity};
use serde_json::{Value, json};

use crate::api_cmd::{Api, Conn, segment, show};

const AFTER_HELP: &str = "\
Alerts are raised by the detectors of `custos serve` (docs/alerts.md): each is an
OCSF Detection Finding with its severity, entity, window and evidence (ledger
indices, counts, the baseline it broke), deduplicated by detector and entity, and
carried open -> acknowledged -> closed, each step a ledger entry naming who.

Examples:
  custos alerts --data /var/lib/custos --json          # read the alert store directly
  custos alerts --status open --severity high --token-file analyst.token
  custos alerts ack a-… --note 'on it' --token-file analyst.token
  custos alerts close a-… --note 'key retired, scope done' --token-file analyst.token
  custos alerts suppress --detector 'distinct_subjects.*' --entity svc-billing-run \\
      --reason 'nightly billing run' --for 7d --token-file analyst.token
  custos alerts sla --token-file auditor.token";

/// `custos alerts` options.
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
pub struct AlertsArgs {
    /// What to do; without one, list alerts.
    #[command(subcommand)]
    pub cmd: Option<AlertsCmd>,
    /// Read alerts from this data directory's store (read-only; works while
    /// the server runs) instead of asking the server.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Only alerts with this status: open, acknowledged, closed, suppressed.
    #[arg(long)]
    pub status: Option<String>,
    /// Only alerts at least this severe: low, medium, high, critical.
    #[arg(long)]
    pub severity: Option<String>,
    /// At most this many (newest first).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// JSON (an array of alerts) instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub conn: Conn,
}

/// Changes, through the server.
#[derive(Debug, Subcommand)]
pub enum AlertsCmd {
    /// One alert in full, with its webhook deliveries.
    Show {
        /// Alert id.
        id: String,
    },
    /// Acknowledge an open alert (starts the clock of the fix; stops the SLA's).
    Ack {
        /// Alert id.
        id: String,
        /// A note for the record.
        #[arg(long)]
        note: Option<String>,
    },
    /// Close an alert.
    Close {
        /// Alert id.
        id: String,
        /// A note for the record (the resolution).
        #[arg(long)]
        note: Option<String>,
    },
    /// Keep findings of a detector and/or entity from becoming live alerts for a while.
    Suppress {
        /// Detector id, or a prefix ending in `*`.
        #[arg(long)]
        detector: Option<String>,
        /// Entity id (principal, kid, CIDR, country, …).
        #[arg(long)]
        entity: Option<String>,
        /// Why (required; on the record).
        #[arg(long)]
        reason: String,
        /// How long: 30m, 12h, 7d (at most 90d).
        #[arg(long = "for", value_name = "DURATION")]
        duration: String,
    },
    /// Time to acknowledge against the SLA, by severity.
    Sla,
}

/// Runs `custos alerts`.
pub fn run(a: AlertsArgs) -> anyhow::Result<ExitCode> {
    match a.cmd {
        None => list(&a),
        Some(AlertsCmd::Show { id }) => {
            show(&Api::new(&a.conn)?.get(&format!("/v1/alerts/{}", segment(&id)))?)
        }
        Some(AlertsCmd::Ack { id, note }) => transition(&a.conn, &id, "ack", note),
        Some(AlertsCmd::Close { id, note }) => transition(&a.conn, &id, "close", note),
        Some(AlertsCmd::Suppress {
            detector,
            entity,
            reason,
            duration,
        }) => {
            let ms = detect::settings::parse_duration_ms(&duration)
                .map_err(|e| anyhow::anyhow!("--for: {e}"))?;
            let body = json!({"detector": detector, "entity": entity, "reason": reason,
                              "for_s": ms / 1000});
            show(&Api::new(&a.conn)?.post("/v1/alerts/suppressions", body.to_string().as_bytes())?)
        }
        Some(AlertsCmd::Sla) => show(&Api::new(&a.conn)?.get("/v1/alerts/sla")?),
    }
}

fn transition(conn: &Conn, id: &str, what: &str, note: Option<String>) -> anyhow::Result<ExitCode> {
    let body = match note {
        Some(n) => json!({ "note": n }),
        None => json!({}),
    };
    show(&Api::new(conn)?.post(
        &format!("/v1/alerts/{}/{what}", segment(id)),
        body.to_string().as_bytes(),
    )?)
}

fn list(a: &AlertsArgs) -> anyhow::Result<ExitCode> {
    let status = a
        .status
        .as_deref()
        .map(|s| {
            AlertStatus::from_name(s).with_context(|| {
                format!("--status {s:?}: one of open, acknowledged, closed, suppressed")
            })
        })
        .transpose()?;
    let severity = a
        .severity
        .as_deref()
        .map(|s| {
            Severity::from_name(s)
                .with_context(|| format!("--severity {s:?}: one of low, medium, high, critical"))
        })
        .transpose()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let items: Vec<Value> = match &a.data {
        Some(dir) => {
            let db_path = dir.join(store::DB_RELATIVE_PATH);
            if !db_path.is_file() {
                bail!(
                    "{}: no metadata database (is this a Custos data directory that `custos serve` has run on?)",
                    db_path.display()
                );
            }
            let db = store::Database::open_data_dir(dir)
                .with_context(|| format!("{}: cannot open the metadata database", dir.display()))?;
            let all: Vec<Alert> = store::SqliteAlertStore::new(&db)?.alerts()?;
            all.iter()
                .filter(|x| status.is_none_or(|s| x.status == s))
                .filter(|x| severity.is_none_or(|s| x.finding.severity >= s))
                .take(a.limit)
                .map(|x| x.to_json_at(now))
                .collect()
        }
        None => {
            let mut q = vec![format!("limit={}", a.limit)];
            if let Some(s) = &a.status {
                q.push(format!("status={}", segment(s)));
            }
            if let Some(s) = &a.severity {
                q.push(format!("severity={}", segment(s)));
            }
            let ans = Api::new(&a.conn)?.get(&format!("/v1/alerts?{}", q.join("&")))?;
            if ans.status != 200 {
                return show(&ans);
            }
            ans.body
                .get("alerts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(ExitCode::SUCCESS);
    }
    if items.is_empty() {
        println!("no alerts");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<9} {:<13} {:<22} {:<9} {:<36} ID",
        "SEVERITY", "STATUS", "OPENED", "SLA", "ENTITY"
    );
    for v in &items {
        let f = &v["finding"];
        let entity = format!(
            "{} {}",
            f.pointer("/entity/kind")
                .and_then(Value::as_str)
                .unwrap_or(""),
            f.pointer("/entity/id")
                .and_then(Value::as_str)
                .unwrap_or("")
        );
        let id = v["id"].as_str().unwrap_or("");
        println!(
            "{:<9} {:<13} {:<22} {:<9} {:<36} {id}",
            f["severity"].as_str().unwrap_or(""),
            v["status"].as_str().unwrap_or(""),
            events::format_rfc3339(v["opened_ms"].as_i64().unwrap_or(0)),
            if v.pointer("/sla/breached") == Some(&Value::Bool(true)) {
                "BREACHED"
            } else {
                "ok"
            },
            truncate(&entity, 36),
        );
        println!("          {}", f["title"].as_str().unwrap_or(""));
    }
    println!(
        "{} alert(s); evidence with --json or `custos alerts show ID`",
        items.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
