//! The placement loop end to end: feasibility, fit, scoring, preemption and
//! the failure record, through `place`.

use keel_sdk::scheduler::{Algorithm, Config, JobType, Node, NodeStatus, Nodes, Plan, TaskGroup};

use super::place;
use crate::fixtures::{alloc, config, constraint, group, node, res, running, sibling};

fn plan(config: &Config, group: &TaskGroup, nodes: &[Node]) -> Plan {
    place(config, group, &set(nodes)).expect("valid input")
}

fn set(nodes: &[Node]) -> Nodes {
    nodes.iter().cloned().collect()
}

fn node_ids(plan: &Plan) -> Vec<&str> {
    plan.placements.iter().map(|p| p.node_id.as_str()).collect()
}

/// A node with `cpu` MHz and `memory` MB of its capacity already reserved.
fn loaded(id: &str, cpu: u64, memory: u64) -> Node {
    Node { reserved: res(cpu, memory, 0), ..node(id) }
}

fn spread() -> Config {
    Config { algorithm: Algorithm::Spread, ..config() }
}

fn preempting(job_type: JobType) -> Config {
    let mut c = config();
    match job_type {
        JobType::Service => c.preempt_service = true,
        JobType::Batch => c.preempt_batch = true,
        JobType::System => c.preempt_system = true,
        JobType::Sysbatch => c.preempt_sysbatch = true,
    }
    c
}

#[test]
fn nothing_to_place_is_an_empty_plan() {
    let got = plan(&config(), &group(0), &[node("n1")]);
    assert_eq!(got, Plan { placements: Vec::new(), failed: 0, failure: None });
}

#[test]
fn binpack_and_spread_choose_different_nodes() {
    let nodes = [loaded("idle", 0, 0), loaded("half", 2000, 4096)];
    assert_eq!(node_ids(&plan(&config(), &group(1), &nodes)), ["half"]);
    assert_eq!(node_ids(&plan(&spread(), &group(1), &nodes)), ["idle"]);
}

#[test]
fn the_placement_carries_the_normalized_score() {
    let got = plan(&config(), &group(1), &[node("n1")]);
    // 500 of 4000 MHz and 256 of 8192 MB used: 20 - 10^0.875 - 10^0.96875.
    let expected = (20.0 - 10f64.powf(0.875) - 10f64.powf(1.0 - 256.0 / 8192.0)) / 18.0;
    assert!((got.placements[0].score - expected).abs() < 1e-9, "{}", got.placements[0].score);
}

#[test]
fn a_group_spread_over_equal_nodes_takes_each_of_them_whatever_their_ids() {
    // Three identical empty nodes and a limit of two candidates: had ties
    // gone to the lower id, some id sets would put two on one node.
    for seed in 0..200u32 {
        let id = |n: u32| format!("{:08x}", (seed * 3 + n).wrapping_mul(0x9e37_79b9));
        let nodes = [node(&id(0)), node(&id(1)), node(&id(2))];
        let mut used = node_ids(&plan(&spread(), &group(3), &nodes)).into_iter().map(str::to_owned).collect::<Vec<_>>();
        used.sort_unstable();
        used.dedup();
        assert_eq!(used.len(), 3, "ids {:?}", nodes.iter().map(|n| &n.id).collect::<Vec<_>>());
    }
}

#[test]
fn plans_accumulate_and_anti_affinity_spreads_a_group() {
    // Binpack alone would stack all three on one node; the anti-affinity
    // penalty for the group's own allocations moves the later ones.
    let got = plan(&config(), &group(3), &[node("n1"), node("n2"), node("n3")]);
    let mut used = node_ids(&got);
    used.sort_unstable();
    assert_eq!(used, ["n1", "n2", "n3"]);
}

#[test]
fn services_score_log2_of_the_nodes_batch_two_and_system_all() {
    assert_eq!(super::candidate_limit(JobType::Service, 1_000), 10);
    assert_eq!(super::candidate_limit(JobType::Service, 1_024), 10);
    assert_eq!(super::candidate_limit(JobType::Service, 1_025), 11);
    assert_eq!(super::candidate_limit(JobType::Service, 3), 2);
    assert_eq!(super::candidate_limit(JobType::Service, 0), 2);
    assert_eq!(super::candidate_limit(JobType::Batch, 1_000), 2);
    assert_eq!(super::candidate_limit(JobType::System, 5), 5);
    assert_eq!(super::candidate_limit(JobType::Sysbatch, 0), 1);
}

/// 64 nodes, each fuller than the one before: binpack's best is the
/// fullest, but an allocation scores only six of them, so it lands on the
/// fullest of the six it visited; the same group visits the same six.
fn graded(count: usize) -> Vec<Node> {
    (0..count).map(|i| loaded(&format!("node-{i:02}"), 50 * i as u64, 0)).collect()
}

#[test]
fn an_allocation_scores_only_the_limit_of_candidates() {
    let nodes = graded(64);
    let got = plan(&config(), &group(1), &nodes);
    assert_eq!(got.placements.len(), 1);
    assert_ne!(node_ids(&got), ["node-63"], "the fullest node is not among the six visited");
    let mut system = group(1);
    system.job_type = JobType::System;
    assert_eq!(node_ids(&plan(&config(), &system, &nodes)), ["node-63"], "a system job scores every node");
}

#[test]
fn the_same_input_gives_the_same_plan_and_another_group_another_order() {
    let nodes = graded(64);
    let first = plan(&config(), &group(5), &nodes);
    assert_eq!(first, plan(&config(), &group(5), &nodes));
    let mut other = group(5);
    other.job_id = "another-job".into();
    assert_ne!(node_ids(&first), node_ids(&plan(&config(), &other, &nodes)));
}

#[test]
fn an_allocation_that_fits_nowhere_counts_every_node() {
    let mut nodes = graded(64);
    nodes.push(Node { status: NodeStatus::Down, ..node("down") });
    let mut big = group(1);
    big.resources = res(5_000, 64, 0);
    let failure = plan(&config(), &big, &nodes).failure.expect("fits nowhere");
    assert_eq!((failure.nodes_evaluated, failure.nodes_exhausted), (64, 64));
}

#[test]
fn existing_allocations_of_the_group_count_for_anti_affinity() {
    let got = plan(&config(), &group(1), &[running(node("n1"), vec![sibling("old")]), node("n2")]);
    assert_eq!(node_ids(&got), ["n2"]);
}

#[test]
fn the_penalty_weighs_less_in_a_larger_group() {
    // n1 would be nearly full after the placement, n2 nearly empty. For a
    // group of one, a sibling on n1 costs 2 and sends the allocation to n2;
    // for a group of ten it costs 0.2, and binpack's preference for n1 wins.
    let nodes = [running(loaded("n1", 3000, 7500), vec![sibling("old")]), node("n2")];
    assert_eq!(node_ids(&plan(&config(), &group(1), &nodes)), ["n2"]);
    assert_eq!(node_ids(&plan(&config(), &group(10), &nodes))[0], "n1");
}

#[test]
fn placements_never_overfill_a_node() {
    // Room for exactly two allocations of 500 MHz on one node.
    let got = plan(&config(), &group(3), &[loaded("n1", 3000, 0)]);
    assert_eq!(node_ids(&got), ["n1", "n1"]);
    assert_eq!(got.failed, 1);
    let failure = got.failure.expect("a failure record");
    assert_eq!(failure.nodes_exhausted, 1);
    assert_eq!(failure.dimension_exhausted, [("cpu".to_owned(), 1)]);
}

#[test]
fn each_dimension_can_run_out() {
    let cases = [("cpu", res(3800, 0, 0)), ("memory", res(0, 8000, 0)), ("disk", res(0, 0, 99_800))];
    for (dimension, reserved) in cases {
        let got = plan(&config(), &group(1), &[Node { reserved, ..node("n1") }]);
        assert_eq!(got.failed, 1, "{dimension}");
        let failure = got.failure.expect("a failure record");
        assert_eq!(failure.dimension_exhausted, [(dimension.to_owned(), 1)]);
        assert_eq!(failure.nodes_exhausted, 1);
    }
}

#[test]
fn running_allocations_take_their_share() {
    let full = running(node("n1"), vec![alloc("a", 90, res(3800, 0, 0))]);
    let got = plan(&config(), &group(1), &[full]);
    assert_eq!(got.failed, 1);
}

#[test]
fn zero_resources_fit_anywhere() {
    let mut g = group(2);
    g.resources = res(0, 0, 0);
    let got = plan(&config(), &g, &[Node { reserved: res(4000, 8192, 100_000), ..node("n1") }]);
    assert_eq!(node_ids(&got), ["n1", "n1"]);
}

#[test]
fn the_failure_record_says_why_every_node_was_passed_over() {
    let with_os = |id: &str, os: &str, dc: &str| {
        let mut n = node(id);
        n.datacenter = dc.into();
        n.attributes.push(("os.name".into(), os.into()));
        n
    };
    let mut down = with_os("down", "linux", "dc1");
    down.status = NodeStatus::Down;
    let nodes = [
        with_os("win", "windows", "dc1"),
        with_os("small", "linux", "dc2"),
        with_os("other-dc", "linux", "dc9"),
        down,
        Node { node_pool: "gpu".into(), ..with_os("gpu", "linux", "dc1") },
    ];
    let mut g = group(2);
    g.datacenters = vec!["dc1".into(), "dc2".into()];
    g.constraints = vec![constraint("${attr.os.name}", "=", "linux")];
    g.resources = res(500, 10_000, 0);
    let got = plan(&config(), &g, &nodes);
    assert!(got.placements.is_empty());
    assert_eq!(got.failed, 2);
    let failure = got.failure.expect("a failure record");
    assert_eq!(failure.nodes_evaluated, 2);
    assert_eq!(failure.nodes_in_pool, 2);
    assert_eq!(failure.nodes_available, [("dc1".to_owned(), 1), ("dc2".to_owned(), 1)]);
    assert_eq!(failure.nodes_filtered, 1);
    assert_eq!(failure.constraint_filtered, [("${attr.os.name} = linux".to_owned(), 1)]);
    assert_eq!(failure.nodes_exhausted, 1);
    assert_eq!(failure.dimension_exhausted, [("memory".to_owned(), 1)]);
}

#[test]
fn the_failure_describes_the_first_attempt_that_failed() {
    let mut g = group(3);
    g.constraints = vec![constraint("", "distinct_hosts", "true")];
    let got = plan(&config(), &g, &[node("n1"), node("n2")]);
    assert_eq!(node_ids(&got), ["n1", "n2"]);
    assert_eq!(got.failed, 1);
    let failure = got.failure.expect("a failure record");
    assert_eq!(failure.nodes_filtered, 2);
    assert_eq!(failure.constraint_filtered, [(" distinct_hosts true".to_owned(), 2)]);
    assert_eq!(failure.nodes_exhausted, 0);
}

#[test]
fn distinct_hosts_counts_running_allocations_of_the_group() {
    let mut g = group(2);
    g.constraints = vec![constraint("", "distinct_hosts", "")];
    let nodes = [running(node("n1"), vec![sibling("old")]), node("n2"), node("n3")];
    let got = plan(&config(), &g, &nodes);
    let mut got = node_ids(&got);
    got.sort_unstable();
    assert_eq!(got, ["n2", "n3"]);
    g.constraints = vec![constraint("", "distinct_hosts", "false")];
    g.count = 4;
    assert_eq!(plan(&config(), &g, &nodes).placements.len(), 4, "switched off, nodes may repeat");
}

#[test]
fn allocations_of_other_groups_do_not_count_for_distinct_hosts() {
    let mut g = group(1);
    g.constraints = vec![constraint("", "distinct_hosts", "true")];
    let mut other_group = sibling("other");
    other_group.task_group = "backend".into();
    let got = plan(&config(), &g, &[running(node("n1"), vec![other_group])]);
    assert_eq!(node_ids(&got), ["n1"]);
}

#[test]
fn invalid_input_is_an_error() {
    let mut g = group(1);
    g.constraints = vec![constraint("${attr.a}", "resembles", "b")];
    assert!(place(&config(), &g, &set(&[node("n1")])).is_err());
    let empty = place(&config(), &group(1), &set(&[node("n1"), node("")])).expect_err("an empty id");
    assert!(empty.contains("empty id"), "{empty}");
}

// Preemption.

/// One node filled by a low-priority batch allocation.
fn crowded() -> Node {
    running(node("n1"), vec![alloc("low", 20, res(3800, 1024, 0))])
}

#[test]
fn without_the_flag_nothing_is_preempted() {
    let got = plan(&config(), &group(1), &[crowded()]);
    assert_eq!(got.failed, 1);
    assert!(got.placements.is_empty());
}

#[test]
fn each_job_type_preempts_only_with_its_own_flag() {
    let types = [JobType::Service, JobType::Batch, JobType::System, JobType::Sysbatch];
    for job_type in types {
        let g = TaskGroup { job_type, ..group(1) };
        let got = plan(&preempting(job_type), &g, &[crowded()]);
        assert_eq!(got.placements.len(), 1, "{job_type:?} with its flag");
        assert_eq!(got.placements[0].preempted, ["low"], "{job_type:?}");
        for other in types.into_iter().filter(|t| *t != job_type) {
            let got = plan(&preempting(other), &g, &[crowded()]);
            assert_eq!(got.failed, 1, "{job_type:?} with the {other:?} flag");
        }
    }
}

#[test]
fn only_allocations_ten_priorities_lower_are_preempted() {
    let mut g = group(1);
    g.priority = 30;
    let got = plan(&preempting(JobType::Service), &g, &[crowded()]);
    assert_eq!(got.placements[0].preempted, ["low"], "a delta of exactly 10 is enough");
    g.priority = 29;
    let got = plan(&preempting(JobType::Service), &g, &[crowded()]);
    assert_eq!(got.failed, 1, "a delta of 9 is not");
}

#[test]
fn preemption_is_a_last_resort() {
    // Under spread, n1 emptied by preemption would score far above the
    // nearly full n2; n2 still wins because it needs no preemption.
    for algorithm in [Algorithm::Binpack, Algorithm::Spread] {
        let c = Config { algorithm, ..preempting(JobType::Service) };
        let got = plan(&c, &group(1), &[crowded(), loaded("n2", 3000, 7000)]);
        assert_eq!(node_ids(&got), ["n2"], "{algorithm:?}");
        assert!(got.placements[0].preempted.is_empty());
    }
}

#[test]
fn the_lowest_priorities_and_fewest_allocations_are_preempted() {
    let n = running(
        node("n1"),
        vec![
            alloc("p35-small", 35, res(400, 0, 0)),
            alloc("p10-a", 10, res(1000, 0, 0)),
            alloc("p10-b", 10, res(300, 0, 0)),
            alloc("p20", 20, res(2300, 0, 0)),
        ],
    );
    let mut g = group(1);
    g.resources = res(1000, 0, 0);
    let got = plan(&preempting(JobType::Service), &g, &[n]);
    assert_eq!(got.placements[0].preempted, ["p10-a"]);
}

#[test]
fn the_same_allocation_is_never_preempted_twice() {
    let n = running(node("n1"), vec![alloc("a", 10, res(2000, 0, 0)), alloc("b", 10, res(2000, 0, 0))]);
    let mut g = group(3);
    g.resources = res(2000, 0, 0);
    let got = plan(&preempting(JobType::Service), &g, &[n]);
    let preempted: Vec<&[String]> = got.placements.iter().map(|p| p.preempted.as_slice()).collect();
    assert_eq!(preempted, [&["a".to_owned()][..], &["b".to_owned()][..]]);
    assert_eq!(got.failed, 1);
}

#[test]
fn an_allocation_listed_on_two_nodes_is_preempted_once() {
    let twin = || alloc("twin", 10, res(4000, 0, 0));
    let mut g = group(2);
    g.resources = res(4000, 0, 0);
    let got = plan(
        &preempting(JobType::Service),
        &g,
        &[running(node("n1"), vec![twin()]), running(node("n2"), vec![twin()])],
    );
    assert_eq!(got.placements.len(), 1);
    assert_eq!(got.failed, 1);
}

#[test]
fn the_own_job_is_never_preempted() {
    let mut own = sibling("own");
    own.priority = 1;
    own.resources = res(3800, 0, 0);
    let got = plan(&preempting(JobType::Service), &group(1), &[running(node("n1"), vec![own])]);
    assert_eq!(got.failed, 1);
}

#[test]
fn preemption_prefers_the_node_with_lower_priority_victims() {
    let a = running(node("n1"), vec![alloc("p35", 35, res(3800, 0, 0))]);
    let b = running(node("n2"), vec![alloc("p5", 5, res(3800, 0, 0))]);
    let got = plan(&preempting(JobType::Service), &group(1), &[a, b]);
    assert_eq!(node_ids(&got), ["n2"]);
    assert_eq!(got.placements[0].preempted, ["p5"]);
}

#[test]
fn a_hundred_nodes_are_placed_on_quickly() {
    let nodes: Vec<Node> = (0..100)
        .map(|i| {
            let mut n =
                running(node(&format!("node-{i:03}")), vec![alloc(&format!("a{i}"), 40, res(100 * (i % 7), 64, 0))]);
            n.attributes = (0..40).map(|k| (format!("attr.{k}"), format!("{k}"))).collect();
            n.attributes.push(("os.name".into(), if i % 10 == 0 { "windows" } else { "linux" }.into()));
            n
        })
        .collect();
    let mut g = group(5);
    g.constraints = vec![
        constraint("${attr.os.name}", "regexp", "^lin"),
        constraint("${attr.attr.39}", ">=", "10"),
        constraint("", "distinct_hosts", "true"),
    ];
    let started = std::time::Instant::now();
    let got = plan(&config(), &g, &nodes);
    let elapsed = started.elapsed();
    assert_eq!(got.placements.len(), 5);
    // A generous bound for unoptimized test builds on a busy machine; it
    // catches work that grows with the square of the nodes, not jitter.
    assert!(elapsed < std::time::Duration::from_millis(200), "{elapsed:?}");
}
