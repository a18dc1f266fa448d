//! `keel operator scheduler get-config | set-config`.

use anyhow::Context as _;
use clap::Subcommand;
use keel_api::operator::{SchedulerConfiguration, SchedulerConfigurationResponse, SchedulerSetConfigurationResponse};

use super::http::{ClientArgs, with_query};
use super::parse_go_bool;
use super::table::key_values;

const CONFIGURATION_PATH: &str = "/v1/operator/scheduler/configuration";

#[derive(Debug, Subcommand)]
pub enum SchedulerCommand {
    /// Prints the scheduler's configuration.
    GetConfig,
    /// Changes the given settings of the scheduler's configuration, keeping
    /// the others; fails if the configuration changed meanwhile.
    SetConfig(SetConfigArgs),
}

/// Each flag changes one setting; the ones not given keep their value.
#[derive(Debug, Default, clap::Args)]
#[group(required = true, multiple = true)]
pub struct SetConfigArgs {
    /// How allocations are placed: binpack or spread.
    #[arg(long, value_name = "ALGORITHM")]
    scheduler_algorithm: Option<String>,
    /// Let service jobs preempt other allocations.
    #[arg(long, value_name = "BOOL", value_parser = parse_go_bool, num_args = 0..=1, default_missing_value = "true")]
    preempt_service_scheduler: Option<bool>,
    /// Let batch jobs preempt other allocations.
    #[arg(long, value_name = "BOOL", value_parser = parse_go_bool, num_args = 0..=1, default_missing_value = "true")]
    preempt_batch_scheduler: Option<bool>,
    /// Let system jobs preempt other allocations.
    #[arg(long, value_name = "BOOL", value_parser = parse_go_bool, num_args = 0..=1, default_missing_value = "true")]
    preempt_system_scheduler: Option<bool>,
    /// Let sysbatch jobs preempt other allocations.
    #[arg(long, value_name = "BOOL", value_parser = parse_go_bool, num_args = 0..=1, default_missing_value = "true")]
    preempt_sysbatch_scheduler: Option<bool>,
    /// Let tasks use more memory than they reserve, up to their memory_max.
    #[arg(long, value_name = "BOOL", value_parser = parse_go_bool, num_args = 0..=1, default_missing_value = "true")]
    memory_oversubscription: Option<bool>,
    /// Refuse job registrations, except from management tokens.
    #[arg(long, value_name = "BOOL", value_parser = parse_go_bool, num_args = 0..=1, default_missing_value = "true")]
    reject_job_registration: Option<bool>,
    /// Pause the evaluation broker.
    #[arg(long, value_name = "BOOL", value_parser = parse_go_bool, num_args = 0..=1, default_missing_value = "true")]
    pause_eval_broker: Option<bool>,
}

impl SetConfigArgs {
    /// Changes the settings these flags name and nothing else. The
    /// algorithm is the server's to validate.
    fn apply(&self, config: &mut SchedulerConfiguration) {
        fn set<T: Clone>(field: &mut T, value: &Option<T>) {
            if let Some(value) = value {
                *field = value.clone();
            }
        }
        set(&mut config.scheduler_algorithm, &self.scheduler_algorithm);
        let preemption = &mut config.preemption_config;
        set(&mut preemption.service_scheduler_enabled, &self.preempt_service_scheduler);
        set(&mut preemption.batch_scheduler_enabled, &self.preempt_batch_scheduler);
        set(&mut preemption.system_scheduler_enabled, &self.preempt_system_scheduler);
        set(&mut preemption.sys_batch_scheduler_enabled, &self.preempt_sysbatch_scheduler);
        set(&mut config.memory_oversubscription_enabled, &self.memory_oversubscription);
        set(&mut config.reject_job_registration, &self.reject_job_registration);
        set(&mut config.pause_eval_broker, &self.pause_eval_broker);
    }
}

pub fn run(args: &ClientArgs, command: SchedulerCommand) -> anyhow::Result<()> {
    let client = args.client()?;
    match command {
        SchedulerCommand::GetConfig => {
            let reply = client.get(CONFIGURATION_PATH).context("read the scheduler configuration")?;
            if args.json {
                println!("{}", reply.pretty());
            } else {
                print!("{}", render_config(&reply.decode::<SchedulerConfigurationResponse>()?.scheduler_config));
            }
        }
        SchedulerCommand::SetConfig(changes) => {
            let reply = client.get(CONFIGURATION_PATH).context("read the scheduler configuration")?;
            let mut config = reply.decode::<SchedulerConfigurationResponse>()?.scheduler_config;
            changes.apply(&mut config);
            let body = serde_json::to_vec(&config).expect("a configuration serializes");
            let reply = client
                .put(&set_config_path(config.modify_index), &body)
                .context("update the scheduler configuration")?;
            let outcome: SchedulerSetConfigurationResponse = reply.decode()?;
            if !outcome.updated {
                anyhow::bail!(
                    "the scheduler configuration changed since it was read (index {}); try again",
                    config.modify_index
                );
            }
            if args.json {
                println!("{}", reply.pretty());
            } else {
                println!("Scheduler configuration updated!");
            }
        }
    }
    Ok(())
}

/// The update only applies if the configuration is still at the index read.
fn set_config_path(modify_index: u64) -> String {
    with_query(CONFIGURATION_PATH, &[("cas", &modify_index.to_string())])
}

/// `get-config`, in Nomad's words: the settings, then the preemption flags.
fn render_config(config: &SchedulerConfiguration) -> String {
    // Nomad treats an empty algorithm as binpack.
    let algorithm = if config.scheduler_algorithm.is_empty() { "binpack" } else { &config.scheduler_algorithm };
    let settings = key_values(&[
        ("Scheduler Algorithm", algorithm.to_owned()),
        ("Memory Oversubscription", config.memory_oversubscription_enabled.to_string()),
        ("Reject Job Registration", config.reject_job_registration.to_string()),
        ("Pause Eval Broker", config.pause_eval_broker.to_string()),
    ]);
    let preemption = &config.preemption_config;
    let preemption = key_values(&[
        ("System Scheduler", preemption.system_scheduler_enabled.to_string()),
        ("SysBatch Scheduler", preemption.sys_batch_scheduler_enabled.to_string()),
        ("Service Scheduler", preemption.service_scheduler_enabled.to_string()),
        ("Batch Scheduler", preemption.batch_scheduler_enabled.to_string()),
    ]);
    format!("{settings}\nPreemption Config\n{preemption}")
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use keel_api::operator::PreemptionConfig;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: SchedulerCommand,
    }

    fn changes(args: &[&str]) -> Result<SetConfigArgs, clap::Error> {
        let argv = ["scheduler", "set-config"].into_iter().chain(args.iter().copied());
        match Cli::try_parse_from(argv)?.command {
            SchedulerCommand::SetConfig(changes) => Ok(changes),
            other => panic!("expected set-config, got {other:?}"),
        }
    }

    fn stored() -> SchedulerConfiguration {
        SchedulerConfiguration { create_index: 5, modify_index: 11, ..SchedulerConfiguration::nomad_defaults() }
    }

    #[test]
    fn only_the_given_settings_change() {
        let mut config = stored();
        changes(&["--scheduler-algorithm", "spread", "--preempt-service-scheduler", "true"])
            .expect("valid")
            .apply(&mut config);
        let mut expected = stored();
        expected.scheduler_algorithm = "spread".to_owned();
        expected.preemption_config.service_scheduler_enabled = true;
        assert_eq!(config, expected);
        assert_eq!(set_config_path(config.modify_index), "/v1/operator/scheduler/configuration?cas=11");
    }

    #[test]
    fn every_flag_maps_to_its_field() {
        let mut config = stored();
        changes(&[
            "--preempt-batch-scheduler",
            "--preempt-system-scheduler=false",
            "--preempt-sysbatch-scheduler",
            "1",
            "--memory-oversubscription",
            "--reject-job-registration",
            "--pause-eval-broker",
        ])
        .expect("valid")
        .apply(&mut config);
        assert_eq!(
            config,
            SchedulerConfiguration {
                scheduler_algorithm: "binpack".to_owned(),
                preemption_config: PreemptionConfig {
                    system_scheduler_enabled: false,
                    sys_batch_scheduler_enabled: true,
                    batch_scheduler_enabled: true,
                    service_scheduler_enabled: false,
                },
                memory_oversubscription_enabled: true,
                reject_job_registration: true,
                pause_eval_broker: true,
                create_index: 5,
                modify_index: 11,
            }
        );
    }

    #[test]
    fn the_algorithm_is_left_to_the_server() {
        let mut config = stored();
        changes(&["--scheduler-algorithm", "random"]).expect("valid").apply(&mut config);
        assert_eq!(config.scheduler_algorithm, "random");
        assert!(changes(&[]).is_err(), "at least one setting is needed");
        assert!(changes(&["--pause-eval-broker", "sometimes"]).is_err());
    }

    #[test]
    fn the_configuration_renders_like_nomads() {
        let rendered = render_config(&SchedulerConfiguration::default());
        assert_eq!(
            rendered,
            "Scheduler Algorithm     = binpack\n\
             Memory Oversubscription = false\n\
             Reject Job Registration = false\n\
             Pause Eval Broker       = false\n\
             \n\
             Preemption Config\n\
             System Scheduler   = false\n\
             SysBatch Scheduler = false\n\
             Service Scheduler  = false\n\
             Batch Scheduler    = false\n"
        );
    }
}
