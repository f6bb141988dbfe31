//! The detection file (`--detect-config FILE`, TOML): the engine's numbers
//! and residency rules, the Sigma rules directory, the acknowledgement SLA
//! and the webhooks alerts are delivered to. Every key is optional; unknown
//! keys are refused, and every error names the key (`docs/alerts.md`).
//!
//! ```toml
//! rules = "rules/custos"            # relative to this file
//!
//! [engine.thresholds]
//! floor_1h = 400
//! [engine.residency.customers]
//! allowed = ["KR", "PH"]
//!
//! [sla]
//! critical = "15m"
//! high = "1h"
//!
//! [[webhooks]]
//! name = "soc"
//! url = "https://soc.example.com/custos"
//! secret_file = "soc.secret"        # HMAC-SHA256 key for Custos-Signature
//! min_severity = "high"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::alert::AckSla;
use crate::engine::DetectConfig;
use crate::finding::Severity;

/// The parsed detection file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// The Sigma rules directory (resolved against the file's directory).
    pub rules: Option<PathBuf>,
    /// The engine's configuration.
    pub engine: DetectConfig,
    /// Time allowed to acknowledge, by severity.
    pub sla: AckSla,
    /// Where alerts are delivered.
    pub webhooks: Vec<Webhook>,
}

/// A webhook alerts are POSTed to (signed; retried with backoff).
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Name (unique), shown in delivery records.
    pub name: String,
    /// `http://` or `https://` URL.
    pub url: String,
    /// The HMAC-SHA256 key signing each payload (read from `secret_file`;
    /// never printed).
    pub secret: Vec<u8>,
    /// Only alerts at least this severe (default: all).
    pub min_severity: Severity,
    /// Attempts before giving up (default 12: ≈ 1 h of backoff).
    pub max_attempts: u32,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("min_severity", &self.min_severity)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

/// Why the detection file cannot be used: the file and the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Unreadable.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Malformed or out of range.
    #[error("{path}: {key}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// The key (`sla.high`, `webhooks[0].url`, …).
        key: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    rules: Option<PathBuf>,
    #[serde(default)]
    engine: DetectConfig,
    #[serde(default)]
    sla: RawSla,
    #[serde(default)]
    webhooks: Vec<RawWebhook>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSla {
    critical: Option<String>,
    high: Option<String>,
    medium: Option<String>,
    low: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    name: String,
    url: String,
    secret_file: PathBuf,
    min_severity: Option<String>,
    max_attempts: Option<u32>,
}

/// Parses `30s`, `15m`, `1h`, `3d` into milliseconds (at least 1 s, at most
/// 365 days).
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s, 15m, 1h or 3d"))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{s:?} is not a duration like 30s, 15m, 1h or 3d")),
    };
    let ms = n.saturating_mul(unit_ms);
    if !(1_000..=365 * 86_400_000).contains(&ms) {
        return Err(format!("{s:?} is out of range (1s to 365d)"));
    }
    Ok(ms)
}

impl Settings {
    /// Reads and parses the file at `path`.
    ///
    /// # Errors
    /// [`SettingsError`] naming the file and the key.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Settings::from_toml(&text, path)
    }

    /// Parses `text` (from `path`, which resolves relative paths and names
    /// the file in errors; secret files are read relative to it too).
    ///
    /// # Errors
    /// [`SettingsError`] naming the file and the key.
    pub fn from_toml(text: &str, path: &Path) -> Result<Settings, SettingsError> {
        let file = path.display().to_string();
        let invalid = |key: String, reason: String| SettingsError::Invalid {
            path: file.clone(),
            key,
            reason,
        };
        let de = toml::Deserializer::parse(text).map_err(|e| {
            invalid(
                "(syntax)".into(),
                e.message().to_owned() + &line_of(text, e.span()),
            )
        })?;
        let raw: Raw = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            invalid(
                key,
                inner.message().to_owned() + &line_of(text, inner.span()),
            )
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut sla = AckSla::default();
        for (name, value, slot) in [
            ("critical", &raw.sla.critical, &mut sla.critical_ms),
            ("high", &raw.sla.high, &mut sla.high_ms),
            ("medium", &raw.sla.medium, &mut sla.medium_ms),
            ("low", &raw.sla.low, &mut sla.low_ms),
        ] {
            if let Some(v) = value {
                *slot = parse_duration_ms(v).map_err(|r| invalid(format!("sla.{name}"), r))?;
            }
        }
        let mut webhooks: Vec<Webhook> = Vec::new();
        for (i, w) in raw.webhooks.into_iter().enumerate() {
            let key = |k: &str| format!("webhooks[{i}].{k}");
            if w.name.is_empty() || webhooks.iter().any(|o| o.name == w.name) {
                return Err(invalid(key("name"), "must be non-empty and unique".into()));
            }
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) || w.url.len() < 10
            {
                return Err(invalid(
                    key("url"),
                    "must be an http:// or https:// URL".into(),
                ));
            }
            let min_severity = match w.min_severity.as_deref() {
                None => Severity::Low,
                Some(s) => Severity::from_name(s).ok_or_else(|| {
                    invalid(
                        key("min_severity"),
                        format!("{s:?} is not one of low, medium, high, critical"),
                    )
                })?,
            };
            let max_attempts = w.max_attempts.unwrap_or(12);
            if !(1..=50).contains(&max_attempts) {
                return Err(invalid(key("max_attempts"), "must be 1 to 50".into()));
            }
            let secret_path = base.join(&w.secret_file);
            let secret = std::fs::read(&secret_path).map_err(|e| {
                invalid(
                    key("secret_file"),
                    format!("cannot read {}: {e}", secret_path.display()),
                )
            })?;
            let secret = secret.trim_ascii().to_vec();
            if secret.len() < 16 {
                return Err(invalid(
                    key("secret_file"),
                    "the secret must hold at least 16 bytes".into(),
                ));
            }
            webhooks.push(Webhook {
                name: w.name,
                url: w.url,
                secret,
                min_severity,
                max_attempts,
            });
        }
        Ok(Settings {
            rules: raw.rules.map(|r| base.join(r)),
            engine: raw.engine,
            sla,
            webhooks,
        })
    }
}

/// The `detect_config` fuzz target's body (`fuzz/fuzz_targets/detect_config.rs`),
/// also run over the committed corpus by `tests/fuzz_corpus.rs`:
/// `data` as a detection file; a refusal must name the file and a key, an
/// accepted file must have SLAs within their bounds. `Ok(true)` if accepted.
///
/// # Errors
/// A description of the broken invariant.
#[doc(hidden)]
pub fn fuzz_settings(data: &[u8]) -> Result<bool, String> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(false);
    };
    match Settings::from_toml(text, Path::new("/nonexistent/fuzz.toml")) {
        Ok(s) => {
            for v in [
                s.sla.critical_ms,
                s.sla.high_ms,
                s.sla.medium_ms,
                s.sla.low_ms,
            ] {
                if !(1_000..=365 * 86_400_000).contains(&v) {
                    return Err(format!("an SLA out of bounds was accepted: {v} ms"));
                }
            }
            Ok(true)
        }
        Err(SettingsError::Invalid { path, key, .. }) => {
            if path != "/nonexistent/fuzz.toml" || key.is_empty() {
                return Err(format!(
                    "a refusal without the file or key: {path:?} {key:?}"
                ));
            }
            Ok(false)
        }
        Err(e) => Err(format!("an I/O error from parsing text: {e}")),
    }
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.and_then(|s| text.get(..s.start))
        .map(|before| format!(" (line {})", before.lines().count().max(1)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, SettingsError> {
        Settings::from_toml(text, Path::new("/nonexistent/detect.toml"))
    }

    #[test]
    fn defaults_and_errors_name_the_key() -> Result<(), SettingsError> {
        let s = parse("")?;
        assert_eq!(s, Settings::default());
        let s = parse("rules = \"r\"\n[sla]\nhigh = \"2h\"\n")?;
        assert_eq!(s.sla.high_ms, 7_200_000);
        assert_eq!(s.rules, Some(PathBuf::from("/nonexistent/r")));
        for (text, key) in [
            ("[sla]\nhigh = \"2 weeks\"\n", "sla.high"),
            ("bogus = 1\n", ""),
            (
                "[engine.thresholds]\nfloor_1h = \"x\"\n",
                "engine.thresholds.floor_1h",
            ),
            (
                "[[webhooks]]\nname = \"a\"\nurl = \"ftp://x\"\nsecret_file = \"s\"\n",
                "webhooks[0].url",
            ),
            (
                "[[webhooks]]\nname = \"a\"\nurl = \"http://localhost:1/x\"\nsecret_file = \"nope\"\n",
                "webhooks[0].secret_file",
            ),
        ] {
            match parse(text) {
                Err(SettingsError::Invalid { key: k, reason, .. }) => {
                    assert!(k.contains(key), "{text:?}: key {k:?} ({reason})");
                }
                other => {
                    return Err(SettingsError::Invalid {
                        path: String::new(),
                        key: format!("{text:?} gave {other:?}"),
                        reason: String::new(),
                    });
                }
            }
        }
        Ok(())
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("15m"), Ok(900_000));
        assert_eq!(parse_duration_ms("3d"), Ok(259_200_000));
        assert!(parse_duration_ms("0s").is_err());
        assert!(parse_duration_ms("m").is_err());
        assert!(parse_duration_ms("99999999999999999999d").is_err());
        assert!(parse_duration_ms("400d").is_err());
    }
}
