//! The demo's forensics steps: an incident opened from the forged-token
//! alert with the attack's exact scope (checked against the simulator's
//! ground truth), the disclosure deadlines it triggers, a legal hold that
//! refuses a retention job; and at the end a signed evidence bundle for the
//! incident, verified offline with only the log's public key.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::api_cmd::Api;
use crate::api_cmd::{at, set};
use crate::local_server::ServerProcess;
use crate::scope_cmd::group;

/// Accesses proved in the demo's bundle (`custos evidence export` proves
/// every counted access by default; the demo keeps its run short).
const DEMO_PROOFS: usize = 20_000;

/// What the final step needs.
pub struct Opened {
    /// The incident id.
    pub incident: String,
    /// Its exact scope.
    pub subjects: u64,
}

fn ok(a: crate::api_cmd::Answer, what: &str) -> anyhow::Result<Value> {
    if (200..300).contains(&a.status) {
        return Ok(a.body);
    }
    bail!("{what}: the server answered {}: {}", a.status, a.body)
}

/// Registers the customers' countries, opens the incident from the
/// forged-token alert scoped to the stolen key used from the attack's
/// networks, shows scope and deadlines, places a hold and shows a prune
/// refused.
pub fn open(
    server: &ServerProcess,
    dir: &Path,
    world: &sim::World,
    stolen_kid: &str,
    attack_nets: &BTreeSet<String>,
    truth_victims: Option<u64>,
) -> anyhow::Result<Opened> {
    // Where the customers live: the company's customer register, pseudonymised
    // at import.
    let t = Instant::now();
    let mut csv = String::from("subject,country\n");
    let mut n = 0u64;
    while let Some(c) = world.customer(n) {
        csv.push_str(&sim::customer_id(c.number));
        csv.push(',');
        csv.push_str(c.country);
        csv.push('\n');
        n += 1;
    }
    let reg = dir.join("customers.csv");
    std::fs::write(&reg, csv).with_context(|| format!("write {}", reg.display()))?;
    crate::scope_cmd::import_registry_quiet(dir, &reg)?;
    std::fs::remove_file(&reg).ok();
    println!(
        "      customer register: {} customers' countries imported, pseudonymised with the subject key ({:.1} s)",
        group(n),
        t.elapsed().as_secs_f64()
    );

    let admin = Api::with_token(
        &server.url,
        &server.credential(dir, "admin", "privacy-officer")?,
    );
    let alerts = ok(admin.get("/v1/alerts?limit=10000")?, "alerts")?;
    let alert = at(&alerts, "/alerts")
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| {
            at(a, "/entity/id") == stolen_kid || at(a, "/detector") == "token.refused.never_issued"
        })
        .and_then(|a| at(a, "/id").as_str().map(str::to_owned));
    let nets: Vec<&str> = attack_nets.iter().map(String::as_str).collect();
    let mut body = json!({
        "title": "Forged customer tokens signed with the departed engineer's key",
        "scope": { "kid": stolen_kid, "src_net": nets.join(",") },
    });
    if let Some(a) = &alert {
        set(&mut body, "alert_ids", json!([a]));
    } else {
        set(
            &mut body,
            "note",
            json!("opened by hand: no alert on the stolen key yet"),
        );
    }
    let t = Instant::now();
    let inc = ok(
        admin.post("/v1/incidents", body.to_string().as_bytes())?,
        "open incident",
    )?;
    let took = t.elapsed().as_secs_f64();
    let id = at(&inc, "/id").as_str().unwrap_or_default().to_owned();
    let sum = &at(&inc, "/scope/summary");
    let subjects = at(sum, "/subjects").as_u64().unwrap_or(0);
    println!(
        "      incident {id} opened{} — scope: tokens of key {stolen_kid} used from the {} networks \
         the never-issued tokens came from",
        alert.map_or_else(String::new, |a| format!(" from alert {a}")),
        nets.len()
    );
    println!(
        "      EXACT SCOPE: {} customers, {} access events, {} → {} (opened with its scope in {:.0} ms)",
        group(subjects),
        group(at(sum, "/events").as_u64().unwrap_or(0)),
        events::format_rfc3339(at(sum, "/first_access_ms").as_i64().unwrap_or(0)),
        events::format_rfc3339(at(sum, "/last_access_ms").as_i64().unwrap_or(0)),
        took * 1e3
    );
    let join = |v: &Value| -> String {
        v.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, n)| format!("{k} {}", group(n.as_u64().unwrap_or(0))))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    println!("      by data category: {}", join(at(sum, "/by_category")));
    println!(
        "      by customer country: {}",
        join(at(sum, "/by_country"))
    );
    if let Some(truth) = truth_victims {
        println!(
            "      simulator's ground truth: {} distinct customers read with forged tokens — {}",
            group(truth),
            if truth == subjects {
                "identical".to_owned()
            } else {
                format!("DIFFERS by {}", subjects.abs_diff(truth))
            }
        );
    }
    println!(
        "      (the 2025 disclosure first said 4,536 accounts; from a shell: custos scope --data DIR --kid {stolen_kid} --src-net … --from … --to …)"
    );
    println!(
        "      notification deadlines (rules/disclosure/jurisdictions.toml, each rule citing its law):"
    );
    for o in at(&inc, "/deadlines/obligations")
        .as_array()
        .into_iter()
        .flatten()
    {
        let due = at(o, "/due_ms").as_i64().unwrap_or(0);
        let state = match at(o, "/status/state").as_str() {
            Some("due_in") => format!(
                "due in {}",
                incident::format_duration(at(o, "/status/in_ms").as_i64().unwrap_or(0))
            ),
            Some("overdue") => format!(
                "OVERDUE by {}",
                incident::format_duration(at(o, "/status/by_ms").as_i64().unwrap_or(0))
            ),
            Some(s) => s.to_owned(),
            None => String::new(),
        };
        println!(
            "        {:<30} {:<40} {} ({state}) — {}",
            at(o, "/rule_id").as_str().unwrap_or(""),
            at(o, "/party").as_str().unwrap_or(""),
            incident::format_time(due),
            at(o, "/source").as_str().unwrap_or("")
        );
    }
    let skipped = at(&inc, "/deadlines/not_triggered")
        .as_array()
        .map_or(0, Vec::len);
    let review = at(&inc, "/deadlines/needs_review")
        .as_array()
        .map_or(0, Vec::len);
    println!(
        "        ({skipped} more rules considered and not triggered, {review} flagged for review; \
         draft notices: custos incident notices {id})"
    );

    // A preservation order, then a retention job that would prune the
    // forensic index under it.
    let hold = ok(
        admin.post(
            "/v1/holds",
            json!({ "reason": "Preservation order: forged-token investigation", "case_ref": id })
                .to_string()
                .as_bytes(),
        )?,
        "place hold",
    )?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let prune = admin.post(
        "/v1/retention/prune",
        json!({ "target": "forensic_index", "before": events::format_rfc3339(now) })
            .to_string()
            .as_bytes(),
    )?;
    let ledger_prune = admin.post(
        "/v1/retention/prune",
        json!({ "target": "ledger_entries", "before": events::format_rfc3339(now) })
            .to_string()
            .as_bytes(),
    )?;
    println!(
        "      legal hold {} placed (a ledger entry); a retention job pruning the forensic index → {} \
         refused; pruning the ledger → {} refused (append-only); both refusals recorded and alerted",
        at(&hold, "/id").as_str().unwrap_or(""),
        prune.status,
        ledger_prune.status
    );
    if prune.status != 409 || ledger_prune.status != 409 {
        bail!("a prune under a legal hold was not refused");
    }
    Ok(Opened {
        incident: id,
        subjects,
    })
}

/// Exports the incident's evidence bundle and verifies it with only the
/// public key.
pub fn finish(dir: &Path, opened: &Opened, vkey: &tlog::Verifier) -> anyhow::Result<()> {
    let out = dir.join(format!("{}.evidence.tar", opened.incident));
    let t = Instant::now();
    let (summary, n) =
        crate::case_cmd::export_incident(dir, &opened.incident, &out, DEMO_PROOFS, true)?;
    let exported = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let report = evidence::verify(&out, &vkey.to_string())
        .map_err(|e| anyhow::anyhow!("the evidence bundle failed verification: {e}"))?;
    let verified = t.elapsed().as_secs_f64();
    println!(
        "      {}: {} with the incident, its scope ({} customers), checkpoints {:?}, {} proved accesses{} \
         and one inclusion multi-proof ({} hashes); signed by the log key; written in {:.1} s",
        out.display(),
        crate::scope_cmd::bytes(summary.bytes),
        group(opened.subjects),
        summary.checkpoints,
        group(n as u64),
        if n >= DEMO_PROOFS {
            " (demo cap; `custos evidence export` proves all by default)".to_string()
        } else {
            String::new()
        },
        group(summary.multiproof_hashes),
        exported
    );
    println!(
        "      VERIFIED offline with only the public key in {:.2} s: {} entries included in checkpoint {} \
         (root {}), checkpoints consistent, manifest signature valid",
        verified,
        group(report.entries),
        report.checkpoints.last().copied().unwrap_or(0),
        report.root
    );
    println!(
        "      (from a shell: custos evidence verify {} --vkey '{vkey}')",
        out.display()
    );
    Ok(())
}
