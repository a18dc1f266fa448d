//! Capabilities: the fine-grained rights of namespaces, node pools, host
//! volumes and variable paths as bitsets, the policy shorthands that expand
//! into them, and the coarse grants of the areas that have no names.
//!
//! The sets and expansions follow Nomad's `acl/policy.go`. Bit 0 is `deny`
//! in every scope, so that "does this set deny?" never depends on the scope.

/// A set of capabilities of one [`Scope`], one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapSet(u32);

impl CapSet {
    pub const EMPTY: CapSet = CapSet(0);
    pub const DENY: CapSet = CapSet(1);

    pub const fn union(self, other: CapSet) -> CapSet {
        CapSet(self.0 | other.0)
    }

    pub const fn contains(self, other: CapSet) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether the set grants at least one capability of `wanted`. A set that
    /// holds `deny` grants nothing, whatever else it holds.
    pub const fn grants_any(self, wanted: CapSet) -> bool {
        self.0 & CapSet::DENY.0 == 0 && self.0 & wanted.0 != 0
    }

    /// The set as a merged ACL keeps it: `deny` replaces every grant.
    pub const fn settled(self) -> CapSet {
        if self.0 & CapSet::DENY.0 != 0 { CapSet::DENY } else { self }
    }
}

/// Which names a capability set is about; each has its own capability names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Namespace,
    NodePool,
    HostVolume,
    /// A `path` inside a namespace's `variables` block.
    VariablePath,
}

/// A value of `policy = "..."` before it is checked against its block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyName {
    Deny,
    Read,
    List,
    Write,
    Scale,
}

impl PolicyName {
    pub fn parse(text: &str) -> Option<PolicyName> {
        match text {
            "deny" => Some(PolicyName::Deny),
            "read" => Some(PolicyName::Read),
            "list" => Some(PolicyName::List),
            "write" => Some(PolicyName::Write),
            "scale" => Some(PolicyName::Scale),
            _ => None,
        }
    }
}

/// The grant of an area without names (agent, node, operator, quota, plugin).
///
/// `Deny` sorts last so that merging two grants is taking the larger one:
/// deny wins, otherwise the higher level does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grant {
    List,
    Read,
    Write,
    Deny,
}

const NAMESPACE_NAMES: [&str; 27] = [
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
const NODE_POOL_NAMES: [&str; 4] = ["deny", "read", "write", "delete"];
const HOST_VOLUME_NAMES: [&str; 3] = ["deny", "mount-readonly", "mount-readwrite"];
const VARIABLE_PATH_NAMES: [&str; 5] = ["deny", "list", "read", "write", "destroy"];

/// The capabilities `names` of a scope whose capability names are `table`.
/// A name missing from the table stops the build: it is a typo here.
const fn named(table: &[&str], names: &[&str]) -> CapSet {
    let mut bits = 0;
    let mut n = 0;
    while n < names.len() {
        let mut t = 0;
        while t < table.len() && !same(table[t], names[n]) {
            t += 1;
        }
        assert!(t < table.len(), "capability name missing from its table");
        bits |= 1 << t;
        n += 1;
    }
    CapSet(bits)
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Namespace capabilities that requests name by level.
pub const LIST_JOBS: CapSet = named(&NAMESPACE_NAMES, &["list-jobs"]);
pub const READ_JOB: CapSet = named(&NAMESPACE_NAMES, &["read-job"]);
pub const SUBMIT_JOB: CapSet = named(&NAMESPACE_NAMES, &["submit-job"]);
pub const SCALE_JOB: CapSet = named(&NAMESPACE_NAMES, &["scale-job"]);

/// Node pool capabilities.
pub const POOL_READ: CapSet = named(&NODE_POOL_NAMES, &["read"]);
pub const POOL_WRITE: CapSet = named(&NODE_POOL_NAMES, &["write"]);
pub const POOL_ANY: CapSet = named(&NODE_POOL_NAMES, &["read", "write", "delete"]);

/// Host volume capabilities.
pub const MOUNT_READONLY: CapSet = named(&HOST_VOLUME_NAMES, &["mount-readonly"]);
pub const MOUNT_READWRITE: CapSet = named(&HOST_VOLUME_NAMES, &["mount-readwrite"]);

const NAMESPACE_READ: CapSet = named(
    &NAMESPACE_NAMES,
    &[
        "list-jobs",
        "parse-job",
        "read-job",
        "csi-list-volume",
        "csi-read-volume",
        "read-job-scaling",
        "list-scaling-policies",
        "read-scaling-policy",
        "host-volume-read",
    ],
);
const NAMESPACE_WRITE: CapSet = NAMESPACE_READ.union(named(
    &NAMESPACE_NAMES,
    &[
        "scale-job",
        "submit-job",
        "dispatch-job",
        "read-logs",
        "read-fs",
        "alloc-exec",
        "alloc-lifecycle",
        "csi-mount-volume",
        "csi-write-volume",
        "submit-recommendation",
        "host-volume-create",
    ],
));
const NAMESPACE_SCALE: CapSet =
    named(&NAMESPACE_NAMES, &["list-scaling-policies", "read-scaling-policy", "read-job-scaling", "scale-job"]);

/// Host volume rights in a namespace imply the weaker ones, as in Nomad's
/// `expandNamespaceCapabilities`; listed strongest first so one pass settles
/// chains such as write -> register -> create -> read.
const HOST_VOLUME_IMPLIED: [(CapSet, CapSet); 3] = [
    (
        named(&NAMESPACE_NAMES, &["host-volume-write"]),
        named(
            &NAMESPACE_NAMES,
            &["host-volume-register", "host-volume-create", "host-volume-delete", "host-volume-read"],
        ),
    ),
    (
        named(&NAMESPACE_NAMES, &["host-volume-register"]),
        named(&NAMESPACE_NAMES, &["host-volume-create", "host-volume-read"]),
    ),
    (named(&NAMESPACE_NAMES, &["host-volume-create"]), named(&NAMESPACE_NAMES, &["host-volume-read"])),
];

const VARIABLE_READ: CapSet = named(&VARIABLE_PATH_NAMES, &["read"]);
const VARIABLE_LIST: CapSet = named(&VARIABLE_PATH_NAMES, &["list"]);

impl Scope {
    /// The block name that introduces this scope in a rule document.
    pub fn noun(self) -> &'static str {
        match self {
            Scope::Namespace => "namespace",
            Scope::NodePool => "node_pool",
            Scope::HostVolume => "host_volume",
            Scope::VariablePath => "variable",
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Scope::Namespace => &NAMESPACE_NAMES,
            Scope::NodePool => &NODE_POOL_NAMES,
            Scope::HostVolume => &HOST_VOLUME_NAMES,
            Scope::VariablePath => &VARIABLE_PATH_NAMES,
        }
    }

    /// The capability called `name` in this scope, `deny` included.
    pub fn capability(self, name: &str) -> Option<CapSet> {
        let index = self.names().iter().position(|candidate| *candidate == name)?;
        Some(CapSet(1 << index))
    }

    /// The capability a request may ask for: any but `deny`, which is not a
    /// right anybody can hold.
    pub fn requestable(self, name: &str) -> Option<CapSet> {
        self.capability(name).filter(|capability| *capability != CapSet::DENY)
    }

    /// The capabilities `policy = "..."` grants in this scope, or `None` if
    /// the scope does not take that policy.
    pub fn expand(self, policy: PolicyName) -> Option<CapSet> {
        match (self, policy) {
            (Scope::VariablePath, _) => None,
            (_, PolicyName::Deny) => Some(CapSet::DENY),
            (Scope::Namespace, PolicyName::Read) => Some(NAMESPACE_READ),
            (Scope::Namespace, PolicyName::Write) => Some(NAMESPACE_WRITE),
            (Scope::Namespace, PolicyName::Scale) => Some(NAMESPACE_SCALE),
            (Scope::NodePool, PolicyName::Read) => Some(POOL_READ),
            (Scope::NodePool, PolicyName::Write) => Some(POOL_ANY),
            (Scope::HostVolume, PolicyName::Read) => Some(MOUNT_READONLY),
            (Scope::HostVolume, PolicyName::Write) => Some(MOUNT_READONLY.union(MOUNT_READWRITE)),
            (_, PolicyName::List | PolicyName::Scale) => None,
        }
    }

    /// Adds the capabilities that `capabilities` imply in this scope.
    pub fn with_implied(self, capabilities: CapSet) -> CapSet {
        match self {
            Scope::Namespace => HOST_VOLUME_IMPLIED.iter().fold(capabilities, |set, (strong, implied)| {
                if set.contains(*strong) { set.union(*implied) } else { set }
            }),
            // Reading a variable implies listing it; deny replaces the rest.
            Scope::VariablePath if capabilities.contains(VARIABLE_READ) => capabilities.union(VARIABLE_LIST),
            Scope::NodePool | Scope::HostVolume | Scope::VariablePath => capabilities,
        }
    }

    /// Whether `label` is a valid name or glob for a block of this scope: 1
    /// to 128 ASCII letters, digits, `-` and `*` (node pools also allow `_`).
    pub fn valid_label(self, label: &str) -> bool {
        let underscore = self == Scope::NodePool;
        (1..=128).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*' || (underscore && b == b'_'))
    }

    /// The names of the capabilities in `set`, in table order.
    #[cfg(test)]
    pub fn names_of(self, set: CapSet) -> Vec<&'static str> {
        self.names().iter().enumerate().filter(|(index, _)| set.0 & (1 << index) != 0).map(|(_, name)| *name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_namespace_capability_has_its_own_bit() {
        let mut all = CapSet::EMPTY;
        for name in NAMESPACE_NAMES {
            let bit = Scope::Namespace.capability(name).expect("a listed name parses");
            assert!(!all.contains(bit), "{name} shares a bit");
            all = all.union(bit);
        }
        assert_eq!(Scope::Namespace.names_of(all).len(), 27);
        assert_eq!(Scope::Namespace.capability("read"), None);
        assert_eq!(Scope::Namespace.capability("Read-Job"), None);
    }

    #[test]
    fn namespace_read_expands_like_nomad() {
        let read = Scope::Namespace.expand(PolicyName::Read).expect("namespaces take read");
        assert_eq!(
            Scope::Namespace.names_of(read),
            [
                "list-jobs",
                "parse-job",
                "read-job",
                "csi-read-volume",
                "csi-list-volume",
                "host-volume-read",
                "list-scaling-policies",
                "read-scaling-policy",
                "read-job-scaling",
            ]
        );
    }

    #[test]
    fn namespace_write_is_read_plus_the_write_rights() {
        let read = Scope::Namespace.expand(PolicyName::Read).expect("read");
        let write = Scope::Namespace.expand(PolicyName::Write).expect("write");
        assert!(write.contains(read));
        for name in [
            "submit-job",
            "dispatch-job",
            "read-logs",
            "read-fs",
            "alloc-exec",
            "alloc-lifecycle",
            "csi-write-volume",
            "csi-mount-volume",
            "scale-job",
            "submit-recommendation",
            "host-volume-create",
        ] {
            assert!(write.contains(Scope::Namespace.capability(name).expect("known")), "write lacks {name}");
        }
        for name in ["alloc-node-exec", "csi-register-plugin", "sentinel-override", "host-volume-write", "deny"] {
            assert!(!write.contains(Scope::Namespace.capability(name).expect("known")), "write has {name}");
        }
    }

    #[test]
    fn namespace_scale_grants_only_scaling() {
        let scale = Scope::Namespace.expand(PolicyName::Scale).expect("namespaces take scale");
        assert_eq!(
            Scope::Namespace.names_of(scale),
            ["list-scaling-policies", "read-scaling-policy", "read-job-scaling", "scale-job"]
        );
    }

    #[test]
    fn policies_outside_their_scope_expand_to_nothing() {
        assert_eq!(Scope::Namespace.expand(PolicyName::List), None);
        assert_eq!(Scope::NodePool.expand(PolicyName::Scale), None);
        assert_eq!(Scope::NodePool.expand(PolicyName::List), None);
        assert_eq!(Scope::HostVolume.expand(PolicyName::Scale), None);
        assert_eq!(Scope::VariablePath.expand(PolicyName::Read), None);
        assert_eq!(Scope::HostVolume.expand(PolicyName::Deny), Some(CapSet::DENY));
    }

    #[test]
    fn node_pool_and_host_volume_shorthands() {
        let pool_write = Scope::NodePool.expand(PolicyName::Write).expect("write");
        assert_eq!(Scope::NodePool.names_of(pool_write), ["read", "write", "delete"]);
        let pool_read = Scope::NodePool.expand(PolicyName::Read).expect("read");
        assert_eq!(Scope::NodePool.names_of(pool_read), ["read"]);
        let volume_read = Scope::HostVolume.expand(PolicyName::Read).expect("read");
        assert_eq!(Scope::HostVolume.names_of(volume_read), ["mount-readonly"]);
        let volume_write = Scope::HostVolume.expand(PolicyName::Write).expect("write");
        assert_eq!(Scope::HostVolume.names_of(volume_write), ["mount-readonly", "mount-readwrite"]);
    }

    #[test]
    fn host_volume_write_in_a_namespace_implies_the_weaker_rights() {
        let write = Scope::Namespace.capability("host-volume-write").expect("known");
        assert_eq!(
            Scope::Namespace.names_of(Scope::Namespace.with_implied(write)),
            [
                "host-volume-create",
                "host-volume-register",
                "host-volume-read",
                "host-volume-write",
                "host-volume-delete"
            ]
        );
        let register = Scope::Namespace.capability("host-volume-register").expect("known");
        assert_eq!(
            Scope::Namespace.names_of(Scope::Namespace.with_implied(register)),
            ["host-volume-create", "host-volume-register", "host-volume-read"]
        );
        let read_job = Scope::Namespace.capability("read-job").expect("known");
        assert_eq!(Scope::Namespace.with_implied(read_job), read_job);
    }

    #[test]
    fn reading_a_variable_implies_listing_it() {
        let read = Scope::VariablePath.capability("read").expect("known");
        assert_eq!(Scope::VariablePath.names_of(Scope::VariablePath.with_implied(read)), ["list", "read"]);
    }

    #[test]
    fn deny_settles_a_set_and_grants_nothing() {
        let read = Scope::Namespace.expand(PolicyName::Read).expect("read");
        let denied = read.union(CapSet::DENY);
        assert!(read.grants_any(READ_JOB));
        assert!(!denied.grants_any(READ_JOB));
        assert_eq!(denied.settled(), CapSet::DENY);
        assert_eq!(read.settled(), read);
        assert!(!CapSet::EMPTY.grants_any(READ_JOB));
    }

    #[test]
    fn deny_is_never_requestable() {
        assert_eq!(Scope::Namespace.requestable("deny"), None);
        assert_eq!(Scope::NodePool.requestable("deny"), None);
        assert_eq!(Scope::Namespace.requestable("read-job"), Some(READ_JOB));
        assert_eq!(Scope::NodePool.requestable("delete"), Scope::NodePool.capability("delete"));
    }

    #[test]
    fn merging_grants_takes_deny_then_the_highest() {
        assert_eq!(Grant::Read.max(Grant::Write), Grant::Write);
        assert_eq!(Grant::List.max(Grant::Read), Grant::Read);
        assert_eq!(Grant::Write.max(Grant::Deny), Grant::Deny);
        assert_eq!(Grant::Deny.max(Grant::List), Grant::Deny);
    }

    #[test]
    fn labels_follow_nomads_name_rules() {
        assert!(Scope::Namespace.valid_label("prod-*"));
        assert!(Scope::Namespace.valid_label("*"));
        assert!(!Scope::Namespace.valid_label(""));
        assert!(!Scope::Namespace.valid_label("prod env"));
        assert!(!Scope::Namespace.valid_label("prod_env"));
        assert!(Scope::NodePool.valid_label("gpu_pool"));
        assert!(!Scope::HostVolume.valid_label("data/1"));
        assert!(Scope::HostVolume.valid_label(&"a".repeat(128)));
        assert!(!Scope::HostVolume.valid_label(&"a".repeat(129)));
        assert!(!Scope::Namespace.valid_label("prod\u{e9}"));
    }
}
