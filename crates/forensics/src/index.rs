//! The index: per entity, dataset variant and UTC day, the set of subjects
//! accessed (a Roaring bitmap over [`SubjectDict`] ids), with the number of
//! access events, subject-accesses and the first and last access time.
//!
//! **Aggregates.** A query over many days would union one bitmap per day;
//! for the attacker of 2025 that is 147 bitmaps of ~230K subjects each, too
//! slow for the ≤ 100 ms goal. So each cell is also ORed into aligned 8-day
//! and 64-day blocks (a two-level segment tree over days): a query over
//! whole days is covered greedily by the largest aligned blocks inside it,
//! at most ~30 bitmaps for any range, ~12 for 147 days.
//!
//! **Dataset variants.** Each access names one dataset and the data
//! categories read; the pair is a *variant*, and cells are kept per variant,
//! so a category breakdown is the union of the variants holding that
//! category (usually one or two per entity), not one bitmap per category.
//!
//! **Only allowed accesses are indexed**: a denied access read nothing.
//! Denied and refused entries are counted in [`IndexStats`].
//!
//! **Insertion** buffers subject ids per cell and merges them in sorted runs
//! (one `from_sorted_iter` and three ORs per 4,096 ids), which is ~10×
//! faster than inserting ids one by one into three bitmaps.

use std::collections::BTreeMap;

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::bits::Bits;
use crate::dict::SubjectDict;
use crate::{DAY_MS, day_of};

/// The kinds of entity indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dim {
    /// Every access (one entity, `*`).
    All,
    /// `actor.user.uid`.
    Principal,
    /// The signing key of the token used (`unmapped.custos.kid`).
    Kid,
    /// The token issuer (`actor.session.issuer`).
    Issuer,
    /// The source network (IPv4 /24, IPv6 /48) of `src_endpoint.ip`.
    Net,
    /// `src_endpoint.location.country`.
    Country,
}

impl Dim {
    /// Every kind, in code order.
    pub const ALL: [Dim; 6] = [
        Dim::All,
        Dim::Principal,
        Dim::Kid,
        Dim::Issuer,
        Dim::Net,
        Dim::Country,
    ];

    fn code(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_code(c: u8) -> Option<Dim> {
        Dim::ALL.get(c as usize).copied()
    }

    /// The name used in queries and answers.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Dim::All => "all",
            Dim::Principal => "principal",
            Dim::Kid => "kid",
            Dim::Issuer => "issuer",
            Dim::Net => "src_net",
            Dim::Country => "src_country",
        }
    }
}

/// Aggregate block sizes, in days (level 1 and 2 of the segment tree).
pub const BLOCK_DAYS: [u32; 2] = [8, 64];

/// Ids buffered per cell before they are merged into its bitmaps.
const FLUSH_AT: usize = 4096;

/// An entity's dataset variant gets 8- and 64-day blocks once one of its
/// days holds this many subjects. Below it, a query's union of day cells is
/// cheap (147 days × 20K subjects is ~3M values) and blocks would only
/// double the size of the many small entities (most principals, most
/// networks); above it, blocks keep a 147-day query to a dozen bitmaps.
pub const BLOCK_MIN_SUBJECTS: u64 = 20_000;

/// `(dim, entity, variant, day)`.
pub(crate) type CellKey = (u8, u32, u32, u32);
/// `(dim, entity, variant, level, block)`.
pub(crate) type BlockKey = (u8, u32, u32, u8, u32);

/// One entity's accesses to one dataset variant on one day.
#[derive(Clone, Debug, Default)]
pub struct Cell {
    /// The subjects accessed (merged part).
    pub bits: Bits,
    pending: Vec<u32>,
    /// In the hot list (watched for freezing).
    listed: bool,
    /// Access events (a split event counts once).
    pub events: u64,
    /// Subject-accesses (subjects summed over entries).
    pub accesses: u64,
    /// First access, ms.
    pub first_ms: i64,
    /// Last access, ms.
    pub last_ms: i64,
}

impl Cell {
    pub(crate) fn from_parts(
        bits: Bits,
        events: u64,
        accesses: u64,
        first_ms: i64,
        last_ms: i64,
    ) -> Cell {
        Cell {
            bits,
            pending: Vec::new(),
            listed: false,
            events,
            accesses,
            first_ms,
            last_ms,
        }
    }
}

/// A dataset with the categories read from it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Variant {
    /// `resources[0].name`.
    pub dataset: String,
    /// [`events::DataCategory`] bits (bit `i` = `DataCategory::ALL[i]`).
    pub categories: u16,
}

/// Counters over everything the index has read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexStats {
    /// Ledger entries read.
    pub entries: u64,
    /// Allowed access entries indexed.
    pub access_entries: u64,
    /// Subject-accesses indexed.
    pub subject_accesses: u64,
    /// Denied access entries (not indexed).
    pub denied_entries: u64,
    /// Entries that could not be decoded (skipped, counted).
    pub decode_errors: u64,
}

/// Interned strings of one kind.
#[derive(Clone, Debug, Default)]
pub(crate) struct Interner {
    ids: hashbrown::HashMap<String, u32>,
    pub(crate) names: Vec<String>,
}

impl Interner {
    pub(crate) fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.ids.insert(s.to_owned(), id);
        self.names.push(s.to_owned());
        id
    }

    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    pub(crate) fn from_names(names: Vec<String>) -> Interner {
        let ids = names
            .iter()
            .zip(0u32..)
            .map(|(n, i)| (n.clone(), i))
            .collect();
        Interner { ids, names }
    }
}

/// One access to index, with subjects already numbered (the ledger path is
/// [`Index::apply_entry`]; benchmarks feed this directly).
#[derive(Clone, Copy, Debug)]
pub struct Access<'a> {
    /// Ledger index of the entry.
    pub index: u64,
    /// Event time, ms.
    pub time_ms: i64,
    /// Principal (`actor.user.uid`).
    pub principal: &'a str,
    /// Signing key id.
    pub kid: Option<&'a str>,
    /// Token issuer.
    pub issuer: Option<&'a str>,
    /// Source network (already reduced to /24 or /48).
    pub net: Option<&'a str>,
    /// Source country.
    pub country: Option<&'a str>,
    /// Dataset.
    pub dataset: &'a str,
    /// Category bits.
    pub categories: u16,
    /// Subject ids.
    pub subjects: &'a [u32],
    /// False for the second and later parts of a split event.
    pub new_event: bool,
}

/// The forensic index.
#[derive(Clone, Debug, Default)]
pub struct Index {
    pub(crate) dict: SubjectDict,
    pub(crate) names: [Interner; 6],
    pub(crate) variants: Vec<Variant>,
    variant_ids: hashbrown::HashMap<Variant, u32>,
    pub(crate) cells: Vec<(CellKey, Cell)>,
    cell_ids: hashbrown::HashMap<CellKey, u32>,
    pub(crate) blocks: hashbrown::HashMap<BlockKey, Bits>,
    /// Cell ids per `(dim, entity)`.
    by_entity: hashbrown::HashMap<(u8, u32), Vec<u32>>,
    /// Per day: the lowest and highest ledger index of an access entry whose
    /// event time falls on that day (where to read partial days from).
    pub(crate) day_ranges: BTreeMap<u32, (u64, u64)>,
    /// The next ledger index to read.
    pub(crate) next_index: u64,
    pub(crate) stats: IndexStats,
    /// Days before this one were pruned by retention.
    pub(crate) pruned_before: u32,
    /// The latest day seen: cells and blocks that end before the day before
    /// it are frozen ([`Bits`]).
    max_day: u32,
    /// `(dim, entity, variant)` that have blocks (see [`BLOCK_MIN_SUBJECTS`]).
    pub(crate) blocked: hashbrown::HashSet<(u8, u32, u32)>,
    /// [`BLOCK_MIN_SUBJECTS`] unless set (tests).
    block_min: Option<u64>,
    hot_cells: Vec<u32>,
    hot_blocks: Vec<BlockKey>,
    dirty: Vec<u32>,
    subject_buf: Vec<u32>,
}

impl Index {
    /// An empty index.
    #[must_use]
    pub fn new() -> Index {
        Index::default()
    }

    /// The next ledger index the index expects (everything below is in).
    #[must_use]
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> &IndexStats {
        &self.stats
    }

    /// The subject dictionary.
    #[must_use]
    pub fn dict(&self) -> &SubjectDict {
        &self.dict
    }

    /// The subject dictionary, mutably (registry import, benchmarks).
    pub fn dict_mut(&mut self) -> &mut SubjectDict {
        &mut self.dict
    }

    /// Reads ledger entry `index`. Entries must come in index order with no
    /// gap; an entry below [`Index::next_index`] is ignored (already in), so
    /// a replay over an overlapping range is harmless.
    pub fn apply_entry(&mut self, index: u64, bytes: &[u8]) {
        if index < self.next_index {
            return;
        }
        self.next_index = index.saturating_add(1);
        self.stats.entries += 1;
        let rec = match detect::decode(index, bytes) {
            Ok(r) => r,
            Err(_) => {
                self.stats.decode_errors += 1;
                return;
            }
        };
        if rec.kind() != detect::RecordKind::Access {
            return;
        }
        if !rec.allowed() {
            self.stats.denied_entries += 1;
            return;
        }
        let mut subjects = std::mem::take(&mut self.subject_buf);
        subjects.clear();
        subjects.extend(rec.subjects.iter().map(|s| self.dict.id_of(s)));
        let net = rec.src_ip.as_deref().and_then(detect::network_of);
        self.add_access(&Access {
            index,
            time_ms: rec.time_ms,
            principal: &rec.actor,
            kid: rec.kid.as_deref(),
            issuer: rec.issuer.as_deref(),
            net: net.as_deref(),
            country: rec.src_country.as_deref(),
            dataset: rec.dataset.as_deref().unwrap_or(""),
            categories: rec.categories,
            subjects: &subjects,
            new_event: rec.part.is_none_or(|(i, _)| i == 0),
        });
        self.subject_buf = subjects;
    }

    /// Marks everything below `next` as read (entries the caller skipped on
    /// purpose, e.g. a benchmark feeding [`Index::add_access`]).
    pub fn set_next_index(&mut self, next: u64) {
        self.next_index = self.next_index.max(next);
    }

    /// Indexes one allowed access.
    pub fn add_access(&mut self, a: &Access<'_>) {
        let Ok(day) = u32::try_from(day_of(a.time_ms)) else {
            self.stats.decode_errors += 1;
            return;
        };
        self.stats.access_entries += 1;
        self.stats.subject_accesses += a.subjects.len() as u64;
        if day > self.max_day {
            self.max_day = day;
            self.freeze_old();
        }
        let r = self.day_ranges.entry(day).or_insert((a.index, a.index));
        r.0 = r.0.min(a.index);
        r.1 = r.1.max(a.index);
        let variant = Variant {
            dataset: a.dataset.to_owned(),
            categories: a.categories,
        };
        let v = match self.variant_ids.get(&variant) {
            Some(&v) => v,
            None => {
                let v = u32::try_from(self.variants.len()).unwrap_or(u32::MAX);
                self.variant_ids.insert(variant.clone(), v);
                self.variants.push(variant);
                v
            }
        };
        let values = [
            (Dim::All, Some("*")),
            (Dim::Principal, Some(a.principal)),
            (Dim::Kid, a.kid),
            (Dim::Issuer, a.issuer),
            (Dim::Net, a.net),
            (Dim::Country, a.country),
        ];
        for (dim, value) in values {
            let Some(value) = value else { continue };
            let Some(names) = self.names.get_mut(dim as usize) else {
                continue;
            };
            let e = names.id(value);
            let key = (dim.code(), e, v, day);
            let id = self.cell_id(key);
            let flush = if let Some((_, cell)) = self.cells.get_mut(id as usize) {
                if cell.events == 0 && cell.accesses == 0 {
                    cell.first_ms = a.time_ms;
                    cell.last_ms = a.time_ms;
                }
                if a.new_event {
                    cell.events += 1;
                }
                cell.accesses += a.subjects.len() as u64;
                cell.first_ms = cell.first_ms.min(a.time_ms);
                cell.last_ms = cell.last_ms.max(a.time_ms);
                let was_empty = cell.pending.is_empty();
                cell.pending.extend_from_slice(a.subjects);
                if was_empty && !a.subjects.is_empty() {
                    self.dirty.push(id);
                }
                cell.pending.len() >= FLUSH_AT
            } else {
                false
            };
            if flush {
                self.flush_cell(id);
            }
        }
    }

    fn cell_id(&mut self, key: CellKey) -> u32 {
        if let Some(&id) = self.cell_ids.get(&key) {
            return id;
        }
        let id = u32::try_from(self.cells.len()).unwrap_or(u32::MAX);
        // New cells are live: watched, so that they are flushed and frozen
        // once their day is past.
        self.cells.push((
            key,
            Cell {
                listed: true,
                ..Cell::default()
            },
        ));
        self.hot_cells.push(id);
        self.cell_ids.insert(key, id);
        self.by_entity.entry((key.0, key.1)).or_default().push(id);
        id
    }

    /// Merges one cell's buffered ids into its bitmap and its blocks.
    fn flush_cell(&mut self, id: u32) {
        let Some((key, cell)) = self.cells.get_mut(id as usize) else {
            return;
        };
        if cell.pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut cell.pending);
        pending.sort_unstable();
        pending.dedup();
        let run = RoaringBitmap::from_sorted_iter(pending.iter().copied()).unwrap_or_default();
        cell.bits.or_assign(&run);
        let (dim, e, v, day) = *key;
        if !cell.listed {
            // Newly live (new, or thawed by a late access): watch it.
            cell.listed = true;
            self.hot_cells.push(id);
        }
        let big = cell.bits.get().len() >= self.block_min.unwrap_or(BLOCK_MIN_SUBJECTS);
        if !self.blocked.contains(&(dim, e, v)) {
            if big {
                self.backfill_blocks(dim, e, v);
            }
            pending.clear();
            if let Some((_, cell)) = self.cells.get_mut(id as usize)
                && pending.capacity() <= FLUSH_AT * 2
            {
                cell.pending = pending;
            }
            return;
        }
        for (level, size) in [1u8, 2].into_iter().zip(BLOCK_DAYS) {
            let bk = (dim, e, v, level, day / size);
            let b = self.blocks.entry(bk).or_default();
            let cold = !b.is_hot();
            let fresh = matches!(&*b, Bits::Hot(x) if x.is_empty());
            b.or_assign(&run);
            if cold || fresh {
                self.hot_blocks.push(bk);
            }
        }
        pending.clear();
        if let Some((_, cell)) = self.cells.get_mut(id as usize) {
            // Keep the allocation for the next run when it was small.
            if pending.capacity() <= FLUSH_AT * 2 {
                cell.pending = pending;
            }
        }
    }

    /// Gives `(dim, e, v)` its blocks, from every day cell it has.
    fn backfill_blocks(&mut self, dim: u8, e: u32, v: u32) {
        self.blocked.insert((dim, e, v));
        let ids: Vec<u32> = self.by_entity.get(&(dim, e)).cloned().unwrap_or_default();
        for id in ids {
            let Some(((_, _, cv, day), cell)) = self.cells.get(id as usize) else {
                continue;
            };
            if *cv != v {
                continue;
            }
            let (day, bits) = (*day, cell.bits.get().into_owned());
            for (level, size) in [1u8, 2].into_iter().zip(BLOCK_DAYS) {
                let bk = (dim, e, v, level, day / size);
                let b = self.blocks.entry(bk).or_default();
                let cold = !b.is_hot();
                let fresh = matches!(&*b, Bits::Hot(x) if x.is_empty());
                b.or_assign(&bits);
                if cold || fresh {
                    self.hot_blocks.push(bk);
                }
            }
        }
        self.hot_blocks.sort_unstable();
        self.hot_blocks.dedup();
    }

    /// Sets the day size from which an entity's variant gets blocks
    /// (default [`BLOCK_MIN_SUBJECTS`]; tests lower it).
    pub fn set_block_min(&mut self, subjects: u64) {
        self.block_min = Some(subjects);
    }

    /// True if `(dim, entity, variant)` has blocks.
    #[must_use]
    pub fn is_blocked(&self, dim: Dim, entity: u32, variant: u32) -> bool {
        self.blocked.contains(&(dim.code(), entity, variant))
    }

    /// Freezes the cells and blocks that end before the day before the
    /// latest day seen (accesses arrive roughly in time order; a late one
    /// thaws its cell).
    fn freeze_old(&mut self) {
        let limit = self.max_day.saturating_sub(1);
        let hot = std::mem::take(&mut self.hot_cells);
        let mut keep = Vec::with_capacity(hot.len());
        for id in hot {
            let old = self
                .cells
                .get(id as usize)
                .is_some_and(|((_, _, _, day), _)| *day < limit);
            if old {
                self.flush_cell(id);
                if let Some((_, c)) = self.cells.get_mut(id as usize) {
                    c.bits.freeze();
                    c.pending = Vec::new();
                    c.listed = false;
                }
            } else {
                keep.push(id);
            }
        }
        keep.append(&mut self.hot_cells);
        self.hot_cells = keep;
        let blocks = std::mem::take(&mut self.hot_blocks);
        let mut keep = Vec::with_capacity(blocks.len());
        for bk in blocks {
            let size = BLOCK_DAYS
                .get(usize::from(bk.3).saturating_sub(1))
                .copied()
                .unwrap_or(1);
            if bk.4.saturating_add(1).saturating_mul(size) <= limit {
                if let Some(b) = self.blocks.get_mut(&bk) {
                    b.freeze();
                }
            } else {
                keep.push(bk);
            }
        }
        keep.append(&mut self.hot_blocks);
        keep.sort_unstable();
        keep.dedup();
        self.hot_blocks = keep;
    }

    /// Merges every buffered id (call before querying or saving; queries
    /// through [`crate::scope`] do).
    pub fn flush(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for id in dirty {
            self.flush_cell(id);
        }
    }

    /// True if ids are buffered (a query needs [`Index::flush`] first).
    #[must_use]
    pub fn needs_flush(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// The entity id of `value` of kind `dim`, if indexed.
    #[must_use]
    pub fn entity(&self, dim: Dim, value: &str) -> Option<u32> {
        self.names.get(dim as usize)?.get(value)
    }

    /// Every indexed value of kind `dim`.
    #[must_use]
    pub fn values(&self, dim: Dim) -> &[String] {
        self.names
            .get(dim as usize)
            .map(|n| n.names.as_slice())
            .unwrap_or_default()
    }

    /// The dataset variants.
    #[must_use]
    pub fn variants(&self) -> &[Variant] {
        &self.variants
    }

    /// The cells of one entity.
    pub fn cells_of(&self, dim: Dim, entity: u32) -> impl Iterator<Item = (CellRef, &Cell)> {
        self.by_entity
            .get(&(dim.code(), entity))
            .map(|v| v.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|&id| self.cells.get(id as usize))
            .map(|((_, _, v, d), c)| {
                (
                    CellRef {
                        variant: *v,
                        day: *d,
                    },
                    c,
                )
            })
    }

    /// Distinct subjects over every day cell of an entity (exact; flush
    /// first for buffered accesses to count).
    #[must_use]
    pub fn distinct_subjects(&self, dim: Dim, entity: u32) -> u64 {
        use roaring::MultiOps as _;
        let parts: Vec<std::borrow::Cow<'_, RoaringBitmap>> = self
            .cells_of(dim, entity)
            .map(|(_, c)| c.bits.get())
            .collect();
        parts.iter().map(|c| &**c).union().len()
    }

    /// The aggregate bitmap of `level` (1 = 8 days, 2 = 64 days) block
    /// `block` of an entity's variant.
    #[must_use]
    pub fn block(
        &self,
        dim: Dim,
        entity: u32,
        variant: u32,
        level: u8,
        block: u32,
    ) -> Option<&Bits> {
        self.blocks
            .get(&(dim.code(), entity, variant, level, block))
    }

    /// The bitmap of one day cell.
    #[must_use]
    pub fn day(&self, dim: Dim, entity: u32, variant: u32, day: u32) -> Option<&Cell> {
        let id = self.cell_ids.get(&(dim.code(), entity, variant, day))?;
        self.cells.get(*id as usize).map(|(_, c)| c)
    }

    /// The ledger index range of access entries on each day in `days`.
    pub fn day_ranges(&self, days: std::ops::Range<u32>) -> impl Iterator<Item = (u32, u64, u64)> {
        self.day_ranges.range(days).map(|(d, (a, b))| (*d, *a, *b))
    }

    /// Bytes held by the bitmaps in the portable Roaring format, the cells
    /// and the dictionary: the index's size.
    #[must_use]
    pub fn size_bytes(&self) -> u64 {
        let cells: u64 = self
            .cells
            .iter()
            .map(|(_, c)| c.bits.serialized_size() as u64 + 48)
            .sum();
        let blocks: u64 = self
            .blocks
            .values()
            .map(|b| b.serialized_size() as u64 + 24)
            .sum();
        cells + blocks + self.dict.len() as u64 * 16
    }

    /// Number of day cells and aggregate blocks.
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        (self.cells.len(), self.blocks.len())
    }

    /// Drops every day cell and block wholly before day `before` (retention),
    /// returning the number of cells dropped. Blocks straddling `before` are
    /// kept whole, so a query reaching back across the cut may count
    /// subjects from pruned days inside such a block; [`crate::scope`]
    /// avoids blocks that start before the retained range.
    pub fn prune_before(&mut self, before: u32) -> usize {
        self.flush();
        let n = self
            .cells
            .iter()
            .filter(|((_, _, _, d), _)| *d < before)
            .count();
        if n == 0 {
            return 0;
        }
        let cells = std::mem::take(&mut self.cells);
        self.cell_ids.clear();
        self.by_entity.clear();
        for (key, cell) in cells {
            if key.3 >= before {
                let id = self.cell_id(key);
                if let Some(slot) = self.cells.get_mut(id as usize) {
                    slot.1 = cell;
                }
            }
        }
        self.blocks.retain(|&(_, _, _, level, block), _| {
            let size = BLOCK_DAYS
                .get(usize::from(level).saturating_sub(1))
                .copied()
                .unwrap_or(1);
            block.saturating_add(1).saturating_mul(size) > before
        });
        self.day_ranges = self.day_ranges.split_off(&before);
        self.pruned_before = self.pruned_before.max(before);
        n
    }

    /// The first day still held (0 if nothing was pruned).
    #[must_use]
    pub fn pruned_before(&self) -> u32 {
        self.pruned_before
    }

    pub(crate) fn insert_cell(&mut self, key: CellKey, cell: Cell) {
        let id = self.cell_id(key);
        if let Some(slot) = self.cells.get_mut(id as usize) {
            slot.1 = cell;
        }
    }

    pub(crate) fn insert_variant(&mut self, v: Variant) {
        let id = u32::try_from(self.variants.len()).unwrap_or(u32::MAX);
        self.variant_ids.insert(v.clone(), id);
        self.variants.push(v);
    }
}

/// Where a [`Cell`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellRef {
    /// Dataset variant id (index into [`Index::variants`]).
    pub variant: u32,
    /// UTC day number.
    pub day: u32,
}

/// The start (ms) of UTC day `day`.
#[must_use]
pub fn day_start_ms(day: u32) -> i64 {
    i64::from(day) * DAY_MS
}
