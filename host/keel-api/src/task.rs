//! What a client reports of the tasks it runs, and the task group's
//! restart policy, in Nomad's shapes: `TaskStates` with their events in an
//! allocation, `RestartPolicy` in a task group.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A task's state.
pub mod state {
    pub const PENDING: &str = "pending";
    pub const RUNNING: &str = "running";
    pub const DEAD: &str = "dead";
}

/// The task event types Keel reports, as Nomad names them.
pub mod event {
    pub const RECEIVED: &str = "Received";
    pub const TASK_SETUP: &str = "Task Setup";
    pub const STARTED: &str = "Started";
    pub const TERMINATED: &str = "Terminated";
    pub const RESTARTING: &str = "Restarting";
    pub const NOT_RESTARTING: &str = "Not Restarting";
    pub const KILLING: &str = "Killing";
    pub const KILLED: &str = "Killed";
    pub const DRIVER_FAILURE: &str = "Driver Failure";
}

/// What happened to one task of an allocation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskState {
    pub state: String,
    pub failed: bool,
    pub restarts: u64,
    /// RFC 3339 times, `null` until they happen.
    pub last_restart: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub events: Vec<TaskEvent>,
}

/// One event of a task, as Nomad's `TaskEvent`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskEvent {
    #[serde(rename = "Type")]
    pub event_type: String,
    /// Unix nanoseconds.
    pub time: i64,
    pub message: String,
    pub display_message: String,
    pub details: BTreeMap<String, String>,
    pub fails_task: bool,
    pub exit_code: i32,
    pub signal: i32,
    /// Nanoseconds.
    pub kill_timeout: i64,
    pub restart_reason: String,
    /// Nanoseconds.
    pub start_delay: i64,
    pub driver_error: String,
}

/// How many of a task's events are kept, the newest (Nomad's client keeps
/// ten): a task that keeps restarting does not grow its allocation.
pub const MAX_TASK_EVENTS: usize = 10;

impl TaskState {
    /// Appends `event`, dropping the oldest beyond [`MAX_TASK_EVENTS`].
    pub fn push_event(&mut self, event: TaskEvent) {
        self.events.push(event);
        let excess = self.events.len().saturating_sub(MAX_TASK_EVENTS);
        self.events.drain(..excess);
    }
}

impl TaskEvent {
    /// An event of `event_type` at `time` (Unix nanoseconds) that says
    /// `message`.
    pub fn new(event_type: &str, time: i64, message: impl Into<String>) -> Self {
        let message = message.into();
        Self { event_type: event_type.to_owned(), time, display_message: message.clone(), message, ..Self::default() }
    }
}

/// Which of a task's logs: `?type=` of `/v1/client/fs/logs/:alloc_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Stdout,
    Stderr,
}

impl LogKind {
    /// `stdout` or `stderr`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "stdout" => Some(Self::Stdout),
            "stderr" => Some(Self::Stderr),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// What a task group's tasks do when they exit, as Nomad's
/// `RestartPolicy` (durations in nanoseconds, as Go writes them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub attempts: Option<u32>,
    pub interval: Option<u64>,
    pub delay: Option<u64>,
    pub mode: Option<String>,
}

/// How a restart policy that ran out of attempts goes on.
pub mod restart_mode {
    /// The task fails.
    pub const FAIL: &str = "fail";
    /// The task waits for the interval to end, then starts over.
    pub const DELAY: &str = "delay";
}

impl RestartPolicy {
    /// Nomad's defaults for a job type: 2 attempts in 30 minutes for
    /// services, 3 in a day for batch jobs, 15 s apart, then fail.
    pub fn nomad_default(job_type: &str) -> Self {
        let (attempts, interval) = match job_type {
            "batch" | "sysbatch" => (3, 24 * 3_600),
            _ => (2, 30 * 60),
        };
        Self {
            attempts: Some(attempts),
            interval: Some(interval * 1_000_000_000),
            delay: Some(15_000_000_000),
            mode: Some(restart_mode::FAIL.to_owned()),
        }
    }

    /// Fills what is not set from `defaults`.
    pub fn fill(&mut self, defaults: &Self) {
        self.attempts = self.attempts.or(defaults.attempts);
        self.interval = self.interval.or(defaults.interval);
        self.delay = self.delay.or(defaults.delay);
        if self.mode.is_none() {
            self.mode.clone_from(&defaults.mode);
        }
    }

    pub fn attempts(&self) -> u32 {
        self.attempts.unwrap_or(0)
    }

    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval.unwrap_or(0))
    }

    pub fn delay(&self) -> Duration {
        Duration::from_nanos(self.delay.unwrap_or(0))
    }

    pub fn mode(&self) -> &str {
        self.mode.as_deref().unwrap_or(restart_mode::FAIL)
    }

    /// Nomad's checks of a restart policy.
    pub fn validate(&self) -> Result<(), String> {
        if ![restart_mode::FAIL, restart_mode::DELAY].contains(&self.mode()) {
            return Err(format!("Unsupported restart mode: {:?}", self.mode()));
        }
        if self.attempts() == 0 && self.mode() == restart_mode::DELAY {
            return Err("Restart policy \"delay\" mode requires at least one attempt".to_owned());
        }
        let needed = self.delay().saturating_mul(self.attempts());
        if self.interval() < needed {
            return Err(format!(
                "Nomad can't restart the TaskGroup {} times in an interval of {} with a delay of {}",
                self.attempts(),
                crate::duration::format(self.interval()),
                crate::duration::format(self.delay()),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_keeps_only_its_newest_events() {
        let mut task = TaskState::default();
        for time in 0..25 {
            task.push_event(TaskEvent::new(event::RESTARTING, time, "again"));
        }
        let times: Vec<i64> = task.events.iter().map(|e| e.time).collect();
        assert_eq!(times, (15..25).collect::<Vec<_>>());
    }

    #[test]
    fn a_policy_takes_what_it_sets_and_nomads_defaults_for_the_rest() {
        let mut policy = RestartPolicy { attempts: Some(0), ..RestartPolicy::default() };
        policy.fill(&RestartPolicy::nomad_default("batch"));
        assert_eq!((policy.attempts(), policy.delay(), policy.mode()), (0, Duration::from_secs(15), "fail"));
        assert_eq!(policy.interval(), Duration::from_secs(86_400));
        assert_eq!(RestartPolicy::nomad_default("service").attempts(), 2);
        assert_eq!(policy.validate(), Ok(()));
    }

    #[test]
    fn a_policy_that_cannot_be_kept_is_refused() {
        let policy = |attempts, interval_s: u64, delay_s: u64, mode: &str| RestartPolicy {
            attempts: Some(attempts),
            interval: Some(interval_s * 1_000_000_000),
            delay: Some(delay_s * 1_000_000_000),
            mode: Some(mode.to_owned()),
        };
        assert_eq!(policy(1, 10, 1, "sometimes").validate(), Err("Unsupported restart mode: \"sometimes\"".into()));
        assert!(policy(0, 10, 1, "delay").validate().expect_err("refused").contains("at least one attempt"));
        let crowded = policy(3, 10, 5, "fail").validate().expect_err("refused");
        assert_eq!(crowded, "Nomad can't restart the TaskGroup 3 times in an interval of 10s with a delay of 5s");
    }

    #[test]
    fn events_and_states_are_written_with_nomads_field_names() {
        let event = TaskEvent { exit_code: 3, ..TaskEvent::new(event::TERMINATED, 7, "Exit Code: 3") };
        let written = serde_json::to_value(&event).expect("serializes");
        assert_eq!(written["Type"], "Terminated");
        assert_eq!((written["ExitCode"].as_i64(), written["DisplayMessage"].as_str()), (Some(3), Some("Exit Code: 3")));
        let state = TaskState { state: state::DEAD.into(), events: vec![event], ..TaskState::default() };
        let written = serde_json::to_value(&state).expect("serializes");
        assert_eq!((written["State"].as_str(), written["FinishedAt"].is_null()), (Some("dead"), true));
    }
}
