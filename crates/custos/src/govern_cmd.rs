//! `custos supplier|residency|findings`: governance through a running
//! `custos serve` (the server assesses suppliers from its live evidence and
//! records every change in the ledger; docs/govern.md). Human output by
//! default, `--json` for machines.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::api_cmd::{Answer, Api, Conn, segment};

const SUPPLIER_HELP: &str = "\
Suppliers come from the server's governance file (--govern-config, or DATA/govern.toml);
their assessment is computed live from Custos' own evidence: grants held by their accounts
(within the contract's maximum validity and scope?), stale accounts (active, no access on
record for 30 days), alerts on their principals and time to acknowledge, sub-processor access
without written consent. Score 0-100; tier low (>= 85), moderate, high, critical (< 50).

Examples:
  custos supplier list --token-file auditor.token
  custos supplier show sup-01 --token-file auditor.token
  custos supplier assess sup-01 --owner vendor-risk --token-file admin.token
  custos supplier oscal sup-01 --out sup-01.oscal.json --token-file auditor.token";

const RESIDENCY_HELP: &str = "\
Where each dataset of the governance file is stored (primary and backup regions) and from
which countries it was read in the window (the server's forensic index), checked against
Korea's PIPA Art. 28-8, GDPR Chapter V and Japan's APPI Art. 28 (docs/govern.md). Violations
are also raised as alerts by the server.

Examples:
  custos residency report --token-file auditor.token
  custos residency report --from 2025-11-01T00:00:00Z --to 2025-11-08T00:00:00Z --json";

const FINDINGS_HELP: &str = "\
Remediation findings: from assessments (`custos supplier assess`), residency violations and
manual entry; owner, severity, due date (default by severity: critical 7 d, high 30 d,
medium 90 d, low 180 d), status open -> in_progress -> resolved / risk_accepted. Overdue
findings escalate owner -> manager -> executive (the server's timer, recorded in the ledger
and raised as alerts). Money at risk = records exposed x per-record cost (IBM 2024: USD 173).

Examples:
  custos findings list --status open --token-file analyst.token
  custos findings add --title 'Callbridge: shared account' --owner kim --severity high \\
      --supplier sup-01 --records 250000 --token-file analyst.token
  custos findings update gf-… --status resolved --note 'account removed, SCIM log 2025-11-09'
  custos findings report --token-file auditor.token";

/// `custos supplier …`.
#[derive(Debug, Args)]
#[command(after_long_help = SUPPLIER_HELP)]
pub struct SupplierArgs {
    #[command(subcommand)]
    pub cmd: SupplierCmd,
    /// JSON (the server's answer) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(flatten)]
    pub conn: Conn,
}

/// Supplier commands.
#[derive(Debug, Subcommand)]
pub enum SupplierCmd {
    /// Every supplier with its live score and tier.
    List,
    /// One supplier's live assessment: score, tier, every deduction with its evidence.
    Show {
        /// Supplier id (from the governance file).
        id: String,
    },
    /// Record an assessment snapshot (score history) and open findings for its deductions (admin).
    Assess {
        /// Supplier id.
        id: String,
        /// Owner of the findings opened [default: vendor-risk].
        #[arg(long)]
        owner: Option<String>,
    },
    /// The live assessment as NIST OSCAL 1.2.1 assessment results (JSON).
    Oscal {
        /// Supplier id.
        id: String,
        /// Write to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// `custos residency …`.
#[derive(Debug, Args)]
#[command(after_long_help = RESIDENCY_HELP)]
pub struct ResidencyArgs {
    #[command(subcommand)]
    pub cmd: ResidencyCmd,
    #[command(flatten)]
    pub conn: Conn,
}

/// Residency commands.
#[derive(Debug, Subcommand)]
pub enum ResidencyCmd {
    /// Storage and access countries per dataset, with violations.
    Report {
        /// Window start, RFC 3339 [default: 30 days before --to].
        #[arg(long)]
        from: Option<String>,
        /// Window end, RFC 3339 [default: now].
        #[arg(long)]
        to: Option<String>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `custos findings …`.
#[derive(Debug, Args)]
#[command(after_long_help = FINDINGS_HELP)]
pub struct FindingsArgs {
    #[command(subcommand)]
    pub cmd: FindingsCmd,
    /// JSON (the server's answer) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(flatten)]
    pub conn: Conn,
}

/// Findings commands.
#[derive(Debug, Subcommand)]
pub enum FindingsCmd {
    /// Findings with their escalation and money at risk now.
    List {
        /// Only this status: open, in_progress, risk_accepted, resolved.
        #[arg(long)]
        status: Option<String>,
        /// Only this supplier's.
        #[arg(long)]
        supplier: Option<String>,
    },
    /// One finding in full, with its history.
    Show {
        /// Finding id.
        id: String,
    },
    /// Add a finding by hand (admin or analyst).
    Add {
        /// What is wrong, in a line.
        #[arg(long)]
        title: String,
        /// Who must fix it.
        #[arg(long)]
        owner: String,
        /// low, medium, high, critical.
        #[arg(long)]
        severity: String,
        /// Due date, RFC 3339 [default: by severity].
        #[arg(long)]
        due: Option<String>,
        /// The supplier it concerns.
        #[arg(long)]
        supplier: Option<String>,
        /// A reference (alert id, ticket).
        #[arg(long)]
        reference: Option<String>,
        /// Evidence (repeatable).
        #[arg(long)]
        evidence: Vec<String>,
        /// Personal-data records exposed (money at risk).
        #[arg(long, default_value_t = 0)]
        records: u64,
    },
    /// Move a finding or change its owner or due date (admin or analyst).
    Update {
        /// Finding id.
        id: String,
        /// open, in_progress, risk_accepted, resolved.
        #[arg(long)]
        status: Option<String>,
        /// The note (evidence of the fix; reason of an acceptance).
        #[arg(long)]
        note: Option<String>,
        /// A new owner.
        #[arg(long)]
        owner: Option<String>,
        /// A new due date, RFC 3339.
        #[arg(long)]
        due: Option<String>,
    },
    /// The weekly report: opened, closed, overdue, escalated, money at risk.
    Report {
        /// Week start, RFC 3339 [default: 7 days before now].
        #[arg(long)]
        from: Option<String>,
    },
}

/// The body of a 2xx answer, or an error naming the server's message.
fn body(a: Answer) -> anyhow::Result<Value> {
    if (200..300).contains(&a.status) {
        return Ok(a.body);
    }
    let msg = a
        .body
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| a.body.to_string(), str::to_owned);
    bail!("the server answered {}: {msg}", a.status)
}

fn pretty(v: &Value) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(ExitCode::SUCCESS)
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn n(v: &Value, ptr: &str) -> u64 {
    v.pointer(ptr).and_then(Value::as_u64).unwrap_or(0)
}

/// Member `k` of `v` (`Null` when absent).
fn at<'a>(v: &'a Value, k: &str) -> &'a Value {
    v.get(k).unwrap_or(&Value::Null)
}

fn query(pairs: &[(&str, Option<&String>)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", segment(v))))
        .collect();
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

/// Runs `custos supplier`.
pub fn run_supplier(a: SupplierArgs) -> anyhow::Result<ExitCode> {
    let api = Api::new(&a.conn)?;
    match a.cmd {
        SupplierCmd::List => {
            let v = body(api.get("/v1/suppliers")?)?;
            if a.json {
                return pretty(&v);
            }
            let items = at(&v, "suppliers").as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                println!("no suppliers (the server's governance file lists none)");
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<14} {:<26} {:<3} {:>5} {:<9} {:>10} {:<22} MONEY AT RISK",
                "ID", "NAME", "CC", "SCORE", "TIER", "DEDUCTIONS", "LAST SNAPSHOT"
            );
            for x in &items {
                let last = x.get("last_snapshot").filter(|l| !l.is_null()).map_or_else(
                    || "-".to_owned(),
                    |l| format!("{} ({})", n(l, "/score"), s(l, "/tier")),
                );
                println!(
                    "{:<14} {:<26} {:<3} {:>5} {:<9} {:>10} {:<22} {}",
                    s(x, "/id"),
                    s(x, "/name"),
                    s(x, "/country"),
                    n(x, "/score"),
                    s(x, "/tier"),
                    n(x, "/deductions"),
                    last,
                    s(x, "/money_at_risk_usd")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        SupplierCmd::Show { id } => {
            let v = body(api.get(&format!("/v1/suppliers/{}", segment(&id)))?)?;
            if a.json {
                return pretty(&v);
            }
            print_assessment(&v);
            Ok(ExitCode::SUCCESS)
        }
        SupplierCmd::Assess { id, owner } => {
            let b = match owner {
                Some(o) => json!({ "owner": o }),
                None => json!({}),
            };
            let v = body(api.post(
                &format!("/v1/suppliers/{}/assess", segment(&id)),
                b.to_string().as_bytes(),
            )?)?;
            if a.json {
                return pretty(&v);
            }
            let prev = v.get("previous").filter(|p| !p.is_null()).map_or_else(
                || "first snapshot".to_owned(),
                |p| {
                    format!(
                        "was {} ({}) at {}",
                        n(p, "/score"),
                        s(p, "/tier"),
                        s(p, "/at")
                    )
                },
            );
            println!(
                "{id}: score {} tier {} recorded at {} (ledger index {}); {prev}",
                n(&v, "/snapshot/score"),
                s(&v, "/snapshot/tier"),
                s(&v, "/snapshot/at"),
                n(&v, "/snapshot/ledger_index")
            );
            let opened = at(&v, "findings_opened")
                .as_array()
                .cloned()
                .unwrap_or_default();
            println!("{} finding(s) opened", opened.len());
            for f in &opened {
                println!(
                    "  {:<18} {:<8} due {}  {}",
                    s(f, "/id"),
                    s(f, "/severity"),
                    s(f, "/due"),
                    s(f, "/title")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        SupplierCmd::Oscal { id, out } => {
            let v = body(api.get(&format!("/v1/suppliers/{}/oscal", segment(&id)))?)?;
            let text = serde_json::to_string_pretty(&v)?;
            match out {
                Some(p) => {
                    std::fs::write(&p, format!("{text}\n"))
                        .with_context(|| format!("{}: cannot write", p.display()))?;
                    eprintln!(
                        "OSCAL {} assessment results for {id} written to {}",
                        s(&v, "/assessment-results/metadata/oscal-version"),
                        p.display()
                    );
                }
                None => println!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints a supplier assessment (the answer of `GET /v1/suppliers/{id}`).
pub fn print_assessment(v: &Value) {
    println!(
        "{} — {} ({}): score {}/100, tier {}  (at {})",
        s(v, "/supplier"),
        s(v, "/name"),
        s(v, "/supplier_profile/country"),
        n(v, "/score"),
        s(v, "/tier"),
        s(v, "/at")
    );
    let m = &at(v, "metrics");
    println!(
        "  grants {} (within max validity {:.0}%), over-privileged {}, stale accounts {}, alerts {} (acknowledged {})",
        n(m, "/grants"),
        at(v, "grants_within_max_validity_share")
            .as_f64()
            .unwrap_or(1.0)
            * 100.0,
        at(m, "grants_outside_contract_scope")
            .as_array()
            .map_or(0, Vec::len),
        at(m, "stale_accounts").as_array().map_or(0, Vec::len),
        n(m, "/alerts"),
        n(m, "/alerts_acknowledged"),
    );
    println!(
        "  money at risk: {} ({} records reachable × USD {:.2})",
        s(v, "/money_at_risk/usd"),
        n(v, "/money_at_risk/records_reachable"),
        n(v, "/money_at_risk/per_record_usd_cents") as f64 / 100.0
    );
    let ds = at(v, "deductions").as_array().cloned().unwrap_or_default();
    if ds.is_empty() {
        println!("  no deductions");
    }
    for d in &ds {
        println!(
            "  -{:<3} {:<32} {}",
            n(d, "/points"),
            s(d, "/code"),
            s(d, "/reason")
        );
        let ev: Vec<&str> = at(d, "evidence")
            .as_array()
            .map(|e| e.iter().filter_map(Value::as_str).take(4).collect())
            .unwrap_or_default();
        if !ev.is_empty() {
            println!("        evidence: {}", ev.join("; "));
        }
    }
    let h = at(v, "history").as_array().cloned().unwrap_or_default();
    if !h.is_empty() {
        let hist: Vec<String> = h
            .iter()
            .map(|x| format!("{} {} ({})", s(x, "/at"), n(x, "/score"), s(x, "/tier")))
            .collect();
        println!("  history: {}", hist.join(" → "));
    }
}

/// Runs `custos residency`.
pub fn run_residency(a: ResidencyArgs) -> anyhow::Result<ExitCode> {
    let api = Api::new(&a.conn)?;
    match a.cmd {
        ResidencyCmd::Report { from, to, json } => {
            let v = body(api.get(&format!(
                "/v1/residency{}",
                query(&[("from", from.as_ref()), ("to", to.as_ref())])
            ))?)?;
            if json {
                return pretty(&v);
            }
            print_residency(&v);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints a residency report (the answer of `GET /v1/residency`).
pub fn print_residency(v: &Value) {
    println!(
        "residency {} → {}: {} violation(s)",
        s(v, "/from"),
        s(v, "/to"),
        n(v, "/violations")
    );
    for d in at(v, "datasets").as_array().cloned().unwrap_or_default() {
        let stored: Vec<String> = at(&d, "stored")
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        format!(
                            "{} {} ({})",
                            s(x, "/role"),
                            s(x, "/country"),
                            s(x, "/region")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let from: Vec<String> = at(&d, "accessed_from")
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, c)| format!("{k} {}", c.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        let subjects: Vec<&str> = at(&d, "subject_jurisdictions")
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        println!(
            "  {} ({} records; subjects {}): stored {}",
            s(&d, "/dataset"),
            n(&d, "/records"),
            subjects.join(", "),
            stored.join(", ")
        );
        println!(
            "    read from: {}",
            if from.is_empty() {
                "-".to_owned()
            } else {
                from.join(", ")
            }
        );
        for p in at(&d, "permitted").as_array().cloned().unwrap_or_default() {
            println!(
                "    permitted: {} subjects → {} ({}): {}",
                s(&p, "/jurisdiction"),
                s(&p, "/country"),
                s(&p, "/kind"),
                s(&p, "/basis")
            );
        }
        for x in at(&d, "violations").as_array().cloned().unwrap_or_default() {
            println!(
                "    VIOLATION {} [{}]",
                s(&x, "/message"),
                s(&x, "/citation")
            );
        }
    }
}

/// Runs `custos findings`.
pub fn run_findings(a: FindingsArgs) -> anyhow::Result<ExitCode> {
    let api = Api::new(&a.conn)?;
    match a.cmd {
        FindingsCmd::List { status, supplier } => {
            let v = body(api.get(&format!(
                "/v1/findings{}",
                query(&[("status", status.as_ref()), ("supplier", supplier.as_ref())])
            ))?)?;
            if a.json {
                return pretty(&v);
            }
            let items = at(&v, "findings").as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                println!("no findings");
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<18} {:<8} {:<13} {:<14} {:<20} {:<10} {:>14}  TITLE",
                "ID", "SEVERITY", "STATUS", "OWNER", "DUE", "ESCALATED", "MONEY AT RISK"
            );
            for f in &items {
                println!(
                    "{:<18} {:<8} {:<13} {:<14} {:<20} {:<10} {:>14}  {}",
                    s(f, "/id"),
                    s(f, "/severity"),
                    s(f, "/status"),
                    s(f, "/owner"),
                    s(f, "/due"),
                    s(f, "/escalation/level"),
                    s(f, "/money_at_risk/usd"),
                    s(f, "/title")
                );
            }
            println!("{} finding(s)", items.len());
            Ok(ExitCode::SUCCESS)
        }
        FindingsCmd::Show { id } => {
            pretty(&body(api.get(&format!("/v1/findings/{}", segment(&id)))?)?)
        }
        FindingsCmd::Add {
            title,
            owner,
            severity,
            due,
            supplier,
            reference,
            evidence,
            records,
        } => {
            let mut b = json!({"title": title, "owner": owner, "severity": severity,
                               "evidence": evidence, "records_exposed": records});
            for (k, v) in [
                ("due", due),
                ("supplier", supplier),
                ("reference", reference),
            ] {
                if let (Some(v), Some(o)) = (v, b.as_object_mut()) {
                    o.insert(k.to_owned(), Value::from(v));
                }
            }
            let v = body(api.post("/v1/findings", b.to_string().as_bytes())?)?;
            if a.json {
                return pretty(&v);
            }
            println!(
                "{} opened: {} severity {}, owner {}, due {}; money at risk {}",
                s(&v, "/id"),
                s(&v, "/title"),
                s(&v, "/severity"),
                s(&v, "/owner"),
                s(&v, "/due"),
                s(&v, "/money_at_risk/usd")
            );
            Ok(ExitCode::SUCCESS)
        }
        FindingsCmd::Update {
            id,
            status,
            note,
            owner,
            due,
        } => {
            let mut b = json!({});
            for (k, v) in [
                ("status", status),
                ("note", note),
                ("owner", owner),
                ("due", due),
            ] {
                if let (Some(v), Some(o)) = (v, b.as_object_mut()) {
                    o.insert(k.to_owned(), Value::from(v));
                }
            }
            let v = body(api.post(
                &format!("/v1/findings/{}", segment(&id)),
                b.to_string().as_bytes(),
            )?)?;
            if a.json {
                return pretty(&v);
            }
            println!(
                "{}: status {}, owner {}, due {}, escalation {}",
                s(&v, "/id"),
                s(&v, "/status"),
                s(&v, "/owner"),
                s(&v, "/due"),
                s(&v, "/escalation/level")
            );
            Ok(ExitCode::SUCCESS)
        }
        FindingsCmd::Report { from } => {
            let v = body(api.get(&format!(
                "/v1/findings/report{}",
                query(&[("from", from.as_ref())])
            ))?)?;
            if a.json {
                return pretty(&v);
            }
            print_report(&v);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints a weekly report (the answer of `GET /v1/findings/report`).
pub fn print_report(v: &Value) {
    let count = |k: &str| at(v, k).as_array().map_or(0, Vec::len);
    println!(
        "week {} → {}: opened {}, closed {}, overdue {}, escalated {}; open {} with {} at risk",
        s(v, "/from"),
        s(v, "/to"),
        count("opened"),
        count("closed"),
        count("overdue"),
        count("escalated"),
        n(v, "/open"),
        s(v, "/open_money_usd")
    );
    for e in at(v, "escalated").as_array().cloned().unwrap_or_default() {
        let notify: Vec<&str> = at(&e, "notify")
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        println!(
            "  escalated {} to the {}: {}",
            s(&e, "/finding"),
            s(&e, "/level"),
            notify.join(", ")
        );
    }
}
