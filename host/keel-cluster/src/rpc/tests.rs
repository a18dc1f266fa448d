use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use keel_api::acl::{AclPolicy, AclToken};
use keel_api::operator::{AutopilotConfiguration, SchedulerConfiguration};
use keel_state::{Command, ServerNode, State};
use openraft::error::{Fatal, SnapshotMismatch};
use openraft::{
    CommittedLeaderId, Entry, EntryPayload, LogId, Membership, SnapshotMeta, SnapshotSegmentId, StorageError,
    StorageIOError, StoredMembership, Vote,
};

use super::*;
use crate::node_rpc::{NodeAnswer, NodeCall, NodeError};

fn log_id(term: u64, index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(term, 7), index)
}

fn membership() -> Membership<u64, ServerNode> {
    let node =
        |id: u64| ServerNode { id: format!("id-{id}"), address: format!("127.0.0.{id}:4647"), name: format!("s{id}") };
    let nodes: BTreeMap<u64, ServerNode> = (1..=3).map(|id| (id, node(id))).collect();
    Membership::new(vec![BTreeSet::from([1, 2]), BTreeSet::from([1, 2, 3])], nodes)
}

/// A state that uses what JSON has and postcard lacks: skipped empty
/// fields, optional times and a derived index, read back through serde as
/// every server reads it.
fn state() -> State {
    let mut state = State { autopilot: Some(AutopilotConfiguration::nomad_defaults()), ..State::default() };
    state.acl.policies.insert("ops".into(), policy());
    state.acl.tokens.insert("a-1".into(), token(Some(1_700_000_000_000)));
    state.acl.tokens.insert("a-2".into(), token(None));
    serde_json::from_slice(&serde_json::to_vec(&state).expect("encodes")).expect("decodes")
}

fn policy() -> AclPolicy {
    AclPolicy { name: "ops".into(), rules: r#"operator { policy = "write" }"#.into(), ..AclPolicy::default() }
}

fn token(expiration_time: Option<i64>) -> AclToken {
    AclToken {
        accessor_id: format!("a-{}", expiration_time.is_some()),
        secret_id: format!("s-{}", expiration_time.is_some()),
        token_type: "client".into(),
        policies: if expiration_time.is_some() { vec!["ops".into()] } else { Vec::new() },
        expiration_time,
        ..AclToken::default()
    }
}

/// One command of every variant. The match names every variant without a
/// wildcard, so a new command does not compile until it is added here.
fn every_command() -> Vec<Command> {
    let mut commands = vec![
        Command::InitDefaults {
            autopilot: AutopilotConfiguration::nomad_defaults(),
            scheduler: SchedulerConfiguration::nomad_defaults(),
        },
        Command::SetAutopilotConfig { config: AutopilotConfiguration::nomad_defaults(), cas: Some(3) },
        Command::SetSchedulerConfig { config: SchedulerConfiguration::nomad_defaults(), cas: None },
        Command::SetLicense { blob: "license\nblob".into() },
        Command::AclBootstrap { token: token(None), reset_index: Some(9) },
        Command::UpsertAclPolicies { policies: vec![policy()] },
        Command::DeleteAclPolicies { names: vec!["ops".into()] },
        Command::UpsertAclTokens { tokens: vec![token(Some(5)), token(None)] },
        Command::DeleteAclTokens { accessors: vec!["a-1".into()] },
        Command::Restore { state: Box::new(state()) },
        Command::StageRestore { id: "r-1".into(), seq: 0, text: "{\"acl\": \"€\"".into() },
        Command::CommitRestore { id: "r-1".into(), pieces: 1, bytes: 13 },
        Command::InstallPlugin {
            kind: "acl".into(),
            plugin: Box::new(keel_state::InstalledPlugin {
                component: keel_state::ComponentBytes(std::sync::Arc::new(vec![0, 97, 115, 109, 255])),
                digest: "ab".into(),
                name: "p".into(),
                version: "1".into(),
                contract: "keel:plugin@0.1.0".into(),
                settings: vec![("k".into(), "v".into())],
                signer: Some("0011".into()),
                install_index: 0,
            }),
            mode: keel_state::PluginMode::Active,
        },
        Command::PromotePlugin { kind: "acl".into() },
        Command::RollbackPlugin { kind: "acl".into(), digest: Some("ab".into()) },
        Command::ProbationRollback { kind: "acl".into(), digest: "ab".into(), reason: "5 traps".into() },
        Command::RemovePlugin { kind: "acl".into() },
    ];
    commands.extend(node_commands());
    commands.extend(job_commands());
    for command in &commands {
        match command {
            Command::InitDefaults { .. }
            | Command::SetAutopilotConfig { .. }
            | Command::SetSchedulerConfig { .. }
            | Command::SetLicense { .. }
            | Command::AclBootstrap { .. }
            | Command::UpsertAclPolicies { .. }
            | Command::DeleteAclPolicies { .. }
            | Command::UpsertAclTokens { .. }
            | Command::DeleteAclTokens { .. }
            | Command::Restore { .. }
            | Command::StageRestore { .. }
            | Command::CommitRestore { .. }
            | Command::InstallPlugin { .. }
            | Command::PromotePlugin { .. }
            | Command::RollbackPlugin { .. }
            | Command::ProbationRollback { .. }
            | Command::RemovePlugin { .. }
            | Command::RegisterNode { .. }
            | Command::SetNodeStatus { .. }
            | Command::SetNodeEligibility { .. }
            | Command::RegisterJob { .. }
            | Command::DeregisterJob { .. }
            | Command::UpsertEvals { .. }
            | Command::ApplyPlan { .. }
            | Command::UpdateAllocsFromClient { .. }
            | Command::SetNodeDrain { .. } => {}
        }
    }
    commands
}

/// The client node commands.
fn node_commands() -> Vec<Command> {
    vec![
        Command::RegisterNode {
            node: Box::new(keel_api::node::Node {
                id: "f7476465-4d6e-c0de-26d0-e383c49be941".into(),
                secret_id: "s".into(),
                name: "client-1".into(),
                attributes: [("kernel.name".to_owned(), "linux".to_owned())].into(),
                status: "ready".into(),
                ..keel_api::node::Node::default()
            }),
        },
        Command::SetNodeStatus {
            id: "f7476465-4d6e-c0de-26d0-e383c49be941".into(),
            status: "down".into(),
            description: "node heartbeat missed".into(),
            at: 1_796_300_279,
        },
        Command::SetNodeEligibility {
            id: "f7476465-4d6e-c0de-26d0-e383c49be941".into(),
            eligibility: "ineligible".into(),
        },
        Command::SetNodeDrain { id: "f7476465-4d6e-c0de-26d0-e383c49be941".into(), drain: true, mark_eligible: false },
    ]
}

/// The scheduling commands, with a job that carries fields Keel does not
/// act on (they travel as JSON values).
fn job_commands() -> Vec<Command> {
    use keel_api::job::{Allocation, Evaluation, Job};
    let job: Job = serde_json::from_value(serde_json::json!({
        "ID": "web", "Namespace": "default", "Update": {"MaxParallel": 2},
        "TaskGroups": [{"Name": "g", "Count": 3, "Tasks": [{"Name": "t", "Driver": "raw_exec",
            "Config": {"command": "/bin/sleep", "args": ["60"]}, "Resources": {"CPU": 100}}]}]
    }))
    .expect("a job");
    let eval = Evaluation { id: "e1".into(), job_id: "web".into(), status: "pending".into(), ..Evaluation::default() };
    let alloc = Allocation { id: "a1".into(), job_id: "web".into(), name: "web.g[0]".into(), ..Allocation::default() };
    let stop = keel_state::jobs::AllocStop { id: "a0".into(), description: "node down".into(), lost: true };
    let exited = keel_api::task::TaskEvent {
        exit_code: 1,
        ..keel_api::task::TaskEvent::new("Terminated", 1_796_300_279_000_000_000, "Exit Code: 1")
    };
    let state =
        keel_api::task::TaskState { state: "dead".into(), failed: true, events: vec![exited], ..Default::default() };
    let update = keel_api::job::AllocUpdate {
        id: "a1".into(),
        client_status: "failed".into(),
        task_states: [("t".to_owned(), state)].into(),
        ..Default::default()
    };
    vec![
        Command::RegisterJob { job: Box::new(job), eval: Box::new(eval.clone()) },
        Command::DeregisterJob { key: "default/web".into(), purge: true, eval: Box::new(eval.clone()) },
        Command::UpsertEvals { evals: vec![eval.clone()] },
        Command::ApplyPlan { placed: vec![alloc], stopped: vec![stop], evals: vec![eval.clone()] },
        Command::UpdateAllocsFromClient {
            node_id: "f7476465-4d6e-c0de-26d0-e383c49be941".into(),
            updates: vec![update],
            evals: vec![eval],
        },
    ]
}

fn append_entries(commands: Vec<Command>) -> AppendEntriesRequest<TypeConfig> {
    let mut entries = vec![
        Entry { log_id: log_id(2, 10), payload: EntryPayload::Blank },
        Entry { log_id: log_id(2, 11), payload: EntryPayload::Membership(membership()) },
    ];
    for (offset, command) in commands.into_iter().enumerate() {
        entries.push(Entry { log_id: log_id(2, 12 + offset as u64), payload: EntryPayload::Normal(command) });
    }
    AppendEntriesRequest {
        vote: Vote::new_committed(2, 7),
        prev_log_id: Some(log_id(1, 9)),
        entries,
        leader_commit: Some(log_id(2, 10)),
    }
}

fn install_snapshot(data: Vec<u8>) -> InstallSnapshotRequest<TypeConfig> {
    InstallSnapshotRequest {
        vote: Vote::new_committed(2, 7),
        meta: SnapshotMeta {
            last_log_id: Some(log_id(2, 40)),
            last_membership: StoredMembership::new(Some(log_id(2, 11)), membership()),
            snapshot_id: "2-40-1".into(),
        },
        offset: 1 << 20,
        data,
        done: false,
    }
}

fn every_request() -> Vec<RpcRequest> {
    vec![
        RpcRequest::AppendEntries(append_entries(every_command())),
        RpcRequest::AppendEntries(append_entries(Vec::new())),
        RpcRequest::Vote(VoteRequest::new(Vote::new(3, 7), Some(log_id(2, 40)))),
        RpcRequest::InstallSnapshot(install_snapshot((0..=255).collect())),
        RpcRequest::Initialized,
        RpcRequest::PreVote { last_log: Some(log_id(2, 40)) },
        RpcRequest::Forward(ForwardHead {
            method: "PUT".into(),
            uri: "/v1/operator/snapshot?stale".into(),
            headers: vec![("x-nomad-token".into(), "secret".into())],
            body_bytes: 12,
        }),
        RpcRequest::Node(NodeCall::Register { node_json: r#"{"ID":"f7476465","Attributes":{"a":"€"}}"#.into() }),
        RpcRequest::Node(NodeCall::Heartbeat { id: "f7476465".into(), secret: "s".into() }),
        RpcRequest::Node(NodeCall::Allocations { id: "f7476465".into(), secret: "s".into(), index: 7, wait_ms: 5_000 }),
        RpcRequest::Node(NodeCall::UpdateAllocs {
            id: "f7476465".into(),
            secret: "s".into(),
            updates_json: r#"{"Updates":[{"ID":"a1","ClientStatus":"running"}]}"#.into(),
        }),
    ]
}

fn every_response() -> Vec<RpcResponse> {
    let io_error = io::Error::other("disk gone");
    let storage = StorageError::from(StorageIOError::read_state_machine(&io_error));
    let segment = |offset| SnapshotSegmentId { id: "2-40-1".into(), offset };
    vec![
        RpcResponse::AppendEntries(Ok(AppendEntriesResponse::Success)),
        RpcResponse::AppendEntries(Ok(AppendEntriesResponse::PartialSuccess(Some(log_id(2, 12))))),
        RpcResponse::AppendEntries(Ok(AppendEntriesResponse::PartialSuccess(None))),
        RpcResponse::AppendEntries(Ok(AppendEntriesResponse::Conflict)),
        RpcResponse::AppendEntries(Ok(AppendEntriesResponse::HigherVote(Vote::new_committed(4, 2)))),
        RpcResponse::AppendEntries(Err(RaftError::Fatal(Fatal::Stopped))),
        RpcResponse::AppendEntries(Err(RaftError::Fatal(Fatal::StorageError(storage)))),
        RpcResponse::Vote(Ok(VoteResponse::new(Vote::new(3, 7), Some(log_id(2, 40)), true))),
        RpcResponse::Vote(Err(RaftError::Fatal(Fatal::Panicked))),
        RpcResponse::InstallSnapshot(Ok(InstallSnapshotResponse { vote: Vote::new_committed(2, 7) })),
        RpcResponse::InstallSnapshot(Err(RaftError::APIError(InstallSnapshotError::SnapshotMismatch(
            SnapshotMismatch { expect: segment(0), got: segment(1 << 20) },
        )))),
        RpcResponse::Initialized(true),
        RpcResponse::PreVote(false),
        RpcResponse::Forward(ReplyHead {
            status: 200,
            headers: vec![("x-nomad-index".into(), "42".into())],
            body_bytes: 0,
        }),
        RpcResponse::Node(Ok(NodeAnswer {
            heartbeat_ttl_ms: 10_000,
            servers: vec!["127.0.0.1:4647".into()],
            allocs_json: r#"{"Allocs":[{"Alloc":{"ID":"a1"},"Job":{"ID":"web"}}]}"#.into(),
            index: 12,
        })),
        RpcResponse::Node(Err(NodeError::UnknownNode)),
        RpcResponse::Node(Err(NodeError::Refused("node f7476465 is registered with another secret".into()))),
        RpcResponse::Node(Err(NodeError::Unavailable("no cluster leader".into()))),
    ]
}

/// Encodes `value` as a frame and reads it back as the peer would.
async fn round_trip<T: Serialize + DeserializeOwned>(value: &T) -> T {
    let frame = encode(value).expect("encodes");
    read_frame(&mut frame.as_slice()).await.expect("decodes")
}

/// JSON is self-describing and holds every field, so equal JSON is equal
/// content.
fn json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("json")
}

#[tokio::test]
async fn every_request_round_trips() {
    for request in every_request() {
        let read = round_trip(&request).await;
        assert_eq!(json(&read), json(&request), "{request:?}");
    }
}

#[tokio::test]
async fn every_command_in_an_entry_round_trips_exactly() {
    let commands = every_command();
    let RpcRequest::AppendEntries(read) =
        round_trip(&RpcRequest::AppendEntries(append_entries(commands.clone()))).await
    else {
        panic!("an append-entries request reads back as one");
    };
    let read_commands: Vec<Command> = read
        .entries
        .iter()
        .filter_map(|entry| match &entry.payload {
            EntryPayload::Normal(command) => Some(command.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(read_commands, commands);
    assert!(matches!(read.entries[0].payload, EntryPayload::Blank));
    assert!(matches!(&read.entries[1].payload, EntryPayload::Membership(m) if *m == membership()));
    assert_eq!(
        read.entries.iter().map(|entry| entry.log_id).collect::<Vec<_>>(),
        (10..12 + commands.len() as u64).map(|i| log_id(2, i)).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn every_response_round_trips() {
    for response in every_response() {
        let read = round_trip(&response).await;
        assert_eq!(json(&read), json(&response), "{response:?}");
    }
}

#[tokio::test]
async fn snapshot_data_travels_as_raw_bytes() {
    let data: Vec<u8> = (0..RPC_CHUNK_MAX_BYTES).map(|i| (i % 251) as u8).collect();
    let frame = encode(&RpcRequest::InstallSnapshot(install_snapshot(data.clone()))).expect("encodes");
    assert!(frame.len() < data.len() + 512, "a {} byte chunk took a {} byte frame", data.len(), frame.len());
    let RpcRequest::InstallSnapshot(read) = read_frame(&mut frame.as_slice()).await.expect("decodes") else {
        panic!("an install-snapshot request reads back as one");
    };
    assert_eq!(read.data, data);
}

#[tokio::test]
async fn an_oversized_frame_is_refused_before_its_body() {
    let (mut client, mut server) = tokio::io::duplex(64);
    let length = u32::try_from(MAX_FRAME_BYTES + 1).expect("fits");
    client.write_all(&length.to_be_bytes()).await.expect("write");
    let error = read_frame::<_, RpcRequest>(&mut server).await.expect_err("refused");
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert!(FrameTooLarge::is(&error), "{error}");
}

#[test]
fn a_value_over_the_frame_limit_is_not_encoded() {
    let request = RpcRequest::InstallSnapshot(install_snapshot(vec![0; MAX_FRAME_BYTES]));
    let error = encode(&request).expect_err("refused");
    assert!(FrameTooLarge::is(&error), "{error}");
}

#[tokio::test]
async fn a_truncated_frame_is_refused() {
    let mut frame = encode(&RpcRequest::Vote(VoteRequest::new(Vote::new(3, 7), None))).expect("encodes");
    frame.truncate(frame.len() - 1);
    let error = read_frame::<_, RpcRequest>(&mut frame.as_slice()).await.expect_err("refused");
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
}

#[tokio::test]
async fn garbage_is_invalid_data() {
    let (mut client, mut server) = tokio::io::duplex(64);
    client.write_all(&[0, 0, 0, 3, b'x', b'y', b'z']).await.expect("write");
    let error = read_frame::<_, RpcRequest>(&mut server).await.expect_err("refused");
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
}

#[tokio::test]
async fn peers_of_the_same_version_connect() {
    let (mut client, mut server) = tokio::io::duplex(64);
    let (hello, accepted) = tokio::join!(hello(&mut client, None), accept(&mut server, None));
    hello.expect("the client is accepted");
    accepted.expect("the server accepts");
}

#[tokio::test]
async fn a_client_of_another_version_is_refused_and_told_so() {
    let (mut client, mut server) = tokio::io::duplex(64);
    let mut header = protocol_header();
    header[4..].copy_from_slice(&7_u32.to_be_bytes());
    let client_side = async {
        client.write_all(&header).await.expect("write");
        let mut answer = [0_u8; 8];
        client.read_exact(&mut answer).await.expect("the server answers with its header");
        version_in(&answer)
    };
    let (answered, accepted) = tokio::join!(client_side, accept(&mut server, None));
    assert_eq!(answered, Some(PROTOCOL_VERSION));
    let error = accepted.expect_err("refused").to_string();
    assert!(error.contains("version 7") && error.contains(&format!("version {PROTOCOL_VERSION}")), "{error}");
}

#[tokio::test]
async fn a_client_without_the_header_is_refused() {
    let (mut client, mut server) = tokio::io::duplex(64);
    // What a server of the JSON protocol sends first: a length prefix.
    client.write_all(&[0, 0, 0, 14, b'"', b'I', b'n', b'i']).await.expect("write");
    let error = accept(&mut server, None).await.expect_err("refused").to_string();
    assert!(error.contains("no rpc protocol header"), "{error}");
}

#[tokio::test]
async fn a_server_of_another_version_is_an_error_naming_both() {
    let (mut client, mut server) = tokio::io::duplex(64);
    let server_side = async {
        let mut header = [0_u8; 8];
        server.read_exact(&mut header).await.expect("the client sends its header first");
        let mut answer = protocol_header();
        answer[4..].copy_from_slice(&9_u32.to_be_bytes());
        server.write_all(&answer).await.expect("write");
    };
    let (error, ()) = tokio::join!(hello(&mut client, None), server_side);
    let error = error.expect_err("refused");
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    let message = error.to_string();
    assert!(message.contains("version 9") && message.contains(&format!("version {PROTOCOL_VERSION}")), "{message}");
}

#[tokio::test]
async fn a_server_that_closes_instead_of_answering_is_an_error() {
    let (mut client, mut server) = tokio::io::duplex(64);
    let server_side = async move {
        let mut header = [0_u8; 8];
        server.read_exact(&mut header).await.expect("the client sends its header first");
    };
    let (error, ()) = tokio::join!(hello(&mut client, None), server_side);
    let error = error.expect_err("refused");
    assert!(error.to_string().contains("rpc protocol"), "{error}");
}

#[tokio::test]
async fn a_body_of_several_mib_goes_in_chunks_and_arrives_exactly() {
    let body: Vec<u8> = (0..5 * RPC_CHUNK_MAX_BYTES + 123).map(|i| (i * 31 % 253) as u8).collect();
    let forwarded = Forwarded { method: "PUT".into(), uri: "/v1/operator/snapshot".into(), headers: Vec::new(), body };
    let (head, body) = forwarded.clone().split();
    let mut wire = Vec::new();
    write_message(&mut wire, encode(&RpcRequest::Forward(head)).expect("encodes"), &body).await.expect("writes");

    let mut frames = Vec::new();
    let mut rest = wire.as_slice();
    while let Some((length, tail)) = rest.split_first_chunk::<4>() {
        let length = u32::from_be_bytes(*length) as usize;
        frames.push(length);
        rest = &tail[length..];
    }
    assert_eq!(frames.len(), 7, "a head and six chunks: {frames:?}");
    assert!(frames.iter().all(|&length| length <= RPC_CHUNK_MAX_BYTES), "{frames:?}");

    let mut reader = wire.as_slice();
    let RpcRequest::Forward(head) = read_frame(&mut reader).await.expect("head") else {
        panic!("a forwarded request reads back as one");
    };
    let body = read_body(&mut reader, head.body_bytes).await.expect("body");
    assert_eq!(Forwarded::join(head, body), forwarded);
    assert!(reader.is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_or_a_chunk_past_its_end_is_refused() {
    let mut reader: &[u8] = &[];
    let error = read_body(&mut reader, FORWARDED_BODY_MAX_BYTES as u64 + 1).await.expect_err("refused");
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);

    let mut wire = Vec::new();
    append_chunks(&mut wire, &[1, 2, 3, 4]);
    let error = read_body(&mut wire.as_slice(), 3).await.expect_err("refused");
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
}

/// The old protocol's frame body, for the comparison below.
fn json_frame<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("json")
}

/// Prints what the protocol costs: wire bytes for a snapshot, and the time
/// to encode and decode a typical AppendEntries, against JSON. Run with
/// `--ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a test"]
async fn measure_the_wire() {
    let snapshot_bytes = 16 * RPC_CHUNK_MAX_BYTES;
    let snapshot: Vec<u8> =
        serde_json::to_vec(&state()).expect("json").into_iter().cycle().take(snapshot_bytes).collect();
    let (mut postcard_bytes, mut json_bytes) = (0, 0);
    for chunk in snapshot.chunks(RPC_CHUNK_MAX_BYTES) {
        let request = install_snapshot(chunk.to_vec());
        postcard_bytes +=
            encode(&RpcRequest::InstallSnapshot(install_snapshot(chunk.to_vec()))).expect("encodes").len();
        json_bytes += 4 + json_frame(&request).len();
    }
    let ratio = |bytes: usize| bytes as f64 / snapshot_bytes as f64;
    println!(
        "install-snapshot of {snapshot_bytes} bytes: postcard {postcard_bytes} ({:.4}x), json {json_bytes} ({:.2}x)",
        ratio(postcard_bytes),
        ratio(json_bytes)
    );

    let small = Command::SetSchedulerConfig { config: SchedulerConfiguration::nomad_defaults(), cas: Some(4) };
    let request = || {
        let mut request = append_entries(vec![small.clone(); 64]);
        request.entries.drain(..2);
        request
    };
    let rounds = 2_000;
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..rounds {
            f();
        }
        start.elapsed() / rounds
    };
    let wire = RpcRequest::AppendEntries(request());
    let frame = encode(&wire).expect("encodes");
    let old = request();
    let old_frame = json_frame(&old);
    let encode_new: Duration = time(&mut || drop(encode(&wire).expect("encodes")));
    let decode_new: Duration = time(&mut || drop(postcard::from_bytes::<RpcRequest>(&frame[4..]).expect("decodes")));
    let encode_old: Duration = time(&mut || drop(json_frame(&old)));
    let decode_old: Duration =
        time(&mut || drop(serde_json::from_slice::<AppendEntriesRequest<TypeConfig>>(&old_frame).expect("decodes")));
    println!(
        "append-entries with 64 small entries: postcard {} bytes, encode {encode_new:?}, decode {decode_new:?}; json {} bytes, encode {encode_old:?}, decode {decode_old:?}",
        frame.len(),
        old_frame.len() + 4
    );
}

/// Runs both sides of a handshake over an in-memory pipe.
async fn handshake(
    client_key: Option<&ClusterKey>,
    server_key: Option<&ClusterKey>,
) -> (io::Result<()>, io::Result<()>) {
    let (mut client, mut server) = tokio::io::duplex(256);
    // Each side hangs up once it is done, as a real peer closes its socket.
    let client_side = async move { hello(&mut client, client_key).await };
    let server_side = async move { accept(&mut server, server_key).await };
    tokio::join!(client_side, server_side)
}

#[tokio::test]
async fn peers_holding_the_same_key_connect() {
    let key = ClusterKey::generate();
    let (client, server) = handshake(Some(&key), Some(&key)).await;
    client.expect("the client proves the key and is accepted");
    server.expect("the server proves the key");
}

#[tokio::test]
async fn peers_with_different_keys_are_refused_on_both_sides() {
    let (client, server) = handshake(Some(&ClusterKey::generate()), Some(&ClusterKey::generate())).await;
    let client = client.expect_err("the server's proof fails").to_string();
    assert!(client.contains("does not hold this cluster's key"), "{client}");
    // The client hung up after refusing the server's proof.
    assert!(server.is_err());
}

#[tokio::test]
async fn a_peer_without_a_key_is_refused_by_a_keyed_one_and_told_why() {
    let key = ClusterKey::generate();
    let (client, server) = handshake(None, Some(&key)).await;
    let client = client.expect_err("refused").to_string();
    let server = server.expect_err("refused").to_string();
    assert!(client.contains("the peer requires a cluster key"), "{client}");
    assert!(server.contains("requires a cluster key and the peer sent none"), "{server}");
    let (client, server) = handshake(Some(&key), None).await;
    assert!(client.expect_err("refused").to_string().contains("requires a cluster key and the peer sent none"));
    assert!(server.expect_err("refused").to_string().contains("the peer requires a cluster key"));
}

#[tokio::test]
async fn a_client_that_replays_an_old_proof_is_refused() {
    let key = ClusterKey::generate();
    let (mut client, mut server) = tokio::io::duplex(256);
    let client_side = async {
        client.write_all(&protocol_header()).await.expect("write");
        let mut header = [0_u8; 8];
        client.read_exact(&mut header).await.expect("the server's header");
        client.write_all(&[1]).await.expect("write");
        client.write_all(&[7_u8; 32]).await.expect("write");
        let mut answer = [0_u8; 65];
        client.read_exact(&mut answer).await.expect("the server's mode, nonce and proof");
        // A proof made for other nonces, as an eavesdropper could replay.
        client.write_all(&key.prove(b"client\n", &[7_u8; 32], &[9_u8; 32])).await.expect("write");
    };
    let ((), accepted) = tokio::join!(client_side, accept(&mut server, Some(&key)));
    assert!(accepted.expect_err("refused").to_string().contains("does not hold this cluster's key"));
}

/// The seeds `t70_fuzz` starts the request decoder from
/// (`tests/corpus/rpc_requests/`) are every request as the wire carries it,
/// and each decodes as one request. After a change of the messages,
/// `KEEL_BLESS=1` writes them again.
#[tokio::test]
async fn the_fuzz_seeds_are_every_request_as_the_wire_carries_it() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/rpc_requests");
    for (n, request) in every_request().iter().enumerate() {
        let mut frame = encode(request).expect("encodes");
        if let RpcRequest::Forward(head) = request {
            append_chunks(&mut frame, &vec![b'x'; usize::try_from(head.body_bytes).expect("small")]);
        }
        let path = dir.join(format!("request-{n}"));
        if std::env::var_os("KEEL_BLESS").is_some() {
            std::fs::create_dir_all(&dir).expect("the corpus directory");
            std::fs::write(&path, &frame).expect("write a seed");
        }
        let seed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (KEEL_BLESS=1 writes it)", path.display()));
        assert!(seed == frame, "{} is out of date: run this test with KEEL_BLESS=1", path.display());
        assert_eq!(decode_requests(&seed).await.expect("a seed decodes"), 1);
        let mut twice = seed.clone();
        twice.extend_from_slice(&seed);
        assert_eq!(decode_requests(&twice).await.expect("two seeds decode"), 2);
        assert!(decode_requests(&seed[..seed.len() - 1]).await.is_err(), "a request cut short is refused");
    }
}
