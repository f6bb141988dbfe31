//! Service credentials: roles, bearer tokens, the credentials file, and the
//! ledger entries that record every issuance and revocation.
//!
//! # Tokens
//! `cst_<role>_<id>_<secret>`: a readable prefix and role, a 64-bit public
//! credential id (16 hex digits, so lookup is O(1)), and a 256-bit secret
//! from the OS random source (43 base64url characters). Only the token's
//! SHA-256 is stored; a presented token is hashed and the digests compared
//! in constant time. A fast hash is the right tool here (unlike passwords):
//! the secret has 256 bits of entropy, so there is nothing to brute-force.
//!
//! # The credentials file
//! `DIR/auth/credentials.jsonl` (0600, in a 0700 directory) is append-only,
//! one JSON record per line, each appended under an exclusive lock on the
//! file and fsynced before the command reports success:
//!
//! ```text
//! {"op":"issue","action":A,"time_ms":T,"actor":U,"host":H,"id":I,"role":R,"name":N,"digest":"<sha256 hex>"}
//! {"op":"revoke","action":A,"time_ms":T,"actor":U,"host":H,"id":I}
//! {"op":"logging","action":A,"from_size":S}   about to append A's ledger entry; it will land at index ≥ S
//! {"op":"logged","action":A,"index":X}        A's ledger entry is durable at index X
//! ```
//!
//! # Every admin action is logged exactly once
//! An action takes effect when its `issue`/`revoke` record is durable (the
//! server re-reads the file when it changes, so a token issued while it runs
//! works at once, and a revocation applies to the next request). Its ledger
//! entry is appended by whichever process holds the ledger's writer lock —
//! the CLI itself when no server runs, otherwise the server, which picks up
//! pending actions when it (re)loads the file and at start-up — through
//! [`CredentialStore::log_pending`], which runs under the file lock, so only
//! one reconciler ever works at a time. For each action without `logged`:
//!
//! 1. if a `logging` record exists, a previous attempt may have appended the
//!    entry and crashed before writing `logged`: the ledger from `from_size`
//!    on is searched for the action's id (`metadata.uid`); if found, only
//!    `logged` is written;
//! 2. otherwise `logging` (with the current checkpoint size) is made durable,
//!    then the entry is appended and awaited, then `logged` is made durable.
//!
//! A crash before step 2's `logging` record means the entry was never
//! submitted; after it, step 1 finds the entry if it was committed. So each
//! action is in the ledger exactly once, and none is lost.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where credentials live, relative to the data directory.
pub const CREDENTIALS_FILE: &str = "auth/credentials.jsonl";

/// What a credential may do. Roles are separate: `admin` does not imply
/// `ingest`, so a leaked ingest token cannot administer and an administrator
/// cannot forge access events under an ingest identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Administers the server (credentials; metrics).
    Admin,
    /// Investigates (scope queries, findings; metrics).
    Analyst,
    /// Audits (read-only evidence; metrics).
    Auditor,
    /// Sends access events (`POST /v1/events`).
    Ingest,
    /// Provisions principals from the identity provider (SCIM 2.0).
    Scim,
    /// A gateway or the customer authentication service: has tokens
    /// issued, introspects (RFC 7662) and revokes (RFC 7009) them, reads the
    /// token feeds and asks for authorization decisions.
    Gateway,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Analyst,
        Role::Auditor,
        Role::Ingest,
        Role::Scim,
        Role::Gateway,
    ];

    /// The role's name, as in tokens and the credentials file.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::Ingest => "ingest",
            Role::Scim => "scim",
            Role::Gateway => "gateway",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?}; expected admin, analyst, auditor, ingest, scim or gateway"
                )
            })
    }
}

/// A bearer token. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// The token text, to hand to its holder once.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Length of a credential id in hex digits.
const ID_HEX: usize = 16;
/// Length of the secret in base64url characters (32 bytes).
const SECRET_B64: usize = 43;

/// The parts of a presented token, before any check.
pub(crate) struct PresentedToken<'a> {
    pub(crate) role: &'a str,
    pub(crate) id: &'a str,
    pub(crate) digest: [u8; 32],
}

/// Splits `cst_<role>_<id>_<secret>`; `None` if it is not of that shape.
pub(crate) fn parse_token(token: &str) -> Option<PresentedToken<'_>> {
    let rest = token.strip_prefix("cst_")?;
    let (role, rest) = rest.split_once('_')?;
    let (id, secret) = rest.split_once('_')?;
    let hex_ok = id.len() == ID_HEX && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let secret_ok = secret.len() == SECRET_B64
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (hex_ok && secret_ok).then(|| PresentedToken {
        role,
        id,
        digest: Sha256::digest(token.as_bytes()).into(),
    })
}

/// Constant-time equality of two digests: every byte is compared whatever
/// the earlier ones were, so timing reveals nothing about where they differ.
pub(crate) fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Who performed an admin action, and from where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminActor {
    /// The person or automation (OS user, or `--actor`).
    pub name: String,
    /// The machine it ran on, if known.
    pub host: Option<String>,
}

impl AdminActor {
    /// The current OS user (`$USER`, else `$LOGNAME`, else `unknown`) on this
    /// host.
    #[must_use]
    pub fn current() -> AdminActor {
        let name = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_owned());
        AdminActor {
            name,
            host: hostname(),
        }
    }
}

fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && s.len() <= 255 && !s.chars().any(char::is_control))
}

/// A freshly issued credential. The token is shown once and never stored.
#[derive(Debug)]
pub struct IssuedCredential {
    /// Public credential id.
    pub id: String,
    /// Its role.
    pub role: Role,
    /// The bearer token (secret).
    pub token: Token,
    /// The admin action id (the ledger entry's `metadata.uid`).
    pub action: String,
}

/// A credential as listed (no secret, no digest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CredentialInfo {
    /// Public credential id.
    pub id: String,
    /// Its role.
    pub role: Role,
    /// Optional label.
    pub name: Option<String>,
    /// Issued at (ms since the epoch).
    pub created_ms: i64,
    /// Who issued it.
    pub created_by: String,
    /// Revoked at (ms since the epoch), if revoked.
    pub revoked_ms: Option<i64>,
    /// Ledger index of the issuance entry; `None` while pending.
    pub issue_logged_at: Option<u64>,
    /// Ledger index of the revocation entry; `None` if not revoked or pending.
    pub revoke_logged_at: Option<u64>,
}

/// An admin action appended to the ledger by [`CredentialStore::log_pending`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedAction {
    /// The action id.
    pub action: String,
    /// `custos.admin.credential.issue` or `…revoke`.
    pub operation: &'static str,
    /// The credential concerned.
    pub credential: String,
    /// Its ledger index.
    pub index: u64,
    /// False if the entry was found already in the ledger (a previous
    /// attempt crashed before recording it) rather than appended now.
    pub appended: bool,
}

/// Problems with the credentials file or logging admin actions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// A file-system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A complete line of the file is not a valid record.
    #[error("{}: line {line}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// No credential has this id.
    #[error("no credential with id {0:?}")]
    UnknownId(String),
    /// The credential is already revoked.
    #[error("credential {0} is already revoked")]
    AlreadyRevoked(String),
    /// A name or actor that cannot be recorded.
    #[error("{0}")]
    BadInput(String),
    /// The OS random source failed.
    #[error("random source: {0}")]
    Random(String),
    /// Appending to or reading the ledger failed.
    #[error("ledger: {0}")]
    Ledger(#[from] ledger::Error),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Record {
    Issue {
        action: String,
        time_ms: i64,
        actor: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        id: String,
        role: Role,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        digest: String,
    },
    Revoke {
        action: String,
        time_ms: i64,
        actor: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        id: String,
    },
    Logging {
        action: String,
        from_size: u64,
    },
    Logged {
        action: String,
        index: u64,
    },
}

/// serde cannot say which member of an internally tagged record was bad
/// (it buffers the object first), so name it here: the first member of the
/// record's kind that is of the wrong JSON type, or the message as it was.
fn with_field(line: &[u8], message: &str) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(line)
    else {
        return message.to_owned();
    };
    const STRINGS: [&str; 6] = ["action", "actor", "host", "id", "name", "digest"];
    const INTEGERS: [&str; 3] = ["time_ms", "from_size", "index"];
    for (key, value) in &map {
        let ok = match key.as_str() {
            "op" => value.is_string(),
            "role" => serde_json::from_value::<Role>(value.clone()).is_ok(),
            k if STRINGS.contains(&k) => value.is_string(),
            k if INTEGERS.contains(&k) => value.is_i64() || value.is_u64(),
            _ => true,
        };
        if !ok {
            return format!("`{key}`: {message}");
        }
    }
    message.to_owned()
}

/// One credential, as the server checks it.
#[derive(Clone, Debug)]
pub(crate) struct Credential {
    pub(crate) role: Role,
    pub(crate) name: Option<String>,
    pub(crate) digest: [u8; 32],
    pub(crate) created_ms: i64,
    pub(crate) created_by: String,
    pub(crate) revoked_ms: Option<i64>,
    issue_action: String,
    revoke_action: Option<String>,
}

#[derive(Clone, Debug)]
enum ActionKind {
    Issue { role: Role, name: Option<String> },
    Revoke,
}

#[derive(Clone, Debug)]
struct Action {
    action: String,
    kind: ActionKind,
    time_ms: i64,
    actor: String,
    host: Option<String>,
    credential: String,
    logging_from: Option<u64>,
    logged: Option<u64>,
}

/// The parsed contents of the credentials file.
#[derive(Clone, Debug, Default)]
pub(crate) struct CredentialSet {
    pub(crate) by_id: HashMap<String, Credential>,
    actions: Vec<Action>,
    action_pos: HashMap<String, usize>,
}

impl CredentialSet {
    /// Whether some admin action still needs its ledger entry.
    pub(crate) fn has_pending(&self) -> bool {
        self.actions.iter().any(|a| a.logged.is_none())
    }

    fn apply(&mut self, rec: Record) -> Result<(), String> {
        match rec {
            Record::Issue {
                action,
                time_ms,
                actor,
                host,
                id,
                role,
                name,
                digest,
            } => {
                let mut d = [0u8; 32];
                hex_decode(&digest, &mut d).ok_or("bad digest")?;
                if self.by_id.contains_key(&id) {
                    return Err(format!("credential {id} issued twice"));
                }
                self.add_action(Action {
                    action: action.clone(),
                    kind: ActionKind::Issue {
                        role,
                        name: name.clone(),
                    },
                    time_ms,
                    actor: actor.clone(),
                    host,
                    credential: id.clone(),
                    logging_from: None,
                    logged: None,
                })?;
                self.by_id.insert(
                    id,
                    Credential {
                        role,
                        name,
                        digest: d,
                        created_ms: time_ms,
                        created_by: actor,
                        revoked_ms: None,
                        issue_action: action,
                        revoke_action: None,
                    },
                );
            }
            Record::Revoke {
                action,
                time_ms,
                actor,
                host,
                id,
            } => {
                let cred = self
                    .by_id
                    .get_mut(&id)
                    .ok_or_else(|| format!("revocation of unknown credential {id}"))?;
                if cred.revoked_ms.is_some() {
                    return Err(format!("credential {id} revoked twice"));
                }
                cred.revoked_ms = Some(time_ms);
                cred.revoke_action = Some(action.clone());
                self.add_action(Action {
                    action,
                    kind: ActionKind::Revoke,
                    time_ms,
                    actor,
                    host,
                    credential: id,
                    logging_from: None,
                    logged: None,
                })?;
            }
            Record::Logging { action, from_size } => {
                self.action_mut(&action)?.logging_from = Some(from_size);
            }
            Record::Logged { action, index } => {
                let a = self.action_mut(&action)?;
                if a.logged.is_some() {
                    return Err(format!("action {action} logged twice"));
                }
                a.logged = Some(index);
            }
        }
        Ok(())
    }

    fn add_action(&mut self, a: Action) -> Result<(), String> {
        if self.action_pos.contains_key(&a.action) {
            return Err(format!("action id {} repeated", a.action));
        }
        self.action_pos.insert(a.action.clone(), self.actions.len());
        self.actions.push(a);
        Ok(())
    }

    fn action_mut(&mut self, action: &str) -> Result<&mut Action, String> {
        let pos = *self
            .action_pos
            .get(action)
            .ok_or_else(|| format!("record for unknown action {action}"))?;
        self.actions
            .get_mut(pos)
            .ok_or_else(|| format!("record for unknown action {action}"))
    }

    fn logged_at(&self, action: &str) -> Option<u64> {
        self.action_pos
            .get(action)
            .and_then(|p| self.actions.get(*p))
            .and_then(|a| a.logged)
    }
}

fn hex_decode(s: &str, out: &mut [u8; 32]) -> Option<()> {
    if s.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        let byte = s.get(2 * i..2 * i + 2)?;
        *o = u8::from_str_radix(byte, 16).ok()?;
    }
    Some(())
}

fn hex_encode(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

fn random_bytes<const N: usize>() -> Result<[u8; N], CredentialError> {
    let mut b = [0u8; N];
    OsRng
        .try_fill_bytes(&mut b)
        .map_err(|e| CredentialError::Random(e.to_string()))?;
    Ok(b)
}

fn now_ms(now: SystemTime) -> i64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The identity of a version of the credentials file: it only grows, so
/// its length changes with every record; the inode catches replacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileSig {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    ino: u64,
}

impl FileSig {
    fn of(m: &fs::Metadata) -> FileSig {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        FileSig {
            len: m.len(),
            modified: m.modified().ok(),
            #[cfg(unix)]
            ino: m.ino(),
        }
    }
}

/// The credentials of one data directory (`DIR/auth/credentials.jsonl`).
#[derive(Clone, Debug)]
pub struct CredentialStore {
    path: PathBuf,
}

impl CredentialStore {
    /// The store of data directory `dir` (nothing is read or created yet).
    #[must_use]
    pub fn new(dir: &Path) -> CredentialStore {
        CredentialStore {
            path: dir.join(CREDENTIALS_FILE),
        }
    }

    /// The credentials file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, op: &'static str) -> impl FnOnce(io::Error) -> CredentialError + '_ {
        move |source| CredentialError::Io {
            op,
            path: self.path.clone(),
            source,
        }
    }

    /// The file's current signature, or `None` if it does not exist.
    pub(crate) fn signature(&self) -> Result<Option<FileSig>, CredentialError> {
        match fs::metadata(&self.path) {
            Ok(m) => Ok(Some(FileSig::of(&m))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io("stat")(e)),
        }
    }

    /// Reads and parses the file (missing = empty), with the signature of
    /// the version read. A last line without its newline is a torn append
    /// (never acknowledged) and is ignored.
    pub(crate) fn load(&self) -> Result<(CredentialSet, Option<FileSig>), CredentialError> {
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok((CredentialSet::default(), None));
            }
            Err(e) => return Err(self.io("open")(e)),
        };
        let sig = FileSig::of(&f.metadata().map_err(self.io("stat"))?);
        let mut text = Vec::new();
        f.read_to_end(&mut text).map_err(self.io("read"))?;
        Ok((self.parse(&text)?, Some(sig)))
    }

    /// Parses the file's contents (see [`CredentialStore::load`]).
    pub(crate) fn parse(&self, text: &[u8]) -> Result<CredentialSet, CredentialError> {
        let mut set = CredentialSet::default();
        let complete = match text.iter().rposition(|b| *b == b'\n') {
            Some(p) => text.get(..p).unwrap_or_default(),
            None => return Ok(set),
        };
        for (i, line) in complete.split(|b| *b == b'\n').enumerate() {
            let corrupt = |reason: String| CredentialError::Corrupt {
                path: self.path.clone(),
                line: i + 1,
                reason,
            };
            if line.is_empty() {
                continue;
            }
            let rec: Record = serde_json::from_slice(line)
                .map_err(|e| corrupt(with_field(line, &e.to_string())))?;
            set.apply(rec).map_err(corrupt)?;
        }
        Ok(set)
    }

    /// Opens the file for appending, creating it (0600, in a 0700
    /// directory) if needed, and takes its exclusive lock. A torn last line
    /// is cut off first.
    fn lock(&self) -> Result<LockedFile, CredentialError> {
        if let Some(dir) = self.path.parent()
            && !dir.exists()
        {
            fs::create_dir_all(dir).map_err(self.io("create directory for"))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                    .map_err(self.io("chmod directory of"))?;
            }
        }
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&self.path).map_err(self.io("open"))?;
        f.lock().map_err(self.io("lock"))?;
        let mut text = Vec::new();
        f.read_to_end(&mut text).map_err(self.io("read"))?;
        let keep = text.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
        if keep != text.len() {
            f.set_len(keep as u64)
                .map_err(self.io("truncate torn line of"))?;
            f.sync_all().map_err(self.io("fsync"))?;
        }
        let set = self.parse(text.get(..keep).unwrap_or_default())?;
        if let Some(dir) = self.path.parent() {
            // Make the file's name durable (first creation).
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(self.io("fsync directory of"))?;
        }
        Ok(LockedFile { file: f, set })
    }

    fn append(&self, locked: &mut LockedFile, rec: Record) -> Result<(), CredentialError> {
        let mut line =
            serde_json::to_vec(&rec).map_err(|e| CredentialError::BadInput(e.to_string()))?;
        line.push(b'\n');
        locked
            .file
            .seek(SeekFrom::End(0))
            .map_err(self.io("seek"))?;
        locked.file.write_all(&line).map_err(self.io("append to"))?;
        locked.file.sync_all().map_err(self.io("fsync"))?;
        locked.set.apply(rec).map_err(CredentialError::BadInput)
    }

    /// Issues a credential with `role`: records its digest durably and
    /// returns the token (shown once). Its ledger entry is pending until
    /// [`CredentialStore::log_pending`] runs with the ledger open.
    pub fn issue(
        &self,
        role: Role,
        name: Option<&str>,
        actor: &AdminActor,
        now: SystemTime,
    ) -> Result<IssuedCredential, CredentialError> {
        check_text("name", name)?;
        check_text("actor", Some(&actor.name))?;
        let mut locked = self.lock()?;
        let mut id = hex_encode(&random_bytes::<8>()?);
        while locked.set.by_id.contains_key(&id) {
            id = hex_encode(&random_bytes::<8>()?);
        }
        let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
        let token = format!("cst_{role}_{id}_{secret}");
        let digest = hex_encode(&Sha256::digest(token.as_bytes()));
        let action = new_action_id()?;
        self.append(
            &mut locked,
            Record::Issue {
                action: action.clone(),
                time_ms: now_ms(now),
                actor: actor.name.clone(),
                host: actor.host.clone(),
                id: id.clone(),
                role,
                name: name.map(str::to_owned),
                digest,
            },
        )?;
        Ok(IssuedCredential {
            id,
            role,
            token: Token(token),
            action,
        })
    }

    /// Revokes credential `id` durably (it stops working at the server's
    /// next request). Returns the action id; its ledger entry is pending
    /// until [`CredentialStore::log_pending`] runs.
    pub fn revoke(
        &self,
        id: &str,
        actor: &AdminActor,
        now: SystemTime,
    ) -> Result<String, CredentialError> {
        check_text("actor", Some(&actor.name))?;
        let mut locked = self.lock()?;
        match locked.set.by_id.get(id) {
            None => return Err(CredentialError::UnknownId(id.to_owned())),
            Some(c) if c.revoked_ms.is_some() => {
                return Err(CredentialError::AlreadyRevoked(id.to_owned()));
            }
            Some(_) => {}
        }
        let action = new_action_id()?;
        self.append(
            &mut locked,
            Record::Revoke {
                action: action.clone(),
                time_ms: now_ms(now),
                actor: actor.name.clone(),
                host: actor.host.clone(),
                id: id.to_owned(),
            },
        )?;
        Ok(action)
    }

    /// Every credential, in issue order.
    pub fn list(&self) -> Result<Vec<CredentialInfo>, CredentialError> {
        let (set, _) = self.load()?;
        let mut out: Vec<CredentialInfo> = set
            .actions
            .iter()
            .filter(|a| matches!(a.kind, ActionKind::Issue { .. }))
            .filter_map(|a| {
                let c = set.by_id.get(&a.credential)?;
                Some(CredentialInfo {
                    id: a.credential.clone(),
                    role: c.role,
                    name: c.name.clone(),
                    created_ms: c.created_ms,
                    created_by: c.created_by.clone(),
                    revoked_ms: c.revoked_ms,
                    issue_logged_at: set.logged_at(&c.issue_action),
                    revoke_logged_at: c.revoke_action.as_deref().and_then(|r| set.logged_at(r)),
                })
            })
            .collect();
        out.sort_by_key(|c| c.created_ms);
        Ok(out)
    }

    /// Appends the ledger entry of every admin action that has none yet,
    /// exactly once each (see the module docs), and returns them. Needs the
    /// ledger open for writing (so only its lock holder reconciles); blocks
    /// until each entry is durable.
    pub fn log_pending(
        &self,
        ledger: &ledger::Ledger,
        data_dir: &Path,
        logged_by: &str,
    ) -> Result<Vec<LoggedAction>, CredentialError> {
        // Cheap check without the lock first: the server calls this often.
        let (set, _) = self.load()?;
        if !set.has_pending() {
            return Ok(Vec::new());
        }
        let mut locked = self.lock()?;
        let pending: Vec<Action> = locked
            .set
            .actions
            .iter()
            .filter(|a| a.logged.is_none())
            .cloned()
            .collect();
        let mut done = Vec::new();
        for a in pending {
            let found = match a.logging_from {
                Some(from) => find_action(data_dir, &a.action, from, ledger.checkpoint().size())?,
                None => None,
            };
            let (index, appended) = match found {
                Some(index) => (index, false),
                None => {
                    let from_size = ledger.checkpoint().size();
                    self.append(
                        &mut locked,
                        Record::Logging {
                            action: a.action.clone(),
                            from_size,
                        },
                    )?;
                    let entry = admin_entry(&a, logged_by);
                    let mut batch = ledger::EntryBatch::new();
                    batch.push(&entry)?;
                    let ack = ledger.append(batch)?;
                    (ack.first_index(), true)
                }
            };
            self.append(
                &mut locked,
                Record::Logged {
                    action: a.action.clone(),
                    index,
                },
            )?;
            done.push(LoggedAction {
                action: a.action.clone(),
                operation: operation_of(&a.kind),
                credential: a.credential.clone(),
                index,
                appended,
            });
        }
        Ok(done)
    }
}

struct LockedFile {
    file: File,
    set: CredentialSet,
}

fn check_text(what: &str, s: Option<&str>) -> Result<(), CredentialError> {
    match s {
        Some(s) if s.is_empty() || s.len() > 128 || s.chars().any(char::is_control) => {
            Err(CredentialError::BadInput(format!(
                "{what} must be 1 to 128 bytes without control characters"
            )))
        }
        _ => Ok(()),
    }
}

fn new_action_id() -> Result<String, CredentialError> {
    Ok(format!("adm-{}", hex_encode(&random_bytes::<16>()?)))
}

fn operation_of(kind: &ActionKind) -> &'static str {
    match kind {
        ActionKind::Issue { .. } => "custos.admin.credential.issue",
        ActionKind::Revoke => "custos.admin.credential.revoke",
    }
}

/// Searches the published log from `from` to `size` for the entry of
/// `action` (its `metadata.uid`).
fn find_action(
    data_dir: &Path,
    action: &str,
    from: u64,
    size: u64,
) -> Result<Option<u64>, CredentialError> {
    let mut reader = ledger::LogReader::open(data_dir)?;
    let needle = action.as_bytes();
    for i in from..size {
        let entry = reader.entry(i, size)?;
        if entry.windows(needle.len()).any(|w| w == needle)
            && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&entry)
            && v.pointer("/metadata/uid").and_then(|u| u.as_str()) == Some(action)
            && v.pointer("/metadata/log_name").and_then(|u| u.as_str()) == Some(ADMIN_LOG_NAME)
        {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// `metadata.log_name` of admin-action entries.
pub const ADMIN_LOG_NAME: &str = "custos.admin";

// The admin action as an OCSF 1.3.0 API Activity (6003) event. Members in
// ascending order at every level (declaration order), as the access events'
// canonical encoding has them.
#[derive(Serialize)]
struct AdminEntry<'a> {
    activity_id: u8,
    actor: AdminEntryActor<'a>,
    api: AdminApi<'a>,
    category_uid: u8,
    class_uid: u16,
    metadata: AdminMetadata<'a>,
    resources: [AdminResource<'a>; 1],
    severity_id: u8,
    src_endpoint: AdminEndpoint<'a>,
    status_id: u8,
    time: i64,
    type_uid: u32,
    unmapped: AdminUnmapped<'a>,
}
#[derive(Serialize)]
struct AdminEntryActor<'a> {
    user: AdminUser<'a>,
}
#[derive(Serialize)]
struct AdminUser<'a> {
    type_id: u8,
    uid: &'a str,
}
#[derive(Serialize)]
struct AdminApi<'a> {
    operation: &'a str,
    service: AdminService,
}
#[derive(Serialize)]
struct AdminService {
    name: &'static str,
}
#[derive(Serialize)]
struct AdminMetadata<'a> {
    log_name: &'static str,
    product: AdminProduct,
    uid: &'a str,
    version: &'static str,
}
#[derive(Serialize)]
struct AdminProduct {
    name: &'static str,
    vendor_name: &'static str,
}
#[derive(Serialize)]
struct AdminResource<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    uid: &'a str,
}
#[derive(Serialize)]
struct AdminEndpoint<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'static str>,
}
#[derive(Serialize)]
struct AdminUnmapped<'a> {
    custos: AdminCustos<'a>,
}
#[derive(Serialize)]
struct AdminCustos<'a> {
    logged_by: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Role>,
    v: u8,
}

fn admin_entry(a: &Action, logged_by: &str) -> Vec<u8> {
    let (activity_id, role, name) = match &a.kind {
        // OCSF API Activity: 1 Create, 4 Delete.
        ActionKind::Issue { role, name } => (1u8, Some(*role), name.as_deref()),
        ActionKind::Revoke => (4u8, None, None),
    };
    let e = AdminEntry {
        activity_id,
        actor: AdminEntryActor {
            user: AdminUser {
                type_id: 1,
                uid: &a.actor,
            },
        },
        api: AdminApi {
            operation: operation_of(&a.kind),
            service: AdminService { name: "custos" },
        },
        category_uid: 6,
        class_uid: 6003,
        metadata: AdminMetadata {
            log_name: ADMIN_LOG_NAME,
            product: AdminProduct {
                name: "Custos",
                vendor_name: "Custos",
            },
            uid: &a.action,
            version: events::OCSF_VERSION,
        },
        resources: [AdminResource {
            name,
            kind: "credential",
            uid: &a.credential,
        }],
        severity_id: 1,
        src_endpoint: AdminEndpoint {
            hostname: a.host.as_deref(),
            name: a.host.is_none().then_some("custos admin"),
        },
        status_id: 1,
        time: a.time_ms,
        type_uid: 600_300 + u32::from(activity_id),
        unmapped: AdminUnmapped {
            custos: AdminCustos {
                logged_by,
                role,
                v: 1,
            },
        },
    };
    // Serialising these plain structs cannot fail.
    serde_json::to_vec(&e).unwrap_or_default()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    fn actor() -> AdminActor {
        AdminActor {
            name: "alice".into(),
            host: Some("ops-1".into()),
        }
    }

    fn ledger_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        ledger::init(d.path(), "test.example/log").unwrap();
        d
    }

    fn admin_entries(dir: &Path) -> Vec<(u64, serde_json::Value)> {
        let mut r = ledger::LogReader::open(dir).unwrap();
        let note = String::from_utf8(r.checkpoint_bytes().unwrap()).unwrap();
        let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
        (0..size)
            .filter_map(|i| {
                serde_json::from_slice::<serde_json::Value>(&r.entry(i, size).unwrap())
                    .ok()
                    .map(|v| (i, v))
            })
            .filter(|(_, v)| v["metadata"]["log_name"] == ADMIN_LOG_NAME)
            .collect()
    }

    #[test]
    fn corrupt_records_name_the_field() {
        let d = tempfile::tempdir().unwrap();
        let store = CredentialStore::new(d.path());
        for (line, field) in [
            (
                r#"{"op":"issue","action":"a","time_ms":"now","actor":"u","id":"0123456789abcdef","role":"ingest","digest":"00"}"#,
                "time_ms",
            ),
            (
                r#"{"op":"issue","action":"a","time_ms":1,"actor":"u","id":"0123456789abcdef","role":"root","digest":"00"}"#,
                "role",
            ),
        ] {
            let text = format!("{line}\n");
            let err = store.parse(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains("line 1"), "{err}");
            assert!(err.contains(field), "{field} not named: {err}");
        }
    }

    #[test]
    fn token_shape_and_digest() {
        let d = tempfile::tempdir().unwrap();
        let store = CredentialStore::new(d.path());
        let c = store
            .issue(Role::Ingest, Some("gw"), &actor(), SystemTime::now())
            .unwrap();
        let t = c.token.expose();
        assert!(t.starts_with(&format!("cst_ingest_{}_", c.id)), "{t}");
        assert_eq!(t.len(), 4 + 7 + 16 + 1 + 43);
        let p = parse_token(t).unwrap();
        assert_eq!((p.role, p.id), ("ingest", c.id.as_str()));
        let (set, _) = store.load().unwrap();
        let stored = &set.by_id[&c.id];
        assert!(digests_equal(&stored.digest, &p.digest));
        // The file holds the digest, never the secret.
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(!text.contains(&t[t.len() - 43..]));
        assert!(!format!("{c:?}").contains(t));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        for bad in [
            "",
            "cst_",
            "cst_ingest_x_y",
            &t[..t.len() - 1],
            &t.replace("cst_", "cst-"),
        ] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn revoke_and_list() {
        let d = tempfile::tempdir().unwrap();
        let store = CredentialStore::new(d.path());
        let a = store
            .issue(Role::Admin, None, &actor(), SystemTime::now())
            .unwrap();
        let b = store
            .issue(Role::Auditor, Some("audit"), &actor(), SystemTime::now())
            .unwrap();
        store.revoke(&a.id, &actor(), SystemTime::now()).unwrap();
        assert!(matches!(
            store.revoke(&a.id, &actor(), SystemTime::now()),
            Err(CredentialError::AlreadyRevoked(_))
        ));
        assert!(matches!(
            store.revoke("0000000000000000", &actor(), SystemTime::now()),
            Err(CredentialError::UnknownId(_))
        ));
        let l = store.list().unwrap();
        assert_eq!(l.len(), 2);
        let la = l.iter().find(|c| c.id == a.id).unwrap();
        assert!(la.revoked_ms.is_some());
        let lb = l.iter().find(|c| c.id == b.id).unwrap();
        assert_eq!(lb.name.as_deref(), Some("audit"));
        assert_eq!(lb.issue_logged_at, None, "pending");
    }

    #[test]
    fn torn_last_line_is_ignored_then_cut() {
        let d = tempfile::tempdir().unwrap();
        let store = CredentialStore::new(d.path());
        let a = store
            .issue(Role::Ingest, None, &actor(), SystemTime::now())
            .unwrap();
        let mut f = OpenOptions::new().append(true).open(store.path()).unwrap();
        f.write_all(b"{\"op\":\"revoke\",\"act").unwrap();
        drop(f);
        let (set, _) = store.load().unwrap();
        assert!(set.by_id[&a.id].revoked_ms.is_none());
        store.revoke(&a.id, &actor(), SystemTime::now()).unwrap();
        let (set, _) = store.load().unwrap();
        assert!(set.by_id[&a.id].revoked_ms.is_some());
        // A corrupt complete line is an error, never skipped.
        let mut f = OpenOptions::new().append(true).open(store.path()).unwrap();
        f.write_all(b"garbage\n").unwrap();
        assert!(matches!(
            store.load(),
            Err(CredentialError::Corrupt { line: 3, .. })
        ));
    }

    #[test]
    fn pending_actions_are_logged_once_as_ocsf() {
        let d = ledger_dir();
        let store = CredentialStore::new(d.path());
        let a = store
            .issue(Role::Ingest, Some("gw-1"), &actor(), SystemTime::now())
            .unwrap();
        store.revoke(&a.id, &actor(), SystemTime::now()).unwrap();
        let l = ledger::Ledger::open(d.path(), ledger::LedgerOptions::default()).unwrap();
        let done = store.log_pending(&l, d.path(), "cli").unwrap();
        assert_eq!(done.len(), 2);
        assert!(done.iter().all(|x| x.appended));
        assert!(store.log_pending(&l, d.path(), "cli").unwrap().is_empty());
        l.close().unwrap();
        let entries = admin_entries(d.path());
        assert_eq!(entries.len(), 2);
        let (i0, e) = &entries[0];
        assert_eq!(*i0, done[0].index);
        assert_eq!(e["class_uid"], 6003);
        assert_eq!(e["activity_id"], 1);
        assert_eq!(e["type_uid"], 600_301);
        assert_eq!(e["api"]["operation"], "custos.admin.credential.issue");
        assert_eq!(e["actor"]["user"]["uid"], "alice");
        assert_eq!(e["src_endpoint"]["hostname"], "ops-1");
        assert_eq!(e["resources"][0]["type"], "credential");
        assert_eq!(e["resources"][0]["uid"], a.id.as_str());
        assert_eq!(e["unmapped"]["custos"]["role"], "ingest");
        assert_eq!(e["metadata"]["uid"], a.action.as_str());
        assert_eq!(
            entries[1].1["api"]["operation"],
            "custos.admin.credential.revoke"
        );
        assert_eq!(entries[1].1["activity_id"], 4);
        // Never the secret, nor its digest.
        let secret = a.token.expose()[a.token.expose().len() - 43..].to_owned();
        for (_, e) in &entries {
            let s = e.to_string();
            assert!(!s.contains(&secret) && !s.contains("digest"), "{s}");
        }
        let info = store.list().unwrap();
        assert_eq!(info[0].issue_logged_at, Some(done[0].index));
        assert_eq!(info[0].revoke_logged_at, Some(done[1].index));
    }

    #[test]
    fn crash_after_append_before_logged_marker_is_not_duplicated() {
        let d = ledger_dir();
        let store = CredentialStore::new(d.path());
        let a = store
            .issue(Role::Scim, None, &actor(), SystemTime::now())
            .unwrap();
        let l = ledger::Ledger::open(d.path(), ledger::LedgerOptions::default()).unwrap();
        // Some unrelated entries first.
        let mut b = ledger::EntryBatch::new();
        b.push(b"unrelated").unwrap();
        l.append(b).unwrap();
        // Simulate the crash: `logging` recorded and the entry appended, but
        // no `logged` record.
        let (set, _) = store.load().unwrap();
        let action = set.actions[0].clone();
        let mut locked = store.lock().unwrap();
        store
            .append(
                &mut locked,
                Record::Logging {
                    action: a.action.clone(),
                    from_size: l.checkpoint().size(),
                },
            )
            .unwrap();
        drop(locked);
        let mut b = ledger::EntryBatch::new();
        b.push(&admin_entry(&action, "server")).unwrap();
        let first = l.append(b).unwrap().first_index();
        let mut b = ledger::EntryBatch::new();
        b.push(b"later").unwrap();
        l.append(b).unwrap();

        let done = store.log_pending(&l, d.path(), "server").unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].index, first);
        assert!(!done[0].appended, "found, not appended again");
        l.close().unwrap();
        assert_eq!(admin_entries(d.path()).len(), 1);
    }

    #[test]
    fn crash_after_logging_marker_before_append_appends_once() {
        let d = ledger_dir();
        let store = CredentialStore::new(d.path());
        let a = store
            .issue(Role::Analyst, None, &actor(), SystemTime::now())
            .unwrap();
        let mut locked = store.lock().unwrap();
        store
            .append(
                &mut locked,
                Record::Logging {
                    action: a.action.clone(),
                    from_size: 0,
                },
            )
            .unwrap();
        drop(locked);
        let l = ledger::Ledger::open(d.path(), ledger::LedgerOptions::default()).unwrap();
        let done = store.log_pending(&l, d.path(), "cli").unwrap();
        assert_eq!(done.len(), 1);
        assert!(done[0].appended);
        l.close().unwrap();
        assert_eq!(admin_entries(d.path()).len(), 1);
    }

    #[test]
    fn roles_parse() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn constant_time_equal() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(digests_equal(&a, &b));
        b[31] ^= 1;
        assert!(!digests_equal(&a, &b));
    }
}
