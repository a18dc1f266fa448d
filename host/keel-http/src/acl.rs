//! The right each route needs (the "ACL Required" column of the API
//! reference and of Nomad's ACL endpoints) and which server answers it, in
//! one place. Handlers ask [`Backend::authorize`] for the
//! constant named here and nothing else, so an ACL implementation only has
//! to decide; it never needs to know paths.
//!
//! [`Backend::authorize`]: crate::Backend::authorize

use crate::Capability;

pub(crate) const RAFT_CONFIGURATION_READ: Capability = Capability::Management;
pub(crate) const RAFT_PEER_REMOVE: Capability = Capability::Management;
pub(crate) const AUTOPILOT_CONFIGURATION_READ: Capability = Capability::OperatorRead;
pub(crate) const AUTOPILOT_CONFIGURATION_WRITE: Capability = Capability::OperatorWrite;
pub(crate) const AUTOPILOT_HEALTH_READ: Capability = Capability::OperatorRead;
pub(crate) const SCHEDULER_CONFIGURATION_READ: Capability = Capability::OperatorRead;
pub(crate) const SCHEDULER_CONFIGURATION_WRITE: Capability = Capability::OperatorWrite;
pub(crate) const LICENSE_READ: Capability = Capability::OperatorRead;
pub(crate) const LICENSE_WRITE: Capability = Capability::OperatorWrite;
pub(crate) const SNAPSHOT_SAVE: Capability = Capability::Management;
pub(crate) const SNAPSHOT_RESTORE: Capability = Capability::Management;
pub(crate) const AGENT_MEMBERS: Capability = Capability::NodeRead;
pub(crate) const AGENT_SELF: Capability = Capability::AgentRead;
pub(crate) const AGENT_SERVERS_READ: Capability = Capability::AgentRead;
pub(crate) const AGENT_SERVERS_WRITE: Capability = Capability::AgentWrite;
pub(crate) const AGENT_JOIN: Capability = Capability::None;
pub(crate) const AGENT_FORCE_LEAVE: Capability = Capability::AgentWrite;
pub(crate) const AGENT_HEALTH: Capability = Capability::None;
pub(crate) const STATUS_LEADER: Capability = Capability::None;
pub(crate) const STATUS_PEERS: Capability = Capability::None;
pub(crate) const ACL_BOOTSTRAP: Capability = Capability::None;
pub(crate) const ACL_POLICIES_LIST: Capability = Capability::Authenticated;
pub(crate) const ACL_POLICY_READ: Capability = Capability::Authenticated;
pub(crate) const ACL_POLICY_WRITE: Capability = Capability::Management;
pub(crate) const ACL_TOKENS_LIST: Capability = Capability::Management;
pub(crate) const ACL_TOKEN_READ: Capability = Capability::Authenticated;
pub(crate) const ACL_TOKEN_WRITE: Capability = Capability::Management;
pub(crate) const ACL_TOKEN_SELF: Capability = Capability::Authenticated;

/// Which server answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The agent that receives the request, from its own knowledge (agent
    /// and status endpoints).
    Agent,
    /// The leader: a follower forwards writes, and reads unless `?stale`.
    Leader,
}

/// One method on one path, the right it needs and who answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub capability: Capability,
    pub scope: Scope,
}

const fn leader(method: &'static str, path: &'static str, capability: Capability) -> Route {
    Route { method, path, capability, scope: Scope::Leader }
}

const fn agent(method: &'static str, path: &'static str, capability: Capability) -> Route {
    Route { method, path, capability, scope: Scope::Agent }
}

/// The route serving `method` on `path`, if any. A `{name}` segment of a
/// route's path matches any one segment.
pub fn route_for(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|route| {
        route.method == method && {
            let mut pattern = route.path.split('/');
            let mut actual = path.split('/');
            loop {
                match (pattern.next(), actual.next()) {
                    (None, None) => break true,
                    (Some(p), Some(a)) if p == a || (p.starts_with('{') && !a.is_empty()) => {}
                    _ => break false,
                }
            }
        }
    })
}

/// Every method and path the router serves, with the right it needs and who
/// answers it. An ACL layer, the forwarding layer, documentation or a test
/// can read the table; the router and the handlers use the same constants.
pub const ROUTES: &[Route] = &[
    leader("GET", "/v1/operator/raft/configuration", RAFT_CONFIGURATION_READ),
    leader("DELETE", "/v1/operator/raft/peer", RAFT_PEER_REMOVE),
    leader("GET", "/v1/operator/autopilot/configuration", AUTOPILOT_CONFIGURATION_READ),
    leader("PUT", "/v1/operator/autopilot/configuration", AUTOPILOT_CONFIGURATION_WRITE),
    leader("GET", "/v1/operator/autopilot/health", AUTOPILOT_HEALTH_READ),
    leader("GET", "/v1/operator/scheduler/configuration", SCHEDULER_CONFIGURATION_READ),
    leader("PUT", "/v1/operator/scheduler/configuration", SCHEDULER_CONFIGURATION_WRITE),
    leader("POST", "/v1/operator/scheduler/configuration", SCHEDULER_CONFIGURATION_WRITE),
    leader("GET", "/v1/operator/license", LICENSE_READ),
    leader("PUT", "/v1/operator/license", LICENSE_WRITE),
    leader("GET", "/v1/operator/snapshot", SNAPSHOT_SAVE),
    leader("PUT", "/v1/operator/snapshot", SNAPSHOT_RESTORE),
    agent("GET", "/v1/agent/members", AGENT_MEMBERS),
    agent("GET", "/v1/agent/self", AGENT_SELF),
    agent("GET", "/v1/agent/servers", AGENT_SERVERS_READ),
    agent("PUT", "/v1/agent/servers", AGENT_SERVERS_WRITE),
    agent("POST", "/v1/agent/servers", AGENT_SERVERS_WRITE),
    agent("PUT", "/v1/agent/join", AGENT_JOIN),
    agent("POST", "/v1/agent/join", AGENT_JOIN),
    agent("PUT", "/v1/agent/force-leave", AGENT_FORCE_LEAVE),
    agent("POST", "/v1/agent/force-leave", AGENT_FORCE_LEAVE),
    agent("GET", "/v1/agent/health", AGENT_HEALTH),
    agent("GET", "/v1/status/leader", STATUS_LEADER),
    agent("GET", "/v1/status/peers", STATUS_PEERS),
    leader("PUT", "/v1/acl/bootstrap", ACL_BOOTSTRAP),
    leader("POST", "/v1/acl/bootstrap", ACL_BOOTSTRAP),
    leader("GET", "/v1/acl/policies", ACL_POLICIES_LIST),
    leader("GET", "/v1/acl/policy/{name}", ACL_POLICY_READ),
    leader("PUT", "/v1/acl/policy/{name}", ACL_POLICY_WRITE),
    leader("POST", "/v1/acl/policy/{name}", ACL_POLICY_WRITE),
    leader("DELETE", "/v1/acl/policy/{name}", ACL_POLICY_WRITE),
    leader("GET", "/v1/acl/tokens", ACL_TOKENS_LIST),
    leader("PUT", "/v1/acl/token", ACL_TOKEN_WRITE),
    leader("POST", "/v1/acl/token", ACL_TOKEN_WRITE),
    leader("GET", "/v1/acl/token/self", ACL_TOKEN_SELF),
    leader("GET", "/v1/acl/token/{accessor}", ACL_TOKEN_READ),
    leader("PUT", "/v1/acl/token/{accessor}", ACL_TOKEN_WRITE),
    leader("POST", "/v1/acl/token/{accessor}", ACL_TOKEN_WRITE),
    leader("DELETE", "/v1/acl/token/{accessor}", ACL_TOKEN_WRITE),
];
