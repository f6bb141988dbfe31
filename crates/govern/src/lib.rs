//! Governance: who outside the company can reach personal data, where that
//! data lives, and whether every risk found is fixed, by whom and by when.
//! No HTTP, no database, no clock: every function takes `now`.
//!
//! - **Suppliers** ([`GovernFile`], [`parse_toml`], [`parse_json`]): profile,
//!   contacts, contract terms as data, sub-processors with consent status,
//!   staff and service accounts; questionnaire answers with evidence.
//! - **Assessment** ([`assess`]): four dimensions, questions mapped to CSA
//!   CCM v4, checked against live [`Evidence`] the caller fills from its
//!   stores; a score and a [`Tier`] with every [`Deduction`] named; as NIST
//!   OSCAL assessment results ([`oscal::assessment_results`]).
//! - **Residency** ([`residency_report`]): where each dataset is stored and
//!   from where it was accessed, against PIPA Art. 28-8, GDPR Chapter V and
//!   APPI Art. 28 as data ([`residency::regimes`]).
//! - **Remediation** ([`Finding`], [`escalation`], [`weekly_report`]):
//!   validated status transitions, escalation owner → manager → executive.
//! - **Money at risk** ([`exposure_cents`], [`fair_estimate`]).
//!
//! Design and sources: `docs/govern.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod assess;
mod error;
mod model;
mod money;
pub mod oscal;
mod remediation;
pub mod residency;
mod time;

// The public interface is:
pub use assess::{
    AccessFact, AlertFact, Assessment, Check, Deduction, Dimension, Evidence, GrantFact, Metrics,
    NOTIFICATION_CEILING_HOURS, Offboarding, PrincipalFact, QUESTIONS, Question, QuestionResult,
    STALE_AFTER_SECS, Tier, UnconsentedAccess, assess, metrics, parse_evidence,
};
pub use error::{ParseError, TransitionError};
pub use model::{
    Account, AccountKind, Answer, AnswerValue, Consent, Contact, ContractTerms, Dataset,
    GovernFile, Location, MAX_FILE_BYTES, MoneySettings, Org, SubProcessor, Supplier,
    TransferBasis, fuzz_govern_file, parse_json, parse_toml,
};
pub use money::{
    DEFAULT_COST_SOURCE, DEFAULT_PER_RECORD_CENTS, FairEstimate, FairInput, Range3, exposure_cents,
    fair_estimate, format_usd,
};
pub use remediation::{
    Change, Escalation, Finding, Level, Origin, Severity, Status, Update, WeeklyReport,
    apply_update, escalation, escalations_between, finding_from_violation,
    findings_from_assessment, fuzz_finding_json, parse_new_finding, parse_update, weekly_report,
};
pub use residency::{DatasetAccess, ResidencyReport, Violation, residency_report};
pub use time::{DAY, HOUR, format_rfc3339, parse_rfc3339};
