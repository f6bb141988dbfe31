//! Typed errors. Problems with outside input carry the path of the field.

/// The governance file or a JSON body was refused: the first problem, with
/// the path of the field at fault (`suppliers[0].contract.max_access_validity_days`,
/// `$.due`, …) and the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ParseError {
    /// Where: the field path (`(syntax)` for a syntax error, with its line).
    pub path: String,
    /// What is wrong, in words.
    pub reason: String,
}

/// A serde path as a JSON path: `$`, `$.a.b`, `$[0]`, `$.a[2].b`.
pub(crate) fn json_path(p: &serde_path_to_error::Path) -> String {
    let s = p.to_string();
    if s == "." || s.is_empty() {
        "$".to_owned()
    } else if s.starts_with('[') {
        format!("${s}")
    } else {
        format!("$.{s}")
    }
}

impl ParseError {
    pub(crate) fn at(path: impl Into<String>, reason: impl Into<String>) -> ParseError {
        ParseError {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Why a remediation finding cannot change as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionError {
    /// The status machine does not allow this move (`from` → `to`).
    #[error("a finding cannot go from {from} to {to}")]
    NotAllowed {
        /// The current status.
        from: &'static str,
        /// The status asked for.
        to: &'static str,
    },
    /// Resolving needs evidence of the fix; accepting a risk needs a reason.
    #[error("{0}")]
    NoteRequired(&'static str),
    /// A risk is accepted by someone other than the finding's owner.
    #[error("the owner cannot accept their own finding's risk")]
    SelfAcceptance,
    /// `by` is empty or has control characters.
    #[error("invalid actor identifier")]
    InvalidActor,
}
