//! RFC 3339 timestamps ↔ milliseconds since the Unix epoch (OCSF's
//! `timestamp_t`), without a date library.

/// Days since 1970-01-01 of a proleptic Gregorian civil date
/// (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn digits(b: &[u8], from: usize, n: usize) -> Option<i64> {
    let s = b.get(from..from.checked_add(n)?)?;
    s.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

fn byte(b: &[u8], at: usize, want: &[u8]) -> Option<()> {
    want.contains(b.get(at)?).then_some(())
}

/// Parses an RFC 3339 `date-time` (§5.6: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`,
/// `T`/`Z` in either case) into milliseconds since the epoch; digits of the
/// fraction beyond milliseconds are dropped (truncated). Leap seconds (`:60`)
/// are refused: no clock that stamps access events produces them.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    byte(b, 4, b"-")?;
    let month = digits(b, 5, 2)?;
    byte(b, 7, b"-")?;
    let day = digits(b, 8, 2)?;
    byte(b, 10, b"Tt")?;
    let hour = digits(b, 11, 2)?;
    byte(b, 13, b":")?;
    let minute = digits(b, 14, 2)?;
    byte(b, 16, b":")?;
    let second = digits(b, 17, 2)?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut at = 19;
    let mut millis = 0i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 3 {
                millis = millis * 10 + i64::from(b.get(at).copied().unwrap_or(b'0') - b'0');
            }
            at += 1;
        }
        let n = at - start;
        if n == 0 || n > 9 {
            return None;
        }
        for _ in n..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match b.get(at)? {
        b'Z' | b'z' => {
            at += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            let sign = if *sign == b'+' { 1 } else { -1 };
            let oh = digits(b, at + 1, 2)?;
            byte(b, at + 3, b":")?;
            let om = digits(b, at + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            at += 6;
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    if at != b.len() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(secs * 1000 + millis)
}

/// Formats milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`
/// (for times from year 0 to 9999).
pub fn format_rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // civil_from_days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2025-06-01T03:04:05.123Z"),
            Some(1_748_747_045_123)
        );
        assert_eq!(
            parse_rfc3339("2025-06-01T12:04:05.123+09:00"),
            Some(1_748_747_045_123)
        );
        assert_eq!(
            parse_rfc3339("2025-06-01t03:04:05.123456789z"),
            Some(1_748_747_045_123)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00.5Z"),
            Some(1_709_164_800_500)
        );
    }

    #[test]
    fn refused() {
        for s in [
            "",
            "2025-06-01",
            "2025-06-01T03:04:05",
            "2025-06-01 03:04:05Z",
            "2025-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2025-06-31T00:00:00Z",
            "2025-06-01T24:00:00Z",
            "2025-06-01T00:60:00Z",
            "2025-06-01T00:00:60Z",
            "2025-06-01T00:00:00.Z",
            "2025-06-01T00:00:00.1234567891Z",
            "2025-06-01T00:00:00+0900",
            "2025-06-01T00:00:00+24:00",
            "2025-06-01T00:00:00Zx",
            "+025-06-01T00:00:00Z",
            "２０２５-06-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{s}");
        }
    }

    #[test]
    fn format_round_trips() {
        for ms in [0, 1_748_747_045_123, 1_709_164_800_500, 253_402_300_799_999] {
            assert_eq!(parse_rfc3339(&format_rfc3339(ms)), Some(ms));
        }
        assert_eq!(
            format_rfc3339(1_748_747_045_123),
            "2025-06-01T03:04:05.123Z"
        );
    }
}
