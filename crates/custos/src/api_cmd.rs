//! `custos token|keys|principal|grant|authorize|subjects`: clients of a
//! running `custos serve` (the server is the only writer of the token
//! authority's keys and of the grants, so these commands go through its API
//! and every change they make is a ledger entry written by the server).

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// Where the server is and which credential to use.
#[derive(Debug, Clone, Args)]
pub struct Conn {
    /// Base URL of the Custos server.
    #[arg(
        long,
        env = "CUSTOS_SERVER",
        default_value = "http://127.0.0.1:8790",
        value_name = "URL",
        global = true
    )]
    pub server: String,
    /// Credential (from `custos admin token --role …`).
    #[arg(
        long,
        env = "CUSTOS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        global = true
    )]
    pub token: Option<String>,
    /// Read the credential from this file (its last non-empty line).
    #[arg(long, value_name = "FILE", global = true)]
    pub token_file: Option<PathBuf>,
}

/// A blocking JSON client of the server's API.
pub struct Api {
    agent: ureq::Agent,
    base: String,
    authorization: String,
}

/// A response: status and body (JSON when it parses, else text).
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Api {
    /// A client for `conn`; the credential is required.
    pub fn new(conn: &Conn) -> anyhow::Result<Api> {
        let token = read_token(conn)?;
        Ok(Api::with_token(&conn.server, &token))
    }

    /// A client with an explicit credential.
    pub fn with_token(server: &str, token: &str) -> Api {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .max_idle_connections_per_host(16)
            .build();
        Api {
            agent: config.into(),
            base: server.trim_end_matches('/').to_owned(),
            authorization: format!("Bearer {token}"),
        }
    }

    fn answer(
        &self,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<Answer> {
        let mut resp =
            r.with_context(|| format!("cannot reach the Custos server at {}", self.base))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer { status, body })
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.answer(
            self.agent
                .get(&format!("{}{path}", self.base))
                .header("authorization", &self.authorization)
                .call(),
        )
    }

    /// POST a JSON (or NDJSON) body to `path`.
    pub fn post(&self, path: &str, body: &[u8]) -> anyhow::Result<Answer> {
        self.answer(
            self.agent
                .post(&format!("{}{path}", self.base))
                .header("authorization", &self.authorization)
                .header("content-type", "application/json")
                .send(body),
        )
    }

    /// PATCH a SCIM body to `path`.
    pub fn post_patch(&self, path: &str, body: &[u8]) -> anyhow::Result<Answer> {
        self.answer(
            self.agent
                .patch(&format!("{}{path}", self.base))
                .header("authorization", &self.authorization)
                .header("content-type", "application/scim+json")
                .send(body),
        )
    }

    /// POST a form (`application/x-www-form-urlencoded`) to `path`.
    pub fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> anyhow::Result<Answer> {
        self.answer(
            self.agent
                .post(&format!("{}{path}", self.base))
                .header("authorization", &self.authorization)
                .send_form(fields.iter().copied()),
        )
    }
}

/// The credential of `conn`.
pub fn read_token(conn: &Conn) -> anyhow::Result<String> {
    credential(conn.token.as_deref(), conn.token_file.as_deref())
}

/// A credential given as `--token` (or `$CUSTOS_TOKEN`) or as the last
/// non-empty line of `--token-file`.
pub fn credential(token: Option<&str>, file: Option<&std::path::Path>) -> anyhow::Result<String> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--token-file {}: cannot read", path.display()))?;
        return text
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_owned)
            .with_context(|| format!("--token-file {}: no credential in it", path.display()));
    }
    token.map(str::to_owned).context(
        "a credential is needed: --token, $CUSTOS_TOKEN or --token-file \
         (make one with `custos admin token --data DIR --role ROLE`)",
    )
}

/// Prints `a` (pretty JSON) and fails unless it is a 2xx.
pub(crate) fn show(a: &Answer) -> anyhow::Result<std::process::ExitCode> {
    if (200..300).contains(&a.status) {
        match &a.body {
            Value::String(s) => print!("{s}"),
            v => println!(
                "{}",
                serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
            ),
        }
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let msg = a
        .body
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| a.body.to_string(), str::to_owned);
    let detail = a
        .body
        .get("errors")
        .map(|e| format!("\n{}", serde_json::to_string_pretty(e).unwrap_or_default()))
        .unwrap_or_default();
    bail!("the server answered {}: {msg}{detail}", a.status)
}

/// Reads FILE, or standard input for `-`.
fn read_input(file: &PathBuf) -> anyhow::Result<Vec<u8>> {
    if file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading standard input")?;
        return Ok(buf);
    }
    std::fs::read(file).with_context(|| format!("{}: cannot read", file.display()))
}

/// Percent-encodes a path segment (RFC 3986 unreserved kept).
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `custos token …` (role gateway).
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Issue a token (EdDSA JWT with an issuance record) for an active subject.
    Issue {
        #[command(flatten)]
        conn: Conn,
        /// Subject: a SCIM userName or a customer id known to the directory.
        #[arg(long)]
        sub: String,
        /// Audience (repeatable).
        #[arg(long, required = true)]
        aud: Vec<String>,
        /// Space-separated scopes.
        #[arg(long)]
        scope: Option<String>,
        /// Lifetime in seconds (at most the server's maximum, 900).
        #[arg(long)]
        lifetime: Option<u64>,
        /// Print only the token.
        #[arg(long)]
        raw: bool,
    },
    /// RFC 7662 introspection; refusals are recorded in the ledger with their reason.
    Introspect {
        #[command(flatten)]
        conn: Conn,
        /// The token, or `-` to read it from standard input.
        #[arg(value_name = "TOKEN")]
        jwt: String,
        /// Where the token was presented from (recorded with a refusal).
        #[arg(long)]
        src_ip: Option<String>,
        /// ISO 3166-1 alpha-2 country of that address.
        #[arg(long)]
        src_country: Option<String>,
    },
    /// RFC 7009 revocation (the server answers 200 whatever the token).
    Revoke {
        #[command(flatten)]
        conn: Conn,
        /// The token, or `-` for standard input.
        #[arg(value_name = "TOKEN")]
        jwt: String,
    },
}

/// `custos keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Every signing key's public metadata: state, custodians (role admin, auditor or analyst).
    List {
        #[command(flatten)]
        conn: Conn,
    },
    /// Rotate now: a new current key; the old one verifies for the overlap (role admin).
    Rotate {
        #[command(flatten)]
        conn: Conn,
    },
    /// Record a custodian of a key: offboarding them retires it at once (role admin).
    Custodian {
        #[command(flatten)]
        conn: Conn,
        /// Key id.
        #[arg(long)]
        kid: String,
        /// The principal (SCIM userName).
        #[arg(long)]
        principal: String,
    },
}

/// `custos principal …`.
#[derive(Debug, Subcommand)]
pub enum PrincipalCmd {
    /// Status, keys in custody and grants (role admin, auditor or analyst).
    Show {
        #[command(flatten)]
        conn: Conn,
        /// Principal id (SCIM userName).
        id: String,
    },
    /// Offboard: revoke every token and grant, retire every key in custody, at once (role admin).
    Offboard {
        #[command(flatten)]
        conn: Conn,
        /// Principal id (SCIM userName).
        id: String,
    },
}

/// `custos grant …`.
#[derive(Debug, Subcommand)]
pub enum GrantCmd {
    /// Request a grant from a JSON file (`-` for stdin); it is pending until approved (role admin).
    ///
    /// {"holder":{"principal":"emp-1"} or {"group":"cs"}, "dataset":"customers",
    ///  "categories":["name","phone"], "purpose":"customer_support",
    ///  "max_subjects_per_day":200, "valid_from":"2026-12-02T00:00:00Z",
    ///  "valid_until":"2026-12-09T00:00:00Z", "ticket":"SEC-123"}
    Request {
        #[command(flatten)]
        conn: Conn,
        file: PathBuf,
    },
    /// Approve a pending grant; not by its requester nor its holder (role admin).
    Approve {
        #[command(flatten)]
        conn: Conn,
        id: String,
    },
    /// Revoke a grant (role admin).
    Revoke {
        #[command(flatten)]
        conn: Conn,
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// List grants with their state now (role admin, auditor or analyst).
    List {
        #[command(flatten)]
        conn: Conn,
        /// Only grants held directly by this principal.
        #[arg(long)]
        principal: Option<String>,
    },
    /// One grant.
    Show {
        #[command(flatten)]
        conn: Conn,
        id: String,
    },
    /// The Cedar policy set in force.
    Policies {
        #[command(flatten)]
        conn: Conn,
    },
}

/// `custos authorize`.
#[derive(Debug, Args)]
pub struct AuthorizeArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// JSON request file (`-` for stdin):
    /// {"principal","dataset","categories":[…],"purpose","subjects":[…]}
    pub file: PathBuf,
}

/// `custos subjects import`.
#[derive(Debug, Subcommand)]
pub enum SubjectsCmd {
    /// Set customers' statuses from NDJSON lines {"id":"cust-1","status":"active"}
    /// (active, suspended, offboarded, removed); all-or-nothing (role scim).
    Import {
        #[command(flatten)]
        conn: Conn,
        file: PathBuf,
    },
}

fn token_arg(t: &str) -> anyhow::Result<String> {
    if t == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        return Ok(s.trim().to_owned());
    }
    Ok(t.to_owned())
}

pub fn run_token(cmd: TokenCmd) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        TokenCmd::Issue {
            conn,
            sub,
            aud,
            scope,
            lifetime,
            raw,
        } => {
            let body = json!({ "sub": sub, "aud": aud, "scope": scope, "lifetime_secs": lifetime });
            let a = Api::new(&conn)?.post("/v1/tokens", body.to_string().as_bytes())?;
            if raw && a.status == 200 {
                println!(
                    "{}",
                    a.body
                        .get("access_token")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                );
                return Ok(std::process::ExitCode::SUCCESS);
            }
            show(&a)
        }
        TokenCmd::Introspect {
            conn,
            jwt,
            src_ip,
            src_country,
        } => {
            let t = token_arg(&jwt)?;
            let mut fields = vec![("token", t.as_str())];
            if let Some(ip) = &src_ip {
                fields.push(("custos_src_ip", ip));
            }
            if let Some(c) = &src_country {
                fields.push(("custos_src_country", c));
            }
            let a = Api::new(&conn)?.post_form("/oauth2/introspect", &fields)?;
            let code = show(&a)?;
            // Scripts can test the exit status: 3 for an inactive token.
            if a.body.get("active") == Some(&Value::Bool(false)) {
                return Ok(std::process::ExitCode::from(3));
            }
            Ok(code)
        }
        TokenCmd::Revoke { conn, jwt } => {
            let t = token_arg(&jwt)?;
            let a = Api::new(&conn)?.post_form("/oauth2/revoke", &[("token", &t)])?;
            if a.status == 200 {
                println!(
                    "revoked (RFC 7009: the answer is the same for a token that was not ours)"
                );
                return Ok(std::process::ExitCode::SUCCESS);
            }
            show(&a)
        }
    }
}

pub fn run_keys(cmd: KeysCmd) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        KeysCmd::List { conn } => show(&Api::new(&conn)?.get("/v1/keys")?),
        KeysCmd::Rotate { conn } => show(&Api::new(&conn)?.post("/v1/keys/rotate", b"")?),
        KeysCmd::Custodian {
            conn,
            kid,
            principal,
        } => show(&Api::new(&conn)?.post(
            &format!("/v1/keys/{}/custodians", segment(&kid)),
            json!({ "principal": principal }).to_string().as_bytes(),
        )?),
    }
}

pub fn run_principal(cmd: PrincipalCmd) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        PrincipalCmd::Show { conn, id } => {
            show(&Api::new(&conn)?.get(&format!("/v1/principals/{}", segment(&id)))?)
        }
        PrincipalCmd::Offboard { conn, id } => show(
            &Api::new(&conn)?.post(&format!("/v1/principals/{}/offboard", segment(&id)), b"")?,
        ),
    }
}

pub fn run_grant(cmd: GrantCmd) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        GrantCmd::Request { conn, file } => {
            let body = read_input(&file)?;
            show(&Api::new(&conn)?.post("/v1/grants", &body)?)
        }
        GrantCmd::Approve { conn, id } => {
            show(&Api::new(&conn)?.post(&format!("/v1/grants/{}/approve", segment(&id)), b"")?)
        }
        GrantCmd::Revoke { conn, id, reason } => show(&Api::new(&conn)?.post(
            &format!("/v1/grants/{}/revoke", segment(&id)),
            json!({ "reason": reason }).to_string().as_bytes(),
        )?),
        GrantCmd::List { conn, principal } => {
            let path = match principal {
                Some(p) => format!("/v1/grants?principal={}", segment(&p)),
                None => "/v1/grants".to_owned(),
            };
            show(&Api::new(&conn)?.get(&path)?)
        }
        GrantCmd::Show { conn, id } => {
            show(&Api::new(&conn)?.get(&format!("/v1/grants/{}", segment(&id)))?)
        }
        GrantCmd::Policies { conn } => show(&Api::new(&conn)?.get("/v1/grants/policies")?),
    }
}

pub fn run_authorize(a: AuthorizeArgs) -> anyhow::Result<std::process::ExitCode> {
    let body = read_input(&a.file)?;
    let ans = Api::new(&a.conn)?.post("/v1/authorize", &body)?;
    let code = show(&ans)?;
    if ans.body.get("decision").and_then(Value::as_str) == Some("deny") {
        return Ok(std::process::ExitCode::from(3));
    }
    Ok(code)
}

pub fn run_subjects(cmd: SubjectsCmd) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        SubjectsCmd::Import { conn, file } => {
            let body = read_input(&file)?;
            show(&Api::new(&conn)?.post("/v1/subjects", &body)?)
        }
    }
}

/// The member of `v` at JSON pointer `path` (`/a/b`), or `null`.
pub(crate) fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    v.pointer(path).unwrap_or(&Value::Null)
}

/// Sets member `key` of the object `v` (nothing if `v` is not an object).
pub(crate) fn set(v: &mut Value, key: &str, val: impl Into<Value>) {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_owned(), val.into());
    }
}
