//! The four plugin kinds and the names the contract gives them.

use std::fmt;
use std::str::FromStr;

/// A plugin kind: one WIT world, one exported interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Acl,
    Autopilot,
    Scheduler,
    License,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Acl, Kind::Autopilot, Kind::Scheduler, Kind::License];

    /// The short name used on the command line (`--plugin acl=PATH`) and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Acl => "acl",
            Kind::Autopilot => "autopilot",
            Kind::Scheduler => "scheduler",
            Kind::License => "license",
        }
    }

    /// The WIT world a plugin of this kind targets.
    pub fn world(self) -> &'static str {
        match self {
            Kind::Acl => "acl-policy",
            Kind::Autopilot => "autopilot-strategy",
            Kind::Scheduler => "scheduler-algorithm",
            Kind::License => "license-validator",
        }
    }

    /// The name of the default plugin that the host embeds for this kind.
    pub fn default_plugin(self) -> &'static str {
        match self {
            Kind::Acl => "acl-nomad",
            Kind::Autopilot => "autopilot-default",
            Kind::Scheduler => "scheduler-default",
            Kind::License => "license-ed25519",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing a [`Kind`] from its short name or world name.
#[derive(Debug, thiserror::Error)]
#[error("unknown plugin kind {0:?}: expected acl, autopilot, scheduler or license")]
pub struct UnknownKind(String);

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.name() == s || kind.world() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(kind.name().parse::<Kind>().ok(), Some(kind));
            assert_eq!(kind.world().parse::<Kind>().ok(), Some(kind));
        }
        assert!("firewall".parse::<Kind>().is_err());
    }
}
