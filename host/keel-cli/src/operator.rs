//! `keel operator ...`: Raft peers, autopilot, the scheduler configuration,
//! snapshots, the license and the cluster key, as Nomad's `nomad operator`
//! has them.

use clap::Subcommand;

use super::http::ClientArgs;
use super::{autopilot, gossip_key, operator_license, raft, scheduler, snapshot};

#[derive(Debug, clap::Args)]
pub struct OperatorArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: OperatorCommand,
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Lists and removes the servers in the Raft configuration.
    #[command(subcommand)]
    Raft(raft::RaftCommand),
    /// Reads and changes autopilot's configuration; shows its health report.
    #[command(subcommand)]
    Autopilot(autopilot::AutopilotCommand),
    /// Reads and changes the scheduler's configuration.
    #[command(subcommand)]
    Scheduler(scheduler::SchedulerCommand),
    /// Saves, restores and inspects snapshots of the cluster state.
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
    /// Shows and installs the cluster's license.
    #[command(subcommand)]
    License(operator_license::LicenseCommand),
    /// The cluster key that encrypts gossip and authenticates RPC.
    #[command(subcommand)]
    Gossip(gossip_key::GossipCommand),
    /// Prints a new cluster key (the same as `gossip keyring generate`).
    Keygen,
}

pub fn run(args: OperatorArgs) -> anyhow::Result<()> {
    let client = &args.client;
    match args.command {
        OperatorCommand::Raft(command) => raft::run(client, command),
        OperatorCommand::Autopilot(command) => autopilot::run(client, command),
        OperatorCommand::Scheduler(command) => scheduler::run(client, command),
        OperatorCommand::Snapshot(command) => snapshot::run(client, command),
        OperatorCommand::License(command) => operator_license::run(client, command),
        OperatorCommand::Gossip(gossip_key::GossipCommand::Keyring(gossip_key::KeyringCommand::Generate))
        | OperatorCommand::Keygen => {
            println!("{}", gossip_key::generate());
            Ok(())
        }
    }
}
