//! [`HttpFeed`]: the [`Feed`] of a Custos server, over HTTP — what a gateway
//! embedding a [`crate::Verifier`] points it at. Enabled by the `http-feed`
//! feature (it brings a small blocking HTTP client, `ureq`).
//!
//! | read | request |
//! |---|---|
//! | JWKS | `GET {base}/.well-known/jwks.json` |
//! | revocations | `GET {base}/v1/token/revocations?since=N&limit=L` → `{"revocations":[…],"next":N}` |
//! | issuances | `GET {base}/v1/token/issuances?since=N&limit=L` → `{"issuances":[…],"next":N}` |
//!
//! The feeds need a credential with role `gateway`. Errors never carry the
//! credential; a failed read makes the verifier fail closed once its
//! staleness bound passes.

use std::time::Duration;

use serde::Deserialize;

use crate::store::{IssuanceRecord, Revocation, StoreError};
use crate::verifier::Feed;

/// A Custos server's token feeds over HTTP.
pub struct HttpFeed {
    agent: ureq::Agent,
    base: String,
    authorization: String,
}

impl std::fmt::Debug for HttpFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpFeed")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Revocations {
    revocations: Vec<Revocation>,
}

#[derive(Deserialize)]
struct Issuances {
    issuances: Vec<IssuanceRecord>,
}

/// Largest feed page read (bytes): 10,000 records of a few hundred bytes.
const MAX_BODY: u64 = 64 << 20;

impl HttpFeed {
    /// The feeds of the server at `base` (e.g. `http://127.0.0.1:8790`),
    /// read with the gateway credential `token`. Each read times out after
    /// `timeout` (keep it under the verifier's staleness bound).
    pub fn new(base: &str, token: &str, timeout: Duration) -> HttpFeed {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build();
        HttpFeed {
            agent: config.into(),
            base: base.trim_end_matches('/').to_owned(),
            authorization: format!("Bearer {token}"),
        }
    }

    fn get(&self, path: &str) -> Result<Vec<u8>, StoreError> {
        let url = format!("{}{path}", self.base);
        let mut resp = self
            .agent
            .get(&url)
            .header("authorization", &self.authorization)
            .call()
            .map_err(|e| StoreError(format!("GET {url}: {e}")))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(StoreError(format!("GET {url}: HTTP {status}")));
        }
        resp.body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| StoreError(format!("GET {url}: reading the body: {e}")))
    }
}

impl Feed for HttpFeed {
    fn jwks_json(&self) -> Result<Vec<u8>, StoreError> {
        self.get("/.well-known/jwks.json")
    }

    fn revocations_since(&self, seq: u64, limit: usize) -> Result<Vec<Revocation>, StoreError> {
        let body = self.get(&format!("/v1/token/revocations?since={seq}&limit={limit}"))?;
        serde_json::from_slice::<Revocations>(&body)
            .map(|r| r.revocations)
            .map_err(|e| StoreError(format!("revocation feed: {e}")))
    }

    fn issuances_since(&self, seq: u64, limit: usize) -> Result<Vec<IssuanceRecord>, StoreError> {
        let body = self.get(&format!("/v1/token/issuances?since={seq}&limit={limit}"))?;
        serde_json::from_slice::<Issuances>(&body)
            .map(|r| r.issuances)
            .map_err(|e| StoreError(format!("issuance feed: {e}")))
    }
}
