//! The replicated data and the pure function that applies a command to it.

use keel_api::operator::{AutopilotConfiguration, SchedulerConfiguration};
use serde::{Deserialize, Serialize};

use crate::command::{Command, Outcome};

/// Everything an operator can change, as of some Raft index.
///
/// `apply` is deterministic: every server applies the same commands in the
/// same order and ends with the same state. It never does I/O; the storage
/// layer persists the [`Record`]s it reports as changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub autopilot: Option<AutopilotConfiguration>,
    pub scheduler: Option<SchedulerConfiguration>,
    pub license: Option<StoredLicense>,
}

/// The raw license blob, kept as the operator sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLicense {
    pub blob: String,
    pub modify_index: u64,
}

/// One independently stored piece of the state. The storage layer keeps
/// one sled value per record, so a write rewrites only what it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Record {
    Autopilot,
    Scheduler,
    License,
}

impl Record {
    pub const ALL: [Record; 3] = [Record::Autopilot, Record::Scheduler, Record::License];

    /// The record's key in storage.
    pub fn key(self) -> &'static str {
        match self {
            Record::Autopilot => "autopilot",
            Record::Scheduler => "scheduler",
            Record::License => "license",
        }
    }

    pub fn from_key(key: &[u8]) -> Option<Record> {
        Record::ALL.into_iter().find(|record| record.key().as_bytes() == key)
    }
}

/// Which records a command changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    Some(Vec<Record>),
    /// A restore: every record is replaced, and records not in the new
    /// state are removed.
    All,
}

/// A stored record that could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("decode state record {key:?}: {source}")]
pub struct DecodeError {
    key: String,
    source: serde_json::Error,
}

impl State {
    /// Applies `command`, written at Raft `index`, and says what changed.
    pub fn apply(&mut self, index: u64, command: Command) -> (Outcome, Changed) {
        match command {
            Command::InitDefaults { autopilot, scheduler } => {
                let mut changed = Vec::new();
                if self.autopilot.is_none() {
                    self.autopilot =
                        Some(AutopilotConfiguration { create_index: index, modify_index: index, ..autopilot });
                    changed.push(Record::Autopilot);
                }
                if self.scheduler.is_none() {
                    self.scheduler =
                        Some(SchedulerConfiguration { create_index: index, modify_index: index, ..scheduler });
                    changed.push(Record::Scheduler);
                }
                (Outcome::Applied, Changed::Some(changed))
            }
            Command::SetAutopilotConfig { config, cas } => {
                let current = self.autopilot.as_ref().map(|c| (c.create_index, c.modify_index));
                match check_and_set(current, cas, index) {
                    Some(create_index) => {
                        self.autopilot = Some(AutopilotConfiguration { create_index, modify_index: index, ..config });
                        (cas_outcome(cas, true), Changed::Some(vec![Record::Autopilot]))
                    }
                    None => (cas_outcome(cas, false), Changed::Some(Vec::new())),
                }
            }
            Command::SetSchedulerConfig { config, cas } => {
                let current = self.scheduler.as_ref().map(|c| (c.create_index, c.modify_index));
                match check_and_set(current, cas, index) {
                    Some(create_index) => {
                        self.scheduler = Some(SchedulerConfiguration { create_index, modify_index: index, ..config });
                        (cas_outcome(cas, true), Changed::Some(vec![Record::Scheduler]))
                    }
                    None => (cas_outcome(cas, false), Changed::Some(Vec::new())),
                }
            }
            Command::SetLicense { blob } => {
                self.license = Some(StoredLicense { blob, modify_index: index });
                (Outcome::Applied, Changed::Some(vec![Record::License]))
            }
            Command::Restore { state } => {
                *self = *state;
                (Outcome::Applied, Changed::All)
            }
        }
    }

    /// A record's stored form, or `None` when the state does not have it.
    pub fn encode(&self, record: Record) -> Option<Vec<u8>> {
        let encoded = match record {
            Record::Autopilot => self.autopilot.as_ref().map(serde_json::to_vec),
            Record::Scheduler => self.scheduler.as_ref().map(serde_json::to_vec),
            Record::License => self.license.as_ref().map(serde_json::to_vec),
        };
        encoded.map(|bytes| bytes.expect("state records are plain data and always serialize"))
    }

    /// Sets one record from its stored form.
    pub fn decode(&mut self, record: Record, bytes: &[u8]) -> Result<(), DecodeError> {
        let fail = |source| DecodeError { key: record.key().to_owned(), source };
        match record {
            Record::Autopilot => self.autopilot = Some(serde_json::from_slice(bytes).map_err(fail)?),
            Record::Scheduler => self.scheduler = Some(serde_json::from_slice(bytes).map_err(fail)?),
            Record::License => self.license = Some(serde_json::from_slice(bytes).map_err(fail)?),
        }
        Ok(())
    }
}

/// Nomad's check-and-set rule: without `cas` the write always happens;
/// with it, only when the stored `ModifyIndex` equals `cas` (0 meaning
/// "does not exist yet"). Returns the `CreateIndex` to keep, or `None` when
/// the check fails.
fn check_and_set(current: Option<(u64, u64)>, cas: Option<u64>, index: u64) -> Option<u64> {
    match (current, cas) {
        (Some((create_index, _)), None) => Some(create_index),
        (None, None | Some(0)) => Some(index),
        (Some((create_index, modify_index)), Some(cas)) if modify_index == cas => Some(create_index),
        _ => None,
    }
}

fn cas_outcome(cas: Option<u64>, won: bool) -> Outcome {
    match cas {
        Some(_) => Outcome::Cas(won),
        None => Outcome::Applied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheduler(algorithm: &str) -> SchedulerConfiguration {
        SchedulerConfiguration { scheduler_algorithm: algorithm.into(), ..SchedulerConfiguration::default() }
    }

    fn initialised() -> State {
        let mut state = State::default();
        state.apply(
            3,
            Command::InitDefaults {
                autopilot: AutopilotConfiguration::nomad_defaults(),
                scheduler: SchedulerConfiguration::nomad_defaults(),
            },
        );
        state
    }

    #[test]
    fn init_defaults_fills_only_what_is_missing() {
        let mut state = initialised();
        assert_eq!(state.scheduler.as_ref().map(|c| (c.create_index, c.modify_index)), Some((3, 3)));
        state.apply(4, Command::SetSchedulerConfig { config: scheduler("spread"), cas: None });
        let (_, changed) = state.apply(
            5,
            Command::InitDefaults {
                autopilot: AutopilotConfiguration::nomad_defaults(),
                scheduler: SchedulerConfiguration::nomad_defaults(),
            },
        );
        assert_eq!(changed, Changed::Some(vec![]));
        assert_eq!(state.scheduler.as_ref().map(|c| c.scheduler_algorithm.as_str()), Some("spread"));
    }

    #[test]
    fn cas_wins_only_on_the_current_modify_index() {
        let mut state = initialised();
        let (outcome, _) = state.apply(7, Command::SetSchedulerConfig { config: scheduler("spread"), cas: Some(2) });
        assert_eq!(outcome, Outcome::Cas(false));
        assert_eq!(state.scheduler.as_ref().map(|c| c.scheduler_algorithm.as_str()), Some("binpack"));

        let (outcome, _) = state.apply(8, Command::SetSchedulerConfig { config: scheduler("spread"), cas: Some(3) });
        assert_eq!(outcome, Outcome::Cas(true));
        let stored = state.scheduler.as_ref().expect("set");
        assert_eq!((stored.create_index, stored.modify_index, stored.scheduler_algorithm.as_str()), (3, 8, "spread"));
    }

    #[test]
    fn plain_writes_keep_create_index_and_answer_applied() {
        let mut state = initialised();
        let config =
            AutopilotConfiguration { max_trailing_logs: 9, create_index: 99, modify_index: 99, ..Default::default() };
        let (outcome, changed) = state.apply(10, Command::SetAutopilotConfig { config, cas: None });
        assert_eq!(outcome, Outcome::Applied);
        assert_eq!(changed, Changed::Some(vec![Record::Autopilot]));
        let stored = state.autopilot.as_ref().expect("set");
        assert_eq!((stored.create_index, stored.modify_index, stored.max_trailing_logs), (3, 10, 9));
    }

    #[test]
    fn records_round_trip_through_their_stored_form() {
        let mut state = initialised();
        state.apply(4, Command::SetLicense { blob: "keel-license-v1.a.b".into() });
        let mut loaded = State::default();
        for record in Record::ALL {
            let bytes = state.encode(record).expect("present");
            loaded.decode(Record::from_key(record.key().as_bytes()).expect("known key"), &bytes).expect("decodes");
        }
        assert_eq!(loaded, state);
    }

    #[test]
    fn restore_replaces_everything() {
        let mut state = initialised();
        state.apply(4, Command::SetLicense { blob: "x".into() });
        let (_, changed) = state.apply(5, Command::Restore { state: Box::new(State::default()) });
        assert_eq!(changed, Changed::All);
        assert_eq!(state, State::default());
    }
}
