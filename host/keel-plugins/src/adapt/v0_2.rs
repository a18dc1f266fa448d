//! The host's adapter for `keel:plugin@0.2.0` components. Its acl,
//! autopilot and license interfaces are those of 0.3.0, so their types are
//! copied field by field; its scheduler keeps no node set (see `mod.rs`).

use super::Adapt;
use crate::bindings::v0_2::{acl as acl_02, autopilot as autopilot_02};
use crate::bindings::v0_3::{acl as acl_03, autopilot as autopilot_03};

mod acl {
    use super::*;
    use acl_02::exports::keel::plugin::acl as old;
    use acl_03::exports::keel::plugin::acl as new;

    acl_questions!(old, new);
    record!(new::Request => old::Request { area, access, target, method, path, namespace, now_ms });
    record!(old::Verdict => new::Verdict { allow, valid_for_ms });
}

mod autopilot {
    use super::*;
    use autopilot_02::exports::keel::plugin::autopilot as old;
    use autopilot_03::exports::keel::plugin::autopilot as new;

    autopilot_rounds!(old, new);
    record!(new::Server => old::Server {
        id, name, address, gossip_status, version, suffrage, last_contact_ms, last_term, last_index,
        previous_healthy, stable_since_ms, read_replica, tags,
    });
    record!(old::ServerHealth => new::ServerHealth {
        id, name, address, gossip_status, version, leader, voter, healthy, last_contact_ms, last_term, last_index,
        stable_since_ms, reason,
    });
    record!(old::PlannedAction => new::PlannedAction { action, reason });

    impl Adapt<new::Action> for old::Action {
        fn adapt(self) -> new::Action {
            match self {
                Self::Promote(id) => new::Action::Promote(id),
                Self::Demote(id) => new::Action::Demote(id),
                Self::Remove(id) => new::Action::Remove(id),
                Self::TransferLeadership(id) => new::Action::TransferLeadership(id),
            }
        }
    }
}

same_license!(v0_2);
