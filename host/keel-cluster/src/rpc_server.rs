//! The server side of Raft RPC: the listener on the RPC port.
//!
//! Each accepted connection is served on its own task, one request at a
//! time, by handing the request to the local Raft node. Everything is
//! bounded: the number of connections, the size of a frame, and how long a
//! connection may sit idle or take to deliver a frame.

use std::io;
use std::time::Duration;

use keel_state::TypeConfig;
use openraft::Raft;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::rpc::{RpcRequest, RpcResponse, read_body, write_frame};

/// How many peer connections are served at once; further ones are closed
/// on accept. A cluster has a handful of servers, each with one connection
/// per peer, so this is far above need.
const MAX_CONNECTIONS: usize = 256;

/// How long a connection may wait between requests before it is closed.
/// openraft's heartbeats keep a live peer's connection well inside this.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long reading a frame's body, or writing an answer, may take.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// Accepts peer connections until the task is aborted. Aborting it drops
/// the listener and the set of connection tasks, which aborts them too.
pub(crate) async fn serve(listener: TcpListener, raft: Raft<TypeConfig>) {
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
        let raft = raft.clone();
        connections.spawn(async move {
            if let Err(error) = serve_connection(stream, raft).await {
                tracing::debug!(%peer, %error, "raft rpc connection closed");
            }
        });
    }
}

/// Serves requests on one connection until the peer closes it, goes idle
/// for too long, or sends something that is not a request.
async fn serve_connection(mut stream: TcpStream, raft: Raft<TypeConfig>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    loop {
        let mut length = [0_u8; 4];
        match tokio::time::timeout(IDLE_TIMEOUT, stream.read_exact(&mut length)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(error)) => return Err(error),
            Err(_) => return Err(timed_out("wait for a request")),
        }
        let request: RpcRequest = tokio::time::timeout(IO_TIMEOUT, read_body(&mut stream, u32::from_be_bytes(length)))
            .await
            .map_err(|_| timed_out("read a request"))??;
        let response = answer(&raft, request).await;
        tokio::time::timeout(IO_TIMEOUT, write_frame(&mut stream, &response))
            .await
            .map_err(|_| timed_out("write a response"))??;
    }
}

/// Hands a request to the local Raft node. Raft's own errors (such as
/// having shut down) travel back to the caller as the answer.
async fn answer(raft: &Raft<TypeConfig>, request: RpcRequest) -> RpcResponse {
    match request {
        RpcRequest::AppendEntries(rpc) => RpcResponse::AppendEntries(raft.append_entries(rpc).await),
        RpcRequest::Vote(rpc) => RpcResponse::Vote(raft.vote(rpc).await),
        RpcRequest::InstallSnapshot(rpc) => RpcResponse::InstallSnapshot(raft.install_snapshot(rpc).await),
    }
}

fn timed_out(operation: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{operation}: timed out"))
}
