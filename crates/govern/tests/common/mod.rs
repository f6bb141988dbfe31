//! Shared fixtures.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use govern::{DAY, GovernFile, parse_rfc3339};

/// 2025-06-01T00:00:00Z.
pub fn now() -> i64 {
    parse_rfc3339("2025-06-01T00:00:00Z").unwrap()
}

pub const DAYS: i64 = DAY;

pub fn file() -> GovernFile {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/govern.toml"
    ))
    .unwrap();
    govern::parse_toml(&text).unwrap()
}
