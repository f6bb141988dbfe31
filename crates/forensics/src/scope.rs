//! Scope queries: exactly which subjects were accessed, by whom, when.
//!
//! A query names at most one value per entity kind (principal, kid,
//! issuer, source country, source network), an optional dataset, and a time
//! window `[from, to)`. The answer is exact:
//!
//! - **Index path** — one entity kind (or none: every access) and whole UTC
//!   days: the union of the entity's day cells and 8/64-day blocks that
//!   cover the window ([`crate::index`]). A source network given as a CIDR
//!   wider than the indexed /24 (/48) is the union of the indexed networks
//!   inside it, which is still exact.
//! - **Partial days** at either end of the window are read from the ledger
//!   (the entries of those days, found through the per-day index ranges) and
//!   filtered by time.
//! - **Several entity kinds at once** (e.g. a principal *and* a country) or
//!   a network narrower than /24: an intersection of per-kind sets would
//!   overcount (the principal may have read a subject on Monday and someone
//!   else from that country on Tuesday), so the days in the window are read
//!   from the ledger and every entry is tested against every selector.
//!
//! `answer.method` says which path ran, and `entries_scanned` how much of
//! the ledger was read.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use roaring::{MultiOps, RoaringBitmap};
use serde::{Deserialize, Serialize};

use crate::index::{BLOCK_DAYS, Dim, Index, day_start_ms};
use crate::{DAY_MS, day_of};

/// What went wrong answering a scope query.
#[derive(Debug, thiserror::Error)]
pub enum ScopeError {
    /// The query is malformed; `field` names the member.
    #[error("{field}: {reason}")]
    Invalid {
        /// The query member (`from`, `src_net`, …).
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The ledger could not be read.
    #[error("reading the ledger: {0}")]
    Ledger(String),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ScopeError {
    ScopeError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// A scope query. Times are ms since the epoch, the window is `[from, to)`.
/// Each selector may list several values separated by commas (any of
/// them); different selectors must all hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeQuery {
    /// `actor.user.uid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Signing key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Token issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Source country (ISO 3166-1 alpha-2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_country: Option<String>,
    /// Source network, CIDR (`203.0.113.0/24`, `2001:db8::/32`) or one
    /// address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_net: Option<String>,
    /// Dataset name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Window start, ms (inclusive).
    pub from_ms: i64,
    /// Window end, ms (exclusive).
    pub to_ms: i64,
}

/// A source network in CIDR form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::/n` or a bare address (a /32 or /128).
    ///
    /// # Errors
    /// A reason if the text is not an address with a prefix in range.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("prefix {p:?} is not 0..={max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }

    /// True if `ip` is inside.
    #[must_use]
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(*ip, IpAddr::V4),
            v4 => *v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    /// True if the indexed networks (/24, /48) can answer exactly: the CIDR
    /// is at most as long as them.
    fn indexable(&self) -> bool {
        self.prefix <= if self.addr.is_ipv4() { 24 } else { 48 }
    }
}

/// The checkpoint an answer is based on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRef {
    /// The log's origin line.
    pub origin: String,
    /// Tree size: every entry below it was indexed.
    pub size: u64,
    /// Root hash, base64.
    pub root: String,
}

/// A scope answer (the JSON of `custos scope --json` and `POST /v1/scope`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeAnswer {
    /// The query, as understood.
    pub query: ScopeQuery,
    /// Window start, RFC 3339.
    pub from: String,
    /// Window end (exclusive), RFC 3339.
    pub to: String,
    /// Exact number of distinct subjects accessed.
    pub subjects: u64,
    /// Distinct subjects per data category read.
    pub by_category: BTreeMap<String, u64>,
    /// Distinct subjects per subject country (from the subject registry;
    /// `unknown` for subjects it does not hold).
    pub by_country: BTreeMap<String, u64>,
    /// Distinct subjects per dataset.
    pub by_dataset: BTreeMap<String, u64>,
    /// Access events (a split event counts once).
    pub events: u64,
    /// Subject-accesses (a subject read twice counts twice).
    pub subject_accesses: u64,
    /// First access in the window, RFC 3339.
    pub first_access: Option<String>,
    /// Last access in the window, RFC 3339.
    pub last_access: Option<String>,
    /// The checkpoint the answer is based on.
    pub checkpoint: CheckpointRef,
    /// `index`, `index+ledger` (partial days read from the ledger) or
    /// `ledger` (several entity kinds combined).
    pub method: String,
    /// Ledger entries read to answer.
    pub entries_scanned: u64,
    /// Anything the reader must know (data pruned by retention, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// An answer with the subject set (for export and evidence).
#[derive(Clone, Debug, Default)]
pub struct ScopeResult {
    /// The answer.
    pub answer: ScopeAnswer,
    /// The subjects, as dictionary ids.
    pub subjects: RoaringBitmap,
}

/// Reads ledger entries by index (the ledger, or a test's vector).
///
/// Contract: calls `f` for every entry with index in `from..to`, in order;
/// `to` never exceeds the size the index was built to.
pub trait EntrySource {
    /// Calls `f(index, bytes)` for each entry in `from..to`.
    ///
    /// # Errors
    /// [`ScopeError::Ledger`] if the entries cannot be read.
    fn scan(&self, from: u64, to: u64, f: &mut dyn FnMut(u64, &[u8])) -> Result<(), ScopeError>;
}

/// The ledger under a data directory, read up to a checkpoint size.
#[derive(Clone, Debug)]
pub struct LedgerSource {
    /// The data directory (holding `log/`).
    pub dir: PathBuf,
    /// A published checkpoint size.
    pub size: u64,
}

impl EntrySource for LedgerSource {
    fn scan(&self, from: u64, to: u64, f: &mut dyn FnMut(u64, &[u8])) -> Result<(), ScopeError> {
        detect::for_each_entry(&self.dir, from, to, self.size, &mut |i, e| {
            f(i, e);
            true
        })
        .map_err(|e| ScopeError::Ledger(e.to_string()))
    }
}

impl EntrySource for Vec<Vec<u8>> {
    fn scan(&self, from: u64, to: u64, f: &mut dyn FnMut(u64, &[u8])) -> Result<(), ScopeError> {
        for (i, e) in (0u64..).zip(self.iter()) {
            if i >= from && i < to {
                f(i, e);
            }
        }
        Ok(())
    }
}

/// The query's selectors, resolved.
struct Plan<'q> {
    query: &'q ScopeQuery,
    /// Each selector's values (a comma-separated list is any of them).
    principal: Vec<&'q str>,
    kid: Vec<&'q str>,
    issuer: Vec<&'q str>,
    country: Vec<&'q str>,
    nets: Vec<Cidr>,
    /// The one entity kind the index can answer for, with its entities; `None`
    /// if the ledger must be read.
    entities: Option<(Dim, Vec<u32>)>,
}

/// The values of a selector: `a,b,c` is any of a, b, c.
fn values(v: Option<&str>) -> Vec<&str> {
    v.map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

fn plan<'q>(index: &Index, q: &'q ScopeQuery) -> Result<Plan<'q>, ScopeError> {
    if q.to_ms <= q.from_ms {
        return Err(invalid("to", "must be after from"));
    }
    let nets = values(q.src_net.as_deref())
        .into_iter()
        .map(Cidr::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("src_net", e))?;
    let mut p = Plan {
        query: q,
        principal: values(q.principal.as_deref()),
        kid: values(q.kid.as_deref()),
        issuer: values(q.issuer.as_deref()),
        country: values(q.src_country.as_deref()),
        nets,
        entities: None,
    };
    for (field, given, parsed) in [
        ("principal", &q.principal, p.principal.len()),
        ("kid", &q.kid, p.kid.len()),
        ("issuer", &q.issuer, p.issuer.len()),
        ("src_country", &q.src_country, p.country.len()),
        ("src_net", &q.src_net, p.nets.len()),
    ] {
        if given.is_some() && parsed == 0 {
            return Err(invalid(field, "names no value"));
        }
    }
    let ids = |dim: Dim, vals: &[&str]| -> Vec<u32> {
        vals.iter().filter_map(|v| index.entity(dim, v)).collect()
    };
    let kinds = [
        !p.principal.is_empty(),
        !p.kid.is_empty(),
        !p.issuer.is_empty(),
        !p.country.is_empty(),
        !p.nets.is_empty(),
    ];
    p.entities = match kinds {
        [false, false, false, false, false] => Some((Dim::All, ids(Dim::All, &["*"]))),
        [true, false, false, false, false] => {
            Some((Dim::Principal, ids(Dim::Principal, &p.principal)))
        }
        [false, true, false, false, false] => Some((Dim::Kid, ids(Dim::Kid, &p.kid))),
        [false, false, true, false, false] => Some((Dim::Issuer, ids(Dim::Issuer, &p.issuer))),
        [false, false, false, true, false] => Some((Dim::Country, ids(Dim::Country, &p.country))),
        [false, false, false, false, true] if p.nets.iter().all(Cidr::indexable) => {
            let ids = index
                .values(Dim::Net)
                .iter()
                .zip(0u32..)
                .filter(|(n, _)| {
                    Cidr::parse(n).is_ok_and(|c| {
                        p.nets
                            .iter()
                            .any(|cidr| cidr.contains(&c.addr) && c.prefix >= cidr.prefix)
                    })
                })
                .map(|(_, id)| id)
                .collect();
            Some((Dim::Net, ids))
        }
        _ => None,
    };
    Ok(p)
}

/// Accumulates subjects per category mask and dataset.
#[derive(Default)]
struct Acc {
    by_variant: BTreeMap<u32, RoaringBitmap>,
    events: u64,
    accesses: u64,
    first: Option<i64>,
    last: Option<i64>,
    scanned: u64,
}

impl Acc {
    fn times(&mut self, first: i64, last: i64) {
        self.first = Some(self.first.map_or(first, |f| f.min(first)));
        self.last = Some(self.last.map_or(last, |l| l.max(last)));
    }
}

/// Answers `q` from `index` (flushed first), reading `src` where needed.
///
/// # Errors
/// [`ScopeError::Invalid`] for a malformed query, [`ScopeError::Ledger`] if
/// the ledger cannot be read.
pub fn scope(
    index: &mut Index,
    src: &dyn EntrySource,
    q: &ScopeQuery,
    checkpoint: CheckpointRef,
) -> Result<ScopeResult, ScopeError> {
    index.flush();
    let index = &*index;
    let plan = plan(index, q)?;
    let mut acc = Acc::default();
    let mut warnings = Vec::new();
    let pruned = index.pruned_before();
    let from_ms = if day_of(q.from_ms) < i64::from(pruned) {
        warnings.push(format!(
            "the index holds nothing before {} (pruned by retention); the ledger still does: \
             rebuild the index to query earlier days",
            events::format_rfc3339(day_start_ms(pruned))
        ));
        q.from_ms.max(day_start_ms(pruned))
    } else {
        q.from_ms
    };
    let to_ms = q.to_ms;
    let method;
    if let Some((dim, entities)) = &plan.entities {
        // Whole days inside the window.
        let d_from = clamp_day((from_ms + DAY_MS - 1).div_euclid(DAY_MS));
        let d_to = clamp_day(to_ms.div_euclid(DAY_MS));
        let mut partial = Vec::new();
        if d_from < d_to {
            for &e in entities {
                collect_days(index, *dim, e, q.dataset.as_deref(), d_from, d_to, &mut acc);
            }
            if from_ms < day_start_ms(d_from) {
                partial.push((from_ms, day_start_ms(d_from)));
            }
            if day_start_ms(d_to) < to_ms {
                partial.push((day_start_ms(d_to), to_ms));
            }
        } else {
            partial.push((from_ms, to_ms));
        }
        for (a, b) in &partial {
            scan_window(index, src, &plan, *a, *b, &mut acc)?;
        }
        method = if partial.is_empty() {
            "index"
        } else {
            "index+ledger"
        };
    } else {
        scan_window(index, src, &plan, from_ms, to_ms, &mut acc)?;
        method = "ledger";
    }
    Ok(finish(index, q, acc, method, warnings, checkpoint))
}

fn clamp_day(d: i64) -> u32 {
    u32::try_from(d.max(0)).unwrap_or(u32::MAX)
}

/// Adds an entity's whole days `[d_from, d_to)` from cells and blocks.
fn collect_days(
    index: &Index,
    dim: Dim,
    entity: u32,
    dataset: Option<&str>,
    d_from: u32,
    d_to: u32,
    acc: &mut Acc,
) {
    let variants = index.variants();
    let mut span: BTreeMap<u32, (u32, u32)> = BTreeMap::new();
    for (at, cell) in index.cells_of(dim, entity) {
        if at.day < d_from || at.day >= d_to {
            continue;
        }
        let Some(v) = variants.get(at.variant as usize) else {
            continue;
        };
        if dataset.is_some_and(|d| d != v.dataset) {
            continue;
        }
        acc.events += cell.events;
        acc.accesses += cell.accesses;
        acc.times(cell.first_ms, cell.last_ms);
        let s = span.entry(at.variant).or_insert((at.day, at.day));
        s.0 = s.0.min(at.day);
        s.1 = s.1.max(at.day);
    }
    let pruned = index.pruned_before();
    for (variant, (lo, hi)) in span {
        // Cover [lo, hi] greedily with the largest aligned blocks inside
        // [d_from, d_to) that start at or after the retained range.
        let mut parts: Vec<std::borrow::Cow<'_, RoaringBitmap>> = Vec::new();
        let mut d = lo;
        while d <= hi {
            let mut step = 1;
            let mut used_block = false;
            let blocked = index.is_blocked(dim, entity, variant);
            for (level, size) in [1u8, 2].into_iter().zip(BLOCK_DAYS).rev() {
                let start = d - d % size;
                if blocked && start >= d_from.max(pruned) && start.saturating_add(size) <= d_to {
                    if let Some(b) = index.block(dim, entity, variant, level, start / size) {
                        parts.push(b.get());
                    }
                    step = start + size - d;
                    used_block = true;
                    break;
                }
            }
            if !used_block && let Some(c) = index.day(dim, entity, variant, d) {
                parts.push(c.bits.get());
            }
            d = d.saturating_add(step.max(1));
        }
        let u = parts.iter().map(|c| &**c).union();
        *acc.by_variant.entry(variant).or_default() |= u;
    }
}

/// Reads the ledger entries whose event time is in `[from, to)` and adds
/// those matching every selector.
fn scan_window(
    index: &Index,
    src: &dyn EntrySource,
    plan: &Plan<'_>,
    from: i64,
    to: i64,
    acc: &mut Acc,
) -> Result<(), ScopeError> {
    let ranges = index_ranges(index, from, to);
    let mut scanned = 0u64;
    let mut failed = None;
    for (lo, hi) in ranges {
        src.scan(lo, hi, &mut |i, bytes| {
            scanned += 1;
            let Ok(rec) = detect::decode(i, bytes) else {
                return;
            };
            if !matches(&rec, plan, from, to) {
                return;
            }
            let cats = rec.categories;
            let Some(v) = index.variants().iter().position(|v| {
                v.categories == cats && Some(v.dataset.as_str()) == rec.dataset.as_deref()
            }) else {
                failed = Some(i);
                return;
            };
            let bits = acc
                .by_variant
                .entry(u32::try_from(v).unwrap_or(u32::MAX))
                .or_default();
            for s in &rec.subjects {
                if let Some(id) = index.dict().get(s) {
                    bits.insert(id);
                }
            }
            if rec.part.is_none_or(|(p, _)| p == 0) {
                acc.events += 1;
            }
            acc.accesses += rec.subjects.len() as u64;
            acc.times(rec.time_ms, rec.time_ms);
        })?;
    }
    acc.scanned += scanned;
    if let Some(i) = failed {
        return Err(ScopeError::Ledger(format!(
            "entry {i} is an access the index has not read; update the index first"
        )));
    }
    Ok(())
}

/// The disjoint ledger index ranges holding the access entries with event
/// time in `[from, to)`.
fn index_ranges(index: &Index, from: i64, to: i64) -> Vec<(u64, u64)> {
    let d0 = clamp_day(day_of(from));
    let d1 = clamp_day(day_of(to.saturating_sub(1))).saturating_add(1);
    let mut spans: Vec<(u64, u64)> = index
        .day_ranges(d0..d1)
        .map(|(_, lo, hi)| (lo, hi.saturating_add(1)))
        .collect();
    spans.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (lo, hi) in spans {
        match out.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out.retain(|(lo, hi)| lo < hi && *lo < index.next_index());
    for r in &mut out {
        r.1 = r.1.min(index.next_index());
    }
    out
}

/// True if `rec` is an allowed access in `[from, to)` matching every selector.
fn matches(rec: &detect::Record<'_>, plan: &Plan<'_>, from: i64, to: i64) -> bool {
    if rec.kind() != detect::RecordKind::Access || !rec.allowed() {
        return false;
    }
    if rec.time_ms < from || rec.time_ms >= to {
        return false;
    }
    let any = |want: &[&str], got: Option<&str>| {
        want.is_empty() || got.is_some_and(|g| want.contains(&g))
    };
    any(&plan.principal, Some(&rec.actor))
        && any(&plan.kid, rec.kid.as_deref())
        && any(&plan.issuer, rec.issuer.as_deref())
        && any(&plan.country, rec.src_country.as_deref())
        && plan
            .query
            .dataset
            .as_deref()
            .is_none_or(|d| Some(d) == rec.dataset.as_deref())
        && (plan.nets.is_empty()
            || rec
                .src_ip
                .as_deref()
                .and_then(|ip| ip.parse::<IpAddr>().ok())
                .is_some_and(|ip| plan.nets.iter().any(|c| c.contains(&ip))))
}

/// The ledger indices of the allowed accesses matching `q` (for inclusion
/// proofs and evidence), at most `limit`, in index order.
///
/// # Errors
/// As [`scope`].
pub fn matching_entries(
    index: &mut Index,
    src: &dyn EntrySource,
    q: &ScopeQuery,
    limit: usize,
) -> Result<Vec<u64>, ScopeError> {
    index.flush();
    let index = &*index;
    let plan = plan(index, q)?;
    let mut out = Vec::new();
    for (lo, hi) in index_ranges(index, q.from_ms, q.to_ms) {
        if out.len() >= limit {
            break;
        }
        src.scan(lo, hi, &mut |i, bytes| {
            if out.len() >= limit {
                return;
            }
            if let Ok(rec) = detect::decode(i, bytes)
                && matches(&rec, &plan, q.from_ms, q.to_ms)
            {
                out.push(i);
            }
        })?;
    }
    Ok(out)
}

fn finish(
    index: &Index,
    q: &ScopeQuery,
    acc: Acc,
    method: &str,
    warnings: Vec<String>,
    checkpoint: CheckpointRef,
) -> ScopeResult {
    let variants = index.variants();
    let total = acc.by_variant.values().union();
    let mut by_category = BTreeMap::new();
    for (bit, cat) in events::DataCategory::ALL.iter().enumerate() {
        let parts: Vec<&RoaringBitmap> = acc
            .by_variant
            .iter()
            .filter(|(v, _)| {
                variants
                    .get(**v as usize)
                    .is_some_and(|v| v.categories & (1 << bit) != 0)
            })
            .map(|(_, b)| b)
            .collect();
        let n = if parts.len() == acc.by_variant.len() {
            total.len()
        } else {
            parts.into_iter().union().len()
        };
        if n > 0 {
            by_category.insert(cat.as_str().to_owned(), n);
        }
    }
    let mut by_dataset: BTreeMap<String, RoaringBitmap> = BTreeMap::new();
    for (v, b) in &acc.by_variant {
        if let Some(v) = variants.get(*v as usize) {
            *by_dataset.entry(v.dataset.clone()).or_default() |= b;
        }
    }
    let mut by_country = BTreeMap::new();
    let mut known = 0;
    for (c, bits) in index.dict().countries() {
        let n = total.intersection_len(bits);
        if n > 0 {
            by_country.insert(c.clone(), n);
            known += n;
        }
    }
    if total.len() > known {
        by_country.insert("unknown".to_owned(), total.len() - known);
    }
    ScopeResult {
        answer: ScopeAnswer {
            query: q.clone(),
            from: events::format_rfc3339(q.from_ms),
            to: events::format_rfc3339(q.to_ms),
            subjects: total.len(),
            by_category,
            by_country,
            by_dataset: by_dataset.into_iter().map(|(k, v)| (k, v.len())).collect(),
            events: acc.events,
            subject_accesses: acc.accesses,
            first_access: acc.first.map(events::format_rfc3339),
            last_access: acc.last.map(events::format_rfc3339),
            checkpoint,
            method: method.to_owned(),
            entries_scanned: acc.scanned,
            warnings,
        },
        subjects: total,
    }
}

/// Parses a query time: RFC 3339 (`2025-06-24T00:00:00Z`) or a UTC date
/// (`2025-06-24`, its midnight).
///
/// # Errors
/// [`ScopeError::Invalid`] naming `field`.
pub fn parse_time(field: &'static str, s: &str) -> Result<i64, ScopeError> {
    let s = s.trim();
    if let Some(ms) = events::parse_rfc3339(s) {
        return Ok(ms);
    }
    if s.len() == 10
        && let Some(ms) = events::parse_rfc3339(&format!("{s}T00:00:00Z"))
    {
        return Ok(ms);
    }
    let shown: String = s.chars().take(40).collect();
    Err(invalid(
        field,
        format!("{shown:?} is not an RFC 3339 time or a YYYY-MM-DD date"),
    ))
}
