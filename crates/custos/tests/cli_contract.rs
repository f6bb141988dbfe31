//! The `custos ledger …` command-line contract (ARCHITECTURE.md, "Contracts
//! that outside checks rely on"), checked from outside the process and, where
//! a proof is involved, with the independent verifier
//! `tests/outside/tlogcheck.py`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{
    Batch, Ledger, Sandbox, checkpoint_size, gen_entry, last_line, list_files, s, tlogcheck,
};
use sha2::{Digest, Sha256};

const EMPTY_ROOT: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

fn entry_of(sb: &Sandbox, l: &Ledger, index: u64) -> Vec<u8> {
    sb.custos(&[
        "ledger",
        "entry",
        "--data",
        l.d(),
        "--index",
        &index.to_string(),
    ])
    .ok()
    .stdout
}

/// `entry --index i` prints exactly entry i and a newline, for the first
/// 100 and last 100 entries and every 37th one (the rest are compared by
/// the outside verifier where it matters); the index past the end fails.
#[track_caller]
fn check_all_entries(sb: &Sandbox, l: &Ledger) {
    let n = l.entries.len();
    for (i, want) in l.entries.iter().enumerate() {
        if i >= 100 && i + 100 < n && i % 37 != 0 {
            continue;
        }
        let mut want = want.clone();
        want.push(b'\n');
        let got = entry_of(sb, l, i as u64);
        assert_eq!(
            got,
            want,
            "entry {i}: got {:?}, want {:?}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
    }
    sb.custos(&[
        "ledger",
        "entry",
        "--data",
        l.d(),
        "--index",
        &l.entries.len().to_string(),
    ])
    .fails();
}

#[test]
fn init_prints_the_verifier_key_last_and_creates_an_empty_log() {
    let sb = Sandbox::new();
    let origin = "example.com/custos/contract";
    let dir = sb.path("fresh/ledger"); // parents do not exist yet
    let run = sb
        .custos(&["ledger", "init", "--data", s(&dir), "--origin", origin])
        .ok();
    let vkey = last_line(&run.out());
    assert_eq!(
        run.out().lines().last().map(str::trim),
        Some(vkey.as_str()),
        "the vkey is the very last stdout line"
    );

    // name+hexid+base64(0x01 || ed25519 key), id = SHA-256(name "\n" 0x01 key)[:4].
    // The name holds no '+'; the base64 key may.
    let parts: Vec<&str> = vkey.splitn(3, '+').collect();
    assert_eq!(parts.len(), 3, "vkey {vkey:?} has 3 '+'-separated parts");
    assert_eq!(parts[0], origin, "the key name is the origin");
    assert_eq!(parts[1].len(), 8, "key id {:?} is 8 hex digits", parts[1]);
    let id = u32::from_str_radix(parts[1], 16).expect("key id is hex");
    let key = STANDARD.decode(parts[2]).expect("key is standard base64");
    assert_eq!(key.len(), 33, "0x01 + 32-byte Ed25519 key");
    assert_eq!(key[0], 0x01, "Ed25519 signature type");
    let mut h = Sha256::new();
    h.update(origin.as_bytes());
    h.update(b"\n");
    h.update(&key);
    let digest = h.finalize();
    assert_eq!(
        id,
        u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]),
        "key id is the sumdb/note id"
    );

    assert!(
        dir.join("keys/log.key").is_file(),
        "DIR/keys/log.key exists"
    );
    let cp = std::fs::read(dir.join("log/checkpoint")).unwrap();
    let text = String::from_utf8(cp.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], origin);
    assert_eq!(lines[1], "0");
    assert_eq!(lines[2], EMPTY_ROOT, "size 0 has the empty-tree root");
    assert_eq!(lines[3], "", "blank line before the signatures");
    assert!(
        lines[4].starts_with(&format!("— {origin} ")),
        "signature line {:?}",
        lines[4]
    );
    // Nothing but the checkpoint under log/ (no key, no temporary files).
    assert_eq!(
        list_files(&dir.join("log")).into_iter().collect::<Vec<_>>(),
        vec!["checkpoint".to_owned()]
    );

    let printed = sb.custos(&["ledger", "checkpoint", "--data", s(&dir)]).ok();
    assert_eq!(
        printed.stdout, cp,
        "`ledger checkpoint` prints the published checkpoint byte for byte"
    );

    sb.custos(&["ledger", "verify", "--data", s(&dir), "--vkey", &vkey])
        .ok()
        .out_has(&["OK"]);
    tlogcheck(&["log", "--dir", s(&dir.join("log")), "--vkey", &vkey])
        .ok()
        .out_has(&["OK size=0"]);
}

#[test]
fn init_twice_refuses_and_keeps_the_keys() {
    let sb = Sandbox::new();
    let mut l = sb.init("d", "example.com/twice");
    l.append(&sb, &[b"one".to_vec(), b"two".to_vec()]);
    let key = std::fs::read(l.dir.join("keys/log.key")).unwrap();
    let cp = l.checkpoint();
    let before = list_files(&l.dir);

    for origin in ["example.com/twice", "example.com/other"] {
        let run = sb
            .custos(&["ledger", "init", "--data", l.d(), "--origin", origin])
            .fails();
        assert!(
            !run.out().contains('+'),
            "a refused init prints no verifier key: {}",
            run.out()
        );
        assert_eq!(
            std::fs::read(l.dir.join("keys/log.key")).unwrap(),
            key,
            "signing key untouched"
        );
        assert_eq!(l.checkpoint(), cp, "checkpoint untouched");
        assert_eq!(list_files(&l.dir), before, "no file added or removed");
    }
    l.verify(&sb).ok();
    check_all_entries(&sb, &l);
}

#[test]
fn append_turns_each_line_into_one_entry_exactly() {
    let sb = Sandbox::new();
    let mut l = sb.init("d", "example.com/lines");

    // Empty lines, spaces, tabs, a CR kept (only \n separates), non-UTF-8
    // bytes, and a last line without a newline.
    let file = sb.write("a.txt", b"first\n\nthird line\n\n  padded  \ncrlf\r\ntab\there\n\xc3\xbcn\xc3\xafc\xc3\xb6d\xc3\xa9 \xe2\x9c\x93\n\xff\xfe raw\nlast without newline");
    let want: Vec<Vec<u8>> = vec![
        b"first".to_vec(),
        b"".to_vec(),
        b"third line".to_vec(),
        b"".to_vec(),
        b"  padded  ".to_vec(),
        b"crlf\r".to_vec(),
        b"tab\there".to_vec(),
        "ünïcödé ✓".as_bytes().to_vec(),
        b"\xff\xfe raw".to_vec(),
        b"last without newline".to_vec(),
    ];
    let run = sb
        .custos(&["ledger", "append", "--data", l.d(), s(&file)])
        .ok();
    l.record(&want, &run);

    // A file ending in an empty line, and a file holding one empty line.
    let run = sb
        .custos(&[
            "ledger",
            "append",
            "--data",
            l.d(),
            s(&sb.write("b.txt", b"x\n\n")),
        ])
        .ok();
    l.record(&[b"x".to_vec(), b"".to_vec()], &run);
    let run = sb
        .custos(&[
            "ledger",
            "append",
            "--data",
            l.d(),
            s(&sb.write("c.txt", b"\n")),
        ])
        .ok();
    l.record(&[b"".to_vec()], &run);

    // An empty file appends nothing and publishes no new size.
    let cp = l.checkpoint();
    let run = sb
        .custos(&[
            "ledger",
            "append",
            "--data",
            l.d(),
            s(&sb.write("e.txt", b"")),
        ])
        .ok();
    l.record(&[], &run);
    assert_eq!(checkpoint_size(&l.checkpoint()), checkpoint_size(&cp));

    // Standard input.
    let run = sb
        .custos_stdin(
            &["ledger", "append", "--data", l.d(), "-"],
            b"from stdin 1\n\nfrom stdin 3",
        )
        .ok();
    l.record(
        &[
            b"from stdin 1".to_vec(),
            b"".to_vec(),
            b"from stdin 3".to_vec(),
        ],
        &run,
    );
    let run = sb
        .custos_stdin(&["ledger", "append", "--data", l.d(), "-"], b"")
        .ok();
    l.record(&[], &run);
    let many: Vec<Vec<u8>> = (0..3000).map(gen_entry).collect();
    let run = sb
        .custos_stdin(
            &["ledger", "append", "--data", l.d(), "-"],
            &common::join_lines(&many),
        )
        .ok();
    l.record(&many, &run);

    check_all_entries(&sb, &l);
    l.verify(&sb).ok();

    // The outside verifier reads the same entries from the tiles (it prints
    // them as UTF-8 with replacement, one per line).
    let run = tlogcheck(&["entries", "--dir", s(&l.log_dir()), "--vkey", &l.vkey]).ok();
    let mut want_text = Vec::new();
    for e in &l.entries {
        want_text.extend_from_slice(String::from_utf8_lossy(e).as_bytes());
        want_text.push(b'\n');
    }
    assert!(
        run.stdout == want_text,
        "tlogcheck entries differ from what was appended"
    );
}

/// Proves `index` against the latest checkpoint and queues the outside
/// checks of the bundle: it verifies for the entry (as a file, and as text
/// when it can be an argument) and not for a different entry.
#[track_caller]
fn check_proof(sb: &Sandbox, l: &Ledger, index: u64, batch: &mut Batch) {
    let run = sb
        .custos(&[
            "ledger",
            "prove",
            "--data",
            l.d(),
            "--index",
            &index.to_string(),
        ])
        .ok();
    let bundle = run.stdout;
    let header = format!("c2sp.org/tlog-proof@v1\nindex {index}\n");
    assert!(
        bundle.starts_with(header.as_bytes()),
        "proof of {index} starts with {header:?}"
    );
    assert!(
        bundle.ends_with(&l.checkpoint()),
        "proof of {index} ends with the latest checkpoint"
    );
    let size = l.size();
    let proof = sb.write(&format!("proof-{size}-{index}"), &bundle);
    let entry = &l.entries[index as usize];
    let entry_file = sb.write(&format!("entry-{size}-{index}"), entry);
    let ok = format!("OK index={index} size={size}");
    batch.ok(
        &[
            "proof",
            "--vkey",
            &l.vkey,
            "--proof",
            s(&proof),
            "--entry-file",
            s(&entry_file),
        ],
        &ok,
    );
    if let Ok(text) = std::str::from_utf8(entry) {
        batch.ok(
            &[
                "proof",
                "--vkey",
                &l.vkey,
                "--proof",
                s(&proof),
                "--entry-text",
                text,
            ],
            &ok,
        );
    }
    let mut other = entry.clone();
    other.extend_from_slice(b" (not this one)");
    let other = sb.write(&format!("other-{size}-{index}"), &other);
    batch.fail(
        &[
            "proof",
            "--vkey",
            &l.vkey,
            "--proof",
            s(&proof),
            "--entry-file",
            s(&other),
        ],
        "inclusion",
    );
}

#[test]
fn prove_bundles_verify_with_the_outside_verifier() {
    let sb = Sandbox::new();
    let mut l = sb.init("d", "example.com/prove");
    let mut batch = Batch::new();
    l.grow_to(&sb, 1);
    check_proof(&sb, &l, 0, &mut batch); // a one-entry tree: no hashes
    l.append(&sb, &[b"".to_vec(), b"\xff not utf-8".to_vec()]);
    l.grow_to(&sb, 1000);
    for index in [
        0, 1, 2, 7, 13, 29, 31, 254, 255, 256, 257, 511, 512, 513, 768, 998, 999,
    ] {
        check_proof(&sb, &l, index, &mut batch);
    }
    batch.run();

    // Once through the real command line too.
    let proof = sb.write(
        "proof-cli",
        &sb.custos(&["ledger", "prove", "--data", l.d(), "--index", "13"])
            .ok()
            .stdout,
    );
    let text = String::from_utf8(l.entries[13].clone()).unwrap();
    tlogcheck(&[
        "proof",
        "--vkey",
        &l.vkey,
        "--proof",
        s(&proof),
        "--entry-text",
        &text,
    ])
    .ok()
    .out_has(&["OK index=13 size=1000"]);
}

#[test]
fn consistency_proofs_verify_with_the_outside_verifier() {
    let sb = Sandbox::new();
    let mut l = sb.init("d", "example.com/consistency");
    // (size, saved checkpoint file)
    let mut batch = Batch::new();
    let mut saved = vec![(0u64, sb.write("cp-0", &l.checkpoint()))];
    let sizes = [
        1u64, 2, 3, 4, 7, 8, 255, 256, 257, 511, 512, 513, 1000, 65_536, 65_537, 66_000,
    ];
    for &size in &sizes {
        l.grow_to(&sb, size);
        let new_cp = sb.write(&format!("cp-{size}"), &l.checkpoint());
        saved.push((size, new_cp.clone()));
        for (old, old_cp) in &saved {
            let run = sb
                .custos(&[
                    "ledger",
                    "consistency",
                    "--data",
                    l.d(),
                    "--old",
                    &old.to_string(),
                ])
                .ok();
            let text = run.out();
            for line in text.lines() {
                let h = STANDARD
                    .decode(line)
                    .unwrap_or_else(|e| panic!("--old {old}: line {line:?}: {e}"));
                assert_eq!(h.len(), 32, "--old {old}: {line:?} is a SHA-256 hash");
            }
            if *old == 0 || *old == size {
                assert_eq!(text, "", "--old {old} at size {size}: the proof is empty");
            }
            let proof = sb.write(&format!("cons-{old}-{size}"), &run.stdout);
            batch.ok(
                &[
                    "consistency",
                    "--vkey",
                    &l.vkey,
                    "--old",
                    s(old_cp),
                    "--new",
                    s(&new_cp),
                    "--proof",
                    s(&proof),
                ],
                &format!("OK old={old} new={size}"),
            );
        }
        check_proof(&sb, &l, 0, &mut batch);
        check_proof(&sb, &l, size - 1, &mut batch);
        check_proof(&sb, &l, size / 2, &mut batch);
    }

    // The outside check is not vacuous: a changed hash, or the wrong old
    // checkpoint, is rejected.
    let new_cp = sb.write("cp-final", &l.checkpoint());
    let run = sb
        .custos(&["ledger", "consistency", "--data", l.d(), "--old", "257"])
        .ok();
    let mut hashes: Vec<Vec<u8>> = run
        .out()
        .lines()
        .map(|h| STANDARD.decode(h).unwrap())
        .collect();
    hashes[1][0] ^= 1;
    let bad: String = hashes
        .iter()
        .map(|h| format!("{}\n", STANDARD.encode(h)))
        .collect();
    let bad = sb.write("cons-bad", bad.as_bytes());
    let cp257 = &saved.iter().find(|(n, _)| *n == 257).unwrap().1;
    let cp256 = &saved.iter().find(|(n, _)| *n == 256).unwrap().1;
    batch.fail(
        &[
            "consistency",
            "--vkey",
            &l.vkey,
            "--old",
            s(cp257),
            "--new",
            s(&new_cp),
            "--proof",
            s(&bad),
        ],
        "",
    );
    let good = sb.write("cons-good", &run.stdout);
    batch.fail(
        &[
            "consistency",
            "--vkey",
            &l.vkey,
            "--old",
            s(cp256),
            "--new",
            s(&new_cp),
            "--proof",
            s(&good),
        ],
        "",
    );
    batch.run();

    // Once through the real command line too.
    tlogcheck(&[
        "consistency",
        "--vkey",
        &l.vkey,
        "--old",
        s(cp257),
        "--new",
        s(&new_cp),
        "--proof",
        s(&good),
    ])
    .ok()
    .out_has(&["OK old=257 new=66000"]);
}

#[test]
fn entries_up_to_65535_bytes_are_accepted_and_longer_lines_refused() {
    let sb = Sandbox::new();
    let mut l = sb.init("d", "example.com/limits");
    let max = vec![b'y'; 65_535];
    l.append(&sb, &[b"small".to_vec(), max.clone(), b"after".to_vec()]);
    check_all_entries(&sb, &l);
    let mut batch = Batch::new();
    check_proof(&sb, &l, 1, &mut batch);
    batch.run();

    let cp = l.checkpoint();
    let files = list_files(&l.log_dir());
    let over = vec![b'z'; 65_536];
    // In the middle, and as a last line without a newline.
    let mut mid = b"a\nb\n".to_vec();
    mid.extend_from_slice(&over);
    mid.extend_from_slice(b"\nc\n");
    let mut last = b"a\n".to_vec();
    last.extend_from_slice(&over);
    for (name, data, line) in [("mid.txt", mid, "line 3"), ("last.txt", last, "line 2")] {
        let f = sb.write(name, &data);
        let run = sb
            .custos(&["ledger", "append", "--data", l.d(), s(&f)])
            .fails()
            .err_has(&[line, "65536"]);
        assert!(
            !run.out().contains("appended") || run.out().contains("appended 0"),
            "{}",
            run.out()
        );
        assert_eq!(
            l.checkpoint(),
            cp,
            "{name}: nothing appended, no new checkpoint"
        );
        assert_eq!(list_files(&l.log_dir()), files, "{name}: no tile written");
    }

    // From standard input the oversized line and everything after it are
    // refused, with a non-zero exit naming the line.
    let mut data = b"s1\n".to_vec();
    data.extend_from_slice(&over);
    data.extend_from_slice(b"\ns3\n");
    sb.custos_stdin(&["ledger", "append", "--data", l.d(), "-"], &data)
        .fails()
        .err_has(&["line 2"]);
    let size = l.size();
    assert!(
        size <= 4,
        "nothing from the oversized line on was appended (size {size})"
    );
    if size == 4 {
        assert_eq!(entry_of(&sb, &l, 3), b"s1\n");
    }
    l.verify(&sb).ok();
}

/// ledger/src comment in `append`: "Anything read after an error is not
/// appended; everything before is." From stdin, the lines read before an
/// oversized one in the same batch are dropped instead.
#[test]
fn stdin_append_keeps_the_lines_before_an_oversized_one() {
    let sb = Sandbox::new();
    let l = sb.init("d", "example.com/stdin-limit");
    let mut data = b"s1\ns2\n".to_vec();
    data.extend_from_slice(&[b'z'; 65_536]);
    data.extend_from_slice(b"\ns4\n");
    sb.custos_stdin(&["ledger", "append", "--data", l.d(), "-"], &data)
        .fails()
        .err_has(&["line 3"]);
    assert_eq!(l.size(), 2, "s1 and s2 were read before the oversized line");
}

#[test]
fn bad_input_gives_a_clear_error_and_never_a_panic() {
    let sb = Sandbox::new();
    let mut l = sb.init("d", "example.com/errors");
    l.grow_to(&sb, 300);
    let other = sb.init("other", "example.com/errors"); // same origin, another key
    let renamed = sb.init("renamed", "example.com/renamed");
    let missing = sb.path("no/such/dir");
    let not_ledger = sb.path("not-a-ledger");
    std::fs::create_dir_all(not_ledger.join("log")).unwrap();
    std::fs::write(not_ledger.join("notes.txt"), b"hello\n").unwrap();
    let lines = sb.write("lines.txt", b"a\nb\n");
    let vkey = l.vkey.clone();

    for dir in [&missing, &not_ledger] {
        let d = s(dir);
        let cases: Vec<Vec<&str>> = vec![
            vec!["ledger", "append", "--data", d, s(&lines)],
            vec!["ledger", "prove", "--data", d, "--index", "0"],
            vec!["ledger", "consistency", "--data", d, "--old", "0"],
            vec!["ledger", "verify", "--data", d, "--vkey", &vkey],
            vec!["ledger", "entry", "--data", d, "--index", "0"],
            vec!["ledger", "checkpoint", "--data", d],
        ];
        for args in cases {
            sb.custos(&args).fails().err_has(&[d]);
        }
    }
    assert!(
        !missing.exists(),
        "no command creates a missing data directory"
    );

    // A valid key that did not sign the log: verification fails (exit 1)
    // and names the checkpoint.
    for wrong in [&other.vkey, &renamed.vkey] {
        let run = sb
            .custos(&["ledger", "verify", "--data", l.d(), "--vkey", wrong])
            .fails();
        assert_eq!(run.code(), Some(1));
        assert!(run.err().starts_with("FAILED: checkpoint"), "{}", run.err());
        assert!(!run.out().contains("OK"), "{}", run.out());
    }

    // Keys that are not keys.
    let parts: Vec<&str> = vkey.splitn(3, '+').collect();
    let bad_id = format!("{}+00000000+{}", parts[0], parts[2]);
    let short = format!("{}+{}+{}", parts[0], parts[1], &parts[2][..20]);
    let swapped_name = format!("example.com/else+{}+{}", parts[1], parts[2]);
    let garbage = [
        "garbage",
        "",
        "a+b+c",
        "+++",
        bad_id.as_str(),
        short.as_str(),
        swapped_name.as_str(),
        "/no/such/vkey/file",
    ];
    for g in garbage {
        let run = sb
            .custos(&["ledger", "verify", "--data", l.d(), "--vkey", g])
            .fails();
        assert!(!run.out().contains("OK"), "--vkey {g:?}: {}", run.out());
    }
    // The key may also be given as a file holding it.
    let vkey_file = sb.write("vkey.txt", format!("{vkey}\n").as_bytes());
    sb.custos(&["ledger", "verify", "--data", l.d(), "--vkey", s(&vkey_file)])
        .ok();

    // Beyond the log.
    for index in ["300", "301", "18446744073709551615"] {
        sb.custos(&["ledger", "prove", "--data", l.d(), "--index", index])
            .fails()
            .err_has(&[index]);
        sb.custos(&["ledger", "entry", "--data", l.d(), "--index", index])
            .fails()
            .err_has(&[index]);
    }
    for old in ["301", "18446744073709551615"] {
        sb.custos(&["ledger", "consistency", "--data", l.d(), "--old", old])
            .fails()
            .err_has(&[old]);
    }

    // Usage errors.
    let x = sb.path("x");
    let usage: Vec<Vec<&str>> = vec![
        vec!["ledger", "frobnicate"],
        vec!["frobnicate"],
        vec![],
        vec!["ledger"],
        vec![
            "ledger",
            "prove",
            "--data",
            l.d(),
            "--index",
            "0",
            "--bogus",
        ],
        vec!["ledger", "prove", "--data", l.d()],
        vec!["ledger", "prove", "--data", l.d(), "--index", "abc"],
        vec!["ledger", "prove", "--data", l.d(), "--index", "-1"],
        vec!["ledger", "consistency", "--data", l.d(), "--old", "1e3"],
        vec!["ledger", "verify", "--data", l.d()],
        vec!["ledger", "init", "--data", s(&x)],
        vec!["ledger", "append", "--data", l.d()],
    ];
    for args in usage {
        sb.custos(&args).fails();
    }

    // Origins that cannot be a key name: refused, and nothing is created.
    for (i, origin) in ["", "has space", "has+plus", "tab\there"]
        .into_iter()
        .enumerate()
    {
        let dir = sb.path(&format!("bad-origin-{i}"));
        sb.custos(&["ledger", "init", "--data", s(&dir), "--origin", origin])
            .fails()
            .err_has(&["origin"]);
        assert!(
            !dir.join("keys/log.key").exists(),
            "no key for origin {origin:?}"
        );
    }

    // Input files that cannot be read.
    sb.custos(&[
        "ledger",
        "append",
        "--data",
        l.d(),
        s(&sb.path("no-such-file")),
    ])
    .fails()
    .err_has(&["no-such-file"]);
    sb.custos(&["ledger", "append", "--data", l.d(), s(&sb.path("d"))])
        .fails();

    // None of that changed the log.
    assert_eq!(l.size(), 300);
    l.verify(&sb).ok();
}

#[test]
fn verify_remembers_in_the_configured_state_dir_only() {
    let sb = Sandbox::new();
    let mut l = sb.init("d", "example.com/state");
    l.grow_to(&sb, 10);
    let run = l.verify(&sb).ok();
    assert!(run.out().starts_with("OK: "), "{}", run.out());
    assert!(!run.err().contains("FAILED"), "{}", run.err());

    // CUSTOS_VERIFIER_STATE: one remembered checkpoint, the verified one.
    let state = list_files(&sb.state_dir());
    assert_eq!(state.len(), 1, "{state:?}");
    let remembered = state.iter().next().unwrap();
    assert!(remembered.ends_with(".checkpoint"), "{remembered}");
    assert_eq!(
        std::fs::read(sb.state_dir().join(remembered)).unwrap(),
        l.checkpoint()
    );
    assert!(list_files(&sb.path("home")).is_empty() && list_files(&sb.path("xdg")).is_empty());

    // --no-remember writes nothing; --state-dir wins over the environment.
    l.grow_to(&sb, 20);
    let other = sb.path("explicit");
    sb.custos(&[
        "ledger",
        "verify",
        "--data",
        l.d(),
        "--vkey",
        &l.vkey,
        "--no-remember",
    ])
    .ok();
    assert_ne!(
        std::fs::read(sb.state_dir().join(remembered)).unwrap(),
        l.checkpoint(),
        "--no-remember"
    );
    sb.custos(&[
        "ledger",
        "verify",
        "--data",
        l.d(),
        "--vkey",
        &l.vkey,
        "--state-dir",
        s(&other),
    ])
    .ok();
    assert_eq!(list_files(&other).len(), 1);
    assert_ne!(
        std::fs::read(sb.state_dir().join(remembered)).unwrap(),
        l.checkpoint(),
        "--state-dir"
    );

    // Fallbacks: $XDG_STATE_HOME/custos/verifier, then ~/.local/state/custos/verifier
    // (HOME and XDG_STATE_HOME point into the sandbox).
    let (mut cmd, what) = sb.command(&["ledger", "verify", "--data", l.d(), "--vkey", &l.vkey]);
    cmd.env_remove("CUSTOS_VERIFIER_STATE");
    common::run_command(cmd, what, None).ok();
    let xdg = list_files(&sb.path("xdg"));
    assert_eq!(xdg.len(), 1, "{xdg:?}");
    assert!(
        xdg.iter().next().unwrap().starts_with("custos/verifier/"),
        "{xdg:?}"
    );
    let (mut cmd, what) = sb.command(&["ledger", "verify", "--data", l.d(), "--vkey", &l.vkey]);
    cmd.env_remove("CUSTOS_VERIFIER_STATE")
        .env_remove("XDG_STATE_HOME");
    common::run_command(cmd, what, None).ok();
    let home = list_files(&sb.path("home"));
    assert_eq!(home.len(), 1, "{home:?}");
    assert!(
        home.iter()
            .next()
            .unwrap()
            .starts_with(".local/state/custos/verifier/"),
        "{home:?}"
    );
}

#[test]
fn readers_work_beside_a_writer_and_writers_exclude_each_other() {
    let sb = Sandbox::new();
    let mut l = sb.init("d", "example.com/concurrent");
    l.grow_to(&sb, 10);
    let chunk: Vec<Vec<u8>> = (0..301)
        .map(|i| format!("concurrent {i}").into_bytes())
        .collect();
    let file = sb.write("chunk.txt", &common::join_lines(&chunk));
    let done = std::sync::atomic::AtomicBool::new(false);
    let (rounds, appended) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut appended = 0u64;
            for _ in 0..30 {
                sb.custos(&["ledger", "append", "--data", l.d(), s(&file)])
                    .ok();
                appended += 301;
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            appended
        });
        // Readers take no lock: each command sees some published checkpoint
        // and must succeed against it while tiles are being written and
        // partial tiles removed.
        let mut rounds = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            rounds += 1;
            sb.custos(&[
                "ledger",
                "verify",
                "--data",
                l.d(),
                "--vkey",
                &l.vkey,
                "--no-remember",
            ])
            .ok();
            let cp = sb
                .custos(&["ledger", "checkpoint", "--data", l.d()])
                .ok()
                .stdout;
            let last = (checkpoint_size(&cp) - 1).to_string();
            sb.custos(&["ledger", "prove", "--data", l.d(), "--index", &last])
                .ok();
            sb.custos(&["ledger", "entry", "--data", l.d(), "--index", &last])
                .ok();
            sb.custos(&["ledger", "consistency", "--data", l.d(), "--old", "7"])
                .ok();
        }
        (rounds, writer.join().unwrap())
    });
    assert!(rounds > 0);
    assert_eq!(l.size(), 10 + appended);

    // Two appenders at once: each either appends all its lines or fails
    // cleanly (the writer lock), never a mix, and the log stays valid.
    let size = l.size();
    let big: Vec<Vec<u8>> = (0..150_000)
        .map(|i| format!("racer {i}").into_bytes())
        .collect();
    let big = sb.write("big.txt", &common::join_lines(&big));
    let runs: Vec<common::Run> = std::thread::scope(|scope| {
        let a = scope.spawn(|| sb.custos(&["ledger", "append", "--data", l.d(), s(&big)]));
        let b = scope.spawn(|| sb.custos(&["ledger", "append", "--data", l.d(), s(&big)]));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    let mut ok = 0;
    for run in runs {
        if run.status.success() {
            ok += 1;
        } else {
            run.fails();
        }
    }
    assert!(ok >= 1, "at least one of two concurrent appends succeeds");
    assert_eq!(l.size(), size + ok * 150_000, "whole appends only");
    l.verify(&sb).ok();
}
