//! `keel plugin ...`: tools for plugin authors and operators. `check` loads
//! a component here, with the plugin runtime; the registry commands talk to
//! an agent (`keel-cli`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use keel_cli::http::ClientArgs;
use keel_cli::parse_setting;
use keel_cli::plugin::RegistryCommand;
use keel_plugins::{Runtime, RuntimeConfig};

#[derive(Debug, clap::Args)]
pub struct PluginArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: PluginCommand,
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Loads a plugin component and prints its world, name and version;
    /// fails with the reason when it is not a valid Keel plugin.
    Check {
        /// The component file.
        file: PathBuf,
        /// A setting passed to the plugin's `configure`, as KEY=VALUE (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_setting)]
        settings: Vec<(String, String)>,
    },
    #[command(flatten)]
    Registry(RegistryCommand),
}

pub fn run(args: PluginArgs) -> std::process::ExitCode {
    match args.command {
        PluginCommand::Check { file, settings } => keel_cli::finish(check(&file, &settings)),
        PluginCommand::Registry(command) => keel_cli::finish(keel_cli::plugin::run(&args.client, command)),
    }
}

fn check(file: &PathBuf, settings: &[(String, String)]) -> anyhow::Result<()> {
    let component = std::fs::read(file).with_context(|| format!("read {}", file.display()))?;
    let runtime = Runtime::new(RuntimeConfig::default(), None)?;
    let (kind, info) = runtime.check(&component, settings).with_context(|| file.display().to_string())?;
    let (world, contract) = (kind.world(), keel_contract::PACKAGE);
    println!("world:    {world}\nname:     {}\nversion:  {}\ncontract: {contract}", info.name, info.version);
    Ok(())
}
