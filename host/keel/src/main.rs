//! The `keel` binary: the agent, the operator CLI and the plugin tools.
//!
//! This crate wires the library crates together and owns nothing else:
//! the agent's flags and config file, its start-up and shutdown, the
//! embedded default plugins. The server's logic is `keel-server`, the
//! commands that talk to an agent are `keel-cli`, the plugin author's tools
//! (`keel plugin ...`) are `keel-author`. It may depend on every host crate;
//! none may depend on it.

mod agent;
mod config;
mod embedded;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keel_cli as cli;

/// Keel: a cluster server that speaks Nomad's HTTP API, with its policies
/// as WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "keel", version, disable_version_flag = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs an agent.
    Agent(config::AgentArgs),
    /// Checks plugin components; installs, lists and rolls back the cluster's plugins.
    Plugin(keel_author::PluginArgs),
    /// Operator tools: Raft peers, autopilot, the scheduler, snapshots and the license.
    Operator(cli::operator::OperatorArgs),
    /// Lists the servers in the gossip pool.
    Server(cli::server::ServerArgs),
    /// Lists the client nodes, shows one, sets its scheduling eligibility.
    Node(cli::node::NodeArgs),
    /// Runs, shows and stops jobs.
    Job(cli::job::JobArgs),
    /// Shows allocations and their tasks' logs.
    Alloc(cli::alloc::AllocArgs),
    /// Summarises the cluster: the agent, the leader, the peers and the members.
    Status(cli::status::StatusArgs),
    /// ACL bootstrap, policies and tokens.
    Acl(cli::acl::AclArgs),
    /// Creates license signing keys and signs licenses for the default license plugin.
    #[command(subcommand)]
    License(cli::license::LicenseCommand),
    /// Prints the version of keel and of the plugin contract.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(config::nomad_spelling(std::env::args().collect()));
    init_logging();
    let outcome = match cli.command {
        Command::Agent(args) => agent::run(args),
        Command::Plugin(args) => return keel_author::run(args),
        Command::Operator(args) => return cli::finish(cli::operator::run(args)),
        Command::Server(args) => return cli::finish(cli::server::run(args)),
        Command::Node(args) => return cli::finish(cli::node::run(args)),
        Command::Job(args) => return cli::finish(cli::job::run(args)),
        Command::Alloc(args) => return cli::finish(cli::alloc::run(args)),
        Command::Status(args) => return cli::finish(cli::status::run(args)),
        Command::Acl(args) => return cli::finish(cli::acl::run(args)),
        Command::License(command) => return cli::finish(cli::license::run(command)),
        Command::Version => {
            let contracts: Vec<String> = keel_contract::Contract::ALL.iter().map(|c| c.package()).collect();
            println!("Keel v{} (plugin contracts {})", env!("CARGO_PKG_VERSION"), contracts.join(", "));
            Ok(())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keel: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error, coloured only on a terminal; `KEEL_LOG` (e.g. `debug`, `keel_plugins=trace`) filters them.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colours).init();
}
