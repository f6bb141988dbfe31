//! Bearer-token authentication and role checks, as an axum extractor.
//!
//! A handler that takes `Authorized<P>` runs only for a request whose
//! `Authorization: Bearer` token is a known, unrevoked credential whose role
//! `P` allows; the value it receives is the proof ([`VerifiedCredential`]
//! can only be made by [`Authenticator::verify`]). Missing or unknown
//! credentials give 401 with `WWW-Authenticate: Bearer`; a valid credential
//! of the wrong role gives 403.
//!
//! The credentials file is re-read whenever it changed (its length, mtime or
//! inode differ from the version loaded), checked with one `stat` per
//! authenticated request: a token issued while the server runs works at
//! once, a revocation applies to the very next request. If the file becomes
//! unreadable or corrupt the server fails closed (503) rather than keep
//! trusting a set that may miss a revocation.

use std::marker::PhantomData;
use std::sync::{Arc, RwLock};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::credentials::{
    CredentialError, CredentialSet, CredentialStore, FileSig, PresentedToken, Role, digests_equal,
    parse_token,
};
use crate::error::ApiError;

/// A credential that presented a valid token. Only
/// [`Authenticator::verify`] makes one.
#[derive(Clone, Debug)]
pub(crate) struct VerifiedCredential {
    id: String,
    role: Role,
    _proof: (),
}

impl VerifiedCredential {
    /// The credential's public id.
    #[must_use]
    pub(crate) fn id(&self) -> &str {
        &self.id
    }
    /// Its role.
    #[must_use]
    pub(crate) fn role(&self) -> Role {
        self.role
    }
}

struct Loaded {
    set: Arc<CredentialSet>,
    sig: Option<FileSig>,
    /// The signature of a version that failed to load (so it is not
    /// re-read on every request), with the failure.
    broken: Option<(Option<FileSig>, String)>,
}

/// Checks bearer tokens against the credentials file.
pub(crate) struct Authenticator {
    store: CredentialStore,
    loaded: RwLock<Loaded>,
    /// Woken when a reload finds admin actions whose ledger entries are
    /// pending (the server's reconciler waits on it).
    pub(crate) pending_actions: tokio::sync::Notify,
}

/// Outcome of [`Authenticator::refresh`].
pub(crate) enum Refresh {
    Unchanged,
    Reloaded,
}

impl Authenticator {
    pub(crate) fn new(store: CredentialStore) -> Result<Authenticator, CredentialError> {
        let (set, sig) = store.load()?;
        Ok(Authenticator {
            store,
            loaded: RwLock::new(Loaded {
                set: Arc::new(set),
                sig,
                broken: None,
            }),
            pending_actions: tokio::sync::Notify::new(),
        })
    }

    pub(crate) fn store(&self) -> &CredentialStore {
        &self.store
    }

    /// The set currently loaded.
    pub(crate) fn current(&self) -> Arc<CredentialSet> {
        Arc::clone(
            &self
                .loaded
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .set,
        )
    }

    /// Re-reads the file if it changed. Errors leave the server failing
    /// closed until the file is readable again.
    pub(crate) fn refresh(&self) -> Result<Refresh, ApiError> {
        let sig = self.store.signature().map_err(|e| self.fail(None, &e))?;
        {
            let l = self
                .loaded
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match &l.broken {
                Some((bad, _)) if *bad == sig => {
                    return Err(ApiError::unavailable("credentials unavailable"));
                }
                None if l.sig == sig => return Ok(Refresh::Unchanged),
                _ => {}
            }
        }
        match self.store.load() {
            Ok((set, sig)) => {
                let mut l = self
                    .loaded
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                l.set = Arc::new(set);
                l.sig = sig;
                if l.broken.take().is_some() {
                    tracing::info!("credentials file readable again");
                }
                tracing::debug!(credentials = l.set.by_id.len(), "credentials reloaded");
                if l.set.has_pending() {
                    self.pending_actions.notify_one();
                }
                Ok(Refresh::Reloaded)
            }
            Err(e) => Err(self.fail(sig, &e)),
        }
    }

    fn fail(&self, sig: Option<FileSig>, e: &CredentialError) -> ApiError {
        let mut l = self
            .loaded
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let msg = e.to_string();
        if l.broken.as_ref().map(|(_, m)| m) != Some(&msg) {
            tracing::error!(error = %msg, "cannot load credentials; refusing all authenticated requests");
        }
        l.broken = Some((sig, msg));
        ApiError::unavailable("credentials unavailable")
    }

    /// Checks an `Authorization` header value.
    pub(crate) fn verify(
        &self,
        authorization: Option<&[u8]>,
    ) -> Result<VerifiedCredential, ApiError> {
        let Some(value) = authorization else {
            return Err(ApiError::unauthorized("missing bearer token"));
        };
        let token = bearer_token(value)
            .ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer <token>`"))?;
        let presented =
            parse_token(token).ok_or_else(|| ApiError::unauthorized("unknown or revoked token"))?;
        self.refresh()?;
        check_token(&self.current(), &presented)
    }
}

/// The token of an `Authorization` header value `Bearer <token>` (the
/// scheme case-insensitive, RFC 6750 §2.1), trimmed; `None` for any other
/// value.
pub(crate) fn bearer_token(value: &[u8]) -> Option<&str> {
    let v = std::str::from_utf8(value).ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Checks a presented token against the credentials `set`: a known,
/// unrevoked credential whose digest and role agree.
pub(crate) fn check_token(
    set: &CredentialSet,
    presented: &PresentedToken<'_>,
) -> Result<VerifiedCredential, ApiError> {
    let cred = set
        .by_id
        .get(presented.id)
        .filter(|c| c.revoked_ms.is_none())
        .ok_or_else(|| ApiError::unauthorized("unknown or revoked token"))?;
    // The digest is compared first and in constant time; the role
    // prefix is only a label and must agree with the stored role.
    if !digests_equal(&cred.digest, &presented.digest) || presented.role != cred.role.as_str() {
        return Err(ApiError::unauthorized("unknown or revoked token"));
    }
    Ok(VerifiedCredential {
        id: presented.id.to_owned(),
        role: cred.role,
        _proof: (),
    })
}

/// Which roles may use an endpoint.
pub(crate) trait Policy: Send + Sync + 'static {
    /// The roles allowed.
    const ROLES: &'static [Role];
    /// What the endpoint does, for the 403 message.
    const WHAT: &'static str;
}

/// `POST /v1/events`: ingest only (admin does not imply it).
pub(crate) struct IngestPolicy;
impl Policy for IngestPolicy {
    const ROLES: &'static [Role] = &[Role::Ingest];
    const WHAT: &'static str = "sending events needs a credential with role ingest";
}

/// `/metrics`: admin, auditor or analyst.
pub(crate) struct ObservePolicy;
impl Policy for ObservePolicy {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Auditor, Role::Analyst];
    const WHAT: &'static str = "metrics need a credential with role admin, auditor or analyst";
}

/// A request authenticated with a credential whose role `P` allows.
pub(crate) struct Authorized<P: Policy>(pub(crate) VerifiedCredential, pub(crate) PhantomData<P>);

impl<P: Policy> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(axum::http::HeaderValue::as_bytes);
        let cred = state.auth().verify(header)?;
        if !P::ROLES.contains(&cred.role) {
            tracing::info!(credential = cred.id(), role = %cred.role(), "role not allowed");
            return Err(ApiError::forbidden(P::WHAT));
        }
        if let Some(slot) = parts.extensions.get::<CallerSlot>() {
            let _ = slot.0.set(cred.id.clone());
        }
        Ok(Authorized(cred, PhantomData))
    }
}

/// Where the extractor leaves the authenticated credential id for the
/// request log (the logging middleware puts an empty slot in the request).
#[derive(Clone, Debug, Default)]
pub(crate) struct CallerSlot(pub(crate) Arc<std::sync::OnceLock<String>>);
