//! The plugin registry: components installed through Raft, per kind, with
//! the versions kept for rollback.
//!
//! The registry holds what an operator installed and nothing else: which
//! plugin a server enforces when nothing is installed (its configured or
//! embedded one) is the server's business. Verification happens before the
//! write; applying an entry only moves versions between the slots below,
//! so every server ends with the same registry at the same index.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::command::Outcome;
use crate::state::{Changed, Record};

/// How many versions of one kind are kept: the active one and this many
/// less one previous ones.
pub const VERSIONS_KEPT: usize = 5;

/// A component's bytes, shared between the state's copies and written as
/// standard base64 wherever the state is serialized (the log, the state
/// machine, snapshots), not as a JSON array of numbers.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ComponentBytes(pub Arc<Vec<u8>>);

impl std::fmt::Debug for ComponentBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ComponentBytes({} bytes)", self.0.len())
    }
}

impl Serialize for ComponentBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(self.0.as_slice()))
    }
}

impl<'de> Deserialize<'de> for ComponentBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom)?;
        Ok(ComponentBytes(Arc::new(bytes)))
    }
}

/// One installed version of a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledPlugin {
    pub component: ComponentBytes,
    /// Hex SHA-256 of the component.
    pub digest: String,
    /// The name and version the plugin reports in `info`.
    pub name: String,
    pub version: String,
    /// The contract package the component speaks, such as `keel:plugin@0.3.0`.
    pub contract: String,
    /// What the plugin's `configure` is given, in order.
    pub settings: Vec<(String, String)>,
    /// The id of the trusted key that signed it, when one did.
    pub signer: Option<String>,
    /// The Raft index of the entry that installed it; set when applied.
    #[serde(default)]
    pub install_index: u64,
}

/// Whether an install enforces at once or only runs beside the active one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PluginMode {
    Active,
    Shadow,
}

/// What is installed for one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindRegistry {
    /// The installed plugin that enforces; `None` falls back to the
    /// server's configured or embedded plugin.
    pub active: Option<InstalledPlugin>,
    /// A candidate running beside the active plugin.
    pub shadow: Option<InstalledPlugin>,
    /// Earlier active versions, newest first.
    pub history: Vec<InstalledPlugin>,
    /// The index of the entry that last changed which plugin enforces.
    pub active_index: u64,
    /// Whether the active plugin was made active by its install or a
    /// promotion (not by a rollback), which puts it on probation.
    #[serde(default)]
    pub on_probation: bool,
    /// The last automatic rollback of a plugin on probation.
    #[serde(default)]
    pub rolled_back: Option<ProbationRollback>,
}

/// Why and when the leader took a plugin on probation back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbationRollback {
    /// The plugin taken back.
    pub digest: String,
    pub reason: String,
    pub index: u64,
}

impl KindRegistry {
    /// Makes `next` the enforcing plugin (`None`: the fallback) at `index`,
    /// keeping the one it replaces first in the history; `probation` says
    /// whether it starts a probation.
    fn activate(&mut self, next: Option<InstalledPlugin>, index: u64, probation: bool) {
        self.on_probation = probation && next.is_some();
        if let Some(previous) = std::mem::replace(&mut self.active, next) {
            self.history.retain(|kept| kept.digest != previous.digest);
            self.history.insert(0, previous);
        }
        if let Some(active) = &self.active {
            let digest = active.digest.clone();
            self.history.retain(|kept| kept.digest != digest);
        }
        self.history.truncate(VERSIONS_KEPT - 1);
        self.active_index = index;
    }

    fn is_empty(&self) -> bool {
        self.active.is_none() && self.shadow.is_none() && self.history.is_empty()
    }
}

/// Every kind's registry, by kind name (`acl`, `autopilot`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRegistry {
    pub kinds: BTreeMap<String, KindRegistry>,
}

impl PluginRegistry {
    pub fn get(&self, kind: &str) -> Option<&KindRegistry> {
        self.kinds.get(kind)
    }

    /// Installs `plugin` for `kind` at `index`.
    pub(crate) fn install(
        &mut self,
        index: u64,
        kind: String,
        plugin: InstalledPlugin,
        mode: PluginMode,
    ) -> (Outcome, Changed) {
        let plugin = InstalledPlugin { install_index: index, ..plugin };
        let registry = self.kinds.entry(kind.clone()).or_default();
        match mode {
            PluginMode::Active => registry.activate(Some(plugin), index, true),
            PluginMode::Shadow => registry.shadow = Some(plugin),
        }
        (Outcome::Applied, changed(kind))
    }

    /// The shadow becomes the active plugin; refused when there is none.
    pub(crate) fn promote(&mut self, index: u64, kind: String) -> (Outcome, Changed) {
        let Some(registry) = self.kinds.get_mut(&kind) else { return refused() };
        let Some(shadow) = registry.shadow.take() else { return refused() };
        registry.activate(Some(shadow), index, true);
        (Outcome::Cas(true), changed(kind))
    }

    /// The version with `digest`, or without one the previous version (the
    /// fallback when there is none), becomes active. Refused when nothing is
    /// installed or no kept version has that digest.
    pub(crate) fn rollback(&mut self, index: u64, kind: String, digest: Option<&str>) -> (Outcome, Changed) {
        let Some(registry) = self.kinds.get_mut(&kind) else { return refused() };
        let position = match digest {
            Some(digest) => match registry.history.iter().position(|kept| kept.digest == digest) {
                Some(position) => Some(position),
                None => return refused(),
            },
            None if !registry.history.is_empty() => Some(0),
            None if registry.active.is_some() => None,
            None => return refused(),
        };
        let next = position.map(|position| registry.history.remove(position));
        registry.activate(next, index, false);
        (Outcome::Cas(true), changed(kind))
    }

    /// Removes the installed and the shadow plugin, so the fallback
    /// enforces; the removed version stays in the history for a rollback.
    pub(crate) fn probation_rollback(
        &mut self,
        index: u64,
        kind: String,
        digest: &str,
        reason: String,
    ) -> (Outcome, Changed) {
        let Some(registry) = self.kinds.get_mut(&kind) else { return refused() };
        if !registry.on_probation || registry.active.as_ref().is_none_or(|active| active.digest != digest) {
            return refused();
        }
        let previous = (!registry.history.is_empty()).then(|| registry.history.remove(0));
        registry.activate(previous, index, false);
        registry.rolled_back = Some(ProbationRollback { digest: digest.to_owned(), reason, index });
        (Outcome::Cas(true), changed(kind))
    }

    pub(crate) fn remove(&mut self, index: u64, kind: String) -> (Outcome, Changed) {
        let Some(registry) = self.kinds.get_mut(&kind) else { return refused() };
        if registry.active.is_none() && registry.shadow.is_none() {
            return refused();
        }
        registry.shadow = None;
        registry.activate(None, index, false);
        (Outcome::Cas(true), changed(kind))
    }

    /// Stores or drops one kind's record, as read back from storage.
    pub(crate) fn put(&mut self, kind: String, registry: KindRegistry) {
        match registry.is_empty() {
            true => self.kinds.remove(&kind),
            false => self.kinds.insert(kind, registry),
        };
    }
}

fn changed(kind: String) -> Changed {
    Changed::Some(vec![Record::Plugin(kind)])
}

fn refused() -> (Outcome, Changed) {
    (Outcome::Cas(false), Changed::Some(Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(digest: &str) -> InstalledPlugin {
        InstalledPlugin {
            component: ComponentBytes(Arc::new(digest.as_bytes().to_vec())),
            digest: digest.into(),
            name: format!("plugin-{digest}"),
            version: "1.0.0".into(),
            contract: "keel:plugin@0.1.0".into(),
            settings: vec![("k".into(), "v".into())],
            signer: None,
            install_index: 0,
        }
    }

    fn active(registry: &PluginRegistry) -> Option<&str> {
        registry.get("acl")?.active.as_ref().map(|p| p.digest.as_str())
    }

    fn history(registry: &PluginRegistry) -> Vec<&str> {
        registry.get("acl").map_or(Vec::new(), |r| r.history.iter().map(|p| p.digest.as_str()).collect())
    }

    #[test]
    fn installs_keep_five_versions_newest_first() {
        let mut registry = PluginRegistry::default();
        for (index, digest) in ["a", "b", "c", "d", "e", "f"].into_iter().enumerate() {
            registry.install(10 + index as u64, "acl".into(), plugin(digest), PluginMode::Active);
        }
        assert_eq!(active(&registry), Some("f"));
        assert_eq!(history(&registry), ["e", "d", "c", "b"]);
        let acl = registry.get("acl").expect("installed");
        assert_eq!((acl.active_index, acl.active.as_ref().map(|p| p.install_index)), (15, Some(15)));
    }

    #[test]
    fn rollback_goes_to_the_previous_version_then_to_the_fallback() {
        let mut registry = PluginRegistry::default();
        registry.install(3, "acl".into(), plugin("a"), PluginMode::Active);
        registry.install(4, "acl".into(), plugin("b"), PluginMode::Active);
        assert_eq!(registry.rollback(5, "acl".into(), None).0, Outcome::Cas(true));
        assert_eq!((active(&registry), history(&registry)), (Some("a"), vec!["b"]));
        assert_eq!(registry.rollback(6, "acl".into(), Some("b")).0, Outcome::Cas(true));
        assert_eq!((active(&registry), history(&registry)), (Some("b"), vec!["a"]));
        assert_eq!(registry.rollback(7, "acl".into(), Some("zzz")), refused(), "an unknown digest");
        assert_eq!(registry.rollback(8, "acl".into(), None).0, Outcome::Cas(true));
        assert_eq!(registry.get("acl").map(|r| r.active_index), Some(8));
        assert_eq!(registry.rollback(9, "autopilot".into(), None), refused(), "nothing installed");
    }

    #[test]
    fn the_only_version_rolls_back_to_the_fallback() {
        let mut registry = PluginRegistry::default();
        registry.install(3, "acl".into(), plugin("a"), PluginMode::Active);
        assert_eq!(registry.rollback(4, "acl".into(), None).0, Outcome::Cas(true));
        assert_eq!((active(&registry), history(&registry)), (None, vec!["a"]));
        assert_eq!(registry.rollback(5, "acl".into(), None).0, Outcome::Cas(true), "and forward again");
        assert_eq!(active(&registry), Some("a"));
    }

    #[test]
    fn a_probation_rollback_takes_back_only_the_plugin_it_names() {
        let mut registry = PluginRegistry::default();
        registry.install(3, "acl".into(), plugin("a"), PluginMode::Active);
        registry.install(4, "acl".into(), plugin("b"), PluginMode::Active);
        assert_eq!(registry.probation_rollback(5, "acl".into(), "a", "traps".into()), refused(), "a is not active");
        assert_eq!(registry.probation_rollback(6, "acl".into(), "b", "6 traps".into()).0, Outcome::Cas(true));
        assert_eq!((active(&registry), history(&registry)), (Some("a"), vec!["b"]));
        let note = registry.get("acl").and_then(|r| r.rolled_back.clone()).expect("noted");
        assert_eq!((note.digest.as_str(), note.reason.as_str(), note.index), ("b", "6 traps", 6));
        assert_eq!(
            registry.probation_rollback(7, "acl".into(), "a", "traps".into()),
            refused(),
            "what a rollback made active is not on probation"
        );
        registry.rollback(8, "acl".into(), None);
        registry.install(9, "acl".into(), plugin("c"), PluginMode::Active);
        registry.rollback(10, "acl".into(), None);
        assert_eq!(
            registry.probation_rollback(11, "acl".into(), "b", "traps".into()),
            refused(),
            "nor one rolled forward"
        );
    }

    #[test]
    fn a_shadow_enforces_only_once_promoted() {
        let mut registry = PluginRegistry::default();
        registry.install(3, "acl".into(), plugin("a"), PluginMode::Active);
        registry.install(4, "acl".into(), plugin("s"), PluginMode::Shadow);
        assert_eq!(active(&registry), Some("a"));
        assert_eq!(registry.get("acl").map(|r| r.active_index), Some(3));
        assert_eq!(registry.promote(5, "acl".into()).0, Outcome::Cas(true));
        assert_eq!((active(&registry), history(&registry)), (Some("s"), vec!["a"]));
        assert_eq!(registry.promote(6, "acl".into()), refused(), "no shadow left");
    }

    #[test]
    fn remove_falls_back_and_keeps_the_version() {
        let mut registry = PluginRegistry::default();
        assert_eq!(registry.remove(2, "acl".into()), refused());
        registry.install(3, "acl".into(), plugin("a"), PluginMode::Active);
        registry.install(4, "acl".into(), plugin("s"), PluginMode::Shadow);
        assert_eq!(registry.remove(5, "acl".into()).0, Outcome::Cas(true));
        let acl = registry.get("acl").expect("kept");
        assert!(acl.active.is_none() && acl.shadow.is_none());
        assert_eq!(history(&registry), ["a"]);
        assert_eq!(registry.remove(6, "acl".into()), refused(), "nothing left to remove");
    }

    #[test]
    fn component_bytes_are_base64_in_json() {
        let json = serde_json::to_string(&plugin("ab")).expect("serializes");
        assert!(json.contains(r#""component":"YWI=""#), "{json}");
        let back: InstalledPlugin = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, plugin("ab"));
    }
}
