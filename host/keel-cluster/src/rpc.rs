//! The wire protocol of the RPC port: what servers ask each other and how a
//! message is framed.
//!
//! A connection opens with a header from the client, [`PROTOCOL_MAGIC`] and
//! [`PROTOCOL_VERSION`]; the server answers with its own and closes the
//! connection when the two differ. Then each side says whether it holds a
//! cluster key (one byte); the two must agree, and with a key each side
//! proves it holds the key before anything else is read (see
//! [`ClusterKey`]). After that, a frame is a 4-byte
//! big-endian length followed by that many bytes of postcard. A connection
//! carries one request at a time: the client writes a request and reads
//! exactly one response before it sends the next.
//!
//! postcard is not self-describing, so the application command inside a
//! Raft entry (whose keel-api types skip fields and carry JSON values)
//! travels as its JSON bytes, exactly as the log stores it; openraft's own
//! messages and the envelope are plain data and go as postcard. Snapshot
//! chunks and forwarded bodies are raw bytes. A forwarded body follows its
//! head as chunk frames of at most [`RPC_CHUNK_MAX_BYTES`], so no body needs
//! one frame of its size.
//!
//! Besides Raft's own messages, servers ask each other whether they hold
//! Raft state (before bootstrapping a new cluster) and whether they still
//! hear from a leader (before campaigning), and forward API requests to the
//! leader.

use std::io;

use keel_api::limits::{FORWARDED_BODY_MAX_BYTES, RPC_CHUNK_MAX_BYTES, RPC_FRAME_MAX_BYTES};
use keel_state::TypeConfig;
use openraft::LogId;
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::key::ClusterKey;
use crate::node_rpc::{NodeAnswer, NodeCall, NodeError};

mod entries;

/// The first bytes of every connection, so that a stray client (or an old
/// server speaking length-prefixed JSON) is told apart from a peer.
pub(crate) const PROTOCOL_MAGIC: [u8; 4] = *b"KEEL";

/// The version of this protocol. Version 1 was JSON frames without a header.
pub(crate) const PROTOCOL_VERSION: u32 = 4;

/// The largest frame either side reads (see `keel_api::limits`). A frame's
/// buffer grows with the bytes that arrive, so a bogus length costs nothing
/// until the data is really sent.
pub(crate) const MAX_FRAME_BYTES: usize = RPC_FRAME_MAX_BYTES;

/// What one server asks another over the RPC port.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum RpcRequest {
    AppendEntries(#[serde(with = "entries")] AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<u64>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Whether the receiver holds Raft state (has been part of a cluster).
    Initialized,
    /// Whether the receiver would support an election by a candidate
    /// whose last log id is `last_log`: it has not heard from a leader
    /// lately and the candidate's log is as up to date as its own (see
    /// `elector`).
    PreVote {
        last_log: Option<LogId<u64>>,
    },
    /// An API request for the leader, from a server that is not; its body
    /// follows as chunk frames.
    Forward(ForwardHead),
    /// A client agent's call about its node (appended, so that the earlier
    /// variants keep their wire numbers).
    Node(NodeCall),
}

impl RpcRequest {
    /// The request's kind, as the `type` label of the RPC metrics.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::AppendEntries(_) => "append_entries",
            Self::Vote(_) => "vote",
            Self::InstallSnapshot(_) => "install_snapshot",
            Self::Initialized => "initialized",
            Self::PreVote { .. } => "pre_vote",
            Self::Forward(_) => "forward",
            Self::Node(NodeCall::Register { .. }) => "node_register",
            Self::Node(NodeCall::Heartbeat { .. }) => "node_heartbeat",
            Self::Node(NodeCall::Allocations { .. }) => "node_allocations",
            Self::Node(NodeCall::UpdateAllocs { .. }) => "node_update_allocs",
        }
    }
}

/// The answer to an [`RpcRequest`], in the variant of the request. A Raft
/// error is the remote node's answer, not a transport failure.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum RpcResponse {
    AppendEntries(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    InstallSnapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
    Initialized(bool),
    PreVote(bool),
    /// The leader's answer to a forwarded request; its body follows as
    /// chunk frames.
    Forward(ReplyHead),
    Node(Result<NodeAnswer, NodeError>),
}

/// An HTTP request relayed to the leader, as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The leader's answer to a [`Forwarded`] request, relayed unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A [`Forwarded`] request without its body, which follows in chunks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ForwardHead {
    pub(crate) method: String,
    pub(crate) uri: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body_bytes: u64,
}

/// A [`ForwardedReply`] without its body, which follows in chunks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ReplyHead {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body_bytes: u64,
}

impl Forwarded {
    pub(crate) fn split(self) -> (ForwardHead, Vec<u8>) {
        let body_bytes = self.body.len() as u64;
        (ForwardHead { method: self.method, uri: self.uri, headers: self.headers, body_bytes }, self.body)
    }

    pub(crate) fn join(head: ForwardHead, body: Vec<u8>) -> Self {
        Self { method: head.method, uri: head.uri, headers: head.headers, body }
    }
}

impl ForwardedReply {
    pub(crate) fn split(self) -> (ReplyHead, Vec<u8>) {
        let body_bytes = self.body.len() as u64;
        (ReplyHead { status: self.status, headers: self.headers, body_bytes }, self.body)
    }

    pub(crate) fn join(head: ReplyHead, body: Vec<u8>) -> Self {
        Self { status: head.status, headers: head.headers, body }
    }
}

/// The connection header: the magic bytes and a big-endian version.
fn protocol_header() -> [u8; 8] {
    let mut header = [0_u8; 8];
    header[..4].copy_from_slice(&PROTOCOL_MAGIC);
    header[4..].copy_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    header
}

/// The version a header names, or `None` when it does not start with the
/// magic bytes.
fn version_in(header: &[u8; 8]) -> Option<u32> {
    let [m0, m1, m2, m3, v0, v1, v2, v3] = *header;
    ([m0, m1, m2, m3] == PROTOCOL_MAGIC).then_some(u32::from_be_bytes([v0, v1, v2, v3]))
}

/// Opens a connection from the client's side: sends this server's header
/// and waits for the peer's. A peer that speaks another version, or closes
/// the connection instead of answering, is an `InvalidData` error naming
/// both versions.
pub(crate) async fn hello<S>(stream: &mut S, key: Option<&ClusterKey>) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    exchange_headers_as_client(stream).await?;
    let client_nonce = random_nonce();
    stream.write_all(&[u8::from(key.is_some())]).await?;
    if key.is_some() {
        stream.write_all(&client_nonce).await?;
    }
    stream.flush().await?;
    let Some(key) = agree_on_key(stream, key).await? else { return Ok(()) };
    let mut answer = [0_u8; 64];
    stream.read_exact(&mut answer).await?;
    let (server_nonce, proof) = answer.split_at(32);
    if !key.verify(SERVER, &client_nonce, server_nonce, proof) {
        return Err(refused("the peer does not hold this cluster's key".to_owned()));
    }
    stream.write_all(&key.prove(CLIENT, &client_nonce, server_nonce)).await?;
    stream.flush().await
}

async fn exchange_headers_as_client<S>(stream: &mut S) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream.write_all(&protocol_header()).await?;
    stream.flush().await?;
    let mut answer = [0_u8; 8];
    match stream.read_exact(&mut answer).await {
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(refused(format!(
                "the peer closed the connection instead of answering rpc protocol version {PROTOCOL_VERSION}"
            )));
        }
        Err(error) => return Err(error),
    }
    match version_in(&answer) {
        Some(PROTOCOL_VERSION) => Ok(()),
        Some(theirs) => Err(refused(format!(
            "the peer speaks rpc protocol version {theirs}, this server speaks version {PROTOCOL_VERSION}"
        ))),
        None => {
            Err(refused(format!("the peer did not answer with an rpc protocol header (version {PROTOCOL_VERSION})")))
        }
    }
}

/// Accepts a connection on the server's side: reads the client's header
/// and answers with this server's. A client that sends another version or
/// no header at all is refused with an `InvalidData` error saying why; the
/// caller logs it and closes the connection.
pub(crate) async fn accept<S>(stream: &mut S, key: Option<&ClusterKey>) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    exchange_headers_as_server(stream).await?;
    let mut mode = [0_u8; 1];
    stream.read_exact(&mut mode).await?;
    stream.write_all(&[u8::from(key.is_some())]).await?;
    stream.flush().await?;
    let theirs = mode[0] == 1;
    let Some(key) = check_agreement(key, theirs)? else { return Ok(()) };
    let mut client_nonce = [0_u8; 32];
    stream.read_exact(&mut client_nonce).await?;
    let server_nonce = random_nonce();
    stream.write_all(&[server_nonce, key.prove(SERVER, &client_nonce, &server_nonce)].concat()).await?;
    stream.flush().await?;
    let mut proof = [0_u8; 32];
    stream.read_exact(&mut proof).await?;
    if !key.verify(CLIENT, &client_nonce, &server_nonce, &proof) {
        return Err(refused("the peer does not hold this cluster's key".to_owned()));
    }
    Ok(())
}

async fn exchange_headers_as_server<S>(stream: &mut S) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut header = [0_u8; 8];
    stream.read_exact(&mut header).await?;
    stream.write_all(&protocol_header()).await?;
    stream.flush().await?;
    match version_in(&header) {
        Some(PROTOCOL_VERSION) => Ok(()),
        Some(theirs) => Err(refused(format!(
            "the peer speaks rpc protocol version {theirs}, this server speaks version {PROTOCOL_VERSION}"
        ))),
        None => {
            Err(refused(format!("the peer sent no rpc protocol header; this server speaks version {PROTOCOL_VERSION}")))
        }
    }
}

/// Who proves holding the key in a handshake.
const CLIENT: &[u8] = b"client\n";
const SERVER: &[u8] = b"server\n";

fn random_nonce() -> [u8; 32] {
    let (a, b) = (uuid::Uuid::new_v4().into_bytes(), uuid::Uuid::new_v4().into_bytes());
    [a, b].concat().try_into().expect("two UUIDs are 32 bytes")
}

/// Reads the server's key byte and checks that both sides agree.
async fn agree_on_key<'k, S>(stream: &mut S, key: Option<&'k ClusterKey>) -> io::Result<Option<&'k ClusterKey>>
where
    S: AsyncRead + Unpin,
{
    let mut mode = [0_u8; 1];
    stream.read_exact(&mut mode).await?;
    check_agreement(key, mode[0] == 1)
}

/// The key to prove, when both sides hold one; an error naming the side
/// that lacks it when only one does.
fn check_agreement(key: Option<&ClusterKey>, theirs: bool) -> io::Result<Option<&ClusterKey>> {
    match (key, theirs) {
        (Some(key), true) => Ok(Some(key)),
        (None, false) => Ok(None),
        (Some(_), false) => Err(refused("this server requires a cluster key and the peer sent none".to_owned())),
        (None, true) => {
            Err(refused("the peer requires a cluster key (server.encrypt) and this server has none".to_owned()))
        }
    }
}

fn refused(reason: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("rpc protocol refused: {reason}"))
}

/// Encodes `value` as one whole frame, length prefix included. A value
/// over [`MAX_FRAME_BYTES`] is refused here, before it is sent.
pub(crate) fn encode<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    let mut frame =
        postcard::to_extend(value, vec![0_u8; 4]).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let length = frame.len() - 4;
    if length > MAX_FRAME_BYTES {
        return Err(frame_too_large(length, MAX_FRAME_BYTES));
    }
    let prefix = u32::try_from(length).map_err(|_| frame_too_large(length, MAX_FRAME_BYTES))?;
    frame[..4].copy_from_slice(&prefix.to_be_bytes());
    Ok(frame)
}

/// Writes an encoded head frame and then `body` as chunk frames, flushing
/// once. A small message goes out in a single write so it is one segment.
pub(crate) async fn write_message<W>(writer: &mut W, mut head: Vec<u8>, body: &[u8]) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    if body.len() <= RPC_CHUNK_MAX_BYTES {
        append_chunks(&mut head, body);
        writer.write_all(&head).await?;
    } else {
        writer.write_all(&head).await?;
        let mut frame = Vec::with_capacity(4 + RPC_CHUNK_MAX_BYTES);
        for chunk in body.chunks(RPC_CHUNK_MAX_BYTES) {
            frame.clear();
            append_chunks(&mut frame, chunk);
            writer.write_all(&frame).await?;
        }
    }
    writer.flush().await
}

/// Appends `body` to `buffer` as chunk frames of at most
/// [`RPC_CHUNK_MAX_BYTES`] each; an empty body is no frame at all.
fn append_chunks(buffer: &mut Vec<u8>, body: &[u8]) {
    for chunk in body.chunks(RPC_CHUNK_MAX_BYTES) {
        let length = u32::try_from(chunk.len()).expect("a chunk is far below 4 GiB");
        buffer.extend_from_slice(&length.to_be_bytes());
        buffer.extend_from_slice(chunk);
    }
}

/// Reads one frame and decodes it. A frame over [`MAX_FRAME_BYTES`] is
/// refused before its body is read; a body that is not a `T` is
/// `InvalidData`. A clean end of stream before the length is
/// `UnexpectedEof`.
pub(crate) async fn read_frame<R, T>(reader: &mut R) -> io::Result<T>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    let mut length = [0_u8; 4];
    reader.read_exact(&mut length).await?;
    read_frame_after(reader, u32::from_be_bytes(length)).await
}

/// Reads and decodes the rest of a frame whose length prefix was already
/// read.
pub(crate) async fn read_frame_after<R, T>(reader: &mut R, length: u32) -> io::Result<T>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    let bytes = read_payload(reader, length, MAX_FRAME_BYTES).await?;
    postcard::from_bytes(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Reads the rest of one request whose length prefix was already read: its
/// frame and, for a forwarded request, the body that follows it.
pub(crate) async fn read_request_after<R>(reader: &mut R, length: u32) -> io::Result<(RpcRequest, Vec<u8>)>
where
    R: AsyncRead + Unpin,
{
    let request: RpcRequest = read_frame_after(reader, length).await?;
    let body = match &request {
        RpcRequest::Forward(head) => read_body(reader, head.body_bytes).await?,
        _ => Vec::new(),
    };
    Ok((request, body))
}

/// Decodes `bytes` as what a peer sends after the connection header, the
/// way the RPC server reads it: requests and their bodies, one after the
/// other. Answers how many whole requests there were, or the error that
/// refused one. For tests that feed the decoder untrusted bytes.
pub async fn decode_requests(mut bytes: &[u8]) -> io::Result<usize> {
    let mut requests = 0;
    loop {
        let mut length = [0_u8; 4];
        match bytes.read_exact(&mut length).await {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof && bytes.is_empty() => return Ok(requests),
            Err(error) => return Err(error),
        }
        read_request_after(&mut bytes, u32::from_be_bytes(length)).await?;
        requests += 1;
    }
}

/// Reads `length` bytes, refusing a length over `max_bytes` before reading
/// any. The buffer grows with what arrives, not with what was announced.
async fn read_payload<R>(reader: &mut R, length: u32, max_bytes: usize) -> io::Result<Vec<u8>>
where
    R: AsyncRead + Unpin,
{
    let length = usize::try_from(length).map_err(|_| frame_too_large(usize::MAX, max_bytes))?;
    if length > max_bytes {
        return Err(frame_too_large(length, max_bytes));
    }
    let mut payload = Vec::with_capacity(length.min(64 * 1024));
    let read = reader.take(length as u64).read_to_end(&mut payload).await?;
    if read < length {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "rpc frame ended early"));
    }
    Ok(payload)
}

/// Reads a body of `body_bytes` that arrives as chunk frames. A body over
/// [`FORWARDED_BODY_MAX_BYTES`], a chunk over [`RPC_CHUNK_MAX_BYTES`] or
/// past the announced end, or an empty chunk is `InvalidData`.
pub(crate) async fn read_body<R>(reader: &mut R, body_bytes: u64) -> io::Result<Vec<u8>>
where
    R: AsyncRead + Unpin,
{
    let total = usize::try_from(body_bytes).unwrap_or(usize::MAX);
    if total > FORWARDED_BODY_MAX_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("forwarded body of {total} bytes exceeds the limit of {FORWARDED_BODY_MAX_BYTES} bytes"),
        ));
    }
    let mut body = Vec::with_capacity(total.min(RPC_CHUNK_MAX_BYTES));
    while body.len() < total {
        let mut length = [0_u8; 4];
        reader.read_exact(&mut length).await?;
        let length = u32::from_be_bytes(length);
        let remaining = total - body.len();
        if length == 0 || length as usize > remaining {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a body chunk of {length} bytes where {remaining} bytes remain"),
            ));
        }
        body.extend_from_slice(&read_payload(reader, length, RPC_CHUNK_MAX_BYTES).await?);
    }
    Ok(body)
}

/// A frame over its limit, told apart from other `InvalidData` errors so
/// that a request too large to send can be split instead.
#[derive(Debug, thiserror::Error)]
#[error("rpc frame of {length} bytes exceeds the limit of {limit_bytes} bytes")]
pub(crate) struct FrameTooLarge {
    length: usize,
    limit_bytes: usize,
}

impl FrameTooLarge {
    /// Whether `error` is a frame over its limit.
    pub(crate) fn is(error: &io::Error) -> bool {
        error.get_ref().is_some_and(|inner| inner.is::<FrameTooLarge>())
    }
}

fn frame_too_large(length: usize, limit_bytes: usize) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, FrameTooLarge { length, limit_bytes })
}

#[cfg(test)]
mod tests;
