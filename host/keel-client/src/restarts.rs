//! What a task does when it exits, under its group's restart policy, as
//! Nomad's restart tracker decides: a batch task that exits 0 is done; any
//! other exit counts an attempt in the policy's interval; within the
//! attempts the task restarts after the delay, beyond them it fails
//! (`mode = "fail"`) or waits for the interval to end (`mode = "delay"`).

use std::time::{Duration, Instant};

use keel_api::task::{RestartPolicy, restart_mode};

/// What to do after an exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The task is done and did not fail.
    Done,
    /// Start the task again after `delay`; `reason` says why.
    Restart { delay: Duration, reason: String },
    /// The task failed for good; `reason` says why.
    Fail { reason: String },
}

/// A task's restarts so far, counted in the policy's interval.
#[derive(Debug, Clone)]
pub struct Restarts {
    policy: RestartPolicy,
    batch: bool,
    count: u32,
    window_start: Instant,
}

impl Restarts {
    /// A tracker for a task of a `batch` (or service) job, started `now`.
    pub fn new(policy: RestartPolicy, batch: bool, now: Instant) -> Self {
        Self { policy, batch, count: 0, window_start: now }
    }

    /// What to do now that the task exited `successfully` (status 0) or
    /// not, at `now`.
    pub fn next(&mut self, successfully: bool, now: Instant) -> Next {
        if self.batch && successfully {
            return Next::Done;
        }
        let interval = self.policy.interval();
        if now.duration_since(self.window_start) > interval {
            self.count = 0;
            self.window_start = now;
        }
        self.count += 1;
        let attempts = self.policy.attempts();
        if self.count <= attempts {
            return Next::Restart { delay: self.policy.delay(), reason: "Restart within policy".to_owned() };
        }
        if self.policy.mode() == restart_mode::DELAY {
            let delay = (self.window_start + interval).saturating_duration_since(now);
            return Next::Restart { delay, reason: "Exceeded allowed attempts, applying a delay".to_owned() };
        }
        let reason = match attempts {
            0 => "Policy allows no restarts".to_owned(),
            _ => format!(
                "Exceeded allowed attempts {attempts} in interval {} and mode is \"fail\"",
                keel_api::duration::format(interval)
            ),
        };
        Next::Fail { reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: u32, interval_s: u64, delay_s: u64, mode: &str) -> RestartPolicy {
        RestartPolicy {
            attempts: Some(attempts),
            interval: Some(interval_s * 1_000_000_000),
            delay: Some(delay_s * 1_000_000_000),
            mode: Some(mode.to_owned()),
        }
    }

    #[test]
    fn a_batch_task_that_exits_zero_is_done_and_a_service_task_restarts() {
        let now = Instant::now();
        assert_eq!(Restarts::new(policy(2, 60, 1, "fail"), true, now).next(true, now), Next::Done);
        let mut service = Restarts::new(policy(2, 60, 1, "fail"), false, now);
        let restart = Next::Restart { delay: Duration::from_secs(1), reason: "Restart within policy".into() };
        assert_eq!(service.next(true, now), restart, "a service is not meant to exit");
    }

    #[test]
    fn attempts_run_out_in_the_interval_and_come_back_after_it() {
        let start = Instant::now();
        let mut tracker = Restarts::new(policy(2, 60, 1, "fail"), true, start);
        assert!(matches!(tracker.next(false, start), Next::Restart { .. }));
        assert!(matches!(tracker.next(false, start + Duration::from_secs(1)), Next::Restart { .. }));
        let failed = tracker.next(false, start + Duration::from_secs(2));
        let reason = "Exceeded allowed attempts 2 in interval 1m0s and mode is \"fail\"".to_owned();
        assert_eq!(failed, Next::Fail { reason });

        let mut later = Restarts::new(policy(1, 10, 1, "fail"), true, start);
        assert!(matches!(later.next(false, start), Next::Restart { .. }));
        assert!(matches!(later.next(false, start + Duration::from_secs(11)), Next::Restart { .. }), "a new interval");
    }

    #[test]
    fn no_attempts_fail_at_once_and_delay_mode_waits_out_the_interval() {
        let start = Instant::now();
        let none = Restarts::new(policy(0, 60, 1, "fail"), false, start).next(false, start);
        assert_eq!(none, Next::Fail { reason: "Policy allows no restarts".into() });

        let mut delayed = Restarts::new(policy(1, 60, 1, "delay"), false, start);
        assert!(matches!(delayed.next(false, start), Next::Restart { delay, .. } if delay == Duration::from_secs(1)));
        let wait = delayed.next(false, start + Duration::from_secs(20));
        let reason = "Exceeded allowed attempts, applying a delay".to_owned();
        assert_eq!(wait, Next::Restart { delay: Duration::from_secs(40), reason });
    }
}
