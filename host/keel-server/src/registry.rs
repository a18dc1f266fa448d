//! The cluster's plugin registry as this server acts on it: installs are
//! verified here before the Raft write; every applied entry that changes
//! which plugin enforces is activated here; listings and per-server status.
//!
//! Activation follows the applied index: after each applied entry, each
//! kind whose enforcing plugin differs from the registry's is loaded (on a
//! blocking thread; the compile cache makes a restart cheap) and swapped
//! in. Calls in flight finish on the old plugin. An ACL decision waits
//! until the registry it reads has been acted on ([`Service::plugins_in_step`]),
//! so every request that sees the state at or after an install is decided
//! by the installed plugin, on every server.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use keel_api::plugin::{
    AgentPlugin, AgentShadow, PluginCounters, PluginEntry, PluginHistoryEntry, PluginInstallRequest,
    PluginInstallResponse, PluginRollback, PluginServerStatus, PluginStatus, PluginVersion, REDACTED,
    ShadowDisagreement, is_secret_setting,
};
use keel_api::time::rfc3339_ms;
use keel_cluster::{Forwarded, Server};
use keel_http::{ApiError, Consistency, Read};
use keel_plugins::{ComparisonSnapshot, Described, Fallbacks, Kind, MetricsSnapshot, Origin, Plugins, Runtime, Source};
use keel_state::{Command, ComponentBytes, InstalledPlugin, KindRegistry, PluginMode, State};
use tokio::sync::watch;

use crate::Service;
use crate::service::cluster_error;

/// How long an install's answer waits for this server to enforce it, and an
/// ACL decision for this server to act on the registry it reads.
const ACTIVATION_WAIT: Duration = Duration::from_secs(10);

/// How long `GET /v1/operator/plugin/:kind` waits for each server.
const STATUS_TIMEOUT: Duration = Duration::from_secs(3);

/// How often a leader looks at the faults of plugins on probation.
const PROBATION_CHECK: Duration = Duration::from_secs(1);

/// The agent's plugins: the runtime that loads them, the active ones, and
/// the server's own plugin of each kind for when nothing is installed.
pub struct PluginSet {
    pub runtime: Arc<Runtime>,
    pub active: Arc<Plugins>,
    pub fallbacks: Fallbacks,
}

/// What this server knows about following the registry.
pub(crate) struct Registry {
    runtime: Arc<Runtime>,
    fallbacks: Fallbacks,
    /// The registry plugins (active or shadow) that could not be activated
    /// here: the digest and why. Not tried again until the registry changes.
    failed: Mutex<BTreeMap<(Kind, PluginMode), (String, String)>>,
    /// The applied index whose registry this server has acted on.
    followed: watch::Sender<u64>,
}

impl Registry {
    pub(crate) fn new(runtime: Arc<Runtime>, fallbacks: Fallbacks) -> Self {
        Self { runtime, fallbacks, failed: Mutex::new(BTreeMap::new()), followed: watch::channel(0).0 }
    }

    fn failed(&self) -> std::sync::MutexGuard<'_, BTreeMap<(Kind, PluginMode), (String, String)>> {
        self.failed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The kind a path names, or a 400 listing the kinds.
pub(crate) fn parse_kind(name: &str) -> Result<Kind, ApiError> {
    name.parse().map_err(|_| {
        ApiError::bad_request(format!("unknown plugin kind {name:?}: one of acl, autopilot, scheduler, license"))
    })
}

/// What the registry at this state wants for `kind`: the installed plugin
/// that should enforce (or nothing, for the server's own), the index that
/// decided it, and the shadow.
fn wanted(state: &State, kind: Kind) -> (Option<InstalledPlugin>, u64, Option<InstalledPlugin>) {
    state
        .plugins
        .get(kind.name())
        .map_or((None, 0, None), |registry| (registry.active.clone(), registry.active_index, registry.shadow.clone()))
}

/// An installed plugin's component, settings and origin.
fn installed(plugin: InstalledPlugin, index: u64) -> (Arc<Vec<u8>>, Vec<(String, String)>, Origin) {
    (plugin.component.0, plugin.settings, Origin { source: Source::Installed, digest: plugin.digest, index })
}

impl Service {
    /// Acts on the registry as applied so far, then after every applied
    /// entry, until the server stops. Once a second, a leader also checks
    /// the plugins on probation.
    pub async fn follow_plugin_registry(self: Arc<Self>) {
        let Some(server) = self.server.clone() else { return };
        let mut applied = server.view().subscribe_applied();
        let mut probation = tokio::time::interval(PROBATION_CHECK);
        loop {
            let index = *applied.borrow_and_update();
            self.activate_registry(&server).await;
            self.registry.followed.send_replace(index);
            loop {
                tokio::select! {
                    changed = applied.changed() => match changed {
                        Ok(()) => break,
                        Err(_) => return,
                    },
                    _ = probation.tick() => self.check_probation(&server).await,
                }
            }
        }
    }

    /// Activates, for every kind, what the applied registry says should
    /// enforce, and the shadow it names.
    pub async fn activate_registry(&self, server: &Server) {
        for kind in Kind::ALL {
            let (active, index, shadow) = server.view().read(|state| wanted(state, kind));
            let fallback = self.registry.fallbacks.get(kind);
            let wanted = match active {
                Some(plugin) => installed(plugin, index),
                None => (
                    Arc::new(fallback.component.to_vec()),
                    fallback.settings.clone(),
                    Origin { index, ..fallback.origin() },
                ),
            };
            if self.plugins.origin(kind) != wanted.2 {
                self.load_into(kind, PluginMode::Active, wanted).await;
            }
            match shadow {
                None => self.plugins.clear_shadow(kind),
                Some(plugin) => {
                    let index = plugin.install_index;
                    let wanted = installed(plugin, index);
                    if self.plugins.shadow_origin(kind).as_ref() != Some(&wanted.2) {
                        self.load_into(kind, PluginMode::Shadow, wanted).await;
                    }
                }
            }
        }
    }

    /// Loads a component on a blocking thread and makes it `kind`'s active
    /// plugin or shadow. A component that failed to load here is not tried
    /// again until the registry names another.
    async fn load_into(
        &self,
        kind: Kind,
        mode: PluginMode,
        (component, settings, origin): (Arc<Vec<u8>>, Vec<(String, String)>, Origin),
    ) {
        let role = mode_name(mode);
        if self.registry.failed().get(&(kind, mode)).is_some_and(|(digest, _)| *digest == origin.digest) {
            return;
        }
        let runtime = Arc::clone(&self.registry.runtime);
        let loaded = tokio::task::spawn_blocking(move || runtime.load_kind(kind, &component, &settings)).await;
        match loaded {
            Ok(Ok(plugin)) => {
                tracing::info!(%kind, plugin = %plugin.info().name, digest = %origin.digest, source = origin.source.name(), index = origin.index, role, "plugin activated");
                self.registry.failed().remove(&(kind, mode));
                match mode {
                    PluginMode::Active => {
                        self.plugins.activate(plugin, origin);
                        if kind == Kind::Acl {
                            self.acl.clear();
                        }
                    }
                    PluginMode::Shadow => self.plugins.shadow(plugin, origin),
                }
            }
            Ok(Err(error)) => {
                tracing::error!(%kind, digest = %origin.digest, %error, role, "the registry's plugin could not be activated; the previous one stays");
                self.registry.failed().insert((kind, mode), (origin.digest, error.to_string()));
            }
            Err(error) => tracing::error!(%kind, %error, role, "plugin activation panicked"),
        }
    }

    /// On the leader: rolls back, through Raft, each installed plugin still
    /// on probation whose instance here has faulted more than the budget.
    async fn check_probation(&self, server: &Server) {
        if !server.is_leader() {
            return;
        }
        let probation = self.config.plugin_probation;
        for kind in Kind::ALL {
            let described = self.plugins.describe_kind(kind);
            let metrics = &described.metrics;
            let faults = metrics.traps + metrics.timeouts + metrics.memory_limits;
            if described.origin.source != Source::Installed
                || described.active_for > probation.time
                || faults <= probation.faults
            {
                continue;
            }
            let on_probation = server.view().read(|state| {
                state.plugins.get(kind.name()).is_some_and(|r| {
                    r.on_probation && r.active.as_ref().is_some_and(|a| a.digest == described.origin.digest)
                })
            });
            if !on_probation {
                continue;
            }
            let reason = format!(
                "{faults} faults on the leader within {}s of activation ({} traps, {} timeouts, {} memory-cap hits), more than the {} allowed",
                described.active_for.as_secs(),
                metrics.traps,
                metrics.timeouts,
                metrics.memory_limits,
                probation.faults
            );
            tracing::warn!(%kind, digest = %described.origin.digest, %reason, "rolling back a plugin on probation");
            let command = Command::ProbationRollback {
                kind: kind.name().to_owned(),
                digest: described.origin.digest.clone(),
                reason,
            };
            if let Err(error) = server.write(command).await {
                tracing::warn!(%kind, %error, "the probation rollback was not written; trying again");
            }
        }
    }

    /// Waits, when the state holds registry entries this server has not
    /// acted on yet, until it has, so that a decision never uses a plugin
    /// older than the state it reads.
    pub(crate) async fn plugins_in_step(&self, server: &Server, kind: Kind) {
        let index = server.view().read(|state| state.plugins.get(kind.name()).map_or(0, |r| r.active_index));
        if self.plugins.origin_index(kind) == index {
            return;
        }
        let applied = server.view().applied_index();
        let mut followed = self.registry.followed.subscribe();
        let _ = tokio::time::timeout(ACTIVATION_WAIT, followed.wait_for(|&done| done >= applied)).await;
    }

    /// `GET /v1/operator/plugins`.
    pub(crate) async fn plugin_entries(&self, consistency: Consistency) -> Result<Read<Vec<PluginEntry>>, ApiError> {
        self.read(
            consistency,
            // Nomad never answers index 0, which blocking queries would take as "now".
            |entries: &Vec<PluginEntry>| entries.iter().map(|e| e.active_index).max().unwrap_or(0).max(1),
            |state| Kind::ALL.into_iter().map(|kind| entry(kind, state.plugins.get(kind.name()))).collect(),
        )
        .await
    }

    /// `GET /v1/operator/plugin/:kind`: the entry, and what every server
    /// in the Raft configuration has active, asked with the caller's token.
    pub(crate) async fn plugin_status(
        &self,
        kind: Kind,
        consistency: Consistency,
        token: Option<String>,
    ) -> Result<Read<PluginStatus>, ApiError> {
        let read = self
            .read(consistency, |e: &PluginEntry| e.active_index, |state| entry(kind, state.plugins.get(kind.name())))
            .await?;
        let server = self.server()?;
        let (peers, _) = server.configuration();
        let asks = peers.into_iter().map(|peer| {
            let token = token.clone();
            async move {
                let mut status = PluginServerStatus {
                    name: peer.node.name.clone(),
                    address: peer.node.address.clone(),
                    ..Default::default()
                };
                match self.ask_agent_plugins(server, &peer.node.address, token).await {
                    Ok(plugins) => status.active = plugins.into_iter().find(|p| p.kind == kind.name()),
                    Err(error) => status.error = Some(error),
                }
                status
            }
        });
        // Asked together, so that one slow server does not delay the others.
        let servers = futures_util::future::join_all(asks).await;
        Ok(Read { value: PluginStatus { entry: read.value, servers }, meta: read.meta })
    }

    /// Asks the server at `address` for `/v1/agent/plugins`; this server
    /// answers from itself.
    async fn ask_agent_plugins(
        &self,
        server: &Server,
        address: &str,
        token: Option<String>,
    ) -> Result<Vec<AgentPlugin>, String> {
        if address == server.me().address {
            return Ok(self.local_plugins());
        }
        let headers = token.map(|token| vec![("X-Nomad-Token".to_owned(), token)]).unwrap_or_default();
        let request = Forwarded { method: "GET".into(), uri: "/v1/agent/plugins".into(), headers, body: Vec::new() };
        let reply = server.ask(address, request, STATUS_TIMEOUT).await.map_err(|error| error.to_string())?;
        if reply.status != 200 {
            return Err(format!("{address} answered {}: {}", reply.status, String::from_utf8_lossy(&reply.body)));
        }
        serde_json::from_slice(&reply.body).map_err(|error| format!("{address} answered something else: {error}"))
    }

    /// `GET /v1/agent/plugins`: this agent's active plugins and shadows.
    pub(crate) fn local_plugins(&self) -> Vec<AgentPlugin> {
        let failed = self.registry.failed();
        let error = |kind, mode| {
            failed.get(&(kind, mode)).map(|(digest, error): &(String, String)| format!("activating {digest}: {error}"))
        };
        self.plugins
            .described()
            .into_iter()
            .map(|described| {
                let kind = described.kind;
                let shadow = self.plugins.describe_shadow(kind);
                let shadow_error = error(kind, PluginMode::Shadow);
                let shadow = match (shadow, shadow_error) {
                    (Some((shadow, comparisons)), error) => Some(agent_shadow(shadow, comparisons, error)),
                    (None, Some(error)) => Some(AgentShadow { error: Some(error), ..AgentShadow::default() }),
                    (None, None) => None,
                };
                AgentPlugin { shadow, ..agent_plugin(described, error(kind, PluginMode::Active)) }
            })
            .collect()
    }

    /// `PUT /v1/operator/plugin/:kind`: verifies, then installs through Raft,
    /// and answers once this server enforces it.
    pub(crate) async fn verify_and_install(
        &self,
        kind: Kind,
        request: PluginInstallRequest,
    ) -> Result<PluginInstallResponse, ApiError> {
        let mode = match request.mode.as_deref() {
            None | Some("active") => PluginMode::Active,
            Some("shadow") => PluginMode::Shadow,
            Some(other) => {
                return Err(ApiError::bad_request(format!("Mode must be \"active\" or \"shadow\", not {other:?}")));
            }
        };
        let component = base64::engine::general_purpose::STANDARD
            .decode(request.component.trim())
            .map_err(|_| ApiError::bad_request("Component is not valid base64"))?;
        let digest = keel_plugins::digest(&component);
        let signer = self
            .config
            .plugin_trust
            .check(kind.name(), &digest, request.signature.as_deref())
            .map_err(ApiError::bad_request)?;
        let settings: Vec<(String, String)> = request.settings.into_iter().collect();
        let (info, contract) = self.verify_plugin(kind, &component, &settings).await?;
        let plugin = InstalledPlugin {
            component: ComponentBytes(Arc::new(component)),
            digest: digest.clone(),
            name: info.name.clone(),
            version: info.version.clone(),
            contract: contract.package(),
            settings,
            signer,
            install_index: 0,
        };
        let applied =
            self.write(Command::InstallPlugin { kind: kind.name().to_owned(), plugin: Box::new(plugin), mode }).await?;
        self.wait_enforced(kind, applied.index).await;
        Ok(PluginInstallResponse {
            kind: kind.name().to_owned(),
            digest,
            name: info.name,
            version: info.version,
            mode: mode_name(mode).into(),
            index: applied.index,
        })
    }

    /// The checks before an install changes anything: the component is of
    /// the kind's world and imports only the host interface, its
    /// `configure` takes the settings, and it passes the kind's smoke cases.
    async fn verify_plugin(
        &self,
        kind: Kind,
        component: &[u8],
        settings: &[(String, String)],
    ) -> Result<(keel_plugins::PluginInfo, keel_plugins::Contract), ApiError> {
        let runtime = Arc::clone(&self.registry.runtime);
        let (owned, owned_settings) = (component.to_vec(), settings.to_vec());
        let loaded = tokio::task::spawn_blocking(move || runtime.load_kind(kind, &owned, &owned_settings))
            .await
            .map_err(|_| ApiError::internal("loading the plugin panicked; see the server log"))?;
        let plugin = loaded.map_err(|error| ApiError::bad_request(format!("plugin refused: {error}")))?;
        keel_plugins::smoke::run(&plugin)
            .await
            .map_err(|error| ApiError::bad_request(format!("plugin refused: {error}")))?;
        Ok((plugin.info().clone(), plugin.contract()))
    }

    /// `POST /v1/operator/plugin/:kind/promote`.
    pub(crate) async fn promote_shadow(&self, kind: Kind) -> Result<u64, ApiError> {
        self.registry_change(
            kind,
            Command::PromotePlugin { kind: kind.name().to_owned() },
            "there is no shadow plugin to promote",
        )
        .await
    }

    /// `POST /v1/operator/plugin/:kind/rollback[?digest=]`.
    pub(crate) async fn roll_back(&self, kind: Kind, digest: Option<String>) -> Result<u64, ApiError> {
        let refusal = match &digest {
            Some(digest) => format!("no kept {kind} plugin has digest {digest}"),
            None => format!("no {kind} plugin is installed, so there is nothing to roll back"),
        };
        self.registry_change(kind, Command::RollbackPlugin { kind: kind.name().to_owned(), digest }, &refusal).await
    }

    /// `DELETE /v1/operator/plugin/:kind`.
    pub(crate) async fn remove_installed(&self, kind: Kind) -> Result<u64, ApiError> {
        let refusal = format!("no {kind} plugin is installed");
        self.registry_change(kind, Command::RemovePlugin { kind: kind.name().to_owned() }, &refusal).await
    }

    /// Writes a registry change; a refused check is a 400 with `refusal`.
    async fn registry_change(&self, kind: Kind, command: Command, refusal: &str) -> Result<u64, ApiError> {
        let applied = self.server()?.write(command).await.map_err(cluster_error)?;
        if !applied.outcome.updated() {
            return Err(ApiError::bad_request(refusal));
        }
        self.wait_enforced(kind, applied.index).await;
        Ok(applied.index)
    }

    /// Waits until this server has acted on the registry at `index`.
    async fn wait_enforced(&self, kind: Kind, index: u64) {
        let mut followed = self.registry.followed.subscribe();
        if tokio::time::timeout(ACTIVATION_WAIT, followed.wait_for(|&done| done >= index)).await.is_err() {
            tracing::warn!(%kind, index, "the plugin registry change was applied but not yet acted on here");
        }
    }
}

fn mode_name(mode: PluginMode) -> &'static str {
    match mode {
        PluginMode::Active => "active",
        PluginMode::Shadow => "shadow",
    }
}

fn version(plugin: &InstalledPlugin) -> PluginVersion {
    let settings = plugin
        .settings
        .iter()
        .map(|(key, value)| (key.clone(), if is_secret_setting(key) { REDACTED.to_owned() } else { value.clone() }))
        .collect();
    PluginVersion {
        digest: plugin.digest.clone(),
        name: plugin.name.clone(),
        version: plugin.version.clone(),
        contract: plugin.contract.clone(),
        install_index: plugin.install_index,
        signer: plugin.signer.clone(),
        settings,
    }
}

/// One kind's entry in the listings.
fn entry(kind: Kind, registry: Option<&KindRegistry>) -> PluginEntry {
    let empty = KindRegistry::default();
    let registry = registry.unwrap_or(&empty);
    let history = registry
        .history
        .iter()
        .map(|kept| PluginHistoryEntry {
            digest: kept.digest.clone(),
            name: kept.name.clone(),
            version: kept.version.clone(),
            install_index: kept.install_index,
        })
        .collect();
    PluginEntry {
        kind: kind.name().to_owned(),
        source: if registry.active.is_some() { "installed" } else { "server" }.to_owned(),
        mode: "active".to_owned(),
        installed: registry.active.as_ref().map(version),
        active_index: registry.active_index,
        shadow: registry.shadow.as_ref().map(version),
        history,
        rolled_back: registry.rolled_back.as_ref().map(|note| PluginRollback {
            digest: note.digest.clone(),
            reason: note.reason.clone(),
            index: note.index,
        }),
    }
}

fn agent_plugin(described: Described, error: Option<String>) -> AgentPlugin {
    AgentPlugin {
        kind: described.kind.name().to_owned(),
        name: described.info.name,
        version: described.info.version,
        contract: described.contract.package(),
        digest: described.origin.digest,
        source: described.origin.source.name().to_owned(),
        active_index: described.origin.index,
        error,
        counters: counters(&described.metrics),
        shadow: None,
    }
}

fn agent_shadow(described: Described, comparisons: ComparisonSnapshot, error: Option<String>) -> AgentShadow {
    AgentShadow {
        name: described.info.name,
        version: described.info.version,
        contract: described.contract.package(),
        digest: described.origin.digest,
        install_index: described.origin.index,
        error,
        counters: counters(&described.metrics),
        agreements: comparisons.agreements,
        disagreements: comparisons.disagreements,
        faults: comparisons.faults,
        recent_disagreements: comparisons
            .recent
            .into_iter()
            .map(|d| ShadowDisagreement {
                time: rfc3339_ms(i64::try_from(d.at_ms).unwrap_or(i64::MAX)),
                input: d.input,
                active: d.active,
                shadow: d.shadow,
            })
            .collect(),
    }
}

fn counters(metrics: &MetricsSnapshot) -> PluginCounters {
    PluginCounters {
        calls: metrics.calls,
        errors: metrics.errors,
        traps: metrics.traps,
        timeouts: metrics.timeouts,
        memory_limits: metrics.memory_limits,
        busy: metrics.busy,
        latency_p50_us: micros(metrics.latency_p50),
        latency_p99_us: micros(metrics.latency_p99),
        latency_buckets: metrics.latency_buckets.clone(),
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
