//! `custos incident|hold|retention|evidence`: incidents with their
//! disclosure deadlines, legal holds and retention (clients of a running
//! `custos serve`: every change is a ledger entry written by it), and
//! signed evidence bundles (local: `export` reads the data directory and
//! signs with the log's key; `verify` needs only the public key).
//! docs/incidents.md, docs/evidence.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::api_cmd::{Answer, Api, Conn, segment, show};
use crate::api_cmd::{at, set};
use crate::scope_cmd::group;
use crate::ui;

const INCIDENT_HELP: &str = "\
Incidents carry the moment of awareness, the exact scope (POST /v1/scope), the
notification deadlines of every jurisdiction and party it triggers (the rules file
rules/disclosure/jurisdictions.toml, each rule citing its legal source), the
notifications sent, and a timeline whose every item is a ledger entry.

Examples:
  custos incident open --title 'Forged customer tokens' --alert a-… --token-file analyst.token
  custos incident open --title 'Stolen key' --kid k-2024-07 --from 2025-06-24 --to 2025-11-18
  custos incident show inc-…                       # scope, deadlines: due in / overdue / met
  custos incident fact inc-… gdpr_high_risk
  custos incident notify inc-… --rule kr-pipa-pipc --party PIPC --reference 'PIPC-2025-1234'
  custos incident notices inc-… --out notices/      # draft notices, one file per obligation
  custos evidence export inc-… --data DIR --out inc.bundle
  custos evidence verify inc.bundle --vkey 'custos.example/log+…'";

/// `custos incident …`.
#[derive(Debug, Subcommand)]
#[command(after_long_help = INCIDENT_HELP)]
pub enum IncidentCmd {
    /// Open an incident from alerts or by hand; its scope is computed at once.
    Open(OpenArgs),
    /// Incidents, newest first.
    List(ListArgs),
    /// One incident: scope, deadlines (due in / overdue / met), timeline.
    Show(ShowArgs),
    /// Recompute and record the scope (default: the last scope's selectors, up to now).
    Scope(IncidentScopeArgs),
    /// Move it: contained, notified, closed.
    Status(StatusArgs),
    /// Record a notification sent for an obligation.
    Notify(NotifyArgs),
    /// Record a fact the rules read (gdpr_high_risk, wrongful_purpose, outside_access, …).
    Fact(FactArgs),
    /// Correct the moment of awareness (admin), with a reason kept in history.
    Aware(AwareArgs),
    /// Record the materiality determination (SEC 8-K Item 1.05 starts its clock).
    Materiality(MaterialityArgs),
    /// Draft notices for every obligation (Markdown).
    Notices(NoticesArgs),
}

#[derive(Debug, Args)]
pub struct Selectors {
    /// Principal(s), comma-separated.
    #[arg(long)]
    pub principal: Option<String>,
    /// Signing key id(s).
    #[arg(long)]
    pub kid: Option<String>,
    /// Token issuer(s).
    #[arg(long)]
    pub issuer: Option<String>,
    /// Source country(ies).
    #[arg(long)]
    pub src_country: Option<String>,
    /// Source network(s), CIDR.
    #[arg(long, value_name = "CIDR")]
    pub src_net: Option<String>,
    /// Dataset.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Window start (RFC 3339 or YYYY-MM-DD); default: the beginning.
    #[arg(long)]
    pub from: Option<String>,
    /// Window end (exclusive); default: now.
    #[arg(long)]
    pub to: Option<String>,
}

impl Selectors {
    fn any(&self) -> bool {
        self.principal.is_some()
            || self.kid.is_some()
            || self.issuer.is_some()
            || self.src_country.is_some()
            || self.src_net.is_some()
            || self.dataset.is_some()
            || self.from.is_some()
            || self.to.is_some()
    }

    fn json(&self, to_key: &str) -> Value {
        let mut o = serde_json::Map::new();
        for (k, v) in [
            ("principal", &self.principal),
            ("kid", &self.kid),
            ("issuer", &self.issuer),
            ("src_country", &self.src_country),
            ("src_net", &self.src_net),
            ("dataset", &self.dataset),
            ("from", &self.from),
            (to_key, &self.to),
        ] {
            if let Some(v) = v {
                o.insert(k.into(), Value::from(v.clone()));
            }
        }
        Value::Object(o)
    }
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// Title.
    #[arg(long)]
    pub title: String,
    /// Alert(s) it comes from (repeatable); the first alert's entity is the
    /// default scope.
    #[arg(long = "alert", value_name = "ID")]
    pub alerts: Vec<String>,
    /// low, medium, high, critical (default: the alerts' highest).
    #[arg(long)]
    pub severity: Option<String>,
    /// When the organisation became aware (default: the earliest alert, else now).
    #[arg(long)]
    pub aware_at: Option<String>,
    /// Why it is opened by hand.
    #[arg(long)]
    pub note: Option<String>,
    #[command(flatten)]
    pub scope: Selectors,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub id: String,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Debug, Args)]
pub struct IncidentScopeArgs {
    pub id: String,
    #[command(flatten)]
    pub scope: Selectors,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    pub id: String,
    /// contained, notified or closed.
    pub to: String,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Debug, Args)]
pub struct NotifyArgs {
    pub id: String,
    /// The obligation's rule id (see `incident show`).
    #[arg(long)]
    pub rule: String,
    /// The party notified.
    #[arg(long)]
    pub party: String,
    /// When it was sent (default: now).
    #[arg(long)]
    pub at: Option<String>,
    /// The receipt or case number.
    #[arg(long)]
    pub reference: Option<String>,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Debug, Args)]
pub struct FactArgs {
    pub id: String,
    /// The fact.
    pub fact: String,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Debug, Args)]
pub struct AwareArgs {
    pub id: String,
    /// The corrected moment of awareness.
    #[arg(long)]
    pub at: String,
    /// Why it is corrected.
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Debug, Args)]
pub struct MaterialityArgs {
    pub id: String,
    /// When materiality was determined (default: now).
    #[arg(long)]
    pub at: Option<String>,
    /// Why (only for correcting an earlier determination).
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Debug, Args)]
pub struct NoticesArgs {
    pub id: String,
    /// Write one Markdown file per notice into this directory instead of printing.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub conn: Conn,
}

fn ok(a: Answer) -> anyhow::Result<Value> {
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

/// `custos incident …`.
pub fn run_incident(cmd: IncidentCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        IncidentCmd::Open(a) => {
            let api = Api::new(&a.conn)?;
            let mut body = json!({ "title": a.title, "alert_ids": a.alerts });
            for (k, v) in [
                ("severity", &a.severity),
                ("aware_at", &a.aware_at),
                ("note", &a.note),
            ] {
                if let Some(v) = v {
                    set(&mut body, k, Value::from(v.clone()));
                }
            }
            if a.scope.any() {
                set(&mut body, "scope", a.scope.json("to"));
            }
            let v = ok(api.post("/v1/incidents", body.to_string().as_bytes())?)?;
            print_incident(&v, a.json);
            Ok(ExitCode::SUCCESS)
        }
        IncidentCmd::List(a) => {
            let v = ok(Api::new(&a.conn)?.get("/v1/incidents")?)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            let items = at(&v, "/incidents").as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                println!("no incidents");
            }
            for i in items {
                let overdue = at(&i, "/deadlines/obligations").as_array().map_or(0, |o| {
                    o.iter()
                        .filter(|o| at(o, "/status/state") == "overdue")
                        .count()
                });
                println!(
                    "{:<18} {:<10} {:<9} {:>12} subjects  {} overdue  {}",
                    at(&i, "/id").as_str().unwrap_or(""),
                    at(&i, "/status").as_str().unwrap_or(""),
                    at(&i, "/severity").as_str().unwrap_or(""),
                    group(at(&i, "/scope/summary/subjects").as_u64().unwrap_or(0)),
                    overdue,
                    at(&i, "/title").as_str().unwrap_or("")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        IncidentCmd::Show(a) => {
            let v = ok(Api::new(&a.conn)?.get(&format!("/v1/incidents/{}", segment(&a.id)))?)?;
            print_incident(&v, a.json);
            Ok(ExitCode::SUCCESS)
        }
        IncidentCmd::Scope(a) => {
            let body = a.scope.json("until");
            let v = ok(Api::new(&a.conn)?.post(
                &format!("/v1/incidents/{}/scope", segment(&a.id)),
                body.to_string().as_bytes(),
            )?)?;
            print_incident(&v, a.json);
            Ok(ExitCode::SUCCESS)
        }
        IncidentCmd::Status(a) => change(&a.conn, &a.id, "status", json!({ "to": a.to })),
        IncidentCmd::Notify(a) => {
            let mut b = json!({ "rule_id": a.rule, "party": a.party });
            if let Some(t) = a.at {
                set(&mut b, "at", t);
            }
            if let Some(r) = a.reference {
                set(&mut b, "reference", r);
            }
            change(&a.conn, &a.id, "notifications", b)
        }
        IncidentCmd::Fact(a) => change(&a.conn, &a.id, "facts", json!({ "fact": a.fact })),
        IncidentCmd::Aware(a) => change(
            &a.conn,
            &a.id,
            "awareness",
            json!({ "at": a.at, "reason": a.reason }),
        ),
        IncidentCmd::Materiality(a) => {
            let mut b = json!({});
            if let Some(t) = a.at {
                set(&mut b, "at", t);
            }
            if let Some(r) = a.reason {
                set(&mut b, "reason", r);
            }
            change(&a.conn, &a.id, "materiality", b)
        }
        IncidentCmd::Notices(a) => {
            let v =
                ok(Api::new(&a.conn)?.get(&format!("/v1/incidents/{}/notices", segment(&a.id)))?)?;
            let notices = at(&v, "/notices").as_array().cloned().unwrap_or_default();
            match &a.out {
                Some(dir) => {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("create {}", dir.display()))?;
                    for n in &notices {
                        let name = format!(
                            "{}.md",
                            at(n, "/rule_id")
                                .as_str()
                                .unwrap_or("notice")
                                .replace(['/', ':'], "_")
                        );
                        let path = dir.join(name);
                        std::fs::write(&path, at(n, "/body").as_str().unwrap_or(""))
                            .with_context(|| format!("write {}", path.display()))?;
                    }
                    println!(
                        "{} draft notices written to {}",
                        notices.len(),
                        dir.display()
                    );
                }
                None => {
                    for n in &notices {
                        println!("{}\n", at(n, "/body").as_str().unwrap_or(""));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn change(conn: &Conn, id: &str, action: &str, body: Value) -> anyhow::Result<ExitCode> {
    let v = ok(Api::new(conn)?.post(
        &format!("/v1/incidents/{}/{action}", segment(id)),
        body.to_string().as_bytes(),
    )?)?;
    print_incident(&v, false);
    Ok(ExitCode::SUCCESS)
}

/// The human view of an incident: scope and deadlines.
pub fn incident_text(v: &Value) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}  {}  [{} · {}]",
        at(v, "/id").as_str().unwrap_or(""),
        at(v, "/title").as_str().unwrap_or(""),
        at(v, "/status").as_str().unwrap_or(""),
        at(v, "/severity").as_str().unwrap_or("")
    );
    let aware = at(v, "/awareness/at_ms").as_i64().unwrap_or(0);
    let _ = writeln!(
        s,
        "  aware since {} (recorded by {})",
        events::format_rfc3339(aware),
        at(v, "/awareness/by").as_str().unwrap_or("")
    );
    let sum = &at(v, "/scope/summary");
    if sum.is_object() {
        let cats: Vec<String> = at(sum, "/by_category")
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, n)| format!("{k} {}", group(n.as_u64().unwrap_or(0))))
                    .collect()
            })
            .unwrap_or_default();
        let countries: Vec<String> = at(sum, "/by_country")
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, n)| format!("{k} {}", group(n.as_u64().unwrap_or(0))))
                    .collect()
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  scope: {} subjects, {} access events (checkpoint {}); categories: {}; subject countries: {}",
            group(at(sum, "/subjects").as_u64().unwrap_or(0)),
            group(at(sum, "/events").as_u64().unwrap_or(0)),
            at(v, "/scope/checkpoint_size").as_u64().unwrap_or(0),
            cats.join(", "),
            countries.join(", ")
        );
    }
    let obligations = at(v, "/deadlines/obligations")
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !obligations.is_empty() {
        let _ = writeln!(s, "  deadlines:");
    }
    for o in &obligations {
        let st = &at(o, "/status");
        let state = match at(st, "/state").as_str().unwrap_or("") {
            "due_in" => format!(
                "due in {}",
                incident::format_duration(at(st, "/in_ms").as_i64().unwrap_or(0))
            ),
            "overdue" => format!(
                "OVERDUE by {}",
                incident::format_duration(at(st, "/by_ms").as_i64().unwrap_or(0))
            ),
            "met" => "met".to_owned(),
            other => other.to_owned(),
        };
        let _ = writeln!(
            s,
            "    {:<26} {:<34} {} ({})  — {}",
            at(o, "/rule_id").as_str().unwrap_or(""),
            at(o, "/party").as_str().unwrap_or(""),
            incident::format_time(at(o, "/due_ms").as_i64().unwrap_or(0)),
            state,
            at(o, "/source").as_str().unwrap_or("")
        );
    }
    let skipped = at(v, "/deadlines/not_triggered")
        .as_array()
        .map_or(0, Vec::len);
    let review = at(v, "/deadlines/needs_review")
        .as_array()
        .cloned()
        .unwrap_or_default();
    if skipped > 0 {
        let _ = writeln!(
            s,
            "  {skipped} rules considered and not triggered (--json lists why)"
        );
    }
    for r in review {
        let _ = writeln!(
            s,
            "  needs review: {} — {}",
            at(&r, "/rule_id").as_str().unwrap_or(""),
            at(&r, "/reason").as_str().unwrap_or("")
        );
    }
    s
}

fn print_incident(v: &Value, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        print!("{}", incident_text(v));
    }
}

// -------------------------------------------------------------- holds

/// `custos hold …`.
#[derive(Debug, Subcommand)]
pub enum HoldCmd {
    /// Place a preservation order over a time range and datasets (admin).
    Place(PlaceArgs),
    /// Holds, active first.
    List(ListArgs),
    /// Lift a hold (admin), with a reason.
    Lift(LiftArgs),
}

#[derive(Debug, Args)]
pub struct PlaceArgs {
    /// Why (the order, the authority).
    #[arg(long)]
    pub reason: String,
    /// Case reference.
    #[arg(long)]
    pub case_ref: Option<String>,
    /// Start of the held event times (default: the beginning).
    #[arg(long)]
    pub from: Option<String>,
    /// End (exclusive; default: open-ended).
    #[arg(long)]
    pub to: Option<String>,
    /// Dataset(s) held (repeatable; default: all).
    #[arg(long = "dataset")]
    pub datasets: Vec<String>,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Debug, Args)]
pub struct LiftArgs {
    pub id: String,
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub conn: Conn,
}

/// `custos hold …`.
pub fn run_hold(cmd: HoldCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        HoldCmd::Place(a) => {
            let mut b = json!({ "reason": a.reason, "datasets": a.datasets });
            for (k, v) in [("case_ref", &a.case_ref), ("from", &a.from), ("to", &a.to)] {
                if let Some(v) = v {
                    set(&mut b, k, Value::from(v.clone()));
                }
            }
            show(&Api::new(&a.conn)?.post("/v1/holds", b.to_string().as_bytes())?)
        }
        HoldCmd::List(a) => show(&Api::new(&a.conn)?.get("/v1/holds")?),
        HoldCmd::Lift(a) => show(&Api::new(&a.conn)?.post(
            &format!("/v1/holds/{}/lift", segment(&a.id)),
            json!({ "reason": a.reason }).to_string().as_bytes(),
        )?),
    }
}

/// `custos retention prune`.
#[derive(Debug, Subcommand)]
pub enum RetentionCmd {
    /// Prune derived data before a time: `forensic_index` only; refused over a
    /// legal hold (and recorded, and alerted); the ledger is never pruned.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// forensic_index, ledger_entries, alerts, detector_state, evidence_bundles.
    #[arg(long)]
    pub target: String,
    /// Prune what is older than this.
    #[arg(long)]
    pub before: String,
    #[command(flatten)]
    pub conn: Conn,
}

/// `custos retention …`.
pub fn run_retention(cmd: RetentionCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        RetentionCmd::Prune(a) => show(
            &Api::new(&a.conn)?.post(
                "/v1/retention/prune",
                json!({ "target": a.target, "before": a.before })
                    .to_string()
                    .as_bytes(),
            )?,
        ),
    }
}

// ----------------------------------------------------------- evidence

/// `custos evidence …`.
#[derive(Debug, Subcommand)]
pub enum EvidenceCmd {
    /// Write a signed evidence bundle for an incident: its scope, the checkpoints
    /// cited, every counted access with one compact inclusion multi-proof, and
    /// consistency proofs between the checkpoints.
    Export(ExportArgs),
    /// Verify a bundle offline with only the log's public key.
    Verify(VerifyArgs),
    /// Print the standard C2SP tlog-proof of one entry of a bundle.
    Proof(ProofArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The incident.
    pub incident: String,
    /// Data directory (ledger, keys, store).
    #[arg(long)]
    pub data: PathBuf,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
    /// Most accesses to prove.
    #[arg(long, default_value_t = 10_000_000)]
    pub max_entries: usize,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle.
    pub file: PathBuf,
    /// The log's verifier key, or a file holding it.
    #[arg(long)]
    pub vkey: String,
    /// JSON report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProofArgs {
    /// The bundle.
    pub file: PathBuf,
    /// The log's verifier key, or a file holding it.
    #[arg(long)]
    pub vkey: String,
    /// The entry's ledger index.
    #[arg(long)]
    pub index: u64,
}

/// `DIR/forensics/checkpoints/<size>.note`: checkpoints an incident's scope
/// was based on, kept verbatim to cite in evidence.
pub fn kept_checkpoint(data: &Path, size: u64) -> PathBuf {
    data.join("forensics")
        .join("checkpoints")
        .join(format!("{size}.note"))
}

fn vkey_text(v: &str) -> anyhow::Result<String> {
    let verifier = ui::verifier_arg(v)?;
    Ok(verifier.to_string())
}

/// Exports an incident's bundle; returns the summary.
pub fn export_incident(
    data: &Path,
    id: &str,
    out: &Path,
    max_entries: usize,
    quiet: bool,
) -> anyhow::Result<(evidence::ExportSummary, usize)> {
    let db = store::Database::open_data_dir(data)?;
    let cases = store::SqliteCaseStore::new(&db)?;
    let doc = cases
        .incident(id)?
        .with_context(|| format!("no incident {id} in {}", data.display()))?;
    let inc = incident::Incident::from_json(doc.body.as_bytes())
        .map_err(|e| anyhow::anyhow!("incident {id}: {e}"))?;
    let Some(snap) = &inc.scope else {
        bail!("incident {id} has no scope yet: `custos incident scope {id}` first");
    };
    let s = &snap.summary;
    let join = |v: &[String]| (!v.is_empty()).then(|| v.join(","));
    let q = forensics::scope::ScopeQuery {
        principal: join(&s.selectors.principal),
        kid: join(&s.selectors.kid),
        issuer: None,
        src_country: join(&s.selectors.src_country),
        src_net: join(&s.selectors.src_net),
        dataset: s.selectors.dataset.first().cloned(),
        from_ms: s.window.from_ms,
        to_ms: s.window.to_ms,
    };
    let (mut local, latest, _) = crate::scope_cmd::open_current(data, quiet)?;
    // The accesses counted as of the checkpoint the scope was based on.
    let indices =
        local.matching_entries(&q, snap.checkpoint_size.min(latest.size()), max_entries)?;
    let mut cite = Vec::new();
    let kept = kept_checkpoint(data, snap.checkpoint_size);
    match std::fs::read(&kept) {
        Ok(note) => cite.push(evidence::Cite::Note(note)),
        Err(_) if snap.checkpoint_size < latest.size() => {
            cite.push(evidence::Cite::Size(snap.checkpoint_size));
        }
        Err(_) => {}
    }
    let request = evidence::ExportRequest {
        incident: inc.id.clone(),
        scope: serde_json::from_str(&inc.to_json())?,
        indices,
        cite,
    };
    let n = request.indices.len();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let bar = (!quiet && n > 50_000).then(|| ui::bar(n as u64, "proving accesses"));
    let summary = evidence::export(data, &request, out, now, &mut |p| {
        if let Some(b) = &bar {
            b.set_length(p.total.max(1));
            b.set_position(p.done);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok((summary, n))
}

/// `custos evidence …`.
pub fn run_evidence(cmd: EvidenceCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        EvidenceCmd::Export(a) => {
            let t = Instant::now();
            let (s, n) = export_incident(&a.data, &a.incident, &a.out, a.max_entries, false)?;
            println!(
                "evidence bundle {}: {} accesses proved ({} entry bytes), checkpoints {:?}, \
                 multi-proof of {} hashes; {} in {:.1} s",
                s.path.display(),
                group(n as u64),
                group(s.entry_bytes),
                s.checkpoints,
                group(s.multiproof_hashes),
                crate::scope_cmd::bytes(s.bytes),
                t.elapsed().as_secs_f64()
            );
            println!(
                "verify it anywhere with only the log's public key: custos evidence verify {} --vkey VKEY",
                s.path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        EvidenceCmd::Verify(a) => {
            let t = Instant::now();
            let vkey = vkey_text(&a.vkey)?;
            match evidence::verify(&a.file, &vkey) {
                Ok(r) => {
                    if a.json {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&json!({
                                "ok": true, "incident": r.incident, "created": r.created,
                                "origin": r.origin, "checkpoints": r.checkpoints, "root": r.root,
                                "entries": r.entries, "entry_bytes": r.entry_bytes,
                                "multiproof_hashes": r.multiproof_hashes,
                                "archive_bytes": r.archive_bytes, "manifest_sha256": r.manifest_sha256,
                                "scope": r.scope,
                            }))?
                        );
                    } else {
                        println!(
                            "OK: bundle of incident {} ({}), signed by {}; {} accesses proved in \
                             checkpoint {} (root {}); checkpoints {:?} consistent; verified in {:.2} s",
                            r.incident,
                            r.created,
                            r.origin,
                            group(r.entries),
                            r.checkpoints.last().copied().unwrap_or(0),
                            r.root,
                            r.checkpoints,
                            t.elapsed().as_secs_f64()
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("FAILED: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        EvidenceCmd::Proof(a) => {
            let vkey = vkey_text(&a.vkey)?;
            let p = evidence::tlog_proof(&a.file, &vkey, a.index)?;
            print!("{}", String::from_utf8_lossy(&p.to_bytes()));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `custos bench evidence` options.
#[derive(Debug, Args)]
pub struct EvidenceBenchArgs {
    /// Ledger entries to create (≈970-byte OCSF-shaped entries).
    #[arg(long, default_value_t = 200_000)]
    pub entries: u64,
    /// Accesses to prove (pseudo-randomly chosen).
    #[arg(long, default_value_t = 100_000)]
    pub prove: u64,
    /// Scratch directory (removed afterwards).
    #[arg(long, default_value = "/tmp/custos-bench-evidence")]
    pub dir: PathBuf,
}
