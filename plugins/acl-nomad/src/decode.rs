//! Gives a parsed document its meaning: which blocks and attributes exist,
//! which values they take, and what the shorthands expand to. Every mistake
//! is an error naming the block it is in; nothing unknown is ignored, since
//! a misspelt rule that silently grants nothing is hard to notice.

use crate::capability::{CapSet, Grant, PolicyName, Scope};
use crate::document::{Attribute, Block, Item, Value, ValueKind};
use crate::error::RuleError;
use crate::rules::{NamedRule, Rules, VariablePath};

const TOP_LEVEL_BLOCKS: &str = "namespace, node_pool, host_volume, agent, node, operator, quota or plugin";

/// Builds the rules of a document from its items.
pub fn decode(items: &[Item]) -> Result<Rules, RuleError> {
    let mut rules = Rules::default();
    for item in items {
        let block = match item {
            Item::Block(block) => block,
            Item::Attribute(attribute) => {
                return Err(RuleError::new(
                    attribute.at,
                    format!(
                        "unexpected attribute {:?} outside any block; rules are blocks such as {TOP_LEVEL_BLOCKS}",
                        attribute.name
                    ),
                ));
            }
        };
        match block.name.as_str() {
            "namespace" => rules.namespaces.push(named(block, Scope::Namespace)?),
            "node_pool" => rules.node_pools.push(named(block, Scope::NodePool)?),
            "host_volume" => rules.host_volumes.push(named(block, Scope::HostVolume)?),
            "agent" => set_once(&mut rules.agent, block, false)?,
            "node" => set_once(&mut rules.node, block, false)?,
            "operator" => set_once(&mut rules.operator, block, false)?,
            "quota" => set_once(&mut rules.quota, block, false)?,
            "plugin" => set_once(&mut rules.plugin, block, true)?,
            other => {
                return Err(RuleError::new(block.at, format!("unknown block {other:?}; expected {TOP_LEVEL_BLOCKS}")));
            }
        }
    }
    Ok(rules)
}

/// Reads an `agent`, `node`, `operator`, `quota` or `plugin` block into
/// `slot`, which must still be empty: two such blocks in one policy are
/// more likely a mistake than a wish to merge them.
fn set_once(slot: &mut Option<Grant>, block: &Block, takes_list: bool) -> Result<(), RuleError> {
    let name = &block.name;
    if slot.is_some() {
        return Err(RuleError::new(block.at, format!("duplicate {name} block")));
    }
    if let Some(label) = block.labels.first() {
        return Err(RuleError::new(block.at, format!("{name} block takes no label, found {label:?}")));
    }
    let what = format!("{name} block");
    let fields = Fields::read(block, &what, &["policy"], &[])?;
    let Some(policy) = fields.attribute("policy") else {
        return Err(RuleError::new(
            block.at,
            format!("{name} block needs a policy, as in {name} {{ policy = \"read\" }}"),
        ));
    };
    let text = string(policy, &what)?;
    let grant = match PolicyName::parse(text) {
        Some(PolicyName::Deny) => Some(Grant::Deny),
        Some(PolicyName::Read) => Some(Grant::Read),
        Some(PolicyName::Write) => Some(Grant::Write),
        Some(PolicyName::List) if takes_list => Some(Grant::List),
        Some(PolicyName::List | PolicyName::Scale) | None => None,
    };
    let expected = if takes_list { "deny, list, read or write" } else { "deny, read or write" };
    *slot = Some(grant.ok_or_else(|| {
        RuleError::new(policy.value.at, format!("invalid {name} policy {text:?}; expected {expected}"))
    })?);
    Ok(())
}

/// Reads a `namespace`, `node_pool` or `host_volume` block.
fn named(block: &Block, scope: Scope) -> Result<NamedRule, RuleError> {
    let noun = scope.noun();
    let label = one_label(block, "", "default")?;
    if !scope.valid_label(label) {
        let allowed =
            if scope == Scope::NodePool { "letters, digits, '-', '_' or '*'" } else { "letters, digits, '-' or '*'" };
        return Err(RuleError::new(block.at, format!("invalid {noun} name {label:?}: use 1 to 128 {allowed}")));
    }
    let what = format!("{noun} {label:?}");
    let blocks: &[&str] = if scope == Scope::Namespace { &["variables"] } else { &[] };
    let fields = Fields::read(block, &what, &["policy", "capabilities"], blocks)?;

    let mut capabilities = CapSet::EMPTY;
    if let Some(policy) = fields.attribute("policy") {
        let text = string(policy, &what)?;
        let expected = match scope {
            Scope::Namespace => "deny, read, write or scale",
            Scope::NodePool | Scope::HostVolume | Scope::VariablePath => "deny, read or write",
        };
        let expanded = PolicyName::parse(text).and_then(|policy| scope.expand(policy)).ok_or_else(|| {
            RuleError::new(policy.value.at, format!("invalid {noun} policy {text:?} in {what}; expected {expected}"))
        })?;
        capabilities = capabilities.union(expanded);
    }
    if let Some(listed) = fields.attribute("capabilities") {
        capabilities = capabilities.union(capability_list(listed, scope, &what)?);
    }

    let mut variables = Vec::new();
    let mut seen_variables = false;
    for child in &fields.blocks {
        if seen_variables {
            return Err(RuleError::new(child.at, format!("duplicate variables block in {what}")));
        }
        seen_variables = true;
        variables = variable_paths(child, &what)?;
    }
    Ok(NamedRule { label: label.to_owned(), capabilities: scope.with_implied(capabilities), variables })
}

/// Reads `variables { path "..." { capabilities = [...] } ... }` of the
/// namespace called `what`.
fn variable_paths(block: &Block, what: &str) -> Result<Vec<VariablePath>, RuleError> {
    if let Some(label) = block.labels.first() {
        return Err(RuleError::new(block.at, format!("variables block in {what} takes no label, found {label:?}")));
    }
    let fields = Fields::read(block, &format!("the variables block of {what}"), &[], &["path"])?;
    if fields.blocks.is_empty() {
        return Err(RuleError::new(
            block.at,
            format!(
                "variables block in {what} needs at least one path block, as in path \"*\" {{ capabilities = [\"read\"] }}"
            ),
        ));
    }
    let mut paths = Vec::new();
    for path in &fields.blocks {
        let spec = one_label(path, &format!(" in {what}"), "nomad/jobs/*")?;
        if spec.is_empty() {
            return Err(RuleError::new(path.at, format!("variable path in {what} is empty")));
        }
        if spec.starts_with('/') {
            return Err(RuleError::new(
                path.at,
                format!("invalid variable path {spec:?} in {what}: paths cannot start with '/'"),
            ));
        }
        let path_what = format!("path {spec:?} in {what}");
        let path_fields = Fields::read(path, &path_what, &["capabilities"], &[])?;
        let capabilities = match path_fields.attribute("capabilities") {
            Some(listed) => capability_list(listed, Scope::VariablePath, &path_what)?,
            None => CapSet::EMPTY,
        };
        paths.push(VariablePath {
            path: spec.to_owned(),
            capabilities: Scope::VariablePath.with_implied(capabilities).settled(),
        });
    }
    Ok(paths)
}

/// The single label of a block that needs one. `inside` says where the
/// block is (empty at the top level) and `example` is a label to show when
/// it is missing.
fn one_label<'a>(block: &'a Block, inside: &str, example: &str) -> Result<&'a str, RuleError> {
    let name = &block.name;
    match block.labels.as_slice() {
        [label] => Ok(label),
        [] => Err(RuleError::new(
            block.at,
            format!("{name} block{inside} needs a label, as in {name} {example:?} {{ ... }}"),
        )),
        labels => {
            Err(RuleError::new(block.at, format!("{name} block{inside} takes one label, found {}", labels.len())))
        }
    }
}

fn string<'a>(attribute: &'a Attribute, what: &str) -> Result<&'a str, RuleError> {
    match &attribute.value.kind {
        ValueKind::Str(text) => Ok(text),
        other => Err(RuleError::new(
            attribute.value.at,
            format!("{} in {what} must be a string, found {}", attribute.name, other.describe()),
        )),
    }
}

fn capability_list(attribute: &Attribute, scope: Scope, what: &str) -> Result<CapSet, RuleError> {
    let ValueKind::List(elements) = &attribute.value.kind else {
        return Err(RuleError::new(
            attribute.value.at,
            format!("capabilities in {what} must be a list of strings, found {}", attribute.value.kind.describe()),
        ));
    };
    elements.iter().try_fold(CapSet::EMPTY, |set, element| Ok(set.union(capability(element, scope, what)?)))
}

fn capability(element: &Value, scope: Scope, what: &str) -> Result<CapSet, RuleError> {
    let ValueKind::Str(name) = &element.kind else {
        return Err(RuleError::new(
            element.at,
            format!("capabilities in {what} must be strings, found {}", element.kind.describe()),
        ));
    };
    scope
        .capability(name)
        .ok_or_else(|| RuleError::new(element.at, format!("invalid {} capability {name:?} in {what}", scope.noun())))
}

/// The attributes and child blocks of one block, each checked against what
/// the block allows, with duplicate attributes refused.
struct Fields<'a> {
    attributes: Vec<&'a Attribute>,
    blocks: Vec<&'a Block>,
}

impl<'a> Fields<'a> {
    fn read(block: &'a Block, what: &str, attributes: &[&str], blocks: &[&str]) -> Result<Self, RuleError> {
        let mut fields = Fields { attributes: Vec::new(), blocks: Vec::new() };
        for item in &block.body {
            match item {
                Item::Attribute(attribute) => {
                    if !attributes.contains(&attribute.name.as_str()) {
                        return Err(RuleError::new(
                            attribute.at,
                            format!("unknown attribute {:?} in {what}", attribute.name),
                        ));
                    }
                    if fields.attribute(&attribute.name).is_some() {
                        return Err(RuleError::new(
                            attribute.at,
                            format!("duplicate attribute {:?} in {what}", attribute.name),
                        ));
                    }
                    fields.attributes.push(attribute);
                }
                Item::Block(child) if blocks.contains(&child.name.as_str()) => fields.blocks.push(child),
                Item::Block(child) if attributes.contains(&child.name.as_str()) => {
                    return Err(RuleError::new(
                        child.at,
                        format!("{} in {what} must be a value, not a block", child.name),
                    ));
                }
                Item::Block(child) => {
                    return Err(RuleError::new(child.at, format!("unknown block {:?} in {what}", child.name)));
                }
            }
        }
        Ok(fields)
    }

    fn attribute(&self, name: &str) -> Option<&'a Attribute> {
        self.attributes.iter().copied().find(|attribute| attribute.name == name)
    }
}

#[cfg(test)]
mod tests {
    use crate::capability::{CapSet, Grant, PolicyName, Scope};
    use crate::rules::{NamedRule, Rules, VariablePath};

    fn ok(text: &str) -> Rules {
        match Rules::parse(text) {
            Ok(rules) => rules,
            Err(error) => panic!("{text:?} should be valid: {error}"),
        }
    }

    fn error(text: &str) -> String {
        match Rules::parse(text) {
            Ok(rules) => panic!("{text:?} should be invalid, gave {rules:?}"),
            Err(error) => error.to_string(),
        }
    }

    fn caps(scope: Scope, names: &[&str]) -> CapSet {
        names.iter().fold(CapSet::EMPTY, |set, name| set.union(scope.capability(name).expect("known capability")))
    }

    fn expand(scope: Scope, policy: PolicyName) -> CapSet {
        scope.expand(policy).expect("valid policy")
    }

    #[test]
    fn namespace_policy_and_capabilities_add_up() {
        let rules = ok(r#"namespace "prod" { policy = "read"  capabilities = ["submit-job", "alloc-node-exec"] }"#);
        let expected = expand(Scope::Namespace, PolicyName::Read)
            .union(caps(Scope::Namespace, &["submit-job", "alloc-node-exec"]));
        assert_eq!(
            rules.namespaces,
            [NamedRule { label: "prod".into(), capabilities: expected, variables: Vec::new() }]
        );
        assert_eq!(Rules { namespaces: Vec::new(), ..rules }, Rules::default());
    }

    #[test]
    fn every_block_kind() {
        let rules = ok(r#"
            namespace "default" { policy = "write" }
            namespace "batch-*" { policy = "scale" }
            node_pool "gpu_*" { policy = "read" capabilities = ["delete"] }
            host_volume "data" { policy = "write" }
            agent { policy = "read" }
            node { policy = "write" }
            operator { policy = "deny" }
            quota { policy = "read" }
            plugin { policy = "list" }
        "#);
        assert_eq!(rules.namespaces.len(), 2);
        assert_eq!(rules.namespaces[1].label, "batch-*");
        assert_eq!(rules.namespaces[1].capabilities, expand(Scope::Namespace, PolicyName::Scale));
        assert_eq!(rules.node_pools[0].label, "gpu_*");
        assert_eq!(rules.node_pools[0].capabilities, caps(Scope::NodePool, &["read", "delete"]));
        assert_eq!(rules.host_volumes[0].capabilities, caps(Scope::HostVolume, &["mount-readonly", "mount-readwrite"]));
        assert_eq!(
            (rules.agent, rules.node, rules.operator, rules.quota, rules.plugin),
            (Some(Grant::Read), Some(Grant::Write), Some(Grant::Deny), Some(Grant::Read), Some(Grant::List))
        );
    }

    #[test]
    fn every_namespace_capability_is_accepted() {
        let all = [
            "deny",
            "list-jobs",
            "parse-job",
            "read-job",
            "submit-job",
            "dispatch-job",
            "read-logs",
            "read-fs",
            "alloc-exec",
            "alloc-node-exec",
            "alloc-lifecycle",
            "csi-register-plugin",
            "csi-write-volume",
            "csi-read-volume",
            "csi-list-volume",
            "csi-mount-volume",
            "host-volume-create",
            "host-volume-register",
            "host-volume-read",
            "host-volume-write",
            "host-volume-delete",
            "list-scaling-policies",
            "read-scaling-policy",
            "read-job-scaling",
            "scale-job",
            "submit-recommendation",
            "sentinel-override",
        ];
        let listed = all.iter().map(|name| format!("{name:?}")).collect::<Vec<_>>().join(", ");
        let rules = ok(&format!("namespace \"x\" {{ capabilities = [{listed}] }}"));
        assert_eq!(rules.namespaces[0].capabilities, caps(Scope::Namespace, &all));
    }

    #[test]
    fn an_empty_named_block_is_kept_with_no_capabilities() {
        let rules = ok(r#"namespace "quiet" {}"#);
        assert_eq!(rules.namespaces[0].capabilities, CapSet::EMPTY);
    }

    #[test]
    fn variables_paths_are_read_and_checked() {
        let rules = ok(r#"
            namespace "apps" {
              policy = "read"
              variables {
                path "nomad/jobs/*" { capabilities = ["read"] }
                path "secret/*" { capabilities = ["deny", "write"] }
                path "empty" {}
              }
            }
        "#);
        assert_eq!(
            rules.namespaces[0].variables,
            [
                VariablePath {
                    path: "nomad/jobs/*".into(),
                    capabilities: caps(Scope::VariablePath, &["read", "list"])
                },
                VariablePath { path: "secret/*".into(), capabilities: CapSet::DENY },
                VariablePath { path: "empty".into(), capabilities: CapSet::EMPTY },
            ]
        );
    }

    #[test]
    fn blank_documents_grant_nothing_but_documents_without_blocks_are_refused() {
        assert_eq!(ok(""), Rules::default());
        assert_eq!(ok(" \n\t "), Rules::default());
        assert_eq!(
            error("# only a comment"),
            "rules hold no blocks; write at least one, such as namespace \"default\" { policy = \"read\" }"
        );
        assert!(error("{}").starts_with("rules hold no blocks"));
        assert!(error(r#"{"namespace": {}}"#).starts_with("rules hold no blocks"));
    }

    #[test]
    fn oversized_documents_are_refused() {
        let huge = format!("agent {{ policy = \"read\" }}{}", " ".repeat(crate::rules::MAX_RULES_BYTES));
        assert_eq!(error(&huge), format!("rules are {} bytes, more than the limit of 1048576", huge.len()));
    }

    #[test]
    fn block_errors() {
        let cases = [
            (
                r#"namespace { policy = "read" }"#,
                "1:1: namespace block needs a label, as in namespace \"default\" { ... }",
            ),
            (
                r#"node_pool { policy = "read" }"#,
                "1:1: node_pool block needs a label, as in node_pool \"default\" { ... }",
            ),
            (r#"host_volume {}"#, "1:1: host_volume block needs a label, as in host_volume \"default\" { ... }"),
            (r#"namespace "a" "b" {}"#, "1:1: namespace block takes one label, found 2"),
            (r#"agent "x" { policy = "read" }"#, "1:1: agent block takes no label, found \"x\""),
            ("agent {}", "1:1: agent block needs a policy, as in agent { policy = \"read\" }"),
            ("agent { policy = \"read\" }\nagent { policy = \"write\" }", "2:1: duplicate agent block"),
            (
                r#"acl { policy = "read" }"#,
                "1:1: unknown block \"acl\"; expected namespace, node_pool, host_volume, agent, node, operator, quota or plugin",
            ),
            (
                r#"policy = "read""#,
                "1:1: unexpected attribute \"policy\" outside any block; rules are blocks such as namespace, node_pool, host_volume, agent, node, operator, quota or plugin",
            ),
            (
                r#"namespace "prod env" {}"#,
                "1:1: invalid namespace name \"prod env\": use 1 to 128 letters, digits, '-' or '*'",
            ),
            (r#"namespace "" {}"#, "1:1: invalid namespace name \"\": use 1 to 128 letters, digits, '-' or '*'"),
            (
                r#"node_pool "a.b" {}"#,
                "1:1: invalid node_pool name \"a.b\": use 1 to 128 letters, digits, '-', '_' or '*'",
            ),
            (
                r#"host_volume "a_b" {}"#,
                "1:1: invalid host_volume name \"a_b\": use 1 to 128 letters, digits, '-' or '*'",
            ),
            (r#"node_pool "p" { variables { path "x" {} } }"#, "1:17: unknown block \"variables\" in node_pool \"p\""),
            (r#"namespace "p" { jobs { } }"#, "1:17: unknown block \"jobs\" in namespace \"p\""),
            (r#"namespace "p" { policy { } }"#, "1:17: policy in namespace \"p\" must be a value, not a block"),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), expected, "{text}");
        }
    }

    #[test]
    fn policy_value_errors() {
        let cases = [
            (
                r#"namespace "prod" { policy = "admin" }"#,
                "1:29: invalid namespace policy \"admin\" in namespace \"prod\"; expected deny, read, write or scale",
            ),
            (
                r#"namespace "prod" { policy = "list" }"#,
                "1:29: invalid namespace policy \"list\" in namespace \"prod\"; expected deny, read, write or scale",
            ),
            (
                r#"node_pool "p" { policy = "scale" }"#,
                "1:26: invalid node_pool policy \"scale\" in node_pool \"p\"; expected deny, read or write",
            ),
            (
                r#"host_volume "v" { policy = "list" }"#,
                "1:28: invalid host_volume policy \"list\" in host_volume \"v\"; expected deny, read or write",
            ),
            (r#"agent { policy = "list" }"#, "1:18: invalid agent policy \"list\"; expected deny, read or write"),
            (
                r#"operator { policy = "scale" }"#,
                "1:21: invalid operator policy \"scale\"; expected deny, read or write",
            ),
            (
                r#"plugin { policy = "scale" }"#,
                "1:19: invalid plugin policy \"scale\"; expected deny, list, read or write",
            ),
            (r#"quota { policy = "READ" }"#, "1:18: invalid quota policy \"READ\"; expected deny, read or write"),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), expected, "{text}");
        }
    }

    #[test]
    fn capability_errors() {
        let cases = [
            (
                r#"namespace "p" { capabilities = ["read-job", "fly"] }"#,
                "1:45: invalid namespace capability \"fly\" in namespace \"p\"",
            ),
            (
                r#"node_pool "p" { capabilities = ["mount-readonly"] }"#,
                "1:33: invalid node_pool capability \"mount-readonly\" in node_pool \"p\"",
            ),
            (
                r#"host_volume "v" { capabilities = ["mount"] }"#,
                "1:35: invalid host_volume capability \"mount\" in host_volume \"v\"",
            ),
            (
                r#"namespace "p" { capabilities = "read-job" }"#,
                "1:32: capabilities in namespace \"p\" must be a list of strings, found a string",
            ),
            (
                r#"namespace "p" { capabilities = [true] }"#,
                "1:33: capabilities in namespace \"p\" must be strings, found a bool",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), expected, "{text}");
        }
    }

    #[test]
    fn attribute_errors() {
        let cases = [
            (
                r#"namespace "p" { policy = ["read"] }"#,
                "1:26: policy in namespace \"p\" must be a string, found a list",
            ),
            (r#"agent { policy = 1 }"#, "1:18: policy in agent block must be a string, found a number"),
            (r#"namespace "p" { polcy = "read" }"#, "1:17: unknown attribute \"polcy\" in namespace \"p\""),
            (
                r#"agent { policy = "read" capabilities = [] }"#,
                "1:25: unknown attribute \"capabilities\" in agent block",
            ),
            (
                r#"namespace "p" { policy = "read" policy = "write" }"#,
                "1:33: duplicate attribute \"policy\" in namespace \"p\"",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), expected, "{text}");
        }
    }

    #[test]
    fn variables_errors() {
        let cases = [
            (
                r#"namespace "p" { variables {} }"#,
                "1:17: variables block in namespace \"p\" needs at least one path block, as in path \"*\" { capabilities = [\"read\"] }",
            ),
            (
                r#"namespace "p" { variables "x" { path "a" {} } }"#,
                "1:17: variables block in namespace \"p\" takes no label, found \"x\"",
            ),
            (
                r#"namespace "p" { variables { path {} } }"#,
                "1:29: path block in namespace \"p\" needs a label, as in path \"nomad/jobs/*\" { ... }",
            ),
            (r#"namespace "p" { variables { path "" {} } }"#, "1:29: variable path in namespace \"p\" is empty"),
            (
                r#"namespace "p" { variables { path "/a" {} } }"#,
                "1:29: invalid variable path \"/a\" in namespace \"p\": paths cannot start with '/'",
            ),
            (
                r#"namespace "p" { variables { path "a" { capabilities = ["submit-job"] } } }"#,
                "1:56: invalid variable capability \"submit-job\" in path \"a\" in namespace \"p\"",
            ),
            (
                r#"namespace "p" { variables { path "a" { policy = "read" } } }"#,
                "1:40: unknown attribute \"policy\" in path \"a\" in namespace \"p\"",
            ),
            (
                r#"namespace "p" { variables { x = 1 } }"#,
                "1:29: unknown attribute \"x\" in the variables block of namespace \"p\"",
            ),
            (
                r#"namespace "p" { variables { path "a" {} } variables { path "b" {} } }"#,
                "1:43: duplicate variables block in namespace \"p\"",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), expected, "{text}");
        }
    }

    #[test]
    fn json_errors_name_the_block() {
        let cases = [
            (
                r#"{"namespace": {"prod": {"policy": "admin"}}}"#,
                "invalid namespace policy \"admin\" in namespace \"prod\"; expected deny, read, write or scale",
            ),
            (r#"{"agent": {"policy": "read"}, "agent": {"policy": "write"}}"#, "duplicate agent block"),
            (r#"{"agent": {"policy": "read", "policy": "write"}}"#, "duplicate attribute \"policy\" in agent block"),
            (r#"{"agent": {"policy": {"x": 1}}}"#, "policy in agent block must be a value, not a block"),
            (r#"{"agent": {"policy": null}}"#, "policy in agent block must be a string, found null"),
            (
                r#"{"namespace": {"p": {"capabilities": ["nope"]}}}"#,
                "invalid namespace capability \"nope\" in namespace \"p\"",
            ),
            (
                r#"{"node": "read"}"#,
                "unexpected attribute \"node\" outside any block; rules are blocks such as namespace, node_pool, host_volume, agent, node, operator, quota or plugin",
            ),
            (
                r#"{"namespace": {"a b": {}}}"#,
                "invalid namespace name \"a b\": use 1 to 128 letters, digits, '-' or '*'",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), expected, "{text}");
        }
    }
}
