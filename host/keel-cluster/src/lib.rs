//! Keel's server: one openraft node over the replicated state, and the
//! cluster around it.
//!
//! This crate owns the Raft node's life (configuration, bootstrap, the
//! first-leader defaults), the way commands are submitted and answered, the
//! Raft membership operations (list, add, promote, demote, remove), gossip
//! membership, how a cluster forms and grows from gossip, and the RPC port:
//! a versioned binary protocol (length-prefixed postcard frames, bodies in
//! chunks) over TCP carrying Raft's messages and API requests forwarded to
//! the leader, within the size limits of `keel_api::limits`. It depends on
//! `keel-state` for the storage and the commands and on openraft, foca,
//! postcard and tokio; it must not
//! know about HTTP or the wire format of the API, which the `keel` binary
//! maps onto these calls (a forwarded request is opaque bytes here).
//!
//! ```text
//! server.rs      the Raft node: start, writes, membership, forwarding, facts
//! formation.rs   bootstrap-expect, adding new servers as non-voters
//! elector.rs     when to campaign: elections after a pre-vote
//! read_index.rs  confirming leadership before a default read, rounds shared
//! gossip.rs      SWIM membership (foca) on the Serf port, Serf's statuses
//! rpc.rs         the RPC port's messages, header and framing (rpc/entries.rs:
//!                Raft entries on the wire)
//! network.rs     Raft's client side of the RPC port
//! client.rs      the other client calls: forward, "do you hold Raft state?"
//! rpc_server.rs  the RPC port's listener
//! error.rs       ClusterError
//! ```

mod client;
mod elector;
mod error;
pub mod formation;
pub mod gossip;
mod key;
mod network;
mod node_rpc;
mod read_index;
mod rpc;
mod rpc_server;
mod server;

pub use error::ClusterError;

/// The RPC port a server listens on unless configured otherwise.
pub const DEFAULT_RPC_PORT: u16 = 4647;

/// `address` with `port` when it names none: an IP address gets it (IPv6 in
/// brackets), `ip:port` and `[v6]:port` keep theirs, a host name without a
/// colon gets it appended.
pub fn with_default_port(address: &str, port: u16) -> String {
    let address = address.trim();
    if let Ok(ip) = address.parse::<std::net::IpAddr>() {
        return std::net::SocketAddr::new(ip, port).to_string();
    }
    match address.rsplit_once(':') {
        Some(_) => address.to_owned(),
        None => format!("{address}:{port}"),
    }
}
pub use key::ClusterKey;
pub use node_rpc::{NODE_CALL_TIMEOUT, NodeAnswer, NodeCall, NodeClient, NodeEndpoint, NodeError};
pub use rpc::{Forwarded, ForwardedReply, decode_requests};
pub use rpc_server::Forwarder;
pub use server::{Applied, Bootstrap, Peer, RaftStatus, RaftTuning, Replication, Server, ServerConfig};

/// The `u64` openraft knows a server by, derived from its raft ID (a UUID):
/// the first eight bytes of its hex digits. Distinct UUIDs give distinct
/// node ids with overwhelming probability; the raft ID stays the name the
/// API shows.
pub fn node_id_of(raft_id: &str) -> u64 {
    let hex: String = raft_id.chars().filter(char::is_ascii_hexdigit).take(16).collect();
    u64::from_str_radix(&hex, 16).unwrap_or_else(|_| {
        // Not a UUID: fall back to a stable FNV-1a hash of the whole ID.
        raft_id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3))
    })
}

#[cfg(test)]
mod tests {
    use super::{node_id_of, with_default_port};

    #[test]
    fn an_address_without_a_port_gets_the_default_one() {
        assert_eq!(with_default_port("127.0.0.1", 4647), "127.0.0.1:4647");
        assert_eq!(with_default_port("127.0.0.1:5000", 4647), "127.0.0.1:5000");
        assert_eq!(with_default_port("::1", 4647), "[::1]:4647");
        assert_eq!(with_default_port("[::1]:4647", 4648), "[::1]:4647");
        assert_eq!(with_default_port(" server-1 ", 4648), "server-1:4648");
        assert_eq!(with_default_port("server-1:9", 4648), "server-1:9");
    }

    #[test]
    fn node_ids_come_from_the_uuid() {
        assert_eq!(node_id_of("e349749b-3303-3ddf-959c-b5885a0e1f6e"), 0xe349_749b_3303_3ddf);
        assert_ne!(node_id_of("node-a"), node_id_of("node-b"));
        assert_eq!(node_id_of("node-a"), node_id_of("node-a"));
    }
}
