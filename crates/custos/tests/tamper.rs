//! Tampering with a log of 3,000 entries (11 full tiles and a partial one of
//! 184; a partial level-1 tile of 11 hashes) must make `custos ledger
//! verify` exit 1 and name the bad place on stderr (`FAILED: <place>:
//! <reason>`), and the independent `tests/outside/tlogcheck.py` must reject
//! the same copy. Rollbacks and forks are caught through known checkpoints
//! (`--known`) and the remembered verifier state.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};

use common::{Ledger, Run, Sandbox, copy_dir, join_bundle, s, split_bundle, tlogcheck};

const SIZE: u64 = 3000;

/// A fresh ledger of `SIZE` generated entries.
fn base(sb: &Sandbox) -> Ledger {
    let mut l = sb.init("base", "example.com/tamper");
    l.grow_to(sb, 1200);
    l.grow_to(sb, SIZE);
    l
}

/// A copy of the base log under `<name>/log`, changed by `change`; returns
/// the copy's data directory.
fn tampered(sb: &Sandbox, l: &Ledger, name: &str, change: impl FnOnce(&Path)) -> PathBuf {
    let dir = sb.path(name);
    copy_dir(&l.log_dir(), &dir.join("log"));
    change(&dir.join("log"));
    dir
}

/// `custos ledger verify` without remembered state.
fn verify_once(sb: &Sandbox, dir: &Path, vkey: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "ledger",
        "verify",
        "--data",
        s(dir),
        "--vkey",
        vkey,
        "--no-remember",
    ];
    args.extend_from_slice(extra);
    sb.custos(&args)
}

/// Both verifiers reject the copy: custos exits 1 with `FAILED: ` and every
/// one of `places` on stderr (and no OK on stdout); tlogcheck exits 1 with
/// `FAIL: ` mentioning `outside`.
#[track_caller]
fn rejected(sb: &Sandbox, dir: &Path, vkey: &str, places: &[&str], outside: &str) {
    let run = verify_once(sb, dir, vkey, &[]).fails().err_has(places);
    assert_eq!(run.code(), Some(1), "verify exits 1: {}", run.err());
    assert!(
        run.err().starts_with("FAILED: "),
        "stderr is `FAILED: <place>: <reason>`: {}",
        run.err()
    );
    assert!(!run.out().contains("OK"), "no OK on stdout: {}", run.out());
    let py = tlogcheck(&["log", "--dir", s(&dir.join("log")), "--vkey", vkey]).fails();
    assert_eq!(py.code(), Some(1));
    assert!(
        py.err().starts_with("FAIL: ") && py.err().contains(outside),
        "tlogcheck should name {outside:?}: {}",
        py.err()
    );
    // Shown with --nocapture.
    println!(
        "{}\n  custos:    {}\n  tlogcheck: {}",
        dir.display(),
        run.err().trim(),
        py.err().trim()
    );
}

fn edit(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f(&mut data);
    std::fs::write(path, data).unwrap();
}

/// Byte offset of the first content byte of entry `i` in a bundle.
fn entry_offset(bundle: &[u8], i: usize) -> usize {
    split_bundle(bundle)[..i]
        .iter()
        .map(|e| 2 + e.len())
        .sum::<usize>()
        + 2
}

#[test]
fn the_untouched_log_verifies_and_cosignatures_are_ignored() {
    let sb = Sandbox::new();
    let l = base(&sb);
    let run = l.verify(&sb).ok().out_has(&["OK", &format!("size {SIZE}")]);
    assert!(
        run.err().is_empty() || !run.err().contains("FAILED"),
        "{}",
        run.err()
    );
    tlogcheck(&["log", "--dir", s(&l.log_dir()), "--vkey", &l.vkey])
        .ok()
        .out_has(&[&format!("OK size={SIZE}")]);
    // Twice in a row (the remembered checkpoint is the same one).
    l.verify(&sb).ok();

    // A checkpoint also signed by an unknown key (a witness, say) still
    // verifies: signed-note verifiers ignore signatures they do not know.
    let mut other = sb.init("witness", "example.com/tamper");
    other.grow_to(&sb, SIZE);
    let theirs = other.checkpoint();
    let sig = theirs.split(|&b| b == b'\n').rev().nth(1).unwrap().to_vec();
    assert!(sig.starts_with("— ".as_bytes()));
    let dir = tampered(&sb, &l, "cosigned", |log| {
        edit(&log.join("checkpoint"), |cp| {
            cp.extend_from_slice(&sig);
            cp.push(b'\n');
        });
    });
    verify_once(&sb, &dir, &l.vkey, &[]).ok();
    tlogcheck(&["log", "--dir", s(&dir.join("log")), "--vkey", &l.vkey]).ok();
}

#[test]
fn a_flipped_byte_in_an_entry_bundle_names_the_entry() {
    let sb = Sandbox::new();
    let l = base(&sb);
    // Entry 1283 = bundle 5, position 3; entry 2900 = partial bundle 11, position 84.
    for (bundle, pos, index) in [
        ("tile/entries/005", 3usize, 1283u64),
        ("tile/entries/011.p/184", 84, 2900),
    ] {
        assert!(!l.entries[index as usize].is_empty());
        let dir = tampered(&sb, &l, &format!("flip-{index}"), |log| {
            edit(&log.join(bundle), |b| {
                let at = entry_offset(b, pos) + 1;
                b[at] ^= 0x20;
            });
        });
        rejected(
            &sb,
            &dir,
            &l.vkey,
            &[&format!("entry {index}"), bundle],
            &format!("entry {index}"),
        );
    }
    // A flipped length prefix breaks the bundle's framing.
    let dir = tampered(&sb, &l, "flip-length", |log| {
        edit(&log.join("tile/entries/005"), |b| b[0] ^= 0x80);
    });
    rejected(
        &sb,
        &dir,
        &l.vkey,
        &["tile/entries/005"],
        "tile/entries/005",
    );
    // A flipped byte in a hash tile.
    for tile in ["tile/0/009", "tile/1/000.p/11"] {
        let dir = tampered(
            &sb,
            &l,
            &format!("flip-{}", tile.replace('/', "_")),
            |log| {
                edit(&log.join(tile), |b| b[100] ^= 1);
            },
        );
        rejected(&sb, &dir, &l.vkey, &[tile], tile);
    }
}

#[test]
fn a_deleted_tile_is_named() {
    let sb = Sandbox::new();
    let l = base(&sb);
    for tile in [
        "tile/0/003",
        "tile/entries/007",
        "tile/entries/011.p/184",
        "tile/0/011.p/184",
        "tile/1/000.p/11",
    ] {
        let dir = tampered(&sb, &l, &format!("del-{}", tile.replace('/', "_")), |log| {
            std::fs::remove_file(log.join(tile)).unwrap();
        });
        rejected(
            &sb,
            &dir,
            &l.vkey,
            &[tile, "missing"],
            &format!("{tile}: missing"),
        );
    }
}

#[test]
fn a_truncated_bundle_is_named() {
    let sb = Sandbox::new();
    let l = base(&sb);
    type Cut = fn(&mut Vec<u8>);
    let cuts: [(&str, &str, Cut); 5] = [
        ("mid-entry", "tile/entries/004", |b| {
            b.truncate(b.len() - 10)
        }),
        ("in-prefix", "tile/entries/004", |b| {
            let at = entry_offset(b, 255) - 1;
            b.truncate(at);
        }),
        ("last-entry", "tile/entries/004", |b| {
            let at = entry_offset(b, 255) - 2;
            b.truncate(at);
        }),
        ("empty", "tile/entries/004", Vec::clear),
        ("partial", "tile/entries/011.p/184", |b| {
            let at = entry_offset(b, 100) - 2;
            b.truncate(at);
        }),
    ];
    for (name, bundle, cut) in cuts {
        let dir = tampered(&sb, &l, &format!("cut-{name}"), |log| {
            edit(&log.join(bundle), cut)
        });
        rejected(&sb, &dir, &l.vkey, &[bundle], bundle);
    }
    // The opposite: an extra entry appended to a full bundle.
    let dir = tampered(&sb, &l, "extra-entry", |log| {
        edit(&log.join("tile/entries/004"), |b| {
            b.extend_from_slice(&join_bundle(&[b"smuggled".to_vec()]))
        });
    });
    rejected(
        &sb,
        &dir,
        &l.vkey,
        &["tile/entries/004"],
        "tile/entries/004",
    );
}

#[test]
fn reordered_entries_are_caught() {
    let sb = Sandbox::new();
    let l = base(&sb);
    // Entries 512 and 513 (bundle 2, positions 0 and 1) swapped.
    let dir = tampered(&sb, &l, "swap", |log| {
        edit(&log.join("tile/entries/002"), |b| {
            let mut entries = split_bundle(b);
            entries.swap(0, 1);
            *b = join_bundle(&entries);
        });
    });
    rejected(
        &sb,
        &dir,
        &l.vkey,
        &["entry 512", "tile/entries/002"],
        "entry 512",
    );

    // Swapped in the bundle and, consistently, in the level-0 tile: caught
    // one level up.
    let dir = tampered(&sb, &l, "swap-deep", |log| {
        edit(&log.join("tile/entries/002"), |b| {
            let mut entries = split_bundle(b);
            entries.swap(0, 1);
            *b = join_bundle(&entries);
        });
        edit(&log.join("tile/0/002"), |t| {
            let (a, rest) = t.split_at_mut(32);
            a.swap_with_slice(&mut rest[..32]);
        });
    });
    rejected(&sb, &dir, &l.vkey, &["tile/1/000.p/11"], "tile/1/000.p/11");

    // Two whole bundles (and their tiles) swapped.
    let dir = tampered(&sb, &l, "swap-bundles", |log| {
        for kind in ["entries", "0"] {
            let (a, b) = (
                log.join(format!("tile/{kind}/002")),
                log.join(format!("tile/{kind}/003")),
            );
            let tmp = log.join("swap.tmp");
            std::fs::rename(&a, &tmp).unwrap();
            std::fs::rename(&b, &a).unwrap();
            std::fs::rename(&tmp, &b).unwrap();
        }
    });
    rejected(&sb, &dir, &l.vkey, &["tile/1/000.p/11"], "tile/1/000.p/11");
}

#[test]
fn an_edited_checkpoint_is_rejected() {
    let sb = Sandbox::new();
    let l = base(&sb);
    let text = String::from_utf8(l.checkpoint()).unwrap();
    let root = text.lines().nth(2).unwrap().to_owned();
    let mut other_root = root.clone().into_bytes();
    other_root[0] = if other_root[0] == b'A' { b'B' } else { b'A' };
    let other_root = String::from_utf8(other_root).unwrap();
    let edits: Vec<(&str, String)> = vec![
        ("size-down", text.replacen("\n3000\n", "\n2999\n", 1)),
        ("size-up", text.replacen("\n3000\n", "\n3001\n", 1)),
        ("root", text.replacen(&root, &other_root, 1)),
        (
            "origin",
            text.replacen("example.com/tamper\n", "example.com/tamperX\n", 1),
        ),
        (
            "unsigned",
            text.split("\n\n").next().unwrap().to_owned() + "\n\n",
        ),
    ];
    for (name, new) in edits {
        assert_ne!(new, text, "{name} edits the checkpoint");
        let dir = tampered(&sb, &l, &format!("cp-{name}"), |log| {
            std::fs::write(log.join("checkpoint"), &new).unwrap()
        });
        rejected(&sb, &dir, &l.vkey, &["FAILED: checkpoint"], "checkpoint");
    }
}

#[test]
fn a_checkpoint_signed_by_another_key_is_rejected() {
    let sb = Sandbox::new();
    let l = base(&sb);
    // Same origin, same entries: the same checkpoint body, another signature.
    let mut other = sb.init("other", "example.com/tamper");
    other.grow_to(&sb, 1200);
    other.grow_to(&sb, SIZE);
    let theirs = other.checkpoint();
    let body = |cp: &[u8]| {
        String::from_utf8_lossy(cp)
            .split("\n\n")
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        body(&theirs),
        body(&l.checkpoint()),
        "the two logs agree on origin, size and root"
    );
    assert_ne!(theirs, l.checkpoint());

    let dir = tampered(&sb, &l, "other-key", |log| {
        std::fs::write(log.join("checkpoint"), &theirs).unwrap()
    });
    rejected(&sb, &dir, &l.vkey, &["FAILED: checkpoint"], "checkpoint");
    // And the other log as a whole does not verify under our key.
    rejected(
        &sb,
        &other.dir,
        &l.vkey,
        &["FAILED: checkpoint"],
        "checkpoint",
    );
    // (It does under its own.)
    verify_once(&sb, &other.dir, &other.vkey, &[]).ok();
}

/// A ledger at 2000 entries whose log was saved (`old/log`, `cp-2000`), then
/// grown to 3000 (`cp-3000`).
fn rolled(sb: &Sandbox) -> (Ledger, PathBuf, PathBuf, PathBuf) {
    let mut l = sb.init("live", "example.com/rollback");
    l.grow_to(sb, 2000);
    let old = sb.path("old");
    copy_dir(&l.log_dir(), &old.join("log"));
    let cp_old = sb.write("cp-2000", &l.checkpoint());
    l.grow_to(sb, SIZE);
    let cp_new = sb.write("cp-3000", &l.checkpoint());
    (l, old, cp_old, cp_new)
}

#[test]
fn a_rollback_is_caught_with_known_checkpoints() {
    let sb = Sandbox::new();
    let (l, old, cp_old, cp_new) = rolled(&sb);
    // The old log is a valid log on its own…
    verify_once(&sb, &old, &l.vkey, &[])
        .ok()
        .out_has(&["size 2000"]);
    tlogcheck(&["log", "--dir", s(&old.join("log")), "--vkey", &l.vkey]).ok();
    // …but not once the newer checkpoint is known.
    let run = verify_once(&sb, &old, &l.vkey, &["--known", s(&cp_new)])
        .fails()
        .err_has(&["FAILED: checkpoint", "rollback", "cp-3000"]);
    assert_eq!(run.code(), Some(1));
    // The same with only the checkpoint file rolled back in the newer log.
    let dir = tampered(&sb, &l, "cp-only", |log| {
        std::fs::copy(&cp_old, log.join("checkpoint"))
            .map(drop)
            .unwrap()
    });
    verify_once(&sb, &dir, &l.vkey, &[])
        .ok()
        .out_has(&["size 2000"]);
    verify_once(&sb, &dir, &l.vkey, &["--known", s(&cp_new)])
        .fails()
        .err_has(&["FAILED: checkpoint", "rollback"]);
    // Among several known checkpoints.
    verify_once(
        &sb,
        &old,
        &l.vkey,
        &["--known", s(&cp_old), "--known", s(&cp_new)],
    )
    .fails()
    .err_has(&["rollback"]);
    // An older known checkpoint is fine, and reported.
    verify_once(
        &sb,
        &l.dir,
        &l.vkey,
        &["--known", s(&cp_old), "--known", s(&cp_new)],
    )
    .ok()
    .out_has(&["size 2000", "size 3000"]);
    // A known checkpoint that is itself not signed by the key is an error.
    let forged = sb.write(
        "forged",
        &String::from_utf8(std::fs::read(&cp_new).unwrap())
            .unwrap()
            .replace("\n3000\n", "\n3001\n")
            .into_bytes(),
    );
    verify_once(&sb, &l.dir, &l.vkey, &["--known", s(&forged)])
        .fails()
        .err_has(&["forged"]);
}

#[test]
fn a_rollback_is_caught_through_the_remembered_checkpoint() {
    let sb = Sandbox::new();
    let (l, old, _cp_old, _cp_new) = rolled(&sb);
    // Verifying the old log first is fine (nothing newer is known yet)…
    sb.custos(&["ledger", "verify", "--data", s(&old), "--vkey", &l.vkey])
        .ok();
    // …then the live log, which is remembered…
    l.verify(&sb).ok();
    // …and now the old one is a rollback, named as such.
    let run = sb
        .custos(&["ledger", "verify", "--data", s(&old), "--vkey", &l.vkey])
        .fails();
    assert_eq!(run.code(), Some(1));
    let run = run.err_has(&["FAILED: checkpoint", "rollback", "remembered"]);
    assert!(!run.out().contains("OK"));
    // Also with only the checkpoint file rolled back.
    let dir = tampered(&sb, &l, "cp-only", |log| {
        std::fs::copy(old.join("log/checkpoint"), log.join("checkpoint"))
            .map(drop)
            .unwrap()
    });
    sb.custos(&["ledger", "verify", "--data", s(&dir), "--vkey", &l.vkey])
        .fails()
        .err_has(&["rollback"]);
    // A failed verification does not lower what is remembered.
    l.verify(&sb).ok();
    sb.custos(&["ledger", "verify", "--data", s(&old), "--vkey", &l.vkey])
        .fails()
        .err_has(&["rollback"]);
    // With --no-remember (or another state dir) the old log passes again:
    // the remembered state is what caught it.
    verify_once(&sb, &old, &l.vkey, &[]).ok();
    let fresh = sb.path("fresh-state");
    sb.custos(&[
        "ledger",
        "verify",
        "--data",
        s(&old),
        "--vkey",
        &l.vkey,
        "--state-dir",
        s(&fresh),
    ])
    .ok();
}

#[test]
fn a_fork_signed_by_the_same_key_is_caught() {
    let sb = Sandbox::new();
    let mut l = sb.init("live", "example.com/fork");
    l.grow_to(&sb, 2000);
    // The operator (holding the key) copies the ledger and rewrites history
    // from entry 2000 on.
    let fork_dir = sb.path("fork");
    copy_dir(&l.dir, &fork_dir);
    l.grow_to(&sb, 2500);
    let cp_2500 = sb.write("cp-2500", &l.checkpoint());
    l.grow_to(&sb, SIZE);
    let cp_3000 = sb.write("cp-3000", &l.checkpoint());
    let fork_lines: Vec<Vec<u8>> = (2000..SIZE)
        .map(|i| format!("forged {i}").into_bytes())
        .collect();
    let file = sb.write("fork.txt", &common::join_lines(&fork_lines));
    sb.custos(&["ledger", "append", "--data", s(&fork_dir), s(&file)])
        .ok();

    // The fork is a well-formed log under the same key…
    verify_once(&sb, &fork_dir, &l.vkey, &[])
        .ok()
        .out_has(&["size 3000"]);
    tlogcheck(&["log", "--dir", s(&fork_dir.join("log")), "--vkey", &l.vkey]).ok();
    // …that contradicts checkpoints of the real one at the same or a smaller size.
    for known in [&cp_3000, &cp_2500] {
        let run = verify_once(&sb, &fork_dir, &l.vkey, &["--known", s(known)]).fails();
        assert_eq!(run.code(), Some(1));
        run.err_has(&["FAILED: checkpoint", "fork"]);
    }
    // And through the remembered state.
    l.verify(&sb).ok();
    sb.custos(&[
        "ledger",
        "verify",
        "--data",
        s(&fork_dir),
        "--vkey",
        &l.vkey,
    ])
    .fails()
    .err_has(&["fork"]);
}
