//! `keel_http::PluginApi`: the cluster's plugin registry (see `registry.rs`).

use keel_api::plugin::{AgentPlugin, PluginEntry, PluginInstallRequest, PluginInstallResponse, PluginStatus};
use keel_http::{ApiError, Consistency, Read};

use crate::Service;
use crate::registry::parse_kind;

impl keel_http::PluginApi for Service {
    async fn plugins(&self, consistency: Consistency) -> Result<Read<Vec<PluginEntry>>, ApiError> {
        self.plugin_entries(consistency).await
    }

    async fn plugin(
        &self,
        kind: String,
        consistency: Consistency,
        token: Option<String>,
    ) -> Result<Read<PluginStatus>, ApiError> {
        self.plugin_status(parse_kind(&kind)?, consistency, token).await
    }

    async fn install_plugin(
        &self,
        kind: String,
        request: PluginInstallRequest,
    ) -> Result<PluginInstallResponse, ApiError> {
        self.verify_and_install(parse_kind(&kind)?, request).await
    }

    async fn promote_plugin(&self, kind: String) -> Result<u64, ApiError> {
        self.promote_shadow(parse_kind(&kind)?).await
    }

    async fn rollback_plugin(&self, kind: String, digest: Option<String>) -> Result<u64, ApiError> {
        self.roll_back(parse_kind(&kind)?, digest).await
    }

    async fn remove_plugin(&self, kind: String) -> Result<u64, ApiError> {
        self.remove_installed(parse_kind(&kind)?).await
    }

    fn agent_plugins(&self) -> Vec<AgentPlugin> {
        self.local_plugins()
    }
}
