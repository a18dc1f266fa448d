//! `keel operator raft list-peers | remove-peer`.

use anyhow::Context as _;
use clap::Subcommand;
use keel_api::operator::{RaftConfiguration, RaftServer};

use super::http::{ClientArgs, with_query};
use super::table::table;

const CONFIGURATION_PATH: &str = "/v1/operator/raft/configuration";
const PEER_PATH: &str = "/v1/operator/raft/peer";

#[derive(Debug, Subcommand)]
pub enum RaftCommand {
    /// Lists the servers in the Raft configuration.
    ListPeers,
    /// Removes a server from the Raft configuration, by ID or by address.
    RemovePeer(RemovePeerArgs),
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct RemovePeerArgs {
    /// The raft ID of the server to remove.
    #[arg(long, value_name = "ID")]
    peer_id: Option<String>,
    /// The RPC address (ip:port) of the server to remove.
    #[arg(long, value_name = "ADDR")]
    peer_address: Option<String>,
}

impl RemovePeerArgs {
    /// The request path, and how the peer is named in messages.
    fn path_and_description(&self) -> (String, String) {
        match (&self.peer_id, &self.peer_address) {
            (Some(id), _) => (with_query(PEER_PATH, &[("id", id)]), format!("id {id:?}")),
            (None, Some(address)) => (with_query(PEER_PATH, &[("address", address)]), format!("address {address:?}")),
            (None, None) => unreachable!("clap requires exactly one of --peer-id and --peer-address"),
        }
    }
}

pub fn run(args: &ClientArgs, command: RaftCommand) -> anyhow::Result<()> {
    let client = args.client()?;
    match command {
        RaftCommand::ListPeers => {
            let reply = client.get(CONFIGURATION_PATH).context("read the raft configuration")?;
            if args.json {
                println!("{}", reply.pretty());
            } else {
                print!("{}", render_peers(&reply.decode::<RaftConfiguration>()?.servers));
            }
        }
        RaftCommand::RemovePeer(peer) => {
            let (path, description) = peer.path_and_description();
            client.delete(&path).with_context(|| format!("remove the peer with {description}"))?;
            println!("Removed peer with {description}");
        }
    }
    Ok(())
}

/// The `list-peers` table.
fn render_peers(servers: &[RaftServer]) -> String {
    let rows: Vec<Vec<String>> = servers
        .iter()
        .map(|server| {
            let state = if server.leader { "leader" } else { "follower" };
            vec![
                server.node.clone(),
                server.id.clone(),
                server.address.clone(),
                state.to_owned(),
                server.voter.to_string(),
                server.raft_protocol.clone(),
            ]
        })
        .collect();
    table(&["Node", "ID", "Address", "State", "Voter", "RaftProtocol"], &rows)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: RaftCommand,
    }

    fn parse(args: &[&str]) -> Result<RaftCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("raft").chain(args.iter().copied())).map(|cli| cli.command)
    }

    fn remove_request(args: &[&str]) -> (String, String) {
        match parse(args).expect("valid arguments") {
            RaftCommand::RemovePeer(peer) => peer.path_and_description(),
            other => panic!("expected remove-peer, got {other:?}"),
        }
    }

    #[test]
    fn remove_peer_takes_exactly_one_of_id_and_address() {
        assert_eq!(
            remove_request(&["remove-peer", "--peer-id", "7d2e-01"]),
            ("/v1/operator/raft/peer?id=7d2e-01".to_owned(), "id \"7d2e-01\"".to_owned())
        );
        assert_eq!(
            remove_request(&["remove-peer", "--peer-address", "127.0.0.2:4647"]),
            ("/v1/operator/raft/peer?address=127.0.0.2%3A4647".to_owned(), "address \"127.0.0.2:4647\"".to_owned())
        );
        assert!(parse(&["remove-peer"]).is_err());
        assert!(parse(&["remove-peer", "--peer-id", "a", "--peer-address", "127.0.0.2:4647"]).is_err());
    }

    #[test]
    fn peers_render_as_nomads_table() {
        let server = |node: &str, address: &str, leader: bool, voter: bool| RaftServer {
            id: format!("id-{node}"),
            node: node.to_owned(),
            address: address.to_owned(),
            leader,
            voter,
            raft_protocol: "3".to_owned(),
        };
        let rendered = render_peers(&[
            server("one.global", "127.0.0.1:4647", true, true),
            server("(unknown)", "127.0.0.2:4647", false, false),
        ]);
        assert_eq!(
            rendered,
            "Node        ID             Address         State     Voter  RaftProtocol\n\
             one.global  id-one.global  127.0.0.1:4647  leader    true   3\n\
             (unknown)   id-(unknown)   127.0.0.2:4647  follower  false  3\n"
        );
    }
}
