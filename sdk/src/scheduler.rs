//! Scheduler algorithms: where each allocation of a task group runs.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::marker::PhantomData;

use crate::bindings::exports::keel::plugin::scheduler as wit;
pub use crate::bindings::exports::keel::plugin::scheduler::{
    Algorithm, Allocation, Config, Constraint, Failure, JobType, Node, NodeStatus, Placement, Plan, Resources,
    TaskGroup,
};
use crate::plugin::{Adapter, Plugin, Slot};

/// A scheduler algorithm.
///
/// # To ensure correctness
/// - `place` is a pure function of its arguments: the same nodes, group and
///   configuration give the same plan.
/// - A placement never exceeds a node's capacity minus its reservations and
///   the allocations that stay on it.
/// - Only allocations of lower priority than the group are preempted, and
///   only when `config` enables preemption for the group's job type.
/// - Allocations that cannot be placed are counted in `Plan::failed` with a
///   `Failure` saying why.
///
/// # When the host calls it
/// Once per task group to place. [`Nodes`] are the host's candidate nodes
/// at that moment: the SDK keeps them inside the plugin instance between
/// calls and applies the host's changes (nodes added, changed, gone) before
/// each call, so a call costs the nodes that changed, not all of them. The
/// host keeps nothing of the answer but the placements it commits.
pub trait SchedulerAlgorithm: Plugin {
    /// Places `group.count` allocations on `nodes`.
    fn place(&self, config: &Config, group: &TaskGroup, nodes: &Nodes) -> Result<Plan, String>;
}

/// The nodes a scheduler places on, by id, iterated in id order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Nodes {
    by_id: BTreeMap<String, Node>,
}

impl Nodes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `node`, or replaces the node with its id.
    pub fn upsert(&mut self, node: Node) {
        self.by_id.insert(node.id.clone(), node);
    }

    /// Forgets the node with this id and returns it, if there was one.
    pub fn remove(&mut self, id: &str) -> Option<Node> {
        self.by_id.remove(id)
    }

    pub fn get(&self, id: &str) -> Option<&Node> {
        self.by_id.get(id)
    }

    /// Every node, in id order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Node> + Clone {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

impl FromIterator<Node> for Nodes {
    fn from_iter<I: IntoIterator<Item = Node>>(nodes: I) -> Self {
        let mut set = Nodes::new();
        nodes.into_iter().for_each(|node| set.upsert(node));
        set
    }
}

impl<'a> IntoIterator for &'a Nodes {
    type Item = &'a Node;
    type IntoIter = std::collections::btree_map::Values<'a, String, Node>;

    fn into_iter(self) -> Self::IntoIter {
        self.by_id.values()
    }
}

/// Makes a [`SchedulerAlgorithm`] the exports of a `scheduler-algorithm` component.
#[macro_export]
macro_rules! export_scheduler_algorithm {
    ($plugin:ty) => {
        $crate::__keel_export!($plugin, scheduler, __export_keel_plugin_scheduler_0_3_0_cabi);
    };
}

/// The guest resource behind `node-set`: one instance's [`Nodes`].
#[doc(hidden)]
pub struct NodeSetResource<P> {
    nodes: RefCell<Nodes>,
    plugin: PhantomData<P>,
}

impl<P: Slot + SchedulerAlgorithm> wit::GuestNodeSet for NodeSetResource<P> {
    fn new() -> Self {
        Self { nodes: RefCell::new(Nodes::new()), plugin: PhantomData }
    }

    fn upsert(&self, nodes: Vec<Node>) {
        let mut set = self.nodes.borrow_mut();
        nodes.into_iter().for_each(|node| set.upsert(node));
    }

    fn remove(&self, ids: Vec<String>) {
        let mut set = self.nodes.borrow_mut();
        for id in ids {
            set.remove(&id);
        }
    }

    fn place(&self, config: Config, group: TaskGroup) -> Result<Plan, String> {
        Adapter::<P>::with(|plugin| plugin.place(&config, &group, &self.nodes.borrow()))
    }
}

impl<P: Slot + SchedulerAlgorithm> wit::Guest for Adapter<P> {
    type NodeSet = NodeSetResource<P>;
}
