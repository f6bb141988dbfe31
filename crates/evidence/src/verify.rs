//! Offline verification of a bundle with only the log's public key.
//!
//! The archive is hostile input: it is read once, as a stream; no member is
//! trusted until `manifest.sig` (the second member) has verified over
//! `manifest.json` (the first), and every later member must be listed in the
//! manifest with its size and SHA-256. Memory stays bounded: before the
//! signature check by [`MAX_MANIFEST_BYTES`] and the note limit; after it by
//! the manifest's own (signed, range-checked) sizes, with entries streamed
//! (only their 32-byte leaf hashes are kept).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};
use tlog::{HASH_SIZE, Hash, TlogProof, Verifier, open_checkpoint, open_note};

use crate::format::{
    self, ENTRIES, MANIFEST, MANIFEST_SIG, MAX_CONSISTENCY_BYTES, MAX_MANIFEST_BYTES,
    MAX_NOTE_BYTES, MULTIPROOF, Manifest,
};
use crate::multiproof;
use crate::{Error, Result};

/// What a bundle proved.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifyReport {
    /// The incident id.
    pub incident: String,
    /// When the bundle was made (RFC 3339, as the exporter stated it).
    pub created: String,
    /// The log's origin.
    pub origin: String,
    /// The scope, as stated by the exporter (covered by the signature).
    pub scope: serde_json::Value,
    /// Cited checkpoint sizes, increasing; each consistent with the next.
    pub checkpoints: Vec<u64>,
    /// Base64 root of the latest cited checkpoint.
    pub root: String,
    /// Entries proved included in the latest checkpoint.
    pub entries: u64,
    /// Bytes of those entries.
    pub entry_bytes: u64,
    /// Hashes in the multi-proof.
    pub multiproof_hashes: u64,
    /// Bytes read from the archive (up to its end-of-archive marker).
    pub archive_bytes: u64,
    /// Hex SHA-256 of `manifest.json`.
    pub manifest_sha256: String,
}

/// Verifies the bundle at `path` with the log's verifier key
/// (`name+hexid+base64`, as `custos ledger init` prints it). See
/// [`verify_reader`].
///
/// # Errors
///
/// [`Error::VerifierKey`], [`Error::Io`], or any error of [`verify_reader`].
pub fn verify(path: &Path, vkey: &str) -> Result<VerifyReport> {
    let verifier = Verifier::parse(vkey.trim()).map_err(Error::VerifierKey)?;
    let file = File::open(path).map_err(Error::io("open", path))?;
    verify_reader(
        BufReader::with_capacity(1 << 20, file),
        &verifier,
        &mut |_, _| {},
    )
}

/// Verifies a bundle read from `input`: the manifest's signature by
/// `verifier`; every member's size and SHA-256; every cited checkpoint's
/// signature, origin and size; the consistency of each checkpoint with the
/// next; and the inclusion of every entry in the latest checkpoint (its root
/// recomputed from the entries and the multi-proof). `visit` sees each entry
/// (`index`, bytes) as it is streamed; trust them only if this returns `Ok`.
///
/// # Errors
///
/// The first failure, naming the member (and the manifest field) at fault:
/// [`Error::Archive`], [`Error::Manifest`], [`Error::ManifestSignature`],
/// [`Error::Digest`], [`Error::Checkpoint`], [`Error::Consistency`],
/// [`Error::Entries`] or [`Error::Inclusion`].
pub fn verify_reader(
    input: impl Read,
    verifier: &Verifier,
    visit: &mut dyn FnMut(u64, &[u8]),
) -> Result<VerifyReport> {
    check(input, Trust::Key(verifier), None, visit).map(|(r, _)| r)
}

/// A standard `c2sp.org/tlog-proof@v1` for entry `index`, rebuilt from a
/// verified bundle (its multi-proof and the other proved entries) and its
/// latest checkpoint, so a single access can be shown in the standard
/// format. The bundle is verified first.
///
/// # Errors
///
/// Any error of [`verify`], and [`Error::NotProved`] if the bundle does not
/// prove `index`.
pub fn tlog_proof(path: &Path, vkey: &str, index: u64) -> Result<TlogProof> {
    let verifier = Verifier::parse(vkey.trim()).map_err(Error::VerifierKey)?;
    let file = File::open(path).map_err(Error::io("open", path))?;
    let (_, proof) = check(
        BufReader::with_capacity(1 << 20, file),
        Trust::Key(&verifier),
        Some(index),
        &mut |_, _| {},
    )?;
    proof.ok_or(Error::NotProved { index })
}

/// Fuzz entry point: verifies arbitrary bytes as a bundle. Must never
/// panic, whatever `data` is. It runs twice: with a fixed key (so real
/// signature checks run), and once more with every signature check skipped,
/// so a fuzzer also reaches the manifest, proof and entry parsers behind
/// them (a stolen key must not make the verifier crash either).
pub fn fuzz_bundle(data: &[u8]) {
    const VKEY: &str = "fuzz.example/log+d6778f1e+ASsGRbK0qlspFTmOfizpNC3s9oQxLZ4nGHIA61S6RZ7N";
    if let Ok(v) = Verifier::parse(VKEY) {
        let _ = check(data, Trust::Key(&v), Some(0), &mut |_, _| {});
    }
    let _ = check(data, Trust::Nothing, Some(0), &mut |_, _| {});
}

/// Whose signatures count.
#[derive(Clone, Copy)]
enum Trust<'a> {
    /// The log's key: the only mode of the public API.
    Key(&'a Verifier),
    /// No signature is checked (fuzzing only, to reach the later parsers).
    Nothing,
}

/// What each listed member is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Checkpoint(usize),
    Consistency(usize),
    MultiProof,
    Entries,
}

/// A reader that hashes and counts what is read through it.
struct Hashing<R> {
    inner: R,
    sha: Sha256,
    len: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(buf.get(..n).unwrap_or_default());
        self.len += n as u64;
        Ok(n)
    }
}

fn tar_err(e: std::io::Error) -> Error {
    Error::archive(format!("not a readable tar archive: {e}"))
}

fn manifest_err(path: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Manifest {
        path: path.into(),
        reason: reason.into(),
    }
}

/// The name of a tar member, if it is a regular file with a UTF-8 name.
fn member_name<R: Read>(entry: &tar::Entry<'_, R>) -> Result<String> {
    let path = entry.path_bytes();
    let name = std::str::from_utf8(&path)
        .map_err(|_| Error::archive("a member name is not UTF-8"))?
        .to_owned();
    let kind = entry.header().entry_type();
    if kind != tar::EntryType::Regular {
        return Err(Error::archive(format!(
            "member {name:?} is not a regular file ({kind:?})"
        )));
    }
    Ok(name)
}

/// Reads the whole of a member of at most `max` bytes (never allocating
/// ahead of the bytes actually present).
fn read_small(entry: impl Read, name: &str, max: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    entry
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::archive(format!("{name}: {e}")))?;
    if out.len() as u64 > max {
        return Err(Error::archive(format!("{name} is larger than {max} bytes")));
    }
    Ok(out)
}

/// Reads one of the two leading members, which must be `want`.
fn leading<R: Read>(members: &mut tar::Entries<'_, R>, want: &str, max: u64) -> Result<Vec<u8>> {
    let entry = members
        .next()
        .ok_or_else(|| Error::archive(format!("the archive ends before {want}")))?
        .map_err(tar_err)?;
    let name = member_name(&entry)?;
    if name != want {
        return Err(Error::archive(format!(
            "member {name:?} where {want} is expected (the bundle starts with {MANIFEST} then {MANIFEST_SIG})"
        )));
    }
    read_small(entry, want, max)
}

fn parse_manifest(bytes: &[u8]) -> Result<Manifest> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        manifest_err(
            if path == "." {
                "$".into()
            } else {
                format!("$.{path}")
            },
            e.into_inner().to_string(),
        )
    })
}

/// Checks the manifest's shape, and returns what each member must be.
fn plan(m: &Manifest) -> Result<HashMap<String, (Kind, u64, String)>> {
    if m.format != format::FORMAT {
        return Err(manifest_err(
            "$.format",
            format!("is not {:?}", format::FORMAT),
        ));
    }
    if m.incident.len() > format::MAX_INCIDENT_LEN {
        return Err(manifest_err("$.incident", "is too long"));
    }
    if m.origin.is_empty() {
        return Err(manifest_err("$.origin", "is empty"));
    }
    if m.checkpoints.is_empty() || m.checkpoints.len() > format::MAX_CHECKPOINTS {
        return Err(manifest_err(
            "$.checkpoints",
            format!("must cite 1 to {} checkpoints", format::MAX_CHECKPOINTS),
        ));
    }
    let mut expected: HashMap<String, (Kind, u64)> = HashMap::new();
    let mut prev: Option<u64> = None;
    for (i, c) in m.checkpoints.iter().enumerate() {
        if prev.is_some_and(|p| p >= c.size) {
            return Err(manifest_err(
                format!("$.checkpoints[{i}].size"),
                "sizes must be strictly increasing",
            ));
        }
        prev = Some(c.size);
        if c.file != format::checkpoint_name(c.size) {
            return Err(manifest_err(
                format!("$.checkpoints[{i}].file"),
                format!("must be {:?}", format::checkpoint_name(c.size)),
            ));
        }
        expected.insert(c.file.clone(), (Kind::Checkpoint(i), MAX_NOTE_BYTES));
    }
    let latest = prev.unwrap_or(0);
    if m.consistency.len() + 1 != m.checkpoints.len() {
        return Err(manifest_err(
            "$.consistency",
            "must hold one proof per consecutive pair of checkpoints",
        ));
    }
    for (i, (c, pair)) in m
        .consistency
        .iter()
        .zip(m.checkpoints.windows(2))
        .enumerate()
    {
        let [a, b] = pair else { continue };
        if c.old != a.size || c.new != b.size {
            return Err(manifest_err(
                format!("$.consistency[{i}]"),
                format!("must prove {} to {}", a.size, b.size),
            ));
        }
        if c.file != format::consistency_name(c.old, c.new) {
            return Err(manifest_err(
                format!("$.consistency[{i}].file"),
                format!("must be {:?}", format::consistency_name(c.old, c.new)),
            ));
        }
        expected.insert(
            c.file.clone(),
            (Kind::Consistency(i), MAX_CONSISTENCY_BYTES),
        );
    }
    if m.entries.file != ENTRIES {
        return Err(manifest_err(
            "$.entries.file",
            format!("must be {ENTRIES:?}"),
        ));
    }
    let count = m.entries.indices.len();
    if count > format::MAX_ENTRIES {
        return Err(manifest_err(
            "$.entries.indices",
            format!("more than {} entries", format::MAX_ENTRIES),
        ));
    }
    if let Err(multiproof::MultiProofError::BadIndices { position, .. }) =
        multiproof::check_indices(&m.entries.indices, latest)
    {
        return Err(manifest_err(
            format!("$.entries.indices[{position}]"),
            format!(
                "indices must be strictly increasing and below the latest checkpoint size {latest}"
            ),
        ));
    }
    expected.insert(
        ENTRIES.to_owned(),
        (
            Kind::Entries,
            count as u64 * (2 + tlog::MAX_ENTRY_SIZE as u64),
        ),
    );
    if m.inclusion.file != MULTIPROOF {
        return Err(manifest_err(
            "$.inclusion.file",
            format!("must be {MULTIPROOF:?}"),
        ));
    }
    if m.inclusion.tree_size != latest {
        return Err(manifest_err(
            "$.inclusion.tree_size",
            format!("must be the latest checkpoint's size {latest}"),
        ));
    }
    // A multi-proof never needs more than 64 hashes per proved leaf (one
    // per level), or the root alone when nothing is proved.
    if m.inclusion.hashes > 64 * (count as u64).max(1) {
        return Err(manifest_err(
            "$.inclusion.hashes",
            "is more than any tree needs",
        ));
    }
    expected.insert(
        MULTIPROOF.to_owned(),
        (Kind::MultiProof, m.inclusion.hashes * HASH_SIZE as u64),
    );
    let mut plan = HashMap::new();
    for (i, f) in m.files.iter().enumerate() {
        let Some(&(kind, max)) = expected.get(&f.name) else {
            return Err(manifest_err(
                format!("$.files[{i}].name"),
                format!("{:?} is not a member this manifest calls for", f.name),
            ));
        };
        if f.size > max || (kind == Kind::MultiProof && f.size != max) {
            return Err(manifest_err(
                format!("$.files[{i}].size"),
                format!("is not a possible size for {}", f.name),
            ));
        }
        if f.sha256.len() != 64
            || !f
                .sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(manifest_err(
                format!("$.files[{i}].sha256"),
                "is not 64 lower-case hex digits",
            ));
        }
        if plan
            .insert(f.name.clone(), (kind, f.size, f.sha256.clone()))
            .is_some()
        {
            return Err(manifest_err(
                format!("$.files[{i}].name"),
                format!("{:?} is listed twice", f.name),
            ));
        }
    }
    if let Some(missing) = expected.keys().find(|n| !plan.contains_key(*n)) {
        return Err(manifest_err(
            "$.files",
            format!("does not list {missing:?}"),
        ));
    }
    Ok(plan)
}

/// Parses a consistency proof file: one padded base64 hash a line.
fn parse_hash_lines(file: &str, old: u64, new: u64, bytes: &[u8]) -> Result<Vec<Hash>> {
    let bad = |reason: String| Error::Consistency {
        file: file.to_owned(),
        old,
        new,
        reason,
    };
    let mut out = Vec::new();
    if bytes.is_empty() {
        return Ok(out);
    }
    let body = bytes
        .strip_suffix(b"\n")
        .ok_or_else(|| bad("does not end in a newline".into()))?;
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let h = (line.len() == 44)
            .then(|| BASE64.decode(line).ok())
            .flatten()
            .and_then(|v| Hash::try_from(v.as_slice()).ok())
            .ok_or_else(|| {
                bad(format!(
                    "line {} is not the base64 of a 32-byte hash",
                    i + 1
                ))
            })?;
        out.push(h);
    }
    Ok(out)
}

/// Streams `entries.bin`, returning leaf hashes and entry bytes.
fn read_entries(
    r: &mut impl Read,
    indices: &[u64],
    visit: &mut dyn FnMut(u64, &[u8]),
) -> Result<(Vec<Hash>, u64)> {
    let bad = |reason: String| Error::Entries {
        file: ENTRIES.to_owned(),
        reason,
    };
    let mut leaves = Vec::with_capacity(indices.len().min(1 << 20));
    let mut buf = vec![0u8; tlog::MAX_ENTRY_SIZE];
    let mut bytes = 0u64;
    for (pos, &index) in indices.iter().enumerate() {
        let mut len = [0u8; 2];
        r.read_exact(&mut len).map_err(|e| {
            bad(format!(
                "entry {pos} (log index {index}): length prefix: {e}"
            ))
        })?;
        let len = usize::from(u16::from_be_bytes(len));
        let body = buf.get_mut(..len).unwrap_or_default();
        r.read_exact(body)
            .map_err(|e| bad(format!("entry {pos} (log index {index}): {len} bytes: {e}")))?;
        leaves.push(tlog::leaf_hash(body));
        visit(index, body);
        bytes += len as u64;
    }
    let mut one = [0u8; 1];
    match r.read(&mut one) {
        Ok(0) => Ok((leaves, bytes)),
        Ok(_) => Err(bad(format!(
            "bytes follow the last of its {} entries",
            indices.len()
        ))),
        Err(e) => Err(bad(e.to_string())),
    }
}

/// A cited checkpoint's (size, root, note bytes).
struct Cited {
    size: u64,
    root: Hash,
    note: Vec<u8>,
}

impl Cited {
    fn size(&self) -> u64 {
        self.size
    }

    fn root(&self) -> &Hash {
        &self.root
    }
}

fn open_cited(note: &[u8], origin: &str, trust: Trust<'_>) -> Result<Cited, tlog::CheckpointError> {
    match trust {
        Trust::Key(v) => open_checkpoint(note, origin, v).map(|cp| Cited {
            size: cp.size(),
            root: *cp.root(),
            note: note.to_vec(),
        }),
        Trust::Nothing => {
            let n = tlog::Note::parse(note)?;
            let cp = tlog::Checkpoint::parse_text(&n.text)?;
            Ok(Cited {
                size: cp.size,
                root: cp.root,
                note: note.to_vec(),
            })
        }
    }
}

fn check(
    input: impl Read,
    trust: Trust<'_>,
    target: Option<u64>,
    visit: &mut dyn FnMut(u64, &[u8]),
) -> Result<(VerifyReport, Option<TlogProof>)> {
    let mut counted = Hashing {
        inner: input,
        sha: Sha256::new(),
        len: 0,
    };
    let mut archive = tar::Archive::new(&mut counted);
    let mut members = archive.entries().map_err(tar_err)?;

    // 1. The manifest and its signature, before anything else is believed.
    let manifest_bytes = leading(&mut members, MANIFEST, MAX_MANIFEST_BYTES)?;
    let sig = leading(&mut members, MANIFEST_SIG, MAX_NOTE_BYTES)?;
    let text = match trust {
        Trust::Key(verifier) => open_note(&sig, std::slice::from_ref(verifier))
            .map(|n| n.text().to_owned())
            .map_err(|e| Error::ManifestSignature(e.to_string()))?,
        Trust::Nothing => tlog::Note::parse(&sig)
            .map(|n| n.text)
            .map_err(|e| Error::ManifestSignature(e.to_string()))?,
    };
    if text != format::manifest_note_text(&manifest_bytes) {
        return Err(Error::ManifestSignature(
            "the signed note is not over this manifest's SHA-256".into(),
        ));
    }
    let m = parse_manifest(&manifest_bytes)?;
    let plan = plan(&m)?;

    // 2. Every other member: listed, of its size and SHA-256.
    let mut notes: Vec<Option<Vec<u8>>> = vec![None; m.checkpoints.len()];
    let mut proofs: Vec<Option<Vec<u8>>> = vec![None; m.consistency.len()];
    let mut multi: Option<Vec<u8>> = None;
    let mut entries: Option<(Vec<Hash>, u64)> = None;
    let mut seen: Vec<String> = Vec::new();
    for member in members {
        let entry = member.map_err(tar_err)?;
        let name = member_name(&entry)?;
        let Some((kind, size, sha)) = plan.get(&name) else {
            return Err(Error::archive(format!(
                "member {name:?} is not listed in the manifest"
            )));
        };
        if seen.contains(&name) {
            return Err(Error::archive(format!("member {name:?} appears twice")));
        }
        seen.push(name.clone());
        if entry.header().size().ok() != Some(*size) {
            return Err(Error::Digest {
                file: name,
                what: "size",
            });
        }
        let mut r = Hashing {
            inner: entry,
            sha: Sha256::new(),
            len: 0,
        };
        match kind {
            Kind::Entries => {
                let mut buffered = BufReader::with_capacity(1 << 20, &mut r);
                entries = Some(read_entries(&mut buffered, &m.entries.indices, visit)?);
            }
            Kind::Checkpoint(i) => {
                let b = read_small(&mut r, &name, *size)?;
                if let Some(slot) = notes.get_mut(*i) {
                    *slot = Some(b);
                }
            }
            Kind::Consistency(i) => {
                let b = read_small(&mut r, &name, *size)?;
                if let Some(slot) = proofs.get_mut(*i) {
                    *slot = Some(b);
                }
            }
            Kind::MultiProof => multi = Some(read_small(&mut r, &name, *size)?),
        }
        if r.len != *size {
            return Err(Error::Digest {
                file: name,
                what: "size",
            });
        }
        if hex::encode(r.sha.finalize()) != *sha {
            return Err(Error::Digest {
                file: name,
                what: "SHA-256",
            });
        }
    }
    if let Some(missing) = plan.keys().find(|n| !seen.contains(n)) {
        return Err(Error::archive(format!(
            "member {missing:?} listed in the manifest is missing"
        )));
    }
    let missing = |what: &str| Error::archive(format!("{what} is missing"));

    // 3. The checkpoints: this log's key and origin, of the stated sizes.
    let mut opened = Vec::with_capacity(m.checkpoints.len());
    for (c, note) in m.checkpoints.iter().zip(&notes) {
        let note = note.as_ref().ok_or_else(|| missing(&c.file))?;
        let cp = open_cited(note, &m.origin, trust).map_err(|e| Error::Checkpoint {
            file: c.file.clone(),
            reason: e.to_string(),
        })?;
        if cp.size() != c.size {
            return Err(Error::Checkpoint {
                file: c.file.clone(),
                reason: format!(
                    "tree size {} is not the {} the manifest states",
                    cp.size(),
                    c.size
                ),
            });
        }
        opened.push(cp);
    }

    // 4. Each checkpoint is a prefix of the next (RFC 9162 §2.1.4.2).
    for ((c, proof), pair) in m.consistency.iter().zip(&proofs).zip(opened.windows(2)) {
        let [a, b] = pair else { continue };
        let bytes = proof.as_ref().ok_or_else(|| missing(&c.file))?;
        let hashes = parse_hash_lines(&c.file, c.old, c.new, bytes)?;
        tlog::verify_consistency(a.size(), b.size(), a.root(), b.root(), &hashes).map_err(|e| {
            Error::Consistency {
                file: c.file.clone(),
                old: c.old,
                new: c.new,
                reason: e.to_string(),
            }
        })?;
    }

    // 5. Every entry is in the latest checkpoint: recompute its root.
    let latest = opened
        .last()
        .ok_or_else(|| missing("the latest checkpoint"))?;
    let (leaves, entry_bytes) = entries.ok_or_else(|| missing(ENTRIES))?;
    let multi = multi.ok_or_else(|| missing(MULTIPROOF))?;
    let inclusion = |source| Error::Inclusion {
        file: MULTIPROOF.to_owned(),
        size: latest.size(),
        source,
    };
    let path_target = target.filter(|t| m.entries.indices.binary_search(t).is_ok());
    let (root, path) = multiproof::root_and_path(
        &m.entries.indices,
        &leaves,
        latest.size(),
        &multi,
        path_target,
    )
    .map_err(inclusion)?;
    if &root != latest.root() {
        return Err(inclusion(multiproof::MultiProofError::RootMismatch));
    }
    let single = path_target.map(|index| TlogProof {
        extra: None,
        index,
        hashes: path,
        checkpoint: latest.note.clone(),
    });
    // Read to the end of the input so the byte count covers it all.
    let _ = std::io::copy(&mut counted, &mut std::io::sink());

    Ok((
        VerifyReport {
            incident: m.incident,
            created: m.created,
            origin: m.origin,
            scope: m.scope,
            checkpoints: opened.iter().map(Cited::size).collect(),
            root: BASE64.encode(latest.root()),
            entries: leaves.len() as u64,
            entry_bytes,
            multiproof_hashes: (multi.len() / HASH_SIZE) as u64,
            archive_bytes: counted.len,
            manifest_sha256: hex::encode(Sha256::digest(&manifest_bytes)),
        },
        single,
    ))
}
