//! Demo step: the 2025 forged-token attack against Custos' token authority,
//! through the running `custos serve` — SCIM provisioning, custody of the
//! signing key, a least-privilege grant decided by Cedar, RFC 7662
//! introspection and an embedded gateway verifier reading the server's
//! feeds. Real keys, real signatures: the departing engineer copies the
//! signing key file (he is its custodian) and mints tokens for the
//! simulator's real victims; every one is refused as never issued, and each
//! refusal is a ledger entry. His identity provider deactivates him with one
//! SCIM call; that call alone retires the key at once.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use serde_json::{Value, json};
use token::{HttpFeed, Verifier, VerifierConfig};

use crate::api_cmd::{Answer, Api};
use crate::local_server::ServerProcess;
use crate::ui;

const AUDIENCE: &str = "https://shop.market.example";

fn ok(a: Answer, what: &str) -> anyhow::Result<Value> {
    if !(200..300).contains(&a.status) {
        bail!("{what}: HTTP {}: {}", a.status, a.body);
    }
    Ok(a.body)
}

fn scim_user(user_name: &str, department: &str) -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:custos:params:scim:schemas:extension:custos:2.0:User"
        ],
        "userName": user_name,
        "active": true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": department },
        "urn:custos:params:scim:schemas:extension:custos:2.0:User": { "principalKind": "employee", "region": "KR" }
    })
}

/// Introspects every token over HTTP on `threads` connections; refusal
/// codes counted (the server does not say why, so the codes come from the
/// ledger later; here: active or not).
fn introspect_all(gateway: &Api, tokens: &[String], threads: usize) -> anyhow::Result<u64> {
    let chunk = tokens.len().div_ceil(threads.max(1)).max(1);
    let accepted = std::thread::scope(|s| {
        let handles: Vec<_> = tokens
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || -> anyhow::Result<u64> {
                    let mut n = 0;
                    for t in part {
                        let a = gateway.post_form(
                            "/oauth2/introspect",
                            &[
                                ("token", t.as_str()),
                                ("custos_src_ip", "203.0.113.77"),
                                ("custos_src_country", "CN"),
                            ],
                        )?;
                        let body = ok(a, "introspect")?;
                        if body.get("active") != Some(&Value::Bool(false)) {
                            n += 1;
                        }
                    }
                    Ok(n)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("thread failed")))
            })
            .sum::<anyhow::Result<u64>>()
    })?;
    Ok(accepted)
}

/// The embedded verifier's verdicts over `tokens`, by code.
fn verify_all(v: &Verifier, tokens: &[String]) -> BTreeMap<&'static str, u64> {
    let mut by = BTreeMap::new();
    for t in tokens {
        let code = match v.verify(t) {
            Ok(_) => "ACCEPTED",
            Err(r) => r.code(),
        };
        *by.entry(code).or_default() += 1;
    }
    by
}

fn codes(by: &BTreeMap<&'static str, u64>) -> String {
    by.iter()
        .map(|(c, n)| format!("{c} ×{}", ui::rate(*n as f64)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Polls until `refused` says yes; the time from `t0`.
fn until_refused(t0: Instant, mut refused: impl FnMut() -> bool) -> anyhow::Result<Duration> {
    while t0.elapsed() < Duration::from_secs(5) {
        if refused() {
            return Ok(t0.elapsed());
        }
    }
    bail!("still accepted 5 s after offboarding")
}

/// Runs the step against `server`; `forged` is how many victims' tokens the
/// engineer mints. Returns the refusal codes the ledger recorded.
pub fn show(
    server: &ServerProcess,
    dir: &Path,
    world: &sim::World,
    forged: u64,
) -> anyhow::Result<()> {
    let engineer = world
        .departed_engineer()
        .map_or_else(|| "emp-000001".to_owned(), |d| d.id);
    let url = server.url.as_str();
    let admin_a = Api::with_token(url, &server.credential(dir, "admin", "alice")?);
    let admin_b = Api::with_token(url, &server.credential(dir, "admin", "bob")?);
    let scim = Api::with_token(url, &server.credential(dir, "scim", "okta")?);
    let gateway_token = server.credential(dir, "gateway", "shop-gateway")?;
    let gateway = Api::with_token(url, &gateway_token);

    // The identity provider provisions staff; the customer identity system
    // registers customers.
    let agent = "emp-cs-0042";
    let mut ids = BTreeMap::new();
    for (user, dept) in [
        (engineer.as_str(), "engineering"),
        ("emp-security-01", "security"),
        (agent, "customer-service"),
    ] {
        let created = ok(
            scim.post(
                "/scim/v2/Users",
                scim_user(user, dept).to_string().as_bytes(),
            )?,
            "SCIM create",
        )?;
        ids.insert(
            user.to_owned(),
            created
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "customer-service",
        "members": [{ "value": ids.get(agent).cloned().unwrap_or_default() }]
    });
    ok(
        scim.post("/scim/v2/Groups", group.to_string().as_bytes())?,
        "SCIM group",
    )?;
    let victims: Vec<String> = (0..forged)
        .map(|k| sim::customer_id(world.attack_victim(k)))
        .collect();
    let mut lines = String::new();
    for c in victims.iter().chain(std::iter::once(&sim::customer_id(42))) {
        lines.push_str(&json!({ "id": c, "status": "active" }).to_string());
        lines.push('\n');
    }
    ok(scim.post("/v1/subjects", lines.as_bytes())?, "subjects")?;
    println!(
        "      SCIM (role scim): {engineer}, emp-security-01 and {agent} (group customer-service); \
         {} customers registered as token subjects",
        ui::rate((forged + 1) as f64)
    );

    // Custody of the customer signing key, as in 2025: the engineer who
    // built the authentication system holds it.
    let keys = ok(admin_a.get("/v1/keys")?, "keys")?;
    let kid = keys
        .pointer("/keys/0/kid")
        .and_then(Value::as_str)
        .context("no signing key")?
        .to_owned();
    for who in [engineer.as_str(), "emp-security-01"] {
        ok(
            admin_a.post(
                &format!("/v1/keys/{kid}/custodians"),
                json!({ "principal": who }).to_string().as_bytes(),
            )?,
            "custodian",
        )?;
    }

    // A real customer logs in: the gateway has a token issued, which both
    // introspection and the embedded verifier accept.
    let issue = |sub: &str| -> anyhow::Result<String> {
        let b = ok(
            gateway.post(
                "/v1/tokens",
                json!({ "sub": sub, "aud": [AUDIENCE], "scope": "profile:read" })
                    .to_string()
                    .as_bytes(),
            )?,
            "issue",
        )?;
        b.get("access_token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .context("no access_token")
    };
    let real = issue(&sim::customer_id(42))?;
    let staff_token = issue(&engineer)?;
    let issuer = token::peek(&real).iss.unwrap_or_default();
    let mut vconfig = VerifierConfig::new(issuer.clone());
    vconfig.audience = Some(AUDIENCE.to_owned());
    let verifier = Verifier::new(
        vconfig,
        Arc::new(token::SystemClock),
        Arc::new(HttpFeed::new(
            url,
            &gateway_token,
            Duration::from_millis(800),
        )),
    );
    verifier
        .refresh()
        .map_err(|e| anyhow::anyhow!("verifier feed: {e}"))?;
    let active = ok(
        gateway.post_form("/oauth2/introspect", &[("token", &real)])?,
        "introspect",
    )?;
    println!(
        "      key {kid}: custodians {engineer}, emp-security-01 (POST /v1/keys/…/custodians, role admin)"
    );
    println!(
        "      a real customer token: introspection active={}, embedded verifier (HTTP feeds) accepts: {}",
        active
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        verifier.verify(&real).is_ok()
    );

    // Least privilege: a grant for the customer-service group, approved by
    // someone else, decided by Cedar.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let request = json!({
        "holder": { "group": "customer-service" },
        "dataset": "customers",
        "categories": ["name", "phone", "address"],
        "purpose": "customer_support",
        "max_subjects_per_day": 200,
        "valid_from": now.saturating_sub(60),
        "valid_until": now + 7 * 86_400,
        "ticket": "CS-2025-0042"
    });
    let grant = ok(
        admin_a.post("/v1/grants", request.to_string().as_bytes())?,
        "grant request",
    )?;
    let gid = grant
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let self_approval = admin_a.post(&format!("/v1/grants/{gid}/approve"), b"")?;
    ok(
        admin_b.post(&format!("/v1/grants/{gid}/approve"), b"")?,
        "approve",
    )?;
    let decide = |who: &str, n: usize| -> anyhow::Result<Value> {
        let subjects: Vec<String> = victims.iter().take(n).cloned().collect();
        ok(
            gateway.post(
                "/v1/authorize",
                json!({ "principal": who, "dataset": "customers", "categories": ["name", "address"],
                        "purpose": "customer_support", "subjects": subjects })
                .to_string()
                .as_bytes(),
            )?,
            "authorize",
        )
    };
    let word = |d: &Value| {
        format!(
            "{}{}",
            d.get("decision").and_then(Value::as_str).unwrap_or("?"),
            d.pointer("/reasons/0/code")
                .and_then(Value::as_str)
                .map_or_else(String::new, |c| format!(" ({c})"))
        )
    };
    println!(
        "      grant {gid} (customer-service → customers name/phone/address, 200 subjects/day, 7 days): \
         self-approval by alice → HTTP {}; approved by bob",
        self_approval.status
    );
    println!(
        "      Cedar decides: {agent} reads 20 customers → {}; 300 → {}; {engineer} → {}",
        word(&decide(agent, 20)?),
        word(&decide(agent, 300)?),
        word(&decide(&engineer, 1)?)
    );

    // He copies the key file (0600, but he was its custodian), as in 2025,
    // and mints tokens for real victims, from abroad.
    let file = dir.join("keys").join("token").join(format!("{kid}.key"));
    let stolen: Value = serde_json::from_slice(
        &std::fs::read(&file).with_context(|| format!("read {}", file.display()))?,
    )?;
    let seed: [u8; 32] = stolen
        .get("seed")
        .and_then(Value::as_str)
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .and_then(|b| b.try_into().ok())
        .context("the key file holds no seed")?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let forge = |sub: &str, n: usize| {
        let header = format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#);
        let claims = json!({
            "iss": issuer, "sub": sub, "aud": AUDIENCE, "iat": now, "nbf": now,
            "exp": now + 600, "jti": format!("forged-{n:08}"),
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    };
    let tokens: Vec<String> = victims
        .iter()
        .enumerate()
        .map(|(n, v)| forge(v, n))
        .collect();
    // Over HTTP, a share (each refusal is a durable ledger entry); the
    // embedded verifier checks them all locally.
    let over_http = tokens.len().min(2_000);
    let t = Instant::now();
    let accepted_http = introspect_all(&gateway, tokens.get(..over_http).unwrap_or(&[]), 8)?;
    let http_secs = t.elapsed().as_secs_f64();
    let local = verify_all(&verifier, &tokens);
    println!(
        "      he copies {}'s key file and forges {} tokens for real victims, well signed with the real key:",
        kid.get(..8).unwrap_or(&kid),
        ui::rate(tokens.len() as f64)
    );
    println!(
        "        introspection over HTTP ({over_http}, from 203.0.113.77/CN): accepted {accepted_http}, \
         refused {} — each refusal a ledger entry ({:.1} s)",
        over_http as u64 - accepted_http,
        http_secs
    );
    println!("        embedded verifier (all): {}", codes(&local));

    // He leaves. The identity provider deactivates him: one SCIM call.
    let id = ids.get(&engineer).cloned().unwrap_or_default();
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "value": { "active": false } }]
    });
    let t0 = Instant::now();
    ok(
        scim.post_patch(
            &format!("/scim/v2/Users/{id}"),
            patch.to_string().as_bytes(),
        )?,
        "SCIM deactivate",
    )?;
    let scim_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let intro = until_refused(t0, || {
        gateway
            .post_form("/oauth2/introspect", &[("token", &staff_token)])
            .ok()
            .and_then(|a| a.body.get("active").cloned())
            == Some(Value::Bool(false))
    })?;
    let local_refusal = until_refused(t0, || verifier.verify(&staff_token).is_err())?;
    let seed_gone = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .is_some_and(|v| v.get("seed").is_none());
    println!(
        "      {engineer} deactivated by SCIM PATCH (answered in {scim_ms:.0} ms): his token refused by \
         introspection after {:.0} ms, by the embedded verifier after {:.0} ms (bound: 1,000 ms)",
        intro.as_secs_f64() * 1000.0,
        local_refusal.as_secs_f64() * 1000.0
    );
    let keys = ok(admin_a.get("/v1/keys")?, "keys")?;
    let state_of = |k: &str| {
        keys.get("keys")
            .and_then(Value::as_array)
            .and_then(|ks| {
                ks.iter()
                    .find(|x| x.get("kid").and_then(Value::as_str) == Some(k))
            })
            .and_then(|x| x.get("state").and_then(Value::as_str))
            .unwrap_or("?")
            .to_owned()
    };
    println!(
        "      key {}… is now {} (seed erased from disk: {seed_gone}); JWKS lists {} key(s); {engineer} → {}",
        kid.get(..8).unwrap_or(&kid),
        state_of(&kid),
        ok(
            Api::with_token(url, "").get("/.well-known/jwks.json")?,
            "jwks"
        )?
        .get("keys")
        .and_then(Value::as_array)
        .map_or(0, Vec::len),
        word(&decide(&engineer, 1)?)
    );
    let after_http = introspect_all(&gateway, tokens.get(..over_http.min(500)).unwrap_or(&[]), 8)?;
    std::thread::sleep(Duration::from_millis(300));
    let after_local = verify_all(&verifier, &tokens);
    println!(
        "      the forged tokens now: introspection accepted {after_http}; embedded verifier: {}",
        codes(&after_local)
    );
    let accepted_local = local.get("ACCEPTED").copied().unwrap_or(0)
        + after_local.get("ACCEPTED").copied().unwrap_or(0);
    if accepted_http + after_http + accepted_local > 0 {
        bail!("a forged token was accepted");
    }
    if intro > Duration::from_secs(1) || local_refusal > Duration::from_secs(1) {
        bail!("offboarding took longer than one second to take effect");
    }
    Ok(())
}
