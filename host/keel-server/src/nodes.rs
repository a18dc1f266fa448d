//! Client nodes on the servers: the node calls client agents make over the
//! RPC port (register, heartbeat, their allocations and how they run), and the leader's heartbeat tracker,
//! which marks a node `down` when its heartbeats stop.
//!
//! As in Nomad, the leader gives each node a TTL scaled with the node count
//! (50 heartbeats a second, at least 10 s) and waits a grace period of 10 s
//! beyond it; a new leader gives every node a fresh TTL, since the old
//! leader's timers died with its leadership.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use keel_api::job::{AllocUpdates, Allocation, PlacedAlloc, PlacedAllocs, client_status};
use keel_api::node::{Node, eligibility, status};
use keel_cluster::{NodeAnswer, NodeCall, NodeEndpoint, NodeError, Server};
use keel_state::Command;

use crate::Service;

/// The shortest TTL a node is given.
const MIN_HEARTBEAT_TTL: Duration = Duration::from_secs(10);
/// How many heartbeats a second the leader plans for.
const MAX_HEARTBEATS_PER_SECOND: u64 = 50;
/// How long past its TTL a node may stay silent before it is down.
const HEARTBEAT_GRACE: Duration = Duration::from_secs(10);
/// How often the leader looks for nodes past their deadline.
const TRACKER_TICK: Duration = Duration::from_secs(1);
/// The longest a client's allocations call waits for a change.
const MAX_ALLOCATIONS_WAIT: Duration = Duration::from_secs(5);
/// The longest id or secret a node may register with.
const MAX_ID_BYTES: usize = 128;

/// The TTL for a cluster of `nodes` nodes.
fn heartbeat_ttl(nodes: usize) -> Duration {
    MIN_HEARTBEAT_TTL.max(Duration::from_secs(nodes as u64 / MAX_HEARTBEATS_PER_SECOND))
}

/// When each node must next be heard from; kept on the leader only.
#[derive(Debug, Default)]
pub(crate) struct Heartbeats {
    deadlines: Mutex<HashMap<String, Instant>>,
}

impl Heartbeats {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.deadlines.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn arm(&self, id: &str, ttl: Duration) {
        self.lock().insert(id.to_owned(), Instant::now() + ttl + HEARTBEAT_GRACE);
    }

    /// The nodes past their deadline, forgotten here.
    fn expired(&self) -> Vec<String> {
        let now = Instant::now();
        let mut deadlines = self.lock();
        let expired: Vec<String> =
            deadlines.iter().filter(|(_, deadline)| **deadline <= now).map(|(id, _)| id.clone()).collect();
        for id in &expired {
            deadlines.remove(id);
        }
        expired
    }

    fn clear(&self) {
        self.lock().clear();
    }
}

/// Serves node calls for the RPC port: on the leader itself, relayed to it
/// from any other server.
struct NodeRpc(Arc<Service>);

impl NodeEndpoint for NodeRpc {
    fn call(&self, call: NodeCall) -> Pin<Box<dyn Future<Output = Result<NodeAnswer, NodeError>> + Send>> {
        let service = Arc::clone(&self.0);
        Box::pin(async move { service.node_call(call).await })
    }
}

impl Service {
    /// On a server: serves client agents' node calls on its RPC port, and
    /// starts the duties that act while the server leads: the heartbeat
    /// tracker and the scheduling loop.
    pub fn serve_nodes_and_jobs(self: Arc<Self>, server: &Server) -> [tokio::task::JoinHandle<()>; 2] {
        server.set_node_endpoint(Arc::new(NodeRpc(Arc::clone(&self))));
        [tokio::spawn(Arc::clone(&self).track_node_heartbeats()), self.serve_scheduling()]
    }

    async fn node_call(&self, call: NodeCall) -> Result<NodeAnswer, NodeError> {
        let server = self.server().map_err(|_| NodeError::Unavailable("this agent runs no server".to_owned()))?;
        if !server.is_leader() {
            return server.relay_node_call(call).await;
        }
        let mut answer = NodeAnswer::default();
        let id = match call {
            NodeCall::Register { node_json } => self.register_node(&node_json).await?,
            NodeCall::Heartbeat { id, secret } => self.node_heartbeat(server, id, &secret).await?,
            NodeCall::Allocations { id, secret, index, wait_ms } => {
                known_node(server, &id, &secret)?;
                let wait = Duration::from_millis(wait_ms).min(MAX_ALLOCATIONS_WAIT);
                (answer.allocs_json, answer.index) =
                    server.view().block(index, wait, |state| allocs_of(state, &id)).await;
                id
            }
            NodeCall::UpdateAllocs { id, secret, updates_json } => {
                known_node(server, &id, &secret)?;
                self.update_allocs(server, &id, &updates_json).await?;
                id
            }
        };
        let ttl = heartbeat_ttl(server.view().read(|state| state.nodes.len()));
        self.heartbeats.arm(&id, ttl);
        let (peers, _) = server.configuration();
        answer.servers = peers.into_iter().map(|peer| peer.node.address).collect();
        answer.heartbeat_ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        Ok(answer)
    }

    /// Writes what a client reports of its allocations, with an evaluation
    /// for each job with an allocation that failed, to replace it.
    async fn update_allocs(&self, server: &Server, node_id: &str, updates_json: &str) -> Result<(), NodeError> {
        let AllocUpdates { updates } = keel_api::json::from_slice(updates_json.as_bytes())
            .map_err(|error| NodeError::Refused(format!("malformed allocation updates: {error}")))?;
        let now = self.now_ns();
        let evals = server.view().read(|state| {
            let scheduling = &state.scheduling;
            let failed = updates.iter().filter(|update| update.client_status == client_status::FAILED);
            let jobs: BTreeSet<String> = failed
                .filter_map(|update| scheduling.allocs.get(&update.id))
                .filter(|alloc| alloc.node_id == node_id && alloc.is_live())
                .map(|alloc| keel_api::job::job_key(&alloc.namespace, &alloc.job_id))
                .collect();
            jobs.iter()
                .filter_map(|key| scheduling.jobs.get(key))
                .map(|job| crate::scheduling::new_eval(job, "alloc-failure", now))
                .collect::<Vec<_>>()
        });
        let wake = !evals.is_empty();
        let command = Command::UpdateAllocsFromClient { node_id: node_id.to_owned(), updates, evals };
        self.write(command).await.map_err(unavailable)?;
        if wake {
            self.scheduling.wake();
        }
        Ok(())
    }

    /// Writes a registration: the node is `ready` from now.
    async fn register_node(&self, node_json: &str) -> Result<String, NodeError> {
        let node: Node = keel_api::json::from_slice(node_json.as_bytes())
            .map_err(|error| NodeError::Refused(format!("malformed node registration: {error}")))?;
        check_identity(&node)?;
        let id = node.id.clone();
        let node = Node {
            status: status::READY.to_owned(),
            status_description: "registered".to_owned(),
            status_updated_at: self.now_s(),
            scheduling_eligibility: eligibility::ELIGIBLE.to_owned(),
            drain: false,
            ..node
        };
        let applied = self.write(Command::RegisterNode { node: Box::new(node) }).await.map_err(unavailable)?;
        if !applied.outcome.updated() {
            return Err(NodeError::Refused(format!("node {id} is registered with another secret")));
        }
        tracing::info!(node = %id, "node registered");
        Ok(id)
    }

    /// Checks a heartbeat's secret, and marks a node that was not `ready`
    /// ready again.
    async fn node_heartbeat(&self, server: &Server, id: String, secret: &str) -> Result<String, NodeError> {
        let node = known_node(server, &id, secret)?;
        if node.status != status::READY {
            let command = Command::SetNodeStatus {
                id: id.clone(),
                status: status::READY.to_owned(),
                description: "heartbeats resumed".to_owned(),
                at: self.now_s(),
            };
            self.write(command).await.map_err(unavailable)?;
            tracing::info!(node = %id, "node ready again");
        }
        Ok(id)
    }

    /// The leader's duty: every node that misses its deadline is marked
    /// `down`. Runs for the life of the agent; acts only while this server
    /// leads.
    async fn track_node_heartbeats(self: Arc<Self>) {
        let Ok(server) = self.server() else { return };
        let mut leading = false;
        let mut tick = tokio::time::interval(TRACKER_TICK);
        loop {
            tick.tick().await;
            if !server.is_leader() {
                if leading {
                    self.heartbeats.clear();
                }
                leading = false;
                continue;
            }
            if !leading {
                leading = true;
                self.arm_every_live_node(server);
            }
            for id in self.heartbeats.expired() {
                let command = Command::SetNodeStatus {
                    id: id.clone(),
                    status: status::DOWN.to_owned(),
                    description: "node heartbeat missed".to_owned(),
                    at: self.now_s(),
                };
                match self.write(command).await {
                    Ok(_) => tracing::warn!(node = %id, "node missed its heartbeats: down"),
                    Err(error) => tracing::warn!(node = %id, "could not mark the node down: {}", error.message),
                }
            }
        }
    }

    /// A new leader's fresh TTL for every node that is not down.
    fn arm_every_live_node(&self, server: &Server) {
        let (ids, count) = server.view().read(|state| {
            let live = state.nodes.values().filter(|node| node.status != status::DOWN);
            (live.map(|node| node.id.clone()).collect::<Vec<_>>(), state.nodes.len())
        });
        let ttl = heartbeat_ttl(count);
        for id in ids {
            self.heartbeats.arm(&id, ttl);
        }
    }

    fn now_s(&self) -> i64 {
        i64::try_from(self.now_ms() / 1_000).unwrap_or(i64::MAX)
    }
}

/// The registered node with this id, if `secret` is its secret.
fn known_node(server: &Server, id: &str, secret: &str) -> Result<Node, NodeError> {
    let Some(node) = server.view().read(|state| state.nodes.get(id).cloned()) else {
        return Err(NodeError::UnknownNode);
    };
    if node.secret_id != secret {
        return Err(NodeError::Refused(format!("node {id}: the secret does not match its registration")));
    }
    Ok(node)
}

/// What a client is sent of its node's allocations: each with its job, as
/// JSON, and the highest index among them.
fn allocs_of(state: &keel_state::State, node_id: &str) -> (String, u64) {
    let scheduling = &state.scheduling;
    let mine: Vec<&Allocation> = scheduling.allocs.values().filter(|alloc| alloc.node_id == node_id).collect();
    let index = mine.iter().map(|alloc| alloc.modify_index).max().unwrap_or(0);
    let allocs: Vec<PlacedAlloc> = mine
        .into_iter()
        .map(|alloc| {
            let job = scheduling.jobs.get(&keel_api::job::job_key(&alloc.namespace, &alloc.job_id)).cloned();
            PlacedAlloc { alloc: alloc.clone(), job }
        })
        .collect();
    let json =
        serde_json::to_string(&PlacedAllocs { allocs }).expect("allocations are plain data and always serialize");
    // Never 0, which would answer at once: a node without allocations waits.
    (json, index.max(1))
}

/// A node's id, secret and name must be there, and not absurdly long.
fn check_identity(node: &Node) -> Result<(), NodeError> {
    for (field, value) in [("ID", &node.id), ("SecretID", &node.secret_id), ("Name", &node.name)] {
        if value.is_empty() {
            return Err(NodeError::Refused(format!("node registration without {field}")));
        }
        if value.len() > MAX_ID_BYTES {
            return Err(NodeError::Refused(format!("node {field} longer than {MAX_ID_BYTES} bytes")));
        }
    }
    Ok(())
}

fn unavailable(error: keel_http::ApiError) -> NodeError {
    NodeError::Unavailable(error.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ttl_scales_with_the_node_count_from_ten_seconds() {
        assert_eq!(heartbeat_ttl(0), Duration::from_secs(10));
        assert_eq!(heartbeat_ttl(500), Duration::from_secs(10));
        assert_eq!(heartbeat_ttl(1_000), Duration::from_secs(20));
    }

    #[test]
    fn a_node_expires_once_past_its_deadline_and_grace() {
        let heartbeats = Heartbeats::default();
        heartbeats.arm("a", Duration::ZERO);
        assert!(heartbeats.expired().is_empty(), "the grace period still runs");
        heartbeats.lock().insert("a".into(), Instant::now());
        assert_eq!(heartbeats.expired(), ["a"]);
        assert!(heartbeats.expired().is_empty(), "reported once");
    }

    #[test]
    fn a_registration_needs_an_id_a_secret_and_a_name() {
        let node = Node { id: "a".into(), secret_id: "s".into(), name: "n".into(), ..Node::default() };
        assert!(check_identity(&node).is_ok());
        let nameless = Node { name: String::new(), ..node.clone() };
        assert_eq!(check_identity(&nameless), Err(NodeError::Refused("node registration without Name".into())));
        let long = Node { id: "x".repeat(129), ..node };
        assert!(matches!(check_identity(&long), Err(NodeError::Refused(message)) if message.contains("longer")));
    }
}
