//! The proof that a token passed every check.

use crate::jwt::Claims;

/// A token that passed every check of the authority's introspection or of
/// an embedded [`crate::Verifier`]. Only those checks can make one (the
/// rustls habit: a passed check leaves a proof in the types).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    kid: String,
    claims: Claims,
}

impl VerifiedToken {
    pub(crate) fn new(kid: String, claims: Claims) -> Self {
        Self { kid, claims }
    }

    /// The key that signed it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Its claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Its subject.
    pub fn sub(&self) -> &str {
        &self.claims.sub
    }

    /// Its token id.
    pub fn jti(&self) -> &str {
        &self.claims.jti
    }
}
