//! The rules of one policy, checked and with every shorthand expanded.

use crate::capability::{CapSet, Grant};
use crate::decode::decode;
use crate::error::RuleError;
use crate::{hcl, json};

/// The longest rule document accepted. Nomad stores no policy anywhere near
/// this size; the bound keeps a hostile document from using the plugin's
/// whole memory allowance.
pub const MAX_RULES_BYTES: usize = 1 << 20;

/// One policy's rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// `namespace` blocks in document order; a label may repeat.
    pub namespaces: Vec<NamedRule>,
    pub node_pools: Vec<NamedRule>,
    pub host_volumes: Vec<NamedRule>,
    /// `None` where the document has no such block.
    pub agent: Option<Grant>,
    pub node: Option<Grant>,
    pub operator: Option<Grant>,
    pub quota: Option<Grant>,
    pub plugin: Option<Grant>,
}

/// A block with a name or glob: a namespace, node pool or host volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedRule {
    pub label: String,
    /// The capabilities listed plus those the policy shorthand and the
    /// listed capabilities imply. May hold `deny` next to grants; merging
    /// settles that.
    pub capabilities: CapSet,
    /// The paths of a namespace's `variables` block.
    pub variables: Vec<VariablePath>,
}

/// `path "<spec>" { capabilities = [...] }` in a namespace's `variables`.
///
/// Checked like Nomad checks it, but the ACL interface has no area for
/// variables, so no request can reach these rights yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariablePath {
    pub path: String,
    pub capabilities: CapSet,
}

impl Rules {
    /// Parses and checks a rule document: JSON when it starts with `{`, HCL
    /// otherwise. A blank document is valid and grants nothing, as in
    /// Nomad; any other document must hold at least one rule block.
    pub fn parse(text: &str) -> Result<Rules, RuleError> {
        if text.len() > MAX_RULES_BYTES {
            return Err(RuleError::new(
                None,
                format!("rules are {} bytes, more than the limit of {MAX_RULES_BYTES}", text.len()),
            ));
        }
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(Rules::default());
        }
        let items = if trimmed.starts_with('{') { json::parse(text)? } else { hcl::parse(text)? };
        let rules = decode(&items)?;
        if rules == Rules::default() {
            return Err(RuleError::new(
                None,
                "rules hold no blocks; write at least one, such as namespace \"default\" { policy = \"read\" }",
            ));
        }
        Ok(rules)
    }
}
