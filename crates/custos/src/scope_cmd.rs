//! `custos scope` and `custos forensics …`: exact breach scope from the
//! forensic index of a data directory (docs/forensics.md).
//!
//! These read the ledger's tiles and the index snapshot directly, so they
//! work with or without a running server (the server keeps the same
//! snapshot up to date; both write it atomically).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use forensics::scope::{ScopeQuery, parse_time};
use forensics::{Local, latest_checkpoint};

use crate::api_cmd::at;
use crate::ui;

/// `custos scope` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  custos scope --data DIR --principal cs-agent-0042 --from 2025-06-24 --to 2025-11-18
  custos scope --data DIR --kid k-2024-07 --from 2025-06-24 --to 2025-11-18 --json
  custos scope --data DIR --src-country CN --dataset customers --from 2025-11-01T00:00:00Z --to 2025-11-02T12:00:00Z
  custos scope --data DIR --principal P --from D1 --to D2 --subjects-out affected.txt --prove 10 --proofs-out proofs/")]
pub struct ScopeArgs {
    /// Data directory (holds `log/` and `forensics/`).
    #[arg(long)]
    pub data: PathBuf,
    /// Principal (`actor.user.uid`).
    #[arg(long)]
    pub principal: Option<String>,
    /// Signing key id (`kid`) of the tokens used.
    #[arg(long)]
    pub kid: Option<String>,
    /// Token issuer.
    #[arg(long)]
    pub issuer: Option<String>,
    /// Source country (ISO 3166-1 alpha-2).
    #[arg(long)]
    pub src_country: Option<String>,
    /// Source network: CIDR (`203.0.113.0/24`, `198.51.0.0/16`) or one address.
    #[arg(long, value_name = "CIDR")]
    pub src_net: Option<String>,
    /// Dataset.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Window start: RFC 3339 time or YYYY-MM-DD (UTC midnight), inclusive.
    #[arg(long)]
    pub from: String,
    /// Window end: RFC 3339 time or YYYY-MM-DD, exclusive.
    #[arg(long)]
    pub to: String,
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the affected subjects' pseudonyms, one per line, for notification
    /// (resolve them to customers with the subject key; docs/forensics.md).
    #[arg(long, value_name = "FILE")]
    pub subjects_out: Option<PathBuf>,
    /// Prove this many counted accesses: C2SP tlog-proof files, one per entry.
    #[arg(long, value_name = "N", requires = "proofs_out")]
    pub prove: Option<usize>,
    /// Directory for the tlog-proof files of --prove.
    #[arg(long, value_name = "DIR")]
    pub proofs_out: Option<PathBuf>,
}

/// `custos forensics …`.
#[derive(clap::Subcommand, Debug)]
pub enum ForensicsCmd {
    /// Bring the index up to the latest checkpoint and save it.
    Update(DataArg),
    /// Discard the index and rebuild it from the ledger's first entry.
    Rebuild(DataArg),
    /// What the index holds: entries read, subjects, size.
    Status(StatusArgs),
    /// Import subject countries (CSV `subject,country`, customer ids as the company
    /// knows them); they are pseudonymised with the data directory's subject key.
    Registry(RegistryArgs),
}

/// `--data DIR`.
#[derive(clap::Args, Debug)]
pub struct DataArg {
    /// Data directory.
    #[arg(long)]
    pub data: PathBuf,
}

/// `custos forensics status`.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Data directory.
    #[arg(long)]
    pub data: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `custos forensics registry`.
#[derive(clap::Args, Debug)]
pub struct RegistryArgs {
    /// Data directory.
    #[arg(long)]
    pub data: PathBuf,
    /// CSV file: `subject,country` per line (header optional).
    pub file: PathBuf,
    /// Add to the existing registry instead of replacing it.
    #[arg(long)]
    pub append: bool,
}

/// Opens the index of `dir` and brings it to the latest checkpoint, with
/// progress on stderr when there is much to read; also returns how many
/// entries that read.
pub fn open_current(
    dir: &Path,
    quiet: bool,
) -> anyhow::Result<(Local, tlog::VerifiedCheckpoint, u64)> {
    let checkpoint = latest_checkpoint(dir)
        .with_context(|| format!("{} holds no readable ledger", dir.display()))?;
    let mut local = Local::open(dir)?;
    if let Some(why) = &local.rebuilt_reason {
        eprintln!("warning: {why}");
    }
    let behind = checkpoint.size().saturating_sub(local.index.next_index());
    let bar = (!quiet && behind > 200_000).then(|| ui::bar(behind, "indexing the ledger"));
    let read = local.catch_up(checkpoint.size(), &mut |done, _| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if read > 0 {
        local.save()?;
    }
    Ok((local, checkpoint, read))
}

/// `custos scope`.
pub fn run(a: &ScopeArgs) -> anyhow::Result<std::process::ExitCode> {
    scope(a).map(|()| std::process::ExitCode::SUCCESS)
}

fn scope(a: &ScopeArgs) -> anyhow::Result<()> {
    let q = ScopeQuery {
        principal: a.principal.clone(),
        kid: a.kid.clone(),
        issuer: a.issuer.clone(),
        src_country: a.src_country.clone(),
        src_net: a.src_net.clone(),
        dataset: a.dataset.clone(),
        from_ms: parse_time("--from", &a.from)?,
        to_ms: parse_time("--to", &a.to)?,
    };
    let (mut local, checkpoint, _) = open_current(&a.data, a.json)?;
    let t = Instant::now();
    let result = local.scope(&q, &checkpoint)?;
    let took = t.elapsed();
    if let Some(path) = &a.subjects_out {
        write_subjects(&local, &result.subjects, path)?;
    }
    let mut proved = Vec::new();
    if let (Some(n), Some(dir)) = (a.prove, &a.proofs_out) {
        proved = write_proofs(&mut local, &q, &checkpoint, n, dir)?;
    }
    if a.json {
        let mut v = serde_json::to_value(&result.answer)?;
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "elapsed_ms".into(),
                took.as_secs_f64().mul_add(1e3, 0.0).into(),
            );
            if !proved.is_empty() {
                o.insert("proved_entries".into(), proved.clone().into());
            }
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", human(&result.answer, took));
        if let Some(path) = &a.subjects_out {
            println!(
                "  subject list:   {} pseudonyms written to {}",
                result.subjects.len(),
                path.display()
            );
        }
        if let Some(dir) = &a.proofs_out {
            println!(
                "  proofs:         {} C2SP tlog-proof files (+ the entries) in {}",
                proved.len(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// The human-readable answer.
pub fn human(a: &forensics::ScopeAnswer, took: std::time::Duration) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let who: Vec<String> = [
        ("principal", &a.query.principal),
        ("kid", &a.query.kid),
        ("issuer", &a.query.issuer),
        ("src_country", &a.query.src_country),
        ("src_net", &a.query.src_net),
        ("dataset", &a.query.dataset),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
    .collect();
    let who = if who.is_empty() {
        "every access".to_owned()
    } else {
        who.join(" ")
    };
    let _ = writeln!(s, "Scope of {who}, {} → {}", a.from, a.to);
    let _ = writeln!(
        s,
        "  subjects:       {} (exact, distinct)",
        group(a.subjects)
    );
    let _ = writeln!(
        s,
        "  access events:  {} ({} subject-accesses)",
        group(a.events),
        group(a.subject_accesses)
    );
    if let (Some(f), Some(l)) = (&a.first_access, &a.last_access) {
        let _ = writeln!(s, "  first / last:   {f} / {l}");
    }
    let cats: Vec<String> = a
        .by_category
        .iter()
        .map(|(k, v)| format!("{k} {}", group(*v)))
        .collect();
    let _ = writeln!(s, "  by category:    {}", or_none(&cats));
    let countries: Vec<String> = a
        .by_country
        .iter()
        .map(|(k, v)| format!("{k} {}", group(*v)))
        .collect();
    let _ = writeln!(s, "  by country:     {}", or_none(&countries));
    let ds: Vec<String> = a
        .by_dataset
        .iter()
        .map(|(k, v)| format!("{k} {}", group(*v)))
        .collect();
    let _ = writeln!(s, "  by dataset:     {}", or_none(&ds));
    let _ = writeln!(
        s,
        "  based on:       checkpoint {} of {} (root {})",
        a.checkpoint.size, a.checkpoint.origin, a.checkpoint.root
    );
    let _ = writeln!(
        s,
        "  answered by:    {} in {:.1} ms ({} ledger entries read)",
        a.method,
        took.as_secs_f64() * 1e3,
        a.entries_scanned
    );
    for w in &a.warnings {
        let _ = writeln!(s, "  warning:        {w}");
    }
    s
}

fn or_none(v: &[String]) -> String {
    if v.is_empty() {
        "—".into()
    } else {
        v.join(", ")
    }
}

/// 33700000 → "33,700,000".
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn write_subjects(
    local: &Local,
    subjects: &roaring::RoaringBitmap,
    path: &Path,
) -> anyhow::Result<()> {
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?,
    );
    for id in subjects {
        if let Some(p) = local.index.dict().pseudonym(id) {
            writeln!(w, "{p}")?;
        }
    }
    w.flush()?;
    Ok(())
}

/// Writes tlog-proofs of the first `n` counted accesses; returns their indices.
fn write_proofs(
    local: &mut Local,
    q: &ScopeQuery,
    checkpoint: &tlog::VerifiedCheckpoint,
    n: usize,
    dir: &Path,
) -> anyhow::Result<Vec<u64>> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let indices = local.matching_entries(q, checkpoint.size(), n)?;
    let mut reader = ledger::LogReader::open(local.dir())?;
    for &i in &indices {
        let proof = tlog::TlogProof {
            extra: None,
            index: i,
            hashes: reader.inclusion_proof(i, checkpoint.size())?,
            checkpoint: checkpoint.note_bytes().to_vec(),
        };
        let path = dir.join(format!("{i}.tlog-proof"));
        std::fs::write(&path, proof.to_bytes())
            .with_context(|| format!("write {}", path.display()))?;
        let entry = reader.entry(i, checkpoint.size())?;
        let path = dir.join(format!("{i}.entry"));
        std::fs::write(&path, entry).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(indices)
}

/// `custos forensics …`.
pub fn run_forensics(cmd: &ForensicsCmd) -> anyhow::Result<std::process::ExitCode> {
    forensics_cmd(cmd).map(|()| std::process::ExitCode::SUCCESS)
}

fn forensics_cmd(cmd: &ForensicsCmd) -> anyhow::Result<()> {
    match cmd {
        ForensicsCmd::Update(a) => {
            let t = Instant::now();
            let (_, checkpoint, read) = open_current(&a.data, false)?;
            println!(
                "forensic index of {}: read {} entries in {:.1} s; now at checkpoint {}",
                a.data.display(),
                group(read),
                t.elapsed().as_secs_f64(),
                checkpoint.size()
            );
            Ok(())
        }
        ForensicsCmd::Rebuild(a) => {
            let path = Local::snapshot_path(&a.data);
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("remove {}", path.display()))?;
            }
            let t = Instant::now();
            let (local, checkpoint, _) = open_current(&a.data, false)?;
            let secs = t.elapsed().as_secs_f64();
            let st = local.index.stats();
            println!(
                "rebuilt the forensic index of {} from {} ledger entries in {secs:.1} s \
                 ({} subject-accesses, {}/s); {} subjects; {} on disk",
                a.data.display(),
                group(checkpoint.size()),
                group(st.subject_accesses),
                ui::rate(st.subject_accesses as f64 / secs.max(1e-9)),
                group(local.index.dict().len() as u64),
                bytes(std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)),
            );
            Ok(())
        }
        ForensicsCmd::Status(a) => {
            let local = Local::open(&a.data)?;
            let path = Local::snapshot_path(&a.data);
            let (cells, blocks) = local.index.counts();
            let v = serde_json::json!({
                "next_index": local.index.next_index(),
                "stats": local.index.stats(),
                "subjects": local.index.dict().len(),
                "subjects_with_country": local.index.dict().countries().values().map(|b| b.len()).sum::<u64>(),
                "day_cells": cells,
                "blocks": blocks,
                "snapshot_bytes": std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
                "pruned_before_day": local.index.pruned_before(),
            });
            if a.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let st = local.index.stats();
                println!(
                    "forensic index of {}: {} entries read (next {}), {} allowed accesses, \
                     {} subject-accesses, {} denied, {} undecodable; {} subjects ({} with a \
                     country); {cells} day cells, {blocks} blocks; snapshot {}",
                    a.data.display(),
                    group(st.entries),
                    local.index.next_index(),
                    group(st.access_entries),
                    group(st.subject_accesses),
                    group(st.denied_entries),
                    group(st.decode_errors),
                    group(local.index.dict().len() as u64),
                    group(at(&v, "/subjects_with_country").as_u64().unwrap_or(0)),
                    bytes(at(&v, "/snapshot_bytes").as_u64().unwrap_or(0)),
                );
            }
            Ok(())
        }
        ForensicsCmd::Registry(a) => import_registry(&a.data, &a.file, a.append),
    }
}

/// Pseudonymises a `subject,country` CSV into `DIR/forensics/registry.csv`.
pub fn import_registry(data: &Path, file: &Path, append: bool) -> anyhow::Result<()> {
    let (n, path) = write_registry(data, file, append)?;
    println!(
        "registry: {} subjects with a country ({} in {})",
        group(n),
        if append { "added" } else { "now" },
        path.display()
    );
    Ok(())
}

/// [`import_registry`] without output (replacing the registry).
pub fn import_registry_quiet(data: &Path, file: &Path) -> anyhow::Result<u64> {
    write_registry(data, file, false).map(|(n, _)| n)
}

fn write_registry(data: &Path, file: &Path, append: bool) -> anyhow::Result<(u64, PathBuf)> {
    let text = std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
    let rows = forensics::registry::parse(&text).with_context(|| format!("{}", file.display()))?;
    let key_path = events::subject_key_path(data);
    let key = events::SubjectKey::load(&key_path).with_context(|| {
        format!(
            "the subject key {} (created by `custos serve`) is needed to pseudonymise",
            key_path.display()
        )
    })?;
    let lines = forensics::registry::pseudonymise(&rows, &key);
    let path = Local::registry_path(data);
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).with_context(|| format!("create {}", p.display()))?;
    }
    let mut all = if append {
        std::fs::read_to_string(&path).unwrap_or_default()
    } else {
        String::new()
    };
    all.push_str(&lines);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &all).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("write {}", path.display()))?;
    // Parse it once so an invalid result is reported now, not at the next query.
    let written =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    if let Err(e) = forensics::registry::parse(&written) {
        bail!("the registry written is not readable: {e}");
    }
    Ok((rows.len() as u64, path))
}

/// 1536 → "1.5 KiB".
pub fn bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", units.get(u).copied().unwrap_or("B"))
}
