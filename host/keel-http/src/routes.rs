//! The route table: every path the API serves and, for each method on it,
//! the right it needs (the "ACL Required" column of the API reference), the
//! server that answers it, the request checks that come before the right is
//! checked, and the handler. The router, the authorization layer
//! ([`crate::authorize`]) and the forwarding layer ([`crate::forward`]) are
//! all derived from [`table`], so a route cannot be served without a right,
//! or checked for one it is not served with.

use axum::http::{Method, StatusCode};
use axum::routing::{MethodFilter, MethodRouter, any, on};

use crate::request::Params;
use crate::{
    ApiError, Backend, Capability, RouterState, acl_endpoints, agent, client_fs, jobs, node, operator_autopilot,
    operator_license, operator_plugin, operator_raft, operator_scheduler, operator_snapshot, status, ui,
};

/// Which server answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The agent that receives the request, from its own knowledge (agent
    /// and status endpoints).
    Agent,
    /// The leader: a follower forwards writes, and reads unless `?stale`.
    Leader,
}

/// Which size bound a request body is read under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLimit {
    /// [`crate::Limits::body_max_bytes`].
    Json,
    /// [`crate::Limits::snapshot_max_bytes`].
    Snapshot,
}

/// The query checks a request passes before its right is checked, so that a
/// malformed request is a 400 whoever sends it, as in Nomad.
pub(crate) type Check = fn(&Params) -> Result<(), ApiError>;

/// One method on one path.
pub(crate) struct Endpoint<B> {
    pub method: Method,
    pub capability: Capability,
    pub scope: Scope,
    pub check: Check,
    pub body_limit: BodyLimit,
    handler: fn(MethodFilter) -> MethodRouter<RouterState<B>>,
}

/// What a path answers.
pub(crate) enum Answer<B> {
    /// The listed methods; any other is "Invalid method" with this status.
    Methods { wrong_method: StatusCode, endpoints: Vec<Endpoint<B>> },
    /// Every method alike, with no right needed: a path missing its last
    /// segment, which Nomad answers with a 400 naming what is missing.
    Any(fn() -> MethodRouter<RouterState<B>>),
}

/// One path pattern, as axum's router and `MatchedPath` spell it.
pub(crate) struct Route<B> {
    pub path: &'static str,
    pub answer: Answer<B>,
}

impl<B> Route<B> {
    /// The endpoint serving `method`, if this route serves it.
    pub(crate) fn endpoint(&self, method: &Method) -> Option<&Endpoint<B>> {
        match &self.answer {
            Answer::Methods { endpoints, .. } => endpoints.iter().find(|e| e.method == method),
            Answer::Any(_) => None,
        }
    }

    /// The method router for this path: its endpoints, and "Invalid method"
    /// for every other method.
    pub(crate) fn method_router(&self) -> MethodRouter<RouterState<B>>
    where
        B: Backend,
    {
        match &self.answer {
            Answer::Any(handler) => handler(),
            Answer::Methods { wrong_method, endpoints } => {
                endpoints.iter().fold(methods(*wrong_method), |router, e| {
                    let filter = MethodFilter::try_from(e.method.clone()).expect("table methods are standard methods");
                    router.merge((e.handler)(filter))
                })
            }
        }
    }
}

/// What the authorization and forwarding layers hold: the router's state
/// and the table they look requests up in.
pub(crate) type LayerState<B> = (RouterState<B>, std::sync::Arc<Vec<Route<B>>>);

/// The endpoint `method` reaches on the route whose pattern is `path`.
pub(crate) fn find<'t, B>(table: &'t [Route<B>], path: &str, method: &Method) -> Option<&'t Endpoint<B>> {
    table.iter().find(|route| route.path == path)?.endpoint(method)
}

/// A method router that answers every method not added to it, HEAD included,
/// with "Invalid method". axum would otherwise serve HEAD with the GET handler
/// and answer other methods with an empty 405; Nomad does neither.
fn methods<B: Backend>(wrong_method: StatusCode) -> MethodRouter<RouterState<B>> {
    let invalid = move || async move { ApiError::invalid_method(wrong_method) };
    MethodRouter::new().head(invalid).fallback(invalid)
}

fn no_check(_: &Params) -> Result<(), ApiError> {
    Ok(())
}

fn read_check(params: &Params) -> Result<(), ApiError> {
    params.read_options().map(drop)
}

fn cas_check(params: &Params) -> Result<(), ApiError> {
    params.cas().map(drop)
}

fn endpoint<B>(
    method: Method,
    scope: Scope,
    capability: Capability,
    check: Check,
    handler: fn(MethodFilter) -> MethodRouter<RouterState<B>>,
) -> Endpoint<B> {
    Endpoint { method, capability, scope, check, body_limit: BodyLimit::Json, handler }
}

fn methods_route<B>(path: &'static str, wrong_method: StatusCode, endpoints: Vec<Endpoint<B>>) -> Route<B> {
    Route { path, answer: Answer::Methods { wrong_method, endpoints } }
}

/// Every path the router serves; the only list of them.
pub(crate) fn table<B: Backend>() -> Vec<Route<B>> {
    let mut table = raft_table();
    table.extend(operator_table());
    table.extend(agent_table());
    table.extend(status_table());
    table.extend(acl_table());
    table.extend(plugin_table());
    table.extend(node_table());
    table.extend(job_table());
    table.extend(ui_table());
    table
}

/// Raft membership and autopilot, all answered by the leader.
fn raft_table<B: Backend>() -> Vec<Route<B>> {
    use Capability::{Management, OperatorRead, OperatorWrite};
    use Scope::Leader;
    let (allowed, found) = (StatusCode::METHOD_NOT_ALLOWED, StatusCode::NOT_FOUND);
    let (get, put, delete) = (Method::GET, Method::PUT, Method::DELETE);
    vec![
        methods_route(
            "/v1/operator/raft/configuration",
            allowed,
            vec![endpoint(get.clone(), Leader, Management, read_check, |m| on(m, operator_raft::configuration::<B>))],
        ),
        // Nomad answers a wrong method on this path and the two autopilot
        // paths with 404.
        methods_route(
            "/v1/operator/raft/peer",
            found,
            vec![endpoint(
                delete,
                Leader,
                Management,
                |p| operator_raft::peer_selector(p).map(drop),
                |m| on(m, operator_raft::remove_peer::<B>),
            )],
        ),
        methods_route(
            "/v1/operator/autopilot/configuration",
            found,
            vec![
                endpoint(get.clone(), Leader, OperatorRead, read_check, |m| {
                    on(m, operator_autopilot::configuration::<B>)
                }),
                endpoint(put.clone(), Leader, OperatorWrite, cas_check, |m| {
                    on(m, operator_autopilot::set_configuration::<B>)
                }),
            ],
        ),
        methods_route(
            "/v1/operator/autopilot/health",
            found,
            vec![endpoint(get.clone(), Leader, OperatorRead, read_check, |m| on(m, operator_autopilot::health::<B>))],
        ),
    ]
}

/// The scheduler configuration, the license and snapshots.
fn operator_table<B: Backend>() -> Vec<Route<B>> {
    use Capability::{Management, OperatorRead, OperatorWrite};
    use Scope::Leader;
    let allowed = StatusCode::METHOD_NOT_ALLOWED;
    let (get, put, post) = (Method::GET, Method::PUT, Method::POST);
    let mut snapshot_restore =
        endpoint(put.clone(), Leader, Management, no_check, |m| on(m, operator_snapshot::restore::<B>));
    snapshot_restore.body_limit = BodyLimit::Snapshot;
    vec![
        methods_route(
            "/v1/operator/scheduler/configuration",
            allowed,
            vec![
                endpoint(get.clone(), Leader, OperatorRead, read_check, |m| {
                    on(m, operator_scheduler::configuration::<B>)
                }),
                endpoint(put.clone(), Leader, OperatorWrite, cas_check, |m| {
                    on(m, operator_scheduler::set_configuration::<B>)
                }),
                endpoint(post, Leader, OperatorWrite, cas_check, |m| on(m, operator_scheduler::set_configuration::<B>)),
            ],
        ),
        methods_route(
            "/v1/operator/license",
            allowed,
            vec![
                endpoint(get.clone(), Leader, OperatorRead, read_check, |m| on(m, operator_license::license::<B>)),
                endpoint(
                    put,
                    Leader,
                    OperatorWrite,
                    |p| p.flag("force").map(drop),
                    |m| on(m, operator_license::set_license::<B>),
                ),
            ],
        ),
        methods_route(
            "/v1/operator/snapshot",
            allowed,
            vec![
                endpoint(get, Leader, Management, read_check, |m| on(m, operator_snapshot::save::<B>)),
                snapshot_restore,
            ],
        ),
    ]
}

/// The plugin registry: a management token for every registry route, as
/// for snapshots; the agent's own plugins with `agent:read`.
fn plugin_table<B: Backend>() -> Vec<Route<B>> {
    use Capability::Management;
    use Scope::Leader;
    let allowed = StatusCode::METHOD_NOT_ALLOWED;
    let (get, put, post, delete) = (Method::GET, Method::PUT, Method::POST, Method::DELETE);
    vec![
        methods_route(
            "/v1/operator/plugins",
            allowed,
            vec![endpoint(get.clone(), Leader, Management, read_check, |m| on(m, operator_plugin::list::<B>))],
        ),
        methods_route(
            "/v1/operator/plugin/{kind}",
            allowed,
            vec![
                endpoint(get.clone(), Leader, Management, read_check, |m| on(m, operator_plugin::status::<B>)),
                endpoint(put, Leader, Management, no_check, |m| on(m, operator_plugin::install::<B>)),
                endpoint(delete, Leader, Management, no_check, |m| on(m, operator_plugin::remove::<B>)),
            ],
        ),
        methods_route(
            "/v1/operator/plugin/{kind}/promote",
            allowed,
            vec![endpoint(post.clone(), Leader, Management, no_check, |m| on(m, operator_plugin::promote::<B>))],
        ),
        methods_route(
            "/v1/operator/plugin/{kind}/rollback",
            allowed,
            vec![endpoint(post, Leader, Management, no_check, |m| on(m, operator_plugin::rollback::<B>))],
        ),
        methods_route(
            "/v1/agent/plugins",
            allowed,
            vec![endpoint(get, Scope::Agent, Capability::AgentRead, no_check, |m| on(m, operator_plugin::agent::<B>))],
        ),
    ]
}

fn agent_table<B: Backend>() -> Vec<Route<B>> {
    use Capability::{AgentRead, AgentWrite, NodeRead};
    use Scope::Agent;
    let allowed = StatusCode::METHOD_NOT_ALLOWED;
    let (get, put, post) = (Method::GET, Method::PUT, Method::POST);
    let servers = |p: &Params| agent::server_addresses(p).map(drop);
    let join = |p: &Params| agent::join_addresses(p).map(drop);
    let force_leave = |p: &Params| agent::force_leave_options(p).map(drop);
    vec![
        methods_route(
            "/v1/agent/members",
            allowed,
            vec![endpoint(get.clone(), Agent, NodeRead, no_check, |m| on(m, agent::members::<B>))],
        ),
        methods_route(
            "/v1/agent/self",
            allowed,
            vec![endpoint(get.clone(), Agent, AgentRead, no_check, |m| on(m, agent::agent_self::<B>))],
        ),
        methods_route(
            "/v1/agent/servers",
            allowed,
            vec![
                endpoint(get.clone(), Agent, AgentRead, no_check, |m| on(m, agent::servers::<B>)),
                endpoint(put.clone(), Agent, AgentWrite, servers, |m| on(m, agent::set_servers::<B>)),
                endpoint(post.clone(), Agent, AgentWrite, servers, |m| on(m, agent::set_servers::<B>)),
            ],
        ),
        methods_route(
            "/v1/agent/join",
            allowed,
            vec![
                endpoint(put.clone(), Agent, Capability::None, join, |m| on(m, agent::join::<B>)),
                endpoint(post.clone(), Agent, Capability::None, join, |m| on(m, agent::join::<B>)),
            ],
        ),
        methods_route(
            "/v1/agent/force-leave",
            allowed,
            vec![
                endpoint(put, Agent, AgentWrite, force_leave, |m| on(m, agent::force_leave::<B>)),
                endpoint(post, Agent, AgentWrite, force_leave, |m| on(m, agent::force_leave::<B>)),
            ],
        ),
        methods_route(
            "/v1/agent/health",
            allowed,
            vec![endpoint(
                get,
                Agent,
                Capability::None,
                |p| agent::health_types(p).map(drop),
                |m| on(m, agent::health::<B>),
            )],
        ),
    ]
}

/// The client nodes, answered by the leader.
fn node_table<B: Backend>() -> Vec<Route<B>> {
    use Capability::{NodeRead, NodeWrite};
    use Scope::Leader;
    let allowed = StatusCode::METHOD_NOT_ALLOWED;
    let (get, put, post) = (Method::GET, Method::PUT, Method::POST);
    vec![
        methods_route(
            "/v1/nodes",
            allowed,
            vec![endpoint(get.clone(), Leader, NodeRead, read_check, |m| on(m, node::nodes::<B>))],
        ),
        Route { path: "/v1/node/", answer: Answer::Any(|| any(node::missing_node_id)) },
        methods_route(
            "/v1/node/{id}",
            allowed,
            vec![endpoint(get, Leader, NodeRead, read_check, |m| on(m, node::node::<B>))],
        ),
        methods_route(
            "/v1/node/{id}/eligibility",
            allowed,
            vec![
                endpoint(put.clone(), Leader, NodeWrite, no_check, |m| on(m, node::set_eligibility::<B>)),
                endpoint(post.clone(), Leader, NodeWrite, no_check, |m| on(m, node::set_eligibility::<B>)),
            ],
        ),
        methods_route(
            "/v1/node/{id}/drain",
            allowed,
            vec![
                endpoint(put.clone(), Leader, NodeWrite, no_check, |m| on(m, node::drain::<B>)),
                endpoint(post.clone(), Leader, NodeWrite, no_check, |m| on(m, node::drain::<B>)),
            ],
        ),
    ]
}

/// Jobs and what the scheduler made of them, answered by the leader.
fn job_table<B: Backend>() -> Vec<Route<B>> {
    use Capability::{ListJobs, ReadJob, SubmitJob};
    use Scope::Leader;
    let allowed = StatusCode::METHOD_NOT_ALLOWED;
    let (get, put, post, delete) = (Method::GET, Method::PUT, Method::POST, Method::DELETE);
    fn read<B: Backend>(path: &'static str, handler: fn(MethodFilter) -> MethodRouter<RouterState<B>>) -> Route<B> {
        let get = endpoint(Method::GET, Scope::Leader, Capability::ReadJob, read_check, handler);
        methods_route(path, StatusCode::METHOD_NOT_ALLOWED, vec![get])
    }
    vec![
        methods_route(
            "/v1/jobs",
            allowed,
            vec![
                endpoint(get.clone(), Leader, ListJobs, read_check, |m| on(m, jobs::list::<B>)),
                endpoint(put.clone(), Leader, SubmitJob, no_check, |m| on(m, jobs::register::<B>)),
                endpoint(post.clone(), Leader, SubmitJob, no_check, |m| on(m, jobs::register::<B>)),
            ],
        ),
        Route { path: "/v1/job/", answer: Answer::Any(|| any(jobs::missing_id)) },
        methods_route(
            "/v1/job/{id}",
            allowed,
            vec![
                endpoint(get.clone(), Leader, ReadJob, read_check, |m| on(m, jobs::read::<B>)),
                endpoint(put, Leader, SubmitJob, no_check, |m| on(m, jobs::update::<B>)),
                endpoint(post, Leader, SubmitJob, no_check, |m| on(m, jobs::update::<B>)),
                endpoint(delete, Leader, SubmitJob, no_check, |m| on(m, jobs::stop::<B>)),
            ],
        ),
        read::<B>("/v1/job/{id}/allocations", |m| on(m, jobs::allocations::<B>)),
        read::<B>("/v1/job/{id}/evaluations", |m| on(m, jobs::evaluations::<B>)),
        read::<B>("/v1/job/{id}/summary", |m| on(m, jobs::summary::<B>)),
        methods_route(
            "/v1/job/{id}/plan",
            allowed,
            vec![
                endpoint(Method::PUT, Leader, SubmitJob, no_check, |m| on(m, jobs::plan::<B>)),
                endpoint(Method::POST, Leader, SubmitJob, no_check, |m| on(m, jobs::plan::<B>)),
            ],
        ),
        read::<B>("/v1/evaluations", |m| on(m, jobs::all_evaluations::<B>)),
        Route { path: "/v1/evaluation/", answer: Answer::Any(|| any(jobs::missing_id)) },
        read::<B>("/v1/evaluation/{id}", |m| on(m, jobs::evaluation::<B>)),
        read::<B>("/v1/evaluation/{id}/allocations", |m| on(m, jobs::evaluation_allocations::<B>)),
        read::<B>("/v1/allocations", |m| on(m, jobs::all_allocations::<B>)),
        // Nomad also asks node:read; the namespace's read-job is what
        // guards the allocations shown.
        read::<B>("/v1/node/{id}/allocations", |m| on(m, jobs::node_allocations::<B>)),
        Route { path: "/v1/allocation/", answer: Answer::Any(|| any(jobs::missing_id)) },
        read::<B>("/v1/allocation/{id}", |m| on(m, jobs::allocation::<B>)),
        Route { path: "/v1/client/fs/logs/", answer: Answer::Any(|| any(jobs::missing_id)) },
        methods_route(
            "/v1/client/fs/logs/{id}",
            allowed,
            vec![endpoint(Method::GET, Scope::Agent, Capability::ReadLogs, client_fs::check, |m| {
                on(m, client_fs::logs::<B>)
            })],
        ),
    ]
}

/// The agent's metrics and the status endpoints, which need no right.
fn status_table<B: Backend>() -> Vec<Route<B>> {
    use Scope::Agent;
    let allowed = StatusCode::METHOD_NOT_ALLOWED;
    let get = Method::GET;
    vec![
        methods_route(
            "/v1/metrics",
            allowed,
            vec![endpoint(get.clone(), Agent, Capability::None, no_check, |m| on(m, agent::metrics::<B>))],
        ),
        methods_route(
            "/v1/status/leader",
            allowed,
            vec![endpoint(get.clone(), Agent, Capability::None, read_check, |m| on(m, status::leader::<B>))],
        ),
        methods_route(
            "/v1/status/peers",
            allowed,
            vec![endpoint(get, Agent, Capability::None, read_check, |m| on(m, status::peers::<B>))],
        ),
    ]
}

/// The status page and its files, which need no right: the page reads the
/// API with the user's token.
fn ui_table<B: Backend>() -> Vec<Route<B>> {
    fn page<B: Backend>(path: &'static str, handler: fn(MethodFilter) -> MethodRouter<RouterState<B>>) -> Route<B> {
        let get = endpoint(Method::GET, Scope::Agent, Capability::None, no_check, handler);
        methods_route(path, StatusCode::METHOD_NOT_ALLOWED, vec![get])
    }
    vec![
        page("/", |m| on(m, ui::to_page)),
        page("/ui", |m| on(m, ui::to_page)),
        page("/ui/", |m| on(m, ui::index)),
        page("/ui/{*file}", |m| on(m, ui::file)),
    ]
}

fn acl_table<B: Backend>() -> Vec<Route<B>> {
    use Capability::{Authenticated, Management};
    use Scope::Leader;
    let allowed = StatusCode::METHOD_NOT_ALLOWED;
    let (get, put, post, delete) = (Method::GET, Method::PUT, Method::POST, Method::DELETE);
    vec![
        methods_route(
            "/v1/acl/bootstrap",
            allowed,
            vec![
                endpoint(put.clone(), Leader, Capability::None, no_check, |m| on(m, acl_endpoints::bootstrap::<B>)),
                endpoint(post.clone(), Leader, Capability::None, no_check, |m| on(m, acl_endpoints::bootstrap::<B>)),
            ],
        ),
        methods_route(
            "/v1/acl/policies",
            allowed,
            vec![endpoint(get.clone(), Leader, Authenticated, read_check, |m| on(m, acl_endpoints::policies::<B>))],
        ),
        Route { path: "/v1/acl/policy/", answer: Answer::Any(|| any(acl_endpoints::missing_policy_name)) },
        methods_route(
            "/v1/acl/policy/{name}",
            allowed,
            vec![
                endpoint(get.clone(), Leader, Authenticated, read_check, |m| on(m, acl_endpoints::policy::<B>)),
                endpoint(put.clone(), Leader, Management, no_check, |m| on(m, acl_endpoints::set_policy::<B>)),
                endpoint(post.clone(), Leader, Management, no_check, |m| on(m, acl_endpoints::set_policy::<B>)),
                endpoint(delete.clone(), Leader, Management, no_check, |m| on(m, acl_endpoints::delete_policy::<B>)),
            ],
        ),
        methods_route(
            "/v1/acl/tokens",
            allowed,
            vec![endpoint(get.clone(), Leader, Management, read_check, |m| on(m, acl_endpoints::tokens::<B>))],
        ),
        methods_route(
            "/v1/acl/token",
            allowed,
            vec![
                endpoint(put.clone(), Leader, Management, no_check, |m| on(m, acl_endpoints::create_token::<B>)),
                endpoint(post.clone(), Leader, Management, no_check, |m| on(m, acl_endpoints::create_token::<B>)),
            ],
        ),
        Route { path: "/v1/acl/token/", answer: Answer::Any(|| any(acl_endpoints::missing_token_accessor)) },
        methods_route(
            "/v1/acl/token/self",
            allowed,
            vec![endpoint(get.clone(), Leader, Authenticated, read_check, |m| on(m, acl_endpoints::token_self::<B>))],
        ),
        methods_route(
            "/v1/acl/token/{accessor}",
            allowed,
            vec![
                endpoint(get, Leader, Authenticated, read_check, |m| on(m, acl_endpoints::token::<B>)),
                endpoint(put, Leader, Management, no_check, |m| on(m, acl_endpoints::update_token::<B>)),
                endpoint(post, Leader, Management, no_check, |m| on(m, acl_endpoints::update_token::<B>)),
                endpoint(delete, Leader, Management, no_check, |m| on(m, acl_endpoints::delete_token::<B>)),
            ],
        ),
    ]
}
