//! The subject registry: where each data subject lives, so a scope answer
//! can say how many affected subjects are in each jurisdiction.
//!
//! Customer ids never enter Custos in the clear: the import file
//! (`custos subjects import`) names customers by the id the company uses,
//! and Custos pseudonymises them with the data directory's subject key
//! (the same keyed HMAC as the ledger's subjects), keeping only
//! `pseudonym,country` lines in `DIR/forensics/registry.csv`.
//!
//! Import format: CSV, one `subject,country` per line; an optional header
//! line `subject,country`; `#` starts a comment line; the country is an
//! ISO 3166-1 alpha-2 code.

use std::fmt::Write as _;

use crate::dict::SubjectDict;

/// A line of an import or registry file that is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {field}: {reason}")]
pub struct RegistryError {
    /// 1-based line number.
    pub line: usize,
    /// `subject` or `country`.
    pub field: &'static str,
    /// Why.
    pub reason: String,
}

/// One parsed line: the subject as written and its country.
pub type Row<'a> = (&'a str, &'a str);

/// Parses `subject,country` lines.
///
/// # Errors
/// The first invalid line, with its number and field.
pub fn parse(text: &str) -> Result<Vec<Row<'_>>, RegistryError> {
    let mut rows = Vec::new();
    for (n, line) in (1..).zip(text.lines()) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (n == 1 && line == "subject,country") {
            continue;
        }
        let err = |field, reason: String| RegistryError {
            line: n,
            field,
            reason,
        };
        let Some((subject, country)) = line.split_once(',') else {
            return Err(err("country", "missing: expected `subject,country`".into()));
        };
        let subject = subject.trim();
        let country = country.trim();
        if subject.is_empty() || subject.len() > 256 || subject.chars().any(char::is_control) {
            return Err(err(
                "subject",
                "must be 1 to 256 characters without control characters".into(),
            ));
        }
        if events::Country::from_code(country).is_none() {
            let shown: String = country.chars().take(8).collect();
            return Err(err(
                "country",
                format!("{shown:?} is not an ISO 3166-1 alpha-2 code"),
            ));
        }
        rows.push((subject, country));
    }
    Ok(rows)
}

/// Pseudonymises `rows` (customer ids) and renders registry lines
/// (`pseudonym,country`).
#[must_use]
pub fn pseudonymise(rows: &[Row<'_>], key: &events::SubjectKey) -> String {
    let mut out = String::with_capacity(rows.len() * 26);
    for (subject, country) in rows {
        let _ = writeln!(
            out,
            "{},{country}",
            key.pseudonymise(subject).to_base64url()
        );
    }
    out
}

/// Loads registry lines (`pseudonym,country`) into `dict`, returning how
/// many.
///
/// # Errors
/// The first invalid line.
pub fn load_into(text: &str, dict: &mut SubjectDict) -> Result<usize, RegistryError> {
    let rows = parse(text)?;
    for (n, (p, c)) in (1..).zip(&rows) {
        let Some(p) = events::Pseudonym::from_base64url(p) else {
            return Err(RegistryError {
                line: n,
                field: "subject",
                reason: "registry lines hold pseudonyms (22 base64url characters)".into(),
            });
        };
        dict.set_country(p.0, c);
    }
    Ok(rows.len())
}

/// Parses an import file and never panics (fuzz entry point); returns
/// whether it was accepted as an import file.
pub fn fuzz_registry(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let _ = load_into(text, &mut SubjectDict::new());
    parse(text).is_ok()
}
