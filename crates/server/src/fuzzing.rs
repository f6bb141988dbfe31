//! What the cargo-fuzz targets `fuzz/fuzz_targets/{server_config,
//! bearer_token,credentials_file,log_path}.rs` run, and what
//! `tests/fuzz_corpus.rs` replays their committed corpora through: one
//! entry point per parser of outside input, calling the code the server
//! runs and checking its invariants. Not part of the public interface.
//!
//! Each entry point takes arbitrary bytes and returns what became of them,
//! or `Err` naming the invariant the input broke (the fuzz targets panic
//! with it, so libFuzzer reports it). A panic inside the parser itself
//! propagates, as in the server.

use std::collections::BTreeSet;
use std::path::{Component, Path};
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

use crate::auth::{bearer_token as bearer, check_token};
use crate::config::{ConfigError, Settings, resolve};
use crate::credentials::{CredentialError, CredentialSet, CredentialStore, parse_token};
use crate::logfiles::log_file;

/// What an entry point made of an input that broke no invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; a short description of the result.
    Accepted(String),
    /// Refused, with the message its sender would see.
    Refused(String),
}

/// The path the `server_config` target gives its TOML text.
pub const CONFIG_PATH: &str = "/etc/custos/server.toml";

/// The `server_config` target: `data` as the text of the TOML configuration
/// file, resolved by [`resolve`] (no flags, no environment).
///
/// Invariants: `resolve` agrees with [`Settings::from_toml`] then
/// [`Settings::into_config`]; a refused file is named in the message, and
/// when the text is well-formed TOML the message names (in backquotes) a key
/// that is refused on its own; a value the file accepts for a key is
/// accepted, with the same meaning, from that key's environment variable
/// (except `data`, which the file resolves against its directory); an
/// accepted configuration validates; a refused one names its field.
pub fn server_config(data: &[u8]) -> Result<Outcome, String> {
    let Ok(text) = std::str::from_utf8(data) else {
        // `resolve`'s caller reads the file with `read_to_string`.
        return Ok(Outcome::Refused("not UTF-8".to_owned()));
    };
    let path = Path::new(CONFIG_PATH);
    let resolved = resolve(Settings::default(), Some(path), &|_| None, &|_| {
        Ok(text.to_owned())
    });
    let table = toml::from_str::<toml::Table>(text).ok();
    let settings = match Settings::from_toml(text, path) {
        Ok(s) => s,
        Err(e) => {
            let msg = e.to_string();
            if !matches!(e, ConfigError::File { .. }) || !msg.contains(CONFIG_PATH) {
                return Err(format!("the error does not name the file: {msg}"));
            }
            if let Ok(c) = resolved {
                return Err(format!("resolve accepted a file from_toml refuses: {c:?}"));
            }
            if let Some(table) = table {
                let mut bad: Vec<&String> = table
                    .iter()
                    .filter(|(k, v)| one_key(k, v).is_err())
                    .map(|(k, _)| k)
                    .collect();
                if bad.is_empty() {
                    // toml's value deserializer is laxer than its document
                    // deserializer (a datetime passes as a string): then
                    // any key will do.
                    bad = table.keys().collect();
                }
                if !bad.iter().any(|k| msg.contains(&format!("`{k}`"))) {
                    return Err(format!(
                        "the error names none of the keys refused on their own ({bad:?}): {msg}"
                    ));
                }
            }
            return Ok(Outcome::Refused(msg));
        }
    };
    let Some(table) = table else {
        return Err("from_toml accepted what is not a TOML table".to_owned());
    };
    for (key, value) in &table {
        file_and_env_agree(key, value)?;
    }
    let config = settings.into_config();
    match (&config, &resolved) {
        (Ok(a), Ok(b)) if a == b => {}
        (Err(a), Err(b)) if a.to_string() == b.to_string() => {}
        _ => {
            return Err(format!(
                "resolve gives {resolved:?}, the two stages {config:?}"
            ));
        }
    }
    match config {
        Ok(c) => {
            c.validate()
                .map_err(|e| format!("an accepted configuration does not validate: {e}"))?;
            let limits = c.limits();
            if c.max_inflight_events < c.max_batch_events
                || limits.max_batch_events != c.max_batch_events as usize
                || limits.max_age < c.max_event_age.unwrap_or(std::time::Duration::MAX)
            {
                return Err(format!("inconsistent limits {limits:?} of {c:?}"));
            }
            Ok(Outcome::Accepted(format!("{c:?}")))
        }
        Err(e) => {
            let msg = e.to_string();
            let named = match &e {
                ConfigError::Invalid { field, .. } => !field.is_empty() && msg.contains(field),
                ConfigError::MissingData => msg.contains("data"),
                ConfigError::File { .. } => false,
            };
            if !named {
                return Err(format!("the error does not name its field: {msg}"));
            }
            Ok(Outcome::Refused(msg))
        }
    }
}

/// The settings of a file holding only `key = value`.
fn one_key(key: &str, value: &toml::Value) -> Result<Settings, toml::de::Error> {
    let mut t = toml::Table::new();
    t.insert(key.to_owned(), value.clone());
    toml::Value::Table(t).try_into()
}

/// A string or integer value the file accepts for `key` means the same
/// from the key's environment variable.
fn file_and_env_agree(key: &str, value: &toml::Value) -> Result<(), String> {
    let Some((_, var)) = Settings::ENV_VARS.iter().find(|(f, _)| *f == key) else {
        return Ok(());
    };
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        _ => return Ok(()),
    };
    // Empty variables count as unset; `data` from a file is relative to it.
    if text.is_empty() || key == "data" {
        return Ok(());
    }
    let Ok(from_file) = one_key(key, value) else {
        return Ok(());
    };
    match Settings::from_env(&|name| (name == *var).then(|| text.clone())) {
        Ok(from_env) if from_env == from_file => Ok(()),
        other => Err(format!(
            "{key} = {value:?}: the file gives {from_file:?}, {var}={text:?} gives {other:?}"
        )),
    }
}

/// Test-only tokens of the credentials the `bearer_token` target checks
/// against (made up for fuzzing; no server holds them): an `ingest` and a
/// `scim` credential, and a revoked `admin` one.
pub const FUZZ_TOKENS: [&str; 3] = [
    "cst_ingest_0123456789abcdef_fuzz-ingest-secret-AAAAAAAAAAAAAAAAAAAAAAAA",
    "cst_scim_fedcba9876543210_fuzz-scim-secret-AAAAAAAAAAAAAAAAAAAAAAAAAA",
    "cst_admin_00000000000000ad_fuzz-admin-secret-revoked-AAAAAAAAAAAAAAAAA",
];

/// The credentials file of [`FUZZ_TOKENS`] (the last one revoked).
#[must_use]
pub fn fuzz_credentials_file() -> String {
    let mut text = String::new();
    for (n, token) in FUZZ_TOKENS.iter().enumerate() {
        let mut parts = token.splitn(4, '_').skip(1);
        let (role, id) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let digest: String = Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        text.push_str(&format!(
            "{{\"op\":\"issue\",\"action\":\"adm-{n}\",\"time_ms\":{n},\"actor\":\"fuzz\",\
             \"id\":\"{id}\",\"role\":\"{role}\",\"digest\":\"{digest}\"}}\n"
        ));
    }
    text.push_str(
        "{\"op\":\"revoke\",\"action\":\"adm-3\",\"time_ms\":3,\"actor\":\"fuzz\",\
         \"id\":\"00000000000000ad\"}\n",
    );
    text
}

static FUZZ_CREDENTIALS: LazyLock<Result<CredentialSet, String>> = LazyLock::new(|| {
    credentials_store()
        .parse(fuzz_credentials_file().as_bytes())
        .map_err(|e| format!("the fuzz credentials do not parse: {e}"))
});

/// The `bearer_token` target: `data` as an `Authorization` header value,
/// checked as the server checks it, against the credentials of
/// [`FUZZ_TOKENS`].
///
/// Invariants: a token is taken only from `Bearer <token>` (any case),
/// trimmed; a token that parses is `cst_<role>_<id>_<secret>` with a
/// 16-digit lowercase hex id and a 43-character base64url secret, and its
/// digest is its SHA-256; it is accepted exactly when it is one of the
/// unrevoked [`FUZZ_TOKENS`], with that credential's id and role.
pub fn bearer_token(data: &[u8]) -> Result<Outcome, String> {
    let set = FUZZ_CREDENTIALS.as_ref().map_err(Clone::clone)?;
    let Some(token) = bearer(data) else {
        return Ok(Outcome::Refused(
            "expected `Authorization: Bearer <token>`".to_owned(),
        ));
    };
    let value = std::str::from_utf8(data).map_err(|_| "a token from non-UTF-8 bytes")?;
    let scheme_ok = value
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("bearer "));
    if !scheme_ok || token != token.trim() || !value.trim_end().ends_with(token) {
        return Err(format!("token {token:?} taken from {value:?}"));
    }
    let valid = FUZZ_TOKENS.get(..2).unwrap_or_default().contains(&token);
    let Some(presented) = parse_token(token) else {
        if valid {
            return Err(format!("a valid token does not parse: {token:?}"));
        }
        return Ok(Outcome::Refused("unknown or revoked token".to_owned()));
    };
    let prefix = format!("cst_{}_{}_", presented.role, presented.id);
    let secret = token.strip_prefix(&prefix).unwrap_or_default();
    let shape_ok = presented.id.len() == 16
        && presented
            .id
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if !shape_ok || presented.digest != digest {
        return Err(format!(
            "token {token:?} parsed into a wrong shape or digest"
        ));
    }
    match check_token(set, &presented) {
        Ok(cred)
            if valid && cred.id() == presented.id && cred.role().as_str() == presented.role =>
        {
            Ok(Outcome::Accepted(format!("{} {}", cred.role(), cred.id())))
        }
        Ok(cred) => Err(format!(
            "accepted {token:?} as {} {}",
            cred.role(),
            cred.id()
        )),
        Err(_) if valid => Err(format!("refused a valid token {token:?}")),
        Err(e) => Ok(Outcome::Refused(e.message().to_owned())),
    }
}

/// The data directory of the `credentials_file` target (never read).
pub const FUZZ_DATA_DIR: &str = "/fuzz/data";

fn credentials_store() -> CredentialStore {
    CredentialStore::new(Path::new(FUZZ_DATA_DIR))
}

/// The `credentials_file` target: `data` as the contents of
/// `credentials.jsonl`, parsed as the server and `custos admin` parse it.
///
/// Invariants: a refusal is `Corrupt`, naming the file and the first bad
/// line, which is a complete, non-empty line; every prefix of whole lines of
/// an accepted file is accepted, and credentials are never dropped by a
/// later line.
pub fn credentials_file(data: &[u8]) -> Result<Outcome, String> {
    let store = credentials_store();
    // The byte offsets just past each complete line.
    let ends: Vec<usize> = data
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    let prefix = |lines: usize| -> &[u8] {
        let end = lines
            .checked_sub(1)
            .and_then(|i| ends.get(i))
            .copied()
            .unwrap_or(0);
        data.get(..end).unwrap_or_default()
    };
    match store.parse(data) {
        Ok(set) => {
            let mut before = BTreeSet::new();
            for lines in 0..=ends.len() {
                let part = store
                    .parse(prefix(lines))
                    .map_err(|e| format!("the first {lines} lines are refused: {e}"))?;
                let ids: BTreeSet<String> = part.by_id.into_keys().collect();
                if !before.is_subset(&ids) {
                    return Err(format!("line {lines} dropped a credential"));
                }
                before = ids;
            }
            let revoked = set
                .by_id
                .values()
                .filter(|c| c.revoked_ms.is_some())
                .count();
            Ok(Outcome::Accepted(format!(
                "{} credentials, {revoked} revoked, pending {}",
                set.by_id.len(),
                set.has_pending()
            )))
        }
        Err(e @ CredentialError::Corrupt { line, .. }) => {
            let msg = e.to_string();
            let start = prefix(line.saturating_sub(1)).len();
            let bad_line = data
                .get(start..)
                .and_then(|rest| rest.split(|b| *b == b'\n').next())
                .unwrap_or_default();
            if line == 0
                || line > ends.len()
                || bad_line.is_empty()
                || !msg.contains(&format!("line {line}:"))
                || !msg.contains(FUZZ_DATA_DIR)
            {
                return Err(format!("a wrong line or file in: {msg}"));
            }
            if let Err(e) = store.parse(prefix(line - 1)) {
                return Err(format!("line {line} named, but an earlier one is bad: {e}"));
            }
            Ok(Outcome::Refused(msg))
        }
        Err(e) => Err(format!("not a Corrupt error: {e}")),
    }
}

/// Published checkpoint sizes the `log_path` target serves at, ascending.
pub const PUBLISHED_SIZES: [u64; 9] = [0, 1, 255, 256, 257, 65_536, 1 << 24, 1 << 56, u64::MAX];

/// The `log_path` target: `data` as an HTTP request target, served as
/// `GET /log/…` is by a server whose checkpoint has each of
/// [`PUBLISHED_SIZES`]; accepted when served at the largest.
///
/// Invariants: what is served is the file named exactly by the request
/// path: `checkpoint` (uncached), or a canonical tile path (cached as
/// immutable) of plain components under `DIR/log/`; once served at a size,
/// it is served at every larger size.
pub fn log_path(data: &[u8]) -> Result<Outcome, String> {
    let Ok(uri) = axum::http::Uri::try_from(data) else {
        return Ok(Outcome::Refused("not a request target".to_owned()));
    };
    let Some(path) = uri.path().strip_prefix("/log/") else {
        return Ok(Outcome::Refused("not under /log/".to_owned()));
    };
    let mut served_from = None;
    for size in PUBLISHED_SIZES {
        match log_file(path, || size) {
            Ok((rel, content_type, cache)) => {
                check_served(path, &rel, content_type, cache)?;
                served_from.get_or_insert(size);
            }
            Err(e) => {
                if let Some(from) = served_from {
                    return Err(format!("{path:?} served at size {from} but not {size}"));
                }
                if e.status() != axum::http::StatusCode::NOT_FOUND {
                    return Err(format!("{path:?}: {e:?}"));
                }
            }
        }
    }
    Ok(match served_from {
        Some(from) => Outcome::Accepted(format!("{path} from size {from}")),
        None => Outcome::Refused("no such resource".to_owned()),
    })
}

fn check_served(path: &str, rel: &str, content_type: &str, cache: &str) -> Result<(), String> {
    let plain = Path::new(rel)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    let charset = rel
        .bytes()
        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'/'));
    let kind_ok = if rel == "checkpoint" {
        cache == "no-store" && content_type.starts_with("text/plain")
    } else {
        rel.starts_with("tile/")
            && cache.contains("immutable")
            && content_type == "application/octet-stream"
            && tlog::TileId::parse_path(rel).is_ok_and(|t| t.path() == rel)
    };
    if rel != path || !plain || !charset || rel.contains("..") || rel.contains("//") || !kind_ok {
        return Err(format!(
            "{path:?} served as {rel:?} ({content_type}, {cache})"
        ));
    }
    Ok(())
}

/// The `token_request` target: the token authority's parsers of request
/// bodies. The first byte picks the parser (`% 4`): 0 `POST /v1/subjects`
/// (NDJSON or a JSON array of `{"id","status"}`), 1 `POST /v1/tokens`
/// (JSON), 2 `POST /oauth2/introspect` (form), 3 `POST /oauth2/revoke`
/// (form); the rest is the body.
///
/// Invariants: a refusal says something; a refused subjects body names the
/// place (`line N` or `$[N]`) or the body as a whole; an accepted subjects
/// body yields one subject per non-blank line or array element, each id
/// 1–256 bytes without control characters; an accepted token request has a
/// bounded subject and 1–16 audiences.
pub fn token_request(data: &[u8]) -> Result<Outcome, String> {
    let Some((&which, body)) = data.split_first() else {
        return Ok(Outcome::Refused("empty input".to_owned()));
    };
    let refused = |e: crate::error::ApiError| -> Result<Outcome, String> {
        let msg = e.message().to_owned();
        if msg.is_empty() {
            return Err("a refusal with no message".to_owned());
        }
        Ok(Outcome::Refused(msg))
    };
    match which % 4 {
        0 => match crate::tokens::parse_subjects(body) {
            Ok(subjects) => {
                if let Some((id, _)) = subjects.iter().find(|(id, _)| {
                    id.is_empty() || id.len() > 256 || id.chars().any(char::is_control)
                }) {
                    return Err(format!("accepted a bad subject id {id:?}"));
                }
                let text = std::str::from_utf8(body).unwrap_or_default();
                if !text.trim_start().starts_with('[') {
                    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
                    if lines != subjects.len() {
                        return Err(format!("{lines} lines but {} subjects", subjects.len()));
                    }
                }
                Ok(Outcome::Accepted(format!("{} subjects", subjects.len())))
            }
            Err(e) => {
                let msg = e.message();
                let placed = msg.contains("line ")
                    || msg.contains("$[")
                    || msg.contains("body")
                    || msg.contains("JSON array")
                    || msg.contains("subjects per request");
                if !placed {
                    return Err(format!("a refusal that names no place: {msg}"));
                }
                refused(e)
            }
        },
        1 => match crate::tokens::parse_issue_body(body) {
            Ok((sub, aud)) => {
                if sub.is_empty() || sub.len() > 256 || aud.is_empty() || aud.len() > 16 {
                    return Err(format!("accepted sub {sub:?} with {} audiences", aud.len()));
                }
                Ok(Outcome::Accepted(format!("token for {sub}")))
            }
            Err(e) => refused(e),
        },
        2 => match crate::tokens::parse_introspect_form(body) {
            Ok((t, _)) => Ok(Outcome::Accepted(format!("token of {} bytes", t.len()))),
            Err(e) => refused(e),
        },
        _ => match crate::tokens::parse_revoke_form(body) {
            Ok(t) => Ok(Outcome::Accepted(format!("token of {} bytes", t.len()))),
            Err(e) => refused(e),
        },
    }
}
