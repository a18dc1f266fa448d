//! The host's adapter for `keel:plugin@0.1.0` components. What 0.1.0
//! cannot say gets the meaning 0.3.0 gives to saying nothing:
//!
//! - acl: the request's method, path, namespace and time are not passed;
//!   the answer is a verdict with no lifetime (it holds until the token or
//!   its policies change, which is what the 0.1.0 host assumed);
//! - autopilot: `read-replica` travels as the `read_replica = "true"` tag
//!   0.1.0 read it from; a health record gets the reason `healthy` or
//!   `unhealthy`, and an action keeps the reason of its tuple;
//! - scheduler: every node is passed to every `place` (see `mod.rs`);
//! - license: the types are the same.

use super::{Adapt, READ_REPLICA_TAG};
use crate::bindings::v0_1::{acl as acl_01, autopilot as autopilot_01};
use crate::bindings::v0_3::{acl as acl_03, autopilot as autopilot_03};

mod acl {
    use super::*;
    use acl_01::exports::keel::plugin::acl as old;
    use acl_03::exports::keel::plugin::acl as new;

    acl_questions!(old, new);

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
    use autopilot_03::exports::keel::plugin::autopilot as new;

    autopilot_rounds!(old, new);

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

same_license!(v0_1);
