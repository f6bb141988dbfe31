//! Distinct subjects over sliding windows, from minutes to 180 days, in one
//! structure per entity.
//!
//! An entity starts **exact**: a map from subject hash to the minute it was
//! last seen, so any window's count is exact. Past [`PROMOTE_AT`] subjects it
//! becomes a **sliding HyperLogLog** (Chabchoub and Hébrail, "Sliding
//! HyperLogLog: Estimating cardinality in a data stream over a sliding
//! window", ICDM Workshops 2010): each of the 2^[`P`] registers keeps its
//! "list of possible future maxima" — the `(minute, rho)` pairs no later pair
//! dominates, so rho falls as minutes rise — and a window's register value is
//! the rho of the first pair inside the window. One sketch answers every
//! window length up to its horizon. Estimation is Flajolet et al.'s
//! HyperLogLog (2007) with linear counting below 2.5·m: relative standard
//! error 1.04/√m = **1.63 %** at P = 12.
//!
//! Written here because no maintained crate offers a sliding-window HLL (the
//! HLL crates on crates.io answer one fixed window: the whole stream).
//!
//! Memory: exact ≈ 20 bytes per subject (≤ [`PROMOTE_AT`] subjects, ≤ 80 KiB);
//! a sketch 4,096 lists, ≈ m·(ln(n/m) + 1) pairs of 4 bytes plus 24 bytes of
//! list header each (≈ 0.15 MiB at 34M subjects) — see `memory_bytes`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

/// Register index bits of the sketch (m = 4,096 registers).
pub const P: u32 = 12;
const M: usize = 1 << P;
/// Subjects an exact entity holds before it becomes a sketch.
pub const PROMOTE_AT: usize = 4_096;
/// Minutes are counted from 2020-01-01T00:00:00Z so that 26 bits cover 127
/// years; a pair packs the minute (26 bits) and rho (6 bits).
pub const EPOCH_MS: i64 = 1_577_836_800_000;

/// Minute number of a time (clamped to the representable range).
#[must_use]
pub fn minute_of(time_ms: i64) -> u32 {
    let m = (time_ms - EPOCH_MS).div_euclid(60_000);
    m.clamp(0, (1 << 26) - 1) as u32
}

/// A hasher for keys that already are uniform 64-bit hashes.
#[derive(Default, Clone, Copy)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map keyed by uniform 64-bit hashes.
pub type HashMap64<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

/// Distinct subjects seen by one entity, answerable for any window up to
/// its horizon.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SlidingDistinct {
    repr: Repr,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
enum Repr {
    Exact(HashMap64<u32>),
    Sketch(Box<Sketch>),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Sketch {
    /// Per register: pairs `minute << 6 | rho`, minutes rising, rho falling.
    regs: Vec<Vec<u32>>,
}

impl Default for SlidingDistinct {
    fn default() -> Self {
        SlidingDistinct {
            repr: Repr::Exact(HashMap64::default()),
        }
    }
}

impl SlidingDistinct {
    /// An empty, exact counter.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `subject` (a uniform 64-bit hash) seen at `minute`.
    pub fn insert(&mut self, subject: u64, minute: u32) {
        match &mut self.repr {
            Repr::Exact(map) => {
                let e = map.entry(subject).or_insert(minute);
                if *e < minute {
                    *e = minute;
                }
                if map.len() > PROMOTE_AT {
                    let mut sk = Sketch::new();
                    for (&s, &m) in map.iter() {
                        sk.insert(s, m);
                    }
                    self.repr = Repr::Sketch(Box::new(sk));
                }
            }
            Repr::Sketch(sk) => sk.insert(subject, minute),
        }
    }

    /// Distinct subjects seen in the `window` minutes ending at `now`
    /// (minutes `now − window + 1 ..= now`): exact while exact, else the
    /// estimate.
    #[must_use]
    pub fn count(&self, now: u32, window: u32) -> u64 {
        let from = now.saturating_sub(window.saturating_sub(1));
        match &self.repr {
            Repr::Exact(map) => map.values().filter(|&&m| m >= from).count() as u64,
            Repr::Sketch(sk) => sk.estimate(from),
        }
    }

    /// [`Self::count`] for several windows at once (one pass over the
    /// structure): `out[i]` is the count of `windows[i]`.
    pub fn count_many(&self, now: u32, windows: &[u32], out: &mut [u64]) {
        let froms = windows
            .iter()
            .map(|w| now.saturating_sub(w.saturating_sub(1)));
        match &self.repr {
            Repr::Exact(map) => {
                for o in out.iter_mut() {
                    *o = 0;
                }
                let froms: Vec<u32> = froms.collect();
                for &m in map.values() {
                    for (o, &f) in out.iter_mut().zip(&froms) {
                        *o += u64::from(m >= f);
                    }
                }
            }
            Repr::Sketch(sk) => {
                let froms: Vec<u32> = froms.collect();
                sk.estimate_many(&froms, out);
            }
        }
    }

    /// True once the counter is a sketch (counts are estimates).
    #[must_use]
    pub fn is_sketch(&self) -> bool {
        matches!(self.repr, Repr::Sketch(_))
    }

    /// Forgets what was seen before `before` (a minute).
    pub fn expire(&mut self, before: u32) {
        match &mut self.repr {
            Repr::Exact(map) => map.retain(|_, m| *m >= before),
            Repr::Sketch(sk) => {
                for r in &mut sk.regs {
                    let keep = r.iter().position(|&p| p >> 6 >= before).unwrap_or(r.len());
                    if keep > 0 {
                        r.drain(..keep);
                    }
                }
            }
        }
    }

    /// True if nothing is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        match &self.repr {
            Repr::Exact(map) => map.is_empty(),
            Repr::Sketch(sk) => sk.regs.iter().all(Vec::is_empty),
        }
    }

    /// Heap bytes held (approximate: allocation sizes, not allocator
    /// overhead).
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        match &self.repr {
            // hashbrown: 16-byte buckets (u64 + u32, padded) + 1 control byte.
            Repr::Exact(map) => map.capacity() * 17,
            Repr::Sketch(sk) => {
                sk.regs.capacity() * 24 + sk.regs.iter().map(|r| r.capacity() * 4).sum::<usize>()
            }
        }
    }
}

impl Sketch {
    fn new() -> Sketch {
        Sketch {
            regs: vec![Vec::new(); M],
        }
    }

    fn insert(&mut self, subject: u64, minute: u32) {
        let j = (subject >> (64 - P)) as usize;
        // The remaining bits with a guard bit so rho ≤ 64 − P + 1 (≤ 53).
        let w = (subject << P) | (1 << (P - 1));
        let rho = w.leading_zeros() + 1;
        let Some(list) = self.regs.get_mut(j) else {
            return;
        };
        let pair = (minute << 6) | rho;
        // Dominated by a pair at least as late with at least this rho?
        if list.iter().any(|&p| p >> 6 >= minute && (p & 63) >= rho) {
            return;
        }
        // Remove the pairs this one dominates, then insert in minute order.
        list.retain(|&p| !(p >> 6 <= minute && (p & 63) <= rho));
        let at = list.partition_point(|&p| p >> 6 <= minute);
        list.insert(at, pair);
    }

    fn estimate(&self, from: u32) -> u64 {
        let mut out = [0u64];
        self.estimate_many(&[from], &mut out);
        let [v] = out;
        v
    }

    /// Estimates for several window starts in one pass over the registers.
    fn estimate_many(&self, froms: &[u32], out: &mut [u64]) {
        // Per window: sum of 2^-register and the count of empty registers.
        let mut sums = [0.0f64; 8];
        let mut zeros = [0u32; 8];
        for list in &self.regs {
            for ((&from, sum), zero) in froms.iter().zip(sums.iter_mut()).zip(zeros.iter_mut()) {
                // Minutes rise and rho falls along the list: the first pair
                // in the window holds the window's maximum.
                match list.iter().find(|&&p| p >> 6 >= from) {
                    // 2^-rho, exactly, from the exponent bits (rho ≤ 53).
                    Some(&p) => *sum += f64::from_bits((1023 - u64::from(p & 63)) << 52),
                    None => {
                        *zero += 1;
                        *sum += 1.0;
                    }
                }
            }
        }
        for ((o, &sum), &zeros) in out.iter_mut().zip(&sums).zip(&zeros) {
            *o = Self::finish(sum, zeros);
        }
    }

    fn finish(sum: f64, zeros: u32) -> u64 {
        let m = M as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        let e = if raw <= 2.5 * m && zeros > 0 {
            m * (m / f64::from(zeros)).ln()
        } else {
            raw
        };
        e.round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64: uniform test hashes.
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn exact_below_the_promotion_point() {
        let mut d = SlidingDistinct::new();
        for i in 0..1_000u64 {
            d.insert(mix(i), (i / 100) as u32); // 100 subjects a minute, minutes 0..9
        }
        d.insert(mix(5), 9); // seen again later
        assert!(!d.is_sketch());
        assert_eq!(d.count(9, 10), 1_000);
        assert_eq!(d.count(9, 1), 101);
        assert_eq!(d.count(9, 5), 501);
        d.expire(5);
        assert_eq!(d.count(9, 100), 501);
    }

    #[test]
    fn sketch_estimates_every_window_within_its_error() {
        let mut d = SlidingDistinct::new();
        // 2,000 new subjects a minute for 300 minutes, each also seen again
        // 3 minutes later.
        for minute in 0..300u32 {
            for i in 0..2_000u64 {
                d.insert(mix(u64::from(minute) * 2_000 + i), minute);
                if minute >= 3 {
                    d.insert(mix(u64::from(minute - 3) * 2_000 + i), minute);
                }
            }
        }
        assert!(d.is_sketch());
        for (window, truth) in [
            (1u32, 4_000u64),
            (10, 26_000),
            (60, 126_000),
            (300, 600_000),
        ] {
            let est = d.count(299, window);
            let err = (est as f64 - truth as f64).abs() / truth as f64;
            // 1.63 % standard error: 4σ.
            assert!(err < 0.066, "window {window}: {est} vs {truth} ({err:.3})");
        }
        let before = d.memory_bytes();
        d.expire(200);
        assert!(d.memory_bytes() <= before);
        let est = d.count(299, 300);
        let err = (est as f64 - 202_000.0).abs() / 202_000.0;
        assert!(err < 0.066, "{est}");
    }

    #[test]
    fn out_of_order_inserts_keep_the_lists_ordered() {
        let mut sk = Sketch::new();
        for i in 0..50_000u64 {
            let minute = ((i * 7919) % 1_000) as u32;
            sk.insert(mix(i), minute);
        }
        for list in &sk.regs {
            for w in list.windows(2) {
                let &[a, b] = w else { continue };
                assert!(a >> 6 < b >> 6 && (a & 63) > (b & 63), "{a:x} {b:x}");
            }
        }
        let est = sk.estimate(0) as f64;
        assert!((est - 50_000.0).abs() / 50_000.0 < 0.066, "{est}");
    }
}
