//! Constraint targets: `${attr.x}`, `${meta.x}`, `${node.*}` or literals,
//! resolved against one node the way Nomad's `resolveTarget` does.

use keel_sdk::scheduler::Node;

/// The pool a node without one belongs to.
pub(crate) const DEFAULT_POOL: &str = "default";

/// A parsed target, resolved per node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Literal(String),
    Attribute(String),
    Meta(String),
    Datacenter,
    Class,
    Pool,
    UniqueName,
    UniqueId,
    /// An interpolation Nomad does not know; it resolves to nothing.
    Unknown,
}

impl Target {
    pub(crate) fn parse(text: &str) -> Self {
        if !text.starts_with("${") {
            return Target::Literal(text.to_owned());
        }
        let Some(inner) = text.strip_prefix("${").and_then(|rest| rest.strip_suffix('}')) else {
            return Target::Unknown;
        };
        match inner {
            "node.datacenter" => Target::Datacenter,
            "node.class" => Target::Class,
            "node.pool" => Target::Pool,
            "node.unique.name" => Target::UniqueName,
            "node.unique.id" => Target::UniqueId,
            _ => {
                if let Some(key) = inner.strip_prefix("attr.") {
                    Target::Attribute(key.to_owned())
                } else if let Some(key) = inner.strip_prefix("meta.") {
                    Target::Meta(key.to_owned())
                } else {
                    Target::Unknown
                }
            }
        }
    }

    /// The target's value on `node`, or `None` when the node lacks it.
    pub(crate) fn resolve<'n>(&'n self, node: &'n Node) -> Option<&'n str> {
        match self {
            Target::Literal(text) => Some(text),
            Target::Attribute(key) => lookup(&node.attributes, key),
            Target::Meta(key) => lookup(&node.meta, key),
            Target::Datacenter => Some(&node.datacenter),
            Target::Class => Some(&node.node_class),
            Target::Pool => Some(node_pool(node)),
            Target::UniqueName => Some(&node.name),
            Target::UniqueId => Some(&node.id),
            Target::Unknown => None,
        }
    }
}

/// A node's pool; nodes registered without one are in the default pool.
pub(crate) fn node_pool(node: &Node) -> &str {
    if node.node_pool.is_empty() { DEFAULT_POOL } else { &node.node_pool }
}

fn lookup<'n>(pairs: &'n [(String, String)], key: &str) -> Option<&'n str> {
    pairs.iter().find(|(name, _)| name == key).map(|(_, value)| value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::node;

    #[test]
    fn every_target_kind_resolves() {
        let mut n = node("n1");
        n.attributes.push(("kernel.name".into(), "linux".into()));
        n.meta.push(("rack".into(), "r1".into()));
        n.node_class = "large".into();
        let resolve = |text: &str| Target::parse(text).resolve(&n).map(str::to_owned);
        assert_eq!(resolve("${attr.kernel.name}").as_deref(), Some("linux"));
        assert_eq!(resolve("${attr.missing}"), None);
        assert_eq!(resolve("${meta.rack}").as_deref(), Some("r1"));
        assert_eq!(resolve("${meta.missing}"), None);
        assert_eq!(resolve("${node.datacenter}").as_deref(), Some("dc1"));
        assert_eq!(resolve("${node.class}").as_deref(), Some("large"));
        assert_eq!(resolve("${node.pool}").as_deref(), Some("default"));
        assert_eq!(resolve("${node.unique.name}").as_deref(), Some("n1.local"));
        assert_eq!(resolve("${node.unique.id}").as_deref(), Some("n1"));
        assert_eq!(resolve("linux").as_deref(), Some("linux"));
        assert_eq!(resolve("").as_deref(), Some(""));
        assert_eq!(resolve("${node.region}"), None);
        assert_eq!(resolve("${attr.unterminated"), None);
    }

    #[test]
    fn a_named_pool_is_its_own() {
        let mut n = node("n1");
        n.node_pool = "gpu".into();
        assert_eq!(Target::Pool.resolve(&n), Some("gpu"));
    }
}
