//! Times are unix seconds inside; RFC 3339 `date-time` (§5.6) strings in
//! files and JSON, through the events crate's parser and formatter (one
//! implementation in the workspace), at second precision.

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Seconds in an hour.
pub const HOUR: i64 = 3_600;

/// Parses an RFC 3339 `date-time` into unix seconds (a fraction is
/// truncated; leap seconds are refused).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    events::parse_rfc3339(s).map(|ms| ms.div_euclid(1000))
}

/// Formats unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_rfc3339(secs: i64) -> String {
    events::format_rfc3339(secs.saturating_mul(1000)).replacen(".000Z", "Z", 1)
}

/// Serde for an `i64` of unix seconds as an RFC 3339 string.
pub(crate) mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(crate) fn serialize<S: Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_rfc3339(*t))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_rfc3339(&s)
            .ok_or_else(|| D::Error::custom(format!("{s:?} is not an RFC 3339 date-time")))
    }
}

/// Serde for an `Option<i64>` of unix seconds as an RFC 3339 string.
pub(crate) mod rfc3339_opt {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(crate) fn serialize<S: Serializer>(t: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::format_rfc3339(*t)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => super::parse_rfc3339(&s)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("{s:?} is not an RFC 3339 date-time"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(parse_rfc3339("2026-12-02T00:00:00Z"), Some(1_796_169_600));
        assert_eq!(format_rfc3339(1_796_169_600), "2026-12-02T00:00:00Z");
        assert_eq!(parse_rfc3339("2026-02-29T00:00:00Z"), None);
    }
}
