//! Source addresses: which networks each kind of client comes from.
//!
//! The prefixes are *illustrative*: plausible public blocks for each country
//! (broadband, mobile carrier NAT, hosting), not a claim about who holds them
//! today. What detectors rely on is the structure — customers of one country
//! spread over a few large ISP blocks, many customers behind one mobile
//! carrier-NAT address, staff on private office networks, a supplier behind
//! its office's few addresses, the attacker behind a handful of overseas
//! hosting addresses — and the explicit `source.country` of every event.

use std::net::Ipv4Addr;

use crate::rng::below;

/// An IPv4 prefix.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Block {
    base: u32,
    prefix: u8,
}

const fn block(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Block {
    Block {
        base: u32::from_be_bytes([a, b, c, d]),
        prefix,
    }
}

impl Block {
    /// An address of the block chosen by `bits`; the last octet is never 0
    /// nor 255 (prefixes are at most /24).
    pub(crate) fn addr(self, bits: u64) -> u32 {
        let nets = 1u64 << (24 - u32::from(self.prefix.min(24)));
        let net = below(bits, nets) as u32;
        let host = 1 + below(bits.rotate_left(29), 254) as u32;
        self.base | (net << 8) | host
    }
}

/// Formats an address in the canonical dotted form.
pub(crate) fn push_ip(out: &mut String, ip: u32) {
    use std::fmt::Write as _;
    let _ = write!(out, "{}", Ipv4Addr::from(ip));
}

/// Broadband blocks of customers at home, by country.
const HOME: &[(&str, &[Block])] = &[
    (
        "KR",
        &[
            block(121, 128, 0, 0, 10),
            block(175, 192, 0, 0, 10),
            block(218, 144, 0, 0, 12),
            block(59, 0, 0, 0, 11),
        ],
    ),
    ("JP", &[block(126, 0, 0, 0, 8), block(60, 64, 0, 0, 10)]),
    ("TW", &[block(1, 160, 0, 0, 12), block(114, 32, 0, 0, 12)]),
    ("US", &[block(73, 0, 0, 0, 8), block(24, 0, 0, 0, 12)]),
    ("CN", &[block(183, 0, 0, 0, 10)]),
    ("SG", &[block(116, 86, 0, 0, 15)]),
    ("VN", &[block(113, 160, 0, 0, 11)]),
    ("TH", &[block(171, 96, 0, 0, 11)]),
];

/// Korean mobile carriers' NAT pools: a few thousand addresses shared by
/// millions of phones, so one address carries many customers.
const KR_MOBILE: &[Block] = &[
    block(106, 101, 0, 0, 16),
    block(223, 38, 0, 0, 16),
    block(39, 7, 0, 0, 16),
    block(110, 70, 0, 0, 16),
];

/// Overseas hosting and VPN-exit networks (the attacker's), by country.
const HOSTING: &[(&str, &[Block])] = &[
    ("CN", &[block(47, 96, 17, 0, 24), block(47, 98, 203, 0, 24)]),
    (
        "HK",
        &[block(103, 151, 172, 0, 24), block(43, 154, 20, 0, 24)],
    ),
    (
        "SG",
        &[block(139, 59, 244, 0, 24), block(128, 199, 88, 0, 24)],
    ),
    (
        "US",
        &[block(45, 77, 160, 0, 24), block(149, 28, 71, 0, 24)],
    ),
    ("JP", &[block(45, 32, 40, 0, 24)]),
    ("NL", &[block(188, 166, 12, 0, 24)]),
    ("DE", &[block(167, 172, 182, 0, 24)]),
];

/// Countries that have hosting blocks (valid attack source countries).
pub(crate) fn hosting_countries() -> impl Iterator<Item = &'static str> {
    HOSTING.iter().map(|(c, _)| *c)
}

/// Countries that have home broadband blocks.
pub(crate) fn home_countries() -> impl Iterator<Item = &'static str> {
    HOME.iter().map(|(c, _)| *c)
}

/// The home-broadband country named `name`, as a static string.
pub(crate) fn home_country(name: &str) -> Option<&'static str> {
    home_countries().find(|c| *c == name)
}

fn pick(blocks: &[Block], bits: u64) -> u32 {
    let i = below(bits, blocks.len() as u64) as usize;
    blocks
        .get(i)
        .map_or(0x0a00_0001, |b| b.addr(bits.rotate_left(17)))
}

/// A home broadband address in `country` (KR's blocks for a country without
/// its own).
pub(crate) fn home(country: &str, bits: u64) -> u32 {
    let blocks = HOME
        .iter()
        .find(|(c, _)| *c == country)
        .or_else(|| HOME.first())
        .map_or(&[][..], |(_, b)| *b);
    pick(blocks, bits)
}

/// A Korean mobile carrier-NAT address. A small pool: 64 addresses per /16,
/// so thousands of customers a day share each one.
pub(crate) fn kr_mobile(bits: u64) -> u32 {
    let b = KR_MOBILE
        .get(below(bits, KR_MOBILE.len() as u64) as usize)
        .copied()
        .unwrap_or(block(106, 101, 0, 0, 16));
    let host = below(bits.rotate_left(21), 64) as u32;
    b.base | ((host / 8 + 1) << 8) | (host % 8 + 10)
}

/// The hosting country named `name`, as a static string.
pub(crate) fn hosting_country(name: &str) -> Option<&'static str> {
    hosting_countries().find(|c| *c == name)
}

/// The `i`-th overseas hosting address in `country` (the first hosting
/// country's blocks for an unknown one).
pub(crate) fn hosting(country: &str, i: u64) -> u32 {
    let blocks = HOSTING
        .iter()
        .find(|(c, _)| *c == country)
        .or_else(|| HOSTING.first())
        .map_or(&[][..], |(_, b)| *b);
    let nb = blocks.len().max(1) as u64;
    let b = blocks
        .get((i % nb) as usize)
        .copied()
        .unwrap_or(block(45, 77, 160, 0, 24));
    b.base | (10 + (i / nb % 200) as u32)
}

/// A private office / data-centre address: `10.site.x.y`.
pub(crate) fn private(site: u8, n: u32) -> u32 {
    u32::from_be_bytes([10, site, 0, 0]) | ((n / 250 % 256) << 8) | (n % 250 + 2)
}

/// A supplier office's public addresses: `/28` of its block, chosen by `n`.
pub(crate) fn office(country: &str, supplier: u32, n: u32) -> u32 {
    let base = home(country, crate::rng::mix(u64::from(supplier) ^ 0x5eed)) & !0xff;
    base | (16 + n % 14)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_stay_in_their_blocks() {
        for bits in [0u64, 1, u64::MAX, 0x1234_5678_9abc_def0] {
            let a = Ipv4Addr::from(home("KR", bits)).octets();
            assert!([121, 175, 218, 59].contains(&a[0]), "{a:?}");
            assert!(a[3] != 0 && a[3] != 255);
            let m = Ipv4Addr::from(kr_mobile(bits)).octets();
            assert!([106, 223, 39, 110].contains(&m[0]));
            let h = Ipv4Addr::from(hosting("HK", bits)).octets();
            assert!([103, 43].contains(&h[0]));
        }
        assert_eq!(Ipv4Addr::from(private(20, 251)).to_string(), "10.20.1.3");
    }
}
