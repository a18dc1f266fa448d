//! Adapters for components of the frozen contract versions: the host
//! speaks the current version's types (`keel:plugin@0.3.0`), and each
//! facade turns them into an older version's on the way in and back on the
//! way out, field by field. `v0_1` and `v0_2` say what each version cannot
//! say and what the host makes of its silence.
//!
//! The scheduler of 0.1.0 and 0.2.0 keeps no node set: such a plugin is
//! given every node on every `place`, so its types are adapted here, once
//! for both versions.

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

impl<A: Adapt<B>, B, E: Adapt<F>, F> Adapt<Result<B, F>> for Result<A, E> {
    fn adapt(self) -> Result<B, F> {
        self.map(Adapt::adapt).map_err(Adapt::adapt)
    }
}

/// The scheduler types of a version whose `place` takes every node: the
/// same records as the current version's, adapted field by field.
macro_rules! stateless_scheduler {
    ($version:ident) => {
        mod $version {
            use super::Adapt;
            use crate::bindings::$version::scheduler::exports::keel::plugin::scheduler as old;
            use crate::bindings::v0_3::scheduler::exports::keel::plugin::scheduler as new;

            cases!(new::Algorithm, old::Algorithm { Binpack, Spread });
            cases!(new::JobType, old::JobType { Service, Batch, System, Sysbatch });
            cases!(new::NodeStatus, old::NodeStatus { Initializing, Ready, Down, Disconnected });
            record!(new::Config => old::Config {
                algorithm, preempt_system, preempt_sysbatch, preempt_batch, preempt_service,
                memory_oversubscription_enabled,
            });
            record!(new::Resources => old::Resources { cpu_mhz, memory_mb, disk_mb });
            record!(new::Constraint => old::Constraint { ltarget, operand, rtarget });
            record!(new::Allocation => old::Allocation {
                id, job_id, task_group, namespace, priority, job_type, resources,
            });
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
                nodes_evaluated, nodes_filtered, nodes_in_pool, nodes_available, constraint_filtered,
                nodes_exhausted, dimension_exhausted,
            });
        }
    };
}

mod scheduler {
    use super::Adapt;

    stateless_scheduler!(v0_1);
    stateless_scheduler!(v0_2);
}

/// The license types of a version whose license interface is the current
/// one's.
macro_rules! same_license {
    ($version:ident) => {
        mod license {
            use super::Adapt;
            use crate::bindings::$version::license::exports::keel::plugin::license as old;
            use crate::bindings::v0_3::license::exports::keel::plugin::license as new;

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
    };
}

/// The parts of an ACL question every version shares: areas, levels,
/// access and policies (`$old` and `$new` name the two versions' modules).
macro_rules! acl_questions {
    ($old:ident, $new:ident) => {
        cases!($new::Area, $old::Area { Agent, Node, Operator, Quota, Plugin, NodePool, HostVolume, Namespace });
        cases!($new::Level, $old::Level { Deny, Read, List, Write, Scale });
        record!($new::Policy => $old::Policy { name, rules });

        impl Adapt<$old::Access> for $new::Access {
            fn adapt(self) -> $old::Access {
                match self {
                    Self::Level(level) => $old::Access::Level(level.adapt()),
                    Self::Capability(capability) => $old::Access::Capability(capability),
                }
            }
        }
    };
}

/// The parts of an autopilot round every version shares: the cluster's
/// configuration and the health report (`$old` and `$new` name the two
/// versions' modules).
macro_rules! autopilot_rounds {
    ($old:ident, $new:ident) => {
        cases!($new::GossipStatus, $old::GossipStatus { None, Alive, Leaving, Left, Failed });
        cases!($new::Suffrage, $old::Suffrage { Voter, Nonvoter });
        record!($new::Config => $old::Config {
            cleanup_dead_servers, last_contact_threshold_ms, max_trailing_logs, min_quorum,
            server_stabilization_time_ms, enable_redundancy_zones, disable_upgrade_migration, enable_custom_upgrades,
        });
        record!($new::Cluster => $old::Cluster {
            config, servers, leader_id, leader_term, leader_last_index, licensed_features, now_ms, autopilot_started_ms,
        });
        record!($old::Decision => $new::Decision { health, actions });
        record!($old::Health => $new::Health {
            healthy, failure_tolerance, optimistic_failure_tolerance, leader, voters, read_replicas, servers,
            redundancy_zones, upgrade,
        });
        record!($old::Zone => $new::Zone { name, servers, voters, failure_tolerance });
        record!($old::Upgrade => $new::Upgrade {
            status, target_version, target_version_voters, target_version_non_voters, other_version_voters,
            other_version_non_voters,
        });
    };
}

mod current;
mod v0_1;
mod v0_2;
