//! Which nodes may run the group at all: the group's pool and datacenters,
//! ready and eligible nodes, and the constraints that depend on the node
//! alone. These do not change while a plan grows, so they are checked once
//! per call.

use keel_sdk::scheduler::{Node, NodeStatus, TaskGroup};

use crate::constraint::CompiledConstraint;
use crate::metrics::Metrics;
use crate::target::node_pool;

/// The nodes that passed, and the counts every attempt starts from.
#[derive(Debug, Clone)]
pub(crate) struct Feasibility<'a> {
    /// In input order.
    pub(crate) feasible: Vec<&'a Node>,
    pub(crate) metrics: Metrics,
}

/// Screens every node. Nodes outside the pool or the datacenters, and nodes
/// not ready or not eligible, are never evaluated, as in Nomad; the rest
/// are counted against the first constraint they fail.
pub(crate) fn screen<'a>(
    group: &TaskGroup,
    nodes: impl IntoIterator<Item = &'a Node>,
    constraints: &mut [CompiledConstraint],
) -> Feasibility<'a> {
    let mut metrics = Metrics::new(constraints.len());
    let mut feasible = Vec::new();
    for node in nodes {
        let in_scope = in_pool(&group.node_pool, node)
            && node.status == NodeStatus::Ready
            && node.eligible
            && in_datacenters(&group.datacenters, &node.datacenter);
        if !in_scope {
            continue;
        }
        metrics.available(&node.datacenter);
        match constraints.iter_mut().position(|c| !c.holds(node)) {
            Some(failed) => metrics.filtered(failed),
            None => feasible.push(node),
        }
    }
    Feasibility { feasible, metrics }
}

/// `""` and `"all"` take every pool.
fn in_pool(pool: &str, node: &Node) -> bool {
    pool.is_empty() || pool == "all" || node_pool(node) == pool
}

/// An empty list takes every datacenter; entries may use `*` wildcards.
fn in_datacenters(patterns: &[String], datacenter: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|pattern| glob(pattern, datacenter))
}

/// Matches `*` against any run of characters, the only wildcard Nomad's
/// datacenter globs have.
fn glob(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let mut parts: Vec<&str> = rest.split('*').collect();
    let last = parts.pop().unwrap_or_default();
    for part in parts {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

#[cfg(test)]
mod tests {
    use keel_sdk::scheduler::Constraint;

    use super::*;
    use crate::fixtures::{constraint, group, node};

    fn compile(constraints: &[Constraint]) -> Vec<CompiledConstraint> {
        constraints.iter().map(|c| CompiledConstraint::compile(c).expect("valid")).collect()
    }

    fn feasible_ids(g: &TaskGroup, nodes: &[Node]) -> Vec<String> {
        let f = screen(g, nodes, &mut compile(&g.constraints));
        f.feasible.iter().map(|node| node.id.clone()).collect()
    }

    #[test]
    fn only_ready_eligible_nodes_are_evaluated() {
        let mut down = node("down");
        down.status = NodeStatus::Down;
        let mut init = node("init");
        init.status = NodeStatus::Initializing;
        let mut gone = node("gone");
        gone.status = NodeStatus::Disconnected;
        let mut drained = node("drained");
        drained.eligible = false;
        let nodes = [node("ok"), down, init, gone, drained];
        let g = group(1);
        assert_eq!(feasible_ids(&g, &nodes), ["ok"]);
        let f = screen(&g, &nodes, &mut []);
        assert_eq!((f.metrics.nodes_evaluated, f.metrics.nodes_in_pool), (1, 1));
    }

    #[test]
    fn datacenters_match_exactly_or_by_glob() {
        let at = |dc: &str| Node { datacenter: dc.into(), ..node(dc) };
        let nodes = [at("dc1"), at("dc2"), at("us-east-1a"), at("us-west-1a")];
        let mut g = group(1);
        g.datacenters = vec!["dc2".into(), "us-*-1a".into()];
        assert_eq!(feasible_ids(&g, &nodes), ["dc2", "us-east-1a", "us-west-1a"]);
        g.datacenters = vec!["*".into()];
        assert_eq!(feasible_ids(&g, &nodes).len(), 4);
        g.datacenters = Vec::new();
        assert_eq!(feasible_ids(&g, &nodes).len(), 4, "no datacenters means any");
        g.datacenters = vec!["*east*".into()];
        assert_eq!(feasible_ids(&g, &nodes), ["us-east-1a"]);
    }

    #[test]
    fn globs_only_know_stars() {
        assert!(glob("a*c", "abc") && glob("a*c", "ac") && glob("*", "") && glob("a**", "a"));
        assert!(!glob("a*c", "abd") && !glob("a?c", "abc") && !glob("ab*b", "ab"));
    }

    #[test]
    fn pools_match_by_name_with_default_and_all() {
        let in_pool_named =
            |pool: &str| Node { node_pool: pool.into(), ..node(if pool.is_empty() { "unset" } else { pool }) };
        let nodes = [in_pool_named(""), in_pool_named("default"), in_pool_named("gpu")];
        let mut g = group(1);
        assert_eq!(feasible_ids(&g, &nodes), ["unset", "default"]);
        g.node_pool = "gpu".into();
        assert_eq!(feasible_ids(&g, &nodes), ["gpu"]);
        g.node_pool = "all".into();
        assert_eq!(feasible_ids(&g, &nodes).len(), 3);
        g.node_pool = String::new();
        assert_eq!(feasible_ids(&g, &nodes).len(), 3);
    }

    #[test]
    fn each_filtered_node_counts_against_its_first_failing_constraint() {
        let with_os = |id: &str, os: &str| {
            let mut n = node(id);
            n.attributes.push(("os.name".into(), os.into()));
            n
        };
        let nodes = [with_os("n1", "ubuntu"), with_os("n2", "debian"), with_os("n3", "windows"), node("n4")];
        let mut g = group(1);
        g.constraints =
            vec![constraint("${attr.os.name}", "is_set", ""), constraint("${attr.os.name}", "!=", "windows")];
        let f = screen(&g, &nodes, &mut compile(&g.constraints));
        assert_eq!(f.feasible, [&nodes[0], &nodes[1]]);
        let failure = f.metrics.into_failure(["${attr.os.name} is_set ", "${attr.os.name} != windows"]);
        assert_eq!(failure.nodes_filtered, 2);
        assert_eq!(
            failure.constraint_filtered,
            [("${attr.os.name} is_set ".to_owned(), 1), ("${attr.os.name} != windows".to_owned(), 1)]
        );
        assert_eq!(failure.nodes_available, [("dc1".to_owned(), 4)]);
    }
}
