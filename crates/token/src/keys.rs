//! Signing keys: created inside, never exported, with custodians and states.
//!
//! Life of a key: **current** (signs new tokens) → **retiring** (no longer
//! signs; still verifies until `until`, the overlap that lets tokens issued
//! just before a rotation live out their lifetime) → **retired** (neither
//! signs nor verifies; listed nowhere). A key leaves `current` on schedule
//! (default daily), on demand, or at once — skipping the overlap — when one
//! of its custodians is offboarded. The private half is erased as soon as a
//! key stops being current: only the current key's secret exists anywhere.

use std::collections::BTreeSet;
use std::fmt;

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand_core::OsRng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::jwt::b64e;

/// The private half of a signing key. Opaque: it has no accessor, no
/// `Serialize`, and its `Debug` prints nothing secret. Only this crate signs
/// with it; a key store outside this crate could not read it, which is why
/// the stores that persist it live here (see [`crate::KeyStore`]).
#[derive(Clone)]
pub struct KeyMaterial(SigningKey);

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial(<secret>)")
    }
}

impl KeyMaterial {
    /// A fresh key from the operating system's CSPRNG.
    pub(crate) fn generate() -> Self {
        Self(SigningKey::generate(&mut OsRng))
    }

    /// For the fuzzing fixture and in-crate stores only.
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.0
    }

    /// The 32-byte seed, for the file store only.
    pub(crate) fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub(crate) fn public(&self) -> VerifyingKey {
        self.0.verifying_key()
    }
}

/// Where a key is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KeyState {
    /// Signs new tokens. At most one key is current.
    Current,
    /// Verifies only, until `until_ms` (then it counts as retired).
    Retiring {
        /// End of the overlap, milliseconds since the epoch.
        until_ms: u64,
    },
    /// Neither signs nor verifies.
    Retired {
        /// When, milliseconds since the epoch.
        at_ms: u64,
        /// Why.
        reason: RetireReason,
    },
}

/// Why a key was retired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetireReason {
    /// Its overlap after a rotation ended.
    OverlapEnded,
    /// A custodian was offboarded: retired without overlap.
    CustodianOffboarded,
    /// An operator retired it at once.
    OnDemand,
}

/// A key as stored: public metadata plus, while current, the private half.
#[derive(Clone, Debug)]
pub struct KeyRecord {
    /// RFC 7638 JWK thumbprint of the public key.
    pub kid: String,
    /// The Ed25519 public key.
    pub public: [u8; 32],
    /// Lifecycle state.
    pub state: KeyState,
    /// Creation time, milliseconds since the epoch.
    pub created_ms: u64,
    /// Principal ids that have (had) custody of the key material.
    pub custodians: BTreeSet<String>,
    /// The private half; `None` once the key is no longer current.
    pub material: Option<KeyMaterial>,
}

impl KeyRecord {
    pub(crate) fn new(
        material: KeyMaterial,
        created_ms: u64,
        custodians: BTreeSet<String>,
    ) -> Self {
        let public = material.public().to_bytes();
        Self {
            kid: thumbprint(&public),
            public,
            state: KeyState::Current,
            created_ms,
            custodians,
            material: Some(material),
        }
    }

    /// The state at `now_ms`: a retiring key past its overlap counts as
    /// retired even before the authority's next tick records it.
    pub fn state_at(&self, now_ms: u64) -> KeyState {
        match self.state {
            KeyState::Retiring { until_ms } if now_ms >= until_ms => KeyState::Retired {
                at_ms: until_ms,
                reason: RetireReason::OverlapEnded,
            },
            ref s => s.clone(),
        }
    }

    /// Whether tokens signed by this key verify at `now_ms`.
    pub fn verifies_at(&self, now_ms: u64) -> bool {
        matches!(
            self.state_at(now_ms),
            KeyState::Current | KeyState::Retiring { .. }
        )
    }

    /// The public, non-secret view.
    pub fn info(&self) -> KeyInfo {
        KeyInfo {
            kid: self.kid.clone(),
            public: b64e(&self.public),
            state: self.state.clone(),
            created_ms: self.created_ms,
            custodians: self.custodians.iter().cloned().collect(),
        }
    }
}

/// What the API shows of a key: never the private half.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// Key id.
    pub kid: String,
    /// base64url public key.
    pub public: String,
    /// Lifecycle state.
    #[serde(flatten)]
    pub state: KeyState,
    /// Creation time, milliseconds since the epoch.
    pub created_ms: u64,
    /// Custodians.
    pub custodians: Vec<String>,
}

/// RFC 7638 §3 JWK thumbprint of an Ed25519 key (members in lexicographic
/// order, no whitespace; RFC 8037 §2 members `crv`, `kty`, `x`), base64url:
/// the `kid`. Anyone holding the JWK can recompute it.
pub fn thumbprint(public: &[u8; 32]) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64e(public));
    b64e(&Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::jwt::b64d;

    #[test]
    fn rfc8037_a3_thumbprint() {
        let x: [u8; 32] = b64d("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            thumbprint(&x),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
