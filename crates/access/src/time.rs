//! RFC 3339 times of grant requests and messages, in unix seconds: the
//! events crate's parser and formatter (one implementation in the
//! workspace), at second precision.

/// Parses an RFC 3339 `date-time` (§5.6) into unix seconds; a fraction is
/// truncated. Leap seconds are refused.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    events::parse_rfc3339(s).map(|ms| ms.div_euclid(1000))
}

/// Formats unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn format_rfc3339(secs: i64) -> String {
    events::format_rfc3339(secs.saturating_mul(1000)).replacen(".000Z", "Z", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for t in [0, 1_796_169_600, 253_402_300_799, 951_782_400] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t));
        }
        assert_eq!(parse_rfc3339("2026-12-02T00:00:00Z"), Some(1_796_169_600));
        assert_eq!(
            parse_rfc3339("2026-12-02T09:00:00+09:00"),
            Some(1_796_169_600)
        );
        assert_eq!(
            parse_rfc3339("2026-12-02T00:00:00.999Z"),
            Some(1_796_169_600)
        );
        assert_eq!(parse_rfc3339("2026-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-12-02 00:00:00Z"), None);
    }
}
