//! `custos admin …`: service credentials (issue, revoke, list).
//!
//! Every issuance and revocation becomes one ledger entry. When the ledger
//! is free, this command appends it before returning; when `custos serve`
//! holds the ledger, the action is recorded as pending in the credentials
//! file and the server appends it within a second (see
//! `server::CredentialStore` and docs/server.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context as _;
use server::{AdminActor, CredentialStore, Role};

/// `custos admin` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCmd {
    /// Issue a credential and print its bearer token as the last line of
    /// stdout (shown once; only its SHA-256 is stored).
    #[command(after_help = "\
Roles: admin (keys, custody, offboarding, grants), analyst, auditor (read
only), ingest (POST /v1/events), scim (SCIM 2.0, customers), gateway (issue,
introspect and revoke tokens; token feeds; /v1/authorize). Roles are
separate: admin does not imply ingest. An admin credential's --name is the
person on the record as a grant's requester or approver. The token works at once, also on a
running server. The issuance is recorded in the ledger (by this command, or
by the running server if it holds the ledger).

Example:
  custos admin token --data /var/lib/custos --role ingest --name gateway-1 > ingest.token")]
    Token {
        /// Data directory holding the ledger.
        #[arg(long, value_name = "DIR", env = "CUSTOS_DATA")]
        data: PathBuf,
        /// The credential's role.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// A label for the credential (e.g. the service using it).
        #[arg(long)]
        name: Option<String>,
        /// Who is acting, for the ledger entry [default: the OS user].
        #[arg(long)]
        actor: Option<String>,
    },
    /// Revoke a credential: it stops working at the server's next request.
    Revoke {
        /// Data directory holding the ledger.
        #[arg(long, value_name = "DIR", env = "CUSTOS_DATA")]
        data: PathBuf,
        /// The credential id (from `custos admin list`).
        #[arg(long)]
        id: String,
        /// Who is acting, for the ledger entry [default: the OS user].
        #[arg(long)]
        actor: Option<String>,
    },
    /// List credentials (never their secrets).
    List {
        /// Data directory holding the ledger.
        #[arg(long, value_name = "DIR", env = "CUSTOS_DATA")]
        data: PathBuf,
        /// Print JSON (one array) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

pub fn run(cmd: AdminCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AdminCmd::Token {
            data,
            role,
            name,
            actor,
        } => token(&data, role, name.as_deref(), actor),
        AdminCmd::Revoke { data, id, actor } => revoke(&data, &id, actor),
        AdminCmd::List { data, json } => list(&data, json),
    }
}

fn actor_of(flag: Option<String>) -> AdminActor {
    let mut a = AdminActor::current();
    if let Some(name) = flag {
        a.name = name;
    }
    a
}

fn require_ledger(data: &Path) -> anyhow::Result<()> {
    ledger::LogReader::open(data)?;
    Ok(())
}

/// What became of the ledger entry of an action just recorded.
enum Logged {
    At(u64),
    Pending,
}

/// Appends pending admin actions if the ledger is free; if a server holds
/// it, leaves them pending for the server.
fn log_now(data: &Path, store: &CredentialStore, action: &str) -> anyhow::Result<Logged> {
    let ledger = match ledger::Ledger::open(data, ledger::LedgerOptions::default()) {
        Ok(l) => l,
        Err(ledger::Error::Locked(_)) => return Ok(Logged::Pending),
        Err(e) => {
            return Err(e).context(
                "the action is recorded, but its ledger entry is pending: it will be appended \
                 by the next `custos serve` or `custos admin` run that can open the ledger",
            );
        }
    };
    let done = store
        .log_pending(&ledger, data, "cli")
        .context("appending the admin action to the ledger")?;
    ledger.close()?;
    Ok(done
        .iter()
        .find(|d| d.action == action)
        .map_or(Logged::Pending, |d| Logged::At(d.index)))
}

fn describe(logged: &Logged) -> String {
    match logged {
        Logged::At(i) => format!("recorded in the ledger at index {i}"),
        Logged::Pending => {
            "the ledger is in use (is `custos serve` running?): recorded as pending; \
             the server appends it to the ledger within a second"
                .to_owned()
        }
    }
}

fn token(
    data: &Path,
    role: Role,
    name: Option<&str>,
    actor: Option<String>,
) -> anyhow::Result<ExitCode> {
    require_ledger(data)?;
    let store = CredentialStore::new(data);
    let issued = store.issue(role, name, &actor_of(actor), SystemTime::now())?;
    let logged = log_now(data, &store, &issued.action)?;
    eprintln!(
        "issued credential {} (role {role}{}); {}",
        issued.id,
        name.map(|n| format!(", name {n:?}")).unwrap_or_default(),
        describe(&logged)
    );
    eprintln!("the token below is shown once; only its SHA-256 is stored");
    println!("{}", issued.token.expose());
    Ok(ExitCode::SUCCESS)
}

fn revoke(data: &Path, id: &str, actor: Option<String>) -> anyhow::Result<ExitCode> {
    require_ledger(data)?;
    let store = CredentialStore::new(data);
    let action = store.revoke(id, &actor_of(actor), SystemTime::now())?;
    let logged = log_now(data, &store, &action)?;
    println!("revoked credential {id}; {}", describe(&logged));
    Ok(ExitCode::SUCCESS)
}

fn list(data: &Path, json: bool) -> anyhow::Result<ExitCode> {
    require_ledger(data)?;
    let creds = CredentialStore::new(data).list()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&creds)?);
        return Ok(ExitCode::SUCCESS);
    }
    if creds.is_empty() {
        println!("no credentials; issue one with `custos admin token --data DIR --role ROLE`");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<16}  {:<7}  {:<20}  {:<24}  {:<8}  LEDGER",
        "ID", "ROLE", "NAME", "CREATED (UTC)", "STATUS"
    );
    for c in &creds {
        let status = if c.revoked_ms.is_some() {
            "revoked"
        } else {
            "active"
        };
        let mut ledger = match c.issue_logged_at {
            Some(i) => format!("issued@{i}"),
            None => "issue pending".to_owned(),
        };
        if c.revoked_ms.is_some() {
            ledger.push_str(&match c.revoke_logged_at {
                Some(i) => format!(", revoked@{i}"),
                None => ", revoke pending".to_owned(),
            });
        }
        println!(
            "{:<16}  {:<7}  {:<20}  {:<24}  {:<8}  {ledger}",
            c.id,
            c.role.as_str(),
            c.name.as_deref().unwrap_or("-"),
            events::format_rfc3339(c.created_ms),
            status
        );
    }
    Ok(ExitCode::SUCCESS)
}
