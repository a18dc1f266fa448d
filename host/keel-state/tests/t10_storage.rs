//! The sled-backed storage keeps what it acknowledged: across a reopen, a
//! restore, an installed snapshot, and refuses corrupted data with an error.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, ensure};
use keel_api::operator::{AutopilotConfiguration, SchedulerConfiguration};
use keel_state::state_machine::STATE_TREE;
use keel_state::{Command, DataDir, LogStore, Record, ServerNode, State, StateMachineStore, Store, TypeConfig};
use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::{
    CommittedLeaderId, Entry, EntryPayload, LogId, Membership, RaftLogReader, RaftSnapshotBuilder, StoredMembership,
    Vote,
};

fn log_id(index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(1, 1), index)
}

fn entry(index: u64, command: Command) -> Entry<TypeConfig> {
    Entry { log_id: log_id(index), payload: EntryPayload::Normal(command) }
}

fn membership_entry(index: u64) -> Entry<TypeConfig> {
    let node = ServerNode { id: "a1".into(), address: "127.0.0.1:4647".into(), name: "one".into() };
    let membership = Membership::new(vec![BTreeSet::from([1])], BTreeMap::from([(1, node)]));
    Entry { log_id: log_id(index), payload: EntryPayload::Membership(membership) }
}

fn init_defaults() -> Command {
    Command::InitDefaults {
        autopilot: AutopilotConfiguration::nomad_defaults(),
        scheduler: SchedulerConfiguration::nomad_defaults(),
    }
}

fn license(blob: &str) -> Command {
    Command::SetLicense { blob: blob.into() }
}

fn open(dir: &Path) -> Result<(LogStore, StateMachineStore)> {
    Ok(Store::open(&DataDir::open(dir)?)?)
}

/// Appends `entries` to the log, then applies them, as openraft would once
/// they are committed.
async fn commit(log: &mut LogStore, sm: &mut StateMachineStore, entries: Vec<Entry<TypeConfig>>) -> Result<()> {
    log.blocking_append(entries.clone()).await?;
    sm.apply(entries).await?;
    Ok(())
}

#[tokio::test]
async fn a_reopened_store_returns_the_same_log_vote_state_and_applied_index() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let entries = vec![membership_entry(1), entry(2, init_defaults()), entry(3, license("blob-1"))];
    let vote = Vote::new_committed(1, 1);
    let state_before = {
        let (mut log, mut sm) = open(tmp.path())?;
        log.save_vote(&vote).await?;
        commit(&mut log, &mut sm, entries.clone()).await?;
        log.save_committed(Some(log_id(3))).await?;
        sm.view().read(State::clone)
    };

    let (mut log, mut sm) = open(tmp.path())?;
    assert_eq!(log.read_vote().await?, Some(vote));
    assert_eq!(log.read_committed().await?, Some(log_id(3)));
    let read_back = log.try_get_log_entries(0..).await?;
    assert_eq!(serde_json::to_value(&read_back)?, serde_json::to_value(&entries)?);
    assert_eq!(log.get_log_state().await?.last_log_id, Some(log_id(3)));

    let (applied, membership) = sm.applied_state().await?;
    assert_eq!(applied, Some(log_id(3)));
    assert_eq!(membership.log_id(), &Some(log_id(1)));
    let view = sm.view();
    assert_eq!(view.read(State::clone), state_before);
    assert_eq!(view.read(|s| s.license.as_ref().map(|l| l.modify_index)), Some(3));
    assert_eq!(view.applied_index(), 3);
    Ok(())
}

#[tokio::test]
async fn readers_see_the_applied_index_and_the_data_change_together() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let (_log, mut sm) = open(tmp.path())?;
    let view = sm.view();
    let (done, reading) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let reader = std::thread::spawn({
        let (view, done, reading) = (view.clone(), done.clone(), reading.clone());
        move || {
            let mut reads = 0u64;
            while !done.load(Ordering::Relaxed) {
                let (data_index, applied_index) = view.read_at(|state, applied| {
                    (state.license.as_ref().map(|l| l.modify_index), applied.map(|id| id.index))
                });
                assert_eq!(data_index, applied_index, "data and applied index seen apart");
                reads += 1;
                reading.store(true, Ordering::Relaxed);
            }
            reads
        }
    });
    // On a busy machine the reader may start late: write only once it reads.
    while !reading.load(Ordering::Relaxed) {
        tokio::task::yield_now().await;
    }
    for index in 1..=300 {
        sm.apply([entry(index, license(&format!("blob-{index}")))]).await?;
    }
    done.store(true, Ordering::Relaxed);
    let reads = reader.join().map_err(|_| anyhow::anyhow!("reader panicked"))?;
    ensure!(reads > 0, "the reader never ran");
    drop((_log, sm));

    // On disk, the applied index is the one stored with the data.
    let (_log, mut sm) = open(tmp.path())?;
    assert_eq!(sm.applied_state().await?.0, Some(log_id(300)));
    assert_eq!(view_license_index(&sm), Some(300));
    Ok(())
}

fn view_license_index(sm: &StateMachineStore) -> Option<u64> {
    sm.view().read(|state| state.license.as_ref().map(|l| l.modify_index))
}

#[tokio::test]
async fn a_restore_removes_records_the_new_state_does_not_have() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let restored = {
        let (_log, mut sm) = open(tmp.path())?;
        sm.apply([entry(1, init_defaults()), entry(2, license("blob"))]).await?;
        let mut restored = State::default();
        restored.apply(1, Command::SetSchedulerConfig { config: SchedulerConfiguration::default(), cas: None });
        sm.apply([entry(3, Command::Restore { state: Box::new(restored.clone()) })]).await?;
        assert_eq!(sm.view().read(State::clone), restored);
        restored
    };

    let (_log, mut sm) = open(tmp.path())?;
    assert_eq!(sm.view().read(State::clone), restored);
    assert_eq!(sm.applied_state().await?.0, Some(log_id(3)));
    drop((_log, sm));
    let stored = stored_state_keys(tmp.path())?;
    ensure!(!stored.iter().any(|key| key.ends_with(&Record::License.key())), "license still stored: {stored:?}");
    ensure!(!stored.iter().any(|key| key.ends_with(&Record::Autopilot.key())), "autopilot still stored: {stored:?}");
    Ok(())
}

fn stored_state_keys(dir: &Path) -> Result<Vec<String>> {
    let db = sled::open(dir.join("raft"))?;
    let keys = db.open_tree(STATE_TREE)?.iter().keys();
    keys.map(|key| Ok(String::from_utf8(key?.to_vec())?)).collect()
}

#[tokio::test]
async fn an_installed_snapshot_survives_a_reopen() -> Result<()> {
    let (leader_dir, follower_dir) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let (_leader_log, mut leader) = open(leader_dir.path())?;
    leader.apply([membership_entry(1), entry(2, init_defaults()), entry(3, license("blob"))]).await?;
    let snapshot = leader.get_snapshot_builder().await.build_snapshot().await?;
    assert_eq!(snapshot.meta.last_log_id, Some(log_id(3)));
    ensure!(snapshot.meta.snapshot_id.starts_with("1-3-"), "snapshot id {:?}", snapshot.meta.snapshot_id);

    {
        let (_log, mut follower) = open(follower_dir.path())?;
        follower.apply([entry(1, license("old"))]).await?;
        let mut received = follower.begin_receiving_snapshot().await?;
        *received = Cursor::new(snapshot.snapshot.get_ref().clone());
        follower.install_snapshot(&snapshot.meta, received).await?;
    }

    let (_log, mut follower) = open(follower_dir.path())?;
    assert_eq!(follower.view().read(State::clone), leader.view().read(State::clone));
    let expected_membership: StoredMembership<u64, ServerNode> = leader.view().membership();
    assert_eq!(follower.applied_state().await?, (Some(log_id(3)), expected_membership));
    let current = follower.get_current_snapshot().await?.context("no current snapshot after reopen")?;
    assert_eq!(current.meta, snapshot.meta);
    assert_eq!(current.snapshot.get_ref(), snapshot.snapshot.get_ref());
    Ok(())
}

#[tokio::test]
async fn a_corrupted_record_is_an_error_not_a_panic() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    {
        let (_log, mut sm) = open(tmp.path())?;
        sm.apply([entry(1, init_defaults())]).await?;
    }
    {
        let db = sled::open(tmp.path().join("raft"))?;
        let tree = db.open_tree(STATE_TREE)?;
        let key = tree.iter().keys().find_map(|key| key.ok().filter(|k| k.ends_with(b"scheduler")));
        tree.insert(key.context("scheduler record not stored")?, &b"{not json"[..])?;
        db.flush()?;
    }

    let Err(error) = open(tmp.path()) else {
        anyhow::bail!("a corrupted record was loaded");
    };
    let message = format!("{error:#}");
    ensure!(message.contains("scheduler"), "the error does not name the record: {message}");
    Ok(())
}

#[tokio::test]
async fn a_corrupted_log_entry_is_an_error_not_a_panic() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    {
        let (mut log, _sm) = open(tmp.path())?;
        log.blocking_append([entry(1, init_defaults()), entry(2, license("blob"))]).await?;
    }
    {
        let db = sled::open(tmp.path().join("raft"))?;
        db.open_tree(keel_state::log_store::LOG_TREE)?.insert(2u64.to_be_bytes(), &b"\xff"[..])?;
        db.flush()?;
    }

    let (mut log, _sm) = open(tmp.path())?;
    ensure!(log.try_get_log_entries(1..3).await.is_err(), "a corrupted entry was read");
    ensure!(log.get_log_state().await.is_err(), "a corrupted last entry was read");
    assert_eq!(log.try_get_log_entries(1..2).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn truncate_and_purge_leave_no_hole() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let (mut log, _sm) = open(tmp.path())?;
    log.blocking_append((1..=10).map(|i| entry(i, license(&i.to_string())))).await?;
    log.truncate(log_id(8)).await?;
    log.purge(log_id(3)).await?;
    let indexes: Vec<u64> = log.try_get_log_entries(..).await?.iter().map(|e| e.log_id.index).collect();
    assert_eq!(indexes, (4..=7).collect::<Vec<_>>());
    let state = log.get_log_state().await?;
    assert_eq!((state.last_purged_log_id, state.last_log_id), (Some(log_id(3)), Some(log_id(7))));

    log.purge(log_id(7)).await?;
    let state = log.get_log_state().await?;
    assert_eq!((state.last_purged_log_id, state.last_log_id), (Some(log_id(7)), Some(log_id(7))));
    Ok(())
}
