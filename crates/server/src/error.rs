//! The one error type at the HTTP boundary.
//!
//! Every failure becomes an [`ApiError`]: a status, a stable machine code,
//! a message written for the client, and optional structured detail. Its
//! body never carries internals (paths, OS errors, ledger state, tokens):
//! whoever builds an `ApiError` from an internal error logs the internal
//! error server-side and puts only a generic message in the response.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Seconds a client should wait after 429 (the in-flight budget frees up as
/// soon as a commit completes, typically within milliseconds).
pub(crate) const RETRY_AFTER_THROTTLED: u64 = 1;
/// Seconds a client should wait after 503 from an overloaded ledger or a
/// server shutting down.
pub(crate) const RETRY_AFTER_UNAVAILABLE: u64 = 2;

/// An HTTP error response: `{"error": code, "message": …, …detail}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Boxed: keeps `Result<_, ApiError>` small (clippy `result_large_err`;
    /// serde_json's `Value` is larger with `preserve_order`, which Cedar turns on).
    detail: Option<Box<Value>>,
    retry_after: Option<u64>,
    challenge: bool,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            detail: None,
            retry_after: None,
            challenge: false,
        }
    }

    /// 401 with `WWW-Authenticate: Bearer`.
    pub(crate) fn unauthorized(message: &str) -> ApiError {
        let mut e = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
        e.challenge = true;
        e
    }

    /// 403: authenticated, but the role may not do this.
    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub(crate) fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// 405.
    pub(crate) fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this resource",
        )
    }

    /// 400 for a request that is not an event batch at all.
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 400 listing the invalid events (capped, with the total).
    pub(crate) fn invalid_events(errors: Value, total: usize, shown: usize) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_events",
            format!(
                "the batch was refused whole ({total} error{}); nothing was recorded",
                if total == 1 { "" } else { "s" }
            ),
        );
        e.detail = Some(Box::new(json!({
            "errors": errors,
            "error_count": total,
            "truncated": shown < total,
        })));
        e
    }

    /// 413.
    pub(crate) fn too_large(max: u64) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body exceeds {max} bytes; send smaller batches"),
        );
        e.detail = Some(Box::new(json!({ "max_body_bytes": max })));
        e
    }

    /// 415.
    pub(crate) fn unsupported_encoding() -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Encoding is not supported; send an uncompressed body",
        )
    }

    /// 422: well formed, but cannot be done (`code` says why).
    pub(crate) fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 409: conflicts with the current state.
    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// 400 with a list of `{path, reason}` errors.
    pub(crate) fn invalid_fields(message: impl Into<String>, errors: Value) -> ApiError {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message);
        e.detail = Some(Box::new(json!({ "errors": errors })));
        e
    }

    /// 429 + `Retry-After`.
    pub(crate) fn throttled() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "too many events in flight; retry later",
        );
        e.retry_after = Some(RETRY_AFTER_THROTTLED);
        e
    }

    /// 503 + `Retry-After`.
    pub(crate) fn unavailable(message: &str) -> ApiError {
        let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message);
        e.retry_after = Some(RETRY_AFTER_UNAVAILABLE);
        e
    }

    /// 500, for a failure whose detail was logged server-side.
    pub(crate) fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server log has the details",
        )
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable code (`"unauthorized"`, `"invalid_events"`, …).
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message for the client.
    #[must_use]
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl ApiError {
    /// The same error as an RFC 7644 §3.12 SCIM error body (`schemas`,
    /// `status` as a string, `detail`), served as `application/scim+json`
    /// with the same headers (`WWW-Authenticate`, `Retry-After`).
    pub(crate) fn into_scim_response(self) -> Response {
        let body = scim::ScimError::status(self.status.as_u16(), self.message.clone()).to_json();
        let mut resp = (self.status, Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(scim::CONTENT_TYPE),
        );
        self.add_headers(resp)
    }

    fn add_headers(&self, mut resp: Response) -> Response {
        let h = resp.headers_mut();
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.challenge {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"custos\""),
            );
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code, "message": self.message });
        if let (Some(Value::Object(detail)), Some(obj)) =
            (self.detail.clone().map(|d| *d), body.as_object_mut())
        {
            obj.extend(detail);
        }
        let resp = (self.status, Json(body)).into_response();
        self.add_headers(resp)
    }
}
