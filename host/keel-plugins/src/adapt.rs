//! The host's adapter for `keel:plugin@0.1.0` components: the host speaks
//! 0.2.0's types, and each facade turns them into 0.1.0's on the way in
//! and back on the way out. What 0.1.0 cannot say gets the meaning 0.2.0
//! gives to saying nothing:
//!
//! - acl: the request's method, path, namespace and time are not passed;
//!   the answer is a verdict with no lifetime (it holds until the token or
//!   its policies change, which is what the 0.1.0 host assumed);
//! - autopilot: `read-replica` travels as the `read_replica = "true"` tag
//!   0.1.0 read it from; a health record gets the reason `healthy` or
//!   `unhealthy`, and an action keeps the reason of its tuple;
//! - scheduler and license: the types are the same in both versions.

use crate::bindings::v0_1::scheduler as scheduler_01;
use crate::bindings::v0_1::{acl as acl_01, autopilot as autopilot_01, license as license_01};
use crate::bindings::v0_2::scheduler as scheduler_02;
use crate::bindings::v0_2::{acl as acl_02, autopilot as autopilot_02, license as license_02};

/// The tag a 0.1.0 autopilot plugin reads read replicas from.
pub(crate) const READ_REPLICA_TAG: &str = "read_replica";

/// A value of one contract version's type, as the same value of another's.
pub(crate) trait Adapt<T> {
    fn adapt(self) -> T;
}

macro_rules! same {
    ($($ty:ty),*) => {$(
        impl Adapt<$ty> for $ty {
            fn adapt(self) -> $ty {
                self
            }
        }
    )*};
}

same!(bool, u32, u64, f64, String);

impl<A: Adapt<B>, B> Adapt<Vec<B>> for Vec<A> {
    fn adapt(self) -> Vec<B> {
        self.into_iter().map(Adapt::adapt).collect()
    }
}

impl<A: Adapt<B>, B> Adapt<Option<B>> for Option<A> {
    fn adapt(self) -> Option<B> {
        self.map(Adapt::adapt)
    }
}

impl<A: Adapt<B>, B, C: Adapt<D>, D> Adapt<(B, D)> for (A, C) {
    fn adapt(self) -> (B, D) {
        (self.0.adapt(), self.1.adapt())
    }
}

/// A record with the same fields in both versions, adapted field by field.
macro_rules! record {
    ($from:ty => $to:path { $($field:ident),* $(,)? }) => {
        impl Adapt<$to> for $from {
            fn adapt(self) -> $to {
                $to { $($field: self.$field.adapt()),* }
            }
        }
    };
}

/// An enum with the same cases in both versions, adapted either way.
macro_rules! cases {
    ($a:ty, $b:ty { $($case:ident),* $(,)? }) => {
        impl Adapt<$b> for $a {
            fn adapt(self) -> $b {
                match self { $(Self::$case => <$b>::$case),* }
            }
        }
        impl Adapt<$a> for $b {
            fn adapt(self) -> $a {
                match self { $(Self::$case => <$a>::$case),* }
            }
        }
    };
}

mod acl {
    use super::*;
    use acl_01::exports::keel::plugin::acl as old;
    use acl_02::exports::keel::plugin::acl as new;

    cases!(new::Area, old::Area { Agent, Node, Operator, Quota, Plugin, NodePool, HostVolume, Namespace });
    cases!(new::Level, old::Level { Deny, Read, List, Write, Scale });
    record!(new::Policy => old::Policy { name, rules });

    impl Adapt<old::Access> for new::Access {
        fn adapt(self) -> old::Access {
            match self {
                Self::Level(level) => old::Access::Level(level.adapt()),
                Self::Capability(capability) => old::Access::Capability(capability),
            }
        }
    }

    impl Adapt<old::Request> for new::Request {
        fn adapt(self) -> old::Request {
            old::Request { area: self.area.adapt(), access: self.access.adapt(), target: self.target }
        }
    }

    impl Adapt<new::Verdict> for bool {
        fn adapt(self) -> new::Verdict {
            new::Verdict { allow: self, valid_for_ms: None }
        }
    }
}

mod autopilot {
    use super::*;
    use autopilot_01::exports::keel::plugin::autopilot as old;
    use autopilot_02::exports::keel::plugin::autopilot as new;

    cases!(new::GossipStatus, old::GossipStatus { None, Alive, Leaving, Left, Failed });
    cases!(new::Suffrage, old::Suffrage { Voter, Nonvoter });
    record!(new::Config => old::Config {
        cleanup_dead_servers, last_contact_threshold_ms, max_trailing_logs, min_quorum,
        server_stabilization_time_ms, enable_redundancy_zones, disable_upgrade_migration, enable_custom_upgrades,
    });
    record!(new::Cluster => old::Cluster {
        config, servers, leader_id, leader_term, leader_last_index, licensed_features, now_ms, autopilot_started_ms,
    });
    record!(old::Decision => new::Decision { health, actions });
    record!(old::Health => new::Health {
        healthy, failure_tolerance, optimistic_failure_tolerance, leader, voters, read_replicas, servers,
        redundancy_zones, upgrade,
    });
    record!(old::Zone => new::Zone { name, servers, voters, failure_tolerance });
    record!(old::Upgrade => new::Upgrade {
        status, target_version, target_version_voters, target_version_non_voters, other_version_voters,
        other_version_non_voters,
    });

    impl Adapt<old::Server> for new::Server {
        fn adapt(self) -> old::Server {
            let mut tags = self.tags;
            if self.read_replica {
                tags.push((READ_REPLICA_TAG.to_owned(), "true".to_owned()));
            }
            old::Server {
                id: self.id,
                name: self.name,
                address: self.address,
                gossip_status: self.gossip_status.adapt(),
                version: self.version,
                suffrage: self.suffrage.adapt(),
                last_contact_ms: self.last_contact_ms,
                last_term: self.last_term,
                last_index: self.last_index,
                previous_healthy: self.previous_healthy,
                stable_since_ms: self.stable_since_ms,
                tags,
            }
        }
    }

    impl Adapt<new::ServerHealth> for old::ServerHealth {
        fn adapt(self) -> new::ServerHealth {
            let reason = if self.healthy { "healthy" } else { "unhealthy" };
            new::ServerHealth {
                id: self.id,
                name: self.name,
                address: self.address,
                gossip_status: self.gossip_status.adapt(),
                version: self.version,
                leader: self.leader,
                voter: self.voter,
                healthy: self.healthy,
                last_contact_ms: self.last_contact_ms,
                last_term: self.last_term,
                last_index: self.last_index,
                stable_since_ms: self.stable_since_ms,
                reason: reason.to_owned(),
            }
        }
    }

    impl Adapt<new::PlannedAction> for (old::Action, String) {
        fn adapt(self) -> new::PlannedAction {
            let action = match self.0 {
                old::Action::Promote(id) => new::Action::Promote(id),
                old::Action::Demote(id) => new::Action::Demote(id),
                old::Action::Remove(id) => new::Action::Remove(id),
                old::Action::TransferLeadership(id) => new::Action::TransferLeadership(id),
            };
            new::PlannedAction { action, reason: self.1 }
        }
    }
}

mod scheduler {
    use super::*;
    use scheduler_01::exports::keel::plugin::scheduler as old;
    use scheduler_02::exports::keel::plugin::scheduler as new;

    cases!(new::Algorithm, old::Algorithm { Binpack, Spread });
    cases!(new::JobType, old::JobType { Service, Batch, System, Sysbatch });
    cases!(new::NodeStatus, old::NodeStatus { Initializing, Ready, Down, Disconnected });
    record!(new::Config => old::Config {
        algorithm, preempt_system, preempt_sysbatch, preempt_batch, preempt_service, memory_oversubscription_enabled,
    });
    record!(new::Resources => old::Resources { cpu_mhz, memory_mb, disk_mb });
    record!(new::Constraint => old::Constraint { ltarget, operand, rtarget });
    record!(new::Allocation => old::Allocation { id, job_id, task_group, namespace, priority, job_type, resources });
    record!(new::Node => old::Node {
        id, name, datacenter, node_pool, node_class, status, eligible, attributes, meta, capacity, reserved,
        allocations,
    });
    record!(new::TaskGroup => old::TaskGroup {
        namespace, job_id, name, job_type, priority, count, resources, datacenters, node_pool, constraints,
    });
    record!(old::Plan => new::Plan { placements, failed, failure });
    record!(old::Placement => new::Placement { node_id, score, preempted });
    record!(old::Failure => new::Failure {
        nodes_evaluated, nodes_filtered, nodes_in_pool, nodes_available, constraint_filtered, nodes_exhausted,
        dimension_exhausted,
    });
}

mod license {
    use super::*;
    use license_01::exports::keel::plugin::license as old;
    use license_02::exports::keel::plugin::license as new;

    record!(old::License => new::License {
        license_id, customer_id, installation_id, issue_time_ms, start_time_ms, expiration_time_ms,
        termination_time_ms, non_production, product, flags, modules, features,
    });

    impl Adapt<new::LicenseError> for old::LicenseError {
        fn adapt(self) -> new::LicenseError {
            match self {
                Self::Malformed(why) => new::LicenseError::Malformed(why),
                Self::BadSignature => new::LicenseError::BadSignature,
                Self::WrongProduct(license) => new::LicenseError::WrongProduct(license.adapt()),
                Self::NotYetValid(license) => new::LicenseError::NotYetValid(license.adapt()),
                Self::Expired(license) => new::LicenseError::Expired(license.adapt()),
                Self::Terminated(license) => new::LicenseError::Terminated(license.adapt()),
            }
        }
    }
}

impl<A: Adapt<B>, B, E: Adapt<F>, F> Adapt<Result<B, F>> for Result<A, E> {
    fn adapt(self) -> Result<B, F> {
        self.map(Adapt::adapt).map_err(Adapt::adapt)
    }
}
