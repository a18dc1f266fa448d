//! The one place a request's right is decided.

use keel_http::{ApiError, Capability, RequestContext};

use crate::Service;

impl keel_http::Authorize for Service {
    /// The one place ACL decisions are made: a client-only agent, which holds
    /// no ACL state, knows no token.
    async fn authorize(
        &self,
        token: Option<&str>,
        need: Capability,
        request: &RequestContext<'_>,
    ) -> Result<(), ApiError> {
        match &self.server {
            Some(server) => {
                if self.acl.enabled() && need != Capability::None {
                    self.plugins_in_step(server, keel_plugins::Kind::Acl).await;
                }
                let (plugin, shadow) = (self.plugins.acl.get(), self.plugins.acl.shadow());
                let asked = crate::acl::Asked { token, need, request, now_ms: self.acl_now_ms() };
                self.acl.authorize(server.view(), &plugin, shadow, asked).await
            }
            None if !self.acl.enabled() || need == Capability::None => Ok(()),
            None => Err(ApiError::token_not_found()),
        }
    }
}
