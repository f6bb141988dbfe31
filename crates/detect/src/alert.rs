//! Alerts: what a [`Finding`] becomes once raised — deduplicated,
//! suppressible, and carried through its lifecycle open → acknowledged →
//! closed with who and when, against a time-to-acknowledge SLA.
//!
//! This module is the pure core (no I/O, no clock: every transition takes
//! the time); the server stores alerts through [`AlertStore`] and records
//! every transition in the ledger as an OCSF Detection Finding update
//! (`activity_id` 2 Update / 3 Close, `status_id` 2 In Progress / 4
//! Resolved / 3 Suppressed).

use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Severity};

/// Where an alert is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// Raised, nobody has looked yet (OCSF status 1 New).
    Open,
    /// Someone owns it (OCSF status 2 In Progress).
    Acknowledged,
    /// Done, with a resolution (OCSF status 4 Resolved).
    Closed,
    /// Matched a suppression when raised: kept, never delivered (OCSF
    /// status 3 Suppressed).
    Suppressed,
}

impl AlertStatus {
    /// Snake-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
            AlertStatus::Suppressed => "suppressed",
        }
    }

    /// From [`Self::as_str`].
    #[must_use]
    pub fn from_name(s: &str) -> Option<AlertStatus> {
        match s {
            "open" => Some(AlertStatus::Open),
            "acknowledged" => Some(AlertStatus::Acknowledged),
            "closed" => Some(AlertStatus::Closed),
            "suppressed" => Some(AlertStatus::Suppressed),
            _ => None,
        }
    }

    /// The OCSF Detection Finding `status_id`.
    #[must_use]
    pub fn ocsf_status_id(self) -> u8 {
        match self {
            AlertStatus::Open => 1,
            AlertStatus::Acknowledged => 2,
            AlertStatus::Suppressed => 3,
            AlertStatus::Closed => 4,
        }
    }

    /// Whether repeats of the same detector and entity merge into it.
    #[must_use]
    pub fn is_live(self) -> bool {
        matches!(self, AlertStatus::Open | AlertStatus::Acknowledged)
    }
}

/// Who moved an alert, when, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The person (credential name or id).
    pub by: String,
    /// Milliseconds since the epoch.
    pub at_ms: i64,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Time allowed to acknowledge an alert, by severity (milliseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckSla {
    /// Critical (default 15 minutes).
    pub critical_ms: i64,
    /// High (default 1 hour).
    pub high_ms: i64,
    /// Medium (default 8 hours).
    pub medium_ms: i64,
    /// Low (default 72 hours).
    pub low_ms: i64,
}

impl Default for AckSla {
    fn default() -> Self {
        const MIN: i64 = 60_000;
        AckSla {
            critical_ms: 15 * MIN,
            high_ms: 60 * MIN,
            medium_ms: 8 * 60 * MIN,
            low_ms: 72 * 60 * MIN,
        }
    }
}

impl AckSla {
    /// The time allowed for `severity`.
    #[must_use]
    pub fn for_severity(&self, severity: Severity) -> i64 {
        match severity {
            Severity::Critical => self.critical_ms,
            Severity::High => self.high_ms,
            Severity::Medium => self.medium_ms,
            Severity::Low => self.low_ms,
        }
    }
}

/// An alert: a finding with its lifecycle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The first finding's uid (stable across replays: a finding raised
    /// again after a restart maps to the same alert).
    pub id: String,
    /// Detector + entity ([`Finding::dedup_key`]).
    pub dedup_key: String,
    /// Where it is.
    pub status: AlertStatus,
    /// The first finding.
    pub finding: Finding,
    /// Findings merged into it (1 = just the first).
    pub occurrences: u64,
    /// The latest merged finding's uid and time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_finding: Option<String>,
    /// Detector time of the latest merged finding.
    pub last_seen_ms: i64,
    /// When Custos raised it (server clock).
    pub opened_ms: i64,
    /// Acknowledge before this (opened + SLA for its severity).
    pub ack_due_ms: i64,
    /// Acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Transition>,
    /// Closure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<Transition>,
    /// The suppression that matched when it was raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<String>,
    /// Ledger index of its Detection Finding entry, once recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_index: Option<u64>,
}

/// Why a transition is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// Already acknowledged or closed.
    #[error("alert {id} is {status}; only an open alert can be acknowledged")]
    NotOpen {
        /// The alert.
        id: String,
        /// Its status.
        status: &'static str,
    },
    /// Already closed.
    #[error("alert {id} is already closed")]
    AlreadyClosed {
        /// The alert.
        id: String,
    },
}

impl Alert {
    /// A new alert for `finding`, raised at `now_ms`; suppressed if
    /// `suppression` matched.
    #[must_use]
    pub fn raise(finding: Finding, now_ms: i64, sla: &AckSla, suppression: Option<&str>) -> Alert {
        Alert {
            id: finding.uid.clone(),
            dedup_key: finding.dedup_key(),
            status: if suppression.is_some() {
                AlertStatus::Suppressed
            } else {
                AlertStatus::Open
            },
            occurrences: 1,
            latest_finding: None,
            last_seen_ms: finding.last_seen_ms,
            opened_ms: now_ms,
            ack_due_ms: now_ms.saturating_add(sla.for_severity(finding.severity)),
            acknowledged: None,
            closed: None,
            suppressed_by: suppression.map(str::to_owned),
            ledger_index: None,
            finding,
        }
    }

    /// Merges a repeat of the same detector and entity into this alert.
    pub fn merge(&mut self, repeat: &Finding) {
        self.occurrences = self.occurrences.saturating_add(1);
        self.latest_finding = Some(repeat.uid.clone());
        self.last_seen_ms = self.last_seen_ms.max(repeat.last_seen_ms);
        if repeat.severity > self.finding.severity {
            self.finding.severity = repeat.severity;
        }
    }

    /// Acknowledges an open alert.
    ///
    /// # Errors
    /// [`TransitionError::NotOpen`] unless it is open.
    pub fn acknowledge(&mut self, by: Transition) -> Result<(), TransitionError> {
        if self.status != AlertStatus::Open {
            return Err(TransitionError::NotOpen {
                id: self.id.clone(),
                status: self.status.as_str(),
            });
        }
        self.status = AlertStatus::Acknowledged;
        self.acknowledged = Some(by);
        Ok(())
    }

    /// Closes an alert (from open, acknowledged or suppressed). Closing an
    /// open alert does not count as acknowledging it in time.
    ///
    /// # Errors
    /// [`TransitionError::AlreadyClosed`].
    pub fn close(&mut self, by: Transition) -> Result<(), TransitionError> {
        if self.status == AlertStatus::Closed {
            return Err(TransitionError::AlreadyClosed {
                id: self.id.clone(),
            });
        }
        self.status = AlertStatus::Closed;
        self.closed = Some(by);
        Ok(())
    }

    /// Milliseconds from raised to acknowledged (or to closed when closed
    /// without acknowledgement), if either happened.
    #[must_use]
    pub fn time_to_ack_ms(&self) -> Option<i64> {
        self.acknowledged
            .as_ref()
            .or(self.closed.as_ref())
            .map(|t| t.at_ms - self.opened_ms)
    }

    /// The alert as the API and `custos alerts --json` show it: its fields
    /// plus `sla` (`ack_due_ms`, `breached` at `now_ms`, `time_to_ack_ms`).
    #[must_use]
    pub fn to_json_at(&self, now_ms: i64) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(obj) = v.as_object_mut() {
            obj.insert(
                "sla".into(),
                serde_json::json!({
                    "ack_due_ms": self.ack_due_ms,
                    "breached": self.sla_breached(now_ms),
                    "time_to_ack_ms": self.time_to_ack_ms(),
                }),
            );
        }
        v
    }

    /// Whether the acknowledgement SLA is broken at `now_ms`: acknowledged
    /// (or closed) late, or still open past the deadline. Suppressed alerts
    /// have no SLA.
    #[must_use]
    pub fn sla_breached(&self, now_ms: i64) -> bool {
        if self.status == AlertStatus::Suppressed || self.suppressed_by.is_some() {
            return false;
        }
        match self.acknowledged.as_ref().or(self.closed.as_ref()) {
            Some(t) => t.at_ms > self.ack_due_ms,
            None => now_ms > self.ack_due_ms,
        }
    }
}

/// A rule that keeps matching findings from becoming live alerts (a known
/// benign job, a tuning window). Matching findings are still stored (status
/// `suppressed`) and recorded in the ledger; they are not delivered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// Identifier.
    pub id: String,
    /// Detector id, or a prefix ending in `*` (`distinct_subjects.*`);
    /// `None` for any.
    #[serde(default)]
    pub detector: Option<String>,
    /// Entity id (principal, kid, CIDR, country …); `None` for any.
    #[serde(default)]
    pub entity: Option<String>,
    /// Why (required).
    pub reason: String,
    /// Who created it.
    pub created_by: String,
    /// When (ms).
    pub created_ms: i64,
    /// Until when it applies (ms).
    pub until_ms: i64,
    /// Lifted early: by whom and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted: Option<Transition>,
}

impl Suppression {
    /// Whether it applies to `f` at `now_ms`.
    #[must_use]
    pub fn matches(&self, f: &Finding, now_ms: i64) -> bool {
        if self.lifted.is_some() || now_ms >= self.until_ms {
            return false;
        }
        let detector_ok = match self.detector.as_deref() {
            None => true,
            Some(d) => match d.strip_suffix('*') {
                Some(prefix) => f.detector.starts_with(prefix),
                None => f.detector == d,
            },
        };
        detector_ok && self.entity.as_deref().is_none_or(|e| e == f.entity.id)
    }
}

/// A storage error (the backend's message; never holds secrets).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AlertStoreError(pub String);

/// Where alerts and suppressions live.
///
/// Contract: `put_alert` / `put_suppression` insert or replace by id and
/// return `Ok` only once durable; `live_by_dedup` returns the newest alert
/// with that dedup key whose status is open or acknowledged; `alerts`
/// returns every alert, newest first (by time raised, then id);
/// implementations are safe to share between threads.
pub trait AlertStore: Send + Sync {
    /// Inserts or replaces an alert.
    ///
    /// # Errors
    /// If it could not be stored durably.
    fn put_alert(&self, a: &Alert) -> Result<(), AlertStoreError>;
    /// One alert.
    ///
    /// # Errors
    /// If the store could not be read.
    fn alert(&self, id: &str) -> Result<Option<Alert>, AlertStoreError>;
    /// The live alert merging repeats of `dedup_key`.
    ///
    /// # Errors
    /// If the store could not be read.
    fn live_by_dedup(&self, dedup_key: &str) -> Result<Option<Alert>, AlertStoreError>;
    /// Every alert, newest first.
    ///
    /// # Errors
    /// If the store could not be read.
    fn alerts(&self) -> Result<Vec<Alert>, AlertStoreError>;
    /// Inserts or replaces a suppression.
    ///
    /// # Errors
    /// If it could not be stored durably.
    fn put_suppression(&self, s: &Suppression) -> Result<(), AlertStoreError>;
    /// Every suppression, oldest first.
    ///
    /// # Errors
    /// If the store could not be read.
    fn suppressions(&self) -> Result<Vec<Suppression>, AlertStoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Entity, EntityKind, Evidence};

    fn finding(detector: &str, entity: &str, sev: Severity) -> Finding {
        Finding {
            uid: format!("{detector}:principal:{entity}:7"),
            detector: detector.into(),
            title: "t".into(),
            severity: sev,
            entity: Entity {
                kind: EntityKind::Principal,
                id: entity.into(),
            },
            window_s: 3600,
            first_seen_ms: 1_000,
            last_seen_ms: 2_000,
            time_ms: 2_000,
            raised_at_index: 7,
            analytic_type: 3,
            evidence: Evidence::default(),
        }
    }

    fn by(at_ms: i64) -> Transition {
        Transition {
            by: "ana".into(),
            at_ms,
            note: None,
        }
    }

    #[test]
    fn lifecycle_and_sla() -> Result<(), TransitionError> {
        let sla = AckSla::default();
        let mut a = Alert::raise(
            finding("x", "emp-1", Severity::Critical),
            10_000,
            &sla,
            None,
        );
        assert_eq!(a.status, AlertStatus::Open);
        assert_eq!(a.ack_due_ms, 10_000 + 15 * 60_000);
        assert!(!a.sla_breached(10_000 + 15 * 60_000));
        assert!(a.sla_breached(10_001 + 15 * 60_000));
        a.acknowledge(by(20_000))?;
        assert_eq!(a.time_to_ack_ms(), Some(10_000));
        assert!(!a.sla_breached(i64::MAX));
        assert!(matches!(
            a.acknowledge(by(30_000)),
            Err(TransitionError::NotOpen { .. })
        ));
        a.close(by(40_000))?;
        assert_eq!(a.status, AlertStatus::Closed);
        assert!(matches!(
            a.close(by(50_000)),
            Err(TransitionError::AlreadyClosed { .. })
        ));
        // Acknowledged late.
        let mut late = Alert::raise(finding("x", "emp-2", Severity::High), 0, &sla, None);
        late.acknowledge(by(60 * 60_000 + 1))?;
        assert!(late.sla_breached(0));
        Ok(())
    }

    #[test]
    fn merge_raises_severity_and_counts() {
        let sla = AckSla::default();
        let mut a = Alert::raise(finding("x", "emp-1", Severity::Medium), 0, &sla, None);
        let mut again = finding("x", "emp-1", Severity::High);
        again.uid = "x:principal:emp-1:9".into();
        again.last_seen_ms = 9_000;
        a.merge(&again);
        assert_eq!(a.occurrences, 2);
        assert_eq!(a.finding.severity, Severity::High);
        assert_eq!(a.last_seen_ms, 9_000);
        assert_eq!(a.latest_finding.as_deref(), Some("x:principal:emp-1:9"));
    }

    #[test]
    fn suppression_matching() {
        let s = Suppression {
            id: "s1".into(),
            detector: Some("distinct_subjects.*".into()),
            entity: Some("svc-billing".into()),
            reason: "nightly billing".into(),
            created_by: "ana".into(),
            created_ms: 0,
            until_ms: 1_000,
            lifted: None,
        };
        let f = finding(
            "distinct_subjects.principal.1h",
            "svc-billing",
            Severity::High,
        );
        assert!(s.matches(&f, 999));
        assert!(!s.matches(&f, 1_000), "expired");
        assert!(!s.matches(
            &finding("token.never_issued", "svc-billing", Severity::High),
            0
        ));
        assert!(!s.matches(
            &finding("distinct_subjects.principal.1h", "emp-1", Severity::High),
            0
        ));
        let mut lifted = s.clone();
        lifted.lifted = Some(by(10));
        assert!(!lifted.matches(&f, 500));
        let suppressed = Alert::raise(f, 0, &AckSla::default(), Some("s1"));
        assert_eq!(suppressed.status, AlertStatus::Suppressed);
        assert!(!suppressed.sla_breached(i64::MAX));
    }
}
