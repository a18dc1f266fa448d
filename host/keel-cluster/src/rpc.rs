//! The wire protocol of the RPC port: what servers ask each other and how a
//! message is framed.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of JSON.
//! A connection carries one request at a time: the client writes a request
//! frame and reads exactly one response frame before it sends the next.
//!
//! Besides Raft's own messages, servers ask each other whether they hold
//! Raft state (before bootstrapping a new cluster) and whether they still
//! hear from a leader (before campaigning), and forward API requests to the
//! leader.

use std::io;

use keel_state::TypeConfig;
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest frame either side reads: a forwarded snapshot restore (the
/// API takes archives up to 512 MiB, base64 in the frame) with room to
/// spare. Raft's own frames stay far below it. A frame's buffer grows with
/// the bytes that arrive, so a bogus length costs nothing until the data
/// is really sent.
pub(crate) const MAX_FRAME_BYTES: usize = 768 * 1024 * 1024;

/// What one server asks another over the RPC port.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum RpcRequest {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<u64>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Whether the receiver holds Raft state (has been part of a cluster).
    Initialized,
    /// Whether the receiver would support an election: it has not heard
    /// from a leader lately (see `elector`).
    PreVote,
    /// An API request for the leader, from a server that is not.
    Forward(Forwarded),
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
    Forward(ForwardedReply),
}

/// An HTTP request relayed to the leader, as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Forwarded {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub headers: Vec<(String, String)>,
    #[serde(with = "base64_bytes")]
    pub body: Vec<u8>,
}

/// The leader's answer to a [`Forwarded`] request, relayed unchanged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ForwardedReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    #[serde(with = "base64_bytes")]
    pub body: Vec<u8>,
}

/// Bodies travel as base64 strings rather than JSON arrays of numbers.
mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        STANDARD.decode(text.as_bytes()).map_err(serde::de::Error::custom)
    }
}

/// Writes `value` as one frame. The length and the body go out in a single
/// write so a small frame is one segment.
pub(crate) async fn write_frame<W, T>(writer: &mut W, value: &T) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let body = serde_json::to_vec(value).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if body.len() > MAX_FRAME_BYTES {
        return Err(frame_too_large(body.len()));
    }
    let length = u32::try_from(body.len()).map_err(|_| frame_too_large(body.len()))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&body);
    writer.write_all(&frame).await?;
    writer.flush().await
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
    read_body(reader, u32::from_be_bytes(length)).await
}

/// Reads the body of a frame whose length prefix was already read.
pub(crate) async fn read_body<R, T>(reader: &mut R, length: u32) -> io::Result<T>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    let length = usize::try_from(length).map_err(|_| frame_too_large(usize::MAX))?;
    if length > MAX_FRAME_BYTES {
        return Err(frame_too_large(length));
    }
    let mut body = Vec::with_capacity(length.min(64 * 1024));
    let read = reader.take(length as u64).read_to_end(&mut body).await?;
    if read < length {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "rpc frame ended early"));
    }
    serde_json::from_slice(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn frame_too_large(length: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("rpc frame of {length} bytes exceeds the limit of {MAX_FRAME_BYTES} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_frame_round_trips() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        let request = RpcRequest::Vote(VoteRequest::new(openraft::Vote::new(3, 7), None));
        write_frame(&mut client, &request).await.expect("write");
        let read: RpcRequest = read_frame(&mut server).await.expect("read");
        assert!(matches!(read, RpcRequest::Vote(vote) if vote.vote == openraft::Vote::new(3, 7)));
    }

    #[tokio::test]
    async fn an_oversized_frame_is_refused_before_its_body() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let length = u32::try_from(MAX_FRAME_BYTES + 1).expect("fits");
        client.write_all(&length.to_be_bytes()).await.expect("write");
        let error = read_frame::<_, RpcRequest>(&mut server).await.expect_err("refused");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn garbage_is_invalid_data() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(&[0, 0, 0, 3, b'x', b'y', b'z']).await.expect("write");
        let error = read_frame::<_, RpcRequest>(&mut server).await.expect_err("refused");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
