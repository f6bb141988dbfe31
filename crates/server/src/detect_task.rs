//! The detector task: tails the ledger in index order through the
//! [`detect::Engine`] (and the Sigma rules, if configured), raises what it
//! finds as alerts ([`crate::alerts::raise`]), and checkpoints the engine's
//! state to `DATA/detect/engine.json` once the alerts of everything before
//! the checkpoint are recorded. After a restart it resumes from the
//! checkpoint; without one (lost, corrupt, or from another version) it
//! rebuilds the state by replaying the ledger from index 0 — alerts already
//! raised are recognised by their finding's uid and not raised twice.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use detect::sigma::RuleWatcher;
use detect::{Context, Engine};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::app::AppState;
use crate::record::now_ms;

/// Most entries processed between two looks at shutdown and two alert
/// batches.
const CHUNK: u64 = 100_000;
/// The detectors' clock follows the entries' own times; it is moved to the
/// server's clock (windows close, days roll over) only once the ledger has
/// been idle this long — while entries flow, a jump to "now" would count
/// a backfill's older entries at the wrong minute.
const IDLE_TICK: Duration = Duration::from_secs(2);
/// Checkpoint at most this often while entries flow.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

/// What the server's directory tells the detectors: peer groups.
struct ServerContext {
    directory: Arc<crate::directory::Directory>,
}

impl Context for ServerContext {
    fn peer_group(&self, principal: &str) -> Option<String> {
        let p = self.directory.principal(principal)?;
        let kind = match p.kind {
            access::PrincipalKind::Service => "service",
            access::PrincipalKind::SupplierStaff => "supplier_staff",
            _ => "employee",
        };
        let unit = p.supplier.or(p.department)?;
        let role = p.groups.first().cloned().unwrap_or_default();
        Some(format!("{kind}/{unit}/{role}"))
    }
}

#[derive(Serialize, Deserialize)]
struct Saved {
    v: u32,
    checkpoint: detect::Checkpoint,
}

const SAVED_VERSION: u32 = 1;

/// `DATA/detect/engine.json`.
pub(crate) fn checkpoint_path(data: &Path) -> PathBuf {
    data.join("detect").join("engine.json")
}

fn new_engine(state: &AppState) -> Engine {
    let ctx = ServerContext {
        directory: Arc::clone(&state.inner().tokens.directory),
    };
    Engine::new(state.inner().alerts.settings.engine.clone(), Box::new(ctx))
}

fn with_rules(state: &AppState) -> (Engine, Option<RuleWatcher>) {
    let mut engine = new_engine(state);
    let mut watcher = None;
    if let Some(dir) = &state.inner().alerts.settings.rules {
        match RuleWatcher::new(dir) {
            Ok((w, rules)) => {
                tracing::info!(rules = rules.len(), dir = %dir.display(), "Sigma rules loaded");
                engine.set_rules(rules);
                watcher = Some(w);
            }
            Err(e) => tracing::error!(error = %e, "Sigma rules not loaded"),
        }
    }
    (engine, watcher)
}

/// The engine (with the Sigma rules of the detection file, watched for
/// changes) from the checkpoint, or a fresh one (replaying from 0).
fn load(state: &AppState) -> (Engine, Option<RuleWatcher>) {
    let (mut engine, watcher) = with_rules(state);
    let path = checkpoint_path(&state.inner().config.data);
    match std::fs::read(&path) {
        Ok(bytes) => match serde_json::from_slice::<Saved>(&bytes) {
            Ok(s) if s.v == SAVED_VERSION => match engine.restore(s.checkpoint) {
                Ok(()) => {
                    tracing::info!(
                        next_index = engine.next_index(),
                        "detectors resumed from their checkpoint"
                    );
                    return (engine, watcher);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "detector checkpoint unusable; replaying the ledger")
                }
            },
            Ok(_) => {
                tracing::warn!("detector checkpoint from another version; replaying the ledger")
            }
            Err(e) => {
                tracing::warn!(error = %e, "detector checkpoint corrupt; replaying the ledger")
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(error = %e, "detector checkpoint unreadable; replaying the ledger")
        }
    }
    with_rules(state)
}

/// Writes the checkpoint atomically (temporary file, fsync, rename).
fn save(data: &Path, engine: &Engine) -> std::io::Result<()> {
    let path = checkpoint_path(data);
    let dir = path.parent().unwrap_or(data);
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join("engine.json.tmp");
    let saved = Saved {
        v: SAVED_VERSION,
        checkpoint: engine.checkpoint(),
    };
    let bytes = serde_json::to_vec(&saved).map_err(std::io::Error::other)?;
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Runs until `stop`; see the module docs.
pub(crate) async fn detect_loop(state: AppState, mut stop: watch::Receiver<bool>) {
    let data = state.inner().config.data.clone();
    let (mut engine, mut watcher) = {
        let st = state.clone();
        match tokio::task::spawn_blocking(move || load(&st)).await {
            Ok(e) => e,
            Err(_) => return,
        }
    };
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_save = Instant::now();
    let mut last_new = Instant::now();
    let mut unsaved = false;
    loop {
        let stopping = *stop.borrow();
        if !stopping {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        }
        let Some(ledger) = state.ledger() else { break };
        let size = ledger.checkpoint().size();
        drop(ledger);
        let from = engine.next_index();
        let to = size.min(from.saturating_add(CHUNK));
        let now = now_ms(&state);
        let idle = to == from && last_new.elapsed() >= IDLE_TICK;
        if to > from {
            last_new = Instant::now();
        }
        let dir = data.clone();
        let Ok((back, back_watcher, findings, result)) = tokio::task::spawn_blocking(move || {
            if let (Some(w), Some(rules)) = (watcher.as_mut(), engine.rules_mut()) {
                match w.poll(rules) {
                    Ok(true) => tracing::info!(rules = rules.len(), "Sigma rules reloaded"),
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = %e, "Sigma rules not reloaded; the previous rules stay in force"),
                }
            }
            let mut findings = Vec::new();
            let result = detect::for_each_entry(&dir, from, to, size, &mut |i, e| {
                findings.extend(engine.process(i, e));
                true
            });
            if result.is_ok() && idle {
                findings.extend(engine.tick_idle(now));
            }
            (engine, watcher, findings, result)
        })
        .await
        else {
            return;
        };
        engine = back;
        watcher = back_watcher;
        if let Err(e) = result {
            tracing::error!(error = %e, from, to, "detectors could not read the ledger; retrying");
            if stopping {
                break;
            }
            continue;
        }
        if to > from {
            unsaved = true;
            state.metrics().detect_processed(to - from);
        }
        if !findings.is_empty() {
            let n = findings.len();
            match crate::alerts::raise(&state, findings).await {
                Ok(created) => state.metrics().alerts_raised(created),
                Err(e) => {
                    // Go back to the last checkpoint: the findings come
                    // again on the replay, and none is lost.
                    tracing::error!(error = %e, findings = n, "raising alerts failed; detectors go back to their checkpoint");
                    let st = state.clone();
                    match tokio::task::spawn_blocking(move || load(&st)).await {
                        Ok((e, w)) => {
                            engine = e;
                            watcher = w;
                        }
                        Err(_) => return,
                    }
                    unsaved = false;
                    if stopping {
                        break;
                    }
                    continue;
                }
            }
        }
        if unsaved && (last_save.elapsed() >= CHECKPOINT_EVERY || stopping) {
            let dir = data.clone();
            let (back, r) = match tokio::task::spawn_blocking(move || {
                let r = save(&dir, &engine);
                (engine, r)
            })
            .await
            {
                Ok(x) => x,
                Err(_) => return,
            };
            engine = back;
            match r {
                Ok(()) => unsaved = false,
                Err(e) => tracing::error!(error = %e, "saving the detector checkpoint failed"),
            }
            last_save = Instant::now();
        }
        if stopping {
            break;
        }
    }
}
