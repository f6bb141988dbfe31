//! Data residency: where each dataset's personal data is stored and from
//! which countries it was reached in a period, checked against the
//! cross-border transfer rules of its subjects' jurisdictions, held here as
//! data ([`regimes`]).
//!
//! Both storage abroad and access from abroad are transfers:
//! - Korea, PIPA Art. 28-8(1): "cross-border provision (**including
//!   inquiry**), entrusted processing, or storage" of personal information
//!   is a transfer, allowed only on one of the grounds of items 1–5.
//! - EU, GDPR Art. 44: any transfer to a third country only under
//!   Chapter V (Art. 45 adequacy, Art. 46 safeguards, Art. 47 binding
//!   corporate rules, Art. 49 derogations); the EDPB (Guidelines 05/2021 on
//!   the interplay between Art. 3 and Chapter V) treats making data
//!   available by remote access from a third country as a transfer.
//! - Japan, APPI Art. 28: provision to a third party in a foreign country
//!   needs prior consent, a country designated as equivalent, or a
//!   recipient with an equivalent system.
//!
//! A storage location or access country outside the jurisdiction, not
//! adequate for it, and without a [`TransferBasis`](crate::TransferBasis)
//! the company declared is a [`Violation`]; the caller raises an alert for
//! each.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::GovernFile;

/// One legal ground for a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BasisKind {
    /// Stable id, named by [`TransferBasis::basis`](crate::TransferBasis).
    pub id: &'static str,
    /// The article.
    pub article: &'static str,
    /// What it requires, in short.
    pub text: &'static str,
}

/// A jurisdiction's cross-border transfer rules, as data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Regime {
    /// The subjects' jurisdiction (`KR`, `EU`, `JP`).
    pub jurisdiction: &'static str,
    /// The law.
    pub law: &'static str,
    /// The article(s) implemented, and where to read them.
    pub citation: &'static str,
    /// Countries inside the jurisdiction (no transfer).
    pub covers: &'static [&'static str],
    /// Destinations recognised as adequate / equivalent (no further basis
    /// needed), with the decision cited in [`Regime::adequacy_citation`].
    pub adequate: &'static [&'static str],
    /// The decision(s) behind `adequate`.
    pub adequacy_citation: &'static str,
    /// The grounds a declared basis may name.
    pub bases: &'static [BasisKind],
}

/// EU member states and the other EEA states (GDPR applies through the EEA
/// Agreement).
const EEA: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

const REGIMES: &[Regime] = &[
    Regime {
        jurisdiction: "KR",
        law: "Personal Information Protection Act (Republic of Korea)",
        citation: "PIPA Art. 28-8(1) (amended 14 March 2023, in force 15 September 2023): \
                   cross-border provision (including inquiry), entrusted processing or storage \
                   only on one of items 1-5; English text: \
                   https://prighter.com/resources/laws/korean-pipa/main/articles/article-28-8",
        covers: &["KR"],
        // Item 5 recognitions are published by the PIPC one by one; none is
        // assumed here. Declare one as a basis `pipa-28-8-1-5` per country.
        adequate: &[],
        adequacy_citation: "PIPA Art. 28-8(1) item 5 (recognition by the Protection Commission; \
                            none assumed)",
        bases: &[
            BasisKind {
                id: "pipa-28-8-1-1",
                article: "PIPA Art. 28-8(1) item 1",
                text: "separate consent of the data subject",
            },
            BasisKind {
                id: "pipa-28-8-1-2",
                article: "PIPA Art. 28-8(1) item 2",
                text: "special provisions in a statute or a treaty or international convention",
            },
            BasisKind {
                id: "pipa-28-8-1-3",
                article: "PIPA Art. 28-8(1) item 3",
                text: "entrustment or storage necessary to conclude and perform a contract with \
                       the subject, with the Art. 28-8(2) matters disclosed in the privacy \
                       policy or sent to the subject",
            },
            BasisKind {
                id: "pipa-28-8-1-4",
                article: "PIPA Art. 28-8(1) item 4",
                text: "the recipient holds a certification notified by the Protection Commission \
                       (e.g. Art. 32-2) and takes the required measures",
            },
            BasisKind {
                id: "pipa-28-8-1-5",
                article: "PIPA Art. 28-8(1) item 5",
                text: "the Protection Commission recognised the destination country's protection \
                       as substantially equal",
            },
        ],
    },
    Regime {
        jurisdiction: "EU",
        law: "General Data Protection Regulation (EU) 2016/679",
        citation: "GDPR Chapter V, Art. 44-49 (Art. 44 general principle for transfers); remote \
                   access as transfer: EDPB Guidelines 05/2021",
        covers: EEA,
        // Commission adequacy decisions (Art. 45(3)); the United States only
        // for organisations certified under the EU-US Data Privacy Framework,
        // so not listed: declare `gdpr-45-adequacy` per recipient instead.
        adequate: &[
            "AD", "AR", "CA", "CH", "FO", "GB", "GG", "IL", "IM", "JE", "JP", "KR", "NZ", "UY",
        ],
        adequacy_citation: "GDPR Art. 45(3) Commission adequacy decisions, e.g. Republic of Korea: \
                            Commission Implementing Decision (EU) 2022/254; Canada: commercial \
                            organisations under PIPEDA only",
        bases: &[
            BasisKind {
                id: "gdpr-45-adequacy",
                article: "GDPR Art. 45",
                text: "adequacy decision covering the recipient",
            },
            BasisKind {
                id: "gdpr-46-scc",
                article: "GDPR Art. 46(2)(c)",
                text: "standard contractual clauses (Commission Implementing Decision (EU) 2021/914)",
            },
            BasisKind {
                id: "gdpr-47-bcr",
                article: "GDPR Art. 46(2)(b), Art. 47",
                text: "binding corporate rules",
            },
            BasisKind {
                id: "gdpr-46-code-or-certification",
                article: "GDPR Art. 46(2)(e)-(f)",
                text: "approved code of conduct or certification mechanism with binding commitments",
            },
            BasisKind {
                id: "gdpr-49-derogation",
                article: "GDPR Art. 49(1)",
                text: "derogation for a specific situation (explicit consent, contract necessity, …)",
            },
        ],
    },
    Regime {
        jurisdiction: "JP",
        law: "Act on the Protection of Personal Information (Japan)",
        citation: "APPI Art. 28 (provision to a third party in a foreign country; Art. 24 before \
                   the 2022 renumbering)",
        covers: &["JP"],
        // Designated by PPC rules as having an equivalent system: the EEA
        // and the United Kingdom.
        adequate: &[
            "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
            "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS",
            "LI", "NO", "GB",
        ],
        adequacy_citation: "APPI Art. 28(1), countries designated by the Personal Information \
                            Protection Commission (EEA, United Kingdom)",
        bases: &[
            BasisKind {
                id: "appi-28-consent",
                article: "APPI Art. 28(1)",
                text: "prior consent of the principal to provision to a third party in a foreign country",
            },
            BasisKind {
                id: "appi-28-equivalent-system",
                article: "APPI Art. 28(1)",
                text: "the recipient has established a system conforming to the PPC's standards",
            },
        ],
    },
];

/// The transfer regimes Custos knows, by subjects' jurisdiction.
pub fn regimes() -> &'static [Regime] {
    REGIMES
}

/// Access counts to one dataset in the period, by source country (ISO
/// 3166-1 alpha-2; anything else is reported as unknown), computed by the
/// caller from the ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetAccess {
    /// The dataset.
    pub dataset: String,
    /// Accesses by source country.
    pub by_country: BTreeMap<String, u64>,
}

/// A copy of the dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stored {
    /// Region.
    pub region: String,
    /// Country.
    pub country: String,
    /// `primary` or `backup`.
    pub role: &'static str,
}

/// A transfer that has a basis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Permitted {
    /// The subjects' jurisdiction.
    pub jurisdiction: String,
    /// The destination.
    pub country: String,
    /// `storage` or `access`.
    pub kind: &'static str,
    /// The basis: `adequacy` or a declared basis id.
    pub basis: String,
    /// Its reference (declared) or the adequacy citation.
    pub reference: String,
}

/// A storage location or access country without a transfer basis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The dataset.
    pub dataset: String,
    /// `storage` or `access`.
    pub kind: &'static str,
    /// The subjects' jurisdiction whose law is broken.
    pub jurisdiction: String,
    /// The destination country.
    pub country: String,
    /// For storage: the region.
    pub region: Option<String>,
    /// For access: how many accesses in the period.
    pub accesses: u64,
    /// Records of the dataset (exposure base).
    pub records: u64,
    /// The law and article.
    pub citation: &'static str,
    /// In a sentence.
    pub message: String,
}

/// One dataset in the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatasetResidency {
    /// The dataset.
    pub dataset: String,
    /// Its records.
    pub records: u64,
    /// Jurisdictions of its subjects.
    pub subject_jurisdictions: Vec<String>,
    /// Jurisdictions with no known regime (reported, not checked).
    pub unchecked_jurisdictions: Vec<String>,
    /// Where it is stored.
    pub stored: Vec<Stored>,
    /// Accesses by source country in the period.
    pub accessed_from: BTreeMap<String, u64>,
    /// Transfers with a basis.
    pub permitted: Vec<Permitted>,
    /// Transfers without one.
    pub violations: Vec<Violation>,
}

/// The residency report for a period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResidencyReport {
    /// Unix seconds: period start (inclusive).
    pub from: i64,
    /// Unix seconds: period end (exclusive).
    pub to: i64,
    /// Every dataset of the file.
    pub datasets: Vec<DatasetResidency>,
}

impl ResidencyReport {
    /// Every violation, in dataset order.
    pub fn violations(&self) -> impl Iterator<Item = &Violation> {
        self.datasets.iter().flat_map(|d| d.violations.iter())
    }
}

/// Where each dataset of `file` is stored and from where it was reached in
/// `[from, to)` (`accesses`, computed by the caller), with the transfers
/// that have a basis and those that do not.
pub fn residency_report(
    file: &GovernFile,
    accesses: &[DatasetAccess],
    from: i64,
    to: i64,
) -> ResidencyReport {
    let mut datasets = Vec::new();
    for d in &file.datasets {
        let mut stored = vec![Stored {
            region: d.primary.region.clone(),
            country: d.primary.country.clone(),
            role: "primary",
        }];
        stored.extend(d.backups.iter().map(|b| Stored {
            region: b.region.clone(),
            country: b.country.clone(),
            role: "backup",
        }));
        let mut accessed_from: BTreeMap<String, u64> = BTreeMap::new();
        for a in accesses.iter().filter(|a| a.dataset == d.id) {
            for (c, n) in &a.by_country {
                let key = if crate::model::is_country(c) {
                    c.clone()
                } else {
                    "unknown".to_owned()
                };
                let e = accessed_from.entry(key).or_insert(0);
                *e = e.saturating_add(*n);
            }
        }
        let mut permitted = Vec::new();
        let mut violations = Vec::new();
        let mut unchecked = Vec::new();
        for j in &d.subject_jurisdictions {
            let Some(r) = REGIMES.iter().find(|r| r.jurisdiction == j) else {
                unchecked.push(j.clone());
                continue;
            };
            let destinations = stored
                .iter()
                .map(|s| ("storage", s.country.as_str(), Some(s), 0u64))
                .chain(
                    accessed_from
                        .iter()
                        .filter(|(c, n)| c.as_str() != "unknown" && **n > 0)
                        .map(|(c, n)| ("access", c.as_str(), None, *n)),
                );
            for (kind, country, store, n) in destinations {
                if r.covers.contains(&country) {
                    continue;
                }
                if r.adequate.contains(&country) {
                    permitted.push(Permitted {
                        jurisdiction: j.clone(),
                        country: country.to_owned(),
                        kind,
                        basis: "adequacy".into(),
                        reference: r.adequacy_citation.into(),
                    });
                    continue;
                }
                if let Some(b) = file
                    .transfer_bases
                    .iter()
                    .find(|b| b.dataset == d.id && &b.jurisdiction == j && b.to == country)
                {
                    permitted.push(Permitted {
                        jurisdiction: j.clone(),
                        country: country.to_owned(),
                        kind,
                        basis: b.basis.clone(),
                        reference: b.reference.clone(),
                    });
                    continue;
                }
                let message = match store {
                    Some(s) => format!(
                        "{} data of {j} subjects is stored in {country} ({} copy, {}) without a transfer basis under {}",
                        d.id, s.role, s.region, r.law
                    ),
                    None => format!(
                        "{} data of {j} subjects was accessed {n} times from {country} without a transfer basis under {}",
                        d.id, r.law
                    ),
                };
                violations.push(Violation {
                    dataset: d.id.clone(),
                    kind,
                    jurisdiction: j.clone(),
                    country: country.to_owned(),
                    region: store.map(|s| s.region.clone()),
                    accesses: n,
                    records: d.records,
                    citation: r.citation,
                    message,
                });
            }
        }
        datasets.push(DatasetResidency {
            dataset: d.id.clone(),
            records: d.records,
            subject_jurisdictions: d.subject_jurisdictions.clone(),
            unchecked_jurisdictions: unchecked,
            stored,
            accessed_from,
            permitted,
            violations,
        });
    }
    ResidencyReport { from, to, datasets }
}
