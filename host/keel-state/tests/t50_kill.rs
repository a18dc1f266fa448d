//! An acknowledged append or vote survives `kill -9` of the process that
//! made it: the test re-runs itself as a child that writes and reports each
//! acknowledgement, kills it mid-stream, and reopens the store.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use keel_state::{Command, DataDir, LogStore, Store, TypeConfig};
use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftLogReader, Vote};

/// Set in the child: the data directory to write to.
const CHILD_DIR_VAR: &str = "KEEL_STATE_KILL_CHILD_DIR";
/// How many acknowledgements the parent waits for before killing.
const ACKS_BEFORE_KILL: u64 = 40;
const CHILD_DEADLINE: Duration = Duration::from_secs(60);

fn entry(index: u64) -> Entry<TypeConfig> {
    let command = Command::SetLicense { blob: format!("blob-{index}") };
    Entry { log_id: LogId::new(CommittedLeaderId::new(1, 1), index), payload: EntryPayload::Normal(command) }
}

/// The child: saves a vote, then appends one entry at a time, printing
/// `acked <index>` only after `append` reported the entry durable.
fn run_child(dir: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let (mut log, _sm): (LogStore, _) = Store::open(&DataDir::open(dir)?)?;
        log.save_vote(&Vote::new(7, 1)).await?;
        let mut stdout = std::io::stdout();
        for index in 1.. {
            log.blocking_append([entry(index)]).await?;
            writeln!(stdout, "acked {index}")?;
            stdout.flush()?;
        }
        Ok(())
    })
}

#[test]
fn acknowledged_writes_survive_kill_9() -> Result<()> {
    if let Ok(dir) = std::env::var(CHILD_DIR_VAR) {
        return run_child(&dir);
    }
    let tmp = tempfile::tempdir()?;
    let mut child = Process::new(std::env::current_exe()?)
        .args(["--exact", "acknowledged_writes_survive_kill_9", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_VAR, tmp.path())
        .stdout(Stdio::piped())
        .spawn()?;
    let acked = wait_for_acks(child.stdout.take().context("child stdout")?);
    // Child::kill sends SIGKILL: no destructor, no flush on the way out.
    child.kill()?;
    child.wait()?;
    let acked = acked?;

    let (mut log, _sm) = Store::open(&DataDir::open(tmp.path())?)?;
    assert_eq!(log.read_vote().await_blocking()?, Some(Vote::new(7, 1)));
    let entries = log.try_get_log_entries(1..=acked).await_blocking()?;
    ensure!(entries.len() as u64 == acked, "only {} of {acked} acknowledged entries survived", entries.len());
    Ok(())
}

/// Reads the child's output until it has acknowledged enough entries.
fn wait_for_acks(stdout: std::process::ChildStdout) -> Result<u64> {
    let started = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(index) = line.strip_prefix("acked ") {
            let index: u64 = index.parse()?;
            if index >= ACKS_BEFORE_KILL {
                return Ok(index);
            }
        }
        ensure!(started.elapsed() < CHILD_DEADLINE, "the child is too slow");
    }
    bail!("the child stopped before acknowledging {ACKS_BEFORE_KILL} entries")
}

/// Runs a storage future to completion from this synchronous test.
trait AwaitBlocking: std::future::Future + Sized {
    fn await_blocking(self) -> Self::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime builds")
            .block_on(self)
    }
}

impl<F: std::future::Future> AwaitBlocking for F {}
