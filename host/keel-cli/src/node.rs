//! `keel node status [ID] | drain | eligibility`: the client nodes, as `nomad node`
//! shows them. An ID may be given by any unique prefix.

use anyhow::{Context as _, bail};
use clap::Subcommand;
use keel_api::node::{Node, NodeListStub, eligibility};

use super::http::{Client, ClientArgs, with_query};
use super::table::{short_id, table};

const NODES_PATH: &str = "/v1/nodes";

#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: NodeCommand,
}

#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// Lists the nodes, or shows one.
    Status {
        /// The node's ID or a unique prefix of it.
        id: Option<String>,
    },
    /// Drains a node: its allocations are placed elsewhere and it takes no
    /// new work; or ends the drain.
    Drain {
        #[arg(long, conflicts_with = "disable", required_unless_present = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
        /// Make the node eligible again when ending the drain.
        #[arg(long, requires = "disable")]
        mark_eligible: bool,
        /// The node's ID or a unique prefix of it.
        id: String,
    },
    /// Lets the scheduler place new work on a node, or stops it.
    Eligibility {
        #[arg(long, conflicts_with = "disable", required_unless_present = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
        /// The node's ID or a unique prefix of it.
        id: String,
    },
}

pub fn run(args: NodeArgs) -> anyhow::Result<()> {
    let client = args.client.client()?;
    match args.command {
        NodeCommand::Status { id: None } => {
            let reply = client.get(NODES_PATH).context("list the nodes")?;
            if args.client.json {
                println!("{}", reply.pretty());
                return Ok(());
            }
            print!("{}", render_nodes(&reply.decode::<Vec<NodeListStub>>()?));
        }
        NodeCommand::Status { id: Some(prefix) } => {
            let id = resolve(&client, &prefix)?;
            let reply = client.get(&format!("/v1/node/{id}")).with_context(|| format!("read node {id}"))?;
            if args.client.json {
                println!("{}", reply.pretty());
                return Ok(());
            }
            print!("{}", render_node(&reply.decode::<Node>()?));
        }
        NodeCommand::Drain { enable, mark_eligible, id: prefix, .. } => {
            let id = resolve(&client, &prefix)?;
            let spec = enable.then(|| serde_json::json!({ "Deadline": 0, "IgnoreSystemJobs": false }));
            let body = serde_json::json!({ "NodeID": id, "DrainSpec": spec, "MarkEligible": mark_eligible });
            let reply = client
                .post(&format!("/v1/node/{id}/drain"), body.to_string().as_bytes())
                .with_context(|| format!("set the drain of node {id}"))?;
            match (args.client.json, enable) {
                (true, _) => println!("{}", reply.pretty()),
                (false, true) => println!("Node {id} is draining: its allocations are being placed elsewhere"),
                (false, false) => println!("Node {id} drain stopped"),
            }
        }
        NodeCommand::Eligibility { enable, id: prefix, .. } => {
            let id = resolve(&client, &prefix)?;
            let value = if enable { eligibility::ELIGIBLE } else { eligibility::INELIGIBLE };
            let body = serde_json::json!({ "NodeID": id, "Eligibility": value }).to_string();
            let reply = client
                .post(&format!("/v1/node/{id}/eligibility"), body.as_bytes())
                .with_context(|| format!("set the eligibility of node {id}"))?;
            match args.client.json {
                true => println!("{}", reply.pretty()),
                false => println!("Node {id} scheduling eligibility set: {value}"),
            }
        }
    }
    Ok(())
}

/// The one node whose ID starts with `prefix`.
fn resolve(client: &Client, prefix: &str) -> anyhow::Result<String> {
    let reply = client.get(&with_query(NODES_PATH, &[("prefix", prefix)])).context("look up the node")?;
    let nodes: Vec<NodeListStub> = reply.decode()?;
    match nodes.as_slice() {
        [] => bail!("no node with an ID starting with {prefix:?}"),
        [node] => Ok(node.id.clone()),
        several => {
            let ids: Vec<&str> = several.iter().map(|node| node.id.as_str()).collect();
            bail!("prefix {prefix:?} matches several nodes: {}", ids.join(", "))
        }
    }
}

/// Nomad's `node status` table.
fn render_nodes(nodes: &[NodeListStub]) -> String {
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|node| {
            vec![
                short_id(&node.id).to_owned(),
                node.node_pool.clone(),
                node.datacenter.clone(),
                node.name.clone(),
                node.node_class.clone(),
                node.drain.to_string(),
                node.scheduling_eligibility.clone(),
                node.status.clone(),
            ]
        })
        .collect();
    table(&["ID", "Node Pool", "DC", "Name", "Class", "Drain", "Eligibility", "Status"], &rows)
}

/// One node: its identity, status, resources and drivers.
fn render_node(node: &Node) -> String {
    let resources = &node.node_resources;
    let drivers: Vec<&str> = node.drivers.iter().filter(|(_, d)| d.detected).map(|(name, _)| name.as_str()).collect();
    let fields = [
        ("ID", node.id.clone()),
        ("Name", node.name.clone()),
        ("Node Pool", node.node_pool.clone()),
        ("Class", node.node_class.clone()),
        ("DC", node.datacenter.clone()),
        ("Address", node.http_addr.clone()),
        ("Drain", node.drain.to_string()),
        ("Eligibility", node.scheduling_eligibility.clone()),
        ("Status", node.status.clone()),
        ("Status Description", node.status_description.clone()),
        ("CPU", format!("{} MHz ({} cores)", resources.cpu.cpu_shares, resources.cpu.total_cpu_cores)),
        ("Memory", format!("{} MiB", resources.memory.memory_mb)),
        ("Disk", format!("{} MiB", resources.disk.disk_mb)),
        ("Drivers", drivers.join(",")),
    ];
    let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    fields.iter().map(|(name, value)| format!("{name:<width$} = {value}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_shows_short_ids_and_the_detail_every_field() {
        let node = Node {
            id: "f7476465-4d6e-c0de-26d0-e383c49be941".into(),
            name: "client-1".into(),
            datacenter: "dc1".into(),
            node_pool: "default".into(),
            status: "ready".into(),
            scheduling_eligibility: "eligible".into(),
            ..Node::default()
        };
        let list = render_nodes(&[node.stub()]);
        assert!(list.lines().next().is_some_and(|header| header.starts_with("ID ")), "{list}");
        assert!(list.contains("f7476465 ") && !list.contains("4d6e"), "{list}");
        let detail = render_node(&node);
        assert!(detail.contains("ID                 = f7476465-4d6e-c0de-26d0-e383c49be941"), "{detail}");
        assert!(detail.contains("Status             = ready"), "{detail}");
    }
}
