//! The HTTP contract, driven over real sockets against `server::start`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use server::{AdminActor, Config, CredentialStore, Role, RunningServer};
use tempfile::TempDir;

// ---------------------------------------------------------------------------
// Helpers.

struct TestServer {
    dir: TempDir,
    running: Option<RunningServer>,
    addr: SocketAddr,
    agent: ureq::Agent,
}

fn actor() -> AdminActor {
    AdminActor {
        name: "test".into(),
        host: None,
    }
}

fn new_ledger() -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("custos-server-test-")
        .tempdir()
        .unwrap();
    ledger::init(dir.path(), "test.custos.example/log").unwrap();
    dir
}

fn config(dir: &Path) -> Config {
    let mut c = Config::new(dir);
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.shutdown_timeout = Duration::from_secs(10);
    c.workers = Some(2);
    c
}

impl TestServer {
    fn start() -> TestServer {
        TestServer::start_with(|_| {})
    }

    fn start_with(tune: impl FnOnce(&mut Config)) -> TestServer {
        let dir = new_ledger();
        let mut c = config(dir.path());
        tune(&mut c);
        let running = server::start(c).unwrap();
        TestServer::around(dir, running)
    }

    fn around(dir: TempDir, running: RunningServer) -> TestServer {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        TestServer {
            dir,
            addr: running.local_addr(),
            running: Some(running),
            agent,
        }
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn token(&self, role: Role) -> String {
        CredentialStore::new(self.data())
            .issue(role, Some("test"), &actor(), SystemTime::now())
            .unwrap()
            .token
            .expose()
            .to_owned()
    }

    /// Waits until the server has appended every pending admin action
    /// (credentials issued while it runs), so the ledger size stays put.
    fn settle(&self) {
        let store = CredentialStore::new(self.data());
        eventually("admin actions to be logged", || {
            store.list().unwrap().iter().all(|c| {
                c.issue_logged_at.is_some()
                    && (c.revoked_ms.is_none() || c.revoke_logged_at.is_some())
            })
        });
    }

    fn post(&self, token: Option<&str>, body: &[u8]) -> Resp {
        let mut req = self.agent.post(self.url("/v1/events"));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        Resp::from(req.send(body).unwrap())
    }

    fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let mut req = self.agent.get(self.url(path));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        Resp::from(req.call().unwrap())
    }

    fn shutdown(&mut self) {
        self.running.take().unwrap().shutdown().unwrap();
    }

    /// Entries of the published log (read without the writer lock).
    fn entries(&self) -> Vec<Vec<u8>> {
        let mut r = ledger::LogReader::open(self.data()).unwrap();
        let size = checkpoint_size(&r.checkpoint_bytes().unwrap());
        (0..size).map(|i| r.entry(i, size).unwrap()).collect()
    }

    fn size(&self) -> u64 {
        checkpoint_size(&std::fs::read(self.data().join("log/checkpoint")).unwrap())
    }

    fn metric(&self, token: &str, line_prefix: &str) -> Option<f64> {
        let m = self.get("/metrics", Some(token));
        assert_eq!(m.status, 200);
        m.text()
            .lines()
            .find_map(|l| l.strip_prefix(line_prefix)?.strip_prefix(' ')?.parse().ok())
    }
}

struct Resp {
    status: u16,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn from(mut r: axum::http::Response<ureq::Body>) -> Resp {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap();
        Resp {
            status,
            headers,
            body,
        }
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn checkpoint_size(note: &[u8]) -> u64 {
    String::from_utf8_lossy(note)
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// One valid input event (docs/events.md) with `subjects` subjects.
fn event(id: &str, subjects: usize) -> String {
    let subs: Vec<String> = (0..subjects)
        .map(|i| format!("\"cust-{id}-{i}\""))
        .collect();
    format!(
        r#"{{"id":"{id}","time":{},"actor":{{"id":"emp-0042","kind":"employee"}},"source":{{"ip":"203.0.113.7","country":"KR"}},"service":"customer-service-tool","operation":"GetCustomerAddress","dataset":"customers","categories":["name","address"],"subjects":[{}],"purpose":"support-ticket-4711","decision":"allow"}}"#,
        now_ms(),
        subs.join(",")
    )
}

fn ndjson(events: &[String]) -> Vec<u8> {
    let mut out = events.join("\n").into_bytes();
    out.push(b'\n');
    out
}

fn entry_uid(entry: &[u8]) -> String {
    let v: Value = serde_json::from_slice(entry).unwrap();
    v["metadata"]["uid"].as_str().unwrap_or("").to_owned()
}

/// A raw HTTP/1.1 exchange (`Connection: close` in `head`): status, header
/// text, body.
fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    read_response(&mut s)
}

fn read_response(s: &mut TcpStream) -> (u16, String, Vec<u8>) {
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {:?}", String::from_utf8_lossy(&buf)));
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, buf[split + 4..].to_vec())
}

fn get_raw(addr: SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        b"",
    )
}

/// Polls `f` until it returns true (no fixed sleeps: the condition decides).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// Authentication and roles.

#[test]
fn authentication_and_role_separation() {
    let s = TestServer::start();
    let ingest = s.token(Role::Ingest);
    let admin = s.token(Role::Admin);
    let analyst = s.token(Role::Analyst);
    let auditor = s.token(Role::Auditor);
    let scim = s.token(Role::Scim);
    let body = ndjson(&[event("e1", 1)]);

    // Missing, malformed and unknown credentials: 401 with a challenge.
    for token in [
        None,
        Some("not-a-token"),
        Some("cst_ingest_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    ] {
        let r = s.post(token, &body);
        assert_eq!(r.status, 401, "{token:?}: {}", r.text());
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
        assert_eq!(r.json()["error"], "unauthorized");
        // Refused before its body was read: the connection is not reusable,
        // and the client is told so (its next request must not fail).
        assert_eq!(r.header("connection"), Some("close"));
    }
    // Wrong scheme.
    let r = Resp::from(
        s.agent
            .post(s.url("/v1/events"))
            .header("authorization", format!("Basic {ingest}"))
            .send(&body[..])
            .unwrap(),
    );
    assert_eq!(r.status, 401);
    // The right id with a wrong secret, or a forged role prefix: 401.
    let wrong_secret = format!("{}A", &ingest[..ingest.len() - 1]);
    let wrong_secret = if wrong_secret == ingest {
        format!("{}B", &ingest[..ingest.len() - 1])
    } else {
        wrong_secret
    };
    assert_eq!(s.post(Some(&wrong_secret), &body).status, 401);
    let forged_role = ingest.replacen("cst_ingest_", "cst_admin_", 1);
    assert_eq!(s.post(Some(&forged_role), &body).status, 401);

    // Valid credentials of other roles: 403. Admin does not imply ingest.
    for t in [&admin, &analyst, &auditor, &scim] {
        let r = s.post(Some(t), &body);
        assert_eq!(r.status, 403, "{}", r.text());
        assert_eq!(r.json()["error"], "forbidden");
    }
    let r = s.post(Some(&ingest), &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("connection"), None, "kept alive");

    // /metrics: admin, auditor, analyst; not ingest or scim.
    assert_eq!(s.get("/metrics", None).status, 401);
    for t in [&ingest, &scim] {
        assert_eq!(s.get("/metrics", Some(t)).status, 403);
    }
    for t in [&admin, &auditor, &analyst] {
        assert_eq!(s.get("/metrics", Some(t)).status, 200);
    }
    // Public endpoints.
    assert_eq!(s.get("/healthz", None).status, 200);
    assert_eq!(s.get("/readyz", None).status, 200);
    assert_eq!(s.get("/log/checkpoint", None).status, 200);
    // Errors are JSON and never echo the token.
    let r = s.post(Some(&wrong_secret), &body);
    assert!(!r.text().contains(&wrong_secret));
}

#[test]
fn credentials_issued_and_revoked_while_running() {
    let mut s = TestServer::start();
    let store = CredentialStore::new(s.data());
    let issued = store
        .issue(Role::Ingest, Some("late"), &actor(), SystemTime::now())
        .unwrap();
    let token = issued.token.expose().to_owned();
    let body = ndjson(&[event("late-1", 1)]);
    // Accepted at once, without a restart.
    let r = s.post(Some(&token), &body);
    assert_eq!(r.status, 200, "{}", r.text());

    // The server holds the ledger, so it records the issuance itself.
    eventually("the issuance to be logged", || {
        store.list().unwrap()[0].issue_logged_at.is_some()
    });
    store
        .revoke(&issued.id, &actor(), SystemTime::now())
        .unwrap();
    // Revocation applies to the very next request.
    let r = s.post(Some(&token), &body);
    assert_eq!(r.status, 401, "{}", r.text());
    eventually("the revocation to be logged", || {
        store.list().unwrap()[0].revoke_logged_at.is_some()
    });
    let info = store.list().unwrap();
    s.shutdown();

    // Exactly one entry per admin action, at the recorded indices, with no
    // secret in them.
    let entries = s.entries();
    let admin: Vec<(usize, Value)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (i, serde_json::from_slice::<Value>(e).unwrap()))
        .filter(|(_, v)| v["metadata"]["log_name"] == "custos.admin")
        .collect();
    assert_eq!(admin.len(), 2, "{admin:?}");
    assert_eq!(admin[0].0 as u64, info[0].issue_logged_at.unwrap());
    assert_eq!(admin[1].0 as u64, info[0].revoke_logged_at.unwrap());
    assert_eq!(
        admin[0].1["api"]["operation"],
        "custos.admin.credential.issue"
    );
    assert_eq!(admin[0].1["resources"][0]["uid"], issued.id.as_str());
    assert_eq!(
        admin[1].1["api"]["operation"],
        "custos.admin.credential.revoke"
    );
    let secret = &token[token.len() - 43..];
    assert!(
        entries
            .iter()
            .all(|e| !String::from_utf8_lossy(e).contains(secret))
    );
}

#[test]
fn corrupt_credentials_fail_closed() {
    let s = TestServer::start();
    let ingest = s.token(Role::Ingest);
    let body = ndjson(&[event("c1", 1)]);
    assert_eq!(s.post(Some(&ingest), &body).status, 200);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(s.data().join(server::CREDENTIALS_FILE))
        .unwrap();
    f.write_all(b"{\"op\":\"bogus\"}\n").unwrap();
    drop(f);
    let r = s.post(Some(&ingest), &body);
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(!r.text().contains("credentials.jsonl"), "no paths leak");
}

// ---------------------------------------------------------------------------
// Ingest.

#[test]
fn accepted_indices_match_the_ledger() {
    let s = TestServer::start();
    let ingest = s.token(Role::Ingest);
    let before = s.size();
    // The middle event has enough subjects to need several entries.
    let events = vec![event("a", 2), event("b", 6_000), event("c", 1)];
    let r = s.post(Some(&ingest), &ndjson(&events));
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["accepted"], 3);
    let first = j["first_index"].as_u64().unwrap();
    let count = j["entry_count"].as_u64().unwrap();
    let idx: Vec<u64> = j["event_indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(first >= before);
    assert!(count >= 5, "6,000 subjects span several entries: {j}");
    assert_eq!(idx[0], first);
    assert_eq!(idx[1], first + 1);
    assert_eq!(idx[2], first + count - 1);
    assert!(j["checkpoint_size"].as_u64().unwrap() >= first + count);

    // A JSON array works the same way.
    let arr = format!("[{},{}]", event("d", 1), event("e", 1));
    let r2 = s.post(Some(&ingest), arr.as_bytes());
    assert_eq!(r2.status, 200, "{}", r2.text());
    let j2 = r2.json();

    let entries = s.entries();
    for (k, id) in ["a", "b", "c"].iter().enumerate() {
        assert_eq!(entry_uid(&entries[idx[k] as usize]), *id);
    }
    for i in idx[1]..idx[2] {
        assert_eq!(entry_uid(&entries[i as usize]), "b", "entry {i}");
    }
    let d = j2["event_indices"][0].as_u64().unwrap() as usize;
    assert_eq!(entry_uid(&entries[d]), "d");
    assert_eq!(entry_uid(&entries[d + 1]), "e");
    // Subjects are pseudonymised.
    assert!(
        entries
            .iter()
            .all(|e| !String::from_utf8_lossy(e).contains("cust-"))
    );
}

#[test]
fn a_bad_event_refuses_the_whole_batch() {
    let s = TestServer::start();
    let ingest = s.token(Role::Ingest);
    assert_eq!(s.post(Some(&ingest), &ndjson(&[event("x", 1)])).status, 200);
    s.settle();
    let size = s.size();
    let mut events = vec![event("ok0", 1), event("ok1", 1), event("ok2", 1)];
    events.push(event("bad", 1).replace("\"employee\"", "\"janitor\""));
    events.push(event("bad2", 1).replace("\"203.0.113.7\"", "\"999.1.1.1\""));
    let r = s.post(Some(&ingest), &ndjson(&events));
    assert_eq!(r.status, 400, "{}", r.text());
    let j = r.json();
    assert_eq!(j["error"], "invalid_events");
    assert_eq!(j["error_count"], 2);
    assert_eq!(j["truncated"], false);
    assert_eq!(j["errors"][0]["event"], 3);
    assert_eq!(j["errors"][0]["path"], "$[3].actor.kind");
    assert!(
        j["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("employee")
    );
    assert_eq!(j["errors"][1]["path"], "$[4].source.ip");
    assert_eq!(s.size(), size, "nothing of a refused batch is recorded");

    // Not JSON at all, and an empty body.
    let r = s.post(Some(&ingest), b"[1,2");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["path"], "$");
    assert_eq!(s.post(Some(&ingest), b"").status, 400);
    assert_eq!(s.size(), size);
}

#[test]
fn error_list_is_capped() {
    let s = TestServer::start();
    let ingest = s.token(Role::Ingest);
    let bad: Vec<String> = (0..1_500)
        .map(|i| event(&format!("b{i}"), 1).replace("\"allow\"", "\"maybe\""))
        .collect();
    let r = s.post(Some(&ingest), &ndjson(&bad));
    assert_eq!(r.status, 400);
    let j = r.json();
    assert_eq!(j["error_count"], 1_500);
    assert_eq!(j["truncated"], true);
    assert_eq!(j["errors"].as_array().unwrap().len(), 1_000);
}

#[test]
fn event_age_limit_and_injected_clock() {
    // 2025 events against today's clock: refused by the default 7-day limit…
    let docs_event = br#"{"id":"evt-0001","time":"2025-06-01T03:04:05.123Z","activity":"read","actor":{"id":"emp-0042","kind":"employee"},"credential":{"jti":"tok-9f2c","kid":"cs-2024-01","issuer":"https://auth.example.com"},"source":{"ip":"203.0.113.7","country":"KR"},"service":"customer-service-tool","operation":"GetCustomerAddress","dataset":"customers","categories":["name","address","entrance_code"],"subjects":["cust-1001","cust-1002"],"purpose":"support-ticket-4711","decision":"allow"}"#;
    let s = TestServer::start();
    let t = s.token(Role::Ingest);
    let r = s.post(Some(&t), docs_event);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["errors"][0]["path"], "$[0].time");
    drop(s);
    // …accepted with max_event_age unlimited…
    let s = TestServer::start_with(|c| c.max_event_age = None);
    let t = s.token(Role::Ingest);
    assert_eq!(s.post(Some(&t), docs_event).status, 200);
    drop(s);
    // …and with a clock set to the event's day.
    let dir = new_ledger();
    let mut opts = server::StartOptions::default();
    opts.clock = Arc::new(|| SystemTime::UNIX_EPOCH + Duration::from_millis(1_748_747_100_000));
    let running = server::start_with(config(dir.path()), opts).unwrap();
    let s = TestServer::around(dir, running);
    let t = s.token(Role::Ingest);
    assert_eq!(s.post(Some(&t), docs_event).status, 200);
}

#[test]
fn body_limit_is_enforced_while_reading() {
    let s = TestServer::start_with(|c| c.max_body_bytes = 2048);
    let ingest = s.token(Role::Ingest);
    let auth = format!("Authorization: Bearer {ingest}\r\n");

    // A declared length over the limit: 413 without reading the body.
    let (status, head, body) = raw(
        s.addr,
        &format!(
            "POST /v1/events HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 2049\r\nConnection: close\r\n\r\n"
        ),
        b"",
    );
    assert_eq!(status, 413, "{head}");
    let j: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(j["error"], "payload_too_large");
    assert_eq!(j["max_body_bytes"], 2048);

    // Chunked, no length: stopped as soon as the limit is passed.
    let chunk = vec![b' '; 2049];
    let mut head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n",
        chunk.len()
    )
    .into_bytes();
    head.extend_from_slice(&chunk);
    head.extend_from_slice(b"\r\n");
    let mut sock = TcpStream::connect(s.addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    sock.write_all(&head).unwrap();
    let (status, _, _) = read_response(&mut sock);
    assert_eq!(status, 413);

    // Exactly at the limit is read (and then judged on its content).
    let mut at_limit = ndjson(&[event("lim", 1)]);
    at_limit.resize(2048, b'\n');
    let r = s.post(Some(&ingest), &at_limit);
    assert_eq!(r.status, 200, "{}", r.text());
    let mut over = at_limit.clone();
    over.push(b'\n');
    let (status, _, _) = raw(
        s.addr,
        &format!(
            "POST /v1/events HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
            over.len()
        ),
        b"",
    );
    assert_eq!(status, 413);

    // Compressed bodies are refused, not misread.
    let r = Resp::from(
        s.agent
            .post(s.url("/v1/events"))
            .header("authorization", format!("Bearer {ingest}"))
            .header("content-encoding", "gzip")
            .send(&at_limit[..])
            .unwrap(),
    );
    assert_eq!(r.status, 415);

    let auditor = s.token(Role::Auditor);
    assert_eq!(
        s.metric(
            &auditor,
            "custos_ingest_batches_total{result=\"too_large\"}"
        ),
        Some(3.0)
    );
}

#[test]
fn inflight_budget_gives_429_and_recovers() {
    let s = TestServer::start_with(|c| {
        c.max_inflight_events = 10;
        c.max_batch_events = 10;
    });
    let ingest = s.token(Role::Ingest);
    let auditor = s.token(Role::Auditor);

    // Request A declares a body that may hold 10 events, and holds the
    // whole budget while it is being sent.
    let mut body_a = ndjson(&[event("a1", 1), event("a2", 1)]);
    body_a.resize(body_a.len().max(1400), b'\n');
    let mut a = TcpStream::connect(s.addr).unwrap();
    a.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    a.write_all(
        format!(
            "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ingest}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body_a.len()
        )
        .as_bytes(),
    )
    .unwrap();
    eventually("request A to hold the budget", || {
        s.metric(&auditor, "custos_ingest_inflight_events") == Some(10.0)
    });

    // B is refused at once, never queued.
    let r = s.post(Some(&ingest), &ndjson(&[event("b", 1)]));
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["error"], "too_many_requests");

    // A completes; then B goes through.
    a.write_all(&body_a).unwrap();
    let (status, _, body) = read_response(&mut a);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let r = s.post(Some(&ingest), &ndjson(&[event("b", 1)]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        s.metric(&auditor, "custos_ingest_inflight_events"),
        Some(0.0)
    );
    assert_eq!(
        s.metric(
            &auditor,
            "custos_ingest_batches_total{result=\"throttled\"}"
        ),
        Some(1.0)
    );
}

// ---------------------------------------------------------------------------
// The log.

fn files_under(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            } else {
                let rel: PathBuf = p.strip_prefix(base).unwrap().into();
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn log_files_are_served_byte_for_byte_and_nothing_else() {
    let s = TestServer::start();
    let ingest = s.token(Role::Ingest);
    let events: Vec<String> = (0..300).map(|i| event(&format!("l{i}"), 1)).collect();
    assert_eq!(s.post(Some(&ingest), &ndjson(&events)).status, 200);
    s.settle();

    let log = s.data().join("log");
    let cp = s.get("/log/checkpoint", None);
    assert_eq!(cp.status, 200);
    assert_eq!(cp.body, std::fs::read(log.join("checkpoint")).unwrap());
    assert_eq!(cp.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(cp.header("cache-control"), Some("no-store"));

    let mut served = 0;
    for rel in files_under(&log) {
        if rel == "checkpoint" {
            continue;
        }
        let on_disk = std::fs::read(log.join(&rel));
        let r = s.get(&format!("/log/{rel}"), None);
        match (r.status, on_disk) {
            (200, Ok(bytes)) => {
                assert_eq!(r.body, bytes, "{rel}");
                assert_eq!(r.header("content-type"), Some("application/octet-stream"));
                assert!(r.header("cache-control").unwrap().contains("immutable"));
                served += 1;
            }
            // A superseded partial tile removed meanwhile.
            (404, _) => assert!(rel.contains(".p/") && !log.join(&rel).exists(), "{rel}"),
            (st, _) => panic!("{rel}: {st}"),
        }
    }
    assert!(served >= 3, "tiles served: {served}");
    assert!(s.get("/log/tile/0/000", None).status == 200);
    assert!(s.get("/log/tile/entries/000", None).status == 200);
    // HEAD works too.
    let head = Resp::from(s.agent.head(s.url("/log/checkpoint")).call().unwrap());
    assert_eq!(head.status, 200);

    // Anything that is not a canonical tlog-tiles path is 404, whatever the
    // file system holds.
    std::fs::write(log.join("stray"), b"stray").unwrap();
    for path in [
        "/log/../keys/log.key",
        "/log/tile/../../keys/log.key",
        "/log/tile/0/../../../keys/log.key",
        "/log/%2e%2e/keys/log.key",
        "/log/tile/%2e%2e/%2e%2e/keys/log.key",
        "/log/..%2fkeys%2flog.key",
        "/log//etc/passwd",
        "/log/keys/log.key",
        "/log/stray",
        "/log/",
        "/log",
        "/log/tile/0/0",
        "/log/tile/0/000.p/0",
        "/log/tile/0/000.p/256",
        "/log/tile/00/000",
        "/log/tile/0/x000/000",
        "/log/tile/64/000",
        "/log/tile/entries/000/",
        "/keys/log.key",
        "/log/checkpoint/",
        "/log/checkpoint.tmp",
    ] {
        let (status, head, body) = get_raw(s.addr, path);
        assert!(status == 404 || status == 400, "{path}: {status}\n{head}");
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("PRIVATE") && !text.contains("stray"),
            "{path}: {text}"
        );
    }
    // Tiles beyond the published checkpoint are not served.
    assert_eq!(s.get("/log/tile/0/001.p/255", None).status, 404);
    assert_eq!(s.get("/log/tile/0/005", None).status, 404);
}

// ---------------------------------------------------------------------------
// Health and metrics.

#[test]
fn health_readiness_and_json_errors() {
    let s = TestServer::start();
    let h = s.get("/healthz", None);
    assert_eq!((h.status, h.json()["status"].clone()), (200, "ok".into()));
    let r = s.get("/readyz", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ready");
    let nf = s.get("/nope", None);
    assert_eq!(nf.status, 404);
    assert_eq!(nf.json()["error"], "not_found");
    let m = Resp::from(s.agent.get(s.url("/v1/events")).call().unwrap());
    assert_eq!(m.status, 405);
    assert_eq!(m.json()["error"], "method_not_allowed");
}

#[test]
fn metrics_exposition() {
    let s = TestServer::start();
    let ingest = s.token(Role::Ingest);
    let admin = s.token(Role::Admin);
    let r = s.post(
        Some(&ingest),
        &ndjson(&[event("m1", 1), event("m2", 4_000)]),
    );
    assert_eq!(r.status, 200);
    let entries = r.json()["entry_count"].as_u64().unwrap();
    assert_eq!(s.post(Some(&ingest), b"{").status, 400);
    assert_eq!(s.post(None, b"{").status, 401);
    s.settle();

    let m = s.get("/metrics", Some(&admin));
    assert_eq!(
        m.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = m.text();
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
    };
    assert_eq!(value("custos_ingest_events_total"), 2.0);
    assert_eq!(value("custos_ingest_entries_total"), entries as f64);
    assert_eq!(
        value("custos_ingest_batches_total{result=\"accepted\"}"),
        1.0
    );
    assert_eq!(
        value("custos_ingest_batches_total{result=\"invalid\"}"),
        1.0
    );
    assert_eq!(value("custos_ingest_inflight_events"), 0.0);
    assert_eq!(value("custos_ledger_size"), s.size() as f64);
    assert!(value("custos_ledger_queued_bytes") >= 0.0);
    assert_eq!(value("custos_append_latency_seconds_count"), 1.0);
    assert_eq!(
        value("custos_append_latency_seconds_bucket{le=\"+Inf\"}"),
        1.0
    );
    assert!(value("custos_append_latency_seconds_bucket{le=\"10\"}") == 1.0);
    assert!(value("custos_append_latency_seconds_sum") > 0.0);
    assert!(value("custos_process_resident_memory_bytes") > 1_000_000.0);
    assert_eq!(
        value("custos_http_requests_total{route=\"/v1/events\",code=\"200\"}"),
        1.0
    );
    assert_eq!(
        value("custos_http_requests_total{route=\"/v1/events\",code=\"401\"}"),
        1.0
    );

    // Well-formed exposition: every sample belongs to a declared family,
    // and every family is declared once with HELP and TYPE.
    let mut declared = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap();
            assert!(declared.insert(name.to_owned()), "{name} declared twice");
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "{name} has no HELP"
            );
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, v) = line.rsplit_once(' ').unwrap();
        v.parse::<f64>().unwrap();
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suf| name.strip_suffix(suf))
            .filter(|f| declared.contains(*f))
            .unwrap_or(name);
        assert!(declared.contains(family), "undeclared sample {line}");
    }
}

// ---------------------------------------------------------------------------
// Start-up and shutdown.

#[test]
fn start_up_errors_are_clear() {
    let empty = tempfile::tempdir().unwrap();
    let e = server::start(config(empty.path())).unwrap_err().to_string();
    assert!(
        e.contains("no ledger") && e.contains("custos ledger init"),
        "{e}"
    );

    let s = TestServer::start();
    let e = server::start(config(s.data())).unwrap_err().to_string();
    assert!(e.contains("in use"), "a second server on one ledger: {e}");

    let dir = new_ledger();
    let mut c = config(dir.path());
    c.listen = s.addr;
    let e = server::start(c).unwrap_err().to_string();
    assert!(e.contains(&s.addr.to_string()), "{e}");
}

#[test]
fn shutdown_finishes_in_flight_requests() {
    let mut s = TestServer::start();
    let ingest = s.token(Role::Ingest);
    let body = ndjson(&[event("inflight-1", 1), event("inflight-2", 1)]);
    let (first, rest) = body.split_at(body.len() / 2);
    let mut a = TcpStream::connect(s.addr).unwrap();
    a.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    a.write_all(
        format!(
            "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ingest}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    a.write_all(first).unwrap();
    // Make sure the server is reading A before shutting down.
    let auditor = s.token(Role::Auditor);
    eventually("request A to be in flight", || {
        s.metric(&auditor, "custos_ingest_inflight_events")
            .is_some_and(|v| v > 0.0)
    });
    let running = s.running.take().unwrap();
    let stopper = std::thread::spawn(move || running.shutdown());
    // The listener closes first…
    eventually("the listener to close", || {
        TcpStream::connect(s.addr).is_err()
    });
    // …while A is still served to the end.
    a.write_all(rest).unwrap();
    let mut buf = Vec::new();
    let _ = a.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    stopper.join().unwrap().unwrap();
    let j: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let i = j["first_index"].as_u64().unwrap() as usize;
    let entries = s.entries();
    assert_eq!(entry_uid(&entries[i]), "inflight-1");
    assert_eq!(entry_uid(&entries[i + 1]), "inflight-2");
    // The writer lock is released: the ledger opens again.
    ledger::Ledger::open(s.data(), ledger::LedgerOptions::default())
        .unwrap()
        .close()
        .unwrap();
}

#[test]
fn shutdown_under_load_loses_no_acknowledged_event() {
    let mut s = TestServer::start();
    let ingest = s.token(Role::Ingest);
    let url = s.url("/v1/events");
    let (tx, rx) = std::sync::mpsc::channel::<(u64, Vec<String>)>();
    let mut workers = Vec::new();
    for w in 0..6 {
        let (url, token, tx) = (url.clone(), ingest.clone(), tx.clone());
        workers.push(std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .into();
            for b in 0..1_000 {
                let ids: Vec<String> = (0..20).map(|e| format!("w{w}-b{b}-e{e}")).collect();
                let body = ndjson(&ids.iter().map(|id| event(id, 1)).collect::<Vec<_>>());
                let Ok(resp) = agent
                    .post(&url)
                    .header("authorization", format!("Bearer {token}"))
                    .send(&body[..])
                else {
                    return; // listener closed
                };
                let r = Resp::from(resp);
                match r.status {
                    200 => {
                        let first = r.json()["first_index"].as_u64().unwrap();
                        if tx.send((first, ids)).is_err() {
                            return;
                        }
                    }
                    503 => return,
                    other => panic!("unexpected {other}: {}", r.text()),
                }
            }
        }));
    }
    drop(tx);
    // Shut down once batches are flowing.
    let mut acked = Vec::new();
    while acked.len() < 10 {
        acked.push(rx.recv_timeout(Duration::from_secs(20)).unwrap());
    }
    s.shutdown();
    for w in workers {
        w.join().unwrap();
    }
    acked.extend(rx.iter());

    let entries = s.entries();
    for (first, ids) in &acked {
        for (k, id) in ids.iter().enumerate() {
            let i = *first as usize + k;
            assert!(i < entries.len(), "acknowledged entry {i} is missing");
            assert_eq!(entry_uid(&entries[i]), *id);
        }
    }
    // And the log verifies end to end with only its public key.
    let vkey = std::fs::read_to_string(s.data().join("keys/log.vkey")).unwrap();
    let verifier = tlog::Verifier::parse(vkey.trim()).unwrap();
    ledger::verify_log(&s.data().join("log"), &verifier, &[], |_, _| {}).unwrap();
}
