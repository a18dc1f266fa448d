//! The replicated client nodes: what each client registered, with the
//! status the leader's heartbeat tracker gives it and the scheduling
//! eligibility operators set.

use std::collections::BTreeMap;

use keel_api::node::{Node, eligibility};

use crate::command::Outcome;
use crate::state::{Changed, Record};

/// Client nodes by id.
pub type Nodes = BTreeMap<String, Node>;

/// Registers `node` at `index`, or updates its registration. What the
/// servers decide is kept from the registered node: `CreateIndex`, the
/// scheduling eligibility and the drain flag. A registration under an id
/// that is registered with another secret is refused, so that one client
/// cannot take over another's node.
pub(crate) fn register(nodes: &mut Nodes, index: u64, node: Node) -> (Outcome, Changed) {
    let node = match nodes.get(&node.id) {
        Some(old) if old.secret_id != node.secret_id => return refused(),
        Some(old) => Node {
            create_index: old.create_index,
            modify_index: index,
            scheduling_eligibility: old.scheduling_eligibility.clone(),
            drain: old.drain,
            ..node
        },
        None => Node { create_index: index, modify_index: index, ..node },
    };
    let record = Record::Node(node.id.clone());
    nodes.insert(node.id.clone(), node);
    (Outcome::Cas(true), Changed::Some(vec![record]))
}

/// Sets a node's status and its description, changed at `at` (Unix
/// seconds). An unknown id changes nothing.
pub(crate) fn set_status(
    nodes: &mut Nodes,
    index: u64,
    id: &str,
    status: String,
    description: String,
    at: i64,
) -> (Outcome, Changed) {
    update(nodes, index, id, |node| {
        node.status = status;
        node.status_description = description;
        node.status_updated_at = at;
    })
}

/// Sets whether the scheduler may place new work on a node. An unknown id
/// changes nothing.
pub(crate) fn set_eligibility(nodes: &mut Nodes, index: u64, id: &str, eligibility: String) -> (Outcome, Changed) {
    update(nodes, index, id, |node| node.scheduling_eligibility = eligibility)
}

/// Starts draining a node (it becomes ineligible), or ends the drain:
/// the node stays ineligible unless `mark_eligible`.
pub(crate) fn set_drain(
    nodes: &mut Nodes,
    index: u64,
    id: &str,
    drain: bool,
    mark_eligible: bool,
) -> (Outcome, Changed) {
    update(nodes, index, id, |node| {
        node.drain = drain;
        if drain {
            node.scheduling_eligibility = eligibility::INELIGIBLE.to_owned();
        } else if mark_eligible {
            node.scheduling_eligibility = eligibility::ELIGIBLE.to_owned();
        }
    })
}

fn update(nodes: &mut Nodes, index: u64, id: &str, change: impl FnOnce(&mut Node)) -> (Outcome, Changed) {
    let Some(node) = nodes.get_mut(id) else { return refused() };
    change(node);
    node.modify_index = index;
    (Outcome::Cas(true), Changed::Some(vec![Record::Node(id.to_owned())]))
}

fn refused() -> (Outcome, Changed) {
    (Outcome::Cas(false), Changed::Some(Vec::new()))
}

#[cfg(test)]
mod tests {
    use keel_api::node::{eligibility, status};

    use super::*;

    fn node(id: &str, secret: &str) -> Node {
        Node {
            id: id.into(),
            secret_id: secret.into(),
            name: format!("client-{id}"),
            status: status::READY.into(),
            scheduling_eligibility: eligibility::ELIGIBLE.into(),
            ..Node::default()
        }
    }

    #[test]
    fn a_registration_keeps_what_the_servers_decided() {
        let mut nodes = Nodes::new();
        assert_eq!(register(&mut nodes, 5, node("a", "s")).0, Outcome::Cas(true));
        assert_eq!(set_eligibility(&mut nodes, 6, "a", eligibility::INELIGIBLE.into()).0, Outcome::Cas(true));
        let mut again = node("a", "s");
        again.name = "renamed".into();
        let (outcome, changed) = register(&mut nodes, 9, again);
        assert_eq!((outcome, changed), (Outcome::Cas(true), Changed::Some(vec![Record::Node("a".into())])));
        let stored = &nodes["a"];
        assert_eq!((stored.create_index, stored.modify_index), (5, 9));
        assert_eq!(stored.name, "renamed");
        assert_eq!(stored.scheduling_eligibility, eligibility::INELIGIBLE, "the operator's choice stays");
    }

    #[test]
    fn another_secret_cannot_take_over_a_node() {
        let mut nodes = Nodes::new();
        register(&mut nodes, 5, node("a", "mine"));
        let mut thief = node("a", "theirs");
        thief.name = "stolen".into();
        assert_eq!(register(&mut nodes, 6, thief), (Outcome::Cas(false), Changed::Some(Vec::new())));
        assert_eq!((nodes["a"].name.as_str(), nodes["a"].modify_index), ("client-a", 5));
    }

    #[test]
    fn status_and_eligibility_of_an_unknown_node_change_nothing() {
        let mut nodes = Nodes::new();
        register(&mut nodes, 5, node("a", "s"));
        let (outcome, _) = set_status(&mut nodes, 7, "a", status::DOWN.into(), "missed heartbeats".into(), 1_700);
        assert_eq!(outcome, Outcome::Cas(true));
        assert_eq!((nodes["a"].status.as_str(), nodes["a"].status_updated_at), (status::DOWN, 1_700));
        assert_eq!(set_status(&mut nodes, 8, "b", status::DOWN.into(), String::new(), 0).0, Outcome::Cas(false));
        assert_eq!(set_eligibility(&mut nodes, 8, "b", eligibility::INELIGIBLE.into()).0, Outcome::Cas(false));
        assert_eq!(nodes.len(), 1);
    }
}
