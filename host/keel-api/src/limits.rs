//! The size limits that must agree with each other, in one place.
//!
//! A snapshot restore is the largest thing a cluster moves, so the numbers
//! follow from it:
//!
//! | limit | bytes | why |
//! | --- | --- | --- |
//! | [`RESTORE_UNPACK_MAX_BYTES`] | 64 MiB | the state a restore may unpack to |
//! | [`SNAPSHOT_UPLOAD_MAX_BYTES`] | 65 MiB | a gzip never exceeds its content by more than a little; tar headers are 512 bytes each |
//! | [`RAFT_ENTRY_MAX_BYTES`] | 65 MiB | a `Restore` entry carries the whole state plus its JSON wrapper and log id |
//! | [`RPC_FRAME_MAX_BYTES`] | 66 MiB | one entry plus the AppendEntries envelope fits one frame |
//! | [`RPC_CHUNK_MAX_BYTES`] | 1 MiB | a forwarded body chunk and an `InstallSnapshot` chunk |
//! | [`HTTP_BODY_MAX_BYTES`] | 1 MiB | a JSON request body or a license |
//!
//! The invariant is that a restore that verifies always replicates: the
//! largest state the unpacker accepts fits in one Raft entry, and one entry
//! fits in one AppendEntries frame. Forwarded bodies and snapshot
//! transfers travel in chunks, so they never need a frame of their own
//! size. The compile-time assertions below keep the numbers in that order.

const MIB: usize = 1024 * 1024;

/// The most a snapshot archive may unpack to when it is restored.
pub const RESTORE_UNPACK_MAX_BYTES: u64 = 64 * MIB as u64;

/// The largest snapshot archive `PUT /v1/operator/snapshot` accepts: the
/// unpacked limit plus room for gzip's and tar's framing, since no larger
/// archive could unpack within [`RESTORE_UNPACK_MAX_BYTES`] anyway.
pub const SNAPSHOT_UPLOAD_MAX_BYTES: usize = 65 * MIB;

/// The largest JSON request body (and license text) the HTTP API reads.
pub const HTTP_BODY_MAX_BYTES: usize = MIB;

/// The largest command a server submits to Raft, measured as its JSON
/// encoding, which is what the log stores and the wire carries. The
/// `Restore` wrapper and the log id add far less than the 1 MiB margin.
pub const RAFT_ENTRY_MAX_BYTES: usize = RESTORE_UNPACK_MAX_BYTES as usize + MIB;

/// The largest frame either side of the RPC port reads: one entry of the
/// largest size with room for the AppendEntries envelope around it.
pub const RPC_FRAME_MAX_BYTES: usize = RAFT_ENTRY_MAX_BYTES + MIB;

/// How much of a body or a snapshot one frame carries when it is sent in
/// chunks.
pub const RPC_CHUNK_MAX_BYTES: usize = MIB;

/// The largest body a forwarded request or its answer may have: the
/// largest HTTP body there is, a snapshot archive.
pub const FORWARDED_BODY_MAX_BYTES: usize = SNAPSHOT_UPLOAD_MAX_BYTES;

const _: () = {
    assert!(RESTORE_UNPACK_MAX_BYTES as usize + MIB <= RAFT_ENTRY_MAX_BYTES, "a restored state fits one entry");
    assert!(RAFT_ENTRY_MAX_BYTES + MIB <= RPC_FRAME_MAX_BYTES, "one entry fits one frame");
    assert!(SNAPSHOT_UPLOAD_MAX_BYTES >= RESTORE_UNPACK_MAX_BYTES as usize, "an archive near the cap uploads");
    assert!(RPC_CHUNK_MAX_BYTES + MIB <= RPC_FRAME_MAX_BYTES, "a chunk fits one frame");
    assert!(HTTP_BODY_MAX_BYTES <= FORWARDED_BODY_MAX_BYTES, "every body can be forwarded");
    assert!(RPC_FRAME_MAX_BYTES <= u32::MAX as usize, "a frame length fits the 4-byte prefix");
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The compile-time assertions above, restated as a test so that a
    /// failing order is reported with the numbers.
    #[test]
    fn a_restore_that_verifies_fits_one_entry_and_one_frame() {
        let restore_wrapper_bytes = r#"{"Restore":{"state":}}"#.len();
        let log_id_bytes = 256;
        let entry = RESTORE_UNPACK_MAX_BYTES as usize + restore_wrapper_bytes + log_id_bytes;
        assert!(entry <= RAFT_ENTRY_MAX_BYTES, "{entry} > {RAFT_ENTRY_MAX_BYTES}");
        let envelope_bytes = 4 * 1024;
        assert!(RAFT_ENTRY_MAX_BYTES + envelope_bytes <= RPC_FRAME_MAX_BYTES);
        const { assert!(FORWARDED_BODY_MAX_BYTES >= SNAPSHOT_UPLOAD_MAX_BYTES) };
    }
}
