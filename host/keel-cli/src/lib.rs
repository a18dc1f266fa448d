//! The `keel` commands that talk to a running agent over its HTTP API
//! (`keel operator ...`, `keel acl ...`, `keel server members`, `keel
//! status`) and the license issuer's tools (`keel license keygen | sign`,
//! over `license-ed25519-issuer`, the license plugin's own format).
//!
//! It depends on `keel-api` for the wire types, on `keel-state` only for the
//! snapshot archive format (`keel operator snapshot inspect` reads archives
//! offline), and on clap, ureq and indicatif; it must not depend on the
//! server, cluster or plugin runtime crates, so every command here works
//! without them.
//!
//! The commands mirror Nomad's CLI. Every client command takes `--address`,
//! `--token` and `--json`; [`http`] resolves them and maps every failure to
//! one line, [`table`] prints human output, and each command module maps its
//! arguments to requests and replies to text with pure functions, so the
//! only I/O is at the edge.

pub mod acl;
pub mod alloc;
pub mod http;
pub mod job;
pub mod license;
pub mod node;
pub mod operator;
pub mod plugin;
pub mod server;
pub mod status;

mod autopilot;
mod gossip_key;
mod operator_license;
mod progress;
mod raft;
mod scheduler;
mod snapshot;
mod table;

use std::process::ExitCode;
use std::time::Duration;

/// The exit code of a command that worked but reports an unhealthy cluster.
const UNHEALTHY_EXIT_CODE: u8 = 2;

/// A command's report that the cluster is unhealthy: its output is printed,
/// and the process exits with [`UNHEALTHY_EXIT_CODE`].
#[derive(Debug, thiserror::Error)]
#[error("the cluster is unhealthy")]
pub struct Unhealthy;

/// Turns a command's outcome into the process's exit code, printing a
/// failure as one line on standard error: `keel: <reason>`.
pub fn finish(outcome: anyhow::Result<()>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", error_line(&error));
            if error.is::<Unhealthy>() { ExitCode::from(UNHEALTHY_EXIT_CODE) } else { ExitCode::FAILURE }
        }
    }
}

/// `keel: <the error and its causes>`, on one line.
fn error_line(error: &anyhow::Error) -> String {
    format!("keel: {}", one_line(&format!("{error:#}")))
}

/// Collapses every run of whitespace, newlines included, into one space, so
/// that a multi-line server message cannot break the one-line error.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses a boolean flag value the way Nomad's CLI does (Go's `ParseBool`).
fn parse_go_bool(text: &str) -> Result<bool, String> {
    keel_api::parse_bool(text).ok_or_else(|| format!("expected true or false, got {text:?}"))
}

/// Parses `KEY=VALUE`, as repeatable `--config`/`--flag` settings take it.
pub fn parse_setting(setting: &str) -> Result<(String, String), String> {
    setting
        .split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {setting:?}"))
}

/// Parses a Go duration flag value such as `200ms` or `1m30s`.
fn parse_go_duration(text: &str) -> Result<Duration, String> {
    keel_api::duration::parse(text).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_one_line_with_its_causes() {
        let error = anyhow::anyhow!("400 Bad Request: invalid\nscheduler   algorithm: random\n")
            .context("update the scheduler configuration");
        assert_eq!(
            error_line(&error),
            "keel: update the scheduler configuration: 400 Bad Request: invalid scheduler algorithm: random"
        );
    }

    #[test]
    fn an_unhealthy_cluster_exits_with_two() {
        assert_eq!(finish(Err(Unhealthy.into())), ExitCode::from(2));
        assert_eq!(finish(Err(anyhow::anyhow!("broken"))), ExitCode::FAILURE);
        assert_eq!(finish(Ok(())), ExitCode::SUCCESS);
    }

    #[test]
    fn flag_values_parse_like_nomads() {
        assert_eq!(parse_go_bool("T"), Ok(true));
        assert_eq!(parse_go_bool("0"), Ok(false));
        assert!(parse_go_bool("yes").is_err());
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_go_duration("10").is_err());
    }
}
