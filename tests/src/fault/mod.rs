//! A fault harness: open-loop clients run a recorded workload against a
//! real three-server cluster while a nemesis kills and pauses its servers,
//! then a checker reads the history and every server's final state.
//!
//! The workload creates unique ACL policies, reads them back with default
//! consistency from random servers, and runs check-and-set writes on the
//! scheduler configuration ([`client`]). The nemesis ([`nemesis`]) takes
//! down at most one server at a time. The checker ([`checker`]) looks for
//! lost acknowledged writes, phantoms, stale reads, a broken CAS chain and
//! servers that do not converge, and measures the longest write gap after
//! each kind of fault. [`run`] does all of it and answers a [`Report`].

pub mod checker;
pub mod client;
pub mod history;
pub mod nemesis;
mod report;
mod setup;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

pub use report::Report;
/// Also the start of tests that need ACLs on a cluster and its management token.
pub use setup::bootstrap;

use crate::cluster::Cluster;
use client::Workload;
use history::{Clock, History};

/// How a run goes.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The three servers' addresses.
    pub ips: [&'static str; 3],
    /// How long the nemesis runs.
    pub duration: Duration,
    /// A fault begins this often.
    pub fault_every: Duration,
    /// How long each fault lasts.
    pub fault_hold: Duration,
    pub clients: usize,
    /// Each client sends an operation this often.
    pub beat: Duration,
    /// The most unanswered operations per client.
    pub in_flight_max: usize,
    /// How long the clients go on after the nemesis stopped, so that the
    /// history shows whether the cluster serves again.
    pub calm: Duration,
}

impl Settings {
    /// A run of `duration` with a fault every 5 s, each held 3 s.
    pub fn new(ips: [&'static str; 3], duration: Duration) -> Self {
        Self {
            ips,
            duration,
            fault_every: Duration::from_secs(5),
            fault_hold: Duration::from_secs(3),
            clients: 4,
            beat: Duration::from_millis(100),
            in_flight_max: 64,
            calm: Duration::from_secs(10),
        }
    }
}

/// Starts the cluster, runs the workload and the nemesis, lets the cluster
/// converge and checks what happened.
pub fn run(settings: &Settings) -> Report {
    let mut cluster = Cluster::builder(&settings.ips).acl_enabled(true).launch();
    let token = setup::bootstrap(&cluster);
    let initial = setup::register(&cluster, &token);
    let workload = Arc::new(Workload {
        ips: settings.ips.iter().map(|ip| (*ip).to_owned()).collect(),
        token: token.clone(),
        clock: Clock::start(),
        history: Arc::new(History::default()),
        stop: AtomicBool::new(false),
        skipped: AtomicUsize::new(0),
    });
    let clients: Vec<_> = (0..settings.clients)
        .map(|id| {
            let workload = Arc::clone(&workload);
            let (beat, in_flight_max) = (settings.beat, settings.in_flight_max);
            std::thread::spawn(move || client::run(workload, id, beat, in_flight_max))
        })
        .collect();
    let clock = workload.clock;
    let faults = nemesis::run(&mut cluster, clock, settings.duration, settings.fault_every, settings.fault_hold);
    let nemesis_stopped = clock.now();
    std::thread::sleep(settings.calm);
    workload.stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("a client thread does not panic");
    }
    let end = clock.now();
    let (ops, dropped) = workload.history.snapshot();
    let converged = setup::converge(&cluster, &token);
    let verdicts = match &converged {
        Ok(states) => checker::check(&ops, initial, states),
        Err(diverged) => checker::Verdicts { diverged: vec![diverged.clone()], ..Default::default() },
    };
    let gaps = checker::write_gaps(&ops, &faults, nemesis_stopped);
    Report {
        ops,
        dropped,
        skipped: workload.skipped.load(Ordering::Relaxed),
        faults,
        verdicts,
        gaps,
        nemesis_stopped,
        end,
    }
}
