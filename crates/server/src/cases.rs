//! Breach scope, incidents, legal holds and retention over HTTP
//! (`docs/forensics.md`, `docs/incidents.md`):
//!
//! | route | role | what |
//! |---|---|---|
//! | `POST /v1/scope` | admin, analyst, auditor | exact scope (`export_subjects` needs admin) |
//! | `GET /v1/incidents` | admin, analyst, auditor | incidents, newest first |
//! | `POST /v1/incidents` | admin, analyst | open one, by hand or from alerts |
//! | `GET /v1/incidents/{id}` | admin, analyst, auditor | one incident with its deadlines now |
//! | `POST /v1/incidents/{id}/scope` | admin, analyst | compute and record its scope |
//! | `POST /v1/incidents/{id}/status` | admin, analyst | move it (`contained`, `notified`, `closed`) |
//! | `POST /v1/incidents/{id}/awareness` | admin | correct the moment of awareness, with a reason |
//! | `POST /v1/incidents/{id}/materiality` | admin | record the materiality determination (SEC 8-K) |
//! | `POST /v1/incidents/{id}/notifications` | admin, analyst | record a notification sent |
//! | `GET /v1/incidents/{id}/notices` | admin, analyst, auditor | draft notices |
//! | `GET /v1/holds` | admin, analyst, auditor | legal holds |
//! | `POST /v1/holds` | admin | place a hold |
//! | `POST /v1/holds/{id}/lift` | admin | lift it, with a reason |
//! | `POST /v1/retention/prune` | admin | prune derived data; refused over a hold, never the ledger |
//!
//! Every change is recorded in the ledger (`custos.incident.*`,
//! `custos.hold.*`, `custos.retention.*`, `custos.scope.export`) before it
//! is answered; a refused prune is recorded too and raises a critical
//! alert.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use forensics::scope::{ScopeQuery, parse_time};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::app::AppState;
use crate::auth::Authorized;
use crate::error::ApiError;
use crate::grants::json_response;
use crate::record::{ACCESS_LOG_NAME, Activity, ControlEntry, append_durable, now_ms};
use crate::tokens::{ReadPolicy, actor_of, read_whole};

/// Most entries the index reads in one step of its task.
const CHUNK: u64 = 200_000;
/// Save the snapshot at most this often while entries flow.
const SAVE_EVERY: Duration = Duration::from_secs(60);

/// The forensic index of the data directory and the incident store.
pub(crate) struct CaseState {
    pub(crate) local: Arc<Mutex<forensics::Local>>,
    /// The disclosure rules in force.
    pub(crate) rules: incident::Rules,
    pub(crate) store: Arc<store::SqliteCaseStore>,
    /// Serialises incident and hold changes.
    pub(crate) lock: tokio::sync::Mutex<()>,
}

impl CaseState {
    pub(crate) fn open(
        data: &std::path::Path,
        db: &store::Database,
    ) -> Result<CaseState, crate::run::ServerError> {
        let local = forensics::Local::open(data)
            .map_err(|e| crate::run::ServerError::Forensics(e.to_string()))?;
        if let Some(why) = &local.rebuilt_reason {
            tracing::warn!(reason = %why, "forensic index rebuilt from the ledger");
        }
        Ok(CaseState {
            local: Arc::new(Mutex::new(local)),
            rules: load_rules(None)?,
            store: Arc::new(store::SqliteCaseStore::new(db)?),
            lock: tokio::sync::Mutex::new(()),
        })
    }
}

pub(crate) fn cases(state: &AppState) -> &CaseState {
    &state.inner().cases
}

pub(crate) fn lock_local(
    m: &Mutex<forensics::Local>,
) -> std::sync::MutexGuard<'_, forensics::Local> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/scope", post(scope))
        .route("/v1/incidents", get(list_incidents).post(open_incident))
        .route("/v1/incidents/{id}", get(one_incident))
        .route("/v1/incidents/{id}/notices", get(notices))
        .route("/v1/incidents/{id}/{action}", post(change_incident))
        .route("/v1/holds", get(list_holds).post(place_hold))
        .route("/v1/holds/{id}/lift", post(lift_hold))
        .route("/v1/retention/prune", post(prune))
}

/// The route label of an incident, hold or retention path.
pub(crate) fn route_of(path: &str) -> &'static str {
    match path {
        "/v1/incidents" => "/v1/incidents",
        "/v1/holds" => "/v1/holds",
        "/v1/retention/prune" => "/v1/retention/prune",
        p if p.starts_with("/v1/holds/") => "/v1/holds/{id}/lift",
        p if p.ends_with("/notices") => "/v1/incidents/{id}/notices",
        p if p.matches('/').count() >= 4 => "/v1/incidents/{id}/{action}",
        _ => "/v1/incidents/{id}",
    }
}

/// Brings the index to `size` (at most `limit` entries) and returns how many
/// were read.
fn advance(local: &Mutex<forensics::Local>, size: u64, limit: u64) -> Result<u64, String> {
    let mut l = lock_local(local);
    let to = size.min(l.index.next_index().saturating_add(limit));
    l.catch_up_to(to, size, &mut |_, _| {})
        .map_err(|e| e.to_string())
}

/// Runs until `stop`: tails the ledger into the forensic index and saves the
/// snapshot every minute while it advances, and at the end.
pub(crate) async fn index_loop(state: AppState, mut stop: watch::Receiver<bool>) {
    let local = Arc::clone(&cases(&state).local);
    let mut tick = tokio::time::interval(Duration::from_millis(1000));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_save = Instant::now();
    let mut unsaved = false;
    loop {
        let stopping = *stop.borrow();
        if !stopping {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        }
        let Some(ledger) = state.ledger() else { break };
        let size = ledger.checkpoint().size();
        drop(ledger);
        let l = Arc::clone(&local);
        let save = unsaved && (stopping || last_save.elapsed() >= SAVE_EVERY);
        let r = tokio::task::spawn_blocking(move || -> Result<(u64, bool), String> {
            let n = if stopping {
                0
            } else {
                advance(&l, size, CHUNK)?
            };
            let mut saved = false;
            if save || (n == 0 && stopping) {
                let mut g = lock_local(&l);
                g.refresh_registry().map_err(|e| e.to_string())?;
                g.save().map_err(|e| e.to_string())?;
                saved = true;
            }
            Ok((n, saved))
        })
        .await;
        match r {
            Ok(Ok((n, saved))) => {
                if n > 0 {
                    unsaved = true;
                }
                if saved {
                    unsaved = false;
                    last_save = Instant::now();
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "forensic index could not advance; retrying"),
            Err(_) => return,
        }
        if stopping {
            break;
        }
    }
}

/// A scope request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeBody {
    principal: Option<String>,
    kid: Option<String>,
    issuer: Option<String>,
    src_country: Option<String>,
    src_net: Option<String>,
    dataset: Option<String>,
    from: String,
    to: String,
    #[serde(default)]
    export_subjects: bool,
    #[serde(default)]
    prove: usize,
}

/// Most proofs returned inline (more: `custos evidence export`).
const MAX_INLINE_PROOFS: usize = 1000;

fn parse_scope_body(body: &[u8]) -> Result<(ScopeQuery, bool, usize), ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let b: ScopeBody = serde_path_to_error::deserialize(de)
        .map_err(|e| ApiError::bad_request(format!("{}: {}", e.path(), e.inner())))?;
    let bad = |e: forensics::ScopeError| ApiError::bad_request(e.to_string());
    let q = ScopeQuery {
        principal: b.principal,
        kid: b.kid,
        issuer: b.issuer,
        src_country: b.src_country,
        src_net: b.src_net,
        dataset: b.dataset,
        from_ms: parse_time("from", &b.from).map_err(bad)?,
        to_ms: parse_time("to", &b.to).map_err(bad)?,
    };
    if b.prove > MAX_INLINE_PROOFS {
        return Err(ApiError::bad_request(format!(
            "prove: at most {MAX_INLINE_PROOFS} inline; use `custos evidence export` for more"
        )));
    }
    Ok((q, b.export_subjects, b.prove))
}

/// The scope of `q` as of the ledger's current checkpoint, with the subject
/// pseudonyms (if `export`) and up to `prove` tlog-proofs.
pub(crate) async fn compute_scope(
    state: &AppState,
    q: ScopeQuery,
    export: bool,
    prove: usize,
    keep_checkpoint: bool,
) -> Result<(forensics::ScopeAnswer, Value), ApiError> {
    let ledger = state
        .ledger()
        .ok_or_else(|| ApiError::unavailable("the server is shutting down"))?;
    let checkpoint = ledger.checkpoint();
    drop(ledger);
    let local = Arc::clone(&cases(state).local);
    tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let mut l = lock_local(&local);
        l.refresh_registry()
            .map_err(|e| ApiError::unavailable(&format!("subject registry: {e}")))?;
        l.catch_up(checkpoint.size(), &mut |_, _| {})
            .map_err(|e| ApiError::unavailable(&format!("forensic index: {e}")))?;
        let t = Instant::now();
        let r = l.scope(&q, &checkpoint).map_err(|e| match e {
            forensics::LocalError::Scope(forensics::ScopeError::Invalid { .. }) => {
                ApiError::bad_request(e.to_string())
            }
            other => ApiError::unavailable(&other.to_string()),
        })?;
        let mut extra = serde_json::Map::new();
        extra.insert("elapsed_ms".into(), json!(t.elapsed().as_secs_f64() * 1e3));
        if keep_checkpoint {
            // An incident's scope cites this checkpoint: keep the signed note
            // verbatim so evidence bundles cite what was seen at the time.
            let dir = l.dir().join("forensics").join("checkpoints");
            let path = dir.join(format!("{}.note", checkpoint.size()));
            if let Err(e) = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(&path, checkpoint.note_bytes()))
            {
                tracing::warn!(error = %e, path = %path.display(), "checkpoint note not kept");
            }
        }
        if export {
            let subjects: Vec<String> = r
                .subjects
                .iter()
                .filter_map(|id| l.index.dict().pseudonym(id))
                .collect();
            extra.insert("subject_pseudonyms".into(), json!(subjects));
        }
        if prove > 0 {
            let indices = l
                .matching_entries(&q, checkpoint.size(), prove)
                .map_err(|e| ApiError::unavailable(&e.to_string()))?;
            let mut reader = ledger::LogReader::open(l.dir())
                .map_err(|e| ApiError::unavailable(&e.to_string()))?;
            let mut proofs = Vec::new();
            for i in indices {
                let hashes = reader
                    .inclusion_proof(i, checkpoint.size())
                    .map_err(|e| ApiError::unavailable(&e.to_string()))?;
                let entry = reader
                    .entry(i, checkpoint.size())
                    .map_err(|e| ApiError::unavailable(&e.to_string()))?;
                let p = tlog::TlogProof {
                    extra: None,
                    index: i,
                    hashes,
                    checkpoint: checkpoint.note_bytes().to_vec(),
                };
                proofs.push(json!({
                    "index": i,
                    "entry": String::from_utf8_lossy(&entry),
                    "tlog_proof": String::from_utf8_lossy(&p.to_bytes()),
                }));
            }
            extra.insert("proofs".into(), json!(proofs));
        }
        Ok((r.answer, Value::Object(extra)))
    })
    .await
    .map_err(|_| ApiError::internal())?
}

/// `POST /v1/scope`.
async fn scope(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
    body: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let (q, export, prove) = parse_scope_body(&body)?;
        if export && cred.role() != crate::credentials::Role::Admin {
            return Err(ApiError::forbidden(
                "export_subjects needs a credential with role admin",
            ));
        }
        let (answer, extra) = compute_scope(&state, q.clone(), export, prove, false).await?;
        if export {
            // A subject list is personal data leaving Custos: on the record.
            let actor = actor_of(&state, &cred);
            let t = now_ms(&state);
            let entry = ControlEntry::new(
                ACCESS_LOG_NAME,
                "custos.scope.export",
                Activity::Read,
                actor,
                t,
            )
            .with("query", serde_json::to_value(&q).unwrap_or(Value::Null))
            .with("subjects", answer.subjects)
            .with("checkpoint_size", answer.checkpoint.size);
            append_durable(&state, &[entry.encode()])
                .await
                .map_err(|_| ApiError::unavailable("the ledger is unavailable; retry later"))?;
        }
        let mut v = serde_json::to_value(&answer).map_err(|_| ApiError::internal())?;
        if let (Some(o), Some(x)) = (v.as_object_mut(), extra.as_object()) {
            for (k, val) in x {
                o.insert(k.clone(), val.clone());
            }
        }
        Ok(json_response(StatusCode::OK, v))
    }
    .await;
    read_whole(r)
}

// ---------------------------------------------------------------- incidents

/// Log name of incident, hold and retention entries.
const CASE_LOG_NAME: &str = "custos.incident";

/// Who may open and move incidents: admin and analyst (auditors read).
use crate::alerts::TriagePolicy;
use crate::tokens::AdminPolicy;

fn store_failed(e: &store::CaseStoreError) -> ApiError {
    tracing::error!(error = %e, "case store failed");
    ApiError::unavailable("the incident store is unavailable; retry later")
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        bytes
    };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de)
        .map_err(|e| ApiError::bad_request(format!("{}: {}", e.path(), e.inner())))
}

fn time_field(field: &'static str, s: Option<&str>, default: i64) -> Result<i64, ApiError> {
    match s {
        None => Ok(default),
        Some(s) => parse_time(field, s).map_err(|e| ApiError::bad_request(e.to_string())),
    }
}

/// A new random id: `{prefix}-` and 12 hex digits.
pub(crate) fn new_id(prefix: &str) -> String {
    let mut b = [0u8; 6];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    format!("{prefix}-{}", crate::grants::hex_lower(&b))
}

/// The disclosure rules in force: the file named by the configuration
/// (`disclosure_rules`), else the shipped `rules/disclosure/jurisdictions.toml`.
pub(crate) fn load_rules(
    path: Option<&std::path::Path>,
) -> Result<incident::Rules, crate::run::ServerError> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p).map_err(|e| {
            crate::run::ServerError::Forensics(format!("disclosure rules {}: {e}", p.display()))
        })?,
        None => incident::SHIPPED_RULES.to_owned(),
    };
    incident::parse_rules(&text)
        .map_err(|e| crate::run::ServerError::Forensics(format!("disclosure rules: {e}")))
}

/// The summary of a scope answer, as the deadline rules read it.
pub(crate) fn summary_of(a: &forensics::ScopeAnswer) -> incident::ScopeSummary {
    let list = |v: &Option<String>| -> Vec<String> {
        v.as_deref()
            .map(|s| {
                s.split(',')
                    .map(|x| x.trim().to_owned())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    incident::ScopeSummary {
        subjects: a.subjects,
        by_category: a.by_category.clone(),
        by_country: a.by_country.clone(),
        by_region: std::collections::BTreeMap::new(),
        events: a.events,
        first_access_ms: a.first_access.as_deref().and_then(events::parse_rfc3339),
        last_access_ms: a.last_access.as_deref().and_then(events::parse_rfc3339),
        selectors: incident::Selectors {
            principal: list(&a.query.principal),
            kid: list(&a.query.kid),
            src_country: list(&a.query.src_country),
            src_net: list(&a.query.src_net),
            dataset: list(&a.query.dataset),
        },
        window: incident::TimeWindow {
            from_ms: a.query.from_ms,
            to_ms: a.query.to_ms,
        },
    }
}

fn query_of(s: &incident::ScopeSummary, issuer: Option<String>) -> ScopeQuery {
    let join = |v: &[String]| (!v.is_empty()).then(|| v.join(","));
    ScopeQuery {
        principal: join(&s.selectors.principal),
        kid: join(&s.selectors.kid),
        issuer,
        src_country: join(&s.selectors.src_country),
        src_net: join(&s.selectors.src_net),
        dataset: s.selectors.dataset.first().cloned(),
        from_ms: s.window.from_ms,
        to_ms: s.window.to_ms,
    }
}

fn load_incident(state: &AppState, id: &str) -> Result<incident::Incident, ApiError> {
    let doc = cases(state)
        .store
        .incident(id)
        .map_err(|e| store_failed(&e))?
        .ok_or_else(ApiError::not_found)?;
    incident::Incident::from_json(doc.body.as_bytes()).map_err(|e| {
        tracing::error!(error = %e, incident = id, "stored incident unreadable");
        ApiError::internal()
    })
}

/// Records the timeline items `seqs` of `inc` in the ledger (one entry
/// each), fills their ledger indices, then stores the incident.
async fn commit_incident(
    state: &AppState,
    inc: &mut incident::Incident,
    seqs: &[u64],
    operation: &'static str,
    actor: &crate::record::Actor,
) -> Result<(), ApiError> {
    let t = now_ms(state);
    let mut entries = Vec::new();
    for seq in seqs {
        let Some(item) = inc.timeline.iter().find(|i| i.seq == *seq) else {
            continue;
        };
        let e = ControlEntry::new(CASE_LOG_NAME, operation, Activity::Update, actor.clone(), t)
            .resource("incident", inc.id.clone())
            .with("seq", *seq)
            .with(
                "kind",
                serde_json::to_value(item.kind).unwrap_or(Value::Null),
            )
            .with("text", item.text.clone())
            .with("status", inc.status.as_str());
        let mut e = e;
        e.uid = format!("{}#{seq}", inc.id);
        entries.push(e.encode());
    }
    if !entries.is_empty() {
        let first = append_durable(state, &entries)
            .await
            .map_err(|_| ApiError::unavailable("the ledger is unavailable; retry later"))?;
        state.metrics().control_logged(entries.len() as u64);
        for (i, seq) in seqs.iter().enumerate() {
            let _ = inc.set_ledger_index(*seq, first + i as u64);
        }
    }
    let store = Arc::clone(&cases(state).store);
    let (id, status, opened, body) = (
        inc.id.clone(),
        inc.status.as_str(),
        inc.opened_at_ms,
        inc.to_json(),
    );
    tokio::task::spawn_blocking(move || store.put_incident(&id, status, opened, t, &body))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| store_failed(&e))
}

/// An incident with its obligations now.
fn incident_json(state: &AppState, inc: &incident::Incident) -> Value {
    let now = now_ms(state);
    let rules = &cases(state).rules;
    let mut v = serde_json::from_str::<Value>(&inc.to_json()).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut()
        && inc.scope.is_some()
    {
        let a = incident::assess(rules, &inc.case(&[]), now);
        o.insert(
            "deadlines".into(),
            serde_json::to_value(&a).unwrap_or(Value::Null),
        );
    }
    v
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    title: String,
    #[serde(default)]
    severity: Option<incident::Severity>,
    #[serde(default)]
    alert_ids: Vec<String>,
    #[serde(default)]
    note: Option<String>,
    /// When the organisation became aware (default: the earliest alert's
    /// opening, else now).
    #[serde(default)]
    aware_at: Option<String>,
    #[serde(default)]
    scope: Option<ScopeBodyLite>,
}

/// The selectors and window of an incident's scope.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeBodyLite {
    principal: Option<String>,
    kid: Option<String>,
    issuer: Option<String>,
    src_country: Option<String>,
    src_net: Option<String>,
    dataset: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

impl ScopeBodyLite {
    fn query(self, now: i64) -> Result<ScopeQuery, ApiError> {
        Ok(ScopeQuery {
            principal: self.principal,
            kid: self.kid,
            issuer: self.issuer,
            src_country: self.src_country,
            src_net: self.src_net,
            dataset: self.dataset,
            from_ms: time_field("scope.from", self.from.as_deref(), 0)?,
            to_ms: time_field("scope.to", self.to.as_deref(), now + 1)?,
        })
    }
}

/// The scope selectors an alert's entity implies.
fn scope_of_alert(a: &detect::Alert) -> ScopeBodyLite {
    let id = Some(a.finding.entity.id.clone());
    let mut s = ScopeBodyLite::default();
    match a.finding.entity.kind {
        detect::EntityKind::Principal => s.principal = id,
        detect::EntityKind::Kid => s.kid = id,
        detect::EntityKind::Issuer => s.issuer = id,
        detect::EntityKind::Network => s.src_net = id,
        detect::EntityKind::Country => s.src_country = id,
        detect::EntityKind::Dataset => s.dataset = id,
    }
    s
}

/// `POST /v1/incidents`.
async fn open_incident(
    State(state): State<AppState>,
    auth: Result<Authorized<TriagePolicy>, ApiError>,
    bytes: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let actor = actor_of(&state, &cred);
        let b: OpenBody = body(&bytes)?;
        let now = now_ms(&state);
        let mut alerts = Vec::new();
        for id in &b.alert_ids {
            let st = Arc::clone(&state.inner().alerts.store);
            let id2 = id.clone();
            let a =
                tokio::task::spawn_blocking(move || detect::AlertStore::alert(st.as_ref(), &id2))
                    .await
                    .map_err(|_| ApiError::internal())?
                    .map_err(|_| {
                        ApiError::unavailable("the alert store is unavailable; retry later")
                    })?
                    .ok_or_else(|| ApiError::bad_request(format!("alert_ids: no alert {id}")))?;
            alerts.push(a);
        }
        let earliest = alerts.iter().map(|a| a.opened_ms).min();
        let aware = time_field("aware_at", b.aware_at.as_deref(), earliest.unwrap_or(now))?;
        let severity =
            b.severity
                .unwrap_or_else(|| match alerts.iter().map(|a| a.finding.severity).max() {
                    Some(detect::Severity::Critical) => incident::Severity::Critical,
                    Some(detect::Severity::High) => incident::Severity::High,
                    Some(detect::Severity::Medium) => incident::Severity::Medium,
                    _ => incident::Severity::Low,
                });
        let source = if b.alert_ids.is_empty() {
            incident::Source::Manual {
                note: b.note.clone().unwrap_or_else(|| "opened by hand".into()),
            }
        } else {
            incident::Source::Alerts {
                alert_ids: b.alert_ids.clone(),
            }
        };
        let who = crate::grants::person(&actor);
        let mut inc = incident::Incident::open(
            incident::NewIncident {
                id: new_id("inc"),
                title: b.title.clone(),
                severity,
                source,
                opened_by: who.clone(),
                awareness_at_ms: aware,
                awareness_by: who.clone(),
            },
            now,
        )
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let mut seqs: Vec<u64> = inc.timeline.iter().map(|i| i.seq).collect();
        let scope = b.scope.or_else(|| alerts.first().map(scope_of_alert));
        if let Some(sc) = scope {
            let q = sc.query(now)?;
            let (answer, _) = compute_scope(&state, q, false, 0, true).await?;
            let seq = inc
                .record_scope(
                    incident::ScopeSnapshot {
                        checkpoint_size: answer.checkpoint.size,
                        summary: summary_of(&answer),
                        taken_at_ms: now,
                        taken_by: who.clone(),
                    },
                    now,
                )
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            seqs.push(seq);
        }
        let _guard = cases(&state).lock.lock().await;
        commit_incident(&state, &mut inc, &seqs, "custos.incident.open", &actor).await?;
        Ok(json_response(
            StatusCode::CREATED,
            incident_json(&state, &inc),
        ))
    }
    .await;
    read_whole(r)
}

/// `GET /v1/incidents`.
async fn list_incidents(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
) -> Result<Response, ApiError> {
    auth?;
    let store = Arc::clone(&cases(&state).store);
    let docs = tokio::task::spawn_blocking(move || store.incidents())
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| store_failed(&e))?;
    let items: Vec<Value> = docs
        .iter()
        .filter_map(|d| incident::Incident::from_json(d.body.as_bytes()).ok())
        .map(|i| incident_json(&state, &i))
        .collect();
    Ok(json_response(StatusCode::OK, json!({ "incidents": items })))
}

/// `GET /v1/incidents/{id}`.
async fn one_incident(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth?;
    let inc = load_incident(&state, &id)?;
    Ok(json_response(StatusCode::OK, incident_json(&state, &inc)))
}

/// `GET /v1/incidents/{id}/notices`: draft notices for every obligation.
async fn notices(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth?;
    let inc = load_incident(&state, &id)?;
    let a = incident::assess(&cases(&state).rules, &inc.case(&[]), now_ms(&state));
    let notices = incident::draft_notices(&inc, &a);
    Ok(json_response(
        StatusCode::OK,
        json!({ "incident": inc.id, "notices": notices }),
    ))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    /// `status`: the new status.
    to: Option<incident::IncidentStatus>,
    /// `awareness`, `materiality`, `notifications`: when.
    at: Option<String>,
    /// `awareness`, `materiality` corrections: why.
    reason: Option<String>,
    /// `notifications`: the obligation's rule id and the party.
    rule_id: Option<String>,
    party: Option<String>,
    reference: Option<String>,
    /// `facts`: a fact the rules read (`gdpr_high_risk`, `wrongful_purpose`, …).
    fact: Option<String>,
    /// `notes`: text.
    text: Option<String>,
    /// `scope`: new selectors and window (default: the last scope's).
    #[serde(flatten)]
    scope: Option<ScopeBodyLiteFlat>,
}

/// The scope members of [`ChangeBody`] (flattened).
#[derive(Default, Deserialize)]
struct ScopeBodyLiteFlat {
    principal: Option<String>,
    kid: Option<String>,
    issuer: Option<String>,
    src_country: Option<String>,
    src_net: Option<String>,
    dataset: Option<String>,
    from: Option<String>,
    #[serde(rename = "until")]
    to: Option<String>,
}

fn need<T>(v: Option<T>, field: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| ApiError::bad_request(format!("{field}: required")))
}

/// `POST /v1/incidents/{id}/{action}`: `status`, `awareness`,
/// `materiality`, `notifications`, `facts`, `notes`, `scope`.
async fn change_incident(
    State(state): State<AppState>,
    auth: Result<Authorized<TriagePolicy>, ApiError>,
    Path((id, action)): Path<(String, String)>,
    bytes: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let actor = actor_of(&state, &cred);
        let who = crate::grants::person(&actor);
        let admin = cred.role() == crate::credentials::Role::Admin;
        let b: ChangeBody = body(&bytes)?;
        let now = now_ms(&state);
        let _guard = cases(&state).lock.lock().await;
        let mut inc = load_incident(&state, &id)?;
        let bad = |e: incident::IncidentError| ApiError::bad_request(e.to_string());
        let (seq, op) = match action.as_str() {
            "status" => (
                inc.transition(need(b.to, "to")?, &who, now).map_err(bad)?,
                "custos.incident.status",
            ),
            "awareness" | "materiality" if !admin => {
                return Err(ApiError::forbidden(
                    "correcting awareness or materiality needs role admin",
                ));
            }
            "awareness" => {
                let at = time_field("at", Some(&need(b.at, "at")?), now)?;
                (
                    inc.correct_awareness(at, &need(b.reason, "reason")?, &who, now)
                        .map_err(bad)?,
                    "custos.incident.awareness",
                )
            }
            "materiality" => {
                let at = time_field("at", b.at.as_deref(), now)?;
                let seq = match (&inc.materiality, b.reason) {
                    (Some(_), Some(reason)) => inc
                        .correct_materiality(at, &reason, &who, now)
                        .map_err(bad)?,
                    _ => inc.determine_materiality(at, &who, now).map_err(bad)?,
                };
                (seq, "custos.incident.materiality")
            }
            "notifications" => {
                let sent = time_field("at", b.at.as_deref(), now)?;
                (
                    inc.record_notification(
                        incident::Notification {
                            rule_id: need(b.rule_id, "rule_id")?,
                            party: need(b.party, "party")?,
                            sent_at_ms: sent,
                            sent_by: who.clone(),
                            reference: b.reference,
                        },
                        now,
                    )
                    .map_err(bad)?,
                    "custos.incident.notification",
                )
            }
            "facts" => match inc
                .record_fact(&need(b.fact, "fact")?, &who, now)
                .map_err(bad)?
            {
                Some(seq) => (seq, "custos.incident.fact"),
                None => return Ok(json_response(StatusCode::OK, incident_json(&state, &inc))),
            },
            "notes" => (
                inc.note(&need(b.text, "text")?, &who, now).map_err(bad)?,
                "custos.incident.note",
            ),
            "scope" => {
                let f = b.scope.unwrap_or_default();
                let mut q = match &inc.scope {
                    Some(s) => query_of(&s.summary, None),
                    None => ScopeQuery {
                        from_ms: 0,
                        to_ms: now + 1,
                        ..ScopeQuery::default()
                    },
                };
                if f.principal.is_some()
                    || f.kid.is_some()
                    || f.issuer.is_some()
                    || f.src_country.is_some()
                    || f.src_net.is_some()
                    || f.dataset.is_some()
                {
                    q = ScopeQuery {
                        principal: f.principal,
                        kid: f.kid,
                        issuer: f.issuer,
                        src_country: f.src_country,
                        src_net: f.src_net,
                        dataset: f.dataset,
                        ..q
                    };
                }
                q.from_ms = time_field("from", f.from.as_deref(), q.from_ms)?;
                q.to_ms = time_field("until", f.to.as_deref(), now + 1)?;
                let (answer, _) = compute_scope(&state, q, false, 0, true).await?;
                (
                    inc.record_scope(
                        incident::ScopeSnapshot {
                            checkpoint_size: answer.checkpoint.size,
                            summary: summary_of(&answer),
                            taken_at_ms: now,
                            taken_by: who.clone(),
                        },
                        now,
                    )
                    .map_err(bad)?,
                    "custos.incident.scope",
                )
            }
            _ => return Err(ApiError::not_found()),
        };
        commit_incident(&state, &mut inc, &[seq], op, &actor).await?;
        Ok(json_response(StatusCode::OK, incident_json(&state, &inc)))
    }
    .await;
    read_whole(r)
}

// -------------------------------------------------------------------- holds

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldBody {
    reason: String,
    #[serde(default)]
    case_ref: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    datasets: Vec<String>,
}

fn holds_now(state: &AppState) -> Result<Vec<incident::Hold>, ApiError> {
    let docs = cases(state).store.holds().map_err(|e| store_failed(&e))?;
    docs.iter()
        .map(|d| {
            serde_json::from_str::<incident::Hold>(&d.body).map_err(|e| {
                tracing::error!(error = %e, hold = %d.id, "stored hold unreadable");
                ApiError::internal()
            })
        })
        .collect()
}

fn hold_json(h: &incident::Hold, now: i64) -> Value {
    let mut v = serde_json::to_value(h).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("active".into(), Value::Bool(h.is_active(now)));
    }
    v
}

async fn record_case_entry(state: &AppState, e: ControlEntry) -> Result<u64, ApiError> {
    let i = append_durable(state, &[e.encode()])
        .await
        .map_err(|_| ApiError::unavailable("the ledger is unavailable; retry later"))?;
    state.metrics().control_logged(1);
    Ok(i)
}

/// `GET /v1/holds`.
async fn list_holds(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
) -> Result<Response, ApiError> {
    auth?;
    let now = now_ms(&state);
    let holds = holds_now(&state)?;
    let items: Vec<Value> = holds.iter().map(|h| hold_json(h, now)).collect();
    Ok(json_response(StatusCode::OK, json!({ "holds": items })))
}

/// `POST /v1/holds`: place a preservation order (admin).
async fn place_hold(
    State(state): State<AppState>,
    auth: Result<Authorized<AdminPolicy>, ApiError>,
    bytes: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let actor = actor_of(&state, &cred);
        let b: HoldBody = body(&bytes)?;
        let now = now_ms(&state);
        let hold = incident::Hold {
            id: new_id("hold"),
            reason: b.reason,
            case_ref: b.case_ref,
            placed_by: crate::grants::person(&actor),
            placed_at_ms: now,
            from_ms: time_field("from", b.from.as_deref(), 0)?,
            to_ms: b
                .to
                .as_deref()
                .map(|t| time_field("to", Some(t), 0))
                .transpose()?,
            datasets: b.datasets,
            lifted: None,
        };
        hold.validate()
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let _guard = cases(&state).lock.lock().await;
        let entry = ControlEntry::new(
            CASE_LOG_NAME,
            "custos.hold.place",
            Activity::Create,
            actor,
            now,
        )
        .resource("legal_hold", hold.id.clone())
        .with("hold", serde_json::to_value(&hold).unwrap_or(Value::Null));
        record_case_entry(&state, entry).await?;
        let body = serde_json::to_string(&hold).map_err(|_| ApiError::internal())?;
        cases(&state)
            .store
            .place_hold(&hold.id, now, &body)
            .map_err(|e| store_failed(&e))?;
        Ok(json_response(StatusCode::CREATED, hold_json(&hold, now)))
    }
    .await;
    read_whole(r)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LiftBody {
    reason: String,
}

/// `POST /v1/holds/{id}/lift` (admin).
async fn lift_hold(
    State(state): State<AppState>,
    auth: Result<Authorized<AdminPolicy>, ApiError>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let actor = actor_of(&state, &cred);
        let b: LiftBody = body(&bytes)?;
        let now = now_ms(&state);
        let _guard = cases(&state).lock.lock().await;
        let mut hold = holds_now(&state)?
            .into_iter()
            .find(|h| h.id == id)
            .ok_or_else(ApiError::not_found)?;
        let who = crate::grants::person(&actor);
        hold.lift(&who, &b.reason, now)
            .map_err(|e| ApiError::conflict("hold_lifted", e.to_string()))?;
        let entry = ControlEntry::new(
            CASE_LOG_NAME,
            "custos.hold.lift",
            Activity::Update,
            actor,
            now,
        )
        .resource("legal_hold", hold.id.clone())
        .with("reason", b.reason.clone());
        record_case_entry(&state, entry).await?;
        let body = serde_json::to_string(&hold).map_err(|_| ApiError::internal())?;
        cases(&state)
            .store
            .lift_hold(&hold.id, &body)
            .map_err(|e| store_failed(&e))?;
        Ok(json_response(StatusCode::OK, hold_json(&hold, now)))
    }
    .await;
    read_whole(r)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PruneBody {
    target: incident::PruneKind,
    before: String,
    #[serde(default)]
    dataset: Option<String>,
}

/// `POST /v1/retention/prune`: prune derived data older than `before`.
/// Only the forensic index is prunable; a hold over the range refuses it,
/// and the ledger never is. A refusal is recorded and raises a critical
/// alert on the principal who asked.
async fn prune(
    State(state): State<AppState>,
    auth: Result<Authorized<AdminPolicy>, ApiError>,
    bytes: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let actor = actor_of(&state, &cred);
        let b: PruneBody = body(&bytes)?;
        let now = now_ms(&state);
        let before = time_field("before", Some(&b.before), now)?;
        let req = incident::PruneRequest {
            kind: b.target,
            from_ms: 0,
            to_ms: before,
            dataset: b.dataset.clone(),
        };
        let holds = holds_now(&state)?;
        let verdict = incident::check_prune(&holds, now, &req).and_then(|()| {
            if b.target == incident::PruneKind::ForensicIndex {
                Ok(())
            } else {
                // Alerts, detector state and evidence are kept: nothing
                // deletes them.
                Err(incident::HoldViolation::LedgerNeverPrunable)
            }
        });
        let entry = ControlEntry::new(
            CASE_LOG_NAME,
            "custos.retention.prune",
            Activity::Delete,
            actor.clone(),
            now,
        )
        .resource("retention", serde_json::to_value(b.target).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
        .with("request", serde_json::to_value(&req).unwrap_or(Value::Null));
        match verdict {
            Err(v) => {
                let why = if b.target == incident::PruneKind::ForensicIndex
                    || b.target == incident::PruneKind::LedgerEntries
                {
                    v.to_string()
                } else {
                    "alerts, detector state and evidence are never pruned".to_owned()
                };
                let index =
                    record_case_entry(&state, entry.with("refused", why.clone()).failed()).await?;
                raise_violation(&state, &actor, &why, index, now).await;
                Err(ApiError::conflict("held", format!("refused: {why}")))
            }
            Ok(()) => {
                let local = Arc::clone(&cases(&state).local);
                let day = u32::try_from(forensics::day_of(before).max(0)).unwrap_or(0);
                let dropped = tokio::task::spawn_blocking(move || {
                    let mut l = lock_local(&local);
                    let n = l.index.prune_before(day);
                    l.save().map(|_| n)
                })
                .await
                .map_err(|_| ApiError::internal())?
                .map_err(|e| ApiError::unavailable(&e.to_string()))?;
                record_case_entry(&state, entry.with("day_cells_dropped", dropped as u64)).await?;
                Ok(json_response(
                    StatusCode::OK,
                    json!({ "target": b.target, "before": events::format_rfc3339(before), "day_cells_dropped": dropped }),
                ))
            }
        }
    }
    .await;
    read_whole(r)
}

/// A critical alert: someone tried to destroy held or ledger data.
async fn raise_violation(
    state: &AppState,
    actor: &crate::record::Actor,
    why: &str,
    index: u64,
    now: i64,
) {
    let mut details = serde_json::Map::new();
    details.insert("refused".into(), Value::from(why));
    let finding = crate::govern_routes::alert_finding(
        format!("retention.hold_violation:principal:{}:{index}", actor.uid),
        "retention.hold_violation".into(),
        format!(
            "Attempt to prune data under a legal hold or the ledger, by {}",
            crate::grants::person(actor)
        ),
        detect::Severity::Critical,
        detect::Entity {
            kind: detect::EntityKind::Principal,
            id: actor.uid.clone(),
        },
        index,
        now,
        details,
    );
    match crate::alerts::raise(state, vec![finding]).await {
        Ok(n) => state.metrics().alerts_raised(n),
        Err(e) => tracing::error!(error = %e, "hold violation alert not raised"),
    }
}
