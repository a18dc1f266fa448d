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
//!
//! One setting, `write_hours = "HH:MM[:SS]-HH:MM[:SS]"` (UTC), limits
//! everything beyond reading to that window of each day: outside it, only
//! `list` and `read` are granted. A window whose end is before its start
//! runs over midnight. Answers to such questions hold until the window next
//! opens or closes, and the plugin says so in its verdict, so the host asks
//! again exactly then; every other answer holds until the token changes.

use std::collections::BTreeMap;

use keel_sdk::acl::{Access, AclPolicy, Area, CompiledAcl, Level, Policy, Request, Verdict};
use keel_sdk::{Plugin, PluginInfo};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

pub struct LinePolicy {
    window: Option<Window>,
}

/// When in each UTC day more than reading is allowed, in ms since midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    opens_ms: u64,
    closes_ms: u64,
}

impl Window {
    /// Parses `HH:MM[:SS]-HH:MM[:SS]`.
    fn parse(text: &str) -> Result<Window, String> {
        let invalid = || format!("write_hours {text:?}: expected HH:MM-HH:MM or HH:MM:SS-HH:MM:SS (UTC)");
        let (opens, closes) = text.split_once('-').ok_or_else(invalid)?;
        let time = |part: &str| -> Option<u64> {
            let fields: Vec<u64> = part.trim().split(':').map(|f| f.parse().ok()).collect::<Option<_>>()?;
            let (h, m, s) = match fields.as_slice() {
                [h, m] => (*h, *m, 0),
                [h, m, s] => (*h, *m, *s),
                _ => return None,
            };
            (h < 24 && m < 60 && s < 60).then_some(((h * 60 + m) * 60 + s) * 1000)
        };
        let window = Window { opens_ms: time(opens).ok_or_else(invalid)?, closes_ms: time(closes).ok_or_else(invalid)? };
        if window.opens_ms == window.closes_ms {
            return Err(format!("write_hours {text:?}: the window opens and closes at the same time"));
        }
        Ok(window)
    }

    /// Whether the window is open at `now_ms` (ms since the epoch), and
    /// when (ms since the epoch) that next changes.
    fn at(self, now_ms: u64) -> (bool, u64) {
        let midnight = now_ms - now_ms % DAY_MS;
        let today = now_ms % DAY_MS;
        let open = if self.opens_ms < self.closes_ms {
            (self.opens_ms..self.closes_ms).contains(&today)
        } else {
            today >= self.opens_ms || today < self.closes_ms
        };
        let boundary = if open { self.closes_ms } else { self.opens_ms };
        let next = if boundary > today { midnight + boundary } else { midnight + DAY_MS + boundary };
        (open, next)
    }
}

impl Plugin for LinePolicy {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0")
    }

    fn configure(settings: &[(String, String)]) -> Result<Self, String> {
        let mut window = None;
        for (key, value) in settings {
            match key.as_str() {
                "write_hours" => window = Some(Window::parse(value)?),
                other => return Err(format!("unknown setting {other:?}: the only setting is write_hours")),
            }
        }
        Ok(LinePolicy { window })
    }
}

/// One token's merged grants: the level per area, and the write window.
pub struct Grants {
    levels: BTreeMap<u8, Level>,
    window: Option<Window>,
}

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
        Ok(Grants { levels: grants, window: self.window })
    }
}

impl CompiledAcl for Grants {
    fn allowed(&self, request: &Request) -> Verdict {
        let granted = self.grants(request);
        let reading = matches!(request.access, Access::Level(Level::List | Level::Read));
        match self.window {
            Some(window) if granted && !reading => {
                let (open, changes_at) = window.at(request.now_ms);
                Verdict::until(open, request, changes_at)
            }
            _ => Verdict::lasting(granted),
        }
    }
}

impl Grants {
    /// Whether the levels grant `request`, whatever the time.
    fn grants(&self, request: &Request) -> bool {
        let Some(granted) = self.levels.get(&(request.area as u8)).copied() else { return false };
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
        plugin(&[]).compile(&policies).expect("the rules compile")
    }

    fn plugin(settings: &[(&str, &str)]) -> LinePolicy {
        let settings: Vec<(String, String)> = settings.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        LinePolicy::configure(&settings).expect("valid settings")
    }

    fn asks(area: Area, level: Level) -> Request {
        keel_sdk::testing::request(area, Access::Level(level))
    }

    /// `asks` at `hh:mm` UTC on 2026-12-01.
    fn asks_at(area: Area, level: Level, hh: u64, mm: u64) -> Request {
        Request { now_ms: 1_796_083_200_000 + (hh * 60 + mm) * 60_000, ..asks(area, level) }
    }

    #[test]
    fn levels_grant_what_they_name_and_less() {
        let acl = token(&["operator read\n# a comment\nnode write"]);
        assert_eq!(acl.allowed(&asks(Area::Operator, Level::Read)), Verdict::lasting(true));
        assert!(acl.allowed(&asks(Area::Operator, Level::List)).allow);
        assert_eq!(acl.allowed(&asks(Area::Operator, Level::Write)), Verdict::lasting(false));
        assert!(acl.allowed(&asks(Area::Node, Level::Scale)).allow);
        assert!(!acl.allowed(&asks(Area::Agent, Level::Read)).allow, "an area no rule names is denied");
    }

    #[test]
    fn deny_wins_over_every_grant() {
        let acl = token(&["node write", "node deny", "node read"]);
        assert!(!acl.allowed(&asks(Area::Node, Level::List)).allow);
    }

    #[test]
    fn a_token_without_policies_is_allowed_nothing() {
        assert!(!token(&[]).allowed(&asks(Area::Agent, Level::Read)).allow);
    }

    #[test]
    fn bad_rules_name_the_line() {
        let plugin = plugin(&[]);
        assert_eq!(plugin.validate("node write\nnode fly"), Err("line 2: unknown level \"fly\"".to_owned()));
        assert!(plugin.validate("everything").is_err());
    }

    #[test]
    fn writes_hold_until_the_window_closes_and_reads_last() {
        let policies = [Policy { name: "ops".into(), rules: "operator write".into() }];
        let acl = plugin(&[("write_hours", "09:00-17:00")]).compile(&policies).expect("compiles");
        let at_16_59 = asks_at(Area::Operator, Level::Write, 16, 59);
        assert_eq!(acl.allowed(&at_16_59), Verdict { allow: true, valid_for_ms: Some(60_000) });
        let at_17_00 = asks_at(Area::Operator, Level::Write, 17, 0);
        assert_eq!(acl.allowed(&at_17_00), Verdict { allow: false, valid_for_ms: Some(16 * 3_600_000) });
        assert_eq!(acl.allowed(&asks_at(Area::Operator, Level::Read, 3, 0)), Verdict::lasting(true));
    }

    #[test]
    fn a_window_may_run_over_midnight() {
        let policies = [Policy { name: "ops".into(), rules: "node write".into() }];
        let acl = plugin(&[("write_hours", "22:00:00-06:00:00")]).compile(&policies).expect("compiles");
        assert!(acl.allowed(&asks_at(Area::Node, Level::Write, 23, 0)).allow);
        assert!(acl.allowed(&asks_at(Area::Node, Level::Write, 5, 59)).allow);
        assert!(!acl.allowed(&asks_at(Area::Node, Level::Write, 12, 0)).allow);
    }

    #[test]
    fn bad_windows_and_unknown_settings_are_refused() {
        for bad in ["9-17", "09:00", "25:00-26:00", "09:00-09:00", "09:00-17:00:60"] {
            let settings = [("write_hours".to_owned(), bad.to_owned())];
            assert!(LinePolicy::configure(&settings).is_err(), "{bad}");
        }
        let unknown = [("hours".to_owned(), "09:00-17:00".to_owned())];
        assert!(LinePolicy::configure(&unknown).err().is_some_and(|e| e.contains("\"hours\"")));
    }
}
