//! What the workload did, as the checker reads it: every operation with
//! the time it was sent and answered, the server it went to, what it asked
//! and what came back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most operations one run records; a soak that outgrows it stops
/// recording and says so, rather than growing without bound.
pub const HISTORY_MAX_OPS: usize = 2_000_000;

/// Times since the start of a run, shared by the clients and the nemesis
/// so that their records can be compared.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Self {
        Self(Instant::now())
    }

    pub fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// The register's value: eight fields of the scheduler configuration that
/// round-trip, one bit each (see [`crate::fault::client`]).
pub type Marker = u8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `PUT /v1/acl/policy/<name>` with `rules`.
    PutPolicy { name: String, rules: String },
    /// `GET /v1/acl/policy/<name>`, default consistency.
    GetPolicy { name: String },
    /// `GET /v1/operator/scheduler/configuration`, default consistency.
    ReadRegister,
    /// `PUT /v1/operator/scheduler/configuration?cas=<cas>` writing `value`.
    CasRegister { cas: u64, value: Marker },
}

impl Request {
    /// The kind's name in counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PutPolicy { .. } => "put-policy",
            Self::GetPolicy { .. } => "get-policy",
            Self::ReadRegister => "read-register",
            Self::CasRegister { .. } => "cas-register",
        }
    }
}

/// What an answered request reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// The policy write was applied.
    Written,
    /// The policy's rules, or `None` for a 404.
    Policy(Option<String>),
    /// The register's value and `ModifyIndex`.
    Register { value: Marker, modify_index: u64 },
    /// The CAS outcome and the index the reply carried.
    Cas { updated: bool, index: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok(Observed),
    /// It certainly did not take effect: a 4xx, or "No cluster leader".
    Failed(String),
    /// It may or may not have taken effect: a timeout, a broken
    /// connection, an unexpected 5xx.
    Indeterminate(String),
}

impl Outcome {
    /// The outcome's name in counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ok(_) => "ok",
            Self::Failed(_) => "failed",
            Self::Indeterminate(_) => "indeterminate",
        }
    }
}

/// One operation, sent at `invoked` and answered (or given up) at
/// `completed`.
#[derive(Debug, Clone)]
pub struct Op {
    pub client: usize,
    pub server: usize,
    pub invoked: Duration,
    pub completed: Duration,
    pub request: Request,
    pub outcome: Outcome,
}

impl Op {
    /// A policy write or a register write that took effect for certain.
    pub fn is_acknowledged_write(&self) -> bool {
        matches!(
            (&self.request, &self.outcome),
            (Request::PutPolicy { .. }, Outcome::Ok(_))
                | (Request::CasRegister { .. }, Outcome::Ok(Observed::Cas { updated: true, .. }))
        )
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{:>8.3}s..{:>8.3}s] client {} -> server {}: {:?} => {:?}",
            self.invoked.as_secs_f64(),
            self.completed.as_secs_f64(),
            self.client,
            self.server,
            self.request,
            self.outcome
        )
    }
}

/// The operations of a run, appended by many clients at once.
#[derive(Debug, Default)]
pub struct History {
    ops: Mutex<Vec<Op>>,
    dropped: Mutex<usize>,
}

impl History {
    pub fn record(&self, op: Op) {
        let mut ops = self.ops.lock().expect("no recorder panics holding the history");
        if ops.len() < HISTORY_MAX_OPS {
            ops.push(op);
        } else {
            *self.dropped.lock().expect("no recorder panics holding the count") += 1;
        }
    }

    /// The operations recorded so far, in the order they completed, and how
    /// many did not fit.
    pub fn snapshot(&self) -> (Vec<Op>, usize) {
        let ops = self.ops.lock().expect("no recorder panics holding the history").clone();
        (ops, *self.dropped.lock().expect("no recorder panics holding the count"))
    }
}
