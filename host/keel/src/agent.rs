//! `keel agent`: start-up, serving and shutdown.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use keel_plugins::{AclPlugin, AutopilotPlugin, Kind, LicensePlugin, Runtime, RuntimeConfig, SchedulerPlugin};

use crate::embedded;

/// Nomad's default ports: HTTP, RPC (Raft) and Serf (gossip).
const HTTP_PORT: u16 = 4646;
const RPC_PORT: u16 = 4647;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Runs a single-node server and client with a temporary data directory,
    /// bound to 127.0.0.1.
    #[arg(long)]
    dev: bool,
    /// The address to bind (127.0.0.1 in dev mode).
    #[arg(long, value_name = "ADDR")]
    bind: Option<IpAddr>,
    /// Where the agent keeps its state (a temporary directory in dev mode).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Loads a plugin component instead of the embedded default, as KIND=PATH
    /// with KIND one of acl, autopilot, scheduler, license (repeatable).
    #[arg(long = "plugin", value_name = "KIND=PATH", value_parser = parse_plugin_override)]
    plugins: Vec<(Kind, PathBuf)>,
}

fn parse_plugin_override(value: &str) -> Result<(Kind, PathBuf), String> {
    let (kind, path) = value.split_once('=').ok_or_else(|| format!("expected KIND=PATH, got {value:?}"))?;
    Ok((kind.parse::<Kind>().map_err(|e| e.to_string())?, PathBuf::from(path)))
}

/// The four active plugins of an agent.
pub struct Plugins {
    pub acl: AclPlugin,
    pub autopilot: AutopilotPlugin,
    pub scheduler: SchedulerPlugin,
    pub license: LicensePlugin,
}

impl Plugins {
    /// Loads each kind's plugin: the operator's component if given, else the
    /// embedded default.
    fn load(runtime: &Runtime, overrides: &[(Kind, PathBuf)]) -> anyhow::Result<Self> {
        let component = |kind: Kind| -> anyhow::Result<Vec<u8>> {
            match overrides.iter().rev().find(|(k, _)| *k == kind) {
                Some((_, path)) => {
                    std::fs::read(path).with_context(|| format!("read {kind} plugin {}", path.display()))
                }
                None => Ok(embedded::default_component(kind).to_vec()),
            }
        };
        Ok(Self {
            acl: runtime.load_acl(&component(Kind::Acl)?, &[])?,
            autopilot: runtime.load_autopilot(&component(Kind::Autopilot)?, &[])?,
            scheduler: runtime.load_scheduler(&component(Kind::Scheduler)?, &[])?,
            license: runtime.load_license(&component(Kind::License)?, &[])?,
        })
    }

    fn describe(&self) -> String {
        [
            (Kind::Acl, self.acl.info()),
            (Kind::Autopilot, self.autopilot.info()),
            (Kind::Scheduler, self.scheduler.info()),
            (Kind::License, self.license.info()),
        ]
        .iter()
        .map(|(kind, info)| format!("{kind}={} {}", info.name, info.version))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// The running agent as the HTTP API sees it.
struct RunningAgent {
    rpc_address: SocketAddr,
    _plugins: Plugins,
}

impl keel_http::Agent for RunningAgent {
    fn is_server(&self) -> bool {
        true
    }

    fn is_client(&self) -> bool {
        true
    }

    /// A dev agent is a single-server cluster bootstrapped with itself as
    /// the only voter, so it leads from the moment it starts.
    fn leader(&self) -> Option<String> {
        Some(self.rpc_address.to_string())
    }

    /// A dev agent's client talks to its own server.
    fn known_servers(&self) -> usize {
        1
    }
}

pub fn run(args: AgentArgs) -> anyhow::Result<()> {
    if !args.dev {
        anyhow::bail!("only `keel agent --dev` is available in this version");
    }
    let bind = args.bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let (data_dir, _temporary) = match &args.data_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let temporary = tempfile::Builder::new().prefix("keel-dev-").tempdir().context("create dev data dir")?;
            (temporary.path().to_path_buf(), Some(temporary))
        }
    };
    let cache_dir = open_cache_dir(&data_dir)?;
    let runtime = Runtime::new(RuntimeConfig::default(), Some(cache_dir))?;
    let plugins = Plugins::load(&runtime, &args.plugins)?;
    tracing::info!(plugins = %plugins.describe(), data_dir = %data_dir.display(), "plugins loaded");

    let agent = Arc::new(RunningAgent { rpc_address: SocketAddr::new(bind, RPC_PORT), _plugins: plugins });
    let http_address = SocketAddr::new(bind, HTTP_PORT);
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("start async runtime")?;
    tokio.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(http_address).await.with_context(|| format!("bind HTTP {http_address}"))?;
        tracing::info!(%http_address, "agent started");
        axum::serve(listener, keel_http::router(agent))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serve HTTP")?;
        tracing::info!("agent stopped");
        anyhow::Ok(())
    })
}

/// Opens (creating it if needed) `<data-dir>/plugin-cache`.
fn open_cache_dir(data_dir: &std::path::Path) -> anyhow::Result<cap_std::fs::Dir> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("create data dir {}", data_dir.display()))?;
    let data = cap_std::fs::Dir::open_ambient_dir(data_dir, cap_std::ambient_authority())
        .with_context(|| format!("open data dir {}", data_dir.display()))?;
    data.create_dir_all("plugin-cache").context("create plugin cache dir")?;
    data.open_dir("plugin-cache").context("open plugin cache dir")
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
