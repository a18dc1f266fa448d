//! Versions and version constraints for the `version` and `semver`
//! operands, following hashicorp/go-version (which Nomad uses) closely
//! enough for real constraints such as `>= 1.2, < 2.0` or `~> 1.4`.
//!
//! The two flavours differ as Nomad's do: `version` accepts any number of
//! segments and the pessimistic `~>`, and keeps pre-releases out of ranges
//! that do not name one; `semver` takes at most three segments, has no
//! `~>`, and orders pre-releases like any other version.
//!
//! The versions themselves, their grammar and their order are the SDK's
//! [`Version`]; this module adds the flavours and the constraints.

use std::fmt;

use keel_sdk::version::Version;

/// Which operand's rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Version,
    Semver,
}

/// Parses `1.2.3`, `v1.2`, `1.2.3-beta.1`, `1.2.3rc1` or `1.2.3+ent` with
/// go-version's grammar; `semver` also allows no more than three segments.
pub(crate) fn parse(text: &str, flavor: Flavor) -> Option<Version> {
    Version::parse(text).filter(|version| flavor == Flavor::Version || version.segments().len() <= 3)
}

/// Whether two versions have the same numeric segments, a missing one
/// counting as zero.
fn same_core(a: &Version, b: &Version) -> bool {
    let len = a.segments().len().max(b.segments().len());
    (0..len).all(|i| a.segment(i) == b.segment(i))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    NotEqual,
    Greater,
    Less,
    GreaterOrEqual,
    LessOrEqual,
    Pessimistic,
}

/// One `op version` term.
#[derive(Debug, Clone)]
struct Term {
    op: Op,
    version: Version,
    /// How many segments the constraint wrote, which `~>` depends on.
    written_segments: usize,
}

/// A comma-separated list of terms, all of which must hold.
#[derive(Debug, Clone)]
pub(crate) struct VersionConstraint {
    flavor: Flavor,
    terms: Vec<Term>,
}

/// Why a constraint does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl VersionConstraint {
    pub(crate) fn parse(text: &str, flavor: Flavor) -> Result<Self, ParseError> {
        let terms = text.split(',').map(|term| parse_term(term, flavor)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { flavor, terms })
    }

    pub(crate) fn matches(&self, version: &Version) -> bool {
        self.terms.iter().all(|term| self.term_matches(term, version))
    }

    fn term_matches(&self, term: &Term, v: &Version) -> bool {
        let c = &term.version;
        // go-version keeps pre-releases out of ranges unless the range names
        // a pre-release of the same release; Nomad's semver does not.
        let pre_ok = self.flavor == Flavor::Semver
            || match (v.pre().is_some(), c.pre().is_some()) {
                (true, true) => same_core(v, c),
                (true, false) => false,
                (false, _) => true,
            };
        match term.op {
            Op::Equal => v == c,
            Op::NotEqual => v != c,
            Op::Greater => pre_ok && v > c,
            Op::Less => pre_ok && v < c,
            Op::GreaterOrEqual => pre_ok && v >= c,
            Op::LessOrEqual => pre_ok && v <= c,
            Op::Pessimistic => {
                v.pre().is_some() == c.pre().is_some()
                    && v >= c
                    && (0..term.written_segments.saturating_sub(1)).all(|i| v.segment(i) == c.segment(i))
            }
        }
    }
}

fn parse_term(term: &str, flavor: Flavor) -> Result<Term, ParseError> {
    let term = term.trim();
    let (op, rest) = [
        (">=", Op::GreaterOrEqual),
        ("<=", Op::LessOrEqual),
        ("!=", Op::NotEqual),
        ("~>", Op::Pessimistic),
        (">", Op::Greater),
        ("<", Op::Less),
        ("=", Op::Equal),
    ]
    .into_iter()
    .find_map(|(symbol, op)| term.strip_prefix(symbol).map(|rest| (op, rest)))
    .unwrap_or((Op::Equal, term));
    if op == Op::Pessimistic && flavor == Flavor::Semver {
        return Err(ParseError(format!("{term:?}: semver constraints do not support ~>")));
    }
    let text = rest.trim();
    let version = parse(text, flavor).ok_or_else(|| ParseError(format!("{term:?}: malformed version")))?;
    let written_segments = version.segments().len();
    Ok(Term { op, version, written_segments })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        parse(text, Flavor::Version).expect("a version")
    }

    fn holds(constraint: &str, version: &str) -> bool {
        VersionConstraint::parse(constraint, Flavor::Version).expect("a constraint").matches(&v(version))
    }

    fn holds_semver(constraint: &str, version: &str) -> bool {
        let c = VersionConstraint::parse(constraint, Flavor::Semver).expect("a constraint");
        c.matches(&parse(version, Flavor::Semver).expect("a version"))
    }

    #[test]
    fn versions_parse_like_go_version() {
        for text in ["1", "1.2.3", "v1.2", "1.2.3.4", "1.2.3-beta.1", "1.2.3rc1", "1.2.3+ent", "4.19.0-26-amd64"] {
            assert!(parse(text, Flavor::Version).is_some(), "{text}");
        }
        for text in ["", "x1", "1..2", "1.2-", "1.2+", "1.2.3-be ta"] {
            assert!(parse(text, Flavor::Version).is_none(), "{text}");
        }
        assert!(parse("1.2.3.4", Flavor::Semver).is_none());
    }

    #[test]
    fn versions_order_numerically() {
        assert!(v("1.10") > v("1.9"));
        assert_eq!(v("1.2"), v("1.2.0"));
        assert!(v("1.2.3-rc1") < v("1.2.3"));
        assert!(v("1.2.3-alpha.2") < v("1.2.3-alpha.10"));
        assert_eq!(v("1.2.3+a"), v("1.2.3+b"));
    }

    #[test]
    fn ranges_are_lists_of_terms() {
        assert!(holds(">= 1.2, < 2.0", "1.2.0"));
        assert!(holds(">= 1.2, < 2.0", "1.9.9"));
        assert!(!holds(">= 1.2, < 2.0", "2.0.0"));
        assert!(!holds(">= 1.2, < 2.0", "1.1.9"));
        assert!(holds("1.2.3", "1.2.3"));
        assert!(holds("= 1.2.3", "1.2.3"));
        assert!(holds("!= 1.2.3", "1.2.4"));
        assert!(holds("> 1.2", "1.2.1"));
        assert!(holds("<= 1.2", "1.2.0"));
    }

    #[test]
    fn pessimistic_keeps_all_but_the_last_written_segment() {
        assert!(holds("~> 1.2.3", "1.2.9"));
        assert!(!holds("~> 1.2.3", "1.3.0"));
        assert!(!holds("~> 1.2.3", "1.2.2"));
        assert!(holds("~> 1.2", "1.9.0"));
        assert!(!holds("~> 1.2", "2.0.0"));
    }

    #[test]
    fn version_keeps_pre_releases_out_of_plain_ranges_and_semver_does_not() {
        assert!(!holds(">= 1.0", "1.5.0-beta"));
        assert!(holds(">= 1.5.0-alpha", "1.5.0-beta"));
        assert!(!holds(">= 1.4.0-alpha", "1.5.0-beta"));
        assert!(holds_semver(">= 1.0", "1.5.0-beta"));
        assert!(holds_semver(">= 1.4.0-alpha, < 1.5.0", "1.5.0-beta"));
    }

    #[test]
    fn malformed_constraints_are_errors() {
        assert!(VersionConstraint::parse(">= one", Flavor::Version).is_err());
        assert!(VersionConstraint::parse(">= 1.0,", Flavor::Version).is_err());
        assert!(VersionConstraint::parse("~> 1.0", Flavor::Semver).is_err());
        assert!(VersionConstraint::parse("~> 1.0", Flavor::Version).is_ok());
    }
}
