//! A three-server cluster under a nemesis that kills and pauses leaders
//! and followers while open-loop clients write policies, read them back
//! and run check-and-set on the scheduler configuration. The checker's
//! safety verdicts must all pass; `make soak` runs the same for longer.

use std::time::Duration;

use keel_tests::fault::{self, Settings};

/// How long the nemesis runs in `make test`.
const SHORT_RUN: Duration = Duration::from_secs(60);

#[test]
fn a_history_under_kills_and_pauses_is_safe_in_a_cluster() {
    let report = fault::run(&Settings::new(["127.0.0.241", "127.0.0.242", "127.0.0.243"], SHORT_RUN));
    println!("{report}");
    assert!(report.verdicts.passed(), "the checker found violations:\n{report}");
    assert!(!report.faults.is_empty(), "the nemesis injected faults:\n{report}");
    assert!(report.writes_after_nemesis() > 0, "some write is acknowledged after the nemesis stops:\n{report}");
}

/// `make soak`: the same workload for `SOAK_SECONDS` (600 by default).
#[test]
#[ignore = "long; run with `make soak`"]
fn a_long_history_under_kills_and_pauses_is_safe_in_a_cluster() {
    let seconds = std::env::var("SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    let report =
        fault::run(&Settings::new(["127.0.0.246", "127.0.0.247", "127.0.0.248"], Duration::from_secs(seconds)));
    println!("{report}");
    assert!(report.verdicts.passed(), "the checker found violations:\n{report}");
    assert!(report.writes_after_nemesis() > 0, "some write is acknowledged after the nemesis stops:\n{report}");
}
