//! JWK Sets (RFC 7517 §5) of Ed25519 public keys as OKP JWKs (RFC 8037 §2):
//! `{"kty":"OKP","crv":"Ed25519","x":…,"kid":…,"use":"sig","alg":"EdDSA"}`.
//! Only keys that verify (current and overlapping) are listed; the members
//! are fixed, so no private member (`d`) can ever be written.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::jwt::{ALG, b64d, b64e};
use crate::keys::thumbprint;

/// One public signing key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: String,
    /// Always `Ed25519`.
    pub crv: String,
    /// base64url public key.
    pub x: String,
    /// Key id (RFC 7638 thumbprint).
    pub kid: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// Always `EdDSA`.
    pub alg: String,
}

impl Jwk {
    pub(crate) fn ed25519(public: &[u8; 32], kid: &str) -> Self {
        Self {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: b64e(public),
            kid: kid.into(),
            use_: "sig".into(),
            alg: ALG.into(),
        }
    }
}

/// A JWK Set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Why a published JWK Set was not accepted by a verifier.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("JWKS refused: {0}")]
pub struct JwksError(pub &'static str);

impl Jwks {
    /// The set as JSON, for `/.well-known/jwks.json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"keys":[]}"#.into())
    }

    /// Parses a set published by an authority, strictly: every key must be
    /// an Ed25519 signing key whose `kid` is its RFC 7638 thumbprint, and a
    /// key carrying a private member (`d`) is refused outright. Returns
    /// `(kid, key)` pairs.
    pub fn parse_keys(json: &[u8]) -> Result<Vec<(String, VerifyingKey)>, JwksError> {
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<serde_json::Map<String, serde_json::Value>>,
        }
        let set: Set = serde_json::from_slice(json).map_err(|_| JwksError("not a JWK Set"))?;
        let mut out = Vec::with_capacity(set.keys.len());
        for key in set.keys {
            if key.contains_key("d") {
                return Err(JwksError("a key carries private material"));
            }
            let field = |name: &str| key.get(name).and_then(|v| v.as_str());
            if field("kty") != Some("OKP")
                || field("crv") != Some("Ed25519")
                || field("use").is_some_and(|u| u != "sig")
                || field("alg").is_some_and(|a| a != ALG)
            {
                return Err(JwksError("not an Ed25519 signing key"));
            }
            let x: [u8; 32] = field("x")
                .and_then(b64d)
                .and_then(|x| x.try_into().ok())
                .ok_or(JwksError("x is not 32 base64url bytes"))?;
            let kid = field("kid").ok_or(JwksError("no kid"))?;
            if kid != thumbprint(&x) {
                return Err(JwksError("kid is not the key's thumbprint"));
            }
            let vk = VerifyingKey::from_bytes(&x).map_err(|_| JwksError("x is not a point"))?;
            out.push((kid.to_owned(), vk));
        }
        Ok(out)
    }
}
