//! Configuration: flags > environment > TOML file > defaults.
//!
//! Two stages (the ripgrep habit): every source is first read into a
//! [`Settings`] (all fields optional, each value already validated, errors
//! naming the field and where it came from), then [`resolve`] layers them
//! and checks the combination into a [`Config`]. Nothing here touches the
//! process environment or the file system directly: both are passed in, so
//! precedence is unit-tested as a pure function.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

/// Where `custos serve` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8790";

/// The environment variable naming the TOML configuration file.
pub const CONFIG_ENV: &str = "CUSTOS_CONFIG";

/// The effective server configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Data directory holding a ledger made by `custos ledger init`.
    pub data: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Largest request body accepted, enforced while reading (default 32 MiB).
    pub max_body_bytes: u64,
    /// Events being parsed or awaiting the ledger, across all requests,
    /// beyond which requests get 429 (default 200,000).
    pub max_inflight_events: u32,
    /// Oldest event time accepted, relative to now; `None` = no limit
    /// (backfills of historical logs). Default 7 days.
    pub max_event_age: Option<Duration>,
    /// How far in the future an event time may be (default 5 min).
    pub max_future_skew: Duration,
    /// Most events in one request (default 10,000).
    pub max_batch_events: u32,
    /// Largest single event or NDJSON line (default 1 MiB).
    pub max_event_bytes: u64,
    /// Most data subjects in one event (default 10,000).
    pub max_subjects: u32,
    /// Longest string value in an event, in bytes (default 256).
    pub max_string_bytes: u32,
    /// How long shutdown waits for in-flight requests (default 30 s).
    pub shutdown_timeout: Duration,
    /// Async worker threads (default: one per core).
    pub workers: Option<usize>,
    /// Log line format on stderr.
    pub log_format: LogFormat,
    /// Log filter, `tracing` `EnvFilter` syntax (default `info`).
    pub log_level: String,
    /// `iss` of the tokens the token authority issues; default
    /// `urn:custos:<ledger origin>`.
    pub token_issuer: Option<String>,
    /// Default token lifetime (default 10 min; at most 15 min).
    pub token_lifetime: Duration,
    /// Scheduled rotation period of the signing key (default 1 day, at
    /// least 1 min); the previous key verifies for the longest lifetime
    /// plus leeway afterwards.
    pub key_rotation: Duration,
    /// The detection file (`docs/alerts.md`): detector thresholds and
    /// residency, Sigma rules directory, acknowledgement SLA, webhooks.
    /// `None`: the defaults, no rules, no webhooks.
    pub detect_config: Option<PathBuf>,
    /// The governance file (`docs/govern.md`): suppliers, datasets,
    /// transfer bases, reporting lines, money settings. `None`:
    /// `DATA/govern.toml` if it exists, else none.
    pub govern_config: Option<PathBuf>,
}

impl Config {
    /// The defaults, for a ledger in `data`.
    #[must_use]
    pub fn new(data: impl Into<PathBuf>) -> Config {
        let limits = events::Limits::default();
        Config {
            data: data.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8790)),
            max_body_bytes: 32 << 20,
            max_inflight_events: 200_000,
            max_event_age: Some(limits.max_age),
            max_future_skew: limits.max_future_skew,
            max_batch_events: u32::try_from(limits.max_batch_events).unwrap_or(u32::MAX),
            max_event_bytes: limits.max_event_bytes as u64,
            max_subjects: u32::try_from(limits.max_subjects).unwrap_or(u32::MAX),
            max_string_bytes: u32::try_from(limits.max_string_bytes).unwrap_or(u32::MAX),
            shutdown_timeout: Duration::from_secs(30),
            workers: None,
            log_format: LogFormat::Json,
            log_level: "info".to_owned(),
            token_issuer: None,
            token_lifetime: Duration::from_secs(10 * 60),
            key_rotation: Duration::from_secs(24 * 60 * 60),
            detect_config: None,
            govern_config: None,
        }
    }

    /// The event-validation limits this configuration sets.
    #[must_use]
    pub fn limits(&self) -> events::Limits {
        events::Limits {
            max_future_skew: self.max_future_skew,
            // "No limit": an age no clock reading can exceed (the parser
            // saturates, so this never overflows).
            max_age: self.max_event_age.unwrap_or(Duration::MAX),
            max_subjects: self.max_subjects as usize,
            max_string_bytes: self.max_string_bytes as usize,
            max_event_bytes: usize::try_from(self.max_event_bytes).unwrap_or(usize::MAX),
            max_batch_events: self.max_batch_events as usize,
        }
    }

    /// Checks the combination of values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &'static str, reason: String| {
            Err(ConfigError::Invalid {
                field,
                origin: "the combined configuration".to_owned(),
                reason,
            })
        };
        if self.max_body_bytes == 0 {
            return bad("max_body_bytes", "must be at least 1 byte".into());
        }
        if self.max_batch_events == 0 {
            return bad("max_batch_events", "must be at least 1".into());
        }
        if self.max_inflight_events < self.max_batch_events {
            return bad(
                "max_inflight_events",
                format!(
                    "{} is below max_batch_events ({}): a full batch could never be admitted",
                    self.max_inflight_events, self.max_batch_events
                ),
            );
        }
        if self.max_subjects == 0 || self.max_string_bytes == 0 || self.max_event_bytes == 0 {
            return bad(
                "max_subjects/max_string_bytes/max_event_bytes",
                "must be at least 1".into(),
            );
        }
        if self.workers == Some(0) {
            return bad("workers", "must be at least 1".into());
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log_level) {
            return bad("log_level", format!("{:?}: {e}", self.log_level));
        }
        if let Err(e) = self.authority_config("urn:custos:check") {
            let field = if e.0.contains("rotation") {
                "key_rotation"
            } else if e.0.contains("issuer") {
                "token_issuer"
            } else {
                "token_lifetime"
            };
            return bad(field, e.0.to_owned());
        }
        Ok(())
    }

    /// The token authority's settings; `default_issuer` when
    /// `token_issuer` is unset.
    pub fn authority_config(
        &self,
        default_issuer: &str,
    ) -> Result<token::AuthorityConfig, token::ConfigError> {
        let mut c =
            token::AuthorityConfig::new(self.token_issuer.as_deref().unwrap_or(default_issuer));
        c.default_lifetime_secs = self.token_lifetime.as_secs();
        c.rotation_secs = self.key_rotation.as_secs();
        c.validate()
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (default).
    #[default]
    Json,
    /// Human-readable text.
    Text,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(LogFormat::Json),
            "text" => Ok(LogFormat::Text),
            _ => Err(format!("{s:?}: expected `json` or `text`")),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Json => "json",
            LogFormat::Text => "text",
        })
    }
}

/// Splits `"32 MiB"` into the leading decimal integer and the trimmed unit
/// after it (`(32, "MiB")`); `None` if there is no integer or it overflows.
fn number_and_unit(s: &str) -> Option<(u64, &str)> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    Some((num.parse().ok()?, unit.trim()))
}

/// A size in bytes: an integer, or a number with a unit `B`, `KiB`, `MiB`,
/// `GiB` (binary) or `KB`, `MB`, `GB` (decimal), e.g. `32MiB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (n, unit) = number_and_unit(s)
            .ok_or_else(|| format!("{s:?}: expected a byte count such as 1048576 or 32MiB"))?;
        let mult: u64 = match unit {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "KB" | "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            u => {
                return Err(format!(
                    "{s:?}: unknown unit {u:?} (use B, KiB, MiB, GiB, KB, MB, GB)"
                ));
            }
        };
        n.checked_mul(mult)
            .map(ByteSize)
            .ok_or_else(|| format!("{s:?}: too large"))
    }
}

/// A duration: an integer number of seconds, or a number with a unit `ms`,
/// `s`, `m`, `h`, `d`, e.g. `300ms`, `5m`, `7d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationSetting(pub Duration);

impl FromStr for DurationSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (n, unit) = number_and_unit(s)
            .ok_or_else(|| format!("{s:?}: expected a duration such as 30s, 5m, 7d or 300ms"))?;
        let d = match unit {
            "ms" => Some(Duration::from_millis(n)),
            "" | "s" => Some(Duration::from_secs(n)),
            "m" => n.checked_mul(60).map(Duration::from_secs),
            "h" => n.checked_mul(3_600).map(Duration::from_secs),
            "d" => n.checked_mul(86_400).map(Duration::from_secs),
            u => return Err(format!("{s:?}: unknown unit {u:?} (use ms, s, m, h, d)")),
        };
        d.map(DurationSetting)
            .ok_or_else(|| format!("{s:?}: too large"))
    }
}

/// An event-age limit: a duration, or `0` / `unlimited` for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgeLimit(pub Option<Duration>);

impl FromStr for AgeLimit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "unlimited" | "none" => Ok(AgeLimit(None)),
            _ => {
                let d = DurationSetting::from_str(s)
                    .map_err(|e| format!("{e}; or `unlimited` (also `0`) for no limit"))?;
                Ok(AgeLimit((!d.0.is_zero()).then_some(d.0)))
            }
        }
    }
}

/// Parses one setting's text (flags and environment variables); usable as a
/// clap `value_parser`.
pub fn parse_setting<T: Setting>(s: &str) -> Result<T, String> {
    T::parse_setting(s)
}

/// A value that can be given as text (flag or environment variable).
pub trait Setting: Sized {
    /// Parses the text, or says what is wrong with it.
    fn parse_setting(s: &str) -> Result<Self, String>;
}

macro_rules! from_str_setting {
    ($($t:ty),*) => {$(
        impl Setting for $t {
            fn parse_setting(s: &str) -> Result<Self, String> {
                <$t>::from_str(s.trim()).map_err(|e| format!("{s:?}: {e}"))
            }
        }
    )*};
}
from_str_setting!(u32, usize, SocketAddr);

impl Setting for ByteSize {
    fn parse_setting(s: &str) -> Result<Self, String> {
        s.parse()
    }
}
impl Setting for DurationSetting {
    fn parse_setting(s: &str) -> Result<Self, String> {
        s.parse()
    }
}
impl Setting for AgeLimit {
    fn parse_setting(s: &str) -> Result<Self, String> {
        s.parse()
    }
}
impl Setting for LogFormat {
    fn parse_setting(s: &str) -> Result<Self, String> {
        s.parse()
    }
}
impl Setting for PathBuf {
    fn parse_setting(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("empty path".into());
        }
        Ok(PathBuf::from(s))
    }
}
impl Setting for String {
    fn parse_setting(s: &str) -> Result<Self, String> {
        Ok(s.to_owned())
    }
}

/// TOML accepts an integer or a string with a unit for sizes and durations.
#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrText {
    Int(u64),
    Text(String),
}

macro_rules! int_or_text_deserialize {
    ($t:ty, $from_int:expr) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                match IntOrText::deserialize(d)? {
                    IntOrText::Int(n) => $from_int(n).map_err(serde::de::Error::custom),
                    IntOrText::Text(s) => s.parse().map_err(serde::de::Error::custom),
                }
            }
        }
    };
}
int_or_text_deserialize!(ByteSize, |n| Ok::<_, String>(ByteSize(n)));
int_or_text_deserialize!(DurationSetting, |n| Ok::<_, String>(DurationSetting(
    Duration::from_secs(n)
)));
int_or_text_deserialize!(AgeLimit, |n| Ok::<_, String>(AgeLimit(
    (n != 0).then(|| Duration::from_secs(n))
)));

impl<'de> Deserialize<'de> for LogFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

macro_rules! settings {
    ($( $(#[$doc:meta])* $field:ident : $ty:ty = $env:literal ),* $(,)?) => {
        /// One source's settings (flags, environment or file); every field
        /// optional. TOML keys are these field names; unknown keys are
        /// refused.
        #[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[non_exhaustive]
        pub struct Settings {
            $( $(#[$doc])* pub $field: Option<$ty>, )*
        }

        impl Settings {
            /// Each setting's name and environment variable.
            pub const ENV_VARS: &'static [(&'static str, &'static str)] =
                &[$( (stringify!($field), $env) ),*];

            /// `self` where set, otherwise `lower`.
            #[must_use]
            pub fn or(self, lower: Settings) -> Settings {
                Settings { $( $field: self.$field.or(lower.$field), )* }
            }

            /// Reads the `CUSTOS_*` variables through `lookup` (empty values
            /// count as unset).
            pub fn from_env(
                lookup: &dyn Fn(&str) -> Option<String>,
            ) -> Result<Settings, ConfigError> {
                let mut s = Settings::default();
                $(
                    if let Some(v) = lookup($env).filter(|v| !v.is_empty()) {
                        s.$field = Some(<$ty as Setting>::parse_setting(&v).map_err(|reason| {
                            ConfigError::Invalid {
                                field: stringify!($field),
                                origin: format!("environment variable {}", $env),
                                reason,
                            }
                        })?);
                    }
                )*
                Ok(s)
            }
        }
    };
}

settings! {
    /// Data directory (`CUSTOS_DATA`).
    data: PathBuf = "CUSTOS_DATA",
    /// Listen address, `IP:PORT` (`CUSTOS_LISTEN`).
    listen: SocketAddr = "CUSTOS_LISTEN",
    /// Largest request body (`CUSTOS_MAX_BODY_BYTES`).
    max_body_bytes: ByteSize = "CUSTOS_MAX_BODY_BYTES",
    /// In-flight event budget (`CUSTOS_MAX_INFLIGHT_EVENTS`).
    max_inflight_events: u32 = "CUSTOS_MAX_INFLIGHT_EVENTS",
    /// Oldest event accepted, or `unlimited` (`CUSTOS_MAX_EVENT_AGE`).
    max_event_age: AgeLimit = "CUSTOS_MAX_EVENT_AGE",
    /// Future clock skew allowed (`CUSTOS_MAX_FUTURE_SKEW`).
    max_future_skew: DurationSetting = "CUSTOS_MAX_FUTURE_SKEW",
    /// Most events per request (`CUSTOS_MAX_BATCH_EVENTS`).
    max_batch_events: u32 = "CUSTOS_MAX_BATCH_EVENTS",
    /// Largest single event (`CUSTOS_MAX_EVENT_BYTES`).
    max_event_bytes: ByteSize = "CUSTOS_MAX_EVENT_BYTES",
    /// Most subjects per event (`CUSTOS_MAX_SUBJECTS`).
    max_subjects: u32 = "CUSTOS_MAX_SUBJECTS",
    /// Longest string in an event (`CUSTOS_MAX_STRING_BYTES`).
    max_string_bytes: u32 = "CUSTOS_MAX_STRING_BYTES",
    /// Shutdown grace period (`CUSTOS_SHUTDOWN_TIMEOUT`).
    shutdown_timeout: DurationSetting = "CUSTOS_SHUTDOWN_TIMEOUT",
    /// Async worker threads (`CUSTOS_WORKERS`).
    workers: usize = "CUSTOS_WORKERS",
    /// `json` or `text` (`CUSTOS_LOG_FORMAT`).
    log_format: LogFormat = "CUSTOS_LOG_FORMAT",
    /// Log filter (`CUSTOS_LOG_LEVEL`).
    log_level: String = "CUSTOS_LOG_LEVEL",
    /// Token issuer (`CUSTOS_TOKEN_ISSUER`).
    token_issuer: String = "CUSTOS_TOKEN_ISSUER",
    /// Detection file: thresholds, residency, rules, SLA, webhooks (`CUSTOS_DETECT_CONFIG`).
    detect_config: PathBuf = "CUSTOS_DETECT_CONFIG",
    /// Governance file: suppliers, datasets, transfer bases (`CUSTOS_GOVERN_CONFIG`).
    govern_config: PathBuf = "CUSTOS_GOVERN_CONFIG",
    /// Default token lifetime (`CUSTOS_TOKEN_LIFETIME`).
    token_lifetime: DurationSetting = "CUSTOS_TOKEN_LIFETIME",
    /// Signing-key rotation period (`CUSTOS_KEY_ROTATION`).
    key_rotation: DurationSetting = "CUSTOS_KEY_ROTATION",
}

impl Settings {
    /// Parses a TOML configuration file's text. `path` is used in messages
    /// and to resolve a relative `data` against the file's directory.
    pub fn from_toml(text: &str, path: &Path) -> Result<Settings, ConfigError> {
        let mut s: Settings = toml::from_str(text).map_err(|e| {
            // Name the key at fault, however it is written (`k = v`,
            // `"k" = v`, `k.x = v`, `[k]`): the top-level key whose name or
            // value the error's span touches. Unknown keys name themselves.
            let key = e.span().and_then(|span| {
                let touches = |r: std::ops::Range<usize>| {
                    span.start < r.end && r.start < span.end.max(span.start + 1)
                };
                let doc = toml::de::DeTable::parse(text).ok()?;
                let (k, _) = doc
                    .get_ref()
                    .iter()
                    .find(|(k, v)| touches(k.span()) || touches(v.span()))?;
                let k = k.get_ref().to_string();
                (!e.message().contains(&format!("`{k}`"))).then_some(k)
            });
            ConfigError::File {
                path: path.to_path_buf(),
                message: match key {
                    Some(k) => format!("key `{k}`: {e}"),
                    None => e.to_string(),
                },
            }
        })?;
        for d in [
            s.data.as_mut(),
            s.detect_config.as_mut(),
            s.govern_config.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            if d.is_relative()
                && let Some(base) = path.parent()
            {
                *d = base.join(&*d);
            }
        }
        Ok(s)
    }

    /// Applies these settings over the defaults and checks the result.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let data = self.data.ok_or(ConfigError::MissingData)?;
        let mut c = Config::new(data);
        if let Some(v) = self.listen {
            c.listen = v;
        }
        if let Some(v) = self.max_body_bytes {
            c.max_body_bytes = v.0;
        }
        if let Some(v) = self.max_inflight_events {
            c.max_inflight_events = v;
        }
        if let Some(v) = self.max_event_age {
            c.max_event_age = v.0;
        }
        if let Some(v) = self.max_future_skew {
            c.max_future_skew = v.0;
        }
        if let Some(v) = self.max_batch_events {
            c.max_batch_events = v;
        }
        if let Some(v) = self.max_event_bytes {
            c.max_event_bytes = v.0;
        }
        if let Some(v) = self.max_subjects {
            c.max_subjects = v;
        }
        if let Some(v) = self.max_string_bytes {
            c.max_string_bytes = v;
        }
        if let Some(v) = self.shutdown_timeout {
            c.shutdown_timeout = v.0;
        }
        if let Some(v) = self.workers {
            c.workers = Some(v);
        }
        if let Some(v) = self.log_format {
            c.log_format = v;
        }
        if let Some(v) = self.log_level {
            c.log_level = v;
        }
        if let Some(v) = self.token_issuer {
            c.token_issuer = Some(v);
        }
        if let Some(v) = self.detect_config {
            c.detect_config = Some(v);
        }
        if let Some(v) = self.govern_config {
            c.govern_config = Some(v);
        }
        if let Some(v) = self.token_lifetime {
            c.token_lifetime = v.0;
        }
        if let Some(v) = self.key_rotation {
            c.key_rotation = v.0;
        }
        c.validate()?;
        Ok(c)
    }
}

/// A configuration that cannot be used. Messages name the field and the
/// source of the bad value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value is malformed or out of range.
    #[error("invalid {field} (from {origin}): {reason}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// Where the value came from.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// The configuration file could not be read or parsed (unknown keys
    /// included; the message shows the line).
    #[error("config file {}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No source gave a data directory.
    #[error(
        "no data directory: pass --data DIR, set CUSTOS_DATA, or set `data` in the config file"
    )]
    MissingData,
}

/// Resolves the configuration: `flags` over the environment (read through
/// `env`) over the TOML file (path from `config_file`, else `CUSTOS_CONFIG`;
/// read through `read_file`) over the defaults.
///
/// Pure: the caller passes the process environment and file reader in
/// (`&|k| std::env::var(k).ok()`, `&|p| std::fs::read_to_string(p)`).
pub fn resolve(
    flags: Settings,
    config_file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Result<Config, ConfigError> {
    let env_settings = Settings::from_env(env)?;
    let file_path = config_file
        .map(Path::to_path_buf)
        .or_else(|| env(CONFIG_ENV).filter(|v| !v.is_empty()).map(PathBuf::from));
    let file_settings = match &file_path {
        None => Settings::default(),
        Some(p) => {
            let text = read_file(p).map_err(|e| ConfigError::File {
                path: p.clone(),
                message: e.to_string(),
            })?;
            Settings::from_toml(&text, p)?
        }
    };
    flags.or(env_settings).or(file_settings).into_config()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| m.get(k).cloned()
    }

    fn files(pairs: &[(&str, &str)]) -> impl Fn(&Path) -> std::io::Result<String> {
        let m: HashMap<PathBuf, String> = pairs
            .iter()
            .map(|(k, v)| (PathBuf::from(k), (*v).to_owned()))
            .collect();
        move |p| {
            m.get(p)
                .cloned()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        }
    }

    #[test]
    fn flags_beat_env_beat_file_beat_defaults() {
        let file = files(&[(
            "/etc/custos.toml",
            "data = \"/file\"\nlisten = \"127.0.0.1:1\"\nmax_body_bytes = \"1MiB\"\n\
             max_inflight_events = 300000\nmax_event_age = \"unlimited\"\n",
        )]);
        let env = env_of(&[
            ("CUSTOS_CONFIG", "/etc/custos.toml"),
            ("CUSTOS_LISTEN", "127.0.0.1:2"),
            ("CUSTOS_MAX_BODY_BYTES", "2048"),
        ]);
        let flags = Settings {
            listen: Some("127.0.0.1:3".parse().unwrap()),
            ..Settings::default()
        };
        let c = resolve(flags, None, &env, &file).unwrap();
        assert_eq!(c.listen.port(), 3, "flag beats env and file");
        assert_eq!(c.max_body_bytes, 2048, "env beats file");
        assert_eq!(c.max_inflight_events, 300_000, "file beats default");
        assert_eq!(c.data, PathBuf::from("/file"));
        assert_eq!(c.max_event_age, None);
        assert_eq!(c.max_future_skew, Duration::from_secs(300), "default");
        assert_eq!(c.max_batch_events, 10_000, "default");

        // Without flags, env wins; without env, the file.
        let c = resolve(Settings::default(), None, &env, &file).unwrap();
        assert_eq!(c.listen.port(), 2);
        let c = resolve(
            Settings::default(),
            Some(Path::new("/etc/custos.toml")),
            &env_of(&[]),
            &file,
        )
        .unwrap();
        assert_eq!(c.listen.port(), 1);
        assert_eq!(c.max_body_bytes, 1 << 20);
    }

    #[test]
    fn config_flag_beats_config_env() {
        let file = files(&[("/a.toml", "data = \"/a\""), ("/b.toml", "data = \"/b\"")]);
        let env = env_of(&[("CUSTOS_CONFIG", "/a.toml")]);
        let c = resolve(Settings::default(), Some(Path::new("/b.toml")), &env, &file).unwrap();
        assert_eq!(c.data, PathBuf::from("/b"));
    }

    #[test]
    fn defaults() {
        let c = resolve(
            Settings {
                data: Some("/d".into()),
                ..Settings::default()
            },
            None,
            &env_of(&[]),
            &files(&[]),
        )
        .unwrap();
        assert_eq!(c, Config::new("/d"));
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.max_body_bytes, 32 << 20);
        assert_eq!(c.max_inflight_events, 200_000);
        assert_eq!(c.max_event_age, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn relative_data_in_file_is_relative_to_the_file() {
        let file = files(&[("/etc/custos/server.toml", "data = \"ledger\"")]);
        let c = resolve(
            Settings::default(),
            Some(Path::new("/etc/custos/server.toml")),
            &env_of(&[]),
            &file,
        )
        .unwrap();
        assert_eq!(c.data, PathBuf::from("/etc/custos/ledger"));
    }

    #[test]
    fn unknown_toml_key_is_named() {
        let file = files(&[("/c.toml", "data = \"/d\"\nmax_body_byte = 5\n")]);
        let e = resolve(
            Settings::default(),
            Some(Path::new("/c.toml")),
            &env_of(&[]),
            &file,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("max_body_byte"), "{e}");
        assert!(e.contains("/c.toml"), "{e}");
        assert!(e.contains("line 2"), "{e}");
    }

    /// Found by the `server_config` fuzz target's check that errors name
    /// the key: a bad key written quoted, dotted or as a table header was
    /// not named (the old line-based guess looked for `key =`).
    #[test]
    fn bad_keys_are_named_however_written() {
        for (text, key) in [
            (
                "data = \"/d\"\n\"max_body_bytes\" = \"lots\"\n",
                "max_body_bytes",
            ),
            ("data = \"/d\"\nmax_body_bytes.x = 1\n", "max_body_bytes"),
            ("data = \"/d\"\n[workers]\nn = 1\n", "workers"),
            ("[data]\n", "data"),
            (
                "data = \"/d\"\nmax_body_bytes = [\n  1,\n]\n",
                "max_body_bytes",
            ),
            ("max_event_age = 1979-05-27T07:32:00Z\n", "max_event_age"),
        ] {
            let e = Settings::from_toml(text, Path::new("/c.toml"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("`{key}`")), "{text:?}: {e}");
        }
        // Unknown keys are named once, by the parser.
        let e = Settings::from_toml("max_body_byte = 5", Path::new("/c.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(e.matches("`max_body_byte`").count(), 1, "{e}");
    }

    #[test]
    fn bad_values_name_the_field_and_source() {
        let e = resolve(
            Settings::default(),
            None,
            &env_of(&[("CUSTOS_DATA", "/d"), ("CUSTOS_MAX_BODY_BYTES", "lots")]),
            &files(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("max_body_bytes") && e.contains("CUSTOS_MAX_BODY_BYTES"),
            "{e}"
        );

        let file = files(&[("/c.toml", "data = \"/d\"\nmax_event_age = \"7 weeks\"\n")]);
        let e = resolve(
            Settings::default(),
            Some(Path::new("/c.toml")),
            &env_of(&[]),
            &file,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("key `max_event_age`"), "{e}");

        let e = resolve(
            Settings {
                data: Some("/d".into()),
                max_inflight_events: Some(5),
                ..Settings::default()
            },
            None,
            &env_of(&[]),
            &files(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("max_inflight_events"), "{e}");

        let e = resolve(
            Settings {
                data: Some("/d".into()),
                log_level: Some("info,[[[".into()),
                ..Settings::default()
            },
            None,
            &env_of(&[]),
            &files(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("log_level"), "{e}");
    }

    #[test]
    fn missing_data_and_missing_file() {
        let e = resolve(Settings::default(), None, &env_of(&[]), &files(&[])).unwrap_err();
        assert!(matches!(e, ConfigError::MissingData));
        let e = resolve(
            Settings::default(),
            Some(Path::new("/nope.toml")),
            &env_of(&[]),
            &files(&[]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nope.toml"), "{e}");
    }

    #[test]
    fn units() {
        assert_eq!("32MiB".parse::<ByteSize>().unwrap().0, 32 << 20);
        assert_eq!("1KB".parse::<ByteSize>().unwrap().0, 1000);
        assert_eq!("17".parse::<ByteSize>().unwrap().0, 17);
        assert!("1 PiB".parse::<ByteSize>().is_err());
        assert!("-1".parse::<ByteSize>().is_err());
        assert!("99999999999GiB".parse::<ByteSize>().is_err());
        assert_eq!(
            "300ms".parse::<DurationSetting>().unwrap().0,
            Duration::from_millis(300)
        );
        assert_eq!(
            "7d".parse::<DurationSetting>().unwrap().0,
            Duration::from_secs(604_800)
        );
        assert_eq!(
            "90".parse::<DurationSetting>().unwrap().0,
            Duration::from_secs(90)
        );
        assert!("5 minutes".parse::<DurationSetting>().is_err());
        assert_eq!("0".parse::<AgeLimit>().unwrap().0, None);
        assert_eq!("unlimited".parse::<AgeLimit>().unwrap().0, None);
        assert_eq!(
            "1h".parse::<AgeLimit>().unwrap().0,
            Some(Duration::from_secs(3600))
        );
        // TOML integers: seconds; 0 = unlimited.
        let s = Settings::from_toml(
            "max_event_age = 0\nmax_future_skew = 10\nshutdown_timeout = \"2m\"",
            Path::new("/x.toml"),
        )
        .unwrap();
        assert_eq!(s.max_event_age, Some(AgeLimit(None)));
        assert_eq!(
            s.max_future_skew,
            Some(DurationSetting(Duration::from_secs(10)))
        );
        assert_eq!(
            s.shutdown_timeout,
            Some(DurationSetting(Duration::from_secs(120)))
        );
    }

    #[test]
    fn unlimited_age_accepts_old_events() {
        let mut c = Config::new("/d");
        c.max_event_age = None;
        let json = br#"{"time":"2000-01-01T00:00:00Z","actor":{"id":"a","kind":"service"},
            "source":{"ip":"10.0.0.1"},"service":"s","operation":"o","dataset":"d",
            "categories":["name"],"subjects":["x"],"purpose":"p","decision":"allow"}"#;
        assert!(events::parse_event(json, std::time::SystemTime::now(), &c.limits()).is_ok());
        let strict = Config::new("/d");
        assert!(events::parse_event(json, std::time::SystemTime::now(), &strict.limits()).is_err());
    }

    #[test]
    fn token_authority_settings_are_bounded_and_named() {
        let mut c = Config::new("/d");
        assert!(c.validate().is_ok());
        c.token_lifetime = Duration::from_secs(20 * 60);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("token_lifetime"), "{e}");
        let mut c = Config::new("/d");
        c.key_rotation = Duration::from_secs(30);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("key_rotation"), "{e}");
        let mut c = Config::new("/d");
        c.token_issuer = Some(String::new());
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("token_issuer"), "{e}");
        let c = Config::new("/d");
        let a = c.authority_config("urn:custos:x").unwrap();
        assert_eq!(
            (a.issuer.as_str(), a.default_lifetime_secs, a.rotation_secs),
            ("urn:custos:x", 600, 86_400)
        );
    }

    #[test]
    fn every_setting_has_an_env_var() {
        // Guard against a field added without its variable.
        assert_eq!(Settings::ENV_VARS.len(), 19);
        for (field, var) in Settings::ENV_VARS {
            assert_eq!(*var, format!("CUSTOS_{}", field.to_uppercase()));
        }
    }
}
