//! A `custos serve` child process on a fresh ledger, for `custos demo` and
//! `custos bench ingest`: both go through the real server path, as deployed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};

/// A `custos serve` child process on a fresh ledger, with an ingest token.
pub struct ServerProcess {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// The ingest credential.
    pub token: String,
    stopped: AtomicBool,
}

impl ServerProcess {
    /// Initialises a ledger with `origin` in `data`, issues an ingest
    /// credential and starts `custos serve` on a free loopback port with
    /// `extra` arguments.
    pub fn start(data: &Path, origin: &str, extra: &[&str]) -> anyhow::Result<ServerProcess> {
        let exe = std::env::current_exe().context("cannot find the custos binary")?;
        let out = Command::new(&exe)
            .args(["ledger", "init", "--origin", origin, "--data"])
            .arg(data)
            .output()?;
        if !out.status.success() {
            bail!("ledger init: {}", String::from_utf8_lossy(&out.stderr));
        }
        let token = issue_credential(data, "ingest", "local")?;
        let mut child = Command::new(&exe)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "warn",
                "--data",
            ])
            .arg(data)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start custos serve")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut url = None;
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            if let Some(rest) = line.split("listening on ").nth(1) {
                url = Some(rest.trim().to_owned());
                break;
            }
        }
        let Some(url) = url else {
            let _ = child.kill();
            bail!("custos serve exited before listening");
        };
        Ok(ServerProcess {
            child,
            url,
            token,
            stopped: AtomicBool::new(false),
        })
    }

    /// A new credential with `role` for this server's data directory (the
    /// server picks it up at once).
    pub fn credential(&self, data: &Path, role: &str, name: &str) -> anyhow::Result<String> {
        issue_credential(data, role, name)
    }

    /// (current RSS, peak RSS) in MiB, from /proc.
    pub fn rss_mib(&self) -> Option<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .map(|kib| kib / 1024.0)
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// Graceful stop (SIGTERM), waiting for the process to exit.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.stopped.store(true, Ordering::Relaxed);
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait()?;
        if !status.success() {
            bail!("custos serve exited with {status} on SIGTERM");
        }
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if !self.stopped.load(Ordering::Relaxed) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `custos admin token --data DATA --role ROLE --name NAME`; the
/// credential it prints.
fn issue_credential(data: &Path, role: &str, name: &str) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot find the custos binary")?;
    let out = Command::new(&exe)
        .args(["admin", "token", "--role", role, "--name", name, "--data"])
        .arg(data)
        .output()?;
    if !out.status.success() {
        bail!("admin token: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .context("admin token printed nothing")?
        .to_owned())
}
