//! Shared harness of the control-plane HTTP tests (`tokens_http.rs`,
//! `grants_http.rs`): a real `custos serve` on a free port with an
//! injectable clock, credentials per role, a blocking client, the ledger
//! read back, tokens signed by hand and the official OCSF check.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use serde_json::{Value, json};
use server::{AdminActor, Config, CredentialStore, Role, RunningServer, StartOptions};
use tempfile::TempDir;

pub const AUD: &str = "https://shop.market.example";
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A running server over a data directory of its own.
pub struct Srv {
    pub dir: TempDir,
    running: Option<RunningServer>,
    pub url: String,
    agent: ureq::Agent,
    /// Added to the system time by the server's clock, ms.
    pub offset_ms: Arc<AtomicI64>,
    pub gateway: String,
    pub admin: String,
    pub scim: String,
    pub ingest: String,
}

/// Issues a credential with `role` and `name` in `dir`.
pub fn credential(dir: &Path, role: Role, name: &str) -> String {
    let actor = AdminActor {
        name: "test".into(),
        host: None,
    };
    CredentialStore::new(dir)
        .issue(role, Some(name), &actor, SystemTime::now())
        .unwrap()
        .token
        .expose()
        .to_owned()
}

fn start(dir: &Path, offset: &Arc<AtomicI64>) -> RunningServer {
    let mut c = Config::new(dir);
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.shutdown_timeout = Duration::from_secs(10);
    c.workers = Some(2);
    // A test that wants detection settings writes DIR/detect.toml.
    let detect = dir.join("detect.toml");
    if detect.is_file() {
        c.detect_config = Some(detect);
    }
    let off = Arc::clone(offset);
    let mut opts = StartOptions::default();
    opts.clock = Arc::new(move || {
        let o = off.load(Ordering::SeqCst);
        let d = Duration::from_millis(o.unsigned_abs());
        if o >= 0 {
            SystemTime::now() + d
        } else {
            SystemTime::now() - d
        }
    });
    server::start_with(c, opts).unwrap()
}

/// An HTTP answer.
pub struct Resp {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts the status, naming the body when it differs.
    pub fn expect(self, status: u16) -> Resp {
        assert_eq!(self.status, status, "{}", self.text());
        self
    }
}

impl Srv {
    pub fn new() -> Srv {
        let dir = tempfile::Builder::new()
            .prefix("custos-control-test-")
            .tempdir()
            .unwrap();
        ledger::init(dir.path(), "control.test.custos.example/log").unwrap();
        let gateway = credential(dir.path(), Role::Gateway, "shop-gateway");
        let admin = credential(dir.path(), Role::Admin, "alice");
        let scim = credential(dir.path(), Role::Scim, "okta");
        let ingest = credential(dir.path(), Role::Ingest, "collector");
        let offset_ms = Arc::new(AtomicI64::new(0));
        let running = start(dir.path(), &offset_ms);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Srv {
            url: running.url(),
            running: Some(running),
            dir,
            agent,
            offset_ms,
            gateway,
            admin,
            scim,
            ingest,
        }
    }

    /// Shuts the server down (ledger closed) and starts it again on the
    /// same data directory.
    pub fn restart(&mut self) {
        self.running.take().unwrap().shutdown().unwrap();
        let running = start(self.dir.path(), &self.offset_ms);
        self.url = running.url();
        self.running = Some(running);
    }

    /// Shuts the server down, runs `f` on the data directory, starts again.
    pub fn restart_with(&mut self, f: impl FnOnce(&Path)) {
        self.running.take().unwrap().shutdown().unwrap();
        f(self.dir.path());
        let running = start(self.dir.path(), &self.offset_ms);
        self.url = running.url();
        self.running = Some(running);
    }

    /// Moves the server's clock `ms` away from the system time.
    pub fn set_clock_offset(&self, ms: i64) {
        self.offset_ms.store(ms, Ordering::SeqCst);
    }

    pub fn cred(&self, role: Role, name: &str) -> String {
        credential(self.dir.path(), role, name)
    }

    pub fn req(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Option<&[u8]>,
    ) -> Resp {
        let mut b = axum::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url));
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        let r = match body {
            Some(body) => self.agent.run(b.body(body.to_vec()).unwrap()),
            None => self.agent.run(b.body(()).unwrap()),
        };
        let mut r = r.unwrap();
        Resp {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.body_mut().read_to_vec().unwrap(),
        }
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.req("GET", path, token, None, None)
    }

    pub fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.req(
            "POST",
            path,
            token,
            Some("application/json"),
            Some(body.to_string().as_bytes()),
        )
    }

    pub fn post_form(&self, path: &str, token: Option<&str>, form: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(form).unwrap();
        self.req(
            "POST",
            path,
            token,
            Some("application/x-www-form-urlencoded"),
            Some(body.as_bytes()),
        )
    }

    pub fn scim_call(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        let body = body.map(|b| b.to_string().into_bytes());
        self.req(
            method,
            path,
            Some(&self.scim),
            body.as_ref().map(|_| "application/scim+json"),
            body.as_deref(),
        )
    }

    /// SCIM-creates an active employee; its SCIM id.
    pub fn scim_user(&self, user_name: &str) -> String {
        let r = self
            .scim_call(
                "POST",
                "/scim/v2/Users",
                Some(&json!({"schemas": [USER], "userName": user_name, "active": true})),
            )
            .expect(201);
        r.json()["id"].as_str().unwrap().to_owned()
    }

    /// Registers customers as active token subjects.
    pub fn customers(&self, ids: &[&str]) {
        let lines: String = ids
            .iter()
            .map(|id| format!("{}\n", json!({"id": id, "status": "active"})))
            .collect();
        self.req(
            "POST",
            "/v1/subjects",
            Some(&self.scim),
            Some("application/x-ndjson"),
            Some(lines.as_bytes()),
        )
        .expect(200);
    }

    /// Issues a token for `sub` through the gateway; (token, response).
    pub fn issue(&self, sub: &str) -> (String, Value) {
        let r = self
            .post_json(
                "/v1/tokens",
                Some(&self.gateway),
                &json!({"sub": sub, "aud": [AUD], "scope": "profile:read"}),
            )
            .expect(200);
        let v = r.json();
        (v["access_token"].as_str().unwrap().to_owned(), v)
    }

    pub fn introspect(&self, token: &str) -> Value {
        self.introspect_from(token, &[])
    }

    pub fn introspect_from(&self, token: &str, extra: &[(&str, &str)]) -> Value {
        let mut form = vec![("token", token)];
        form.extend_from_slice(extra);
        self.post_form("/oauth2/introspect", Some(&self.gateway), &form)
            .expect(200)
            .json()
    }

    /// The current signing key's kid (from `GET /v1/keys`).
    pub fn current_kid(&self) -> String {
        let keys = self.get("/v1/keys", Some(&self.admin)).expect(200).json();
        let current: Vec<&Value> = keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["state"] == "current")
            .collect();
        assert_eq!(current.len(), 1, "exactly one current key: {keys}");
        current[0]["kid"].as_str().unwrap().to_owned()
    }

    /// `state` of `kid` in `GET /v1/keys`.
    pub fn key_state(&self, kid: &str) -> String {
        let keys = self.get("/v1/keys", Some(&self.admin)).expect(200).json();
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap_or_else(|| panic!("no key {kid}: {keys}"))["state"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The kids the public JWKS lists.
    pub fn jwks_kids(&self) -> Vec<String> {
        let r = self.get("/.well-known/jwks.json", None).expect(200);
        r.json()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The signing seed of `kid` from its key file, if it still has one.
    pub fn seed(&self, kid: &str) -> Option<[u8; 32]> {
        let file = self
            .dir
            .path()
            .join("keys")
            .join("token")
            .join(format!("{kid}.key"));
        let v: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        v.get("seed")
            .and_then(Value::as_str)
            .map(|s| URL_SAFE_NO_PAD.decode(s).unwrap().try_into().unwrap())
    }

    /// Every ledger entry (raw bytes, JSON) up to the latest checkpoint.
    pub fn ledger(&self) -> Vec<(Vec<u8>, Value)> {
        let mut r = ledger::LogReader::open(self.dir.path()).unwrap();
        let note = String::from_utf8(r.checkpoint_bytes().unwrap()).unwrap();
        let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
        (0..size)
            .map(|i| {
                let raw = r.entry(i, size).unwrap();
                let v = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                (raw, v)
            })
            .collect()
    }

    /// The entries matching `pred`, once at least `n` are published.
    pub fn entries(&self, n: usize, pred: impl Fn(&Value) -> bool) -> Vec<(Vec<u8>, Value)> {
        let start = Instant::now();
        loop {
            let found: Vec<_> = self.ledger().into_iter().filter(|(_, v)| pred(v)).collect();
            if found.len() >= n {
                return found;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "expected {n} matching ledger entries, found {}: {:#?}",
                found.len(),
                found.iter().map(|(_, v)| v).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The entries whose `api.operation` is `op`, once `n` are published.
    pub fn ops(&self, op: &str, n: usize) -> Vec<Value> {
        self.entries(n, |v| v["api"]["operation"] == op)
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }
}

/// Whether `v` is a control entry of the token authority, principals or
/// grants (what the tests validate against OCSF).
pub fn is_control(v: &Value) -> bool {
    matches!(
        v["metadata"]["log_name"].as_str(),
        Some("custos.token" | "custos.principal" | "custos.access")
    )
}

/// A compact JWS with `header` and `claims`, signed by `seed`.
pub fn sign(seed: &[u8; 32], header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = ed25519_dalek::SigningKey::from_bytes(seed).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// Well-formed claims for `sub` from `iss`, valid now.
pub fn claims(iss: &str, sub: &str, jti: &str) -> Value {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({"iss": iss, "sub": sub, "aud": AUD, "iat": now, "nbf": now,
           "exp": now + 600, "jti": jti})
}

pub fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

/// Runs the official OCSF 1.3.0 schema check (tests/outside) over entries.
pub fn ocsf_valid(entries: &[Value]) {
    assert!(!entries.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("control.ndjson");
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
        "control ledger entries are not valid OCSF 1.3.0:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
