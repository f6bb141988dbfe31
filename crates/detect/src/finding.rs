//! What a detector raises: a [`Finding`], encoded as an OCSF 1.3.0
//! Detection Finding (class 2004).
//!
//! Schema reference: `ocsf/ocsf-schema` v1.3.0
//! `events/findings/detection_finding.json`, `events/findings/finding.json`,
//! `objects/{finding_info,analytic,evidences,resource_details}.json`.
//! `activity_id` 1 Create, 2 Update, 3 Close; `status_id` 1 New,
//! 2 In Progress, 3 Suppressed, 4 Resolved; `severity_id` 1 Informational …
//! 5 Critical; `analytic.type_id` 1 Rule, 2 Behavioral, 3 Statistical.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// `metadata.log_name` of findings and alert lifecycle entries.
pub const DETECT_LOG_NAME: &str = "custos.detect";

/// How bad it is (OCSF `severity_id` 2–5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// OCSF 2.
    Low,
    /// OCSF 3.
    Medium,
    /// OCSF 4.
    High,
    /// OCSF 5.
    Critical,
}

impl Severity {
    /// The OCSF `severity_id`.
    #[must_use]
    pub fn ocsf_id(self) -> u8 {
        match self {
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
        }
    }

    /// Lower-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// From a Sigma `level` or our own name.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Severity> {
        match s {
            "informational" | "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A principal (`actor.user.uid`).
    Principal,
    /// A token-signing key (`unmapped.custos.kid`).
    Kid,
    /// A token issuer (`actor.session.issuer`).
    Issuer,
    /// A source network (IPv4 /24, IPv6 /48 of `src_endpoint.ip`).
    Network,
    /// A source country (`src_endpoint.location.country`).
    Country,
    /// A dataset (`resources[0].name`).
    Dataset,
}

impl EntityKind {
    /// Every kind.
    pub const ALL: [EntityKind; 6] = [
        EntityKind::Principal,
        EntityKind::Kid,
        EntityKind::Issuer,
        EntityKind::Network,
        EntityKind::Country,
        EntityKind::Dataset,
    ];

    /// Snake-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Principal => "principal",
            EntityKind::Kid => "kid",
            EntityKind::Issuer => "issuer",
            EntityKind::Network => "network",
            EntityKind::Country => "country",
            EntityKind::Dataset => "dataset",
        }
    }
}

/// An entity: kind and identifier.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Entity {
    /// Kind.
    pub kind: EntityKind,
    /// Identifier (principal id, kid, issuer URL, CIDR, country code,
    /// dataset name).
    pub id: String,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.id)
    }
}

/// The reference a count was compared with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// `threshold` (a fixed floor), `self` (the entity's own history) or
    /// `peer` (its peer group's).
    pub kind: String,
    /// The reference value (e.g. the entity's usual daily distinct
    /// subjects, the peer group's 99th percentile).
    pub value: f64,
    /// The limit the count broke (value × factor, or the floor).
    pub limit: f64,
    /// The peer group, for `peer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// Why a finding was raised: counts, the window and the ledger entries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Ledger indices of entries that contributed (the first ones, at most
    /// [`MAX_EVIDENCE_INDICES`]).
    pub indices: Vec<u64>,
    /// Entries that contributed in the window.
    pub events: u64,
    /// Distinct subjects in the window (exact or estimated: see
    /// `estimated`).
    pub subjects: u64,
    /// True if `subjects` comes from a sketch (±1.63 % standard error).
    #[serde(default)]
    pub estimated: bool,
    /// The references it broke.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baselines: Vec<Baseline>,
    /// Detector-specific facts (refusal code, country, coverage share, …).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, Value>,
}

/// Indices kept as evidence per finding.
pub const MAX_EVIDENCE_INDICES: usize = 64;

/// A detection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable identifier: `{detector}:{entity kind}:{entity}:{first index}`.
    pub uid: String,
    /// The detector or rule id (`distinct_subjects.principal.1h`,
    /// `token.never_issued`, `sigma:<rule id>`).
    pub detector: String,
    /// Human title.
    pub title: String,
    /// How bad.
    pub severity: Severity,
    /// What it is about.
    pub entity: Entity,
    /// Window length in seconds (0 for single-event findings).
    pub window_s: u64,
    /// First and last contributing access (ms since the epoch).
    pub first_seen_ms: i64,
    /// Last contributing access.
    pub last_seen_ms: i64,
    /// When it was raised (detector clock: the time of the entry that
    /// raised it).
    pub time_ms: i64,
    /// Ledger index of the entry that raised it.
    pub raised_at_index: u64,
    /// `1 Rule`, `2 Behavioral`, `3 Statistical` (OCSF analytic type).
    pub analytic_type: u8,
    /// Why.
    pub evidence: Evidence,
}

impl Finding {
    /// The key under which repeats are merged: detector + entity.
    #[must_use]
    pub fn dedup_key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.detector,
            self.entity.kind.as_str(),
            self.entity.id
        )
    }

    /// The OCSF 1.3.0 Detection Finding (class 2004) of this finding with
    /// `activity_id` (1 Create, 2 Update, 3 Close) and `status_id` (1 New,
    /// 2 In Progress, 3 Suppressed, 4 Resolved), at `time_ms`.
    #[must_use]
    pub fn to_ocsf(&self, activity_id: u8, status_id: u8, time_ms: i64) -> Value {
        let analytic_name = match self.analytic_type {
            1 => "Rule",
            2 => "Behavioral",
            _ => "Statistical",
        };
        let mut evidence = json!({
            "data": {
                "ledger_indices": self.evidence.indices,
                "events": self.evidence.events,
                "subjects": self.evidence.subjects,
                "estimated": self.evidence.estimated,
                "window_s": self.window_s,
                "baselines": self.evidence.baselines,
                "details": self.evidence.details,
            }
        });
        if let Some(obj) = evidence.as_object_mut() {
            match self.entity.kind {
                EntityKind::Principal => {
                    obj.insert("actor".into(), json!({"user": {"uid": self.entity.id}}));
                }
                EntityKind::Network | EntityKind::Country => {
                    let ep = if self.entity.kind == EntityKind::Country {
                        json!({"location": {"country": self.entity.id}})
                    } else {
                        json!({"subnet_uid": self.entity.id})
                    };
                    obj.insert("src_endpoint".into(), ep);
                }
                _ => {}
            }
        }
        json!({
            "activity_id": activity_id,
            "category_uid": 2,
            "class_uid": 2004,
            "count": self.evidence.events.max(1),
            "end_time": self.last_seen_ms,
            "evidences": [evidence],
            "finding_info": {
                "analytic": {
                    "name": self.detector,
                    "type": analytic_name,
                    "type_id": self.analytic_type,
                    "uid": self.detector,
                },
                "created_time": self.time_ms,
                "data_sources": ["custos ledger"],
                "first_seen_time": self.first_seen_ms,
                "last_seen_time": self.last_seen_ms,
                "title": self.title,
                "types": [self.detector],
                "uid": self.uid,
            },
            "message": self.title,
            "metadata": {
                "log_name": DETECT_LOG_NAME,
                "product": {"name": "Custos", "vendor_name": "Custos"},
                "uid": format!("{}#{}", self.uid, activity_id),
                "version": "1.3.0",
            },
            "resources": [{"type": self.entity.kind.as_str(), "uid": self.entity.id}],
            "severity_id": self.severity.ocsf_id(),
            "start_time": self.first_seen_ms,
            "status_id": status_id,
            "time": time_ms,
            "type_uid": 200_400 + u32::from(activity_id),
        })
    }
}
