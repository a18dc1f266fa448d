//! The client side of the RPC port for everything but Raft's own traffic:
//! forwarding API requests to the leader and asking a server whether it
//! holds Raft state.
//!
//! Connections are kept per address after a successful call and reused by
//! the next, so a follower relaying a stream of writes does not dial for
//! each. A connection idle for longer than the server keeps it open is
//! dropped instead of reused.

use std::collections::HashMap;
use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::rpc::{RpcRequest, RpcResponse, encode, hello, read_body, read_frame, write_message};

/// A connection idle this long is not reused: well inside the server's own
/// idle timeout, so a reused connection is never one the server closed.
const REUSE_WITHIN: Duration = Duration::from_secs(20);

/// Idle connections kept per address.
const IDLE_PER_ADDRESS: usize = 64;

#[derive(Debug, Default)]
pub(crate) struct RpcClient {
    idle: Mutex<HashMap<String, Vec<(TcpStream, Instant)>>>,
}

impl RpcClient {
    /// Sends `request` to `address`, followed by `body` in chunks, and
    /// reads the answer and the body that follows it, all within `timeout`.
    /// A new connection first exchanges protocol headers, so a peer of
    /// another version is an error here.
    pub(crate) async fn call(
        &self,
        address: &str,
        request: &RpcRequest,
        body: &[u8],
        timeout: Duration,
    ) -> io::Result<(RpcResponse, Vec<u8>)> {
        let head = encode(request)?;
        let exchange = async {
            let mut stream = match self.take_idle(address) {
                Some(stream) => stream,
                None => {
                    let mut stream = TcpStream::connect(address).await?;
                    stream.set_nodelay(true)?;
                    hello(&mut stream).await?;
                    stream
                }
            };
            write_message(&mut stream, head, body).await?;
            let response = read_frame::<_, RpcResponse>(&mut stream).await?;
            let body = match &response {
                RpcResponse::Forward(reply) => read_body(&mut stream, reply.body_bytes).await?,
                _ => Vec::new(),
            };
            Ok::<_, io::Error>((stream, response, body))
        };
        let (stream, response, body) = tokio::time::timeout(timeout, exchange).await.map_err(|_| {
            io::Error::new(io::ErrorKind::TimedOut, format!("rpc to {address}: no answer in {timeout:?}"))
        })??;
        self.put_idle(address, stream);
        Ok((response, body))
    }

    fn take_idle(&self, address: &str) -> Option<TcpStream> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let streams = idle.get_mut(address)?;
        streams.retain(|(_, since)| since.elapsed() < REUSE_WITHIN);
        streams.pop().map(|(stream, _)| stream)
    }

    fn put_idle(&self, address: &str, stream: TcpStream) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let streams = idle.entry(address.to_owned()).or_default();
        if streams.len() < IDLE_PER_ADDRESS {
            streams.push((stream, Instant::now()));
        }
    }
}
