//! `keel operator autopilot get-config | set-config | health`.

use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use keel_api::duration;
use keel_api::operator::{AutopilotConfiguration, OperatorHealthReply};
use ureq::http::StatusCode;

use super::http::{ClientArgs, with_query};
use super::table::{key_values, table};
use super::{Unhealthy, parse_go_bool, parse_go_duration};

const CONFIGURATION_PATH: &str = "/v1/operator/autopilot/configuration";
const HEALTH_PATH: &str = "/v1/operator/autopilot/health";

#[derive(Debug, Subcommand)]
pub enum AutopilotCommand {
    /// Prints autopilot's configuration.
    GetConfig,
    /// Changes the given settings of autopilot's configuration, keeping the
    /// others; fails if the configuration changed meanwhile.
    SetConfig(SetConfigArgs),
    /// Prints autopilot's health report; exits with 2 when the cluster is
    /// unhealthy.
    Health,
}

/// Each flag changes one setting; the ones not given keep their value.
#[derive(Debug, Default, clap::Args)]
#[group(required = true, multiple = true)]
pub struct SetConfigArgs {
    /// Remove dead servers when a new server joins.
    #[arg(long, value_name = "BOOL", value_parser = parse_go_bool, num_args = 0..=1, default_missing_value = "true")]
    cleanup_dead_servers: Option<bool>,
    /// How many log entries a server may trail the leader by and be healthy.
    #[arg(long, value_name = "N")]
    max_trailing_logs: Option<u64>,
    /// How long a server may go without contact from the leader and be healthy.
    #[arg(long, value_name = "DURATION", value_parser = parse_go_duration)]
    last_contact_threshold: Option<Duration>,
    /// How long a server must be healthy before it becomes a voter.
    #[arg(long, value_name = "DURATION", value_parser = parse_go_duration)]
    server_stabilization_time: Option<Duration>,
    /// Dead-server cleanup never goes below this many servers.
    #[arg(long, value_name = "N")]
    min_quorum: Option<u64>,
    /// (Enterprise) Keep one voter per redundancy zone.
    #[arg(long, value_name = "BOOL", value_parser = parse_go_bool, num_args = 0..=1, default_missing_value = "true")]
    enable_redundancy_zones: Option<bool>,
    /// (Enterprise) Promote servers of a new version without waiting for enough of them.
    #[arg(long, value_name = "BOOL", value_parser = parse_go_bool, num_args = 0..=1, default_missing_value = "true")]
    disable_upgrade_migration: Option<bool>,
    /// (Enterprise) Use the servers' upgrade_version tags for upgrade migration.
    #[arg(long, value_name = "BOOL", value_parser = parse_go_bool, num_args = 0..=1, default_missing_value = "true")]
    enable_custom_upgrades: Option<bool>,
}

impl SetConfigArgs {
    /// Changes the settings these flags name and nothing else.
    fn apply(&self, config: &mut AutopilotConfiguration) {
        fn set<T: Clone>(field: &mut T, value: &Option<T>) {
            if let Some(value) = value {
                *field = value.clone();
            }
        }
        set(&mut config.cleanup_dead_servers, &self.cleanup_dead_servers);
        set(&mut config.max_trailing_logs, &self.max_trailing_logs);
        set(&mut config.last_contact_threshold, &self.last_contact_threshold);
        set(&mut config.server_stabilization_time, &self.server_stabilization_time);
        set(&mut config.min_quorum, &self.min_quorum);
        set(&mut config.enable_redundancy_zones, &self.enable_redundancy_zones);
        set(&mut config.disable_upgrade_migration, &self.disable_upgrade_migration);
        set(&mut config.enable_custom_upgrades, &self.enable_custom_upgrades);
    }
}

pub fn run(args: &ClientArgs, command: AutopilotCommand) -> anyhow::Result<()> {
    let client = args.client()?;
    match command {
        AutopilotCommand::GetConfig => {
            let reply = client.get(CONFIGURATION_PATH).context("read the autopilot configuration")?;
            if args.json {
                println!("{}", reply.pretty());
            } else {
                print!("{}", render_config(&reply.decode()?));
            }
        }
        AutopilotCommand::SetConfig(changes) => {
            let reply = client.get(CONFIGURATION_PATH).context("read the autopilot configuration")?;
            let mut config: AutopilotConfiguration = reply.decode()?;
            changes.apply(&mut config);
            let body = serde_json::to_vec(&config).expect("a configuration serializes");
            let path = set_config_path(config.modify_index);
            let reply = client.put(&path, &body).context("update the autopilot configuration")?;
            if !reply.decode::<bool>()? {
                anyhow::bail!(
                    "the autopilot configuration changed since it was read (index {}); try again",
                    config.modify_index
                );
            }
            println!("Configuration updated!");
        }
        AutopilotCommand::Health => {
            let reply = client
                .get_accepting(HEALTH_PATH, &[StatusCode::TOO_MANY_REQUESTS])
                .context("read the autopilot health")?;
            let health: OperatorHealthReply = reply.decode()?;
            if args.json {
                println!("{}", reply.pretty());
            } else {
                print!("{}", render_health(&health));
                if let Some(latency) = crate::plugin::latency_line(&client, "autopilot") {
                    print!("\n{latency}");
                }
            }
            if reply.status == StatusCode::TOO_MANY_REQUESTS || !health.healthy {
                return Err(Unhealthy.into());
            }
        }
    }
    Ok(())
}

/// The update only applies if the configuration is still at the index read.
fn set_config_path(modify_index: u64) -> String {
    with_query(CONFIGURATION_PATH, &[("cas", &modify_index.to_string())])
}

/// `get-config`, in Nomad's words.
fn render_config(config: &AutopilotConfiguration) -> String {
    key_values(&[
        ("CleanupDeadServers", config.cleanup_dead_servers.to_string()),
        ("LastContactThreshold", duration::format(config.last_contact_threshold)),
        ("MaxTrailingLogs", config.max_trailing_logs.to_string()),
        ("MinQuorum", config.min_quorum.to_string()),
        ("ServerStabilizationTime", duration::format(config.server_stabilization_time)),
        ("EnableRedundancyZones", config.enable_redundancy_zones.to_string()),
        ("DisableUpgradeMigration", config.disable_upgrade_migration.to_string()),
        ("EnableCustomUpgrades", config.enable_custom_upgrades.to_string()),
    ])
}

/// The health summary, then one row per server.
fn render_health(health: &OperatorHealthReply) -> String {
    let mut summary =
        vec![("Healthy", health.healthy.to_string()), ("FailureTolerance", health.failure_tolerance.to_string())];
    if let Some(optimistic) = health.optimistic_failure_tolerance {
        summary.push(("OptimisticFailureTolerance", optimistic.to_string()));
    }
    summary.push(("Leader", health.leader.clone()));
    summary.push(("Voters", health.voters.join(", ")));
    let rows: Vec<Vec<String>> = health
        .servers
        .iter()
        .map(|server| {
            vec![
                server.id.clone(),
                server.name.clone(),
                server.address.clone(),
                server.serf_status.clone(),
                server.version.clone(),
                server.leader.to_string(),
                server.voter.to_string(),
                server.healthy.to_string(),
                duration::format(server.last_contact),
                server.last_term.to_string(),
                server.last_index.to_string(),
                server.stable_since.clone(),
            ]
        })
        .collect();
    let header = [
        "ID",
        "Name",
        "Address",
        "SerfStatus",
        "Version",
        "Leader",
        "Voter",
        "Healthy",
        "LastContact",
        "LastTerm",
        "LastIndex",
        "StableSince",
    ];
    format!("{}\nServers\n{}", key_values(&summary), table(&header, &rows))
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use keel_api::operator::ServerHealth;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: AutopilotCommand,
    }

    fn changes(args: &[&str]) -> Result<SetConfigArgs, clap::Error> {
        let argv = ["autopilot", "set-config"].into_iter().chain(args.iter().copied());
        match Cli::try_parse_from(argv)?.command {
            AutopilotCommand::SetConfig(changes) => Ok(changes),
            other => panic!("expected set-config, got {other:?}"),
        }
    }

    fn stored() -> AutopilotConfiguration {
        AutopilotConfiguration { create_index: 4, modify_index: 9, ..AutopilotConfiguration::nomad_defaults() }
    }

    #[test]
    fn only_the_given_settings_change() {
        let mut config = stored();
        changes(&["--max-trailing-logs", "500", "--last-contact-threshold", "1s", "--cleanup-dead-servers", "false"])
            .expect("valid")
            .apply(&mut config);
        assert_eq!(
            config,
            AutopilotConfiguration {
                max_trailing_logs: 500,
                last_contact_threshold: Duration::from_secs(1),
                cleanup_dead_servers: false,
                ..stored()
            }
        );
        assert_eq!(set_config_path(config.modify_index), "/v1/operator/autopilot/configuration?cas=9");
    }

    #[test]
    fn every_flag_maps_to_its_field() {
        let mut config = AutopilotConfiguration::default();
        changes(&[
            "--cleanup-dead-servers",
            "--max-trailing-logs=7",
            "--last-contact-threshold=250ms",
            "--server-stabilization-time",
            "30s",
            "--min-quorum",
            "3",
            "--enable-redundancy-zones",
            "--disable-upgrade-migration=true",
            "--enable-custom-upgrades",
            "T",
        ])
        .expect("valid")
        .apply(&mut config);
        assert_eq!(
            config,
            AutopilotConfiguration {
                cleanup_dead_servers: true,
                last_contact_threshold: Duration::from_millis(250),
                max_trailing_logs: 7,
                min_quorum: 3,
                server_stabilization_time: Duration::from_secs(30),
                enable_redundancy_zones: true,
                disable_upgrade_migration: true,
                enable_custom_upgrades: true,
                create_index: 0,
                modify_index: 0,
            }
        );
    }

    #[test]
    fn bad_or_missing_flags_are_refused() {
        assert!(changes(&[]).is_err(), "at least one setting is needed");
        assert!(changes(&["--last-contact-threshold", "10"]).is_err());
        assert!(changes(&["--cleanup-dead-servers", "maybe"]).is_err());
        assert!(changes(&["--max-trailing-logs", "-1"]).is_err());
    }

    #[test]
    fn the_configuration_renders_like_nomads() {
        let rendered = render_config(&stored());
        assert!(
            rendered.starts_with("CleanupDeadServers      = true\nLastContactThreshold    = 200ms\n"),
            "{rendered}"
        );
        assert!(rendered.contains("ServerStabilizationTime = 10s\n"), "{rendered}");
    }

    #[test]
    fn the_health_report_renders_a_summary_and_a_table() {
        let server = ServerHealth {
            id: "e349749b".to_owned(),
            name: "node1".to_owned(),
            address: "127.0.0.1:4647".to_owned(),
            serf_status: "alive".to_owned(),
            version: "0.1.0".to_owned(),
            leader: true,
            last_contact: Duration::ZERO,
            last_term: 2,
            last_index: 46,
            healthy: true,
            voter: true,
            stable_since: "2017-03-06T22:07:51Z".to_owned(),
            reason: None,
        };
        let health = OperatorHealthReply {
            healthy: false,
            failure_tolerance: 0,
            servers: vec![server],
            voters: vec!["e349749b".to_owned()],
            leader: "e349749b".to_owned(),
            optimistic_failure_tolerance: None,
            redundancy_zones: None,
            upgrade: None,
            read_replicas: None,
        };
        let rendered = render_health(&health);
        assert!(rendered.starts_with("Healthy          = false\nFailureTolerance = 0\n"), "{rendered}");
        assert!(rendered.contains("\nServers\nID        Name   Address"), "{rendered}");
        assert!(rendered.ends_with("true     0s           2         46         2017-03-06T22:07:51Z\n"), "{rendered}");
    }
}
