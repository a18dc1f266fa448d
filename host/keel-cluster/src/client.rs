//! The client side of the RPC port for everything but Raft's own traffic:
//! forwarding API requests to the leader and asking a server whether it
//! holds Raft state.
//!
//! Connections are kept per address after a successful call and reused by
//! the next, so a follower relaying a stream of writes does not dial for
//! each. A connection idle for longer than the server keeps it open, or one
//! the server has closed (a killed leader's), is dropped instead of reused.
//!
//! A failed call says whether the request may have reached the server
//! ([`CallError::maybe_delivered`]): one that failed to connect, or whose
//! connection broke before the request was written, certainly did not, so
//! a write may be sent again elsewhere.

use std::collections::HashMap;
use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::key::ClusterKey;
use crate::rpc::{RpcRequest, RpcResponse, encode, hello, read_body, read_frame, write_message};

/// A connection idle this long is not reused: well inside the server's own
/// idle timeout, so a reused connection is never one the server closed.
const REUSE_WITHIN: Duration = Duration::from_secs(20);

/// How long dialing and the protocol headers may take. A server that does
/// not greet within it (paused, overloaded) has not seen the request, so the
/// caller may try elsewhere.
const CONNECT_WITHIN: Duration = Duration::from_secs(1);

/// Idle connections kept per address.
const IDLE_PER_ADDRESS: usize = 64;

/// A call that failed.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub(crate) struct CallError {
    pub error: io::Error,
    /// Whether any of the request was written to the connection: the server
    /// may have acted on it.
    pub maybe_delivered: bool,
}

#[derive(Debug, Default)]
pub(crate) struct RpcClient {
    idle: Mutex<HashMap<String, Vec<(TcpStream, Instant)>>>,
    /// The cluster key every connection proves, when one is configured.
    key: Option<ClusterKey>,
}

impl RpcClient {
    pub(crate) fn new(key: Option<ClusterKey>) -> Self {
        Self { idle: Mutex::default(), key }
    }

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
    ) -> Result<(RpcResponse, Vec<u8>), CallError> {
        let head = encode(request).map_err(|error| CallError { error, maybe_delivered: false })?;
        let mut maybe_delivered = false;
        let exchange = async {
            let mut stream = match self.take_idle(address) {
                Some(stream) => stream,
                None => tokio::time::timeout(CONNECT_WITHIN.min(timeout), connect(address, self.key.as_ref()))
                    .await
                    .map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("rpc to {address}: no connection in {CONNECT_WITHIN:?}"),
                    )
                })??,
            };
            maybe_delivered = true;
            write_message(&mut stream, head, body).await?;
            let response = read_frame::<_, RpcResponse>(&mut stream).await?;
            let body = match &response {
                RpcResponse::Forward(reply) => read_body(&mut stream, reply.body_bytes).await?,
                _ => Vec::new(),
            };
            Ok::<_, io::Error>((stream, response, body))
        };
        let outcome = tokio::time::timeout(timeout, exchange).await.unwrap_or_else(|_| {
            Err(io::Error::new(io::ErrorKind::TimedOut, format!("rpc to {address}: no answer in {timeout:?}")))
        });
        let (stream, response, body) = outcome.map_err(|error| CallError { error, maybe_delivered })?;
        self.put_idle(address, stream);
        Ok((response, body))
    }

    fn take_idle(&self, address: &str) -> Option<TcpStream> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let streams = idle.get_mut(address)?;
        streams.retain(|(stream, since)| since.elapsed() < REUSE_WITHIN && is_open(stream));
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

/// Dials `address` and exchanges protocol headers.
async fn connect(address: &str, key: Option<&ClusterKey>) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    hello(&mut stream, key).await?;
    Ok(stream)
}

/// Whether an idle connection is still open: nothing is due on it between
/// calls, so anything readable (the end of the stream, most often) means the
/// server has closed it or broken the protocol.
fn is_open(stream: &TcpStream) -> bool {
    matches!(stream.try_read(&mut [0_u8; 1]), Err(error) if error.kind() == io::ErrorKind::WouldBlock)
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;
    use crate::rpc::accept;

    /// A server that answers `Initialized(true)` to one request on each
    /// connection and then closes it, as a server killed after answering does.
    async fn answer_once_per_connection() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("an address").to_string();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                accept(&mut stream, None).await.expect("protocol headers");
                let _: RpcRequest = read_frame(&mut stream).await.expect("a request");
                let head = encode(&RpcResponse::Initialized(true)).expect("encodes");
                write_message(&mut stream, head, &[]).await.expect("the answer");
            }
        });
        address
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_not_reused() {
        let address = answer_once_per_connection().await;
        let client = RpcClient::default();
        for call in 0..3 {
            let (response, _) = client
                .call(&address, &RpcRequest::Initialized, &[], Duration::from_secs(5))
                .await
                .unwrap_or_else(|failed| panic!("call {call}: {failed}"));
            assert!(matches!(response, RpcResponse::Initialized(true)), "call {call}");
            // Let the server's close arrive before the next call looks.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn a_refused_connection_was_not_delivered() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("an address").to_string();
        drop(listener);
        let failed = RpcClient::default()
            .call(&address, &RpcRequest::Initialized, &[], Duration::from_secs(5))
            .await
            .expect_err("nobody listens");
        assert!(!failed.maybe_delivered, "{failed}");
    }

    #[tokio::test]
    async fn a_server_that_never_greets_has_not_seen_the_request_and_is_given_up_on_quickly() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("an address").to_string();
        let started = Instant::now();
        let failed = RpcClient::default()
            .call(&address, &RpcRequest::Initialized, &[], Duration::from_secs(20))
            .await
            .expect_err("no greeting");
        assert!(!failed.maybe_delivered, "{failed}");
        assert!(started.elapsed() < Duration::from_secs(5), "given up on after {:?}", started.elapsed());
        drop(listener);
    }

    #[tokio::test]
    async fn a_server_that_closes_after_the_request_may_have_seen_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("an address").to_string();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("a connection");
            accept(&mut stream, None).await.expect("protocol headers");
            let _: RpcRequest = read_frame(&mut stream).await.expect("a request");
        });
        let failed = RpcClient::default()
            .call(&address, &RpcRequest::Initialized, &[], Duration::from_secs(5))
            .await
            .expect_err("no answer");
        assert!(failed.maybe_delivered, "{failed}");
    }
}
