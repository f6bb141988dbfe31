//! `GET /log/…`: the log's checkpoint and tiles, read-only, exactly at the
//! c2sp.org/tlog-tiles URLs.
//!
//! Public, without authentication, by design: the log is built to be
//! verified by outsiders who hold only its public key, and `DIR/log/` holds
//! nothing secret (subjects are keyed pseudonyms, keys live in `DIR/keys/`).
//!
//! Only two kinds of path are served: `checkpoint`, and a tile path that
//! `tlog::TileId::parse_path` accepts *and* that re-renders to exactly the
//! same string. The file read is the rendered path under `DIR/log/`, so no
//! `..`, percent-encoding, symlink name or stray file can be reached. A
//! tile is served only if the published checkpoint covers it: tiles of a
//! commit still being written never leave the server, so nothing partial is
//! cached under a long-lived, immutable URL.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tlog::{TILE_WIDTH, TileId, TileKind};

use crate::app::AppState;
use crate::error::ApiError;

/// Caching for tiles: their content never changes (tlog-tiles: "immutable,
/// so its caching headers SHOULD be long-lived").
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub(crate) async fn get_log(State(state): State<AppState>, req: Request) -> Response {
    let path = req.uri().path().strip_prefix("/log/").unwrap_or_default();
    match serve(&state, path).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn serve(state: &AppState, path: &str) -> Result<Response, ApiError> {
    let (rel, content_type, cache) =
        log_file(path, || state.ledger().map_or(0, |l| l.checkpoint().size()))?;
    let file = state.inner().log_dir.join(&rel);
    let data = tokio::task::spawn_blocking(move || std::fs::read(&file))
        .await
        .map_err(|_| ApiError::internal())?;
    let data = match data {
        Ok(d) => d,
        // A partial tile superseded by its full tile is deleted; clients
        // fall back to the full tile (tlog-tiles), so 404 is the answer.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ApiError::not_found()),
        Err(e) => {
            tracing::error!(file = %rel, error = %e, "cannot read a log file");
            return Err(ApiError::internal());
        }
    };
    let mut resp = (StatusCode::OK, data).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(resp)
}

/// The file under `DIR/log/` that the request path `path` (after `/log/`)
/// names, with its content type and cache policy; `published` gives the
/// size of the published checkpoint, asked only for tiles. 404 unless the
/// path is `checkpoint` or a canonical tile path the checkpoint covers.
pub(crate) fn log_file(
    path: &str,
    published: impl FnOnce() -> u64,
) -> Result<(String, &'static str, &'static str), ApiError> {
    if path == "checkpoint" {
        return Ok((
            "checkpoint".to_owned(),
            "text/plain; charset=utf-8",
            // Mutable: tlog-tiles asks that it not be cached beyond a few
            // seconds; no-store makes every fetch see the latest.
            "no-store",
        ));
    }
    let id = TileId::parse_path(path).map_err(|_| ApiError::not_found())?;
    let rel = id.path();
    if rel != path {
        return Err(ApiError::not_found());
    }
    if !covered(&id, published()) {
        return Err(ApiError::not_found());
    }
    Ok((rel, "application/octet-stream", IMMUTABLE))
}

/// Whether a tree of `size` entries needs (or needed) tile `id`: its last
/// hash covers entries up to `(index·256 + width)·256^level`.
fn covered(id: &TileId, size: u64) -> bool {
    let level = match id.kind {
        TileKind::Hashes { level } => u32::from(level),
        TileKind::Entries => 0,
    };
    let span = 1u64.checked_shl(8 * level);
    let end = id
        .index
        .checked_mul(TILE_WIDTH)
        .and_then(|n| n.checked_add(u64::from(id.width)))
        .zip(span)
        .and_then(|(n, s)| n.checked_mul(s));
    end.is_some_and(|e| e <= size)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn id(p: &str) -> TileId {
        TileId::parse_path(p).unwrap()
    }

    #[test]
    fn coverage() {
        assert!(covered(&id("tile/0/000.p/5"), 5));
        assert!(!covered(&id("tile/0/000.p/6"), 5));
        assert!(covered(&id("tile/0/000"), 256));
        assert!(!covered(&id("tile/0/000"), 255));
        assert!(covered(&id("tile/entries/001.p/1"), 257));
        assert!(!covered(&id("tile/1/000.p/1"), 255));
        assert!(covered(&id("tile/1/000.p/1"), 256));
        assert!(!covered(&id("tile/63/000"), u64::MAX));
    }
}
