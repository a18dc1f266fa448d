//! Which nodes may run the group at all: the group's pool and datacenters,
//! ready and eligible nodes, and the constraints that depend on the node
//! alone. These do not change while a plan grows, so each node is checked
//! at most once per call, when the placer first visits it.

use keel_sdk::scheduler::{Node, NodeStatus, TaskGroup};

use crate::constraint::CompiledConstraint;
use crate::metrics::Metrics;
use crate::target::node_pool;

/// What screening made of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Screened {
    /// Outside the pool or the datacenters, not ready or not eligible:
    /// never evaluated, as in Nomad.
    OutOfScope,
    /// Ruled out by the constraint at this index, the first it fails.
    Filtered(usize),
    Feasible,
}

/// Screens one node.
pub(crate) fn check(group: &TaskGroup, node: &Node, constraints: &mut [CompiledConstraint]) -> Screened {
    let in_scope = in_pool(&group.node_pool, node)
        && node.status == NodeStatus::Ready
        && node.eligible
        && in_datacenters(&group.datacenters, &node.datacenter);
    if !in_scope {
        return Screened::OutOfScope;
    }
    match constraints.iter_mut().position(|c| !c.holds(node)) {
        Some(failed) => Screened::Filtered(failed),
        None => Screened::Feasible,
    }
}

/// Screens every node: the counts every attempt's failure record starts
/// from, each filtered node counted against the first constraint it fails.
pub(crate) fn screen<'a>(
    group: &TaskGroup,
    nodes: impl IntoIterator<Item = &'a Node>,
    constraints: &mut [CompiledConstraint],
) -> Metrics {
    let mut metrics = Metrics::new(constraints.len());
    for node in nodes {
        match check(group, node, constraints) {
            Screened::OutOfScope => continue,
            Screened::Filtered(failed) => metrics.filtered(failed),
            Screened::Feasible => {}
        }
        metrics.available(&node.datacenter);
    }
    metrics
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
        let mut constraints = compile(&g.constraints);
        let feasible = nodes.iter().filter(|node| check(g, node, &mut constraints) == Screened::Feasible);
        feasible.map(|node| node.id.clone()).collect()
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
        let metrics = screen(&g, &nodes, &mut []);
        assert_eq!((metrics.nodes_evaluated, metrics.nodes_in_pool), (1, 1));
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
        assert_eq!(feasible_ids(&g, &nodes), ["n1", "n2"]);
        let metrics = screen(&g, &nodes, &mut compile(&g.constraints));
        let failure = metrics.into_failure(["${attr.os.name} is_set ", "${attr.os.name} != windows"]);
        assert_eq!(failure.nodes_filtered, 2);
        assert_eq!(
            failure.constraint_filtered,
            [("${attr.os.name} is_set ".to_owned(), 1), ("${attr.os.name} != windows".to_owned(), 1)]
        );
        assert_eq!(failure.nodes_available, [("dc1".to_owned(), 4)]);
    }
}
