//! The right each route needs: the "ACL Required" column of the API
//! reference (and of Nomad's ACL endpoints), in one place. Handlers ask [`Backend::authorize`] for the
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

/// One method on one path, and the right it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub capability: Capability,
}

const fn route(method: &'static str, path: &'static str, capability: Capability) -> Route {
    Route { method, path, capability }
}

/// Every method and path the router serves, with the right it needs. An ACL
/// layer, documentation or a test can read the table; the router and the
/// handlers use the same constants.
pub const ROUTES: &[Route] = &[
    route("GET", "/v1/operator/raft/configuration", RAFT_CONFIGURATION_READ),
    route("DELETE", "/v1/operator/raft/peer", RAFT_PEER_REMOVE),
    route("GET", "/v1/operator/autopilot/configuration", AUTOPILOT_CONFIGURATION_READ),
    route("PUT", "/v1/operator/autopilot/configuration", AUTOPILOT_CONFIGURATION_WRITE),
    route("GET", "/v1/operator/autopilot/health", AUTOPILOT_HEALTH_READ),
    route("GET", "/v1/operator/scheduler/configuration", SCHEDULER_CONFIGURATION_READ),
    route("PUT", "/v1/operator/scheduler/configuration", SCHEDULER_CONFIGURATION_WRITE),
    route("POST", "/v1/operator/scheduler/configuration", SCHEDULER_CONFIGURATION_WRITE),
    route("GET", "/v1/operator/license", LICENSE_READ),
    route("PUT", "/v1/operator/license", LICENSE_WRITE),
    route("GET", "/v1/operator/snapshot", SNAPSHOT_SAVE),
    route("PUT", "/v1/operator/snapshot", SNAPSHOT_RESTORE),
    route("GET", "/v1/agent/members", AGENT_MEMBERS),
    route("GET", "/v1/agent/self", AGENT_SELF),
    route("GET", "/v1/agent/servers", AGENT_SERVERS_READ),
    route("PUT", "/v1/agent/servers", AGENT_SERVERS_WRITE),
    route("POST", "/v1/agent/servers", AGENT_SERVERS_WRITE),
    route("PUT", "/v1/agent/join", AGENT_JOIN),
    route("POST", "/v1/agent/join", AGENT_JOIN),
    route("PUT", "/v1/agent/force-leave", AGENT_FORCE_LEAVE),
    route("POST", "/v1/agent/force-leave", AGENT_FORCE_LEAVE),
    route("GET", "/v1/agent/health", AGENT_HEALTH),
    route("GET", "/v1/status/leader", STATUS_LEADER),
    route("GET", "/v1/status/peers", STATUS_PEERS),
    route("PUT", "/v1/acl/bootstrap", ACL_BOOTSTRAP),
    route("POST", "/v1/acl/bootstrap", ACL_BOOTSTRAP),
    route("GET", "/v1/acl/policies", ACL_POLICIES_LIST),
    route("GET", "/v1/acl/policy/{name}", ACL_POLICY_READ),
    route("PUT", "/v1/acl/policy/{name}", ACL_POLICY_WRITE),
    route("POST", "/v1/acl/policy/{name}", ACL_POLICY_WRITE),
    route("DELETE", "/v1/acl/policy/{name}", ACL_POLICY_WRITE),
    route("GET", "/v1/acl/tokens", ACL_TOKENS_LIST),
    route("PUT", "/v1/acl/token", ACL_TOKEN_WRITE),
    route("POST", "/v1/acl/token", ACL_TOKEN_WRITE),
    route("GET", "/v1/acl/token/self", ACL_TOKEN_SELF),
    route("GET", "/v1/acl/token/{accessor}", ACL_TOKEN_READ),
    route("PUT", "/v1/acl/token/{accessor}", ACL_TOKEN_WRITE),
    route("POST", "/v1/acl/token/{accessor}", ACL_TOKEN_WRITE),
    route("DELETE", "/v1/acl/token/{accessor}", ACL_TOKEN_WRITE),
];
