//! The size limits that must agree with each other, in one place.
//!
//! A snapshot restore is the largest thing a cluster moves, so the numbers
//! follow from it:
//!
//! | limit | bytes | why |
//! | --- | --- | --- |
//! | [`RESTORE_UNPACK_MAX_BYTES`] | 64 MiB | the state a restore may unpack to |
//! | [`SNAPSHOT_UPLOAD_MAX_BYTES`] | 65 MiB | a gzip never exceeds its content by more than a little; tar headers are 512 bytes each |
//! | [`RESTORE_PIECE_MAX_BYTES`] | 256 KiB | a restore goes through the log in pieces of the state's JSON this large |
//! | [`HTTP_BODY_MAX_BYTES`] | 1 MiB | a JSON request body or a license |
//! | [`RAFT_ENTRY_MAX_BYTES`] | 2 MiB | the largest command: one request body, or one restore piece escaped as a JSON string |
//! | [`RPC_BATCH_MAX_BYTES`] | 1 MiB | the entries one AppendEntries carries, unless one entry alone is larger |
//! | [`RPC_FRAME_MAX_BYTES`] | 5 MiB | two of the largest entries and the AppendEntries envelope |
//! | [`RPC_CHUNK_MAX_BYTES`] | 1 MiB | a forwarded body chunk and an `InstallSnapshot` chunk |
//!
//! The invariant is that a restore that verifies always replicates, and
//! quickly: every Raft entry is small, since a leader that cannot get an
//! entry to a follower within one heartbeat interval (openraft's deadline
//! for an AppendEntries) never gets it there at all. A restored state
//! therefore goes through the log in pieces and takes effect at one commit
//! entry; forwarded bodies and snapshot transfers travel in chunks. The
//! compile-time assertions below keep the numbers in that order.

const MIB: usize = 1024 * 1024;

/// The most a snapshot archive may unpack to when it is restored.
pub const RESTORE_UNPACK_MAX_BYTES: u64 = 64 * MIB as u64;

/// The largest snapshot archive `PUT /v1/operator/snapshot` accepts: the
/// unpacked limit plus room for gzip's and tar's framing, since no larger
/// archive could unpack within [`RESTORE_UNPACK_MAX_BYTES`] anyway.
pub const SNAPSHOT_UPLOAD_MAX_BYTES: usize = 65 * MIB;

/// The largest JSON request body (and license text) the HTTP API reads.
pub const HTTP_BODY_MAX_BYTES: usize = MIB;

/// How much of a restored state's JSON one Raft entry carries. Escaped as
/// a JSON string, a piece at most doubles (only `"` and `\` grow, since
/// the state's own JSON holds no raw control characters).
pub const RESTORE_PIECE_MAX_BYTES: usize = MIB / 4;

/// The largest command a server submits to Raft, measured as its JSON
/// encoding, which is what the log stores and the wire carries.
pub const RAFT_ENTRY_MAX_BYTES: usize = 2 * MIB;

/// The entry bytes (as JSON) one AppendEntries carries; the rest follow in
/// the next request. openraft gives an AppendEntries one heartbeat interval
/// (100 ms by default) to be sent, stored and answered, and sends the same
/// entries again after a timeout, so a batch that cannot make it in time
/// never makes it at all.
pub const RPC_BATCH_MAX_BYTES: usize = MIB;

/// The largest frame either side of the RPC port reads: room for two of
/// the largest entries and the AppendEntries envelope. A batch of entries
/// that does not fit is sent in smaller batches (openraft's
/// `PayloadTooLarge`), so this also bounds what one AppendEntries carries.
pub const RPC_FRAME_MAX_BYTES: usize = 2 * RAFT_ENTRY_MAX_BYTES + MIB;

/// How much of a body or a snapshot one frame carries when it is sent in
/// chunks.
pub const RPC_CHUNK_MAX_BYTES: usize = MIB;

/// The largest body a forwarded request or its answer may have: the
/// largest HTTP body there is, a snapshot archive.
pub const FORWARDED_BODY_MAX_BYTES: usize = SNAPSHOT_UPLOAD_MAX_BYTES;

const _: () = {
    assert!(2 * RESTORE_PIECE_MAX_BYTES + MIB <= RAFT_ENTRY_MAX_BYTES, "an escaped restore piece fits one entry");
    assert!(HTTP_BODY_MAX_BYTES + MIB <= RAFT_ENTRY_MAX_BYTES, "a command made from one body fits one entry");
    assert!(RAFT_ENTRY_MAX_BYTES + MIB <= RPC_FRAME_MAX_BYTES, "the largest entry fits one frame");
    assert!(RPC_BATCH_MAX_BYTES + RAFT_ENTRY_MAX_BYTES + MIB <= RPC_FRAME_MAX_BYTES, "a full batch fits one frame");
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
    fn the_largest_entry_fits_one_frame() {
        let piece = "\"".repeat(RESTORE_PIECE_MAX_BYTES);
        let command = serde_json::json!({"StageRestore": {"id": "x".repeat(64), "seq": u32::MAX, "text": piece}});
        let entry = serde_json::to_vec(&command).expect("json").len() + 256;
        assert!(entry <= RAFT_ENTRY_MAX_BYTES, "{entry} > {RAFT_ENTRY_MAX_BYTES}");
        let envelope_bytes = 4 * 1024;
        assert!(RAFT_ENTRY_MAX_BYTES + envelope_bytes <= RPC_FRAME_MAX_BYTES);
        const { assert!(FORWARDED_BODY_MAX_BYTES >= SNAPSHOT_UPLOAD_MAX_BYTES) };
    }
}
