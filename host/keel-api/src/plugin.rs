//! The plugin registry's wire shapes: `/v1/operator/plugins`,
//! `/v1/operator/plugin/:kind` and `/v1/agent/plugins`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The prefix of what a plugin signature signs: the bytes signed are
/// `keel-plugin-v1\n<kind>\n<hex sha256 of the component>`.
pub const SIGNATURE_CONTEXT: &str = "keel-plugin-v1";

/// What an Ed25519 signature of a plugin covers.
pub fn signed_message(kind: &str, digest: &str) -> String {
    format!("{SIGNATURE_CONTEXT}\n{kind}\n{digest}")
}

/// What a setting's value is shown as when its key names a secret.
pub const REDACTED: &str = "<redacted>";

/// Whether a setting's key names a secret, whose value is never listed.
pub fn is_secret_setting(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["key", "secret", "token", "password"].iter().any(|word| key.contains(word))
}

/// Reads the `config { ... }` of a `plugin` block: each value a string,
/// a boolean or a number, kept as its text (`enabled = true` is `"true"`),
/// so that a plugin's `configure` gets what the operator wrote.
pub fn deserialize_settings<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Flag(bool),
        Number(serde_json::Number),
    }
    let settings = BTreeMap::<String, Scalar>::deserialize(deserializer)?;
    Ok(settings
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                Scalar::Text(text) => text,
                Scalar::Flag(flag) => flag.to_string(),
                Scalar::Number(number) => number.to_string(),
            };
            (key, text)
        })
        .collect())
}

/// `PUT /v1/operator/plugin/:kind`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PluginInstallRequest {
    /// The component, standard base64.
    pub component: String,
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// An Ed25519 signature, standard base64.
    #[serde(default)]
    pub signature: Option<String>,
    /// `active` (the default) or `shadow`.
    #[serde(default)]
    pub mode: Option<String>,
}

/// The answer to an install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginInstallResponse {
    pub kind: String,
    pub digest: String,
    pub name: String,
    pub version: String,
    pub mode: String,
    pub index: u64,
}

/// The answer to promote, rollback and remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginIndexResponse {
    pub index: u64,
}

/// One installed version as listings show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginVersion {
    pub digest: String,
    pub name: String,
    pub version: String,
    pub contract: String,
    pub install_index: u64,
    pub signer: Option<String>,
    /// Values of secret settings are [`REDACTED`].
    pub settings: BTreeMap<String, String>,
}

/// A kept earlier version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginHistoryEntry {
    pub digest: String,
    pub name: String,
    pub version: String,
    pub install_index: u64,
}

/// One kind in `GET /v1/operator/plugins`: what enforces cluster-wide.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginEntry {
    pub kind: String,
    /// `installed`, or `server` when nothing is installed and each server
    /// enforces its own configured or embedded plugin (see `Servers`).
    pub source: String,
    /// `active` while an installed plugin enforces.
    pub mode: String,
    /// The installed plugin; `None` when the servers' own enforce.
    #[serde(flatten)]
    pub installed: Option<PluginVersion>,
    /// The index of the entry that last changed which plugin enforces.
    pub active_index: u64,
    pub shadow: Option<PluginVersion>,
    pub history: Vec<PluginHistoryEntry>,
    /// The last automatic rollback of a plugin on probation, if any.
    pub rolled_back: Option<PluginRollback>,
}

/// Why the leader took a plugin on probation back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginRollback {
    /// The plugin taken back.
    pub digest: String,
    pub reason: String,
    /// The index of the rollback.
    pub index: u64,
}

/// A plugin's counters on one server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginCounters {
    pub calls: u64,
    pub errors: u64,
    pub traps: u64,
    pub timeouts: u64,
    pub memory_limits: u64,
    pub busy: u64,
    pub latency_p50_us: u64,
    pub latency_p99_us: u64,
    /// Calls by latency: entry `i` counts calls that took under `2^i`
    /// nanoseconds and at least `2^(i-1)`.
    pub latency_buckets: Vec<u64>,
}

/// One agent's active plugin of one kind: `GET /v1/agent/plugins`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentPlugin {
    pub kind: String,
    pub name: String,
    pub version: String,
    /// The contract package the component speaks, e.g. `keel:plugin@0.3.0`.
    #[serde(default)]
    pub contract: String,
    pub digest: String,
    /// `installed`, `configured` or `embedded`.
    pub source: String,
    /// The registry index it was activated at; 0 unless installed.
    pub active_index: u64,
    /// Why the registry's plugin could not be activated here, if it could not.
    pub error: Option<String>,
    pub counters: PluginCounters,
    /// The shadow beside it, if the registry has one for the kind.
    #[serde(default)]
    pub shadow: Option<AgentShadow>,
}

/// One agent's shadow plugin of one kind, and how its answers compared
/// with the active plugin's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentShadow {
    pub name: String,
    pub version: String,
    /// The contract package the component speaks.
    #[serde(default)]
    pub contract: String,
    pub digest: String,
    /// The registry index it was installed at.
    pub install_index: u64,
    /// Why it could not be loaded here, if it could not.
    pub error: Option<String>,
    pub counters: PluginCounters,
    pub agreements: u64,
    pub disagreements: u64,
    /// Comparisons the shadow could not answer (trap, timeout, error).
    pub faults: u64,
    /// The last disagreements and faults, newest first.
    pub recent_disagreements: Vec<ShadowDisagreement>,
}

/// One input on which a shadow answered otherwise than the active plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ShadowDisagreement {
    /// RFC 3339.
    pub time: String,
    /// The question, summarized; never a secret.
    pub input: String,
    pub active: String,
    pub shadow: String,
}

/// One server in `GET /v1/operator/plugin/:kind`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginServerStatus {
    pub name: String,
    pub address: String,
    /// The server's active plugin of the kind; `None` when it did not answer.
    pub active: Option<AgentPlugin>,
    /// Why the server could not be asked.
    pub error: Option<String>,
}

/// `GET /v1/operator/plugin/:kind`: the entry and every server's view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginStatus {
    #[serde(flatten)]
    pub entry: PluginEntry,
    pub servers: Vec<PluginServerStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_settings_keep_strings_booleans_and_numbers_as_their_text() {
        #[derive(Deserialize)]
        struct Block {
            #[serde(deserialize_with = "deserialize_settings")]
            config: BTreeMap<String, String>,
        }
        let block: Block =
            serde_json::from_str(r#"{"config": {"enabled": true, "limit": 5, "name": "x"}}"#).expect("parses");
        let expected = [("enabled", "true"), ("limit", "5"), ("name", "x")];
        assert_eq!(block.config, expected.map(|(k, v)| (k.to_owned(), v.to_owned())).into());
        let nested = serde_json::from_str::<Block>(r#"{"config": {"list": [1]}}"#);
        assert!(nested.is_err(), "only scalars");
    }

    #[test]
    fn secret_settings_are_named_by_their_keys() {
        for secret in ["public_key", "API_TOKEN", "Secret", "db_password", "keys"] {
            assert!(is_secret_setting(secret), "{secret}");
        }
        for plain in ["zones", "mode", "threshold"] {
            assert!(!is_secret_setting(plain), "{plain}");
        }
    }

    #[test]
    fn the_signed_message_names_kind_and_digest() {
        assert_eq!(signed_message("acl", "ab12"), "keel-plugin-v1\nacl\nab12");
    }

    #[test]
    fn an_install_request_refuses_unknown_fields() {
        let parsed: Result<PluginInstallRequest, _> = serde_json::from_str(r#"{"Component":"AA==","Bogus":1}"#);
        assert!(parsed.is_err());
        let parsed: PluginInstallRequest = serde_json::from_str(r#"{"Component":"AA=="}"#).expect("minimal");
        assert_eq!((parsed.mode, parsed.signature, parsed.settings.len()), (None, None, 0));
    }
}
