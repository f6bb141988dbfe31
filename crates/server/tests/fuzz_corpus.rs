//! Replays the committed cargo-fuzz corpora of the server's parsers of
//! outside input, `fuzz/corpus/<target>/` for the targets `server_config`,
//! `bearer_token`, `credentials_file` and `log_path`, through
//! `server::fuzzing::<target>`: the very function the fuzz target
//! `fuzz/fuzz_targets/<target>.rs` runs, with its invariants. So every seed
//! and every input fuzzing once found stays a regression test of
//! `cargo test` (see `fuzz/README.md`).
//!
//! No input may panic or break an invariant. The file name says what must
//! become of it:
//!
//! - `valid-…`: accepted;
//! - `bad-<needles>--<what>`: refused, with a message containing every
//!   needle (comma-separated; `+` stands for a space; a needle ending in a
//!   digit must not be followed by another digit), e.g.
//!   `bad-max_body_bytes--lots` must name the key `max_body_bytes`;
//! - `bad-<what>` (no `--`): refused;
//! - anything else (inputs kept from fuzzing): nothing more.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use server::fuzzing::{self, Outcome};
use server::{Config, Settings};

/// The committed corpus, one directory per fuzz target.
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus");
/// The fuzz targets' sources.
const TARGETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/fuzz_targets");

type Target = fn(&[u8]) -> Result<Outcome, String>;

/// The targets replayed here (keep in step with `elsewhere` in
/// `crates/tlog/tests/fuzz_corpus.rs`).
const REPLAYED: [(&str, Target); 5] = [
    ("server_config", fuzzing::server_config),
    ("bearer_token", fuzzing::bearer_token),
    ("credentials_file", fuzzing::credentials_file),
    ("log_path", fuzzing::log_path),
    ("token_request", fuzzing::token_request),
];

fn files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(CORPUS).join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Whether `message` contains `needle`, not as the start of a longer
/// number (`line 1` is not in `line 12: …`).
fn mentions(message: &str, needle: &str) -> bool {
    message.match_indices(needle).any(|(at, _)| {
        !needle.ends_with(|c: char| c.is_ascii_digit())
            || !message[at + needle.len()..].starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Why one input fails its name's expectation, if it does.
fn check(name: &str, outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Accepted(what) if name.starts_with("bad-") => Some(format!("accepted: {what}")),
        Outcome::Refused(msg) if name.starts_with("valid-") => Some(format!("refused: {msg}")),
        Outcome::Refused(msg) => {
            let needles = name.strip_prefix("bad-")?.split_once("--")?.0;
            let missing: Vec<String> = needles
                .split(',')
                .map(|n| n.replace('+', " "))
                .filter(|n| !mentions(msg, n))
                .collect();
            (!missing.is_empty()).then(|| format!("message lacks {missing:?}: {msg}"))
        }
        Outcome::Accepted(_) => None,
    }
}

fn replay(target: &str, run: Target) {
    let files = files(target);
    let (mut valid, mut bad, mut failures) = (0, 0, Vec::new());
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(path).unwrap();
        valid += usize::from(name.starts_with("valid-"));
        bad += usize::from(name.starts_with("bad-"));
        match catch_unwind(AssertUnwindSafe(|| run(&data))) {
            Err(_) => failures.push(format!("{target}/{name}: panicked")),
            Ok(Err(broken)) => failures.push(format!("{target}/{name}: {broken}")),
            Ok(Ok(outcome)) => {
                if let Some(why) = check(&name, &outcome) {
                    failures.push(format!("{target}/{name}: {why}"));
                }
            }
        }
    }
    assert!(
        valid >= 5 && bad >= 10,
        "{target}: too few seeds ({valid} valid-, {bad} bad-)"
    );
    assert!(
        failures.is_empty(),
        "{} of {} inputs failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn server_config_corpus() {
    replay("server_config", fuzzing::server_config);
}

#[test]
fn bearer_token_corpus() {
    replay("bearer_token", fuzzing::bearer_token);
}

#[test]
fn credentials_file_corpus() {
    replay("credentials_file", fuzzing::credentials_file);
}

#[test]
fn token_request_corpus() {
    replay("token_request", fuzzing::token_request);
}

#[test]
fn log_path_corpus() {
    replay("log_path", fuzzing::log_path);
}

/// The example of `docs/server.md` is a seed, and means what the docs say.
#[test]
fn docs_example_is_a_seed_and_resolves_as_documented() {
    let seed =
        std::fs::read_to_string(format!("{CORPUS}/server_config/valid-docs-example")).unwrap();
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/server.md"))
            .unwrap();
    let block = docs
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a TOML example in docs/server.md");
    assert_eq!(seed, block, "the seed is not the example of docs/server.md");
    let c = Settings::from_toml(&seed, Path::new(fuzzing::CONFIG_PATH))
        .unwrap()
        .into_config()
        .unwrap();
    let mut expected = Config::new("/var/lib/custos");
    expected.listen = "0.0.0.0:8790".parse().unwrap();
    expected.max_event_age = None;
    expected.max_body_bytes = 16 << 20;
    assert_eq!(c, expected);
    assert_eq!(c.max_future_skew, Duration::from_secs(300), "default");
}

/// The credentials seeds and the `bearer_token` target share one fixture.
#[test]
fn token_seeds_match_the_fixture() {
    let fixture = std::fs::read(format!("{CORPUS}/credentials_file/valid-fixture")).unwrap();
    assert_eq!(fixture, fuzzing::fuzz_credentials_file().into_bytes());
    for (seed, token) in [
        ("valid-ingest", fuzzing::FUZZ_TOKENS[0]),
        ("valid-scim", fuzzing::FUZZ_TOKENS[1]),
        ("bad-revoked--admin-revoked", fuzzing::FUZZ_TOKENS[2]),
    ] {
        let value = std::fs::read_to_string(format!("{CORPUS}/bearer_token/{seed}")).unwrap();
        assert_eq!(value, format!("Bearer {token}"), "{seed}");
    }
    assert_eq!(
        fuzzing::bearer_token(format!("Bearer {}", fuzzing::FUZZ_TOKENS[0]).as_bytes()),
        Ok(Outcome::Accepted("ingest 0123456789abcdef".to_owned()))
    );
}

/// Every target replayed here has its corpus and a fuzz target that runs
/// the same function.
#[test]
fn targets_run_the_replayed_functions() {
    for (target, _) in REPLAYED {
        assert!(!files(target).is_empty(), "{target}: empty corpus");
        let source = std::fs::read_to_string(format!("{TARGETS}/{target}.rs"))
            .unwrap_or_else(|e| panic!("fuzz target {target}: {e}"));
        assert!(
            source.contains(&format!("server::fuzzing::{target}(data)")),
            "{target}.rs does not call server::fuzzing::{target}"
        );
    }
}
