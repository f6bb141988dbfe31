//! Outside check: tokens we issue and the JWKS we publish, verified by
//! `tests/outside/jwtcheck.py` (Python `cryptography`, written from RFC
//! 7515/7517/7519/7638/8037 only).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::Command;

use common::{ISSUER, T0, req, setup};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/outside/jwtcheck.py"
);

fn jwtcheck(args: &[&str]) -> (bool, String) {
    let out = Command::new("python3")
        .arg(SCRIPT)
        .args(args)
        .output()
        .expect("python3 runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn python_selftest_with_rfc8037_vectors() {
    let (ok, out) = jwtcheck(&["selftest"]);
    assert!(ok, "{out}");
}

#[test]
fn python_verifies_our_tokens_with_our_jwks() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let mut tokens = Vec::new();
    for (i, sub) in ["alice", "bob", "carol"].iter().enumerate() {
        let mut r = req(sub);
        r.aud = if i == 1 {
            vec!["a".into(), "b".into()]
        } else {
            vec!["https://shop.example".into()]
        };
        r.scope = (i != 2).then(|| "x y".into());
        tokens.push(s.authority.issue(&r, &s.people).unwrap());
    }
    // One token from a key in overlap, published alongside the current one.
    s.authority.rotate_now().unwrap();
    tokens.push(s.authority.issue(&req("alice"), &s.people).unwrap());
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, s.authority.jwks().to_json()).unwrap();
    let list = dir.path().join("tokens");
    let text: Vec<&str> = tokens.iter().map(|t| t.token.as_str()).collect();
    std::fs::write(&list, text.join("\n")).unwrap();
    let now = (T0 + 10).to_string();
    let args = [
        "verify",
        "--jwks",
        jwks.to_str().unwrap(),
        "--tokens",
        list.to_str().unwrap(),
        "--now",
        &now,
        "--issuer",
        ISSUER,
    ];
    let (ok, out) = jwtcheck(&args);
    assert!(ok, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("OK ")).count(),
        4,
        "{out}"
    );
    for t in &tokens {
        assert!(out.contains(&format!("OK {}", t.record.jti)));
    }

    // After the old key is retired it is no longer published: the outside
    // verifier refuses its tokens too; a tampered token fails everywhere.
    let old = tokens[0].record.kid.clone();
    s.authority.retire_now(&old).unwrap();
    std::fs::write(&jwks, s.authority.jwks().to_json()).unwrap();
    let mut tampered = tokens[3].token.clone();
    tampered.push('A');
    std::fs::write(
        &list,
        format!("{}\n{}\n{}", tokens[0].token, tokens[3].token, tampered),
    )
    .unwrap();
    let (ok, out) = jwtcheck(&args);
    assert!(!ok, "{out}");
    assert!(out.contains("FAIL 1: kid not in JWKS"), "{out}");
    assert!(
        out.contains(&format!("OK {}", tokens[3].record.jti)),
        "{out}"
    );
    assert!(out.contains("FAIL 3"), "{out}");
}
