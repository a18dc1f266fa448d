//! The client side of Raft RPC: how this server reaches its peers.
//!
//! Each peer client keeps one TCP connection to the peer's RPC address and
//! sends its requests on it one after another (openraft drives a client
//! sequentially). A connection that fails or times out is dropped, and the
//! next call dials again; openraft backs off and retries unreachable peers.
//! An AppendEntries request carries at most [`RPC_BATCH_MAX_BYTES`] of
//! entries (or one larger entry): the rest are left for the next request,
//! and openraft is told which were sent (`PartialSuccess`). A request too
//! large for one frame is not sent: openraft is told the payload is too
//! large and retries with fewer entries.

use std::collections::HashMap;
use std::error::Error;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use keel_api::limits::RPC_BATCH_MAX_BYTES;
use keel_state::{ServerNode, TypeConfig};
use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::{EntryPayload, LogId};
use tokio::net::TcpStream;

use crate::key::ClusterKey;
use crate::rpc::{FrameTooLarge, MAX_FRAME_BYTES, RpcRequest, RpcResponse, encode, hello, read_frame, write_message};

type RpcResult<T, E = RaftError<u64>> = Result<T, RPCError<u64, ServerNode, E>>;

/// When each peer last answered this server, by node id: the leader's
/// "last contact" with its followers, which openraft does not report.
pub(crate) type Contacts = Arc<Mutex<HashMap<u64, Instant>>>;

/// Hands out a [`PeerClient`] per peer.
#[derive(Debug, Clone)]
pub(crate) struct Network {
    /// This server's node id, named in timeout errors.
    me: u64,
    contacts: Contacts,
    key: Option<ClusterKey>,
}

impl Network {
    pub(crate) fn new(me: u64, contacts: Contacts, key: Option<ClusterKey>) -> Self {
        Self { me, contacts, key }
    }
}

/// The RPC client for one peer.
#[derive(Debug)]
pub(crate) struct PeerClient {
    me: u64,
    target: u64,
    node: ServerNode,
    connection: Option<TcpStream>,
    contacts: Contacts,
    key: Option<ClusterKey>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &ServerNode) -> PeerClient {
        PeerClient {
            me: self.me,
            target,
            node: node.clone(),
            connection: None,
            contacts: Arc::clone(&self.contacts),
            key: self.key.clone(),
        }
    }
}

/// Why a call did not bring back an answer.
enum CallError {
    Timeout,
    Io(io::Error),
    /// The peer answered with a response to a different request.
    Mismatch,
}

impl PeerClient {
    /// Sends `request` and reads its response, all within `option`'s hard
    /// deadline. The connection is held by the exchange and given back only
    /// with its response read, so any failure drops it, and so does a call
    /// whose future is dropped midway: openraft puts its own timeout around
    /// each call, and a connection kept after a request was written but
    /// before its response was read would hand that late response to the
    /// next request — a "success" for entries the peer never received.
    async fn call(&mut self, request: &RpcRequest, option: &RPCOption) -> Result<RpcResponse, CallError> {
        let frame = encode(request).map_err(CallError::Io)?;
        self.call_encoded(frame, option).await
    }

    /// [`Self::call`] for a request already encoded as a frame.
    async fn call_encoded(&mut self, frame: Vec<u8>, option: &RPCOption) -> Result<RpcResponse, CallError> {
        let idle = self.connection.take();
        let (address, key) = (&self.node.address, self.key.as_ref());
        let exchange = async move {
            let mut stream = match idle {
                Some(stream) => stream,
                None => {
                    let mut stream = TcpStream::connect(address).await?;
                    stream.set_nodelay(true)?;
                    hello(&mut stream, key).await?;
                    stream
                }
            };
            write_message(&mut stream, frame, &[]).await?;
            let response = read_frame::<_, RpcResponse>(&mut stream).await?;
            Ok::<_, io::Error>((stream, response))
        };
        match tokio::time::timeout(option.hard_ttl(), exchange).await {
            Ok(Ok((stream, response))) => {
                self.connection = Some(stream);
                self.contacts.lock().unwrap_or_else(PoisonError::into_inner).insert(self.target, Instant::now());
                Ok(response)
            }
            Ok(Err(error)) => Err(CallError::Io(error)),
            Err(_) => Err(CallError::Timeout),
        }
    }

    fn transport_error<E: Error>(
        &self,
        error: CallError,
        action: RPCTypes,
        option: &RPCOption,
    ) -> RPCError<u64, ServerNode, E> {
        match error {
            CallError::Timeout => {
                RPCError::Timeout(Timeout { action, id: self.me, target: self.target, timeout: option.hard_ttl() })
            }
            CallError::Io(error) if error.kind() == io::ErrorKind::InvalidData => {
                RPCError::Network(NetworkError::new(&error))
            }
            CallError::Io(error) => RPCError::Unreachable(Unreachable::new(&error)),
            CallError::Mismatch => {
                let error = io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("raft rpc to {}: the answer is for another request", self.node.address),
                );
                RPCError::Network(NetworkError::new(&error))
            }
        }
    }

    fn remote<E: Error>(&self, error: RaftError<u64, E>) -> RPCError<u64, ServerNode, RaftError<u64, E>> {
        RPCError::RemoteError(RemoteError::new_with_node(self.target, self.node.clone(), error))
    }
}

/// The error for an AppendEntries request that could not be encoded,
/// typically because it does not fit one frame.
/// With several entries openraft retries at once with the hinted number
/// (half as many), and keeps halving until the request fits; a single
/// entry over the limit cannot be split, which the entry limit on writes
/// rules out.
fn too_large<E: Error>(entries: usize, error: &io::Error) -> RPCError<u64, ServerNode, E> {
    if entries > 1 && FrameTooLarge::is(error) {
        let hint = u64::try_from(entries / 2).unwrap_or(u64::MAX);
        tracing::debug!(entries, hint, limit_bytes = MAX_FRAME_BYTES, "append-entries request too large for one frame");
        RPCError::PayloadTooLarge(PayloadTooLarge::new_entries_hint(hint))
    } else {
        RPCError::Network(NetworkError::new(error))
    }
}

/// Cuts `rpc` down to the entries that fit [`RPC_BATCH_MAX_BYTES`] (at
/// least one), answering the log id of the last one kept when any were
/// left out.
fn within_batch(mut rpc: AppendEntriesRequest<TypeConfig>) -> (AppendEntriesRequest<TypeConfig>, Option<LogId<u64>>) {
    if rpc.entries.len() <= 1 {
        return (rpc, None);
    }
    let mut total = 0;
    let over = rpc.entries.iter().position(|entry| {
        total += match &entry.payload {
            EntryPayload::Normal(command) => command.json_len(),
            EntryPayload::Blank | EntryPayload::Membership(_) => 0,
        };
        total > RPC_BATCH_MAX_BYTES
    });
    match over {
        Some(over) => {
            rpc.entries.truncate(over.max(1));
            let last_sent = rpc.entries.last().map(|entry| entry.log_id);
            (rpc, last_sent)
        }
        None => (rpc, None),
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<u64>> {
        let action = RPCTypes::AppendEntries;
        let (rpc, last_sent) = within_batch(rpc);
        let entries = rpc.entries.len();
        let frame = match encode(&RpcRequest::AppendEntries(rpc)) {
            Ok(frame) => frame,
            Err(error) => return Err(too_large(entries, &error)),
        };
        match self.call_encoded(frame, &option).await {
            Ok(RpcResponse::AppendEntries(Ok(AppendEntriesResponse::Success))) if last_sent.is_some() => {
                Ok(AppendEntriesResponse::PartialSuccess(last_sent))
            }
            Ok(RpcResponse::AppendEntries(answer)) => answer.map_err(|error| self.remote(error)),
            Ok(_) => Err(self.transport_error(CallError::Mismatch, action, &option)),
            Err(error) => Err(self.transport_error(error, action, &option)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>> {
        let action = RPCTypes::InstallSnapshot;
        match self.call(&RpcRequest::InstallSnapshot(rpc), &option).await {
            Ok(RpcResponse::InstallSnapshot(answer)) => answer.map_err(|error| self.remote(error)),
            Ok(_) => Err(self.transport_error(CallError::Mismatch, action, &option)),
            Err(error) => Err(self.transport_error(error, action, &option)),
        }
    }

    async fn vote(&mut self, rpc: VoteRequest<u64>, option: RPCOption) -> RpcResult<VoteResponse<u64>> {
        let action = RPCTypes::Vote;
        match self.call(&RpcRequest::Vote(rpc), &option).await {
            Ok(RpcResponse::Vote(answer)) => answer.map_err(|error| self.remote(error)),
            Ok(_) => Err(self.transport_error(CallError::Mismatch, action, &option)),
            Err(error) => Err(self.transport_error(error, action, &option)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::*;
    use crate::rpc::accept;

    /// A peer that answers every request with `Initialized(true)` for the
    /// first request it ever got and `Initialized(false)` for any other,
    /// the first answer 300 ms late.
    async fn slow_first_answer() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().expect("an address").to_string();
        let served = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let served = Arc::clone(&served);
                tokio::spawn(async move {
                    accept(&mut stream, None).await.expect("a protocol header");
                    while read_frame::<_, RpcRequest>(&mut stream).await.is_ok() {
                        let first = served.fetch_add(1, Ordering::SeqCst) == 0;
                        if first {
                            tokio::time::sleep(Duration::from_millis(300)).await;
                        }
                        let answer = encode(&RpcResponse::Initialized(first)).expect("encodes");
                        if write_message(&mut stream, answer, &[]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        address
    }

    /// openraft drops a call that outlasts its own timeout; the request was
    /// written, its answer not read. The next call must not read that
    /// answer as its own.
    #[tokio::test]
    async fn a_call_dropped_midway_never_lends_its_answer_to_the_next() {
        let address = slow_first_answer().await;
        let node = ServerNode { address, ..ServerNode::default() };
        let mut network = Network::new(1, Contacts::default(), None);
        let mut client = network.new_client(2, &node).await;
        let option = RPCOption::new(Duration::from_secs(5));
        let dropped = tokio::time::timeout(Duration::from_millis(50), client.call(&RpcRequest::Initialized, &option));
        assert!(dropped.await.is_err(), "the first call is still waiting for its answer");
        match client.call(&RpcRequest::Initialized, &option).await {
            Ok(RpcResponse::Initialized(first)) => assert!(!first, "the answer to the dropped call was read"),
            other => panic!("{:?}", other.map_err(|_| "a failed call")),
        }
    }
}
