//! Compact JWS / JWT with EdDSA only (RFC 7515 §7.1, RFC 7519, RFC 8037 §3.1).
//!
//! Written here rather than taken from the `jsonwebtoken` crate: that crate
//! pulls `ring` or `aws-lc` and a generic JOSE stack (many algorithms, key
//! types, lenient decoding) for the one algorithm we use. We want a small
//! strict parser whose every refusal is a typed [`Refusal`], that never
//! parses attacker JSON more than once, and that stays inside a tight latency
//! budget (one Ed25519 verification dominates; see `examples/bench.rs`).
//!
//! Strictness, in the order the checks run:
//! 1. at most [`MAX_TOKEN_LEN`] bytes, ASCII, exactly three `.`-separated
//!    parts (a JWE has five; JWS JSON serialisation is not accepted);
//! 2. each part is base64url **without padding** and with zero trailing bits
//!    (RFC 7515 §2, RFC 4648 §3.5), so one token has one encoding;
//! 3. header: a JSON object without duplicate members (RFC 7515 §5.2 allows
//!    rejecting them), `alg` exactly `EdDSA` (`none` and anything else are
//!    refused apart), no `crit` (RFC 7515 §4.1.11: we understand no
//!    extension), no key-carrying members (`jwk`, `jku`, `x5u`, `x5c`: keys
//!    come from this authority only), `typ` absent or `JWT`, `kid` a string;
//! 4. claims: a JSON object without duplicate members, every registered
//!    claim we issue present with its type (`iss`, `sub`, `aud`, `exp`,
//!    `iat`, `nbf`, `jti`); NumericDates are non-negative integers;
//! 5. the signature is 64 bytes and verifies with `verify_strict` (RFC 8032
//!    §5.1.7, refusing non-canonical `S` and small-order keys).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::refusal::Refusal;

/// The largest token accepted, in bytes. Ours are well under 1 KiB; the cap
/// bounds the work an unauthenticated caller can ask for.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The only `alg` accepted (RFC 8037 §3.1).
pub const ALG: &str = "EdDSA";

/// base64url without padding (RFC 7515 §2). The engine refuses padding and
/// non-zero trailing bits.
pub(crate) fn b64e(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url decoding; `None` on padding, other alphabets, non-zero
/// trailing bits or bad length.
pub(crate) fn b64d(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// The claims of a token this authority issues (RFC 7519 §4.1, plus `scope`
/// as in RFC 8693 §4.2 / RFC 9068 §2.2.3, `roles`, and `client_id`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: the principal or customer id.
    pub sub: String,
    /// Audiences (serialised as a string when there is one).
    #[serde(serialize_with = "ser_aud")]
    pub aud: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Not before, seconds since the epoch.
    pub nbf: u64,
    /// Unique token id: the key of the issuance record.
    pub jti: String,
    /// Space-separated scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Roles.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The OAuth client the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

fn ser_aud<S: serde::Serializer>(aud: &[String], s: S) -> Result<S::Ok, S::Error> {
    match aud {
        [one] => s.serialize_str(one),
        many => many.serialize(s),
    }
}

/// The protected header we write: `{"alg":"EdDSA","typ":"JWT","kid":…}`.
#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// Signs `claims` as a compact JWS with `kid` (RFC 7515 §7.1).
pub(crate) fn encode(key: &SigningKey, kid: &str, claims: &Claims) -> String {
    let header = HeaderOut {
        alg: ALG,
        typ: "JWT",
        kid,
    };
    // Serialising these plain structs cannot fail; fall back to an empty
    // object rather than panic, which would only make an unusable token.
    let h = serde_json::to_vec(&header).unwrap_or_default();
    let c = serde_json::to_vec(claims).unwrap_or_default();
    let mut out = String::with_capacity(512);
    out.push_str(&b64e(&h));
    out.push('.');
    out.push_str(&b64e(&c));
    let sig = key.sign(out.as_bytes());
    out.push('.');
    out.push_str(&b64e(&sig.to_bytes()));
    out
}

/// A compact JWS split and decoded, header checked, claims typed; the
/// signature not yet verified.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    pub kid: String,
    pub claims: Claims,
    pub signing_input: &'a [u8],
    pub signature: Signature,
}

impl Parsed<'_> {
    /// RFC 8037 §3.1: Ed25519 over the ASCII signing input; strict (RFC 8032
    /// §5.1.7, no malleable signatures, no small-order keys).
    pub fn signature_valid(&self, key: &VerifyingKey) -> bool {
        key.verify_strict(self.signing_input, &self.signature)
            .is_ok()
    }
}

/// A JSON object whose members are kept in order, refusing duplicates
/// (serde_json's maps silently keep the last one).
struct StrictObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrictObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictObject, A::Error> {
                let mut members: Vec<(String, Value)> = Vec::with_capacity(12);
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    if members.iter().any(|(seen, _)| *seen == k) {
                        return Err(serde::de::Error::custom("duplicate member"));
                    }
                    members.push((k, v));
                }
                Ok(StrictObject(members))
            }
        }
        d.deserialize_map(V)
    }
}

impl StrictObject {
    fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        let at = self.0.iter().position(|(k, _)| k == name)?;
        Some(self.0.swap_remove(at).1)
    }
}

/// Which part of the compact serialisation failed; used to build messages.
fn decode_part(part: &str, what_b64: &'static str) -> Result<Vec<u8>, Refusal> {
    b64d(part).ok_or(Refusal::malformed(what_b64))
}

/// Parses a compact JWS of this profile. Checks everything but the
/// signature, the key, the times and the stores.
pub(crate) fn parse(token: &str) -> Result<Parsed<'_>, Refusal> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Refusal::malformed("token longer than 8192 bytes"));
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(c64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::malformed("not three dot-separated parts"));
    };

    // Header first: the algorithm decides whether anything else matters.
    let header_bytes = decode_part(h64, "header: not unpadded base64url")?;
    let mut header = StrictObject::parse(&header_bytes)
        .map_err(|_| Refusal::malformed("header: not a JSON object without duplicates"))?;
    match header.get("alg") {
        Some(Value::String(alg)) if alg == ALG => {}
        Some(Value::String(alg)) if alg.eq_ignore_ascii_case("none") => {
            return Err(Refusal::AlgNone);
        }
        Some(Value::String(_)) => return Err(Refusal::WrongAlg),
        Some(_) => return Err(Refusal::malformed("header: alg is not a string")),
        None => return Err(Refusal::malformed("header: no alg")),
    }
    if header.get("crit").is_some() {
        return Err(Refusal::malformed("header: crit present"));
    }
    for carried in ["jwk", "jku", "x5u", "x5c"] {
        if header.get(carried).is_some() {
            return Err(Refusal::malformed("header: carries its own key"));
        }
    }
    match header.get("typ") {
        None => {}
        Some(Value::String(typ)) if typ == "JWT" => {}
        Some(_) => return Err(Refusal::malformed("header: typ is not JWT")),
    }
    let kid = match header.take("kid") {
        Some(Value::String(kid)) => kid,
        Some(_) => return Err(Refusal::malformed("header: kid is not a string")),
        None => return Err(Refusal::malformed("header: no kid")),
    };

    let sig_bytes = decode_part(s64, "signature: not unpadded base64url")?;
    let sig: [u8; 64] = sig_bytes
        .try_into()
        .map_err(|_| Refusal::malformed("signature: not 64 bytes"))?;
    let signature = Signature::from_bytes(&sig);

    let claims_bytes = decode_part(c64, "claims: not unpadded base64url")?;
    let claims = parse_claims(&claims_bytes)?;

    let signing_len = h64.len() + 1 + c64.len();
    let signing_input = token
        .as_bytes()
        .get(..signing_len)
        .ok_or(Refusal::malformed("signing input"))?;
    Ok(Parsed {
        kid,
        claims,
        signing_input,
        signature,
    })
}

fn parse_claims(bytes: &[u8]) -> Result<Claims, Refusal> {
    let mut obj = StrictObject::parse(bytes)
        .map_err(|_| Refusal::malformed("claims: not a JSON object without duplicates"))?;
    let string = |obj: &mut StrictObject, name, missing, wrong| match obj.take(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Refusal::malformed(wrong)),
        None => Err(Refusal::malformed(missing)),
    };
    let date = |obj: &mut StrictObject, name, missing, wrong| match obj.take(name) {
        Some(Value::Number(n)) => n.as_u64().ok_or(Refusal::malformed(wrong)),
        Some(_) => Err(Refusal::malformed(wrong)),
        None => Err(Refusal::malformed(missing)),
    };
    let iss = string(
        &mut obj,
        "iss",
        "claims: no iss",
        "claims: iss not a string",
    )?;
    let sub = string(
        &mut obj,
        "sub",
        "claims: no sub",
        "claims: sub not a string",
    )?;
    let jti = string(
        &mut obj,
        "jti",
        "claims: no jti",
        "claims: jti not a string",
    )?;
    let exp = date(
        &mut obj,
        "exp",
        "claims: no exp",
        "claims: exp not an integer",
    )?;
    let iat = date(
        &mut obj,
        "iat",
        "claims: no iat",
        "claims: iat not an integer",
    )?;
    let nbf = date(
        &mut obj,
        "nbf",
        "claims: no nbf",
        "claims: nbf not an integer",
    )?;
    // RFC 7519 §4.1.3: a string or an array of strings.
    let aud = match obj.take("aud") {
        Some(Value::String(a)) => vec![a],
        Some(Value::Array(items)) if !items.is_empty() => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(Refusal::malformed("claims: aud not strings")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(Refusal::malformed("claims: aud not strings")),
        None => return Err(Refusal::malformed("claims: no aud")),
    };
    let scope = match obj.take("scope") {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(Refusal::malformed("claims: scope not a string")),
    };
    let client_id = match obj.take("client_id") {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(Refusal::malformed("claims: client_id not a string")),
    };
    let roles = match obj.take("roles") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(Refusal::malformed("claims: roles not strings")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(Refusal::malformed("claims: roles not strings")),
    };
    if sub.is_empty() || jti.is_empty() {
        return Err(Refusal::malformed("claims: empty sub or jti"));
    }
    Ok(Claims {
        iss,
        sub,
        aud,
        exp,
        iat,
        nbf,
        jti,
        scope,
        roles,
        client_id,
    })
}

/// The time checks of RFC 7519 §4.1.4-§4.1.6 with `leeway` seconds:
/// refused once `now >= exp + leeway`, or while `now + leeway < nbf` (or
/// `< iat`: a token from the future is not yet valid either).
pub(crate) fn check_times(claims: &Claims, now: u64, leeway: u64) -> Result<(), Refusal> {
    if now >= claims.exp.saturating_add(leeway) {
        return Err(Refusal::Expired);
    }
    if now.saturating_add(leeway) < claims.nbf.max(claims.iat) {
        return Err(Refusal::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    // RFC 8037 Appendix A.1 key and A.4 signature.
    const D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const A4: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

    #[test]
    fn rfc8037_a4_signature() {
        let d: [u8; 32] = b64d(D).unwrap().try_into().unwrap();
        let key = SigningKey::from_bytes(&d);
        assert_eq!(b64e(key.verifying_key().as_bytes()), X);
        let (input, sig) = A4.rsplit_once('.').unwrap();
        assert_eq!(b64e(&key.sign(input.as_bytes()).to_bytes()), sig);
        let sig: [u8; 64] = b64d(sig).unwrap().try_into().unwrap();
        assert!(
            key.verifying_key()
                .verify_strict(input.as_bytes(), &Signature::from_bytes(&sig))
                .is_ok()
        );
        // Our profile refuses it: no kid, and its payload is not JSON claims.
        assert_eq!(parse(A4).unwrap_err(), Refusal::malformed("header: no kid"));
    }

    #[test]
    fn base64url_is_strict() {
        assert_eq!(b64d("AA"), Some(vec![0]));
        assert_eq!(b64d("AA=="), None, "padding");
        assert_eq!(b64d("AB"), None, "non-zero trailing bits");
        assert_eq!(b64d("A+"), None, "standard alphabet");
        assert_eq!(b64d("A"), None, "impossible length");
    }

    #[test]
    fn duplicate_members_are_refused() {
        assert!(StrictObject::parse(br#"{"a":1,"a":2}"#).is_err());
        assert!(StrictObject::parse(br#"{"a":1,"b":2}"#).is_ok());
        assert!(StrictObject::parse(b"[1]").is_err());
    }
}

/// What a token *claims*, read without any check of its signature, key or
/// issuance: for recording a refusal (which key, issuer and subject a
/// forged or stale token named), never for a decision. Each member is the
/// value as written if the part decodes as the strict parser wants, cut to
/// 128 bytes; otherwise `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Claimed {
    /// The header's `kid`.
    pub kid: Option<String>,
    /// `iss`.
    pub iss: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// `jti`.
    pub jti: Option<String>,
}

/// Reads [`Claimed`] from `token` (unverified). Never fails: what cannot be
/// read is `None`.
pub fn peek(token: &str) -> Claimed {
    fn text(v: Option<&serde_json::Value>) -> Option<String> {
        let s = v?.as_str()?;
        let mut end = s.len().min(128);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.get(..end).map(str::to_owned)
    }
    let mut parts = token.split('.');
    let decode = |p: Option<&str>| -> Option<serde_json::Value> {
        let bytes = URL_SAFE_NO_PAD.decode(p?).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let header = decode(parts.next());
    let claims = decode(parts.next());
    Claimed {
        kid: text(header.as_ref().and_then(|h| h.get("kid"))),
        iss: text(claims.as_ref().and_then(|c| c.get("iss"))),
        sub: text(claims.as_ref().and_then(|c| c.get("sub"))),
        jti: text(claims.as_ref().and_then(|c| c.get("jti"))),
    }
}
