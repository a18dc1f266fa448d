//! How an AppendEntries request crosses the wire: openraft's envelope and
//! log ids as postcard, and each application command as its JSON bytes.
//!
//! The command types are keel-api's Nomad shapes, which skip empty fields
//! and carry free-form JSON values; a format that is not self-describing
//! cannot read those back, and JSON is what the log stores anyway.

use keel_state::{Command, ServerNode, TypeConfig};
use openraft::raft::AppendEntriesRequest;
use openraft::{Entry, EntryPayload, LogId, Membership, Vote};
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An entry's payload as it is sent.
#[derive(Serialize)]
enum PayloadOut<'a> {
    Blank,
    Normal(#[serde(with = "bytes")] Vec<u8>),
    Membership(&'a Membership<u64, ServerNode>),
}

/// An entry's payload as it is read.
#[derive(Deserialize)]
enum PayloadIn {
    Blank,
    Normal(#[serde(with = "bytes")] Vec<u8>),
    Membership(Membership<u64, ServerNode>),
}

struct EntryOut<'a>(&'a Entry<TypeConfig>);

impl Serialize for EntryOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let payload = match &self.0.payload {
            EntryPayload::Blank => PayloadOut::Blank,
            EntryPayload::Normal(command) => PayloadOut::Normal(serde_json::to_vec(command).map_err(S::Error::custom)?),
            EntryPayload::Membership(membership) => PayloadOut::Membership(membership),
        };
        (&self.0.log_id, payload).serialize(serializer)
    }
}

struct EntriesOut<'a>(&'a [Entry<TypeConfig>]);

impl Serialize for EntriesOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(EntryOut))
    }
}

#[derive(Serialize)]
struct RequestOut<'a> {
    vote: &'a Vote<u64>,
    prev_log_id: &'a Option<LogId<u64>>,
    entries: EntriesOut<'a>,
    leader_commit: &'a Option<LogId<u64>>,
}

#[derive(Deserialize)]
struct RequestIn {
    vote: Vote<u64>,
    prev_log_id: Option<LogId<u64>>,
    entries: Vec<(LogId<u64>, PayloadIn)>,
    leader_commit: Option<LogId<u64>>,
}

pub(super) fn serialize<S: Serializer>(
    request: &AppendEntriesRequest<TypeConfig>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    RequestOut {
        vote: &request.vote,
        prev_log_id: &request.prev_log_id,
        entries: EntriesOut(&request.entries),
        leader_commit: &request.leader_commit,
    }
    .serialize(serializer)
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<AppendEntriesRequest<TypeConfig>, D::Error> {
    let request = RequestIn::deserialize(deserializer)?;
    let entries = request
        .entries
        .into_iter()
        .map(|(log_id, payload)| {
            let payload = match payload {
                PayloadIn::Blank => EntryPayload::Blank,
                PayloadIn::Normal(json) => {
                    EntryPayload::Normal(serde_json::from_slice::<Command>(&json).map_err(D::Error::custom)?)
                }
                PayloadIn::Membership(membership) => EntryPayload::Membership(membership),
            };
            Ok(Entry { log_id, payload })
        })
        .collect::<Result<Vec<_>, D::Error>>()?;
    Ok(AppendEntriesRequest {
        vote: request.vote,
        prev_log_id: request.prev_log_id,
        entries,
        leader_commit: request.leader_commit,
    })
}

/// Bytes as one length and a copy, rather than a sequence of numbers.
mod bytes {
    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl Visitor<'_> for Bytes {
            type Value = Vec<u8>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("bytes")
            }

            fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
                Ok(bytes.to_vec())
            }

            fn visit_byte_buf<E: Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(bytes)
            }
        }
        deserializer.deserialize_byte_buf(Bytes)
    }
}
