//! Logs written by `custos` checked by the independent Python verifier
//! `tests/outside/tlogcheck.py` (written from the C2SP specifications only):
//! every tile, bundle and checkpoint at sizes around tile boundaries, the
//! entries it reads back, the file layout, and the verifier's own self-test.
//!
//! These tests need `python3` (3.11+) with the `cryptography` package and
//! fail, rather than skip, when it is missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Ledger, Sandbox, check_layout, gen_entry, s, tlogcheck};

/// Everything an outside auditor can check at the current size: the strict
/// log check (root and size must match the checkpoint), the entries read
/// back from the bundles, our own verifier, and the layout.
#[track_caller]
fn check_outside(sb: &Sandbox, l: &Ledger, with_entries: bool) {
    let size = l.size();
    assert_eq!(size, l.entries.len() as u64);
    let cp = String::from_utf8(l.checkpoint()).unwrap();
    let root = cp.lines().nth(2).unwrap();
    tlogcheck(&["log", "--dir", s(&l.log_dir()), "--vkey", &l.vkey])
        .ok()
        .out_has(&[&format!("OK size={size} root={root} entries={size}")]);
    if with_entries {
        let run = tlogcheck(&["entries", "--dir", s(&l.log_dir()), "--vkey", &l.vkey]).ok();
        let got: Vec<&[u8]> = run.stdout.split(|&b| b == b'\n').collect();
        // One line per entry, then the empty piece after the last newline.
        assert_eq!(
            got.len(),
            l.entries.len() + 1,
            "size {size}: tlogcheck entries printed {} lines",
            got.len() - 1
        );
        for (i, want) in l.entries.iter().enumerate() {
            let want = String::from_utf8_lossy(want);
            assert!(
                got[i] == want.as_bytes(),
                "size {size}: entry {i} read by tlogcheck is {:?}, appended {want:?}",
                String::from_utf8_lossy(got[i])
            );
        }
        assert!(got[l.entries.len()].is_empty());
    }
    l.verify(sb).ok().out_has(&[&format!("size {size}")]);
    check_layout(l);
}

#[test]
fn the_outside_verifier_passes_its_selftest() {
    tlogcheck(&["selftest"]).ok().out_has(&["OK selftest"]);
}

#[test]
fn logs_across_tile_boundaries_verify_outside() {
    let sb = Sandbox::new();
    let mut l = sb.init("d", "example.com/outside/boundaries");
    check_outside(&sb, &l, true); // size 0

    // (target size, appends to get there): the big sizes are reached in a
    // few appends of generated files, some crossing tile boundaries.
    let plan: &[(u64, &[u64])] = &[
        (1, &[1]),
        (255, &[100, 255]),
        (256, &[256]),
        (257, &[257]),
        (65_535, &[300, 20_000, 40_000, 65_535]),
        (65_536, &[65_536]),
        (70_000, &[65_537, 66_000, 70_000]),
    ];
    for &(size, steps) in plan {
        for &step in steps {
            if step == 300 {
                // A maximal entry, so a bundle holds a 65,535-byte entry.
                let mut lines: Vec<Vec<u8>> =
                    (l.entries.len() as u64..299).map(gen_entry).collect();
                lines.push(vec![b'M'; 65_535]);
                l.append(&sb, &lines);
            } else {
                l.grow_to(&sb, step);
            }
        }
        assert_eq!(l.size(), size);
        check_outside(&sb, &l, true);
    }
}

#[test]
fn tile_indices_past_999_use_x_prefixed_paths() {
    let sb = Sandbox::new();
    let mut l = sb.init("d", "example.com/outside/x-paths");
    for step in [65_536u64, 131_072, 196_608, 255_999] {
        l.grow_to(&sb, step);
    }
    assert!(l.log_dir().join("tile/entries/999.p/255").is_file());
    l.grow_to(&sb, 256_000);
    assert!(l.log_dir().join("tile/entries/999").is_file());
    assert!(l.log_dir().join("tile/1/003.p/232").is_file());
    check_layout(&l);
    l.grow_to(&sb, 256_001);
    for p in [
        "tile/entries/x001/000.p/1",
        "tile/0/x001/000.p/1",
        "tile/1/003.p/232",
        "tile/2/000.p/3",
    ] {
        assert!(l.log_dir().join(p).is_file(), "{p} exists at size 256001");
    }
    // (The entries themselves are compared at the smaller sizes; here the
    // strict log check pins the root to the bundles.)
    check_outside(&sb, &l, false);
    for index in [255_999u64, 256_000] {
        let got = sb
            .custos(&[
                "ledger",
                "entry",
                "--data",
                l.d(),
                "--index",
                &index.to_string(),
            ])
            .ok()
            .stdout;
        assert_eq!(
            got,
            [l.entries[index as usize].as_slice(), b"\n"].concat(),
            "entry {index}"
        );
    }
}
