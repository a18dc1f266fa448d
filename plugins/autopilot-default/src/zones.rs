//! Redundancy zones in the health report (an enterprise feature): servers
//! grouped by their `zone` gossip tag.

use std::collections::BTreeMap;

use keel_sdk::autopilot::{Cluster, Zone};

use crate::facts::{licensed, tag};
use crate::health::Assessment;

/// The license feature that turns zones on.
pub(crate) const FEATURE: &str = "Redundancy Zones";
/// The gossip tag that names a server's zone.
pub(crate) const ZONE_TAG: &str = "zone";

/// The zones, by name, when the configuration enables them and the license
/// grants them; otherwise none. Servers without a zone tag belong to none.
///
/// A zone's failure tolerance is how many of its servers may fail while one
/// healthy server is left to hold the zone's vote.
pub(crate) fn redundancy_zones(cluster: &Cluster, assessments: &[Assessment<'_>]) -> Vec<Zone> {
    if !cluster.config.enable_redundancy_zones || !licensed(cluster, FEATURE) {
        return Vec::new();
    }
    let mut zones: BTreeMap<&str, Vec<&Assessment<'_>>> = BTreeMap::new();
    for a in assessments {
        if let Some(zone) = tag(a.server, ZONE_TAG).filter(|zone| !zone.is_empty()) {
            zones.entry(zone).or_default().push(a);
        }
    }
    zones
        .into_iter()
        .map(|(name, members)| {
            let healthy = members.iter().filter(|a| a.healthy()).count();
            Zone {
                name: name.to_owned(),
                servers: members.iter().map(|a| a.id().to_owned()).collect(),
                voters: members.iter().filter(|a| a.voter).map(|a| a.id().to_owned()).collect(),
                failure_tolerance: u32::try_from(healthy.saturating_sub(1)).unwrap_or(u32::MAX),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use keel_sdk::autopilot::GossipStatus;

    use super::*;
    use crate::fixtures::{cluster, nonvoter, server, tagged, with_status};
    use crate::health::assess;

    fn zoned_cluster() -> Cluster {
        let mut c = cluster(vec![
            tagged(ZONE_TAG, "b", server("s1")),
            tagged(ZONE_TAG, "a", server("s2")),
            tagged(ZONE_TAG, "a", nonvoter("s3")),
            tagged(ZONE_TAG, "a", with_status(GossipStatus::Failed, nonvoter("s4"))),
            server("s5"),
        ]);
        c.config.enable_redundancy_zones = true;
        c.licensed_features = vec![FEATURE.into()];
        c
    }

    fn zones(c: &Cluster) -> Vec<Zone> {
        redundancy_zones(c, &assess(c).expect("valid"))
    }

    #[test]
    fn zones_group_servers_by_their_tag() {
        let got = zones(&zoned_cluster());
        assert_eq!(
            got,
            [
                Zone {
                    name: "a".into(),
                    servers: vec!["s2".into(), "s3".into(), "s4".into()],
                    voters: vec!["s2".into()],
                    failure_tolerance: 1,
                },
                Zone { name: "b".into(), servers: vec!["s1".into()], voters: vec!["s1".into()], failure_tolerance: 0 },
            ]
        );
    }

    #[test]
    fn zones_need_the_setting_and_the_license() {
        let mut off = zoned_cluster();
        off.config.enable_redundancy_zones = false;
        assert!(zones(&off).is_empty());
        let mut unlicensed = zoned_cluster();
        unlicensed.licensed_features = vec!["Automated Upgrades".into()];
        assert!(zones(&unlicensed).is_empty());
    }
}
