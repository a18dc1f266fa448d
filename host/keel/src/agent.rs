//! `keel agent`: start-up, serving and shutdown.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use keel_cluster::{Bootstrap, Server, ServerConfig};
use keel_plugins::{Runtime, RuntimeConfig};
use keel_state::DataDir;

use crate::config::{AgentArgs, AgentConfig};
use crate::plugins::Plugins;
use crate::service::Service;

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

    let runtime = Runtime::new(RuntimeConfig::default(), Some(data_dir.subdir("plugin-cache")?))?;
    let plugins = Arc::new(Plugins::load(&runtime, &config.plugins)?);
    tracing::info!(plugins = %plugins.describe(), data_dir = %data_path.display(), "plugins loaded");

    let server = match config.server {
        true => Some(Arc::new(start_server(&config, &data_dir).await?)),
        false => None,
    };
    let http_address = config.http_address();
    let service = Arc::new(Service::new(config, server.clone(), plugins, data_dir));
    let listener =
        tokio::net::TcpListener::bind(http_address).await.with_context(|| format!("bind HTTP {http_address}"))?;
    tracing::info!(%http_address, "agent started");
    let served = axum::serve(listener, keel_http::router(service)).with_graceful_shutdown(shutdown_signal()).await;
    if let Some(server) = server {
        server.shutdown().await;
    }
    served.context("serve HTTP")?;
    tracing::info!("agent stopped");
    Ok(())
}

async fn start_server(config: &AgentConfig, data_dir: &DataDir) -> anyhow::Result<Server> {
    let bootstrap = match config.bootstrap_expect {
        1 => Bootstrap::Solo,
        n => Bootstrap::Expect(n),
    };
    let server_config = ServerConfig {
        raft_id: data_dir.node_id().context("read the node id")?,
        node_name: config.node_name.clone(),
        rpc_address: config.rpc_address(),
        bootstrap,
        raft_multiplier: config.raft_multiplier,
        autopilot_defaults: config.autopilot.clone(),
        scheduler_defaults: config.scheduler.clone(),
    };
    let server = Server::start(server_config, data_dir).await.context("start the raft server")?;
    if bootstrap == Bootstrap::Solo {
        match server.wait_ready(Duration::from_secs(10)).await {
            Some(leader) => tracing::info!(leader = %leader.address, "cluster leader elected"),
            None => tracing::warn!("no leader with its configuration applied after 10s; serving anyway"),
        }
    } else {
        tracing::warn!(
            expect = config.bootstrap_expect,
            "waiting for other servers; forming a cluster with --bootstrap-expect is not available in this version, so no leader will be elected"
        );
    }
    Ok(server)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
