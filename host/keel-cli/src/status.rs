//! `keel status`: which agent answers, who leads, the Raft peers and the
//! gossip members, in one screen.

use anyhow::Context as _;
use keel_api::agent::MembersResponse;
use serde::Serialize;

use super::http::ClientArgs;
use super::server::{LEADER_PATH, MEMBERS_PATH};
use super::table::key_values;

const PEERS_PATH: &str = "/v1/status/peers";

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    client: ClientArgs,
}

/// What `keel status` reports.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ClusterStatus {
    address: String,
    leader: String,
    peers: Vec<String>,
    members: MembersResponse,
}

pub fn run(args: StatusArgs) -> anyhow::Result<()> {
    let client = args.client.client()?;
    let status = ClusterStatus {
        address: client.address().to_owned(),
        leader: client.get(LEADER_PATH).context("find the leader")?.decode()?,
        peers: client.get(PEERS_PATH).context("list the raft peers")?.decode()?,
        members: client.get(MEMBERS_PATH).context("list the members")?.decode()?,
    };
    if args.client.json {
        println!("{}", serde_json::to_string_pretty(&status).expect("a status serializes"));
    } else {
        print!("{}", render_status(&status));
    }
    Ok(())
}

fn render_status(status: &ClusterStatus) -> String {
    let leader = if status.leader.is_empty() { "(none)".to_owned() } else { status.leader.clone() };
    let peers = if status.peers.is_empty() { "(none)".to_owned() } else { status.peers.join(", ") };
    key_values(&[
        ("Agent", format!("{} ({})", status.members.server_name, status.address)),
        ("Region", status.members.server_region.clone()),
        ("Datacenter", status.members.server_dc.clone()),
        ("Leader", leader),
        ("Peers", peers),
        ("Members", count_by_status(&status.members)),
    ])
}

/// `3 (2 alive, 1 failed)`: the member count and how many are in each state.
fn count_by_status(members: &MembersResponse) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for member in &members.members {
        match counts.iter_mut().find(|(status, _)| *status == member.status) {
            Some((_, count)) => *count += 1,
            None => counts.push((&member.status, 1)),
        }
    }
    let states: Vec<String> = counts.iter().map(|(status, count)| format!("{count} {status}")).collect();
    if states.is_empty() { "0".to_owned() } else { format!("{} ({})", members.members.len(), states.join(", ")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::tests::member;

    #[test]
    fn the_status_summarises_leader_peers_and_members() {
        let status = ClusterStatus {
            address: "http://127.0.0.1:4646".to_owned(),
            leader: "127.0.0.1:4647".to_owned(),
            peers: vec!["127.0.0.1:4647".to_owned(), "127.0.0.2:4647".to_owned()],
            members: MembersResponse {
                server_name: "one.global".to_owned(),
                server_region: "global".to_owned(),
                server_dc: "dc1".to_owned(),
                members: vec![
                    member("one.global", "127.0.0.1", "alive"),
                    member("two.global", "127.0.0.2", "alive"),
                    member("three.global", "127.0.0.3", "failed"),
                ],
            },
        };
        assert_eq!(
            render_status(&status),
            "Agent      = one.global (http://127.0.0.1:4646)\n\
             Region     = global\n\
             Datacenter = dc1\n\
             Leader     = 127.0.0.1:4647\n\
             Peers      = 127.0.0.1:4647, 127.0.0.2:4647\n\
             Members    = 3 (2 alive, 1 failed)\n"
        );
        let lonely = ClusterStatus {
            leader: String::new(),
            peers: Vec::new(),
            members: MembersResponse { members: Vec::new(), ..status.members },
            ..status
        };
        let rendered = render_status(&lonely);
        assert!(rendered.contains("Leader     = (none)\nPeers      = (none)\nMembers    = 0\n"), "{rendered}");
    }
}
