//! Go's duration syntax (`"200ms"`, `"1m30s"`, `"27.291304ms"`), as Nomad
//! reads and writes durations in JSON.
//!
//! Use the module with `#[serde(with = "keel_api::duration")]` on a
//! [`Duration`] field: it writes Go's `time.Duration.String()` and reads
//! either a duration string or a number of nanoseconds.
//!
//! Go's `time.Duration` is an `int64` of nanoseconds, so anything longer than
//! [`MAX_NANOS`] (about 292 years) is refused here: a Go client could
//! neither send it nor read it back.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseDurationError(String);

impl fmt::Display for ParseDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseDurationError {}

const UNITS: [(&str, u128); 9] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 0), // Go has no days; listed so the error names the unit.
];

/// The longest duration Go can represent, in nanoseconds (`math.MaxInt64`).
pub const MAX_NANOS: u64 = i64::MAX as u64;

/// Parses a Go duration such as `"10s"`, `"1h2m3.5s"` or `"0"`. Negative
/// durations are refused: nothing Keel configures can be negative.
pub fn parse(text: &str) -> Result<Duration, ParseDurationError> {
    let invalid = || ParseDurationError(format!("time: invalid duration {text:?}"));
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.starts_with('-') {
        return Err(ParseDurationError(format!("time: negative duration {text:?}")));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total_ns: u128 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(ParseDurationError(format!("time: missing unit in duration {text:?}")));
        }
        let scale = match UNITS.iter().find(|(name, _)| *name == unit) {
            Some((_, scale)) if *scale > 0 => *scale,
            _ => return Err(ParseDurationError(format!("time: unknown unit {unit:?} in duration {text:?}"))),
        };
        let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| invalid())? };
        // Any number of units past Go's range is past it; refusing it here
        // also keeps the products below far from overflowing.
        if whole > u128::from(MAX_NANOS) {
            return Err(invalid());
        }
        let mut part = whole * scale;
        let mut place = scale;
        for digit in fraction.bytes() {
            place /= 10;
            part += u128::from(digit - b'0') * place;
        }
        total_ns = total_ns.checked_add(part).ok_or_else(invalid)?;
        rest = next;
    }
    // Go reports an overflow as an invalid duration, with the same text.
    let total_ns = u64::try_from(total_ns).ok().filter(|ns| *ns <= MAX_NANOS).ok_or_else(invalid)?;
    Ok(Duration::from_nanos(total_ns))
}

/// A number of nanoseconds as a duration, refused beyond Go's range.
pub fn from_nanos(ns: u64) -> Result<Duration, ParseDurationError> {
    match ns <= MAX_NANOS {
        true => Ok(Duration::from_nanos(ns)),
        false => Err(ParseDurationError(format!("duration of {ns} nanoseconds is out of range"))),
    }
}

/// Formats a duration as Go's `time.Duration.String()` does.
pub fn format(duration: Duration) -> String {
    let ns = duration.as_nanos();
    if ns == 0 {
        return "0s".to_owned();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", decimal(ns, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", decimal(ns, 1_000_000));
    }
    let hours = ns / 3_600_000_000_000;
    let minutes = ns / 60_000_000_000 % 60;
    let seconds = decimal(ns % 60_000_000_000, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

/// `value / unit` with the remainder as a decimal fraction, trailing zeros dropped.
fn decimal(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let fraction = value % unit;
    if fraction == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*duration))
}

/// [`deserialize`] for an `Option<Duration>` field that is `None` when absent
/// (with `#[serde(default)]`).
pub fn deserialize_some<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    deserialize(deserializer).map(Some)
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    struct GoDuration;

    impl Visitor<'_> for GoDuration {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as \"10s\" or a number of nanoseconds")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            parse(text).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, ns: u64) -> Result<Duration, E> {
            from_nanos(ns).map_err(E::custom)
        }

        fn visit_i64<E: de::Error>(self, ns: i64) -> Result<Duration, E> {
            u64::try_from(ns).map(Duration::from_nanos).map_err(|_| E::custom("negative duration"))
        }
    }

    deserializer.deserialize_any(GoDuration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(100), "100ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_millis(200), "200ms"),
            (Duration::from_nanos(27_291_304), "27.291304ms"),
            (Duration::from_secs(10), "10s"),
            (Duration::from_millis(1_500), "1.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3_600), "1h0m0s"),
            (Duration::from_secs(3_723), "1h2m3s"),
        ];
        for (duration, text) in cases {
            assert_eq!(format(duration), text);
            assert_eq!(parse(text), Ok(duration), "{text}");
        }
    }

    #[test]
    fn parses_gos_other_spellings() {
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("+2us"), Ok(Duration::from_micros(2)));
        assert_eq!(parse("3μs"), Ok(Duration::from_micros(3)));
    }

    #[test]
    fn refuses_what_go_refuses() {
        for bad in ["", "10", "s", "1x", "1d", "1..5s", "ten seconds", "."] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse("1d").expect_err("no days").to_string(), "time: unknown unit \"d\" in duration \"1d\"");
        assert_eq!(parse("-1s").expect_err("negative").to_string(), "time: negative duration \"-1s\"");
    }

    #[test]
    fn refuses_what_go_cannot_represent() {
        assert_eq!(parse("9223372036854775807ns"), Ok(Duration::from_nanos(MAX_NANOS)));
        assert_eq!(parse("2562047h47m16.854775807s"), Ok(Duration::from_nanos(MAX_NANOS)));
        for too_long in [
            "9223372036854775808ns",
            "5000000h",
            "2562048h",
            "2562047h47m16.854775808s",
            "99999999999999999999999999999999999999h",
            "18446744073709551616ns",
        ] {
            let error = parse(too_long).expect_err(too_long);
            assert_eq!(error.to_string(), format!("time: invalid duration {too_long:?}"));
        }
        assert_eq!(from_nanos(MAX_NANOS), Ok(Duration::from_nanos(MAX_NANOS)));
        assert!(from_nanos(MAX_NANOS + 1).is_err());
    }

    #[test]
    fn json_takes_strings_and_nanoseconds() {
        #[derive(serde::Deserialize, serde::Serialize)]
        struct Holder(#[serde(with = "super")] Duration);
        let from_text: Holder = serde_json::from_str("\"250ms\"").expect("string");
        assert_eq!(from_text.0, Duration::from_millis(250));
        let from_ns: Holder = serde_json::from_str("1000000").expect("number");
        assert_eq!(from_ns.0, Duration::from_millis(1));
        assert_eq!(serde_json::to_string(&from_text).expect("serialize"), "\"250ms\"");
        assert!(serde_json::from_str::<Holder>("\"soon\"").is_err());
        assert!(serde_json::from_str::<Holder>("true").is_err());
        assert!(serde_json::from_str::<Holder>("9223372036854775807").is_ok());
        assert!(serde_json::from_str::<Holder>("9223372036854775808").is_err(), "beyond Go's int64");
        assert!(serde_json::from_str::<Holder>("\"5000000h\"").is_err());
    }
}
