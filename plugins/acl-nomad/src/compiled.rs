//! The merged rules of one token and the answer to each access question.
//!
//! How a request maps onto the rules:
//!
//! | area | level access | capability access |
//! |------|--------------|-------------------|
//! | agent, node, operator, quota | read: read or write; write: write | never |
//! | plugin | list: list, read or write; read: read or write; write: write | never |
//! | namespace | read: `read-job`; list: `list-jobs`; write: `submit-job`; scale: `scale-job` | that capability |
//! | node pool | read: `read`; write: `write`; list: any of `read`, `write`, `delete` | that capability |
//! | host volume | read: `mount-readonly`; write: `mount-readwrite` | that capability |
//!
//! Everything else, `deny` requests included, is refused. A namespace
//! request without a target (or with an empty one) is about `default`; one
//! whose target is `*` is allowed when any namespace grants it, as Nomad
//! does for listings across namespaces. Node pool and host volume requests
//! without a target are refused.

use keel_sdk::acl::{Access, Area, CompiledAcl, Level, Request, Verdict};

use crate::capability::{
    CapSet, Grant, LIST_JOBS, MOUNT_READONLY, MOUNT_READWRITE, POOL_ANY, POOL_READ, POOL_WRITE, READ_JOB, SCALE_JOB,
    SUBMIT_JOB, Scope,
};
use crate::label_table::LabelTable;
use crate::rules::{NamedRule, Rules};

/// The namespace a request without a target is about.
const DEFAULT_NAMESPACE: &str = "default";

/// The target that asks about every namespace at once.
const ALL_NAMESPACES: &str = "*";

/// The merged rules of one token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergedAcl {
    agent: Option<Grant>,
    node: Option<Grant>,
    operator: Option<Grant>,
    quota: Option<Grant>,
    plugin: Option<Grant>,
    namespaces: LabelTable,
    node_pools: LabelTable,
    host_volumes: LabelTable,
}

impl MergedAcl {
    /// Merges the rules of a token's policies. For areas without names deny
    /// wins, otherwise the highest grant does; for named things the sets of
    /// a label are unioned and deny anywhere for that label wins.
    pub fn merge(policies: &[Rules]) -> Self {
        fn highest(grants: impl Iterator<Item = Option<Grant>>) -> Option<Grant> {
            grants.flatten().max()
        }
        fn labelled<'a>(rules: impl Iterator<Item = &'a NamedRule>) -> LabelTable {
            LabelTable::merge(rules.map(|rule| (rule.label.as_str(), rule.capabilities)))
        }
        MergedAcl {
            agent: highest(policies.iter().map(|rules| rules.agent)),
            node: highest(policies.iter().map(|rules| rules.node)),
            operator: highest(policies.iter().map(|rules| rules.operator)),
            quota: highest(policies.iter().map(|rules| rules.quota)),
            plugin: highest(policies.iter().map(|rules| rules.plugin)),
            namespaces: labelled(policies.iter().flat_map(|rules| &rules.namespaces)),
            node_pools: labelled(policies.iter().flat_map(|rules| &rules.node_pools)),
            host_volumes: labelled(policies.iter().flat_map(|rules| &rules.host_volumes)),
        }
    }
}

impl CompiledAcl for MergedAcl {
    /// Nomad's rules depend on the policies alone, so every answer holds
    /// until the token or its policies change.
    fn allowed(&self, request: &Request) -> Verdict {
        Verdict::lasting(self.allows(request))
    }
}

impl MergedAcl {
    /// Whether the merged rules grant `request`.
    pub fn allows(&self, request: &Request) -> bool {
        let access = &request.access;
        match request.area {
            Area::Agent => coarse(self.agent, access),
            Area::Node => coarse(self.node, access),
            Area::Operator => coarse(self.operator, access),
            Area::Quota => coarse(self.quota, access),
            Area::Plugin => plugin(self.plugin, access),
            Area::Namespace => {
                let Some(wanted) = namespace_needs(access) else {
                    return false;
                };
                let target = match request.target.as_deref() {
                    None | Some("") => DEFAULT_NAMESPACE,
                    Some(target) => target,
                };
                (target == ALL_NAMESPACES && self.namespaces.any_grants(wanted))
                    || self.namespaces.lookup(target).is_some_and(|capabilities| capabilities.grants_any(wanted))
            }
            Area::NodePool => named(&self.node_pools, request.target.as_deref(), node_pool_needs(access)),
            Area::HostVolume => named(&self.host_volumes, request.target.as_deref(), host_volume_needs(access)),
        }
    }
}

fn named(table: &LabelTable, target: Option<&str>, wanted: Option<CapSet>) -> bool {
    match (target, wanted) {
        (Some(target), Some(wanted)) => {
            table.lookup(target).is_some_and(|capabilities| capabilities.grants_any(wanted))
        }
        _ => false,
    }
}

fn coarse(grant: Option<Grant>, access: &Access) -> bool {
    match access {
        Access::Level(Level::Read) => matches!(grant, Some(Grant::Read | Grant::Write)),
        Access::Level(Level::Write) => grant == Some(Grant::Write),
        Access::Level(Level::Deny | Level::List | Level::Scale) | Access::Capability(_) => false,
    }
}

fn plugin(grant: Option<Grant>, access: &Access) -> bool {
    match access {
        Access::Level(Level::List) => matches!(grant, Some(Grant::List | Grant::Read | Grant::Write)),
        Access::Level(Level::Read | Level::Write) => coarse(grant, access),
        Access::Level(Level::Deny | Level::Scale) | Access::Capability(_) => false,
    }
}

fn namespace_needs(access: &Access) -> Option<CapSet> {
    match access {
        Access::Level(Level::Read) => Some(READ_JOB),
        Access::Level(Level::List) => Some(LIST_JOBS),
        Access::Level(Level::Write) => Some(SUBMIT_JOB),
        Access::Level(Level::Scale) => Some(SCALE_JOB),
        Access::Level(Level::Deny) => None,
        Access::Capability(name) => Scope::Namespace.requestable(name),
    }
}

fn node_pool_needs(access: &Access) -> Option<CapSet> {
    match access {
        Access::Level(Level::Read) => Some(POOL_READ),
        Access::Level(Level::Write) => Some(POOL_WRITE),
        // Listing shows the pools a token may touch at all, as Nomad's
        // `AllowNodePool` decides.
        Access::Level(Level::List) => Some(POOL_ANY),
        Access::Level(Level::Deny | Level::Scale) => None,
        Access::Capability(name) => Scope::NodePool.requestable(name),
    }
}

fn host_volume_needs(access: &Access) -> Option<CapSet> {
    match access {
        Access::Level(Level::Read) => Some(MOUNT_READONLY),
        Access::Level(Level::Write) => Some(MOUNT_READWRITE),
        Access::Level(Level::Deny | Level::List | Level::Scale) => None,
        Access::Capability(name) => Scope::HostVolume.requestable(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AREAS: [Area; 8] = [
        Area::Agent,
        Area::Node,
        Area::Operator,
        Area::Quota,
        Area::Plugin,
        Area::NodePool,
        Area::HostVolume,
        Area::Namespace,
    ];
    const LEVELS: [Level; 5] = [Level::Deny, Level::Read, Level::List, Level::Write, Level::Scale];

    fn acl(documents: &[&str]) -> MergedAcl {
        let rules: Vec<Rules> = documents
            .iter()
            .map(|text| match Rules::parse(text) {
                Ok(rules) => rules,
                Err(error) => panic!("{text:?} should parse: {error}"),
            })
            .collect();
        MergedAcl::merge(&rules)
    }

    fn level(area: Area, level: Level, target: Option<&str>) -> Request {
        Request { target: target.map(str::to_owned), ..keel_sdk::testing::request(area, Access::Level(level)) }
    }

    fn capability(area: Area, name: &str, target: Option<&str>) -> Request {
        Request {
            target: target.map(str::to_owned),
            ..keel_sdk::testing::request(area, Access::Capability(name.to_owned()))
        }
    }

    /// Every level request on every area against `target`, allowed or not.
    fn granted_levels(acl: &MergedAcl, area: Area, target: Option<&str>) -> Vec<Level> {
        LEVELS.into_iter().filter(|l| acl.allows(&level(area, *l, target))).collect()
    }

    #[test]
    fn coarse_areas_grant_by_level() {
        for (area, name) in
            [(Area::Agent, "agent"), (Area::Node, "node"), (Area::Operator, "operator"), (Area::Quota, "quota")]
        {
            let read = acl(&[&format!("{name} {{ policy = \"read\" }}")]);
            let write = acl(&[&format!("{name} {{ policy = \"write\" }}")]);
            let deny = acl(&[&format!("{name} {{ policy = \"deny\" }}")]);
            assert_eq!(granted_levels(&read, area, None), [Level::Read], "{name} read");
            assert_eq!(granted_levels(&write, area, None), [Level::Read, Level::Write], "{name} write");
            assert_eq!(granted_levels(&deny, area, None), [], "{name} deny");
            assert!(!write.allows(&capability(area, "write", None)), "{name} takes no capabilities");
            assert!(!write.allows(&level(Area::Plugin, Level::Read, None)), "{name} grants nothing elsewhere");
        }
    }

    #[test]
    fn plugin_levels_nest_list_in_read_in_write() {
        let grants =
            |policy: &str| granted_levels(&acl(&[&format!("plugin {{ policy = \"{policy}\" }}")]), Area::Plugin, None);
        assert_eq!(grants("list"), [Level::List]);
        assert_eq!(grants("read"), [Level::Read, Level::List]);
        assert_eq!(grants("write"), [Level::Read, Level::List, Level::Write]);
        assert_eq!(grants("deny"), []);
    }

    #[test]
    fn namespace_levels_map_to_job_capabilities() {
        let read = acl(&[r#"namespace "default" { policy = "read" }"#]);
        assert_eq!(granted_levels(&read, Area::Namespace, None), [Level::Read, Level::List]);
        let write = acl(&[r#"namespace "default" { policy = "write" }"#]);
        assert_eq!(
            granted_levels(&write, Area::Namespace, None),
            [Level::Read, Level::List, Level::Write, Level::Scale]
        );
        let scale = acl(&[r#"namespace "default" { policy = "scale" }"#]);
        assert_eq!(granted_levels(&scale, Area::Namespace, None), [Level::Scale]);
        let listed = acl(&[r#"namespace "default" { capabilities = ["list-jobs", "submit-job"] }"#]);
        assert_eq!(granted_levels(&listed, Area::Namespace, None), [Level::List, Level::Write]);
    }

    #[test]
    fn namespace_capabilities_and_targets() {
        let acl = acl(&[r#"namespace "dev" { capabilities = ["alloc-exec", "read-logs"] }"#]);
        assert!(acl.allows(&capability(Area::Namespace, "alloc-exec", Some("dev"))));
        assert!(acl.allows(&capability(Area::Namespace, "read-logs", Some("dev"))));
        assert!(!acl.allows(&capability(Area::Namespace, "alloc-node-exec", Some("dev"))));
        assert!(!acl.allows(&capability(Area::Namespace, "alloc-exec", Some("prod"))));
        assert!(!acl.allows(&capability(Area::Namespace, "alloc-exec", None)), "no target means default");
        assert!(!acl.allows(&capability(Area::Namespace, "no-such-capability", Some("dev"))));
        assert!(!acl.allows(&capability(Area::Namespace, "deny", Some("dev"))));
    }

    #[test]
    fn a_missing_or_empty_namespace_is_the_default_one() {
        let acl = acl(&[r#"namespace "default" { policy = "read" }"#]);
        assert!(acl.allows(&level(Area::Namespace, Level::Read, None)));
        assert!(acl.allows(&level(Area::Namespace, Level::Read, Some(""))));
        assert!(acl.allows(&level(Area::Namespace, Level::Read, Some("default"))));
        assert!(!acl.allows(&level(Area::Namespace, Level::Read, Some("other"))));
    }

    #[test]
    fn the_all_namespaces_target_asks_whether_any_namespace_grants() {
        let acl = acl(&[r#"namespace "a" { policy = "deny" } namespace "b-*" { policy = "read" }"#]);
        assert!(acl.allows(&level(Area::Namespace, Level::List, Some("*"))));
        assert!(!acl.allows(&level(Area::Namespace, Level::Write, Some("*"))));
    }

    #[test]
    fn node_pools_grant_read_write_and_delete() {
        let acl = acl(&[r#"node_pool "gpu" { policy = "read" } node_pool "batch_*" { capabilities = ["delete"] }"#]);
        assert_eq!(granted_levels(&acl, Area::NodePool, Some("gpu")), [Level::Read, Level::List]);
        assert!(acl.allows(&capability(Area::NodePool, "read", Some("gpu"))));
        assert!(!acl.allows(&capability(Area::NodePool, "write", Some("gpu"))));
        assert!(acl.allows(&capability(Area::NodePool, "delete", Some("batch_x"))));
        assert_eq!(granted_levels(&acl, Area::NodePool, Some("batch_x")), [Level::List]);
        assert_eq!(granted_levels(&acl, Area::NodePool, None), []);
        let write = self::acl(&[r#"node_pool "*" { policy = "write" }"#]);
        assert_eq!(granted_levels(&write, Area::NodePool, Some("any")), [Level::Read, Level::List, Level::Write]);
        assert!(write.allows(&capability(Area::NodePool, "delete", Some("any"))));
    }

    #[test]
    fn host_volumes_grant_mounts() {
        let acl = acl(&[r#"host_volume "data-*" { policy = "read" } host_volume "scratch" { policy = "write" }"#]);
        assert_eq!(granted_levels(&acl, Area::HostVolume, Some("data-1")), [Level::Read]);
        assert_eq!(granted_levels(&acl, Area::HostVolume, Some("scratch")), [Level::Read, Level::Write]);
        assert!(acl.allows(&capability(Area::HostVolume, "mount-readonly", Some("data-1"))));
        assert!(!acl.allows(&capability(Area::HostVolume, "mount-readwrite", Some("data-1"))));
        assert!(acl.allows(&capability(Area::HostVolume, "mount-readwrite", Some("scratch"))));
        assert!(!acl.allows(&capability(Area::HostVolume, "mount-readwrite", None)));
        assert!(!acl.allows(&capability(Area::HostVolume, "mount-readonly", Some("logs"))));
    }

    #[test]
    fn deny_wins_when_policies_merge() {
        let merged = acl(&[
            r#"agent { policy = "write" } node { policy = "read" } operator { policy = "write" } quota { policy = "write" } plugin { policy = "write" }"#,
            r#"agent { policy = "deny" } node { policy = "deny" } operator { policy = "deny" } quota { policy = "deny" } plugin { policy = "deny" }"#,
        ]);
        for area in [Area::Agent, Area::Node, Area::Operator, Area::Quota, Area::Plugin] {
            assert_eq!(granted_levels(&merged, area, None), [], "{area:?}");
        }
        let named = acl(&[
            r#"namespace "prod" { policy = "write" } node_pool "gpu" { policy = "write" } host_volume "db" { policy = "write" }"#,
            r#"namespace "prod" { capabilities = ["deny"] } node_pool "gpu" { policy = "deny" } host_volume "db" { capabilities = ["deny"] }"#,
        ]);
        assert_eq!(granted_levels(&named, Area::Namespace, Some("prod")), []);
        assert!(!named.allows(&capability(Area::Namespace, "read-logs", Some("prod"))));
        assert_eq!(granted_levels(&named, Area::NodePool, Some("gpu")), []);
        assert_eq!(granted_levels(&named, Area::HostVolume, Some("db")), []);
    }

    #[test]
    fn deny_wins_whatever_the_order() {
        let deny_first = acl(&[r#"namespace "prod" { policy = "deny" }"#, r#"namespace "prod" { policy = "write" }"#]);
        let deny_last = acl(&[r#"namespace "prod" { policy = "write" }"#, r#"namespace "prod" { policy = "deny" }"#]);
        assert_eq!(deny_first, deny_last);
        assert!(!deny_first.allows(&level(Area::Namespace, Level::Read, Some("prod"))));
    }

    #[test]
    fn a_deny_on_a_glob_does_not_reach_an_exact_label() {
        let acl = acl(&[r#"namespace "*" { policy = "deny" }"#, r#"namespace "web" { policy = "read" }"#]);
        assert!(acl.allows(&level(Area::Namespace, Level::Read, Some("web"))));
        assert!(!acl.allows(&level(Area::Namespace, Level::Read, Some("db"))));
    }

    #[test]
    fn grants_of_one_label_are_unioned_and_coarse_grants_take_the_highest() {
        let acl = acl(&[
            r#"namespace "dev" { policy = "read" } agent { policy = "read" } plugin { policy = "list" }"#,
            r#"namespace "dev" { capabilities = ["submit-job"] } agent { policy = "write" } plugin { policy = "read" }"#,
        ]);
        assert_eq!(granted_levels(&acl, Area::Namespace, Some("dev")), [Level::Read, Level::List, Level::Write]);
        assert_eq!(granted_levels(&acl, Area::Agent, None), [Level::Read, Level::Write]);
        assert_eq!(granted_levels(&acl, Area::Plugin, None), [Level::Read, Level::List]);
    }

    #[test]
    fn the_closest_glob_decides() {
        let acl = acl(&[
            r#"namespace "*" { policy = "read" }"#,
            r#"namespace "prod-*" { policy = "write" }"#,
            r#"namespace "prod-secret-*" { policy = "deny" }"#,
            r#"namespace "prod-api" { policy = "scale" }"#,
        ]);
        assert_eq!(granted_levels(&acl, Area::Namespace, Some("dev")), [Level::Read, Level::List]);
        assert_eq!(
            granted_levels(&acl, Area::Namespace, Some("prod-web")),
            [Level::Read, Level::List, Level::Write, Level::Scale]
        );
        assert_eq!(granted_levels(&acl, Area::Namespace, Some("prod-secret-db")), []);
        assert_eq!(granted_levels(&acl, Area::Namespace, Some("prod-api")), [Level::Scale]);
    }

    #[test]
    fn an_empty_acl_allows_nothing() {
        let empty = MergedAcl::merge(&[]);
        let blank = acl(&["", "  \n"]);
        assert_eq!(empty, blank);
        let names =
            ["read", "write", "delete", "read-job", "submit-job", "mount-readonly", "mount-readwrite", "deny", ""];
        for area in AREAS {
            for target in [None, Some("default"), Some("*"), Some("")] {
                assert_eq!(granted_levels(&empty, area, target), [], "{area:?} {target:?}");
                for name in names {
                    assert!(!empty.allows(&capability(area, name, target)), "{area:?} {name} {target:?}");
                }
            }
        }
    }

    #[test]
    fn deny_requests_are_always_refused() {
        let acl = acl(&[r#"
            namespace "*" { policy = "write" } node_pool "*" { policy = "write" } host_volume "*" { policy = "write" }
            agent { policy = "write" } node { policy = "write" } operator { policy = "write" }
            quota { policy = "write" } plugin { policy = "write" }
        "#]);
        for area in AREAS {
            assert!(!acl.allows(&level(area, Level::Deny, Some("x"))), "{area:?}");
            assert!(acl.allows(&level(area, Level::Write, Some("x"))), "{area:?} write is granted");
        }
    }

    #[test]
    fn host_volume_rights_in_a_namespace_imply_the_weaker_ones() {
        let acl = acl(&[r#"namespace "ops" { capabilities = ["host-volume-register"] }"#]);
        for name in ["host-volume-register", "host-volume-create", "host-volume-read"] {
            assert!(acl.allows(&capability(Area::Namespace, name, Some("ops"))), "{name}");
        }
        assert!(!acl.allows(&capability(Area::Namespace, "host-volume-delete", Some("ops"))));
    }
}
