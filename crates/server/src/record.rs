//! Control-plane ledger entries: token-authority, principal and grant
//! lifecycle changes and token refusals, each one OCSF 1.3.0 API Activity
//! (class 6003) entry, shaped like the admin and SCIM entries (actor, `api`,
//! `resources`, `metadata.log_name`, `unmapped.custos`).
//!
//! Schema reference: `ocsf/ocsf-schema` v1.3.0
//! `events/application/api_activity.json`; `status_id` 1 Success, 2
//! Failure; `activity_id` 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other.

use std::time::UNIX_EPOCH;

use serde_json::{Map, Value, json};

use crate::app::AppState;

/// `metadata.log_name` of token-authority entries (keys, custody,
/// revocations, refusals).
pub(crate) const TOKEN_LOG_NAME: &str = "custos.token";
/// `metadata.log_name` of principal lifecycle entries (offboarding).
pub(crate) const PRINCIPAL_LOG_NAME: &str = "custos.principal";
/// `metadata.log_name` of grant lifecycle entries and authorization
/// decisions.
pub(crate) const ACCESS_LOG_NAME: &str = "custos.access";

/// OCSF API Activity `activity_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Activity {
    Create = 1,
    Read = 2,
    Update = 3,
    Delete = 4,
}

/// Who did it.
#[derive(Clone, Debug)]
pub(crate) struct Actor {
    /// The credential id, principal or `custos` itself (scheduled work).
    pub(crate) uid: String,
    /// A display name (credential name).
    pub(crate) name: Option<String>,
    /// OCSF `user.type_id`: 1 User, 2 Admin, 3 System, 99 Other.
    pub(crate) type_id: u8,
}

impl Actor {
    /// Custos itself (a timer, a cascade of another change).
    pub(crate) fn system() -> Actor {
        Actor {
            uid: "custos".into(),
            name: None,
            type_id: 3,
        }
    }
}

/// One control-plane entry.
#[derive(Clone, Debug)]
pub(crate) struct ControlEntry {
    pub(crate) log_name: &'static str,
    /// `api.operation`, e.g. `custos.token.key.retire`.
    pub(crate) operation: &'static str,
    pub(crate) activity: Activity,
    pub(crate) success: bool,
    pub(crate) actor: Actor,
    /// `(type, uid)` of the resources acted on.
    pub(crate) resources: Vec<(&'static str, String)>,
    /// `unmapped.custos` (attribute values the ledger needs; never secrets).
    pub(crate) custos: Map<String, Value>,
    /// Event time, ms since the epoch.
    pub(crate) time_ms: i64,
    /// `metadata.uid`, unique per entry.
    pub(crate) uid: String,
    /// `src_endpoint` members (`ip`, `location.country`, `name`).
    pub(crate) src_ip: Option<String>,
    pub(crate) src_country: Option<String>,
}

impl ControlEntry {
    /// A successful entry at `time_ms`; `uid` defaults to
    /// `{operation}-{time_ms}-{first resource}`.
    pub(crate) fn new(
        log_name: &'static str,
        operation: &'static str,
        activity: Activity,
        actor: Actor,
        time_ms: i64,
    ) -> ControlEntry {
        ControlEntry {
            log_name,
            operation,
            activity,
            success: true,
            actor,
            resources: Vec::new(),
            custos: Map::new(),
            time_ms,
            uid: String::new(),
            src_ip: None,
            src_country: None,
        }
    }

    pub(crate) fn resource(mut self, kind: &'static str, uid: impl Into<String>) -> Self {
        self.resources.push((kind, uid.into()));
        self
    }

    pub(crate) fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.custos.insert(key.to_owned(), value.into());
        self
    }

    pub(crate) fn failed(mut self) -> Self {
        self.success = false;
        self
    }

    /// The OCSF bytes (members in ascending order, like the other
    /// control entries).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let activity_id = self.activity as u32;
        let mut user = json!({ "type_id": self.actor.type_id, "uid": self.actor.uid });
        if let (Some(n), Some(obj)) = (&self.actor.name, user.as_object_mut()) {
            obj.insert("name".into(), Value::String(n.clone()));
        }
        let resources: Vec<Value> = self
            .resources
            .iter()
            .map(|(kind, uid)| json!({ "type": kind, "uid": uid }))
            .collect();
        let mut src = Map::new();
        src.insert("name".into(), Value::String("custos".into()));
        if let Some(ip) = &self.src_ip {
            src.insert("ip".into(), Value::String(ip.clone()));
        }
        if let Some(c) = &self.src_country {
            src.insert("location".into(), json!({ "country": c }));
        }
        let mut custos = self.custos.clone();
        custos.insert("v".into(), 1.into());
        let uid = if self.uid.is_empty() {
            format!(
                "{}-{}-{}",
                self.operation,
                self.time_ms,
                self.resources.first().map_or("", |(_, u)| u.as_str())
            )
        } else {
            self.uid.clone()
        };
        let mut entry = json!({
            "activity_id": activity_id,
            "actor": { "user": user },
            "api": { "operation": self.operation, "service": { "name": "custos" } },
            "category_uid": 6,
            "class_uid": 6003,
            "metadata": {
                "log_name": self.log_name,
                "product": { "name": "Custos", "vendor_name": "Custos" },
                "uid": uid,
                "version": events::OCSF_VERSION,
            },
            "severity_id": if self.success { 1 } else { 3 },
            "src_endpoint": Value::Object(src),
            "status_id": if self.success { 1 } else { 2 },
            "time": self.time_ms,
            "type_uid": 600_300 + activity_id,
            "unmapped": { "custos": Value::Object(custos) },
        });
        if !resources.is_empty()
            && let Some(obj) = entry.as_object_mut()
        {
            obj.insert("resources".into(), Value::Array(resources));
        }
        // Serialising a Value cannot fail.
        serde_json::to_vec(&entry).unwrap_or_default()
    }
}

/// The server clock's now, ms since the epoch.
pub(crate) fn now_ms(state: &AppState) -> i64 {
    (state.inner().clock)()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Appends `entries` as one batch and waits until they are durable; the
/// index of the first. Marks the ledger failed (readiness) on a lasting
/// error.
pub(crate) async fn append_durable(
    state: &AppState,
    entries: &[Vec<u8>],
) -> Result<u64, ledger::Error> {
    let Some(ledger) = state.ledger() else {
        return Err(ledger::Error::Closed);
    };
    append_to(state, &ledger, entries).await
}

/// [`append_durable`] into a ledger the caller already holds (a write that
/// took the ledger before its store write, so that shutdown cannot come in
/// between).
pub(crate) async fn append_to(
    state: &AppState,
    ledger: &ledger::Ledger,
    entries: &[Vec<u8>],
) -> Result<u64, ledger::Error> {
    let mut batch = ledger::EntryBatch::new();
    for e in entries {
        batch.push(e)?;
    }
    let pending = ledger.submit(batch).inspect_err(|e| failed(state, e))?;
    let ack = pending.await.inspect_err(|e| failed(state, e))?;
    Ok(ack.first_index())
}

/// Marks the ledger failed (readiness) unless the error is transient.
pub(crate) fn failed(state: &AppState, e: &ledger::Error) {
    if !matches!(e, ledger::Error::Overloaded { .. } | ledger::Error::Closed) {
        state.mark_ledger_failed();
    }
}
