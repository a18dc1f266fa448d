//! Durations in reasons, written the way Go prints them (`200ms`, `12s`,
//! `1.5s`), since operators compare them with Nomad's configuration.

/// Formats milliseconds as `850ms`, `12s` or `12.5s`.
pub(crate) fn human_ms(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (secs, rest) = (ms / 1000, ms % 1000);
    if rest == 0 {
        return format!("{secs}s");
    }
    let fraction = format!("{rest:03}");
    format!("{secs}.{}s", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::human_ms;

    #[test]
    fn prints_like_go() {
        assert_eq!(human_ms(0), "0ms");
        assert_eq!(human_ms(200), "200ms");
        assert_eq!(human_ms(1000), "1s");
        assert_eq!(human_ms(12_000), "12s");
        assert_eq!(human_ms(12_500), "12.5s");
        assert_eq!(human_ms(1_005), "1.005s");
    }
}
