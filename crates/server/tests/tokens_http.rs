//! The token authority over HTTP, against a real `custos serve`
//! (`server::start_with`, injected clock): roles, JWKS, customer subjects,
//! issue and RFC 7662 introspection, every refusal answered
//! `{"active":false}` and recorded once in the ledger, RFC 7009
//! revocation, offboarding (SCIM and admin), the feeds and the embedded
//! verifier over HTTP, and the control entries checked against OCSF 1.3.0.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod control;

use std::sync::Arc;
use std::time::{Duration, Instant};

use control::{AUD, PATCH, Srv, b64, claims, is_control, ocsf_valid, sign};
use serde_json::{Value, json};
use server::Role;

fn inactive() -> Value {
    json!({"active": false})
}

/// The refusal entries with `code`, once at least one is published.
fn refusals(s: &Srv, code: &str) -> Vec<Value> {
    s.entries(1, |v| {
        v["api"]["operation"] == "custos.token.introspect"
            && v["unmapped"]["custos"]["refusal"] == code
    })
    .into_iter()
    .map(|(_, v)| v)
    .collect()
}

#[test]
fn roles_guard_every_route_and_the_jwks_lists_only_keys_that_verify() {
    let s = Srv::new();
    let scim = s.scim.clone();
    let (ingest, admin, gateway) = (s.ingest.clone(), s.admin.clone(), s.gateway.clone());
    let analyst = s.cred(Role::Analyst, "ana");

    let form = |path: &str, tok: Option<&str>| s.post_form(path, tok, &[("token", "x.y.z")]);
    let issue_body = json!({"sub": "cust-1", "aud": [AUD]});
    type Call<'a> = Box<dyn Fn(Option<&str>) -> u16 + 'a>;
    let gateway_routes: Vec<(&str, Call)> = vec![
        (
            "introspect",
            Box::new(|t| form("/oauth2/introspect", t).status),
        ),
        ("revoke", Box::new(|t| form("/oauth2/revoke", t).status)),
        (
            "tokens",
            Box::new(|t| s.post_json("/v1/tokens", t, &issue_body).status),
        ),
        (
            "revocations",
            Box::new(|t| s.get("/v1/token/revocations?since=0", t).status),
        ),
        (
            "issuances",
            Box::new(|t| s.get("/v1/token/issuances?since=0", t).status),
        ),
        (
            "authorize",
            Box::new(|t| s.post_json("/v1/authorize", t, &json!({})).status),
        ),
    ];
    for (what, call) in &gateway_routes {
        assert_eq!(call(None), 401, "{what} without a credential");
        assert_eq!(
            call(Some("cst_gateway_nope_x")),
            401,
            "{what} bad credential"
        );
        for other in [&ingest, &scim, &admin, &analyst] {
            assert_eq!(call(Some(other)), 403, "{what} with another role");
        }
        assert_ne!(call(Some(&gateway)), 401, "{what} with gateway");
        assert_ne!(call(Some(&gateway)), 403, "{what} with gateway");
    }

    let kid = s.current_kid();
    let grant = json!({"holder": {"principal": "p"}});
    let admin_routes: Vec<(&str, Call)> = vec![
        (
            "rotate",
            Box::new(|t| s.req("POST", "/v1/keys/rotate", t, None, None).status),
        ),
        (
            "offboard",
            Box::new(|t| {
                s.req("POST", "/v1/principals/emp-x/offboard", t, None, None)
                    .status
            }),
        ),
        (
            "custodians",
            Box::new(|t| {
                s.post_json(
                    &format!("/v1/keys/{kid}/custodians"),
                    t,
                    &json!({"principal": "emp-x"}),
                )
                .status
            }),
        ),
        (
            "grants",
            Box::new(|t| s.post_json("/v1/grants", t, &grant).status),
        ),
    ];
    for (what, call) in &admin_routes {
        assert_eq!(call(None), 401, "{what} without a credential");
        for other in [&ingest, &scim, &gateway, &analyst] {
            assert_eq!(call(Some(other)), 403, "{what} with another role");
        }
    }
    let subjects = |t: Option<&str>| {
        s.req(
            "POST",
            "/v1/subjects",
            t,
            Some("application/x-ndjson"),
            Some(b"{\"id\":\"cust-1\",\"status\":\"active\"}\n"),
        )
        .status
    };
    assert_eq!(subjects(None), 401);
    for other in [&ingest, &admin, &gateway, &analyst] {
        assert_eq!(subjects(Some(other)), 403);
    }
    // Keys are readable by the read roles only.
    assert_eq!(s.get("/v1/keys", None).status, 401);
    assert_eq!(s.get("/v1/keys", Some(&gateway)).status, 403);
    assert_eq!(s.get("/v1/keys", Some(&analyst)).status, 200);
    // None of the refused calls changed anything.
    assert_eq!(s.current_kid(), kid);
    assert_eq!(
        s.get("/v1/principals/emp-x", Some(&admin)).json()["status"],
        "unknown"
    );

    // Public JWKS: the current key only, with the JOSE members.
    let jwks = s.get("/.well-known/jwks.json", None).expect(200);
    assert_eq!(
        jwks.header("content-type"),
        Some("application/jwk-set+json")
    );
    let keys = jwks.json()["keys"].clone();
    assert_eq!(keys.as_array().unwrap().len(), 1, "{keys}");
    assert_eq!(keys[0]["kid"], kid.as_str());
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["crv"], "Ed25519");
    assert!(keys[0].get("d").is_none(), "no private member: {keys}");

    // Rotation by the admin: the old key verifies for the overlap (listed),
    // the new one is current.
    assert_eq!(s.subjects_ok(&scim, &["cust-1"]), 200);
    s.req("POST", "/v1/keys/rotate", Some(&admin), None, None)
        .expect(200);
    let new_kid = s.current_kid();
    assert_ne!(new_kid, kid);
    assert_eq!(s.key_state(&kid), "retiring");
    let mut listed = s.jwks_kids();
    listed.sort();
    let mut expect = vec![kid.clone(), new_kid.clone()];
    expect.sort();
    assert_eq!(listed, expect);
    // Offboarding the new key's custodian retires it: it leaves the JWKS.
    s.post_json(
        &format!("/v1/keys/{new_kid}/custodians"),
        Some(&admin),
        &json!({"principal": "emp-keys"}),
    )
    .expect(200);
    let done = s
        .req(
            "POST",
            "/v1/principals/emp-keys/offboard",
            Some(&admin),
            None,
            None,
        )
        .expect(200)
        .json();
    assert_eq!(done["retired_keys"], json!([new_kid]));
    let newest = done["new_key"].as_str().unwrap().to_owned();
    assert_eq!(s.key_state(&new_kid), "retired");
    let listed = s.jwks_kids();
    assert!(!listed.contains(&new_kid), "{listed:?}");
    assert!(
        listed.contains(&newest) && listed.contains(&kid),
        "{listed:?}"
    );
    // Exactly the keys /v1/keys says verify.
    let keys = s.get("/v1/keys", Some(&admin)).json();
    let mut verifying: Vec<String> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["state"] == "current" || k["state"] == "retiring")
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    verifying.sort();
    let mut listed = listed;
    listed.sort();
    assert_eq!(listed, verifying);
}

impl Srv {
    fn subjects_ok(&self, scim: &str, ids: &[&str]) -> u16 {
        let lines: String = ids
            .iter()
            .map(|id| format!("{}\n", json!({"id": id, "status": "active"})))
            .collect();
        self.req(
            "POST",
            "/v1/subjects",
            Some(scim),
            Some("application/x-ndjson"),
            Some(lines.as_bytes()),
        )
        .status
    }
}

#[test]
fn subjects_are_registered_all_or_nothing_and_tokens_introspect() {
    let s = Srv::new();
    let put = |ct: &str, body: &str| {
        s.req(
            "POST",
            "/v1/subjects",
            Some(&s.scim),
            Some(ct),
            Some(body.as_bytes()),
        )
    };
    // NDJSON, blank lines allowed.
    let r = put(
        "application/x-ndjson",
        "{\"id\":\"cust-1\",\"status\":\"active\"}\n\n{\"id\":\"cust-2\",\"status\":\"suspended\"}\n",
    )
    .expect(200)
    .json();
    assert_eq!(r["written"], 2);
    assert_eq!(r["active"], 1);
    assert_eq!(r["suspended"], 1);
    assert_eq!(r["directory"]["customers"], 2);
    // A JSON array.
    let r = put(
        "application/json",
        r#"[{"id":"cust-3","status":"active"},{"id":"cust-4","status":"offboarded"}]"#,
    )
    .expect(200)
    .json();
    assert_eq!(r["active"], 1);
    assert_eq!(r["offboarded"], 1);
    assert_eq!(r["directory"]["customers"], 4);

    // Errors name their line or index and field; nothing is stored.
    let bad = put(
        "application/x-ndjson",
        "{\"id\":\"cust-new\",\"status\":\"active\"}\n{\"id\":\"cust-5\"}\n{\"id\":\"\",\"status\":\"active\"}\n",
    )
    .expect(400)
    .json();
    let msg = bad["message"].as_str().unwrap();
    assert!(msg.contains("nothing stored"), "{msg}");
    assert!(msg.contains("line 2") && msg.contains("status"), "{msg}");
    assert!(msg.contains("line 3") && msg.contains("$.id"), "{msg}");
    assert!(!msg.contains("line 1:"), "{msg}");
    let bad = put(
        "application/json",
        r#"[{"id":"cust-new","status":"active"},{"id":"cust-6","status":"gone"}]"#,
    )
    .expect(400)
    .json();
    let msg = bad["message"].as_str().unwrap();
    assert!(msg.contains("$[1]") && msg.contains("status"), "{msg}");
    assert!(!msg.contains("$[0]"), "{msg}");
    let bad = put(
        "application/json",
        r#"[{"id":"cust-new","status":"active","x":1}]"#,
    )
    .expect(400)
    .json();
    assert!(bad["message"].as_str().unwrap().contains("$[0]"), "{bad}");
    put("application/json", "").expect(400);
    // cust-new was on valid lines of refused requests: still unknown.
    let unknown = s
        .post_json(
            "/v1/tokens",
            Some(&s.gateway),
            &json!({"sub": "cust-new", "aud": [AUD]}),
        )
        .expect(422)
        .json();
    assert_eq!(unknown["error"], "token_not_issued");
    assert_eq!(
        s.get("/v1/principals/cust-new", Some(&s.admin)).json()["status"],
        "unknown"
    );

    // Issue for a registered customer; introspection says active.
    let (tok, issued) = s.issue("cust-1");
    assert_eq!(issued["token_type"], "Bearer");
    assert!(issued["expires_in"].as_u64().unwrap() > 0);
    let v = s.introspect(&tok);
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["sub"], "cust-1");
    assert_eq!(v["jti"], issued["jti"]);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["scope"], "profile:read");
    let exp = v["exp"].as_u64().unwrap();
    assert_eq!(
        exp - v["iat"].as_u64().unwrap(),
        issued["expires_in"].as_u64().unwrap()
    );
    assert!(v["aud"].to_string().contains(AUD), "{v}");
    // Suspended and offboarded customers and unknown subjects get none.
    for sub in ["cust-2", "cust-4", "nobody"] {
        let r = s
            .post_json(
                "/v1/tokens",
                Some(&s.gateway),
                &json!({"sub": sub, "aud": [AUD]}),
            )
            .expect(422);
        assert_eq!(r.json()["error"], "token_not_issued", "{sub}");
    }
    // A malformed issue request is 400 naming the field.
    let r = s
        .post_json(
            "/v1/tokens",
            Some(&s.gateway),
            &json!({"sub": "cust-1", "aud": []}),
        )
        .expect(400);
    assert!(r.json()["message"].as_str().unwrap().contains("$.aud"));
    // The subjects entry counts, and holds no customer id.
    let puts = s.ops("custos.subjects.put", 2);
    assert_eq!(puts.len(), 2, "one entry per stored request: {puts:#?}");
    assert_eq!(puts[0]["unmapped"]["custos"]["active"], 1);
    assert_eq!(puts[0]["unmapped"]["custos"]["suspended"], 1);
    for (raw, _) in s.ledger() {
        let text = String::from_utf8_lossy(&raw);
        assert!(
            !text.contains("cust-1\""),
            "raw customer id in the ledger: {text}"
        );
    }
}

#[test]
fn every_refusal_is_inactive_and_recorded_once() {
    let s = Srv::new();
    s.customers(&["cust-1", "cust-2", "cust-3", "cust-4", "cust-5"]);
    let kid = s.current_kid();
    let (real, _) = s.issue("cust-1");
    let iss = token::peek(&real).iss.unwrap();
    let seed = s.seed(&kid).expect("the current key has its seed on disk");
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
    let mut expected: Vec<(&str, String)> = Vec::new();
    let mut refused = |code: &'static str, tok: String| {
        assert_eq!(s.introspect(&tok), inactive(), "{code}");
        expected.push((code, tok));
    };

    // alg=none, and HS256: refused before any key is looked at.
    let body = b64(&claims(&iss, "cust-1", "t-none").to_string());
    refused(
        "alg_none",
        format!(
            "{}.{body}.{}",
            b64(r#"{"alg":"none","typ":"JWT"}"#),
            b64("sig")
        ),
    );
    let hs = json!({"alg": "HS256", "typ": "JWT", "kid": kid}).to_string();
    refused(
        "wrong_alg",
        format!("{}.{body}.{}", b64(&hs), b64("mac-bytes")),
    );
    // A real token with one signature byte changed.
    let mut parts: Vec<String> = real.split('.').map(str::to_owned).collect();
    let mut sig = parts[2].clone().into_bytes();
    sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
    parts[2] = String::from_utf8(sig).unwrap();
    refused("bad_signature", parts.join("."));
    // An unknown kid, well signed by a key of our own.
    let stranger = [7u8; 32];
    refused(
        "unknown_kid",
        sign(
            &stranger,
            &json!({"alg": "EdDSA", "typ": "JWT", "kid": "not-a-kid-of-ours"}),
            &claims(&iss, "cust-1", "t-unknown-kid"),
        ),
    );
    // Well signed with the real seed (copied from DATA/keys/token), never
    // issued: the 2025 forgery.
    let forged = sign(&seed, &header, &claims(&iss, "cust-2", "t-forged"));
    refused("never_issued", forged);
    // Malformed: not base64url, and base64url of something not JSON.
    refused("malformed", "e$$.e30.c2ln".to_owned());
    // Revoked (RFC 7009): active first (the authority caches it), then not.
    let (rev, _) = s.issue("cust-3");
    assert_eq!(s.introspect(&rev)["active"], true);
    s.post_form("/oauth2/revoke", Some(&s.gateway), &[("token", &rev)])
        .expect(200);
    // RFC 7009 §2.2: 200 for a token that is not ours too; 400 without one.
    s.post_form("/oauth2/revoke", Some(&s.gateway), &[("token", "junk")])
        .expect(200);
    s.post_form(
        "/oauth2/revoke",
        Some(&s.gateway),
        &[("token_type_hint", "x")],
    )
    .expect(400);
    refused("revoked", rev);
    // An offboarded customer (its identity system says so).
    let (off, _) = s.issue("cust-4");
    assert_eq!(s.introspect(&off)["active"], true);
    s.req(
        "POST",
        "/v1/subjects",
        Some(&s.scim),
        Some("application/x-ndjson"),
        Some(b"{\"id\":\"cust-4\",\"status\":\"offboarded\"}\n"),
    )
    .expect(200);
    refused("offboarded_subject", off);
    // Expired and not yet valid, by the server's clock.
    let (timed, _) = s.issue("cust-5");
    assert_eq!(s.introspect(&timed)["active"], true);
    s.set_clock_offset(16 * 60 * 1000);
    refused("expired", timed.clone());
    s.set_clock_offset(-5 * 60 * 1000);
    refused("not_yet_valid", timed.clone());
    s.set_clock_offset(0);
    assert_eq!(s.introspect(&timed)["active"], true, "valid again");
    // Retired: the key's custodian is offboarded; a token it signed (issued
    // or forged with the copied seed) is refused as retired.
    s.post_json(
        &format!("/v1/keys/{kid}/custodians"),
        Some(&s.admin),
        &json!({"principal": "emp-keyholder"}),
    )
    .expect(200);
    s.req(
        "POST",
        "/v1/principals/emp-keyholder/offboard",
        Some(&s.admin),
        None,
        None,
    )
    .expect(200);
    assert_eq!(s.key_state(&kid), "retired");
    assert!(s.seed(&kid).is_none(), "the retired key's seed is erased");
    refused("retired_kid", real);

    // The second malformed token (JSON): kept apart so each code above has
    // exactly one entry.
    assert_eq!(
        s.introspect(&format!("{}.e30.c2ln", b64("{not json"))),
        inactive()
    );

    let mut all = Vec::new();
    for (code, tok) in &expected {
        let found = refusals(&s, code);
        let want = if *code == "malformed" { 2 } else { 1 };
        let found = if found.len() < want {
            s.entries(want, |v| v["unmapped"]["custos"]["refusal"] == *code)
                .into_iter()
                .map(|(_, v)| v)
                .collect()
        } else {
            found
        };
        assert_eq!(found.len(), want, "{code}: {found:#?}");
        let e = &found[0];
        assert_eq!(e["metadata"]["log_name"], "custos.token", "{code}");
        assert_eq!(e["status_id"], 2, "{code}");
        assert_eq!(e["class_uid"], 6003, "{code}");
        assert_eq!(e["activity_id"], 2, "{code}");
        assert_eq!(e["actor"]["user"]["name"], "shop-gateway", "{code}");
        if let Some(jti) = token::peek(tok).jti {
            assert_eq!(e["resources"][0]["uid"], jti.as_str(), "{code}");
        }
        all.extend(found);
    }
    // Only refusals are recorded: the active answers made no entry.
    let introspections = s.ops("custos.token.introspect", all.len());
    assert_eq!(introspections.len(), all.len());
    let control: Vec<Value> = s
        .ledger()
        .into_iter()
        .map(|(_, v)| v)
        .filter(is_control)
        .collect();
    for op in [
        "custos.token.key.create",
        "custos.token.key.custodian.add",
        "custos.token.key.retire",
        "custos.token.revoke",
        "custos.principal.offboard",
        "custos.subjects.put",
    ] {
        assert!(
            control.iter().any(|v| v["api"]["operation"] == op),
            "no {op} entry"
        );
    }
    ocsf_valid(&control);
}

#[test]
fn refusal_entries_pseudonymise_customers_and_keep_only_valid_sources() {
    let s = Srv::new();
    let victim = "cust-000042";
    s.customers(&[victim]);
    s.scim_user("emp-staff");
    let kid = s.current_kid();
    let (real, _) = s.issue(victim);
    let iss = token::peek(&real).iss.unwrap();
    let seed = s.seed(&kid).unwrap();
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
    let forge = |sub: &str, jti: &str| sign(&seed, &header, &claims(&iss, sub, jti));

    let from_abroad = [
        ("custos_src_ip", "203.0.113.77"),
        ("custos_src_country", "CN"),
    ];
    assert_eq!(
        s.introspect_from(&forge(victim, "forged-valid-src"), &from_abroad),
        inactive()
    );
    let junk = [
        ("custos_src_ip", "not-an-ip"),
        ("custos_src_country", "Mars"),
    ];
    assert_eq!(
        s.introspect_from(&forge(victim, "forged-bad-src"), &junk),
        inactive()
    );
    assert_eq!(
        s.introspect_from(&forge("emp-staff", "forged-staff"), &[]),
        inactive()
    );
    // The caller's own revocation of the real token: pseudonymised too.
    s.post_form("/oauth2/revoke", Some(&s.gateway), &[("token", &real)])
        .expect(200);

    let entries = s.entries(3, |v| v["unmapped"]["custos"]["refusal"] == "never_issued");
    let by_jti = |jti: &str| {
        entries
            .iter()
            .find(|(_, v)| v["resources"][0]["uid"] == jti)
            .unwrap_or_else(|| panic!("no entry for {jti}"))
            .clone()
    };
    let key = events::SubjectKey::load_or_create(&events::subject_key_path(s.dir.path())).unwrap();
    let pseudonym = key.pseudonymise(victim).to_string();
    let (raw, valid) = by_jti("forged-valid-src");
    assert_eq!(valid["unmapped"]["custos"]["subject"], pseudonym.as_str());
    assert!(!String::from_utf8_lossy(&raw).contains(victim));
    assert_eq!(valid["src_endpoint"]["ip"], "203.0.113.77");
    assert_eq!(valid["src_endpoint"]["location"]["country"], "CN");
    assert_eq!(valid["unmapped"]["custos"]["kid"], kid.as_str());
    assert_eq!(valid["unmapped"]["custos"]["iss"], iss.as_str());
    let (raw, invalid) = by_jti("forged-bad-src");
    assert!(!String::from_utf8_lossy(&raw).contains(victim));
    assert!(!String::from_utf8_lossy(&raw).contains("not-an-ip"));
    assert!(!String::from_utf8_lossy(&raw).contains("Mars"));
    assert!(invalid["src_endpoint"].get("ip").is_none(), "{invalid}");
    assert!(
        invalid["src_endpoint"].get("location").is_none(),
        "{invalid}"
    );
    assert_eq!(invalid["unmapped"]["custos"]["subject"], pseudonym.as_str());
    // Staff ids are kept as they are.
    let (_, staff) = by_jti("forged-staff");
    assert_eq!(staff["unmapped"]["custos"]["subject"], "emp-staff");
    let revoked = s.ops("custos.token.revoke", 1);
    assert_eq!(
        revoked[0]["unmapped"]["custos"]["subject"],
        pseudonym.as_str()
    );
    // Nowhere in the ledger is the raw customer id.
    for (raw, _) in s.ledger() {
        assert!(!String::from_utf8_lossy(&raw).contains(victim));
    }
    let control: Vec<Value> = s
        .ledger()
        .into_iter()
        .map(|(_, v)| v)
        .filter(is_control)
        .collect();
    ocsf_valid(&control);
}

fn deactivate() -> Value {
    json!({
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "value": {"active": false}}],
    })
}

#[test]
fn scim_deactivation_offboards_a_key_custodian() {
    let s = Srv::new();
    let id = s.scim_user("emp-kim");
    s.customers(&["cust-1"]);
    // Kim's token is signed by the first key; after a rotation Kim becomes
    // custodian of the new current key, which then signs a customer token.
    let k1 = s.current_kid();
    let (kim_token, _) = s.issue("emp-kim");
    s.req("POST", "/v1/keys/rotate", Some(&s.admin), None, None)
        .expect(200);
    let k2 = s.current_kid();
    s.post_json(
        &format!("/v1/keys/{k2}/custodians"),
        Some(&s.admin),
        &json!({"principal": "emp-kim"}),
    )
    .expect(200);
    let (customer_token, _) = s.issue("cust-1");
    assert_eq!(
        token::peek(&customer_token).kid.as_deref(),
        Some(k2.as_str())
    );
    assert_eq!(s.introspect(&kim_token)["active"], true);
    assert_eq!(s.introspect(&customer_token)["active"], true);
    let p = s.get("/v1/principals/emp-kim", Some(&s.admin)).json();
    assert_eq!(p["status"], "active");
    assert_eq!(p["keys_in_custody"][0]["kid"], k2.as_str());

    // One SCIM PATCH.
    let r = s
        .scim_call(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            Some(&deactivate()),
        )
        .expect(200);
    assert_eq!(r.json()["active"], false);
    assert_eq!(s.introspect(&kim_token), inactive());
    let refused = refusals(&s, "offboarded_subject");
    assert_eq!(refused[0]["unmapped"]["custos"]["subject"], "emp-kim");
    // The key Kim held is retired at once, gone from the JWKS; another
    // key is current; the customer token it signed is refused.
    assert_eq!(s.key_state(&k2), "retired");
    assert!(s.seed(&k2).is_none());
    let k3 = s.current_kid();
    assert!(k3 != k2 && k3 != k1);
    let jwks = s.jwks_kids();
    assert!(!jwks.contains(&k2), "{jwks:?}");
    assert!(jwks.contains(&k3), "{jwks:?}");
    assert_eq!(s.introspect(&customer_token), inactive());
    refusals(&s, "retired_kid");
    assert_eq!(
        s.get("/v1/principals/emp-kim", Some(&s.admin)).json()["status"],
        "offboarded"
    );
    // Kim can get no new token.
    s.post_json(
        "/v1/tokens",
        Some(&s.gateway),
        &json!({"sub": "emp-kim", "aud": [AUD]}),
    )
    .expect(422);

    let off = s.ops("custos.principal.offboard", 1);
    assert_eq!(off.len(), 1);
    assert_eq!(off[0]["resources"][0]["uid"], "emp-kim");
    assert_eq!(off[0]["unmapped"]["custos"]["trigger"], "scim");
    assert_eq!(off[0]["unmapped"]["custos"]["retired_keys"], json!([k2]));
    assert_eq!(off[0]["unmapped"]["custos"]["new_key"], k3.as_str());
    assert_eq!(off[0]["actor"]["user"]["name"], "okta");
    let retire = s.ops("custos.token.key.retire", 1);
    assert!(
        retire
            .iter()
            .any(|e| e["resources"][0]["uid"] == k2.as_str()
                && e["unmapped"]["custos"]["reason"] == "custodian_offboarded"),
        "{retire:#?}"
    );
    let revoke = s.ops("custos.token.revoke_subject", 1);
    assert_eq!(revoke[0]["resources"][0]["uid"], "emp-kim");
    let created = s.ops("custos.token.key.create", 2);
    assert!(
        created
            .iter()
            .any(|e| e["resources"][0]["uid"] == k3.as_str())
    );
    let control: Vec<Value> = s
        .ledger()
        .into_iter()
        .map(|(_, v)| v)
        .filter(is_control)
        .collect();
    ocsf_valid(&control);
}

#[test]
fn scim_delete_offboards() {
    let s = Srv::new();
    let id = s.scim_user("emp-lee");
    let (tok, _) = s.issue("emp-lee");
    assert_eq!(s.introspect(&tok)["active"], true);
    s.scim_call("DELETE", &format!("/scim/v2/Users/{id}"), None)
        .expect(204);
    assert_eq!(s.introspect(&tok), inactive());
    // (Once deleted, the User is no longer staff in the directory, so the
    // refusal's subject is recorded as a pseudonym, like a customer's.)
    let e = refusals(&s, "offboarded_subject");
    assert_eq!(e.len(), 1);
    let off = s.ops("custos.principal.offboard", 1);
    assert_eq!(off[0]["resources"][0]["uid"], "emp-lee");
    assert_eq!(off[0]["unmapped"]["custos"]["trigger"], "scim");
    // Offboarding runs before the directory forgets the deleted User: its
    // revocation names it as staff, like the offboarding entry.
    let revoked = s.ops("custos.token.revoke_subject", 1);
    assert_eq!(revoked[0]["resources"][0]["uid"], "emp-lee");
    assert_eq!(
        s.get("/v1/principals/emp-lee", Some(&s.admin)).json()["status"],
        "offboarded"
    );
}

#[test]
fn admin_offboarding_survives_a_restart() {
    let mut s = Srv::new();
    s.scim_user("emp-park");
    let (tok, _) = s.issue("emp-park");
    assert_eq!(s.introspect(&tok)["active"], true);
    let done = s
        .req(
            "POST",
            "/v1/principals/emp-park/offboard",
            Some(&s.admin),
            None,
            None,
        )
        .expect(200)
        .json();
    assert_eq!(done["principal"], "emp-park");
    assert!(done["ledger_index"].is_u64(), "{done}");
    assert_eq!(s.introspect(&tok), inactive());
    let off = s.ops("custos.principal.offboard", 1);
    assert_eq!(off[0]["unmapped"]["custos"]["trigger"], "admin");
    assert_eq!(off[0]["actor"]["user"]["name"], "alice");
    assert_eq!(off[0]["actor"]["user"]["type_id"], 2);

    s.restart();
    // Still offboarded, although the SCIM User is active.
    assert_eq!(
        s.get("/v1/principals/emp-park", Some(&s.admin)).json()["status"],
        "offboarded"
    );
    assert_eq!(s.introspect(&tok), inactive());
    let r = s
        .post_json(
            "/v1/tokens",
            Some(&s.gateway),
            &json!({"sub": "emp-park", "aud": [AUD]}),
        )
        .expect(422);
    assert_eq!(r.json()["error"], "token_not_issued");
    // Offboarding is idempotent.
    s.req(
        "POST",
        "/v1/principals/emp-park/offboard",
        Some(&s.admin),
        None,
        None,
    )
    .expect(200);
}

#[test]
fn feeds_serve_issuances_and_revocations_and_the_embedded_verifier_follows_them() {
    let s = Srv::new();
    s.customers(&["cust-1", "cust-2", "cust-3"]);
    let (t1, i1) = s.issue("cust-1");
    let (t2, i2) = s.issue("cust-2");
    let (t3, _) = s.issue("cust-3");
    s.post_form("/oauth2/revoke", Some(&s.gateway), &[("token", &t1)])
        .expect(200);
    s.post_form("/oauth2/revoke", Some(&s.gateway), &[("token", &t2)])
        .expect(200);

    let iss = s
        .get("/v1/token/issuances?since=0", Some(&s.gateway))
        .expect(200)
        .json();
    let items = iss["issuances"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{iss}");
    assert_eq!(items[0]["jti"], i1["jti"]);
    assert_eq!(items[1]["jti"], i2["jti"]);
    assert_eq!(items[0]["sub"], "cust-1");
    let seqs: Vec<u64> = items.iter().map(|i| i["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(iss["next"], seqs[2]);
    let after = s
        .get(
            &format!("/v1/token/issuances?since={}", seqs[0]),
            Some(&s.gateway),
        )
        .json();
    assert_eq!(after["issuances"].as_array().unwrap().len(), 2);
    let page = s
        .get("/v1/token/issuances?since=0&limit=1", Some(&s.gateway))
        .json();
    assert_eq!(page["issuances"].as_array().unwrap().len(), 1);
    assert_eq!(page["next"], seqs[0]);
    let empty = s
        .get(
            &format!("/v1/token/issuances?since={}", seqs[2]),
            Some(&s.gateway),
        )
        .json();
    assert_eq!(empty["issuances"], json!([]));
    assert_eq!(empty["next"], seqs[2]);
    s.get("/v1/token/issuances?since=x", Some(&s.gateway))
        .expect(400);

    let rev = s
        .get("/v1/token/revocations?since=0", Some(&s.gateway))
        .expect(200)
        .json();
    let items = rev["revocations"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{rev}");
    assert_eq!(items[0]["jti"], i1["jti"]);
    assert_eq!(items[1]["jti"], i2["jti"]);
    assert_eq!(items[0]["kind"], "token");
    let rseq: Vec<u64> = items.iter().map(|i| i["seq"].as_u64().unwrap()).collect();
    assert!(rseq[0] < rseq[1]);
    assert_eq!(rev["next"], rseq[1]);

    // An embedded gateway verifier reading the feeds over HTTP.
    let issuer = token::peek(&t3).iss.unwrap();
    let mut config = token::VerifierConfig::new(issuer);
    config.audience = Some(AUD.to_owned());
    let verifier = token::Verifier::new(
        config,
        Arc::new(token::SystemClock),
        Arc::new(token::HttpFeed::new(
            &s.url,
            &s.gateway,
            Duration::from_millis(800),
        )),
    );
    verifier.refresh().unwrap();
    let ok = verifier.verify(&t3).unwrap();
    assert_eq!(ok.claims().sub, "cust-3");
    assert_eq!(verifier.verify(&t1).unwrap_err().code(), "revoked");
    // A token issued after the verifier's last pull: found by its miss pull.
    let (t4, _) = s.issue("cust-2");
    assert!(verifier.verify(&t4).is_ok());
    // A forged token (real seed, never issued) is refused locally.
    let kid = s.current_kid();
    let forged = sign(
        &s.seed(&kid).unwrap(),
        &json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}),
        &claims(&token::peek(&t3).iss.unwrap(), "cust-1", "forged-1"),
    );
    assert_eq!(verifier.verify(&forged).unwrap_err().code(), "never_issued");

    // Offboarding by an admin: refused by the verifier within one second
    // of the answer.
    s.req(
        "POST",
        "/v1/principals/cust-3/offboard",
        Some(&s.admin),
        None,
        None,
    )
    .expect(200);
    // Any verification started a second after the answer must refuse (the
    // design's bound: refreshes every 250 ms, fail closed when stale).
    let t0 = Instant::now();
    let first = loop {
        let started = t0.elapsed();
        match verifier.verify(&t3) {
            Err(r) => break r,
            Ok(_) => assert!(
                started <= Duration::from_secs(1),
                "accepted by a verification started {started:?} after offboarding"
            ),
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(
        ["offboarded_subject", "unavailable"].contains(&first.code()),
        "{first:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        verifier.verify(&t3).unwrap_err().code(),
        "offboarded_subject"
    );
    let rev = s
        .get(
            &format!("/v1/token/revocations?since={}", rseq[1]),
            Some(&s.gateway),
        )
        .json();
    assert_eq!(rev["revocations"][0]["kind"], "subject");
    assert_eq!(rev["revocations"][0]["sub"], "cust-3");
    assert_eq!(rev["next"], rev["revocations"][0]["seq"]);
}
