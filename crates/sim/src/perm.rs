//! A keyed pseudorandom permutation of `0..n` without a table: a balanced
//! Feistel network on the smallest even-bit domain `≥ n`, with cycle walking
//! (Black & Rogaway, "Ciphers with arbitrary finite domains", CT-RSA 2002).
//!
//! The simulator uses it wherever it needs many *distinct* customers without
//! remembering which were drawn: the attacker's victims in order (victim `k`
//! is `perm(k)`, so any run of consecutive `k` is distinct), a bulk job's
//! 5,000 subjects (a run of consecutive positions), the most active
//! customers (a prefix). Memory is O(1) whatever `n` (34M customers or more).

use crate::rng::mix;

/// A permutation of `0..n`.
#[derive(Clone, Debug)]
pub(crate) struct Perm {
    n: u64,
    half_bits: u32,
    mask: u64,
    keys: [u64; 4],
}

impl Perm {
    /// The permutation of `0..n` for `key` (`n ≥ 1`; `n = 0` is treated as 1).
    pub(crate) fn new(n: u64, key: u64) -> Perm {
        let n = n.max(1);
        let bits = u64::BITS - (n - 1).leading_zeros();
        let half_bits = bits.div_ceil(2);
        let mask = if half_bits >= 64 {
            u64::MAX
        } else {
            (1u64 << half_bits) - 1
        };
        let keys = [mix(key ^ 1), mix(key ^ 2), mix(key ^ 3), mix(key ^ 4)];
        Perm {
            n,
            half_bits,
            mask,
            keys,
        }
    }

    /// The image of `x mod n`.
    pub(crate) fn apply(&self, x: u64) -> u64 {
        let mut y = x % self.n;
        // Cycle walking: the Feistel network permutes the larger domain
        // `0..4^half_bits` (< 4n), so walking the cycle from `y` reaches a
        // value below `n` after fewer than 4 steps on average; it always
        // terminates because `y` itself lies on that cycle.
        loop {
            y = self.feistel(y);
            if y < self.n {
                return y;
            }
        }
    }

    fn feistel(&self, x: u64) -> u64 {
        if self.half_bits == 0 {
            return x;
        }
        let mut l = x >> self.half_bits;
        let mut r = x & self.mask;
        for k in self.keys {
            let t = l ^ (mix(r ^ k) & self.mask);
            l = r;
            r = t;
        }
        (l << self.half_bits) | r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_permutation_for_small_domains() {
        for n in [1u64, 2, 3, 5, 16, 17, 1000, 4097] {
            let p = Perm::new(n, 42);
            let mut seen = vec![false; n as usize];
            for x in 0..n {
                let y = p.apply(x);
                assert!(y < n);
                assert!(!seen[y as usize], "n={n}: {y} twice");
                seen[y as usize] = true;
            }
        }
    }

    #[test]
    fn keys_differ_and_large_domains_work() {
        let a = Perm::new(34_000_000, 1);
        let b = Perm::new(34_000_000, 2);
        assert_ne!(
            (0..10).map(|x| a.apply(x)).collect::<Vec<_>>(),
            (0..10).map(|x| b.apply(x)).collect::<Vec<_>>()
        );
        assert!((0..10_000).all(|x| a.apply(x) < 34_000_000));
        let huge = Perm::new(u64::MAX, 7);
        assert!(huge.apply(123) < u64::MAX);
    }
}
