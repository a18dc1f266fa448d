//! The Raft state machine: [`State`] in memory for reads, and in one sled
//! tree on disk.
//!
//! The tree [`STATE_TREE`] holds one value per [`Record`] under
//! `record/<key>`, plus the last applied log id under `applied` and the last
//! membership under `membership`. Every `apply` call writes the records it
//! changed and the new position in one `apply_batch`, so the applied index
//! on disk always describes exactly the data next to it.
//!
//! `apply` does not flush: after a crash the state machine may come back at
//! an earlier index, and openraft re-applies the rest from the log (which is
//! flushed, and only purged behind a snapshot, whose build flushes first).

use std::collections::BTreeSet;
use std::io::Cursor;

use openraft::storage::RaftStateMachine;
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError,
    StorageIOError, StoredMembership,
};

use crate::snapshot_store::SnapshotStore;
use crate::state::Changed;
use crate::view::{Applied, StateView};
use crate::{Command, Outcome, Record, ServerNode, State, TypeConfig};

/// The sled tree holding the state machine.
pub const STATE_TREE: &str = "state-machine";

const RECORD_PREFIX: &str = "record/";
const APPLIED_KEY: &str = "applied";
const MEMBERSHIP_KEY: &str = "membership";

type Result<T> = std::result::Result<T, StorageError<u64>>;

/// The state machine openraft applies committed entries to.
pub struct StateMachineStore {
    db: sled::Db,
    tree: sled::Tree,
    snapshots: SnapshotStore,
    view: StateView,
}

/// The stored state machine could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// sled failed to read.
    #[error("read state machine: {0}")]
    Sled(#[from] sled::Error),
    /// A record did not decode.
    #[error(transparent)]
    Record(#[from] crate::state::DecodeError),
    /// The applied log id or the membership did not decode.
    #[error("decode state machine {key:?}: {source}")]
    Decode { key: &'static str, source: serde_json::Error },
    /// A key this version does not know.
    #[error("read state machine: unknown key {0:?}")]
    UnknownKey(String),
}

impl StateMachineStore {
    /// Opens the state machine in `db` and loads the state, the applied log
    /// id and the membership it holds.
    pub(crate) fn open(db: &sled::Db) -> std::result::Result<StateMachineStore, LoadError> {
        let tree = db.open_tree(STATE_TREE)?;
        let snapshots = SnapshotStore::open(db)?;
        let applied = load(&tree)?;
        Ok(StateMachineStore { db: db.clone(), tree, snapshots, view: StateView::new(applied) })
    }

    /// A read handle on the applied state for the rest of the server.
    pub fn view(&self) -> StateView {
        self.view.clone()
    }
}

/// Reads the whole state machine tree. Anything that does not decode, or a
/// key this version does not know, is an error: serving a partial state
/// would be worse than not starting.
fn load(tree: &sled::Tree) -> std::result::Result<Applied, LoadError> {
    let mut applied = Applied::default();
    for item in tree.iter() {
        let (key, value) = item?;
        if let Some(name) = key.strip_prefix(RECORD_PREFIX.as_bytes()) {
            let record = Record::from_key(name).ok_or_else(|| unknown_key(&key))?;
            applied.state.decode(record, &value)?;
        } else if *key == *APPLIED_KEY.as_bytes() {
            applied.applied =
                serde_json::from_slice(&value).map_err(|source| LoadError::Decode { key: APPLIED_KEY, source })?;
        } else if *key == *MEMBERSHIP_KEY.as_bytes() {
            applied.membership =
                serde_json::from_slice(&value).map_err(|source| LoadError::Decode { key: MEMBERSHIP_KEY, source })?;
        } else {
            return Err(unknown_key(&key));
        }
    }
    Ok(applied)
}

fn unknown_key(key: &[u8]) -> LoadError {
    LoadError::UnknownKey(String::from_utf8_lossy(key).into_owned())
}

fn record_key(record: &Record) -> String {
    format!("{RECORD_PREFIX}{}", record.key())
}

/// What one `apply` call changed, to be written in one batch.
#[derive(Default)]
struct Touched {
    records: BTreeSet<Record>,
    all: bool,
    membership: bool,
}

impl Touched {
    fn add(&mut self, changed: Changed) {
        match changed {
            Changed::Some(records) => self.records.extend(records),
            Changed::All => self.all = true,
        }
    }

    /// Adds the changed records, the applied log id and, if it changed, the
    /// membership of `current` to `batch`.
    fn write(&self, tree: &sled::Tree, current: &Applied, batch: &mut sled::Batch) -> sled::Result<()> {
        if self.all {
            write_all_records(tree, &current.state, batch)?;
        } else {
            write_records(&current.state, self.records.iter(), batch);
        }
        write_position(current, self.membership || self.all, batch);
        Ok(())
    }
}

fn write_records<'a>(state: &State, records: impl IntoIterator<Item = &'a Record>, batch: &mut sled::Batch) {
    for record in records {
        match state.encode(record) {
            Some(bytes) => batch.insert(record_key(record).as_bytes(), bytes),
            None => batch.remove(record_key(record).as_bytes()),
        }
    }
}

/// Replaces every stored record with `state`'s. Stored keys the state does
/// not have are removed: a later insert of the same key in the batch wins
/// over the removal.
fn write_all_records(tree: &sled::Tree, state: &State, batch: &mut sled::Batch) -> sled::Result<()> {
    for key in tree.scan_prefix(RECORD_PREFIX).keys() {
        batch.remove(key?);
    }
    let records: Vec<Record> = state.records().collect();
    write_records(state, &records, batch);
    Ok(())
}

fn write_position(current: &Applied, membership: bool, batch: &mut sled::Batch) {
    batch.insert(APPLIED_KEY, to_json(&current.applied));
    if membership {
        batch.insert(MEMBERSHIP_KEY, to_json(&current.membership));
    }
}

fn to_json(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("raft positions are plain data and always serialize")
}

/// Whether applying `entry` replaces the whole state (a restore).
fn replaces_the_state(entry: &Entry<TypeConfig>) -> bool {
    matches!(entry.payload, EntryPayload::Normal(Command::Restore { .. } | Command::CommitRestore { .. }))
}

/// Runs `work` without holding up the async runtime: encoding, decoding
/// or writing a whole state takes long enough to delay the heartbeats of
/// every task sharing the runtime. On a multi-threaded runtime the worker
/// first hands its other tasks to the rest (`block_in_place`); on a
/// single-threaded one (some tests) `work` simply runs. The work borrows
/// the sled tree instead of owning a clone: the last handle of a tree
/// flushes as it drops, which must not happen on a blocking thread that
/// outlives a server being shut down.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// Applies `entries` to `current` in log order and says what changed.
fn apply_entries(
    current: &mut Applied,
    entries: impl IntoIterator<Item = Entry<TypeConfig>>,
) -> (Vec<Outcome>, Touched) {
    let mut outcomes = Vec::new();
    let mut touched = Touched::default();
    for entry in entries {
        current.applied = Some(entry.log_id);
        let outcome = match entry.payload {
            EntryPayload::Blank => Outcome::Applied,
            EntryPayload::Normal(command) => {
                let (outcome, changed) = current.state.apply(entry.log_id.index, command);
                touched.add(changed);
                outcome
            }
            EntryPayload::Membership(membership) => {
                current.membership = StoredMembership::new(Some(entry.log_id), membership);
                touched.membership = true;
                Outcome::Applied
            }
        };
        outcomes.push(outcome);
    }
    (outcomes, touched)
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = StateSnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId<u64>>, StoredMembership<u64, ServerNode>)> {
        Ok(self.view.with_applied(|current| (current.applied, current.membership.clone())))
    }

    // Why: the trait wants the applied log id stored for every entry,
    // membership stored for membership entries, and one reply per entry.
    // Blank and membership entries answer `Applied`. A failed write leaves
    // the in-memory state ahead of the disk; openraft treats the returned
    // `StorageError` as fatal and stops the node, so nothing acts on it.
    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Outcome>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let whole_state = entries.iter().any(replaces_the_state);
        let tree = &self.tree;
        let apply = || {
            self.view.update(|current| {
                let (outcomes, touched) = apply_entries(current, entries);
                if !outcomes.is_empty() {
                    let mut batch = sled::Batch::default();
                    touched.write(tree, current, &mut batch)?;
                    tree.apply_batch(batch)?;
                }
                Ok::<_, sled::Error>(outcomes)
            })
        };
        // A restore parses and writes the whole state, which takes long
        // enough to hold up heartbeats on the async runtime.
        let applied = if whole_state { blocking(apply) } else { apply() };
        Ok(applied.map_err(|e| StorageIOError::write_state_machine(&e))?)
    }

    async fn get_snapshot_builder(&mut self) -> StateSnapshotBuilder {
        StateSnapshotBuilder { db: self.db.clone(), view: self.view.clone(), snapshots: self.snapshots.clone() }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    // Why: the trait wants the state replaced and the snapshot kept as the
    // current one before this returns. The new state and its position go
    // in one batch and are flushed before the snapshot is recorded, so the
    // state on disk never lags a snapshot openraft may purge the log behind.
    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, ServerNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<()> {
        let data = snapshot.into_inner();
        let tree = &self.tree;
        let state: State = blocking(|| serde_json::from_slice(&data))
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        let replaced = blocking(|| {
            self.view.update(|current| {
                *current = Applied { state, applied: meta.last_log_id, membership: meta.last_membership.clone() };
                let touched = Touched { all: true, ..Touched::default() };
                let mut batch = sled::Batch::default();
                touched.write(tree, current, &mut batch)?;
                tree.apply_batch(batch)
            })
        });
        replaced.map_err(|e| StorageIOError::write_state_machine(&e))?;
        self.db.flush_async().await.map_err(|e| StorageIOError::write_state_machine(&e))?;
        self.snapshots.save(meta, &data).await?;
        let index = meta.last_log_id.map_or(0, |id| id.index);
        tracing::info!(index, bytes = data.len(), "installed a snapshot sent by the leader");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>> {
        Ok(self.snapshots.load().map_err(|e| StorageIOError::read_snapshot(None, &e))?)
    }
}

/// Builds a snapshot of the applied state; openraft runs it in a
/// background task while entries keep being applied.
pub struct StateSnapshotBuilder {
    db: sled::Db,
    view: StateView,
    snapshots: SnapshotStore,
}

impl RaftSnapshotBuilder<TypeConfig> for StateSnapshotBuilder {
    // Why: openraft may purge the log up to the snapshot's last log id, so
    // the state machine data covering that id is flushed before the
    // snapshot is recorded.
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>> {
        let (data, last_log_id, last_membership) = blocking(|| {
            self.view.with_applied(|current| {
                let data = serde_json::to_vec(&current.state).expect("the state is plain data and always serializes");
                (data, current.applied, current.membership.clone())
            })
        });
        self.db.flush_async().await.map_err(|e| StorageIOError::write_state_machine(&e))?;
        let n = self.db.generate_id().map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        let snapshot_id = match last_log_id {
            Some(id) => format!("{}-{}-{n}", id.leader_id.term, id.index),
            None => format!("0-0-{n}"),
        };
        let meta = SnapshotMeta { last_log_id, last_membership, snapshot_id };
        self.snapshots.save(&meta, &data).await?;
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) })
    }
}
