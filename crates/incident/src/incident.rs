//! The incident: a record that only moves forward. Status goes open →
//! contained → notified → closed; the moment of awareness (which starts
//! most legal clocks) is set once and can only be changed by an explicit,
//! reasoned correction kept in its history; every change appends a
//! timeline item whose ledger index the caller fills once the change is in
//! the ledger. Pure: times are arguments. JSON field names are stable
//! (`docs/incidents.md`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::calendar::format_time;
use crate::deadline::{Case, ContractParty, ScopeSummary};

/// Longest id, name, fact or reference accepted.
pub const MAX_SHORT_TEXT: usize = 256;
/// Longest title, reason or timeline text accepted.
pub const MAX_LONG_TEXT: usize = 4096;

/// Where an incident is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Being investigated.
    Open,
    /// The access is stopped (keys revoked, accounts disabled…).
    Contained,
    /// At least one notification was sent.
    Notified,
    /// Done; nothing changes any more.
    Closed,
}

impl IncidentStatus {
    /// The only status this one may move to.
    pub fn next(self) -> Option<IncidentStatus> {
        match self {
            IncidentStatus::Open => Some(IncidentStatus::Contained),
            IncidentStatus::Contained => Some(IncidentStatus::Notified),
            IncidentStatus::Notified => Some(IncidentStatus::Closed),
            IncidentStatus::Closed => None,
        }
    }

    /// Its JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Contained => "contained",
            IncidentStatus::Notified => "notified",
            IncidentStatus::Closed => "closed",
        }
    }
}

impl std::fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

/// What opened the incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// Detector alerts (their ids).
    Alerts {
        /// Alert ids, at least one.
        alert_ids: Vec<String>,
    },
    /// A person (complaint, tip-off, the attacker's e-mail…).
    Manual {
        /// What prompted it.
        note: String,
    },
}

/// A correction of a [`Moment`]: the previous value, the reason, who and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// The value before the correction.
    pub previous_at_ms: i64,
    /// Who had set the previous value.
    pub previous_by: String,
    /// Why it changed.
    pub reason: String,
    /// Who corrected it.
    pub corrected_by: String,
    /// When it was corrected (ms, UTC).
    pub corrected_at_ms: i64,
}

/// A moment that starts legal clocks (awareness, materiality): set once,
/// then only corrected with a reason; corrections are kept, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Moment {
    /// The moment (ms, UTC).
    pub at_ms: i64,
    /// Who established it.
    pub by: String,
    /// When it was recorded (ms, UTC).
    pub recorded_at_ms: i64,
    /// Earlier values, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<Correction>,
}

/// The scope the incident relies on, pinned to a log size so it can be
/// proven against the checkpoint of that size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeSnapshot {
    /// The ledger checkpoint size the scope was computed at.
    pub checkpoint_size: u64,
    /// The scope.
    pub summary: ScopeSummary,
    /// When it was taken (ms, UTC).
    pub taken_at_ms: i64,
    /// Who took it.
    pub taken_by: String,
}

/// A notification that was sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    /// The rule it discharges (`contract:<id>` for contract parties).
    pub rule_id: String,
    /// Who was notified.
    pub party: String,
    /// When it was sent (ms, UTC).
    pub sent_at_ms: i64,
    /// Who sent it.
    pub sent_by: String,
    /// A reference (regulator's case number, filing accession number…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// What a timeline item records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    /// The incident was opened.
    Opened,
    /// Status changed.
    Status,
    /// Awareness corrected.
    AwarenessCorrected,
    /// Materiality determined or corrected.
    Materiality,
    /// A fact was recorded.
    Fact,
    /// A scope snapshot was recorded.
    Scope,
    /// A notification was recorded.
    Notification,
    /// A free note.
    Note,
}

/// One entry of the timeline. `ledger_index` is `None` until the caller
/// has appended the change to the ledger and called
/// [`Incident::set_ledger_index`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineItem {
    /// Position in the timeline, from 0.
    pub seq: u64,
    /// When (ms, UTC).
    pub at_ms: i64,
    /// Who.
    pub by: String,
    /// What kind of change.
    pub kind: TimelineKind,
    /// What happened, in words.
    pub text: String,
    /// The ledger entry recording it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_index: Option<u64>,
}

/// An incident. Build it with [`Incident::open`]; change it only through
/// its methods, which validate and append to the timeline. Deserialising
/// ([`Incident::from_json`]) re-checks the invariants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// Stable id.
    pub id: String,
    /// Short title.
    pub title: String,
    /// Where it is.
    pub status: IncidentStatus,
    /// How bad.
    pub severity: Severity,
    /// What opened it.
    pub source: Source,
    /// When it was opened (ms, UTC).
    pub opened_at_ms: i64,
    /// Who opened it.
    pub opened_by: String,
    /// When the organisation became aware of the breach.
    pub awareness: Moment,
    /// When it was determined material (SEC registrants).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub materiality: Option<Moment>,
    /// Recorded facts that rules test (see the rules file's header).
    #[serde(default)]
    pub facts: BTreeSet<String>,
    /// The latest scope snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopeSnapshot>,
    /// Notifications sent, in recording order.
    #[serde(default)]
    pub notifications: Vec<Notification>,
    /// Every change, in order.
    pub timeline: Vec<TimelineItem>,
}

/// What [`Incident::open`] needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIncident {
    /// Stable id.
    pub id: String,
    /// Short title.
    pub title: String,
    /// How bad.
    pub severity: Severity,
    /// What opened it.
    pub source: Source,
    /// Who opens it.
    pub opened_by: String,
    /// When the organisation became aware (ms, UTC; not after `now`).
    pub awareness_at_ms: i64,
    /// Who became aware.
    pub awareness_by: String,
}

/// A refused change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IncidentError {
    /// Only open → contained → notified → closed, one step at a time.
    #[error("cannot move from {from} to {to}: only {from} → {} is allowed", .from.next().map_or("nothing", IncidentStatus::as_str))]
    Transition {
        /// Current status.
        from: IncidentStatus,
        /// Requested status.
        to: IncidentStatus,
    },
    /// `notified` needs a recorded notification.
    #[error("cannot move to notified: no notification is recorded")]
    NoNotification,
    /// A closed incident does not change.
    #[error("incident is closed")]
    Closed,
    /// A text field is empty or too long.
    #[error("{field}: {reason}")]
    Text {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A moment lies after `now`.
    #[error("{field}: {} is after now ({})", format_time(*.at_ms), format_time(*.now_ms))]
    Future {
        /// The field.
        field: &'static str,
        /// The moment.
        at_ms: i64,
        /// Now.
        now_ms: i64,
    },
    /// A correction that changes nothing.
    #[error("{field}: the correction equals the current value")]
    Unchanged {
        /// The field.
        field: &'static str,
    },
    /// Materiality is already determined: correct it instead.
    #[error("materiality is already determined; correct it with a reason")]
    AlreadyDetermined,
    /// Materiality is not determined yet: nothing to correct.
    #[error("materiality is not determined yet")]
    NotDetermined,
    /// No timeline item with this sequence number.
    #[error("no timeline item {seq}")]
    NoTimelineItem {
        /// The sequence number.
        seq: u64,
    },
    /// The timeline item already has a different ledger index.
    #[error("timeline item {seq} already refers to ledger entry {existing}")]
    LedgerIndexSet {
        /// The sequence number.
        seq: u64,
        /// The index already there.
        existing: u64,
    },
    /// Stored JSON does not describe a valid incident.
    #[error("{path}: {message}")]
    Json {
        /// Field path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn short(field: &'static str, s: &str) -> Result<(), IncidentError> {
    text(field, s, MAX_SHORT_TEXT)
}

fn long(field: &'static str, s: &str) -> Result<(), IncidentError> {
    text(field, s, MAX_LONG_TEXT)
}

fn text(field: &'static str, s: &str, max: usize) -> Result<(), IncidentError> {
    if s.trim().is_empty() {
        return Err(IncidentError::Text {
            field,
            reason: "must not be empty",
        });
    }
    if s.len() > max {
        return Err(IncidentError::Text {
            field,
            reason: "too long",
        });
    }
    Ok(())
}

fn not_future(field: &'static str, at_ms: i64, now_ms: i64) -> Result<(), IncidentError> {
    if at_ms > now_ms {
        return Err(IncidentError::Future {
            field,
            at_ms,
            now_ms,
        });
    }
    Ok(())
}

static EMPTY_SCOPE: ScopeSummary = ScopeSummary {
    subjects: 0,
    by_category: std::collections::BTreeMap::new(),
    by_country: std::collections::BTreeMap::new(),
    by_region: std::collections::BTreeMap::new(),
    events: 0,
    first_access_ms: None,
    last_access_ms: None,
    selectors: crate::deadline::Selectors {
        principal: Vec::new(),
        kid: Vec::new(),
        src_country: Vec::new(),
        src_net: Vec::new(),
        dataset: Vec::new(),
    },
    window: crate::deadline::TimeWindow {
        from_ms: 0,
        to_ms: 0,
    },
};

impl Incident {
    /// Opens an incident at `now_ms`. Awareness must not be after `now`.
    pub fn open(new: NewIncident, now_ms: i64) -> Result<Incident, IncidentError> {
        short("id", &new.id)?;
        long("title", &new.title)?;
        short("opened_by", &new.opened_by)?;
        short("awareness.by", &new.awareness_by)?;
        match &new.source {
            Source::Alerts { alert_ids } => {
                if alert_ids.is_empty() {
                    return Err(IncidentError::Text {
                        field: "source.alert_ids",
                        reason: "must not be empty",
                    });
                }
                for a in alert_ids {
                    short("source.alert_ids[]", a)?;
                }
            }
            Source::Manual { note } => long("source.note", note)?,
        }
        not_future("awareness.at_ms", new.awareness_at_ms, now_ms)?;
        let mut incident = Incident {
            id: new.id,
            title: new.title,
            status: IncidentStatus::Open,
            severity: new.severity,
            source: new.source,
            opened_at_ms: now_ms,
            opened_by: new.opened_by.clone(),
            awareness: Moment {
                at_ms: new.awareness_at_ms,
                by: new.awareness_by,
                recorded_at_ms: now_ms,
                corrections: Vec::new(),
            },
            materiality: None,
            facts: BTreeSet::new(),
            scope: None,
            notifications: Vec::new(),
            timeline: Vec::new(),
        };
        let text = format!(
            "opened; aware since {} ({})",
            format_time(incident.awareness.at_ms),
            incident.awareness.by
        );
        incident.push(now_ms, &new.opened_by, TimelineKind::Opened, text);
        Ok(incident)
    }

    fn push(&mut self, at_ms: i64, by: &str, kind: TimelineKind, text: String) -> u64 {
        let seq = self.timeline.len() as u64;
        self.timeline.push(TimelineItem {
            seq,
            at_ms,
            by: by.to_owned(),
            kind,
            text,
            ledger_index: None,
        });
        seq
    }

    fn writable(&self) -> Result<(), IncidentError> {
        if self.status == IncidentStatus::Closed {
            return Err(IncidentError::Closed);
        }
        Ok(())
    }

    /// Moves to `to`, which must be the next status; `notified` needs a
    /// recorded notification. Returns the timeline item's `seq`.
    pub fn transition(
        &mut self,
        to: IncidentStatus,
        by: &str,
        now_ms: i64,
    ) -> Result<u64, IncidentError> {
        short("by", by)?;
        if self.status.next() != Some(to) {
            return Err(IncidentError::Transition {
                from: self.status,
                to,
            });
        }
        if to == IncidentStatus::Notified && self.notifications.is_empty() {
            return Err(IncidentError::NoNotification);
        }
        let text = format!("status {} → {to}", self.status);
        self.status = to;
        Ok(self.push(now_ms, by, TimelineKind::Status, text))
    }

    /// Corrects the moment of awareness with a reason; the previous value
    /// is kept in `awareness.corrections`. Deadlines follow the new value.
    pub fn correct_awareness(
        &mut self,
        at_ms: i64,
        reason: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<u64, IncidentError> {
        self.writable()?;
        long("reason", reason)?;
        short("by", by)?;
        not_future("awareness.at_ms", at_ms, now_ms)?;
        let previous = self.awareness.at_ms;
        correct(
            &mut self.awareness,
            "awareness.at_ms",
            at_ms,
            reason,
            by,
            now_ms,
        )?;
        let text = format!(
            "awareness corrected {} → {}: {reason}",
            format_time(previous),
            format_time(at_ms)
        );
        Ok(self.push(now_ms, by, TimelineKind::AwarenessCorrected, text))
    }

    /// Records the materiality determination (once; see
    /// [`Incident::correct_materiality`]).
    pub fn determine_materiality(
        &mut self,
        at_ms: i64,
        by: &str,
        now_ms: i64,
    ) -> Result<u64, IncidentError> {
        self.writable()?;
        short("by", by)?;
        not_future("materiality.at_ms", at_ms, now_ms)?;
        if self.materiality.is_some() {
            return Err(IncidentError::AlreadyDetermined);
        }
        self.materiality = Some(Moment {
            at_ms,
            by: by.to_owned(),
            recorded_at_ms: now_ms,
            corrections: Vec::new(),
        });
        let text = format!("determined material at {}", format_time(at_ms));
        Ok(self.push(now_ms, by, TimelineKind::Materiality, text))
    }

    /// Corrects the materiality determination with a reason.
    pub fn correct_materiality(
        &mut self,
        at_ms: i64,
        reason: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<u64, IncidentError> {
        self.writable()?;
        long("reason", reason)?;
        short("by", by)?;
        not_future("materiality.at_ms", at_ms, now_ms)?;
        let Some(m) = self.materiality.as_mut() else {
            return Err(IncidentError::NotDetermined);
        };
        let previous = m.at_ms;
        correct(m, "materiality.at_ms", at_ms, reason, by, now_ms)?;
        let text = format!(
            "materiality corrected {} → {}: {reason}",
            format_time(previous),
            format_time(at_ms)
        );
        Ok(self.push(now_ms, by, TimelineKind::Materiality, text))
    }

    /// Records a fact that rules test (e.g. `wrongful_purpose`). Recording
    /// a fact already there changes nothing and adds no timeline item.
    pub fn record_fact(
        &mut self,
        fact: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<Option<u64>, IncidentError> {
        self.writable()?;
        short("fact", fact)?;
        short("by", by)?;
        if !self.facts.insert(fact.to_owned()) {
            return Ok(None);
        }
        Ok(Some(self.push(
            now_ms,
            by,
            TimelineKind::Fact,
            format!("fact recorded: {fact}"),
        )))
    }

    /// Records a scope snapshot (replacing the previous one; the timeline
    /// keeps each one's size and counts).
    pub fn record_scope(
        &mut self,
        snapshot: ScopeSnapshot,
        now_ms: i64,
    ) -> Result<u64, IncidentError> {
        self.writable()?;
        short("scope.taken_by", &snapshot.taken_by)?;
        not_future("scope.taken_at_ms", snapshot.taken_at_ms, now_ms)?;
        let text = format!(
            "scope at checkpoint size {}: {} subjects, {} events",
            snapshot.checkpoint_size, snapshot.summary.subjects, snapshot.summary.events
        );
        let by = snapshot.taken_by.clone();
        self.scope = Some(snapshot);
        Ok(self.push(now_ms, &by, TimelineKind::Scope, text))
    }

    /// Records a notification that was sent (not after `now`).
    pub fn record_notification(
        &mut self,
        n: Notification,
        now_ms: i64,
    ) -> Result<u64, IncidentError> {
        self.writable()?;
        short("rule_id", &n.rule_id)?;
        short("party", &n.party)?;
        short("sent_by", &n.sent_by)?;
        if let Some(r) = &n.reference {
            short("reference", r)?;
        }
        not_future("sent_at_ms", n.sent_at_ms, now_ms)?;
        let text = format!(
            "notified {} under {} at {}",
            n.party,
            n.rule_id,
            format_time(n.sent_at_ms)
        );
        let by = n.sent_by.clone();
        self.notifications.push(n);
        Ok(self.push(now_ms, &by, TimelineKind::Notification, text))
    }

    /// Adds a free note to the timeline.
    pub fn note(&mut self, text: &str, by: &str, now_ms: i64) -> Result<u64, IncidentError> {
        self.writable()?;
        long("text", text)?;
        short("by", by)?;
        Ok(self.push(now_ms, by, TimelineKind::Note, text.to_owned()))
    }

    /// Records which ledger entry holds timeline item `seq`. Setting the
    /// same index again is a no-op; a different one is refused. Allowed on
    /// closed incidents (the closing item needs its index too).
    pub fn set_ledger_index(&mut self, seq: u64, index: u64) -> Result<(), IncidentError> {
        let item = self
            .timeline
            .iter_mut()
            .find(|i| i.seq == seq)
            .ok_or(IncidentError::NoTimelineItem { seq })?;
        match item.ledger_index {
            Some(existing) if existing != index => {
                Err(IncidentError::LedgerIndexSet { seq, existing })
            }
            _ => {
                item.ledger_index = Some(index);
                Ok(())
            }
        }
    }

    /// The inputs of [`crate::assess`]: current awareness and materiality,
    /// the latest scope (an empty one if none is recorded), facts and
    /// notifications, plus the given contract parties.
    pub fn case<'a>(&'a self, contract_parties: &'a [ContractParty]) -> Case<'a> {
        Case {
            awareness_ms: self.awareness.at_ms,
            materiality_ms: self.materiality.as_ref().map(|m| m.at_ms),
            scope: self.scope.as_ref().map_or(&EMPTY_SCOPE, |s| &s.summary),
            facts: &self.facts,
            contract_parties,
            notifications: &self.notifications,
        }
    }

    /// Serialises to JSON (the documented field names).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads an incident stored as JSON, with the field path of the first
    /// problem, and re-checks what the methods guarantee: a timeline
    /// numbered 0…n−1 that starts with `opened`, and `notified`/`closed`
    /// only with a notification.
    pub fn from_json(data: &[u8]) -> Result<Incident, IncidentError> {
        let de = &mut serde_json::Deserializer::from_slice(data);
        let incident: Incident =
            serde_path_to_error::deserialize(de).map_err(|e| IncidentError::Json {
                path: e.path().to_string(),
                message: e.into_inner().to_string(),
            })?;
        let bad = |path: &str, message: &str| IncidentError::Json {
            path: path.to_owned(),
            message: message.to_owned(),
        };
        if incident.timeline.first().map(|i| i.kind) != Some(TimelineKind::Opened) {
            return Err(bad(
                "timeline[0].kind",
                "the timeline must start with `opened`",
            ));
        }
        if let Some((i, _)) = incident
            .timeline
            .iter()
            .enumerate()
            .find(|(i, item)| item.seq != *i as u64)
        {
            return Err(bad(
                &format!("timeline[{i}].seq"),
                "must equal the position",
            ));
        }
        if incident.status >= IncidentStatus::Notified && incident.notifications.is_empty() {
            return Err(bad(
                "notifications",
                "notified or closed without a notification",
            ));
        }
        Ok(incident)
    }
}

fn correct(
    m: &mut Moment,
    field: &'static str,
    at_ms: i64,
    reason: &str,
    by: &str,
    now_ms: i64,
) -> Result<(), IncidentError> {
    if m.at_ms == at_ms {
        return Err(IncidentError::Unchanged { field });
    }
    m.corrections.push(Correction {
        previous_at_ms: m.at_ms,
        previous_by: std::mem::replace(&mut m.by, by.to_owned()),
        reason: reason.to_owned(),
        corrected_by: by.to_owned(),
        corrected_at_ms: now_ms,
    });
    m.at_ms = at_ms;
    m.recorded_at_ms = now_ms;
    Ok(())
}
