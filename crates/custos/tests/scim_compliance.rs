//! Outside SCIM 2.0 compliance tools against a real `custos serve`:
//! `tests/outside/scim-compliance` runs scim2-tester and scim-sanity (pinned
//! in `tests/outside/scim-requirements.txt`, installed into their own
//! virtualenv on first use, which needs PyPI) against `/scim/v2` with a
//! role-`scim` credential, and fails on any failure that is not in its skip
//! list (each skip carries the RFC 7643/7644 section that refutes the check).
//! See docs/scim.md, "Outside compliance tools".
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{Sandbox, last_line, s};

/// A running `custos serve`, killed on drop.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `custos serve` on a free loopback port; its base URL.
fn serve(sb: &Sandbox, data: &str) -> Served {
    let (mut cmd, what) = sb.command(&["serve", "--data", data, "--listen", "127.0.0.1:0"]);
    let log = std::fs::File::create(sb.path("serve.log")).unwrap();
    cmd.stdout(Stdio::piped()).stderr(log);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let out = child.stdout.take().unwrap();
    let mut url = None;
    for line in BufReader::new(out).lines() {
        let line = line.unwrap();
        if let Some(u) = line.split("listening on ").nth(1) {
            url = Some(u.trim().to_owned());
            break;
        }
    }
    Served {
        url: url.unwrap_or_else(|| panic!("{what} never said where it listens")),
        child,
    }
}

#[test]
fn outside_scim_compliance_tools_find_nothing_unexpected() {
    let sb = Sandbox::new();
    let ledger = sb.init("d", "scim-compliance.test/log");
    let run = sb
        .custos(&[
            "admin",
            "token",
            "--data",
            ledger.d(),
            "--role",
            "scim",
            "--name",
            "compliance",
        ])
        .ok();
    let token = sb.write("scim.token", last_line(&run.out()).as_bytes());
    let size_before = ledger.size();
    let server = serve(&sb, ledger.d());

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/outside/scim-compliance");
    let base = format!("{}/scim/v2", server.url);
    let out = Command::new(&script)
        .args(["--url", &base, "--token-file", s(&token)])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let server_log = std::fs::read_to_string(sb.path("serve.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "SCIM compliance tools found unexpected failures ({}):\n{stdout}\n{stderr}\n\
         --- custos serve log (tail) ---\n{}",
        out.status,
        &server_log[server_log.len().saturating_sub(4000)..]
    );

    // Not a vacuous pass: both tools ran checks and they passed.
    let summary: serde_json::Value = serde_json::from_str(&last_line(&stdout))
        .unwrap_or_else(|e| panic!("no JSON summary ({e}):\n{stdout}"));
    for tool in ["scim2-tester", "scim-sanity"] {
        let passed = summary[tool]["passed"].as_u64().unwrap_or(0);
        assert!(
            passed >= 20,
            "{tool} passed only {passed} checks: {summary}"
        );
    }
    assert_eq!(summary["unexpected_failures"], 0, "{summary}");

    // The tools' creates, updates and deletes went through the ledger.
    drop(server);
    assert!(
        ledger.size() > size_before + 20,
        "SCIM writes left only {} ledger entries",
        ledger.size() - size_before
    );
}
