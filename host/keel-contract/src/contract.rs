//! The versions of the contract: one WIT package each, all loaded by the host.

use std::fmt;

use crate::Kind;

/// A version of the plugin contract: one WIT package in `wit/`.
///
/// The host loads components of every version; [`Contract::CURRENT`] is the
/// one the SDK, the default plugins and `keel plugin new` speak. Older
/// versions are frozen and adapted by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Contract {
    /// `keel:plugin@0.1.0`, in `wit/0.1.0/`.
    V0_1,
    /// `keel:plugin@0.2.0`, in `wit/0.2.0/`.
    V0_2,
    /// `keel:plugin@0.3.0`, in `wit/`.
    V0_3,
}

impl Contract {
    /// Every version the host loads, oldest first.
    pub const ALL: [Contract; 3] = [Contract::V0_1, Contract::V0_2, Contract::V0_3];

    /// The version new plugins are written against.
    pub const CURRENT: Contract = Contract::V0_3;

    /// The package's semantic version, such as `0.2.0`.
    pub fn version(self) -> &'static str {
        match self {
            Contract::V0_1 => "0.1.0",
            Contract::V0_2 => "0.2.0",
            Contract::V0_3 => "0.3.0",
        }
    }

    /// The versioned package name, such as `keel:plugin@0.2.0`.
    pub fn package(self) -> String {
        format!("keel:plugin@{}", self.version())
    }

    /// The package's WIT source.
    pub fn wit(self) -> &'static str {
        match self {
            Contract::V0_1 => include_str!("../../../wit/0.1.0/plugin.wit"),
            Contract::V0_2 => include_str!("../../../wit/0.2.0/plugin.wit"),
            Contract::V0_3 => include_str!("../../../wit/plugin.wit"),
        }
    }

    /// The one interface a plugin of this version may import.
    pub fn host_interface(self) -> String {
        self.qualified("host")
    }

    /// The interface every plugin of this version exports besides its kind's own.
    pub fn lifecycle_interface(self) -> String {
        self.qualified("lifecycle")
    }

    /// The fully qualified name of `kind`'s own exported interface.
    pub fn interface(self, kind: Kind) -> String {
        self.qualified(kind.name())
    }

    fn qualified(self, interface: &str) -> String {
        format!("keel:plugin/{interface}@{}", self.version())
    }

    /// The kind and version of an exported interface name, if it is a
    /// plugin kind's interface of a version the host loads.
    pub fn of_interface(name: &str) -> Option<(Kind, Contract)> {
        Contract::ALL
            .into_iter()
            .flat_map(|contract| Kind::ALL.into_iter().map(move |kind| (kind, contract)))
            .find(|(kind, contract)| contract.interface(*kind) == name)
    }

    /// Every version's package name, newest first, for messages.
    pub fn packages() -> String {
        let packages: Vec<String> = Contract::ALL.iter().rev().map(|contract| contract.package()).collect();
        packages.join(" or ")
    }
}

impl fmt::Display for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.version())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_names_its_own_package_in_its_wit() {
        for contract in Contract::ALL {
            let declared = format!("package {};", contract.package());
            assert!(contract.wit().contains(&declared), "{contract} declares {declared}");
        }
    }

    #[test]
    fn interfaces_name_their_kind_and_version() {
        assert_eq!(Contract::V0_2.interface(Kind::Acl), "keel:plugin/acl@0.2.0");
        assert_eq!(Contract::V0_1.host_interface(), "keel:plugin/host@0.1.0");
        assert_eq!(Contract::of_interface("keel:plugin/license@0.1.0"), Some((Kind::License, Contract::V0_1)));
        assert_eq!(Contract::of_interface("keel:plugin/scheduler@0.3.0"), Some((Kind::Scheduler, Contract::V0_3)));
        assert_eq!(Contract::of_interface("keel:plugin/acl@0.4.0"), None);
        assert_eq!(Contract::of_interface("keel:plugin/lifecycle@0.2.0"), None);
    }
}
