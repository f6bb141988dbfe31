//! The governance file (TOML or JSON): suppliers with their contract terms,
//! sub-processors, accounts and questionnaire answers; datasets with their
//! regions and the jurisdictions of their subjects; the transfer bases the
//! company holds; who manages whom; the cost model. Unknown keys are
//! refused; every error names the field (`suppliers[0].contract.…`).
//!
//! ```toml
//! [[suppliers]]
//! id = "acme-support"
//! name = "Acme Support Ltd"
//! country = "PH"
//! services = ["customer support"]
//! contacts = [{ name = "Kim", role = "security", email = "sec@acme.example" }]
//! [suppliers.contract]
//! incident_notification_hours = 24
//! log_review_rights = true
//! audit_rights = true
//! subprocessing_requires_written_consent = true
//! max_access_validity_days = 30
//! offboarding_deadline_hours = 24
//! allowed_datasets = ["customers"]
//! allowed_categories = ["name", "phone"]
//! [[suppliers.subprocessors]]
//! id = "callco"
//! name = "CallCo"
//! country = "VN"
//! consent = "pending"
//! [[suppliers.accounts]]
//! principal = "sup-acme-001"
//! kind = "staff"
//!
//! [[datasets]]
//! id = "customers"
//! records = 33700000
//! primary = { region = "ap-northeast-2", country = "KR" }
//! backups = [{ region = "ap-southeast-1", country = "SG" }]
//! subject_jurisdictions = ["KR", "JP", "TW"]
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::assess::QUESTIONS;
use crate::error::ParseError;
use crate::residency;

/// Largest governance file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 4 << 20;
/// Most entries of any one list in the file.
pub const MAX_LIST: usize = 10_000;

/// The parsed, validated governance file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernFile {
    /// Suppliers (vendors) with access to personal data.
    #[serde(default)]
    pub suppliers: Vec<Supplier>,
    /// Datasets of personal data and where they live.
    #[serde(default)]
    pub datasets: Vec<Dataset>,
    /// The cross-border transfer bases the company holds.
    #[serde(default)]
    pub transfer_bases: Vec<TransferBasis>,
    /// Reporting lines for escalation.
    #[serde(default)]
    pub org: Org,
    /// The per-record cost of exposed records.
    #[serde(default)]
    pub money: MoneySettings,
}

/// A supplier: profile, contacts, contract, sub-processors, accounts and
/// the answers to the assessment questionnaire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supplier {
    /// Unique id.
    pub id: String,
    /// Legal name.
    pub name: String,
    /// Country of establishment (ISO 3166-1 alpha-2).
    pub country: String,
    /// What it does for the company.
    #[serde(default)]
    pub services: Vec<String>,
    /// People to reach (a `security` contact is expected).
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// The contract's data-security terms.
    pub contract: ContractTerms,
    /// Its sub-processors and whether the company consented in writing.
    #[serde(default)]
    pub subprocessors: Vec<SubProcessor>,
    /// Its staff principals and service accounts in the directory.
    #[serde(default)]
    pub accounts: Vec<Account>,
    /// Answers to the questionnaire ([`QUESTIONS`]), by question id.
    #[serde(default)]
    pub answers: Vec<Answer>,
}

/// Someone at the supplier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Name.
    pub name: String,
    /// Role: `security`, `privacy`, `account`, … (free text).
    pub role: String,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Telephone number.
    #[serde(default)]
    pub phone: Option<String>,
}

/// The data-security terms of a supplier contract, as data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractTerms {
    /// Hours within which the supplier must notify the company of an
    /// incident (1..=8760).
    pub incident_notification_hours: u32,
    /// The company may review the supplier's access logs.
    pub log_review_rights: bool,
    /// The company may audit the supplier.
    pub audit_rights: bool,
    /// Sub-processing only with the company's prior written consent.
    pub subprocessing_requires_written_consent: bool,
    /// Longest validity of one access grant, in days (1..=3650).
    pub max_access_validity_days: u32,
    /// Hours from a person leaving the supplier to the revocation of their
    /// access (1..=8760).
    pub offboarding_deadline_hours: u32,
    /// Datasets the contract lets the supplier reach (absent: not limited
    /// by the contract).
    #[serde(default)]
    pub allowed_datasets: Option<BTreeSet<String>>,
    /// Data categories the contract lets the supplier reach (absent: not
    /// limited by the contract).
    #[serde(default)]
    pub allowed_categories: Option<BTreeSet<String>>,
}

/// The company's consent to a sub-processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// Consented in writing.
    Written,
    /// Asked for, not given yet.
    Pending,
    /// Refused.
    Refused,
    /// Never asked (the company learnt of it otherwise).
    None,
}

impl Consent {
    /// The name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Consent::Written => "written",
            Consent::Pending => "pending",
            Consent::Refused => "refused",
            Consent::None => "none",
        }
    }
}

/// A sub-processor of a supplier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubProcessor {
    /// Id, unique within the supplier.
    pub id: String,
    /// Legal name.
    pub name: String,
    /// Country (ISO 3166-1 alpha-2).
    pub country: String,
    /// The company's consent.
    pub consent: Consent,
    /// When consent was given (RFC 3339), if it was.
    #[serde(default, with = "crate::time::rfc3339_opt")]
    pub consent_date: Option<i64>,
}

/// Whether an account is a person or a machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A named member of the supplier's (or sub-processor's) staff.
    Staff,
    /// A service account.
    Service,
}

/// A principal of the supplier in the company's directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// The principal id (as grants and access events name it).
    pub principal: String,
    /// Staff or service account.
    pub kind: AccountKind,
    /// For staff of a sub-processor: its id.
    #[serde(default)]
    pub subprocessor: Option<String>,
}

/// An answer to one questionnaire question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerValue {
    /// The control is in place.
    Yes,
    /// Partly.
    Partial,
    /// Not in place.
    No,
    /// Does not apply.
    NotApplicable,
}

impl AnswerValue {
    /// The name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerValue::Yes => "yes",
            AnswerValue::Partial => "partial",
            AnswerValue::No => "no",
            AnswerValue::NotApplicable => "not_applicable",
        }
    }
}

/// The supplier's answer to a question, with the evidence attached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// The question id (e.g. `AM-2`).
    pub question: String,
    /// The answer.
    pub answer: AnswerValue,
    /// What backs it (document, report section, link).
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// Where a copy of a dataset is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// The cloud region or site name.
    pub region: String,
    /// Its country (ISO 3166-1 alpha-2).
    pub country: String,
}

/// A dataset of personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Id, as grants and access events name it.
    pub id: String,
    /// Records (data subjects) it holds; the exposure base for money at risk.
    #[serde(default)]
    pub records: u64,
    /// The primary copy.
    pub primary: Location,
    /// Backup and replica copies.
    #[serde(default)]
    pub backups: Vec<Location>,
    /// Jurisdictions of its data subjects (ISO 3166-1 alpha-2, or `EU`).
    pub subject_jurisdictions: Vec<String>,
}

/// A transfer basis the company holds for data of subjects of one
/// jurisdiction going to one country (storage there, or access from there).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferBasis {
    /// The dataset.
    pub dataset: String,
    /// The subjects' jurisdiction whose law needs the basis (`KR`, `EU`, …).
    pub jurisdiction: String,
    /// The destination country (ISO 3166-1 alpha-2).
    pub to: String,
    /// The basis, one of the jurisdiction's regime's basis ids
    /// ([`residency::regimes`]), e.g. `pipa-28-8-1-3`, `gdpr-46-scc`.
    pub basis: String,
    /// The document that establishes it (privacy policy section, contract).
    pub reference: String,
}

/// Reporting lines for escalation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Org {
    /// Each owner's manager.
    #[serde(default)]
    pub managers: BTreeMap<String, String>,
    /// The executive role escalated to last (default `ciso`).
    #[serde(default = "default_executive")]
    pub executive: String,
    /// Days overdue before the owner's manager is told (default 3).
    #[serde(default = "default_manager_days")]
    pub manager_after_days: u32,
    /// Days overdue before the executive is told (default 7).
    #[serde(default = "default_executive_days")]
    pub executive_after_days: u32,
}

fn default_executive() -> String {
    "ciso".into()
}
fn default_manager_days() -> u32 {
    3
}
fn default_executive_days() -> u32 {
    7
}

impl Default for Org {
    fn default() -> Org {
        Org {
            managers: BTreeMap::new(),
            executive: default_executive(),
            manager_after_days: default_manager_days(),
            executive_after_days: default_executive_days(),
        }
    }
}

/// The cost model of exposed records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneySettings {
    /// Cost of one exposed record, in US cents (default
    /// [`DEFAULT_PER_RECORD_CENTS`](crate::DEFAULT_PER_RECORD_CENTS)).
    #[serde(default = "default_per_record")]
    pub per_record_usd_cents: u64,
}

fn default_per_record() -> u64 {
    crate::money::DEFAULT_PER_RECORD_CENTS
}

impl Default for MoneySettings {
    fn default() -> MoneySettings {
        MoneySettings {
            per_record_usd_cents: default_per_record(),
        }
    }
}

/// Parses and validates a governance file in TOML.
///
/// # Errors
/// [`ParseError`] naming the first field at fault.
pub fn parse_toml(text: &str) -> Result<GovernFile, ParseError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(ParseError::at("(file)", "larger than 4 MiB"));
    }
    let de = toml::Deserializer::parse(text).map_err(|e| {
        ParseError::at(
            "(syntax)",
            e.message().to_owned() + &line_of(text, e.span()),
        )
    })?;
    let file: GovernFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ParseError::at(
            path,
            inner.message().to_owned() + &line_of(text, inner.span()),
        )
    })?;
    file.validate()?;
    Ok(file)
}

/// Parses and validates a governance file in JSON (the same shape).
///
/// # Errors
/// [`ParseError`] naming the first field at fault.
pub fn parse_json(data: &[u8]) -> Result<GovernFile, ParseError> {
    if data.len() > MAX_FILE_BYTES {
        return Err(ParseError::at("(file)", "larger than 4 MiB"));
    }
    let mut de = serde_json::Deserializer::from_slice(data);
    let file: GovernFile = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| ParseError::at(e.path().to_string(), e.into_inner().to_string()))?;
    de.end()
        .map_err(|e| ParseError::at("(syntax)", e.to_string()))?;
    file.validate()?;
    Ok(file)
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(s) => {
            let line = text
                .get(..s.start)
                .map_or(0, |t| t.bytes().filter(|b| *b == b'\n').count())
                + 1;
            format!(" (line {line})")
        }
        None => String::new(),
    }
}

/// An identifier: 1..=128 bytes of `A-Z a-z 0-9 . _ - : @`.
pub(crate) fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'@'))
}

/// Free text: 1..=1024 bytes, no control characters.
pub(crate) fn is_text(s: &str) -> bool {
    !s.trim().is_empty() && s.len() <= 1024 && !s.chars().any(char::is_control)
}

/// ISO 3166-1 alpha-2 (shape only: two upper-case ASCII letters).
pub(crate) fn is_country(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

struct Check {
    first: Option<ParseError>,
}

impl Check {
    fn fail(&mut self, path: String, reason: &str) {
        if self.first.is_none() {
            self.first = Some(ParseError::at(path, reason));
        }
    }
    fn id(&mut self, s: &str, path: impl FnOnce() -> String) {
        if !is_id(s) {
            self.fail(path(), "must be 1-128 characters of A-Z a-z 0-9 . _ - : @");
        }
    }
    fn text(&mut self, s: &str, path: impl FnOnce() -> String) {
        if !is_text(s) {
            self.fail(
                path(),
                "must be 1-1024 bytes of text without control characters",
            );
        }
    }
    fn country(&mut self, s: &str, path: impl FnOnce() -> String) {
        if !is_country(s) {
            self.fail(
                path(),
                "must be an ISO 3166-1 alpha-2 code (two capital letters)",
            );
        }
    }
    fn range(&mut self, v: u32, lo: u32, hi: u32, path: impl FnOnce() -> String) {
        if !(lo..=hi).contains(&v) {
            self.fail(path(), &format!("must be {lo} to {hi}"));
        }
    }
    fn len<T>(&mut self, v: &[T], path: impl FnOnce() -> String) {
        if v.len() > MAX_LIST {
            self.fail(path(), "too many entries");
        }
    }
}

impl GovernFile {
    /// Checks every rule the parsers enforce (ids, ranges, references,
    /// uniqueness), so that a file built in code is held to the same rules.
    ///
    /// # Errors
    /// [`ParseError`] naming the first field at fault.
    pub fn validate(&self) -> Result<(), ParseError> {
        let mut c = Check { first: None };
        c.len(&self.suppliers, || "suppliers".into());
        c.len(&self.datasets, || "datasets".into());
        c.len(&self.transfer_bases, || "transfer_bases".into());
        let mut supplier_ids = BTreeSet::new();
        let mut principals = BTreeSet::new();
        for (i, s) in self.suppliers.iter().enumerate() {
            let p = |k: &str| format!("suppliers[{i}].{k}");
            c.id(&s.id, || p("id"));
            if !supplier_ids.insert(s.id.as_str()) {
                c.fail(p("id"), "duplicate supplier id");
            }
            c.text(&s.name, || p("name"));
            c.country(&s.country, || p("country"));
            for (j, v) in s.services.iter().enumerate() {
                c.text(v, || p(&format!("services[{j}]")));
            }
            for (j, k) in s.contacts.iter().enumerate() {
                c.text(&k.name, || p(&format!("contacts[{j}].name")));
                c.text(&k.role, || p(&format!("contacts[{j}].role")));
                if let Some(e) = &k.email
                    && !(is_text(e) && e.contains('@'))
                {
                    c.fail(p(&format!("contacts[{j}].email")), "not an e-mail address");
                }
            }
            let t = &s.contract;
            c.range(t.incident_notification_hours, 1, 8760, || {
                p("contract.incident_notification_hours")
            });
            c.range(t.max_access_validity_days, 1, 3650, || {
                p("contract.max_access_validity_days")
            });
            c.range(t.offboarding_deadline_hours, 1, 8760, || {
                p("contract.offboarding_deadline_hours")
            });
            for d in t.allowed_datasets.iter().flatten() {
                c.id(d, || p("contract.allowed_datasets"));
            }
            for d in t.allowed_categories.iter().flatten() {
                c.id(d, || p("contract.allowed_categories"));
            }
            let mut sp_ids = BTreeSet::new();
            c.len(&s.subprocessors, || p("subprocessors"));
            for (j, sp) in s.subprocessors.iter().enumerate() {
                c.id(&sp.id, || p(&format!("subprocessors[{j}].id")));
                if !sp_ids.insert(sp.id.as_str()) {
                    c.fail(
                        p(&format!("subprocessors[{j}].id")),
                        "duplicate sub-processor id",
                    );
                }
                c.text(&sp.name, || p(&format!("subprocessors[{j}].name")));
                c.country(&sp.country, || p(&format!("subprocessors[{j}].country")));
                if (sp.consent == Consent::Written) != sp.consent_date.is_some() {
                    c.fail(
                        p(&format!("subprocessors[{j}].consent_date")),
                        "required exactly when consent is written",
                    );
                }
            }
            c.len(&s.accounts, || p("accounts"));
            for (j, a) in s.accounts.iter().enumerate() {
                c.id(&a.principal, || p(&format!("accounts[{j}].principal")));
                if !principals.insert(a.principal.as_str()) {
                    c.fail(
                        p(&format!("accounts[{j}].principal")),
                        "principal already listed (each account belongs to one supplier)",
                    );
                }
                if let Some(sp) = &a.subprocessor
                    && !sp_ids.contains(sp.as_str())
                {
                    c.fail(
                        p(&format!("accounts[{j}].subprocessor")),
                        "not one of this supplier's sub-processors",
                    );
                }
            }
            let mut answered = BTreeSet::new();
            for (j, a) in s.answers.iter().enumerate() {
                if !QUESTIONS.iter().any(|q| q.id == a.question) {
                    c.fail(p(&format!("answers[{j}].question")), "not a question id");
                }
                if !answered.insert(a.question.as_str()) {
                    c.fail(p(&format!("answers[{j}].question")), "answered twice");
                }
                for (k, e) in a.evidence.iter().enumerate() {
                    c.text(e, || p(&format!("answers[{j}].evidence[{k}]")));
                }
            }
        }
        let mut dataset_ids = BTreeSet::new();
        for (i, d) in self.datasets.iter().enumerate() {
            let p = |k: &str| format!("datasets[{i}].{k}");
            c.id(&d.id, || p("id"));
            if !dataset_ids.insert(d.id.as_str()) {
                c.fail(p("id"), "duplicate dataset id");
            }
            c.id(&d.primary.region, || p("primary.region"));
            c.country(&d.primary.country, || p("primary.country"));
            for (j, b) in d.backups.iter().enumerate() {
                c.id(&b.region, || p(&format!("backups[{j}].region")));
                c.country(&b.country, || p(&format!("backups[{j}].country")));
            }
            if d.subject_jurisdictions.is_empty() {
                c.fail(p("subject_jurisdictions"), "at least one jurisdiction");
            }
            for (j, s) in d.subject_jurisdictions.iter().enumerate() {
                if s != "EU" {
                    c.country(s, || p(&format!("subject_jurisdictions[{j}]")));
                }
            }
        }
        let regimes = residency::regimes();
        for (i, b) in self.transfer_bases.iter().enumerate() {
            let p = |k: &str| format!("transfer_bases[{i}].{k}");
            if !dataset_ids.contains(b.dataset.as_str()) {
                c.fail(p("dataset"), "not a dataset of this file");
            }
            c.country(&b.to, || p("to"));
            c.text(&b.reference, || p("reference"));
            match regimes.iter().find(|r| r.jurisdiction == b.jurisdiction) {
                None => c.fail(
                    p("jurisdiction"),
                    "no transfer regime is known for this jurisdiction (known: KR, EU)",
                ),
                Some(r) => {
                    if !r.bases.iter().any(|x| x.id == b.basis) {
                        c.fail(p("basis"), "not a basis of that jurisdiction's regime");
                    }
                }
            }
        }
        for (owner, manager) in &self.org.managers {
            c.id(owner, || "org.managers".into());
            c.id(manager, || format!("org.managers.{owner}"));
        }
        c.id(&self.org.executive, || "org.executive".into());
        c.range(self.org.manager_after_days, 0, 365, || {
            "org.manager_after_days".into()
        });
        c.range(self.org.executive_after_days, 0, 365, || {
            "org.executive_after_days".into()
        });
        if self.org.executive_after_days < self.org.manager_after_days {
            c.fail(
                "org.executive_after_days".into(),
                "must not be less than manager_after_days",
            );
        }
        if self.money.per_record_usd_cents > 100_000_000 {
            c.fail(
                "money.per_record_usd_cents".into(),
                "must be at most 100000000",
            );
        }
        match c.first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The supplier with this id.
    pub fn supplier(&self, id: &str) -> Option<&Supplier> {
        self.suppliers.iter().find(|s| s.id == id)
    }

    /// The dataset with this id.
    pub fn dataset(&self, id: &str) -> Option<&Dataset> {
        self.datasets.iter().find(|d| d.id == id)
    }

    /// The supplier an account (principal) belongs to.
    pub fn supplier_of(&self, principal: &str) -> Option<&Supplier> {
        self.suppliers
            .iter()
            .find(|s| s.accounts.iter().any(|a| a.principal == principal))
    }
}

/// The fuzz entry point for the governance file: TOML and JSON parsers over
/// arbitrary bytes. Never panics; an accepted file re-validates, and
/// round-trips through JSON to an equal file.
///
/// # Errors
/// A broken invariant, in words (the fuzz target panics with it).
pub fn fuzz_govern_file(data: &[u8]) -> Result<bool, String> {
    let mut accepted = false;
    let text = String::from_utf8_lossy(data);
    for parsed in [parse_toml(&text), parse_json(data)] {
        match parsed {
            Ok(f) => {
                accepted = true;
                f.validate()
                    .map_err(|e| format!("accepted but invalid: {e}"))?;
                let json = serde_json::to_vec(&f).map_err(|e| e.to_string())?;
                let back = parse_json(&json).map_err(|e| format!("does not round-trip: {e}"))?;
                if back != f {
                    return Err("JSON round trip changed the file".into());
                }
            }
            Err(e) => {
                if e.path.is_empty() || e.reason.is_empty() {
                    return Err(format!("error without path or reason: {e:?}"));
                }
            }
        }
    }
    Ok(accepted)
}
