//! `custos hunt`: runs the detectors — the built-in ones and any Sigma
//! rules — over any past range of the ledger at full speed. The answer to
//! "how many breaches already happened unnoticed?": a new rule replayed
//! over history finds what it would have caught.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::ui;

/// `custos hunt` options.
#[derive(clap::Args, Debug)]
pub struct HuntArgs {
    /// Data directory of the ledger (holds `log/`).
    #[arg(long)]
    pub data: PathBuf,
    /// First ledger index (inclusive).
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Last ledger index (exclusive); default: the latest checkpoint's size.
    #[arg(long)]
    pub to: Option<u64>,
    /// Sigma rules directory (every *.yml under it); without it only the
    /// built-in detectors run.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Run only the Sigma rules, not the built-in detectors.
    #[arg(long)]
    pub no_builtin: bool,
    /// Detection file (TOML, the server's --detect-config; docs/alerts.md): thresholds,
    /// residency and, unless --rules is given, the rules directory.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Issuance records (NDJSON of {"iss","jti",…}, e.g. `custos sim
    /// --issued`): tokens of these issuers not listed are "never issued".
    #[arg(long)]
    pub issued: Option<PathBuf>,
    /// Directory (JSON with `principals`: id, kind, department, role,
    /// supplier, offboarded_ms — e.g. `custos sim --directory`): peer groups
    /// and offboardings.
    #[arg(long)]
    pub directory: Option<PathBuf>,
    /// Print findings as NDJSON (one finding per line) and the summary on stderr.
    #[arg(long)]
    pub json: bool,
    /// Only findings of detectors whose name starts with this.
    #[arg(long)]
    pub detector: Option<String>,
}

/// What `--issued` and `--directory` tell the engine.
#[derive(Default)]
pub struct FileContext {
    issuers: HashSet<String>,
    issued: HashSet<(String, String)>,
    groups: HashMap<String, String>,
    offboarded: HashMap<String, i64>,
}

impl detect::Context for FileContext {
    fn token_issued(&self, issuer: &str, _kid: Option<&str>, jti: &str) -> Option<bool> {
        if !self.issuers.contains(issuer) {
            return None;
        }
        Some(self.issued.contains(&(issuer.to_owned(), jti.to_owned())))
    }
    fn peer_group(&self, principal: &str) -> Option<String> {
        self.groups.get(principal).cloned()
    }
    fn offboarded_ms(&self, principal: &str) -> Option<i64> {
        self.offboarded.get(principal).copied()
    }
}

#[derive(serde::Deserialize)]
struct IssuedLine {
    iss: String,
    jti: String,
}

#[derive(serde::Deserialize)]
struct DirectoryFile {
    principals: Vec<DirPrincipal>,
}

#[derive(serde::Deserialize)]
struct DirPrincipal {
    id: String,
    kind: String,
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    supplier: Option<String>,
    #[serde(default)]
    offboarded_ms: Option<i64>,
}

impl FileContext {
    /// Loads the optional files.
    pub fn load(issued: Option<&Path>, directory: Option<&Path>) -> anyhow::Result<FileContext> {
        let mut c = FileContext::default();
        if let Some(p) = issued {
            let f = std::fs::File::open(p).with_context(|| format!("open {}", p.display()))?;
            for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
                let line = line.with_context(|| format!("read {}", p.display()))?;
                if line.trim().is_empty() {
                    continue;
                }
                let rec: IssuedLine = serde_json::from_str(&line)
                    .with_context(|| format!("{}: line {}", p.display(), n + 1))?;
                c.issuers.insert(rec.iss.clone());
                c.issued.insert((rec.iss, rec.jti));
            }
        }
        if let Some(p) = directory {
            let text = std::fs::read(p).with_context(|| format!("read {}", p.display()))?;
            let d: DirectoryFile =
                serde_json::from_slice(&text).with_context(|| format!("{}", p.display()))?;
            for pr in d.principals {
                let mid = pr.supplier.or(pr.department).unwrap_or_else(|| "-".into());
                let group = format!("{}/{mid}/{}", pr.kind, pr.role.as_deref().unwrap_or("-"));
                c.groups.insert(pr.id.clone(), group);
                if let Some(t) = pr.offboarded_ms {
                    c.offboarded.insert(pr.id, t);
                }
            }
        }
        Ok(c)
    }
}

/// Loads the detection file (the server's `--detect-config`, docs/alerts.md):
/// the engine's configuration and its rules directory, or the defaults.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<(detect::DetectConfig, Option<PathBuf>)> {
    match path {
        None => Ok((detect::DetectConfig::default(), None)),
        Some(p) => {
            let s = detect::settings::Settings::load(p)?;
            Ok((s.engine, s.rules))
        }
    }
}

/// Runs `custos hunt`.
pub fn run(args: &HuntArgs) -> anyhow::Result<std::process::ExitCode> {
    let log = args.data.join("log");
    if !log.join("checkpoint").is_file() {
        bail!(
            "{} holds no ledger (no log/checkpoint); create one with `custos ledger init` or `custos serve`",
            args.data.display()
        );
    }
    let size = latest_size(&args.data)?;
    let to = args.to.unwrap_or(size).min(size);
    if args.from > to {
        bail!("--from {} is beyond --to {to}", args.from);
    }
    let (config, settings_rules) = load_config(args.config.as_deref())?;
    let mut undecodable = 0u64;
    let ctx = FileContext::load(args.issued.as_deref(), args.directory.as_deref())?;
    let mut engine = detect::Engine::new(config, Box::new(ctx));
    let rules_dir = args.rules.clone().or(settings_rules);
    if let Some(dir) = &rules_dir {
        let rules = detect::sigma::RuleSet::load_dir(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
        eprintln!("{} Sigma rules from {}", rules.len(), dir.display());
        engine.set_rules(rules);
    } else if args.no_builtin {
        bail!("--no-builtin needs Sigma rules: --rules DIR");
    }
    engine.set_builtin(!args.no_builtin);
    let pb = ui::bar(to - args.from, "entries");
    let started = Instant::now();
    let mut findings = Vec::new();
    let mut last_ms = 0i64;
    detect::for_each_entry(&args.data, args.from, to, size, &mut |index, entry| {
        if let Ok(rec) = detect::decode(index, entry) {
            last_ms = last_ms.max(rec.time_ms);
            engine.process_record(&rec, &mut findings);
        } else {
            undecodable += 1;
        }
        if index % 65_536 == 0 {
            pb.set_position(index - args.from);
        }
        true
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    findings.extend(engine.tick(last_ms + 60_000));
    pb.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    if let Some(p) = &args.detector {
        findings.retain(|f| f.detector.starts_with(p.as_str()));
    }
    let n = to - args.from;
    let mut by: BTreeMap<&str, u64> = BTreeMap::new();
    for f in &findings {
        *by.entry(f.detector.as_str()).or_insert(0) += 1;
    }
    let summary = format!(
        "hunted entries {}..{} ({} entries) in {:.2} s ({} entries/s): {} findings{}{}",
        args.from,
        to,
        ui::rate(n as f64),
        secs,
        ui::rate(n as f64 / secs.max(1e-9)),
        findings.len(),
        if by.is_empty() {
            String::new()
        } else {
            format!(
                " — {}",
                by.iter()
                    .map(|(d, c)| format!("{d} ×{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        if undecodable > 0 {
            format!("; {undecodable} entries not decodable (skipped)")
        } else {
            String::new()
        }
    );
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        for f in &findings {
            serde_json::to_writer(&mut out, f)?;
            out.write_all(b"\n")?;
        }
        eprintln!("{summary}");
    } else {
        for f in &findings {
            writeln!(
                out,
                "{:<8} {} {:<32} {}  (entries {})",
                f.severity.as_str(),
                events::format_rfc3339(f.time_ms),
                f.detector,
                f.title,
                f.evidence
                    .indices
                    .iter()
                    .take(5)
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
        }
        writeln!(out, "{summary}")?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// The size of the latest published checkpoint (read without verifying its
/// signature: the hunt reads, `custos ledger verify` proves).
pub fn latest_size(dir: &Path) -> anyhow::Result<u64> {
    let note = std::fs::read(dir.join("log").join("checkpoint"))
        .with_context(|| format!("read {}/log/checkpoint", dir.display()))?;
    let text = String::from_utf8_lossy(&note);
    text.lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .context("log/checkpoint has no size line")
}
