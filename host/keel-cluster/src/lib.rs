//! Keel's server: one openraft node over the replicated state.
//!
//! This crate owns the Raft node's life (configuration, bootstrap, the
//! first-leader defaults), the way commands are submitted and answered, the
//! Raft membership operations the operator API offers (list, remove peer),
//! and the network Raft talks through: length-prefixed JSON frames over TCP
//! on the RPC port (`rpc` is the protocol, `network` the client side,
//! `rpc_server` the listener). It depends on `keel-state` for the
//! storage and the commands and on openraft and tokio; it must not know
//! about HTTP or the wire format of the API, which the `keel` binary maps
//! onto these calls.

mod error;
mod network;
mod rpc;
mod rpc_server;
mod server;

pub use error::ClusterError;
pub use server::{Applied, Bootstrap, Peer, RaftStatus, Server, ServerConfig};

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
    use super::node_id_of;

    #[test]
    fn node_ids_come_from_the_uuid() {
        assert_eq!(node_id_of("e349749b-3303-3ddf-959c-b5885a0e1f6e"), 0xe349_749b_3303_3ddf);
        assert_ne!(node_id_of("node-a"), node_id_of("node-b"));
        assert_eq!(node_id_of("node-a"), node_id_of("node-a"));
    }
}
