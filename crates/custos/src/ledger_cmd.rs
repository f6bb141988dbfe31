//! `custos ledger …`: the contract in ARCHITECTURE.md ("Contracts that
//! outside checks rely on").

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ledger::{EntryBatch, KnownCheckpoint, Ledger, LedgerOptions, LogReader};

use crate::cli::LedgerCmd;
use crate::ui;

pub fn run(cmd: LedgerCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        LedgerCmd::Init { data, origin } => init(&data, &origin),
        LedgerCmd::Append { data, file, acks } => append(&data, &file, acks),
        LedgerCmd::Prove { data, index } => prove(&data, index),
        LedgerCmd::Consistency { data, old } => consistency(&data, old),
        LedgerCmd::Verify {
            data,
            vkey,
            known,
            state_dir,
            no_remember,
        } => verify(&data, &vkey, &known, state_dir, no_remember),
        LedgerCmd::Entry { data, index } => entry(&data, index),
        LedgerCmd::Checkpoint { data } => {
            let reader = LogReader::open(&data)?;
            std::io::stdout().write_all(&reader.checkpoint_bytes()?)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init(data: &Path, origin: &str) -> anyhow::Result<ExitCode> {
    let vkey = ledger::init(data, origin)?;
    println!("initialised ledger {origin} in {}", data.display());
    println!(
        "signing key: {} (keep it there; it never leaves)",
        data.join("keys/log.key").display()
    );
    println!("verifier key (give this to auditors):");
    println!("{vkey}");
    Ok(ExitCode::SUCCESS)
}

/// Reads `\n`-separated entries; for a regular file, checks every line
/// first so that a bad file appends nothing.
fn append(data: &Path, file: &Path, acks: bool) -> anyhow::Result<ExitCode> {
    let stdin = file == Path::new("-");
    let total = if stdin { None } else { Some(precheck(file)?) };
    let ledger = Ledger::open(data, LedgerOptions::default())?;
    let input: Box<dyn Read + Send> = if stdin {
        Box::new(std::io::stdin())
    } else {
        Box::new(File::open(file).with_context(|| format!("open {}", file.display()))?)
    };
    let pb = ui::bar(total.map_or(0, |t| t.0), "appending");
    if total.is_none() {
        pb.set_length(0);
    }

    // Reader thread: lines → batches (by count, or whatever arrived within
    // 2 ms for a streaming producer).
    let (line_tx, line_rx) = mpsc::sync_channel::<std::io::Result<Vec<u8>>>(65_536);
    std::thread::spawn(move || {
        let mut r = BufReader::with_capacity(1 << 20, input);
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    if line_tx.send(Ok(line)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = line_tx.send(Err(e));
                    break;
                }
            }
        }
    });

    // Waiter thread: acknowledgements in order.
    let (pend_tx, pend_rx) = mpsc::sync_channel::<ledger::Pending>(8);
    let waiter = std::thread::spawn(move || -> anyhow::Result<(u64, Option<u64>, u64)> {
        let (mut count, mut first, mut size) = (0u64, None, 0u64);
        let out = std::io::stdout();
        for p in pend_rx {
            let d = p.wait()?;
            first.get_or_insert(d.first_index());
            count += d.count();
            size = size.max(d.tree_size());
            if acks {
                let mut o = out.lock();
                writeln!(o, "ack {} {} {}", d.first_index(), d.count(), d.tree_size())?;
                o.flush()?;
            }
        }
        Ok((count, first, size))
    });

    let mut line_no = 0u64;
    let mut error = None;
    loop {
        let mut batch = EntryBatch::new();
        let first = match line_rx.recv() {
            Ok(l) => l,
            Err(_) => break,
        };
        let mut next = Some(first);
        while let Some(line) = next.take() {
            line_no += 1;
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    error = Some(anyhow!("reading {}: {e}", file.display()));
                    break;
                }
            };
            if let Err(e) = batch.push(&line) {
                error = Some(anyhow!("line {line_no}: {e}; stopped before it"));
                break;
            }
            if batch.len() >= 65_536 {
                break;
            }
            next = match line_rx.try_recv() {
                Ok(l) => Some(l),
                Err(mpsc::TryRecvError::Empty) => {
                    line_rx.recv_timeout(Duration::from_millis(2)).ok()
                }
                Err(mpsc::TryRecvError::Disconnected) => None,
            };
        }
        // Lines read before an error are still appended; nothing after it.
        if !batch.is_empty() {
            pb.inc(batch.len() as u64);
            let pending = ledger.submit_blocking(batch)?;
            if pend_tx.send(pending).is_err() {
                break;
            }
        }
        if error.is_some() {
            break;
        }
    }
    drop(pend_tx);
    let (count, first, size) = waiter.join().map_err(|_| anyhow!("ack thread failed"))??;
    ledger.close()?;
    pb.finish_and_clear();
    if !acks {
        match first {
            Some(f) => println!(
                "appended {count} entries (indices {f}..{}); checkpoint size {size}",
                f + count - 1
            ),
            None => println!("appended 0 entries"),
        }
    }
    if let Some(e) = error {
        return Err(e);
    }
    Ok(ExitCode::SUCCESS)
}

/// Counts lines and checks each fits an entry bundle.
fn precheck(file: &Path) -> anyhow::Result<(u64, u64)> {
    let f = File::open(file).with_context(|| format!("open {}", file.display()))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut line = Vec::new();
    loop {
        line.clear();
        let got = r
            .read_until(b'\n', &mut line)
            .with_context(|| format!("read {}", file.display()))?;
        if got == 0 {
            break;
        }
        n += 1;
        let len = line.len() - usize::from(line.last() == Some(&b'\n'));
        if len > tlog::MAX_ENTRY_SIZE {
            bail!(
                "{}: line {n} is {len} bytes; entries are limited to {} bytes (C2SP tlog-tiles); nothing was appended",
                file.display(),
                tlog::MAX_ENTRY_SIZE
            );
        }
        bytes += len as u64;
    }
    Ok((n, bytes))
}

fn latest(data: &Path) -> anyhow::Result<(LogReader, Vec<u8>, tlog::Checkpoint)> {
    let reader = LogReader::open(data)?;
    let bytes = reader.checkpoint_bytes()?;
    let note =
        tlog::Note::parse(&bytes).map_err(|e| anyhow!("{}/log/checkpoint: {e}", data.display()))?;
    let cp = tlog::Checkpoint::parse_text(&note.text)
        .map_err(|e| anyhow!("{}/log/checkpoint: {e}", data.display()))?;
    Ok((reader, bytes, cp))
}

fn prove(data: &Path, index: u64) -> anyhow::Result<ExitCode> {
    let (mut reader, bytes, cp) = latest(data)?;
    if index >= cp.size {
        bail!(
            "entry {index} is not in the log: the latest checkpoint has size {}",
            cp.size
        );
    }
    let hashes = reader.inclusion_proof(index, cp.size)?;
    let proof = tlog::TlogProof {
        extra: None,
        index,
        hashes,
        checkpoint: bytes,
    };
    std::io::stdout().write_all(&proof.to_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn consistency(data: &Path, old: u64) -> anyhow::Result<ExitCode> {
    let (mut reader, _, cp) = latest(data)?;
    if old > cp.size {
        bail!(
            "--old {old} is larger than the latest checkpoint's size {}",
            cp.size
        );
    }
    let proof = reader.consistency_proof(old, cp.size)?;
    let mut out = std::io::stdout().lock();
    for h in proof {
        writeln!(out, "{}", STANDARD.encode(h))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn entry(data: &Path, index: u64) -> anyhow::Result<ExitCode> {
    let (mut reader, _, cp) = latest(data)?;
    let e = reader.entry(index, cp.size)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&e)?;
    out.write_all(b"\n")?;
    Ok(ExitCode::SUCCESS)
}

fn state_dir(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit
        .or_else(|| std::env::var_os("CUSTOS_VERIFIER_STATE").map(PathBuf::from))
        .or_else(|| {
            std::env::var_os("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("custos/verifier"))
        })
        .or_else(|| {
            std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".local/state/custos/verifier"))
        })
}

fn remembered_path(dir: &Path, v: &tlog::Verifier) -> PathBuf {
    let safe: String = v
        .name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}-{:08x}.checkpoint", v.key_id()))
}

fn verify(
    data: &Path,
    vkey: &str,
    known_files: &[PathBuf],
    state: Option<PathBuf>,
    no_remember: bool,
) -> anyhow::Result<ExitCode> {
    let verifier = ui::verifier_arg(vkey)?;
    let log = data.join("log");
    if !log.join("checkpoint").is_file() {
        bail!(
            "no log at {}: expected {}",
            data.display(),
            log.join("checkpoint").display()
        );
    }
    let mut known = Vec::new();
    for f in known_files {
        let note = std::fs::read(f).with_context(|| format!("--known {}", f.display()))?;
        known.push(KnownCheckpoint {
            source: f.display().to_string(),
            note,
        });
    }
    let remembered = if no_remember {
        None
    } else {
        state_dir(state).map(|d| remembered_path(&d, &verifier))
    };
    if let Some(p) = &remembered
        && let Ok(note) = std::fs::read(p)
    {
        known.push(KnownCheckpoint {
            source: format!("remembered in {}", p.display()),
            note,
        });
    }
    let pb = ui::bar(0, "verifying");
    let result = ledger::verify_log(&log, &verifier, &known, |done, total| {
        pb.set_length(total);
        pb.set_position(done);
    });
    pb.finish_and_clear();
    match result {
        Ok(report) => {
            let cp = &report.checkpoint;
            println!("OK: {} verified against {}", cp.origin(), verifier);
            println!(
                "  checkpoint: size {} root {}",
                cp.size(),
                STANDARD.encode(cp.root())
            );
            println!(
                "  entries: {} ({} bytes) hashed and matched; tiles checked: {}",
                report.entries, report.entry_bytes, report.tiles
            );
            for (source, size) in &report.known {
                println!("  consistent with the known checkpoint of size {size} ({source})");
            }
            if let Some(p) = remembered {
                remember(&p, cp)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("FAILED: {}: {}", e.place, e.reason);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Remembers the newest verified checkpoint (never a smaller one).
fn remember(path: &Path, cp: &tlog::VerifiedCheckpoint) -> anyhow::Result<()> {
    let older = std::fs::read(path)
        .ok()
        .and_then(|b| tlog::Note::parse(&b).ok())
        .and_then(|n| tlog::Checkpoint::parse_text(&n.text).ok())
        .map_or(0, |c| c.size);
    if cp.size() < older {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, cp.note_bytes()).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("write {}", path.display()))?;
    Ok(())
}
