//! Query strings as Keel's HTTP clients write them.

/// A path with a query string, its values percent-encoded.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs.iter().map(|(key, value)| format!("{key}={}", percent_encode(value))).collect();
    if query.is_empty() { path.to_owned() } else { format!("{path}?{}", query.join("&")) }
}

/// Encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(byte).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_encoded_and_an_empty_query_is_left_out() {
        assert_eq!(with_query("/v1/x", &[("task", "a b&c"), ("type", "stdout")]), "/v1/x?task=a%20b%26c&type=stdout");
        assert_eq!(with_query("/v1/x", &[]), "/v1/x");
        assert_eq!(percent_encode("é/"), "%C3%A9%2F");
    }
}
