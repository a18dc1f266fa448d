//! `/v1/acl/...`: bootstrap, policies and tokens over the replicated state:
//! what Nomad's ACL endpoint checks before a write (names, rules through the
//! ACL plugin, token types and expirations, bootstrap once), and what a
//! non-management token may read.

use std::time::Duration;

use keel_api::acl::{AclPolicy, AclPolicyListStub, AclToken, AclTokenListStub, BootstrapRequest, CLIENT, MANAGEMENT};
use keel_http::{ApiError, Consistency, Read};
use keel_plugins::PluginError;
use keel_state::{Command, State};

use crate::Service;
use crate::acl::{Caller, known_token};

/// The file an operator writes the reset index into to bootstrap again.
pub const BOOTSTRAP_RESET_FILE: &str = "acl-bootstrap-reset";

const POLICY_NAME_MAX_CHARS: usize = 128;
const POLICY_DESCRIPTION_MAX_BYTES: usize = 256;
const TOKEN_NAME_MAX_BYTES: usize = 256;

/// Go's `multierror` text, which Nomad's validation errors carry.
fn multierror(errors: &[String]) -> String {
    let count = match errors.len() {
        1 => "1 error occurred".to_owned(),
        n => format!("{n} errors occurred"),
    };
    let items: String = errors.iter().map(|error| format!("\n\t* {error}")).collect();
    format!("{count}:{items}\n\n")
}

/// The highest `ModifyIndex` of a table, at least 1, as Nomad reports a
/// table's index.
fn table_index(indexes: impl Iterator<Item = u64>) -> u64 {
    indexes.max().unwrap_or(0).max(1)
}

impl keel_http::AclApi for Service {
    async fn acl_bootstrap(&self, request: BootstrapRequest) -> Result<(AclToken, u64), ApiError> {
        self.acl_enabled()?;
        let done = self.server()?.view().read(|state| state.acl.bootstrap_index);
        let reset_index = match done {
            None => None,
            Some(done) => Some(self.check_bootstrap_reset(done)?),
        };
        let secret = match request.bootstrap_secret.as_str() {
            "" => uuid::Uuid::new_v4().to_string(),
            given if uuid::Uuid::try_parse(given).is_ok() => given.to_owned(),
            _ => return Err(ApiError::bad_request("invalid acl token")),
        };
        let token = AclToken {
            accessor_id: uuid::Uuid::new_v4().to_string(),
            secret_id: secret,
            name: "Bootstrap Token".into(),
            token_type: MANAGEMENT.into(),
            global: true,
            create_time: self.acl_now_ms(),
            ..AclToken::default()
        };
        let accessor = token.accessor_id.clone();
        let applied = self.write(Command::AclBootstrap { token, reset_index }).await?;
        let server = self.server()?;
        let (stored, done) =
            server.view().read(|state| (state.acl.tokens.get(&accessor).cloned(), state.acl.bootstrap_index));
        match (applied.outcome.updated(), stored) {
            (true, Some(stored)) => {
                tracing::info!(accessor = %stored.accessor_id, index = applied.index, "acl bootstrapped");
                Ok((stored, applied.index))
            }
            _ => Err(already_bootstrapped(done.unwrap_or(0))),
        }
    }

    async fn acl_policies(
        &self,
        secret: Option<&str>,
        consistency: Consistency,
    ) -> Result<Read<Vec<AclPolicyListStub>>, ApiError> {
        self.acl_read(consistency, |state| {
            let caller = Caller::resolve(state, secret, self.acl_now_ms())?;
            let policies = state.acl.policies.values();
            let index = table_index(policies.clone().map(|p| p.modify_index));
            let visible = policies.filter(|p| caller.may_read_policy(&p.name)).map(AclPolicyListStub::from).collect();
            Ok((visible, index))
        })
        .await
    }

    async fn acl_policy(
        &self,
        secret: Option<&str>,
        name: &str,
        consistency: Consistency,
    ) -> Result<Read<AclPolicy>, ApiError> {
        self.acl_read(consistency, |state| {
            if !Caller::resolve(state, secret, self.acl_now_ms())?.may_read_policy(name) {
                return Err(ApiError::permission_denied());
            }
            let policy = state.acl.policies.get(name).ok_or_else(|| ApiError::not_found("ACL policy not found"))?;
            Ok((policy.clone(), policy.modify_index))
        })
        .await
    }

    async fn upsert_acl_policy(&self, policy: AclPolicy) -> Result<u64, ApiError> {
        self.acl_enabled()?;
        let mut errors = Vec::new();
        let name_ok = (1..=POLICY_NAME_MAX_CHARS).contains(&policy.name.len())
            && policy.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !name_ok {
            errors.push(format!("invalid name '{}'", policy.name));
        }
        match self.plugins.acl.get().validate(&policy.rules).await {
            Ok(()) => {}
            Err(PluginError::Refused { message, .. }) => errors.push(format!("failed to parse rules: {message}")),
            Err(error) => {
                tracing::error!("acl plugin failed to validate a policy: {error}");
                return Err(ApiError::internal("the ACL plugin failed; see the server log"));
            }
        }
        if policy.description.len() > POLICY_DESCRIPTION_MAX_BYTES {
            errors.push(format!("description longer than {POLICY_DESCRIPTION_MAX_BYTES}"));
        }
        if !errors.is_empty() {
            return Err(ApiError::bad_request(format!("policy 0 invalid: {}", multierror(&errors))));
        }
        let policy = AclPolicy { create_index: 0, modify_index: 0, ..policy };
        Ok(self.write(Command::UpsertAclPolicies { policies: vec![policy] }).await?.index)
    }

    async fn delete_acl_policy(&self, name: String) -> Result<u64, ApiError> {
        self.acl_enabled()?;
        Ok(self.write(Command::DeleteAclPolicies { names: vec![name] }).await?.index)
    }

    async fn acl_tokens(&self, consistency: Consistency) -> Result<Read<Vec<AclTokenListStub>>, ApiError> {
        self.acl_read(consistency, |state| {
            let tokens = state.acl.tokens.values();
            let index = table_index(tokens.clone().map(|t| t.modify_index));
            Ok((tokens.map(AclTokenListStub::from).collect(), index))
        })
        .await
    }

    async fn acl_token(
        &self,
        secret: Option<&str>,
        accessor: &str,
        consistency: Consistency,
    ) -> Result<Read<AclToken>, ApiError> {
        self.acl_read(consistency, |state| {
            let caller = Caller::resolve(state, secret, self.acl_now_ms())?;
            let token = state.acl.tokens.get(accessor);
            let own = match (secret, token) {
                (Some(secret), Some(token)) => {
                    keel_state::acl::constant_time_eq(token.secret_id.as_bytes(), secret.as_bytes())
                }
                _ => false,
            };
            if caller != Caller::Management && !own {
                return Err(ApiError::permission_denied());
            }
            let token = token.ok_or_else(|| ApiError::not_found("ACL token not found"))?;
            Ok((token.clone(), token.modify_index))
        })
        .await
    }

    async fn acl_token_self(&self, secret: Option<&str>, consistency: Consistency) -> Result<Read<AclToken>, ApiError> {
        self.acl_read(consistency, |state| {
            let not_found = || ApiError::not_found("ACL token not found");
            let secret = secret.ok_or_else(not_found)?;
            let token = known_token(state, secret, self.acl_now_ms()).map_err(|_| not_found())?;
            Ok((token.clone(), token.modify_index))
        })
        .await
    }

    async fn upsert_acl_token(&self, token: AclToken) -> Result<(AclToken, u64), ApiError> {
        self.acl_enabled()?;
        let existing = match token.accessor_id.as_str() {
            "" => None,
            accessor => Some(
                self.server()?
                    .view()
                    .read(|state| state.acl.tokens.get(accessor).cloned())
                    .ok_or_else(|| ApiError::bad_request(format!("cannot find token {accessor}")))?,
            ),
        };
        let token = prepare_token(
            token,
            existing.as_ref(),
            self.acl_now_ms(),
            self.config.acl_token_min_ttl,
            self.config.acl_token_max_ttl,
        )
        .map_err(|errors| ApiError::bad_request(format!("token 0 invalid: {}", multierror(&errors))))?;
        let accessor = token.accessor_id.clone();
        let applied = self.write(Command::UpsertAclTokens { tokens: vec![token] }).await?;
        let stored = self.server()?.view().read(|state| state.acl.tokens.get(&accessor).cloned());
        let stored = stored.ok_or_else(|| ApiError::internal("the token was deleted while it was written"))?;
        Ok((stored, applied.index))
    }

    async fn delete_acl_token(&self, accessor: String) -> Result<u64, ApiError> {
        self.acl_enabled()?;
        let exists = self.server()?.view().read(|state| state.acl.tokens.contains_key(&accessor));
        if !exists {
            return Err(ApiError::bad_request(format!("Cannot delete nonexistent tokens: {accessor}")));
        }
        let applied = self.write(Command::DeleteAclTokens { accessors: vec![accessor.clone()] }).await?;
        self.acl.forget(&accessor);
        Ok(applied.index)
    }
}

impl Service {
    fn acl_enabled(&self) -> Result<(), ApiError> {
        if self.acl.enabled() { Ok(()) } else { Err(ApiError::acl_disabled()) }
    }

    /// Reads the state for an ACL endpoint.
    async fn acl_read<T>(
        &self,
        consistency: Consistency,
        read: impl FnOnce(&State) -> Result<(T, u64), ApiError>,
    ) -> Result<Read<T>, ApiError> {
        self.acl_enabled()?;
        let server = self.reader(consistency).await?;
        let (value, index) = server.view().read(read)?;
        Ok(Read { value, meta: self.meta(server, index) })
    }

    /// Nomad's reset file: bootstrapping again needs the last bootstrap's
    /// index in `<data_dir>/acl-bootstrap-reset`.
    fn check_bootstrap_reset(&self, done: u64) -> Result<u64, ApiError> {
        let specified = match self.data_dir.read_small_file(BOOTSTRAP_RESET_FILE) {
            Ok(Some(bytes)) => leading_integer(&bytes),
            Ok(None) => 0,
            Err(error) => {
                tracing::error!(%error, "read the acl bootstrap reset file");
                0
            }
        };
        match specified {
            0 => Err(already_bootstrapped(done)),
            specified if specified != done => Err(ApiError::bad_request(format!(
                "Invalid bootstrap reset index (specified {specified}, reset index: {done})"
            ))),
            specified => {
                tracing::warn!(reset_index = specified, "acl bootstrap reset file accepted");
                Ok(specified)
            }
        }
    }
}

fn already_bootstrapped(done: u64) -> ApiError {
    ApiError::bad_request(format!("ACL bootstrap already done (reset index: {done})"))
}

/// The integer at the start of a file, as Go's `Sscanf("%d")` reads it; 0
/// when there is none.
fn leading_integer(bytes: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(bytes);
    let digits: String = text.trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(0)
}

/// Nomad's token canonicalization and validation. A new token (empty
/// accessor) gets its accessor, secret, creation time and, from a TTL, its
/// expiration; an update keeps the secret and creation time of `existing`
/// and may not change its scope or expiration. Errors are listed as Nomad
/// lists them.
fn prepare_token(
    mut token: AclToken,
    existing: Option<&AclToken>,
    now_ms: i64,
    min_ttl: Duration,
    max_ttl: Duration,
) -> Result<AclToken, Vec<String>> {
    let mut errors = Vec::new();
    match existing {
        None => {
            token.accessor_id = uuid::Uuid::new_v4().to_string();
            token.secret_id = uuid::Uuid::new_v4().to_string();
            token.create_time = now_ms;
            if token.expiration_time.is_none() && !token.expiration_ttl.is_zero() {
                let ttl_ms = i64::try_from(token.expiration_ttl.as_millis()).unwrap_or(i64::MAX);
                token.expiration_time = Some(now_ms.saturating_add(ttl_ms));
            }
        }
        Some(existing) => {
            token.secret_id.clone_from(&existing.secret_id);
            token.create_time = existing.create_time;
        }
    }
    if token.name.len() > TOKEN_NAME_MAX_BYTES {
        errors.push("token name too long".to_owned());
    }
    match token.token_type.as_str() {
        CLIENT if token.policies.is_empty() => errors.push("client token missing policies".to_owned()),
        MANAGEMENT if !token.policies.is_empty() => {
            errors.push("management token cannot be associated with policies".to_owned());
        }
        CLIENT | MANAGEMENT => {}
        _ => errors.push("token type must be client or management".to_owned()),
    }
    match existing {
        None => errors.extend(expiration_errors(&token, min_ttl, max_ttl)),
        Some(existing) => errors.extend(update_errors(existing, &token)),
    }
    if errors.is_empty() { Ok(token) } else { Err(errors) }
}

/// What is wrong with a new token's expiration: it must lie between the
/// agent's minimum and maximum TTL from its creation.
fn expiration_errors(token: &AclToken, min_ttl: Duration, max_ttl: Duration) -> Vec<String> {
    let Some(expires) = token.expiration_time else { return Vec::new() };
    let mut errors = Vec::new();
    if token.create_time > expires {
        errors.push("expiration time cannot be before create time".to_owned());
    }
    let expires_in = Duration::from_millis(u64::try_from(expires - token.create_time).unwrap_or(0));
    let go = keel_api::duration::format;
    if expires_in > max_ttl {
        errors.push(format!(
            "expiration time cannot be more than {} in the future (was {})",
            go(max_ttl),
            go(expires_in)
        ));
    } else if expires_in < min_ttl {
        errors.push(format!(
            "expiration time cannot be less than {} in the future (was {})",
            go(min_ttl),
            go(expires_in)
        ));
    }
    errors
}

/// What an update may not change of an existing token.
fn update_errors(existing: &AclToken, token: &AclToken) -> Vec<String> {
    let mut errors = Vec::new();
    if existing.global != token.global {
        errors.push("cannot toggle global mode".to_owned());
    }
    if existing.expiration_ttl != token.expiration_ttl {
        errors.push("cannot update expiration TTL".to_owned());
    }
    if existing.expiration_time != token.expiration_time {
        errors.push("cannot update expiration time".to_owned());
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);
    const MAX: Duration = Duration::from_secs(86_400);

    fn client(policies: &[&str]) -> AclToken {
        AclToken {
            name: "ci".into(),
            token_type: CLIENT.into(),
            policies: policies.iter().map(|p| (*p).to_owned()).collect(),
            ..AclToken::default()
        }
    }

    #[test]
    fn a_new_token_gets_fresh_ids_and_an_expiry_from_its_ttl() {
        let token = AclToken { expiration_ttl: Duration::from_secs(3600), ..client(&["ops"]) };
        let prepared = prepare_token(token, None, 1_000_000, MIN, MAX).expect("valid");
        assert!(
            uuid::Uuid::try_parse(&prepared.accessor_id).is_ok() && uuid::Uuid::try_parse(&prepared.secret_id).is_ok()
        );
        assert_ne!(prepared.accessor_id, prepared.secret_id);
        assert_eq!((prepared.create_time, prepared.expiration_time), (1_000_000, Some(4_600_000)));
    }

    #[test]
    fn invalid_tokens_are_refused_with_nomads_reasons() {
        let refused = |token: AclToken| prepare_token(token, None, 0, MIN, MAX).expect_err("invalid");
        assert_eq!(refused(client(&[])), ["client token missing policies"]);
        assert_eq!(
            refused(AclToken { token_type: MANAGEMENT.into(), ..client(&["ops"]) }),
            ["management token cannot be associated with policies"]
        );
        assert_eq!(
            refused(AclToken { token_type: "root".into(), name: "x".repeat(257), ..client(&["ops"]) }),
            ["token name too long", "token type must be client or management"]
        );
        assert_eq!(
            refused(AclToken { expiration_ttl: Duration::from_secs(1), ..client(&["ops"]) }),
            ["expiration time cannot be less than 1m0s in the future (was 1s)"]
        );
        assert_eq!(
            refused(AclToken { expiration_ttl: Duration::from_secs(90_000), ..client(&["ops"]) }),
            ["expiration time cannot be more than 24h0m0s in the future (was 25h0m0s)"]
        );
    }

    #[test]
    fn an_update_keeps_the_secret_and_may_not_change_scope_or_expiry() {
        let created = prepare_token(client(&["ops"]), None, 5, MIN, MAX).expect("valid");
        let update = AclToken { name: "renamed".into(), secret_id: "forged".into(), ..created.clone() };
        let updated = prepare_token(update, Some(&created), 99, MIN, MAX).expect("valid");
        assert_eq!((updated.secret_id.as_str(), updated.create_time), (created.secret_id.as_str(), 5));
        let toggled = AclToken { global: true, expiration_time: Some(7), ..created.clone() };
        assert_eq!(
            prepare_token(toggled, Some(&created), 99, MIN, MAX).expect_err("invalid"),
            ["cannot toggle global mode", "cannot update expiration time"]
        );
    }

    #[test]
    fn errors_read_like_go_multierror() {
        assert_eq!(multierror(&["a".into()]), "1 error occurred:\n\t* a\n\n");
        assert_eq!(multierror(&["a".into(), "b".into()]), "2 errors occurred:\n\t* a\n\t* b\n\n");
    }

    #[test]
    fn the_reset_file_is_read_like_sscanf() {
        assert_eq!(leading_integer(b"42\n"), 42);
        assert_eq!(leading_integer(b"  7 trailing"), 7);
        assert_eq!(leading_integer(b"none"), 0);
        assert_eq!(leading_integer(b""), 0);
    }
}
