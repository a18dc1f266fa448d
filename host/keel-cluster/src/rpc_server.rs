//! The server side of the RPC port: the listener.
//!
//! Each accepted connection is served on its own task, one request at a
//! time: Raft's messages go to the local Raft node, forwarded API requests
//! to the [`Forwarder`] the binary installed. A connection starts with the
//! protocol header; a peer of another version is refused. Everything is
//! bounded: the number of connections, the size of a frame and of a
//! forwarded body, and how long a connection may sit idle or take to
//! deliver a message.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use keel_state::{LogStore, TypeConfig};
use openraft::Raft;
use openraft::raft::AppendEntriesResponse;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::ClusterKey;
use crate::elector::{self, LeaderContact, Timing};
use crate::node_rpc::{NodeEndpoint, NodeError};
use crate::rpc::{
    Forwarded, ForwardedReply, RpcRequest, RpcResponse, accept, encode, read_request_after, write_message,
};

/// Serves API requests forwarded by other servers: the binary runs them
/// through its HTTP router.
pub trait Forwarder: Send + Sync + 'static {
    fn serve(&self, request: Forwarded) -> Pin<Box<dyn Future<Output = ForwardedReply> + Send>>;
}

/// What serves the requests that are not Raft's: installed after start,
/// once the API that serves them exists.
#[derive(Default)]
pub(crate) struct Endpoints {
    pub(crate) forwarder: OnceLock<Arc<dyn Forwarder>>,
    pub(crate) node: OnceLock<Arc<dyn NodeEndpoint>>,
}

/// What the listener hands requests to.
#[derive(Clone)]
pub(crate) struct Handlers {
    pub(crate) raft: Raft<TypeConfig>,
    pub(crate) endpoints: Arc<Endpoints>,
    pub(crate) contact: LeaderContact,
    pub(crate) timing: Timing,
    pub(crate) key: Option<ClusterKey>,
    /// This server's log, for the pre-votes it answers.
    pub(crate) log: LogStore,
}

/// How many peer connections are served at once; further ones are closed
/// on accept. A cluster has a handful of servers, each with one connection
/// per peer, so this is far above need.
const MAX_CONNECTIONS: usize = 256;

/// How long a connection may wait between requests before it is closed.
/// openraft's heartbeats keep a live peer's connection well inside this.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long reading a frame's body, or writing an answer, may take.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// How long an answer may take: a forwarded blocking read waits up to
/// 10 minutes, and a forwarded snapshot restore is the slowest write.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(11 * 60);

/// Accepts peer connections until the task is aborted. Aborting it drops
/// the listener and the set of connection tasks, which aborts them too.
pub(crate) async fn serve(listener: TcpListener, handlers: Handlers) {
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Typically out of file descriptors: wait rather than spin.
                tracing::warn!(%error, "accept a raft rpc connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        if connections.len() >= MAX_CONNECTIONS {
            tracing::warn!(%peer, limit = MAX_CONNECTIONS, "too many raft rpc connections; closing a new one");
            drop(stream);
            continue;
        }
        let handlers = handlers.clone();
        connections.spawn(async move {
            if let Err(error) = serve_connection(stream, handlers).await {
                metrics::counter!("nomad.nomad.rpc.request_error").increment(1);
                tracing::debug!(%peer, %error, "raft rpc connection closed");
            }
        });
    }
}

/// Serves requests on one connection until the peer closes it, goes idle
/// for too long, or sends something that is not a request. A peer that
/// does not open with this server's protocol header is refused and logged.
async fn serve_connection(mut stream: TcpStream, handlers: Handlers) -> io::Result<()> {
    stream.set_nodelay(true)?;
    match tokio::time::timeout(IO_TIMEOUT, accept(&mut stream, handlers.key.as_ref())).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) if error.kind() == io::ErrorKind::InvalidData => {
            let peer = stream.peer_addr().map_or_else(|_| "an unknown address".to_owned(), |peer| peer.to_string());
            tracing::warn!(%peer, %error, "closing an rpc connection");
            return Ok(());
        }
        Ok(Err(error)) => return Err(error),
        Err(_) => return Err(timed_out("wait for the protocol header")),
    }
    loop {
        let mut length = [0_u8; 4];
        match tokio::time::timeout(IDLE_TIMEOUT, stream.read_exact(&mut length)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(error)) => return Err(error),
            Err(_) => return Err(timed_out("wait for a request")),
        }
        let read = read_request_after(&mut stream, u32::from_be_bytes(length));
        let (request, body) =
            tokio::time::timeout(IO_TIMEOUT, read).await.map_err(|_| timed_out("read a request"))??;
        let (response, body) = tokio::time::timeout(ANSWER_TIMEOUT, answer(&handlers, request, body))
            .await
            .map_err(|_| timed_out("answer a request"))?;
        let head = encode(&response)?;
        tokio::time::timeout(IO_TIMEOUT, write_message(&mut stream, head, &body))
            .await
            .map_err(|_| timed_out("write a response"))??;
    }
}

/// Hands a request to the local Raft node or the forwarder, and returns
/// the answer with the body that follows it (only a forwarded request's
/// answer has one). Raft's own errors (such as having shut down) travel
/// back to the caller as the answer.
async fn answer(handlers: &Handlers, request: RpcRequest, body: Vec<u8>) -> (RpcResponse, Vec<u8>) {
    let raft = &handlers.raft;
    metrics::counter!("nomad.nomad.rpc.request", "type" => request.kind()).increment(1);
    let response = match request {
        RpcRequest::AppendEntries(rpc) => {
            let answer = raft.append_entries(rpc).await;
            // Anything but "your term is over" means a current leader spoke.
            if matches!(&answer, Ok(response) if !matches!(response, AppendEntriesResponse::HigherVote(_))) {
                handlers.contact.heard_now();
            }
            RpcResponse::AppendEntries(answer)
        }
        RpcRequest::Vote(rpc) => RpcResponse::Vote(raft.vote(rpc).await),
        RpcRequest::InstallSnapshot(rpc) => RpcResponse::InstallSnapshot(raft.install_snapshot(rpc).await),
        RpcRequest::Initialized => RpcResponse::Initialized(raft.is_initialized().await.unwrap_or(true)),
        RpcRequest::PreVote { last_log } => RpcResponse::PreVote(
            elector::grants_pre_vote(raft, &handlers.contact, handlers.timing, &handlers.log, last_log).await,
        ),
        RpcRequest::Forward(head) => {
            let request = Forwarded::join(head, body);
            let reply = match handlers.endpoints.forwarder.get() {
                Some(forwarder) => forwarder.serve(request).await,
                None => not_ready(),
            };
            let (head, body) = reply.split();
            return (RpcResponse::Forward(head), body);
        }
        RpcRequest::Node(call) => RpcResponse::Node(match handlers.endpoints.node.get() {
            Some(endpoint) => endpoint.call(call).await,
            None => Err(NodeError::Unavailable("this server is still starting".to_owned())),
        }),
    };
    (response, Vec::new())
}

/// The answer to a forwarded request that arrives before this server's API
/// is up: Nomad's "No cluster leader", since this server cannot act as one yet.
fn not_ready() -> ForwardedReply {
    ForwardedReply {
        status: 500,
        headers: vec![("content-type".to_owned(), "text/plain; charset=utf-8".to_owned())],
        body: b"No cluster leader".to_vec(),
    }
}

fn timed_out(operation: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{operation}: timed out"))
}
