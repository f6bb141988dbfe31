//! Incidents as data, for privacy officers: which notices a breach
//! triggers, where, by when, and what they must say. No HTTP, no database,
//! no system clock: every `now` is an argument.
//!
//! - [`parse_rules`] reads the disclosure rules file
//!   (`rules/disclosure/jurisdictions.toml`, shipped as [`SHIPPED_RULES`]),
//!   every error with its field path.
//! - [`assess`] turns the rules, an incident's moments, facts and scope
//!   ([`Case`], from [`Incident::case`]) into [`Obligation`]s with exact due
//!   times and statuses, plus the rules not triggered and why.
//! - [`Incident`] moves open → contained → notified → closed; awareness is
//!   corrected only with a reason, kept in history.
//! - [`draft_notice`] writes a Markdown draft per obligation.
//! - [`check_prune`] refuses deletions under an active legal [`Hold`].
//!
//! Not legal advice: the rules file is meant to be reviewed by counsel.
//! Design and formats: `docs/incidents.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod calendar;
mod deadline;
mod hold;
mod incident;
mod notice;
mod rules;

// The public interface is:
pub use calendar::{format_duration, format_time};
pub use deadline::{
    Assessment, Case, ContractParty, Obligation, ScopeSummary, Selectors, Skipped, Status,
    TimeWindow, assess,
};
pub use hold::{Hold, HoldError, HoldViolation, Lifted, PruneKind, PruneRequest, check_prune};
pub use incident::{
    Correction, Incident, IncidentError, IncidentStatus, MAX_LONG_TEXT, MAX_SHORT_TEXT, Moment,
    NewIncident, Notification, ScopeSnapshot, Severity, Source, TimelineItem, TimelineKind,
};
pub use notice::{Notice, TO_COMPLETE, draft_notice, draft_notices};
pub use rules::{
    Audience, Calendar, Clock, Deadline, MAX_RULES_BYTES, RULES_VERSION, ReportField, Rule, Rules,
    RulesError, SHIPPED_RULES, Trigger, fuzz_rules, parse_rules,
};
