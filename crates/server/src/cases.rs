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
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
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
            store: Arc::new(store::SqliteCaseStore::new(db)?),
            lock: tokio::sync::Mutex::new(()),
        })
    }
}

pub(crate) fn cases(state: &AppState) -> &CaseState {
    &state.inner().cases
}

fn lock_local(m: &Mutex<forensics::Local>) -> std::sync::MutexGuard<'_, forensics::Local> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/scope", post(scope))
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
            let n = if stopping { 0 } else { advance(&l, size, CHUNK)? };
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
        let mut extra = json!({ "elapsed_ms": t.elapsed().as_secs_f64() * 1e3 });
        if export {
            let subjects: Vec<String> = r
                .subjects
                .iter()
                .filter_map(|id| l.index.dict().pseudonym(id))
                .collect();
            extra["subject_pseudonyms"] = json!(subjects);
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
            extra["proofs"] = json!(proofs);
        }
        Ok((r.answer, extra))
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
        let (answer, extra) = compute_scope(&state, q.clone(), export, prove).await?;
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
