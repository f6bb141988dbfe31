#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The SIGKILL crash test: a child `custos ledger append --data DIR - --acks`
//! is fed a continuous stream of unique lines and killed with SIGKILL after
//! a random delay, again and again on the same ledger. After every kill:
//!
//! - `custos ledger verify --data DIR --vkey VKEY --no-remember` exits 0;
//! - every acknowledged line is in the log at its index, byte for byte
//!   (`ack FIRST COUNT TREE_SIZE` covers the next COUNT lines of the run,
//!   from index FIRST);
//! - the log is exactly, run after run, a prefix of each run's lines in
//!   order: no gap, no duplicate, no foreign or torn entry;
//! - the published size never shrinks and is at least the largest
//!   acknowledged tree size.
//!
//! A final uninterrupted append must then succeed and verify.
//!
//! Environment: `CUSTOS_CRASH_KILLS` (default 20; the documented full run
//! uses 200), `CUSTOS_CRASH_SEED` (default fixed), `CUSTOS_CRASH_RATE`
//! (lines per second offered to the child, default 50,000). Run with
//! `-- --nocapture` to see the summary line.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ledger::LogReader;
use tlog::{TileId, TileKind, Verifier};

const BIN: &str = env!("CARGO_BIN_EXE_custos");
const ORIGIN: &str = "crash.test/log";
const LINE_LEN: usize = 200;

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// Line `k` of run `r` (without its newline): unique, about 200 bytes.
fn line(r: u64, k: u64) -> Vec<u8> {
    let mut l = format!("run{r}-line{k}-").into_bytes();
    let mut x = r.wrapping_mul(0x1000_0000_01B3) ^ k;
    while l.len() < LINE_LEN {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        l.push(b'a' + ((x >> 59) % 26) as u8);
    }
    l
}

/// Parses `run{r}-line{k}-…` back to `(r, k)`.
fn parse_line(e: &[u8]) -> Option<(u64, u64)> {
    let s = std::str::from_utf8(e).ok()?;
    let rest = s.strip_prefix("run")?;
    let (r, rest) = rest.split_once("-line")?;
    let (k, _) = rest.split_once('-')?;
    Some((r.parse().ok()?, k.parse().ok()?))
}

struct Ack {
    first: u64,
    count: u64,
    tree_size: u64,
}

struct Run {
    /// What the child acknowledged.
    acks: Vec<Ack>,
    /// Lines handed to the pipe (an upper bound on what the child read).
    sent: u64,
}

/// When to kill the child.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// This long after it was started (often during recovery, before it
    /// has acknowledged anything: opening a ledger takes ~100 ms).
    AfterStart(Duration),
    /// This long after its first acknowledgement (during group commits).
    AfterFirstAck(Duration),
}

/// One child: stream lines, kill it, collect its acks.
fn run_child(dir: &Path, r: u64, kill: Kill, rate: u64, seed: u64) -> Run {
    let mut child = Command::new(BIN)
        .args(["ledger", "append", "--data"])
        .arg(dir)
        .args(["-", "--acks"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn custos ledger append");
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();

    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (sent, stop) = (Arc::clone(&sent), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut w = std::io::BufWriter::with_capacity(1 << 16, stdin);
            let mut rng = Rng(seed);
            let mut k = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Bursts 3–6 ms apart: `append` closes a group when no
                // line arrives for 2 ms (or at 65,536 lines), so groups of
                // various sizes are committed and acknowledged.
                let gap = rng.range(3, 6);
                let burst = (rate * gap / 1000).max(1);
                for _ in 0..burst {
                    let mut l = line(r, k);
                    l.push(b'\n');
                    if w.write_all(&l).is_err() {
                        return;
                    }
                    k += 1;
                    sent.store(k, Ordering::Relaxed);
                }
                if w.flush().is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(gap));
            }
        })
    };
    let (first_tx, first_rx) = std::sync::mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        for l in BufReader::new(stdout).lines() {
            let Ok(l) = l else { break };
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(
                f.len() == 4 && f[0] == "ack",
                "unexpected output line {l:?}"
            );
            let n = |s: &str| s.parse::<u64>().unwrap_or_else(|_| panic!("bad ack {l:?}"));
            acks.push(Ack {
                first: n(f[1]),
                count: n(f[2]),
                tree_size: n(f[3]),
            });
            let _ = first_tx.send(());
        }
        acks
    });
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    match kill {
        Kill::AfterStart(d) => std::thread::sleep(d),
        Kill::AfterFirstAck(d) => {
            // (If the child dies first, the channel closes and the status
            // check below reports it.)
            let _ = first_rx.recv_timeout(Duration::from_secs(30));
            std::thread::sleep(d);
        }
    }
    child.kill().expect("SIGKILL the child");
    let status = child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let acks = reader.join().unwrap();
    let stderr = errors.join().unwrap();
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "run {r}: the child ended on its own ({status}) before the kill:\n{stderr}"
        );
    }
    Run {
        acks,
        sent: sent.load(Ordering::Relaxed),
    }
}

fn custos(args: &[&str], dir: &Path) -> std::process::Output {
    let mut c = Command::new(BIN);
    c.args(args.iter().take(2))
        .arg("--data")
        .arg(dir)
        .args(args.iter().skip(2));
    c.output().expect("run custos")
}

/// What the test knows about the log so far.
#[derive(Default)]
struct Expect {
    /// Per run: (index of its first line, lines acknowledged).
    acked: Vec<(u64, u64)>,
    max_acked_tree_size: u64,
    acked_entries: u64,
    /// Per run, its lines in the log at the last check (runs in order).
    present: Vec<(u64, u64)>,
    size: u64,
}

/// Reads the whole published log and checks it against `exp`.
fn check_log(dir: &Path, verifier: &Verifier, exp: &mut Expect, what: &str) {
    let out = custos(
        &[
            "ledger",
            "verify",
            "--vkey",
            &verifier.to_string(),
            "--no-remember",
        ],
        dir,
    );
    assert!(
        out.status.success(),
        "{what}: custos ledger verify failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let mut reader = LogReader::open(dir).unwrap();
    let cp = tlog::open_checkpoint(&reader.checkpoint_bytes().unwrap(), ORIGIN, verifier)
        .unwrap_or_else(|e| panic!("{what}: checkpoint: {e}"));
    let size = cp.size();
    assert!(
        size >= exp.size,
        "{what}: the log shrank from {} to {size}",
        exp.size
    );
    assert!(
        size >= exp.max_acked_tree_size,
        "{what}: the log has {size} entries but a tree of {} was acknowledged",
        exp.max_acked_tree_size
    );

    // The log must be, run after run, a prefix of each run's lines.
    let mut present: Vec<(u64, u64)> = Vec::new(); // (run, lines)
    let mut starts: Vec<u64> = Vec::new();
    let mut index = 0u64;
    for b in 0..TileId::count_at_size(TileKind::Entries, size) {
        let bundle = reader
            .tile(TileKind::Entries, b, size)
            .unwrap_or_else(|e| panic!("{what}: bundle {b}: {e}"));
        for e in tlog::decode_bundle(&bundle) {
            let e = e.unwrap_or_else(|err| panic!("{what}: bundle {b}: {err}"));
            let (r, k) = parse_line(e).unwrap_or_else(|| {
                panic!(
                    "{what}: entry {index} is not a line we sent: {:?}",
                    String::from_utf8_lossy(e)
                )
            });
            match present.last_mut() {
                Some((lr, n)) if *lr == r && *n == k => *n += 1,
                last => {
                    let last = last.map(|l| *l);
                    assert!(
                        k == 0 && last.is_none_or(|(lr, _)| lr < r),
                        "{what}: entry {index} is line {k} of run {r}, after {last:?} (gap, duplicate or reorder)"
                    );
                    present.push((r, 1));
                    starts.push(index);
                }
            }
            assert_eq!(
                e,
                line(r, k).as_slice(),
                "{what}: entry {index} (line {k} of run {r}) is damaged"
            );
            index += 1;
        }
    }
    assert_eq!(
        index, size,
        "{what}: bundles hold {index} entries for a tree of {size}"
    );

    // Every acknowledged line is at its index.
    for (r, &(first, count)) in exp.acked.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let pos = present.iter().position(|(pr, _)| *pr == r as u64);
        let pos = pos.unwrap_or_else(|| {
            panic!("{what}: the {count} acknowledged lines of run {r} are gone")
        });
        assert_eq!(
            starts[pos], first,
            "{what}: run {r} starts at {} but was acknowledged at {first}",
            starts[pos]
        );
        assert!(
            present[pos].1 >= count,
            "{what}: run {r} has {} lines in the log but {count} were acknowledged",
            present[pos].1
        );
    }
    // What was there before is still there.
    for (i, old) in exp.present.iter().enumerate() {
        let now = present
            .get(i)
            .unwrap_or_else(|| panic!("{what}: run {} vanished from the log", old.0));
        assert_eq!(now.0, old.0, "{what}: the log's history changed");
        if i + 1 < exp.present.len() {
            assert_eq!(
                now.1, old.1,
                "{what}: run {} changed from {} to {} lines",
                old.0, old.1, now.1
            );
        } else {
            assert!(now.1 >= old.1, "{what}: run {} lost lines", old.0);
        }
    }
    exp.present = present;
    exp.size = size;
}

#[test]
fn sigkill_during_appends_loses_nothing_acknowledged() {
    let kills = env_u64("CUSTOS_CRASH_KILLS", 20);
    let seed = env_u64("CUSTOS_CRASH_SEED", 0x5EED_C057);
    let rate = env_u64("CUSTOS_CRASH_RATE", 50_000).max(1);
    let mut rng = Rng(seed);
    let started = Instant::now();

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let out = custos(&["ledger", "init", "--origin", ORIGIN], &dir);
    assert!(
        out.status.success(),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let vkey = stdout.lines().last().unwrap().trim().to_owned();
    let verifier = Verifier::parse(&vkey).unwrap();

    let mut exp = Expect::default();
    let mut early_kills = 0u64;
    for r in 0..kills {
        let delay = Duration::from_millis(rng.range(5, 150));
        // One kill in four at a random time from the start (recovery and
        // the first commit), the others during the stream of commits.
        let kill = if rng.range(0, 3) == 0 {
            Kill::AfterStart(delay)
        } else {
            Kill::AfterFirstAck(delay)
        };
        let run = run_child(&dir, r, kill, rate, rng.next());
        let what = format!("seed {seed:#x}, kill {r} ({kill:?})");

        // Acks cover consecutive lines of this run from its first index.
        let base = run.acks.first().map_or(0, |a| a.first);
        let mut next = base;
        for a in &run.acks {
            assert_eq!(a.first, next, "{what}: acks out of order");
            assert!(a.count > 0, "{what}: empty ack");
            assert!(
                a.tree_size >= a.first + a.count,
                "{what}: ack beyond its tree size"
            );
            next += a.count;
            exp.max_acked_tree_size = exp.max_acked_tree_size.max(a.tree_size);
        }
        let acked = next - base;
        assert!(
            acked <= run.sent,
            "{what}: {acked} lines acknowledged, {} sent",
            run.sent
        );
        if let Some(a) = run.acks.first() {
            assert!(
                a.first >= exp.size,
                "{what}: run started at {} inside the log of {}",
                a.first,
                exp.size
            );
        } else {
            early_kills += 1;
        }
        exp.acked.push((base, acked));
        exp.acked_entries += acked;
        check_log(&dir, &verifier, &mut exp, &what);
    }

    // A last, uninterrupted append succeeds after all that.
    let mut child = Command::new(BIN)
        .args(["ledger", "append", "--data"])
        .arg(&dir)
        .args(["-", "--acks"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for k in 0..1000 {
            let mut l = line(kills, k);
            l.push(b'\n');
            stdin.write_all(&l).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "final append: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acks: Vec<Vec<u64>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .map(|n| n.parse().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        acks.iter().map(|a| a[1]).sum::<u64>(),
        1000,
        "final append: acks {acks:?}"
    );
    // Recovery may first have rolled the last killed run's staged commit forward.
    let base = acks[0][0];
    assert!(base >= exp.size);
    exp.acked.push((base, 1000));
    exp.acked_entries += 1000;
    check_log(&dir, &verifier, &mut exp, "final append");
    assert_eq!(exp.size, base + 1000, "final append");

    // Not vacuous: most runs are acknowledged before the kill.
    assert!(
        kills < 4 || early_kills * 2 < kills,
        "{early_kills} of {kills} children were killed before any acknowledgement"
    );
    println!(
        "crash test: {kills} kills ({early_kills} before any ack), {} acked entries, max acked tree size {}, final log size {}, seed {seed:#x}, rate {rate}/s, {:.1} s",
        exp.acked_entries,
        exp.max_acked_tree_size,
        exp.size,
        started.elapsed().as_secs_f64()
    );
}
