//! The client agent: it fingerprints the machine, registers its node with
//! the servers over the RPC port and keeps it alive with heartbeats, well
//! inside the TTL the leader gives. It follows the node's allocations with
//! blocking calls, runs them ([`keel_client::Runtime`]) and reports their
//! task states back. A server that cannot be reached is
//! passed over for the next in the list; a heartbeat the servers do not
//! know (the node was lost with a restore, say) registers the node again.
//! The servers' answers replace the client's server list, as in Nomad.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use keel_api::job::{AllocUpdate, AllocUpdates, PlacedAllocs};
use keel_api::node::{Node, eligibility, status};
use keel_cluster::{ClusterKey, NodeAnswer, NodeCall, NodeClient, NodeError};

use crate::Service;
use crate::fingerprint::fingerprint;

/// How long a client waits before trying again after every server failed.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long a server may hold the client's allocations call open.
const ALLOCS_WAIT_MS: u64 = 5_000;
/// How long a client gathers allocation updates before it sends them
/// (Nomad's client batches them every 200 ms).
const UPDATE_BATCH: Duration = Duration::from_millis(200);

/// What the client agent needs besides the service's settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Where this agent's HTTP API listens, for the node's `HTTPAddr`.
    pub http_address: SocketAddr,
    /// Whether the `raw_exec` driver is on.
    pub raw_exec: bool,
    pub capacity: Capacity,
}

/// What a client reports in place of what it fingerprinted, as Nomad's
/// `client { memory_total_mb = N, cpu_total_compute = N }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capacity {
    /// Memory, in MB.
    pub memory_total_mb: Option<u64>,
    /// CPU, in MHz over all cores.
    pub cpu_total_compute: Option<u64>,
}

impl Service {
    /// This agent's node as it registers it.
    fn client_node(&self, config: &ClientConfig) -> Result<Node, String> {
        let (id, secret) = self.data_dir.client_identity().map_err(|error| error.to_string())?;
        let found = fingerprint(
            self.data_dir.root(),
            config.raw_exec,
            &keel_api::time::rfc3339_ms(i64::try_from(self.now_ms()).unwrap_or(i64::MAX)),
        )
        .with(config.capacity);
        Ok(Node {
            id,
            secret_id: secret,
            name: self.config.node_name.clone(),
            datacenter: self.config.datacenter.clone(),
            node_pool: "default".to_owned(),
            http_addr: config.http_address.to_string(),
            attributes: found.attributes,
            node_resources: found.resources,
            drivers: found.drivers,
            status: status::INITIALIZING.to_owned(),
            scheduling_eligibility: eligibility::ELIGIBLE.to_owned(),
            ..Node::default()
        })
    }

    /// On a client agent, fingerprints the machine and starts the client's
    /// duty; `None` on an agent without a client.
    pub fn start_client(
        self: Arc<Self>,
        config: ClientConfig,
        key: Option<ClusterKey>,
    ) -> Result<Option<tokio::task::JoinHandle<()>>, String> {
        if !self.config.client {
            return Ok(None);
        }
        let node = self.client_node(&config).map_err(|error| format!("fingerprint the node: {error}"))?;
        let (runtime, updates) = keel_client::Runtime::new(self.data_dir.root(), &node.id, config.raw_exec);
        let _ = self.runtime.set(Arc::clone(&runtime));
        let client = Arc::new(NodeClient::new(key));
        let (id, secret) = (node.id.clone(), node.secret_id.clone());
        tokio::spawn(Arc::clone(&self).watch_allocs(Arc::clone(&client), id.clone(), secret.clone(), runtime));
        tokio::spawn(Arc::clone(&self).report_allocs(Arc::clone(&client), id, secret, updates));
        Ok(Some(tokio::spawn(self.run_client(node, client))))
    }

    /// Follows the node's allocations as the servers place and stop them,
    /// with blocking calls, and has the runtime run them.
    async fn watch_allocs(
        self: Arc<Self>,
        client: Arc<NodeClient>,
        id: String,
        secret: String,
        runtime: Arc<keel_client::Runtime>,
    ) {
        let mut index = 0;
        loop {
            let call = NodeCall::Allocations { id: id.clone(), secret: secret.clone(), index, wait_ms: ALLOCS_WAIT_MS };
            match self.call_any_server(&client, call).await {
                Ok(answer) => match keel_api::json::from_slice::<PlacedAllocs>(answer.allocs_json.as_bytes()) {
                    Ok(placed) => {
                        runtime.sync(placed.allocs);
                        index = answer.index;
                    }
                    Err(error) => {
                        tracing::warn!("the servers sent allocations this client cannot read: {error}");
                        tokio::time::sleep(RETRY_AFTER).await;
                    }
                },
                Err(error) => {
                    tracing::debug!("could not learn the node's allocations: {error}");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
    }

    /// Sends what the runtime reports of the allocations to the servers,
    /// the latest state of each allocation at most every
    /// [`UPDATE_BATCH`], again after a failure until a server takes it.
    async fn report_allocs(
        self: Arc<Self>,
        client: Arc<NodeClient>,
        id: String,
        secret: String,
        mut updates: tokio::sync::mpsc::UnboundedReceiver<AllocUpdate>,
    ) {
        let mut pending: BTreeMap<String, AllocUpdate> = BTreeMap::new();
        loop {
            if pending.is_empty() {
                let Some(update) = updates.recv().await else { return };
                pending.insert(update.id.clone(), update);
            }
            tokio::time::sleep(UPDATE_BATCH).await;
            while let Ok(update) = updates.try_recv() {
                pending.insert(update.id.clone(), update);
            }
            let batch = AllocUpdates { updates: pending.values().cloned().collect() };
            let updates_json = serde_json::to_string(&batch).expect("updates are plain data and always serialize");
            let call = NodeCall::UpdateAllocs { id: id.clone(), secret: secret.clone(), updates_json };
            match self.call_any_server(&client, call).await {
                Ok(_) => pending.clear(),
                Err(error) => {
                    tracing::warn!("no server took the allocations' updates: {error}");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
    }

    /// The client's duty: register `node`, then heartbeat for the life of
    /// the agent.
    async fn run_client(self: Arc<Self>, node: Node, client: Arc<NodeClient>) {
        let node_json = serde_json::to_string(&node).expect("a node is plain data and always serializes");
        let mut registered = false;
        loop {
            let call = match registered {
                true => NodeCall::Heartbeat { id: node.id.clone(), secret: node.secret_id.clone() },
                false => NodeCall::Register { node_json: node_json.clone() },
            };
            let wait = match self.call_any_server(&client, call).await {
                Ok(answer) => {
                    if !registered {
                        tracing::info!(node = %node.id, "node registered with the servers");
                    }
                    registered = true;
                    self.adopt_servers(&answer);
                    Duration::from_millis(answer.heartbeat_ttl_ms / 2)
                }
                Err(NodeError::UnknownNode) => {
                    tracing::warn!(node = %node.id, "the servers do not know this node; registering again");
                    registered = false;
                    Duration::ZERO
                }
                Err(error) => {
                    tracing::warn!(node = %node.id, "no server took the node's call: {error}");
                    RETRY_AFTER
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Tries each known server in turn, starting with the one that answered
    /// last, until one answers.
    async fn call_any_server(&self, client: &NodeClient, call: NodeCall) -> Result<NodeAnswer, NodeError> {
        let servers = self.client_servers.read().map(|servers| servers.clone()).unwrap_or_default();
        let mut last = NodeError::Unavailable("no known servers".to_owned());
        for server in &servers {
            match client.call(server, call.clone()).await {
                Err(NodeError::Unavailable(reason)) => {
                    tracing::debug!(%server, "node call failed: {reason}");
                    last = NodeError::Unavailable(reason);
                }
                answer => {
                    if answer.is_ok() {
                        self.answered_first(server);
                    }
                    return answer;
                }
            }
        }
        Err(last)
    }

    fn answered_first(&self, server: &str) {
        if let Ok(mut servers) = self.client_servers.write()
            && let Some(at) = servers.iter().position(|known| known == server)
        {
            servers[..=at].rotate_right(1);
        }
    }

    /// The servers the cluster has now, the one that answered first.
    fn adopt_servers(&self, answer: &NodeAnswer) {
        if answer.servers.is_empty() {
            return;
        }
        if let Ok(mut servers) = self.client_servers.write() {
            let first = servers.first().cloned();
            let mut adopted = answer.servers.clone();
            adopted.sort();
            if let Some(at) = first.and_then(|first| adopted.iter().position(|known| *known == first)) {
                adopted[..=at].rotate_right(1);
            }
            *servers = adopted;
        }
    }
}

/// `plugin "raw_exec" { config { ... } }`, its path and settings if the
/// block is there: whether the driver is `enabled` (off by default). A path
/// and other keys are refused: the driver is built in.
pub fn raw_exec_enabled(
    block: Option<(Option<std::path::PathBuf>, std::collections::BTreeMap<String, String>)>,
) -> Result<bool, String> {
    let Some((path, settings)) = block else { return Ok(false) };
    if path.is_some() {
        return Err("plugin \"raw_exec\": the driver is built in and takes no path".to_owned());
    }
    let mut enabled = false;
    for (key, value) in &settings {
        match key.as_str() {
            "enabled" => {
                enabled = keel_api::parse_bool(value)
                    .ok_or_else(|| format!("plugin \"raw_exec\": enabled = {value:?} is not a boolean"))?;
            }
            other => return Err(format!("plugin \"raw_exec\": unknown setting {other:?}")),
        }
    }
    Ok(enabled)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::raw_exec_enabled;

    #[test]
    fn raw_exec_is_off_unless_enabled_and_takes_no_other_setting() {
        let settings = |pairs: &[(&str, &str)]| {
            let settings: BTreeMap<String, String> =
                pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            Some((None, settings))
        };
        assert_eq!(raw_exec_enabled(None), Ok(false));
        assert_eq!(raw_exec_enabled(settings(&[])), Ok(false));
        assert_eq!(raw_exec_enabled(settings(&[("enabled", "true")])), Ok(true));
        assert_eq!(raw_exec_enabled(settings(&[("enabled", "0")])), Ok(false));
        let with_path = Some((Some("raw.wasm".into()), BTreeMap::new()));
        assert!(raw_exec_enabled(with_path).expect_err("refused").contains("takes no path"));
        assert!(
            raw_exec_enabled(settings(&[("enabled", "yes please")])).expect_err("refused").contains("not a boolean")
        );
        assert!(
            raw_exec_enabled(settings(&[("no_cgroups", "true")])).expect_err("refused").contains("unknown setting")
        );
    }
}
