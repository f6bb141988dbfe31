//! `custos demo`: builds a log of a simulated day of access records, verifies
//! it as an auditor would, proves one access, then tampers with copies in
//! every way an insider might and shows verification catching each.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ledger::{EntryBatch, KnownCheckpoint, Ledger, LedgerOptions, LogReader};

use crate::cli::DemoArgs;
use crate::ui;

const ORIGIN: &str = "demo.custos.example/access";

pub fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let (dir, temporary) = match &args.data {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("custos-demo-{}", std::process::id())),
            true,
        ),
    };
    let result = demo(&dir, args);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn step(n: u32, text: &str) {
    println!("\n[{n}/5] {text}");
}

fn demo(dir: &Path, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    println!("Custos demo — the tamper-evident access ledger");
    println!("In 2025 months of access logs were deleted after a preservation order and the");
    println!("first disclosure understated the breach 7,000-fold. Here every access is an entry");
    println!("in a C2SP Merkle log that anyone holding the public key can check.");

    step(1, &format!("Creating a ledger in {}", dir.display()));
    let vkey = ledger::init(dir, ORIGIN)?;
    println!(
        "      origin {ORIGIN}; signing key under {}/keys/ (never under log/)",
        dir.display()
    );
    println!("      verifier key: {vkey}");

    step(
        2,
        &format!(
            "Logging a simulated day: {} access records (seed {}), with the forged-token attack mixed in",
            args.records, args.seed
        ),
    );
    let company = sim::Company::default();
    let ledger = Ledger::open(dir, LedgerOptions::default())?;
    let pb = ui::bar(args.records, "logging");
    let started = Instant::now();
    let mut batch = EntryBatch::with_capacity(8192, 8192 * 400);
    let mut pending = std::collections::VecDeque::new();
    let (mut attack, mut first_attack) = (0u64, None);
    let mut midway_checkpoint = None;
    for (i, rec) in sim::day(&company, args.seed, args.records, 2_000).enumerate() {
        if rec.attack {
            attack += 1;
            first_attack.get_or_insert(i as u64);
        }
        batch.push(rec.json.as_bytes())?;
        if batch.len() == 8192 {
            pending.push_back(ledger.submit_blocking(std::mem::replace(
                &mut batch,
                EntryBatch::with_capacity(8192, 8192 * 400),
            ))?);
            pb.inc(8192);
            while pending.len() > 4 {
                if let Some(p) = pending.pop_front() {
                    p.wait()?;
                }
            }
            if midway_checkpoint.is_none() && i as u64 >= args.records / 2 {
                // An auditor looks at the log halfway through the day.
                for p in pending.drain(..) {
                    p.wait()?;
                }
                midway_checkpoint = Some(ledger.checkpoint());
            }
        }
    }
    let tail = batch.len() as u64;
    if !batch.is_empty() {
        pending.push_back(ledger.submit_blocking(batch)?);
    }
    for p in pending {
        p.wait()?;
    }
    pb.inc(tail);
    pb.finish_and_clear();
    let final_cp = ledger.checkpoint();
    ledger.close()?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "      {} records durable in {:.2} s ({} records/s), {} of them the attacker's forged-token reads",
        final_cp.size(),
        secs,
        ui::rate(final_cp.size() as f64 / secs),
        attack
    );
    println!(
        "      checkpoint: size {} root {}",
        final_cp.size(),
        STANDARD.encode(final_cp.root())
    );

    step(
        3,
        "Verifying the whole log as an auditor would, with only the public key",
    );
    let log = dir.join("log");
    let t = Instant::now();
    let report = ledger::verify_log(&log, &vkey, &[], |_, _| {})
        .map_err(|e| anyhow::anyhow!("the genuine log failed verification: {e}"))?;
    println!(
        "      OK: {} entries and {} tiles recomputed and matched in {:.0} ms",
        report.entries,
        report.tiles,
        t.elapsed().as_secs_f64() * 1000.0
    );
    println!(
        "      (the same check from the shell: custos ledger verify --data DIR --vkey '{vkey}')"
    );

    step(
        4,
        "Proving one access: the first forged-token read is in the log",
    );
    let index = first_attack.unwrap_or(0);
    let mut reader = LogReader::open(dir)?;
    let entry = reader.entry(index, final_cp.size())?;
    let hashes = reader.inclusion_proof(index, final_cp.size())?;
    let proof = tlog::TlogProof {
        extra: None,
        index,
        hashes,
        checkpoint: final_cp.note_bytes().to_vec(),
    };
    let bytes = proof.to_bytes();
    let parsed = tlog::TlogProof::parse(&bytes)?;
    parsed.verify(&tlog::leaf_hash(&entry), ORIGIN, &vkey)?;
    println!("      entry {index}: {}", String::from_utf8_lossy(&entry));
    println!(
        "      c2sp.org/tlog-proof@v1 bundle: {} bytes, {} hashes; verified offline against the checkpoint ✓",
        bytes.len(),
        parsed.hashes.len()
    );

    step(
        5,
        "Tampering with copies of the log; verification must catch each",
    );
    let midway = midway_checkpoint.unwrap_or_else(|| final_cp.clone());
    let cases = tamper_cases(&final_cp, &midway);
    let mut caught = 0;
    for (i, case) in cases.iter().enumerate() {
        let copy = dir.join(format!("tampered-{i}"));
        copy_dir(&log, &copy)?;
        let known = (case.apply)(&copy)?;
        let outcome = ledger::verify_log(&copy, &vkey, &known, |_, _| {});
        match outcome {
            Err(e) => {
                caught += 1;
                println!("      {:<46} CAUGHT  {}: {}", case.name, e.place, e.reason);
            }
            Ok(_) => println!("      {:<46} MISSED", case.name),
        }
        std::fs::remove_dir_all(&copy).with_context(|| format!("remove {}", copy.display()))?;
    }
    println!(
        "\n{caught}/{} tamperings caught. The genuine log verifies; every altered copy fails, and",
        cases.len()
    );
    println!("the failure names the first bad file or entry.");
    if caught != cases.len() {
        bail!(
            "verification missed {} tampering case(s)",
            cases.len() - caught
        );
    }
    Ok(ExitCode::SUCCESS)
}

type Apply = Box<dyn Fn(&Path) -> anyhow::Result<Vec<KnownCheckpoint>>>;

struct Case {
    name: &'static str,
    apply: Apply,
}

fn tamper_cases(latest: &tlog::VerifiedCheckpoint, midway: &tlog::VerifiedCheckpoint) -> Vec<Case> {
    let bundle = "tile/entries/001";
    let latest_note = latest.note_bytes().to_vec();
    let midway_note = midway.note_bytes().to_vec();
    let midway_size = midway.size();
    vec![
        Case {
            name: "flip one byte in an entry bundle",
            apply: Box::new(move |d| {
                edit(&d.join(bundle), |b| {
                    if let Some(x) = b.get_mut(100) {
                        *x ^= 0x01;
                    }
                })?;
                Ok(vec![])
            }),
        },
        Case {
            name: "delete a tile",
            apply: Box::new(|d| {
                std::fs::remove_file(d.join("tile/0/002"))?;
                Ok(vec![])
            }),
        },
        Case {
            name: "truncate an entry bundle",
            apply: Box::new(move |d| {
                edit(&d.join(bundle), |b| b.truncate(b.len().saturating_sub(17)))?;
                Ok(vec![])
            }),
        },
        Case {
            name: "reorder two entries",
            apply: Box::new(move |d| {
                edit(&d.join(bundle), |b| {
                    let entries: Vec<Vec<u8>> = tlog::decode_bundle(b)
                        .filter_map(Result::ok)
                        .map(<[u8]>::to_vec)
                        .collect();
                    let mut out = Vec::with_capacity(b.len());
                    for (i, _) in entries.iter().enumerate() {
                        let j = match i {
                            3 => 4,
                            4 => 3,
                            k => k,
                        };
                        if let Some(e) = entries.get(j) {
                            let _ = tlog::append_entry(&mut out, e);
                        }
                    }
                    *b = out;
                })?;
                Ok(vec![])
            }),
        },
        Case {
            name: "edit the checkpoint (shrink the tree size)",
            apply: Box::new(|d| {
                edit(&d.join("checkpoint"), |b| {
                    let text = String::from_utf8_lossy(b).into_owned();
                    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
                    if let Some(size) = lines.get_mut(1) {
                        let n: u64 = size.parse().unwrap_or(1);
                        *size = n.saturating_sub(1000).to_string();
                    }
                    *b = lines.join("\n").into_bytes();
                })?;
                Ok(vec![])
            }),
        },
        Case {
            name: "checkpoint re-signed by another key",
            apply: Box::new(|d| {
                let path = d.join("checkpoint");
                let note = tlog::Note::parse(&std::fs::read(&path)?)?;
                let mut cp = tlog::Checkpoint::parse_text(&note.text)?;
                cp.size -= 1000; // drop the last thousand accesses
                let forger = tlog::Signer::generate(ORIGIN)?;
                std::fs::write(&path, cp.sign(&[&forger])?)?;
                Ok(vec![])
            }),
        },
        Case {
            name: "roll back to an older checkpoint (newer known)",
            apply: Box::new(move |d| {
                // The insider restores the genuine, older checkpoint and
                // removes the tiles after it: everything checks out except
                // that an auditor has already seen the newer checkpoint.
                std::fs::write(d.join("checkpoint"), &midway_note)?;
                let _ = midway_size;
                Ok(vec![KnownCheckpoint {
                    source: "seen by the auditor earlier".into(),
                    note: latest_note.clone(),
                }])
            }),
        },
    ]
}

fn edit(path: &Path, f: impl FnOnce(&mut Vec<u8>)) -> anyhow::Result<()> {
    let mut b = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    f(&mut b);
    std::fs::write(path, b).with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest: PathBuf = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &dest)?;
        } else {
            std::fs::copy(e.path(), &dest)?;
        }
    }
    Ok(())
}
