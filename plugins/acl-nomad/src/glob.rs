//! Glob labels such as `prod-*`: `*` matches any run of characters, empty
//! included, anywhere in the label; nothing else is special. This is the
//! matching of `github.com/ryanuber/go-glob`, which Nomad uses for labels.

/// Whether `pattern` matches all of `subject`.
pub fn matches(pattern: &str, subject: &str) -> bool {
    let Some((head, last)) = pattern.rsplit_once('*') else {
        return pattern == subject;
    };
    let (first, middle) = head.split_once('*').unwrap_or((head, ""));
    let Some(mut rest) = subject.strip_prefix(first) else {
        return false;
    };
    // Taking each middle part at its first occurrence leaves the longest
    // possible rest, so the last part is checked against the best chance.
    for part in middle.split('*') {
        match rest.find(part) {
            Some(index) => rest = &rest[index + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// How many bytes of `subject` the wildcards of a matching `pattern` cover.
/// Of several matching globs Nomad picks the one with the fewest: the glob
/// closest in length to the name it matched.
pub fn wildcard_width(pattern: &str, subject: &str) -> usize {
    let stars = pattern.bytes().filter(|b| *b == b'*').count();
    subject.len().saturating_sub(pattern.len() - stars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_follows_go_glob() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("prod", "prod", true),
            ("prod", "prod-1", false),
            ("prod-*", "prod-", true),
            ("prod-*", "prod-api", true),
            ("prod-*", "dev-api", false),
            ("*-api", "prod-api", true),
            ("*-api", "prod-api-2", false),
            ("p*d", "prod", true),
            ("p*d", "pd", true),
            ("p*d", "prod-x", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "a-b-b-c", true),
            ("a*b*c", "acb", false),
            ("*b*", "abc", true),
            ("*b*", "ac", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("**", "x", true),
            ("a**", "a", true),
            ("", "", true),
            ("", "a", false),
        ];
        for (pattern, subject, expected) in cases {
            assert_eq!(matches(pattern, subject), expected, "{pattern:?} against {subject:?}");
        }
    }

    #[test]
    fn width_counts_what_the_wildcards_cover() {
        assert_eq!(wildcard_width("*", "prod-api"), 8);
        assert_eq!(wildcard_width("prod-*", "prod-api"), 3);
        assert_eq!(wildcard_width("*-api", "prod-api"), 4);
        assert_eq!(wildcard_width("p*-a*", "prod-api"), 5);
        assert_eq!(wildcard_width("prod-*", "prod-"), 0);
    }
}
