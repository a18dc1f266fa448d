//! `/v1/agent/...` and `/v1/status/...`: this agent's own knowledge, and relaying to the leader.

use std::time::Duration;

use axum::http::{Request, Response, StatusCode};
use keel_api::agent::{JoinResponse, MembersResponse};
use keel_http::{ApiError, Identity, Leadership, Metrics, RelayError};

use crate::Service;

impl keel_http::AgentApi for Service {
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn leadership(&self) -> Leadership {
        match &self.server {
            None => Leadership::Here,
            Some(server) if server.is_leader() => Leadership::Here,
            Some(server) if server.leader().is_some() => Leadership::Elsewhere,
            Some(_) => Leadership::Unknown,
        }
    }

    async fn forward(&self, request: Request<Vec<u8>>, timeout: Duration) -> Result<Response<Vec<u8>>, RelayError> {
        self.forward_to_leader(request, timeout).await
    }

    fn leader(&self) -> Option<String> {
        self.server.as_ref()?.leader().map(|leader| leader.address)
    }

    fn peers(&self) -> Result<Vec<String>, ApiError> {
        let (peers, _) = self.server()?.configuration();
        Ok(peers.into_iter().filter(|peer| peer.voter).map(|peer| peer.node.address).collect())
    }

    fn known_servers(&self) -> usize {
        self.client_servers.read().map_or(0, |servers| servers.len())
    }

    fn members(&self) -> Result<MembersResponse, ApiError> {
        Ok(MembersResponse {
            server_name: self.config.node_name.clone(),
            server_region: self.config.region.clone(),
            server_dc: self.config.datacenter.clone(),
            members: self.gossip_members(),
        })
    }

    fn agent_self(&self) -> Result<serde_json::Value, ApiError> {
        Ok(self.self_report())
    }

    fn servers(&self) -> Result<Vec<String>, ApiError> {
        if !self.config.client {
            return Err(ApiError::not_implemented("Not a client agent"));
        }
        let mut servers = self.client_servers.read().map(|servers| servers.clone()).unwrap_or_default();
        servers.sort();
        Ok(servers)
    }

    fn metrics(&self, prometheus: bool) -> Result<Metrics, ApiError> {
        self.refresh_metrics();
        if !prometheus {
            return Ok(Metrics::Json(self.telemetry.json(self.acl_now_ms())));
        }
        let unsupported = || ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Prometheus is not enabled");
        self.telemetry.prometheus().map(Metrics::Prometheus).ok_or_else(unsupported)
    }

    fn set_servers(&self, addresses: Vec<String>) -> Result<(), ApiError> {
        if !self.config.client {
            return Err(ApiError::not_implemented("Not a client agent"));
        }
        for address in &addresses {
            address
                .parse::<std::net::SocketAddr>()
                .map_err(|_| ApiError::bad_request(format!("invalid server address {address:?}: expected ip:port")))?;
        }
        if let Ok(mut servers) = self.client_servers.write() {
            *servers = addresses;
        }
        Ok(())
    }

    async fn join(&self, addresses: Vec<String>) -> Result<JoinResponse, ApiError> {
        self.join_members(&addresses).await
    }

    async fn force_leave(&self, node: String, prune: bool) -> Result<(), ApiError> {
        self.force_leave_member(&node, prune).await
    }
}
