//! Alerts over HTTP, and their delivery to webhooks (`docs/alerts.md`):
//!
//! | route | role | what |
//! |---|---|---|
//! | `GET /v1/alerts[?status=&severity=&detector=&entity=&limit=]` | admin, analyst, auditor | alerts, newest first, with their SLA state |
//! | `GET /v1/alerts/{id}` | admin, analyst, auditor | one alert and its webhook deliveries |
//! | `POST /v1/alerts/{id}/ack` | admin, analyst | acknowledge (`{"note"?}`) |
//! | `POST /v1/alerts/{id}/close` | admin, analyst | close (`{"note"?}`) |
//! | `GET /v1/alerts/sla` | admin, analyst, auditor | time to acknowledge against the SLA, by severity |
//! | `GET /v1/alerts/suppressions` | admin, analyst, auditor | suppressions |
//! | `POST /v1/alerts/suppressions` | admin, analyst | suppress (`{"detector"?,"entity"?,"reason","for_s"}`) |
//! | `POST /v1/alerts/suppressions/{id}/lift` | admin, analyst | lift a suppression early |
//!
//! Every alert raised and every transition is first recorded in the ledger
//! as an OCSF Detection Finding (class 2004: `activity_id` 1 Create, 2
//! Update, 3 Close; `status_id` 1 New, 2 In Progress, 3 Suppressed, 4
//! Resolved) with who and when in `unmapped.custos`, then stored, then
//! answered. Suppressions are control entries too. Nothing deletes an alert.
//!
//! Webhooks: each live alert at or above a hook's `min_severity` is queued
//! in the outbox (same database) and POSTed as JSON with
//! `Custos-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//! (the Stripe scheme: the receiver recomputes it and refuses old `t`);
//! non-2xx or no answer is retried with exponential backoff (2 s doubling,
//! at most 1 h apart) up to the hook's `max_attempts`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use detect::settings::{Settings, Webhook};
use detect::{Alert, AlertStatus, AlertStore, Finding, Severity, Suppression, Transition};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::app::AppState;
use crate::auth::{Authorized, Policy};
use crate::credentials::Role;
use crate::error::ApiError;
use crate::record::{Actor, append_durable, now_ms};
use crate::tokens::{ReadPolicy, actor_of, read_whole};

/// Who may move alerts: the SOC (analysts) and admins; auditors only read.
pub(crate) struct TriagePolicy;
impl Policy for TriagePolicy {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Analyst];
    const WHAT: &'static str = "this needs a credential with role admin or analyst";
}

/// The alert store, the detection settings and a lock serialising changes.
pub(crate) struct AlertState {
    pub(crate) store: Arc<store::SqliteAlertStore>,
    pub(crate) settings: Arc<Settings>,
    lock: tokio::sync::Mutex<()>,
}

impl AlertState {
    pub(crate) fn new(store: store::SqliteAlertStore, settings: Settings) -> AlertState {
        AlertState {
            store: Arc::new(store),
            settings: Arc::new(settings),
            lock: tokio::sync::Mutex::new(()),
        }
    }
}

fn alerts(state: &AppState) -> &AlertState {
    &state.inner().alerts
}

/// The routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/alerts", get(list))
        .route("/v1/alerts/sla", get(sla))
        .route("/v1/alerts/suppressions", get(suppressions).post(suppress))
        .route("/v1/alerts/suppressions/{id}/lift", post(lift))
        .route("/v1/alerts/{id}", get(one))
        .route("/v1/alerts/{id}/ack", post(ack))
        .route("/v1/alerts/{id}/close", post(close))
}

/// The route label of a `/v1/alerts/…` path.
pub(crate) fn route_of(path: &str) -> &'static str {
    match path {
        "/v1/alerts/sla" => "/v1/alerts/sla",
        "/v1/alerts/suppressions" => "/v1/alerts/suppressions",
        p if p.starts_with("/v1/alerts/suppressions/") => "/v1/alerts/suppressions/{id}/lift",
        p if p.ends_with("/ack") => "/v1/alerts/{id}/ack",
        p if p.ends_with("/close") => "/v1/alerts/{id}/close",
        _ => "/v1/alerts/{id}",
    }
}

fn store_failed(e: &detect::AlertStoreError) -> ApiError {
    tracing::error!(error = %e, "alert store failed");
    ApiError::unavailable("the alert store is unavailable; retry later")
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, detect::AlertStoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| store_failed(&e))
}

/// The ledger entry of an alert raised or moved: its Detection Finding
/// with `activity_id`, the alert's status, and who/when/why.
pub(crate) fn alert_entry(
    a: &Alert,
    activity_id: u8,
    by: &Actor,
    note: Option<&str>,
    t: i64,
) -> Vec<u8> {
    let mut v = a.finding.to_ocsf(activity_id, a.status.ocsf_status_id(), t);
    if let Some(obj) = v.as_object_mut() {
        let mut custos = json!({
            "alert": a.id,
            "status": a.status.as_str(),
            "by": by.name.clone().unwrap_or_else(|| by.uid.clone()),
            "by_uid": by.uid,
            "occurrences": a.occurrences,
            "ack_due_ms": a.ack_due_ms,
        });
        if let (Some(n), Some(c)) = (note, custos.as_object_mut()) {
            c.insert("note".into(), Value::from(n));
        }
        if let (Some(s), Some(c)) = (&a.suppressed_by, custos.as_object_mut()) {
            c.insert("suppression".into(), Value::from(s.clone()));
        }
        obj.insert("unmapped".into(), json!({ "custos": custos }));
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert(
                "uid".into(),
                Value::from(format!("{}#{}#{}", a.id, a.status.as_str(), t)),
            );
        }
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Raises `findings` (from the detector task): a repeat of a live alert's
/// detector and entity is merged into it; a finding already stored (a
/// replay after a restart) is skipped; otherwise a new alert — suppressed
/// if a suppression matches — is recorded in the ledger, stored, and
/// queued for the webhooks. Returns the alerts created.
pub(crate) async fn raise(state: &AppState, findings: Vec<Finding>) -> Result<u64, String> {
    let al = alerts(state);
    let _guard = al.lock.lock().await;
    let store = Arc::clone(&al.store);
    let sla = al.settings.sla;
    let mut created = 0;
    for f in findings {
        let now = now_ms(state);
        let (st, fc) = (Arc::clone(&store), f.clone());
        let step = tokio::task::spawn_blocking(
            move || -> Result<Option<Alert>, detect::AlertStoreError> {
                if st.alert(&fc.uid)?.is_some() {
                    return Ok(None);
                }
                if let Some(mut live) = st.live_by_dedup(&fc.dedup_key())? {
                    if live.latest_finding.as_deref() != Some(fc.uid.as_str()) {
                        live.merge(&fc);
                        st.put_alert(&live)?;
                    }
                    return Ok(None);
                }
                let sup = st
                    .suppressions()?
                    .into_iter()
                    .find(|s| s.matches(&fc, now))
                    .map(|s| s.id);
                Ok(Some(Alert::raise(fc, now, &sla, sup.as_deref())))
            },
        )
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        let Some(mut alert) = step else { continue };
        let entry = alert_entry(&alert, 1, &Actor::system(), None, now);
        let index = append_durable(state, &[entry])
            .await
            .map_err(|e| format!("recording alert {}: {e}", alert.id))?;
        state.metrics().control_logged(1);
        alert.ledger_index = Some(index);
        let st = Arc::clone(&store);
        let hooks: Vec<Webhook> = if alert.status == AlertStatus::Suppressed {
            Vec::new()
        } else {
            al.settings
                .webhooks
                .iter()
                .filter(|h| alert.finding.severity >= h.min_severity)
                .cloned()
                .collect()
        };
        let payload = webhook_payload(&alert);
        let a = alert.clone();
        tokio::task::spawn_blocking(move || -> Result<(), detect::AlertStoreError> {
            st.put_alert(&a)?;
            for h in &hooks {
                st.enqueue(&h.name, &a.id, &payload, now)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        tracing::warn!(
            target: "custos::alert",
            alert = %alert.id,
            detector = %alert.finding.detector,
            severity = alert.finding.severity.as_str(),
            entity = %alert.finding.entity,
            status = alert.status.as_str(),
            "alert raised"
        );
        created += 1;
    }
    Ok(created)
}

/// What a webhook receives: the alert's Detection Finding plus the alert.
fn webhook_payload(a: &Alert) -> String {
    let v = json!({
        "alert": {
            "id": a.id,
            "status": a.status.as_str(),
            "severity": a.finding.severity.as_str(),
            "detector": a.finding.detector,
            "title": a.finding.title,
            "entity": a.finding.entity,
            "opened_ms": a.opened_ms,
            "ack_due_ms": a.ack_due_ms,
            "ledger_index": a.ledger_index,
        },
        "finding": a.finding.to_ocsf(1, a.status.ocsf_status_id(), a.opened_ms),
    });
    v.to_string()
}

/// `Custos-Signature` of `body` at unix second `t`.
#[must_use]
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length: new_from_slice cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!("t={t},v1={}", crate::grants::hex_lower(&tag))
}

/// Delay before attempt `attempts + 1`: 2 s doubling, at most 1 h.
fn backoff_ms(attempts: u32) -> i64 {
    2_000i64
        .saturating_mul(1i64 << attempts.min(20))
        .min(3_600_000)
}

/// Every half second: delivers due webhook payloads.
pub(crate) async fn deliver_loop(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    if alerts(&state).settings.webhooks.is_empty() {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let st = state.clone();
        let r = tokio::task::spawn_blocking(move || deliver_due(&st)).await;
        if let Ok(Err(e)) = r {
            tracing::error!(error = %e, "webhook delivery failed");
        }
    }
}

fn deliver_due(state: &AppState) -> Result<(), detect::AlertStoreError> {
    let al = alerts(state);
    let now = now_ms(state);
    for d in al.store.due(now, 32)? {
        let Some(hook) = al.settings.webhooks.iter().find(|h| h.name == d.hook) else {
            al.store
                .attempted(d.seq, now, Err(("webhook no longer configured", None)))?;
            continue;
        };
        let t = now.div_euclid(1000);
        let sig = signature(&hook.secret, t, d.payload.as_bytes());
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        let result = agent
            .post(&hook.url)
            .header("Content-Type", "application/json")
            .header("Custos-Signature", &sig)
            .header("Custos-Delivery", &d.seq.to_string())
            .header("Custos-Alert", &d.alert)
            .send(d.payload.as_bytes());
        let outcome: Result<(), String> = match result {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => Err(format!("HTTP {}", resp.status().as_u16())),
            // The error names the URL's host at most; the secret is never in it.
            Err(e) => Err(e.to_string()),
        };
        let done = now_ms(state);
        match outcome {
            Ok(()) => {
                tracing::info!(hook = %hook.name, alert = %d.alert, attempts = d.attempts + 1, "webhook delivered");
                al.store.attempted(d.seq, done, Ok(()))?;
            }
            Err(e) => {
                let next =
                    (d.attempts + 1 < hook.max_attempts).then(|| done + backoff_ms(d.attempts));
                tracing::warn!(hook = %hook.name, alert = %d.alert, attempts = d.attempts + 1, error = %e, gave_up = next.is_none(), "webhook delivery failed");
                al.store.attempted(d.seq, done, Err((&e, next)))?;
            }
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    severity: Option<String>,
    detector: Option<String>,
    entity: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/alerts`.
async fn list(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    auth?;
    let q = crate::tokens::query(q)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            AlertStatus::from_name(s).ok_or_else(|| {
                ApiError::bad_request("status: one of open, acknowledged, closed, suppressed")
            })
        })
        .transpose()?;
    let severity = q
        .severity
        .as_deref()
        .map(|s| {
            Severity::from_name(s).ok_or_else(|| {
                ApiError::bad_request("severity: one of low, medium, high, critical")
            })
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(500).clamp(1, 10_000);
    let st = Arc::clone(&alerts(&state).store);
    let all = blocking(move || st.alerts()).await?;
    let now = now_ms(&state);
    let items: Vec<Value> = all
        .iter()
        .filter(|a| status.is_none_or(|s| a.status == s))
        .filter(|a| severity.is_none_or(|s| a.finding.severity >= s))
        .filter(|a| {
            q.detector
                .as_deref()
                .is_none_or(|d| a.finding.detector.starts_with(d))
        })
        .filter(|a| q.entity.as_deref().is_none_or(|e| a.finding.entity.id == e))
        .take(limit)
        .map(|a| a.to_json_at(now))
        .collect();
    Ok(crate::grants::json_response(
        StatusCode::OK,
        json!({ "count": items.len(), "alerts": items, "now_ms": now }),
    ))
}

/// `GET /v1/alerts/{id}`.
async fn one(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth?;
    let st = Arc::clone(&alerts(&state).store);
    let (a, deliveries) = blocking(move || Ok((st.alert(&id)?, st.deliveries(Some(&id))?))).await?;
    let a = a.ok_or_else(ApiError::not_found)?;
    let mut v = a.to_json_at(now_ms(&state));
    if let Some(obj) = v.as_object_mut() {
        let ds: Vec<Value> = deliveries
            .iter()
            .map(|d| {
                json!({"hook": d.hook, "state": d.state, "attempts": d.attempts,
                       "next_ms": d.next_ms, "last_error": d.last_error})
            })
            .collect();
        obj.insert("deliveries".into(), Value::from(ds));
    }
    Ok(crate::grants::json_response(StatusCode::OK, v))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    note: Option<String>,
}

fn check_text(what: &str, s: &str) -> Result<(), ApiError> {
    if s.is_empty() || s.len() > 1024 || s.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "$.{what}: must be 1 to 1024 bytes without control characters"
        )));
    }
    Ok(())
}

async fn transition(
    state: AppState,
    auth: Result<Authorized<TriagePolicy>, ApiError>,
    id: String,
    body: Bytes,
    close: bool,
) -> Result<Response, ApiError> {
    let cred = auth?.0;
    let actor = actor_of(&state, &cred);
    let b: NoteBody = if body.iter().all(u8::is_ascii_whitespace) {
        NoteBody::default()
    } else {
        crate::tokens::json_body(&body)?
    };
    if let Some(n) = &b.note {
        check_text("note", n)?;
    }
    let al = alerts(&state);
    let _guard = al.lock.lock().await;
    let st = Arc::clone(&al.store);
    let id2 = id.clone();
    let mut a = blocking(move || st.alert(&id2))
        .await?
        .ok_or_else(ApiError::not_found)?;
    let now = now_ms(&state);
    let t = Transition {
        by: actor.name.clone().unwrap_or_else(|| actor.uid.clone()),
        at_ms: now,
        note: b.note.clone(),
    };
    let moved = if close { a.close(t) } else { a.acknowledge(t) };
    moved.map_err(|e| ApiError::conflict("alert_state", e.to_string()))?;
    let entry = alert_entry(
        &a,
        if close { 3 } else { 2 },
        &actor,
        b.note.as_deref(),
        now,
    );
    append_durable(&state, &[entry]).await.map_err(|e| {
        tracing::error!(error = %e, alert = %id, "alert transition not recorded");
        ApiError::unavailable("the change could not be recorded in the ledger; retry later")
    })?;
    state.metrics().control_logged(1);
    let st = Arc::clone(&al.store);
    let stored = a.clone();
    blocking(move || st.put_alert(&stored)).await?;
    Ok(crate::grants::json_response(
        StatusCode::OK,
        a.to_json_at(now),
    ))
}

/// `POST /v1/alerts/{id}/ack`.
async fn ack(
    State(state): State<AppState>,
    auth: Result<Authorized<TriagePolicy>, ApiError>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    read_whole(transition(state, auth, id, body, false).await)
}

/// `POST /v1/alerts/{id}/close`.
async fn close(
    State(state): State<AppState>,
    auth: Result<Authorized<TriagePolicy>, ApiError>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    read_whole(transition(state, auth, id, body, true).await)
}

/// `GET /v1/alerts/sla`: by severity, alerts raised, acknowledged (or
/// closed), breaches, and the median / 90th percentile time to acknowledge.
async fn sla(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
) -> Result<Response, ApiError> {
    auth?;
    let st = Arc::clone(&alerts(&state).store);
    let all = blocking(move || st.alerts()).await?;
    let now = now_ms(&state);
    let sla = alerts(&state).settings.sla;
    let mut by = serde_json::Map::new();
    for sev in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ] {
        let of: Vec<&Alert> = all
            .iter()
            .filter(|a| a.finding.severity == sev && a.status != AlertStatus::Suppressed)
            .collect();
        let mut times: Vec<i64> = of.iter().filter_map(|a| a.time_to_ack_ms()).collect();
        times.sort_unstable();
        let pct = |p: usize| -> Option<i64> {
            if times.is_empty() {
                None
            } else {
                times.get((times.len() - 1) * p / 100).copied()
            }
        };
        by.insert(
            sev.as_str().into(),
            json!({
                "sla_ms": sla.for_severity(sev),
                "alerts": of.len(),
                "acknowledged": times.len(),
                "breached": of.iter().filter(|a| a.sla_breached(now)).count(),
                "open_past_due": of.iter().filter(|a| a.status == AlertStatus::Open && now > a.ack_due_ms).count(),
                "median_time_to_ack_ms": pct(50),
                "p90_time_to_ack_ms": pct(90),
            }),
        );
    }
    Ok(crate::grants::json_response(
        StatusCode::OK,
        json!({ "now_ms": now, "by_severity": by }),
    ))
}

/// `GET /v1/alerts/suppressions`.
async fn suppressions(
    State(state): State<AppState>,
    auth: Result<Authorized<ReadPolicy>, ApiError>,
) -> Result<Response, ApiError> {
    auth?;
    let st = Arc::clone(&alerts(&state).store);
    let all = blocking(move || st.suppressions()).await?;
    let now = now_ms(&state);
    let items: Vec<Value> = all
        .iter()
        .map(|s| {
            let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "active".into(),
                    Value::from(s.lifted.is_none() && now < s.until_ms),
                );
            }
            v
        })
        .collect();
    Ok(crate::grants::json_response(
        StatusCode::OK,
        json!({ "suppressions": items }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuppressBody {
    detector: Option<String>,
    entity: Option<String>,
    reason: String,
    /// Seconds it lasts (at most 90 days).
    for_s: u64,
}

fn suppression_entry(s: &Suppression, op: &'static str, actor: &Actor, t: i64) -> Vec<u8> {
    let mut e = crate::record::ControlEntry::new(
        detect::DETECT_LOG_NAME,
        op,
        crate::record::Activity::Update,
        actor.clone(),
        t,
    )
    .resource("suppression", s.id.clone())
    .with("reason", s.reason.clone())
    .with("until_ms", s.until_ms);
    if let Some(d) = &s.detector {
        e = e.with("detector", d.clone());
    }
    if let Some(x) = &s.entity {
        e = e.with("entity", x.clone());
    }
    e.uid = format!("{op}-{}-{t}", s.id);
    e.encode()
}

fn new_suppression_id() -> String {
    let mut b = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    format!("s-{}", crate::grants::hex_lower(&b))
}

/// `POST /v1/alerts/suppressions`.
async fn suppress(
    State(state): State<AppState>,
    auth: Result<Authorized<TriagePolicy>, ApiError>,
    body: Bytes,
) -> Response {
    let r: Result<Response, ApiError> = async move {
        let cred = auth?.0;
        let actor = actor_of(&state, &cred);
        let b: SuppressBody = crate::tokens::json_body(&body)?;
        check_text("reason", &b.reason)?;
        if let Some(d) = &b.detector {
            check_text("detector", d)?;
        }
        if let Some(x) = &b.entity {
            check_text("entity", x)?;
        }
        if b.detector.is_none() && b.entity.is_none() {
            return Err(ApiError::bad_request(
                "$: name a detector, an entity or both (suppressing everything is not allowed)",
            ));
        }
        if !(60..=90 * 86_400).contains(&b.for_s) {
            return Err(ApiError::bad_request(
                "$.for_s: must be 60 to 7776000 seconds (90 days)",
            ));
        }
        let now = now_ms(&state);
        let s = Suppression {
            id: new_suppression_id(),
            detector: b.detector,
            entity: b.entity,
            reason: b.reason,
            created_by: actor.name.clone().unwrap_or_else(|| actor.uid.clone()),
            created_ms: now,
            until_ms: now.saturating_add(i64::try_from(b.for_s).unwrap_or(0).saturating_mul(1000)),
            lifted: None,
        };
        let al = alerts(&state);
        let _guard = al.lock.lock().await;
        append_durable(
            &state,
            &[suppression_entry(&s, "custos.alert.suppress", &actor, now)],
        )
        .await
        .map_err(|_| ApiError::unavailable("the suppression could not be recorded; retry later"))?;
        state.metrics().control_logged(1);
        let st = Arc::clone(&al.store);
        let stored = s.clone();
        blocking(move || st.put_suppression(&stored)).await?;
        Ok(crate::grants::json_response(
            StatusCode::CREATED,
            serde_json::to_value(&s).unwrap_or(Value::Null),
        ))
    }
    .await;
    read_whole(r)
}

/// `POST /v1/alerts/suppressions/{id}/lift`.
async fn lift(
    State(state): State<AppState>,
    auth: Result<Authorized<TriagePolicy>, ApiError>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cred = auth?.0;
    let actor = actor_of(&state, &cred);
    let al = alerts(&state);
    let _guard = al.lock.lock().await;
    let st = Arc::clone(&al.store);
    let mut s = blocking(move || st.suppressions())
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(ApiError::not_found)?;
    if s.lifted.is_some() {
        return Err(ApiError::conflict("suppression_state", "already lifted"));
    }
    let now = now_ms(&state);
    s.lifted = Some(Transition {
        by: actor.name.clone().unwrap_or_else(|| actor.uid.clone()),
        at_ms: now,
        note: None,
    });
    append_durable(
        &state,
        &[suppression_entry(
            &s,
            "custos.alert.suppress.lift",
            &actor,
            now,
        )],
    )
    .await
    .map_err(|_| ApiError::unavailable("the change could not be recorded; retry later"))?;
    state.metrics().control_logged(1);
    let st = Arc::clone(&al.store);
    let stored = s.clone();
    blocking(move || st.put_suppression(&stored)).await?;
    Ok(crate::grants::json_response(
        StatusCode::OK,
        serde_json::to_value(&s).unwrap_or(Value::Null),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_t_dot_body() {
        // RFC 4231 style check against an independent computation:
        // HMAC-SHA256("key", "1.{}")
        let s = signature(b"key", 1, b"{}");
        assert!(s.starts_with("t=1,v1="));
        assert_eq!(s.len(), "t=1,v1=".len() + 64);
        assert_ne!(s, signature(b"key2", 1, b"{}"));
        assert_ne!(s, signature(b"key", 2, b"{}"));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(0), 2_000);
        assert_eq!(backoff_ms(1), 4_000);
        assert_eq!(backoff_ms(30), 3_600_000);
    }

    #[test]
    fn routes_are_labelled() {
        assert_eq!(route_of("/v1/alerts/a-1/ack"), "/v1/alerts/{id}/ack");
        assert_eq!(route_of("/v1/alerts/sla"), "/v1/alerts/sla");
        assert_eq!(route_of("/v1/alerts/x"), "/v1/alerts/{id}");
    }
}
