//! `/v1/acl/...` shapes: policies, tokens and the bootstrap request.
//!
//! Times are kept as milliseconds since the Unix epoch and written as RFC 3339
//! in UTC, as Nomad writes them. A token's `SecretID` is never printed by
//! `Debug`, so a token that reaches a log line does not leak its secret.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// The token type that passes every check.
pub const MANAGEMENT: &str = "management";
/// The token type whose rights come from its policies.
pub const CLIENT: &str = "client";
/// The policy whose rules apply to requests without a token.
pub const ANONYMOUS_POLICY: &str = "anonymous";

/// An ACL policy: `GET/POST /v1/acl/policy/:name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclPolicy {
    pub name: String,
    pub description: String,
    /// The rule document, in the language of the active ACL plugin.
    pub rules: String,
    pub create_index: u64,
    pub modify_index: u64,
}

/// One entry of `GET /v1/acl/policies`: a policy without its rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AclPolicyListStub {
    pub name: String,
    pub description: String,
    pub create_index: u64,
    pub modify_index: u64,
}

impl From<&AclPolicy> for AclPolicyListStub {
    fn from(policy: &AclPolicy) -> Self {
        Self {
            name: policy.name.clone(),
            description: policy.description.clone(),
            create_index: policy.create_index,
            modify_index: policy.modify_index,
        }
    }
}

/// An ACL token, as `POST /v1/acl/token` takes it and as the token
/// endpoints answer with it. In a create request only `Name`, `Type`,
/// `Policies`, `Global` and `ExpirationTTL` or `ExpirationTime` count; the
/// server sets the rest.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclToken {
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    #[serde(rename = "SecretID")]
    pub secret_id: String,
    pub name: String,
    /// [`CLIENT`] or [`MANAGEMENT`].
    #[serde(rename = "Type")]
    pub token_type: String,
    /// Policy names; written as `null` when there are none, as Nomad does.
    #[serde(with = "null_when_empty")]
    pub policies: Vec<String>,
    pub global: bool,
    #[serde(with = "crate::time::rfc3339")]
    pub create_time: i64,
    #[serde(with = "crate::time::optional_rfc3339", skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<i64>,
    /// Written as a Go duration, `""` when unset; read from a string or a
    /// number of nanoseconds.
    #[serde(rename = "ExpirationTTL", with = "ttl")]
    pub expiration_ttl: Duration,
    pub create_index: u64,
    pub modify_index: u64,
}

impl AclToken {
    pub fn is_management(&self) -> bool {
        self.token_type == MANAGEMENT
    }

    /// Whether the token has expired at `now_ms` (milliseconds since the
    /// epoch). A token without an expiration time never expires.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expiration_time.is_some_and(|expires| expires <= now_ms)
    }
}

impl std::fmt::Debug for AclToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AclToken")
            .field("accessor_id", &self.accessor_id)
            .field("secret_id", &"<redacted>")
            .field("name", &self.name)
            .field("token_type", &self.token_type)
            .field("policies", &self.policies)
            .field("expiration_time", &self.expiration_time)
            .field("modify_index", &self.modify_index)
            .finish_non_exhaustive()
    }
}

/// One entry of `GET /v1/acl/tokens`: a token without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AclTokenListStub {
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    pub name: String,
    #[serde(rename = "Type")]
    pub token_type: String,
    #[serde(with = "null_when_empty")]
    pub policies: Vec<String>,
    pub global: bool,
    #[serde(with = "crate::time::rfc3339")]
    pub create_time: i64,
    #[serde(with = "crate::time::optional_rfc3339", skip_serializing_if = "Option::is_none", default)]
    pub expiration_time: Option<i64>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl From<&AclToken> for AclTokenListStub {
    fn from(token: &AclToken) -> Self {
        Self {
            accessor_id: token.accessor_id.clone(),
            name: token.name.clone(),
            token_type: token.token_type.clone(),
            policies: token.policies.clone(),
            global: token.global,
            create_time: token.create_time,
            expiration_time: token.expiration_time,
            create_index: token.create_index,
            modify_index: token.modify_index,
        }
    }
}

/// The optional body of `POST /v1/acl/bootstrap`: an operator-chosen secret
/// (a UUID) for the management token.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BootstrapRequest {
    pub bootstrap_secret: String,
}

impl std::fmt::Debug for BootstrapRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapRequest").finish_non_exhaustive()
    }
}

/// A list written as `null` when it is empty (Go's nil slice), read from a
/// list or `null`.
mod null_when_empty {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(items: &[String], serializer: S) -> Result<S::Ok, S::Error> {
        if items.is_empty() { serializer.serialize_none() } else { items.serialize(serializer) }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
        Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
    }
}

/// `ExpirationTTL`: Nomad writes `""` for none and a Go duration otherwise,
/// and reads either a duration string or a number of nanoseconds.
mod ttl {
    use super::*;

    pub fn serialize<S: Serializer>(ttl: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        if ttl.is_zero() {
            serializer.serialize_str("")
        } else {
            serializer.serialize_str(&crate::duration::format(*ttl))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Ttl {
            Text(String),
            Nanos(u64),
            Null(()),
        }
        match Ttl::deserialize(deserializer)? {
            Ttl::Text(text) if text.is_empty() => Ok(Duration::ZERO),
            Ttl::Text(text) => {
                crate::duration::parse(&text).map_err(|e| de::Error::custom(format!("ExpirationTTL: {e}")))
            }
            Ttl::Nanos(nanos) => {
                crate::duration::from_nanos(nanos).map_err(|e| de::Error::custom(format!("ExpirationTTL: {e}")))
            }
            Ttl::Null(()) => Ok(Duration::ZERO),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bootstrap_token() -> AclToken {
        AclToken {
            accessor_id: "b780e702-98ce-521f-2e5f-c6b87de05b24".into(),
            secret_id: "3f4a0fcd-7c42-773c-25db-2d31ba0c05fe".into(),
            name: "Bootstrap Token".into(),
            token_type: MANAGEMENT.into(),
            global: true,
            create_time: 1_503_528_434_695,
            create_index: 7,
            modify_index: 7,
            ..AclToken::default()
        }
    }

    #[test]
    fn a_token_has_nomads_shape() {
        let value = serde_json::to_value(bootstrap_token()).expect("serializes");
        assert_eq!(
            value,
            json!({
                "AccessorID": "b780e702-98ce-521f-2e5f-c6b87de05b24",
                "SecretID": "3f4a0fcd-7c42-773c-25db-2d31ba0c05fe",
                "Name": "Bootstrap Token", "Type": "management", "Policies": null, "Global": true,
                "CreateTime": "2017-08-23T22:47:14.695Z", "ExpirationTTL": "",
                "CreateIndex": 7, "ModifyIndex": 7
            })
        );
        let back: AclToken = serde_json::from_value(value).expect("reads back");
        assert_eq!(back, bootstrap_token());
    }

    #[test]
    fn a_create_request_reads_ttls_as_nomad_clients_send_them() {
        let from_go: AclToken = serde_json::from_value(json!({
            "Name": "ci", "Type": "client", "Policies": ["readonly"], "Global": false,
            "CreateTime": "0001-01-01T00:00:00Z", "ExpirationTTL": "1h30m"
        }))
        .expect("reads");
        assert_eq!(from_go.expiration_ttl, Duration::from_secs(5400));
        let nanos: AclToken = serde_json::from_value(json!({"ExpirationTTL": 60_000_000_000u64})).expect("reads");
        assert_eq!(nanos.expiration_ttl, Duration::from_secs(60));
        let bad = serde_json::from_value::<AclToken>(json!({"ExpirationTTL": "soon"}));
        assert!(bad.is_err());
    }

    #[test]
    fn ttls_beyond_gos_range_are_refused() {
        for ttl in [json!("5000000h"), json!("9223372036854775808ns"), json!(9_223_372_036_854_775_808u64)] {
            let error = serde_json::from_value::<AclToken>(json!({"ExpirationTTL": ttl})).expect_err("too long");
            assert!(error.to_string().starts_with("ExpirationTTL: "), "{ttl}: {error}");
        }
        let longest: AclToken =
            serde_json::from_value(json!({"ExpirationTTL": "9223372036854775807ns"})).expect("fits");
        assert_eq!(longest.expiration_ttl, Duration::from_nanos(i64::MAX as u64));
    }

    #[test]
    fn listings_and_debug_never_carry_the_secret() {
        let token = bootstrap_token();
        let stub = serde_json::to_string(&AclTokenListStub::from(&token)).expect("serializes");
        assert!(!stub.contains(&token.secret_id) && !stub.contains("SecretID"), "{stub}");
        assert!(!format!("{token:?}").contains(&token.secret_id));
    }

    #[test]
    fn expiry_is_inclusive_and_absent_means_never() {
        let mut token = bootstrap_token();
        assert!(!token.is_expired(i64::MAX));
        token.expiration_time = Some(1_000);
        assert!(!token.is_expired(999));
        assert!(token.is_expired(1_000));
    }
}
