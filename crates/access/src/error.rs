//! Typed errors. Input problems carry the JSON path of the field.

use std::fmt;

/// One problem with one field of outside input.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The JSON path of the field, e.g. `$.valid_until` or `$.categories[2]`.
    pub path: String,
    /// What is wrong with it, in words.
    pub reason: String,
}

/// A grant or authorization request was refused: every problem found, each
/// with its JSON path (never only the first).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct GrantError {
    /// The problems, in field order; never empty.
    pub problems: Vec<Problem>,
}

impl GrantError {
    pub(crate) fn one(path: &str, reason: impl Into<String>) -> GrantError {
        GrantError {
            problems: vec![Problem {
                path: path.to_owned(),
                reason: reason.into(),
            }],
        }
    }
}

impl fmt::Display for GrantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", p.path, p.reason)?;
        }
        Ok(())
    }
}

/// Why [`approve`](crate::approve) refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApprovalError {
    /// The approver is the one who requested the grant (four eyes).
    #[error("the requester cannot approve their own request")]
    SelfApproval,
    /// The approver is the principal the grant is for.
    #[error("the holder cannot approve a grant to themselves")]
    HolderApproval,
    /// The grant has been revoked.
    #[error("the grant is revoked")]
    Revoked,
    /// The grant's validity has ended.
    #[error("the grant has expired")]
    Expired,
    /// The grant is already approved.
    #[error("the grant is already approved")]
    AlreadyApproved,
    /// The approver identifier is empty or not an identifier.
    #[error("invalid approver identifier")]
    InvalidApprover,
}

/// Why [`revoke`](crate::revoke) refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevokeError {
    /// The grant was revoked before; the first revocation stands.
    #[error("the grant is already revoked")]
    AlreadyRevoked,
    /// `by` is empty or not an identifier.
    #[error("invalid revoker identifier")]
    InvalidRevoker,
    /// `reason` is empty, too long or has control characters.
    #[error("invalid reason (1-256 bytes, no control characters)")]
    InvalidReason,
}

/// Why the [`Engine`](crate::Engine) refused a grant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A grant field does not have the shape parse-time validation
    /// enforces (for grants that did not come through
    /// [`parse_grant_request`](crate::parse_grant_request), e.g. from a store).
    #[error("grant {id:?}: {problem}")]
    InvalidGrant {
        /// The grant id (as given).
        id: String,
        /// What is wrong.
        problem: String,
    },
    /// Cedar refused the generated policy (a bug: validation should have
    /// stopped anything Cedar cannot parse).
    #[error("grant {id:?}: cedar: {detail}")]
    Policy {
        /// The grant id.
        id: String,
        /// Cedar's words.
        detail: String,
    },
}

/// A grant store failed; the operation may or may not have taken effect
/// (see each method's contract on [`GrantStore`](crate::GrantStore)).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("grant store: {0}")]
pub struct StoreError(pub String);
