//! Governance over HTTP (`crates/govern` is the core; design in
//! `docs/govern.md`): suppliers assessed from live evidence, data
//! residency, remediation findings with escalation.
//!
//! | route | role | what |
//! |---|---|---|
//! | `GET /v1/suppliers` | admin, analyst, auditor | every supplier with its live score and tier, and its last snapshot |
//! | `GET /v1/suppliers/{id}` | admin, analyst, auditor | the live assessment now: score, tier, deductions with reasons, metrics, evidence, money at risk, score history |
//! | `GET /v1/suppliers/{id}/oscal` | admin, analyst, auditor | the live assessment as NIST OSCAL 1.2.1 assessment results |
//! | `POST /v1/suppliers/{id}/assess` | admin | record a snapshot and open findings for its deductions (`{"owner"?}`) |
//! | `GET /v1/residency[?from=&to=]` | admin, analyst, auditor | where each dataset is stored and from which countries it was read, against PIPA / GDPR / APPI |
//! | `GET /v1/findings[?status=&supplier=]` | admin, analyst, auditor | findings with their escalation and money at risk now |
//! | `POST /v1/findings` | admin, analyst | add a finding by hand |
//! | `GET /v1/findings/report[?from=]` | admin, analyst, auditor | the weekly report (default: the 7 days ending now) |
//! | `GET /v1/findings/{id}` | admin, analyst, auditor | one finding |
//! | `POST /v1/findings/{id}` | admin, analyst | update it (`{"status"?,"note"?,"owner"?,"due"?}`) |
//!
//! **Live evidence** comes from the server's own state: the grant engine
//! (grants held by a supplier account directly or through its directory
//! groups), the directory (accounts' status), the forensic index (each
//! account's last access, its events and distinct subjects; per dataset,
//! events by source country for residency) and the alert store (alerts
//! whose entity is a supplier account, and when they were acknowledged).
//!
//! Every change — an assessment recorded, a finding created, updated or
//! escalated — is a ledger entry (`metadata.log_name` `custos.govern`)
//! before it is stored and answered. A timer task announces escalations
//! (owner → manager → executive, under the server's clock) as ledger
//! entries and alerts (`govern.escalation.*`), and raises residency
//! violations of the last 7 days as alerts (`govern.residency.*`).
//!
//! The governance file (TOML, or JSON by extension) is `govern_config`, or
//! `DATA/govern.toml` when it exists; it is re-read when it changes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use detect::AlertStore as _;
use forensics::Dim;
use govern::{
    AccessFact, AlertFact, Assessment, DatasetAccess, Evidence, Finding, GovernFile, GrantFact,
    Level, PrincipalFact, Supplier,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::alerts::TriagePolicy;
use crate::app::AppState;
use crate::auth::Authorized;
use crate::error::ApiError;
use crate::grants::json_response;
use crate::record::{Activity, Actor, ControlEntry, append_durable, now_ms};
use crate::tokens::{AdminPolicy, ReadPolicy, actor_of, read_whole};

/// `metadata.log_name` of governance entries.
pub(crate) const GOVERN_LOG_NAME: &str = "custos.govern";
/// Owner of findings opened by an assessment when the request names none.
pub(crate) const DEFAULT_OWNER: &str = "vendor-risk";
/// Residency violations in this window before now become alerts.
const RESIDENCY_ALERT_WINDOW_S: i64 = 7 * govern::DAY;

/// A loaded governance file and the (mtime, length) it was read at.
struct Loaded {
    stamp: (SystemTime, u64),
    file: Arc<GovernFile>,
}

/// The governance file, the findings and assessment store, and a lock
/// serialising changes.
pub(crate) struct GovernState {
    path: PathBuf,
    /// The path was configured (a missing file is then an error, not an
    /// empty governance file).
    configured: bool,
    cache: Mutex<Option<Loaded>>,
    pub(crate) store: Arc<store::SqliteGovernStore>,
    lock: tokio::sync::Mutex<()>,
}

fn parse_file(path: &Path, bytes: &[u8]) -> Result<GovernFile, String> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let parsed = if is_json {
        govern::parse_json(bytes)
    } else {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())?;
        govern::parse_toml(text)
    };
    parsed.map_err(|e| e.to_string())
}

impl GovernState {
    /// Opens the store; loads and checks the governance file when one is
    /// configured (a server does not start on a broken one).
    pub(crate) fn open(
        configured: Option<&Path>,
        data: &Path,
        db: &store::Database,
    ) -> Result<GovernState, crate::run::ServerError> {
        let state = GovernState {
            path: configured.map_or_else(|| data.join("govern.toml"), Path::to_path_buf),
            configured: configured.is_some(),
            cache: Mutex::new(None),
            store: Arc::new(store::SqliteGovernStore::new(db)?),
            lock: tokio::sync::Mutex::new(()),
        };
        if state.configured || state.path.is_file() {
            state.file().map_err(crate::run::ServerError::Govern)?;
        }
        Ok(state)
    }

    /// The governance file now (re-read when its mtime or length changed;
    /// an empty one when none is configured and `DATA/govern.toml` does
    /// not exist).
    pub(crate) fn file(&self) -> Result<Arc<GovernFile>, String> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.configured => {
                return Ok(Arc::new(GovernFile::default()));
            }
            Err(e) => return Err(format!("{}: {e}", self.path.display())),
        };
        let stamp = (
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            meta.len(),
        );
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(l) = cache.as_ref()
            && l.stamp == stamp
        {
            return Ok(Arc::clone(&l.file));
        }
        if meta.len() > govern::MAX_FILE_BYTES as u64 {
            return Err(format!(
                "{}: larger than {} bytes",
                self.path.display(),
                govern::MAX_FILE_BYTES
            ));
        }
        let bytes =
            std::fs::read(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))?;
        let file = Arc::new(
            parse_file(&self.path, &bytes).map_err(|e| format!("{}: {e}", self.path.display()))?,
        );
        *cache = Some(Loaded {
            stamp,
            file: Arc::clone(&file),
        });
        Ok(file)
    }
}

fn gov(state: &AppState) -> &GovernState {
    &state.inner().govern
}

/// The routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/suppliers", get(list_suppliers))
        .route("/v1/suppliers/{id}", get(one_supplier))
        .route("/v1/suppliers/{id}/oscal", get(oscal))
        .route("/v1/suppliers/{id}/assess", post(assess))
        .route("/v1/residency", get(residency))
        .route("/v1/findings", get(list_findings).post(add_finding))
        .route("/v1/findings/report", get(report))
        .route("/v1/findings/{id}", get(one_finding).post(update_finding))
}

/// The route label of a `/v1/suppliers…`, `/v1/residency` or
/// `/v1/findings…` path.
pub(crate) fn route_of(path: &str) -> &'static str {
    match path {
        "/v1/suppliers" => "/v1/suppliers",
        "/v1/residency" => "/v1/residency",
        "/v1/findings" => "/v1/findings",
        "/v1/findings/report" => "/v1/findings/report",
        p if p.starts_with("/v1/suppliers/") && p.ends_with("/oscal") => "/v1/suppliers/{id}/oscal",
        p if p.starts_with("/v1/suppliers/") && p.ends_with("/assess") => {
            "/v1/suppliers/{id}/assess"
        }
        p if p.starts_with("/v1/suppliers/") => "/v1/suppliers/{id}",
        p if p.starts_with("/v1/findings/") => "/v1/findings/{id}",
        _ => "other",
    }
}

fn now_s(state: &AppState) -> i64 {
    now_ms(state).div_euclid(1000)
}

fn file_of(state: &AppState) -> Result<Arc<GovernFile>, ApiError> {
    gov(state).file().map_err(|e| {
        tracing::error!(error = %e, "governance file unusable");
        ApiError::unavailable(&format!("governance file: {e}"))
    })
}

fn store_failed(e: &store::GovernStoreError) -> ApiError {
    tracing::error!(error = %e, "governance store failed");
    ApiError::unavailable("the governance store is unavailable; retry later")
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::internal())?
}

// ------------------------------------------------------------------ evidence

/// Per principal, from the forensic index: (events, distinct subjects,
/// first ms, last ms) over all its day cells.
fn index_usage(
    index: &mut forensics::index::Index,
    principals: &[&str],
) -> BTreeMap<String, (u64, u64, i64, i64)> {
    if index.needs_flush() {
        index.flush();
    }
    let mut out = BTreeMap::new();
    for p in principals {
        let Some(e) = index.entity(Dim::Principal, p) else {
            continue;
        };
        let subjects = distinct_subjects(index, e);
        let (mut events, mut first, mut last) = (0u64, i64::MAX, i64::MIN);
        for (_, cell) in index.cells_of(Dim::Principal, e) {
            events = events.saturating_add(cell.events);
            first = first.min(cell.first_ms);
            last = last.max(cell.last_ms);
        }
        if events > 0 {
            out.insert((*p).to_owned(), (events, subjects, first, last));
        }
    }
    out
}

/// Distinct subjects over every cell of a principal (exact).
fn distinct_subjects(index: &forensics::index::Index, e: u32) -> u64 {
    index.distinct_subjects(Dim::Principal, e)
}

/// The live evidence about `s` at `now_ms`: its accounts' grants (direct or
/// through their groups), directory status, last access and usage (from
/// the forensic index), and the alerts on them.
fn evidence_of(state: &AppState, s: &Supplier, now_ms: i64) -> Result<Evidence, ApiError> {
    let directory = &state.inner().tokens.directory;
    let accounts: Vec<&str> = s.accounts.iter().map(|a| a.principal.as_str()).collect();
    let usage = {
        let local = Arc::clone(&crate::cases::cases(state).local);
        let mut l = crate::cases::lock_local(&local);
        index_usage(&mut l.index, &accounts)
    };
    let mut ev = Evidence::default();
    let all_grants = crate::grants::all_grants(state);
    for acct in &s.accounts {
        let p = directory.principal(&acct.principal);
        let groups: Vec<String> = p.as_ref().map(|p| p.groups.clone()).unwrap_or_default();
        for g in &all_grants {
            let holds = match &g.holder {
                access::Holder::Principal(id) => id.eq_ignore_ascii_case(&acct.principal),
                access::Holder::Group(name) => groups.iter().any(|x| x == name),
            };
            if !holds || g.approved_by.is_none() {
                continue;
            }
            ev.grants.push(GrantFact {
                id: g.id.clone(),
                principal: acct.principal.clone(),
                dataset: g.dataset.clone(),
                categories: g.categories.iter().cloned().collect(),
                created: g.valid_from,
                expires: g.valid_until,
                revoked: g.revoked.as_ref().map(|r| r.at),
            });
        }
        let used = usage.get(&acct.principal);
        if let Some(p) = &p {
            ev.principals.push(PrincipalFact {
                id: acct.principal.clone(),
                active: p.status == access::PrincipalStatus::Active,
                // The directory keeps no creation time: an account without
                // an access on record counts as unused.
                created: None,
                last_access: used.map(|u| u.3.div_euclid(1000)),
                offboarded: None,
                revoked: None,
            });
        }
        if let Some(&(events, subjects, first, last)) = used {
            ev.accesses.push(AccessFact {
                principal: acct.principal.clone(),
                subprocessor: None,
                accesses: events,
                subjects,
                first: first.div_euclid(1000),
                last: last.div_euclid(1000),
            });
        }
    }
    let ours: BTreeSet<String> = accounts.iter().map(|a| a.to_lowercase()).collect();
    let alerts = state
        .inner()
        .alerts
        .store
        .alerts()
        .map_err(|_| ApiError::unavailable("the alert store is unavailable; retry later"))?;
    for a in alerts {
        if a.status == detect::AlertStatus::Suppressed
            || a.finding.entity.kind != detect::EntityKind::Principal
            || !ours.contains(&a.finding.entity.id.to_lowercase())
            || a.opened_ms > now_ms
        {
            continue;
        }
        ev.alerts.push(AlertFact {
            id: a.id.clone(),
            principal: a.finding.entity.id.clone(),
            severity: a.finding.severity.as_str().to_owned(),
            title: a.finding.title.clone(),
            raised: a.opened_ms.div_euclid(1000),
            acknowledged: a
                .acknowledged
                .as_ref()
                .or(a.closed.as_ref())
                .map(|t| t.at_ms.div_euclid(1000)),
        });
    }
    Ok(ev)
}

/// Brings the forensic index up to the ledger's checkpoint (so an
/// assessment sees every access acknowledged so far).
async fn catch_up_index(state: &AppState) -> Result<(), ApiError> {
    let Some(ledger) = state.ledger() else {
        return Err(ApiError::unavailable("the server is shutting down"));
    };
    let size = ledger.checkpoint().size();
    drop(ledger);
    let local = Arc::clone(&crate::cases::cases(state).local);
    blocking(move || {
        let mut l = crate::cases::lock_local(&local);
        l.catch_up(size, &mut |_, _| {})
            .map(|_| ())
            .map_err(|e| ApiError::unavailable(&format!("forensic index: {e}")))
    })
    .await
}

/// Records reachable through live grants (money at risk of the supplier).
fn reachable_records(file: &GovernFile, a: &Assessment) -> u64 {
    a.metrics
        .reachable_datasets
        .iter()
        .filter_map(|d| file.dataset(d))
        .map(|d| d.records)
        .fold(0u64, u64::saturating_add)
}

/// The live assessment of supplier `id` with its evidence.
async fn live(
    state: &AppState,
    id: &str,
) -> Result<(Arc<GovernFile>, Supplier, Assessment, Evidence), ApiError> {
    let file = file_of(state)?;
    let s = file.supplier(id).cloned().ok_or_else(ApiError::not_found)?;
    catch_up_index(state).await?;
    let st = state.clone();
    let s2 = s.clone();
    let now = now_ms(state);
    let ev = blocking(move || evidence_of(&st, &s2, now)).await?;
    let a = govern::assess(&s, &ev, now.div_euclid(1000));
    Ok((file, s, a, ev))
}

fn snapshot_json(r: &store::AssessmentRow) -> Value {
    json!({
        "seq": r.seq,
        "at": govern::format_rfc3339(r.at_s),
        "score": r.score,
        "tier": r.tier,
        "ledger_index": r.ledger_index,
    })
}

fn history(
    state: &AppState,
    id: &str,
    limit: usize,
) -> Result<Vec<store::AssessmentRow>, ApiError> {
    gov(state)
        .store
        .assessments(id, limit)
        .map_err(|e| store_failed(&e))
}

fn assessment_json(file: &GovernFile, a: &Assessment) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    let records = reachable_records(file, a);
    let cents = govern::exposure_cents(records, file.money.per_record_usd_cents);
    if let Some(o) = v.as_object_mut() {
        o.insert("at".into(), Value::from(govern::format_rfc3339(a.at)));
        o.insert(
            "money_at_risk".into(),
            json!({
                "records_reachable": records,
                "per_record_usd_cents": file.money.per_record_usd_cents,
                "usd_cents": u64::try_from(cents).unwrap_or(u64::MAX),
                "usd": govern::format_usd(cents),
                "source": govern::DEFAULT_COST_SOURCE,
            }),
        );
        o.insert(
            "grants_within_max_validity_share".into(),
            Value::from(a.metrics.validity_share()),
        );
    }
    v
}

/// `GET /v1/suppliers`.
async fn list_suppliers(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
) -> Result<Response, ApiError> {
    auth?;
    let file = file_of(&state)?;
    catch_up_index(&state).await?;
    let mut items = Vec::new();
    for s in &file.suppliers {
        let st = state.clone();
        let s2 = s.clone();
        let now = now_ms(&state);
        let ev = blocking(move || evidence_of(&st, &s2, now)).await?;
        let a = govern::assess(s, &ev, now.div_euclid(1000));
        let last = history(&state, &s.id, 1)?;
        items.push(json!({
            "id": s.id,
            "name": s.name,
            "country": s.country,
            "services": s.services,
            "accounts": s.accounts.len(),
            "score": a.score,
            "tier": a.tier,
            "deductions": a.deductions.len(),
            "money_at_risk_usd": govern::format_usd(govern::exposure_cents(
                reachable_records(&file, &a), file.money.per_record_usd_cents)),
            "last_snapshot": last.last().map(snapshot_json),
        }));
    }
    Ok(json_response(
        StatusCode::OK,
        json!({ "now": govern::format_rfc3339(now_s(&state)), "suppliers": items }),
    ))
}

/// `GET /v1/suppliers/{id}`.
async fn one_supplier(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    auth?;
    let (file, s, a, ev) = live(&state, &id).await?;
    let mut v = assessment_json(&file, &a);
    let hist: Vec<Value> = history(&state, &id, 100)?
        .iter()
        .map(snapshot_json)
        .collect();
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "supplier_profile".into(),
            serde_json::to_value(&s).unwrap_or(Value::Null),
        );
        o.insert(
            "evidence".into(),
            serde_json::to_value(&ev).unwrap_or(Value::Null),
        );
        o.insert("history".into(), Value::from(hist));
    }
    Ok(json_response(StatusCode::OK, v))
}

/// `GET /v1/suppliers/{id}/oscal`.
async fn oscal(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    auth?;
    let (_, s, a, _) = live(&state, &id).await?;
    Ok(json_response(
        StatusCode::OK,
        govern::oscal::assessment_results(&a, &s, now_s(&state)),
    ))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssessBody {
    /// Owner of the findings opened (default `vendor-risk`).
    owner: Option<String>,
}

fn parse_body<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de)
        .map_err(|e| ApiError::bad_request(format!("$.{}: {}", e.path(), e.inner())))
}

fn row_of(f: &Finding, escalated: Level) -> Result<store::FindingRow, ApiError> {
    Ok(store::FindingRow {
        id: f.id.clone(),
        status: f.status.as_str().to_owned(),
        supplier: f.supplier.clone(),
        owner: f.owner.clone(),
        severity: f.severity.as_str().to_owned(),
        created_s: f.created,
        due_s: f.due,
        escalated: escalated.as_str().to_owned(),
        body: serde_json::to_string(f).map_err(|_| ApiError::internal())?,
    })
}

fn level_of(s: &str) -> Level {
    match s {
        "owner" => Level::Owner,
        "manager" => Level::Manager,
        "executive" => Level::Executive,
        _ => Level::None,
    }
}

fn finding_entry(
    f: &Finding,
    op: &'static str,
    activity: Activity,
    actor: &Actor,
    t: i64,
) -> ControlEntry {
    let mut e = ControlEntry::new(GOVERN_LOG_NAME, op, activity, actor.clone(), t)
        .resource("remediation_finding", f.id.clone())
        .with("status", f.status.as_str())
        .with("severity", f.severity.as_str())
        .with("owner", f.owner.clone())
        .with("due", govern::format_rfc3339(f.due))
        .with("title", f.title.clone());
    if let Some(s) = &f.supplier {
        e = e.with("supplier", s.clone());
    }
    if let Some(r) = &f.reference {
        e = e.with("reference", r.clone());
    }
    e.uid = format!("{op}-{}-{t}", f.id);
    e
}

async fn record(state: &AppState, entries: Vec<ControlEntry>) -> Result<u64, ApiError> {
    let bytes: Vec<Vec<u8>> = entries.iter().map(ControlEntry::encode).collect();
    let i = append_durable(state, &bytes).await.map_err(|e| {
        tracing::error!(error = %e, "governance change not recorded");
        ApiError::unavailable("the change could not be recorded in the ledger; retry later")
    })?;
    state.metrics().control_logged(bytes.len() as u64);
    Ok(i)
}

fn load_findings(state: &AppState) -> Result<Vec<(Finding, Level)>, ApiError> {
    let rows = gov(state).store.findings().map_err(|e| store_failed(&e))?;
    Ok(rows
        .iter()
        .filter_map(|r| match serde_json::from_str::<Finding>(&r.body) {
            Ok(f) => Some((f, level_of(&r.escalated))),
            Err(e) => {
                tracing::error!(error = %e, finding = %r.id, "stored finding unreadable");
                None
            }
        })
        .collect())
}

/// `POST /v1/suppliers/{id}/assess`: records a snapshot of the live
/// assessment and opens a finding for each deduction of 10 points or more
/// that has no open finding yet.
async fn assess(
    State(state): State<AppState>,
    auth: Result<Authorized<AdminPolicy>, ApiError>,
    UrlPath(id): UrlPath<String>,
    bytes: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let actor = actor_of(&state, &cred);
        let b: AssessBody = parse_body(&bytes)?;
        let owner = b.owner.unwrap_or_else(|| DEFAULT_OWNER.to_owned());
        if owner.is_empty() || owner.len() > 128 || owner.chars().any(char::is_control) {
            return Err(ApiError::bad_request("$.owner: 1 to 128 characters"));
        }
        let _guard = gov(&state).lock.lock().await;
        let (file, _, a, _) = live(&state, &id).await?;
        let previous = history(&state, &id, 1)?.pop();
        let now = now_ms(&state);
        let records = reachable_records(&file, &a);
        let deductions: Vec<Value> = a
            .deductions
            .iter()
            .map(|d| json!({"code": d.code, "points": d.points, "reason": d.reason}))
            .collect();
        let entry = ControlEntry::new(
            GOVERN_LOG_NAME,
            "custos.govern.assess",
            Activity::Create,
            actor.clone(),
            now,
        )
        .resource("supplier", id.clone())
        .with("score", a.score)
        .with("tier", a.tier.as_str())
        .with("deductions", Value::from(deductions.clone()))
        .with("records_reachable", records);
        let index = record(&state, vec![entry]).await?;
        let summary = json!({
            "score": a.score, "tier": a.tier, "deductions": deductions,
            "lost_by_dimension": a.lost_by_dimension, "records_reachable": records,
        });
        let row = store::AssessmentRow {
            seq: 0,
            supplier: id.clone(),
            at_s: a.at,
            score: a.score,
            tier: a.tier.as_str().to_owned(),
            ledger_index: Some(index),
            body: summary.to_string(),
        };
        let st = Arc::clone(&gov(&state).store);
        let snap =
            blocking(move || st.record_assessment(&row).map_err(|e| store_failed(&e))).await?;
        // Findings: one per deduction >= 10 points not already open.
        let open_refs: BTreeSet<String> = load_findings(&state)?
            .into_iter()
            .filter(|(f, _)| f.status.is_open())
            .filter_map(|(f, _)| f.reference)
            .collect();
        let prefix = crate::cases::new_id("gf");
        let fresh: Vec<Finding> =
            govern::findings_from_assessment(&a, &prefix, &owner, records, a.at)
                .into_iter()
                .filter(|f| f.reference.as_ref().is_none_or(|r| !open_refs.contains(r)))
                .collect();
        if !fresh.is_empty() {
            let entries = fresh
                .iter()
                .map(|f| {
                    finding_entry(
                        f,
                        "custos.govern.finding.create",
                        Activity::Create,
                        &actor,
                        now,
                    )
                })
                .collect();
            record(&state, entries).await?;
            let rows = fresh
                .iter()
                .map(|f| row_of(f, Level::None))
                .collect::<Result<Vec<_>, _>>()?;
            let st = Arc::clone(&gov(&state).store);
            blocking(move || {
                for r in &rows {
                    st.put_finding(r).map_err(|e| store_failed(&e))?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(json_response(
            StatusCode::CREATED,
            json!({
                "supplier": id,
                "snapshot": snapshot_json(&snap),
                "previous": previous.as_ref().map(snapshot_json),
                "deductions": deductions,
                "findings_opened": fresh.iter().map(|f| json!({
                    "id": f.id, "title": f.title, "severity": f.severity,
                    "due": govern::format_rfc3339(f.due), "reference": f.reference,
                })).collect::<Vec<_>>(),
            }),
        ))
    }
    .await;
    read_whole(r)
}

// ----------------------------------------------------------------- residency

/// Per dataset of `file`, events by source country in `[from_ms, to_ms)`
/// (day cells of the forensic index that overlap the window).
fn dataset_accesses(
    state: &AppState,
    file: &GovernFile,
    from_ms: i64,
    to_ms: i64,
) -> Vec<DatasetAccess> {
    let wanted: BTreeSet<&str> = file.datasets.iter().map(|d| d.id.as_str()).collect();
    let mut by: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let first_day = forensics::day_of(from_ms);
    let last_day = forensics::day_of(to_ms.saturating_sub(1));
    let local = Arc::clone(&crate::cases::cases(state).local);
    let l = crate::cases::lock_local(&local);
    let index = &l.index;
    let variants = index.variants();
    for country in index.values(Dim::Country) {
        let Some(e) = index.entity(Dim::Country, country) else {
            continue;
        };
        for (cref, cell) in index.cells_of(Dim::Country, e) {
            let day = i64::from(cref.day);
            if day < first_day || day > last_day || cell.last_ms < from_ms || cell.first_ms >= to_ms
            {
                continue;
            }
            let Some(v) = variants.get(cref.variant as usize) else {
                continue;
            };
            if !wanted.contains(v.dataset.as_str()) {
                continue;
            }
            *by.entry(v.dataset.clone())
                .or_default()
                .entry(country.clone())
                .or_insert(0) += cell.events;
        }
    }
    by.into_iter()
        .map(|(dataset, by_country)| DatasetAccess {
            dataset,
            by_country,
        })
        .collect()
}

#[derive(Deserialize)]
struct WindowQuery {
    from: Option<String>,
    to: Option<String>,
}

fn time_param(field: &str, v: Option<&str>, default: i64) -> Result<i64, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => govern::parse_rfc3339(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "{field}: an RFC 3339 time such as 2025-11-08T00:00:00Z"
            ))
        }),
    }
}

/// `GET /v1/residency`.
async fn residency(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
    q: Result<Query<WindowQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    auth?;
    let q = crate::tokens::query(q)?;
    let now = now_s(&state);
    let to = time_param("to", q.to.as_deref(), now.saturating_add(1))?;
    let from = time_param(
        "from",
        q.from.as_deref(),
        to.saturating_sub(30 * govern::DAY),
    )?;
    if from >= to {
        return Err(ApiError::bad_request("from: must be before to"));
    }
    let file = file_of(&state)?;
    catch_up_index(&state).await?;
    let st = state.clone();
    let f2 = Arc::clone(&file);
    let accesses = blocking(move || {
        Ok(dataset_accesses(
            &st,
            &f2,
            from.saturating_mul(1000),
            to.saturating_mul(1000),
        ))
    })
    .await?;
    let report = govern::residency_report(&file, &accesses, from, to);
    let mut v = serde_json::to_value(&report).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("from".into(), Value::from(govern::format_rfc3339(from)));
        o.insert("to".into(), Value::from(govern::format_rfc3339(to)));
        o.insert(
            "violations".into(),
            Value::from(report.violations().count()),
        );
    }
    Ok(json_response(StatusCode::OK, v))
}

// ------------------------------------------------------------------ findings

fn finding_json(f: &Finding, announced: Level, file: &GovernFile, now: i64) -> Value {
    let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
    let e = govern::escalation(f, &file.org, now);
    let cents = govern::exposure_cents(f.records_exposed, file.money.per_record_usd_cents);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "escalation".into(),
            json!({
                "level": e.level,
                "since": govern::format_rfc3339(e.since),
                "notify": e.notify,
                "overdue_secs": e.overdue_secs,
                "announced": announced,
            }),
        );
        o.insert(
            "money_at_risk".into(),
            json!({
                "usd_cents": u64::try_from(cents).unwrap_or(u64::MAX),
                "usd": govern::format_usd(cents),
            }),
        );
    }
    v
}

#[derive(Deserialize)]
struct FindingQuery {
    status: Option<String>,
    supplier: Option<String>,
}

/// `GET /v1/findings`.
async fn list_findings(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
    q: Result<Query<FindingQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    auth?;
    let q = crate::tokens::query(q)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            govern::Status::from_name(s).ok_or_else(|| {
                ApiError::bad_request("status: one of open, in_progress, risk_accepted, resolved")
            })
        })
        .transpose()?;
    let file = file_of(&state)?;
    let now = now_s(&state);
    let items: Vec<Value> = load_findings(&state)?
        .iter()
        .filter(|(f, _)| status.is_none_or(|s| f.status == s))
        .filter(|(f, _)| {
            q.supplier
                .as_deref()
                .is_none_or(|s| f.supplier.as_deref() == Some(s))
        })
        .map(|(f, l)| finding_json(f, *l, &file, now))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "count": items.len(), "findings": items, "now": govern::format_rfc3339(now) }),
    ))
}

/// `GET /v1/findings/{id}`.
async fn one_finding(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    auth?;
    let file = file_of(&state)?;
    let (f, l) = load_one(&state, &id)?;
    Ok(json_response(
        StatusCode::OK,
        finding_json(&f, l, &file, now_s(&state)),
    ))
}

fn load_one(state: &AppState, id: &str) -> Result<(Finding, Level), ApiError> {
    let row = gov(state)
        .store
        .finding(id)
        .map_err(|e| store_failed(&e))?
        .ok_or_else(ApiError::not_found)?;
    let f = serde_json::from_str::<Finding>(&row.body).map_err(|e| {
        tracing::error!(error = %e, finding = id, "stored finding unreadable");
        ApiError::internal()
    })?;
    Ok((f, level_of(&row.escalated)))
}

/// `POST /v1/findings`.
async fn add_finding(
    State(state): State<AppState>,
    auth: Result<Authorized<TriagePolicy>, ApiError>,
    bytes: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let actor = actor_of(&state, &cred);
        let now = now_ms(&state);
        let f =
            govern::parse_new_finding(&bytes, &crate::cases::new_id("gf"), now.div_euclid(1000))
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let file = file_of(&state)?;
        if let Some(s) = &f.supplier
            && file.supplier(s).is_none()
        {
            return Err(ApiError::bad_request(format!(
                "$.supplier: no supplier {s} in the governance file"
            )));
        }
        let _guard = gov(&state).lock.lock().await;
        record(
            &state,
            vec![finding_entry(
                &f,
                "custos.govern.finding.create",
                Activity::Create,
                &actor,
                now,
            )],
        )
        .await?;
        let row = row_of(&f, Level::None)?;
        let st = Arc::clone(&gov(&state).store);
        blocking(move || st.put_finding(&row).map_err(|e| store_failed(&e))).await?;
        Ok(json_response(
            StatusCode::CREATED,
            finding_json(&f, Level::None, &file, now.div_euclid(1000)),
        ))
    }
    .await;
    read_whole(r)
}

/// `POST /v1/findings/{id}`: a status change (with its note), a new owner
/// or due date. A new due date or a reopening re-arms escalation.
async fn update_finding(
    State(state): State<AppState>,
    auth: Result<Authorized<TriagePolicy>, ApiError>,
    UrlPath(id): UrlPath<String>,
    bytes: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let actor = actor_of(&state, &cred);
        let u = govern::parse_update(&bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let file = file_of(&state)?;
        let _guard = gov(&state).lock.lock().await;
        let (mut f, announced) = load_one(&state, &id)?;
        let before = f.clone();
        let now = now_ms(&state);
        govern::apply_update(
            &mut f,
            &u,
            &crate::grants::person(&actor),
            now.div_euclid(1000),
        )
        .map_err(|e| ApiError::conflict("finding_state", e.to_string()))?;
        let rearm = f.due != before.due || (!before.status.is_open() && f.status.is_open());
        let level = if rearm { Level::None } else { announced };
        let mut entry = finding_entry(
            &f,
            "custos.govern.finding.update",
            Activity::Update,
            &actor,
            now,
        )
        .with("from_status", before.status.as_str());
        if !u.note.is_empty() {
            entry = entry.with("note", u.note.clone());
        }
        record(&state, vec![entry]).await?;
        let row = row_of(&f, level)?;
        let st = Arc::clone(&gov(&state).store);
        blocking(move || st.put_finding(&row).map_err(|e| store_failed(&e))).await?;
        Ok(json_response(
            StatusCode::OK,
            finding_json(&f, level, &file, now.div_euclid(1000)),
        ))
    }
    .await;
    read_whole(r)
}

#[derive(Deserialize)]
struct ReportQuery {
    from: Option<String>,
}

/// `GET /v1/findings/report`: the weekly report of `[from, from + 7 d)`
/// (default: the 7 days ending now).
async fn report(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
    q: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    auth?;
    let q = crate::tokens::query(q)?;
    let now = now_s(&state);
    let from = time_param(
        "from",
        q.from.as_deref(),
        now.saturating_add(1).saturating_sub(7 * govern::DAY),
    )?;
    let file = file_of(&state)?;
    let findings: Vec<Finding> = load_findings(&state)?.into_iter().map(|(f, _)| f).collect();
    let r = govern::weekly_report(&findings, &file.org, file.money.per_record_usd_cents, from);
    let mut v = serde_json::to_value(&r).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("from".into(), Value::from(govern::format_rfc3339(r.from)));
        o.insert("to".into(), Value::from(govern::format_rfc3339(r.to)));
        o.insert(
            "open_money_cents".into(),
            Value::from(u64::try_from(r.open_money_cents).unwrap_or(u64::MAX)),
        );
        o.insert(
            "open_money_usd".into(),
            Value::from(govern::format_usd(r.open_money_cents)),
        );
    }
    Ok(json_response(StatusCode::OK, v))
}

// --------------------------------------------------------------------- timer

#[expect(
    clippy::too_many_arguments,
    reason = "one argument per member of the finding that differs between escalations and violations"
)]
pub(crate) fn alert_finding(
    uid: String,
    detector: String,
    title: String,
    severity: detect::Severity,
    entity: detect::Entity,
    index: u64,
    now: i64,
    details: serde_json::Map<String, Value>,
) -> detect::Finding {
    detect::Finding {
        uid,
        detector,
        title,
        severity,
        entity,
        window_s: 0,
        first_seen_ms: now,
        last_seen_ms: now,
        time_ms: now,
        raised_at_index: index,
        analytic_type: 1,
        evidence: detect::Evidence {
            indices: vec![index],
            events: 1,
            subjects: 0,
            estimated: false,
            baselines: Vec::new(),
            details,
        },
    }
}

/// Announces every escalation reached since the last announcement: a
/// ledger entry, an alert, then the level stored. Returns how many fired.
pub(crate) async fn escalate_due(state: &AppState) -> Result<usize, ApiError> {
    let file = file_of(state)?;
    let _guard = gov(state).lock.lock().await;
    let now = now_ms(state);
    let now_s = now.div_euclid(1000);
    let mut fired = 0;
    for (f, announced) in load_findings(state)? {
        let e = govern::escalation(&f, &file.org, now_s);
        if e.level <= announced {
            continue;
        }
        let entry = finding_entry(
            &f,
            "custos.govern.finding.escalate",
            Activity::Update,
            &Actor::system(),
            now,
        )
        .with("level", e.level.as_str())
        .with("notify", Value::from(e.notify.clone()))
        .with("overdue_secs", e.overdue_secs);
        let index = record(state, vec![entry]).await?;
        let severity = match e.level {
            Level::Executive => detect::Severity::Critical,
            Level::Manager => detect::Severity::High,
            _ => detect::Severity::Medium,
        };
        let mut details = serde_json::Map::new();
        details.insert("finding".into(), Value::from(f.id.clone()));
        details.insert("level".into(), Value::from(e.level.as_str()));
        details.insert("notify".into(), Value::from(e.notify.clone()));
        details.insert("due".into(), Value::from(govern::format_rfc3339(f.due)));
        let alert = alert_finding(
            format!("govern.escalation:{}:{}", f.id, e.level.as_str()),
            format!("govern.escalation.{}", f.id),
            format!(
                "Remediation finding {} overdue {} d: escalated to the {} ({})",
                f.id,
                e.overdue_secs / govern::DAY,
                e.level.as_str(),
                e.notify.join(", ")
            ),
            severity,
            detect::Entity {
                kind: detect::EntityKind::Principal,
                id: f.owner.clone(),
            },
            index,
            now,
            details,
        );
        match crate::alerts::raise(state, vec![alert]).await {
            Ok(n) => state.metrics().alerts_raised(n),
            Err(err) => tracing::error!(error = %err, "escalation alert not raised"),
        }
        let row = row_of(&f, e.level)?;
        let st = Arc::clone(&gov(state).store);
        blocking(move || st.put_finding(&row).map_err(|e| store_failed(&e))).await?;
        tracing::warn!(target: "custos::govern", finding = %f.id, level = e.level.as_str(), "remediation finding escalated");
        fired += 1;
    }
    Ok(fired)
}

/// Raises an alert for each residency violation of the last 7 days (one
/// per violation a day; a live alert absorbs repeats).
pub(crate) async fn raise_residency(state: &AppState) -> Result<u64, ApiError> {
    let file = file_of(state)?;
    if file.datasets.is_empty() {
        return Ok(0);
    }
    let now = now_ms(state);
    let to = now.div_euclid(1000).saturating_add(1);
    let from = to.saturating_sub(RESIDENCY_ALERT_WINDOW_S);
    let st = state.clone();
    let f2 = Arc::clone(&file);
    let accesses = blocking(move || {
        Ok(dataset_accesses(
            &st,
            &f2,
            from.saturating_mul(1000),
            to.saturating_mul(1000),
        ))
    })
    .await?;
    let report = govern::residency_report(&file, &accesses, from, to);
    let day = forensics::day_of(now);
    let index = state.ledger().map_or(0, |l| l.checkpoint().size());
    let findings: Vec<detect::Finding> = report
        .violations()
        .map(|v| {
            let mut details = serde_json::Map::new();
            details.insert("dataset".into(), Value::from(v.dataset.clone()));
            details.insert("kind".into(), Value::from(v.kind));
            details.insert("jurisdiction".into(), Value::from(v.jurisdiction.clone()));
            details.insert("country".into(), Value::from(v.country.clone()));
            details.insert("accesses".into(), Value::from(v.accesses));
            details.insert("records".into(), Value::from(v.records));
            details.insert("citation".into(), Value::from(v.citation));
            alert_finding(
                format!(
                    "govern.residency:{}:{}:{}:{}:{day}",
                    v.dataset, v.kind, v.jurisdiction, v.country
                ),
                format!("govern.residency.{}.{}", v.dataset, v.jurisdiction),
                v.message.clone(),
                detect::Severity::High,
                detect::Entity {
                    kind: detect::EntityKind::Country,
                    id: v.country.clone(),
                },
                index.saturating_sub(1),
                now,
                details,
            )
        })
        .collect();
    if findings.is_empty() {
        return Ok(0);
    }
    let n = crate::alerts::raise(state, findings)
        .await
        .map_err(|e| ApiError::unavailable(&e))?;
    state.metrics().alerts_raised(n);
    Ok(n)
}

/// Runs until `stop`: every second, announces escalations due under the
/// server's clock; every 5 s, raises residency violations as alerts.
pub(crate) async fn govern_loop(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(1000));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut n: u64 = 0;
    let mut last_error: Option<String> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if state.shutting_down() {
            return;
        }
        let mut err = escalate_due(&state)
            .await
            .err()
            .map(|e| e.message().to_owned());
        if n.is_multiple_of(5)
            && let Err(e) = raise_residency(&state).await
        {
            err = Some(e.message().to_owned());
        }
        n = n.wrapping_add(1);
        if err.is_some() && err != last_error {
            tracing::error!(error = err.as_deref(), "governance task failed; will retry");
        }
        last_error = err;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_labelled() {
        assert_eq!(route_of("/v1/suppliers"), "/v1/suppliers");
        assert_eq!(route_of("/v1/suppliers/x"), "/v1/suppliers/{id}");
        assert_eq!(
            route_of("/v1/suppliers/x/oscal"),
            "/v1/suppliers/{id}/oscal"
        );
        assert_eq!(
            route_of("/v1/suppliers/x/assess"),
            "/v1/suppliers/{id}/assess"
        );
        assert_eq!(route_of("/v1/findings/report"), "/v1/findings/report");
        assert_eq!(route_of("/v1/findings/gf-1"), "/v1/findings/{id}");
        assert_eq!(route_of("/v1/residency"), "/v1/residency");
    }

    #[test]
    fn levels_round_trip() {
        for l in [Level::None, Level::Owner, Level::Manager, Level::Executive] {
            assert_eq!(level_of(l.as_str()), l);
        }
        assert_eq!(level_of("bogus"), Level::None);
    }
}
