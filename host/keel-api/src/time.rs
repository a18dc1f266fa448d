//! Wall-clock times as Nomad writes them: RFC 3339 in UTC.

/// Formats milliseconds since the Unix epoch as RFC 3339 in UTC, with
/// milliseconds when they are not zero (`2026-11-23T10:00:00Z`,
/// `2026-11-23T10:00:00.250Z`).
pub fn rfc3339_ms(unix_ms: i64) -> String {
    let seconds = unix_ms.div_euclid(1_000);
    let millis = unix_ms.rem_euclid(1_000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (of_day / 3_600, of_day / 60 % 60, of_day % 60);
    let fraction = if millis == 0 { String::new() } else { format!(".{millis:03}") };
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z")
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses a UTC time as [`rfc3339_ms`] writes it (`YYYY-MM-DDTHH:MM:SS[.fff]Z`,
/// any number of fraction digits, of which milliseconds are kept) into
/// milliseconds since the epoch.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let (main, rest) = (bytes.get(..19)?, bytes.get(19..)?);
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = main.get(range)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|(at, separator)| main[*at] != *separator) {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let millis = match rest {
        [b'Z'] => 0,
        [b'.', fraction @ .., b'Z'] if !fraction.is_empty() && fraction.iter().all(u8::is_ascii_digit) => {
            fraction.iter().chain([b'0', b'0'].iter()).take(3).fold(0, |ms, digit| ms * 10 + i64::from(digit - b'0'))
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + hour * 3_600 + minute * 60 + second) * 1_000) + millis)
}

/// Howard Hinnant's civil-to-days conversion (proleptic Gregorian), the
/// inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Serde for a time kept as milliseconds since the epoch and written as
/// RFC 3339 (`#[serde(with = "keel_api::time::rfc3339")]`).
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(unix_ms: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::rfc3339_ms(*unix_ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_rfc3339_ms(&text)
            .ok_or_else(|| de::Error::custom(format!("invalid time {text:?}: expected RFC 3339 in UTC")))
    }
}

/// Serde for an optional time, as [`rfc3339`]; `null` is `None`.
pub mod optional_rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(unix_ms: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
        match unix_ms {
            Some(unix_ms) => super::rfc3339::serialize(unix_ms, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| {
                super::parse_rfc3339_ms(&text)
                    .ok_or_else(|| de::Error::custom(format!("invalid time {text:?}: expected RFC 3339 in UTC")))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_rfc3339_ms, rfc3339_ms};

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_ms(1_488_838_071_000), "2017-03-06T22:07:51Z");
        assert_eq!(rfc3339_ms(951_782_400_250), "2000-02-29T00:00:00.250Z");
        assert_eq!(rfc3339_ms(-1_000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn formatted_times_parse_back() {
        for ms in [0, 1_764_000_000_250, 951_782_400_000, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339_ms(&rfc3339_ms(ms)), Some(ms), "{ms}");
        }
        assert_eq!(parse_rfc3339_ms("2025-11-24T16:00:00.5Z"), Some(1_764_000_000_500));
        assert_eq!(parse_rfc3339_ms("2017-08-23T22:47:14.695408057Z"), Some(1_503_528_434_695));
        for bad in ["", "2025-11-24", "2025-11-24T16:00:00", "2025-11-24T16:00:00+01:00", "2025-13-01T00:00:00Z"] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad:?}");
        }
    }
}
