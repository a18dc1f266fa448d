//! Server versions, ordered the way hashicorp/go-version orders them, which
//! is what Nomad and Consul use to pick an upgrade's target version.
//!
//! The order is the SDK's [`Version`]; this module fixes how a server's
//! version text is read: cut at the first `-` ([`Syntax::Split`]), so the
//! pre-release is whatever follows that dash.

use keel_sdk::version::Syntax;
pub(crate) use keel_sdk::version::Version;

/// Parses `1.2.3`, `v1.2`, `1.2.3-beta.1` or `1.2.3+ent`; anything else is
/// `None`.
pub(crate) fn parse(text: &str) -> Option<Version> {
    Version::parse_with(text, Syntax::Split)
}

#[cfg(test)]
mod tests {
    use super::{Version, parse};

    fn v(text: &str) -> Version {
        parse(text).expect("a version")
    }

    #[test]
    fn parses_the_usual_shapes() {
        for text in ["1", "1.2", "1.2.3", "v1.2.3", "1.2.3-beta.1", "1.2.3+ent", "1.2.3-rc1+ent"] {
            assert!(parse(text).is_some(), "{text}");
        }
        for text in ["", "x", "1..2", "1.2-", "1.a.3"] {
            assert!(parse(text).is_none(), "{text}");
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
