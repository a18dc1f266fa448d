//! The current Raft snapshot, kept in its own sled tree.

use std::io::Cursor;
use std::sync::{Arc, Mutex};

use openraft::{Snapshot, SnapshotMeta, StorageError, StorageIOError};

use crate::{ServerNode, TypeConfig};

/// The sled tree holding the current snapshot.
pub const SNAPSHOT_TREE: &str = "snapshot";

const META_KEY: &str = "meta";
const DATA_KEY: &str = "data";

type Meta = SnapshotMeta<u64, ServerNode>;

/// The one current snapshot: its meta and its bytes, written together.
#[derive(Clone)]
pub(crate) struct SnapshotStore {
    db: sled::Db,
    tree: sled::Tree,
    /// Serializes the check-and-replace in [`SnapshotStore::save`]: a
    /// snapshot builder runs concurrently with `install_snapshot`.
    replace: Arc<Mutex<()>>,
}

/// A stored snapshot that could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SnapshotError {
    #[error("stored snapshot: {0}")]
    Sled(#[from] sled::Error),
    #[error("decode stored snapshot meta: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("read stored snapshot: meta present without data")]
    MissingData,
}

impl SnapshotStore {
    pub(crate) fn open(db: &sled::Db) -> Result<SnapshotStore, sled::Error> {
        Ok(SnapshotStore { db: db.clone(), tree: db.open_tree(SNAPSHOT_TREE)?, replace: Arc::default() })
    }

    /// Makes `meta` and `data` the current snapshot, unless the stored one
    /// already covers a later log id, and flushes.
    ///
    /// Why the check: openraft builds snapshots in a background task, so a
    /// snapshot built before an `install_snapshot` can finish after it; the
    /// trait wants the installed one to stay current.
    pub(crate) async fn save(&self, meta: &Meta, data: &[u8]) -> Result<(), StorageError<u64>> {
        let fail = |e: &SnapshotError| StorageIOError::write_snapshot(Some(meta.signature()), e);
        self.replace_if_newer(meta, data).map_err(|e| fail(&e))?;
        self.db.flush_async().await.map_err(|e| fail(&e.into()))?;
        Ok(())
    }

    fn replace_if_newer(&self, meta: &Meta, data: &[u8]) -> Result<(), SnapshotError> {
        let _replace = self.replace.lock().expect("the snapshot lock guards no data and cannot be torn");
        if let Some(stored) = self.load_meta()?
            && stored.last_log_id > meta.last_log_id
        {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        batch.insert(META_KEY, serde_json::to_vec(meta).expect("snapshot meta is plain data and serializes"));
        batch.insert(DATA_KEY, data);
        Ok(self.tree.apply_batch(batch)?)
    }

    /// The current snapshot, if there is one.
    pub(crate) fn load(&self) -> Result<Option<Snapshot<TypeConfig>>, SnapshotError> {
        let Some(meta) = self.load_meta()? else {
            return Ok(None);
        };
        let data = self.tree.get(DATA_KEY)?.ok_or(SnapshotError::MissingData)?;
        Ok(Some(Snapshot { meta, snapshot: Box::new(Cursor::new(data.to_vec())) }))
    }

    fn load_meta(&self) -> Result<Option<Meta>, SnapshotError> {
        match self.tree.get(META_KEY)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        }
    }
}
