//! Opening the Raft storage: one sled database in the data directory's
//! `raft` subdirectory, holding the log and the state machine.
//!
//! On-disk layout (all in the one database):
//!
//! - [`LOG_TREE`](crate::log_store::LOG_TREE): log entries by big-endian index.
//! - [`META_TREE`](crate::log_store::META_TREE): vote, last purged and committed log id.
//! - [`STATE_TREE`](crate::state_machine::STATE_TREE): one value per record, the
//!   applied log id and the membership.
//! - [`SNAPSHOT_TREE`](crate::snapshot_store::SNAPSHOT_TREE): the current snapshot.

use crate::data_dir::{DataDir, DataDirError};
use crate::log_store::LogStore;
use crate::state_machine::{LoadError, StateMachineStore};

/// The most memory sled's page cache may use. The replicated state is small;
/// sled's own default is a gigabyte.
pub const CACHE_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Opens the Raft storage.
#[derive(Debug)]
pub struct Store;

/// The Raft storage could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The sled database could not be opened.
    #[error("open raft storage: {0}")]
    Open(#[from] DataDirError),
    /// A tree in the database could not be opened.
    #[error("open raft storage: {0}")]
    Tree(#[from] sled::Error),
    /// The stored state machine could not be loaded.
    #[error("load raft state machine: {0}")]
    Load(#[from] LoadError),
}

impl Store {
    /// Opens (or creates) the sled database in `data_dir` and returns the
    /// log store and the state machine openraft is started with. The state
    /// machine's [`StateMachineStore::view`] is the read handle for the
    /// rest of the server.
    ///
    /// Only one process may have the database open at a time; sled holds
    /// a lock on it until every handle is dropped.
    pub fn open(data_dir: &DataDir) -> Result<(LogStore, StateMachineStore), StoreError> {
        let config = sled::Config::new().cache_capacity(CACHE_MAX_BYTES);
        let db = data_dir.open_sled(config)?;
        let log = LogStore::open(&db)?;
        let state_machine = StateMachineStore::open(&db)?;
        Ok((log, state_machine))
    }
}
