//! SCIM 2.0 at `/scim/v2`, driven over real sockets against `server::start`:
//! auth, headers, the lifecycle ledger entries, persistence.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use server::{AdminActor, Config, CredentialStore, Role, RunningServer};
use tempfile::TempDir;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const SCIM_JSON: &str = "application/scim+json";

struct Scim {
    dir: TempDir,
    running: Option<RunningServer>,
    base: String,
    agent: ureq::Agent,
    token: String,
}

fn issue(dir: &Path, role: Role) -> String {
    let actor = AdminActor {
        name: "test".into(),
        host: None,
    };
    CredentialStore::new(dir)
        .issue(
            role,
            Some(&format!("{role}-client")),
            &actor,
            SystemTime::now(),
        )
        .unwrap()
        .token
        .expose()
        .to_owned()
}

fn start(dir: &Path) -> RunningServer {
    let mut c = Config::new(dir);
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.shutdown_timeout = Duration::from_secs(10);
    c.workers = Some(2);
    server::start(c).unwrap()
}

impl Scim {
    fn new() -> Scim {
        let dir = tempfile::Builder::new()
            .prefix("custos-scim-test-")
            .tempdir()
            .unwrap();
        ledger::init(dir.path(), "scim.test.custos.example/log").unwrap();
        let token = issue(dir.path(), Role::Scim);
        let running = start(dir.path());
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Scim {
            base: format!("{}/scim/v2", running.url()),
            running: Some(running),
            dir,
            agent,
            token,
        }
    }

    fn restart(&mut self) {
        self.running.take().unwrap().shutdown().unwrap();
        let running = start(self.dir.path());
        self.base = format!("{}/scim/v2", running.url());
        self.running = Some(running);
    }

    fn req(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Resp {
        let mut b = axum::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let r = match body {
            Some(body) => self.agent.run(b.body(body.to_vec()).unwrap()),
            None => self.agent.run(b.body(()).unwrap()),
        };
        Resp::from(r.unwrap())
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let body = body.map(|b| serde_json::to_vec(&b).unwrap());
        let ct: &[(&str, &str)] = if body.is_some() {
            &[("content-type", SCIM_JSON)]
        } else {
            &[]
        };
        self.req(method, path, Some(&self.token), ct, body.as_deref())
    }

    /// The ledger's `custos.scim` entries, once `n` of them are published.
    fn scim_entries(&self, n: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let mut r = ledger::LogReader::open(self.dir.path()).unwrap();
            let note = String::from_utf8(r.checkpoint_bytes().unwrap()).unwrap();
            let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
            let found: Vec<Value> = (0..size)
                .filter_map(|i| serde_json::from_slice::<Value>(&r.entry(i, size).unwrap()).ok())
                .filter(|v| v["metadata"]["log_name"] == "custos.scim")
                .collect();
            if found.len() >= n {
                return found;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "expected {n} SCIM ledger entries, found {}",
                found.len()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

struct Resp {
    status: u16,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn from(mut r: axum::http::Response<ureq::Body>) -> Resp {
        Resp {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.body_mut().read_to_vec().unwrap(),
        }
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn assert_scim_error(&self, status: u16) {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("content-type"), Some(SCIM_JSON));
        let b = self.json();
        assert_eq!(b["schemas"], json!([ERROR]));
        assert_eq!(b["status"], status.to_string());
    }
}

/// A raw HTTP/1.1 exchange (`Connection: close` in `head`): status and
/// JSON body. The server may answer (and close) before reading all of
/// `body`, so a failed write is not an error.
fn raw(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {:?}", String::from_utf8_lossy(&buf)));
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/scim+json"),
        "{head}"
    );
    (status, serde_json::from_slice(&buf[split + 4..]).unwrap())
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn new_user(name: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": name,
        "active": true,
        "emails": [{"value": name, "type": "work", "primary": true}],
    })
}

/// Runs the official OCSF 1.3.0 schema check (tests/outside) over entries.
fn ocsf_valid(entries: &[Value]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scim.ndjson");
    let text: String = entries.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let outside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/outside");
    let out = std::process::Command::new(outside.join("ocsf-validate"))
        .args(["--ocsf-version", "1.3.0"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "SCIM ledger entries are not valid OCSF 1.3.0:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn user_lifecycle_is_served_and_recorded_in_the_ledger() {
    let s = Scim::new();

    // Create: 201, Location, ETag, SCIM media type.
    let created = s.call("POST", "/Users", Some(new_user("bjensen@example.com")));
    assert_eq!(created.status, 201);
    assert_eq!(created.header("content-type"), Some(SCIM_JSON));
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let location = created.header("location").unwrap();
    assert_eq!(location, format!("{}/Users/{id}", s.base));
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    // A plain application/json request is accepted too; 409 on a duplicate.
    let dup = s.req(
        "POST",
        "/Users",
        Some(&s.token),
        &[("content-type", "application/json")],
        Some(new_user("BJensen@example.com").to_string().as_bytes()),
    );
    dup.assert_scim_error(409);

    // GET: ETag; If-None-Match with it: 304.
    let got = s.call("GET", &format!("/Users/{id}"), None);
    assert_eq!(got.status, 200);
    let etag = got.header("etag").unwrap().to_owned();
    let not_modified = s.req(
        "GET",
        &format!("/Users/{id}"),
        Some(&s.token),
        &[("if-none-match", &etag)],
        None,
    );
    assert_eq!(not_modified.status, 304);

    // Filter.
    let filter = enc(r#"userName eq "BJENSEN@example.com""#);
    let found = s.call("GET", &format!("/Users?filter={filter}&count=10"), None);
    assert_eq!(found.status, 200, "{}", found.json());
    assert_eq!(found.json()["totalResults"], 1);
    assert_eq!(found.json()["Resources"][0]["id"], id.as_str());
    let none = s.call(
        "GET",
        &format!("/Users?filter={}", enc(r#"userName eq "nobody""#)),
        None,
    );
    assert_eq!(none.json()["totalResults"], 0);
    s.call(
        "GET",
        &format!("/Users?filter={}", enc("userName zz 1")),
        None,
    )
    .assert_scim_error(400);

    // Okta's deactivation; a stale If-Match first: 412, no change.
    let deactivate = json!({
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "value": {"active": false}}],
    });
    let stale = s.req(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&s.token),
        &[("content-type", SCIM_JSON), ("if-match", "W/\"7\"")],
        Some(deactivate.to_string().as_bytes()),
    );
    stale.assert_scim_error(412);
    let patched = s.req(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&s.token),
        &[("content-type", SCIM_JSON), ("if-match", &etag)],
        Some(deactivate.to_string().as_bytes()),
    );
    assert_eq!(patched.status, 200);
    assert_eq!(patched.json()["active"], false);
    assert_eq!(patched.header("etag"), Some("W/\"2\""));
    assert_eq!(
        s.call("GET", &format!("/Users/{id}"), None).json()["active"],
        false
    );

    let entries = s.scim_entries(2);
    assert_eq!(entries.len(), 2, "one entry per change: {entries:#?}");
    let create = &entries[0];
    assert_eq!(create["api"]["operation"], "custos.scim.user.create");
    assert_eq!(create["class_uid"], 6003);
    assert_eq!(create["activity_id"], 1);
    assert_eq!(
        create["resources"],
        json!([{"type": "User", "uid": id, "name": "bjensen@example.com"}])
    );
    let deact = &entries[1];
    assert_eq!(deact["api"]["operation"], "custos.scim.user.deactivate");
    assert_eq!(deact["activity_id"], 3);
    assert_eq!(deact["type_uid"], 600_303);
    assert_eq!(deact["unmapped"]["custos"]["offboards"], true);
    assert_eq!(deact["unmapped"]["custos"]["changed"], json!(["active"]));
    assert_eq!(deact["unmapped"]["custos"]["version"], 2);
    assert_eq!(deact["resources"][0]["uid"], id.as_str());
    // The actor is the SCIM credential (id and name), not a person.
    let cred = s.token.split('_').nth(2).unwrap();
    assert_eq!(deact["actor"]["user"]["uid"], cred);
    assert_eq!(deact["actor"]["user"]["name"], "scim-client");
    // Names of attributes only, never their values.
    let text = deact.to_string();
    assert!(!text.contains("\"work\""), "{text}");

    // Reactivate, then DELETE: 204, an entry each; then 404.
    let reactivate = json!({
        "schemas": [PATCH],
        "Operations": [{"op": "Replace", "path": "active", "value": "True"}],
    });
    assert_eq!(
        s.call("PATCH", &format!("/Users/{id}"), Some(reactivate))
            .status,
        200
    );
    let deleted = s.call("DELETE", &format!("/Users/{id}"), None);
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    s.call("GET", &format!("/Users/{id}"), None)
        .assert_scim_error(404);
    s.call("DELETE", &format!("/Users/{id}"), None)
        .assert_scim_error(404);

    let entries = s.scim_entries(4);
    assert_eq!(entries.len(), 4, "{entries:#?}");
    assert_eq!(
        entries[2]["api"]["operation"],
        "custos.scim.user.reactivate"
    );
    assert_eq!(entries[2]["unmapped"]["custos"]["offboards"], false);
    let del = &entries[3];
    assert_eq!(del["api"]["operation"], "custos.scim.user.delete");
    assert_eq!(del["activity_id"], 4);
    assert_eq!(del["unmapped"]["custos"]["offboards"], true);
    ocsf_valid(&entries);
}

#[test]
fn groups_search_and_member_counts() {
    let s = Scim::new();
    let a = s
        .call("POST", "/Users", Some(new_user("a@example.com")))
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = s
        .call("POST", "/Users", Some(new_user("b@example.com")))
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let g = s.call(
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "Support", "members": [{"value": a}]})),
    );
    assert_eq!(g.status, 201);
    let gid = g.json()["id"].as_str().unwrap().to_owned();
    let patched = s.call(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(json!({
            "schemas": [PATCH],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": b}]},
                {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
            ],
        })),
    );
    assert_eq!(patched.status, 200, "{}", patched.json());

    let search = s.call(
        "POST",
        "/Groups/.search",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": format!("members.value eq \"{b}\""),
        })),
    );
    assert_eq!(search.status, 200, "{}", search.json());
    assert_eq!(search.json()["totalResults"], 1);
    let users = s.call(
        "POST",
        "/Users/.search",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName sw \"a@\"",
        })),
    );
    assert_eq!(users.json()["totalResults"], 1);

    let entries = s.scim_entries(4);
    let update = entries
        .iter()
        .find(|e| e["api"]["operation"] == "custos.scim.group.update")
        .unwrap();
    assert_eq!(update["resources"][0]["type"], "Group");
    assert_eq!(update["resources"][0]["name"], "Support");
    assert_eq!(update["unmapped"]["custos"]["members_added"], 1);
    assert_eq!(update["unmapped"]["custos"]["members_removed"], 1);
    assert_eq!(update["unmapped"]["custos"]["changed"], json!(["members"]));
    assert_eq!(update["unmapped"]["custos"]["offboards"], false);
    // Member ids are not in the entry, only their counts.
    assert!(!update.to_string().contains(&b));

    assert_eq!(
        s.call("DELETE", &format!("/Groups/{gid}"), None).status,
        204
    );
    let entries = s.scim_entries(5);
    assert_eq!(entries[4]["api"]["operation"], "custos.scim.group.delete");
}

#[test]
fn roles_stay_separate_and_errors_are_scim_bodies() {
    let s = Scim::new();
    let ingest = issue(s.dir.path(), Role::Ingest);
    let admin = issue(s.dir.path(), Role::Admin);

    let r = s.req("GET", "/Users", None, &[], None);
    r.assert_scim_error(401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    s.req("GET", "/Users", Some("cst_scim_nope_x"), &[], None)
        .assert_scim_error(401);
    for other in [&ingest, &admin] {
        s.req("GET", "/Users", Some(other), &[], None)
            .assert_scim_error(403);
        s.req(
            "POST",
            "/Users",
            Some(other),
            &[("content-type", SCIM_JSON)],
            Some(new_user("x@example.com").to_string().as_bytes()),
        )
        .assert_scim_error(403);
    }
    // Refusals write nothing.
    assert_eq!(s.call("GET", "/Users", None).json()["totalResults"], 0);

    // Media type, size, unknown endpoints and methods.
    s.req(
        "POST",
        "/Users",
        Some(&s.token),
        &[("content-type", "text/plain")],
        Some(b"{}"),
    )
    .assert_scim_error(415);
    // Over the 1 MiB limit: declared, and chunked without a length.
    let addr = s.running.as_ref().unwrap().local_addr();
    let auth = format!("Authorization: Bearer {}\r\n", s.token);
    let (status, body) = raw(
        addr,
        &format!(
            "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: {SCIM_JSON}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            (1 << 20) + 1
        ),
        b"",
    );
    assert_eq!(status, 413);
    assert_eq!(body["schemas"], json!([ERROR]));
    assert_eq!(body["status"], "413");
    let chunk = vec![b' '; (1 << 20) + 1];
    let mut chunked = format!("{:x}\r\n", chunk.len()).into_bytes();
    chunked.extend_from_slice(&chunk);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let (status, body) = raw(
        addr,
        &format!(
            "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: {SCIM_JSON}\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        ),
        &chunked,
    );
    assert_eq!(status, 413);
    assert_eq!(body["status"], "413");
    s.call("POST", "/Users", Some(json!({"schemas": [USER]})))
        .assert_scim_error(400);
    s.call("GET", "/Robots", None).assert_scim_error(404);
    // Optional endpoints not served: 501, not 404 (RFC 7644 §3.11, §3.4.2.1,
    // §3.7); scim2-tester reads 501 on the root /.search as "not supported".
    s.call("GET", "/Me", None).assert_scim_error(501);
    s.call(
        "POST",
        "/.search",
        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})),
    )
    .assert_scim_error(501);
    s.call("POST", "/Bulk", Some(json!({})))
        .assert_scim_error(501);
    s.call("DELETE", "/Users", None).assert_scim_error(405);
    assert!(s.scim_entries(0).is_empty());
}

#[test]
fn discovery_endpoints() {
    let s = Scim::new();
    for path in [
        "/ServiceProviderConfig",
        "/Schemas",
        "/ResourceTypes",
        "/ResourceTypes/User",
        &format!("/Schemas/{USER}"),
    ] {
        let r = s.call("GET", path, None);
        assert_eq!(r.status, 200, "{path}: {}", r.json());
        assert_eq!(r.header("content-type"), Some(SCIM_JSON), "{path}");
    }
    s.call("GET", "/Schemas/urn:nope", None)
        .assert_scim_error(404);
    s.call("GET", "/ResourceTypes/Nope", None)
        .assert_scim_error(404);
    s.req("GET", "/ServiceProviderConfig", None, &[], None)
        .assert_scim_error(401);
}

#[test]
fn the_directory_survives_a_restart() {
    let mut s = Scim::new();
    let id = s
        .call("POST", "/Users", Some(new_user("kim@vendor.example")))
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.restart();
    let got = s.call("GET", &format!("/Users/{id}"), None);
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["userName"], "kim@vendor.example");
    assert_eq!(got.header("etag"), Some("W/\"1\""));
    assert!(
        s.dir.path().join("meta/custos.db").is_file(),
        "the SQLite directory lives in the data dir"
    );
    assert_eq!(s.scim_entries(1).len(), 1);
}
