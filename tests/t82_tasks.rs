//! Tasks run by client agents, with real `keel` processes and the real
//! processes their `raw_exec` tasks start, found in `/proc` by the
//! environment every task gets (`NOMAD_JOB_ID`, `NOMAD_ALLOC_ID`): a batch
//! job completes with its exit code and its log readable; a service job's
//! tasks run until the job stops, and none is left after (a task that
//! ignores its kill signal is killed once its `kill_timeout` passes); a
//! task that keeps failing restarts as its group's policy says, then
//! fails; a client killed and started again runs its tasks again and
//! leaves nothing of what was stopped meanwhile.

use std::time::{Duration, Instant};

use keel_tests::{Agent, processes_with_env};
use serde_json::{Value, json};

/// How long placing and running may take.
const WITHIN: Duration = Duration::from_secs(90);

fn until(what: &str, done: impl FnMut() -> Option<Value>) -> Value {
    keel_tests::poll_until(what, WITHIN, done)
}

/// A job of one group and one `raw_exec` task running `/bin/sh -c script`.
fn job(id: &str, job_type: &str, count: u32, script: &str, group: Value) -> Value {
    let mut group_fields = json!({
        "Name": "g", "Count": count,
        "Tasks": [{"Name": "t", "Driver": "raw_exec",
            "Config": {"command": "/bin/sh", "args": ["-c", script]},
            "Resources": {"CPU": 50, "MemoryMB": 32}, "KillTimeout": 1_000_000_000_u64}]
    });
    if let (Some(fields), Some(extra)) = (group_fields.as_object_mut(), group.as_object()) {
        fields.extend(extra.clone());
    }
    json!({"Job": {"ID": id, "Type": job_type, "TaskGroups": [group_fields]}})
}

fn submit(agent: &Agent, body: &Value) {
    let reply = agent.request("PUT", "/v1/jobs", &[], body.to_string().as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.text());
}

fn allocs(agent: &Agent, job: &str) -> Vec<Value> {
    agent.get(&format!("/v1/job/{job}/allocations")).json().as_array().cloned().unwrap_or_default()
}

/// Waits until the job's allocations satisfy `done`, and answers them.
fn allocs_until(agent: &Agent, job: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let found = until(what, || {
        let allocs = allocs(agent, job);
        done(&allocs).then_some(Value::Array(allocs))
    });
    found.as_array().cloned().unwrap_or_default()
}

fn with_status(allocs: &[Value], status: &str) -> usize {
    allocs.iter().filter(|alloc| alloc["ClientStatus"] == status).count()
}

fn event_types(alloc: &Value) -> Vec<String> {
    let events = alloc["TaskStates"]["t"]["Events"].as_array().cloned().unwrap_or_default();
    events.iter().map(|event| event["Type"].as_str().unwrap_or("").to_owned()).collect()
}

/// The full allocation, as `/v1/allocation/:id` answers it.
fn alloc(agent: &Agent, id: &Value) -> Value {
    agent.get(&format!("/v1/allocation/{}", id.as_str().expect("an id"))).json()
}

fn until_no_processes(entry: &str) {
    until(&format!("no process with {entry}"), || processes_with_env(entry).is_empty().then_some(Value::Null));
}

#[test]
fn a_batch_job_completes_with_its_exit_code_its_file_and_its_log() {
    let agent = Agent::start_dev("127.0.0.30", &[]);
    let script = "echo written > \"$NOMAD_TASK_DIR/out.txt\"; echo to stdout; echo to stderr >&2; exit 0";
    submit(&agent, &job("once", "batch", 1, script, json!({})));
    let done = allocs_until(&agent, "once", "the allocation completes", |allocs| with_status(allocs, "complete") == 1);
    let alloc = alloc(&agent, &done[0]["ID"]);
    let task = &alloc["TaskStates"]["t"];
    assert_eq!((task["State"].as_str(), task["Failed"].as_bool()), (Some("dead"), Some(false)), "{task}");
    assert_eq!(event_types(&alloc), ["Received", "Task Setup", "Started", "Terminated"]);
    let terminated = &task["Events"][3];
    assert_eq!(
        (terminated["ExitCode"].as_i64(), terminated["DisplayMessage"].as_str()),
        (Some(0), Some("Exit Code: 0"))
    );
    assert!(task["StartedAt"].is_string() && task["FinishedAt"].is_string(), "{task}");

    let id = alloc["ID"].as_str().expect("an id");
    let written = agent.data_dir().join("alloc").join(id).join("t/local/out.txt");
    assert_eq!(std::fs::read_to_string(&written).expect("the task wrote its file"), "written\n");
    let log = |kind: &str| agent.get(&format!("/v1/client/fs/logs/{id}?task=t&type={kind}&plain=true"));
    assert_eq!((log("stdout").status, log("stdout").text().as_str()), (200, "to stdout\n"));
    assert_eq!(log("stderr").text(), "to stderr\n");
    assert_eq!(agent.get(&format!("/v1/client/fs/logs/{id}?task=nope&type=stdout")).status, 400);
    assert_eq!(agent.get("/v1/client/fs/logs/nope?task=t&type=stdout").status, 404);

    until("the job is dead", || (agent.get("/v1/job/once").json()["Status"] == "dead").then_some(Value::Null));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(allocs(&agent, "once").len(), 1, "a completed batch allocation is not placed again");
}

#[test]
fn a_service_job_runs_until_stopped_and_leaves_no_process() {
    let agent = Agent::start_dev("127.0.0.58", &[]);
    submit(&agent, &job("web", "service", 3, "exec sleep 600", json!({})));
    // A task that ignores its kill signal: killed when its timeout passes.
    submit(&agent, &job("stubborn", "service", 1, "trap '' INT; sleep 600", json!({})));
    let running = allocs_until(&agent, "web", "three allocations run", |allocs| with_status(allocs, "running") == 3);
    allocs_until(&agent, "stubborn", "the stubborn task runs", |allocs| with_status(allocs, "running") == 1);
    for alloc in &running {
        assert_eq!(alloc["TaskStates"]["t"]["State"], "running", "{alloc}");
        let entry = format!("NOMAD_ALLOC_ID={}", alloc["ID"].as_str().unwrap_or(""));
        assert_eq!(processes_with_env(&entry).len(), 1, "one process per allocation");
    }

    for job in ["web", "stubborn"] {
        assert_eq!(agent.delete(&format!("/v1/job/{job}")).status, 200);
    }
    let stopped = allocs_until(&agent, "web", "the allocations complete", |a| with_status(a, "complete") == 3);
    until_no_processes("NOMAD_JOB_ID=web");
    assert!(event_types(&alloc(&agent, &stopped[0]["ID"])).ends_with(&[
        "Killing".into(),
        "Terminated".into(),
        "Killed".into()
    ]));
    let stubborn = allocs_until(&agent, "stubborn", "the stubborn task is killed", |a| with_status(a, "complete") == 1);
    until_no_processes("NOMAD_JOB_ID=stubborn");
    let events = alloc(&agent, &stubborn[0]["ID"])["TaskStates"]["t"]["Events"].clone();
    let terminated = events.as_array().into_iter().flatten().find(|event| event["Type"] == "Terminated");
    assert_eq!(terminated.map(|event| event["Signal"].as_i64()), Some(Some(9)), "killed after its timeout: {events}");
}

#[test]
fn a_failing_task_restarts_as_its_policy_says_then_fails_and_is_replaced() {
    let agent = Agent::start_dev("127.0.0.59", &[]);
    let policy =
        json!({"RestartPolicy": {"Attempts": 2, "Interval": 60_000_000_000_u64, "Delay": 200_000_000, "Mode": "fail"}});
    submit(&agent, &job("flaky", "service", 1, "echo try; exit 3", policy));
    let failed = allocs_until(&agent, "flaky", "the allocation fails", |allocs| with_status(allocs, "failed") >= 1);
    let first = failed.iter().find(|alloc| alloc["ClientStatus"] == "failed").expect("a failed allocation");
    let first = alloc(&agent, &first["ID"]);
    let task = &first["TaskStates"]["t"];
    assert_eq!((task["Restarts"].as_u64(), task["Failed"].as_bool()), (Some(2), Some(true)), "{task}");
    let types = event_types(&first);
    assert_eq!(types.iter().filter(|t| *t == "Started").count(), 3, "{types:?}");
    assert_eq!(types.iter().filter(|t| *t == "Restarting").count(), 2, "{types:?}");
    let last = task["Events"].as_array().and_then(|events| events.last()).cloned().unwrap_or_default();
    assert_eq!(last["Type"], "Not Restarting");
    assert_eq!(last["DisplayMessage"], "Exceeded allowed attempts 2 in interval 1m0s and mode is \"fail\"");
    let id = first["ID"].as_str().expect("an id");
    let log = agent.get(&format!("/v1/client/fs/logs/{id}?task=t&type=stdout&plain=true")).text();
    assert_eq!(log, "try\ntry\ntry\n", "every run appends to the log");

    // A service's failed allocation is replaced, under the same name.
    let replaced = allocs_until(&agent, "flaky", "a replacement", |allocs| allocs.len() >= 2);
    assert!(replaced.iter().all(|alloc| alloc["Name"] == "flaky.g[0]"), "{replaced:?}");
    assert_eq!(agent.delete("/v1/job/flaky").status, 200);

    // A batch allocation that fails is placed again once, then left failed.
    let never = json!({"RestartPolicy": {"Attempts": 0, "Mode": "fail"}});
    submit(&agent, &job("doomed", "batch", 1, "exit 1", never));
    allocs_until(&agent, "doomed", "two failures", |allocs| with_status(allocs, "failed") == 2);
    until("the batch job is dead", || (agent.get("/v1/job/doomed").json()["Status"] == "dead").then_some(Value::Null));
    assert_eq!(allocs(&agent, "doomed").len(), 2, "no third try");
}

#[test]
fn a_restarted_client_runs_its_tasks_again_and_nothing_stopped_meanwhile() {
    let server = Agent::start("127.0.0.47", vec!["--server".into(), "--bootstrap-expect".into(), "1".into()]);
    let client = Agent::start_client("127.0.0.48", "127.0.0.47", "", &[]);
    submit(&server, &job("keeper", "service", 1, "echo started; exec sleep 600", json!({})));
    submit(&server, &job("leaver", "service", 1, "exec sleep 600", json!({})));
    for job in ["keeper", "leaver"] {
        allocs_until(&server, job, "the task runs", |allocs| with_status(allocs, "running") == 1);
    }
    let before = processes_with_env("NOMAD_JOB_ID=keeper");
    assert_eq!(before.len(), 1);
    // Logs asked of the server come from the client that runs the task.
    let keeper = allocs(&server, "keeper")[0]["ID"].as_str().expect("an id").to_owned();
    let logs = server.get(&format!("/v1/client/fs/logs/{keeper}?task=t&type=stdout&plain=true"));
    assert_eq!((logs.status, logs.text().as_str()), (200, "started\n"));

    let away = client.halt(libc::SIGKILL);
    until_no_processes("NOMAD_JOB_ID=keeper");
    until_no_processes("NOMAD_JOB_ID=leaver");
    assert_eq!(server.delete("/v1/job/leaver").status, 200, "stopped while its client is away");
    let _client = away.restart();

    let keeper_runs = |allocs: &[Value]| allocs.iter().any(|alloc| alloc["ClientStatus"] == "running");
    allocs_until(&server, "keeper", "the keeper runs again", keeper_runs);
    until("the keeper's task runs again", || {
        (processes_with_env("NOMAD_JOB_ID=keeper").len() == 1).then_some(Value::Null)
    });
    assert_ne!(processes_with_env("NOMAD_JOB_ID=keeper"), before, "a new process");
    allocs_until(&server, "leaver", "the leaver is complete", |allocs| with_status(allocs, "complete") == 1);
    std::thread::sleep(Duration::from_secs(2));
    assert!(processes_with_env("NOMAD_JOB_ID=leaver").is_empty(), "the stopped job did not start again");
}

#[test]
fn the_cli_runs_a_job_shows_it_and_its_allocation_reads_its_log_and_stops_it() {
    let agent = Agent::start_dev("127.0.0.80", &[]);
    let keel = |args: &[&str]| {
        let output = keel_tests::keel(&[args, &["--address", &agent.http]].concat());
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "keel {args:?}: {stdout}{stderr}");
        stdout.into_owned()
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("hello.json");
    let spec = job("hello", "service", 1, "echo hello from the task; exec sleep 600", json!({}));
    std::fs::write(&file, spec["Job"].to_string()).expect("the job file");

    let planned = keel(&["job", "plan", file.to_str().expect("utf-8")]);
    assert!(planned.contains("Task Group: \"g\" (1 create)"), "{planned}");
    assert!(planned.contains("All tasks successfully allocated."), "{planned}");
    assert_eq!(agent.get("/v1/job/hello").status, 404, "a plan writes nothing");
    let huge = job("huge", "service", 1, "exit 0", json!({}));
    let huge = huge.to_string().replace("\"MemoryMB\":32", "\"MemoryMB\":100000000");
    let refused = agent.request("POST", "/v1/job/huge/plan", &[], huge.as_bytes()).json();
    assert!(refused["FailedTGAllocs"]["g"]["DimensionExhausted"]["memory"].as_u64().is_some(), "{refused}");
    assert_eq!(refused["Annotations"]["DesiredTGUpdates"]["g"]["Place"], 0, "{refused}");
    assert_eq!(agent.get("/v1/evaluations").json().as_array().map(Vec::len), Some(0), "and no evaluation");

    let ran = keel(&["job", "run", file.to_str().expect("utf-8")]);
    assert!(ran.contains("==> Monitoring evaluation"), "{ran}");
    assert!(ran.contains("Allocation \"") && ran.contains("group \"g\""), "{ran}");
    assert!(ran.contains("finished with status \"complete\""), "{ran}");
    allocs_until(&agent, "hello", "the task runs", |allocs| with_status(allocs, "running") == 1);
    let status = keel(&["job", "status", "hello"]);
    assert!(status.contains("Status       = running") || status.contains("= running"), "{status}");
    assert!(status.contains("Summary") && status.contains("Allocations"), "{status}");
    assert!(keel(&["job", "status"]).contains("hello"), "the list names the job");

    let id = allocs(&agent, "hello")[0]["ID"].as_str().expect("an id").to_owned();
    let shown = keel(&["alloc", "status", &id[..8]]);
    assert!(shown.contains(&format!("ID                  = {id}")), "{shown}");
    assert!(shown.contains("Task \"t\" is \"running\"") && shown.contains("Started"), "{shown}");
    assert_eq!(keel(&["alloc", "logs", &id[..8]]), "hello from the task\n");

    let stopped = keel(&["job", "stop", "hello"]);
    assert!(stopped.contains("finished with status \"complete\""), "{stopped}");
    until_no_processes("NOMAD_JOB_ID=hello");
    let unknown = keel_tests::keel(&["alloc", "status", "ffffffff", "--address", &agent.http]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no allocation with an ID starting with"));

    // The README's commands, verbatim, over its web.json.
    let web = keel_tests::readme_blocks("### Running jobs", "json").remove(0).join("\n");
    std::fs::write(dir.path().join("web.json"), web).expect("web.json");
    let bin = keel_tests::keel_binary().parent().expect("the binary's directory").to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    for line in keel_tests::readme_blocks("### Running jobs", "sh").remove(0) {
        let output = std::process::Command::new("sh")
            .args(["-c", &line])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("KEEL_ADDR", &agent.http)
            .output()
            .expect("sh runs");
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "{line}: {stdout}{stderr}");
    }
    assert_eq!(agent.get("/v1/job/web").json()["Status"], "dead", "the README's last command stopped it");
}

#[test]
fn draining_a_node_migrates_its_allocations_and_stops_their_processes() {
    let server = Agent::start("127.0.0.104", vec!["--server".into(), "--bootstrap-expect".into(), "1".into()]);
    let (_a, _b) = (
        Agent::start_client("127.0.0.105", "127.0.0.104", "", &[]),
        Agent::start_client("127.0.0.110", "127.0.0.104", "", &[]),
    );
    until("both clients are ready", || {
        let nodes = server.get("/v1/nodes").json();
        nodes.as_array().is_some_and(|n| n.len() == 2 && n.iter().all(|n| n["Status"] == "ready")).then_some(nodes)
    });
    let spread = json!({"SchedulerAlgorithm": "spread"});
    assert_eq!(server.put("/v1/operator/scheduler/configuration", spread.to_string()).status, 200);
    submit(&server, &job("movers", "service", 2, "exec sleep 600", json!({})));
    let running = allocs_until(&server, "movers", "both run", |allocs| with_status(allocs, "running") == 2);
    let drained = running[0]["NodeID"].as_str().expect("a node").to_owned();
    let kept = running.iter().find(|a| a["NodeID"] != drained.as_str()).expect("spread over both")["NodeID"].clone();
    let moved = running[0]["ID"].as_str().expect("an id").to_owned();

    let output = keel_tests::keel(&["node", "drain", "--enable", &drained[..8], "--address", &server.http]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let after = allocs_until(&server, "movers", "the allocation moves", |allocs| {
        let running: Vec<&Value> = allocs.iter().filter(|a| a["ClientStatus"] == "running").collect();
        running.len() == 2 && running.iter().all(|a| a["NodeID"] == kept)
    });
    let old = after.iter().find(|a| a["ID"] == moved.as_str()).expect("the old allocation is listed");
    assert_eq!(
        (old["DesiredStatus"].as_str(), old["DesiredDescription"].as_str()),
        (Some("stop"), Some("alloc is being migrated"))
    );
    until_no_processes(&format!("NOMAD_ALLOC_ID={moved}"));
    let node = until("the drain completes", || {
        let node = server.get(&format!("/v1/node/{drained}")).json();
        (node["Drain"] == false).then_some(node)
    });
    assert_eq!(node["SchedulingEligibility"], "ineligible", "a drained node takes no new work");
    let left = server.get(&format!("/v1/node/{drained}/allocations")).json();
    let left = left.as_array().cloned().unwrap_or_default();
    assert!(!left.is_empty() && left.iter().all(|a| a["DesiredStatus"] == "stop"), "{left:?}");
    let elsewhere = server.get(&format!("/v1/node/{}/allocations", kept.as_str().unwrap_or(""))).json();
    assert_eq!(with_status(elsewhere.as_array().map(Vec::as_slice).unwrap_or_default(), "running"), 2);
    let other = server.get(&format!("/v1/node/{drained}/allocations?namespace=prod")).json();
    assert_eq!(other, json!([]), "only the request's namespace");
    let unknown = server.request("POST", "/v1/node/nope/drain", &[], br#"{"DrainSpec": {"Deadline": 0}}"#);
    assert_eq!(unknown.status, 404);
    let mismatch = server.request("POST", &format!("/v1/node/{drained}/drain"), &[], br#"{"NodeID": "other"}"#);
    assert_eq!(mismatch.status, 400);
}

#[test]
fn a_blocking_read_waits_for_a_change_past_its_index_or_for_its_wait() {
    let agent = Agent::start_dev("127.0.0.70", &[]);
    submit(&agent, &job("watched", "service", 1, "exec sleep 600", json!({})));
    let index_of = |reply: &keel_tests::Reply| reply.header("X-Nomad-Index").and_then(|i| i.parse::<u64>().ok());
    let first = agent.get("/v1/job/watched");
    let index = index_of(&first).expect("an index");

    std::thread::scope(|scope| {
        let blocked = scope.spawn(|| {
            let started = Instant::now();
            let reply = agent.get(&format!("/v1/job/watched?index={index}&wait=60s"));
            (reply, started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(800));
        // The placement's writes wake the read, which reads again and
        // goes on waiting: only the job's own change answers it.
        submit(&agent, &job("watched", "service", 2, "exec sleep 600", json!({})));
        let (reply, took) = blocked.join().expect("the blocked read");
        assert_eq!(reply.status, 200);
        assert!(index_of(&reply).expect("an index") > index, "answered past its index");
        assert_eq!(reply.json()["TaskGroups"][0]["Count"], 2, "with the change");
        assert!(
            took >= Duration::from_millis(700) && took < Duration::from_secs(30),
            "blocked until the change: {took:?}"
        );
    });

    let now = index_of(&agent.get("/v1/job/watched")).expect("an index");
    let started = Instant::now();
    let unchanged = agent.get(&format!("/v1/job/watched?index={now}&wait=1s"));
    let took = started.elapsed();
    assert_eq!((unchanged.status, index_of(&unchanged)), (200, Some(now)), "the wait ends with the same answer");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(10), "{took:?}");
    let nodes = agent.get("/v1/nodes");
    let nodes_index = index_of(&nodes).expect("an index");
    assert_eq!(index_of(&agent.get(&format!("/v1/nodes?index={}&wait=50ms", nodes_index - 1))), Some(nodes_index));
    assert_eq!(agent.get("/v1/allocations?index=soon").text(), "Invalid index");
}

#[test]
fn a_changed_group_is_replaced_and_a_count_change_keeps_what_runs() {
    let agent = Agent::start_dev("127.0.0.100", &[]);
    submit(&agent, &job("versions", "service", 1, "echo one; exec sleep 600", json!({})));
    let first = allocs_until(&agent, "versions", "the first runs", |allocs| with_status(allocs, "running") == 1);
    let kept = first[0]["ID"].clone();

    submit(&agent, &job("versions", "service", 2, "echo one; exec sleep 600", json!({})));
    let grown = allocs_until(&agent, "versions", "two run", |allocs| with_status(allocs, "running") == 2);
    let same = grown.iter().find(|alloc| alloc["ID"] == kept).expect("the first allocation stays");
    assert_eq!(
        (same["ClientStatus"].as_str(), same["JobVersion"].as_u64()),
        (Some("running"), Some(1)),
        "updated in place"
    );

    submit(&agent, &job("versions", "service", 2, "echo two; exec sleep 600", json!({})));
    let replaced = allocs_until(&agent, "versions", "the new version runs", |allocs| {
        let running: Vec<&Value> = allocs.iter().filter(|a| a["ClientStatus"] == "running").collect();
        running.len() == 2 && running.iter().all(|a| a["JobVersion"] == 2)
    });
    for old in replaced.iter().filter(|alloc| alloc["JobVersion"] != 2) {
        assert_eq!(old["DesiredDescription"], "alloc is being updated due to job update", "{old}");
        until_no_processes(&format!("NOMAD_ALLOC_ID={}", old["ID"].as_str().unwrap_or("")));
    }
    for new in replaced.iter().filter(|alloc| alloc["JobVersion"] == 2) {
        let id = new["ID"].as_str().expect("an id");
        let log = || agent.get(&format!("/v1/client/fs/logs/{id}?task=t&type=stdout&plain=true")).text();
        until("the new task logs", || (log() == "two\n").then_some(Value::Null));
    }
}

#[test]
fn a_blocking_read_sent_to_a_follower_waits_at_the_leader_beyond_the_hold() {
    let cluster = keel_tests::cluster::Cluster::start(&["127.0.0.114", "127.0.0.115", "127.0.0.119"]);
    let (leader, follower) = (cluster.agent(cluster.leader()), cluster.agent(cluster.followers()[0]));
    submit(leader, &job("relayed", "service", 1, "exec sleep 600", json!({})));
    let first = follower.get("/v1/job/relayed");
    let index: u64 = first.header("X-Nomad-Index").and_then(|i| i.parse().ok()).expect("an index");
    std::thread::scope(|scope| {
        let blocked = scope.spawn(|| {
            let started = Instant::now();
            (follower.get(&format!("/v1/job/relayed?index={index}&wait=30s")), started.elapsed())
        });
        // Longer than the 5 s a relayed request is held for a leader.
        std::thread::sleep(Duration::from_secs(7));
        submit(leader, &job("relayed", "service", 2, "exec sleep 600", json!({})));
        let (reply, took) = blocked.join().expect("the blocked read");
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["TaskGroups"][0]["Count"], 2);
        assert!(took >= Duration::from_secs(6), "it waited: {took:?}");
    });
}
