//! {{name}}: an ACL policy language of one rule per line.
//!
//! A policy's rules are lines of `AREA LEVEL`, for example
//!
//! ```text
//! # operators may look, and change node settings
//! operator read
//! node write
//! ```
//!
//! with AREA one of agent, node, operator, quota, plugin, node-pool,
//! host-volume, namespace and LEVEL one of deny, list, read, write, scale.
//! A token's policies are merged: per area the highest level wins, and
//! `deny` wins over everything. `list` < `read` < `write`; `scale` is
//! granted by `scale` or `write`; a named capability needs `write`.

use std::collections::BTreeMap;

use keel_sdk::acl::{Access, AclPolicy, Area, CompiledAcl, Level, Policy, Request};
use keel_sdk::{Plugin, PluginInfo};

pub struct LinePolicy;

impl Plugin for LinePolicy {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0")
    }

    fn configure(settings: &[(String, String)]) -> Result<Self, String> {
        keel_sdk::refuse_settings(settings).map(|()| LinePolicy)
    }
}

/// One token's merged grants: the level per area.
pub struct Grants(BTreeMap<u8, Level>);

impl AclPolicy for LinePolicy {
    type Acl = Grants;

    fn validate(&self, rules: &str) -> Result<(), String> {
        parse(rules).map(drop)
    }

    fn compile(&self, policies: &[Policy]) -> Result<Grants, String> {
        let mut grants: BTreeMap<u8, Level> = BTreeMap::new();
        for policy in policies {
            for (area, level) in parse(&policy.rules).map_err(|e| format!("policy {}: {e}", policy.name))? {
                let merged = match grants.get(&(area as u8)) {
                    Some(Level::Deny) => Level::Deny,
                    Some(old) if level != Level::Deny && rank(*old) >= rank(level) => *old,
                    _ => level,
                };
                grants.insert(area as u8, merged);
            }
        }
        Ok(Grants(grants))
    }
}

impl CompiledAcl for Grants {
    fn allowed(&self, request: &Request) -> bool {
        let Some(granted) = self.0.get(&(request.area as u8)).copied() else { return false };
        match &request.access {
            _ if granted == Level::Deny => false,
            Access::Level(Level::Deny) => false,
            Access::Level(Level::Scale) => matches!(granted, Level::Scale | Level::Write),
            Access::Level(wanted) => granted != Level::Scale && rank(granted) >= rank(*wanted),
            Access::Capability(_) => granted == Level::Write,
        }
    }
}

fn rank(level: Level) -> u8 {
    match level {
        Level::Deny => 0,
        Level::List => 1,
        Level::Read | Level::Scale => 2,
        Level::Write => 3,
    }
}

/// The `(area, level)` lines of one rule document.
fn parse(rules: &str) -> Result<Vec<(Area, Level)>, String> {
    let mut lines = Vec::new();
    for (number, line) in rules.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let at = |what: &str| format!("line {}: {what}", number + 1);
        let (area, level) = line.split_once(char::is_whitespace).ok_or_else(|| at("expected `AREA LEVEL`"))?;
        let area = match area {
            "agent" => Area::Agent,
            "node" => Area::Node,
            "operator" => Area::Operator,
            "quota" => Area::Quota,
            "plugin" => Area::Plugin,
            "node-pool" => Area::NodePool,
            "host-volume" => Area::HostVolume,
            "namespace" => Area::Namespace,
            other => return Err(at(&format!("unknown area {other:?}"))),
        };
        let level = match level.trim() {
            "deny" => Level::Deny,
            "list" => Level::List,
            "read" => Level::Read,
            "write" => Level::Write,
            "scale" => Level::Scale,
            other => return Err(at(&format!("unknown level {other:?}"))),
        };
        lines.push((area, level));
    }
    Ok(lines)
}

keel_sdk::export_acl_policy!(LinePolicy);

#[cfg(test)]
mod tests {
    use super::*;

    fn token(rules: &[&str]) -> Grants {
        let policies: Vec<Policy> =
            rules.iter().enumerate().map(|(i, r)| Policy { name: format!("p{i}"), rules: (*r).to_owned() }).collect();
        LinePolicy.compile(&policies).expect("the rules compile")
    }

    fn asks(area: Area, level: Level) -> Request {
        Request { area, access: Access::Level(level), target: None }
    }

    #[test]
    fn levels_grant_what_they_name_and_less() {
        let acl = token(&["operator read\n# a comment\nnode write"]);
        assert!(acl.allowed(&asks(Area::Operator, Level::Read)));
        assert!(acl.allowed(&asks(Area::Operator, Level::List)));
        assert!(!acl.allowed(&asks(Area::Operator, Level::Write)));
        assert!(acl.allowed(&asks(Area::Node, Level::Scale)));
        assert!(!acl.allowed(&asks(Area::Agent, Level::Read)), "an area no rule names is denied");
    }

    #[test]
    fn deny_wins_over_every_grant() {
        let acl = token(&["node write", "node deny", "node read"]);
        assert!(!acl.allowed(&asks(Area::Node, Level::List)));
    }

    #[test]
    fn a_token_without_policies_is_allowed_nothing() {
        assert!(!token(&[]).allowed(&asks(Area::Agent, Level::Read)));
    }

    #[test]
    fn bad_rules_name_the_line() {
        assert_eq!(LinePolicy.validate("node write\nnode fly"), Err("line 2: unknown level \"fly\"".to_owned()));
        assert!(LinePolicy.validate("everything").is_err());
    }
}
