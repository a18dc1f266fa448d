//! Server versions, ordered the way hashicorp/go-version orders them, which
//! is what Nomad and Consul use to pick an upgrade's target version.

use std::cmp::Ordering;

/// A parsed version: numeric segments and an optional pre-release. Build
/// metadata (`+ent`) does not take part in the order.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    segments: Vec<u64>,
    pre: Option<String>,
}

impl Version {
    /// Parses `1.2.3`, `v1.2`, `1.2.3-beta.1` or `1.2.3+ent`; anything else
    /// is `None`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let text = text.split_once('+').map_or(text, |(version, _build)| version);
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) if !pre.is_empty() => (core, Some(pre.to_owned())),
            Some(_) => return None,
            None => (text, None),
        };
        let segments = core.split('.').map(|s| s.parse::<u64>().ok()).collect::<Option<Vec<_>>>()?;
        if segments.is_empty() {
            return None;
        }
        Some(Self { segments, pre })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.segments.len().max(other.segments.len());
        let segment = |v: &Version, i: usize| v.segments.get(i).copied().unwrap_or(0);
        (0..len)
            .map(|i| segment(self, i).cmp(&segment(other, i)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| compare_pre(self.pre.as_deref(), other.pre.as_deref()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Version {}

/// A release sorts after its pre-releases; pre-releases compare by their
/// dot-separated parts, numbers numerically and below words.
fn compare_pre(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => {
            let mut left = a.split('.');
            let mut right = b.split('.');
            loop {
                match (left.next(), right.next()) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some(l), Some(r)) => {
                        let order = match (l.parse::<u64>(), r.parse::<u64>()) {
                            (Ok(l), Ok(r)) => l.cmp(&r),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            (Err(_), Err(_)) => l.cmp(r),
                        };
                        if order.is_ne() {
                            return order;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Version;

    fn v(text: &str) -> Version {
        Version::parse(text).expect("a version")
    }

    #[test]
    fn parses_the_usual_shapes() {
        for text in ["1", "1.2", "1.2.3", "v1.2.3", "1.2.3-beta.1", "1.2.3+ent", "1.2.3-rc1+ent"] {
            assert!(Version::parse(text).is_some(), "{text}");
        }
        for text in ["", "x", "1..2", "1.2-", "1.a.3"] {
            assert!(Version::parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn orders_numerically_with_missing_segments_as_zero() {
        assert!(v("1.10.0") > v("1.9.9"));
        assert_eq!(v("1.2"), v("1.2.0"));
        assert!(v("2") > v("1.99"));
        assert_eq!(v("1.2.3+ent"), v("1.2.3"));
    }

    #[test]
    fn pre_releases_sort_before_their_release() {
        assert!(v("1.2.3-beta") < v("1.2.3"));
        assert!(v("1.2.3-alpha") < v("1.2.3-beta"));
        assert!(v("1.2.3-beta.2") < v("1.2.3-beta.11"));
        assert!(v("1.2.3-beta") < v("1.2.3-beta.1"));
        assert!(v("1.2.3-1") < v("1.2.3-alpha"));
    }
}
