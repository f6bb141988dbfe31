//! Shared helpers for the `custos` integration tests: running the binary in a
//! sandbox (its own verifier state, HOME and XDG_STATE_HOME, so no test ever
//! touches the real home directory), building ledgers, running the
//! independent Python verifier `tests/outside/tlogcheck.py`, and small file
//! utilities (copying a log, editing bundles).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;

use tempfile::TempDir;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_custos");

/// The output of one process.
#[derive(Debug)]
pub struct Run {
    /// What was run (for messages).
    pub what: String,
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Run {
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    fn describe(&self) -> String {
        format!(
            "`{}` exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what,
            self.status.code(),
            truncate(&self.out()),
            truncate(&self.err())
        )
    }

    /// Asserts exit 0 and returns self.
    #[track_caller]
    pub fn ok(self) -> Run {
        assert!(
            self.status.success(),
            "expected success: {}",
            self.describe()
        );
        assert_no_panic(&self);
        self
    }

    /// Asserts a clean failure: a non-zero exit code (not a signal), no panic
    /// message, a non-empty stderr.
    #[track_caller]
    pub fn fails(self) -> Run {
        assert!(
            !self.status.success(),
            "expected failure: {}",
            self.describe()
        );
        assert!(
            self.status.code().is_some(),
            "killed by a signal: {}",
            self.describe()
        );
        assert_no_panic(&self);
        assert!(
            !self.err().trim().is_empty(),
            "failure without a message on stderr: {}",
            self.describe()
        );
        self
    }

    /// Asserts stderr contains every needle.
    #[track_caller]
    pub fn err_has(self, needles: &[&str]) -> Run {
        let err = self.err();
        for n in needles {
            assert!(
                err.contains(n),
                "stderr should mention {n:?}: {}",
                self.describe()
            );
        }
        self
    }

    /// Asserts stdout contains every needle.
    #[track_caller]
    pub fn out_has(self, needles: &[&str]) -> Run {
        let out = self.out();
        for n in needles {
            assert!(
                out.contains(n),
                "stdout should mention {n:?}: {}",
                self.describe()
            );
        }
        self
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= 4000 {
        return s.to_owned();
    }
    let mut end = 4000;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes]", &s[..end], s.len() - end)
}

#[track_caller]
fn assert_no_panic(run: &Run) {
    let err = run.err();
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "the process panicked: {}",
        run.describe()
    );
}

pub fn run_command(mut cmd: Command, what: String, stdin: Option<&[u8]>) -> Run {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{what}`: {e}"));
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            // The child may exit early (e.g. on an oversized line): ignore EPIPE.
            let _ = pipe.write_all(&data);
        })
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for `{what}`: {e}"));
    if let Some(w) = writer {
        w.join().unwrap();
    }
    Run {
        what,
        status: out.status,
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// A per-test sandbox: a temporary directory, with the verifier state, HOME
/// and XDG_STATE_HOME of every `custos` run pointed inside it.
pub struct Sandbox {
    pub tmp: TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let tmp = tempfile::Builder::new()
            .prefix("custos-test-")
            .tempdir()
            .unwrap();
        for d in ["state", "home", "xdg"] {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        Sandbox { tmp }
    }

    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// The verifier state directory given to every run (CUSTOS_VERIFIER_STATE).
    pub fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    /// A `custos` command with the sandbox environment.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> (Command, String) {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("CUSTOS_VERIFIER_STATE", self.state_dir())
            .env("HOME", self.path("home"))
            .env("XDG_STATE_HOME", self.path("xdg"))
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE");
        let what = std::iter::once("custos".to_owned())
            .chain(
                args.iter()
                    .map(|a| a.as_ref().to_string_lossy().into_owned()),
            )
            .collect::<Vec<_>>()
            .join(" ");
        (cmd, what)
    }

    pub fn custos<S: AsRef<OsStr>>(&self, args: &[S]) -> Run {
        let (cmd, what) = self.command(args);
        run_command(cmd, what, None)
    }

    pub fn custos_stdin<S: AsRef<OsStr>>(&self, args: &[S], input: &[u8]) -> Run {
        let (cmd, what) = self.command(args);
        run_command(cmd, format!("{what} < stdin"), Some(input))
    }

    /// `custos ledger init` of a new ledger in `rel`.
    pub fn init(&self, rel: &str, origin: &str) -> Ledger {
        let dir = self.path(rel);
        let run = self
            .custos(&["ledger", "init", "--data", s(&dir), "--origin", origin])
            .ok();
        let vkey = last_line(&run.out());
        Ledger {
            dir,
            vkey,
            origin: origin.to_owned(),
            entries: Vec::new(),
            file_counter: 0,
        }
    }

    /// Writes `data` to a fresh file in the sandbox and returns its path.
    pub fn write(&self, rel: &str, data: &[u8]) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, data).unwrap();
        p
    }
}

/// The last non-empty line of a text.
pub fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// A path as &str (temporary paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// A ledger created by a test, with the entries the test appended.
pub struct Ledger {
    pub dir: PathBuf,
    pub vkey: String,
    pub origin: String,
    /// Everything appended so far, in order.
    pub entries: Vec<Vec<u8>>,
    file_counter: u64,
}

impl Ledger {
    pub fn d(&self) -> &str {
        s(&self.dir)
    }

    pub fn log_dir(&self) -> PathBuf {
        self.dir.join("log")
    }

    pub fn checkpoint_path(&self) -> PathBuf {
        self.dir.join("log/checkpoint")
    }

    pub fn checkpoint(&self) -> Vec<u8> {
        std::fs::read(self.checkpoint_path()).unwrap()
    }

    /// The size line of the published checkpoint.
    pub fn size(&self) -> u64 {
        checkpoint_size(&self.checkpoint())
    }

    /// Appends `lines` through a regular file, checks the summary line and
    /// the new checkpoint size, and records them.
    pub fn append(&mut self, sb: &Sandbox, lines: &[Vec<u8>]) -> Run {
        self.file_counter += 1;
        let name = format!(
            "append-{}-{}.txt",
            self.dir.file_name().unwrap().to_string_lossy(),
            self.file_counter
        );
        let file = sb.write(&name, &join_lines(lines));
        let run = sb
            .custos(&["ledger", "append", "--data", self.d(), s(&file)])
            .ok();
        self.record(lines, &run);
        let _ = std::fs::remove_file(file);
        run
    }

    /// Appends generated entries until the log has `size` entries.
    pub fn grow_to(&mut self, sb: &Sandbox, size: u64) -> Run {
        let from = self.entries.len() as u64;
        assert!(size > from, "grow_to({size}) from {from}");
        let lines: Vec<Vec<u8>> = (from..size).map(gen_entry).collect();
        self.append(sb, &lines)
    }

    /// Checks an append's summary and records the lines as appended.
    #[track_caller]
    pub fn record(&mut self, lines: &[Vec<u8>], run: &Run) {
        let first = self.entries.len() as u64;
        let n = lines.len() as u64;
        let want = if n == 0 {
            "appended 0 entries".to_owned()
        } else {
            format!(
                "appended {n} entries (indices {first}..{}); checkpoint size {}",
                first + n - 1,
                first + n
            )
        };
        assert_eq!(last_line(&run.out()), want, "append summary");
        self.entries.extend(lines.iter().cloned());
        assert_eq!(
            self.size(),
            self.entries.len() as u64,
            "checkpoint size after append"
        );
    }

    /// `custos ledger verify` with the sandbox state (remembering).
    pub fn verify(&self, sb: &Sandbox) -> Run {
        sb.custos(&["ledger", "verify", "--data", self.d(), "--vkey", &self.vkey])
    }
}

/// Lines joined with `\n`, with a final newline.
pub fn join_lines(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

/// A deterministic, varied entry (never containing `\n`): JSON-ish records
/// of different lengths, some empty, some non-ASCII, some with spaces/tabs.
pub fn gen_entry(i: u64) -> Vec<u8> {
    match i % 101 {
        7 => Vec::new(),
        13 => format!("Zugriff auf Akte {i} — Prüfung ✓ 患者").into_bytes(),
        29 => format!("  spaced\tentry {i}  ").into_bytes(),
        31 => {
            let mut e = format!("long {i} ").into_bytes();
            e.resize(1000 + (i % 7) as usize * 100, b'a' + (i % 26) as u8);
            e
        }
        _ => {
            let who = i.wrapping_mul(2_654_435_761) % 997;
            let pad = "x".repeat((i % 17) as usize);
            format!(
                "{{\"seq\":{i},\"actor\":\"user{who}\",\"action\":\"read\",\"record\":\"r{}\",\"pad\":\"{pad}\"}}",
                i * 7919 % 100_003
            )
            .into_bytes()
        }
    }
}

/// The size line of a checkpoint note.
pub fn checkpoint_size(note: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(note);
    let line = text
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("checkpoint without a size line: {text:?}"));
    line.parse()
        .unwrap_or_else(|_| panic!("checkpoint size line {line:?} is not a number"))
}

// ---------------------------------------------------------------------------
// The independent Python verifier.

pub fn tlogcheck_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/outside/tlogcheck.py")
}

fn python() -> String {
    std::env::var("CUSTOS_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Panics with a clear message unless python3 with `cryptography` is there
/// (these tests are never skipped silently).
pub fn require_python() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let py = python();
        let out = Command::new(&py)
            .args(["-c", "import sys, cryptography; assert sys.version_info >= (3, 11), sys.version"])
            .output();
        match out {
            Err(e) => Err(format!(
                "cannot run `{py}` ({e}): the outside-verifier tests need Python 3.11+ with the `cryptography` \
                 package (set CUSTOS_TEST_PYTHON to another interpreter)"
            )),
            Ok(o) if !o.status.success() => Err(format!(
                "`{py}` cannot import `cryptography` or is older than 3.11: {}\ninstall it (e.g. `pip install \
                 cryptography`) or set CUSTOS_TEST_PYTHON; these tests are not skipped",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Ok(_) => {
                if tlogcheck_path().is_file() {
                    Ok(())
                } else {
                    Err(format!("{} is missing", tlogcheck_path().display()))
                }
            }
        }
    });
    if let Err(e) = ready {
        panic!("{e}");
    }
}

/// Runs `python3 tlogcheck.py ARGS`.
pub fn tlogcheck<S: AsRef<OsStr>>(args: &[S]) -> Run {
    require_python();
    let mut cmd = Command::new(python());
    cmd.arg(tlogcheck_path()).args(args);
    let what = std::iter::once("tlogcheck.py".to_owned())
        .chain(
            args.iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned()),
        )
        .collect::<Vec<_>>()
        .join(" ");
    run_command(cmd, what, None)
}

/// `tlogcheck.py log` on the ledger's current checkpoint.
pub fn tlogcheck_log(ledger: &Ledger) -> Run {
    tlogcheck(&["log", "--dir", s(&ledger.log_dir()), "--vkey", &ledger.vkey])
}

// ---------------------------------------------------------------------------
// Files.

/// Recursively copies a directory.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let ty = e.file_type().unwrap();
        let dest = to.join(e.file_name());
        if ty.is_dir() {
            copy_dir(&e.path(), &dest);
        } else if ty.is_file() {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// All regular files under `dir`, as `/`-separated paths relative to it.
pub fn list_files(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap();
                out.insert(
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// C2SP tlog-tiles index path: 1234067 → x001/x234/067.
pub fn tile_index_path(mut n: u64) -> String {
    let mut groups = Vec::new();
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    groups.reverse();
    let last = groups.len() - 1;
    let mut out = String::new();
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        if i < last {
            out.push('x');
        }
        write!(out, "{g:03}").unwrap();
    }
    out
}

/// `tile/<level>/<N>[.p/<W>]` (level is a number or "entries").
pub fn tile_path(level: &str, n: u64, width: u64) -> String {
    let base = format!("tile/{level}/{}", tile_index_path(n));
    if width == 256 {
        base
    } else {
        format!("{base}.p/{width}")
    }
}

/// Hashes at level `level` of a tree of `size` (level 0 = leaves).
pub fn level_count(size: u64, level: u32) -> u64 {
    if 8 * level >= 64 {
        0
    } else {
        size >> (8 * level)
    }
}

/// The tiles (path) a client needs for a tree of `size`.
pub fn required_tiles(size: u64) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for level in 0..8u32 {
        let count = level_count(size, level);
        if count == 0 {
            break;
        }
        let names: Vec<String> = if level == 0 {
            vec!["0".into(), "entries".into()]
        } else {
            vec![level.to_string()]
        };
        for name in names {
            for n in 0..count / 256 {
                out.insert(tile_path(&name, n, 256));
            }
            if !count.is_multiple_of(256) {
                out.insert(tile_path(&name, count / 256, count % 256));
            }
        }
    }
    out
}

/// Splits an entry bundle (uint16 big-endian length-prefixed entries).
pub fn split_bundle(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let n = usize::from(u16::from_be_bytes([data[pos], data[pos + 1]]));
        out.push(data[pos + 2..pos + 2 + n].to_vec());
        pos += 2 + n;
    }
    out
}

/// Builds an entry bundle.
pub fn join_bundle(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&u16::try_from(e.len()).unwrap().to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// Many `tlogcheck.py` invocations in one Python process (Python start-up
/// dominates otherwise): each job calls the script's own command-line entry
/// point `main(argv)` with its stdout/stderr captured.
#[derive(Default)]
pub struct Batch {
    jobs: Vec<(Vec<String>, Expect)>,
}

enum Expect {
    /// Exit 0 and stdout containing the text.
    Ok(String),
    /// Exit 1 and stderr containing the text.
    Fail(String),
}

const BATCH_DRIVER: &str = r#"
import contextlib, io, json, sys
sys.path.insert(0, sys.argv[1])
import tlogcheck
results = []
for argv in json.load(sys.stdin):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = tlogcheck.main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
    results.append({"code": code, "out": out.getvalue(), "err": err.getvalue()})
json.dump(results, sys.stdout)
"#;

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Expects `tlogcheck.py ARGS` to pass with `stdout_has` in its output.
    pub fn ok<S: AsRef<str>>(&mut self, args: &[S], stdout_has: &str) {
        self.jobs.push((
            args.iter().map(|a| a.as_ref().to_owned()).collect(),
            Expect::Ok(stdout_has.to_owned()),
        ));
    }

    /// Expects `tlogcheck.py ARGS` to fail (exit 1, `FAIL: …` on stderr
    /// containing `stderr_has`).
    pub fn fail<S: AsRef<str>>(&mut self, args: &[S], stderr_has: &str) {
        self.jobs.push((
            args.iter().map(|a| a.as_ref().to_owned()).collect(),
            Expect::Fail(stderr_has.to_owned()),
        ));
    }

    /// Runs every job and asserts every expectation, listing all misses.
    #[track_caller]
    pub fn run(self) {
        if self.jobs.is_empty() {
            return;
        }
        require_python();
        let argvs: Vec<&Vec<String>> = self.jobs.iter().map(|(a, _)| a).collect();
        let input = serde_json::to_vec(&argvs).unwrap();
        let mut cmd = Command::new(python());
        cmd.arg("-c")
            .arg(BATCH_DRIVER)
            .arg(tlogcheck_path().parent().unwrap());
        let run = run_command(
            cmd,
            format!("tlogcheck.py batch of {}", self.jobs.len()),
            Some(&input),
        )
        .ok();
        let results: Vec<serde_json::Value> = serde_json::from_slice(&run.stdout).unwrap();
        assert_eq!(results.len(), self.jobs.len());
        let mut misses = Vec::new();
        for ((argv, expect), r) in self.jobs.iter().zip(&results) {
            let code = r["code"].as_i64().unwrap_or(-1);
            let out = r["out"].as_str().unwrap_or("");
            let err = r["err"].as_str().unwrap_or("");
            let good = match expect {
                Expect::Ok(want) => code == 0 && out.contains(want.as_str()),
                Expect::Fail(want) => {
                    code == 1 && err.starts_with("FAIL: ") && err.contains(want.as_str())
                }
            };
            if !good {
                let want = match expect {
                    Expect::Ok(w) => format!("success with stdout containing {w:?}"),
                    Expect::Fail(w) => format!("exit 1 with FAIL containing {w:?}"),
                };
                misses.push(format!(
                    "tlogcheck.py {}\n  wanted {want}\n  got exit {code}, stdout {:?}, stderr {:?}",
                    argv.join(" "),
                    out.trim(),
                    err.trim()
                ));
            }
        }
        assert!(
            misses.is_empty(),
            "{} of {} tlogcheck checks failed:\n{}",
            misses.len(),
            results.len(),
            misses.join("\n")
        );
    }
}

/// The files under `DIR/log/` are exactly the checkpoint, the tiles a client
/// needs at the current size, and possibly older (narrower) partials of the
/// still-incomplete tiles: a partial whose full tile exists must be gone.
#[track_caller]
pub fn check_layout(l: &Ledger) {
    let size = l.size();
    let files = list_files(&l.log_dir());
    let mut required = required_tiles(size);
    required.insert("checkpoint".to_owned());
    let missing: Vec<&String> = required.difference(&files).collect();
    assert!(
        missing.is_empty(),
        "size {size}: required files missing: {missing:?}"
    );
    let mut unexpected = Vec::new();
    for f in files.difference(&required) {
        let ok = f.rsplit_once(".p/").is_some_and(|(base, w)| {
            let w: u64 = w.parse().unwrap_or(u64::MAX);
            !files.contains(base)
                && required.iter().any(|r| {
                    r.rsplit_once(".p/")
                        .is_some_and(|(rb, rw)| rb == base && w < rw.parse::<u64>().unwrap_or(0))
                })
        });
        if !ok {
            unexpected.push(f.clone());
        }
    }
    assert!(
        unexpected.is_empty(),
        "size {size}: unexpected files under log/ (a partial tile whose full tile exists, a tile beyond the \
         size, or a stray file): {unexpected:?}"
    );
}
