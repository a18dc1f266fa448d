//! Keel's replicated state and its storage.
//!
//! This crate owns what every server agrees on and how it is kept on disk:
//! the Raft [`Command`]s, the pure [`State`] they are applied to (ACL
//! policies and tokens in [`AclState`], installed plugins in
//! [`PluginRegistry`]), the sled-backed Raft log and state machine that openraft drives, the
//! snapshot archive served by `/v1/operator/snapshot`, and the data
//! directory, which is opened once as a `cap_std::fs::Dir`.
//!
//! It depends on `keel-api` for the shapes it stores, on openraft for the
//! storage traits and on sled for the files. It must not know about HTTP,
//! the network or plugins: the cluster crate drives it.

pub mod acl;
pub mod archive;
pub mod command;
pub mod data_dir;
pub mod jobs;
pub mod log_store;
pub mod nodes;
pub mod plugins;
pub mod restore;
pub mod snapshot_store;
pub mod state;
pub mod state_machine;
pub mod store;
pub mod view;

pub use acl::AclState;
pub use command::{Command, Outcome};
pub use data_dir::{DataDir, DataDirError};
pub use log_store::LogStore;
pub use plugins::{ComponentBytes, InstalledPlugin, KindRegistry, PluginMode, PluginRegistry, ProbationRollback};
pub use restore::StagedRestore;
pub use state::{Record, State, StoredLicense};
pub use state_machine::{StateMachineStore, StateSnapshotBuilder};
pub use store::{Store, StoreError};
pub use view::StateView;

openraft::declare_raft_types!(
    /// The Raft type configuration Keel runs with: commands in, outcomes
    /// out, servers identified by a `u64` and described by a [`ServerNode`],
    /// snapshots as bytes in memory.
    pub TypeConfig:
        D = Command,
        R = Outcome,
        NodeId = u64,
        Node = ServerNode,
        SnapshotData = std::io::Cursor<Vec<u8>>,
);

/// What the Raft membership records about a server.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerNode {
    /// The server's raft ID as Nomad shows it (a UUID).
    pub id: String,
    /// The server's RPC address, `ip:port`.
    pub address: String,
    /// The server's node name.
    pub name: String,
}

impl std::fmt::Display for ServerNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {})", self.name, self.id, self.address)
    }
}
