//! Why a token was refused: one typed reason per check, each with a stable
//! machine string (for the ledger, metrics and detectors) and a message.

/// Why a token is not accepted. Never carries token bytes or anything the
/// caller chose beyond a fixed vocabulary, so it is safe to log as is.
///
/// The machine strings of [`Refusal::code`] are stable: detectors and the
/// ledger's access events match on them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The header says `"alg":"none"` (RFC 7518 §3.6): an unsecured JWS.
    #[error("the token is unsigned (alg \"none\")")]
    AlgNone,
    /// The header names an algorithm other than `EdDSA` (HS*, RS*, ES*, …).
    #[error("the token is signed with an algorithm other than EdDSA")]
    WrongAlg,
    /// The Ed25519 signature does not verify under the key named by `kid`.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// `exp` (plus leeway) is not after the current time (RFC 7519 §4.1.4).
    #[error("the token has expired")]
    Expired,
    /// `nbf` or `iat` (minus leeway) is after the current time.
    #[error("the token is not yet valid")]
    NotYetValid,
    /// No key of this authority has this `kid`.
    #[error("the token names a signing key this authority never had")]
    UnknownKid,
    /// The key named by `kid` is retired (rotated out, overlap over, or
    /// retired at once because a custodian left). The signature was checked
    /// and is valid: someone holds a retired private key.
    #[error("the token is signed with a retired key")]
    RetiredKid,
    /// The token is well signed but this authority never issued it: no
    /// issuance record has its `jti`, or the record's subject, key or expiry
    /// differ. This is the forged token of the 2025 breach.
    #[error("the token is well signed but was never issued")]
    NeverIssued,
    /// The token, or every token of its subject, was revoked (RFC 7009).
    #[error("the token has been revoked")]
    Revoked,
    /// The subject is not a known principal or customer.
    #[error("the token's subject is unknown")]
    UnknownSubject,
    /// The subject is suspended.
    #[error("the token's subject is suspended")]
    SuspendedSubject,
    /// The subject has been offboarded.
    #[error("the token's subject has been offboarded")]
    OffboardedSubject,
    /// `iss` is not this authority.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// `aud` does not include the audience the verifier serves.
    #[error("the token is not meant for this audience")]
    WrongAudience,
    /// The token is not a well-formed JWT of this authority; `what` names the
    /// first offending part (a fixed string, never input bytes).
    #[error("the token is malformed: {what}")]
    Malformed {
        /// What is wrong, e.g. `"header: not base64url"`.
        what: &'static str,
    },
    /// A store or feed could not answer (or the verifier's feeds are older
    /// than its staleness bound). Fail closed.
    #[error("the token cannot be checked now: {what}")]
    Unavailable {
        /// What could not answer.
        what: &'static str,
    },
}

impl Refusal {
    /// The stable machine string of this reason.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::AlgNone => "alg_none",
            Refusal::WrongAlg => "wrong_alg",
            Refusal::BadSignature => "bad_signature",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::UnknownKid => "unknown_kid",
            Refusal::RetiredKid => "retired_kid",
            Refusal::NeverIssued => "never_issued",
            Refusal::Revoked => "revoked",
            Refusal::UnknownSubject => "unknown_subject",
            Refusal::SuspendedSubject => "suspended_subject",
            Refusal::OffboardedSubject => "offboarded_subject",
            Refusal::WrongIssuer => "wrong_issuer",
            Refusal::WrongAudience => "wrong_audience",
            Refusal::Malformed { .. } => "malformed",
            Refusal::Unavailable { .. } => "unavailable",
        }
    }

    pub(crate) fn malformed(what: &'static str) -> Self {
        Refusal::Malformed { what }
    }
}
