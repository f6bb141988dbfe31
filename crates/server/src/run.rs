//! Opening, serving and shutting down.
//!
//! Shutdown order (nothing acknowledged is lost, nothing accepted is
//! dropped): mark the server as shutting down (`/readyz` and new batches get
//! 503); stop accepting connections and let in-flight requests finish —
//! their ledger appends complete and are acknowledged — for at most
//! `shutdown_timeout`; wait for ingest tasks whose clients went away; log
//! any pending admin actions; then `Ledger::close`, which commits
//! everything the ledger accepted before returning.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use crate::app::{self, AppState, Clock};
use crate::auth::Authenticator;
use crate::config::{Config, ConfigError};
use crate::credentials::{CredentialError, CredentialStore};

/// Why the server could not start, or stopped badly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data directory holds no ledger.
    #[error(
        "no ledger in {}: create one with `custos ledger init --data {} --origin ORIGIN`",
        .0.display(), .0.display()
    )]
    NoLedger(PathBuf),
    /// The ledger could not be opened or closed cleanly.
    #[error("ledger: {0}")]
    Ledger(#[from] ledger::Error),
    /// The subject pseudonymisation key could not be loaded or created.
    #[error("subject key: {0}")]
    SubjectKey(#[from] events::KeyError),
    /// The credentials file is unreadable or corrupt.
    #[error("credentials: {0}")]
    Credentials(#[from] CredentialError),
    /// The metadata database (`DATA/meta/custos.db`, the SCIM directory)
    /// could not be opened.
    #[error("metadata database: {0}")]
    Store(#[from] store::OpenError),
    /// The token authority (its keys or stores) or the directory could not
    /// be opened.
    #[error("token authority: {0}")]
    Token(String),
    /// The grants could not be loaded.
    #[error("grants: {0}")]
    Grants(String),
    /// The detection file (`detect_config`) is unusable.
    #[error("detection config: {0}")]
    Detect(String),
    /// The forensic index or the subject registry could not be opened.
    #[error("forensic index: {0}")]
    Forensics(String),
    /// The governance file (`govern_config`) is unusable.
    #[error("governance file: {0}")]
    Govern(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Another I/O failure (runtime, threads, the listener).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
}

fn io_err(what: &'static str) -> impl FnOnce(std::io::Error) -> ServerError {
    move |source| ServerError::Io { what, source }
}

/// A server with its ledger open, ready to serve.
pub struct Server {
    state: AppState,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("data", &self.state.inner().config.data)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the ledger in `config.data` for writing (taking its writer
    /// lock), the subject key (created if missing), the credentials and the
    /// metadata database (`DATA/meta/custos.db`, created if missing: the
    /// SCIM directory), and appends any admin actions still pending to the
    /// ledger.
    pub fn open(config: Config) -> Result<Server, ServerError> {
        Server::open_with_clock(config, Arc::new(SystemTime::now))
    }

    /// [`Server::open`] with an injected clock for event-time checks.
    pub fn open_with_clock(config: Config, clock: Clock) -> Result<Server, ServerError> {
        config.validate()?;
        let data = config.data.clone();
        if !data.join("log").join("checkpoint").is_file() {
            return Err(ServerError::NoLedger(data));
        }
        let ledger = ledger::Ledger::open(&data, ledger::LedgerOptions::default())?;
        let key = events::SubjectKey::load_or_create(&events::subject_key_path(&data))?;
        let auth = Authenticator::new(CredentialStore::new(&data))?;
        let db = store::Database::open_data_dir(&data)?;
        let scim = crate::scim_routes::ScimState::new(store::SqliteScimStore::new(&db)?);
        let (tokens, startup_changes) = open_tokens(&config, &ledger, &db, clock.clone())?;
        let grants = crate::grants::GrantState::open(&db)?;
        let settings = match &config.detect_config {
            Some(p) => detect::settings::Settings::load(p)
                .map_err(|e| ServerError::Detect(e.to_string()))?,
            None => detect::settings::Settings::default(),
        };
        if let Some(dir) = &settings.rules {
            // Refuse to start on rules that do not load (later reloads that
            // fail keep the rules in force instead).
            detect::sigma::RuleSet::load_dir(dir)
                .map_err(|e| ServerError::Detect(e.to_string()))?;
        }
        let alerts = crate::alerts::AlertState::new(store::SqliteAlertStore::new(&db)?, settings);
        let cases = crate::cases::CaseState::open(&data, &db)?;
        let govern =
            crate::govern_routes::GovernState::open(config.govern_config.as_deref(), &data, &db)?;
        let state = AppState::new(
            config, ledger, key, auth, clock, scim, tokens, grants, alerts, cases, govern,
        );
        if let Some(l) = state.ledger() {
            reconcile(&state, &l)?;
            // A first signing key made at start is a lifecycle change like
            // any other: on the record before the server answers anything.
            let entries = crate::tokens::lifecycle_entries(
                &state,
                &startup_changes,
                &crate::record::Actor::system(),
                crate::record::now_ms(&state),
            );
            if !entries.is_empty() {
                let mut batch = ledger::EntryBatch::new();
                for e in &entries {
                    batch.push(e)?;
                }
                l.submit_blocking(batch)?.wait()?;
            }
        }
        Ok(Server { state })
    }

    /// The application as an axum `Router` (for driving it in-process).
    /// SCIM URLs (`Location`, `meta.location`) use the configured listen
    /// address unless [`Server::serve`] already fixed the bound one.
    pub fn router(&self) -> axum::Router {
        let listen = self.state.inner().config.listen;
        self.state.inner().scim.init(&format!("http://{listen}"));
        app::router(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` completes, then shuts down
    /// gracefully (see the module docs) and closes the ledger.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let state = self.state;
        let cfg = state.inner().config.clone();
        let addr = listener.local_addr().map_err(io_err("listener address"))?;
        tracing::info!(
            listen = %addr,
            data = %cfg.data.display(),
            checkpoint_size = state.ledger().map_or(0, |l| l.checkpoint().size()),
            max_body_bytes = cfg.max_body_bytes,
            max_inflight_events = cfg.max_inflight_events,
            max_event_age_secs = cfg.max_event_age.map(|d| d.as_secs()),
            "custos server listening"
        );
        let (stop_tx, stop_rx) = watch::channel(false);
        let watcher = tokio::spawn(watch_credentials(state.clone(), stop_rx.clone()));
        let ticker = tokio::spawn(token_ticks(state.clone(), stop_rx.clone()));
        let detector = tokio::spawn(crate::detect_task::detect_loop(
            state.clone(),
            stop_rx.clone(),
        ));
        let deliverer = tokio::spawn(crate::alerts::deliver_loop(state.clone(), stop_rx.clone()));
        let indexer = tokio::spawn(crate::cases::index_loop(state.clone(), stop_rx.clone()));
        let governor = tokio::spawn(crate::govern_routes::govern_loop(
            state.clone(),
            stop_rx.clone(),
        ));
        let mut drain = stop_rx;
        state.inner().scim.init(&format!("http://{addr}"));
        let app = app::router(state.clone());
        let mut http = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = drain.wait_for(|s| *s).await;
                })
                .await
        });
        let http_done = tokio::select! {
            () = shutdown => false,
            r = &mut http => {
                tracing::error!(result = ?r, "the HTTP server stopped by itself");
                true
            }
        };
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        state.begin_shutdown();
        let _ = stop_tx.send(true);
        let deadline = tokio::time::Instant::now() + cfg.shutdown_timeout;
        if !http_done {
            match tokio::time::timeout_at(deadline, &mut http).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::error!(error = %e, "HTTP server error"),
                Ok(Err(e)) => tracing::error!(error = %e, "HTTP server task failed"),
                Err(_) => {
                    tracing::warn!(
                        timeout_secs = cfg.shutdown_timeout.as_secs(),
                        "shutdown timeout: closing the remaining connections"
                    );
                    http.abort();
                }
            }
        }
        // Ingest tasks hold their permits until acknowledged, even when
        // their client went away: all permits back means none in flight.
        let all = state.inner().inflight.clone();
        if tokio::time::timeout_at(deadline, all.acquire_many_owned(cfg.max_inflight_events))
            .await
            .is_err()
        {
            tracing::warn!(
                "shutdown timeout: ingest still in flight; the ledger commits what it accepted"
            );
        }
        let _ = watcher.await;
        let _ = ticker.await;
        let _ = detector.await;
        let _ = deliverer.await;
        let _ = indexer.await;
        let _ = governor.await;
        let Some(ledger) = state.take_ledger() else {
            return Ok(());
        };
        {
            let (st, l) = (state.clone(), Arc::clone(&ledger));
            match tokio::task::spawn_blocking(move || reconcile(&st, &l)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "logging pending admin actions failed"),
                Err(e) => tracing::error!(error = %e, "logging pending admin actions failed"),
            }
        }
        let ledger = sole_owner(ledger).await;
        let size = ledger.as_ref().map(|l| l.checkpoint().size());
        let closed = tokio::task::spawn_blocking(move || ledger.map(ledger::Ledger::close))
            .await
            .map_err(|e| ServerError::Io {
                what: "closing the ledger",
                source: std::io::Error::other(e.to_string()),
            })?;
        match closed {
            Some(Err(e)) => {
                tracing::error!(error = %e, "closing the ledger failed");
                Err(e.into())
            }
            _ => {
                tracing::info!(checkpoint_size = size, "ledger closed; server stopped");
                Ok(())
            }
        }
    }
}

/// Waits until `ledger` is the only reference (short-lived clones end with
/// the requests holding them), so it can be closed explicitly; gives up
/// after a few seconds, leaving the last holder's drop to close it.
async fn sole_owner(mut ledger: Arc<ledger::Ledger>) -> Option<ledger::Ledger> {
    for _ in 0..500 {
        match Arc::try_unwrap(ledger) {
            Ok(l) => return Some(l),
            Err(l) => ledger = l,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tracing::warn!("the ledger is still referenced; it will close when released");
    None
}

/// Appends pending admin actions to the ledger (blocking).
fn reconcile(state: &AppState, ledger: &ledger::Ledger) -> Result<(), CredentialError> {
    let store = state.auth().store();
    let done = store.log_pending(ledger, &state.inner().config.data, "server")?;
    for a in &done {
        tracing::info!(
            target: "custos::admin",
            action = %a.action,
            operation = a.operation,
            credential = %a.credential,
            index = a.index,
            appended = a.appended,
            "admin action recorded in the ledger"
        );
    }
    state
        .metrics()
        .admin_logged(done.iter().filter(|a| a.appended).count() as u64);
    Ok(())
}

/// Every half second, and whenever a request's reload of the credentials
/// file finds pending admin actions: reload the file if it changed, and log
/// admin actions recorded while the server holds the ledger.
async fn watch_credentials(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_error: Option<String> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = state.auth().pending_actions.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if state.auth().refresh().is_err() || !state.auth().current().has_pending() {
            continue;
        }
        let Some(ledger) = state.ledger() else {
            return;
        };
        let st = state.clone();
        let result = tokio::task::spawn_blocking(move || reconcile(&st, &ledger)).await;
        let err = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if err.is_some() && err != last_error {
            tracing::error!(
                error = err.as_deref(),
                "logging pending admin actions failed; will retry"
            );
        }
        last_error = err;
    }
}

/// The token authority's clock: the server's injected clock.
struct TokenClock(Clock);
impl token::Clock for TokenClock {
    fn now_millis(&self) -> u64 {
        (self.0)()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// Opens the token authority (keys under `DATA/keys/token/`, issuance and
/// revocation records in the metadata database) and the directory; makes a
/// first signing key if there is none. Returns the changes to record.
fn open_tokens(
    config: &Config,
    ledger: &ledger::Ledger,
    db: &store::Database,
    clock: Clock,
) -> Result<(crate::tokens::TokenState, Vec<token::Lifecycle>), ServerError> {
    let origin = ledger.origin().to_owned();
    let authority_config = config
        .authority_config(&format!("urn:custos:{origin}"))
        .map_err(|e| ServerError::Token(e.to_string()))?;
    let keys = token::FileKeyStore::open(config.data.join("keys").join("token"))
        .map_err(|e| ServerError::Token(e.to_string()))?;
    let authority = token::Authority::open(
        authority_config,
        Arc::new(TokenClock(clock)),
        Arc::new(keys),
        Arc::new(store::SqliteIssuanceStore::new(db)?),
        Arc::new(
            token::IndexedRevocationStore::open(store::SqliteRevocationStore::new(db)?)
                .map_err(|e| ServerError::Token(e.to_string()))?,
        ),
    )
    .map_err(|e| ServerError::Token(e.to_string()))?;
    let changes = authority
        .ensure_current_key(&[])
        .map_err(|e| ServerError::Token(e.to_string()))?;
    let directory = crate::directory::Directory::load(store::SqliteDirectoryStore::new(db)?)
        .map_err(|e| ServerError::Token(e.to_string()))?;
    Ok((
        crate::tokens::TokenState {
            authority: Arc::new(authority),
            directory: Arc::new(directory),
            lifecycle_lock: tokio::sync::Mutex::new(()),
        },
        changes,
    ))
}

/// Every second: the token authority's scheduled rotation.
async fn token_ticks(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        crate::tokens::tick(&state).await;
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!(signal = "SIGINT", "signal received"),
        () = terminate => tracing::info!(signal = "SIGTERM", "signal received"),
    }
}

/// How [`start_with`] runs the server.
#[derive(Clone)]
#[non_exhaustive]
pub struct StartOptions {
    /// The clock for event-time checks (default: the system clock).
    pub clock: Clock,
    /// Shut down on SIGINT/SIGTERM (default: false — a library should not
    /// take over the process's signals; `custos serve` sets it).
    pub handle_signals: bool,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            clock: Arc::new(SystemTime::now),
            handle_signals: false,
        }
    }
}

impl std::fmt::Debug for StartOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartOptions")
            .field("handle_signals", &self.handle_signals)
            .finish_non_exhaustive()
    }
}

/// A server running on its own runtime and thread.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), ServerError>>>,
}

/// Opens the server (see [`Server::open`]), binds `config.listen` and serves
/// on a runtime of its own until [`RunningServer::shutdown`].
pub fn start(config: Config) -> Result<RunningServer, ServerError> {
    start_with(config, StartOptions::default())
}

/// [`start`] with options.
pub fn start_with(config: Config, opts: StartOptions) -> Result<RunningServer, ServerError> {
    let listen = config.listen;
    let workers = config.workers;
    let server = Server::open_with_clock(config, opts.clock)?;
    let listener = std::net::TcpListener::bind(listen).map_err(|source| ServerError::Bind {
        addr: listen,
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(io_err("configuring the listener"))?;
    let addr = listener.local_addr().map_err(io_err("listener address"))?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all().thread_name("custos-http");
    if let Some(n) = workers {
        rt.worker_threads(n);
    }
    let rt = rt.build().map_err(io_err("starting the async runtime"))?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle_signals = opts.handle_signals;
    let thread = std::thread::Builder::new()
        .name("custos-server".into())
        .spawn(move || {
            let result = rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .map_err(io_err("registering the listener"))?;
                let shutdown = async move {
                    if handle_signals {
                        tokio::select! {
                            _ = stop_rx => {}
                            () = shutdown_signal() => {
                                // A second signal while draining exits at
                                // once: safe, since nothing is acknowledged
                                // before it is durable and the ledger
                                // recovers from a crash at any point.
                                tokio::spawn(async {
                                    shutdown_signal().await;
                                    tracing::warn!("second signal: exiting without draining");
                                    std::process::exit(130);
                                });
                            }
                        }
                    } else {
                        // Dropping the handle also stops the server.
                        let _ = stop_rx.await;
                    }
                };
                server.serve(listener, shutdown).await
            });
            rt.shutdown_timeout(Duration::from_secs(5));
            result
        })
        .map_err(io_err("spawning the server thread"))?;
    Ok(RunningServer {
        addr,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

impl RunningServer {
    /// The address actually bound (the real port when `listen` had port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Shuts down gracefully and waits until the ledger is closed.
    pub fn shutdown(mut self) -> Result<(), ServerError> {
        self.stop.take();
        self.join()
    }

    /// Waits until the server stops (on a signal, with
    /// [`StartOptions::handle_signals`]).
    pub fn wait(mut self) -> Result<(), ServerError> {
        self.join()
    }

    fn join(&mut self) -> Result<(), ServerError> {
        let started = Instant::now();
        let Some(t) = self.thread.take() else {
            return Ok(());
        };
        let r = t.join().unwrap_or_else(|_| {
            Err(ServerError::Io {
                what: "server thread",
                source: std::io::Error::other("panicked"),
            })
        });
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "server thread joined"
        );
        r
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop.take();
        let _ = self.join();
    }
}
