//! Saving and loading the index.
//!
//! The file is derived data: the ledger is the truth and the index can be
//! rebuilt from it at any time (`custos forensics rebuild`). It is written
//! whole to a temporary file, synced and renamed over the old one, so a
//! crash leaves the old or the new snapshot, never a torn one; a SHA-256
//! trailer catches any other damage, and a damaged snapshot is refused (the
//! caller rebuilds).
//!
//! Layout (integers little-endian):
//!
//! ```text
//! "CUSTOS-FORENSICS 1\n"
//! u64 n, n bytes        metadata JSON (next index, names, variants, day ranges, stats)
//! u64 n, n × 16 bytes   subject keys in id order
//! u64 n, n × country    u16 len, name, u64 len, bitmap
//! u64 n, n × cell       u8 dim, u32 entity, u32 variant, u32 day,
//!                       u64 events, u64 accesses, i64 first, i64 last, u64 len, bitmap
//! u64 n, n × block      u8 dim, u32 entity, u32 variant, u8 level, u32 block, u64 len, bitmap
//! 32 bytes              SHA-256 of everything above
//! ```
//!
//! Bitmaps use the portable Roaring serialization format
//! (github.com/RoaringBitmap/RoaringFormatSpec), readable by the Roaring
//! libraries of other languages.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bits::Bits;
use crate::index::{Cell, Dim, Index, IndexStats, Interner, Variant};

const MAGIC: &[u8] = b"CUSTOS-FORENSICS 1\n";
/// Longest metadata JSON accepted.
const MAX_META: u64 = 1 << 30;

/// Why a snapshot could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: io::Error,
    },
    /// The file is not a snapshot or is damaged.
    #[error("{path}: not a valid forensic index snapshot: {reason} (rebuild it from the ledger)")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Meta {
    next_index: u64,
    pruned_before: u32,
    stats: IndexStats,
    names: Vec<Vec<String>>,
    variants: Vec<Variant>,
    day_ranges: Vec<(u32, u64, u64)>,
}

struct HashWriter<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct HashReader<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// Saves `index` to `path` atomically.
///
/// # Errors
/// [`SnapshotError::Io`] if the file cannot be written.
pub fn save(index: &mut Index, path: &Path) -> Result<u64, SnapshotError> {
    index.flush();
    let io_err = |source| SnapshotError::Io {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let file = File::create(&tmp).map_err(io_err)?;
    let mut w = HashWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        hash: Sha256::new(),
    };
    write_all(index, &mut w).map_err(io_err)?;
    let digest = w.hash.finalize();
    let mut inner = w.inner;
    inner.write_all(&digest).map_err(io_err)?;
    let file = inner.into_inner().map_err(|e| io_err(e.into_error()))?;
    file.sync_all().map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    drop(file);
    std::fs::rename(&tmp, path).map_err(io_err)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = File::open(dir)
    {
        d.sync_all().map_err(io_err)?;
    }
    Ok(len)
}

fn u64le(w: &mut impl Write, v: u64) -> io::Result<()> {
    w.write_all(&v.to_le_bytes())
}

fn write_bitmap(w: &mut impl Write, b: &RoaringBitmap) -> io::Result<()> {
    u64le(w, b.serialized_size() as u64)?;
    b.serialize_into(w)
}

fn write_all(index: &Index, w: &mut impl Write) -> io::Result<()> {
    w.write_all(MAGIC)?;
    let meta = Meta {
        next_index: index.next_index,
        pruned_before: index.pruned_before,
        stats: index.stats.clone(),
        names: index.names.iter().map(|n| n.names.clone()).collect(),
        variants: index.variants.clone(),
        day_ranges: index
            .day_ranges
            .iter()
            .map(|(d, (a, b))| (*d, *a, *b))
            .collect(),
    };
    let meta = serde_json::to_vec(&meta).map_err(io::Error::other)?;
    u64le(w, meta.len() as u64)?;
    w.write_all(&meta)?;
    let keys = index.dict.keys();
    u64le(w, keys.len() as u64)?;
    for k in keys {
        w.write_all(k)?;
    }
    let countries = index.dict.countries();
    u64le(w, countries.len() as u64)?;
    for (name, bits) in countries {
        let n = u16::try_from(name.len()).map_err(io::Error::other)?;
        w.write_all(&n.to_le_bytes())?;
        w.write_all(name.as_bytes())?;
        write_bitmap(w, bits)?;
    }
    u64le(w, index.cells.len() as u64)?;
    for ((dim, e, v, day), c) in &index.cells {
        w.write_all(&[*dim])?;
        for x in [e, v, day] {
            w.write_all(&x.to_le_bytes())?;
        }
        u64le(w, c.events)?;
        u64le(w, c.accesses)?;
        w.write_all(&c.first_ms.to_le_bytes())?;
        w.write_all(&c.last_ms.to_le_bytes())?;
        u64le(w, c.bits.serialized_size() as u64)?;
        c.bits.write(w)?;
    }
    u64le(w, index.blocks.len() as u64)?;
    for ((dim, e, v, level, block), b) in &index.blocks {
        w.write_all(&[*dim])?;
        w.write_all(&e.to_le_bytes())?;
        w.write_all(&v.to_le_bytes())?;
        w.write_all(&[*level])?;
        w.write_all(&block.to_le_bytes())?;
        u64le(w, b.serialized_size() as u64)?;
        b.write(w)?;
    }
    Ok(())
}

/// Loads a snapshot. `Ok(None)` if there is none.
///
/// # Errors
/// [`SnapshotError`] if it cannot be read or is damaged.
pub fn load(path: &Path) -> Result<Option<Index>, SnapshotError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SnapshotError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let invalid = |reason: String| SnapshotError::Invalid {
        path: path.display().to_string(),
        reason,
    };
    let body = len
        .checked_sub(32)
        .ok_or_else(|| invalid("shorter than its checksum".into()))?;
    let mut r = HashReader {
        inner: BufReader::with_capacity(1 << 20, file).take(body),
        hash: Sha256::new(),
    };
    let index = read_all(&mut r, body).map_err(|e| invalid(e.to_string()))?;
    let digest = r.hash.finalize();
    let mut file = r.inner.into_inner();
    let mut trailer = [0u8; 32];
    file.read_exact(&mut trailer)
        .map_err(|e| invalid(format!("checksum: {e}")))?;
    if trailer.as_slice() != digest.as_slice() {
        return Err(invalid("checksum mismatch".into()));
    }
    Ok(Some(index))
}

fn bad(reason: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.into())
}

fn r_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn r_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn r_u8(r: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

/// A count read from the file, refused if it cannot fit in what is left
/// (`min` bytes per item), so a damaged count never allocates wildly.
fn r_count(r: &mut impl Read, body: u64, min: u64) -> io::Result<u64> {
    let n = r_u64(r)?;
    if n.saturating_mul(min) > body {
        return Err(bad(format!("count {n} exceeds the file")));
    }
    Ok(n)
}

fn read_bitmap(r: &mut impl Read, body: u64) -> io::Result<RoaringBitmap> {
    let n = r_u64(r)?;
    if n > body {
        return Err(bad("bitmap longer than the file"));
    }
    let mut take = r.take(n);
    let b = RoaringBitmap::deserialize_from(&mut take)?;
    if take.limit() != 0 {
        return Err(bad("bitmap shorter than its length"));
    }
    Ok(b)
}

/// A bitmap kept serialized (validated).
fn read_frozen(r: &mut impl Read, body: u64) -> io::Result<Bits> {
    let n = r_u64(r)?;
    if n > body {
        return Err(bad("bitmap longer than the file"));
    }
    let mut bytes = vec![0u8; usize::try_from(n).map_err(|_| bad("bitmap too long"))?];
    r.read_exact(&mut bytes)?;
    Bits::from_bytes(bytes)
}

fn read_all(r: &mut impl Read, body: u64) -> io::Result<Index> {
    let mut magic = [0u8; MAGIC.len()];
    r.read_exact(&mut magic)?;
    if magic != MAGIC {
        return Err(bad("not a forensic index snapshot (bad magic)"));
    }
    let n = r_u64(r)?;
    if n > MAX_META.min(body) {
        return Err(bad("metadata too long"));
    }
    let mut meta = vec![0u8; usize::try_from(n).map_err(|_| bad("metadata too long"))?];
    r.read_exact(&mut meta)?;
    let meta: Meta = serde_json::from_slice(&meta).map_err(|e| bad(format!("metadata: {e}")))?;
    let mut index = Index::new();
    index.next_index = meta.next_index;
    index.pruned_before = meta.pruned_before;
    index.stats = meta.stats;
    if meta.names.len() != Dim::ALL.len() {
        return Err(bad("metadata: names must list every entity kind"));
    }
    for (slot, names) in index.names.iter_mut().zip(meta.names) {
        *slot = Interner::from_names(names);
    }
    for v in meta.variants {
        index.insert_variant(v);
    }
    index.day_ranges = meta
        .day_ranges
        .into_iter()
        .map(|(d, a, b)| (d, (a, b)))
        .collect();
    let keys = r_count(r, body, 16)?;
    for _ in 0..keys {
        let mut k = [0u8; 16];
        r.read_exact(&mut k)?;
        if !index.dict.push_key(k) {
            return Err(bad("a subject key appears twice"));
        }
    }
    let n = r_count(r, body, 10)?;
    let mut countries = BTreeMap::new();
    for _ in 0..n {
        let mut l = [0u8; 2];
        r.read_exact(&mut l)?;
        let mut name = vec![0u8; usize::from(u16::from_le_bytes(l))];
        r.read_exact(&mut name)?;
        let name = String::from_utf8(name).map_err(|_| bad("country name is not UTF-8"))?;
        countries.insert(name, read_bitmap(r, body)?);
    }
    index.dict.set_countries(countries);
    let n = r_count(r, body, 53)?;
    for _ in 0..n {
        let dim = r_u8(r)?;
        if Dim::from_code(dim).is_none() {
            return Err(bad(format!("unknown entity kind {dim}")));
        }
        let (e, v, day) = (r_u32(r)?, r_u32(r)?, r_u32(r)?);
        if v as usize >= index.variants.len() {
            return Err(bad(format!("cell names unknown variant {v}")));
        }
        let events = r_u64(r)?;
        let accesses = r_u64(r)?;
        let first = i64::from_le_bytes(r_u64(r)?.to_le_bytes());
        let last = i64::from_le_bytes(r_u64(r)?.to_le_bytes());
        let bits = read_frozen(r, body)?;
        index.insert_cell(
            (dim, e, v, day),
            Cell::from_parts(bits, events, accesses, first, last),
        );
    }
    let n = r_count(r, body, 22)?;
    for _ in 0..n {
        let dim = r_u8(r)?;
        let (e, v) = (r_u32(r)?, r_u32(r)?);
        let level = r_u8(r)?;
        let block = r_u32(r)?;
        let bits = read_frozen(r, body)?;
        index.blocks.insert((dim, e, v, level, block), bits);
        index.blocked.insert((dim, e, v));
    }
    Ok(index)
}

/// Loads a snapshot from bytes and never panics (fuzz entry point);
/// returns whether it was accepted (checksum included).
pub fn fuzz_snapshot(data: &[u8]) -> bool {
    let cut = data.len().saturating_sub(32);
    let (head, trailer) = (
        data.get(..cut).unwrap_or_default(),
        data.get(cut..).unwrap_or_default(),
    );
    let mut r = HashReader {
        inner: head,
        hash: Sha256::new(),
    };
    let loaded = read_all(&mut r, cut as u64).is_ok();
    loaded && trailer.len() == 32 && r.hash.finalize().as_slice() == trailer
}
