//! `keel plugin ...`: tools for plugin authors and operators.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use keel_cli::parse_setting;
use keel_plugins::{Runtime, RuntimeConfig};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Loads a plugin component and prints its world, name and version;
    /// fails with the reason when it is not a valid Keel plugin.
    Check {
        /// The component file.
        file: PathBuf,
        /// A setting passed to the plugin's `configure`, as KEY=VALUE (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_setting)]
        settings: Vec<(String, String)>,
    },
}

pub fn run(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::Check { file, settings } => {
            let component = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
            let runtime = Runtime::new(RuntimeConfig::default(), None)?;
            let (kind, info) = runtime.check(&component, &settings).with_context(|| file.display().to_string())?;
            println!("world:   {}", kind.world());
            println!("name:    {}", info.name);
            println!("version: {}", info.version);
            Ok(())
        }
    }
}
