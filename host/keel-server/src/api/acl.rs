//! `/v1/acl/...`: bootstrap, policies and tokens, over the rules in `acl_endpoints.rs`.

use keel_api::acl::{AclPolicy, AclPolicyListStub, AclToken, AclTokenListStub, BootstrapRequest};
use keel_http::{ApiError, Consistency, Read};

use crate::Service;

impl keel_http::AclApi for Service {
    async fn acl_bootstrap(&self, request: BootstrapRequest) -> Result<(AclToken, u64), ApiError> {
        self.bootstrap_acl(request).await
    }

    async fn acl_policies(
        &self,
        token: Option<&str>,
        consistency: Consistency,
    ) -> Result<Read<Vec<AclPolicyListStub>>, ApiError> {
        self.list_acl_policies(token, consistency)
    }

    async fn acl_policy(
        &self,
        token: Option<&str>,
        name: &str,
        consistency: Consistency,
    ) -> Result<Read<AclPolicy>, ApiError> {
        self.read_acl_policy(token, name, consistency)
    }

    async fn upsert_acl_policy(&self, policy: AclPolicy) -> Result<u64, ApiError> {
        self.write_acl_policy(policy).await
    }

    async fn delete_acl_policy(&self, name: String) -> Result<u64, ApiError> {
        self.remove_acl_policy(name).await
    }

    async fn acl_tokens(&self, consistency: Consistency) -> Result<Read<Vec<AclTokenListStub>>, ApiError> {
        self.list_acl_tokens(consistency)
    }

    async fn acl_token(
        &self,
        token: Option<&str>,
        accessor: &str,
        consistency: Consistency,
    ) -> Result<Read<AclToken>, ApiError> {
        self.read_acl_token(token, accessor, consistency)
    }

    async fn acl_token_self(&self, token: Option<&str>, consistency: Consistency) -> Result<Read<AclToken>, ApiError> {
        self.read_own_acl_token(token, consistency)
    }

    async fn upsert_acl_token(&self, token: AclToken) -> Result<(AclToken, u64), ApiError> {
        self.write_acl_token(token).await
    }

    async fn delete_acl_token(&self, accessor: String) -> Result<u64, ApiError> {
        self.remove_acl_token(accessor).await
    }
}
