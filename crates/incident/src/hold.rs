//! Legal holds (preservation orders): while a hold is active, nothing whose
//! event time falls in its range, for its datasets, may be pruned. Ledger
//! entries are never prunable at all (the log is append-only; removing an
//! entry breaks every later proof). Pure: `now` is an argument.
//!
//! Edges: a hold covers event times `from_ms <= t < to_ms` (`to_ms` absent:
//! open-ended); a prune request covers `from_ms <= t < to_ms`. They overlap
//! iff each starts before the other ends. A hold is active from
//! `placed_at_ms` (inclusive) until `lifted.at_ms` (exclusive).

use serde::{Deserialize, Serialize};

use crate::calendar::format_time;

/// A preservation order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hold {
    /// Stable id.
    pub id: String,
    /// Why (the order, the matter).
    pub reason: String,
    /// Case or docket reference, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_ref: Option<String>,
    /// Who placed it.
    pub placed_by: String,
    /// When it took effect (ms, UTC).
    pub placed_at_ms: i64,
    /// First event time held (inclusive).
    pub from_ms: i64,
    /// End of the event times held (exclusive); `None`: open-ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_ms: Option<i64>,
    /// Datasets held; empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<String>,
    /// Set when lifted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted: Option<Lifted>,
}

/// The lifting of a hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifted {
    /// Who lifted it.
    pub by: String,
    /// When it stopped applying (ms, UTC).
    pub at_ms: i64,
    /// Why.
    pub reason: String,
}

/// What a prune would remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PruneKind {
    /// Ledger entries: never prunable.
    LedgerEntries,
    /// Forensic index segments (derived, rebuildable only while the ledger
    /// holds the events, but held data must stay queryable).
    ForensicIndex,
    /// Alerts and findings.
    Alerts,
    /// Detector state and baselines.
    DetectorState,
    /// Exported evidence bundles.
    EvidenceBundles,
}

/// A request to delete data of event times `[from_ms, to_ms)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneRequest {
    /// What.
    pub kind: PruneKind,
    /// First event time removed (inclusive).
    pub from_ms: i64,
    /// End of the event times removed (exclusive).
    pub to_ms: i64,
    /// One dataset, or `None` for all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

/// Why a prune is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HoldViolation {
    /// The ledger is append-only.
    #[error("ledger entries are never prunable: the log is append-only")]
    LedgerNeverPrunable,
    /// `to_ms <= from_ms`.
    #[error("empty or reversed range: from {} to {}", format_time(*.from_ms), format_time(*.to_ms))]
    BadRange {
        /// Start.
        from_ms: i64,
        /// End.
        to_ms: i64,
    },
    /// An active hold covers part of the request.
    #[error("held by {hold_id} ({reason}) over {} to {}", format_time(*.overlap_from_ms), format_time(*.overlap_to_ms))]
    Held {
        /// The first overlapping hold (in the order given).
        hold_id: String,
        /// Its reason.
        reason: String,
        /// Start of the overlap (inclusive).
        overlap_from_ms: i64,
        /// End of the overlap (exclusive).
        overlap_to_ms: i64,
    },
}

/// A refused change to a hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HoldError {
    /// A text field is empty.
    #[error("{0}: must not be empty")]
    Empty(&'static str),
    /// `to_ms <= from_ms`.
    #[error("to_ms must be after from_ms")]
    BadRange,
    /// Already lifted.
    #[error("hold already lifted")]
    AlreadyLifted,
    /// Lifted before it was placed.
    #[error("cannot lift before the hold was placed")]
    LiftBeforePlaced,
}

impl Hold {
    /// Checks a new hold: non-empty texts, a non-empty range.
    pub fn validate(&self) -> Result<(), HoldError> {
        for (name, t) in [
            ("id", &self.id),
            ("reason", &self.reason),
            ("placed_by", &self.placed_by),
        ] {
            if t.trim().is_empty() {
                return Err(HoldError::Empty(name));
            }
        }
        if self.datasets.iter().any(|d| d.trim().is_empty()) {
            return Err(HoldError::Empty("datasets[]"));
        }
        if self.to_ms.is_some_and(|to| to <= self.from_ms) {
            return Err(HoldError::BadRange);
        }
        Ok(())
    }

    /// Lifts the hold at `now_ms`.
    pub fn lift(&mut self, by: &str, reason: &str, now_ms: i64) -> Result<(), HoldError> {
        if self.lifted.is_some() {
            return Err(HoldError::AlreadyLifted);
        }
        if by.trim().is_empty() {
            return Err(HoldError::Empty("by"));
        }
        if reason.trim().is_empty() {
            return Err(HoldError::Empty("reason"));
        }
        if now_ms < self.placed_at_ms {
            return Err(HoldError::LiftBeforePlaced);
        }
        self.lifted = Some(Lifted {
            by: by.to_owned(),
            at_ms: now_ms,
            reason: reason.to_owned(),
        });
        Ok(())
    }

    /// Whether the hold applies at `now_ms`: placed at or before it, not
    /// yet lifted at it.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.placed_at_ms <= now_ms && self.lifted.as_ref().is_none_or(|l| now_ms < l.at_ms)
    }

    fn covers_dataset(&self, dataset: Option<&str>) -> bool {
        match dataset {
            None => true,
            Some(d) => self.datasets.is_empty() || self.datasets.iter().any(|h| h == d),
        }
    }
}

/// Refuses a prune that touches data under an active hold, or any ledger
/// entry; `Ok(())` means no hold forbids it.
pub fn check_prune(holds: &[Hold], now_ms: i64, req: &PruneRequest) -> Result<(), HoldViolation> {
    if req.kind == PruneKind::LedgerEntries {
        return Err(HoldViolation::LedgerNeverPrunable);
    }
    if req.to_ms <= req.from_ms {
        return Err(HoldViolation::BadRange {
            from_ms: req.from_ms,
            to_ms: req.to_ms,
        });
    }
    for h in holds {
        if !h.is_active(now_ms) || !h.covers_dataset(req.dataset.as_deref()) {
            continue;
        }
        let hold_to = h.to_ms.unwrap_or(i64::MAX);
        let start = h.from_ms.max(req.from_ms);
        let end = hold_to.min(req.to_ms);
        if start < end {
            return Err(HoldViolation::Held {
                hold_id: h.id.clone(),
                reason: h.reason.clone(),
                overlap_from_ms: start,
                overlap_to_ms: end,
            });
        }
    }
    Ok(())
}
