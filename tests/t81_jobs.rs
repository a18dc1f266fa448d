//! Jobs placed by the scheduler plugin, with real `keel` processes: Nomad's
//! job API takes python-nomad's and the Go client's JSON as is; the leader
//! evaluates each job, asks the scheduler plugin for placements under the
//! scheduler configuration and commits the plan; what fits nowhere leaves a
//! blocked evaluation with the plugin's reasons until capacity appears; a
//! killed client's allocations are lost and placed again elsewhere; a
//! system job runs on every node that can take it; a custom scheduler
//! plugin changes where work lands. How the tasks run is
//! `t82_tasks`.

use std::time::Duration;

use keel_tests::{Agent, Reply};
use serde_json::{Value, json};

/// How long scheduling, or a killed client's TTL and grace, may take.
const WITHIN: Duration = Duration::from_secs(90);

fn until(what: &str, done: impl FnMut() -> Option<Value>) -> Value {
    keel_tests::poll_until(what, WITHIN, done)
}

/// A job as python-nomad posts it: Nomad's field names, `null`s where Go
/// would write them, and fields Keel does not act on.
fn job(id: &str, count: u32, cpu: u64, memory_mb: u64) -> Value {
    json!({
        "Job": {
            "ID": id, "Name": id, "Type": "service", "Datacenters": ["dc1"], "Priority": null,
            "Update": {"MaxParallel": 1}, "Meta": null, "Constraints": null,
            "TaskGroups": [{
                "Name": "web", "Count": count, "Constraints": null, "Networks": null,
                "Tasks": [{"Name": "server", "Driver": "raw_exec", "Config": {"command": "/bin/sleep", "args": ["600"]},
                    "Resources": {"CPU": cpu, "MemoryMB": memory_mb}, "Services": null}]
            }]
        }
    })
}

fn submit(agent: &Agent, body: &Value) -> Reply {
    agent.request("POST", "/v1/jobs", &[], body.to_string().as_bytes())
}

/// The evaluation's final state once it is no longer pending.
fn settled(agent: &Agent, eval_id: &str) -> Value {
    until("the evaluation settles", || {
        let eval = agent.get(&format!("/v1/evaluation/{eval_id}")).json();
        (eval["Status"] != "pending").then_some(eval)
    })
}

/// The live allocations of a job, by node id.
fn placements(agent: &Agent, id: &str) -> Vec<String> {
    let allocs = agent.get(&format!("/v1/job/{id}/allocations")).json();
    let live = allocs.as_array().into_iter().flatten().filter(|alloc| {
        alloc["DesiredStatus"] == "run"
            && !["lost", "complete", "failed"].contains(&alloc["ClientStatus"].as_str().unwrap_or(""))
    });
    let mut nodes: Vec<String> = live.map(|alloc| alloc["NodeID"].as_str().unwrap_or("").to_owned()).collect();
    nodes.sort();
    nodes
}

fn memory_of(agent: &Agent, node_id: &str) -> u64 {
    agent.get(&format!("/v1/node/{node_id}")).json()["NodeResources"]["Memory"]["MemoryMB"].as_u64().expect("memory")
}

#[test]
fn a_dev_agent_places_a_service_job_and_stops_it() {
    let agent = Agent::start_dev("127.0.0.29", &[]);
    let node = until("the node is ready", || {
        let nodes = agent.get("/v1/nodes").json();
        (nodes[0]["Status"] == "ready").then(|| nodes[0]["ID"].clone())
    });

    // The README's example job, verbatim.
    let readme = keel_tests::readme_blocks("### Running jobs", "json").remove(0).join("\n");
    let readme: Value = serde_json::from_str(&readme).expect("the README's job is JSON");
    let reply = agent.request("PUT", "/v1/jobs", &[], readme.to_string().as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.text());
    settled(&agent, reply.json()["EvalID"].as_str().expect("an eval"));
    assert_eq!(placements(&agent, "web").len(), 3, "the README's count");
    let purged = agent.delete("/v1/job/web?purge=true").json();
    settled(&agent, purged["EvalID"].as_str().expect("an eval"));
    assert!(placements(&agent, "web").is_empty());

    let reply = submit(&agent, &job("web", 3, 100, 64));
    assert_eq!(reply.status, 200, "{}", reply.text());
    let answer = reply.json();
    let index = answer["Index"].as_u64().expect("an index");
    assert_eq!(reply.header("X-Nomad-Index"), Some(index.to_string().as_str()));
    assert_eq!((answer["EvalCreateIndex"].as_u64(), answer["JobModifyIndex"].as_u64()), (Some(index), Some(index)));
    let eval = settled(&agent, answer["EvalID"].as_str().expect("an eval"));
    assert_eq!((eval["Status"].as_str(), eval["TriggeredBy"].as_str()), (Some("complete"), Some("job-register")));
    assert_eq!(placements(&agent, "web"), vec![node.as_str().unwrap_or("").to_owned(); 3]);

    let stored = agent.get("/v1/job/web").json();
    assert_eq!(
        (stored["Namespace"].as_str(), stored["Region"].as_str(), stored["Priority"].as_u64()),
        (Some("default"), Some("global"), Some(50))
    );
    assert_eq!(stored["Update"], json!({"MaxParallel": 1}), "fields Keel does not act on come back as sent");
    assert_eq!(stored["Status"], "running");
    let stubs = agent.get("/v1/jobs").json();
    let summary = &stubs[0]["JobSummary"]["Summary"]["web"];
    let (starting, running) = (summary["Starting"].as_u64(), summary["Running"].as_u64());
    assert_eq!(starting.unwrap_or(0) + running.unwrap_or(0), 3, "{summary}");
    let names: Vec<Value> = agent
        .get("/v1/job/web/allocations")
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .filter(|a| a["DesiredStatus"] == "run")
        .map(|a| a["Name"].clone())
        .collect();
    assert_eq!(names.len(), 3, "the README job's stopped allocations stay listed until collected");
    for index in 0..3 {
        assert!(names.contains(&json!(format!("web.web[{index}]"))), "{names:?}");
    }

    // Bad input: Nomad's statuses and messages, and nothing is written.
    let refused = [
        (json!({}), "Job must be specified"),
        (json!({"Job": {"TaskGroups": []}}), "Job ID hasn't been provided"),
        (json!([job("array", 1, 100, 64)]), "Error parsing job: json: cannot unmarshal array"),
        (json!({"Job": {"ID": "x", "TaskGroups": [{"Name": "g"}]}}), "Task group \"g\" has no tasks"),
    ];
    for (body, message) in refused {
        let reply = submit(&agent, &body);
        assert_eq!(reply.status, 400, "{body}: {}", reply.text());
        assert!(reply.text().starts_with(message), "{body}: {}", reply.text());
    }
    let mismatch = agent.request("POST", "/v1/job/other", &[], job("web", 1, 100, 64).to_string().as_bytes());
    assert_eq!((mismatch.status, mismatch.text().as_str()), (400, "Job ID does not match name"));
    assert_eq!(agent.get("/v1/jobs").json().as_array().map(Vec::len), Some(1));
    assert_eq!(agent.get("/v1/job/nope").status, 404);
    assert_eq!(agent.delete("/v1/job/nope").status, 404);

    // Stopping stops every allocation; the job is dead; purge forgets it.
    let stopped = agent.delete("/v1/job/web").json();
    settled(&agent, stopped["EvalID"].as_str().expect("an eval"));
    assert!(placements(&agent, "web").is_empty());
    assert_eq!(agent.get("/v1/job/web").json()["Status"], "dead");
    assert_eq!(agent.delete("/v1/job/web?purge=true").status, 200);
    assert_eq!(agent.get("/v1/job/web").status, 404);
}

/// Waits until the server has `count` nodes, all ready, and returns their ids.
fn ready_nodes(server: &Agent, count: usize) -> Vec<String> {
    let nodes = until("the clients are ready", || {
        let nodes = server.get("/v1/nodes").json();
        let ready = nodes.as_array().is_some_and(|n| n.len() == count && n.iter().all(|n| n["Status"] == "ready"));
        ready.then_some(nodes)
    });
    nodes.as_array().expect("nodes").iter().map(|n| n["ID"].as_str().unwrap_or("").to_owned()).collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[test]
fn three_clients_spread_binpack_block_until_a_bigger_node_joins_and_replace_a_killed_clients_work() {
    let server = Agent::start("127.0.0.93", vec!["--server".into(), "--bootstrap-expect".into(), "1".into()]);
    let client = |bind: &str, config: &str| Agent::start_client(bind, "127.0.0.93", config, &[]);
    let (first, second, third) = (client("127.0.0.94", ""), client("127.0.0.98", ""), client("127.0.0.124", ""));
    let ids = ready_nodes(&server, 3);
    let memory = ids.iter().map(|id| memory_of(&server, id)).min().expect("three nodes");

    // Spread: one allocation on each node.
    let set = |algorithm: &str| {
        let config = json!({"SchedulerAlgorithm": algorithm, "PreemptionConfig": {"SystemSchedulerEnabled": true}});
        assert_eq!(server.put("/v1/operator/scheduler/configuration", config.to_string()).status, 200);
    };
    set("spread");
    settled(&server, submit(&server, &job("spread", 3, 100, 64)).json()["EvalID"].as_str().expect("eval"));
    assert_eq!(placements(&server, "spread"), sorted(ids.clone()));

    // With one node fuller, binpack puts the next allocation on it and
    // spread on the emptier one. Of three nodes an allocation scores only
    // two (Nomad's limit, ceil(log2 3)), so these jobs are kept off the
    // third to make the two candidates certain.
    let pinned = |id: &str, memory_mb: u64, operand: &str, node: &str| {
        let mut job = job(id, 1, 100, memory_mb);
        job["Job"]["TaskGroups"][0]["Constraints"] =
            json!([{"LTarget": "${node.unique.id}", "RTarget": node, "Operand": operand}]);
        settled(&server, submit(&server, &job).json()["EvalID"].as_str().expect("eval"));
        placements(&server, id)
    };
    set("binpack");
    assert_eq!(pinned("heavy", memory / 2, "=", &ids[0]), vec![ids[0].clone()]);
    assert_eq!(pinned("packed", 64, "!=", &ids[2]), vec![ids[0].clone()], "binpack: the fuller node");
    set("spread");
    assert_eq!(pinned("spread-one", 64, "!=", &ids[2]), vec![ids[1].clone()], "spread: the emptier node");

    // More memory than any node has is blocked, with the plugin's reasons.
    let eval = settled(
        &server,
        submit(&server, &job("too-big", 1, 100, memory + 1024)).json()["EvalID"].as_str().expect("eval"),
    );
    assert_eq!(eval["Status"], "complete");
    let metric = &eval["FailedTGAllocs"]["web"];
    assert_eq!(metric["NodesEvaluated"], 3, "{eval}");
    assert_eq!(metric["NodesExhausted"], 3, "{eval}");
    assert_eq!(metric["DimensionExhausted"]["memory"], 3, "{eval}");
    let blocked_id = eval["BlockedEval"].as_str().expect("a blocked evaluation").to_owned();
    assert_eq!(server.get(&format!("/v1/evaluation/{blocked_id}")).json()["Status"], "blocked");
    assert!(placements(&server, "too-big").is_empty());
    assert_eq!(server.get("/v1/jobs?prefix=too").json()[0]["JobSummary"]["Summary"]["web"]["Queued"], 1);
    // A bigger node joins; the blocked evaluation places it there.
    let big = client("127.0.0.125", &format!("client {{\n  memory_total_mb = {}\n}}", memory * 2));
    let big_id = node_of(&server, "127.0.0.125");
    assert_eq!(memory_of(&server, &big_id), memory * 2, "the configured memory, not the machine's");
    until("the blocked evaluation places its allocation", || {
        let eval = server.get(&format!("/v1/evaluation/{blocked_id}")).json();
        (eval["Status"] == "complete").then_some(eval)
    });
    assert_eq!(placements(&server, "too-big"), vec![big_id]);

    // A killed client: its node goes down, its allocations are lost and
    // placed again on the others.
    let killed = node_of(&server, "127.0.0.98");
    assert!(placements(&server, "spread").contains(&killed));
    let _stopped = second.halt(libc::SIGKILL);
    until("the spread allocation is placed again on a live node", || {
        let allocs = server.get("/v1/job/spread/allocations").json();
        let lost = allocs
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["ClientStatus"] == "lost" && a["NodeID"] == killed.as_str());
        let live = placements(&server, "spread");
        (lost && live.len() == 3 && live.iter().all(|id| *id != killed)).then(|| json!(live))
    });
    drop((first, third, big));
}

#[test]
fn a_system_job_runs_once_on_every_node_that_can_take_it_and_follows_new_nodes() {
    let server = Agent::start("127.0.0.129", vec!["--server".into(), "--bootstrap-expect".into(), "1".into()]);
    let client = |bind: &str| Agent::start_client(bind, "127.0.0.129", "", &[]);
    let (_a, _b) = (client("127.0.0.130"), client("127.0.0.134"));
    let ids = ready_nodes(&server, 2);
    let mut system = job("sys", 1, 100, 64);
    system["Job"]["Type"] = json!("system");
    system["Job"]["TaskGroups"][0]["Count"] = Value::Null;
    let eval = settled(&server, submit(&server, &system).json()["EvalID"].as_str().expect("eval"));
    assert_eq!(eval["Status"], "complete", "{eval}");
    assert_eq!(placements(&server, "sys"), sorted(ids.clone()), "one on each node");
    let names: Vec<Value> = server
        .get("/v1/job/sys/allocations")
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|a| a["Name"].clone())
        .collect();
    assert_eq!(names, [json!("sys.web[0]"), json!("sys.web[0]")], "Nomad names them all [0]");

    // A node its constraint rules out gets none, and that is no failure.
    let mut picky = system.clone();
    picky["Job"]["ID"] = json!("picky");
    picky["Job"]["TaskGroups"][0]["Constraints"] =
        json!([{"LTarget": "${node.unique.id}", "RTarget": ids[0], "Operand": "!="}]);
    let eval = settled(&server, submit(&server, &picky).json()["EvalID"].as_str().expect("eval"));
    let blocked = eval["BlockedEval"].as_str().filter(|id| !id.is_empty());
    assert_eq!((eval["Status"].as_str(), blocked), (Some("complete"), None), "{eval}");
    assert_eq!(placements(&server, "picky"), vec![ids[1].clone()]);

    // A node that joins later gets one of each without a new submission.
    let _c = client("127.0.0.135");
    let third = node_of(&server, "127.0.0.135");
    until("the new node runs both system jobs", || {
        let both = placements(&server, "sys").contains(&third) && placements(&server, "picky").contains(&third);
        both.then_some(json!(null))
    });
    assert_eq!(placements(&server, "sys").len(), 3);
    assert_eq!(placements(&server, "picky"), sorted(vec![ids[1].clone(), third.clone()]));

    // An ineligible node keeps what it runs and takes nothing new.
    let ineligible = json!({"Eligibility": "ineligible"}).to_string();
    let reply = server.request("POST", &format!("/v1/node/{third}/eligibility"), &[], ineligible.as_bytes());
    assert_eq!(reply.status, 200);
    let mut late = system.clone();
    late["Job"]["ID"] = json!("late");
    settled(&server, submit(&server, &late).json()["EvalID"].as_str().expect("eval"));
    assert_eq!(placements(&server, "late"), sorted(ids.clone()), "an ineligible node takes no new work");
    settled(&server, submit(&server, &picky).json()["EvalID"].as_str().expect("eval"));
    assert_eq!(placements(&server, "picky"), sorted(vec![ids[1].clone(), third]), "and keeps what it runs");

    let stopped = server.delete("/v1/job/sys").json();
    settled(&server, stopped["EvalID"].as_str().expect("an eval"));
    assert!(placements(&server, "sys").is_empty());
}

/// The id of the node whose HTTP address is on `ip`, once it is ready.
fn node_of(server: &Agent, ip: &str) -> String {
    let node = until("the node on that address is ready", || {
        let nodes = server.get("/v1/nodes").json();
        nodes.as_array().into_iter().flatten().find(|node| node["Address"] == ip && node["Status"] == "ready").cloned()
    });
    node["ID"].as_str().unwrap_or("").to_owned()
}

#[test]
fn a_custom_scheduler_plugin_changes_where_work_lands() {
    let fixture = keel_tests::fixture_path("v02-scheduler");
    let plugin = format!("scheduler={}", fixture.display());
    let server = Agent::start(
        "127.0.0.99",
        vec!["--server".into(), "--bootstrap-expect".into(), "1".into(), "--plugin".into(), plugin],
    );
    let client = |bind: &str, name: &str| Agent::start_client(bind, "127.0.0.99", "", &["--node", name]);
    let (_a, _z) = (client("127.0.0.77", "zzz-last"), client("127.0.0.78", "aaa-first"));
    until("both clients are ready", || {
        let nodes = server.get("/v1/nodes").json();
        nodes.as_array().is_some_and(|n| n.len() == 2 && n.iter().all(|n| n["Status"] == "ready")).then_some(nodes)
    });
    settled(&server, submit(&server, &job("smallest", 3, 100, 64)).json()["EvalID"].as_str().expect("eval"));
    let first = node_of(&server, "127.0.0.78");
    assert_eq!(
        placements(&server, "smallest"),
        vec![first.clone(), first.clone(), first],
        "every allocation on aaa-first"
    );
}

#[test]
fn a_faulting_scheduler_plugin_leaves_the_job_pending_with_a_reason_and_the_server_healthy() {
    let plugin = format!("scheduler={}", keel_tests::fixture_path("scheduler-panics").display());
    let agent = Agent::start_dev("127.0.0.50", &["--plugin", &plugin]);
    until("the node is ready", || (agent.get("/v1/nodes").json()[0]["Status"] == "ready").then_some(json!(null)));
    let eval = settled(&agent, submit(&agent, &job("doomed", 2, 100, 64)).json()["EvalID"].as_str().expect("eval"));
    assert_eq!(eval["Status"], "blocked", "{eval}");
    let reason = eval["StatusDescription"].as_str().unwrap_or_default();
    assert!(reason.starts_with("the scheduler plugin failed to place \"web\""), "{reason}");
    assert!(reason.contains("trap"), "the fault is named: {reason}");
    assert!(placements(&agent, "doomed").is_empty());
    assert_eq!(agent.get("/v1/job/doomed").json()["Status"], "pending");
    assert_eq!(agent.get("/v1/agent/health").status, 200, "the server stays healthy");
    assert_eq!(submit(&agent, &job("next", 1, 100, 64)).status, 200, "and keeps taking jobs");
}
