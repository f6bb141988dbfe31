//! Demo step: the 2025 forged-token attack against Custos' token authority
//! (crate `token`, with its SQLite issuance and revocation stores and its key
//! files under `DIR/keys/token/`). Real keys, real signatures: the departed
//! engineer copies the signing key file, as in 2025, and mints tokens for
//! the simulator's real victims; introspection refuses every one because it
//! was never issued, and offboarding him retires the key at once.
//!
//! Not yet served over HTTP or logged to the ledger: that is the rest of the
//! token-authority issue.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use token::{Authority, AuthorityConfig, FileKeyStore, IssueRequest, SubjectStatus, Subjects};

use crate::ui;

const ISSUER: &str = "https://auth.market.example";
const AUDIENCE: &str = "https://shop.market.example";

/// Customers exist below the simulator's customer count; staff are active
/// until offboarded.
struct Directory {
    customers: u64,
    offboarded: Mutex<Vec<String>>,
}

impl Subjects for Directory {
    fn status(&self, sub: &str) -> SubjectStatus {
        if self
            .offboarded
            .lock()
            .map(|o| o.iter().any(|p| p == sub))
            .unwrap_or(true)
        {
            return SubjectStatus::Offboarded;
        }
        match sub.strip_prefix("cust-").map(str::parse::<u64>) {
            Some(Ok(n)) if n < self.customers => SubjectStatus::Active,
            Some(_) => SubjectStatus::Unknown,
            None if sub.starts_with("emp-") => SubjectStatus::Active,
            None => SubjectStatus::Unknown,
        }
    }
}

/// Runs the step; `forged` is how many victims' tokens the engineer mints.
pub fn show(dir: &Path, world: &sim::World, forged: u64) -> anyhow::Result<()> {
    let engineer = world
        .departed_engineer()
        .map_or_else(|| "emp-000001".to_owned(), |d| d.id);
    let db = store::Database::open_data_dir(dir)?;
    let keys_dir = dir.join("keys").join("token");
    let authority = Authority::open(
        AuthorityConfig::new(ISSUER).validate()?,
        Arc::new(token::SystemClock),
        Arc::new(FileKeyStore::open(&keys_dir)?),
        Arc::new(store::SqliteIssuanceStore::new(&db)?),
        Arc::new(store::SqliteRevocationStore::new(&db)?),
    )?;
    let custodians = [engineer.as_str(), "emp-security-01"];
    authority.ensure_current_key(&custodians)?;
    let people = Directory {
        customers: world.config().customers,
        offboarded: Mutex::new(Vec::new()),
    };
    let request = |sub: String| IssueRequest {
        sub,
        aud: vec![AUDIENCE.into()],
        scope: Some("profile:read addresses:read".into()),
        roles: vec!["customer".into()],
        client_id: Some("web".into()),
        lifetime_secs: None,
    };
    let real = authority.issue(&request(sim::customer_id(42)), &people)?;
    let kid = real.record.kid.clone();
    println!(
        "      key {kid} (custodians {}) signs customer tokens; a real one introspects as active: {}",
        custodians.join(", "),
        authority.introspect(&real.token, &people).verdict.is_ok()
    );

    // He copies the key file (0600, but he was its custodian), as in 2025.
    let file = keys_dir.join(format!("{kid}.key"));
    let stolen: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&file).with_context(|| format!("read {}", file.display()))?,
    )?;
    let seed: [u8; 32] = stolen
        .get("seed")
        .and_then(|s| s.as_str())
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .and_then(|b| b.try_into().ok())
        .context("the key file holds no seed")?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let forge = |sub: &str, n: u64| {
        let header = format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#);
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": sub, "aud": AUDIENCE, "iat": now, "nbf": now,
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
    let victims: Vec<String> = (0..forged)
        .map(|k| sim::customer_id(world.attack_victim(k)))
        .collect();
    let tokens: Vec<String> = victims
        .iter()
        .enumerate()
        .map(|(n, v)| forge(v, n as u64))
        .collect();
    let tally = |label: &str| {
        let mut by: BTreeMap<&'static str, u64> = BTreeMap::new();
        for t in &tokens {
            let code = match authority.introspect(t, &people).verdict {
                Ok(_) => "ACCEPTED",
                Err(r) => r.code(),
            };
            *by.entry(code).or_default() += 1;
        }
        let text: Vec<String> = by
            .iter()
            .map(|(c, n)| format!("{c} ×{}", ui::rate(*n as f64)))
            .collect();
        println!("      {label}: {}", text.join(", "));
        by.get("ACCEPTED").copied().unwrap_or(0)
    };
    let accepted_before = tally(&format!(
        "{} tokens he forged for real victims, well signed with the real key — introspection says",
        ui::rate(forged as f64)
    ));

    // He leaves: offboarding revokes his tokens and retires every key he
    // held, at once.
    people
        .offboarded
        .lock()
        .map_err(|_| anyhow::anyhow!("directory lock"))?
        .push(engineer.clone());
    let report = authority.offboard(&engineer)?;
    println!(
        "      {engineer} offboarded: keys retired at once: {}; new current key {}; its seed is erased from disk: {}",
        report.retired_keys.join(", "),
        report.new_key.as_deref().unwrap_or("-"),
        std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|v| v.get("seed").is_none())
    );
    let accepted_after = tally("the same forged tokens after offboarding");
    let jwks = authority.jwks();
    println!(
        "      JWKS now lists {} key(s), not {kid}; customers log in again and get tokens from the new key",
        jwks.keys.len()
    );
    if accepted_before + accepted_after > 0 {
        anyhow::bail!("a forged token was accepted");
    }
    Ok(())
}
