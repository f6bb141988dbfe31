//! SCIM errors and their JSON bodies (RFC 7644 §3.12).

use std::fmt;

use serde_json::{Value, json};

/// The error message schema (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType` detail of a 400 error (RFC 7644 §3.12, Table 9), plus the
/// `invalidVers` of 412-style version errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScimType {
    /// The filter syntax is invalid, or an operator does not fit the
    /// attribute type.
    InvalidFilter,
    /// The filter yields more results than the server will process.
    TooMany,
    /// A value is not unique (userName of a User, displayName of a Group).
    Uniqueness,
    /// The operation would modify a readOnly or immutable attribute.
    Mutability,
    /// The request body is not parsable or does not follow the request
    /// schema.
    InvalidSyntax,
    /// The PATCH `path` is invalid or names an attribute that does not exist.
    InvalidPath,
    /// The PATCH path (with a value filter) selected nothing.
    NoTarget,
    /// A required value is missing or a value is not compatible with the
    /// attribute's type or canonical values.
    InvalidValue,
    /// The protocol version in the request is not supported.
    InvalidVers,
    /// A request that is not permitted for security reasons.
    Sensitive,
}

impl ScimType {
    /// The keyword as written in error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SCIM error: an HTTP status, an optional `scimType` and a human-readable
/// detail that names the JSON path of the bad input where there is one.
///
/// The detail never holds store internals: [`crate::StoreError::Unavailable`]
/// becomes a 503 with a fixed text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {}: {detail}", scim_type.map_or("-", ScimType::as_str))]
pub struct ScimError {
    /// HTTP status code (400, 404, 409, 412, 413, 500, 501, 503).
    pub status: u16,
    /// The `scimType` keyword, for 400 (and 409 uniqueness) errors.
    pub scim_type: Option<ScimType>,
    /// What went wrong, with the JSON path of the input where known.
    pub detail: String,
}

impl ScimError {
    /// A 400 error with the given `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ScimError {
            status: 400,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// `invalidValue` at a JSON path.
    pub fn invalid_value(path: &str, detail: impl fmt::Display) -> Self {
        Self::bad_request(ScimType::InvalidValue, at(path, detail))
    }

    /// `invalidSyntax` at a JSON path.
    pub fn invalid_syntax(path: &str, detail: impl fmt::Display) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, at(path, detail))
    }

    /// `mutability` at a JSON path.
    pub fn mutability(path: &str, detail: impl fmt::Display) -> Self {
        Self::bad_request(ScimType::Mutability, at(path, detail))
    }

    /// 404: the resource does not exist.
    pub fn not_found(detail: impl Into<String>) -> Self {
        ScimError {
            status: 404,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// 409 `uniqueness`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        ScimError {
            status: 409,
            scim_type: Some(ScimType::Uniqueness),
            detail: detail.into(),
        }
    }

    /// An error with any status and no `scimType`.
    pub fn status(status: u16, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// The RFC 7644 §3.12 body: `schemas`, `status` as a string, `scimType`
    /// when there is one, `detail`.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert("scimType".into(), Value::String(t.as_str().into()));
        }
        body
    }
}

/// `"path: detail"`, or the detail alone when the path is empty.
pub(crate) fn at(path: &str, detail: impl fmt::Display) -> String {
    if path.is_empty() {
        detail.to_string()
    } else {
        format!("{path}: {detail}")
    }
}
