//! Demo step: governance of the demo company's outsourced customer-service
//! supplier, from live evidence in the running `custos serve`. The demo
//! writes a governance file (`DATA/govern.toml`, read by the server when it
//! changes) whose questionnaire says "yes" to everything — the paper
//! certificate; the server's own evidence then speaks: one of the
//! supplier's agents (the simulator's scraper) is given an over-privileged,
//! over-long grant and is caught — the tier drops and findings open; a
//! former agent's account left active is stale — removing it (one SCIM
//! call) moves the score back up. Then a residency report of the company's
//! datasets, the findings' weekly report and the OSCAL assessment results.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::api_cmd::{Answer, Api};
use crate::local_server::ServerProcess;

fn ok(a: Answer, what: &str) -> anyhow::Result<Value> {
    if !(200..300).contains(&a.status) {
        bail!("{what}: HTTP {}: {}", a.status, a.body);
    }
    Ok(a.body)
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

/// The governance file the demo writes: the supplier, its contract, its
/// accounts and a questionnaire answered "yes" throughout; the company's
/// datasets (Korea primary, Singapore backups) and the transfer bases it
/// declares.
fn governance_file(
    sup: &sim::Supplier,
    accounts: &[String],
    customers: u64,
    foreign: &[String],
) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Written by `custos demo` (docs/govern.md).\n\n[[suppliers]]\nid = \"{}\"\nname = \"{}\"\n\
         country = \"{}\"\nservices = [\"outsourced customer service\"]\ncontacts = [\n  \
         {{ name = \"Maria Santos\", role = \"security\", email = \"security@callbridge.example\" }},\n]\n\n\
         [suppliers.contract]\nincident_notification_hours = 24\nlog_review_rights = true\n\
         audit_rights = true\nsubprocessing_requires_written_consent = true\n\
         max_access_validity_days = 30\noffboarding_deadline_hours = 24\n\
         allowed_datasets = [\"customers\", \"orders\"]\n\
         allowed_categories = [\"name\", \"phone\", \"email\", \"order_history\"]\n",
        sup.id, sup.name, sup.country
    );
    for a in accounts {
        let _ = writeln!(
            t,
            "[[suppliers.accounts]]\nprincipal = \"{a}\"\nkind = \"staff\"\n"
        );
    }
    for q in govern::QUESTIONS {
        let _ = writeln!(
            t,
            "[[suppliers.answers]]\nquestion = \"{}\"\nanswer = \"yes\"\nevidence = [\"ISMS certificate 2025\"]\n",
            q.id
        );
    }
    for ds in ["customers", "orders", "payments"] {
        let _ = writeln!(
            t,
            "[[datasets]]\nid = \"{ds}\"\nrecords = {customers}\n\
             primary = {{ region = \"ap-northeast-2\", country = \"KR\" }}\n\
             backups = [{{ region = \"ap-southeast-1\", country = \"SG\" }}]\n\
             subject_jurisdictions = [\"KR\", \"JP\", \"TW\"]\n"
        );
        // Declared bases: Singapore backups and customers abroad reading
        // their own accounts (necessary for the contract, in the privacy
        // policy: PIPA Art. 28-8(1)(iii)); Japanese customers consented
        // to storage in Korea and Singapore (APPI Art. 28(1)).
        let mut bases: Vec<(&str, String, &str, &str)> = vec![
            (
                "KR",
                "SG".into(),
                "pipa-28-8-1-3",
                "Privacy policy §9: backups in Singapore",
            ),
            (
                "JP",
                "KR".into(),
                "appi-28-consent",
                "Sign-up consent v4: storage in Korea",
            ),
            (
                "JP",
                "SG".into(),
                "appi-28-consent",
                "Sign-up consent v4: backups in Singapore",
            ),
        ];
        for c in foreign {
            bases.push((
                "KR",
                c.clone(),
                "pipa-28-8-1-3",
                "Privacy policy §9: customers abroad using their own account",
            ));
        }
        for (j, to, basis, reference) in bases {
            let _ = writeln!(
                t,
                "[[transfer_bases]]\ndataset = \"{ds}\"\njurisdiction = \"{j}\"\nto = \"{to}\"\n\
                 basis = \"{basis}\"\nreference = \"{reference}\"\n"
            );
        }
    }
    t.push_str(
        "[org]\nexecutive = \"ciso\"\nmanager_after_days = 3\nexecutive_after_days = 7\n\n\
         [org.managers]\n\"vendor-risk\" = \"head-of-procurement\"\n",
    );
    t
}

fn scim_supplier_user(user: &str, supplier: &str, country: &str) -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:custos:params:scim:schemas:extension:custos:2.0:User"
        ],
        "userName": user,
        "active": true,
        "urn:custos:params:scim:schemas:extension:custos:2.0:User": {
            "principalKind": "supplier_staff", "supplierId": supplier, "region": country
        }
    })
}

fn assess(admin: &Api, id: &str) -> anyhow::Result<Value> {
    ok(
        admin.post(
            &format!("/v1/suppliers/{id}/assess"),
            br#"{"owner":"vendor-risk"}"#,
        )?,
        "assess",
    )
}

fn deductions_line(v: &Value) -> String {
    at(v, "deductions")
        .as_array()
        .map(|d| {
            d.iter()
                .map(|x| format!("{} −{}", s(x, "/code"), n(x, "/points")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Runs the step against `server` (its data directory `dir`).
pub fn show(server: &ServerProcess, dir: &Path, world: &sim::World) -> anyhow::Result<()> {
    let url = server.url.as_str();
    let admin = Api::with_token(url, &server.credential(dir, "admin", "vendor-risk")?);
    let approver = Api::with_token(url, &server.credential(dir, "admin", "ciso")?);
    let auditor = Api::with_token(url, &server.credential(dir, "auditor", "regulator")?);
    let scim = Api::with_token(url, &server.credential(dir, "scim", "okta-govern")?);

    let sup = world
        .suppliers()
        .iter()
        .find(|x| x.line == "outsourced-customer-service")
        .context("the simulated company has no customer-service supplier")?
        .clone();
    let scraper = world
        .episodes()
        .iter()
        .find(|e| e.scenario == "supplier_scrape")
        .and_then(|e| e.actors.first().cloned());
    let staff: Vec<String> = world
        .principals()
        .iter()
        .filter(|p| p.supplier.as_deref() == Some(sup.id.as_str()))
        .map(|p| p.id.clone())
        .collect();
    let scraper = scraper
        .or_else(|| staff.first().cloned())
        .context("the supplier has no staff")?;
    let former = format!("sst-{}-former-agent", sup.id.trim_start_matches("sup-"));

    // Which of its agents used the data in this window (the forensic index,
    // through the server): write a first file listing them all.
    let path = dir.join("govern.toml");
    let customers = world.config().customers;
    let mut candidates: Vec<String> = vec![scraper.clone()];
    candidates.extend(staff.iter().filter(|p| **p != scraper).take(40).cloned());
    std::fs::write(&path, governance_file(&sup, &candidates, customers, &[]))?;
    let first = ok(admin.get(&format!("/v1/suppliers/{}", sup.id))?, "supplier")?;
    let mut used: Vec<(String, u64)> = first
        .pointer("/evidence/accesses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| (s(x, "/principal").to_owned(), n(x, "/subjects")))
                .collect()
        })
        .unwrap_or_default();
    used.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut accounts = vec![scraper.clone()];
    accounts.extend(
        used.iter()
            .map(|(p, _)| p.clone())
            .filter(|p| *p != scraper)
            .take(2),
    );
    accounts.push(former.clone());
    // Countries customers read their own accounts from (declared bases).
    let residency = ok(auditor.get("/v1/residency")?, "residency")?;
    let mut foreign: Vec<String> = Vec::new();
    for d in at(&residency, "datasets")
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        for c in at(&d, "accessed_from")
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            if ["JP", "TW"].contains(&c.as_str()) && !foreign.contains(&c) {
                foreign.push(c);
            }
        }
    }
    std::fs::write(&path, governance_file(&sup, &accounts, customers, &foreign))?;
    // Mtime granularity: make sure the server sees the rewrite.
    std::thread::sleep(Duration::from_millis(20));
    let mut ids = Vec::new();
    for a in &accounts {
        let u = ok(
            scim.post(
                "/scim/v2/Users",
                scim_supplier_user(a, &sup.id, sup.country)
                    .to_string()
                    .as_bytes(),
            )?,
            "SCIM create",
        )?;
        ids.push(s(&u, "/id").to_owned());
    }
    println!(
        "      {} — {} ({}), {} staff in the simulation; governance file {} lists {} accounts \
         (SCIM, role scim): {}",
        sup.id,
        sup.name,
        sup.country,
        staff.len(),
        path.display(),
        accounts.len(),
        accounts.join(", ")
    );
    println!(
        "      contract: access ≤ 30 days, datasets customers/orders, categories name/phone/email/order_history; \
         questionnaire: \"yes\" to all {} questions (the paper certificate)",
        govern::QUESTIONS.len()
    );

    let t = Instant::now();
    let a1 = assess(&admin, &sup.id)?;
    println!(
        "      assessed from live evidence (POST /v1/suppliers/{}/assess, role admin): score {} → tier {} — {}",
        sup.id,
        n(&a1, "/snapshot/score"),
        s(&a1, "/snapshot/tier"),
        deductions_line(&a1)
    );

    // The over-privileged staff account: a 60-day grant to addresses and
    // entrance codes, approved by a second admin.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let g = ok(
        admin.post(
            "/v1/grants",
            json!({
                "holder": { "principal": scraper },
                "dataset": "customers",
                "categories": ["name", "phone", "address", "entrance_code"],
                "purpose": "customer_support",
                "max_subjects_per_day": 5000,
                "valid_from": now.saturating_sub(60),
                "valid_until": now + 60 * 86_400,
                "ticket": "CS-2025-0107"
            })
            .to_string()
            .as_bytes(),
        )?,
        "grant",
    )?;
    let gid = s(&g, "/id").to_owned();
    ok(
        approver.post(&format!("/v1/grants/{gid}/approve"), b"")?,
        "approve",
    )?;
    let a2 = assess(&admin, &sup.id)?;
    let opened = at(&a2, "findings_opened")
        .as_array()
        .cloned()
        .unwrap_or_default();
    println!(
        "      {scraper} is given grant {gid}: customers name/phone/address/entrance_code for 60 days \
         (contract: 30 days, no addresses) — caught:"
    );
    println!(
        "      score {} → {}, tier {} → {} — {}",
        n(&a2, "/previous/score"),
        n(&a2, "/snapshot/score"),
        s(&a2, "/previous/tier"),
        s(&a2, "/snapshot/tier"),
        deductions_line(&a2)
    );
    let detail = ok(
        auditor.get(&format!("/v1/suppliers/{}", sup.id))?,
        "supplier",
    )?;
    for d in at(&detail, "deductions")
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let code = s(&d, "/code");
        if code.starts_with("grant_") || code == "stale_account" || code == "alerts_on_principals" {
            println!("        −{:<2} {}", n(&d, "/points"), s(&d, "/reason"));
        }
    }
    println!(
        "      {} remediation finding(s) opened for vendor-risk, money at risk {} (records reachable × USD 173, IBM 2024):",
        opened.len(),
        s(&detail, "/money_at_risk/usd")
    );
    for f in opened.iter().take(4) {
        println!(
            "        {} {:<8} due {}  {}",
            s(f, "/id"),
            s(f, "/severity"),
            s(f, "/due").get(..10).unwrap_or(""),
            s(f, "/title")
        );
    }

    // The stale account removed: the identity provider deactivates it.
    let former_id = ids.last().cloned().unwrap_or_default();
    ok(
        scim.post_patch(
            &format!("/scim/v2/Users/{former_id}"),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{ "op": "replace", "value": { "active": false } }]
            })
            .to_string()
            .as_bytes(),
        )?,
        "SCIM deactivate",
    )?;
    let a3 = assess(&admin, &sup.id)?;
    println!(
        "      stale account {former} (active, no access on record) deactivated by SCIM: score {} → {} (tier {}); \
         history {}",
        n(&a3, "/previous/score"),
        n(&a3, "/snapshot/score"),
        s(&a3, "/snapshot/tier"),
        [&a1, &a2, &a3]
            .iter()
            .map(|a| n(a, "/snapshot/score").to_string())
            .collect::<Vec<_>>()
            .join(" → ")
    );
    // Its finding closed, with the evidence of the fix.
    let stale_ref = format!("{}:stale_account", sup.id);
    let findings = ok(admin.get("/v1/findings?status=open")?, "findings")?;
    if let Some(f) = at(&findings, "findings")
        .as_array()
        .and_then(|a| a.iter().find(|f| s(f, "/reference") == stale_ref))
    {
        let id = s(f, "/id").to_owned();
        ok(
            admin.post(
                &format!("/v1/findings/{id}"),
                json!({"status": "resolved", "note": format!("{former} deactivated by SCIM")})
                    .to_string()
                    .as_bytes(),
            )?,
            "resolve",
        )?;
        println!(
            "      finding {id} (stale account) resolved with that evidence (POST /v1/findings/{id})"
        );
    }
    println!(
        "      ({} ms for three assessments; each snapshot and finding is a ledger entry, log_name custos.govern)",
        t.elapsed().as_millis()
    );

    // Residency of the company's datasets, from the forensic index.
    let r = ok(auditor.get("/v1/residency")?, "residency")?;
    println!(
        "      residency report (GET /v1/residency, role auditor), last 30 days: {} violation(s)",
        n(&r, "/violations")
    );
    for d in at(&r, "datasets").as_array().cloned().unwrap_or_default() {
        let from: Vec<String> = at(&d, "accessed_from")
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, c)| format!("{k} {}", crate::ui::rate(c.as_f64().unwrap_or(0.0))))
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "        {:<9} stored KR (ap-northeast-2) + SG backup; read from {}",
            s(&d, "/dataset"),
            from.join(", ")
        );
        let mut shown = 0;
        for v in at(&d, "violations").as_array().cloned().unwrap_or_default() {
            if shown < 2 {
                println!("          ✗ {}", s(&v, "/message"));
            }
            shown += 1;
        }
        if shown > 2 {
            println!("          … and {} more", shown - 2);
        }
    }
    // The server's timer raises each violation as an alert.
    let started = Instant::now();
    let mut raised = 0;
    while started.elapsed() < Duration::from_secs(8) {
        let a = ok(
            auditor.get("/v1/alerts?detector=govern.residency&limit=1000")?,
            "alerts",
        )?;
        raised = n(&a, "/count");
        if raised > 0 && raised >= n(&r, "/violations").min(1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    println!(
        "      residency violations raised as alerts by the server: {raised} (detector govern.residency.*)"
    );

    let w = ok(auditor.get("/v1/findings/report")?, "report")?;
    let count = |k: &str| at(&w, k).as_array().map_or(0, Vec::len);
    println!(
        "      weekly remediation report: opened {}, closed {}, overdue {}, open {} with {} at risk",
        count("opened"),
        count("closed"),
        count("overdue"),
        n(&w, "/open"),
        s(&w, "/open_money_usd")
    );
    let o = ok(
        auditor.get(&format!("/v1/suppliers/{}/oscal", sup.id))?,
        "oscal",
    )?;
    let out = dir.join(format!("{}.oscal.json", sup.id));
    std::fs::write(&out, serde_json::to_vec_pretty(&o)?)?;
    let result = o.pointer("/assessment-results/results/0");
    println!(
        "      OSCAL {} assessment results → {} ({} observations, {} risks, {} findings; CSA CCM v4 controls)",
        s(&o, "/assessment-results/metadata/oscal-version"),
        out.display(),
        result
            .and_then(|r| at(r, "observations").as_array())
            .map_or(0, Vec::len),
        result
            .and_then(|r| at(r, "risks").as_array())
            .map_or(0, Vec::len),
        result
            .and_then(|r| at(r, "findings").as_array())
            .map_or(0, Vec::len)
    );
    println!(
        "      (`custos supplier show {}`, `custos residency report`, `custos findings list`; docs/govern.md)",
        sup.id
    );
    let (s1, s2, s3) = (
        n(&a1, "/snapshot/score"),
        n(&a2, "/snapshot/score"),
        n(&a3, "/snapshot/score"),
    );
    if s2 >= s1 || s3 <= s2 {
        bail!("the score did not move with the evidence: {s1} → {s2} → {s3}");
    }
    Ok(())
}
