//! Small readings of the host's facts that several parts of a round share:
//! gossip tags and licensed features.

use keel_sdk::autopilot::{Cluster, Server};

/// The value of a server's gossip tag, if it has one.
pub(crate) fn tag<'a>(server: &'a Server, key: &str) -> Option<&'a str> {
    server.tags.iter().find(|(name, _)| name == key).map(|(_, value)| value.as_str())
}

/// Whether the installed license grants `feature`.
pub(crate) fn licensed(cluster: &Cluster, feature: &str) -> bool {
    cluster.licensed_features.iter().any(|granted| granted == feature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{cluster, server};

    #[test]
    fn tags_are_read_by_name() {
        let mut s = server("s1");
        s.tags = vec![("build".into(), "1.0.0".into()), ("zone".into(), "a".into())];
        assert_eq!(tag(&s, "zone"), Some("a"));
        assert_eq!(tag(&s, "missing"), None);
    }

    #[test]
    fn features_must_match_exactly() {
        let mut c = cluster(vec![server("s1")]);
        c.licensed_features = vec!["Redundancy Zones".into()];
        assert!(licensed(&c, "Redundancy Zones"));
        assert!(!licensed(&c, "redundancy zones"));
        assert!(!licensed(&c, "Automated Upgrades"));
    }
}
