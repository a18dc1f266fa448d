//! The replicated scheduling data: jobs by `namespace/id`, evaluations and
//! allocations by id, and the commands that change them. A registration
//! and its evaluation are one entry, as are a plan's placements, stops and
//! the evaluation that made them, so no server ever sees one without the
//! other.

use std::collections::BTreeMap;

use keel_api::job::{AllocUpdate, Allocation, Evaluation, Job, TaskGroup, client_status, desired_status, eval_status};
use serde::{Deserialize, Serialize};

use crate::command::Outcome;
use crate::state::{Changed, Record};

/// Jobs, evaluations and allocations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Scheduling {
    pub jobs: BTreeMap<String, Job>,
    pub evals: BTreeMap<String, Evaluation>,
    pub allocs: BTreeMap<String, Allocation>,
}

/// An allocation a plan stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocStop {
    pub id: String,
    pub description: String,
    /// `lost` when its node is gone; the client's status otherwise stays.
    pub lost: bool,
}

impl Scheduling {
    /// Registers `job` (a new version of it, if it exists) with the
    /// evaluation that will reconcile it.
    ///
    /// The allocations of a group the new version leaves as it was (its
    /// count aside) are updated in place to the new version; those of a
    /// changed group keep theirs, and the evaluation replaces them.
    pub(crate) fn register_job(&mut self, index: u64, job: Job, eval: Evaluation) -> (Outcome, Changed) {
        let key = job.key();
        let mut changed = vec![Record::Job(key.clone())];
        let job = match self.jobs.get(&key).cloned() {
            Some(old) => {
                let job = Job {
                    create_index: old.create_index,
                    version: old.version + 1,
                    modify_index: index,
                    job_modify_index: index,
                    ..job
                };
                changed.extend(self.update_in_place(index, old, &job));
                job
            }
            None => Job { create_index: index, modify_index: index, job_modify_index: index, version: 0, ..job },
        };
        self.jobs.insert(key, job);
        changed.push(self.put_eval(index, Evaluation { job_modify_index: index, ..eval }));
        (Outcome::Applied, Changed::Some(changed))
    }

    /// Moves the wanted allocations of each group `new` leaves as `old` had
    /// it (count aside, and where the job runs unchanged) to `new`'s version.
    fn update_in_place(&mut self, index: u64, old: Job, new: &Job) -> Vec<Record> {
        let placement = |job: &Job| (job.datacenters.clone(), job.node_pool.clone(), job.constraints.clone());
        if placement(&old) != placement(new) || old.stop {
            return Vec::new();
        }
        let same = |name: &str| {
            let uncounted = |job: &Job| {
                job.task_groups
                    .iter()
                    .find(|group| group.name == name)
                    .map(|group| TaskGroup { count: None, ..group.clone() })
            };
            uncounted(&old).is_some_and(|group| Some(group) == uncounted(new))
        };
        let mut changed = Vec::new();
        for alloc in self.allocs.values_mut() {
            let ours = alloc.namespace == new.namespace && alloc.job_id == new.id && alloc.job_version == old.version;
            if ours && alloc.desired_status == desired_status::RUN && same(&alloc.task_group) {
                alloc.job_version = new.version;
                alloc.modify_index = index;
                changed.push(Record::Alloc(alloc.id.clone()));
            }
        }
        changed
    }

    /// Stops a job (or forgets it, with `purge`) with the evaluation that
    /// will stop its allocations. An unknown job changes nothing.
    pub(crate) fn deregister_job(
        &mut self,
        index: u64,
        key: &str,
        purge: bool,
        eval: Evaluation,
    ) -> (Outcome, Changed) {
        let Some(job) = self.jobs.get_mut(key) else { return (Outcome::Cas(false), Changed::Some(Vec::new())) };
        if purge {
            self.jobs.remove(key);
        } else {
            job.stop = true;
            job.modify_index = index;
            job.job_modify_index = index;
        }
        let eval_record = self.put_eval(index, Evaluation { job_modify_index: index, ..eval });
        (Outcome::Cas(true), Changed::Some(vec![Record::Job(key.to_owned()), eval_record]))
    }

    /// Writes evaluations (new, or with a new status).
    pub(crate) fn upsert_evals(&mut self, index: u64, evals: Vec<Evaluation>) -> (Outcome, Changed) {
        let changed = evals.into_iter().map(|eval| self.put_eval(index, eval)).collect();
        (Outcome::Applied, Changed::Some(changed))
    }

    /// A plan the leader verified: new allocations, allocations stopped,
    /// and the evaluation's outcome.
    pub(crate) fn apply_plan(
        &mut self,
        index: u64,
        placed: Vec<Allocation>,
        stopped: Vec<AllocStop>,
        evals: Vec<Evaluation>,
    ) -> (Outcome, Changed) {
        let mut changed = Vec::new();
        for alloc in placed {
            changed.push(Record::Alloc(alloc.id.clone()));
            self.allocs.insert(alloc.id.clone(), Allocation { create_index: index, modify_index: index, ..alloc });
        }
        for stop in stopped {
            let Some(alloc) = self.allocs.get_mut(&stop.id) else { continue };
            alloc.desired_status = desired_status::STOP.to_owned();
            alloc.desired_description = stop.description;
            if stop.lost {
                alloc.client_status = client_status::LOST.to_owned();
            }
            alloc.modify_index = index;
            changed.push(Record::Alloc(stop.id));
        }
        changed.extend(evals.into_iter().map(|eval| self.put_eval(index, eval)));
        (Outcome::Applied, Changed::Some(changed))
    }

    /// What a node's client reports of its allocations, with the
    /// evaluations that replace the failed ones. An allocation of another
    /// node, or one the servers already call `lost`, is left as it is.
    pub(crate) fn update_from_client(
        &mut self,
        index: u64,
        node_id: &str,
        updates: Vec<AllocUpdate>,
        evals: Vec<Evaluation>,
    ) -> (Outcome, Changed) {
        let mut changed = Vec::new();
        for update in updates {
            let Some(alloc) = self.allocs.get_mut(&update.id) else { continue };
            if alloc.node_id != node_id || alloc.client_status == client_status::LOST {
                continue;
            }
            alloc.client_status = update.client_status;
            alloc.client_description = update.client_description;
            alloc.task_states = update.task_states;
            alloc.modify_index = index;
            changed.push(Record::Alloc(update.id));
        }
        changed.extend(evals.into_iter().map(|eval| self.put_eval(index, eval)));
        (Outcome::Applied, Changed::Some(changed))
    }

    fn put_eval(&mut self, index: u64, eval: Evaluation) -> Record {
        let create_index = self.evals.get(&eval.id).map_or(index, |old| old.create_index);
        let id = eval.id.clone();
        self.evals.insert(id.clone(), Evaluation { create_index, modify_index: index, ..eval });
        Record::Eval(id)
    }

    /// The allocations of the job with this key, in id order.
    pub fn allocs_of<'a>(&'a self, namespace: &'a str, job_id: &'a str) -> impl Iterator<Item = &'a Allocation> + 'a {
        self.allocs.values().filter(move |alloc| alloc.namespace == namespace && alloc.job_id == job_id)
    }

    /// Nomad's job status: `running` while an allocation is live, `dead`
    /// once stopped, or once every allocation finished with no evaluation
    /// left to place more (a batch job that completed), `pending` before.
    pub fn job_status(&self, job: &Job) -> &'static str {
        let mut allocs = self.allocs_of(&job.namespace, &job.id).peekable();
        let any = allocs.peek().is_some();
        if allocs.any(|alloc| alloc.is_live()) {
            return "running";
        }
        let waiting = || {
            self.evals.values().any(|eval| {
                eval.namespace == job.namespace
                    && eval.job_id == job.id
                    && matches!(eval.status.as_str(), eval_status::PENDING | eval_status::BLOCKED)
            })
        };
        match job.stop || (any && !waiting()) {
            true => "dead",
            false => "pending",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str) -> Job {
        let mut job = Job {
            id: id.into(),
            task_groups: vec![TaskGroup { name: "g".into(), ..TaskGroup::default() }],
            ..Job::default()
        };
        job.canonicalize();
        job
    }

    fn eval(id: &str, job_id: &str) -> Evaluation {
        Evaluation {
            id: id.into(),
            namespace: "default".into(),
            job_id: job_id.into(),
            status: eval_status::PENDING.into(),
            ..Evaluation::default()
        }
    }

    fn alloc(id: &str) -> Allocation {
        Allocation {
            id: id.into(),
            namespace: "default".into(),
            job_id: "web".into(),
            name: "web.g[0]".into(),
            desired_status: desired_status::RUN.into(),
            client_status: client_status::PENDING.into(),
            ..Allocation::default()
        }
    }

    #[test]
    fn a_registration_and_its_evaluation_are_one_change_and_versions_count_up() {
        let mut state = Scheduling::default();
        let (_, changed) = state.register_job(5, job("web"), eval("e1", "web"));
        assert_eq!(changed, Changed::Some(vec![Record::Job("default/web".into()), Record::Eval("e1".into())]));
        state.register_job(9, job("web"), eval("e2", "web"));
        let stored = &state.jobs["default/web"];
        assert_eq!((stored.create_index, stored.job_modify_index, stored.version), (5, 9, 1));
        assert_eq!((state.evals["e2"].create_index, state.evals["e2"].job_modify_index), (9, 9));
        assert_eq!(state.job_status(stored), "pending");
    }

    #[test]
    fn a_plan_places_and_stops_and_the_job_status_follows() {
        let mut state = Scheduling::default();
        state.register_job(5, job("web"), eval("e1", "web"));
        let done = Evaluation { status: eval_status::COMPLETE.into(), ..eval("e1", "web") };
        state.apply_plan(6, vec![alloc("a1")], Vec::new(), vec![done]);
        assert_eq!(state.allocs["a1"].create_index, 6);
        assert_eq!(state.evals["e1"].status, "complete");
        assert_eq!(state.job_status(&state.jobs["default/web"]), "running");

        let stop = AllocStop { id: "a1".into(), description: "node down".into(), lost: true };
        state.apply_plan(7, Vec::new(), vec![stop], Vec::new());
        assert_eq!((state.allocs["a1"].client_status.as_str(), state.allocs["a1"].modify_index), ("lost", 7));
        assert_eq!(state.deregister_job(8, "default/web", false, eval("e3", "web")).0, Outcome::Cas(true));
        assert_eq!(state.job_status(&state.jobs["default/web"]), "dead");
        assert_eq!(state.deregister_job(9, "default/nope", false, eval("e4", "nope")).0, Outcome::Cas(false));
        assert!(!state.evals.contains_key("e4"), "nothing written for an unknown job");
        state.deregister_job(10, "default/web", true, eval("e5", "web"));
        assert!(state.jobs.is_empty(), "purged");
    }

    #[test]
    fn a_client_reports_only_its_own_allocations_and_a_lost_one_stays_lost() {
        let mut state = Scheduling::default();
        state.register_job(5, Job { job_type: "batch".into(), ..job("web") }, eval("e1", "web"));
        let done = Evaluation { status: eval_status::COMPLETE.into(), ..eval("e1", "web") };
        let placed = |id: &str, node: &str| Allocation { node_id: node.into(), ..alloc(id) };
        state.apply_plan(6, vec![placed("a1", "n1"), placed("a2", "n2")], Vec::new(), vec![done]);
        let update = |id: &str, status: &str| AllocUpdate {
            id: id.into(),
            client_status: status.into(),
            ..AllocUpdate::default()
        };
        let (_, changed) =
            state.update_from_client(7, "n1", vec![update("a1", "complete"), update("a2", "failed")], Vec::new());
        assert_eq!(changed, Changed::Some(vec![Record::Alloc("a1".into())]), "a2 is n2's");
        assert_eq!((state.allocs["a1"].client_status.as_str(), state.allocs["a1"].modify_index), ("complete", 7));
        assert_eq!(state.allocs["a2"].client_status, "pending");
        assert_eq!(state.job_status(&state.jobs["default/web"]), "running", "a2 still runs");

        let stop = AllocStop { id: "a2".into(), description: "node down".into(), lost: true };
        state.apply_plan(8, Vec::new(), vec![stop], Vec::new());
        state.update_from_client(9, "n2", vec![update("a2", "complete")], Vec::new());
        assert_eq!(state.allocs["a2"].client_status, "lost", "the servers' word stands");
        assert_eq!(state.job_status(&state.jobs["default/web"]), "dead", "all finished, nothing waiting");
        state.upsert_evals(10, vec![eval("e2", "web")]);
        assert_eq!(state.job_status(&state.jobs["default/web"]), "pending", "an evaluation may place more");
    }

    #[test]
    fn a_new_version_updates_unchanged_groups_in_place_and_leaves_changed_ones_to_be_replaced() {
        let mut state = Scheduling::default();
        state.register_job(5, job("web"), eval("e1", "web"));
        let running = |id: &str| Allocation { job_version: 0, task_group: "g".into(), ..alloc(id) };
        state.apply_plan(6, vec![running("a1")], Vec::new(), Vec::new());
        let mut grown = job("web");
        grown.task_groups[0].count = Some(3);
        let (_, changed) = state.register_job(7, grown.clone(), eval("e2", "web"));
        assert!(matches!(&changed, Changed::Some(records) if records.contains(&Record::Alloc("a1".into()))));
        assert_eq!(
            (state.allocs["a1"].job_version, state.allocs["a1"].modify_index),
            (1, 7),
            "a count change is in place"
        );

        let mut changed_task = grown;
        changed_task.task_groups[0].tasks =
            vec![keel_api::job::Task { name: "t".into(), driver: "raw_exec".into(), ..Default::default() }];
        state.register_job(8, changed_task, eval("e3", "web"));
        assert_eq!(state.allocs["a1"].job_version, 1, "a changed group keeps its version, to be replaced");
        assert_eq!(state.jobs["default/web"].version, 2);
    }
}
