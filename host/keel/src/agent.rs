//! `keel agent`: start-up, serving and shutdown.
//!
//! A server agent runs, besides the HTTP API: the Raft server with its RPC
//! port, gossip on the Serf port, the cluster formation duty, retry-join,
//! and the autopilot rounds. A graceful stop (SIGINT, SIGTERM) leaves the
//! gossip pool, so the others show this agent as `left`, not `failed`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use keel_cluster::gossip::{Gossip, GossipConfig};
use keel_cluster::{Bootstrap, Server, ServerConfig, formation};
use keel_plugins::{Chosen, Fallbacks, Plugins, Runtime, RuntimeConfig};
use keel_state::DataDir;

use keel_server::{ApiForwarder, ClientConfig, PluginSet, Service, Telemetry, gossip_tags};

use crate::config::{AgentArgs, AgentConfig};
use crate::embedded;

/// How long a client may take to send a request head before its connection
/// is closed.
const HTTP_HEAD_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(args: AgentArgs) -> anyhow::Result<()> {
    let config = AgentConfig::load(&args)?;
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("start async runtime")?;
    tokio.block_on(serve(config))
}

async fn serve(config: AgentConfig) -> anyhow::Result<()> {
    // Dev mode without --data-dir keeps its state in a temporary directory
    // that is removed on exit.
    let (data_path, _temporary) = match &config.data_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let temporary = tempfile::Builder::new().prefix("keel-dev-").tempdir().context("create dev data dir")?;
            (temporary.path().to_path_buf(), Some(temporary))
        }
    };
    let data_dir =
        Arc::new(DataDir::open(&data_path).with_context(|| format!("open data dir {}", data_path.display()))?);

    // First, so that what start-up records is kept.
    let telemetry = Telemetry::install(config.prometheus_metrics).map_err(anyhow::Error::msg)?;
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default(), Some(data_dir.subdir("plugin-cache")?))?);
    // Each kind's own plugin: the configured component, else the embedded
    // default. An installed plugin takes over once the registry is applied.
    let fallbacks = Fallbacks::choose(|kind| {
        let chosen = config.plugins.get(&kind).cloned().unwrap_or_default();
        let path = chosen.path.as_deref();
        Chosen::read(path, embedded::default_component(kind), chosen.settings).with_context(|| {
            format!("read the {kind} plugin {}", path.map_or(String::new(), |p| p.display().to_string()))
        })
    })?;
    let active = Arc::new(Plugins::load(&runtime, &fallbacks).context("load the plugins")?);
    tracing::info!(plugins = %active.describe(), data_dir = %data_path.display(), "plugins loaded");
    let plugins = PluginSet { runtime, active, fallbacks };

    let (server, gossip) = match config.server {
        true => {
            let (server, gossip) = start_server(&config, &data_dir).await?;
            (Some(server), Some(gossip))
        }
        false => (None, None),
    };
    let http_address = config.http_address();
    let autopilot_interval = config.autopilot_interval;
    let clock = Arc::new(keel_server::SystemClock);
    let settings = config.server_settings();
    let service = Arc::new(Service::new(settings, server.clone(), gossip.clone(), plugins, data_dir, clock, telemetry));
    let api = keel_http::router(Arc::clone(&service));
    let mut duties = Vec::new();
    if let Some(server) = &server {
        // Installed plugins enforce before the first request is served.
        service.activate_registry(server).await;
        duties.push(tokio::spawn(Arc::clone(&service).follow_plugin_registry()));
        server.set_forwarder(Arc::new(ApiForwarder(api.clone())));
        duties.extend(Arc::clone(&service).serve_nodes_and_jobs(server));
        duties.push(tokio::spawn(Arc::clone(&service).autopilot_rounds(autopilot_interval)));
    }
    let client = ClientConfig { http_address, raw_exec: config.raw_exec, capacity: config.capacity };
    duties.extend(Arc::clone(&service).start_client(client, config.key.clone()).map_err(anyhow::Error::msg)?);
    let listener =
        tokio::net::TcpListener::bind(http_address).await.with_context(|| format!("bind HTTP {http_address}"))?;
    tracing::info!(%http_address, "agent started");
    let served = keel_http::serve(listener, api, HTTP_HEAD_TIMEOUT, keel_http::shutdown_signal()).await;
    for duty in duties {
        duty.abort();
    }
    if let Some(gossip) = gossip {
        gossip.leave().await;
    }
    if let Some(server) = server {
        server.shutdown().await;
    }
    served.context("serve HTTP")?;
    tracing::info!("agent stopped");
    Ok(())
}

/// Starts the Raft server and gossip, and the duties that form the cluster.
async fn start_server(config: &AgentConfig, data_dir: &DataDir) -> anyhow::Result<(Arc<Server>, Arc<Gossip>)> {
    let bootstrap = match config.bootstrap_expect {
        1 => Bootstrap::Solo,
        n => Bootstrap::Expect(n),
    };
    let raft_id = data_dir.node_id().context("read the node id")?;
    let server_config = ServerConfig {
        raft_id: raft_id.clone(),
        node_name: config.node_name.clone(),
        rpc_address: config.rpc_address(),
        bootstrap,
        raft: config.raft,
        autopilot_defaults: config.autopilot.clone(),
        scheduler_defaults: config.scheduler.clone(),
        key: config.key.clone(),
    };
    if config.key.is_none() {
        tracing::warn!("no cluster key (server.encrypt): gossip and the RPC port accept any process that reaches them");
    }
    let server = Arc::new(Server::start(server_config, data_dir).await.context("start the raft server")?);
    let gossip_config = GossipConfig {
        bind: config.serf_address(),
        name: keel_server::member_name(&config.node_name, &config.region),
        tags: gossip_tags(&config.server_settings(), &raft_id),
        key: config.key.clone(),
    };
    let gossip = match Gossip::start(gossip_config).await {
        Ok(gossip) => Arc::new(gossip),
        Err(error) => {
            server.shutdown().await;
            return Err(error).context("start gossip");
        }
    };
    tokio::spawn(formation::run(
        Arc::clone(&server),
        Arc::clone(&gossip),
        config.bootstrap_expect,
        config.region.clone(),
    ));
    if !config.retry_join.is_empty() {
        tokio::spawn(formation::retry_join(Arc::clone(&gossip), config.retry_join.clone(), config.serf_address()));
    }
    if bootstrap == Bootstrap::Solo {
        match server.wait_ready(Duration::from_secs(10)).await {
            Some(leader) => tracing::info!(leader = %leader.address, "cluster leader elected"),
            None => tracing::warn!("no leader with its configuration applied after 10s; serving anyway"),
        }
    }
    Ok((server, gossip))
}
