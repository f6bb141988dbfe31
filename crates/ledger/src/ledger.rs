//! The durable ledger: group commit, the commit protocol and crash recovery.
//!
//! # Commit protocol (why a crash at any step is safe)
//! 1. **Sequence** (sequencer thread): append the batch to the in-memory
//!    right edge, producing the new full and partial tiles, and sign the
//!    checkpoint for the new size. Nothing has left the process.
//! 2. **Stage** (writer thread): write the tiles and the signed
//!    checkpoint (`write_staged`); then (syncer thread) `sync`. A crash before `sync` returns
//!    may leave any subset of these on disk; none was published and the
//!    signature never left the process, so recovery discards them.
//! 3. **Publish**: atomically replace `log/checkpoint`. A crash here leaves
//!    the old or the new checkpoint; if the old, recovery finds the staged
//!    one, checks its tiles reproduce its root, and publishes it (roll
//!    forward) — so a checkpoint that might have been seen is never
//!    contradicted, and the log never signs two inconsistent checkpoints.
//! 4. **Acknowledge** every append in the batch ([`DurablyAppended`]).
//! 5. **Tidy** (own thread, paced): remove partial tiles superseded by full
//!    ones (best effort; a crash leaves partial tiles, which the spec allows
//!    a log to keep).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tlog::{Checkpoint, Hash, Signer, TILE_HEIGHT, TileId, TileKind, VerifiedCheckpoint};

use crate::fs::{FsStore, SyncPolicy};
use crate::storage::LogStore;
use crate::tree::{CommitSet, LEVELS, TreeState};
use crate::{Error, Result, keys};

/// Largest number of entries one [`EntryBatch`] may carry.
pub const MAX_BATCH_ENTRIES: usize = 1 << 20;

/// Tuning for group commit and back-pressure.
#[derive(Clone, Debug)]
pub struct LedgerOptions {
    /// Commit once this many entries are waiting (default 65,536; at most
    /// [`MAX_BATCH_ENTRIES`]).
    pub max_commit_entries: usize,
    /// Commit at the latest this long after the first waiting entry arrived
    /// (default 1 ms). While a commit is being made durable, new appends
    /// wait and join the next one, so batches grow with load.
    pub max_delay: Duration,
    /// Refuse appends with [`Error::Overloaded`] when this many bytes are
    /// queued (default 256 MiB): memory stays bounded under overload.
    pub max_queued_bytes: u64,
    /// How commits are made durable.
    pub sync: SyncPolicy,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            max_commit_entries: 65_536,
            max_delay: Duration::from_millis(1),
            max_queued_bytes: 256 << 20,
            sync: SyncPolicy::Auto,
        }
    }
}

/// Entries to append, length-prefixed as in an entry bundle, with their leaf
/// hashes computed as they are pushed (so hashing runs on the caller's
/// thread, in parallel with the committer).
#[derive(Clone, Debug, Default)]
pub struct EntryBatch {
    data: Vec<u8>,
    leaves: Vec<Hash>,
}

impl EntryBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> EntryBatch {
        EntryBatch::default()
    }

    /// An empty batch with room for `entries` entries of `bytes` in total.
    #[must_use]
    pub fn with_capacity(entries: usize, bytes: usize) -> EntryBatch {
        EntryBatch {
            data: Vec::with_capacity(bytes + 2 * entries),
            leaves: Vec::with_capacity(entries),
        }
    }

    /// Adds an entry. Entries over 65,535 bytes are refused, never truncated.
    pub fn push(&mut self, entry: &[u8]) -> Result<()> {
        if self.leaves.len() >= MAX_BATCH_ENTRIES {
            return Err(Error::OutOfRange(format!(
                "a batch holds at most {MAX_BATCH_ENTRIES} entries; split it"
            )));
        }
        tlog::append_entry(&mut self.data, entry).map_err(|_| Error::EntryTooLarge {
            position: self.leaves.len(),
            len: entry.len(),
        })?;
        self.leaves.push(tlog::leaf_hash(entry));
        Ok(())
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    /// True if empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Encoded size in bytes.
    #[must_use]
    pub fn byte_len(&self) -> usize {
        self.data.len()
    }

    fn entries(&self) -> impl Iterator<Item = (&[u8], Hash)> {
        tlog::decode_bundle(&self.data)
            .filter_map(std::result::Result::ok)
            .zip(self.leaves.iter().copied())
    }
}

/// Proof that a batch is durable: its entries and tiles are on stable
/// storage and a signed checkpoint covering them is published. Only the
/// ledger's committer can make one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurablyAppended {
    first_index: u64,
    count: u64,
    tree_size: u64,
}

impl DurablyAppended {
    /// Index of the batch's first entry.
    #[must_use]
    pub fn first_index(&self) -> u64 {
        self.first_index
    }
    /// Number of entries in the batch.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }
    /// Size of the published checkpoint that covers the batch.
    #[must_use]
    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }
}

/// An append in flight; wait for it, or `.await` it.
#[derive(Debug)]
pub struct Pending(oneshot::Receiver<Result<DurablyAppended>>);

impl Pending {
    /// Blocks until the batch is durable (or the commit failed).
    pub fn wait(self) -> Result<DurablyAppended> {
        self.0.recv().unwrap_or(Err(Error::Closed))
    }
}

impl std::future::Future for Pending {
    type Output = Result<DurablyAppended>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Closed)))
    }
}

struct Request {
    batch: EntryBatch,
    reply: oneshot::Sender<Result<DurablyAppended>>,
}

struct Commit {
    set: CommitSet,
    note: Vec<u8>,
    replies: Vec<(oneshot::Sender<Result<DurablyAppended>>, u64, u64)>,
    bytes: u64,
}

struct Shared {
    store: Box<dyn LogStore>,
    verifier: tlog::Verifier,
    published: Mutex<VerifiedCheckpoint>,
    failed: Mutex<Option<String>>,
    queued_bytes: AtomicU64,
    /// Commits handed to the writer and not yet acknowledged.
    in_flight: std::sync::atomic::AtomicUsize,
    opts: LedgerOptions,
}

/// Commits allowed between the sequencer and the acknowledgement: one being
/// written while the previous one is flushed.
const MAX_IN_FLIGHT: usize = 2;

impl Shared {
    fn failure(&self) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
    fn fail(&self, why: String) {
        let mut f = self
            .failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if f.is_none() {
            *f = Some(why);
        }
    }
}

/// A ledger open for appending. Appends from any thread; dropping or
/// [`Ledger::close`] waits for every accepted append to be committed.
pub struct Ledger {
    dir: PathBuf,
    origin: String,
    tx: Option<SyncSender<Request>>,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("dir", &self.dir)
            .field("origin", &self.origin)
            .finish()
    }
}

/// Checks an origin is usable as a checkpoint origin and note key name
/// (c2sp.org/signed-note: non-empty, no Unicode spaces, no `+`).
pub fn validate_origin(origin: &str) -> Result<()> {
    let bad = |reason| Error::BadOrigin {
        origin: origin.to_owned(),
        reason,
    };
    if origin.is_empty() {
        return Err(bad("it is empty"));
    }
    if origin.chars().any(char::is_whitespace) {
        return Err(bad("it contains whitespace"));
    }
    if origin.contains('+') {
        return Err(bad("it contains '+'"));
    }
    if origin.chars().any(char::is_control) {
        return Err(bad("it contains control characters"));
    }
    if origin.len() > 255 {
        return Err(bad("it is longer than 255 bytes"));
    }
    Ok(())
}

/// Creates a new, empty ledger in `dir`: a fresh Ed25519 signing key under
/// `DIR/keys/`, the tile layout under `DIR/log/` and a signed checkpoint of
/// size 0. Returns the verifier key to hand to anyone who will check the log.
pub fn init(dir: &Path, origin: &str) -> Result<tlog::Verifier> {
    validate_origin(origin)?;
    if dir.join(crate::fs::LOG_DIR).join("checkpoint").exists() || keys::signer_path(dir).exists() {
        return Err(Error::AlreadyInitialized(dir.to_path_buf()));
    }
    let signer = keys::create(dir, origin)?;
    FsStore::create_layout(dir)?;
    let store = FsStore::open(dir, SyncPolicy::PerFile)?;
    let cp = Checkpoint {
        origin: origin.to_owned(),
        size: 0,
        root: tlog::empty_root(),
        extensions: vec![],
    };
    let note = cp.sign(&[&signer])?;
    store.write_staged(&note)?;
    store.sync()?;
    store.publish(&note)?;
    Ok(signer.verifier())
}

impl Ledger {
    /// Opens the ledger in `dir` for appending, running crash recovery first.
    pub fn open(dir: &Path, opts: LedgerOptions) -> Result<Ledger> {
        let signer = keys::load(dir)?;
        let store = FsStore::open(dir, opts.sync)?;
        Ledger::with_store(dir, Box::new(store), signer, opts)
    }

    /// Opens a ledger over any [`LogStore`] (tests use a failure-injecting one).
    pub fn with_store(
        dir: &Path,
        store: Box<dyn LogStore>,
        signer: Signer,
        opts: LedgerOptions,
    ) -> Result<Ledger> {
        let (state, published) = recover(store.as_ref(), &signer)?;
        let origin = signer.name().to_owned();
        let shared = Arc::new(Shared {
            store,
            verifier: signer.verifier(),
            published: Mutex::new(published),
            failed: Mutex::new(None),
            queued_bytes: AtomicU64::new(0),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            opts,
        });
        let (tx, rx) = mpsc::sync_channel::<Request>(1 << 16);
        let (ctx, crx) = mpsc::sync_channel::<Commit>(1);
        let (stx, srx) = mpsc::sync_channel::<Commit>(1);
        let seq_shared = Arc::clone(&shared);
        let seq_origin = origin.clone();
        let sequencer = std::thread::Builder::new()
            .name("ledger-sequencer".into())
            .spawn(move || sequence(rx, ctx, state, signer, seq_origin, &seq_shared))
            .map_err(Error::io("spawn sequencer thread", dir))?;
        let w_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || write_loop(crx, stx, &w_shared))
            .map_err(Error::io("spawn writer thread", dir))?;
        let (ttx, trx) = mpsc::channel::<Vec<TileId>>();
        let s_shared = Arc::clone(&shared);
        let syncer = std::thread::Builder::new()
            .name("ledger-syncer".into())
            .spawn(move || sync_loop(srx, ttx, &s_shared))
            .map_err(Error::io("spawn syncer thread", dir))?;
        let t_shared = Arc::clone(&shared);
        let tidier = std::thread::Builder::new()
            .name("ledger-tidy".into())
            .spawn(move || tidy_loop(trx, &t_shared))
            .map_err(Error::io("spawn tidy thread", dir))?;
        Ok(Ledger {
            dir: dir.to_path_buf(),
            origin,
            tx: Some(tx),
            shared,
            threads: vec![sequencer, writer, syncer, tidier],
        })
    }

    /// The log's origin.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The latest published checkpoint.
    #[must_use]
    pub fn checkpoint(&self) -> VerifiedCheckpoint {
        self.shared
            .published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Bytes accepted but not yet committed.
    #[must_use]
    pub fn queued_bytes(&self) -> u64 {
        self.shared.queued_bytes.load(Ordering::Relaxed)
    }

    /// Queues a batch without blocking. Fails fast with
    /// [`Error::Overloaded`] when the queue is full.
    pub fn submit(&self, batch: EntryBatch) -> Result<Pending> {
        self.try_submit(batch).map_err(|(e, _)| e)
    }

    /// Queues a batch, waiting (with backoff) while the queue is full.
    pub fn submit_blocking(&self, batch: EntryBatch) -> Result<Pending> {
        let mut batch = batch;
        let mut backoff = Duration::from_micros(100);
        loop {
            match self.try_submit(batch) {
                Ok(p) => return Ok(p),
                Err((Error::Overloaded { .. }, Some(b))) => {
                    batch = b;
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(20));
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// Appends a batch and blocks until it is durable, waiting for room in
    /// the queue if it is full.
    pub fn append(&self, batch: EntryBatch) -> Result<DurablyAppended> {
        self.submit_blocking(batch)?.wait()
    }

    /// Queues a batch; on overload hands it back so the caller can retry
    /// without copying it.
    fn try_submit(
        &self,
        batch: EntryBatch,
    ) -> std::result::Result<Pending, (Error, Option<EntryBatch>)> {
        if let Some(why) = self.shared.failure() {
            return Err((Error::Failed(why), None));
        }
        let bytes = batch.byte_len() as u64;
        let queued = self.shared.queued_bytes.fetch_add(bytes, Ordering::AcqRel);
        if queued > 0 && queued + bytes > self.shared.opts.max_queued_bytes {
            self.shared.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            return Err((
                Error::Overloaded {
                    queued_bytes: queued,
                },
                Some(batch),
            ));
        }
        let (reply, rx) = oneshot::channel();
        let Some(tx) = self.tx.as_ref() else {
            self.shared.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            return Err((Error::Closed, None));
        };
        match tx.try_send(Request { batch, reply }) {
            Ok(()) => Ok(Pending(rx)),
            Err(TrySendError::Full(r)) => {
                self.shared.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                Err((
                    Error::Overloaded {
                        queued_bytes: queued,
                    },
                    Some(r.batch),
                ))
            }
            Err(TrySendError::Disconnected(_)) => {
                self.shared.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                Err((Error::Closed, None))
            }
        }
    }

    /// Stops accepting appends, commits everything accepted, and returns the
    /// failure that stopped the ledger, if any.
    pub fn close(mut self) -> Result<()> {
        self.shutdown();
        match self.shared.failure() {
            Some(why) => Err(Error::Failed(why)),
            None => Ok(()),
        }
    }

    fn shutdown(&mut self) {
        self.tx.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Sequencer: groups requests by count and time, extends the tree, signs.
fn sequence(
    rx: Receiver<Request>,
    tx: SyncSender<Commit>,
    mut state: TreeState,
    signer: Signer,
    origin: String,
    shared: &Shared,
) {
    // Clamped so that a torn commit never reaches past what recovery probes.
    let max = shared.opts.max_commit_entries.clamp(1, MAX_BATCH_ENTRIES);
    while let Ok(first) = rx.recv() {
        let deadline = Instant::now() + shared.opts.max_delay;
        let mut reqs = vec![first];
        let mut count = reqs.iter().map(|r| r.batch.len()).sum::<usize>();
        while count < max {
            // Take whatever is already queued; then wait out the delay, and
            // keep gathering while the writer and syncer are both busy, so
            // that under load one larger commit forms instead of a queue of
            // small ones (each waiting behind the others).
            let busy = shared.in_flight.load(Ordering::Acquire) >= MAX_IN_FLIGHT;
            let next = match rx.try_recv() {
                Ok(r) => Ok(r),
                Err(mpsc::TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                Err(mpsc::TryRecvError::Empty) => {
                    let now = Instant::now();
                    if now < deadline {
                        rx.recv_timeout(deadline - now)
                    } else if busy {
                        rx.recv_timeout(Duration::from_micros(100))
                    } else {
                        break;
                    }
                }
            };
            match next {
                Ok(r) => {
                    count += r.batch.len();
                    reqs.push(r);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        // A full batch goes ahead at once (the channels below bound how far
        // it can run ahead); only small batches wait for the pipeline.
        shared.in_flight.fetch_add(1, Ordering::AcqRel);
        let mut replies = Vec::with_capacity(reqs.len());
        let mut bytes = 0u64;
        let mut next_index = state.size();
        for r in &reqs {
            bytes += r.batch.byte_len() as u64;
        }
        let set = state.append(reqs.iter().flat_map(|r| r.batch.entries()));
        for r in reqs {
            let n = r.batch.len() as u64;
            replies.push((r.reply, next_index, n));
            next_index += n;
        }
        let result = set.and_then(|set| {
            let cp = Checkpoint {
                origin: origin.clone(),
                size: set.size,
                root: set.root,
                extensions: vec![],
            };
            Ok((cp.sign(&[&signer])?, set))
        });
        let commit = match result {
            Ok((note, set)) => Commit {
                set,
                note,
                replies,
                bytes,
            },
            Err(e) => {
                shared.fail(format!("sequencing failed: {e}"));
                shared.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                for (reply, _, _) in replies {
                    let _ = reply.send(Err(Error::Failed(e.to_string())));
                }
                continue;
            }
        };
        if tx.send(commit).is_err() {
            return;
        }
    }
}

/// Writer: stages a commit's tiles and signed checkpoint (step 2, before
/// the barrier). It runs one commit ahead of the syncer, so writing the next
/// commit overlaps the disk flush of the previous one; a crash then leaves
/// at most a staged checkpoint whose tiles recovery checks before using it.
fn write_loop(rx: Receiver<Commit>, tx: SyncSender<Commit>, shared: &Shared) {
    while let Ok(mut c) = rx.recv() {
        if shared.failure().is_none()
            && let Err(e) = stage(shared, &c)
        {
            shared.fail(e.to_string());
        }
        // Tile bytes are on disk (or failed); only the head is needed now.
        c.set.tiles = Vec::new();
        if tx.send(c).is_err() {
            return;
        }
    }
}

fn stage(shared: &Shared, c: &Commit) -> Result<()> {
    // Creating files dominates a large commit here (~0.3 ms each on the
    // reference machine), and much of it is spent waiting in the kernel, so
    // large commits are written by a few threads.
    const WRITERS: usize = 3;
    if c.set.tiles.len() < 32 {
        for (tile, data) in &c.set.tiles {
            shared.store.write_tile(tile, data)?;
        }
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..WRITERS)
                .map(|w| {
                    s.spawn(move || -> Result<()> {
                        for (tile, data) in c.set.tiles.iter().skip(w).step_by(WRITERS) {
                            shared.store.write_tile(tile, data)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Failed("a tile writer thread panicked".into())))
            })
        })?;
    }
    shared.store.write_staged(&c.note)
}

/// Syncer: barrier, publish, acknowledge, tidy (steps 2–5), in order.
fn sync_loop(rx: Receiver<Commit>, tidy: mpsc::Sender<Vec<TileId>>, shared: &Shared) {
    while let Ok(c) = rx.recv() {
        let outcome = match shared.failure() {
            Some(why) => Err(Error::Failed(why)),
            None => publish(shared, &c),
        };
        shared.queued_bytes.fetch_sub(c.bytes, Ordering::AcqRel);
        shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        match outcome {
            Ok(()) => {
                for (reply, first_index, count) in c.replies {
                    let _ = reply.send(Ok(DurablyAppended {
                        first_index,
                        count,
                        tree_size: c.set.size,
                    }));
                }
                if !c.set.completed.is_empty() {
                    let _ = tidy.send(c.set.completed);
                }
            }
            Err(e) => {
                let why = e.to_string();
                shared.fail(why.clone());
                for (reply, _, _) in c.replies {
                    let _ = reply.send(Err(Error::Failed(why.clone())));
                }
            }
        }
    }
}

/// Step 5, in the background: partial tiles superseded by published full
/// tiles are removed by their own thread, one tile at a time with a pause
/// between, so that neither the syncer waits for the unlinks nor the journal
/// commits that follow get a burst of them (file removal makes the next
/// commit slower, markedly so on filesystems mounted with online `discard`;
/// removing them in the syncer put a latency spike at tile boundaries, and in
/// bulk a 300 ms stall). On shutdown whatever is left is removed at once.
fn tidy_loop(rx: Receiver<Vec<TileId>>, shared: &Shared) {
    const PAUSE: Duration = Duration::from_micros(500);
    let mut closing = false;
    let mut pending: std::collections::VecDeque<TileId> = std::collections::VecDeque::new();
    loop {
        if pending.is_empty() {
            match rx.recv() {
                Ok(tiles) => pending.extend(tiles),
                Err(_) => return,
            }
        }
        loop {
            match rx.try_recv() {
                Ok(tiles) => pending.extend(tiles),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    closing = true;
                    break;
                }
            }
        }
        if let Some(full) = pending.pop_front() {
            // Best effort: stale partials are harmless to clients.
            let _ = shared.store.remove_partials(&full);
            if !closing {
                std::thread::sleep(PAUSE);
            }
        }
    }
}

fn publish(shared: &Shared, c: &Commit) -> Result<()> {
    shared.store.sync()?;
    shared.store.publish(&c.note)?;
    let published = tlog::open_checkpoint(&c.note, shared.verifier.name(), &shared.verifier)?;
    *shared
        .published
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = published;
    Ok(())
}

/// Crash recovery: establishes the published tree, rolls a fully staged
/// checkpoint forward, rebuilds the right edge and removes a torn tail.
pub(crate) fn recover(
    store: &dyn LogStore,
    signer: &Signer,
) -> Result<(TreeState, VerifiedCheckpoint)> {
    let verifier = signer.verifier();
    let origin = signer.name();
    let published_bytes = store
        .read_published()?
        .ok_or_else(|| Error::corrupt("log/checkpoint", "missing"))?;
    let mut current = tlog::open_checkpoint(&published_bytes, origin, &verifier)
        .map_err(|e| Error::corrupt("log/checkpoint", e.to_string()))?;

    if let Some(staged) = store.read_staged()?
        && let Ok(s) = tlog::open_checkpoint(&staged, origin, &verifier)
    {
        if s.size() > current.size() {
            // Roll forward only if every tile the staged tree needs is
            // durable and reproduces its root; otherwise the staged
            // checkpoint never left the process and is dropped.
            if load_state(store, s.size(), s.root()).is_ok()
                && check_bundles(store, current.size(), s.size()).is_ok()
                && check_full_tiles(store, current.size(), s.size()).is_ok()
            {
                // What was read back may not be durable yet (a crash after
                // the writes, before the barrier): sync before publishing.
                store.sync()?;
                store.publish(&staged)?;
                current = s;
            }
        } else if s.size() == current.size() && s.root() != current.root() {
            return Err(Error::corrupt(
                "state/staged-checkpoint",
                "signed checkpoint of the published size with a different root",
            ));
        }
    }
    let state = load_state(store, current.size(), current.root())?;
    store.write_staged(current.note_bytes())?;
    store.sync()?;
    remove_torn_tail(store, current.size())?;
    Ok((state, current))
}

/// Rebuilds the right edge of the tree of `size` from its partial tiles and
/// checks it reproduces `root`.
fn load_state(store: &dyn LogStore, size: u64, root: &Hash) -> Result<TreeState> {
    let mut edge: [Vec<Hash>; LEVELS] = Default::default();
    for (level, slot) in edge.iter_mut().enumerate() {
        let kind = TileKind::Hashes { level: level as u8 };
        let index = crate::tree::shr(size, TILE_HEIGHT * (level as u32 + 1));
        let Some(tile) = TileId::at_size(kind, index, size) else {
            continue;
        };
        if tile.is_full() {
            continue;
        }
        *slot = read_hashes(store, &tile)?;
    }
    let mut bundle = Vec::new();
    if let Some(b) = TileId::at_size(TileKind::Entries, size >> TILE_HEIGHT, size)
        && !b.is_full()
    {
        bundle = store
            .read_tile(&b)?
            .ok_or_else(|| Error::corrupt(b.path(), "missing"))?;
    }
    let state = TreeState::from_edge(size, edge, bundle)?;
    if &state.root() != root {
        return Err(Error::corrupt(
            "log/tile",
            format!("partial tiles for size {size} do not reproduce the checkpoint root"),
        ));
    }
    Ok(state)
}

fn read_hashes(store: &dyn LogStore, tile: &TileId) -> Result<Vec<Hash>> {
    let data = store
        .read_tile(tile)?
        .ok_or_else(|| Error::corrupt(tile.path(), "missing"))?;
    crate::reader::parse_hashes(tile, &data)
}

/// Checks full entry bundles completed between two sizes hash to their
/// level-0 tiles (used before rolling a staged checkpoint forward).
fn check_bundles(store: &dyn LogStore, from: u64, to: u64) -> Result<()> {
    for index in (from >> TILE_HEIGHT)..(to >> TILE_HEIGHT) {
        let b = TileId::full(TileKind::Entries, index);
        let t = TileId::full(TileKind::Hashes { level: 0 }, index);
        let bundle = store
            .read_tile(&b)?
            .ok_or_else(|| Error::corrupt(b.path(), "missing"))?;
        let hashes = read_hashes(store, &t)?;
        let mut n = 0;
        for (e, h) in tlog::decode_bundle(&bundle).zip(hashes.iter()) {
            let e = e.map_err(|err| Error::corrupt(b.path(), err.to_string()))?;
            if &tlog::leaf_hash(e) != h {
                return Err(Error::corrupt(
                    b.path(),
                    "entry does not match its tile hash",
                ));
            }
            n += 1;
        }
        if n != hashes.len() {
            return Err(Error::corrupt(b.path(), "wrong number of entries"));
        }
    }
    Ok(())
}

/// Checks every full Merkle tile completed between two sizes hashes to its
/// entry in the tile above (used before rolling a staged checkpoint forward:
/// with `check_bundles` and `load_state`, the whole staged extension is then
/// checked from the entries up to its root).
fn check_full_tiles(store: &dyn LogStore, from: u64, to: u64) -> Result<()> {
    for level in 0..(LEVELS as u8 - 1) {
        let shift = u32::from(level) * TILE_HEIGHT;
        let first = crate::tree::shr(from, shift) >> TILE_HEIGHT;
        let last = crate::tree::shr(to, shift) >> TILE_HEIGHT;
        for index in first..last {
            let tile = TileId::full(TileKind::Hashes { level }, index);
            let hashes = read_hashes(store, &tile)?;
            let root = tlog::complete_subtree_root(&hashes)
                .ok_or_else(|| Error::corrupt(tile.path(), "not a full tile"))?;
            let parent_kind = TileKind::Hashes { level: level + 1 };
            let parent = TileId::at_size(parent_kind, index >> TILE_HEIGHT, to)
                .ok_or_else(|| Error::corrupt(tile.path(), "no parent tile"))?;
            let above = read_hashes(store, &parent)?;
            if above.get((index & 0xff) as usize) != Some(&root) {
                return Err(Error::corrupt(
                    tile.path(),
                    format!("does not hash to its entry in {}", parent.path()),
                ));
            }
        }
    }
    Ok(())
}

/// Removes what a torn commit may have left beyond the published tree.
fn remove_torn_tail(store: &dyn LogStore, size: u64) -> Result<u64> {
    let mut removed = 0;
    let kinds = std::iter::once(TileKind::Entries)
        .chain((0..LEVELS as u8).map(|level| TileKind::Hashes { level }));
    for kind in kinds {
        let shift = u32::from(kind.hash_level()) * TILE_HEIGHT;
        let stored = size >> shift;
        let full_tiles = stored >> TILE_HEIGHT;
        let width = (stored & 0xff) as u16;
        // A commit carries at most max_commit_entries plus one batch of
        // MAX_BATCH_ENTRIES; probe that far.
        let reach = ((2 * MAX_BATCH_ENTRIES as u64) >> shift >> TILE_HEIGHT) + 2;
        removed += store.remove_beyond(kind, full_tiles, width, reach)?;
    }
    Ok(removed)
}
