//! Client agents and their nodes, with real `keel` processes: a dev agent
//! registers its own node; client agents register with a server over its
//! RPC port and heartbeat; a client killed with SIGKILL becomes `down` once
//! its TTL and grace have passed, and is `ready` again, as the same node,
//! when it comes back on its data dir. Nomad's node API answers as Nomad's
//! does, bad input included.

use std::time::{Duration, Instant};

use keel_tests::{Agent, keel};
use serde_json::{Value, json};

/// How long a node may take to reach a status: a killed client's TTL (10 s)
/// and grace (10 s), plus a tracker tick, with room for a busy machine.
const STATUS_WITHIN: Duration = Duration::from_secs(90);

/// Waits until `GET /v1/nodes` on `agent` satisfies `done`, and returns it.
fn nodes_until(agent: &Agent, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + STATUS_WITHIN;
    loop {
        let reply = agent.get("/v1/nodes");
        if reply.status == 200 {
            let nodes = reply.json().as_array().cloned().unwrap_or_default();
            if done(&nodes) {
                return nodes;
            }
        }
        assert!(Instant::now() < deadline, "{what}: not within {STATUS_WITHIN:?}; last {}", reply.text());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn status_of<'a>(nodes: &'a [Value], id: &str) -> Option<&'a str> {
    nodes.iter().find(|node| node["ID"] == id).and_then(|node| node["Status"].as_str())
}

fn post(agent: &Agent, path: &str, body: &str) -> keel_tests::Reply {
    agent.request("POST", path, &[], body.as_bytes())
}

#[test]
fn a_dev_agent_registers_its_node_and_keeps_it_across_a_restart() {
    let agent = Agent::start_dev("127.0.0.28", &[]);
    let nodes =
        nodes_until(&agent, "the dev agent's node is ready", |nodes| nodes.len() == 1 && nodes[0]["Status"] == "ready");
    let stub = &nodes[0];
    let id = stub["ID"].as_str().expect("an ID").to_owned();
    assert_eq!(stub["Address"], "127.0.0.28");
    assert_eq!((stub["Datacenter"].as_str(), stub["NodePool"].as_str()), (Some("dc1"), Some("default")));
    assert_eq!(stub["SchedulingEligibility"], "eligible");
    assert_eq!(stub["Attributes"]["kernel.name"], std::env::consts::OS);
    assert_eq!(stub["Drivers"]["raw_exec"]["Detected"], true, "raw_exec is always on in dev mode");
    assert!(stub.get("SecretID").is_none(), "a stub has no secret");

    let reply = agent.get(&format!("/v1/node/{id}"));
    assert_eq!(reply.status, 200);
    let node = reply.json();
    assert_eq!(node["SecretID"], "", "the secret never leaves the servers");
    assert_eq!(node["HTTPAddr"], "127.0.0.28:4646");
    assert!(node["NodeResources"]["Cpu"]["CpuShares"].as_u64() > Some(0));
    assert!(node["NodeResources"]["Memory"]["MemoryMB"].as_u64() > Some(0));
    assert!(node["NodeResources"]["Disk"]["DiskMB"].as_u64() > Some(0));
    let index: u64 = reply.header("X-Nomad-Index").expect("an index").parse().expect("a number");
    assert_eq!(Some(index), node["ModifyIndex"].as_u64());
    assert_eq!(reply.header("X-Nomad-KnownLeader"), Some("true"));

    assert_eq!(agent.get(&format!("/v1/nodes?prefix={}", &id[..4])).json().as_array().map(Vec::len), Some(1));
    assert_eq!(agent.get("/v1/nodes?prefix=zzzz").json(), json!([]));

    // Bad input: a precise status and message, and nothing changes.
    let eligibility = format!("/v1/node/{id}/eligibility");
    let refused = [
        (r#"{"Eligibility": "maybe"}"#, 400, "invalid scheduling eligibility \"maybe\""),
        ("[]", 400, "Error parsing node eligibility: json: cannot unmarshal array"),
        ("", 400, "Error parsing node eligibility: Request body is empty"),
        (r#"{"Eligibility": "ineligible", "NodeID": "another"}"#, 400, "NodeID in the body does not match"),
    ];
    for (body, status, message) in refused {
        let reply = post(&agent, &eligibility, body);
        assert_eq!(reply.status, status, "{body}: {}", reply.text());
        assert!(reply.text().starts_with(message), "{body}: {}", reply.text());
    }
    let unknown = post(&agent, "/v1/node/no-such-node/eligibility", r#"{"Eligibility": "ineligible"}"#);
    assert_eq!((unknown.status, unknown.text().as_str()), (404, "node not found"));
    assert_eq!(agent.get("/v1/node/no-such-node").status, 404);
    assert_eq!(agent.get(&eligibility).status, 405);
    assert_eq!(agent.get("/v1/node/").status, 400);
    assert_eq!(agent.get(&format!("/v1/node/{id}")).json()["ModifyIndex"].as_u64(), Some(index), "unchanged");

    // python-nomad's body: NodeID and Eligibility.
    let body = json!({ "NodeID": id, "Eligibility": "ineligible" }).to_string();
    let reply = post(&agent, &eligibility, &body);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.json()["NodeModifyIndex"].as_u64() > Some(index));
    assert_eq!(agent.get(&format!("/v1/node/{id}")).json()["SchedulingEligibility"], "ineligible");

    // The same node after a restart on the same data dir, and the
    // operator's eligibility stays.
    let agent = agent.halt(libc::SIGTERM).restart();
    let nodes = nodes_until(&agent, "the node is ready again", |nodes| {
        nodes.len() == 1 && nodes[0]["ID"] == id.as_str() && nodes[0]["Status"] == "ready"
    });
    assert_eq!(nodes[0]["SchedulingEligibility"], "ineligible");

    // The CLI: the table, one node by prefix, eligibility back on.
    let address = ["--address", agent.http.as_str()];
    let listed = keel(&[&["node", "status"], &address[..]].concat());
    let printed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{printed}");
    assert!(printed.contains(&id[..8]) && printed.contains("ineligible") && printed.contains("ready"), "{printed}");
    let shown = keel(&[&["node", "status", &id[..6]], &address[..]].concat());
    let printed = String::from_utf8_lossy(&shown.stdout);
    assert!(printed.contains(&format!("= {id}")) && printed.contains("raw_exec"), "{printed}");
    let enabled = keel(&[&["node", "eligibility", "--enable", &id[..6]], &address[..]].concat());
    assert!(enabled.status.success(), "{}", String::from_utf8_lossy(&enabled.stderr));
    assert_eq!(agent.get(&format!("/v1/node/{id}")).json()["SchedulingEligibility"], "eligible");
    let missing = keel(&[&["node", "status", "zzzz"], &address[..]].concat());
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no node with an ID starting with \"zzzz\""));
}

#[test]
fn client_agents_register_over_rpc_and_a_killed_one_goes_down_and_comes_back() {
    let server = Agent::start("127.0.0.55", vec!["--server".into(), "--bootstrap-expect".into(), "1".into()]);
    let client = |bind: &str| {
        Agent::start(
            bind,
            vec!["--client".into(), "--servers".into(), "127.0.0.55".into(), "--node".into(), bind.into()],
        )
    };
    let (first, second) = (client("127.0.0.56"), client("127.0.0.57"));
    let nodes = nodes_until(&server, "both clients are ready", |nodes| {
        nodes.len() == 2 && nodes.iter().all(|node| node["Status"] == "ready")
    });
    let id_of = |name: &str| {
        let node = nodes.iter().find(|node| node["Name"] == name).unwrap_or_else(|| panic!("{name} registered"));
        node["ID"].as_str().expect("an ID").to_owned()
    };
    let (first_id, second_id) = (id_of("127.0.0.56"), id_of("127.0.0.57"));
    assert_eq!(server.get(&format!("/v1/node/{second_id}")).json()["HTTPAddr"], "127.0.0.57:4646");
    assert_eq!(
        server.get(&format!("/v1/node/{second_id}")).json()["Drivers"],
        json!({}),
        "raw_exec is off unless enabled"
    );

    // The servers a client knows, from the servers' answers; a server-only
    // agent has none to show.
    assert_eq!(first.get("/v1/agent/servers").json(), json!(["127.0.0.55:4647"]));
    assert_eq!(first.get("/v1/agent/health?type=client").status, 200);
    assert_eq!(server.get("/v1/agent/servers").status, 501);

    let stopped = second.halt(libc::SIGKILL);
    let nodes =
        nodes_until(&server, "the killed client's node is down", |nodes| status_of(nodes, &second_id) == Some("down"));
    assert_eq!(status_of(&nodes, &first_id), Some("ready"), "the live client stays ready");
    let down = server.get(&format!("/v1/node/{second_id}")).json();
    assert_eq!(down["StatusDescription"], "node heartbeat missed");

    let _second = stopped.restart();
    let nodes = nodes_until(&server, "the restarted client is the same node, ready", |nodes| {
        nodes.len() == 2 && status_of(nodes, &second_id) == Some("ready")
    });
    assert_eq!(status_of(&nodes, &first_id), Some("ready"));
    drop(first);
}
