//! openraft's own storage test suite, run against the sled-backed log and
//! state machine, each case in a fresh data directory.

use keel_state::{DataDir, LogStore, StateMachineStore, Store, TypeConfig};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{StorageError, StorageIOError};
use tempfile::TempDir;

/// Opens the storage in a new temporary directory, which the suite keeps
/// alive (and then removes) as the guard.
struct FreshStore;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for FreshStore {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError<u64>> {
        let tmp = tempfile::tempdir().map_err(|e| StorageIOError::write(&e))?;
        let data_dir = DataDir::open(tmp.path()).map_err(|e| StorageIOError::write(&e))?;
        let (log, state_machine) = Store::open(&data_dir).map_err(|e| StorageIOError::write(&e))?;
        Ok((tmp, log, state_machine))
    }
}

#[test]
fn passes_the_openraft_storage_suite() -> anyhow::Result<()> {
    Ok(Suite::test_all(FreshStore)?)
}
