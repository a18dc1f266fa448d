//! The Raft log and vote, in two sled trees.
//!
//! Entries live in [`LOG_TREE`] keyed by their index as a big-endian `u64`,
//! so sled's key order is log order, with the entry as JSON as the value.
//! The vote, the last purged log id and the committed log id live in
//! [`META_TREE`].

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{Entry, LogId, LogState, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::TypeConfig;

/// The sled tree holding the log entries.
pub const LOG_TREE: &str = "raft-log";
/// The sled tree holding the vote, the last purged and the committed log id.
pub const META_TREE: &str = "raft-meta";

const VOTE_KEY: &str = "vote";
const LAST_PURGED_KEY: &str = "last-purged";
const COMMITTED_KEY: &str = "committed";

/// How many entries one `limited_get_log_entries` call returns at most.
const READ_MAX_ENTRIES: usize = 4096;
/// How many encoded bytes one `limited_get_log_entries` call reads at most
/// (it always returns at least one entry).
const READ_MAX_BYTES: usize = 8 * 1024 * 1024;

type Result<T> = std::result::Result<T, StorageError<u64>>;

/// The Raft log and vote, backed by sled. Cloning it is cheap; every clone
/// reads and writes the same trees, and a clone is the log reader openraft
/// hands to replication tasks.
#[derive(Clone)]
pub struct LogStore {
    db: sled::Db,
    log: sled::Tree,
    meta: sled::Tree,
}

impl LogStore {
    /// Opens the log trees of `db`.
    pub(crate) fn open(db: &sled::Db) -> std::result::Result<LogStore, sled::Error> {
        Ok(LogStore { db: db.clone(), log: db.open_tree(LOG_TREE)?, meta: db.open_tree(META_TREE)? })
    }

    /// Makes everything written so far durable. sled only syncs on a timer
    /// by default, so every write openraft treats as persisted calls this.
    async fn flush(&self) -> std::result::Result<(), sled::Error> {
        self.db.flush_async().await.map(drop)
    }

    fn read_meta<T: DeserializeOwned>(&self, key: &'static str) -> std::result::Result<Option<T>, MetaError> {
        match self.meta.get(key).map_err(|source| MetaError::Read { key, source })? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|source| MetaError::Decode { key, source }),
        }
    }

    fn write_meta<T: Serialize>(&self, key: &str, value: &T) -> std::result::Result<(), sled::Error> {
        let bytes = serde_json::to_vec(value).expect("raft metadata is plain data and always serializes");
        self.meta.insert(key, bytes).map(drop)
    }

    fn last_purged(&self) -> std::result::Result<Option<LogId<u64>>, MetaError> {
        self.read_meta(LAST_PURGED_KEY)
    }

    fn log_state(&self) -> std::result::Result<LogState<TypeConfig>, ReadError> {
        let last_purged_log_id = self.last_purged()?;
        let last_log_id = match self.log.last()? {
            Some((_, value)) => Some(serde_json::from_slice::<Entry<TypeConfig>>(&value)?.log_id),
            None => last_purged_log_id,
        };
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    /// Reads entries in `[start, end)`, stopping early once `limit` says so.
    fn read_range(
        &self,
        start: u64,
        end: Option<u64>,
        limit: ReadLimit,
    ) -> std::result::Result<Vec<Entry<TypeConfig>>, ReadError> {
        if end.is_some_and(|end| start >= end) {
            return Ok(Vec::new());
        }
        let range = match end {
            Some(end) => self.log.range(start.to_be_bytes()..end.to_be_bytes()),
            None => self.log.range(start.to_be_bytes()..),
        };
        let mut entries = Vec::new();
        let mut bytes_read = 0;
        for item in range {
            if limit.reached(entries.len(), bytes_read) {
                break;
            }
            let (_, value) = item?;
            bytes_read += value.len();
            entries.push(serde_json::from_slice(&value)?);
        }
        Ok(entries)
    }
}

/// A value in the meta tree that could not be read back.
#[derive(Debug, thiserror::Error)]
enum MetaError {
    #[error("read raft metadata {key:?}: {source}")]
    Read { key: &'static str, source: sled::Error },
    #[error("decode raft metadata {key:?}: {source}")]
    Decode { key: &'static str, source: serde_json::Error },
}

/// How much one read may return.
#[derive(Clone, Copy)]
enum ReadLimit {
    All,
    Bounded,
}

impl ReadLimit {
    fn reached(self, entries: usize, bytes: usize) -> bool {
        match self {
            ReadLimit::All => false,
            ReadLimit::Bounded => entries > 0 && (entries >= READ_MAX_ENTRIES || bytes >= READ_MAX_BYTES),
        }
    }
}

/// A log entry that could not be read back.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("read raft log: {0}")]
    Sled(#[from] sled::Error),
    #[error("decode raft log entry: {0}")]
    Decode(#[from] serde_json::Error),
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// `[start, end)` of a range of log indexes; `end` is `None` when unbounded.
fn index_range(range: &impl RangeBounds<u64>) -> Option<(u64, Option<u64>)> {
    let start = match range.start_bound() {
        Bound::Included(&start) => start,
        Bound::Excluded(&start) => start.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&end) => end.checked_add(1),
        Bound::Excluded(&end) => Some(end),
        Bound::Unbounded => None,
    };
    Some((start, end))
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>> {
        let Some((start, end)) = index_range(&range) else {
            return Ok(Vec::new());
        };
        Ok(self.read_range(start, end, ReadLimit::All).map_err(|e| StorageIOError::read_logs(&e))?)
    }

    // Why: the trait allows returning a prefix of a large range as long as it
    // is not empty, which bounds the memory one replication request takes.
    async fn limited_get_log_entries(&mut self, start: u64, end: u64) -> Result<Vec<Entry<TypeConfig>>> {
        Ok(self.read_range(start, Some(end), ReadLimit::Bounded).map_err(|e| StorageIOError::read_logs(&e))?)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    // Why: with no entries left the trait wants the last purged id as the
    // last log id, so a fully purged log still reports where it ended.
    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>> {
        Ok(self.log_state().map_err(|e| StorageIOError::read_logs(&e))?)
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    // Why: the trait requires the vote to be on disk before this returns.
    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<()> {
        self.write_meta(VOTE_KEY, vote).map_err(|e| StorageIOError::write_vote(&e))?;
        self.flush().await.map_err(|e| StorageIOError::write_vote(&e))?;
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>> {
        self.read_meta(VOTE_KEY).map_err(|e| StorageIOError::read_vote(&e).into())
    }

    // Why: the committed id is only a hint that lets openraft re-apply
    // committed entries at start-up, so it is not flushed on its own.
    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> Result<()> {
        self.write_meta(COMMITTED_KEY, &committed).map_err(|e| StorageIOError::write(&e))?;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>> {
        let committed: Option<Option<LogId<u64>>> =
            self.read_meta(COMMITTED_KEY).map_err(|e| StorageIOError::read(&e))?;
        Ok(committed.flatten())
    }

    // Why: the callback tells openraft the entries are durable, so it is
    // only called after the flush. All entries go in one atomic batch, so a
    // crash never leaves a hole.
    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = sled::Batch::default();
        for entry in entries {
            let value = serde_json::to_vec(&entry).map_err(|e| StorageIOError::write_log_entry(entry.log_id, &e))?;
            batch.insert(&entry.log_id.index.to_be_bytes(), value);
        }
        self.log.apply_batch(batch).map_err(|e| StorageIOError::write_logs(&e))?;
        match self.flush().await {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(error) => {
                let storage_error = StorageIOError::write_logs(&error).into();
                callback.log_io_completed(Err(error.into()));
                Err(storage_error)
            }
        }
    }

    // Why: removing `[index, ..)` in one atomic batch cannot leave a hole.
    // It is flushed so a conflicting suffix cannot come back after a crash
    // once the leader's entries have replaced it.
    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<()> {
        let mut batch = sled::Batch::default();
        for key in self.log.range(log_id.index.to_be_bytes()..).keys() {
            batch.remove(key.map_err(|e| StorageIOError::write_logs(&e))?);
        }
        self.log.apply_batch(batch).map_err(|e| StorageIOError::write_logs(&e))?;
        self.flush().await.map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }

    // Why: the last purged id is written before the entries go, so a crash
    // in between leaves extra entries (harmless) rather than a log that
    // starts after a gap nobody recorded.
    async fn purge(&mut self, log_id: LogId<u64>) -> Result<()> {
        self.write_meta(LAST_PURGED_KEY, &log_id).map_err(|e| StorageIOError::write_logs(&e))?;
        let mut batch = sled::Batch::default();
        for key in self.log.range(..=log_id.index.to_be_bytes()).keys() {
            batch.remove(key.map_err(|e| StorageIOError::write_logs(&e))?);
        }
        self.log.apply_batch(batch).map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }
}
