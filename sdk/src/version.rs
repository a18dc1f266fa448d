//! Versions ordered the way hashicorp/go-version orders them, which is what
//! Nomad and Consul use to compare server and node versions.
//!
//! A [`Version`] is a list of numeric segments (`1.2.3`) and an optional
//! pre-release (`-beta.1`); build metadata (`+ent`) is accepted and dropped.
//! The order is:
//!
//! - segments compare numerically, left to right, a missing segment counting
//!   as zero, so `1.10 > 1.9` and `1.2 == 1.2.0`;
//! - a release sorts after its pre-releases: `1.2.3-rc1 < 1.2.3`;
//! - pre-releases compare part by part on their `.`-separated parts: two
//!   numeric parts numerically, a numeric part below a word, two words by
//!   their bytes, and when one list is a prefix of the other, the shorter
//!   first (`beta < beta.1`).
//!
//! Equality is this order's equality, not textual equality: `v1.2+ent`,
//! `1.2` and `1.2.0` are equal.
//!
//! Two grammars are accepted, chosen with [`Syntax`]: go-version's own
//! ([`Version::parse`]), and a simpler one that cuts the text at its first
//! `-` ([`Syntax::Split`]).
//!
//! ```
//! use keel_sdk::version::Version;
//!
//! let v = |text| Version::parse(text).unwrap();
//! assert!(v("1.10.0") > v("1.9.9"));
//! assert!(v("1.2.3-beta.2") < v("1.2.3-beta.11"));
//! assert!(v("1.2.3-rc1") < v("1.2.3"));
//! assert_eq!(v("v1.2+ent"), v("1.2.0"));
//! assert_eq!(v("1.2.3rc1").pre(), Some("rc1"));
//! assert!(Version::parse("1.x").is_none());
//! ```

use std::cmp::Ordering;

/// Which grammar [`Version::parse_with`] accepts.
///
/// Both take surrounding whitespace and a leading `v`, a core of one or more
/// `.`-separated decimal segments that each fit a `u64`, and build metadata
/// after the first `+`, which is dropped. They differ in how the pre-release
/// is written and how much is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Syntax {
    /// go-version's grammar: the core ends at the first character that is
    /// neither a digit nor a `.`, and what follows, after an optional `-`,
    /// is the pre-release (`1.2.3-rc1` and `1.2.3rc1` are the same). The
    /// pre-release must be `.`-separated non-empty parts of ASCII letters,
    /// digits, `-` and `~`; a `+` must be followed by build metadata.
    #[default]
    GoVersion,
    /// `core[-pre][+build]`, cut at the first `+` and then at the first `-`.
    /// The pre-release is whatever non-empty text follows that `-`, kept as
    /// written; without a `-` there is no pre-release, so `1.2.3rc1` does
    /// not parse. A `+` with nothing after it is accepted.
    Split,
}

/// A parsed version: numeric segments and an optional pre-release.
///
/// `Ord` is a total order, the one described in the [module docs](self),
/// and `==` holds exactly when `cmp` gives [`Ordering::Equal`]. Build
/// metadata is not kept.
#[derive(Debug, Clone)]
pub struct Version {
    segments: Vec<u64>,
    pre: Option<String>,
}

impl Version {
    /// Parses `text` with go-version's grammar ([`Syntax::GoVersion`]):
    /// `1`, `v1.2`, `1.2.3.4`, `1.2.3-beta.1`, `1.2.3rc1`, `1.2.3+ent`.
    /// Anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::parse_with(text, Syntax::GoVersion)
    }

    /// Parses `text` with the given grammar; `None` when it does not match.
    pub fn parse_with(text: &str, syntax: Syntax) -> Option<Self> {
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let text = match text.split_once('+') {
            Some((_, "")) if syntax == Syntax::GoVersion => return None,
            Some((version, _build)) => version,
            None => text,
        };
        let (core, pre) = match syntax {
            Syntax::GoVersion => {
                let core_end = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
                let (core, rest) = text.split_at(core_end);
                let pre = match rest.strip_prefix('-').unwrap_or(rest) {
                    "" if rest.is_empty() => None,
                    "" => return None,
                    pre if pre.split('.').all(valid_identifier) => Some(pre),
                    _ => return None,
                };
                (core, pre)
            }
            Syntax::Split => match text.split_once('-') {
                Some((_, "")) => return None,
                Some((core, pre)) => (core, Some(pre)),
                None => (text, None),
            },
        };
        let segments = core.split('.').map(segment).collect::<Option<Vec<_>>>()?;
        Some(Self { segments, pre: pre.map(str::to_owned) })
    }

    /// The numeric segments as written: `1.2` has two, `1.2.0` three. There
    /// is always at least one.
    pub fn segments(&self) -> &[u64] {
        &self.segments
    }

    /// Segment `i` (from zero), or zero past the last written one, which is
    /// how the order reads a missing segment.
    pub fn segment(&self, i: usize) -> u64 {
        self.segments.get(i).copied().unwrap_or(0)
    }

    /// The pre-release without its leading `-`, as written: `beta.1` for
    /// `1.2.3-beta.1`. `None` for a release.
    pub fn pre(&self) -> Option<&str> {
        self.pre.as_deref()
    }
}

/// One core segment: decimal digits only, fitting a `u64`.
fn segment(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn valid_identifier(part: &str) -> bool {
    !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '~')
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.segments.len().max(other.segments.len());
        (0..len)
            .map(|i| self.segment(i).cmp(&other.segment(i)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| compare_pre(self.pre(), other.pre()))
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

/// A release sorts after its pre-releases; pre-releases compare part by
/// part, numbers numerically and below words, a shorter list first.
fn compare_pre(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => {
            let (mut left, mut right) = (a.split('.'), b.split('.'));
            loop {
                let order = match (left.next(), right.next()) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some(l), Some(r)) => match (l.parse::<u64>(), r.parse::<u64>()) {
                        (Ok(l), Ok(r)) => l.cmp(&r),
                        (Ok(_), Err(_)) => Ordering::Less,
                        (Err(_), Ok(_)) => Ordering::Greater,
                        (Err(_), Err(_)) => l.cmp(r),
                    },
                };
                if order.is_ne() {
                    return order;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Syntax, Version};

    fn v(text: &str) -> Version {
        Version::parse(text).expect("a version")
    }

    fn split(text: &str) -> Option<Version> {
        Version::parse_with(text, Syntax::Split)
    }

    #[test]
    fn go_version_is_the_default_syntax() {
        assert_eq!(Syntax::default(), Syntax::GoVersion);
    }

    #[test]
    fn go_version_syntax_accepts_its_shapes() {
        for text in [
            "1",
            "1.2",
            "1.2.3",
            "1.2.3.4.5",
            "v1.2.3",
            " 1.2.3 ",
            "1.2.3-beta.1",
            "1.2.3rc1",
            "1.2.3-rc1+ent",
            "1.2.3+ent",
            "4.19.0-26-amd64",
            "1.2.3-a~b",
            "1.2.3--x",
        ] {
            assert!(Version::parse(text).is_some(), "{text}");
        }
        for text in
            ["", "v", "x1", "1.", ".1", "1..2", "1.2-", "1.2+", "1.2.3-be ta", "1.2.3-a..b", "1.2.3-.a", "1.2.3-a."]
        {
            assert!(Version::parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn split_syntax_accepts_its_shapes() {
        for text in ["1", "1.2.3", "v1.2.3", "1.2.3-beta.1", "1.2.3+ent", "1.2.3-rc1+ent", "1.2.3+", "1.2.3-be ta"] {
            assert!(split(text).is_some(), "{text}");
        }
        for text in ["", "x", "1..2", "1.2-", "1.a.3", "1.2.3rc1", "-1.2"] {
            assert!(split(text).is_none(), "{text}");
        }
    }

    #[test]
    fn the_syntaxes_differ_only_where_documented() {
        // A pre-release without a dash.
        assert_eq!(v("1.2.3rc1").pre(), Some("rc1"));
        assert!(split("1.2.3rc1").is_none());
        // An empty build.
        assert!(Version::parse("1.2.3+").is_none());
        assert_eq!(split("1.2.3+").expect("a version"), v("1.2.3"));
        // A pre-release that is not a list of identifiers.
        assert!(Version::parse("1.2.3-be ta").is_none());
        assert_eq!(split("1.2.3-be ta").expect("a version").pre(), Some("be ta"));
        // Everything else reads the same.
        for text in ["1.2.3", "v1.2", "1.2.3-beta.1", "1.2.3-rc1+ent", "4.19.0-26-amd64"] {
            let (a, b) = (v(text), split(text).expect("a version"));
            assert_eq!((a.segments(), a.pre()), (b.segments(), b.pre()), "{text}");
        }
    }

    #[test]
    fn segments_must_be_decimal_and_fit_a_u64() {
        assert_eq!(v("18446744073709551615").segments(), [u64::MAX]);
        assert!(Version::parse("18446744073709551616").is_none());
        assert!(split("18446744073709551616").is_none());
        assert!(split("1. 2").is_none());
        assert_eq!(v("01.002").segments(), [1, 2]);
    }

    #[test]
    fn accessors_report_what_was_written() {
        let version = v("v1.2-beta.1+ent");
        assert_eq!(version.segments(), [1, 2]);
        assert_eq!(version.segment(0), 1);
        assert_eq!(version.segment(1), 2);
        assert_eq!(version.segment(2), 0);
        assert_eq!(version.segment(usize::MAX), 0);
        assert_eq!(version.pre(), Some("beta.1"));
        assert_eq!(v("1.2.0").segments(), [1, 2, 0]);
        assert_eq!(v("1.2.0").pre(), None);
        assert_eq!(v("4.19.0-26-amd64").pre(), Some("26-amd64"));
    }

    #[test]
    fn segments_order_numerically_with_missing_ones_as_zero() {
        assert!(v("1.10.0") > v("1.9.9"));
        assert!(v("2") > v("1.99"));
        assert!(v("1.2.0.1") > v("1.2"));
        assert_eq!(v("1.2"), v("1.2.0"));
        assert_eq!(v("1.2"), v("1.2.0.0"));
        assert_eq!(v("v1.2.3"), v("1.2.3"));
    }

    #[test]
    fn build_metadata_takes_no_part() {
        assert_eq!(v("1.2.3+ent"), v("1.2.3"));
        assert_eq!(v("1.2.3+a"), v("1.2.3+b"));
        assert_eq!(v("1.2.3-rc1+a"), v("1.2.3-rc1"));
    }

    #[test]
    fn a_release_sorts_after_its_pre_releases() {
        assert!(v("1.2.3-beta") < v("1.2.3"));
        assert!(v("1.2.3-rc1") < v("1.2.3"));
        assert!(v("1.2.3") < v("1.2.4-alpha"));
        assert!(v("1.2-rc1") < v("1.2.0"));
    }

    #[test]
    fn pre_releases_compare_part_by_part() {
        assert!(v("1.2.3-alpha") < v("1.2.3-beta"));
        assert!(v("1.2.3-beta.2") < v("1.2.3-beta.11"));
        assert!(v("1.2.3-alpha.2") < v("1.2.3-alpha.10"));
        assert!(v("1.2.3-beta") < v("1.2.3-beta.1"));
        assert!(v("1.2.3-1") < v("1.2.3-alpha"));
        assert!(v("1.2.3-beta.9") < v("1.2.3-beta.x"));
        assert!(v("1.2.3-Beta") < v("1.2.3-beta"));
        assert_eq!(v("1.2.3-beta.01"), v("1.2.3-beta.1"));
        assert_eq!(v("1.2.3rc1"), v("1.2.3-rc1"));
    }

    #[test]
    fn the_order_is_total_and_agrees_with_equality() {
        let texts = [
            "0.9",
            "1",
            "1.0.0",
            "1.0.1-1",
            "1.0.1-alpha",
            "1.0.1-alpha.1",
            "1.0.1-alpha.beta",
            "1.0.1-beta.2",
            "1.0.1-beta.11",
            "1.0.1-rc.1",
            "1.0.1",
            "1.0.1+ent",
            "1.1",
            "1.10",
            "2.0.0-rc1",
            "2",
        ];
        let versions: Vec<Version> = texts.iter().map(|t| v(t)).collect();
        for (i, a) in versions.iter().enumerate() {
            for (j, b) in versions.iter().enumerate() {
                assert_eq!(a.cmp(b), b.cmp(a).reverse(), "{} {}", texts[i], texts[j]);
                assert_eq!(a == b, a.cmp(b).is_eq(), "{} {}", texts[i], texts[j]);
                assert_eq!(a.partial_cmp(b), Some(a.cmp(b)), "{} {}", texts[i], texts[j]);
            }
        }
        let mut sorted = versions.clone();
        sorted.reverse();
        sorted.sort();
        assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
        // The list above is written in order.
        assert!(versions.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(sorted.iter().max(), Some(&v("2.0")));
    }
}
