//! `POST /v1/events`: validate a batch, append it to the ledger, answer once
//! it is durable.
//!
//! Flow, with the bound that keeps memory in check at each step:
//! 1. authenticate (role `ingest`) before reading any of the body;
//! 2. refuse a declared `Content-Length` over `max_body_bytes` (413) without
//!    reading; take permits for the most events such a body could hold
//!    from the in-flight budget (`try_acquire_many`: 429 at once when
//!    exhausted, nothing is ever queued);
//! 3. read the body, stopping with 413 as soon as it passes the limit;
//! 4. parse, validate and encode on the blocking pool (CPU work never runs
//!    on the async workers); any invalid event refuses the whole batch;
//! 5. submit one `EntryBatch` to the ledger (503 if it is overloaded) and
//!    await its `DurablyAppended`; only then answer 200 with the indices.
//!
//! Steps 4–5 run in their own task holding the permits, so a client that
//! disconnects does not free budget its events still use, and shutdown can
//! wait for them.

use std::pin::Pin;
use std::time::Instant;

use axum::Json;
use axum::body::{Body, HttpBody as _};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;

use crate::app::{AppState, BodyConsumed, EventCount};
use crate::auth::{Authorized, IngestPolicy};
use crate::error::ApiError;
use crate::metrics::BatchResult;

/// No valid event is shorter than this (the names of its required members
/// alone take more), so a body of `n` bytes holds at most
/// `n / MIN_EVENT_BYTES + 1` events: the permits taken before parsing.
const MIN_EVENT_BYTES: u64 = 128;

/// Most field errors listed in a 400 (the total is always given).
pub(crate) const MAX_REPORTED_ERRORS: usize = 1_000;

type Failure = (BatchResult, ApiError);

/// Events a body of `len` bytes may hold, capped by the batch limit.
fn estimate(len: u64, max_batch: u32) -> u32 {
    u32::try_from(len / MIN_EVENT_BYTES + 1)
        .unwrap_or(u32::MAX)
        .min(max_batch)
}

pub(crate) async fn post_events(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<IngestPolicy>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let received = Instant::now();
    let mut consumed = false;
    let mut resp = match ingest(&state, &headers, body, received, &mut consumed).await {
        Ok(resp) => resp,
        Err((result, err)) => {
            tracing::debug!(credential = caller.id(), code = err.code(), "batch refused");
            state.metrics().batch(result);
            err.into_response()
        }
    };
    if consumed {
        resp.extensions_mut().insert(BodyConsumed);
    }
    resp
}

async fn ingest(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    received: Instant,
    consumed: &mut bool,
) -> Result<Response, Failure> {
    let cfg = &state.inner().config;
    if state.shutting_down() {
        return Err((
            BatchResult::Unavailable,
            ApiError::unavailable("shutting down"),
        ));
    }
    if let Some(enc) = headers.get(header::CONTENT_ENCODING)
        && !enc.as_bytes().eq_ignore_ascii_case(b"identity")
    {
        return Err((BatchResult::Invalid, ApiError::unsupported_encoding()));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let max = cfg.max_body_bytes;
    if declared.is_some_and(|d| d > max) {
        return Err((BatchResult::TooLarge, ApiError::too_large(max)));
    }
    let want = estimate(declared.unwrap_or(max), cfg.max_batch_events);
    let mut permit = state
        .inner()
        .inflight
        .clone()
        .try_acquire_many_owned(want)
        .map_err(|_| (BatchResult::Throttled, ApiError::throttled()))?;
    let bytes = read_body(body, max, declared).await?;
    *consumed = true;
    shrink(
        &mut permit,
        estimate(bytes.len() as u64, cfg.max_batch_events),
    );
    let task = tokio::spawn(process(state.clone(), bytes, permit, received));
    match task.await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "ingest task failed");
            Err((BatchResult::Unavailable, ApiError::internal()))
        }
    }
}

/// Releases permits beyond `keep`.
fn shrink(permit: &mut OwnedSemaphorePermit, keep: u32) {
    let held = permit.num_permits();
    if (keep as usize) < held {
        drop(permit.split(held - keep as usize));
    }
}

/// Reads the body, failing as soon as it exceeds `max` bytes: never more
/// than `max` bytes are buffered.
async fn read_body(mut body: Body, max: u64, declared: Option<u64>) -> Result<Vec<u8>, Failure> {
    let initial = declared.unwrap_or(64 << 10).min(max);
    let mut buf = Vec::with_capacity(usize::try_from(initial).unwrap_or(0));
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => return Ok(buf),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "reading a request body failed");
                return Err((
                    BatchResult::Invalid,
                    ApiError::bad_request("could not read the request body"),
                ));
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if (buf.len() + data.len()) as u64 > max {
                        return Err((BatchResult::TooLarge, ApiError::too_large(max)));
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
}

/// A validated batch, encoded.
struct Prepared {
    batch: ledger::EntryBatch,
    /// Offset of each event's first entry within the batch.
    offsets: Vec<u64>,
}

async fn process(
    state: AppState,
    body: Vec<u8>,
    mut permit: OwnedSemaphorePermit,
    received: Instant,
) -> Result<Response, Failure> {
    let st = state.clone();
    let prepared = tokio::task::spawn_blocking(move || prepare(&st, &body))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "event validation task failed");
            (BatchResult::Unavailable, ApiError::internal())
        })??;
    let events = prepared.offsets.len();
    let exact = u32::try_from(events).unwrap_or(u32::MAX);
    if (exact as usize) > permit.num_permits() {
        // Cannot happen for valid events (see MIN_EVENT_BYTES); stay within
        // the budget regardless.
        let more = state
            .inner()
            .inflight
            .clone()
            .try_acquire_many_owned(exact - permit.num_permits() as u32)
            .map_err(|_| (BatchResult::Throttled, ApiError::throttled()))?;
        permit.merge(more);
    }
    shrink(&mut permit, exact);

    let entries = prepared.batch.len() as u64;
    let ledger = state.ledger().ok_or((
        BatchResult::Unavailable,
        ApiError::unavailable("shutting down"),
    ))?;
    let pending = ledger
        .submit(prepared.batch)
        .map_err(|e| ledger_error(&state, e))?;
    // The ledger is not needed while waiting (shutdown takes it to close it).
    drop(ledger);
    let ack = pending.await.map_err(|e| ledger_error(&state, e))?;
    if ack.count() != entries {
        tracing::error!(
            expected = entries,
            got = ack.count(),
            "ledger acknowledged a different entry count"
        );
    }
    let first = ack.first_index();
    let indices: Vec<u64> = prepared.offsets.iter().map(|o| first + o).collect();
    state
        .metrics()
        .accepted(events as u64, ack.count(), received.elapsed());
    let body = json!({
        "accepted": events,
        "first_index": first,
        "entry_count": ack.count(),
        "event_indices": indices,
        "checkpoint_size": ack.tree_size(),
    });
    let mut resp = Json(body).into_response();
    resp.extensions_mut().insert(EventCount(events as u64));
    drop(permit);
    Ok(resp)
}

fn ledger_error(state: &AppState, e: ledger::Error) -> Failure {
    match e {
        ledger::Error::Overloaded { queued_bytes } => {
            tracing::warn!(queued_bytes, "ledger overloaded; answering 503");
            (
                BatchResult::Unavailable,
                ApiError::unavailable("the ledger is overloaded; retry later"),
            )
        }
        ledger::Error::Closed => (
            BatchResult::Unavailable,
            ApiError::unavailable("shutting down"),
        ),
        other => {
            tracing::error!(error = %other, "ledger append failed");
            state.mark_ledger_failed();
            (
                BatchResult::Unavailable,
                ApiError::unavailable("the ledger is not accepting appends"),
            )
        }
    }
}

/// Parses, validates and encodes a batch (CPU work: runs on the blocking
/// pool). All-or-nothing: any error refuses the whole batch.
fn prepare(state: &AppState, body: &[u8]) -> Result<Prepared, Failure> {
    let inner = state.inner();
    let now = (inner.clock)();
    let parsed = events::parse_batch(body, now, &inner.limits).map_err(|errors| {
        let total = errors.len();
        let shown: Vec<Value> = errors
            .iter()
            .take(MAX_REPORTED_ERRORS)
            .map(|e| json!({ "event": e.event, "path": e.path, "reason": e.reason.to_string() }))
            .collect();
        let n = shown.len();
        (
            BatchResult::Invalid,
            ApiError::invalid_events(Value::Array(shown), total, n),
        )
    })?;
    let mut batch = ledger::EntryBatch::with_capacity(parsed.len(), body.len());
    let mut offsets = Vec::with_capacity(parsed.len());
    let mut errors = Vec::new();
    for (i, event) in parsed.iter().enumerate() {
        offsets.push(batch.len() as u64);
        let problem = match events::ledger_entries(event, &inner.key) {
            Err(e) => Some(format!("cannot be encoded as a ledger entry: {e}")),
            Ok(entries) => entries.iter().find_map(|entry| {
                batch.push(entry).err().map(|e| match e {
                    ledger::Error::EntryTooLarge { len, .. } => {
                        format!("encodes to a {len}-byte ledger entry, over the 65,535-byte limit")
                    }
                    _ => format!(
                        "the batch needs more than {} ledger entries; send smaller batches",
                        ledger::MAX_BATCH_ENTRIES
                    ),
                })
            }),
        };
        if let Some(reason) = problem {
            errors.push(json!({ "event": i, "path": format!("$[{i}]"), "reason": reason }));
        }
    }
    if !errors.is_empty() {
        let total = errors.len();
        errors.truncate(MAX_REPORTED_ERRORS);
        let n = errors.len();
        return Err((
            BatchResult::Invalid,
            ApiError::invalid_events(Value::Array(errors), total, n),
        ));
    }
    Ok(Prepared { batch, offsets })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_bounds_events() {
        assert_eq!(estimate(0, 10_000), 1);
        assert_eq!(estimate(1_000, 10_000), 8);
        assert_eq!(estimate(32 << 20, 10_000), 10_000);
        assert_eq!(estimate(u64::MAX, 7), 7);
        // The smallest event this server can accept is over MIN_EVENT_BYTES.
        let min = br#"{"time":0,"actor":{"id":"a","kind":"service"},"source":{"ip":"::"},"service":"s","operation":"o","dataset":"d","categories":["name"],"subjects":["x"],"purpose":"p","decision":"deny"}"#;
        assert!(min.len() as u64 > MIN_EVENT_BYTES, "{}", min.len());
        let limits = events::Limits {
            max_age: std::time::Duration::MAX,
            ..events::Limits::default()
        };
        assert!(events::parse_event(min, std::time::SystemTime::now(), &limits).is_ok());
    }
}
