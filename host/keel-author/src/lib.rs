//! `keel plugin ...`: the plugin author's tools, and the registry commands
//! of `keel-cli` beside them. `new` writes a guest crate that builds
//! outside this repository ([`new`]); `build` turns a guest crate into a
//! component ([`build`]); `check` and `test` load a component here, with
//! the plugin runtime, and put it through its kind's conformance cases (the
//! ones an install runs, `keel_plugins::smoke`) before it goes near a
//! cluster.
//!
//! It depends on `keel-plugins`, `keel-contract` and `keel-cli`, runs cargo,
//! and prints to standard output; it must not depend on the server, cluster
//! or HTTP crates, so a plugin can be built and tried with no agent running.

mod build;
mod new;

pub use build::{BuildOptions, build};
pub use new::{NewOptions, new};

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use keel_cli::http::ClientArgs;
use keel_cli::parse_setting;
use keel_cli::plugin::RegistryCommand;
use keel_plugins::smoke::Samples;
use keel_plugins::{AnyPlugin, Kind, Runtime, RuntimeConfig};

/// `keel plugin`'s arguments.
#[derive(Debug, clap::Args)]
pub struct PluginArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: PluginCommand,
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Creates a plugin crate of one kind, with the SDK of this keel, that
    /// builds and tests outside the Keel repository.
    New(NewOptions),
    /// Builds the guest crate in DIR for wasm32-unknown-unknown, turns it
    /// into a component, checks and tests it, and prints how to load it.
    Build(BuildOptions),
    /// Loads a plugin component and prints its world, name and version;
    /// fails with the reason when it is not a valid Keel plugin.
    Check(Component),
    /// Runs the conformance cases of the component's kind, the ones an
    /// install runs, and prints each; fails when one does.
    Test(TestOptions),
    #[command(flatten)]
    Registry(RegistryCommand),
}

#[derive(Debug, clap::Args)]
struct Component {
    /// The component file.
    file: PathBuf,
    /// A setting passed to the plugin's `configure`, as KEY=VALUE (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
}

#[derive(Debug, clap::Args)]
struct TestOptions {
    #[command(flatten)]
    component: Component,
    /// A genuine, currently valid license (license plugins): adds the cases
    /// that it is valid, refused for another product and refused expired.
    #[arg(long, value_name = "FILE")]
    license: Option<PathBuf>,
    /// The product the `--license` is for.
    #[arg(long, default_value = "nomad", requires = "license")]
    product: String,
}

/// Runs a `keel plugin` command; its exit code.
pub fn run(args: PluginArgs) -> std::process::ExitCode {
    keel_cli::finish(match args.command {
        PluginCommand::New(options) => new(&options).map(|dir| next_steps(&options, &dir)),
        PluginCommand::Build(options) => build(&options).map(drop),
        PluginCommand::Check(c) => check(&c.file, &c.settings),
        PluginCommand::Test(options) => {
            samples(&options).and_then(|samples| test(&options.component.file, &options.component.settings, &samples))
        }
        PluginCommand::Registry(command) => keel_cli::plugin::run(&args.client, command),
    })
}

fn next_steps(options: &NewOptions, dir: &Path) {
    let (kind, name) = (options.kind.name(), &options.name);
    println!("Created the {kind} plugin {name} in {}. Next:", dir.display());
    println!("  cd {}", dir.display());
    println!("  cargo test                  # the plugin's native tests");
    println!("  keel plugin build           # the component, tested: target/components/{name}.wasm");
    println!("  keel agent --dev --plugin {kind}=target/components/{name}.wasm");
}

/// Loads `file` with `settings` and reports its kind, name and version.
pub fn check(file: &Path, settings: &[(String, String)]) -> anyhow::Result<()> {
    let (kind, plugin) = load(file, settings)?;
    describe(kind, &plugin);
    Ok(())
}

/// What `keel plugin test`'s options give the positive cases.
fn samples(options: &TestOptions) -> anyhow::Result<Samples> {
    let license = match &options.license {
        Some(file) => {
            let blob = std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
            Some((blob.trim().to_owned(), options.product.clone()))
        }
        None => None,
    };
    Ok(Samples { license })
}

/// Loads `file` with `settings` and runs its kind's conformance cases (the
/// ones an install runs, and those `samples` make possible), printing
/// each; fails when one does.
pub fn test(file: &Path, settings: &[(String, String)], samples: &Samples) -> anyhow::Result<()> {
    let (kind, plugin) = load(file, settings)?;
    describe(kind, &plugin);
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().context("start a runtime")?;
    let outcomes = tokio.block_on(keel_plugins::smoke::cases_with(&plugin, samples));
    for outcome in &outcomes {
        match &outcome.failure {
            None => println!("ok    {}", outcome.case),
            Some(failure) => println!("FAIL  {}: {failure}", outcome.case),
        }
    }
    let failed = outcomes.iter().filter(|outcome| outcome.failure.is_some()).count();
    anyhow::ensure!(failed == 0, "{failed} of {} cases failed", outcomes.len());
    println!("{} of {} cases passed", outcomes.len(), outcomes.len());
    Ok(())
}

fn load(file: &Path, settings: &[(String, String)]) -> anyhow::Result<(Kind, AnyPlugin)> {
    let component = std::fs::read(file).with_context(|| format!("read {}", file.display()))?;
    let runtime = Runtime::new(RuntimeConfig::default(), None)?;
    runtime.check(&component, settings).with_context(|| file.display().to_string())
}

fn describe(kind: Kind, plugin: &AnyPlugin) {
    let info = plugin.info();
    let (world, contract) = (kind.world(), plugin.contract().package());
    println!("world:    {world}\nname:     {}\nversion:  {}\ncontract: {contract}", info.name, info.version);
}
