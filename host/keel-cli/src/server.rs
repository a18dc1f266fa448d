//! `keel server members | join | force-leave`: the servers in the gossip
//! pool.

use anyhow::{Context as _, bail};
use clap::Subcommand;
use keel_api::agent::{JoinResponse, Member, MembersResponse};

use super::http::{Client, ClientArgs, with_query};
use super::table::table;

pub const MEMBERS_PATH: &str = "/v1/agent/members";
pub const LEADER_PATH: &str = "/v1/status/leader";
const JOIN_PATH: &str = "/v1/agent/join";
const FORCE_LEAVE_PATH: &str = "/v1/agent/force-leave";

#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: ServerCommand,
}

#[derive(Debug, Subcommand)]
enum ServerCommand {
    /// Lists the servers in the gossip pool and which one leads.
    Members,
    /// Joins the agent to the gossip pool of other servers.
    Join {
        /// Gossip addresses of servers already in the pool (`ip` or `ip:port`, port 4648 by default).
        #[arg(required = true, value_name = "ADDRESS")]
        addresses: Vec<String>,
    },
    /// Moves a failed server to the `left` state.
    ForceLeave {
        /// Also forget the member entirely.
        #[arg(long)]
        prune: bool,
        /// The member name (`<node>.<region>`) or node name.
        node: String,
    },
}

pub fn run(args: ServerArgs) -> anyhow::Result<()> {
    let client = args.client.client()?;
    match args.command {
        ServerCommand::Members => {
            let reply = client.get(MEMBERS_PATH).context("list the server members")?;
            if args.client.json {
                println!("{}", reply.pretty());
                return Ok(());
            }
            let members: MembersResponse = reply.decode()?;
            let leader = leader(&client)?;
            print!("{}", render_members(&members.members, &leader));
        }
        ServerCommand::Join { addresses } => {
            let query: Vec<(&str, &str)> = addresses.iter().map(|address| ("address", address.as_str())).collect();
            let reply = client.put(&with_query(JOIN_PATH, &query), b"").context("join")?;
            let joined: JoinResponse = reply.decode()?;
            if args.client.json {
                println!("{}", reply.pretty());
            } else {
                println!("Joined {} servers successfully", joined.num_joined);
            }
            if joined.num_joined < addresses.len() {
                bail!("error joining: {}", joined.error);
            }
        }
        ServerCommand::ForceLeave { prune, node } => {
            let mut query = vec![("node", node.as_str())];
            if prune {
                query.push(("prune", "true"));
            }
            client.put(&with_query(FORCE_LEAVE_PATH, &query), b"").with_context(|| format!("force-leave {node}"))?;
            if !args.client.json {
                println!("Forced {node} to leave");
            }
        }
    }
    Ok(())
}

/// The leader's RPC address, `""` when there is none.
pub fn leader(client: &Client) -> anyhow::Result<String> {
    Ok(client.get(LEADER_PATH).context("find the leader")?.decode()?)
}

/// A member's RPC address, which is how `/v1/status/leader` names the
/// leader: its gossip address with the RPC port from its `port` tag.
fn rpc_address(member: &Member) -> Option<String> {
    let port = member.tags.get("port")?;
    Some(if member.addr.contains(':') {
        format!("[{}]:{port}", member.addr)
    } else {
        format!("{}:{port}", member.addr)
    })
}

/// Nomad's `server members` table, sorted by name.
fn render_members(members: &[Member], leader: &str) -> String {
    let mut sorted: Vec<&Member> = members.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let tag = |member: &Member, name: &str| member.tags.get(name).cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = sorted
        .into_iter()
        .map(|member| {
            let is_leader = !leader.is_empty() && rpc_address(member).as_deref() == Some(leader);
            vec![
                member.name.clone(),
                member.addr.clone(),
                member.port.to_string(),
                member.status.clone(),
                is_leader.to_string(),
                tag(member, "raft_vsn"),
                tag(member, "build"),
                tag(member, "dc"),
                tag(member, "region"),
            ]
        })
        .collect();
    table(&["Name", "Address", "Port", "Status", "Leader", "Raft Version", "Build", "Datacenter", "Region"], &rows)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn member(name: &str, addr: &str, status: &str) -> Member {
        let tags = [("port", "4647"), ("raft_vsn", "3"), ("build", "0.1.0"), ("dc", "dc1"), ("region", "global")];
        let tags = tags.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect();
        Member::new(name.to_owned(), addr.to_owned(), 4648, tags, status.to_owned())
    }

    #[test]
    fn members_are_sorted_and_the_leader_is_matched_on_its_rpc_address() {
        let members = [
            member("two.global", "127.0.0.2", "alive"),
            member("one.global", "127.0.0.1", "alive"),
            member("three.global", "127.0.0.3", "failed"),
        ];
        assert_eq!(
            render_members(&members, "127.0.0.2:4647"),
            "Name          Address    Port  Status  Leader  Raft Version  Build  Datacenter  Region\n\
             one.global    127.0.0.1  4648  alive   false   3             0.1.0  dc1         global\n\
             three.global  127.0.0.3  4648  failed  false   3             0.1.0  dc1         global\n\
             two.global    127.0.0.2  4648  alive   true    3             0.1.0  dc1         global\n"
        );
        assert!(!render_members(&members, "").contains("true"), "no leader, no leader column set");
    }

    #[test]
    fn ipv6_rpc_addresses_are_bracketed() {
        assert_eq!(rpc_address(&member("six.global", "::1", "alive")).as_deref(), Some("[::1]:4647"));
        let mut untagged = member("old.global", "127.0.0.9", "alive");
        untagged.tags.clear();
        assert_eq!(rpc_address(&untagged), None);
    }
}
