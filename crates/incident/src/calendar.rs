//! Civil-date arithmetic for deadlines: local days at a fixed UTC offset,
//! weekdays, `YYYY-MM-DD` dates, and readable times and durations. Pure;
//! every operation saturates instead of overflowing.

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day number (`civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Whether a day number is a Saturday or Sunday (1970-01-01 was a Thursday).
pub(crate) fn is_weekend(days: i64) -> bool {
    // 0 = Monday … 6 = Sunday.
    days.saturating_add(3).rem_euclid(7) >= 5
}

/// Parses `YYYY-MM-DD` (years 1970–9999) into a day number.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = b.get(from..to)?;
        part.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let last = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    (y >= 1970 && (1..=last).contains(&d)).then(|| days_from_civil(y, m, d))
}

/// `YYYY-MM-DD` of a day number.
pub(crate) fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The local day number of an instant at `offset_minutes` from UTC.
pub(crate) fn local_day(ms: i64, offset_minutes: i32) -> i64 {
    ms.saturating_add(i64::from(offset_minutes) * 60_000)
        .div_euclid(DAY_MS)
}

/// The last millisecond of local day `days` at `offset_minutes`, in UTC ms.
pub(crate) fn end_of_local_day(days: i64, offset_minutes: i32) -> i64 {
    days.saturating_add(1)
        .saturating_mul(DAY_MS)
        .saturating_sub(i64::from(offset_minutes) * 60_000)
        .saturating_sub(1)
}

/// `UTC+09:00`, `UTC-04:00`, `UTC`.
pub(crate) fn format_offset(offset_minutes: i32) -> String {
    if offset_minutes == 0 {
        return "UTC".into();
    }
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let a = offset_minutes.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", a / 60, a % 60)
}

/// An instant as RFC 3339 in UTC, without milliseconds when they are zero
/// (`2026-03-02T09:00:00Z`, `2026-04-01T14:59:59.999Z`).
pub fn format_time(ms: i64) -> String {
    let s = events::format_rfc3339(ms);
    match s.strip_suffix(".000Z") {
        Some(head) => format!("{head}Z"),
        None => s,
    }
}

/// A duration as days, hours and minutes (`2 d 3 h`, `5 h 30 min`,
/// `0 min`); seconds are dropped.
pub fn format_duration(ms: i64) -> String {
    let mins = ms.unsigned_abs() / 60_000;
    let (d, h, m) = (mins / 1440, mins / 60 % 24, mins % 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d} d"));
    }
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 || parts.is_empty() {
        parts.push(format!("{m} min"));
    }
    parts.join(" ")
}

/// `33,700,000`.
pub(crate) fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_weekdays() {
        for s in ["1970-01-01", "2026-07-03", "2028-02-29", "2027-12-31"] {
            let d = parse_date(s);
            assert_eq!(d.map(format_date).as_deref(), Some(s));
        }
        assert_eq!(parse_date("2027-02-29"), None);
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("2026-1-01"), None);
        assert_eq!(parse_date("1969-12-31"), None);
        // 2026-07-04 is a Saturday, 2026-07-06 a Monday.
        assert_eq!(parse_date("2026-07-04").map(is_weekend), Some(true));
        assert_eq!(parse_date("2026-07-05").map(is_weekend), Some(true));
        assert_eq!(parse_date("2026-07-06").map(is_weekend), Some(false));
        assert_eq!(parse_date("2026-07-03").map(is_weekend), Some(false));
    }

    #[test]
    fn local_days_and_ends() {
        // 2026-03-02T20:00:00Z is 2026-03-03 05:00 in Tokyo.
        let t = events::parse_rfc3339("2026-03-02T20:00:00Z").unwrap_or(0);
        assert_eq!(format_date(local_day(t, 540)), "2026-03-03");
        assert_eq!(format_date(local_day(t, 0)), "2026-03-02");
        let end = end_of_local_day(local_day(t, 540), 540);
        assert_eq!(format_time(end), "2026-03-03T14:59:59.999Z");
        assert_eq!(format_offset(-240), "UTC-04:00");
        assert_eq!(format_offset(540), "UTC+09:00");
    }

    #[test]
    fn readable_numbers() {
        assert_eq!(group_thousands(33_700_000), "33,700,000");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(format_duration(0), "0 min");
        assert_eq!(format_duration((2 * 24 + 3) * 3_600_000), "2 d 3 h");
        assert_eq!(format_duration(-(5 * 60 + 30) * 60_000), "5 h 30 min");
    }
}
