//! Export: read the ledger, build every member, write the archive atomically.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ledger::LogReader;
use sha2::{Digest, Sha256};
use tlog::{Checkpoint, Hash, Note, TILE_HEIGHT, TileKind, open_checkpoint};

use crate::format::{
    self, CheckpointRef, ConsistencyRef, ENTRIES, EntriesRef, FileDigest, InclusionRef, MANIFEST,
    MANIFEST_SIG, MULTIPROOF, Manifest,
};
use crate::multiproof;
use crate::{Error, Result};

/// What to put in a bundle.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportRequest {
    /// The incident id (at most 256 bytes).
    pub incident: String,
    /// The scope (query and counts) as the caller states it; stored verbatim
    /// in the manifest and covered by its signature.
    pub scope: serde_json::Value,
    /// The entries to prove, by log index. Any order; duplicates are
    /// dropped; each must be below the latest checkpoint's size.
    pub indices: Vec<u64>,
    /// Earlier checkpoints to cite besides the latest published one.
    pub cite: Vec<Cite>,
}

/// An earlier checkpoint to cite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cite {
    /// A checkpoint note the caller kept (e.g. the one current when the
    /// incident was opened), verbatim. It must be signed by this log, with
    /// its origin, and its root must be the log's root at its size.
    Note(Vec<u8>),
    /// A tree size: the exporter signs a fresh checkpoint of the log's root
    /// at that size with the log's key (the root is a function of the log,
    /// so this states nothing new; a note kept from the time is stronger
    /// evidence, because others may have seen it).
    Size(u64),
}

/// What [`export`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    /// The archive written.
    pub path: PathBuf,
    /// Entries proved.
    pub entries: u64,
    /// Bytes of those entries (without length prefixes).
    pub entry_bytes: u64,
    /// Cited checkpoint sizes, increasing; the last is the proof's tree.
    pub checkpoints: Vec<u64>,
    /// Hashes in the multi-proof.
    pub multiproof_hashes: u64,
    /// Size of the archive.
    pub bytes: u64,
    /// Hex SHA-256 of `manifest.json` (what `manifest.sig` signs).
    pub manifest_sha256: String,
}

/// The phase an export is in, for progress reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Reading and checking the entries (`done` / `total` entries).
    Entries,
    /// Building the multi-proof (`done` = `total` = indices when finished).
    Proof,
    /// Writing the archive (`done` / `total` bytes of `entries.bin`).
    Write,
}

/// A progress report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The phase.
    pub stage: Stage,
    /// Units done.
    pub done: u64,
    /// Units in all.
    pub total: u64,
}

/// Complete-subtree roots of the log's tree at a fixed size, read from its
/// hash tiles through a small cache of parsed tiles (the multi-proof walk
/// and the entry checks go left to right, so recent tiles are the hot ones).
struct TreeHashes<'a> {
    reader: &'a mut LogReader,
    size: u64,
    cache: HashMap<(u8, u64), Vec<Hash>>,
}

impl TreeHashes<'_> {
    /// Root of leaves `[index·2^height, (index+1)·2^height)`, which must be
    /// complete within `self.size` (the contract of `tlog::range_root`).
    fn subtree(&mut self, height: u32, index: u64) -> Result<Hash> {
        let level = u8::try_from(height / TILE_HEIGHT)
            .map_err(|_| Error::Request(format!("subtree height {height} out of range")))?;
        let rem = height % TILE_HEIGHT;
        let first = index << rem;
        let tile = first >> TILE_HEIGHT;
        let offset = usize::try_from(first & 0xff).unwrap_or(0);
        if !self.cache.contains_key(&(level, tile)) {
            if self.cache.len() >= 512 {
                self.cache.clear();
            }
            let hashes = self.reader.tile_hashes(level, tile, self.size)?;
            self.cache.insert((level, tile), hashes);
        }
        let span = self
            .cache
            .get(&(level, tile))
            .and_then(|h| h.get(offset..offset + (1usize << rem)))
            .ok_or_else(|| {
                Error::Request(format!(
                    "subtree {height}/{index} is not complete in size {}",
                    self.size
                ))
            })?;
        tlog::complete_subtree_root(span)
            .ok_or_else(|| Error::Request(format!("empty subtree {height}/{index}")))
    }

    fn root(&mut self, size: u64) -> Result<Hash> {
        tlog::range_root(0, size, &mut |h, i| self.subtree(h, i))
    }
}

/// Removes a temporary file unless disarmed.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    sha: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(buf.get(..n).unwrap_or_default());
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn digest(name: &str, bytes: &[u8]) -> FileDigest {
    FileDigest {
        name: name.to_owned(),
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
    }
}

/// Exports the evidence bundle of `request` from the ledger in `data_dir`
/// to `out` (a POSIX tar, format in docs/evidence.md), signed with the log's
/// key. `now` (Unix seconds) is the bundle's creation time. `progress` is
/// called as work advances.
///
/// The archive is written to a temporary file beside `out`, fsynced and
/// renamed over `out`, so `out` is either absent, the old file, or the whole
/// new bundle. Entries are checked against the log's level-0 hashes as they
/// are read, so a corrupt ledger fails here rather than in an auditor's hands.
///
/// # Errors
///
/// [`Error::Request`] for an index beyond the latest checkpoint or too many
/// entries, [`Error::CitedCheckpoint`] for a cited checkpoint that is not
/// this log's or forks it, [`Error::Ledger`] and [`Error::Io`] otherwise.
pub fn export(
    data_dir: &Path,
    request: &ExportRequest,
    out: &Path,
    now: i64,
    progress: &mut dyn FnMut(Progress),
) -> Result<ExportSummary> {
    if request.incident.len() > format::MAX_INCIDENT_LEN {
        return Err(Error::Request(format!(
            "incident id is {} bytes, more than {}",
            request.incident.len(),
            format::MAX_INCIDENT_LEN
        )));
    }
    let signer = ledger::signer_key(data_dir)?;
    let verifier = signer.verifier();
    let origin = signer.name().to_owned();
    let mut reader = LogReader::open(data_dir)?;
    let latest_note = reader.checkpoint_bytes()?;
    let latest =
        open_checkpoint(&latest_note, &origin, &verifier).map_err(ledger::Error::Checkpoint)?;
    let size = latest.size();

    let mut indices = request.indices.clone();
    indices.sort_unstable();
    indices.dedup();
    if indices.len() > format::MAX_ENTRIES {
        return Err(Error::Request(format!(
            "{} entries; a bundle proves at most {}",
            indices.len(),
            format::MAX_ENTRIES
        )));
    }
    if let Some(&last) = indices.last()
        && last >= size
    {
        return Err(Error::Request(format!(
            "entry {last} is beyond the latest checkpoint (size {size})"
        )));
    }

    let mut tree = TreeHashes {
        reader: &mut reader,
        size,
        cache: HashMap::new(),
    };
    if &tree.root(size)? != latest.root() {
        return Err(Error::Ledger(ledger::Error::Corrupt {
            place: "checkpoint".into(),
            reason: "its root is not the root of the tiles".into(),
        }));
    }

    // The cited checkpoints, by size; the published one last.
    let mut cited: Vec<(u64, Vec<u8>)> = Vec::new();
    for (position, cite) in request.cite.iter().enumerate() {
        let bad = |reason: String| Error::CitedCheckpoint { position, reason };
        let (csize, note) = match cite {
            Cite::Note(bytes) => {
                let cp =
                    open_checkpoint(bytes, &origin, &verifier).map_err(|e| bad(e.to_string()))?;
                if cp.size() > size {
                    return Err(bad(format!(
                        "size {} is beyond the log's published size {size}",
                        cp.size()
                    )));
                }
                if &tree.root(cp.size())? != cp.root() {
                    return Err(bad(format!(
                        "its root is not the log's root at size {}: the log was forked or rewritten",
                        cp.size()
                    )));
                }
                (cp.size(), bytes.clone())
            }
            Cite::Size(s) => {
                if *s > size {
                    return Err(bad(format!(
                        "size {s} is beyond the log's published size {size}"
                    )));
                }
                let cp = Checkpoint {
                    origin: origin.clone(),
                    size: *s,
                    root: tree.root(*s)?,
                    extensions: vec![],
                };
                (*s, cp.sign(&[&signer]).map_err(|e| bad(e.to_string()))?)
            }
        };
        if csize < size && !cited.iter().any(|(s, _)| *s == csize) {
            cited.push((csize, note));
        }
    }
    if cited.len() >= format::MAX_CHECKPOINTS {
        return Err(Error::Request(format!(
            "{} checkpoints cited; at most {}",
            cited.len() + 1,
            format::MAX_CHECKPOINTS
        )));
    }
    cited.sort_by_key(|(s, _)| *s);
    cited.push((size, latest_note.clone()));

    // Consistency proofs between consecutive checkpoints.
    let mut consistency: Vec<(ConsistencyRef, Vec<u8>)> = Vec::new();
    for pair in cited.windows(2) {
        let [(old, _), (new, _)] = pair else { continue };
        let hashes: Vec<Hash> =
            tlog::consistency_proof(*old, *new, &mut |h, i| tree.subtree(h, i))?;
        let mut text = String::with_capacity(45 * hashes.len());
        for h in &hashes {
            text.push_str(&BASE64.encode(h));
            text.push('\n');
        }
        let file = format::consistency_name(*old, *new);
        consistency.push((
            ConsistencyRef {
                old: *old,
                new: *new,
                file,
            },
            text.into_bytes(),
        ));
    }

    // The entries, read bundle by bundle, checked against the log's leaf
    // hashes, written to a temporary file (the manifest, which comes first
    // in the archive, needs their digest).
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let pid = std::process::id();
    let entries_tmp = dir.join(format!(".{name}.{pid}.entries.tmp"));
    let mut entries_guard = TempFile(Some(entries_tmp.clone()));
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&entries_tmp)
        .map_err(Error::io("create", &entries_tmp))?;
    let mut w = Hashing {
        inner: BufWriter::with_capacity(1 << 20, file),
        sha: Sha256::new(),
        len: 0,
    };
    let total = indices.len() as u64;
    let mut entry_bytes = 0u64;
    let mut done = 0u64;
    // A fresh reader every 64 entry bundles: `LogReader` caches every full
    // tile it reads (≈ 200 KiB for an entry bundle), without bound on bytes.
    let mut entries_reader = LogReader::open(data_dir)?;
    let mut bundles_read = 0u32;
    let mut rest: &[u64] = &indices;
    while let Some(&first) = rest.first() {
        let bundle = first >> TILE_HEIGHT;
        let end = rest.partition_point(|&i| i >> TILE_HEIGHT == bundle);
        let (here, tail) = rest.split_at_checked(end).unwrap_or((rest, &[]));
        rest = tail;
        if bundles_read == 64 {
            entries_reader = LogReader::open(data_dir)?;
            bundles_read = 0;
        }
        bundles_read += 1;
        let data = entries_reader.tile(TileKind::Entries, bundle, size)?;
        let all: Vec<&[u8]> = tlog::decode_bundle(&data)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| ledger::Error::Corrupt {
                place: format!("entry bundle {bundle}"),
                reason: e.to_string(),
            })?;
        for &index in here {
            let pos = usize::try_from(index & 0xff).unwrap_or(usize::MAX);
            let entry = all.get(pos).ok_or_else(|| ledger::Error::Corrupt {
                place: format!("entry {index}"),
                reason: "missing from its bundle".into(),
            })?;
            if tlog::leaf_hash(entry) != tree.subtree(0, index)? {
                return Err(Error::Ledger(ledger::Error::Corrupt {
                    place: format!("entry {index}"),
                    reason: "its leaf hash is not the one in the log's hash tile".into(),
                }));
            }
            let mut prefixed = Vec::with_capacity(2 + entry.len());
            tlog::append_entry(&mut prefixed, entry).map_err(|e| ledger::Error::Corrupt {
                place: format!("entry {index}"),
                reason: e.to_string(),
            })?;
            w.write_all(&prefixed)
                .map_err(Error::io("write", &entries_tmp))?;
            entry_bytes += entry.len() as u64;
        }
        done += here.len() as u64;
        progress(Progress {
            stage: Stage::Entries,
            done,
            total,
        });
    }
    w.flush().map_err(Error::io("write", &entries_tmp))?;
    let entries_digest = FileDigest {
        name: ENTRIES.to_owned(),
        size: w.len,
        sha256: hex::encode(w.sha.finalize_reset()),
    };
    let mut entries_file = w
        .inner
        .into_inner()
        .map_err(|e| Error::io("write", &entries_tmp)(e.into_error()))?;

    let proof: Vec<u8> =
        multiproof::build(&indices, size, &mut |h, i| tree.subtree(h, i))?.concat();
    progress(Progress {
        stage: Stage::Proof,
        done: total,
        total,
    });

    // The manifest, then its signature.
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    let mut checkpoints = Vec::new();
    for (s, note) in &cited {
        let file = format::checkpoint_name(*s);
        checkpoints.push(CheckpointRef {
            size: *s,
            file: file.clone(),
        });
        members.push((file, note.clone()));
    }
    let mut consistency_refs = Vec::new();
    for (r, bytes) in consistency {
        members.push((r.file.clone(), bytes));
        consistency_refs.push(r);
    }
    members.push((MULTIPROOF.to_owned(), proof));
    let mut files: Vec<FileDigest> = members.iter().map(|(n, b)| digest(n, b)).collect();
    files.push(entries_digest.clone());
    let manifest = Manifest {
        format: format::FORMAT.to_owned(),
        incident: request.incident.clone(),
        created: format::rfc3339(now),
        origin: origin.clone(),
        scope: request.scope.clone(),
        checkpoints,
        consistency: consistency_refs,
        entries: EntriesRef {
            file: ENTRIES.to_owned(),
            indices: indices.clone(),
        },
        inclusion: InclusionRef {
            file: MULTIPROOF.to_owned(),
            tree_size: size,
            hashes: members
                .last()
                .map_or(0, |(_, b)| (b.len() / tlog::HASH_SIZE) as u64),
        },
        files,
    };
    let mut manifest_bytes = serde_json::to_vec(&manifest)
        .map_err(|e| Error::Request(format!("scope does not serialise: {e}")))?;
    manifest_bytes.push(b'\n');
    if serde_json::to_vec(&request.scope).map_or(0, |v| v.len()) > format::MAX_SCOPE_BYTES {
        return Err(Error::Request(format!(
            "scope is larger than {} bytes",
            format::MAX_SCOPE_BYTES
        )));
    }
    let sig = Note::sign(&format::manifest_note_text(&manifest_bytes), &[&signer])
        .map_err(|e| Error::Request(format!("signing the manifest: {e}")))?
        .to_bytes();
    let manifest_sha256 = hex::encode(Sha256::digest(&manifest_bytes));

    // The archive: manifest, signature, small members, entries last.
    let tmp = dir.join(format!(".{name}.{pid}.tmp"));
    let mut tmp_guard = TempFile(Some(tmp.clone()));
    let file = File::create(&tmp).map_err(Error::io("create", &tmp))?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, file));
    let mtime = u64::try_from(now).unwrap_or(0);
    let append =
        |tar: &mut tar::Builder<BufWriter<File>>, name: &str, len: u64, data: &mut dyn Read| {
            let mut h = tar::Header::new_ustar();
            h.set_path(name).map_err(Error::io("name member", &tmp))?;
            h.set_size(len);
            h.set_mode(0o644);
            h.set_mtime(mtime);
            h.set_uid(0);
            h.set_gid(0);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            tar.append(&h, data).map_err(Error::io("write", &tmp))
        };
    append(
        &mut tar,
        MANIFEST,
        manifest_bytes.len() as u64,
        &mut manifest_bytes.as_slice(),
    )?;
    append(
        &mut tar,
        MANIFEST_SIG,
        sig.len() as u64,
        &mut sig.as_slice(),
    )?;
    for (n, b) in &members {
        append(&mut tar, n, b.len() as u64, &mut b.as_slice())?;
    }
    entries_file
        .seek(SeekFrom::Start(0))
        .map_err(Error::io("seek", &entries_tmp))?;
    let mut counted = Counted {
        inner: &mut entries_file,
        done: 0,
        total: entries_digest.size,
        progress,
    };
    append(&mut tar, ENTRIES, entries_digest.size, &mut counted)?;
    let writer = tar.into_inner().map_err(Error::io("write", &tmp))?;
    let file = writer
        .into_inner()
        .map_err(|e| Error::io("write", &tmp)(e.into_error()))?;
    file.sync_all().map_err(Error::io("fsync", &tmp))?;
    let bytes = file.metadata().map_err(Error::io("stat", &tmp))?.len();
    drop(file);
    fs::rename(&tmp, out).map_err(Error::io("rename into place", out))?;
    tmp_guard.0 = None;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("fsync directory", dir))?;
    drop(entries_file);
    drop(entries_guard.0.take().map(fs::remove_file));

    Ok(ExportSummary {
        path: out.to_path_buf(),
        entries: total,
        entry_bytes,
        checkpoints: cited.iter().map(|(s, _)| *s).collect(),
        multiproof_hashes: manifest.inclusion.hashes,
        bytes,
        manifest_sha256,
    })
}

/// A reader reporting write progress.
struct Counted<'a, R> {
    inner: R,
    done: u64,
    total: u64,
    progress: &'a mut dyn FnMut(Progress),
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let before = self.done >> 24;
        self.done += n as u64;
        if self.done >> 24 != before || self.done == self.total {
            (self.progress)(Progress {
                stage: Stage::Write,
                done: self.done,
                total: self.total,
            });
        }
        Ok(n)
    }
}
