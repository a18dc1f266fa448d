//! Scheduler plugins: where each allocation of a task group runs. A fault
//! fails the placement with a stated reason; the job stays pending.
//!
//! The host keeps its candidate nodes in a [`NodeSet`]. A 0.3.0 plugin
//! keeps a copy of it in each of its instances (the `node-set` resource):
//! before each `place` the instance's copy is brought up to date with the
//! nodes that changed and were removed since that instance last placed, so
//! that a placement over a thousand nodes does not lower a thousand nodes.
//! An older plugin is given every node on every call.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use wasmtime::component::ResourceAny;

use crate::adapt::Adapt;
pub use crate::bindings::v0_3::scheduler::exports::keel::plugin::scheduler::{
    Algorithm, Allocation, Config, Constraint, Failure, JobType, Node, NodeStatus, Placement, Plan, Resources,
    TaskGroup,
};
use crate::bindings::{v0_1, v0_2, v0_3};
use crate::instance::{Held, InstanceRef, Versioned, Warm, impl_world};
use crate::store::StoreData;
use crate::{Metrics, PluginError, PluginInfo};

impl_world!(keel_contract::Kind::Scheduler, scheduler, SchedulerAlgorithm, SchedulerAlgorithmPre);

/// A scheduler component of any contract version.
type SchedulerWorld = Versioned<
    v0_1::scheduler::SchedulerAlgorithm,
    v0_2::scheduler::SchedulerAlgorithm,
    v0_3::scheduler::SchedulerAlgorithm,
>;

/// A loaded scheduler plugin.
pub struct SchedulerPlugin {
    warm: Warm<SchedulerWorld>,
}

impl SchedulerPlugin {
    pub(crate) fn new(warm: Warm<SchedulerWorld>) -> Self {
        Self { warm }
    }

    pub fn info(&self) -> &PluginInfo {
        self.warm.info()
    }

    pub fn metrics(&self) -> &Metrics {
        self.warm.metrics()
    }

    pub fn contract(&self) -> keel_contract::Contract {
        self.warm.contract()
    }

    /// Places `group.count` allocations on the nodes of `nodes`. On `Err`
    /// nothing is placed; the error is the reason to show for the pending
    /// job.
    pub async fn place(&self, config: &Config, group: &TaskGroup, nodes: &NodeSet) -> Result<Plan, PluginError> {
        let (config, group, tracked) = (*config, group.clone(), Arc::clone(&nodes.tracked));
        let plan = self
            .warm
            .call("place", move |bindings, store, instance| match bindings {
                Versioned::V0_1(old) => {
                    let nodes = tracked.all().adapt();
                    Ok(old.keel_plugin_scheduler().call_place(store, config.adapt(), &group.adapt(), &nodes)?.adapt())
                }
                Versioned::V0_2(old) => {
                    let nodes = tracked.all().adapt();
                    Ok(old.keel_plugin_scheduler().call_place(store, config.adapt(), &group.adapt(), &nodes)?.adapt())
                }
                Versioned::V0_3(new) => {
                    let set = new.keel_plugin_scheduler().node_set();
                    let copy = tracked.bring_up_to_date(instance, store, &set)?;
                    set.call_place(store, copy, config, &group)
                }
            })
            .await?;
        plan.map_err(|message| {
            self.warm.metrics().record_error();
            PluginError::Refused { plugin: self.warm.info().name.clone(), message }
        })
    }
}

/// The nodes a scheduler places on, as the host knows them, in id order.
///
/// Every change is numbered. The copies that plugin instances keep remember
/// the number they have seen, so that bringing one up to date passes only
/// the nodes changed since then and the ids removed since then.
#[derive(Default)]
pub struct NodeSet {
    tracked: Arc<Tracked>,
}

#[derive(Default)]
struct Tracked {
    state: Mutex<Changes>,
}

#[derive(Default)]
struct Changes {
    /// Each node, with the number of the change that last wrote it.
    nodes: BTreeMap<String, (u64, Node)>,
    /// Removed ids with the number of their removal, oldest first, kept
    /// while some copy has not seen them.
    removed: VecDeque<(u64, String)>,
    /// The number of the latest change.
    latest: u64,
    /// The copies in plugin instances.
    copies: Vec<Copy>,
}

/// One instance's copy of the set and the latest change it has seen.
struct Copy {
    held: Held,
    seen: u64,
}

impl NodeSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// A set of these nodes. Fails on an empty id.
    pub fn of(nodes: impl IntoIterator<Item = Node>) -> Result<Self, String> {
        let mut set = Self::new();
        for node in nodes {
            set.upsert(node)?;
        }
        Ok(set)
    }

    /// Adds `node`, or replaces the node with its id. Fails, changing
    /// nothing, when the id is empty: plugins are promised none are.
    pub fn upsert(&mut self, node: Node) -> Result<(), String> {
        if node.id.is_empty() {
            return Err(format!("node {:?} has an empty id", node.name));
        }
        let mut changes = self.tracked.lock();
        changes.latest += 1;
        let latest = changes.latest;
        changes.nodes.insert(node.id.clone(), (latest, node));
        Ok(())
    }

    /// Adds `node` or replaces the node with its id, unless the set holds
    /// that very node already; says whether it changed anything.
    pub fn upsert_if_changed(&mut self, node: Node) -> Result<bool, String> {
        if self.tracked.lock().nodes.get(&node.id).is_some_and(|(_, held)| *held == node) {
            return Ok(false);
        }
        self.upsert(node).map(|()| true)
    }

    /// Every node id in the set, in order.
    pub fn ids(&self) -> Vec<String> {
        self.tracked.lock().nodes.keys().cloned().collect()
    }

    /// Removes the node with this id; false when there was none.
    pub fn remove(&mut self, id: &str) -> bool {
        let mut changes = self.tracked.lock();
        if changes.nodes.remove(id).is_none() {
            return false;
        }
        changes.latest += 1;
        let latest = changes.latest;
        changes.copies.retain(|copy| copy.held.alive());
        if !changes.copies.is_empty() {
            changes.removed.push_back((latest, id.to_owned()));
        }
        true
    }

    pub fn get(&self, id: &str) -> Option<Node> {
        self.tracked.lock().nodes.get(id).map(|(_, node)| node.clone())
    }

    pub fn len(&self) -> usize {
        self.tracked.lock().nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many plugin instances keep a copy of the set.
    pub fn copies(&self) -> usize {
        let mut changes = self.tracked.lock();
        changes.copies.retain(|copy| copy.held.alive());
        changes.copies.len()
    }
}

impl std::fmt::Debug for NodeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let changes = self.tracked.lock();
        f.debug_struct("NodeSet")
            .field("nodes", &changes.nodes.len())
            .field("latest", &changes.latest)
            .field("copies", &changes.copies.len())
            .finish()
    }
}

/// What a copy needs to be up to date: removals first, then upserts.
struct Delta {
    removed: Vec<String>,
    upserted: Vec<Node>,
    latest: u64,
}

impl Tracked {
    fn lock(&self) -> std::sync::MutexGuard<'_, Changes> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every node, in id order, for a plugin that keeps no copy.
    fn all(&self) -> Vec<Node> {
        self.lock().nodes.values().map(|(_, node)| node.clone()).collect()
    }

    /// The copy of the set in `instance`, created and filled there if it has
    /// none, and brought up to date with what changed since it last placed.
    /// The set stays locked meanwhile, so no change slips between the delta
    /// and the number recorded as seen.
    fn bring_up_to_date(
        &self,
        instance: &InstanceRef,
        store: &mut wasmtime::Store<StoreData>,
        set: &v0_3::scheduler::exports::keel::plugin::scheduler::GuestNodeSet<'_>,
    ) -> wasmtime::Result<ResourceAny> {
        let mut changes = self.lock();
        let (copy, delta) = changes.delta_for(instance);
        let copy = match copy {
            Some(copy) => copy,
            None => set.call_constructor(&mut *store)?,
        };
        if !delta.removed.is_empty() {
            set.call_remove(&mut *store, copy, &delta.removed)?;
        }
        if !delta.upserted.is_empty() {
            set.call_upsert(&mut *store, copy, &delta.upserted)?;
        }
        changes.seen(instance, copy, delta.latest);
        Ok(copy)
    }
}

impl Changes {
    /// The copy `instance` holds (if any) and what it lacks.
    fn delta_for(&mut self, instance: &InstanceRef) -> (Option<ResourceAny>, Delta) {
        self.copies.retain(|copy| copy.held.alive());
        let latest = self.latest;
        let Some(copy) = self.copies.iter().find(|copy| copy.held.is_in(instance)) else {
            let upserted = self.nodes.values().map(|(_, node)| node.clone()).collect();
            return (None, Delta { removed: Vec::new(), upserted, latest });
        };
        let seen = copy.seen;
        let removed = self.removed.iter().filter(|(at, _)| *at > seen).map(|(_, id)| id.clone()).collect();
        let upserted = self.nodes.values().filter(|(at, _)| *at > seen).map(|(_, node)| node.clone()).collect();
        (Some(copy.held.resource), Delta { removed, upserted, latest })
    }

    /// Records that the copy in `instance` has seen every change up to
    /// `latest`, and forgets removals every copy has seen.
    fn seen(&mut self, instance: &InstanceRef, resource: ResourceAny, latest: u64) {
        match self.copies.iter_mut().find(|copy| copy.held.is_in(instance)) {
            Some(copy) => copy.seen = latest,
            None => self.copies.push(Copy { held: Held::new(instance, resource), seen: latest }),
        }
        let oldest_seen = self.copies.iter().map(|copy| copy.seen).min().unwrap_or(self.latest);
        while self.removed.front().is_some_and(|(at, _)| *at <= oldest_seen) {
            self.removed.pop_front();
        }
    }
}
